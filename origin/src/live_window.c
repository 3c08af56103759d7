/*
 * The live writer's window (see live_window.h and the top of
 * live_writer.c): parts leave the playlist (nb_parts -> nb_kept) on the
 * index write after which cir_live_parts_listed no longer lists them; the
 * records of their parts (their byte ranges) go 3 target durations of
 * media later, and a segment leaves the index only after that.  A
 * segment's file is due one window (window x segment_target of media)
 * after it left the index; the file adapter removes it after the index
 * that no longer lists it is published.  Pure: no file is touched here.
 */
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "live_util.h"
#include "live_window.h"

int
cir_live_grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
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

/* seg-<msn>.m4s goes now: handed to the adapter, which removes it before
 * the next index it publishes.  With no memory for that, the file stays
 * (no index lists it any more: it is never served). */
static void
remove_segment(cir_live_writer_t *w, const cir_live_deletion_t *d)
{
    size_t max = 8 * (size_t)w->idx.window + 32;

    if (cir_live_grow((void **)&w->gone, &w->gone_cap, w->nb_gone + 1,
                      sizeof(*w->gone), max) == 0) {
        w->gone[w->nb_gone++] = d->msn;
    }
}

/* A part-record drop: the byte ranges of a segment's aged-out parts go at
 * the next index write. */
static void
drop_records(cir_live_writer_t *w, const cir_live_deletion_t *d)
{
    cir_live_segment_t *s =
        (cir_live_segment_t *)cir_live_index_segment(&w->idx, d->msn);

    if (s != NULL && s->nb_parts == 0 && s->nb_kept > 0) {
        s->nb_kept = 0;
        cir_live_window_compact_parts(w);
    }
}

static void
apply(cir_live_writer_t *w, const cir_live_deletion_t *d)
{
    if (d->segment) {
        remove_segment(w, d);
    } else {
        drop_records(w, d);
    }
}

void
cir_live_window_schedule(cir_live_writer_t *w, uint64_t msn, int segment,
                         int64_t delay)
{
    cir_live_deletion_t d = {msn, (uint8_t)segment, w->elapsed + delay};
    size_t max = 4 * (size_t)w->idx.window + 16;

    if (cir_live_grow((void **)&w->del, &w->del_cap, w->nb_del + 1, sizeof(d),
                      max) < 0) {
        if (w->nb_del == 0) {
            apply(w, &d);
            return;
        }
        /* list full (or no memory): the oldest entry goes now */
        apply(w, &w->del[0]);
        memmove(w->del, w->del + 1, (w->nb_del - 1) * sizeof(d));
        w->nb_del--;
    }
    w->del[w->nb_del++] = d;
}

void
cir_live_window_run_deletions(cir_live_writer_t *w, int segment)
{
    size_t i, k = 0;

    for (i = 0; i < w->nb_del; i++) {
        if (w->del[i].due <= w->elapsed && w->del[i].segment == segment) {
            apply(w, &w->del[i]);
        } else {
            w->del[k++] = w->del[i];
        }
    }
    w->nb_del = k;
}

/* ---- index maintenance ---- */

void
cir_live_window_compact_parts(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    size_t i, k = 0;

    for (i = 0; i < x->nb_segments; i++) {
        cir_live_segment_t *s = &x->segments[i];
        uint32_t n = cir_live_nb_records(s);
        if (n == 0) {
            s->first_part = 0;
            continue;
        }
        if (s->first_part != k) {
            memmove(&x->parts[k], &x->parts[s->first_part],
                    n * sizeof(*x->parts));
        }
        s->first_part = (uint32_t)k;
        k += n;
    }
    x->nb_parts = k;
}

void
cir_live_window_set_run(cir_live_index_t *x, const cir_live_segment_t *s,
                        const cir_live_segment_t *prev)
{
    x->run_pdt_us = s->pdt_us;
    x->run_start = s->start;
    x->run_after_us = 0;
    if (prev != NULL) {
        x->run_after_us =
            prev->pdt_us + cir_live_ts_to_us(prev->duration, x->timescale);
        if (x->run_after_us > s->pdt_us) {
            x->run_after_us = s->pdt_us;
        }
    }
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
        /* parts stay fetchable 3 x TD after they leave (RFC 8216bis 6.2.2):
         * their records (byte ranges) stay that long */
        s->nb_kept = s->nb_parts;
        s->nb_parts = 0;
        cir_live_window_schedule(w, s->msn, 0, three_td(w));
    }
}

void
cir_live_window_unlist_parts(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;

    if (x->target_duration == 0) {
        return;
    }
    for (size_t i = 0; i < x->nb_segments; i++) {
        cir_live_segment_t *s = &x->segments[i];
        if (s->complete && s->nb_parts > 0 && !cir_live_parts_listed(x, i)) {
            drop_segment_parts(w, s);
        }
    }
}

void
cir_live_window_age_and_slide(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    size_t i, complete = 0;

    for (i = 0; i < x->nb_segments; i++) {
        complete += x->segments[i].complete;
    }
    cir_live_window_unlist_parts(w);
    /* a segment leaves the index (and the playlist) once the window is
     * full and the records of its parts went (3 x TD after they left the
     * playlist): their byte ranges stay servable that long */
    while (complete > x->window && x->segments[0].nb_kept == 0 &&
           (x->segments[0].nb_parts == 0 || x->part_target == 0)) {
        cir_live_segment_t *s = &x->segments[0], gone;
        if (s->discontinuity) {
            x->discontinuity_sequence++;
        }
        s->nb_parts = 0;
        cir_live_window_schedule(w, s->msn, 1,
                                 (int64_t)x->window * x->segment_target);
        gone = *s;
        memmove(x->segments, x->segments + 1,
                (x->nb_segments - 1) * sizeof(*x->segments));
        x->nb_segments--;
        complete--;
        if (x->segments[0].discontinuity) {
            cir_live_window_set_run(x, &x->segments[0], &gone);
        }
    }
    cir_live_window_compact_parts(w);
}
