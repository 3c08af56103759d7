/*
 * transcoder/src/nal_slice.c: the slice header length of every slice of
 * real streams compared with FFmpeg's (the trace_headers bitstream filter
 * prints each slice header field with its bit position): the sample media
 * and streams made here with libx264 / libx265 to reach the header's
 * branches (several slices, B-frames and weighted prediction, CAVLC,
 * MBAFF, 4:4:4 with scaling matrices, HEVC slice segments); then hostile
 * input: truncated slices, an unknown PPS, an exp-Golomb code too long,
 * broken configuration records and random bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "cir_error.h"
#include "nal_slice.h"

#define MAX_SLICES 20000

typedef struct {
    size_t n;
    unsigned bytes[MAX_SLICES]; /* header bytes, emulation prevention not
                                   counted (trace_headers counts RBSP bits) */
} lengths_t;

static lengths_t ours, theirs;
static char tmpdir[] = "/tmp/cir-nal-slice-XXXXXX";

static void
make_tmpdir(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void
remove_tmpdir(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
}

/* RBSP bytes among the first raw bytes of a NAL unit */
static unsigned
rbsp_bytes(const uint8_t *nal, size_t raw)
{
    unsigned n = 0;
    int zeros = 0;

    for (size_t i = 0; i < raw; i++) {
        if (zeros >= 2 && nal[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        n++;
    }
    return n;
}

/* A truncated slice must fail cleanly: copies of exactly that size, so a
 * sanitizer build sees any read past them. */
static void
check_truncations(const cir_nal_slice_t *p, const uint8_t *nal, size_t header)
{
    for (size_t k = 0; k < header; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        size_t h = 0;
        memcpy(cut, nal, k);
        cr_assert_eq(cir_nal_slice_header_size(p, cut, k, &h), CIR_EMEDIA,
                     "a slice cut to %zu of its %zu header bytes", k, header);
        free(cut);
    }
}

static void
our_lengths(const char *path)
{
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    cir_nal_slice_t *p = NULL;
    const AVCodecParameters *par;
    int st, is_hevc, truncated = 0;
    size_t L;

    ours.n = 0;
    cr_assert_eq(avformat_open_input(&ic, path, NULL, NULL), 0, "%s", path);
    cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
    st = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    cr_assert_geq(st, 0);
    par = ic->streams[st]->codecpar;
    is_hevc = par->codec_id == AV_CODEC_ID_HEVC;
    cr_assert(par->extradata_size > 22 && par->extradata[0] == 1,
              "%s: avcC/hvcC extradata", path);
    L = (size_t)(par->extradata[is_hevc ? 21 : 4] & 3) + 1;
    cr_assert_eq(cir_nal_slice_open(&p, is_hevc, par->extradata,
                                    (size_t)par->extradata_size),
                 0, "%s: parameter sets", path);
    while (av_read_frame(ic, pkt) >= 0) {
        size_t pos = 0, size = (size_t)pkt->size;
        while (pkt->stream_index == st && pos + L <= size) {
            const uint8_t *nal = pkt->data + pos + L;
            size_t n = 0, header = 0;
            for (size_t i = 0; i < L; i++) {
                n = n << 8 | pkt->data[pos + i];
            }
            cr_assert(n > 0 && n <= size - pos - L);
            if (!cir_nal_slice_is_slice(p, nal, n)) {
                cr_assert_eq(cir_nal_slice_add_param_set(p, nal, n), 0);
            } else {
                cr_assert_eq(cir_nal_slice_header_size(p, nal, n, &header), 0,
                             "%s: slice %zu", path, ours.n);
                cr_assert_leq(header, n);
                cr_assert_lt(ours.n, MAX_SLICES);
                ours.bytes[ours.n++] = rbsp_bytes(nal, header);
                if (truncated++ < 3) {
                    check_truncations(p, nal, header);
                }
            }
            pos += L + n;
        }
        av_packet_unref(pkt);
    }
    cir_nal_slice_free(&p);
    av_packet_free(&pkt);
    avformat_close_input(&ic);
}

/* FFmpeg's: a "Slice Header" / "Slice Segment Header" block's last field
 * ends at its position + its bits. */
static void
their_lengths(const char *path)
{
    char cmd[1024], line[4096];
    FILE *f;
    int in_slice = 0;
    long end = 0;

    theirs.n = 0;
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -hide_banner -nostats -i '%s' -map 0:v:0 -c copy "
             "-bsf:v trace_headers -f null - 2>&1",
             path);
    f = popen(cmd, "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *at = strstr(line, "] ");
        char name[256], bits[256];
        long pos;
        if (at == NULL) {
            continue;
        }
        at += 2;
        if (in_slice &&
            sscanf(at, "%ld %255s %255s =", &pos, name, bits) == 3) {
            end = pos + (long)strlen(bits);
            continue;
        }
        if (in_slice) {
            cr_assert_lt(theirs.n, MAX_SLICES);
            theirs.bytes[theirs.n++] = (unsigned)((end + 7) / 8);
            in_slice = 0;
        }
        if (strncmp(at, "Slice Header", 12) == 0 ||
            strncmp(at, "Slice Segment Header", 20) == 0) {
            in_slice = 1;
            end = 0;
        }
    }
    if (in_slice) {
        theirs.bytes[theirs.n++] = (unsigned)((end + 7) / 8);
    }
    cr_assert_eq(pclose(f), 0, "%s", cmd);
}

static void
compare(const char *path, size_t min_slices)
{
    our_lengths(path);
    their_lengths(path);
    cr_assert_eq(ours.n, theirs.n, "%s: %zu slices here, %zu in FFmpeg", path,
                 ours.n, theirs.n);
    cr_assert_geq(ours.n, min_slices, "%s", path);
    for (size_t i = 0; i < ours.n; i++) {
        cr_assert_eq(ours.bytes[i], theirs.bytes[i],
                     "%s: slice %zu: %u header bytes here, %u in FFmpeg", path,
                     i, ours.bytes[i], theirs.bytes[i]);
    }
}

static void
sample(const char *name, size_t min_slices)
{
    char path[1024];
    const char *src = getenv("CIRRUS_SOURCE_DIR");

    snprintf(path, sizeof(path), "%s/samples/media/%s", src ? src : "..", name);
    cr_assert_eq(access(path, R_OK), 0, "%s (samples/make-samples)", path);
    compare(path, min_slices);
}

/* 48 frames of testsrc2 encoded with the options, then compared */
static void
encoded(const char *name, const char *codec_options, size_t min_slices)
{
    char path[1024], cmd[2048];

    snprintf(path, sizeof(path), "%s/%s.mp4", tmpdir, name);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=25 "
             "-frames:v 48 %s '%s'",
             codec_options, path);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    compare(path, min_slices);
}

