/*
 * One live request, one answer (cir_live_request_parse, cir_live_respond):
 * what a request loads, master and MPD bodies, media playlists with their
 * rendition reports and cache, blocking waits, part byte ranges, GAP
 * chunks, whole files, LL-DASH chunks and the errors, each compared with
 * what the renderers and the index say on their own.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"
#include "live_fixture.h"

#define ROOT "/store"
#define CAP  (INT64_C(10) * 1000000)

static fx_t fa, fb;
static const cir_live_respond_config_t cfg = {ROOT, "/time", T0 + 5000000, CAP};

static void
sizes(fx_t *f)
{
    size_t i;

    for (i = 0; i < f->idx.nb_parts; i++) {
        f->parts[i].size = (uint32_t)(100 + i);
    }
}

static cir_live_request_t
request(const char *path, const char *query)
{
    cir_live_request_t req;

    cr_assert_eq(cir_live_request_parse(path, strlen(path), query,
                                        query ? strlen(query) : 0, &req),
                 0, "%s", path);
    return req;
}

static cir_live_response_t resp;

static void
respond_one(const cir_live_request_t *req, const cir_live_index_t *idx,
            cir_live_playlist_cache_t *cache)
{
    cir_live_loaded_t in = {0};

    in.index = idx;
    in.index_err = idx ? 0 : CIR_ENOTFOUND;
    in.cache = cache;
    cr_assert_eq(cir_live_respond(req, &in, &cfg, &resp), 0);
}

/* The request for path?query parsed and answered from fa's index, into
 * resp. */
static cir_live_request_t
answer(const char *path, const char *query)
{
    cir_live_request_t req = request(path, query);

    respond_one(&req, &fa.idx, NULL);
    return req;
}

static void
free_owned(void)
{
    if (resp.action == CIR_LIVE_SEND_BODY && resp.body_owned) {
        free(resp.body);
    }
}

Test(live_response, parse_names_what_to_load)
{
    cir_live_request_t req;

    req = request("s1/master.m3u8", NULL);
    cr_assert(req.load_stream && !req.load_rendition && !req.load_siblings);
    req = request("s1/manifest.mpd", NULL);
    cr_assert(req.load_stream);
    cr_assert_str_eq(req.content_type, "application/dash+xml");
    req = request("s1/720p/index.m3u8", "_HLS_msn=5&_HLS_part=1&x=y");
    cr_assert(req.load_rendition && req.load_siblings && !req.load_stream);
    cr_assert(req.directives.has_msn && req.directives.has_part);
    cr_assert_eq(req.directives.msn, 5);
    req = request("s1/720p/seg-7.m4s", "_HLS_msn=x");
    cr_assert(req.load_rendition && !req.load_siblings);
    cr_assert_eq(req.path.kind, CIR_REQ_SEGMENT);
    cr_assert_eq(req.directives.has_msn, 0); /* media: no directives */
}

Test(live_response, parse_errors)
{
    cir_live_request_t req;

    cr_assert_eq(cir_live_request_parse("s1/720p/index.m3u8", 18, "_HLS_part=1",
                                        11, &req),
                 CIR_EINVAL);
    cr_assert(req.bad_query);
    cr_assert_eq(
        cir_live_request_parse("s1/../x/index.m3u8", 18, NULL, 0, &req),
        CIR_EINVAL);
    cr_assert_eq(req.bad_query, 0);
    cr_assert_eq(
        cir_live_request_parse("s1/720p/seg-01.m4s", 18, NULL, 0, &req),
        CIR_ENOTFOUND);
    cr_assert_eq(cir_live_request_parse("s1", 2, NULL, 0, &req), CIR_ENOTFOUND);
}

static void
stream_loaded(cir_live_loaded_t *in, cir_live_rendition_t *r)
{
    memset(in, 0, sizeof(*in));
    r[0].name = "720p";
    r[0].index = &fa.idx;
    r[1].name = "audio";
    r[1].index = &fb.idx;
    in->renditions = r;
    in->nb_renditions = 2;
}

