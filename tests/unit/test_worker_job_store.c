/*
 * The shared job store of intake=sqs (job_store.c) on a file:// root:
 * records round-trip, the list is in id order after a cursor and bounded,
 * cancel requests are marked, seen and cleared, an idempotency key is
 * claimed by one request only, a scan goes on after its cursor and stops
 * when told, ids that are no names are refused, and a state change makes the
 * API's record from the dispatcher's state JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_job_store.h"

static char root[256];
static cir_job_store_t *js;

static void
setup(void)
{
    char uri[300], err[256];

    snprintf(root, sizeof(root), "/tmp/cir-job-store-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(uri, sizeof(uri), "file://%s/state", root);
    cr_assert_eq(cir_job_store_open(&js, uri, err, sizeof(err)), 0, "%s", err);
}

static void
teardown(void)
{
    char cmd[300];

    cir_job_store_close(&js);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(worker_job_store, .init = setup, .fini = teardown);

static void
put_state(const char *id, const char *state)
{
    json_t *r = json_pack("{s:s, s:s}", "id", id, "state", state);

    cr_assert_eq(cir_job_store_put(js, id, r), 0, "%s", id);
    json_decref(r);
}

Test(worker_job_store, a_record_round_trips_and_a_missing_one_is_not_found)
{
    json_t *r = NULL;

    cr_assert_eq(cir_job_store_get(js, "j1", &r), CIR_ENOTFOUND);
    put_state("j1", "queued");
    cr_assert_eq(cir_job_store_get(js, "j1", &r), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "state")), "queued");
    json_decref(r);
    cr_assert_eq(cir_job_store_remove(js, "j1"), 0);
    cr_assert_eq(cir_job_store_get(js, "j1", &r), CIR_ENOTFOUND);
    cr_assert_eq(cir_job_store_remove(js, "j1"), 0, "gone already: fine");
}

Test(worker_job_store, the_list_is_in_id_order_after_the_cursor)
{
    char ids[3][CIR_JOB_STORE_ID_LEN];
    size_t n = 9;
    int more = 9;

    cr_assert_eq(cir_job_store_list(js, "", ids, 3, &n, &more), 0);
    cr_assert_eq(n, 0, "nothing submitted yet");
    cr_assert_eq(more, 0);
    put_state("j03", "done");
    put_state("j01", "queued");
    put_state("j04", "failed");
    put_state("j02", "running");
    cr_assert_eq(cir_job_store_cancel_mark(js, "j02"), 0);
    cr_assert_eq(cir_job_store_list(js, "", ids, 3, &n, &more), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(more, 1);
    cr_assert_str_eq(ids[0], "j01");
    cr_assert_str_eq(ids[1], "j02");
    cr_assert_str_eq(ids[2], "j03");
    cr_assert_eq(cir_job_store_list(js, "j03", ids, 3, &n, &more), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(more, 0);
    cr_assert_str_eq(ids[0], "j04");
}

Test(worker_job_store, cancel_requests_are_marked_seen_and_cleared)
{
    cr_assert_eq(cir_job_store_cancel_asked(js, "j9"), 0);
    cr_assert_eq(cir_job_store_cancel_mark(js, "j9"), 0);
    cr_assert_eq(cir_job_store_cancel_asked(js, "j9"), 1);
    cr_assert_eq(cir_job_store_cancel_clear(js, "j9"), 0);
    cr_assert_eq(cir_job_store_cancel_asked(js, "j9"), 0);
    cr_assert_eq(cir_job_store_cancel_clear(js, "j9"), 0);
}

Test(worker_job_store, ids_that_are_no_names_are_refused)
{
    const char *bad[] = {"", "..", ".hidden", "a/b", "a b", "a\\b"};
    json_t *r = json_object();

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(cir_job_store_put(js, bad[i], r), CIR_EINVAL, "%s",
                     bad[i]);
        cr_assert_eq(cir_job_store_cancel_mark(js, bad[i]), CIR_EINVAL);
    }
    json_decref(r);
}

Test(worker_job_store, a_uri_that_is_no_store_is_refused)
{
    cir_job_store_t *x = NULL;
    char err[256];

    cr_assert_eq(
        cir_job_store_open(&x, "http://example.com/jobs", err, sizeof(err)),
        CIR_EINVAL);
    cr_assert_null(x);
    cr_assert(strstr(err, "jobs_s3_uri") != NULL, "%s", err);
}

Test(worker_job_store, dispatcher_states_map_to_the_apis)
{
    cr_assert_str_eq(cir_job_store_state("running"), "running");
    cr_assert_str_eq(cir_job_store_state("done"), "done");
    cr_assert_str_eq(cir_job_store_state("failed"), "failed");
    cr_assert_str_eq(cir_job_store_state("cancelled"), "cancelled");
    /* back to the queue */
    cr_assert_str_eq(cir_job_store_state("retrying"), "queued");
    cr_assert_str_eq(cir_job_store_state("released"), "queued");
    cr_assert_str_eq(cir_job_store_state("lost"), "queued");
}

