/*
 * Image renditions from inputs the test makes with libavcodec (a PNG with
 * alpha, JPEGs with an EXIF orientation spliced in after SOI), decoded back
 * to check sizes, formats, alpha, orientation and the manifest.
 */
#include <criterion/criterion.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>

#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "images.h"

static char root[256]; /* the store */
static char in[256];   /* inputs */
static cir_store_t *store;

static void
setup(void)
{
    cir_uri_t uri;

    cir_log_set_level(CIR_LOG_QUIET);
    av_log_set_level(AV_LOG_QUIET);
    snprintf(root, sizeof(root), "/tmp/cir-images-XXXXXX");
    snprintf(in, sizeof(in), "/tmp/cir-images-in-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    cr_assert_not_null(mkdtemp(in));
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
}

static void
teardown(void)
{
    char cmd[600];

    cir_store_close(&store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, in);
    cr_assert_eq(system(cmd), 0);
}

static const char *
out_path(const char *rel)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return path;
}

static long
out_size(const char *rel)
{
    struct stat st;

    return stat(out_path(rel), &st) == 0 ? (long)st.st_size : -1;
}

static const char *
write_input(const char *name, const uint8_t *data, size_t len)
{
    static char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", in, name);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

/* Encodes f with the named encoder into a malloc'd buffer. */
static uint8_t *
encode(const char *encoder, AVFrame *f, size_t *len)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(encoder);
    AVCodecContext *c = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    uint8_t *data;

    c->width = f->width;
    c->height = f->height;
    c->pix_fmt = f->format;
    c->time_base = (AVRational){1, 25};
    if (codec->id == AV_CODEC_ID_MJPEG) {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = f->quality = 3 * FF_QP2LAMBDA;
    }
    cr_assert_eq(avcodec_open2(c, codec, NULL), 0);
    cr_assert_eq(avcodec_send_frame(c, f), 0);
    avcodec_send_frame(c, NULL);
    cr_assert_eq(avcodec_receive_packet(c, pkt), 0);
    data = malloc(pkt->size);
    memcpy(data, pkt->data, pkt->size);
    *len = pkt->size;
    av_packet_free(&pkt);
    avcodec_free_context(&c);
    return data;
}

static AVFrame *
frame(int w, int h, enum AVPixelFormat fmt)
{
    AVFrame *f = av_frame_alloc();

    f->width = w;
    f->height = h;
    f->format = fmt;
    cr_assert_eq(av_frame_get_buffer(f, 0), 0);
    return f;
}

/* 640x360 RGBA gradient; transparent from x = 480, half from x = 320. */
static const char *
make_png(void)
{
    AVFrame *f = frame(640, 360, AV_PIX_FMT_RGBA);
    uint8_t *data;
    size_t len;
    const char *path;
    int x, y;

    for (y = 0; y < 360; y++) {
        uint8_t *p = f->data[0] + (size_t)y * f->linesize[0];

        for (x = 0; x < 640; x++, p += 4) {
            p[0] = (uint8_t)(x * 255 / 639);
            p[1] = (uint8_t)(y * 255 / 359);
            p[2] = 60;
            p[3] = x < 320 ? 255 : x < 480 ? 128 : 0;
        }
    }
    data = encode("png", f, &len);
    path = write_input("in.png", data, len);
    free(data);
    av_frame_free(&f);
    return path;
}

/* A w x h JPEG, bright in the top-left quadrant (or the top half), dark
 * elsewhere, with an APP1 Exif segment (IFD0 Orientation) after SOI when
 * orientation > 0. */
