/*
 * ngx_http_cirrus_module: directives, the content handler, origin auth,
 * CORS, VOD file serving through nginx's own file machinery (open file
 * cache, sendfile, ranges, ETag), /time and /metrics.  The live path is in
 * ngx_http_cirrus_live.c and the waiting machinery in ngx_http_cirrus_wait.c.
 */
#include "ngx_http_cirrus.h"

#include "cir_clock.h"
#include "cir_storage.h"

#include <stdlib.h>
#include <sys/time.h>

/* --- metrics, in shared memory (every worker adds to the same counters) */

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

static ngx_int_t ngx_http_cirrus_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_cirrus_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_cirrus_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                            void *child);
static char *ngx_http_cirrus_root(ngx_conf_t *cf, ngx_command_t *cmd,
                                  void *conf);
static char *ngx_http_cirrus_flag_mode(ngx_conf_t *cf, ngx_command_t *cmd,
                                       void *conf);
static char *ngx_http_cirrus_secret(ngx_conf_t *cf, ngx_command_t *cmd,
                                    void *conf);
static ngx_int_t ngx_http_cirrus_handler(ngx_http_request_t *r);
static void ngx_http_cirrus_exit_process(ngx_cycle_t *cycle);

static ngx_http_output_header_filter_pt ngx_http_next_header_filter;

