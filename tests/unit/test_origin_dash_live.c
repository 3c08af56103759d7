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
        s->pdt_us = T0 + (int64_t)i * 4000000;
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
    /* one part: a new segment is known a part after it begins */
    cr_expect(strstr(out.data, "minimumUpdatePeriod=\"PT1.000S\"") != NULL);
    /* the latency is the ServiceDescription's target alone (Shaka keeps
     * the target behind suggestedPresentationDelay: both counted) */
    cr_expect(strstr(out.data, "suggestedPresentationDelay") == NULL);
    cr_expect(strstr(out.data, "maxSegmentDuration=\"PT4.000S\"") != NULL);
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

/* Captions in every video track's SEI: the SCTE 214 Accessibility on the
 * video set, after ProducerReferenceTime, before SegmentTemplate; none on
 * the audio set, none when a video track has none. */
Test(dash_live, signals_closed_captions_of_the_video)
{
    const char *acc, *prt, *tmpl, *audio;

    stream(0);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "Accessibility") == NULL, "%s", out.data);

    fa.idx.track.closed_captions = 1;
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "Accessibility") == NULL,
              "one video track without captions: %s", out.data);

    fb.idx.track.closed_captions = 1;
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    check_golden("live_cc.mpd", &out);
    expect_well_formed(&out);
    acc = strstr(out.data, "      <Accessibility schemeIdUri=\"urn:scte:dash:"
                           "cc:cea-608:2015\" value=\"CC1=und\"/>\n");
    prt = strstr(out.data, "</ProducerReferenceTime>");
    tmpl = strstr(out.data, "<SegmentTemplate availabilityTimeOffset");
    audio = strstr(out.data, "contentType=\"audio\"");
    cr_assert(acc != NULL && prt != NULL && tmpl != NULL && audio != NULL, "%s",
              out.data);
    cr_expect(prt < acc && acc < tmpl && acc < audio, "%s", out.data);
    cr_expect(strstr(acc + 20, "Accessibility") == NULL, "once: %s", out.data);
}

/* maxSegmentDuration is the longest segment to the millisecond (rounded
 * up), not the whole seconds of the HLS target duration: Shaka puts its
 * live edge maxSegmentDuration - availabilityTimeOffset behind the wall
 * clock.  Without parts, minimumUpdatePeriod is a segment. */
Test(dash_live, max_segment_duration_in_ms)
{
    cir_live_segment_t *s;

    stream(0);
    /* a segment cut at the keyframe after its nominal 4 s */
    s = &fc.idx.segments[4];
    s->duration = 4 * 48000 + 4801; /* 4.100021 s: the HLS TD is 5 */
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "maxSegmentDuration=\"PT4.101S\"") != NULL, "%s",
              out.data);

    cir_buf_reset(&out);
    fa.idx.part_target = fb.idx.part_target = fc.idx.part_target = 0;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "minimumUpdatePeriod=\"PT4.000S\"") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "availabilityTimeOffset") == NULL);
}

/* While the stream is live, the next segments are promised (S@r="-1") so
 * that a player asks for the next segment when it is due, not when an MPD
 * update lists it: after an open newest segment and after a complete one
 * (the next one's first part is on its way), never between timelines (the
 * publisher gone) nor in an ended stream. */
static void
complete_newest(fx_t *f)
{
    f->idx.segments[f->idx.nb_segments - 1].complete = 1;
}

Test(dash_live, the_live_stream_promises_the_next_segment)
{
    static const char promise[] = "<S t=\"0\" d=\"360000\" r=\"5\"/>\n"
                                  "            <S d=\"360000\" r=\"-1\"/>\n"
                                  "          </SegmentTimeline>";

    stream(0);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, promise) != NULL, "%s", out.data);

    cir_buf_reset(&out);
    complete_newest(&fa);
    complete_newest(&fb);
    complete_newest(&fc);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "<S d=\"180000\"/>\n"
                               "            <S d=\"360000\" r=\"-1\"/>\n"
                               "          </SegmentTimeline>") != NULL,
              "%s", out.data);

    cir_buf_reset(&out);
    fa.idx.paused = fb.idx.paused = fc.idx.paused = 1;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "r=\"-1\"") == NULL, "%s", out.data);

    cir_buf_reset(&out);
    stream(1);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "r=\"-1\"") == NULL, "%s", out.data);
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

