/*
 * What the dispatcher tells the world (cir_dispatch.h): its counters, the
 * Prometheus text of /metrics, the running jobs of /jobs, and each job's
 * result JSON, whose changes of state also go to the notifier.
 *
 * Tested by tests/unit/test_worker_dispatch.c (and the notifications by
 * tests/integration/job_notify.test.mjs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_json.h"
#include "cir_result_json.h"
#include "cir_storage.h"
#include "dispatch_internal.h"

static const double wait_buckets[DISPATCH_NB_BUCKETS] = {1,   5,   15,  60,
                                                         300, 900, 3600};

static const char *outcome_names[CIR_DISPATCH_NB_OUTCOMES] = {
    "done", "skipped", "retried", "failed", "released", "lost", "cancelled"};

const char *
cir_dispatch_outcome_name(cir_dispatch_outcome_t o)
{
    return (unsigned)o < CIR_DISPATCH_NB_OUTCOMES ? outcome_names[o] : "?";
}

int64_t
dispatch_mono_us(void)
{
    return cir_clock_mono_us(cir_clock_system());
}

static int64_t
wall_us(void)
{
    return cir_clock_wall_us(cir_clock_system());
}

/* ---- counters ----------------------------------------------------------- */

void
dispatch_metrics_wait(dispatch_metrics_t *m, double s)
{
    pthread_mutex_lock(&m->lock);
    m->wait_count++;
    m->wait_sum += s;
    for (size_t i = 0; i < DISPATCH_NB_BUCKETS; i++) {
        if (s <= wait_buckets[i]) {
            m->wait_bucket[i]++;
        }
    }
    m->c.claimed++;
    pthread_mutex_unlock(&m->lock);
}

void
dispatch_metrics_end(dispatch_metrics_t *m, cir_dispatch_outcome_t o,
                     double media, double wall)
{
    pthread_mutex_lock(&m->lock);
    m->c.jobs[o]++;
    if (o == CIR_DISPATCH_DONE && wall > 0) {
        m->media_seconds += media;
        m->wall_seconds += wall;
        m->last_speed = media / wall;
    }
    pthread_mutex_unlock(&m->lock);
}

/* Superseded versions marked for the lifecycle rule (supersede.h); the
 * job result carries the counts. */
void
dispatch_metrics_supersede(dispatch_metrics_t *m, const cir_result_t *r)
{
    pthread_mutex_lock(&m->lock);
    m->superseded_objects += (uint64_t)r->superseded_objects;
    m->supersede_failures += (uint64_t)r->supersede_failures;
    pthread_mutex_unlock(&m->lock);
}

void
dispatch_metrics_intake_error(dispatch_metrics_t *m)
{
    pthread_mutex_lock(&m->lock);
    m->c.intake_errors++;
    pthread_mutex_unlock(&m->lock);
}

void
cir_dispatch_counts(cir_dispatch_t *d, cir_dispatch_counts_t *out)
{
    pthread_mutex_lock(&d->m.lock);
    *out = d->m.c;
    pthread_mutex_unlock(&d->m.lock);
}

/* ---- /metrics ----------------------------------------------------------- */

static int
render_supersede_metrics(const dispatch_metrics_t *m, cir_buf_t *b)
{
    return cir_buf_printf(
        b,
        "# HELP cirrus_worker_superseded_objects_total Objects of "
        "superseded versions tagged for the lifecycle rule.\n"
        "# TYPE cirrus_worker_superseded_objects_total counter\n"
        "cirrus_worker_superseded_objects_total %llu\n"
        "# HELP cirrus_worker_supersede_failures_total Superseded versions "
        "whose marking failed (retried by the asset's next publish).\n"
        "# TYPE cirrus_worker_supersede_failures_total counter\n"
        "cirrus_worker_supersede_failures_total %llu\n"
        "# HELP cirrus_worker_intake_errors_total Ack, fail or release "
        "calls the intake refused (the job comes back when its claim "
        "runs out).\n"
        "# TYPE cirrus_worker_intake_errors_total counter\n"
        "cirrus_worker_intake_errors_total %llu\n",
        (unsigned long long)m->superseded_objects,
        (unsigned long long)m->supersede_failures,
        (unsigned long long)m->c.intake_errors);
}

