/*
 * cirrus-worker: the VOD half of the ingest service, a thin main.  It reads
 * the options, opens the intake (the local spool folder, or an SQS queue of
 * S3 events), the transcoder's worker pool and the status HTTP port, and
 * hands them to the dispatcher (cir_dispatch.h: claims, leases, ack/fail/
 * retry, result JSON) until SIGINT or SIGTERM.  With dispatch=batch the SQS
 * queue's jobs go to AWS Batch instead (cir_intake_batch.h).  Job state
 * changes go to a webhook and/or EventBridge (cir_notify.h).
 */
#include <math.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cir_aws.h"
#include "cir_cli.h"
#include "cir_dispatch.h"
#include "cir_error.h"
#include "cir_intake.h"
#include "cir_intake_batch.h"
#include "cir_intake_spool.h"
#include "cir_intake_sqs.h"
#include "cir_job_api.h"
#include "cir_log.h"
#include "cir_notify.h"
#include "cir_options.h"
#include "cir_pool.h"
#include "cir_preset.h"
#include "cir_storage.h"
#include "cir_transcode.h"
#include "cir_worker_http.h"

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
    char key_dir[1024];
    char upload_dir[1024];
    double upload_max_age_hours;
    char upload_s3_uri[1024];
    int64_t upload_url_seconds;
    char metrics_listen[64];
    int64_t metrics_port;
    int64_t http_max_request_bytes;
    double http_timeout_seconds;
    char api_listen[64];
    int64_t api_port;
    char api_token[256];
    int64_t api_max_body_bytes;
    int64_t api_list_scan_max;
    double api_idempotency_hours;
    char sqs_queue_url[1024];
    char jobs_s3_uri[1024];
    char dispatch[16];
    char batch_job_queue[256];
    char batch_job_definition[256];
    char batch_region[64];
    char batch_endpoint[512];
    char notify_url[1024];
    char notify_secret[256];
    int64_t notify_attempts;
    double notify_timeout;
    int64_t notify_max_pending;
    double notify_drain_seconds;
    char eventbridge_bus[256];
    char eventbridge_endpoint[512];
    char log_level[16];
    int64_t log_json;
} config_t;

#define S(f) CIR_OPT_S(config_t, f)
#define I(f) CIR_OPT_I(config_t, f)
#define D(f) CIR_OPT_D(config_t, f)

