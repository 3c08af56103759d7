/*
 * Image renditions of an uploaded still.  See images.h.
 *
 * The source is opened with libavformat and its size checked against the
 * limits before anything is decoded (the probe decoders are capped with
 * max_pixels too, so a PNG bomb is never expanded).  The decoded frame is
 * turned upright per its EXIF orientation (FFmpeg 5.1's mjpeg and webp
 * decoders export the IFD0 tags as frame metadata, "Orientation" among
 * them) on an RGBA copy, then each width is scaled from it.
 *
 * An s3:// source is read through the S3 AVIOContext (ranged GETs, no local
 * copy); a probe that finds no image codec in the container's header stops
 * before reading any packets, so probing a video upload costs its header.
 */
#include "images.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "asset_put.h"
#include "cir_aws.h"
#include "s3_avio.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "input.h"
#include "input_error.h"
#include "jpeg.h"

#define MAX_PIXELS     100000000LL
#define MAX_SIDE       16384
#define SNIFF_BYTES    (256 * 1024)
#define MAX_MANIFEST   (64 * 1024)
#define MAX_RENDITIONS (2 * CIR_PRESET_MAX_IMAGES)

static const cir_log_ctx_t LOG = {"images", NULL, NULL, NULL};

typedef struct {
    char path[64];
    int width, height;
    const char *format;
    size_t bytes;
} rendition_t;

static int
is_image_codec(enum AVCodecID id)
{
    switch (id) {
    case AV_CODEC_ID_MJPEG:
    case AV_CODEC_ID_PNG:
    case AV_CODEC_ID_WEBP:
    case AV_CODEC_ID_BMP:
    case AV_CODEC_ID_TIFF:
    case AV_CODEC_ID_JPEGLS:
    case AV_CODEC_ID_JPEG2000:
        return 1;
    default:
        return 0;
    }
}

static const char *
format_name(enum AVCodecID id)
{
    return id == AV_CODEC_ID_MJPEG ? "jpeg" : avcodec_get_name(id);
}

static int
too_large(long long w, long long h)
{
    return w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS;
}

static uint32_t
be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static uint32_t
le24(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/*
 * The size a PNG, JPEG or WebP header declares, read from the file's
 * first bytes.  Only used when the probe could not fill the codec
 * parameters (its decoder refused a size past max_pixels): it tells a
 * too-large image from a broken one.  Returns 0 and the size, or < 0.
 */
static int
sniff_size(const char *path, const atomic_int *cancel, long long *w,
           long long *h)
{
    uint8_t *b = NULL;
    size_t n, pos;
    FILE *f;
    int ret = CIR_EMEDIA;

    *w = *h = 0;
    b = malloc(SNIFF_BYTES);
    if (b == NULL) {
        return CIR_ENOMEM;
    }
    if (strncmp(path, "s3://", 5) == 0) {
        cir_uri_t *u = malloc(sizeof(*u));
        cir_aws_t *aws = cir_aws_default();
        n = 0;
        ret = u == NULL ? CIR_ENOMEM : aws == NULL ? CIR_EAUTH : 0;
        if (ret == 0 &&
            (cir_uri_parse(path, u) < 0 || u->scheme != CIR_URI_S3)) {
            ret = CIR_EINVAL;
        }
        if (ret == 0) {
            ret = cir_s3_get_range(aws, u->bucket, u->path, 0, SNIFF_BYTES, b,
                                   &n, cancel);
        }
        free(u);
        if (ret < 0) {
            free(b);
            return ret;
        }
        ret = CIR_EMEDIA;
    } else {
        f = fopen(path, "rb");
        if (f == NULL) {
            free(b);
            return -errno;
        }
        n = fread(b, 1, SNIFF_BYTES, f);
        fclose(f);
    }

    if (n >= 24 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 &&
        memcmp(b + 12, "IHDR", 4) == 0) {
        *w = be32(b + 16);
        *h = be32(b + 20);
        ret = 0;
    } else if (n >= 4 && b[0] == 0xFF && b[1] == 0xD8) {
        pos = 2;
        while (pos + 4 <= n && b[pos] == 0xFF) {
            uint8_t m = b[pos + 1];
            uint32_t len;

            if (m == 0xFF) {
                pos++;
                continue;
            }
            if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
                pos += 2;
                continue;
            }
            len = be16(b + pos + 2);
            if (len < 2) {
                break;
            }
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
                if (pos + 9 > n || len < 7) {
                    break;
                }
                *h = be16(b + pos + 5);
                *w = be16(b + pos + 7);
                ret = 0;
                break;
            }
            pos += 2 + (size_t)len;
        }
    } else if (n >= 30 && memcmp(b, "RIFF", 4) == 0 &&
               memcmp(b + 8, "WEBP", 4) == 0) {
        if (memcmp(b + 12, "VP8X", 4) == 0) {
            *w = 1 + (long long)le24(b + 24);
            *h = 1 + (long long)le24(b + 27);
            ret = 0;
        } else if (memcmp(b + 12, "VP8L", 4) == 0 && b[20] == 0x2f) {
            uint32_t bits = le24(b + 21) | (uint32_t)b[24] << 24;

            *w = (bits & 0x3fff) + 1;
            *h = ((bits >> 14) & 0x3fff) + 1;
            ret = 0;
        } else if (memcmp(b + 12, "VP8 ", 4) == 0) {
            *w = (b[26] | b[27] << 8) & 0x3fff;
            *h = (b[28] | b[29] << 8) & 0x3fff;
            ret = 0;
        }
    }
    free(b);
    return ret;
}

