/* The SQS intake (see cir_intake_sqs.h). */
#include "cir_intake_sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cir_aws.h"
#include "cir_error.h"
#include "cir_log.h"

typedef struct {
    cir_intake_t base;
    cir_aws_t *aws;
    char queue_url[1024];
    char out_root[CIR_JOB_URI_MAX];
    char presets_dir[1024];
    char default_preset[64];
    int visibility_s;
    int max_receive; /* RedrivePolicy maxReceiveCount; 0: no DLQ */
    int max_attempts;
} sqs_intake_t;

typedef struct {
    char receipt[2048];
} sqs_handle_t;

static const cir_log_ctx_t log_ctx = {.component = "intake-sqs"};

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
sqs_next(cir_intake_t *src, cir_vod_job_t *job, int wait_ms)
{
    sqs_intake_t *s = (sqs_intake_t *)src;
    int64_t deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    char err[512];
    cir_sqs_msg_t m;
    int n, ret;

    for (;;) {
        int64_t left = deadline - mono_ms();
        int wait_s = left <= 0 ? 0 : (int)((left + 999) / 1000);
        if (wait_s > 20) {
            wait_s = 20;
        }
        n = cir_sqs_receive(s->aws, s->queue_url, 1, wait_s, s->visibility_s,
                            &m);
        if (n < 0) {
            cir_log_error(&log_ctx, "ReceiveMessage: %s", cir_aws_last_error());
            return n;
        }
        if (n == 0) {
            if (mono_ms() >= deadline) {
                return 0;
            }
            continue;
        }
        memset(job, 0, sizeof(*job));
        ret = cir_intake_parse_job(m.body, m.body_len, s->out_root,
                                   s->presets_dir, s->default_preset, job, err,
                                   sizeof(err));
        if (ret == CIR_ENOTFOUND) {
            /* s3:TestEvent, an event that creates no object: nothing to
             * do, the only messages deleted unprocessed */
            cir_log_info(&log_ctx, "message %s: nothing to do (%s)", m.id, err);
            if (cir_sqs_delete(s->aws, s->queue_url, m.receipt) < 0) {
                cir_log_warn(&log_ctx, "DeleteMessage: %s",
                             cir_aws_last_error());
            }
            cir_sqs_msg_free(&m);
            if (mono_ms() >= deadline) {
                return 0;
            }
            continue;
        }
        if (ret < 0) {
            /* a job that cannot run: handed out to be failed for good (the
             * dead-letter queue), never dropped */
            cir_log_warn(&log_ctx, "message %s cannot run: %s", m.id, err);
            snprintf(job->reject, sizeof(job->reject), "%s",
                     err[0] ? err : cir_strerror(ret));
        }
        sqs_handle_t *h = calloc(1, sizeof(*h));
        if (h == NULL) {
            cir_sqs_msg_free(&m);
            return CIR_ENOMEM;
        }
        snprintf(h->receipt, sizeof(h->receipt), "%s", m.receipt);
        if (ret < 0 || strncmp(job->source_version, "id=", 3) != 0) {
            snprintf(job->id, sizeof(job->id), "sqs-%.100s", m.id);
        } /* else the document's "id" (the job API's): one id per job
           * across redeliveries and retries, the job store's key */
        job->attempt = m.receive_count > 0 ? m.receive_count : 1;
        job->enqueued_us = m.sent_ms * 1000;
        job->handle = h;
        cir_sqs_msg_free(&m);
        return 1;
    }
}

static int
sqs_heartbeat(cir_intake_t *src, cir_vod_job_t *job, int extend_s,
              int within_ms, const atomic_int *abort)
{
    sqs_intake_t *s = (sqs_intake_t *)src;
    sqs_handle_t *h = job->handle;
    int ret;

    if (h == NULL) {
        return CIR_EINVAL;
    }
    ret = cir_sqs_extend_visibility(s->aws, s->queue_url, h->receipt, extend_s,
                                    within_ms, abort);
    if (ret < 0 && ret != CIR_ECANCELED) {
        cir_log_ctx_t ctx = {.component = "intake-sqs", .job = job->id};
        cir_log_warn(&ctx, "heartbeat (ChangeMessageVisibility): %s",
                     cir_aws_last_error());
    }
    return ret;
}

static void
drop_handle(cir_vod_job_t *job)
{
    free(job->handle);
    job->handle = NULL;
}

static int
sqs_ack(cir_intake_t *src, cir_vod_job_t *job)
{
    sqs_intake_t *s = (sqs_intake_t *)src;
    sqs_handle_t *h = job->handle;
    int ret;

    if (h == NULL) {
        return CIR_EINVAL;
    }
    ret = cir_sqs_delete(s->aws, s->queue_url, h->receipt);
    if (ret < 0) {
        /* the message comes back; the pool finds the asset complete */
        cir_log_ctx_t ctx = {.component = "intake-sqs", .job = job->id};
        cir_log_error(&ctx, "DeleteMessage: %s", cir_aws_last_error());
    }
    drop_handle(job);
    return ret;
}

