/*
 * Timestamp repair at live ingest (see live_timestamps.h).
 */
#include <string.h>

#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>

#include "cir_error.h"
#include "live_timestamps.h"

static const char *const kind_names[CIR_ONAIR_TS_KINDS] = {
    [CIR_ONAIR_TS_REPEATED] = "repeated_dts",
    [CIR_ONAIR_TS_BACKWARD] = "backward_dts",
    [CIR_ONAIR_TS_NEGATIVE_CTS] = "negative_cts",
    [CIR_ONAIR_TS_WRAP] = "wrap",
    [CIR_ONAIR_TS_GAP] = "gap",
    [CIR_ONAIR_TS_DISCONTINUITY] = "discontinuity",
    [CIR_ONAIR_TS_BEFORE_START] = "before_start",
    [CIR_ONAIR_TS_BEFORE_VIDEO] = "before_video",
    [CIR_ONAIR_TS_BEFORE_KEY] = "before_keyframe",
    [CIR_ONAIR_TS_SILENCE] = "silence_filled",
    [CIR_ONAIR_TS_OVERLAP] = "overlapped_silence",
};

const char *
cir_onair_ts_kind_name(cir_onair_ts_kind_t kind)
{
    return kind >= 0 && kind < CIR_ONAIR_TS_KINDS ? kind_names[kind] : "?";
}

void
cir_onair_ts_init(cir_onair_ts_t *s, const cir_onair_ts_config_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->max_gap_us =
        cfg && cfg->max_gap_us > 0 ? cfg->max_gap_us : CIR_ONAIR_TS_MAX_GAP_US;
    s->max_correction_us = cfg && cfg->max_correction_us > 0
                               ? cfg->max_correction_us
                               : CIR_ONAIR_TS_MAX_CORRECTION_US;
    if (s->max_correction_us > s->max_gap_us) {
        s->max_correction_us = s->max_gap_us;
    }
}

int
cir_onair_ts_add_track(cir_onair_ts_t *s, int track, AVRational tb,
                       int wrap_bits)
{
    cir_onair_ts_track_t *t;

    if ((track != 0 && track != 1) || tb.num <= 0 || tb.den <= 0 ||
        wrap_bits < 0 || wrap_bits > 62) {
        return CIR_EINVAL;
    }
    t = &s->track[track];
    memset(t, 0, sizeof(*t));
    t->present = 1;
    t->tb = tb;
    t->wrap = wrap_bits > 0 ? INT64_C(1) << wrap_bits : 0;
    t->last_raw = AV_NOPTS_VALUE;
    t->last_dts = AV_NOPTS_VALUE;
    t->shift_us = s->break_shift_us;
    return 0;
}

static int64_t
to_us(const cir_onair_ts_track_t *t, int64_t ticks)
{
    return av_rescale_q(ticks, t->tb, AV_TIME_BASE_Q);
}

static int64_t
to_ticks(const cir_onair_ts_track_t *t, int64_t us)
{
    return av_rescale_q(us, AV_TIME_BASE_Q, t->tb);
}

/* The source's DTS with its wraps undone: a step back by more than half
 * the range is a wrap; a step forward by more than half is a late packet
 * from before the last wrap. */
static int64_t
unwrap(cir_onair_ts_track_t *t, int64_t raw, unsigned *kinds)
{
    int64_t x;

    if (t->wrap == 0) {
        return raw;
    }
    x = raw + t->epoch;
    if (t->last_raw != AV_NOPTS_VALUE) {
        if (x < t->last_raw - t->wrap / 2) {
            t->epoch += t->wrap;
            x += t->wrap;
            *kinds |= 1u << CIR_ONAIR_TS_WRAP;
        } else if (x > t->last_raw + t->wrap / 2) {
            x -= t->wrap;
        }
    }
    t->last_raw = x;
    return x;
}

/* The stream's latest time: the last DTS of either track (µs). */
static int64_t
head_us(const cir_onair_ts_t *s)
{
    int64_t h = AV_NOPTS_VALUE;

    for (int i = 0; i < 2; i++) {
        const cir_onair_ts_track_t *t = &s->track[i];
        if (t->present && t->last_dts != AV_NOPTS_VALUE) {
            int64_t u = to_us(t, t->last_dts);
            h = h == AV_NOPTS_VALUE || u > h ? u : h;
        }
    }
    return h;
}

/* Whether a packet at now_us (on the output timeline) is a jump: back from
 * the track's last packet by more than the correction limit, or away from
 * the stream's latest time by more than the gap limit. */
static int
is_jump(const cir_onair_ts_t *s, int64_t own_us, int64_t head, int64_t now_us)
{
    return (own_us != AV_NOPTS_VALUE &&
            now_us < own_us - s->max_correction_us) ||
           (head != AV_NOPTS_VALUE &&
            (now_us > head + s->max_gap_us || now_us < head - s->max_gap_us));
}

/* A new timeline for the track: the packet at src_us continues just after
 * the stream's latest time. */
static void
new_timeline(cir_onair_ts_t *s, cir_onair_ts_track_t *t, int64_t src_us,
             int64_t own_us, int64_t head)
{
    int64_t land = head != AV_NOPTS_VALUE ? head : 0;

    if (own_us != AV_NOPTS_VALUE && own_us > land) {
        land = own_us;
    }
    land += CIR_ONAIR_TS_BREAK_STEP_US;
    t->shift_us = land - (src_us - s->base_us);
    t->delay = 0;
    s->break_shift_us = t->shift_us;
}

