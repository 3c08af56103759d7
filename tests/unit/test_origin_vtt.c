/*
 * The thumbnail WebVTT track: golden file, cue geometry across sheets, the
 * last cue ending with the asset, validation and bounded output.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_manifest.h"
#include "golden.h"

/* ---- model builder ---- */

static cir_segment_t seg[1];
static cir_rendition_t rend;
static cir_asset_t asset;

/* A 19.5 s asset (one audio rendition is enough for the thumbnails) with
 * ten 2 s thumbnails of 160x90 on 3x2 sheets: the second sheet partial,
 * the last tile cut short by the end of the asset. */
static const cir_asset_t *
thumbs_asset(void)
{
    memset(&rend, 0, sizeof(rend));
    memset(&asset, 0, sizeof(asset));
    seg[0].start = 0;
    seg[0].duration = 936000;
    seg[0].size = 300000;
    rend.id = "audio";
    rend.type = CIR_MEDIA_AUDIO;
    rend.codecs = "mp4a.40.2";
    rend.sample_rate = 48000;
    rend.channels = 2;
    rend.bandwidth = 130000;
    rend.average_bandwidth = 128000;
    rend.timescale = 48000;
    rend.start_number = 1;
    rend.segments = seg;
    rend.nb_segments = 1;
    asset.duration = 19.5;
    asset.segment_seconds = 6;
    asset.renditions = &rend;
    asset.nb_renditions = 1;
    asset.thumbs.present = 1;
    asset.thumbs.interval = 2.0;
    asset.thumbs.tile_width = 160;
    asset.thumbs.tile_height = 90;
    asset.thumbs.columns = 3;
    asset.thumbs.rows = 2;
    asset.thumbs.nb_tiles = 10;
    asset.thumbs.nb_sprites = 2;
    asset.thumbs.bandwidth = 48000;
    return &asset;
}

/* ---- tests ---- */

static cir_buf_t out;

static void
setup(void)
{
    cir_buf_init(&out, CIR_MANIFEST_MAX_SIZE);
}

static void
teardown(void)
{
    cir_buf_free(&out);
}

TestSuite(origin_vtt, .init = setup, .fini = teardown);

static int
contains(const char *needle)
{
    return out.data != NULL && strstr(out.data, needle) != NULL;
}

Test(origin_vtt, golden)
{
    cr_assert_eq(cir_vtt_render_thumbs(thumbs_asset(), &out), 0);
    check_golden("thumbs.vtt", &out);
}

Test(origin_vtt, geometry_across_sheets)
{
    cr_assert_eq(cir_vtt_render_thumbs(thumbs_asset(), &out), 0);
    cr_expect(!strncmp(out.data,
                       "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n"
                       "sprite-1.jpg#xywh=0,0,160,90\n\n",
                       60));
    /* tile 5: last on sheet 1, row 2 column 3; tile 6 opens sheet 2 */
    cr_expect(contains("00:00:10.000 --> 00:00:12.000\n"
                       "sprite-1.jpg#xywh=320,90,160,90\n\n"
                       "00:00:12.000 --> 00:00:14.000\n"
                       "sprite-2.jpg#xywh=0,0,160,90\n\n"));
    cr_expect(contains("00:00:18.000 --> 00:00:19.500\n"
                       "sprite-2.jpg#xywh=0,90,160,90\n\n"),
              "%s", out.data);
}

/* The last cue runs to the end of the asset, also past its interval. */
Test(origin_vtt, last_cue_ends_with_asset)
{
    const cir_asset_t *a = thumbs_asset();

    asset.duration = 21.25;
    cr_assert_eq(cir_vtt_render_thumbs(a, &out), 0);
    cr_expect(contains("00:00:18.000 --> 00:00:21.250\n"), "%s", out.data);

    /* an asset duration before the last tile's start: keep the interval */
    cir_buf_reset(&out);
    asset.duration = 17.0;
    cr_assert_eq(cir_vtt_render_thumbs(a, &out), 0);
    cr_expect(contains("00:00:18.000 --> 00:00:20.000\n"), "%s", out.data);
}

