/*
 * The live pipeline with ABR rungs: decode once, scale and encode each rung
 * on its own thread, segments aligned across renditions, dropped frames
 * counted, timelines across reconnects and pauses, closed captions carried
 * through drops and repeats.
 */
#include "live_abr_fixture.h"
#include "live_health.h"

#include <libavutil/time.h>

Test(transcoder_live_abr, rungs_cut_segments_with_the_passthrough,
     .init = setup, .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("in.mp4");
    const char *names[] = {"video", "180p", "90p", "audio"};
    cir_live_index_t v, r;

    cr_assert_eq(cir_onair_run_file(&j), 0);
    assert_aligned(names, 4, 3);
    cr_assert_neq(load("360p", &v), 0, "no rung above the source");
    cr_assert_eq(load("90p", &r), 0);
    cr_assert_eq(r.track.width, 160);
    cr_assert_eq(r.track.height, 90);
    cr_assert_eq(strncmp(r.track.codecs, "avc1.", 5), 0);
    cir_live_index_free(&r);
}

/* A rung the size of the passthrough (a 720p rung on a 720p source) would
 * repeat it at a lower quality: skipped, and with no rung left nothing is
 * decoded.  Without a passthrough the rung is the top of the ladder. */
Test(transcoder_live_abr, a_rung_as_big_as_the_passthrough_is_skipped,
     .init = setup, .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("same.mp4");
    const char *names[] = {"video", "90p", "audio"};
    cir_live_index_t x;
    json_t *st;

    make_input_sized("aac", "same.mp4", 3, "320x180");
    cr_assert_eq(cir_onair_run_file(&j), 0);
    assert_aligned(names, 3, 2);
    cr_assert_neq(load("180p", &x), 0, "no 180p beside a 320x180 passthrough");
    cr_assert_eq(load("video", &x), 0);
    cr_assert_eq(x.track.width, 320);
    cr_assert_eq(x.track.height, 180);
    cir_live_index_free(&x);

    /* only that rung in the preset: the passthrough alone, no decoding */
    preset.nb_rungs = 1;
    preset.rungs[0] =
        (cir_rung_t){.name = "180p", .height = 180, .bitrate_kbps = 300};
    j.live.stream = "s2";
    {
        cir_onair_t *live = NULL;
        AVFormatContext *ic = NULL;
        int vi = open_file(j.input, &ic);

        cr_assert_eq(cir_onair_open(&live, &j.live), 0);
        cr_assert_eq(cir_onair_add_video(live, ic->streams[vi]->codecpar,
                                         ic->streams[vi]->time_base,
                                         ic->streams[vi]->avg_frame_rate, 0),
                     0);
        push_video_packets(live, ic, vi);
        /* nothing to decode for: the feeder may batch (no rung wants
         * every packet) */
        cr_assert_neq(cir_onair_wake_us(live, 1), INT64_MIN);
        st = cir_onair_stats(live);
        cr_assert_eq(json_array_size(json_object_get(st, "renditions")), 1);
        json_decref(st);
        cr_assert_eq(cir_onair_finish(live), 0);
        cir_onair_close(&live);
        avformat_close_input(&ic);
    }

    /* no passthrough: the 180p rung is the top of the ladder */
    j.live.stream = "s1";
    j.live.passthrough = 0;
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s/live", workdir);
        cr_assert_eq(system(cmd), 0);
    }
    cr_assert_eq(cir_onair_run_file(&j), 0);
    cr_assert_eq(load("180p", &x), 0);
    cr_assert_eq(x.track.height, 180);
    cir_live_index_free(&x);
}

Test(transcoder_live_abr, rungs_alone_follow_the_preset_gop, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("in.mp4");
    const char *names[] = {"180p", "90p", "audio"};
    cir_live_index_t v;

    j.live.passthrough = 0;
    j.live.segment_seconds = 0; /* the preset's */
    cr_assert_eq(cir_onair_run_file(&j), 0);
    cr_assert_neq(load("video", &v), 0, "no passthrough");
    assert_aligned(names, 3, 3);
    cr_assert_eq(load("180p", &v), 0);
    cr_assert_float_eq((double)v.segments[1].duration / v.timescale, 2.0, 0.01);
    cir_live_index_free(&v);
}

