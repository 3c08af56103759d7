/*
 * The live MPD (LL-DASH): golden MPDs live and ended, well-formedness
 * (xmllint), the LL attributes and the timeline with the open segment.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

TestSuite(dash_live, .init = setup, .fini = teardown);

/* xmllint --noout on the output; skips when xmllint is not installed. */
static void
expect_well_formed(const cir_buf_t *b)
{
    char path[] = "/tmp/cirrus-lmpd-XXXXXX", cmd[256];
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

static const cir_live_index_t *tracks[3];

static void
stream(int ended)
{
    fx_live(&fa, "720p", 5, ended ? -1 : 2);
    fx_live(&fb, "360p", 5, ended ? -1 : 2);
    fb.idx.track.width = 640;
    fb.idx.track.height = 360;
    fb.idx.track.bandwidth = 800000;
    snprintf(fb.idx.track.codecs, 64, "avc1.64001e");
    fx_init(&fc, "audio", CIR_LIVE_AUDIO, 100);
    fc.idx.timescale = 48000;
    fc.idx.segment_target = 4 * 48000;
    fc.idx.part_target = 48000;
    for (int i = 0; i < 5; i++) {
        cir_live_segment_t *s = fx_add(&fc, 0, 1, 0);
        s->duration = 4 * 48000;
        s->start = (int64_t)i * 4 * 48000;
    }
    if (ended) {
        fa.idx.ended = fb.idx.ended = fc.idx.ended = 1;
    }
    tracks[0] = &fa.idx;
    tracks[1] = &fb.idx;
    tracks[2] = &fc.idx;
}

static const cir_dash_live_config_t cfg = {
    .utc_timing_url = "/time?iso&ms",
    .now_us = T0 + 26500000,
    .latency_target_ms = 3000,
};

Test(dash_live, dynamic_mpd)
{
    stream(0);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    check_golden("live.mpd", &out);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, " type=\"dynamic\" availabilityStartTime=\""
                               "2026-01-01T00:00:00.000Z\" publishTime=\""
                               "2026-01-01T00:00:26.500Z\"") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "timeShiftBufferDepth=\"PT40.000S\"") != NULL);
    cr_expect(strstr(out.data, "availabilityTimeOffset=\"3.000\" "
                               "availabilityTimeComplete=\"false\"") != NULL);
    /* max 1.5x the target: dash.js seeks back to the live edge once it
     * drifts more than max - target + 0.5 s behind */
    cr_expect(strstr(out.data, "<Latency referenceId=\"0\" target=\"3000\" "
                               "min=\"1500\" max=\"4500\"/>") != NULL);
    cr_expect(strstr(out.data, "<PlaybackRate min=\"0.96\" max=\"1.04\"/>") !=
              NULL);
    cr_expect(strstr(out.data,
                     "<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:"
                     "http-iso:2014\" value=\"/time?iso&amp;ms\"/>") != NULL);
    cr_expect(strstr(out.data, "<ProducerReferenceTime id=\"0\" "
                               "type=\"encoder\"") != NULL);
    /* 5 complete + the open one at its nominal 4 s */
    cr_expect(strstr(out.data, "<S t=\"0\" d=\"360000\" r=\"5\"/>") != NULL);
    cr_expect(strstr(out.data, "startNumber=\"100\"") != NULL);
    cr_expect(strstr(out.data, "$RepresentationID$/init-1.mp4") != NULL);
    cr_expect(strstr(out.data, "mediaPresentationDuration") == NULL);
}

Test(dash_live, ended_mpd_is_static)
{
    stream(1);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    check_golden("live_ended.mpd", &out);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, " type=\"static\" mediaPresentationDuration="
                               "\"PT20.000S\"") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "minimumUpdatePeriod") == NULL);
    cr_expect(strstr(out.data, "availabilityTimeComplete") == NULL);
    cr_expect(strstr(out.data, "<S t=\"0\" d=\"360000\" r=\"4\"/>") != NULL);
}

Test(dash_live, lists_segments_since_the_latest_init)
{
    stream(0);
    fa.idx.init_id = 2;
    fa.segs[3].init_id = 2;
    fa.segs[4].init_id = 2;
    fa.segs[5].init_id = 2;
    fa.segs[3].discontinuity = 1;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "init-2.mp4\" media=\"$RepresentationID$/"
                               "seg-$Number$.m4s\" startNumber=\"103\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"1080000\" d=\"360000\" "
                               "r=\"2\"/>") != NULL,
              "%s", out.data);
}

Test(dash_live, rejects_bad_input)
{
    cir_dash_live_config_t c = cfg;

    stream(0);
    c.utc_timing_url = NULL;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &c, &out), CIR_EINVAL);
    fa.idx.timescale = 0;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), CIR_EINVAL);
    cr_assert_eq(out.len, 0);
}
