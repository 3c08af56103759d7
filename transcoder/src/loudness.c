/*
 * Loudness measurement and the normalising filter (loudness.h).
 *
 * Tested by tests/unit/test_transcoder_loudness.c and end to end by
 * tests/integration/audio_surround.test.mjs.
 */
#include "loudness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>

#include "avsetup.h"
#include "cir_error.h"

/* BS.1770's absolute gate: a track that measures this or less is silence */
#define SILENCE_LUFS -70.0
/* loudnorm's dynamic mode: a wide range target, so it mostly rides the
 * gain and limits peaks rather than compressing the range */
#define DYNAMIC_LRA 20.0
/* failed frames in a row before a decoder is given up on */
#define MAX_DECODE_ERRORS 100

typedef struct {
    cir_loudness_probe_t *probe;
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    double peak_linear; /* the highest true peak seen, linear */
    int has_i;
} meter_t;

typedef struct {
    int stream;
    AVCodecContext *dec;
    int past_end; /* a packet at or after end_us came */
} source_t;

const char *
cir_loudness_mode_name(cir_loudness_mode_t mode)
{
    switch (mode) {
    case CIR_LOUDNESS_LINEAR:
        return "linear";
    case CIR_LOUDNESS_DYNAMIC:
        return "dynamic";
    default:
        return "none";
    }
}

int
cir_loudness_filter(const cir_loudness_stats_t *m, double target_lufs,
                    double target_tp, char *out, size_t size)
{
    double gain;
    int n;

    if (size == 0) {
        return CIR_ELIMIT;
    }
    out[0] = '\0';
    if (!m->measured || !isfinite(m->integrated) ||
        m->integrated <= SILENCE_LUFS) {
        return CIR_LOUDNESS_NONE;
    }
    gain = target_lufs - m->integrated;
    if (isfinite(m->true_peak) && m->true_peak + gain <= target_tp) {
        /* the gain alone keeps the true peak under the ceiling */
        n = snprintf(out, size, "volume=%.2fdB", gain);
        return n < 0 || (size_t)n >= size ? CIR_ELIMIT : CIR_LOUDNESS_LINEAR;
    }
    n = snprintf(out, size, "loudnorm=I=%.1f:TP=%.1f:LRA=%.0f:linear=false",
                 target_lufs, target_tp, DYNAMIC_LRA);
    return n < 0 || (size_t)n >= size ? CIR_ELIMIT : CIR_LOUDNESS_DYNAMIC;
}

/* ---- measurement ---- */

static int
open_decoder(const AVStream *st, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *dec;

    if (codec == NULL) {
        return CIR_EMEDIA;
    }
    dec = *out = avcodec_alloc_context3(codec);
    if (dec == NULL || avcodec_parameters_to_context(dec, st->codecpar) < 0) {
        return CIR_ENOMEM;
    }
    dec->pkt_timebase = st->time_base;
    return avcodec_open2(dec, codec, NULL) < 0 ? CIR_EMEDIA : 0;
}

/* abuffer -> the rendition's layout -> ebur128 (true peak, metadata on
 * every frame) -> abuffersink. */
static int
open_meter(meter_t *m, const AVCodecContext *dec, AVRational tb)
{
    char args[512], layout[128], out_layout[64], spec[256];
    AVChannelLayout in, want;
    int ret;

    m->graph = avfilter_graph_alloc();
    if (m->graph == NULL) {
        return AVERROR(ENOMEM);
    }
    m->graph->nb_threads = 1;
    av_channel_layout_default(&in, dec->ch_layout.nb_channels);
    av_channel_layout_describe(
        dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC ? &in : &dec->ch_layout,
        layout, sizeof(layout));
    av_channel_layout_default(&want, m->probe->channels);
    av_channel_layout_describe(&want, out_layout, sizeof(out_layout));
    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             tb.num, tb.den, dec->sample_rate,
             av_get_sample_fmt_name(dec->sample_fmt), layout);
    ret = avfilter_graph_create_filter(&m->src, avfilter_get_by_name("abuffer"),
                                       "in", args, NULL, m->graph);
    if (ret < 0) {
        return ret;
    }
    ret = avfilter_graph_create_filter(&m->sink,
                                       avfilter_get_by_name("abuffersink"),
                                       "out", NULL, NULL, m->graph);
    if (ret < 0) {
        return ret;
    }
    snprintf(spec, sizeof(spec),
             "aresample,aformat=sample_fmts=fltp:channel_layouts=%s,"
             "ebur128=peak=true:metadata=1",
             out_layout);
    return cir_graph_link(m->graph, m->src, m->sink, spec);
}

