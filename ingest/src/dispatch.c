/*
 * The VOD dispatcher (cir_dispatch.h): claims jobs from an intake into the
 * worker pool, keeps one lease thread per job, and acks, fails, releases or
 * abandons each job when the pool hands it back.  Counters and result JSON
 * are dispatch_report.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cir_clock.h"
#include "cir_encryption.h"
#include "cir_error.h"
#include "cir_preset.h"
#include "cir_preset_codecs.h"
#include "cir_published.h"
#include "cir_speke.h"
#include "cir_storage.h"
#include "cir_uploads.h"
#include "dispatch_internal.h"
#include "cir_job_preset.h"

/* ---- published marker --------------------------------------------------- */

/* Has this upload been published already (its marker, written after the
 * top-level manifests, exists)?  A re-upload of the same key has another
 * tag, so it publishes a new version. */
static int
outputs_complete(const cir_vod_job_t *job)
{
    char tag[CIR_PUBLISH_TAG_LEN + 1];
    cir_store_t *store = NULL;
    cir_uri_t u;
    int done;

    if (cir_intake_publish_tag(job, tag) < 0 ||
        cir_uri_parse(job->output, &u) < 0 || cir_store_open(&store, &u) < 0) {
        return 0;
    }
    done = cir_published_read(store, tag, NULL) == 1;
    cir_store_close(&store);
    return done;
}

/* Marks the upload published (after its top-level manifests). */
static void
mark_published(inflight_t *f, const cir_result_t *r)
{
    char tag[CIR_PUBLISH_TAG_LEN + 1];
    cir_published_t *m = calloc(1, sizeof(*m));
    cir_store_t *store = NULL;
    cir_uri_t u;
    int ret;

    if (m == NULL || cir_intake_publish_tag(&f->job, tag) < 0 ||
        cir_uri_parse(f->job.output, &u) < 0 ||
        cir_store_open(&store, &u) < 0) {
        cir_log_warn(&f->log, "cannot mark the upload published");
        free(m);
        return;
    }
    snprintf(m->input, sizeof(m->input), "%s", f->job.input);
    snprintf(m->source_version, sizeof(m->source_version), "%s",
             f->job.source_version);
    snprintf(m->version, sizeof(m->version), "%s", r->version);
    snprintf(m->preset, sizeof(m->preset), "%s", f->job.preset);
    if ((ret = cir_published_write(store, tag, m)) < 0) {
        /* a redelivery then publishes one more version: harmless */
        cir_log_warn(&f->log, "writing .published/%s.json: %s", tag,
                     cir_strerror(ret));
    }
    free(m);
    cir_store_close(&store);
}

/* ---- leases: one thread per job ----------------------------------------- */

static const char *
loss_reason(int state)
{
    return state == CIR_LEASE_REVOKED
               ? "revoked: the queue says the claim is no longer ours"
               : "expired: no extension was confirmed before its end";
}

