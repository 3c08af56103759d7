/*
 * The watermark: a PNG written here with libavcodec (its left half opaque
 * red, its right half transparent) read back, placed on frames of a rung's
 * size at each position, and blended into a grey frame: red where it is
 * opaque (half-way at opacity 0.5), the frame untouched where it is
 * transparent and outside it.  Images that are none fail naming the path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavcodec/avcodec.h>

#include "cir_error.h"
#include "cir_log.h"
#include "watermark.h"

static char png[64];

/* A 40x20 RGBA PNG: x < 20 opaque red, the rest transparent green. */
static void
write_png(void)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    FILE *out;
    int fd;

    cir_log_set_level(CIR_LOG_ERROR);
    av_log_set_level(AV_LOG_ERROR);
    cr_assert_not_null(enc);
    enc->width = 40, enc->height = 20;
    enc->pix_fmt = AV_PIX_FMT_RGBA;
    enc->time_base = (AVRational){1, 25};
    cr_assert_eq(avcodec_open2(enc, codec, NULL), 0);
    f->format = AV_PIX_FMT_RGBA, f->width = 40, f->height = 20;
    cr_assert_eq(av_frame_get_buffer(f, 0), 0);
    for (int y = 0; y < 20; y++) {
        for (int x = 0; x < 40; x++) {
            uint8_t *p = f->data[0] + y * f->linesize[0] + 4 * x;
            int opaque = x < 20;
            p[0] = opaque ? 255 : 0, p[1] = opaque ? 0 : 255, p[2] = 0;
            p[3] = opaque ? 255 : 0;
        }
    }
    cr_assert_eq(avcodec_send_frame(enc, f), 0);
    cr_assert_eq(avcodec_send_frame(enc, NULL), 0);
    cr_assert_eq(avcodec_receive_packet(enc, pkt), 0);
    snprintf(png, sizeof(png), "/tmp/cir-mark-XXXXXX.png");
    fd = mkstemps(png, 4);
    cr_assert_geq(fd, 0);
    out = fdopen(fd, "wb");
    cr_assert_eq(fwrite(pkt->data, 1, (size_t)pkt->size, out),
                 (size_t)pkt->size);
    fclose(out);
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&enc);
}

static void
remove_png(void)
{
    unlink(png);
}

TestSuite(watermark, .init = write_png, .fini = remove_png);

static cir_watermark_t *
load(const char *position, double opacity)
{
    cir_overlay_t o = {
        .enabled = 1, .margin = 0.05, .height = 0.2, .opacity = opacity};
    cir_watermark_t *w = NULL;
    char why[512] = "";

    snprintf(o.image, sizeof(o.image), "%s", png);
    o.position = strcmp(position, "top-left") == 0    ? CIR_OVERLAY_TOP_LEFT
                 : strcmp(position, "top-right") == 0 ? CIR_OVERLAY_TOP_RIGHT
                 : strcmp(position, "center") == 0    ? CIR_OVERLAY_CENTER
                 : strcmp(position, "bottom-left") == 0
                     ? CIR_OVERLAY_BOTTOM_LEFT
                     : CIR_OVERLAY_BOTTOM_RIGHT;
    cr_assert_eq(cir_watermark_load(&w, &o, NULL, why, sizeof(why)), 0, "%s",
                 why);
    return w;
}

Test(watermark, placed_by_position_margin_and_height)
{
    static const struct {
        const char *position;
        int x, y;
    } cases[] = {
        /* 640x360: 72 high (0.2), 144 wide (2:1), margin 18 */
        {"top-left", 18, 18},
        {"top-right", 640 - 144 - 18, 18},
        {"bottom-left", 18, 360 - 72 - 18},
        {"bottom-right", 640 - 144 - 18, 360 - 72 - 18},
        {"center", (640 - 144) / 2, (360 - 72) / 2},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cir_watermark_t *w = load(cases[i].position, 1);
        cir_watermark_rung_t *r = NULL;
        int x, y, ww, hh;

        cr_assert_eq(cir_watermark_for_size(w, 640, 360, &r), 0);
        cir_watermark_rect(r, &x, &y, &ww, &hh);
        cr_expect_eq(ww, 144, "%s", cases[i].position);
        cr_expect_eq(hh, 72, "%s", cases[i].position);
        cr_expect_eq(x, cases[i].x, "%s", cases[i].position);
        cr_expect_eq(y, cases[i].y, "%s", cases[i].position);
        cir_watermark_rung_free(&r);
        cir_watermark_free(&w);
    }
}