static double
meta_number(const AVFrame *f, const char *key, int *found)
{
    const AVDictionaryEntry *e = av_dict_get(f->metadata, key, NULL, 0);
    char *end;
    double v;

    *found = 0;
    if (e == NULL) {
        return 0;
    }
    v = strtod(e->value, &end);
    *found = end != e->value && isfinite(v);
    return v;
}

/* Every frame ebur128 let through: the running integrated loudness and
 * range (the last frame's are the track's), the highest true peak. */
static int
drain_meter(meter_t *m, AVFrame *f)
{
    int ret, found;
    double v;

    for (;;) {
        ret = av_buffersink_get_frame(m->sink, f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            return CIR_EMEDIA;
        }
        v = meta_number(f, "lavfi.r128.I", &found);
        if (found) {
            m->probe->stats.integrated = v;
            m->has_i = 1;
        }
        v = meta_number(f, "lavfi.r128.LRA", &found);
        if (found) {
            m->probe->stats.lra = v;
        }
        v = meta_number(f, "lavfi.r128.true_peak", &found);
        if (found && v > m->peak_linear) {
            m->peak_linear = v;
        }
        av_frame_unref(f);
    }
}

static int
feed_meters(meter_t *meters, size_t n, int stream, AVFrame *frame, AVFrame *tmp)
{
    int ret;

    for (size_t i = 0; i < n; i++) {
        if (meters[i].probe->stream != stream) {
            continue;
        }
        if (frame != NULL) {
            ret = av_buffersrc_add_frame_flags(meters[i].src, frame,
                                               AV_BUFFERSRC_FLAG_KEEP_REF);
        } else {
            ret = av_buffersrc_close(meters[i].src, AV_NOPTS_VALUE,
                                     AV_BUFFERSRC_FLAG_PUSH);
        }
        if (ret < 0) {
            return CIR_EMEDIA;
        }
        if ((ret = drain_meter(&meters[i], tmp)) < 0) {
            return ret;
        }
    }
    return 0;
}

/* pkt NULL flushes the decoder. */
static int
decode(source_t *s, meter_t *meters, size_t n, const AVPacket *pkt,
       AVFrame *frame, AVFrame *tmp)
{
    int ret = avcodec_send_packet(s->dec, pkt), errors = 0;

    if (ret < 0 && ret != AVERROR_EOF) {
        return 0; /* a bad packet: the encode pass says so */
    }
    for (;;) {
        ret = avcodec_receive_frame(s->dec, frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            /* a frame that does not decode is skipped, a decoder that
             * keeps failing is not waited on */
            if (++errors > MAX_DECODE_ERRORS) {
                return CIR_EMEDIA;
            }
            continue;
        }
        frame->pts = frame->best_effort_timestamp;
        ret = feed_meters(meters, n, s->stream, frame, tmp);
        av_frame_unref(frame);
        if (ret < 0) {
            return ret;
        }
    }
}

static source_t *
source_of(source_t *sources, size_t nb, int stream)
{
    for (size_t i = 0; i < nb; i++) {
        if (sources[i].stream == stream) {
            return &sources[i];
        }
    }
    return NULL;
}

/* Is pkt of s outside [from_us, end_us)?  One at or after end_us marks s
 * past the end. */
static int
outside(const AVFormatContext *ic, source_t *s, const AVPacket *pkt,
        int64_t from_us, int64_t end_us)
{
    AVRational tb = ic->streams[s->stream]->time_base;

    if (pkt->pts == AV_NOPTS_VALUE) {
        return s->past_end;
    }
    if (end_us != INT64_MAX &&
        av_compare_ts(pkt->pts, tb, end_us, AV_TIME_BASE_Q) >= 0) {
        s->past_end = 1;
    }
    return s->past_end ||
           (from_us != INT64_MIN &&
            av_compare_ts(pkt->pts, tb, from_us, AV_TIME_BASE_Q) < 0);
}

static int
all_past_end(const source_t *sources, size_t nb_sources)
{
    for (size_t i = 0; i < nb_sources; i++) {
        if (!sources[i].past_end) {
            return 0;
        }
    }
    return nb_sources > 0;
}

