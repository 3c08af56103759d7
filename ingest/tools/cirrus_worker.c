/*
 * cirrus-worker: the VOD half of the ingest service.  An intake (the local
 * spool folder, or an SQS queue of S3 events) feeds the transcoder's worker
 * pool; one dispatcher thread (this one) owns the intake: it claims jobs
 * while a worker is free and acks, fails or releases each when the pool
 * hands it back.  Prometheus metrics and the running jobs are served on a
 * small HTTP port.
 *
 * Leases: each claimed job has its own lease thread, which extends the
 * claim (SQS visibility) a third of the window after the last confirmed
 * extension, every attempt bounded in time and never past the lease's
 * fence (cir_lease.h).  One job's heartbeat therefore never waits on
 * another job's call, nor on the dispatcher's long polls, acks or S3
 * checks.  When a lease is lost (the service says the claim is gone, or no
 * extension was confirmed by the fence, margin seconds before the lease's
 * end) the lease thread cancels the job at once: the pool stops it, its
 * output store refuses every write and aborts uploads in flight
 * (cir_store_set_cancel), and the dispatcher abandons the message without
 * acking, failing or releasing it, since another worker may hold it now.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "cir_buf.h"
#include "cir_clock.h"
#include "cir_error.h"
#include "cir_intake.h"
#include "cir_options.h"
#include "cir_intake_spool.h"
#include "cir_json.h"
#include "cir_lease.h"
#include "cir_log.h"
#include "cir_pool.h"
#include "cir_preset.h"
#include "cir_published.h"
#include "cir_storage.h"
#include "cir_transcode.h"
#ifdef CIRRUS_WORKER_SQS
#include "cir_aws.h"
#include "cir_intake_batch.h"
#include "cir_intake_sqs.h"
#endif

/* ---- options: one table with defaults, limits and help ----------------- */

typedef struct {
    char intake[16];
    char spool_dir[1024];
    char out_root[1024];
    char presets_dir[1024];
    char default_preset[64];
    int64_t workers;
    int64_t queue_max;
    int64_t max_attempts;
    double visibility_seconds;
    double lease_margin_seconds;
    double aws_connect_timeout_seconds;
    double aws_request_timeout_seconds;
    double settle_seconds;
    double drain_seconds;
    char status_dir[1024];
    char metrics_listen[64];
    int64_t metrics_port;
    char sqs_queue_url[1024];
    char dispatch[16];
    char batch_job_queue[256];
    char batch_job_definition[256];
    char batch_region[64];
    char batch_endpoint[512];
    char log_level[16];
    int64_t log_json;
} config_t;

#define S(f) CIR_OPT_S(config_t, f)
#define I(f) CIR_OPT_I(config_t, f)
#define D(f) CIR_OPT_D(config_t, f)

static const cir_option_t opts[] = {
    {"intake", S(intake), "spool", 0, 0, "where jobs come from: spool, sqs"},
    {"spool_dir", S(spool_dir), "/var/lib/cirrus/spool", 0, 0,
     "spool folder (incoming/, claimed/, failed/, done/)"},
    {"out_root", S(out_root), "file:///var/lib/cirrus/vod", 0, 0,
     "output root URI for media files and S3 events"},
    {"presets_dir", S(presets_dir), "", 0, 0,
     "preset folder (empty: $CIRRUS_PRESETS_DIR, else the source tree's "
     "presets/)"},
    {"default_preset", S(default_preset), "web", 0, 0,
     "preset when a job names none"},
    {"workers", I(workers), "0", 0, CIR_POOL_MAX_WORKERS,
     "transcodes at once (0: the number of cores)"},
    {"queue_max", I(queue_max), "0", 0, 1000,
     "jobs claimed ahead of a free worker"},
    {"max_attempts", I(max_attempts), "3", 1, 100,
     "attempts before a job is parked in failed/ (spool)"},
    {"visibility_seconds", D(visibility_seconds), "120", 3, 43200,
     "claim lease (SQS: the queue's visibility timeout; the Terraform "
     "default is 120): extended a third of it after the last confirmed "
     "extension; a spool claim without heartbeat this long is retried"},
    {"lease_margin_seconds", D(lease_margin_seconds), "2", 0, 3600,
     "a job whose lease was not extended by this long before its end is "
     "cancelled (at most a sixth of visibility_seconds)"},
    {"aws_connect_timeout_seconds", D(aws_connect_timeout_seconds), "3", 0.1,
     60, "connect timeout of every S3/SQS/Batch request"},
    {"aws_request_timeout_seconds", D(aws_request_timeout_seconds), "20", 0.5,
     3600,
     "total time of one S3/SQS/Batch request, retries aside (a long poll "
     "adds its wait); a heartbeat attempt takes at most a sixth of "
     "visibility_seconds; keep it well below visibility_seconds"},
    {"settle_seconds", D(settle_seconds), "1", 0, 3600,
     "a spool file is taken once unchanged this long"},
    {"drain_seconds", D(drain_seconds), "30", 0, 3600,
     "on SIGTERM, running jobs may finish this long before they are "
     "cancelled and released"},
    {"status_dir", S(status_dir), "", 0, 0,
     "folder for per-job result JSON (empty: <output>.job.json beside a "
     "file:// output)"},
    {"metrics_listen", S(metrics_listen), "127.0.0.1", 0, 0,
     "metrics HTTP address"},
    {"metrics_port", I(metrics_port), "0", -1, 65535,
     "metrics HTTP port (/metrics, /jobs); 0: off, -1: any free port"},
    {"sqs_queue_url", S(sqs_queue_url), "", 0, 0, "SQS queue (intake=sqs)"},
    {"dispatch", S(dispatch), "local", 0, 0,
     "local: transcode here; batch: hand each job from the SQS queue to AWS "
     "Batch (SubmitJob) and transcode nothing here"},
    {"batch_job_queue", S(batch_job_queue), "", 0, 0,
     "AWS Batch job queue (dispatch=batch)"},
    {"batch_job_definition", S(batch_job_definition), "", 0, 0,
     "AWS Batch job definition, with Ref::input, Ref::output, Ref::preset, "
     "Ref::publish_tag (dispatch=batch)"},
    {"batch_region", S(batch_region), "", 0, 0,
     "AWS Batch region (empty: AWS_REGION)"},
    {"batch_endpoint", S(batch_endpoint), "", 0, 0,
     "AWS Batch endpoint URL (empty: AWS_ENDPOINT_URL_BATCH, else AWS's)"},
    {"log_level", S(log_level), "info", 0, 0,
     "error, warn, info, debug, trace"},
    {"log_json", I(log_json), "0", 0, 1, "1: one JSON object per log line"},
};

