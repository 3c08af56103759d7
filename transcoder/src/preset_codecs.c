/* The codec rules of presets (cir_preset_codecs.h). */
#include "cir_preset_codecs.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cir_error.h"

#define NB(a) (sizeof(a) / sizeof((a)[0]))

static const char *const vcodecs[] = {"h264", "hevc", NULL};
static const char *const speed_presets[] = {
    "ultrafast", "superfast", "veryfast", "faster",   "fast",
    "medium",    "slow",      "slower",   "veryslow", NULL};
static const char *const h264_profiles[] = {"baseline", "main", "high", NULL};
static const char *const hevc_profiles[] = {"main", "main10", NULL};
/* FFmpeg's encoders for the 5.1 rendition (E-AC-3, AC-3) */
static const char *const surround_codecs[] = {"eac3", "ac3", NULL};
static const int aac_rates[] = {8000,  11025, 12000, 16000, 22050, 24000,
                                32000, 44100, 48000, 64000, 88200, 96000};

#define DEFAULT_VCODEC CIR_VCODEC_H264
#define DEFAULT_SPEED  "veryfast"

static int seterr(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
seterr(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errsize > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
    return CIR_EINVAL;
}

static int
choice_index(const char *const *choices, const char *s)
{
    for (int i = 0; choices[i] != NULL; i++) {
        if (strcmp(choices[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static void
join_choices(const char *const *choices, char *out, size_t size)
{
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; choices[i] != NULL && n < size; i++) {
        int w = snprintf(out + n, size - n, "%s%s", i ? ", " : "", choices[i]);
        if (w < 0) {
            break;
        }
        n += (size_t)w;
    }
}

/* s (common checked its shape: printable) is one of choices, or "" where a
 * default applies. */
static int
check_choice(const char *field, const char *s, const char *const *choices,
             int empty_ok, char *err, size_t errsize)
{
    char list[256];

    if ((s[0] == '\0' && empty_ok) || choice_index(choices, s) >= 0) {
        return 0;
    }
    join_choices(choices, list, sizeof(list));
    return seterr(err, errsize, "%s: \"%s\" is not one of %s", field, s, list);
}

/* "3", "4.1", "5.2": an H.264/HEVC level as the encoders take it. */
static int
level_is_valid(const char *s)
{
    if (s[0] == '\0') {
        return 1;
    }
    if (s[0] < '1' || s[0] > '6') {
        return 0;
    }
    if (s[1] == '\0') {
        return 1;
    }
    return s[1] == '.' && s[2] >= '0' && s[2] <= '9' && s[3] == '\0';
}

static int
check_rungs(const cir_preset_t *p, char *err, size_t errsize)
{
    cir_vcodec_t codec = cir_preset_vcodec(p);
    const char *const *allowed =
        codec == CIR_VCODEC_HEVC ? hevc_profiles : h264_profiles;
    char list[128];

    for (int i = 0; i < p->nb_rungs; i++) {
        const cir_rung_t *r = &p->rungs[i];

        if (r->profile[0] && choice_index(allowed, r->profile) < 0) {
            join_choices(allowed, list, sizeof(list));
            return seterr(err, errsize,
                          "video.rungs[%d].profile: \"%s\" is not a %s "
                          "profile (%s)",
                          i, r->profile, cir_preset_vcodec_name(codec), list);
        }
        if (!level_is_valid(r->level)) {
            return seterr(err, errsize,
                          "video.rungs[%d].level: \"%s\" must look like 3, "
                          "4.1 or 5.2",
                          i, r->level);
        }
    }
    return 0;
}

static int
check_audio(const cir_preset_t *p, char *err, size_t errsize)
{
    for (size_t i = 0; i < NB(aac_rates); i++) {
        if (aac_rates[i] == p->audio_sample_rate) {
            return 0;
        }
    }
    return seterr(err, errsize,
                  "audio.sample_rate: %d is not an AAC sample rate (8000, "
                  "11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, "
                  "64000, 88200, 96000)",
                  p->audio_sample_rate);
}

/* The probe and the capped CRF are x264's (pertitle.c). */
static int
check_per_title(const cir_preset_t *p, char *err, size_t errsize)
{
    if (p->per_title_enabled && cir_preset_vcodec(p) != CIR_VCODEC_H264) {
        return seterr(err, errsize,
                      "video.per_title.enabled: per-title ladders are for "
                      "h264 only, not %s",
                      p->video_codec);
    }
    return 0;
}

int
cir_preset_codecs_check(const cir_preset_t *p, char *err, size_t errsize)
{
    int ret;

    if (p == NULL) {
        return seterr(err, errsize, "invalid argument");
    }
    if ((ret = check_choice("video.codec", p->video_codec, vcodecs, 1, err,
                            errsize)) < 0 ||
        (ret = check_choice("video.encoder_preset", p->encoder_preset,
                            speed_presets, 1, err, errsize)) < 0 ||
        (ret = check_rungs(p, err, errsize)) < 0 ||
        (ret = check_per_title(p, err, errsize)) < 0 ||
        (ret = check_audio(p, err, errsize)) < 0 ||
        (ret = check_choice("audio.surround.codec", p->surround_codec,
                            surround_codecs, 0, err, errsize)) < 0) {
        return ret;
    }
    return 0;
}

int
cir_preset_codecs_resolve(cir_preset_t *p, char *err, size_t errsize)
{
    int ret;

    if ((ret = cir_preset_codecs_check(p, err, errsize)) < 0) {
        return ret;
    }
    if (p->video_codec[0] == '\0') {
        snprintf(p->video_codec, sizeof(p->video_codec), "%s",
                 cir_preset_vcodec_name(DEFAULT_VCODEC));
    }
    if (p->encoder_preset[0] == '\0') {
        snprintf(p->encoder_preset, sizeof(p->encoder_preset), "%s",
                 DEFAULT_SPEED);
    }
    return 0;
}

int
cir_preset_codecs_parse(const char *json, size_t len, cir_preset_t *p,
                        char *err, size_t errsize)
{
    cir_preset_t tmp;
    int ret;

    if (p == NULL) {
        return seterr(err, errsize, "invalid argument");
    }
    if ((ret = cir_preset_parse(json, len, &tmp, err, errsize)) < 0 ||
        (ret = cir_preset_codecs_resolve(&tmp, err, errsize)) < 0) {
        return ret;
    }
    *p = tmp; /* p changes only when the whole document is good */
    return 0;
}

int
cir_preset_codecs_load(const char *dir, const char *name, cir_preset_t *p,
                       char *err, size_t errsize)
{
    cir_preset_t tmp;
    char msg[512];
    int ret;

    if (p == NULL) {
        return seterr(err, errsize, "invalid argument");
    }
    if ((ret = cir_preset_load(dir, name, &tmp, err, errsize)) < 0) {
        return ret;
    }
    msg[0] = '\0';
    if ((ret = cir_preset_codecs_resolve(&tmp, msg, sizeof(msg))) < 0) {
        return seterr(err, errsize, "%s/%s.json: %s", dir, name, msg);
    }
    *p = tmp;
    return 0;
}

cir_vcodec_t
cir_preset_vcodec(const cir_preset_t *p)
{
    int i = choice_index(vcodecs, p->video_codec);

    return i < 0 ? DEFAULT_VCODEC : (cir_vcodec_t)i;
}

const char *
cir_preset_vcodec_name(cir_vcodec_t codec)
{
    return (size_t)codec < NB(vcodecs) - 1 ? vcodecs[codec]
                                           : vcodecs[DEFAULT_VCODEC];
}

const char *
cir_preset_encoder_speed(const cir_preset_t *p)
{
    return p->encoder_preset[0] != '\0' ? p->encoder_preset : DEFAULT_SPEED;
}

void
cir_preset_codecs_print_help(void *stream)
{
    FILE *f = stream != NULL ? stream : stdout;
    char list[256];

    cir_preset_print_help(f);
    fprintf(f, "\nCodec rules (checked by the transcoder):\n");
    join_choices(vcodecs, list, sizeof(list));
    fprintf(f, "  %-34s default \"%s\"; %s\n", "video.codec",
            cir_preset_vcodec_name(DEFAULT_VCODEC), list);
    join_choices(speed_presets, list, sizeof(list));
    fprintf(f, "  %-34s default \"%s\"; x264/x265: %s\n",
            "video.encoder_preset", DEFAULT_SPEED, list);
    join_choices(h264_profiles, list, sizeof(list));
    fprintf(f, "  %-34s h264: %s;", "video.rungs[].profile", list);
    join_choices(hevc_profiles, list, sizeof(list));
    fprintf(f, " hevc: %s; \"\": the codec's default\n", list);
    fprintf(f,
            "  %-34s e.g. \"3\", \"4.1\", \"5.2\"; \"\": the encoder's "
            "choice\n",
            "video.rungs[].level");
    fprintf(f,
            "  %-34s an AAC rate: 8000, 11025, 12000, 16000, 22050, "
            "24000, 32000, 44100, 48000, 64000, 88200, 96000\n",
            "audio.sample_rate");
    join_choices(surround_codecs, list, sizeof(list));
    fprintf(f, "  %-34s %s (E-AC-3, AC-3), 48000 Hz 5.1\n",
            "audio.surround.codec", list);
}