static int
sqs_fail(cir_intake_t *src, cir_vod_job_t *job, const char *error_json,
         int permanent)
{
    sqs_intake_t *s = (sqs_intake_t *)src;
    sqs_handle_t *h = job->handle;
    cir_log_ctx_t ctx = {.component = "intake-sqs", .job = job->id};
    int ret;

    if (h == NULL) {
        return CIR_EINVAL;
    }
    if (permanent && s->max_receive > 0) {
        /* parked, not lost: visible again at once, so the queue's redrive
         * policy moves it to the dead-letter queue within maxReceiveCount
         * quick receives */
        cir_log_error(&ctx,
                      "permanent failure (receive %d of %d before the "
                      "dead-letter queue): %s",
                      job->attempt, s->max_receive,
                      error_json ? error_json : "{}");
        ret = cir_sqs_change_visibility(s->aws, s->queue_url, h->receipt, 0);
    } else if (permanent) {
        cir_log_error(&ctx,
                      "permanent failure, message deleted (the queue has no "
                      "dead-letter queue): %s",
                      error_json ? error_json : "{}");
        ret = cir_sqs_delete(s->aws, s->queue_url, h->receipt);
    } else {
        int backoff = 1 << (job->attempt < 10 ? job->attempt : 10);
        if (backoff > s->visibility_s) {
            backoff = s->visibility_s;
        }
        cir_log_warn(&ctx, "attempt %d failed%s: %s", job->attempt,
                     job->attempt >= s->max_attempts
                         ? " (last: the redrive policy dead-letters it)"
                         : "",
                     error_json ? error_json : "{}");
        ret = cir_sqs_change_visibility(s->aws, s->queue_url, h->receipt,
                                        backoff);
    }
    if (ret < 0) {
        cir_log_warn(&ctx, "%s", cir_aws_last_error());
    }
    drop_handle(job);
    return ret;
}

static int
sqs_release(cir_intake_t *src, cir_vod_job_t *job)
{
    sqs_intake_t *s = (sqs_intake_t *)src;
    sqs_handle_t *h = job->handle;
    int ret;

    if (h == NULL) {
        return CIR_EINVAL;
    }
    ret = cir_sqs_change_visibility(s->aws, s->queue_url, h->receipt, 0);
    drop_handle(job);
    return ret;
}

static void
sqs_abandon(cir_intake_t *src, cir_vod_job_t *job)
{
    (void)src;
    drop_handle(job);
}

static void
sqs_close(cir_intake_t *src)
{
    sqs_intake_t *s = (sqs_intake_t *)src;

    if (s == NULL) {
        return;
    }
    cir_aws_close(&s->aws);
    free(s);
}

static const cir_intake_ops_t sqs_ops = {
    .next = sqs_next,
    .heartbeat = sqs_heartbeat,
    .ack = sqs_ack,
    .fail = sqs_fail,
    .release = sqs_release,
    .abandon = sqs_abandon,
    .close = sqs_close,
};

int
cir_intake_sqs_set_timeouts(cir_intake_t *src, int connect_ms, int request_ms)
{
    return cir_aws_set_timeouts(((sqs_intake_t *)src)->aws, connect_ms,
                                request_ms);
}

cir_intake_t *
cir_intake_sqs_open(const char *queue_url, const char *out_root,
                    const char *presets_dir, const char *default_preset,
                    int visibility_s, int max_attempts, char *err,
                    size_t errsize)
{
    sqs_intake_t *s;

    if (queue_url == NULL || queue_url[0] == '\0' || out_root == NULL ||
        strlen(queue_url) >= sizeof(s->queue_url) ||
        strlen(out_root) >= CIR_JOB_URI_MAX || visibility_s < 1 ||
        visibility_s > 43200 || max_attempts < 1) {
        snprintf(err, errsize, "sqs intake: bad configuration");
        return NULL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    if (cir_aws_open(&s->aws, err, errsize) < 0) {
        free(s);
        return NULL;
    }
    s->base.ops = &sqs_ops;
    s->base.name = "sqs";
    snprintf(s->queue_url, sizeof(s->queue_url), "%s", queue_url);
    snprintf(s->out_root, sizeof(s->out_root), "%s", out_root);
    snprintf(s->presets_dir, sizeof(s->presets_dir), "%s",
             presets_dir ? presets_dir : "");
    snprintf(s->default_preset, sizeof(s->default_preset), "%s",
             default_preset ? default_preset : "");
    s->visibility_s = visibility_s;
    s->max_attempts = max_attempts;
    s->max_receive = cir_sqs_max_receive_count(s->aws, s->queue_url);
    if (s->max_receive < 0) {
        snprintf(err, errsize, "GetQueueAttributes %s: %s", queue_url,
                 cir_aws_last_error());
        cir_aws_close(&s->aws);
        free(s);
        return NULL;
    }
    if (s->max_receive == 0) {
        cir_log_warn(&log_ctx,
                     "%s has no RedrivePolicy: failing jobs are retried "
                     "until they succeed or expire",
                     queue_url);
    }
    return &s->base;
}
