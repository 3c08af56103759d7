/*
 * A job's watermark on the video rungs.  See watermark.h.
 *
 * Tested by tests/unit/test_transcoder_watermark.c and
 * tests/integration/job_options.test.mjs.
 */
#include "watermark.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "cir_error.h"
#include "cir_storage.h"
#include "input.h"

struct cir_watermark {
    cir_overlay_t spec;
    AVFrame *image; /* decoded, its own pixel format */
};

struct cir_watermark_rung {
    int x, y, w, h;
    AVFrame *yuva;   /* w x h, YUVA 4:2:0, alpha times the opacity */
    uint8_t *alpha2; /* (w/2) x (h/2): the chroma planes' alpha */
};

/* The first frame of ic's video stream. */
static int
decode_first(AVFormatContext *ic, int stream, AVFrame *out, char *why,
             size_t why_len)
{
    const AVCodecParameters *par = ic->streams[stream]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    AVCodecContext *dec = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    int ret = dec && pkt ? avcodec_parameters_to_context(dec, par) : -1;

    if (ret >= 0) {
        /* whatever the header said: the decoder is bounded too */
        dec->max_pixels =
            (int64_t)CIR_WATERMARK_MAX_SIDE * CIR_WATERMARK_MAX_SIDE;
        ret = avcodec_open2(dec, codec, NULL);
    }
    while (ret >= 0) {
        ret = avcodec_receive_frame(dec, out);
        if (ret != AVERROR(EAGAIN)) {
            break;
        }
        ret = av_read_frame(ic, pkt);
        if (ret == AVERROR_EOF) {
            ret = avcodec_send_packet(dec, NULL);
        } else if (ret >= 0) {
            ret =
                pkt->stream_index == stream ? avcodec_send_packet(dec, pkt) : 0;
            av_packet_unref(pkt);
        }
    }
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    if (ret < 0) {
        snprintf(why, why_len, "cannot be decoded (%s)", av_err2str(ret));
        return CIR_EMEDIA;
    }
    return 0;
}

/* The image's one still stream: a PNG or JPEG of a bounded size. */
static int
find_image(AVFormatContext *ic, int *stream, char *why, size_t why_len)
{
    const AVCodecParameters *par;
    int i = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);

    if (i < 0) {
        snprintf(why, why_len, "not an image");
        return CIR_EMEDIA;
    }
    par = ic->streams[i]->codecpar;
    if (par->codec_id != AV_CODEC_ID_PNG &&
        par->codec_id != AV_CODEC_ID_MJPEG) {
        snprintf(why, why_len, "not a PNG or JPEG (%s)",
                 avcodec_get_name(par->codec_id));
        return CIR_EMEDIA;
    }
    if (par->width < 1 || par->height < 1 ||
        par->width > CIR_WATERMARK_MAX_SIDE ||
        par->height > CIR_WATERMARK_MAX_SIDE) {
        snprintf(why, why_len, "%dx%d: not 1 to %d pixels a side", par->width,
                 par->height, CIR_WATERMARK_MAX_SIDE);
        return CIR_EMEDIA;
    }
    *stream = i;
    return 0;
}

