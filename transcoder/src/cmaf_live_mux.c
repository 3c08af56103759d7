/*
 * Live CMAF packaging, the muxer (see cmaf_live_internal.h): FFmpeg's fMP4
 * muxer writes into memory, and each flushed part (the init segment first)
 * goes to the rendition's live store.
 * Tests: tests/unit/test_transcoder_cmaf_live_mux.c (and cmaf_live's).
 */
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "cir_error.h"
#include "cmaf.h"
#include "cmaf_live_internal.h"

#define AVIO_SIZE 4096 /* box headers; payloads go direct */

/*
 * The muxer writes into c->out through c->pb; pb is seekable within what
 * was not handed out yet, as the muxer seeks back to patch box sizes.
 * A flush writes the moof through pb's small buffer and then the mdat in
 * one direct write, so c->out grows by one reallocation of a few kB.  Its
 * memory goes back to the heap once the part is handed out: the streams
 * packaged on the event loop flush one at a time, so the next rendition to
 * flush takes the same memory (kept from part to part, it was one largest
 * part per rendition: about half of a passthrough stream's heap,
 * bench/README.md).  mallopt in cirrus-ingest keeps it in the heap.
 */
static int
out_write(void *opaque, uint8_t *buf, int size)
{
    cir_cmaf_live_t *c = opaque;
    size_t n = (size_t)size, over = c->out.len - c->out_at;

    /* after a seek back the bytes are overwritten */
    if (over > n) {
        over = n;
    }
    if (over > 0) {
        memcpy(c->out.data + c->out_at, buf, over);
    }
    if (cir_buf_append(&c->out, buf + over, n - over) < 0) {
        return AVERROR(ENOMEM);
    }
    c->out_at += n;
    return size;
}

static int64_t
out_seek(void *opaque, int64_t offset, int whence)
{
    cir_cmaf_live_t *c = opaque;

    if (whence == AVSEEK_SIZE) {
        return c->out_pos + (int64_t)c->out.len;
    }
    if (whence != SEEK_SET || offset < c->out_pos ||
        offset > c->out_pos + (int64_t)c->out.len) {
        return AVERROR(EINVAL);
    }
    c->out_at = (size_t)(offset - c->out_pos);
    return offset;
}

/* What the muxer wrote was handed out (pb flushed first); its memory
 * too. */
void
cir_cmaf_live_out_reset(cir_cmaf_live_t *c)
{
    c->out_pos += (int64_t)c->out.len;
    c->out_at = 0;
    cir_buf_free(&c->out);
    cir_buf_init(&c->out, OUT_MAX);
}

int
cir_cmaf_live_open_output(cir_cmaf_live_t *c)
{
    uint8_t *buf;

    cir_buf_init(&c->out, OUT_MAX);
    if ((buf = av_malloc(AVIO_SIZE)) == NULL) {
        return CIR_ENOMEM;
    }
    c->pb = avio_alloc_context(buf, AVIO_SIZE, 1, c, NULL, out_write, out_seek);
    if (c->pb == NULL) {
        av_free(buf);
        return CIR_ENOMEM;
    }
    c->pb->direct = 1; /* sample data: one copy, into c->out */
    return 0;
}

/* Frees the muxer (not its output). */
void
cir_cmaf_live_close_muxer(cir_cmaf_live_t *c)
{
    if (c->oc == NULL) {
        return;
    }
    c->oc->pb = NULL; /* c->pb */
    avformat_free_context(c->oc);
    c->oc = NULL;
}

int
cir_cmaf_live_open_muxer(cir_cmaf_live_t *c, const AVCodecParameters *par)
{
    int ret;

    /* live: no edit list (the init is written before the delay is known
     * for sure); timestamps are shifted so dts starts at 0 */
    ret = cir_cmaf_mux_open(&c->oc, par, c->in_tb, c->frame_rate, 0, c->pb);
    if (ret < 0) {
        cir_log_error(&c->log, "mp4 muxer: %s", cir_strerror(ret));
        return ret;
    }
    c->header_done = 0;
    return 0;
}

/* The lengths in the muxer's timescale (again when it changes). */
void
cir_cmaf_live_set_lengths(cir_cmaf_live_t *c)
{
    AVRational tb = c->oc->streams[0]->time_base;

    /* PART-TARGET is the stream's, in whole ms; a part never exceeds it,
     * whatever the frame rate (parts are cut from the samples' times) */
    c->part_len = av_rescale_rnd(c->part_target_us, tb.den,
                                 (int64_t)tb.num * 1000000, AV_ROUND_DOWN);
    c->seg_len = av_rescale_q(c->segment_target_us, AV_TIME_BASE_Q, tb);
    if (c->is_video && c->frame_rate.num > 0) {
        c->frame_duration = av_rescale_q(1, av_inv_q(c->frame_rate), tb);
    }
    c->tolerance = c->frame_duration
                       ? c->frame_duration / 2
                       : av_rescale_q(10, (AVRational){1, 1000}, tb);
    c->seg_limit = av_rescale_q(
        cir_live_segment_limit_us(
            c->target_duration
                ? c->target_duration
                : cir_live_max_target_duration(c->segment_target_us)),
        AV_TIME_BASE_Q, tb);
}

