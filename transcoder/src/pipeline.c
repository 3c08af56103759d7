/*
 * One VOD job: demux, decode once, prepare (deinterlace, rotate, square
 * pixels, frame rate cap, 8-bit 4:2:0), then fan the frames out to the rung
 * threads, the thumbnailer and the audio rendition; publish manifests last.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
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
#include "cir_preset_codecs.h"
#include "cir_transcode.h"
#include "images.h"
#include "input.h"
#include "input_error.h"
#include "ladder.h"
#include "pipeline.h"
#include "supersede.h"
#include "rung.h"
#include "thumbs.h"

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

static int64_t
now_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fail_msg(cir_job_state_t *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_msg(cir_job_state_t *s, int err, const char *fmt, ...)
{
    va_list ap;

    if (s->result->error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(s->result->error, sizeof(s->result->error), fmt, ap);
        va_end(ap);
        cir_log_error(&s->log, "%s", s->result->error);
    }
    return err;
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
open_input(cir_job_state_t *s, const char *path)
{
    AVDictionary *opts = NULL;
    char why[1280]; /* an S3 error names its code first */
    int ret;

    /* bounded probing: a hostile file cannot make us read forever */
    av_dict_set(&opts, "probesize", "50000000", 0);
    av_dict_set(&opts, "analyzeduration", "20000000", 0);
    /* locked down: file or the S3 AVIOContext, the upload containers */
    ret = cir_input_open(&s->ic, path, &opts, s->job->cancel, why, sizeof(why));
    av_dict_free(&opts);
    if (ret < 0) {
        return fail_msg(s, input_error(ret), "%s: %s", path, why);
    }
    if ((ret = avformat_find_stream_info(s->ic, NULL)) < 0) {
        char what[CIR_URI_MAX + 64];
        snprintf(what, sizeof(what), "cannot read stream info of %s", path);
        return input_failed(s, s->ic->pb, ret, what);
    }
    return 0;
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

static int
select_streams(cir_job_state_t *s)
{
    const cir_preset_t *p = s->job->preset;
    int want_av = (s->only & (CIR_ONLY_HLS | CIR_ONLY_DASH)) != 0;
    int want_video = (want_av && p->video_enabled) ||
                     ((s->only & CIR_ONLY_THUMBS) && p->thumbs_enabled);
    int v, a, ret;

    v = av_find_best_stream(s->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (v >= 0 &&
        (s->ic->streams[v]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        v = -1; /* cover art of an audio file is not a video */
    }
    a = av_find_best_stream(s->ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
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
    if (a >= 0 && want_av && p->audio_enabled) {
        s->ast = s->ic->streams[a];
        if ((ret = open_decoder(s, s->ast, &s->adec)) < 0) {
            return ret;
        }
    }
    if (s->vst == NULL && s->ast == NULL) {
        return fail_msg(s, CIR_EMEDIA,
                        "the input has no %s stream this preset can use",
                        p->video_enabled ? "video or audio" : "audio");
    }
    return 0;
}

/* The rotation the display matrix asks for, in degrees clockwise. */
static int
display_rotation(const AVStream *st)
{
    const uint8_t *m =
        av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    double theta;

    if (m == NULL) {
        return 0;
    }
    theta = -av_display_rotation_get((const int32_t *)m);
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    return (int)lrint(theta / 90) * 90 % 360;
}

/* Builds the preparation graph once the first frame shows what the decoder
 * really outputs. */
static int
build_prep_graph(cir_job_state_t *s, const AVFrame *f)
{
    char args[512], spec[512];
    AVRational sar = f->sample_aspect_ratio, fr;
    int num, den, ret, n = 0, rot = display_rotation(s->vst);
    int interlaced = f->interlaced_frame ||
                     (s->vst->codecpar->field_order != AV_FIELD_PROGRESSIVE &&
                      s->vst->codecpar->field_order != AV_FIELD_UNKNOWN);

    if (sar.num <= 0 || sar.den <= 0) {
        sar = (AVRational){1, 1};
    }
    s->graph = avfilter_graph_alloc();
    if (s->graph == NULL) {
        return CIR_ENOMEM;
    }
    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             f->width, f->height, f->format, s->vst->time_base.num,
             s->vst->time_base.den, sar.num, sar.den);
    ret = avfilter_graph_create_filter(&s->vsrc, avfilter_get_by_name("buffer"),
                                       "in", args, NULL, s->graph);
    if (ret < 0) {
        goto fail;
    }
    ret = avfilter_graph_create_filter(&s->vsink,
                                       avfilter_get_by_name("buffersink"),
                                       "out", NULL, NULL, s->graph);
    if (ret < 0) {
        goto fail;
    }
    fr = s->vst->avg_frame_rate.num > 0 ? s->vst->avg_frame_rate
                                        : s->vst->r_frame_rate;
    cir_ladder_frame_rate(fr.num, fr.den, s->job->preset->max_frame_rate, &num,
                          &den);
    spec[0] = '\0';
    if (interlaced) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n,
                      "yadif=mode=send_frame:deint=all,");
        s->deinterlaced = 1;
    }
    if (rot == 90) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n, "transpose=clock,");
    } else if (rot == 270) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n, "transpose=cclock,");
    } else if (rot == 180) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n, "hflip,vflip,");
    }
    if (sar.num != sar.den) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n,
                      "scale=trunc(iw*sar/2)*2:ih,setsar=1,");
    }
    snprintf(spec + n, sizeof(spec) - (size_t)n,
             "fps=fps=%d/%d:round=near,format=pix_fmts=yuv420p", num, den);
    cir_log_info(&s->log, "video %dx%d %s, %s%srotation %d, %d/%d fps -> %s",
                 f->width, f->height,
                 av_get_pix_fmt_name((enum AVPixelFormat)f->format),
                 interlaced ? "interlaced, " : "",
                 sar.num != sar.den ? "anamorphic, " : "", rot, num, den, spec);
    if ((ret = cir_graph_link(s->graph, s->vsrc, s->vsink, spec)) < 0) {
        goto fail;
    }
    s->frame_rate = (AVRational){num, den};
    s->prep_tb = av_buffersink_get_time_base(s->vsink);
    s->width = av_buffersink_get_w(s->vsink);
    s->height = av_buffersink_get_h(s->vsink);
    ret = 0;

