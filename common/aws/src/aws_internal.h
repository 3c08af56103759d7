/* Shared between the AWS client's files; not a public interface. */
#ifndef CIR_AWS_INTERNAL_H
#define CIR_AWS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <curl/curl.h>

#include <jansson.h>

#include "cir_aws.h"

#define AWS_ERROR_MAX 1024 /* the thread's last error message */

typedef enum {
    CRED_STATIC = 0,
    CRED_CONTAINER,
    CRED_IMDS,
    CRED_NONE
} cred_source_t;

struct cir_aws {
    char region[64];
    char ep_s3[512];
    char ep_sqs[512];
    char ep_batch[512];
    char ep_events[512];
    cir_aws_retry_t retry;
    int connect_timeout_ms; /* per attempt: connecting */
    int request_timeout_ms; /* per attempt: the whole exchange */
    cred_source_t source;
    char cred_url[1024];
    char cred_auth[2048];
    char imds[512];
    pthread_mutex_t lock;         /* creds */
    pthread_mutex_t refresh_lock; /* one refresh at a time */
    cir_aws_creds_t creds;
};

typedef struct {
    const char *service; /* signing name: s3, sqs, batch, events */
    const char *method;
    const char *endpoint; /* scheme://host[:port], no trailing slash */
    const char *path;     /* raw */
    const cir_aws_kv_t *query;
    size_t nquery;
    const cir_aws_kv_t *headers; /* extra headers, all signed */
    size_t nheaders;
    const void *body;
    size_t body_len;
    int unsigned_payload;
    int anonymous; /* sent without a signature (no credentials needed) */
    int low_speed_s;
    /* limits of this request (0/NULL: the client's): the total time of one
     * attempt, a long poll's wait added to the client's total, the number
     * of attempts, and a flag that aborts the transfer at once when set
     * (CIR_ECANCELED, no retry) */
    int timeout_ms;
    int extra_ms;
    int max_attempts;
    const atomic_int *abort;
    /* response */
    cir_buf_t *out;  /* body sink (reset per attempt), or NULL */
    void *range_buf; /* or a fixed buffer */
    size_t range_cap;
    size_t *range_got;
    cir_s3_head_t *head; /* captured headers, or NULL */
    long status;
    /* private */
    long status_seen;
    size_t range_got_n;
    cir_buf_t errbody;
} aws_req_t;

/* request.c: one signed request with the client's retries. */
int aws_request(cir_aws_t *a, aws_req_t *r);
/* request.c: a JSON call (Batch's REST JSON, SQS's JSON 1.0, EventBridge's
 * 1.1): body serialised and POSTed with content_type and, when given,
 * X-Amz-Target; r gives the service, endpoint, path, low_speed_s and
 * limits (its body, headers and out are set here).  *reply: the answer,
 * an object ("" is {}); CIR_EPARSE "<what>: malformed reply" otherwise. */
int aws_json_call(cir_aws_t *a, aws_req_t *r, const char *content_type,
                  const char *target, const json_t *body, size_t reply_max,
                  const char *what, json_t **reply);

/* client.c: the client's endpoints, the thread's last error and its code,
 * small string helpers. */
const char *aws_endpoint(const cir_aws_t *a, const char *service);
void aws_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void aws_set_error_code(const char *code);
const char *aws_env(const char *name); /* NULL when unset or empty */
void aws_copy_str(char *dst, size_t size, const char *src);
void aws_trim_slash(char *s);

/* client.c: a client that signs nothing (its requests are anonymous):
 * an unsigned key provider's (speke.c). */
int aws_open_anonymous(cir_aws_t **aws, char *err, size_t errsize);

/* creds.c: sets a->source (and static credentials) from the environment
 * and files; CIR_EAUTH with a message in err when there are none. */
int aws_creds_find(cir_aws_t *a, char *err, size_t errsize);

/* transfer.c: one attempt's curl options, an abort-aware perform, the
 * monotonic clock, a random number for jitter, a backoff wait. */
void aws_transfer_setup(CURL *c, const cir_aws_t *a, aws_req_t *r,
                        const char *url, struct curl_slist *headers);
CURLcode aws_perform(CURL *c, const atomic_int *abort_flag);
int64_t aws_mono_ms(void);
uint32_t aws_random32(void);
void aws_wait_ms(int64_t ms, const atomic_int *abort_flag);

/* response.c: curl's body and header callbacks (opaque: the aws_req_t),
 * resetting them before an attempt, and an HTTP error answer. */
size_t aws_on_body(char *p, size_t size, size_t n, void *opaque);
size_t aws_on_header(char *p, size_t size, size_t n, void *opaque);
void aws_response_reset(aws_req_t *r);
int aws_response_error(aws_req_t *r, long status, int *retry);

#endif
