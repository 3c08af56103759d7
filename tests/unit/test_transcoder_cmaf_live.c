/*
 * Live cutting rules (cmaf_live.c) with synthetic packet timings, one
 * table of them, through the live pipeline (passthrough, cir_onair_push) into
 * the live store: every part within PART-TARGET and, but for independent and
 * last parts, at least 85 % of it; one target duration for video and audio that
 * every EXTINF rounds to at most; audio segments cut where the video's are,
 * with the same media sequence numbers.  Timings: keyframes every 0.77, 2 and 4
 * s; 29.97, 25 and 60 fps; FLV's whole milliseconds (33/33/34); a start whose
 * timestamps bunch (as a repair stage in front leaves them: 1 ms apart).
 *
 * The payloads are one real H.264 keyframe and one AAC frame (ffmpeg makes
 * them); only the timestamps and key flags vary.  Parts are collected from
 * the published index after every packet, before their records age out.
 */
#include <criterion/parameterized.h>

#include "cmaf_live_fixture.h"

#define MAX_SEGS  256
#define MAX_PARTS CIR_LIVE_MAX_PARTS

/* ---- what the store published, part by part ---- */

typedef struct {
    int64_t dur[MAX_PARTS];
    uint8_t independent[MAX_PARTS];
    uint32_t nb; /* parts seen */
    int64_t start, duration;
    int complete;
} seen_seg_t;

typedef struct {
    const char *name;
    seen_seg_t segs[MAX_SEGS];
    uint64_t last_msn;
    int any;
    uint32_t td;
    int64_t part_target_us;
    uint32_t timescale;
    int64_t part_target; /* timescale units */
} seen_t;

static void
observe(const char *name, seen_t *o)
{
    char dir[256];
    cir_live_index_t idx;

    o->name = name;
    snprintf(dir, sizeof(dir), "%s/live/s/%s", workdir, name);
    if (cir_live_index_load(dir, &idx) != 0) {
        return; /* nothing published yet */
    }
    cr_assert_neq(idx.target_duration, 0, "%s: published with a target", name);
    if (o->td != 0) {
        cr_assert_eq(idx.target_duration, o->td,
                     "%s: the target never "
                     "changes",
                     name);
    }
    o->td = idx.target_duration;
    o->part_target_us = idx.part_target_us;
    o->timescale = idx.timescale;
    o->part_target = idx.part_target;
    for (size_t i = 0; i < idx.nb_segments; i++) {
        const cir_live_segment_t *s = &idx.segments[i];
        seen_seg_t *g;
        uint32_t n = cir_live_nb_records(s);
        cr_assert_lt(s->msn, MAX_SEGS);
        g = &o->segs[s->msn];
        g->start = s->start;
        g->duration = s->duration;
        g->complete = s->complete;
        for (uint32_t j = 0; j < n; j++) {
            const cir_live_part_t *p = &idx.parts[s->first_part + j];
            if (j < g->nb) {
                cr_assert_eq(g->dur[j], p->duration,
                             "%s: part %llu.%u "
                             "changed",
                             name, (unsigned long long)s->msn, j);
                continue;
            }
            g->dur[j] = p->duration;
            g->independent[j] = p->independent;
            g->nb = j + 1;
        }
        if (s->msn > o->last_msn || !o->any) {
            o->last_msn = s->msn;
        }
        o->any = 1;
    }
    cir_live_index_free(&idx);
}

/* The bounds on every part of every segment seen. */
static void
check_parts(const seen_t *o)
{
    /* PART-TARGET in the track's timescale, exactly */
    double target = (double)o->part_target_us * o->timescale / 1e6;
    int64_t sum;

    cr_assert(o->any, "%s published", o->name);
    for (uint64_t m = 0; m <= o->last_msn; m++) {
        const seen_seg_t *g = &o->segs[m];
        if (!g->complete) {
            continue;
        }
        cr_assert_gt(g->nb, 0, "%s: segment %llu has parts", o->name,
                     (unsigned long long)m);
        sum = 0;
        for (uint32_t j = 0; j < g->nb; j++) {
            double d = (double)g->dur[j];
            sum += g->dur[j];
            cr_assert_leq(d, target, "%s: part %llu.%u is %.4f s > %.4f s",
                          o->name, (unsigned long long)m, j, d / o->timescale,
                          target / o->timescale);
            if (j + 1 < g->nb && !g->independent[j]) {
                cr_assert_geq(d, 0.85 * target,
                              "%s: part %llu.%u is %.4f s < 0.85 x %.4f s",
                              o->name, (unsigned long long)m, j,
                              d / o->timescale, target / o->timescale);
            }
        }
        cr_assert_eq(sum, g->duration, "%s: parts add up to segment %llu",
                     o->name, (unsigned long long)m);
        /* EXTINF rounded <= TD (H1) */
        cr_assert_leq(llround((double)g->duration / o->timescale), o->td,
                      "%s: segment %llu is %.3f s, TD %u", o->name,
                      (unsigned long long)m, (double)g->duration / o->timescale,
                      o->td);
    }
}

