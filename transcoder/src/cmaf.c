/*
 * The VOD CMAF packager: one rendition's fragmented MP4 segments through
 * libavformat's mp4 muxer, cut at keyframes, written to the store, with
 * the timeline and I-frame entries the manifests need.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/opt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "asset_put.h"
#include "cenc.h"
#include "cir_audio_tracks.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cmaf.h"

#define MAX_SEGMENTS (1 << 20)

struct cir_cmaf {
    char id[64];
    cir_store_t *store;
    AVFormatContext *oc;
    AVStream *st;
    AVRational enc_tb;
    int is_video;
    double segment_seconds;
    int64_t seg_len_ts;     /* the segment duration in the stream's timescale */
    int64_t tolerance;      /* half a frame, in the stream's timescale */
    int64_t frame_duration; /* for packets that carry none */
    int header_done;        /* init.mp4 written */
    int open_segment;       /* a segment has packets */
    int64_t frag_start_pts;
    size_t frag_start_off; /* offset of the open fragment in the buffer */
    int frag_open;

    cir_segment_t *segments;
    size_t nb_segments, cap_segments;
    cir_iframe_t *iframes;
    size_t nb_iframes, cap_iframes;
    int64_t end_pts; /* max pts + duration so far */
    int64_t first_pts;
    uint64_t frames;
    uint64_t total_bytes;
    cir_cenc_t *cenc; /* NULL: clear */
    int aes128;       /* HLS AES-128: each segment file encrypted whole */
    uint8_t aes_key[16];
    /* the last closed segment, kept only while the open one is shorter
     * than a quarter segment (a runt that may yet join it) */
    uint8_t *held;
    size_t held_size;
    cir_log_ctx_t log;
};

static int
grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t n;
    void *p;

    if (need <= *cap) {
        return 0;
    }
    if (need > MAX_SEGMENTS) {
        return CIR_ELIMIT;
    }
    n = *cap ? *cap * 2 : 64;
    while (n < need) {
        n *= 2;
    }
    p = realloc(*arr, n * elem);
    if (p == NULL) {
        return CIR_ENOMEM;
    }
    *arr = p;
    *cap = n;
    return 0;
}

static int
averr(int ret)
{
    if (ret == AVERROR(ENOMEM)) {
        return CIR_ENOMEM;
    }
    return ret < 0 && ret > -4096 ? ret : CIR_EIO;
}

int
cir_packet_view(AVPacket *dst, const AVPacket *src)
{
    if (av_packet_copy_props(dst, src) < 0) {
        av_packet_unref(dst);
        return CIR_ENOMEM;
    }
    if (src->buf != NULL && (dst->buf = av_buffer_ref(src->buf)) == NULL) {
        av_packet_unref(dst);
        return CIR_ENOMEM;
    }
    dst->data = src->data;
    dst->size = src->size;
    return 0;
}

/* Walks the boxes of buf[off..size) at one level; returns the offset of the
 * first box of the given type, or -1. */
int64_t
cir_cmaf_find_box(const uint8_t *buf, size_t off, size_t size, const char *type)
{
    while (off + 8 <= size) {
        uint64_t len = AV_RB32(buf + off);
        if (len == 1 && off + 16 <= size) {
            len = AV_RB64(buf + off + 8);
        }
        if (len < 8 || len > size - off) {
            return -1;
        }
        if (memcmp(buf + off + 4, type, 4) == 0) {
            return (int64_t)off;
        }
        off += len;
    }
    return -1;
}