static const char *
make_jpeg(const char *name, int w, int h, int top_half, int orientation)
{
    static const uint8_t tiff_be[] = {
        'M',  'M',  0, 42, 0, 0, 0, 8,             /* header, IFD0 at 8 */
        0,    1,                                   /* one entry */
        0x01, 0x12, 0, 3,  0, 0, 0, 1, 0, 0, 0, 0, /* Orientation SHORT */
        0,    0,    0, 0};                         /* no next IFD */
    AVFrame *f = frame(w, h, AV_PIX_FMT_YUVJ420P);
    uint8_t *jpg, *out;
    size_t len, seglen, n;
    const char *path;
    int x, y;

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            int bright = y < h / 2 && (top_half || x < w / 2);

            f->data[0][(size_t)y * f->linesize[0] + x] = bright ? 250 : 5;
        }
    }
    for (y = 0; y < (h + 1) / 2; y++) {
        memset(f->data[1] + (size_t)y * f->linesize[1], 128, (w + 1) / 2);
        memset(f->data[2] + (size_t)y * f->linesize[2], 128, (w + 1) / 2);
    }
    jpg = encode("mjpeg", f, &len);
    av_frame_free(&f);
    if (orientation <= 0) {
        path = write_input(name, jpg, len);
        free(jpg);
        return path;
    }
    seglen = 2 + 6 + sizeof(tiff_be);
    out = malloc(len + 2 + seglen);
    n = 0;
    memcpy(out, jpg, 2); /* SOI */
    n += 2;
    out[n++] = 0xFF;
    out[n++] = 0xE1;
    out[n++] = (uint8_t)(seglen >> 8);
    out[n++] = (uint8_t)seglen;
    memcpy(out + n, "Exif\0\0", 6);
    n += 6;
    memcpy(out + n, tiff_be, sizeof(tiff_be));
    out[n + 18] = 0; /* the SHORT value, big-endian, left-justified */
    out[n + 19] = (uint8_t)orientation;
    n += sizeof(tiff_be);
    memcpy(out + n, jpg + 2, len - 2);
    n += len - 2;
    path = write_input(name, out, n);
    free(out);
    free(jpg);
    return path;
}

/* Decodes root/rel; the caller frees the frame. */
static AVFrame *
decode(const char *rel, enum AVCodecID *codec_id)
{
    AVFormatContext *ic = NULL;
    AVCodecContext *c;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    const AVCodec *codec;

    cr_assert_eq(avformat_open_input(&ic, out_path(rel), NULL, NULL), 0, "%s",
                 rel);
    cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
    codec = avcodec_find_decoder(ic->streams[0]->codecpar->codec_id);
    cr_assert_not_null(codec);
    c = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(c, ic->streams[0]->codecpar);
    cr_assert_eq(avcodec_open2(c, codec, NULL), 0);
    cr_assert_eq(av_read_frame(ic, pkt), 0);
    cr_assert_eq(avcodec_send_packet(c, pkt), 0);
    avcodec_send_packet(c, NULL);
    cr_assert_eq(avcodec_receive_frame(c, f), 0, "%s does not decode", rel);
    *codec_id = c->codec_id;
    av_packet_free(&pkt);
    avcodec_free_context(&c);
    avformat_close_input(&ic);
    return f;
}

static void
expect_image(const char *rel, enum AVCodecID id, int w, int h)
{
    enum AVCodecID got;
    AVFrame *f = decode(rel, &got);

    cr_assert_eq(got, id, "%s", rel);
    cr_assert_eq(f->width, w, "%s: width %d", rel, f->width);
    cr_assert_eq(f->height, h, "%s: height %d", rel, f->height);
    av_frame_free(&f);
}

static double
mean_luma(const AVFrame *f, int x0, int y0, int x1, int y1)
{
    double sum = 0;
    int x, y;

    for (y = y0; y < y1; y++) {
        for (x = x0; x < x1; x++) {
            sum += f->data[0][(size_t)y * f->linesize[0] + x];
        }
    }
    return sum / ((double)(x1 - x0) * (y1 - y0));
}

static cir_preset_t
preset_widths(int n, const int *w)
{
    cir_preset_t p;
    int i;

    cir_preset_defaults(&p);
    p.images_enabled = 1;
    p.image_jpeg = 1;
    p.image_webp = 1;
    p.jpeg_quality = 85;
    p.webp_quality = 80;
    p.nb_image_widths = n;
    for (i = 0; i < n; i++) {
        p.image_widths[i] = w[i];
    }
    return p;
}

TestSuite(images, .init = setup, .fini = teardown);

