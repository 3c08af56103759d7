/*
 * The live path, an adapter: origin/ parses the request once
 * (cir_live_request_parse); for each decision this file loads the indexes
 * the request names (cached per worker by the file's identity), hands them
 * to origin/ (cir_live_respond) and carries the answer out: a body, a file
 * or a byte range of one, LL-DASH chunks, an error, or a wait on the
 * change origin/ names (ngx_http_cirrus_wait.c).  A media playlist is
 * rendered once per index version, skip mode and rendition reports
 * (origin/'s playlist cache, kept with the index) and, with cirrus_gzip,
 * compressed once more for every client that takes gzip: the waiters of
 * one change and the fresh requests after it share both.
 *
 * An adapter: tested through tests/integration/live*.test.mjs and
 * origin.test.mjs (the real nginx with this module).
 */
#include "ngx_http_cirrus.h"

#include "cir_error.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <zlib.h>

#define INDEX_CACHE_SIZE 64
#define MAX_RENDITIONS   CIR_LIVE_MAX_RENDITIONS
/* cirrus_gzip: smaller playlists leave as they are (and nginx's gzip
 * decides for them); the level costs once per rendering, not per request */
#define GZIP_MIN_LENGTH 256
#define GZIP_LEVEL      6
#define PLAYLIST_MODES  3 /* cir_live_playlist_cache_t: full, skip, v2 */

/* The gzip form of one cached playlist body, made from src (the cache's
 * body, while the cache still holds it with signature sig). */
typedef struct {
    u_char *data;
    size_t len;
    const char *src;
    uint64_t sig;
} gzip_entry_t;

/* the indexes one decision loads stay in the cache until it is made */
#if INDEX_CACHE_SIZE <= MAX_RENDITIONS
#error "the index cache must hold a stream's renditions"
#endif

/* A decoded index per rendition folder, valid while the index file keeps
 * its identity (inode, size, mtime): the writer replaces it by rename. */
typedef struct {
    char dir[NGX_HTTP_CIRRUS_PATH_MAX];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    ngx_uint_t used;  /* LRU tick, 0: empty */
    ngx_uint_t batch; /* the wake batch that last checked it, 0: none */
    cir_live_index_t idx;
    cir_live_playlist_cache_t playlists; /* rendered from idx (origin/) */
    gzip_entry_t gz[PLAYLIST_MODES];     /* cirrus_gzip: of playlists */
} index_entry_t;

/* The rendition folders of a stream, listed at most once a second. */
typedef struct {
    char sdir[NGX_HTTP_CIRRUS_PATH_MAX];
    ngx_msec_t listed;
    size_t nb;
    char names[MAX_RENDITIONS][CIR_LIVE_ID_MAX];
} stream_entry_t;

#define STREAM_CACHE_SIZE 16
#define STREAM_LIST_TTL   1000 /* ms: a new rendition shows up this late */

static stream_entry_t *stream_cache;

static index_entry_t *index_cache;
static ngx_uint_t index_tick;