/* A rung whose encoder is slow drops frames instead of queueing them, and
 * the counter says so; keyframes are kept, so segments still align. */
/* j's input opened, and a live pipeline with its video and audio in the
 * file's own time bases. */
static void
open_pipeline(const cir_onair_file_job_t *j, AVFormatContext **ic,
              cir_onair_t **live, int *vi, int *ai)
{
    AVStream *v, *a;

    *vi = open_file(j->input, ic);
    *ai = av_find_best_stream(*ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    v = (*ic)->streams[*vi];
    a = (*ic)->streams[*ai];
    cr_assert_eq(cir_onair_open(live, &j->live), 0);
    cr_assert_eq(cir_onair_add_video(*live, v->codecpar, v->time_base,
                                     v->avg_frame_rate, 0),
                 0);
    cr_assert_eq(cir_onair_add_audio(*live, a->codecpar, a->time_base, 0), 0);
}

Test(transcoder_live_abr, a_slow_rung_drops_frames, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("in.mp4");
    const char *names[] = {"video", "180p", "90p"};
    cir_onair_t *live = NULL;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    json_t *st, *rends;
    int vi, ai, pushed = 0;

    j.live.queue_frames = 2;
    j.live.test_rung_delay_us = 20000; /* the last rung, 90p: 50 fps at most */
    open_pipeline(&j, &ic, &live, &vi, &ai);
    /* as fast as the file reads: far faster than 30 ms a frame */
    while (av_read_frame(ic, pkt) == 0) {
        cr_assert_eq(cir_onair_push(live, pkt->stream_index == vi, pkt), 0);
        pushed += pkt->stream_index == vi;
        av_packet_unref(pkt);
    }
    cr_assert_eq(cir_onair_finish(live), 0);
    st = cir_onair_stats(live);
    cr_assert_not_null(st);
    cr_assert_eq(json_integer_value(json_object_get(st, "frames_in")), pushed);
    cr_assert_gt(json_integer_value(json_object_get(st, "dropped_frames")), 0);
    rends = json_object_get(st, "renditions");
    cr_assert_eq(json_array_size(rends), 4, "video, 180p, 90p, audio");
    json_t *slow = json_array_get(rends, 2);
    cr_assert_str_eq(json_string_value(json_object_get(slow, "name")), "90p");
    json_int_t dropped =
        json_integer_value(json_object_get(slow, "dropped_frames"));
    json_int_t frames = json_integer_value(json_object_get(slow, "frames"));
    cr_assert_gt(dropped, pushed / 4, "90p dropped %lld of %d",
                 (long long)dropped, pushed);
    cr_assert_eq(frames + dropped, pushed, "every frame encoded or dropped");
    cr_assert_eq(
        json_integer_value(json_object_get(json_array_get(rends, 2), "height")),
        90);
    json_decref(st);
    cir_onair_close(&live);
    assert_aligned(names, 3, 3);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}

/* Drops in a stats window start an episode once; three windows in a row
 * without one end it, with what it cost. */
Test(transcoder_live_abr, health_episodes_start_once_and_end_when_clean)
{
    live_health_t h = {0};

    cr_assert_eq(live_health_window(&h, 0, 1000), LIVE_HEALTH_SAME);
    cr_assert_eq(live_health_window(&h, 5, 2000), LIVE_HEALTH_DEGRADED);
    cr_assert_eq(h.since_us, 2000);
    cr_assert_eq(live_health_window(&h, 9, 3000), LIVE_HEALTH_SAME,
                 "still dropping: the same episode, not logged again");
    cr_assert_eq(live_health_window(&h, 9, 4000), LIVE_HEALTH_SAME);
    cr_assert_eq(live_health_window(&h, 9, 5000), LIVE_HEALTH_SAME);
    cr_assert_eq(live_health_window(&h, 10, 6000), LIVE_HEALTH_SAME,
                 "a drop before the third clean window: still degraded");
    cr_assert_eq(live_health_window(&h, 10, 7000), LIVE_HEALTH_SAME);
    cr_assert_eq(live_health_window(&h, 10, 8000), LIVE_HEALTH_SAME);
    cr_assert_eq(live_health_window(&h, 10, 9000), LIVE_HEALTH_RECOVERED);
    cr_assert_eq(live_health_episode_dropped(&h), 10);
    cr_assert_eq(live_health_window(&h, 10, 10000), LIVE_HEALTH_SAME);
    cr_assert_eq(live_health_window(&h, 12, 11000), LIVE_HEALTH_DEGRADED,
                 "a new episode");
    cr_assert_eq(live_health_episode_dropped(&h), 2);
}

/* A rung that cannot keep up with a real-time stream is degraded in the
 * stats (and logged once) while it drops, with its encoder's lag. */
Test(transcoder_live_abr, a_rung_that_falls_behind_in_real_time_is_degraded,
     .init = setup, .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("in.mp4");
    cir_onair_t *live = NULL;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    json_t *st = NULL, *slow, *fast;
    int64_t t0 = 0;
    int vi, ai;

    j.live.queue_frames = 8;           /* cirrus-ingest's rung_queue_frames */
    j.live.test_rung_delay_us = 50000; /* the last rung: 20 fps at most */
    open_pipeline(&j, &ic, &live, &vi, &ai);
    while (av_read_frame(ic, pkt) == 0) {
        AVStream *s = ic->streams[pkt->stream_index];
        int64_t due = av_rescale_q(pkt->dts == AV_NOPTS_VALUE ? 0 : pkt->dts,
                                   s->time_base, AV_TIME_BASE_Q);
        if (t0 == 0) {
            t0 = av_gettime_relative() - due;
        }
        /* at the file's own pace, as a publisher sends it */
        while (av_gettime_relative() - t0 < due) {
            usleep(2000);
        }
        cr_assert_eq(cir_onair_push(live, pkt->stream_index == vi, pkt), 0);
        av_packet_unref(pkt);
    }
    st = cir_onair_stats(live);
    cr_assert_not_null(st);
    cr_assert(json_is_true(json_object_get(st, "degraded")),
              "the stream is degraded: %s", json_dumps(st, 0));
    slow = json_array_get(json_object_get(st, "renditions"), 2);
    fast = json_array_get(json_object_get(st, "renditions"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(slow, "name")), "90p");
    cr_assert(json_is_true(json_object_get(slow, "degraded")));
    cr_assert(json_is_false(json_object_get(fast, "degraded")));
    cr_assert_gt(json_real_value(json_object_get(slow, "encoder_lag")), 0.05,
                 "a frame waits for the slow encoder");
    cr_assert_lt(json_real_value(json_object_get(fast, "encoder_lag")), 0.05);
    cr_assert_gt(json_integer_value(json_object_get(slow, "dropped_frames")),
                 0);
    json_decref(st);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}

/* A wall clock the test moves (read by the rungs' threads too). */
static _Atomic int64_t test_wall;

static int64_t
test_wall_us(const cir_clock_t *c)
{
    (void)c;
    return atomic_load(&test_wall);
}

/* Where segment i ends on the wall clock. */
static int64_t
end_pdt(const cir_live_index_t *x, size_t i)
{
    return x->segments[i].pdt_us +
           x->segments[i].duration * 1000000 / x->timescale;
}

/*
 * The outage (`gap` µs of wall clock without media) is filled with GAP
 * segments (audio: silent segments), none longer than a
 * segment, opening the new run: they begin where the media stopped and
 * last as long as the outage, so the playlist's timeline stays in step
 * with the wall clock and the media resumes where they end (a stream
 * younger than its outage: they cannot go back past media time 0, shorter
 * then).
 */
static void
check_outage_filled(const cir_live_index_t *x, const char *name, int64_t gap)
{
    size_t s = 0, first, nb = 0, want = (size_t)((gap + 1999999) / 2000000);
    int64_t filled = 0, resumes;

    while (s < x->nb_segments && !x->segments[s].discontinuity) {
        s++;
    }
    cr_assert_lt(s, x->nb_segments, "%s: a discontinuity", name);
    cr_assert_gt(s, 0);
    first = s;
    for (; s < x->nb_segments && nb < want && !x->segments[s].gap; s++, nb++) {
        cr_assert_leq(x->segments[s].duration, x->segment_target * 11 / 10,
                      "%s: an outage's segment no longer than a segment", name);
        cr_assert_gt(x->segments[s].size, 0, "%s: media", name);
        filled += x->segments[s].duration;
    }
    cr_assert_eq(nb, want, "%s: %zu segments for a %.1f s outage", name, nb,
                 gap / 1e6);
    cr_assert_lt(s, x->nb_segments, "%s: media after the gaps", name);
    for (size_t i = 0; i < x->nb_segments; i++) {
        cr_assert(!x->segments[i].gap, "%s: no GAP segment", name);
    }
    cr_assert_geq(x->segments[first].pdt_us, end_pdt(x, first - 1),
                  "%s: PDT never steps back", name);
    resumes = x->segments[s].pdt_us - end_pdt(x, s - 1);
    if (x->segments[first].start == 0) {
        cr_assert_geq(resumes, -200000, "%s: the media after the gaps", name);
        return;
    }
    cr_assert_leq(
        x->segments[first].pdt_us - end_pdt(x, first - 1), 200000,
        "%s: the gaps begin %lld us after the media stopped", name,
        (long long)(x->segments[first].pdt_us - end_pdt(x, first - 1)));
    cr_assert_float_eq((double)filled * 1e6 / x->timescale, (double)gap, 200000,
                       "%s: %.3f s of gaps for a %.3f s outage", name,
                       (double)filled / x->timescale, gap / 1e6);
    cr_assert_leq(llabs(resumes), 200000,
                  "%s: the media resumes %lld us after the gaps end", name,
                  (long long)resumes);
}

/*
 * A publisher that comes back (its timestamps restart at 0, 3 s of wall
 * clock later, its first audio packet before its older first video ones),
 * packets arriving at their media time: every rendition (passthrough,
 * rungs on their threads, audio) has the same discontinuity at every MSN,
 * one PROGRAM-DATE-TIME clock (RFC 8216bis 6.2.4) however late a rung's
 * thread writes, so the same PDT within an audio frame where segments
 * start together (a timeline's first audio segment starts with its first
 * sample), and the same segments.
 */
static void
reconnect(const char *input, int64_t cut)
{
    const cir_clock_t clock = {.wall_us = test_wall_us,
                               .mono_us = test_wall_us};
    const char *names[] = {"video", "180p", "90p", "audio"};
    const int64_t base = 1800000000000000, gap = 3000000, skew = 100000;
    AVPacket *held[16];
    int nb_held = 0, audio_back = 0;
    const int64_t audio_frame = 1024 * 1000000 / 48000;
    const int64_t frame_us = 2 * 1000000 / 30; /* a B-frame delay */
    cir_onair_file_job_t j;
    cir_onair_t *live = NULL;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    cir_live_index_t ref, x;
    int vi, ai, breaks = 0;

    j = job(input);
    atomic_store(&test_wall, base);
    j.live.clock = &clock;
    preset.audio_channels = 1; /* the AAC passes as it came */
    open_pipeline(&j, &ic, &live, &vi, &ai);
    while (av_read_frame(ic, pkt) == 0) {
        AVRational tb = ic->streams[pkt->stream_index]->time_base;
        int64_t t = av_rescale_q(pkt->dts, tb, AV_TIME_BASE_Q);
        int video = pkt->stream_index == vi;
        if (t >= cut) {
            /* the new publisher's clock starts at 0, its audio's 100 ms
             * ahead of its video */
            int64_t shift =
                av_rescale_q(video ? cut : cut - skew, AV_TIME_BASE_Q, tb);
            pkt->dts -= shift;
            pkt->pts -= shift;
            t += gap;
            if (video && !audio_back) {
                /* its first audio packet comes first and breaks the
                 * timeline: the video's first ones are older */
                cr_assert_lt(nb_held, 16);
                held[nb_held++] = av_packet_clone(pkt);
                av_packet_unref(pkt);
                continue;
            }
        }
        atomic_store(&test_wall, base + t);
        if (video) {
            /* at 6 x real time: the rungs keep up, no frame is dropped */
            usleep(5000);
        }
        cr_assert_eq(cir_onair_push(live, video, pkt), 0);
        av_packet_unref(pkt);
        if (t >= cut && !video && !audio_back) {
            audio_back = 1;
            for (int k = 0; k < nb_held; k++) {
                cr_assert_eq(cir_onair_push(live, 1, held[k]), 0);
                av_packet_free(&held[k]);
            }
        }
    }
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);

    cr_assert_eq(load(names[0], &ref), 0);
    for (size_t s = 0; s < ref.nb_segments; s++) {
        breaks += ref.segments[s].discontinuity;
    }
    cr_assert_eq(breaks, 1, "the reconnect is a discontinuity");
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(load(names[i], &x), 0, "index of %s", names[i]);
        check_outage_filled(&x, names[i], gap);
        cir_live_index_free(&x);
    }
    for (size_t i = 1; i < 4; i++) {
        size_t outage = (size_t)((gap + 1999999) / 2000000);
        cr_assert_eq(load(names[i], &x), 0, "index of %s", names[i]);
        cr_assert_eq(x.nb_segments, ref.nb_segments, "%s", names[i]);
        for (size_t s = 0; s < x.nb_segments; s++) {
            const cir_live_segment_t *a = &x.segments[s], *b = &ref.segments[s];
            /* the new timeline's media starts after the outage's */
            int starts_run =
                s == 0 || (b - 1)->gap ||
                (s >= outage && ref.segments[s - outage].discontinuity);
            cr_assert_eq(a->msn, b->msn);
            cr_assert_eq(a->discontinuity, b->discontinuity,
                         "%s segment %llu: discontinuity %d, video %d",
                         names[i], (unsigned long long)a->msn, a->discontinuity,
                         b->discontinuity);
            cr_assert_eq(a->gap, b->gap, "%s segment %llu: gap %d, video %d",
                         names[i], (unsigned long long)a->msn, a->gap, b->gap);
            /* a timeline's first audio sample comes after its first video
             * one (45 ms in this file, 100 ms after the reconnect); later
             * segments start where the video's do (to the nearest audio
             * sample); a GAP segment where each rendition's media
             * stopped (a B-frame delay apart after a mid-GOP break) */
            cr_assert_leq(llabs(a->pdt_us - b->pdt_us),
                          b->gap ? skew + audio_frame + frame_us
                          : starts_run && x.track.kind == CIR_LIVE_AUDIO
                              ? skew + audio_frame
                              : audio_frame,
                          "%s segment %llu: PDT %lld us from the video's",
                          names[i], (unsigned long long)a->msn,
                          (long long)(a->pdt_us - b->pdt_us));
            if (x.track.kind == CIR_LIVE_VIDEO) {
                /* the same frames (a B-frame delay apart where the
                 * publisher left mid-GOP): no sample runs across the
                 * break */
                cr_assert_float_eq((double)a->duration / x.timescale,
                                   (double)b->duration / ref.timescale, 0.1,
                                   "%s segment %llu: %.3f s, video %.3f s",
                                   names[i], (unsigned long long)a->msn,
                                   (double)a->duration / x.timescale,
                                   (double)b->duration / ref.timescale);
            }
            if (b->gap) {
                continue; /* no media */
            }
            /* one function of media time: PDT - start the same */
            cr_assert_float_eq(
                (double)a->pdt_us - 1e6 * (double)a->start / x.timescale,
                (double)b->pdt_us - 1e6 * (double)b->start / ref.timescale,
                1000, "%s segment %llu: PDT %lld start %lld, video %lld %lld",
                names[i], (unsigned long long)a->msn, (long long)a->pdt_us,
                (long long)a->start, (long long)b->pdt_us, (long long)b->start);
        }
        cir_live_index_free(&x);
    }
    cir_live_index_free(&ref);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}

