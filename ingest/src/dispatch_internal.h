/*
 * Shared by dispatch.c (claims, leases, ack/fail/release) and
 * dispatch_report.c (counters, metrics text, result JSON).
 */
#ifndef CIR_DISPATCH_INTERNAL_H
#define CIR_DISPATCH_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "cir_dispatch.h"
#include "cir_job_store.h"
#include "cir_log.h"

#define DISPATCH_NB_BUCKETS 7

typedef struct {
    pthread_mutex_t lock;
    cir_dispatch_counts_t c;
    uint64_t wait_count, wait_bucket[DISPATCH_NB_BUCKETS];
    double wait_sum;
    double media_seconds, wall_seconds, last_speed;
    uint64_t superseded_objects, supersede_failures;
} dispatch_metrics_t;

typedef struct {
    cir_vod_job_t job;
    cir_dispatch_t *w;
    int64_t claimed_wall_us, claimed_mono_us, last_status_us;
    char result_path[4200];
    char reported_state[16]; /* the last state written; "" before any */
    cir_log_ctx_t log;
    /* the lease thread's; lost and lost_us are read by the dispatcher */
    cir_lease_t lease;
    pthread_t lease_thread;
    int lease_started;
    pthread_mutex_t lease_lock;
    pthread_cond_t lease_cond; /* on CLOCK_MONOTONIC */
    atomic_int lease_stop;     /* the dispatcher is done with the job */
    atomic_int lost;           /* 0, or the cir_lease_state_t that lost it */
    _Atomic int64_t lost_us;   /* monotonic */
    atomic_int cancel_asked;   /* cir_dispatch_cancel (the job API) */
    /* the job store's record read at claim (NULL: none) and what was
     * last written there */
    json_t *store_base;
    int attempt_base;
    int64_t stored_us;
    char stored_state[16];
} inflight_t;

struct cir_dispatch {
    cir_dispatch_config_t cfg;
    char presets_dir[1024], status_dir[1024], key_dir[1024];
    char upload_dir[1024];
    cir_job_store_t *store;  /* jobs_uri's; NULL: none */
    int64_t upload_swept_us; /* monotonic, the last age sweep */
    cir_intake_t *src;
    cir_pool_t *pool;
    dispatch_metrics_t m;
    inflight_t **jobs;
    int max_jobs, njobs;
    /* jobs[] changes under it: cir_dispatch_cancel looks from other threads */
    pthread_mutex_t jobs_lock;
    /* for the probes (cir_dispatch_health) */
    atomic_int running, stopping, intake_failures;
    _Atomic int64_t loop_us; /* monotonic, of the last turn; 0: none */
    pthread_mutex_t health_lock;
    char intake_error[96];
};

int64_t dispatch_mono_us(void);

void dispatch_metrics_wait(dispatch_metrics_t *m, double s);
void dispatch_metrics_end(dispatch_metrics_t *m, cir_dispatch_outcome_t o,
                          double media, double wall);
void dispatch_metrics_supersede(dispatch_metrics_t *m, const cir_result_t *r);
void dispatch_metrics_intake_error(dispatch_metrics_t *m);

/* Where f's result JSON goes (f->result_path, "" for none). */
void dispatch_result_path(const cir_dispatch_t *w, inflight_t *f);
/* Writes f's result JSON; d is the pool's record once it handed f back. */
void dispatch_write_result(inflight_t *f, const char *state, double percent,
                           const cir_pool_done_t *d, const char *error);
/* {"error", "code", "exit_code"} as compact JSON text (free()), or NULL. */
char *dispatch_error_json(const char *msg, int ret);

#endif
