/*
 * The module's counters, in shared memory (every worker adds to the same
 * ones): requests by kind and status (a log-phase handler), blocked
 * requests, block timeouts and the wake latency histogram; /metrics
 * prints them for Prometheus.
 *
 * An adapter: tested through tests/integration/origin.test.mjs (/metrics
 * with a Prometheus parser).
 */
#include "ngx_http_cirrus.h"

static const ngx_uint_t metric_statuses[] = {200, 204, 206, 304, 400, 403, 404,
                                             405, 410, 416, 499, 500, 503};
#define NB_STATUSES \
    (sizeof(metric_statuses) / sizeof(metric_statuses[0]) + 1) /* + other */

static const char *metric_kinds[NGX_HTTP_CIRRUS_K_MAX] = {
    "other", "vod",  "master",  "playlist", "mpd",
    "init",  "part", "segment", "time",     "metrics"};

/* Wake latency buckets, in microseconds. */
static const int64_t wake_buckets_us[] = {1000,  2000,   5000,   10000,  25000,
                                          50000, 100000, 250000, 1000000};
#define NB_WAKE_BUCKETS (sizeof(wake_buckets_us) / sizeof(wake_buckets_us[0]))

typedef struct {
    ngx_atomic_t requests[NGX_HTTP_CIRRUS_K_MAX][NB_STATUSES];
    ngx_atomic_t blocked;
    ngx_atomic_t block_timeouts;
    ngx_atomic_t wake[NB_WAKE_BUCKETS + 1];
    ngx_atomic_t wake_sum_us;
    ngx_atomic_t wake_count;
} ngx_http_cirrus_metrics_t;

static ngx_http_cirrus_metrics_t *cirrus_metrics;

static ngx_int_t
ngx_http_cirrus_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t *sp;

    if (data) { /* reload: keep the counters */
        shm_zone->data = data;
        cirrus_metrics = data;
        return NGX_OK;
    }
    /* The zone starts with nginx's slab pool, whose mutex the master
     * force-unlocks whenever a worker exits: the counters must come from
     * the pool, not overwrite it. */
    sp = (ngx_slab_pool_t *)shm_zone->shm.addr;
    cirrus_metrics = ngx_slab_calloc(sp, sizeof(*cirrus_metrics));
    if (cirrus_metrics == NULL) {
        return NGX_ERROR;
    }
    shm_zone->data = cirrus_metrics;
    return NGX_OK;
}

static ngx_int_t
ngx_http_cirrus_log_handler(ngx_http_request_t *r)
{
    ngx_http_cirrus_ctx_t *ctx;
    ngx_uint_t i, status;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cirrus_module);
    if (ctx == NULL || cirrus_metrics == NULL || r != r->main) {
        return NGX_OK;
    }
    status = r->headers_out.status;
    if (r->connection->error && status < 400) {
        status = 499;
    }
    for (i = 0; i < NB_STATUSES - 1; i++) {
        if (metric_statuses[i] == status) {
            break;
        }
    }
    ngx_atomic_fetch_add(&cirrus_metrics->requests[ctx->kind][i], 1);
    return NGX_OK;
}

ngx_int_t
ngx_http_cirrus_metrics_init(ngx_conf_t *cf)
{
    static ngx_str_t name = ngx_string("cirrus_metrics");
    ngx_http_core_main_conf_t *cmcf;
    ngx_http_handler_pt *h;
    ngx_shm_zone_t *zone;
    size_t size;

    /* the counters plus the slab pool's own pages (8 at the least) */
    size = ngx_align(sizeof(ngx_http_cirrus_metrics_t), ngx_pagesize) +
           8 * ngx_pagesize;
    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_cirrus_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }
    zone->init = ngx_http_cirrus_init_zone;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_cirrus_log_handler;
    return NGX_OK;
}

void
ngx_http_cirrus_metric_blocked(ngx_int_t delta)
{
    if (cirrus_metrics) {
        ngx_atomic_fetch_add(&cirrus_metrics->blocked, delta);
    }
}

