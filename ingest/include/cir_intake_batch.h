/*
 * The intake's AWS Batch dispatch: instead of transcoding on this host, each
 * job that arrives on the SQS queue (an S3 event, an EventBridge event or a
 * job document, parsed by cir_intake_parse_job) is handed to AWS Batch with
 * SubmitJob, its input, output and preset as the parameters "input",
 * "output" and "preset" (the job definition's Ref::input, Ref::output and
 * Ref::preset placeholders), and the upload's identity as "publish_tag"
 * (cir_intake_publish_tag; Ref::publish_tag, cirrus-transcode
 * --publish-tag: a retried attempt finds the publication marker and
 * publishes no second version).  The message is deleted only once Batch
 * holds the job.
 *
 * Idempotent per S3 object version: the Batch job name is
 * "cirrus-" + hex SHA-256 of the object's identity (bucket, key and
 * versionId; without versioning the event's sequencer, else its ETag; for a
 * job document its input and id) with the output and preset, so the same
 * upload always maps to the same name.  Before submitting, ListJobs (a
 * JOB_NAME filter on the queue, every status) tells whether Batch already has
 * that job; then the message is only deleted.  What this cannot close: two
 * intakes handling two deliveries of the same event at the same instant can
 * both find no job and both submit (Batch does not enforce unique names),
 * and Batch lists finished jobs only for a limited time (about a week), so
 * a duplicate delivered later than that is submitted again.  A job that
 * exists but FAILED is not resubmitted: Batch's retryStrategy owns retries.
 *
 * The logic here is pure: the calls to Batch and to the queue go through
 * cir_intake_batch_ops_t, implemented over common/aws by
 * cir_intake_batch_run_sqs() (intake_batch_sqs.c, linked where cirrus_aws
 * is).
 */
#ifndef CIR_INTAKE_BATCH_H
#define CIR_INTAKE_BATCH_H

#include <stdatomic.h>
#include <stddef.h>

#include "cir_intake.h"

/* Batch: up to 128 characters, [A-Za-z0-9_-], the first alphanumeric. */
#define CIR_BATCH_NAME_MAX    128
#define CIR_BATCH_NAME_PREFIX "cirrus-"

typedef enum {
    CIR_BATCH_SUBMITTED, /* SubmitJob succeeded: message deleted */
    CIR_BATCH_DUPLICATE, /* Batch has that job already: message deleted */
    CIR_BATCH_NOT_A_JOB, /* s3:TestEvent or an event that creates no
                            object: message deleted */
    CIR_BATCH_RETRY,     /* Batch or the network failed transiently (after
                            the client's own retries): message left in the
                            queue, it comes back after its visibility */
    CIR_BATCH_REJECTED,  /* Batch refused it (4xx), or the job cannot run
                            (a key that cannot name an output, a body
                            that is no job): message left (the redrive
                            policy parks it), error logged */
} cir_batch_outcome_t;

typedef struct {
    const char *job_queue;      /* name or ARN */
    const char *job_definition; /* name[:revision] or ARN */
    const char *out_root;       /* as for the local intake */
    const char *presets_dir;
    const char *default_preset;
    int connect_timeout_ms; /* of every AWS call; 0: the client's default */
    int request_timeout_ms; /* the same */
} cir_intake_batch_config_t;

typedef struct {
    void *opaque;
    /* ListJobs for the name on the queue: 1 (job id and status stored), 0
     * if none, < 0 a cir error */
    int (*find)(void *opaque, const char *job_queue, const char *job_name,
                char *job_id, size_t idsize, char *status, size_t ssize);
    /* SubmitJob: 0 and the job id, or a cir error (CIR_ETRANSIENT after
     * retries on throttling/5xx; CIR_EINVAL, CIR_EAUTH... for a 4xx) */
    int (*submit)(void *opaque, const cir_intake_batch_config_t *cfg,
                  const char *job_name, const cir_vod_job_t *job, char *job_id,
                  size_t idsize);
    /* deletes the message being handled */
    int (*ack)(void *opaque, void *msg);
    /* the last error's text, for logs */
    const char *(*last_error)(void *opaque);
} cir_intake_batch_ops_t;

typedef struct {
    cir_batch_outcome_t outcome;
    int error; /* the cir error behind RETRY/REJECTED/NOT_A_JOB */
    char job_name[CIR_BATCH_NAME_MAX + 1];
    char job_id[128];
    char identity[CIR_JOB_URI_MAX + 1200]; /* what the name hashes */
    char message[512];                     /* for the log */
    cir_vod_job_t job;
} cir_batch_result_t;

/* The object identity and the job name of a message already parsed into
 * job.  0, or a cir error (the body is not one of the known shapes). */
int cir_intake_batch_job_name(const char *text, size_t len,
                              const cir_vod_job_t *job, char *identity,
                              size_t idsize, char name[CIR_BATCH_NAME_MAX + 1]);

/* A job's own options as cirrus-transcode reads them from its environment
 * (CIRRUS_TRANSCODE_<NAME>, JSON like the job document's): what SubmitJob
 * passes as containerOverrides.environment, the job definition's command
 * untouched.  Only the options the job has. */
#define CIR_BATCH_ENV_MAX 6
typedef struct {
    size_t n;
    const char *name[CIR_BATCH_ENV_MAX]; /* "CIRRUS_TRANSCODE_CLIP", ... */
    char *value[CIR_BATCH_ENV_MAX];      /* owned */
} cir_batch_env_t;

/* Fills *env from job (only, audio_tracks, an inline preset, rungs, clip,
 * overlay): 0, or CIR_ENOMEM (env empty).  cir_batch_env_free after. */
int cir_intake_batch_env(const cir_vod_job_t *job, cir_batch_env_t *env);
void cir_batch_env_free(cir_batch_env_t *env);

/* Is name acceptable to Batch as a jobName? */
int cir_batch_name_is_valid(const char *name);

/* Handles one message: parse, name, ListJobs, SubmitJob, ack — in that
 * order, each only if the one before allows.  Returns the outcome (also in
 * res->outcome); the ack's own failure is logged and leaves the outcome (the
 * message comes back and is then found as a duplicate). */
cir_batch_outcome_t
cir_intake_batch_handle(const cir_intake_batch_config_t *cfg,
                        const cir_intake_batch_ops_t *ops, const char *body,
                        size_t len, void *msg, cir_batch_result_t *res);

/* Whether an outcome deletes the message. */
int cir_batch_outcome_acks(cir_batch_outcome_t o);

/* The dispatcher over SQS and Batch (intake_batch_sqs.c): long-polls
 * queue_url (visibility_s per delivery) and handles each message until
 * *stop.  Clients from the environment, the Batch region and endpoint
 * overridden when non-empty.  0 on a requested stop, < 0 if it cannot
 * start. */
int cir_intake_batch_run_sqs(const cir_intake_batch_config_t *cfg,
                             const char *queue_url, int visibility_s,
                             const char *batch_region,
                             const char *batch_endpoint, atomic_int *stop,
                             char *err, size_t errsize);

#endif