/* An encoder without B-frames (an RTMP publisher at zero latency) that
 * comes back at a keyframe: its first frames are no later than the old
 * timeline's last, yet the rungs break before them, as the passthrough. */
Test(transcoder_live_abr, a_reconnect_at_a_keyframe_breaks_every_rendition,
     .init = setup, .fini = teardown, .timeout = 60)
{
    make_lavfi_input(workdir, "zl.mp4", "384x216", 5,
                     "-tune zerolatency -g 60 -keyint_min 60 -sc_threshold 0",
                     "-c:a aac -b:a 64k");
    reconnect("zl.mp4", 4000000);
}

/* B-frames, back mid-GOP: the old timeline's last frames leave the
 * decoder at the break, and none lasts into the new timeline. */
Test(transcoder_live_abr, a_reconnect_mid_gop_ends_the_old_timeline_in_time,
     .init = setup, .fini = teardown, .timeout = 60)
{
    reconnect("in.mp4", 2500000);
}

/* Whether a rendition's newest segment is complete (none open). */
static int
newest_complete(const char *rendition)
{
    cir_live_index_t x;
    int done;

    if (load(rendition, &x) != 0) {
        return 0;
    }
    done = x.nb_segments > 0 && x.segments[x.nb_segments - 1].complete;
    cir_live_index_free(&x);
    return done;
}