static void
count(cir_onair_ts_track_t *t, cir_onair_ts_result_t *r)
{
    for (int k = 0; k < CIR_ONAIR_TS_KINDS; k++) {
        if (r->kinds & (1u << k) && t->count[k]++ == 0) {
            r->first |= 1u << k;
        }
    }
}

int
cir_onair_ts_fix(cir_onair_ts_t *s, int track, int64_t dts, int64_t pts,
                 cir_onair_ts_result_t *r)
{
    cir_onair_ts_track_t *t;
    int64_t cts, src, src_us, own_us, head, now_us, od, op, lag;
    int ret = CIR_ONAIR_TS_KEEP;

    memset(r, 0, sizeof(*r));
    if ((track != 0 && track != 1) || !s->track[track].present ||
        (dts == AV_NOPTS_VALUE && pts == AV_NOPTS_VALUE)) {
        return CIR_EINVAL;
    }
    t = &s->track[track];
    dts = dts != AV_NOPTS_VALUE ? dts : pts;
    cts = pts != AV_NOPTS_VALUE ? pts - dts : 0;
    src = unwrap(t, dts, &r->kinds);
    src_us = to_us(t, src);
    if (!s->started) {
        s->started = 1;
        s->base_us = src_us;
    }
    own_us =
        t->last_dts != AV_NOPTS_VALUE ? to_us(t, t->last_dts) : AV_NOPTS_VALUE;
    head = head_us(s);
    now_us = src_us + t->shift_us - s->base_us;
    if (is_jump(s, own_us, head, now_us)) {
        /* the other track may have started a new timeline already (a
         * reconnect): follow it when it fits, else start one */
        int64_t alt = src_us + s->break_shift_us - s->base_us;
        if (s->break_shift_us != t->shift_us &&
            !is_jump(s, own_us, head, alt)) {
            t->shift_us = s->break_shift_us;
        } else {
            new_timeline(s, t, src_us, own_us, head);
            r->kinds |= 1u << CIR_ONAIR_TS_DISCONTINUITY;
            ret = CIR_ONAIR_TS_BREAK;
        }
    }
    od = src + to_ticks(t, t->shift_us - s->base_us);
    if (od < 0 && t->last_dts == AV_NOPTS_VALUE) {
        /* before the stream's start (the other track started later) */
        r->kinds |= 1u << CIR_ONAIR_TS_BEFORE_START;
        count(t, r);
        return CIR_ONAIR_TS_DROP;
    }
    op = od + cts;
    if (op < od) {
        /* PTS before DTS: the track's DTS run earlier by the offset */
        r->kinds |= 1u << CIR_ONAIR_TS_NEGATIVE_CTS;
        if (od - op > t->delay && to_us(t, od - op) <= s->max_correction_us) {
            t->delay = od - op;
        }
    }
    od -= t->delay;
    if (od < 0 && t->last_dts == AV_NOPTS_VALUE) {
        od = 0;
    }
    lag = 0;
    if (t->last_dts != AV_NOPTS_VALUE && od <= t->last_dts) {
        /* the same source DTS again (the output moved on), or one before */
        r->kinds |= 1u << (od == t->last_dts - t->lag ? CIR_ONAIR_TS_REPEATED
                                                      : CIR_ONAIR_TS_BACKWARD);
        lag = t->last_dts + 1 - od;
        if (to_us(t, lag) > s->max_correction_us) {
            /* repairs would drift too far: a new timeline instead */
            new_timeline(s, t, src_us, own_us, head);
            r->kinds |= 1u << CIR_ONAIR_TS_DISCONTINUITY;
            ret = CIR_ONAIR_TS_BREAK;
            od = src + to_ticks(t, t->shift_us - s->base_us);
            op = od + cts;
            lag = od > t->last_dts ? 0 : t->last_dts + 1 - od;
        }
        od += lag;
        op += lag;
    }
    if (op < od) {
        r->kinds |= 1u << CIR_ONAIR_TS_NEGATIVE_CTS;
        op = od;
    }
    if (t->last_dts != AV_NOPTS_VALUE && ret != CIR_ONAIR_TS_BREAK &&
        to_us(t, od - t->last_dts) >= CIR_ONAIR_TS_GAP_US) {
        r->kinds |= 1u << CIR_ONAIR_TS_GAP;
    }
    t->last_dts = od;
    t->lag = lag;
    r->dts = od;
    r->pts = op;
    count(t, r);
    return ret;
}

int64_t
cir_onair_ts_source_us(const cir_onair_ts_t *s, int track, int64_t out_us)
{
    const cir_onair_ts_track_t *t = &s->track[track & 1];

    return out_us - t->shift_us + s->base_us - to_us(t, t->epoch) +
           to_us(t, t->delay) - to_us(t, t->lag);
}

int
cir_onair_ts_started(const cir_onair_ts_t *s)
{
    return s->started;
}

int
cir_onair_ts_note(cir_onair_ts_t *s, int track, cir_onair_ts_kind_t kind,
                  uint64_t n)
{
    uint64_t *c;

    if ((track != 0 && track != 1) || kind < 0 || kind >= CIR_ONAIR_TS_KINDS ||
        n == 0) {
        return 0;
    }
    c = &s->track[track].count[kind];
    *c += n;
    return *c == n;
}

uint64_t
cir_onair_ts_count(const cir_onair_ts_t *s, int track, cir_onair_ts_kind_t kind)
{
    if ((track != 0 && track != 1) || kind < 0 || kind >= CIR_ONAIR_TS_KINDS) {
        return 0;
    }
    return s->track[track].count[kind];
}
