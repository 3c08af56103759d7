/*
 * The live index codec: round trips, every truncation and bit flip fails
 * cleanly, invariants are enforced on decode, queries, load from a file.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_live.h"

#define TS 90000
#define T0 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

typedef struct {
    cir_live_segment_t segs[16];
    cir_live_part_t parts[64];
    cir_live_index_t idx;
} fx_t;

static fx_t fx;

/* n segments of 4 parts of 1 s from msn 7; the last open with 2 parts;
 * parts kept for the last two complete segments only. */
static cir_live_index_t *
small_index(size_t n)
{
    size_t i, j, np = 0;
    int64_t t = 0;

    memset(&fx, 0, sizeof(fx));
    snprintf(fx.idx.track.rendition, sizeof(fx.idx.track.rendition), "720p");
    snprintf(fx.idx.track.codecs, sizeof(fx.idx.track.codecs), "avc1.64001f");
    fx.idx.track.kind = CIR_LIVE_VIDEO;
    fx.idx.track.width = 1280;
    fx.idx.track.height = 720;
    fx.idx.track.frame_rate = 29.97;
    fx.idx.track.bandwidth = 3000000;
    fx.idx.track.average_bandwidth = 2500000;
    fx.idx.timescale = TS;
    fx.idx.segment_target = 4 * TS;
    fx.idx.part_target = TS;
    fx.idx.target_duration = 4;
    fx.idx.part_target_us = 1000000;
    fx.idx.window = 6;
    fx.idx.discontinuity_sequence = 3;
    fx.idx.init_id = 2;
    fx.idx.version = 42;
    fx.idx.updated_us = T0 + 30000000;
    fx.idx.started_us = T0;
    fx.idx.run_pdt_us = T0 + 1000000;
    fx.idx.run_start = TS / 2;
    fx.idx.run_after_us = T0 + 500000;
    for (i = 0; i < n; i++) {
        cir_live_segment_t *s = &fx.segs[i];
        int open = i + 1 == n;
        s->msn = 7 + i;
        s->start = t;
        s->pdt_us = T0 + t / TS * 1000000;
        s->init_id = i < 2 ? 1 : 2;
        s->discontinuity = i == 2;
        s->complete = !open;
        s->first_part = (uint32_t)np;
        if (open || i + 4 >= n) {
            /* listed, or (the one before those) aged out of the playlist
             * with its byte ranges kept */
            s->nb_parts = open ? 2 : 4;
            if (!open && i + 4 == n) {
                s->nb_kept = s->nb_parts;
                s->nb_parts = 0;
            }
            for (j = 0; j < cir_live_nb_records(s); j++) {
                fx.parts[np].duration = TS;
                fx.parts[np].size = (uint32_t)(1000 + np);
                fx.parts[np].independent = j == 0;
                np++;
            }
        } else {
            s->first_part = 0;
        }
        s->duration = open ? 2 * TS : 4 * TS;
        s->size = open ? 0 : 100000 + i;
        t += s->duration;
    }
    fx.idx.segments = fx.segs;
    fx.idx.nb_segments = n;
    fx.idx.parts = fx.parts;
    fx.idx.nb_parts = np;
    return &fx.idx;
}

static uint32_t
crc32_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
    }
    return ~c;
}

/* Rewrites the trailing CRC so a crafted field reaches the checks. */
static void
recrc(cir_buf_t *b)
{
    uint32_t c = crc32_ref((const uint8_t *)b->data, b->len - 4);

    for (int i = 0; i < 4; i++) {
        b->data[b->len - 4 + (size_t)i] = (char)(c >> (8 * i));
    }
}

static void
put32(cir_buf_t *b, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b->data[off + (size_t)i] = (char)(v >> (8 * i));
    }
}

#define HDR 285
/* the target duration: after magic, version, the track (64 + 4 + 64 +
 * 4 + 4 + 8 + 4 + 4 + 8 + 8), timescale, segment and part targets */
#define HDR_TD   (12 + 64 + 4 + 64 + 4 + 4 + 8 + 4 + 4 + 8 + 8 + 4 + 8 + 8)
#define SEG      59
#define PART     14
#define SEG_MSN  0
#define SEG_INIT 40
#define SEG_FP   47
#define SEG_NP   51
#define SEG_NK   55

static void
encode(const cir_live_index_t *idx, cir_buf_t *b)
{
    cir_buf_init(b, CIR_LIVE_INDEX_MAX_SIZE);
    cr_assert_eq(cir_live_index_encode(idx, b), 0);
}