/* The publisher leaves mid-segment (cir_onair_pause): every rendition's open
 * segment ends with what it holds (the rungs' once their queued frames are
 * encoded), before any new packet; its return, timestamps going on, starts
 * a discontinuity at the same MSN in every rendition. */
Test(transcoder_live_abr, a_pause_ends_every_open_segment, .init = setup,
     .fini = teardown)
{
    static const char *names[] = {"video", "180p", "90p", "audio"};
    cir_onair_file_job_t j = job("in.mp4");
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    cir_onair_t *live = NULL;
    int vi, ai, paused = 0;
    uint64_t disc_msn[4];

    open_pipeline(&j, &ic, &live, &vi, &ai);
    while (av_read_frame(ic, pkt) == 0) {
        double t = av_q2d(ic->streams[pkt->stream_index]->time_base) * pkt->dts;
        if (!paused && t > 3.0) {
            /* mid-segment (2 s segments): the publisher is gone */
            cr_assert_eq(cir_onair_pause(live), 0);
            cr_assert_eq(cir_onair_pause(live), 0, "twice is once");
            for (size_t i = 0; i < 4; i++) {
                for (int w = 0; w < 500 && !newest_complete(names[i]); w++) {
                    usleep(10000);
                }
                cr_assert(newest_complete(names[i]), "%s: open segment ended",
                          names[i]);
            }
            paused = 1;
        }
        if (pkt->stream_index == vi || pkt->stream_index == ai) {
            cr_assert_eq(cir_onair_push(live, pkt->stream_index == vi, pkt), 0);
        }
        av_packet_unref(pkt);
    }
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    for (size_t i = 0; i < 4; i++) {
        cir_live_index_t x;
        int n = 0;

        cr_assert_eq(load(names[i], &x), 0, "%s", names[i]);
        for (size_t s = 0; s < x.nb_segments; s++) {
            if (x.segments[s].discontinuity) {
                disc_msn[i] = x.segments[s].msn;
                n++;
            }
        }
        cr_assert_eq(n, 1, "%s: one discontinuity, at the return", names[i]);
        cr_assert_eq(disc_msn[i], disc_msn[0],
                     "%s breaks at MSN %llu, not %llu", names[i],
                     (unsigned long long)disc_msn[i],
                     (unsigned long long)disc_msn[0]);
        cir_live_index_free(&x);
    }
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}