static const cir_option_t opts[] = {
    {"intake", S(intake), "spool", 0, 0, "where jobs come from: spool, sqs"},
    {"spool_dir", S(spool_dir), "/var/lib/cirrus/spool", 0, 0,
     "spool folder (incoming/, claimed/, failed/, done/, cancelled/)"},
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
    {"key_dir", S(key_dir), "", 0, 0,
     "folder of key files a job's \"encryption\" names (empty: jobs "
     "naming a key_file are refused; \"speke\" jobs need none); "
     "docs/encryption.md"},
    {"upload_dir", S(upload_dir), "", 0, 0,
     "the console's upload folder (the origin's /api/uploads/): a job's "
     "input there is removed once the job is done, failed past its "
     "retries or cancelled; empty: none; docs/console.md"},
    {"upload_max_age_hours", D(upload_max_age_hours), "24", 0, 8760,
     "files in upload_dir older than this are removed (checked every "
     "minute; not a running job's input); 0: only when their job ends"},
    {"upload_s3_uri", S(upload_s3_uri), "", 0, 0,
     "s3://bucket/prefix/ where the console's uploads go on AWS: the job "
     "API's POST /uploads answers a presigned PUT URL under it (the worker's "
     "credentials need s3:PutObject there); empty: POST /uploads answers "
     "501; docs/console.md"},
    {"upload_url_seconds", I(upload_url_seconds), "900", 60, 604800,
     "how long a presigned upload URL is valid"},
    {"metrics_listen", S(metrics_listen), "127.0.0.1", 0, 0,
     "metrics HTTP address"},
    {"metrics_port", I(metrics_port), "0", -1, 65535,
     "status HTTP port (/metrics, /jobs, /healthz, /readyz); 0: off, -1: "
     "any free port"},
    {"http_max_request_bytes", I(http_max_request_bytes), "8192", 256, 65536,
     "status and job API HTTP: largest request line and headers (431 "
     "beyond)"},
    {"http_timeout_seconds", D(http_timeout_seconds), "2", 0.1, 60,
     "status and job API HTTP: time to receive a request (408 beyond) and "
     "to send the answer"},
    {"api_listen", S(api_listen), "127.0.0.1", 0, 0,
     "job API address (IPv4); without api_token only a loopback address "
     "is accepted"},
    {"api_port", I(api_port), "0", -1, 65535,
     "job API HTTP port (POST /jobs, GET /jobs, /jobs/{id}, cancel, retry; "
     "docs/api.md); 0: off, -1: any free port"},
    {"api_token", S(api_token), "", 0, 0,
     "job API bearer token: every call needs \"Authorization: Bearer "
     "<token>\" (empty: no auth, loopback only); prefer "
     "CIRRUS_WORKER_API_TOKEN to a command line"},
    {"api_max_body_bytes", I(api_max_body_bytes), "1048576", 1024, 16777216,
     "job API: largest request body (413 beyond); the request line and "
     "headers are bounded by http_max_request_bytes, the time by "
     "http_timeout_seconds"},
    {"api_list_scan_max", I(api_list_scan_max), "1000", 1, 100000,
     "job API with a job store (jobs_s3_uri): job records one GET /jobs "
     "reads at most (one S3 GetObject each, the listing paged through "
     "ListObjectsV2) looking for limit jobs of its state; past them the page "
     "ends early with a next_cursor that goes on from there"},
    {"api_idempotency_hours", D(api_idempotency_hours), "24", 0.01, 8760,
     "job API: an idempotency key is kept this long after the submit that "
     "made it; the same key later makes a new job (spool: api/keys/ is "
     "swept; job store: an expired key is replaced when met, and a "
     "lifecycle rule removes the rest)"},
    {"sqs_queue_url", S(sqs_queue_url), "", 0, 0, "SQS queue (intake=sqs)"},
    {"jobs_s3_uri", S(jobs_s3_uri), "", 0, 0,
     "intake=sqs: s3://bucket/prefix of the shared job store, one record "
     "per job that every worker writes and the job API reads (GET /jobs, "
     "cancel, retry, DELETE /assets need it; the worker's credentials need "
     "s3:GetObject, PutObject, DeleteObject and ListBucket there); empty: "
     "the job API only queues jobs; docs/api.md"},
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
    {"notify_url", S(notify_url), "", 0, 0,
     "webhook for job state changes (running, done, retrying, failed, "
     "released, lost): a JSON POST of the job's state; empty: none"},
    {"notify_secret", S(notify_secret), "", 0, 0,
     "signs each notification: X-Cirrus-Signature: "
     "sha256=hex(HMAC-SHA256(secret, \"<X-Cirrus-Timestamp>.<body>\"))"},
    {"notify_attempts", I(notify_attempts), "5", 1, 20,
     "attempts of one notification (webhook or EventBridge) on connection "
     "errors, timeouts, 5xx, 408 and 429; retried after 1, 2, 4 ... s"},
    {"notify_timeout", D(notify_timeout), "5", 0.1, 60,
     "seconds of one notification attempt"},
    {"notify_max_pending", I(notify_max_pending), "1000", 1, 100000,
     "notifications waiting or retrying at once; beyond, new ones are "
     "dropped (counted in /metrics)"},
    {"notify_drain_seconds", D(notify_drain_seconds), "5", 0, 60,
     "on stop, pending notifications may go out this long"},
    {"eventbridge_bus", S(eventbridge_bus), "", 0, 0,
     "EventBridge bus (name or ARN) for job state changes (PutEvents: "
     "source cirrus.worker, detail-type \"Cirrus Job State Change\"); "
     "empty: none"},
    {"eventbridge_endpoint", S(eventbridge_endpoint), "", 0, 0,
     "EventBridge endpoint URL (empty: AWS_ENDPOINT_URL_EVENTBRIDGE, else "
     "AWS's)"},
    {"log_level", S(log_level), "info", 0, 0,
     "error, warn, info, debug, trace"},
    {"log_json", I(log_json), "0", 0, 1, "1: one JSON object per log line"},
};