Test(origin_vtt, hours_and_milliseconds)
{
    const cir_asset_t *a = thumbs_asset();

    asset.thumbs.interval = 3723.456 / 2; /* 1861.728 s */
    asset.thumbs.nb_tiles = 3;
    asset.thumbs.nb_sprites = 1;
    asset.duration = 5600;
    cr_assert_eq(cir_vtt_render_thumbs(a, &out), 0);
    cr_expect(contains("00:31:01.728 --> 01:02:03.456\n"
                       "sprite-1.jpg#xywh=160,0,160,90\n"),
              "%s", out.data);
    cr_expect(contains("01:02:03.456 --> 01:33:20.000\n"), "%s", out.data);
}

Test(origin_vtt, errors)
{
    const cir_asset_t *a = thumbs_asset();
    cir_buf_t small;

    asset.thumbs.present = 0;
    cr_expect_eq(cir_vtt_render_thumbs(a, &out), CIR_EINVAL);

    a = thumbs_asset();
    asset.thumbs.columns = 0;
    cr_expect_eq(cir_vtt_render_thumbs(a, &out), CIR_EINVAL);

    a = thumbs_asset();
    asset.thumbs.interval = 0;
    cr_expect_eq(cir_vtt_render_thumbs(a, &out), CIR_EINVAL);

    a = thumbs_asset();
    asset.renditions = NULL; /* renditions counted but missing */
    cr_expect_eq(cir_vtt_render_thumbs(a, &out), CIR_EINVAL);
    cr_expect_eq(out.len, 0);

    a = thumbs_asset();
    asset.duration = -1;
    cr_expect_eq(cir_vtt_render_thumbs(a, &out), CIR_EINVAL);
    cr_expect_eq(out.len, 0);

    a = thumbs_asset();
    cir_buf_init(&small, 100);
    cr_expect_eq(cir_vtt_render_thumbs(a, &small), CIR_ELIMIT);
    cr_expect_eq(small.len, 0);
    cir_buf_free(&small);
}

/* A thumbnails-only asset's top-level track: every cue into the version's
 * thumbs/ folder, the geometry unchanged. */
Test(origin_vtt, base_points_into_the_version)
{
    const cir_asset_t *a = thumbs_asset();

    asset.base = "v/20261206T132644649Z-de78cb433b4d38ec/";
    cr_assert_eq(cir_vtt_render_thumbs(a, &out), 0);
    cr_expect(contains("00:00:00.000 --> 00:00:02.000\n"
                       "v/20261206T132644649Z-de78cb433b4d38ec/thumbs/"
                       "sprite-1.jpg#xywh=0,0,160,90\n\n"),
              "%s", out.data);
    cr_expect(contains("00:00:18.000 --> 00:00:19.500\n"
                       "v/20261206T132644649Z-de78cb433b4d38ec/thumbs/"
                       "sprite-2.jpg#xywh=0,90,160,90\n\n"),
              "%s", out.data);
    cr_expect(!contains("\nsprite-"), "no cue outside the version");
}

/* A thumbnails-only asset has no rendition: the track renders alone, the
 * same cues. */
Test(origin_vtt, thumbnails_only_asset)
{
    const cir_asset_t *a = thumbs_asset();
    cir_buf_t with;

    cir_buf_init(&with, CIR_MANIFEST_MAX_SIZE);
    cr_assert_eq(cir_vtt_render_thumbs(a, &with), 0);
    asset.renditions = NULL;
    asset.nb_renditions = 0;
    cr_assert_eq(cir_vtt_render_thumbs(a, &out), 0);
    cr_assert_eq(out.len, with.len);
    cr_expect_eq(memcmp(out.data, with.data, out.len), 0);
    cir_buf_free(&with);
}
