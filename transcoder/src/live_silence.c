/*
 * Silent AAC frames that fill the audio track where a live publisher sent
 * none (audio appearing late or vanishing), so that renditions stay aligned.
 *
 * Tested by tests/unit/test_transcoder_live_tracks.c.
 */
#include "live_silence.h"

#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>
#include <libavutil/mathematics.h>
#include <libavutil/samplefmt.h>
#include <stdlib.h>

#include "cir_error.h"

#define FRAME_SAMPLES 1024 /* AAC-LC */

struct cir_onair_silence {
    AVCodecContext *enc;
    AVFrame *frame; /* zeros */
    AVPacket *pkt;
    int sample_rate;
};

int
cir_onair_silence_open(cir_onair_silence_t **out, const AVCodecParameters *par)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    cir_onair_silence_t *s;
    int ret = CIR_ENOMEM;

    *out = NULL;
    if (par->codec_id != AV_CODEC_ID_AAC || par->sample_rate <= 0 ||
        par->ch_layout.nb_channels <= 0 ||
        (par->profile != FF_PROFILE_UNKNOWN &&
         par->profile != FF_PROFILE_AAC_LOW) ||
        /* the AudioSpecificConfig's object type: 2 is LC */
        (par->extradata_size >= 1 && (par->extradata[0] >> 3) != 2)) {
        return CIR_EUNSUPPORTED;
    }
    if (codec == NULL) {
        return CIR_EUNSUPPORTED;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return CIR_ENOMEM;
    }
    s->sample_rate = par->sample_rate;
    if ((s->enc = avcodec_alloc_context3(codec)) == NULL ||
        (s->frame = av_frame_alloc()) == NULL ||
        (s->pkt = av_packet_alloc()) == NULL) {
        goto fail;
    }
    s->enc->sample_rate = par->sample_rate;
    s->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    s->enc->time_base = (AVRational){1, par->sample_rate};
    s->enc->bit_rate = 32000 * par->ch_layout.nb_channels;
    s->enc->profile = FF_PROFILE_AAC_LOW;
    if (av_channel_layout_copy(&s->enc->ch_layout, &par->ch_layout) < 0 ||
        s->enc->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        av_channel_layout_uninit(&s->enc->ch_layout);
        av_channel_layout_default(&s->enc->ch_layout,
                                  par->ch_layout.nb_channels);
    }
    if (avcodec_open2(s->enc, codec, NULL) < 0) {
        ret = CIR_EUNSUPPORTED;
        goto fail;
    }
    s->frame->format = AV_SAMPLE_FMT_FLTP;
    s->frame->nb_samples = FRAME_SAMPLES;
    s->frame->sample_rate = par->sample_rate;
    if (av_channel_layout_copy(&s->frame->ch_layout, &s->enc->ch_layout) < 0 ||
        av_frame_get_buffer(s->frame, 0) < 0 ||
        av_samples_set_silence(s->frame->extended_data, 0, FRAME_SAMPLES,
                               s->enc->ch_layout.nb_channels,
                               AV_SAMPLE_FMT_FLTP) < 0) {
        goto fail;
    }
    *out = s;
    return 0;
fail:
    cir_onair_silence_close(&s);
    return ret;
}

int64_t
cir_onair_silence_frame_us(const cir_onair_silence_t *s)
{
    return av_rescale(FRAME_SAMPLES, 1000000, s->sample_rate);
}

/* The encoder's next frame (it holds one back): a packet of silence. */
static int
next_packet(cir_onair_silence_t *s)
{
    int ret;

    for (;;) {
        ret = avcodec_receive_packet(s->enc, s->pkt);
        if (ret == 0) {
            return 0;
        }
        if (ret != AVERROR(EAGAIN)) {
            return CIR_EINTERNAL;
        }
        /* the frame is the encoder's until it is written again */
        if (av_frame_make_writable(s->frame) < 0) {
            return CIR_ENOMEM;
        }
        av_samples_set_silence(s->frame->extended_data, 0, FRAME_SAMPLES,
                               s->enc->ch_layout.nb_channels,
                               AV_SAMPLE_FMT_FLTP);
        s->frame->pts = AV_NOPTS_VALUE;
        if (avcodec_send_frame(s->enc, s->frame) < 0) {
            return CIR_EINTERNAL;
        }
    }
}

int
cir_onair_silence_fill(cir_onair_silence_t *s, int64_t from, int64_t to,
                       AVRational tb, cir_onair_silence_cb cb, void *opaque,
                       int64_t *end)
{
    AVRational sr = {1, s->sample_rate};
    int64_t at = from;
    int n = 0, ret;

    /* sample-exact times: frame i starts i * 1024 samples after `from` */
    for (;;) {
        int64_t next =
            from + av_rescale_q((int64_t)(n + 1) * FRAME_SAMPLES, sr, tb);
        if (next > to) {
            break;
        }
        if ((ret = next_packet(s)) < 0) {
            return ret;
        }
        s->pkt->dts = s->pkt->pts = at;
        at = next;
        s->pkt->duration = at - s->pkt->dts;
        s->pkt->flags |= AV_PKT_FLAG_KEY;
        ret = cb(opaque, s->pkt);
        av_packet_unref(s->pkt);
        if (ret < 0) {
            return ret;
        }
        n++;
    }
    *end = at;
    return n;
}

void
cir_onair_silence_close(cir_onair_silence_t **sp)
{
    cir_onair_silence_t *s = *sp;

    if (s == NULL) {
        return;
    }
    avcodec_free_context(&s->enc);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    free(s);
    *sp = NULL;
}
