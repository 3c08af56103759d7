/*
 * The live writer's index policy, pure (live_writer.c): segments are their
 * parts (the adapter is told where each goes), inits bring discontinuities,
 * finish ends the stream, PDT follows the stream's anchor and never steps
 * back, gaps and outages take numbers without files, a paused writer hints
 * no part, a part that could not be written leaves no trace.  The files
 * themselves: tests/unit/test_transcoder_live_store.c.
 */
#include "live_writer_driver.h"

TestSuite(live_writer, .init = setup, .fini = teardown);

Test(live_writer, pdt_never_steps_back)
{
    const cir_live_index_t *x;

    start(3, "I", 1);
    put_segment(); /* pdt T0, ends at T0 + 4 s, the clock at T0 + 4 s */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    /* the next part, its media time gone back to 1 s, is here at once:
     * now - 1 s would be T0 + 3 s */
    cr_assert_eq(put_part(w, "A", 1, TS, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[1].discontinuity, 1);
    cr_assert_eq(x->segments[1].pdt_us, T0 + 4000000);
}

/* A publisher that bursts: its first part comes sooner than its duration
 * after the stream started; media time 0 stays at started_us. */
Test(live_writer, pdt_never_before_the_stream_start)
{
    const cir_live_index_t *x;

    start(3, "I", 1);
    cir_clock_fixed_advance(&clk, 200000);
    cr_assert_eq(put_part(w, "A", 1, TS / 10, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].pdt_us, T0 + 100000);
    cr_assert_eq(x->run_pdt_us, T0 + 100000);
}

Test(live_writer, put_init_closes_an_open_segment)
{
    const cir_live_index_t *x;

    start(3, "I", 1);
    cr_assert_eq(put_part(w, "A", 1, 0, TS, 1), 0);
    cr_assert_eq(put_init(w, "J", 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].complete, 1);
    cr_assert(on_disk(0));
}

/* Closed captions are said of a video track once, published with the next
 * index; an audio track has none to say. */
Test(live_writer, closed_captions_go_out_with_the_next_index)
{
    cir_live_writer_config_t c = config(3);
    cir_live_writer_t *audio = NULL;
    cir_live_index_t disk;

    start(3, "I", 1);
    cr_assert_eq(put_part(w, "A", 1, 0, TS, 1), 0);
    cr_assert_eq(publish(w), 0);
    cr_assert_eq(load(&disk), 0);
    cr_expect_eq(disk.track.closed_captions, 0);
    cir_live_index_free(&disk);

    cr_assert_eq(cir_live_writer_set_closed_captions(w), 1);
    cr_assert_eq(cir_live_writer_set_closed_captions(w), 0, "once");
    cr_assert_eq(cir_live_writer_index(w)->track.closed_captions, 1);
    cr_assert_eq(put_part(w, "B", 1, TS, TS, 0), 0);
    cr_assert_eq(publish(w), 0);
    cr_assert_eq(load(&disk), 0);
    cr_expect_eq(disk.track.closed_captions, 1);
    cir_live_index_free(&disk);

    c.track.kind = CIR_LIVE_AUDIO;
    cr_assert_eq(cir_live_writer_open(&audio, &c), 0);
    cr_expect_eq(cir_live_writer_set_closed_captions(audio), CIR_EINVAL);
    cr_expect_eq(cir_live_writer_set_closed_captions(NULL), CIR_EINVAL);
    cir_live_writer_close(&audio);
}

Test(live_writer, rejects_bad_config_and_input)
{
    cir_live_writer_config_t c = config(2);

    cr_assert_eq(open_w(&w, &c), CIR_EINVAL); /* window < 3 */
    c = config(3);
    c.part_target = 5 * TS;
    cr_assert_eq(open_w(&w, &c), CIR_EINVAL);
    c = config(3);
    cr_assert_eq(open_w(&w, &c), 0);
    cr_assert_eq(put_init(w, "I", 1), 0);
    cr_assert_eq(put_part(w, "A", 1, 0, 0, 1), CIR_EINVAL);
    cr_assert_eq(put_part(w, "A", 0, 0, TS, 1), CIR_EINVAL);
    cr_assert_eq(put_part(w, "A", 1, -5, TS, 1), CIR_EINVAL);
    cr_assert_eq(cir_live_writer_index(w)->nb_segments, 0);
}

Test(live_writer, a_stream_ending_undecided_decides_from_its_segments)
{
    cir_live_writer_config_t c = config(6);
    cir_live_index_t disk;

    c.target_duration = 0;
    media_t = 0;
    cr_assert_eq(open_w(&w, &c), 0);
    cr_assert_eq(put_init(w, "INIT", 4), 0);
    put_segment();
    cr_assert_eq(finish(w), 0);
    cr_assert_eq(load(&disk), 0);
    cr_assert(disk.ended);
    cr_assert_eq(disk.target_duration, 4, "4 s segments");
    cir_live_index_free(&disk);
}

/* One part of d seconds' media at start (seconds) into writer x. */
static void
put_at(cir_live_writer_t *x, uint32_t ts, double start, double d, int last)
{
    int64_t s = (int64_t)(start * ts + 0.5), n = (int64_t)(d * ts + 0.5);

    cr_assert_eq(put(x, 1, s, n, 1, last), 0);
}

/*
 * Two renditions of one stream (90 kHz video, 48 kHz audio) that write at
 * different moments take the stream's anchor: the same PDT at the same
 * media time, before and after a discontinuity (RFC 8216bis 6.2.4); the
 * one opened late starts with the stream (started_us); PDT still never
 * steps back.
 */
Test(live_writer, the_stream_anchor_is_every_renditions_pdt)
{
    cir_live_writer_config_t c = config(3), ca = config(3);
    cir_live_writer_t *a = NULL;
    const cir_live_index_t *x, *y;

    cr_assert_eq(open_w(&w, &c), 0);
    cr_assert_eq(put_init(w, "I", 1), 0);
    /* the audio opens 300 ms later, its first part 250 ms after the
     * video's: each would anchor at its own moment */
    cir_clock_fixed_advance(&clk, 300000);
    ca.timescale = 48000;
    ca.segment_target = 4 * 48000;
    ca.part_target = 48000;
    cr_assert_eq(open_w(&a, &ca), 0);
    cr_assert_eq(put_init(a, "I", 1), 0);
    /* media time 0 was captured at T0 + 100 ms */
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 100000, 0), 0);
    cr_assert_eq(cir_live_writer_set_anchor(a, T0 + 100000, 0), 0);
    cr_assert_eq(cir_live_writer_index(a)->started_us, T0 + 100000,
                 "the late rendition starts with the stream");
    cr_assert_eq(cir_live_writer_index(w)->started_us, T0);
    cir_clock_fixed_set(&clk, T0 + 1100000);
    put_at(w, TS, 0, 1, 0);
    cir_clock_fixed_set(&clk, T0 + 1350000);
    put_at(a, 48000, 0, 1, 0);
    cir_clock_fixed_set(&clk, T0 + 4100000);
    put_at(w, TS, 1, 3, 1);
    put_at(a, 48000, 1, 3, 1);
    /* a reconnect 6 s later: the new timeline just after the old one in
     * media time, its first sample captured at T0 + 10.2 s; the audio's
     * first sample 20 ms before the video's, both written late */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_discontinuity(a), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 10200000, 4060000), 0);
    cr_assert_eq(cir_live_writer_set_anchor(a, T0 + 10200000, 4060000), 0);
    cir_clock_fixed_set(&clk, T0 + 11900000);
    put_at(w, TS, 4.06, 1, 0);
    cir_clock_fixed_set(&clk, T0 + 12300000);
    put_at(a, 48000, 4.04, 1, 0);
    x = cir_live_writer_index(w);
    y = cir_live_writer_index(a);
    cr_assert_eq(x->nb_segments, 2);
    cr_assert_eq(y->nb_segments, 2);
    cr_assert_eq(x->segments[0].pdt_us, T0 + 100000);
    cr_assert_eq(y->segments[0].pdt_us, T0 + 100000);
    cr_assert_eq(x->run_pdt_us, T0 + 100000);
    cr_assert_eq(y->run_pdt_us, T0 + 100000);
    cr_assert_eq(x->segments[1].discontinuity, 1);
    cr_assert_eq(y->segments[1].discontinuity, 1);
    cr_assert_eq(x->segments[1].pdt_us, T0 + 10200000);
    cr_assert_eq(y->segments[1].pdt_us, T0 + 10180000);
    /* an anchor that would step PDT back moves to the end before it */
    cr_assert_eq(end_segment(w), 0);
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 2000000, 5060000), 0);
    put_at(w, TS, 5.06, 1, 0);
    cr_assert_eq(x->segments[2].pdt_us, T0 + 11200000);
    cir_live_writer_close(&a);
}