static int64_t
now_us(void)
{
    struct timeval tv;

    ngx_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* The cache entry of dir checked in the wake batch running now: the
 * waiters of one change share its stat (see ngx_http_cirrus_wait.c). */
static index_entry_t *
index_checked_in_batch(const char *dir)
{
    ngx_uint_t i, batch = ngx_http_cirrus_wait_batch();

    for (i = 0; batch && i < INDEX_CACHE_SIZE; i++) {
        if (index_cache[i].used && index_cache[i].batch == batch &&
            ngx_strcmp(index_cache[i].dir, dir) == 0) {
            index_cache[i].used = ++index_tick;
            return &index_cache[i];
        }
    }
    return NULL;
}

/*
 * The index of a rendition folder.  The least recently used entry makes
 * room for a new one, so the pointer stays valid while fewer than
 * INDEX_CACHE_SIZE other folders are loaded after it: every index one
 * decision loads (at most MAX_RENDITIONS) stays until it is made.  0,
 * CIR_ENOTFOUND (no such folder or index), or another error.
 */
static int
index_get(const char *dir, const cir_live_index_t **out)
{
    char file[CIR_LIVE_PATH_MAX];
    index_entry_t *e, *victim;
    cir_live_index_t idx;
    struct stat st;
    ngx_uint_t i;
    int rc;

    if (index_cache == NULL) {
        index_cache = ngx_calloc(sizeof(index_entry_t) * INDEX_CACHE_SIZE,
                                 ngx_cycle->log);
        if (index_cache == NULL) {
            return CIR_ENOMEM;
        }
    }
    if (ngx_strlen(dir) >= NGX_HTTP_CIRRUS_PATH_MAX ||
        cir_live_path(file, sizeof(file), dir, CIR_LIVE_FILE_INDEX, 0) < 0) {
        return CIR_ENOTFOUND;
    }
    e = index_checked_in_batch(dir);
    if (e != NULL) {
        *out = &e->idx;
        return 0;
    }
    if (stat(file, &st) != 0) {
        return errno == ENOENT || errno == ENOTDIR ? CIR_ENOTFOUND : -errno;
    }
    victim = &index_cache[0];
    for (i = 0; i < INDEX_CACHE_SIZE; i++) {
        e = &index_cache[i];
        if (e->used && ngx_strcmp(e->dir, dir) == 0) {
            if (e->ino == st.st_ino && e->dev == st.st_dev &&
                e->size == st.st_size && e->mtime.tv_sec == st.st_mtim.tv_sec &&
                e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
                e->used = ++index_tick;
                e->batch = ngx_http_cirrus_wait_batch();
                *out = &e->idx;
                return 0;
            }
            victim = e;
            break;
        }
        if (e->used < victim->used) {
            victim = e;
        }
    }
    ngx_memzero(&idx, sizeof(idx));
    rc = cir_live_index_load(dir, &idx);
    if (rc < 0) {
        return rc == -ENOENT ? CIR_ENOTFOUND : rc;
    }
    if (victim->used) {
        cir_live_index_free(&victim->idx);
    }
    cir_live_playlist_cache_free(&victim->playlists);
    for (i = 0; i < PLAYLIST_MODES; i++) {
        ngx_free(victim->gz[i].data);
    }
    ngx_memzero(victim->gz, sizeof(victim->gz));
    ngx_cpystrn((u_char *)victim->dir, (u_char *)dir, sizeof(victim->dir));
    victim->dev = st.st_dev;
    victim->ino = st.st_ino;
    victim->size = st.st_size;
    victim->mtime = st.st_mtim;
    victim->idx = idx;
    victim->used = ++index_tick;
    victim->batch = ngx_http_cirrus_wait_batch();
    *out = &victim->idx;
    return 0;
}

/* The cache entry that holds *idx (index_get's last answer). */
static index_entry_t *
entry_of(const cir_live_index_t *idx)
{
    return (index_entry_t *)((char *)idx - offsetof(index_entry_t, idx));
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rendition folders of a stream (those holding an index), sorted. */
static ngx_int_t list_renditions_now(ngx_http_request_t *r, const char *sdir,
                                     char **names, size_t *nb);

/* list_renditions_now(), remembered per stream for STREAM_LIST_TTL: a
 * readdir per playlist request would cost more than the rendering. */
static ngx_int_t
list_renditions(ngx_http_request_t *r, const char *sdir, char **names,
                size_t *nb)
{
    stream_entry_t *e = NULL, *victim;
    ngx_uint_t i;
    ngx_int_t rc;

    if (stream_cache == NULL) {
        stream_cache = ngx_calloc(sizeof(stream_entry_t) * STREAM_CACHE_SIZE,
                                  ngx_cycle->log);
        if (stream_cache == NULL) {
            return list_renditions_now(r, sdir, names, nb);
        }
    }
    if (ngx_strlen(sdir) >= NGX_HTTP_CIRRUS_PATH_MAX) {
        return NGX_DECLINED;
    }
    victim = &stream_cache[0];
    for (i = 0; i < STREAM_CACHE_SIZE; i++) {
        if (ngx_strcmp(stream_cache[i].sdir, sdir) == 0) {
            e = &stream_cache[i];
            break;
        }
        if (stream_cache[i].listed < victim->listed) {
            victim = &stream_cache[i];
        }
    }
    if (e != NULL && e->listed &&
        ngx_current_msec - e->listed < STREAM_LIST_TTL) {
        for (i = 0; i < e->nb; i++) {
            names[i] = e->names[i];
        }
        *nb = e->nb;
        return NGX_OK;
    }
    rc = list_renditions_now(r, sdir, names, nb);
    if (rc != NGX_OK) {
        return rc;
    }
    e = e ? e : victim;
    ngx_cpystrn((u_char *)e->sdir, (u_char *)sdir, sizeof(e->sdir));
    e->nb = *nb;
    for (i = 0; i < *nb; i++) {
        ngx_cpystrn((u_char *)e->names[i], (u_char *)names[i], CIR_LIVE_ID_MAX);
    }
    e->listed = ngx_current_msec ? ngx_current_msec : 1;
    return NGX_OK;
}

static ngx_int_t
list_renditions_now(ngx_http_request_t *r, const char *sdir, char **names,
                    size_t *nb)
{
    char dir[CIR_LIVE_PATH_MAX], file[CIR_LIVE_PATH_MAX];
    struct dirent *de;
    struct stat st;
    size_t n = 0, len;
    DIR *d;

    d = opendir(sdir);
    if (d == NULL) {
        return NGX_DECLINED;
    }
    while ((de = readdir(d)) != NULL && n < MAX_RENDITIONS) {
        len = ngx_strlen(de->d_name);
        if (de->d_name[0] == '.' || len >= CIR_LIVE_ID_MAX) {
            continue;
        }
        /* <sdir>/<name>: a stream folder is a root of renditions */
        if (cir_live_dir(dir, sizeof(dir), sdir, de->d_name, NULL) < 0 ||
            cir_live_path(file, sizeof(file), dir, CIR_LIVE_FILE_INDEX, 0) <
                0 ||
            stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        names[n] = ngx_pnalloc(r->pool, len + 1);
        if (names[n] == NULL) {
            closedir(d);
            return NGX_ERROR;
        }
        ngx_cpystrn((u_char *)names[n], (u_char *)de->d_name, len + 1);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(char *), name_cmp);
    *nb = n;
    return NGX_OK;
}

/* ---- loading what the request names ---- */

/* The stream's renditions as they are now (master, MPD: fetched rarely
 * compared with media playlists), read afresh into fresh[]. */
static ngx_int_t
load_stream(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
            cir_live_rendition_t *rends, size_t *nr, cir_live_index_t *fresh)
{
    char *names[MAX_RENDITIONS];
    char dir[CIR_LIVE_PATH_MAX];
    size_t nb = 0, i;

    if (list_renditions(r, ctx->sdir, names, &nb) == NGX_ERROR) {
        return NGX_ERROR;
    }
    for (i = 0; i < nb; i++) {
        ngx_memzero(&fresh[*nr], sizeof(cir_live_index_t));
        if (cir_live_dir(dir, sizeof(dir), ctx->sdir, names[i], NULL) == 0 &&
            cir_live_index_load(dir, &fresh[*nr]) == 0) {
            rends[*nr].name = names[i];
            rends[*nr].index = &fresh[*nr];
            (*nr)++;
        }
    }
    return NGX_OK;
}

/* The other renditions' cached indexes (rendition reports).  Loaded
 * before the request's own, which is fetched last: the cache keeps every
 * index one decision loads (INDEX_CACHE_SIZE). */
static ngx_int_t
load_siblings(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
              cir_live_rendition_t *rends, size_t *nr)
{
    char *names[MAX_RENDITIONS];
    char dir[CIR_LIVE_PATH_MAX];
    const cir_live_index_t *idx;
    size_t nb = 0, i;

    if (list_renditions(r, ctx->sdir, names, &nb) == NGX_ERROR) {
        return NGX_ERROR;
    }
    for (i = 0; i < nb; i++) {
        if (ngx_strcmp(names[i], ctx->req.path.rendition) == 0 ||
            cir_live_dir(dir, sizeof(dir), ctx->sdir, names[i], NULL) < 0 ||
            index_get(dir, &idx) < 0) {
            continue;
        }
        rends[*nr].name = names[i];
        rends[*nr].index = idx;
        (*nr)++;
    }
    return NGX_OK;
}

/* Loads what the request names into in; *entry: the cache entry of the
 * request's own rendition (NULL when it has none). */
static ngx_int_t
load(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx, cir_live_loaded_t *in,
     cir_live_rendition_t *rends, cir_live_index_t *fresh, size_t *nb_fresh,
     index_entry_t **entry)
{
    const cir_live_index_t *idx;
    index_entry_t *e;
    size_t nr = 0;

    *entry = NULL;
    ngx_memzero(in, sizeof(*in));
    if (ctx->req.load_stream) {
        if (load_stream(r, ctx, rends, &nr, fresh) != NGX_OK) {
            return NGX_ERROR;
        }
        *nb_fresh = nr;
    } else if (ctx->req.load_siblings &&
               load_siblings(r, ctx, rends, &nr) != NGX_OK) {
        return NGX_ERROR;
    }
    in->renditions = rends;
    in->nb_renditions = nr;
    if (ctx->req.load_rendition) {
        in->index_err = index_get(ctx->rdir, &idx);
        if (in->index_err == 0) {
            e = entry_of(idx);
            *entry = e;
            in->index = idx;
            in->cache = &e->playlists;
            /* the writer's clock, to the us: the file's mtime is the
             * kernel's coarse clock, a tick (1-10 ms) early */
            ctx->index_updated_us = idx->updated_us;
        }
    }
    return NGX_OK;
}

/* ---- carrying the answer out ---- */

/* Pending output of a streamed segment goes on when the socket allows. */
static void
stream_write(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t *clcf;

    if (r->connection->write->timedout) {
        r->connection->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }
    if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    if (ngx_handle_write_event(r->connection->write, clcf->send_lowat) !=
        NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}

/* resp->file as an ngx_str_t in the request pool. */
static ngx_int_t
pool_path(ngx_http_request_t *r, const char *file, ngx_str_t *path)
{
    path->len = ngx_strlen(file);
    path->data = ngx_pnalloc(r->pool, path->len + 1);
    if (path->data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(path->data, file, path->len + 1);
    return NGX_OK;
}

static ngx_int_t
link_buf(ngx_http_request_t *r, ngx_chain_t ***ll, ngx_buf_t *b)
{
    **ll = ngx_alloc_chain_link(r->pool);
    if (**ll == NULL) {
        return NGX_ERROR;
    }
    (**ll)->buf = b;
    (**ll)->next = NULL;
    *ll = &(**ll)->next;
    return NGX_OK;
}

/* The segment file, opened once per response (closed with the request),
 * and its size now: it grows as parts land. */
static ngx_int_t
stream_file(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx, const char *file,
            off_t *size)
{
    ngx_open_file_info_t of;
    ngx_file_info_t fi;
    ngx_str_t path;
    ngx_buf_t *b;

    if (ctx->stream_file == NULL) {
        if (pool_path(r, file, &path) != NGX_OK ||
            ngx_http_cirrus_open_buf(r, &path, &b, &of) != NGX_OK) {
            return NGX_ERROR;
        }
        ctx->stream_file = b;
        *size = of.size;
        return NGX_OK;
    }
    if (ngx_fd_info(ctx->stream_file->file->fd, &fi) == NGX_FILE_ERROR) {
        return NGX_ERROR;
    }
    *size = ngx_file_size(&fi);
    return NGX_OK;
}

/* One buf per part (one CMAF chunk each), flushed at once. */
static ngx_int_t
chunk_chain(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
            const cir_live_response_t *resp, ngx_chain_t **out)
{
    ngx_chain_t **ll = out;
    off_t file_size = 0;
    const cir_live_range_t *ch;
    ngx_buf_t *b;
    uint32_t i;

    for (i = 0; i < resp->nb_chunks; i++) {
        ch = &resp->chunks[i];
        if (i == 0 && stream_file(r, ctx, resp->file, &file_size) != NGX_OK) {
            return NGX_ERROR; /* the headers are out: only a cut left */
        }
        if ((off_t)(ch->offset + ch->size) > file_size) {
            return NGX_ERROR; /* the index lists bytes the file lacks */
        }
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }
        *b = *ctx->stream_file;
        b->file_pos = (off_t)ch->offset;
        b->file_last = (off_t)(ch->offset + ch->size);
        b->in_file = ch->size > 0;
        b->flush = 1;
        if (link_buf(r, &ll, b) != NGX_OK) {
            return NGX_ERROR;
        }
    }
    if (resp->last) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }
        b->last_buf = 1;
        b->last_in_chain = 1;
        return link_buf(r, &ll, b);
    }
    return NGX_OK;
}

/* LL-DASH: the headers once, then the parts origin/ listed as they land;
 * NGX_HTTP_CIRRUS_WAIT while the segment is open. */
static ngx_int_t
send_chunks(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
            const cir_live_response_t *resp)
{
    ngx_chain_t *out = NULL;
    ngx_int_t rc;

    if (resp->start) {
        rc = ngx_http_cirrus_send_header_only(r, resp->content_type,
                                              resp->cache, resp->cache_index);
        if (rc == NGX_ERROR || rc > NGX_OK) {
            return rc;
        }
        ctx->req.streaming = 1;
        r->write_event_handler = stream_write;
        /* each part must leave at once: no TCP_CORK (tcp_nopush) waiting
         * for a last buffer that is a segment away */
        if (r->connection->tcp_nopush == NGX_TCP_NOPUSH_UNSET) {
            r->connection->tcp_nopush = NGX_TCP_NOPUSH_DISABLED;
        }
    }
    if (chunk_chain(r, ctx, resp, &out) != NGX_OK) {
        return NGX_ERROR;
    }
    ctx->req.sent_parts = resp->sent_parts;
    if (out == NULL) {
        return NGX_HTTP_CIRRUS_WAIT;
    }
    if (ngx_http_output_filter(r, out) == NGX_ERROR) {
        return NGX_ERROR;
    }
    /* finalizing with output still buffered hands it to nginx's writer */
    return resp->last ? NGX_OK : NGX_HTTP_CIRRUS_WAIT;
}

/* The gzip form of the playlist cache's body (in e's cache), made the
 * first time it is asked for: every request for the same rendering (index
 * version, skip mode, rendition reports) shares it.  NULL when body is
 * not the cache's or compressing failed. */
static const gzip_entry_t *
gzip_cached(ngx_http_request_t *r, index_entry_t *e, const char *body,
            size_t len)
{
    gzip_entry_t *g;
    z_stream zs;
    size_t i;
    int rc, wbits;

    for (i = 0; i < PLAYLIST_MODES; i++) {
        if (e->playlists.body[i] == body && e->playlists.len[i] == len) {
            break;
        }
    }
    if (i == PLAYLIST_MODES) {
        return NULL;
    }
    g = &e->gz[i];
    if (g->data != NULL && g->src == body && g->sig == e->playlists.sig[i]) {
        return g;
    }
    ngx_free(g->data);
    ngx_memzero(g, sizeof(*g));
    ngx_memzero(&zs, sizeof(zs));
    /* a window no larger than the body (as nginx's gzip sizes it): zlib's
     * state for a 2 kB playlist is then a few kB, not 256 kB to clear;
     * 16 + wbits: a gzip wrapper */
    for (wbits = 9; wbits < MAX_WBITS && ((size_t)1 << wbits) < len; wbits++) {
    }
    if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 16 + wbits, wbits - 7,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    g->data = ngx_alloc(deflateBound(&zs, len), r->connection->log);
    if (g->data != NULL) {
        zs.next_in = (u_char *)body;
        zs.avail_in = len;
        zs.next_out = g->data;
        zs.avail_out = deflateBound(&zs, len);
        rc = deflate(&zs, Z_FINISH);
        if (rc == Z_STREAM_END) {
            g->len = zs.total_out;
            g->src = body;
            g->sig = e->playlists.sig[i];
        } else {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "cirrus: gzip of a playlist failed: %d", rc);
            ngx_free(g->data);
            g->data = NULL;
        }
    }
    deflateEnd(&zs);
    return g->data ? g : NULL;
}

/* cirrus_gzip: a playlist from the cache leaves gzipped when the client
 * takes it (nginx's gzip_http_version, gzip_proxied, gzip_disable and
 * gzip_vary apply): the compressed form shared with every request for
 * the same rendering.  NGX_DECLINED when it leaves as it is. */
static ngx_int_t
send_gzipped(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
             index_entry_t *e, const cir_live_response_t *resp)
{
#if (NGX_HTTP_GZIP)
    ngx_http_cirrus_loc_conf_t *lcf;
    const gzip_entry_t *g;
    u_char *copy;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    if (!lcf->gzip || e == NULL || resp->body_owned || !resp->manifest ||
        (ctx->uri_query != NULL && ctx->uri_query[0] != '\0') ||
        resp->body_len < GZIP_MIN_LENGTH || ngx_http_gzip_ok(r) != NGX_OK) {
        return NGX_DECLINED;
    }
    g = gzip_cached(r, e, resp->body, resp->body_len);
    if (g == NULL) {
        return NGX_DECLINED;
    }
    /* a copy for this response: the cache may change before it is sent */
    copy = ngx_pnalloc(r->pool, g->len);
    if (copy == NULL) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    ngx_memcpy(copy, g->data, g->len);
    if (ngx_http_cirrus_set_content_encoding(r, "gzip") != NGX_OK) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    return ngx_http_cirrus_send_body(
        r, resp->content_type, resp->cache, resp->cache_index,
        (time_t)resp->last_modified_s, (char *)copy, g->len, 0);
#else
    (void)r;
    (void)ctx;
    (void)e;
    (void)resp;
    return NGX_DECLINED;
#endif
}

static ngx_int_t
send_body(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx, index_entry_t *e,
          const cir_live_response_t *resp)
{
    char *body = resp->body;
    ngx_int_t rc;

    rc = send_gzipped(r, ctx, e, resp);
    if (rc != NGX_DECLINED) {
        return rc;
    }
    if (!resp->body_owned) {
        /* a copy for this response: the cache may change before it is
         * sent */
        body = ngx_pnalloc(r->pool, resp->body_len);
        if (body == NULL) {
            return ngx_http_cirrus_send_error(r, 500);
        }
        ngx_memcpy(body, resp->body, resp->body_len);
    }
    if (resp->manifest) {
        return ngx_http_cirrus_send_manifest(
            r, ctx->uri_query, resp->content_type, resp->cache,
            resp->cache_index, (time_t)resp->last_modified_s, body,
            resp->body_len, resp->body_owned);
    }
    return ngx_http_cirrus_send_body(
        r, resp->content_type, resp->cache, resp->cache_index,
        (time_t)resp->last_modified_s, body, resp->body_len, resp->body_owned);
}

/* Carries origin/'s answer out: the value for ngx_http_finalize_request,
 * or NGX_HTTP_CIRRUS_WAIT. */
static ngx_int_t
answer(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx, index_entry_t *e,
       const cir_live_response_t *resp)
{
    ngx_str_t path;

    switch (resp->action) {
    case CIR_LIVE_SEND_BODY:
        return send_body(r, ctx, e, resp);
    case CIR_LIVE_SEND_FILE:
        if (pool_path(r, resp->file, &path) != NGX_OK) {
            return ngx_http_cirrus_send_error(r, 500);
        }
        if (resp->length < 0) {
            return ngx_http_cirrus_send_file(r, &path, resp->content_type,
                                             resp->cache, resp->cache_index);
        }
        return ngx_http_cirrus_send_file_range(
            r, &path, resp->content_type, resp->cache, resp->cache_index,
            (off_t)resp->offset, (off_t)resp->length,
            (time_t)resp->last_modified_s);
    case CIR_LIVE_SEND_CHUNKS:
        return send_chunks(r, ctx, resp);
    case CIR_LIVE_WAIT:
        return NGX_HTTP_CIRRUS_WAIT;
    case CIR_LIVE_SEND_ERROR:
    default:
        if (resp->error != 0) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "cirrus: %s/%s answered %ui: %s",
                          ctx->req.path.stream, ctx->req.path.rendition,
                          (ngx_uint_t)resp->status, cir_strerror(resp->error));
        }
        /* a streamed segment has sent its headers: only a cut is left */
        return ctx->req.streaming ? NGX_ERROR
                                  : ngx_http_cirrus_send_error(r, resp->status);
    }
}

