/*
 * Live LL-HLS rendering: golden playlists (parts + preload hint, a
 * discontinuity with two inits, delta update, ended, rendition reports,
 * live master, its session key) and the rules behind them.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_origin.h"
#include "live_fixture.h"
#include "golden.h"

static fx_t fa, fb, fc;
static cir_buf_t out;

static void
setup(void)
{
    cir_buf_init(&out, 1 << 20);
}

static void
teardown(void)
{
    cir_buf_free(&out);
}

TestSuite(hls_live, .init = setup, .fini = teardown);

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

Test(hls_live, parts_and_preload_hint)
{
    fx_live(&fa, "720p", 6, 2);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out), 0);
    check_golden("live_parts.m3u8", &out);
    cr_expect(strstr(out.data, "#EXT-X-VERSION:9\n") != NULL);
    cr_expect(strstr(out.data,
                     "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
                     "CAN-SKIP-UNTIL=24,PART-HOLD-BACK=3.000,HOLD-BACK=12\n") !=
              NULL);
    cr_expect(strstr(out.data, "#EXT-X-PART-INF:PART-TARGET=1.000\n") != NULL);
    cr_expect(strstr(out.data, "#EXT-X-MEDIA-SEQUENCE:100\n") != NULL);
    /* parts on the last three segments only (RFC 8216bis 4.4.4.9): 2
     * complete segments x 4 parts + 2 open parts */
    cr_expect_eq(count(out.data, "#EXT-X-PART:"), 10);
    cr_expect_eq(count(out.data, "#EXTINF:"), 6);
    cr_expect_eq(count(out.data, "#EXT-X-MAP:"), 1);
    cr_expect_eq(count(out.data, "#EXT-X-PROGRAM-DATE-TIME:"), 7);
    cr_expect(strstr(out.data, "#EXT-X-PRELOAD-HINT:TYPE=PART,"
                               "URI=\"part-106.2.m4s\"\n") != NULL);
    cr_expect(strstr(out.data, "#EXT-X-ENDLIST") == NULL);
}

Test(hls_live, hint_after_a_complete_segment)
{
    fx_live(&fa, "720p", 4, -1);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out), 0);
    cr_expect(strstr(out.data, "URI=\"part-104.0.m4s\"\n") != NULL, "%s",
              out.data);
}

Test(hls_live, discontinuity_and_two_inits)
{
    cir_live_segment_t *s;

    fx_init(&fa, "720p", CIR_LIVE_VIDEO, 40);
    fa.idx.discontinuity_sequence = 2;
    fx_add(&fa, 4, 1, 0);
    fx_add(&fa, 4, 1, 0);
    fa.idx.init_id = 2;
    s = fx_add(&fa, 4, 1, 1);
    s->discontinuity = 1;
    s->start += 900000; /* a timestamp jump */
    s->pdt_us += 20000000;
    fx_add(&fa, 3, 1, 1)->pdt_us += 20000000;
    fx_add(&fa, 1, 0, 1)->pdt_us += 20000000;
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out), 0);
    check_golden("live_discontinuity.m3u8", &out);
    cr_expect(strstr(out.data, "#EXT-X-DISCONTINUITY-SEQUENCE:2\n") != NULL);
    cr_expect(strstr(out.data, "seg-41.m4s\n#EXT-X-DISCONTINUITY\n"
                               "#EXT-X-MAP:URI=\"init-2.mp4\"\n"
                               "#EXT-X-PROGRAM-DATE-TIME:") != NULL,
              "%s", out.data);
    cr_expect_eq(count(out.data, "#EXT-X-MAP:"), 2);
}

