/*
 * The Batch dispatcher's adapter: SQS long polling and the Batch calls of
 * common/aws behind cir_intake_batch_ops_t (see cir_intake_batch.h).
 *
 * Tested through tests/integration/aws_batch*.test.mjs (the real SQS wire
 * protocol, AWS Batch SubmitJob).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cir_aws.h"
#include "cir_error.h"
#include "cir_intake_batch.h"
#include "cir_log.h"

typedef struct {
    cir_aws_t *sqs;
    cir_aws_t *batch;
    const char *queue_url;
    uint64_t counts[CIR_BATCH_REJECTED + 1];
} dispatch_t;

static const cir_log_ctx_t log_ctx = {.component = "intake-batch"};

static int
op_find(void *opaque, const char *job_queue, const char *job_name, char *job_id,
        size_t idsize, char *status, size_t ssize)
{
    dispatch_t *d = opaque;
    cir_batch_job_t jobs[4];
    int n = cir_batch_list_by_name(d->batch, job_queue, job_name, jobs, 4);

    if (n <= 0) {
        return n;
    }
    snprintf(job_id, idsize, "%s", jobs[0].job_id);
    snprintf(status, ssize, "%s", jobs[0].status);
    return 1;
}

/* The job's own options (clip, overlay, ...) go as containerOverrides
 * environment: the job definition's command stays as it is, and an option
 * a job does not have is simply not set. */
static int
op_submit(void *opaque, const cir_intake_batch_config_t *cfg,
          const char *job_name, const cir_vod_job_t *job, char *job_id,
          size_t idsize)
{
    dispatch_t *d = opaque;
    char tag[CIR_PUBLISH_TAG_LEN + 1];
    /* publish_tag: the upload's identity, so that an attempt Batch retries
     * after the asset was published publishes no second version
     * (cirrus-transcode --publish-tag, cir_published.h) */
    const cir_aws_kv_t params[] = {{"input", job->input},
                                   {"output", job->output},
                                   {"preset", job->preset},
                                   {"publish_tag", tag},
                                   {"subtitles", job->subtitles}};
    size_t n = sizeof(params) / sizeof(params[0]);
    cir_aws_kv_t vars[CIR_BATCH_ENV_MAX];
    cir_batch_env_t env;
    int ret;

    if ((ret = cir_intake_publish_tag(job, tag)) < 0 ||
        (ret = cir_intake_batch_env(job, &env)) < 0) {
        return ret;
    }
    /* without subtitles the job definition's default ("[]") stands */
    if (job->subtitles[0] == '\0') {
        n--;
    }
    for (size_t i = 0; i < env.n; i++) {
        vars[i] = (cir_aws_kv_t){env.name[i], env.value[i]};
    }
    ret = cir_batch_submit_env(d->batch, job_name, cfg->job_queue,
                               cfg->job_definition, params, n, vars, env.n,
                               job_id, idsize);
    cir_batch_env_free(&env);
    return ret;
}

static int
op_ack(void *opaque, void *msg)
{
    dispatch_t *d = opaque;
    const cir_sqs_msg_t *m = msg;

    return cir_sqs_delete(d->sqs, d->queue_url, m->receipt);
}

static const char *
op_error(void *opaque)
{
    (void)opaque;
    return cir_aws_last_error();
}

int
cir_intake_batch_run_sqs(const cir_intake_batch_config_t *cfg,
                         const char *queue_url, int visibility_s,
                         const char *batch_region, const char *batch_endpoint,
                         atomic_int *stop, char *err, size_t errsize)
{
    dispatch_t d = {.queue_url = queue_url};
    cir_intake_batch_ops_t ops = {.opaque = &d,
                                  .find = op_find,
                                  .submit = op_submit,
                                  .ack = op_ack,
                                  .last_error = op_error};
    cir_batch_result_t *res = NULL;
    int ret;

    if (queue_url == NULL || queue_url[0] == '\0' || cfg->job_queue == NULL ||
        cfg->job_queue[0] == '\0' || cfg->job_definition == NULL ||
        cfg->job_definition[0] == '\0' || visibility_s < 1 ||
        visibility_s > 43200) {
        snprintf(err, errsize,
                 "batch dispatch needs sqs_queue_url, batch_job_queue and "
                 "batch_job_definition");
        return CIR_EINVAL;
    }
    if ((ret = cir_aws_open(&d.sqs, err, errsize)) < 0 ||
        (ret = cir_aws_open(&d.batch, err, errsize)) < 0) {
        goto fail;
    }
    if ((batch_region && batch_region[0] &&
         (ret = cir_aws_set_region(d.batch, batch_region)) < 0) ||
        (batch_endpoint && batch_endpoint[0] &&
         (ret = cir_aws_set_endpoint(d.batch, "batch", batch_endpoint)) < 0)) {
        snprintf(err, errsize, "batch_region or batch_endpoint is not valid");
        goto fail;
    }
    if (cfg->connect_timeout_ms > 0 && cfg->request_timeout_ms > 0 &&
        ((ret = cir_aws_set_timeouts(d.sqs, cfg->connect_timeout_ms,
                                     cfg->request_timeout_ms)) < 0 ||
         (ret = cir_aws_set_timeouts(d.batch, cfg->connect_timeout_ms,
                                     cfg->request_timeout_ms)) < 0)) {
        snprintf(err, errsize, "AWS timeouts out of range");
        goto fail;
    }
    if ((res = calloc(1, sizeof(*res))) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    cir_log_info(&log_ctx,
                 "dispatching %s to AWS Batch queue %s, definition %s "
                 "(region %s)",
                 queue_url, cfg->job_queue, cfg->job_definition,
                 cir_aws_region(d.batch));
    while (!atomic_load(stop)) {
        cir_sqs_msg_t m[10];
        /* short polls so a stop request is seen within a few seconds */
        int n = cir_sqs_receive(d.sqs, queue_url, 10, 2, visibility_s, m);
        if (n < 0) {
            cir_log_error(&log_ctx, "ReceiveMessage: %s", cir_aws_last_error());
            for (int i = 0; i < 20 && !atomic_load(stop); i++) {
                struct timespec ts = {0, 100 * 1000000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        for (int i = 0; i < n; i++) {
            cir_batch_outcome_t o = cir_intake_batch_handle(
                cfg, &ops, m[i].body, m[i].body_len, &m[i], res);
            d.counts[o]++;
            cir_sqs_msg_free(&m[i]);
        }
    }
    cir_log_info(&log_ctx,
                 "stopped: %llu submitted, %llu duplicate, %llu dropped, "
                 "%llu to retry, %llu refused",
                 (unsigned long long)d.counts[CIR_BATCH_SUBMITTED],
                 (unsigned long long)d.counts[CIR_BATCH_DUPLICATE],
                 (unsigned long long)d.counts[CIR_BATCH_NOT_A_JOB],
                 (unsigned long long)d.counts[CIR_BATCH_RETRY],
                 (unsigned long long)d.counts[CIR_BATCH_REJECTED]);
    ret = 0;
fail:
    free(res);
    cir_aws_close(&d.batch);
    cir_aws_close(&d.sqs);
    return ret;
}
