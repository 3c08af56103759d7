/*
 * What the writer's and the store's unit tests share: the configuration (a
 * 720p rendition at 90 kHz, 4 s segments of 1 s parts, target duration 4,
 * `window` segments, on the given clock) and a segment's worth of parts.
 */
#ifndef CIR_TEST_LIVE_WRITER_CONFIG_H
#define CIR_TEST_LIVE_WRITER_CONFIG_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cir_clock.h"
#include "cir_live.h"

#define TS 90000
#define T0 INT64_C(1767225600000000)

static __attribute__((unused)) cir_live_writer_config_t
live_writer_config(uint32_t window, const char *dir, const cir_clock_t *clock)
{
    cir_live_writer_config_t c = {0};

    c.dir = dir;
    snprintf(c.track.rendition, sizeof(c.track.rendition), "720p");
    snprintf(c.track.codecs, sizeof(c.track.codecs), "avc1.64001f");
    c.track.width = 1280;
    c.track.height = 720;
    c.track.frame_rate = 30;
    c.track.bandwidth = 3000000;
    c.timescale = TS;
    c.segment_target = 4 * TS;
    c.part_target = TS;
    c.part_target_us = 1000000;
    c.target_duration = 4;
    c.window = window;
    c.clock = clock;
    return c;
}

/* Puts a part into x (a writer, a store), ends x's open segment. */
typedef int (*live_put_part_fn)(void *x, const char *data, size_t len,
                                int64_t start, int64_t d, int key);
typedef int (*live_end_segment_fn)(void *x);

/* One 4 s segment of four 1 s parts ("P<second>.") from *media_t into x;
 * the clock follows the media. */
static __attribute__((unused)) void
live_put_segment(void *x, live_put_part_fn put, live_end_segment_fn end,
                 cir_clock_t *clock, int64_t *media_t)
{
    char part[32];

    for (int i = 0; i < 4; i++) {
        cir_clock_fixed_advance(clock, 1000000);
        snprintf(part, sizeof(part), "P%lld.", (long long)(*media_t / TS));
        cr_assert_eq(put(x, part, strlen(part), *media_t, TS, i == 0), 0);
        *media_t += TS;
    }
    cr_assert_eq(end(x), 0);
}

#endif
