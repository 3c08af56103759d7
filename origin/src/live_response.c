/*
 * One live request, one answer: from the parsed request and the indexes
 * the adapter loaded, the complete response (a body, a file or a byte
 * range of one, LL-DASH chunks, a wait for the next index, or an error)
 * with its status, cache kind, content type and block limit.  The nginx
 * module only reads files, waits and sends.  Pure: no I/O, no clock.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"
#include "cir_storage.h"

#define BODY_MAX (4 << 20) /* a rendered manifest */

static const char HLS_TYPE[] = "application/vnd.apple.mpegurl";
static const char MPD_TYPE[] = "application/dash+xml";

int
cir_live_request_parse(const char *path, size_t len, const char *query,
                       size_t query_len, cir_live_request_t *req)
{
    char rel[CIR_LIVE_PATH_MAX];
    int err;

    if (path == NULL || req == NULL) {
        return CIR_EINVAL;
    }
    memset(req, 0, sizeof(*req));
    err = cir_origin_normalize_path(path, len, rel, sizeof(rel));
    if (err == 0) {
        err = cir_origin_parse_live_path(rel, &req->path);
    }
    if (err < 0) {
        return err == CIR_EINVAL ? CIR_EINVAL : CIR_ENOTFOUND;
    }
    req->content_type = cir_content_type(rel);
    switch (req->path.kind) {
    case CIR_REQ_MASTER:
    case CIR_REQ_MPD:
        req->load_stream = 1;
        return 0;
    case CIR_REQ_PLAYLIST:
        req->load_siblings = 1;
        req->load_rendition = 1;
        if (cir_hls_parse_directives(query, query ? query_len : 0,
                                     &req->directives) < 0) {
            req->bad_query = 1;
            return CIR_EINVAL;
        }
        return 0;
    default:
        req->load_rendition = 1;
        return 0;
    }
}

void
cir_live_playlist_cache_free(cir_live_playlist_cache_t *c)
{
    size_t i;

    for (i = 0; c && i < 3; i++) {
        free(c->body[i]);
        c->body[i] = NULL;
        c->len[i] = 0;
        c->sig[i] = 0;
    }
}

/* ---- small answers ---- */

static int
answer_error(cir_live_response_t *resp, unsigned status, int err)
{
    resp->action = CIR_LIVE_SEND_ERROR;
    resp->status = status;
    resp->error = err;
    resp->cache = CIR_CACHE_ERROR;
    resp->cache_index = NULL;
    resp->content_type = "text/plain";
    resp->last_modified_s = -1;
    return 0;
}

/* What a failed index load answers: missing is 404, torn or unreadable
 * 503 (the next update will be whole). */
static unsigned
status_for(int err)
{
    switch (err) {
    case CIR_ENOTFOUND:
        return 404;
    case CIR_EINVAL:
        return 400;
    default:
        return 503;
    }
}

/* A manifest body rendered from idx: owned (malloc()ed, the adapter
 * frees it) or the playlist cache's (the adapter copies it: the cache may
 * change before the response is sent). */
static int
answer_body(cir_live_response_t *resp, char *body, size_t len, int owned,
            const char *content_type, cir_cache_kind_t cache,
            const cir_live_index_t *idx)
{
    if (body == NULL) {
        return answer_error(resp, 500, CIR_ENOMEM);
    }
    resp->action = CIR_LIVE_SEND_BODY;
    resp->status = 200;
    resp->body = body;
    resp->body_len = len;
    resp->body_owned = (uint8_t)owned;
    resp->manifest = 1;
    resp->content_type = content_type;
    resp->cache = cache;
    resp->cache_index = idx;
    resp->last_modified_s = idx->updated_us / 1000000;
    return 0;
}

