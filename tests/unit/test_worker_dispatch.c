/*
 * The VOD dispatcher (dispatch.c, dispatch_report.c) against a fake intake:
 * an implementation of the intake interface (cir_intake.h) kept in memory,
 * recording every call, with the real worker pool and real transcodes of
 * lavfi inputs.  A success is acknowledged only after its outputs and its
 * published marker are complete; a failure is failed permanently or
 * transiently by its exit code and retried up to max_attempts; a fail()
 * the intake refuses is logged, counted and reported as "retrying"; a lost
 * lease cancels the job and abandons it without ack, fail or release; a job
 * cancelled on request (cir_dispatch_cancel) goes to the intake's cancel()
 * with what it wrote removed; the result JSON says all of it.  With a job
 * store (jobs_uri) each state change is a record there, built on the one
 * the job API wrote, and a cancel request there stops a job: before it
 * runs (never run) or while it runs (polled, what it wrote removed).
 *
 * Every test has the same .timeout: Criterion 2.4 leaks a timer record
 * (LeakSanitizer fails the ASan run) when tests of different timeouts
 * overlap.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cir_clock.h"
#include "cir_dispatch.h"
#include "cir_error.h"
#include "cir_job_store.h"
#include "cir_pool.h"
#include "cir_preset.h"

/* ---- the fake intake ---------------------------------------------------- */

#define MAX_JOBS 4

typedef struct {
    cir_intake_t base;
    pthread_mutex_t lock;
    cir_vod_job_t jobs[MAX_JOBS];
    int njobs, next;
    int acks, fails, releases, abandons, heartbeats, settled, cancels;
    int last_permanent;
    char last_error_json[1024];
    int fail_ret;      /* what fail() answers */
    int heartbeat_ret; /* what heartbeat() answers */
    /* at ack: were the manifest and the published marker there? */
    int master_at_ack, marker_at_ack;
    atomic_int *stop; /* set once every job was settled */
} fake_intake_t;

static fake_intake_t *
fake(cir_intake_t *src)
{
    return (fake_intake_t *)src;
}

static void
settle(fake_intake_t *f)
{
    if (++f->settled == f->njobs) {
        atomic_store(f->stop, 1);
    }
}

static int
fake_next(cir_intake_t *src, cir_vod_job_t *job, int wait_ms)
{
    fake_intake_t *f = fake(src);
    int got = 0;

    pthread_mutex_lock(&f->lock);
    if (f->next < f->njobs) {
        *job = f->jobs[f->next++];
        got = 1;
    }
    pthread_mutex_unlock(&f->lock);
    if (!got) {
        usleep((useconds_t)(wait_ms < 50 ? wait_ms : 50) * 1000);
    }
    return got;
}

static int
fake_heartbeat(cir_intake_t *src, cir_vod_job_t *job, int extend_s,
               int within_ms, const atomic_int *abort)
{
    fake_intake_t *f = fake(src);

    (void)job, (void)extend_s, (void)within_ms, (void)abort;
    pthread_mutex_lock(&f->lock);
    f->heartbeats++;
    pthread_mutex_unlock(&f->lock);
    return f->heartbeat_ret;
}