Test(live_response, master_and_mpd)
{
    const cir_live_index_t *tracks[2];
    cir_live_rendition_t r[2];
    cir_live_request_t req;
    cir_dash_live_config_t dash = {"/time", cfg.now_us, 0};
    cir_live_loaded_t in;
    cir_buf_t want;

    fx_live(&fa, "720p", 4, 2);
    fx_init(&fb, "audio", CIR_LIVE_AUDIO, 100);
    fx_add(&fb, 4, 1, 1);
    fa.idx.updated_us = T0 + 3500000;
    tracks[0] = &fa.idx;
    tracks[1] = &fb.idx;
    stream_loaded(&in, r);

    req = request("s1/master.m3u8", NULL);
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_BODY);
    cr_assert(resp.body_owned && resp.manifest);
    cr_assert_str_eq(resp.content_type, "application/vnd.apple.mpegurl");
    cr_assert_eq(resp.cache, CIR_CACHE_LIVE_PLAYLIST);
    cr_assert_eq(resp.cache_index, &fa.idx);
    cr_assert_eq(resp.last_modified_s, (T0 + 3500000) / 1000000);
    cir_buf_init(&want, 1 << 20);
    cr_assert_eq(cir_hls_render_live_master(tracks, 2, &want), 0);
    cr_assert_eq(resp.body_len, want.len);
    cr_assert_eq(memcmp(resp.body, want.data, want.len), 0);
    cir_buf_free(&want);
    free_owned();

    req = request("s1/manifest.mpd", NULL);
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_BODY);
    cr_assert_str_eq(resp.content_type, "application/dash+xml");
    cr_assert_eq(resp.cache, CIR_CACHE_LIVE_MPD);
    cir_buf_init(&want, 1 << 20);
    cr_assert_eq(cir_dash_render_live(tracks, 2, &dash, &want), 0);
    cr_assert_eq(resp.body_len, want.len);
    cr_assert_eq(memcmp(resp.body, want.data, want.len), 0);
    cir_buf_free(&want);
    free_owned();

    /* the stream ended: the master is an ended playlist */
    fx_live(&fa, "720p", 4, -1);
    fa.idx.ended = 1;
    req = request("s1/master.m3u8", NULL);
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_BODY);
    cr_assert_eq(resp.cache, CIR_CACHE_ENDED_PLAYLIST);
    free_owned();

    in.nb_renditions = 0;
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_ERROR);
    cr_assert_eq(resp.status, 404);
    cr_assert_eq(resp.cache, CIR_CACHE_ERROR);
}

Test(live_response, playlist_with_reports_and_cache)
{
    cir_live_playlist_cache_t cache = {0};
    cir_rendition_report_t rep;
    cir_live_rendition_t r[2];
    cir_live_request_t req;
    cir_live_loaded_t in;
    cir_buf_t want;
    const char *first;
    uint64_t msn;
    int part;

    fx_live(&fa, "720p", 4, 2);
    fx_live(&fb, "audio", 4, 1);
    stream_loaded(&in, r); /* 720p itself is listed too: not reported */
    in.index = &fa.idx;
    in.cache = &cache;

    req = request("s1/720p/index.m3u8", NULL);
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_BODY);
    cr_assert_eq(resp.body_owned, 0);
    cr_assert_eq(resp.body, cache.body[0]);
    cr_assert_eq(resp.cache, CIR_CACHE_LIVE_PLAYLIST);
    cr_assert(resp.manifest);

    cr_assert_eq(cir_live_index_last(&fb.idx, &msn, &part), 0);
    rep.last_msn = msn;
    rep.last_part = part;
    rep.uri = "../audio/index.m3u8";
    cir_buf_init(&want, 1 << 20);
    cr_assert_eq(
        cir_hls_render_live_media(&fa.idx, &req.directives, &rep, 1, &want), 0);
    cr_assert_eq(resp.body_len, want.len);
    cr_assert_eq(memcmp(resp.body, want.data, want.len), 0);
    cir_buf_free(&want);

    /* the same reports: the cached text, not rendered again */
    first = resp.body;
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.body, first);
    /* a sibling moved on: rendered again with its new report */
    fb.segs[4].complete = 1;
    fb.segs[4].size = 1;
    fx_add(&fb, 1, 0, 1);
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_neq(cache.sig[0], 0);
    cr_assert_not_null(strstr(cache.body[0], "LAST-MSN=105"));

    /* answered to _HLS_msn: the blocking playlist's cache kind */
    req = request("s1/720p/index.m3u8", "_HLS_msn=104&_HLS_part=1");
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_BODY);
    cr_assert_eq(resp.cache, CIR_CACHE_BLOCKING_PLAYLIST);
    fa.idx.ended = 1;
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_BODY);
    cr_assert_eq(resp.cache, CIR_CACHE_ENDED_PLAYLIST);
    cir_live_playlist_cache_free(&cache);
    cr_assert_null(cache.body[0]);
}