Test(images, probe_tells_stills_from_video)
{
    /* A 3-frame YUV4MPEG stream: video, not a still. */
    static const char hdr[] = "YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg\n";
    uint8_t y4m[sizeof(hdr) - 1 + 3 * (6 + 384)];
    const char *png, *jpg, *vid, *txt;
    size_t n = 0;
    int i;

    memcpy(y4m, hdr, sizeof(hdr) - 1);
    n = sizeof(hdr) - 1;
    for (i = 0; i < 3; i++) {
        memcpy(y4m + n, "FRAME\n", 6);
        memset(y4m + n + 6, 100, 384);
        n += 6 + 384;
    }
    vid = write_input("clip.y4m", y4m, n);
    cr_assert_eq(cir_images_probe(vid, NULL), 0);
    png = make_png();
    cr_assert_eq(cir_images_probe(png, NULL), 1);
    jpg = make_jpeg("a.jpg", 64, 32, 0, 0);
    cr_assert_eq(cir_images_probe(jpg, NULL), 1);
    txt = write_input("notes.txt", (const uint8_t *)"hello, world\n", 13);
    cr_assert_lt(cir_images_probe(txt, NULL), 0);
    cr_assert_lt(cir_images_probe("/nonexistent/x.png", NULL), 0);
}

/* A cancelled job (its lease lost) reads no more of its input: the probe
 * and the renditions stop as cancelled, and nothing is written. */
Test(images, a_cancelled_job_stops_reading_its_input)
{
    static const int widths[] = {320};
    cir_preset_t p = preset_widths(1, widths);
    const char *png = make_png();
    atomic_int cancel = 1;

    cr_assert_eq(cir_images_probe(png, &cancel), CIR_ECANCELED);
    cr_assert_eq(cir_images_run_versioned(png, &p, store, NULL, NULL, &cancel),
                 CIR_ECANCELED);
    cr_assert_lt(out_size("images/320.jpg"), 0);
    cr_assert_lt(out_size("images/manifest.json"), 0);
    atomic_store(&cancel, 0);
    cr_assert_eq(cir_images_probe(png, &cancel), 1);
}

Test(images, png_with_alpha_renditions_and_manifest)
{
    static const int widths[] = {320, 640, 1280};
    cir_preset_t p = preset_widths(3, widths);
    const char *png = make_png();
    json_t *m, *src, *arr, *r;
    json_error_t jerr;
    enum AVCodecID id;
    AVFrame *f;
    size_t i;

    cr_assert_eq(cir_images_run(png, &p, store), 0);

    expect_image("images/320.jpg", AV_CODEC_ID_MJPEG, 320, 180);
    expect_image("images/640.jpg", AV_CODEC_ID_MJPEG, 640, 360);
    expect_image("images/320.webp", AV_CODEC_ID_WEBP, 320, 180);
    expect_image("images/640.webp", AV_CODEC_ID_WEBP, 640, 360);
    cr_assert_lt(out_size("images/1280.jpg"), 0); /* never upscaled */
    cr_assert_lt(out_size("images/1280.webp"), 0);

    /* WebP keeps alpha: transparent on the right, opaque on the left. */
    f = decode("images/640.webp", &id);
    cr_assert_eq(f->format, AV_PIX_FMT_YUVA420P, "%s",
                 av_get_pix_fmt_name(f->format));
    cr_assert_eq(f->data[3][100 * f->linesize[3] + 100], 255);
    cr_assert_lt(f->data[3][100 * f->linesize[3] + 600], 16);
    av_frame_free(&f);

    /* JPEG: the transparent part is flattened onto white. */
    f = decode("images/640.jpg", &id);
    cr_assert_gt(mean_luma(f, 500, 10, 630, 350), 245);
    cr_assert_lt(mean_luma(f, 0, 10, 100, 350), 200);
    av_frame_free(&f);

    m = json_load_file(out_path("images/manifest.json"), 0, &jerr);
    cr_assert_not_null(m, "%s", jerr.text);
    src = json_object_get(m, "source");
    cr_assert_eq(json_integer_value(json_object_get(src, "width")), 640);
    cr_assert_eq(json_integer_value(json_object_get(src, "height")), 360);
    cr_assert_str_eq(json_string_value(json_object_get(src, "format")), "png");
    cr_assert(json_is_true(json_object_get(src, "has_alpha")));
    arr = json_object_get(m, "renditions");
    cr_assert_eq(json_array_size(arr), 4);
    json_array_foreach(arr, i, r)
    {
        const char *path = json_string_value(json_object_get(r, "path"));
        const char *fmt = json_string_value(json_object_get(r, "format"));
        json_int_t w = json_integer_value(json_object_get(r, "width"));
        json_int_t h = json_integer_value(json_object_get(r, "height"));
        char expect[64];

        cr_assert_not_null(path);
        cr_assert_not_null(fmt);
        cr_assert(w == 320 || w == 640);
        cr_assert_eq(h, w * 9 / 16);
        snprintf(expect, sizeof(expect), "images/%d.%s", (int)w,
                 strcmp(fmt, "jpeg") == 0 ? "jpg" : "webp");
        cr_assert_str_eq(path, expect);
        cr_assert_eq(json_integer_value(json_object_get(r, "bytes")),
                     out_size(path));
    }
    json_decref(m);
}

