/*
 * The live writer driven as its file adapter (transcoder/src/live_store.c)
 * drives it, with what it decides kept in memory: the segment files it has
 * created and not yet removed (and where each part goes in them), the
 * newest init id, the last index published.  For the unit tests of the
 * writer's policy (test_origin_live_writer.c, test_origin_live_window.c).
 */
#ifndef CIR_TEST_LIVE_WRITER_DRIVER_H
#define CIR_TEST_LIVE_WRITER_DRIVER_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_buf.h"
#include "cir_clock.h"
#include "cir_error.h"
#include "cir_live.h"
#include "live_writer_config.h"
#include "cir_origin.h"

#define TS      90000
#define T0      INT64_C(1767225600000000)
#define MAX_MSN 256

static cir_clock_t clk;
static cir_live_writer_t *w;

/* What the adapter would hold for w (another writer's is not kept):
 * seg-<msn>.m4s created (1) then removed (2), its length; the newest
 * init-<k>.mp4; the index as published. */
static uint8_t seg_file[MAX_MSN];
static uint64_t seg_len[MAX_MSN];
static uint32_t last_init;
static cir_buf_t published;

static __attribute__((unused)) void
setup(void)
{
    cir_clock_fixed_init(&clk, T0);
    memset(seg_file, 0, sizeof(seg_file));
    memset(seg_len, 0, sizeof(seg_len));
    last_init = 0;
    cir_buf_init(&published, CIR_LIVE_INDEX_MAX_SIZE);
}

static __attribute__((unused)) void
teardown(void)
{
    cir_live_writer_close(&w);
    cir_buf_free(&published);
}

static __attribute__((unused)) cir_live_writer_config_t
config(uint32_t window)
{
    return live_writer_config(window, NULL, &clk);
}

/* seg-<msn>.m4s would be on disk. */
static __attribute__((unused)) int
on_disk(uint64_t msn)
{
    cr_assert_lt(msn, MAX_MSN);
    return seg_file[msn] == 1;
}

static __attribute__((unused)) void
take_removals(cir_live_writer_t *x)
{
    uint64_t msn;

    while (cir_live_writer_take_removal(x, &msn)) {
        if (x != w) {
            continue; /* another rendition's: not kept */
        }
        cr_assert(on_disk(msn), "seg-%llu.m4s removed once, after it was made",
                  (unsigned long long)msn);
        seg_file[msn] = 2;
    }
}

static __attribute__((unused)) int
publish(cir_live_writer_t *x)
{
    const void *data;
    size_t len;
    int ret;

    take_removals(x);
    if ((ret = cir_live_writer_next_index(x, &data, &len)) < 0) {
        return ret;
    }
    if (len > 0 && x == w) {
        cir_buf_reset(&published);
        cr_assert_eq(cir_buf_append(&published, data, len), 0);
    }
    return 0;
}

static __attribute__((unused)) int
publish_at_end(cir_live_writer_t *x)
{
    int ret = publish(x);

    if (ret == 0) {
        cir_live_writer_segments_due(x);
        take_removals(x);
    }
    return ret;
}

/* The last index published, decoded. */
static __attribute__((unused)) int
load(cir_live_index_t *disk)
{
    if (published.len == 0) {
        return CIR_ENOTFOUND;
    }
    return cir_live_index_decode(published.data, published.len, disk);
}

static __attribute__((unused)) int
open_w(cir_live_writer_t **x, const cir_live_writer_config_t *c)
{
    int ret = cir_live_writer_open(x, c);

    return ret < 0 ? ret : publish(*x);
}

static __attribute__((unused)) int
end_segment(cir_live_writer_t *x)
{
    int ret = cir_live_writer_close_segment(x);

    return ret < 0 ? ret : publish_at_end(x);
}

static __attribute__((unused)) int
put_init(cir_live_writer_t *x, const char *data, size_t len)
{
    uint32_t id;
    int ret;

    if (data == NULL || (ret = cir_live_writer_begin_init(x, len)) < 0) {
        return CIR_EINVAL;
    }
    if (cir_live_writer_has_open_segment(x) && (ret = end_segment(x)) < 0) {
        return ret;
    }
    if ((ret = cir_live_writer_next_init(x, &id)) < 0) {
        return ret;
    }
    last_init = id;
    cir_live_writer_init_written(x);
    return publish(x);
}

/* A part of len bytes: where the writer puts it must be the end of its
 * segment's file, a new file when it opens one. */
static __attribute__((unused)) int
put(cir_live_writer_t *x, size_t len, int64_t start, int64_t d, int key,
    int last)
{
    cir_live_part_plan_t plan;
    int ret;

    ret = cir_live_writer_begin_part(x, len, start, d, &plan);
    take_removals(x);
    if (ret < 0) {
        return ret;
    }
    cr_assert_lt(plan.msn, MAX_MSN);
    if (x == w) { /* another rendition's files are not kept */
        if (plan.opens) {
            cr_assert_eq(seg_file[plan.msn], 0, "a new file");
            seg_file[plan.msn] = 1;
        }
        cr_assert_eq(plan.offset, seg_len[plan.msn]);
        seg_len[plan.msn] += len;
    }
    cir_live_writer_commit_part(x, len, start, d, key, last);
    return last ? end_segment(x) : publish(x);
}

static __attribute__((unused)) int
put_part(cir_live_writer_t *x, const char *data, size_t len, int64_t start,
         int64_t d, int key)
{
    (void)data;
    return put(x, len, start, d, key, 0);
}

static __attribute__((unused)) int
put_last_part(cir_live_writer_t *x, const char *data, size_t len, int64_t start,
              int64_t d, int key)
{
    (void)data;
    return put(x, len, start, d, key, 1);
}

static __attribute__((unused)) int
put_gap(cir_live_writer_t *x, int64_t start, int64_t d)
{
    int ret = cir_live_writer_put_gap_segment(x, start, d);

    return ret < 0 ? ret : publish_at_end(x);
}

static __attribute__((unused)) int
set_td(cir_live_writer_t *x, uint32_t td)
{
    int ret = cir_live_writer_set_target_duration(x, td);

    return ret <= 0 ? ret : publish(x);
}

static __attribute__((unused)) int
finish(cir_live_writer_t *x)
{
    int ret;

    if (cir_live_writer_has_open_segment(x) && (ret = end_segment(x)) < 0) {
        return ret;
    }
    ret = cir_live_writer_finish(x);
    return ret <= 0 ? ret : publish(x);
}

static int64_t media_t;

/* w opened with a window of `window` segments, its first init put: where
 * most tests start. */
static __attribute__((unused)) void
start(uint32_t window, const char *init, size_t len)
{
    cir_live_writer_config_t c = config(window);

    media_t = 0;
    cr_assert_eq(open_w(&w, &c), 0);
    cr_assert_eq(put_init(w, init, len), 0);
}

/* One 4 s segment of four 1 s parts into w. */
static __attribute__((unused)) void
put_segment(void)
{
    LIVE_PUT_SEGMENT(w, put_part, end_segment, &clk, media_t);
}

/* n such segments into w, one after the other. */
static __attribute__((unused)) void
put_segments(int n)
{
    for (int i = 0; i < n; i++) {
        put_segment();
    }
}

#endif
