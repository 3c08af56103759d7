/*
 * The live pipeline's tracks: a packager (and recorder) per rendition,
 * the video and audio a publisher announces, codec changes mid-stream.
 */

#include "live_internal.h"

void
live_rendition_dir(const cir_onair_t *l, const char *name, char *dir,
                   size_t size)
{
    /* a name too long leaves "" (the rendition then fails to open) */
    (void)cir_live_dir(dir, size, l->root, l->stream, name);
}

int
live_open_rec(cir_onair_t *l, const char *name, cir_onair_rec_t **rec)
{
    char dir[CIR_URI_MAX + 2 * CIR_LIVE_ID_MAX];
    int ret;

    if (l->record_root[0] == '\0') {
        return 0;
    }
    live_rendition_dir(l, name, dir, sizeof(dir));
    if ((ret = cir_onair_rec_open(rec, l->record_dir, dir, name)) < 0) {
        cir_log_error(&l->log, "recording into %s: %s", l->record_root,
                      cir_strerror(ret));
    }
    return ret;
}

/* Records what t's packager completed (after a segment ended). */
int
live_rec_sync(live_track_t *t)
{
    return t->rec && t->pkg
               ? cir_onair_rec_sync(t->rec, cir_cmaf_live_index(t->pkg))
               : 0;
}

cir_onair_packaging_t
live_packaging(const cir_onair_t *l)
{
    return (cir_onair_packaging_t){
        .part_target_us = l->part_target_us,
        .segment_seconds = l->segment_seconds,
        .target_duration = l->target_duration,
        .window = l->cfg.window,
        .clock = l->cfg.clock,
        .enc = l->enc,
        .keys = l->keys,
    };
}

/* The packager (and recorder) of a track set up by add_track. */
static int
open_track(cir_onair_t *l, live_track_t *t, const AVCodecParameters *par)
{
    cir_onair_packaging_t packaging = live_packaging(l);
    char dir[CIR_URI_MAX + 2 * CIR_LIVE_ID_MAX];
    cir_cmaf_live_config_t c;
    int ret;

    live_rendition_dir(l, t->track.rendition, dir, sizeof(dir));
    c = live_packager_config(&packaging, dir, &t->track, par, t->tb,
                             t->frame_rate);
    /* the passthrough video leads (audio alone leads itself); without it
     * the rungs' schedule leads (fan_out) */
    c.decides_target = t == &l->video || !l->video.present;
    c.follower = t == &l->audio && l->video.present;
    if ((ret = cir_cmaf_live_open(&t->pkg, &c)) < 0) {
        return ret;
    }
    if (l->anchor_wall != 0 &&
        (ret = cir_cmaf_live_set_anchor(t->pkg, l->anchor_wall, l->anchor_media,
                                        0, 0)) < 0) {
        return ret;
    }
    return live_open_rec(l, t->track.rendition, &t->rec);
}

static int
add_track(cir_onair_t *l, live_track_t *t, const char *name,
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
defer_video(cir_onair_t *l, const AVCodecParameters *par, int reconf)
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
int
live_open_deferred_video(cir_onair_t *l, const AVPacket *key)
{
    live_track_t *t = &l->video;
    AVCodecParameters *par = l->vpend;
    int w = 0, h = 0, ret;

    if (cir_onair_probe_size(par, key, &w, &h) == 0) {
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
        ret = ret < 0 ? ret : live_rec_sync(t);
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
cir_onair_add_video(cir_onair_t *l, const AVCodecParameters *par, AVRational tb,
                    AVRational frame_rate, uint64_t bandwidth)
{
    live_track_t *t = &l->video;
    int ret;

    if (t->present || cir_onair_ts_started(&l->ts)) {
        return CIR_EINVAL;
    }
    if ((ret = cir_onair_ts_add_track(&l->ts, 1, tb, l->cfg.ts_wrap_bits)) <
        0) {
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
    if ((ret = live_open_decoder(l, par, tb)) < 0) {
        return ret;
    }
    l->frame = av_frame_alloc();
    if (l->frame == NULL) {
        return CIR_ENOMEM;
    }
    /* a size not known yet (a publisher's bare sequence header): the
     * first decoded frame tells */
    return par->width > 0 && par->height > 0
               ? live_start_rungs(l, par->width, par->height)
               : 0;
}

int
cir_onair_add_audio(cir_onair_t *l, const AVCodecParameters *par, AVRational tb,
                    uint64_t bandwidth)
{
    live_track_t *t = &l->audio;
    const AVCodecParameters *apar = par;
    int ret, want;

    if (t->present || cir_onair_ts_started(&l->ts)) {
        return CIR_EINVAL;
    }
    /* the source's packets (transcoded audio too) */
    if ((ret = cir_onair_ts_add_track(&l->ts, 0, tb, l->cfg.ts_wrap_bits)) <
        0) {
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
        ret = cir_onair_aac_open(&l->aac, par, tb,
                                 l->abr ? l->preset.audio_bitrate_kbps : 128,
                                 want);
        if (ret < 0) {
            cir_log_error(&l->log, "audio codec %s is not supported live",
                          avcodec_get_name(par->codec_id));
            return CIR_EUNSUPPORTED;
        }
        apar = cir_onair_aac_par(l->aac);
        t->src_tb = tb;
        tb = cir_onair_aac_time_base(l->aac);
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

int
cir_onair_reconfigure(cir_onair_t *l, int video, const AVCodecParameters *par)
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
        if ((ret = live_decode(l, NULL)) < 0 ||
            (ret = live_open_decoder(l, par, t->tb)) < 0) {
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
    live_note_dropped(l);
    return ret < 0 ? ret : live_rec_sync(t);
}
