/*
 * The live pipeline's counts and rates: frames and bytes in and out,
 * drops, the rungs' health (live_health.h: an episode of drops logged
 * once), timestamp repairs (logged once with a count), cir_onair_stats.
 *
 * Tested by tests/unit/test_transcoder_live_abr.c.
 */

#include "live_internal.h"

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

/* A rung that dropped frames in the last window: one warning when its
 * episode starts, one line when it has kept up for a while again. */
static void
note_rung_health(cir_onair_t *l, int i, int64_t now)
{
    cir_onair_rung_t *r = l->rungs[i];
    live_health_t *h = &l->rung_health[i];
    double fps_in = atomic_load(&l->rate_in.fps_milli) / 1000.0;

    switch (live_health_window(h, cir_onair_rung_dropped(r), now)) {
    case LIVE_HEALTH_DEGRADED:
        atomic_store(&l->rung_degraded[i], 1);
        cir_log_warn(&l->log,
                     "rendition %s degraded: its encoder falls behind, "
                     "%.1f fps out of %.1f in, %" PRIu64 " frames dropped, "
                     "encoder lag %.0f ms (fewer or smaller rungs, a faster "
                     "encoder_preset or more cores)",
                     cir_onair_rung_name(r),
                     atomic_load(&l->rate_rung[i].fps_milli) / 1000.0, fps_in,
                     live_health_episode_dropped(h),
                     cir_onair_rung_lag_us(r) / 1000.0);
        break;
    case LIVE_HEALTH_RECOVERED:
        atomic_store(&l->rung_degraded[i], 0);
        cir_log_info(&l->log,
                     "rendition %s keeps up again after %.0f s degraded: "
                     "%" PRIu64 " frames dropped in that time",
                     cir_onair_rung_name(r), (double)(now - h->since_us) / 1e6,
                     live_health_episode_dropped(h));
        break;
    default:
        break;
    }
}

void
live_stats_tick(cir_onair_t *l)
{
    int64_t now = live_mono_us(), dt = now - l->window_us;

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
        rate_update(&l->rate_rung[i], cir_onair_rung_frames(l->rungs[i]),
                    cir_onair_rung_bytes(l->rungs[i]), dt);
        note_rung_health(l, i, now);
    }
}

/* What the packagers dropped before their track could start (video
 * before a keyframe, audio before the video's first segment): counted
 * with the repairs, logged at the first of a kind. */
void
live_note_dropped(cir_onair_t *l)
{
    for (int video = 0; video < 2; video++) {
        live_track_t *t = video ? &l->video : &l->audio;
        cir_onair_ts_kind_t k =
            video ? CIR_ONAIR_TS_BEFORE_KEY : CIR_ONAIR_TS_BEFORE_VIDEO;
        uint64_t n;
        if (t->pkg == NULL ||
            (n = cir_cmaf_live_dropped(t->pkg) - l->pkg_dropped[video]) == 0) {
            continue;
        }
        l->pkg_dropped[video] += n;
        if (cir_onair_ts_note(&l->ts, video, k, n)) {
            cir_log_warn(&l->log,
                         "%s: %" PRIu64 " frame(s) dropped (%s), counted "
                         "from now on (timestamp_repairs)",
                         video ? "video" : "audio", n,
                         cir_onair_ts_kind_name(k));
        }
        atomic_store(&l->ts_count[video][k],
                     cir_onair_ts_count(&l->ts, video, k));
    }
}

/* Counts the repairs of a packet for the stats; the first of each kind
 * on a track is logged (the counts are in the stats and at the end). */
