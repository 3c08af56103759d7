#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cmaf.h"
#include "cmaf_live.h"

#define WAIT_MAX 256 /* samples a follower keeps waiting for its leader */

struct cir_cmaf_live {
    cir_live_writer_t *writer;
    AVFormatContext *oc;
    AVIOContext *pb; /* the muxer's output: into out */
    cir_buf_t out;   /* what the muxer wrote since the last part */
    int64_t out_pos; /* pb's position of out.data[0] */
    size_t out_at;   /* where the next write goes in out */
    AVPacket *pkt;   /* a view of the packet being written */
    AVPacket *held;  /* the last sample, not muxed yet (see hold()) */
    int has_held;
    int held_starts; /* it starts a part (and maybe a segment) */
    AVRational in_tb;
    AVRational frame_rate;
    int is_video;
    int64_t part_len, seg_len, tolerance; /* muxer timescale */
    int64_t seg_limit;                    /* a segment stays below it */
    int64_t segment_target_us, part_target_us;
    uint32_t target_duration; /* 0: not decided yet */
    int decides_target;       /* the stream's leader decides it */
    int64_t frame_duration;
    int header_done;

    int part_open;      /* samples muxed since the last flush */
    int part_key;       /* the open part starts with a keyframe */
    int64_t part_start; /* dts of its first sample */
    int seg_open;
    int64_t seg_start;
    int nb_segments;   /* opened so far */
    int64_t last_end;  /* dts + duration of the last sample */
    int64_t last_dts;  /* of the last sample, AV_NOPTS_VALUE at first */
    int64_t step_cur;  /* the longest dts step in the open part */
    int64_t step_prev; /* ... in the part before */
    int follower;      /* segments cut where the leader (video) cut */
    int64_t next_cut;  /* the leader's next cut, or AV_NOPTS_VALUE */
    int absorb_start;  /* after a break: the leader's start cut_at is the
                        * start of the segment already open */
    int rewait;        /* after a break: wait for the leader's new start */
    /* a follower's first samples (and its first after a break), waiting
     * for the leader's start */
    AVPacket *wait[WAIT_MAX];
    int nb_wait;
    uint64_t dropped;     /* samples dropped before the track could start */
    AVRational writer_tb; /* the store's timescale (the first muxer's) */
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

/* The lengths in the muxer's timescale (again when it changes). */
static void
set_lengths(cir_cmaf_live_t *c)
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
static void
change_timescale(cir_cmaf_live_t *c, AVRational from)
{
    AVRational to = c->oc->streams[0]->time_base;

    if (av_cmp_q(from, to) == 0) {
        return;
    }
    c->last_dts = rescale_ts(c->last_dts, from, to);
    c->last_end = rescale_ts(c->last_end, from, to);
    c->next_cut = rescale_ts(c->next_cut, from, to);
    c->seg_start = rescale_ts(c->seg_start, from, to);
    c->part_start = rescale_ts(c->part_start, from, to);
    c->step_cur = rescale_ts(c->step_cur, from, to);
    c->step_prev = rescale_ts(c->step_prev, from, to);
    set_lengths(c);
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
    c->follower = cfg->follower;
    c->decides_target = cfg->decides_target;
    if ((c->pkt = av_packet_alloc()) == NULL ||
        (c->held = av_packet_alloc()) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = open_output(c)) < 0 || (ret = open_muxer(c, cfg->par)) < 0) {
        goto fail;
    }
    tb = c->oc->streams[0]->time_base;
    c->writer_tb = tb;
    c->part_target_us = cfg->part_target_us;
    c->segment_target_us = (int64_t)(cfg->segment_seconds * 1e6 + 0.5);
    c->target_duration = cfg->target_duration;
    set_lengths(c);
    if (c->part_len <= 0 || c->seg_len < c->part_len) {
        ret = CIR_EINVAL;
        goto fail;
    }

