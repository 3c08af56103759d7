/*
 * A VOD job's audio renditions, one per chosen source track (and a 5.1
 * one beside it when the preset asks): the decoded track through a
 * resampling graph (and the loudness gain) into the AAC, E-AC-3 or AC-3
 * encoder and its CMAF packager.
 *
 * Tested by tests/unit/test_transcoder_pipeline.c and end to end by
 * tests/integration/audio_surround.test.mjs (E-AC-3, AC-3, the gain).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#include "audio.h"
#include "avsetup.h"
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
    char id[32];
    cir_log_ctx_t log;
};

static int
open_encoder(cir_audio_t *a, const cir_preset_t *p, int surround)
{
    int ret;

    if (surround) {
        ret = cir_aenc_open_surround(
            p->surround_codec, p->surround_bitrate_kbps, &a->log, &a->enc);
        /* RFC 6381 / ETSI TS 102 366 Annex F: the sample entry's name */
        snprintf(a->codecs, sizeof(a->codecs), "%s",
                 strcmp(p->surround_codec, "ac3") == 0 ? "ac-3" : "ec-3");
        return ret;
    }
    ret = cir_aenc_open(p->audio_sample_rate, p->audio_channels,
                        p->audio_bitrate_kbps, &a->log, &a->enc);
    if (ret < 0) {
        return ret;
    }
    cir_codecs_aac(a->enc->extradata, (size_t)a->enc->extradata_size, a->codecs,
                   sizeof(a->codecs));
    return 0;
}

int
cir_audio_open(cir_audio_t **out, const cir_audio_config_t *cfg,
               const AVCodecContext *dec, AVRational tb, cir_store_t *store)
{
    const cir_preset_t *preset = cfg->preset;
    const char *id = cfg->id, *language = cfg->language;
    cir_audio_t *a;
    int ret;

    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return CIR_ENOMEM;
    }
    snprintf(a->id, sizeof(a->id), "%s", id);
    a->log = (cir_log_ctx_t){
        .component = "audio", .job = cfg->job_id, .rendition = a->id};
    a->frame = av_frame_alloc();
    a->pkt = av_packet_alloc();
    if (a->frame == NULL || a->pkt == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = open_encoder(a, preset, cfg->surround)) < 0) {
        goto fail;
    }
    /* first_pts=0 pads a late-starting track with silence so it lines up
     * with the video */
    ret = cir_audio_graph_open_with(dec, tb, a->enc, 1, cfg->gain_filter,
                                    &a->graph, &a->src, &a->sink);
    if (ret < 0) {
        cir_log_error(&a->log, "audio filter graph: %s", av_err2str(ret));
        ret = CIR_EMEDIA;
        goto fail;
    }
    ret = cir_cmaf_open(&a->pkg, a->id, store, a->enc, preset->segment_seconds,
                        language);
    if (ret < 0) {
        goto fail;
    }
    *out = a;
    return 0;

fail:
    cir_audio_free(&a);
    return ret;
}

int
cir_audio_encrypt(cir_audio_t *a, const cir_encryption_t *enc)
{
    return cir_cmaf_encrypt(a->pkg, enc);
}

static int
encode(cir_audio_t *a, AVFrame *f)
{
    int ret = avcodec_send_frame(a->enc, f);

    if (ret < 0 && ret != AVERROR_EOF) {
        cir_log_error(&a->log, "%s encoder: %s", a->enc->codec->name,
                      av_err2str(ret));
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
