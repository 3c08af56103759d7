/*
 * The static MPD: golden files, well-formedness (xmllint), SegmentTimeline
 * run-length coding, frame rates, validation and bounded output.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_manifest.h"
#include "golden.h"

/* ---- model builders (kept in each test file: tests link one library) ---- */

#define V_TS 90000
#define A_TS 48000

typedef struct {
    cir_segment_t vseg[3][8];
    cir_iframe_t ifr[3][16];
    cir_segment_t aseg[8];
    cir_rendition_t r[4];
    cir_asset_t a;
} fixture_t;

static fixture_t fx;

/* Contiguous segments from t0 with the given durations; sizes follow the
 * duration so they are deterministic. */
static void
fill_segments(cir_segment_t *s, int64_t t0, const int64_t *durs, size_t n,
              uint64_t bytes_per_unit)
{
    size_t i;

    for (i = 0; i < n; i++) {
        s[i].start = t0;
        s[i].duration = durs[i];
        s[i].size = (uint64_t)durs[i] * bytes_per_unit / 10;
        t0 += durs[i];
    }
}

/* One keyframe every gop units, each with its moof at the fragment start. */
static size_t
fill_iframes(cir_iframe_t *f, const cir_segment_t *s, size_t nb, int64_t gop,
             uint64_t key_size)
{
    size_t i, n = 0;
    int64_t t, end;

    for (i = 0; i < nb; i++) {
        end = s[i].start + s[i].duration;
        for (t = s[i].start; t < end; t += gop) {
            f[n].segment = (uint32_t)i;
            f[n].start = t;
            f[n].duration = end - t < gop ? end - t : gop;
            f[n].offset = (uint64_t)(t - s[i].start) / gop * 300000;
            f[n].size = key_size + n * 100;
            n++;
        }
    }
    return n;
}

static cir_rendition_t
video(const char *id, const char *codecs, int w, int h, double fps, uint64_t bw,
      uint64_t avg)
{
    cir_rendition_t r = {0};

    r.id = id;
    r.type = CIR_MEDIA_VIDEO;
    r.codecs = codecs;
    r.width = w;
    r.height = h;
    r.frame_rate = fps;
    r.bandwidth = bw;
    r.average_bandwidth = avg;
    r.timescale = V_TS;
    r.start_number = 1;
    return r;
}

static cir_rendition_t
audio(const char *id, const char *lang, uint64_t bw, uint64_t avg)
{
    cir_rendition_t r = {0};

    r.id = id;
    r.type = CIR_MEDIA_AUDIO;
    r.codecs = "mp4a.40.2";
    r.sample_rate = 48000;
    r.channels = 2;
    r.language = lang;
    r.bandwidth = bw;
    r.average_bandwidth = avg;
    r.timescale = A_TS;
    r.start_number = 1;
    return r;
}

/* 6 s segments of AAC at 48 kHz do not fall on frame boundaries: 282 and
 * 281 frames of 1024 samples, then a short last one. 19.5 s in all. */
static const int64_t audio_durs[] = {288768, 287744, 288768, 70720};
/* 6 + 6 + 6 + 1.5 s: a last short segment; 2 s GOPs. */
static const int64_t video_durs[] = {540000, 540000, 540000, 135000};

/* 1080p/720p/360p at 30 fps + stereo AAC, I-frames, 10 thumbnails of
 * 160x90 on 3x2 sheets (the second sheet partial). */
static const cir_asset_t *
ladder(void)
{
    static const struct {
        const char *id, *codecs;
        int w, h;
        uint64_t bw, avg, ibw;
    } rungs[3] = {
        {"1080p", "avc1.640028", 1920, 1080, 6000000, 5000000, 580000},
        {"720p", "avc1.64001f", 1280, 720, 3000000, 2500000, 375000},
        {"360p", "avc1.64001e", 640, 360, 800000, 700000, 90000},
    };
    size_t i;

    memset(&fx, 0, sizeof(fx));
    for (i = 0; i < 3; i++) {
        cir_rendition_t *r = &fx.r[i];
        *r = video(rungs[i].id, rungs[i].codecs, rungs[i].w, rungs[i].h, 30.0,
                   rungs[i].bw, rungs[i].avg);
        fill_segments(fx.vseg[i], 0, video_durs, 4, 3 - i);
        r->segments = fx.vseg[i];
        r->nb_segments = 4;
        r->iframes = fx.ifr[i];
        r->nb_iframes = fill_iframes(fx.ifr[i], fx.vseg[i], 4, 2 * V_TS,
                                     (uint64_t)(40000 >> i));
        r->iframe_bandwidth = rungs[i].ibw;
    }
    fx.r[3] = audio("audio", "en", 130000, 128000);
    fill_segments(fx.aseg, 0, audio_durs, 4, 1);
    fx.r[3].segments = fx.aseg;
    fx.r[3].nb_segments = 4;

    fx.a.duration = 19.5;
    fx.a.segment_seconds = 6;
    fx.a.renditions = fx.r;
    fx.a.nb_renditions = 4;
    fx.a.thumbs.present = 1;
    fx.a.thumbs.interval = 2.0;
    fx.a.thumbs.tile_width = 160;
    fx.a.thumbs.tile_height = 90;
    fx.a.thumbs.columns = 3;
    fx.a.thumbs.rows = 2;
    fx.a.thumbs.nb_tiles = 10;
    fx.a.thumbs.nb_sprites = 2;
    fx.a.thumbs.bandwidth = 48000;
    return &fx.a;
}