/* Sleeps until at_us (monotonic) or until the dispatcher stops the lease. */
static void
lease_wait(inflight_t *f, int64_t at_us)
{
    struct timespec ts = {.tv_sec = at_us / 1000000,
                          .tv_nsec = (long)(at_us % 1000000) * 1000};

    pthread_mutex_lock(&f->lease_lock);
    while (!atomic_load(&f->lease_stop) && dispatch_mono_us() < at_us) {
        if (pthread_cond_timedwait(&f->lease_cond, &f->lease_lock, &ts) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&f->lease_lock);
}

/* The lease is lost: stop the job now.  The dispatcher sees f->lost and
 * neither acks nor fails nor releases the message. */
static void
lease_lose(inflight_t *f)
{
    atomic_store(&f->lost_us, dispatch_mono_us());
    atomic_store(&f->lost, (int)f->lease.state);
    cir_log_error(&f->log,
                  "lease lost (%s; %d extension(s), %d failed attempt(s)): "
                  "cancelling the job, the message is left to the queue",
                  loss_reason(f->lease.state), f->lease.extensions,
                  f->lease.failures);
    cir_pool_cancel(f->w->pool, f);
}

/* With a job store, every jobs_poll_us between heartbeats: a cancel
 * request there (another worker's job API) stops the job as
 * cir_dispatch_cancel does. */
static void
poll_cancel(inflight_t *f, int64_t *next_us)
{
    int64_t now = dispatch_mono_us();

    if (f->w->store == NULL || now < *next_us ||
        atomic_load(&f->cancel_asked)) {
        return;
    }
    *next_us = now + f->w->cfg.jobs_poll_us;
    if (cir_job_store_cancel_asked(f->w->store, f->job.id) == 1) {
        cir_log_warn(&f->log, "cancel requested in the job store: stopping");
        atomic_store(&f->cancel_asked, 1);
        /* not in the pool yet: start_job cancels it once it is */
        cir_pool_cancel(f->w->pool, f);
    }
}

static void *
lease_main(void *arg)
{
    inflight_t *f = arg;
    cir_dispatch_t *w = f->w;
    int extend_s = w->cfg.extend_s;
    int64_t poll_us = dispatch_mono_us() + w->cfg.jobs_poll_us;

    while (!atomic_load(&f->lease_stop)) {
        int64_t arg_us = 0, sent_us = dispatch_mono_us();
        int ret;

        switch (cir_lease_next(&f->lease, sent_us, &arg_us)) {
        case CIR_LEASE_WAIT:
            lease_wait(f,
                       w->store != NULL && poll_us < arg_us ? poll_us : arg_us);
            poll_cancel(f, &poll_us);
            break;
        case CIR_LEASE_EXTEND:
            ret = w->src->ops->heartbeat(w->src, &f->job, extend_s,
                                         (int)((arg_us + 999) / 1000),
                                         &f->lease_stop);
            if (atomic_load(&f->lease_stop)) {
                return NULL;
            }
            cir_lease_done(&f->lease, sent_us, dispatch_mono_us(), ret);
            if (ret == 0) {
                cir_log_debug(&f->log, "lease extended by %d s", extend_s);
            }
            break;
        case CIR_LEASE_STOP:
            lease_lose(f);
            return NULL;
        }
    }
    return NULL;
}

static int
lease_start(cir_dispatch_t *w, inflight_t *f, int64_t granted_us)
{
    pthread_condattr_t ca;

    f->w = w;
    pthread_mutex_init(&f->lease_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->lease_cond, &ca);
    pthread_condattr_destroy(&ca);
    cir_lease_init(&f->lease, &w->cfg.lease, granted_us);
    if (pthread_create(&f->lease_thread, NULL, lease_main, f) != 0) {
        return CIR_ENOMEM;
    }
    f->lease_started = 1;
    return 0;
}

/* Stops the lease thread (a heartbeat in flight is aborted): from here the
 * dispatcher alone speaks to the intake about this job. */
static void
lease_stop(inflight_t *f)
{
    if (!f->lease_started) {
        return;
    }
    pthread_mutex_lock(&f->lease_lock);
    atomic_store(&f->lease_stop, 1);
    pthread_cond_broadcast(&f->lease_cond);
    pthread_mutex_unlock(&f->lease_lock);
    pthread_join(f->lease_thread, NULL);
    f->lease_started = 0;
}

/* Stops the lease thread; nonzero if the lease was lost. */
static int
lease_settle(inflight_t *f)
{
    lease_stop(f);
    return atomic_load(&f->lost);
}

/* ---- the intake's calls, each checked ----------------------------------- */

static void
remove_job(cir_dispatch_t *w, inflight_t *f)
{
    lease_stop(f);
    pthread_mutex_destroy(&f->lease_lock);
    pthread_cond_destroy(&f->lease_cond);
    pthread_mutex_lock(&w->jobs_lock);
    for (int i = 0; i < w->njobs; i++) {
        if (w->jobs[i] == f) {
            w->jobs[i] = w->jobs[--w->njobs];
            break;
        }
    }
    pthread_mutex_unlock(&w->jobs_lock);
    json_decref(f->store_base);
    free(f);
}

/* A refused ack, fail or release: logged with the job, counted.  The claim
 * is left as it is, so the job comes back when it runs out. */
static int
intake_refused(cir_dispatch_t *w, inflight_t *f, const char *call, int ret)
{
    if (ret < 0) {
        cir_log_error(&f->log,
                      "intake %s: %s refused (%s): the job comes back when its "
                      "claim runs out",
                      w->src->name, call, cir_strerror(ret));
        dispatch_metrics_intake_error(&w->m);
    }
    return ret;
}

static int
intake_ack(cir_dispatch_t *w, inflight_t *f)
{
    return intake_refused(w, f, "ack", w->src->ops->ack(w->src, &f->job));
}

static int
intake_release(cir_dispatch_t *w, inflight_t *f)
{
    return intake_refused(w, f, "release",
                          w->src->ops->release(w->src, &f->job));
}

/* fail() with the error JSON: 0, or the intake's refusal. */
static int
intake_fail(cir_dispatch_t *w, inflight_t *f, const char *msg, int err,
            int permanent)
{
    char *ej = dispatch_error_json(msg, err);
    int ret =
        ej ? w->src->ops->fail(w->src, &f->job, ej, permanent) : CIR_ENOMEM;

    free(ej);
    return intake_refused(w, f, "fail", ret);
}

/* A job that cannot run (unreadable, bad preset): parked, never dropped. */
static void
park_job(cir_dispatch_t *w, inflight_t *f, const char *msg)
{
    if (intake_fail(w, f, msg, CIR_EINVAL, 1) < 0) {
        dispatch_write_result(f, "retrying", 0, NULL, msg);
        dispatch_metrics_end(&w->m, CIR_DISPATCH_RETRIED, 0, 0);
    } else {
        dispatch_write_result(f, "failed", 0, NULL, msg);
        dispatch_metrics_end(&w->m, CIR_DISPATCH_FAILED, 0, 0);
    }
    remove_job(w, f);
}

/* A job whose lease was lost: no ack, no fail, no release. */
static void
abandon_job(cir_dispatch_t *w, inflight_t *f, const cir_pool_done_t *d)
{
    int state = atomic_load(&f->lost);
    /* when the transcode returned (the pool's clock), else now */
    int64_t end_us =
        d != NULL && d->finished_us > 0 ? d->finished_us : dispatch_mono_us();
    double after_ms = (double)(end_us - atomic_load(&f->lost_us)) / 1e3;
    char msg[160];

    snprintf(msg, sizeof(msg), "lease lost (%s)",
             state == CIR_LEASE_REVOKED ? "revoked" : "expired");
    cir_log_warn(&f->log,
                 "lease lost: the job stopped %.0f ms after (%s); the message "
                 "is not acknowledged",
                 after_ms > 0 ? after_ms : 0,
                 d == NULL            ? "it had not started"
                 : d->ret == 0        ? "it had finished"
                 : d->started_us == 0 ? "it had not started"
                                      : cir_errname(d->ret));
    dispatch_write_result(f, "lost", 0, d, msg);
    dispatch_metrics_end(&w->m, CIR_DISPATCH_LOST, 0, 0);
    w->src->ops->abandon(w->src, &f->job);
    remove_job(w, f);
}

/* ---- claim to pool ------------------------------------------------------ */

/* A job's "encryption" naming a SPEKE key provider: the key and the DRM
 * systems' data asked for now (a bounded exchange, cir_speke.h). */
static int
resolve_speke(const json_t *spec, cir_encryption_t *enc, char *err,
              size_t errsize)
{
    int ret = cir_encryption_parse(spec, enc, err, errsize);

    if (ret == 0 && (ret = cir_speke_resolve(enc, err, errsize)) < 0) {
        cir_encryption_clear(enc);
    }
    return ret;
}

/* The job's "encryption" with its key file read from key_dir (the intake
 * checked the name), or its key from the key provider; err says why not,
 * never quoting the key. */
static int
resolve_encryption(const cir_dispatch_t *w, const cir_vod_job_t *job,
                   cir_encryption_t *enc, char *err, size_t errsize)
{
    char path[2048];
    json_t *v, *spec;
    int ret;

    memset(enc, 0, sizeof(*enc));
    if (job->encryption[0] == '\0') {
        return 0;
    }
    if ((spec = json_loads(job->encryption, 0, NULL)) == NULL) {
        snprintf(err, errsize, "encryption: unreadable");
        return CIR_EINTERNAL;
    }
    if (json_object_get(spec, "speke") != NULL) {
        ret = resolve_speke(spec, enc, err, errsize);
        json_decref(spec);
        return ret;
    }
    if (w->key_dir[0] == '\0') {
        json_decref(spec);
        snprintf(err, errsize,
                 "encryption: this worker has no key_dir (encrypted jobs "
                 "are refused)");
        return CIR_EINVAL;
    }
    snprintf(path, sizeof(path), "%s/%s", w->key_dir,
             json_string_value(json_object_get(spec, "key_file")));
    v = json_pack("{s:O, s:s}", "scheme", json_object_get(spec, "scheme"),
                  "key_file", path);
    for (size_t i = 0; v != NULL && i < 2; i++) {
        const char *pass[] = {"drm", "key_uri"};
        if (json_object_get(spec, pass[i]) != NULL) {
            json_object_set(v, pass[i], json_object_get(spec, pass[i]));
        }
    }
    ret = v ? cir_encryption_parse(v, enc, err, errsize) : CIR_ENOMEM;
    json_decref(v);
    json_decref(spec);
    return ret;
}

/* A job cancelled in the job store before it ran: taken off the queue,
 * never run. */
static void
cancel_unstarted(cir_dispatch_t *w, inflight_t *f)
{
    int ret;

    if (lease_settle(f)) {
        abandon_job(w, f, NULL);
        return;
    }
    ret = w->src->ops->cancel ? w->src->ops->cancel(w->src, &f->job)
                              : w->src->ops->ack(w->src, &f->job);
    intake_refused(w, f, "cancel", ret);
    cir_log_warn(&f->log, "cancelled on request before it ran");
    dispatch_write_result(f, "cancelled", 0, NULL, "cancelled on request");
    dispatch_metrics_end(&w->m, CIR_DISPATCH_CANCELLED, 0, 0);
    remove_job(w, f);
}

/* The job store's record of a claimed job: kept as the base of the ones
 * written at its changes of state. */
static void
read_store_record(cir_dispatch_t *w, inflight_t *f)
{
    json_t *rec = NULL, *base;
    int ret;

    if (w->store == NULL) {
        return;
    }
    ret = cir_job_store_get(w->store, f->job.id, &rec);
    if (ret < 0 && ret != CIR_ENOTFOUND) {
        cir_log_warn(&f->log, "job store %s: cannot read the record (%s)",
                     cir_job_store_uri(w->store), cir_strerror(ret));
    }
    if (rec == NULL) {
        return; /* a job not sent by the API: a record of its own */
    }
    base = json_object_get(rec, "attempt_base");
    f->attempt_base = json_is_integer(base) && json_integer_value(base) >= 0 &&
                              json_integer_value(base) < 1000000
                          ? (int)json_integer_value(base)
                          : 0;
    f->store_base = rec;
}

/* What the job store says of a claimed job before it runs: 1 when it was
 * settled here (cancelled; failed for good already), else 0. */
static int
settle_from_store(cir_dispatch_t *w, inflight_t *f)
{
    const char *state =
        json_string_value(json_object_get(f->store_base, "state"));

    if (w->store == NULL) {
        return 0;
    }
    if (cir_job_store_cancel_asked(w->store, f->job.id) == 1) {
        cancel_unstarted(w, f);
        return 1;
    }
    if (state == NULL || strcmp(state, "failed") != 0) {
        return 0;
    }
    /* failed for good, its message back on its way to the dead-letter
     * queue (a retry through the API queues the record first): not run
     * again, its record left as it is */
    snprintf(f->stored_state, sizeof(f->stored_state), "failed");
    f->stored_us = dispatch_mono_us();
    if (lease_settle(f)) {
        abandon_job(w, f, NULL);
    } else {
        park_job(w, f, "failed for good on an earlier receive");
    }
    return 1;
}

/* Checks before the pool: 1 when the job was settled here (parked, skipped,
 * abandoned), 0 when it should run with *preset and *enc. */
static int
settle_before_run(cir_dispatch_t *w, inflight_t *f, cir_preset_t *preset,
                  cir_encryption_t *enc)
{
    char err[400], msg[512];
    int ret;

    if (settle_from_store(w, f)) {
        return 1;
    }
    if (f->job.reject[0] != '\0') {
        /* the intake read it but it cannot run */
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
        } else {
            cir_log_error(&f->log, "cannot run: %s", f->job.reject);
            park_job(w, f, f->job.reject);
        }
        return 1;
    }
    if (outputs_complete(&f->job)) {
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
            return 1;
        }
        cir_log_info(&f->log, "outputs already complete: acknowledged");
        intake_ack(w, f);
        dispatch_write_result(f, "done", 100, NULL, NULL);
        dispatch_metrics_end(&w->m, CIR_DISPATCH_SKIPPED, 0, 0);
        remove_job(w, f);
        return 1;
    }
    ret = cir_job_preset_resolve(w->presets_dir, &f->job, preset, err,
                                 sizeof(err));
    if (ret < 0) {
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
        } else {
            snprintf(msg, sizeof(msg), "preset %s: %s", f->job.preset, err);
            cir_log_error(&f->log, "%s", msg);
            park_job(w, f, msg);
        }
        return 1;
    }
    if ((ret = resolve_encryption(w, &f->job, enc, err, sizeof(err))) < 0) {
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
        } else {
            cir_log_error(&f->log, "%s", err);
            park_job(w, f, err);
        }
        return 1;
    }
    return 0;
}