/* A GAP segment: its number, no file, no parts, complete; none while one
 * is open; held until the next segment opens (a playlist never ends with
 * one), then rendered as EXT-X-GAP and left out of the MPD's timeline at
 * the end of its Period; the window slides over it like any other; one
 * still held when the stream ends is dropped. */
Test(live_writer, a_gap_segment_takes_a_number_without_a_file)
{
    cir_live_writer_config_t c = config(3);
    cir_hls_directives_t d = {0};
    cir_dash_live_config_t dc = {.utc_timing_url = "/time",
                                 .now_us = T0 + 30000000};
    const cir_live_index_t *x, *tracks[1];
    const cir_live_segment_t *s;
    cir_buf_t out;

    media_t = 0;
    cr_assert_eq(open_w(&w, &c), 0);
    cr_assert_eq(put_gap(w, 0, TS), CIR_EINVAL, "not before an init");
    cr_assert_eq(put_init(w, "INIT1", 5), 0);
    put_segment();
    cr_assert_eq(put_part(w, "P", 1, media_t, TS, 1), 0);
    cr_assert_eq(put_gap(w, media_t + TS, TS), CIR_EINVAL,
                 "not while a segment is open");
    cr_assert_eq(end_segment(w), 0);
    media_t += TS;
    cr_assert_eq(put_gap(w, media_t, 0), CIR_EINVAL);
    cr_assert_eq(put_gap(w, media_t, 3 * TS), 0);
    cr_assert_eq(cir_live_writer_discontinuity(w), 0); /* as at a break */
    media_t += 3 * TS;
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[x->nb_segments - 1].msn, 1, "held");
    cr_assert(!x->segments[x->nb_segments - 1].gap);
    /* the next segment's first part lists both */
    cr_assert_eq(put_part(w, "P", 1, media_t, TS, 1), 0);
    x = cir_live_writer_index(w);
    s = &x->segments[x->nb_segments - 2];
    cr_assert_eq(s->msn, 2);
    cr_assert(s->gap && s->complete);
    cr_assert_eq(s->nb_parts, 0);
    cr_assert_eq(s->duration, 3 * TS);
    cr_assert_eq(s->size, 0);
    cr_assert(!on_disk(2));
    cr_assert(!s->discontinuity, "on the timeline before the break");
    cr_assert_eq(x->segments[x->nb_segments - 1].msn, 3);
    cr_assert(x->segments[x->nb_segments - 1].discontinuity);
    /* what the origin makes of it */
    cir_buf_init(&out, 1 << 20);
    cr_assert_eq(cir_hls_render_live_media(x, &d, NULL, 0, &out), 0);
    cr_assert_not_null(strstr(out.data, "#EXT-X-GAP\n#EXTINF:3.00000,\n"
                                        "seg-2.m4s\n#EXT-X-DISCONTINUITY\n"),
                       "%s", out.data);
    cir_buf_reset(&out);
    tracks[0] = x;
    cr_assert_eq(cir_dash_render_live(tracks, 1, &dc, &out), 0);
    cr_assert_null(strstr(out.data, "d=\"270000\""), "%s", out.data);
    cir_buf_free(&out);
    /* the window slides over it */
    cr_assert_eq(end_segment(w), 0);
    media_t += TS;
    put_segments(4);
    x = cir_live_writer_index(w);
    cr_assert_gt(x->segments[0].msn, 2);
    /* held at the end: dropped */
    cr_assert_eq(put_gap(w, media_t, TS), 0);
    cr_assert_eq(cir_live_writer_finish(w), 1);
    x = cir_live_writer_index(w);
    cr_assert(x->ended);
    cr_assert(!x->segments[x->nb_segments - 1].gap);
    cr_assert_eq(x->segments[x->nb_segments - 1].msn, 7);
}