/* The captions flag rides in the flags byte (bit 2), on video only. */
Test(live_index, closed_captions_round_trip)
{
    cir_live_index_t *in = small_index(3), out;
    cir_buf_t b;

    in->track.closed_captions = 1;
    encode(in, &b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), 0);
    cr_expect_eq(out.track.closed_captions, 1);
    cr_expect_eq(out.ended, 0);
    cr_expect_eq(out.paused, 0);
    cir_live_index_free(&out);
    cir_buf_free(&b);

    in->track.closed_captions = 0;
    encode(in, &b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), 0);
    cr_expect_eq(out.track.closed_captions, 0);
    cir_live_index_free(&out);
    cir_buf_free(&b);

    /* an audio track with captions is refused */
    in->track.closed_captions = 1;
    in->track.kind = CIR_LIVE_AUDIO;
    cir_buf_init(&b, CIR_LIVE_INDEX_MAX_SIZE);
    cr_expect_eq(cir_live_index_encode(in, &b), CIR_EINVAL);
    cir_buf_free(&b);
}

Test(live_index, round_trip_is_exact)
{
    cir_live_index_t *in = small_index(6), out;
    cir_buf_t b, b2;
    size_t i;

    in->segments[2].outage = 1; /* the gap byte's bit 1 */
    encode(in, &b);
    cr_assert_eq(b.len, HDR + 6 * SEG + in->nb_parts * PART + 4);
    cr_assert_eq(memcmp(b.data, "CIRLIDX1", 8), 0);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), 0);
    cr_assert_str_eq(out.track.rendition, "720p");
    cr_assert_str_eq(out.track.codecs, "avc1.64001f");
    cr_assert_eq(out.track.frame_rate, 29.97);
    cr_assert_eq(out.track.average_bandwidth, 2500000);
    cr_assert_eq(out.window, 6);
    cr_assert_eq(out.target_duration, 4, "the stream's timing is kept");
    cr_assert_eq(out.part_target_us, 1000000);
    cr_assert_eq(out.discontinuity_sequence, 3);
    cr_assert_eq(out.version, 42);
    cr_assert_eq(out.started_us, T0);
    cr_assert_eq(out.run_pdt_us, T0 + 1000000);
    cr_assert_eq(out.run_start, TS / 2);
    cr_assert_eq(out.run_after_us, T0 + 500000);
    cr_assert_eq(out.nb_segments, 6);
    cr_assert_eq(out.nb_parts, in->nb_parts);
    for (i = 0; i < 6; i++) {
        cr_assert_eq(memcmp(&out.segments[i], &in->segments[i],
                            sizeof(cir_live_segment_t)),
                     0, "segment %zu", i);
    }
    cr_assert_eq(
        memcmp(out.parts, in->parts, in->nb_parts * sizeof(cir_live_part_t)),
        0);
    /* encode(decode(x)) == x */
    encode(&out, &b2);
    cr_assert_eq(b2.len, b.len);
    cr_assert_eq(memcmp(b2.data, b.data, b.len), 0);
    cir_live_index_free(&out);
    cr_assert_null(out.segments);
    cir_buf_free(&b);
    cir_buf_free(&b2);
}

Test(live_index, empty_index_round_trips)
{
    cir_live_index_t *in = small_index(0), out;
    cir_buf_t b;

    encode(in, &b);
    cr_assert_eq(b.len, HDR + 4);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), 0);
    cr_assert_eq(out.nb_segments, 0);
    cr_assert_eq(cir_live_index_last(&out, NULL, NULL), CIR_ENOTFOUND);
    cir_live_index_free(&out);
    cir_buf_free(&b);
}

Test(live_index, every_truncation_fails_cleanly)
{
    cir_live_index_t out;
    cir_buf_t b;
    size_t n;

    encode(small_index(4), &b);
    for (n = 0; n < b.len; n++) {
        /* a copy of exactly n bytes, so ASan sees any overread */
        char *p = malloc(n ? n : 1);
        memcpy(p, b.data, n);
        cr_assert_eq(cir_live_index_decode(p, n, &out), CIR_EPARSE,
                     "length %zu", n);
        cr_assert_null(out.segments);
        free(p);
    }
    /* and a longer file (trailing garbage) too */
    cr_assert_eq(cir_buf_append(&b, "x", 1), 0);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);
}