/* The video began a segment (its keyframe at 4 s came) and the audio's
 * samples from there had not come when the publisher left: the audio lists
 * that segment number as a GAP, so both break at the same MSN. */
Test(transcoder_live_abr, a_break_before_the_audio_reached_the_cut_is_a_gap,
     .init = setup, .fini = teardown)
{
    cir_onair_file_job_t j;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc(), *held[256];
    cir_onair_t *live = NULL;
    cir_live_index_t v, a;
    int vi, ai, nb_held = 0, paused = 0;
    uint64_t vdisc = 0, adisc = 0;

    make_input("aac", "long.mp4", 9);
    j = job("long.mp4");
    j.live.preset = NULL; /* the passthrough and the audio alone */
    open_pipeline(&j, &ic, &live, &vi, &ai);
    while (av_read_frame(ic, pkt) == 0) {
        int video = pkt->stream_index == vi;
        double t = av_q2d(ic->streams[pkt->stream_index]->time_base) * pkt->dts;

        if (!video && pkt->stream_index != ai) {
            av_packet_unref(pkt);
            continue;
        }
        if (!paused && !video && t >= 3.9) {
            /* the audio from 3.9 s is late: held back past the pause */
            cr_assert_lt(nb_held, 256);
            held[nb_held++] = av_packet_clone(pkt);
            av_packet_unref(pkt);
            continue;
        }
        cr_assert_eq(cir_onair_push(live, video, pkt), 0);
        if (!paused && video && (pkt->flags & AV_PKT_FLAG_KEY) && t > 3.5) {
            cr_assert_eq(cir_onair_pause(live), 0);
            paused = 1;
            for (int i = 0; i < nb_held; i++) {
                cr_assert_eq(cir_onair_push(live, 0, held[i]), 0);
                av_packet_free(&held[i]);
            }
        }
        av_packet_unref(pkt);
    }
    cr_assert(paused);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    cr_assert_eq(load("video", &v), 0);
    cr_assert_eq(load("audio", &a), 0);
    for (size_t s = 0; s < v.nb_segments; s++) {
        vdisc = v.segments[s].discontinuity ? v.segments[s].msn : vdisc;
    }
    for (size_t s = 0; s < a.nb_segments; s++) {
        adisc = a.segments[s].discontinuity ? a.segments[s].msn : adisc;
    }
    cr_assert_gt(vdisc, 0);
    cr_assert_eq(adisc, vdisc, "audio breaks at MSN %llu, video at %llu",
                 (unsigned long long)adisc, (unsigned long long)vdisc);
    /* the segment before the break: the video's one keyframe, the
     * audio's gap */
    const cir_live_segment_t *vs = cir_live_index_segment(&v, vdisc - 1);
    const cir_live_segment_t *as = cir_live_index_segment(&a, vdisc - 1);
    cr_assert_not_null(vs);
    cr_assert_not_null(as);
    cr_assert(!vs->gap && vs->complete);
    cr_assert(as->gap && as->complete && as->nb_parts == 0, "audio gap");
    cir_live_index_free(&v);
    cir_live_index_free(&a);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}

