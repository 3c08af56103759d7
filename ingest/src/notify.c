/*
 * Job notifications (cir_notify.h): a queue of deliveries, one per event
 * and sink, and the thread that sends them (webhook POSTs on libcurl,
 * EventBridge PutEvents through the AWS client), retrying with backoff.
 * The dispatcher only queues: a slow or dead receiver costs it nothing.
 *
 * Tested by tests/unit/test_worker_notify.c (the pure pieces) and
 * tests/integration/job_notify.test.mjs (deliveries, retries, EventBridge).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "cir_aws.h"
#include "cir_clock.h"
#include "cir_error.h"
#include "cir_ingest.h"
#include "cir_log.h"
#include "cir_notify.h"

static const cir_log_ctx_t log_ctx = {.component = "notify"};
static const char *sink_names[CIR_NOTIFY_NB_SINKS] = {"webhook", "eventbridge"};

typedef struct delivery {
    struct delivery *next;
    cir_notify_sink_t sink;
    char job[128]; /* events of one job go out in order */
    char state[16];
    char id[33];
    char *body; /* shared by the event's deliveries: refcount below */
    int *refs;
    int attempt; /* attempts made */
    int64_t due_us;
} delivery_t;

struct cir_notify {
    char url[1024], secret[256], bus[512];
    int attempts, timeout_ms, max_pending, drain_ms;
    cir_aws_t *aws; /* EventBridge; NULL: none */
    CURL *curl;     /* the thread's, reused: keep-alive */
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    delivery_t *head;
    int pending, stopping;
    int64_t drain_until_us;
    cir_notify_counts_t c;
};

typedef enum {
    SENT,
    RETRY,
    GIVE_UP
} outcome_t;

static int64_t
mono_us(void)
{
    return cir_clock_mono_us(cir_clock_system());
}

/* ---- pure pieces -------------------------------------------------------- */

int64_t
cir_notify_backoff_ms(int next)
{
    int shift = next - 2;

    if (shift < 0) {
        shift = 0;
    }
    if (shift > 6) {
        shift = 6;
    }
    return (int64_t)1000 << shift > CIR_NOTIFY_RETRY_MAX_MS
               ? CIR_NOTIFY_RETRY_MAX_MS
               : (int64_t)1000 << shift;
}

int
cir_notify_retryable(int curl_ok, long status)
{
    if (!curl_ok) {
        return 1; /* connection refused, reset, timeout */
    }
    return status >= 500 || status == 408 || status == 429;
}

