#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/intreadwrite.h>

#include "cir_error.h"
#include "cir_storage.h"
#include "cmaf.h"

static size_t
box(uint8_t *p, const char *type, size_t payload)
{
    AV_WB32(p, (uint32_t)(payload + 8));
    memcpy(p + 4, type, 4);
    return 8;
}

/* moof { mfhd, traf { tfhd (default size 0x10 when given), trun } } */
static size_t
make_moof(uint8_t *p, uint32_t tfhd_flags, uint32_t default_size,
          uint32_t trun_flags, uint32_t first_size, int32_t data_offset)
{
    uint8_t tfhd[32], trun[32];
    size_t tl = 0, rl = 0, n = 0;

    AV_WB32(tfhd + tl, tfhd_flags);
    AV_WB32(tfhd + tl + 4, 1);
    tl += 8;
    if (tfhd_flags & 0x10) {
        AV_WB32(tfhd + tl, default_size);
        tl += 4;
    }
    AV_WB32(trun + rl, trun_flags);
    AV_WB32(trun + rl + 4, 2);
    AV_WB32(trun + rl + 8, (uint32_t)data_offset);
    rl += 12;
    if (trun_flags & 0x200) {
        AV_WB32(trun + rl, first_size);
        AV_WB32(trun + rl + 4, 99);
        rl += 8;
    }
    size_t traf = 8 + (8 + tl) + (8 + rl), moof = 8 + 16 + traf;
    n += box(p + n, "moof", moof - 8);
    n += box(p + n, "mfhd", 8);
    memset(p + n, 0, 8);
    n += 8;
    n += box(p + n, "traf", traf - 8);
    n += box(p + n, "tfhd", tl);
    memcpy(p + n, tfhd, tl);
    n += tl;
    n += box(p + n, "trun", rl);
    memcpy(p + n, trun, rl);
    n += rl;
    return n;
}

Test(transcoder_cmaf, first_sample_end_with_per_sample_sizes)
{
    uint8_t buf[256];
    size_t n = make_moof(buf, 0x020000, 0, 0x201, 1234, 100);

    cr_assert_eq(cir_cmaf_first_sample_end(buf, n), 100 + 1234);
}

Test(transcoder_cmaf, first_sample_end_with_default_size)
{
    uint8_t buf[256];
    size_t n = make_moof(buf, 0x020010, 777, 0x001, 0, 60);

    cr_assert_eq(cir_cmaf_first_sample_end(buf, n), 60 + 777);
}

Test(transcoder_cmaf, first_sample_end_rejects_garbage)
{
    uint8_t buf[256];
    size_t n = make_moof(buf, 0x020000, 0, 0x201, 1234, 100);

    cr_assert_lt(cir_cmaf_first_sample_end(buf, 4), 0);
    /* a moof that claims more bytes than there are */
    AV_WB32(buf, 100000);
    cr_assert_lt(cir_cmaf_first_sample_end(buf, n), 0);
    AV_WB32(buf, (uint32_t)n);
    /* not a moof */
    memcpy(buf + 4, "mdat", 4);
    cr_assert_lt(cir_cmaf_first_sample_end(buf, n), 0);
    memcpy(buf + 4, "moof", 4);
    /* a traf box size pointing past the moof */
    AV_WB32(buf + 24, 5000);
    cr_assert_lt(cir_cmaf_first_sample_end(buf, n), 0);
}

/* Called, when set, after each packet given to the packager (pts in
 * frames) with the output folder. */
static void (*observe_packet)(int64_t pts, const char *dir);

/* Encodes n frames at fps with a keyframe every gop frames through the
 * packager into a temporary folder, the first at pts first (in frames). */