/* Does the container's header name an image codec (before any packet)? */
static int
names_image_codec(const AVFormatContext *ic)
{
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        if (is_image_codec(ic->streams[i]->codecpar->codec_id)) {
            return 1;
        }
    }
    return 0;
}

/* Opens path (a file, or s3:// through the S3 AVIOContext) and probes it
 * with the probing decoders capped.  When probing, a container whose header
 * names no image codec returns 1 (not a still) at once. */
static int
open_input(const char *path, AVFormatContext **out, int probing,
           const atomic_int *cancel)
{
    AVFormatContext *ic = NULL;
    AVDictionary *o = NULL;
    AVDictionary **sopts = NULL;
    char maxpx[32], why[1280]; /* an S3 error: its code first */
    unsigned i;
    int ret;

    *out = NULL;
    /* A name with '%' or '*' is a file, not an image2 sequence pattern. */
    av_dict_set(&o, "pattern_type", "none", 0);
    ret = cir_input_open(&ic, path, &o, cancel, why, sizeof(why));
    av_dict_free(&o);
    if (ret < 0) {
        /* a probe that fails is no error: the caller tries it as video;
         * but a read that failed is that error, not a verdict on bytes */
        int io = ret == CIR_ETRANSIENT || ret == CIR_EAUTH || ret == -EACCES;
        cir_log(probing && !io ? CIR_LOG_DEBUG : CIR_LOG_ERROR, &LOG, "%s: %s",
                path, why);
        return (ret <= CIR_EAGAIN && ret > CIR_ERR_LAST) || ret == -EACCES
                   ? ret
                   : cir_img_averr(ret);
    }
    if (probing && !names_image_codec(ic)) {
        cir_input_close(&ic);
        return 1;
    }
    snprintf(maxpx, sizeof(maxpx), "%lld", MAX_PIXELS);
    if (ic->nb_streams > 0) {
        sopts = av_calloc(ic->nb_streams, sizeof(*sopts));
        if (sopts == NULL) {
            cir_log_error(&LOG, "%s: out of memory", path);
            cir_input_close(&ic);
            return CIR_ENOMEM;
        }
        for (i = 0; i < ic->nb_streams; i++) {
            av_dict_set(&sopts[i], "max_pixels", maxpx, 0);
        }
    }
    ret = avformat_find_stream_info(ic, sopts);
    for (i = 0; sopts != NULL && i < ic->nb_streams; i++) {
        av_dict_free(&sopts[i]);
    }
    av_freep(&sopts);
    if (ret < 0) {
        char msg[1280];
        int err = cir_input_error(ic->pb, ret);
        cir_log_error(&LOG, "cannot probe %s: %s", path,
                      cir_input_strerror(ic->pb, ret, msg, sizeof(msg)));
        cir_input_close(&ic);
        return err;
    }
    *out = ic;
    return 0;
}

