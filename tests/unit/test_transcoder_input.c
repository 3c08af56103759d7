/*
 * The locked-down input: which demuxers are accepted, the whitelist handed
 * to libavformat, and cir_input_open() on local files (a playlist refused
 * by name before anything it names is opened; nested opens refused by the
 * protocol whitelist, FFmpeg 5.1 honouring it).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "cir_error.h"
#include "cir_log.h"
#include "input.h"

static char dir[64];

static void
setup(void)
{
    cir_log_set_level(CIR_LOG_QUIET);
    av_log_set_level(AV_LOG_QUIET);
    snprintf(dir, sizeof(dir), "/tmp/cir-input-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static const char *
write_file(const char *name, const void *data, size_t len)
{
    static char path[2][256];
    static int n;
    char *p = path[n++ % 2];
    FILE *f;

    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

/* A valid 8 kHz mono 16-bit WAV of n samples of silence. */
static const char *
write_wav(const char *name, size_t n)
{
    uint8_t *buf = calloc(1, 44 + 2 * n);
    uint32_t data = (uint32_t)(2 * n), riff = 36 + data;
    const char *path;

    cr_assert_not_null(buf);
    memcpy(buf, "RIFF", 4);
    memcpy(buf + 4, &riff, 4); /* little-endian host (x86_64, arm64) */
    memcpy(buf + 8, "WAVEfmt ", 8);
    buf[16] = 16;                   /* fmt chunk size */
    buf[20] = 1;                    /* PCM */
    buf[22] = 1;                    /* mono */
    buf[24] = 0x40, buf[25] = 0x1f; /* 8000 Hz */
    buf[28] = 0x80, buf[29] = 0x3e; /* 16000 bytes/s */
    buf[32] = 2, buf[34] = 16;      /* block align, bits */
    memcpy(buf + 36, "data", 4);
    memcpy(buf + 40, &data, 4);
    path = write_file(name, buf, 44 + data);
    free(buf);
    return path;
}

TestSuite(input, .init = setup, .fini = teardown);

Test(input, upload_containers_are_accepted_by_their_ffmpeg_names)
{
    /* short names as users know them; libavformat gives the full name */
    static const char *const uploads[] = {
        "mp4",  "mov", "m4a",    "3gp",      "matroska",  "webm",      "mpegts",
        "flv",  "avi", "mxf",    "mpeg",     "wav",       "mp3",       "aac",
        "flac", "ogg", "image2", "png_pipe", "jpeg_pipe", "webp_pipe",
    };

    for (size_t i = 0; i < sizeof(uploads) / sizeof(uploads[0]); i++) {
        const AVInputFormat *f = av_find_input_format(uploads[i]);
        cr_assert_not_null(f, "%s is a demuxer of this libavformat",
                           uploads[i]);
        cr_assert(cir_input_demuxer_accepted(f->name), "%s (%s) accepted",
                  uploads[i], f->name);
    }
}

Test(input, reference_following_demuxers_are_refused)
{
    static const char *const refused[] = {
        "hls", "dash",       "concat",   "webm_dash_manifest",
        "sdp", "image2pipe", "svg_pipe", "ffmetadata",
        "mov", "", /* an alias is not the demuxer's name */
    };

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        cr_assert(!cir_input_demuxer_accepted(refused[i]), "%s refused",
                  refused[i]);
    }
    cr_assert(!cir_input_demuxer_accepted(NULL));
    cr_assert_str_eq(cir_input_demuxer_what("hls"), "an HLS playlist");
    cr_assert_str_eq(cir_input_demuxer_what("dash"), "a DASH manifest");
    cr_assert_str_eq(cir_input_demuxer_what("concat"), "a concat script");
    cr_assert_str_eq(cir_input_demuxer_what("wsaud"), "a container");
}

Test(input, image2_takes_only_the_stills_we_decode)
{
    cr_assert(cir_input_image_codec_accepted("mjpeg"));
    cr_assert(cir_input_image_codec_accepted("png"));
    cr_assert(cir_input_image_codec_accepted("webp"));
    cr_assert(!cir_input_image_codec_accepted("svg"));
    cr_assert(!cir_input_image_codec_accepted("h264"));
}