Test(worker_job_store, a_record_keeps_the_document_and_counts_attempts_on)
{
    json_t *base =
        json_pack("{s:s, s:s, s:i, s:{s:s}}", "id", "j7", "state", "queued",
                  "attempt_base", 2, "job", "input", "file:///in.mp4");
    json_t *res =
        json_pack("{s:s, s:s, s:i, s:f, s:s}", "id", "j7", "state", "failed",
                  "attempt", 1, "percent", 40.0, "error", "boom");
    json_t *rec = cir_job_store_record(base, res, 2);

    cr_assert_not_null(rec);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "state")),
                     "failed");
    cr_assert_eq(json_integer_value(json_object_get(rec, "attempt")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "error")), "boom");
    cr_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(rec, "job"), "input")),
                     "file:///in.mp4");
    cr_assert(json_equal(json_object_get(rec, "result"), res));
    cr_assert_float_eq(json_number_value(json_object_get(rec, "progress")), 40,
                       1e-9);
    json_decref(rec);

    /* a retrying attempt is queued again, without an error yet */
    json_object_set_new(res, "state", json_string("retrying"));
    rec = cir_job_store_record(NULL, res, 0);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "state")),
                     "queued");
    cr_assert(json_is_null(json_object_get(rec, "error")));
    cr_assert(json_is_null(json_object_get(rec, "job")));
    cr_assert_str_eq(json_string_value(json_object_get(rec, "id")), "j7");
    json_decref(rec);
    json_decref(res);
    json_decref(base);
}

Test(worker_job_store, an_idempotency_key_is_claimed_once)
{
    json_t *mine = json_pack("{s:s, s:s}", "id", "j1", "body_sha256", "aa");
    json_t *other = json_pack("{s:s, s:s}", "id", "j2", "body_sha256", "bb");
    json_t *got = NULL;
    const char *name = "0123456789abcdef0123456789abcdef"
                       "0123456789abcdef0123456789abcdef";

    cr_assert_eq(cir_job_store_key_get(js, name, &got), CIR_ENOTFOUND);
    cr_assert_eq(cir_job_store_key_claim(js, name, mine), 0);
    /* a second request, from any worker, finds it taken */
    cr_assert_eq(cir_job_store_key_claim(js, name, other), -EEXIST);
    cr_assert_eq(cir_job_store_key_get(js, name, &got), 0);
    cr_assert_str_eq(json_string_value(json_object_get(got, "id")), "j1");
    json_decref(got);
    cr_assert_eq(cir_job_store_key_remove(js, name), 0);
    cr_assert_eq(cir_job_store_key_claim(js, name, other), 0);
    cr_assert_eq(cir_job_store_key_claim(js, "../x", other), CIR_EINVAL);
    json_decref(mine);
    json_decref(other);
}

typedef struct {
    char seen[16][CIR_JOB_STORE_ID_LEN];
    size_t n, stop_at;
} scan_log_t;

static int
scan_note(void *opaque, const char *id)
{
    scan_log_t *l = opaque;

    snprintf(l->seen[l->n++], CIR_JOB_STORE_ID_LEN, "%s", id);
    return l->n == l->stop_at;
}

Test(worker_job_store, a_scan_goes_on_after_the_cursor_in_name_order_and_stops)
{
    scan_log_t l = {.stop_at = 0};

    /* the order is that of "<id>.json" (S3's): "a-b.json" sorts before
     * "a.json" ('-' < '.') */
    put_state("a", "queued");
    put_state("a-b", "done");
    put_state("c", "failed");
    put_state("b", "queued");
    cr_assert_eq(cir_job_store_scan(js, "", scan_note, &l), 0);
    cr_assert_eq(l.n, 4);
    cr_assert_str_eq(l.seen[0], "a-b");
    cr_assert_str_eq(l.seen[1], "a");
    cr_assert_str_eq(l.seen[2], "b");
    cr_assert_str_eq(l.seen[3], "c");
    l = (scan_log_t){.stop_at = 1};
    cr_assert_eq(cir_job_store_scan(js, "a", scan_note, &l), 0);
    cr_assert_eq(l.n, 1, "stopped by its callback");
    cr_assert_str_eq(l.seen[0], "b");
    cr_assert_lt(cir_job_store_id_cmp("a-b", "a"), 0);
    cr_assert_eq(cir_job_store_scan(js, "../etc", scan_note, &l), CIR_EINVAL);
}
