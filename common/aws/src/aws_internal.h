/* Shared between the AWS client's files; not a public interface. */
#ifndef CIR_AWS_INTERNAL_H
#define CIR_AWS_INTERNAL_H

#include <stdatomic.h>

#include <curl/curl.h>

#include "cir_aws.h"

typedef struct {
    const char *service; /* signing name: s3, sqs, batch */
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

int aws_request(cir_aws_t *a, aws_req_t *r);
const char *aws_endpoint(const cir_aws_t *a, const char *service);
void aws_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