/* From segments[from] on, the run after a discontinuity: the media goes
 * on media_us later, the wall clock wall_us later (an outage). */
static void
new_run(fx_t *f, size_t from, int64_t media_us, int64_t wall_us)
{
    uint32_t ts = f->idx.timescale;

    f->segs[from].discontinuity = 1;
    for (size_t i = from; i < f->idx.nb_segments; i++) {
        f->segs[i].start += media_us * ts / 1000000;
        f->segs[i].pdt_us += wall_us;
    }
}

/* After a 6 s outage from msn 103 on (the packager goes on 40 ms after
 * where it was, with a discontinuity), in every rendition. */
static void
outage(void)
{
    new_run(&fa, 3, 40000, 6040000);
    new_run(&fb, 3, 40000, 6040000);
    new_run(&fc, 3, 40000, 6040000);
}

Test(dash_live, an_outage_starts_a_period_at_the_wall_clock)
{
    stream(0);
    outage();
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    check_golden("live_outage.mpd", &out);
    expect_well_formed(&out);
    /* availabilityStartTime stays; the first Period as before */
    cr_expect(strstr(out.data, "availabilityStartTime=\""
                               "2026-01-01T00:00:00.000Z\"") != NULL);
    cr_expect(strstr(out.data, "<Period id=\"0\" start=\"PT0S\">") != NULL);
    /* msn 103 began 12 s of media + 6.04 s of wall clock later: the new
     * Period starts where the first ended (12 s), its offset 6.04 s before
     * msn 103's tfdt, so msn 103 is at 18.04 s, its wall clock */
    cr_expect(strstr(out.data, "<Period id=\"1\" start=\"PT12S\">") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "startNumber=\"103\" "
                               "presentationTimeOffset=\"540000\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"1083600\" d=\"360000\" "
                               "r=\"2\"/>") != NULL,
              "%s", out.data);
    /* the audio: its own timescale, the same instants */
    cr_expect(strstr(out.data, "startNumber=\"103\" "
                               "presentationTimeOffset=\"288000\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"577920\" d=\"192000\" "
                               "r=\"1\"/>") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "wallClockTime=\"2026-01-01T00:00:12.000Z\" "
                               "presentationTime=\"540000\"") != NULL);
    cr_expect(strstr(out.data, "wallClockTime=\"2026-01-01T00:00:12.000Z\" "
                               "presentationTime=\"288000\"") != NULL);
}

/* An outage longer than the media before it: the new Period cannot take
 * in all of it (its presentationTimeOffset would be below 0), so it
 * starts at its media time 0 and the rest is a gap at the end of the
 * Period before. */
Test(dash_live, an_offset_never_goes_below_zero)
{
    stream(0);
    /* msn 101 on: 4 s of media so far, 10 s of wall clock away */
    new_run(&fa, 1, 40000, 10040000);
    new_run(&fb, 1, 40000, 10040000);
    new_run(&fc, 1, 40000, 10040000);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    expect_well_formed(&out);
    /* msn 101 at 4.04 s of media and 14.04 s of wall clock */
    cr_expect(strstr(out.data, "<Period id=\"1\" start=\"PT10S\">") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "startNumber=\"101\" "
                               "presentationTimeOffset=\"0\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"363600\" ") != NULL,
              "%s", out.data);
}

/* The Period of the window's first segment keeps its start and offset
 * after that segment left: they come from the index's run anchor. */
Test(dash_live, a_period_keeps_its_start_as_the_window_slides)
{
    char before[512], *p, *q;

    stream(0);
    outage();
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    p = strstr(out.data, "<Period id=\"1\"");
    cr_assert_not_null(p);
    q = strstr(p, "<SegmentTimeline>");
    cr_assert_not_null(q);
    snprintf(before, sizeof(before), "%.*s", (int)(q - p), p);
    /* msn 100-103 leave (103 began the run); the writer kept its anchor */
    for (fx_t *f = &fa; f != NULL; f = f == &fa ? &fb : f == &fb ? &fc : NULL) {
        f->idx.run_pdt_us = f->segs[3].pdt_us;
        f->idx.run_start = f->segs[3].start;
        f->idx.run_after_us = f->segs[2].pdt_us + 4000000;
        f->idx.discontinuity_sequence = 1;
        f->idx.segments = &f->segs[4];
        f->idx.nb_segments -= 4;
    }
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, "<Period id=\"0\"") == NULL, "%s", out.data);
    cr_expect(strstr(out.data, before) != NULL, "was:\n%s\nnow:\n%s", before,
              out.data);
    cr_expect(strstr(out.data, "startNumber=\"104\" "
                               "presentationTimeOffset=\"540000\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"1443600\" ") != NULL,
              "%s", out.data);
}

