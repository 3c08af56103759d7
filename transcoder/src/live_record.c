/*
 * Recording a live stream as a VOD asset, in the layout of a VOD job
 * (README "Published outputs never change"): segments hard-linked (a copy
 * across file systems) into <record>/v/<version>/<rendition>/seg-<n>.m4s as
 * they complete; at the end, manifests rendered by origin/ into the version
 * (its own master.m3u8 last), then the asset's top-level manifest.mpd and
 * master.m3u8 pointing into v/<version>/, master.m3u8 last.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cir_error.h"
#include "cir_log.h"
#include "cir_manifest.h"
#include "cir_preset.h"
#include "cir_storage.h"
#include "live_record.h"
#include "publish.h"

#define MAX_FILE_COPY (512u << 20)

struct cir_onair_rec {
    char root[CIR_URI_MAX];
    char live_dir[CIR_URI_MAX];
    char name[CIR_LIVE_ID_MAX];
    cir_live_track_t track;
    uint32_t timescale;
    cir_segment_t *segs;
    size_t nb, cap;
    uint64_t next_msn;
    int have_next;
    uint32_t init_id;
    int stopped;
    cir_log_ctx_t log;
};

int
cir_onair_rec_version(const char *root, char *version, size_t vsize, char *dir,
                      size_t dsize)
{
    struct timespec ts;
    uint64_t rnd = 0;
    int ret, n;

    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        return -errno;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ret = cir_version_id_make((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
                              rnd, version, vsize);
    if (ret < 0) {
        return ret;
    }
    n = snprintf(dir, dsize, "%s/%s/%s", root, CIR_VERSIONS_DIR, version);
    return n < 0 || (size_t)n >= dsize ? CIR_ELIMIT : 0;
}

int
cir_onair_rec_open(cir_onair_rec_t **out, const char *root,
                   const char *live_dir, const char *rendition)
{
    char dir[CIR_URI_MAX + CIR_LIVE_ID_MAX + 2];
    cir_onair_rec_t *r;
    int ret;

    if (strlen(root) >= sizeof(r->root) ||
        strlen(live_dir) >= sizeof(r->live_dir) ||
        strlen(rendition) >= sizeof(r->name)) {
        return CIR_EINVAL;
    }
    snprintf(dir, sizeof(dir), "%s/%s", root, rendition);
    if ((ret = cir_mkdir_p(dir, 0755)) < 0) {
        return ret;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return CIR_ENOMEM;
    }
    snprintf(r->root, sizeof(r->root), "%s", root);
    snprintf(r->live_dir, sizeof(r->live_dir), "%s", live_dir);
    snprintf(r->name, sizeof(r->name), "%s", rendition);
    r->log = (cir_log_ctx_t){.component = "live-record", .rendition = r->name};
    *out = r;
    return 0;
}

/* A snapshot of src at dst: a hard link (the live writer replaces files by
 * rename and removes them by unlink, so the link keeps the data), or a copy
 * where links do not work. */
static int
link_or_copy(const char *src, const char *dst)
{
    char *data = NULL;
    size_t len = 0;
    int ret;

    if (unlink(dst) < 0 && errno != ENOENT) {
        return -errno;
    }
    if (link(src, dst) == 0) {
        return 0;
    }
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
        return -errno;
    }
    if ((ret = cir_read_file(src, MAX_FILE_COPY, &data, &len)) < 0) {
        return ret;
    }
    ret = cir_write_file_atomic(dst, data, len);
    free(data);
    return ret;
}

static int
record_segment(cir_onair_rec_t *r, const cir_live_segment_t *seg)
{
    char src[CIR_URI_MAX + 64], dst[2 * CIR_URI_MAX];
    int ret;

    if (r->nb == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        cir_segment_t *p;
        if (r->nb >= CIR_ONAIR_REC_MAX_SEGMENTS) {
            cir_log_warn(&r->log, "the recording is full (%d segments)",
                         CIR_ONAIR_REC_MAX_SEGMENTS);
            r->stopped = 1;
            return 0;
        }
        if (cap > CIR_ONAIR_REC_MAX_SEGMENTS) {
            cap = CIR_ONAIR_REC_MAX_SEGMENTS;
        }
        p = realloc(r->segs, cap * sizeof(*p));
        if (p == NULL) {
            return CIR_ENOMEM;
        }
        r->segs = p;
        r->cap = cap;
    }
    (void)cir_live_path(src, sizeof(src), r->live_dir, CIR_LIVE_FILE_SEGMENT,
                        seg->msn);
    snprintf(dst, sizeof(dst), "%s/%s/seg-%zu.m4s", r->root, r->name,
             r->nb + 1);
    if ((ret = link_or_copy(src, dst)) < 0) {
        cir_log_error(&r->log, "recording %s: %s", src, cir_strerror(ret));
        return ret;
    }
    r->segs[r->nb].start = seg->start;
    r->segs[r->nb].duration = seg->duration;
    r->segs[r->nb].size = seg->size;
    r->nb++;
    return 0;
}

