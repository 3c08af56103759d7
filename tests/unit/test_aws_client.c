/* common/aws/src/client.c: the client's configuration (region, endpoints,
 * timeouts, retry settings) and the thread's last error. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "aws_fixture.h"
#include "cir_aws.h"
#include "cir_error.h"

static cir_aws_t *
open_client(void)
{
    cir_aws_t *a = NULL;
    char err[256] = "";

    cr_assert_eq(cir_aws_open(&a, err, sizeof(err)), 0, "%s", err);
    return a;
}

Test(aws_client, region_from_the_environment_else_the_default)
{
    char long_region[80];
    cir_aws_t *a;

    aws_fx_env(NULL);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    a = open_client();
    cr_assert_str_eq(cir_aws_region(a), "us-east-1");
    cir_aws_close(&a);
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    a = open_client();
    cr_assert_str_eq(cir_aws_region(a), "eu-west-1");
    cir_aws_close(&a);
    setenv("AWS_REGION", "ap-south-1", 1);
    a = open_client();
    cr_assert_str_eq(cir_aws_region(a), "ap-south-1", "AWS_REGION first");

    cr_assert_eq(cir_aws_set_region(a, "eu-central-1"), 0);
    cr_assert_str_eq(cir_aws_region(a), "eu-central-1");
    memset(long_region, 'r', sizeof(long_region) - 1);
    long_region[sizeof(long_region) - 1] = '\0';
    cr_assert_eq(cir_aws_set_region(a, long_region), CIR_EINVAL);
    cr_assert_eq(cir_aws_set_region(a, ""), CIR_EINVAL);
    cr_assert_str_eq(cir_aws_region(a), "eu-central-1", "a refusal keeps it");
    cir_aws_close(&a);
    cr_assert_null(a);
}

Test(aws_client, endpoints_are_http_urls_without_a_trailing_slash)
{
    http_fx_t s = {.answers = {"HTTP/1.1 204 No Content\r\nConnection: "
                               "close\r\n\r\n",
                               "HTTP/1.1 204 No Content\r\nConnection: "
                               "close\r\n\r\n"},
                   .nanswers = 2};
    char url[64];
    cir_aws_t *a;

    http_fx_start(&s);
    aws_fx_env("1");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d//", s.port);
    setenv("AWS_ENDPOINT_URL_S3", url, 1);
    a = open_client();
    cr_assert_eq(cir_s3_delete(a, "bkt", "k"), 0, "%s", cir_aws_last_error());
    cr_assert_eq(cir_aws_set_endpoint(a, "s3", "ftp://127.0.0.1"), CIR_EINVAL);
    cr_assert_eq(cir_aws_set_endpoint(a, "ec2", url), CIR_EINVAL);
    cr_assert_eq(cir_aws_set_endpoint(a, "sqs", url), 0);
    cr_assert_eq(cir_aws_set_endpoint(a, "s3", url), 0);
    cr_assert_eq(cir_s3_delete(a, "bkt", "k2"), 0, "%s", cir_aws_last_error());
    http_fx_stop(&s);
    cr_assert(http_fx_starts(s.requests[0], "DELETE /bkt/k HTTP/1.1\r\n"), "%s",
              s.requests[0]);
    cr_assert(http_fx_starts(s.requests[1], "DELETE /bkt/k2 HTTP/1.1\r\n"),
              "%s", s.requests[1]);
    cir_aws_close(&a);
}

Test(aws_client, timeouts_are_bounded)
{
    cir_aws_t *a;

    aws_fx_env(NULL);
    a = open_client();
    cr_assert_eq(cir_aws_set_timeouts(a, 0, 1000), CIR_EINVAL);
    cr_assert_eq(cir_aws_set_timeouts(a, 1000, 0), CIR_EINVAL);
    cr_assert_eq(cir_aws_set_timeouts(a, 3600001, 1000), CIR_EINVAL);
    cr_assert_eq(cir_aws_set_timeouts(a, 1000, 3600001), CIR_EINVAL);
    cr_assert_eq(cir_aws_set_timeouts(a, 1, 3600000), 0);
    cir_aws_close(&a);
}

Test(aws_client, a_bad_retry_setting_refuses_to_open)
{
    cir_aws_t *a = NULL;
    char err[256] = "";

    aws_fx_env("0");
    cr_assert_eq(cir_aws_open(&a, err, sizeof(err)), CIR_EINVAL);
    cr_assert_null(a);
    cr_assert_not_null(strstr(err, "CIRRUS_AWS_MAX_ATTEMPTS: '0'"), "%s", err);
}

static char other_error[256] = "unset";

static void *
last_error_here(void *arg)
{
    (void)arg;
    snprintf(other_error, sizeof(other_error), "%s", cir_aws_last_error());
    return NULL;
}

Test(aws_client, the_last_error_is_the_threads_own)
{
    http_fx_t s = {.answers = {"HTTP/1.1 404 Not Found\r\nContent-Length: 0"
                               "\r\nConnection: close\r\n\r\n"},
                   .nanswers = 1};
    cir_buf_t out;
    pthread_t th;
    cir_aws_t *a;

    http_fx_start(&s);
    a = aws_fx_client(&s, "1");
    cir_buf_init(&out, 64);
    cr_assert_eq(cir_s3_get(a, "bkt", "k", 64, &out), CIR_ENOTFOUND);
    http_fx_stop(&s);
    cr_assert_str_eq(cir_aws_last_error_code(), "NotFound");
    cr_assert_neq(cir_aws_last_error()[0], '\0');
    cr_assert_eq(pthread_create(&th, NULL, last_error_here, NULL), 0);
    pthread_join(th, NULL);
    cr_assert_str_eq(other_error, "", "another thread's is its own");
    cir_buf_free(&out);
    cir_aws_close(&a);
}
