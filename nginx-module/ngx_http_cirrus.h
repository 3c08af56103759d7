/*
 * ngx_http_cirrus_module: shared declarations of the module's files, each
 * using only those below it:
 *   ngx_http_cirrus_module.c   directives, the handler, auth, CORS, VOD, /time
 *   ngx_http_cirrus_live.c     the live path: loads indexes, asks origin/
 *                              (cir_live_respond) and carries the answer out
 *   ngx_http_cirrus_wait.c     holding requests until an index changes
 *   ngx_http_cirrus_metrics.c  the counters in shared memory, /metrics
 *   ngx_http_cirrus_send.c     responses: bodies, files, ranges, errors
 * Every decision is made by origin/ (cir_origin.h); this is the adapter.
 */
#ifndef NGX_HTTP_CIRRUS_H
#define NGX_HTTP_CIRRUS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "cir_error.h"
#include "cir_live.h"
#include "cir_origin.h"

#define NGX_HTTP_CIRRUS_PATH_MAX 1024
#define NGX_HTTP_CIRRUS_BODY_MAX (4 << 20) /* a rendered manifest */
/* "hold the request until its index changes": apart from every nginx
 * code, since NGX_AGAIN is what an output filter returns while a response
 * is on its way (a full socket, aio), not a reason to wait and answer
 * again */
#define NGX_HTTP_CIRRUS_WAIT (-100)

typedef enum {
    NGX_HTTP_CIRRUS_NONE = 0,
    NGX_HTTP_CIRRUS_VOD,
    NGX_HTTP_CIRRUS_LIVE,
    NGX_HTTP_CIRRUS_TIME,
    NGX_HTTP_CIRRUS_METRICS
} ngx_http_cirrus_mode_e;

/* Request kinds, for the metrics. */
typedef enum {
    NGX_HTTP_CIRRUS_K_OTHER = 0,
    NGX_HTTP_CIRRUS_K_VOD,
    NGX_HTTP_CIRRUS_K_MASTER,
    NGX_HTTP_CIRRUS_K_PLAYLIST,
    NGX_HTTP_CIRRUS_K_MPD,
    NGX_HTTP_CIRRUS_K_INIT,
    NGX_HTTP_CIRRUS_K_PART,
    NGX_HTTP_CIRRUS_K_SEGMENT,
    NGX_HTTP_CIRRUS_K_TIME,
    NGX_HTTP_CIRRUS_K_METRICS,
    NGX_HTTP_CIRRUS_K_MAX
} ngx_http_cirrus_kind_e;

typedef struct {
    ngx_uint_t mode;         /* the location's handler, not inherited */
    ngx_str_t root;          /* cirrus_vod / cirrus_live, NUL-terminated */
    ngx_str_t secret_header; /* cirrus_origin_secret */
    ngx_str_t secret_value;
    ngx_str_t token_key;      /* cirrus_token_key */
    ngx_str_t time_url;       /* cirrus_time_url, the MPD's UTCTiming */
    ngx_flag_t cors;          /* cirrus_cors */
    ngx_msec_t block_timeout; /* cirrus_block_timeout */
    ngx_uint_t max_blocked;   /* cirrus_max_blocked, per worker */
    ngx_flag_t gzip;          /* cirrus_gzip: live playlists gzipped once */
} ngx_http_cirrus_loc_conf_t;

typedef struct ngx_http_cirrus_watch_s ngx_http_cirrus_watch_t;
typedef struct ngx_http_cirrus_ctx_s ngx_http_cirrus_ctx_t;

/* Per request: what it asked for and, while it waits, the waiter. */
struct ngx_http_cirrus_ctx_s {
    ngx_uint_t kind;
    ngx_http_request_t *request;

    /* live */
    cir_live_request_t req; /* parsed once; streaming state in it */
    char *rdir; /* <root>/<stream>/<rendition> (exact-size, in r->pool) */
    char *sdir; /* <root>/<stream> */
    /* decides again when the watched index changed (the live path) */
    ngx_int_t (*decide)(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx);
    /* the writer's clock when it wrote the index last decided from (its
     * updated_us): the wake latency is measured from it */
    int64_t index_updated_us;
    ngx_int_t rc; /* an answered waiter's, until it is finalized */

    /* waiting */
    ngx_queue_t queue; /* in watch->waiters */
    ngx_http_cirrus_watch_t *watch;
    ngx_event_t timer;
    ngx_msec_t block_ms;
    ngx_msec_t deadline; /* ngx_current_msec at the block limit */
    unsigned waiting : 1;
    unsigned cleanup_added : 1;
    /* a token-authorised request: the query its manifest adds to every
     * URI it lists (cir_origin_token_query), "" otherwise */
    char *uri_query;
    ngx_buf_t *stream_file; /* the open segment's file, opened once */
};

