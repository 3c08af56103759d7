/*
 * The Batch dispatch decision (cir_intake_batch.h): job names per object
 * version within Batch's naming rule, and ListJobs -> SubmitJob -> ack in
 * that order, each only when the one before allows, with fake Batch and
 * queue calls recording what they were asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_intake_batch.h"

static const char *
s3_event(char *buf, size_t size, const char *key, const char *object_extra)
{
    snprintf(buf, size,
             "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":"
             "\"aws:s3\",\"awsRegion\":\"eu-west-1\",\"eventTime\":"
             "\"2026-11-27T08:49:51.123Z\",\"eventName\":\"ObjectCreated:Put\","
             "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"bucket\":{\"name\":"
             "\"uploads\",\"arn\":\"arn:aws:s3:::uploads\"},\"object\":{"
             "\"key\":\"%s\",\"size\":1024%s}}}]}",
             key, object_extra);
    return buf;
}

static int
name_of(const char *body, char *identity, size_t idsize,
        char name[CIR_BATCH_NAME_MAX + 1])
{
    cir_vod_job_t job;
    char err[256];
    int ret = cir_intake_parse_job(body, strlen(body), "s3://out/vod", NULL,
                                   "web", &job, err, sizeof(err));
    cr_assert_eq(ret, 0, "%s", err);
    return cir_intake_batch_job_name(body, strlen(body), &job, identity, idsize,
                                     name);
}

Test(intake_batch, name_rule)
{
    cr_assert(cir_batch_name_is_valid("a"));
    cr_assert(cir_batch_name_is_valid("cirrus-0123_abc"));
    cr_assert_not(cir_batch_name_is_valid(""));
    cr_assert_not(cir_batch_name_is_valid("-a"));
    cr_assert_not(cir_batch_name_is_valid("_a"));
    cr_assert_not(cir_batch_name_is_valid("a b"));
    cr_assert_not(cir_batch_name_is_valid("a.b"));
    cr_assert_not(cir_batch_name_is_valid("caf\xc3\xa9"));
    char n[130];
    memset(n, 'a', 128);
    n[128] = '\0';
    cr_assert(cir_batch_name_is_valid(n));
    n[128] = 'a';
    n[129] = '\0';
    cr_assert_not(cir_batch_name_is_valid(n));
}

Test(intake_batch, name_per_object_version)
{
    char b1[2048], b2[2048], id1[5000], id2[5000];
    char n1[CIR_BATCH_NAME_MAX + 1], n2[CIR_BATCH_NAME_MAX + 1];

    s3_event(b1, sizeof(b1), "web/My+Clip.mp4",
             ",\"eTag\":\"e1\",\"versionId\":\"v1\",\"sequencer\":\"0A\"");
    cr_assert_eq(name_of(b1, id1, sizeof(id1), n1), 0);
    cr_assert_str_eq(id1, "s3://uploads/web/My Clip.mp4?versionId=v1");
    cr_assert(cir_batch_name_is_valid(n1));
    cr_assert_eq(strlen(n1), strlen("cirrus-") + 64);
    cr_assert_eq(strncmp(n1, "cirrus-", 7), 0);
    /* a redelivery of the same event: the same name */
    cr_assert_eq(name_of(b1, id2, sizeof(id2), n2), 0);
    cr_assert_str_eq(n1, n2);
    /* another version of the key: another job */
    s3_event(b2, sizeof(b2), "web/My+Clip.mp4",
             ",\"eTag\":\"e1\",\"versionId\":\"v2\",\"sequencer\":\"0A\"");
    cr_assert_eq(name_of(b2, id2, sizeof(id2), n2), 0);
    cr_assert_str_neq(n1, n2);
}

Test(intake_batch, name_unversioned_uses_sequencer_then_etag)
{
    char b[2048], id[5000], n1[CIR_BATCH_NAME_MAX + 1],
        n2[CIR_BATCH_NAME_MAX + 1];

    s3_event(b, sizeof(b), "a.mp4", ",\"eTag\":\"e1\",\"sequencer\":\"0A\"");
    cr_assert_eq(name_of(b, id, sizeof(id), n1), 0);
    cr_assert_str_eq(id, "s3://uploads/a.mp4#sequencer=0A");
    /* the same bytes uploaded again: a new event, a new job */
    s3_event(b, sizeof(b), "a.mp4", ",\"eTag\":\"e1\",\"sequencer\":\"0B\"");
    cr_assert_eq(name_of(b, id, sizeof(id), n2), 0);
    cr_assert_str_neq(n1, n2);
    s3_event(b, sizeof(b), "a.mp4", ",\"eTag\":\"e1\"");
    cr_assert_eq(name_of(b, id, sizeof(id), n2), 0);
    cr_assert_str_eq(id, "s3://uploads/a.mp4#etag=e1");
}

