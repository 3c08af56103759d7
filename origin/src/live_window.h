/*
 * The live writer's state and its window (private to origin/src/
 * live_writer.c and live_window.c): what the writer keeps between calls,
 * and how the window slides (parts unlisted, part records dropped,
 * segments leaving the index, segment files due for removal).  Pure: a
 * segment file's removal is a decision handed to the file adapter
 * (cir_live_writer_take_removal), never a syscall.
 */
#ifndef CIR_LIVE_WINDOW_H
#define CIR_LIVE_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "cir_buf.h"
#include "cir_clock.h"
#include "cir_live.h"

typedef struct {
    uint64_t msn;
    uint8_t segment; /* 1: seg-<msn>.m4s, 0: its part records */
    int64_t due;     /* when elapsed reaches this */
} cir_live_deletion_t;

/* What add_segment changes before the segment's file exists: restored when
 * that file cannot be created (cir_live_writer_abort_part). */
typedef struct {
    int anchored, pending_disc, written_any, key_disc;
    int64_t anchor_wall, anchor_media;
    uint8_t paused;
    int64_t run_pdt_us, run_start, run_after_us;
} cir_live_opening_t;

struct cir_live_writer {
    const cir_clock_t *clock;
    cir_live_index_t idx;
    size_t seg_cap, part_cap, key_cap;
    uint64_t open_len; /* the open segment's bytes so far */
    cir_buf_t enc;     /* the index, encoded */
    uint64_t next_msn;
    int written_any; /* a segment was ever opened */
    int pending_disc;
    /* the pending discontinuity is a key rotation's new init alone: the
     * media timeline goes on, and PDT with it */
    int key_disc;
    /* paused at a break until its discontinuity: a segment the break's
     * flush opens does not end the pause (cir_live_writer_pause) */
    int pause_held;
    uint32_t gaps_pending; /* fill_outage's, put before the next segment */
    uint32_t outage_left;  /* segments a taken outage still opens */
    int64_t gaps_hole_us;
    /* put_gap_segment's, put before the next segment (or dropped by
     * finish): a GAP last in a playlist stops Shaka Player */
    struct {
        int pending;
        int64_t start, duration, pdt_us;
        uint32_t init_id;
    } held_gap;
    int anchored;
    int64_t anchor_wall, anchor_media, last_end;
    /* the stream's anchor (set_anchor): media time stream_media_us (µs on
     * the stream's timeline) was captured at stream_wall_us; 0: none */
    int64_t stream_wall_us, stream_media_us;
    int64_t elapsed; /* media time put so far, timescale units */
    cir_live_deletion_t *del;
    size_t nb_del, del_cap;
    /* segment files to remove now, oldest first (the adapter takes them) */
    uint64_t *gone;
    size_t nb_gone, gone_cap;
    cir_live_opening_t opening; /* before the segment the last part opened */
};

/* Grows *p (cap elements of elem bytes) to hold need, at most max. */
int cir_live_grow(void **p, size_t *cap, size_t need, size_t elem, size_t max);

/* Schedules the removal of seg-<msn>.m4s (segment 1) or of its part
 * records (0) `delay` of media from now. */
void cir_live_window_schedule(cir_live_writer_t *w, uint64_t msn, int segment,
                              int64_t delay);
/* The due entries of one kind: part records (segment 0) before the index
 * is written, segment files (1) after it. */
void cir_live_window_run_deletions(cir_live_writer_t *w, int segment);
/* Removes parts of segments whose records went from parts[]. */
void cir_live_window_compact_parts(cir_live_writer_t *w);
/* segments[0] is (or begins) the run s starts, after prev (NULL: none
 * in this index). */
void cir_live_window_set_run(cir_live_index_t *x, const cir_live_segment_t *s,
                             const cir_live_segment_t *prev);
/* Unlists the parts of complete segments that cir_live_parts_listed no
 * longer lists (run before every index write). */
void cir_live_window_unlist_parts(cir_live_writer_t *w);
/* Unlists parts, slides the window, compacts parts[]. */
void cir_live_window_age_and_slide(cir_live_writer_t *w);

#endif
