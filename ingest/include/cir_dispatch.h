/*
 * The VOD dispatcher: between an intake (cir_intake.h: the spool folder, an
 * SQS queue) and the transcoder's worker pool (cir_pool.h).  One thread
 * (the caller of cir_dispatch_run) owns the intake: it claims jobs while a
 * worker is free, and acks, fails or releases each when the pool hands it
 * back.
 *
 * A claimed job is, in this order: parked when the intake could not read it
 * (job.reject), acknowledged without work when its upload is published
 * already (<output>/.published/<tag>.json), parked when its preset does not
 * load, else submitted to the pool.  When the pool hands it back: done ->
 * published marker, then ack; cancelled by shutdown -> release; failed ->
 * fail(), permanent for bad input or preset (exit codes 2, 3), else
 * transient, which the intake retries up to max_attempts.  When the intake
 * refuses a call (ack, fail, release) the refusal is logged with the job,
 * counted (intake_errors), and the job is reported as what it is then: a
 * failure the intake did not record is "retrying" (the claim runs out and
 * the job comes back), never "failed".
 *
 * Leases: each claimed job has its own lease thread, which extends the
 * claim (SQS visibility) a third of the window after the last confirmed
 * extension, every attempt bounded in time and never past the lease's
 * fence (cir_lease.h).  One job's heartbeat therefore never waits on
 * another job's call, nor on the dispatcher's long polls, acks or S3
 * checks.  When a lease is lost (the service says the claim is gone, or no
 * extension was confirmed by the fence) the lease thread cancels the job at
 * once: the pool stops it, its output store refuses every write, and the
 * dispatcher abandons the message without acking, failing or releasing it,
 * since another worker may hold it now.
 *
 * Results: each job's state is written as JSON (status_dir/<id>.json, else
 * <output>.job.json beside a file:// output): id, state (running, done,
 * retrying, failed, released, lost, cancelled), attempt, input, output, preset,
 * percent, enqueued_at, claimed_at, queue_wait, error, and once the pool
 * handed it back finished_at, elapsed, duration, speed, exit_code, version,
 * outputs[] and image.  Each change of state (not each progress update of
 * a running job) also goes to the notifier (cir_notify.h) when one is
 * configured, with the state reported before it for this claim.
 */
#ifndef CIR_DISPATCH_H
#define CIR_DISPATCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "cir_buf.h"
#include "cir_intake.h"
#include "cir_lease.h"
#include "cir_notify.h"
#include "cir_pool.h"

typedef struct {
    const char *presets_dir; /* copied */
    const char *status_dir;  /* copied; "" or NULL: beside file:// outputs */
    /* copied; a job's "encryption" key_file is a name under it; "" or
     * NULL: encrypted jobs are refused */
    const char *key_dir;
    int workers;      /* the pool's */
    int queue_max;    /* jobs claimed ahead of a free worker */
    int max_attempts; /* a transient failure is retried below this */
    int extend_s;     /* each heartbeat extends the claim this long */
    cir_lease_config_t lease;
    int64_t drain_us;     /* on stop, running jobs may finish this long */
    cir_notify_t *notify; /* borrowed: each state change queued there (and
                             its counters in /metrics); NULL: none */
    /* copied; the console's upload folder (cir_uploads.h): a job's input
     * in it is removed once the job ends for good, and files older than
     * upload_max_age_s (> 0) are; "" or NULL: none */
    const char *upload_dir;
    double upload_max_age_s;
    /* copied; the shared job store (cir_job_store.h, intake=sqs): each
     * state change is written there, a cancel request found there stops
     * the job (looked for at claim and every few seconds while it runs);
     * "" or NULL: none */
    const char *jobs_uri;
    int64_t jobs_poll_us; /* how often a running job looks; 0: 2 s */
} cir_dispatch_config_t;

/* How claimed jobs ended. */
typedef enum {
    CIR_DISPATCH_DONE,
    CIR_DISPATCH_SKIPPED, /* published already: acknowledged */
    CIR_DISPATCH_RETRIED,
    CIR_DISPATCH_FAILED,
    CIR_DISPATCH_RELEASED,
    CIR_DISPATCH_LOST,
    CIR_DISPATCH_CANCELLED, /* by cir_dispatch_cancel */
    CIR_DISPATCH_NB_OUTCOMES
} cir_dispatch_outcome_t;

typedef struct {
    uint64_t jobs[CIR_DISPATCH_NB_OUTCOMES];
    uint64_t claimed;
    uint64_t intake_errors; /* ack, fail or release calls refused */
} cir_dispatch_counts_t;

typedef struct cir_dispatch cir_dispatch_t;

/* The dispatcher borrows src and pool: both outlive it. */
int cir_dispatch_new(cir_dispatch_t **d, const cir_dispatch_config_t *cfg,
                     cir_intake_t *src, cir_pool_t *pool);

/* Claims and dispatches until *stop is set, then stops claiming, lets
 * running jobs finish for drain_us, cancels and releases the rest and
 * returns: 0, or CIR_ENOMEM. */
int cir_dispatch_run(cir_dispatch_t *d, const atomic_int *stop);

/* Cancels the job with this id if it runs here (any thread): 1 when it was
 * found (the pool stops it, its unfinished outputs are removed, the intake's
 * cancel() takes it, its state becomes "cancelled"; a job that finishes
 * first stays done), 0 when no job here has that id. */
int cir_dispatch_cancel(cir_dispatch_t *d, const char *id);

/* Any thread. */
void cir_dispatch_counts(cir_dispatch_t *d, cir_dispatch_counts_t *out);
const char *cir_dispatch_outcome_name(cir_dispatch_outcome_t o);

/* Prometheus text (cirrus_worker_*) and the running jobs as a JSON array
 * ([{id, percent, speed, eta, elapsed}]); any thread.  0 or CIR_ELIMIT. */
int cir_dispatch_render_metrics(cir_dispatch_t *d, cir_buf_t *b);
int cir_dispatch_render_jobs(cir_dispatch_t *d, cir_buf_t *b);

/* What the probes (/healthz, /readyz) are told; any thread. */
typedef struct {
    int running;           /* cir_dispatch_run is claiming */
    int stopping;          /* draining: no more claims */
    int64_t loop_age_us;   /* since the loop's last turn (-1: never) */
    int intake_failures;   /* the intake's calls failed in a row */
    char intake_error[96]; /* the last one's message */
} cir_dispatch_health_t;

void cir_dispatch_health(cir_dispatch_t *d, cir_dispatch_health_t *out);

void cir_dispatch_free(cir_dispatch_t **d);

#endif