Test(live_index, every_bit_flip_fails)
{
    cir_live_index_t out;
    cir_buf_t b;
    size_t i;

    encode(small_index(3), &b);
    for (i = 0; i < b.len * 8; i++) {
        b.data[i / 8] ^= (char)(1 << (i % 8));
        cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE,
                     "bit %zu", i);
        b.data[i / 8] ^= (char)(1 << (i % 8));
    }
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), 0);
    cir_live_index_free(&out);
    cir_buf_free(&b);
}

Test(live_index, invariants_are_checked_behind_a_valid_crc)
{
    cir_live_index_t out;
    cir_buf_t b;

    /* part range past parts[] */
    encode(small_index(4), &b);
    put32(&b, HDR + 3 * SEG + SEG_FP, (uint32_t)fx.idx.nb_parts - 1);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* msns not consecutive */
    encode(small_index(4), &b);
    put32(&b, HDR + 2 * SEG + SEG_MSN, 100);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* a segment that needs an init newer than the index knows */
    encode(small_index(4), &b);
    put32(&b, HDR + 1 * SEG + SEG_INIT, 9);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* too many parts in a segment */
    encode(small_index(4), &b);
    put32(&b, HDR + 3 * SEG + SEG_NP, CIR_LIVE_MAX_PARTS + 1);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* a count past the limit */
    encode(small_index(4), &b);
    put32(&b, HDR - 8, CIR_LIVE_MAX_SEGMENTS + 1);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* kept part records past parts[] */
    encode(small_index(5), &b);
    put32(&b, HDR + 1 * SEG + SEG_NK, 40);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* too many kept part records */
    encode(small_index(5), &b);
    put32(&b, HDR + 1 * SEG + SEG_NK, CIR_LIVE_MAX_PARTS + 1);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* the previous format versions (no part sizes; no stream timing; no
     * run anchor) */
    for (uint32_t v = 1; v <= 3; v++) {
        encode(small_index(4), &b);
        put32(&b, 8, v);
        recrc(&b);
        cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
        cir_buf_free(&b);
    }

    /* a target duration past an hour (after the part target, at HDR_TD) */
    encode(small_index(4), &b);
    put32(&b, HDR_TD, 3601);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* a negative PART-TARGET */
    encode(small_index(4), &b);
    put32(&b, HDR_TD + 4, 0xffffffffu);
    put32(&b, HDR_TD + 8, 0xffffffffu);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);

    /* an open segment that is not the last */
    encode(small_index(4), &b);
    b.data[HDR + 1 * SEG + 45] = 0;
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);
}

Test(live_index, encode_rejects_an_invalid_model)
{
    cir_live_index_t *idx = small_index(4);
    cir_buf_t b;

    cir_buf_init(&b, CIR_LIVE_INDEX_MAX_SIZE);
    idx->segments[1].msn = 3;
    cr_assert_eq(cir_live_index_encode(idx, &b), CIR_EINVAL);
    idx = small_index(4);
    idx->timescale = 0;
    cr_assert_eq(cir_live_index_encode(idx, &b), CIR_EINVAL);
    idx = small_index(4);
    idx->segments[3].nb_parts = 60;
    cr_assert_eq(cir_live_index_encode(idx, &b), CIR_EINVAL);
    /* a run cannot start before the segment before it ended */
    idx = small_index(4);
    idx->run_after_us = idx->run_pdt_us + 1;
    cr_assert_eq(cir_live_index_encode(idx, &b), CIR_EINVAL);
    cr_assert_eq(b.len, 0);
    /* a buffer too small for the index */
    cir_buf_free(&b);
    cir_buf_init(&b, 100);
    cr_assert_eq(cir_live_index_encode(small_index(4), &b), CIR_ELIMIT);
    cr_assert_eq(b.len, 0);
    cir_buf_free(&b);
}

Test(live_index, last_and_segment)
{
    cir_live_index_t *idx = small_index(5);
    uint64_t msn = 0;
    int part = 9;

    cr_assert_eq(cir_live_index_last(idx, &msn, &part), 0);
    cr_assert_eq(msn, 11);
    cr_assert_eq(part, 1); /* open segment with 2 parts */
    idx->segments[4].complete = 1;
    idx->segments[4].nb_parts = 0;
    cr_assert_eq(cir_live_index_last(idx, &msn, &part), 0);
    cr_assert_eq(part, -1);
    cr_assert_eq(cir_live_index_segment(idx, 7), &idx->segments[0]);
    cr_assert_eq(cir_live_index_segment(idx, 11), &idx->segments[4]);
    cr_assert_null(cir_live_index_segment(idx, 6));
    cr_assert_null(cir_live_index_segment(idx, 12));
    cr_assert_null(cir_live_index_segment(idx, UINT64_MAX));
}