/* A republished key: the writer resumed the ended index (numbering goes
 * on, availabilityStartTime stays the first publish's) and the new
 * packager's media starts at 0 again, 857 s of wall clock later. */
Test(dash_live, a_republish_starts_a_period_at_the_wall_clock)
{
    const int64_t later = INT64_C(857000000);
    cir_dash_live_config_t c = cfg;

    stream(0);
    for (fx_t *f = &fa; f != NULL; f = f == &fa ? &fb : f == &fb ? &fc : NULL) {
        /* what resume leaves: the old segments gone, one discontinuity
         * counted, a new init */
        f->idx.discontinuity_sequence = 1;
        f->idx.init_id = 2;
        for (size_t i = 0; i < f->idx.nb_segments; i++) {
            f->segs[i].msn += 10;
            f->segs[i].init_id = 2;
            f->segs[i].pdt_us += later;
        }
        f->segs[0].discontinuity = 1;
        f->idx.run_pdt_us = f->segs[0].pdt_us;
        f->idx.run_start = f->segs[0].start;
        cr_assert_eq(f->segs[0].start, 0);
    }
    c.now_us += later;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &c, &out), 0);
    check_golden("live_republish.mpd", &out);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, "availabilityStartTime=\""
                               "2026-01-01T00:00:00.000Z\"") != NULL);
    /* one Period, its id the discontinuity sequence number after the
     * first publish, at the republish's wall clock */
    cr_expect(strstr(out.data, "<Period id=\"2\" start=\"PT857S\">") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "<Period id=\"0\"") == NULL);
    cr_expect(strstr(out.data, "init-2.mp4\" media=\"$RepresentationID$/"
                               "seg-$Number$.m4s\" startNumber=\"110\" "
                               "presentationTimeOffset=\"0\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"0\" d=\"360000\" "
                               "r=\"5\"/>") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "wallClockTime=\"2026-01-01T00:14:17.000Z\" "
                               "presentationTime=\"0\"") != NULL);
}

Test(dash_live, an_init_change_starts_a_period)
{
    stream(0);
    fa.idx.init_id = 2;
    fa.segs[3].init_id = 2;
    fa.segs[4].init_id = 2;
    fa.segs[5].init_id = 2;
    fa.segs[3].discontinuity = 1;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, "<Period id=\"1\" start=\"PT12S\">") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "init-1.mp4\" media=\"$RepresentationID$/"
                               "seg-$Number$.m4s\" startNumber=\"100\" "
                               "presentationTimeOffset=\"0\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"0\" d=\"360000\" "
                               "r=\"2\"/>") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "init-2.mp4\" media=\"$RepresentationID$/"
                               "seg-$Number$.m4s\" startNumber=\"103\" "
                               "presentationTimeOffset=\"1080000\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"1080000\" d=\"360000\" "
                               "r=\"2\"/>") != NULL,
              "%s", out.data);
}

/* A rendition whose init changed without the lead's: its segments since
 * then only, in the Period they fall in. */
Test(dash_live, lists_segments_since_the_latest_init)
{
    stream(0);
    fb.idx.init_id = 2;
    fb.segs[3].init_id = 2;
    fb.segs[4].init_id = 2;
    fb.segs[5].init_id = 2;
    fb.segs[3].discontinuity = 1;
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "<Period id=\"1\"") == NULL, "%s", out.data);
    cr_expect(strstr(out.data, "init-2.mp4\" media=\"$RepresentationID$/"
                               "seg-$Number$.m4s\" startNumber=\"103\" "
                               "presentationTimeOffset=\"0\">\n"
                               "          <SegmentTimeline>\n"
                               "            <S t=\"1080000\" d=\"360000\" "
                               "r=\"2\"/>") != NULL,
              "%s", out.data);
}