extern ngx_module_t ngx_http_cirrus_module;

/* ngx_http_cirrus_send.c: responses.  Each returns what the handler (or
 * ngx_http_finalize_request) takes. */
ngx_int_t ngx_http_cirrus_send_init(ngx_conf_t *cf); /* the header filter */
ngx_int_t ngx_http_cirrus_add_header(ngx_http_request_t *r, const char *key,
                                     const char *value, size_t vlen);
ngx_int_t ngx_http_cirrus_send_error(ngx_http_request_t *r, ngx_uint_t status);
ngx_int_t ngx_http_cirrus_send_body(ngx_http_request_t *r, const char *ctype,
                                    cir_cache_kind_t cache,
                                    const cir_live_index_t *idx,
                                    time_t last_modified, char *body,
                                    size_t len, ngx_uint_t take);
/* send_body for a manifest (HLS, or an MPD by ctype): with uri_query
 * added to every URI it lists when the request was signed ("" or NULL:
 * as it is). */
ngx_int_t
ngx_http_cirrus_send_manifest(ngx_http_request_t *r, const char *uri_query,
                              const char *ctype, cir_cache_kind_t cache,
                              const cir_live_index_t *idx, time_t last_modified,
                              char *body, size_t len, ngx_uint_t take);
ngx_int_t ngx_http_cirrus_send_file(ngx_http_request_t *r, ngx_str_t *path,
                                    const char *ctype, cir_cache_kind_t cache,
                                    const cir_live_index_t *idx);
/* Bytes [off, off + len) of a file (len < 0: all of it); see the .c. */
ngx_int_t ngx_http_cirrus_send_file_range(ngx_http_request_t *r,
                                          ngx_str_t *path, const char *ctype,
                                          cir_cache_kind_t cache,
                                          const cir_live_index_t *idx,
                                          off_t off, off_t len, time_t mtime);
/* Opens a file as a file buf: NGX_OK or an HTTP status.  VOD files go
 * through the open file cache; live store files are opened afresh (they
 * grow: a cached size would be stale). */
ngx_int_t ngx_http_cirrus_open_buf(ngx_http_request_t *r, ngx_str_t *path,
                                   ngx_buf_t **b, ngx_open_file_info_t *of);
/* Says the body leaves with this Content-Encoding (nginx's gzip filter
 * then leaves it alone). */
ngx_int_t ngx_http_cirrus_set_content_encoding(ngx_http_request_t *r,
                                               const char *coding);
/* Status 200 and headers with no Content-Length (chunked): LL-DASH. */
ngx_int_t ngx_http_cirrus_send_header_only(ngx_http_request_t *r,
                                           const char *ctype,
                                           cir_cache_kind_t cache,
                                           const cir_live_index_t *idx);

/* ngx_http_cirrus_metrics.c */
ngx_int_t ngx_http_cirrus_metrics_init(ngx_conf_t *cf); /* zone, log phase */
ngx_int_t ngx_http_cirrus_serve_metrics(ngx_http_request_t *r);
void ngx_http_cirrus_metric_blocked(ngx_int_t delta);
void ngx_http_cirrus_metric_wake(int64_t latency_us);
void ngx_http_cirrus_metric_timeout(void);

/* ngx_http_cirrus_wait.c */
ngx_uint_t ngx_http_cirrus_wait_count(void);
/* While the waiters of one index change are decided again: the batch's
 * number (what was loaded with the same number is still current: the
 * batch runs within one event), else 0. */
ngx_uint_t ngx_http_cirrus_wait_batch(void);
/* The worker exits: closes the inotify connection, frees the watches. */
void ngx_http_cirrus_wait_exit(ngx_cycle_t *cycle);
/* Starts watching file in dir for ctx; 1 if the watch is new (the caller
 * decides again: the file may have changed before the watch existed), 0
 * if it existed, NGX_ERROR. */
ngx_int_t ngx_http_cirrus_wait_watch(ngx_http_request_t *r,
                                     ngx_http_cirrus_ctx_t *ctx,
                                     const char *dir, const char *file);
/* Holds the request (count++, timer) until the watch fires (ctx->decide
 * then answers it or holds it on) or the limit (503); the caller returns
 * NGX_DONE. */
ngx_int_t ngx_http_cirrus_wait_hold(ngx_http_request_t *r,
                                    ngx_http_cirrus_ctx_t *ctx,
                                    ngx_msec_t limit);

/* ngx_http_cirrus_live.c */
ngx_int_t ngx_http_cirrus_live_handler(ngx_http_request_t *r,
                                       ngx_http_cirrus_ctx_t *ctx,
                                       const u_char *raw, size_t len);

#endif