Test(live_response, blocking_reload_waits_on_the_index)
{
    fx_live(&fa, "720p", 4, 2); /* 100..103 complete, 104 open, 2 parts */
    answer("s1/720p/index.m3u8", "_HLS_msn=104&_HLS_part=2");
    cr_assert_eq(resp.action, CIR_LIVE_WAIT);
    cr_assert_str_eq(resp.wait_dir, ROOT "/s1/720p");
    cr_assert_str_eq(resp.wait_file, "index");
    cr_assert_eq(resp.block_limit_us, cir_hls_block_limit_us(&fa.idx, CAP));

    answer("s1/720p/index.m3u8", "_HLS_msn=110");
    cr_assert_eq(resp.action, CIR_LIVE_SEND_ERROR);
    cr_assert_eq(resp.status, 400);

    /* no cache handed in: a body of its own */
    answer("s1/720p/index.m3u8", "_HLS_msn=104&_HLS_part=1");
    cr_assert_eq(resp.action, CIR_LIVE_SEND_BODY);
    cr_assert(resp.body_owned);
    cr_assert_eq(resp.cache, CIR_CACHE_BLOCKING_PLAYLIST);
    free_owned();
}

Test(live_response, index_errors)
{
    cir_live_request_t req = request("s1/720p/index.m3u8", NULL);
    cir_live_loaded_t in = {0};

    in.index_err = CIR_ENOTFOUND;
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.status, 404);
    cr_assert_eq(resp.error, 0); /* nothing to log */
    in.index_err = CIR_EPARSE;
    cr_assert_eq(cir_live_respond(&req, &in, &cfg, &resp), 0);
    cr_assert_eq(resp.status, 503);
    cr_assert_eq(resp.error, CIR_EPARSE);
    cr_assert_eq(cir_live_respond(&req, &in, NULL, &resp), CIR_EINVAL);
}

Test(live_response, parts_are_byte_ranges)
{
    cir_live_request_t req;
    uint64_t off;
    uint32_t size;

    fx_live(&fa, "720p", 4, 3);
    sizes(&fa);
    req = answer("s1/720p/part-104.2.m4s", NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_FILE);
    cr_assert_str_eq(resp.file, ROOT "/s1/720p/seg-104.m4s");
    cr_assert_eq(cir_live_index_part_range(&fa.idx, 104, 2, &off, &size), 0);
    cr_assert_eq(resp.offset, off);
    cr_assert_eq(resp.length, size);
    cr_assert_eq(resp.cache, CIR_CACHE_MEDIA);
    cr_assert_eq(resp.last_modified_s, fa.segs[4].pdt_us / 1000000);
    cr_assert_str_eq(resp.content_type, req.content_type);

    /* the hinted next part: wait; an unlisted old one: 404 */
    answer("s1/720p/part-104.3.m4s", NULL);
    cr_assert_eq(resp.action, CIR_LIVE_WAIT);
    fa.parts[fa.segs[4].first_part].size = 0;
    answer("s1/720p/part-104.0.m4s", NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_ERROR);
    cr_assert_eq(resp.status, 404);
}