Test(live_index, part_ranges_follow_the_sizes)
{
    cir_live_index_t *idx = small_index(6);
    uint64_t off = 99;
    uint32_t size = 0;

    /* msn 9 aged out of the playlist, its ranges kept: parts 0-3 */
    cr_assert_eq(idx->segments[2].nb_parts, 0);
    cr_assert_eq(cir_live_index_part_range(idx, 9, 0, &off, &size), 0);
    cr_assert_eq(off, 0);
    cr_assert_eq(size, 1000);
    cr_assert_eq(cir_live_index_part_range(idx, 9, 3, &off, &size), 0);
    cr_assert_eq(off, 1000 + 1001 + 1002);
    cr_assert_eq(size, 1003);
    cr_assert_eq(cir_live_index_part_range(idx, 9, 4, &off, &size),
                 CIR_ENOTFOUND);
    /* msn 10, listed: records 4-7 */
    cr_assert_eq(cir_live_index_part_range(idx, 10, 1, &off, &size), 0);
    cr_assert_eq(off, 1004);
    cr_assert_eq(size, 1005);
    /* the open segment's 2 parts; none beyond */
    cr_assert_eq(cir_live_index_part_range(idx, 12, 1, &off, &size), 0);
    cr_assert_eq(off, 1012);
    cr_assert_eq(cir_live_index_part_range(idx, 12, 2, &off, &size),
                 CIR_ENOTFOUND);
    /* aged out with no records, and outside the index */
    cr_assert_eq(cir_live_index_part_range(idx, 8, 0, &off, &size),
                 CIR_ENOTFOUND);
    cr_assert_eq(cir_live_index_part_range(idx, 13, 0, &off, &size),
                 CIR_ENOTFOUND);
}

Test(live_index, load_reads_and_checks_the_file)
{
    char dir[] = "/tmp/cirrus-lidx-XXXXXX", path[256];
    cir_live_index_t out;
    cir_buf_t b;
    FILE *f;

    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(cir_live_index_load(dir, &out), CIR_ENOTFOUND);
    encode(small_index(3), &b);
    snprintf(path, sizeof(path), "%s/index", dir);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b.data, 1, b.len, f), b.len);
    fclose(f);
    cr_assert_eq(cir_live_index_load(dir, &out), 0);
    cr_assert_eq(out.nb_segments, 3);
    cir_live_index_free(&out);
    /* a torn write: half the file */
    f = fopen(path, "wb");
    cr_assert_eq(fwrite(b.data, 1, b.len / 2, f), b.len / 2);
    fclose(f);
    cr_assert_eq(cir_live_index_load(dir, &out), CIR_EPARSE);
    unlink(path);
    rmdir(dir);
    cir_buf_free(&b);
}

Test(live_index, part_target_is_whole_milliseconds_up)
{
    cr_assert_eq(cir_live_part_target_us(0.333334), 334000);
    cr_assert_eq(cir_live_part_target_us(1.0 / 3), 334000);
    cr_assert_eq(cir_live_part_target_us(0.3), 300000);
    cr_assert_eq(cir_live_part_target_us(0.5), 500000);
    cr_assert_eq(cir_live_part_target_us(0.0001), 1000);
    cr_assert_eq(cir_live_part_target_us(0), 0);
    cr_assert_eq(cir_live_part_target_us(-1), 0);
}

Test(live_index, video_parts_are_whole_frames_that_tile_a_segment)
{
    /* 10 frames of 30 fps + half a frame */
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 30, 1), 350000);
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 30000, 1001),
                 351000);
    /* 8 or 9 frames of 25 leave a runt in 50: 10 (0.4 s) + 1/2 frame */
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 25, 1), 420000);
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 60, 1), 342000);
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 24, 1), 355000);
    /* 5 frames of 15 fps: the slack is at most 10 % of the part */
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 15, 1), 367000);
    cr_assert_eq(cir_live_video_part_target_us(0.5, 4, 30, 1), 517000);
    /* 59 frames (prime): no divisor near 10, the part in whole frames */
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 1.9666667, 30, 1),
                 350000);
    /* parts as long as the segment: no slack past the segment */
    cr_assert_eq(cir_live_video_part_target_us(2, 2, 30, 1), 2000000);
    /* no rate, or none that makes sense: the configured part */
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 0, 1), 334000);
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 30, 0), 334000);
    cr_assert_eq(cir_live_video_part_target_us(1.0 / 3, 2, 5000, 1), 334000);
    cr_assert_eq(cir_live_video_part_target_us(0.05, 2, 10, 1), 50000);
}

