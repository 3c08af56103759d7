/*
 * The shared job store of intake=sqs (jobs_s3_uri): one JSON record per
 * job that every worker and the job API see, so GET /jobs, cancel and
 * retry work when several workers take jobs from one queue.
 *
 *   <root>/jobs/<id>.json   the record: the job API's view of the job
 *                           {id, state, attempt, job, result, error,
 *                           progress} (docs/api.md), result being the
 *                           dispatcher's state JSON (status_dir/<id>.json)
 *   <root>/cancel/<id>      a cancel request (the API's); the worker that
 *                           holds or later receives the job stops it
 *   <root>/keys/<sha256>.json  an idempotency key of POST /jobs: {id,
 *                           body_sha256, created}, created only when absent
 *                           (a conditional write), so the API of every
 *                           worker answers a key with the same job
 *
 * The API writes the record at submit (queued) and retry; the worker that
 * runs the job writes it at each state change.  root is an s3:// prefix
 * (file:// works for one host).  Every call opens its own store handle, so
 * any thread may call.  Tested by tests/unit/test_worker_job_store.c and
 * end to end by tests/integration/job_api.test.mjs (intake=sqs).
 */
#ifndef CIR_JOB_STORE_H
#define CIR_JOB_STORE_H

#include <stddef.h>

#include <jansson.h>

typedef struct cir_job_store cir_job_store_t;

#define CIR_JOB_STORE_RECORD_MAX (512 * 1024)

/* uri: s3://bucket/prefix or file:///folder.  0, or CIR_EINVAL with err. */
int cir_job_store_open(cir_job_store_t **js, const char *uri, char *err,
                       size_t errsize);
void cir_job_store_close(cir_job_store_t **js);
const char *cir_job_store_uri(const cir_job_store_t *js);

/* The record of id: 0 and *rec (json_decref it), CIR_ENOTFOUND, or < 0. */
int cir_job_store_get(cir_job_store_t *js, const char *id, json_t **rec);
int cir_job_store_put(cir_job_store_t *js, const char *id, const json_t *rec);
int cir_job_store_remove(cir_job_store_t *js, const char *id);

/* Cancel requests: mark writes one, asked says 1 (there is one), 0, or
 * < 0 (the store did not answer), clear removes it (0 when there was none). */
int cir_job_store_cancel_mark(cir_job_store_t *js, const char *id);
int cir_job_store_cancel_asked(cir_job_store_t *js, const char *id);
int cir_job_store_cancel_clear(cir_job_store_t *js, const char *id);

/* Idempotency keys, name being the key's SHA-256 in hex.  get: 0 and *rec
 * (json_decref it), CIR_ENOTFOUND, or < 0.  claim: writes rec unless the
 * key exists: 0, -EEXIST (another request has it: get it), or < 0; of
 * workers racing on one key exactly one gets 0.  remove: 0 when gone. */
#define CIR_JOB_STORE_KEY_MAX (4 * 1024)
int cir_job_store_key_get(cir_job_store_t *js, const char *name, json_t **rec);
int cir_job_store_key_claim(cir_job_store_t *js, const char *name,
                            const json_t *rec);
int cir_job_store_key_remove(cir_job_store_t *js, const char *name);

/* The ids of the records after cursor ("" for all), in the order of their
 * object names (cir_job_store_id_cmp; ids the job API makes sort by
 * creation), at most max (CIR_JOB_STORE_ID_LEN bytes each) into ids: 0 and
 * *n, *more set when there were more; or < 0. */
#define CIR_JOB_STORE_ID_LEN 128
int cir_job_store_list(cir_job_store_t *js, const char *cursor,
                       char (*ids)[CIR_JOB_STORE_ID_LEN], size_t max, size_t *n,
                       int *more);

/* Calls fn with each id after cursor in the same order until fn returns
 * nonzero or the ids end: 0, or < 0.  On S3 the listing is read a page at a
 * time (ListObjectsV2 from start-after the cursor's record, then its
 * continuation tokens; CIRRUS_AWS_S3_LIST_MAX_KEYS keys a page, 1000 by
 * default), so a caller that stops early lists no further. */
int cir_job_store_scan(cir_job_store_t *js, const char *cursor,
                       int (*fn)(void *opaque, const char *id), void *opaque);

/* The order of ids in a listing: that of "<id>.json" (S3's byte order of
 * the record names). */
int cir_job_store_id_cmp(const char *x, const char *y);

/* The API's state of a dispatcher state: running, done, failed, cancelled;
 * one that comes back from the queue (retrying, released, lost) is
 * queued. */
const char *cir_job_store_state(const char *dispatch_state);

/*
 * The record after a state change: base (the record read when the job was
 * claimed, or NULL) with state, attempt (attempt_base plus the queue's
 * receive count), result (the dispatcher's state JSON), error and progress
 * taken from result.  A new reference, or NULL.
 */
json_t *cir_job_store_record(const json_t *base, const json_t *result,
                             int attempt_base);

#endif