/* A job the pool cannot take now: released to the intake. */
static void
release_job(cir_dispatch_t *w, inflight_t *f, const char *why)
{
    cir_log_warn(&f->log, "%s: released", why);
    intake_release(w, f);
    dispatch_metrics_end(&w->m, CIR_DISPATCH_RELEASED, 0, 0);
    remove_job(w, f);
}

/* A claimed job (asked_us: when the claiming call was sent): done already,
 * a bad preset, or into the pool. */
static void
start_job(cir_dispatch_t *w, inflight_t *f, int64_t asked_us)
{
    cir_preset_t preset;
    cir_encryption_t enc;
    char why[128];
    int ret;

    f->log = (cir_log_ctx_t){.component = "worker", .job = f->job.id};
    f->claimed_wall_us = cir_clock_wall_us(cir_clock_system());
    f->claimed_mono_us = dispatch_mono_us();
    dispatch_result_path(w, f);
    read_store_record(w, f);
    dispatch_metrics_wait(
        &w->m, f->job.enqueued_us > 0
                   ? (double)(f->claimed_wall_us - f->job.enqueued_us) / 1e6
                   : 0);
    cir_log_info(&f->log, "claimed %s -> %s (preset %s, attempt %d)",
                 f->job.input, f->job.output, f->job.preset, f->job.attempt);
    if (lease_start(w, f, asked_us) < 0) {
        release_job(w, f, "no lease thread");
        return;
    }
    if (settle_before_run(w, f, &preset, &enc)) {
        return;
    }
    ret = cir_pool_submit(
        w->pool, &(cir_pool_task_t){.id = f->job.id,
                                    .input = f->job.input,
                                    .output = f->job.output,
                                    .preset = &preset,
                                    .only = f->job.only,
                                    .audio_tracks = &f->job.audio_tracks,
                                    .subtitles = f->job.subtitles,
                                    .encryption = &enc,
                                    .clip = f->job.clip,
                                    .overlay = &f->job.overlay,
                                    .clip_start = f->job.clip_start,
                                    .clip_end = f->job.clip_end,
                                    .user = f});
    cir_encryption_clear(&enc); /* the pool has its copy */
    if (ret < 0) {
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
            return;
        }
        snprintf(why, sizeof(why), "pool refused the job (%s)",
                 cir_strerror(ret));
        release_job(w, f, why);
        return;
    }
    if (atomic_load(&f->lost) || atomic_load(&f->cancel_asked)) {
        /* lost, or cancelled, before it was in the pool */
        cir_pool_cancel(w->pool, f);
    }
    dispatch_write_result(f, "running", 0, NULL, NULL);
}

