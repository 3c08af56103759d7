/*
 * Timestamp repair at live ingest: what publishers send, made fit for the
 * packagers (one per stream, a track each for video and audio; no I/O).
 *
 * Real encoders and RTMP stacks send repeated and bunched DTS, small steps
 * backwards, PTS before DTS (negative composition offsets), timestamps
 * that wrap at 2^32 ms, gaps, one track far from the other, and a clock
 * that restarts on a reconnect.  The mp4 muxer takes none of the first
 * three, so each packet goes through cir_onair_ts_fix on its way in:
 *
 * - the stream starts at 0 (the first packet of either track);
 * - wrap: a track whose source timestamps wrap (RTMP: 32 bits of ms) is
 *   unwrapped: a step back by more than half the range is a wrap;
 * - DTS strictly increases per track: a DTS equal to or before the last
 *   one is moved one tick past it, and its PTS with it (the frame keeps
 *   its composition offset), so no frame is dropped; the correction
 *   vanishes as soon as the source's DTS move past the output's again;
 * - PTS >= DTS: a negative composition offset delays the track's DTS
 *   (up to the correction limit; beyond it the PTS is raised);
 * - bounded: a packet that would need a correction larger than
 *   max_correction_us, or that lies more than max_gap_us from the
 *   stream's latest time (either way), starts a new timeline
 *   (CIR_ONAIR_TS_BREAK: the caller marks a discontinuity), continued just
 *   after the last output; the other track follows that timeline when its
 *   own packets jump too, so a reconnect breaks once and keeps sync;
 * - a track that stops (audio vanishing) or starts late is judged against
 *   the stream's latest time, not its own last packet: it resumes where
 *   the source clock says, with no break (a gap, counted);
 * - packets before the stream's start are dropped (counted).
 *
 * Every repair is counted per track and kind (cir_onair_ts_count); a
 * result's `first` bits say which kinds this packet repaired for the first
 * time on its track, for a log line per kind.
 */
#ifndef CIR_LIVE_TIMESTAMPS_H
#define CIR_LIVE_TIMESTAMPS_H

#include <stdint.h>

#include <libavutil/rational.h>

/* Defaults (cir_onair_config_t / cirrus-ingest options override the first
 * two). */
#define CIR_ONAIR_TS_MAX_GAP_US        5000000 /* a jump: a new timeline */
#define CIR_ONAIR_TS_MAX_CORRECTION_US 500000  /* a larger repair: a break */
#define CIR_ONAIR_TS_GAP_US            1000000 /* steps this long: a "gap" */
#define CIR_ONAIR_TS_BREAK_STEP_US     40000 /* after a break, continue here */

typedef enum {
    CIR_ONAIR_TS_REPEATED,      /* DTS equal to the last: moved past it */
    CIR_ONAIR_TS_BACKWARD,      /* DTS before the last (within the limit) */
    CIR_ONAIR_TS_NEGATIVE_CTS,  /* PTS before DTS */
    CIR_ONAIR_TS_WRAP,          /* the source's timestamps wrapped */
    CIR_ONAIR_TS_GAP,           /* a forward step of CIR_ONAIR_TS_GAP_US+ */
    CIR_ONAIR_TS_DISCONTINUITY, /* a jump: a new timeline */
    CIR_ONAIR_TS_BEFORE_START,  /* before the stream's start: dropped */
    /* counted for the packagers behind (cir_onair_ts_note): */
    CIR_ONAIR_TS_BEFORE_VIDEO, /* audio wholly before the video's first
                                * segment: dropped (segments aligned) */
    CIR_ONAIR_TS_BEFORE_KEY,   /* video before its first keyframe (or the
                                * first after a new header): dropped */
    CIR_ONAIR_TS_SILENCE,      /* audio frames of silence filling a hole
                                * (live_silence.h) */
    CIR_ONAIR_TS_OVERLAP,      /* audio frames that came after silence had
                                * filled their time: dropped */
    CIR_ONAIR_TS_KINDS
} cir_onair_ts_kind_t;

enum {
    CIR_ONAIR_TS_KEEP = 0,  /* package the packet with the repaired times */
    CIR_ONAIR_TS_BREAK = 1, /* the same, after a discontinuity */
    CIR_ONAIR_TS_DROP = 2   /* before the stream's start */
};

typedef struct {
    int64_t max_gap_us;        /* 0: CIR_ONAIR_TS_MAX_GAP_US */
    int64_t max_correction_us; /* 0: CIR_ONAIR_TS_MAX_CORRECTION_US */
} cir_onair_ts_config_t;

typedef struct {
    int present;
    AVRational tb;
    int64_t wrap;     /* ticks; 0: none */
    int64_t last_raw; /* unwrapped source DTS of the last packet */
    int64_t epoch;    /* added to the source's DTS for its wraps */
    int64_t shift_us; /* this track's timeline: source + shift - base */
    int64_t last_dts; /* output, ticks (AV_NOPTS_VALUE at first) */
    int64_t delay;    /* ticks DTS is moved earlier (negative CTS) */
    int64_t lag;      /* ticks the last DTS was moved later (repairs) */
    uint64_t count[CIR_ONAIR_TS_KINDS];
} cir_onair_ts_track_t;

typedef struct {
    int64_t max_gap_us, max_correction_us;
    int started;
    int64_t base_us;               /* the source time of the stream's 0 */
    int64_t break_shift_us;        /* the latest new timeline's shift */
    cir_onair_ts_track_t track[2]; /* [0] audio, [1] video */
} cir_onair_ts_t;

typedef struct {
    int64_t dts, pts; /* repaired, in the track's time base */
    unsigned kinds;   /* 1 << kind for every repair of this packet */
    unsigned first;   /* ... that is the first of its kind on the track */
} cir_onair_ts_result_t;

void cir_onair_ts_init(cir_onair_ts_t *s, const cir_onair_ts_config_t *cfg);
/* track: 1 video, 0 audio; wrap_bits: the source's timestamps wrap at
 * 2^wrap_bits ticks of tb (RTMP: 32), 0: never. */
int cir_onair_ts_add_track(cir_onair_ts_t *s, int track, AVRational tb,
                           int wrap_bits);
/* One packet's DTS and PTS (either may be AV_NOPTS_VALUE, not both), in
 * the track's time base: CIR_ONAIR_TS_KEEP, _BREAK or _DROP, with the
 * repaired times in *r. */
int cir_onair_ts_fix(cir_onair_ts_t *s, int track, int64_t dts, int64_t pts,
                     cir_onair_ts_result_t *r);
/* A time on the output timeline (µs) as the track's source time (µs,
 * before unwrapping), minus the track's current repair lag: a feeder
 * comparing source times with it errs early. */
int64_t cir_onair_ts_source_us(const cir_onair_ts_t *s, int track,
                               int64_t out_us);
int cir_onair_ts_started(const cir_onair_ts_t *s);
/* Counts n packets a stage behind dropped (kind: CIR_ONAIR_TS_BEFORE_VIDEO
 * or _BEFORE_KEY); 1 when they are the first of their kind on the track. */
int cir_onair_ts_note(cir_onair_ts_t *s, int track, cir_onair_ts_kind_t kind,
                      uint64_t n);
uint64_t cir_onair_ts_count(const cir_onair_ts_t *s, int track,
                            cir_onair_ts_kind_t kind);
/* "repeated_dts", "backward_dts", ... (the metrics' kind label). */
const char *cir_onair_ts_kind_name(cir_onair_ts_kind_t kind);

#endif