static const cir_options_t options = {opts, sizeof(opts) / sizeof(opts[0]),
                                      "CIRRUS_WORKER_"};

static void
usage(FILE *f)
{
    fprintf(f, "usage: cirrus-worker [--config FILE] [--set name=value]... "
               "[--print-options-md]\n"
               "--config: a flat JSON object of options, or a shared file's "
               "\"worker\" section\n"
               "options (JSON config keys, CIRRUS_WORKER_<NAME>, --set; "
               "applied in that order):\n");
    cir_options_print(&options, f);
}

/* ---- metrics ------------------------------------------------------------ */

static const double wait_buckets[] = {1, 5, 15, 60, 300, 900, 3600};
#define NB_BUCKETS (sizeof(wait_buckets) / sizeof(wait_buckets[0]))

enum {
    ST_DONE,
    ST_SKIPPED,
    ST_RETRIED,
    ST_FAILED,
    ST_RELEASED,
    ST_LOST,
    ST_N
};
static const char *state_names[ST_N] = {"done",   "skipped",  "retried",
                                        "failed", "released", "lost"};

typedef struct {
    pthread_mutex_t lock;
    uint64_t jobs[ST_N];
    uint64_t claimed;
    uint64_t wait_count, wait_bucket[NB_BUCKETS];
    double wait_sum;
    double media_seconds, wall_seconds, last_speed;
    uint64_t superseded_objects, supersede_failures;
} metrics_t;

typedef struct {
    metrics_t m;
    cir_pool_t *pool;
    int workers;
    int fd;
    atomic_int stop;
    pthread_t thread;
} http_t;

static void
metrics_wait(metrics_t *m, double s)
{
    pthread_mutex_lock(&m->lock);
    m->wait_count++;
    m->wait_sum += s;
    for (size_t i = 0; i < NB_BUCKETS; i++) {
        if (s <= wait_buckets[i]) {
            m->wait_bucket[i]++;
        }
    }
    m->claimed++;
    pthread_mutex_unlock(&m->lock);
}

static void
metrics_end(metrics_t *m, int state, double media, double wall)
{
    pthread_mutex_lock(&m->lock);
    m->jobs[state]++;
    if (state == ST_DONE && wall > 0) {
        m->media_seconds += media;
        m->wall_seconds += wall;
        m->last_speed = media / wall;
    }
    pthread_mutex_unlock(&m->lock);
}

/* Superseded versions marked for the lifecycle rule (supersede.h); the
 * job result carries the counts. */
static void
metrics_supersede(metrics_t *m, const cir_result_t *r)
{
    pthread_mutex_lock(&m->lock);
    m->superseded_objects += (uint64_t)r->superseded_objects;
    m->supersede_failures += (uint64_t)r->supersede_failures;
    pthread_mutex_unlock(&m->lock);
}

static int
render_supersede_metrics(const metrics_t *m, cir_buf_t *b)
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
        "cirrus_worker_supersede_failures_total %llu\n",
        (unsigned long long)m->superseded_objects,
        (unsigned long long)m->supersede_failures);
}