/* ---- synthetic publishers ---- */

typedef struct {
    AVRational tb; /* of the timestamps */
    double fps;    /* nominal */
    double keyint; /* seconds between keyframes */
    int flv_ms;    /* whole milliseconds, rounded per frame */
    int bunched;   /* the first three frames 1 ms apart */
    int bursty;    /* 80 steps of 8 ms, then 8 of 45 ms, again */
    int soak;      /* bench/soak-live's publisher: +7/-6 ms jitter,
                    * frames 1 and 2 of every 90 bunched (1 ms) */
    /* B-frames as GStreamer's flvmux sends them: PTS two frames after
     * DTS, but the first keyframe's DTS = PTS (negative DTS clamped to 0;
     * the next two frames 1 ms apart) */
    int reorder;
    /* two frames in four repeat the DTS before them, and the next one
     * steps three frames (GStreamer's flvmux): steps of 1, 1, 99, 33 ms */
    int repeat_then_double;
    double last_duration; /* of the last video frame (0: none given) */
    int audio;            /* AAC at 48 kHz beside */
    double audio_late;    /* seconds the audio starts after the video */
    double seconds;       /* stream length */
    double part_seconds, segment_seconds;
    int64_t want_part_target_us;
    int tiles; /* parts tile each segment: no runt at its end */
} timing_t;

/* The pts of video frame i (decode order, shown in that order too), in
 * tb. */
static int64_t
frame_pts(const timing_t *t, int i)
{
    return llround(i / t->fps / av_q2d(t->tb));
}

/* The dts of video frame i, in tb. */
static int64_t
frame_dts(const timing_t *t, int i)
{
    double sec = i / t->fps;

    if (t->reorder) {
        return i < 3 ? av_rescale_q(i, (AVRational){1, 1000}, t->tb)
                     : frame_pts(t, i - 2);
    }
    if (t->repeat_then_double) {
        return frame_pts(t, i % 4 == 1 ? i - 1 : i % 4 == 2 ? i - 2 : i);
    }

    if (t->bursty) {
        int64_t ms = (int64_t)(i / 88) * (80 * 8 + 8 * 45);
        int r = i % 88;
        ms += r <= 80 ? r * 8 : 80 * 8 + (r - 80) * 45;
        return av_rescale_q(ms, (AVRational){1, 1000}, t->tb);
    }
    if (t->soak) {
        int64_t ms = llround(sec * 1000);
        if (i % 90 == 1 || i % 90 == 2) {
            return av_rescale_q(llround((i - i % 90) / t->fps * 1000) + i % 90,
                                (AVRational){1, 1000}, t->tb);
        }
        ms += i % 5 == 2 ? 7 : i % 5 == 4 ? -6 : 0;
        return av_rescale_q(ms, (AVRational){1, 1000}, t->tb);
    }
    if (t->bunched && i < 3) {
        return av_rescale_q(i, (AVRational){1, 1000}, t->tb);
    }
    if (t->flv_ms) {
        return av_rescale_q(llround(sec * 1000), (AVRational){1, 1000}, t->tb);
    }
    return llround(sec / av_q2d(t->tb));
}

typedef struct {
    seen_t video, audio;
} run_t;

static uint8_t *used[8192];
static size_t nb_used;

