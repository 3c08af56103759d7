/*
 * Lifecycle webhooks: a JSON POST to webhook_url for publish,
 * publish_done, update (every webhook_update_seconds per publishing
 * stream, with its health) and record_done (the recording's URIs).  Each
 * delivery has an id (X-Cirrus-Delivery, the same on every attempt, so a
 * receiver can drop repeats), the event (X-Cirrus-Event), the time of the
 * attempt (X-Cirrus-Timestamp) and, with webhook_secret, X-Cirrus-Signature:
 * sha256=hex(HMAC-SHA256(secret, "<timestamp>.<body>")).  Transfers run on
 * the loop's curl multi; a failed attempt (no answer in webhook_timeout,
 * or not 2xx) is retried after 1 s, 2 s, 4 s ... (at most 60 s) up to
 * webhook_attempts; at most webhook_max_pending deliveries wait at once.
 * Nothing here blocks the loop.
 *
 * Tested by tests/integration/ingest_webhooks.test.mjs.
 */
#include "server_internal.h"

#define RETRY_MAX_MS 60000

struct webhook {
    srv_curl_job_t job; /* first: the curl transfer's owner */
    cir_ingest_t *srv;
    struct webhook *next, **pprev;
    char event[24];
    char id[33];
    char *body;
    size_t len;
    int attempt;
    CURL *e;
    struct curl_slist *headers;
    uv_timer_t retry;
};

static void
webhook_closed(uv_handle_t *h)
{
    webhook_t *w = h->data;

    free(w->body);
    free(w);
}

/* Unlinks and frees w (after its timer closes). */
static void
webhook_free(webhook_t *w)
{
    if (w->e != NULL) {
        curl_multi_remove_handle(w->srv->multi, w->e);
        curl_easy_cleanup(w->e);
        w->e = NULL;
    }
    curl_slist_free_all(w->headers);
    w->headers = NULL;
    *w->pprev = w->next;
    if (w->next != NULL) {
        w->next->pprev = w->pprev;
    }
    w->srv->webhooks_pending--;
    uv_close((uv_handle_t *)&w->retry, webhook_closed);
}

static int
add_header(webhook_t *w, const char *name, const char *value)
{
    char line[160];
    struct curl_slist *l;

    snprintf(line, sizeof(line), "%s: %s", name, value);
    if ((l = curl_slist_append(w->headers, line)) == NULL) {
        return CIR_ENOMEM;
    }
    w->headers = l;
    return 0;
}