TestSuite(transcoder_nal_slice, .init = make_tmpdir, .fini = remove_tmpdir,
          .timeout = 240);

Test(transcoder_nal_slice, sample_media_matches_ffmpeg)
{
    sample("h264_720p2997.mp4", 100);
    sample("h264_1080p30.mp4", 100);
    sample("hevc_1080p.mp4", 100);
}

Test(transcoder_nal_slice, h264_slices_b_frames_weighted_prediction)
{
    encoded("h264_slices",
            "-c:v libx264 -pix_fmt yuv420p -x264-params "
            "slices=4:bframes=3:b-pyramid=normal:weightp=2:weightb=1:ref=4",
            4 * 48);
}

Test(transcoder_nal_slice, h264_cavlc_mbaff)
{
    encoded("h264_cavlc_mbaff",
            "-c:v libx264 -pix_fmt yuv420p -x264-params "
            "cabac=0:interlaced=1:slices=2:bframes=2:ref=3",
            2 * 48);
}

Test(transcoder_nal_slice, h264_444_scaling_matrices)
{
    encoded("h264_444", "-c:v libx264 -pix_fmt yuv444p -x264-params cqm=jvt",
            48);
}

Test(transcoder_nal_slice, hevc_slices_b_frames_weighted_prediction)
{
    encoded("hevc_slices",
            "-c:v libx265 -pix_fmt yuv420p -x265-params "
            "log-level=error:slices=4:bframes=4:weightp=1:weightb=1:"
            "scaling-list=default",
            4 * 48);
}

/* ---- hostile input ---- */