static run_t *
publish(const timing_t *t)
{
    run_t *r = calloc(1, sizeof(*r));
    cir_onair_config_t cfg = {0};
    cir_onair_t *live = NULL;
    char root[128];
    AVPacket *pkt = av_packet_alloc();
    int nv = (int)(t->seconds * t->fps), i = 0, k = 0, next_key = 0;
    int64_t key_every_ms = llround(t->keyint * 1000);
    AVRational atb = {1, 48000};

    snprintf(root, sizeof(root), "%s/live", workdir);
    cfg.live_root = root;
    cfg.stream = "s";
    cfg.part_seconds = t->part_seconds > 0 ? t->part_seconds : 0.333334;
    cfg.segment_seconds = t->segment_seconds > 0 ? t->segment_seconds : 2;
    cfg.window = 6;
    cr_assert_eq(cir_onair_open(&live, &cfg), 0);
    cr_assert_eq(
        cir_onair_add_video(live, vsrc.par, t->tb, av_d2q(t->fps, 1000), 0), 0);
    if (t->audio) {
        cr_assert_eq(cir_onair_add_audio(live, asrc.par, atb, 0), 0);
    }
    /* video and audio interleaved by time, as a publisher sends them */
    while (i < nv) {
        int64_t vd = frame_dts(t, i);
        int64_t ad = (int64_t)k * 1024 + llround(t->audio_late * 48000);
        int video = !t->audio || av_compare_ts(vd, t->tb, ad, atb) <= 0;
        /* not refcounted, like the RTMP reader's packets: a view of memory
         * the publisher reuses once the push returns (scribbled over here,
         * each packet its own buffer) */
        const AVPacket *src = video ? vsrc.pkt : asrc.pkt;
        uint8_t *mem = malloc((size_t)src->size);
        cr_assert_not_null(mem);
        cr_assert_lt(nb_used, sizeof(used) / sizeof(used[0]));
        used[nb_used++] = mem;
        memcpy(mem, src->data, (size_t)src->size);
        pkt->data = mem;
        pkt->size = src->size;
        if (video) {
            int64_t pts =
                t->reorder || t->repeat_then_double ? frame_pts(t, i) : vd;
            int64_t ms = av_rescale_q(pts, t->tb, (AVRational){1, 1000});
            pkt->dts = vd;
            pkt->pts = pts;
            pkt->duration = 0;
            if (i + 1 == nv && t->last_duration > 0) {
                pkt->duration = llround(t->last_duration / av_q2d(t->tb));
            }
            pkt->flags = 0;
            if (ms >= next_key * key_every_ms) {
                pkt->flags = AV_PKT_FLAG_KEY;
                next_key++;
            }
            i++;
        } else {
            pkt->dts = pkt->pts = ad;
            pkt->duration = 1024;
            k++;
        }
        cr_assert_eq(cir_onair_push(live, video, pkt), 0);
        memset(mem, 0xab, (size_t)pkt->size);
        pkt->data = NULL;
        pkt->size = 0;
        observe("video", &r->video);
        if (t->audio) {
            observe("audio", &r->audio);
        }
    }
    cr_assert_eq(cir_onair_finish(live), 0);
    observe("video", &r->video);
    if (t->audio) {
        observe("audio", &r->audio);
    }
    cir_onair_close(&live);
    av_packet_free(&pkt);
    while (nb_used > 0) {
        free(used[--nb_used]);
    }
    return r;
}

/* Every sample of a rendition's segment 1 carries the payload pushed. */
static void
check_payloads(const char *name, const source_t *src)
{
    char path[256], cmd[768];
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s-1.mp4", workdir, name);
    snprintf(cmd, sizeof(cmd),
             "cat %s/live/s/%s/init-1.mp4 %s/live/s/%s/seg-1.m4s > %s", workdir,
             name, workdir, name, path);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(avformat_open_input(&ic, path, NULL, NULL), 0);
    while (av_read_frame(ic, pkt) == 0) {
        cr_assert_eq(pkt->size, src->pkt->size, "%s sample %d", name, n);
        cr_assert_eq(memcmp(pkt->data, src->pkt->data, (size_t)pkt->size), 0,
                     "%s sample %d: the bytes pushed", name, n);
        av_packet_unref(pkt);
        n++;
    }
    cr_assert_gt(n, 10, "%s: %d samples", name, n);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}

/* Parts of whole frames tile each segment but the stream's last: its
 * last part is no runt (hls.js skips a last part under 0.25 s). */
static void
check_tiled(const seen_t *o)
{
    double target = (double)o->part_target_us * o->timescale / 1e6;

    for (uint64_t m = 0; m < o->last_msn; m++) {
        const seen_seg_t *g = &o->segs[m];
        for (uint32_t j = 0; j < g->nb; j++) {
            cr_assert_geq((double)g->dur[j], 0.85 * target,
                          "%s: part %llu.%u of %u is %.4f s, PART-TARGET %.3f",
                          o->name, (unsigned long long)m, j, g->nb,
                          (double)g->dur[j] / o->timescale,
                          target / o->timescale);
        }
    }
}