/* The valid cc_data triplets of a file's decoded video frames, 608 null
 * padding left out (as captions.c carries them), appended to out; how
 * many bytes. */
static size_t
caption_bytes(const char *path, uint8_t *out, size_t size)
{
    AVFormatContext *ic = NULL;
    int vi = open_file(path, &ic);
    const AVCodec *codec =
        avcodec_find_decoder(ic->streams[vi]->codecpar->codec_id);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    size_t n = 0;
    int eof = 0;

    cr_assert_eq(avcodec_parameters_to_context(dec, ic->streams[vi]->codecpar),
                 0);
    cr_assert_eq(avcodec_open2(dec, codec, NULL), 0);
    while (!eof) {
        eof = av_read_frame(ic, pkt) < 0;
        if (!eof && pkt->stream_index != vi) {
            av_packet_unref(pkt);
            continue;
        }
        avcodec_send_packet(dec, eof ? NULL : pkt);
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, f) == 0) {
            AVFrameSideData *sd =
                av_frame_get_side_data(f, AV_FRAME_DATA_A53_CC);
            for (size_t i = 0; sd && i + 3 <= sd->size; i += 3) {
                const uint8_t *t = sd->data + i;
                int null608 =
                    (t[0] & 3) < 2 && (t[1] & 0x7f) == 0 && (t[2] & 0x7f) == 0;
                if ((t[0] & 0x04) && !null608) {
                    cr_assert_leq(n + 3, size);
                    memcpy(out + n, t, 3);
                    n += 3;
                }
            }
            av_frame_unref(f);
        }
    }
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    return n;
}

