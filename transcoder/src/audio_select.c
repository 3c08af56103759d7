/*
 * A VOD job's audio renditions: which source streams, their ids,
 * languages, names and the default.  See audio_select.h.
 *
 * Tested by tests/unit/test_transcoder_audio_select.c.
 */
#include "audio_select.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libavcodec/avcodec.h>
#include <libavutil/dict.h>

#include "cir_error.h"

/* The stream index of the source's n-th audio stream, or -1. */
static int
nth_audio(const AVFormatContext *ic, int n)
{
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        if (ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO &&
            n-- == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int
count_audio(const AVFormatContext *ic)
{
    int n = 0;

    while (nth_audio(ic, n) >= 0) {
        n++;
    }
    return n;
}

static const char *
tag(const AVStream *st, const char *key)
{
    const AVDictionaryEntry *e = av_dict_get(st->metadata, key, NULL, 0);

    return e ? e->value : NULL;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t
utf8_len(const unsigned char *s)
{
    size_t need, i;

    if (s[0] < 0x80) {
        return 1;
    }
    need = (s[0] & 0xe0) == 0xc0   ? 2
           : (s[0] & 0xf0) == 0xe0 ? 3
           : (s[0] & 0xf8) == 0xf0 ? 4
                                   : 0;
    for (i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return need;
}

/*
 * A metadata string (hostile: anything a muxer wrote) as a NAME: '"'
 * becomes '\'', control characters spaces, cut at a character boundary
 * to fit, spaces trimmed.  0 when nothing usable is left or the string is
 * not UTF-8.
 */
static int
clean_name(const char *in, char out[CIR_AUDIO_NAME_MAX])
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;

    while (p && *p == ' ') {
        p++;
    }
    while (p && *p) {
        size_t len = utf8_len(p);
        if (len == 0) {
            return 0;
        }
        if (n + len >= CIR_AUDIO_NAME_MAX) {
            break;
        }
        memcpy(out + n, p, len);
        if (len == 1 && (*p < 0x20 || *p == 0x7f)) {
            out[n] = ' ';
        } else if (len == 1 && *p == '"') {
            out[n] = '\'';
        }
        n += len;
        p += len;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
    return n > 0;
}

/* Muxers name the track's handler ("SoundHandler", "Core Media Audio",
 * "GPAC ISO Audio Handler"): not a name for a viewer. */
static int
generic_handler(const char *s)
{
    static const char *const words[] = {"handler", "sound", "audio", "media",
                                        "track"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        for (const char *p = s; *p; p++) {
            if (strncasecmp(p, words[i], strlen(words[i])) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static void
pick_language(const AVStream *st, const cir_audio_track_t *req,
              cir_audio_choice_t *c)
{
    if (req && req->language[0]) {
        snprintf(c->language, sizeof(c->language), "%s", req->language);
    } else {
        cir_language_from_source(tag(st, "language"), c->language);
    }
}

static int
name_taken(const cir_audio_choice_t *out, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The job's name, the title, a real handler name, the language's name,
 * "Audio N"; made unique with " (N)" (NAME is unique in a group). */
static void
pick_name(const AVStream *st, const cir_audio_track_t *req,
          cir_audio_choice_t *out, size_t n)
{
    cir_audio_choice_t *c = &out[n];
    const char *handler = tag(st, "handler_name"), *lang;
    char base[CIR_AUDIO_NAME_MAX];

    if (req && req->name[0]) {
        snprintf(base, sizeof(base), "%s", req->name);
    } else if (clean_name(tag(st, "title"), base)) {
        /* the title */
    } else if (handler && !generic_handler(handler) &&
               clean_name(handler, base)) {
        /* a handler name that names something */
    } else if ((lang = cir_language_name(c->language)) != NULL) {
        snprintf(base, sizeof(base), "%s", lang);
    } else {
        snprintf(base, sizeof(base), "Audio %zu", n + 1);
    }
    snprintf(c->name, sizeof(c->name), "%s", base);
    if (name_taken(out, n, c->name)) {
        char suffix[16];
        int len = snprintf(suffix, sizeof(suffix), " (%zu)", n + 1);
        size_t keep = strlen(base);
        if (keep + (size_t)len >= sizeof(c->name)) {
            keep = sizeof(c->name) - 1 - (size_t)len;
            while (keep > 0 && ((unsigned char)base[keep] & 0xc0) == 0x80) {
                keep--; /* not inside a UTF-8 sequence */
            }
        }
        snprintf(c->name, sizeof(c->name), "%.*s%s", (int)keep, base, suffix);
    }
}

/* The job's default, else (every stream chosen) the source's default
 * disposition, else the first. */
static void
pick_default(const AVFormatContext *ic, const cir_audio_tracks_t *sel,
             cir_audio_choice_t *out, size_t n)
{
    size_t i, pick = 0;

    for (i = 0; i < n; i++) {
        if (sel && sel->nb > 0) {
            if (sel->tracks[i].is_default) {
                pick = i;
                break;
            }
        } else if (ic->streams[out[i].stream]->disposition &
                   AV_DISPOSITION_DEFAULT) {
            pick = i;
            break;
        }
    }
    if (n > 0) {
        out[pick].is_default = 1;
    }
}

static void
fill_choice(const AVFormatContext *ic, const cir_audio_track_t *req, int stream,
            int source, cir_audio_choice_t *out, size_t n)
{
    cir_audio_choice_t *c = &out[n];

    memset(c, 0, sizeof(*c));
    c->stream = stream;
    c->source = source;
    c->requested = req != NULL;
    if (n == 0) {
        snprintf(c->id, sizeof(c->id), "audio");
    } else {
        snprintf(c->id, sizeof(c->id), "audio-%zu", n + 1);
    }
    pick_language(ic->streams[stream], req, c);
    pick_name(ic->streams[stream], req, out, n);
}

static int
decodable(const AVStream *st)
{
    return avcodec_find_decoder(st->codecpar->codec_id) != NULL;
}

/* The job's tracks, each checked against the source. */
static int
choose_requested(const AVFormatContext *ic, const cir_audio_tracks_t *sel,
                 cir_audio_choice_t *out, char *err, size_t errsize)
{
    int have = count_audio(ic);

    for (size_t i = 0; i < sel->nb; i++) {
        int source = sel->tracks[i].index, stream = nth_audio(ic, source);
        if (stream < 0) {
            snprintf(err, errsize,
                     "audio_tracks[%zu].index: %d, but the source has %d "
                     "audio stream%s",
                     i, source, have, have == 1 ? "" : "s");
            return CIR_EINVAL;
        }
        if (!decodable(ic->streams[stream])) {
            snprintf(err, errsize,
                     "audio_tracks[%zu].index: audio stream %d is %s, which "
                     "cannot be decoded",
                     i, source,
                     avcodec_get_name(ic->streams[stream]->codecpar->codec_id));
            return CIR_EINVAL;
        }
        fill_choice(ic, &sel->tracks[i], stream, source, out, i);
    }
    return (int)sel->nb;
}

/* Every decodable audio stream, in source order, up to the maximum. */
static int
choose_all(const AVFormatContext *ic, cir_audio_choice_t *out)
{
    size_t n = 0;

    for (int source = 0, stream; (stream = nth_audio(ic, source)) >= 0;
         source++) {
        if (n < CIR_AUDIO_TRACKS_MAX && decodable(ic->streams[stream])) {
            fill_choice(ic, NULL, stream, source, out, n++);
        }
    }
    return (int)n;
}

static const cir_audio_choice_t *
chosen(const cir_audio_choice_t *out, int n, int source)
{
    for (int i = 0; i < n; i++) {
        if (out[i].source == source) {
            return &out[i];
        }
    }
    return NULL;
}

/* One line per source audio stream: what became of it. */
static void
log_choices(const AVFormatContext *ic, const cir_audio_tracks_t *sel,
            int enabled, const cir_audio_choice_t *out, int n,
            const cir_log_ctx_t *log)
{
    for (int source = 0, stream; (stream = nth_audio(ic, source)) >= 0;
         source++) {
        const AVStream *st = ic->streams[stream];
        const char *codec = avcodec_get_name(st->codecpar->codec_id);
        const char *lang = tag(st, "language");
        const cir_audio_choice_t *c = chosen(out, n, source);
        const char *why = !enabled             ? "no audio output"
                          : sel && sel->nb > 0 ? "not in audio_tracks"
                          : !decodable(st)     ? "no decoder"
                                               : NULL;
        if (c != NULL) {
            cir_log_info(log,
                         "audio stream %d (%s, language %s): rendition %s, "
                         "language %s, name \"%s\"%s",
                         source, codec, lang ? lang : "none", c->id,
                         c->language, c->name,
                         c->is_default ? ", default" : "");
        } else {
            char limit[48];
            snprintf(limit, sizeof(limit), "at most %d audio renditions",
                     CIR_AUDIO_TRACKS_MAX);
            cir_log_warn(log, "audio stream %d (%s, language %s): dropped (%s)",
                         source, codec, lang ? lang : "none",
                         why ? why : limit);
        }
    }
}

int
cir_audio_choose(const AVFormatContext *ic, const cir_audio_tracks_t *sel,
                 int enabled, const cir_log_ctx_t *log,
                 cir_audio_choice_t out[CIR_AUDIO_TRACKS_MAX], char *err,
                 size_t errsize)
{
    int n = 0;

    if (enabled && sel && sel->nb > 0) {
        if ((n = choose_requested(ic, sel, out, err, errsize)) < 0) {
            return n;
        }
    } else if (enabled) {
        n = choose_all(ic, out);
    }
    pick_default(ic, sel, out, (size_t)n);
    log_choices(ic, sel, enabled, out, n, log);
    return n;
}
