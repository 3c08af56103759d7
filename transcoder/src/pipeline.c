/*
 * One VOD job: demux, decode once, prepare (deinterlace, rotate, square
 * pixels, frame rate cap, 8-bit 4:2:0), then fan the frames out to the rung
 * threads, the thumbnailer and the audio renditions (one per chosen source
 * audio track, audio_select.h); publish manifests last.
 *
 * Tested end to end by tests/integration/transcode.test.mjs,
 * audio_tracks.test.mjs and audio_surround.test.mjs (surround, loudness),
 * job_options.test.mjs (a job's clip and overlay);
 * tests/unit/test_transcoder_pipeline.c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "cir_aws.h"
#include "s3_avio.h"
#include "audio.h"
#include "avsetup.h"
#include "cir_error.h"
#include "cir_log.h"
#include "job.h"
#include "cir_transcode.h"
#include "images.h"
#include "input.h"
#include "input_error.h"
#include "ladder.h"
#include "pertitle_probe.h"
#include "pipeline.h"
#include "rung.h"
#include "thumbs.h"

/* A failure, recorded in the job's result (the first one) and logged. */
#define fail_msg(s, err, ...) cir_job_fail((s)->ctx, err, __VA_ARGS__)

/* Inputs beyond these are refused as bad input, not attempted. */
#define MAX_INPUT_PIXELS     (8192 * 8192)
#define MAX_DECODE_ERRORS    100
#define PROGRESS_INTERVAL_US 500000

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The class of a cir_input_open() failure: a refused container stays
 * CIR_EUNSUPPORTED and our own errors (the S3 AVIOContext's: transient,
 * access refused; memory) keep theirs, as does a local input that may not
 * be read; a missing input and whatever libavformat says are bad media. */
static int
input_error(int ret)
{
    int ours = (ret <= CIR_EAGAIN && ret > CIR_ERR_LAST) || ret == -EACCES;

    return ours && ret != CIR_ENOTFOUND ? ret : CIR_EMEDIA;
}

/* libavformat failed on the input (pb: its AVIOContext, or NULL): an I/O
 * error of the S3 AVIO is that error, not a verdict on the bytes. */
static int
input_failed(cir_job_state_t *s, const AVIOContext *pb, int averr,
             const char *what)
{
    char msg[1280];

    return fail_msg(s, cir_input_error(pb, averr), "%s: %s", what,
                    cir_input_strerror(pb, averr, msg, sizeof(msg)));
}

static int
open_decoder(cir_job_state_t *s, AVStream *st, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *dec;
    int ret;

    if (codec == NULL) {
        return fail_msg(s, CIR_EMEDIA, "no decoder for %s",
                        avcodec_get_name(st->codecpar->codec_id));
    }
    dec = *out = avcodec_alloc_context3(codec);
    if (dec == NULL) {
        return CIR_ENOMEM;
    }
    if ((ret = avcodec_parameters_to_context(dec, st->codecpar)) < 0) {
        return CIR_ENOMEM;
    }
    dec->pkt_timebase = st->time_base;
    dec->thread_count = 0;
    if ((ret = avcodec_open2(dec, codec, NULL)) < 0) {
        return fail_msg(s, CIR_EMEDIA, "cannot open the %s decoder: %s",
                        codec->name, av_err2str(ret));
    }
    return 0;
}

/* A 5.1 rendition beside the AAC one when the preset asks and the track
 * has the channels: a stereo source gets no upmixed, fake surround. */
static void
choose_surround(cir_job_state_t *s, cir_vod_audio_t *t)
{
    const cir_preset_t *p = s->ctx->preset;
    int channels = t->dec->ch_layout.nb_channels;

    if (!p->surround_enabled) {
        return;
    }
    if (channels < 6) {
        cir_log_info(&s->ctx->log,
                     "audio stream %d has %d channel%s: no surround "
                     "rendition (it needs 6 or more)",
                     t->choice.source, channels, channels == 1 ? "" : "s");
        return;
    }
    t->wants_surround = 1;
    snprintf(t->surround_id, sizeof(t->surround_id), "%s-%s", t->choice.id,
             strcmp(p->surround_codec, "ac3") == 0 ? "ac3" : "ec3");
    cir_log_info(&s->ctx->log,
                 "audio stream %d has %d channels: surround rendition %s "
                 "(%s 5.1, %d kbps)",
                 t->choice.source, channels, t->surround_id, p->surround_codec,
                 p->surround_bitrate_kbps);
}

/* The audio renditions the job asks for (every track of the source
 * unless the job's audio_tracks selects), their decoders opened. */
static int
select_audio(cir_job_state_t *s, int enabled)
{
    cir_audio_choice_t choices[CIR_AUDIO_TRACKS_MAX];
    char err[400];
    int n, ret;

    n = cir_audio_choose(s->ic, s->ctx->job->audio_tracks, enabled,
                         &s->ctx->log, choices, err, sizeof(err));
    if (n < 0) {
        return fail_msg(s, n, "%s", err);
    }
    for (int i = 0; i < n; i++) {
        cir_vod_audio_t *t = &s->audio[i];
        t->choice = choices[i];
        t->st = s->ic->streams[choices[i].stream];
        s->nb_audio = i + 1;
        if ((ret = open_decoder(s, t->st, &t->dec)) < 0) {
            return ret;
        }
        choose_surround(s, t);
    }
    return 0;
}

