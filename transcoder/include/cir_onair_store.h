/*
 * The live store's file adapter: performs what origin's live writer (the
 * window and index policy, cir_live.h) decides for one rendition's folder.
 * The calls a live packager makes, in the writer's order (see cir_live.h);
 * the pure ones (discontinuity, pause, fill_outage, set_anchor, index) go to
 * the writer itself (cir_onair_store_writer).
 */
#ifndef CIR_ONAIR_STORE_H
#define CIR_ONAIR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cir_live.h"

typedef struct cir_onair_store cir_onair_store_t;

/* Creates cfg->dir; a folder holding an index resumes its numbering. */
int cir_onair_store_open(cir_onair_store_t **st,
                         const cir_live_writer_config_t *cfg);
/* A new init segment (init-<k>.mp4); an open segment is closed first. */
int cir_onair_store_put_init(cir_onair_store_t *st, const void *data,
                             size_t len);
/* Appends a part to the open segment (opening one at `start` if none is
 * open): appends it to seg-<msn>.m4s, then writes the index. */
int cir_onair_store_put_part(cir_onair_store_t *st, const void *data,
                             size_t len, int64_t start, int64_t duration,
                             int independent);
/* put_part then end_segment with one index write: the part and the
 * segment's end are listed together. */
int cir_onair_store_put_last_part(cir_onair_store_t *st, const void *data,
                                  size_t len, int64_t start, int64_t duration,
                                  int independent);
/* Closes the open segment (CIR_EINVAL: none), writes the index, removes
 * the segment files the window let go. */
int cir_onair_store_end_segment(cir_onair_store_t *st);
/*
 * A rendition that fills a publisher's outage with media (an audio
 * track's silence) instead of the GAP segments the others list: before the
 * first part after the outage, the store takes it from the writer
 * (cir_live_writer_take_outage) and puts its segments, each in parts of at
 * most the part target, with what cb gives: into out (empty), one CMAF
 * chunk of whole samples from start ending by end (the store's timescale),
 * *filled where they end (start: none fits, or an error: then that segment
 * is a GAP segment).
 */
typedef int (*cir_onair_store_filler_cb)(void *opaque, int64_t start,
                                         int64_t end, cir_buf_t *out,
                                         int64_t *filled);
void cir_onair_store_set_outage_filler(cir_onair_store_t *st,
                                       cir_onair_store_filler_cb cb,
                                       void *opaque);
/* cir_live_writer_put_gap_segment, published. */
int cir_onair_store_put_gap_segment(cir_onair_store_t *st, int64_t start,
                                    int64_t duration);
/* cir_live_writer_set_target_duration, published. */
int cir_onair_store_set_target_duration(cir_onair_store_t *st, uint32_t td);
/* cir_live_writer_set_closed_captions: published with the next index (the
 * next part's), not at once. */
int cir_onair_store_set_closed_captions(cir_onair_store_t *st);
/* Ends the stream: closes an open segment, sets ENDLIST. */
int cir_onair_store_finish(cir_onair_store_t *st);
cir_live_writer_t *cir_onair_store_writer(cir_onair_store_t *st);
void cir_onair_store_close(cir_onair_store_t **st);

#endif
