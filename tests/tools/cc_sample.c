/*
 * cirrus-cc-sample: writes a short H.264 MP4 whose frames carry CEA-608
 * closed captions (CC1, pop-on) in A/53 SEI: the test media for captions.
 * FFmpeg has no 608 encoder and its CLI cannot author cc_data, so the byte
 * pairs are made here and given to libx264 (a53cc) as each frame's
 * AV_FRAME_DATA_A53_CC side data.
 *
 *   cirrus-cc-sample OUT.mp4 [--size WxH] [--fps N] [--seconds N]
 *                    [--text TEXT] [--language ISO639-2] [--no-captions]
 *
 * The caption (TEXT, default "HELLO CIRRUS") is loaded from 1 s and shown
 * (End Of Caption) about half a second later, erased at 4 s.  Pictures are
 * a moving gradient, the same for the same arguments.
 *
 * Used by tests/integration/captions.test.mjs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#define MAX_PAIRS 128

typedef struct {
    const char *out;
    int width, height, fps;
    double seconds;
    const char *text;
    const char *language;
    int captions;
} options_t;

/* The byte with bit 7 set so that it has an odd number of ones (608). */
static uint8_t
odd_parity(uint8_t b)
{
    int ones = 0;

    b &= 0x7f;
    for (int i = 0; i < 7; i++) {
        ones += (b >> i) & 1;
    }
    return ones % 2 ? b : (uint8_t)(b | 0x80);
}

/* The CC1 field-1 byte pairs of a pop-on caption: Resume Caption Loading,
 * Erase Non-displayed Memory, a row-15 preamble, the text two characters
 * a pair, End Of Caption; control codes doubled as broadcasters send
 * them.  Returns the number of pairs. */
static int
popon_pairs(const char *text, uint8_t pairs[][2])
{
    static const uint8_t head[][2] = {
        {0x14, 0x20}, {0x14, 0x20}, /* RCL */
        {0x14, 0x2e}, {0x14, 0x2e}, /* ENM */
        {0x14, 0x60}, {0x14, 0x60}, /* PAC row 15, white */
    };
    size_t len = strlen(text);
    int n = 0;

    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
        pairs[n][0] = head[i][0];
        pairs[n++][1] = head[i][1];
    }
    for (size_t i = 0; i < len && n < MAX_PAIRS - 2; i += 2) {
        pairs[n][0] = (uint8_t)text[i];
        pairs[n++][1] = i + 1 < len ? (uint8_t)text[i + 1] : 0;
    }
    pairs[n][0] = 0x14; /* EOC */
    pairs[n++][1] = 0x2f;
    pairs[n][0] = 0x14;
    pairs[n++][1] = 0x2f;
    return n;
}

/* The frame's cc_data: a field-1 triplet (a pair of the caption, or
 * nulls) and field-2 nulls, the 608 rate at up to 30 frames a second. */
static int
attach_cc(AVFrame *f, const uint8_t pair[2])
{
    AVFrameSideData *sd = av_frame_new_side_data(f, AV_FRAME_DATA_A53_CC, 6);

    if (sd == NULL) {
        return AVERROR(ENOMEM);
    }
    sd->data[0] = 0xfc; /* marker bits, cc_valid, field 1 */
    sd->data[1] = odd_parity(pair ? pair[0] : 0);
    sd->data[2] = odd_parity(pair ? pair[1] : 0);
    sd->data[3] = 0xfd; /* field 2 */
    sd->data[4] = odd_parity(0);
    sd->data[5] = odd_parity(0);
    return 0;
}

static void
draw(AVFrame *f, int64_t n)
{
    for (int y = 0; y < f->height; y++) {
        for (int x = 0; x < f->width; x++) {
            f->data[0][y * f->linesize[0] + x] =
                (uint8_t)(16 + (x + y + n * 4) % 200);
        }
    }
    for (int p = 1; p < 3; p++) {
        for (int y = 0; y < f->height / 2; y++) {
            memset(f->data[p] + y * f->linesize[p], p == 1 ? 100 + n % 50 : 140,
                   (size_t)f->width / 2);
        }
    }
}

static int
usage(void)
{
    fprintf(stderr, "usage: cirrus-cc-sample OUT.mp4 [--size WxH] [--fps N] "
                    "[--seconds N] [--text TEXT] [--language XXX] "
                    "[--no-captions]\n");
    return 2;
}

static int
parse(int argc, char **argv, options_t *o)
{
    *o = (options_t){.width = 1280,
                     .height = 720,
                     .fps = 30,
                     .seconds = 6,
                     .text = "HELLO CIRRUS",
                     .captions = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-captions") == 0) {
            o->captions = 0;
        } else if (a[0] != '-') {
            o->out = a;
        } else if (v == NULL) {
            return -1;
        } else if (strcmp(a, "--size") == 0) {
            i++;
            if (sscanf(v, "%dx%d", &o->width, &o->height) != 2) {
                return -1;
            }
        } else if (strcmp(a, "--fps") == 0) {
            i++;
            o->fps = atoi(v);
        } else if (strcmp(a, "--seconds") == 0) {
            i++;
            o->seconds = atof(v);
        } else if (strcmp(a, "--text") == 0) {
            i++;
            o->text = v;
        } else if (strcmp(a, "--language") == 0) {
            i++;
            o->language = v;
        } else {
            return -1;
        }
    }
    if (o->out == NULL || o->width < 16 || o->height < 16 || o->width > 4096 ||
        o->height > 4096 || o->width % 2 || o->height % 2 || o->fps < 1 ||
        o->fps > 120 || o->seconds <= 0 || o->seconds > 600) {
        return -1;
    }
    return 0;
}

