/*
 * A VOD job's watermark ("overlay" in a job document): a PNG or JPEG
 * burned into every video rung at a corner or the centre, scaled to a
 * fraction of the rung's height, its alpha kept, with an opacity.
 *
 *   {"image": URI or path, "position": "bottom-right", "margin": 0.02,
 *    "height": 0.1, "opacity": 1.0}
 *
 * Pure: jansson only.  Tested by tests/unit/test_common_overlay.c.
 */
#ifndef CIR_OVERLAY_H
#define CIR_OVERLAY_H

#include <stddef.h>

#include <jansson.h>

#define CIR_OVERLAY_URI_MAX 4096

typedef enum {
    CIR_OVERLAY_BOTTOM_RIGHT = 0, /* the default */
    CIR_OVERLAY_BOTTOM_LEFT,
    CIR_OVERLAY_TOP_RIGHT,
    CIR_OVERLAY_TOP_LEFT,
    CIR_OVERLAY_CENTER
} cir_overlay_position_t;

typedef struct {
    int enabled;                     /* 0: no overlay */
    char image[CIR_OVERLAY_URI_MAX]; /* file:// or s3:// URI, or a path */
    cir_overlay_position_t position;
    double margin;  /* from the edges, a fraction of the rung's height */
    double height;  /* the image's height, a fraction of the rung's */
    double opacity; /* 0..1, times the image's own alpha */
} cir_overlay_t;

/* Parses a job's "overlay" object into *out (enabled); unknown fields,
 * wrong types and values out of range fail with CIR_EINVAL and a message
 * naming the field ("overlay.height: ...").  Defaults: bottom-right,
 * margin 0.02, height 0.1, opacity 1. */
int cir_overlay_parse(const json_t *v, cir_overlay_t *out, char *err,
                      size_t errsize);

/* The object again (every field), or NULL without one or on ENOMEM. */
json_t *cir_overlay_to_json(const cir_overlay_t *o);

/* "bottom-right", ... */
const char *cir_overlay_position_name(cir_overlay_position_t p);

#endif