static int
count_published(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) != NULL) {
        n += strstr(e->d_name, ".json") != NULL;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static int
fake_ack(cir_intake_t *src, cir_vod_job_t *job)
{
    fake_intake_t *f = fake(src);
    char path[4200];
    const char *out = job->output + strlen("file://");

    snprintf(path, sizeof(path), "%s/master.m3u8", out);
    f->master_at_ack = access(path, F_OK) == 0;
    snprintf(path, sizeof(path), "%s/.published", out);
    f->marker_at_ack = count_published(path);
    f->acks++;
    settle(f);
    return 0;
}

static int
fake_fail(cir_intake_t *src, cir_vod_job_t *job, const char *error_json,
          int permanent)
{
    fake_intake_t *f = fake(src);

    (void)job;
    f->fails++;
    f->last_permanent = permanent;
    snprintf(f->last_error_json, sizeof(f->last_error_json), "%s", error_json);
    settle(f);
    return f->fail_ret;
}

static int
fake_release(cir_intake_t *src, cir_vod_job_t *job)
{
    (void)job;
    fake(src)->releases++;
    settle(fake(src));
    return 0;
}

static void
fake_abandon(cir_intake_t *src, cir_vod_job_t *job)
{
    (void)job;
    fake(src)->abandons++;
    settle(fake(src));
}

static int
fake_cancel(cir_intake_t *src, cir_vod_job_t *job)
{
    (void)job;
    fake(src)->cancels++;
    settle(fake(src));
    return 0;
}

static void
fake_close(cir_intake_t *src)
{
    (void)src;
}

static const cir_intake_ops_t fake_ops = {
    fake_next,    fake_heartbeat, fake_ack,   fake_fail,
    fake_release, fake_abandon,   fake_close, fake_cancel,
};

/* ---- fixture ------------------------------------------------------------ */

static char workdir[64], input[128], status_dir[128];
static char jobs_uri[200]; /* "" : no job store */
static atomic_int stop;
static fake_intake_t intake;

static void
make_input(int seconds)
{
    char cmd[512];

    snprintf(workdir, sizeof(workdir), "/tmp/cir-dispatch-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    snprintf(input, sizeof(input), "%s/in.mp4", workdir);
    snprintf(status_dir, sizeof(status_dir), "%s/status", workdir);
    cr_assert_eq(mkdir(status_dir, 0755), 0);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=320x180:rate=30 -t %d -c:v libx264 "
             "-preset ultrafast -g 30 %s",
             seconds, input);
    cr_assert_eq(system(cmd), 0, "ffmpeg could make the input");
    memset(&intake, 0, sizeof(intake));
    intake.base = (cir_intake_t){.ops = &fake_ops, .name = "fake"};
    pthread_mutex_init(&intake.lock, NULL);
    intake.stop = &stop;
    atomic_store(&stop, 0);
    jobs_uri[0] = '\0';
}

static void
setup_short(void)
{
    make_input(2);
}

static void
setup_long(void)
{
    make_input(60);
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    (void)system(cmd);
}

/* A job in the fake intake's queue; output under workdir. */
static void
add_job(const char *id, const char *in, const char *out_name, int attempt)
{
    cir_vod_job_t *j = &intake.jobs[intake.njobs++];

    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->input, sizeof(j->input), "%s", in);
    snprintf(j->output, sizeof(j->output), "file://%s/%s", workdir, out_name);
    snprintf(j->preset, sizeof(j->preset), "mobile");
    snprintf(j->source_version, sizeof(j->source_version), "id=%s", id);
    j->attempt = attempt;
    j->enqueued_us = cir_clock_wall_us(cir_clock_system()) - 1000000;
}

/* Runs a dispatcher with one worker until the fake intake has settled
 * every job; window_s is the lease. */
static void
run_dispatcher(double window_s, cir_dispatch_counts_t *counts)
{
    cir_pool_t *pool = NULL;
    cir_dispatch_t *d = NULL;
    cir_dispatch_config_t dc = {.presets_dir = cir_preset_dir(NULL),
                                .status_dir = status_dir,
                                .workers = 1,
                                .queue_max = 0,
                                .max_attempts = 3,
                                .extend_s = (int)window_s,
                                .drain_us = 0,
                                .jobs_uri = jobs_uri};

    cir_lease_config_for(&dc.lease, (int64_t)(window_s * 1e6), 2000000,
                         20000000);
    cr_assert_eq(
        cir_pool_new(&pool, &(cir_pool_config_t){.workers = 1, .queue_max = 0}),
        0);
    cr_assert_eq(cir_dispatch_new(&d, &dc, &intake.base, pool), 0);
    cr_assert_eq(cir_dispatch_run(d, &stop), 0);
    cir_dispatch_counts(d, counts);
    cir_dispatch_free(&d);
    cir_pool_free(&pool);
}

