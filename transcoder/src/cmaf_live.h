/*
 * Live CMAF packaging of one track into LL-HLS parts and segments through
 * the origin's live index writer (origin/include/cir_live.h).
 *
 * Each part is one CMAF chunk (moof+mdat).  A part closes when the next
 * sample would make it longer than the part target; a segment closes at the
 * first keyframe at or after the segment target (audio: any sample).  A part
 * that starts with a keyframe is INDEPENDENT.  A part is handed to the
 * writer when the first sample of the next one arrives, since only then is
 * its duration known.
 */
#ifndef CIR_CMAF_LIVE_H
#define CIR_CMAF_LIVE_H

#include <libavcodec/avcodec.h>

#include "cir_live.h"

typedef struct cir_cmaf_live cir_cmaf_live_t;

typedef struct {
    const char *dir;               /* <root>/<stream>/<rendition> */
    const cir_live_track_t *track; /* codecs etc.; copied */
    const AVCodecParameters *par;  /* the packets' codec; copied */
    AVRational time_base;          /* of the packets */
    AVRational frame_rate;         /* video */
    double part_seconds, segment_seconds;
    uint32_t window;
    const cir_clock_t *clock; /* NULL: system */
} cir_cmaf_live_config_t;

int cir_cmaf_live_open(cir_cmaf_live_t **c, const cir_cmaf_live_config_t *cfg);
/* pkt in cfg->time_base, dts non-decreasing and >= 0; not consumed.
 * Returns 1 when the packet started a new segment, 0, or an error. */
int cir_cmaf_live_write(cir_cmaf_live_t *c, const AVPacket *pkt);
/* Where the current segment started (µs on the stream's timeline). */
int64_t cir_cmaf_live_segment_start_us(const cir_cmaf_live_t *c);
/* The earliest dts (µs on the stream's timeline) at which a packet can
 * complete the open part or start a segment of a follower; INT64_MIN when
 * the next packet may (no part open).  Packets before it only add to the
 * open part, so a feeder can hand them over in a batch.  Keyframes may
 * always start a segment. */
int64_t cir_cmaf_live_wake_us(const cir_cmaf_live_t *c);
/* Makes c follow a leader: its next segment starts at the first sample at
 * or after at_us (where the leader's segment started). */
void cir_cmaf_live_cut_at(cir_cmaf_live_t *c, int64_t at_us);
/* New codec parameters (a new sequence header): new init, and the next
 * segment starts with a discontinuity. */
int cir_cmaf_live_reconfigure(cir_cmaf_live_t *c, const AVCodecParameters *par);
/* A break in the timeline (timestamp jump, publisher reconnect): closes
 * the open segment; the next one starts with a discontinuity. */
int cir_cmaf_live_discontinuity(cir_cmaf_live_t *c);
/* Ends the stream: the last part and segment, then ENDLIST. */
int cir_cmaf_live_finish(cir_cmaf_live_t *c);
const cir_live_index_t *cir_cmaf_live_index(const cir_cmaf_live_t *c);
void cir_cmaf_live_free(cir_cmaf_live_t **c);

#endif