Test(input, format_whitelist_matches_what_is_accepted)
{
    char list[512], tiny[16];

    cr_assert_eq(cir_input_format_whitelist(list, sizeof(list)), 0);
    /* libavformat's own matching (av_match_list, as in avformat_open_input) */
    cr_assert_eq(av_match_list("mov,mp4,m4a,3gp,3g2,mj2", list, ','), 1);
    cr_assert_eq(av_match_list("matroska,webm", list, ','), 1);
    cr_assert_eq(av_match_list("hls", list, ','), 0);
    cr_assert_eq(av_match_list("dash", list, ','), 0);
    cr_assert_eq(av_match_list("concat", list, ','), 0);
    cr_assert_eq(cir_input_format_whitelist(tiny, sizeof(tiny)), CIR_ELIMIT);
    cr_assert_str_eq(tiny, "");
}

Test(input, an_hls_playlist_named_mp4_is_refused_by_name)
{
    char secret[256], text[512], why[256];
    AVFormatContext *ic = NULL;
    const char *x;
    struct stat st;

    /* a FIFO: a demuxer opening it would block here, so a pass also
     * proves nobody opened it */
    snprintf(secret, sizeof(secret), "%s/secret.mp4", dir);
    cr_assert_eq(mkfifo(secret, 0600), 0);
    snprintf(text, sizeof(text),
             "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nfile:%s\n"
             "#EXT-X-ENDLIST\n",
             secret);
    x = write_file("x.mp4", text, strlen(text));
    cr_assert_eq(cir_input_open(&ic, x, NULL, NULL, why, sizeof(why)),
                 CIR_EUNSUPPORTED);
    cr_assert_null(ic);
    cr_assert_str_eq(why,
                     "input is an HLS playlist (hls): not an accepted upload "
                     "format");
    cr_assert_eq(stat(secret, &st), 0);
}

Test(input, a_concat_script_is_refused_by_name)
{
    static const char text[] = "ffconcat version 1.0\nfile secret.mp4\n";
    AVFormatContext *ic = NULL;
    char why[256];
    const char *x = write_file("x.mp4", text, sizeof(text) - 1);

    cr_assert_eq(cir_input_open(&ic, x, NULL, NULL, why, sizeof(why)),
                 CIR_EUNSUPPORTED);
    cr_assert(strstr(why, "a concat script (concat)") != NULL, "%s", why);
}

Test(input, missing_and_unknown_inputs)
{
    static const char text[] = "hello, world\n";
    AVFormatContext *ic = NULL;
    char path[300], why[256];
    const char *txt = write_file("notes.txt", text, sizeof(text) - 1);

    snprintf(path, sizeof(path), "%s/nope.mp4", dir);
    cr_assert_eq(cir_input_open(&ic, path, NULL, NULL, why, sizeof(why)),
                 CIR_ENOTFOUND);
    cr_assert_str_eq(why, "input does not exist");
    cr_assert_lt(cir_input_open(&ic, txt, NULL, NULL, why, sizeof(why)), 0);
    cr_assert_null(ic);
    cr_assert_neq(why[0], '\0');
}

Test(input, a_wav_opens_with_file_as_its_only_protocol)
{
    AVFormatContext *ic = NULL;
    AVIOContext *pb = NULL;
    char why[256], other[300];
    const char *wav = write_wav("a.wav", 800);

    cr_assert_eq(cir_input_open(&ic, wav, NULL, NULL, why, sizeof(why)), 0,
                 "%s", why);
    cr_assert_str_eq(ic->iformat->name, "wav");
    cr_assert_str_eq(ic->protocol_whitelist, "file");
    cr_assert_not_null(ic->format_whitelist);
    /* a nested open (what a playlist demuxer does) of another protocol */
    cr_assert_lt(
        ic->io_open(ic, &pb, "http://127.0.0.1:9/x.ts", AVIO_FLAG_READ, NULL),
        0);
    cr_assert_lt(ic->io_open(ic, &pb, "data:,hello", AVIO_FLAG_READ, NULL), 0);
    /* a local file: allowed for `file` (which is why playlists are refused) */
    snprintf(other, sizeof(other), "file:%s", wav);
    cr_assert_eq(ic->io_open(ic, &pb, other, AVIO_FLAG_READ, NULL), 0);
    avio_closep(&pb);
    cir_input_close(&ic);
    cr_assert_null(ic);
}