static json_t *
load_result(const char *id)
{
    char path[256];
    json_error_t e;
    json_t *j;

    snprintf(path, sizeof(path), "%s/%s.json", status_dir, id);
    j = json_load_file(path, 0, &e);
    cr_assert_not_null(j, "%s: %s", path, e.text);
    return j;
}

static const char *
str_of(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- tests -------------------------------------------------------------- */

Test(worker_dispatch, success_acks_after_outputs_complete, .init = setup_short,
     .fini = teardown, .timeout = 120)
{
    cir_dispatch_counts_t c;
    char in[160];
    json_t *r, *outs;

    snprintf(in, sizeof(in), "file://%s", input);
    add_job("ok", in, "ok", 1);
    run_dispatcher(120, &c);

    cr_assert_eq(intake.acks, 1);
    cr_assert_eq(intake.fails + intake.releases + intake.abandons, 0);
    cr_assert(intake.master_at_ack, "the manifest was there at ack");
    cr_assert_eq(intake.marker_at_ack, 1, "the published marker too");
    cr_assert_eq(c.claimed, 1);
    cr_assert_eq(c.jobs[CIR_DISPATCH_DONE], 1);
    cr_assert_eq(c.intake_errors, 0);

    r = load_result("ok");
    cr_assert_str_eq(str_of(r, "id"), "ok");
    cr_assert_str_eq(str_of(r, "state"), "done");
    cr_assert_str_eq(str_of(r, "input"), in);
    cr_assert_str_eq(str_of(r, "preset"), "mobile");
    cr_assert_eq(json_integer_value(json_object_get(r, "attempt")), 1);
    cr_assert_float_eq(json_real_value(json_object_get(r, "percent")), 100,
                       1e-9);
    cr_assert_eq(json_integer_value(json_object_get(r, "exit_code")), 0);
    cr_assert(json_is_null(json_object_get(r, "error")));
    cr_assert_not_null(str_of(r, "finished_at"));
    cr_assert_not_null(str_of(r, "claimed_at"));
    cr_assert_gt(json_real_value(json_object_get(r, "queue_wait")), 0.5);
    cr_assert_gt(json_real_value(json_object_get(r, "duration")), 1.5);
    outs = json_object_get(r, "outputs");
    cr_assert_gt(json_array_size(outs), 0);
    cr_assert_not_null(str_of(json_array_get(outs, 0), "codecs"));
    json_decref(r);
}

Test(worker_dispatch, published_upload_is_acknowledged_without_work,
     .init = setup_short, .fini = teardown, .timeout = 120)
{
    cir_dispatch_counts_t c;
    char in[160];
    json_t *r;

    snprintf(in, sizeof(in), "file://%s", input);
    add_job("first", in, "same", 1);
    add_job("again", in, "same", 2);
    intake.jobs[1].source_version[0] = '\0';
    snprintf(intake.jobs[1].source_version,
             sizeof(intake.jobs[1].source_version), "id=first");
    run_dispatcher(120, &c);

    cr_assert_eq(intake.acks, 2);
    cr_assert_eq(c.jobs[CIR_DISPATCH_DONE], 1);
    cr_assert_eq(c.jobs[CIR_DISPATCH_SKIPPED], 1, "the redelivery");
    r = load_result("again");
    cr_assert_str_eq(str_of(r, "state"), "done");
    cr_assert_null(json_object_get(r, "outputs"), "nothing ran");
    json_decref(r);
}

Test(worker_dispatch, bad_input_fails_permanently, .init = setup_short,
     .fini = teardown, .timeout = 120)
{
    cir_dispatch_counts_t c;
    json_t *r, *e;

    add_job("missing", "file:///nonexistent/in.mp4", "missing", 1);
    run_dispatcher(120, &c);

    cr_assert_eq(intake.fails, 1);
    cr_assert_eq(intake.last_permanent, 1);
    cr_assert_eq(intake.acks, 0);
    e = json_loads(intake.last_error_json, 0, NULL);
    cr_assert_not_null(e, "%s", intake.last_error_json);
    cr_assert_eq(json_integer_value(json_object_get(e, "exit_code")), 2);
    json_decref(e);
    cr_assert_eq(c.jobs[CIR_DISPATCH_FAILED], 1);
    r = load_result("missing");
    cr_assert_str_eq(str_of(r, "state"), "failed");
    cr_assert_eq(json_integer_value(json_object_get(r, "exit_code")), 2);
    cr_assert_not_null(str_of(r, "error"));
    json_decref(r);
}

Test(worker_dispatch, transient_failure_retries_until_max_attempts,
     .init = setup_short, .fini = teardown, .timeout = 120)
{
    cir_dispatch_counts_t c;
    char in[160], blocker[128];
    FILE *fp;
    json_t *r;

    /* the output's parent is a regular file: a local I/O error */
    snprintf(blocker, sizeof(blocker), "%s/file", workdir);
    cr_assert_not_null(fp = fopen(blocker, "w"));
    fclose(fp);
    snprintf(in, sizeof(in), "file://%s", input);
    add_job("io-1", in, "file/out", 1);
    add_job("io-3", in, "file/out", 3);
    run_dispatcher(120, &c);

    cr_assert_eq(intake.fails, 2);
    cr_assert_eq(intake.last_permanent, 0, "transient");
    cr_assert_eq(c.jobs[CIR_DISPATCH_RETRIED], 1);
    cr_assert_eq(c.jobs[CIR_DISPATCH_FAILED], 1);
    r = load_result("io-1");
    cr_assert_str_eq(str_of(r, "state"), "retrying");
    cr_assert_eq(json_integer_value(json_object_get(r, "exit_code")), 4);
    json_decref(r);
    r = load_result("io-3");
    cr_assert_str_eq(str_of(r, "state"), "failed", "the last attempt");
    json_decref(r);
}

/* fail() refused by the intake: the job is not parked, it comes back when
 * its claim runs out; never reported as failed. */
Test(worker_dispatch, refused_fail_is_counted_and_retried, .init = setup_short,
     .fini = teardown, .timeout = 120)
{
    cir_dispatch_counts_t c;
    json_t *r;

    intake.fail_ret = CIR_EIO;
    add_job("refused", "file:///nonexistent/in.mp4", "refused", 1);
    run_dispatcher(120, &c);

    cr_assert_eq(intake.fails, 1);
    cr_assert_eq(c.intake_errors, 1);
    cr_assert_eq(c.jobs[CIR_DISPATCH_FAILED], 0);
    cr_assert_eq(c.jobs[CIR_DISPATCH_RETRIED], 1);
    r = load_result("refused");
    cr_assert_str_eq(str_of(r, "state"), "retrying");
    json_decref(r);
}

Test(worker_dispatch, rejected_job_is_parked_without_transcoding,
     .init = setup_short, .fini = teardown, .timeout = 120)
{
    cir_dispatch_counts_t c;
    char in[160];
    json_t *r;

    snprintf(in, sizeof(in), "file://%s", input);
    add_job("rejected", in, "rejected", 1);
    snprintf(intake.jobs[0].reject, sizeof(intake.jobs[0].reject),
             "object key \"a//b.mp4\": an empty path segment");
    run_dispatcher(120, &c);

    cr_assert_eq(intake.fails, 1);
    cr_assert_eq(intake.last_permanent, 1);
    cr_assert_eq(c.jobs[CIR_DISPATCH_FAILED], 1);
    r = load_result("rejected");
    cr_assert_str_eq(str_of(r, "state"), "failed");
    cr_assert_str_eq(str_of(r, "error"), intake.jobs[0].reject);
    cr_assert_null(json_object_get(r, "outputs"), "nothing ran");
    json_decref(r);
}

Test(worker_dispatch, lost_lease_cancels_and_abandons, .init = setup_long,
     .fini = teardown, .timeout = 120)
{
    cir_dispatch_counts_t c;
    char in[160], master[200];
    int64_t t0 = cir_clock_mono_us(cir_clock_system());
    json_t *r;

    intake.heartbeat_ret = CIR_ENOTFOUND; /* the claim is gone */
    snprintf(in, sizeof(in), "file://%s", input);
    add_job("lost", in, "lost", 1);
    run_dispatcher(3, &c);

    cr_assert_eq(intake.abandons, 1);
    cr_assert_eq(intake.acks + intake.fails + intake.releases, 0);
    cr_assert_geq(intake.heartbeats, 1);
    cr_assert_lt(cir_clock_mono_us(cir_clock_system()) - t0, 20000000,
                 "cancelled, not run to its end");
    cr_assert_eq(c.jobs[CIR_DISPATCH_LOST], 1);
    snprintf(master, sizeof(master), "%s/lost/master.m3u8", workdir);
    cr_assert_eq(access(master, F_OK), -1, "no manifest written");
    r = load_result("lost");
    cr_assert_str_eq(str_of(r, "state"), "lost");
    cr_assert_str_eq(str_of(r, "error"), "lease lost (revoked)");
    json_decref(r);
}

typedef struct {
    cir_dispatch_t *d;
    int ret;
} run_arg_t;

static void *
run_main(void *arg)
{
    run_arg_t *a = arg;

    a->ret = cir_dispatch_run(a->d, &stop);
    return NULL;
}

/* The long job `id`, queued, and a dispatcher of one worker for it (not
 * started: run_main does). */
static void
dispatch_long_job(run_arg_t *a, cir_pool_t **pool, cir_dispatch_config_t *dc,
                  const char *id)
{
    char in[160];

    snprintf(in, sizeof(in), "file://%s", input);
    add_job(id, in, id, 1);
    cir_lease_config_for(&dc->lease, 120000000, 2000000, 20000000);
    cr_assert_eq(
        cir_pool_new(pool, &(cir_pool_config_t){.workers = 1, .queue_max = 0}),
        0);
    cr_assert_eq(cir_dispatch_new(&a->d, dc, &intake.base, *pool), 0);
}

/* Once job `id` has written something (so there is something to remove),
 * and half a second more. */
static void
wait_until_writing(const char *id)
{
    char version_dir[200];

    snprintf(version_dir, sizeof(version_dir), "%s/%s/v", workdir, id);
    while (access(version_dir, F_OK) != 0) {
        usleep(20000);
    }
    usleep(500000);
}

/* A cancelled job's folder holds no file. */
static void
assert_outputs_removed(const char *id)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "test -z \"$(find %s/%s -type f)\"", workdir,
             id);
    cr_assert_eq(system(cmd), 0, "what %s wrote is removed", id);
}