/* A follower's GAP segment held over an outage keeps the time it was put
 * at: its program date-time from the timeline before the break, not from
 * the next timeline's anchor (set while it was held), and the discontinuity
 * stays on the first segment of the new timeline. */
Test(live_writer, a_held_gap_keeps_its_time_across_an_outage)
{
    const cir_live_index_t *x;
    const cir_live_segment_t *g;

    start(4, "INIT1", 5);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0, 0), 0);
    put_segments(3);
    /* the leader's segment began at 12.5 s (not where this one's last
     * ended), and the publisher left */
    cr_assert_eq(put_gap(w, 12 * TS + TS / 2, TS), 0);
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    /* back 9 s later: media time 13.5 s captured at T0 + 22.5 s */
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 22500000, 13500000), 0);
    cr_assert_eq(cir_live_writer_fill_outage(w, 3, 9000000), 0);
    cir_clock_fixed_set(&clk, T0 + 23000000);
    media_t = 13 * TS + TS / 2;
    cr_assert_eq(put_part(w, "P", 1, media_t, TS, 1), 0);
    x = cir_live_writer_index(w);
    g = &x->segments[3];
    cr_assert(g->gap && g->msn == 3 && g->start == 12 * TS + TS / 2);
    cr_assert_eq(g->pdt_us, T0 + 12500000, "at %lld",
                 (long long)(g->pdt_us - T0));
    cr_assert(!g->discontinuity);
    cr_assert(x->segments[4].gap && x->segments[4].discontinuity);
    cr_assert_eq(x->segments[x->nb_segments - 1].pdt_us, T0 + 22500000);
}

