/*
 * The thumbnail WebVTT track: one cue per tile pointing into its sprite
 * sheet with a media fragment (sprite-N.jpg#xywh=x,y,w,h), the convention
 * players (JW Player, Video.js, Shaka, Plyr) read.
 */
#include "cir_error.h"
#include "cir_manifest.h"
#include "manifest_util.h"

int
cir_vtt_render_thumbs(const cir_asset_t *a, cir_buf_t *out)
{
    const cir_thumbs_t *t = &a->thumbs;
    size_t k, per, pos, len0 = out->len;
    int64_t ms, end;
    const char *base;
    int ret;

    if ((ret = cir_manifest_check_image_track(a)) < 0) {
        goto fail;
    }
    if (!t->present) {
        ret = CIR_EINVAL;
        goto fail;
    }
    /* with a base, the track sits at the asset's root (a thumbnails-only
     * asset's top-level thumbs.vtt): URIs "<base>thumbs/sprite-N.jpg" */
    base = a->base ? a->base : "";
    ms = cir_manifest_thumb_interval_ms(t);
    per = cir_manifest_tiles_per_sheet(t);
    if ((ret = cir_buf_puts(out, "WEBVTT\n\n")) < 0) {
        goto fail;
    }
    for (k = 0; k < t->nb_tiles; k++) {
        pos = k % per;
        /* the last cue ends with the asset */
        end = k + 1 < t->nb_tiles ? (int64_t)(k + 1) * ms
                                  : cir_manifest_thumbs_end_ms(a);
        if ((ret = cir_manifest_put_vtt_time(out, (int64_t)k * ms)) < 0 ||
            (ret = cir_buf_puts(out, " --> ")) < 0 ||
            (ret = cir_manifest_put_vtt_time(out, end)) < 0 ||
            (ret = cir_buf_printf(
                 out, "\n%s%ssprite-%zu.jpg#xywh=%d,%d,%d,%d\n\n", base,
                 base[0] ? "thumbs/" : "", k / per + 1,
                 (int)(pos % (size_t)t->columns) * t->tile_width,
                 (int)(pos / (size_t)t->columns) * t->tile_height,
                 t->tile_width, t->tile_height)) < 0) {
            goto fail;
        }
    }
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}
