/*
 * An injectable clock, after curl's: time-dependent code takes a cir_clock_t
 * so tests can run it on a fixed or stepped clock.
 */
#ifndef CIR_CLOCK_H
#define CIR_CLOCK_H

#include <stddef.h>
#include <stdint.h>

typedef struct cir_clock {
    /* microseconds: wall = since the Unix epoch, mono = arbitrary origin */
    int64_t (*wall_us)(const struct cir_clock *c);
    int64_t (*mono_us)(const struct cir_clock *c);
    int64_t fixed_us; /* used by the fixed clock */
} cir_clock_t;

/* The system clock (CLOCK_REALTIME, CLOCK_MONOTONIC). */
const cir_clock_t *cir_clock_system(void);
/* A clock that always reads fixed_us for both; move it with the setter. */
void cir_clock_fixed_init(cir_clock_t *c, int64_t us);
void cir_clock_fixed_set(cir_clock_t *c, int64_t us);
void cir_clock_fixed_advance(cir_clock_t *c, int64_t us);

static inline int64_t
cir_clock_wall_us(const cir_clock_t *c)
{
    return c->wall_us(c);
}

static inline int64_t
cir_clock_mono_us(const cir_clock_t *c)
{
    return c->mono_us(c);
}

/* ISO 8601 UTC with milliseconds: "2026-11-27T08:49:51.123Z". */
int cir_clock_format_iso8601(int64_t wall_us, char *out, size_t size);
/* "2026-11-27T08:49:51.123Z" (the fraction optional, any number of digits)
 * into Unix microseconds, from 1970 on; 0 when it is not exactly that (S3
 * events' eventTime, AWS credentials' Expiration). */
int64_t cir_clock_parse_iso8601(const char *s);

#endif
