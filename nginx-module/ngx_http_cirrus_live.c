/*
 * The live path: parse the request (origin/), load the rendition's index
 * (cached per worker by the file's identity), let origin/ decide, then
 * render, serve the file, fail, or hand the request to the waiting
 * machinery (ngx_http_cirrus_wait.c).
 */
#include "ngx_http_cirrus.h"

#include "cir_error.h"
#include "cir_storage.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#define INDEX_CACHE_SIZE 64
#define MAX_RENDITIONS   32

/* A decoded index per rendition folder, valid while the index file keeps
 * its identity (inode, size, mtime): the writer replaces it by rename. */
typedef struct {
    char dir[NGX_HTTP_CIRRUS_PATH_MAX];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    ngx_uint_t used; /* LRU tick, 0: empty */
    cir_live_index_t idx;
    /* the media playlist last rendered from this index, per _HLS_skip
     * mode, with a signature of the rendition reports it holds: while
     * neither changes, the same text is sent again without rendering */
    char *body[3];
    size_t body_len[3];
    uint64_t body_sig[3];
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

/*
 * The index of a rendition folder.  The pointer stays valid until the next
 * call (a later call may evict it): callers fetch the one they render from
 * last.  0, CIR_ENOTFOUND (no such folder or index), or another error.
 */
static int
index_get(const char *dir, const cir_live_index_t **out)
{
    char file[NGX_HTTP_CIRRUS_PATH_MAX + 8];
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
    if (ngx_strlen(dir) >= NGX_HTTP_CIRRUS_PATH_MAX) {
        return CIR_ENOTFOUND;
    }
    ngx_snprintf((u_char *)file, sizeof(file), "%s/index%Z", dir);
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
    for (i = 0; i < 3; i++) {
        free(victim->body[i]);
        victim->body[i] = NULL;
    }
    ngx_cpystrn((u_char *)victim->dir, (u_char *)dir, sizeof(victim->dir));
    victim->dev = st.st_dev;
    victim->ino = st.st_ino;
    victim->size = st.st_size;
    victim->mtime = st.st_mtim;
    victim->idx = idx;
    victim->used = ++index_tick;
    *out = &victim->idx;
    return 0;
}

/* The cache entry that holds *idx (index_get's last answer). */
static index_entry_t *
entry_of(const cir_live_index_t *idx)
{
    return (index_entry_t *)((char *)idx - offsetof(index_entry_t, idx));
}

int64_t
ngx_http_cirrus_live_index_mtime_us(const char *dir)
{
    ngx_uint_t i;

    for (i = 0; index_cache && i < INDEX_CACHE_SIZE; i++) {
        if (index_cache[i].used && ngx_strcmp(index_cache[i].dir, dir) == 0) {
            return (int64_t)index_cache[i].mtime.tv_sec * 1000000 +
                   index_cache[i].mtime.tv_nsec / 1000;
        }
    }
    return 0;
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
    char file[NGX_HTTP_CIRRUS_PATH_MAX + 2 * CIR_LIVE_ID_MAX];
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
        ngx_snprintf((u_char *)file, sizeof(file), "%s/%s/index%Z", sdir,
                     de->d_name);
        if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
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

static ngx_uint_t
status_for(int err)
{
    switch (err) {
    case CIR_ENOTFOUND:
        return NGX_HTTP_NOT_FOUND;
    case CIR_EINVAL:
        return NGX_HTTP_BAD_REQUEST;
    default:
        return NGX_HTTP_SERVICE_UNAVAILABLE; /* torn or unreadable */
    }
}

static ngx_int_t
send_rendered(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
              const char *ctype, cir_cache_kind_t kind,
              const cir_live_index_t *idx, cir_buf_t *out)
{
    size_t len;
    char *body;

    body = cir_buf_detach(out, &len);
    if (body == NULL) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    return ngx_http_cirrus_send_manifest(r, ctx, ctype, kind, idx,
                                         (time_t)(idx->updated_us / 1000000),
                                         body, len, 1);
}

/* Master playlist or MPD: every rendition of the stream, loaded afresh
 * (these are fetched rarely compared with media playlists). */
static ngx_int_t
live_stream_manifest(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    char *names[MAX_RENDITIONS];
    char dir[NGX_HTTP_CIRRUS_PATH_MAX + CIR_LIVE_ID_MAX];
    cir_live_index_t idx[MAX_RENDITIONS];
    const cir_live_index_t *tracks[MAX_RENDITIONS];
    cir_dash_live_config_t cfg;
    cir_buf_t out;
    size_t nb = 0, nt = 0, i;
    ngx_int_t rc;
    int err;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    rc = list_renditions(r, ctx->sdir, names, &nb);
    if (rc == NGX_ERROR) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    for (i = 0; i < nb; i++) {
        ngx_snprintf((u_char *)dir, sizeof(dir), "%s/%s%Z", ctx->sdir,
                     names[i]);
        ngx_memzero(&idx[nt], sizeof(cir_live_index_t));
        if (cir_live_index_load(dir, &idx[nt]) == 0) {
            tracks[nt] = &idx[nt];
            nt++;
        }
    }
    if (nt == 0) {
        return ngx_http_cirrus_send_error(r, NGX_HTTP_NOT_FOUND);
    }
    cir_buf_init(&out, NGX_HTTP_CIRRUS_BODY_MAX);
    if (ctx->path.kind == CIR_REQ_MASTER) {
        err = cir_hls_render_live_master(tracks, nt, &out);
    } else {
        cfg.utc_timing_url = (const char *)lcf->time_url.data;
        cfg.now_us = now_us();
        cfg.latency_target_ms = 0; /* origin's default */
        err = cir_dash_render_live(tracks, nt, &cfg, &out);
    }
    if (err < 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cirrus: rendering %s of stream \"%s\" failed: %s",
                      ctx->path.kind == CIR_REQ_MASTER ? "master" : "MPD",
                      ctx->path.stream, cir_strerror(err));
        rc = ngx_http_cirrus_send_error(r, 503);
    } else if (ctx->path.kind == CIR_REQ_MASTER) {
        rc = send_rendered(r, ctx, "application/vnd.apple.mpegurl",
                           tracks[0]->ended ? CIR_CACHE_ENDED_PLAYLIST
                                            : CIR_CACHE_LIVE_PLAYLIST,
                           tracks[0], &out);
    } else {
        rc = send_rendered(r, ctx, "application/dash+xml", CIR_CACHE_LIVE_MPD,
                           tracks[0], &out);
    }
    cir_buf_free(&out);
    for (i = 0; i < nt; i++) {
        cir_live_index_free(&idx[i]);
    }
    return rc;
}

/* FNV-1a over the rendition reports: what a cached playlist must match. */
static uint64_t
reports_signature(const cir_rendition_report_t *reports, size_t nr)
{
    uint64_t h = 14695981039346656037ULL;
    const u_char *p;
    size_t i, k;

    for (i = 0; i < nr; i++) {
        uint64_t v[2] = {reports[i].last_msn, (uint64_t)reports[i].last_part};
        p = (const u_char *)v;
        for (k = 0; k < sizeof(v); k++) {
            h = (h ^ p[k]) * 1099511628211ULL;
        }
        for (p = (const u_char *)reports[i].uri; *p; p++) {
            h = (h ^ *p) * 1099511628211ULL;
        }
    }
    return h ^ nr;
}

/* The decided media playlist: rendition reports for the siblings (loaded
 * first, since loading may evict), then this rendition's index. */
static ngx_int_t
live_render_playlist(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx)
{
    char *names[MAX_RENDITIONS];
    char dir[NGX_HTTP_CIRRUS_PATH_MAX + CIR_LIVE_ID_MAX];
    cir_rendition_report_t reports[MAX_RENDITIONS];
    const cir_live_index_t *idx;
    cir_cache_kind_t kind;
    size_t nb = 0, nr = 0, i, ulen;
    index_entry_t *e;
    ngx_uint_t mode;
    uint64_t sig;
    char *body;
    cir_buf_t out;
    uint64_t msn;
    char *uri;
    int part, err;

    if (list_renditions(r, ctx->sdir, names, &nb) == NGX_ERROR) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    for (i = 0; i < nb; i++) {
        if (ngx_strcmp(names[i], ctx->path.rendition) == 0) {
            continue;
        }
        ngx_snprintf((u_char *)dir, sizeof(dir), "%s/%s%Z", ctx->sdir,
                     names[i]);
        if (index_get(dir, &idx) < 0 ||
            cir_live_index_last(idx, &msn, &part) < 0) {
            continue;
        }
        ulen = ngx_strlen(names[i]) + sizeof("../") + sizeof("/index.m3u8");
        uri = ngx_pnalloc(r->pool, ulen);
        if (uri == NULL) {
            return ngx_http_cirrus_send_error(r, 500);
        }
        ngx_snprintf((u_char *)uri, ulen, "../%s/index.m3u8%Z", names[i]);
        reports[nr].last_msn = msn;
        reports[nr].last_part = part;
        reports[nr].uri = uri;
        nr++;
    }
    err = index_get(ctx->rdir, &idx);
    if (err < 0) {
        return ngx_http_cirrus_send_error(r, status_for(err));
    }
    if (idx->ended) {
        kind = CIR_CACHE_ENDED_PLAYLIST;
    } else if (ctx->directives.has_msn) {
        kind = CIR_CACHE_BLOCKING_PLAYLIST;
    } else {
        kind = CIR_CACHE_LIVE_PLAYLIST;
    }
    e = entry_of(idx);
    mode = ctx->directives.skip <= CIR_SKIP_V2 ? ctx->directives.skip : 0;
    sig = reports_signature(reports, nr);
    if (e->body[mode] == NULL || e->body_sig[mode] != sig) {
        cir_buf_init(&out, NGX_HTTP_CIRRUS_BODY_MAX);
        err =
            cir_hls_render_live_media(idx, &ctx->directives, reports, nr, &out);
        if (err < 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "cirrus: rendering %s/%s failed: %s",
                          ctx->path.stream, ctx->path.rendition,
                          cir_strerror(err));
            cir_buf_free(&out);
            return ngx_http_cirrus_send_error(r, 503);
        }
        free(e->body[mode]);
        e->body[mode] = cir_buf_detach(&out, &e->body_len[mode]);
        e->body_sig[mode] = sig;
        if (e->body[mode] == NULL) {
            return ngx_http_cirrus_send_error(r, 500);
        }
    }
    /* a copy for this response: the cache may change before it is sent */
    body = ngx_pnalloc(r->pool, e->body_len[mode]);
    if (body == NULL) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    ngx_memcpy(body, e->body[mode], e->body_len[mode]);
    return ngx_http_cirrus_send_manifest(
        r, ctx, "application/vnd.apple.mpegurl", kind, idx,
        (time_t)(idx->updated_us / 1000000), body, e->body_len[mode], 0);
}