static int
render_metrics(http_t *h, cir_buf_t *b)
{
    cir_pool_slot_t slots[CIR_POOL_MAX_WORKERS];
    size_t n = cir_pool_snapshot(h->pool, slots, CIR_POOL_MAX_WORKERS);
    int running = 0, ret = 0;
    metrics_t *m = &h->m;

    for (size_t i = 0; i < n; i++) {
        running += slots[i].busy;
    }
    pthread_mutex_lock(&m->lock);
    ret |= cir_buf_puts(b, "# HELP cirrus_worker_jobs_total Jobs finished, "
                           "by outcome.\n# TYPE cirrus_worker_jobs_total "
                           "counter\n");
    for (int s = 0; s < ST_N; s++) {
        ret |=
            cir_buf_printf(b, "cirrus_worker_jobs_total{state=\"%s\"} %llu\n",
                           state_names[s], (unsigned long long)m->jobs[s]);
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
        running, h->workers, (unsigned long long)m->claimed);
    for (size_t i = 0; i < NB_BUCKETS; i++) {
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
    pthread_mutex_unlock(&m->lock);
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

static int
render_jobs(http_t *h, cir_buf_t *b)
{
    cir_pool_slot_t slots[CIR_POOL_MAX_WORKERS];
    size_t n = cir_pool_snapshot(h->pool, slots, CIR_POOL_MAX_WORKERS);
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

static void
serve_one(http_t *h, int fd)
{
    char req[2048];
    size_t got = 0;
    cir_buf_t body, head;
    const char *type = "text/plain; version=0.0.4";
    int status = 200;
    struct timeval tv = {2, 0};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    while (got < sizeof(req) - 1) {
        ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) {
            break;
        }
    }
    req[got] = '\0';
    cir_buf_init(&body, 1 << 20);
    cir_buf_init(&head, 1024);
    if (strncmp(req, "GET /metrics ", 13) == 0) {
        if (render_metrics(h, &body) < 0) {
            status = 500;
        }
    } else if (strncmp(req, "GET /jobs ", 10) == 0) {
        type = "application/json";
        if (render_jobs(h, &body) < 0) {
            status = 500;
        }
    } else {
        status = strncmp(req, "GET ", 4) == 0 ? 404 : 405;
        cir_buf_puts(&body, status == 404 ? "not found\n" : "GET only\n");
    }
    cir_buf_printf(&head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                   "%zu\r\nConnection: close\r\n\r\n",
                   status, status == 200 ? "OK" : "Error", type, body.len);
    if (send(fd, head.data, head.len, MSG_NOSIGNAL) >= 0 && body.len) {
        (void)send(fd, body.data, body.len, MSG_NOSIGNAL);
    }
    cir_buf_free(&body);
    cir_buf_free(&head);
}

static void *
http_main(void *arg)
{
    http_t *h = arg;

    while (!atomic_load(&h->stop)) {
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        int c = accept(h->fd, NULL, NULL);
        if (c >= 0) {
            serve_one(h, c);
            close(c);
        }
    }
    return NULL;
}

static int
http_start(http_t *h, const char *addr, int port, int *bound)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int one = 1;

    sa.sin_port = htons((uint16_t)(port < 0 ? 0 : port));
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        return CIR_EINVAL;
    }
    if ((h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        return -errno;
    }
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(h->fd, 16) < 0 ||
        getsockname(h->fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = -errno;
        close(h->fd);
        h->fd = -1;
        return e;
    }
    *bound = ntohs(sa.sin_port);
    if (pthread_create(&h->thread, NULL, http_main, h) != 0) {
        close(h->fd);
        h->fd = -1;
        return CIR_ENOMEM;
    }
    return 0;
}

/* ---- the dispatcher ----------------------------------------------------- */

static atomic_int stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, 1);
}

typedef struct worker worker_t;

typedef struct {
    cir_vod_job_t job;
    worker_t *w;
    int64_t claimed_wall_us, claimed_mono_us, last_status_us;
    char result_path[4200];
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
} inflight_t;

struct worker {
    config_t cfg;
    cir_intake_t *src;
    cir_pool_t *pool;
    http_t http;
    inflight_t **jobs;
    int max_jobs, njobs;
    cir_lease_config_t lease;
};

static int64_t
mono_us(void)
{
    return cir_clock_mono_us(cir_clock_system());
}

static int64_t
wall_us(void)
{
    return cir_clock_wall_us(cir_clock_system());
}

static json_t *
iso_json(int64_t us)
{
    char buf[40];
    if (us <= 0 || cir_clock_format_iso8601(us, buf, sizeof(buf)) < 0) {
        return json_null();
    }
    return json_string(buf);
}

