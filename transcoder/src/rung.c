/*
 * One VOD video rung on its own thread: a bounded frame queue, swscale to
 * the rung's size, the encoder, and the rung's CMAF packager.
 *
 * Tested by tests/unit/test_transcoder_pipeline.c (a watermark on the
 * rung: tests/integration/job_options.test.mjs).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "avsetup.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_preset_codecs.h"
#include "codecs.h"
#include "rung.h"

struct cir_rung {
    char id[32];
    char codecs[64];
    int width, height;
    int src_width, src_height;
    int gop_frames;
    /* libx264 writes a frame's A/53 cc_data as SEI (its a53cc option);
     * libx265 in FFmpeg 5.1 cannot, so an HEVC rung drops them */
    int writes_captions;
    uint64_t caption_frames; /* frames sent with cc_data */
    AVCodecContext *enc;
    struct SwsContext *sws;
    /* the scaled pictures' memory, reused frame after frame (the encoder
     * copies a picture in): a fresh one per frame costs page faults, or
     * resident heap in every thread's arena */
    AVBufferPool *pictures;
    cir_watermark_rung_t *mark; /* the job's watermark at this size */
    cir_cmaf_t *pkg;
    AVPacket *pkt;
    cir_log_ctx_t log;

    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    AVFrame *queue[CIR_RUNG_QUEUE];
    int head, count;
    int eof;
    int err;
};

static int
averr(int ret)
{
    return ret == AVERROR(ENOMEM) ? CIR_ENOMEM : CIR_EINTERNAL;
}

static int
open_encoder(cir_video_rung_t *r, const cir_rung_config_t *cfg)
{
    const cir_preset_t *p = cfg->preset;
    int hevc = cir_preset_vcodec(p) == CIR_VCODEC_HEVC;
    const cir_venc_config_t venc = {
        .hevc = hevc,
        .width = r->width,
        .height = r->height,
        .time_base = cfg->time_base,
        .frame_rate = cfg->frame_rate,
        .gop_frames = r->gop_frames,
        .rung = cfg->ladder->rung,
        .preset = cir_preset_encoder_speed(p),
        .crf = cfg->crf,
    };
    AVCodecContext *enc;
    int ret;

    if ((ret = cir_venc_open(&venc, &r->log, &r->enc)) < 0) {
        return ret;
    }
    enc = r->enc;
    r->writes_captions = !hevc;
    ret = hevc ? cir_codecs_hevc(enc->extradata, (size_t)enc->extradata_size,
                                 r->codecs, sizeof(r->codecs))
               : cir_codecs_avc(enc->extradata, (size_t)enc->extradata_size,
                                r->codecs, sizeof(r->codecs));
    if (ret < 0) {
        cir_log_error(&r->log, "no codec string in the encoder's headers");
        return ret;
    }
    return 0;
}

static int
drain_encoder(cir_video_rung_t *r)
{
    int ret;

    for (;;) {
        ret = avcodec_receive_packet(r->enc, r->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            cir_log_error(&r->log, "encoder: %s", av_err2str(ret));
            return averr(ret);
        }
        ret = cir_cmaf_write(r->pkg, r->pkt);
        av_packet_unref(r->pkt);
        if (ret < 0) {
            return ret;
        }
    }
}

/* Line and plane alignment of the scaled pictures (what
 * av_frame_get_buffer gives for AVX-512), and the padding after them. */
#define PICTURE_ALIGN 64

static int
open_scaler(cir_video_rung_t *r)
{
    int size;

    r->sws = sws_getContext(r->src_width, r->src_height, AV_PIX_FMT_YUV420P,
                            r->width, r->height, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC, NULL, NULL, NULL);
    size = av_image_get_buffer_size(AV_PIX_FMT_YUV420P, r->width, r->height,
                                    PICTURE_ALIGN);
    if (r->sws == NULL || size < 0) {
        return CIR_ENOMEM;
    }
    r->pictures = av_buffer_pool_init((size_t)size + PICTURE_ALIGN, NULL);
    return r->pictures != NULL ? 0 : CIR_ENOMEM;
}