/*
 * A publisher's outage: after the discontinuity and the new timeline's
 * anchor, fill_outage lists the wall-clock time the media skipped as GAP
 * segments, published with the next segment's first part (none longer
 * than a segment, on the new run's media clock just before its anchor,
 * the first with the discontinuity), so the playlist's timeline stays in
 * step with the wall clock; that segment is at its own PDT; the MPD leaves them
 * out (the outage is the gap at the start of the new Period, which starts where
 * the old one ended); without a pending discontinuity, or with nothing to fill,
 * it does nothing; a count over the window fills the newest window's worth.
 */
Test(live_writer, an_outage_is_filled_with_gap_segments)
{
    cir_hls_directives_t d = {0};
    cir_dash_live_config_t dc = {.utc_timing_url = "/time",
                                 .now_us = T0 + 22000000};
    const cir_live_index_t *x, *tracks[1];
    cir_buf_t out;
    uint64_t version;
    char pdt[40], want[256];

    start(4, "INIT1", 5);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0, 0), 0);
    put_segment();
    put_segment();
    cr_assert_eq(cir_live_writer_fill_outage(w, 3, 9000000), 0);
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_segments, 3, "no discontinuity pending: no gap");

    /* gone at 12 s, back 9 s later: media time 12 s captured at T0 + 21 s */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 21000000, 12000000), 0);
    cr_assert_eq(cir_live_writer_fill_outage(w, 3, 9000000), 0);
    cr_assert_eq(x->nb_segments, 3, "the gaps come with the media");
    version = x->version;
    /* the media resumes at its own PDT, where the gaps end, published
     * with them */
    cir_clock_fixed_set(&clk, T0 + 22000000);
    media_t = 12 * TS;
    cr_assert_eq(put_part(w, "P", 1, media_t, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->version, version + 1, "one index write");
    cr_assert_eq(x->nb_segments, 7);
    for (int i = 0; i < 3; i++) {
        const cir_live_segment_t *s = &x->segments[3 + i];
        cr_assert_eq(s->msn, (uint64_t)(3 + i));
        cr_assert(s->gap && s->complete);
        cr_assert_eq(s->nb_parts, 0);
        cr_assert_eq(s->discontinuity, i == 0);
        cr_assert_eq(s->duration, 3 * TS);
        cr_assert_eq(s->start, (3 + 3 * i) * TS);
        cr_assert_eq(s->pdt_us, T0 + 12000000 + 3000000 * i, "gap %d at %lld",
                     i, (long long)(s->pdt_us - T0));
        cr_assert(!on_disk(3));
    }
    cr_assert_eq(x->segments[6].msn, 6);
    cr_assert_eq(x->segments[6].pdt_us, T0 + 21000000);
    cr_assert_eq(x->segments[6].discontinuity, 0);

    cir_buf_init(&out, 1 << 20);
    cr_assert_eq(cir_hls_render_live_media(x, &d, NULL, 0, &out), 0);
    cr_assert_eq(cir_clock_format_iso8601(T0 + 12000000, pdt, sizeof(pdt)), 0);
    snprintf(want, sizeof(want),
             "seg-2.m4s\n#EXT-X-DISCONTINUITY\n"
             "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXT-X-GAP\n#EXTINF:3.00000,\n"
             "seg-3.m4s\n",
             pdt);
    cr_assert_not_null(strstr(out.data, want), "%s", out.data);
    cr_assert_not_null(strstr(out.data, "#EXT-X-GAP\n#EXTINF:3.00000,\n"
                                        "seg-5.m4s\n"),
                       "%s", out.data);
    /* DASH: the new Period starts where the old one ended (12 s), its
     * media at 21 s; the gaps are not listed */
    cir_buf_reset(&out);
    tracks[0] = x;
    cr_assert_eq(cir_dash_render_live(tracks, 1, &dc, &out), 0);
    cr_assert_not_null(strstr(out.data, "start=\"PT12S\""), "%s", out.data);
    cr_assert_not_null(strstr(out.data, "startNumber=\"6\" "
                                        "presentationTimeOffset=\"270000\""),
                       "%s", out.data);
    cr_assert_not_null(strstr(out.data, "<S t=\"1080000\""), "%s", out.data);
    cr_assert_null(strstr(out.data, "<S t=\"270000\""), "%s", out.data);
    cir_buf_free(&out);

    /* a count over the window: the newest window's worth (4 x 4 s) */
    cr_assert_eq(end_segment(w), 0);
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 100000000, 40000000), 0);
    cr_assert_eq(cir_live_writer_fill_outage(w, 20, 78000000), 0);
    cr_assert_eq(put_part(w, "P", 1, 40 * TS, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[x->nb_segments - 1].msn, 11);
    for (int i = 2; i <= 5; i++) {
        const cir_live_segment_t *s = &x->segments[x->nb_segments - i];
        cr_assert(s->gap);
        cr_assert_eq(s->duration, 4 * TS);
        cr_assert_eq(s->start, (40 - 4 * (i - 1)) * TS);
    }
}

