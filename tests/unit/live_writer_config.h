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

/* One 4 s segment of four 1 s parts ("P<second>.") from media_t (an
 * int64_t lvalue) into x through put_part and end_segment (a writer's or a
 * store's); the clock follows the media. */
#define LIVE_PUT_SEGMENT(x, put_part, end_segment, clock, media_t)           \
    do {                                                                     \
        char part_[32];                                                      \
        for (int i_ = 0; i_ < 4; i_++) {                                     \
            cir_clock_fixed_advance((clock), 1000000);                       \
            snprintf(part_, sizeof(part_), "P%lld.",                         \
                     (long long)((media_t) / TS));                           \
            cr_assert_eq(                                                    \
                put_part((x), part_, strlen(part_), (media_t), TS, i_ == 0), \
                0);                                                          \
            (media_t) += TS;                                                 \
        }                                                                    \
        cr_assert_eq(end_segment(x), 0);                                     \
    } while (0)

#endif
