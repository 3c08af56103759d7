/*
 * Image renditions: an uploaded still (JPEG, PNG, WebP, …) becomes the
 * preset's widths in JPEG and/or WebP.  EXIF orientation is applied, alpha is
 * kept where the format allows (WebP) and flattened onto white for JPEG,
 * images are never upscaled, sizes keep the aspect ratio.
 *
 *   images/<width>.jpg, images/<width>.webp, images/manifest.json
 *
 * manifest.json lists every rendition (width, height, format, bytes, path)
 * and the source's size; it is written last and marks the set complete.
 */
#ifndef CIR_IMAGES_H
#define CIR_IMAGES_H

#include <stdatomic.h>

#include <libavformat/avformat.h>

#include "cir_preset.h"
#include "cir_storage.h"

/* What cir_images_probe_input() finds. */
enum {
    CIR_IMAGES_NOT_STILL = 0, /* the header names no image codec: ic is
                               * untouched, ready for the video path */
    CIR_IMAGES_STILL = 1,     /* a still, its stream info read (the probing
                               * decoders capped): ready for
                               * cir_images_run_input() */
    CIR_IMAGES_MOVING = 2     /* an image codec that is not a still (an
                               * MJPEG track): its stream info was read for a
                               * still, so ic is no input for the video path */
};

/* Is ic (cir_input_open(): its header read) a still image?  One of the
 * above, or < 0 when its stream info cannot be read (path: for the log). */
int cir_images_probe_input(AVFormatContext *ic, const char *path);

/* Returns 1 if the file at path is a still image (not video), 0 if not,
 * < 0 when it cannot be read (CIR_ECANCELED once *cancel is set; cancel
 * may be NULL). */
int cir_images_probe(const char *path, const atomic_int *cancel);
int cir_images_run(const char *input_path, const cir_preset_t *preset,
                   cir_store_t *store);
/* As cir_images_run into a published version's store, then the asset's
 * top-level images/manifest.json into top with every path prefixed by base
 * ("v/<version>/"), written last.  Reading the input stops once *cancel is
 * set (CIR_ECANCELED; cancel may be NULL). */
int cir_images_run_versioned(const char *input_path, const cir_preset_t *preset,
                             cir_store_t *store, cir_store_t *top,
                             const char *base, const atomic_int *cancel);
/* As cir_images_run_versioned on ic, found a still by
 * cir_images_probe_input() (the caller closes it); path names it in the
 * log and is read again only to size a still the probe could not. */
int cir_images_run_input(AVFormatContext *ic, const char *path,
                         const cir_preset_t *preset, cir_store_t *store,
                         cir_store_t *top, const char *base,
                         const atomic_int *cancel);

#endif