Test(live_index, target_duration_fits_the_first_segment)
{
    /* audio alone, or keyframes at the target: the target */
    cr_assert_eq(cir_live_decide_target_duration(2000000, 0), 2);
    cr_assert_eq(cir_live_decide_target_duration(2000000, 2002002), 2);
    cr_assert_eq(cir_live_decide_target_duration(2000000, 2005333), 2);
    cr_assert_eq(cir_live_decide_target_duration(6000000, 0), 6);
    /* keyframes every 0.77 s: 3 x 0.77 = 2.31 s segments */
    cr_assert_eq(cir_live_decide_target_duration(2000000, 2310000), 3);
    /* a passthrough with 4 s GOPs: segments of 4 s, target 4 */
    cr_assert_eq(cir_live_decide_target_duration(2000000, 4000000), 4);
    cr_assert_eq(cir_live_decide_target_duration(2000000, 4004000), 4);
    /* capped at CIR_LIVE_TD_FACTOR x the target */
    cr_assert_eq(cir_live_max_target_duration(2000000), 2 * CIR_LIVE_TD_FACTOR);
    cr_assert_eq(cir_live_decide_target_duration(2000000, 60000000),
                 2 * CIR_LIVE_TD_FACTOR);
    /* a tiny target still gives 1 */
    cr_assert_eq(cir_live_decide_target_duration(50000, 0), 1);
    /* every segment below the limit rounds to at most the target */
    for (uint32_t td = 1; td < 10; td++) {
        int64_t limit = cir_live_segment_limit_us(td);
        cr_assert_eq((limit + 500000) / 1000000, td, "td %u", td);
        cr_assert_eq((limit + 1 + 500000) / 1000000, td + 1, "td %u", td);
    }
}

Test(live_index, parts_listed_near_the_end_only)
{
    /* 4 s segments, TD 4: the last three (the open one counted) and within
     * 12 s of the end */
    cir_live_index_t *idx = small_index(6);

    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(cir_live_parts_listed(idx, i), i >= 3, "segment %zu", i);
    }
    /* a longer target: still only three segments */
    idx->target_duration = 10;
    cr_assert_not(cir_live_parts_listed(idx, 2));
    cr_assert(cir_live_parts_listed(idx, 3));
    /* a short target: 3 x 1 s reaches back into the open segment only */
    idx->target_duration = 1;
    cr_assert_not(cir_live_parts_listed(idx, 4));
    cr_assert(cir_live_parts_listed(idx, 5), "the open segment's parts");
    cr_assert_not(cir_live_parts_listed(idx, 6), "no such segment");

    /* all complete: the hinted next segment counts as one of the three */
    idx = small_index(6);
    idx->segments[5].complete = 1;
    cr_assert_not(cir_live_parts_listed(idx, 3));
    cr_assert(cir_live_parts_listed(idx, 4));
    /* ended: no hint */
    idx->ended = 1;
    cr_assert(cir_live_parts_listed(idx, 3));
    cr_assert_not(cir_live_parts_listed(idx, 2));
}

/* ---- key records (an encrypted rendition's) ---- */

static cir_live_key_t keys[2];

/* Two key records on small_index's two inits (the second from init 2),
 * the second with every system's signalling. */
static cir_live_index_t *
keyed_index(size_t n)
{
    cir_live_index_t *idx = small_index(n);

    memset(keys, 0, sizeof(keys));
    for (int i = 0; i < 2; i++) {
        cir_live_key_t *k = &keys[i];
        k->from_init = (uint32_t)i + 1;
        k->scheme = i ? CIR_ENC_CBCS : CIR_ENC_CENC;
        memset(k->key_id, 0x11 * (i + 1), 16);
        k->systems = CIR_DRM_BIT(CIR_DRM_CLEARKEY);
        k->pssh_len[CIR_DRM_CLEARKEY] = 52;
        memset(k->pssh[CIR_DRM_CLEARKEY], 'c' + i, 52);
    }
    keys[1].systems |=
        CIR_DRM_BIT(CIR_DRM_PLAYREADY) | CIR_DRM_BIT(CIR_DRM_FAIRPLAY);
    keys[1].pssh_len[CIR_DRM_PLAYREADY] = 300;
    memset(keys[1].pssh[CIR_DRM_PLAYREADY], 'p', 300);
    keys[1].playready_pro_len = 250;
    memset(keys[1].playready_pro, 'r', 250);
    snprintf(keys[1].fairplay_key_uri, sizeof(keys[1].fairplay_key_uri),
             "skd://live-42");
    idx->keys = keys;
    idx->nb_keys = 2;
    return idx;
}

