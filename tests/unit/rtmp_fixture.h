/*
 * RTMP byte-stream helpers shared by the chunk and connection tests: build
 * chunk headers by hand, and read a stream back into its messages with the
 * chunk reader.  Header-only: each test binary links one library.
 */
#ifndef CIR_TEST_RTMP_FIXTURE_H
#define CIR_TEST_RTMP_FIXTURE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "cir_error.h"
#include "cir_rtmp.h"

typedef struct {
    uint8_t b[70000];
    size_t n;
} bytes_t;

static __attribute__((unused)) void
put(bytes_t *s, const void *p, size_t n)
{
    cr_assert_leq(s->n + n, sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static __attribute__((unused)) void
put_basic(bytes_t *s, int fmt, uint32_t csid)
{
    uint8_t h[3];

    if (csid < 64) {
        h[0] = (uint8_t)(fmt << 6 | csid);
        put(s, h, 1);
    } else if (csid < 320) {
        h[0] = (uint8_t)(fmt << 6);
        h[1] = (uint8_t)(csid - 64);
        put(s, h, 2);
    } else {
        h[0] = (uint8_t)(fmt << 6 | 1);
        h[1] = (uint8_t)((csid - 64) & 0xff);
        h[2] = (uint8_t)((csid - 64) >> 8);
        put(s, h, 3);
    }
}

static __attribute__((unused)) void
put24(bytes_t *s, uint32_t v)
{
    uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(s, b, 3);
}

static __attribute__((unused)) void
put32(bytes_t *s, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    put(s, b, 4);
}

static __attribute__((unused)) void
put_fmt0(bytes_t *s, uint32_t csid, uint32_t ts, uint32_t len, uint8_t type,
         uint32_t sid)
{
    uint8_t le[4] = {(uint8_t)sid, (uint8_t)(sid >> 8), (uint8_t)(sid >> 16),
                     (uint8_t)(sid >> 24)};
    put_basic(s, 0, csid);
    put24(s, ts >= 0xffffff ? 0xffffff : ts);
    put24(s, len);
    put(s, &type, 1);
    put(s, le, 4);
    if (ts >= 0xffffff) {
        put32(s, ts);
    }
}

/* A type-2 chunk (only a timestamp delta: the length, type and stream of the
 * message before) on csid with n bytes of payload. */
static __attribute__((unused)) void
put_type2(bytes_t *s, uint32_t csid, uint32_t delta, const void *p, size_t n)
{
    put_basic(s, 2, csid);
    put24(s, delta);
    put(s, p, n);
}

/* A type-3 chunk (the header of the one before it) on csid with n bytes of
 * its payload. */
static __attribute__((unused)) void
put_type3(bytes_t *s, uint32_t csid, const void *p, size_t n)
{
    put_basic(s, 3, csid);
    put(s, p, n);
}

/* A type-3 chunk that repeats the extended timestamp ext before its n bytes
 * of payload, as peers that repeat it in every chunk send it. */
static __attribute__((unused)) void
put_type3_ext(bytes_t *s, uint32_t csid, uint32_t ext, const void *p, size_t n)
{
    put_basic(s, 3, csid);
    put32(s, ext);
    put(s, p, n);
}

/* Feeds everything, byte by byte when asked; collects up to 16 messages. */
typedef struct {
    cir_rtmp_msg_t m[16];
    uint8_t data[16][8192];
    int count;
} got_t;

static __attribute__((unused)) int
feed_all(cir_rtmp_reader_t *r, const bytes_t *s, size_t step, got_t *g)
{
    size_t pos = 0, used;
    cir_rtmp_msg_t m;
    int ret;

    g->count = 0;
    while (pos < s->n) {
        size_t k = s->n - pos < step ? s->n - pos : step;
        for (;;) {
            ret = cir_rtmp_reader_feed(r, s->b + pos, k, &used, &m);
            pos += used;
            k -= used;
            if (ret == CIR_EAGAIN) {
                break;
            }
            if (ret < 0) {
                return ret;
            }
            cr_assert_lt(g->count, 16);
            g->m[g->count] = m;
            cr_assert_leq(m.size, sizeof(g->data[0]));
            memcpy(g->data[g->count], m.data, m.size);
            /* the payload goes to FFmpeg as is: zero padding after it */
            for (size_t i = 0; m.data != NULL && i < CIR_RTMP_MSG_PADDING;
                 i++) {
                cr_assert_eq(m.data[m.size + i], 0, "padding byte %zu", i);
            }
            g->count++;
        }
    }
    return 0;
}

#endif
