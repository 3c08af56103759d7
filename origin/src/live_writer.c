/*
 * The live writer: the window and index policy of one rendition's live
 * store (see cir_live.h).  It keeps the index in memory and decides what
 * the store must become (which segment file a part goes to and where, which
 * init file comes next, which index version is published, which segment
 * files are removed and when); it never touches a file.  The file adapter
 * (transcoder/src/live_store.c) performs those decisions in the order
 * cir_live.h gives, and documents how the files are written: media bytes
 * before the index that lists them, a part one write appended to its
 * segment file, the index swapped in whole (never a torn `index`), nothing
 * fsynced.
 *
 * Choices the header leaves open:
 * - PDT: anchored when a segment opens after the stream start, an init
 *   change, a discontinuity or a timestamp jump: at the stream's anchor
 *   when one was set (cir_live_writer_set_anchor: the same for every
 *   rendition, so PDT agrees across them), else at the wall clock of that
 *   moment minus the duration of the first part (its first sample was
 *   captured one part ago); later segments follow the media timeline from
 *   the anchor, so PDT steps match EXTINF exactly and never drift.
 * - PDT never steps back: an anchor before the end of the previous
 *   segment moves to that end, one that would put media time 0 before
 *   started_us moves to where it does not.
 * - started_us is the wall clock at writer open (DASH availabilityStartTime),
 *   kept when an index is resumed; run_pdt_us/run_start follow segments[0]'s
 *   run (see cir_live.h).
 * - put_init with a segment open closes that segment first.
 * - Reopening a folder that holds an index resumes its numbering: the old
 *   segments leave the index (their files stay), msn, init and
 *   discontinuity numbering continue, the next segment starts with a
 *   discontinuity: MEDIA-SEQUENCE never goes back, no URL is reused.
 * - Parts leave the playlist (nb_parts -> nb_kept) on the index write
 *   after which cir_live_parts_listed no longer lists them; the records of
 *   its parts (their byte ranges) go 3 target durations of media later, and
 *   a segment leaves the index only after that (so a window of few short
 *   segments lists a few more).  A segment's file goes one window (window x
 *   segment_target of media) after it left the index (live_window.c).
 *   Pending deletions are not carried over a close.
 * - Nothing is published (no index written) until the stream's target
 *   duration is known: a stream's leader decides it when its first segment
 *   closes (cir_live_writer_set_target_duration), or finish does.
 * - Init segments are never deleted (tiny, and old DVR segments may need
 *   them).
 * - A follower's GAP segment (cir_live_writer_put_gap_segment) is held and
 *   listed with the next segment (a playlist never ends with a GAP while
 *   its publisher is away), or dropped when the stream ends before one.
 * - An outage (cir_live_writer_fill_outage): its GAP segments open the new
 *   run (the discontinuity is on the first) and sit on the new run's media
 *   timeline just before its first segment, so a DASH Period starts where
 *   the one before ended and its first segment at its own wall clock, as
 *   without them.
 * - A part whose bytes could not be written: the segment it opened goes
 *   (as if never opened when its file could not be created); a part of a
 *   segment already open leaves the segment as it was.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_live.h"
#include "live_util.h"
#include "live_window.h"

#define SEGMENT_MAX_BYTES ((uint64_t)256 << 20)

/* Key records before the one the oldest segment (or held GAP) needs. */
static void
drop_unused_keys(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    uint32_t oldest = x->nb_segments > 0 ? x->segments[0].init_id : x->init_id;
    size_t n = 0;

    if (w->held_gap.pending && w->held_gap.init_id < oldest) {
        oldest = w->held_gap.init_id;
    }
    while (n + 1 < x->nb_keys && x->keys[n + 1].from_init <= oldest) {
        n++;
    }
    if (n > 0) {
        memmove(x->keys, x->keys + n, (x->nb_keys - n) * sizeof(*x->keys));
        x->nb_keys -= n;
    }
}