Test(hls_live, delta_update_skips_old_segments)
{
    char *full;

    fx_live(&fa, "720p", 10, 2);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out), 0);
    full = strdup(out.data);
    cir_buf_reset(&out);
    {
        cir_hls_directives_t d = {.skip = CIR_SKIP_YES};
        cr_assert_eq(cir_hls_render_live_media(&fa.idx, &d, NULL, 0, &out), 0);
    }
    check_golden("live_skip.m3u8", &out);
    /* 42 s listed, skip boundary 24 s before the end: 4 segments (16 s)
     * end before it */
    cr_expect(strstr(out.data, "#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "#EXT-X-MEDIA-SEQUENCE:100\n") != NULL);
    cr_expect(strstr(out.data, "seg-103.m4s") == NULL);
    cr_expect(strstr(out.data, "seg-104.m4s") != NULL);
    /* the first listed segment keeps its MAP and PDT */
    cr_expect(strstr(out.data, "SKIPPED-SEGMENTS=4\n#EXT-X-MAP:URI=\"init-1."
                               "mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:"
                               "00:16.000Z\n") != NULL);
    /* the tail is the same as the full playlist's */
    cr_expect(strstr(full, strstr(out.data, "#EXTINF:")) != NULL);
    free(full);
    /* v2 */
    cir_buf_reset(&out);
    {
        cir_hls_directives_t d = {.skip = CIR_SKIP_V2};
        cr_assert_eq(cir_hls_render_live_media(&fa.idx, &d, NULL, 0, &out), 0);
    }
    cr_expect(strstr(out.data, "#EXT-X-VERSION:10\n") != NULL);
    cr_expect(strstr(out.data, "SKIPPED-SEGMENTS=4,RECENTLY-REMOVED-"
                               "DATERANGES=\"\"\n") != NULL);
    /* too short to skip anything */
    fx_live(&fa, "720p", 5, 2);
    cir_buf_reset(&out);
    {
        cir_hls_directives_t d = {.skip = CIR_SKIP_YES};
        cr_assert_eq(cir_hls_render_live_media(&fa.idx, &d, NULL, 0, &out), 0);
    }
    cr_expect(strstr(out.data, "#EXT-X-SKIP") == NULL);
}

Test(hls_live, ended_stream)
{
    cir_hls_directives_t d = {.skip = CIR_SKIP_YES};

    fx_live(&fa, "720p", 10, -1);
    fa.idx.ended = 1;
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, &d, NULL, 0, &out), 0);
    check_golden("live_ended.m3u8", &out);
    cr_expect(strstr(out.data, "#EXT-X-ENDLIST\n") != NULL);
    cr_expect(strstr(out.data, "PRELOAD-HINT") == NULL);
    cr_expect(strstr(out.data, "#EXT-X-SKIP") == NULL); /* Q3 */
    cr_expect(strstr(out.data, "CAN-SKIP-UNTIL") == NULL);
    cr_expect(strstr(out.data, "#EXT-X-VERSION:6\n") != NULL);
}

/* An ended stream that had an outage lists EXT-X-GAP: version 8 for it. */
Test(hls_live, ended_stream_with_a_gap_is_version_8)
{
    fx_live(&fa, "720p", 10, -1);
    fa.idx.segments[4].gap = 1;
    fa.idx.ended = 1;
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out), 0);
    cr_expect(strstr(out.data, "#EXT-X-GAP\n") != NULL, "%s", out.data);
    cr_expect(strstr(out.data, "#EXT-X-VERSION:8\n") != NULL, "%s", out.data);
}

Test(hls_live, rendition_reports)
{
    cir_rendition_report_t r[2] = {
        {.last_msn = 106, .last_part = 1, .uri = "../360p/index.m3u8"},
        {.last_msn = 105, .last_part = -1, .uri = "../audio/index.m3u8"},
    };

    fx_live(&fa, "720p", 6, 2);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, r, 2, &out), 0);
    check_golden("live_reports.m3u8", &out);
    cr_expect(strstr(out.data,
                     "#EXT-X-RENDITION-REPORT:URI=\"../360p/"
                     "index.m3u8\",LAST-MSN=106,LAST-PART=1\n") != NULL);
    cr_expect(strstr(out.data, "#EXT-X-RENDITION-REPORT:URI=\"../audio/"
                               "index.m3u8\",LAST-MSN=105\n") != NULL);
    /* a quote in a URI would break the attribute list */
    r[0].uri = "a\"b";
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, r, 2, &out),
                 CIR_EINVAL);
    cr_assert_eq(out.len, 0);
}