Test(worker_dispatch, cancel_on_request_removes_outputs, .init = setup_long,
     .fini = teardown, .timeout = 120)
{
    cir_pool_t *pool = NULL;
    cir_dispatch_config_t dc = {.presets_dir = cir_preset_dir(NULL),
                                .status_dir = status_dir,
                                .workers = 1,
                                .max_attempts = 3,
                                .extend_s = 120};
    run_arg_t a = {0};
    cir_dispatch_counts_t c;
    pthread_t t;
    int64_t t0 = cir_clock_mono_us(cir_clock_system());
    json_t *r;

    dispatch_long_job(&a, &pool, &dc, "c");
    cr_assert_eq(cir_dispatch_cancel(a.d, "c"), 0, "not claimed yet");
    cr_assert_eq(pthread_create(&t, NULL, run_main, &a), 0);
    wait_until_writing("c");
    cr_assert_eq(cir_dispatch_cancel(a.d, "other"), 0);
    cr_assert_eq(cir_dispatch_cancel(a.d, "c"), 1);
    pthread_join(t, NULL);
    cr_assert_eq(a.ret, 0);
    cir_dispatch_counts(a.d, &c);
    cir_dispatch_free(&a.d);
    cir_pool_free(&pool);

    cr_assert_eq(intake.cancels, 1);
    cr_assert_eq(intake.acks + intake.fails + intake.releases + intake.abandons,
                 0);
    cr_assert_eq(c.jobs[CIR_DISPATCH_CANCELLED], 1);
    cr_assert_lt(cir_clock_mono_us(cir_clock_system()) - t0, 60000000,
                 "stopped, not run to its end");
    r = load_result("c");
    cr_assert_str_eq(str_of(r, "state"), "cancelled");
    cr_assert_str_eq(str_of(r, "error"), "cancelled on request");
    json_decref(r);
    assert_outputs_removed("c");
}