static int
select_streams(cir_job_state_t *s)
{
    const cir_preset_t *p = s->ctx->preset;
    int want_av = (s->ctx->only & (CIR_ONLY_HLS | CIR_ONLY_DASH)) != 0;
    int want_video = (want_av && p->video_enabled) ||
                     ((s->ctx->only & CIR_ONLY_THUMBS) && p->thumbs_enabled);
    int v, ret;

    v = av_find_best_stream(s->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (v >= 0 &&
        (s->ic->streams[v]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        v = -1; /* cover art of an audio file is not a video */
    }
    if (v >= 0 && want_video) {
        AVCodecParameters *par = s->ic->streams[v]->codecpar;
        if (par->width <= 0 || par->height <= 0 ||
            (int64_t)par->width * par->height > MAX_INPUT_PIXELS) {
            return fail_msg(s, CIR_EMEDIA,
                            "video size %dx%d is outside the supported range",
                            par->width, par->height);
        }
        s->vst = s->ic->streams[v];
        if ((ret = open_decoder(s, s->vst, &s->vdec)) < 0) {
            return ret;
        }
    }
    if ((ret = select_audio(s, want_av && p->audio_enabled)) < 0) {
        return ret;
    }
    if (s->vst == NULL && s->nb_audio == 0) {
        return fail_msg(s, CIR_EMEDIA,
                        "the input has no %s stream this preset can use",
                        p->video_enabled ? "video or audio" : "audio");
    }
    return 0;
}

/* The per-title plan of the ladder: each rung's rate control, or its
 * drop; without a probe every rung is fixed. */
static void
plan_ladder(cir_job_state_t *s, const cir_ladder_rung_t *ladder, int n,
            cir_pertitle_rung_t *plan)
{
    if (s->probed &&
        cir_pertitle_decide(s->ctx->preset, &s->probe, ladder, n, plan) > 0) {
        return;
    }
    if (s->probed) {
        cir_log_warn(&s->ctx->log,
                     "per-title: the probe's figures are not usable: the "
                     "fixed ladder");
        snprintf(s->ctx->result->per_title.error,
                 sizeof(s->ctx->result->per_title.error),
                 "the probe's figures are not usable");
    }
    for (int i = 0; i < n; i++) {
        plan[i] =
            (cir_pertitle_rung_t){.ladder = ladder[i],
                                  .mode = CIR_PERTITLE_FIXED,
                                  .cap_kbps = ladder[i].rung->bitrate_kbps};
    }
}

/* The per-title ladder as chosen, into the job's result. */
static void
report_plan(cir_job_state_t *s, const cir_pertitle_rung_t *plan, int n)
{
    cir_result_per_title_t *t = &s->ctx->result->per_title;

    if (!t->enabled) {
        return;
    }
    t->nb_rungs = n;
    for (int i = 0; i < n; i++) {
        const cir_pertitle_rung_t *r = &plan[i];
        cir_result_per_title_rung_t *x = &t->rungs[i];

        snprintf(x->id, sizeof(x->id), "%s", r->ladder.rung->name);
        x->width = r->ladder.width;
        x->height = r->ladder.height;
        snprintf(x->mode, sizeof(x->mode), "%s",
                 cir_pertitle_mode_name(r->mode));
        x->crf = r->crf;
        x->bitrate_kbps = r->cap_kbps;
        x->estimated_kbps = r->estimated_kbps;
        x->expected_psnr = r->expected_psnr;
        snprintf(x->reason, sizeof(x->reason), "%s",
                 r->reason[0] ? r->reason : "no probe: the fixed rung");
        cir_log_info(&s->ctx->log, "per-title: rung %s %s: %s", x->id, x->mode,
                     x->reason);
    }
}

static int
start_video_outputs(cir_job_state_t *s)
{
    const cir_preset_t *p = s->ctx->preset;
    cir_ladder_rung_t ladder[CIR_PRESET_MAX_RUNGS];
    cir_pertitle_rung_t plan[CIR_PRESET_MAX_RUNGS];
    int n, ret;

    if ((s->ctx->only & CIR_ONLY_THUMBS) && p->thumbs_enabled) {
        ret = cir_thumbnailer_open(&s->thumbs, p, s->ctx->store, s->width,
                                   s->height, s->duration);
        if (ret < 0) {
            return fail_msg(s, ret, "thumbnails: %s", cir_strerror(ret));
        }
    }
    if (!(s->ctx->only & (CIR_ONLY_HLS | CIR_ONLY_DASH)) || !p->video_enabled) {
        return 0;
    }
    n = cir_ladder_select(p, s->width, s->height, ladder, CIR_PRESET_MAX_RUNGS);
    if (n < 0) {
        return fail_msg(s, CIR_EMEDIA, "no rung fits a %dx%d source", s->width,
                        s->height);
    }
    plan_ladder(s, ladder, n, plan);
    report_plan(s, plan, n);
    for (int i = 0; i < n; i++) {
        const cir_pertitle_rung_t *r = &plan[i];
        cir_rung_config_t cfg = {
            .preset = p,
            .ladder = &r->ladder,
            .src_width = s->width,
            .src_height = s->height,
            .time_base = s->prep_tb,
            .frame_rate = s->frame_rate,
            .store = s->ctx->store,
            .job_id = s->ctx->job->job_id,
            .encryption = s->ctx->job->encryption,
            .watermark = s->watermark,
            .crf = r->mode == CIR_PERTITLE_CRF ? r->crf : 0,
        };
        if (r->mode == CIR_PERTITLE_DROPPED) {
            continue;
        }
        if ((ret = cir_rung_start(&s->rungs[s->nb_rungs], &cfg)) < 0) {
            return fail_msg(s, ret, "rung %s: %s", r->ladder.rung->name,
                            cir_strerror(ret));
        }
        s->nb_rungs++;
        cir_log_info(&s->ctx->log, "rung %s %dx%d %d kbps%s",
                     r->ladder.rung->name, r->ladder.width, r->ladder.height,
                     r->ladder.rung->bitrate_kbps,
                     cfg.crf > 0 ? " (capped CRF)" : "");
    }
    return 0;
}

static void
report_progress(cir_job_state_t *s, int force)
{
    cir_progress_t pr;
    int64_t now = now_us();
    double elapsed = (now - s->ctx->start_us) / 1e6;

    if (s->ctx->job->progress == NULL ||
        (!force && now - s->last_progress_us < PROGRESS_INTERVAL_US)) {
        return;
    }
    s->last_progress_us = now;
    pr.media_time = s->media_time;
    pr.duration = s->duration;
    pr.elapsed = elapsed;
    pr.fps = elapsed > 0 ? s->frames_in / elapsed : 0;
    pr.speed = elapsed > 0 ? s->media_time / elapsed : 0;
    pr.percent =
        s->duration > 0 ? fmin(100, 100 * s->media_time / s->duration) : -1;
    pr.eta = s->duration > 0 && pr.speed > 0
                 ? fmax(0, (s->duration - s->media_time) / pr.speed)
                 : -1;
    if (force) {
        /* the last report: every frame is in, whatever the last one's
         * timestamp says */
        pr.percent = 100;
        pr.eta = 0;
    }
    s->ctx->job->progress(s->ctx->job->opaque, &pr);
}

/* Sends a prepared frame (or NULL at the end) to every consumer. */
static int
fan_out(cir_job_state_t *s, AVFrame *f)
{
    int ret;

    if (f && s->thumbs) {
        double t = f->pts * av_q2d(s->prep_tb);
        if ((ret = cir_thumbnailer_push(s->thumbs, f, t)) < 0) {
            return fail_msg(s, ret, "thumbnails: %s", cir_strerror(ret));
        }
    }
    for (int i = 0; i < s->nb_rungs; i++) {
        if ((ret = cir_rung_push(s->rungs[i], f)) < 0) {
            return fail_msg(s, ret, "rung %s failed: %s",
                            cir_rung_id(s->rungs[i]), cir_strerror(ret));
        }
    }
    if (f) {
        s->frames_out++;
    }
    return 0;
}

static int
drain_prep(cir_job_state_t *s)
{
    int ret;

    for (;;) {
        ret = av_buffersink_get_frame(s->vsink, s->prep_frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            return fail_msg(s, CIR_EMEDIA, "video filter: %s", av_err2str(ret));
        }
        ret = cir_captions_give(
            s->captions, s->prep_frame, s->prep_tb,
            av_rescale_q(1, av_inv_q(s->frame_rate), s->prep_tb));
        if (ret == 0) {
            ret = fan_out(s, s->prep_frame);
        }
        av_frame_unref(s->prep_frame);
        if (ret < 0) {
            return ret;
        }
    }
}

/* One frame's duration in the video stream's time base. */
static int64_t
video_frame_duration(const cir_job_state_t *s, const AVFrame *f)
{
    return f->pkt_duration > 0
               ? f->pkt_duration
               : av_rescale_q(1, av_inv_q(s->frame_rate), s->vst->time_base);
}

/*
 * The job's clip on a video frame (its pts from the clip's start): 0 to
 * leave it out (it ends before the start, or starts at or after the end),
 * 1 to keep it.  The frame showing at the start (decoded from the keyframe
 * before it) is moved to 0, so the output starts there.
 */
static int
clip_video_frame(cir_job_state_t *s, AVFrame *f)
{
    double t = f->pts * av_q2d(s->vst->time_base);

    if (t >= s->clip_len) {
        s->video_past_clip = 1;
        return 0;
    }
    if (f->pts + video_frame_duration(s, f) <= 0) {
        return 0;
    }
    if (f->pts < 0) {
        f->pts = 0;
    }
    return 1;
}

static int
on_video_frame(cir_job_state_t *s, AVFrame *f)
{
    int ret, seen;

    if (s->graph == NULL) {
        if ((ret = cir_video_prep_build(s, f)) < 0) {
            return ret;
        }
        if ((ret = start_video_outputs(s)) < 0) {
            return ret;
        }
    }
    f->pts = f->best_effort_timestamp;
    if (f->pts != AV_NOPTS_VALUE) {
        f->pts -= s->start_pts_v;
        if (s->clip_len > 0 && !clip_video_frame(s, f)) {
            return 0;
        }
    }
    /* the captions leave the frame here, to be given back to the prepared
     * frames once each (captions.h) */
    seen = cir_captions_seen(s->captions);
    if ((ret = cir_captions_take(s->captions, f, s->vst->time_base)) < 0) {
        return ret;
    }
    if (!seen && cir_captions_seen(s->captions)) {
        cir_log_info(&s->ctx->log, "the video carries closed captions "
                                   "(A/53 cc_data)");
    }
    if (f->pts == AV_NOPTS_VALUE) {
        return 0;
    }
    /* where the last frame ends, so the fps filter keeps it at EOF */
    s->video_end_pts =
        FFMAX(s->video_end_pts, f->pts + video_frame_duration(s, f));
    s->media_time = fmax(s->media_time, f->pts * av_q2d(s->vst->time_base));
    s->frames_in++;
    ret = av_buffersrc_add_frame_flags(s->vsrc, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0) {
        /* a size or format change mid-stream: not supported for VOD */
        return fail_msg(s, CIR_EMEDIA, "video frame rejected: %s",
                        av_err2str(ret));
    }
    return drain_prep(s);
}

/* A track's renditions, at its first decoded frame. */
static int
open_audio_outputs(cir_job_state_t *s, cir_vod_audio_t *t)
{
    cir_audio_config_t cfg = {.id = t->choice.id,
                              .language = t->choice.language,
                              .preset = s->ctx->preset,
                              .job_id = s->ctx->job->job_id};
    int ret;

    if (t->loudness[CIR_VOD_STEREO].filter[0]) {
        cfg.gain_filter = t->loudness[CIR_VOD_STEREO].filter;
    }
    ret =
        cir_audio_open(&t->out, &cfg, t->dec, t->st->time_base, s->ctx->store);
    if (ret == 0) {
        ret = cir_audio_encrypt(t->out, s->ctx->job->encryption);
    }
    if (ret < 0) {
        return fail_msg(s, ret, "audio %s: %s", t->choice.id,
                        cir_strerror(ret));
    }
    if (!t->wants_surround) {
        return 0;
    }
    cfg.id = t->surround_id;
    cfg.surround = 1;
    cfg.gain_filter = t->loudness[CIR_VOD_SURROUND].filter[0]
                          ? t->loudness[CIR_VOD_SURROUND].filter
                          : NULL;
    ret = cir_audio_open(&t->surround, &cfg, t->dec, t->st->time_base,
                         s->ctx->store);
    if (ret == 0) {
        ret = cir_audio_encrypt(t->surround, s->ctx->job->encryption);
    }
    return ret < 0 ? fail_msg(s, ret, "audio %s: %s", t->surround_id,
                              cir_strerror(ret))
                   : 0;
}

/* A decoded (and clipped) audio frame, its pts from the start, to the
 * track's renditions. */
static int
push_audio_frame(cir_job_state_t *s, cir_vod_audio_t *t, AVFrame *f)
{
    int ret;

    if (f->sample_rate > 0) {
        s->audio_end =
            fmax(s->audio_end, f->pts * av_q2d(t->st->time_base) +
                                   (double)f->nb_samples / f->sample_rate);
    }
    /* how far the input has been read: the later of its streams */
    s->media_time = fmax(s->media_time, f->pts * av_q2d(t->st->time_base));
    if (t->surround && (ret = cir_audio_push(t->surround, f)) < 0) {
        return ret;
    }
    return cir_audio_push(t->out, f);
}

/*
 * The job's clip on an audio frame (its pts from the clip's start), to the
 * sample: *out is f, or NULL to leave it out, or a new frame (the caller
 * frees it) with the samples inside the clip.
 */
static int
clip_audio_frame(cir_job_state_t *s, cir_vod_audio_t *t, AVFrame *f,
                 AVFrame **out)
{
    AVRational sample_tb = {1, f->sample_rate};
    int64_t first = av_rescale_q(f->pts, t->st->time_base, sample_tb);
    /* a clip to an end the source does not declare: no end */
    int64_t len = isfinite(s->clip_len) ? llround(s->clip_len * f->sample_rate)
                                        : INT64_MAX;
    int64_t skip = first < 0 ? -first : 0;
    /* the samples [first + skip, end) are inside the clip */
    int64_t end = FFMIN(first + f->nb_samples, len);
    int64_t keep = end - (first + skip);
    AVFrame *c;
    int ret;

    *out = NULL;
    if (first >= len) {
        t->past_clip = 1;
    }
    if (keep <= 0) {
        return 0;
    }
    if (keep == f->nb_samples) {
        *out = f;
        return 0;
    }
    if ((c = av_frame_alloc()) == NULL) {
        return CIR_ENOMEM;
    }
    c->format = f->format;
    c->sample_rate = f->sample_rate;
    c->nb_samples = (int)keep;
    if ((ret = av_channel_layout_copy(&c->ch_layout, &f->ch_layout)) < 0 ||
        (ret = av_frame_get_buffer(c, 0)) < 0 ||
        (ret = av_samples_copy(c->extended_data, f->extended_data, 0, (int)skip,
                               (int)keep, f->ch_layout.nb_channels,
                               f->format)) < 0) {
        av_frame_free(&c);
        return CIR_ENOMEM;
    }
    c->pts = av_rescale_q(first + skip, sample_tb, t->st->time_base);
    *out = c;
    return 0;
}

static int
on_audio_frame(cir_job_state_t *s, cir_vod_audio_t *t, AVFrame *f)
{
    AVFrame *clipped = NULL;
    int ret;

    if (t->out == NULL && (ret = open_audio_outputs(s, t)) < 0) {
        return ret;
    }
    f->pts = f->best_effort_timestamp;
    if (f->pts == AV_NOPTS_VALUE) {
        return 0;
    }
    f->pts -= t->start_pts;
    if (s->clip_len > 0 && f->sample_rate > 0) {
        if ((ret = clip_audio_frame(s, t, f, &clipped)) < 0 ||
            clipped == NULL) {
            return ret;
        }
        ret = push_audio_frame(s, t, clipped);
        if (clipped != f) {
            av_frame_free(&clipped);
        }
        return ret;
    }
    return push_audio_frame(s, t, f);
}

/* Sends a packet (NULL flushes) to a decoder and handles every frame:
 * the video's (audio NULL) or an audio track's. */
static int
decode(cir_job_state_t *s, AVCodecContext *dec, cir_vod_audio_t *audio,
       const AVPacket *pkt)
{
    int ret = avcodec_send_packet(dec, pkt);

    if (ret < 0 && ret != AVERROR_EOF) {
        if (++s->decode_errors > MAX_DECODE_ERRORS) {
            return fail_msg(s, CIR_EMEDIA, "too many decoding errors (%s)",
                            av_err2str(ret));
        }
        cir_log_warn(&s->ctx->log, "decoding error: %s", av_err2str(ret));
        return 0;
    }
    for (;;) {
        ret = avcodec_receive_frame(dec, s->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            if (++s->decode_errors > MAX_DECODE_ERRORS) {
                return fail_msg(s, CIR_EMEDIA, "too many decoding errors");
            }
            continue;
        }
        ret = audio == NULL ? on_video_frame(s, s->frame)
                            : on_audio_frame(s, audio, s->frame);
        av_frame_unref(s->frame);
        if (ret < 0) {
            return ret;
        }
    }
}

/* The chosen audio track of a stream, or NULL. */
static cir_vod_audio_t *
audio_of(cir_job_state_t *s, int stream_index)
{
    for (int i = 0; i < s->nb_audio; i++) {
        if (s->audio[i].st->index == stream_index) {
            return &s->audio[i];
        }
    }
    return NULL;
}

/* A packet of one of the input's text streams (else nothing). */
static int
push_subtitle(cir_job_state_t *s)
{
    char why[1024];
    int ret = cir_subtitles_push(s->subtitles, s->pkt, why, sizeof(why));

    return ret < 0 ? fail_msg(s, ret, "%s", why) : 0;
}

/* Every stream has been decoded past the job's clip's end. */
static int
past_clip(const cir_job_state_t *s)
{
    if (s->clip_len <= 0 || (s->vst && !s->video_past_clip)) {
        return 0;
    }
    for (int i = 0; i < s->nb_audio; i++) {
        if (!s->audio[i].past_clip) {
            return 0;
        }
    }
    return 1;
}

static int
read_loop(cir_job_state_t *s)
{
    int ret;

    for (;;) {
        if (s->ctx->job->cancel && atomic_load(s->ctx->job->cancel)) {
            return fail_msg(s, CIR_ECANCELED, "interrupted");
        }
        ret = av_read_frame(s->ic, s->pkt);
        if (ret < 0 && s->ctx->job->cancel &&
            atomic_load(s->ctx->job->cancel)) {
            /* a read stopped by the cancel (the S3 AVIO's, a GET aborted) */
            return fail_msg(s, CIR_ECANCELED, "interrupted");
        }
        if (ret == AVERROR_EOF && cir_s3_avio_error(s->ic->pb) < 0) {
            /* a demuxer may take a failed read for the end of the file */
            ret = AVERROR(EIO);
        }
        if (ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            char what[64];
            snprintf(what, sizeof(what), "reading the input failed at %.1f s",
                     s->media_time);
            return input_failed(s, s->ic->pb, ret, what);
        }
        if (s->vst && s->pkt->stream_index == s->vst->index) {
            ret = s->video_past_clip ? 0 : decode(s, s->vdec, NULL, s->pkt);
        } else {
            cir_vod_audio_t *t = audio_of(s, s->pkt->stream_index);
            ret = t == NULL      ? push_subtitle(s)
                  : t->past_clip ? 0
                                 : decode(s, t->dec, t, s->pkt);
        }
        av_packet_unref(s->pkt);
        if (ret < 0) {
            return ret;
        }
        if (past_clip(s)) {
            return 0;
        }
        report_progress(s, 0);
    }
}

static int
flush_all(cir_job_state_t *s)
{
    int ret;

    if (s->vdec && (ret = decode(s, s->vdec, NULL, NULL)) < 0) {
        return ret;
    }
    for (int i = 0; i < s->nb_audio; i++) {
        if ((ret = decode(s, s->audio[i].dec, &s->audio[i], NULL)) < 0) {
            return ret;
        }
    }
    if (s->graph) {
        /* a video that ends before its audio (a cover picture with a
         * podcast: one frame and minutes of sound) holds its last picture
         * until the audio ends: the fps filter repeats it up to here.  An
         * audio track that ends within a frame of the video (AAC frames
         * rarely end on a video frame) adds nothing. */
        int64_t end = s->video_end_pts;
        double frame = av_q2d(av_inv_q(s->frame_rate));
        if (s->nb_audio > 0 &&
            s->audio_end - end * av_q2d(s->vst->time_base) > frame) {
            end = (int64_t)ceil(s->audio_end / av_q2d(s->vst->time_base));
        }
        if ((ret = av_buffersrc_close(s->vsrc, end, AV_BUFFERSRC_FLAG_PUSH)) <
            0) {
            return fail_msg(s, CIR_EINTERNAL, "flushing the video filter");
        }
        if ((ret = drain_prep(s)) < 0) {
            return ret;
        }
    }
    if ((ret = fan_out(s, NULL)) < 0) {
        return ret;
    }
    for (int i = 0; i < s->nb_rungs; i++) {
        if ((ret = cir_rung_join(s->rungs[i])) < 0) {
            return fail_msg(s, ret, "rung %s failed: %s",
                            cir_rung_id(s->rungs[i]), cir_strerror(ret));
        }
    }
    for (int i = 0; i < s->nb_audio; i++) {
        cir_vod_audio_t *t = &s->audio[i];
        if (t->out && (ret = cir_audio_push(t->out, NULL)) < 0) {
            return fail_msg(s, ret, "audio %s: %s", t->choice.id,
                            cir_strerror(ret));
        }
        if (t->surround && (ret = cir_audio_push(t->surround, NULL)) < 0) {
            return fail_msg(s, ret, "audio %s: %s", t->surround_id,
                            cir_strerror(ret));
        }
    }
    return 0;
}

/* Where a stream's media ends, in seconds after start (0 if unknown). */
static double
stream_end(const AVStream *st, int64_t start)
{
    int64_t first = st->start_time != AV_NOPTS_VALUE
                        ? st->start_time
                        : av_rescale_q(start, AV_TIME_BASE_Q, st->time_base);

    if (st->duration == AV_NOPTS_VALUE || st->duration <= 0) {
        return 0;
    }
    return (double)(first + st->duration) * av_q2d(st->time_base) - start / 1e6;
}

/*
 * A start time that puts the earliest stream at 0 and keeps A/V offsets,
 * and the duration the input declares: where its streams' media ends.  The
 * container's duration is the fallback only: an MP4 whose tracks start with
 * an empty edit (ffmpeg -output_ts_offset 1000) declares 1005 s for 5 s of
 * media starting at 1000 s.
 */
static void
compute_start(cir_job_state_t *s)
{
    int64_t start = s->ic->start_time != AV_NOPTS_VALUE ? s->ic->start_time : 0;
    double end = 0;

    s->start_pts_v =
        s->vst ? av_rescale_q(start, AV_TIME_BASE_Q, s->vst->time_base) : 0;
    if (s->vst) {
        end = fmax(end, stream_end(s->vst, start));
    }
    for (int i = 0; i < s->nb_audio; i++) {
        cir_vod_audio_t *t = &s->audio[i];
        t->start_pts = av_rescale_q(start, AV_TIME_BASE_Q, t->st->time_base);
        end = fmax(end, stream_end(t->st, start));
    }
    s->duration = end > 0               ? end
                  : s->ic->duration > 0 ? s->ic->duration / 1e6
                                        : 0;
}

/* Seeks ic to the keyframe at or before t (AV_TIME_BASE, the clip's
 * start on the streams' timeline); a failed seek reads from the start
 * instead (what is before the clip is left out all the same). */
static void
seek_to_clip(cir_job_state_t *s, AVFormatContext *ic, int64_t t)
{
    int ret;

    if (t <= 0) {
        return;
    }
    ret = avformat_seek_file(ic, -1, INT64_MIN, t, t, 0);
    if (ret < 0) {
        cir_log_warn(&s->ctx->log,
                     "clip: cannot seek the input (%s): decoding from its "
                     "start",
                     av_err2str(ret));
    }
}

/*
 * The job's clip: checked against the source's duration, its start added
 * to every stream's zero, its length the job's duration, the input sought
 * to the keyframe before it.  Frames outside it are left out as they are
 * decoded (clip_video_frame, clip_audio_frame).
 */
static int
apply_clip(cir_job_state_t *s)
{
    const cir_job_t *j = s->ctx->job;
    int64_t zero = s->ic->start_time != AV_NOPTS_VALUE ? s->ic->start_time : 0;
    int64_t start_us = llround(j->clip_start * 1e6);
    double end = j->clip_end > 0 ? j->clip_end : s->duration;

    if (!j->clip) {
        return 0;
    }
    if (s->duration > 0 && j->clip_start >= s->duration) {
        return fail_msg(s, CIR_EINVAL,
                        "clip.start: %.3f s is not before the end of the "
                        "source (%.3f s)",
                        j->clip_start, s->duration);
    }
    if (s->duration > 0 && end > s->duration) {
        cir_log_info(&s->ctx->log,
                     "clip.end: %.3f s is after the end of the source "
                     "(%.3f s): to its end",
                     end, s->duration);
        end = s->duration;
    }
    s->clip_len = end > j->clip_start ? end - j->clip_start : INFINITY;
    if (s->vst) {
        s->start_pts_v +=
            av_rescale_q(start_us, AV_TIME_BASE_Q, s->vst->time_base);
    }
    for (int i = 0; i < s->nb_audio; i++) {
        s->audio[i].start_pts +=
            av_rescale_q(start_us, AV_TIME_BASE_Q, s->audio[i].st->time_base);
    }
    if (isfinite(s->clip_len)) {
        s->duration = s->clip_len;
    }
    s->ctx->result->clip = 1;
    s->ctx->result->clip_start = j->clip_start;
    s->ctx->result->clip_end = isfinite(s->clip_len) ? end : 0;
    cir_log_info(&s->ctx->log, "clip: %.3f s to %.3f s of the source",
                 j->clip_start, end);
    seek_to_clip(s, s->ic, zero + start_us);
    return 0;
}

/* The job's clip on the streams' timeline (AV_TIME_BASE) for a second
 * reader of the input, ic sought to it; *from and *end left as they are
 * without a clip (or without an end). */
static void
clip_window(cir_job_state_t *s, AVFormatContext *ic, int64_t *from,
            int64_t *end)
{
    int64_t zero = s->ic->start_time != AV_NOPTS_VALUE ? s->ic->start_time : 0;

    if (s->clip_len <= 0) {
        return;
    }
    *from = zero + llround(s->ctx->job->clip_start * 1e6);
    if (isfinite(s->clip_len)) {
        *end = *from + llround(s->clip_len * 1e6);
    }
    seek_to_clip(s, ic, *from);
}

/* Every audio track the job named made a rendition; one chosen by
 * default that decoded nothing is left out, said in the log; an
 * audio-only input needs one. */
static int
check_audio_complete(cir_job_state_t *s)
{
    int made = 0;

    for (int i = 0; i < s->nb_audio; i++) {
        const cir_vod_audio_t *t = &s->audio[i];
        if (t->out != NULL) {
            made++;
        } else if (t->choice.requested) {
            return fail_msg(s, CIR_EMEDIA,
                            "audio stream %d: no audio frame could be decoded",
                            t->choice.source);
        } else {
            cir_log_warn(&s->ctx->log,
                         "audio stream %d: no audio frame could be decoded: "
                         "no rendition %s",
                         t->choice.source, t->choice.id);
        }
    }
    if (s->nb_audio > 0 && !s->vst && made == 0) {
        return fail_msg(s, CIR_EMEDIA, "no audio frame could be decoded");
    }
    return 0;
}

static int
check_complete(cir_job_state_t *s)
{
    int ret;

    if (s->vst && s->frames_out == 0 && s->nb_rungs == 0 && !s->thumbs) {
        return fail_msg(s, CIR_EMEDIA, "no video frame could be decoded");
    }
    if (s->vst && s->frames_in == 0) {
        return fail_msg(s, CIR_EMEDIA, "no video frame could be decoded");
    }
    if ((ret = check_audio_complete(s)) < 0) {
        return ret;
    }
    /* a file that ends well before the duration it declares is truncated */
    if (s->duration > 4 && s->media_time < s->duration * 0.9 - 1) {
        return fail_msg(s, CIR_EMEDIA,
                        "input ends at %.1f s of the %.1f s it declares "
                        "(truncated?)",
                        s->media_time, s->duration);
    }
    return 0;
}

static void
state_free(cir_job_state_t *s)
{
    for (int i = 0; i < s->nb_rungs; i++) {
        cir_rung_free(&s->rungs[i]);
    }
    for (int i = 0; i < s->nb_audio; i++) {
        cir_audio_free(&s->audio[i].out);
        cir_audio_free(&s->audio[i].surround);
        avcodec_free_context(&s->audio[i].dec);
    }
    cir_thumbnailer_free(&s->thumbs);
    cir_watermark_free(&s->watermark);
    cir_subtitles_free(&s->subtitles);
    cir_captions_free(&s->captions);
    avfilter_graph_free(&s->graph);
    avcodec_free_context(&s->vdec);
    av_frame_free(&s->frame);
    av_frame_free(&s->prep_frame);
    av_packet_free(&s->pkt);
}

/* The job's sidecar subtitles, read before the long decode so a bad file
 * fails the job at once, then the input's own text streams, read with the
 * media (subtitles.h). */
static int
load_subtitles(cir_job_state_t *s)
{
    char why[1024];
    int64_t start = s->ic->start_time != AV_NOPTS_VALUE ? s->ic->start_time : 0;
    int64_t clip_ms =
        s->clip_len > 0 ? llround(s->ctx->job->clip_start * 1e3) : 0;
    const cir_subtitle_specs_t *specs = s->ctx->job->subtitles;
    int ret;

    if (!(s->ctx->only & (CIR_ONLY_HLS | CIR_ONLY_DASH))) {
        if (specs != NULL && specs->count > 0) {
            cir_log_info(&s->ctx->log, "subtitles: no HLS or DASH output, "
                                       "not read");
        }
        return 0;
    }
    ret = cir_subtitles_load(&s->subtitles, specs, s->ctx->job->cancel,
                             &s->ctx->log, why, sizeof(why));
    if (ret == 0 && clip_ms > 0) {
        /* the sidecars' cues on the clip's timeline */
        ret = cir_subtitles_shift(s->subtitles, clip_ms, &s->ctx->log, why,
                                  sizeof(why));
    }
    if (ret < 0) {
        return fail_msg(s, ret, "%s", why);
    }
    /* the input's own cues less its start and the clip's */
    ret = cir_subtitles_open_embedded(&s->subtitles, s->ic,
                                      start + clip_ms * 1000, &s->ctx->log);
    return ret < 0 ? fail_msg(s, ret, "subtitles: %s", cir_strerror(ret)) : 0;
}

/* The job's overlay, read before the long decode so a bad image fails the
 * job at once; only when video rungs are made. */
static int
load_watermark(cir_job_state_t *s)
{
    const cir_overlay_t *o = s->ctx->job->overlay;
    char why[1024];
    int ret;

    if (o == NULL || !o->enabled || s->vst == NULL ||
        !s->ctx->preset->video_enabled ||
        !(s->ctx->only & (CIR_ONLY_HLS | CIR_ONLY_DASH))) {
        return 0;
    }
    ret = cir_watermark_load(&s->watermark, o, s->ctx->job->cancel, why,
                             sizeof(why));
    if (ret < 0) {
        return fail_msg(s, ret, "%s", why);
    }
    cir_log_info(&s->ctx->log, "overlay %s at the %s, %g of the height",
                 o->image, cir_overlay_position_name(o->position), o->height);
    return 0;
}

/* The filters that bring each rendition to the preset's loudness, from
 * what the measurement found. */
static void
choose_gains(cir_job_state_t *s, cir_vod_audio_t *t)
{
    const cir_preset_t *p = s->ctx->preset;
    const char *ids[CIR_VOD_KINDS] = {t->choice.id, t->surround_id};

    for (int k = 0; k < (t->wants_surround ? 2 : 1); k++) {
        cir_vod_loudness_t *l = &t->loudness[k];
        int mode = cir_loudness_filter(&l->input, p->loudness_target_lufs,
                                       p->loudness_true_peak_db, l->filter,
                                       sizeof(l->filter));
        if (mode < 0) { /* cannot happen with 160 bytes: leave it alone */
            l->filter[0] = '\0';
            mode = CIR_LOUDNESS_NONE;
        }
        l->mode = (cir_loudness_mode_t)mode;
        cir_log_info(&s->ctx->log,
                     "loudness of %s: %.1f LUFS to %.1f LUFS "
                     "(%s%s%s)",
                     ids[k], l->input.integrated, p->loudness_target_lufs,
                     cir_loudness_mode_name(l->mode), l->filter[0] ? ": " : "",
                     l->filter);
    }
    t->loudness_measured = 1;
}

/*
 * audio.loudness, first pass: the input opened a second time and read to
 * its end, decoding only the chosen audio streams (the video's packets are
 * discarded, not decoded), each measured as each of its renditions will
 * sound (the AAC layout, the 5.1 one).  The encode is the second pass.
 */
static int
measure_loudness(cir_job_state_t *s)
{
    cir_loudness_probe_t probes[CIR_AUDIO_TRACKS_MAX * CIR_VOD_KINDS];
    AVFormatContext *ic = NULL;
    char why[1280];
    size_t n = 0, k = 0;
    int ret;

    if (s->ctx->preset->loudness_target_lufs == 0 || s->nb_audio == 0) {
        return 0;
    }
    for (int i = 0; i < s->nb_audio; i++) {
        probes[n++] =
            (cir_loudness_probe_t){.stream = s->audio[i].st->index,
                                   .channels = s->ctx->preset->audio_channels};
        if (s->audio[i].wants_surround) {
            probes[n++] = (cir_loudness_probe_t){
                .stream = s->audio[i].st->index, .channels = 6};
        }
    }
    if ((ret = cir_job_open_input_into(s->ctx, &ic, why, sizeof(why))) < 0) {
        return fail_msg(s, input_error(ret), "loudness pass: %s: %s",
                        s->ctx->input, why);
    }
    ret = avformat_find_stream_info(ic, NULL);
    if (ret >= 0) {
        int64_t from = INT64_MIN, end = INT64_MAX;
        clip_window(s, ic, &from, &end);
        ret = cir_loudness_measure(ic, probes, n, from, end,
                                   s->ctx->job->cancel, &s->ctx->log);
    } else {
        ret = CIR_EMEDIA;
    }
    cir_input_close(&ic);
    if (ret < 0) {
        return fail_msg(s, ret, "loudness pass: %s", cir_strerror(ret));
    }
    for (int i = 0; i < s->nb_audio; i++) {
        cir_vod_audio_t *t = &s->audio[i];
        t->loudness[CIR_VOD_STEREO].input = probes[k++].stats;
        if (t->wants_surround) {
            t->loudness[CIR_VOD_SURROUND].input = probes[k++].stats;
        }
        choose_gains(s, t);
    }
    return 0;
}

/* This thread's CPU: the probe runs on it alone (one-thread decoders and
 * encoders), and a worker's other jobs are not counted. */
static double
thread_cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A second reader of the input is ready for the probe when its header
 * gave the video stream at the same index (MP4, MOV, MKV: no stream info
 * to read again, which decodes frames); otherwise its stream info is read. */
static int
probe_reader_ready(const cir_job_state_t *s, AVFormatContext *ic)
{
    int i = s->vst->index;

    if ((unsigned)i < ic->nb_streams &&
        ic->streams[i]->codecpar->codec_id == s->vst->codecpar->codec_id &&
        ic->streams[i]->codecpar->width == s->vst->codecpar->width &&
        ic->streams[i]->codecpar->height == s->vst->codecpar->height &&
        ic->streams[i]->codecpar->extradata_size > 0) {
        return 0;
    }
    return avformat_find_stream_info(ic, NULL) < 0 ? CIR_EMEDIA : 0;
}

/* The probe on a second reader of the input: cir_pertitle_probe_run's
 * result; s->probe filled on success. */
static int
run_probe(cir_job_state_t *s, const cir_ladder_rung_t *top)
{
    const cir_preset_t *p = s->ctx->preset;
    AVFormatContext *ic = NULL;
    AVRational fr = s->vst->avg_frame_rate;
    char why[1280];
    int64_t from;
    int num, den, ret;

    if ((ret = cir_job_open_input_into(s->ctx, &ic, why, sizeof(why))) < 0) {
        cir_log_warn(&s->ctx->log, "per-title probe: %s: %s", s->ctx->input,
                     why);
        return ret;
    }
    from = (s->ic->start_time != AV_NOPTS_VALUE ? s->ic->start_time : 0) +
           (s->ctx->job->clip ? llround(s->ctx->job->clip_start * 1e6) : 0);
    cir_ladder_frame_rate(fr.num, fr.den, p->max_frame_rate, &num, &den);
    if ((ret = probe_reader_ready(s, ic)) == 0) {
        ret = cir_pertitle_probe_run(
            ic, s->vst->index, from, s->duration, (double)num / den, top->width,
            top->height, top->rung->bitrate_kbps, p, s->ctx->job->cancel,
            &s->ctx->log, &s->probe);
    }
    cir_input_close(&ic);
    return ret;
}

/* The per-title probe (the preset's video.per_title) before decoding.  A
 * probe that fails leaves the fixed ladder, said in the log and the
 * result; a cancel stops the job.  Its CPU is the whole pass's: the
 * second reader's opening included. */
static int
probe_complexity(cir_job_state_t *s)
{
    const cir_preset_t *p = s->ctx->preset;
    cir_result_per_title_t *t = &s->ctx->result->per_title;
    cir_ladder_rung_t ladder[CIR_PRESET_MAX_RUNGS];
    double cpu0 = thread_cpu_seconds();
    int ret;

    if (!p->per_title_enabled || !p->video_enabled || s->vst == NULL ||
        !(s->ctx->only & (CIR_ONLY_HLS | CIR_ONLY_DASH))) {
        return 0;
    }
    t->enabled = 1;
    t->target_psnr_db = p->per_title_target_psnr_db;
    if (cir_ladder_select(p, s->vst->codecpar->width, s->vst->codecpar->height,
                          ladder, CIR_PRESET_MAX_RUNGS) < 1) {
        return 0; /* start_video_outputs says why */
    }
    ret = run_probe(s, &ladder[0]);
    if (ret == CIR_ECANCELED) {
        return fail_msg(s, ret, "interrupted");
    }
    if (ret < 0) {
        cir_log_warn(&s->ctx->log, "per-title probe: %s: the fixed ladder",
                     cir_strerror(ret));
        snprintf(t->error, sizeof(t->error), "probe: %s", cir_strerror(ret));
        return 0;
    }
    s->probe.cpu_seconds = thread_cpu_seconds() - cpu0;
    s->probed = 1;
    t->probe_frames = s->probe.frames;
    t->probe_seconds = s->probe.seconds;
    t->probe_cpu_seconds = s->probe.cpu_seconds;
    for (int z = 0; z < s->probe.nb_sizes; z++) {
        const cir_pertitle_size_t *size = &s->probe.sizes[z];
        for (int i = 0; i < size->nb_points && t->nb_points < 8; i++) {
            t->points[t->nb_points].width = size->width;
            t->points[t->nb_points].height = size->height;
            t->points[t->nb_points].crf = size->points[i].crf;
            t->points[t->nb_points].kbps = size->points[i].kbps;
            t->points[t->nb_points].psnr = size->points[i].psnr;
            t->nb_points++;
        }
    }
    return 0;
}

/* The video (or audio) path on the job's input, its header read: stream
 * info, decode, fan out, publish. */
static int
run_video(cir_job_state_t *s)
{
    int ret;

    s->ic = s->ctx->ic;
    if ((ret = avformat_find_stream_info(s->ic, NULL)) < 0) {
        char what[CIR_URI_MAX + 64];
        snprintf(what, sizeof(what), "cannot read stream info of %s",
                 s->ctx->input);
        return input_failed(s, s->ic->pb, ret, what);
    }
    if ((ret = select_streams(s)) < 0) {
        return ret;
    }
    compute_start(s);
    if ((ret = apply_clip(s)) < 0 || (ret = load_subtitles(s)) < 0 ||
        (ret = load_watermark(s)) < 0 || (ret = measure_loudness(s)) < 0 ||
        (ret = probe_complexity(s)) < 0) {
        return ret;
    }
    if ((ret = read_loop(s)) < 0) {
        return ret;
    }
    if ((ret = flush_all(s)) < 0) {
        return ret;
    }
    if ((ret = check_complete(s)) < 0) {
        return ret;
    }
    report_progress(s, 1);
    return cir_vod_publish(s);
}

/* A still: its renditions, on the input the probe read. */
static int
run_still(cir_job_state_t *s)
{
    cir_job_ctx_t *c = s->ctx;
    int ret;

    c->result->is_image = 1;
    if (c->job->subtitles != NULL && c->job->subtitles->count > 0) {
        return fail_msg(s, CIR_EINVAL,
                        "the input is a still image: it cannot have "
                        "subtitles");
    }
    if (!c->preset->images_enabled || !(c->only & CIR_ONLY_IMAGES)) {
        return fail_msg(s, CIR_EMEDIA,
                        "the input is a still image but preset %s makes "
                        "no image renditions",
                        c->preset->name);
    }
    ret = cir_images_run_input(c->ic, c->input, c->preset, c->store, c->top,
                               c->version_base, c->job->cancel);
    if (ret < 0) {
        fail_msg(s, ret, "image renditions: %s", cir_strerror(ret));
    }
    return ret;
}

/* A read of the input that failed before the video path: cancelled, or S3
 * refused or kept failing (reading it again as a video would only spend a
 * second retry budget): the job's error.  0 for any other failure. */
static int
read_failed(cir_job_state_t *s, int ret)
{
    if (ret == CIR_ECANCELED) {
        return fail_msg(s, ret, "interrupted");
    }
    if (ret == CIR_ETRANSIENT || ret == CIR_EAUTH) {
        return fail_msg(s, ret, "cannot read input %s (%s): %s",
                        s->ctx->job->input, cir_errname(ret),
                        cir_aws_last_error());
    }
    return 0;
}

/* Not a still: a preset for stills has nothing to make of it. */
static int
check_not_still(cir_job_state_t *s)
{
    const cir_preset_t *p = s->ctx->preset;

    if (!p->video_enabled && !p->audio_enabled) {
        return fail_msg(s, CIR_EMEDIA,
                        "preset %s is for still images; the input is not one",
                        p->name);
    }
    return 0;
}

/*
 * The input is opened once, its header read, and that one AVFormatContext
 * serves the still-image probe and the run: a header that names no image
 * codec goes straight to the video path, a still to its renditions.  One
 * case opens it a second time: a header naming an image codec whose
 * stream is not a still (an MJPEG or PNG track in MOV, AVI, MKV).  The
 * probe had to read its stream info to tell, with the still decoders
 * capped (max_pixels) and the packets it read kept in libavformat's
 * buffer, and avformat_find_stream_info() cannot be run again on the same
 * context with the video path's settings: that input is reopened.
 */
static int
run_input(cir_job_state_t *s)
{
    cir_job_ctx_t *c = s->ctx;
    char why[1280]; /* an S3 error names its code first */
    int ret = cir_job_open_input(c, why, sizeof(why)), probe;

    if (ret < 0) {
        /* a read that failed says why (S3's code) before the job's error */
        int io = ret == CIR_ETRANSIENT || ret == CIR_EAUTH || ret == -EACCES;
        int err;
        cir_log(io ? CIR_LOG_ERROR : CIR_LOG_DEBUG, &c->log, "%s: %s", c->input,
                why);
        if ((err = read_failed(s, ret)) < 0 || (err = check_not_still(s)) < 0) {
            return err;
        }
        return fail_msg(s, input_error(ret), "%s: %s", c->input, why);
    }
    probe = cir_images_probe_input(c->ic, c->input);
    if (probe == CIR_IMAGES_STILL) {
        return run_still(s);
    }
    if ((ret = read_failed(s, probe)) < 0) {
        return ret;
    }
    if (probe < 0 && probe != CIR_EMEDIA && probe != CIR_ENOTFOUND) {
        /* a probe failure here is reported by the full open below */
        cir_log_debug(&c->log, "image probe: %s", cir_strerror(probe));
    }
    if ((ret = check_not_still(s)) < 0) {
        return ret;
    }
    if (probe != CIR_IMAGES_NOT_STILL) {
        cir_job_close_input(c);
        if ((ret = cir_job_open_input(c, why, sizeof(why))) < 0) {
            return fail_msg(s, input_error(ret), "%s: %s", c->input, why);
        }
    }
    return run_video(s);
}

int
cir_transcode_run(const cir_job_t *job, cir_result_t *result)
{
    cir_job_ctx_t ctx;
    cir_job_state_t s = {.ctx = &ctx};
    int ret;

    if ((ret = cir_job_open(&ctx, job, result)) < 0) {
        goto done;
    }
    s.frame = av_frame_alloc();
    s.prep_frame = av_frame_alloc();
    s.pkt = av_packet_alloc();
    if (cir_captions_open(&s.captions) < 0 || s.frame == NULL ||
        s.prep_frame == NULL || s.pkt == NULL) {
        ret = CIR_ENOMEM;
        goto done;
    }
    if ((ret = run_input(&s)) == 0) {
        cir_job_mark_superseded(&ctx);
    }

done:
    state_free(&s);
    if (ret < 0) {
        cir_job_discard_unpublished(&ctx);
    }
    cir_job_close(&ctx);
    result->elapsed = (now_us() - ctx.start_us) / 1e6;
    return ret;
}

int
cir_transcode_exit_code(int err)
{
    switch (err) {
    case 0:
        return CIR_EXIT_OK;
    case CIR_EMEDIA:
    case CIR_EUNSUPPORTED:
    case CIR_ELIMIT:
    case CIR_EPARSE:
    case CIR_ENOTFOUND:
        return CIR_EXIT_BAD_INPUT;
    case CIR_EINVAL:
        return CIR_EXIT_BAD_PRESET;
    case CIR_ECANCELED:
        return CIR_EXIT_INTERRUPTED;
    case CIR_EINTERNAL:
        return CIR_EXIT_INTERNAL;
    case CIR_EAUTH:
    case -EACCES:
    case -EPERM:
    case -EROFS:
        return CIR_EXIT_ACCESS;
    default:
        return CIR_EXIT_TRANSIENT; /* S3 kept failing, I/O, memory, -errno */
    }
}

int
cir_transcode_exit_permanent(int code)
{
    return code == CIR_EXIT_USAGE || code == CIR_EXIT_BAD_INPUT ||
           code == CIR_EXIT_BAD_PRESET || code == CIR_EXIT_ACCESS;
}
