/* The video size from the SPS (live_probe.c), alone and through the live
 * pipeline when a publisher declares no size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavformat/avformat.h>

#include "cir_live.h"
#include "cir_onair.h"
#include "live_probe.h"

static char workdir[64];

static void
make(const char *codec, const char *name)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=320x180:rate=30 -t 2 -c:v %s -g 30 %s/%s",
             codec, workdir, name);
    cr_assert_eq(system(cmd), 0, "ffmpeg made %s", name);
}

static void
setup(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/cir-probe-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    system(cmd);
}

/* The stream's parameters with the size zeroed (as a publisher without
 * onMetaData gives them), and its first keyframe. */
static void
open_input(const char *name, AVFormatContext **ic, AVCodecParameters **par,
           AVPacket **key)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", workdir, name);
    cr_assert_eq(avformat_open_input(ic, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(*ic, NULL), 0);
    *par = avcodec_parameters_alloc();
    cr_assert_geq(avcodec_parameters_copy(*par, (*ic)->streams[0]->codecpar),
                  0);
    cr_assert_gt((*par)->extradata_size, 0, "avcC/hvcC present");
    (*par)->width = (*par)->height = 0;
    *key = av_packet_alloc();
    cr_assert_eq(av_read_frame(*ic, *key), 0);
    cr_assert((*key)->flags & AV_PKT_FLAG_KEY);
}

Test(live_probe, h264_size_from_sps, .init = setup, .fini = teardown)
{
    AVFormatContext *ic = NULL;
    AVCodecParameters *par;
    AVPacket *key;
    int w = 0, h = 0;

    make("libx264", "in.mp4");
    open_input("in.mp4", &ic, &par, &key);
    cr_assert_eq(cir_onair_probe_size(par, key, &w, &h), 0);
    cr_assert_eq(w, 320);
    cr_assert_eq(h, 180);
    av_packet_free(&key);
    avcodec_parameters_free(&par);
    avformat_close_input(&ic);
}

Test(live_probe, garbage_fails, .init = setup, .fini = teardown)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVPacket *pkt = av_packet_alloc();
    int w = 0, h = 0;

    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_H264;
    cr_assert_eq(av_new_packet(pkt, 64), 0);
    memset(pkt->data, 0x42, 64);
    cr_assert_lt(cir_onair_probe_size(par, pkt, &w, &h), 0);
    pkt->size = 0;
    cr_assert_lt(cir_onair_probe_size(par, pkt, &w, &h), 0);
    av_packet_free(&pkt);
    avcodec_parameters_free(&par);
}

/* The passthrough's init segment and index carry the size read from the
 * SPS, although add_video was told 0x0. */
Test(live_probe, pipeline_without_size, .init = setup, .fini = teardown)
{
    AVFormatContext *ic = NULL, *init = NULL;
    AVCodecParameters *par;
    AVPacket *pkt;
    cir_onair_t *l = NULL;
    cir_live_index_t idx;
    char root[128], path[256];
    AVRational tb;

    make("libx264", "in.mp4");
    open_input("in.mp4", &ic, &par, &pkt);
    tb = ic->streams[0]->time_base;
    snprintf(root, sizeof(root), "%s/live", workdir);
    cir_onair_config_t cfg = {.live_root = root,
                              .stream = "s1",
                              .part_seconds = 0.5,
                              .segment_seconds = 1,
                              .window = 5};
    cr_assert_eq(cir_onair_open(&l, &cfg), 0);
    cr_assert_eq(cir_onair_add_video(l, par, tb, (AVRational){30, 1}, 0), 0);
    do {
        if (pkt->stream_index == 0) {
            cr_assert_eq(cir_onair_push(l, 1, pkt), 0);
        }
        av_packet_unref(pkt);
    } while (av_read_frame(ic, pkt) == 0);
    cr_assert_eq(cir_onair_finish(l), 0);
    cir_onair_close(&l);

    snprintf(path, sizeof(path), "%s/live/s1/video", workdir);
    memset(&idx, 0, sizeof(idx));
    cr_assert_eq(cir_live_index_load(path, &idx), 0);
    cr_assert_eq(idx.track.width, 320);
    cr_assert_eq(idx.track.height, 180);
    cir_live_index_free(&idx);
    snprintf(path, sizeof(path), "%s/live/s1/video/init-1.mp4", workdir);
    cr_assert_eq(avformat_open_input(&init, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(init, NULL), 0);
    cr_assert_eq(init->streams[0]->codecpar->width, 320);
    cr_assert_eq(init->streams[0]->codecpar->height, 180);
    avformat_close_input(&init);
    av_packet_free(&pkt);
    avcodec_parameters_free(&par);
    avformat_close_input(&ic);
}