static int
render_counters(const dispatch_metrics_t *m, int running, int workers,
                cir_buf_t *b)
{
    int ret = 0;

    ret |= cir_buf_puts(b, "# HELP cirrus_worker_jobs_total Jobs finished, "
                           "by outcome.\n# TYPE cirrus_worker_jobs_total "
                           "counter\n");
    for (int s = 0; s < CIR_DISPATCH_NB_OUTCOMES; s++) {
        ret |=
            cir_buf_printf(b, "cirrus_worker_jobs_total{state=\"%s\"} %llu\n",
                           outcome_names[s], (unsigned long long)m->c.jobs[s]);
    }
    ret |= cir_buf_printf(
        b,
        "# HELP cirrus_worker_jobs_running Jobs transcoding now.\n"
        "# TYPE cirrus_worker_jobs_running gauge\n"
        "cirrus_worker_jobs_running %d\n"
        "# HELP cirrus_worker_workers Worker threads.\n"
        "# TYPE cirrus_worker_workers gauge\ncirrus_worker_workers %d\n"
        "# HELP cirrus_worker_jobs_claimed_total Jobs claimed from the "
        "intake.\n# TYPE cirrus_worker_jobs_claimed_total counter\n"
        "cirrus_worker_jobs_claimed_total %llu\n"
        "# HELP cirrus_worker_queue_wait_seconds From enqueue to claim.\n"
        "# TYPE cirrus_worker_queue_wait_seconds histogram\n",
        running, workers, (unsigned long long)m->c.claimed);
    for (size_t i = 0; i < DISPATCH_NB_BUCKETS; i++) {
        ret |= cir_buf_printf(
            b, "cirrus_worker_queue_wait_seconds_bucket{le=\"%g\"} %llu\n",
            wait_buckets[i], (unsigned long long)m->wait_bucket[i]);
    }
    ret |= cir_buf_printf(
        b,
        "cirrus_worker_queue_wait_seconds_bucket{le=\"+Inf\"} %llu\n"
        "cirrus_worker_queue_wait_seconds_sum %.6f\n"
        "cirrus_worker_queue_wait_seconds_count %llu\n"
        "# HELP cirrus_worker_transcode_media_seconds_total Media seconds "
        "transcoded.\n# TYPE cirrus_worker_transcode_media_seconds_total "
        "counter\ncirrus_worker_transcode_media_seconds_total %.3f\n"
        "# HELP cirrus_worker_transcode_wall_seconds_total Wall seconds "
        "spent in finished jobs.\n# TYPE "
        "cirrus_worker_transcode_wall_seconds_total counter\n"
        "cirrus_worker_transcode_wall_seconds_total %.3f\n"
        "# HELP cirrus_worker_transcode_speed Media seconds per wall second "
        "of the last job.\n# TYPE cirrus_worker_transcode_speed gauge\n"
        "cirrus_worker_transcode_speed %.3f\n",
        (unsigned long long)m->wait_count, m->wait_sum,
        (unsigned long long)m->wait_count, m->media_seconds, m->wall_seconds,
        m->last_speed);
    ret |= render_supersede_metrics(m, b);
    return ret;
}

int
cir_dispatch_render_metrics(cir_dispatch_t *d, cir_buf_t *b)
{
    cir_pool_slot_t slots[CIR_POOL_MAX_WORKERS];
    size_t n = cir_pool_snapshot(d->pool, slots, CIR_POOL_MAX_WORKERS);
    int running = 0, ret = 0;

    for (size_t i = 0; i < n; i++) {
        running += slots[i].busy;
    }
    pthread_mutex_lock(&d->m.lock);
    ret |= render_counters(&d->m, running, d->cfg.workers, b);
    pthread_mutex_unlock(&d->m.lock);
    if (d->cfg.notify != NULL) {
        ret |= cir_notify_render_metrics(d->cfg.notify, b);
    }
    ret |= cir_buf_puts(b, "# HELP cirrus_worker_job_percent Progress of a "
                           "running job.\n# TYPE cirrus_worker_job_percent "
                           "gauge\n");
    for (size_t i = 0; i < n; i++) {
        if (slots[i].busy) {
            ret |= cir_buf_printf(
                b, "cirrus_worker_job_percent{job_id=\"%s\"} %.1f\n",
                slots[i].id, slots[i].progress.percent);
        }
    }
    return ret ? CIR_ELIMIT : 0;
}