Test(hls_live, live_master)
{
    const cir_live_index_t *tracks[3];

    fx_live(&fa, "720p", 3, 1);
    fx_live(&fb, "360p", 3, 1);
    fb.idx.track.width = 640;
    fb.idx.track.height = 360;
    fb.idx.track.bandwidth = 800000;
    fb.idx.track.average_bandwidth = 700000;
    snprintf(fb.idx.track.codecs, 64, "avc1.64001e");
    fx_init(&fc, "audio", CIR_LIVE_AUDIO, 100);
    fx_add(&fc, 4, 1, 1);
    tracks[0] = &fa.idx;
    tracks[1] = &fb.idx;
    tracks[2] = &fc.idx;
    cr_assert_eq(cir_hls_render_live_master(tracks, 3, &out), 0);
    check_golden("live_master.m3u8", &out);
    cr_expect(strstr(out.data, "#EXT-X-INDEPENDENT-SEGMENTS\n") != NULL);
    cr_expect(strstr(out.data,
                     "#EXT-X-STREAM-INF:BANDWIDTH=3128000,AVERAGE-BANDWIDTH="
                     "2628000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION="
                     "1280x720,FRAME-RATE=30.000,AUDIO=\"audio\"\n720p/"
                     "index.m3u8\n") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "GROUP-ID=\"audio\"") != NULL);
    /* a rendition name that is not a safe folder name */
    snprintf(fb.idx.track.rendition, CIR_LIVE_ID_MAX, "../x");
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_master(tracks, 3, &out), CIR_EINVAL);
}

/* A video whose SEI carries captions: one CLOSED-CAPTIONS rendition, named
 * by the variants that carry them only; none without any. */
Test(hls_live, live_master_signals_closed_captions)
{
    const cir_live_index_t *tracks[3];

    fx_live(&fa, "720p", 3, 1);
    fx_live(&fb, "360p", 3, 1);
    fb.idx.track.width = 640;
    fb.idx.track.height = 360;
    fb.idx.track.bandwidth = 800000;
    snprintf(fb.idx.track.codecs, 64, "avc1.64001e");
    fx_init(&fc, "audio", CIR_LIVE_AUDIO, 100);
    fx_add(&fc, 4, 1, 1);
    tracks[0] = &fa.idx;
    tracks[1] = &fb.idx;
    tracks[2] = &fc.idx;
    cr_assert_eq(cir_hls_render_live_master(tracks, 3, &out), 0);
    cr_expect(strstr(out.data, "CLOSED-CAPTIONS") == NULL, "%s", out.data);

    fa.idx.track.closed_captions = 1;
    fb.idx.track.closed_captions = 1;
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_master(tracks, 3, &out), 0);
    check_golden("live_master_cc.m3u8", &out);
    cr_expect(strstr(out.data,
                     "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\","
                     "NAME=\"Captions\",LANGUAGE=\"und\","
                     "INSTREAM-ID=\"CC1\",DEFAULT=YES,AUTOSELECT=YES\n") !=
                  NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "AUDIO=\"audio\",CLOSED-CAPTIONS=\"cc\"\n720p/"
                               "index.m3u8\n") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "AUDIO=\"audio\",CLOSED-CAPTIONS=\"cc\"\n360p/"
                               "index.m3u8\n") != NULL,
              "%s", out.data);

    /* only the rung that carries them names the group */
    fb.idx.track.closed_captions = 0;
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_master(tracks, 3, &out), 0);
    cr_expect(strstr(out.data, "TYPE=CLOSED-CAPTIONS") != NULL);
    cr_expect(strstr(out.data, "AUDIO=\"audio\"\n360p/index.m3u8\n") != NULL,
              "%s", out.data);
}

Test(hls_live, invalid_index_and_bounded_output)
{
    cir_buf_t small;

    fx_live(&fa, "720p", 6, 2);
    fa.idx.timescale = 0;
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out),
                 CIR_EINVAL);
    fx_live(&fa, "720p", 6, 2);
    cir_buf_init(&small, 200);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &small),
                 CIR_ELIMIT);
    cr_assert_eq(small.len, 0);
    cir_buf_free(&small);
}

/* The header of a media playlist: up to the media sequence. */
static void
header_of(const cir_live_index_t *idx, char *dst, size_t n)
{
    const char *end;

    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_media(idx, NULL, NULL, 0, &out), 0);
    end = strstr(out.data, "#EXT-X-MEDIA-SEQUENCE");
    cr_assert_not_null(end);
    cr_assert_lt((size_t)(end - out.data), n);
    snprintf(dst, n, "%.*s", (int)(end - out.data), out.data);
}

