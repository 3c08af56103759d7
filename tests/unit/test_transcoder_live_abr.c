/*
 * The live pipeline with ABR rungs: decode once, scale and encode each rung
 * on its own thread, segments aligned across renditions, dropped frames
 * counted, recording as a VOD asset, non-AAC audio transcoded.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavformat/avformat.h>

#include "cir_live.h"
#include "cir_live_pipeline.h"
#include "cir_storage.h"
#include "cir_origin.h"
#include "cir_preset.h"

static char workdir[64];
static cir_preset_t preset;

/* A WxH 30 fps H.264 file (2 s GOP, B-frames) with AAC or MP3 audio. */
static void
make_input_sized(const char *acodec, const char *name, double seconds,
                 const char *size)
{
    char cmd[768];

    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=%s:rate=30 -f lavfi -i "
             "sine=frequency=440:sample_rate=48000 -t %.1f -c:v libx264 "
             "-preset ultrafast -g 60 -keyint_min 60 -sc_threshold 0 -bf 2 "
             "-c:a %s -b:a 64k %s/%s",
             size, seconds, acodec, workdir, name);
    cr_assert_eq(system(cmd), 0, "ffmpeg could make the input");
}

/* 384x216: the 180p rung (320x180) is a real step below the passthrough */
static void
make_input(const char *acodec, const char *name, double seconds)
{
    make_input_sized(acodec, name, seconds, "384x216");
}

/* Two small rungs (the 360p one is above the source and is left out). */
static void
setup(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/cir-live-abr-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    make_input("aac", "in.mp4", 5);
    cir_preset_defaults(&preset);
    snprintf(preset.name, sizeof(preset.name), "test");
    preset.video_enabled = 1;
    snprintf(preset.encoder_preset, sizeof(preset.encoder_preset), "ultrafast");
    preset.gop_seconds = 2;
    preset.segment_seconds = 2;
    preset.nb_rungs = 3;
    preset.rungs[0] =
        (cir_rung_t){.name = "360p", .height = 360, .bitrate_kbps = 600};
    preset.rungs[1] =
        (cir_rung_t){.name = "180p", .height = 180, .bitrate_kbps = 300};
    preset.rungs[2] =
        (cir_rung_t){.name = "90p", .height = 90, .bitrate_kbps = 100};
    preset.audio_enabled = 1;
    preset.audio_bitrate_kbps = 64;
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    system(cmd);
}

static int
load(const char *rendition, cir_live_index_t *idx)
{
    char dir[256];

    memset(idx, 0, sizeof(*idx));
    snprintf(dir, sizeof(dir), "%s/live/s1/%s", workdir, rendition);
    return cir_live_index_load(dir, idx);
}

static int
exists(const char *rel)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", workdir, rel);
    return stat(path, &st) == 0 && st.st_size > 0;
}

static cir_live_file_job_t
job(const char *input)
{
    static char in[128], root[128];
    cir_live_file_job_t j = {0};

    snprintf(in, sizeof(in), "%s/%s", workdir, input);
    snprintf(root, sizeof(root), "%s/live", workdir);
    j.input = in;
    j.live.live_root = root;
    j.live.stream = "s1";
    j.live.part_seconds = 1.0 / 3;
    j.live.segment_seconds = 2;
    j.live.window = 10;
    j.live.preset = &preset;
    j.live.passthrough = 1;
    j.live.queue_frames = 64;
    return j;
}

/* Every rendition has the same segments at the same times, and parts within
 * PART-TARGET. */
/* A media playlist's stream-level lines: up to MEDIA-SEQUENCE. */
static void
playlist_header(const cir_live_index_t *idx, char *dst, size_t n)
{
    cir_buf_t b;
    const char *end;

    cir_buf_init(&b, 1 << 20);
    cr_assert_eq(cir_hls_render_live_media(idx, NULL, NULL, 0, &b), 0);
    end = strstr(b.data, "#EXT-X-MEDIA-SEQUENCE");
    cr_assert_not_null(end);
    snprintf(dst, n, "%.*s", (int)(end - b.data), b.data);
    cir_buf_free(&b);
}

