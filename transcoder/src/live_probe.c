/*
 * The picture size from the SPS: see live_probe.h.
 */
#include "live_probe.h"

#include "cir_error.h"

static int
probe_parser(const AVCodecParameters *par, const AVPacket *key, int *w, int *h)
{
    AVCodecParserContext *pc = av_parser_init(par->codec_id);
    AVCodecContext *ctx = avcodec_alloc_context3(NULL);
    uint8_t *out = NULL;
    int out_size = 0, ret = CIR_EMEDIA;

    if (pc == NULL || ctx == NULL) {
        ret = pc == NULL ? CIR_EUNSUPPORTED : CIR_ENOMEM;
        goto fail;
    }
    if (avcodec_parameters_to_context(ctx, par) < 0) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    /* one whole access unit: no frame splitting, the SPS from the
     * extradata (read on the first call), the size from the first slice */
    pc->flags |= PARSER_FLAG_COMPLETE_FRAMES;
    av_parser_parse2(pc, ctx, &out, &out_size, key->data, key->size, key->pts,
                     key->dts, 0);
    if (pc->width > 0 && pc->height > 0) {
        *w = pc->width;
        *h = pc->height;
        ret = 0;
    }
fail:
    av_parser_close(pc);
    avcodec_free_context(&ctx);
    return ret;
}

static int
probe_decoder(const AVCodecParameters *par, const AVPacket *key, int *w, int *h)
{
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    AVCodecContext *ctx = NULL;
    AVFrame *f = av_frame_alloc();
    int ret = CIR_EMEDIA;

    if (codec == NULL || f == NULL ||
        (ctx = avcodec_alloc_context3(codec)) == NULL ||
        avcodec_parameters_to_context(ctx, par) < 0) {
        ret = codec == NULL ? CIR_EUNSUPPORTED : CIR_ENOMEM;
        goto fail;
    }
    ctx->thread_count = 1;
    if (avcodec_open2(ctx, codec, NULL) < 0) {
        goto fail;
    }
    if (avcodec_send_packet(ctx, key) >= 0) {
        avcodec_send_packet(ctx, NULL);
        if (avcodec_receive_frame(ctx, f) >= 0 && f->width > 0 &&
            f->height > 0) {
            *w = f->width;
            *h = f->height;
            ret = 0;
        }
    }
    if (ret < 0 && ctx->width > 0 && ctx->height > 0) {
        *w = ctx->width;
        *h = ctx->height;
        ret = 0;
    }
fail:
    avcodec_free_context(&ctx);
    av_frame_free(&f);
    return ret;
}

int
cir_onair_probe_size(const AVCodecParameters *par, const AVPacket *key,
                     int *width, int *height)
{
    if (key == NULL || key->data == NULL || key->size <= 0) {
        return CIR_EINVAL;
    }
    if (probe_parser(par, key, width, height) == 0) {
        return 0;
    }
    return probe_decoder(par, key, width, height);
}
