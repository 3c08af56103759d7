/*
 * Part 0 of a GAP segment: a CMAF chunk without a sample, at the gap's
 * decode time (what a part hinted before an outage answers; see
 * origin/src/live_gap.c): moof (mfhd, traf (tfhd, tfdt v1, trun with no
 * sample)) and an empty mdat, every size consistent; and the chunk of
 * samples an outage's silent audio is made of.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "cir_error.h"
#include "cir_live.h"

static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* The box at p: its size, checked against its type and what is left. */
static uint32_t
expect_box(const uint8_t *p, size_t left, const char *type)
{
    uint32_t size = rd32(p);

    cr_assert_geq(left, 8);
    cr_assert_eq(memcmp(p + 4, type, 4), 0, "%.4s, not %s", p + 4, type);
    cr_assert_leq(size, left, "%s: %u bytes, %zu left", type, size, left);
    return size;
}

Test(live_gap, a_chunk_without_a_sample_at_the_gaps_start)
{
    cir_live_segment_t gap = {.msn = 7,
                              .start = INT64_C(0x123456789),
                              .duration = 32000,
                              .gap = 1,
                              .complete = 1};
    cir_buf_t out;
    const uint8_t *p, *end;
    uint32_t moof;

    cir_buf_init(&out, 1 << 10);
    cr_assert_eq(cir_live_gap_chunk(&out, &gap), 0);
    cr_assert_eq(out.len, CIR_LIVE_GAP_CHUNK_SIZE);
    p = (const uint8_t *)out.data;
    end = p + out.len;
    moof = expect_box(p, out.len, "moof");
    p += 8;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "mfhd"), 16);
    cr_assert_eq(rd32(p + 12), 7, "sequence number: the MSN");
    p += 16;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "traf"), moof - 24);
    p += 8;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "tfhd"), 16);
    cr_assert_eq(rd32(p + 8) & 0x020000, 0x020000, "default-base-is-moof");
    cr_assert_eq(rd32(p + 12), 1, "the live store's track");
    p += 16;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "tfdt"), 20);
    cr_assert_eq(p[8], 1, "version 1");
    cr_assert_eq(((uint64_t)rd32(p + 12) << 32 | rd32(p + 16)),
                 (uint64_t)gap.start);
    p += 20;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "trun"), 16);
    cr_assert_eq(rd32(p + 12), 0, "no sample");
    p += 16;
    cr_assert_eq(p, (const uint8_t *)out.data + moof);
    cr_assert_eq(expect_box(p, (size_t)(end - p), "mdat"), 8);
    cr_assert_eq(p + 8, end);
    cir_buf_free(&out);
}

Test(live_gap, only_for_a_gap_segment)
{
    cir_live_segment_t media = {.msn = 7, .start = 0, .complete = 1};
    cir_buf_t out;

    cir_buf_init(&out, 1 << 10);
    cr_assert_eq(cir_live_gap_chunk(&out, &media), CIR_EINVAL);
    cr_assert_eq(cir_live_gap_chunk(&out, NULL), CIR_EINVAL);
    cr_assert_eq(out.len, 0);
    cir_buf_free(&out);
}

/* An outage's silent audio: moof (mfhd, traf (tfhd with sync-sample
 * flags, tfdt v1, trun with each duration and size, its data offset at the
 * mdat's payload)) and the mdat holding the samples as given. */
Test(live_gap, a_chunk_of_samples)
{
    const uint32_t durations[3] = {1024, 1024, 1023}, sizes[3] = {23, 6, 6};
    uint8_t data[35];
    cir_buf_t out;
    const uint8_t *p, *end, *moof_at;
    uint32_t moof;

    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)i;
    }
    cir_buf_init(&out, 1 << 10);
    cr_assert_eq(cir_live_media_chunk(&out, 9, INT64_C(0x100000400), durations,
                                      sizes, 3, data, sizeof(data)),
                 0);
    moof_at = p = (const uint8_t *)out.data;
    end = p + out.len;
    moof = expect_box(p, out.len, "moof");
    p += 8;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "mfhd"), 16);
    cr_assert_eq(rd32(p + 12), 9);
    p += 16;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "traf"), moof - 24);
    p += 8;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "tfhd"), 20);
    cr_assert_eq(rd32(p + 8), 0x020020, "base-is-moof, default flags");
    cr_assert_eq(rd32(p + 12), 1);
    cr_assert_eq(rd32(p + 16), 0x02000000, "sync samples");
    p += 20;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "tfdt"), 20);
    cr_assert_eq(((uint64_t)rd32(p + 12) << 32 | rd32(p + 16)),
                 UINT64_C(0x100000400));
    p += 20;
    cr_assert_eq(expect_box(p, (size_t)(end - p), "trun"), 20 + 3 * 8);
    cr_assert_eq(rd32(p + 8), 0x000301, "data offset, durations, sizes");
    cr_assert_eq(rd32(p + 12), 3);
    cr_assert_eq(rd32(p + 16), moof + 8, "data offset: the mdat's payload");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(rd32(p + 20 + 8 * i), durations[i]);
        cr_assert_eq(rd32(p + 24 + 8 * i), sizes[i]);
    }
    p += 20 + 3 * 8;
    cr_assert_eq(p, moof_at + moof);
    cr_assert_eq(expect_box(p, (size_t)(end - p), "mdat"), 8 + sizeof(data));
    cr_assert_eq(memcmp(p + 8, data, sizeof(data)), 0);
    cr_assert_eq(p + 8 + sizeof(data), end);
    cir_buf_free(&out);
}

Test(live_gap, a_chunk_needs_samples)
{
    const uint32_t one = 1;
    uint8_t b = 0;
    cir_buf_t out;

    cir_buf_init(&out, 1 << 10);
    cr_assert_eq(cir_live_media_chunk(&out, 1, 0, &one, &one, 0, &b, 1),
                 CIR_EINVAL);
    cr_assert_eq(cir_live_media_chunk(&out, 1, -1, &one, &one, 1, &b, 1),
                 CIR_EINVAL);
    cr_assert_eq(cir_live_media_chunk(&out, 1, 0, NULL, &one, 1, &b, 1),
                 CIR_EINVAL);
    cr_assert_eq(out.len, 0);
    cir_buf_free(&out);
}
