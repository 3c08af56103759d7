/* The live timestamp repair stage (live_timestamps.c) over synthetic
 * timestamp sequences like real publishers send: every frame is kept,
 * DTS strictly increase per track, PTS >= DTS, repairs stay bounded, a
 * jump past the threshold is one discontinuity, and every repair is
 * counted by kind. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <libavutil/avutil.h>

#include "cir_error.h"
#include "live_timestamps.h"

#define MS     ((AVRational){1, 1000})
#define VIDEO  1
#define AUDIO  0
#define MAXPKT 4096

/* What came out of the stage for one track. */
typedef struct {
    int64_t in_dts[MAXPKT], in_pts[MAXPKT];
    int64_t dts[MAXPKT], pts[MAXPKT];
    int ret[MAXPKT];
    int n, kept, breaks;
} out_t;

static cir_onair_ts_t ts;
static out_t outs[2];

static void
open_stage(int wrap_bits, int64_t max_correction_us)
{
    cir_onair_ts_config_t cfg = {.max_gap_us = 5000000,
                                 .max_correction_us = max_correction_us};

    memset(outs, 0, sizeof(outs));
    cir_onair_ts_init(&ts, &cfg);
    cr_assert_eq(cir_onair_ts_add_track(&ts, VIDEO, MS, wrap_bits), 0);
    cr_assert_eq(cir_onair_ts_add_track(&ts, AUDIO, MS, wrap_bits), 0);
}

static int
feed(int track, int64_t dts, int64_t pts)
{
    out_t *o = &outs[track];
    cir_onair_ts_result_t r;
    int ret = cir_onair_ts_fix(&ts, track, dts, pts, &r);

    cr_assert_geq(ret, 0);
    cr_assert_lt(o->n, MAXPKT);
    o->in_dts[o->n] = dts;
    o->in_pts[o->n] = pts;
    o->dts[o->n] = r.dts;
    o->pts[o->n] = r.pts;
    o->ret[o->n] = ret;
    o->n++;
    o->kept += ret != CIR_ONAIR_TS_DROP;
    o->breaks += ret == CIR_ONAIR_TS_BREAK;
    return ret;
}

/* What the packagers need: every packet kept, DTS strictly increasing,
 * PTS >= DTS, nothing before 0. */
static void
assert_packageable(int track)
{
    const out_t *o = &outs[track];
    int64_t last = INT64_MIN;

    cr_assert_eq(o->kept, o->n, "%d of %d packets kept", o->kept, o->n);
    for (int i = 0; i < o->n; i++) {
        cr_assert_gt(o->dts[i], last, "packet %d: dts %lld after %lld", i,
                     (long long)o->dts[i], (long long)last);
        cr_assert_geq(o->pts[i], o->dts[i], "packet %d: pts %lld < dts %lld", i,
                      (long long)o->pts[i], (long long)o->dts[i]);
        cr_assert_geq(o->dts[i], 0);
        last = o->dts[i];
    }
}

/* The largest repair (output DTS minus source DTS, both from the
 * track's first packet) over packets [from, to). */
static int64_t
max_correction(int track, int from, int to)
{
    const out_t *o = &outs[track];
    int64_t m = 0;

    for (int i = from; i < to; i++) {
        int64_t c = (o->dts[i] - o->dts[0]) - (o->in_dts[i] - o->in_dts[0]);
        m = llabs(c) > m ? llabs(c) : m;
    }
    return m;
}

static uint64_t
count(int track, cir_onair_ts_kind_t k)
{
    return cir_onair_ts_count(&ts, track, k);
}

/* 30 fps in whole ms: 0, 33, 67, 100 ... */
static int64_t
frame_ms(int i)
{
    return (int64_t)(i * 1000.0 / 30 + 0.5);
}

/* AAC at 48 kHz in whole ms: 0, 21, 43, 64 ... */
static int64_t
aac_ms(int i)
{
    return (int64_t)(i * 1024000.0 / 48000 + 0.5);
}

Test(live_timestamps, a_clean_stream_is_untouched)
{
    open_stage(32, 0);
    for (int i = 0, a = 0; i < 300; i++) {
        feed(VIDEO, 1000 + frame_ms(i), 1000 + frame_ms(i));
        while (aac_ms(a) <= frame_ms(i)) {
            feed(AUDIO, 1000 + aac_ms(a), 1000 + aac_ms(a));
            a++;
        }
    }
    assert_packageable(VIDEO);
    assert_packageable(AUDIO);
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < outs[t].n; i++) {
            cr_assert_eq(outs[t].dts[i], outs[t].in_dts[i] - 1000);
            cr_assert_eq(outs[t].pts[i], outs[t].in_pts[i] - 1000);
        }
        for (int k = 0; k < CIR_ONAIR_TS_KINDS; k++) {
            cr_assert_eq(count(t, k), 0, "%s", cir_onair_ts_kind_name(k));
        }
    }
}