static int
read_image(cir_watermark_t *w, const atomic_int *cancel, char *why,
           size_t why_len)
{
    AVFormatContext *ic = NULL;
    AVDictionary *opts = NULL;
    char msg[600], uwhy[300];
    const char *path = w->spec.image;
    cir_uri_t u;
    int ret, stream = -1;

    if (cir_uri_parse_why(w->spec.image, &u, uwhy, sizeof(uwhy)) < 0) {
        snprintf(why, why_len, "overlay.image %.300s: %s", w->spec.image, uwhy);
        return CIR_EINVAL;
    }
    if (u.scheme == CIR_URI_FILE) {
        path = u.path;
    }
    /* a name with '%' or '*' is a file, not an image2 sequence pattern */
    av_dict_set(&opts, "pattern_type", "none", 0);
    ret = cir_input_open(&ic, path, &opts, cancel, msg, sizeof(msg));
    av_dict_free(&opts);
    if (ret == 0 && avformat_find_stream_info(ic, NULL) < 0) {
        snprintf(msg, sizeof(msg), "cannot be read as an image");
        ret = CIR_EMEDIA;
    }
    if (ret == 0 && (ret = find_image(ic, &stream, msg, sizeof(msg))) == 0) {
        ret = decode_first(ic, stream, w->image, msg, sizeof(msg));
    }
    cir_input_close(&ic);
    if (ret < 0) {
        snprintf(why, why_len, "overlay.image %.300s: %s", w->spec.image, msg);
        /* a file that is no image is the job's fault, not the media's */
        return ret == CIR_EMEDIA || ret == CIR_EUNSUPPORTED ? CIR_EINVAL : ret;
    }
    return 0;
}

int
cir_watermark_load(cir_watermark_t **out, const cir_overlay_t *spec,
                   const atomic_int *cancel, char *why, size_t why_len)
{
    cir_watermark_t *w = calloc(1, sizeof(*w));
    int ret;

    *out = NULL;
    if (w == NULL || (w->image = av_frame_alloc()) == NULL) {
        cir_watermark_free(&w);
        snprintf(why, why_len, "overlay: out of memory");
        return CIR_ENOMEM;
    }
    w->spec = *spec;
    if ((ret = read_image(w, cancel, why, why_len)) < 0) {
        cir_watermark_free(&w);
        return ret;
    }
    *out = w;
    return 0;
}

void
cir_watermark_free(cir_watermark_t **w)
{
    if (*w != NULL) {
        av_frame_free(&(*w)->image);
        free(*w);
        *w = NULL;
    }
}

/* Rounded to an even number of at least 2. */
static int
even(double x)
{
    int n = (int)lround(x / 2) * 2;
    return n < 2 ? 2 : n;
}

/* The image's size and place on width x height frames. */
static void
place(const cir_watermark_t *w, int width, int height, cir_watermark_rung_t *r)
{
    const cir_overlay_t *o = &w->spec;
    int m = (int)lround(o->margin * height) & ~1;

    r->h = even(o->height * height);
    r->w = even((double)r->h * w->image->width / w->image->height);
    if (r->w > width) { /* a wide image: the frame's width at most */
        r->w = width & ~1;
        r->h = FFMIN(height & ~1,
                     even((double)r->w * w->image->height / w->image->width));
    }
    r->h = FFMIN(r->h, height & ~1);
    switch (o->position) {
    case CIR_OVERLAY_TOP_LEFT:
        r->x = m, r->y = m;
        break;
    case CIR_OVERLAY_TOP_RIGHT:
        r->x = width - r->w - m, r->y = m;
        break;
    case CIR_OVERLAY_BOTTOM_LEFT:
        r->x = m, r->y = height - r->h - m;
        break;
    case CIR_OVERLAY_CENTER:
        r->x = (width - r->w) / 2, r->y = (height - r->h) / 2;
        break;
    default:
        r->x = width - r->w - m, r->y = height - r->h - m;
        break;
    }
    /* inside the frame, on a chroma sample */
    r->x = FFMAX(0, FFMIN(r->x, width - r->w)) & ~1;
    r->y = FFMAX(0, FFMIN(r->y, height - r->h)) & ~1;
}

/* The opacity folded into the alpha plane, and the chroma planes' alpha:
 * the mean of each 2x2 block. */
