/*
 * ngx_http_cirrus_module: directives, the content handler, origin auth,
 * CORS, VOD file serving through nginx's own file machinery (open file
 * cache, sendfile, ranges, ETag) and /time.  The live path is in
 * ngx_http_cirrus_live.c, the files below it in ngx_http_cirrus.h.
 *
 * An adapter: tested through tests/integration/origin.test.mjs and
 * live*.test.mjs (the real nginx, samples/nginx.conf as shipped).
 */
#include "ngx_http_cirrus.h"

#include "cir_clock.h"
#include "cir_storage.h"

#include <stdlib.h>
#include <sys/time.h>

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

    {ngx_string("cirrus_gzip"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_cirrus_loc_conf_t, gzip), NULL},

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
    conf->gzip = NGX_CONF_UNSET;
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
    ngx_conf_merge_value(conf->gzip, prev->gzip, 0);

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
ngx_http_cirrus_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_cirrus_metrics_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }
    return ngx_http_cirrus_send_init(cf);
}

/* A worker leaves (reload, stop): the waiting machinery's inotify
 * connection is closed, or nginx reports it as a socket left open. */
static void
ngx_http_cirrus_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cirrus_wait_exit(cycle);
}

/* --- the handler ------------------------------------------------------ */

static ngx_int_t
add_cors(ngx_http_request_t *r)
{
    static const char expose[] =
        "Content-Length, Content-Range, Content-Type, ETag, Last-Modified, "
        "Cache-Control, Date, Age";

    if (ngx_http_cirrus_add_header(r, "Access-Control-Allow-Origin", "*", 1) !=
            NGX_OK ||
        ngx_http_cirrus_add_header(r, "Access-Control-Allow-Methods",
                                   "GET, HEAD, OPTIONS", 18) != NGX_OK ||
        ngx_http_cirrus_add_header(r, "Access-Control-Expose-Headers", expose,
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

    if (ngx_http_cirrus_add_header(r, "Access-Control-Allow-Headers", allow,
                                   sizeof(allow) - 1) != NGX_OK ||
        ngx_http_cirrus_add_header(r, "Access-Control-Max-Age", "86400", 5) !=
            NGX_OK) {
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
    return ngx_http_cirrus_send_manifest(r, ctx->uri_query, ctype,
                                         CIR_CACHE_VOD_MANIFEST, NULL, of.mtime,
                                         body, (size_t)n, 0);
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
        return ngx_http_cirrus_serve_metrics(r);
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