/*
 * A rendition that fills an outage with media (an audio track's silence)
 * takes it from the writer: the span the others' GAP segments cover, taken
 * once, after which the next part opens no GAP segment; its own segments
 * carry the discontinuity (the first) and the stream's PDT; one it cannot
 * fill is a GAP segment (put_outage_gap).
 */
Test(live_writer, an_outage_taken_is_filled_by_the_rendition)
{
    const cir_live_index_t *x;
    uint32_t count;
    int64_t from, to, begin;

    start(4, "INIT1", 5);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0, 0), 0);
    put_segment();
    put_segment();
    put_segment();
    cr_assert_eq(cir_live_writer_take_outage(w, &count, &from, &to, &begin), 0,
                 "nothing pending");
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 21000000, 12000000), 0);
    cr_assert_eq(cir_live_writer_fill_outage(w, 3, 9000000), 0);
    cr_assert_eq(cir_live_writer_take_outage(w, &count, &from, &to, &begin), 1);
    cr_assert_eq(count, 3);
    cr_assert_eq(from, 3 * TS);
    cr_assert_eq(to, 12 * TS);
    cr_assert_eq(begin, from, "the media ended where the stream's did");
    cr_assert_eq(cir_live_writer_take_outage(w, &count, &from, &to, &begin), 0,
                 "taken once");
    /* two segments of media, the third one a GAP */
    cr_assert_eq(put_part(w, "S", 1, 3 * TS, 3 * TS, 1), 0);
    cr_assert_eq(end_segment(w), 0);
    cr_assert_eq(put_part(w, "S", 1, 6 * TS, 3 * TS, 1), 0);
    cr_assert_eq(end_segment(w), 0);
    cr_assert_eq(cir_live_writer_put_outage_gap(w, 9 * TS, 3 * TS), 0);
    cr_assert_eq(put_part(w, "P", 1, 12 * TS, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_segments, 7);
    for (int i = 0; i < 3; i++) {
        const cir_live_segment_t *s = &x->segments[3 + i];
        cr_assert_eq(s->msn, (uint64_t)(3 + i));
        cr_assert_eq(s->gap, i == 2);
        cr_assert(s->outage, "marked: the MPD leaves it out");
        cr_assert_eq(s->discontinuity, i == 0);
        cr_assert_eq(s->start, (3 + 3 * i) * TS);
        cr_assert_eq(s->pdt_us, T0 + 12000000 + 3000000 * i, "%d at %lld", i,
                     (long long)(s->pdt_us - T0));
        cr_assert_eq(on_disk(3 + i), i < 2);
    }
    cr_assert(!x->segments[6].gap && !x->segments[6].discontinuity &&
              !x->segments[6].outage);
    cr_assert_eq(x->segments[6].pdt_us, T0 + 21000000);
    cr_assert_eq(cir_live_writer_put_outage_gap(w, 13 * TS, TS), CIR_EINVAL,
                 "not with a segment open");
}