Test(live_index, key_records_round_trip)
{
    cir_live_index_t *in = keyed_index(5), out;
    cir_buf_t b, b2;

    encode(in, &b);
    cr_assert_gt(b.len, HDR + 5 * SEG + in->nb_parts * PART + 4);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), 0);
    cr_assert_eq(out.nb_keys, 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(memcmp(&out.keys[i], &keys[i], sizeof(keys[i])), 0,
                     "key %d", i);
    }
    /* which key an init's media needs */
    cr_expect_eq(cir_live_index_key(&out, 1), &out.keys[0]);
    cr_expect_eq(cir_live_index_key(&out, 2), &out.keys[1]);
    cr_expect_eq(cir_live_index_key(&out, 3), &out.keys[1]);
    cr_expect_null(cir_live_index_key(&out, 0));
    encode(&out, &b2);
    cr_assert_eq(b2.len, b.len);
    cr_assert_eq(memcmp(b2.data, b.data, b.len), 0);
    cir_live_index_free(&out);
    cr_assert_null(out.keys);
    cir_buf_free(&b);
    cir_buf_free(&b2);

    /* without keys: clear, and as long as before */
    in->nb_keys = 0;
    encode(in, &b);
    cr_assert_eq(b.len, HDR + 5 * SEG + in->nb_parts * PART + 4);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), 0);
    cr_expect_eq(out.nb_keys, 0);
    cr_expect_null(cir_live_index_key(&out, 1));
    cir_live_index_free(&out);
    cir_buf_free(&b);
}

Test(live_index, a_key_section_cut_short_or_padded_fails)
{
    cir_live_index_t out;
    cir_buf_t b;
    size_t base;

    encode(keyed_index(3), &b);
    base = HDR + 3 * SEG + fx.idx.nb_parts * PART;
    /* every length between the clear index (base + CRC) and the whole, CRC
     * made right:
     * the key section's own bounds refuse it */
    for (size_t n = base + 4 + 1; n < b.len; n++) {
        cir_buf_t c;
        cir_buf_init(&c, CIR_LIVE_INDEX_MAX_SIZE);
        cr_assert_eq(cir_buf_append(&c, b.data, n - 4), 0);
        cr_assert_eq(cir_buf_append(&c, "\0\0\0\0", 4), 0);
        recrc(&c);
        cr_assert_eq(cir_live_index_decode(c.data, c.len, &out), CIR_EPARSE,
                     "length %zu", n);
        cr_assert_null(out.keys);
        cir_buf_free(&c);
    }
    /* a blob length past the section */
    put32(&b, base + 4 + 25, 0xffff);
    recrc(&b);
    cr_assert_eq(cir_live_index_decode(b.data, b.len, &out), CIR_EPARSE);
    cir_buf_free(&b);
}

Test(live_index, bad_key_records_are_refused)
{
    cir_live_index_t *in;
    cir_buf_t b;

    cir_buf_init(&b, CIR_LIVE_INDEX_MAX_SIZE);
    in = keyed_index(3);
    keys[1].from_init = 1; /* not after the one before */
    cr_expect_eq(cir_live_index_encode(in, &b), CIR_EINVAL);
    in = keyed_index(3);
    keys[1].from_init = 4; /* past the next init (init_id is 2) */
    cr_expect_eq(cir_live_index_encode(in, &b), CIR_EINVAL);
    in = keyed_index(3);
    keys[0].scheme = CIR_ENC_AES128;
    cr_expect_eq(cir_live_index_encode(in, &b), CIR_EINVAL);
    in = keyed_index(3);
    snprintf(keys[1].fairplay_key_uri, sizeof(keys[1].fairplay_key_uri),
             "skd://a\"b");
    cr_expect_eq(cir_live_index_encode(in, &b), CIR_EINVAL);
    in = keyed_index(3);
    keys[0].pssh_len[CIR_DRM_WIDEVINE] = CIR_SPEKE_PSSH_MAX + 1;
    cr_expect_eq(cir_live_index_encode(in, &b), CIR_EINVAL);
    in = keyed_index(3);
    keys[0].systems = 0;
    cr_expect_eq(cir_live_index_encode(in, &b), CIR_EINVAL);
    cr_expect_eq(b.len, 0);
    cir_buf_free(&b);
}
