/*
 * The spool source on a temporary folder with a fixed clock: settling,
 * atomic claims, retries with attempt counts and backoff, parking in
 * failed/, stale claims, release, and bad job documents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_intake_spool.h"
#include "cir_json.h"

static char dir[64];
static cir_clock_t clk;
static cir_intake_t *src;
static char err[256];

static void
put(const char *sub, const char *name, const char *text)
{
    char p[256];
    FILE *f;
    snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
    f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

static int
exists(const char *sub, const char *name)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
    return stat(p, &st) == 0;
}

static json_t *
load(const char *sub, const char *name)
{
    char p[256], e[128];
    json_t *j = NULL;
    snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
    cr_assert_eq(cir_json_load_file(p, 65536, &j, e, sizeof(e)), 0, "%s", e);
    return j;
}

static void
setup(void)
{
    cir_intake_spool_config_t c;

    snprintf(dir, sizeof(dir), "/tmp/cir-spool-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    /* the clock starts 10 s ahead of the files' mtimes: all settled */
    cir_clock_fixed_init(&clk, (int64_t)time(NULL) * 1000000 + 10000000);
    cir_intake_spool_defaults(&c);
    c.dir = dir;
    c.out_root = "file:///out";
    c.default_preset = "mobile";
    c.max_attempts = 2;
    c.stale_seconds = 30;
    c.clock = &clk;
    cr_assert_eq(cir_intake_spool_open(&src, &c, err, sizeof(err)), 0, "%s",
                 err);
}

