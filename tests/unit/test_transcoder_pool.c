/*
 * The worker pool's cancel of one job (what a lost lease does): a queued
 * job comes back at once as cancelled, a running one stops soon and writes
 * no manifest, an unknown one is not found.  Inputs from lavfi.
 */
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

static void
setup(void)
{
    char cmd[512];

    snprintf(workdir, sizeof(workdir), "/tmp/cir-pool-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    snprintf(input, sizeof(input), "%s/in.mp4", workdir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -f lavfi -i "
             "testsrc2=size=640x360:rate=30 -t 60 -c:v libx264 "
             "-preset ultrafast -g 30 %s",
             input);
    cr_assert_eq(system(cmd), 0, "ffmpeg could make the input");
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    (void)system(cmd);
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
    cr_assert_eq(cir_pool_submit(pool, &(cir_pool_task_t){.id = "a",
                                                          .input = input,
                                                          .output = out_a,
                                                          .preset = &preset,
                                                          .user = &a}),
                 0);
    cr_assert_eq(cir_pool_submit(pool, &(cir_pool_task_t){.id = "b",
                                                          .input = input,
                                                          .output = out_b,
                                                          .preset = &preset,
                                                          .user = &b}),
                 0);

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