/* <rdir>/seg-<msn>.m4s in the request pool. */
static ngx_int_t
segment_path(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx, uint64_t msn,
             ngx_str_t *path)
{
    size_t len = ngx_strlen(ctx->rdir) + 32;

    path->data = ngx_pnalloc(r->pool, len);
    if (path->data == NULL) {
        return NGX_ERROR;
    }
    path->len =
        ngx_snprintf(path->data, len, "%s/seg-%uL.m4s%Z", ctx->rdir, msn) -
        path->data - 1;
    return NGX_OK;
}

static ngx_int_t
send_empty_chunk(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                 const cir_live_index_t *idx, const cir_live_segment_t *seg)
{
    cir_buf_t out;
    char *body;
    size_t len;

    cir_buf_init(&out, CIR_LIVE_GAP_CHUNK_SIZE);
    if (cir_live_gap_chunk(&out, seg) < 0 ||
        (body = cir_buf_detach(&out, &len)) == NULL) {
        cir_buf_free(&out);
        return ngx_http_cirrus_send_error(r, 500);
    }
    /* the same bytes on every answer: immutable like any part */
    return ngx_http_cirrus_send_body(
        r, cir_content_type(ctx->rel), CIR_CACHE_MEDIA, idx,
        (time_t)(seg->pdt_us / 1000000), body, len, 1);
}

