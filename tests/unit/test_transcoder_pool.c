/*
 * The worker pool (pool.c): a submitted job comes back through
 * cir_pool_next_done() finished, failed or cancelled, always (even when
 * memory runs out after it was accepted); the queue is bounded; shutdown
 * hands queued jobs back as cancelled; cancel of one job (what a lost
 * lease does): a queued job comes back at once as cancelled, a running one
 * stops soon and writes no manifest, an unknown one is not found.  Inputs
 * from lavfi.
 *
 * Allocation failures are injected with the linker (-Wl,--wrap=calloc,
 * tests/CMakeLists.txt): once armed, calloc fails in every thread but the
 * test's own, i.e. in the pool's workers.
 *
 * Every test has the same .timeout: Criterion 2.4 leaks a timer record
 * (LeakSanitizer fails the ASan run) when tests of different timeouts
 * overlap.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_pool.h"
#include "cir_preset.h"

static char workdir[64], input[128];

static atomic_int calloc_armed;
static pthread_t test_thread;

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

void *
__wrap_calloc(size_t n, size_t size)
{
    if (atomic_load(&calloc_armed) &&
        !pthread_equal(pthread_self(), test_thread)) {
        return NULL;
    }
    return __real_calloc(n, size);
}

static void
make_input(int seconds)
{
    char cmd[512];

    snprintf(workdir, sizeof(workdir), "/tmp/cir-pool-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    snprintf(input, sizeof(input), "%s/in.mp4", workdir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=640x360:rate=30 -t %d -c:v libx264 "
             "-preset ultrafast -g 30 %s",
             seconds, input);
    cr_assert_eq(system(cmd), 0, "ffmpeg could make the input");
}

static void
setup(void)
{
    make_input(60);
}

static void
setup_short(void)
{
    make_input(2);
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    (void)system(cmd);
}

static int
submit(cir_pool_t *pool, const char *id, const char *in, const char *out,
       const cir_preset_t *preset, void *user)
{
    return cir_pool_submit(pool, &(cir_pool_task_t){.id = id,
                                                    .input = in,
                                                    .output = out,
                                                    .preset = preset,
                                                    .user = user});
}

static int64_t
now_us(void)
{
    return cir_clock_mono_us(cir_clock_system());
}

Test(transcoder_pool, cancel_one_job, .init = setup, .fini = teardown,
     .timeout = 120)
{
    cir_pool_t *pool = NULL;
    cir_preset_t preset;
    cir_pool_done_t d;
    char err[256], out_a[128], out_b[128], master[160];
    int a = 1, b = 2, other = 3;
    int64_t t0;

    cr_assert_eq(cir_preset_load(cir_preset_dir(NULL), "mobile", &preset, err,
                                 sizeof(err)),
                 0, "%s", err);
    preset.thumbs_enabled = 0;
    cr_assert_eq(
        cir_pool_new(&pool, &(cir_pool_config_t){.workers = 1, .queue_max = 1}),
        0);
    snprintf(out_a, sizeof(out_a), "file://%s/a", workdir);
    snprintf(out_b, sizeof(out_b), "file://%s/b", workdir);
    cr_assert_eq(submit(pool, "a", input, out_a, &preset, &a), 0);
    cr_assert_eq(submit(pool, "b", input, out_b, &preset, &b), 0);

    /* b waits behind a: cancelled at once, never started */
    cr_assert_eq(cir_pool_cancel(pool, &b), 1);
    cr_assert_eq(cir_pool_next_done(pool, &d, 1000), 1);
    cr_assert_eq(d.user, &b);
    cr_assert_eq(d.ret, CIR_ECANCELED);
    cr_assert_eq(d.started_us, 0);
    cr_assert_eq(cir_pool_cancel(pool, &other), 0, "not in the pool");

    /* a runs: once it has made progress, cancel it */
    for (int i = 0; i < 600; i++) {
        cir_pool_slot_t slot;
        cir_pool_snapshot(pool, &slot, 1);
        if (slot.busy && slot.progress.percent > 5) {
            break;
        }
        usleep(50000);
    }
    t0 = now_us();
    cr_assert_eq(cir_pool_cancel(pool, &a), 1);
    cr_assert_eq(cir_pool_next_done(pool, &d, 10000), 1);
    cr_assert_eq(d.user, &a);
    cr_assert_eq(d.ret, CIR_ECANCELED, "%s", d.result.error);
    cr_assert_lt(d.finished_us - t0, 1000000, "stopped within a second");
    snprintf(master, sizeof(master), "%s/a/master.m3u8", workdir);
    cr_assert_eq(access(master, F_OK), -1, "no manifest written");
    cr_assert_eq(cir_pool_cancel(pool, &a), 0, "finished");
    cir_pool_free(&pool);
}

static void
load_preset(cir_preset_t *preset)
{
    char err[256];

    cr_assert_eq(cir_preset_load(cir_preset_dir(NULL), "mobile", preset, err,
                                 sizeof(err)),
                 0, "%s", err);
    preset->thumbs_enabled = 0;
}

