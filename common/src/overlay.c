/*
 * A job's watermark. See cir_overlay.h.
 *
 * Tested by tests/unit/test_common_overlay.c.
 */
#include "cir_overlay.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cir_error.h"

static const char *const position_names[] = {
    [CIR_OVERLAY_BOTTOM_RIGHT] = "bottom-right",
    [CIR_OVERLAY_BOTTOM_LEFT] = "bottom-left",
    [CIR_OVERLAY_TOP_RIGHT] = "top-right",
    [CIR_OVERLAY_TOP_LEFT] = "top-left",
    [CIR_OVERLAY_CENTER] = "center",
};
#define NB_POSITIONS (sizeof(position_names) / sizeof(position_names[0]))

const char *
cir_overlay_position_name(cir_overlay_position_t p)
{
    return (size_t)p < NB_POSITIONS ? position_names[p] : "?";
}

static int
parse_image(const json_t *v, cir_overlay_t *o, char *err, size_t errsize)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);

    if (s == NULL || len == 0 || strlen(s) != len) {
        snprintf(err, errsize,
                 "overlay.image: expected a URI or path of a PNG or JPEG");
        return CIR_EINVAL;
    }
    if (len >= sizeof(o->image)) {
        snprintf(err, errsize, "overlay.image: longer than %zu bytes",
                 sizeof(o->image) - 1);
        return CIR_EINVAL;
    }
    memcpy(o->image, s, len + 1);
    return 0;
}

static int
parse_position(const json_t *v, cir_overlay_t *o, char *err, size_t errsize)
{
    const char *s = json_string_value(v);

    for (size_t i = 0; s != NULL && i < NB_POSITIONS; i++) {
        if (strcmp(s, position_names[i]) == 0) {
            o->position = (cir_overlay_position_t)i;
            return 0;
        }
    }
    snprintf(err, errsize,
             "overlay.position: expected top-left, top-right, bottom-left, "
             "bottom-right or center");
    return CIR_EINVAL;
}

/* A number in [min, max] (min itself excluded when open_min). */
static int
parse_fraction(const json_t *v, const char *name, double min, int open_min,
               double max, double *out, char *err, size_t errsize)
{
    double x = json_number_value(v);

    if (!json_is_number(v) || !isfinite(x) || x < min ||
        (open_min && x == min) || x > max) {
        snprintf(err, errsize, "overlay.%s: expected a number %s %g and <= %g",
                 name, open_min ? ">" : ">=", min, max);
        return CIR_EINVAL;
    }
    *out = x;
    return 0;
}

int
cir_overlay_parse(const json_t *v, cir_overlay_t *out, char *err,
                  size_t errsize)
{
    cir_overlay_t o = {.enabled = 1,
                       .position = CIR_OVERLAY_BOTTOM_RIGHT,
                       .margin = 0.02,
                       .height = 0.1,
                       .opacity = 1};
    const char *name;
    json_t *fv;
    int ret;

    if (!json_is_object(v)) {
        snprintf(err, errsize, "overlay: expected an object with an image");
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)v, name, fv)
    {
        if (strcmp(name, "image") == 0) {
            ret = parse_image(fv, &o, err, errsize);
        } else if (strcmp(name, "position") == 0) {
            ret = parse_position(fv, &o, err, errsize);
        } else if (strcmp(name, "margin") == 0) {
            ret = parse_fraction(fv, name, 0, 0, 0.5, &o.margin, err, errsize);
        } else if (strcmp(name, "height") == 0) {
            ret = parse_fraction(fv, name, 0, 1, 1, &o.height, err, errsize);
        } else if (strcmp(name, "opacity") == 0) {
            ret = parse_fraction(fv, name, 0, 1, 1, &o.opacity, err, errsize);
        } else {
            snprintf(err, errsize, "overlay: unknown field \"%.64s\"", name);
            ret = CIR_EINVAL;
        }
        if (ret < 0) {
            return ret;
        }
    }
    if (o.image[0] == '\0') {
        snprintf(err, errsize, "overlay.image: missing");
        return CIR_EINVAL;
    }
    *out = o;
    return 0;
}

json_t *
cir_overlay_to_json(const cir_overlay_t *o)
{
    if (o == NULL || !o->enabled) {
        return NULL;
    }
    return json_pack("{s:s, s:s, s:f, s:f, s:f}", "image", o->image, "position",
                     cir_overlay_position_name(o->position), "margin",
                     o->margin, "height", o->height, "opacity", o->opacity);
}