int
cir_onair_rec_sync(cir_onair_rec_t *r, const cir_live_index_t *idx)
{
    char src[CIR_URI_MAX + 64], dst[2 * CIR_URI_MAX];
    int ret;

    if (r->stopped || idx == NULL) {
        return 0;
    }
    r->track = idx->track;
    r->timescale = idx->timescale;
    for (size_t i = 0; i < idx->nb_segments; i++) {
        const cir_live_segment_t *seg = &idx->segments[i];
        if (!seg->complete || seg->gap ||
            (r->have_next && seg->msn < r->next_msn)) {
            continue;
        }
        if (r->init_id == 0) {
            (void)cir_live_path(src, sizeof(src), r->live_dir,
                                CIR_LIVE_FILE_INIT, seg->init_id);
            snprintf(dst, sizeof(dst), "%s/%s/init.mp4", r->root, r->name);
            if ((ret = link_or_copy(src, dst)) < 0) {
                cir_log_error(&r->log, "recording %s: %s", src,
                              cir_strerror(ret));
                return ret;
            }
            r->init_id = seg->init_id;
        } else if (seg->init_id != r->init_id) {
            /* a VOD rendition has one init segment */
            cir_log_warn(&r->log, "the codec configuration changed: the "
                                  "recording of this rendition stops here");
            r->stopped = 1;
            return 0;
        }
        if (r->have_next && seg->msn > r->next_msn) {
            cir_log_warn(&r->log,
                         "segments %llu to %llu left the live window "
                         "before they were recorded",
                         (unsigned long long)r->next_msn,
                         (unsigned long long)seg->msn - 1);
        }
        if ((ret = record_segment(r, seg)) < 0) {
            return ret;
        }
        r->next_msn = seg->msn + 1;
        r->have_next = 1;
        if (r->stopped) {
            return 0;
        }
    }
    return 0;
}

static int
open_file_store(cir_store_t **store, const char *path)
{
    cir_uri_t uri = {0};

    uri.scheme = CIR_URI_FILE;
    snprintf(uri.path, sizeof(uri.path), "%s", path);
    return cir_store_open(store, &uri);
}

/* The recorded rendition r as an asset's rendition o, and its duration
 * in seconds: 1, or 0 when r recorded nothing. */
static int
describe_rendition(const cir_onair_rec_t *r, cir_rendition_t *o,
                   double segment_seconds, double *seconds)
{
    double dur = 0, bytes = 0;

    if (r == NULL || r->nb == 0 || r->timescale == 0) {
        return 0;
    }
    for (size_t k = 0; k < r->nb; k++) {
        dur += (double)r->segs[k].duration / r->timescale;
        bytes += (double)r->segs[k].size;
    }
    o->id = r->name;
    o->type =
        r->track.kind == CIR_LIVE_VIDEO ? CIR_MEDIA_VIDEO : CIR_MEDIA_AUDIO;
    o->codecs = r->track.codecs;
    o->width = r->track.width;
    o->height = r->track.height;
    o->frame_rate = r->track.frame_rate;
    o->sample_rate = r->track.sample_rate;
    o->channels = r->track.channels;
    o->timescale = r->timescale;
    o->start_number = 1;
    o->segments = r->segs;
    o->nb_segments = r->nb;
    cir_publish_rates(o, bytes, dur, segment_seconds);
    *seconds = dur;
    return 1;
}

int
cir_onair_rec_describe(cir_onair_rec_t *const *recs, size_t n,
                       double segment_seconds, cir_rendition_t *rends,
                       cir_asset_t *asset)
{
    size_t nr = 0;

    memset(asset, 0, sizeof(*asset));
    for (size_t i = 0; i < n; i++) {
        double dur = 0;
        if (describe_rendition(recs[i], &rends[nr], segment_seconds, &dur)) {
            asset->duration = fmax(asset->duration, dur);
            nr++;
        }
    }
    if (nr == 0) {
        return CIR_ENOTFOUND;
    }
    asset->segment_seconds = segment_seconds;
    asset->renditions = rends;
    asset->nb_renditions = nr;
    return 0;
}

int
cir_onair_rec_publish(const char *root, const char *version,
                      cir_onair_rec_t *const *recs, size_t n,
                      double segment_seconds)
{
    static const cir_log_ctx_t log = {.component = "live-record"};
    cir_rendition_t *rends = NULL;
    cir_asset_t asset;
    cir_store_t *store = NULL, *top_store = NULL;
    char dir[CIR_URI_MAX], base[CIR_VERSION_ID_MAX + 8];
    int ret;

    rends = calloc(n ? n : 1, sizeof(*rends));
    if (rends == NULL) {
        return CIR_ENOMEM;
    }
    if ((ret = cir_onair_rec_describe(recs, n, segment_seconds, rends,
                                      &asset)) < 0) {
        goto fail;
    }
    if (!cir_version_id_is_valid(version) ||
        snprintf(dir, sizeof(dir), "%s/%s/%s", root, CIR_VERSIONS_DIR,
                 version) >= (int)sizeof(dir)) {
        ret = CIR_EINVAL;
        goto fail;
    }
    snprintf(base, sizeof(base), "%s/%s/", CIR_VERSIONS_DIR, version);
    if ((ret = open_file_store(&store, dir)) < 0 ||
        (ret = open_file_store(&top_store, root)) < 0) {
        goto fail;
    }
    ret = cir_publish_asset(&asset, &(cir_publish_dest_t){
                                        .version = store,
                                        .top = top_store,
                                        .version_base = base,
                                        .formats = CIR_ONLY_HLS | CIR_ONLY_DASH,
                                        .log = &log,
                                    });

fail:
    cir_store_close(&store);
    cir_store_close(&top_store);
    free(rends);
    return ret;
}

void
cir_onair_rec_free(cir_onair_rec_t **rp)
{
    cir_onair_rec_t *r = *rp;

    if (r == NULL) {
        return;
    }
    free(r->segs);
    free(r);
    *rp = NULL;
}
