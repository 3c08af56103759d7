/*
 * The state of one VOD job, shared by pipeline.c (decode and fan out) and
 * publish.c (manifests).  Private to the transcoder.
 */
#ifndef CIR_PIPELINE_H
#define CIR_PIPELINE_H

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>

#include "audio.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "cir_transcode.h"
#include "rung.h"
#include "thumbs.h"

typedef struct {
    const cir_job_t *job;
    cir_result_t *result;
    unsigned only;
    cir_log_ctx_t log;
    cir_store_t *store; /* the version being written: <output>/v/<id>/ */
    cir_store_t *top;   /* <output>: the top-level manifests only */
    char version_base[CIR_VERSION_ID_MAX + 8]; /* "v/<id>/" */
    /* the version the top-level manifests named when the job started */
    char previous[CIR_VERSION_ID_MAX];
    int previous_known;

    AVFormatContext *ic;
    AVStream *vst, *ast;
    AVCodecContext *vdec, *adec;
    AVFrame *frame, *prep_frame;
    AVPacket *pkt;
    int64_t start_pts_v, start_pts_a;
    int64_t video_end_pts; /* end of the last decoded frame */
    double audio_end;      /* end of the last decoded audio, seconds */

    /* preparation graph: deinterlace, rotate, fps, yuv420p */
    AVFilterGraph *graph;
    AVFilterContext *vsrc, *vsink;
    AVRational prep_tb, frame_rate;
    int width, height; /* display size after preparation */
    int deinterlaced;

    cir_video_rung_t *rungs[CIR_PRESET_MAX_RUNGS];
    int nb_rungs;
    cir_audio_t *audio;
    cir_thumbnailer_t *thumbs;

    double duration;   /* declared by the input, seconds */
    double media_time; /* decoded so far, seconds */
    uint64_t frames_in, frames_out;
    int decode_errors;
    int64_t start_us, last_progress_us;
} cir_job_state_t;

/* Renders and writes the playlists, the MPD and the WebVTT track; the
 * top-level manifests last.  Fills the job result. */
int cir_publish(cir_job_state_t *s);

#endif
