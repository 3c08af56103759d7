#include <stdlib.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#include "audio.h"
#include "cir_error.h"
#include "cir_log.h"
#include "codecs.h"

struct cir_audio {
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    AVCodecContext *enc;
    cir_cmaf_t *pkg;
    AVFrame *frame;
    AVPacket *pkt;
    char codecs[32];
    cir_log_ctx_t log;
};

static int
build_graph(cir_audio_t *a, const cir_preset_t *p, const AVCodecContext *dec,
            AVRational tb)
{
    char args[512], layout[128], spec[256];
    AVFilterInOut *in = NULL, *out = NULL;
    int ret;

    a->graph = avfilter_graph_alloc();
    if (a->graph == NULL) {
        return CIR_ENOMEM;
    }
    a->graph->nb_threads = 1;
    if (dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        AVChannelLayout def;
        av_channel_layout_default(&def, dec->ch_layout.nb_channels);
        av_channel_layout_describe(&def, layout, sizeof(layout));
    } else {
        av_channel_layout_describe(&dec->ch_layout, layout, sizeof(layout));
    }
    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             tb.num, tb.den, dec->sample_rate,
             av_get_sample_fmt_name(dec->sample_fmt), layout);
    ret = avfilter_graph_create_filter(&a->src, avfilter_get_by_name("abuffer"),
                                       "in", args, NULL, a->graph);
    if (ret < 0) {
        goto fail;
    }
    ret = avfilter_graph_create_filter(&a->sink,
                                       avfilter_get_by_name("abuffersink"),
                                       "out", NULL, NULL, a->graph);
    if (ret < 0) {
        goto fail;
    }
    /* async: stretch/squeeze and pad by timestamps; first_pts=0 pads a
     * late-starting track with silence so it lines up with the video */
    snprintf(spec, sizeof(spec),
             "aresample=async=1000:first_pts=0,"
             "aformat=sample_fmts=fltp:sample_rates=%d:channel_layouts=%s",
             p->audio_sample_rate, p->audio_channels == 1 ? "mono" : "stereo");
    out = avfilter_inout_alloc();
    in = avfilter_inout_alloc();
    if (out == NULL || in == NULL) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    out->name = av_strdup("in");
    out->filter_ctx = a->src;
    in->name = av_strdup("out");
    in->filter_ctx = a->sink;
    if ((ret = avfilter_graph_parse_ptr(a->graph, spec, &in, &out, NULL)) < 0) {
        goto fail;
    }
    if ((ret = avfilter_graph_config(a->graph, NULL)) < 0) {
        goto fail;
    }
    av_buffersink_set_frame_size(a->sink, (unsigned)a->enc->frame_size);
    ret = 0;

fail:
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    if (ret < 0) {
        cir_log_error(&a->log, "audio filter graph: %s", av_err2str(ret));
        return CIR_EMEDIA;
    }
    return 0;
}

static int
open_encoder(cir_audio_t *a, const cir_preset_t *p)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    AVCodecContext *enc;
    int ret;

    if (codec == NULL) {
        return CIR_EUNSUPPORTED;
    }
    enc = a->enc = avcodec_alloc_context3(codec);
    if (enc == NULL) {
        return CIR_ENOMEM;
    }
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = p->audio_sample_rate;
    av_channel_layout_default(&enc->ch_layout, p->audio_channels);
    enc->bit_rate = (int64_t)p->audio_bitrate_kbps * 1000;
    enc->time_base = (AVRational){1, p->audio_sample_rate};
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0) {
        cir_log_error(&a->log, "cannot open the AAC encoder: %s",
                      av_err2str(ret));
        return CIR_EINVAL;
    }
    cir_codecs_aac(enc->extradata, (size_t)enc->extradata_size, a->codecs,
                   sizeof(a->codecs));
    return 0;
}

int
cir_audio_open(cir_audio_t **out, const cir_preset_t *preset,
               const AVCodecContext *dec, AVRational tb, cir_store_t *store,
               const char *job_id)
{
    cir_audio_t *a;
    int ret;

    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return CIR_ENOMEM;
    }
    a->log = (cir_log_ctx_t){
        .component = "audio", .job = job_id, .rendition = "audio"};
    a->frame = av_frame_alloc();
    a->pkt = av_packet_alloc();
    if (a->frame == NULL || a->pkt == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = open_encoder(a, preset)) < 0) {
        goto fail;
    }
    if ((ret = build_graph(a, preset, dec, tb)) < 0) {
        goto fail;
    }
    ret =
        cir_cmaf_open(&a->pkg, "audio", store, a->enc, preset->segment_seconds);
    if (ret < 0) {
        goto fail;
    }
    *out = a;
    return 0;

fail:
    cir_audio_free(&a);
    return ret;
}

static int
encode(cir_audio_t *a, AVFrame *f)
{
    int ret = avcodec_send_frame(a->enc, f);

    if (ret < 0 && ret != AVERROR_EOF) {
        cir_log_error(&a->log, "AAC encoder: %s", av_err2str(ret));
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
        ret = cir_cmaf_write(a->pkg, a->pkt);
        av_packet_unref(a->pkt);
        if (ret < 0) {
            return ret;
        }
    }
}

int
cir_audio_push(cir_audio_t *a, AVFrame *frame)
{
    int ret;

    ret =
        av_buffersrc_add_frame_flags(a->src, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0) {
        cir_log_error(&a->log, "audio filter: %s", av_err2str(ret));
        return CIR_EMEDIA;
    }
    for (;;) {
        ret = av_buffersink_get_frame(a->sink, a->frame);
        if (ret == AVERROR(EAGAIN)) {
            return 0;
        }
        if (ret == AVERROR_EOF) {
            if ((ret = encode(a, NULL)) < 0) {
                return ret;
            }
            return cir_cmaf_finish(a->pkg);
        }
        if (ret < 0) {
            return CIR_EINTERNAL;
        }
        /* the sink's time base is 1/sample_rate, as the encoder's */
        ret = encode(a, a->frame);
        av_frame_unref(a->frame);
        if (ret < 0) {
            return ret;
        }
    }
}

const char *
cir_audio_codecs(const cir_audio_t *a)
{
    return a->codecs;
}

int
cir_audio_sample_rate(const cir_audio_t *a)
{
    return a->enc->sample_rate;
}

int
cir_audio_channels(const cir_audio_t *a)
{
    return a->enc->ch_layout.nb_channels;
}

const cir_cmaf_t *
cir_audio_packager(const cir_audio_t *a)
{
    return a->pkg;
}

void
cir_audio_free(cir_audio_t **ap)
{
    cir_audio_t *a = *ap;

    if (a == NULL) {
        return;
    }
    avfilter_graph_free(&a->graph);
    avcodec_free_context(&a->enc);
    cir_cmaf_free(&a->pkg);
    av_frame_free(&a->frame);
    av_packet_free(&a->pkt);
    free(a);
    *ap = NULL;
}