/* avcC: Baseline, one SPS (POC type 2) and one PPS (id 0) */
static const uint8_t AVCC[] = {1, 0x42, 0,    0x1e, 0xff, 0xe1, 0,
                               6, 0x67, 0x42, 0,    0x1e, 0xda, 0x79,
                               1, 0,    4,    0x68, 0xce, 0x3c, 0x80};

Test(transcoder_nal_slice, refuses_hostile_input)
{
    cir_nal_slice_t *p = NULL;
    size_t h = 0;
    /* IDR: first_mb 0, I, PPS 0, frame_num, idr_pic_id, marking,
     * qp delta, deblocking idc 1: 20 bits */
    static const uint8_t idr[] = {0x65, 0x88, 0x84, 0xa0, 0x12};
    static const uint8_t pps5[] = {0x65, 0x88, 0x30, 0x42}; /* PPS 5 */
    static const uint8_t long_code[] = {0x65, 0, 0, 0, 0, 0x80};
    static const uint8_t bad_sps[] = {0x67, 0x42, 0, 0x1e, 0, 0, 0, 0, 1};
    uint8_t cfg[sizeof(AVCC)];

    cr_assert_eq(cir_nal_slice_open(&p, 0, AVCC, sizeof(AVCC)), 0);
    cr_assert_eq(cir_nal_slice_header_size(p, idr, sizeof(idr), &h), 0);
    cr_assert_eq(h, 4); /* NAL header + 20 bits */
    cr_assert_eq(cir_nal_slice_header_size(p, idr, 3, &h), CIR_EMEDIA);
    cr_assert_eq(cir_nal_slice_header_size(p, pps5, sizeof(pps5), &h),
                 CIR_EMEDIA, "a slice of a PPS never seen");
    cr_assert_eq(cir_nal_slice_header_size(p, long_code, sizeof(long_code), &h),
                 CIR_EMEDIA, "an exp-Golomb code of 32 zeros or more");
    cr_assert_eq(cir_nal_slice_add_param_set(p, bad_sps, sizeof(bad_sps)),
                 CIR_EMEDIA);
    cir_nal_slice_free(&p);

    /* configuration records: each unit's length past the end, a wrong
     * version, a truncated HEVC record */
    for (size_t k = 0; k < sizeof(AVCC); k++) {
        cr_assert_eq(cir_nal_slice_open(&p, 0, AVCC, k), CIR_EMEDIA,
                     "avcC cut to %zu bytes", k);
        cr_assert_null(p);
    }
    memcpy(cfg, AVCC, sizeof(cfg));
    cfg[0] = 2;
    cr_assert_eq(cir_nal_slice_open(&p, 0, cfg, sizeof(cfg)), CIR_EMEDIA);
    cr_assert_eq(cir_nal_slice_open(&p, 1, AVCC, sizeof(AVCC)), CIR_EMEDIA);
}

Test(transcoder_nal_slice, random_bytes_fail_cleanly)
{
    uint8_t buf[64];
    cir_nal_slice_t *p = NULL;

    srand(14);
    for (int is_hevc = 0; is_hevc < 2; is_hevc++) {
        for (int round = 0; round < 20000; round++) {
            size_t n = (size_t)(rand() % (int)sizeof(buf)) + 1, h = 0;
            int ret;
            for (size_t i = 0; i < n; i++) {
                buf[i] = (uint8_t)rand();
            }
            if (p == NULL) {
                cr_assert_eq(cir_nal_slice_open(
                                 &p, is_hevc,
                                 is_hevc
                                     ? (const uint8_t *)"\1"
                                                        "0123456789012345678"
                                                        "90\0"
                                     : AVCC,
                                 is_hevc ? 23 : sizeof(AVCC)),
                             0);
            }
            ret = cir_nal_slice_add_param_set(p, buf, n);
            cr_assert(ret == 0 || ret == CIR_EMEDIA || ret == CIR_EUNSUPPORTED);
            ret = cir_nal_slice_header_size(p, buf, n, &h);
            cr_assert(ret == 0 || ret == CIR_EMEDIA || ret == CIR_EUNSUPPORTED);
            cr_assert(ret < 0 || h <= n);
        }
        cir_nal_slice_free(&p);
    }
}
