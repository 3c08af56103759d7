/*
 * The live pipeline: timestamp repair (live_timestamps.h) in front of one
 * live CMAF packager per rendition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <libavutil/avutil.h>

#include "cir_error.h"
#include "cir_live_pipeline.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "cmaf.h"
#include "cmaf_live.h"
#include "codecs.h"
#include "ladder.h"
#include "live_audio.h"
#include "live_probe.h"
#include "live_record.h"
#include "live_rung.h"
#include "live_silence.h"
#include "live_timestamps.h"

#define DEFAULT_VIDEO_BANDWIDTH 5000000
#define DEFAULT_AUDIO_BANDWIDTH 128000
#define DEFAULT_QUEUE_FRAMES    8
#define STATS_WINDOW_US         2000000
#define KEY_RING                16
#define MAX_RENDITIONS          (CIR_PRESET_MAX_RUNGS + 2)
/* the wall clock skipping this much past the media at a break is an
 * outage, filled with GAP segments (anchor_timeline) */
#define OUTAGE_FILL_MIN_US 500000

typedef struct {
    cir_cmaf_live_t *pkg;
    AVRational tb;
    AVRational frame_rate;
    cir_live_track_t track;
    int64_t last_dts; /* normalised, track tb */
    int present;
    AVRational src_tb; /* transcoded audio: the source packets' */
    cir_live_rec_t *rec;
    atomic_uint_fast64_t frames, bytes; /* packaged */
} live_track_t;

/* Rates over the last stats window, for cir_live_stats. */
typedef struct {
    atomic_uint_fast64_t bps, fps_milli;
    uint64_t last_frames, last_bytes;
} live_rate_t;

struct cir_live {
    cir_live_config_t cfg;
    char stream[CIR_LIVE_ID_MAX];
    char root[CIR_URI_MAX];
    live_track_t video, audio;
    cir_live_ts_t ts; /* timestamp repair, in front of everything */
    /* its counts for cir_live_stats ([track][kind], updated on repairs) */
    atomic_uint_fast64_t ts_count[2][CIR_LIVE_TS_KINDS];
    uint64_t pkg_dropped[2]; /* the packagers' drops counted so far */
    cir_log_ctx_t log;

    /* ABR */
    cir_preset_t preset;
    int abr, passthrough;
    AVCodecContext *vdec;
    AVFrame *frame;
    AVPacket *pkt;             /* cir_live_push's view of the packet pushed */
    int dec_need_key;          /* skip packets until a keyframe */
    int64_t key_pts[KEY_RING]; /* source keyframes not decoded yet */
    int nb_keys;
    int64_t next_key_us;   /* without passthrough: GOP schedule */
    int64_t vseg_start_us; /* the rungs' open segment (no passthrough) */
    int vseg_open;
    int64_t cts_delay; /* the source's pts - dts at its first keyframe */
    int fanned;        /* a frame went to the rungs */
    /* audio holes filled with silence (passthrough AAC, live_silence.h):
     * where the audio packaged so far ends (audio tb; AV_NOPTS_VALUE:
     * none yet), and whether silence is standing in for it now */
    AVCodecParameters *apar;
    cir_live_silence_t *silence;
    int silence_failed, silence_on;
    int64_t audio_end;
    int disc_pending; /* a break before the next frame decoded */
    int paused;       /* the publisher left (cir_live_pause) */
    cir_ladder_rung_t ladder[CIR_PRESET_MAX_RUNGS];
    cir_live_rung_t *rungs[CIR_PRESET_MAX_RUNGS];
    int nb_rungs;
    int rungs_started;
    cir_live_aac_t *aac; /* non-AAC audio */
    /* a passthrough video whose size is not known yet (no onMetaData): its
     * packager opens (or reconfigures) at the next keyframe, with the size
     * read from the SPS */
    AVCodecParameters *vpend;
    int vpend_reconf;
    double segment_seconds;
    int64_t part_target_us;   /* the stream's PART-TARGET */
    uint32_t target_duration; /* the stream's, once decided: every
                               * rendition has it (spread_target) */
    /* the wall clock of the current timeline, the same for every
     * rendition (anchor_timeline): media time anchor_media (µs) was
     * captured at anchor_wall; 0: no packet yet */
    int64_t anchor_wall, anchor_media;

    /* recording */
    char record_root[CIR_URI_MAX];
    char record_version[CIR_VERSION_ID_MAX];
    char record_dir[CIR_URI_MAX]; /* <record_root>/v/<version> */
    cir_live_rec_t *rung_recs[CIR_PRESET_MAX_RUNGS];

    /* stats */
    int64_t open_us, window_us;
    atomic_uint_fast64_t bytes_in, frames_in;
    live_rate_t rate_in, rate_video, rate_audio;
    live_rate_t rate_rung[CIR_PRESET_MAX_RUNGS];
};

static int64_t
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
cir_live_open(cir_live_t **out, const cir_live_config_t *cfg)
{
    cir_live_t *l;
    double seg = cfg->segment_seconds;
    cir_uri_t uri;

    if (seg <= 0 && cfg->preset) {
        seg = cfg->preset->segment_seconds;
    }
    if (cfg->stream == NULL ||
        !cir_name_is_safe(cfg->stream, strlen(cfg->stream),
                          CIR_LIVE_ID_MAX - 1) ||
        cfg->live_root == NULL || cfg->part_seconds <= 0 ||
        seg < cfg->part_seconds || cfg->window < 3 || cfg->queue_frames < 0 ||
        cfg->queue_frames == 1 || cfg->queue_frames > CIR_LIVE_RUNG_QUEUE_MAX ||
        (cfg->preset && cfg->preset->video_enabled &&
         cfg->preset->nb_rungs < 1)) {
        return CIR_EINVAL;
    }
    if (cfg->record_uri && (cir_uri_parse(cfg->record_uri, &uri) < 0 ||
                            uri.scheme != CIR_URI_FILE)) {
        return CIR_EUNSUPPORTED; /* file:// only for now */
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL || (l->pkt = av_packet_alloc()) == NULL) {
        free(l);
        return CIR_ENOMEM;
    }
    l->cfg = *cfg;
    l->audio_end = AV_NOPTS_VALUE;
    snprintf(l->stream, sizeof(l->stream), "%s", cfg->stream);
    snprintf(l->root, sizeof(l->root), "%s", cfg->live_root);
    l->cfg.stream = l->stream;
    l->cfg.live_root = l->root;
    l->cfg.record_uri = NULL;
    l->segment_seconds = seg;
    l->part_target_us = cir_live_part_target_us(cfg->part_seconds);
    if (l->cfg.max_gap_seconds <= 0) {
        l->cfg.max_gap_seconds = CIR_LIVE_TS_MAX_GAP_US / 1e6;
    }
    if (l->cfg.max_correction_seconds <= 0) {
        l->cfg.max_correction_seconds = CIR_LIVE_TS_MAX_CORRECTION_US / 1e6;
    }
    cir_live_ts_init(
        &l->ts,
        &(cir_live_ts_config_t){
            .max_gap_us = (int64_t)(l->cfg.max_gap_seconds * 1e6),
            .max_correction_us = (int64_t)(l->cfg.max_correction_seconds * 1e6),
        });
    if (l->cfg.queue_frames == 0) {
        l->cfg.queue_frames = DEFAULT_QUEUE_FRAMES;
    }
    if (cfg->preset) {
        l->preset = *cfg->preset;
        l->cfg.preset = &l->preset;
        l->abr = l->preset.video_enabled;
    }
    l->passthrough = !l->abr || cfg->passthrough;
    if (cfg->record_uri) {
        snprintf(l->record_root, sizeof(l->record_root), "%s", uri.path);
        if (cir_live_rec_version(l->record_root, l->record_version,
                                 sizeof(l->record_version), l->record_dir,
                                 sizeof(l->record_dir)) < 0) {
            av_packet_free(&l->pkt);
            free(l);
            return CIR_EINVAL;
        }
    }
    l->next_key_us = AV_NOPTS_VALUE;
    l->open_us = l->window_us = mono_us();
    l->log = (cir_log_ctx_t){.component = "live", .stream = l->stream};
    *out = l;
    return 0;
}