/* A picture of the rung's size from the pool. */
static AVFrame *
scaled_picture(cir_video_rung_t *r)
{
    AVFrame *f = av_frame_alloc();

    if (f == NULL) {
        return NULL;
    }
    f->format = AV_PIX_FMT_YUV420P;
    f->width = r->width;
    f->height = r->height;
    f->buf[0] = av_buffer_pool_get(r->pictures);
    if (f->buf[0] == NULL ||
        av_image_fill_arrays(f->data, f->linesize, f->buf[0]->data,
                             AV_PIX_FMT_YUV420P, r->width, r->height,
                             PICTURE_ALIGN) < 0) {
        av_frame_free(&f);
    }
    return f;
}

static int
encode_frame(cir_video_rung_t *r, AVFrame *src)
{
    AVFrame *dst = NULL;
    int ret;

    if (r->sws) {
        if ((dst = scaled_picture(r)) == NULL) {
            return CIR_ENOMEM;
        }
        sws_scale(r->sws, (const uint8_t *const *)src->data, src->linesize, 0,
                  src->height, dst->data, dst->linesize);
        av_frame_copy_props(dst, src);
    } else {
        dst = av_frame_clone(src);
        if (dst == NULL) {
            return CIR_ENOMEM;
        }
    }
    /* a clone shares the frame every rung reads: copied before the
     * watermark is drawn on it */
    if (r->mark != NULL) {
        if (av_frame_make_writable(dst) < 0) {
            av_frame_free(&dst);
            return CIR_ENOMEM;
        }
        cir_watermark_blend(r->mark, dst);
    }
    if (!r->writes_captions) {
        av_frame_remove_side_data(dst, AV_FRAME_DATA_A53_CC);
    } else if (av_frame_get_side_data(dst, AV_FRAME_DATA_A53_CC)) {
        r->caption_frames++;
    }
    /* keyframes at the same frames in every rung, so segments align */
    dst->pict_type = dst->pts % r->gop_frames == 0 ? AV_PICTURE_TYPE_I
                                                   : AV_PICTURE_TYPE_NONE;
    ret = avcodec_send_frame(r->enc, dst);
    av_frame_free(&dst);
    if (ret < 0) {
        cir_log_error(&r->log, "encoder: %s", av_err2str(ret));
        return averr(ret);
    }
    return drain_encoder(r);
}

static AVFrame *
pop(cir_video_rung_t *r, int *eof)
{
    AVFrame *f = NULL;

    pthread_mutex_lock(&r->lock);
    if (r->err == CIR_ECANCELED) {
        *eof = 1;
        pthread_mutex_unlock(&r->lock);
        return NULL;
    }
    while (r->count == 0 && !r->eof) {
        pthread_cond_wait(&r->cond, &r->lock);
    }
    if (r->count > 0) {
        f = r->queue[r->head];
        r->head = (r->head + 1) % CIR_RUNG_QUEUE;
        r->count--;
        pthread_cond_broadcast(&r->cond);
    }
    *eof = r->count == 0 && r->eof;
    pthread_mutex_unlock(&r->lock);
    return f;
}

