/*
 * Thumbnails, sprite sheets and the poster from synthetic frames; every
 * JPEG written is decoded back with libavformat/libavcodec.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "thumbs.h"

typedef struct {
    int width, height;
    enum AVCodecID codec;
    double mean_luma; /* 0..255, full range */
} decoded_t;

static char root[256];
static cir_store_t *store;

static void
setup(void)
{
    cir_uri_t uri;

    cir_log_set_level(CIR_LOG_WARN);
    /* 5.1's mjpeg decoder warns "EOI missing" on some valid files. */
    av_log_set_level(AV_LOG_ERROR);
    snprintf(root, sizeof(root), "/tmp/cir-thumbs-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
}

static void
teardown(void)
{
    char cmd[300];

    cir_store_close(&store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

static int
exists(const char *rel)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return stat(path, &st) == 0 && st.st_size > 0;
}

static long
file_size(const char *rel)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Decodes the image at root/rel; fails the test if it does not decode. */
static decoded_t
decode(const char *rel)
{
    AVFormatContext *ic = NULL;
    AVCodecContext *c = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    const AVCodec *codec;
    decoded_t d = {0};
    char path[512];
    double sum = 0;
    int x, y, ret;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    cr_assert_eq(avformat_open_input(&ic, path, NULL, NULL), 0, "%s", path);
    cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
    codec = avcodec_find_decoder(ic->streams[0]->codecpar->codec_id);
    cr_assert_not_null(codec);
    c = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(c, ic->streams[0]->codecpar);
    cr_assert_eq(avcodec_open2(c, codec, NULL), 0);
    cr_assert_eq(av_read_frame(ic, pkt), 0);
    cr_assert_eq(avcodec_send_packet(c, pkt), 0);
    avcodec_send_packet(c, NULL);
    ret = avcodec_receive_frame(c, f);
    cr_assert_eq(ret, 0, "%s does not decode", rel);
    d.width = f->width;
    d.height = f->height;
    d.codec = c->codec_id;
    for (y = 0; y < f->height; y++) {
        for (x = 0; x < f->width; x++) {
            sum += f->data[0][(size_t)y * f->linesize[0] + x];
        }
    }
    d.mean_luma = sum / ((double)f->width * f->height);
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
    avformat_close_input(&ic);
    return d;
}

/* A 320x180 yuv420p frame of luma y (limited range) with a little pattern. */
static AVFrame *
make_frame(int w, int h, int luma)
{
    AVFrame *f = av_frame_alloc();
    int x, y;

    f->width = w;
    f->height = h;
    f->format = AV_PIX_FMT_YUV420P;
    cr_assert_eq(av_frame_get_buffer(f, 0), 0);
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            f->data[0][(size_t)y * f->linesize[0] + x] =
                (uint8_t)(luma + ((x / 8 + y / 8) % 2) * 4);
        }
    }
    for (y = 0; y < h / 2; y++) {
        memset(f->data[1] + (size_t)y * f->linesize[1], 128, w / 2);
        memset(f->data[2] + (size_t)y * f->linesize[2], 128, w / 2);
    }
    return f;
}

static cir_preset_t
preset_for_test(void)
{
    cir_preset_t p;

    cir_preset_defaults(&p);
    p.thumbs_enabled = 1;
    p.thumb_interval = 2.0;
    p.thumb_width = 160;
    p.sprite_columns = 5;
    p.sprite_rows = 2;
    p.poster_width = 1280; /* wider than the source: must not upscale */
    return p;
}

TestSuite(thumbs, .init = setup, .fini = teardown);

