/*
 * Clocks (cir_clock.h): the system's wall and monotonic clocks in
 * microseconds, and a fixed clock that tests set and advance.
 */
#include <ctype.h>
#include <stdio.h>
#include <time.h>

#include "cir_clock.h"
#include "cir_error.h"

static int64_t
timespec_us(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
system_wall_us(const cir_clock_t *c)
{
    (void)c;
    return timespec_us(CLOCK_REALTIME);
}

static int64_t
system_mono_us(const cir_clock_t *c)
{
    (void)c;
    return timespec_us(CLOCK_MONOTONIC);
}

static int64_t
fixed_us(const cir_clock_t *c)
{
    return c->fixed_us;
}

static const cir_clock_t system_clock = {
    .wall_us = system_wall_us,
    .mono_us = system_mono_us,
    .fixed_us = 0,
};

const cir_clock_t *
cir_clock_system(void)
{
    return &system_clock;
}

void
cir_clock_fixed_init(cir_clock_t *c, int64_t us)
{
    c->wall_us = fixed_us;
    c->mono_us = fixed_us;
    c->fixed_us = us;
}

void
cir_clock_fixed_set(cir_clock_t *c, int64_t us)
{
    c->fixed_us = us;
}

void
cir_clock_fixed_advance(cir_clock_t *c, int64_t us)
{
    c->fixed_us += us;
}

int
cir_clock_format_iso8601(int64_t wall_us, char *out, size_t size)
{
    struct tm tm;
    time_t sec;
    int64_t rem, ms;
    int n;

    if (out == NULL || size == 0) {
        return CIR_EINVAL;
    }
    out[0] = '\0';
    /* floor division so times before 1970 still format correctly */
    sec = (time_t)(wall_us / 1000000);
    rem = wall_us % 1000000;
    if (rem < 0) {
        sec -= 1;
        rem += 1000000;
    }
    ms = rem / 1000;
    if (gmtime_r(&sec, &tm) == NULL || tm.tm_year + 1900 < 0 ||
        tm.tm_year + 1900 > 9999) {
        return CIR_EINVAL;
    }
    n = snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)ms);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return CIR_ELIMIT;
    }
    return 0;
}

int64_t
cir_clock_parse_iso8601(const char *s)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, n = 0;
    int64_t us = 0;

    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h,
                            &mi, &sec, &n) != 6) {
        return 0;
    }
    s += n;
    if (*s == '.') {
        int64_t scale = 100000;
        for (s++; isdigit((unsigned char)*s); s++) {
            us += (*s - '0') * scale;
            scale /= 10;
        }
    }
    if (*s != 'Z' || s[1] != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
        d > 31 || h > 23 || mi > 59 || sec > 60) {
        return 0;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm) * 1000000 + us;
}