/* ---- pool to intake ----------------------------------------------------- */

static void
finish_done(cir_dispatch_t *w, inflight_t *f, const cir_pool_done_t *d)
{
    const cir_result_t *r = &d->result;
    int ret;

    mark_published(f, r);
    ret = intake_ack(w, f);
    cir_log_info(&f->log, "done in %.1f s (%.2fx)%s",
                 (double)(d->finished_us - d->started_us) / 1e6,
                 r->elapsed > 0 ? r->duration / r->elapsed : 0,
                 ret < 0 ? ", but the ack failed" : "");
    dispatch_write_result(f, "done", 100, d, NULL);
    cir_uploads_remove_input(w->upload_dir, f->job.input);
    dispatch_metrics_end(&w->m, CIR_DISPATCH_DONE, r->duration, r->elapsed);
    dispatch_metrics_supersede(&w->m, r);
}

static void
finish_failed(cir_dispatch_t *w, inflight_t *f, const cir_pool_done_t *d)
{
    int code = cir_transcode_exit_code(d->ret);
    int permanent = cir_transcode_exit_permanent(code);
    const char *msg =
        d->result.error[0] ? d->result.error : cir_strerror(d->ret);
    int retry = !permanent && f->job.attempt < w->cfg.max_attempts;

    cir_log_error(&f->log, "failed (%s, %s): %s", cir_errname(d->ret),
                  permanent ? "permanent" : "transient", msg);
    if (intake_fail(w, f, msg, d->ret, permanent) < 0) {
        retry = 1; /* not parked: it comes back */
    }
    dispatch_write_result(f, retry ? "retrying" : "failed", 0, d, msg);
    if (!retry) {
        cir_uploads_remove_input(w->upload_dir, f->job.input);
    }
    dispatch_metrics_end(
        &w->m, retry ? CIR_DISPATCH_RETRIED : CIR_DISPATCH_FAILED, 0, 0);
}