Test(thumbs, tiles_sprites_poster_and_bandwidth)
{
    cir_preset_t p = preset_for_test();
    cir_thumbnailer_t *t = NULL;
    cir_thumbs_t d;
    decoded_t img;
    char name[64];
    long peak = 0;
    int i;

    cr_assert_eq(cir_thumbnailer_open(&t, &p, store, 320, 180, 25.0), 0);
    /* 25 s at 10 fps; frames from 2.5 s on are bright (poster at 10%). */
    for (i = 0; i < 250; i++) {
        AVFrame *f = make_frame(320, 180, i >= 25 ? 200 : 40);

        cr_assert_eq(cir_thumbnailer_push(t, f, i / 10.0), 0);
        av_frame_free(&f);
    }
    memset(&d, 0xff, sizeof(d));
    cr_assert_eq(cir_thumbnailer_finish(t, &d), 0);
    cir_thumbnailer_free(&t);
    cr_assert_null(t);

    /* Boundaries 0, 2, ..., 24: 13 tiles, sheets of 10: 2 sheets. */
    cr_assert_eq(d.present, 1);
    cr_assert_float_eq(d.interval, 2.0, 1e-9);
    cr_assert_eq(d.tile_width, 160);
    cr_assert_eq(d.tile_height, 90);
    cr_assert_eq(d.columns, 5);
    cr_assert_eq(d.rows, 2);
    cr_assert_eq(d.nb_tiles, 13);
    cr_assert_eq(d.nb_sprites, 2);

    for (i = 1; i <= 13; i++) {
        snprintf(name, sizeof(name), "thumbs/thumb-%d.jpg", i);
        img = decode(name);
        cr_assert_eq(img.codec, AV_CODEC_ID_MJPEG);
        cr_assert_eq(img.width, 160);
        cr_assert_eq(img.height, 90);
    }
    cr_assert_not(exists("thumbs/thumb-14.jpg"));
    cr_assert_not(exists("thumbs/thumb-0.jpg"));
    cr_assert_lt(decode("thumbs/thumb-1.jpg").mean_luma, 60);  /* t=0 */
    cr_assert_lt(decode("thumbs/thumb-2.jpg").mean_luma, 60);  /* t=2 */
    cr_assert_gt(decode("thumbs/thumb-3.jpg").mean_luma, 180); /* t=4 */

    img = decode("thumbs/sprite-1.jpg");
    cr_assert_eq(img.width, 800);
    cr_assert_eq(img.height, 180);
    /* 3 tiles, but the declared 5x2 sheet: images.m3u8, the MPD and
     * players place tiles from that layout */
    img = decode("thumbs/sprite-2.jpg");
    cr_assert_eq(img.width, 800);
    cr_assert_eq(img.height, 180);
    cr_assert_not(exists("thumbs/sprite-3.jpg"));

    /* Poster: never above the source width, the first frame >= 2.5 s. */
    img = decode("thumbs/poster.jpg");
    cr_assert_eq(img.width, 320);
    cr_assert_eq(img.height, 180);
    cr_assert_gt(img.mean_luma, 180);

    peak = file_size("thumbs/sprite-1.jpg");
    if (file_size("thumbs/sprite-2.jpg") > peak) {
        peak = file_size("thumbs/sprite-2.jpg");
    }
    cr_assert_gt(d.bandwidth, 0);
    cr_assert_eq(d.bandwidth, (uint64_t)ceil(peak * 8.0 / (5 * 2 * 2.0)));
}

Test(thumbs, tile_at_each_boundary_only)
{
    cir_preset_t p = preset_for_test();
    cir_thumbnailer_t *t = NULL;
    cir_thumbs_t d;
    int i;

    cr_assert_eq(cir_thumbnailer_open(&t, &p, store, 320, 180, 0), 0);
    /* Dark until 1.8 s, bright from 1.9 s, until 3.9 s. */
    for (i = 0; i < 40; i++) {
        AVFrame *f = make_frame(320, 180, i < 19 ? 40 : 200);

        cr_assert_eq(cir_thumbnailer_push(t, f, i * 0.1), 0);
        av_frame_free(&f);
    }
    cr_assert_eq(cir_thumbnailer_finish(t, &d), 0);
    cir_thumbnailer_free(&t);
    /* Boundaries 0 and 2: the tile for 2 s is frame 20 (bright). */
    cr_assert_eq(d.nb_tiles, 2);
    cr_assert_eq(d.nb_sprites, 1);
    cr_assert_gt(decode("thumbs/thumb-2.jpg").mean_luma, 180);
    /* Duration unknown: the poster is frame 0 (dark). */
    cr_assert_lt(decode("thumbs/poster.jpg").mean_luma, 60);
    /* One partial sheet, whole: the 5x2 layout the playlists declare
     * (800x180), not cropped to the row it uses. */
    cr_assert_eq(decode("thumbs/sprite-1.jpg").width, 5 * 160);
    cr_assert_eq(decode("thumbs/sprite-1.jpg").height, 2 * 90);
}

Test(thumbs, gap_repeats_the_frame_for_missed_boundaries)
{
    cir_preset_t p = preset_for_test();
    cir_thumbnailer_t *t = NULL;
    cir_thumbs_t d;
    AVFrame *f = make_frame(320, 180, 100);

    cr_assert_eq(cir_thumbnailer_open(&t, &p, store, 320, 180, 11), 0);
    cr_assert_eq(cir_thumbnailer_push(t, f, 0.0), 0);
    cr_assert_eq(cir_thumbnailer_push(t, f, 10.0), 0);
    av_frame_free(&f);
    cr_assert_eq(cir_thumbnailer_finish(t, &d), 0);
    cir_thumbnailer_free(&t);
    /* 0, 2, 4, 6, 8, 10: tile i still stands for i * interval. */
    cr_assert_eq(d.nb_tiles, 6);
    cr_assert_eq(d.nb_sprites, 1);
    cr_assert(exists("thumbs/thumb-6.jpg"));
    cr_assert_eq(decode("thumbs/sprite-1.jpg").height, 180);
}