Test(live_response, gap_part_is_an_empty_chunk)
{
    cir_live_request_t req = request("s1/720p/part-104.0.m4s", NULL);
    cir_live_segment_t *gap;
    cir_buf_t want;

    fx_live(&fa, "720p", 4, -1);
    gap = fx_add(&fa, 0, 1, 0);
    gap->gap = 1;
    respond_one(&req, &fa.idx, NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_BODY);
    cr_assert(resp.body_owned);
    cr_assert_eq(resp.manifest, 0);
    cr_assert_eq(resp.cache, CIR_CACHE_MEDIA);
    cr_assert_eq(resp.last_modified_s, gap->pdt_us / 1000000);
    cir_buf_init(&want, 1024);
    cr_assert_eq(cir_live_gap_chunk(&want, gap), 0);
    cr_assert_eq(resp.body_len, want.len);
    cr_assert_eq(memcmp(resp.body, want.data, want.len), 0);
    cir_buf_free(&want);
    free_owned();
}

Test(live_response, segments_and_inits)
{
    fx_live(&fa, "720p", 4, 2);
    answer("s1/720p/seg-102.m4s", NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_FILE);
    cr_assert_str_eq(resp.file, ROOT "/s1/720p/seg-102.m4s");
    cr_assert_eq(resp.offset, 0);
    cr_assert_eq(resp.length, (int64_t)fa.segs[2].size);
    cr_assert_eq(resp.last_modified_s, fa.segs[2].pdt_us / 1000000);

    answer("s1/720p/init-1.mp4", NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_FILE);
    cr_assert_str_eq(resp.file, ROOT "/s1/720p/init-1.mp4");
    cr_assert_eq(resp.length, -1);         /* the whole file */
    cr_assert_eq(resp.last_modified_s, 0); /* its own */
    cr_assert_str_eq(resp.content_type, "video/mp4");
    answer("s1/720p/init-2.mp4", NULL);
    cr_assert_eq(resp.status, 404);

    answer("s1/720p/seg-99.m4s", NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_ERROR);
    cr_assert_eq(resp.status, 410);
}

Test(live_response, ll_dash_chunks)
{
    cir_live_request_t req = request("s1/720p/seg-104.m4s", NULL);
    uint64_t off;
    uint32_t size, i;

    fx_live(&fa, "720p", 4, 2);
    sizes(&fa);
    respond_one(&req, &fa.idx, NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_CHUNKS);
    cr_assert(resp.start);
    cr_assert_eq(resp.last, 0);
    cr_assert_str_eq(resp.file, ROOT "/s1/720p/seg-104.m4s");
    cr_assert_eq(resp.nb_chunks, 2);
    for (i = 0; i < 2; i++) {
        cr_assert_eq(cir_live_index_part_range(&fa.idx, 104, i, &off, &size),
                     0);
        cr_assert_eq(resp.chunks[i].offset, off);
        cr_assert_eq(resp.chunks[i].size, size);
    }
    cr_assert_eq(resp.sent_parts, 2);
    cr_assert_str_eq(resp.wait_dir, ROOT "/s1/720p");
    cr_assert_eq(resp.block_limit_us, cir_hls_block_limit_us(&fa.idx, CAP));

    /* going on: the parts since, then the end */
    req.streaming = 1;
    req.sent_parts = 2;
    respond_one(&req, &fa.idx, NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_CHUNKS);
    cr_assert_eq(resp.start, 0);
    cr_assert_eq(resp.nb_chunks, 0);
    fa.segs[4].complete = 1;
    fa.segs[4].size = 1000;
    respond_one(&req, &fa.idx, NULL);
    cr_assert_eq(resp.nb_chunks, 0);
    cr_assert(resp.last);
    req.sent_parts = 3; /* more than listed: the parts aged out, a cut */
    respond_one(&req, &fa.idx, NULL);
    cr_assert_eq(resp.action, CIR_LIVE_SEND_ERROR);
}

Test(live_response, head_and_next_segment_wait)
{
    cir_live_request_t req = request("s1/720p/seg-104.m4s", NULL);

    fx_live(&fa, "720p", 4, 2);
    req.head = 1; /* never streamed */
    respond_one(&req, &fa.idx, NULL);
    cr_assert_eq(resp.action, CIR_LIVE_WAIT);

    fx_live(&fa, "720p", 4, -1); /* 104 not open yet */
    req.head = 0;
    respond_one(&req, &fa.idx, NULL);
    cr_assert_eq(resp.action, CIR_LIVE_WAIT);
    cr_assert_str_eq(resp.wait_file, "index");
}
