/*
 * Pixels of a decoded still.  See image_orient.h.
 *
 * Tested by tests/unit/test_transcoder_images.c.
 */
#include "image_orient.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/dict.h>

#include "cir_log.h"
#include "jpeg.h"

static const cir_log_ctx_t LOG = {.component = "images"};

int
cir_image_orientation(const AVFrame *f)
{
    const AVDictionaryEntry *e;
    const char *s;
    char *end;
    long v;

    e = av_dict_get(f->metadata, "Orientation", NULL, 0);
    if (e == NULL || e->value == NULL) {
        return 1;
    }
    s = e->value;
    while (*s == ' ') { /* 5.1 pads the value: "    6" */
        s++;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || v < 1 || v > 8) {
        cir_log_warn(&LOG, "ignoring EXIF orientation \"%s\"", e->value);
        return 1;
    }
    return (int)v;
}

int
cir_image_orient_rgba(const AVFrame *src, int o, AVFrame **out)
{
    AVFrame *dst = NULL;
    int sw = src->width, sh = src->height;
    int dw = o >= 5 ? sh : sw, dh = o >= 5 ? sw : sh;
    int x, y, ret;

    ret = cir_img_alloc(dw, dh, AV_PIX_FMT_RGBA, &dst);
    if (ret < 0) {
        return ret;
    }
    for (y = 0; y < dh; y++) {
        uint32_t *d = (uint32_t *)(dst->data[0] + (size_t)y * dst->linesize[0]);

        for (x = 0; x < dw; x++) {
            int sx, sy;

            switch (o) {
            case 2:
                sx = sw - 1 - x, sy = y;
                break;
            case 3:
                sx = sw - 1 - x, sy = sh - 1 - y;
                break;
            case 4:
                sx = x, sy = sh - 1 - y;
                break;
            case 5:
                sx = y, sy = x;
                break;
            case 6:
                sx = y, sy = sh - 1 - x;
                break;
            case 7:
                sx = sw - 1 - y, sy = sh - 1 - x;
                break;
            case 8:
                sx = sw - 1 - y, sy = x;
                break;
            default:
                sx = x, sy = y;
                break;
            }
            memcpy(&d[x],
                   src->data[0] + (size_t)sy * src->linesize[0] +
                       (size_t)sx * 4,
                   4);
        }
    }
    *out = dst;
    return 0;
}

int
cir_image_any_transparent(const AVFrame *rgba)
{
    int x, y;

    for (y = 0; y < rgba->height; y++) {
        const uint8_t *p = rgba->data[0] + (size_t)y * rgba->linesize[0];

        for (x = 0; x < rgba->width; x++) {
            if (p[4 * x + 3] != 255) {
                return 1;
            }
        }
    }
    return 0;
}

void
cir_image_flatten_white(AVFrame *rgba)
{
    int x, y, c;

    for (y = 0; y < rgba->height; y++) {
        uint8_t *p = rgba->data[0] + (size_t)y * rgba->linesize[0];

        for (x = 0; x < rgba->width; x++, p += 4) {
            unsigned a = p[3];

            for (c = 0; c < 3; c++) {
                p[c] = (uint8_t)((p[c] * a + 255 * (255 - a) + 127) / 255);
            }
            p[3] = 255;
        }
    }
}
