/*
 * Encoder and filter-graph set-up shared by VOD and live: x264/x265 with
 * the preset's rate control and options, AAC, the audio resampling graph.
 *
 * Tested by tests/unit/test_transcoder_pipeline.c.
 */
#include <stdio.h>

#include <libavfilter/buffersink.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>

#include "avsetup.h"
#include "cir_error.h"

static void
set_rate_control(AVCodecContext *enc, const cir_venc_config_t *c)
{
    const cir_rung_t *rung = c->rung;
    int64_t maxrate, bufsize;

    maxrate =
        rung->maxrate_kbps ? rung->maxrate_kbps : rung->bitrate_kbps * 11 / 10;
    bufsize = rung->bufsize_kbps ? rung->bufsize_kbps
                                 : maxrate * (c->low_latency ? 1 : 2);
    if (c->crf > 0) {
        /* one second of buffer, half full at the start (vbv-init, below):
         * what the buffer lets through beyond maxrate stays small even on
         * a short title */
        maxrate = rung->bitrate_kbps;
        bufsize = rung->bufsize_kbps ? rung->bufsize_kbps : maxrate;
    }
    enc->bit_rate = c->crf > 0 ? 0 : (int64_t)rung->bitrate_kbps * 1000;
    enc->rc_max_rate = maxrate * 1000;
    enc->rc_buffer_size = (int)(bufsize * 1000);
}

static void
set_codec_options(AVDictionary **opts, const cir_venc_config_t *c)
{
    const cir_rung_t *rung = c->rung;
    char params[256];

    av_dict_set(opts, "preset", c->preset, 0);
    if (c->crf > 0) {
        snprintf(params, sizeof(params), "%.1f", c->crf);
        av_dict_set(opts, "crf", params, 0);
    }
    if (c->low_latency) {
        av_dict_set(opts, "tune", "zerolatency", 0);
    }
    if (rung->profile[0]) {
        av_dict_set(opts, "profile", rung->profile, 0);
    }
    /* keyframes at the same frames in every rung: no scene cuts, closed
     * GOPs, IDR when forced */
    av_dict_set(opts, "forced-idr", "1", 0);
    if (c->hevc) {
        snprintf(params, sizeof(params),
                 "keyint=%d:min-keyint=%d:scenecut=0:open-gop=0:"
                 "log-level=error%s%s",
                 c->gop_frames, c->gop_frames,
                 rung->level[0] ? ":level-idc=" : "", rung->level);
        av_dict_set(opts, "x265-params", params, 0);
        return;
    }
    /* a frame's A/53 closed captions become SEI (the default, said) */
    av_dict_set(opts, "a53cc", "1", 0);
    av_dict_set(opts, "x264-params",
                c->low_latency ? "keyint=infinite:scenecut=0:open-gop=0:"
                                 "bframes=0:rc-lookahead=0"
                : c->crf > 0   ? "scenecut=0:open-gop=0:vbv-init=0.5"
                               : "scenecut=0:open-gop=0",
                0);
    if (rung->level[0]) {
        av_dict_set(opts, "level", rung->level, 0);
    }
}

