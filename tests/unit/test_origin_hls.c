/*
 * HLS renderers: golden files for whole playlists, and the rules behind
 * them (target duration rounding, validation, bounded output).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_manifest.h"
#include "asset_fixture.h"
#include "golden.h"

TestSuite(origin_hls, .init = setup, .fini = teardown);

/* One video rendition with the given segment durations (90 kHz). */
static const cir_asset_t *
video_with(const int64_t *durs, size_t n)
{
    memset(&fx, 0, sizeof(fx));
    fx.r[0] = video("v", "avc1.64001f", 1280, 720, 25.0, 3000000, 2000000);
    fill_segments(fx.vseg[0], 0, durs, n, 1);
    fx.r[0].segments = fx.vseg[0];
    fx.r[0].nb_segments = n;
    fx.a.duration = 20;
    fx.a.renditions = fx.r;
    fx.a.nb_renditions = 1;
    return &fx.a;
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

/* ---- golden playlists ---- */

Test(origin_hls, ladder_master)
{
    cr_assert_eq(cir_hls_render_master(ladder(), &out), 0);
    check_golden("ladder_master.m3u8", &out);
}

Test(origin_hls, ladder_media_video)
{
    const cir_asset_t *a = ladder();

    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    check_golden("ladder_1080p_index.m3u8", &out);
}

Test(origin_hls, ladder_media_audio)
{
    const cir_asset_t *a = ladder();

    cr_assert_eq(cir_hls_render_media(a, &a->renditions[3], &out), 0);
    check_golden("ladder_audio_index.m3u8", &out);
}

Test(origin_hls, ladder_iframes)
{
    const cir_asset_t *a = ladder();

    cr_assert_eq(cir_hls_render_iframes(a, &a->renditions[0], &out), 0);
    check_golden("ladder_1080p_iframes.m3u8", &out);
}

Test(origin_hls, ladder_images)
{
    cr_assert_eq(cir_hls_render_images(ladder(), &out), 0);
    check_golden("ladder_images.m3u8", &out);
}

Test(origin_hls, audio_only_master)
{
    cr_assert_eq(cir_hls_render_master(audio_only(), &out), 0);
    check_golden("audio_only_master.m3u8", &out);
}

/* Two EXT-X-MEDIA in the one group every variant names, LANGUAGE and
 * NAME from the model, DEFAULT=YES on the default only. */
Test(origin_hls, golden_two_audio_master)
{
    cr_assert_eq(cir_hls_render_master(two_audio(), &out), 0);
    check_golden("two_audio_master.m3u8", &out);
}

Test(origin_hls, audio_only_media)
{
    const cir_asset_t *a = audio_only();

    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    check_golden("audio_only_index.m3u8", &out);
}

Test(origin_hls, video_only_2997_master)
{
    cr_assert_eq(cir_hls_render_master(video_only_2997(), &out), 0);
    check_golden("video_only_2997_master.m3u8", &out);
}

Test(origin_hls, video_only_2997_media)
{
    const cir_asset_t *a = video_only_2997();

    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    check_golden("video_only_2997_index.m3u8", &out);
}

/* The captions' EXT-X-MEDIA (group "cc", CC1, the language's name) and
 * CLOSED-CAPTIONS="cc" on every variant. */
Test(origin_hls, golden_captioned_master)
{
    cr_assert_eq(cir_hls_render_master(captioned(), &out), 0);
    check_golden("captioned_master.m3u8", &out);
}

/* ---- rules ---- */

static size_t
occurrences(const char *needle)
{
    size_t n = 0;

    for (const char *p = out.data; (p = strstr(p, needle)) != NULL;
         p += strlen(needle)) {
        n++;
    }
    return n;
}

/* No captions: no CLOSED-CAPTIONS attribute at all (not even NONE). */
Test(origin_hls, no_captions_no_closed_captions_attribute)
{
    cr_assert_eq(cir_hls_render_master(ladder(), &out), 0);
    cr_assert_null(strstr(out.data, "CLOSED-CAPTIONS"));
}

/* A language without a known name: NAME "Captions"; none: "und". */
Test(origin_hls, captions_language_name_and_und)
{
    const cir_asset_t *a = captioned();

    fx.a.cc_language = "x-klingon";
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_assert_not_null(strstr(out.data, "NAME=\"Captions\",LANGUAGE=\"x-"
                                        "klingon\""));
    cir_buf_reset(&out);
    fx.a.cc_language = NULL;
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_assert_not_null(strstr(out.data, "LANGUAGE=\"und\",INSTREAM-ID="));
}

/* A rung that does not carry them (an HEVC rung beside H.264 ones) names
 * no group; the others do; one EXT-X-MEDIA. */
Test(origin_hls, only_captioned_variants_name_the_group)
{
    captioned();
    fx.r[1].closed_captions = 0;
    cr_assert_eq(cir_hls_render_master(&fx.a, &out), 0);
    cr_assert_eq(occurrences("CLOSED-CAPTIONS=\"cc\""), 2);
    cr_assert_eq(occurrences("TYPE=CLOSED-CAPTIONS"), 1);
    cr_assert_null(strstr(out.data, "CLOSED-CAPTIONS=NONE"));
    cr_assert_not_null(strstr(out.data, "AUDIO=\"audio\"\n"
                                        "720p/index.m3u8"));
}

Test(origin_hls, unsafe_captions_language_is_refused)
{
    captioned();
    fx.a.cc_language = "en\",X=\"1";
    cr_assert_eq(cir_hls_render_master(&fx.a, &out), CIR_EINVAL);
}

Test(origin_hls, target_duration_rounds_half_up)
{
    static const int64_t d64[] = {576000, 576000, 270000}; /* 6.4, 6.4, 3 */
    static const int64_t d65[] = {540000, 585000, 270000}; /* 6, 6.5, 3 */
    static const int64_t d649[] = {584999};                /* 6.49998... */
    const cir_asset_t *a;

    a = video_with(d64, 3);
    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    cr_expect(contains("#EXT-X-TARGETDURATION:6\n"), "%s", out.data);
    cr_expect(contains("#EXTINF:6.400000,\nseg-1.m4s\n"));
    cr_expect(contains("#EXTINF:3.000000,\nseg-3.m4s\n#EXT-X-ENDLIST\n"));

    cir_buf_reset(&out);
    a = video_with(d65, 3);
    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    cr_expect(contains("#EXT-X-TARGETDURATION:7\n"), "%s", out.data);
    cr_expect(contains("#EXTINF:6.500000,\nseg-2.m4s\n"));

    cir_buf_reset(&out);
    a = video_with(d649, 1);
    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    cr_expect(contains("#EXT-X-TARGETDURATION:6\n"), "%s", out.data);
    cr_expect(contains("#EXTINF:6.499989,\n"), "%s", out.data);
}

Test(origin_hls, target_duration_at_least_one)
{
    static const int64_t d[] = {36000, 36000}; /* 0.4 s */
    const cir_asset_t *a = video_with(d, 2);

    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    cr_expect(contains("#EXT-X-TARGETDURATION:1\n"), "%s", out.data);
    cr_expect(contains("#EXTINF:0.400000,\n"));
}

/* All variants of an asset share one TD (RFC 8216bis 6.2.4): a long audio
 * segment raises the video playlist's TD too. */
Test(origin_hls, target_duration_is_shared_by_variants)
{
    const cir_asset_t *a = ladder();

    fx.aseg[1].duration = 6 * A_TS + A_TS / 2; /* 6.5 s */
    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    cr_expect(contains("#EXT-X-TARGETDURATION:7\n"), "%s", out.data);
    cr_expect(contains("#EXTINF:6.000000,\nseg-1.m4s\n"));
}

Test(origin_hls, extinf_sums_match_the_timeline)
{
    const cir_asset_t *a = video_only_2997();

    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    cr_expect(contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
    cr_expect(contains("#EXTINF:6.006000,\nseg-0.m4s\n"));
    cr_expect(contains("#EXTINF:2.002000,\nseg-3.m4s\n#EXT-X-ENDLIST\n"));
    cr_expect(contains("#EXT-X-INDEPENDENT-SEGMENTS\n"));
}

/* A video that starts 0.5 s after its audio (the offset is in the video's
 * tfdt): each media playlist dates its first segment on one clock, so
 * players that line renditions up by playlist position keep them in sync. */
Test(origin_hls, renditions_starting_apart_are_dated)
{
    const cir_asset_t *a = ladder();

    for (size_t i = 0; i < 3; i++) {
        for (size_t k = 0; k < 4; k++) {
            fx.vseg[i][k].start += V_TS / 2;
        }
    }
    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    cr_expect(contains("#EXT-X-MAP:URI=\"init.mp4\"\n"
                       "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.500Z\n"
                       "#EXTINF:6.000000,\nseg-1.m4s\n"));
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_media(a, &a->renditions[3], &out), 0);
    cr_expect(contains("#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z\n"
                       "#EXTINF:"));
    /* the I-frame playlist is on the same clock as its rendition */
    for (size_t i = 0; i < 3; i++) {
        for (size_t k = 0; k < fx.r[i].nb_iframes; k++) {
            fx.ifr[i][k].start += V_TS / 2;
        }
    }
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_iframes(a, &a->renditions[0], &out), 0);
    cr_expect(contains("#EXT-X-I-FRAMES-ONLY\n#EXT-X-MAP:URI=\"init.mp4\"\n"
                       "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.500Z\n"));
}