Test(transcoder_pool, submitted_job_comes_back_done, .init = setup_short,
     .fini = teardown, .timeout = 120)
{
    cir_pool_t *pool = NULL;
    cir_preset_t preset;
    cir_pool_done_t d;
    cir_pool_slot_t slot;
    char out[128], master[160];
    int a = 1;

    load_preset(&preset);
    cr_assert_eq(
        cir_pool_new(&pool, &(cir_pool_config_t){.workers = 1, .queue_max = 0}),
        0);
    cr_assert_eq(cir_pool_free_workers(pool), 1);
    snprintf(out, sizeof(out), "file://%s/a", workdir);
    cr_assert_eq(submit(pool, "job-a", input, out, &preset, &a), 0);
    cr_assert_eq(cir_pool_free_workers(pool), 0, "the worker is taken");
    cr_assert_eq(submit(pool, "job-b", input, out, &preset, NULL), CIR_ELIMIT,
                 "queue_max 0: no job waits");
    cr_assert_eq(cir_pool_next_done(pool, &d, 100000), 1);
    cr_assert_eq(d.user, &a);
    cr_assert_str_eq(d.id, "job-a");
    cr_assert_eq(d.ret, 0, "%s", d.result.error);
    cr_assert_gt(d.result.nb_renditions, 0);
    cr_assert_gt(d.started_us, 0);
    cr_assert_geq(d.started_us, d.queued_us);
    cr_assert_geq(d.finished_us, d.started_us);
    snprintf(master, sizeof(master), "%s/a/master.m3u8", workdir);
    cr_assert_eq(access(master, F_OK), 0, "the manifest was written");
    cr_assert_eq(cir_pool_snapshot(pool, &slot, 1), 1);
    cr_assert_eq(slot.busy, 0);
    cr_assert_eq(cir_pool_next_done(pool, &d, 0), 0, "one job, one record");
    cir_pool_free(&pool);
}

/* A job whose input does not exist, on one worker: what comes back.  With
 * no_memory, calloc fails in the worker from submit on. */
static void
run_missing_input(int no_memory, cir_pool_done_t *d)
{
    cir_pool_t *pool = NULL;
    cir_preset_t preset;
    int a = 1;

    test_thread = pthread_self();
    load_preset(&preset);
    cr_assert_eq(
        cir_pool_new(&pool, &(cir_pool_config_t){.workers = 1, .queue_max = 0}),
        0);
    atomic_store(&calloc_armed, no_memory);
    cr_assert_eq(submit(pool, "missing", "/nonexistent/in.mp4",
                        "file:///nonexistent/out", &preset, &a),
                 0);
    cr_assert_eq(cir_pool_next_done(pool, d, 20000), 1, "the job came back");
    atomic_store(&calloc_armed, 0);
    cr_assert_eq(d->user, &a);
    cir_pool_free(&pool);
}

Test(transcoder_pool, failed_job_comes_back_with_its_error, .timeout = 120)
{
    cir_pool_done_t d;

    run_missing_input(0, &d);
    cr_assert_eq(cir_transcode_exit_code(d.ret), CIR_EXIT_BAD_INPUT, "%s",
                 cir_strerror(d.ret));
    cr_assert_gt(d.started_us, 0, "it ran");
}

/* The done record cannot be lost to an allocation failure after submit:
 * the job comes back failed instead of running on (heartbeated) forever. */
Test(transcoder_pool, job_comes_back_when_memory_runs_out, .timeout = 120)
{
    cir_pool_done_t d;

    run_missing_input(1, &d);
    cr_assert_lt(d.ret, 0);
}

Test(transcoder_pool, shutdown_hands_queued_jobs_back, .init = setup,
     .fini = teardown, .timeout = 120)
{
    cir_pool_t *pool = NULL;
    cir_preset_t preset;
    cir_pool_done_t d;
    char out_a[128], out_b[128];
    int a = 1, b = 2, got_a = 0, got_b = 0;

    load_preset(&preset);
    cr_assert_eq(
        cir_pool_new(&pool, &(cir_pool_config_t){.workers = 1, .queue_max = 1}),
        0);
    snprintf(out_a, sizeof(out_a), "file://%s/a", workdir);
    snprintf(out_b, sizeof(out_b), "file://%s/b", workdir);
    cr_assert_eq(submit(pool, "a", input, out_a, &preset, &a), 0);
    cr_assert_eq(submit(pool, "b", input, out_b, &preset, &b), 0);
    cir_pool_shutdown(pool, 1);
    cr_assert_eq(submit(pool, "c", input, out_b, &preset, NULL), CIR_ECANCELED,
                 "no job after shutdown");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(cir_pool_next_done(pool, &d, 20000), 1);
        cr_assert_eq(d.ret, CIR_ECANCELED, "%s", d.result.error);
        got_a += d.user == &a;
        got_b += d.user == &b;
        if (d.user == &b) {
            cr_assert_eq(d.started_us, 0, "b never ran");
        }
    }
    cr_assert_eq(got_a, 1);
    cr_assert_eq(got_b, 1);
    cir_pool_free(&pool);
}
