/*
 * The per-title probe (pertitle_probe.h): sampled scenes of the input,
 * scaled small, encoded at a few CRF values, bits and PSNR measured.
 *
 * Tested by tests/integration/per_title.test.mjs (through the job).
 */
#include "pertitle_probe.h"

#include <math.h>
#include <stdio.h>

#include <libavcodec/avcodec.h>
#include <libavutil/dict.h>
#include <libswscale/swscale.h>

#include "cir_error.h"
#include "cir_preset_codecs.h"

/* failed packets in a row before the decoder is given up on */
#define MAX_DECODE_ERRORS 100
/* a scene at most this far ahead is decoded to rather than sought */
#define SEEK_AHEAD_US (10 * 1000000LL)
/* the probe decodes at most this share of the source's frames (its CPU per
 * frame is about two thirds of the ladder's) */
#define PROBE_SHARE 0.06
/* the probe's mid size: short side, pixels */
#define PROBE_SHORT_MID 360
/* frames kept at the top rung's size: at most this many bytes */
#define TOP_BYTES (48.0 * 1024 * 1024)

typedef struct {
    AVFrame *frames[CIR_PERTITLE_PROBE_MAX_FRAMES];
    unsigned char scene_start[CIR_PERTITLE_PROBE_MAX_FRAMES];
    int nb;
    int width, height;
    struct SwsContext *sws;
} probe_frames_t;

static int
even_at_least_2(double v)
{
    int i = (int)lrint(v / 2.0) * 2;

    return i < 2 ? 2 : i;
}

/* A probe size: the source's aspect, its short side at most short_max. */
static void
probe_size(int src_w, int src_h, int short_max, int *w, int *h)
{
    int short_side = src_w < src_h ? src_w : src_h;
    double scale =
        short_side > short_max ? (double)short_max / short_side : 1.0;

    *w = even_at_least_2(src_w * scale);
    *h = even_at_least_2(src_h * scale);
}

static int
open_decoder(const AVCodecParameters *par, AVRational tb, int threads,
             AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    AVCodecContext *dec;

    *out = NULL;
    if (codec == NULL) {
        return CIR_EMEDIA;
    }
    if ((dec = *out = avcodec_alloc_context3(codec)) == NULL) {
        return CIR_ENOMEM;
    }
    if (par != NULL && avcodec_parameters_to_context(dec, par) < 0) {
        return CIR_ENOMEM;
    }
    dec->pkt_timebase = tb;
    dec->thread_count = threads;
    return avcodec_open2(dec, codec, NULL) < 0 ? CIR_EMEDIA : 0;
}

/* Keeps f scaled to the probe's size. */
static int
keep_frame(probe_frames_t *pf, const AVFrame *f, int scene_start)
{
    AVFrame *dst;

    pf->sws = sws_getCachedContext(pf->sws, f->width, f->height, f->format,
                                   pf->width, pf->height, AV_PIX_FMT_YUV420P,
                                   SWS_BICUBIC, NULL, NULL, NULL);
    if (pf->sws == NULL || (dst = av_frame_alloc()) == NULL) {
        return CIR_ENOMEM;
    }
    dst->format = AV_PIX_FMT_YUV420P;
    dst->width = pf->width;
    dst->height = pf->height;
    if (av_frame_get_buffer(dst, 0) < 0) {
        av_frame_free(&dst);
        return CIR_ENOMEM;
    }
    sws_scale(pf->sws, (const uint8_t *const *)f->data, f->linesize, 0,
              f->height, dst->data, dst->linesize);
    pf->scene_start[pf->nb] = (unsigned char)scene_start;
    pf->frames[pf->nb++] = dst;
    return 0;
}

static void
frames_free(probe_frames_t *pf)
{
    for (int i = 0; i < pf->nb; i++) {
        av_frame_free(&pf->frames[i]);
    }
    pf->nb = 0;
    sws_freeContext(pf->sws);
    pf->sws = NULL;
}

/* Decodes a scene of want frames into pf, its first top_want into top:
 * from the keyframe before t_us when the input is sought there, else from
 * t_us on; fewer when the input ends. */
