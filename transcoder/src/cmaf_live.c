#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cmaf.h"
#include "cmaf_live.h"

struct cir_cmaf_live {
    cir_live_writer_t *writer;
    AVFormatContext *oc;
    AVIOContext *pb; /* the muxer's output: into out */
    cir_buf_t out;   /* what the muxer wrote since the last part */
    int64_t out_pos; /* pb's position of out.data[0] */
    size_t out_at;   /* where the next write goes in out */
    AVPacket *pkt;   /* a view of the packet being written */
    AVRational in_tb;
    AVRational frame_rate;
    int is_video;
    int64_t part_len, seg_len, tolerance; /* muxer timescale */
    int64_t frame_duration;
    int header_done;

    int part_open;      /* samples written since the last flush */
    int part_key;       /* the open part starts with a keyframe */
    int64_t part_start; /* dts of its first sample */
    int seg_open;
    int64_t seg_start;
    int64_t last_end;  /* dts + duration of the last sample */
    int64_t last_dts;  /* of the last sample, AV_NOPTS_VALUE at first */
    int64_t max_delta; /* the longest dts step seen (bounded) */
    int follower;      /* segments cut where the leader (video) cut */
    int64_t next_cut;  /* the leader's next cut, or AV_NOPTS_VALUE */
    cir_log_ctx_t log;
    char rendition[CIR_LIVE_ID_MAX];
};

#define OUT_MAX   ((size_t)64 << 20) /* a part (or init + part) */
#define AVIO_SIZE 4096               /* box headers; payloads go direct */

/*
 * The muxer writes into c->out through c->pb, and c->out keeps its memory
 * from part to part (a dynamic buffer per part was allocated, grown by
 * reallocation, which copies, and freed three times a second per
 * rendition).  pb is seekable within what was not handed out yet, as the
 * muxer seeks back to patch box sizes.
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

/* What the muxer wrote was handed out (pb flushed first). */
static void
out_reset(cir_cmaf_live_t *c)
{
    c->out_pos += (int64_t)c->out.len;
    c->out_at = 0;
    cir_buf_reset(&c->out);
}

static int
open_output(cir_cmaf_live_t *c)
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
static void
close_muxer(cir_cmaf_live_t *c)
{
    if (c->oc == NULL) {
        return;
    }
    c->oc->pb = NULL; /* c->pb */
    avformat_free_context(c->oc);
    c->oc = NULL;
}

static int
open_muxer(cir_cmaf_live_t *c, const AVCodecParameters *par)
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

int
cir_cmaf_live_open(cir_cmaf_live_t **out, const cir_cmaf_live_config_t *cfg)
{
    cir_live_writer_config_t wcfg;
    cir_cmaf_live_t *c;
    AVRational tb;
    int ret;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CIR_ENOMEM;
    }
    snprintf(c->rendition, sizeof(c->rendition), "%s", cfg->track->rendition);
    c->log = (cir_log_ctx_t){.component = "live", .rendition = c->rendition};
    c->in_tb = cfg->time_base;
    c->frame_rate = cfg->frame_rate;
    c->is_video = cfg->par->codec_type == AVMEDIA_TYPE_VIDEO;
    c->next_cut = AV_NOPTS_VALUE;
    c->last_dts = AV_NOPTS_VALUE;
    if ((c->pkt = av_packet_alloc()) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = open_output(c)) < 0 || (ret = open_muxer(c, cfg->par)) < 0) {
        goto fail;
    }
    tb = c->oc->streams[0]->time_base;
    c->part_len = av_rescale_q((int64_t)(cfg->part_seconds * 1e6 + 0.5),
                               AV_TIME_BASE_Q, tb);
    c->seg_len = av_rescale_q((int64_t)(cfg->segment_seconds * 1e6 + 0.5),
                              AV_TIME_BASE_Q, tb);
    if (c->is_video && cfg->frame_rate.num > 0) {
        c->frame_duration = av_rescale_q(1, av_inv_q(cfg->frame_rate), tb);
        /* a whole number of frames per part: parts all equal the target */
        if (c->frame_duration > 0) {
            int64_t frames =
                (c->part_len + c->frame_duration / 2) / c->frame_duration;
            c->part_len = (frames > 0 ? frames : 1) * c->frame_duration;
        }
    }
    c->tolerance = c->frame_duration
                       ? c->frame_duration / 2
                       : av_rescale_q(10, (AVRational){1, 1000}, tb);

    memset(&wcfg, 0, sizeof(wcfg));
    wcfg.dir = cfg->dir;
    wcfg.track = *cfg->track;
    wcfg.timescale = (uint32_t)tb.den;
    wcfg.segment_target = c->seg_len;
    wcfg.part_target = c->part_len;
    wcfg.window = cfg->window;
    wcfg.clock = cfg->clock;
    if ((ret = cir_live_writer_open(&c->writer, &wcfg)) < 0) {
        cir_log_error(&c->log, "live store %s: %s", cfg->dir,
                      cir_strerror(ret));
        goto fail;
    }
    *out = c;
    return 0;

