/*
 * The live pipeline: timestamp repair (live_timestamps.h) in front of one
 * live CMAF packager per rendition.  This file: opening, pushing packets
 * (with silence for vanishing AAC audio), finishing; the tracks, the ABR
 * fan-out, the timeline and the stats are in live_*.c beside it.
 */

#include "cir_clock.h"
#include "live_internal.h"
#include "live_keys.h"

/* Silence fills a hole in the audio this long at once (when the next
 * frame comes), and keeps the audio this far behind the video when none
 * comes: the usual interleaving of a publisher never triggers it. */
#define SILENCE_HOLE_FRAMES 2
#define SILENCE_AFTER_US    1500000
#define SILENCE_LAG_US      500000

int64_t
live_mono_us(void)
{
    return cir_clock_mono_us(cir_clock_system());
}

int
cir_onair_open(cir_onair_t **out, const cir_onair_config_t *cfg)
{
    cir_onair_t *l;
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
        cfg->queue_frames == 1 ||
        cfg->queue_frames > CIR_ONAIR_RUNG_QUEUE_MAX ||
        (cfg->preset && cfg->preset->video_enabled &&
         cfg->preset->nb_rungs < 1)) {
        return CIR_EINVAL;
    }
    if (cfg->record_uri && (cir_uri_parse(cfg->record_uri, &uri) < 0 ||
                            uri.scheme != CIR_URI_FILE)) {
        return CIR_EUNSUPPORTED; /* file:// only for now */
    }
    /* a recording is assembled from the live segments: it would be
     * encrypted media under clear manifests */
    if (cfg->record_uri && cfg->encryption &&
        cfg->encryption->scheme != CIR_ENC_NONE) {
        return CIR_EUNSUPPORTED;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL || (l->pkt = av_packet_alloc()) == NULL) {
        free(l);
        return CIR_ENOMEM;
    }
    l->cfg = *cfg;
    l->cfg.encryption = NULL; /* l->enc */
    if (cfg->encryption && cfg->encryption->scheme != CIR_ENC_NONE) {
        if ((l->enc = malloc(sizeof(*l->enc))) == NULL) {
            av_packet_free(&l->pkt);
            free(l);
            return CIR_ENOMEM;
        }
        *l->enc = *cfg->encryption;
        if (cfg->rotate_segments > 0 &&
            cir_live_keys_open(&l->keys, l->enc, cfg->rotate_segments) < 0) {
            cir_encryption_clear(l->enc);
            free(l->enc);
            av_packet_free(&l->pkt);
            free(l);
            return CIR_EINVAL; /* rotation needs a key provider */
        }
    }
    l->audio_end = AV_NOPTS_VALUE;
    l->video_start_us = AV_NOPTS_VALUE;
    snprintf(l->stream, sizeof(l->stream), "%s", cfg->stream);
    snprintf(l->root, sizeof(l->root), "%s", cfg->live_root);
    l->cfg.stream = l->stream;
    l->cfg.live_root = l->root;
    l->cfg.record_uri = NULL;
    l->segment_seconds = seg;
    l->part_target_us = cir_live_part_target_us(cfg->part_seconds);
    if (l->cfg.max_gap_seconds <= 0) {
        l->cfg.max_gap_seconds = CIR_ONAIR_TS_MAX_GAP_US / 1e6;
    }
    if (l->cfg.max_correction_seconds <= 0) {
        l->cfg.max_correction_seconds = CIR_ONAIR_TS_MAX_CORRECTION_US / 1e6;
    }
    cir_onair_ts_init(
        &l->ts,
        &(cir_onair_ts_config_t){
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
        if (cir_onair_rec_version(l->record_root, l->record_version,
                                  sizeof(l->record_version), l->record_dir,
                                  sizeof(l->record_dir)) < 0) {
            av_packet_free(&l->pkt);
            free(l);
            return CIR_EINVAL;
        }
    }
    l->next_key_us = AV_NOPTS_VALUE;
    l->open_us = l->window_us = live_mono_us();
    l->log = (cir_log_ctx_t){.component = "live", .stream = l->stream};
    *out = l;
    return 0;
}