/* A rendered body, detached from out into resp, which owns it. */
static int
answer_rendered(cir_live_response_t *resp, cir_buf_t *out,
                const char *content_type, cir_cache_kind_t cache,
                const cir_live_index_t *idx)
{
    size_t len = 0;
    char *body = cir_buf_detach(out, &len);

    return answer_body(resp, body, len, 1, content_type, cache, idx);
}

/* <root>/<stream>/<rendition>/<file>, n the file's number. */
static int
store_file(const cir_live_request_t *req, const cir_live_respond_config_t *cfg,
           cir_live_file_t kind, uint64_t n, char *out, size_t size)
{
    char dir[CIR_LIVE_PATH_MAX];
    int err;

    err = cir_live_dir(dir, sizeof(dir), cfg->root, req->path.stream,
                       req->path.rendition);
    return err < 0 ? err : cir_live_path(out, size, dir, kind, n);
}

static int
answer_file(cir_live_response_t *resp, const cir_live_request_t *req,
            const cir_live_respond_config_t *cfg, cir_live_file_t kind,
            uint64_t n)
{
    int err;

    err = store_file(req, cfg, kind, n, resp->file, sizeof(resp->file));
    if (err < 0) {
        return answer_error(resp, 404, err);
    }
    resp->action = CIR_LIVE_SEND_FILE;
    resp->status = 200;
    resp->cache = CIR_CACHE_MEDIA;
    resp->content_type = req->content_type;
    resp->offset = 0;
    resp->length = -1;
    resp->last_modified_s = 0;
    return 0;
}

/* Waits for the rendition's index to change, at most the block limit. */
static int
set_wait(cir_live_response_t *resp, const cir_live_request_t *req,
         const cir_live_respond_config_t *cfg, const cir_live_index_t *idx)
{
    int err;

    err = cir_live_dir(resp->wait_dir, sizeof(resp->wait_dir), cfg->root,
                       req->path.stream, req->path.rendition);
    if (err == 0) {
        err = cir_live_path(resp->wait_file, sizeof(resp->wait_file), NULL,
                            CIR_LIVE_FILE_INDEX, 0);
    }
    resp->block_limit_us = cir_hls_block_limit_us(idx, cfg->block_cap_us);
    return err;
}

/* ---- master playlist and MPD ---- */

static int
respond_stream(const cir_live_request_t *req, const cir_live_loaded_t *in,
               const cir_live_respond_config_t *cfg, cir_live_response_t *resp)
{
    const cir_live_index_t *tracks[CIR_LIVE_MAX_RENDITIONS];
    cir_dash_live_config_t dash;
    size_t nt = 0, i;
    cir_buf_t out;
    int err;

    for (i = 0; i < in->nb_renditions && nt < CIR_LIVE_MAX_RENDITIONS; i++) {
        if (in->renditions[i].index != NULL) {
            tracks[nt++] = in->renditions[i].index;
        }
    }
    if (nt == 0) {
        return answer_error(resp, 404, 0);
    }
    cir_buf_init(&out, BODY_MAX);
    if (req->path.kind == CIR_REQ_MASTER) {
        err = cir_hls_render_live_master(tracks, nt, &out);
    } else {
        dash.utc_timing_url = cfg->utc_timing_url;
        dash.now_us = cfg->now_us;
        dash.latency_target_ms = 0; /* the renderer's default */
        err = cir_dash_render_live(tracks, nt, &dash, &out);
    }
    if (err < 0) {
        cir_buf_free(&out);
        return answer_error(resp, 503, err);
    }
    if (req->path.kind == CIR_REQ_MASTER) {
        err = answer_rendered(resp, &out, HLS_TYPE,
                              tracks[0]->ended ? CIR_CACHE_ENDED_PLAYLIST
                                               : CIR_CACHE_LIVE_PLAYLIST,
                              tracks[0]);
    } else {
        err = answer_rendered(resp, &out, MPD_TYPE, CIR_CACHE_LIVE_MPD,
                              tracks[0]);
    }
    cir_buf_free(&out);
    return err;
}

/* ---- media playlist ---- */

