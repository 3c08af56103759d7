/*
 * AWS clients on libcurl + OpenSSL: credentials, S3, SQS (JSON protocol),
 * AWS Batch SubmitJob and EventBridge PutEvents, all SigV4-signed
 * (cir_sigv4.h), with retries.
 *
 * Configuration comes from the environment as AWS tools read it:
 *   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else
 *   ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE), else the
 *   ECS/Batch container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 *   _FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN), else EC2 IMDSv2
 *   (AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address; disabled by
 *   AWS_EC2_METADATA_DISABLED=true).  Temporary credentials are refreshed
 *   five minutes before they expire.
 *   AWS_REGION / AWS_DEFAULT_REGION (default us-east-1).
 *   AWS_ENDPOINT_URL, or per service AWS_ENDPOINT_URL_S3 / _SQS / _BATCH /
 *   _EVENTBRIDGE:
 *   a custom endpoint; S3 then uses path-style addressing.
 *
 * Retries, like the AWS SDKs' "standard" mode: 500/502/503/504 (and other
 * 5xx but 501), 429, SlowDown, Throttling codes, RequestTimeout and the like,
 * connection resets and timeouts are retried with exponential backoff and
 * full jitter (a wait drawn from [0, min(base * 2^n, max_wait)]) while the
 * request's retry budget lasts (cir_aws_retry_t below: 30 s in total, 20 s
 * at most per wait, 20 attempts at most, 3 at least by default; environment
 * CIRRUS_AWS_RETRY_BUDGET_S, CIRRUS_AWS_RETRY_MAX_WAIT_S,
 * CIRRUS_AWS_MAX_ATTEMPTS); then CIR_ETRANSIENT.  Other answers are final
 * (cir_aws_classify): refused credentials or permissions (401, 403,
 * SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied, ExpiredToken...)
 * CIR_EAUTH, 404/NoSuch* CIR_ENOTFOUND, else CIR_EINVAL.
 *
 * Timeouts: every attempt has a connect timeout (CIR_AWS_CONNECT_TIMEOUT_MS)
 * and a total one (CIR_AWS_REQUEST_TIMEOUT_MS, plus the wait of a long
 * poll), besides a low-speed limit; cir_aws_set_timeouts() changes them per
 * client (cirrus-worker keeps them well below its SQS visibility window).
 * A client is thread-safe.
 * Secrets are never logged; error messages carry the service's error code
 * and message only.
 */
#ifndef CIR_AWS_H
#define CIR_AWS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cir_buf.h"
#include "cir_sigv4.h"

#define CIR_AWS_MAX_ATTEMPTS        20
#define CIR_AWS_MIN_ATTEMPTS        3 /* even past the budget (SDK default) */
#define CIR_AWS_RETRY_BASE_MS       250
#define CIR_AWS_RETRY_MAX_WAIT_MS   20000
#define CIR_AWS_RETRY_BUDGET_MS     30000
#define CIR_AWS_CONNECT_TIMEOUT_MS  3000
#define CIR_AWS_REQUEST_TIMEOUT_MS  20000
#define CIR_AWS_MULTIPART_THRESHOLD (8u << 20)
#define CIR_AWS_PART_SIZE           (8u << 20)

typedef struct cir_aws cir_aws_t;

typedef struct {
    char access_key[128];
    char secret_key[128];
    char token[4096];
    int64_t expires; /* unix seconds, 0 = never */
} cir_aws_creds_t;

/* A client configured from the environment. */
int cir_aws_open(cir_aws_t **aws, char *err, size_t errsize);
void cir_aws_close(cir_aws_t **aws);
/* The process-wide client (opened on first use), for the store backend and
 * the AVIO input.  NULL on failure (logged). */
cir_aws_t *cir_aws_default(void);
const char *cir_aws_region(const cir_aws_t *aws);
/* Overrides from configuration (after cir_aws_open, before the client is
 * shared between threads): the signing region, and a service's endpoint
 * ("s3", "sqs", "batch", "events"; "" = the AWS default). */
int cir_aws_set_region(cir_aws_t *aws, const char *region);
int cir_aws_set_endpoint(cir_aws_t *aws, const char *service, const char *url);
/* The connect and total timeouts of every attempt (ms, 1 .. 3600000). */
int cir_aws_set_timeouts(cir_aws_t *aws, int connect_ms, int request_ms);
/* Current credentials, refreshed when near expiry. */
int cir_aws_credentials(cir_aws_t *aws, cir_aws_creds_t *out);
/* The last error message of this thread ("SlowDown: Please reduce..."). */
const char *cir_aws_last_error(void);
/* The service's error code of this thread's last call ("SlowDown",
 * "MessageNotInflight"), "" when the last attempt got no error answer. */
const char *cir_aws_last_error_code(void);

/* ---- retries (pure: no clock, no network) ---- */
typedef struct {
    int max_attempts;    /* attempts of one request, the first included */
    int64_t base_ms;     /* the first retry waits up to this */
    int64_t max_wait_ms; /* no wait is longer */
    int64_t budget_ms;   /* attempts and waits of one request, in total */
} cir_aws_retry_t;