Test(worker_dispatch, metrics_and_jobs_render, .init = setup_short,
     .fini = teardown, .timeout = 120)
{
    cir_pool_t *pool = NULL;
    cir_dispatch_t *d = NULL;
    cir_dispatch_config_t dc = {.presets_dir = cir_preset_dir(NULL),
                                .workers = 2,
                                .max_attempts = 1,
                                .extend_s = 60};
    cir_buf_t b;

    cir_lease_config_for(&dc.lease, 60000000, 2000000, 20000000);
    cr_assert_eq(
        cir_pool_new(&pool, &(cir_pool_config_t){.workers = 2, .queue_max = 0}),
        0);
    cr_assert_eq(cir_dispatch_new(&d, &dc, &intake.base, pool), 0);
    cir_buf_init(&b, 1 << 16);
    cr_assert_eq(cir_dispatch_render_metrics(d, &b), 0);
    cr_assert_not_null(
        strstr(b.data, "cirrus_worker_jobs_total{state=\"done\"} 0\n"));
    cr_assert_not_null(strstr(b.data, "cirrus_worker_workers 2\n"));
    cr_assert_not_null(strstr(b.data, "cirrus_worker_intake_errors_total 0\n"));
    cir_buf_free(&b);
    cir_buf_init(&b, 1024);
    cr_assert_eq(cir_dispatch_render_jobs(d, &b), 0);
    cr_assert_eq(b.len, 2);
    cr_assert_eq(memcmp(b.data, "[]", 2), 0);
    cir_buf_free(&b);
    cir_dispatch_free(&d);
    cir_pool_free(&pool);
}

