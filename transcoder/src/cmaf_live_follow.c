/*
 * Live CMAF packaging, a follower (see cmaf_live_internal.h): an audio
 * track next to a video one starts and cuts its segments where its leader
 * does, so segment numbers mean the same times in every rendition.  Its
 * first samples (and its first after a break) wait for the leader's
 * start; a segment the leader began that it never reached becomes a GAP
 * segment.
 */
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cmaf_live_internal.h"

/*
 * What a follower does with the leader's cut pending when it opens a
 * segment after a break (new codec parameters, a discontinuity): its first
 * sample after the break starts the segment, none is lost between the end
 * of the old timeline and the leader's new start.  A pending cut within
 * half a segment is the leader's start of this segment (consumed); an
 * older one is stale; with none yet, the leader's start, when it comes
 * (cir_cmaf_live_cut_at), is absorbed.
 */
void
cir_cmaf_live_follow_after_break(cir_cmaf_live_t *c, int64_t dts)
{
    int64_t near = c->seg_len / 2;

    if (c->next_cut == AV_NOPTS_VALUE || c->next_cut < dts - near) {
        c->next_cut = AV_NOPTS_VALUE;
        c->absorb_start = 1;
    } else if (c->next_cut <= dts + near) {
        c->next_cut = AV_NOPTS_VALUE;
    }
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
int
cir_cmaf_live_release_waiting(cir_cmaf_live_t *c, int alone)
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
        if ((ret = cir_cmaf_live_write_sample(c, c->wait[n], 1)) < 0) {
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
int
cir_cmaf_live_wait_for_leader(cir_cmaf_live_t *c, AVPacket *pkt)
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
    return cir_cmaf_live_release_waiting(c, 0);
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
int
cir_cmaf_live_end_waiting(cir_cmaf_live_t *c)
{
    if (c->nb_wait > 0 && c->next_cut == AV_NOPTS_VALUE) {
        drop_waiting(c, c->nb_wait);
    }
    return cir_cmaf_live_release_waiting(c, 0);
}

/* After a break a follower's samples wait for the leader's new start, as
 * at the stream's start: those wholly before it are dropped (counted),
 * the first at or overlapping it opens the segment with the leader's
 * number, so every rendition breaks at the same MSN even when the leader
 * resumes later (a video waiting for its next keyframe).  A leader's cut
 * already known past the old timeline's end is that new start. */
void
cir_cmaf_live_rewait_after_break(cir_cmaf_live_t *c)
{
    if (!c->follower) {
        return;
    }
    if (c->next_cut != AV_NOPTS_VALUE && c->next_cut < c->last_end) {
        c->next_cut = AV_NOPTS_VALUE; /* the old timeline's */
    }
    c->rewait = 1;
}

/*
 * A follower whose leader began a segment it has not reached (its samples
 * after the leader's cut had not come) when the timeline breaks: that
 * segment number gets a GAP segment up to where the leader's ended, so
 * both renditions break at the same MSN.
 */
int
cir_cmaf_live_gap_to_leader(cir_cmaf_live_t *c, int64_t leader_end_us)
{
    AVRational tb = c->oc->streams[0]->time_base;
    int64_t end, ret;

    if (!c->follower || c->next_cut == AV_NOPTS_VALUE ||
        leader_end_us == AV_NOPTS_VALUE || c->seg_open || c->nb_segments == 0) {
        return 0; /* (one not started yet waits for the leader anyway) */
    }
    end = av_rescale_q(leader_end_us, AV_TIME_BASE_Q, tb);
    if (end <= c->next_cut ||
        c->next_cut < c->last_end - cir_cmaf_live_half_step(c)) {
        return 0; /* nothing of the leader's there, or a stale cut */
    }
    ret = cir_onair_store_put_gap_segment(c->store, c->next_cut,
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
