/*
 * The live packager's unit tests' fixture (test_transcoder_cmaf_live*.c):
 * one real H.264 keyframe and one AAC frame as payloads (ffmpeg makes
 * them; only timestamps and key flags vary), a stream opened as
 * cirrus-ingest opens it, packets pushed by time, and what the store holds.
 */
#ifndef CIR_TEST_CMAF_LIVE_FIXTURE_H
#define CIR_TEST_CMAF_LIVE_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavformat/avformat.h>

#include "cir_error.h"
#include "cir_live.h"
#include "cir_onair.h"
#include "cir_origin.h"
#include "live_file_fixture.h"

static char workdir[64];

typedef struct {
    AVCodecParameters *par;
    AVRational tb;
    AVPacket *pkt; /* a payload */
} source_t;

static source_t vsrc, asrc;

static __attribute__((unused)) void
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

static __attribute__((unused)) void
setup(void)
{
    char path[128];

    make_workdir(workdir, sizeof(workdir), "/tmp/cir-cut-XXXXXX");
    make_lavfi_input(workdir, "src.mp4", "64x36", 0.2, "-bf 0",
                     "-c:a aac -b:a 64k");
    snprintf(path, sizeof(path), "%s/src.mp4", workdir);
    read_source(path, AVMEDIA_TYPE_VIDEO, &vsrc);
    read_source(path, AVMEDIA_TYPE_AUDIO, &asrc);
}

static __attribute__((unused)) void
teardown(void)
{
    remove_workdir(workdir);
    avcodec_parameters_free(&vsrc.par);
    avcodec_parameters_free(&asrc.par);
    av_packet_free(&vsrc.pkt);
    av_packet_free(&asrc.pkt);
}

/* The stream "s" under workdir/live (root: its buffer): 2 s segments,
 * parts of a third of a second, a window of 10 segments. */
static __attribute__((unused)) void
fixture_stream_config(cir_onair_config_t *cfg, char *root, size_t root_len)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(root, root_len, "%s/live", workdir);
    cfg->live_root = root;
    cfg->stream = "s";
    cfg->part_seconds = 0.333334;
    cfg->segment_seconds = 2;
    cfg->window = 10;
}

/* A stream as cirrus-ingest opens it: both tracks in milliseconds. */
static __attribute__((unused)) cir_onair_t *
open_ms_stream(void)
{
    cir_onair_config_t cfg;
    cir_onair_t *live = NULL;
    char root[128];

    fixture_stream_config(&cfg, root, sizeof(root));
    cr_assert_eq(cir_onair_open(&live, &cfg), 0);
    cr_assert_eq(cir_onair_add_video(live, vsrc.par, (AVRational){1, 1000},
                                     (AVRational){30, 1}, 0),
                 0);
    cr_assert_eq(cir_onair_add_audio(live, asrc.par, (AVRational){1, 1000}, 0),
                 0);
    return live;
}

static __attribute__((unused)) void
push_one(cir_onair_t *live, int video, int64_t dts, int64_t duration, int key)
{
    AVPacket *pkt = av_packet_alloc();

    cr_assert_eq(av_packet_ref(pkt, video ? vsrc.pkt : asrc.pkt), 0);
    pkt->dts = pkt->pts = dts;
    pkt->duration = duration;
    pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
    cr_assert_eq(cir_onair_push(live, video, pkt), 0);
    av_packet_free(&pkt);
}

/* 30 fps video from v0 (a keyframe every 2 s) and AAC at rate from a0, up
 * to end (ms), interleaved by time, audio first at equal times (as some
 * publishers send them).  Returns the audio frames pushed. */
static __attribute__((unused)) int
push_av(cir_onair_t *live, int64_t v0, int64_t a0, int64_t end, int rate)
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

static __attribute__((unused)) json_int_t
repairs_of(const cir_onair_t *live, const char *track, const char *kind)
{
    json_t *j = cir_onair_stats(live);
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
static __attribute__((unused)) int
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

#endif