static void
assert_aligned(const char *const *names, size_t n, size_t min_segments)
{
    cir_live_index_t ref, x;
    char want[512], got[512];

    cr_assert_eq(load(names[0], &ref), 0, "index of %s", names[0]);
    cr_assert(ref.ended);
    cr_assert_geq(ref.nb_segments, min_segments, "%s has %zu segments",
                  names[0], ref.nb_segments);
    cr_assert_gt(ref.target_duration, 0);
    playlist_header(&ref, want, sizeof(want));
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(load(names[i], &x), 0, "index of %s", names[i]);
        cr_assert(x.ended, "%s ended", names[i]);
        /* one TARGETDURATION and SERVER-CONTROL (RFC 8216bis 6.2.4) */
        cr_assert_eq(x.target_duration, ref.target_duration, "%s", names[i]);
        cr_assert_eq(x.part_target_us, ref.part_target_us, "%s", names[i]);
        playlist_header(&x, got, sizeof(got));
        cr_assert_str_eq(got, want, "%s", names[i]);
        cr_assert_eq(x.nb_segments, ref.nb_segments, "%s: %zu segments, %s %zu",
                     names[i], x.nb_segments, names[0], ref.nb_segments);
        for (size_t s = 0; s < x.nb_segments; s++) {
            double a = (double)x.segments[s].start / x.timescale;
            double b = (double)ref.segments[s].start / ref.timescale;
            cr_assert_eq(x.segments[s].msn, ref.segments[s].msn);
            if (x.track.kind == CIR_LIVE_VIDEO) {
                cr_assert_float_eq(a, b, 0.002,
                                   "%s segment %zu at %.3f, %s %.3f", names[i],
                                   s, a, names[0], b);
                cr_assert(x.parts[x.segments[s].first_part].independent);
            } else {
                cr_assert_float_eq(a, b, 0.1, "audio segment %zu", s);
            }
            for (uint32_t p = 0; p < x.segments[s].nb_parts; p++) {
                const cir_live_part_t *pt =
                    &x.parts[x.segments[s].first_part + p];
                cr_assert_leq(pt->duration, x.part_target,
                              "%s: PART-TARGET is a maximum: part %llu.%u "
                              "is %lld of %lld (timescale %u)",
                              names[i], (unsigned long long)x.segments[s].msn,
                              p, (long long)pt->duration,
                              (long long)x.part_target, x.timescale);
            }
            /* EXTINF rounded <= TD (H1) */
            cr_assert_leq((2 * x.segments[s].duration / x.timescale + 1) / 2,
                          (int64_t)x.target_duration, "%s segment %zu",
                          names[i], s);
        }
        if (x.track.kind == CIR_LIVE_VIDEO && x.nb_segments > 0) {
            /* frames dropped at the very end leave no rendition shorter */
            const cir_live_segment_t *xl = &x.segments[x.nb_segments - 1];
            const cir_live_segment_t *rl = &ref.segments[ref.nb_segments - 1];
            double xe = (double)(xl->start + xl->duration) / x.timescale;
            double re = (double)(rl->start + rl->duration) / ref.timescale;
            cr_assert_float_eq(xe, re, 0.05, "%s ends at %.3f, %s at %.3f",
                               names[i], xe, names[0], re);
        }
        cir_live_index_free(&x);
    }
    cir_live_index_free(&ref);
}

