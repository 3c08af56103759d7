/*
 * Sidecar subtitle files into subtitle renditions.  See subtitles.h.
 *
 * Tested by tests/unit/test_transcoder_subtitles.c and
 * tests/integration/subtitles.test.mjs.
 */
#include "subtitles.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "asset_put.h"
#include "cir_error.h"
#include "cir_preset.h"
#include "input.h"
#include "s3_avio.h"
#include "ttml.h"

#define ENCODE_BUF_BYTES (64 * 1024)
#define OPEN_END         INT64_MIN /* a cue whose end the file did not give */
#define SCC_SNIFF_BYTES  4096

enum {
    SCC_NONE,
    SCC_NDF,
    SCC_DF
};

typedef struct {
    cir_text_cue_t cue;
    size_t seq; /* order in the file, to keep a stable sort */
} loaded_cue_t;

typedef struct reader reader_t;

typedef struct {
    const cir_subtitle_spec_t *spec;
    char label[400]; /* "subtitles[i] (uri)", "the input's stream #n" */
    loaded_cue_t *loaded;
    size_t nb, cap;
    cir_text_cue_t *cues; /* loaded[], sorted, clipped at publish */
    cir_text_track_t track;
    /* a text track of the input, read with the media */
    cir_subtitle_spec_t own;
    reader_t *live;
    int left_out; /* an input's track without a cue */
    /* what players list: the spec's, " (2)" added when a rendition
     * before has it (NAMEs differ within a group, RFC 8216bis 4.4.6.1) */
    char name[CIR_SUBTITLE_NAME_MAX + 8];
} sub_track_t;

struct cir_subtitles {
    sub_track_t tracks[CIR_SUBTITLES_MAX];
    size_t count;
    cir_text_track_t published[CIR_SUBTITLES_MAX]; /* what the asset lists */
};

/* One subtitle stream being read: a sidecar's, or the input's. */
struct reader {
    sub_track_t *t;
    AVFormatContext *ic; /* a sidecar's own; the input's is not ours */
    AVStream *st;
    AVCodecContext *dec, *enc;
    AVPacket *pkt;
    uint8_t *buf;      /* the encoder's output */
    int64_t offset_ms; /* the input's start, taken off its cue times */
    int scc;           /* SCC_NONE, SCC_NDF or SCC_DF: see scc_time() */
    const cir_log_ctx_t *log;
    size_t empty;  /* cues with no text, left out */
    size_t errors; /* an input's cues that could not be read, left out */
    char *why;
    size_t why_len;
};

static void
put_time(char *out, size_t n, int64_t ms)
{
    if (ms < 0) {
        snprintf(out, n, "-%lld ms", (long long)-ms);
        return;
    }
    snprintf(out, n, "%02lld:%02lld:%02lld.%03lld", (long long)(ms / 3600000),
             (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60),
             (long long)(ms % 1000));
}

/* "subtitles[i] (uri): " then the message, into why; returns err. */
static int fail(reader_t *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(reader_t *r, int err, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(r->why, r->why_len, "%s: ", r->t->label);

    if (n > 0 && (size_t)n < r->why_len) {
        va_start(ap, fmt);
        vsnprintf(r->why + n, r->why_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* The markup libavcodec's WebVTT encoder writes itself (from ASS styles,
 * SubRip's <i>/<b>/<u>, WebVTT's own); any other '<' was text. */
static size_t
encoder_tag_len(const char *p, size_t n)
{
    static const char *const tags[] = {"<i>",  "</i>", "<b>",
                                       "</b>", "<u>",  "</u>"};

    for (size_t k = 0; k < sizeof(tags) / sizeof(tags[0]); k++) {
        size_t len = strlen(tags[k]);
        if (len <= n && memcmp(p, tags[k], len) == 0) {
            return len;
        }
    }
    return 0;
}

/* The encoder passes the text's '&', '<' and '>' through (FFmpeg 5.1). */
int
cir_subtitles_escape(const char *in, size_t n, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        const char *add = NULL;
        char one[2] = {in[i], '\0'};
        size_t tag = in[i] == '<' ? encoder_tag_len(in + i, n - i) : 0, len;

        if (tag > 0) {
            if (o + tag >= size) {
                return -1;
            }
            memcpy(out + o, in + i, tag);
            o += tag;
            i += tag - 1;
            continue;
        }
        switch (in[i]) {
        case '&':
            add = "&amp;";
            break;
        case '<':
            add = "&lt;";
            break;
        case '>':
            add = "&gt;";
            break;
        case '\r':
        case '\0':
            add = "";
            break;
        case '\n':
            /* one newline at most, none first */
            add = o == 0 || out[o - 1] == '\n' ? "" : "\n";
            break;
        default:
            add = one;
        }
        len = strlen(add);
        if (o + len >= size) {
            return -1;
        }
        memcpy(out + o, add, len);
        o += len;
    }
    while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' ')) {
        o--;
    }
    out[o] = '\0';
    return (int)o;
}

static int
add_cue(reader_t *r, int64_t start, int64_t end, const char *text)
{
    sub_track_t *t = r->t;
    char at[32];

    if (t->nb == CIR_SUBTITLE_CUES_MAX) {
        put_time(at, sizeof(at), start);
        return fail(r, CIR_ELIMIT, "more than %d cues (at %s)",
                    CIR_SUBTITLE_CUES_MAX, at);
    }
    if (t->nb == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        loaded_cue_t *p = realloc(t->loaded, cap * sizeof(*p));
        if (p == NULL) {
            return fail(r, CIR_ENOMEM, "out of memory");
        }
        t->loaded = p;
        t->cap = cap;
    }
    if ((t->loaded[t->nb].cue.text = strdup(text)) == NULL) {
        return fail(r, CIR_ENOMEM, "out of memory");
    }
    t->loaded[t->nb].cue.start_ms = start;
    t->loaded[t->nb].cue.end_ms = end;
    t->loaded[t->nb].seq = t->nb;
    t->nb++;
    return 0;
}