static const cir_options_t options = {opts, sizeof(opts) / sizeof(opts[0]),
                                      "CIRRUS_WORKER_"};

static const cir_cli_flag_t flags[] = {CIR_CLI_FLAG_LOG_JSON};

static const cir_cli_t cli = {
    .program = "cirrus-worker",
    .notes = "--config: a flat JSON object of options, or a shared file's "
             "\"worker\" section.\n" CIR_CLI_DAEMON_EXIT_CODES,
    .flags = flags,
    .nflags = sizeof(flags) / sizeof(flags[0]),
    .table = &options,
    .section = "worker",
    .cfg_size = sizeof(config_t)};

static atomic_int stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, 1);
}

typedef struct {
    config_t cfg;
    cir_intake_t *src;
    cir_pool_t *pool;
    cir_dispatch_t *dispatch;
    cir_worker_http_t *http;
    cir_notify_t *notify;
    cir_job_api_t *api;
    cir_worker_http_t *api_http;
} worker_t;

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
    snprintf(err, errsize, "intake \"%s\" is not available (spool, sqs)",
             w->cfg.intake);
    return CIR_EINVAL;
}

/* dispatch=batch: the SQS queue's jobs go to AWS Batch, nothing runs here */
static int
run_batch(const config_t *cfg)
{
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

    ret = cir_intake_batch_run_sqs(&bc, cfg->sqs_queue_url,
                                   (int)ceil(cfg->visibility_seconds),
                                   cfg->batch_region, cfg->batch_endpoint,
                                   &stop_requested, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "cirrus-worker: %s (%s)\n", err, cir_strerror(ret));
        return 1;
    }
    return 0;
}

/* ---- the options' consequences ---------------------------------------- */

/* Without a token the API is for this host only: a loopback address. */
static int
api_listen_ok(const config_t *cfg)
{
    struct in_addr in;

    if (cfg->api_token[0]) {
        return 1;
    }
    /* an address, not a name that merely starts with "127." */
    return inet_pton(AF_INET, cfg->api_listen, &in) == 1 &&
           (ntohl(in.s_addr) >> 24) == 127;
}

/* What the options leave open: presets folder, log, workers, status_dir.
 * 0 or -1 (printed). */
static int
complete_config(config_t *cfg)
{
    cir_log_level_t level;

    if (cfg->presets_dir[0] == '\0') {
        snprintf(cfg->presets_dir, sizeof(cfg->presets_dir), "%s",
                 cir_preset_dir(NULL));
    }
    if (cir_log_parse_level(cfg->log_level, &level) < 0) {
        fprintf(stderr, "cirrus-worker: log_level: unknown \"%s\"\n",
                cfg->log_level);
        return -1;
    }
    cir_log_set_level(level);
    cir_log_set_json((int)cfg->log_json); /* --log-json sets it too */
    cir_transcode_route_av_log();
    cir_transcode_tune_memory();
    if (cfg->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = n < 1                      ? 1
                       : n > CIR_POOL_MAX_WORKERS ? CIR_POOL_MAX_WORKERS
                                                  : n;
    }
    if (cfg->status_dir[0] && cir_mkdir_p(cfg->status_dir, 0755) < 0) {
        fprintf(stderr, "cirrus-worker: cannot create %s\n", cfg->status_dir);
        return -1;
    }
    if (strcmp(cfg->dispatch, "local") != 0 &&
        strcmp(cfg->dispatch, "batch") != 0) {
        fprintf(stderr, "cirrus-worker: dispatch: local or batch, not \"%s\"\n",
                cfg->dispatch);
        return -1;
    }
    if (cfg->api_port != 0 && !api_listen_ok(cfg)) {
        fprintf(stderr,
                "cirrus-worker: api_listen %s is not a loopback address: set "
                "api_token, or listen on 127.0.0.1\n",
                cfg->api_listen);
        return -1;
    }
    if (cfg->api_port != 0 && strcmp(cfg->dispatch, "batch") == 0) {
        fprintf(stderr, "cirrus-worker: the job API needs dispatch=local\n");
        return -1;
    }
    if (strcmp(cfg->dispatch, "batch") == 0 &&
        strcmp(cfg->intake, "sqs") != 0) {
        fprintf(stderr, "cirrus-worker: dispatch=batch needs intake=sqs\n");
        return -1;
    }
    return 0;
}