int
cir_live_writer_next_index(cir_live_writer_t *w, const void **data, size_t *len)
{
    int ret;

    *data = NULL;
    *len = 0;
    if (w->idx.target_duration == 0) {
        return 0; /* held back until the stream's target duration is known */
    }
    drop_unused_keys(w);
    w->idx.version++;
    w->idx.updated_us = cir_clock_wall_us(w->clock);
    cir_buf_reset(&w->enc);
    if ((ret = cir_live_index_encode(&w->idx, &w->enc)) < 0) {
        return ret;
    }
    *data = w->enc.data;
    *len = w->enc.len;
    return 0;
}

int
cir_live_writer_take_removal(cir_live_writer_t *w, uint64_t *msn)
{
    if (w == NULL || w->nb_gone == 0) {
        return 0;
    }
    *msn = w->gone[0];
    memmove(w->gone, w->gone + 1, (w->nb_gone - 1) * sizeof(*w->gone));
    w->nb_gone--;
    return 1;
}

void
cir_live_writer_segments_due(cir_live_writer_t *w)
{
    /* only now is nothing that goes listed any more */
    cir_live_window_run_deletions(w, 1);
}

/* ---- public ---- */

int
cir_live_writer_resume(cir_live_writer_t *w, const cir_live_index_t *old)
{
    uint32_t flags = 0;
    size_t i;

    if (old->nb_segments == 0) {
        return 0;
    }
    /* The old segments go (as if they left the window): MEDIA-SEQUENCE
     * continues after them, and no URL a CDN may have cached is reused
     * for other bytes. */
    for (i = 0; i < old->nb_segments; i++) {
        flags += old->segments[i].discontinuity;
    }
    w->idx.discontinuity_sequence = old->discontinuity_sequence + flags;
    w->idx.init_id = old->init_id;
    w->idx.started_us = old->started_us;
    w->idx.version = old->version;
    w->next_msn = old->segments[old->nb_segments - 1].msn + 1;
    w->written_any = 1;
    w->pending_disc = 1;
    return 0;
}

int
cir_live_writer_open(cir_live_writer_t **wp, const cir_live_writer_config_t *c)
{
    cir_live_writer_t *w = NULL;

    if (wp == NULL || c == NULL) {
        return CIR_EINVAL;
    }
    *wp = NULL;
    if (c->timescale == 0 || c->segment_target <= 0 || c->part_target < 0 ||
        c->part_target > c->segment_target || c->part_target_us < 0 ||
        c->target_duration > 3600 || c->window < 3 ||
        c->window >= CIR_LIVE_MAX_SEGMENTS) {
        return CIR_EINVAL;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        return CIR_ENOMEM;
    }
    w->clock = c->clock ? c->clock : cir_clock_system();
    w->idx.track = c->track;
    w->idx.track.rendition[sizeof(w->idx.track.rendition) - 1] = '\0';
    w->idx.track.codecs[sizeof(w->idx.track.codecs) - 1] = '\0';
    w->idx.timescale = c->timescale;
    w->idx.segment_target = c->segment_target;
    w->idx.part_target = c->part_target;
    w->idx.part_target_us = c->part_target_us;
    w->idx.target_duration = c->target_duration;
    w->idx.window = c->window;
    w->idx.started_us = cir_clock_wall_us(w->clock);
    cir_buf_init(&w->enc, CIR_LIVE_INDEX_MAX_SIZE);
    if (cir_live_index_check(&w->idx) < 0) {
        cir_live_writer_close(&w);
        return CIR_EINVAL;
    }
    *wp = w;
    return 0;
}

int
cir_live_writer_has_open_segment(const cir_live_writer_t *w)
{
    return w != NULL && cir_live_open_segment(&w->idx) != NULL;
}

uint64_t
cir_live_writer_next_msn(const cir_live_writer_t *w)
{
    return w->next_msn;
}