/* ---- the job store ------------------------------------------------------ */

static cir_job_store_t *
open_store(void)
{
    cir_job_store_t *js = NULL;
    char err[256];

    snprintf(jobs_uri, sizeof(jobs_uri), "file://%s/store", workdir);
    cr_assert_eq(cir_job_store_open(&js, jobs_uri, err, sizeof(err)), 0, "%s",
                 err);
    return js;
}

static json_t *
stored(cir_job_store_t *js, const char *id)
{
    json_t *r = NULL;

    cr_assert_eq(cir_job_store_get(js, id, &r), 0, "a record of %s", id);
    return r;
}

Test(worker_dispatch, job_store_records_and_a_cancel_before_the_run,
     .init = setup_short, .fini = teardown, .timeout = 120)
{
    cir_job_store_t *js = open_store();
    cir_dispatch_counts_t c;
    char in[160], path[300];
    json_t *r, *api;

    snprintf(in, sizeof(in), "file://%s", input);
    add_job("s1", in, "s1", 1);
    add_job("s2", in, "s2", 1);
    /* what the API wrote at submit (s1: after one earlier attempt) */
    api = json_pack("{s:s, s:s, s:i, s:i, s:{s:s}, s:n, s:n, s:f}", "id", "s1",
                    "state", "queued", "attempt", 1, "attempt_base", 1, "job",
                    "input", in, "result", "error", "progress", 0.0);
    cr_assert_eq(cir_job_store_put(js, "s1", api), 0);
    json_decref(api);
    cr_assert_eq(cir_job_store_cancel_mark(js, "s2"), 0);
    run_dispatcher(30, &c);

    r = stored(js, "s1");
    cr_assert_str_eq(str_of(r, "state"), "done");
    cr_assert_eq(json_integer_value(json_object_get(r, "attempt")), 2,
                 "one attempt before, this one");
    cr_assert_str_eq(str_of(json_object_get(r, "job"), "input"), in,
                     "the API's document kept");
    cr_assert_str_eq(str_of(json_object_get(r, "result"), "state"), "done");
    json_decref(r);

    r = stored(js, "s2");
    cr_assert_str_eq(str_of(r, "state"), "cancelled");
    cr_assert_str_eq(str_of(r, "error"), "cancelled on request");
    json_decref(r);
    cr_assert_eq(intake.cancels, 1, "s2 taken off the queue");
    cr_assert_eq(intake.acks, 1, "s1 only");
    cr_assert_eq(c.jobs[CIR_DISPATCH_CANCELLED], 1);
    snprintf(path, sizeof(path), "%s/s2", workdir);
    cr_assert_neq(access(path, F_OK), 0, "s2 never ran");
    cir_job_store_close(&js);
}