static void
rendition_dir(const cir_live_t *l, const char *name, char *dir, size_t size)
{
    snprintf(dir, size, "%s/%s/%s", l->root, l->stream, name);
}

static int
open_rec(cir_live_t *l, const char *name, cir_live_rec_t **rec)
{
    char dir[CIR_URI_MAX + 2 * CIR_LIVE_ID_MAX];
    int ret;

    if (l->record_root[0] == '\0') {
        return 0;
    }
    rendition_dir(l, name, dir, sizeof(dir));
    if ((ret = cir_live_rec_open(rec, l->record_dir, dir, name)) < 0) {
        cir_log_error(&l->log, "recording into %s: %s", l->record_root,
                      cir_strerror(ret));
    }
    return ret;
}

/* Records what t's packager completed (after a segment ended). */
static int
rec_sync(live_track_t *t)
{
    return t->rec && t->pkg
               ? cir_live_rec_sync(t->rec, cir_cmaf_live_index(t->pkg))
               : 0;
}

/* The packager (and recorder) of a track set up by add_track. */
static int
open_track(cir_live_t *l, live_track_t *t, const AVCodecParameters *par)
{
    cir_cmaf_live_config_t c = {0};
    char dir[CIR_URI_MAX + 2 * CIR_LIVE_ID_MAX];
    int ret;

    rendition_dir(l, t->track.rendition, dir, sizeof(dir));
    c.dir = dir;
    c.track = &t->track;
    c.par = par;
    c.time_base = t->tb;
    c.frame_rate = t->frame_rate;
    c.part_target_us = l->part_target_us;
    c.segment_seconds = l->segment_seconds;
    c.target_duration = l->target_duration;
    /* the passthrough video leads (audio alone leads itself); without it
     * the rungs' schedule leads (fan_out) */
    c.decides_target = t == &l->video || !l->video.present;
    c.follower = t == &l->audio && l->video.present;
    c.window = l->cfg.window;
    c.clock = l->cfg.clock;
    if ((ret = cir_cmaf_live_open(&t->pkg, &c)) < 0) {
        return ret;
    }
    if (l->anchor_wall != 0 &&
        (ret = cir_cmaf_live_set_anchor(t->pkg, l->anchor_wall, l->anchor_media,
                                        0, 0)) < 0) {
        return ret;
    }
    return open_rec(l, t->track.rendition, &t->rec);
}

static int
add_track(cir_live_t *l, live_track_t *t, const char *name,
          const AVCodecParameters *par, AVRational tb, AVRational fr,
          int package)
{
    snprintf(t->track.rendition, sizeof(t->track.rendition), "%s", name);
    t->tb = tb;
    t->frame_rate = fr;
    t->last_dts = AV_NOPTS_VALUE;
    t->present = 1;
    if (!package) {
        return 0; /* timestamps only: the rungs publish the video */
    }
    return open_track(l, t, par);
}

/* A copy of par whose packager waits for a keyframe to learn the size. */
static int
defer_video(cir_live_t *l, const AVCodecParameters *par, int reconf)
{
    avcodec_parameters_free(&l->vpend);
    l->vpend = avcodec_parameters_alloc();
    if (l->vpend == NULL || avcodec_parameters_copy(l->vpend, par) < 0) {
        avcodec_parameters_free(&l->vpend);
        return CIR_ENOMEM;
    }
    l->vpend_reconf = reconf;
    return 0;
}

/* The first keyframe of a deferred video: the size from its SPS, then the
 * packager (a new init segment with the real size, and the real size in
 * the master playlist). */
