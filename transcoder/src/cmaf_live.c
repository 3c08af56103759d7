/*
 * Live CMAF packaging, cutting (see cmaf_live.h and cmaf_live_internal.h):
 * where parts and segments end, the held-back sample, the stream's target
 * duration, and the packager's public calls.
 */
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "cir_error.h"
#include "cmaf.h"
#include "cmaf_live_internal.h"

static int
flush_part(cir_cmaf_live_t *c, int64_t end)
{
    return cir_cmaf_live_flush(c, end, 0);
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
    c->last_key_pts = AV_NOPTS_VALUE;
    c->follower = cfg->follower;
    c->decides_target = cfg->decides_target;
    if ((c->pkt = av_packet_alloc()) == NULL ||
        (c->held = av_packet_alloc()) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = cir_cmaf_live_open_output(c)) < 0 ||
        (ret = cir_cmaf_live_open_muxer(c, cfg->par)) < 0) {
        goto fail;
    }
    tb = c->oc->streams[0]->time_base;
    c->writer_tb = tb;
    c->part_target_us = cfg->part_target_us;
    c->segment_target_us = (int64_t)(cfg->segment_seconds * 1e6 + 0.5);
    c->target_duration = cfg->target_duration;
    cir_cmaf_live_set_lengths(c);
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
    if ((ret = cir_onair_store_open(&c->store, &wcfg)) < 0) {
        cir_log_error(&c->log, "live store %s: %s", cfg->dir,
                      cir_strerror(ret));
        goto fail;
    }
    c->keys = cfg->keys;
    if ((ret = cir_cmaf_live_crypt_open(c, cfg->enc, cfg->par)) < 0) {
        goto fail;
    }
    /* an outage's media (cmaf_live_outage.c); an encrypted video's last
     * picture is ciphertext under its own segment's IVs: GAP segments */
    cir_buf_init(&c->picture, (size_t)16 << 20);
    if ((c->dir = strdup(cfg->dir)) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if (c->is_video && c->cenc == NULL) {
        cir_onair_store_set_outage_filler(c->store, cir_cmaf_live_fill_picture,
                                          c);
    } else if (!c->is_video && cfg->par->codec_id == AV_CODEC_ID_AAC) {
        cir_onair_store_set_outage_filler(c->store, cir_cmaf_live_fill_silence,
                                          c);
    }
    *out = c;
    return 0;

fail:
    cir_cmaf_live_free(&c);
    return ret;
}

/* The longest recent dts step, capped at 15 % of the part target: a part
 * closed because the next sample would likely overflow it is then at
 * least 85 % of the target. */
int64_t
cir_cmaf_live_step_estimate(const cir_cmaf_live_t *c)
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
               : cir_cmaf_live_step_estimate(c);
}

/* Half the usual sample spacing: a follower cuts at the sample nearest
 * its leader's cut. */
int64_t
cir_cmaf_live_half_step(const cir_cmaf_live_t *c)
{
    int64_t step =
        c->last_end != AV_NOPTS_VALUE && c->last_dts != AV_NOPTS_VALUE
            ? c->last_end - c->last_dts
            : 0;

    return FFMAX(step, c->frame_duration) / 2;
}

/*
 * How early a keyframe at pts may come and still cut: half the GOP it
 * ends, so a segment ends at the keyframe nearest the target (this one, or
 * the next, a GOP later).  A live encoder's GOP is not exact: GStreamer's
 * x264enc and flvmux stamp the first frames bunched (a first GOP of 1.77
 * to 1.99 s for a 2 s interval), and a keyframe just short of a 2 s target
 * would double the segment and the target duration decided from it.
 * Keyframes every 0.77 s still make segments of three GOPs (2.31 s is
 * nearer 2 s than 1.54 s); every frame a keyframe: half a frame.
 */
static int64_t
gop_slack(const cir_cmaf_live_t *c, int64_t pts)
{
    int64_t gop;

    if (!c->is_video || c->last_key_pts == AV_NOPTS_VALUE) {
        return c->tolerance;
    }
    gop = pts - c->last_key_pts;
    if (gop <= 0 || gop > c->seg_limit) {
        return c->tolerance; /* another timeline's keyframe */
    }
    return FFMAX(gop / 2, c->tolerance);
}

