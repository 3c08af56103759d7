/*
 * The local spool folder: the embedded default intake of cirrus-worker.
 *
 *   DIR/incoming/  drop a job .json or a media file here (write it
 *                  elsewhere and rename it in, or just copy it: a file is
 *                  taken once its mtime is settle_seconds old)
 *   DIR/claimed/   NAME (the item, moved by an atomic rename) and
 *                  NAME.claim (JSON: attempt, started, heartbeat, pid)
 *   DIR/failed/    NAME and NAME.error.json after max_attempts or a
 *                  permanent error
 *   DIR/done/      NAME and NAME.claim after success (keep_done)
 *   DIR/cancelled/ NAME cancelled by an operator (the job API)
 *
 * A media file becomes a job with the default preset and the output
 * out_root/<name without extension>.  A claim whose heartbeat is older than
 * stale_seconds (its worker died) goes back to incoming/.  A retried item
 * keeps its attempt count in incoming/.NAME.claim (hidden names are never
 * taken) and waits a backoff of 2^attempt seconds (at most 60).
 */
#ifndef CIR_INTAKE_SPOOL_H
#define CIR_INTAKE_SPOOL_H

#include <stddef.h>

#include "cir_clock.h"
#include "cir_intake.h"

typedef struct {
    const char *dir;            /* the spool folder (created if missing) */
    const char *out_root;       /* output root URI for media files */
    const char *presets_dir;    /* for S3-shaped jobs naming a preset */
    const char *default_preset; /* for media files and jobs without one */
    int max_attempts;           /* >= 1 */
    double stale_seconds;       /* a claim without heartbeat this long */
    double settle_seconds;      /* an incoming file unchanged this long */
    double retry_backoff_max;   /* seconds; 0: no backoff */
    int keep_done;              /* move finished items to done/ */
    size_t max_job_bytes;       /* largest job .json */
    const cir_clock_t *clock;   /* NULL: the system clock */
} cir_intake_spool_config_t;

void cir_intake_spool_defaults(cir_intake_spool_config_t *cfg);

/* Creates the folders and a source; the config strings are copied. */
int cir_intake_spool_open(cir_intake_t **src,
                          const cir_intake_spool_config_t *cfg, char *err,
                          size_t errsize);

/* Returns stale claims to incoming/ now (next() does it once a second). */
int cir_intake_spool_recover(cir_intake_t *src);

#endif
