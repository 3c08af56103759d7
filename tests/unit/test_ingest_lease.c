/*
 * Lease decisions on a fixed clock: extensions a third of the window after
 * the last confirmed one, attempts bounded by the fence, retries, expiry
 * at the fence (before the lease's end), revocation.
 */
#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_lease.h"

#define S 1000000LL /* one second in microseconds */

static cir_lease_config_t
cfg12(void)
{
    cir_lease_config_t c;
    cir_lease_config_for(&c, 12 * S, 2 * S, 20 * S);
    return c;
}

Test(ingest_lease, config_for_a_window)
{
    cir_lease_config_t c = cfg12();

    cr_assert_eq(c.window_us, 12 * S);
    cr_assert_eq(c.margin_us, 2 * S);
    cr_assert_eq(c.attempt_max_us, 2 * S, "at most a sixth of the window");
    cr_assert_eq(c.retry_us, 1 * S);
    cr_assert_eq(cir_lease_config_check(&c), 0);
    cir_lease_config_for(&c, 120 * S, 2 * S, 20 * S);
    cr_assert_eq(c.attempt_max_us, 20 * S);
    cir_lease_config_for(&c, 3 * S, 2 * S, 20 * S);
    cr_assert_eq(c.margin_us, S / 2, "a short window keeps room to extend");
    cr_assert_eq(cir_lease_config_check(&c), 0);
    c.margin_us = 2 * S;
    cr_assert_eq(cir_lease_config_check(&c), CIR_EINVAL);
    c = cfg12();
    c.attempt_max_us = 0;
    cr_assert_eq(cir_lease_config_check(&c), CIR_EINVAL);
}

Test(ingest_lease, extends_at_a_third_of_the_window)
{
    cir_lease_config_t c = cfg12();
    cir_lease_t l;
    int64_t at = 0;

    cir_lease_init(&l, &c, 100 * S);
    cr_assert_eq(l.end_us, 112 * S);
    cr_assert_eq(cir_lease_next(&l, 100 * S, &at), CIR_LEASE_WAIT);
    cr_assert_eq(at, 104 * S);
    cr_assert_eq(cir_lease_next(&l, 104 * S, &at), CIR_LEASE_EXTEND);
    cr_assert_eq(at, 2 * S, "one attempt is bounded");
    cir_lease_done(&l, 104 * S, 104 * S + 30000, 0);
    cr_assert_eq(l.end_us, 116 * S, "counted from when it was sent");
    cr_assert_eq(l.extensions, 1);
    cr_assert_eq(cir_lease_next(&l, 105 * S, &at), CIR_LEASE_WAIT);
    cr_assert_eq(at, 108 * S);
}

Test(ingest_lease, a_hung_attempt_is_retried_before_the_fence)
{
    cir_lease_config_t c = cfg12();
    cir_lease_t l;
    int64_t at = 0;

    cir_lease_init(&l, &c, 0);
    cr_assert_eq(cir_lease_next(&l, 4 * S, &at), CIR_LEASE_EXTEND);
    cir_lease_done(&l, 4 * S, 6 * S, CIR_ETRANSIENT); /* timed out */
    cr_assert_eq(l.state, CIR_LEASE_HELD);
    cr_assert_eq(cir_lease_next(&l, 6 * S, &at), CIR_LEASE_WAIT);
    cr_assert_eq(at, 7 * S);
    cr_assert_eq(cir_lease_next(&l, 7 * S, &at), CIR_LEASE_EXTEND);
    cir_lease_done(&l, 7 * S, 7 * S + 5000, 0);
    cr_assert_eq(l.end_us, 19 * S);
    cr_assert_eq(l.failures, 1);
}

Test(ingest_lease, no_confirmed_extension_by_the_fence_expires)
{
    cir_lease_config_t c = cfg12();
    cir_lease_t l;
    int64_t at = 0;

    cir_lease_init(&l, &c, 0);
    cr_assert_eq(cir_lease_next(&l, 4 * S, &at), CIR_LEASE_EXTEND);
    cir_lease_done(&l, 4 * S, 6 * S, CIR_ETRANSIENT);
    cr_assert_eq(cir_lease_next(&l, 9 * S, &at), CIR_LEASE_EXTEND);
    cr_assert_eq(at, 1 * S, "an attempt never runs past the fence");
    cir_lease_done(&l, 9 * S, 10 * S, CIR_ETRANSIENT);
    cr_assert_eq(cir_lease_next(&l, 10 * S, &at), CIR_LEASE_STOP);
    cr_assert_eq(l.state, CIR_LEASE_EXPIRED);
    cr_assert_lt(10 * S, l.end_us, "lost before the lease's end");
    cr_assert_eq(cir_lease_next(&l, 11 * S, &at), CIR_LEASE_STOP);
}

Test(ingest_lease, a_late_wakeup_past_the_fence_expires)
{
    cir_lease_config_t c = cfg12();
    cir_lease_t l;
    int64_t at = 0;

    cir_lease_init(&l, &c, 0);
    cr_assert_eq(cir_lease_next(&l, 3 * S, &at), CIR_LEASE_WAIT);
    cr_assert_eq(cir_lease_next(&l, 10 * S, &at), CIR_LEASE_STOP);
    cr_assert_eq(l.state, CIR_LEASE_EXPIRED);
}

Test(ingest_lease, the_service_revokes_it)
{
    cir_lease_config_t c = cfg12();
    cir_lease_t l;
    int64_t at = 0;

    cir_lease_init(&l, &c, 0);
    cr_assert_eq(cir_lease_next(&l, 4 * S, &at), CIR_LEASE_EXTEND);
    cir_lease_done(&l, 4 * S, 4 * S + 2000, CIR_ENOTFOUND);
    cr_assert_eq(l.state, CIR_LEASE_REVOKED);
    cr_assert_eq(cir_lease_next(&l, 4 * S + 2000, &at), CIR_LEASE_STOP);
    cir_lease_done(&l, 5 * S, 5 * S, 0);
    cr_assert_eq(l.state, CIR_LEASE_REVOKED, "a lost lease stays lost");
    cr_assert_str_eq(cir_lease_state_name(l.state), "revoked");
}
