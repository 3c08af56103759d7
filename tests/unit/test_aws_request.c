/* common/aws/src/request.c: a request's SigV4 headers and URL, and the
 * retry loop, against a scripted loopback server. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "aws_fixture.h"
#include "cir_aws.h"
#include "cir_error.h"

#define OK_HELLO \
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
#define BUSY                                                    \
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n" \
    "Connection: close\r\n\r\n"

/* SHA-256 of the empty payload */
#define EMPTY_HASH \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* GETs s3://bkt/<key> from the scripted server s (started) with client a,
 * then stops s and closes a; the result, the body in out. */
static int
get_from(http_fx_t *s, cir_aws_t *a, const char *key, cir_buf_t *out)
{
    int ret;

    cir_buf_init(out, 1024);
    ret = cir_s3_get(a, "bkt", key, 1024, out);
    http_fx_stop(s);
    cir_aws_close(&a);
    return ret;
}

Test(aws_request, signs_the_headers_and_encodes_the_path)
{
    http_fx_t s = {.answers = {OK_HELLO}, .nanswers = 1};
    const char *req = s.requests[0];
    cir_buf_t out;

    http_fx_start(&s);
    cr_assert_eq(get_from(&s, aws_fx_client(&s, NULL), "a b/c+d.txt", &out), 0,
                 "%s", cir_aws_last_error());
    cr_assert_eq(out.len, 5);
    cr_assert_eq(memcmp(out.data, "hello", 5), 0);
    cr_assert(http_fx_starts(req, "GET /bkt/a%20b/c%2Bd.txt HTTP/1.1\r\n"),
              "%s", req);
    cr_assert_not_null(
        strcasestr(req, "\r\nx-amz-content-sha256: " EMPTY_HASH "\r\n"), "%s",
        req);
    cr_assert_not_null(strcasestr(req, "\r\nx-amz-date: "), "%s", req);
    cr_assert_not_null(strcasestr(req, "\r\nAuthorization: AWS4-HMAC-SHA256 "
                                       "Credential=AKIDTEST/"),
                       "%s", req);
    cr_assert_not_null(strstr(req, "/us-east-1/s3/aws4_request, "
                                   "SignedHeaders=host;x-amz-content-sha256;"
                                   "x-amz-date, Signature="),
                       "%s", req);
    cr_assert_null(strcasestr(req, "\r\nExpect:"), "no Expect: 100-continue");
    cr_assert_null(strcasestr(req, "x-amz-security-token"), "%s", req);
    cir_buf_free(&out);
}

Test(aws_request, a_session_token_is_sent_and_signed)
{
    http_fx_t s = {.answers = {OK_HELLO}, .nanswers = 1};
    const char *req = s.requests[0];
    cir_buf_t out;

    http_fx_start(&s);
    aws_fx_env(NULL);
    setenv("AWS_SESSION_TOKEN", "tok/en", 1);
    cr_assert_eq(get_from(&s, aws_fx_open(&s), "k", &out), 0, "%s",
                 cir_aws_last_error());
    cr_assert_not_null(strcasestr(req, "\r\nx-amz-security-token: tok/en\r\n"),
                       "%s", req);
    cr_assert_not_null(strstr(req, "x-amz-date;x-amz-security-token, "), "%s",
                       req);
    cir_buf_free(&out);
}

Test(aws_request, a_transient_answer_is_retried_until_it_succeeds)
{
    http_fx_t s = {.answers = {BUSY, BUSY, OK_HELLO}, .nanswers = 3};
    cir_buf_t out;

    http_fx_start(&s);
    cr_assert_eq(get_from(&s, aws_fx_client(&s, NULL), "k", &out), 0, "%s",
                 cir_aws_last_error());
    cr_assert_eq(s.nrequests, 3);
    cr_assert_eq(out.len, 5, "the failed attempts' bodies are not kept");
    cr_assert_str_eq(cir_aws_last_error_code(), "");
    cir_buf_free(&out);
}

Test(aws_request, gives_up_after_the_last_attempt)
{
    http_fx_t s = {.answers = {BUSY, BUSY}, .nanswers = 2};
    const char *err = cir_aws_last_error();
    cir_buf_t out;

    http_fx_start(&s);
    cr_assert_eq(get_from(&s, aws_fx_client(&s, "2"), "k", &out),
                 CIR_ETRANSIENT);
    cr_assert_eq(s.nrequests, 2);
    cr_assert_not_null(strstr(err, "HTTP 503"), "%s", err);
    cr_assert_not_null(strstr(err, "; gave up after 2 attempts in "), "%s",
                       err);
    cir_buf_free(&out);
}

Test(aws_request, a_refused_request_is_not_retried)
{
    char refused[512];
    http_fx_t s = {.answers = {http_fx_answer(refused, sizeof(refused),
                                              "403 Forbidden", "",
                                              "<Error><Code>AccessDenied"
                                              "</Code></Error>")},
                   .nanswers = 1};
    cir_buf_t out;

    http_fx_start(&s);
    cr_assert_eq(get_from(&s, aws_fx_client(&s, NULL), "k", &out), CIR_EAUTH);
    cr_assert_eq(s.nrequests, 1);
    cr_assert_str_eq(cir_aws_last_error_code(), "AccessDenied");
    cir_buf_free(&out);
}