Test(images, exif_orientation_6_rotates_clockwise)
{
    static const int widths[] = {320, 640};
    cir_preset_t p = preset_widths(2, widths);
    const char *jpg = make_jpeg("rot.jpg", 640, 360, 1, 6);
    json_t *m, *src;
    enum AVCodecID id;
    AVFrame *f;

    cr_assert_eq(cir_images_run(jpg, &p, store), 0);
    /* Upright it is 360x640: 640 does not fit, 320 -> 320x568. */
    expect_image("images/320.jpg", AV_CODEC_ID_MJPEG, 320, 568);
    expect_image("images/320.webp", AV_CODEC_ID_WEBP, 320, 568);
    cr_assert_lt(out_size("images/640.jpg"), 0);

    /* The top half turned 90 degrees clockwise is the right half. */
    f = decode("images/320.jpg", &id);
    cr_assert_gt(mean_luma(f, 180, 10, 310, 558), 200);
    cr_assert_lt(mean_luma(f, 10, 10, 140, 558), 50);
    av_frame_free(&f);
    f = decode("images/320.webp", &id);
    cr_assert_eq(f->format, AV_PIX_FMT_YUV420P); /* no alpha */
    av_frame_free(&f);

    m = json_load_file(out_path("images/manifest.json"), 0, NULL);
    cr_assert_not_null(m);
    src = json_object_get(m, "source");
    cr_assert_eq(json_integer_value(json_object_get(src, "width")), 360);
    cr_assert_eq(json_integer_value(json_object_get(src, "height")), 640);
    cr_assert_str_eq(json_string_value(json_object_get(src, "format")), "jpeg");
    cr_assert(json_is_false(json_object_get(src, "has_alpha")));
    cr_assert_eq(json_array_size(json_object_get(m, "renditions")), 2);
    json_decref(m);
}

Test(images, all_eight_orientations)
{
    /* Where the bright top-left quadrant of the stored image ends up:
     * 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right. */
    static const int quadrant[9] = {0, 0, 1, 3, 2, 0, 1, 3, 2};
    static const int widths[] = {64};
    cir_preset_t p = preset_widths(1, widths);
    int o;

    p.image_webp = 0;
    for (o = 1; o <= 8; o++) {
        char name[32];
        const char *jpg;
        const char *rel = o >= 5 ? "images/32.jpg" : "images/64.jpg";
        int w = o >= 5 ? 32 : 64, h = o >= 5 ? 64 : 32, q;
        enum AVCodecID id;
        AVFrame *f;

        snprintf(name, sizeof(name), "o%d.jpg", o);
        jpg = make_jpeg(name, 64, 32, 0, o);
        cr_assert_eq(cir_images_run(jpg, &p, store), 0, "orientation %d", o);
        f = decode(rel, &id);
        cr_assert_eq(f->width, w, "orientation %d", o);
        cr_assert_eq(f->height, h, "orientation %d", o);
        for (q = 0; q < 4; q++) {
            int x0 = (q & 1) * w / 2, y0 = (q >> 1) * h / 2;
            double l =
                mean_luma(f, x0 + 2, y0 + 2, x0 + w / 2 - 2, y0 + h / 2 - 2);

            if (q == quadrant[o]) {
                cr_assert_gt(l, 200, "orientation %d quadrant %d: %g", o, q, l);
            } else {
                cr_assert_lt(l, 50, "orientation %d quadrant %d: %g", o, q, l);
            }
        }
        av_frame_free(&f);
        cr_assert_eq(remove(out_path(rel)), 0);
    }
}

