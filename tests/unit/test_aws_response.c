/* common/aws/src/response.c: what an answer brings back (body, range,
 * captured headers) and an error answer's code, message and class. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "aws_fixture.h"
#include "cir_aws.h"
#include "cir_error.h"

/* One GET of s3://bkt/some/key answered with status and body: expects
 * the result want, the last error code `code` and a last error that
 * contains msg; the caller's buffer gets nothing of an error body. */
static void
expect_error(const char *status, const char *body, int want, const char *code,
             const char *msg)
{
    char answer[1024];
    http_fx_t s = {
        .answers = {http_fx_answer(answer, sizeof(answer), status, "", body)},
        .nanswers = 1};
    cir_buf_t out;
    cir_aws_t *a;

    cir_buf_init(&out, 1024);
    http_fx_start(&s);
    a = aws_fx_client(&s, "1");
    cr_expect_eq(cir_s3_get(a, "bkt", "some/key", 1024, &out), want, "%s",
                 status);
    http_fx_stop(&s);
    cr_expect_str_eq(cir_aws_last_error_code(), code);
    cr_expect_not_null(strstr(cir_aws_last_error(), msg), "%s",
                       cir_aws_last_error());
    cr_expect_eq(out.len, 0, "an error body is not the caller's");
    cir_buf_free(&out);
    cir_aws_close(&a);
}

Test(aws_response, an_xml_error_gives_its_code_and_message)
{
    expect_error("404 Not Found",
                 "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>"
                 "<Message>The key does not exist</Message></Error>",
                 CIR_ENOTFOUND, "NoSuchKey",
                 "HTTP 404 NoSuchKey: The key does not exist (GET "
                 "/bkt/some/key on s3)");
}

Test(aws_response, a_json_error_gives_the_type_after_its_hash)
{
    expect_error("400 Bad Request",
                 "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\","
                 "\"message\":\"gone\"}",
                 CIR_EINVAL, "QueueDoesNotExist",
                 "HTTP 400 QueueDoesNotExist: gone (GET");
}

Test(aws_response, a_bare_404_is_not_found)
{
    expect_error("404 Not Found", "", CIR_ENOTFOUND, "NotFound",
                 "HTTP 404 NotFound (GET");
}

Test(aws_response, an_error_without_a_code_says_so)
{
    expect_error("400 Bad Request", "not xml", CIR_EINVAL, "",
                 "HTTP 400 (no error code) (GET");
}

Test(aws_response, head_captures_size_etag_type_and_cache_control)
{
    char ans[512];
    http_fx_t s = {.answers = {ans}, .nanswers = 1};
    cir_s3_head_t head;
    cir_aws_t *a;

    snprintf(ans, sizeof(ans),
             "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n"
             "ETag: \"abc123\"\r\nContent-Type: video/mp4\r\n"
             "Cache-Control:  max-age=60 \r\nConnection: close\r\n\r\n");
    http_fx_start(&s);
    a = aws_fx_client(&s, "1");
    cr_assert_eq(cir_s3_head(a, "bkt", "k", &head, NULL), 0, "%s",
                 cir_aws_last_error());
    http_fx_stop(&s);
    cr_assert(http_fx_starts(s.requests[0], "HEAD /bkt/k HTTP/1.1\r\n"));
    cr_assert_eq(head.size, 1234);
    cr_assert_str_eq(head.etag, "\"abc123\"");
    cr_assert_str_eq(head.content_type, "video/mp4");
    cr_assert_str_eq(head.cache_control, "max-age=60");
    cir_aws_close(&a);
}

Test(aws_response, a_range_fills_the_callers_buffer_and_no_more)
{
    char ans[256], buf[4];
    http_fx_t s = {
        .answers = {http_fx_answer(ans, sizeof(ans), "206 Partial Content", "",
                                   "abcdefgh")},
        .nanswers = 1};
    size_t got = 99;
    cir_aws_t *a;

    http_fx_start(&s);
    a = aws_fx_client(&s, "1");
    cr_assert_eq(
        cir_s3_get_range(a, "bkt", "k", 10, sizeof(buf), buf, &got, NULL), 0,
        "%s", cir_aws_last_error());
    http_fx_stop(&s);
    cr_assert_not_null(strcasestr(s.requests[0], "\r\nrange: bytes=10-13\r\n"),
                       "%s", s.requests[0]);
    cr_assert_eq(got, 4, "a server that sends more is cut at the buffer");
    cr_assert_eq(memcmp(buf, "abcd", 4), 0);
    cir_aws_close(&a);
}
