/*
 * Opening a user's upload, locked down.  See input.h.
 *
 * FFmpeg 5.1 (Debian 12): `protocol_whitelist` and `format_whitelist` are
 * AVFormatContext options set from the avformat_open_input() dictionary.
 * The protocol whitelist is what every nested open through io_open (HLS
 * and DASH segments, concat entries, image2 files) is checked against; with
 * a custom AVIOContext and no whitelist a nested open may use any protocol,
 * so the S3 case gets a whitelist that names no protocol.  The format
 * whitelist is checked only after probing; we probe first ourselves so a
 * refusal can name the container, and force the probed demuxer.
 */
#include "input.h"
#include "input_error.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/dict.h>

#include "cir_aws.h"
#include "s3_avio.h"
#include "cir_error.h"

/* The containers people upload.  Full AVInputFormat names. */
static const char *const accepted_demuxers[] = {
    "mov,mp4,m4a,3gp,3g2,mj2", /* MP4, MOV, M4A, 3GP */
    "matroska,webm",
    "mpegts",
    "flv",
    "live_flv", /* FLV as written by RTMP servers */
    "avi",
    "mxf",
    "mpeg", /* MPEG-PS */
    "wav",
    "mp3",
    "aac",
    "flac",
    "ogg",
    "gif",
    "yuv4mpegpipe", /* .y4m raw video */
    /* stills: by file name (one file, pattern_type none), or by content */
    "image2",
    "jpeg_pipe",
    "png_pipe",
    "webp_pipe",
    "bmp_pipe",
    "tiff_pipe",
    "jpegls_pipe",
    "j2k_pipe",
};

/* Sidecar subtitle files (cir_input_open_subtitles): text formats that
 * reference no other file. */
static const char *const accepted_text_demuxers[] = {
    "srt",       "webvtt",     "ass",      "scc",  "sami",
    "subviewer", "subviewer1", "microdvd", "mpl2", "realtext",
    "vplayer",   "pjs",        "aqtitle",
};

/* The codecs the images pipeline decodes (images.c is_image_codec()). */
static const char *const accepted_image_codecs[] = {
    "mjpeg", "png", "webp", "bmp", "tiff", "jpegls", "jpeg2000",
};