Test(origin_hls, renditions_starting_together_are_not_dated)
{
    const cir_asset_t *a = ladder();

    cr_assert_eq(cir_hls_render_media(a, &a->renditions[0], &out), 0);
    cr_expect(!contains("PROGRAM-DATE-TIME"));
}

Test(origin_hls, image_stream_resolution_is_one_tile)
{
    /* the Image Media Playlist convention: RESOLUTION as in EXT-X-TILES,
     * one tile, which players multiply by LAYOUT */
    cr_assert_eq(cir_hls_render_master(ladder(), &out), 0);
    cr_expect(contains("#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=48000,"
                       "RESOLUTION=160x90,"));
}

Test(origin_hls, audio_media_has_no_independent_segments_tag)
{
    const cir_asset_t *a = ladder();

    cr_assert_eq(cir_hls_render_media(a, &a->renditions[3], &out), 0);
    cr_expect(!contains("INDEPENDENT-SEGMENTS"));
    cr_expect(contains("#EXT-X-MAP:URI=\"init.mp4\"\n"));
}

/* Two audio codecs (an E-AC-3 track beside an AAC one): a group each,
 * each with its own default, and every video variant once per group with
 * only that group's codec and bandwidth (a client that cannot decode
 * E-AC-3 skips those variants, not the AAC ones). */
