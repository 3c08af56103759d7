/*
 * The AWS clients' retry policy (common/aws/src/retry.c): full-jitter
 * backoff bounds, the per-wait cap, the per-request budget, which answers
 * are retried, and error texts cut in the middle.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "cir_aws.h"
#include "cir_error.h"

static cir_aws_retry_t
policy(void)
{
    cir_aws_retry_t p;

    cir_aws_retry_default(&p);
    return p;
}

/* The longest wait full jitter may draw before retry number `retry`. */
static uint32_t
longest(const cir_aws_retry_t *p, int retry)
{
    int64_t bound = p->base_ms;

    for (int i = 1; i < retry && bound < p->max_wait_ms; i++) {
        bound *= 2;
    }
    return (uint32_t)(bound < p->max_wait_ms ? bound : p->max_wait_ms);
}

Test(aws_retry, defaults_are_the_sdk_standard_mode_bounds)
{
    cir_aws_retry_t p = policy();

    cr_assert_eq(p.max_wait_ms, 20000);
    cr_assert_eq(p.budget_ms, 30000);
    cr_assert_gt(p.max_attempts, 6, "more than the six tries of ~3.5 s");
    cr_assert_gt(p.base_ms, 0);
}

Test(aws_retry, full_jitter_spans_zero_to_the_exponential_bound)
{
    cir_aws_retry_t p = policy();

    for (int retry = 1; retry < 8; retry++) {
        int64_t bound = p.base_ms << (retry - 1);
        if (bound > p.max_wait_ms) {
            bound = p.max_wait_ms;
        }
        /* the lowest and highest draws */
        cr_assert_eq(cir_aws_retry_wait_ms(&p, retry, 0, 0), 0);
        cr_assert_eq(cir_aws_retry_wait_ms(&p, retry, 0, (uint32_t)bound),
                     bound, "retry %d", retry);
        cr_assert_eq(cir_aws_retry_wait_ms(&p, retry, 0, (uint32_t)bound + 1),
                     0, "retry %d: the draw wraps, never exceeds", retry);
        for (uint32_t rnd = 1; rnd < 4000000000u; rnd += 99991u * 7) {
            int64_t w = cir_aws_retry_wait_ms(&p, retry, 0, rnd);
            cr_assert(w >= 0 && w <= bound, "retry %d: %lld > %lld", retry,
                      (long long)w, (long long)bound);
        }
    }
}

Test(aws_retry, no_wait_is_longer_than_the_cap)
{
    cir_aws_retry_t p = policy();

    p.budget_ms = 3600000;
    p.max_attempts = 100;
    for (int retry = 1; retry < 100; retry++) {
        cr_assert_leq(cir_aws_retry_wait_ms(&p, retry, 0, UINT32_MAX),
                      p.max_wait_ms, "retry %d", retry);
    }
    /* late retries reach the cap itself */
    cr_assert_eq(cir_aws_retry_wait_ms(&p, 60, 0, (uint32_t)p.max_wait_ms),
                 p.max_wait_ms);
}

Test(aws_retry, the_budget_bounds_the_request)
{
    cir_aws_retry_t p = policy();
    int64_t elapsed = 0, w;
    int retry = 1;

    /* the longest waits every time: the request still ends at its budget */
    for (; (w = cir_aws_retry_wait_ms(&p, retry, elapsed,
                                      longest(&p, retry))) >= 0;
         retry++) {
        elapsed += w;
        cr_assert_leq(elapsed, p.budget_ms);
    }
    cr_assert_eq(elapsed, p.budget_ms, "the last wait is cut to the budget");
    /* a wait that would overrun is shortened to what is left */
    cr_assert_eq(cir_aws_retry_wait_ms(&p, 9, p.budget_ms - 5, 19999), 5);
    cr_assert_eq(cir_aws_retry_wait_ms(&p, 3, p.budget_ms, 0), -1);
    cr_assert_eq(cir_aws_retry_wait_ms(&p, 9, p.budget_ms + 1, 0), -1);
}

Test(aws_retry, an_attempt_that_timed_out_is_still_tried_again)
{
    cir_aws_retry_t p = policy();

    /* one hung attempt spent the whole budget: the SDKs' three attempts
     * are still made, with their usual waits */
    cr_assert_eq(
        cir_aws_retry_wait_ms(&p, 1, p.budget_ms + 5000, (uint32_t)p.base_ms),
        p.base_ms);
    cr_assert_eq(
        cir_aws_retry_wait_ms(&p, 2, p.budget_ms + 9000, longest(&p, 2)),
        longest(&p, 2));
    cr_assert_eq(
        cir_aws_retry_wait_ms(&p, CIR_AWS_MIN_ATTEMPTS, p.budget_ms + 9000, 1),
        -1);
    /* but never more than max_attempts */
    p.max_attempts = 1;
    cr_assert_eq(cir_aws_retry_wait_ms(&p, 1, p.budget_ms + 5000, 1), -1);
}