/* FNV-1a over the rendition reports: what a cached playlist must match. */
static uint64_t
reports_signature(const cir_rendition_report_t *reports, size_t nr)
{
    uint64_t h = 14695981039346656037ULL;
    const unsigned char *p;
    size_t i, k;

    for (i = 0; i < nr; i++) {
        uint64_t v[2] = {reports[i].last_msn, (uint64_t)reports[i].last_part};
        p = (const unsigned char *)v;
        for (k = 0; k < sizeof(v); k++) {
            h = (h ^ p[k]) * 1099511628211ULL;
        }
        for (p = (const unsigned char *)reports[i].uri; *p; p++) {
            h = (h ^ *p) * 1099511628211ULL;
        }
    }
    return h ^ nr;
}

#define REPORT_URI_MAX (CIR_LIVE_ID_MAX + sizeof("../") + sizeof("/index.m3u8"))

/* The rendition reports: every other rendition with media, by its URI
 * relative to this playlist. */
static size_t
make_reports(const cir_live_request_t *req, const cir_live_loaded_t *in,
             cir_rendition_report_t *reports, char (*uris)[REPORT_URI_MAX])
{
    const cir_live_rendition_t *s;
    size_t nr = 0, i;
    uint64_t msn;
    int part;

    for (i = 0; i < in->nb_renditions && nr < CIR_LIVE_MAX_RENDITIONS; i++) {
        s = &in->renditions[i];
        if (s->index == NULL || strcmp(s->name, req->path.rendition) == 0 ||
            cir_live_index_last(s->index, &msn, &part) < 0) {
            continue;
        }
        snprintf(uris[nr], REPORT_URI_MAX, "../%s/index.m3u8", s->name);
        reports[nr].last_msn = msn;
        reports[nr].last_part = part;
        reports[nr].uri = uris[nr];
        nr++;
    }
    return nr;
}

static cir_cache_kind_t
playlist_cache_kind(const cir_live_request_t *req, const cir_live_index_t *idx)
{
    if (idx->ended) {
        return CIR_CACHE_ENDED_PLAYLIST;
    }
    return req->directives.has_msn ? CIR_CACHE_BLOCKING_PLAYLIST
                                   : CIR_CACHE_LIVE_PLAYLIST;
}

static int
respond_playlist(const cir_live_request_t *req, const cir_live_loaded_t *in,
                 cir_live_response_t *resp)
{
    cir_rendition_report_t reports[CIR_LIVE_MAX_RENDITIONS];
    char uris[CIR_LIVE_MAX_RENDITIONS][REPORT_URI_MAX];
    const cir_live_index_t *idx = in->index;
    cir_cache_kind_t kind = playlist_cache_kind(req, idx);
    cir_live_playlist_cache_t *c = in->cache;
    cir_buf_t out;
    size_t nr, mode;
    uint64_t sig;
    int err;

    nr = make_reports(req, in, reports, uris);
    mode = req->directives.skip <= CIR_SKIP_V2 ? req->directives.skip : 0;
    sig = reports_signature(reports, nr);
    if (c == NULL || c->body[mode] == NULL || c->sig[mode] != sig) {
        cir_buf_init(&out, BODY_MAX);
        err =
            cir_hls_render_live_media(idx, &req->directives, reports, nr, &out);
        if (err < 0) {
            cir_buf_free(&out);
            return answer_error(resp, 503, err);
        }
        if (c == NULL) {
            err = answer_rendered(resp, &out, HLS_TYPE, kind, idx);
            cir_buf_free(&out);
            return err;
        }
        free(c->body[mode]);
        c->body[mode] = cir_buf_detach(&out, &c->len[mode]);
        c->sig[mode] = sig;
        cir_buf_free(&out);
        if (c->body[mode] == NULL) {
            return answer_error(resp, 500, CIR_ENOMEM);
        }
    }
    return answer_body(resp, c->body[mode], c->len[mode], 0, HLS_TYPE, kind,
                       idx);
}