Test(transcoder_live_abr, rungs_cut_segments_with_the_passthrough,
     .init = setup, .fini = teardown, .timeout = 60)
{
    cir_live_file_job_t j = job("in.mp4");
    const char *names[] = {"video", "180p", "90p", "audio"};
    cir_live_index_t v, r;

    cr_assert_eq(cir_live_run_file(&j), 0);
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
    cir_live_file_job_t j = job("same.mp4");
    const char *names[] = {"video", "90p", "audio"};
    cir_live_index_t x;
    json_t *st;

    make_input_sized("aac", "same.mp4", 3, "320x180");
    cr_assert_eq(cir_live_run_file(&j), 0);
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
        cir_live_t *live = NULL;
        AVFormatContext *ic = NULL;
        AVPacket *pkt = av_packet_alloc();
        int vi;

        cr_assert_eq(avformat_open_input(&ic, j.input, NULL, NULL), 0);
        cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
        vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        cr_assert_eq(cir_live_open(&live, &j.live), 0);
        cr_assert_eq(cir_live_add_video(live, ic->streams[vi]->codecpar,
                                        ic->streams[vi]->time_base,
                                        ic->streams[vi]->avg_frame_rate, 0),
                     0);
        while (av_read_frame(ic, pkt) == 0) {
            if (pkt->stream_index == vi) {
                cr_assert_eq(cir_live_push(live, 1, pkt), 0);
            }
            av_packet_unref(pkt);
        }
        /* nothing to decode for: the feeder may batch (no rung wants
         * every packet) */
        cr_assert_neq(cir_live_wake_us(live, 1), INT64_MIN);
        st = cir_live_stats(live);
        cr_assert_eq(json_array_size(json_object_get(st, "renditions")), 1);
        json_decref(st);
        cr_assert_eq(cir_live_finish(live), 0);
        cir_live_close(&live);
        avformat_close_input(&ic);
        av_packet_free(&pkt);
    }

    /* no passthrough: the 180p rung is the top of the ladder */
    j.live.stream = "s1";
    j.live.passthrough = 0;
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s/live", workdir);
        cr_assert_eq(system(cmd), 0);
    }
    cr_assert_eq(cir_live_run_file(&j), 0);
    cr_assert_eq(load("180p", &x), 0);
    cr_assert_eq(x.track.height, 180);
    cir_live_index_free(&x);
}