Test(hls_live, one_target_and_server_control_for_every_rendition)
{
    char video[512], audio[512];

    /* video at 90 kHz with 2.002 s segments; AAC at 44.1 kHz with 2.0317 s
     * segments (the stream's TD 2 and PART-TARGET 0.334 either way); each
     * rendition's own part maximum differs (10 frames of 1/30 s; 0.334 s
     * floored into 44.1 kHz) */
    fx_init(&fa, "video", CIR_LIVE_VIDEO, 0);
    fa.idx.timescale = 90000;
    fa.idx.segment_target = 180000;
    fa.idx.part_target = 30000;
    fa.idx.target_duration = 2;
    fa.idx.part_target_us = 334000;
    fx_init(&fb, "audio", CIR_LIVE_AUDIO, 0);
    fb.idx.timescale = 44100;
    fb.idx.segment_target = 88200;
    fb.idx.part_target = 14729;
    fb.idx.target_duration = 2;
    fb.idx.part_target_us = 334000;
    for (int i = 0; i < 4; i++) {
        cir_live_segment_t *v = fx_add(&fa, 1, 1, 0);
        cir_live_segment_t *a = fx_add(&fb, 1, 1, 0);
        v->start = i * 180180;
        v->duration = 180180;
        a->start = i * 89600;
        a->duration = 89600;
    }
    header_of(&fa.idx, video, sizeof(video));
    header_of(&fb.idx, audio, sizeof(audio));
    cr_assert_str_eq(video, audio);
    cr_assert(strstr(video, "#EXT-X-TARGETDURATION:2\n") != NULL, "%s", video);
    /* PART-HOLD-BACK is 3 x PART-TARGET as printed */
    cr_assert(strstr(video, "PART-HOLD-BACK=1.002,") != NULL, "%s", video);
    cr_assert(strstr(video, "#EXT-X-PART-INF:PART-TARGET=0.334\n") != NULL,
              "%s", video);
}

Test(hls_live, the_target_duration_does_not_follow_a_long_segment)
{
    /* a segment of 4.4 s (a source's late keyframe) in a stream whose
     * target is 4: EXTINF 4.4 rounds to 4; the target stays */
    fx_live(&fa, "720p", 4, -1);
    fa.segs[2].duration = 4 * TS + 4 * TS / 10;
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out), 0);
    cr_assert(strstr(out.data, "#EXT-X-TARGETDURATION:4\n") != NULL, "%s",
              out.data);
}

/* An encrypted rendition (a key record per init, as a rotation gives):
 * the key lines follow each EXT-X-MAP whose key differs from the one
 * before, one line per system (the VOD playlists' code), never before the
 * map. */
static cir_live_key_t live_keys[2];

static void
keyed(fx_t *f)
{
    memset(live_keys, 0, sizeof(live_keys));
    for (int i = 0; i < 2; i++) {
        cir_live_key_t *k = &live_keys[i];
        k->from_init = (uint32_t)i + 1;
        k->scheme = CIR_ENC_CBCS;
        memset(k->key_id, 0x11 * (i + 1), 16);
        k->systems =
            CIR_DRM_BIT(CIR_DRM_CLEARKEY) | CIR_DRM_BIT(CIR_DRM_FAIRPLAY);
        snprintf(k->fairplay_key_uri, sizeof(k->fairplay_key_uri),
                 "skd://live-%d", i + 1);
    }
    f->idx.keys = live_keys;
    f->idx.nb_keys = 2;
}