/* ---- dispatch=local ----------------------------------------------------- */

/* s3:// outputs (and the idempotency check on them) for any intake, and
 * the timeouts of the process-wide client of S3 outputs and inputs (other
 * jobs on a spool use its defaults, CIR_AWS_*_TIMEOUT_MS). */
static int
setup_s3(const config_t *cfg)
{
    int ret;

    if ((ret = cir_aws_register_s3_backend()) < 0) {
        fprintf(stderr, "cirrus-worker: s3 store: %s\n", cir_strerror(ret));
        return ret;
    }
    if ((strcmp(cfg->intake, "sqs") == 0 ||
         strncmp(cfg->out_root, "s3://", 5) == 0) &&
        cir_aws_default() != NULL) {
        cir_aws_set_timeouts(cir_aws_default(),
                             (int)(cfg->aws_connect_timeout_seconds * 1000),
                             (int)(cfg->aws_request_timeout_seconds * 1000));
    }
    return 0;
}

/* The notifier when notify_url or eventbridge_bus is set: 0 or < 0. */
static int
start_notify(worker_t *w)
{
    const config_t *cfg = &w->cfg;
    cir_notify_config_t nc = {.url = cfg->notify_url,
                              .secret = cfg->notify_secret,
                              .eventbridge_bus = cfg->eventbridge_bus,
                              .eventbridge_endpoint = cfg->eventbridge_endpoint,
                              .attempts = (int)cfg->notify_attempts,
                              .timeout_ms = (int)(cfg->notify_timeout * 1000),
                              .max_pending = (int)cfg->notify_max_pending,
                              .drain_ms =
                                  (int)(cfg->notify_drain_seconds * 1000)};
    char err[512] = "";
    int ret;

    if (cfg->notify_url[0] == '\0' && cfg->eventbridge_bus[0] == '\0') {
        return 0;
    }
    if ((ret = cir_notify_new(&w->notify, &nc, err, sizeof(err))) < 0) {
        fprintf(stderr, "cirrus-worker: notifications: %s (%s)\n", err,
                cir_strerror(ret));
        return ret;
    }
    if (cfg->notify_url[0] != '\0' && cfg->notify_secret[0] == '\0') {
        cir_log_warn(NULL, "notify_url without notify_secret: the "
                           "notifications are not signed");
    }
    cir_log_info(NULL, "job notifications:%s%s%s%s",
                 cfg->notify_url[0] ? " webhook " : "", cfg->notify_url,
                 cfg->eventbridge_bus[0] ? " eventbridge bus " : "",
                 cfg->eventbridge_bus);
    return 0;
}

