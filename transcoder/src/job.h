/*
 * One VOD job's context, built once by cir_transcode_run() and passed down:
 * the preset checked against the codec rules, the input and output URIs
 * parsed, the version picked, the output's two stores opened (the version's
 * and the asset's top level), the version the asset named before, and the
 * input opened once for the still-image probe and the run that follows.
 */
#ifndef CIR_JOB_H
#define CIR_JOB_H

#include <stdint.h>

#include <libavformat/avformat.h>

#include "cir_log.h"
#include "cir_storage.h"
#include "cir_transcode.h"

typedef struct {
    const cir_job_t *job;
    const cir_preset_t *preset; /* checked against the codec rules */
    unsigned only;              /* CIR_ONLY_* bits, never 0 */
    cir_result_t *result;
    cir_log_ctx_t log;
    int64_t start_us;

    cir_uri_t in, out;
    const char *input; /* what the opener takes: a local path or s3:// */

    cir_store_t *store; /* the version being written: <output>/v/<id>/ */
    cir_store_t *top;   /* <output>: the top-level manifests only */
    char version_base[CIR_VERSION_ID_MAX + 8]; /* "v/<id>/" */
    /* the version the top-level manifests named when the job started */
    char previous[CIR_VERSION_ID_MAX];
    int previous_known;

    /* the input, its header read (cir_job_open_input) */
    AVFormatContext *ic;
} cir_job_ctx_t;

/* Records the job's first error in its result and the log; returns err. */
int cir_job_fail(cir_job_ctx_t *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Builds the context: clears result, checks the preset, parses the URIs,
 * picks the version, opens the stores (the version's with the job's cancel
 * flag) and reads the version the asset names.  On failure the result
 * says why; call cir_job_close() either way. */
int cir_job_open(cir_job_ctx_t *c, const cir_job_t *job, cir_result_t *result);

/* Opens the input (header only) into c->ic, locked down (input.h), with
 * bounded probing; a still image's name is never an image2 pattern.
 * Returns 0, or the cir_input_open() error with why filled (nothing is
 * recorded in the result). */
int cir_job_open_input(cir_job_ctx_t *c, char *why, size_t why_len);

/* The same into *ic: a second reader of the input (the loudness pass),
 * closed by the caller with cir_input_close(). */
int cir_job_open_input_into(cir_job_ctx_t *c, AVFormatContext **ic, char *why,
                            size_t why_len);

/* Closes c->ic (and its S3 AVIOContext). */
void cir_job_close_input(cir_job_ctx_t *c);

/* After a publish: the version it replaced is marked superseded (and
 * versions left over by earlier publishes); never fails the job. */
void cir_job_mark_superseded(cir_job_ctx_t *c);

/* After a failure: removes every object the job wrote under its version,
 * unless a top-level manifest of the asset names that version already
 * (then it is served and stays); logged. */
void cir_job_discard_unpublished(cir_job_ctx_t *c);
void cir_job_close(cir_job_ctx_t *c);

#endif