/* One attempt: the headers of now (timestamp, signature), the POST. */
static int
attempt(webhook_t *w)
{
    cir_ingest_t *s = w->srv;
    long long ts = (long long)time(NULL);
    char tsbuf[24], sig[72] = "sha256=";
    int ret;

    w->attempt++;
    curl_slist_free_all(w->headers);
    w->headers = NULL;
    snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
    if ((ret = add_header(w, "Content-Type", "application/json")) < 0 ||
        (ret = add_header(w, "X-Cirrus-Event", w->event)) < 0 ||
        (ret = add_header(w, "X-Cirrus-Delivery", w->id)) < 0 ||
        (ret = add_header(w, "X-Cirrus-Timestamp", tsbuf)) < 0) {
        return ret;
    }
    if (s->cfg.webhook_secret[0] != '\0' &&
        ((ret = cir_webhook_signature(s->cfg.webhook_secret, ts, w->body,
                                      w->len, sig + 7)) < 0 ||
         (ret = add_header(w, "X-Cirrus-Signature", sig)) < 0)) {
        return ret;
    }
    if ((w->e = curl_easy_init()) == NULL) {
        return CIR_ENOMEM;
    }
    curl_easy_setopt(w->e, CURLOPT_URL, s->cfg.webhook_url);
    curl_easy_setopt(w->e, CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(w->e, CURLOPT_POSTFIELDSIZE, (long)w->len);
    curl_easy_setopt(w->e, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(w->e, CURLOPT_TIMEOUT_MS,
                     (long)(s->cfg.webhook_timeout * 1000));
    curl_easy_setopt(w->e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->e, CURLOPT_WRITEFUNCTION, srv_curl_discard);
    curl_easy_setopt(w->e, CURLOPT_PRIVATE, &w->job);
    if (curl_multi_add_handle(s->multi, w->e) != CURLM_OK) {
        curl_easy_cleanup(w->e);
        w->e = NULL;
        return CIR_EIO;
    }
    return 0;
}

static void
retry_due(uv_timer_t *t)
{
    webhook_t *w = t->data;

    if (attempt(w) < 0) {
        w->srv->webhooks_dropped++;
        cir_log_error(&w->srv->log, "webhook %s %s: cannot start an attempt",
                      w->event, w->id);
        webhook_free(w);
    }
}

static void
attempt_done(srv_curl_job_t *j, CURLcode result, long status)
{
    webhook_t *w = (webhook_t *)j; /* job is the first member */
    cir_ingest_t *s = w->srv;
    uint64_t delay;
    char why[96];

    curl_multi_remove_handle(s->multi, w->e);
    curl_easy_cleanup(w->e);
    w->e = NULL;
    if (result == CURLE_OK && status >= 200 && status < 300) {
        s->webhooks_delivered++;
        cir_log_debug(&s->log, "webhook %s %s: delivered (attempt %d)",
                      w->event, w->id, w->attempt);
        webhook_free(w);
        return;
    }
    s->webhooks_failed++;
    if (result != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", curl_easy_strerror(result));
    } else {
        snprintf(why, sizeof(why), "HTTP %ld", status);
    }
    if (w->attempt >= s->cfg.webhook_attempts || s->stopping) {
        s->webhooks_dropped++;
        cir_log_error(&s->log, "webhook %s %s: %s; given up after %d attempts",
                      w->event, w->id, why, w->attempt);
        webhook_free(w);
        return;
    }
    delay = 1000u << (w->attempt - 1 < 6 ? w->attempt - 1 : 6);
    if (delay > RETRY_MAX_MS) {
        delay = RETRY_MAX_MS;
    }
    cir_log_warn(&s->log, "webhook %s %s: %s; attempt %d of %d in %.0f s",
                 w->event, w->id, why, w->attempt + 1,
                 (int)s->cfg.webhook_attempts, (double)delay / 1000);
    uv_timer_start(&w->retry, retry_due, delay, 0);
}

void
srv_webhook_send(cir_ingest_t *s, const char *event, json_t *body)
{
    uint8_t rnd[16];
    webhook_t *w;

    if (s->cfg.webhook_url[0] == '\0' || body == NULL) {
        json_decref(body);
        return;
    }
    if (s->stopping ||
        s->webhooks_pending >= (size_t)s->cfg.webhook_max_pending) {
        s->webhooks_dropped++;
        cir_log_error(&s->log, "webhook %s not sent: %s", event,
                      s->stopping ? "stopping"
                                  : "webhook_max_pending deliveries wait");
        json_decref(body);
        return;
    }
    json_object_set_new(body, "event", json_string(event));
    json_object_set_new(body, "time", json_integer((json_int_t)time(NULL)));
    w = calloc(1, sizeof(*w));
    if (w == NULL || (w->body = json_dumps(body, JSON_COMPACT)) == NULL) {
        free(w);
        json_decref(body);
        return;
    }
    json_decref(body);
    w->len = strlen(w->body);
    w->srv = s;
    w->job.done = attempt_done;
    snprintf(w->event, sizeof(w->event), "%s", event);
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        memset(rnd, 0, sizeof(rnd));
        memcpy(rnd, &s->webhooks_delivered, sizeof(s->webhooks_delivered));
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        snprintf(w->id + 2 * i, 3, "%02x", rnd[i]);
    }
    uv_timer_init(&s->loop, &w->retry);
    w->retry.data = w;
    w->next = s->webhooks;
    if (w->next != NULL) {
        w->next->pprev = &w->next;
    }
    w->pprev = &s->webhooks;
    s->webhooks = w;
    s->webhooks_pending++;
    if (attempt(w) < 0) {
        s->webhooks_dropped++;
        cir_log_error(&s->log, "webhook %s: cannot start", event);
        webhook_free(w);
    }
}

/* "update": each publishing stream as /streams lists it. */
static void
update_tick(uv_timer_t *t)
{
    cir_ingest_t *s = t->data;
    int64_t now = srv_now_us();

    for (stream_t *st = s->streams; st != NULL; st = st->next) {
        cir_ingest_stream_info_t info;
        if ((st->publisher == NULL && st->srt_publisher == NULL) ||
            st->closing) {
            continue;
        }
        srv_stream_info(st, &info, now);
        srv_webhook_send(s, "update", cir_ingest_stream_json(&info));
        json_decref(info.live);
    }
}

void
srv_webhook_start(cir_ingest_t *s)
{
    uint64_t ms = (uint64_t)(s->cfg.webhook_update_seconds * 1000);

    uv_timer_init(&s->loop, &s->webhook_update);
    s->webhook_update.data = s;
    if (s->cfg.webhook_url[0] != '\0' && ms > 0) {
        uv_timer_start(&s->webhook_update, update_tick, ms, ms);
    }
    if (s->cfg.webhook_url[0] != '\0' && s->cfg.webhook_secret[0] == '\0') {
        cir_log_warn(&s->log, "webhook_url without webhook_secret: the "
                              "webhooks are not signed");
    }
}

void
srv_webhook_stop(cir_ingest_t *s)
{
    size_t n = s->webhooks_pending;

    uv_close((uv_handle_t *)&s->webhook_update, NULL);
    while (s->webhooks != NULL) {
        s->webhooks_dropped++;
        webhook_free(s->webhooks);
    }
    if (n > 0) {
        cir_log_warn(&s->log, "stopping: %zu webhook(s) not delivered", n);
    }
}