static char *
package_from(int n, int fps, int gop, double seg, int first,
             cir_cmaf_info_t *info, cir_cmaf_t **out)
{
    char tmpl[] = "/tmp/cir-cmaf-XXXXXX";
    char *dir = strdup(mkdtemp(tmpl));
    cir_uri_t uri;
    cir_store_t *store = NULL;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    AVDictionary *opts = NULL;

    cr_assert_eq(cir_uri_parse(dir, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    enc->width = 64;
    enc->height = 36;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, fps};
    enc->framerate = (AVRational){fps, 1};
    enc->gop_size = gop;
    enc->keyint_min = gop;
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_dict_set(&opts, "preset", "ultrafast", 0);
    av_dict_set(&opts, "x264-params", "scenecut=0:log-level=none", 0);
    cr_assert_eq(avcodec_open2(enc, codec, &opts), 0);
    av_dict_free(&opts);
    cr_assert_eq(cir_cmaf_open(out, "v", store, enc, seg, NULL), 0);

    f->format = AV_PIX_FMT_YUV420P;
    f->width = 64;
    f->height = 36;
    av_frame_get_buffer(f, 0);
    for (int i = 0; i <= n; i++) {
        int ret;
        if (i < n) {
            av_frame_make_writable(f);
            for (int y = 0; y < 36; y++) {
                memset(f->data[0] + y * f->linesize[0], (i * 7 + y) & 0xff, 64);
            }
            memset(f->data[1], 128, (size_t)f->linesize[1] * 18);
            memset(f->data[2], 128, (size_t)f->linesize[2] * 18);
            f->pts = first + i;
            f->pict_type =
                i % gop == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
            ret = avcodec_send_frame(enc, f);
        } else {
            ret = avcodec_send_frame(enc, NULL);
        }
        cr_assert_eq(ret, 0);
        while (avcodec_receive_packet(enc, pkt) == 0) {
            cr_assert_eq(cir_cmaf_write(*out, pkt), 0);
            if (observe_packet != NULL) {
                observe_packet(pkt->pts, dir);
            }
            av_packet_unref(pkt);
        }
    }
    cr_assert_eq(cir_cmaf_finish(*out), 0);
    cir_cmaf_info(*out, info);
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&enc);
    cir_store_close(&store);
    return dir;
}

static char *
package(int n, int fps, int gop, double seg, cir_cmaf_info_t *info,
        cir_cmaf_t **out)
{
    return package_from(n, fps, gop, seg, 0, info, out);
}

/* The payload offset of the first box of a type along a path of boxes
 * (e.g. "moov/trak/edts"), or -1. */
static int64_t
find_path(const uint8_t *buf, size_t size, const char *path)
{
    size_t off = 0, end = size;
    int64_t at = -1;

    for (const char *p = path; *p; p += p[4] == '/' ? 5 : 4) {
        at =
            cir_cmaf_find_box(buf, off, end, (char[5]){p[0], p[1], p[2], p[3]});
        if (at < 0) {
            return -1;
        }
        end = (size_t)at + AV_RB32(buf + at);
        off = (size_t)at + 8;
        if (p[4] != '/') {
            break;
        }
    }
    return at < 0 ? -1 : (int64_t)off;
}

/* A video that starts 0.5 s into the asset (after its audio): the offset
 * is in tfdt, where MSE players read it, not in an empty edit they
 * ignore. */
Test(transcoder_cmaf, a_late_start_is_in_tfdt_not_an_edit_list)
{
    cir_cmaf_info_t info;
    cir_cmaf_t *c = NULL;
    char *dir = package_from(40, 10, 20, 4.0, 5, &info, &c);
    char path[600], cmd[600];
    char *data = NULL;
    size_t len = 0;
    int64_t tfdt;

    cr_assert_eq(info.segments[0].start, (int64_t)info.timescale / 2);
    snprintf(path, sizeof(path), "%s/v/init.mp4", dir);
    cr_assert_eq(cir_read_file(path, 1 << 24, &data, &len), 0);
    cr_assert_geq(find_path((uint8_t *)data, len, "moov/trak"), 0);
    cr_assert_lt(find_path((uint8_t *)data, len, "moov/trak/edts"), 0,
                 "no edit list");
    free(data);
    snprintf(path, sizeof(path), "%s/v/seg-1.m4s", dir);
    cr_assert_eq(cir_read_file(path, 1 << 24, &data, &len), 0);
    tfdt = find_path((uint8_t *)data, len, "moof/traf/tfdt");
    cr_assert_geq(tfdt, 0);
    cr_assert_eq(data[tfdt] == 1 ? (int64_t)AV_RB64(data + tfdt + 4)
                                 : (int64_t)AV_RB32(data + tfdt + 4),
                 (int64_t)info.timescale / 2, "tfdt is the first pts, 0.5 s");
    free(data);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    system(cmd);
    cir_cmaf_free(&c);
    free(dir);
}

