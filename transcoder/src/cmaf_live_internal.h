/*
 * Live CMAF packaging's state, shared by its files (private to
 * transcoder/src/cmaf_live*.c):
 * - cmaf_live.c: part and segment cutting, the packager's public calls;
 * - cmaf_live_mux.c: the fMP4 muxer and its in-memory output, a part's
 *   bytes handed to the live store;
 * - cmaf_live_follow.c: a follower (audio next to video) waiting for and
 *   cutting where its leader does;
 * - cmaf_live_outage.c: a track's media over a publisher's outage
 *   (silence, the last picture);
 * - cmaf_live_crypt.c: Common Encryption of the init and each part.
 */
#ifndef CIR_CMAF_LIVE_INTERNAL_H
#define CIR_CMAF_LIVE_INTERNAL_H

#include <libavformat/avformat.h>

#include "cir_buf.h"
#include "cir_live.h"
#include "cir_onair_store.h"
#include "cir_log.h"
#include "cenc.h"
#include "cmaf_live.h"
#include "live_silence.h"

#define WAIT_MAX 256 /* samples a follower keeps waiting for its leader */

struct cir_cmaf_live {
    cir_onair_store_t *store; /* the rendition's live store */
    AVFormatContext *oc;
    AVIOContext *pb; /* the muxer's output: into out */
    cir_buf_t out;   /* what the muxer wrote since the last part */
    int64_t out_pos; /* pb's position of out.data[0] */
    size_t out_at;   /* where the next write goes in out */
    AVPacket *pkt;   /* a view of the packet being written */
    AVPacket *held;  /* the last sample, not muxed yet (see hold()) */
    int has_held;
    int held_starts; /* it starts a part (and maybe a segment) */
    AVRational in_tb;
    AVRational frame_rate;
    int is_video;
    int64_t part_len, seg_len, tolerance; /* muxer timescale */
    int64_t seg_limit;                    /* a segment stays below it */
    int64_t segment_target_us, part_target_us;
    uint32_t target_duration; /* 0: not decided yet */
    int decides_target;       /* the stream's leader decides it */
    int64_t frame_duration;
    int header_done;

    int part_open;      /* samples muxed since the last flush */
    int part_key;       /* the open part starts with a keyframe */
    int64_t part_start; /* dts of its first sample */
    int seg_open;
    int64_t seg_start;
    /* the presentation time of the open segment's first sample: a leader
     * cuts at a keyframe a segment's length of presentation after it */
    int64_t seg_start_pts;
    int64_t last_key_pts; /* of the last keyframe, AV_NOPTS_VALUE at first */
    int nb_segments;      /* opened so far */
    int64_t last_end;     /* dts + duration of the last sample */
    int64_t last_dts;     /* of the last sample, AV_NOPTS_VALUE at first */
    int64_t step_cur;     /* the longest dts step in the open part */
    int64_t step_prev;    /* ... in the part before */
    int follower;         /* segments cut where the leader (video) cut */
    int64_t next_cut;     /* the leader's next cut, or AV_NOPTS_VALUE */
    int absorb_start;     /* after a break: the leader's start cut_at is the
                           * start of the segment already open */
    int rewait;           /* after a break: wait for the leader's new start */
    /* a follower's first samples (and its first after a break), waiting
     * for the leader's start */
    AVPacket *wait[WAIT_MAX];
    int nb_wait;
    uint64_t dropped;     /* samples dropped before the track could start */
    AVRational writer_tb; /* the store's timescale (the first muxer's) */
    /* an outage's media (cmaf_live_outage.c): audio's silence, video's
     * last picture */
    cir_onair_silence_t *silence;
    int silence_rate, silence_channels;
    uint32_t silence_chunks;
    cir_buf_t picture;
    uint64_t picture_msn;
    char *dir;
    cir_log_ctx_t log;
    char rendition[CIR_LIVE_ID_MAX];
    cir_encryption_t *enc;      /* NULL: clear; the key, cleared on free */
    cir_cenc_t *cenc;           /* for the muxer's codec */
    struct cir_live_keys *keys; /* key rotation; NULL: none */
    uint32_t period;            /* the crypto period of enc's key */
    int period_set;
    int eagain_logged;
    cir_buf_t clear_init; /* the muxer's init, to protect again per period */
};

