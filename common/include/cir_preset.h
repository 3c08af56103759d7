/*
 * Ladder presets: JSON documents in presets/ that say what a job produces.
 *
 * Every field has a default, a lower and an upper bound in one option table
 * (preset.c); a document that names an unknown field, gives a wrong type or
 * leaves a bound fails with a message naming the field, e.g.
 * "video.rungs[2].bitrate_kbps: 0 is below the minimum 16".
 */
#ifndef CIR_PRESET_H
#define CIR_PRESET_H

#include <stddef.h>

#define CIR_PRESET_MAX_RUNGS  16
#define CIR_PRESET_MAX_IMAGES 16
#define CIR_PRESET_MAX_SIZE   (256 * 1024) /* bytes of JSON */

typedef enum {
    CIR_VCODEC_H264 = 0,
    CIR_VCODEC_HEVC
} cir_vcodec_t;

typedef struct {
    char name[32];    /* folder name of the rendition, e.g. "720p" */
    int width;        /* 0: from height and the source aspect ratio */
    int height;       /* required */
    int bitrate_kbps; /* target average */
    int maxrate_kbps; /* 0: bitrate * 1.1 */
    int bufsize_kbps; /* 0: maxrate * 2 */
    char profile[16]; /* "" = the codec's default for the preset */
    char level[8];    /* "" = let the encoder choose */
} cir_rung_t;

typedef struct {
    char name[64];
    char description[256];

    /* video */
    int video_enabled;
    cir_vcodec_t video_codec;
    char encoder_preset[16]; /* x264/x265 speed preset, e.g. "veryfast" */
    double gop_seconds;      /* keyframe interval, same in every rung */
    double max_frame_rate;   /* the source rate is kept up to this */
    int nb_rungs;
    cir_rung_t rungs[CIR_PRESET_MAX_RUNGS];

    /* audio */
    int audio_enabled;
    int audio_bitrate_kbps;
    int audio_channels;
    int audio_sample_rate;

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
 * Parses and validates a preset document.  On error returns a negative
 * cir_err_t and writes a message naming the field into err.
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
