/*
 * One video rung: a thread that takes shared decoded frames from a bounded
 * queue, scales them to the rung's size, encodes them with forced keyframes
 * every GOP and packages the packets.  Frames move as references: the queue
 * holds av_frame_ref()s of the one decoded frame.
 */
#ifndef CIR_RUNG_H
#define CIR_RUNG_H

#include <libavutil/frame.h>
#include <libavutil/rational.h>

#include "cir_preset.h"
#include "cir_storage.h"
#include "cmaf.h"
#include "ladder.h"
#include "watermark.h"

#define CIR_RUNG_QUEUE 4

typedef struct cir_rung cir_video_rung_t;

typedef struct {
    const cir_preset_t *preset;
    const cir_ladder_rung_t *ladder;
    int src_width, src_height; /* of the frames that will be pushed */
    AVRational time_base;      /* of the frames' pts (1/fps) */
    AVRational frame_rate;
    cir_store_t *store;
    const char *job_id;
    const cir_encryption_t *encryption; /* NULL: clear */
    const cir_watermark_t *watermark;   /* NULL: none; scaled at start */
    double crf; /* > 0: capped CRF (per-title), else the rung's bitrate */
} cir_rung_config_t;

int cir_rung_start(cir_video_rung_t **r, const cir_rung_config_t *cfg);
/* Queues a reference to frame (blocks while the queue is full); NULL ends
 * the stream.  Returns the rung's error if it has failed. */
int cir_rung_push(cir_video_rung_t *r, const AVFrame *frame);
/* Waits for the thread; returns its result. */
int cir_rung_join(cir_video_rung_t *r);
const char *cir_rung_id(const cir_video_rung_t *r);
const char *cir_rung_codecs(const cir_video_rung_t *r);
void cir_rung_size(const cir_video_rung_t *r, int *w, int *h);
/* 1 if the rung's video carries closed captions: an H.264 rung given
 * frames with A/53 cc_data (read after cir_rung_join). */
int cir_rung_carries_captions(const cir_video_rung_t *r);
const cir_cmaf_t *cir_rung_packager(const cir_video_rung_t *r);
void cir_rung_free(cir_video_rung_t **r);

#endif
