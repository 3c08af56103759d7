/*
 * Still-image helpers: swscale into owned frames, one-shot JPEG/WebP
 * encoding.  See jpeg.h.
 *
 * Tested by tests/unit/test_transcoder_images.c and
 * test_transcoder_thumbs.c.
 */
#include "jpeg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "cir_error.h"

/* Same layout as the yuvj format, for swscale (which warns on yuvj). */
static enum AVPixelFormat
unjpeg(enum AVPixelFormat fmt, int *full)
{
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P:
        *full = 1;
        return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
        *full = 1;
        return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
        *full = 1;
        return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
        *full = 1;
        return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
        *full = 1;
        return AV_PIX_FMT_YUV411P;
    default:
        return fmt;
    }
}

int
cir_img_averr(int averr)
{
    if (averr >= 0) {
        return 0;
    }
    if (averr == AVERROR(ENOMEM)) {
        return CIR_ENOMEM;
    }
    /* AVERROR(e) is -e on POSIX; FFERRTAG codes are far below errno. */
    if (averr > -4096) {
        return averr;
    }
    if (averr == AVERROR_EXIT) {
        return CIR_ECANCELED;
    }
    if (averr == AVERROR_ENCODER_NOT_FOUND ||
        averr == AVERROR_DECODER_NOT_FOUND ||
        averr == AVERROR_DEMUXER_NOT_FOUND) {
        return CIR_EUNSUPPORTED;
    }
    if (averr == AVERROR_BUG || averr == AVERROR_BUG2) {
        return CIR_EINTERNAL;
    }
    return CIR_EMEDIA;
}

int
cir_img_alloc(int w, int h, enum AVPixelFormat fmt, AVFrame **out)
{
    AVFrame *f = NULL;
    int full = 0;
    int ret;

    *out = NULL;
    if (w <= 0 || h <= 0 || av_image_check_size(w, h, 0, NULL) < 0) {
        return CIR_EINVAL;
    }
    f = av_frame_alloc();
    if (f == NULL) {
        return CIR_ENOMEM;
    }
    f->width = w;
    f->height = h;
    f->format = fmt;
    unjpeg(fmt, &full);
    f->color_range = full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    ret = av_frame_get_buffer(f, 0);
    if (ret < 0) {
        av_frame_free(&f);
        return cir_img_averr(ret);
    }
    *out = f;
    return 0;
}

int
cir_img_scale(struct SwsContext **sws, const AVFrame *src, int w, int h,
              enum AVPixelFormat fmt, const cir_log_ctx_t *log, AVFrame **out)
{
    AVFrame *dst = NULL;
    enum AVPixelFormat sfmt, dfmt;
    int src_full = 0, dst_full = 0;
    int *inv, *tab, sr, dr, bri, con, sat;
    int ret;

    *out = NULL;
    sfmt = unjpeg((enum AVPixelFormat)src->format, &src_full);
    dfmt = unjpeg(fmt, &dst_full);
    if (src->color_range == AVCOL_RANGE_JPEG) {
        src_full = 1;
    }
    if (!sws_isSupportedInput(sfmt) || !sws_isSupportedOutput(dfmt)) {
        cir_log_error(
            log, "cannot scale %s to %s",
            av_get_pix_fmt_name(sfmt) ? av_get_pix_fmt_name(sfmt) : "?",
            av_get_pix_fmt_name(dfmt) ? av_get_pix_fmt_name(dfmt) : "?");
        return CIR_EUNSUPPORTED;
    }
    ret = cir_img_alloc(w, h, fmt, &dst);
    if (ret < 0) {
        cir_log_error(log, "cannot allocate a %dx%d frame: %s", w, h,
                      cir_strerror(ret));
        return ret;
    }
    *sws =
        sws_getCachedContext(*sws, src->width, src->height, sfmt, w, h, dfmt,
                             SWS_BICUBIC | SWS_ACCURATE_RND, NULL, NULL, NULL);
    if (*sws == NULL) {
        cir_log_error(log, "cannot scale %dx%d to %dx%d", src->width,
                      src->height, w, h);
        ret = CIR_EUNSUPPORTED;
        goto fail;
    }
    /* Ranges and matrices: the source's own, JFIF (BT.601) on output. */
    if (sws_getColorspaceDetails(*sws, &inv, &sr, &tab, &dr, &bri, &con,
                                 &sat) >= 0) {
        int cs =
            src->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
        sws_setColorspaceDetails(*sws, sws_getCoefficients(cs), src_full,
                                 sws_getCoefficients(SWS_CS_ITU601), dst_full,
                                 bri, con, sat);
    }
    ret = sws_scale(*sws, (const uint8_t *const *)src->data, src->linesize, 0,
                    src->height, dst->data, dst->linesize);
    if (ret <= 0) {
        cir_log_error(log, "scaling %dx%d to %dx%d failed", src->width,
                      src->height, w, h);
        ret = CIR_EINTERNAL;
        goto fail;
    }
    dst->color_range = dst_full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    dst->colorspace = AVCOL_SPC_BT470BG;
    *out = dst;
    return 0;

fail:
    av_frame_free(&dst);
    return ret;
}