Test(transcoder_live_abr, rungs_alone_follow_the_preset_gop, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_live_file_job_t j = job("in.mp4");
    const char *names[] = {"180p", "90p", "audio"};
    cir_live_index_t v;

    j.live.passthrough = 0;
    j.live.segment_seconds = 0; /* the preset's */
    cr_assert_eq(cir_live_run_file(&j), 0);
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
open_pipeline(const cir_live_file_job_t *j, AVFormatContext **ic,
              cir_live_t **live, int *vi, int *ai)
{
    AVStream *v, *a;

    *ic = NULL;
    cr_assert_eq(avformat_open_input(ic, j->input, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(*ic, NULL), 0);
    *vi = av_find_best_stream(*ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    *ai = av_find_best_stream(*ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    v = (*ic)->streams[*vi];
    a = (*ic)->streams[*ai];
    cr_assert_eq(cir_live_open(live, &j->live), 0);
    cr_assert_eq(cir_live_add_video(*live, v->codecpar, v->time_base,
                                    v->avg_frame_rate, 0),
                 0);
    cr_assert_eq(cir_live_add_audio(*live, a->codecpar, a->time_base, 0), 0);
}

Test(transcoder_live_abr, a_slow_rung_drops_frames, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_live_file_job_t j = job("in.mp4");
    const char *names[] = {"video", "180p", "90p"};
    cir_live_t *live = NULL;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    json_t *st, *rends;
    int vi, ai, pushed = 0;

    j.live.queue_frames = 2;
    j.live.test_rung_delay_us = 20000; /* the last rung, 90p: 50 fps at most */
    open_pipeline(&j, &ic, &live, &vi, &ai);
    /* as fast as the file reads: far faster than 30 ms a frame */
    while (av_read_frame(ic, pkt) == 0) {
        cr_assert_eq(cir_live_push(live, pkt->stream_index == vi, pkt), 0);
        pushed += pkt->stream_index == vi;
        av_packet_unref(pkt);
    }
    cr_assert_eq(cir_live_finish(live), 0);
    st = cir_live_stats(live);
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
    cir_live_close(&live);
    assert_aligned(names, 3, 3);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
}

/* The whole text of workdir/rel (malloc'd). */
static char *
slurp(const char *rel)
{
    char path[512], *text = NULL;
    size_t len = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", workdir, rel);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s written", rel);
    cr_assert_geq(getdelim(&text, &len, '\0', f), 0);
    fclose(f);
    return text;
}

/* A recording is published like a VOD job's output (README "Output
 * layout"): everything under rec/v/<version>/, the version's own manifests
 * with relative URIs, and the asset's top-level pair pointing into it. */
Test(transcoder_live_abr, recording_is_a_vod_asset, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_live_file_job_t j = job("in.mp4");
    char uri[128], *text, cmd[768], version[64] = "", rel[256];
    const char *v;
    FILE *f;

    snprintf(uri, sizeof(uri), "file://%s/rec", workdir);
    j.live.record_uri = uri;
    j.live.window = 3; /* the live store keeps fewer segments than made */
    cr_assert_eq(cir_live_run_file(&j), 0);
    text = slurp("rec/master.m3u8");
    v = strstr(text, "\nv/");
    cr_assert_not_null(v, "the top-level master points into a version:\n%s",
                       text);
    cr_assert_eq(sscanf(v + 3, "%63[A-Za-z0-9_-]/", version), 1);
    cr_assert(cir_version_id_is_valid(version));
    snprintf(cmd, sizeof(cmd), "\nv/%s/180p/index.m3u8", version);
    cr_assert_not_null(strstr(text, cmd), "%s", text);
    snprintf(cmd, sizeof(cmd), "\nv/%s/90p/index.m3u8", version);
    cr_assert_not_null(strstr(text, cmd));
    snprintf(cmd, sizeof(cmd), "URI=\"v/%s/audio/index.m3u8\"", version);
    cr_assert_not_null(strstr(text, cmd));
    free(text);
    text = slurp("rec/manifest.mpd");
    snprintf(cmd, sizeof(cmd), "<BaseURL>v/%s/</BaseURL>", version);
    cr_assert_not_null(strstr(text, cmd), "%s", text);
    free(text);
    /* the version's own master, relative as a VOD job's */
    snprintf(rel, sizeof(rel), "rec/v/%s/master.m3u8", version);
    text = slurp(rel);
    cr_assert_not_null(strstr(text, "\n180p/index.m3u8"));
    cr_assert_not_null(strstr(text, "\nvideo/index.m3u8"));
    cr_assert_not_null(strstr(text, "URI=\"audio/index.m3u8\""));
    free(text);
    const char *files[] = {"manifest.mpd",    "180p/init.mp4",
                           "180p/seg-1.m4s",  "180p/seg-3.m4s",
                           "90p/seg-3.m4s",   "video/seg-3.m4s",
                           "audio/seg-3.m4s", "90p/index.m3u8"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(rel, sizeof(rel), "rec/v/%s/%s", version, files[i]);
        cr_assert(exists(rel), "%s exists", rel);
    }
    /* nothing else at the top: the two manifests and v/ */
    cr_assert(!exists("rec/180p/init.mp4") && !exists("rec/audio/seg-1.m4s"));
    /* ffmpeg reads the whole recording back through the top-level master:
     * 5 s of it */
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -show_entries format=duration -of csv=p=0 "
             "-select_streams v:0 %s/rec/master.m3u8 > %s/dur.txt",
             workdir, workdir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/dur.txt", workdir);
    f = fopen(cmd, "r");
    double dur = 0;
    cr_assert_eq(fscanf(f, "%lf", &dur), 1);
    fclose(f);
    cr_assert_float_eq(dur, 5.0, 0.3, "recorded %.3f s", dur);
}

Test(transcoder_live_abr, mp3_audio_is_transcoded_to_aac, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_live_file_job_t j = job("mp3.mp4");
    const char *names[] = {"video", "90p", "audio"};
    cir_live_index_t a;

    make_input("libmp3lame", "mp3.mp4", 5);
    cr_assert_eq(cir_live_run_file(&j), 0);
    cr_assert_eq(load("audio", &a), 0);
    cr_assert_str_eq(a.track.codecs, "mp4a.40.2");
    cr_assert_eq(a.track.sample_rate, 48000);
    cir_live_index_free(&a);
    assert_aligned(names, 3, 3);
}

/* A publisher may declare the video before its size is known (a bare
 * sequence header): the rungs start at the first decoded frame.  (The
 * passthrough's muxer needs the size up front.) */
Test(transcoder_live_abr, rungs_start_when_the_size_is_known, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_live_file_job_t j = job("in.mp4");
    const char *names[] = {"180p", "90p"};
    cir_live_t *live = NULL;
    AVFormatContext *ic = NULL;
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVPacket *pkt = av_packet_alloc();
    int vi;

    cr_assert_eq(avformat_open_input(&ic, j.input, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
    vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    cr_assert_geq(avcodec_parameters_copy(par, ic->streams[vi]->codecpar), 0);
    par->width = par->height = 0;
    j.live.passthrough = 0;
    cr_assert_eq(cir_live_open(&live, &j.live), 0);
    cr_assert_eq(cir_live_add_video(live, par, ic->streams[vi]->time_base,
                                    ic->streams[vi]->avg_frame_rate, 0),
                 0);
    while (av_read_frame(ic, pkt) == 0) {
        if (pkt->stream_index == vi) {
            cr_assert_eq(cir_live_push(live, 1, pkt), 0);
        }
        av_packet_unref(pkt);
    }
    cr_assert_eq(cir_live_finish(live), 0);
    cir_live_close(&live);
    assert_aligned(names, 2, 3);
    avformat_close_input(&ic);
    avcodec_parameters_free(&par);
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
 * segments, none longer than a segment, opening the new run: they begin
 * where the media stopped and last as long as the outage, so the
 * playlist's timeline stays in step with the wall clock and the media
 * resumes where they end (a stream younger than its outage: they cannot
 * go back past media time 0, shorter then).
 */
static void
check_outage_filled(const cir_live_index_t *x, const char *name, int64_t gap)
{
    size_t s = 0, first, nb = 0;
    int64_t filled = 0, resumes;

    while (s < x->nb_segments && !x->segments[s].discontinuity) {
        s++;
    }
    cr_assert_lt(s, x->nb_segments, "%s: a discontinuity", name);
    cr_assert_gt(s, 0);
    first = s;
    for (; s < x->nb_segments && x->segments[s].gap; s++, nb++) {
        cr_assert_leq(x->segments[s].duration, x->segment_target * 11 / 10,
                      "%s: a GAP segment no longer than a segment", name);
        cr_assert_eq(x->segments[s].nb_parts, 0);
        filled += x->segments[s].duration;
    }
    cr_assert_eq(nb, (size_t)((gap + 1999999) / 2000000),
                 "%s: %zu GAP segments for a %.1f s outage", name, nb,
                 gap / 1e6);
    cr_assert_lt(s, x->nb_segments, "%s: media after the gaps", name);
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
    cir_live_file_job_t j;
    cir_live_t *live = NULL;
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
        cr_assert_eq(cir_live_push(live, video, pkt), 0);
        av_packet_unref(pkt);
        if (t >= cut && !video && !audio_back) {
            audio_back = 1;
            for (int k = 0; k < nb_held; k++) {
                cr_assert_eq(cir_live_push(live, 1, held[k]), 0);
                av_packet_free(&held[k]);
            }
        }
    }
    cr_assert_eq(cir_live_finish(live), 0);
    cir_live_close(&live);

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
        cr_assert_eq(load(names[i], &x), 0, "index of %s", names[i]);
        cr_assert_eq(x.nb_segments, ref.nb_segments, "%s", names[i]);
        for (size_t s = 0; s < x.nb_segments; s++) {
            const cir_live_segment_t *a = &x.segments[s], *b = &ref.segments[s];
            int starts_run = s == 0 || (b - 1)->gap;
            cr_assert_eq(a->msn, b->msn);
            cr_assert_eq(a->discontinuity, b->discontinuity,
                         "%s segment %llu: discontinuity %d, video %d",
                         names[i], (unsigned long long)a->msn, a->discontinuity,
                         b->discontinuity);
            cr_assert_eq(a->gap, b->gap, "%s segment %llu: gap %d, video %d",
                         names[i], (unsigned long long)a->msn, a->gap, b->gap);
            if (b->gap && !b->discontinuity) {
                /* an outage's GAP segments: the stream's times, the same
                 * in every rendition (the first at or after where each
                 * rendition's media stopped) */
                cr_assert_leq(llabs(a->pdt_us - b->pdt_us), 1000,
                              "%s segment %llu: PDT %lld us from the video's",
                              names[i], (unsigned long long)a->msn,
                              (long long)(a->pdt_us - b->pdt_us));
            }
            /* a timeline's first audio sample comes after its first video
             * one (45 ms in this file, 100 ms after the reconnect); later
             * segments start where the video's do (to the nearest audio
             * sample); the first GAP segment where each rendition's media
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
                1000, "%s segment %llu", names[i], (unsigned long long)a->msn);
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
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=384x216:rate=30 -f lavfi -i "
             "sine=frequency=440:sample_rate=48000 -t 5 -c:v libx264 "
             "-preset ultrafast -tune zerolatency -g 60 -keyint_min 60 "
             "-sc_threshold 0 -c:a aac -b:a 64k %s/zl.mp4",
             workdir);
    cr_assert_eq(system(cmd), 0);
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

/* The publisher leaves mid-segment (cir_live_pause): every rendition's open
 * segment ends with what it holds (the rungs' once their queued frames are
 * encoded), before any new packet; its return, timestamps going on, starts
 * a discontinuity at the same MSN in every rendition. */
Test(transcoder_live_abr, a_pause_ends_every_open_segment, .init = setup,
     .fini = teardown)
{
    static const char *names[] = {"video", "180p", "90p", "audio"};
    cir_live_file_job_t j = job("in.mp4");
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    cir_live_t *live = NULL;
    int vi, ai, paused = 0;
    uint64_t disc_msn[4];

    open_pipeline(&j, &ic, &live, &vi, &ai);
    while (av_read_frame(ic, pkt) == 0) {
        double t = av_q2d(ic->streams[pkt->stream_index]->time_base) * pkt->dts;
        if (!paused && t > 3.0) {
            /* mid-segment (2 s segments): the publisher is gone */
            cr_assert_eq(cir_live_pause(live), 0);
            cr_assert_eq(cir_live_pause(live), 0, "twice is once");
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
            cr_assert_eq(cir_live_push(live, pkt->stream_index == vi, pkt), 0);
        }
        av_packet_unref(pkt);
    }
    cr_assert_eq(cir_live_finish(live), 0);
    cir_live_close(&live);
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
    cir_live_file_job_t j;
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc(), *held[256];
    cir_live_t *live = NULL;
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
        cr_assert_eq(cir_live_push(live, video, pkt), 0);
        if (!paused && video && (pkt->flags & AV_PKT_FLAG_KEY) && t > 3.5) {
            cr_assert_eq(cir_live_pause(live), 0);
            paused = 1;
            for (int i = 0; i < nb_held; i++) {
                cr_assert_eq(cir_live_push(live, 0, held[i]), 0);
                av_packet_free(&held[i]);
            }
        }
        av_packet_unref(pkt);
    }
    cr_assert(paused);
    cr_assert_eq(cir_live_finish(live), 0);
    cir_live_close(&live);
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