static int
open_deferred_video(cir_live_t *l, const AVPacket *key)
{
    live_track_t *t = &l->video;
    AVCodecParameters *par = l->vpend;
    int w = 0, h = 0, ret;

    if (cir_live_probe_size(par, key, &w, &h) == 0) {
        par->width = w;
        par->height = h;
        cir_log_info(&l->log, "video size from the SPS: %dx%d", w, h);
    } else {
        cir_log_warn(&l->log, "cannot read the video size from the SPS");
    }
    t->track.width = par->width;
    t->track.height = par->height;
    if (l->vpend_reconf && t->pkg != NULL) {
        ret = cir_cmaf_live_reconfigure(t->pkg, par);
        ret = ret < 0 ? ret : rec_sync(t);
    } else {
        ret = open_track(l, t, par);
    }
    avcodec_parameters_free(&l->vpend);
    return ret;
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

static int
open_decoder(cir_live_t *l, const AVCodecParameters *par, AVRational tb)
{
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    int ret;

    avcodec_free_context(&l->vdec);
    if (codec == NULL) {
        return CIR_EUNSUPPORTED;
    }
    l->vdec = avcodec_alloc_context3(codec);
    if (l->vdec == NULL || avcodec_parameters_to_context(l->vdec, par) < 0) {
        return CIR_ENOMEM;
    }
    l->vdec->pkt_timebase = tb;
    /* slice threads only: frame threads would delay every frame */
    l->vdec->thread_type = FF_THREAD_SLICE;
    l->vdec->thread_count = 0;
    l->vdec->flags |= AV_CODEC_FLAG_LOW_DELAY;
    if ((ret = avcodec_open2(l->vdec, codec, NULL)) < 0) {
        cir_log_error(&l->log, "cannot open the %s decoder: %s", codec->name,
                      av_err2str(ret));
        return CIR_EMEDIA;
    }
    l->dec_need_key = 1;
    return 0;
}

/* The rungs that fit a width x height source, each on its thread. */
static int
start_rungs(cir_live_t *l, int width, int height)
{
    char dir[CIR_URI_MAX + 2 * CIR_LIVE_ID_MAX];
    AVRational tb = l->video.tb, fr = l->video.frame_rate;
    int n, ret;

    l->rungs_started = 1;
    n = cir_ladder_select(&l->preset, width, height, l->ladder,
                          CIR_PRESET_MAX_RUNGS);
    if (n < 0) {
        cir_log_error(&l->log, "no rung fits a %dx%d source", width, height);
        return CIR_EMEDIA;
    }
    if (l->passthrough) {
        /* a rung as big as the passthrough (the ladder never goes above
         * the source) is the same picture at a lower quality: skipped */
        int k = 0;
        for (int i = 0; i < n; i++) {
            if ((int64_t)l->ladder[i].width * l->ladder[i].height >=
                (int64_t)width * height) {
                cir_log_info(&l->log,
                             "rung %s skipped: the passthrough is %dx%d "
                             "already",
                             l->ladder[i].rung->name, width, height);
                continue;
            }
            l->ladder[k++] = l->ladder[i];
        }
        n = k;
    }
    for (int i = 0; i < n; i++) {
        cir_live_rung_config_t c = {0};
        const char *name = l->ladder[i].rung->name;
        if (strcmp(name, "video") == 0 || strcmp(name, "audio") == 0) {
            cir_log_error(&l->log, "a rung may not be named %s", name);
            return CIR_EINVAL;
        }
        rendition_dir(l, name, dir, sizeof(dir));
        if ((ret = open_rec(l, name, &l->rung_recs[i])) < 0) {
            return ret;
        }
        c.dir = dir;
        c.stream = l->stream;
        c.preset = &l->preset;
        c.ladder = &l->ladder[i];
        c.time_base = tb;
        c.frame_rate = fr;
        c.part_target_us = l->part_target_us;
        c.segment_seconds = l->segment_seconds;
        c.target_duration = l->target_duration;
        c.window = l->cfg.window;
        c.clock = l->cfg.clock;
        c.queue_frames = l->cfg.queue_frames;
        c.rec = l->rung_recs[i];
        c.delay_us = i == n - 1 ? l->cfg.test_rung_delay_us : 0;
        if ((ret = cir_live_rung_start(&l->rungs[i], &c)) < 0) {
            cir_log_error(&l->log, "rung %s: %s", name, cir_strerror(ret));
            return ret;
        }
        l->nb_rungs = i + 1;
        if (l->anchor_wall != 0) {
            cir_live_rung_set_anchor(l->rungs[i], l->anchor_wall,
                                     l->anchor_media, 0, 0);
        }
        cir_log_info(&l->log, "rung %s %dx%d %d kbps", name, l->ladder[i].width,
                     l->ladder[i].height, l->ladder[i].rung->bitrate_kbps);
    }
    return 0;
}

/* BANDWIDTH and AVERAGE-BANDWIDTH of a track: the publisher's declared
 * peak (onMetaData), else 110 % of the codec's rate; the average is the
 * codec's rate.  The peak is never below the average (RFC 8216bis
 * 4.4.6.2: a peak cannot be lower than the mean it bounds). */
static void
set_rates(cir_live_track_t *t, uint64_t declared, int64_t bit_rate,
          uint64_t fallback)
{
    t->bandwidth = declared       ? declared
                   : bit_rate > 0 ? (uint64_t)bit_rate * 11 / 10
                                  : fallback;
    t->average_bandwidth = bit_rate > 0 ? (uint64_t)bit_rate : t->bandwidth;
    if (t->bandwidth < t->average_bandwidth) {
        t->bandwidth = t->average_bandwidth;
    }
}

int
cir_live_add_video(cir_live_t *l, const AVCodecParameters *par, AVRational tb,
                   AVRational frame_rate, uint64_t bandwidth)
{
    live_track_t *t = &l->video;
    int ret;

    if (t->present || cir_live_ts_started(&l->ts)) {
        return CIR_EINVAL;
    }
    if ((ret = cir_live_ts_add_track(&l->ts, 1, tb, l->cfg.ts_wrap_bits)) < 0) {
        return ret;
    }
    if (par->codec_id != AV_CODEC_ID_H264 &&
        par->codec_id != AV_CODEC_ID_HEVC) {
        cir_log_error(&l->log, "video codec %s is not supported live",
                      avcodec_get_name(par->codec_id));
        return CIR_EUNSUPPORTED;
    }
    t->track.kind = CIR_LIVE_VIDEO;
    if (l->audio.pkg != NULL) {
        cir_cmaf_live_set_role(l->audio.pkg, 1, 0); /* the video leads */
    } else {
        /* parts of whole frames that tile a segment (cir_live.h); an audio
         * packager opened first keeps the stream's PART-TARGET as it is */
        l->part_target_us = cir_live_video_part_target_us(
            l->cfg.part_seconds, l->segment_seconds, frame_rate.num,
            frame_rate.den);
    }
    codecs_of(par, t->track.codecs, sizeof(t->track.codecs));
    t->track.width = par->width;
    t->track.height = par->height;
    t->track.frame_rate = frame_rate.num > 0 ? av_q2d(frame_rate) : 0;
    set_rates(&t->track, bandwidth, par->bit_rate, DEFAULT_VIDEO_BANDWIDTH);
    if (l->passthrough && (par->width <= 0 || par->height <= 0)) {
        /* no size (a publisher without onMetaData): read from the SPS at
         * the first keyframe, before anything is packaged */
        if ((ret = add_track(l, t, "video", par, tb, frame_rate, 0)) < 0 ||
            (ret = defer_video(l, par, 0)) < 0) {
            return ret;
        }
    } else {
        ret = add_track(l, t, "video", par, tb, frame_rate, l->passthrough);
    }
    if (ret < 0 || !l->abr) {
        return ret;
    }
    if ((ret = open_decoder(l, par, tb)) < 0) {
        return ret;
    }
    l->frame = av_frame_alloc();
    if (l->frame == NULL) {
        return CIR_ENOMEM;
    }
    /* a size not known yet (a publisher's bare sequence header): the
     * first decoded frame tells */
    return par->width > 0 && par->height > 0
               ? start_rungs(l, par->width, par->height)
               : 0;
}

int
cir_live_add_audio(cir_live_t *l, const AVCodecParameters *par, AVRational tb,
                   uint64_t bandwidth)
{
    live_track_t *t = &l->audio;
    const AVCodecParameters *apar = par;
    int ret, want;

    if (t->present || cir_live_ts_started(&l->ts)) {
        return CIR_EINVAL;
    }
    /* the source's packets (transcoded audio too) */
    if ((ret = cir_live_ts_add_track(&l->ts, 0, tb, l->cfg.ts_wrap_bits)) < 0) {
        return ret;
    }
    /* AAC with the preset's channels passes through as it came (no
     * generation loss, no CPU); other audio, and AAC with other channels
     * (a mono or 5.1 publisher under a stereo preset), becomes AAC with
     * the preset's channels.  Without a preset AAC always passes. */
    want =
        l->abr && l->preset.audio_channels <= 2 ? l->preset.audio_channels : 0;
    if (par->codec_id != AV_CODEC_ID_AAC ||
        (want > 0 && par->ch_layout.nb_channels > 0 &&
         par->ch_layout.nb_channels != want)) {
        ret = cir_live_aac_open(&l->aac, par, tb,
                                l->abr ? l->preset.audio_bitrate_kbps : 128,
                                want);
        if (ret < 0) {
            cir_log_error(&l->log, "audio codec %s is not supported live",
                          avcodec_get_name(par->codec_id));
            return CIR_EUNSUPPORTED;
        }
        apar = cir_live_aac_par(l->aac);
        t->src_tb = tb;
        tb = cir_live_aac_time_base(l->aac);
    }
    if (l->aac == NULL && ((l->apar = avcodec_parameters_alloc()) == NULL ||
                           avcodec_parameters_copy(l->apar, par) < 0)) {
        return CIR_ENOMEM;
    }
    t->track.kind = CIR_LIVE_AUDIO;
    codecs_of(apar, t->track.codecs, sizeof(t->track.codecs));
    t->track.sample_rate = apar->sample_rate;
    t->track.channels = apar->ch_layout.nb_channels;
    /* transcoded: the publisher's declared rate is not what is served */
    set_rates(&t->track, l->aac ? 0 : bandwidth, apar->bit_rate,
              DEFAULT_AUDIO_BANDWIDTH);
    return add_track(l, t, "audio", apar, tb, (AVRational){0, 1}, 1);
}

/* Decoded frames to every rung, with the keyframe decision. */
static int fan_out(cir_live_t *l, AVFrame *f);
static void note_dropped(cir_live_t *l);

static int
decode(cir_live_t *l, const AVPacket *pkt)
{
    int ret;

    if (l->vdec == NULL || (l->rungs_started && l->nb_rungs == 0)) {
        return 0; /* no rung to feed (the passthrough covers the ladder) */
    }
    if (pkt && l->dec_need_key) {
        if (!(pkt->flags & AV_PKT_FLAG_KEY)) {
            return 0;
        }
        l->dec_need_key = 0;
    }
    ret = avcodec_send_packet(l->vdec, pkt);
    if (ret < 0 && ret != AVERROR_EOF) {
        cir_log_debug(&l->log, "video decoding: %s", av_err2str(ret));
        return 0; /* a broken packet costs a frame, not the stream */
    }
    for (;;) {
        ret = avcodec_receive_frame(l->vdec, l->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            continue;
        }
        ret = fan_out(l, l->frame);
        av_frame_unref(l->frame);
        if (ret < 0) {
            return ret;
        }
    }
}

/* Decodes and fans out the frames the decoder holds, then takes the next
 * packets afresh, from a keyframe. */
static int
drain_decoder(cir_live_t *l)
{
    int ret;

    if (l->vdec == NULL) {
        return 0;
    }
    if ((ret = decode(l, NULL)) < 0) {
        return ret;
    }
    avcodec_flush_buffers(l->vdec); /* leaves the draining state */
    l->dec_need_key = 1;
    return 0;
}

int
cir_live_reconfigure(cir_live_t *l, int video, const AVCodecParameters *par)
{
    live_track_t *t = video ? &l->video : &l->audio;
    int ret;

    if (!t->present) {
        return CIR_EINVAL;
    }
    if (!video && l->aac) {
        /* a new header for a transcoded track: the decoder reads it */
        return 0;
    }
    codecs_of(par, t->track.codecs, sizeof(t->track.codecs));
    if (video && l->vdec) {
        /* the frames of the old configuration first, then a new decoder;
         * the rungs mark the break too, so segments stay aligned */
        if ((ret = decode(l, NULL)) < 0 ||
            (ret = open_decoder(l, par, t->tb)) < 0) {
            return ret;
        }
        l->disc_pending = 1;
    }
    if (video && l->passthrough &&
        (l->vpend != NULL || par->width <= 0 || par->height <= 0)) {
        /* the size again from the SPS, at the next keyframe */
        return defer_video(l, par, t->pkg != NULL || l->vpend_reconf);
    }
    if (t->pkg == NULL) {
        return 0;
    }
    ret = cir_cmaf_live_reconfigure(t->pkg, par);
    note_dropped(l);
    return ret < 0 ? ret : rec_sync(t);
}

/* A jump in the source's timestamps (the repair stage continues the
 * output timeline just after where it was): a discontinuity in every
 * rendition. */
static int
timeline_break(cir_live_t *l)
{
    int ret;

    /* the rungs break before the first frame of the new timeline, where
     * the passthrough and the audio do: the old timeline's frames leave
     * the decoder first (and act on the old timeline: keyframes, the
     * audio's cuts without a passthrough), so the next one decoded is the
     * new timeline's, whatever its time (after a reconnect the video's
     * first packet may be older than the audio's that broke first, so no
     * time tells the timelines apart).  The decoder then waits for a
     * keyframe: a publisher that comes back starts with one; after a jump
     * within one publisher's stream the passthrough's segment waits for
     * one too, rungs without a passthrough lose up to a GOP. */
    if (l->nb_rungs > 0 && (ret = drain_decoder(l)) < 0) {
        return ret;
    }
    if (l->video.pkg) {
        if ((ret = cir_cmaf_live_discontinuity(l->video.pkg, AV_NOPTS_VALUE)) <
                0 ||
            (ret = rec_sync(&l->video)) < 0) {
            return ret;
        }
    }
    if (l->audio.pkg) {
        /* the audio follows the passthrough's segments: a segment the
         * video began just before the break is a gap in the audio */
        ret = cir_cmaf_live_discontinuity(
            l->audio.pkg,
            l->video.pkg ? cir_cmaf_live_end_us(l->video.pkg) : AV_NOPTS_VALUE);
        note_dropped(l);
        if (ret < 0 || (ret = rec_sync(&l->audio)) < 0) {
            return ret;
        }
    }
    if (l->nb_rungs > 0) {
        l->disc_pending = 1;
    }
    /* no silence across a break: the new timeline's audio starts anew */
    l->audio_end = AV_NOPTS_VALUE;
    l->silence_on = 0;
    return 0;
}

/*
 * The publisher left and may come back (the ingest's grace period): every
 * rendition's open segment ends now with what it holds, as at a break, so
 * players get whole segments (a chunked LL-DASH segment completes, the
 * MPD's newest segment ends where the media does) rather than an open one
 * until the publisher returns.  The rungs end theirs once the frames
 * queued before are encoded.  The next packet starts a new timeline.
 */
int
cir_live_pause(cir_live_t *l)
{
    int ret;

    if (l->paused || l->anchor_wall == 0) {
        return 0; /* already paused, or nothing packaged yet */
    }
    if ((ret = timeline_break(l)) < 0) {
        return ret;
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        if ((ret = cir_live_rung_break(l->rungs[i])) < 0) {
            return ret;
        }
    }
    l->paused = 1;
    return 0;
}

/*
 * The wall clock of a timeline, decided once for the whole stream (at its
 * first packet and at the first packet after each break) and given to
 * every rendition, so PROGRAM-DATE-TIME is the same at the same media time
 * in all of them (RFC 8216bis 6.2.4) whenever each writes: the rungs'
 * threads, behind, take it with the frame that starts the timeline.  The
 * packet's arrival is when its first sample was captured.  A timeline
 * continues after the one before in media time (the repair stage), so an
 * anchor earlier than the old one's mapping of that time would step PDT
 * back: it moves to it instead.  One later by OUTAGE_FILL_MIN_US or more
 * (the publisher was gone that long) is an outage: every rendition fills
 * it with as many GAP segments, none longer than a segment.
 */
static int
anchor_timeline(cir_live_t *l, int64_t media_us)
{
    int64_t wall =
        cir_clock_wall_us(l->cfg.clock ? l->cfg.clock : cir_clock_system());
    int64_t seg_us = (int64_t)(l->segment_seconds * 1e6), hole = 0;
    live_track_t *tracks[2] = {&l->video, &l->audio};
    uint32_t gaps = 0;
    int ret;

    if (l->anchor_wall != 0) {
        hole = wall - (l->anchor_wall - l->anchor_media + media_us);
        if (hole < 0) {
            wall -= hole;
        } else if (hole >= OUTAGE_FILL_MIN_US && seg_us > 0) {
            gaps = (uint32_t)FFMIN((hole + seg_us - 1) / seg_us, UINT16_MAX);
            cir_log_info(&l->log,
                         "%.3f s without media: %u GAP segment%s in every "
                         "rendition",
                         (double)hole / 1e6, (unsigned)gaps,
                         gaps > 1 ? "s" : "");
        }
    }
    l->anchor_wall = wall;
    l->anchor_media = media_us;
    for (int i = 0; i < 2; i++) {
        if (tracks[i]->pkg != NULL &&
            (ret = cir_cmaf_live_set_anchor(tracks[i]->pkg, wall, media_us,
                                            gaps, hole)) < 0) {
            return ret;
        }
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        cir_live_rung_set_anchor(l->rungs[i], wall, media_us, gaps, hole);
    }
    return 0;
}

/* The stream's target duration, decided by its leader (the passthrough's
 * or the audio's first segment, or the rungs' schedule in fan_out), to
 * every rendition: one TARGETDURATION and SERVER-CONTROL for all. */
static int
spread_target(cir_live_t *l, uint32_t td)
{
    live_track_t *tracks[2] = {&l->video, &l->audio};
    int ret;

    if (td == 0 || l->target_duration != 0) {
        return 0;
    }
    l->target_duration = td;
    cir_log_info(&l->log, "target duration %u s", (unsigned)td);
    for (int i = 0; i < 2; i++) {
        if (tracks[i]->pkg != NULL &&
            (ret = cir_cmaf_live_set_target_duration(tracks[i]->pkg, td)) < 0) {
            return ret;
        }
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        cir_live_rung_set_target_duration(l->rungs[i], td);
    }
    return 0;
}

/* After a packager wrote: whether its first segment decided the target. */
static int
spread_decided(cir_live_t *l, const live_track_t *t)
{
    return l->target_duration != 0 || t->pkg == NULL
               ? 0
               : spread_target(l, cir_cmaf_live_target_duration(t->pkg));
}

static int
is_source_key(cir_live_t *l, int64_t pts)
{
    for (int i = 0; i < l->nb_keys; i++) {
        if (l->key_pts[i] == pts) {
            l->key_pts[i] = l->key_pts[--l->nb_keys];
            return 1;
        }
    }
    return 0;
}

static int
fan_out(cir_live_t *l, AVFrame *f)
{
    AVRational tb = l->video.tb;
    int64_t pts = f->best_effort_timestamp, pts_us, half_us, gop_us, seg_us;
    int key, disc = 0, ret;

    if (pts == AV_NOPTS_VALUE) {
        return 0;
    }
    if (!l->rungs_started && (ret = start_rungs(l, f->width, f->height)) < 0) {
        return ret;
    }
    f->pts = pts;
    pts_us = av_rescale_q(pts, tb, AV_TIME_BASE_Q);
    if (l->disc_pending) {
        disc = 1;
        l->disc_pending = 0;
    }
    if (l->passthrough) {
        /* the source's keyframes, which cut the passthrough's segments */
        key = is_source_key(l, pts);
    } else {
        half_us = l->video.frame_rate.num > 0
                      ? (int64_t)(5e5 / av_q2d(l->video.frame_rate))
                      : 10000;
        gop_us = (int64_t)(l->preset.gop_seconds * 1e6);
        seg_us = (int64_t)(l->segment_seconds * 1e6);
        key = disc || l->next_key_us == AV_NOPTS_VALUE ||
              pts_us >= l->next_key_us - half_us;
        if (key) {
            l->next_key_us = disc || l->next_key_us == AV_NOPTS_VALUE ||
                                     pts_us > l->next_key_us + gop_us
                                 ? pts_us + gop_us
                                 : l->next_key_us + gop_us;
            /* where the rungs' packagers will cut: the audio follows, and
             * the first segment decides the stream's target duration */
            if (!l->vseg_open || disc) {
                l->vseg_open = 1;
                l->vseg_start_us = pts_us;
                if (l->audio.pkg) {
                    cir_cmaf_live_cut_at(l->audio.pkg, pts_us);
                }
            } else if (pts_us - l->vseg_start_us >= seg_us - half_us) {
                ret = spread_target(l, cir_live_decide_target_duration(
                                           seg_us, pts_us - l->vseg_start_us));
                if (ret < 0) {
                    return ret;
                }
                l->vseg_start_us = pts_us;
                if (l->audio.pkg) {
                    cir_cmaf_live_cut_at(l->audio.pkg, pts_us);
                }
            }
        }
    }
    if (!l->fanned) {
        l->fanned = 1;
        for (int i = 0; i < l->nb_rungs; i++) {
            cir_live_rung_set_dts_shift(l->rungs[i], l->cts_delay);
        }
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        if ((ret = cir_live_rung_push(l->rungs[i], f, key, disc)) < 0) {
            cir_log_error(&l->log, "rung %s failed: %s",
                          cir_live_rung_name(l->rungs[i]), cir_strerror(ret));
            return ret;
        }
    }
    return 0;
}

static void
rate_update(live_rate_t *r, uint64_t frames, uint64_t bytes, int64_t dt_us)
{
    atomic_store(&r->bps,
                 (bytes - r->last_bytes) * 8 * 1000000 / (uint64_t)dt_us);
    atomic_store(&r->fps_milli,
                 (frames - r->last_frames) * 1000000000 / (uint64_t)dt_us);
    r->last_frames = frames;
    r->last_bytes = bytes;
}

static void
stats_tick(cir_live_t *l)
{
    int64_t now = mono_us(), dt = now - l->window_us;

    if (dt < STATS_WINDOW_US) {
        return;
    }
    l->window_us = now;
    rate_update(&l->rate_in, atomic_load(&l->frames_in),
                atomic_load(&l->bytes_in), dt);
    rate_update(&l->rate_video, atomic_load(&l->video.frames),
                atomic_load(&l->video.bytes), dt);
    rate_update(&l->rate_audio, atomic_load(&l->audio.frames),
                atomic_load(&l->audio.bytes), dt);
    for (int i = 0; i < l->nb_rungs; i++) {
        rate_update(&l->rate_rung[i], cir_live_rung_frames(l->rungs[i]),
                    cir_live_rung_bytes(l->rungs[i]), dt);
    }
}

/* What the packagers dropped before their track could start (video
 * before a keyframe, audio before the video's first segment): counted
 * with the repairs, logged at the first of a kind. */
static void
note_dropped(cir_live_t *l)
{
    for (int video = 0; video < 2; video++) {
        live_track_t *t = video ? &l->video : &l->audio;
        cir_live_ts_kind_t k =
            video ? CIR_LIVE_TS_BEFORE_KEY : CIR_LIVE_TS_BEFORE_VIDEO;
        uint64_t n;
        if (t->pkg == NULL ||
            (n = cir_cmaf_live_dropped(t->pkg) - l->pkg_dropped[video]) == 0) {
            continue;
        }
        l->pkg_dropped[video] += n;
        if (cir_live_ts_note(&l->ts, video, k, n)) {
            cir_log_warn(&l->log,
                         "%s: %" PRIu64 " frame(s) dropped (%s), counted "
                         "from now on (timestamp_repairs)",
                         video ? "video" : "audio", n,
                         cir_live_ts_kind_name(k));
        }
        atomic_store(&l->ts_count[video][k],
                     cir_live_ts_count(&l->ts, video, k));
    }
}

static int
package(cir_live_t *l, live_track_t *t, const AVPacket *pkt)
{
    int ret = cir_cmaf_live_write(t->pkg, pkt);

    note_dropped(l);

    if (ret >= 0) {
        atomic_fetch_add(&t->frames, 1);
        atomic_fetch_add(&t->bytes, (uint64_t)pkt->size);
    }
    if (ret == 1) {
        int r = rec_sync(t);
        if (r < 0) {
            return r;
        }
    }
    return ret;
}

/* An AAC packet from the audio transcoder. */
static int
on_aac(void *opaque, AVPacket *pkt)
{
    cir_live_t *l = opaque;
    live_track_t *t = &l->audio;
    int ret;

    if (pkt->dts == AV_NOPTS_VALUE) {
        pkt->dts = pkt->pts;
    }
    if (pkt->dts < 0 ||
        (t->last_dts != AV_NOPTS_VALUE && pkt->dts < t->last_dts)) {
        return 0; /* the encoder's priming, or out of order */
    }
    t->last_dts = pkt->dts;
    ret = package(l, t, pkt);
    if (ret >= 0) {
        ret = spread_decided(l, t);
    }
    return ret < 0 ? ret : 0;
}

/* Counts the repairs of a packet for the stats; the first of each kind
 * on a track is logged (the counts are in the stats and at the end). */
static void
note_repairs(cir_live_t *l, int video, const cir_live_ts_result_t *r,
             const AVPacket *in)
{
    for (int k = 0; k < CIR_LIVE_TS_KINDS; k++) {
        if (!(r->kinds & (1u << k))) {
            continue;
        }
        atomic_store(&l->ts_count[video][k],
                     cir_live_ts_count(&l->ts, video, k));
        if (r->first & (1u << k)) {
            cir_log_warn(&l->log,
                         "%s timestamps: %s (dts %" PRId64 " pts %" PRId64
                         " in, dts %" PRId64 " pts %" PRId64
                         " out); repaired, counted from now on "
                         "(timestamp_repairs)",
                         video ? "video" : "audio", cir_live_ts_kind_name(k),
                         in->dts, in->pts, r->dts, r->pts);
        }
    }
}

/* The repairs of the whole stream, once at its end. */
static void
log_repairs(cir_live_t *l)
{
    char line[512];
    size_t n = 0;

    for (int video = 1; video >= 0; video--) {
        for (int k = 0; k < CIR_LIVE_TS_KINDS; k++) {
            uint64_t c = cir_live_ts_count(&l->ts, video, k);
            if (c > 0 && n < sizeof(line)) {
                n += (size_t)snprintf(
                    line + n, sizeof(line) - n, " %s %s=%" PRIu64,
                    video ? "video" : "audio", cir_live_ts_kind_name(k), c);
            }
        }
    }
    if (n > 0) {
        cir_log_info(&l->log, "timestamp repairs:%s", line);
    }
}

/* Silence fills a hole in the audio this long at once (when the next
 * frame comes), and keeps the audio this far behind the video when none
 * comes: the usual interleaving of a publisher never triggers it. */
#define SILENCE_HOLE_FRAMES 2
#define SILENCE_AFTER_US    1500000
#define SILENCE_LAG_US      500000

static int64_t
aac_frame(const cir_live_t *l)
{
    return av_rescale_q(1024, (AVRational){1, l->apar->sample_rate},
                        l->audio.tb);
}

static int
on_silence(void *opaque, AVPacket *pkt)
{
    cir_live_t *l = opaque;
    int ret = package(l, &l->audio, pkt);

    if (ret >= 0) {
        l->audio.last_dts = pkt->dts;
        ret = spread_decided(l, &l->audio);
    }
    return ret < 0 ? ret : 0;
}

/* Silent frames from where the audio ends to `to` (audio tb), each
 * ending by it. */
static int
fill_silence(cir_live_t *l, int64_t to)
{
    int64_t end;
    int n;

    if (l->silence == NULL && !l->silence_failed) {
        n = cir_live_silence_open(&l->silence, l->apar);
        if (n < 0) {
            l->silence_failed = 1;
            cir_log_warn(&l->log,
                         "audio holes cannot be filled with silence (%s): "
                         "they stay in the timeline",
                         cir_strerror(n));
        }
    }
    if (l->silence == NULL) {
        return 0;
    }
    n = cir_live_silence_fill(l->silence, l->audio_end, to, l->audio.tb,
                              on_silence, l, &end);
    if (n <= 0) {
        return n;
    }
    l->audio_end = end;
    if (cir_live_ts_note(&l->ts, 0, CIR_LIVE_TS_SILENCE, (uint64_t)n)) {
        cir_log_warn(&l->log,
                     "audio: a hole filled with %d frame(s) of silence, "
                     "counted from now on (timestamp_repairs)",
                     n);
    }
    atomic_store(&l->ts_count[0][CIR_LIVE_TS_SILENCE],
                 cir_live_ts_count(&l->ts, 0, CIR_LIVE_TS_SILENCE));
    return n;
}

/* The video goes on and no audio came for a while: silence keeps the
 * audio rendition's parts and segments going (players would stall on a
 * rendition that stops). */
static int
audio_keep_up(cir_live_t *l, int64_t video_dts)
{
    int64_t v_us, a_us;
    int n;

    if (l->apar == NULL || l->audio.pkg == NULL ||
        l->audio_end == AV_NOPTS_VALUE || l->paused) {
        return 0;
    }
    v_us = av_rescale_q(video_dts, l->video.tb, AV_TIME_BASE_Q);
    a_us = av_rescale_q(l->audio_end, l->audio.tb, AV_TIME_BASE_Q);
    if (v_us - a_us < SILENCE_AFTER_US) {
        return 0;
    }
    n = fill_silence(
        l, av_rescale_q(v_us - SILENCE_LAG_US, AV_TIME_BASE_Q, l->audio.tb));
    if (n > 0 && !l->silence_on) {
        l->silence_on = 1;
        cir_log_warn(&l->log,
                     "no audio for %.1f s while the video goes on: "
                     "silence until it comes back",
                     (double)(v_us - a_us) / 1e6);
    }
    return n < 0 ? n : 0;
}

/* A passthrough AAC frame: a hole before it is filled with silence; one
 * whose time silence already filled is dropped (counted).  1: drop it. */
static int
audio_before_package(cir_live_t *l, const AVPacket *pkt)
{
    int64_t frame;
    int ret;

    if (l->apar == NULL || l->audio_end == AV_NOPTS_VALUE) {
        return 0;
    }
    frame = aac_frame(l);
    if (l->silence_on && pkt->dts + frame / 2 < l->audio_end) {
        if (cir_live_ts_note(&l->ts, 0, CIR_LIVE_TS_OVERLAP, 1)) {
            cir_log_warn(&l->log, "audio: frames that came after silence "
                                  "filled their time are dropped, counted "
                                  "from now on (timestamp_repairs)");
        }
        atomic_store(&l->ts_count[0][CIR_LIVE_TS_OVERLAP],
                     cir_live_ts_count(&l->ts, 0, CIR_LIVE_TS_OVERLAP));
        return 1;
    }
    if (l->silence_on) {
        l->silence_on = 0;
        cir_log_info(&l->log, "the audio is back");
    }
    if (pkt->dts > l->audio_end + SILENCE_HOLE_FRAMES * frame &&
        (ret = fill_silence(l, pkt->dts)) < 0) {
        return ret;
    }
    return 0;
}

int
cir_live_push(cir_live_t *l, int video, const AVPacket *in)
{
    live_track_t *t = video ? &l->video : &l->audio;
    AVPacket *pkt = l->pkt;
    cir_live_ts_result_t fix;
    int brk, ret;

    if (!t->present) {
        return 0; /* a track the pipeline was not told about */
    }
    if (in->dts == AV_NOPTS_VALUE && in->pts == AV_NOPTS_VALUE) {
        return 0;
    }
    atomic_fetch_add(&l->bytes_in, (uint64_t)in->size);
    if (video) {
        atomic_fetch_add(&l->frames_in, 1);
    }
    stats_tick(l);
    /* repaired times: DTS strictly increasing, PTS >= DTS, jumps as
     * discontinuities (live_timestamps.h) */
    ret = cir_live_ts_fix(&l->ts, video, in->dts, in->pts, &fix);
    if (ret < 0) {
        return ret;
    }
    if (fix.kinds) {
        note_repairs(l, video, &fix, in);
    }
    if (ret == CIR_LIVE_TS_DROP) {
        return 0; /* before the stream's start */
    }
    brk = ret == CIR_LIVE_TS_BREAK;
    if (l->paused) {
        /* the publisher's return starts a new timeline, anchored anew,
         * even when its timestamps go on from where they were */
        l->paused = 0;
        if (!brk) {
            cir_log_info(&l->log, "the publisher is back: a new timeline");
            brk = 1;
        }
    }
    if (brk) {
        cir_log_warn(&l->log,
                     "%s timestamps jump (dts %" PRId64
                     "): continuing with a discontinuity",
                     video ? "video" : "audio", in->dts);
        if ((ret = timeline_break(l)) < 0) {
            return ret;
        }
    }
    if (brk || l->anchor_wall == 0) {
        AVRational tb = !video && l->aac ? t->src_tb : t->tb;
        ret = anchor_timeline(l, av_rescale_q(fix.dts, tb, AV_TIME_BASE_Q));
        if (ret < 0) {
            return ret;
        }
    }
    if ((ret = cir_packet_view(pkt, in)) < 0) {
        return ret;
    }
    pkt->dts = fix.dts;
    pkt->pts = fix.pts;
    if (!video && l->aac) {
        ret = cir_live_aac_push(l->aac, pkt, on_aac, l);
        av_packet_unref(pkt);
        return ret < 0 ? ret : 0;
    }
    t->last_dts = pkt->dts;
    ret = 0;
    if (video && l->vdec) {
        if (pkt->flags & AV_PKT_FLAG_KEY) {
            if (l->nb_keys == KEY_RING) {
                memmove(l->key_pts, l->key_pts + 1,
                        (KEY_RING - 1) * sizeof(l->key_pts[0]));
                l->nb_keys--;
            }
            l->key_pts[l->nb_keys++] = pkt->pts;
            if (!l->fanned && l->passthrough && pkt->pts > pkt->dts) {
                l->cts_delay = pkt->pts - pkt->dts;
            }
        }
    }
    if (video && l->vpend != NULL) {
        /* until a keyframe gives the size, nothing is packaged (a CMAF
         * track starts with a keyframe anyway) */
        if ((pkt->flags & AV_PKT_FLAG_KEY) &&
            (ret = open_deferred_video(l, pkt)) < 0) {
            av_packet_unref(pkt);
            return ret;
        }
    }
    if (!video && t->pkg && (ret = audio_before_package(l, pkt)) != 0) {
        av_packet_unref(pkt);
        return ret < 0 ? ret : 0;
    }
    if (t->pkg && !(video && l->vpend != NULL)) {
        ret = package(l, t, pkt);
        if (ret >= 0 && !video && l->apar != NULL) {
            l->audio_end =
                pkt->dts + (pkt->duration > 0 ? pkt->duration : aac_frame(l));
        }
        if (ret >= 0 && video) {
            int r = audio_keep_up(l, pkt->dts);
            ret = r < 0 ? r : ret;
        }
        if (ret == 1 && video && l->audio.pkg) {
            /* audio segments start where the video's do, the first one
             * too (same numbers for the same times) */
            cir_cmaf_live_cut_at(l->audio.pkg,
                                 cir_cmaf_live_segment_start_us(t->pkg));
        }
        if (ret >= 0) {
            ret = spread_decided(l, t);
        }
    }
    if (ret >= 0 && video && l->vdec) {
        ret = decode(l, pkt);
    }
    av_packet_unref(pkt);
    return ret < 0 ? ret : 0;
}

int64_t
cir_live_wake_us(const cir_live_t *l, int video)
{
    const live_track_t *t = video ? &l->video : &l->audio;
    int64_t at;

    if (!t->present) {
        return INT64_MAX; /* its packets are dropped */
    }
    /* decoding and transcoding want every packet as it comes */
    if (!cir_live_ts_started(&l->ts) || (l->vdec != NULL && l->nb_rungs > 0) ||
        (l->vdec != NULL && !l->rungs_started) || (!video && l->aac != NULL) ||
        (video && l->vpend != NULL) || t->pkg == NULL) {
        return INT64_MIN;
    }
    at = cir_cmaf_live_wake_us(t->pkg);
    if (at == INT64_MIN) {
        return INT64_MIN;
    }
    /* the packager's timeline is the repaired source's */
    return cir_live_ts_source_us(&l->ts, video, at);
}

int
cir_live_finish(cir_live_t *l)
{
    cir_live_rec_t *recs[MAX_RENDITIONS];
    size_t n = 0;
    int ret = 0, r;

    if (l->vdec && (r = decode(l, NULL)) < 0) {
        ret = r;
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        if ((r = cir_live_rung_finish(l->rungs[i])) < 0 && ret == 0) {
            cir_log_error(&l->log, "rung %s: %s",
                          cir_live_rung_name(l->rungs[i]), cir_strerror(r));
            ret = r;
        }
    }
    if (l->aac && (r = cir_live_aac_push(l->aac, NULL, on_aac, l)) < 0 &&
        ret == 0) {
        ret = r;
    }
    if (l->video.pkg && (r = cir_cmaf_live_finish(l->video.pkg)) < 0) {
        ret = r;
    }
    if (l->audio.pkg && (r = cir_cmaf_live_finish(l->audio.pkg)) < 0) {
        ret = r;
    }
    if ((r = rec_sync(&l->video)) < 0 || (r = rec_sync(&l->audio)) < 0) {
        ret = r;
    }
    note_dropped(l);
    log_repairs(l);
    if (ret == 0 && l->record_root[0]) {
        if (l->video.rec) {
            recs[n++] = l->video.rec;
        }
        for (int i = 0; i < l->nb_rungs; i++) {
            recs[n++] = l->rung_recs[i];
        }
        if (l->audio.rec) {
            recs[n++] = l->audio.rec;
        }
        ret = cir_live_rec_publish(l->record_root, l->record_version, recs, n,
                                   l->segment_seconds);
        if (ret < 0) {
            cir_log_error(&l->log, "publishing the recording: %s",
                          cir_strerror(ret));
        } else {
            cir_log_info(&l->log, "recorded into %s (version %s)",
                         l->record_root, l->record_version);
        }
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
    for (int i = 0; i < l->nb_rungs; i++) {
        cir_live_rung_free(&l->rungs[i]);
        cir_live_rec_free(&l->rung_recs[i]);
    }
    avcodec_free_context(&l->vdec);
    avcodec_parameters_free(&l->vpend);
    av_frame_free(&l->frame);
    av_packet_free(&l->pkt);
    cir_live_aac_free(&l->aac);
    cir_live_silence_close(&l->silence);
    avcodec_parameters_free(&l->apar);
    cir_cmaf_live_free(&l->video.pkg);
    cir_cmaf_live_free(&l->audio.pkg);
    cir_live_rec_free(&l->video.rec);
    cir_live_rec_free(&l->audio.rec);
    free(l);
    *lp = NULL;
}

static json_t *
rendition_json(const char *name, const char *type, int w, int h,
               const live_rate_t *rate, uint64_t frames, uint64_t dropped)
{
    json_t *j = json_pack(
        "{s:s, s:s, s:I, s:f, s:I, s:I}", "name", name, "type", type, "bitrate",
        (json_int_t)atomic_load(&((live_rate_t *)rate)->bps), "fps",
        atomic_load(&((live_rate_t *)rate)->fps_milli) / 1000.0, "frames",
        (json_int_t)frames, "dropped_frames", (json_int_t)dropped);

    if (j && w > 0) {
        json_object_set_new(j, "width", json_integer(w));
        json_object_set_new(j, "height", json_integer(h));
    }
    return j;
}

/* {"video": {"repeated_dts": n, ...}, "audio": {...}}: every kind of
 * every track the stream has. */
static json_t *
repairs_json(cir_live_t *l)
{
    json_t *j = json_object();

    for (int video = 1; j != NULL && video >= 0; video--) {
        json_t *kinds;
        if (!(video ? l->video.present : l->audio.present)) {
            continue;
        }
        kinds = json_object();
        for (int k = 0; kinds != NULL && k < CIR_LIVE_TS_KINDS; k++) {
            json_object_set_new(
                kinds, cir_live_ts_kind_name(k),
                json_integer((json_int_t)atomic_load(&l->ts_count[video][k])));
        }
        json_object_set_new(j, video ? "video" : "audio", kinds);
    }
    return j;
}

json_t *
cir_live_stats(const cir_live_t *cl)
{
    cir_live_t *l = (cir_live_t *)cl; /* atomics only */
    json_t *j = json_object(), *rends = json_array();
    uint64_t dropped = 0;

    if (j == NULL || rends == NULL) {
        json_decref(j);
        json_decref(rends);
        return NULL;
    }
    if (l->video.pkg) {
        json_array_append_new(
            rends, rendition_json("video", "video", l->video.track.width,
                                  l->video.track.height, &l->rate_video,
                                  atomic_load(&l->video.frames), 0));
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        int w, h;
        uint64_t d = cir_live_rung_dropped(l->rungs[i]);
        cir_live_rung_size(l->rungs[i], &w, &h);
        dropped += d;
        json_array_append_new(
            rends, rendition_json(cir_live_rung_name(l->rungs[i]), "video", w,
                                  h, &l->rate_rung[i],
                                  cir_live_rung_frames(l->rungs[i]), d));
    }
    if (l->audio.pkg) {
        json_array_append_new(
            rends, rendition_json("audio", "audio", 0, 0, &l->rate_audio,
                                  atomic_load(&l->audio.frames), 0));
    }
    json_object_set_new(j, "stream", json_string(l->stream));
    json_object_set_new(j, "uptime", json_real((mono_us() - l->open_us) / 1e6));
    json_object_set_new(j, "bitrate_in",
                        json_integer((json_int_t)atomic_load(&l->rate_in.bps)));
    json_object_set_new(j, "fps_in",
                        json_real(atomic_load(&l->rate_in.fps_milli) / 1000.0));
    json_object_set_new(j, "frames_in",
                        json_integer((json_int_t)atomic_load(&l->frames_in)));
    json_object_set_new(j, "dropped_frames", json_integer((json_int_t)dropped));
    json_object_set_new(j, "renditions", rends);
    json_object_set_new(j, "timestamp_repairs", repairs_json(l));
    return j;
}