fail:
    cir_cmaf_live_free(&c);
    return ret;
}

/*
 * A segment is due at a keyframe past the target, or for a follower (audio
 * next to video) at the leader's cut, so segment numbers mean the same
 * times in every rendition; a follower whose leader stalls cuts by itself
 * after two targets.
 */
static int
segment_due(const cir_cmaf_live_t *c, int64_t dts)
{
    if (c->follower) {
        return (c->next_cut != AV_NOPTS_VALUE && dts >= c->next_cut) ||
               dts - c->seg_start >= 2 * c->seg_len;
    }
    return dts - c->seg_start >= c->seg_len - c->tolerance;
}

/* Flushes the open part and hands it to the writer; on the first flush the
 * init segment goes first.  last: the part ends its segment (one index
 * write for both). */
static int
flush_part_ex(cir_cmaf_live_t *c, int64_t end, int last)
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
        out_reset(c);
        c->part_open = 0;
        cir_log_error(&c->log, "a part larger than %zu bytes: dropped",
                      OUT_MAX);
        return CIR_ELIMIT;
    }
    buf = (const uint8_t *)c->out.data;
    size = c->out.len;
    if (!c->header_done) {
        ret = cir_live_writer_put_init(c->writer, buf, (size_t)moof);
        c->header_done = 1;
    } else {
        ret = 0;
    }
    if (ret == 0) {
        ret = (last ? cir_live_writer_put_last_part : cir_live_writer_put_part)(
            c->writer, buf + moof, size - (size_t)moof, c->part_start,
            end - c->part_start, c->part_key);
    }
    out_reset(c);
    c->part_open = 0;
    if (ret < 0) {
        cir_log_error(&c->log, "publishing a part: %s", cir_strerror(ret));
        return ret;
    }
    return 0;
}

static int
flush_part(cir_cmaf_live_t *c, int64_t end)
{
    return flush_part_ex(c, end, 0);
}

int
cir_cmaf_live_write(cir_cmaf_live_t *c, const AVPacket *in)
{
    AVStream *st = c->oc->streams[0];
    AVPacket *pkt = c->pkt;
    int key, ret = 0, cut = 0;

    /* the muxer copies the payload: no copy of our own */
    if ((ret = cir_packet_view(pkt, in)) < 0) {
        return ret;
    }
    av_packet_rescale_ts(pkt, c->in_tb, st->time_base);
    pkt->stream_index = 0;
    if (pkt->duration <= 0) {
        pkt->duration = c->frame_duration;
    }
    if (pkt->dts == AV_NOPTS_VALUE) {
        pkt->dts = pkt->pts;
    }
    key = (pkt->flags & AV_PKT_FLAG_KEY) != 0 || !c->is_video;

    if (!c->seg_open) {
        if (c->is_video && !key) {
            goto done; /* a segment starts with a keyframe: wait for one */
        }
        c->seg_open = 1;
        c->seg_start = pkt->dts;
    } else if (key && segment_due(c, pkt->dts)) {
        if (c->part_open) {
            ret = flush_part_ex(c, pkt->dts, 1);
        } else {
            ret = cir_live_writer_end_segment(c->writer);
        }
        if (ret < 0) {
            goto done;
        }
        c->seg_start = pkt->dts;
        c->next_cut = AV_NOPTS_VALUE;
        cut = 1;
    } else if (c->part_open &&
               pkt->dts + FFMAX(pkt->duration, c->max_delta) - c->part_start >
                   c->part_len) {
        /* PART-TARGET is a maximum: close the part before it overflows */
        if ((ret = flush_part(c, pkt->dts)) < 0) {
            goto done;
        }
    }
    if (!c->part_open) {
        c->part_open = 1;
        c->part_start = pkt->dts;
        c->part_key = (pkt->flags & AV_PKT_FLAG_KEY) != 0 || !c->is_video;
    }
    /* the part ends where the next sample starts: sources whose frame
     * spacing jitters (FLV's whole milliseconds: 33, 33, 34 ...) are judged
     * by the longest spacing seen, so no part outgrows PART-TARGET */
    if (c->last_dts != AV_NOPTS_VALUE && pkt->dts > c->last_dts &&
        pkt->dts - c->last_dts <= 4 * FFMAX(c->frame_duration, 1) &&
        pkt->dts - c->last_dts > c->max_delta) {
        c->max_delta = pkt->dts - c->last_dts;
    }
    c->last_dts = pkt->dts;
    c->last_end = pkt->dts + pkt->duration;
    if ((ret = av_write_frame(c->oc, pkt)) < 0) {
        cir_log_error(&c->log, "muxing: %s", av_err2str(ret));
        ret = CIR_EMEDIA;
    }

done:
    av_packet_unref(pkt);
    return ret < 0 ? ret : cut;
}