/* One decision: load what the request names, ask origin/, answer.
 * NGX_HTTP_CIRRUS_WAIT while it must wait (resp says on what and how
 * long), else the value for ngx_http_finalize_request. */
static ngx_int_t
decide(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
       cir_live_response_t *resp)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    cir_live_rendition_t rends[MAX_RENDITIONS];
    cir_live_index_t fresh[MAX_RENDITIONS];
    cir_live_respond_config_t cfg;
    cir_live_loaded_t in;
    index_entry_t *entry;
    size_t nb_fresh = 0, i;
    ngx_int_t rc;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    cfg.root = (const char *)lcf->root.data;
    cfg.utc_timing_url = (const char *)lcf->time_url.data;
    cfg.now_us = now_us();
    cfg.block_cap_us = (int64_t)lcf->block_timeout * 1000;
    if (load(r, ctx, &in, rends, fresh, &nb_fresh, &entry) != NGX_OK ||
        cir_live_respond(&ctx->req, &in, &cfg, resp) < 0) {
        rc =
            ctx->req.streaming ? NGX_ERROR : ngx_http_cirrus_send_error(r, 500);
    } else {
        rc = answer(r, ctx, entry, resp);
    }
    for (i = 0; i < nb_fresh; i++) {
        cir_live_index_free(&fresh[i]);
    }
    return rc;
}