int64_t
cir_cmaf_first_sample_end(const uint8_t *frag, size_t size)
{
    int64_t traf, tfhd, trun;
    uint32_t moof_len, traf_len, flags, count, default_size = 0;
    size_t p, end;
    int32_t data_offset = 0;

    if (size < 8 || memcmp(frag + 4, "moof", 4) != 0) {
        return CIR_EPARSE;
    }
    moof_len = AV_RB32(frag);
    if (moof_len < 8 || moof_len > size) {
        return CIR_EPARSE;
    }
    traf = cir_cmaf_find_box(frag, 8, moof_len, "traf");
    if (traf < 0) {
        return CIR_EPARSE;
    }
    traf_len = AV_RB32(frag + traf);
    tfhd = cir_cmaf_find_box(frag, (size_t)traf + 8, (size_t)traf + traf_len,
                             "tfhd");
    trun = cir_cmaf_find_box(frag, (size_t)traf + 8, (size_t)traf + traf_len,
                             "trun");
    if (tfhd < 0 || trun < 0) {
        return CIR_EPARSE;
    }
    /* tfhd: flags, track id, then optional fields in flag order */
    p = (size_t)tfhd + 8;
    end = (size_t)tfhd + AV_RB32(frag + tfhd);
    if (p + 8 > end) {
        return CIR_EPARSE;
    }
    flags = AV_RB32(frag + p) & 0xffffff;
    p += 8;
    p += (flags & 0x01) ? 8 : 0;
    p += (flags & 0x02) ? 4 : 0;
    p += (flags & 0x08) ? 4 : 0;
    if (flags & 0x10) {
        if (p + 4 > end) {
            return CIR_EPARSE;
        }
        default_size = AV_RB32(frag + p);
    }
    /* trun: flags, sample count, data offset, first sample flags, entries */
    p = (size_t)trun + 8;
    end = (size_t)trun + AV_RB32(frag + trun);
    if (p + 8 > end) {
        return CIR_EPARSE;
    }
    flags = AV_RB32(frag + p) & 0xffffff;
    count = AV_RB32(frag + p + 4);
    p += 8;
    if (count == 0 || !(flags & 0x01)) {
        return CIR_EPARSE;
    }
    if (p + 4 > end) {
        return CIR_EPARSE;
    }
    data_offset = (int32_t)AV_RB32(frag + p);
    p += 4;
    p += (flags & 0x04) ? 4 : 0;
    p += (flags & 0x100) ? 4 : 0;
    if (flags & 0x200) {
        if (p + 4 > end) {
            return CIR_EPARSE;
        }
        default_size = AV_RB32(frag + p);
    }
    if (data_offset < 0 || default_size == 0) {
        return CIR_EPARSE;
    }
    return (int64_t)data_offset + default_size;
}

int
cir_cmaf_mux_open(AVFormatContext **out, const AVCodecParameters *par,
                  AVRational tb, AVRational frame_rate, int flags,
                  AVIOContext *pb)
{
    return cir_cmaf_mux_open_lang(out, par, tb, frame_rate, flags, pb, NULL);
}