/* The still-image stream of ic, or -1 if ic is video, audio or nothing. */
static int
image_stream(const AVFormatContext *ic)
{
    const AVStream *st = NULL;
    const char *name = ic->iformat->name;
    size_t nl = strlen(name);
    unsigned i;
    int video = -1;

    for (i = 0; i < ic->nb_streams; i++) {
        enum AVMediaType t = ic->streams[i]->codecpar->codec_type;

        if (t == AVMEDIA_TYPE_AUDIO) {
            return -1;
        }
        if (t == AVMEDIA_TYPE_VIDEO) {
            if (video >= 0) {
                return -1;
            }
            video = (int)i;
        }
    }
    if (video < 0) {
        return -1;
    }
    st = ic->streams[video];
    if (!is_image_codec(st->codecpar->codec_id)) {
        return -1;
    }
    if (strcmp(name, "image2") == 0 ||
        (nl > 5 && strcmp(name + nl - 5, "_pipe") == 0)) {
        return video;
    }
    /* An image codec in a container: a still only with one frame. */
    if (st->nb_frames == 1 ||
        (st->nb_frames == 0 && (ic->duration == AV_NOPTS_VALUE ||
                                ic->duration <= AV_TIME_BASE / 10))) {
        return video;
    }
    return -1;
}

int
cir_images_probe(const char *path, const atomic_int *cancel)
{
    AVFormatContext *ic = NULL;
    int ret;

    ret = open_input(path, &ic, 1, cancel);
    if (ret != 0) {
        return ret < 0 ? ret : 0; /* 1: no image codec in its header */
    }
    ret = image_stream(ic) >= 0;
    cir_input_close(&ic);
    return ret;
}

static int
decode_one(AVFormatContext *ic, int si, const char *path, AVFrame **out)
{
    const AVCodecParameters *par = ic->streams[si]->codecpar;
    const AVCodec *codec;
    AVCodecContext *c = NULL;
    AVPacket *pkt = NULL;
    AVFrame *f = NULL;
    int ret, eof = 0;

    *out = NULL;
    codec = avcodec_find_decoder(par->codec_id);
    if (codec == NULL) {
        cir_log_error(&LOG, "%s: no decoder for %s", path,
                      avcodec_get_name(par->codec_id));
        return CIR_EUNSUPPORTED;
    }
    c = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    f = av_frame_alloc();
    if (c == NULL || pkt == NULL || f == NULL) {
        cir_log_error(&LOG, "%s: out of memory", path);
        ret = CIR_ENOMEM;
        goto fail;
    }
    ret = avcodec_parameters_to_context(c, par);
    if (ret < 0) {
        goto averr;
    }
    c->max_pixels = MAX_PIXELS;
    c->thread_count = 1;
    ret = avcodec_open2(c, codec, NULL);
    if (ret < 0) {
        goto averr;
    }
    for (;;) {
        ret = avcodec_receive_frame(c, f);
        if (ret >= 0) {
            break;
        }
        if (ret != AVERROR(EAGAIN) || eof) {
            goto averr;
        }
        ret = av_read_frame(ic, pkt);
        if (ret == AVERROR_EOF) {
            eof = 1;
            ret = avcodec_send_packet(c, NULL);
        } else if (ret < 0) {
            goto averr;
        } else if (pkt->stream_index != si) {
            av_packet_unref(pkt);
            continue;
        } else {
            ret = avcodec_send_packet(c, pkt);
            av_packet_unref(pkt);
            /* A broken packet: keep reading, the flush reports it. */
            if (ret == AVERROR_INVALIDDATA) {
                ret = 0;
            }
        }
        if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) {
            goto averr;
        }
    }
    *out = f;
    f = NULL;
    ret = 0;
    goto fail;

averr:
    if (cir_s3_avio_error(ic->pb) < 0) {
        /* the read failed, not the bytes */
        cir_log_error(&LOG, "%s: %s", path, cir_s3_avio_strerror(ic->pb));
        ret = cir_s3_avio_error(ic->pb);
        goto fail;
    }
    cir_log_error(&LOG, "%s: decoding the %s image failed: %s", path,
                  avcodec_get_name(par->codec_id),
                  ret == AVERROR_EOF ? "no picture" : av_err2str(ret));
    ret = ret == AVERROR(ENOMEM) ? CIR_ENOMEM : CIR_EMEDIA;
fail:
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
    return ret;
}