Test(aws_retry, a_ten_second_storm_fits_in_the_budget)
{
    cir_aws_retry_t p = policy();
    int64_t elapsed = 0, w;
    int retry = 1;

    /* waits of half their bound (full jitter's mean) reach past 10 s
     * before the attempts run out; six tries used to span ~3.5 s */
    for (; elapsed < 10000 &&
           (w = cir_aws_retry_wait_ms(&p, retry, elapsed,
                                      longest(&p, retry) / 2)) >= 0;
         retry++) {
        elapsed += w;
    }
    cr_assert_geq(elapsed, 10000);
    cr_assert_lt(retry, p.max_attempts);
}

Test(aws_retry, attempts_are_bounded)
{
    cir_aws_retry_t p = policy();

    p.max_attempts = 3;
    cr_assert_geq(cir_aws_retry_wait_ms(&p, 1, 0, 7), 0);
    cr_assert_geq(cir_aws_retry_wait_ms(&p, 2, 0, 7), 0);
    cr_assert_eq(cir_aws_retry_wait_ms(&p, 3, 0, 7), -1);
    p.max_attempts = 1;
    cr_assert_eq(cir_aws_retry_wait_ms(&p, 1, 0, 7), -1);
    cr_assert_eq(cir_aws_retry_wait_ms(&p, 0, 0, 7), -1);
}

Test(aws_retry, configuration_overrides_and_refuses)
{
    cir_aws_retry_t p = policy(), before;
    char err[256] = "";

    cr_assert_eq(
        cir_aws_retry_configure(&p, "5", "2.5", "0.5", err, sizeof(err)), 0);
    cr_assert_eq(p.max_attempts, 5);
    cr_assert_eq(p.budget_ms, 2500);
    cr_assert_eq(p.max_wait_ms, 500);
    cr_assert_eq(cir_aws_retry_configure(&p, NULL, "", NULL, err, sizeof(err)),
                 0);
    cr_assert_eq(p.budget_ms, 2500, "empty keeps the value");
    before = p;
    cr_assert_eq(
        cir_aws_retry_configure(&p, "3", "soon", NULL, err, sizeof(err)),
        CIR_EINVAL);
    cr_assert(strstr(err, "CIRRUS_AWS_RETRY_BUDGET_S") != NULL, "%s", err);
    cr_assert_eq(memcmp(&p, &before, sizeof(p)), 0, "unchanged on error");
    cr_assert_eq(cir_aws_retry_configure(&p, "0", NULL, NULL, err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_eq(
        cir_aws_retry_configure(&p, NULL, NULL, "-1", err, sizeof(err)),
        CIR_EINVAL);
    cr_assert(strstr(err, "CIRRUS_AWS_RETRY_MAX_WAIT_S") != NULL, "%s", err);
}

Test(aws_retry, transient_answers_are_retried)
{
    static const long statuses[] = {500, 502, 503, 504, 429};
    static const char *const codes[] = {"SlowDown", "Throttling",
                                        "ThrottlingException", "RequestTimeout",
                                        "InternalError"};

    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(cir_aws_classify(statuses[i], ""), CIR_ETRANSIENT);
    }
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(cir_aws_classify(400, codes[i]), CIR_ETRANSIENT, "%s",
                     codes[i]);
    }
    cr_assert_eq(cir_aws_classify(501, "NotImplemented"), CIR_EINVAL);
}

Test(aws_retry, refused_credentials_and_permissions_are_final)
{
    static const char *const codes[] = {"SignatureDoesNotMatch",
                                        "InvalidAccessKeyId", "AccessDenied",
                                        "ExpiredToken", "InvalidClientTokenId"};

    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(cir_aws_classify(400, codes[i]), CIR_EAUTH, "%s",
                     codes[i]);
        cr_assert_eq(cir_aws_classify(403, codes[i]), CIR_EAUTH, "%s",
                     codes[i]);
    }
    cr_assert_eq(cir_aws_classify(403, ""), CIR_EAUTH, "a HEAD's bare 403");
    cr_assert_eq(cir_aws_classify(404, "NoSuchKey"), CIR_ENOTFOUND);
    cr_assert_eq(cir_aws_classify(404, ""), CIR_ENOTFOUND);
    cr_assert_eq(cir_aws_classify(400, "KeyTooLongError"), CIR_EINVAL);
}

Test(aws_retry, long_values_lose_their_middle_not_their_end)
{
    char key[1100], out[64];

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    memcpy(key, "uploads/", 8);
    memcpy(key + sizeof(key) - 8, "end.mp4", 7);
    cir_aws_ellipsize(out, sizeof(out), key);
    cr_assert_eq(strlen(out), sizeof(out) - 1);
    cr_assert(strncmp(out, "uploads/", 8) == 0, "%s", out);
    cr_assert(strstr(out, "...") != NULL, "%s", out);
    cr_assert_str_eq(out + strlen(out) - 7, "end.mp4");
    cir_aws_ellipsize(out, sizeof(out), "short");
    cr_assert_str_eq(out, "short");
    cir_aws_ellipsize(out, 3, "abcdef");
    cr_assert_str_eq(out, "ab");
}
