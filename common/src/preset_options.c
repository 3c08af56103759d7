/* The preset option table: every field's JSON path, type, default, bounds,
 * name checks and help text, and the help printed from it. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cir_preset.h"
#include "preset_options.h"

#define NB(a) (sizeof(a) / sizeof((a)[0]))

int
preset_name_matches(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-')) {
            return 0;
        }
    }
    return n >= 1 && n <= max;
}

static const char *
check_rung_name(const char *s)
{
    return preset_name_matches(s, 31) ? NULL : "must be 1 to 31 of a-z 0-9 _ -";
}

static const char *
check_preset_name(const char *s)
{
    return preset_name_matches(s, 63) ? NULL : "must be 1 to 63 of a-z 0-9 _ -";
}

/* A codec-side name (codec, speed preset, profile, level): 1 to 15 of
 * a-z 0-9 . _ -, so it is safe in a message and an encoder option; which
 * names mean something is the transcoder's to say. */
static int
is_codec_token(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-')) {
            return 0;
        }
    }
    return n >= 1 && n <= 15;
}

static const char *
check_codec_token(const char *s)
{
    return is_codec_token(s) ? NULL : "must be 1 to 15 of a-z 0-9 . _ -";
}

/* The same, or "" (the encoder's own choice). */
static const char *
check_codec_token_or_empty(const char *s)
{
    return s[0] == '\0' || is_codec_token(s)
               ? NULL
               : "must be \"\" or 1 to 15 of a-z 0-9 . _ -";
}

/* The loudness standards a preset may name (cir_preset_loudness_standard). */
static const char *
check_loudness_standard(const char *s)
{
    return s[0] == '\0' || cir_preset_loudness_standard(s, NULL, NULL) == 0
               ? NULL
               : "is not one of \"ebu_r128\", \"atsc_a85\" (or \"\": none)";
}

#define R(f) offsetof(cir_rung_t, f)
#define P(f) offsetof(cir_preset_t, f)

static const opt_t rung_options[] = {
    {.path = "name",
     .type = OPT_STRING,
     .offset = R(name),
     .size = sizeof(((cir_rung_t *)0)->name),
     .flags = F_REQUIRED,
     .check = check_rung_name,
     .help = "rendition folder name, unique, [a-z0-9_-]{1,31}"},
    {.path = "width",
     .type = OPT_INT,
     .offset = R(width),
     .def = 0,
     .min = 16,
     .max = 7680,
     .flags = F_ZERO_OK,
     .help = "pixels, even; 0: from height and the source aspect ratio"},
    {.path = "height",
     .type = OPT_INT,
     .offset = R(height),
     .min = 16,
     .max = 4320,
     .flags = F_REQUIRED,
     .help = "pixels, even"},
    {.path = "bitrate_kbps",
     .type = OPT_INT,
     .offset = R(bitrate_kbps),
     .min = 16,
     .max = 100000,
     .flags = F_REQUIRED,
     .help = "target average video bitrate"},
    {.path = "maxrate_kbps",
     .type = OPT_INT,
     .offset = R(maxrate_kbps),
     .def = 0,
     .min = 16,
     .max = 200000,
     .flags = F_ZERO_OK,
     .help = "peak bitrate, >= bitrate_kbps; 0: bitrate * 1.1"},
    {.path = "bufsize_kbps",
     .type = OPT_INT,
     .offset = R(bufsize_kbps),
     .def = 0,
     .min = 16,
     .max = 400000,
     .flags = F_ZERO_OK,
     .help = "VBV buffer; 0: maxrate * 2"},
    {.path = "profile",
     .type = OPT_STRING,
     .offset = R(profile),
     .size = sizeof(((cir_rung_t *)0)->profile),
     .def_str = "",
     .check = check_codec_token_or_empty,
     .help = "the codec's profile (the transcoder checks it); \"\": default"},
    {.path = "level",
     .type = OPT_STRING,
     .offset = R(level),
     .size = sizeof(((cir_rung_t *)0)->level),
     .def_str = "",
     .check = check_codec_token_or_empty,
     .help = "the codec's level (the transcoder checks it); \"\": the "
             "encoder's choice"},
};

static const opt_t width_option[] = {
    {.path = "",
     .type = OPT_INT,
     .offset = 0,
     .min = 16,
     .max = 7680,
     .help = "pixels"},
};