/* Cancelled through cir_dispatch_cancel: the pool removed what it wrote;
 * the intake is told it will not be retried. */
static void
finish_cancelled(cir_dispatch_t *w, inflight_t *f, const cir_pool_done_t *d)
{
    int ret = w->src->ops->cancel ? w->src->ops->cancel(w->src, &f->job)
                                  : w->src->ops->ack(w->src, &f->job);

    intake_refused(w, f, "cancel", ret);
    cir_log_warn(&f->log, "cancelled on request%s",
                 ret < 0 ? " (the intake refused it)" : "");
    dispatch_write_result(f, "cancelled", 0, d, "cancelled on request");
    cir_uploads_remove_input(w->upload_dir, f->job.input);
    dispatch_metrics_end(&w->m, CIR_DISPATCH_CANCELLED, 0, 0);
}

static void
finish_job(cir_dispatch_t *w, const cir_pool_done_t *d, int stopping)
{
    inflight_t *f = d->user;

    if (lease_settle(f)) {
        abandon_job(w, f, d);
        return;
    }
    if (d->ret == 0) {
        finish_done(w, f, d);
    } else if (d->ret == CIR_ECANCELED && stopping) {
        int ret = intake_release(w, f);
        cir_log_warn(&f->log, "cancelled by shutdown: released%s",
                     ret < 0 ? " (failed)" : "");
        dispatch_write_result(f, "released", 0, d, "cancelled by shutdown");
        dispatch_metrics_end(&w->m, CIR_DISPATCH_RELEASED, 0, 0);
    } else if (d->ret == CIR_ECANCELED && atomic_load(&f->cancel_asked)) {
        finish_cancelled(w, f, d);
    } else {
        finish_failed(w, f, d);
    }
    remove_job(w, f);
}