static int
decode_scene(AVFormatContext *ic, AVStream *st, AVCodecContext *dec,
             int64_t t_us, int want, probe_frames_t *pf, probe_frames_t *top,
             int top_want, atomic_int *cancel, int64_t *pos_us)
{
    int64_t t_pts = av_rescale_q(t_us, AV_TIME_BASE_Q, st->time_base);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    int got = 0, eof = 0, errors = 0, ret = 0;

    if (pkt == NULL || f == NULL) {
        ret = CIR_ENOMEM;
        goto done;
    }
    /* a scene close ahead is decoded to, not sought: a seek decodes from
     * the keyframe before it again; a failed seek decodes on from where
     * the reader is */
    if (*pos_us == AV_NOPTS_VALUE || t_us < *pos_us ||
        t_us - *pos_us > SEEK_AHEAD_US) {
        /* sought: the scene starts at the keyframe before t_us, so no
         * frame is decoded only to be thrown away */
        if (avformat_seek_file(ic, -1, INT64_MIN, t_us, t_us, 0) >= 0) {
            t_pts = INT64_MIN;
        }
        avcodec_flush_buffers(dec);
    }
    while (got < want && pf->nb < CIR_PERTITLE_PROBE_MAX_FRAMES) {
        if (cancel != NULL && atomic_load(cancel)) {
            ret = CIR_ECANCELED;
            goto done;
        }
        if (!eof) {
            if (av_read_frame(ic, pkt) < 0) {
                eof = 1;
                avcodec_send_packet(dec, NULL);
            } else if (pkt->stream_index != st->index) {
                av_packet_unref(pkt);
                continue;
            } else {
                int sent = avcodec_send_packet(dec, pkt);
                av_packet_unref(pkt);
                errors = sent < 0 ? errors + 1 : 0;
                if (errors > MAX_DECODE_ERRORS) {
                    ret = CIR_EMEDIA;
                    goto done;
                }
            }
        }
        while ((ret = avcodec_receive_frame(dec, f)) >= 0) {
            int64_t pts = f->best_effort_timestamp;
            if (pts != AV_NOPTS_VALUE) {
                *pos_us = av_rescale_q(pts, st->time_base, AV_TIME_BASE_Q);
            }
            if ((pts == AV_NOPTS_VALUE || pts >= t_pts) && got < want &&
                pf->nb < CIR_PERTITLE_PROBE_MAX_FRAMES) {
                if ((ret = keep_frame(pf, f, got == 0)) < 0 ||
                    (got < top_want &&
                     top->nb < CIR_PERTITLE_PROBE_MAX_FRAMES &&
                     (ret = keep_frame(top, f, got == 0)) < 0)) {
                    goto done;
                }
                got++;
            }
            av_frame_unref(f);
        }
        if (ret == AVERROR_EOF || (eof && ret == AVERROR(EAGAIN))) {
            *pos_us = AV_NOPTS_VALUE; /* drained: seek for the next one */
            break;
        }
    }
    ret = 0;

done:
    av_packet_free(&pkt);
    av_frame_free(&f);
    return ret;
}

static int
open_encoder(const probe_frames_t *pf, const char *speed, double crf,
             AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    AVDictionary *opts = NULL;
    AVCodecContext *enc;
    char value[16];
    int ret;

    *out = NULL;
    if (codec == NULL) {
        return CIR_EUNSUPPORTED;
    }
    if ((enc = *out = avcodec_alloc_context3(codec)) == NULL) {
        return CIR_ENOMEM;
    }
    enc->width = pf->width;
    enc->height = pf->height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, 30};
    enc->framerate = (AVRational){30, 1};
    enc->gop_size = 600; /* a keyframe where each scene starts, forced */
    enc->thread_count = 1;
    snprintf(value, sizeof(value), "%.1f", crf);
    av_dict_set(&opts, "preset", speed, 0);
    av_dict_set(&opts, "crf", value, 0);
    av_dict_set(&opts, "forced-idr", "1", 0);
    av_dict_set(&opts, "x264-params", "scenecut=0", 0);
    ret = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    return ret < 0 ? CIR_EINTERNAL : 0;
}

typedef struct {
    AVCodecContext *enc, *dec;
    AVPacket *pkt;
    AVFrame *out;
    const probe_frames_t *pf;
    uint64_t key_bits, other_bits, sse, samples;
    int keys, others, compared;
} point_run_t;

static uint64_t
plane_sse(const uint8_t *a, int la, const uint8_t *b, int lb, int w, int h)
{
    uint64_t sse = 0;

    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int d = a[y * la + x] - b[y * lb + x];
            sse += (uint64_t)(d * d);
        }
    }
    return sse;
}

/* Compares a decoded frame with the source frame it encodes. */
static void
compare(point_run_t *r, const AVFrame *got)
{
    const AVFrame *src;

    if (r->compared >= r->pf->nb || got->width != r->pf->width ||
        got->height != r->pf->height || got->format != AV_PIX_FMT_YUV420P) {
        return;
    }
    src = r->pf->frames[r->compared++];
    for (int p = 0; p < 3; p++) {
        int w = p ? (got->width + 1) / 2 : got->width;
        int h = p ? (got->height + 1) / 2 : got->height;
        r->sse += plane_sse(src->data[p], src->linesize[p], got->data[p],
                            got->linesize[p], w, h);
        r->samples += (uint64_t)w * h;
    }
}