/* Demuxers that follow references, named for the refusal message. */
static const struct {
    const char *name, *what;
} described_demuxers[] = {
    {"hls", "an HLS playlist"},
    {"dash", "a DASH manifest"},
    {"webm_dash_manifest", "a WebM DASH manifest"},
    {"concat", "a concat script"},
    {"imf", "an IMF composition playlist"},
    {"sdp", "an SDP session description"},
    {"rtsp", "an RTSP session"},
    {"ffmetadata", "an FFmetadata file"},
    {"svg_pipe", "an SVG image"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The demuxers one kind of input may use: uploads or sidecar subtitles. */
typedef struct {
    const char *const *names;
    size_t count;
    const char *what; /* "upload", "subtitle" for the refusal */
} demuxer_list_t;

static const demuxer_list_t upload_demuxers = {
    accepted_demuxers, COUNT(accepted_demuxers), "upload"};
static const demuxer_list_t text_demuxers = {
    accepted_text_demuxers, COUNT(accepted_text_demuxers), "subtitle"};

/* Under the S3 AVIOContext no demuxer may open anything: a list naming no
 * protocol (libavformat refuses every name not on a non-NULL list). */
#define NO_PROTOCOL "none"

static int
in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; i++) {
        if (strcmp(list[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

int
cir_input_demuxer_accepted(const char *name)
{
    return in_list(accepted_demuxers, COUNT(accepted_demuxers), name);
}

int
cir_input_image_codec_accepted(const char *codec_name)
{
    return in_list(accepted_image_codecs, COUNT(accepted_image_codecs),
                   codec_name);
}

const char *
cir_input_demuxer_what(const char *name)
{
    for (size_t i = 0; name != NULL && i < COUNT(described_demuxers); i++) {
        if (strcmp(described_demuxers[i].name, name) == 0) {
            return described_demuxers[i].what;
        }
    }
    return "a container";
}

static int
format_whitelist(const demuxer_list_t *list, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0) {
        return CIR_ELIMIT;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < list->count; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i > 0 ? "," : "",
                         list->names[i]);
        if (n < 0 || (size_t)n >= len - used) {
            buf[0] = '\0';
            return CIR_ELIMIT;
        }
        used += (size_t)n;
    }
    return 0;
}

int
cir_input_format_whitelist(char *buf, size_t len)
{
    return format_whitelist(&upload_demuxers, buf, len);
}

static int
refuse(const demuxer_list_t *list, const char *name, char *why, size_t why_len)
{
    snprintf(why, why_len, "input is %s (%s): not an accepted %s format",
             cir_input_demuxer_what(name), name, list->what);
    return CIR_EUNSUPPORTED;
}

static int
is_cir_error(int err)
{
    return err <= CIR_EAGAIN && err > CIR_ERR_LAST;
}

static int
open_error(int err, char *why, size_t why_len)
{
    if (err == AVERROR_EXIT || err == CIR_ECANCELED) {
        snprintf(why, why_len, "cancelled");
        return CIR_ECANCELED;
    }
    if (err == AVERROR(ENOENT) || err == CIR_ENOTFOUND) {
        snprintf(why, why_len, "input does not exist");
        return CIR_ENOTFOUND;
    }
    if (err == AVERROR(EACCES) || err == AVERROR(EPERM)) {
        snprintf(why, why_len, "input may not be read: %s", av_err2str(err));
        return -EACCES;
    }
    if (err == AVERROR_INVALIDDATA) {
        snprintf(why, why_len, "input is not a recognised media format");
        return CIR_EMEDIA;
    }
    snprintf(why, why_len, "cannot open input: %s",
             is_cir_error(err) ? cir_strerror(err) : av_err2str(err));
    return err;
}

/* libavformat failed reading pb: when a read of the S3 AVIOContext failed,
 * that error (transient, access refused...), not a verdict on the bytes
 * (input_error.h); else what libavformat said. */
static int
read_error(const AVIOContext *pb, int averr, char *why, size_t why_len)
{
    int io = cir_s3_avio_error(pb);

    if (io < 0) {
        cir_input_strerror(pb, averr, why, why_len);
        return io;
    }
    return open_error(averr, why, why_len);
}

/* Probes the container of pb's bytes (named path). */
static int
probe(const demuxer_list_t *list, AVIOContext *pb, const char *path,
      const AVInputFormat **fmt, char *why, size_t why_len)
{
    int ret = av_probe_input_buffer2(pb, fmt, path, NULL, 0, 0);

    if (ret < 0) {
        return read_error(pb, ret, why, why_len);
    }
    if (!in_list(list->names, list->count, (*fmt)->name)) {
        return refuse(list, (*fmt)->name, why, why_len);
    }
    return 0;
}

/* libavformat's interrupt callback: stop once the job is cancelled. */
static int
cancelled(void *opaque)
{
    const atomic_int *cancel = opaque;

    return cancel != NULL && atomic_load(cancel);
}

/* A local file: probe through a `file`-only AVIOContext, then close it
 * (avformat_open_input opens the file again, with the same whitelist). */
static int
probe_file(const demuxer_list_t *list, const char *path,
           const AVIOInterruptCB *icb, const AVInputFormat **fmt, char *why,
           size_t why_len)
{
    AVDictionary *o = NULL;
    AVIOContext *pb = NULL;
    int ret;

    av_dict_set(&o, "protocol_whitelist", "file", 0);
    ret = avio_open2(&pb, path, AVIO_FLAG_READ, icb, &o);
    av_dict_free(&o);
    if (ret < 0) {
        return open_error(ret, why, why_len);
    }
    ret = probe(list, pb, path, fmt, why, why_len);
    avio_closep(&pb);
    return ret;
}

/* image2 takes its codec from the file name: only the stills we handle. */
static int
check_image2(const AVFormatContext *ic, char *why, size_t why_len)
{
    if (strcmp(ic->iformat->name, "image2") != 0) {
        return 0;
    }
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const char *codec =
            avcodec_get_name(ic->streams[i]->codecpar->codec_id);
        if (!cir_input_image_codec_accepted(codec)) {
            snprintf(why, why_len,
                     "input is a %s image (image2): not an accepted upload "
                     "format",
                     codec);
            return CIR_EUNSUPPORTED;
        }
    }
    return 0;
}

static int
lockdown(const demuxer_list_t *list, AVDictionary **o, int custom_io)
{
    char formats[512];
    int ret;

    if ((ret = format_whitelist(list, formats, sizeof(formats))) < 0) {
        return ret;
    }
    if (av_dict_set(o, "protocol_whitelist", custom_io ? NO_PROTOCOL : "file",
                    0) < 0 ||
        av_dict_set(o, "format_whitelist", formats, 0) < 0 ||
        av_dict_set(o, "enable_drefs", "0", 0) < 0) { /* MOV references */
        return CIR_ENOMEM;
    }
    return 0;
}

int
cir_input_lockdown(AVDictionary **o, int custom_io)
{
    return lockdown(&upload_demuxers, o, custom_io);
}

static int
open_locked(const demuxer_list_t *list, AVFormatContext **out, const char *path,
            AVDictionary **opts, const atomic_int *cancel, char *why,
            size_t why_len)
{
    /* libavformat's opaque is not const; cancelled() only reads it */
    const AVIOInterruptCB icb = {.callback = cancelled,
                                 .opaque = (void *)(uintptr_t)cancel};
    const cir_s3_avio_opts_t s3o = {.abort = cancel};
    const AVInputFormat *fmt = NULL;
    AVFormatContext *ic = NULL;
    AVIOContext *pb = NULL;
    AVDictionary *o = NULL;
    int s3 = strncmp(path, "s3://", 5) == 0;
    int ret;

    *out = NULL;
    why[0] = '\0';
    if (s3) {
        /* ranged GETs through our own AVIOContext: no local copy */
        if ((ret = cir_s3_avio_open(&pb, path, &s3o, why, why_len)) < 0) {
            /* the S3 AVIO says why: missing, not readable, refused... */
            return ret;
        }
        ret = probe(list, pb, path, &fmt, why, why_len);
    } else {
        ret = probe_file(list, path, &icb, &fmt, why, why_len);
    }
    if (ret < 0) {
        goto fail;
    }
    if ((ic = avformat_alloc_context()) == NULL) {
        ret = CIR_ENOMEM;
        snprintf(why, why_len, "out of memory");
        goto fail;
    }
    if (pb != NULL) {
        ic->pb = pb; /* ours: AVFMT_FLAG_CUSTOM_IO, closed by cir_input_close */
        ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    if (cancel != NULL) {
        ic->interrupt_callback = icb;
    }
    if ((opts != NULL && av_dict_copy(&o, *opts, 0) < 0) ||
        (ret = lockdown(list, &o, s3)) < 0) {
        av_dict_free(&o);
        ret = CIR_ENOMEM;
        snprintf(why, why_len, "out of memory");
        goto fail;
    }
    ret = avformat_open_input(&ic, path, fmt, &o);
    av_dict_free(&o);
    if (ret < 0) {
        /* a failed open frees ic, never a custom pb */
        ret = read_error(pb, ret, why, why_len);
        goto fail;
    }
    if ((ret = check_image2(ic, why, why_len)) < 0) {
        goto fail;
    }
    *out = ic;
    return 0;

fail:
    if (ic != NULL) {
        cir_input_close(&ic); /* and pb, if set as its custom IO */
    } else {
        cir_s3_avio_close(&pb);
    }
    return ret;
}

int
cir_input_open(AVFormatContext **out, const char *path, AVDictionary **opts,
               const atomic_int *cancel, char *why, size_t why_len)
{
    return open_locked(&upload_demuxers, out, path, opts, cancel, why, why_len);
}

int
cir_input_open_subtitles(AVFormatContext **out, const char *path,
                         AVDictionary **opts, const atomic_int *cancel,
                         char *why, size_t why_len)
{
    return open_locked(&text_demuxers, out, path, opts, cancel, why, why_len);
}

void
cir_input_close(AVFormatContext **ic)
{
    AVIOContext *pb = NULL;

    if (*ic != NULL && ((*ic)->flags & AVFMT_FLAG_CUSTOM_IO)) {
        pb = (*ic)->pb;
    }
    avformat_close_input(ic);
    cir_s3_avio_close(&pb);
}