static void
dispatch_config(const config_t *cfg, cir_dispatch_config_t *dc)
{
    *dc = (cir_dispatch_config_t){
        .presets_dir = cfg->presets_dir,
        .status_dir = cfg->status_dir,
        .key_dir = cfg->key_dir,
        .upload_dir = cfg->upload_dir,
        .upload_max_age_s = cfg->upload_max_age_hours * 3600,
        .workers = (int)cfg->workers,
        .queue_max = (int)cfg->queue_max,
        .max_attempts = (int)cfg->max_attempts,
        .extend_s = (int)ceil(cfg->visibility_seconds),
        .drain_us = (int64_t)(cfg->drain_seconds * 1e6),
        .jobs_uri = strcmp(cfg->intake, "sqs") == 0 ? cfg->jobs_s3_uri : ""};
    cir_lease_config_for(&dc->lease, (int64_t)(cfg->visibility_seconds * 1e6),
                         (int64_t)(cfg->lease_margin_seconds * 1e6),
                         (int64_t)(cfg->aws_request_timeout_seconds * 1e6));
    if (cfg->aws_request_timeout_seconds > cfg->visibility_seconds / 3) {
        cir_log_warn(NULL,
                     "aws_request_timeout_seconds %.1f is not well below "
                     "visibility_seconds %.1f: one slow S3 call may take "
                     "longer than a third of a lease",
                     cfg->aws_request_timeout_seconds, cfg->visibility_seconds);
    }
    cir_log_info(NULL,
                 "leases: %.1f s, extended %.1f s after the last extension, "
                 "attempts of at most %.1f s, lost %.1f s before the end "
                 "without one",
                 (double)dc->lease.window_us / 1e6,
                 (double)dc->lease.window_us / 3e6,
                 (double)dc->lease.attempt_max_us / 1e6,
                 (double)dc->lease.margin_us / 1e6);
}

static int
start_http(worker_t *w)
{
    const config_t *cfg = &w->cfg;
    cir_worker_http_config_t hc = {
        .listen = cfg->metrics_listen,
        .port = (int)cfg->metrics_port,
        .max_request = (size_t)cfg->http_max_request_bytes,
        .timeout_ms = (int)(cfg->http_timeout_seconds * 1000)};
    int port = 0, ret;

    if (cfg->metrics_port == 0) {
        return 0;
    }
    ret = cir_worker_http_start(&w->http, &hc, w->dispatch, &port);
    if (ret < 0) {
        fprintf(stderr, "cirrus-worker: metrics %s:%lld: %s\n",
                cfg->metrics_listen, (long long)cfg->metrics_port,
                cir_strerror(ret));
        return ret;
    }
    cir_log_info(NULL, "metrics on http://%s:%d/metrics", cfg->metrics_listen,
                 port);
    return 0;
}

/* The job API on its own port (api_port), beside the status port. */
static int
start_api(worker_t *w)
{
    const config_t *cfg = &w->cfg;
    cir_job_api_config_t ac = {
        .intake = cfg->intake,
        .spool_dir = cfg->spool_dir,
        .out_root = cfg->out_root,
        .presets_dir = cfg->presets_dir,
        .default_preset = cfg->default_preset,
        .status_dir = cfg->status_dir,
        .token = cfg->api_token,
        .dispatch = w->dispatch,
        .sqs_queue_url = cfg->sqs_queue_url,
        .jobs_uri = cfg->jobs_s3_uri,
        .aws_connect_timeout_ms =
            (int)(cfg->aws_connect_timeout_seconds * 1000),
        .aws_request_timeout_ms =
            (int)(cfg->aws_request_timeout_seconds * 1000),
        .upload_s3_uri = cfg->upload_s3_uri,
        .upload_url_seconds = (int)cfg->upload_url_seconds,
        .list_scan_max = (size_t)cfg->api_list_scan_max,
        .idempotency_seconds = (int64_t)(cfg->api_idempotency_hours * 3600)};
    cir_worker_http_config_t hc = {
        .listen = cfg->api_listen,
        .port = (int)cfg->api_port,
        .max_request = (size_t)cfg->http_max_request_bytes,
        .timeout_ms = (int)(cfg->http_timeout_seconds * 1000),
        .max_body = (size_t)cfg->api_max_body_bytes,
        .handler = cir_job_api_handle};
    char err[512];
    int port = 0, ret;

    if (cfg->api_port == 0) {
        return 0;
    }
    if ((ret = cir_job_api_new(&w->api, &ac, err, sizeof(err))) < 0) {
        fprintf(stderr, "cirrus-worker: %s\n", err);
        return ret;
    }
    hc.handler_ctx = w->api;
    ret = cir_worker_http_start(&w->api_http, &hc, w->dispatch, &port);
    if (ret < 0) {
        fprintf(stderr, "cirrus-worker: api %s:%lld: %s\n", cfg->api_listen,
                (long long)cfg->api_port, cir_strerror(ret));
        return ret;
    }
    cir_log_info(NULL, "job API on http://%s:%d/jobs%s", cfg->api_listen, port,
                 cfg->api_token[0] ? " (bearer token)" : "");
    return 0;
}