int
cir_img_jpeg_qscale(int quality)
{
    if (quality < 1) {
        quality = 1;
    }
    if (quality > 100) {
        quality = 100;
    }
    /* 100 -> 2 (best mjpeg allows), 1 -> 31. */
    return 2 + ((100 - quality) * 29 + 49) / 99;
}

static int
encode(const AVFrame *f, enum AVCodecID id, const char *name, int quality,
       const cir_log_ctx_t *log, uint8_t **data, size_t *len)
{
    const AVCodec *codec;
    AVCodecContext *c = NULL;
    AVDictionary *opts = NULL;
    AVFrame *in = NULL;
    AVPacket *pkt = NULL;
    char q[16];
    int ret;

    *data = NULL;
    *len = 0;
    codec = name != NULL ? avcodec_find_encoder_by_name(name)
                         : avcodec_find_encoder(id);
    if (codec == NULL) {
        cir_log_error(log, "encoder %s not available",
                      name != NULL ? name : avcodec_get_name(id));
        return CIR_EUNSUPPORTED;
    }
    c = avcodec_alloc_context3(codec);
    in = av_frame_clone(f);
    pkt = av_packet_alloc();
    if (c == NULL || in == NULL || pkt == NULL) {
        cir_log_error(log, "%s: out of memory", codec->name);
        ret = CIR_ENOMEM;
        goto fail;
    }
    c->width = f->width;
    c->height = f->height;
    c->pix_fmt = (enum AVPixelFormat)f->format;
    c->time_base = (AVRational){1, 25};
    c->thread_count = 1;
    c->sample_aspect_ratio = (AVRational){1, 1}; /* mjpeg: writes JFIF */
    if (id == AV_CODEC_ID_MJPEG) {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = cir_img_jpeg_qscale(quality) * FF_QP2LAMBDA;
        c->color_range = AVCOL_RANGE_JPEG;
        in->quality = c->global_quality;
    } else {
        snprintf(q, sizeof(q), "%d",
                 quality < 1     ? 1
                 : quality > 100 ? 100
                                 : quality);
        av_dict_set(&opts, "quality", q, 0);
        av_dict_set(&opts, "lossless", "0", 0);
    }
    ret = avcodec_open2(c, codec, &opts);
    if (ret < 0) {
        cir_log_error(log, "cannot open the %s encoder for %dx%d %s: %s",
                      codec->name, f->width, f->height,
                      av_get_pix_fmt_name(c->pix_fmt), av_err2str(ret));
        ret = cir_img_averr(ret);
        goto fail;
    }
    in->pts = 0;
    in->pict_type = AV_PICTURE_TYPE_NONE;
    ret = avcodec_send_frame(c, in);
    if (ret >= 0) {
        ret = avcodec_send_frame(c, NULL);
    }
    if (ret >= 0) {
        ret = avcodec_receive_packet(c, pkt);
    }
    if (ret < 0) {
        cir_log_error(log, "%s encoding of %dx%d failed: %s", codec->name,
                      f->width, f->height, av_err2str(ret));
        ret = cir_img_averr(ret);
        goto fail;
    }
    if (pkt->size <= 0) {
        cir_log_error(log, "%s produced an empty image", codec->name);
        ret = CIR_EINTERNAL;
        goto fail;
    }
    *data = malloc((size_t)pkt->size);
    if (*data == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    memcpy(*data, pkt->data, (size_t)pkt->size);
    *len = (size_t)pkt->size;
    ret = 0;

fail:
    av_dict_free(&opts);
    av_packet_free(&pkt);
    av_frame_free(&in);
    avcodec_free_context(&c);
    return ret;
}

int
cir_img_encode_jpeg(const AVFrame *f, int quality, const cir_log_ctx_t *log,
                    uint8_t **data, size_t *len)
{
    return encode(f, AV_CODEC_ID_MJPEG, NULL, quality, log, data, len);
}

int
cir_img_encode_webp(const AVFrame *f, int quality, const cir_log_ctx_t *log,
                    uint8_t **data, size_t *len)
{
    return encode(f, AV_CODEC_ID_WEBP, "libwebp", quality, log, data, len);
}