/* The rules every timing must hold. */
static void
check_run(const run_t *r, const timing_t *t, uint32_t want_td)
{
    check_parts(&r->video);
    cr_assert_eq(r->video.td, want_td, "TD %u, want %u", r->video.td, want_td);
    cr_assert_eq(r->video.part_target_us, t->want_part_target_us,
                 "PART-TARGET %lld us", (long long)r->video.part_target_us);
    if (t->tiles) {
        check_tiled(&r->video);
    }
    /* the whole stream was seen, segment by segment */
    cr_assert_geq((double)r->video.last_msn + 2, t->seconds / (want_td + 0.5),
                  "%llu segments", (unsigned long long)r->video.last_msn + 1);
    /* every segment but a cut by the target-duration guard starts with a
     * keyframe: an independent first part */
    for (uint64_t m = 0; m <= r->video.last_msn; m++) {
        cr_assert(r->video.segs[m].independent[0], "segment %llu",
                  (unsigned long long)m);
    }
    check_payloads("video", &vsrc);
    if (!t->audio) {
        return;
    }
    check_payloads("audio", &asrc);
    check_parts(&r->audio);
    cr_assert_eq(r->audio.td, r->video.td, "one TD for the stream");
    cr_assert_eq(r->audio.part_target_us, r->video.part_target_us);
    /* the same segments: same numbers, starts within an AAC frame */
    cr_assert_eq(r->audio.last_msn, r->video.last_msn,
                 "audio msn %llu, "
                 "video %llu",
                 (unsigned long long)r->audio.last_msn,
                 (unsigned long long)r->video.last_msn);
    for (uint64_t m = 0; m <= r->video.last_msn; m++) {
        double v = (double)r->video.segs[m].start / r->video.timescale;
        double a = (double)r->audio.segs[m].start / r->audio.timescale;
        cr_assert_lt(fabs(v - a), 1024.0 / 48000,
                     "segment %llu: video at %.4f s, audio at %.4f s",
                     (unsigned long long)m, v, a);
    }
}

/* ---- the timings ---- */

/* (no pointer: Criterion hands a copy to the test's own process) */
typedef struct {
    char name[64];
    timing_t t;
    uint32_t want_td;
    uint32_t parts_per_segment; /* every segment but the last (0: any) */
} cut_case_t;

