/*
 * Live audio that cannot pass through (not AAC, or AAC with other channels
 * than the preset's) decoded and resampled into AAC for the live packagers.
 *
 * Tested by tests/unit/test_transcoder_live_tracks.c.
 */
#include <stdlib.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>

#include "avsetup.h"
#include "cir_error.h"
#include "cir_log.h"
#include "live_audio.h"

struct cir_onair_aac {
    AVCodecContext *dec, *enc;
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    AVCodecParameters *par;
    AVFrame *frame, *out;
    AVPacket *pkt;
    AVRational in_tb;
    int flushed;
};

static const cir_log_ctx_t log_ctx = {.component = "live-audio"};

static int
aac_rate(int rate)
{
    static const int ok[] = {96000, 88200, 64000, 48000, 44100, 32000,
                             24000, 22050, 16000, 12000, 11025, 8000};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (ok[i] == rate) {
            return rate;
        }
    }
    return 48000;
}

int
cir_onair_aac_open(cir_onair_aac_t **out, const AVCodecParameters *par,
                   AVRational tb, int bitrate_kbps, int want_channels)
{
    const AVCodec *dc = avcodec_find_decoder(par->codec_id);
    cir_onair_aac_t *a;
    int ret, channels;

    if (dc == NULL) {
        cir_log_error(&log_ctx, "no decoder for %s",
                      avcodec_get_name(par->codec_id));
        return CIR_EUNSUPPORTED;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return CIR_ENOMEM;
    }
    a->in_tb = tb;
    a->dec = avcodec_alloc_context3(dc);
    a->par = avcodec_parameters_alloc();
    a->frame = av_frame_alloc();
    a->out = av_frame_alloc();
    a->pkt = av_packet_alloc();
    if (!a->dec || !a->par || !a->frame || !a->out || !a->pkt) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if (avcodec_parameters_to_context(a->dec, par) < 0) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    a->dec->pkt_timebase = tb;
    if ((ret = avcodec_open2(a->dec, dc, NULL)) < 0) {
        cir_log_error(&log_ctx, "cannot open the %s decoder: %s", dc->name,
                      av_err2str(ret));
        ret = CIR_EMEDIA;
        goto fail;
    }
    if (want_channels == 1 || want_channels == 2) {
        channels = want_channels;
    } else {
        channels = a->dec->ch_layout.nb_channels == 1 ? 1 : 2;
    }
    ret =
        cir_aenc_open(aac_rate(a->dec->sample_rate), channels,
                      bitrate_kbps > 0 ? bitrate_kbps : 128, &log_ctx, &a->enc);
    if (ret < 0) {
        goto fail;
    }
    if (avcodec_parameters_from_context(a->par, a->enc) < 0) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    ret = cir_audio_graph_open(a->dec, a->in_tb, a->enc, 0, &a->graph, &a->src,
                               &a->sink);
    if (ret < 0) {
        cir_log_error(&log_ctx, "audio filter graph: %s", av_err2str(ret));
        ret = CIR_EMEDIA;
        goto fail;
    }
    cir_log_info(&log_ctx, "audio %s %d Hz %d ch transcoded to AAC %d Hz %d ch",
                 dc->name, a->dec->sample_rate, a->dec->ch_layout.nb_channels,
                 a->enc->sample_rate, channels);
    *out = a;
    return 0;

fail:
    cir_onair_aac_free(&a);
    return ret;
}

const AVCodecParameters *
cir_onair_aac_par(const cir_onair_aac_t *a)
{
    return a->par;
}

AVRational
cir_onair_aac_time_base(const cir_onair_aac_t *a)
{
    return a->enc->time_base;
}

static int
encode(cir_onair_aac_t *a, AVFrame *f, int (*out)(void *, AVPacket *),
       void *opaque)
{
    int ret = avcodec_send_frame(a->enc, f);

    if (ret < 0 && ret != AVERROR_EOF) {
        return CIR_EINTERNAL;
    }
    for (;;) {
        ret = avcodec_receive_packet(a->enc, a->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            return CIR_EINTERNAL;
        }
        ret = out(opaque, a->pkt);
        av_packet_unref(a->pkt);
        if (ret < 0) {
            return ret;
        }
    }
}

static int
drain_graph(cir_onair_aac_t *a, int (*out)(void *, AVPacket *), void *opaque)
{
    int ret;

    for (;;) {
        ret = av_buffersink_get_frame(a->sink, a->out);
        if (ret == AVERROR(EAGAIN)) {
            return 0;
        }
        if (ret == AVERROR_EOF) {
            return encode(a, NULL, out, opaque);
        }
        if (ret < 0) {
            return CIR_EINTERNAL;
        }
        ret = encode(a, a->out, out, opaque);
        av_frame_unref(a->out);
        if (ret < 0) {
            return ret;
        }
    }
}

int
cir_onair_aac_push(cir_onair_aac_t *a, const AVPacket *pkt,
                   int (*out)(void *opaque, AVPacket *pkt), void *opaque)
{
    int ret;

    if (a->flushed) {
        return 0;
    }
    ret = avcodec_send_packet(a->dec, pkt);
    if (ret < 0 && ret != AVERROR_EOF) {
        cir_log_debug(&log_ctx, "audio decoding: %s", av_err2str(ret));
        return 0; /* a broken packet: skip it */
    }
    for (;;) {
        ret = avcodec_receive_frame(a->dec, a->frame);
        if (ret == AVERROR(EAGAIN)) {
            break;
        }
        if (ret == AVERROR_EOF) {
            a->flushed = 1;
            if (av_buffersrc_add_frame(a->src, NULL) < 0) {
                return CIR_EINTERNAL;
            }
            break;
        }
        if (ret < 0) {
            continue;
        }
        a->frame->pts = a->frame->best_effort_timestamp;
        ret = av_buffersrc_add_frame(a->src, a->frame);
        av_frame_unref(a->frame);
        if (ret < 0) {
            cir_log_error(&log_ctx, "audio filter: %s", av_err2str(ret));
            return CIR_EMEDIA;
        }
    }
    return drain_graph(a, out, opaque);
}

void
cir_onair_aac_free(cir_onair_aac_t **ap)
{
    cir_onair_aac_t *a = *ap;

    if (a == NULL) {
        return;
    }
    avfilter_graph_free(&a->graph);
    avcodec_free_context(&a->dec);
    avcodec_free_context(&a->enc);
    avcodec_parameters_free(&a->par);
    av_frame_free(&a->frame);
    av_frame_free(&a->out);
    av_packet_free(&a->pkt);
    free(a);
    *ap = NULL;
}
