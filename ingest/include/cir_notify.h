/*
 * Job notifications: every state change of a VOD job (running, done,
 * retrying, failed, released, lost) as an event, sent by a thread of its
 * own so the dispatcher never waits on a receiver.
 *
 * The event is the job's state JSON (cir_dispatch.h: id, state, attempt,
 * input, output, preset, error, and once finished version, outputs[] ...)
 * plus "event" ("job.state"), "event_id" (32 hex digits), "time" (unix
 * seconds) and "previous_state" (the state this worker last reported for
 * the claim; null for its first).  It goes to:
 *
 *  - a webhook (notify_url): a JSON POST with X-Cirrus-Event: job.state,
 *    X-Cirrus-Event-Id (the same on every attempt: receivers drop repeats),
 *    X-Cirrus-Timestamp (of the attempt) and, with a secret,
 *    X-Cirrus-Signature: sha256=hex(HMAC-SHA256(secret, "<ts>.<body>")),
 *    as the ingest's lifecycle webhooks (cir_webhook_signature);
 *  - an EventBridge bus (eventbridge_bus): PutEvents, Source "cirrus.worker",
 *    DetailType "Cirrus Job State Change", Detail the same JSON.
 *
 * A failed attempt (connection error, timeout, 5xx, 408 or 429; for
 * EventBridge the AWS client's transient answers or a failed entry) is
 * tried again after 1, 2, 4 ... s (at most 60 s) up to `attempts`; other
 * answers end the delivery (failed).  Events of one job go out in order.
 * At most max_pending deliveries wait; beyond, an event is dropped and
 * counted.  On stop, what is pending has drain_ms to go out; the rest is
 * dropped.
 *
 * Tested by tests/unit/test_worker_notify.c and
 * tests/integration/job_notify.test.mjs.
 */
#ifndef CIR_NOTIFY_H
#define CIR_NOTIFY_H

#include <stdint.h>

#include <jansson.h>

#include "cir_buf.h"

#define CIR_NOTIFY_EVENT        "job.state"
#define CIR_NOTIFY_SOURCE       "cirrus.worker"
#define CIR_NOTIFY_DETAIL_TYPE  "Cirrus Job State Change"
#define CIR_NOTIFY_RETRY_MAX_MS 60000
#define CIR_NOTIFY_EVENT_MAX    (256 * 1024) /* EventBridge's entry limit */

typedef struct {
    const char *url;                  /* webhook; "" or NULL: none */
    const char *secret;               /* "" or NULL: unsigned */
    const char *eventbridge_bus;      /* name or ARN; "" or NULL: none */
    const char *eventbridge_endpoint; /* "" or NULL: the environment's */
    int attempts;                     /* per delivery, the first included */
    int timeout_ms;                   /* per attempt */
    int max_pending;                  /* deliveries waiting at once */
    int drain_ms;                     /* on stop */
} cir_notify_config_t;

typedef enum {
    CIR_NOTIFY_WEBHOOK,
    CIR_NOTIFY_EVENTBRIDGE,
    CIR_NOTIFY_NB_SINKS
} cir_notify_sink_t;

typedef struct {
    uint64_t delivered[CIR_NOTIFY_NB_SINKS];
    uint64_t failed[CIR_NOTIFY_NB_SINKS];  /* given up: attempts spent, or
                                              an answer not worth a retry */
    uint64_t dropped[CIR_NOTIFY_NB_SINKS]; /* queue full, or stop */
    uint64_t retried[CIR_NOTIFY_NB_SINKS]; /* attempts that failed and were
                                              tried again */
} cir_notify_counts_t;

typedef struct cir_notify cir_notify_t;

/* Starts the notifier thread; err says what is wrong (an EventBridge bus
 * without AWS credentials...).  0, CIR_EINVAL or CIR_ENOMEM. */
int cir_notify_new(cir_notify_t **n, const cir_notify_config_t *cfg, char *err,
                   size_t errsize);

/* Queues an event for every sink (never blocks on the network; any
 * thread).  state is the state JSON (borrowed); previous may be NULL. */
void cir_notify_job_state(cir_notify_t *n, const json_t *state,
                          const char *previous);

void cir_notify_counts(cir_notify_t *n, cir_notify_counts_t *out);
/* cirrus_worker_notifications_total{sink, result} and
 * cirrus_worker_notifications_pending. */
int cir_notify_render_metrics(cir_notify_t *n, cir_buf_t *b);

/* Stops taking events, lets the pending ones go out for drain_ms, drops the
 * rest (counted, logged), joins the thread and frees. */
void cir_notify_free(cir_notify_t **n);

/* ---- pure pieces -------------------------------------------------------- */

/* The wait before attempt number `next` (2 = the first retry): 1 s, 2 s,
 * 4 s ... at most CIR_NOTIFY_RETRY_MAX_MS. */
int64_t cir_notify_backoff_ms(int next);

/* Is a webhook attempt worth another?  curl_ok: the exchange completed;
 * status: its HTTP status. */
int cir_notify_retryable(int curl_ok, long status);

/* The event: a copy of state with event, event_id, time and previous_state
 * (NULL: null).  NULL on allocation failure. */
json_t *cir_notify_event_json(const json_t *state, const char *previous,
                              const char *event_id, int64_t unix_s);

#endif