/* ---- media objects ---- */

/* Part 0 of an outage's GAP segment: the same bytes on every answer,
 * immutable like any part. */
static int
respond_gap_chunk(const cir_live_request_t *req, const cir_live_index_t *idx,
                  const cir_live_segment_t *seg, cir_live_response_t *resp)
{
    cir_buf_t out;
    int err;

    cir_buf_init(&out, CIR_LIVE_GAP_CHUNK_SIZE);
    if (cir_live_gap_chunk(&out, seg) < 0) {
        cir_buf_free(&out);
        return answer_error(resp, 500, 0);
    }
    err = answer_rendered(resp, &out, req->content_type, CIR_CACHE_MEDIA, idx);
    cir_buf_free(&out);
    if (resp->action == CIR_LIVE_SEND_BODY) {
        resp->manifest = 0; /* media: no token to add */
        resp->last_modified_s = seg->pdt_us / 1000000;
    }
    return err;
}

/* A part is the byte range of its segment file that the index records
 * (cir_live.h); an init segment or a whole segment is its file. */
static int
respond_object(const cir_live_request_t *req, const cir_live_index_t *idx,
               const cir_live_respond_config_t *cfg, cir_live_response_t *resp)
{
    const cir_live_segment_t *seg;
    uint64_t msn = req->path.msn, off = 0;
    uint32_t size = 0;

    if (req->path.kind == CIR_REQ_INIT) {
        answer_file(resp, req, cfg, CIR_LIVE_FILE_INIT, req->path.init_id);
        resp->cache_index = resp->action == CIR_LIVE_SEND_FILE ? idx : NULL;
        return 0;
    }
    seg = cir_live_index_segment(idx, msn);
    if (req->path.kind == CIR_REQ_PART) {
        if (seg != NULL && seg->gap && req->path.part == 0) {
            /* a hinted first part whose number became an outage's GAP
             * segment: a chunk without media (cir_live_gap_chunk) */
            return respond_gap_chunk(req, idx, seg, resp);
        }
        if (cir_live_index_part_range(idx, msn, req->path.part, &off, &size) <
                0 ||
            size == 0) {
            return answer_error(resp, 404, 0); /* aged out of the store */
        }
    } else if (seg == NULL || !seg->complete || seg->size == 0) {
        answer_file(resp, req, cfg, CIR_LIVE_FILE_SEGMENT, msn);
        resp->cache_index = resp->action == CIR_LIVE_SEND_FILE ? idx : NULL;
        return 0;
    }
    answer_file(resp, req, cfg, CIR_LIVE_FILE_SEGMENT, msn);
    if (resp->action == CIR_LIVE_SEND_FILE) {
        resp->cache_index = idx;
        resp->offset = off;
        /* a part's range, or exactly the bytes the index lists for a
         * whole segment */
        resp->length =
            req->path.kind == CIR_REQ_PART ? (int64_t)size : (int64_t)seg->size;
        /* Last-Modified (and so the ETag): the segment's wall clock, the
         * same on every answer for these bytes */
        resp->last_modified_s = seg->pdt_us / 1000000;
    }
    return 0;
}

/*
 * LL-DASH: a request for the open segment is answered at once with a
 * chunked response carrying the parts written so far, then each part as
 * it lands (one CMAF chunk each: the segment file is its parts in order),
 * and ends when the segment completes.  0 with the answer, 1 when the
 * segment is not open (answered the usual way).
 */