static void
result_path_for(const worker_t *w, inflight_t *f)
{
    cir_uri_t u;

    f->result_path[0] = '\0';
    if (w->cfg.status_dir[0]) {
        snprintf(f->result_path, sizeof(f->result_path), "%s/%s.json",
                 w->cfg.status_dir, f->job.id);
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

/* The per-job JSON: state, percent, timings, outputs, error. */
static void
write_result(const worker_t *w, inflight_t *f, const char *state,
             double percent, const cir_pool_done_t *d, const char *error)
{
    json_t *j, *outs;

    if (f->result_path[0] == '\0') {
        return;
    }
    j = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:f, s:o, s:o}", "id",
                  f->job.id, "state", state, "attempt", f->job.attempt, "input",
                  f->job.input, "output", f->job.output, "preset",
                  f->job.preset, "percent", percent, "enqueued_at",
                  iso_json(f->job.enqueued_us), "claimed_at",
                  iso_json(f->claimed_wall_us));
    if (j == NULL) {
        return;
    }
    json_object_set_new(
        j, "queue_wait",
        f->job.enqueued_us > 0
            ? json_real((double)(f->claimed_wall_us - f->job.enqueued_us) / 1e6)
            : json_null());
    if (d) {
        const cir_result_t *r = &d->result;
        json_object_set_new(j, "finished_at", iso_json(wall_us()));
        json_object_set_new(
            j, "elapsed",
            json_real(d->started_us > 0
                          ? (double)(d->finished_us - d->started_us) / 1e6
                          : 0));
        json_object_set_new(j, "duration", json_real(r->duration));
        json_object_set_new(
            j, "speed",
            json_real(r->elapsed > 0 ? r->duration / r->elapsed : 0));
        json_object_set_new(j, "exit_code",
                            json_integer(cir_transcode_exit_code(d->ret)));
        json_object_set_new(j, "version",
                            r->version[0] ? json_string(r->version)
                                          : json_null());
        outs = json_array();
        for (size_t i = 0; d->ret == 0 && i < r->nb_renditions &&
                           i < sizeof(r->renditions) / sizeof(r->renditions[0]);
             i++) {
            const cir_result_rendition_t *x = &r->renditions[i];
            json_t *e = json_pack(
                "{s:s, s:s, s:s, s:I, s:I}", "id", x->id, "type",
                x->video ? "video" : "audio", "codecs", x->codecs, "bandwidth",
                (json_int_t)x->bandwidth, "segments", (json_int_t)x->segments);
            if (e && x->video) {
                json_object_set_new(e, "width", json_integer(x->width));
                json_object_set_new(e, "height", json_integer(x->height));
            }
            json_array_append_new(outs, e);
        }
        json_object_set_new(j, "outputs", outs);
        json_object_set_new(j, "image", json_boolean(r->is_image));
    }
    json_object_set_new(j, "error", error ? json_string(error) : json_null());
    if (cir_json_write_file(f->result_path, j) < 0) {
        cir_log_warn(&f->log, "cannot write %s", f->result_path);
    }
    json_decref(j);
}

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

static void lease_stop(inflight_t *f);

static void
remove_job(worker_t *w, inflight_t *f)
{
    lease_stop(f);
    pthread_mutex_destroy(&f->lease_lock);
    pthread_cond_destroy(&f->lease_cond);
    for (int i = 0; i < w->njobs; i++) {
        if (w->jobs[i] == f) {
            w->jobs[i] = w->jobs[--w->njobs];
            break;
        }
    }
    free(f);
}

static char *
error_json(const char *msg, int ret)
{
    json_t *e =
        json_pack("{s:s, s:s, s:i}", "error", msg, "code", cir_errname(ret),
                  "exit_code", cir_transcode_exit_code(ret));
    char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    return s;
}

/* ---- leases: one thread per job ---------------------------------------- */

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
    while (!atomic_load(&f->lease_stop) && mono_us() < at_us) {
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
    atomic_store(&f->lost_us, mono_us());
    atomic_store(&f->lost, (int)f->lease.state);
    cir_log_error(&f->log,
                  "lease lost (%s; %d extension(s), %d failed attempt(s)): "
                  "cancelling the job, the message is left to the queue",
                  loss_reason(f->lease.state), f->lease.extensions,
                  f->lease.failures);
    cir_pool_cancel(f->w->pool, f);
}