Test(intake_batch, name_from_eventbridge_and_job_document)
{
    char id[5000], n1[CIR_BATCH_NAME_MAX + 1], n2[CIR_BATCH_NAME_MAX + 1];
    const char *eb =
        "{\"version\":\"0\",\"detail-type\":\"Object Created\",\"source\":"
        "\"aws.s3\",\"time\":\"2026-11-27T08:49:51Z\",\"detail\":{\"bucket\":"
        "{\"name\":\"uploads\"},\"object\":{\"key\":\"web/%C3%A9t%C3%A9.mp4\","
        "\"etag\":\"e\",\"version-id\":\"v9\",\"sequencer\":\"1\"}}}";

    cr_assert_eq(name_of(eb, id, sizeof(id), n1), 0);
    cr_assert_str_eq(id, "s3://uploads/web/\xc3\xa9t\xc3\xa9.mp4?versionId=v9");
    cr_assert(cir_batch_name_is_valid(n1));
    cr_assert_eq(name_of("{\"input\":\"s3://in/a.mp4\",\"id\":\"x1\"}", id,
                         sizeof(id), n1),
                 0);
    cr_assert_str_eq(id, "s3://in/a.mp4#id=x1");
    cr_assert_eq(name_of("{\"input\":\"s3://in/a.mp4\",\"id\":\"x2\"}", id,
                         sizeof(id), n2),
                 0);
    cr_assert_str_neq(n1, n2);
}

Test(intake_batch, name_depends_on_output_and_preset)
{
    const char *body = "{\"input\":\"s3://in/a.mp4\",\"preset\":\"web\"}";
    const char *body2 = "{\"input\":\"s3://in/a.mp4\",\"preset\":\"mobile\"}";
    char id[5000], n1[CIR_BATCH_NAME_MAX + 1], n2[CIR_BATCH_NAME_MAX + 1];

    cr_assert_eq(name_of(body, id, sizeof(id), n1), 0);
    cr_assert_eq(name_of(body2, id, sizeof(id), n2), 0);
    cr_assert_str_neq(n1, n2);
}

/* ---- the decision, with a fake Batch and a fake queue ------------------ */

typedef struct {
    char calls[256]; /* "L" list, "S" submit, "A" ack, in order */
    int find_ret;    /* what find answers */
    int submit_ret;  /* what submit answers */
    int ack_ret;
    char submitted_name[CIR_BATCH_NAME_MAX + 1];
    cir_vod_job_t submitted;
    char queue_seen[64], definition_seen[64];
    void *acked_msg;
} fake_t;

static void
record(fake_t *f, char c)
{
    size_t n = strlen(f->calls);
    cr_assert_lt(n, sizeof(f->calls) - 1);
    f->calls[n] = c;
}

static int
fake_find(void *o, const char *queue, const char *name, char *id, size_t idsize,
          char *status, size_t ssize)
{
    fake_t *f = o;
    record(f, 'L');
    snprintf(f->queue_seen, sizeof(f->queue_seen), "%s", queue);
    cr_assert(cir_batch_name_is_valid(name));
    if (f->find_ret == 1) {
        snprintf(id, idsize, "job-1");
        snprintf(status, ssize, "RUNNING");
    }
    return f->find_ret;
}

static int
fake_submit(void *o, const cir_intake_batch_config_t *cfg, const char *name,
            const cir_vod_job_t *job, char *id, size_t idsize)
{
    fake_t *f = o;
    record(f, 'S');
    snprintf(f->definition_seen, sizeof(f->definition_seen), "%s",
             cfg->job_definition);
    snprintf(f->submitted_name, sizeof(f->submitted_name), "%s", name);
    f->submitted = *job;
    if (f->submit_ret == 0) {
        snprintf(id, idsize, "job-2");
    }
    return f->submit_ret;
}

static int
fake_ack(void *o, void *msg)
{
    fake_t *f = o;
    record(f, 'A');
    f->acked_msg = msg;
    return f->ack_ret;
}

static const char *
fake_error(void *o)
{
    (void)o;
    return "HTTP 400 ClientException: bad";
}

static const cir_intake_batch_config_t cfg = {
    .job_queue = "cirrus-q",
    .job_definition = "cirrus-transcode:3",
    .out_root = "s3://out/vod",
    .presets_dir = NULL,
    .default_preset = "web",
};

static cir_batch_outcome_t
handle(fake_t *f, const char *body, cir_batch_result_t *res)
{
    cir_intake_batch_ops_t ops = {.opaque = f,
                                  .find = fake_find,
                                  .submit = fake_submit,
                                  .ack = fake_ack,
                                  .last_error = fake_error};
    static int msg;
    return cir_intake_batch_handle(&cfg, &ops, body, strlen(body), &msg, res);
}