/* A part is the byte range of its segment file that the index records
 * (cir_live.h); an init segment or a whole segment is its file. */
static ngx_int_t
live_send_object(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                 const cir_live_index_t *idx)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    const cir_live_segment_t *seg;
    uint64_t off;
    uint32_t size;
    ngx_str_t path;

    if (ctx->path.kind == CIR_REQ_PART) {
        seg = cir_live_index_segment(idx, ctx->path.msn);
        if (seg != NULL && seg->gap && ctx->path.part == 0) {
            /* a hinted first part whose number became an outage's GAP
             * segment: a chunk without media (cir_live_gap_chunk) */
            return send_empty_chunk(r, ctx, idx, seg);
        }
        if (cir_live_index_part_range(idx, ctx->path.msn, ctx->path.part, &off,
                                      &size) < 0 ||
            size == 0) {
            /* aged out of the index: gone from the store too */
            return ngx_http_cirrus_send_error(r, NGX_HTTP_NOT_FOUND);
        }
        if (segment_path(r, ctx, ctx->path.msn, &path) != NGX_OK) {
            return ngx_http_cirrus_send_error(r, 500);
        }
        /* Last-Modified (and so the ETag): the segment's wall clock, the
         * same on every answer for these bytes */
        return ngx_http_cirrus_send_file_range(
            r, &path, cir_content_type(ctx->rel), CIR_CACHE_MEDIA, idx,
            (off_t)off, (off_t)size, (time_t)(seg->pdt_us / 1000000));
    }
    seg = ctx->path.kind == CIR_REQ_SEGMENT
              ? cir_live_index_segment(idx, ctx->path.msn)
              : NULL;
    if (seg != NULL && seg->complete && seg->size > 0) {
        /* exactly the bytes the index lists for it */
        if (segment_path(r, ctx, seg->msn, &path) != NGX_OK) {
            return ngx_http_cirrus_send_error(r, 500);
        }
        return ngx_http_cirrus_send_file_range(
            r, &path, cir_content_type(ctx->rel), CIR_CACHE_MEDIA, idx, 0,
            (off_t)seg->size, (time_t)(seg->pdt_us / 1000000));
    }
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    path.len = lcf->root.len + 1 + ngx_strlen(ctx->rel);
    path.data = ngx_pnalloc(r->pool, path.len + 1);
    if (path.data == NULL) {
        return ngx_http_cirrus_send_error(r, 500);
    }
    ngx_snprintf(path.data, path.len + 1, "%V/%s%Z", &lcf->root, ctx->rel);
    return ngx_http_cirrus_send_file(r, &path, cir_content_type(ctx->rel),
                                     CIR_CACHE_MEDIA, idx);
}

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

