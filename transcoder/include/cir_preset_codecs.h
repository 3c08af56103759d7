/*
 * The codec rules of presets, kept where the codecs live.
 *
 * common/ parses a preset into its codec-neutral model (cir_preset.h); here
 * its codec names get their meaning: the video codec (h264, hevc; default
 * h264), the x264/x265 speed preset (default veryfast), each rung's profile
 * (h264: baseline, main, high; hevc: main, main10) and level ("3", "4.1",
 * "5.2"), and the AAC sample rates.  Messages name the field like common's:
 * "video.rungs[0].profile: \"high\" is not a hevc profile (main, main10)".
 */
#ifndef CIR_PRESET_CODECS_H
#define CIR_PRESET_CODECS_H

#include <stddef.h>

#include "cir_preset.h"

typedef enum {
    CIR_VCODEC_H264 = 0,
    CIR_VCODEC_HEVC
} cir_vcodec_t;

/* 0 when every codec name of p means something to the transcoder ("" where
 * a default applies), else CIR_EINVAL with the field and the choices in
 * err. */
int cir_preset_codecs_check(const cir_preset_t *p, char *err, size_t errsize);
/* cir_preset_codecs_check(), then the defaults written into p (the codec,
 * the speed preset), so p says what will be encoded. */
int cir_preset_codecs_resolve(cir_preset_t *p, char *err, size_t errsize);
/* cir_preset_parse() + cir_preset_codecs_resolve(). */
int cir_preset_codecs_parse(const char *json, size_t len, cir_preset_t *p,
                            char *err, size_t errsize);
/* cir_preset_load() + cir_preset_codecs_resolve(); a codec error names the
 * file like a parse error ("<dir>/<name>.json: video.codec: ..."). */
int cir_preset_codecs_load(const char *dir, const char *name, cir_preset_t *p,
                           char *err, size_t errsize);

/* The video codec and speed preset of a checked preset (its defaults when
 * unset). */
cir_vcodec_t cir_preset_vcodec(const cir_preset_t *p);
const char *cir_preset_vcodec_name(cir_vcodec_t codec);
const char *cir_preset_encoder_speed(const cir_preset_t *p);

/* common's field table (cir_preset_print_help), then the codec rules. */
void cir_preset_codecs_print_help(void *stream);

#endif
