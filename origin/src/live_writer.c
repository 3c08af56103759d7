/*
 * The live writer: keeps one rendition's index in memory and publishes it
 * with the media files in the live store (see cir_live.h).  Every file goes
 * through cir_write_file_atomic_flags() (atomic, not fsynced: a live store
 * is rewritten every part and a crash ends the stream anyway), media before
 * the index that lists it.
 *
 * Choices the header leaves open:
 * - PDT: anchored when a segment opens after the stream start, an init
 *   change, a discontinuity or a timestamp jump, at the wall clock of that
 *   moment minus the duration of the first part (its first sample was
 *   captured one part ago); later segments follow the media timeline from
 *   the anchor, so PDT steps match EXTINF exactly and never drift.
 * - started_us is the wall clock at writer open (DASH availabilityStartTime:
 *   the packager's timestamps are expected to start near 0 then).
 * - put_init with a segment open closes that segment first.
 * - Reopening a folder that holds an index resumes its numbering: the old
 *   segments leave the index (their files stay), msn, init and
 *   discontinuity numbering continue, the next segment starts with a
 *   discontinuity: MEDIA-SEQUENCE never goes back, no URL is reused.
 * - Deletions: a segment's file one window (window x segment_target of
 *   media) after it left the index; parts 3 target durations after they
 *   left it.  Pending deletions are not carried over a close.  Init
 *   segments are never deleted (tiny, and old DVR segments may need them).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cir_error.h"
#include "cir_live.h"
#include "cir_storage.h"
#include "live_util.h"

#define SEGMENT_MAX_BYTES ((size_t)256 << 20)

typedef struct {
    uint64_t msn;
    uint32_t nb_parts; /* part files to remove (segment: 0) */
    uint8_t segment;   /* 1: seg-<msn>.m4s, 0: its parts */
    int64_t due;       /* when elapsed reaches this */
} deletion_t;

struct cir_live_writer {
    char *dir;
    const cir_clock_t *clock;
    cir_live_index_t idx;
    size_t seg_cap, part_cap;
    cir_buf_t open_data; /* the open segment's bytes so far */
    uint64_t next_msn;
    int written_any; /* a segment was ever opened */
    int pending_disc;
    int anchored;
    int64_t anchor_wall, anchor_media, last_end;
    int64_t elapsed; /* media time put so far, timescale units */
    deletion_t *del;
    size_t nb_del, del_cap;
};

enum {
    F_INDEX,
    F_INIT,
    F_PART,
    F_SEG
};

/* <dir>/<name of a live store object>. */
static int
join(const cir_live_writer_t *w, char *out, size_t size, int kind, uint64_t a,
     uint32_t b)
{
    unsigned long long x = (unsigned long long)a;
    int n;

    switch (kind) {
    case F_INDEX:
        n = snprintf(out, size, "%s/index", w->dir);
        break;
    case F_INIT:
        n = snprintf(out, size, "%s/init-%llu.mp4", w->dir, x);
        break;
    case F_PART:
        n = snprintf(out, size, "%s/part-%llu.%u.m4s", w->dir, x, (unsigned)b);
        break;
    default:
        n = snprintf(out, size, "%s/seg-%llu.m4s", w->dir, x);
        break;
    }
    if (n < 0 || (size_t)n >= size) {
        return -ENAMETOOLONG;
    }
    return 0;
}

static int
write_index(cir_live_writer_t *w)
{
    char path[PATH_MAX];
    cir_buf_t b;
    int ret;

    w->idx.version++;
    w->idx.updated_us = cir_clock_wall_us(w->clock);
    cir_buf_init(&b, CIR_LIVE_INDEX_MAX_SIZE);
    if ((ret = join(w, path, sizeof(path), F_INDEX, 0, 0)) < 0) {
        return ret;
    }
    ret = cir_live_index_encode(&w->idx, &b);
    if (ret == 0) {
        ret = cir_write_file_atomic_flags(path, b.data ? b.data : "", b.len, 0);
    }
    cir_buf_free(&b);
    return ret;
}

static int
grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
    size_t n;
    void *q;

    if (need <= *cap) {
        return 0;
    }
    if (need > max) {
        return CIR_ELIMIT;
    }
    n = *cap ? *cap * 2 : 16;
    while (n < need) {
        n *= 2;
    }
    if (n > max) {
        n = max;
    }
    if ((q = realloc(*p, n * elem)) == NULL) {
        return CIR_ENOMEM;
    }
    *p = q;
    *cap = n;
    return 0;
}

