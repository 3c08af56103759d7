/*
 * Publishing an asset, VOD job or live recording alike: the caller describes
 * the asset (origin/'s cir_asset_t: renditions with their segments' start,
 * duration and size, the thumbnail track) and where it goes (the version's
 * store, the asset's top-level store, the version's base); this file applies
 * the one peak-bandwidth rule and writes the manifests in the order that
 * makes the asset complete only at the end:
 *
 *   <id>/index.m3u8 (and <id>/iframes.m3u8) per rendition, the WebVTT
 *   thumbnail track, the version's manifest.mpd and master.m3u8, then the
 *   asset's top-level manifest.mpd and master.m3u8 (every URI under
 *   "v/<version>/"), master.m3u8 last.
 *
 * An asset with no rendition but thumbnails (a thumbnails-only job) has its
 * top-level thumbs.vtt as entry point, written last the same way.
 */
#ifndef CIR_PUBLISH_H
#define CIR_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "cir_log.h"
#include "cir_manifest.h"
#include "cir_storage.h"

typedef struct {
    cir_store_t *version;     /* <asset>/v/<version>/: written once */
    cir_store_t *top;         /* <asset>: the entry points, written last */
    const char *version_base; /* "v/<version>/" */
    unsigned formats;         /* CIR_ONLY_HLS and/or CIR_ONLY_DASH */
    const cir_log_ctx_t *log; /* may be NULL */
} cir_publish_dest_t;

/*
 * Peak bit rate after the HLS definition: the highest rate of any run of
 * consecutive segments lasting 0.5 to 1.5 target durations, every such run
 * (a short last segment counts with the ones before it, not alone), and
 * never below the average (RFC 8216bis 4.4.6.2: BANDWIDTH is the peak
 * segment bit rate; AVERAGE-BANDWIDTH cannot exceed it).
 */
uint64_t cir_publish_peak_bandwidth(const cir_segment_t *segs, size_t n,
                                    uint32_t timescale, double target,
                                    uint64_t average);

/* r's average_bandwidth (bytes over seconds; 0 when seconds is not
 * positive) and, by the peak rule over r's segments, its bandwidth. */
void cir_publish_rates(cir_rendition_t *r, double bytes, double seconds,
                       double target);

/* Writes the asset's manifests to dest in the order above.  Returns 0;
 * CIR_ELIMIT for a manifest over the size limit; CIR_EINTERNAL when origin/
 * cannot render one; the store's error. */
int cir_publish_asset(const cir_asset_t *asset, const cir_publish_dest_t *dest);

#endif