/* A stereo AAC rendition alone, no language, no thumbnails. */
static const cir_asset_t *
audio_only(void)
{
    memset(&fx, 0, sizeof(fx));
    fx.r[0] = audio("aac", NULL, 130000, 128000);
    fill_segments(fx.aseg, 0, audio_durs, 4, 1);
    fx.r[0].segments = fx.aseg;
    fx.r[0].nb_segments = 4;
    fx.a.duration = 19.5;
    fx.a.segment_seconds = 6;
    fx.a.renditions = fx.r;
    fx.a.nb_renditions = 1;
    return &fx.a;
}

/* 720p at 29.97 fps (timescale 30000, 180 frames per segment), no audio,
 * numbered from 0, first tfdt 1001, asset duration left for the renderer
 * to take from the timeline. */
static const cir_asset_t *
video_only_2997(void)
{
    static const int64_t durs[] = {180180, 180180, 180180, 60060};

    memset(&fx, 0, sizeof(fx));
    fx.r[0] = video("720p", "avc1.64001f", 1280, 720, 30000.0 / 1001.0, 3200000,
                    2600000);
    fx.r[0].timescale = 30000;
    fx.r[0].start_number = 0;
    fill_segments(fx.vseg[0], 1001, durs, 4, 3);
    fx.r[0].segments = fx.vseg[0];
    fx.r[0].nb_segments = 4;
    fx.a.duration = 0;
    fx.a.segment_seconds = 6;
    fx.a.renditions = fx.r;
    fx.a.nb_renditions = 1;
    return &fx.a;
}

/* ---- helpers ---- */

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

TestSuite(origin_dash, .init = setup, .fini = teardown);

static int
contains(const char *needle)
{
    return out.data != NULL && strstr(out.data, needle) != NULL;
}