/* The defaults above. */
void cir_aws_retry_default(cir_aws_retry_t *p);
/* Overrides from configuration strings (NULL or "" keeps a value):
 * max_attempts 1..100, budget_s 0..3600 and max_wait_s 0..600 seconds
 * (fractions allowed).  CIR_EINVAL names the bad one in err; p is then
 * unchanged. */
int cir_aws_retry_configure(cir_aws_retry_t *p, const char *max_attempts,
                            const char *budget_s, const char *max_wait_s,
                            char *err, size_t errsize);
/* How long to wait before retry number `retry` (1 = the second attempt)
 * when `elapsed_ms` of the request's budget are spent: a full-jitter draw
 * from [0, min(base * 2^(retry-1), max_wait)] taken from `rnd`, shortened
 * to what is left of the budget; -1 when no attempt is left (max_attempts
 * made, or the budget used up and CIR_AWS_MIN_ATTEMPTS made: one attempt
 * that timed out after the whole budget is still tried again). */
int64_t cir_aws_retry_wait_ms(const cir_aws_retry_t *p, int retry,
                              int64_t elapsed_ms, uint32_t rnd);
/* What a failed answer means: CIR_ETRANSIENT (worth a retry), CIR_EAUTH
 * (credentials or permissions refused), CIR_ENOTFOUND, else CIR_EINVAL.
 * code is the service's error code ("SlowDown"), "" when it sent none. */
int cir_aws_classify(long status, const char *code);
/* Copies src into dst (size > 0), cutting the middle of a long value
 * ("abc...xyz") rather than its end, so an error code after it survives. */
void cir_aws_ellipsize(char *dst, size_t size, const char *src);

/* ---- S3 ---- */
typedef struct {
    int64_t size;
    char etag[128];
    char content_type[128];
    char cache_control[256];
} cir_s3_head_t;

typedef struct {
    const char *content_type;  /* NULL: application/octet-stream */
    const char *cache_control; /* NULL: none */
    const cir_aws_kv_t *meta;  /* x-amz-meta-<name> */
    size_t nmeta;
    const atomic_int *abort; /* set: the upload stops (CIR_ECANCELED), the
                                request in flight aborted; NULL: none */
    /* create only (a single PUT with If-None-Match: *, S3's conditional
     * write): -EEXIST (412 PreconditionFailed) when the key exists; a
     * concurrent conditional write's 409 is retried.  Not multipart. */
    int if_absent;
} cir_s3_put_opts_t;

/* A read (HEAD, ranged GET) stops at once when *abort is set (abort may
 * be NULL): the request in flight is aborted within ~50 ms, no retry is
 * made and no backoff wait sat out; it returns CIR_ECANCELED. */
int cir_s3_head(cir_aws_t *aws, const char *bucket, const char *key,
                cir_s3_head_t *head, const atomic_int *abort);
/* Reads [offset, offset+len) into buf; *got is what arrived (short at EOF).
 * len 0 reads nothing. */
int cir_s3_get_range(cir_aws_t *aws, const char *bucket, const char *key,
                     int64_t offset, size_t len, void *buf, size_t *got,
                     const atomic_int *abort);
int cir_s3_get(cir_aws_t *aws, const char *bucket, const char *key, size_t max,
               cir_buf_t *out);
/* A single PUT, or a parallel multipart upload above the threshold (parts
 * aborted on failure). */
int cir_s3_put(cir_aws_t *aws, const char *bucket, const char *key,
               const void *data, size_t len, const cir_s3_put_opts_t *opts);
int cir_s3_put_multipart(cir_aws_t *aws, const char *bucket, const char *key,
                         const void *data, size_t len, size_t part_size,
                         const cir_s3_put_opts_t *opts);
int cir_s3_delete(cir_aws_t *aws, const char *bucket, const char *key);

/*
 * A presigned URL (SigV4 in the query string, valid expires_s seconds, at
 * most 7 days) for method on s3://bucket/key, appended to url: whoever holds
 * it may send that one request without credentials (a browser's PUT of an
 * upload).  Signed with the client's credentials now; a session token goes
 * into the URL.  Path-style on a custom endpoint, virtual-hosted on AWS.
 */
int cir_s3_presign_url(cir_aws_t *aws, const char *method, const char *bucket,
                       const char *key, int expires_s, cir_buf_t *url);
/* ListObjectsV2: calls fn for each key under prefix (all pages); fn returns
 * nonzero to stop. */
int cir_s3_list(cir_aws_t *aws, const char *bucket, const char *prefix,
                int (*fn)(void *opaque, const char *key, int64_t size),
                void *opaque);

/* The same, max_keys per page (1..1000; 0: the environment's
 * CIRRUS_AWS_S3_LIST_MAX_KEYS, else S3's default of 1000). */
int cir_s3_list_paged(cir_aws_t *aws, const char *bucket, const char *prefix,
                      int max_keys,
                      int (*fn)(void *opaque, const char *key, int64_t size),
                      void *opaque);
/* The same from start_after (a key; NULL or "": the first): the keys after
 * it in S3's byte order, pages followed through their continuation tokens
 * until fn returns nonzero or the listing ends. */
