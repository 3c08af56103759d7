/*
 * The live pipeline: timestamp normalisation in front of one live CMAF
 * packager per rendition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avutil.h>

#include "cir_error.h"
#include "cir_live_pipeline.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "cmaf_live.h"
#include "codecs.h"

#define DEFAULT_VIDEO_BANDWIDTH 5000000
#define DEFAULT_AUDIO_BANDWIDTH 128000

typedef struct {
    cir_cmaf_live_t *pkg;
    AVRational tb;
    AVRational frame_rate;
    cir_live_track_t track;
    int64_t last_dts; /* normalised, track tb */
    int present;
} live_track_t;

struct cir_live {
    cir_live_config_t cfg;
    char stream[CIR_LIVE_ID_MAX];
    char root[CIR_URI_MAX];
    live_track_t video, audio;
    int64_t base_us;  /* source time of the stream's 0 */
    int64_t shift_us; /* added after a discontinuity to stay monotonic */
    int started;
    cir_log_ctx_t log;
};

static int
valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= CIR_LIVE_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int
cir_live_open(cir_live_t **out, const cir_live_config_t *cfg)
{
    cir_live_t *l;

    if (cfg->stream == NULL || !valid_name(cfg->stream) ||
        cfg->live_root == NULL || cfg->part_seconds <= 0 ||
        cfg->segment_seconds < cfg->part_seconds || cfg->window < 3) {
        return CIR_EINVAL;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return CIR_ENOMEM;
    }
    l->cfg = *cfg;
    snprintf(l->stream, sizeof(l->stream), "%s", cfg->stream);
    snprintf(l->root, sizeof(l->root), "%s", cfg->live_root);
    l->cfg.stream = l->stream;
    l->cfg.live_root = l->root;
    if (l->cfg.max_gap_seconds <= 0) {
        l->cfg.max_gap_seconds = 5;
    }
    l->log = (cir_log_ctx_t){.component = "live", .stream = l->stream};
    *out = l;
    return 0;
}

static int
add_track(cir_live_t *l, live_track_t *t, const char *name,
          const AVCodecParameters *par, AVRational tb, AVRational fr)
{
    cir_cmaf_live_config_t c = {0};
    char dir[CIR_URI_MAX + 2 * CIR_LIVE_ID_MAX];

    snprintf(dir, sizeof(dir), "%s/%s/%s", l->root, l->stream, name);
    snprintf(t->track.rendition, sizeof(t->track.rendition), "%s", name);
    t->tb = tb;
    t->frame_rate = fr;
    t->last_dts = AV_NOPTS_VALUE;
    c.dir = dir;
    c.track = &t->track;
    c.par = par;
    c.time_base = tb;
    c.frame_rate = fr;
    c.part_seconds = l->cfg.part_seconds;
    c.segment_seconds = l->cfg.segment_seconds;
    c.window = l->cfg.window;
    c.clock = l->cfg.clock;
    t->present = 1;
    return cir_cmaf_live_open(&t->pkg, &c);
}

static void
codecs_of(const AVCodecParameters *par, char *out, size_t size)
{
    int ret = CIR_EUNSUPPORTED;

    switch (par->codec_id) {
    case AV_CODEC_ID_H264:
        ret = cir_codecs_avc(par->extradata, (size_t)par->extradata_size, out,
                             size);
        break;
    case AV_CODEC_ID_HEVC:
        ret = cir_codecs_hevc(par->extradata, (size_t)par->extradata_size, out,
                              size);
        break;
    case AV_CODEC_ID_AAC:
        ret = cir_codecs_aac(par->extradata, (size_t)par->extradata_size, out,
                             size);
        break;
    default:
        break;
    }
    if (ret < 0) {
        snprintf(out, size, "%s", avcodec_get_name(par->codec_id));
    }
}

int
cir_live_add_video(cir_live_t *l, const AVCodecParameters *par, AVRational tb,
                   AVRational frame_rate, uint64_t bandwidth)
{
    live_track_t *t = &l->video;

    if (t->present || l->started) {
        return CIR_EINVAL;
    }
    if (par->codec_id != AV_CODEC_ID_H264 &&
        par->codec_id != AV_CODEC_ID_HEVC) {
        cir_log_error(&l->log, "video codec %s is not supported live",
                      avcodec_get_name(par->codec_id));
        return CIR_EUNSUPPORTED;
    }
    t->track.kind = CIR_LIVE_VIDEO;
    codecs_of(par, t->track.codecs, sizeof(t->track.codecs));
    t->track.width = par->width;
    t->track.height = par->height;
    t->track.frame_rate = frame_rate.num > 0 ? av_q2d(frame_rate) : 0;
    t->track.bandwidth = bandwidth           ? bandwidth
                         : par->bit_rate > 0 ? (uint64_t)par->bit_rate * 11 / 10
                                             : DEFAULT_VIDEO_BANDWIDTH;
    t->track.average_bandwidth =
        par->bit_rate > 0 ? (uint64_t)par->bit_rate : t->track.bandwidth;
    return add_track(l, t, "video", par, tb, frame_rate);
}