const opt_t preset_options[] = {
    {.path = "name",
     .type = OPT_STRING,
     .offset = P(name),
     .size = sizeof(((cir_preset_t *)0)->name),
     .def_str = "",
     .check = check_preset_name,
     .help = "the preset's name, the file name without .json"},
    {.path = "description",
     .type = OPT_STRING,
     .offset = P(description),
     .size = sizeof(((cir_preset_t *)0)->description),
     .def_str = "",
     .help = "one line for people"},

    {.path = "video.enabled",
     .type = OPT_BOOL,
     .offset = P(video_enabled),
     .def = 1,
     .help = "produce video renditions"},
    {.path = "video.codec",
     .type = OPT_STRING,
     .offset = P(video_codec),
     .size = sizeof(((cir_preset_t *)0)->video_codec),
     .def_str = "",
     .check = check_codec_token,
     .help = "video codec (the transcoder checks it); unset: its default"},
    {.path = "video.encoder_preset",
     .type = OPT_STRING,
     .offset = P(encoder_preset),
     .size = sizeof(((cir_preset_t *)0)->encoder_preset),
     .def_str = "",
     .check = check_codec_token,
     .help = "the encoder's speed preset (the transcoder checks it); unset: "
             "its default"},
    {.path = "video.gop_seconds",
     .type = OPT_DOUBLE,
     .offset = P(gop_seconds),
     .def = 2,
     .min = 0.5,
     .max = 10,
     .help = "keyframe interval, the same in every rung"},
    {.path = "video.max_frame_rate",
     .type = OPT_DOUBLE,
     .offset = P(max_frame_rate),
     .def = 60,
     .min = 1,
     .max = 120,
     .help = "the source frame rate is kept up to this"},
    {.path = "video.rungs",
     .type = OPT_ARRAY,
     .offset = P(rungs),
     .max = CIR_PRESET_MAX_RUNGS,
     .elem = rung_options,
     .nb_elem = NB(rung_options),
     .elem_size = sizeof(cir_rung_t),
     .count_offset = P(nb_rungs),
     .help = "the ladder, 1 to 16 rungs when video is enabled"},
    {.path = "video.per_title.enabled",
     .type = OPT_BOOL,
     .offset = P(per_title_enabled),
     .def = 0,
     .help = "per-title ladder: a probe chooses each rung's rate (capped "
             "CRF, never above bitrate_kbps) and drops rungs that add "
             "nothing"},
    {.path = "video.per_title.target_psnr_db",
     .type = OPT_DOUBLE,
     .offset = P(per_title_target_psnr_db),
     .def = 45,
     .min = 30,
     .max = 60,
     .help = "PSNR a rung need not exceed: bits above it are saved"},
    {.path = "video.per_title.probe_scenes",
     .type = OPT_INT,
     .offset = P(per_title_probe_scenes),
     .def = 4,
     .min = 1,
     .max = 16,
     .help = "scenes the probe samples, spread over the source"},
    {.path = "video.per_title.probe_scene_seconds",
     .type = OPT_DOUBLE,
     .offset = P(per_title_probe_scene_seconds),
     .def = 0.5,
     .min = 0.1,
     .max = 10,
     .help = "seconds of each sampled scene"},

    {.path = "audio.enabled",
     .type = OPT_BOOL,
     .offset = P(audio_enabled),
     .def = 1,
     .help = "produce an audio rendition"},
    {.path = "audio.bitrate_kbps",
     .type = OPT_INT,
     .offset = P(audio_bitrate_kbps),
     .def = 128,
     .min = 16,
     .max = 512,
     .help = "audio bitrate"},
    {.path = "audio.channels",
     .type = OPT_INT,
     .offset = P(audio_channels),
     .def = 2,
     .min = 1,
     .max = 8,
     .help = "output channels"},
    {.path = "audio.sample_rate",
     .type = OPT_INT,
     .offset = P(audio_sample_rate),
     .def = 48000,
     .min = 8000,
     .max = 96000,
     .help = "Hz, one the audio codec takes (the transcoder checks it)"},
    {.path = "audio.surround.enabled",
     .type = OPT_BOOL,
     .offset = P(surround_enabled),
     .def = 0,
     .help = "also a 5.1 rendition of each source track of >= 6 channels"},
    {.path = "audio.surround.codec",
     .type = OPT_STRING,
     .offset = P(surround_codec),
     .size = sizeof(((cir_preset_t *)0)->surround_codec),
     .def_str = "eac3",
     .check = check_codec_token,
     .help = "the 5.1 codec (the transcoder checks it): eac3 or ac3"},
    {.path = "audio.surround.bitrate_kbps",
     .type = OPT_INT,
     .offset = P(surround_bitrate_kbps),
     .def = 384,
     .min = 96,
     .max = 640,
     .help = "the 5.1 rendition's bitrate"},
    {.path = "audio.loudness.standard",
     .type = OPT_STRING,
     .offset = P(loudness_standard),
     .size = sizeof(((cir_preset_t *)0)->loudness_standard),
     .def_str = "",
     .check = check_loudness_standard,
     .help = "normalise to ebu_r128 (-23 LUFS, -1 dBTP) or atsc_a85 (-24 "
             "LKFS, -2 dBTP); \"\": none, or target_lufs"},
    {.path = "audio.loudness.target_lufs",
     .type = OPT_DOUBLE,
     .offset = P(loudness_target_lufs),
     .def = 0,
     .min = -40,
     .max = -5,
     .flags = F_ZERO_OK,
     .help = "integrated loudness to normalise to; 0: the standard's, or "
             "off without one"},
    {.path = "audio.loudness.true_peak_db",
     .type = OPT_DOUBLE,
     .offset = P(loudness_true_peak_db),
     .def = 0,
     .min = -9,
     .max = -0.1,
     .flags = F_ZERO_OK,
     .help = "true-peak ceiling, dBTP; 0: the standard's, else -1"},

    {.path = "segment_seconds",
     .type = OPT_DOUBLE,
     .offset = P(segment_seconds),
     .def = 6,
     .min = 1,
     .max = 30,
     .help = "segment duration, a whole multiple of video.gop_seconds"},

    {.path = "thumbnails.enabled",
     .type = OPT_BOOL,
     .offset = P(thumbs_enabled),
     .def = 1,
     .help = "produce a poster, thumbnails, sprite sheets and WebVTT"},
    {.path = "thumbnails.interval_seconds",
     .type = OPT_DOUBLE,
     .offset = P(thumb_interval),
     .def = 5,
     .min = 0.5,
     .max = 600,
     .help = "seconds between thumbnails"},
    {.path = "thumbnails.width",
     .type = OPT_INT,
     .offset = P(thumb_width),
     .def = 160,
     .min = 16,
     .max = 1920,
     .help = "one sprite tile, pixels"},
    {.path = "thumbnails.sprite_columns",
     .type = OPT_INT,
     .offset = P(sprite_columns),
     .def = 10,
     .min = 1,
     .max = 100,
     .help = "tiles across; columns * rows <= 400"},
    {.path = "thumbnails.sprite_rows",
     .type = OPT_INT,
     .offset = P(sprite_rows),
     .def = 10,
     .min = 1,
     .max = 100,
     .help = "tiles down"},
    {.path = "thumbnails.poster_width",
     .type = OPT_INT,
     .offset = P(poster_width),
     .def = 1280,
     .min = 16,
     .max = 7680,
     .help = "poster image width, pixels"},

    {.path = "images.enabled",
     .type = OPT_BOOL,
     .offset = P(images_enabled),
     .def = 1,
     .help = "produce still-image renditions of image inputs"},
    {.path = "images.widths",
     .type = OPT_ARRAY,
     .offset = P(image_widths),
     .max = CIR_PRESET_MAX_IMAGES,
     .elem = width_option,
     .nb_elem = NB(width_option),
     .elem_size = sizeof(int),
     .count_offset = P(nb_image_widths),
     .help = "widths to produce, unique, at most 16"},
    {.path = "images.jpeg",
     .type = OPT_BOOL,
     .offset = P(image_jpeg),
     .def = 1,
     .help = "produce JPEG renditions"},
    {.path = "images.webp",
     .type = OPT_BOOL,
     .offset = P(image_webp),
     .def = 1,
     .help = "produce WebP renditions"},
    {.path = "images.jpeg_quality",
     .type = OPT_INT,
     .offset = P(jpeg_quality),
     .def = 85,
     .min = 1,
     .max = 100,
     .help = "JPEG quality"},
    {.path = "images.webp_quality",
     .type = OPT_INT,
     .offset = P(webp_quality),
     .def = 80,
     .min = 1,
     .max = 100,
     .help = "WebP quality"},
};

