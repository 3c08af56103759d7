/*
 * Publishing an asset (transcoder/src/publish.c): the one peak-bandwidth
 * rule VOD jobs and live recordings share, and the manifests written into a
 * version and the asset's top level through file:// stores, the entry
 * points last.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cir_error.h"
#include "cir_log.h"
#include "cir_preset.h"
#include "cir_storage.h"
#include "publish.h"

#define TS 1000 /* timescale: segment durations below are milliseconds */

static uint64_t
peak(const cir_segment_t *segs, size_t n, uint64_t average)
{
    return cir_publish_peak_bandwidth(segs, n, TS, 2.0, average);
}

Test(publish, the_peak_is_the_fastest_run_of_half_to_one_and_a_half_targets)
{
    /* 2 s of 1000 B, 2 s of 4000 B, 2 s of 1000 B: the middle one alone */
    const cir_segment_t segs[] = {
        {0, 2000, 1000}, {2000, 2000, 4000}, {4000, 2000, 1000}};

    cr_assert_eq(peak(segs, 3, 0), 4000 * 8 / 2);
}

Test(publish, a_short_last_segment_counts_with_the_one_before_it)
{
    /* 0.5 s of 1000 B alone would be 16000 bit/s: it is below half a
     * target, so only the 2.5 s run with the segment before it counts */
    const cir_segment_t segs[] = {{0, 2000, 100}, {2000, 500, 1000}};
    uint64_t average = (uint64_t)(1100 * 8 / 2.5);

    cr_assert_eq(peak(segs, 2, 0), (uint64_t)(1100 * 8 / 2.5));
    cr_assert_eq(peak(segs, 2, average), average);
}

Test(publish, the_peak_is_never_below_the_average)
{
    /* one 4 s segment: longer than 1.5 targets, no run counts */
    const cir_segment_t one[] = {{0, 4000, 8000}};

    cr_assert_eq(peak(one, 1, 16000), 16000);
    cr_assert_eq(peak(NULL, 0, 123), 123);
    cr_assert_eq(cir_publish_peak_bandwidth(one, 1, 0, 2.0, 7), 7);
}

Test(publish, rates_fill_average_and_peak_from_the_segments)
{
    const cir_segment_t segs[] = {{0, 2000, 1000}, {2000, 2000, 3000}};
    cir_rendition_t r = {.timescale = TS, .segments = segs, .nb_segments = 2};

    cir_publish_rates(&r, 4000, 4.0, 2.0);
    cr_assert_eq(r.average_bandwidth, 8000);
    cr_assert_eq(r.bandwidth, 12000);
    cir_publish_rates(&r, 4000, 0, 2.0);
    cr_assert_eq(r.average_bandwidth, 0);
    cr_assert_eq(r.bandwidth, 12000);
}

/* ---- writing the manifests ---- */

static char root[256];
static cir_store_t *version, *top;
static const cir_segment_t segs[] = {{0, 2000, 1000}, {2000, 2000, 1200}};
static cir_rendition_t rends[2];
static cir_asset_t asset;

static void
setup(void)
{
    char dir[300];
    cir_uri_t uri;

    cir_log_set_level(CIR_LOG_ERROR);
    snprintf(root, sizeof(root), "/tmp/cir-publish-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(dir, sizeof(dir), "%s/v/abc", root);
    cr_assert_eq(cir_mkdir_p(dir, 0755), 0);
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&top, &uri), 0);
    cr_assert_eq(cir_uri_parse(dir, &uri), 0);
    cr_assert_eq(cir_store_open(&version, &uri), 0);
    rends[0] = (cir_rendition_t){.id = "720p",
                                 .type = CIR_MEDIA_VIDEO,
                                 .codecs = "avc1.64001f",
                                 .width = 1280,
                                 .height = 720,
                                 .frame_rate = 30,
                                 .timescale = TS,
                                 .start_number = 1,
                                 .segments = segs,
                                 .nb_segments = 2};
    rends[1] = (cir_rendition_t){.id = "audio",
                                 .type = CIR_MEDIA_AUDIO,
                                 .codecs = "mp4a.40.2",
                                 .sample_rate = 48000,
                                 .channels = 2,
                                 .timescale = TS,
                                 .start_number = 1,
                                 .segments = segs,
                                 .nb_segments = 2};
    cir_publish_rates(&rends[0], 2200, 4.0, 2.0);
    cir_publish_rates(&rends[1], 2200, 4.0, 2.0);
    asset = (cir_asset_t){.duration = 4.0,
                          .segment_seconds = 2.0,
                          .renditions = rends,
                          .nb_renditions = 2};
}