static void
teardown(void)
{
    char cmd[128];
    src->ops->close(src);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(intake_spool, .init = setup, .fini = teardown);

Test(intake_spool, media_file_becomes_a_job)
{
    cir_vod_job_t job;
    char want[256];

    put("incoming", "My Clip.mp4", "x");
    cr_assert_eq(src->ops->next(src, &job, 0), 1);
    snprintf(want, sizeof(want), "file://%s/claimed/My Clip.mp4", dir);
    cr_assert_str_eq(job.input, want);
    cr_assert_str_eq(job.output, "file:///out/My Clip");
    cr_assert_str_eq(job.preset, "mobile");
    cr_assert_str_eq(job.id, "My%20Clip");
    cr_assert_eq(job.attempt, 1);
    cr_assert(exists("claimed", "My Clip.mp4"));
    cr_assert(exists("claimed", "My Clip.mp4.claim"));
    cr_assert(!exists("incoming", "My Clip.mp4"));
    /* nothing else to take */
    cir_vod_job_t other;
    cr_assert_eq(src->ops->next(src, &other, 0), 0);
    cr_assert_eq(src->ops->ack(src, &job), 0);
    cr_assert(exists("done", "My Clip.mp4"));
    cr_assert(!exists("claimed", "My Clip.mp4"));
    cr_assert(!exists("claimed", "My Clip.mp4.claim"));
}

Test(intake_spool, unsettled_and_hidden_files_wait)
{
    cir_vod_job_t job;

    put("incoming", ".partial.mp4", "x");
    put("incoming", "fresh.mp4", "x");
    /* the clock at the files' own mtime: not settled yet */
    cir_clock_fixed_set(&clk, (int64_t)time(NULL) * 1000000);
    cr_assert_eq(src->ops->next(src, &job, 0), 0);
    cir_clock_fixed_advance(&clk, 2000000);
    cr_assert_eq(src->ops->next(src, &job, 0), 1);
    cr_assert_str_eq(job.id, "fresh");
    cr_assert_eq(src->ops->next(src, &job, 0), 0, "hidden files stay");
}

Test(intake_spool, job_json_and_test_event)
{
    cir_vod_job_t job;

    put("incoming", "a.json",
        "{\"input\":\"file:///m/a.mp4\",\"output\":\"file:///o/a\","
        "\"preset\":\"web\",\"only\":\"hls\"}");
    put("incoming", "t.json", "{\"Event\":\"s3:TestEvent\"}");
    cr_assert_eq(src->ops->next(src, &job, 0), 1);
    cr_assert_str_eq(job.input, "file:///m/a.mp4");
    cr_assert_str_eq(job.preset, "web");
    cr_assert_eq(job.only, 1u);
    cr_assert_eq(src->ops->next(src, &job, 0), 0);
    cr_assert(exists("done", "t.json"), "a TestEvent is nothing to do");
}

Test(intake_spool, bad_job_is_parked_at_once)
{
    cir_vod_job_t job;
    json_t *e;

    put("incoming", "bad.json", "{\"input\":\"a.mp4\",\"colour\":1}");
    cr_assert_eq(src->ops->next(src, &job, 0), 0);
    cr_assert(exists("failed", "bad.json"));
    e = load("failed", "bad.json.error.json");
    cr_assert(json_is_true(json_object_get(e, "permanent")));
    cr_assert_not_null(strstr(json_string_value(json_object_get(
                                  json_object_get(e, "error"), "error")),
                              "colour"));
    json_decref(e);
}

Test(intake_spool, transient_failures_retry_then_park)
{
    cir_vod_job_t job;
    json_t *e;

    put("incoming", "v.mp4", "x");
    cr_assert_eq(src->ops->next(src, &job, 0), 1);
    cr_assert_eq(src->ops->fail(src, &job, "{\"error\":\"503\"}", 0), 0);
    cr_assert(exists("incoming", "v.mp4"), "back for a retry");
    /* backing off: 2 s after the first attempt */
    cr_assert_eq(src->ops->next(src, &job, 0), 0);
    cir_clock_fixed_advance(&clk, 2100000);
    cr_assert_eq(src->ops->next(src, &job, 0), 1);
    cr_assert_eq(job.attempt, 2);
    cr_assert_eq(src->ops->fail(src, &job, "{\"error\":\"503\"}", 0), 0);
    cr_assert(exists("failed", "v.mp4"), "max_attempts = 2 reached");
    e = load("failed", "v.mp4.error.json");
    cr_assert_eq(json_integer_value(json_object_get(e, "attempts")), 2);
    cr_assert(json_is_false(json_object_get(e, "permanent")));
    cr_assert_str_eq(json_string_value(
                         json_object_get(json_object_get(e, "error"), "error")),
                     "503");
    json_decref(e);
}

Test(intake_spool, permanent_failure_parks_at_once)
{
    cir_vod_job_t job;

    put("incoming", "p.mp4", "x");
    cr_assert_eq(src->ops->next(src, &job, 0), 1);
    cr_assert_eq(src->ops->fail(src, &job, "not json at all", 1), 0);
    cr_assert(exists("failed", "p.mp4"));
    json_t *e = load("failed", "p.mp4.error.json");
    cr_assert_str_eq(json_string_value(json_object_get(e, "error")),
                     "not json at all");
    json_decref(e);
}

Test(intake_spool, release_keeps_the_attempt)
{
    cir_vod_job_t job;

    put("incoming", "r.mp4", "x");
    cr_assert_eq(src->ops->next(src, &job, 0), 1);
    cr_assert_eq(src->ops->release(src, &job), 0);
    cr_assert_eq(src->ops->next(src, &job, 0), 1, "no backoff on release");
    cr_assert_eq(job.attempt, 1);
}

Test(intake_spool, stale_claims_return)
{
    cir_vod_job_t job;

    /* ours is never stale while it is held, even without heartbeat */
    put("incoming", "mine.mp4", "x");
    cr_assert_eq(src->ops->next(src, &job, 0), 1);
    cr_assert_str_eq(job.id, "mine");
    /* a claim a dead worker left behind (not ours) */
    put("claimed", "s.mp4", "x");
    put("claimed", "s.mp4.claim",
        "{\"attempt\":1,\"started_us\":1,\"heartbeat_us\":1000}");
    cir_clock_fixed_advance(&clk, 60000000);
    cr_assert_eq(cir_intake_spool_recover(src), 1);
    cr_assert(exists("incoming", "s.mp4"));
    cr_assert(exists("claimed", "mine.mp4"));
    cir_vod_job_t again;
    cr_assert_eq(src->ops->next(src, &again, 0), 1);
    cr_assert_str_eq(again.id, "s");
    cr_assert_eq(again.attempt, 2, "the crashed attempt counts");
    /* a heartbeat keeps a claim fresh */
    cr_assert_eq(src->ops->heartbeat(src, &again, 30, 1000, NULL), 0);
    json_t *c = load("claimed", "s.mp4.claim");
    cr_assert_eq(json_integer_value(json_object_get(c, "heartbeat_us")),
                 cir_clock_wall_us(&clk));
    json_decref(c);
}
