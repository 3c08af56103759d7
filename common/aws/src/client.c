/*
 * The AWS client: its configuration (region, endpoints, timeouts, retry
 * policy), the process's default client and the thread's last error.
 */
#include "aws_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cir_error.h"
#include "cir_log.h"

static const cir_log_ctx_t log_ctx = {.component = "aws"};
static _Thread_local char last_error[AWS_ERROR_MAX];
static _Thread_local char last_code[128];

const char *
cir_aws_last_error(void)
{
    return last_error;
}

const char *
cir_aws_last_error_code(void)
{
    return last_code;
}

void
aws_set_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
}

void
aws_set_error_code(const char *code)
{
    aws_copy_str(last_code, sizeof(last_code), code);
}

const char *
aws_env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

void
aws_copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

void
aws_trim_slash(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == '/') {
        s[--n] = '\0';
    }
}

static void
endpoint_for(char *dst, size_t size, const char *svc_env)
{
    const char *v = aws_env(svc_env);

    if (v == NULL) {
        v = aws_env("AWS_ENDPOINT_URL");
    }
    aws_copy_str(dst, size, v);
    aws_trim_slash(dst);
}

static int
aws_open(cir_aws_t **out, int with_creds, char *err, size_t errsize)
{
    cir_aws_t *a = calloc(1, sizeof(*a));
    const char *v;
    int ret;

    *out = NULL;
    if (a == NULL) {
        return CIR_ENOMEM;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->refresh_lock, NULL);
    v = aws_env("AWS_REGION");
    aws_copy_str(a->region, sizeof(a->region),
                 v ? v
                   : (aws_env("AWS_DEFAULT_REGION")
                          ? aws_env("AWS_DEFAULT_REGION")
                          : "us-east-1"));
    endpoint_for(a->ep_s3, sizeof(a->ep_s3), "AWS_ENDPOINT_URL_S3");
    endpoint_for(a->ep_sqs, sizeof(a->ep_sqs), "AWS_ENDPOINT_URL_SQS");
    endpoint_for(a->ep_batch, sizeof(a->ep_batch), "AWS_ENDPOINT_URL_BATCH");
    endpoint_for(a->ep_events, sizeof(a->ep_events),
                 "AWS_ENDPOINT_URL_EVENTBRIDGE");
    a->connect_timeout_ms = CIR_AWS_CONNECT_TIMEOUT_MS;
    a->request_timeout_ms = CIR_AWS_REQUEST_TIMEOUT_MS;
    cir_aws_retry_default(&a->retry);
    if (cir_aws_retry_configure(&a->retry, aws_env("CIRRUS_AWS_MAX_ATTEMPTS"),
                                aws_env("CIRRUS_AWS_RETRY_BUDGET_S"),
                                aws_env("CIRRUS_AWS_RETRY_MAX_WAIT_S"), err,
                                errsize) < 0) {
        pthread_mutex_destroy(&a->lock);
        free(a);
        return CIR_EINVAL;
    }

    a->source = CRED_NONE;
    if (with_creds && (ret = aws_creds_find(a, err, errsize)) < 0) {
        pthread_mutex_destroy(&a->lock);
        pthread_mutex_destroy(&a->refresh_lock);
        free(a);
        return ret;
    }
    *out = a;
    return 0;
}

int
cir_aws_open(cir_aws_t **out, char *err, size_t errsize)
{
    return aws_open(out, 1, err, errsize);
}

int
aws_open_anonymous(cir_aws_t **out, char *err, size_t errsize)
{
    return aws_open(out, 0, err, errsize);
}

void
cir_aws_close(cir_aws_t **aws)
{
    if (*aws == NULL) {
        return;
    }
    OPENSSL_cleanse(&(*aws)->creds, sizeof((*aws)->creds));
    pthread_mutex_destroy(&(*aws)->lock);
    pthread_mutex_destroy(&(*aws)->refresh_lock);
    free(*aws);
    *aws = NULL;
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static cir_aws_t *default_aws;

static void
open_default(void)
{
    char err[256];

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cir_aws_open(&default_aws, err, sizeof(err)) < 0) {
        cir_log_error(&log_ctx, "%s", err);
    }
}

cir_aws_t *
cir_aws_default(void)
{
    pthread_once(&default_once, open_default);
    return default_aws;
}

const char *
cir_aws_region(const cir_aws_t *aws)
{
    return aws->region;
}

int
cir_aws_set_region(cir_aws_t *aws, const char *region)
{
    if (region == NULL || region[0] == '\0' ||
        strlen(region) >= sizeof(aws->region)) {
        return CIR_EINVAL;
    }
    aws_copy_str(aws->region, sizeof(aws->region), region);
    return 0;
}

int
cir_aws_set_timeouts(cir_aws_t *aws, int connect_ms, int request_ms)
{
    if (connect_ms < 1 || request_ms < 1 || connect_ms > 3600000 ||
        request_ms > 3600000) {
        return CIR_EINVAL;
    }
    aws->connect_timeout_ms = connect_ms;
    aws->request_timeout_ms = request_ms;
    return 0;
}

int
cir_aws_set_endpoint(cir_aws_t *aws, const char *service, const char *url)
{
    char *dst = strcmp(service, "s3") == 0       ? aws->ep_s3
                : strcmp(service, "sqs") == 0    ? aws->ep_sqs
                : strcmp(service, "batch") == 0  ? aws->ep_batch
                : strcmp(service, "events") == 0 ? aws->ep_events
                                                 : NULL;

    /* ep_* are all the same size */
    if (dst == NULL || url == NULL || strlen(url) >= sizeof(aws->ep_s3) ||
        (url[0] != '\0' && strncmp(url, "http://", 7) != 0 &&
         strncmp(url, "https://", 8) != 0)) {
        return CIR_EINVAL;
    }
    aws_copy_str(dst, sizeof(aws->ep_s3), url);
    aws_trim_slash(dst);
    return 0;
}

const char *
aws_endpoint(const cir_aws_t *aws, const char *service)
{
    if (strcmp(service, "s3") == 0) {
        return aws->ep_s3;
    }
    if (strcmp(service, "sqs") == 0) {
        return aws->ep_sqs;
    }
    if (strcmp(service, "events") == 0) {
        return aws->ep_events;
    }
    return aws->ep_batch;
}