/* One publisher stack's start: three frames share a timestamp, then
 * 33/34 ms steps (the "5584 >= 5584" to the muxer). */
Test(live_timestamps, bunched_dts_at_the_start_are_spread)
{
    static const int64_t dts[] = {5584, 5584, 5584, 5617, 5651,
                                  5684, 5717, 5751, 5784};

    open_stage(32, 0);
    for (size_t i = 0; i < sizeof(dts) / sizeof(dts[0]); i++) {
        feed(VIDEO, dts[i], dts[i]);
    }
    assert_packageable(VIDEO);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_REPEATED), 2);
    cr_assert_eq(outs[VIDEO].breaks, 0);
    /* spread by a tick each, and gone by the next real step */
    cr_assert_eq(outs[VIDEO].dts[1], 1);
    cr_assert_eq(outs[VIDEO].dts[2], 2);
    cr_assert_eq(outs[VIDEO].dts[3], 33);
    cr_assert_leq(max_correction(VIDEO, 0, outs[VIDEO].n), 2);
    cr_assert_eq(max_correction(VIDEO, 3, outs[VIDEO].n), 0);
}

/* Repeats all through the stream: every third frame shares the DTS of the
 * one before (with pts, B-frame style, ahead of it). */
Test(live_timestamps, repeated_dts_all_along_keep_every_frame)
{
    open_stage(32, 0);
    for (int i = 0; i < 900; i++) {
        int64_t d = frame_ms(i - (i % 3 == 2));
        feed(VIDEO, d, frame_ms(i) + 67);
    }
    assert_packageable(VIDEO);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_REPEATED), 300);
    cr_assert_eq(outs[VIDEO].breaks, 0);
    cr_assert_leq(max_correction(VIDEO, 0, outs[VIDEO].n), 34);
    /* the frame keeps its composition offset: PTS stay distinct */
    for (int i = 1; i < outs[VIDEO].n; i++) {
        cr_assert_neq(outs[VIDEO].pts[i], outs[VIDEO].pts[i - 1]);
    }
}

Test(live_timestamps, small_backward_steps_are_moved_forward)
{
    static const int64_t dts[] = {0, 33, 67, 60, 100, 133, 120, 167, 200};

    open_stage(32, 0);
    for (size_t i = 0; i < sizeof(dts) / sizeof(dts[0]); i++) {
        feed(VIDEO, dts[i], dts[i]);
    }
    assert_packageable(VIDEO);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_BACKWARD), 2);
    cr_assert_eq(outs[VIDEO].dts[3], 68);
    cr_assert_eq(outs[VIDEO].dts[6], 134);
    cr_assert_eq(outs[VIDEO].dts[7], 167, "the correction goes away");
    cr_assert_eq(outs[VIDEO].breaks, 0);
}

/* A capture clock that wobbles by up to +-20 ms a frame (often out of
 * order), audio by +-12 ms: repairs within the wobble. */
Test(live_timestamps, jitter_keeps_every_frame_within_the_jitter)
{
    unsigned seed = 7;

    open_stage(32, 0);
    for (int i = 0, a = 0; i < 1800; i++) {
        int64_t jv = (int64_t)(rand_r(&seed) % 41) - 20;
        feed(VIDEO, 500 + frame_ms(i) + jv, 500 + frame_ms(i) + jv);
        while (aac_ms(a) <= frame_ms(i)) {
            int64_t ja = (int64_t)(rand_r(&seed) % 25) - 12;
            feed(AUDIO, 530 + aac_ms(a) + ja, 530 + aac_ms(a) + ja);
            a++;
        }
    }
    assert_packageable(VIDEO);
    assert_packageable(AUDIO);
    cr_assert_eq(outs[VIDEO].breaks + outs[AUDIO].breaks, 0);
    cr_assert_leq(max_correction(VIDEO, 0, outs[VIDEO].n), 41);
    cr_assert_leq(max_correction(AUDIO, 0, outs[AUDIO].n), 25);
    cr_assert_gt(count(VIDEO, CIR_ONAIR_TS_BACKWARD), 10);
    cr_assert_gt(count(AUDIO, CIR_ONAIR_TS_BACKWARD), 10);
}

/* A gap under the threshold (an encoder stall) is kept as it is and
 * counted; the audio that vanishes for 7 s and comes back while the video
 * flows resumes where the source clock says, with no break. */