int
cir_cmaf_mux_open_lang(AVFormatContext **out, const AVCodecParameters *par,
                       AVRational tb, AVRational frame_rate, int flags,
                       AVIOContext *pb, const char *language)
{
    int edit_list = (flags & CIR_CMAF_EDIT_LIST) != 0;
    int absolute = !edit_list && (flags & CIR_CMAF_ABSOLUTE_TIME) != 0;
    AVFormatContext *oc = NULL;
    AVDictionary *opts = NULL;
    AVStream *st;
    int ret;

    ret = avformat_alloc_output_context2(&oc, NULL, "mp4", NULL);
    if (ret < 0) {
        return averr(ret);
    }
    st = avformat_new_stream(oc, NULL);
    if (st == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = avcodec_parameters_copy(st->codecpar, par)) < 0) {
        ret = averr(ret);
        goto fail;
    }
    st->codecpar->codec_tag = 0;
    if (par->codec_id == AV_CODEC_ID_HEVC) {
        /* hvc1: parameter sets in the sample entry, as Apple requires */
        st->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
    }
    st->time_base = tb;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
        st->avg_frame_rate = frame_rate;
    }
    if (language != NULL) {
        /* mdhd holds three letters (ISO 639-2/T), not a BCP 47 tag */
        char code[4];
        av_dict_set(&st->metadata, "language",
                    cir_language_to_iso639_2(language, code), 0);
    }
    if (pb != NULL) {
        oc->pb = pb;
        oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    } else if ((ret = avio_open_dyn_buf(&oc->pb)) < 0) {
        ret = averr(ret);
        goto fail;
    }
    /* frag_discont: the first fragment's tfdt is the first packet's time
     * (the muxer then treats earlier time as fragments already written)
     * instead of 0; with the cmaf flag's negative composition offsets that
     * is the first sample's presentation time */
    av_dict_set(&opts, "movflags",
                absolute ? "+frag_custom+dash+delay_moov+cmaf+skip_sidx"
                           "+skip_trailer+default_base_moof+frag_discont"
                         : "+frag_custom+dash+delay_moov+cmaf+skip_sidx"
                           "+skip_trailer+default_base_moof",
                0);
    /* an edit list puts the first presented sample at 0 (CMAF 7.5.13):
     * encoder priming for AAC; MSE players ignore it, so it never carries
     * a track's start offset (an empty edit) */
    av_dict_set(&opts, "use_editlist", edit_list ? "1" : "0", 0);
    ret = avformat_write_header(oc, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        ret = ret == AVERROR(ENOMEM) ? CIR_ENOMEM : CIR_EMEDIA;
        goto fail;
    }
    *out = oc;
    return 0;

fail:
    if (oc->pb == pb) {
        oc->pb = NULL; /* the caller's */
    } else if (oc->pb) {
        uint8_t *buf = NULL;
        avio_close_dyn_buf(oc->pb, &buf);
        av_free(buf);
        oc->pb = NULL;
    }
    avformat_free_context(oc);
    return ret;
}

int
cir_cmaf_open(cir_cmaf_t **out, const char *id, cir_store_t *store,
              const AVCodecContext *enc, double segment_seconds,
              const char *language)
{
    cir_cmaf_t *c;
    AVCodecParameters *par;
    int ret;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CIR_ENOMEM;
    }
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->log.component = "cmaf";
    c->log.rendition = c->id;
    c->store = store;
    c->enc_tb = enc->time_base;
    c->is_video = enc->codec_type == AVMEDIA_TYPE_VIDEO;
    c->segment_seconds = segment_seconds;
    c->first_pts = AV_NOPTS_VALUE;

    par = avcodec_parameters_alloc();
    if (par == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    ret = avcodec_parameters_from_context(par, enc);
    /* video: its start offset in tfdt; audio: priming cut by the edit
     * list (it starts at 0, before which tfdt cannot go) */
    ret = ret < 0
              ? averr(ret)
              : cir_cmaf_mux_open_lang(
                    &c->oc, par, enc->time_base, enc->framerate,
                    c->is_video ? CIR_CMAF_ABSOLUTE_TIME : CIR_CMAF_EDIT_LIST,
                    NULL, language);
    avcodec_parameters_free(&par);
    if (ret < 0) {
        cir_log_error(&c->log, "mp4 muxer: %s", cir_strerror(ret));
        goto fail;
    }
    c->st = c->oc->streams[0];
    c->seg_len_ts = av_rescale_q((int64_t)(segment_seconds * 1000000 + 0.5),
                                 AV_TIME_BASE_Q, c->st->time_base);
    if (c->is_video && enc->framerate.num > 0) {
        c->frame_duration =
            av_rescale_q(1, av_inv_q(enc->framerate), c->st->time_base);
        c->tolerance = c->frame_duration / 2;
    } else if (enc->frame_size > 0 && enc->sample_rate > 0) {
        c->tolerance =
            av_rescale_q(enc->frame_size, (AVRational){1, enc->sample_rate},
                         c->st->time_base) /
            2;
    }
    *out = c;
    return 0;

fail:
    cir_cmaf_free(&c);
    return ret;
}