/* ---- /jobs -------------------------------------------------------------- */

int
cir_dispatch_render_jobs(cir_dispatch_t *d, cir_buf_t *b)
{
    cir_pool_slot_t slots[CIR_POOL_MAX_WORKERS];
    size_t n = cir_pool_snapshot(d->pool, slots, CIR_POOL_MAX_WORKERS);
    json_t *a = json_array();
    char *s;
    int ret;

    for (size_t i = 0; i < n; i++) {
        if (slots[i].busy) {
            json_array_append_new(
                a,
                json_pack("{s:s, s:f, s:f, s:f, s:f}", "id", slots[i].id,
                          "percent", slots[i].progress.percent, "speed",
                          slots[i].progress.speed, "eta", slots[i].progress.eta,
                          "elapsed", slots[i].progress.elapsed));
        }
    }
    s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    ret = s ? cir_buf_puts(b, s) : CIR_ENOMEM;
    free(s);
    return ret;
}

/* ---- each job's result JSON --------------------------------------------- */

static json_t *
iso_json(int64_t us)
{
    char buf[40];
    if (us <= 0 || cir_clock_format_iso8601(us, buf, sizeof(buf)) < 0) {
        return json_null();
    }
    return json_string(buf);
}

void
dispatch_result_path(const cir_dispatch_t *w, inflight_t *f)
{
    cir_uri_t u;

    f->result_path[0] = '\0';
    if (w->status_dir[0]) {
        snprintf(f->result_path, sizeof(f->result_path), "%s/%s.json",
                 w->status_dir, f->job.id);
    } else if (cir_uri_parse(f->job.output, &u) == 0 &&
               u.scheme == CIR_URI_FILE) {
        size_t n = strlen(u.path);
        while (n > 1 && u.path[n - 1] == '/') {
            n--;
        }
        snprintf(f->result_path, sizeof(f->result_path), "%.*s.job.json",
                 (int)n, u.path);
    }
}

static json_t *
outputs_json(const cir_pool_done_t *d)
{
    const cir_result_t *r = &d->result;
    json_t *outs = json_array();

    for (size_t i = 0; d->ret == 0 && i < r->nb_renditions &&
                       i < sizeof(r->renditions) / sizeof(r->renditions[0]);
         i++) {
        const cir_result_rendition_t *x = &r->renditions[i];
        json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", x->id, "type",
                              x->video ? "video" : "audio", "codecs", x->codecs,
                              "bandwidth", (json_int_t)x->bandwidth, "segments",
                              (json_int_t)x->segments);
        if (e && x->video) {
            json_object_set_new(e, "width", json_integer(x->width));
            json_object_set_new(e, "height", json_integer(x->height));
        }
        if (e && !x->video) {
            json_object_set_new(e, "channels", json_integer(x->channels));
            if (x->loudness) {
                json_object_set_new(e, "loudness", cir_result_loudness_json(x));
            }
        }
        json_array_append_new(outs, e);
    }
    return outs;
}

static void
set_finished(json_t *j, const cir_pool_done_t *d)
{
    const cir_result_t *r = &d->result;

    json_object_set_new(j, "finished_at", iso_json(wall_us()));
    json_object_set_new(
        j, "elapsed",
        json_real(d->started_us > 0
                      ? (double)(d->finished_us - d->started_us) / 1e6
                      : 0));
    json_object_set_new(j, "duration", json_real(r->duration));
    json_object_set_new(
        j, "speed", json_real(r->elapsed > 0 ? r->duration / r->elapsed : 0));
    json_object_set_new(j, "exit_code",
                        json_integer(cir_transcode_exit_code(d->ret)));
    json_object_set_new(j, "version",
                        r->version[0] ? json_string(r->version) : json_null());
    json_object_set_new(j, "outputs", outputs_json(d));
    json_object_set_new(j, "image", json_boolean(r->is_image));
    json_t *clip = cir_result_clip_json(r);
    if (clip != NULL) {
        json_object_set_new(j, "clip", clip);
    }
    json_t *per_title = cir_result_per_title_json(r);
    if (per_title != NULL) {
        json_object_set_new(j, "per_title", per_title);
    }
    json_t *enc = cir_result_encryption_json(r);
    if (enc != NULL) {
        /* the key ID only: the key is never written out */
        json_object_set_new(j, "encryption", enc);
    }
}