Test(live_timestamps, gaps_and_vanishing_audio_are_no_break)
{
    open_stage(32, 0);
    for (int i = 0, a = 0; i < 600; i++) {
        int64_t v = frame_ms(i) + (i >= 150 ? 2000 : 0);
        feed(VIDEO, v, v);
        while (aac_ms(a) <= v) {
            int64_t t = aac_ms(a);
            if (t < 3000 || t >= 10000) {
                feed(AUDIO, t, t);
            }
            a++;
        }
    }
    assert_packageable(VIDEO);
    assert_packageable(AUDIO);
    cr_assert_eq(outs[VIDEO].breaks + outs[AUDIO].breaks, 0);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_GAP), 1);
    cr_assert_eq(count(AUDIO, CIR_ONAIR_TS_GAP), 1);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_DISCONTINUITY), 0);
    /* both tracks stay on the source's clock */
    for (int t = 0; t < 2; t++) {
        cr_assert_eq(max_correction(t, 0, outs[t].n), 0);
    }
}

/* Audio that starts 4 s after the video (and 120 ms of skew from it) is
 * taken as it comes. */
Test(live_timestamps, late_audio_and_skew_are_kept)
{
    open_stage(32, 0);
    for (int i = 0, a = 0; i < 300; i++) {
        feed(VIDEO, 2000 + frame_ms(i), 2000 + frame_ms(i));
        while (aac_ms(a) + 4000 <= frame_ms(i)) {
            int64_t t = 2000 + 4000 + aac_ms(a) - 120;
            feed(AUDIO, t, t);
            a++;
        }
    }
    assert_packageable(VIDEO);
    assert_packageable(AUDIO);
    cr_assert_eq(outs[AUDIO].dts[0], 4000 - 120);
    cr_assert_eq(outs[VIDEO].breaks + outs[AUDIO].breaks, 0);
}

/* Audio on a clock 8 s away from the video's (beyond the gap threshold):
 * one break realigns it, and nothing flips back and forth. */
Test(live_timestamps, a_skew_past_the_threshold_breaks_once)
{
    open_stage(32, 0);
    for (int i = 0, a = 0; i < 300; i++) {
        feed(VIDEO, 10000 + frame_ms(i), 10000 + frame_ms(i));
        while (aac_ms(a) <= frame_ms(i)) {
            feed(AUDIO, 2000 + aac_ms(a), 2000 + aac_ms(a));
            a++;
        }
    }
    assert_packageable(VIDEO);
    assert_packageable(AUDIO);
    cr_assert_eq(outs[VIDEO].breaks + outs[AUDIO].breaks, 1);
    cr_assert_eq(count(AUDIO, CIR_ONAIR_TS_DISCONTINUITY), 1);
    cr_assert_leq(llabs(outs[AUDIO].dts[outs[AUDIO].n - 1] -
                        outs[VIDEO].dts[outs[VIDEO].n - 1]),
                  100);
}

/* Decode order I P B B P B B ...: the display index of the k-th frame. */
static int
display_of(int k)
{
    int m = (k - 1) / 3, j = (k - 1) % 3;

    return k == 0 ? 0 : j == 0 ? 3 * m + 3 : 3 * m + j;
}

/* B-frames the way OBS's x264 (bframes=2) sends them over FLV: decode
 * order I P B B, PTS ahead of DTS.  Nothing to repair; with repeated
 * DTS on top, the order of presentation stays. */
Test(live_timestamps, b_frames_keep_their_composition_offsets)
{
    open_stage(32, 0);
    for (int k = 0; k < 300; k++) {
        feed(VIDEO, frame_ms(k), frame_ms(display_of(k)) + 67);
    }
    assert_packageable(VIDEO);
    for (int i = 0; i < outs[VIDEO].n; i++) {
        cr_assert_eq(outs[VIDEO].pts[i] - outs[VIDEO].dts[i],
                     outs[VIDEO].in_pts[i] - outs[VIDEO].in_dts[i]);
    }
    for (int k = 0; k < CIR_ONAIR_TS_KINDS; k++) {
        cr_assert_eq(count(VIDEO, k), 0, "%s", cir_onair_ts_kind_name(k));
    }

    /* the same with the DTS of every second B-frame repeating the one
     * before */
    open_stage(32, 0);
    for (int k = 0; k < 300; k++) {
        int repeat = k > 0 && (k - 1) % 3 == 2;
        feed(VIDEO, frame_ms(repeat ? k - 1 : k), frame_ms(display_of(k)) + 67);
    }
    assert_packageable(VIDEO);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_REPEATED), 99);
    for (int i = 0; i < outs[VIDEO].n; i++) {
        for (int j = i + 1; j < outs[VIDEO].n && j < i + 6; j++) {
            /* presentation order as sent */
            cr_assert_eq(outs[VIDEO].pts[i] < outs[VIDEO].pts[j],
                         outs[VIDEO].in_pts[i] < outs[VIDEO].in_pts[j],
                         "frames %d and %d", i, j);
        }
    }
}