/* The pool, the intake, the dispatcher and its HTTP ports: 0 or < 0. */
static int
start_local(worker_t *w)
{
    cir_dispatch_config_t dc;
    char err[512];
    int ret;

    ret = cir_pool_new(
        &w->pool, &(cir_pool_config_t){.workers = (int)w->cfg.workers,
                                       .queue_max = (int)w->cfg.queue_max});
    if (ret < 0) {
        fprintf(stderr, "cirrus-worker: pool: %s\n", cir_strerror(ret));
        return ret;
    }
    if ((ret = setup_s3(&w->cfg)) < 0) {
        return ret;
    }
    if ((ret = start_notify(w)) < 0) {
        return ret;
    }
    dispatch_config(&w->cfg, &dc);
    dc.notify = w->notify;
    if ((ret = open_intake(w, err, sizeof(err))) < 0) {
        fprintf(stderr, "cirrus-worker: %s (%s)\n", err, cir_strerror(ret));
        return ret;
    }
    if ((ret = cir_dispatch_new(&w->dispatch, &dc, w->src, w->pool)) < 0) {
        fprintf(stderr, "cirrus-worker: dispatcher: %s\n", cir_strerror(ret));
        return ret;
    }
    if ((ret = start_http(w)) < 0) {
        return ret;
    }
    return start_api(w);
}

static void
stop_local(worker_t *w)
{
    cir_worker_http_stop(&w->api_http);
    cir_job_api_free(&w->api);
    cir_worker_http_stop(&w->http);
    cir_dispatch_free(&w->dispatch);
    cir_notify_free(&w->notify); /* after the last state: drains */
    if (w->src) {
        w->src->ops->close(w->src);
    }
    cir_pool_free(&w->pool);
}

int
main(int argc, char **argv)
{
    worker_t w = {0};
    struct sigaction sa = {0};
    char err[1024];
    int ret, code = 1;

    ret = cir_cli_parse(&cli, argc, argv, &w.cfg, stdout, err, sizeof(err));
    if (ret < 0) {
        cir_cli_report(&cli, err, stderr);
        return CIR_CLI_DAEMON_EXIT_USAGE;
    }
    if (ret == CIR_CLI_EXIT) {
        return 0;
    }
    if (complete_config(&w.cfg) < 0) {
        return CIR_CLI_DAEMON_EXIT_USAGE;
    }
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(w.cfg.dispatch, "batch") == 0) {
        return run_batch(&w.cfg);
    }
    if (start_local(&w) == 0) {
        cir_log_info(NULL,
                     "cirrus-worker: %lld worker(s), intake %s, output %s",
                     (long long)w.cfg.workers, w.src->name, w.cfg.out_root);
        ret = cir_dispatch_run(w.dispatch, &stop_requested);
        code = ret < 0 ? 1 : 0;
        cir_log_info(NULL, "cirrus-worker stopped");
    }
    stop_local(&w);
    return code;
}