Test(worker_dispatch, job_store_cancel_stops_a_running_job, .init = setup_long,
     .fini = teardown, .timeout = 120)
{
    cir_job_store_t *js = open_store();
    cir_pool_t *pool = NULL;
    cir_dispatch_config_t dc = {.presets_dir = cir_preset_dir(NULL),
                                .status_dir = status_dir,
                                .workers = 1,
                                .max_attempts = 3,
                                .extend_s = 120,
                                .jobs_uri = jobs_uri,
                                .jobs_poll_us = 100000};
    run_arg_t a = {0};
    cir_dispatch_counts_t c;
    pthread_t t;
    int64_t t0 = cir_clock_mono_us(cir_clock_system());
    json_t *r;

    dispatch_long_job(&a, &pool, &dc, "sc");
    cr_assert_eq(pthread_create(&t, NULL, run_main, &a), 0);
    wait_until_writing("sc");
    r = stored(js, "sc");
    cr_assert_str_eq(str_of(r, "state"), "running");
    json_decref(r);
    /* another process's request: only the store says it */
    cr_assert_eq(cir_job_store_cancel_mark(js, "sc"), 0);
    pthread_join(t, NULL);
    cr_assert_eq(a.ret, 0);
    cir_dispatch_counts(a.d, &c);
    cir_dispatch_free(&a.d);
    cir_pool_free(&pool);

    cr_assert_eq(intake.cancels, 1);
    cr_assert_eq(c.jobs[CIR_DISPATCH_CANCELLED], 1);
    cr_assert_lt(cir_clock_mono_us(cir_clock_system()) - t0, 60000000,
                 "stopped, not run to its end");
    r = stored(js, "sc");
    cr_assert_str_eq(str_of(r, "state"), "cancelled");
    cr_assert_str_eq(str_of(json_object_get(r, "result"), "state"),
                     "cancelled");
    json_decref(r);
    assert_outputs_removed("sc");
    cir_job_store_close(&js);
}

Test(worker_dispatch, job_store_failed_job_redelivered_is_not_run_again,
     .init = setup_short, .fini = teardown, .timeout = 120)
{
    cir_job_store_t *js = open_store();
    cir_dispatch_counts_t c;
    char in[160], path[300];
    json_t *r, *api;

    snprintf(in, sizeof(in), "file://%s", input);
    add_job("sf", in, "sf", 2); /* the queue's second receive */
    api = json_pack("{s:s, s:s, s:i, s:s}", "id", "sf", "state", "failed",
                    "attempt", 1, "error", "input does not exist");
    cr_assert_eq(cir_job_store_put(js, "sf", api), 0);
    json_decref(api);
    run_dispatcher(30, &c);

    cr_assert_eq(intake.fails, 1);
    cr_assert_eq(intake.last_permanent, 1, "parked: on to the dead letters");
    cr_assert_eq(c.jobs[CIR_DISPATCH_FAILED], 1);
    snprintf(path, sizeof(path), "%s/sf", workdir);
    cr_assert_neq(access(path, F_OK), 0, "not run again");
    r = stored(js, "sf");
    cr_assert_str_eq(str_of(r, "state"), "failed");
    cr_assert_eq(json_integer_value(json_object_get(r, "attempt")), 1,
                 "the record as it was");
    cr_assert_str_eq(str_of(r, "error"), "input does not exist");
    json_decref(r);
    cir_job_store_close(&js);
}