/* Negative composition offsets (PTS before DTS, as some encoders write
 * B-frames): the track's DTS are delayed so PTS >= DTS, PTS unchanged. */
Test(live_timestamps, negative_cts_delays_the_dts)
{
    open_stage(32, 0);
    for (int i = 0; i < 300; i++) {
        int64_t dts = 100 + frame_ms(i);
        int64_t pts = i % 3 == 2 ? dts - 33 : dts + 33;
        feed(VIDEO, dts, pts);
    }
    assert_packageable(VIDEO);
    cr_assert_gt(count(VIDEO, CIR_ONAIR_TS_NEGATIVE_CTS), 0);
    for (int i = 5; i < outs[VIDEO].n; i++) {
        cr_assert_eq(outs[VIDEO].pts[i], outs[VIDEO].in_pts[i] - 100,
                     "frame %d keeps its presentation time", i);
    }
}

/* RTMP timestamps are 32 bits of ms: 49.7 days in, they wrap to 0. */
Test(live_timestamps, the_32_bit_millisecond_wrap_is_undone)
{
    const int64_t start = (INT64_C(1) << 32) - 3000; /* 3 s before */

    open_stage(32, 0);
    for (int i = 0, a = 0; i < 300; i++) {
        int64_t v = (start + frame_ms(i)) & 0xffffffff;
        feed(VIDEO, v, v + 33);
        while (aac_ms(a) <= frame_ms(i)) {
            int64_t t = (start + aac_ms(a)) & 0xffffffff;
            feed(AUDIO, t, t);
            a++;
        }
    }
    assert_packageable(VIDEO);
    assert_packageable(AUDIO);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_WRAP), 1);
    cr_assert_eq(count(AUDIO, CIR_ONAIR_TS_WRAP), 1);
    cr_assert_eq(outs[VIDEO].breaks + outs[AUDIO].breaks, 0);
    for (int i = 0; i < outs[VIDEO].n; i++) {
        cr_assert_eq(outs[VIDEO].dts[i], frame_ms(i), "continuous");
    }
    /* the feeder's view (cir_onair_ts_source_us) follows the wrap */
    cr_assert_eq(cir_onair_ts_source_us(&ts, VIDEO, 9000000),
                 (start + 9000 - (INT64_C(1) << 32)) * 1000);
}

/* Without a wrap configured, the same step back is a jump. */
Test(live_timestamps, no_wrap_without_wrap_bits)
{
    open_stage(0, 0);
    feed(VIDEO, 4294967000, 4294967000);
    feed(VIDEO, 4294967033, 4294967033);
    feed(VIDEO, 100, 100);
    assert_packageable(VIDEO);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_WRAP), 0);
    cr_assert_eq(outs[VIDEO].breaks, 1);
}

/* Jumps past the threshold (100 s ahead, 20 s back) are discontinuities
 * and the timeline continues just after the last frame; a jump under the
 * threshold is not. */
Test(live_timestamps, a_jump_past_the_threshold_is_a_discontinuity)
{
    int64_t at[3];

    open_stage(32, 0);
    for (int i = 0; i < 450; i++) {
        int64_t d = frame_ms(i) + (i >= 150 ? 100000 : 0) -
                    (i >= 300 ? 20000 + 100000 : 0) + (i >= 400 ? 4000 : 0);
        feed(VIDEO, d, d);
    }
    assert_packageable(VIDEO);
    cr_assert_eq(outs[VIDEO].breaks, 2);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_DISCONTINUITY), 2);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_GAP), 1, "the 4 s step");
    at[0] = outs[VIDEO].dts[150] - outs[VIDEO].dts[149];
    at[1] = outs[VIDEO].dts[300] - outs[VIDEO].dts[299];
    at[2] = outs[VIDEO].dts[400] - outs[VIDEO].dts[399];
    cr_assert_eq(outs[VIDEO].ret[150], CIR_ONAIR_TS_BREAK);
    cr_assert_eq(outs[VIDEO].ret[300], CIR_ONAIR_TS_BREAK);
    cr_assert_eq(at[0], CIR_ONAIR_TS_BREAK_STEP_US / 1000);
    cr_assert_eq(at[1], CIR_ONAIR_TS_BREAK_STEP_US / 1000);
    cr_assert_eq(at[2], 4033);
}

