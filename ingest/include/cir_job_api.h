/*
 * cirrus-worker's job API (docs/api.md, docs/openapi.json): HTTP/JSON on
 * its own port (api_port), served by the worker's HTTP server
 * (cir_worker_http.h) with this module as its handler.
 *
 *   POST /jobs              a job document (cir_intake_parse_job) into the
 *                           spool's incoming/ (atomic rename); 201 + Location
 *   GET  /jobs/{id}         state from the spool folders and the job's
 *                           state JSON (status_dir or beside the output)
 *   GET  /jobs?state=&limit=&cursor=   ids in ascending order, keyset cursor
 *   POST /jobs/{id}/cancel  queued: to cancelled/; running here: through
 *                           the dispatcher (cir_dispatch_cancel)
 *   POST /jobs/{id}/retry   failed/ back to incoming/, attempts reset
 *   DELETE /assets/{name}   the asset out_root/<name> and its result file
 *                           removed from the store; 409 while a queued or
 *                           running job writes it
 *   POST /uploads           {"name"}: a presigned S3 PUT URL for
 *                           upload_s3_uri/<name> (the console's upload on
 *                           AWS, the browser sending the file to S3) and
 *                           the job input that names it; 501 without
 *                           upload_s3_uri
 *   GET  /openapi.json      the OpenAPI 3 document (embedded at build time)
 *
 * Idempotency keys (body "idempotency_key" or the Idempotency-Key header)
 * are kept in the spool as api/keys/<sha256 of the key>.json: {id, body
 * hash}; with a job store, in the store (keys/, a conditional write), so
 * every worker's API answers a key with one job; a key is forgotten
 * idempotency_seconds after it was made.  With intake=sqs, POST
 * /jobs validates the document the same way and sends it to the queue
 * (SendMessage, 202); without a job store the other job routes answer 501
 * there (a job's state is in status_dir).
 */
#ifndef CIR_JOB_API_H
#define CIR_JOB_API_H

#include <stddef.h>
#include <stdint.h>

#include "cir_dispatch.h"
#include "cir_worker_http.h"

typedef struct {
    const char *intake;         /* "spool" or "sqs" */
    const char *spool_dir;      /* the spool's folder */
    const char *out_root;       /* as the intake's */
    const char *presets_dir;    /* as the intake's */
    const char *default_preset; /* as the intake's */
    const char *status_dir;     /* the dispatcher's; "" for beside outputs */
    const char *token;          /* "" : no auth (loopback only) */
    cir_dispatch_t *dispatch;   /* running jobs are cancelled through it */
    /* intake=sqs: POST /jobs sends to this queue (SendMessage) */
    const char *sqs_queue_url;
    /* intake=sqs: the shared job store (cir_job_store.h); "" : the other
     * routes answer 501 */
    const char *jobs_uri;
    int aws_connect_timeout_ms, aws_request_timeout_ms;
    /* POST /uploads: s3://bucket/prefix/ ("" : 501), URLs valid this long */
    const char *upload_s3_uri;
    int upload_url_seconds;
    /* GET /jobs on the job store: records read per request at most (one
     * GetObject each; 0: 1000), past which the page ends with a cursor */
    size_t list_scan_max;
    /* an idempotency key is forgotten this long after it was made (0:
     * 24 h): a submit with it then makes a new job */
    int64_t idempotency_seconds;
} cir_job_api_config_t;

typedef struct cir_job_api cir_job_api_t;

/* The strings are copied.  0, or < 0 with err. */
int cir_job_api_new(cir_job_api_t **api, const cir_job_api_config_t *cfg,
                    char *err, size_t errsize);
void cir_job_api_free(cir_job_api_t **api);

/* The handler for cir_worker_http_config_t (ctx: the cir_job_api_t). */
int cir_job_api_handle(void *ctx, const cir_worker_http_request_t *req,
                       cir_worker_http_answer_t *ans);

/* ---- pure pieces ----------------------------------------------------------
 */

typedef enum {
    CIR_API_NOT_FOUND,
    CIR_API_BAD_METHOD,
    CIR_API_OPENAPI,
    CIR_API_SUBMIT,
    CIR_API_LIST,
    CIR_API_GET,
    CIR_API_CANCEL,
    CIR_API_RETRY,
    CIR_API_DELETE_ASSET,
    CIR_API_UPLOAD,
} cir_api_route_t;

#define CIR_API_LIMIT_DEFAULT 50
#define CIR_API_LIMIT_MAX     500

typedef struct {
    cir_api_route_t route;
    char id[128];     /* the job id or asset name, percent-decoded */
    char state[16];   /* the list's filter, "" for all */
    int limit;        /* the list's page size */
    char cursor[128]; /* the list's cursor: the last id seen */
} cir_api_request_t;

/* Routes a method (http_parser's enum) and URL: 0 and *out, or CIR_EINVAL
 * with err for a bad id or query (400). */
int cir_job_api_route(int method, const char *url, cir_api_request_t *out,
                      char *err, size_t errsize);

/* 1 when the Authorization header value is "Bearer <token>" (compared in
 * constant time), else 0. */
int cir_job_api_authorized(const char *authorization, const char *token);

/* The states a job can be in, as the API names them. */
int cir_job_api_state_known(const char *state);

#endif