int
cir_cmaf_encrypt(cir_cmaf_t *c, const cir_encryption_t *enc)
{
    int ret;

    if (enc == NULL || enc->scheme == CIR_ENC_NONE) {
        return 0;
    }
    if (c->header_done || c->cenc != NULL || c->aes128) {
        return CIR_EINVAL;
    }
    if (enc->scheme == CIR_ENC_AES128) {
        c->aes128 = 1;
        memcpy(c->aes_key, enc->key, 16);
        return 0;
    }
    ret = cir_cenc_open(&c->cenc, enc, c->st->codecpar);
    if (ret < 0) {
        cir_log_error(&c->log, "%s encryption: %s",
                      cir_encryption_scheme_name(enc->scheme),
                      cir_strerror(ret));
    }
    return ret;
}

static int
record_iframe(cir_cmaf_t *c, const uint8_t *buf, size_t size)
{
    int64_t end;
    int ret;

    end = cir_cmaf_first_sample_end(buf + c->frag_start_off,
                                    size - c->frag_start_off);
    if (end < 0) {
        cir_log_warn(&c->log, "fragment without a readable trun: no I-frame");
        return 0;
    }
    ret = grow((void **)&c->iframes, &c->cap_iframes, c->nb_iframes + 1,
               sizeof(*c->iframes));
    if (ret < 0) {
        return ret;
    }
    c->iframes[c->nb_iframes++] = (cir_iframe_t){
        .segment = (uint32_t)c->nb_segments,
        .start = c->frag_start_pts,
        .duration = 0, /* set when the next fragment starts */
        /* in the segment's buffer: close_segment makes it the file's */
        .offset = c->frag_start_off,
        .size = (uint64_t)end,
    };
    return 0;
}

/* Writes init.mp4 (with its sample entry protected when encrypting). */
static int
put_init(cir_cmaf_t *c, const uint8_t *buf, size_t size)
{
    uint8_t *prot = NULL;
    size_t prot_size = 0;
    char name[96];
    int ret;

    if (c->cenc != NULL) {
        ret = cir_cenc_protect_init(c->cenc, buf, size, &prot, &prot_size);
        if (ret < 0) {
            cir_log_error(&c->log, "encrypting init.mp4: %s",
                          cir_strerror(ret));
            return ret;
        }
        buf = prot;
        size = prot_size;
    }
    snprintf(name, sizeof(name), "%s/init.mp4", c->id);
    ret = cir_asset_put(c->store, CIR_ASSET_VERSION, name, buf, size);
    av_free(prot);
    return ret;
}

/* Flushes the open fragment into the buffer and, for video, records its
 * I-frame entry. */
static int
flush_fragment(cir_cmaf_t *c)
{
    uint8_t *buf;
    int size, ret;

    if (!c->frag_open) {
        return 0;
    }
    if ((ret = av_write_frame(c->oc, NULL)) < 0) {
        return averr(ret);
    }
    c->frag_open = 0;
    size = avio_get_dyn_buf(c->oc->pb, &buf);
    if (!c->header_done) {
        /* the first flush also wrote ftyp + moov: that is init.mp4 */
        int64_t moof = cir_cmaf_find_box(buf, 0, (size_t)size, "moof");
        if (moof < 0) {
            /* with delay_moov the first flush writes only ftyp + moov and
             * keeps the samples: the next flush writes the fragment */
            if ((ret = av_write_frame(c->oc, NULL)) < 0) {
                return averr(ret);
            }
            moof = size;
            size = avio_get_dyn_buf(c->oc->pb, &buf);
            if (cir_cmaf_find_box(buf, (size_t)moof, (size_t)size, "moof") !=
                moof) {
                cir_log_error(&c->log, "the muxer wrote no fragment");
                return CIR_EINTERNAL;
            }
        }
        if ((ret = put_init(c, buf, (size_t)moof)) < 0) {
            return ret;
        }
        c->header_done = 1;
        c->frag_start_off = (size_t)moof;
    }
    if (c->is_video) {
        if ((ret = record_iframe(c, buf, (size_t)size)) < 0) {
            return ret;
        }
    }
    c->frag_start_off = (size_t)size;
    return 0;
}