static int64_t
rescale_ts(int64_t t, AVRational from, AVRational to)
{
    return t == AV_NOPTS_VALUE ? t : av_rescale_q(t, from, to);
}

/* A new muxer with another timescale (a new audio sample rate): the
 * times kept are moved to it. */
void
cir_cmaf_live_change_timescale(cir_cmaf_live_t *c, AVRational from)
{
    AVRational to = c->oc->streams[0]->time_base;

    if (av_cmp_q(from, to) == 0) {
        return;
    }
    c->last_dts = rescale_ts(c->last_dts, from, to);
    c->last_end = rescale_ts(c->last_end, from, to);
    c->next_cut = rescale_ts(c->next_cut, from, to);
    c->seg_start = rescale_ts(c->seg_start, from, to);
    c->seg_start_pts = rescale_ts(c->seg_start_pts, from, to);
    c->last_key_pts = rescale_ts(c->last_key_pts, from, to);
    c->part_start = rescale_ts(c->part_start, from, to);
    c->step_cur = rescale_ts(c->step_cur, from, to);
    c->step_prev = rescale_ts(c->step_prev, from, to);
    cir_cmaf_live_set_lengths(c);
}

/* A time of the muxer's timescale in the store's: a new codec
 * configuration may change the muxer's (an audio sample rate), the store
 * keeps the one its index started with. */
static int64_t
to_writer(const cir_cmaf_live_t *c, int64_t t)
{
    return av_rescale_q(t, c->oc->streams[0]->time_base, c->writer_tb);
}

/* The init segment to the store, protected when the stream is encrypted. */
static int
put_init(cir_cmaf_live_t *c, const uint8_t *buf, size_t size)
{
    uint8_t *prot = NULL;
    int ret = cir_cmaf_live_crypt_keep_init(c, buf, size);

    if (ret == 0) {
        ret = cir_cmaf_live_crypt_init(c, buf, size, &prot, &size);
    }
    if (ret == 0) {
        ret = cir_onair_store_put_init(c->store, prot ? prot : buf, size);
    }
    av_free(prot);
    return ret;
}

/* A part (moof + mdat) from `from` to `to` (the store's timescale) to the
 * store, its samples encrypted when the stream is. */
static int
put_part(cir_cmaf_live_t *c, const uint8_t *buf, size_t size, int64_t from,
         int64_t to, int last)
{
    uint8_t *prot;
    int ret = cir_cmaf_live_crypt_part(c, buf, size, &prot, &size);

    if (ret == 0) {
        ret = (last ? cir_onair_store_put_last_part : cir_onair_store_put_part)(
            c->store, prot ? prot : buf, size, from, to - from, c->part_key);
    }
    av_free(prot);
    return ret;
}

/* Flushes the open part and hands it to the writer; on the first flush the
 * init segment goes first.  last: the part ends its segment (one index
 * write for both). */
int
cir_cmaf_live_flush(cir_cmaf_live_t *c, int64_t end, int last)
{
    const uint8_t *buf;
    size_t size;
    int ret;
    int64_t moof = 0;

    if (!c->part_open) {
        return 0;
    }
    if ((ret = av_write_frame(c->oc, NULL)) < 0) {
        return CIR_EINTERNAL;
    }
    avio_flush(c->pb);
    if (!c->header_done) {
        moof = cir_cmaf_find_box((const uint8_t *)c->out.data, 0, c->out.len,
                                 "moof");
        if (moof < 0) {
            /* delay_moov: the first flush wrote only ftyp + moov */
            moof = (int64_t)c->out.len;
            if ((ret = av_write_frame(c->oc, NULL)) < 0) {
                return CIR_EINTERNAL;
            }
            avio_flush(c->pb);
        }
    }
    if (c->pb->error < 0) {
        c->pb->error = 0;
        cir_cmaf_live_out_reset(c);
        c->part_open = 0;
        cir_log_error(&c->log, "a part larger than %zu bytes: dropped",
                      OUT_MAX);
        return CIR_ELIMIT;
    }
    buf = (const uint8_t *)c->out.data;
    size = c->out.len;
    ret = c->header_done ? 0 : put_init(c, buf, (size_t)moof);
    c->header_done = 1;
    if (ret == 0) {
        ret = put_part(c, buf + moof, size - (size_t)moof,
                       to_writer(c, c->part_start), to_writer(c, end), last);
    }
    cir_cmaf_live_out_reset(c);
    c->part_open = 0;
    if (ret < 0) {
        cir_log_error(&c->log, "publishing a part: %s", cir_strerror(ret));
        return ret;
    }
    return 0;
}