#undef R
#undef P

const size_t preset_nb_options = NB(preset_options);

/* ---- help ---- */

static void
print_option(FILE *f, const opt_t *o, const char *prefix)
{
    char name[96], def[40], range[128];

    snprintf(name, sizeof(name), "%s%s%s", prefix,
             prefix[0] && o->path[0] ? "." : "", o->path);
    def[0] = '\0';
    range[0] = '\0';
    switch (o->type) {
    case OPT_INT:
    case OPT_DOUBLE:
        if (o->flags & F_REQUIRED) {
            snprintf(def, sizeof(def), "(required)");
        } else if (o->path[0] == '\0') {
            snprintf(def, sizeof(def), "-"); /* an array element */
        } else {
            snprintf(def, sizeof(def), "%g", o->def);
        }
        snprintf(range, sizeof(range), "%s%g..%g",
                 (o->flags & F_ZERO_OK) ? "0 or " : "", o->min, o->max);
        break;
    case OPT_BOOL:
        snprintf(def, sizeof(def), "%s", o->def ? "true" : "false");
        snprintf(range, sizeof(range), "true|false");
        break;
    case OPT_STRING:
        if (o->flags & F_REQUIRED) {
            snprintf(def, sizeof(def), "(required)");
        } else {
            snprintf(def, sizeof(def), "\"%s\"", o->def_str ? o->def_str : "");
        }
        snprintf(range, sizeof(range), "string, < %zu chars", o->size);
        break;
    case OPT_ARRAY:
        snprintf(def, sizeof(def), "[]");
        snprintf(range, sizeof(range), "0..%g entries", o->max);
        break;
    }
    fprintf(f, "  %-34s %-12s %-22s %s\n", name, def, range, o->help);
    if (o->type == OPT_ARRAY) {
        char elem_prefix[100];
        snprintf(elem_prefix, sizeof(elem_prefix), "%s[]", name);
        for (size_t i = 0; i < o->nb_elem; i++) {
            print_option(f, &o->elem[i], elem_prefix);
        }
    }
}

void
cir_preset_print_help(void *stream)
{
    FILE *f = stream ? stream : stdout;

    fprintf(f, "Preset fields (JSON path, default, range, meaning):\n");
    for (size_t i = 0; i < preset_nb_options; i++) {
        print_option(f, &preset_options[i], "");
    }
}