/* A cancelled job's input: the interrupt callback stops libavformat's
 * reads, and the failure is CIR_ECANCELED (not bad media); reading the
 * packets of an open input stops the same way once the flag is set. */
Test(input, a_set_cancel_flag_stops_the_reads_as_cancelled)
{
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    atomic_int cancel = 1;
    char why[256];
    const char *wav = write_wav("c.wav", 400000); /* 800 kB: not buffered */
    int ret, packets = 0;

    cr_assert_eq(cir_input_open(&ic, wav, NULL, &cancel, why, sizeof(why)),
                 CIR_ECANCELED, "%s", why);
    cr_assert_null(ic);
    cr_assert_str_eq(why, "cancelled");

    atomic_store(&cancel, 0);
    cr_assert_eq(cir_input_open(&ic, wav, NULL, &cancel, why, sizeof(why)), 0,
                 "%s", why);
    cr_assert_eq(av_read_frame(ic, pkt), 0);
    av_packet_unref(pkt);
    atomic_store(&cancel, 1);
    while ((ret = av_read_frame(ic, pkt)) >= 0 && packets < 1000) {
        av_packet_unref(pkt); /* what the IO buffer held already */
        packets++;
    }
    cr_assert_eq(ret, AVERROR_EXIT, "%s after %d packets", av_err2str(ret),
                 packets);
    av_packet_free(&pkt);
    cir_input_close(&ic);
}

/* The S3 case's whitelist, on a custom (memory) AVIOContext as the S3 one
 * is: no nested open succeeds, not even a local file. */
typedef struct {
    const uint8_t *data;
    size_t len, pos;
} mem_t;

static int
mem_read(void *opaque, uint8_t *buf, int size)
{
    mem_t *m = opaque;
    size_t n = m->len - m->pos < (size_t)size ? m->len - m->pos : (size_t)size;

    if (n == 0) {
        return AVERROR_EOF;
    }
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

Test(input, custom_io_whitelist_names_no_protocol)
{
    AVFormatContext *ic = avformat_alloc_context();
    AVDictionary *o = NULL;
    AVIOContext *pb = NULL, *nested = NULL;
    uint8_t *wav = NULL, *iobuf = av_malloc(4096);
    mem_t m = {0};
    char other[300];
    const char *path = write_wav("b.wav", 400);
    FILE *f = fopen(path, "rb");

    cr_assert_not_null(f);
    wav = malloc(44 + 800);
    m.len = fread(wav, 1, 44 + 800, f);
    fclose(f);
    m.data = wav;
    pb = avio_alloc_context(iobuf, 4096, 0, &m, mem_read, NULL, NULL);
    cr_assert_not_null(pb);
    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    cr_assert_eq(cir_input_lockdown(&o, 1), 0);
    cr_assert_eq(avformat_open_input(&ic, "s3://bucket/b.wav", NULL, &o), 0);
    av_dict_free(&o);
    snprintf(other, sizeof(other), "file:%s", path);
    cr_assert_lt(ic->io_open(ic, &nested, other, AVIO_FLAG_READ, NULL), 0);
    cr_assert_lt(ic->io_open(ic, &nested, path, AVIO_FLAG_READ, NULL), 0);
    cr_assert_lt(ic->io_open(ic, &nested, "http://127.0.0.1:9/x.ts",
                             AVIO_FLAG_READ, NULL),
                 0);
    avformat_close_input(&ic);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
    free(wav);
}

Test(input, an_svg_is_refused_whatever_its_name)
{
    /* librsvg would load what the SVG references */
    static const char svg[] =
        "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
        "xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"16\" "
        "height=\"16\"><image xlink:href=\"file:///etc/hostname\" "
        "width=\"16\" height=\"16\"/></svg>\n";
    static const char *const names[] = {"a.svg", "a.png", "a.jpg"};
    AVFormatContext *ic = NULL;
    char why[256];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *p = write_file(names[i], svg, sizeof(svg) - 1);
        cr_assert_eq(cir_input_open(&ic, p, NULL, NULL, why, sizeof(why)),
                     CIR_EUNSUPPORTED, "%s: %s", names[i], why);
        cr_assert(strstr(why, "svg") != NULL, "%s: %s", names[i], why);
        cr_assert_null(ic);
    }
}