Test(hls_live, key_lines_follow_each_map)
{
    fx_init(&fa, "720p", CIR_LIVE_VIDEO, 40);
    fx_add(&fa, 4, 1, 0);
    fx_add(&fa, 4, 1, 0);
    fa.idx.init_id = 2;
    fx_add(&fa, 4, 1, 1)->discontinuity = 1;
    fx_add(&fa, 2, 0, 1);
    keyed(&fa);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out), 0);
    check_golden("live_keys.m3u8", &out);
    cr_expect(strstr(out.data,
                     "#EXT-X-MAP:URI=\"init-1.mp4\"\n"
                     "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"data:text/plain;"
                     "base64,EREREREREREREREREREREQ==\",KEYFORMAT=\"org.w3."
                     "clearkey\",KEYFORMATVERSIONS=\"1\"\n"
                     "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://live-1\","
                     "KEYFORMAT=\"com.apple.streamingkeydelivery\","
                     "KEYFORMATVERSIONS=\"1\"\n"
                     "#EXT-X-PROGRAM-DATE-TIME:") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data,
                     "#EXT-X-MAP:URI=\"init-2.mp4\"\n"
                     "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"data:"
                     "text/plain;base64,IiIiIiIiIiIiIiIiIiIiIg==\"") != NULL,
              "%s", out.data);
    cr_expect_eq(count(out.data, "#EXT-X-KEY:"), 4);

    /* one key for every init: its lines once, after the first map */
    fa.idx.nb_keys = 1;
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &out), 0);
    cr_expect_eq(count(out.data, "#EXT-X-KEY:"), 2, "%s", out.data);
    cr_expect_eq(count(out.data, "URI=\"skd://live-1\""), 1);

    /* a delta update: the first map listed says the key again */
    cir_buf_reset(&out);
    fa.idx.nb_keys = 2;
    cr_assert_eq(cir_hls_render_live_media(
                     &fa.idx, &(cir_hls_directives_t){.skip = CIR_SKIP_YES},
                     NULL, 0, &out),
                 0);
    cr_expect(strstr(out.data, "#EXT-X-MAP:") < strstr(out.data, "#EXT-X-KEY:"),
              "%s", out.data);
}

/* An encrypted stream's master: EXT-X-SESSION-KEY lines of the key its
 * video's newest segment is encrypted with (after a rotation, the new
 * period's), the same attributes as that key's EXT-X-KEY lines in the
 * media playlist; none for a clear stream. */
Test(hls_live, live_master_session_key_is_the_current_key)
{
    const cir_live_index_t *tracks[2];
    char want[512];

    fx_init(&fa, "video", CIR_LIVE_VIDEO, 40);
    fx_add(&fa, 4, 1, 0);
    fx_add(&fa, 4, 1, 0);
    fa.idx.init_id = 2;
    fx_add(&fa, 4, 1, 1)->discontinuity = 1;
    fx_add(&fa, 2, 0, 1);
    keyed(&fa);
    fx_init(&fc, "audio", CIR_LIVE_AUDIO, 40);
    fx_add(&fc, 4, 1, 1);
    fc.idx.keys = live_keys;
    fc.idx.nb_keys = 1;
    tracks[0] = &fc.idx;
    tracks[1] = &fa.idx;
    cr_assert_eq(cir_hls_render_live_master(tracks, 2, &out), 0);
    check_golden("live_master_keys.m3u8", &out);
    cr_expect_eq(count(out.data, "#EXT-X-SESSION-KEY:"), 2, "%s", out.data);
    cr_expect_eq(count(out.data, "#EXT-X-KEY:"), 0);
    /* each session key line is the media playlist's key line of init-2 */
    cir_buf_t media;
    cir_buf_init(&media, 1 << 20);
    cr_assert_eq(cir_hls_render_live_media(&fa.idx, NULL, NULL, 0, &media), 0);
    for (const char *l = strstr(out.data, "#EXT-X-SESSION-KEY:"); l != NULL;
         l = strstr(l + 1, "#EXT-X-SESSION-KEY:")) {
        const char *attrs = l + strlen("#EXT-X-SESSION-KEY:");
        int n = (int)(strchr(attrs, '\n') - attrs);
        cr_assert_lt(n, (int)sizeof(want) - 16);
        snprintf(want, sizeof(want), "#EXT-X-KEY:%.*s\n", n, attrs);
        cr_expect(strstr(media.data, want) != NULL, "%s not in\n%s", want,
                  media.data);
    }
    cr_expect(strstr(out.data, "IiIiIiIiIiIiIiIiIiIiIg==") != NULL);
    cr_expect(strstr(out.data, "EREREREREREREREREREREQ==") == NULL);
    cr_expect(strstr(out.data, "URI=\"skd://live-2\"") != NULL);
    cir_buf_free(&media);

    /* before the rotation: the first key */
    fa.idx.nb_keys = 1;
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_master(tracks, 2, &out), 0);
    cr_expect(strstr(out.data, "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\""
                               "data:text/plain;base64,"
                               "EREREREREREREREREREREQ==\"") != NULL,
              "%s", out.data);

    /* clear: no session key, no METHOD=NONE */
    fa.idx.nb_keys = 0;
    fc.idx.nb_keys = 0;
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_master(tracks, 2, &out), 0);
    cr_expect(strstr(out.data, "KEY") == NULL, "%s", out.data);
}