/* Paused between timelines (a break): no part is hinted, in memory and
 * in the index on disk, until the first media segment after the break's
 * discontinuity opens; a segment the break's own flush opens keeps it
 * paused. */
Test(live_writer, a_paused_writer_hints_no_part)
{
    cir_hls_directives_t d = {0};
    cir_live_index_t disk;
    cir_buf_t out;

    start(4, "INIT1", 5);
    put_segment();
    cir_buf_init(&out, 1 << 20);
    cr_assert_eq(
        cir_hls_render_live_media(cir_live_writer_index(w), &d, NULL, 0, &out),
        0);
    cr_assert_not_null(
        strstr(out.data, "PRELOAD-HINT:TYPE=PART,URI=\"part-1.0"), "%s",
        out.data);
    cr_assert_eq(put_part(w, "P", 1, media_t, TS, 1), 0);
    media_t += TS;
    cir_live_writer_pause(w);
    cr_assert_eq(end_segment(w), 0);
    /* the break's flush may open one more segment: still paused (its
     * number's successor may become an outage's GAP segment) */
    cr_assert_eq(put_part(w, "P", 1, media_t, TS, 1), 0);
    media_t += TS;
    cr_assert_eq(end_segment(w), 0);
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(load(&disk), 0);
    cr_assert_eq(disk.paused, 1);
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_media(&disk, &d, NULL, 0, &out), 0);
    cr_assert_null(strstr(out.data, "PRELOAD-HINT"), "%s", out.data);
    cir_live_index_free(&disk);
    cr_assert_eq(put_part(w, "P", 1, media_t, TS, 1), 0);
    cr_assert_eq(load(&disk), 0);
    cr_assert_eq(disk.paused, 0);
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_media(&disk, &d, NULL, 0, &out), 0);
    cr_assert_not_null(
        strstr(out.data, "PRELOAD-HINT:TYPE=PART,URI=\"part-3.1"), "%s",
        out.data);
    cir_live_index_free(&disk);
    cir_buf_free(&out);
}