/* EXIF orientation 1..8 from the decoder's metadata; 1 if absent. */
static int
frame_orientation(const AVFrame *f)
{
    const AVDictionaryEntry *e;
    const char *s;
    char *end;
    long v;

    e = av_dict_get(f->metadata, "Orientation", NULL, 0);
    if (e == NULL || e->value == NULL) {
        return 1;
    }
    s = e->value;
    while (*s == ' ') { /* 5.1 pads the value: "    6" */
        s++;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || v < 1 || v > 8) {
        cir_log_warn(&LOG, "ignoring EXIF orientation \"%s\"", e->value);
        return 1;
    }
    return (int)v;
}

/*
 * Turns an RGBA frame upright: o is the EXIF orientation (2 mirror, 3
 * rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse,
 * 8 rotate 90 counter-clockwise).
 */
static int
orient_rgba(const AVFrame *src, int o, AVFrame **out)
{
    AVFrame *dst = NULL;
    int sw = src->width, sh = src->height;
    int dw = o >= 5 ? sh : sw, dh = o >= 5 ? sw : sh;
    int x, y, ret;

    ret = cir_img_alloc(dw, dh, AV_PIX_FMT_RGBA, &dst);
    if (ret < 0) {
        return ret;
    }
    for (y = 0; y < dh; y++) {
        uint32_t *d = (uint32_t *)(dst->data[0] + (size_t)y * dst->linesize[0]);

        for (x = 0; x < dw; x++) {
            int sx, sy;

            switch (o) {
            case 2:
                sx = sw - 1 - x, sy = y;
                break;
            case 3:
                sx = sw - 1 - x, sy = sh - 1 - y;
                break;
            case 4:
                sx = x, sy = sh - 1 - y;
                break;
            case 5:
                sx = y, sy = x;
                break;
            case 6:
                sx = y, sy = sh - 1 - x;
                break;
            case 7:
                sx = sw - 1 - y, sy = sh - 1 - x;
                break;
            case 8:
                sx = sw - 1 - y, sy = x;
                break;
            default:
                sx = x, sy = y;
                break;
            }
            memcpy(&d[x],
                   src->data[0] + (size_t)sy * src->linesize[0] +
                       (size_t)sx * 4,
                   4);
        }
    }
    *out = dst;
    return 0;
}

static int
any_transparent(const AVFrame *rgba)
{
    int x, y;

    for (y = 0; y < rgba->height; y++) {
        const uint8_t *p = rgba->data[0] + (size_t)y * rgba->linesize[0];

        for (x = 0; x < rgba->width; x++) {
            if (p[4 * x + 3] != 255) {
                return 1;
            }
        }
    }
    return 0;
}

/* Composites RGBA onto white, in place, leaving it opaque. */
static void
flatten_white(AVFrame *rgba)
{
    int x, y, c;

    for (y = 0; y < rgba->height; y++) {
        uint8_t *p = rgba->data[0] + (size_t)y * rgba->linesize[0];

        for (x = 0; x < rgba->width; x++, p += 4) {
            unsigned a = p[3];

            for (c = 0; c < 3; c++) {
                p[c] = (uint8_t)((p[c] * a + 255 * (255 - a) + 127) / 255);
            }
            p[3] = 255;
        }
    }
}

static int
put(cir_store_t *store, rendition_t *r, const char *ext, const char *fmt, int w,
    int h, uint8_t *data, size_t len)
{
    int ret;

    snprintf(r->path, sizeof(r->path), "images/%d.%s", w, ext);
    ret = cir_asset_put(store, CIR_ASSET_VERSION, r->path, data, len);
    if (ret < 0) {
        cir_log_error(&LOG, "writing %s failed: %s", r->path,
                      cir_strerror(ret));
        return ret;
    }
    r->width = w;
    r->height = h;
    r->format = fmt;
    r->bytes = len;
    return 0;
}

/* images/manifest.json with every path prefixed by base ("" or
 * "v/<version>/"): the version's own, or the asset's top-level one. */