/* A cue the file left open ends where the next one starts: an empty
 * subtitle (a caption decoder clearing the screen) closes them. */
static void
close_open_cues(sub_track_t *t, int64_t at)
{
    for (size_t i = t->nb; i > 0 && t->loaded[i - 1].cue.end_ms == OPEN_END;
         i--) {
        if (at > t->loaded[i - 1].cue.start_ms) {
            t->loaded[i - 1].cue.end_ms = at;
        }
    }
}

/* FFmpeg 5.1's SCC demuxer reads a time code hh:mm:ss:ff as
 * (hh:mm:ss) s + ff x 33 ms, as if it were wall-clock time.  SCC is 29.97
 * frames a second: a non-drop time code (':') counts 30 frames a "second"
 * (1.001 s of media); a drop-frame one (';') leaves out frames 0 and 1 of
 * every minute but each tenth.  The time code is recovered from FFmpeg's
 * ms (ff x 33 < 1000) and turned into the frame's exact time. */
static int64_t
scc_time(int scc, int64_t ms)
{
    int64_t secs, ff, mins, frames;

    if (scc == SCC_NONE || ms < 0 || ms % 1000 % 33 != 0) {
        return ms;
    }
    secs = ms / 1000;
    ff = ms % 1000 / 33;
    frames = secs * 30 + ff;
    if (scc == SCC_DF) {
        mins = secs / 60;
        frames -= 2 * (mins - mins / 10);
    }
    return (frames * 1001 + 15) / 30; /* rounded to the ms */
}

/* One decoded subtitle: its times and its text through the encoder. */
static int
take_subtitle(reader_t *r, AVSubtitle *sub)
{
    AVRational ms = {1, 1000};
    int64_t base = sub->pts != AV_NOPTS_VALUE
                       ? av_rescale_q(sub->pts, AV_TIME_BASE_Q, ms)
                       : av_rescale_q(r->pkt->pts, r->st->time_base, ms);
    int64_t start =
        scc_time(r->scc, base + sub->start_display_time) - r->offset_ms;
    int64_t end = OPEN_END;
    char text[CIR_SUBTITLE_CUE_BYTES + 1], at[32];
    int n;

    close_open_cues(r->t, start);
    if (sub->num_rects == 0) {
        return 0;
    }
    if (sub->end_display_time != 0 && sub->end_display_time != UINT32_MAX &&
        sub->end_display_time > sub->start_display_time) {
        end = scc_time(r->scc, base + sub->end_display_time) - r->offset_ms;
    }
    /* the encoder takes times from the caller, not the subtitle */
    sub->end_display_time -= sub->start_display_time;
    sub->start_display_time = 0;
    n = avcodec_encode_subtitle(r->enc, r->buf, ENCODE_BUF_BYTES, sub);
    put_time(at, sizeof(at), start);
    if (n < 0) {
        return fail(r, CIR_EMEDIA,
                    "cue at %s cannot be converted to WebVTT: "
                    "%s",
                    at, av_err2str(n));
    }
    n = cir_subtitles_escape((const char *)r->buf, (size_t)n, text,
                             sizeof(text));
    if (n < 0) {
        return fail(r, CIR_ELIMIT, "cue at %s has more than %d bytes of text",
                    at, CIR_SUBTITLE_CUE_BYTES);
    }
    if (n == 0) {
        r->empty++;
        return 0;
    }
    return add_cue(r, start, end, text);
}

static int
decode_packet(reader_t *r)
{
    AVSubtitle sub;
    int got = 0, ret;
    char at[32];

    memset(&sub, 0, sizeof(sub));
    ret = avcodec_decode_subtitle2(r->dec, &sub, &got, r->pkt);
    if (ret < 0) {
        put_time(
            at, sizeof(at),
            av_rescale_q(r->pkt->pts, r->st->time_base, (AVRational){1, 1000}));
        if (ret == AVERROR_INVALIDDATA && r->t->spec->encoding[0] == '\0') {
            return fail(r, CIR_EMEDIA,
                        "cue at %s is not UTF-8 text: give the file's "
                        "\"encoding\" (e.g. \"windows-1252\") or convert it",
                        at);
        }
        return fail(r, CIR_EMEDIA, "cue at %s cannot be decoded: %s", at,
                    av_err2str(ret));
    }
    if (got) {
        ret = take_subtitle(r, &sub);
        avsubtitle_free(&sub);
    }
    return ret < 0 ? ret : 0;
}