/* ---- deletions ---- */

static void
remove_files(cir_live_writer_t *w, const deletion_t *d)
{
    char path[PATH_MAX];
    uint32_t i;

    if (d->segment) {
        if (join(w, path, sizeof(path), F_SEG, d->msn, 0) == 0) {
            unlink(path);
        }
        return;
    }
    for (i = 0; i < d->nb_parts; i++) {
        if (join(w, path, sizeof(path), F_PART, d->msn, i) == 0) {
            unlink(path);
        }
    }
}

static void
schedule(cir_live_writer_t *w, uint64_t msn, uint32_t nb_parts, int segment,
         int64_t delay)
{
    deletion_t d = {msn, nb_parts, (uint8_t)segment, w->elapsed + delay};
    size_t max = 4 * (size_t)w->idx.window + 16;

    if (grow((void **)&w->del, &w->del_cap, w->nb_del + 1, sizeof(d), max) <
        0) {
        if (w->nb_del == 0) {
            remove_files(w, &d);
            return;
        }
        /* list full (or no memory): the oldest entry goes now */
        remove_files(w, &w->del[0]);
        memmove(w->del, w->del + 1, (w->nb_del - 1) * sizeof(d));
        w->nb_del--;
    }
    w->del[w->nb_del++] = d;
}

static void
run_deletions(cir_live_writer_t *w)
{
    size_t i, k = 0;

    for (i = 0; i < w->nb_del; i++) {
        if (w->del[i].due <= w->elapsed) {
            remove_files(w, &w->del[i]);
        } else {
            w->del[k++] = w->del[i];
        }
    }
    w->nb_del = k;
}

/* ---- index maintenance ---- */

/* Removes parts of segments whose nb_parts went to 0 from parts[]. */
static void
compact_parts(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    size_t i, k = 0;

    for (i = 0; i < x->nb_segments; i++) {
        cir_live_segment_t *s = &x->segments[i];
        if (s->nb_parts == 0) {
            s->first_part = 0;
            continue;
        }
        if (s->first_part != k) {
            memmove(&x->parts[k], &x->parts[s->first_part],
                    s->nb_parts * sizeof(*x->parts));
        }
        s->first_part = (uint32_t)k;
        k += s->nb_parts;
    }
    x->nb_parts = k;
}

static int64_t
three_td(const cir_live_writer_t *w)
{
    return 3 * cir_live_target_duration(&w->idx) * (int64_t)w->idx.timescale;
}

static void
drop_segment_parts(cir_live_writer_t *w, cir_live_segment_t *s)
{
    if (s->nb_parts > 0) {
        /* parts stay fetchable 3 x TD after they leave (RFC 8216bis 6.2.2) */
        schedule(w, s->msn, s->nb_parts, 0, three_td(w));
        s->nb_parts = 0;
    }
}

static void
age_and_slide(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    int64_t after = 0, limit = three_td(w);
    size_t i, complete = 0;

    /* PART tags go once their segment is more than 3 x TD from the end */
    for (i = x->nb_segments; i-- > 0;) {
        cir_live_segment_t *s = &x->segments[i];
        if (s->complete && (after > limit || x->part_target == 0)) {
            drop_segment_parts(w, s);
        }
        after += s->duration;
        complete += s->complete;
    }
    while (complete > x->window) {
        cir_live_segment_t *s = &x->segments[0];
        if (s->discontinuity) {
            x->discontinuity_sequence++;
        }
        drop_segment_parts(w, s);
        schedule(w, s->msn, 0, 1, (int64_t)x->window * x->segment_target);
        memmove(x->segments, x->segments + 1,
                (x->nb_segments - 1) * sizeof(*x->segments));
        x->nb_segments--;
        complete--;
    }
    compact_parts(w);
}

/* ---- public ---- */

