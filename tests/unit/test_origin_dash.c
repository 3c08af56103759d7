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
#include "asset_fixture.h"
#include "golden.h"

TestSuite(origin_dash, .init = setup, .fini = teardown);

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

/* The video AdaptationSet's SCTE 214 Accessibility descriptor, CC1 with
 * the ISO 639-2 language. */
Test(origin_dash, golden_captioned)
{
    render_golden(captioned(), "captioned.mpd");
}

Test(origin_dash, captions_descriptor_only_when_every_rung_has_them)
{
    cr_assert_eq(cir_dash_render_static(ladder(), &out), 0);
    cr_assert_eq(count("<Accessibility"), 0);
    cir_buf_reset(&out);
    captioned();
    fx.r[2].closed_captions = 0;
    cr_assert_eq(cir_dash_render_static(&fx.a, &out), 0);
    cr_assert_eq(count("<Accessibility"), 0);
    cir_buf_reset(&out);
    captioned();
    fx.a.cc_language = NULL;
    cr_assert_eq(cir_dash_render_static(&fx.a, &out), 0);
    cr_assert_eq(count("value=\"CC1=und\""), 1);
    cir_buf_reset(&out);
    captioned();
    fx.a.cc_language = "fr-CA";
    cr_assert_eq(cir_dash_render_static(&fx.a, &out), 0);
    cr_assert_eq(count("value=\"CC1=fra\""), 1);
}

Test(origin_dash, audio_only)
{
    render_golden(audio_only(), "audio_only.mpd");
}

/* One AdaptationSet per audio rendition, each with its lang and a Role:
 * main for the default, alternate for the other. */
Test(origin_dash, golden_two_audio)
{
    render_golden(two_audio(), "two_audio.mpd");
}

/* The 5.1 E-AC-3 rendition: its own AdaptationSet (an alternate), codecs
 * ec-3 and the Dolby channel map (F801: L C R Ls Rs LFE). */
Test(origin_dash, golden_surround)
{
    render_golden(surround(), "surround.mpd");
}

Test(origin_dash, dolby_channel_configuration_for_ac3_and_ec3_only)
{
    const cir_asset_t *a = surround();

    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect_eq(count("schemeIdUri=\"tag:dolby.com,2014:dash:audio_channel_"
                       "configuration:2011\" value=\"F801\""),
                 1, "%s", out.data);
    cr_expect_eq(count("audio_channel_configuration:2011\" value=\"2\""), 1,
                 "the AAC track keeps the MPEG scheme");
    fx.r[4].codecs = "ac-3";
    fx.r[4].channels = 2;
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect_eq(count("value=\"A000\""), 1, "%s", out.data);
    fx.r[4].channels = 5; /* no usual Dolby layout: the count */
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect_eq(count("dolby"), 0, "%s", out.data);
    cr_expect_eq(count("value=\"5\""), 1, "%s", out.data);
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

Test(origin_dash, audio_set_per_rendition)
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
                       "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
                       "value=\"main\"/>\n"
                       "      <Representation id=\"audio-fr\""),
              "%s", out.data);
    cr_expect(contains("segmentAlignment=\"true\" lang=\"und\">\n"
                       "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
                       "value=\"alternate\"/>\n"
                       "      <Representation id=\"audio\""));
    cr_expect(contains("<AdaptationSet id=\"3\" contentType=\"image\""));
    expect_well_formed(&out);
}

/* Two tracks of one language (a main mix and a commentary) are two
 * choices, not two bitrates of one: two sets. */
Test(origin_dash, same_language_tracks_are_separate_sets)
{
    const cir_asset_t *a = two_audio();

    fx.r[4].language = "en";
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect_eq(count("contentType=\"audio\""), 2, "%s", out.data);
    cr_expect_eq(count("lang=\"en\""), 2);
    expect_well_formed(&out);
}

/* The model's default is main, wherever it is; a lone track has no
 * Role (single-track MPDs are unchanged). */
Test(origin_dash, role_main_follows_the_default)
{
    const cir_asset_t *a = two_audio();

    fx.r[3].is_default = 0;
    fx.r[4].is_default = 1;
    cr_assert_eq(cir_dash_render_static(a, &out), 0);
    cr_expect(contains("lang=\"fr\">\n      <Role schemeIdUri=\"urn:mpeg:dash:"
                       "role:2011\" value=\"main\"/>"),
              "%s", out.data);
    cr_expect(contains("lang=\"en\">\n      <Role schemeIdUri=\"urn:mpeg:dash:"
                       "role:2011\" value=\"alternate\"/>"));
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_static(ladder(), &out), 0);
    cr_expect(!contains("<Role"));
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

/* The top-level MPD of a published version: the same MPD with a BaseURL
 * into the version, before the Period. */
Test(origin_dash, base_url_points_into_the_version)
{
    cir_asset_t a = *ladder();
    const char *line = "  <BaseURL>v/20261206T1Z-ab/</BaseURL>\n";
    char *plain, *based, *p;

    cr_assert_eq(cir_dash_render_static(&a, &out), 0);
    plain = strndup(out.data, out.len);
    cir_buf_reset(&out);
    a.base = "v/20261206T1Z-ab/";
    cr_assert_eq(cir_dash_render_static(&a, &out), 0);
    based = strndup(out.data, out.len);
    p = strstr(based, line);
    cr_assert_not_null(p, "%s", based);
    cr_assert(strncmp(p + strlen(line), "  <Period", 9) == 0);
    memmove(p, p + strlen(line), strlen(p + strlen(line)) + 1);
    cr_assert_str_eq(based, plain);
    a.base = "v/<x>/";
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_static(&a, &out), CIR_EINVAL);
    free(plain);
    free(based);
}

/* Encrypted: xmlns:cenc, and in the video and audio AdaptationSets (first,
 * before Accessibility/Role) mp4protection with cenc:default_KID and the
 * ClearKey system; the thumbnail set stays clear. */
Test(origin_dash, golden_encrypted)
{
    static const cir_protection_t cenc = {
        .scheme = CIR_ENC_CENC,
        .key_id = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23,
                   0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}};
    cir_asset_t a = *captioned();

    a.protection = &cenc;
    render_golden(&a, "captioned_cenc.mpd");
    cr_expect_eq(count("urn:mpeg:dash:mp4protection:2011\" value=\"cenc\" "
                       "cenc:default_KID=\"01234567-89ab-cdef-0123-"
                       "456789abcdef\""),
                 2);
    cr_expect_eq(count("urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"), 2);
    cr_expect_lt(strstr(out.data, "ContentProtection"),
                 strstr(out.data, "<Accessibility"));
}

Test(origin_dash, unknown_scheme_is_refused)
{
    static const cir_protection_t bad = {.scheme = CIR_ENC_NONE};
    cir_asset_t a = *ladder();

    a.protection = &bad;
    cr_assert_eq(cir_dash_render_static(&a, &out), CIR_EINVAL);
}