#define OUT_MAX ((size_t)64 << 20) /* a part (or init + part) */

/* ---- cmaf_live_mux.c ---- */

int cir_cmaf_live_open_output(cir_cmaf_live_t *c);
int cir_cmaf_live_open_muxer(cir_cmaf_live_t *c, const AVCodecParameters *par);
/* Frees the muxer (not its output). */
void cir_cmaf_live_close_muxer(cir_cmaf_live_t *c);
/* What the muxer wrote was handed out (pb flushed first). */
void cir_cmaf_live_out_reset(cir_cmaf_live_t *c);
/* The lengths in the muxer's timescale (again when it changes). */
void cir_cmaf_live_set_lengths(cir_cmaf_live_t *c);
/* A new muxer with another timescale: the times kept are moved to it. */
void cir_cmaf_live_change_timescale(cir_cmaf_live_t *c, AVRational from);
/* Flushes the open part to the store, ending at end (last: it ends its
 * segment); the init segment goes first on the first flush. */
int cir_cmaf_live_flush(cir_cmaf_live_t *c, int64_t end, int last);

/* ---- cmaf_live_crypt.c ---- */

/* enc NULL or CIR_ENC_NONE: clear.  cenc and cbcs only. */
int cir_cmaf_live_crypt_open(cir_cmaf_live_t *c, const cir_encryption_t *enc,
                             const AVCodecParameters *par);
/* A segment is about to open (before its first part): with key rotation,
 * a new crypto period's key (and a new init) when its first segment
 * comes. */
int cir_cmaf_live_crypt_segment(cir_cmaf_live_t *c);
/* The muxer's clear init, kept for a new period's. */
int cir_cmaf_live_crypt_keep_init(cir_cmaf_live_t *c, const uint8_t *buf,
                                  size_t size);
/* A new codec configuration (the same key). */
int cir_cmaf_live_crypt_reconfigure(cir_cmaf_live_t *c,
                                    const AVCodecParameters *par);
/* The init or a run of fragments protected into a new buffer (av_free);
 * *out NULL when clear. */
int cir_cmaf_live_crypt_init(cir_cmaf_live_t *c, const uint8_t *in, size_t size,
                             uint8_t **out, size_t *out_size);
int cir_cmaf_live_crypt_part(cir_cmaf_live_t *c, const uint8_t *in, size_t size,
                             uint8_t **out, size_t *out_size);
void cir_cmaf_live_crypt_free(cir_cmaf_live_t *c);

/* ---- cmaf_live.c ---- */

int cir_cmaf_live_write_sample(cir_cmaf_live_t *c, AVPacket *pkt, int key);
int64_t cir_cmaf_live_step_estimate(const cir_cmaf_live_t *c);
int64_t cir_cmaf_live_half_step(const cir_cmaf_live_t *c);

/* ---- cmaf_live_follow.c ---- */

void cir_cmaf_live_follow_after_break(cir_cmaf_live_t *c, int64_t dts);
int cir_cmaf_live_release_waiting(cir_cmaf_live_t *c, int alone);
int cir_cmaf_live_wait_for_leader(cir_cmaf_live_t *c, AVPacket *pkt);
int cir_cmaf_live_end_waiting(cir_cmaf_live_t *c);
void cir_cmaf_live_rewait_after_break(cir_cmaf_live_t *c);
int cir_cmaf_live_gap_to_leader(cir_cmaf_live_t *c, int64_t leader_end_us);

/* ---- cmaf_live_outage.c ---- */

/* The store's outage fillers (cir_onair_store_filler_cb): an AAC audio
 * track's, a video track's. */
int cir_cmaf_live_fill_silence(void *opaque, int64_t start, int64_t end,
                               cir_buf_t *out, int64_t *filled);
int cir_cmaf_live_fill_picture(void *opaque, int64_t start, int64_t end,
                               cir_buf_t *out, int64_t *filled);

#endif