int
cir_live_writer_begin_init(const cir_live_writer_t *w, size_t len)
{
    if (w == NULL || len == 0 || w->idx.ended) {
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_live_writer_next_init(const cir_live_writer_t *w, uint32_t *id)
{
    if (w->idx.init_id == UINT32_MAX) {
        return CIR_ELIMIT;
    }
    *id = w->idx.init_id + 1;
    return 0;
}

void
cir_live_writer_init_written(cir_live_writer_t *w)
{
    const cir_live_index_t *x = &w->idx;
    int was_pending = w->pending_disc;

    if (++w->idx.init_id > 1 || w->written_any) {
        w->pending_disc = 1;
    }
    /* an init for a new key (set_key just before) and nothing else */
    if (!was_pending && w->pending_disc && x->nb_keys > 0 &&
        x->keys[x->nb_keys - 1].from_init == x->init_id) {
        w->key_disc = 1;
    }
}

/* The newest segment with media (not a GAP segment), or NULL. */
static const cir_live_segment_t *
last_media(const cir_live_index_t *x)
{
    for (size_t i = x->nb_segments; i > 0; i--) {
        if (!x->segments[i - 1].gap) {
            return &x->segments[i - 1];
        }
    }
    return NULL;
}

/* Where a segment opening at start is anchored (see the top). */
static void
anchor(cir_live_writer_t *w, int64_t start, int64_t first_duration)
{
    cir_live_index_t *x = &w->idx;
    const cir_live_segment_t *p;
    int64_t now = cir_clock_wall_us(w->clock);
    uint32_t ts = x->timescale;

    w->anchored = 1;
    w->anchor_media = start;
    if (w->stream_wall_us != 0) {
        /* the stream's: every rendition's PDT is the same function of
         * media time (RFC 8216bis 6.2.4) */
        w->anchor_wall = w->stream_wall_us +
                         (cir_live_ts_to_us(start, ts) - w->stream_media_us);
    } else {
        w->anchor_wall = now - first_duration * 1000000 / x->timescale;
    }
    if (w->anchor_wall < x->started_us + cir_live_ts_to_us(start, ts)) {
        /* media time 0 is not before the stream started (a publisher
         * that bursts): a DASH Period never starts before
         * availabilityStartTime */
        w->anchor_wall = x->started_us + cir_live_ts_to_us(start, ts);
    }
    if ((p = last_media(x)) != NULL) {
        /* PDT never steps back: a DASH Period starts at it, after the
         * one before has ended (an outage's GAP segments aside: no
         * media, the stream's clock places them) */
        int64_t end = p->pdt_us + cir_live_ts_to_us(p->duration, x->timescale);
        if (w->anchor_wall < end) {
            w->anchor_wall = end;
        }
    }
}

/* The program date-time of a segment opening at start, anchored anew
 * where it does not continue the one before (see the top). */
static int64_t
pdt_at(cir_live_writer_t *w, int64_t start, int64_t first_duration)
{
    uint32_t ts = w->idx.timescale;

    if ((w->pending_disc && !w->key_disc) || !w->anchored ||
        start != w->last_end) {
        anchor(w, start, first_duration);
    }
    /* exact: (start - anchor) / ts seconds, in microseconds */
    return w->anchor_wall + (start - w->anchor_media) / ts * 1000000 +
           (start - w->anchor_media) % ts * 1000000 / ts;
}

/* What add_segment changes before the segment's file exists, the
 * writer's and the index's fields: saved, and restored when that file
 * cannot be created (cir_live_writer_abort_part). */
#define OPENING_OF_WRITER(X) \
    X(anchored)              \
    X(pending_disc) X(written_any) X(key_disc) X(anchor_wall) X(anchor_media)
#define OPENING_OF_INDEX(X) X(paused) X(run_pdt_us) X(run_start) X(run_after_us)
#define SAVE_W(f)           w->opening.f = w->f;
#define SAVE_I(f)           w->opening.f = w->idx.f;
#define RESTORE_W(f)        w->f = w->opening.f;
#define RESTORE_I(f)        w->idx.f = w->opening.f;

static void
save_opening(cir_live_writer_t *w)
{
    OPENING_OF_WRITER(SAVE_W)
    OPENING_OF_INDEX(SAVE_I)
}

static void
restore_opening(cir_live_writer_t *w)
{
    OPENING_OF_WRITER(RESTORE_W)
    OPENING_OF_INDEX(RESTORE_I)
}

/* A new segment record at start (a media segment when with_file: its
 * file, seg-<msn>.m4s, is the adapter's to create; a GAP segment has
 * none). */
static int
add_segment(cir_live_writer_t *w, int64_t start, int64_t first_duration,
            int with_file)
{
    cir_live_index_t *x = &w->idx;
    cir_live_segment_t *s;
    int ret;

    ret = cir_live_grow((void **)&x->segments, &w->seg_cap, x->nb_segments + 1,
                        sizeof(*x->segments), CIR_LIVE_MAX_SEGMENTS);
    if (ret < 0) {
        return ret;
    }
    save_opening(w);
    s = &x->segments[x->nb_segments];
    memset(s, 0, sizeof(*s));
    s->msn = w->next_msn;
    s->start = start;
    s->pdt_us = pdt_at(w, start, first_duration);
    s->init_id = x->init_id;
    s->discontinuity = (uint8_t)(w->pending_disc && w->written_any);
    if (w->outage_left > 0) {
        s->outage = 1; /* take_outage's */
        w->outage_left--;
    }
    if (with_file && !w->pause_held) {
        x->paused = 0; /* media again: its next part is hinted */
    }
    if (x->nb_segments == 0) {
        cir_live_window_set_run(x, s, NULL);
    }
    s->first_part = (uint32_t)x->nb_parts;
    x->nb_segments++;
    w->pending_disc = 0;
    w->key_disc = 0;
    w->written_any = 1;
    w->next_msn++;
    return 0;
}

/* The pure half of a segment's end, its file being whole: complete,
 * part records due dropped, the window slid. */
static int
close_segment(cir_live_writer_t *w, cir_live_segment_t *s)
{
    s->size = w->open_len;
    s->complete = 1;
    w->open_len = 0;
    cir_live_window_run_deletions(w, 0);
    cir_live_window_age_and_slide(w);
    return 0;
}

int
cir_live_writer_close_segment(cir_live_writer_t *w)
{
    cir_live_segment_t *s;

    if (w == NULL) {
        return CIR_EINVAL;
    }
    s = (cir_live_segment_t *)cir_live_open_segment(&w->idx);
    if (s == NULL) {
        return CIR_EINVAL; /* nothing open */
    }
    return close_segment(w, s);
}

/* A GAP segment record (no file, no parts), complete at once; closed as
 * a segment now (published: the adapter writes the index), or slid with
 * the next index write. */
static int
add_gap_segment(cir_live_writer_t *w, int64_t start, int64_t duration,
                int publish)
{
    cir_live_index_t *x = &w->idx;
    cir_live_segment_t *s;
    int ret;

    if ((ret = add_segment(w, start, duration, 0)) < 0) {
        return ret;
    }
    s = &x->segments[x->nb_segments - 1];
    s->gap = 1;
    s->duration = duration;
    w->last_end = start + duration;
    w->elapsed += duration;
    if (publish) {
        return close_segment(w, s);
    }
    s->complete = 1;
    cir_live_window_age_and_slide(w);
    return 0;
}

/* The held GAP segment (put_gap_segment) into the index, as it was when
 * put: on the timeline before the break (no discontinuity of its own, the
 * init and program date-time of then). */
static int
put_held_gap(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    int disc = w->pending_disc, ret;

    if (!w->held_gap.pending) {
        return 0;
    }
    w->held_gap.pending = 0;
    w->pending_disc = 0;
    ret = add_gap_segment(w, w->held_gap.start, w->held_gap.duration, 0);
    w->pending_disc = disc;
    if (ret == 0) {
        cir_live_segment_t *s = &x->segments[x->nb_segments - 1];
        s->init_id = w->held_gap.init_id;
        /* its time then: the stream's anchor may be the next timeline's */
        s->pdt_us = w->held_gap.pdt_us;
    }
    return ret;
}

int
cir_live_writer_put_gap_segment(cir_live_writer_t *w, int64_t start,
                                int64_t duration)
{
    cir_live_index_t *x;
    int ret;

    if (w == NULL) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    if (x->ended || x->init_id == 0 || cir_live_open_segment(x) != NULL ||
        start < 0 || duration <= 0 || duration > x->segment_target * 4) {
        return CIR_EINVAL;
    }
    if ((ret = put_held_gap(w)) < 0) {
        return ret;
    }
    /* held until the next segment opens: listed now, it would end the
     * playlist for as long as the publisher is away, and Shaka Player
     * stops (1011 SEGMENT_MISSING) on a GAP with nothing after it */
    w->held_gap.pending = 1;
    w->held_gap.start = start;
    w->held_gap.duration = duration;
    w->held_gap.init_id = x->init_id;
    w->held_gap.pdt_us = pdt_at(w, start, duration);
    return 0;
}

/*
 * The outage's GAP segments (fill_outage), put when the new timeline's
 * first media segment opens, so that both are published together (a
 * player reaching GAP segments with nothing after them yet takes it as
 * an error): on the new timeline's media clock (the stream's anchor),
 * media time [M - hole, M) in equal parts, M the anchor's media time, so
 * they have the same times and PDT in every rendition; from media time 0
 * at the earliest (a stream younger than its outage: shorter), at most a
 * window of segments (the newest of a longer one).  The segment then
 * opens anchored anew, at its own PDT.  outage_span: where they go
 * (0: none pending); a rendition that fills them with media takes them
 * (cir_live_writer_take_outage) before its next part.
 */
static int
outage_span(const cir_live_writer_t *w, uint32_t *count, int64_t *from,
            int64_t *to)
{
    const cir_live_index_t *x = &w->idx;
    uint32_t n = w->gaps_pending;
    int64_t a, b;

    if (n == 0 || !w->pending_disc || x->nb_segments == 0 ||
        w->stream_wall_us == 0) {
        return 0;
    }
    b = cir_live_us_to_ts(w->stream_media_us, x->timescale);
    a = b - cir_live_us_to_ts(w->gaps_hole_us, x->timescale);
    if (n > x->window) {
        /* older ones would leave the window at once: the newest of it */
        int64_t newest = b - (int64_t)x->window * x->segment_target;
        n = x->window;
        a = a > newest ? a : newest;
    }
    a = a < 0 ? 0 : a;
    if (b - a < (int64_t)n) {
        return 0;
    }
    *count = n;
    *from = a;
    *to = b;
    return 1;
}

static int
put_outage_gaps(cir_live_writer_t *w)
{
    uint32_t count, k;
    int64_t to, from;
    int ret;

    ret = outage_span(w, &count, &from, &to);
    w->gaps_pending = 0;
    if (ret == 0) {
        return 0;
    }
    for (k = 0; k < count; k++) {
        int64_t a = from + (to - from) * k / count;
        int64_t b = from + (to - from) * (k + 1) / count;
        if ((ret = add_gap_segment(w, a, b - a, 0)) < 0) {
            return ret;
        }
    }
    w->anchored = 0;
    return 0;
}

/* Where a rendition's media over the outage can begin: its first segment's
 * PDT may not step back before the end of its media (anchor()), and this
 * rendition's may have run past where the stream's timeline broke (an
 * audio frame beyond the video's end): it begins that much later, but
 * within its first segment. */
static int64_t
outage_begin(const cir_live_writer_t *w, uint32_t count, int64_t from,
             int64_t to)
{
    const cir_live_index_t *x = &w->idx;
    const cir_live_segment_t *p = last_media(x);
    int64_t at, end, shift;

    if (p == NULL) {
        return from;
    }
    at = w->stream_wall_us +
         (cir_live_ts_to_us(from, x->timescale) - w->stream_media_us);
    end = p->pdt_us + cir_live_ts_to_us(p->duration, x->timescale);
    shift = end > at ? cir_live_us_to_ts(end - at, x->timescale) : 0;
    return shift < (to - from) / count ? from + shift : from;
}

int
cir_live_writer_take_outage(cir_live_writer_t *w, uint32_t *count,
                            int64_t *from, int64_t *to, int64_t *begin)
{
    int ret;

    if (w == NULL || count == NULL || from == NULL || to == NULL ||
        begin == NULL || cir_live_open_segment(&w->idx) != NULL) {
        return CIR_EINVAL;
    }
    if ((ret = put_held_gap(w)) < 0) {
        return ret;
    }
    ret = outage_span(w, count, from, to);
    w->gaps_pending = 0;
    if (ret == 1) {
        *begin = outage_begin(w, *count, *from, *to);
        w->outage_left = *count;
    }
    return ret;
}

int
cir_live_writer_put_outage_gap(cir_live_writer_t *w, int64_t start,
                               int64_t duration)
{
    int ret;

    if (w == NULL || cir_live_open_segment(&w->idx) != NULL || start < 0 ||
        duration <= 0 || duration > w->idx.segment_target * 4) {
        return CIR_EINVAL;
    }
    ret = add_gap_segment(w, start, duration, 0);
    w->anchored = 0;
    return ret;
}

/* Undoes the segment the part just opened: fully (its file was never
 * created), or its record and number only (its bytes could not be
 * written). */
static void
undo_opening(cir_live_writer_t *w, int file_created)
{
    w->idx.nb_segments--;
    w->next_msn--;
    if (w->idx.segments[w->idx.nb_segments].outage) {
        w->outage_left++; /* the retry opens it again, still the outage's */
    }
    if (!file_created) {
        restore_opening(w);
    }
}

int
cir_live_writer_begin_part(cir_live_writer_t *w, size_t len, int64_t start,
                           int64_t duration, cir_live_part_plan_t *plan)
{
    cir_live_index_t *x;
    cir_live_segment_t *s;
    int ret;

    if (w == NULL || plan == NULL || len == 0) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    if (x->ended || x->init_id == 0 || start < 0 || duration <= 0 ||
        duration > x->segment_target * 4 || len > UINT32_MAX) {
        return CIR_EINVAL;
    }
    memset(plan, 0, sizeof(*plan));
    s = (cir_live_segment_t *)cir_live_open_segment(x);
    if (s != NULL && (s->nb_parts >= CIR_LIVE_MAX_PARTS ||
                      w->open_len + len > SEGMENT_MAX_BYTES)) {
        return CIR_ELIMIT;
    }
    if (s == NULL) {
        if ((ret = put_held_gap(w)) < 0 || (ret = put_outage_gaps(w)) < 0 ||
            (ret = add_segment(w, start, duration, 1)) < 0) {
            return ret;
        }
        plan->opens = 1;
    }
    s = &x->segments[x->nb_segments - 1];
    ret = cir_live_grow((void **)&x->parts, &w->part_cap, x->nb_parts + 1,
                        sizeof(*x->parts),
                        (size_t)CIR_LIVE_MAX_SEGMENTS * CIR_LIVE_MAX_PARTS);
    if (ret < 0) {
        if (plan->opens) {
            undo_opening(w, 1);
        }
        return ret;
    }
    plan->msn = s->msn;
    plan->offset = w->open_len;
    return 0;
}

void
cir_live_writer_abort_part(cir_live_writer_t *w,
                           const cir_live_part_plan_t *plan, int file_created)
{
    if (w != NULL && plan != NULL && plan->opens) {
        undo_opening(w, file_created);
    }
}

void
cir_live_writer_commit_part(cir_live_writer_t *w, size_t len, int64_t start,
                            int64_t duration, int independent, int last)
{
    cir_live_index_t *x = &w->idx;
    cir_live_segment_t *s = &x->segments[x->nb_segments - 1];
    cir_live_part_t *p;

    w->open_len += len;
    p = &x->parts[x->nb_parts++];
    p->duration = duration;
    p->size = (uint32_t)len;
    p->independent = independent ? 1 : 0;
    p->gap = 0;
    s->nb_parts++;
    s->duration += duration;
    w->last_end = start + duration;
    w->elapsed += duration;
    if (!last) {
        cir_live_window_unlist_parts(w);
        cir_live_window_compact_parts(w);
    }
}

int
cir_live_writer_set_key(cir_live_writer_t *w, const cir_live_key_t *key)
{
    cir_live_index_t *x;
    cir_live_key_t *k;
    int ret;

    if (w == NULL || key == NULL || w->idx.init_id == UINT32_MAX) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    /* a key set again before its init was written replaces that one */
    if (x->nb_keys > 0 && x->keys[x->nb_keys - 1].from_init > x->init_id) {
        x->nb_keys--;
    }
    drop_unused_keys(w);
    if (x->nb_keys == CIR_LIVE_MAX_KEYS) {
        return CIR_ELIMIT; /* a window of more crypto periods than that */
    }
    if ((ret = cir_live_grow((void **)&x->keys, &w->key_cap, x->nb_keys + 1,
                             sizeof(*x->keys), CIR_LIVE_MAX_KEYS)) < 0) {
        return ret;
    }
    k = &x->keys[x->nb_keys];
    *k = *key;
    k->from_init = x->init_id + 1;
    k->fairplay_key_uri[sizeof(k->fairplay_key_uri) - 1] = '\0';
    x->nb_keys++;
    if (cir_live_index_check(x) < 0) {
        x->nb_keys--;
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_live_writer_set_closed_captions(cir_live_writer_t *w)
{
    if (w == NULL || w->idx.track.kind != CIR_LIVE_VIDEO) {
        return CIR_EINVAL;
    }
    if (w->idx.track.closed_captions) {
        return 0;
    }
    w->idx.track.closed_captions = 1;
    return 1;
}

int
cir_live_writer_set_target_duration(cir_live_writer_t *w, uint32_t td)
{
    if (w == NULL || td == 0 || td > 3600 ||
        (w->idx.target_duration != 0 && w->idx.target_duration != td)) {
        return CIR_EINVAL;
    }
    if (w->idx.target_duration == td) {
        return 0;
    }
    w->idx.target_duration = td;
    cir_live_window_unlist_parts(w);
    cir_live_window_compact_parts(w);
    return 1;
}

int
cir_live_writer_discontinuity(cir_live_writer_t *w)
{
    if (w == NULL) {
        return CIR_EINVAL;
    }
    w->pending_disc = 1;
    w->key_disc = 0;   /* a break: anchored anew */
    w->pause_held = 0; /* the next timeline's first segment ends the pause */
    return 0;
}

void
cir_live_writer_pause(cir_live_writer_t *w)
{
    if (w != NULL) {
        w->idx.paused = 1;
        w->pause_held = 1;
    }
}

int
cir_live_writer_fill_outage(cir_live_writer_t *w, uint32_t count,
                            int64_t hole_us)
{
    if (w == NULL) {
        return CIR_EINVAL;
    }
    w->gaps_pending = hole_us > 0 ? count : 0;
    w->gaps_hole_us = hole_us;
    return 0;
}

int
cir_live_writer_set_anchor(cir_live_writer_t *w, int64_t wall_us,
                           int64_t media_us)
{
    cir_live_index_t *x;

    if (w == NULL || wall_us <= 0 || media_us >= wall_us) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    w->stream_wall_us = wall_us;
    w->stream_media_us = media_us;
    if (!w->written_any && wall_us - media_us < x->started_us) {
        /* a rendition that opened after the stream's media time 0 (a rung
         * started at the first decoded frame) starts with the stream: its
         * PDT is not moved past started_us, and availabilityStartTime (the
         * renditions' earliest) stays */
        x->started_us = wall_us - media_us;
    }
    return 0;
}

int
cir_live_writer_finish(cir_live_writer_t *w)
{
    cir_live_index_t *x;

    if (w == NULL || cir_live_open_segment(&w->idx) != NULL) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    if (x->ended) {
        return 0;
    }
    /* a held GAP segment would end the playlist: nothing follows it now,
     * and the renditions' last MSNs may differ at the end */
    w->held_gap.pending = 0;
    if (x->target_duration == 0) {
        /* ended before the stream's target was decided: from its media */
        int64_t longest = 0;
        for (size_t i = 0; i < x->nb_segments; i++) {
            if (x->segments[i].duration > longest) {
                longest = x->segments[i].duration;
            }
        }
        x->target_duration = cir_live_decide_target_duration(
            x->segment_target * 1000000 / x->timescale,
            longest * 1000000 / x->timescale);
        cir_live_window_unlist_parts(w);
        cir_live_window_compact_parts(w);
    }
    x->ended = 1;
    return 1;
}

const cir_live_index_t *
cir_live_writer_index(const cir_live_writer_t *w)
{
    return w ? &w->idx : NULL;
}

void
cir_live_writer_close(cir_live_writer_t **wp)
{
    cir_live_writer_t *w;

    if (wp == NULL || *wp == NULL) {
        return;
    }
    w = *wp;
    cir_live_index_free(&w->idx);
    cir_buf_free(&w->enc);
    free(w->del);
    free(w->gone);
    free(w);
    *wp = NULL;
}