Test(thumbs, poster_falls_back_to_the_last_frame)
{
    cir_preset_t p = preset_for_test();
    cir_thumbnailer_t *t = NULL;
    cir_thumbs_t d;
    decoded_t img;
    int i;

    p.poster_width = 200; /* 200x112 (even height from 16:9) */
    /* Duration says 100 s (poster at 10 s) but the stream ends at 2.9 s. */
    cr_assert_eq(cir_thumbnailer_open(&t, &p, store, 320, 180, 100), 0);
    for (i = 0; i < 30; i++) {
        AVFrame *f = make_frame(320, 180, i == 29 ? 200 : 40);

        cr_assert_eq(cir_thumbnailer_push(t, f, i * 0.1), 0);
        av_frame_free(&f);
    }
    cr_assert_not(exists("thumbs/poster.jpg"));
    cr_assert_eq(cir_thumbnailer_finish(t, &d), 0);
    cir_thumbnailer_free(&t);
    img = decode("thumbs/poster.jpg");
    cr_assert_eq(img.width, 200);
    cr_assert_eq(img.height, 112);
    cr_assert_gt(img.mean_luma, 180);
}

Test(thumbs, other_pixel_formats_and_odd_aspect)
{
    cir_preset_t p = preset_for_test();
    cir_thumbnailer_t *t = NULL;
    cir_thumbs_t d;
    AVFrame *f = av_frame_alloc();

    f->width = 250;
    f->height = 333;
    f->format = AV_PIX_FMT_RGB24;
    cr_assert_eq(av_frame_get_buffer(f, 0), 0);
    memset(f->data[0], 90, (size_t)f->linesize[0] * f->height);
    cr_assert_eq(cir_thumbnailer_open(&t, &p, store, 250, 333, 0), 0);
    cr_assert_eq(cir_thumbnailer_push(t, f, 0), 0);
    av_frame_free(&f);
    cr_assert_eq(cir_thumbnailer_finish(t, &d), 0);
    cir_thumbnailer_free(&t);
    cr_assert_eq(d.tile_width, 160);
    cr_assert_eq(d.tile_height, 214); /* 160 * 333 / 250 = 213.1 -> even */
    cr_assert_eq(decode("thumbs/thumb-1.jpg").height, 214);
    /* Poster: the source width (even), height 333 made even. */
    cr_assert_eq(decode("thumbs/poster.jpg").width, 250);
    cr_assert_eq(decode("thumbs/poster.jpg").height, 334);
}

Test(thumbs, disabled_preset_writes_nothing)
{
    cir_preset_t p = preset_for_test();
    cir_thumbnailer_t *t = NULL;
    cir_thumbs_t d;
    AVFrame *f = make_frame(320, 180, 100);

    p.thumbs_enabled = 0;
    cr_assert_eq(cir_thumbnailer_open(&t, &p, store, 320, 180, 25), 0);
    cr_assert_not_null(t);
    cr_assert_eq(cir_thumbnailer_push(t, f, 0), 0);
    cr_assert_eq(cir_thumbnailer_push(t, f, 5), 0);
    av_frame_free(&f);
    d.present = 1;
    cr_assert_eq(cir_thumbnailer_finish(t, &d), 0);
    cir_thumbnailer_free(&t);
    cr_assert_eq(d.present, 0);
    cr_assert_eq(d.nb_tiles, 0);
    cr_assert_not(exists("thumbs/poster.jpg"));
    cr_assert_not(exists("thumbs/thumb-1.jpg"));
}

Test(thumbs, invalid_settings_are_refused)
{
    cir_preset_t p = preset_for_test();
    cir_thumbnailer_t *t = NULL;

    p.thumb_interval = 0;
    cr_assert_eq(cir_thumbnailer_open(&t, &p, store, 320, 180, 25), CIR_EINVAL);
    cr_assert_null(t);
    p = preset_for_test();
    p.sprite_columns = 200; /* 200 * 160 px: past the sheet limit */
    cr_assert_eq(cir_thumbnailer_open(&t, &p, store, 320, 180, 25), CIR_ELIMIT);
    cr_assert_null(t);
}
