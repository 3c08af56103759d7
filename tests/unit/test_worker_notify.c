/* Job notifications (ingest/src/notify.c): the retry schedule, which
 * answers are worth a retry, the event JSON built from a job's state JSON,
 * and the bounded queue (overflow dropped and counted, never blocking). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_notify.h"

Test(worker_notify, backoff_doubles_from_one_second_to_a_minute)
{
    /* attempt 2 is the first retry */
    cr_assert_eq(cir_notify_backoff_ms(2), 1000);
    cr_assert_eq(cir_notify_backoff_ms(3), 2000);
    cr_assert_eq(cir_notify_backoff_ms(4), 4000);
    cr_assert_eq(cir_notify_backoff_ms(5), 8000);
    cr_assert_eq(cir_notify_backoff_ms(7), 32000);
    cr_assert_eq(cir_notify_backoff_ms(8), 60000, "64 s is capped");
    cr_assert_eq(cir_notify_backoff_ms(20), 60000);
    cr_assert_eq(cir_notify_backoff_ms(1), 1000);
}

Test(worker_notify, retried_on_network_errors_5xx_408_429_only)
{
    cr_assert(cir_notify_retryable(0, 0), "connection refused, timeout");
    cr_assert(cir_notify_retryable(1, 500));
    cr_assert(cir_notify_retryable(1, 503));
    cr_assert(cir_notify_retryable(1, 408));
    cr_assert(cir_notify_retryable(1, 429));
    cr_assert_not(cir_notify_retryable(1, 400));
    cr_assert_not(cir_notify_retryable(1, 401));
    cr_assert_not(cir_notify_retryable(1, 404));
    cr_assert_not(cir_notify_retryable(1, 301), "redirects are not followed");
}

Test(worker_notify, event_is_the_state_json_with_its_envelope)
{
    json_t *state = json_pack(
        "{s:s, s:s, s:i, s:s, s:s, s:s, s:n, s:s, s:[{s:s}]}", "id", "clip",
        "state", "done", "attempt", 2, "input", "file:///in/clip.mp4", "output",
        "file:///out/clip", "preset", "web", "error", "version", "v3",
        "outputs", "id", "video_720p");
    json_t *e = cir_notify_event_json(
        state, "running", "0123456789abcdef0123456789abcdef", 1796563604);

    cr_assert_not_null(e);
    cr_assert_str_eq(json_string_value(json_object_get(e, "event")),
                     "job.state");
    cr_assert_str_eq(json_string_value(json_object_get(e, "event_id")),
                     "0123456789abcdef0123456789abcdef");
    cr_assert_eq(json_integer_value(json_object_get(e, "time")), 1796563604);
    cr_assert_str_eq(json_string_value(json_object_get(e, "previous_state")),
                     "running");
    /* every field of the state JSON, unchanged */
    const char *key;
    json_t *v;
    json_object_foreach(state, key, v)
    {
        cr_assert(json_equal(json_object_get(e, key), v), "%s", key);
    }
    cr_assert_eq(json_object_size(e), json_object_size(state) + 4);
    cr_assert_null(json_object_get(state, "event_id"), "state left alone");
    json_decref(e);

    /* the first state of a claim has no previous one */
    e = cir_notify_event_json(state, NULL, "00", 1);
    cr_assert(json_is_null(json_object_get(e, "previous_state")));
    json_decref(e);
    json_decref(state);

    state = json_array();
    cr_assert_null(cir_notify_event_json(state, NULL, "00", 1));
    json_decref(state);
}

Test(worker_notify, config_is_checked)
{
    cir_notify_t *n = NULL;
    char err[256] = "";
    cir_notify_config_t c = {.url = "ftp://x/",
                             .attempts = 3,
                             .timeout_ms = 1000,
                             .max_pending = 10};

    cr_assert_eq(cir_notify_new(&n, &c, err, sizeof(err)), CIR_EINVAL);
    cr_assert(strstr(err, "notify_url") != NULL, "%s", err);
    cr_assert_null(n);
    c.url = "http://127.0.0.1:9/";
    c.attempts = 0;
    cr_assert_eq(cir_notify_new(&n, &c, err, sizeof(err)), CIR_EINVAL);
}

/* A receiver that refuses connections keeps the first event retrying: with
 * one pending delivery allowed, the next events are dropped and counted at
 * once, and queueing never waits on the network. */
Test(worker_notify, a_full_queue_drops_and_counts)
{
    cir_notify_t *n = NULL;
    cir_notify_counts_t c;
    cir_buf_t b;
    char err[256] = "";
    /* port 9 (discard) is closed on loopback here: refused at once */
    cir_notify_config_t cfg = {.url = "http://127.0.0.1:9/hook",
                               .attempts = 5,
                               .timeout_ms = 2000,
                               .max_pending = 1,
                               .drain_ms = 0};
    json_t *state = json_pack("{s:s, s:s}", "id", "a", "state", "running");

    cr_assert_eq(cir_notify_new(&n, &cfg, err, sizeof(err)), 0, "%s", err);
    for (int i = 0; i < 3; i++) {
        cir_notify_job_state(n, state, NULL);
    }
    cir_notify_counts(n, &c);
    cr_assert_eq(c.dropped[CIR_NOTIFY_WEBHOOK], 2);
    cr_assert_eq(c.delivered[CIR_NOTIFY_WEBHOOK], 0);
    cr_assert_eq(c.dropped[CIR_NOTIFY_EVENTBRIDGE], 0);
    cir_buf_init(&b, 1 << 16);
    cr_assert_eq(cir_notify_render_metrics(n, &b), 0);
    cr_assert(strstr(b.data, "cirrus_worker_notifications_total{sink="
                             "\"webhook\",result=\"dropped\"} 2\n") != NULL,
              "%s", b.data);
    cr_assert(strstr(b.data, "cirrus_worker_notifications_pending 1\n") != NULL,
              "%s", b.data);
    cir_buf_free(&b);
    cir_notify_free(&n); /* no drain time: the retrying one is dropped */
    cr_assert_null(n);
    json_decref(state);
}
