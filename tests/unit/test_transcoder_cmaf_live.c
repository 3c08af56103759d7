/*
 * Live cutting rules with synthetic packet timings, through the live
 * pipeline (passthrough, cir_live_push) into the live store: every part
 * within PART-TARGET and, but for independent and last parts, at least 85 %
 * of it; one target duration for video and audio that every EXTINF rounds
 * to at most; audio segments cut where the video's are, with the same
 * media sequence numbers.  Timings: keyframes every 0.77, 2 and 4 s; 29.97,
 * 25 and 60 fps; FLV's whole milliseconds (33/33/34); a start whose
 * timestamps bunch (as a repair stage in front leaves them: 1 ms apart).
 *
 * The payloads are one real H.264 keyframe and one AAC frame (ffmpeg makes
 * them); only the timestamps and key flags vary.  Parts are collected from
 * the published index after every packet, before their records age out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavformat/avformat.h>

#include "cir_error.h"
#include "cir_live.h"
#include "cir_live_pipeline.h"
#include "cir_origin.h"

#define MAX_SEGS  256
#define MAX_PARTS CIR_LIVE_MAX_PARTS

static char workdir[64];

typedef struct {
    AVCodecParameters *par;
    AVRational tb;
    AVPacket *pkt; /* a payload */
} source_t;

static source_t vsrc, asrc;

static void
read_source(const char *path, enum AVMediaType type, source_t *s)
{
    AVFormatContext *ic = NULL;
    int i;

    cr_assert_eq(avformat_open_input(&ic, path, NULL, NULL), 0, "%s", path);
    cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
    i = av_find_best_stream(ic, type, -1, -1, NULL, 0);
    cr_assert_geq(i, 0);
    s->par = avcodec_parameters_alloc();
    avcodec_parameters_copy(s->par, ic->streams[i]->codecpar);
    s->pkt = av_packet_alloc();
    while (av_read_frame(ic, s->pkt) == 0) {
        if (s->pkt->stream_index == i) {
            break;
        }
        av_packet_unref(s->pkt);
    }
    cr_assert_gt(s->pkt->size, 0);
    avformat_close_input(&ic);
}

static void
setup(void)
{
    char cmd[512], path[128];

    snprintf(workdir, sizeof(workdir), "/tmp/cir-cut-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=64x36:rate=30 -f lavfi -i "
             "sine=frequency=440:sample_rate=48000 -t 0.2 -c:v libx264 "
             "-preset ultrafast -bf 0 -c:a aac -b:a 64k %s/src.mp4",
             workdir);
    cr_assert_eq(system(cmd), 0, "ffmpeg could make the source");
    snprintf(path, sizeof(path), "%s/src.mp4", workdir);
    read_source(path, AVMEDIA_TYPE_VIDEO, &vsrc);
    read_source(path, AVMEDIA_TYPE_AUDIO, &asrc);
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    system(cmd);
    avcodec_parameters_free(&vsrc.par);
    avcodec_parameters_free(&asrc.par);
    av_packet_free(&vsrc.pkt);
    av_packet_free(&asrc.pkt);
}

TestSuite(cmaf_live, .init = setup, .fini = teardown, .timeout = 120);

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
    AVRational tb;        /* of the timestamps */
    double fps;           /* nominal */
    double keyint;        /* seconds between keyframes */
    int flv_ms;           /* whole milliseconds, rounded per frame */
    int bunched;          /* the first three frames 1 ms apart */
    int bursty;           /* 80 steps of 8 ms, then 8 of 45 ms, again */
    int soak;             /* bench/soak-live's publisher: +7/-6 ms jitter,
                           * frames 1 and 2 of every 90 bunched (1 ms) */
    double last_duration; /* of the last video frame (0: none given) */
    int audio;            /* AAC at 48 kHz beside */
    double seconds;       /* stream length */
    double part_seconds, segment_seconds;
    int64_t want_part_target_us;
    int tiles; /* parts tile each segment: no runt at its end */
} timing_t;