/* The job's state JSON (see cir_dispatch.h), or NULL. */
static json_t *
result_json(const inflight_t *f, const char *state, double percent,
            const cir_pool_done_t *d, const char *error)
{
    json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:f, s:o, s:o}", "id",
                          f->job.id, "state", state, "attempt", f->job.attempt,
                          "input", f->job.input, "output", f->job.output,
                          "preset", f->job.preset, "percent", percent,
                          "enqueued_at", iso_json(f->job.enqueued_us),
                          "claimed_at", iso_json(f->claimed_wall_us));
    if (j == NULL) {
        return NULL;
    }
    json_object_set_new(
        j, "queue_wait",
        f->job.enqueued_us > 0
            ? json_real((double)(f->claimed_wall_us - f->job.enqueued_us) / 1e6)
            : json_null());
    if (d) {
        set_finished(j, d);
    }
    json_object_set_new(j, "error", error ? json_string(error) : json_null());
    return j;
}

#define STORE_PROGRESS_US (5 * 1000000LL) /* a running job's record */

/* The job store's record of f (cir_job_store.h): at each change of the
 * API's state, and every few seconds with the progress of a running job. */
static void
store_result(inflight_t *f, const json_t *result)
{
    cir_job_store_t *js = f->w != NULL ? f->w->store : NULL;
    const char *state = cir_job_store_state(
        json_string_value(json_object_get(result, "state")));
    int64_t now = dispatch_mono_us();
    json_t *rec;
    int ret;

    if (js == NULL || (strcmp(state, f->stored_state) == 0 &&
                       now - f->stored_us < STORE_PROGRESS_US)) {
        return;
    }
    if ((rec = cir_job_store_record(f->store_base, result, f->attempt_base)) ==
        NULL) {
        return;
    }
    if ((ret = cir_job_store_put(js, f->job.id, rec)) < 0) {
        cir_log_warn(&f->log, "job store %s: cannot write the record (%s)",
                     cir_job_store_uri(js), cir_strerror(ret));
    } else {
        snprintf(f->stored_state, sizeof(f->stored_state), "%s", state);
        f->stored_us = now;
    }
    json_decref(rec);
}

void
dispatch_write_result(inflight_t *f, const char *state, double percent,
                      const cir_pool_done_t *d, const char *error)
{
    cir_notify_t *notify = f->w != NULL ? f->w->cfg.notify : NULL;
    int changed = strcmp(f->reported_state, state) != 0;
    json_t *j;

    if (f->result_path[0] == '\0' && !(changed && notify != NULL) &&
        (f->w == NULL || f->w->store == NULL)) {
        return;
    }
    if ((j = result_json(f, state, percent, d, error)) == NULL) {
        return;
    }
    if (f->result_path[0] != '\0' &&
        cir_json_write_file(f->result_path, j) < 0) {
        cir_log_warn(&f->log, "cannot write %s", f->result_path);
    }
    store_result(f, j);
    if (changed) {
        /* queued: the notifier's thread sends it */
        cir_notify_job_state(notify, j,
                             f->reported_state[0] ? f->reported_state : NULL);
        snprintf(f->reported_state, sizeof(f->reported_state), "%s", state);
    }
    json_decref(j);
}

char *
dispatch_error_json(const char *msg, int ret)
{
    json_t *e =
        json_pack("{s:s, s:s, s:i}", "error", msg, "code", cir_errname(ret),
                  "exit_code", cir_transcode_exit_code(ret));
    char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    return s;
}
