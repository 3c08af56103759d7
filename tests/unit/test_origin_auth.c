/* Origin auth: shared-secret comparison and signed expiring URLs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"

#define KEY  "k3y-for-tests"
#define PATH "/live/s1/720p/index.m3u8"

Test(auth, secret_equal)
{
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3cret", 6), 1);
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3creT", 6), 0);
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3cre", 5), 0);
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3cretX", 7), 0);
    /* only got_len bytes count */
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3cretXYZ", 6), 1);
    cr_assert_eq(cir_origin_secret_equal("s3cret", "", 0), 0);
    cr_assert_eq(cir_origin_secret_equal("", "", 0), 0); /* unset: deny */
    cr_assert_eq(cir_origin_secret_equal(NULL, "x", 1), 0);
}

Test(auth, sign_is_hmac_sha256_hex)
{
    char tok[65];

    cr_assert_eq(cir_origin_token_sign(KEY, PATH, 1767225600, tok, 65), 0);
    cr_assert_eq(strlen(tok), 64);
    /* openssl dgst -sha256 -hmac k3y-for-tests of "1767225600:<PATH>" */
    cr_assert_str_eq(
        tok,
        "95e3c838bfcfa82b4529ea31545158206a659af34693309f2b112a411123922e");
    cr_assert_eq(cir_origin_token_sign(KEY, PATH, 1, tok, 64), CIR_ELIMIT);
}

static int
verify(const char *q, int64_t now)
{
    return cir_origin_token_verify(KEY, PATH, q, strlen(q), now);
}

Test(auth, verify)
{
    char tok[65], q[256];

    cr_assert_eq(cir_origin_token_sign(KEY, PATH, 2000, tok, 65), 0);
    snprintf(q, sizeof(q), "token=%s&expires=2000", tok);
    cr_assert_eq(verify(q, 1999), 0);
    cr_assert_eq(verify(q, 2000), 0);
    cr_assert_eq(verify(q, 2001), CIR_EAUTH); /* expired */
    snprintf(q, sizeof(q), "_HLS_msn=3&expires=2000&x=y&token=%s", tok);
    cr_assert_eq(verify(q, 1000), 0); /* any order */
    snprintf(q, sizeof(q), "token=%s&expires=2001", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* expiry is signed */
    cr_assert_eq(cir_origin_token_verify(KEY, "/live/s2/720p/index.m3u8", q,
                                         strlen(q), 1000),
                 CIR_EAUTH);
    cr_assert_eq(cir_origin_token_verify("other", PATH, q, strlen(q), 1000),
                 CIR_EAUTH);
    snprintf(q, sizeof(q), "token=%.63s&expires=2000", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* wrong length */
    snprintf(q, sizeof(q), "token=%.62szz&expires=2000", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* not hex */
    snprintf(q, sizeof(q), "token=%s", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* no expiry */
    snprintf(q, sizeof(q), "token=%s&expires=-5", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH);
    snprintf(q, sizeof(q), "token=%s&expires=2000&expires=2000", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* repeated */
    snprintf(q, sizeof(q), "token=%s&token=%s&expires=2000", tok, tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH);
    cr_assert_eq(verify("", 1000), CIR_EAUTH);
    cr_assert_eq(verify("expires=2000", 1000), CIR_EAUTH);
}
