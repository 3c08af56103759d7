/*
 * The live pipeline's timeline: breaks (a publisher leaving, a timestamp
 * jump), the wall-clock anchor shared by every rendition, outages filled
 * with GAP segments, the stream's target duration spread to all.
 *
 * Tested by tests/unit/test_transcoder_live_abr.c and
 * test_transcoder_live_tracks.c.
 */

#include "live_internal.h"

/* A jump in the source's timestamps (the repair stage continues the
 * output timeline just after where it was): a discontinuity in every
 * rendition. */
int
live_timeline_break(cir_onair_t *l)
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
    if (l->nb_rungs > 0 && (ret = live_drain_decoder(l)) < 0) {
        return ret;
    }
    if (l->video.pkg) {
        if ((ret = cir_cmaf_live_discontinuity(l->video.pkg, AV_NOPTS_VALUE)) <
                0 ||
            (ret = live_rec_sync(&l->video)) < 0) {
            return ret;
        }
    }
    if (l->audio.pkg) {
        /* the audio follows the passthrough's segments: a segment the
         * video began just before the break is a gap in the audio */
        ret = cir_cmaf_live_discontinuity(
            l->audio.pkg,
            l->video.pkg ? cir_cmaf_live_end_us(l->video.pkg) : AV_NOPTS_VALUE);
        live_note_dropped(l);
        if (ret < 0 || (ret = live_rec_sync(&l->audio)) < 0) {
            return ret;
        }
    }
    if (l->nb_rungs > 0) {
        l->disc_pending = 1;
    }
    /* no silence across a break: the new timeline's audio starts anew */
    l->audio_end = AV_NOPTS_VALUE;
    l->video_start_us = AV_NOPTS_VALUE;
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
cir_onair_pause(cir_onair_t *l)
{
    int ret;

    if (l->paused || l->anchor_wall == 0) {
        return 0; /* already paused, or nothing packaged yet */
    }
    if ((ret = live_timeline_break(l)) < 0) {
        return ret;
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        if ((ret = cir_onair_rung_break(l->rungs[i])) < 0) {
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
 * it with as many segments, none longer than a segment, of its last
 * picture or of silence (cmaf_live_outage.c; GAP segments where a track
 * cannot).
 */
int
live_anchor_timeline(cir_onair_t *l, int64_t media_us)
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
                         "%.3f s without media: %u segment%s of the last "
                         "picture and silence in every rendition",
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
        cir_onair_rung_set_anchor(l->rungs[i], wall, media_us, gaps, hole);
    }
    return 0;
}

/* The stream's target duration, decided by its leader (the passthrough's
 * or the audio's first segment, or the rungs' schedule in fan_out), to
 * every rendition: one TARGETDURATION and SERVER-CONTROL for all. */
int
live_spread_target(cir_onair_t *l, uint32_t td)
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
        cir_onair_rung_set_target_duration(l->rungs[i], td);
    }
    return 0;
}

/* After a packager wrote: whether its first segment decided the target. */
int
live_spread_decided(cir_onair_t *l, const live_track_t *t)
{
    return l->target_duration != 0 || t->pkg == NULL
               ? 0
               : live_spread_target(l, cir_cmaf_live_target_duration(t->pkg));
}