Test(intake_batch, new_upload_is_submitted_then_acked)
{
    fake_t f = {0};
    cir_batch_result_t *res = malloc(sizeof(*res));
    char b[2048];

    s3_event(b, sizeof(b), "dir+with+space/%C3%9Cn%C3%AF+%2B.mp4",
             ",\"eTag\":\"e\",\"sequencer\":\"0A\"");
    cr_assert_eq(handle(&f, b, res), CIR_BATCH_SUBMITTED);
    cr_assert_str_eq(f.calls, "LSA");
    cr_assert_str_eq(f.queue_seen, "cirrus-q");
    cr_assert_str_eq(f.definition_seen, "cirrus-transcode:3");
    cr_assert_str_eq(f.submitted.input,
                     "s3://uploads/dir with space/\xc3\x9cn\xc3\xaf +.mp4");
    cr_assert_str_eq(f.submitted.output,
                     "s3://out/vod/dir with space/\xc3\x9cn\xc3\xaf +");
    cr_assert_str_eq(f.submitted.preset, "web");
    cr_assert_str_eq(f.submitted_name, res->job_name);
    cr_assert_str_eq(res->job_id, "job-2");
    cr_assert_not_null(f.acked_msg);
    free(res);
}

Test(intake_batch, existing_job_is_not_submitted_again)
{
    fake_t f = {.find_ret = 1};
    cir_batch_result_t *res = malloc(sizeof(*res));
    char b[2048];

    s3_event(b, sizeof(b), "a.mp4", ",\"eTag\":\"e\",\"sequencer\":\"0A\"");
    cr_assert_eq(handle(&f, b, res), CIR_BATCH_DUPLICATE);
    cr_assert_str_eq(f.calls, "LA");
    cr_assert_str_eq(res->job_id, "job-1");
    free(res);
}

Test(intake_batch, list_failure_submits_nothing_and_keeps_the_message)
{
    fake_t f = {.find_ret = CIR_ETRANSIENT};
    cir_batch_result_t *res = malloc(sizeof(*res));
    char b[2048];

    s3_event(b, sizeof(b), "a.mp4", ",\"sequencer\":\"0A\"");
    cr_assert_eq(handle(&f, b, res), CIR_BATCH_RETRY);
    cr_assert_str_eq(f.calls, "L");
    free(res);
}

Test(intake_batch, transient_submit_failure_keeps_the_message)
{
    fake_t f = {.submit_ret = CIR_ETRANSIENT};
    cir_batch_result_t *res = malloc(sizeof(*res));
    char b[2048];

    s3_event(b, sizeof(b), "a.mp4", ",\"sequencer\":\"0A\"");
    cr_assert_eq(handle(&f, b, res), CIR_BATCH_RETRY);
    cr_assert_str_eq(f.calls, "LS");
    cr_assert_eq(res->error, CIR_ETRANSIENT);
    cr_assert_not(cir_batch_outcome_acks(res->outcome));
    free(res);
}

Test(intake_batch, rejected_submit_keeps_the_message_with_the_error)
{
    const int errs[] = {CIR_EINVAL, CIR_EAUTH, CIR_ENOTFOUND};

    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        fake_t f = {.submit_ret = errs[i]};
        cir_batch_result_t *res = malloc(sizeof(*res));
        char b[2048];
        s3_event(b, sizeof(b), "a.mp4", ",\"sequencer\":\"0A\"");
        cr_assert_eq(handle(&f, b, res), CIR_BATCH_REJECTED);
        cr_assert_str_eq(f.calls, "LS");
        cr_assert(strstr(res->message, "ClientException") != NULL, "%s",
                  res->message);
        cr_assert(strstr(res->message, "SubmitJob") != NULL);
        free(res);
    }
}

Test(intake_batch, test_and_removal_events_are_dropped_without_batch)
{
    const char *bodies[] = {
        "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}",
        "{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":"
        "\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
        "\"object\":{\"key\":\"a.mp4\"}}}]}",
    };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        fake_t f = {0};
        cir_batch_result_t *res = malloc(sizeof(*res));
        cr_assert_eq(handle(&f, bodies[i], res), CIR_BATCH_NOT_A_JOB, "%s",
                     bodies[i]);
        cr_assert_str_eq(f.calls, "A");
        free(res);
    }
}

/* Nothing silently dropped: garbage and keys that cannot name an output
 * stay on the queue (no ack) for the redrive policy, with the rule. */