Test(images, no_width_fits_gives_the_source_width)
{
    static const int widths[] = {2000, 4000};
    cir_preset_t p = preset_widths(2, widths);

    cr_assert_eq(cir_images_run(make_png(), &p, store), 0);
    expect_image("images/640.jpg", AV_CODEC_ID_MJPEG, 640, 360);
    expect_image("images/640.webp", AV_CODEC_ID_WEBP, 640, 360);
    cr_assert_lt(out_size("images/2000.jpg"), 0);
    cr_assert_gt(out_size("images/manifest.json"), 0);
}

Test(images, limits_refuse_before_decoding)
{
    static const int widths[] = {320};
    cir_preset_t p = preset_widths(1, widths);
    AVFrame *f = frame(20000, 16, AV_PIX_FMT_GRAY8);
    uint8_t *data;
    size_t len, i;
    const char *path;

    /* A real image 20000 px wide. */
    memset(f->data[0], 7, (size_t)f->linesize[0] * 16);
    data = encode("png", f, &len);
    av_frame_free(&f);
    path = write_input("wide.png", data, len);
    free(data);
    cr_assert_eq(cir_images_run(path, &p, store), CIR_ELIMIT);

    /* A small JPEG whose SOF says 12000x10000 (120 megapixels). */
    path = make_jpeg("big.jpg", 64, 32, 0, 0);
    {
        FILE *fp = fopen(path, "rb");
        uint8_t buf[65536];

        len = fread(buf, 1, sizeof(buf), fp);
        fclose(fp);
        for (i = 2; i + 9 < len; i++) {
            if (buf[i] == 0xFF && buf[i + 1] == 0xC0) {
                buf[i + 5] = 10000 >> 8;
                buf[i + 6] = 10000 & 0xFF;
                buf[i + 7] = 12000 >> 8;
                buf[i + 8] = 12000 & 0xFF;
                break;
            }
        }
        cr_assert_lt(i + 9, len, "no SOF0");
        path = write_input("big.jpg", buf, len);
    }
    cr_assert_eq(cir_images_run(path, &p, store), CIR_ELIMIT);

    /* A PNG whose IHDR says 10240x10240 (105 megapixels). */
    f = frame(16, 16, AV_PIX_FMT_GRAY8);
    memset(f->data[0], 7, (size_t)f->linesize[0] * 16);
    data = encode("png", f, &len);
    av_frame_free(&f);
    data[16] = data[20] = 0;
    data[17] = data[21] = 0;
    data[18] = data[22] = 10240 >> 8;
    data[19] = data[23] = 10240 & 0xFF;
    path = write_input("bomb.png", data, len);
    free(data);
    cr_assert_eq(cir_images_run(path, &p, store), CIR_ELIMIT);

    cr_assert_lt(out_size("images/manifest.json"), 0);
    cr_assert_lt(out_size("images/320.jpg"), 0);
}

Test(images, not_an_image_is_a_media_error)
{
    static const int widths[] = {320};
    cir_preset_t p = preset_widths(1, widths);
    const char *txt;

    txt = write_input("notes.txt", (const uint8_t *)"hello, world\n", 13);
    cr_assert_eq(cir_images_run(txt, &p, store), CIR_EMEDIA);
    cr_assert_lt(out_size("images/manifest.json"), 0);
}

Test(images, disabled_preset_writes_nothing)
{
    static const int widths[] = {320};
    cir_preset_t p = preset_widths(1, widths);

    p.images_enabled = 0;
    cr_assert_eq(cir_images_run(make_png(), &p, store), 0);
    cr_assert_lt(out_size("images/manifest.json"), 0);
    cr_assert_lt(out_size("images/320.jpg"), 0);
}