static const uint8_t styp[24] = {0,   0,   0,   24,  's', 't', 'y', 'p',
                                 'm', 's', 'd', 'h', 0,   0,   0,   0,
                                 'm', 's', 'd', 'h', 'c', 'm', 'f', 's'};

/* What a segment of n bytes takes in its file: with AES-128, PKCS#7 adds
 * 1 to 16 bytes. */
static size_t
stored_size(const cir_cmaf_t *c, size_t n)
{
    return c->aes128 ? (n / 16 + 1) * 16 : n;
}

/*
 * HLS AES-128 (RFC 8216bis 5.2): the held segment file encrypted whole,
 * AES-128 CBC with PKCS#7 padding; no IV attribute is written, so the IV
 * is the segment's media sequence number as a 16-byte big-endian integer.
 */
static int
aes128_encrypt_held(cir_cmaf_t *c, uint64_t msn)
{
    size_t size = stored_size(c, c->held_size);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t iv[16] = {0}, *out = av_malloc(size);
    int n = 0, m = 0, ok;

    for (int i = 0; i < 8; i++) {
        iv[15 - i] = (uint8_t)(msn >> (8 * i));
    }
    ok =
        ctx != NULL && out != NULL && c->held_size <= INT_MAX - 16 &&
        EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, c->aes_key, iv) == 1 &&
        EVP_EncryptUpdate(ctx, out, &n, c->held, (int)c->held_size) == 1 &&
        EVP_EncryptFinal_ex(ctx, out + n, &m) == 1 && (size_t)(n + m) == size;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        av_free(out);
        return out == NULL ? CIR_ENOMEM : CIR_EINTERNAL;
    }
    av_free(c->held);
    c->held = out;
    c->held_size = size;
    return 0;
}

/* Writes the held segment (the last one closed) to the store. */
static int
write_held(cir_cmaf_t *c)
{
    char name[96];
    int ret;

    if (c->held == NULL) {
        return 0;
    }
    if (c->aes128 && (ret = aes128_encrypt_held(c, c->nb_segments)) < 0) {
        cir_log_error(&c->log, "encrypting segment %zu: %s", c->nb_segments,
                      cir_strerror(ret));
        return ret;
    }
    snprintf(name, sizeof(name), "%s/seg-%zu.m4s", c->id, c->nb_segments);
    ret =
        cir_asset_put(c->store, CIR_ASSET_VERSION, name, c->held, c->held_size);
    av_freep(&c->held);
    c->held_size = 0;
    return ret;
}

/* A new buffer for the next segment's file, which starts with a styp. */
static int
open_buffer(cir_cmaf_t *c)
{
    int ret;

    if ((ret = avio_open_dyn_buf(&c->oc->pb)) < 0) {
        return averr(ret);
    }
    avio_write(c->oc->pb, styp, sizeof(styp));
    c->frag_start_off = sizeof(styp);
    return 0;
}

/*
 * Closes the open segment: everything in the buffer after init.mp4.  It is
 * held in memory while the next one is shorter than a quarter segment
 * (cir_cmaf_write writes it once the next one is longer), so that a runt
 * at the very end (audio outlasting the video by a frame or two) can join
 * the segment before it (merge) instead of becoming a segment of its own:
 * a CMAF segment may hold several fragments.
 */