static void
teardown(void)
{
    char cmd[300];

    cir_store_close(&version);
    cir_store_close(&top);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

static char *
slurp(const char *rel)
{
    char path[512], *data = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    if (cir_read_file(path, 1 << 20, &data, &len) < 0) {
        return NULL;
    }
    return data;
}

static int
exists(const char *rel)
{
    char *data = slurp(rel);

    free(data);
    return data != NULL;
}

static cir_publish_dest_t
dest(unsigned formats)
{
    return (cir_publish_dest_t){.version = version,
                                .top = top,
                                .version_base = "v/abc/",
                                .formats = formats};
}

Test(publish, the_version_then_the_top_level_pointing_into_it, .init = setup,
     .fini = teardown)
{
    cir_publish_dest_t d = dest(CIR_ONLY_HLS | CIR_ONLY_DASH);
    char *master, *mpd, *vmaster;

    cr_assert_eq(cir_publish_asset(&asset, &d), 0);
    cr_assert(exists("v/abc/720p/index.m3u8"));
    cr_assert(exists("v/abc/audio/index.m3u8"));
    cr_assert(exists("v/abc/manifest.mpd"));
    master = slurp("master.m3u8");
    mpd = slurp("manifest.mpd");
    vmaster = slurp("v/abc/master.m3u8");
    cr_assert_not_null(master);
    cr_assert_not_null(mpd);
    cr_assert_not_null(vmaster);
    cr_assert_not_null(strstr(master, "v/abc/720p/index.m3u8"));
    cr_assert_null(strstr(vmaster, "v/abc/"));
    cr_assert_not_null(strstr(mpd, "<BaseURL>v/abc/</BaseURL>"));
    /* the peak rule's figures (4800 and 4400 bit/s a rendition), video
     * and audio together, are what the master declares */
    cr_assert_not_null(strstr(master, "BANDWIDTH=9600,AVERAGE-BANDWIDTH=8800"),
                       "%s", master);
    free(master);
    free(mpd);
    free(vmaster);
}

Test(publish, only_the_formats_asked_for, .init = setup, .fini = teardown)
{
    cir_publish_dest_t d = dest(CIR_ONLY_DASH);

    cr_assert_eq(cir_publish_asset(&asset, &d), 0);
    cr_assert(exists("manifest.mpd"));
    cr_assert_not(exists("master.m3u8"));
    cr_assert_not(exists("v/abc/720p/index.m3u8"));
}

Test(publish, a_failed_write_leaves_no_entry_point, .init = setup,
     .fini = teardown)
{
    cir_publish_dest_t d = dest(CIR_ONLY_HLS | CIR_ONLY_DASH);
    char path[300];
    FILE *f;

    /* a file where the audio rendition's folder must go */
    snprintf(path, sizeof(path), "%s/v/abc/audio", root);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_lt(cir_publish_asset(&asset, &d), 0);
    cr_assert(exists("v/abc/720p/index.m3u8"));
    cr_assert_not(exists("manifest.mpd"));
    cr_assert_not(exists("master.m3u8"));
    cr_assert_not(exists("v/abc/master.m3u8"));
}

Test(publish, thumbnails_only_have_the_top_level_track_as_entry_point,
     .init = setup, .fini = teardown)
{
    /* a thumbnails-only job (--only thumbs): neither HLS nor DASH */
    cir_publish_dest_t d = dest(0);
    cir_asset_t thumbs = {.duration = 4.0, .segment_seconds = 2.0};
    char *vtt;

    thumbs.thumbs = (cir_thumbs_t){.present = 1,
                                   .interval = 2,
                                   .tile_width = 160,
                                   .tile_height = 90,
                                   .columns = 2,
                                   .rows = 1,
                                   .nb_tiles = 2,
                                   .nb_sprites = 1,
                                   .bandwidth = 20000};
    cr_assert_eq(cir_publish_asset(&thumbs, &d), 0);
    cr_assert(exists("v/abc/thumbs/thumbs.vtt"));
    cr_assert_not(exists("master.m3u8"));
    vtt = slurp("thumbs.vtt");
    cr_assert_not_null(vtt);
    cr_assert_not_null(strstr(vtt, "v/abc/thumbs/"));
    free(vtt);
}