/* The wait machinery's retry (ctx->decide): the index changed. */
static ngx_int_t
decide_again(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx)
{
    cir_live_response_t resp;

    return decide(r, ctx, &resp);
}

static ngx_uint_t
kind_of(cir_req_kind_t k)
{
    switch (k) {
    case CIR_REQ_MASTER:
        return NGX_HTTP_CIRRUS_K_MASTER;
    case CIR_REQ_MPD:
        return NGX_HTTP_CIRRUS_K_MPD;
    case CIR_REQ_PLAYLIST:
        return NGX_HTTP_CIRRUS_K_PLAYLIST;
    case CIR_REQ_INIT:
        return NGX_HTTP_CIRRUS_K_INIT;
    case CIR_REQ_PART:
        return NGX_HTTP_CIRRUS_K_PART;
    case CIR_REQ_SEGMENT:
        return NGX_HTTP_CIRRUS_K_SEGMENT;
    default:
        return NGX_HTTP_CIRRUS_K_OTHER;
    }
}

/* The store folder of the stream (rendition NULL) or of the rendition, as
 * an exact-size string in the request pool: a held request costs little. */
static char *
pool_dir(ngx_http_request_t *r, const char *root, const char *stream,
         const char *rendition)
{
    char dir[CIR_LIVE_PATH_MAX];
    size_t len;
    char *p;

    if (cir_live_dir(dir, sizeof(dir), root, stream, rendition) < 0) {
        return NULL;
    }
    len = ngx_strlen(dir) + 1;
    p = ngx_pnalloc(r->pool, len);
    if (p != NULL) {
        ngx_memcpy(p, dir, len);
    }
    return p;
}

