/*
 * The VOD worker pool: N threads, each running cir_transcode_run() for one
 * job at a time.  Jobs are pushed with cir_pool_submit() into a bounded
 * queue; results come back through cir_pool_next_done() so the caller (a
 * dispatcher that owns the intake) acks or fails them on its own thread.
 * The pool knows nothing of where jobs come from.
 *
 * Thread safety: every function may be called from any thread, except
 * cir_pool_free().
 */
#ifndef CIR_POOL_H
#define CIR_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "cir_preset.h"
#include "cir_transcode.h"

#define CIR_POOL_MAX_WORKERS 256

typedef struct cir_pool cir_pool_t;

typedef struct {
    int workers;   /* 1..CIR_POOL_MAX_WORKERS */
    int queue_max; /* jobs waiting for a worker, >= 0 */
} cir_pool_config_t;

typedef struct {
    const char *id;             /* copied; also the log context */
    const char *input;          /* copied */
    const char *output;         /* copied */
    const cir_preset_t *preset; /* copied */
    unsigned only;
    const cir_audio_tracks_t *audio_tracks; /* copied; NULL: every track */
    /* the job's "subtitles" as JSON text (cir_subtitle_spec.h), parsed
     * at submit; NULL or "": none */
    const char *subtitles;
    /* copied (and cleared when the task ends); NULL: clear */
    const cir_encryption_t *encryption;
    /* the source range to transcode (cir_job_t's clip) */
    int clip;
    double clip_start, clip_end;
    const cir_overlay_t *overlay; /* copied; NULL: none */
    void *user;                   /* handed back in the done record */
} cir_pool_task_t;

typedef struct {
    void *user;
    char id[128];
    int ret; /* cir_transcode_run's, or CIR_ECANCELED if never started */
    cir_result_t result;
    int64_t queued_us, started_us, finished_us; /* monotonic; started 0 if
                                                   it never ran */
} cir_pool_done_t;

typedef struct {
    int busy;
    char id[128];
    void *user;
    cir_progress_t progress;
    int64_t started_us; /* monotonic */
} cir_pool_slot_t;

int cir_pool_new(cir_pool_t **pool, const cir_pool_config_t *cfg);

/* Queues a job: 0, CIR_ELIMIT when the queue is full, CIR_ECANCELED after
 * cir_pool_shutdown(). */
int cir_pool_submit(cir_pool_t *pool, const cir_pool_task_t *task);

/* Workers free with nothing queued for them. */
int cir_pool_free_workers(cir_pool_t *pool);

/* Waits up to wait_ms for a finished job: 1 and *done, or 0. */
int cir_pool_next_done(cir_pool_t *pool, cir_pool_done_t *done, int wait_ms);

/* Stops taking jobs from the queue; cancel_running also cancels running
 * ones.  Queued jobs come back as done with CIR_ECANCELED. */
void cir_pool_shutdown(cir_pool_t *pool, int cancel_running);

/* Cancels one job, found by its user pointer: a running one is told to
 * stop (its writes are fenced, see cir_store_set_cancel) and comes back as
 * done when it has; a queued one comes back as done with CIR_ECANCELED.
 * 1 if the job was found, 0 if not (finished already). */
int cir_pool_cancel(cir_pool_t *pool, const void *user);

/* Copies up to max worker slots; returns the number of workers. */
size_t cir_pool_snapshot(cir_pool_t *pool, cir_pool_slot_t *slots, size_t max);

/* Cancels everything, joins the threads, frees undelivered done records. */
void cir_pool_free(cir_pool_t **pool);

#endif
