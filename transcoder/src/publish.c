/*
 * Publishing an asset: the peak-bandwidth rule and the manifests, master
 * last.  See publish.h.
 */
#include "publish.h"

#include <math.h>
#include <stdio.h>

#include "asset_put.h"
#include "cir_error.h"
#include "cir_preset.h"

uint64_t
cir_publish_peak_bandwidth(const cir_segment_t *segs, size_t n,
                           uint32_t timescale, double target, uint64_t average)
{
    double best = 0;

    for (size_t i = 0; timescale > 0 && i < n; i++) {
        double bytes = 0, dur = 0;
        for (size_t j = i; j < n; j++) {
            bytes += (double)segs[j].size;
            dur += (double)segs[j].duration / timescale;
            if (dur > 1.5 * target) {
                break;
            }
            if (dur >= 0.5 * target) {
                best = fmax(best, bytes * 8 / dur);
            }
        }
    }
    return (uint64_t)ceil(best) > average ? (uint64_t)ceil(best) : average;
}

void
cir_publish_rates(cir_rendition_t *r, double bytes, double seconds,
                  double target)
{
    r->average_bandwidth =
        seconds > 0 ? (uint64_t)ceil(bytes * 8 / seconds) : 0;
    r->bandwidth =
        cir_publish_peak_bandwidth(r->segments, r->nb_segments, r->timescale,
                                   target, r->average_bandwidth);
}

/* Writes what a renderer produced (ret: its result) as name into the
 * version's store or the top-level one. */
static int
put_rendered(const cir_publish_dest_t *d, cir_store_t *store, cir_buf_t *buf,
             const char *name, int ret)
{
    int top = store == d->top;

    if (ret < 0) {
        cir_log_error(d->log, "rendering %s: %s", name, cir_strerror(ret));
        return ret == CIR_ELIMIT ? ret : CIR_EINTERNAL;
    }
    ret = cir_asset_put(store, top ? CIR_ASSET_TOP : CIR_ASSET_VERSION, name,
                        buf->data, buf->len);
    cir_buf_reset(buf);
    if (ret < 0) {
        cir_log_error(d->log, "writing %s%s: %s", top ? "" : d->version_base,
                      name, cir_strerror(ret));
    }
    return ret;
}

/* The MPD and master.m3u8 into store (master last). */
static int
write_entry_manifests(const cir_publish_dest_t *d, cir_store_t *store,
                      const cir_asset_t *asset, cir_buf_t *buf)
{
    int ret;

    if (d->formats & CIR_ONLY_DASH) {
        ret = put_rendered(d, store, buf, "manifest.mpd",
                           cir_dash_render_static(asset, buf));
        if (ret < 0) {
            return ret;
        }
    }
    if (d->formats & CIR_ONLY_HLS) {
        ret = put_rendered(d, store, buf, "master.m3u8",
                           cir_hls_render_master(asset, buf));
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* Every rendition's media playlist and I-frame playlist. */
static int
write_media_playlists(const cir_publish_dest_t *d, const cir_asset_t *asset,
                      cir_buf_t *buf)
{
    char name[128];
    int ret;

    for (size_t i = 0; i < asset->nb_renditions; i++) {
        const cir_rendition_t *r = &asset->renditions[i];
        snprintf(name, sizeof(name), "%s/index.m3u8", r->id);
        ret = put_rendered(d, d->version, buf, name,
                           cir_hls_render_media(asset, r, buf));
        if (ret < 0) {
            return ret;
        }
        if (r->nb_iframes > 0) {
            snprintf(name, sizeof(name), "%s/iframes.m3u8", r->id);
            ret = put_rendered(d, d->version, buf, name,
                               cir_hls_render_iframes(asset, r, buf));
            if (ret < 0) {
                return ret;
            }
        }
    }
    return 0;
}

static int
write_manifests(const cir_publish_dest_t *d, const cir_asset_t *asset,
                cir_buf_t *buf)
{
    cir_asset_t top = *asset;
    int ret, hls = (d->formats & CIR_ONLY_HLS) != 0;

    if (hls && (ret = write_media_playlists(d, asset, buf)) < 0) {
        return ret;
    }
    if (asset->thumbs.present) {
        ret = put_rendered(d, d->version, buf, "thumbs/thumbs.vtt",
                           cir_vtt_render_thumbs(asset, buf));
        if (ret == 0 && hls) {
            ret = put_rendered(d, d->version, buf, "thumbs/images.m3u8",
                               cir_hls_render_images(asset, buf));
        }
        if (ret < 0) {
            return ret;
        }
    }
    top.base = d->version_base;
    if (asset->nb_renditions == 0) {
        /* thumbnails only: the asset's entry point is its top-level
         * WebVTT track, written last, every cue into the version */
        return asset->thumbs.present
                   ? put_rendered(d, d->top, buf, "thumbs.vtt",
                                  cir_vtt_render_thumbs(&top, buf))
                   : 0;
    }
    /* the version's own manifests (immutable), then the asset's */
    if ((ret = write_entry_manifests(d, d->version, asset, buf)) < 0) {
        return ret;
    }
    return write_entry_manifests(d, d->top, &top, buf);
}

int
cir_publish_asset(const cir_asset_t *asset, const cir_publish_dest_t *dest)
{
    cir_buf_t buf;
    int ret;

    cir_buf_init(&buf, CIR_MANIFEST_MAX_SIZE);
    ret = write_manifests(dest, asset, &buf);
    cir_buf_free(&buf);
    return ret;
}