/* A live rendition's init segment and media segments, joined into path. */
static void
join_rendition(const char *name, const char *path)
{
    char file[256];
    FILE *out = fopen(path, "wb");
    int found = 0;

    cr_assert_not_null(out);
    snprintf(file, sizeof(file), "%s/live/s1/%s/init-1.mp4", workdir, name);
    for (int msn = -1; msn < 1000; msn++) {
        FILE *in;
        char buf[65536];
        size_t len;
        if (msn >= 0) {
            snprintf(file, sizeof(file), "%s/live/s1/%s/seg-%d.m4s", workdir,
                     name, msn);
        }
        if ((in = fopen(file, "rb")) == NULL) {
            continue;
        }
        found++;
        while ((len = fread(buf, 1, sizeof(buf), in)) > 0) {
            cr_assert_eq(fwrite(buf, 1, len, out), len);
        }
        fclose(in);
    }
    fclose(out);
    cr_assert_geq(found, 3, "%s: init and segments", name);
}

/* A captioned source (tests/tools/cc_sample.c) through a rung so slow it
 * drops frames: every caption byte pair the source has comes out of each
 * rung once, in order (none lost with a dropped frame, none doubled on a
 * repeated picture), and every video rendition's index says so. */
Test(transcoder_live_abr, a_slow_rung_keeps_every_caption, .init = setup,
     .fini = teardown, .timeout = 90)
{
    cir_onair_file_job_t j = job("cc.mp4");
    const char *names[] = {"video", "180p", "90p"};
    const char *build = getenv("CIRRUS_BUILD_DIR");
    static uint8_t src[1 << 16], got[1 << 16];
    char cmd[512], joined[256];
    cir_onair_t *live = NULL;
    AVFormatContext *ic = NULL;
    cir_live_index_t idx;
    json_t *st;
    size_t n_src, n_got;
    int vi;

    cr_assert_not_null(build, "CIRRUS_BUILD_DIR");
    snprintf(cmd, sizeof(cmd),
             "'%s/tests/cirrus-cc-sample' '%s/cc.mp4' --size 384x216 "
             "--seconds 5",
             build, workdir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    n_src = caption_bytes(j.input, src, sizeof(src));
    cr_assert_gt(n_src, 30, "the source has captions");

    j.live.queue_frames = 2;
    j.live.test_rung_delay_us = 20000; /* the last rung, 90p: 50 fps at most */
    vi = open_file(j.input, &ic);
    cr_assert_eq(cir_onair_open(&live, &j.live), 0);
    cr_assert_eq(cir_onair_add_video(live, ic->streams[vi]->codecpar,
                                     ic->streams[vi]->time_base,
                                     ic->streams[vi]->avg_frame_rate, 0),
                 0);
    push_video_packets(live, ic, vi);
    cr_assert_eq(cir_onair_finish(live), 0);
    st = cir_onair_stats(live);
    cr_assert_gt(json_integer_value(json_object_get(
                     json_array_get(json_object_get(st, "renditions"), 2),
                     "dropped_frames")),
                 0, "the 90p rung dropped frames");
    json_decref(st);
    cir_onair_close(&live);
    avformat_close_input(&ic);

    for (int i = 0; i < 3; i++) {
        cr_assert_eq(load(names[i], &idx), 0, "%s", names[i]);
        cr_expect_eq(idx.track.closed_captions, 1, "%s", names[i]);
        cir_live_index_free(&idx);
        snprintf(joined, sizeof(joined), "%s/%s.mp4", workdir, names[i]);
        join_rendition(names[i], joined);
        n_got = caption_bytes(joined, got, sizeof(got));
        cr_expect_eq(n_got, n_src, "%s: %zu caption bytes of %zu", names[i],
                     n_got, n_src);
        cr_expect(n_got == n_src && memcmp(got, src, n_src) == 0,
                  "%s: the source's byte pairs, in order", names[i]);
    }
}

/* Without captions in the source, no rendition's index claims any. */
Test(transcoder_live_abr, no_captions_claimed_without_them, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("in.mp4");
    const char *names[] = {"video", "180p", "90p"};
    cir_live_index_t idx;

    cr_assert_eq(cir_onair_run_file(&j), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(load(names[i], &idx), 0, "%s", names[i]);
        cr_expect_eq(idx.track.closed_captions, 0, "%s", names[i]);
        cir_live_index_free(&idx);
    }
}