/* Status files of running jobs (heartbeats are the lease threads'). */
static void
tick_running(cir_dispatch_t *w)
{
    int64_t now = dispatch_mono_us();
    cir_pool_slot_t slots[CIR_POOL_MAX_WORKERS];
    size_t n = 0;
    int snap = 0;

    for (int i = 0; i < w->njobs; i++) {
        inflight_t *f = w->jobs[i];
        if (now - f->last_status_us < 2000000) {
            continue;
        }
        if (!snap) {
            n = cir_pool_snapshot(w->pool, slots, CIR_POOL_MAX_WORKERS);
            snap = 1;
        }
        for (size_t k = 0; k < n; k++) {
            if (slots[k].busy && slots[k].user == f) {
                dispatch_write_result(f, "running", slots[k].progress.percent,
                                      NULL, NULL);
            }
        }
        f->last_status_us = now;
    }
}

/* ---- the loop ----------------------------------------------------------- */

/* The intake's last answer, for the readiness probe. */
static void
note_intake(cir_dispatch_t *w, int ret)
{
    if (ret >= 0) {
        if (atomic_exchange(&w->intake_failures, 0) > 0) {
            cir_log_info(NULL, "intake %s: answering again", w->src->name);
        }
        return;
    }
    pthread_mutex_lock(&w->health_lock);
    snprintf(w->intake_error, sizeof(w->intake_error), "%s: %s", w->src->name,
             cir_strerror(ret));
    pthread_mutex_unlock(&w->health_lock);
    /* logged once a failing run, not each retry */
    if (atomic_fetch_add(&w->intake_failures, 1) == 0) {
        cir_log_warn(NULL, "intake %s: %s (retrying every second)",
                     w->src->name, cir_strerror(ret));
    }
}