static size_t
count(const char *needle)
{
    size_t n = 0;
    const char *p = out.data;

    while (p != NULL && (p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* xmllint --noout on the output; skips when xmllint is not installed. */
static void
expect_well_formed(const cir_buf_t *b)
{
    char path[] = "/tmp/cirrus-mpd-XXXXXX", cmd[256];
    int fd, rc;

    if (system("command -v xmllint >/dev/null 2>&1") != 0) {
        cr_skip("xmllint not installed");
    }
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, b->data, b->len), (ssize_t)b->len);
    close(fd);
    snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
    rc = system(cmd);
    unlink(path);
    cr_expect_eq(rc, 0, "xmllint rejected:\n%s", b->data);
}

static void
render_golden(const cir_asset_t *a, const char *name)
{
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    check_golden(name, &out);
    expect_well_formed(&out);
}

/* ---- golden MPDs ---- */

Test(origin_dash, ladder)
{
    render_golden(ladder(), "ladder.mpd");
}

Test(origin_dash, audio_only)
{
    render_golden(audio_only(), "audio_only.mpd");
}

Test(origin_dash, video_only_2997)
{
    render_golden(video_only_2997(), "video_only_2997.mpd");
}

/* ---- rules ---- */

Test(origin_dash, timeline_run_length)
{
    static const int64_t d[] = {540000, 540000, 540000, 540000,
                                270000, 540000, 540000, 90000};
    const cir_asset_t *a = ladder();

    fill_segments(fx.vseg[0], 3600, d, 8, 1);
    fx.r[0].nb_segments = 8;
    fx.r[0].nb_iframes = 0;
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect(contains("<S t=\"3600\" d=\"540000\" r=\"3\"/>\n"
                       "            <S d=\"270000\"/>\n"
                       "            <S d=\"540000\" r=\"1\"/>\n"
                       "            <S d=\"90000\"/>\n"
                       "          </SegmentTimeline>"),
              "%s", out.data);
    expect_well_formed(&out);
}

/* A hole or an overlap in the timeline restarts it with an explicit t. */
Test(origin_dash, timeline_gap_carries_t)
{
    const cir_asset_t *a = ladder();

    fx.vseg[0][2].start += 9000; /* a 0.1 s hole before segment 3 */
    fx.vseg[0][3].start += 9000;
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect(contains("<S t=\"0\" d=\"540000\" r=\"1\"/>\n"
                       "            <S t=\"1089000\" d=\"540000\"/>\n"
                       "            <S d=\"135000\"/>\n"),
              "%s", out.data);
}

static void
expect_frame_rate(double fps, const char *want)
{
    const cir_asset_t *a = video_only_2997();
    char rep[64], set[64];

    fx.r[0].frame_rate = fps;
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    snprintf(rep, sizeof(rep), "frameRate=\"%s\"", want);
    snprintf(set, sizeof(set), "maxFrameRate=\"%s\"", want);
    cr_expect(contains(rep) && contains(set), "%g -> %s:\n%s", fps, want,
              out.data);
}

Test(origin_dash, frame_rates)
{
    expect_frame_rate(25.0, "25");
    expect_frame_rate(30.0, "30");
    expect_frame_rate(29.97, "30000/1001");
    expect_frame_rate(24000.0 / 1001.0, "24000/1001");
    expect_frame_rate(59.94, "60000/1001");
    expect_frame_rate(60.0001, "60");
    expect_frame_rate(12.5, "25/2");
}

Test(origin_dash, max_attributes_over_the_ladder)
{
    const cir_asset_t *a = ladder();

    fx.r[2].frame_rate = 60;
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect(contains("maxWidth=\"1920\" maxHeight=\"1080\" "
                       "maxFrameRate=\"60\""),
              "%s", out.data);
}

Test(origin_dash, audio_set_per_language)
{
    const cir_asset_t *a = ladder();

    fx.r[2] = fx.r[3];
    fx.r[2].id = "audio-fr";
    fx.r[2].language = "fr";
    fx.r[3].language = NULL;
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect_eq(count("<AdaptationSet "), 4);
    cr_expect(contains("<AdaptationSet id=\"1\" contentType=\"audio\" "
                       "mimeType=\"audio/mp4\" segmentAlignment=\"true\" "
                       "lang=\"fr\">\n"
                       "      <Representation id=\"audio-fr\""),
              "%s", out.data);
    cr_expect(contains("segmentAlignment=\"true\" lang=\"und\">\n"
                       "      <Representation id=\"audio\""));
    cr_expect(contains("<AdaptationSet id=\"3\" contentType=\"image\""));
    expect_well_formed(&out);
}

Test(origin_dash, attribute_values_are_escaped)
{
    const cir_asset_t *a = ladder();

    fx.r[0].codecs = "avc1.640028&<x>'";
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect(contains("codecs=\"avc1.640028&amp;&lt;x&gt;&apos;\""), "%s",
              out.data);
    expect_well_formed(&out);
}

/* A sheet of 37.5 s cannot be said with timescale 1: keep it exact. */
Test(origin_dash, fractional_sheet_duration)
{
    const cir_asset_t *a = ladder();

    fx.a.thumbs.interval = 1.5;
    fx.a.thumbs.columns = 5;
    fx.a.thumbs.rows = 5;
    fx.a.thumbs.nb_tiles = 13;
    fx.a.thumbs.nb_sprites = 1;
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect(contains("<SegmentTemplate media=\"thumbs/sprite-$Number$.jpg\" "
                       "duration=\"37500\" timescale=\"1000\" "
                       "startNumber=\"1\"/>"),
              "%s", out.data);
    cr_expect(contains("width=\"800\" height=\"450\""));
    cr_expect(contains("value=\"5x5\""));
}

Test(origin_dash, no_thumbs_no_image_set)
{
    const cir_asset_t *a = ladder();

    fx.a.thumbs.present = 0;
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect(!contains("image/jpeg"));
    cr_expect_eq(count("<AdaptationSet "), 2);
}

/* ---- errors ---- */

Test(origin_dash, invalid_models)
{
    const cir_asset_t *a;
    cir_asset_t empty = {0};

    cr_expect_eq(cir_dash_render_static(&empty, &out), CIR_EINVAL);
    a = ladder();
    fx.a.nb_renditions = 0;
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    a = ladder();
    fx.r[3].timescale = 0;
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    a = ladder();
    fx.r[1].codecs = NULL;
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    a = ladder();
    fx.r[1].codecs = "avc1\"x";
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    a = ladder();
    fx.r[2].id = "360p/..";
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    a = ladder();
    fx.r[3].sample_rate = 0;
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    a = ladder();
    fx.vseg[1][1].start = -1;
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    a = ladder();
    fx.vseg[1][1].start = INT64_C(1) << 53; /* past DASH-IF's 2^53 */
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    a = ladder();
    fx.a.duration = -1;
    cr_expect_eq(cir_dash_render_static(a, &out), CIR_EINVAL);
    cr_expect_eq(out.len, 0);
}

Test(origin_dash, limit)
{
    const cir_asset_t *a = ladder();
    cir_buf_t small;
    size_t len;

    cir_buf_init(&small, 200);
    cr_expect_eq(cir_dash_render_static(a, &small), CIR_ELIMIT);
    cr_expect_eq(small.len, 0);
    cir_buf_free(&small);

    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    len = out.len;
    cir_buf_init(&small, len - 1);
    cr_expect_eq(cir_dash_render_static(a, &small), CIR_ELIMIT);
    cir_buf_free(&small);
    cir_buf_init(&small, len);
    cr_expect_eq(cir_dash_render_static(a, &small), 0);
    cr_expect_eq(memcmp(small.data, out.data, len), 0);
    cir_buf_free(&small);
}