static int
open_codecs(reader_t *r)
{
    const AVCodecParameters *par = r->st->codecpar;
    const AVCodecDescriptor *d = avcodec_descriptor_get(par->codec_id);
    const AVCodec *dc = avcodec_find_decoder(par->codec_id);
    const AVCodec *ec = avcodec_find_encoder(AV_CODEC_ID_WEBVTT);
    AVDictionary *o = NULL;
    int ret;

    if (d == NULL || !(d->props & AV_CODEC_PROP_TEXT_SUB) || dc == NULL) {
        return fail(r, CIR_EUNSUPPORTED,
                    "%s subtitles: not a text format Cirrus can decode",
                    avcodec_get_name(par->codec_id));
    }
    if (ec == NULL || (r->dec = avcodec_alloc_context3(dc)) == NULL ||
        (r->enc = avcodec_alloc_context3(ec)) == NULL ||
        (r->pkt = av_packet_alloc()) == NULL ||
        (r->buf = av_malloc(ENCODE_BUF_BYTES)) == NULL) {
        return fail(r, ec ? CIR_ENOMEM : CIR_EINTERNAL,
                    ec ? "out of memory" : "no WebVTT encoder in libavcodec");
    }
    if ((ret = avcodec_parameters_to_context(r->dec, par)) < 0) {
        return fail(r, CIR_EMEDIA, "%s", av_err2str(ret));
    }
    r->dec->pkt_timebase = r->st->time_base;
    if (r->t->spec->encoding[0]) {
        av_dict_set(&o, "sub_charenc", r->t->spec->encoding, 0);
    }
    ret = avcodec_open2(r->dec, dc, &o);
    av_dict_free(&o);
    if (ret < 0) {
        return fail(r, CIR_EINVAL, "cannot open the %s decoder%s%s: %s",
                    dc->name, r->t->spec->encoding[0] ? " with encoding " : "",
                    r->t->spec->encoding, av_err2str(ret));
    }
    /* the encoder reads the styles of the decoder's ASS header, as a
     * string: it must end with a NUL (as ffmpeg.c copies it) */
    if (r->dec->subtitle_header_size > 0) {
        int n = r->dec->subtitle_header_size;
        if ((r->enc->subtitle_header = av_mallocz((size_t)n + 1)) == NULL) {
            return fail(r, CIR_ENOMEM, "out of memory");
        }
        memcpy(r->enc->subtitle_header, r->dec->subtitle_header, (size_t)n);
        r->enc->subtitle_header_size = n;
    }
    r->enc->time_base = (AVRational){1, 1000};
    if ((ret = avcodec_open2(r->enc, ec, NULL)) < 0) {
        return fail(r, CIR_EMEDIA, "cannot convert %s to WebVTT: %s", dc->name,
                    av_err2str(ret));
    }
    return 0;
}

/* The first time code's separator: ';' (or '.') drop frame, ':' not.
 * The SCC demuxer has queued every packet at open, so its AVIOContext is
 * ours to read again. */
static int
scc_kind(reader_t *r)
{
    char head[SCC_SNIFF_BYTES + 1];
    int n;

    if (r->ic->pb == NULL || avio_seek(r->ic->pb, 0, SEEK_SET) < 0 ||
        (n = avio_read(r->ic->pb, (unsigned char *)head, SCC_SNIFF_BYTES)) <=
            0) {
        return SCC_NDF;
    }
    head[n] = '\0';
    for (int i = 0; i + 11 <= n; i++) {
        const char *p = head + i;
        if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
            p[2] == ':' && isdigit((unsigned char)p[3]) &&
            isdigit((unsigned char)p[4]) && p[5] == ':' &&
            isdigit((unsigned char)p[6]) && isdigit((unsigned char)p[7]) &&
            strchr(":;.", p[8]) != NULL && isdigit((unsigned char)p[9])) {
            return p[8] == ':' ? SCC_NDF : SCC_DF;
        }
    }
    return SCC_NDF;
}

static int
open_sidecar(reader_t *r, const atomic_int *cancel)
{
    const char *uri = r->t->spec->uri;
    char why[1024];
    cir_uri_t u;
    int64_t size;
    int ret;

    if (cir_uri_parse(uri, &u) < 0) {
        return fail(r, CIR_EINVAL, "not a file path or URI");
    }
    ret = cir_input_open_subtitles(&r->ic,
                                   u.scheme == CIR_URI_FILE ? u.path : uri,
                                   NULL, cancel, why, sizeof(why));
    if (ret < 0) {
        /* an empty file is no format at all */
        return fail(r, ret == CIR_EMEDIA ? CIR_EMEDIA : ret, "%s%s", why,
                    ret == CIR_EMEDIA ? " (empty, or not a subtitle file)"
                                      : "");
    }
    size = r->ic->pb ? avio_size(r->ic->pb) : -1;
    if (size > CIR_SUBTITLE_FILE_MAX) {
        return fail(r, CIR_ELIMIT,
                    "%lld bytes, more than the %d a subtitle "
                    "file may have",
                    (long long)size, CIR_SUBTITLE_FILE_MAX);
    }
    for (unsigned i = 0; i < r->ic->nb_streams && r->st == NULL; i++) {
        if (r->ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_SUBTITLE) {
            r->st = r->ic->streams[i];
        }
    }
    if (r->st == NULL) {
        return fail(r, CIR_EMEDIA, "no subtitle stream");
    }
    if (strcmp(r->ic->iformat->name, "scc") == 0) {
        r->scc = scc_kind(r);
    }
    return open_codecs(r);
}

static int
read_cues(reader_t *r)
{
    int ret;

    while ((ret = av_read_frame(r->ic, r->pkt)) >= 0) {
        if (r->pkt->stream_index == r->st->index) {
            ret = decode_packet(r);
        }
        av_packet_unref(r->pkt);
        if (ret < 0) {
            return ret;
        }
    }
    if (ret != AVERROR_EOF) {
        return fail(r, ret == AVERROR_EXIT ? CIR_ECANCELED : CIR_EMEDIA,
                    "read failed: %s", av_err2str(ret));
    }
    return 0;
}