/* Parses the request (origin/) and sets up its context: 0, or the
 * status to answer. */
static ngx_uint_t
live_start(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx, const u_char *raw,
           size_t len)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    const char *root;
    int err;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    err = cir_live_request_parse((const char *)raw, len,
                                 (const char *)r->args.data, r->args.len,
                                 &ctx->req);
    if (err < 0 && ctx->req.bad_query) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cirrus: %s/%s: bad delivery directives \"%V\"",
                      ctx->req.path.stream, ctx->req.path.rendition, &r->args);
        return NGX_HTTP_BAD_REQUEST;
    }
    if (err < 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cirrus: live path \"%*s\" rejected: %s", len, raw,
                      cir_strerror(err));
        return err == CIR_EINVAL ? NGX_HTTP_BAD_REQUEST : NGX_HTTP_NOT_FOUND;
    }
    ctx->kind = kind_of(ctx->req.path.kind);
    ctx->req.head = r->method == NGX_HTTP_HEAD;
    ctx->decide = decide_again;
    root = (const char *)lcf->root.data;
    ctx->sdir = pool_dir(r, root, ctx->req.path.stream, NULL);
    ctx->rdir = pool_dir(r, root, ctx->req.path.stream,
                         ctx->req.path.kind == CIR_REQ_MASTER ||
                                 ctx->req.path.kind == CIR_REQ_MPD
                             ? ""
                             : ctx->req.path.rendition);
    if (ctx->sdir == NULL || ctx->rdir == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return 0;
}