static int
write_packets(AVCodecContext *enc, AVFormatContext *oc, AVStream *st,
              AVPacket *pkt)
{
    int ret;

    while ((ret = avcodec_receive_packet(enc, pkt)) == 0) {
        if (pkt->duration == 0) {
            pkt->duration = 1; /* one frame: the last one's too */
        }
        av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
        pkt->stream_index = st->index;
        if ((ret = av_interleaved_write_frame(oc, pkt)) < 0) {
            return ret;
        }
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

static int
open_encoder(const options_t *o, AVFormatContext *oc, AVCodecContext **out)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    AVCodecContext *enc;

    if (codec == NULL) {
        return AVERROR_ENCODER_NOT_FOUND;
    }
    enc = *out = avcodec_alloc_context3(codec);
    if (enc == NULL) {
        return AVERROR(ENOMEM);
    }
    enc->width = o->width;
    enc->height = o->height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, o->fps};
    enc->framerate = (AVRational){o->fps, 1};
    enc->gop_size = o->fps * 2;
    enc->max_b_frames = 0; /* no edit list: the MP4 says o->fps exactly */
    enc->thread_count = 1;
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) {
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    av_opt_set(enc->priv_data, "preset", "veryfast", 0);
    av_opt_set(enc->priv_data, "crf", "23", 0);
    av_opt_set_int(enc->priv_data, "a53cc", 1, 0);
    return avcodec_open2(enc, codec, NULL);
}

static int
run(const options_t *o)
{
    AVFormatContext *oc = NULL;
    AVCodecContext *enc = NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    uint8_t pairs[MAX_PAIRS][2];
    int nb_pairs = popon_pairs(o->text, pairs), ret;
    int64_t frames = (int64_t)(o->seconds * o->fps + 0.5);
    int64_t load = o->fps, erase = (int64_t)o->fps * 4;
    AVStream *st;

    if (f == NULL || pkt == NULL) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    if ((ret = avformat_alloc_output_context2(&oc, NULL, "mp4", o->out)) < 0 ||
        (ret = open_encoder(o, oc, &enc)) < 0) {
        goto done;
    }
    oc->flags |= AVFMT_FLAG_BITEXACT;
    st = avformat_new_stream(oc, NULL);
    if (st == NULL) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    st->time_base = enc->time_base;
    if ((ret = avcodec_parameters_from_context(st->codecpar, enc)) < 0) {
        goto done;
    }
    if (o->language) {
        av_dict_set(&st->metadata, "language", o->language, 0);
    }
    if ((ret = avio_open(&oc->pb, o->out, AVIO_FLAG_WRITE)) < 0 ||
        (ret = avformat_write_header(oc, NULL)) < 0) {
        goto done;
    }
    for (int64_t n = 0; n < frames; n++) {
        static const uint8_t edm[2] = {0x14, 0x2c};
        const uint8_t *pair = NULL;
        f->format = AV_PIX_FMT_YUV420P; /* again: av_frame_unref resets */
        f->width = o->width;
        f->height = o->height;
        if ((ret = av_frame_get_buffer(f, 0)) < 0) {
            goto done;
        }
        draw(f, n);
        f->pts = n;
        if (n >= load && n < load + nb_pairs) {
            pair = pairs[n - load];
        } else if (n == erase || n == erase + 1) {
            pair = edm; /* Erase Displayed Memory, doubled */
        }
        if (o->captions && (ret = attach_cc(f, pair)) < 0) {
            goto done;
        }
        ret = avcodec_send_frame(enc, f);
        av_frame_unref(f);
        if (ret < 0 || (ret = write_packets(enc, oc, st, pkt)) < 0) {
            goto done;
        }
    }
    if ((ret = avcodec_send_frame(enc, NULL)) < 0 ||
        (ret = write_packets(enc, oc, st, pkt)) < 0 ||
        (ret = av_write_trailer(oc)) < 0) {
        goto done;
    }

done:
    if (oc) {
        avio_closep(&oc->pb);
    }
    avformat_free_context(oc);
    avcodec_free_context(&enc);
    av_frame_free(&f);
    av_packet_free(&pkt);
    return ret;
}

int
main(int argc, char **argv)
{
    options_t o;
    int ret;

    if (parse(argc, argv, &o) < 0) {
        return usage();
    }
    av_log_set_level(AV_LOG_ERROR);
    if ((ret = run(&o)) < 0) {
        fprintf(stderr, "cirrus-cc-sample: %s: %s\n", o.out, av_err2str(ret));
        return 1;
    }
    return 0;
}