/* A part whose bytes could not be written: the segment it opened goes,
 * with its number (as if never opened when its file could not even be
 * created); one of an open segment leaves the segment as it was. */
Test(live_writer, a_part_that_was_not_written_leaves_no_segment)
{
    const cir_live_index_t *x;
    cir_live_part_plan_t plan;
    uint64_t version;

    start(3, "I", 1);
    cr_assert_eq(put_last_part(w, "A", 1, 0, TS, 1), 0); /* msn 0 */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    x = cir_live_writer_index(w);
    version = x->version;
    /* its file could not be created */
    cr_assert_eq(cir_live_writer_begin_part(w, 5, TS, TS, &plan), 0);
    cr_assert(plan.opens);
    cr_assert_eq(plan.msn, 1);
    cr_assert_eq(plan.offset, 0);
    cr_assert_eq(x->nb_segments, 2);
    cir_live_writer_abort_part(w, &plan, 0);
    cr_assert_eq(x->nb_segments, 1);
    cr_assert_eq(x->version, version, "nothing to publish");
    /* its bytes could not be written: the next part opens msn 1 again */
    cr_assert_eq(cir_live_writer_begin_part(w, 5, TS, TS, &plan), 0);
    cr_assert_eq(plan.msn, 1);
    cr_assert_eq(x->segments[1].discontinuity, 1, "as if never opened");
    cir_live_writer_abort_part(w, &plan, 1);
    cr_assert_eq(x->nb_segments, 1);
    cr_assert_eq(put_part(w, "AAAAA", 5, TS, TS, 1), 0);
    cr_assert_eq(x->segments[1].msn, 1);
    /* a part of an open segment that was not written: the next one goes
     * where it would have */
    cr_assert_eq(cir_live_writer_begin_part(w, 3, 2 * TS, TS, &plan), 0);
    cr_assert_not(plan.opens);
    cr_assert_eq(plan.offset, 5);
    cir_live_writer_abort_part(w, &plan, 0);
    cr_assert_eq(x->segments[1].nb_parts, 1);
    cr_assert_eq(put_part(w, "BBB", 3, 2 * TS, TS, 0), 0);
    cr_assert_eq(x->segments[1].nb_parts, 2);
}

/* A segment of a taken outage whose opening is undone (its file could not
 * be created, or its bytes not written) is still the outage's when the
 * retry opens it: the MPD leaves it out, and the outage has no segment
 * more or less. */
Test(live_writer, an_undone_outage_segment_stays_the_outages)
{
    const cir_live_index_t *x;
    cir_live_part_plan_t plan;
    uint32_t count;
    int64_t from, to, begin;

    start(4, "INIT1", 5);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0, 0), 0);
    put_segment();
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 9000000, 4000000), 0);
    cr_assert_eq(cir_live_writer_fill_outage(w, 1, 3000000), 0);
    cr_assert_eq(cir_live_writer_take_outage(w, &count, &from, &to, &begin), 1);
    cr_assert_eq(count, 1);
    x = cir_live_writer_index(w);
    for (int file_created = 0; file_created < 2; file_created++) {
        cr_assert_eq(cir_live_writer_begin_part(w, 1, from, 3 * TS, &plan), 0);
        cr_assert(plan.opens);
        cr_assert(x->segments[x->nb_segments - 1].outage);
        cir_live_writer_abort_part(w, &plan, file_created);
    }
    cr_assert_eq(put_part(w, "S", 1, from, 3 * TS, 1), 0);
    cr_assert_eq(end_segment(w), 0);
    cr_assert(x->segments[x->nb_segments - 1].outage, "the retry's");
    cr_assert_eq(put_part(w, "P", 1, to, TS, 1), 0);
    cr_assert_not(x->segments[x->nb_segments - 1].outage,
                  "the stream's own again");
}

