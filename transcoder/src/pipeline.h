/*
 * The state of one VOD job's run, shared by pipeline.c (decode and fan
 * out), video_prep.c (the preparation graph) and vod_publish.c (the asset
 * description it publishes).  Private to the transcoder.
 */
#ifndef CIR_PIPELINE_H
#define CIR_PIPELINE_H

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>

#include "audio.h"
#include "audio_select.h"
#include "captions.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "cir_transcode.h"
#include "job.h"
#include "loudness.h"
#include "pertitle.h"
#include "rung.h"
#include "subtitles.h"
#include "thumbs.h"
#include "watermark.h"

/* The kinds of rendition of one source audio track. */
enum {
    CIR_VOD_STEREO = 0,
    CIR_VOD_SURROUND,
    CIR_VOD_KINDS
};

/* The loudness of one rendition (audio.loudness): the source as measured
 * in its layout, and the filter that normalises it. */
typedef struct {
    cir_loudness_stats_t input;
    cir_loudness_mode_t mode;
    char filter[160]; /* "" for none */
} cir_vod_loudness_t;

/* One chosen source audio track and its renditions: the preset's AAC one,
 * and a 5.1 one (audio.surround) when the source has >= 6 channels. */
typedef struct {
    cir_audio_choice_t choice; /* id, language, name, default */
    AVStream *st;
    AVCodecContext *dec;
    cir_audio_t *out;      /* opened at the track's first decoded frame */
    cir_audio_t *surround; /* likewise, when wants_surround */
    int wants_surround;
    char surround_id[24];  /* "<id>-ec3" or "<id>-ac3" */
    int loudness_measured; /* loudness[] is filled */
    cir_vod_loudness_t loudness[CIR_VOD_KINDS];
    int64_t start_pts;
    int past_clip; /* decoded past the job's clip: read no more */
} cir_vod_audio_t;

typedef struct {
    cir_job_ctx_t *ctx; /* the job: preset, stores, result, log (job.h) */

    AVFormatContext *ic; /* ctx->ic, owned by ctx */
    AVStream *vst;
    AVCodecContext *vdec;
    AVFrame *frame, *prep_frame;
    AVPacket *pkt;
    int64_t start_pts_v;
    int64_t video_end_pts; /* end of the last decoded frame */
    double audio_end;      /* end of the latest decoded audio, seconds */

    /* preparation graph: deinterlace, rotate, fps, yuv420p */
    AVFilterGraph *graph;
    AVFilterContext *vsrc, *vsink;
    AVRational prep_tb, frame_rate;
    int width, height; /* display size after preparation */
    int deinterlaced;
    /* the source's closed captions, from decoded to prepared frames */
    cir_captions_t *captions;

    cir_video_rung_t *rungs[CIR_PRESET_MAX_RUNGS];
    int nb_rungs;
    /* the per-title probe's figures (video.per_title), read before
     * decoding; probed 0: none, the fixed ladder */
    cir_pertitle_probe_t probe;
    int probed;
    cir_vod_audio_t audio[CIR_AUDIO_TRACKS_MAX]; /* in output order */
    int nb_audio;
    cir_watermark_t *watermark; /* the job's overlay, read before decoding */
    cir_thumbnailer_t *thumbs;
    cir_subtitles_t *subtitles; /* the job's sidecars, read before decoding */

    /* the job's clip (cir_job_t): start_pts_v and each audio start_pts
     * include its start; clip_len is its length in seconds (INFINITY: to
     * the end), 0 without a clip */
    double clip_len;
    int video_past_clip;

    double duration;   /* declared by the input (or the clip), seconds */
    double media_time; /* decoded so far, seconds */
    uint64_t frames_in, frames_out;
    int decode_errors;
    int64_t last_progress_us;
} cir_job_state_t;

/* Builds the preparation graph for the first decoded frame f: deinterlace,
 * rotate, square pixels, frame rate cap, 8-bit 4:2:0. */
int cir_video_prep_build(cir_job_state_t *s, const AVFrame *f);

/* The asset the job made (every rung, the audio renditions, the thumbnail
 * track) published by publish.c into the job's version, then the top-level
 * manifests last.  Fills the job result. */
int cir_vod_publish(cir_job_state_t *s);

#endif