/*
 * LL-DASH (D7): a request for the open segment is answered at once with a
 * chunked response carrying the parts written so far, then each part as it
 * lands (one CMAF chunk each: the segment file is its parts in order), and
 * ends when the segment completes.  NGX_HTTP_CIRRUS_WAIT while it goes on,
 * NGX_DECLINED if the segment is not open (the caller decides as usual), else
 * the value for ngx_http_finalize_request.
 */
static ngx_int_t
live_stream_segment(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                    const cir_live_index_t *idx)
{
    const cir_live_segment_t *seg;
    ngx_chain_t *out = NULL, **ll = &out;
    ngx_open_file_info_t of;
    ngx_file_info_t fi;
    off_t file_size = 0;
    ngx_buf_t *b, *from;
    ngx_str_t path;
    ngx_int_t rc;
    uint64_t off;
    uint32_t i, size;

    seg = cir_live_index_segment(idx, ctx->path.msn);
    if (seg == NULL ||
        (!ctx->streaming && (seg->complete || seg->nb_parts == 0))) {
        return NGX_DECLINED; /* not open yet, or whole: the usual way */
    }
    if (!ctx->streaming) {
        rc = ngx_http_cirrus_send_header_only(r, "video/iso.segment",
                                              CIR_CACHE_MEDIA, idx);
        if (rc == NGX_ERROR || rc > NGX_OK) {
            return rc;
        }
        ctx->streaming = 1;
        r->write_event_handler = stream_write;
        /* each part must leave at once: no TCP_CORK (tcp_nopush) waiting
         * for a last buffer that is a segment away */
        if (r->connection->tcp_nopush == NGX_TCP_NOPUSH_UNSET) {
            r->connection->tcp_nopush = NGX_TCP_NOPUSH_DISABLED;
        }
    }
    if (seg->nb_parts < ctx->sent_parts) {
        return NGX_ERROR; /* the parts aged out under us: cut it short */
    }
    /* the parts listed since the last call: one range of the segment file,
     * sent as one CMAF chunk per part */
    from = NULL;
    for (i = ctx->sent_parts; i < seg->nb_parts; i++) {
        if (cir_live_index_part_range(idx, seg->msn, i, &off, &size) < 0) {
            return NGX_ERROR;
        }
        if (from == NULL && ctx->stream_file == NULL) {
            /* opened once per response, closed with the request */
            if (segment_path(r, ctx, seg->msn, &path) != NGX_OK ||
                ngx_http_cirrus_open_buf(r, &path, &from, &of) != NGX_OK) {
                return NGX_ERROR; /* the headers are out: only a cut left */
            }
            ctx->stream_file = from;
            file_size = of.size;
        } else if (from == NULL) {
            /* the file has grown since: its size now */
            from = ctx->stream_file;
            if (ngx_fd_info(from->file->fd, &fi) == NGX_FILE_ERROR) {
                return NGX_ERROR;
            }
            file_size = ngx_file_size(&fi);
        }
        if ((off_t)(off + size) > file_size) {
            return NGX_ERROR; /* the index lists bytes the file lacks */
        }
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }
        *b = *from;
        b->file_pos = (off_t)off;
        b->file_last = (off_t)(off + size);
        b->in_file = size > 0;
        b->flush = 1;
        *ll = ngx_alloc_chain_link(r->pool);
        if (*ll == NULL) {
            return NGX_ERROR;
        }
        (*ll)->buf = b;
        (*ll)->next = NULL;
        ll = &(*ll)->next;
    }
    ctx->sent_parts = seg->nb_parts;
    if (seg->complete) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }
        b->last_buf = 1;
        b->last_in_chain = 1;
        *ll = ngx_alloc_chain_link(r->pool);
        if (*ll == NULL) {
            return NGX_ERROR;
        }
        (*ll)->buf = b;
        (*ll)->next = NULL;
    }
    if (out == NULL) {
        return NGX_HTTP_CIRRUS_WAIT;
    }
    rc = ngx_http_output_filter(r, out);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }
    /* finalizing with output still buffered hands it to nginx's writer */
    return seg->complete ? NGX_OK : NGX_HTTP_CIRRUS_WAIT;
}

