#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavformat/avformat.h>

#include "cir_live.h"
#include "cir_onair.h"
#include "live_file_fixture.h"

static char workdir[64];

/* A 5 s 160x90 30 fps H.264 (2 s GOP, B-frames) + AAC file from lavfi. */
static void
setup(void)
{
    make_workdir(workdir, sizeof(workdir), "/tmp/cir-live-XXXXXX");
    make_lavfi_input(workdir, "in.mp4", "160x90", 5,
                     "-g 60 -keyint_min 60 -sc_threshold 0 -bf 2",
                     "-c:a aac -b:a 64k");
}

static void
teardown(void)
{
    remove_workdir(workdir);
}

static void
load(const char *rendition, cir_live_index_t *idx)
{
    char dir[256];

    snprintf(dir, sizeof(dir), "%s/live/s1/%s", workdir, rendition);
    cr_assert_eq(cir_live_index_load(dir, idx), 0, "index of %s", rendition);
}

static off_t
file_size(const char *rendition, const char *name)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/live/s1/%s/%s", workdir, rendition, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static cir_onair_file_job_t
job(void)
{
    return live_file_job(workdir, "in.mp4");
}

Test(transcoder_live, parts_and_segments_from_a_file, .init = setup,
     .fini = teardown)
{
    cir_onair_file_job_t j = job();
    cir_live_index_t v = {0}, a = {0};

    cr_assert_eq(cir_onair_run_file(&j), 0);
    load("video", &v);
    load("audio", &a);

    cr_assert(v.ended && a.ended, "the stream ended with ENDLIST");
    cr_assert_eq(v.track.kind, CIR_LIVE_VIDEO);
    cr_assert_eq(strncmp(v.track.codecs, "avc1.", 5), 0);
    cr_assert_eq(strncmp(a.track.codecs, "mp4a.40.", 8), 0);
    /* 5 s with a keyframe every 2 s: 2 + 2 + 1 */
    cr_assert_eq(v.nb_segments, 3);
    cr_assert_eq(v.segments[0].msn, 0);
    cr_assert_eq(v.segments[0].duration, 2 * (int64_t)v.timescale);
    /* one stream-level timing: PART-TARGET 10 frames of 30 fps plus half
     * a frame, and the 2 s GOP's target duration, in both renditions */
    cr_assert_eq(v.part_target_us, 350000);
    cr_assert_eq(a.part_target_us, 350000);
    cr_assert_eq(v.target_duration, 2);
    cr_assert_eq(a.target_duration, 2);
    cr_assert_leq((double)v.part_target / v.timescale, 0.350);
    for (size_t s = 0; s < v.nb_segments; s++) {
        const cir_live_segment_t *seg = &v.segments[s];
        int64_t sum = 0;
        uint64_t bytes = 0;
        char name[64];
        /* parts of older segments left the playlist but their records
         * (byte ranges) are kept for 3 target durations */
        uint32_t np = cir_live_nb_records(seg);
        cr_assert(seg->complete);
        cr_assert_gt(np, 0);
        cr_assert(v.parts[seg->first_part].independent,
                  "segment %zu starts with an independent part", s);
        for (uint32_t p = 0; p < np; p++) {
            const cir_live_part_t *part = &v.parts[seg->first_part + p];
            cr_assert_leq(part->duration, v.part_target,
                          "PART-TARGET is a maximum");
            uint64_t off;
            uint32_t size;
            sum += part->duration;
            /* parts are consecutive byte ranges of the segment file */
            cr_assert_eq(
                cir_live_index_part_range(&v, seg->msn, p, &off, &size), 0);
            cr_assert_eq(off, bytes);
            cr_assert_gt(size, 0, "part %llu.%u has bytes",
                         (unsigned long long)seg->msn, p);
            bytes += size;
        }
        cr_assert_eq(sum, seg->duration, "parts add up to the segment");
        snprintf(name, sizeof(name), "seg-%llu.m4s",
                 (unsigned long long)seg->msn);
        cr_assert_eq((uint64_t)file_size("video", name), bytes,
                     "the segment is its parts");
    }
    /* audio segments start where the video's do: at the AAC frame nearest
     * the video's cut, with the same numbers for the same times */
    cr_assert_eq(a.nb_segments, v.nb_segments);
    for (size_t s = 0; s < a.nb_segments; s++) {
        double va = (double)v.segments[s].start / v.timescale;
        double aa = (double)a.segments[s].start / a.timescale;
        cr_assert_eq(a.segments[s].msn, v.segments[s].msn);
        if (s == 0) {
            /* where the source's audio starts (B-frame delay vs AAC
             * priming), not before the video */
            cr_assert_gt(aa, va - 1024.0 / 48000);
            cr_assert_lt(aa, va + 0.1);
        } else {
            cr_assert_lt(fabs(aa - va), 1024.0 / 48000, "segment %zu", s);
        }
        for (uint32_t p = 0; p < cir_live_nb_records(&a.segments[s]); p++) {
            cr_assert_leq(a.parts[a.segments[s].first_part + p].duration,
                          a.part_target, "audio parts within the target");
        }
    }
    cr_assert_gt(file_size("video", "init-1.mp4"), 0);
    cir_live_index_free(&v);
    cir_live_index_free(&a);
}