/* one case a line */
/* clang-format off */
static const cut_case_t cases[] = {
    /* segments of 3 GOPs, 2.30 s: TD 3 (a 2.30 s EXTINF rounds to 2, but
     * the next GOPs may come later); PART-TARGET 10 frames + 1/2 */
    {"keyframes every 0.77 s at 29.97 fps", {.tb = {1, 90000}, .fps = 30000.0 / 1001, .keyint = 0.7674, .audio = 1, .seconds = 20, .want_part_target_us = 351000}, 3, 0},
    {"keyframes every 2 s at 29.97 fps", {.tb = {1, 90000}, .fps = 30000.0 / 1001, .keyint = 2.002, .audio = 1, .seconds = 20, .want_part_target_us = 351000, .tiles = 1}, 2, 0},
    /* 10 frames (0.4 s): 8 or 9 of 50 leave a runt */
    {"keyframes every 2 s at 25 fps", {.tb = {1, 1000}, .fps = 25, .keyint = 2, .audio = 1, .seconds = 16, .want_part_target_us = 420000, .tiles = 1}, 2, 0},
    {"keyframes every 2 s at 60 fps", {.tb = {1, 90000}, .fps = 60, .keyint = 2, .audio = 1, .seconds = 12, .want_part_target_us = 342000, .tiles = 1}, 2, 0},
    /* a passthrough whose GOP exceeds the segment target */
    {"keyframes every 4 s give a target of 4", {.tb = {1, 1000}, .fps = 30, .keyint = 4, .audio = 1, .seconds = 24, .want_part_target_us = 350000, .tiles = 1}, 4, 0},
    /* 33, 33, 34 ms: whole milliseconds of 30 fps */
    {"FLV millisecond jitter", {.tb = {1, 1000}, .fps = 30, .keyint = 2, .flv_ms = 1, .audio = 1, .seconds = 16, .want_part_target_us = 350000, .tiles = 1}, 2, 0},
    /* three frames at 0, 1, 2 ms (repeated timestamps, repaired), then
     * FLV steps: no short part for the rest of the stream */
    {"a bunched start, then jitter", {.tb = {1, 1000}, .fps = 30, .keyint = 2, .flv_ms = 1, .bunched = 1, .audio = 1, .seconds = 16, .want_part_target_us = 350000, .tiles = 1}, 2, 0},
    /* bench/soak-live's timestamps: parts of 10 frames whatever the
     * jitter, six to a segment (with PART-TARGET at exactly 10 frames,
     * 0.334 s, they were 9 frames and every segment ended in a runt) */
    {"the soak publisher's jitter and bunches", {.tb = {1, 1000}, .fps = 30, .keyint = 2, .soak = 1, .audio = 1, .seconds = 16, .want_part_target_us = 350000, .tiles = 1}, 2, 6},
    /* keyframes every 2 s of PTS, at 1.933 s of DTS after the first:
     * cut on DTS, the first segment held two GOPs and the target was 4 */
    {"B-frames from a publisher that does not shift DTS", {.tb = {1, 1000}, .fps = 30, .keyint = 2, .reorder = 1, .audio = 1, .seconds = 16, .want_part_target_us = 350000}, 2, 0},
    /* a live encoder's GOP a little short of the target: each keyframe
     * cuts (cut at the target's half frame, every segment was two GOPs
     * and the target 4) */
    /* a 99 ms step can skip the parts' 50 ms window (85 to 100 % of the
     * target): the next sample's DTS is moved back to the target */
    {"repeated DTS, then a triple step (GStreamer)", {.tb = {1, 1000}, .fps = 30, .keyint = 2, .repeat_then_double = 1, .audio = 1, .seconds = 16, .want_part_target_us = 350000}, 2, 0},
    /* keyframes 1.5 s apart: at 1.5 s (0.5 s short) rather than 3 s */
    /* the first audio frame 120 ms after the first picture: silence
     * leads it in, so the first segments start (and are dated) together */
    {"audio starting 120 ms after the video", {.tb = {1, 1000}, .fps = 30, .keyint = 2, .flv_ms = 1, .audio = 1, .audio_late = 0.12, .seconds = 12, .want_part_target_us = 350000, .tiles = 1}, 2, 0},
    {"keyframes every 1.5 s with a 2 s target", {.tb = {1, 1000}, .fps = 30, .keyint = 1.5, .flv_ms = 1, .audio = 1, .seconds = 16, .want_part_target_us = 350000}, 2, 0},
    {"keyframes every 1.9 s with a 2 s target", {.tb = {1, 1000}, .fps = 30, .keyint = 1.9, .flv_ms = 1, .audio = 1, .seconds = 16, .want_part_target_us = 350000}, 2, 0},
    {"video alone, keyframes every 0.77 s at 30 fps", {.tb = {1, 1000}, .fps = 30, .keyint = 0.77, .flv_ms = 1, .seconds = 16, .want_part_target_us = 350000}, 3, 0},
    /* a publisher whose frames come in bursts: the spacing changes from
     * 8 to 45 ms and back, so a part's end cannot be predicted from the
     * last steps; the held sample keeps every part within the target
     * (PART-TARGET: 22 of 176 frames at the nominal 88 fps) */
    {"bursty frame timing", {.tb = {1, 1000}, .fps = 88000.0 / 1000, .keyint = 2, .bursty = 1, .audio = 1, .seconds = 16, .want_part_target_us = 256000}, 2, 0},
    /* the stream ends on a frame lasting 0.3 s: the part it would join
     * would outgrow the target, so it is the last part alone */
    {"a long last frame ends in a part of its own", {.tb = {1, 90000}, .fps = 30, .keyint = 2, .audio = 1, .seconds = 12.2, .last_duration = 0.3, .want_part_target_us = 350000}, 2, 0},
};
/* clang-format on */

ParameterizedTestParameters(cmaf_live, cuts_within_the_targets)
{
    return cr_make_param_array(cut_case_t, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

/* (the suite's .init and .fini do not reach a parameterized test) */
ParameterizedTest(const cut_case_t *c, cmaf_live, cuts_within_the_targets,
                  .init = setup, .fini = teardown, .timeout = 120)
{
    run_t *r;

    cr_log_info("%s", c->name);
    r = publish(&c->t);
    check_run(r, &c->t, c->want_td);
    for (uint64_t m = 0; c->parts_per_segment && m < r->video.last_msn; m++) {
        cr_assert_eq(r->video.segs[m].nb, c->parts_per_segment,
                     "%s: segment %llu: %u parts", c->name,
                     (unsigned long long)m, r->video.segs[m].nb);
    }
    free(r);
}
