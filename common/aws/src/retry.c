/*
 * The retry policy of the AWS clients, as pure functions: which answers are
 * worth another attempt, how long to wait before it (exponential backoff
 * with full jitter, as the AWS SDKs' standard mode), and when a request's
 * budget is spent.  transfer.c owns the clock, the randomness and the sleeping.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_aws.h"
#include "cir_error.h"

void
cir_aws_retry_default(cir_aws_retry_t *p)
{
    p->max_attempts = CIR_AWS_MAX_ATTEMPTS;
    p->base_ms = CIR_AWS_RETRY_BASE_MS;
    p->max_wait_ms = CIR_AWS_RETRY_MAX_WAIT_MS;
    p->budget_ms = CIR_AWS_RETRY_BUDGET_MS;
}

/* Seconds (fractions allowed) in [lo, hi] as milliseconds. */
static int
parse_seconds(const char *v, double lo, double hi, int64_t *ms)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d < lo ||
        d > hi) {
        return CIR_EINVAL;
    }
    *ms = (int64_t)llround(d * 1000);
    return 0;
}

int
cir_aws_retry_configure(cir_aws_retry_t *p, const char *max_attempts,
                        const char *budget_s, const char *max_wait_s, char *err,
                        size_t errsize)
{
    cir_aws_retry_t q = *p;

    if (max_attempts != NULL && max_attempts[0] != '\0') {
        char *end;
        long n;
        errno = 0;
        n = strtol(max_attempts, &end, 10);
        if (errno != 0 || *end != '\0' || n < 1 || n > 100) {
            snprintf(err, errsize,
                     "CIRRUS_AWS_MAX_ATTEMPTS: '%s' is not an integer in "
                     "1 .. 100",
                     max_attempts);
            return CIR_EINVAL;
        }
        q.max_attempts = (int)n;
    }
    if (budget_s != NULL && budget_s[0] != '\0' &&
        parse_seconds(budget_s, 0, 3600, &q.budget_ms) < 0) {
        snprintf(err, errsize,
                 "CIRRUS_AWS_RETRY_BUDGET_S: '%s' is not a number of seconds "
                 "in 0 .. 3600",
                 budget_s);
        return CIR_EINVAL;
    }
    if (max_wait_s != NULL && max_wait_s[0] != '\0' &&
        parse_seconds(max_wait_s, 0, 600, &q.max_wait_ms) < 0) {
        snprintf(err, errsize,
                 "CIRRUS_AWS_RETRY_MAX_WAIT_S: '%s' is not a number of "
                 "seconds in 0 .. 600",
                 max_wait_s);
        return CIR_EINVAL;
    }
    *p = q;
    return 0;
}

int64_t
cir_aws_retry_wait_ms(const cir_aws_retry_t *p, int retry, int64_t elapsed_ms,
                      uint32_t rnd)
{
    int64_t cap, wait, left;

    if (retry < 1 || retry >= p->max_attempts ||
        (elapsed_ms >= p->budget_ms && retry >= CIR_AWS_MIN_ATTEMPTS)) {
        return -1;
    }
    /* base * 2^(retry-1), without overflow, then the per-wait cap */
    cap = p->base_ms;
    for (int i = 1; i < retry && cap < p->max_wait_ms; i++) {
        cap *= 2;
    }
    if (cap > p->max_wait_ms) {
        cap = p->max_wait_ms;
    }
    wait = cap > 0 ? (int64_t)(rnd % (uint64_t)(cap + 1)) : 0; /* full jitter */
    left = p->budget_ms - elapsed_ms;
    return wait < left || left <= 0 ? wait : left;
}

static int
code_in(const char *code, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(code, list[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int
cir_aws_classify(long status, const char *code)
{
    /* the SDKs' throttling and transient error codes */
    static const char *const transient[] = {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "IDPCommunicationError",
        "ConditionalRequestConflict", /* S3: a concurrent conditional write */
        NULL};
    /* credentials or permissions refused: no retry can help */
    static const char *const auth[] = {"SignatureDoesNotMatch",
                                       "InvalidAccessKeyId",
                                       "InvalidClientTokenId",
                                       "UnrecognizedClientException",
                                       "IncompleteSignature",
                                       "InvalidSignatureException",
                                       "MissingAuthenticationToken",
                                       "AccessDenied",
                                       "AccessDeniedException",
                                       "AllAccessDisabled",
                                       "AccountProblem",
                                       "ExpiredToken",
                                       "ExpiredTokenException",
                                       "InvalidToken",
                                       "TokenRefreshRequired",
                                       "RequestExpired",
                                       "RequestTimeTooSkewed",
                                       NULL};

    if (code == NULL) {
        code = "";
    }
    if (code_in(code, transient) || strncmp(code, "Throttl", 7) == 0 ||
        status == 429 || (status >= 500 && status != 501)) {
        return CIR_ETRANSIENT;
    }
    if (code_in(code, auth) || status == 401 || status == 403) {
        return CIR_EAUTH;
    }
    if (status == 404 || strncmp(code, "NoSuch", 6) == 0 ||
        strstr(code, "NonExistent") != NULL) {
        return CIR_ENOTFOUND;
    }
    return CIR_EINVAL;
}

void
cir_aws_ellipsize(char *dst, size_t size, const char *src)
{
    static const char dots[] = "...";
    size_t n = strlen(src), keep, head;

    if (n < size) {
        memcpy(dst, src, n + 1);
        return;
    }
    if (size <= sizeof(dots)) {
        snprintf(dst, size, "%s", src);
        return;
    }
    keep = size - sizeof(dots); /* characters of src that fit */
    head = keep / 2;
    memcpy(dst, src, head);
    memcpy(dst + head, dots, sizeof(dots) - 1);
    memcpy(dst + head + sizeof(dots) - 1, src + n - (keep - head),
           keep - head + 1);
}