static AVFrame *
grey_frame(int w, int h)
{
    AVFrame *f = av_frame_alloc();

    f->format = AV_PIX_FMT_YUV420P, f->width = w, f->height = h;
    cr_assert_eq(av_frame_get_buffer(f, 0), 0);
    for (int p = 0; p < 3; p++) {
        int ph = p ? h / 2 : h;
        memset(f->data[p], 128, (size_t)f->linesize[p] * (size_t)ph);
    }
    return f;
}

/* Y, U, V of a pixel. */
static void
yuv_at(const AVFrame *f, int x, int y, int out[3])
{
    out[0] = f->data[0][y * f->linesize[0] + x];
    out[1] = f->data[1][(y / 2) * f->linesize[1] + x / 2];
    out[2] = f->data[2][(y / 2) * f->linesize[2] + x / 2];
}

Test(watermark, blends_with_alpha_and_opacity)
{
    const double opacities[] = {1, 0.5};

    for (int k = 0; k < 2; k++) {
        cir_watermark_t *w = load("top-left", opacities[k]);
        cir_watermark_rung_t *r = NULL;
        AVFrame *f = grey_frame(640, 360);
        int px[3];

        cr_assert_eq(cir_watermark_for_size(w, 640, 360, &r), 0);
        cir_watermark_blend(r, f);
        /* red (BT.601 limited: Y 81, U 90, V 240) in the opaque half */
        yuv_at(f, 18 + 36, 18 + 36, px);
        if (k == 0) {
            cr_expect(abs(px[0] - 81) <= 3 && abs(px[1] - 90) <= 3 &&
                          abs(px[2] - 240) <= 3,
                      "opaque red: %d %d %d", px[0], px[1], px[2]);
        } else {
            cr_expect(abs(px[0] - 105) <= 4 && abs(px[1] - 109) <= 4 &&
                          abs(px[2] - 184) <= 4,
                      "half red over grey: %d %d %d", px[0], px[1], px[2]);
        }
        /* the transparent half and outside: the frame as it was */
        yuv_at(f, 18 + 72 + 36, 18 + 36, px);
        cr_expect(px[0] == 128 && px[1] == 128 && px[2] == 128,
                  "transparent: %d %d %d", px[0], px[1], px[2]);
        yuv_at(f, 300, 200, px);
        cr_expect(px[0] == 128 && px[1] == 128 && px[2] == 128);
        av_frame_free(&f);
        cir_watermark_rung_free(&r);
        cir_watermark_free(&w);
    }
}

Test(watermark, a_wide_image_fits_the_width)
{
    cir_watermark_t *w = load("center", 1);
    cir_watermark_rung_t *r = NULL;
    int x, y, ww, hh;

    /* 0.2 of 360 high would be 144 wide: more than 100 */
    cr_assert_eq(cir_watermark_for_size(w, 100, 360, &r), 0);
    cir_watermark_rect(r, &x, &y, &ww, &hh);
    cr_expect_eq(ww, 100);
    cr_expect_eq(hh, 50);
    cr_expect_eq(x, 0);
    cir_watermark_rung_free(&r);
    cir_watermark_free(&w);
}

Test(watermark, images_that_are_none_fail_naming_the_path)
{
    cir_overlay_t o = {.enabled = 1, .height = 0.1, .opacity = 1};
    cir_watermark_t *w = NULL;
    char why[512] = "", path[64];
    FILE *f;

    snprintf(o.image, sizeof(o.image), "/nonexistent/logo.png");
    cr_assert_lt(cir_watermark_load(&w, &o, NULL, why, sizeof(why)), 0);
    cr_expect(strstr(why, "overlay.image /nonexistent/logo.png: ") == why, "%s",
              why);
    cr_assert_null(w);

    snprintf(path, sizeof(path), "/tmp/cir-notimage-XXXXXX");
    f = fdopen(mkstemp(path), "w");
    fputs("this is not an image, just text\n", f);
    fclose(f);
    snprintf(o.image, sizeof(o.image), "%s", path);
    cr_expect_eq(cir_watermark_load(&w, &o, NULL, why, sizeof(why)),
                 CIR_EINVAL);
    cr_expect(strncmp(why, "overlay.image /tmp/cir-notimage-", 32) == 0, "%s",
              why);
    unlink(path);
}