void
live_note_repairs(cir_onair_t *l, int video, const cir_onair_ts_result_t *r,
                  const AVPacket *in)
{
    for (int k = 0; k < CIR_ONAIR_TS_KINDS; k++) {
        if (!(r->kinds & (1u << k))) {
            continue;
        }
        atomic_store(&l->ts_count[video][k],
                     cir_onair_ts_count(&l->ts, video, k));
        if (r->first & (1u << k)) {
            cir_log_warn(&l->log,
                         "%s timestamps: %s (dts %" PRId64 " pts %" PRId64
                         " in, dts %" PRId64 " pts %" PRId64
                         " out); repaired, counted from now on "
                         "(timestamp_repairs)",
                         video ? "video" : "audio", cir_onair_ts_kind_name(k),
                         in->dts, in->pts, r->dts, r->pts);
        }
    }
}

/* The repairs of the whole stream, once at its end. */
void
live_log_repairs(cir_onair_t *l)
{
    char line[512];
    size_t n = 0;

    for (int video = 1; video >= 0; video--) {
        for (int k = 0; k < CIR_ONAIR_TS_KINDS; k++) {
            uint64_t c = cir_onair_ts_count(&l->ts, video, k);
            if (c > 0 && n < sizeof(line)) {
                n += (size_t)snprintf(
                    line + n, sizeof(line) - n, " %s %s=%" PRIu64,
                    video ? "video" : "audio", cir_onair_ts_kind_name(k), c);
            }
        }
    }
    if (n > 0) {
        cir_log_info(&l->log, "timestamp repairs:%s", line);
    }
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
repairs_json(cir_onair_t *l)
{
    json_t *j = json_object();

    for (int video = 1; j != NULL && video >= 0; video--) {
        json_t *kinds;
        if (!(video ? l->video.present : l->audio.present)) {
            continue;
        }
        kinds = json_object();
        for (int k = 0; kinds != NULL && k < CIR_ONAIR_TS_KINDS; k++) {
            json_object_set_new(
                kinds, cir_onair_ts_kind_name(k),
                json_integer((json_int_t)atomic_load(&l->ts_count[video][k])));
        }
        json_object_set_new(j, video ? "video" : "audio", kinds);
    }
    return j;
}

json_t *
cir_onair_stats(const cir_onair_t *cl)
{
    cir_onair_t *l = (cir_onair_t *)cl; /* atomics only */
    json_t *j = json_object(), *rends = json_array();
    uint64_t dropped = 0;
    int degraded = 0;

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
        int w, h, bad = atomic_load(&l->rung_degraded[i]);
        uint64_t d = cir_onair_rung_dropped(l->rungs[i]);
        json_t *r;
        cir_onair_rung_size(l->rungs[i], &w, &h);
        dropped += d;
        degraded |= bad;
        r = rendition_json(cir_onair_rung_name(l->rungs[i]), "video", w, h,
                           &l->rate_rung[i], cir_onair_rung_frames(l->rungs[i]),
                           d);
        if (r != NULL) {
            json_object_set_new(
                r, "encoder_lag",
                json_real(cir_onair_rung_lag_us(l->rungs[i]) / 1e6));
            json_object_set_new(r, "degraded", json_boolean(bad));
        }
        json_array_append_new(rends, r);
    }
    if (l->audio.pkg) {
        json_array_append_new(
            rends, rendition_json("audio", "audio", 0, 0, &l->rate_audio,
                                  atomic_load(&l->audio.frames), 0));
    }
    json_object_set_new(j, "stream", json_string(l->stream));
    json_object_set_new(j, "uptime",
                        json_real((live_mono_us() - l->open_us) / 1e6));
    json_object_set_new(j, "bitrate_in",
                        json_integer((json_int_t)atomic_load(&l->rate_in.bps)));
    json_object_set_new(j, "fps_in",
                        json_real(atomic_load(&l->rate_in.fps_milli) / 1000.0));
    json_object_set_new(j, "frames_in",
                        json_integer((json_int_t)atomic_load(&l->frames_in)));
    json_object_set_new(j, "dropped_frames", json_integer((json_int_t)dropped));
    json_object_set_new(j, "degraded", json_boolean(degraded));
    json_object_set_new(j, "renditions", rends);
    json_object_set_new(j, "timestamp_repairs", repairs_json(l));
    return j;
}