fail:
    if (ret < 0) {
        return fail_msg(s, CIR_EMEDIA, "video filter graph: %s",
                        av_err2str(ret));
    }
    return 0;
}

static int
start_video_outputs(cir_job_state_t *s)
{
    const cir_preset_t *p = s->job->preset;
    cir_ladder_rung_t ladder[CIR_PRESET_MAX_RUNGS];
    int n, ret;

    if ((s->only & CIR_ONLY_THUMBS) && p->thumbs_enabled) {
        ret = cir_thumbnailer_open(&s->thumbs, p, s->store, s->width, s->height,
                                   s->duration);
        if (ret < 0) {
            return fail_msg(s, ret, "thumbnails: %s", cir_strerror(ret));
        }
    }
    if (!(s->only & (CIR_ONLY_HLS | CIR_ONLY_DASH)) || !p->video_enabled) {
        return 0;
    }
    n = cir_ladder_select(p, s->width, s->height, ladder, CIR_PRESET_MAX_RUNGS);
    if (n < 0) {
        return fail_msg(s, CIR_EMEDIA, "no rung fits a %dx%d source", s->width,
                        s->height);
    }
    for (int i = 0; i < n; i++) {
        cir_rung_config_t cfg = {
            .preset = p,
            .ladder = &ladder[i],
            .src_width = s->width,
            .src_height = s->height,
            .time_base = s->prep_tb,
            .frame_rate = s->frame_rate,
            .store = s->store,
            .job_id = s->job->job_id,
        };
        if ((ret = cir_rung_start(&s->rungs[i], &cfg)) < 0) {
            return fail_msg(s, ret, "rung %s: %s", ladder[i].rung->name,
                            cir_strerror(ret));
        }
        s->nb_rungs = i + 1;
        cir_log_info(&s->log, "rung %s %dx%d %d kbps", ladder[i].rung->name,
                     ladder[i].width, ladder[i].height,
                     ladder[i].rung->bitrate_kbps);
    }
    return 0;
}

static void
report_progress(cir_job_state_t *s, int force)
{
    cir_progress_t pr;
    int64_t now = now_us();
    double elapsed = (now - s->start_us) / 1e6;

    if (s->job->progress == NULL ||
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
    s->job->progress(s->job->opaque, &pr);
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
        ret = fan_out(s, s->prep_frame);
        av_frame_unref(s->prep_frame);
        if (ret < 0) {
            return ret;
        }
    }
}