/*
 * A segment is due at a keyframe past the target, or for a follower (audio
 * next to video) at the leader's cut, so segment numbers mean the same
 * times in every rendition.  Any sample cuts a segment about to outgrow
 * the stream's target duration (a follower whose leader stalls, or a
 * source whose keyframes come further apart than when the target was
 * decided).
 *
 * The keyframe's distance is counted in presentation time: with B-frames
 * a keyframe's DTS runs ahead of its PTS by the reorder delay, except at
 * the stream's start, where publishers that do not shift the timeline
 * (GStreamer's flvmux) send the first keyframe with DTS = PTS.  Counted in
 * DTS the next keyframe, 2 s later, would be 1.93 s in and missed: a first
 * segment of two GOPs, and a target duration decided from it twice as
 * long as asked.  And a keyframe a little early still cuts (gop_slack).
 */
static int
segment_due(const cir_cmaf_live_t *c, const AVPacket *pkt, int key)
{
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;

    if (pkt->dts - c->seg_start + cir_cmaf_live_step_estimate(c) >
        c->seg_limit) {
        return 1;
    }
    if (c->follower) {
        return c->next_cut != AV_NOPTS_VALUE &&
               pkt->dts >= c->next_cut - cir_cmaf_live_half_step(c);
    }
    return key && pts - c->seg_start_pts >= c->seg_len - gop_slack(c, pts);
}