static int
drain_decoder(point_run_t *r)
{
    int ret;

    while ((ret = avcodec_receive_frame(r->dec, r->out)) >= 0) {
        compare(r, r->out);
        av_frame_unref(r->out);
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : CIR_EINTERNAL;
}

static int
drain_encoder(point_run_t *r)
{
    int ret;

    while ((ret = avcodec_receive_packet(r->enc, r->pkt)) >= 0) {
        if (r->pkt->flags & AV_PKT_FLAG_KEY) {
            r->key_bits += (uint64_t)r->pkt->size * 8;
            r->keys++;
        } else {
            r->other_bits += (uint64_t)r->pkt->size * 8;
            r->others++;
        }
        ret = avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        if (ret < 0 || (ret = drain_decoder(r)) < 0) {
            return CIR_EINTERNAL;
        }
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : CIR_EINTERNAL;
}

static int
encode_all(point_run_t *r)
{
    int ret;

    for (int i = 0; i < r->pf->nb; i++) {
        AVFrame *f = av_frame_clone(r->pf->frames[i]);
        if (f == NULL) {
            return CIR_ENOMEM;
        }
        f->pts = i;
        f->pict_type =
            r->pf->scene_start[i] ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        ret = avcodec_send_frame(r->enc, f);
        av_frame_free(&f);
        if (ret < 0 || (ret = drain_encoder(r)) < 0) {
            return CIR_EINTERNAL;
        }
    }
    if (avcodec_send_frame(r->enc, NULL) < 0 || drain_encoder(r) < 0 ||
        avcodec_send_packet(r->dec, NULL) < 0 || drain_decoder(r) < 0) {
        return CIR_EINTERNAL;
    }
    return 0;
}

/* Bits per second as the ladder spends them: a scene starts with a key
 * frame, a rung has one per GOP of gop frames. */
static double
kbps_of(const point_run_t *r, int gop, double fps)
{
    double key = r->keys ? (double)r->key_bits / r->keys : 0;
    double other = r->others ? (double)r->other_bits / r->others : key;

    if (r->keys == 0) {
        key = other;
    }
    return (key / gop + other * (gop - 1) / gop) * fps / 1000.0;
}

/* One probe point: pf encoded at crf, its bits and PSNR. */
static int
encode_point(const probe_frames_t *pf, const char *speed, double crf,
             double fps, int gop, cir_pertitle_point_t *pt)
{
    point_run_t r = {.pf = pf};
    AVCodecParameters *par = avcodec_parameters_alloc();
    int ret;

    r.pkt = av_packet_alloc();
    r.out = av_frame_alloc();
    if (par == NULL || r.pkt == NULL || r.out == NULL) {
        ret = CIR_ENOMEM;
        goto done;
    }
    if ((ret = open_encoder(pf, speed, crf, &r.enc)) < 0 ||
        (ret = avcodec_parameters_from_context(par, r.enc)) < 0 ||
        (ret = open_decoder(par, r.enc->time_base, 1, &r.dec)) < 0 ||
        (ret = encode_all(&r)) < 0) {
        ret = ret < 0 && ret > -1000 ? ret : CIR_EINTERNAL;
        goto done;
    }
    if (r.compared == 0 || r.samples == 0) {
        ret = CIR_EINTERNAL;
        goto done;
    }
    pt->crf = crf;
    pt->kbps = kbps_of(&r, gop, fps);
    pt->psnr =
        r.sse == 0
            ? 100.0
            : 10.0 * log10(255.0 * 255.0 * (double)r.samples / (double)r.sse);
    ret = 0;

done:
    avcodec_free_context(&r.enc);
    avcodec_free_context(&r.dec);
    avcodec_parameters_free(&par);
    av_packet_free(&r.pkt);
    av_frame_free(&r.out);
    return ret;
}

/* The sampled scenes: scenes of scene_s spread evenly over duration,
 * fewer (or one shorter) when they would cover more than PROBE_SHARE of
 * it; every frame into mid, the first frames of each scene, up to
 * TOP_BYTES in all, into top. */
static int
decode_scenes(AVFormatContext *ic, AVStream *st, int64_t from_us,
              double duration, const cir_preset_t *p, atomic_int *cancel,
              probe_frames_t *mid, probe_frames_t *top, double *seconds)
{
    AVCodecContext *dec = NULL;
    int64_t pos_us = AV_NOPTS_VALUE;
    double fps =
        av_q2d(st->avg_frame_rate) > 0 ? av_q2d(st->avg_frame_rate) : 30.0;
    int scenes = p->per_title_probe_scenes;
    double scene_s = p->per_title_probe_scene_seconds;
    double top_frames = TOP_BYTES / (1.5 * top->width * top->height);
    int ret;

    if (duration > 0 && scenes * scene_s > PROBE_SHARE * duration) {
        scenes = (int)(PROBE_SHARE * duration / scene_s);
        if (scenes < 1) {
            scenes = 1;
            scene_s = PROBE_SHARE * duration;
        }
    }
    /* one thread: the probe's CPU is its caller's thread's */
    if ((ret = open_decoder(st->codecpar, st->time_base, 1, &dec)) < 0) {
        avcodec_free_context(&dec);
        return ret;
    }
    for (int i = 0; i < scenes && ret == 0; i++) {
        double at = duration * (i + 0.5) / scenes - scene_s / 2;
        int want = (int)ceil(scene_s * fps);
        /* the top size on the first half of each scene */
        int top_want = (int)fmin(top_frames / scenes, want / 2.0);
        want = want < 1 ? 1 : want;
        ret = decode_scene(ic, st, dec, from_us + llround(fmax(at, 0) * 1e6),
                           want, mid, top, top_want < 1 ? 1 : top_want, cancel,
                           &pos_us);
    }
    avcodec_free_context(&dec);
    *seconds = mid->nb / fps;
    return ret;
}

/* The probe at one size: each of crfs[0, n) on pf. */
static int
probe_at_size(const probe_frames_t *pf, const double *crfs, int n,
              const cir_preset_t *p, double fps, atomic_int *cancel,
              cir_pertitle_size_t *out)
{
    int gop = (int)lrint(p->gop_seconds * fps), ret = 0;

    out->width = pf->width;
    out->height = pf->height;
    for (int i = 0; i < n && ret == 0; i++) {
        if (cancel != NULL && atomic_load(cancel)) {
            return CIR_ECANCELED;
        }
        ret = encode_point(pf, cir_preset_encoder_speed(p), crfs[i], fps,
                           gop < 1 ? 1 : gop, &out->points[i]);
        out->nb_points = i + 1;
    }
    return ret;
}

/* At most the probe's rate at crf: that of the first point at or above
 * it (the rate falls as the CRF rises). */
static double
mid_kbps_at(const cir_pertitle_size_t *size, double crf)
{
    for (int i = 0; i < size->nb_points; i++) {
        if (size->points[i].crf >= crf) {
            return size->points[i].kbps;
        }
    }
    return size->points[size->nb_points - 1].kbps;
}

int
cir_pertitle_probe_run(AVFormatContext *ic, int stream, int64_t from_us,
                       double duration, double out_fps, int top_w, int top_h,
                       int top_kbps, const cir_preset_t *p, atomic_int *cancel,
                       const cir_log_ctx_t *log, cir_pertitle_probe_t *out)
{
    probe_frames_t mid = {0}, top = {.width = top_w, .height = top_h};
    double crfs[CIR_PERTITLE_MAX_POINTS], at;
    AVStream *st;
    int n, ret;

    if (ic == NULL || stream < 0 || (unsigned)stream >= ic->nb_streams ||
        out == NULL || out_fps <= 0 || top_w < 2 || top_h < 2) {
        return CIR_EINVAL;
    }
    st = ic->streams[stream];
    *out = (cir_pertitle_probe_t){0};
    probe_size(top_w, top_h, PROBE_SHORT_MID, &mid.width, &mid.height);
    ret = decode_scenes(ic, st, from_us, duration, p, cancel, &mid, &top,
                        &out->seconds);
    if (ret == 0 && mid.nb == 0) {
        ret = CIR_EMEDIA;
    }
    n = cir_pertitle_probe_crfs(crfs, CIR_PERTITLE_MAX_POINTS);
    if (ret == 0) {
        ret = probe_at_size(&mid, crfs, n, p, out_fps, cancel, &out->sizes[0]);
        out->nb_sizes = 1;
    }
    /* the top size, at the CRF the mid size says reaches the target: how
     * bits and PSNR there differ from the mid size's */
    if (ret == 0 && (double)top_w * top_h > 1.5 * mid.width * mid.height) {
        at = cir_pertitle_crf_for(&out->sizes[0], p->per_title_target_psnr_db);
        /* unless the mid size alone needs more than the top rung has: the
         * ladder stays fixed there whatever the top size says */
        if (mid_kbps_at(&out->sizes[0], at) < top_kbps) {
            ret =
                probe_at_size(&top, &at, 1, p, out_fps, cancel, &out->sizes[1]);
            out->nb_sizes = 2;
        }
    }
    out->frames = mid.nb;
    out->top_frames = out->nb_sizes > 1 ? top.nb : 0;
    frames_free(&mid);
    frames_free(&top);
    if (ret == 0) {
        cir_log_info(log, "per-title probe: %d frames at %dx%d, %d at %dx%d",
                     out->frames, out->sizes[0].width, out->sizes[0].height,
                     out->top_frames, top_w, top_h);
    }
    return ret;
}