/* The dts of video frame i, in tb. */
static int64_t
frame_dts(const timing_t *t, int i)
{
    double sec = i / t->fps;

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
    cir_live_config_t cfg = {0};
    cir_live_t *live = NULL;
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
    cr_assert_eq(cir_live_open(&live, &cfg), 0);
    cr_assert_eq(
        cir_live_add_video(live, vsrc.par, t->tb, av_d2q(t->fps, 1000), 0), 0);
    if (t->audio) {
        cr_assert_eq(cir_live_add_audio(live, asrc.par, atb, 0), 0);
    }
    /* video and audio interleaved by time, as a publisher sends them */
    while (i < nv) {
        int64_t vd = frame_dts(t, i);
        int64_t ad = (int64_t)k * 1024;
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
            int64_t ms = av_rescale_q(vd, t->tb, (AVRational){1, 1000});
            pkt->dts = pkt->pts = vd;
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
        cr_assert_eq(cir_live_push(live, video, pkt), 0);
        memset(mem, 0xab, (size_t)pkt->size);
        pkt->data = NULL;
        pkt->size = 0;
        observe("video", &r->video);
        if (t->audio) {
            observe("audio", &r->audio);
        }
    }
    cr_assert_eq(cir_live_finish(live), 0);
    observe("video", &r->video);
    if (t->audio) {
        observe("audio", &r->audio);
    }
    cir_live_close(&live);
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

Test(cmaf_live, keyframes_every_0_77_s_at_29_97_fps)
{
    timing_t t = {.tb = {1, 90000},
                  .fps = 30000.0 / 1001,
                  .keyint = 0.7674,
                  .audio = 1,
                  .seconds = 20,
                  .want_part_target_us = 351000};
    run_t *r = publish(&t);

    /* segments of 3 GOPs, 2.30 s: TD 3 (a 2.30 s EXTINF rounds to 2, but
     * the next GOPs may come later) */
    check_run(r, &t, 3);
    free(r);
}

Test(cmaf_live, keyframes_every_2_s_at_29_97_fps)
{
    timing_t t = {.tb = {1, 90000},
                  .fps = 30000.0 / 1001,
                  .keyint = 2.002,
                  .audio = 1,
                  .seconds = 20,
                  .want_part_target_us = 351000, /* 10 frames + 1/2 */
                  .tiles = 1};
    run_t *r = publish(&t);

    check_run(r, &t, 2);
    free(r);
}

Test(cmaf_live, keyframes_every_2_s_at_25_fps)
{
    /* 10 frames (0.4 s): 8 or 9 of 50 leave a runt */
    timing_t t = {.tb = {1, 1000},
                  .fps = 25,
                  .keyint = 2,
                  .audio = 1,
                  .seconds = 16,
                  .want_part_target_us = 420000,
                  .tiles = 1};
    run_t *r = publish(&t);

    check_run(r, &t, 2);
    free(r);
}

Test(cmaf_live, keyframes_every_2_s_at_60_fps)
{
    timing_t t = {.tb = {1, 90000},
                  .fps = 60,
                  .keyint = 2,
                  .audio = 1,
                  .seconds = 12,
                  .want_part_target_us = 342000,
                  .tiles = 1};
    run_t *r = publish(&t);

    check_run(r, &t, 2);
    free(r);
}

Test(cmaf_live, keyframes_every_4_s_give_a_target_of_4)
{
    /* a passthrough whose GOP exceeds the segment target */
    timing_t t = {.tb = {1, 1000},
                  .fps = 30,
                  .keyint = 4,
                  .audio = 1,
                  .seconds = 24,
                  .want_part_target_us = 350000,
                  .tiles = 1};
    run_t *r = publish(&t);

    check_run(r, &t, 4);
    free(r);
}

Test(cmaf_live, flv_millisecond_jitter)
{
    /* 33, 33, 34 ms: whole milliseconds of 30 fps */
    timing_t t = {.tb = {1, 1000},
                  .fps = 30,
                  .keyint = 2,
                  .flv_ms = 1,
                  .audio = 1,
                  .seconds = 16,
                  .want_part_target_us = 350000,
                  .tiles = 1};
    run_t *r = publish(&t);

    check_run(r, &t, 2);
    free(r);
}

Test(cmaf_live, bunched_start_then_jitter)
{
    /* three frames at 0, 1, 2 ms (repeated timestamps, repaired), then
     * FLV steps: no short part for the rest of the stream */
    timing_t t = {.tb = {1, 1000},
                  .fps = 30,
                  .keyint = 2,
                  .flv_ms = 1,
                  .bunched = 1,
                  .audio = 1,
                  .seconds = 16,
                  .want_part_target_us = 350000,
                  .tiles = 1};
    run_t *r = publish(&t);

    check_run(r, &t, 2);
    free(r);
}

Test(cmaf_live, the_soak_publishers_jitter_and_bunches)
{
    /* bench/soak-live's timestamps: parts of 10 frames whatever the
     * jitter, six to a segment (with PART-TARGET at exactly 10 frames,
     * 0.334 s, they were 9 frames and every segment ended in a runt) */
    timing_t t = {.tb = {1, 1000},
                  .fps = 30,
                  .keyint = 2,
                  .soak = 1,
                  .audio = 1,
                  .seconds = 16,
                  .want_part_target_us = 350000,
                  .tiles = 1};
    run_t *r = publish(&t);

    check_run(r, &t, 2);
    for (uint64_t m = 0; m < r->video.last_msn; m++) {
        cr_assert_eq(r->video.segs[m].nb, 6, "segment %llu: %u parts",
                     (unsigned long long)m, r->video.segs[m].nb);
    }
    free(r);
}

Test(cmaf_live, video_alone_keyframes_every_0_77_s_at_30_fps)
{
    timing_t t = {.tb = {1, 1000},
                  .fps = 30,
                  .keyint = 0.77,
                  .flv_ms = 1,
                  .seconds = 16,
                  .want_part_target_us = 350000};
    run_t *r = publish(&t);

    check_run(r, &t, 3);
    free(r);
}

Test(cmaf_live, bursty_frame_timing)
{
    /* a publisher whose frames come in bursts: the spacing changes from
     * 8 to 45 ms and back, so a part's end cannot be predicted from the
     * last steps; the held sample keeps every part within the target */
    timing_t t = {.tb = {1, 1000},
                  .fps = 88000.0 / 1000,
                  .keyint = 2,
                  .bursty = 1,
                  .audio = 1,
                  .seconds = 16,
                  /* 22 of 176 frames at the nominal 88 fps */
                  .want_part_target_us = 256000};
    run_t *r = publish(&t);

    check_run(r, &t, 2);
    free(r);
}

Test(cmaf_live, a_long_last_frame_ends_in_a_part_of_its_own)
{
    /* the stream ends on a frame lasting 0.3 s: the part it would join
     * would outgrow the target, so it is the last part alone */
    timing_t t = {.tb = {1, 90000},
                  .fps = 30,
                  .keyint = 2,
                  .audio = 1,
                  .seconds = 12.2,
                  .last_duration = 0.3,
                  .want_part_target_us = 350000};
    run_t *r = publish(&t);

    check_run(r, &t, 2);
    free(r);
}

/* ---- the audio follower at the video's start and across a break ---- */

/* A stream as cirrus-ingest opens it: both tracks in milliseconds. */
static cir_live_t *
open_ms_stream(void)
{
    cir_live_config_t cfg = {0};
    cir_live_t *live = NULL;
    char root[128];

    snprintf(root, sizeof(root), "%s/live", workdir);
    cfg.live_root = root;
    cfg.stream = "s";
    cfg.part_seconds = 0.333334;
    cfg.segment_seconds = 2;
    cfg.window = 10;
    cr_assert_eq(cir_live_open(&live, &cfg), 0);
    cr_assert_eq(cir_live_add_video(live, vsrc.par, (AVRational){1, 1000},
                                    (AVRational){30, 1}, 0),
                 0);
    cr_assert_eq(cir_live_add_audio(live, asrc.par, (AVRational){1, 1000}, 0),
                 0);
    return live;
}

static void
push_one(cir_live_t *live, int video, int64_t dts, int64_t duration, int key)
{
    AVPacket *pkt = av_packet_alloc();

    cr_assert_eq(av_packet_ref(pkt, video ? vsrc.pkt : asrc.pkt), 0);
    pkt->dts = pkt->pts = dts;
    pkt->duration = duration;
    pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
    cr_assert_eq(cir_live_push(live, video, pkt), 0);
    av_packet_free(&pkt);
}

/* 30 fps video from v0 (a keyframe every 2 s) and AAC at rate from a0, up
 * to end (ms), interleaved by time, audio first at equal times (as some
 * publishers send them).  Returns the audio frames pushed. */
static int
push_av(cir_live_t *live, int64_t v0, int64_t a0, int64_t end, int rate)
{
    int i = 0, k = 0;

    for (;;) {
        int64_t vd = v0 + llround(i * 1000.0 / 30);
        int64_t ad = a0 + llround(k * 1024000.0 / rate);
        if (vd >= end && ad >= end) {
            return k;
        }
        if (ad < end && ad <= vd) {
            push_one(live, 0, ad, 1024000 / rate, 1);
            k++;
        } else {
            push_one(live, 1, vd, 33, i % 60 == 0);
            i++;
        }
    }
}

static json_int_t
repairs_of(const cir_live_t *live, const char *track, const char *kind)
{
    json_t *j = cir_live_stats(live);
    json_t *n = json_object_get(
        json_object_get(json_object_get(j, "timestamp_repairs"), track), kind);
    json_int_t v;

    cr_assert(json_is_integer(n), "timestamp_repairs.%s.%s", track, kind);
    v = json_integer_value(n);
    json_decref(j);
    return v;
}

/* The samples of a rendition in the store: every segment with its init,
 * demuxed. */
static int
stored_samples(const char *name)
{
    char dir[256], path[300], cmd[1024];
    cir_live_index_t idx;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    int n = 0;

    snprintf(dir, sizeof(dir), "%s/live/s/%s", workdir, name);
    cr_assert_eq(cir_live_index_load(dir, &idx), 0);
    cr_assert_eq(idx.segments[0].msn, 0, "%s: every segment kept", name);
    for (size_t i = 0; i < idx.nb_segments; i++) {
        const cir_live_segment_t *s = &idx.segments[i];
        snprintf(path, sizeof(path), "%s/%s-%zu.mp4", workdir, name, i);
        snprintf(cmd, sizeof(cmd), "cat %s/init-%u.mp4 %s/seg-%llu.m4s > %s",
                 dir, s->init_id, dir, (unsigned long long)s->msn, path);
        cr_assert_eq(system(cmd), 0);
        cr_assert_eq(avformat_open_input(&ic, path, NULL, NULL), 0, "%s", path);
        while (av_read_frame(ic, pkt) == 0) {
            av_packet_unref(pkt);
            n++;
        }
        avformat_close_input(&ic);
    }
    cir_live_index_free(&idx);
    av_packet_free(&pkt);
    return n;
}

Test(cmaf_live, audio_sent_before_the_video_at_the_same_time_is_kept)
{
    cir_live_t *live = open_ms_stream();
    int audio = push_av(live, 0, 0, 5000, 48000);

    cr_assert_eq(cir_live_finish(live), 0);
    /* the audio frame at 0 came before the video's first keyframe, at 0 */
    cr_assert_eq(repairs_of(live, "audio", "before_video"), 0);
    cir_live_close(&live);
    cr_assert_eq(stored_samples("audio"), audio);
}

Test(cmaf_live, audio_wholly_before_the_video_is_dropped_and_counted)
{
    cir_live_t *live = open_ms_stream();
    int64_t v0 = 70;
    int audio = push_av(live, v0, 0, 5000, 48000), early = 0;
    json_int_t dropped;

    /* frames ending at or before the first video frame (the next one's
     * start); the one overlapping it starts segment 0 */
    while (llround((early + 1) * 1024000.0 / 48000) <= v0) {
        early++;
    }
    cr_assert_gt(early, 0);
    cr_assert_eq(cir_live_finish(live), 0);
    dropped = repairs_of(live, "audio", "before_video");
    cir_live_close(&live);
    cr_assert_eq(dropped, early);
    cr_assert_eq(stored_samples("audio"), audio - early);
}

Test(cmaf_live,
     a_new_audio_sample_rate_mid_stream_loses_no_frame_after_the_video)
{
    cir_live_t *live = open_ms_stream();
    AVCodecParameters *par = avcodec_parameters_alloc();
    cir_live_index_t vidx, aidx;
    char dir[256];
    int audio, disc = -1;

    audio = push_av(live, 0, 0, 3000, 48000);
    /* an encoder restarted at 44.1 kHz (the muxer's timescale changes; the
     * store keeps its own), its video 24 ms after its audio */
    avcodec_parameters_copy(par, asrc.par);
    par->sample_rate = 44100;
    par->extradata[0] = (uint8_t)((par->extradata[0] & 0xf8) | (4 >> 1));
    par->extradata[1] = (uint8_t)((par->extradata[1] & 0x7f) | ((4 & 1) << 7));
    cr_assert_eq(cir_live_reconfigure(live, 1, vsrc.par), 0);
    cr_assert_eq(cir_live_reconfigure(live, 0, par), 0);
    audio += push_av(live, 3064, 3040, 6000, 44100);
    cr_assert_eq(cir_live_finish(live), 0);
    /* the one frame wholly before the video's new start is dropped and
     * counted (every rendition breaks at the same MSN, starting where the
     * video does); none is lost to the timescale change */
    cr_assert_eq(repairs_of(live, "audio", "before_video"), 1);
    cir_live_close(&live);
    avcodec_parameters_free(&par);
    cr_assert_eq(stored_samples("audio"), audio - 1);

    /* the new audio segment starts with the frame overlapping the video's
     * start, same number as the video's, in the store's timescale */
    snprintf(dir, sizeof(dir), "%s/live/s/video", workdir);
    cr_assert_eq(cir_live_index_load(dir, &vidx), 0);
    snprintf(dir, sizeof(dir), "%s/live/s/audio", workdir);
    cr_assert_eq(cir_live_index_load(dir, &aidx), 0);
    cr_assert_eq(aidx.nb_segments, vidx.nb_segments);
    for (size_t i = 0; i < aidx.nb_segments; i++) {
        cr_assert_eq(aidx.segments[i].discontinuity,
                     vidx.segments[i].discontinuity, "segment %zu", i);
        if (aidx.segments[i].discontinuity) {
            disc = (int)i;
        }
        if (i > 0) {
            cr_assert_gt(aidx.segments[i].start, aidx.segments[i - 1].start);
        }
    }
    cr_assert_geq(disc, 1);
    cr_assert_eq(aidx.timescale, 48000);
    cr_assert_gt(aidx.segments[disc].start, 3040 * 48);
    cr_assert_leq(aidx.segments[disc].start, 3064 * 48);
    cr_assert_eq(aidx.segments[disc].init_id, 2);
    cir_live_index_free(&vidx);
    cir_live_index_free(&aidx);
}

Test(cmaf_live, audio_whose_video_never_comes_is_kept)
{
    /* a video track declared, no video frame: the audio waits for it, not
     * past a segment's limit, then starts alone with what it kept */
    cir_live_t *live = open_ms_stream();
    int k;

    for (k = 0; k * 1024000.0 / 48000 < 8000; k++) {
        push_one(live, 0, llround(k * 1024000.0 / 48000), 21, 1);
    }
    cr_assert_eq(cir_live_finish(live), 0);
    cr_assert_eq(repairs_of(live, "audio", "before_video"), 0);
    cir_live_close(&live);
    cr_assert_eq(stored_samples("audio"), k);
}