static int
close_segment(cir_cmaf_t *c, int64_t next_start, int merge)
{
    uint8_t *buf = NULL, *file, *prot = NULL;
    const uint8_t *frags;
    int size, ret;
    size_t skip = sizeof(styp), base, len;
    cir_segment_t *seg;

    if (!c->open_segment) {
        return 0;
    }
    if ((ret = flush_fragment(c)) < 0) {
        return ret;
    }
    size = avio_close_dyn_buf(c->oc->pb, &buf);
    c->oc->pb = NULL;
    if (size < 0) {
        return CIR_ENOMEM;
    }
    /* the buffer starts with the styp open_buffer wrote, but the first
     * segment's with init.mp4 (the muxer writes it with the first
     * fragment) */
    if (c->nb_segments == 0) {
        int64_t moof = cir_cmaf_find_box(buf, 0, (size_t)size, "moof");
        skip = moof > 0 ? (size_t)moof : 0;
    }
    if ((size_t)size < skip) {
        av_free(buf);
        return CIR_EINTERNAL;
    }
    frags = buf + skip;
    len = (size_t)size - skip;
    if (c->cenc != NULL) {
        ret = cir_cenc_protect_fragments(c->cenc, frags, len, &prot, &len);
        if (ret < 0) {
            cir_log_error(&c->log, "encrypting segment %zu: %s", c->nb_segments,
                          cir_strerror(ret));
            av_free(buf);
            return ret;
        }
        frags = prot;
    }
    merge = merge && c->held != NULL;
    base = merge ? c->held_size : sizeof(styp);
    if (!merge && prot == NULL && skip == sizeof(styp)) {
        file = buf; /* styp + fragments already: no copy */
    } else {
        file = av_realloc(merge ? c->held : NULL, base + len);
        if (file == NULL) {
            av_free(buf);
            av_free(prot);
            return CIR_ENOMEM;
        }
        if (!merge) {
            memcpy(file, styp, sizeof(styp));
        }
        memcpy(file + base, frags, len);
        av_free(buf);
    }
    av_free(prot);

    /* I-frame offsets were taken in the buffer of this segment;
     * encrypted, each moof moved and grew */
    for (size_t i = 0; i < c->nb_iframes; i++) {
        if (c->iframes[i].segment == c->nb_segments) {
            uint64_t off = c->iframes[i].offset - skip;
            uint64_t growth = 0;
            if (c->cenc != NULL) {
                cir_cenc_map_offset(c->cenc, off, &off, &growth);
            }
            c->iframes[i].offset = off + base;
            c->iframes[i].size += growth;
            c->iframes[i].segment -= merge ? 1 : 0;
        }
    }
    c->total_bytes += len + (merge ? 0 : sizeof(styp));
    if (merge) {
        c->held = file;
        c->held_size = base + len;
        seg = &c->segments[c->nb_segments - 1];
        seg->size = stored_size(c, c->held_size);
        seg->duration = next_start - seg->start;
    } else {
        if ((ret = write_held(c)) < 0) {
            av_free(file);
            return ret;
        }
        c->held = file;
        c->held_size = base + len;
        seg = &c->segments[c->nb_segments];
        seg->size = stored_size(c, c->held_size);
        seg->duration = next_start - seg->start;
        c->nb_segments++;
    }
    c->open_segment = 0;
    return open_buffer(c);
}

static int
start_segment(cir_cmaf_t *c, int64_t pts)
{
    int ret;

    ret = grow((void **)&c->segments, &c->cap_segments, c->nb_segments + 1,
               sizeof(*c->segments));
    if (ret < 0) {
        return ret;
    }
    /* audio priming before 0 is cut by the edit list: it does not count */
    c->segments[c->nb_segments] = (cir_segment_t){.start = pts > 0 ? pts : 0};
    c->open_segment = 1;
    return 0;
}