static ngx_command_t ngx_http_cirrus_commands[] = {

    {ngx_string("cirrus_vod"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_http_cirrus_root, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_CIRRUS_VOD, NULL},

    {ngx_string("cirrus_live"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_http_cirrus_root, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_CIRRUS_LIVE,
     NULL},

    {ngx_string("cirrus_time"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
     ngx_http_cirrus_flag_mode, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_CIRRUS_TIME,
     NULL},

    {ngx_string("cirrus_metrics"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
     ngx_http_cirrus_flag_mode, NGX_HTTP_LOC_CONF_OFFSET,
     NGX_HTTP_CIRRUS_METRICS, NULL},

    {ngx_string("cirrus_origin_secret"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE2,
     ngx_http_cirrus_secret, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},

    {ngx_string("cirrus_token_key"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_cirrus_loc_conf_t, token_key), NULL},

    {ngx_string("cirrus_time_url"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_cirrus_loc_conf_t, time_url), NULL},

    {ngx_string("cirrus_cors"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_cirrus_loc_conf_t, cors), NULL},

    {ngx_string("cirrus_block_timeout"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_msec_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_cirrus_loc_conf_t, block_timeout), NULL},

    {ngx_string("cirrus_max_blocked"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_num_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_cirrus_loc_conf_t, max_blocked), NULL},

    ngx_null_command};

static ngx_http_module_t ngx_http_cirrus_module_ctx = {
    NULL,                              /* preconfiguration */
    ngx_http_cirrus_postconfiguration, /* postconfiguration */
    NULL,                              /* create main configuration */
    NULL,                              /* init main configuration */
    NULL,                              /* create server configuration */
    NULL,                              /* merge server configuration */
    ngx_http_cirrus_create_loc_conf,   /* create location configuration */
    ngx_http_cirrus_merge_loc_conf     /* merge location configuration */
};

ngx_module_t ngx_http_cirrus_module = {
    NGX_MODULE_V1,
    &ngx_http_cirrus_module_ctx,  /* module context */
    ngx_http_cirrus_commands,     /* module directives */
    NGX_HTTP_MODULE,              /* module type */
    NULL,                         /* init master */
    NULL,                         /* init module */
    NULL,                         /* init process */
    NULL,                         /* init thread */
    NULL,                         /* exit thread */
    ngx_http_cirrus_exit_process, /* exit process */
    NULL,                         /* exit master */
    NGX_MODULE_V1_PADDING};

/* --- configuration ------------------------------------------------------ */

static void *
ngx_http_cirrus_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_cirrus_loc_conf_t *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cirrus_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }
    /* mode, root, secret_*, token_key, time_url: zeroed (unset) */
    conf->cors = NGX_CONF_UNSET;
    conf->block_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_blocked = NGX_CONF_UNSET_UINT;
    return conf;
}

static char *
ngx_http_cirrus_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_cirrus_loc_conf_t *prev = parent;
    ngx_http_cirrus_loc_conf_t *conf = child;

    /* The root and mode belong to the location that names them (like
     * proxy_pass); the rest is inherited. */
    if (conf->secret_header.data == NULL) {
        conf->secret_header = prev->secret_header;
        conf->secret_value = prev->secret_value;
    }
    ngx_conf_merge_str_value(conf->token_key, prev->token_key, "");
    ngx_conf_merge_str_value(conf->time_url, prev->time_url, "/time");
    ngx_conf_merge_value(conf->cors, prev->cors, 0);
    ngx_conf_merge_msec_value(conf->block_timeout, prev->block_timeout, 10000);
    ngx_conf_merge_uint_value(conf->max_blocked, prev->max_blocked, 10000);

    if (conf->block_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cirrus_block_timeout must be positive");
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

static char *
set_mode(ngx_conf_t *cf, ngx_http_cirrus_loc_conf_t *lcf, ngx_uint_t mode)
{
    ngx_http_core_loc_conf_t *clcf;

    if (lcf->mode != NGX_HTTP_CIRRUS_NONE) {
        return "is duplicate (one cirrus handler per location)";
    }
    lcf->mode = mode;
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_cirrus_handler;
    return NGX_CONF_OK;
}

static char *
ngx_http_cirrus_root(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cirrus_loc_conf_t *lcf = conf;
    ngx_str_t *value = cf->args->elts;
    ngx_str_t root = value[1];

    while (root.len > 1 && root.data[root.len - 1] == '/') {
        root.len--;
    }
    if (root.len == 0 || root.len >= NGX_HTTP_CIRRUS_PATH_MAX / 2) {
        return "has an invalid root";
    }
    if (ngx_conf_full_name(cf->cycle, &root, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    /* NUL-terminated copy: the pure library takes C strings */
    lcf->root.data = ngx_pnalloc(cf->pool, root.len + 1);
    if (lcf->root.data == NULL) {
        return NGX_CONF_ERROR;
    }
    ngx_memcpy(lcf->root.data, root.data, root.len);
    lcf->root.data[root.len] = '\0';
    lcf->root.len = root.len;
    return set_mode(cf, lcf, cmd->offset);
}

static char *
ngx_http_cirrus_flag_mode(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return set_mode(cf, conf, cmd->offset);
}

static char *
ngx_http_cirrus_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cirrus_loc_conf_t *lcf = conf;
    ngx_str_t *value = cf->args->elts;

    if (lcf->secret_header.data != NULL) {
        return "is duplicate";
    }
    if (value[1].len == 0 || value[2].len == 0) {
        return "needs a header name and a non-empty value";
    }
    lcf->secret_header = value[1]; /* config tokens are NUL-terminated */
    lcf->secret_value = value[2];
    return NGX_CONF_OK;
}

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

static ngx_int_t set_cache_control(ngx_http_request_t *r, cir_cache_kind_t kind,
                                   const cir_live_index_t *idx);

/*
 * Answers nginx makes itself in a cirrus location (416 from the range
 * filter, an error page) keep the headers the handler set: an error status
 * gets the error Cache-Control instead of the object's (a 416 must not be
 * cached like the segment).  Installed last, so it runs first and again
 * when a later filter turns the answer into an error.
 */
static ngx_int_t
ngx_http_cirrus_header_filter(ngx_http_request_t *r)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    ngx_list_part_t *part;
    ngx_table_elt_t *h;
    ngx_uint_t i;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    if (lcf == NULL || lcf->mode == NGX_HTTP_CIRRUS_NONE ||
        cir_origin_cache_kind_for_status(
            CIR_CACHE_MEDIA, r->headers_out.status) != CIR_CACHE_ERROR) {
        return ngx_http_next_header_filter(r);
    }
    /* drop the object's Cache-Control and Vary, then add the error's */
    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = part->elts;
        for (i = 0; i < part->nelts; i++) {
            if ((h[i].key.len == sizeof("Cache-Control") - 1 &&
                 ngx_strncasecmp(h[i].key.data, (u_char *)"Cache-Control",
                                 h[i].key.len) == 0) ||
                (h[i].key.len == sizeof("Vary") - 1 &&
                 ngx_strncasecmp(h[i].key.data, (u_char *)"Vary",
                                 h[i].key.len) == 0)) {
                h[i].hash = 0; /* not sent */
            }
        }
    }
    if (set_cache_control(r, CIR_CACHE_ERROR, NULL) != NGX_OK) {
        return NGX_ERROR;
    }
    return ngx_http_next_header_filter(r);
}

static ngx_int_t
ngx_http_cirrus_postconfiguration(ngx_conf_t *cf)
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

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_cirrus_header_filter;
    return NGX_OK;
}

/* A worker leaves (reload, stop): the waiting machinery's inotify
 * connection is closed, or nginx reports it as a socket left open. */
static void
ngx_http_cirrus_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cirrus_wait_exit(cycle);
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

/* --- responses ------------------------------------------------------------ */

static ngx_int_t
add_header(ngx_http_request_t *r, const char *key, const char *value,
           size_t vlen)
{
    ngx_table_elt_t *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    h->key.data = (u_char *)key;
    h->key.len = ngx_strlen(key);
    h->value.data = ngx_pnalloc(r->pool, vlen);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(h->value.data, value, vlen);
    h->value.len = vlen;
    return NGX_OK;
}

static ngx_int_t
set_cache_control(ngx_http_request_t *r, cir_cache_kind_t kind,
                  const cir_live_index_t *idx)
{
    char cc[128];

    ngx_http_core_loc_conf_t *clcf;
    const char *vary;

    if (cir_origin_cache_control(kind, idx, cc, sizeof(cc)) < 0) {
        ngx_cpystrn((u_char *)cc, (u_char *)"no-cache", sizeof(cc));
    }
    if (add_header(r, "Cache-Control", cc, ngx_strlen(cc)) != NGX_OK) {
        return NGX_ERROR;
    }
    /* a manifest may leave gzipped (nginx's gzip): caches must key on
     * Accept-Encoding.  With gzip_vary on nginx says it itself. */
    vary = cir_origin_vary(kind);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    if (vary != NULL && !clcf->gzip_vary) {
        return add_header(r, "Vary", vary, ngx_strlen(vary));
    }
    return NGX_OK;
}

static void
set_content_type(ngx_http_request_t *r, const char *ctype)
{
    r->headers_out.content_type.data = (u_char *)ctype;
    r->headers_out.content_type.len = ngx_strlen(ctype);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
}

static void
free_body(void *data)
{
    free(data);
}

/* Sends a body held in memory.  take: body was malloc()ed and is freed
 * with the request (a detached cir_buf_t), else it is copied if it is not
 * in the pool already. */
ngx_int_t
ngx_http_cirrus_send_body(ngx_http_request_t *r, const char *ctype,
                          cir_cache_kind_t cache, const cir_live_index_t *idx,
                          time_t last_modified, char *body, size_t len,
                          ngx_uint_t take)
{
    ngx_pool_cleanup_t *cln;
    ngx_chain_t out;
    ngx_int_t rc;
    ngx_buf_t *b;

    if (take) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            free(body);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        cln->handler = free_body;
        cln->data = body;
    }
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    r->headers_out.last_modified_time = last_modified;
    set_content_type(r, ctype);
    if (set_cache_control(r, cache, idx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->method == NGX_HTTP_HEAD || len == 0) {
        r->header_only = 1;
    }
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }
    b->pos = (u_char *)body;
    b->last = (u_char *)body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}

ngx_int_t
ngx_http_cirrus_send_manifest(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                              const char *ctype, cir_cache_kind_t cache,
                              const cir_live_index_t *idx, time_t last_modified,
                              char *body, size_t len, ngx_uint_t take)
{
    cir_buf_t out;
    size_t out_len = 0;
    char *signed_body;
    int err;

    if (ctx->uri_query == NULL || ctx->uri_query[0] == '\0') {
        return ngx_http_cirrus_send_body(r, ctype, cache, idx, last_modified,
                                         body, len, take);
    }
    cir_buf_init(&out, NGX_HTTP_CIRRUS_BODY_MAX);
    if (ngx_strcmp(ctype, "application/dash+xml") == 0) {
        err = cir_origin_mpd_add_query(body, len, ctx->uri_query, &out);
    } else {
        err = cir_origin_hls_add_query(body, len, ctx->uri_query, &out);
    }
    if (take) {
        free(body);
    }
    signed_body = err < 0 ? NULL : cir_buf_detach(&out, &out_len);
    cir_buf_free(&out);
    if (signed_body == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cirrus: adding the token to a manifest failed: %s",
                      cir_strerror(err < 0 ? err : CIR_ENOMEM));
        return ngx_http_cirrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
    return ngx_http_cirrus_send_body(r, ctype, cache, idx, last_modified,
                                     signed_body, out_len, 1);
}

static const char *
status_text(ngx_uint_t status)
{
    switch (status) {
    case 400:
        return "400 Bad Request\n";
    case 403:
        return "403 Forbidden\n";
    case 404:
        return "404 Not Found\n";
    case 405:
        return "405 Method Not Allowed\n";
    case 410:
        return "410 Gone\n";
    case 503:
        return "503 Service Unavailable\n";
    default:
        return "500 Internal Server Error\n";
    }
}

/* A short error body with the error Cache-Control (CloudFront caches
 * errors briefly, so a part that does not exist yet is not pinned). */
ngx_int_t
ngx_http_cirrus_send_error(ngx_http_request_t *r, ngx_uint_t status)
{
    const char *text = status_text(status);
    ngx_chain_t out;
    ngx_int_t rc;
    ngx_buf_t *b;

    if (r->header_sent) {
        return NGX_ERROR;
    }
    r->headers_out.status = status;
    r->headers_out.content_length_n = ngx_strlen(text);
    r->headers_out.last_modified_time = -1;
    set_content_type(r, "text/plain");
    if (set_cache_control(r, CIR_CACHE_ERROR, NULL) != NGX_OK) {
        return NGX_ERROR;
    }
    if (status == NGX_HTTP_NOT_ALLOWED &&
        add_header(r, "Allow", "GET, HEAD, OPTIONS", 18) != NGX_OK) {
        return NGX_ERROR;
    }
    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }
    b->pos = (u_char *)text;
    b->last = (u_char *)text + ngx_strlen(text);
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}

