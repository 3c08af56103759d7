/*
 * Live CMAF packaging of one track into LL-HLS parts and segments through
 * the origin's live index writer (origin/include/cir_live.h).
 *
 * Each part is one CMAF chunk (moof+mdat), cut from the samples' times
 * alone (no assumed frame rate): a part never exceeds the stream's
 * PART-TARGET and, but for the last part of a segment, is at least 85 % of
 * it whenever samples come at most 15 % of a part apart (30, 25, 60 fps,
 * FLV's 33/33/34 ms, bunched or irregular times, AAC).  One sample is held
 * back until the next one shows where a part holding it would end.  A
 * segment closes at the first keyframe at or after the segment target
 * (audio alone: any sample; a follower: at its leader's cut, to the
 * nearest sample), and at any sample before it would outgrow the stream's
 * target duration.  A part that starts with a keyframe is INDEPENDENT.
 */
#ifndef CIR_CMAF_LIVE_H
#define CIR_CMAF_LIVE_H

#include <libavcodec/avcodec.h>

#include "cir_encryption.h"
#include "cir_live.h"

typedef struct cir_cmaf_live cir_cmaf_live_t;

typedef struct {
    const char *dir;               /* <root>/<stream>/<rendition> */
    const cir_live_track_t *track; /* codecs etc.; copied */
    const AVCodecParameters *par;  /* the packets' codec; copied */
    AVRational time_base;          /* of the packets */
    AVRational frame_rate;         /* video; a default sample duration */
    int64_t part_target_us;        /* cir_live_part_target_us */
    double segment_seconds;
    uint32_t target_duration; /* the stream's; 0: decided later (the
                               * leader's first segment, or set_target) */
    int decides_target;       /* the stream's leader: decides it when its
                               * first segment closes */
    int follower;             /* segments start where a leader's do
                               * (cut_at); waits for the first */
    uint32_t window;
    const cir_clock_t *clock;    /* NULL: system */
    const cir_encryption_t *enc; /* NULL: clear; cenc or cbcs (copied) */
    /* key rotation: the stream's crypto periods' keys (live_keys.h),
     * shared; NULL: enc's key throughout */
    struct cir_live_keys *keys;
} cir_cmaf_live_config_t;

int cir_cmaf_live_open(cir_cmaf_live_t **c, const cir_cmaf_live_config_t *cfg);
/* pkt in cfg->time_base, dts non-decreasing and >= 0; not consumed.
 * Returns 1 when the packet started a segment (the first one too), 0, or
 * an error. */
int cir_cmaf_live_write(cir_cmaf_live_t *c, const AVPacket *pkt);
/* Where the current segment started (µs on the stream's timeline). */
int64_t cir_cmaf_live_segment_start_us(const cir_cmaf_live_t *c);
/* The earliest dts (µs on the stream's timeline) at which a packet can
 * complete the open part or start a segment of a follower; INT64_MIN when
 * the next packet may (no part open).  Packets before it only add to the
 * open part, so a feeder can hand them over in a batch.  Keyframes may
 * always start a segment. */
int64_t cir_cmaf_live_wake_us(const cir_cmaf_live_t *c);
/* The stream's target duration (decided by its leader, the same for
 * every rendition): published with the index from then on. */
int cir_cmaf_live_set_target_duration(cir_cmaf_live_t *c, uint32_t td);
/* 0 while not decided. */
uint32_t cir_cmaf_live_target_duration(const cir_cmaf_live_t *c);
/* The video carries closed captions in its SEI: said in the index from
 * its next update on (cir_live_track_t.closed_captions).  Idempotent. */
int cir_cmaf_live_set_closed_captions(cir_cmaf_live_t *c);
/* Before the first packet: see the config's follower, decides_target. */
void cir_cmaf_live_set_role(cir_cmaf_live_t *c, int follower,
                            int decides_target);
/* Makes c follow a leader: its next segment starts at the sample nearest
 * at_us (where the leader's segment started).  Its first segment starts
 * with the first sample at or overlapping the leader's start (those
 * wholly before are dropped, cir_cmaf_live_dropped); after a break
 * (reconfigure, discontinuity) with the first sample after it, the
 * leader's start then being that segment's. */
void cir_cmaf_live_cut_at(cir_cmaf_live_t *c, int64_t at_us);
/* Samples dropped before the track could start: video before a keyframe
 * (at the start, after a break), a follower's before its leader's first
 * segment. */
uint64_t cir_cmaf_live_dropped(const cir_cmaf_live_t *c);
/* New codec parameters (a new sequence header): new init, and the next
 * segment starts with a discontinuity. */
int cir_cmaf_live_reconfigure(cir_cmaf_live_t *c, const AVCodecParameters *par);
/* A break in the timeline (timestamp jump, publisher reconnect): closes
 * the open segment; the next one starts with a discontinuity.  A follower
 * is told where its leader's media ended (cir_cmaf_live_end_us after the
 * leader's break; AV_NOPTS_VALUE: no leader): a segment the leader began
 * that the follower never reached becomes a GAP segment. */
int cir_cmaf_live_discontinuity(cir_cmaf_live_t *c, int64_t leader_end_us);
/* Where the packaged media ends, µs (AV_NOPTS_VALUE: none yet). */
int64_t cir_cmaf_live_end_us(const cir_cmaf_live_t *c);
/* The stream's wall clock for PROGRAM-DATE-TIME from the next segment that
 * starts a timeline on (cir_live_writer_set_anchor): media time media_us
 * (µs on the stream's timeline) was captured at wall_us.  After a break
 * where the wall clock went on hole_us further than the media (an
 * outage), `gaps` GAP segments fill that time (cir_live_writer_fill_outage;
 * 0: none). */
int cir_cmaf_live_set_anchor(cir_cmaf_live_t *c, int64_t wall_us,
                             int64_t media_us, uint32_t gaps, int64_t hole_us);
/* Ends the stream: the last part and segment, then ENDLIST. */
int cir_cmaf_live_finish(cir_cmaf_live_t *c);
const cir_live_index_t *cir_cmaf_live_index(const cir_cmaf_live_t *c);
void cir_cmaf_live_free(cir_cmaf_live_t **c);

#endif
