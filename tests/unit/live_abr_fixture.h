/*
 * The live ABR tests' fixture: a work folder, the live preset, generated
 * inputs, and checks on the indexes and playlists the pipeline writes.
 */
#ifndef CIRRUS_TEST_LIVE_ABR_FIXTURE_H
#define CIRRUS_TEST_LIVE_ABR_FIXTURE_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavformat/avformat.h>

#include "cir_live.h"
#include "cir_onair.h"
#include "cir_storage.h"
#include "cir_origin.h"
#include "cir_preset.h"
#include "live_file_fixture.h"

static char workdir[64];
static cir_preset_t preset;

/* A WxH 30 fps H.264 file (2 s GOP, B-frames) with AAC or MP3 audio. */
static __attribute__((unused)) void
make_input_sized(const char *acodec, const char *name, double seconds,
                 const char *size)
{
    char audio[64];

    snprintf(audio, sizeof(audio), "-c:a %s -b:a 64k", acodec);
    make_lavfi_input(workdir, name, size, seconds,
                     "-g 60 -keyint_min 60 -sc_threshold 0 -bf 2", audio);
}

/* 384x216: the 180p rung (320x180) is a real step below the passthrough */
static __attribute__((unused)) void
make_input(const char *acodec, const char *name, double seconds)
{
    make_input_sized(acodec, name, seconds, "384x216");
}

/* Two small rungs (the 360p one is above the source and is left out). */
static __attribute__((unused)) void
setup(void)
{
    make_workdir(workdir, sizeof(workdir), "/tmp/cir-live-abr-XXXXXX");
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

static __attribute__((unused)) void
teardown(void)
{
    remove_workdir(workdir);
}

static __attribute__((unused)) int
load(const char *rendition, cir_live_index_t *idx)
{
    char dir[256];

    memset(idx, 0, sizeof(*idx));
    snprintf(dir, sizeof(dir), "%s/live/s1/%s", workdir, rendition);
    return cir_live_index_load(dir, idx);
}

static __attribute__((unused)) int
exists(const char *rel)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", workdir, rel);
    return stat(path, &st) == 0 && st.st_size > 0;
}

static __attribute__((unused)) cir_onair_file_job_t
job(const char *input)
{
    cir_onair_file_job_t j = live_file_job(workdir, input);

    j.live.preset = &preset;
    j.live.passthrough = 1;
    j.live.queue_frames = 64;
    return j;
}

/* The file at path opened and probed into *ic: its best video stream's
 * index. */
static __attribute__((unused)) int
open_file(const char *path, AVFormatContext **ic)
{
    *ic = NULL;
    cr_assert_eq(avformat_open_input(ic, path, NULL, NULL), 0, "%s", path);
    cr_assert_geq(avformat_find_stream_info(*ic, NULL), 0);
    return av_find_best_stream(*ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
}

/* Every packet of ic's video stream vi pushed to live as video, in file
 * order; the other streams' packets are left out. */
static __attribute__((unused)) void
push_video_packets(cir_onair_t *live, AVFormatContext *ic, int vi)
{
    AVPacket *pkt = av_packet_alloc();

    while (av_read_frame(ic, pkt) == 0) {
        if (pkt->stream_index == vi) {
            cr_assert_eq(cir_onair_push(live, 1, pkt), 0);
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
}

/* Every rendition has the same segments at the same times, and parts within
 * PART-TARGET. */
/* A media playlist's stream-level lines: up to MEDIA-SEQUENCE. */
static __attribute__((unused)) void
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

static __attribute__((unused)) void
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

#endif