Test(origin_hls, two_audio_codecs_two_groups)
{
    const cir_asset_t *a = ladder();

    fx.r[2] = fx.r[3];
    fx.r[2].id = "audio-fr";
    fx.r[2].language = "fr";
    fx.r[2].codecs = "ec-3";
    fx.r[2].channels = 6;
    fx.r[2].bandwidth = 400000;
    fx.r[2].average_bandwidth = 384000;
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_expect(contains("GROUP-ID=\"audio\",NAME=\"audio-fr\",LANGUAGE=\"fr\","
                       "DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"6\","
                       "URI=\"audio-fr/index.m3u8\"\n"),
              "%s", out.data);
    cr_expect(contains("GROUP-ID=\"audio-mp4a\",NAME=\"audio\","
                       "LANGUAGE=\"en\",DEFAULT=YES,"));
    cr_expect(contains("#EXT-X-STREAM-INF:BANDWIDTH=6400000,"
                       "AVERAGE-BANDWIDTH=5384000,"
                       "CODECS=\"avc1.640028,ec-3\",RESOLUTION=1920x1080,"
                       "FRAME-RATE=30.000,AUDIO=\"audio\"\n"),
              "%s", out.data);
    cr_expect(contains("#EXT-X-STREAM-INF:BANDWIDTH=6130000,"
                       "AVERAGE-BANDWIDTH=5128000,"
                       "CODECS=\"avc1.640028,mp4a.40.2\",RESOLUTION=1920x1080,"
                       "FRAME-RATE=30.000,AUDIO=\"audio-mp4a\"\n"),
              "%s", out.data);
    cr_expect(!contains("ec-3,mp4a"), "no variant asks for both codecs");
    cr_expect_eq(count("1080p/index.m3u8\n"), 2, "%s", out.data);
}

