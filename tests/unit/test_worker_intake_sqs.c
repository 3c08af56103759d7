/*
 * The SQS intake (intake_sqs.c) against the loopback AWS rig
 * (tests/aws-rig/server.mjs: fauxqs behind a SigV4-verifying proxy,
 * started by each test and stopped with it): a job document sent to the
 * queue is claimed with its fields and attempt 1, its lease extended; a
 * transient fail() hides it for a backoff and it comes back as attempt 2;
 * release() makes it visible at once; ack() deletes it for good.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cir_aws.h"
#include "cir_error.h"
#include "cir_intake_sqs.h"
#include "cir_preset.h"

static pid_t rig_pid = -1;
static int rig_stdin = -1;
static char queue_url[512];

/* Starts the rig and reads its one JSON line of addresses. */
static json_t *
start_rig(void)
{
    const char *src = getenv("CIRRUS_SOURCE_DIR");
    char server[1024], line[4096];
    int out[2], in[2];
    FILE *f;
    json_t *info;

    cr_assert_not_null(src, "CIRRUS_SOURCE_DIR (ctest sets it)");
    snprintf(server, sizeof(server), "%s/tests/aws-rig/server.mjs", src);
    cr_assert_eq(pipe(out), 0);
    cr_assert_eq(pipe(in), 0);
    rig_pid = fork();
    cr_assert_geq(rig_pid, 0);
    if (rig_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
        /* fauxqs counts receives as AWS does (local-aws-sqs also counts
         * each ChangeMessageVisibility) */
        setenv("RIG_CONFIG", "{\"sqs\": \"fauxqs\"}", 1);
        execlp("node", "node", server, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    rig_stdin = in[1]; /* the rig stops when it closes */
    f = fdopen(out[0], "r");
    cr_assert_not_null(fgets(line, sizeof(line), f), "the rig started");
    fclose(f);
    info = json_loads(line, 0, NULL);
    cr_assert_not_null(info, "%s", line);
    return info;
}

static void
setup(void)
{
    json_t *info = start_rig();

    setenv("AWS_ACCESS_KEY_ID",
           json_string_value(json_object_get(info, "accessKey")), 1);
    setenv("AWS_SECRET_ACCESS_KEY",
           json_string_value(json_object_get(info, "secretKey")), 1);
    setenv("AWS_REGION", json_string_value(json_object_get(info, "region")), 1);
    setenv("AWS_ENDPOINT_URL_SQS",
           json_string_value(json_object_get(info, "sqs")), 1);
    setenv("AWS_ENDPOINT_URL_S3",
           json_string_value(json_object_get(info, "s3")), 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
    setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    snprintf(queue_url, sizeof(queue_url), "%s",
             json_string_value(json_object_get(info, "queueUrl")));
    json_decref(info);
}

static void
teardown(void)
{
    if (rig_pid > 0) {
        close(rig_stdin);
        kill(rig_pid, SIGTERM);
        waitpid(rig_pid, NULL, 0);
        rig_pid = -1;
    }
}

static void
send_job(const char *body)
{
    cir_aws_t *aws = NULL;
    char err[256], id[128];

    cr_assert_eq(cir_aws_open(&aws, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cir_sqs_send(aws, queue_url, body, id, sizeof(id)), 0, "%s",
                 cir_aws_last_error());
    cir_aws_close(&aws);
}

static cir_intake_t *
open_intake(void)
{
    char err[256];
    cir_intake_t *src = cir_intake_sqs_open(
        queue_url, "file:///tmp/cir-sqs-out", cir_preset_dir(NULL), "web", 30,
        3, err, sizeof(err));

    cr_assert_not_null(src, "%s", err);
    cr_assert_eq(cir_intake_sqs_set_timeouts(src, 2000, 10000), 0);
    return src;
}

static const char *job_doc =
    "{\"input\": \"s3://cirrus-in/a.mp4\", \"output\": "
    "\"s3://cirrus-out/a\", \"preset\": \"mobile\"}";

Test(worker_intake_sqs, claim_heartbeat_fail_then_ack, .init = setup,
     .fini = teardown, .timeout = 120)
{
    cir_intake_t *src;
    cir_vod_job_t job;
    atomic_int abort_flag = 0;

    send_job(job_doc);
    src = open_intake();
    cr_assert_eq(src->ops->next(src, &job, 5000), 1);
    cr_assert_str_eq(job.input, "s3://cirrus-in/a.mp4");
    cr_assert_str_eq(job.output, "s3://cirrus-out/a");
    cr_assert_str_eq(job.preset, "mobile");
    cr_assert_eq(job.attempt, 1);
    cr_assert_eq(job.reject[0], '\0');
    cr_assert_eq(src->ops->heartbeat(src, &job, 30, 5000, &abort_flag), 0);

    /* transient: hidden for a backoff, then delivered again */
    cr_assert_eq(src->ops->fail(src, &job, "{\"error\":\"x\"}", 0), 0);
    cr_assert_eq(src->ops->next(src, &job, 10000), 1, "back after the backoff");
    cr_assert_eq(job.attempt, 2);
    cr_assert_eq(src->ops->ack(src, &job), 0);
    cr_assert_eq(src->ops->next(src, &job, 3000), 0, "deleted for good");
    src->ops->close(src);
}

Test(worker_intake_sqs, release_makes_it_visible_at_once, .init = setup,
     .fini = teardown, .timeout = 120)
{
    cir_intake_t *src;
    cir_vod_job_t job;

    send_job(job_doc);
    src = open_intake();
    cr_assert_eq(src->ops->next(src, &job, 5000), 1);
    cr_assert_eq(src->ops->release(src, &job), 0);
    cr_assert_eq(src->ops->next(src, &job, 3000), 1, "at once, not in 30 s");
    cr_assert_eq(job.attempt, 2);
    cr_assert_eq(src->ops->ack(src, &job), 0);
    src->ops->close(src);
}
