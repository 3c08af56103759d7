/* common/aws/src/transfer.c: one attempt's method, body and timeouts, and
 * the abort flag, against a scripted loopback server. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "aws_fixture.h"
#include "cir_aws.h"
#include "cir_error.h"

#define OK_EMPTY \
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

Test(aws_transfer, a_put_sends_its_body_and_a_delete_none)
{
    http_fx_t s = {.answers = {OK_EMPTY, OK_EMPTY}, .nanswers = 2};
    cir_s3_put_opts_t opts = {.content_type = "text/plain",
                              .cache_control = "max-age=5"};
    cir_aws_t *a;

    http_fx_start(&s);
    a = aws_fx_client(&s, "1");
    cr_assert_eq(cir_s3_put(a, "bkt", "k.txt", "hello", 5, &opts), 0, "%s",
                 cir_aws_last_error());
    cr_assert_eq(cir_s3_delete(a, "bkt", "k.txt"), 0, "%s",
                 cir_aws_last_error());
    http_fx_stop(&s);
    cr_assert(http_fx_starts(s.requests[0], "PUT /bkt/k.txt HTTP/1.1\r\n"),
              "%s", s.requests[0]);
    cr_assert_not_null(strcasestr(s.requests[0], "\r\ncontent-length: 5\r\n"));
    cr_assert_not_null(
        strcasestr(s.requests[0], "\r\ncontent-type: text/plain\r\n"));
    cr_assert_not_null(
        strcasestr(s.requests[0], "\r\ncache-control: max-age=5\r\n"));
    cr_assert_str_eq(strstr(s.requests[0], "\r\n\r\n") + 4, "hello");
    cr_assert(http_fx_starts(s.requests[1], "DELETE /bkt/k.txt HTTP/1.1\r\n"),
              "%s", s.requests[1]);
    cr_assert_null(strcasestr(s.requests[1], "content-type:"),
                   "no body, no type: %s", s.requests[1]);
    cr_assert_str_eq(strstr(s.requests[1], "\r\n\r\n") + 4, "");
    cir_aws_close(&a);
}

Test(aws_transfer, a_silent_server_times_out_and_is_retried)
{
    http_fx_t s = {.answers = {NULL, NULL}, .nanswers = 2, .hold_ms = 1500};
    cir_s3_head_t head;
    cir_aws_t *a;
    int64_t t0;

    http_fx_start(&s);
    a = aws_fx_client(&s, "2");
    cr_assert_eq(cir_aws_set_timeouts(a, 200, 300), 0);
    t0 = http_fx_now_ms();
    cr_assert_eq(cir_s3_head(a, "bkt", "k", &head, NULL), CIR_ETRANSIENT);
    cr_assert_lt(http_fx_now_ms() - t0, 1400, "each attempt ends at 300 ms");
    cr_assert_not_null(strstr(cir_aws_last_error(), "Timeout"), "%s",
                       cir_aws_last_error());
    http_fx_stop(&s);
    cr_assert_eq(s.nrequests, 2);
    cir_aws_close(&a);
}

static atomic_int abort_flag;

static void *
abort_later(void *arg)
{
    (void)arg;
    usleep(200000);
    atomic_store(&abort_flag, 1);
    return NULL;
}

Test(aws_transfer, an_abort_flag_stops_the_transfer_at_once)
{
    http_fx_t s = {.answers = {NULL}, .nanswers = 1, .hold_ms = 2000};
    cir_s3_head_t head;
    pthread_t th;
    cir_aws_t *a;
    int64_t t0;

    http_fx_start(&s);
    a = aws_fx_client(&s, NULL);
    t0 = http_fx_now_ms();
    cr_assert_eq(pthread_create(&th, NULL, abort_later, NULL), 0);
    cr_assert_eq(cir_s3_head(a, "bkt", "k", &head, &abort_flag), CIR_ECANCELED);
    cr_assert_lt(http_fx_now_ms() - t0, 1000, "took %lld ms",
                 (long long)(http_fx_now_ms() - t0));
    cr_assert_str_eq(cir_aws_last_error(), "HEAD s3: aborted");
    pthread_join(th, NULL);
    http_fx_stop(&s);
    cir_aws_close(&a);
}