static int
write_manifest(cir_store_t *store, cir_asset_place_t place, const char *base,
               int sw, int sh, const char *format, int has_alpha,
               const rendition_t *r, size_t nb)
{
    json_t *root = NULL, *arr = NULL;
    char *text = NULL, path[CIR_VERSION_ID_MAX + 96];
    size_t i;
    int ret = CIR_ENOMEM;

    arr = json_array();
    if (arr == NULL) {
        goto fail;
    }
    for (i = 0; i < nb; i++) {
        snprintf(path, sizeof(path), "%s%s", base, r[i].path);
        if (json_array_append_new(
                arr,
                json_pack("{s:s, s:i, s:i, s:s, s:I}", "path", path, "width",
                          r[i].width, "height", r[i].height, "format",
                          r[i].format, "bytes", (json_int_t)r[i].bytes)) < 0) {
            goto fail;
        }
    }
    root = json_pack("{s:{s:i, s:i, s:s, s:b}, s:o}", "source", "width", sw,
                     "height", sh, "format", format, "has_alpha", has_alpha,
                     "renditions", arr);
    arr = NULL; /* owned by root, even when json_pack failed */
    if (root == NULL) {
        goto fail;
    }
    if (base[0] != '\0') {
        json_object_set_new(root, "version_base", json_string(base));
    }
    text = json_dumps(root, JSON_INDENT(2));
    if (text == NULL || strlen(text) > MAX_MANIFEST) {
        goto fail;
    }
    ret =
        cir_asset_put(store, place, "images/manifest.json", text, strlen(text));
    if (ret < 0) {
        cir_log_error(&LOG, "writing images/manifest.json failed: %s",
                      cir_strerror(ret));
    }

fail:
    if (ret == CIR_ENOMEM) {
        cir_log_error(&LOG, "cannot build images/manifest.json");
    }
    free(text);
    json_decref(arr);
    json_decref(root);
    return ret;
}

int
cir_images_run(const char *input_path, const cir_preset_t *preset,
               cir_store_t *store)
{
    return cir_images_run_versioned(input_path, preset, store, NULL, NULL,
                                    NULL);
}