int
cir_cmaf_write(cir_cmaf_t *c, const AVPacket *in)
{
    AVPacket *pkt;
    int key, ret;
    int64_t boundary;

    pkt = av_packet_clone(in);
    if (pkt == NULL) {
        return CIR_ENOMEM;
    }
    av_packet_rescale_ts(pkt, c->enc_tb, c->st->time_base);
    pkt->stream_index = 0;
    if (pkt->duration <= 0) {
        pkt->duration = c->frame_duration;
    }
    key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    if (c->first_pts == AV_NOPTS_VALUE) {
        c->first_pts = pkt->pts;
    }

    /* the asset's timeline starts at 0 for every track */
    boundary = (int64_t)(c->nb_segments + 1) * c->seg_len_ts;
    if (!c->open_segment) {
        ret = start_segment(c, pkt->pts);
    } else if (key && pkt->pts >= boundary - c->tolerance) {
        if ((ret = close_segment(c, pkt->pts, 0)) == 0) {
            ret = start_segment(c, pkt->pts);
        }
    } else if (key && c->is_video) {
        ret = flush_fragment(c);
    } else {
        ret = 0;
    }
    if (ret < 0) {
        goto done;
    }
    if (c->is_video && key && c->nb_iframes > 0 &&
        c->iframes[c->nb_iframes - 1].duration == 0) {
        c->iframes[c->nb_iframes - 1].duration =
            pkt->pts - c->iframes[c->nb_iframes - 1].start;
    }
    if (!c->frag_open) {
        c->frag_open = 1;
        c->frag_start_pts = pkt->pts;
    }
    if (pkt->pts + pkt->duration > c->end_pts || c->frames == 0) {
        c->end_pts = pkt->pts + pkt->duration;
    }
    /* past a quarter segment the open one cannot be a runt any more: the
     * one before is written now rather than held to the next close */
    if (c->held != NULL &&
        c->end_pts - c->segments[c->nb_segments].start >= c->seg_len_ts / 4 &&
        (ret = write_held(c)) < 0) {
        goto done;
    }
    c->frames++;
    ret = av_write_frame(c->oc, pkt);
    ret = ret < 0 ? averr(ret) : 0;

done:
    av_packet_free(&pkt);
    if (ret < 0) {
        cir_log_error(&c->log, "packaging failed: %s", cir_strerror(ret));
    }
    return ret;
}

int
cir_cmaf_finish(cir_cmaf_t *c)
{
    int ret, runt;

    if (!c->open_segment) {
        return c->frames ? write_held(c) : CIR_EMEDIA;
    }
    /* a last segment under a quarter of the target joins the one before */
    runt = c->nb_segments > 0 &&
           c->end_pts - c->segments[c->nb_segments].start < c->seg_len_ts / 4;
    ret = close_segment(c, c->end_pts, runt);
    if (ret == 0) {
        ret = write_held(c);
    }
    if (ret == 0 && c->is_video && c->nb_iframes > 0 &&
        c->iframes[c->nb_iframes - 1].duration == 0) {
        c->iframes[c->nb_iframes - 1].duration =
            c->end_pts - c->iframes[c->nb_iframes - 1].start;
    }
    return ret;
}

void
cir_cmaf_info(const cir_cmaf_t *c, cir_cmaf_info_t *info)
{
    info->timescale = (uint32_t)c->st->time_base.den;
    info->segments = c->segments;
    info->nb_segments = c->nb_segments;
    info->iframes = c->iframes;
    info->nb_iframes = c->nb_iframes;
    info->frames = c->frames;
    info->duration = c->frames ? c->end_pts - FFMAX(c->first_pts, 0) : 0;
    info->total_bytes = c->total_bytes;
}

void
cir_cmaf_free(cir_cmaf_t **cp)
{
    cir_cmaf_t *c = *cp;

    if (c == NULL) {
        return;
    }
    if (c->oc) {
        if (c->oc->pb) {
            uint8_t *buf = NULL;
            avio_close_dyn_buf(c->oc->pb, &buf);
            av_free(buf);
            c->oc->pb = NULL;
        }
        avformat_free_context(c->oc);
    }
    cir_cenc_free(&c->cenc);
    OPENSSL_cleanse(c->aes_key, sizeof(c->aes_key));
    av_free(c->held);
    free(c->segments);
    free(c->iframes);
    free(c);
    *cp = NULL;
}