static void *
lease_main(void *arg)
{
    inflight_t *f = arg;
    worker_t *w = f->w;
    int extend_s = (int)ceil(w->cfg.visibility_seconds);

    while (!atomic_load(&f->lease_stop)) {
        int64_t arg_us = 0, sent_us = mono_us();
        int ret;

        switch (cir_lease_next(&f->lease, sent_us, &arg_us)) {
        case CIR_LEASE_WAIT:
            lease_wait(f, arg_us);
            break;
        case CIR_LEASE_EXTEND:
            ret = w->src->ops->heartbeat(w->src, &f->job, extend_s,
                                         (int)((arg_us + 999) / 1000),
                                         &f->lease_stop);
            if (atomic_load(&f->lease_stop)) {
                return NULL;
            }
            cir_lease_done(&f->lease, sent_us, mono_us(), ret);
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
lease_start(worker_t *w, inflight_t *f, int64_t granted_us)
{
    pthread_condattr_t ca;

    f->w = w;
    pthread_mutex_init(&f->lease_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->lease_cond, &ca);
    pthread_condattr_destroy(&ca);
    cir_lease_init(&f->lease, &w->lease, granted_us);
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

/* A job whose lease was lost: no ack, no fail, no release. */
static void
abandon_job(worker_t *w, inflight_t *f, const cir_pool_done_t *d)
{
    int state = atomic_load(&f->lost);
    /* when the transcode returned (the pool's clock), else now */
    int64_t end_us =
        d != NULL && d->finished_us > 0 ? d->finished_us : mono_us();
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
    write_result(w, f, "lost", 0, d, msg);
    metrics_end(&w->http.m, ST_LOST, 0, 0);
    w->src->ops->abandon(w->src, &f->job);
    remove_job(w, f);
}

/* A claimed job (asked_us: when the claiming call was sent): done already,
 * a bad preset, or into the pool. */
static void
start_job(worker_t *w, inflight_t *f, int64_t asked_us)
{
    cir_preset_t preset;
    char err[400];
    int ret;

    f->log = (cir_log_ctx_t){.component = "worker", .job = f->job.id};
    f->claimed_wall_us = wall_us();
    f->claimed_mono_us = mono_us();
    result_path_for(w, f);
    metrics_wait(&w->http.m,
                 f->job.enqueued_us > 0
                     ? (double)(f->claimed_wall_us - f->job.enqueued_us) / 1e6
                     : 0);
    cir_log_info(&f->log, "claimed %s -> %s (preset %s, attempt %d)",
                 f->job.input, f->job.output, f->job.preset, f->job.attempt);
    if (lease_start(w, f, asked_us) < 0) {
        cir_log_warn(&f->log, "no lease thread: released");
        w->src->ops->release(w->src, &f->job);
        metrics_end(&w->http.m, ST_RELEASED, 0, 0);
        remove_job(w, f);
        return;
    }

    if (f->job.reject[0] != '\0') {
        /* the intake read it but it cannot run: parked, never dropped */
        char *ej;
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
            return;
        }
        ej = error_json(f->job.reject, CIR_EINVAL);
        cir_log_error(&f->log, "cannot run: %s", f->job.reject);
        w->src->ops->fail(w->src, &f->job, ej, 1);
        free(ej);
        write_result(w, f, "failed", 0, NULL, f->job.reject);
        metrics_end(&w->http.m, ST_FAILED, 0, 0);
        remove_job(w, f);
        return;
    }
    if (outputs_complete(&f->job)) {
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
            return;
        }
        cir_log_info(&f->log, "outputs already complete: acknowledged");
        ret = w->src->ops->ack(w->src, &f->job);
        if (ret < 0) {
            cir_log_warn(&f->log, "ack: %s", cir_strerror(ret));
        }
        write_result(w, f, "done", 100, NULL, NULL);
        metrics_end(&w->http.m, ST_SKIPPED, 0, 0);
        remove_job(w, f);
        return;
    }
    ret = cir_preset_load(w->cfg.presets_dir, f->job.preset, &preset, err,
                          sizeof(err));
    if (ret < 0) {
        char msg[512], *ej;
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
            return;
        }
        snprintf(msg, sizeof(msg), "preset %s: %s", f->job.preset, err);
        cir_log_error(&f->log, "%s", msg);
        ej = error_json(msg, CIR_EINVAL);
        w->src->ops->fail(w->src, &f->job, ej, 1);
        free(ej);
        write_result(w, f, "failed", 0, NULL, msg);
        metrics_end(&w->http.m, ST_FAILED, 0, 0);
        remove_job(w, f);
        return;
    }
    cir_pool_task_t t = {.id = f->job.id,
                         .input = f->job.input,
                         .output = f->job.output,
                         .preset = &preset,
                         .only = f->job.only,
                         .user = f};
    ret = cir_pool_submit(w->pool, &t);
    if (ret < 0) {
        if (lease_settle(f)) {
            abandon_job(w, f, NULL);
            return;
        }
        cir_log_warn(&f->log, "pool refused the job (%s): released",
                     cir_strerror(ret));
        w->src->ops->release(w->src, &f->job);
        metrics_end(&w->http.m, ST_RELEASED, 0, 0);
        remove_job(w, f);
        return;
    }
    if (atomic_load(&f->lost)) {
        cir_pool_cancel(w->pool, f); /* lost before it was in the pool */
    }
    write_result(w, f, "running", 0, NULL, NULL);
}

static void
finish_job(worker_t *w, const cir_pool_done_t *d, int stopping)
{
    inflight_t *f = d->user;
    int ret;

    if (lease_settle(f)) {
        abandon_job(w, f, d);
        return;
    }
    if (d->ret == 0) {
        mark_published(f, &d->result);
        ret = w->src->ops->ack(w->src, &f->job);
        cir_log_info(
            &f->log, "done in %.1f s (%.2fx)%s",
            (double)(d->finished_us - d->started_us) / 1e6,
            d->result.elapsed > 0 ? d->result.duration / d->result.elapsed : 0,
            ret < 0 ? ", but the ack failed" : "");
        write_result(w, f, "done", 100, d, NULL);
        metrics_end(&w->http.m, ST_DONE, d->result.duration, d->result.elapsed);
        metrics_supersede(&w->http.m, &d->result);
    } else if (d->ret == CIR_ECANCELED && stopping) {
        ret = w->src->ops->release(w->src, &f->job);
        cir_log_warn(&f->log, "cancelled by shutdown: released%s",
                     ret < 0 ? " (failed)" : "");
        write_result(w, f, "released", 0, d, "cancelled by shutdown");
        metrics_end(&w->http.m, ST_RELEASED, 0, 0);
    } else {
        int code = cir_transcode_exit_code(d->ret);
        int permanent = cir_transcode_exit_permanent(code);
        const char *msg =
            d->result.error[0] ? d->result.error : cir_strerror(d->ret);
        char *ej = error_json(msg, d->ret);
        int retry = !permanent && f->job.attempt < w->cfg.max_attempts;
        ret = w->src->ops->fail(w->src, &f->job, ej, permanent);
        free(ej);
        cir_log_error(&f->log, "failed (%s, %s): %s", cir_errname(d->ret),
                      permanent ? "permanent" : "transient", msg);
        write_result(w, f, retry ? "retrying" : "failed", 0, d, msg);
        metrics_end(&w->http.m, retry ? ST_RETRIED : ST_FAILED, 0, 0);
        (void)ret;
    }
    remove_job(w, f);
}

/* Status files of running jobs (heartbeats are the lease threads'). */
static void
tick_running(worker_t *w)
{
    int64_t now = mono_us();
    cir_pool_slot_t slots[CIR_POOL_MAX_WORKERS];
    size_t n = 0;
    int snap = 0;

    for (int i = 0; i < w->njobs; i++) {
        inflight_t *f = w->jobs[i];
        if (now - f->last_status_us >= 2000000) {
            if (!snap) {
                n = cir_pool_snapshot(w->pool, slots, CIR_POOL_MAX_WORKERS);
                snap = 1;
            }
            for (size_t k = 0; k < n; k++) {
                if (slots[k].busy && slots[k].user == f) {
                    write_result(w, f, "running", slots[k].progress.percent,
                                 NULL, NULL);
                }
            }
            f->last_status_us = now;
        }
    }
}

static int
run(worker_t *w)
{
    int stopping = 0, cancelled = 0;
    int64_t drain_deadline = 0;
    cir_pool_done_t *d = malloc(sizeof(*d));

    if (d == NULL) {
        return CIR_ENOMEM;
    }
    for (;;) {
        if (!stopping && atomic_load(&stop_requested)) {
            stopping = 1;
            drain_deadline = mono_us() + (int64_t)(w->cfg.drain_seconds * 1e6);
            cir_log_info(NULL, "stopping: %d job(s) running, %.0f s to finish",
                         w->njobs, w->cfg.drain_seconds);
            cir_pool_shutdown(w->pool, 0);
        }
        if (stopping && !cancelled && mono_us() >= drain_deadline) {
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
        if (!stopping && w->njobs < w->max_jobs &&
            cir_pool_free_workers(w->pool) + (int)w->cfg.queue_max > 0) {
            inflight_t *f = calloc(1, sizeof(*f));
            int64_t asked_us = mono_us();
            int ret;
            if (f == NULL) {
                free(d);
                return CIR_ENOMEM;
            }
            ret = w->src->ops->next(w->src, &f->job, 500);
            if (ret == 1) {
                w->jobs[w->njobs++] = f;
                start_job(w, f, asked_us);
            } else {
                free(f);
                if (ret < 0) {
                    cir_log_warn(NULL, "intake %s: %s", w->src->name,
                                 cir_strerror(ret));
                    if (cir_pool_next_done(w->pool, d, 1000) == 1) {
                        finish_job(w, d, stopping);
                    }
                }
            }
        } else if (cir_pool_next_done(w->pool, d, 200) == 1) {
            finish_job(w, d, stopping);
        }
    }
    free(d);
    return 0;
}

static int
open_intake(worker_t *w, char *err, size_t errsize)
{
    if (strcmp(w->cfg.intake, "spool") == 0) {
        cir_intake_spool_config_t sc;
        cir_intake_spool_defaults(&sc);
        sc.dir = w->cfg.spool_dir;
        sc.out_root = w->cfg.out_root;
        sc.presets_dir = w->cfg.presets_dir;
        sc.default_preset = w->cfg.default_preset;
        sc.max_attempts = (int)w->cfg.max_attempts;
        sc.stale_seconds = w->cfg.visibility_seconds;
        sc.settle_seconds = w->cfg.settle_seconds;
        return cir_intake_spool_open(&w->src, &sc, err, errsize);
    }
#ifdef CIRRUS_WORKER_SQS
    if (strcmp(w->cfg.intake, "sqs") == 0) {
        if (w->cfg.sqs_queue_url[0] == '\0') {
            snprintf(err, errsize, "intake sqs needs sqs_queue_url");
            return CIR_EINVAL;
        }
        w->src = cir_intake_sqs_open(w->cfg.sqs_queue_url, w->cfg.out_root,
                                     w->cfg.presets_dir, w->cfg.default_preset,
                                     (int)ceil(w->cfg.visibility_seconds),
                                     (int)w->cfg.max_attempts, err, errsize);
        if (w->src == NULL) {
            return CIR_EINVAL;
        }
        return cir_intake_sqs_set_timeouts(
            w->src, (int)(w->cfg.aws_connect_timeout_seconds * 1000),
            (int)(w->cfg.aws_request_timeout_seconds * 1000));
    }
#endif
    snprintf(err, errsize, "intake \"%s\" is not available (spool%s)",
             w->cfg.intake,
#ifdef CIRRUS_WORKER_SQS
             ", sqs"
#else
             ""
#endif
    );
    return CIR_EINVAL;
}

/* dispatch=batch: the SQS queue's jobs go to AWS Batch, nothing runs here */
static int
run_batch(const config_t *cfg)
{
#ifdef CIRRUS_WORKER_SQS
    cir_intake_batch_config_t bc = {
        .job_queue = cfg->batch_job_queue,
        .job_definition = cfg->batch_job_definition,
        .out_root = cfg->out_root,
        .presets_dir = cfg->presets_dir,
        .default_preset = cfg->default_preset,
        .connect_timeout_ms = (int)(cfg->aws_connect_timeout_seconds * 1000),
        .request_timeout_ms = (int)(cfg->aws_request_timeout_seconds * 1000)};
    char err[512];
    int ret;

    if (strcmp(cfg->intake, "sqs") != 0) {
        fprintf(stderr, "cirrus-worker: dispatch=batch needs intake=sqs\n");
        return 1;
    }
    ret = cir_intake_batch_run_sqs(&bc, cfg->sqs_queue_url,
                                   (int)ceil(cfg->visibility_seconds),
                                   cfg->batch_region, cfg->batch_endpoint,
                                   &stop_requested, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "cirrus-worker: %s (%s)\n", err, cir_strerror(ret));
        return 1;
    }
    return 0;
#else
    (void)cfg;
    fprintf(stderr, "cirrus-worker: built without AWS: no dispatch=batch\n");
    return 1;
#endif
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"print-options-md", no_argument, NULL, 'm'},
        {NULL, 0, NULL, 0}};
    worker_t w = {0};
    const char *config_file = NULL;
    char err[512];
    cir_log_level_t level;
    struct sigaction sa = {0};
    int c, ret, port = 0, http_on = 0, code = 1;
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    int nsets = 0;

    if (sets == NULL) {
        return 1;
    }
    while ((c = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_file = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 'h':
            usage(stdout);
            free(sets);
            return 0;
        case 'm':
            cir_options_print_markdown(&options, stdout);
            free(sets);
            return 0;
        default:
            usage(stderr);
            free(sets);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        free(sets);
        return 1;
    }
    cir_options_defaults(&options, &w.cfg, sizeof(w.cfg));
    if ((config_file &&
         cir_options_load_section(&options, &w.cfg, config_file, "worker", err,
                                  sizeof(err)) < 0) ||
        cir_options_apply_env(&options, &w.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "cirrus-worker: %s\n", err);
        free(sets);
        return 1;
    }
    for (int i = 0; i < nsets; i++) {
        char *eq = strchr(sets[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "cirrus-worker: --set %s: expected name=value\n",
                    sets[i]);
            free(sets);
            return 1;
        }
        *eq = '\0';
        if (cir_options_set(&options, &w.cfg, sets[i], eq + 1, err,
                            sizeof(err)) < 0) {
            fprintf(stderr, "cirrus-worker: %s\n", err);
            free(sets);
            return 1;
        }
    }
    free(sets);
    if (w.cfg.presets_dir[0] == '\0') {
        snprintf(w.cfg.presets_dir, sizeof(w.cfg.presets_dir), "%s",
                 cir_preset_dir(NULL));
    }
    if (cir_log_parse_level(w.cfg.log_level, &level) < 0) {
        fprintf(stderr, "cirrus-worker: log_level: unknown \"%s\"\n",
                w.cfg.log_level);
        return 1;
    }
    cir_log_set_level(level);
    cir_log_set_json((int)w.cfg.log_json);
    cir_transcode_route_av_log();
    if (w.cfg.workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        w.cfg.workers = n < 1                      ? 1
                        : n > CIR_POOL_MAX_WORKERS ? CIR_POOL_MAX_WORKERS
                                                   : n;
    }
    if (w.cfg.status_dir[0] && cir_mkdir_p(w.cfg.status_dir, 0755) < 0) {
        fprintf(stderr, "cirrus-worker: cannot create %s\n", w.cfg.status_dir);
        return 1;
    }

    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(w.cfg.dispatch, "batch") == 0) {
        return run_batch(&w.cfg);
    }
    if (strcmp(w.cfg.dispatch, "local") != 0) {
        fprintf(stderr, "cirrus-worker: dispatch: local or batch, not \"%s\"\n",
                w.cfg.dispatch);
        return 1;
    }

    w.max_jobs = (int)(w.cfg.workers + w.cfg.queue_max);
    w.jobs = calloc((size_t)w.max_jobs, sizeof(*w.jobs));
    pthread_mutex_init(&w.http.m.lock, NULL);
    w.http.fd = -1;
    if (w.jobs == NULL) {
        goto fail;
    }
    ret = cir_pool_new(&w.pool,
                       &(cir_pool_config_t){.workers = (int)w.cfg.workers,
                                            .queue_max = (int)w.cfg.queue_max});
    if (ret < 0) {
        fprintf(stderr, "cirrus-worker: pool: %s\n", cir_strerror(ret));
        goto fail;
    }