Test(transcoder_live, a_timestamp_jump_is_a_discontinuity, .init = setup,
     .fini = teardown)
{
    cir_onair_file_job_t j = job();
    cir_onair_t *live = NULL;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    cir_live_index_t v = {0};
    int n = 0, vi, ai;

    cr_assert_eq(avformat_open_input(&ic, j.input, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
    vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    ai = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    cr_assert_eq(cir_onair_open(&live, &j.live), 0);
    cr_assert_eq(cir_onair_add_video(live, ic->streams[vi]->codecpar,
                                     ic->streams[vi]->time_base,
                                     ic->streams[vi]->avg_frame_rate, 0),
                 0);
    cr_assert_eq(cir_onair_add_audio(live, ic->streams[ai]->codecpar,
                                     ic->streams[ai]->time_base, 0),
                 0);
    while (av_read_frame(ic, pkt) == 0) {
        AVStream *st = ic->streams[pkt->stream_index];
        /* after 2.5 s the source clock jumps 100 s ahead */
        if (av_q2d(st->time_base) * pkt->dts > 2.5) {
            int64_t jump = (int64_t)(100 / av_q2d(st->time_base));
            pkt->dts += jump;
            pkt->pts += jump;
        }
        cr_assert_eq(cir_onair_push(live, pkt->stream_index == vi, pkt), 0);
        av_packet_unref(pkt);
        n++;
    }
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    load("video", &v);
    int disc = 0;
    for (size_t s = 0; s < v.nb_segments; s++) {
        disc += v.segments[s].discontinuity;
        if (s > 0) {
            /* the timeline keeps rising by about a segment, not 100 s */
            double gap =
                (double)(v.segments[s].start - v.segments[s - 1].start) /
                v.timescale;
            cr_assert_lt(gap, 3.0, "segment %zu starts %.3f s later", s, gap);
        }
    }
    cr_assert_geq(disc, 1, "the jump is marked");
    cr_assert_gt(n, 100);
    cir_live_index_free(&v);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}

/* ---- timestamps as RTMP publishers send them -------------------------- */

typedef struct {
    AVFormatContext *ic;
    int vi, ai;
} input_t;

static void
open_input(input_t *in, const char *path)
{
    in->ic = NULL;
    cr_assert_eq(avformat_open_input(&in->ic, path, NULL, NULL), 0, "%s", path);
    cr_assert_geq(avformat_find_stream_info(in->ic, NULL), 0);
    in->vi = av_find_best_stream(in->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    in->ai = av_find_best_stream(in->ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
}

/* A publisher's retiming of the k-th packet of a track (times in ms). */
typedef void (*retime_fn)(int video, int k, AVPacket *pkt, int64_t *prev);

/* Pushes every packet of in, in FLV's whole milliseconds from offset_ms,
 * retimed by fn; counts the packets pushed per track. */
static void
push_input(cir_onair_t *live, input_t *in, int64_t offset_ms, retime_fn fn,
           int pushed[2])
{
    AVPacket *pkt = av_packet_alloc();
    int64_t prev[2] = {AV_NOPTS_VALUE, AV_NOPTS_VALUE};

    while (av_read_frame(in->ic, pkt) == 0) {
        AVRational tb = in->ic->streams[pkt->stream_index]->time_base;
        int video = pkt->stream_index == in->vi;
        if (!video && pkt->stream_index != in->ai) {
            av_packet_unref(pkt);
            continue;
        }
        av_packet_rescale_ts(pkt, tb, (AVRational){1, 1000});
        pkt->dts += offset_ms;
        pkt->pts += offset_ms;
        if (fn) {
            fn(video, pushed[video], pkt, &prev[video]);
        }
        prev[video] = pkt->dts;
        cr_assert_eq(cir_onair_push(live, video, pkt), 0);
        pushed[video]++;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
}

static cir_onair_t *
open_live_ms(const cir_onair_file_job_t *j, input_t *in)
{
    cir_onair_t *live = NULL;

    cr_assert_eq(cir_onair_open(&live, &j->live), 0);
    cr_assert_eq(cir_onair_add_video(live, in->ic->streams[in->vi]->codecpar,
                                     (AVRational){1, 1000},
                                     in->ic->streams[in->vi]->avg_frame_rate,
                                     0),
                 0);
    cr_assert_eq(cir_onair_add_audio(live, in->ic->streams[in->ai]->codecpar,
                                     (AVRational){1, 1000}, 0),
                 0);
    return live;
}

/* A rendition's packaged frames and a repair count from the stats. */
static json_int_t
stat_frames(json_t *st, const char *rendition)
{
    size_t i;
    json_t *r;

    json_array_foreach(json_object_get(st, "renditions"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), rendition) ==
            0) {
            return json_integer_value(json_object_get(r, "frames"));
        }
    }
    return -1;
}

static json_int_t
stat_repairs(json_t *st, const char *track, const char *kind)
{
    return json_integer_value(json_object_get(
        json_object_get(json_object_get(st, "timestamp_repairs"), track),
        kind));
}

/* Two publisher stacks' habits at once: every third video frame repeats
 * the DTS before it (PTS as encoded), one frame steps 10 ms back, and the
 * audio repeats a DTS now and then. */
static void
bunch(int video, int k, AVPacket *pkt, int64_t *prev)
{
    if (*prev == AV_NOPTS_VALUE) {
        return;
    }
    if ((video && k % 3 == 2) || (!video && k % 10 == 5)) {
        pkt->dts = *prev;
    } else if (video && k == 40) {
        pkt->dts = *prev - 10;
    }
}

Test(transcoder_live, repeated_and_backward_timestamps_keep_every_frame,
     .init = setup, .fini = teardown)
{
    cir_onair_file_job_t j = job();
    input_t in;
    cir_onair_t *live;
    int pushed[2] = {0, 0};
    json_t *st;

    open_input(&in, j.input);
    live = open_live_ms(&j, &in);
    push_input(live, &in, 5584, bunch, pushed);
    st = cir_onair_stats(live);
    cr_assert_not_null(st);
    /* every video frame packaged (none dropped at the muxer) */
    cr_assert_eq(stat_frames(st, "video"), pushed[1], "%lld of %d frames",
                 (long long)stat_frames(st, "video"), pushed[1]);
    cr_assert_eq(stat_frames(st, "audio") +
                     stat_repairs(st, "audio", "before_start"),
                 pushed[0]);
    cr_assert_geq(stat_repairs(st, "video", "repeated_dts"), pushed[1] / 3);
    cr_assert_eq(stat_repairs(st, "video", "backward_dts"), 1);
    cr_assert_geq(stat_repairs(st, "audio", "repeated_dts"), 10);
    cr_assert_eq(stat_repairs(st, "video", "discontinuity"), 0);
    json_decref(st);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    avformat_close_input(&in.ic);
}

/* A publisher that changes its encoder settings mid-stream sends new
 * sequence headers (AVC and AAC): a new init segment for each rendition
 * and a discontinuity, and the frames after it are packaged too. */
Test(transcoder_live, a_new_sequence_header_is_a_new_init, .init = setup,
     .fini = teardown)
{
    cir_onair_file_job_t j = job();
    input_t a, b;
    cir_onair_t *live;
    cir_live_index_t v = {0}, au = {0};
    int pushed[2] = {0, 0}, disc = 0;
    char cmd[512], in2[128];
    json_t *st;
    size_t s;

    snprintf(in2, sizeof(in2), "%s/in2.mp4", workdir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=320x180:rate=30 -f lavfi -i "
             "sine=frequency=440:sample_rate=44100 -t 3 -c:v libx264 "
             "-preset ultrafast -g 60 -bf 0 -c:a aac -ac 1 -b:a 64k %s",
             in2);
    cr_assert_eq(system(cmd), 0);
    open_input(&a, j.input);
    open_input(&b, in2);
    live = open_live_ms(&j, &a);
    push_input(live, &a, 0, NULL, pushed);
    cr_assert_eq(cir_onair_reconfigure(live, 1, b.ic->streams[b.vi]->codecpar),
                 0);
    cr_assert_eq(cir_onair_reconfigure(live, 0, b.ic->streams[b.ai]->codecpar),
                 0);
    push_input(live, &b, 5100, NULL, pushed);
    st = cir_onair_stats(live);
    cr_assert_eq(stat_frames(st, "video"), pushed[1]);
    json_decref(st);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    load("video", &v);
    load("audio", &au);
    cr_assert_eq(v.init_id, 2, "a second init segment");
    cr_assert_eq(au.init_id, 2);
    for (s = 0; s < v.nb_segments; s++) {
        if (v.segments[s].init_id == 2) {
            break;
        }
    }
    cr_assert_lt(s, v.nb_segments);
    cr_assert(v.segments[s].discontinuity, "segment %zu follows a break", s);
    for (size_t k = 0; k < v.nb_segments; k++) {
        disc += v.segments[k].discontinuity;
    }
    cr_assert_eq(disc, 1);
    cr_assert_gt(file_size("video", "init-2.mp4"), 0);
    cr_assert_gt(file_size("audio", "init-2.mp4"), 0);
    cir_live_index_free(&v);
    cir_live_index_free(&au);
    avformat_close_input(&a.ic);
    avformat_close_input(&b.ic);
}

/* RTMP's 32-bit millisecond clock wrapping mid-stream: no break, every
 * frame kept, and cir_onair_wake_us (which a feeder compares with the
 * source's own timestamps) stays in the source's wrapped domain. */
static void
wrap_late(int video, int k, AVPacket *pkt, int64_t *prev)
{
    const int64_t start = (INT64_C(1) << 32) - 2000;

    (void)video, (void)k, (void)prev;
    pkt->pts = (pkt->pts + start) - (pkt->dts + start) +
               ((pkt->dts + start) & 0xffffffff);
    pkt->dts = (pkt->dts + start) & 0xffffffff;
}

Test(transcoder_live, the_rtmp_clock_wraps_without_a_break, .init = setup,
     .fini = teardown)
{
    cir_onair_file_job_t j = job();
    input_t in;
    cir_onair_t *live;
    AVPacket *pkt = av_packet_alloc();
    int pushed[2] = {0, 0}, checked = 0;
    int64_t prev[2] = {AV_NOPTS_VALUE, AV_NOPTS_VALUE};
    json_t *st;

    j.live.ts_wrap_bits = 32;
    open_input(&in, j.input);
    live = open_live_ms(&j, &in);
    while (av_read_frame(in.ic, pkt) == 0) {
        AVRational tb = in.ic->streams[pkt->stream_index]->time_base;
        int video = pkt->stream_index == in.vi;
        int64_t w;
        av_packet_rescale_ts(pkt, tb, (AVRational){1, 1000});
        wrap_late(video, pushed[video], pkt, &prev[video]);
        cr_assert_eq(cir_onair_push(live, video, pkt), 0);
        pushed[video]++;
        w = cir_onair_wake_us(live, video);
        if (w != INT64_MIN && w != INT64_MAX) {
            /* within a second of the packet just pushed, in its domain */
            cr_assert_lt(llabs(w / 1000 - pkt->dts), 1000,
                         "wake at %lld ms, packet at %lld ms",
                         (long long)w / 1000, (long long)pkt->dts);
            checked++;
        }
        av_packet_unref(pkt);
    }
    cr_assert_gt(checked, 100);
    st = cir_onair_stats(live);
    cr_assert_eq(stat_frames(st, "video"), pushed[1]);
    cr_assert_eq(stat_repairs(st, "video", "wrap"), 1);
    cr_assert_eq(stat_repairs(st, "audio", "wrap"), 1);
    cr_assert_eq(stat_repairs(st, "video", "discontinuity"), 0);
    json_decref(st);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    avformat_close_input(&in.ic);
    av_packet_free(&pkt);
}

/* A publisher whose onMetaData declares less than its codec's rate: the
 * declared peak is raised to the mean (BANDWIDTH >= AVERAGE-BANDWIDTH in
 * the master playlist), for video and audio alike. */
Test(transcoder_live, a_declared_peak_is_never_below_the_average, .init = setup,
     .fini = teardown)
{
    cir_onair_file_job_t j = job();
    cir_onair_t *live = NULL;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    cir_live_index_t v = {0}, a = {0};
    int64_t vrate, arate;
    int vi, ai;

    cr_assert_eq(avformat_open_input(&ic, j.input, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
    vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    ai = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    vrate = ic->streams[vi]->codecpar->bit_rate;
    arate = ic->streams[ai]->codecpar->bit_rate;
    cr_assert_gt(vrate, 1000);
    cr_assert_gt(arate, 1000);
    cr_assert_eq(cir_onair_open(&live, &j.live), 0);
    cr_assert_eq(cir_onair_add_video(live, ic->streams[vi]->codecpar,
                                     ic->streams[vi]->time_base,
                                     ic->streams[vi]->avg_frame_rate,
                                     (uint64_t)vrate / 2),
                 0);
    cr_assert_eq(cir_onair_add_audio(live, ic->streams[ai]->codecpar,
                                     ic->streams[ai]->time_base,
                                     (uint64_t)arate / 2),
                 0);
    while (av_read_frame(ic, pkt) == 0) {
        cr_assert_eq(cir_onair_push(live, pkt->stream_index == vi, pkt), 0);
        av_packet_unref(pkt);
    }
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    load("video", &v);
    load("audio", &a);
    cr_assert_eq(v.track.average_bandwidth, (uint64_t)vrate);
    cr_assert_geq(v.track.bandwidth, v.track.average_bandwidth);
    cr_assert_eq(a.track.average_bandwidth, (uint64_t)arate);
    cr_assert_geq(a.track.bandwidth, a.track.average_bandwidth);
    cir_live_index_free(&v);
    cir_live_index_free(&a);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}