static int
on_video_frame(cir_job_state_t *s, AVFrame *f)
{
    int ret;

    if (s->graph == NULL) {
        if ((ret = build_prep_graph(s, f)) < 0) {
            return ret;
        }
        if ((ret = start_video_outputs(s)) < 0) {
            return ret;
        }
    }
    f->pts = f->best_effort_timestamp;
    if (f->pts == AV_NOPTS_VALUE) {
        return 0;
    }
    f->pts -= s->start_pts_v;
    /* where the last frame ends, so the fps filter keeps it at EOF */
    if (f->pkt_duration > 0) {
        s->video_end_pts = FFMAX(s->video_end_pts, f->pts + f->pkt_duration);
    } else {
        s->video_end_pts = FFMAX(
            s->video_end_pts, f->pts + av_rescale_q(1, av_inv_q(s->frame_rate),
                                                    s->vst->time_base));
    }
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

static int
on_audio_frame(cir_job_state_t *s, AVFrame *f)
{
    int ret;

    if (s->audio == NULL) {
        ret = cir_audio_open(&s->audio, s->job->preset, s->adec,
                             s->ast->time_base, s->store, s->job->job_id);
        if (ret < 0) {
            return fail_msg(s, ret, "audio: %s", cir_strerror(ret));
        }
    }
    f->pts = f->best_effort_timestamp;
    if (f->pts == AV_NOPTS_VALUE) {
        return 0;
    }
    f->pts -= s->start_pts_a;
    if (f->sample_rate > 0) {
        s->audio_end =
            fmax(s->audio_end, f->pts * av_q2d(s->ast->time_base) +
                                   (double)f->nb_samples / f->sample_rate);
    }
    /* how far the input has been read: the later of its streams */
    s->media_time = fmax(s->media_time, f->pts * av_q2d(s->ast->time_base));
    return cir_audio_push(s->audio, f);
}

/* Sends a packet (NULL flushes) to a decoder and handles every frame. */
static int
decode(cir_job_state_t *s, AVCodecContext *dec, const AVPacket *pkt)
{
    int ret = avcodec_send_packet(dec, pkt);

    if (ret < 0 && ret != AVERROR_EOF) {
        if (++s->decode_errors > MAX_DECODE_ERRORS) {
            return fail_msg(s, CIR_EMEDIA, "too many decoding errors (%s)",
                            av_err2str(ret));
        }
        cir_log_warn(&s->log, "decoding error: %s", av_err2str(ret));
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
        ret = dec == s->vdec ? on_video_frame(s, s->frame)
                             : on_audio_frame(s, s->frame);
        av_frame_unref(s->frame);
        if (ret < 0) {
            return ret;
        }
    }
}

static int
read_loop(cir_job_state_t *s)
{
    int ret;

    for (;;) {
        if (s->job->cancel && atomic_load(s->job->cancel)) {
            return fail_msg(s, CIR_ECANCELED, "interrupted");
        }
        ret = av_read_frame(s->ic, s->pkt);
        if (ret < 0 && s->job->cancel && atomic_load(s->job->cancel)) {
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
            ret = decode(s, s->vdec, s->pkt);
        } else if (s->ast && s->pkt->stream_index == s->ast->index) {
            ret = decode(s, s->adec, s->pkt);
        } else {
            ret = 0;
        }
        av_packet_unref(s->pkt);
        if (ret < 0) {
            return ret;
        }
        report_progress(s, 0);
    }
}

static int
flush_all(cir_job_state_t *s)
{
    int ret;

    if (s->vdec && (ret = decode(s, s->vdec, NULL)) < 0) {
        return ret;
    }
    if (s->adec && (ret = decode(s, s->adec, NULL)) < 0) {
        return ret;
    }
    if (s->graph) {
        /* a video that ends before its audio (a cover picture with a
         * podcast: one frame and minutes of sound) holds its last picture
         * until the audio ends: the fps filter repeats it up to here.  An
         * audio track that ends within a frame of the video (AAC frames
         * rarely end on a video frame) adds nothing. */
        int64_t end = s->video_end_pts;
        double frame = av_q2d(av_inv_q(s->frame_rate));
        if (s->ast && s->audio_end - end * av_q2d(s->vst->time_base) > frame) {
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
    if (s->audio && (ret = cir_audio_push(s->audio, NULL)) < 0) {
        return fail_msg(s, ret, "audio: %s", cir_strerror(ret));
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
    s->start_pts_a =
        s->ast ? av_rescale_q(start, AV_TIME_BASE_Q, s->ast->time_base) : 0;
    if (s->vst) {
        end = fmax(end, stream_end(s->vst, start));
    }
    if (s->ast) {
        end = fmax(end, stream_end(s->ast, start));
    }
    s->duration = end > 0               ? end
                  : s->ic->duration > 0 ? s->ic->duration / 1e6
                                        : 0;
}

static int
check_complete(cir_job_state_t *s)
{
    if (s->vst && s->frames_out == 0 && s->nb_rungs == 0 && !s->thumbs) {
        return fail_msg(s, CIR_EMEDIA, "no video frame could be decoded");
    }
    if (s->vst && s->frames_in == 0) {
        return fail_msg(s, CIR_EMEDIA, "no video frame could be decoded");
    }
    if (s->ast && !s->vst && s->audio == NULL) {
        return fail_msg(s, CIR_EMEDIA, "no audio frame could be decoded");
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
    cir_audio_free(&s->audio);
    cir_thumbnailer_free(&s->thumbs);
    avfilter_graph_free(&s->graph);
    avcodec_free_context(&s->vdec);
    avcodec_free_context(&s->adec);
    cir_input_close(&s->ic); /* and the S3 AVIOContext */
    av_frame_free(&s->frame);
    av_frame_free(&s->prep_frame);
    av_packet_free(&s->pkt);
    cir_store_close(&s->store);
    cir_store_close(&s->top);
}

static int
run_video(cir_job_state_t *s, const char *path)
{
    int ret;

    if ((ret = open_input(s, path)) < 0) {
        return ret;
    }
    if ((ret = select_streams(s)) < 0) {
        return ret;
    }
    compute_start(s);
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
    return cir_publish(s);
}

/* The attempt's own version id: the caller's, else the start time and 64
 * bits from the kernel's random source. */
static int
pick_version(cir_job_state_t *s)
{
    uint64_t rnd = 0;
    const char *given = s->job->version;

    if (given != NULL && given[0] != '\0') {
        if (!cir_version_id_is_valid(given)) {
            return fail_msg(s, CIR_EINVAL,
                            "version \"%.80s\" is not [A-Za-z0-9_-]{1,63}",
                            given);
        }
        snprintf(s->result->version, sizeof(s->result->version), "%s", given);
        return 0;
    }
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        int err = -errno;
        return fail_msg(s, err, "no random bytes for a version id: %s",
                        cir_strerror(err));
    }
    return cir_version_id_make(now_wall_us(), rnd, s->result->version,
                               sizeof(s->result->version));
}

/* The version the asset's top-level manifests name before this job
 * writes its own (supersede.h); unknown when they cannot be read: nothing
 * is marked then but the records earlier publishes left. */
static void
read_previous(cir_job_state_t *s, const cir_uri_t *out)
{
    int ret = cir_supersede_current(out, s->previous, sizeof(s->previous));

    if (ret < 0) {
        s->previous[0] = '\0';
        cir_log_warn(&s->log,
                     "cannot read the asset's current version (%s): the "
                     "version this job replaces is not marked superseded",
                     cir_strerror(ret));
    }
    s->previous_known = 1;
}

/* <output> for the top-level manifests and <output>/v/<version>/ for
 * everything else (immutable). */
static int
open_stores(cir_job_state_t *s, const cir_uri_t *out)
{
    char why[300], rel[CIR_VERSION_ID_MAX + 8];
    cir_uri_t vuri;
    int ret;

    if ((ret = cir_output_root_check(out, why, sizeof(why))) < 0) {
        /* (the rule names the prefix, cut: a whole over-long one would
         * push the rule out of the log line) */
        return fail_msg(s, CIR_EINVAL, "output s3://%s/: %s", out->bucket, why);
    }
    if ((ret = pick_version(s)) < 0) {
        return ret;
    }
    snprintf(rel, sizeof(rel), "%s/%s", CIR_VERSIONS_DIR, s->result->version);
    snprintf(s->version_base, sizeof(s->version_base), "%s/%s/",
             CIR_VERSIONS_DIR, s->result->version);
    if ((ret = cir_uri_join(out, rel, &vuri)) < 0) {
        return fail_msg(s, CIR_EINVAL, "output %s: too long for a version",
                        s->job->output);
    }
    if ((ret = cir_store_open(&s->top, out)) < 0 ||
        (ret = cir_store_open(&s->store, &vuri)) < 0) {
        return fail_msg(s, ret, "cannot open output %s: %s", s->job->output,
                        cir_strerror(ret));
    }
    cir_log_info(&s->log, "writing version %s", s->result->version);
    read_previous(s, out);
    return 0;
}

/* After a publish: the version it replaced is marked superseded (and
 * versions left over by earlier publishes); never fails the job. */
static void
mark_superseded(cir_job_state_t *s, const cir_uri_t *out)
{
    cir_supersede_stats_t st;
    int ret;

    if (!s->previous_known) {
        return;
    }
    ret = cir_supersede_mark(out, s->previous, s->result->version, 0,
                             s->job->cancel, &s->log, &st);
    snprintf(s->result->superseded, sizeof(s->result->superseded), "%s",
             s->previous);
    s->result->superseded_objects = st.objects;
    s->result->supersede_failures = st.failures;
    if (ret < 0 && st.failures == 0) {
        s->result->supersede_failures = 1;
    }
}

int
cir_transcode_run(const cir_job_t *job, cir_result_t *result)
{
    cir_job_state_t s = {0};
    cir_uri_t in, out;
    char why[400];
    int ret;

    memset(result, 0, sizeof(*result));
    s.job = job;
    s.result = result;
    s.only = job->only ? job->only : CIR_ONLY_ALL;
    s.log = (cir_log_ctx_t){.component = "transcode", .job = job->job_id};
    s.start_us = now_us();

    /* the codec rules are checked here, where the codecs live, whoever
     * loaded the preset */
    if (cir_preset_codecs_check(job->preset, why, sizeof(why)) < 0) {
        ret = fail_msg(&s, CIR_EINVAL, "preset: %s", why);
        goto done;
    }
    if (cir_uri_parse(job->input, &in) < 0) {
        ret = fail_msg(&s, CIR_EINVAL, "bad input URI '%s'", job->input);
        goto done;
    }
    if (cir_uri_parse(job->output, &out) < 0) {
        ret = fail_msg(&s, CIR_EINVAL, "bad output URI '%s'", job->output);
        goto done;
    }
    if ((ret = open_stores(&s, &out)) < 0) {
        goto done;
    }
    /* stopped from outside (a lost lease): nothing more is written */
    cir_store_set_cancel(s.store, job->cancel);
    s.frame = av_frame_alloc();
    s.prep_frame = av_frame_alloc();
    s.pkt = av_packet_alloc();
    if (s.frame == NULL || s.prep_frame == NULL || s.pkt == NULL) {
        ret = CIR_ENOMEM;
        goto done;
    }

    /* a still image?  (s3:// through the S3 AVIOContext: its header only) */
    ret = cir_images_probe(in.scheme == CIR_URI_FILE ? in.path : job->input,
                           job->cancel);
    if (ret == 1) {
        result->is_image = 1;
        if (!job->preset->images_enabled || !(s.only & CIR_ONLY_IMAGES)) {
            ret = fail_msg(&s, CIR_EMEDIA,
                           "the input is a still image but preset %s makes "
                           "no image renditions",
                           job->preset->name);
            goto done;
        }
        ret = cir_images_run_versioned(
            in.scheme == CIR_URI_FILE ? in.path : job->input, job->preset,
            s.store, s.top, s.version_base, job->cancel);
        if (ret < 0) {
            fail_msg(&s, ret, "image renditions: %s", cir_strerror(ret));
        }
        goto done;
    }
    if (ret == CIR_ECANCELED) {
        ret = fail_msg(&s, ret, "interrupted");
        goto done;
    }
    if (ret == CIR_ETRANSIENT || ret == CIR_EAUTH) {
        /* S3 refused or kept failing: opening it again as a video would
         * only spend a second retry budget */
        ret = fail_msg(&s, ret, "cannot read input %s (%s): %s", job->input,
                       cir_errname(ret), cir_aws_last_error());
        goto done;
    }
    if (ret < 0 && ret != CIR_EMEDIA && ret != CIR_ENOTFOUND) {
        /* a probe failure here is reported by the full open below */
        cir_log_debug(&s.log, "image probe: %s", cir_strerror(ret));
    }
    if (!job->preset->video_enabled && !job->preset->audio_enabled) {
        ret = fail_msg(&s, CIR_EMEDIA,
                       "preset %s is for still images; the input is not one",
                       job->preset->name);
        goto done;
    }
    ret = run_video(&s, in.scheme == CIR_URI_FILE ? in.path : job->input);

done:
    if (ret == 0) {
        mark_superseded(&s, &out);
    }
    state_free(&s);
    result->elapsed = (now_us() - s.start_us) / 1e6;
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