Test(transcoder_cmaf, segments_cut_at_keyframes_on_the_boundary)
{
    cir_cmaf_info_t info;
    cir_cmaf_t *c = NULL;
    /* 10 s at 10 fps, keyframe every 2 s, 4 s segments: 4 + 4 + 2 */
    char *dir = package(100, 10, 20, 4.0, &info, &c);
    char path[512];

    cr_assert_eq(info.nb_segments, 3);
    cr_assert_eq(info.frames, 100);
    cr_assert_eq(info.segments[0].start, 0);
    cr_assert_eq(info.segments[0].duration, 4 * (int64_t)info.timescale);
    cr_assert_eq(info.segments[1].start, 4 * (int64_t)info.timescale);
    cr_assert_eq(info.segments[2].duration, 2 * (int64_t)info.timescale);
    cr_assert_eq(info.duration, 10 * (int64_t)info.timescale);
    /* one I-frame per GOP, each inside its segment file */
    cr_assert_eq(info.nb_iframes, 5);
    for (size_t i = 0; i < info.nb_iframes; i++) {
        cr_assert_eq(info.iframes[i].duration, 2 * (int64_t)info.timescale);
        cr_assert_lt(info.iframes[i].offset + info.iframes[i].size,
                     info.segments[info.iframes[i].segment].size + 1);
    }
    cr_assert_eq(info.iframes[0].offset, 24); /* right after the styp */
    cr_assert_eq(info.iframes[1].segment, 0);
    cr_assert_eq(info.iframes[2].segment, 1);

    /* init + segments play as one file with every frame */
    snprintf(path, sizeof(path), "%s/all.mp4", dir);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cat %s/v/init.mp4 %s/v/seg-1.m4s %s/v/seg-2.m4s %s/v/seg-3.m4s"
             " > %s",
             dir, dir, dir, dir, path);
    cr_assert_eq(system(cmd), 0);
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    int frames = 0;
    cr_assert_eq(avformat_open_input(&ic, path, NULL, NULL), 0);
    while (av_read_frame(ic, pkt) == 0) {
        frames++;
        av_packet_unref(pkt);
    }
    cr_assert_eq(frames, 100);
    avformat_close_input(&ic);
    av_packet_free(&pkt);

    /* every segment starts with styp */
    for (int i = 1; i <= 3; i++) {
        char *data = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/v/seg-%d.m4s", dir, i);
        cr_assert_eq(cir_read_file(path, 1 << 24, &data, &len), 0);
        cr_assert_eq(len, info.segments[i - 1].size);
        cr_assert_eq(memcmp(data + 4, "styp", 4), 0);
        cr_assert_eq(memcmp(data + 24 + 4, "moof", 4), 0);
        free(data);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    system(cmd);
    cir_cmaf_free(&c);
    free(dir);
}

Test(transcoder_cmaf, a_short_input_is_one_segment)
{
    cir_cmaf_info_t info;
    cir_cmaf_t *c = NULL;
    char *dir = package(5, 10, 20, 4.0, &info, &c);
    char cmd[600];

    cr_assert_eq(info.nb_segments, 1);
    cr_assert_eq(info.segments[0].duration, info.timescale / 2);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    system(cmd);
    cir_cmaf_free(&c);
    free(dir);
}