static int
read_all(AVFormatContext *ic, source_t *sources, size_t nb_sources,
         meter_t *meters, size_t n, int64_t from_us, int64_t end_us,
         atomic_int *cancel)
{
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc(), *tmp = av_frame_alloc();
    int ret = pkt && frame && tmp ? 0 : CIR_ENOMEM;

    while (ret == 0) {
        source_t *s;
        if (cancel != NULL && atomic_load(cancel)) {
            ret = CIR_ECANCELED;
            break;
        }
        if ((ret = av_read_frame(ic, pkt)) < 0) {
            ret = ret == AVERROR_EOF ? 0 : CIR_EMEDIA;
            break;
        }
        s = source_of(sources, nb_sources, pkt->stream_index);
        ret = s && !outside(ic, s, pkt, from_us, end_us)
                  ? decode(s, meters, n, pkt, frame, tmp)
                  : 0;
        av_packet_unref(pkt);
        if (ret == 0 && all_past_end(sources, nb_sources)) {
            break;
        }
    }
    for (size_t i = 0; ret == 0 && i < nb_sources; i++) {
        if ((ret = decode(&sources[i], meters, n, NULL, frame, tmp)) == 0) {
            ret = feed_meters(meters, n, sources[i].stream, NULL, tmp);
        }
    }
    av_packet_free(&pkt);
    av_frame_free(&frame);
    av_frame_free(&tmp);
    return ret;
}

/* One decoder per distinct stream of the probes; the others discarded. */
static int
open_sources(AVFormatContext *ic, const cir_loudness_probe_t *probes, size_t n,
             source_t *sources, size_t *nb_sources)
{
    int ret;

    for (unsigned i = 0; i < ic->nb_streams; i++) {
        ic->streams[i]->discard = AVDISCARD_ALL;
    }
    *nb_sources = 0;
    for (size_t i = 0; i < n; i++) {
        int idx = probes[i].stream;
        if (idx < 0 || (unsigned)idx >= ic->nb_streams ||
            ic->streams[idx]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) {
            return CIR_EINVAL;
        }
        if (source_of(sources, *nb_sources, idx) != NULL) {
            continue;
        }
        ic->streams[idx]->discard = AVDISCARD_DEFAULT;
        sources[*nb_sources].stream = idx;
        if ((ret = open_decoder(ic->streams[idx],
                                &sources[(*nb_sources)++].dec)) < 0) {
            return ret;
        }
    }
    return 0;
}

static void
finish_stats(meter_t *meters, size_t n, const cir_log_ctx_t *log)
{
    for (size_t i = 0; i < n; i++) {
        cir_loudness_stats_t *st = &meters[i].probe->stats;
        st->measured = meters[i].has_i;
        st->true_peak = meters[i].peak_linear > 0
                            ? 20 * log10(meters[i].peak_linear)
                            : -INFINITY;
        cir_log_info(log,
                     "loudness of input stream #%d as %d channels: "
                     "%.1f LUFS, true peak %.1f dBTP, range %.1f LU",
                     meters[i].probe->stream, meters[i].probe->channels,
                     st->integrated, st->true_peak, st->lra);
    }
}

int
cir_loudness_measure(AVFormatContext *ic, cir_loudness_probe_t *probes,
                     size_t n, int64_t from_us, int64_t end_us,
                     atomic_int *cancel, const cir_log_ctx_t *log)
{
    source_t *sources = calloc(n ? n : 1, sizeof(*sources));
    meter_t *meters = calloc(n ? n : 1, sizeof(*meters));
    size_t nb_sources = 0;
    int ret;

    if (sources == NULL || meters == NULL) {
        ret = CIR_ENOMEM;
        goto done;
    }
    if ((ret = open_sources(ic, probes, n, sources, &nb_sources)) < 0) {
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const source_t *s = source_of(sources, nb_sources, probes[i].stream);
        memset(&probes[i].stats, 0, sizeof(probes[i].stats));
        meters[i].probe = &probes[i];
        if (open_meter(&meters[i], s->dec, ic->streams[s->stream]->time_base) <
            0) {
            ret = CIR_EINTERNAL;
            goto done;
        }
    }
    if ((ret = read_all(ic, sources, nb_sources, meters, n, from_us, end_us,
                        cancel)) == 0) {
        finish_stats(meters, n, log);
    }

done:
    for (size_t i = 0; meters && i < n; i++) {
        avfilter_graph_free(&meters[i].graph);
    }
    for (size_t i = 0; sources && i < nb_sources; i++) {
        avcodec_free_context(&sources[i].dec);
    }
    free(sources);
    free(meters);
    return ret;
}