    memset(&wcfg, 0, sizeof(wcfg));
    wcfg.dir = cfg->dir;
    wcfg.track = *cfg->track;
    wcfg.timescale = (uint32_t)tb.den;
    wcfg.segment_target = c->seg_len;
    wcfg.part_target = c->part_len;
    wcfg.part_target_us = cfg->part_target_us;
    wcfg.target_duration = cfg->target_duration;
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

/* A time of the muxer's timescale in the store's: a new codec
 * configuration may change the muxer's (an audio sample rate), the store
 * keeps the one its index started with. */
static int64_t
to_writer(const cir_cmaf_live_t *c, int64_t t)
{
    return av_rescale_q(t, c->oc->streams[0]->time_base, c->writer_tb);
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
        int64_t from = to_writer(c, c->part_start), to = to_writer(c, end);
        ret = (last ? cir_live_writer_put_last_part : cir_live_writer_put_part)(
            c->writer, buf + moof, size - (size_t)moof, from, to - from,
            c->part_key);
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

/* The longest recent dts step, capped at 15 % of the part target: a part
 * closed because the next sample would likely overflow it is then at
 * least 85 % of the target. */
static int64_t
step_estimate(const cir_cmaf_live_t *c)
{
    int64_t step = FFMAX(c->step_cur, c->step_prev);

    step = FFMAX(step, c->frame_duration);
    return FFMIN(step, c->part_len * 15 / 100);
}

/* The likely duration of the sample just come, to close its part before
 * it rather than after it: the frame duration when the rate is known.  A
 * step from jitter or bunched timestamps would close parts a frame early
 * (each segment then ends in a runt part); a sample that does overflow is
 * caught by the exact check in mux_held, which cuts at the same place, one
 * sample later. */
static int64_t
next_step(const cir_cmaf_live_t *c)
{
    return c->frame_duration > 0 && c->frame_duration <= c->part_len * 15 / 100
               ? c->frame_duration
               : step_estimate(c);
}

/* Half the usual sample spacing: a follower cuts at the sample nearest
 * its leader's cut. */
static int64_t
half_step(const cir_cmaf_live_t *c)
{
    int64_t step =
        c->last_end != AV_NOPTS_VALUE && c->last_dts != AV_NOPTS_VALUE
            ? c->last_end - c->last_dts
            : 0;

    return FFMAX(step, c->frame_duration) / 2;
}

/*
 * A segment is due at a keyframe past the target, or for a follower (audio
 * next to video) at the leader's cut, so segment numbers mean the same
 * times in every rendition.  Any sample cuts a segment about to outgrow
 * the stream's target duration (a follower whose leader stalls, or a
 * source whose keyframes come further apart than when the target was
 * decided).
 */
static int
segment_due(const cir_cmaf_live_t *c, int64_t dts, int key)
{
    if (dts - c->seg_start + step_estimate(c) > c->seg_limit) {
        return 1;
    }
    if (c->follower) {
        return c->next_cut != AV_NOPTS_VALUE &&
               dts >= c->next_cut - half_step(c);
    }
    return key && dts - c->seg_start >= c->seg_len - c->tolerance;
}

/* The stream's leader decides the target duration when its first segment
 * closes (cir_live_decide_target_duration). */
static int
decide_target(cir_cmaf_live_t *c, int64_t first_end)
{
    AVRational tb = c->oc->streams[0]->time_base;
    int64_t first_us =
        av_rescale_q(first_end - c->seg_start, tb, AV_TIME_BASE_Q);

    if (!c->decides_target || c->target_duration != 0) {
        return 0;
    }
    return cir_cmaf_live_set_target_duration(
        c, cir_live_decide_target_duration(c->segment_target_us, first_us));
}

int
cir_cmaf_live_set_target_duration(cir_cmaf_live_t *c, uint32_t td)
{
    int ret;

    if (c->target_duration == td) {
        return 0;
    }
    if ((ret = cir_live_writer_set_target_duration(c->writer, td)) < 0) {
        cir_log_error(&c->log, "target duration %u: %s", (unsigned)td,
                      cir_strerror(ret));
        return ret;
    }
    c->target_duration = td;
    c->seg_limit = av_rescale_q(cir_live_segment_limit_us(td), AV_TIME_BASE_Q,
                                c->oc->streams[0]->time_base);
    return 0;
}

uint32_t
cir_cmaf_live_target_duration(const cir_cmaf_live_t *c)
{
    return c->target_duration;
}

/* Muxes the held sample into the open part, or into a new one when it
 * starts one or cannot fit: the next sample's dts (next) is where a part
 * holding it would end at the earliest.  next: AV_NOPTS_VALUE at the end. */
static int
mux_held(cir_cmaf_live_t *c, int64_t next)
{
    AVPacket *h = c->held;
    int ret;

    if (!c->has_held) {
        return 0;
    }
    if (next != AV_NOPTS_VALUE && next > h->dts) {
        h->duration = next - h->dts; /* exact: parts add up */
    } else if (h->duration <= 0) {
        h->duration = FFMAX(step_estimate(c), 1);
    }
    if (next == AV_NOPTS_VALUE) {
        next = h->dts + h->duration; /* the end: its own duration */
    }
    if (c->part_open && !c->held_starts && next - c->part_start > c->part_len) {
        /* PART-TARGET is a maximum: the part ends before it */
        if ((ret = flush_part(c, h->dts)) < 0) {
            return ret;
        }
    }
    if (!c->part_open) {
        c->part_open = 1;
        c->part_start = h->dts;
        c->part_key = (h->flags & AV_PKT_FLAG_KEY) != 0 || !c->is_video;
        c->step_prev = c->step_cur;
        c->step_cur = 0;
    }
    c->has_held = 0;
    c->held_starts = 0;
    c->last_end = h->dts + h->duration;
    ret = av_write_frame(c->oc, h);
    av_packet_unref(h);
    if (ret < 0) {
        cir_log_error(&c->log, "muxing: %s", av_err2str(ret));
        return CIR_EMEDIA;
    }
    return 0;
}

/* Ends the open segment with what is held (discontinuity, new codec
 * parameters, the end). */
static int
close_segment(cir_cmaf_live_t *c)
{
    int ret;

    if ((ret = mux_held(c, AV_NOPTS_VALUE)) < 0) {
        return ret;
    }
    if (!c->seg_open) {
        return 0;
    }
    if (c->part_open) {
        if ((ret = decide_target(c, c->last_end)) < 0) {
            return ret;
        }
        ret = flush_part_ex(c, c->last_end, 1);
    } else {
        ret = cir_live_writer_end_segment(c->writer);
    }
    c->seg_open = 0;
    return ret;
}

/*
 * What a follower does with the leader's cut pending when it opens a
 * segment after a break (new codec parameters, a discontinuity): its first
 * sample after the break starts the segment, none is lost between the end
 * of the old timeline and the leader's new start.  A pending cut within
 * half a segment is the leader's start of this segment (consumed); an
 * older one is stale; with none yet, the leader's start, when it comes
 * (cir_cmaf_live_cut_at), is absorbed.
 */
static void
follow_after_break(cir_cmaf_live_t *c, int64_t dts)
{
    int64_t near = c->seg_len / 2;

    if (c->next_cut == AV_NOPTS_VALUE || c->next_cut < dts - near) {
        c->next_cut = AV_NOPTS_VALUE;
        c->absorb_start = 1;
    } else if (c->next_cut <= dts + near) {
        c->next_cut = AV_NOPTS_VALUE;
    }
}

/* Muxes one sample (pkt: muxer timescale; a view or refcounted, taken
 * over): opens, cuts, or joins a part.  1: a segment started. */
static int
write_sample(cir_cmaf_live_t *c, AVPacket *pkt, int key)
{
    int ret = 0, cut = 0;

    if (!c->seg_open) {
        if (c->is_video && !key) {
            c->dropped++; /* a segment starts with a keyframe: wait */
            return 0;
        }
        if ((ret = mux_held(c, pkt->dts)) < 0) {
            return ret;
        }
        if (c->follower && c->nb_segments > 0) {
            follow_after_break(c, pkt->dts);
        } else {
            c->next_cut = AV_NOPTS_VALUE;
        }
        c->seg_open = 1;
        c->seg_start = pkt->dts;
        c->nb_segments++;
        c->held_starts = 1;
        cut = 1;
    } else {
        if ((ret = mux_held(c, pkt->dts)) < 0) {
            return ret;
        }
        if (segment_due(c, pkt->dts, key)) {
            if (c->nb_segments == 1 && (ret = decide_target(c, pkt->dts)) < 0) {
                return ret;
            }
            if (c->part_open) {
                ret = flush_part_ex(c, pkt->dts, 1);
            } else {
                ret = cir_live_writer_end_segment(c->writer);
            }
            if (ret < 0) {
                return ret;
            }
            c->seg_start = pkt->dts;
            c->next_cut = AV_NOPTS_VALUE;
            c->absorb_start = 0;
            c->nb_segments++;
            c->held_starts = 1;
            cut = 1;
        } else if (c->part_open &&
                   pkt->dts + next_step(c) - c->part_start > c->part_len) {
            /* the next sample would likely overflow the part: it ends
             * here (at least 85 % of the target, see step_estimate) */
            if ((ret = flush_part(c, pkt->dts)) < 0) {
                return ret;
            }
            c->held_starts = 1;
        } else {
            c->held_starts = !c->part_open;
        }
    }
    if (c->last_dts != AV_NOPTS_VALUE && c->part_open &&
        pkt->dts - c->last_dts > c->step_cur) {
        c->step_cur = pkt->dts - c->last_dts;
    }
    c->last_dts = pkt->dts;
    c->last_end = pkt->dts + pkt->duration;
    /* held past this call: a view of the caller's memory (the RTMP
     * reader's buffer) becomes a copy; a refcounted one stays a reference */
    if (av_packet_make_refcounted(pkt) < 0) {
        return CIR_ENOMEM;
    }
    av_packet_move_ref(c->held, pkt);
    c->has_held = 1;
    return cut;
}

/* Where waiting sample i ends: the next one's dts, or its own duration. */
static int64_t
waiting_end(const cir_cmaf_live_t *c, int i)
{
    return i + 1 < c->nb_wait ? c->wait[i + 1]->dts
                              : c->wait[i]->dts + c->wait[i]->duration;
}

/* Drops the first n waiting samples (counted). */
static void
drop_waiting(cir_cmaf_live_t *c, int n)
{
    AVPacket *p;

    for (int i = 0; i < n; i++) {
        av_packet_unref(c->wait[i]);
    }
    c->dropped += (uint64_t)n;
    /* the emptied packets go to the end, for reuse */
    for (int i = 0; i < n; i++) {
        p = c->wait[0];
        memmove(c->wait, c->wait + 1, (WAIT_MAX - 1) * sizeof(c->wait[0]));
        c->wait[WAIT_MAX - 1] = p;
    }
    c->nb_wait -= n;
}

/* The waiting samples into the first segment: those wholly before the
 * leader's start are dropped (counted: segment 0 starts with the
 * leader's, same numbers for the same times); the first one at or
 * overlapping it opens the segment.  With the leader not started, they
 * wait, but not past a segment limit, WAIT_MAX samples, nor the end
 * (alone): then the follower starts alone and decides the stream's
 * target if nobody did.  0 or 1 (a segment started). */
static int
release_waiting(cir_cmaf_live_t *c, int alone)
{
    int n = 0, ret = 0, cut = 0;

    if (c->nb_wait == 0) {
        return 0;
    }
    if (c->next_cut != AV_NOPTS_VALUE) {
        while (n < c->nb_wait && waiting_end(c, n) <= c->next_cut) {
            n++;
        }
        drop_waiting(c, n);
        if (c->nb_wait == 0) {
            return 0;
        }
    } else if (!alone && c->nb_wait < WAIT_MAX &&
               c->wait[c->nb_wait - 1]->dts - c->wait[0]->dts <= c->seg_limit) {
        return 0;
    } else {
        c->decides_target = 1;
    }
    c->rewait = 0;
    for (n = 0; n < c->nb_wait; n++) {
        if ((ret = write_sample(c, c->wait[n], 1)) < 0) {
            break;
        }
        cut |= ret;
    }
    for (int i = 0; i < c->nb_wait; i++) {
        av_packet_unref(c->wait[i]);
    }
    c->nb_wait = 0;
    return ret < 0 ? ret : cut;
}

/* A follower's sample before its first segment: kept until the leader's
 * start is known (cir_cmaf_live_cut_at), so a sample sent just before the
 * leader's first keyframe, at the same time, is not lost. */
static int
wait_for_leader(cir_cmaf_live_t *c, AVPacket *pkt)
{
    if (c->nb_wait == WAIT_MAX) {
        drop_waiting(c, 1);
    }
    if (c->wait[c->nb_wait] == NULL &&
        (c->wait[c->nb_wait] = av_packet_alloc()) == NULL) {
        return CIR_ENOMEM;
    }
    if (av_packet_make_refcounted(pkt) < 0) {
        return CIR_ENOMEM;
    }
    av_packet_move_ref(c->wait[c->nb_wait++], pkt);
    return release_waiting(c, 0);
}

/*
 * One sample is held back: a part's end is only known when the sample
 * after it comes, so a sample is muxed when the next one arrives and the
 * part it would join is known to stay within PART-TARGET (mux_held).
 * Parts close early, on arrival, when the next sample would likely
 * overflow them (step_estimate), so they are published without waiting
 * for one more sample in the usual case.
 */
int
cir_cmaf_live_write(cir_cmaf_live_t *c, const AVPacket *in)
{
    AVStream *st = c->oc->streams[0];
    AVPacket *pkt = c->pkt;
    int key, ret = 0;

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
    if (c->last_dts != AV_NOPTS_VALUE && pkt->dts < c->last_dts) {
        /* the repair stage in front keeps dts increasing */
        cir_log_warn(&c->log, "dts %" PRId64 " before %" PRId64 ": dropped",
                     pkt->dts, c->last_dts);
    } else if (c->follower && (c->nb_segments == 0 || c->rewait)) {
        ret = wait_for_leader(c, pkt);
    } else {
        ret = write_sample(c, pkt, key);
    }
    av_packet_unref(pkt);
    return ret;
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
    int64_t at, start;

    if (!c->seg_open || !c->has_held) {
        return INT64_MIN;
    }
    /* a part closes on the packet whose dts + step passes its start +
     * part_len (cir_cmaf_live_write); a step earlier, for jitter */
    start = c->part_open && !c->held_starts ? c->part_start : c->held->dts;
    at = start + c->part_len - 2 * step_estimate(c) -
         (c->last_end - c->last_dts);
    if (c->follower && c->next_cut != AV_NOPTS_VALUE && c->next_cut < at) {
        at = c->next_cut - half_step(c);
    }
    return av_rescale_q(at, c->oc->streams[0]->time_base, AV_TIME_BASE_Q);
}

void
cir_cmaf_live_set_role(cir_cmaf_live_t *c, int follower, int decides_target)
{
    c->follower = follower;
    c->decides_target = decides_target;
}

void
cir_cmaf_live_cut_at(cir_cmaf_live_t *c, int64_t at_us)
{
    int64_t at =
        av_rescale_q(at_us, AV_TIME_BASE_Q, c->oc->streams[0]->time_base);

    c->follower = 1;
    if (c->absorb_start && c->seg_open) {
        /* the leader's start of the segment opened after a break */
        c->absorb_start = 0;
        if (llabs(at - c->seg_start) <= c->seg_len / 2) {
            return;
        }
    }
    c->next_cut = at;
}

/* Before a break: the samples still waiting for the leader go out if its
 * start is known, else they are dropped (counted: the leader never
 * started before the break). */
static int
end_waiting(cir_cmaf_live_t *c)
{
    if (c->nb_wait > 0 && c->next_cut == AV_NOPTS_VALUE) {
        drop_waiting(c, c->nb_wait);
    }
    return release_waiting(c, 0);
}

/* After a break a follower's samples wait for the leader's new start, as
 * at the stream's start: those wholly before it are dropped (counted),
 * the first at or overlapping it opens the segment with the leader's
 * number, so every rendition breaks at the same MSN even when the leader
 * resumes later (a video waiting for its next keyframe).  A leader's cut
 * already known past the old timeline's end is that new start. */
static void
rewait_after_break(cir_cmaf_live_t *c)
{
    if (!c->follower) {
        return;
    }
    if (c->next_cut != AV_NOPTS_VALUE && c->next_cut < c->last_end) {
        c->next_cut = AV_NOPTS_VALUE; /* the old timeline's */
    }
    c->rewait = 1;
}

int
cir_cmaf_live_reconfigure(cir_cmaf_live_t *c, const AVCodecParameters *par)
{
    AVRational tb = c->oc->streams[0]->time_base;
    int ret;

    if ((ret = end_waiting(c)) < 0 || (ret = close_segment(c)) < 0) {
        return ret;
    }
    close_muxer(c);
    avio_flush(c->pb);
    out_reset(c); /* nothing is pending after the flush */
    if ((ret = open_muxer(c, par)) < 0) {
        return ret;
    }
    change_timescale(c, tb);
    rewait_after_break(c);
    /* put_init of the new header marks the discontinuity */
    return 0;
}

/*
 * A follower whose leader began a segment it has not reached (its samples
 * after the leader's cut had not come) when the timeline breaks: that
 * segment number gets a GAP segment up to where the leader's ended, so
 * both renditions break at the same MSN.
 */
static int
gap_to_leader(cir_cmaf_live_t *c, int64_t leader_end_us)
{
    AVRational tb = c->oc->streams[0]->time_base;
    int64_t end, ret;

    if (!c->follower || c->next_cut == AV_NOPTS_VALUE ||
        leader_end_us == AV_NOPTS_VALUE || c->seg_open || c->nb_segments == 0) {
        return 0; /* (one not started yet waits for the leader anyway) */
    }
    end = av_rescale_q(leader_end_us, AV_TIME_BASE_Q, tb);
    if (end <= c->next_cut || c->next_cut < c->last_end - half_step(c)) {
        return 0; /* nothing of the leader's there, or a stale cut */
    }
    ret = cir_live_writer_put_gap_segment(c->writer, c->next_cut,
                                          end - c->next_cut);
    if (ret < 0) {
        return (int)ret;
    }
    cir_log_info(&c->log,
                 "a break %.3f s into a segment this rendition had not "
                 "reached: listed as a gap",
                 (double)(end - c->next_cut) * av_q2d(tb));
    c->next_cut = AV_NOPTS_VALUE;
    c->last_end = end;
    return 0;
}

int
cir_cmaf_live_discontinuity(cir_cmaf_live_t *c, int64_t leader_end_us)
{
    int ret;

    /* no hint past the break: the next number may go to an outage's GAP
     * segment, and a hinted part must be the one added later */
    cir_live_writer_pause(c->writer);
    if ((ret = end_waiting(c)) < 0 || (ret = close_segment(c)) < 0 ||
        (ret = gap_to_leader(c, leader_end_us)) < 0) {
        return ret;
    }
    rewait_after_break(c);
    return cir_live_writer_discontinuity(c->writer);
}

int64_t
cir_cmaf_live_end_us(const cir_cmaf_live_t *c)
{
    if (c->last_dts == AV_NOPTS_VALUE) {
        return AV_NOPTS_VALUE;
    }
    return av_rescale_q(c->last_end, c->oc->streams[0]->time_base,
                        AV_TIME_BASE_Q);
}

int
cir_cmaf_live_set_anchor(cir_cmaf_live_t *c, int64_t wall_us, int64_t media_us,
                         uint32_t gaps, int64_t hole_us)
{
    int ret;

    if ((ret = cir_live_writer_set_anchor(c->writer, wall_us, media_us)) < 0) {
        return ret;
    }
    return cir_live_writer_fill_outage(c->writer, gaps, hole_us);
}

int
cir_cmaf_live_finish(cir_cmaf_live_t *c)
{
    int ret;

    /* a leader that never started: the follower's samples alone */
    if ((ret = release_waiting(c, 1)) < 0 ||
        (ret = mux_held(c, AV_NOPTS_VALUE)) < 0) {
        return ret;
    }
    if (c->part_open && (ret = flush_part(c, c->last_end)) < 0) {
        return ret;
    }
    return cir_live_writer_finish(c->writer);
}

uint64_t
cir_cmaf_live_dropped(const cir_cmaf_live_t *c)
{
    return c->dropped;
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
    av_packet_free(&c->held);
    for (int i = 0; i < WAIT_MAX; i++) {
        av_packet_free(&c->wait[i]);
    }
    free(c);
    *cp = NULL;
}