/* A source stuck on one DTS: each repeat moves a tick, the correction
 * never passes the limit, and past it the stage breaks instead of
 * drifting further. */
Test(live_timestamps, corrections_stay_bounded)
{
    open_stage(32, 50000); /* 50 ms */
    for (int i = 0; i < 30; i++) {
        feed(VIDEO, frame_ms(i), frame_ms(i));
    }
    for (int i = 0; i < 200; i++) {
        feed(VIDEO, 1000, 1000);
    }
    for (int i = 0; i < 30; i++) {
        feed(VIDEO, 1000 + frame_ms(i + 1), 1000 + frame_ms(i + 1));
    }
    assert_packageable(VIDEO);
    cr_assert_geq(outs[VIDEO].breaks, 1);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_DISCONTINUITY),
                 (uint64_t)outs[VIDEO].breaks);
    /* between breaks, no packet is more than the limit off its source */
    for (int i = 1, from = 0; i < outs[VIDEO].n; i++) {
        if (outs[VIDEO].ret[i] == CIR_ONAIR_TS_BREAK) {
            from = i;
        }
        int64_t c = (outs[VIDEO].dts[i] - outs[VIDEO].dts[from]) -
                    (outs[VIDEO].in_dts[i] - outs[VIDEO].in_dts[from]);
        cr_assert_leq(c, 50, "packet %d: %lld ms off", i, (long long)c);
    }
}

/* A publisher reconnects and its clock restarts at 0 for both tracks:
 * one discontinuity, both tracks continue after their last packet, and
 * the audio keeps its place next to the video. */
Test(live_timestamps, a_reconnect_breaks_once_and_keeps_sync)
{
    int vi = 0, ai = 0;

    open_stage(32, 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0, a = 0; i < 300; i++) {
            feed(VIDEO, 50 + frame_ms(i), 50 + frame_ms(i) + 33);
            while (aac_ms(a) <= frame_ms(i)) {
                feed(AUDIO, 50 + aac_ms(a), 50 + aac_ms(a));
                a++;
            }
        }
        if (round == 0) {
            vi = outs[VIDEO].n;
            ai = outs[AUDIO].n;
        }
    }
    assert_packageable(VIDEO);
    assert_packageable(AUDIO);
    cr_assert_eq(outs[VIDEO].breaks + outs[AUDIO].breaks, 1);
    cr_assert_eq(outs[VIDEO].ret[vi], CIR_ONAIR_TS_BREAK);
    /* after the break, audio and video are as far apart as sent */
    cr_assert_eq(outs[AUDIO].dts[ai] - outs[VIDEO].dts[vi],
                 outs[AUDIO].in_dts[ai] - outs[VIDEO].in_dts[vi]);
}

/* Audio from before the video's first packet: dropped and counted, the
 * stream starts at the first packet. */
Test(live_timestamps, packets_before_the_start_are_counted)
{
    open_stage(32, 0);
    feed(VIDEO, 1000, 1000);
    feed(AUDIO, 979, 979);
    feed(AUDIO, 1000, 1000);
    cr_assert_eq(outs[AUDIO].ret[0], CIR_ONAIR_TS_DROP);
    cr_assert_eq(outs[AUDIO].dts[1], 0);
    cr_assert_eq(count(AUDIO, CIR_ONAIR_TS_BEFORE_START), 1);
}

Test(live_timestamps, first_repairs_are_flagged_once_per_kind)
{
    cir_onair_ts_result_t r;

    open_stage(32, 0);
    cr_assert_eq(cir_onair_ts_fix(&ts, VIDEO, 0, 0, &r), 0);
    cr_assert_eq(cir_onair_ts_fix(&ts, VIDEO, 0, 0, &r), 0);
    cr_assert_eq(r.first, 1u << CIR_ONAIR_TS_REPEATED);
    cr_assert_eq(cir_onair_ts_fix(&ts, VIDEO, 0, 0, &r), 0);
    cr_assert_eq(r.kinds, 1u << CIR_ONAIR_TS_REPEATED);
    cr_assert_eq(r.first, 0);
    cr_assert_eq(count(VIDEO, CIR_ONAIR_TS_REPEATED), 2);
    cr_assert_str_eq(cir_onair_ts_kind_name(CIR_ONAIR_TS_REPEATED),
                     "repeated_dts");
    cr_assert_eq(
        cir_onair_ts_fix(&ts, VIDEO, AV_NOPTS_VALUE, AV_NOPTS_VALUE, &r),
        CIR_EINVAL);
}