int64_t
cir_cmaf_live_segment_start_us(const cir_cmaf_live_t *c)
{
    return av_rescale_q(c->seg_start, c->oc->streams[0]->time_base,
                        AV_TIME_BASE_Q);
}

int64_t
cir_cmaf_live_wake_us(const cir_cmaf_live_t *c)
{
    int64_t step, at;

    if (!c->part_open || c->last_dts == AV_NOPTS_VALUE) {
        return INT64_MIN;
    }
    /* a part closes on the packet whose dts + step passes part_start +
     * part_len (cir_cmaf_live_write); two steps early, for jitter */
    step = FFMAX(c->max_delta, c->frame_duration);
    step = FFMAX(step, c->last_end - c->last_dts);
    at = c->part_start + c->part_len - 2 * step;
    if (c->follower && c->next_cut != AV_NOPTS_VALUE && c->next_cut < at) {
        at = c->next_cut;
    }
    return av_rescale_q(at, c->oc->streams[0]->time_base, AV_TIME_BASE_Q);
}

void
cir_cmaf_live_cut_at(cir_cmaf_live_t *c, int64_t at_us)
{
    c->follower = 1;
    c->next_cut =
        av_rescale_q(at_us, AV_TIME_BASE_Q, c->oc->streams[0]->time_base);
}

int
cir_cmaf_live_reconfigure(cir_cmaf_live_t *c, const AVCodecParameters *par)
{
    int ret;

    if (c->seg_open) {
        if ((ret = flush_part(c, c->last_end)) < 0 ||
            (ret = cir_live_writer_end_segment(c->writer)) < 0) {
            return ret;
        }
        c->seg_open = 0;
    }
    close_muxer(c);
    avio_flush(c->pb);
    out_reset(c); /* nothing is pending after the flush */
    if ((ret = open_muxer(c, par)) < 0) {
        return ret;
    }
    /* put_init of the new header marks the discontinuity */
    return 0;
}

int
cir_cmaf_live_discontinuity(cir_cmaf_live_t *c)
{
    int ret;

    if (c->seg_open) {
        if ((ret = flush_part(c, c->last_end)) < 0 ||
            (ret = cir_live_writer_end_segment(c->writer)) < 0) {
            return ret;
        }
        c->seg_open = 0;
    }
    return cir_live_writer_discontinuity(c->writer);
}

int
cir_cmaf_live_finish(cir_cmaf_live_t *c)
{
    int ret;

    if (c->part_open && (ret = flush_part(c, c->last_end)) < 0) {
        return ret;
    }
    return cir_live_writer_finish(c->writer);
}

const cir_live_index_t *
cir_cmaf_live_index(const cir_cmaf_live_t *c)
{
    return cir_live_writer_index(c->writer);
}

void
cir_cmaf_live_free(cir_cmaf_live_t **cp)
{
    cir_cmaf_live_t *c = *cp;

    if (c == NULL) {
        return;
    }
    close_muxer(c);
    if (c->pb != NULL) {
        av_freep(&c->pb->buffer);
        avio_context_free(&c->pb);
    }
    cir_buf_free(&c->out);
    cir_live_writer_close(&c->writer);
    av_packet_free(&c->pkt);
    free(c);
    *cp = NULL;
}