ngx_int_t
ngx_http_cirrus_live_process(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                             int64_t *block_limit_us)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    const cir_live_index_t *idx;
    cir_decision_t d;
    int err;

    ngx_int_t rc;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    if (ctx->path.kind == CIR_REQ_MASTER || ctx->path.kind == CIR_REQ_MPD) {
        return live_stream_manifest(r, ctx);
    }
    err = index_get(ctx->rdir, &idx);
    if (err < 0) {
        if (err != CIR_ENOTFOUND) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "cirrus: index of %s/%s unreadable: %s",
                          ctx->path.stream, ctx->path.rendition,
                          cir_strerror(err));
        }
        return ngx_http_cirrus_send_error(r, status_for(err));
    }
    if (ctx->path.kind == CIR_REQ_PLAYLIST) {
        d = cir_hls_decide_playlist(idx, &ctx->directives);
    } else {
        d = cir_live_decide_object(idx, &ctx->path);
    }
    if (ctx->path.kind == CIR_REQ_SEGMENT && r->method != NGX_HTTP_HEAD &&
        (ctx->streaming || d == CIR_DECIDE_WAIT)) {
        rc = live_stream_segment(r, ctx, idx);
        if (rc == NGX_HTTP_CIRRUS_WAIT && block_limit_us) {
            /* the segment must complete within the block limit */
            *block_limit_us =
                cir_hls_block_limit_us(idx, (int64_t)lcf->block_timeout * 1000);
        }
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }
    switch (d) {
    case CIR_DECIDE_READY:
        if (ctx->path.kind == CIR_REQ_PLAYLIST) {
            return live_render_playlist(r, ctx);
        }
        return live_send_object(r, ctx, idx);
    case CIR_DECIDE_WAIT:
        if (block_limit_us) {
            *block_limit_us =
                cir_hls_block_limit_us(idx, (int64_t)lcf->block_timeout * 1000);
        }
        return NGX_HTTP_CIRRUS_WAIT;
    case CIR_DECIDE_BAD_REQUEST:
        return ngx_http_cirrus_send_error(r, NGX_HTTP_BAD_REQUEST);
    case CIR_DECIDE_GONE:
        return ngx_http_cirrus_send_error(r, 410);
    case CIR_DECIDE_NOT_FOUND:
    default:
        return ngx_http_cirrus_send_error(r, NGX_HTTP_NOT_FOUND);
    }
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