/* Ended after an outage: static, the first segment at 0, the second
 * Period where it was relative to it, the duration to the last end
 * (18.04 s + two 4 s segments). */
Test(dash_live, ended_after_an_outage_is_static_with_two_periods)
{
    stream(1);
    outage();
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    check_golden("live_ended_outage.mpd", &out);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, " type=\"static\" mediaPresentationDuration="
                               "\"PT26.040S\"") != NULL,
              "%s", out.data);
    cr_expect(strstr(out.data, "<Period id=\"0\" start=\"PT0S\">") != NULL);
    cr_expect(strstr(out.data, "<Period id=\"1\" start=\"PT12S\">") != NULL);
    cr_expect(strstr(out.data, "availabilityStartTime") == NULL);
    cr_expect(strstr(out.data, "ProducerReferenceTime") == NULL);
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

/* Without a configured target: three parts and half a second, within
 * [1 s, one segment] (Shaka settles within 0.5 s of it). */
Test(dash_live, default_latency_target_follows_the_parts)
{
    static const struct {
        int64_t segment, part; /* ms */
        const char *want;
    } cases[] = {
        {4000, 1000, "target=\"3500\""}, /* the fixture's 1 s parts */
        {2000, 333, "target=\"1499\""},  /* the live preset: 2 s / 3 */
        {2000, 1000, "target=\"2000\""}, /* capped at a segment */
        {2000, 0, "target=\"2000\""},    /* no parts: a segment */
        {500, 100, "target=\"1000\""},   /* at least a second */
    };
    cir_dash_live_config_t c = cfg;

    c.latency_target_ms = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        stream(0);
        fa.idx.segment_target = cases[i].segment * TS / 1000;
        fa.idx.part_target = cases[i].part * TS / 1000;
        cir_buf_reset(&out);
        cr_assert_eq(cir_dash_render_live(tracks, 3, &c, &out), 0);
        cr_expect(strstr(out.data, cases[i].want) != NULL, "case %zu: %s", i,
                  out.data);
    }
}

/* Encrypted renditions: xmlns:cenc on the MPD, each set's
 * ContentProtection (the VOD MPD's code) first in the set, its
 * default_KID the key of the set's lead rendition in that Period. */
Test(dash_live, content_protection_per_set)
{
    static cir_live_key_t k;

    memset(&k, 0, sizeof(k));
    k.from_init = 1;
    k.scheme = CIR_ENC_CENC;
    memset(k.key_id, 0xab, 16);
    k.systems = CIR_DRM_BIT(CIR_DRM_CLEARKEY);
    k.pssh_len[CIR_DRM_CLEARKEY] = 4;
    memcpy(k.pssh[CIR_DRM_CLEARKEY], "psh!", 4);
    stream(0);
    for (int i = 0; i < 3; i++) {
        cir_live_index_t *x = i == 0 ? &fa.idx : i == 1 ? &fb.idx : &fc.idx;
        x->keys = &k;
        x->nb_keys = 1;
    }
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    check_golden("live_cenc.mpd", &out);
    expect_well_formed(&out);
    cr_expect(strstr(out.data, " xmlns:cenc=\"urn:mpeg:cenc:2013\"") != NULL);
    cr_expect(strstr(out.data,
                     "lang=\"und\">\n      <ContentProtection schemeIdUri="
                     "\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\" "
                     "cenc:default_KID=\"abababab-abab-abab-abab-"
                     "abababababab\"/>\n") != NULL,
              "%s", out.data);
    {
        size_t n = 0;
        for (const char *p = out.data;
             (p = strstr(p, "value=\"ClearKey1.0\"")) != NULL; p++) {
            n++;
        }
        cr_expect_eq(n, 2, "one per set");
    }
    /* clear: none of it */
    fa.idx.nb_keys = fb.idx.nb_keys = fc.idx.nb_keys = 0;
    cir_buf_reset(&out);
    cr_assert_eq(cir_dash_render_live(tracks, 3, &cfg, &out), 0);
    cr_expect(strstr(out.data, "cenc") == NULL);
}