int cir_s3_list_after(cir_aws_t *aws, const char *bucket, const char *prefix,
                      const char *start_after, int max_keys,
                      int (*fn)(void *opaque, const char *key, int64_t size),
                      void *opaque);
/* PutObjectTagging: replaces the object's tag set with tags (name = key,
 * value; at most 10, S3's tag characters only, else CIR_EINVAL), sent with
 * its Content-MD5. */
int cir_s3_put_tagging(cir_aws_t *aws, const char *bucket, const char *key,
                       const cir_aws_kv_t *tags, size_t ntags);

/* Registers the s3:// output store backend (cir_storage.h). */
int cir_aws_register_s3_backend(void);

/* ---- SQS (JSON protocol) ---- */
typedef struct {
    char id[128];
    char receipt[2048];
    char *body; /* malloc'd */
    size_t body_len;
    int receive_count; /* ApproximateReceiveCount */
    int64_t sent_ms;   /* SentTimestamp */
} cir_sqs_msg_t;

/* Long-polls up to wait_s seconds; returns the number of messages (0..max)
 * stored in msgs, or < 0. */
int cir_sqs_receive(cir_aws_t *aws, const char *queue_url, int max, int wait_s,
                    int visibility_s, cir_sqs_msg_t *msgs);
void cir_sqs_msg_free(cir_sqs_msg_t *m);
int cir_sqs_delete(cir_aws_t *aws, const char *queue_url, const char *receipt);
int cir_sqs_change_visibility(cir_aws_t *aws, const char *queue_url,
                              const char *receipt, int timeout_s);
/* One attempt, over within_ms at most, aborted when *abort is set (may be
 * NULL): a lease's heartbeat, whose caller decides when to try again.
 * CIR_ENOTFOUND when SQS answers MessageNotInflight or
 * ReceiptHandleIsInvalid: the receipt no longer holds the message. */
int cir_sqs_extend_visibility(cir_aws_t *aws, const char *queue_url,
                              const char *receipt, int timeout_s, int within_ms,
                              const atomic_int *abort);
int cir_sqs_send(cir_aws_t *aws, const char *queue_url, const char *body,
                 char *id, size_t idsize);
/* The queue's RedrivePolicy maxReceiveCount (GetQueueAttributes), 0 when
 * the queue has no dead-letter queue. */
int cir_sqs_max_receive_count(cir_aws_t *aws, const char *queue_url);

/* ---- AWS Batch (REST JSON) ---- */
/* POST /v1/submitjob with params as parameters; job id into job_id. */
int cir_batch_submit(cir_aws_t *aws, const char *job_name,
                     const char *job_queue, const char *job_definition,
                     const cir_aws_kv_t *params, size_t nparams, char *job_id,
                     size_t idsize);
/* SubmitJob's request, at most (AWS Batch quota "maximum job payload
 * size", 30 KiB). */
#define CIR_BATCH_SUBMIT_MAX (30 * 1024)
/* cir_batch_submit with env (may be NULL) as containerOverrides'
 * environment; a request above CIR_BATCH_SUBMIT_MAX is not sent:
 * CIR_ELIMIT, cir_aws_last_error() telling its size. */
int cir_batch_submit_env(cir_aws_t *aws, const char *job_name,
                         const char *job_queue, const char *job_definition,
                         const cir_aws_kv_t *params, size_t nparams,
                         const cir_aws_kv_t *env, size_t nenv, char *job_id,
                         size_t idsize);

typedef struct {
    char job_id[128];
    char job_name[129];
    char status[16]; /* SUBMITTED ... RUNNING, SUCCEEDED, FAILED */
    int64_t created_ms;
} cir_batch_job_t;

#define CIR_BATCH_LIST_MAX_PAGES 20

/* POST /v1/listjobs on job_queue with a JOB_NAME filter (Batch then lists
 * every status).  Stores up to max jobs whose name equals job_name exactly
 * (the filter is a case-insensitive prefix match when it ends in '*';
 * exact names are checked here) and returns how many matched (it may exceed
 * max), following nextToken for at most CIR_BATCH_LIST_MAX_PAGES pages;
 * < 0 on error. */
int cir_batch_list_by_name(cir_aws_t *aws, const char *job_queue,
                           const char *job_name, cir_batch_job_t *jobs,
                           size_t max);

/* ---- EventBridge (JSON 1.1) ---- */
typedef struct {
    const char *bus; /* name or ARN; NULL or "": the account's default */
    const char *source;
    const char *detail_type;
    const char *detail; /* JSON object as text */
} cir_events_entry_t;

/* PutEvents of one entry, at most max_attempts attempts (0: the client's
 * policy) of at most timeout_ms each (0: the client's).  A 200 answer
 * whose entry failed is CIR_ETRANSIENT for ThrottlingException and
 * InternalFailure, else CIR_EINVAL (the error says its ErrorCode). */
int cir_events_put(cir_aws_t *aws, const cir_events_entry_t *entry,
                   int max_attempts, int timeout_ms);

#endif