void
cir_dispatch_health(cir_dispatch_t *w, cir_dispatch_health_t *out)
{
    int64_t at = atomic_load(&w->loop_us);

    memset(out, 0, sizeof(*out));
    out->running = atomic_load(&w->running);
    out->stopping = atomic_load(&w->stopping);
    out->loop_age_us = at == 0 ? -1 : dispatch_mono_us() - at;
    out->intake_failures = atomic_load(&w->intake_failures);
    pthread_mutex_lock(&w->health_lock);
    snprintf(out->intake_error, sizeof(out->intake_error), "%s",
             w->intake_error);
    pthread_mutex_unlock(&w->health_lock);
}

/* Asks the intake for one job: 0, or CIR_ENOMEM. */
static int
claim_one(cir_dispatch_t *w, cir_pool_done_t *d, int stopping)
{
    inflight_t *f = calloc(1, sizeof(*f));
    int64_t asked_us = dispatch_mono_us();
    int ret;

    if (f == NULL) {
        return CIR_ENOMEM;
    }
    ret = w->src->ops->next(w->src, &f->job, 500);
    if (ret == 1) {
        note_intake(w, ret);
        pthread_mutex_lock(&w->jobs_lock);
        w->jobs[w->njobs++] = f;
        pthread_mutex_unlock(&w->jobs_lock);
        start_job(w, f, asked_us);
        return 0;
    }
    free(f);
    note_intake(w, ret);
    if (ret < 0) {
        if (cir_pool_next_done(w->pool, d, 1000) == 1) {
            finish_job(w, d, stopping);
        }
    }
    return 0;
}

#define UPLOAD_SWEEP_US (60 * 1000000LL)

/* Once a minute: uploads past upload_max_age_s, but not a running job's. */
static void
sweep_uploads(cir_dispatch_t *w)
{
    const char *keep[CIR_POOL_MAX_WORKERS + 1000];
    int64_t now = dispatch_mono_us();
    size_t n = 0;

    if (w->upload_dir[0] == '\0' || w->cfg.upload_max_age_s <= 0 ||
        (w->upload_swept_us && now - w->upload_swept_us < UPLOAD_SWEEP_US)) {
        return;
    }
    w->upload_swept_us = now;
    for (int i = 0; i < w->njobs && n < sizeof(keep) / sizeof(keep[0]); i++) {
        keep[n++] = w->jobs[i]->job.input;
    }
    cir_uploads_sweep(w->upload_dir, w->cfg.upload_max_age_s,
                      (int64_t)time(NULL), keep, n);
}

int
cir_dispatch_run(cir_dispatch_t *w, const atomic_int *stop)
{
    int stopping = 0, cancelled = 0, ret = 0;
    int64_t drain_deadline = 0;
    cir_pool_done_t *d = malloc(sizeof(*d));

    if (d == NULL) {
        return CIR_ENOMEM;
    }
    atomic_store(&w->running, 1);
    for (;;) {
        atomic_store(&w->loop_us, dispatch_mono_us());
        if (!stopping && atomic_load(stop)) {
            stopping = 1;
            atomic_store(&w->stopping, 1);
            drain_deadline = dispatch_mono_us() + w->cfg.drain_us;
            cir_log_info(NULL, "stopping: %d job(s) running, %.0f s to finish",
                         w->njobs, (double)w->cfg.drain_us / 1e6);
            cir_pool_shutdown(w->pool, 0);
        }
        if (stopping && !cancelled && dispatch_mono_us() >= drain_deadline) {
            cir_log_warn(NULL, "drain time over: cancelling %d job(s)",
                         w->njobs);
            cir_pool_shutdown(w->pool, 1);
            cancelled = 1;
        }
        while (cir_pool_next_done(w->pool, d, 0) == 1) {
            finish_job(w, d, stopping);
        }
        if (stopping && w->njobs == 0) {
            break;
        }
        tick_running(w);
        sweep_uploads(w);
        if (!stopping && w->njobs < w->max_jobs &&
            cir_pool_free_workers(w->pool) + w->cfg.queue_max > 0) {
            if ((ret = claim_one(w, d, stopping)) < 0) {
                break;
            }
        } else if (cir_pool_next_done(w->pool, d, 200) == 1) {
            finish_job(w, d, stopping);
        }
    }
    free(d);
    atomic_store(&w->running, 0);
    return ret;
}