int
cir_live_add_audio(cir_live_t *l, const AVCodecParameters *par, AVRational tb,
                   uint64_t bandwidth)
{
    live_track_t *t = &l->audio;

    if (t->present || l->started) {
        return CIR_EINVAL;
    }
    if (par->codec_id != AV_CODEC_ID_AAC) {
        cir_log_error(&l->log, "audio codec %s is not supported live",
                      avcodec_get_name(par->codec_id));
        return CIR_EUNSUPPORTED;
    }
    t->track.kind = CIR_LIVE_AUDIO;
    codecs_of(par, t->track.codecs, sizeof(t->track.codecs));
    t->track.sample_rate = par->sample_rate;
    t->track.channels = par->ch_layout.nb_channels;
    t->track.bandwidth = bandwidth           ? bandwidth
                         : par->bit_rate > 0 ? (uint64_t)par->bit_rate * 11 / 10
                                             : DEFAULT_AUDIO_BANDWIDTH;
    t->track.average_bandwidth =
        par->bit_rate > 0 ? (uint64_t)par->bit_rate : t->track.bandwidth;
    return add_track(l, t, "audio", par, tb, (AVRational){0, 1});
}

int
cir_live_reconfigure(cir_live_t *l, int video, const AVCodecParameters *par)
{
    live_track_t *t = video ? &l->video : &l->audio;

    if (!t->present) {
        return CIR_EINVAL;
    }
    codecs_of(par, t->track.codecs, sizeof(t->track.codecs));
    return cir_cmaf_live_reconfigure(t->pkg, par);
}

/* A jump in the source's timestamps: continue the output timeline just
 * after where it was, with a discontinuity in every rendition. */
static int
timeline_break(cir_live_t *l, int64_t now_us, int64_t last_us)
{
    int ret;

    cir_log_warn(&l->log,
                 "timestamps jump by %.3f s: continuing with a discontinuity",
                 (now_us - last_us) / 1e6);
    l->shift_us += last_us + 40000 - now_us;
    if (l->video.present &&
        (ret = cir_cmaf_live_discontinuity(l->video.pkg)) < 0) {
        return ret;
    }
    if (l->audio.present &&
        (ret = cir_cmaf_live_discontinuity(l->audio.pkg)) < 0) {
        return ret;
    }
    return 0;
}

int
cir_live_push(cir_live_t *l, int video, const AVPacket *in)
{
    live_track_t *t = video ? &l->video : &l->audio;
    AVPacket *pkt;
    int64_t dts_us, offset;
    int ret;

    if (!t->present) {
        return 0; /* a track the pipeline was not told about */
    }
    if (in->dts == AV_NOPTS_VALUE && in->pts == AV_NOPTS_VALUE) {
        return 0;
    }
    dts_us = av_rescale_q(in->dts != AV_NOPTS_VALUE ? in->dts : in->pts, t->tb,
                          AV_TIME_BASE_Q);
    if (!l->started) {
        l->base_us = dts_us;
        l->started = 1;
    }
    if (t->last_dts != AV_NOPTS_VALUE) {
        int64_t now = dts_us + l->shift_us - l->base_us;
        int64_t last = av_rescale_q(t->last_dts, t->tb, AV_TIME_BASE_Q);
        if (now < last - 1000000 ||
            now > last + (int64_t)(l->cfg.max_gap_seconds * 1e6)) {
            if ((ret = timeline_break(l, now, last)) < 0) {
                return ret;
            }
        }
    }
    offset = l->shift_us - l->base_us;
    pkt = av_packet_clone(in);
    if (pkt == NULL) {
        return CIR_ENOMEM;
    }
    pkt->dts = (in->dts != AV_NOPTS_VALUE ? in->dts : in->pts) +
               av_rescale_q(offset, AV_TIME_BASE_Q, t->tb);
    pkt->pts = (in->pts != AV_NOPTS_VALUE ? in->pts : in->dts) +
               av_rescale_q(offset, AV_TIME_BASE_Q, t->tb);
    if (pkt->dts < 0 ||
        (t->last_dts != AV_NOPTS_VALUE && pkt->dts < t->last_dts)) {
        /* before the stream's start, or out of order: not packageable */
        cir_log_debug(&l->log, "dropping a %s packet at %" PRId64,
                      video ? "video" : "audio", pkt->dts);
        av_packet_free(&pkt);
        return 0;
    }
    t->last_dts = pkt->dts;
    ret = cir_cmaf_live_write(t->pkg, pkt);
    av_packet_free(&pkt);
    if (ret == 1 && video && l->audio.present) {
        /* audio segments start where the video's do */
        cir_cmaf_live_cut_at(l->audio.pkg,
                             cir_cmaf_live_segment_start_us(t->pkg));
    }
    return ret < 0 ? ret : 0;
}

int
cir_live_finish(cir_live_t *l)
{
    int ret = 0, r;

    if (l->video.present && (r = cir_cmaf_live_finish(l->video.pkg)) < 0) {
        ret = r;
    }
    if (l->audio.present && (r = cir_cmaf_live_finish(l->audio.pkg)) < 0) {
        ret = r;
    }
    return ret;
}

void
cir_live_close(cir_live_t **lp)
{
    cir_live_t *l = *lp;

    if (l == NULL) {
        return;
    }
    cir_cmaf_live_free(&l->video.pkg);
    cir_cmaf_live_free(&l->audio.pkg);
    free(l);
    *lp = NULL;
}