static void *
run(void *arg)
{
    cir_video_rung_t *r = arg;
    int ret = 0, eof = 0;

    while (!eof) {
        AVFrame *f = pop(r, &eof);
        if (f == NULL) {
            continue;
        }
        if (ret == 0 && (ret = encode_frame(r, f)) < 0) {
            /* tell the producer at once; keep draining so it never blocks */
            pthread_mutex_lock(&r->lock);
            r->err = ret;
            pthread_cond_broadcast(&r->cond);
            pthread_mutex_unlock(&r->lock);
        }
        av_frame_free(&f);
    }
    if (ret == 0) {
        if ((ret = avcodec_send_frame(r->enc, NULL)) == 0) {
            ret = drain_encoder(r);
        } else {
            ret = averr(ret);
        }
    }
    if (ret == 0) {
        ret = cir_cmaf_finish(r->pkg);
    }
    pthread_mutex_lock(&r->lock);
    if (r->err == 0) {
        r->err = ret;
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int
cir_rung_start(cir_video_rung_t **out, const cir_rung_config_t *cfg)
{
    cir_video_rung_t *r;
    double fps = av_q2d(cfg->frame_rate);
    int ret;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return CIR_ENOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    snprintf(r->id, sizeof(r->id), "%s", cfg->ladder->rung->name);
    r->log = (cir_log_ctx_t){
        .component = "rung", .job = cfg->job_id, .rendition = r->id};
    r->width = cfg->ladder->width;
    r->height = cfg->ladder->height;
    r->src_width = cfg->src_width;
    r->src_height = cfg->src_height;
    r->gop_frames = (int)(cfg->preset->gop_seconds * fps + 0.5);
    if (r->gop_frames < 1) {
        r->gop_frames = 1;
    }
    r->pkt = av_packet_alloc();
    if (r->pkt == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = open_encoder(r, cfg)) < 0) {
        goto fail;
    }
    if ((r->width != r->src_width || r->height != r->src_height) &&
        (ret = open_scaler(r)) < 0) {
        goto fail;
    }
    if (cfg->watermark != NULL &&
        (ret = cir_watermark_for_size(cfg->watermark, r->width, r->height,
                                      &r->mark)) < 0) {
        goto fail;
    }
    ret = cir_cmaf_open(&r->pkg, r->id, cfg->store, r->enc,
                        cfg->preset->segment_seconds, NULL);
    if (ret == 0) {
        ret = cir_cmaf_encrypt(r->pkg, cfg->encryption);
    }
    if (ret < 0) {
        goto fail;
    }
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    r->started = 1;
    *out = r;
    return 0;

fail:
    cir_rung_free(&r);
    return ret;
}

int
cir_rung_push(cir_video_rung_t *r, const AVFrame *frame)
{
    AVFrame *ref = NULL;
    int ret;

    if (frame) {
        ref = av_frame_clone(frame);
        if (ref == NULL) {
            return CIR_ENOMEM;
        }
    }
    pthread_mutex_lock(&r->lock);
    while (r->count == CIR_RUNG_QUEUE && r->err == 0) {
        pthread_cond_wait(&r->cond, &r->lock);
    }
    ret = r->err;
    if (ret == 0) {
        if (ref) {
            r->queue[(r->head + r->count) % CIR_RUNG_QUEUE] = ref;
            r->count++;
            ref = NULL;
        } else {
            r->eof = 1;
        }
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
    av_frame_free(&ref);
    return ret;
}

int
cir_rung_join(cir_video_rung_t *r)
{
    if (!r->started) {
        return r->err;
    }
    pthread_mutex_lock(&r->lock);
    r->eof = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->started = 0;
    return r->err;
}

const char *
cir_rung_id(const cir_video_rung_t *r)
{
    return r->id;
}

const char *
cir_rung_codecs(const cir_video_rung_t *r)
{
    return r->codecs;
}

void
cir_rung_size(const cir_video_rung_t *r, int *w, int *h)
{
    *w = r->width;
    *h = r->height;
}

int
cir_rung_carries_captions(const cir_video_rung_t *r)
{
    return r->caption_frames > 0;
}

const cir_cmaf_t *
cir_rung_packager(const cir_video_rung_t *r)
{
    return r->pkg;
}

void
cir_rung_free(cir_video_rung_t **rp)
{
    cir_video_rung_t *r = *rp;

    if (r == NULL) {
        return;
    }
    if (r->started) {
        /* an early stop: make the thread drop what it has and exit */
        pthread_mutex_lock(&r->lock);
        if (r->err == 0) {
            r->err = CIR_ECANCELED;
        }
        pthread_mutex_unlock(&r->lock);
        cir_rung_join(r);
    }
    while (r->count > 0) {
        av_frame_free(&r->queue[r->head]);
        r->head = (r->head + 1) % CIR_RUNG_QUEUE;
        r->count--;
    }
    avcodec_free_context(&r->enc);
    sws_freeContext(r->sws);
    av_buffer_pool_uninit(&r->pictures);
    cir_watermark_rung_free(&r->mark);
    cir_cmaf_free(&r->pkg);
    av_packet_free(&r->pkt);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
    *rp = NULL;
}