#ifdef CIRRUS_WORKER_SQS
    /* s3:// outputs (and the idempotency check on them) for any intake */
    if ((ret = cir_aws_register_s3_backend()) < 0) {
        fprintf(stderr, "cirrus-worker: s3 store: %s\n", cir_strerror(ret));
        goto fail;
    }
    /* the process-wide client of S3 outputs and inputs (other jobs on a
     * spool use its defaults, CIR_AWS_*_TIMEOUT_MS) */
    if ((strcmp(w.cfg.intake, "sqs") == 0 ||
         strncmp(w.cfg.out_root, "s3://", 5) == 0) &&
        cir_aws_default() != NULL) {
        cir_aws_set_timeouts(cir_aws_default(),
                             (int)(w.cfg.aws_connect_timeout_seconds * 1000),
                             (int)(w.cfg.aws_request_timeout_seconds * 1000));
    }
#endif
    cir_lease_config_for(&w.lease, (int64_t)(w.cfg.visibility_seconds * 1e6),
                         (int64_t)(w.cfg.lease_margin_seconds * 1e6),
                         (int64_t)(w.cfg.aws_request_timeout_seconds * 1e6));
    if (w.cfg.aws_request_timeout_seconds > w.cfg.visibility_seconds / 3) {
        cir_log_warn(NULL,
                     "aws_request_timeout_seconds %.1f is not well below "
                     "visibility_seconds %.1f: one slow S3 call may take "
                     "longer than a third of a lease",
                     w.cfg.aws_request_timeout_seconds,
                     w.cfg.visibility_seconds);
    }
    if ((ret = open_intake(&w, err, sizeof(err))) < 0) {
        fprintf(stderr, "cirrus-worker: %s (%s)\n", err, cir_strerror(ret));
        goto fail;
    }
    w.http.pool = w.pool;
    w.http.workers = (int)w.cfg.workers;
    if (w.cfg.metrics_port != 0) {
        ret = http_start(&w.http, w.cfg.metrics_listen, (int)w.cfg.metrics_port,
                         &port);
        if (ret < 0) {
            fprintf(stderr, "cirrus-worker: metrics %s:%lld: %s\n",
                    w.cfg.metrics_listen, (long long)w.cfg.metrics_port,
                    cir_strerror(ret));
            goto fail;
        }
        http_on = 1;
        cir_log_info(NULL, "metrics on http://%s:%d/metrics",
                     w.cfg.metrics_listen, port);
    }
    cir_log_info(NULL, "cirrus-worker: %lld worker(s), intake %s, output %s",
                 (long long)w.cfg.workers, w.src->name, w.cfg.out_root);
    cir_log_info(
        NULL,
        "leases: %.1f s, extended %.1f s after the last extension, "
        "attempts of at most %.1f s, lost %.1f s before the end "
        "without one",
        (double)w.lease.window_us / 1e6, (double)w.lease.window_us / 3e6,
        (double)w.lease.attempt_max_us / 1e6, (double)w.lease.margin_us / 1e6);
    ret = run(&w);
    code = ret < 0 ? 1 : 0;
    cir_log_info(NULL, "cirrus-worker stopped");
fail:
    if (http_on) {
        atomic_store(&w.http.stop, 1);
        pthread_join(w.http.thread, NULL);
        close(w.http.fd);
    }
    if (w.src) {
        w.src->ops->close(w.src);
    }
    cir_pool_free(&w.pool);
    for (int i = 0; i < w.njobs; i++) {
        free(w.jobs[i]);
    }
    free(w.jobs);
    pthread_mutex_destroy(&w.http.m.lock);
    return code;
}
