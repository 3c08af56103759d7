/*
 * Live key rotation's schedule (transcoder/src/live_keys.c) against a key
 * provider that cannot be reached: the first period asked for gets the
 * stream's own key at once, every rendition the same; a later period is
 * CIR_EAGAIN while asked for (one period ahead, by the schedule's thread),
 * then the provider's error, asked again a second later, never blocking
 * the caller.  Against a provider that answers late (a loopback SPEKE v2
 * responder, speke_fixture.h): a key that came after one rendition went
 * on without it is used from the same segment in every rendition.  The
 * AWS rig's key server: tests/integration/live_encryption.test.mjs.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "cir_error.h"
#include "live_keys.h"
#include "speke_fixture.h"

static cir_encryption_t
base(void)
{
    cir_encryption_t e;

    memset(&e, 0, sizeof(e));
    e.scheme = CIR_ENC_CENC;
    memset(e.key_id, 0x42, 16);
    memset(e.key, 0x24, 16);
    e.drm.systems = CIR_DRM_BIT(CIR_DRM_CLEARKEY);
    /* a port nothing listens on: refused at once */
    snprintf(e.speke.url, sizeof(e.speke.url), "http://127.0.0.1:9/v2");
    snprintf(e.speke.resource_id, sizeof(e.speke.resource_id), "live-1");
    return e;
}

Test(live_keys, first_period_is_the_streams_key_later_ones_are_asked_for,
     .timeout = 60)
{
    cir_encryption_t b = base(), got;
    cir_live_keys_t *k = NULL;
    int ret = CIR_EAGAIN;

    cr_assert_eq(cir_live_keys_open(&k, &b, 3), 0);
    cr_assert_eq(cir_live_keys_rotate(k), 3);
    cr_assert_eq(cir_live_keys_get(k, 5, 15, &got), 0);
    cr_assert_eq(memcmp(got.key_id, b.key_id, 16), 0);
    cr_assert_eq(memcmp(got.key, b.key, 16), 0);
    /* another rendition, the same period: the same key */
    memset(&got, 0, sizeof(got));
    cr_assert_eq(cir_live_keys_get(k, 5, 15, &got), 0);
    cr_assert_eq(memcmp(got.key_id, b.key_id, 16), 0);
    /* the next period was asked for when period 5 was: the provider is
     * down, so not there (EAGAIN) and then its error */
    for (int i = 0; i < 400 && ret == CIR_EAGAIN; i++) {
        ret = cir_live_keys_get(k, 6, 18, &got);
        if (ret == CIR_EAGAIN) {
            usleep(25000);
        }
    }
    cr_assert_lt(ret, 0);
    cr_assert_neq(ret, CIR_EAGAIN, "the provider's error comes back");
    cr_assert_geq(cir_live_keys_fetched(k), 1);
    cir_live_keys_free(&k);
    cr_assert_null(k);
}

Test(live_keys, refused_without_a_provider_or_a_period)
{
    cir_encryption_t b = base();
    cir_live_keys_t *k = NULL;

    cr_expect_eq(cir_live_keys_open(&k, &b, 0), CIR_EINVAL);
    b.speke.url[0] = '\0';
    cr_expect_eq(cir_live_keys_open(&k, &b, 2), CIR_EINVAL);
    cr_expect_null(k);
}

/* Waits until the provider was asked (and answered) n times. */
static void
wait_fetched(cir_live_keys_t *k, uint32_t n)
{
    for (int i = 0; i < 400 && cir_live_keys_fetched(k) < n; i++) {
        usleep(25000);
    }
    cr_assert_geq(cir_live_keys_fetched(k), n);
}

/*
 * Two renditions (A, B) with a key every 2 segments; period 1's key comes
 * late: A opens segment 2 without it and goes on with period 0's key.  B
 * opens segment 2 once it came, and is refused it too, or B's segment 2
 * would have a new init and a discontinuity A's has not (hls.js pairs
 * renditions by discontinuity sequence); both take it at segment 3.
 */
Test(live_keys, a_late_key_is_taken_at_the_same_segment_by_every_rendition,
     .timeout = 60)
{
    cir_encryption_t b = base(), got;
    cir_live_keys_t *k = NULL;
    speke_fx_t fx;
    uint8_t want[16];

    speke_fx_start(&fx);
    atomic_store(&fx.hold, 1);
    snprintf(b.speke.url, sizeof(b.speke.url), "http://127.0.0.1:%d/v2",
             fx.port);
    cr_assert_eq(cir_live_keys_open(&k, &b, 2), 0);
    cr_assert_eq(cir_live_keys_get(k, 0, 0, &got), 0, "A: the stream's key");
    cr_assert_eq(cir_live_keys_get(k, 0, 0, &got), 0, "B: the stream's key");
    cr_assert_eq(cir_live_keys_get(k, 1, 2, &got), CIR_EAGAIN, "A: not yet");
    atomic_store(&fx.hold, 0);
    wait_fetched(k, 2); /* periods 1 and 2 */
    cr_assert_eq(cir_live_keys_get(k, 1, 2, &got), CIR_EAGAIN,
                 "B at segment 2: A went on without the key there");
    memset(want, 0x11, 16);
    for (int r = 0; r < 2; r++) {
        memset(&got, 0, sizeof(got));
        cr_assert_eq(cir_live_keys_get(k, 1, 3, &got), 0, "%c: segment 3",
                     "AB"[r]);
        cr_assert_eq(memcmp(got.key, want, 16), 0, "period 1's key");
    }
    /* period 2's came before anyone asked: from its first segment on */
    memset(want, 0x12, 16);
    cr_assert_eq(cir_live_keys_get(k, 2, 4, &got), 0);
    cr_assert_eq(memcmp(got.key, want, 16), 0, "period 2's key");
    cr_assert_eq(cir_live_keys_get(k, 2, 4, &got), 0);
    cir_live_keys_free(&k);
    speke_fx_stop(&fx);
}