/* A key applies to the next init and those after it; set again before
 * that init it replaces the one set; a key no listed segment needs goes
 * once its segments left the index. */
Test(live_writer, keys_follow_the_inits)
{
    cir_live_key_t k;
    const cir_live_index_t *x;

    memset(&k, 0, sizeof(k));
    k.scheme = CIR_ENC_CENC;
    k.systems = CIR_DRM_BIT(CIR_DRM_CLEARKEY);
    memset(k.key_id, 1, 16);
    start(3, "I", 1); /* init 1, clear */
    put_segment();
    cr_assert_eq(cir_live_writer_set_key(w, &k), 0);
    memset(k.key_id, 2, 16);
    cr_assert_eq(cir_live_writer_set_key(w, &k), 0); /* replaces it */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_keys, 1);
    cr_assert_eq(x->keys[0].from_init, 2);
    cr_assert_null(cir_live_index_key(x, 1), "init 1 stays clear");
    cr_assert_eq(put_init(w, "J", 1), 0);
    put_segment();
    memset(k.key_id, 3, 16);
    cr_assert_eq(cir_live_writer_set_key(w, &k), 0);
    cr_assert_eq(put_init(w, "K", 1), 0);
    put_segments(2);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_keys, 2);
    cr_assert_eq(cir_live_index_key(x, 2)->key_id[0], 2);
    cr_assert_eq(cir_live_index_key(x, 3)->key_id[0], 3);
    /* the index published says the same */
    {
        cir_live_index_t disk;
        cr_assert_eq(
            cir_live_index_decode(published.data, published.len, &disk), 0);
        cr_assert_eq(disk.nb_keys, x->nb_keys);
        cir_live_index_free(&disk);
    }
    /* once init 2's segment left the index, its key goes */
    put_segments(12);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].init_id, 3);
    cr_assert_eq(x->nb_keys, 1);
    cr_assert_eq(x->keys[0].key_id[0], 3);
    cr_assert_eq(cir_live_writer_set_key(NULL, &k), CIR_EINVAL);
    cr_assert_eq(cir_live_writer_set_key(w, NULL), CIR_EINVAL);
}

/* A key rotation's new init: a discontinuity (a new map, a new DASH
 * Period) but the media timeline goes on, and PDT with it, even with the
 * wall clock ahead; a new init without a new key is anchored anew. */
Test(live_writer, a_new_key_keeps_the_timeline)
{
    cir_live_key_t k;
    const cir_live_index_t *x;
    const cir_live_segment_t *a, *b;

    memset(&k, 0, sizeof(k));
    k.scheme = CIR_ENC_CBCS;
    k.systems = CIR_DRM_BIT(CIR_DRM_CLEARKEY);
    memset(k.key_id, 1, 16);
    cr_assert_eq(cir_live_writer_set_key(w = NULL, &k), CIR_EINVAL);
    start(3, "I", 1);
    put_segment();
    memset(k.key_id, 2, 16);
    cr_assert_eq(cir_live_writer_set_key(w, &k), 0);
    cr_assert_eq(put_init(w, "J", 1), 0);
    cir_clock_fixed_advance(&clk, 700000); /* the wall clock ahead */
    put_segment();
    x = cir_live_writer_index(w);
    a = &x->segments[0];
    b = &x->segments[1];
    cr_assert_eq(b->discontinuity, 1);
    cr_assert_eq(b->init_id, 2);
    cr_assert_eq(b->pdt_us, a->pdt_us + a->duration * 1000000 / TS,
                 "PDT goes on across a key change");
    /* a new init of the same key (a new codec configuration) */
    cr_assert_eq(put_init(w, "K", 1), 0);
    cir_clock_fixed_advance(&clk, 700000);
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[2].discontinuity, 1);
    cr_assert_gt(x->segments[2].pdt_us, b->pdt_us + b->duration * 1000000 / TS,
                 "anchored anew at the wall clock");
}