static int
prepare_alpha(cir_watermark_rung_t *r, double opacity)
{
    AVFrame *f = r->yuva;
    int op = (int)lround(opacity * 256);

    for (int y = 0; y < r->h; y++) {
        uint8_t *a = f->data[3] + (size_t)y * f->linesize[3];
        for (int x = 0; x < r->w; x++) {
            a[x] = (uint8_t)((a[x] * op) >> 8);
        }
    }
    r->alpha2 = malloc((size_t)(r->w / 2) * (size_t)(r->h / 2));
    if (r->alpha2 == NULL) {
        return CIR_ENOMEM;
    }
    for (int y = 0; y < r->h / 2; y++) {
        const uint8_t *a0 = f->data[3] + (size_t)(2 * y) * f->linesize[3];
        const uint8_t *a1 = a0 + f->linesize[3];
        for (int x = 0; x < r->w / 2; x++) {
            r->alpha2[(size_t)y * (size_t)(r->w / 2) + (size_t)x] =
                (uint8_t)((a0[2 * x] + a0[2 * x + 1] + a1[2 * x] +
                           a1[2 * x + 1] + 2) /
                          4);
        }
    }
    return 0;
}

int
cir_watermark_for_size(const cir_watermark_t *w, int width, int height,
                       cir_watermark_rung_t **out)
{
    const AVFrame *img = w->image;
    cir_watermark_rung_t *r = calloc(1, sizeof(*r));
    struct SwsContext *sws = NULL;
    int ret = CIR_ENOMEM;

    *out = NULL;
    if (r == NULL || (r->yuva = av_frame_alloc()) == NULL) {
        goto done;
    }
    place(w, width, height, r);
    r->yuva->format = AV_PIX_FMT_YUVA420P;
    r->yuva->width = r->w;
    r->yuva->height = r->h;
    if (av_frame_get_buffer(r->yuva, 0) < 0) {
        goto done;
    }
    sws = sws_getContext(img->width, img->height, img->format, r->w, r->h,
                         AV_PIX_FMT_YUVA420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (sws == NULL) {
        ret = CIR_EINTERNAL;
        goto done;
    }
    sws_scale(sws, (const uint8_t *const *)img->data, img->linesize, 0,
              img->height, r->yuva->data, r->yuva->linesize);
    if ((ret = prepare_alpha(r, w->spec.opacity)) < 0) {
        goto done;
    }
    *out = r;
    r = NULL;
    ret = 0;
done:
    sws_freeContext(sws);
    cir_watermark_rung_free(&r);
    return ret;
}

void
cir_watermark_rect(const cir_watermark_rung_t *r, int *x, int *y, int *w,
                   int *h)
{
    *x = r->x, *y = r->y, *w = r->w, *h = r->h;
}

/* dst over w x h pixels: src where alpha says, over what was there. */
static void
blend_plane(uint8_t *dst, int dst_stride, const uint8_t *src, int src_stride,
            const uint8_t *alpha, int alpha_stride, int w, int h)
{
    for (int y = 0; y < h; y++) {
        uint8_t *d = dst + (size_t)y * (size_t)dst_stride;
        const uint8_t *s = src + (size_t)y * (size_t)src_stride;
        const uint8_t *a = alpha + (size_t)y * (size_t)alpha_stride;
        for (int x = 0; x < w; x++) {
            d[x] = (uint8_t)((s[x] * a[x] + d[x] * (255 - a[x]) + 127) / 255);
        }
    }
}

void
cir_watermark_blend(const cir_watermark_rung_t *r, AVFrame *f)
{
    const AVFrame *o = r->yuva;
    int cx = r->x / 2, cy = r->y / 2, cw = r->w / 2, ch = r->h / 2;

    blend_plane(f->data[0] + (size_t)r->y * (size_t)f->linesize[0] +
                    (size_t)r->x,
                f->linesize[0], o->data[0], o->linesize[0], o->data[3],
                o->linesize[3], r->w, r->h);
    for (int p = 1; p <= 2; p++) {
        blend_plane(
            f->data[p] + (size_t)cy * (size_t)f->linesize[p] + (size_t)cx,
            f->linesize[p], o->data[p], o->linesize[p], r->alpha2, cw, cw, ch);
    }
}

void
cir_watermark_rung_free(cir_watermark_rung_t **r)
{
    if (*r != NULL) {
        av_frame_free(&(*r)->yuva);
        free((*r)->alpha2);
        free(*r);
        *r = NULL;
    }
}