/* The surround case: a track's stereo AAC and its 5.1 E-AC-3 under the
 * same NAME, "audio" and "audio-ec-3", the ladder twice. */
Test(origin_hls, golden_surround_master)
{
    cr_assert_eq(cir_hls_render_master(surround(), &out), 0);
    check_golden("surround_master.m3u8", &out);
}

/* The model's default wins over the first; NAME falls back to the id. */
Test(origin_hls, default_audio_is_the_one_the_model_marks)
{
    const cir_asset_t *a = two_audio();

    fx.r[3].is_default = 0;
    fx.r[3].name = NULL;
    fx.r[4].is_default = 1;
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_expect(contains("NAME=\"audio\",LANGUAGE=\"en\",DEFAULT=NO,"), "%s",
              out.data);
    cr_expect(contains("NAME=\"Fran\xc3\xa7"
                       "ais\",LANGUAGE=\"fr\","
                       "DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"6\","));
}

/* A NAME is an HLS quoted-string: no '"', no line break, bounded. */
Test(origin_hls, unsafe_audio_names_are_refused)
{
    static char long_name[300];
    const cir_asset_t *a = two_audio();

    fx.r[4].name = "Fran\"ais";
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    fx.r[4].name = "Fran\nais";
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    fx.r[4].name = "";
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    memset(long_name, 'a', sizeof(long_name) - 1);
    fx.r[4].name = long_name;
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    fx.r[4].name = "Fran\xc3\xa7"
                   "ais (qu\xc3\xa9"
                   "b\xc3\xa9"
                   "cois), 5.1";
    cr_expect_eq(cir_hls_render_master(a, &out), 0);
}

Test(origin_hls, duplicate_audio_codecs_listed_once)
{
    const cir_asset_t *a = ladder();

    fx.r[2] = fx.r[3];
    fx.r[2].id = "audio-de";
    fx.r[2].language = "de";
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_expect(contains("CODECS=\"avc1.640028,mp4a.40.2\""), "%s", out.data);
}

Test(origin_hls, no_iframe_stream_without_iframes)
{
    const cir_asset_t *a = ladder();

    fx.r[1].nb_iframes = 0;
    fx.r[1].iframes = NULL;
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_expect(!contains("720p/iframes.m3u8"));
    cr_expect(contains("1080p/iframes.m3u8"));
    cr_expect(contains("360p/iframes.m3u8"));
    cr_expect_eq(cir_hls_render_iframes(a, &a->renditions[1], &out),
                 CIR_EINVAL);
}

Test(origin_hls, missing_language_is_und)
{
    const cir_asset_t *a = ladder();

    fx.r[3].language = NULL;
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_expect(contains("LANGUAGE=\"und\""));
}

Test(origin_hls, no_image_stream_without_thumbs)
{
    const cir_asset_t *a = ladder();

    fx.a.thumbs.present = 0;
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_expect(!contains("IMAGE-STREAM-INF"));
    cr_expect_eq(cir_hls_render_images(a, &out), CIR_EINVAL);
}