/* Serves a file with nginx's machinery: open file cache, sendfile, the
 * range filter (allow_ranges), not-modified (ETag, Last-Modified). */
ngx_int_t
ngx_http_cirrus_open_buf(ngx_http_request_t *r, ngx_str_t *path,
                         ngx_buf_t **out, ngx_open_file_info_t *of)
{
    ngx_http_core_loc_conf_t *clcf;
    ngx_uint_t level;
    ngx_int_t rc;
    ngx_buf_t *b;

    ngx_http_cirrus_loc_conf_t *lcf;
    ngx_open_file_cache_t *cache;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    ngx_memzero(of, sizeof(ngx_open_file_info_t));
    of->read_ahead = clcf->read_ahead;
    of->directio = clcf->directio;
    of->valid = clcf->open_file_cache_valid;
    of->min_uses = clcf->open_file_cache_min_uses;
    of->errors = clcf->open_file_cache_errors;
    of->events = clcf->open_file_cache_events;
    cache = clcf->open_file_cache;
    if (lcf->mode == NGX_HTTP_CIRRUS_LIVE) {
        /* The live store's files grow and go: a cached descriptor's size
         * (open_file_cache) is stale within a part, a cached ENOENT
         * (open_file_cache_errors) hides a new part.  Opened afresh for
         * each request and closed with it; small files, so no directio. */
        cache = NULL;
        of->directio = NGX_OPEN_FILE_DIRECTIO_OFF;
    }

    if (ngx_http_set_disable_symlinks(r, clcf, path, of) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ngx_open_cached_file(cache, path, of, r->pool) != NGX_OK) {
        switch (of->err) {
        case 0:
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        case NGX_ENOENT:
        case NGX_ENOTDIR:
        case NGX_ENAMETOOLONG:
            level = NGX_LOG_INFO;
            rc = NGX_HTTP_NOT_FOUND;
            break;
        case NGX_EACCES:
        case NGX_ELOOP:
            level = NGX_LOG_ERR;
            rc = NGX_HTTP_FORBIDDEN;
            break;
        default:
            level = NGX_LOG_CRIT;
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }
        ngx_log_error(level, r->connection->log, of->err,
                      "cirrus: %s \"%s\" failed", of->failed, path->data);
        return rc;
    }
    if (!of->is_file) {
        return NGX_HTTP_NOT_FOUND;
    }
    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->file_pos = 0;
    b->file_last = of->size;
    b->in_file = b->file_last ? 1 : 0;
    b->file->fd = of->fd;
    b->file->name = *path;
    b->file->log = r->connection->log;
    b->file->directio = of->is_directio;
    *out = b;
    return NGX_OK;
}