int
cir_dispatch_cancel(cir_dispatch_t *w, const char *id)
{
    int found = 0;

    pthread_mutex_lock(&w->jobs_lock);
    for (int i = 0; i < w->njobs && !found; i++) {
        inflight_t *f = w->jobs[i];
        if (strcmp(f->job.id, id) == 0) {
            atomic_store(&f->cancel_asked, 1);
            /* not in the pool yet: start_job cancels it once it is */
            cir_pool_cancel(w->pool, f);
            found = 1;
        }
    }
    pthread_mutex_unlock(&w->jobs_lock);
    return found;
}

/* ---- life --------------------------------------------------------------- */

int
cir_dispatch_new(cir_dispatch_t **out, const cir_dispatch_config_t *cfg,
                 cir_intake_t *src, cir_pool_t *pool)
{
    cir_dispatch_t *w;

    *out = NULL;
    if (cfg->workers < 1 || cfg->queue_max < 0 || cfg->max_attempts < 1 ||
        cfg->extend_s < 1 || cir_lease_config_check(&cfg->lease) < 0 ||
        cfg->presets_dir == NULL || src == NULL || pool == NULL) {
        return CIR_EINVAL;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        return CIR_ENOMEM;
    }
    w->cfg = *cfg;
    snprintf(w->presets_dir, sizeof(w->presets_dir), "%s", cfg->presets_dir);
    snprintf(w->status_dir, sizeof(w->status_dir), "%s",
             cfg->status_dir ? cfg->status_dir : "");
    snprintf(w->key_dir, sizeof(w->key_dir), "%s",
             cfg->key_dir ? cfg->key_dir : "");
    w->cfg.presets_dir = w->presets_dir;
    w->cfg.status_dir = w->status_dir;
    w->cfg.key_dir = w->key_dir;
    snprintf(w->upload_dir, sizeof(w->upload_dir), "%s",
             cfg->upload_dir ? cfg->upload_dir : "");
    w->cfg.upload_dir = w->upload_dir;
    w->cfg.jobs_uri = NULL;
    if (w->cfg.jobs_poll_us <= 0) {
        w->cfg.jobs_poll_us = 2000000;
    }
    if (cfg->jobs_uri != NULL && cfg->jobs_uri[0] != '\0') {
        char err[300];
        if (cir_job_store_open(&w->store, cfg->jobs_uri, err, sizeof(err)) <
            0) {
            cir_log_error(NULL, "%s", err);
            free(w);
            return CIR_EINVAL;
        }
    }
    w->src = src;
    w->pool = pool;
    w->max_jobs = cfg->workers + cfg->queue_max;
    pthread_mutex_init(&w->m.lock, NULL);
    pthread_mutex_init(&w->health_lock, NULL);
    pthread_mutex_init(&w->jobs_lock, NULL);
    if ((w->jobs = calloc((size_t)w->max_jobs, sizeof(*w->jobs))) == NULL) {
        cir_dispatch_free(&w);
        return CIR_ENOMEM;
    }
    *out = w;
    return 0;
}

void
cir_dispatch_free(cir_dispatch_t **pw)
{
    cir_dispatch_t *w = *pw;

    if (w == NULL) {
        return;
    }
    for (int i = 0; i < w->njobs; i++) {
        lease_stop(w->jobs[i]);
        json_decref(w->jobs[i]->store_base);
        free(w->jobs[i]);
    }
    free(w->jobs);
    cir_job_store_close(&w->store);
    pthread_mutex_destroy(&w->m.lock);
    pthread_mutex_destroy(&w->health_lock);
    pthread_mutex_destroy(&w->jobs_lock);
    free(w);
    *pw = NULL;
}