Test(origin_hls, image_playlist_single_partial_sheet)
{
    const cir_asset_t *a = ladder();

    fx.a.thumbs.nb_tiles = 4;
    fx.a.thumbs.nb_sprites = 1;
    fx.a.duration = 7.25;
    cr_assert_eq(cir_hls_render_images(a, &out), 0);
    cr_expect(contains("#EXT-X-TARGETDURATION:7\n"), "%s", out.data);
    cr_expect(contains("#EXTINF:7.250,\n#EXT-X-TILES:RESOLUTION=160x90,"
                       "LAYOUT=3x2,DURATION=2.000\nsprite-1.jpg\n"
                       "#EXT-X-ENDLIST\n"),
              "%s", out.data);
}

/* ---- errors ---- */

Test(origin_hls, invalid_models)
{
    const cir_asset_t *a;
    cir_asset_t empty = {0};

    cr_expect_eq(cir_hls_render_master(&empty, &out), CIR_EINVAL);

    a = ladder();
    fx.r[1].timescale = 0;
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    cr_expect_eq(cir_hls_render_media(a, &a->renditions[0], &out), CIR_EINVAL);

    a = ladder();
    fx.r[0].codecs = NULL;
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);

    a = ladder();
    fx.r[0].id = "../etc";
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    fx.r[0].id = "a b";
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    fx.r[0].id = "";
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    fx.r[0].id = "thumbs";
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    fx.r[0].id = "720p"; /* same folder as rendition 1 */
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);
    fx.r[0].id = "Hi_Res-1";
    cr_expect_eq(cir_hls_render_master(a, &out), 0);

    a = ladder();
    fx.r[3].language = "en\"x";
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);

    a = ladder();
    fx.vseg[0][2].duration = 0;
    cr_expect_eq(cir_hls_render_media(a, &a->renditions[0], &out), CIR_EINVAL);

    a = ladder();
    fx.ifr[0][3].segment = 9; /* past the last segment */
    cr_expect_eq(cir_hls_render_iframes(a, &a->renditions[0], &out),
                 CIR_EINVAL);

    a = ladder();
    fx.r[0].frame_rate = 0;
    cr_expect_eq(cir_hls_render_master(a, &out), CIR_EINVAL);

    a = ladder();
    fx.a.thumbs.nb_sprites = 3; /* 10 tiles fit on 2 sheets of 6 */
    cr_expect_eq(cir_hls_render_images(a, &out), CIR_EINVAL);

    a = ladder();
    cir_buf_reset(&out);
    cr_expect_eq(cir_hls_render_iframes(a, &a->renditions[3], &out),
                 CIR_EINVAL);
    cr_expect_eq(out.len, 0);
}

Test(origin_hls, limit_leaves_buffer_as_it_was)
{
    const cir_asset_t *a = ladder();
    cir_buf_t small;

    cir_buf_init(&small, 64);
    cr_assert_eq(cir_buf_puts(&small, "keep"), 0);
    cr_expect_eq(cir_hls_render_master(a, &small), CIR_ELIMIT);
    cr_expect_eq(cir_hls_render_media(a, &a->renditions[0], &small),
                 CIR_ELIMIT);
    cr_expect_eq(cir_hls_render_iframes(a, &a->renditions[0], &small),
                 CIR_ELIMIT);
    cr_expect_eq(cir_hls_render_images(a, &small), CIR_ELIMIT);
    cr_expect_eq(small.len, 4);
    cr_expect_str_eq(small.data, "keep");
    cir_buf_free(&small);
}

Test(origin_hls, appends_and_is_deterministic)
{
    const cir_asset_t *a = ladder();
    cir_buf_t second;
    size_t len;

    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    len = out.len;
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_assert_eq(out.len, 2 * len);
    cr_expect_eq(memcmp(out.data, out.data + len, len), 0);

    /* exactly the size of the output is enough */
    cir_buf_init(&second, len);
    cr_expect_eq(cir_hls_render_master(a, &second), 0);
    cr_expect_eq(second.len, len);
    cir_buf_free(&second);
}

