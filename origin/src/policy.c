/*
 * Cache-Control for CloudFront (see cloudfront-origin.md and MediaPackage's
 * CDN recommendations):
 *   media (init, part, segment)  public, max-age=1209600, immutable (14 d)
 *   live playlist, live MPD      public, max-age=1  (LL: AWS's 1 s; they
 *                                change every part)
 *   blocking playlist            public, max-age=<6 x TD>: the response to
 *                                _HLS_msn/_HLS_part never changes, and the
 *                                query string is its cache key
 *   ended playlist               public, max-age=<TD / 2, at least 1>:
 *                                a key may be republished, and a player
 *                                that got ENDLIST stops reloading, so an
 *                                ENDLIST must not outlive a live playlist
 *                                by much; half a target duration is what
 *                                MediaPackage gives a regular (non-LL)
 *                                playlist.  3600 kept a republished key's
 *                                viewers on the old ENDLIST for an hour.
 *   VOD top-level manifest       public, max-age=60: <asset>/master.m3u8,
 *                                manifest.mpd, a thumbnails-only asset's
 *                                thumbs.vtt, images/manifest.json and the
 *                                .published/ records point at the newest
 *                                published version and are rewritten in
 *                                place on a re-upload: a viewer sees a new
 *                                version within a minute
 *   VOD manifest in a version    public, max-age=1209600, immutable: a
 *                                published version (<asset>/v/<id>/) never
 *                                changes (README "Published outputs never
 *                                change")
 *   error                        public, max-age=1: a 404 for a part that
 *                                does not exist yet must not stick; every
 *                                4xx/5xx answer (416 from a range too)
 *                                gets it, whatever the object
 * The transcoder sends the same values with every S3 upload
 * (cir_origin_asset_cache_kind): this is Cirrus's one cache policy, for
 * files nginx serves and for objects CloudFront takes from S3 alike.
 * No cookies: nothing here varies per viewer.  Manifests say
 * Vary: Accept-Encoding (nginx may gzip them: a cache must not hand a
 * gzipped playlist to a client that did not ask for it); media never
 * leaves compressed.
 */
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"
#include "live_util.h"

int
cir_origin_cache_control(cir_cache_kind_t kind, const cir_live_index_t *idx,
                         char *out, size_t size)
{
    long long age;
    int n;

    if (out == NULL || size == 0) {
        return CIR_EINVAL;
    }
    out[0] = '\0';
    switch (kind) {
    case CIR_CACHE_MEDIA:
    case CIR_CACHE_VOD_VERSIONED_MANIFEST:
        n = snprintf(out, size, "public, max-age=1209600, immutable");
        break;
    case CIR_CACHE_LIVE_PLAYLIST:
    case CIR_CACHE_LIVE_MPD:
    case CIR_CACHE_ERROR:
        n = snprintf(out, size, "public, max-age=1");
        break;
    case CIR_CACHE_BLOCKING_PLAYLIST:
        if (idx == NULL || idx->timescale == 0 || idx->segment_target <= 0) {
            return CIR_EINVAL;
        }
        age = 6 * (long long)cir_live_target_duration(idx);
        n = snprintf(out, size, "public, max-age=%lld", age);
        break;
    case CIR_CACHE_ENDED_PLAYLIST:
        age = idx && idx->timescale > 0 && idx->segment_target > 0
                  ? cir_live_target_duration(idx) / 2
                  : 1;
        n = snprintf(out, size, "public, max-age=%lld", age > 1 ? age : 1);
        break;
    case CIR_CACHE_VOD_MANIFEST:
        n = snprintf(out, size, "public, max-age=60");
        break;
    default:
        return CIR_EINVAL;
    }
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return CIR_ELIMIT;
    }
    return 0;
}

cir_cache_kind_t
cir_origin_cache_kind_for_status(cir_cache_kind_t kind, unsigned status)
{
    return status >= 400 ? CIR_CACHE_ERROR : kind;
}

const char *
cir_origin_vary(cir_cache_kind_t kind)
{
    switch (kind) {
    case CIR_CACHE_LIVE_PLAYLIST:
    case CIR_CACHE_BLOCKING_PLAYLIST:
    case CIR_CACHE_LIVE_MPD:
    case CIR_CACHE_ENDED_PLAYLIST:
    case CIR_CACHE_VOD_MANIFEST:
    case CIR_CACHE_VOD_VERSIONED_MANIFEST:
        return "Accept-Encoding";
    default:
        return NULL;
    }
}

/* Has rel a "v/<id>/" folder (a published version) before its file name? */
static int
in_version(const char *rel)
{
    const char *p = rel;

    for (;;) {
        if (p[0] == 'v' && p[1] == '/') {
            const char *id = p + 2, *end = strchr(id, '/');
            if (end != NULL && end > id && strchr(end + 1, '/') != NULL) {
                return 1; /* v/<id>/<folder>/file */
            }
            if (end != NULL && end > id && end[1] != '\0') {
                return 1; /* v/<id>/file */
            }
        }
        p = strchr(p, '/');
        if (p == NULL) {
            return 0;
        }
        p++;
    }
}

/* Is rel a manifest (.m3u8, .mpd, .vtt) or a JSON document (an image
 * manifest, a publish record)?  Outside a version these are the files
 * rewritten in place; anything else is media, written once. */
static int
is_manifest_or_record(const char *rel)
{
    static const char *const exts[] = {".m3u8", ".mpd", ".vtt", ".json"};
    const char *base = strrchr(rel, '/'), *ext;

    ext = strrchr(base ? base + 1 : rel, '.');
    for (size_t i = 0; ext != NULL && i < sizeof(exts) / sizeof(exts[0]); i++) {
        if (strcmp(ext, exts[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

cir_cache_kind_t
cir_origin_asset_cache_kind(const char *rel, int versioned)
{
    if (rel == NULL || !is_manifest_or_record(rel)) {
        return CIR_CACHE_MEDIA;
    }
    return versioned ? CIR_CACHE_VOD_VERSIONED_MANIFEST
                     : CIR_CACHE_VOD_MANIFEST;
}

cir_cache_kind_t
cir_origin_vod_cache_kind(const char *rel)
{
    return cir_origin_asset_cache_kind(rel, rel != NULL && in_version(rel));
}
