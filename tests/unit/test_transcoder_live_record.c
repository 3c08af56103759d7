/*
 * Recording a live stream as a VOD asset (transcoder/src/live_record.c):
 * segments copied out of a live rendition folder as its index lists them
 * complete, then published as a version and the asset's top-level
 * manifests through publish.c, with the peak-bandwidth rule VOD jobs use.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_live.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "live_record.h"
#include "publish.h"

static char tmp[256], live_dir[300], rec_root[300];

static void
write_bytes(const char *dir, const char *name, size_t n)
{
    char path[400];
    char *data = calloc(1, n ? n : 1);

    cr_assert_not_null(data);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    cr_assert_eq(cir_write_file_atomic(path, data, n), 0);
    free(data);
}

static void
setup(void)
{
    cir_log_set_level(CIR_LOG_ERROR);
    snprintf(tmp, sizeof(tmp), "/tmp/cir-live-record-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(live_dir, sizeof(live_dir), "%s/live/s/720p", tmp);
    snprintf(rec_root, sizeof(rec_root), "%s/rec", tmp);
    cr_assert_eq(cir_mkdir_p(live_dir, 0755), 0);
    write_bytes(live_dir, "init-1.mp4", 64);
    write_bytes(live_dir, "seg-1.m4s", 100);
    write_bytes(live_dir, "seg-2.m4s", 1000);
}

static void
teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

/* A complete segment of init 1: number msn, start and duration in the
 * index's timescale, size bytes. */
static cir_live_segment_t
complete_segment(uint64_t msn, int64_t start, int64_t duration, uint64_t size)
{
    return (cir_live_segment_t){.msn = msn,
                                .start = start,
                                .duration = duration,
                                .size = size,
                                .init_id = 1,
                                .complete = 1};
}

/* A live index of 720p video at timescale 1000: a 2 s segment of 100 bytes
 * and a 0.5 s one of 1000 bytes, both complete. */
static void
make_index(cir_live_index_t *idx, cir_live_segment_t *segs)
{
    memset(idx, 0, sizeof(*idx));
    memset(segs, 0, 2 * sizeof(*segs));
    idx->track.kind = CIR_LIVE_VIDEO;
    snprintf(idx->track.rendition, sizeof(idx->track.rendition), "720p");
    snprintf(idx->track.codecs, sizeof(idx->track.codecs), "avc1.64001f");
    idx->track.width = 1280;
    idx->track.height = 720;
    idx->track.frame_rate = 30;
    idx->timescale = 1000;
    segs[0] = complete_segment(1, 0, 2000, 100);
    segs[1] = complete_segment(2, 2000, 500, 1000);
    idx->segments = segs;
    idx->nb_segments = 2;
}

static char *
slurp(const char *path)
{
    char *data = NULL;
    size_t len = 0;

    return cir_read_file(path, 1 << 20, &data, &len) < 0 ? NULL : data;
}

Test(live_record, a_recording_is_published_with_the_vod_peak_rule,
     .init = setup, .fini = teardown)
{
    cir_live_index_t idx;
    cir_live_segment_t segs[2];
    cir_onair_rec_t *rec = NULL;
    char version[64], dir[400], path[600], want[160], *master;
    /* 1100 bytes over 2.5 s; the only run of 1 to 3 s is both segments (the
     * short last one never alone); the average, the same figure */
    uint64_t rate = (uint64_t)(1100 * 8 / 2.5);

    make_index(&idx, segs);
    cr_assert_eq(cir_onair_rec_version(rec_root, version, sizeof(version), dir,
                                       sizeof(dir)),
                 0);
    cr_assert_eq(cir_onair_rec_open(&rec, dir, live_dir, "720p"), 0);
    cr_assert_eq(cir_onair_rec_sync(rec, &idx), 0);
    cr_assert_eq(cir_onair_rec_publish(rec_root, version, &rec, 1, 2.0), 0);
    snprintf(path, sizeof(path), "%s/720p/seg-2.m4s", dir);
    cr_assert_not_null(master = slurp(path));
    free(master);
    snprintf(path, sizeof(path), "%s/720p/index.m3u8", dir);
    cr_assert_not_null(master = slurp(path));
    free(master);
    snprintf(path, sizeof(path), "%s/master.m3u8", rec_root);
    master = slurp(path);
    cr_assert_not_null(master);
    snprintf(want, sizeof(want), "STREAM-INF:BANDWIDTH=%llu,",
             (unsigned long long)rate);
    cr_assert_not_null(strstr(master, want), "%s", master);
    snprintf(want, sizeof(want), "AVERAGE-BANDWIDTH=%llu",
             (unsigned long long)rate);
    cr_assert_not_null(strstr(master, want), "%s", master);
    snprintf(want, sizeof(want), "v/%s/720p/index.m3u8", version);
    cr_assert_not_null(strstr(master, want), "%s", master);
    free(master);
    snprintf(path, sizeof(path), "%s/manifest.mpd", rec_root);
    cr_assert_not_null(master = slurp(path));
    free(master);
    cir_onair_rec_free(&rec);
}

Test(live_record, the_description_is_what_publish_takes, .init = setup,
     .fini = teardown)
{
    cir_live_index_t idx;
    cir_live_segment_t segs[2];
    cir_onair_rec_t *recs[2] = {NULL, NULL};
    cir_rendition_t rends[2];
    cir_asset_t asset;
    char version[64], dir[400];

    make_index(&idx, segs);
    cr_assert_eq(cir_onair_rec_version(rec_root, version, sizeof(version), dir,
                                       sizeof(dir)),
                 0);
    cr_assert_eq(cir_onair_rec_open(&recs[1], dir, live_dir, "720p"), 0);
    /* nothing recorded yet: nothing to publish */
    cr_assert_eq(cir_onair_rec_describe(recs, 2, 2.0, rends, &asset),
                 CIR_ENOTFOUND);
    cr_assert_eq(cir_onair_rec_publish(rec_root, version, recs, 2, 2.0),
                 CIR_ENOTFOUND);
    cr_assert_eq(cir_onair_rec_sync(recs[1], &idx), 0);
    cr_assert_eq(cir_onair_rec_describe(recs, 2, 2.0, rends, &asset), 0);
    cr_assert_eq(asset.nb_renditions, 1);
    cr_assert_str_eq(asset.renditions[0].id, "720p");
    cr_assert_eq(asset.renditions[0].nb_segments, 2);
    cr_assert_float_eq(asset.duration, 2.5, 1e-9);
    cr_assert_eq(
        asset.renditions[0].bandwidth,
        cir_publish_peak_bandwidth(asset.renditions[0].segments, 2, 1000, 2.0,
                                   asset.renditions[0].average_bandwidth));
    cr_assert_geq(asset.renditions[0].bandwidth,
                  asset.renditions[0].average_bandwidth);
    /* a bad version id is refused before anything is written */
    cr_assert_eq(cir_onair_rec_publish(rec_root, "../x", recs, 2, 2.0),
                 CIR_EINVAL);
    cir_onair_rec_free(&recs[1]);
}