/* ---- the top-level master of a published version ---- */

/* text with every occurrence of what removed (in place). */
static void
remove_all(char *text, const char *what)
{
    size_t n = strlen(what);
    char *p;

    while ((p = strstr(text, what)) != NULL) {
        memmove(p, p + n, strlen(p + n) + 1);
    }
}

Test(origin_hls, master_with_a_base_points_every_uri_into_the_version)
{
    cir_asset_t a = *ladder();
    char *plain, *based;
    size_t uris = 0;

    cr_assert_eq(cir_hls_render_master(&a, &out), 0);
    plain = strndup(out.data, out.len);
    cir_buf_reset(&out);
    a.base = "v/20261206T1Z-ab/";
    cr_assert_eq(cir_hls_render_master(&a, &out), 0);
    based = strndup(out.data, out.len);
    /* every URI (a line that is no tag, a URI="" attribute) is prefixed */
    for (char *line = based; line && *line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (*line != '#' && *line != '\n' && *line != '\0') {
            cr_assert(strncmp(line, a.base, strlen(a.base)) == 0, "%.60s",
                      line);
            uris++;
        }
    }
    for (char *p = based; (p = strstr(p, "URI=\"")) != NULL; p += 5) {
        cr_assert(strncmp(p + 5, a.base, strlen(a.base)) == 0, "%.60s", p);
        uris++;
    }
    cr_assert_eq(uris, 3 + 1 + 3 + 1, "3 rungs, audio, 3 I-frame, images");
    remove_all(based, a.base);
    cr_assert_str_eq(based, plain, "nothing else changes");
    free(plain);
    free(based);
}

Test(origin_hls, master_refuses_a_base_that_needs_escaping)
{
    const char *bad[] = {"../", "v/x", "v//", "/v/", "v/a b/", "v/\"/"};
    cir_asset_t a = *ladder();

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a.base = bad[i];
        cr_assert_eq(cir_hls_render_master(&a, &out), CIR_EINVAL, "%s", bad[i]);
        cr_assert_eq(out.len, 0);
    }
}

/* Encrypted: EXT-X-SESSION-KEY in the master; EXT-X-KEY before EXT-X-MAP
 * in the media and I-frame playlists (SAMPLE-AES for cbcs), none in the
 * image playlist. */
Test(origin_hls, golden_encrypted)
{
    static const cir_protection_t cbcs = {
        .scheme = CIR_ENC_CBCS,
        .key_id = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23,
                   0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}};
    static const char key[] =
        "METHOD=SAMPLE-AES,URI=\"data:text/plain;base64,ASNFZ4mrze8BI0VniavN7w"
        "==\",KEYFORMAT=\"org.w3.clearkey\",KEYFORMATVERSIONS=\"1\"\n";
    char line[256];
    cir_asset_t a = *ladder();

    a.protection = &cbcs;
    cr_assert_eq(cir_hls_render_master(&a, &out), 0);
    check_golden("ladder_cbcs_master.m3u8", &out);
    snprintf(line, sizeof(line), "#EXT-X-SESSION-KEY:%s", key);
    cr_expect(contains(line), "%s", out.data);
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_media(&a, &a.renditions[3], &out), 0);
    check_golden("ladder_cbcs_audio_index.m3u8", &out);
    snprintf(line, sizeof(line), "#EXT-X-KEY:%s#EXT-X-MAP", key);
    cr_expect(contains(line), "%s", out.data);
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_iframes(&a, &a.renditions[0], &out), 0);
    cr_expect(contains(line), "%s", out.data);
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_images(&a, &out), 0);
    cr_expect(!contains("KEY"), "%s", out.data);
}