int
cir_images_run_versioned(const char *input_path, const cir_preset_t *preset,
                         cir_store_t *store, cir_store_t *top, const char *base,
                         const atomic_int *cancel)
{
    AVFormatContext *ic = NULL;
    AVFrame *src = NULL, *work = NULL, *tmp = NULL, *out = NULL;
    struct SwsContext *sws = NULL;
    rendition_t r[MAX_RENDITIONS];
    int widths[CIR_PRESET_MAX_IMAGES + 1];
    size_t nb_r = 0;
    enum AVCodecID codec_id;
    const AVPixFmtDescriptor *desc;
    long long pw, ph;
    int si, nb_w = 0, i, j, o, has_alpha, sw, sh;
    uint8_t *data = NULL;
    size_t len = 0;
    int ret;

    if (!preset->images_enabled) {
        cir_log_info(&LOG, "image renditions disabled by the preset");
        return 0;
    }
    if (!preset->image_jpeg && !preset->image_webp) {
        cir_log_error(&LOG, "the preset asks for neither JPEG nor WebP");
        return CIR_EINVAL;
    }
    ret = open_input(input_path, &ic, 0, cancel);
    if (ret < 0) {
        return ret;
    }
    si = image_stream(ic);
    if (si < 0) {
        cir_log_error(&LOG, "%s is not a still image (%s)", input_path,
                      ic->iformat->name);
        ret = CIR_EMEDIA;
        goto fail;
    }
    codec_id = ic->streams[si]->codecpar->codec_id;
    pw = ic->streams[si]->codecpar->width;
    ph = ic->streams[si]->codecpar->height;
    if (pw <= 0 || ph <= 0) {
        /* The capped probe decoder refused it: too large, or broken. */
        if (sniff_size(input_path, cancel, &pw, &ph) < 0 || pw <= 0 ||
            ph <= 0) {
            cir_log_error(&LOG, "%s: the %s image has no usable size",
                          input_path, avcodec_get_name(codec_id));
            ret = CIR_EMEDIA;
            goto fail;
        }
    }
    if (too_large(pw, ph)) {
        cir_log_error(&LOG,
                      "%s: %lldx%lld is larger than the limit (%d px "
                      "a side, %lld pixels)",
                      input_path, pw, ph, MAX_SIDE, MAX_PIXELS);
        ret = CIR_ELIMIT;
        goto fail;
    }

    ret = decode_one(ic, si, input_path, &src);
    if (ret < 0) {
        goto fail;
    }
    if (too_large(src->width, src->height)) {
        cir_log_error(&LOG, "%s: decoded %dx%d is larger than the limit",
                      input_path, src->width, src->height);
        ret = CIR_ELIMIT;
        goto fail;
    }
    desc = av_pix_fmt_desc_get((enum AVPixelFormat)src->format);
    has_alpha = desc != NULL && (desc->flags & AV_PIX_FMT_FLAG_ALPHA);
    o = frame_orientation(src);

    /* The working frame: the decoded one, or an upright RGBA copy. */
    if (has_alpha || o != 1) {
        ret = cir_img_scale(&sws, src, src->width, src->height, AV_PIX_FMT_RGBA,
                            &LOG, &tmp);
        if (ret < 0) {
            goto fail;
        }
        av_frame_free(&src);
        has_alpha = has_alpha && any_transparent(tmp);
        if (o != 1) {
            ret = orient_rgba(tmp, o, &work);
            if (ret < 0) {
                cir_log_error(&LOG, "%s: applying orientation %d failed: %s",
                              input_path, o, cir_strerror(ret));
                goto fail;
            }
            av_frame_free(&tmp);
        } else {
            work = tmp;
            tmp = NULL;
        }
    } else {
        work = src;
        src = NULL;
    }
    sw = work->width;
    sh = work->height;

    for (i = 0; i < preset->nb_image_widths && i < CIR_PRESET_MAX_IMAGES; i++) {
        int w = preset->image_widths[i], dup = 0;

        for (j = 0; j < nb_w; j++) {
            dup |= widths[j] == w;
        }
        if (w >= 1 && w <= sw && !dup) {
            widths[nb_w++] = w;
        }
    }
    if (nb_w == 0) {
        widths[nb_w++] = sw;
    }

    for (i = 0; i < nb_w; i++) {
        int w = widths[i], h;

        if (w == sw) {
            h = sh;
        } else {
            h = 2 * (int)lround((double)w * sh / sw / 2.0);
            if (h < 1) {
                h = 1;
            }
        }
        if (preset->image_jpeg) {
            if (has_alpha) {
                ret = cir_img_scale(&sws, work, w, h, AV_PIX_FMT_RGBA, &LOG,
                                    &tmp);
                if (ret < 0) {
                    goto fail;
                }
                flatten_white(tmp);
            }
            ret = cir_img_scale(&sws, has_alpha ? tmp : work, w, h,
                                AV_PIX_FMT_YUVJ420P, &LOG, &out);
            av_frame_free(&tmp);
            if (ret < 0) {
                goto fail;
            }
            ret = cir_img_encode_jpeg(out, preset->jpeg_quality, &LOG, &data,
                                      &len);
            av_frame_free(&out);
            if (ret < 0) {
                goto fail;
            }
            ret = put(store, &r[nb_r], "jpg", "jpeg", w, h, data, len);
            free(data);
            data = NULL;
            if (ret < 0) {
                goto fail;
            }
            nb_r++;
        }
        if (preset->image_webp) {
            ret = cir_img_scale(&sws, work, w, h,
                                has_alpha ? AV_PIX_FMT_YUVA420P
                                          : AV_PIX_FMT_YUV420P,
                                &LOG, &out);
            if (ret < 0) {
                goto fail;
            }
            ret = cir_img_encode_webp(out, preset->webp_quality, &LOG, &data,
                                      &len);
            av_frame_free(&out);
            if (ret < 0) {
                goto fail;
            }
            ret = put(store, &r[nb_r], "webp", "webp", w, h, data, len);
            free(data);
            data = NULL;
            if (ret < 0) {
                goto fail;
            }
            nb_r++;
        }
    }

    /* without a top store, store is the asset itself (not versioned) */
    ret = write_manifest(store, top != NULL ? CIR_ASSET_VERSION : CIR_ASSET_TOP,
                         "", sw, sh, format_name(codec_id), has_alpha, r, nb_r);
    if (ret == 0 && top != NULL) {
        /* the asset's own manifest last, pointing into the version */
        ret = write_manifest(top, CIR_ASSET_TOP, base ? base : "", sw, sh,
                             format_name(codec_id), has_alpha, r, nb_r);
    }
    if (ret == 0) {
        cir_log_info(&LOG, "%s: %dx%d %s, orientation %d, %zu renditions",
                     input_path, sw, sh, format_name(codec_id), o, nb_r);
    }

fail:
    free(data);
    av_frame_free(&out);
    av_frame_free(&tmp);
    av_frame_free(&work);
    av_frame_free(&src);
    sws_freeContext(sws);
    cir_input_close(&ic);
    return ret;
}
