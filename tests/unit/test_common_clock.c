#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "cir_clock.h"
#include "cir_error.h"

Test(common_clock, fixed_clock_reads_what_it_was_set_to)
{
    cir_clock_t c;

    cir_clock_fixed_init(&c, 1000);
    cr_assert_eq(cir_clock_wall_us(&c), 1000);
    cr_assert_eq(cir_clock_mono_us(&c), 1000);
    cir_clock_fixed_advance(&c, 500);
    cr_assert_eq(cir_clock_wall_us(&c), 1500);
    cr_assert_eq(cir_clock_mono_us(&c), 1500);
    cir_clock_fixed_set(&c, 7);
    cr_assert_eq(cir_clock_wall_us(&c), 7);
    cir_clock_fixed_advance(&c, -7);
    cr_assert_eq(cir_clock_mono_us(&c), 0);
}

Test(common_clock, system_wall_clock_is_the_epoch_time)
{
    const cir_clock_t *c = cir_clock_system();
    /* time() may read a coarser clock than clock_gettime(): a second of
     * slack either way */
    int64_t before = ((int64_t)time(NULL) - 1) * 1000000;
    int64_t now = cir_clock_wall_us(c);
    int64_t after = ((int64_t)time(NULL) + 1) * 1000000;

    cr_assert_geq(now, before);
    cr_assert_leq(now, after);
}

Test(common_clock, system_monotonic_clock_advances)
{
    const cir_clock_t *c = cir_clock_system();
    struct timespec ts = {0, 2000000};
    int64_t a = cir_clock_mono_us(c), b;

    nanosleep(&ts, NULL);
    b = cir_clock_mono_us(c);
    cr_assert_geq(b - a, 2000);
    cr_assert_lt(b - a, 5000000);
}

Test(common_clock, iso8601_known_instants)
{
    char s[32];

    cr_assert_eq(cir_clock_format_iso8601(0, s, sizeof(s)), 0);
    cr_assert_str_eq(s, "1970-01-01T00:00:00.000Z");
    cr_assert_eq(cir_clock_format_iso8601(1700000000123456LL, s, sizeof(s)), 0);
    cr_assert_str_eq(s, "2023-11-14T22:13:20.123Z");
    /* 2024 is a leap year */
    cr_assert_eq(cir_clock_format_iso8601(1709164800999999LL, s, sizeof(s)), 0);
    cr_assert_str_eq(s, "2024-02-29T00:00:00.999Z");
}

Test(common_clock, iso8601_before_the_epoch_rounds_down)
{
    char s[32];

    cr_assert_eq(cir_clock_format_iso8601(-1, s, sizeof(s)), 0);
    cr_assert_str_eq(s, "1969-12-31T23:59:59.999Z");
    cr_assert_eq(cir_clock_format_iso8601(-1500000, s, sizeof(s)), 0);
    cr_assert_str_eq(s, "1969-12-31T23:59:58.500Z");
}

Test(common_clock, iso8601_needs_room)
{
    char s[24];

    memset(s, 'x', sizeof(s));
    cr_assert_eq(cir_clock_format_iso8601(0, s, sizeof(s)), CIR_ELIMIT);
    cr_assert_str_eq(s, "");
    cr_assert_eq(cir_clock_format_iso8601(0, s, 0), CIR_EINVAL);
    cr_assert_eq(cir_clock_format_iso8601(0, NULL, 10), CIR_EINVAL);
}

Test(common_clock, iso8601_rejects_years_past_9999)
{
    char s[32];

    cr_assert_eq(cir_clock_format_iso8601(INT64_MAX / 2, s, sizeof(s)),
                 CIR_EINVAL);
}

/* The parser reads what the formatter writes, a fraction of any length or
 * none, and nothing else (0). */
Test(common_clock, iso8601_parses_back)
{
    char buf[32];

    cr_assert_eq(cir_clock_format_iso8601(1795771791123000, buf, sizeof(buf)),
                 0);
    cr_expect_eq(cir_clock_parse_iso8601(buf), 1795771791123000);
    cr_expect_eq(cir_clock_parse_iso8601("2026-11-27T08:49:51Z"),
                 1795769391000000);
    cr_expect_eq(cir_clock_parse_iso8601("2026-11-27T08:49:51.5Z"),
                 1795769391500000);
    cr_expect_eq(cir_clock_parse_iso8601("2026-11-27T08:49:51.123456Z"),
                 1795769391123456);
    cr_expect_eq(cir_clock_parse_iso8601("2026-11-27T08:49:51"), 0);
    cr_expect_eq(cir_clock_parse_iso8601("2026-11-27T08:49:51Zjunk"), 0);
    cr_expect_eq(cir_clock_parse_iso8601("2026-13-27T08:49:51Z"), 0);
    cr_expect_eq(cir_clock_parse_iso8601("2026-11-27T24:49:51Z"), 0);
    cr_expect_eq(cir_clock_parse_iso8601("yesterday"), 0);
    cr_expect_eq(cir_clock_parse_iso8601("-001-11-27T08:49:51Z"), 0);
    cr_expect_eq(cir_clock_parse_iso8601("1969-12-31T23:59:59Z"), 0);
    cr_expect_eq(cir_clock_parse_iso8601(NULL), 0);
}