/* a, or a + "/" + b, as an exact-size string in the request pool. */
static char *
pool_join(ngx_http_request_t *r, const char *a, const char *b)
{
    size_t len = ngx_strlen(a) + (b ? ngx_strlen(b) + 1 : 0) + 1;
    char *p;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }
    if (b) {
        ngx_snprintf((u_char *)p, len, "%s/%s%Z", a, b);
    } else {
        ngx_snprintf((u_char *)p, len, "%s%Z", a);
    }
    return p;
}

ngx_int_t
ngx_http_cirrus_live_handler(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                             const u_char *raw, size_t len)
{
    ngx_http_cirrus_loc_conf_t *lcf;
    char rel[NGX_HTTP_CIRRUS_PATH_MAX];
    int64_t limit_us = 0;
    ngx_int_t rc;
    int err;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cirrus_module);
    err = cir_origin_normalize_path((const char *)raw, len, rel, sizeof(rel));
    if (err == 0) {
        err = cir_origin_parse_live_path(rel, &ctx->path);
    }
    if (err < 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "cirrus: live path \"%*s\" rejected: %s", len, raw,
                      cir_strerror(err));
        return ngx_http_cirrus_send_error(
            r, status_for(err) == 503 ? NGX_HTTP_NOT_FOUND : status_for(err));
    }
    ctx->kind = kind_of(ctx->path.kind);
    /* exact-size copies: a held request costs little */
    ctx->rel = pool_join(r, rel, NULL);
    ctx->sdir = pool_join(r, (const char *)lcf->root.data, ctx->path.stream);
    ctx->rdir = ctx->sdir ? pool_join(r, ctx->sdir, ctx->path.rendition) : NULL;
    if (ctx->rel == NULL || ctx->rdir == NULL) {
        return ngx_http_cirrus_send_error(r, 500);
    }

    if (ctx->path.kind == CIR_REQ_PLAYLIST) {
        err = cir_hls_parse_directives((const char *)r->args.data, r->args.len,
                                       &ctx->directives);
        if (err < 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "cirrus: %s/%s: bad delivery directives \"%V\"",
                          ctx->path.stream, ctx->path.rendition, &r->args);
            return ngx_http_cirrus_send_error(r, NGX_HTTP_BAD_REQUEST);
        }
    }

    rc = ngx_http_cirrus_live_process(r, ctx, &limit_us);
    if (rc != NGX_HTTP_CIRRUS_WAIT) {
        return rc;
    }
    if (ngx_http_cirrus_wait_count() >= lcf->max_blocked) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "cirrus: %s/%s: %ui requests blocked already",
                      ctx->path.stream, ctx->path.rendition, lcf->max_blocked);
        /* a streamed segment has sent its headers: only a cut is left */
        return ctx->streaming ? NGX_ERROR
                              : ngx_http_cirrus_send_error(
                                    r, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
    rc = ngx_http_cirrus_wait_watch(r, ctx);
    if (rc == NGX_ERROR) {
        return ctx->streaming ? NGX_ERROR
                              : ngx_http_cirrus_send_error(
                                    r, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
    if (rc == 1) {
        /* a new watch: the index may have changed before it existed */
        rc = ngx_http_cirrus_live_process(r, ctx, &limit_us);
        if (rc != NGX_HTTP_CIRRUS_WAIT) {
            return rc;
        }
    }
    if (limit_us < 1000) {
        limit_us = 1000;
    }
    return ngx_http_cirrus_wait_hold(r, ctx, (ngx_msec_t)(limit_us / 1000));
}
