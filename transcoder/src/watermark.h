/*
 * A job's watermark (cir_overlay.h) on the video rungs: the image read and
 * decoded once per job (a PNG or JPEG, locked down like an input), then
 * scaled once per rung size to 4:2:0 with alpha (the opacity folded into
 * it) and blended into every frame of that rung.
 *
 * Tested by tests/unit/test_transcoder_watermark.c and
 * tests/integration/job_options.test.mjs.
 */
#ifndef CIR_WATERMARK_H
#define CIR_WATERMARK_H

#include <stdatomic.h>
#include <stddef.h>

#include <libavutil/frame.h>

#include "cir_overlay.h"

/* Images larger than this on either side are refused. */
#define CIR_WATERMARK_MAX_SIDE 4096

typedef struct cir_watermark cir_watermark_t;
typedef struct cir_watermark_rung cir_watermark_rung_t;

/* Reads and decodes spec->image.  A missing or unreadable file, anything
 * but a PNG or JPEG, or one too large, fails with why naming the image. */
int cir_watermark_load(cir_watermark_t **out, const cir_overlay_t *spec,
                       const atomic_int *cancel, char *why, size_t why_len);
void cir_watermark_free(cir_watermark_t **w);

/* The image scaled and placed for frames of width x height. */
int cir_watermark_for_size(const cir_watermark_t *w, int width, int height,
                           cir_watermark_rung_t **out);
/* Where it goes on those frames (even offsets) and its size. */
void cir_watermark_rect(const cir_watermark_rung_t *r, int *x, int *y, int *w,
                        int *h);
/* Blends it into f (yuv420p of the size above, writable). */
void cir_watermark_blend(const cir_watermark_rung_t *r, AVFrame *f);
void cir_watermark_rung_free(cir_watermark_rung_t **r);

#endif
