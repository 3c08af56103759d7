/*
 * Recording a live stream as a VOD asset (the transcoder's output layout,
 * README "Output layout"): each rendition's segments are hard-linked (or
 * copied) into <record>/v/<version>/ as they complete, before the live
 * window ages them out; when the stream ends, origin's VOD renderers write
 * the version's playlists and MPD, its master.m3u8, then the asset's
 * top-level manifest.mpd and master.m3u8 (URIs under v/<version>/),
 * master.m3u8 last.
 */
#ifndef CIR_LIVE_RECORD_H
#define CIR_LIVE_RECORD_H

#include "cir_live.h"
#include "cir_manifest.h"

#define CIR_ONAIR_REC_MAX_SEGMENTS 86400 /* 48 h of 2 s segments */

typedef struct cir_onair_rec cir_onair_rec_t;

/* A new version id for a recording of root, and its folder
 * (<root>/v/<version>): the root every rendition's cir_onair_rec_open()
 * takes. */
int cir_onair_rec_version(const char *root, char *version, size_t vsize,
                          char *dir, size_t dsize);
/* root: the version's folder (cir_onair_rec_version); live_dir: <live
 * root>/<stream>/<rendition>. */
int cir_onair_rec_open(cir_onair_rec_t **rec, const char *root,
                       const char *live_dir, const char *rendition);
/* Copies the segments idx lists as complete that are not recorded yet;
 * call after each segment ends (from the thread that owns the index). */
int cir_onair_rec_sync(cir_onair_rec_t *rec, const cir_live_index_t *idx);
/* The recording as an asset description (publish.h): one rendition in
 * rends (room for n) per recording that holds a segment, in the order of
 * recs (video first, then audio), its average and peak bit rates by the
 * rule VOD jobs use; asset->renditions points at rends.  CIR_ENOTFOUND when
 * nothing was recorded. */
int cir_onair_rec_describe(cir_onair_rec_t *const *recs, size_t n,
                           double segment_seconds, cir_rendition_t *rends,
                           cir_asset_t *asset);
/* Publishes that description (publish.c, HLS and DASH), segment_seconds
 * the nominal target: the version's manifests under <root>/v/<version>/,
 * then the asset's top-level pair in root, master.m3u8 last.  Call once
 * every writer finished. */
int cir_onair_rec_publish(const char *root, const char *version,
                          cir_onair_rec_t *const *recs, size_t n,
                          double segment_seconds);
void cir_onair_rec_free(cir_onair_rec_t **rec);

#endif