Test(transcoder_cmaf, a_runt_at_the_end_joins_the_segment_before)
{
    cir_cmaf_info_t info;
    cir_cmaf_t *c = NULL;
    /* 8.5 s, keyframe every 0.5 s, 4 s segments: 4 + 4.5, not 4 + 4 + 0.5 */
    char *dir = package(85, 10, 5, 4.0, &info, &c);
    char cmd[2048], path[600];

    cr_assert_eq(info.nb_segments, 2);
    cr_assert_eq(info.segments[1].duration, 45 * (int64_t)info.timescale / 10);
    /* the I-frames of the runt now point into segment 2, inside the file */
    cr_assert_eq(info.iframes[info.nb_iframes - 1].segment, 1);
    for (size_t i = 0; i < info.nb_iframes; i++) {
        cr_assert_leq(info.iframes[i].offset + info.iframes[i].size,
                      info.segments[info.iframes[i].segment].size);
    }
    /* and the last I-frame's range starts with its moof */
    char *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/v/seg-2.m4s", dir);
    cr_assert_eq(cir_read_file(path, 1 << 24, &data, &len), 0);
    cr_assert_eq(len, info.segments[1].size);
    cr_assert_eq(
        memcmp(data + info.iframes[info.nb_iframes - 1].offset + 4, "moof", 4),
        0);
    free(data);
    snprintf(path, sizeof(path), "%s/v/seg-3.m4s", dir);
    cr_assert_neq(access(path, F_OK), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    system(cmd);
    cir_cmaf_free(&c);
    free(dir);
}

/* A closed segment stays in memory only while the open one could still
 * turn out a runt (under a quarter segment); from then on it is in the
 * store, not held to the next close. */
static int segment_one_seen_at = -1;

static void
note_segment_one(int64_t pts, const char *dir)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/v/seg-1.m4s", dir);
    if (segment_one_seen_at < 0 && access(path, F_OK) == 0) {
        segment_one_seen_at = (int)pts;
    }
}

Test(transcoder_cmaf, a_closed_segment_is_written_once_no_runt_can_join_it)
{
    cir_cmaf_info_t info;
    cir_cmaf_t *c = NULL;
    char cmd[600];

    /* 10 fps, keyframe every 0.5 s, 4 s segments: segment 2 opens at
     * frame 40 and passes a quarter (1 s) with frame 49 (it ends at 5.0 s) */
    observe_packet = note_segment_one;
    char *dir = package(120, 10, 5, 4.0, &info, &c);
    observe_packet = NULL;
    cr_assert_eq(segment_one_seen_at, 49);
    cr_assert_eq(info.nb_segments, 3);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    system(cmd);
    cir_cmaf_free(&c);
    free(dir);
}

Test(transcoder_cmaf, packet_view_shares_the_payload)
{
    static uint8_t bare[16] = {1, 2, 3};
    AVPacket *src = av_packet_alloc(), *view = av_packet_alloc();

    cr_assert(src != NULL && view != NULL);
    /* a referenced payload: one more reference, the same bytes */
    cr_assert_eq(av_new_packet(src, 100), 0);
    src->pts = 42;
    src->flags = AV_PKT_FLAG_KEY;
    cr_assert_eq(cir_packet_view(view, src), 0);
    cr_assert_eq(view->data, src->data);
    cr_assert_eq(view->size, 100);
    cr_assert_eq(view->pts, 42);
    cr_assert_eq(view->flags, AV_PKT_FLAG_KEY);
    cr_assert_eq(av_buffer_get_ref_count(src->buf), 2);
    av_packet_unref(view);
    cr_assert_eq(av_buffer_get_ref_count(src->buf), 1);
    cr_assert_null(view->data);
    av_packet_unref(src);

    /* a bare pointer: no copy, no reference */
    src->data = bare;
    src->size = 3;
    src->dts = 7;
    cr_assert_eq(cir_packet_view(view, src), 0);
    cr_assert_eq(view->data, bare);
    cr_assert_null(view->buf);
    cr_assert_eq(view->dts, 7);
    av_packet_unref(view);
    src->data = NULL;
    av_packet_free(&src);
    av_packet_free(&view);
}