static int
package(cir_onair_t *l, live_track_t *t, const AVPacket *pkt)
{
    int ret = cir_cmaf_live_write(t->pkg, pkt);

    live_note_dropped(l);

    if (ret >= 0) {
        atomic_fetch_add(&t->frames, 1);
        atomic_fetch_add(&t->bytes, (uint64_t)pkt->size);
    }
    if (ret == 1) {
        int r = live_rec_sync(t);
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
    cir_onair_t *l = opaque;
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
        ret = live_spread_decided(l, t);
    }
    return ret < 0 ? ret : 0;
}

static int64_t
aac_frame(const cir_onair_t *l)
{
    return av_rescale_q(1024, (AVRational){1, l->apar->sample_rate},
                        l->audio.tb);
}

static int
on_silence(void *opaque, AVPacket *pkt)
{
    cir_onair_t *l = opaque;
    int ret = package(l, &l->audio, pkt);

    if (ret >= 0) {
        l->audio.last_dts = pkt->dts;
        ret = live_spread_decided(l, &l->audio);
    }
    return ret < 0 ? ret : 0;
}

/* Silent frames from where the audio ends to `to` (audio tb), each
 * ending by it. */
static int
fill_silence(cir_onair_t *l, int64_t to)
{
    int64_t end;
    int n;

    if (l->silence == NULL && !l->silence_failed) {
        n = cir_onair_silence_open(&l->silence, l->apar);
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
    n = cir_onair_silence_fill(l->silence, l->audio_end, to, l->audio.tb,
                               on_silence, l, &end);
    if (n <= 0) {
        return n;
    }
    l->audio_end = end;
    if (cir_onair_ts_note(&l->ts, 0, CIR_ONAIR_TS_SILENCE, (uint64_t)n)) {
        cir_log_warn(&l->log,
                     "audio: a hole filled with %d frame(s) of silence, "
                     "counted from now on (timestamp_repairs)",
                     n);
    }
    atomic_store(&l->ts_count[0][CIR_ONAIR_TS_SILENCE],
                 cir_onair_ts_count(&l->ts, 0, CIR_ONAIR_TS_SILENCE));
    return n;
}

/* The video goes on and no audio came for a while: silence keeps the
 * audio rendition's parts and segments going (players would stall on a
 * rendition that stops). */
static int
audio_keep_up(cir_onair_t *l, int64_t video_dts)
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

/*
 * The timeline's first audio frame coming after the video's first segment
 * began (publishers start their audio up to a few hundred ms late:
 * GStreamer's, 120 ms): silence from where the video starts, so the audio's
 * first segment starts, and is dated, with the video's (PDT alike in every
 * rendition).  Later than SILENCE_LAG_US it is audio appearing late: its
 * segments start where it does.
 */
static int
audio_lead_in(cir_onair_t *l, const AVPacket *pkt)
{
    int64_t start;

    if (l->video_start_us == AV_NOPTS_VALUE) {
        return 0;
    }
    start = av_rescale_q(l->video_start_us, AV_TIME_BASE_Q, l->audio.tb);
    if (pkt->dts <= start + SILENCE_HOLE_FRAMES * aac_frame(l) ||
        pkt->dts - start >
            av_rescale_q(SILENCE_LAG_US, AV_TIME_BASE_Q, l->audio.tb)) {
        return 0;
    }
    l->audio_end = start;
    return fill_silence(l, pkt->dts);
}

/* A passthrough AAC frame: a hole before it is filled with silence; one
 * whose time silence already filled is dropped (counted).  1: drop it. */
static int
audio_before_package(cir_onair_t *l, const AVPacket *pkt)
{
    int64_t frame;
    int ret;

    if (l->apar == NULL) {
        return 0;
    }
    if (l->audio_end == AV_NOPTS_VALUE) {
        ret = audio_lead_in(l, pkt);
        return ret < 0 ? ret : 0;
    }
    frame = aac_frame(l);
    if (l->silence_on && pkt->dts + frame / 2 < l->audio_end) {
        if (cir_onair_ts_note(&l->ts, 0, CIR_ONAIR_TS_OVERLAP, 1)) {
            cir_log_warn(&l->log, "audio: frames that came after silence "
                                  "filled their time are dropped, counted "
                                  "from now on (timestamp_repairs)");
        }
        atomic_store(&l->ts_count[0][CIR_ONAIR_TS_OVERLAP],
                     cir_onair_ts_count(&l->ts, 0, CIR_ONAIR_TS_OVERLAP));
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

/* Repairs a packet's times (DTS strictly increasing, PTS >= DTS, jumps as
 * discontinuities: live_timestamps.h) and starts a new timeline where they
 * jump or the publisher came back.  Returns 1 to go on with fix, 0 to drop
 * the packet (before the stream's start), or an error. */
static int
fix_timeline(cir_onair_t *l, int video, const AVPacket *in,
             cir_onair_ts_result_t *fix)
{
    live_track_t *t = video ? &l->video : &l->audio;
    int brk, ret;

    ret = cir_onair_ts_fix(&l->ts, video, in->dts, in->pts, fix);
    if (ret < 0) {
        return ret;
    }
    if (fix->kinds) {
        live_note_repairs(l, video, fix, in);
    }
    if (ret == CIR_ONAIR_TS_DROP) {
        return 0; /* before the stream's start */
    }
    brk = ret == CIR_ONAIR_TS_BREAK;
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
        if ((ret = live_timeline_break(l)) < 0) {
            return ret;
        }
    }
    if (brk || l->anchor_wall == 0) {
        AVRational tb = !video && l->aac ? t->src_tb : t->tb;
        ret =
            live_anchor_timeline(l, av_rescale_q(fix->dts, tb, AV_TIME_BASE_Q));
        if (ret < 0) {
            return ret;
        }
    }
    return 1;
}

/* A source keyframe the decoder will see: its pts for the rungs'
 * keyframe decision, and the source's composition delay. */
static void
note_source_key(cir_onair_t *l, const AVPacket *pkt)
{
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

/* A passthrough packet into its track's packager: the audio's end (for
 * silence), the audio kept up with the video, the audio's segments cut
 * where the video's start, the target duration spread once decided. */
static int
package_passthrough(cir_onair_t *l, live_track_t *t, int video,
                    const AVPacket *pkt)
{
    int ret = package(l, t, pkt);

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
        if (l->video_start_us == AV_NOPTS_VALUE) {
            /* its first picture shown: with B-frames, a reorder delay
             * after the segment's DTS, where the audio starts too */
            l->video_start_us =
                av_rescale_q(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts,
                             t->tb, AV_TIME_BASE_Q);
        }
    }
    if (ret >= 0) {
        ret = live_spread_decided(l, t);
    }
    return ret;
}

/* The packet with repaired times (l->pkt, a view): passthrough, rungs. */
static int
push_fixed(cir_onair_t *l, int video, AVPacket *pkt)
{
    live_track_t *t = video ? &l->video : &l->audio;
    int ret = 0;

    if (!video && l->aac) {
        ret = cir_onair_aac_push(l->aac, pkt, on_aac, l);
        return ret < 0 ? ret : 0;
    }
    t->last_dts = pkt->dts;
    if (video && l->vdec && (pkt->flags & AV_PKT_FLAG_KEY)) {
        note_source_key(l, pkt);
    }
    if (video && l->vpend != NULL) {
        /* until a keyframe gives the size, nothing is packaged (a CMAF
         * track starts with a keyframe anyway) */
        if ((pkt->flags & AV_PKT_FLAG_KEY) &&
            (ret = live_open_deferred_video(l, pkt)) < 0) {
            return ret;
        }
    }
    if (!video && t->pkg && (ret = audio_before_package(l, pkt)) != 0) {
        return ret < 0 ? ret : 0;
    }
    if (t->pkg && !(video && l->vpend != NULL)) {
        ret = package_passthrough(l, t, video, pkt);
    }
    if (ret >= 0 && video && l->vdec) {
        ret = live_decode(l, pkt);
    }
    return ret < 0 ? ret : 0;
}

int
cir_onair_push(cir_onair_t *l, int video, const AVPacket *in)
{
    live_track_t *t = video ? &l->video : &l->audio;
    AVPacket *pkt = l->pkt;
    cir_onair_ts_result_t fix;
    int ret;

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
    live_stats_tick(l);
    if ((ret = fix_timeline(l, video, in, &fix)) <= 0) {
        return ret;
    }
    if ((ret = cir_packet_view(pkt, in)) < 0) {
        return ret;
    }
    pkt->dts = fix.dts;
    pkt->pts = fix.pts;
    ret = push_fixed(l, video, pkt);
    av_packet_unref(pkt);
    return ret;
}

int64_t
cir_onair_wake_us(const cir_onair_t *l, int video)
{
    const live_track_t *t = video ? &l->video : &l->audio;
    int64_t at;

    if (!t->present) {
        return INT64_MAX; /* its packets are dropped */
    }
    /* decoding and transcoding want every packet as it comes */
    if (!cir_onair_ts_started(&l->ts) || (l->vdec != NULL && l->nb_rungs > 0) ||
        (l->vdec != NULL && !l->rungs_started) || (!video && l->aac != NULL) ||
        (video && l->vpend != NULL) || t->pkg == NULL) {
        return INT64_MIN;
    }
    at = cir_cmaf_live_wake_us(t->pkg);
    if (at == INT64_MIN) {
        return INT64_MIN;
    }
    /* the packager's timeline is the repaired source's */
    return cir_onair_ts_source_us(&l->ts, video, at);
}

int
cir_onair_finish(cir_onair_t *l)
{
    cir_onair_rec_t *recs[MAX_RENDITIONS];
    size_t n = 0;
    int ret = 0, r;

    if (l->vdec && (r = live_decode(l, NULL)) < 0) {
        ret = r;
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        if ((r = cir_onair_rung_finish(l->rungs[i])) < 0 && ret == 0) {
            cir_log_error(&l->log, "rung %s: %s",
                          cir_onair_rung_name(l->rungs[i]), cir_strerror(r));
            ret = r;
        }
    }
    if (l->aac && (r = cir_onair_aac_push(l->aac, NULL, on_aac, l)) < 0 &&
        ret == 0) {
        ret = r;
    }
    if (l->video.pkg && (r = cir_cmaf_live_finish(l->video.pkg)) < 0) {
        ret = r;
    }
    if (l->audio.pkg && (r = cir_cmaf_live_finish(l->audio.pkg)) < 0) {
        ret = r;
    }
    if ((r = live_rec_sync(&l->video)) < 0 ||
        (r = live_rec_sync(&l->audio)) < 0) {
        ret = r;
    }
    live_note_dropped(l);
    live_log_repairs(l);
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
        ret = cir_onair_rec_publish(l->record_root, l->record_version, recs, n,
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
cir_onair_close(cir_onair_t **lp)
{
    cir_onair_t *l = *lp;

    if (l == NULL) {
        return;
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        cir_onair_rung_free(&l->rungs[i]);
        cir_onair_rec_free(&l->rung_recs[i]);
    }
    avcodec_free_context(&l->vdec);
    avcodec_parameters_free(&l->vpend);
    av_frame_free(&l->frame);
    av_packet_free(&l->pkt);
    cir_onair_aac_free(&l->aac);
    cir_onair_silence_close(&l->silence);
    avcodec_parameters_free(&l->apar);
    cir_cmaf_live_free(&l->video.pkg);
    cir_cmaf_live_free(&l->audio.pkg);
    cir_onair_rec_free(&l->video.rec);
    cir_onair_rec_free(&l->audio.rec);
    cir_live_keys_free(&l->keys);
    if (l->enc != NULL) {
        cir_encryption_clear(l->enc);
        free(l->enc);
    }
    free(l);
    *lp = NULL;
}