static int
resume(cir_live_writer_t *w)
{
    cir_live_index_t old;
    uint32_t flags = 0;
    size_t i;
    int ret;

    ret = cir_live_index_load(w->dir, &old);
    if (ret == CIR_ENOTFOUND || ret == CIR_EPARSE) {
        return 0; /* nothing (usable) to resume: start afresh */
    }
    if (ret < 0) {
        return ret;
    }
    if (old.nb_segments == 0) {
        cir_live_index_free(&old);
        return 0;
    }
    /* The old segments go (as if they left the window): MEDIA-SEQUENCE
     * continues after them, and no URL a CDN may have cached is reused
     * for other bytes. */
    for (i = 0; i < old.nb_segments; i++) {
        flags += old.segments[i].discontinuity;
    }
    w->idx.discontinuity_sequence = old.discontinuity_sequence + flags;
    w->idx.init_id = old.init_id;
    w->idx.started_us = old.started_us;
    w->idx.version = old.version;
    w->next_msn = old.segments[old.nb_segments - 1].msn + 1;
    w->written_any = 1;
    w->pending_disc = 1;
    cir_live_index_free(&old);
    return 0;
}

int
cir_live_writer_open(cir_live_writer_t **wp, const cir_live_writer_config_t *c)
{
    cir_live_writer_t *w = NULL;
    int ret;

    if (wp == NULL || c == NULL || c->dir == NULL || c->dir[0] == '\0') {
        return CIR_EINVAL;
    }
    *wp = NULL;
    if (c->timescale == 0 || c->segment_target <= 0 || c->part_target < 0 ||
        c->part_target > c->segment_target || c->window < 3 ||
        c->window >= CIR_LIVE_MAX_SEGMENTS) {
        return CIR_EINVAL;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL ||
        (w->dir = strdup(c->dir)) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    w->clock = c->clock ? c->clock : cir_clock_system();
    w->idx.track = c->track;
    w->idx.track.rendition[sizeof(w->idx.track.rendition) - 1] = '\0';
    w->idx.track.codecs[sizeof(w->idx.track.codecs) - 1] = '\0';
    w->idx.timescale = c->timescale;
    w->idx.segment_target = c->segment_target;
    w->idx.part_target = c->part_target;
    w->idx.window = c->window;
    w->idx.started_us = cir_clock_wall_us(w->clock);
    cir_buf_init(&w->open_data, SEGMENT_MAX_BYTES);
    if (cir_live_index_check(&w->idx) < 0) {
        ret = CIR_EINVAL;
        goto fail;
    }
    if ((ret = cir_mkdir_p(c->dir, 0755)) < 0 || (ret = resume(w)) < 0 ||
        (ret = write_index(w)) < 0) {
        goto fail;
    }
    *wp = w;
    return 0;

fail:
    cir_live_writer_close(&w);
    return ret;
}

int
cir_live_writer_put_init(cir_live_writer_t *w, const void *data, size_t len)
{
    char path[PATH_MAX];
    int ret;

    if (w == NULL || data == NULL || len == 0 || w->idx.ended) {
        return CIR_EINVAL;
    }
    if (cir_live_open_segment(&w->idx) != NULL &&
        (ret = cir_live_writer_end_segment(w)) < 0) {
        return ret;
    }
    if (w->idx.init_id == UINT32_MAX) {
        return CIR_ELIMIT;
    }
    ret = join(w, path, sizeof(path), F_INIT, (uint64_t)w->idx.init_id + 1, 0);
    if (ret < 0 ||
        (ret = cir_write_file_atomic_flags(path, data, len, 0)) < 0) {
        return ret;
    }
    if (++w->idx.init_id > 1 || w->written_any) {
        w->pending_disc = 1;
    }
    return write_index(w);
}

static int
open_segment(cir_live_writer_t *w, int64_t start, int64_t first_duration)
{
    cir_live_index_t *x = &w->idx;
    cir_live_segment_t *s;
    int64_t now = cir_clock_wall_us(w->clock);
    int ret;

    ret = grow((void **)&x->segments, &w->seg_cap, x->nb_segments + 1,
               sizeof(*x->segments), CIR_LIVE_MAX_SEGMENTS);
    if (ret < 0) {
        return ret;
    }
    if (w->pending_disc || !w->anchored || start != w->last_end) {
        w->anchored = 1;
        w->anchor_media = start;
        w->anchor_wall = now - first_duration * 1000000 / x->timescale;
        if (w->anchor_wall < 0) {
            w->anchor_wall = 0;
        }
    }
    s = &x->segments[x->nb_segments];
    memset(s, 0, sizeof(*s));
    s->msn = w->next_msn;
    s->start = start;
    /* exact: (start - anchor) / ts seconds, in microseconds */
    s->pdt_us =
        w->anchor_wall + (start - w->anchor_media) / x->timescale * 1000000 +
        (start - w->anchor_media) % x->timescale * 1000000 / x->timescale;
    s->init_id = x->init_id;
    s->discontinuity = (uint8_t)(w->pending_disc && w->written_any);
    s->first_part = (uint32_t)x->nb_parts;
    x->nb_segments++;
    w->pending_disc = 0;
    w->written_any = 1;
    w->next_msn++;
    cir_buf_reset(&w->open_data);
    return 0;
}

int
cir_live_writer_put_part(cir_live_writer_t *w, const void *data, size_t len,
                         int64_t start, int64_t duration, int independent)
{
    cir_live_index_t *x;
    cir_live_segment_t *s;
    cir_live_part_t *p;
    char path[PATH_MAX];
    size_t len0;
    int ret;

    if (w == NULL || data == NULL || len == 0) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    if (x->ended || x->init_id == 0 || start < 0 || duration <= 0 ||
        duration > x->segment_target * 4) {
        return CIR_EINVAL;
    }
    s = (cir_live_segment_t *)cir_live_open_segment(x);
    if (s != NULL && s->nb_parts >= CIR_LIVE_MAX_PARTS) {
        return CIR_ELIMIT;
    }
    if (s == NULL && (ret = open_segment(w, start, duration)) < 0) {
        return ret;
    }
    s = &x->segments[x->nb_segments - 1];
    ret = grow((void **)&x->parts, &w->part_cap, x->nb_parts + 1,
               sizeof(*x->parts),
               (size_t)CIR_LIVE_MAX_SEGMENTS * CIR_LIVE_MAX_PARTS);
    len0 = w->open_data.len;
    if (ret == 0) {
        ret = cir_buf_append(&w->open_data, data, len);
    }
    if (ret == 0) {
        ret = join(w, path, sizeof(path), F_PART, s->msn, s->nb_parts);
    }
    if (ret == 0) {
        /* listed in the index only after this write completes */
        ret = cir_write_file_atomic_flags(path, data, len, CIR_WRITE_UNLISTED);
    }
    if (ret < 0) {
        w->open_data.len = len0;
        if (s->nb_parts == 0) {
            /* undo the segment we just opened */
            x->nb_segments--;
            w->next_msn--;
        }
        return ret;
    }
    p = &x->parts[x->nb_parts++];
    p->duration = duration;
    p->independent = independent ? 1 : 0;
    p->gap = 0;
    s->nb_parts++;
    s->duration += duration;
    w->last_end = start + duration;
    w->elapsed += duration;
    return write_index(w);
}

int
cir_live_writer_end_segment(cir_live_writer_t *w)
{
    cir_live_segment_t *s;
    char path[PATH_MAX];
    int ret;

    if (w == NULL) {
        return CIR_EINVAL;
    }
    s = (cir_live_segment_t *)cir_live_open_segment(&w->idx);
    if (s == NULL) {
        return CIR_EINVAL; /* nothing open */
    }
    if ((ret = join(w, path, sizeof(path), F_SEG, s->msn, 0)) < 0 ||
        (ret = cir_write_file_atomic_flags(path, w->open_data.data,
                                           w->open_data.len,
                                           CIR_WRITE_UNLISTED)) < 0) {
        return ret;
    }
    s->size = w->open_data.len;
    s->complete = 1;
    cir_buf_reset(&w->open_data);
    age_and_slide(w);
    if ((ret = write_index(w)) < 0) {
        return ret;
    }
    /* only now is nothing that goes listed any more */
    run_deletions(w);
    return 0;
}

int
cir_live_writer_discontinuity(cir_live_writer_t *w)
{
    if (w == NULL) {
        return CIR_EINVAL;
    }
    w->pending_disc = 1;
    return 0;
}

int
cir_live_writer_finish(cir_live_writer_t *w)
{
    int ret;

    if (w == NULL) {
        return CIR_EINVAL;
    }
    if (w->idx.ended) {
        return 0;
    }
    if (cir_live_open_segment(&w->idx) != NULL &&
        (ret = cir_live_writer_end_segment(w)) < 0) {
        return ret;
    }
    w->idx.ended = 1;
    return write_index(w);
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
    free(w->dir);
    cir_live_index_free(&w->idx);
    cir_buf_free(&w->open_data);
    free(w->del);
    free(w);
    *wp = NULL;
}