ngx_int_t
ngx_http_cirrus_live_handler(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                             const u_char *raw, size_t len)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    cir_live_response_t resp;
    ngx_uint_t status;
    ngx_int_t rc;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    status = live_start(r, ctx, raw, len);
    if (status != 0) {
        return ngx_http_cirrus_send_error(r, status);
    }
    rc = decide(r, ctx, &resp);
    if (rc != NGX_HTTP_CIRRUS_WAIT) {
        return rc;
    }
    if (ngx_http_cirrus_wait_count() >= lcf->max_blocked) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "cirrus: %s/%s: %ui requests blocked already",
                      ctx->req.path.stream, ctx->req.path.rendition,
                      lcf->max_blocked);
        /* a streamed segment has sent its headers: only a cut is left */
        return ctx->req.streaming ? NGX_ERROR
                                  : ngx_http_cirrus_send_error(
                                        r, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
    rc = ngx_http_cirrus_wait_watch(r, ctx, resp.wait_dir, resp.wait_file);
    if (rc == NGX_ERROR) {
        return ctx->req.streaming ? NGX_ERROR
                                  : ngx_http_cirrus_send_error(
                                        r, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
    if (rc == 1) {
        /* a new watch: the index may have changed before it existed */
        rc = decide(r, ctx, &resp);
        if (rc != NGX_HTTP_CIRRUS_WAIT) {
            return rc;
        }
    }
    return ngx_http_cirrus_wait_hold(
        r, ctx,
        (ngx_msec_t)(resp.block_limit_us < 1000 ? 1
                                                : resp.block_limit_us / 1000));
}
