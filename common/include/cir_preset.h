/*
 * Ladder presets: JSON documents in presets/ that say what a job produces.
 *
 * Every field has a default, a lower and an upper bound in one option table
 * (preset_options.c); a document that names an unknown field, gives a wrong
 * type or leaves a bound fails with a message naming the field, e.g.
 * "video.rungs[2].bitrate_kbps: 0 is below the minimum 16".
 *
 * This is the codec-neutral model: the codec, the encoder's speed preset,
 * a rung's profile and level are names checked here only for their shape
 * (1 to 15 of a-z 0-9 . _ -), the audio sample rate only for its range.
 * The transcoder resolves the defaults and checks them against the codecs
 * it has (transcoder/include/cir_preset_codecs.h): load presets meant for
 * encoding with cir_preset_codecs_load().
 */
#ifndef CIR_PRESET_H
#define CIR_PRESET_H

#include <stddef.h>

#include <jansson.h>

#define CIR_PRESET_MAX_RUNGS  16
#define CIR_PRESET_MAX_IMAGES 16
#define CIR_PRESET_MAX_SIZE   (256 * 1024) /* bytes of JSON */

typedef struct {
    char name[32];    /* folder name of the rendition, e.g. "720p" */
    int width;        /* 0: from height and the source aspect ratio */
    int height;       /* required */
    int bitrate_kbps; /* target average */
    int maxrate_kbps; /* 0: bitrate * 1.1 */
    int bufsize_kbps; /* 0: maxrate * 2 */
    char profile[16]; /* the codec's name for it; "" = its default */
    char level[8];    /* the codec's name for it; "" = the encoder's choice */
} cir_rung_t;

typedef struct {
    char name[64];
    char description[256];

    /* video */
    int video_enabled;
    char video_codec[16];    /* the codec's name; "" = the transcoder's
                              * default */
    char encoder_preset[16]; /* the encoder's speed preset; "" = the
                              * transcoder's default */
    double gop_seconds;      /* keyframe interval, same in every rung */
    double max_frame_rate;   /* the source rate is kept up to this */
    int nb_rungs;
    cir_rung_t rungs[CIR_PRESET_MAX_RUNGS];
    /* per-title ladders: a probe of sampled scenes chooses each rung's
     * rate (capped CRF, never above its bitrate) and drops rungs that add
     * nothing (transcoder/src/pertitle.h) */
    int per_title_enabled;
    double per_title_target_psnr_db; /* quality a rung need not exceed */
    int per_title_probe_scenes;
    double per_title_probe_scene_seconds;

    /* audio */
    int audio_enabled;
    int audio_bitrate_kbps;
    int audio_channels;
    int audio_sample_rate;
    /* a 5.1 rendition beside the AAC one, for sources of >= 6 channels */
    int surround_enabled;
    char surround_codec[16]; /* "eac3" or "ac3" (the transcoder checks) */
    int surround_bitrate_kbps;
    /* loudness normalisation: a standard's name ("ebu_r128", "atsc_a85")
     * or "" and an explicit target; after parsing target_lufs and
     * true_peak_db hold the resolved values, target_lufs 0 = off */
    char loudness_standard[16];
    double loudness_target_lufs;
    double loudness_true_peak_db;

    /* packaging */
    double segment_seconds; /* a multiple of gop_seconds */

    /* thumbnails */
    int thumbs_enabled;
    double thumb_interval; /* seconds between thumbnails */
    int thumb_width;       /* one sprite tile */
    int sprite_columns;
    int sprite_rows;
    int poster_width;

    /* still images */
    int images_enabled;
    int nb_image_widths;
    int image_widths[CIR_PRESET_MAX_IMAGES];
    int image_jpeg;   /* produce JPEG renditions */
    int image_webp;   /* produce WebP renditions */
    int jpeg_quality; /* 1..100 */
    int webp_quality; /* 1..100 */
} cir_preset_t;

/* Fills p with every default (a valid preset with no rungs). */
void cir_preset_defaults(cir_preset_t *p);

/*
 * Parses and validates a preset document (all but the codec rules: see
 * above).  On error returns a negative cir_err_t and writes a message
 * naming the field into err.
 */
int cir_preset_parse(const char *json, size_t len, cir_preset_t *p, char *err,
                     size_t errsize);
int cir_preset_load_file(const char *path, cir_preset_t *p, char *err,
                         size_t errsize);
/*
 * Loads dir/NAME.json.  NAME must match [a-z0-9_-]{1,63}: it comes from job
 * documents and S3 keys and must never name a path.
 */
int cir_preset_load(const char *dir, const char *name, cir_preset_t *p,
                    char *err, size_t errsize);

/*
 * A job's rung overrides (its "rungs"): an object whose keys name rungs of
 * p; null drops that rung, an object changes its fields by the same rules
 * as video.rungs[] (its name stays).  The result is checked like a whole
 * preset.  Errors name the field ("rungs.720p.bitrate_kbps: ..."), an
 * unknown name included; p changes only on success.
 */
int cir_preset_override_rungs(cir_preset_t *p, const json_t *rungs, char *err,
                              size_t errsize);

/* The target of a loudness standard: "ebu_r128" (EBU R 128: -23 LUFS,
 * -1 dBTP) or "atsc_a85" (ATSC A/85: -24 LKFS, -2 dBTP).  0 with the
 * values (either pointer may be NULL), CIR_EINVAL for any other name. */
int cir_preset_loudness_standard(const char *name, double *target_lufs,
                                 double *true_peak_db);

/* Writes the option table as help text (name, default, range, meaning). */
void cir_preset_print_help(void *stream);

/* The presets folder a program uses: configured when not empty, else
 * $CIRRUS_PRESETS_DIR when set and not empty, else the build's default
 * (the source tree's presets/). */
const char *cir_preset_dir(const char *configured);

/* What a job produces (a VOD job's "only", the CLI's --only). */
enum {
    CIR_ONLY_HLS = 1 << 0,
    CIR_ONLY_DASH = 1 << 1,
    CIR_ONLY_THUMBS = 1 << 2,
    CIR_ONLY_IMAGES = 1 << 3,
    CIR_ONLY_ALL = 0xf
};

/* Adds the CIR_ONLY_* bit of one word ("hls", "dash", "thumbs", "images")
 * of s[0, len) to *bits; CIR_EINVAL for any other word. */
int cir_only_add_word(const char *s, size_t len, unsigned *bits);
/* "hls,dash,thumbs,images" (one or more, no empty item) into *bits. */
int cir_only_parse(const char *list, unsigned *bits);

#endif