static int
cmp_cue(const void *a, const void *b)
{
    const loaded_cue_t *x = a, *y = b;

    if (x->cue.start_ms != y->cue.start_ms) {
        return x->cue.start_ms < y->cue.start_ms ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A format read whole (TTML) leaves open ends in file order: each ends
 * where the next cue starts, once sorted (the last at the media's end). */
static void
close_open_sorted(cir_text_cue_t *cues, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; cues[i].end_ms == OPEN_END && j < n; j++) {
            if (cues[j].start_ms > cues[i].start_ms) {
                cues[i].end_ms = cues[j].start_ms;
            }
        }
    }
}

/* Sorted by start; open ends closed at the next start; what the file got
 * wrong repaired and logged.  (At least one cue.) */
static int
sort_cues(reader_t *r)
{
    sub_track_t *t = r->t;
    size_t negative = 0, before = 0, open = 0, kept = 0;

    qsort(t->loaded, t->nb, sizeof(*t->loaded), cmp_cue);
    if ((t->cues = calloc(t->nb, sizeof(*t->cues))) == NULL) {
        return fail(r, CIR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->nb; i++) {
        cir_text_cue_t c = t->loaded[i].cue;
        if (c.end_ms != OPEN_END && c.end_ms <= 0) {
            before++; /* over before the media's 0 */
            continue;
        }
        if (c.start_ms < 0) {
            c.start_ms = 0;
            negative++;
        }
        open += c.end_ms == OPEN_END;
        t->cues[kept++] = c;
    }
    if (r->empty || negative || before || open || r->errors) {
        cir_log_warn(r->log,
                     "%s: %zu empty cues left out, %zu cues that could not be "
                     "read left out, %zu cues over before 0 left out, %zu "
                     "cues before 0 moved to 0, %zu cues without an end end "
                     "where the next starts",
                     t->label, r->empty, r->errors, before, negative, open);
    }
    close_open_sorted(t->cues, kept);
    t->track.cues = t->cues;
    t->track.nb_cues = kept;
    return kept > 0 ? 0 : fail(r, CIR_EMEDIA, "every cue ends before 0");
}

static int
finish_cues(reader_t *r)
{
    if (r->t->nb == 0) {
        return fail(r, CIR_EMEDIA, "no cue in the file%s",
                    r->empty ? " (only empty ones)" : "");
    }
    return sort_cues(r);
}

static void
reader_close(reader_t *r)
{
    avcodec_free_context(&r->dec);
    avcodec_free_context(&r->enc);
    av_packet_free(&r->pkt);
    av_freep(&r->buf);
    cir_input_close(&r->ic);
}

static int
cancelled_cb(void *opaque)
{
    const atomic_int *cancel = opaque;

    return cancel != NULL && atomic_load(cancel);
}

/* A local file (no protocol but "file") or an S3 object (*s3 set: closed
 * by cir_s3_avio_close, the other by avio_closep). */
static int
open_bytes(reader_t *r, AVIOContext **pb, int *s3, const atomic_int *cancel)
{
    const char *uri = r->t->spec->uri;
    const cir_s3_avio_opts_t s3o = {.abort = cancel};
    const AVIOInterruptCB icb = {.callback = cancelled_cb,
                                 .opaque = (void *)(uintptr_t)cancel};
    AVDictionary *o = NULL;
    char why[1024];
    cir_uri_t u;
    int ret;

    if (cir_uri_parse(uri, &u) < 0) {
        return fail(r, CIR_EINVAL, "not a file path or URI");
    }
    if ((*s3 = u.scheme != CIR_URI_FILE)) {
        ret = cir_s3_avio_open(pb, uri, &s3o, why, sizeof(why));
        return ret < 0 ? fail(r, ret, "%s", why) : 0;
    }
    if (av_dict_set(&o, "protocol_whitelist", "file", 0) < 0) {
        return fail(r, CIR_ENOMEM, "out of memory");
    }
    ret = avio_open2(pb, u.path, AVIO_FLAG_READ, &icb, &o);
    av_dict_free(&o);
    if (ret < 0) {
        return fail(r, ret == AVERROR(ENOENT) ? CIR_ENOTFOUND : CIR_EMEDIA,
                    "cannot open: %s", av_err2str(ret));
    }
    return 0;
}

/* The whole file into *data (NUL-terminated), at most the size limit. */
static int
read_bytes(reader_t *r, const atomic_int *cancel, char **data, size_t *len)
{
    AVIOContext *pb = NULL;
    size_t cap = 64 * 1024;
    int ret, n = 0, s3 = 0;

    *len = 0;
    if ((ret = open_bytes(r, &pb, &s3, cancel)) < 0) {
        return ret;
    }
    if ((*data = malloc(cap + 1)) == NULL) {
        ret = fail(r, CIR_ENOMEM, "out of memory");
    }
    while (ret == 0 && (n = avio_read(pb, (unsigned char *)*data + *len,
                                      (int)(cap - *len))) > 0) {
        *len += (size_t)n;
        if (*len > CIR_SUBTITLE_FILE_MAX) {
            ret = fail(r, CIR_ELIMIT,
                       "more than the %d bytes a subtitle file may have",
                       CIR_SUBTITLE_FILE_MAX);
        } else if (*len == cap) {
            char *p = realloc(*data, cap * 2 + 1);
            if (p == NULL) {
                ret = fail(r, CIR_ENOMEM, "out of memory");
            }
            *data = p ? p : *data;
            cap *= 2;
        }
    }
    if (ret == 0 && n < 0 && n != AVERROR_EOF) {
        ret = fail(r, n == AVERROR_EXIT ? CIR_ECANCELED : CIR_EMEDIA,
                   "read failed: %s", av_err2str(n));
    }
    if (ret == 0 && *len == 0) {
        ret = fail(r, CIR_EMEDIA, "empty file");
    }
    if (*data != NULL) {
        (*data)[*len] = '\0';
    }
    if (s3) {
        cir_s3_avio_close(&pb);
    } else {
        avio_closep(&pb); /* avio_open2's */
    }
    return ret;
}

static int
take_ttml_cue(void *opaque, int64_t start, int64_t end, const char *text)
{
    return add_cue(opaque, start, end == CIR_TTML_OPEN_END ? OPEN_END : end,
                   text);
}

static void
log_ttml(const reader_t *r, const cir_ttml_info_t *info)
{
    size_t dropped = info->dropped_no_begin + info->dropped_end_before +
                     info->dropped_bad_time;

    if (dropped > 0) {
        cir_log_warn(r->log,
                     "%s: %zu cues left out: %zu without a begin, %zu ending "
                     "before they begin, %zu with a time that does not parse",
                     r->t->label, dropped, info->dropped_no_begin,
                     info->dropped_end_before, info->dropped_bad_time);
    }
    if (info->positioned > 0) {
        cir_log_info(r->log,
                     "%s: regions and positions ignored (%zu elements): "
                     "players place WebVTT cues themselves",
                     r->t->label, info->positioned);
    }
    if (info->language[0] && strcasecmp(info->language, r->t->spec->language)) {
        cir_log_info(r->log, "%s: the file says xml:lang \"%s\", the job %s",
                     r->t->label, info->language, r->t->spec->language);
    }
}

/* The job gave no language: the file's xml:lang, kept in the track's own
 * spec (its id made by unique_file_ids() once every file is read). */
static int
file_language(reader_t *r, const char *lang)
{
    sub_track_t *t = r->t;

    if (lang[0] == '\0') {
        return fail(r, CIR_EINVAL,
                    "no language: the job gives none and the file has no "
                    "xml:lang");
    }
    if (!cir_subtitle_language_ok(lang) ||
        strlen(lang) >= sizeof(t->own.language)) {
        return fail(r, CIR_EINVAL,
                    "xml:lang \"%.40s\" is not a BCP 47 tag: give the job's "
                    "\"language\"",
                    lang);
    }
    t->own = *t->spec;
    snprintf(t->own.language, sizeof(t->own.language), "%s", lang);
    if (t->own.name[0] == '\0') {
        snprintf(t->own.name, sizeof(t->own.name), "%s", lang);
        memcpy(t->name, t->own.name, sizeof(t->own.name));
    }
    t->spec = &t->own;
    t->track.language = t->own.language;
    t->track.id = t->own.id;
    return 0;
}

static int
load_ttml(reader_t *r, const atomic_int *cancel)
{
    const cir_subtitle_spec_t *spec = r->t->spec;
    cir_ttml_info_t info;
    char *data = NULL, why[512];
    size_t len;
    int ret;

    if ((ret = read_bytes(r, cancel, &data, &len)) == 0) {
        ret = cir_ttml_parse(
            data, len, spec->encoding[0] ? spec->encoding : NULL,
            CIR_SUBTITLE_CUE_BYTES, take_ttml_cue, r, &info, why, sizeof(why));
        if (ret == -1) {
            ret = fail(r, CIR_EMEDIA, "TTML: %s", why);
        }
    }
    free(data);
    if (ret == 0 && spec->language[0] == '\0') {
        ret = file_language(r, info.language);
    }
    if (ret == 0) {
        r->empty = info.dropped_empty;
        log_ttml(r, &info);
        ret = finish_cues(r);
    }
    return ret;
}

static int
load_one(sub_track_t *t, const atomic_int *cancel, const cir_log_ctx_t *log,
         char *why, size_t why_len)
{
    reader_t r = {.t = t, .log = log, .why = why, .why_len = why_len};
    int ttml = cir_subtitle_uri_is_ttml(t->spec->uri);
    int ret;

    if (ttml) {
        ret = load_ttml(&r, cancel);
    } else if ((ret = open_sidecar(&r, cancel)) == 0 &&
               (ret = read_cues(&r)) == 0) {
        ret = finish_cues(&r);
    }
    if (ret == 0) {
        cir_log_info(log, "%s: %zu cues, %s, %s", t->label, t->nb,
                     ttml ? "ttml" : r.ic->iformat->name, t->spec->language);
    }
    reader_close(&r);
    return ret;
}

static void
init_track(sub_track_t *t, const cir_subtitle_spec_t *spec, size_t index)
{
    static const cir_text_kind_t kinds[] = {
        [CIR_SUBTITLE_KIND_SUBTITLES] = CIR_TEXT_SUBTITLES,
        [CIR_SUBTITLE_KIND_CAPTIONS] = CIR_TEXT_CAPTIONS,
        [CIR_SUBTITLE_KIND_FORCED] = CIR_TEXT_FORCED,
    };

    char label[sizeof(t->label)];

    /* (through a copy: spec may be t's own) */
    snprintf(label, sizeof(label), "subtitles[%zu] (%.300s)", index, spec->uri);
    memcpy(t->label, label, sizeof(label));
    t->spec = spec;
    t->track.id = spec->id;
    t->track.language = spec->language;
    memcpy(t->name, spec->name, sizeof(spec->name)); /* unique_names() */
    t->track.name = t->name;
    t->track.kind = kinds[spec->kind];
    t->track.is_default = spec->is_default;
}

static int
id_taken(const cir_subtitles_t *s, const cir_subtitle_specs_t *specs,
         size_t self, const char *id)
{
    for (size_t i = 0; i < s->count; i++) {
        const char *other = s->tracks[i].spec == &s->tracks[i].own
                                ? s->tracks[i].own.id
                                : specs->items[i].id;
        if (i != self && strcmp(other, id) == 0) {
            return 1;
        }
    }
    return 0;
}

/* "subs-<xml:lang>" for the files whose language the job left out, "-<n>"
 * added while another rendition has it. */
static void
unique_file_ids(cir_subtitles_t *s, const cir_subtitle_specs_t *specs)
{
    for (size_t i = 0; i < s->count; i++) {
        cir_subtitle_spec_t *own = &s->tracks[i].own;
        if (s->tracks[i].spec != own) {
            continue;
        }
        snprintf(own->id, sizeof(own->id), "subs-%s", own->language);
        for (unsigned n = 2; id_taken(s, specs, i, own->id); n++) {
            snprintf(own->id, sizeof(own->id), "subs-%s-%u", own->language, n);
        }
    }
}

int
cir_subtitles_load(cir_subtitles_t **out, const cir_subtitle_specs_t *specs,
                   const atomic_int *cancel, const cir_log_ctx_t *log,
                   char *why, size_t why_len)
{
    cir_subtitles_t *s;
    int ret;

    *out = NULL;
    if (specs == NULL || specs->count == 0) {
        return 0;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        snprintf(why, why_len, "out of memory");
        return CIR_ENOMEM;
    }
    for (size_t i = 0; i < specs->count && i < CIR_SUBTITLES_MAX; i++) {
        init_track(&s->tracks[i], &specs->items[i], i);
        s->count = i + 1;
        if ((ret = load_one(&s->tracks[i], cancel, log, why, why_len)) < 0) {
            cir_subtitles_free(&s);
            return ret;
        }
    }
    unique_file_ids(s, specs);
    *out = s;
    return 0;
}

/* One sidecar track's cues by_ms earlier: those over before 0 left out,
 * one running over 0 starts there. */
static int
shift_track(sub_track_t *t, int64_t by_ms, const cir_log_ctx_t *log, char *why,
            size_t why_len)
{
    size_t kept = 0;

    for (size_t i = 0; i < t->track.nb_cues; i++) {
        cir_text_cue_t c = t->cues[i];
        if (c.end_ms != OPEN_END) {
            c.end_ms -= by_ms;
            if (c.end_ms <= 0) {
                continue;
            }
        }
        c.start_ms = c.start_ms > by_ms ? c.start_ms - by_ms : 0;
        t->cues[kept++] = c;
    }
    if (kept == 0) {
        snprintf(why, why_len, "%s: no cue after the clip's start (%.3f s)",
                 t->label, by_ms / 1000.0);
        return CIR_EMEDIA;
    }
    if (kept < t->track.nb_cues) {
        cir_log_info(log, "%s: %zu cues before the clip's start left out",
                     t->label, t->track.nb_cues - kept);
    }
    t->track.nb_cues = kept;
    return 0;
}

int
cir_subtitles_shift(cir_subtitles_t *s, int64_t by_ms, const cir_log_ctx_t *log,
                    char *why, size_t why_len)
{
    int ret;

    for (size_t i = 0; s != NULL && i < s->count; i++) {
        if (s->tracks[i].live == NULL &&
            (ret = shift_track(&s->tracks[i], by_ms, log, why, why_len)) < 0) {
            return ret;
        }
    }
    return 0;
}

size_t
cir_subtitles_count(const cir_subtitles_t *s)
{
    return s ? s->count : 0;
}

const cir_text_track_t *
cir_subtitles_track(const cir_subtitles_t *s, size_t i)
{
    return s && i < s->count ? &s->tracks[i].track : NULL;
}

/* ---- the input's own text tracks ---------------------------------------- */

static void
close_live(sub_track_t *t)
{
    if (t->live != NULL) {
        t->live->ic = NULL;  /* the job's */
        t->live->pkt = NULL; /* the read loop's */
        reader_close(t->live);
        free(t->live);
        t->live = NULL;
    }
}

/* A stream tag as a language: BCP 47's shape (ISO 639-2 "eng" as MKV and
 * MP4 write it is one), else "und". */
static void
stream_language(const AVStream *st, char *out, size_t size)
{
    const AVDictionaryEntry *e = av_dict_get(st->metadata, "language", NULL, 0);
    const char *v = e ? e->value : "";
    size_t n = strlen(v), alpha = 0;
    int ok = n > 0 && n < size;

    while (alpha < n && isalpha((unsigned char)v[alpha])) {
        alpha++;
    }
    ok = ok && alpha >= 2 && alpha <= 3 && (alpha == n || v[alpha] == '-');
    for (size_t i = 0; ok && i < n; i++) {
        ok = isalnum((unsigned char)v[i]) || (v[i] == '-' && i + 1 < n);
    }
    snprintf(out, size, "%s", ok ? v : "und");
}

/* Its title when it fits a playlist's NAME (printable ASCII, no '"'),
 * else its language. */
static void
stream_name(const AVStream *st, const char *language, char *out, size_t size)
{
    const AVDictionaryEntry *e = av_dict_get(st->metadata, "title", NULL, 0);
    const char *v = e ? e->value : "";
    size_t n = strlen(v);
    int ok = n > 0 && n < size;

    for (size_t i = 0; ok && i < n; i++) {
        ok = v[i] >= 0x20 && v[i] < 0x7f && v[i] != '"';
    }
    snprintf(out, size, "%s", ok ? v : language);
}

/* "subs-<language>", "-<n>" when the language has a rendition already. */
static void
embedded_id(const cir_subtitles_t *s, cir_subtitle_spec_t *spec)
{
    char lang[sizeof(spec->language)];
    size_t same = 0;

    memcpy(lang, spec->language, sizeof(lang));
    for (size_t i = 0; i < s->count; i++) {
        same += strcmp(s->tracks[i].spec->language, lang) == 0;
    }
    if (same == 0) {
        snprintf(spec->id, sizeof(spec->id), "subs-%s", lang);
    } else {
        snprintf(spec->id, sizeof(spec->id), "subs-%s-%zu", lang, same + 1);
    }
}

static int
has_default(const cir_subtitles_t *s)
{
    for (size_t i = 0; i < s->count; i++) {
        if (s->tracks[i].spec->is_default) {
            return 1;
        }
    }
    return 0;
}

/* The track's spec from the stream's tags and dispositions. */
static void
init_embedded(cir_subtitles_t *s, sub_track_t *t, const AVStream *st)
{
    cir_subtitle_spec_t *spec = &t->own;
    int d = st->disposition;

    memset(spec, 0, sizeof(*spec));
    stream_language(st, spec->language, sizeof(spec->language));
    stream_name(st, spec->language, spec->name, sizeof(spec->name));
    spec->kind = (d & AV_DISPOSITION_FORCED) ? CIR_SUBTITLE_KIND_FORCED
                 : (d & AV_DISPOSITION_HEARING_IMPAIRED)
                     ? CIR_SUBTITLE_KIND_CAPTIONS
                     : CIR_SUBTITLE_KIND_SUBTITLES;
    spec->is_default = (d & AV_DISPOSITION_DEFAULT) && !has_default(s);
    snprintf(spec->uri, sizeof(spec->uri), "stream #%d", st->index);
    embedded_id(s, spec);
    init_track(t, spec, 0);
    snprintf(t->label, sizeof(t->label),
             "the input's subtitle stream #%d (%s, %s)", st->index,
             avcodec_get_name(st->codecpar->codec_id), spec->language);
}

/* One text stream of the input into the next track: 0, 1 when it is left
 * out (logged), or < 0. */
static int
open_stream(cir_subtitles_t *s, AVStream *st, int64_t start_us,
            const cir_log_ctx_t *log)
{
    sub_track_t *t = &s->tracks[s->count];
    reader_t *r = calloc(1, sizeof(*r));
    char why[600];
    int ret;

    if (r == NULL) {
        return CIR_ENOMEM;
    }
    memset(t, 0, sizeof(*t));
    init_embedded(s, t, st);
    *r = (reader_t){.t = t,
                    .st = st,
                    .offset_ms = start_us / 1000,
                    .log = log,
                    .why = why,
                    .why_len = sizeof(why)};
    t->live = r;
    if ((ret = open_codecs(r)) < 0) {
        cir_log_warn(log, "%s: left out", why);
        close_live(t);
        return ret == CIR_ENOMEM ? ret : 1;
    }
    /* each later call (push, finish) gives its own buffer */
    r->why = NULL;
    r->why_len = 0;
    s->count++;
    return 0;
}

int
cir_subtitles_open_embedded(cir_subtitles_t **sp, AVFormatContext *ic,
                            int64_t start_us, const cir_log_ctx_t *log)
{
    int ret;

    for (unsigned i = 0; i < ic->nb_streams; i++) {
        AVStream *st = ic->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_SUBTITLE) {
            continue;
        }
        if (*sp == NULL && (*sp = calloc(1, sizeof(**sp))) == NULL) {
            return CIR_ENOMEM;
        }
        if ((*sp)->count == CIR_SUBTITLES_MAX) {
            cir_log_warn(log,
                         "the input's subtitle stream #%u: left out, at most "
                         "%d subtitle renditions",
                         i, CIR_SUBTITLES_MAX);
            continue;
        }
        if ((ret = open_stream(*sp, st, start_us, log)) < 0) {
            return ret;
        }
    }
    return 0;
}

int
cir_subtitles_push(cir_subtitles_t *s, AVPacket *pkt, char *why, size_t why_len)
{
    for (size_t i = 0; s != NULL && i < s->count; i++) {
        reader_t *r = s->tracks[i].live;
        int ret;
        if (r == NULL || r->st->index != pkt->stream_index) {
            continue;
        }
        r->pkt = pkt;
        r->why = why;
        r->why_len = why_len;
        ret = decode_packet(r);
        r->pkt = NULL;
        if (ret == CIR_ENOMEM || ret == CIR_ELIMIT) {
            return ret;
        }
        if (ret < 0 && r->errors++ == 0) {
            /* the media goes on: the cue is left out, counted, logged */
            cir_log_warn(r->log, "%s", why);
        }
        return 0;
    }
    return 0;
}

/* The input's tracks once read: sorted, or left out without a cue. */
static void
finish_embedded(cir_subtitles_t *s)
{
    for (size_t i = 0; i < s->count; i++) {
        sub_track_t *t = &s->tracks[i];
        reader_t *r = t->live;
        char why[600];
        if (r == NULL) {
            continue;
        }
        r->why = why;
        r->why_len = sizeof(why);
        if (t->nb == 0) {
            cir_log_warn(r->log, "%s: no cue, left out", t->label);
            t->left_out = 1;
        } else if (sort_cues(r) < 0) {
            cir_log_warn(r->log, "%s, left out", why);
            t->left_out = 1;
        } else {
            cir_log_info(r->log, "%s: %zu cues", t->label, t->nb);
        }
        close_live(t);
    }
}

/* The open ends closed at the media's end, cues after it left out, cues
 * running past it cut there: logged. */
static int
clip_to_media(sub_track_t *t, int64_t end_ms, const cir_log_ctx_t *log,
              char *why, size_t why_len)
{
    size_t kept = 0, cut = 0, after = 0;

    for (size_t i = 0; i < t->track.nb_cues; i++) {
        cir_text_cue_t c = t->cues[i];
        if (c.start_ms >= end_ms) {
            after++;
            continue;
        }
        if (c.end_ms == OPEN_END || c.end_ms > end_ms) {
            cut += c.end_ms != OPEN_END;
            c.end_ms = end_ms;
        }
        t->cues[kept++] = c;
    }
    if (after || cut) {
        cir_log_warn(log,
                     "%s: the media ends at %.3f s: %zu cues starting after "
                     "it left out, %zu cut at its end",
                     t->label, end_ms / 1000.0, after, cut);
    }
    if (kept == 0) {
        snprintf(why, why_len,
                 "%s: every cue starts after the media's end (%.3f s)",
                 t->label, end_ms / 1000.0);
        return CIR_EMEDIA;
    }
    t->track.nb_cues = kept;
    return 0;
}

/* The segments text follows: the first video rendition's, else the first
 * rendition's. */
static const cir_rendition_t *
reference_rendition(const cir_asset_t *a)
{
    for (size_t i = 0; i < a->nb_renditions; i++) {
        if (a->renditions[i].type == CIR_MEDIA_VIDEO) {
            return &a->renditions[i];
        }
    }
    return a->nb_renditions > 0 ? &a->renditions[0] : NULL;
}

/* Names as given, a number added to a repeated one (logged). */
static void
unique_names(cir_subtitles_t *s, const cir_log_ctx_t *log)
{
    for (size_t i = 0; i < s->count; i++) {
        sub_track_t *t = &s->tracks[i];
        size_t n = 1;
        snprintf(t->name, sizeof(t->name), "%s", t->spec->name);
        for (int clash = 1; clash;) {
            clash = 0;
            for (size_t j = 0; j < i && !clash; j++) {
                clash = !s->tracks[j].left_out &&
                        strcmp(s->tracks[j].name, t->name) == 0;
            }
            if (clash) {
                snprintf(t->name, sizeof(t->name), "%.128s (%zu)",
                         t->spec->name, ++n);
            }
        }
        if (n > 1) {
            cir_log_info(log, "%s: named \"%s\" (\"%s\" is taken)", t->label,
                         t->name, t->spec->name);
        }
    }
}

static int
put_file(cir_store_t *store, cir_buf_t *buf, const char *name, int ret,
         char *why, size_t why_len)
{
    if (ret == 0) {
        ret =
            cir_asset_put(store, CIR_ASSET_VERSION, name, buf->data, buf->len);
    }
    cir_buf_reset(buf);
    if (ret < 0) {
        snprintf(why, why_len, "subtitles: writing %s: %s", name,
                 cir_strerror(ret));
    }
    return ret;
}

static int
write_track(const cir_asset_t *a, const cir_text_track_t *t, cir_store_t *store,
            unsigned formats, cir_buf_t *buf, char *why, size_t why_len)
{
    char name[CIR_SUBTITLE_ID_MAX + 32];
    int ret;

    if (formats & CIR_ONLY_HLS) {
        for (size_t k = 0; k < t->nb_segments; k++) {
            snprintf(name, sizeof(name), "%s/seg-%llu.vtt", t->id,
                     (unsigned long long)t->start_number + k);
            ret =
                put_file(store, buf, name,
                         cir_vtt_render_text_segment(t, k, buf), why, why_len);
            if (ret < 0) {
                return ret;
            }
        }
        snprintf(name, sizeof(name), "%s/index.m3u8", t->id);
        ret = put_file(store, buf, name, cir_hls_render_text(a, t, buf), why,
                       why_len);
        if (ret < 0) {
            return ret;
        }
    }
    if (formats & CIR_ONLY_DASH) {
        snprintf(name, sizeof(name), "%s/full.vtt", t->id);
        return put_file(store, buf, name, cir_vtt_render_text_full(t, buf), why,
                        why_len);
    }
    return 0;
}

int
cir_subtitles_publish(cir_subtitles_t *s, cir_asset_t *asset,
                      cir_store_t *store, unsigned formats,
                      const cir_log_ctx_t *log, char *why, size_t why_len)
{
    const cir_rendition_t *ref = reference_rendition(asset);
    int64_t end_ms = llround(asset->duration * 1000);
    cir_buf_t buf;
    int ret = 0;

    size_t n = 0;

    if (s == NULL || s->count == 0) {
        return 0;
    }
    finish_embedded(s);
    unique_names(s, log);
    if (ref == NULL || ref->nb_segments == 0 || end_ms <= 0) {
        snprintf(why, why_len,
                 "subtitles: the asset has no media segments "
                 "for them to follow");
        return CIR_EMEDIA;
    }
    for (size_t i = 0; i < s->count; i++) {
        sub_track_t *t = &s->tracks[i];
        if (t->left_out) {
            continue;
        }
        if ((ret = clip_to_media(t, end_ms, log, why, why_len)) < 0) {
            return ret;
        }
        t->track.timescale = ref->timescale;
        t->track.start_number = ref->start_number;
        t->track.segments = ref->segments;
        t->track.nb_segments = ref->nb_segments;
    }
    /* the asset lists them; a track's playlist is checked against it */
    for (size_t i = 0; i < s->count; i++) {
        if (!s->tracks[i].left_out) {
            s->published[n++] = s->tracks[i].track;
        }
    }
    asset->texts = n > 0 ? s->published : NULL;
    asset->nb_texts = n;
    cir_buf_init(&buf, CIR_MANIFEST_MAX_SIZE);
    for (size_t i = 0; i < n && ret == 0; i++) {
        ret = write_track(asset, &s->published[i], store, formats, &buf, why,
                          why_len);
    }
    cir_buf_free(&buf);
    return ret;
}

void
cir_subtitles_free(cir_subtitles_t **sp)
{
    cir_subtitles_t *s = *sp;

    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->count; i++) {
        sub_track_t *t = &s->tracks[i];
        for (size_t k = 0; k < t->nb; k++) {
            free((void *)t->loaded[k].cue.text);
        }
        free(t->loaded);
        free(t->cues);
        close_live(t);
    }
    free(s);
    *sp = NULL;
}