static int
respond_chunks(const cir_live_request_t *req, const cir_live_index_t *idx,
               const cir_live_respond_config_t *cfg, cir_live_response_t *resp)
{
    const cir_live_segment_t *seg;
    uint32_t i;

    seg = cir_live_index_segment(idx, req->path.msn);
    if (seg == NULL ||
        (!req->streaming && (seg->complete || seg->nb_parts == 0))) {
        return 1; /* not open yet, or whole: the usual way */
    }
    if (seg->nb_parts < req->sent_parts) {
        return answer_error(resp, 500, 0); /* parts aged out: a cut */
    }
    if (answer_file(resp, req, cfg, CIR_LIVE_FILE_SEGMENT, seg->msn) < 0 ||
        resp->action != CIR_LIVE_SEND_FILE) {
        return 0;
    }
    resp->action = CIR_LIVE_SEND_CHUNKS;
    resp->content_type = "video/iso.segment";
    resp->cache_index = idx;
    resp->start = !req->streaming;
    resp->nb_chunks = 0;
    for (i = req->sent_parts; i < seg->nb_parts; i++) {
        cir_live_range_t *ch = &resp->chunks[resp->nb_chunks];
        if (cir_live_index_part_range(idx, seg->msn, i, &ch->offset,
                                      &ch->size) < 0) {
            return answer_error(resp, 500, 0);
        }
        resp->nb_chunks++;
    }
    resp->sent_parts = seg->nb_parts;
    resp->last = seg->complete;
    if (!resp->last && set_wait(resp, req, cfg, idx) < 0) {
        return answer_error(resp, 500, 0);
    }
    return 0;
}

static int
respond_rendition(const cir_live_request_t *req, const cir_live_loaded_t *in,
                  const cir_live_respond_config_t *cfg,
                  cir_live_response_t *resp)
{
    const cir_live_index_t *idx = in->index;
    cir_decision_t d;

    if (idx == NULL) {
        /* a missing index is no news; anything else is logged */
        return answer_error(resp, status_for(in->index_err),
                            in->index_err == CIR_ENOTFOUND ? 0 : in->index_err);
    }
    if (req->path.kind == CIR_REQ_PLAYLIST) {
        d = cir_hls_decide_playlist(idx, &req->directives);
    } else {
        d = cir_live_decide_object(idx, &req->path);
    }
    if (req->path.kind == CIR_REQ_SEGMENT && !req->head &&
        (req->streaming || d == CIR_DECIDE_WAIT) &&
        respond_chunks(req, idx, cfg, resp) == 0) {
        return 0;
    }
    switch (d) {
    case CIR_DECIDE_READY:
        return req->path.kind == CIR_REQ_PLAYLIST
                   ? respond_playlist(req, in, resp)
                   : respond_object(req, idx, cfg, resp);
    case CIR_DECIDE_WAIT:
        resp->action = CIR_LIVE_WAIT;
        return set_wait(resp, req, cfg, idx) < 0 ? answer_error(resp, 500, 0)
                                                 : 0;
    case CIR_DECIDE_BAD_REQUEST:
        return answer_error(resp, 400, 0);
    case CIR_DECIDE_GONE:
        return answer_error(resp, 410, 0);
    case CIR_DECIDE_NOT_FOUND:
    default:
        return answer_error(resp, 404, 0);
    }
}

int
cir_live_respond(const cir_live_request_t *req, const cir_live_loaded_t *in,
                 const cir_live_respond_config_t *cfg,
                 cir_live_response_t *resp)
{
    if (req == NULL || in == NULL || cfg == NULL || cfg->root == NULL ||
        resp == NULL) {
        return CIR_EINVAL;
    }
    memset(resp, 0, offsetof(cir_live_response_t, chunks));
    resp->wait_dir[0] = '\0';
    resp->wait_file[0] = '\0';
    resp->block_limit_us = 0;
    switch (req->path.kind) {
    case CIR_REQ_MASTER:
    case CIR_REQ_MPD:
        return respond_stream(req, in, cfg, resp);
    case CIR_REQ_PLAYLIST:
    case CIR_REQ_INIT:
    case CIR_REQ_PART:
    case CIR_REQ_SEGMENT:
        return respond_rendition(req, in, cfg, resp);
    default:
        return answer_error(resp, 404, 0);
    }
}
