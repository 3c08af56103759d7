/*
 * One live rung: a thread that takes decoded source frames from a bounded
 * queue, scales them (bicubic) to the rung's size, encodes them with libx264
 * at zero latency (keyframes only where the producer asks) and packages the
 * packets into its own live CMAF rendition.
 *
 * The producer never waits: the queue (cir_bqueue.h, the drop policy the
 * ingest's pipeline queue uses too) holds queue_frames frames; when it is
 * full the newest frame that is not a keyframe is dropped (counted) so the
 * rung catches up and memory stays bounded; keyframes (and breaks) have 2
 * slots more and then evict that frame, so segments stay aligned.
 *
 * Also here: the packager configuration every live rendition is built
 * with (live_packager_config), the rungs' and the passthrough's alike.
 */
#ifndef CIR_LIVE_RUNG_H
#define CIR_LIVE_RUNG_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/rational.h>

#include "cir_live.h"
#include "cir_preset.h"
#include "cmaf_live.h"
#include "ladder.h"
#include "live_record.h"

#define CIR_ONAIR_RUNG_QUEUE_MAX 64

typedef struct cir_onair_rung cir_onair_rung_t;

/* What every rendition of a live stream is packaged with. */
typedef struct {
    int64_t part_target_us; /* the stream's PART-TARGET */
    double segment_seconds;
    uint32_t target_duration; /* the stream's; 0: set later */
    uint32_t window;
    const cir_clock_t *clock;
    const cir_encryption_t *enc; /* NULL: clear */
    struct cir_live_keys *keys;  /* key rotation; NULL: none */
} cir_onair_packaging_t;

/* A rendition's packager configuration: the stream's packaging, the
 * rendition's folder and track, its packets' codec (par), time base and
 * frame rate.  The pointers are kept: they must outlive the open. */
cir_cmaf_live_config_t live_packager_config(const cir_onair_packaging_t *p,
                                            const char *dir,
                                            const cir_live_track_t *track,
                                            const AVCodecParameters *par,
                                            AVRational time_base,
                                            AVRational frame_rate);

typedef struct {
    const char *dir;    /* <root>/<stream>/<rung name> */
    const char *stream; /* for the log */
    const cir_preset_t *preset;
    const cir_ladder_rung_t *ladder;
    AVRational time_base;  /* of the frames' pts */
    AVRational frame_rate; /* {0, 1}: unknown */
    cir_onair_packaging_t packaging;
    int queue_frames;     /* 2..CIR_ONAIR_RUNG_QUEUE_MAX */
    cir_onair_rec_t *rec; /* may be NULL; used by the rung's thread only */
    int delay_us;         /* tests: sleep per frame */
} cir_onair_rung_config_t;

int cir_onair_rung_start(cir_onair_rung_t **r,
                         const cir_onair_rung_config_t *c);
/* Queues a reference to frame.  key: encode it as an IDR; disc: a timeline
 * break before it.  Never blocks.  Returns 1 if a frame was dropped, 0, or
 * the rung's error. */
int cir_onair_rung_push(cir_onair_rung_t *r, const AVFrame *frame, int key,
                        int disc);
/* Packets leave with dts = pts - shift (the source's B-frame delay), so the
 * rung's decode times (tfdt, the index's segment starts) are the
 * passthrough's.  Call before the first push. */
void cir_onair_rung_set_dts_shift(cir_onair_rung_t *r, int64_t shift);
/* The stream's target duration, decided after the rung started: applied
 * by the rung's thread before its next packet.  Never blocks. */
void cir_onair_rung_set_target_duration(cir_onair_rung_t *r, uint32_t td);
/* The stream's wall clock (cir_cmaf_live_set_anchor), producer side:
 * frames pushed from now on carry it, and the rung's rendition takes it
 * at its first frame and at the next frame with a discontinuity, so it
 * applies to the same timeline in every rendition, however far behind the
 * rung's thread is.  Never blocks. */
void cir_onair_rung_set_anchor(cir_onair_rung_t *r, int64_t wall_us,
                               int64_t media_us, uint32_t gaps,
                               int64_t hole_us);
/* A break with no frame after it yet (the publisher is gone): once the
 * frames queued before it are encoded, the open segment ends, and the next
 * one starts with a discontinuity.  Never blocks; 1 if the queue had no
 * room for it (the segment then ends at the next frame's break). */
int cir_onair_rung_break(cir_onair_rung_t *r);
/* Ends the stream: encodes what is queued, finishes the rendition, joins. */
int cir_onair_rung_finish(cir_onair_rung_t *r);
const char *cir_onair_rung_name(const cir_onair_rung_t *r);
void cir_onair_rung_size(const cir_onair_rung_t *r, int *w, int *h);
uint64_t cir_onair_rung_frames(const cir_onair_rung_t *r);  /* encoded */
uint64_t cir_onair_rung_dropped(const cir_onair_rung_t *r); /* dropped */
uint64_t cir_onair_rung_bytes(const cir_onair_rung_t *r);   /* packaged */
/* From the last encoded frame's push to its encoding done, µs: the time
 * a frame waits in the queue plus the encoder's. */
int64_t cir_onair_rung_lag_us(const cir_onair_rung_t *r);
void cir_onair_rung_free(cir_onair_rung_t **r);

#endif