void
ngx_http_cirrus_metric_timeout(void)
{
    if (cirrus_metrics) {
        ngx_atomic_fetch_add(&cirrus_metrics->block_timeouts, 1);
    }
}

void
ngx_http_cirrus_metric_wake(int64_t latency_us)
{
    ngx_uint_t i;

    if (cirrus_metrics == NULL) {
        return;
    }
    if (latency_us < 0) {
        latency_us = 0;
    }
    for (i = 0; i < NB_WAKE_BUCKETS; i++) {
        if (latency_us <= wake_buckets_us[i]) {
            break;
        }
    }
    ngx_atomic_fetch_add(&cirrus_metrics->wake[i], 1);
    ngx_atomic_fetch_add(&cirrus_metrics->wake_sum_us, latency_us);
    ngx_atomic_fetch_add(&cirrus_metrics->wake_count, 1);
}

ngx_int_t
ngx_http_cirrus_serve_metrics(ngx_http_request_t *r)
{
    ngx_http_cirrus_metrics_t *m = cirrus_metrics;
    size_t size = 32768;
    ngx_uint_t k, s, cum;
    u_char *p, *end, *body;

    body = ngx_pnalloc(r->pool, size);
    if (body == NULL || m == NULL) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    p = body;
    end = body + size;
    p = ngx_slprintf(p, end,
                     "# HELP cirrus_origin_requests_total Requests by kind and "
                     "status.\n# TYPE cirrus_origin_requests_total counter\n");
    for (k = 0; k < NGX_HTTP_CIRRUS_K_MAX; k++) {
        for (s = 0; s < NB_STATUSES; s++) {
            if (m->requests[k][s] == 0) {
                continue;
            }
            if (s < NB_STATUSES - 1) {
                p = ngx_slprintf(p, end,
                                 "cirrus_origin_requests_total{kind=\"%s\","
                                 "status=\"%ui\"} %uA\n",
                                 metric_kinds[k], metric_statuses[s],
                                 m->requests[k][s]);
            } else {
                p = ngx_slprintf(p, end,
                                 "cirrus_origin_requests_total{kind=\"%s\","
                                 "status=\"other\"} %uA\n",
                                 metric_kinds[k], m->requests[k][s]);
            }
        }
    }
    p = ngx_slprintf(
        p, end,
        "# HELP cirrus_origin_blocked_requests Requests held for a "
        "live update now.\n# TYPE cirrus_origin_blocked_requests "
        "gauge\ncirrus_origin_blocked_requests %uA\n"
        "# HELP cirrus_origin_block_timeouts_total Blocked requests "
        "answered 503 at the limit.\n"
        "# TYPE cirrus_origin_block_timeouts_total counter\n"
        "cirrus_origin_block_timeouts_total %uA\n"
        "# HELP cirrus_origin_wake_latency_seconds From the index "
        "update to the answer of a blocked request.\n"
        "# TYPE cirrus_origin_wake_latency_seconds histogram\n",
        m->blocked, m->block_timeouts);
    cum = 0;
    for (s = 0; s < NB_WAKE_BUCKETS; s++) {
        cum += m->wake[s];
        p = ngx_slprintf(
            p, end,
            "cirrus_origin_wake_latency_seconds_bucket{le=\"%.3f\"} "
            "%ui\n",
            (double)wake_buckets_us[s] / 1e6, cum);
    }
    cum += m->wake[NB_WAKE_BUCKETS];
    p = ngx_slprintf(
        p, end,
        "cirrus_origin_wake_latency_seconds_bucket{le=\"+Inf\"} %ui\n"
        "cirrus_origin_wake_latency_seconds_sum %.6f\n"
        "cirrus_origin_wake_latency_seconds_count %uA\n",
        cum, (double)m->wake_sum_us / 1e6, m->wake_count);
    return ngx_http_cirrus_send_body(r, "text/plain; version=0.0.4",
                                     CIR_CACHE_ERROR, NULL, -1, (char *)body,
                                     p - body, 0);
}