Test(intake_batch, jobs_that_cannot_run_are_kept_for_the_dead_letter_queue)
{
    const char *bodies[] = {
        "not json",
        "{\"input\":\"x.mp4\",\"colour\":1}",
        "{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":"
        "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
        "\"object\":{\"key\":\"a//b.mp4\"}}}]}",
        "{\"input\":\"x.mp4\",\"encryption\":{\"scheme\":\"cenc\","
        "\"key_file\":\"k.json\"}}",
    };
    const char *rules[] = {"", "unknown field", "empty path segment",
                           "encryption: not passed to AWS Batch jobs"};

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        fake_t f = {0};
        cir_batch_result_t *res = malloc(sizeof(*res));
        cr_assert_eq(handle(&f, bodies[i], res), CIR_BATCH_REJECTED, "%s",
                     bodies[i]);
        cr_assert_str_eq(f.calls, "", "%s", bodies[i]);
        cr_assert(strstr(res->message, rules[i]) != NULL, "%s", res->message);
        free(res);
    }
}

/* A job's own options are submitted, as the environment cirrus-transcode
 * reads (CIRRUS_TRANSCODE_*), in the job document's JSON. */
Test(intake_batch, job_options_go_to_batch_as_the_environment)
{
    fake_t f = {0};
    cir_batch_result_t *res = malloc(sizeof(*res));
    cir_batch_env_t env;
    const char *body =
        "{\"input\":\"s3://in/x.mp4\",\"only\":\"dash,hls\","
        "\"audio_tracks\":[{\"index\":1,\"language\":\"fr\"}],"
        "\"preset\":{\"name\":\"two\",\"video\":{\"rungs\":[{\"name\":"
        "\"small\",\"height\":180,\"bitrate_kbps\":200},{\"name\":\"big\","
        "\"height\":360,\"bitrate_kbps\":500}]}},"
        "\"rungs\":{\"small\":null,\"big\":{\"bitrate_kbps\":300}},"
        "\"clip\":{\"start\":\"00:00:01.5\",\"end\":4},"
        "\"overlay\":{\"image\":\"s3://in/m.png\",\"position\":\"top-left\","
        "\"height\":0.2}}";
    const char *names[] = {
        "CIRRUS_TRANSCODE_ONLY",        "CIRRUS_TRANSCODE_AUDIO_TRACKS",
        "CIRRUS_TRANSCODE_PRESET_JSON", "CIRRUS_TRANSCODE_RUNGS",
        "CIRRUS_TRANSCODE_CLIP",        "CIRRUS_TRANSCODE_OVERLAY"};
    json_t *v;
    cir_overlay_t o;
    char err[256];

    cr_assert_eq(handle(&f, body, res), CIR_BATCH_SUBMITTED, "%s",
                 res->message);
    cr_assert_str_eq(f.calls, "LSA");
    cr_assert_str_eq(f.submitted.preset, "two");
    cr_assert_eq(cir_intake_batch_env(&f.submitted, &env), 0);
    cr_assert_eq(env.n, 6);
    for (size_t i = 0; i < env.n; i++) {
        cr_assert_str_eq(env.name[i], names[i]);
    }
    cr_assert_str_eq(env.value[0], "hls,dash");
    cr_assert(strstr(env.value[1], "\"language\":\"fr\"") != NULL, "%s",
              env.value[1]);
    cr_assert(strstr(env.value[2], "\"name\":\"two\"") != NULL);
    cr_assert_str_eq(env.value[3],
                     "{\"big\":{\"bitrate_kbps\":300},\"small\":null}");
    cr_assert_str_eq(env.value[4], "{\"start\":1.5,\"end\":4.0}");
    /* the overlay reads back the same */
    cr_assert_not_null(v = json_loads(env.value[5], 0, NULL));
    cr_assert_eq(cir_overlay_parse(v, &o, err, sizeof(err)), 0, "%s", err);
    json_decref(v);
    cr_assert_str_eq(o.image, "s3://in/m.png");
    cr_assert_eq(o.position, CIR_OVERLAY_TOP_LEFT);
    cr_assert_float_eq(o.height, 0.2, 1e-12);
    cir_batch_env_free(&env);
    cr_assert_eq(env.n, 0);
    /* a job without options: nothing in the environment */
    cr_assert_eq(handle(&f, "{\"input\":\"s3://in/y.mp4\"}", res),
                 CIR_BATCH_SUBMITTED);
    cr_assert_eq(cir_intake_batch_env(&f.submitted, &env), 0);
    cr_assert_eq(env.n, 0);
    free(res);
}

Test(intake_batch, failed_ack_keeps_the_outcome)
{
    fake_t f = {.ack_ret = CIR_ETRANSIENT};
    cir_batch_result_t *res = malloc(sizeof(*res));
    char b[2048];

    s3_event(b, sizeof(b), "a.mp4", ",\"sequencer\":\"0A\"");
    cr_assert_eq(handle(&f, b, res), CIR_BATCH_SUBMITTED);
    cr_assert_str_eq(f.calls, "LSA");
    free(res);
}