/* Where the segment opening with pkt starts. */
static void
mark_segment_start(cir_cmaf_live_t *c, const AVPacket *pkt)
{
    c->seg_start = pkt->dts;
    c->seg_start_pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
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
    if ((ret = cir_onair_store_set_target_duration(c->store, td)) < 0) {
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

int
cir_cmaf_live_set_closed_captions(cir_cmaf_live_t *c)
{
    int ret = cir_onair_store_set_closed_captions(c->store);

    if (ret == 1) {
        cir_log_info(&c->log, "the video carries closed captions (CC1)");
    }
    return ret < 0 ? ret : 0;
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
        h->duration = FFMAX(cir_cmaf_live_step_estimate(c), 1);
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
        ret = cir_cmaf_live_flush(c, c->last_end, 1);
    } else {
        ret = cir_onair_store_end_segment(c->store);
    }
    c->seg_open = 0;
    return ret;
}

/*
 * Where the held video sample ends, given the next one's DTS: there, or
 * the open part's end at PART-TARGET when the held sample would overflow
 * the part and ending the part before it would leave it under 85 % of the
 * target (a step longer than the 15 % left: GStreamer's flvmux sends a
 * repeated DTS, then a double step).  The next sample's DTS is then moved
 * back to the part's end; its PTS stays (a larger composition offset), so
 * what is shown, and when, does not change.
 */
static int64_t
part_boundary(const cir_cmaf_live_t *c, int64_t next)
{
    int64_t end = c->part_start + c->part_len;

    if (!c->is_video || !c->has_held || !c->part_open || c->held_starts ||
        next <= end || end <= c->held->dts ||
        c->held->dts - c->part_start >= c->part_len * 85 / 100) {
        return next;
    }
    return end;
}

/* Muxes one sample (pkt: muxer timescale; a view or refcounted, taken
 * over): opens, cuts, or joins a part.  1: a segment started. */
int
cir_cmaf_live_write_sample(cir_cmaf_live_t *c, AVPacket *pkt, int key)
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
            cir_cmaf_live_follow_after_break(c, pkt->dts);
        } else {
            c->next_cut = AV_NOPTS_VALUE;
        }
        if ((ret = cir_cmaf_live_crypt_segment(c)) < 0) {
            return ret;
        }
        c->seg_open = 1;
        mark_segment_start(c, pkt);
        c->nb_segments++;
        c->held_starts = 1;
        cut = 1;
    } else {
        pkt->dts = part_boundary(c, pkt->dts);
        if ((ret = mux_held(c, pkt->dts)) < 0) {
            return ret;
        }
        if (segment_due(c, pkt, key)) {
            if (c->nb_segments == 1 && (ret = decide_target(c, pkt->dts)) < 0) {
                return ret;
            }
            if (c->part_open) {
                ret = cir_cmaf_live_flush(c, pkt->dts, 1);
            } else {
                ret = cir_onair_store_end_segment(c->store);
            }
            if (ret < 0 || (ret = cir_cmaf_live_crypt_segment(c)) < 0) {
                return ret;
            }
            mark_segment_start(c, pkt);
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
    if (key && c->is_video) {
        c->last_key_pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    }
    /* held past this call: a view of the caller's memory (the RTMP
     * reader's buffer) becomes a copy; a refcounted one stays a reference */
    if (av_packet_make_refcounted(pkt) < 0) {
        return CIR_ENOMEM;
    }
    av_packet_move_ref(c->held, pkt);
    c->has_held = 1;
    return cut;
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
        ret = cir_cmaf_live_wait_for_leader(c, pkt);
    } else {
        ret = cir_cmaf_live_write_sample(c, pkt, key);
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
    at = start + c->part_len - 2 * cir_cmaf_live_step_estimate(c) -
         (c->last_end - c->last_dts);
    if (c->follower && c->next_cut != AV_NOPTS_VALUE && c->next_cut < at) {
        at = c->next_cut - cir_cmaf_live_half_step(c);
    }
    return av_rescale_q(at, c->oc->streams[0]->time_base, AV_TIME_BASE_Q);
}

int
cir_cmaf_live_reconfigure(cir_cmaf_live_t *c, const AVCodecParameters *par)
{
    AVRational tb = c->oc->streams[0]->time_base;
    int ret;

    if ((ret = cir_cmaf_live_end_waiting(c)) < 0 ||
        (ret = close_segment(c)) < 0) {
        return ret;
    }
    cir_cmaf_live_close_muxer(c);
    avio_flush(c->pb);
    cir_cmaf_live_out_reset(c); /* nothing is pending after the flush */
    if ((ret = cir_cmaf_live_open_muxer(c, par)) < 0 ||
        (ret = cir_cmaf_live_crypt_reconfigure(c, par)) < 0) {
        return ret;
    }
    cir_cmaf_live_change_timescale(c, tb);
    cir_cmaf_live_rewait_after_break(c);
    /* put_init of the new header marks the discontinuity */
    return 0;
}

int
cir_cmaf_live_discontinuity(cir_cmaf_live_t *c, int64_t leader_end_us)
{
    int ret;

    /* no hint past the break: the next number may go to an outage's GAP
     * segment, and a hinted part must be the one added later */
    cir_live_writer_pause(cir_onair_store_writer(c->store));
    if ((ret = cir_cmaf_live_end_waiting(c)) < 0 ||
        (ret = close_segment(c)) < 0 ||
        (ret = cir_cmaf_live_gap_to_leader(c, leader_end_us)) < 0) {
        return ret;
    }
    cir_cmaf_live_rewait_after_break(c);
    return cir_live_writer_discontinuity(cir_onair_store_writer(c->store));
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

    if ((ret = cir_live_writer_set_anchor(cir_onair_store_writer(c->store),
                                          wall_us, media_us)) < 0) {
        return ret;
    }
    return cir_live_writer_fill_outage(cir_onair_store_writer(c->store), gaps,
                                       hole_us);
}

int
cir_cmaf_live_finish(cir_cmaf_live_t *c)
{
    int ret;

    /* a leader that never started: the follower's samples alone */
    if ((ret = cir_cmaf_live_release_waiting(c, 1)) < 0 ||
        (ret = mux_held(c, AV_NOPTS_VALUE)) < 0) {
        return ret;
    }
    if (c->part_open && (ret = flush_part(c, c->last_end)) < 0) {
        return ret;
    }
    return cir_onair_store_finish(c->store);
}

uint64_t
cir_cmaf_live_dropped(const cir_cmaf_live_t *c)
{
    return c->dropped;
}

const cir_live_index_t *
cir_cmaf_live_index(const cir_cmaf_live_t *c)
{
    return cir_live_writer_index(cir_onair_store_writer(c->store));
}

void
cir_cmaf_live_free(cir_cmaf_live_t **cp)
{
    cir_cmaf_live_t *c = *cp;

    if (c == NULL) {
        return;
    }
    cir_cmaf_live_close_muxer(c);
    if (c->pb != NULL) {
        av_freep(&c->pb->buffer);
        avio_context_free(&c->pb);
    }
    cir_buf_free(&c->out);
    cir_cmaf_live_crypt_free(c);
    cir_onair_store_close(&c->store);
    cir_onair_silence_close(&c->silence);
    cir_buf_free(&c->picture);
    free(c->dir);
    av_packet_free(&c->pkt);
    av_packet_free(&c->held);
    for (int i = 0; i < WAIT_MAX; i++) {
        av_packet_free(&c->wait[i]);
    }
    free(c);
    *cp = NULL;
}