ngx_int_t
ngx_http_cirrus_send_file(ngx_http_request_t *r, ngx_str_t *path,
                          const char *ctype, cir_cache_kind_t cache,
                          const cir_live_index_t *idx)
{
    return ngx_http_cirrus_send_file_range(r, path, ctype, cache, idx, 0, -1,
                                           0);
}

/* len < 0: the whole file.  Else bytes [off, off + len) of it, which must
 * exist, with mtime (not the file's, which grows) as Last-Modified: the
 * ETag (mtime and length) then stays the same for the same bytes. */
ngx_int_t
ngx_http_cirrus_send_file_range(ngx_http_request_t *r, ngx_str_t *path,
                                const char *ctype, cir_cache_kind_t cache,
                                const cir_live_index_t *idx, off_t off,
                                off_t len, time_t mtime)
{
    ngx_open_file_info_t of;
    ngx_chain_t out;
    ngx_int_t rc;
    ngx_buf_t *b;

    rc = ngx_http_cirrus_open_buf(r, path, &b, &of);
    if (rc != NGX_OK) {
        return ngx_http_cirrus_send_error(r, (ngx_uint_t)rc);
    }
    if (len >= 0) {
        if (off < 0 || len == 0 || off > of.size - len) {
            /* the index lists bytes the file does not hold */
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "cirrus: \"%s\" holds %O bytes, not %O+%O",
                          path->data, of.size, off, len);
            return ngx_http_cirrus_send_error(r, NGX_HTTP_NOT_FOUND);
        }
        b->file_pos = off;
        b->file_last = off + len;
        of.size = len;
        of.mtime = mtime;
    }
    r->root_tested = !r->error_page;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = of.size;
    r->headers_out.last_modified_time = of.mtime;
    if (ngx_http_set_etag(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    set_content_type(r, ctype);
    if (set_cache_control(r, cache, idx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->allow_ranges = 1;
    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    b->sync = (b->last_buf || b->in_file) ? 0 : 1;
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}

ngx_int_t
ngx_http_cirrus_send_header_only(ngx_http_request_t *r, const char *ctype,
                                 cir_cache_kind_t cache,
                                 const cir_live_index_t *idx)
{
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1; /* chunked as the parts land */
    set_content_type(r, ctype);
    if (set_cache_control(r, cache, idx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return ngx_http_send_header(r);
}

/* --- the handler ------------------------------------------------------ */

static ngx_int_t
add_cors(ngx_http_request_t *r)
{
    static const char expose[] =
        "Content-Length, Content-Range, Content-Type, ETag, Last-Modified, "
        "Cache-Control, Date, Age";

    if (add_header(r, "Access-Control-Allow-Origin", "*", 1) != NGX_OK ||
        add_header(r, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS",
                   18) != NGX_OK ||
        add_header(r, "Access-Control-Expose-Headers", expose,
                   sizeof(expose) - 1) != NGX_OK) {
        return NGX_ERROR;
    }
    return NGX_OK;
}

static ngx_int_t
preflight(ngx_http_request_t *r)
{
    static const char allow[] =
        "Range, If-None-Match, If-Modified-Since, Origin, Accept, "
        "Accept-Encoding";
    ngx_int_t rc;

    if (add_header(r, "Access-Control-Allow-Headers", allow,
                   sizeof(allow) - 1) != NGX_OK ||
        add_header(r, "Access-Control-Max-Age", "86400", 5) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;
    rc = ngx_http_send_header(r);
    return rc == NGX_ERROR || rc > NGX_OK ? rc : NGX_OK;
}

static ngx_table_elt_t *
find_header(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_list_part_t *part = &r->headers_in.headers.part;
    ngx_table_elt_t *h = part->elts;
    ngx_uint_t i;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }
        if (h[i].key.len == name->len &&
            ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0) {
            return &h[i];
        }
    }
}

/* A valid origin secret header, or a valid signed URL, passes.  A signed
 * URL's manifest carries its token onto every URI it lists
 * (ctx->uri_query). */
static ngx_int_t
authorized(ngx_http_request_t *r, ngx_http_cirrus_loc_conf_t *lcf,
           ngx_http_cirrus_ctx_t *ctx)
{
    ngx_table_elt_t *h;
    u_char *path;
    int n;

    if (lcf->secret_header.len == 0 && lcf->token_key.len == 0) {
        return 1;
    }
    if (lcf->secret_header.len) {
        h = find_header(r, &lcf->secret_header);
        if (h && cir_origin_secret_equal((const char *)lcf->secret_value.data,
                                         (const char *)h->value.data,
                                         h->value.len)) {
            return 1;
        }
    }
    if (lcf->token_key.len && r->args.len) {
        path = ngx_pnalloc(r->pool, r->uri.len + 1);
        if (path == NULL) {
            return 0;
        }
        ngx_cpystrn(path, r->uri.data, r->uri.len + 1);
        if (cir_origin_token_verify((const char *)lcf->token_key.data,
                                    (const char *)path,
                                    (const char *)r->args.data, r->args.len,
                                    (int64_t)ngx_time()) == 0) {
            ctx->uri_query = ngx_pnalloc(r->pool, r->args.len + 1);
            if (ctx->uri_query == NULL) {
                return 0;
            }
            n = cir_origin_token_query((const char *)r->args.data, r->args.len,
                                       ctx->uri_query, r->args.len + 1);
            return n >= 0;
        }
    }
    return 0;
}

static ngx_int_t
serve_time(ngx_http_request_t *r)
{
    struct timeval tv;
    char *body;
    int64_t now;

    ngx_gettimeofday(&tv);
    now = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    body = ngx_pnalloc(r->pool, 64);
    if (body == NULL || cir_clock_format_iso8601(now, body, 64) < 0) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    r->headers_out.last_modified_time = -1;
    return ngx_http_cirrus_send_body(r, "text/plain", CIR_CACHE_ERROR, NULL, -1,
                                     body, ngx_strlen(body), 0);
}

static ngx_int_t
serve_metrics(ngx_http_request_t *r)
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

/* A VOD manifest for a signed request: read, with the token added to
 * every URI it lists. */
static ngx_int_t
serve_vod_signed_manifest(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                          ngx_str_t *path, const char *ctype)
{
    ngx_open_file_info_t of;
    ngx_buf_t *b;
    ngx_int_t rc;
    ssize_t n;
    char *body;

    rc = ngx_http_cirrus_open_buf(r, path, &b, &of);
    if (rc != NGX_OK) {
        return ngx_http_cirrus_send_error(r, (ngx_uint_t)rc);
    }
    if (of.size > NGX_HTTP_CIRRUS_BODY_MAX) {
        return ngx_http_cirrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
    body = ngx_pnalloc(r->pool, (size_t)of.size + 1);
    if (body == NULL) {
        return ngx_http_cirrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
    n = of.size ? ngx_read_file(b->file, (u_char *)body, (size_t)of.size, 0)
                : 0;
    if (n != of.size) {
        return ngx_http_cirrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
    return ngx_http_cirrus_send_manifest(r, ctx, ctype, CIR_CACHE_VOD_MANIFEST,
                                         NULL, of.mtime, body, (size_t)n, 0);
}

static ngx_int_t
serve_vod(ngx_http_request_t *r, ngx_http_cirrus_loc_conf_t *lcf,
          ngx_http_cirrus_ctx_t *ctx, const u_char *raw, size_t len)
{
    char rel[NGX_HTTP_CIRRUS_PATH_MAX];
    const char *ext;
    cir_cache_kind_t cache;
    ngx_str_t path;
    int rc;

    rc = cir_origin_normalize_path((const char *)raw, len, rel, sizeof(rel));
    if (rc < 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cirrus: rejected VOD path \"%*s\"", len, raw);
        return ngx_http_cirrus_send_error(
            r, rc == CIR_ENOTFOUND ? NGX_HTTP_NOT_FOUND : NGX_HTTP_BAD_REQUEST);
    }
    path.len = lcf->root.len + 1 + ngx_strlen(rel);
    path.data = ngx_pnalloc(r->pool, path.len + 1);
    if (path.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_snprintf(path.data, path.len + 1, "%V/%s%Z", &lcf->root, rel);

    ext = strrchr(rel, '.');
    cache = cir_origin_vod_cache_kind(rel);
    if (ctx->uri_query[0] != '\0' && ext &&
        (ngx_strcmp(ext, ".m3u8") == 0 || ngx_strcmp(ext, ".mpd") == 0)) {
        return serve_vod_signed_manifest(r, ctx, &path, cir_content_type(rel));
    }
    return ngx_http_cirrus_send_file(r, &path, cir_content_type(rel), cache,
                                     NULL);
}

/* The request path below the location, still percent-encoded: the raw
 * request line when it starts with the location's name, else nginx's
 * decoded URI (after a rewrite).  The pure normaliser decides what is
 * safe. */
static void
relative_path(ngx_http_request_t *r, const u_char **raw, size_t *len)
{
    ngx_http_core_loc_conf_t *clcf;
    u_char *p, *q;
    size_t n;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    p = r->unparsed_uri.data;
    n = r->unparsed_uri.len;
    q = ngx_strlchr(p, p + n, '?');
    if (q) {
        n = q - p;
    }
    if (!r->internal && n >= clcf->name.len &&
        ngx_strncmp(p, clcf->name.data, clcf->name.len) == 0) {
        *raw = p + clcf->name.len;
        *len = n - clcf->name.len;
        return;
    }
    if (r->uri.len >= clcf->name.len) {
        *raw = r->uri.data + clcf->name.len;
        *len = r->uri.len - clcf->name.len;
    } else {
        *raw = r->uri.data;
        *len = 0;
    }
}

static ngx_int_t
ngx_http_cirrus_handler(ngx_http_request_t *r)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    ngx_http_cirrus_ctx_t *ctx;
    const u_char *raw;
    size_t len;
    ngx_int_t rc;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cirrus_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->request = r;
    ctx->uri_query = "";
    ngx_http_set_ctx(r, ctx, ngx_http_cirrus_module);
    switch (lcf->mode) {
    case NGX_HTTP_CIRRUS_VOD:
        ctx->kind = NGX_HTTP_CIRRUS_K_VOD;
        break;
    case NGX_HTTP_CIRRUS_TIME:
        ctx->kind = NGX_HTTP_CIRRUS_K_TIME;
        break;
    case NGX_HTTP_CIRRUS_METRICS:
        ctx->kind = NGX_HTTP_CIRRUS_K_METRICS;
        break;
    default:
        break;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }
    if (lcf->cors && add_cors(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->method == NGX_HTTP_OPTIONS) {
        /* A CORS preflight carries no credentials: answered before auth. */
        return lcf->cors ? preflight(r)
                         : ngx_http_cirrus_send_error(r, NGX_HTTP_NOT_ALLOWED);
    }
    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return ngx_http_cirrus_send_error(r, NGX_HTTP_NOT_ALLOWED);
    }
    /* the time is no secret, and a signed MPD's player must read it */
    if (lcf->mode != NGX_HTTP_CIRRUS_TIME && !authorized(r, lcf, ctx)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cirrus: no valid origin secret or token");
        return ngx_http_cirrus_send_error(r, NGX_HTTP_FORBIDDEN);
    }

    switch (lcf->mode) {
    case NGX_HTTP_CIRRUS_TIME:
        return serve_time(r);
    case NGX_HTTP_CIRRUS_METRICS:
        return serve_metrics(r);
    case NGX_HTTP_CIRRUS_VOD:
        relative_path(r, &raw, &len);
        return serve_vod(r, lcf, ctx, raw, len);
    case NGX_HTTP_CIRRUS_LIVE:
        relative_path(r, &raw, &len);
        return ngx_http_cirrus_live_handler(r, ctx, raw, len);
    default:
        return NGX_DECLINED;
    }
}
