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
#include "s3_avio.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "input.h"
#include "input_error.h"
#include "image_orient.h"
#include "image_sniff.h"
#include "jpeg.h"

#define MAX_PIXELS     100000000LL
#define MAX_SIDE       16384
#define MAX_MANIFEST   (64 * 1024)
#define MAX_RENDITIONS (2 * CIR_PRESET_MAX_IMAGES)

static const cir_log_ctx_t LOG = {.component = "images"};

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

/* Reads ic's stream info with the probing decoders capped (a PNG bomb is
 * never expanded).  Returns 0 or the read's error. */
static int
read_stream_info(AVFormatContext *ic, const char *path)
{
    AVDictionary **sopts = NULL;
    char maxpx[32];
    unsigned i;
    int ret;

    snprintf(maxpx, sizeof(maxpx), "%lld", MAX_PIXELS);
    if (ic->nb_streams > 0) {
        sopts = av_calloc(ic->nb_streams, sizeof(*sopts));
        if (sopts == NULL) {
            cir_log_error(&LOG, "%s: out of memory", path);
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
        return err;
    }
    return 0;
}

/* Opens path (a file, or s3:// through the S3 AVIOContext), its header
 * only.  A failed open when probing is no error of ours (the caller tries
 * it as video) and is logged at debug level; a read that failed is that
 * error, not a verdict on the bytes. */
static int
open_input(const char *path, AVFormatContext **ic, int probing,
           const atomic_int *cancel)
{
    AVDictionary *o = NULL;
    char why[1280]; /* an S3 error: its code first */
    int ret, io;

    /* A name with '%' or '*' is a file, not an image2 sequence pattern. */
    av_dict_set(&o, "pattern_type", "none", 0);
    ret = cir_input_open(ic, path, &o, cancel, why, sizeof(why));
    av_dict_free(&o);
    if (ret < 0) {
        io = ret == CIR_ETRANSIENT || ret == CIR_EAUTH || ret == -EACCES;
        cir_log(probing && !io ? CIR_LOG_DEBUG : CIR_LOG_ERROR, &LOG, "%s: %s",
                path, why);
        return (ret <= CIR_EAGAIN && ret > CIR_ERR_LAST) || ret == -EACCES
                   ? ret
                   : cir_img_averr(ret);
    }
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
cir_images_probe_input(AVFormatContext *ic, const char *path)
{
    int ret;

    if (!names_image_codec(ic)) {
        return CIR_IMAGES_NOT_STILL;
    }
    if ((ret = read_stream_info(ic, path)) < 0) {
        return ret;
    }
    return image_stream(ic) >= 0 ? CIR_IMAGES_STILL : CIR_IMAGES_MOVING;
}

int
cir_images_probe(const char *path, const atomic_int *cancel)
{
    AVFormatContext *ic = NULL;
    int ret;

    if ((ret = open_input(path, &ic, 1, cancel)) < 0) {
        return ret;
    }
    ret = cir_images_probe_input(ic, path);
    cir_input_close(&ic);
    return ret < 0 ? ret : ret == CIR_IMAGES_STILL;
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

/* The still's size as the source declares it, checked against the limits
 * before anything is decoded. */
static int
check_source_size(const AVFormatContext *ic, int si, const char *path,
                  const atomic_int *cancel)
{
    const AVCodecParameters *par = ic->streams[si]->codecpar;
    long long pw = par->width, ph = par->height;

    if (pw <= 0 || ph <= 0) {
        /* The capped probe decoder refused it: too large, or broken. */
        if (cir_image_sniff_size(path, cancel, &pw, &ph) < 0 || pw <= 0 ||
            ph <= 0) {
            cir_log_error(&LOG, "%s: the %s image has no usable size", path,
                          avcodec_get_name(par->codec_id));
            return CIR_EMEDIA;
        }
    }
    if (too_large(pw, ph)) {
        cir_log_error(&LOG,
                      "%s: %lldx%lld is larger than the limit (%d px "
                      "a side, %lld pixels)",
                      path, pw, ph, MAX_SIDE, MAX_PIXELS);
        return CIR_ELIMIT;
    }
    return 0;
}

/* The still to scale from, taking *src: the decoded frame, or an upright
 * RGBA copy when it is turned (EXIF orientation) or has alpha.  has_alpha:
 * whether any pixel is transparent. */
static int
working_frame(AVFrame **src, struct SwsContext **sws, const char *path,
              AVFrame **work, int *has_alpha, int *orientation)
{
    const AVPixFmtDescriptor *desc;
    AVFrame *rgba = NULL;
    int o, ret;

    desc = av_pix_fmt_desc_get((enum AVPixelFormat)(*src)->format);
    *has_alpha = desc != NULL && (desc->flags & AV_PIX_FMT_FLAG_ALPHA);
    o = *orientation = cir_image_orientation(*src);
    if (!*has_alpha && o == 1) {
        *work = *src;
        *src = NULL;
        return 0;
    }
    ret = cir_img_scale(sws, *src, (*src)->width, (*src)->height,
                        AV_PIX_FMT_RGBA, &LOG, &rgba);
    if (ret < 0) {
        return ret;
    }
    av_frame_free(src);
    *has_alpha = *has_alpha && cir_image_any_transparent(rgba);
    if (o == 1) {
        *work = rgba;
        return 0;
    }
    ret = cir_image_orient_rgba(rgba, o, work);
    av_frame_free(&rgba);
    if (ret < 0) {
        cir_log_error(&LOG, "%s: applying orientation %d failed: %s", path, o,
                      cir_strerror(ret));
    }
    return ret;
}

/* The preset's widths that fit a source sw wide, once each; the source's
 * own width when none does (never upscaled). */
static int
choose_widths(const cir_preset_t *preset, int sw, int *widths)
{
    int nb_w = 0;

    for (int i = 0; i < preset->nb_image_widths && i < CIR_PRESET_MAX_IMAGES;
         i++) {
        int w = preset->image_widths[i], dup = 0;

        for (int j = 0; j < nb_w; j++) {
            dup |= widths[j] == w;
        }
        if (w >= 1 && w <= sw && !dup) {
            widths[nb_w++] = w;
        }
    }
    if (nb_w == 0) {
        widths[nb_w++] = sw;
    }
    return nb_w;
}

/* Encodes out (freed) with the format's encoder and writes it as r. */
static int
encode_put(cir_store_t *store, rendition_t *r, const cir_preset_t *preset,
           int webp, int w, int h, AVFrame **out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int ret;

    ret = webp ? cir_img_encode_webp(*out, preset->webp_quality, &LOG, &data,
                                     &len)
               : cir_img_encode_jpeg(*out, preset->jpeg_quality, &LOG, &data,
                                     &len);
    av_frame_free(out);
    if (ret < 0) {
        return ret;
    }
    ret = webp ? put(store, r, "webp", "webp", w, h, data, len)
               : put(store, r, "jpg", "jpeg", w, h, data, len);
    free(data);
    return ret;
}

/* The renditions of one width w x h from work: JPEG (alpha flattened onto
 * white) and/or WebP (alpha kept) into r; *nb_r counts them. */
static int
render_width(const cir_preset_t *preset, cir_store_t *store,
             struct SwsContext **sws, const AVFrame *work, int has_alpha, int w,
             int h, rendition_t *r, size_t *nb_r)
{
    AVFrame *tmp = NULL, *out = NULL;
    int ret;

    if (preset->image_jpeg) {
        if (has_alpha) {
            ret = cir_img_scale(sws, work, w, h, AV_PIX_FMT_RGBA, &LOG, &tmp);
            if (ret < 0) {
                return ret;
            }
            cir_image_flatten_white(tmp);
        }
        ret = cir_img_scale(sws, has_alpha ? tmp : work, w, h,
                            AV_PIX_FMT_YUVJ420P, &LOG, &out);
        av_frame_free(&tmp);
        if (ret < 0 ||
            (ret = encode_put(store, &r[*nb_r], preset, 0, w, h, &out)) < 0) {
            return ret;
        }
        (*nb_r)++;
    }
    if (preset->image_webp) {
        ret = cir_img_scale(
            sws, work, w, h,
            has_alpha ? AV_PIX_FMT_YUVA420P : AV_PIX_FMT_YUV420P, &LOG, &out);
        if (ret < 0 ||
            (ret = encode_put(store, &r[*nb_r], preset, 1, w, h, &out)) < 0) {
            return ret;
        }
        (*nb_r)++;
    }
    return 0;
}

/* Every width's renditions of work into store; *nb_r: how many. */
static int
render_all(const cir_preset_t *preset, cir_store_t *store,
           struct SwsContext **sws, const AVFrame *work, int has_alpha,
           rendition_t *r, size_t *nb_r)
{
    int widths[CIR_PRESET_MAX_IMAGES + 1];
    int sw = work->width, sh = work->height;
    int nb_w = choose_widths(preset, sw, widths), ret;

    for (int i = 0; i < nb_w; i++) {
        int w = widths[i], h;

        if (w == sw) {
            h = sh;
        } else {
            h = 2 * (int)lround((double)w * sh / sw / 2.0);
            if (h < 1) {
                h = 1;
            }
        }
        ret = render_width(preset, store, sws, work, has_alpha, w, h, r, nb_r);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* 1 when the preset makes no image renditions (nothing to do), 0 to go
 * on, CIR_EINVAL when it asks for no format. */
static int
check_preset(const cir_preset_t *preset)
{
    if (!preset->images_enabled) {
        cir_log_info(&LOG, "image renditions disabled by the preset");
        return 1;
    }
    if (!preset->image_jpeg && !preset->image_webp) {
        cir_log_error(&LOG, "the preset asks for neither JPEG nor WebP");
        return CIR_EINVAL;
    }
    return 0;
}

/* The still stream of ic, decoded and checked against the limits. */
static int
decode_still(AVFormatContext *ic, const char *path, const atomic_int *cancel,
             AVFrame **src, enum AVCodecID *codec_id)
{
    int si = image_stream(ic), ret;

    if (si < 0) {
        cir_log_error(&LOG, "%s is not a still image (%s)", path,
                      ic->iformat->name);
        return CIR_EMEDIA;
    }
    *codec_id = ic->streams[si]->codecpar->codec_id;
    if ((ret = check_source_size(ic, si, path, cancel)) < 0 ||
        (ret = decode_one(ic, si, path, src)) < 0) {
        return ret;
    }
    if (too_large((*src)->width, (*src)->height)) {
        cir_log_error(&LOG, "%s: decoded %dx%d is larger than the limit", path,
                      (*src)->width, (*src)->height);
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_images_run_input(AVFormatContext *ic, const char *path,
                     const cir_preset_t *preset, cir_store_t *store,
                     cir_store_t *top, const char *base,
                     const atomic_int *cancel)
{
    AVFrame *src = NULL, *work = NULL;
    struct SwsContext *sws = NULL;
    rendition_t r[MAX_RENDITIONS];
    enum AVCodecID codec_id = AV_CODEC_ID_NONE;
    const char *format;
    size_t nb_r = 0;
    int o = 1, has_alpha = 0, ret;

    if ((ret = check_preset(preset)) != 0) {
        return ret < 0 ? ret : 0;
    }
    if ((ret = decode_still(ic, path, cancel, &src, &codec_id)) < 0 ||
        (ret = working_frame(&src, &sws, path, &work, &has_alpha, &o)) < 0 ||
        (ret = render_all(preset, store, &sws, work, has_alpha, r, &nb_r)) <
            0) {
        goto fail;
    }
    format = format_name(codec_id);
    /* without a top store, store is the asset itself (not versioned) */
    ret = write_manifest(store, top != NULL ? CIR_ASSET_VERSION : CIR_ASSET_TOP,
                         "", work->width, work->height, format, has_alpha, r,
                         nb_r);
    if (ret == 0 && top != NULL) {
        /* the asset's own manifest last, pointing into the version */
        ret = write_manifest(top, CIR_ASSET_TOP, base ? base : "", work->width,
                             work->height, format, has_alpha, r, nb_r);
    }
    if (ret == 0) {
        cir_log_info(&LOG, "%s: %dx%d %s, orientation %d, %zu renditions", path,
                     work->width, work->height, format, o, nb_r);
    }

fail:
    av_frame_free(&work);
    av_frame_free(&src);
    sws_freeContext(sws);
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
    int ret;

    if ((ret = check_preset(preset)) != 0) {
        return ret < 0 ? ret : 0;
    }
    if ((ret = open_input(input_path, &ic, 0, cancel)) < 0) {
        return ret;
    }
    if ((ret = read_stream_info(ic, input_path)) == 0) {
        ret = cir_images_run_input(ic, input_path, preset, store, top, base,
                                   cancel);
    }
    cir_input_close(&ic);
    return ret;
}