int
cir_venc_open(const cir_venc_config_t *c, const cir_log_ctx_t *log,
              AVCodecContext **out)
{
    const char *name = c->hevc ? "libx265" : "libx264";
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    AVDictionary *opts = NULL;
    AVCodecContext *enc;
    int ret;

    *out = NULL;
    if (codec == NULL) {
        cir_log_error(log, "encoder %s is not available", name);
        return CIR_EUNSUPPORTED;
    }
    enc = *out = avcodec_alloc_context3(codec);
    if (enc == NULL) {
        return CIR_ENOMEM;
    }
    enc->width = c->width;
    enc->height = c->height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->sample_aspect_ratio = (AVRational){1, 1};
    enc->time_base = c->time_base;
    enc->framerate = c->frame_rate;
    enc->gop_size = c->gop_frames;
    if (c->gop_frames > 0) {
        enc->keyint_min = c->gop_frames;
    }
    if (c->low_latency) {
        enc->max_b_frames = 0;
    }
    set_rate_control(enc, c);
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER | AV_CODEC_FLAG_CLOSED_GOP;
    /* live: one thread per rung (frame threads add latency) */
    enc->thread_count = c->low_latency ? 1 : 0;
    enc->color_range = AVCOL_RANGE_MPEG;

    set_codec_options(&opts, c);
    ret = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        cir_log_error(log, "cannot open %s: %s", name, av_err2str(ret));
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_graph_link(AVFilterGraph *graph, AVFilterContext *src,
               AVFilterContext *sink, const char *spec)
{
    AVFilterInOut *out = avfilter_inout_alloc(), *in = avfilter_inout_alloc();
    int ret;

    if (out == NULL || in == NULL) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    out->name = av_strdup("in");
    out->filter_ctx = src;
    in->name = av_strdup("out");
    in->filter_ctx = sink;
    if (out->name == NULL || in->name == NULL) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    if ((ret = avfilter_graph_parse_ptr(graph, spec, &in, &out, NULL)) >= 0) {
        ret = avfilter_graph_config(graph, NULL);
    }

done:
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    return ret;
}

/* An audio encoder on FLTP samples (what aac, ac3 and eac3 take). */
static int
aenc_open(const AVCodec *codec, const char *what, int sample_rate, int channels,
          int bitrate_kbps, const cir_log_ctx_t *log, AVCodecContext **out)
{
    AVCodecContext *enc;
    int ret;

    *out = NULL;
    if (codec == NULL) {
        cir_log_error(log, "no %s encoder", what);
        return CIR_EUNSUPPORTED;
    }
    enc = *out = avcodec_alloc_context3(codec);
    if (enc == NULL) {
        return CIR_ENOMEM;
    }
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = sample_rate;
    av_channel_layout_default(&enc->ch_layout, channels);
    enc->bit_rate = (int64_t)bitrate_kbps * 1000;
    enc->time_base = (AVRational){1, sample_rate};
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0) {
        cir_log_error(log, "cannot open the %s encoder: %s", what,
                      av_err2str(ret));
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_aenc_open(int sample_rate, int channels, int bitrate_kbps,
              const cir_log_ctx_t *log, AVCodecContext **out)
{
    return aenc_open(avcodec_find_encoder(AV_CODEC_ID_AAC), "AAC", sample_rate,
                     channels, bitrate_kbps, log, out);
}

int
cir_aenc_open_surround(const char *encoder, int bitrate_kbps,
                       const cir_log_ctx_t *log, AVCodecContext **out)
{
    /* 48 kHz: the rate of (E-)AC-3 for video; 5.1 = FL FR FC LFE BL BR */
    return aenc_open(avcodec_find_encoder_by_name(encoder), encoder, 48000, 6,
                     bitrate_kbps, log, out);
}

int
cir_audio_graph_open(const AVCodecContext *dec, AVRational tb,
                     const AVCodecContext *enc, int pad_start,
                     AVFilterGraph **graph, AVFilterContext **src,
                     AVFilterContext **sink)
{
    return cir_audio_graph_open_with(dec, tb, enc, pad_start, NULL, graph, src,
                                     sink);
}

int
cir_audio_graph_open_with(const AVCodecContext *dec, AVRational tb,
                          const AVCodecContext *enc, int pad_start,
                          const char *extra, AVFilterGraph **graph,
                          AVFilterContext **src, AVFilterContext **sink)
{
    char args[512], layout[128], out_layout[64], format[160], spec[1024];
    AVChannelLayout def;
    AVFilterGraph *g;
    int ret;

    g = *graph = avfilter_graph_alloc();
    if (g == NULL) {
        return AVERROR(ENOMEM);
    }
    g->nb_threads = 1;
    av_channel_layout_default(&def, dec->ch_layout.nb_channels);
    av_channel_layout_describe(dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC
                                   ? &def
                                   : &dec->ch_layout,
                               layout, sizeof(layout));
    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             tb.num, tb.den, dec->sample_rate,
             av_get_sample_fmt_name(dec->sample_fmt), layout);
    ret = avfilter_graph_create_filter(src, avfilter_get_by_name("abuffer"),
                                       "in", args, NULL, g);
    if (ret < 0) {
        return ret;
    }
    ret = avfilter_graph_create_filter(
        sink, avfilter_get_by_name("abuffersink"), "out", NULL, NULL, g);
    if (ret < 0) {
        return ret;
    }
    av_channel_layout_describe(&enc->ch_layout, out_layout, sizeof(out_layout));
    snprintf(format, sizeof(format),
             "aformat=sample_fmts=fltp:sample_rates=%d:channel_layouts=%s",
             enc->sample_rate, out_layout);
    /* extra (a loudness gain) works on the encoder's layout; a filter that
     * changes the rate (loudnorm) is brought back by a second aresample */
    if (extra != NULL && extra[0] != '\0') {
        ret = snprintf(spec, sizeof(spec),
                       "aresample=async=1000%s,%s,%s,"
                       "aresample=%d,%s",
                       pad_start ? ":first_pts=0" : "", format, extra,
                       enc->sample_rate, format);
    } else {
        ret = snprintf(spec, sizeof(spec), "aresample=async=1000%s,%s",
                       pad_start ? ":first_pts=0" : "", format);
    }
    if (ret < 0 || (size_t)ret >= sizeof(spec)) {
        return AVERROR(EINVAL);
    }
    if ((ret = cir_graph_link(g, *src, *sink, spec)) < 0) {
        return ret;
    }
    av_buffersink_set_frame_size(*sink, (unsigned)enc->frame_size);
    return 0;
}