json_t *
cir_notify_event_json(const json_t *state, const char *previous,
                      const char *event_id, int64_t unix_s)
{
    json_t *e = json_deep_copy(state);

    if (e == NULL || !json_is_object(e)) {
        json_decref(e);
        return NULL;
    }
    if (json_object_set_new(e, "event", json_string(CIR_NOTIFY_EVENT)) < 0 ||
        json_object_set_new(e, "event_id", json_string(event_id)) < 0 ||
        json_object_set_new(e, "time", json_integer((json_int_t)unix_s)) < 0 ||
        json_object_set_new(e, "previous_state",
                            previous ? json_string(previous) : json_null()) <
            0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

/* ---- one attempt -------------------------------------------------------- */

static size_t
discard(char *p, size_t size, size_t n, void *opaque)
{
    (void)p;
    (void)opaque;
    return size * n;
}

static struct curl_slist *
webhook_headers(const cir_notify_t *n, const delivery_t *d)
{
    long long ts = (long long)time(NULL);
    char line[160], sig[65];
    struct curl_slist *h = NULL, *l;
    const char *lines[4] = {"Content-Type: application/json",
                            "X-Cirrus-Event: " CIR_NOTIFY_EVENT, NULL, NULL};

    for (int i = 0; i < 2; i++) {
        if ((l = curl_slist_append(h, lines[i])) == NULL) {
            goto fail;
        }
        h = l;
    }
    snprintf(line, sizeof(line), "X-Cirrus-Event-Id: %s", d->id);
    if ((l = curl_slist_append(h, line)) == NULL) {
        goto fail;
    }
    h = l;
    snprintf(line, sizeof(line), "X-Cirrus-Timestamp: %lld", ts);
    if ((l = curl_slist_append(h, line)) == NULL) {
        goto fail;
    }
    h = l;
    if (n->secret[0] != '\0') {
        if (cir_webhook_signature(n->secret, ts, d->body, strlen(d->body),
                                  sig) < 0) {
            goto fail;
        }
        snprintf(line, sizeof(line), "X-Cirrus-Signature: sha256=%s", sig);
        if ((l = curl_slist_append(h, line)) == NULL) {
            goto fail;
        }
        h = l;
    }
    return h;
fail:
    curl_slist_free_all(h);
    return NULL;
}

static outcome_t
webhook_attempt(cir_notify_t *n, const delivery_t *d, char *why, size_t size)
{
    struct curl_slist *h = webhook_headers(n, d);
    CURLcode res;
    long status = 0;

    if (h == NULL) {
        snprintf(why, size, "out of memory");
        return RETRY;
    }
    curl_easy_reset(n->curl);
    curl_easy_setopt(n->curl, CURLOPT_URL, n->url);
    curl_easy_setopt(n->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
    curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(n->curl, CURLOPT_TIMEOUT_MS, (long)n->timeout_ms);
    curl_easy_setopt(n->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(n->curl, CURLOPT_WRITEFUNCTION, discard);
    res = curl_easy_perform(n->curl);
    curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    if (res == CURLE_OK && status >= 200 && status < 300) {
        return SENT;
    }
    if (res != CURLE_OK) {
        snprintf(why, size, "%s", curl_easy_strerror(res));
    } else {
        snprintf(why, size, "HTTP %ld", status);
    }
    return cir_notify_retryable(res == CURLE_OK, status) ? RETRY : GIVE_UP;
}

static outcome_t
eventbridge_attempt(cir_notify_t *n, const delivery_t *d, char *why,
                    size_t size)
{
    cir_events_entry_t e = {.bus = n->bus,
                            .source = CIR_NOTIFY_SOURCE,
                            .detail_type = CIR_NOTIFY_DETAIL_TYPE,
                            .detail = d->body};
    /* one attempt: the retries are ours, as for the webhook */
    int ret = cir_events_put(n->aws, &e, 1, n->timeout_ms);

    if (ret == 0) {
        return SENT;
    }
    snprintf(why, size, "%s",
             cir_aws_last_error()[0] ? cir_aws_last_error()
                                     : cir_strerror(ret));
    return ret == CIR_ETRANSIENT ? RETRY : GIVE_UP;
}

/* ---- the queue (n->lock held) ------------------------------------------- */

/* Is an earlier delivery of d's job to d's sink still pending? */
static int
blocked(const cir_notify_t *n, const delivery_t *d)
{
    for (const delivery_t *x = n->head; x != d; x = x->next) {
        if (x->sink == d->sink && strcmp(x->job, d->job) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The first delivery due at now; else NULL and *next_us the earliest due
 * time of the others (INT64_MAX: none). */
static delivery_t *
next_due(const cir_notify_t *n, int64_t now, int64_t *next_us)
{
    *next_us = INT64_MAX;
    for (delivery_t *d = n->head; d != NULL; d = d->next) {
        if (blocked(n, d)) {
            continue;
        }
        if (d->due_us <= now) {
            return d;
        }
        if (d->due_us < *next_us) {
            *next_us = d->due_us;
        }
    }
    return NULL;
}

static void
delivery_free(cir_notify_t *n, delivery_t *d)
{
    delivery_t **pp = &n->head;

    while (*pp != NULL && *pp != d) {
        pp = &(*pp)->next;
    }
    if (*pp == d) {
        *pp = d->next;
    }
    n->pending--;
    if (--*d->refs == 0) {
        free(d->body);
        free(d->refs);
    }
    free(d);
}

static void
settle(cir_notify_t *n, delivery_t *d, outcome_t o, const char *why)
{
    cir_log_ctx_t ctx = {.component = "notify", .job = d->job};

    if (o == SENT) {
        n->c.delivered[d->sink]++;
        cir_log_debug(&ctx, "%s %s (%s): delivered (attempt %d)",
                      sink_names[d->sink], d->id, d->state, d->attempt);
        delivery_free(n, d);
        return;
    }
    if (o == RETRY && d->attempt < n->attempts) {
        int64_t wait = cir_notify_backoff_ms(d->attempt + 1);
        n->c.retried[d->sink]++;
        d->due_us = mono_us() + wait * 1000;
        cir_log_warn(&ctx, "%s %s (%s): %s; attempt %d of %d in %.0f s",
                     sink_names[d->sink], d->id, d->state, why, d->attempt + 1,
                     n->attempts, (double)wait / 1000);
        return;
    }
    n->c.failed[d->sink]++;
    cir_log_error(&ctx, "%s %s (%s): %s; given up after %d attempt(s)",
                  sink_names[d->sink], d->id, d->state, why, d->attempt);
    delivery_free(n, d);
}

/* Waits for the next due delivery, a new event or the end of the drain. */
static void
wait_next(cir_notify_t *n, int64_t next_us)
{
    int64_t until = next_us;
    struct timespec ts;

    if (n->stopping && n->drain_until_us < until) {
        until = n->drain_until_us;
    }
    if (until == INT64_MAX) {
        pthread_cond_wait(&n->cond, &n->lock);
        return;
    }
    ts.tv_sec = until / 1000000;
    ts.tv_nsec = (long)(until % 1000000) * 1000;
    pthread_cond_timedwait(&n->cond, &n->lock, &ts);
}

static void *
notify_main(void *arg)
{
    cir_notify_t *n = arg;
    char why[300];

    pthread_mutex_lock(&n->lock);
    for (;;) {
        int64_t now = mono_us(), next_us;
        delivery_t *d;
        outcome_t o;

        if (n->stopping && (n->head == NULL || now >= n->drain_until_us)) {
            break;
        }
        if ((d = next_due(n, now, &next_us)) == NULL) {
            wait_next(n, next_us);
            continue;
        }
        d->attempt++;
        pthread_mutex_unlock(&n->lock);
        why[0] = '\0';
        /* d stays in the list (only this thread removes) */
        o = d->sink == CIR_NOTIFY_WEBHOOK
                ? webhook_attempt(n, d, why, sizeof(why))
                : eventbridge_attempt(n, d, why, sizeof(why));
        pthread_mutex_lock(&n->lock);
        settle(n, d, o, why);
    }
    if (n->pending > 0) {
        cir_log_warn(&log_ctx,
                     "stopping: %d notification(s) not delivered in %.1f s",
                     n->pending, (double)n->drain_ms / 1000);
    }
    while (n->head != NULL) {
        n->c.dropped[n->head->sink]++;
        delivery_free(n, n->head);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

/* ---- queueing ----------------------------------------------------------- */

static void
random_id(char id[33])
{
    static _Atomic uint64_t fallback;
    uint8_t rnd[16];

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        uint64_t v = atomic_fetch_add(&fallback, 1) ^ (uint64_t)mono_us();
        memset(rnd, 0, sizeof(rnd));
        memcpy(rnd, &v, sizeof(v));
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    }
}

/* Queues one delivery of body (its refcount taken) to sink; n->lock held. */
static void
enqueue(cir_notify_t *n, cir_notify_sink_t sink, const char *job,
        const char *state, const char *id, char *body, int *refs)
{
    cir_log_ctx_t ctx = {.component = "notify", .job = job};
    delivery_t *d, **pp;

    if (n->stopping || n->pending >= n->max_pending ||
        (d = calloc(1, sizeof(*d))) == NULL) {
        n->c.dropped[sink]++;
        cir_log_error(&ctx, "%s %s (%s) dropped: %s", sink_names[sink], id,
                      state,
                      n->stopping ? "stopping"
                      : n->pending >= n->max_pending
                          ? "notify_max_pending deliveries wait"
                          : "out of memory");
        return;
    }
    d->sink = sink;
    snprintf(d->job, sizeof(d->job), "%s", job);
    snprintf(d->state, sizeof(d->state), "%s", state);
    snprintf(d->id, sizeof(d->id), "%s", id);
    d->body = body;
    d->refs = refs;
    (*refs)++;
    d->due_us = mono_us();
    for (pp = &n->head; *pp != NULL; pp = &(*pp)->next) {
    }
    *pp = d;
    n->pending++;
}

void
cir_notify_job_state(cir_notify_t *n, const json_t *state, const char *previous)
{
    const char *job = json_string_value(json_object_get(state, "id"));
    const char *st = json_string_value(json_object_get(state, "state"));
    cir_log_ctx_t ctx = {.component = "notify", .job = job};
    char id[33];
    json_t *e;
    char *body;
    int *refs;

    if (n == NULL || job == NULL || st == NULL) {
        return;
    }
    random_id(id);
    e = cir_notify_event_json(state, previous, id,
                              cir_clock_wall_us(cir_clock_system()) / 1000000);
    body = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    refs = body ? calloc(1, sizeof(*refs)) : NULL;
    if (refs == NULL || strlen(body) > CIR_NOTIFY_EVENT_MAX) {
        cir_log_error(&ctx, "event %s (%s) not sent: %s", id, st,
                      body ? "larger than 256 KiB" : "out of memory");
        free(body);
        free(refs);
        return;
    }
    pthread_mutex_lock(&n->lock);
    if (n->url[0] != '\0') {
        enqueue(n, CIR_NOTIFY_WEBHOOK, job, st, id, body, refs);
    }
    if (n->aws != NULL) {
        enqueue(n, CIR_NOTIFY_EVENTBRIDGE, job, st, id, body, refs);
    }
    if (*refs == 0) {
        free(body);
        free(refs);
    }
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

/* ---- counters ----------------------------------------------------------- */

void
cir_notify_counts(cir_notify_t *n, cir_notify_counts_t *out)
{
    pthread_mutex_lock(&n->lock);
    *out = n->c;
    pthread_mutex_unlock(&n->lock);
}

int
cir_notify_render_metrics(cir_notify_t *n, cir_buf_t *b)
{
    static const char *results[] = {"delivered", "failed", "dropped",
                                    "retried"};
    static const char series[] =
        "cirrus_worker_notifications_total{sink=\"%s\",result=\"%s\"} %llu\n";
    cir_notify_counts_t c;
    int pending, ret = 0;

    pthread_mutex_lock(&n->lock);
    c = n->c;
    pending = n->pending;
    pthread_mutex_unlock(&n->lock);
    ret |= cir_buf_puts(
        b, "# HELP cirrus_worker_notifications_total Job state "
           "notifications by sink and result: delivered; failed (given up); "
           "dropped (queue full or stopping); retried (failed attempts "
           "tried again).\n"
           "# TYPE cirrus_worker_notifications_total counter\n");
    for (int s = 0; s < CIR_NOTIFY_NB_SINKS; s++) {
        const uint64_t v[] = {c.delivered[s], c.failed[s], c.dropped[s],
                              c.retried[s]};
        for (size_t r = 0; r < sizeof(v) / sizeof(v[0]); r++) {
            ret |= cir_buf_printf(b, series, sink_names[s], results[r],
                                  (unsigned long long)v[r]);
        }
    }
    ret |= cir_buf_printf(
        b,
        "# HELP cirrus_worker_notifications_pending Notification "
        "deliveries waiting or retrying.\n"
        "# TYPE cirrus_worker_notifications_pending gauge\n"
        "cirrus_worker_notifications_pending %d\n",
        pending);
    return ret ? CIR_ELIMIT : 0;
}

/* ---- life --------------------------------------------------------------- */

static int
open_eventbridge(cir_notify_t *n, const cir_notify_config_t *cfg, char *err,
                 size_t errsize)
{
    int ret;

    if ((ret = cir_aws_open(&n->aws, err, errsize)) < 0) {
        return ret;
    }
    if (cfg->eventbridge_endpoint != NULL &&
        cfg->eventbridge_endpoint[0] != '\0' &&
        cir_aws_set_endpoint(n->aws, "events", cfg->eventbridge_endpoint) < 0) {
        snprintf(err, errsize, "eventbridge_endpoint: not an http(s) URL");
        return CIR_EINVAL;
    }
    /* connecting takes at most the attempt's time */
    return cir_aws_set_timeouts(n->aws,
                                cfg->timeout_ms < CIR_AWS_CONNECT_TIMEOUT_MS
                                    ? cfg->timeout_ms
                                    : CIR_AWS_CONNECT_TIMEOUT_MS,
                                cfg->timeout_ms);
}

static int
check_config(const cir_notify_config_t *cfg, char *err, size_t errsize)
{
    if (cfg->attempts < 1 || cfg->timeout_ms < 1 || cfg->max_pending < 1 ||
        cfg->drain_ms < 0) {
        snprintf(err, errsize,
                 "notify: attempts, timeout and max_pending "
                 "must be positive");
        return CIR_EINVAL;
    }
    if (cfg->url != NULL && cfg->url[0] != '\0' &&
        strncmp(cfg->url, "http://", 7) != 0 &&
        strncmp(cfg->url, "https://", 8) != 0) {
        snprintf(err, errsize, "notify_url: not an http(s) URL");
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_notify_new(cir_notify_t **out, const cir_notify_config_t *cfg, char *err,
               size_t errsize)
{
    cir_notify_t *n;
    pthread_condattr_t ca;
    int ret;

    *out = NULL;
    if ((ret = check_config(cfg, err, errsize)) < 0) {
        return ret;
    }
    if ((n = calloc(1, sizeof(*n))) == NULL) {
        return CIR_ENOMEM;
    }
    snprintf(n->url, sizeof(n->url), "%s", cfg->url ? cfg->url : "");
    snprintf(n->secret, sizeof(n->secret), "%s",
             cfg->secret ? cfg->secret : "");
    snprintf(n->bus, sizeof(n->bus), "%s",
             cfg->eventbridge_bus ? cfg->eventbridge_bus : "");
    n->attempts = cfg->attempts;
    n->timeout_ms = cfg->timeout_ms;
    n->max_pending = cfg->max_pending;
    n->drain_ms = cfg->drain_ms;
    pthread_mutex_init(&n->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cond, &ca);
    pthread_condattr_destroy(&ca);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((n->curl = curl_easy_init()) == NULL) {
        cir_notify_free(&n);
        return CIR_ENOMEM;
    }
    if (n->bus[0] != '\0' &&
        (ret = open_eventbridge(n, cfg, err, errsize)) < 0) {
        cir_notify_free(&n);
        return ret;
    }
    if (pthread_create(&n->thread, NULL, notify_main, n) != 0) {
        cir_notify_free(&n);
        return CIR_ENOMEM;
    }
    n->started = 1;
    *out = n;
    return 0;
}

void
cir_notify_free(cir_notify_t **pn)
{
    cir_notify_t *n = *pn;

    if (n == NULL) {
        return;
    }
    if (n->started) {
        pthread_mutex_lock(&n->lock);
        n->stopping = 1;
        n->drain_until_us = mono_us() + (int64_t)n->drain_ms * 1000;
        pthread_cond_signal(&n->cond);
        pthread_mutex_unlock(&n->lock);
        pthread_join(n->thread, NULL);
    }
    if (n->curl != NULL) {
        curl_easy_cleanup(n->curl);
    }
    cir_aws_close(&n->aws);
    curl_global_cleanup();
    pthread_mutex_destroy(&n->lock);
    pthread_cond_destroy(&n->cond);
    free(n);
    *pn = NULL;
}
