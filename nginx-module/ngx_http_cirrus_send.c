/*
 * Responses: a body in memory (a manifest with a signed request's token
 * added to its URIs), a file or a byte range of one through nginx's file
 * machinery, the headers of a chunked LL-DASH segment, short error
 * answers; Cache-Control and Vary from origin/'s policy, and the header
 * filter that gives nginx's own error answers the error policy.
 *
 * An adapter: tested through tests/integration/origin.test.mjs (bodies,
 * files, byte ranges, chunks).
 */
#include "ngx_http_cirrus.h"

#include <stdlib.h>

static ngx_http_output_header_filter_pt ngx_http_next_header_filter;

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

ngx_int_t
ngx_http_cirrus_send_init(ngx_conf_t *cf)
{
    (void)cf;
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_cirrus_header_filter;
    return NGX_OK;
}

ngx_int_t
ngx_http_cirrus_add_header(ngx_http_request_t *r, const char *key,
                           const char *value, size_t vlen)
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

ngx_int_t
ngx_http_cirrus_set_content_encoding(ngx_http_request_t *r, const char *coding)
{
    ngx_table_elt_t *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    ngx_str_set(&h->key, "Content-Encoding");
    h->value.data = (u_char *)coding;
    h->value.len = ngx_strlen(coding);
    r->headers_out.content_encoding = h;
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
    if (ngx_http_cirrus_add_header(r, "Cache-Control", cc, ngx_strlen(cc)) !=
        NGX_OK) {
        return NGX_ERROR;
    }
    /* a manifest may leave gzipped (nginx's gzip): caches must key on
     * Accept-Encoding.  With gzip_vary on nginx says it itself. */
    vary = cir_origin_vary(kind);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    if (vary != NULL && !clcf->gzip_vary) {
        return ngx_http_cirrus_add_header(r, "Vary", vary, ngx_strlen(vary));
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

/* The headers set, then data[0, len) from memory that outlives the
 * request (the pool's, or freed by a cleanup): nothing after the header
 * for HEAD or an empty body. */
static ngx_int_t
send_header_and_memory(ngx_http_request_t *r, const char *data, size_t len)
{
    ngx_chain_t out;
    ngx_buf_t *b;
    ngx_int_t rc;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }
    b->pos = (u_char *)data;
    b->last = (u_char *)data + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
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
    return send_header_and_memory(r, body, len);
}

ngx_int_t
ngx_http_cirrus_send_manifest(ngx_http_request_t *r, const char *uri_query,
                              const char *ctype, cir_cache_kind_t cache,
                              const cir_live_index_t *idx, time_t last_modified,
                              char *body, size_t len, ngx_uint_t take)
{
    cir_buf_t out;
    size_t out_len = 0;
    char *signed_body;
    int err;

    if (uri_query == NULL || uri_query[0] == '\0') {
        return ngx_http_cirrus_send_body(r, ctype, cache, idx, last_modified,
                                         body, len, take);
    }
    cir_buf_init(&out, NGX_HTTP_CIRRUS_BODY_MAX);
    if (ngx_strcmp(ctype, "application/dash+xml") == 0) {
        err = cir_origin_mpd_add_query(body, len, uri_query, &out);
    } else {
        err = cir_origin_hls_add_query(body, len, uri_query, &out);
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
        ngx_http_cirrus_add_header(r, "Allow", "GET, HEAD, OPTIONS", 18) !=
            NGX_OK) {
        return NGX_ERROR;
    }
    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }
    return send_header_and_memory(r, text, ngx_strlen(text));
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
