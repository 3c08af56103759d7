/*
 * cirrus-worker's status HTTP port: GET /metrics (Prometheus text) and GET
 * /jobs (the running jobs as JSON) from the dispatcher (cir_dispatch.h).
 * Anything else: 404 for a GET, 405 for another method, 400 for what is not
 * HTTP, 431 for a request line and headers over max_request bytes, 408 when
 * the request is not complete within timeout_ms.  One connection at a time
 * on its own thread, "Connection: close"; answers are sent within
 * timeout_ms too.
 *
 * The same server serves the job API (cir_job_api.h) on its own port, with
 * a handler and request bodies.
 *
 * Requests are parsed with Node's http_parser (Debian's libhttp-parser).
 */
#ifndef CIR_WORKER_HTTP_H
#define CIR_WORKER_HTTP_H

#include <stddef.h>

#include "cir_buf.h"
#include "cir_dispatch.h"

#define CIR_WORKER_HTTP_URL_MAX    1024
#define CIR_WORKER_HTTP_HEADER_MAX 512

typedef struct {
    int get;    /* the method is GET */
    int method; /* http_parser's enum http_method */
    char url[CIR_WORKER_HTTP_URL_MAX];
    /* the headers the job API reads; "" when absent */
    char authorization[CIR_WORKER_HTTP_HEADER_MAX];
    char idempotency_key[CIR_WORKER_HTTP_HEADER_MAX];
    /* the body (within the parsed buffer), when one was read */
    const char *body;
    size_t body_len;
    int headers_done; /* the request line and headers are complete */
} cir_worker_http_request_t;

/* What a handler answers: status is its return value. */
typedef struct {
    cir_buf_t *body;
    const char *type;                       /* Content-Type */
    char location[CIR_WORKER_HTTP_URL_MAX]; /* Location, "" for none */
} cir_worker_http_answer_t;

typedef int (*cir_worker_http_handler_fn)(void *ctx,
                                          const cir_worker_http_request_t *req,
                                          cir_worker_http_answer_t *ans);

typedef struct {
    const char *listen; /* IPv4 address */
    int port;           /* 0 or -1: any free port */
    size_t max_request; /* request line and headers, bytes */
    int timeout_ms;     /* to read a request; to send an answer */
    /* 0: bodies are not read (the status port); else the largest body
     * (413 beyond) */
    size_t max_body;
    /* NULL: the status routes from the dispatcher */
    cir_worker_http_handler_fn handler;
    void *handler_ctx;
} cir_worker_http_config_t;

/* Parses the bytes of one request received so far: 1 and *req when its
 * headers are complete, 0 when more is needed, CIR_EPARSE when it is not
 * HTTP, CIR_ELIMIT when its URL or a read header is over its limit. */
int cir_worker_http_parse(const char *buf, size_t len,
                          cir_worker_http_request_t *req);

/* Same, reading a body of at most max_body bytes (Content-Length; chunked
 * bodies are refused, CIR_EUNSUPPORTED): 1 when the whole message is in
 * buf (req->body), 2 when its Content-Length is over max_body. */
int cir_worker_http_parse_body(const char *buf, size_t len, size_t max_body,
                               cir_worker_http_request_t *req);

/* The answer to a request: status, Content-Type and body. */
int cir_worker_http_answer(cir_dispatch_t *d,
                           const cir_worker_http_request_t *req,
                           cir_buf_t *body, const char **type);

typedef struct cir_worker_http cir_worker_http_t;

/* Binds and starts serving: 0 and the bound port, or a negative error. */
int cir_worker_http_start(cir_worker_http_t **h,
                          const cir_worker_http_config_t *cfg,
                          cir_dispatch_t *d, int *bound_port);

void cir_worker_http_stop(cir_worker_http_t **h);

#endif
