/*
 * The origin's decisions, with no event loop and no I/O: what a request
 * asks for, whether it can be answered now, must wait, or fails; how live
 * playlists and MPDs are rendered from live indexes; cache headers for
 * CloudFront; origin authentication.  The nginx module is a thin adapter
 * over this; every rule here is tested with Criterion on plain values.
 *
 * URL layout under a live location (e.g. /live/):
 *   <stream>/master.m3u8               multivariant playlist
 *   <stream>/manifest.mpd              dynamic MPD (LL-DASH)
 *   <stream>/<rendition>/index.m3u8    media playlist (LL-HLS)
 *   <stream>/<rendition>/init-<k>.mp4, part-<msn>.<i>.m4s, seg-<msn>.m4s
 * and under a VOD location, the files cirrus-transcode wrote.
 */
#ifndef CIR_ORIGIN_H
#define CIR_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include "cir_buf.h"
#include "cir_live.h"

/* --- paths ------------------------------------------------------------- */

typedef enum {
    CIR_REQ_UNKNOWN = 0,
    CIR_REQ_MASTER,   /* <stream>/master.m3u8 */
    CIR_REQ_MPD,      /* <stream>/manifest.mpd */
    CIR_REQ_PLAYLIST, /* <stream>/<rendition>/index.m3u8 */
    CIR_REQ_INIT,     /* init-<k>.mp4 */
    CIR_REQ_PART,     /* part-<msn>.<i>.m4s */
    CIR_REQ_SEGMENT   /* seg-<msn>.m4s */
} cir_req_kind_t;

typedef struct {
    cir_req_kind_t kind;
    char stream[CIR_LIVE_ID_MAX];
    char rendition[CIR_LIVE_ID_MAX];
    uint64_t msn;  /* part, segment */
    uint32_t part; /* part */
    uint32_t init_id;
} cir_live_path_t;

/*
 * Normalises a request path relative to a location (the part after the
 * location prefix, still percent-encoded): decodes %XX, rejects NUL, "..",
 * ".", empty segments, backslashes, control bytes and an escaped "/" (%2F:
 * one object has one name, one cache key) (CIR_EINVAL: 400), and
 * writes the clean relative path.  Nothing it accepts escapes the root.
 */
int cir_origin_normalize_path(const char *path, size_t len, char *out,
                              size_t outsize);
/* Splits a normalised live path.  CIR_ENOTFOUND for names that are not
 * live objects (404). */
int cir_origin_parse_live_path(const char *rel, cir_live_path_t *p);

/* --- LL-HLS delivery directives --------------------------------------- */

typedef enum {
    CIR_SKIP_NO = 0,
    CIR_SKIP_YES,
    CIR_SKIP_V2
} cir_hls_skip_t;

typedef struct {
    int has_msn, has_part;
    uint64_t msn;
    uint32_t part;
    cir_hls_skip_t skip;
} cir_hls_directives_t;

/*
 * Parses _HLS_msn, _HLS_part and _HLS_skip in any order, ignoring other
 * parameters.  CIR_EINVAL (400) for _HLS_part without _HLS_msn, a value
 * that is not a decimal number, or a repeated directive.
 */
int cir_hls_parse_directives(const char *query, size_t len,
                             cir_hls_directives_t *d);

typedef enum {
    CIR_DECIDE_READY = 0,   /* render and send now */
    CIR_DECIDE_WAIT,        /* hold the request until the index changes */
    CIR_DECIDE_BAD_REQUEST, /* 400 */
    CIR_DECIDE_NOT_FOUND,   /* 404 */
    CIR_DECIDE_GONE         /* 410: left the window */
} cir_decision_t;

/*
 * The blocking-reload decision for a media playlist request (RFC 8216bis
 * 6.2.5.2): READY when the requested segment/part exists, when there are no
 * directives, or when the stream has ended; WAIT when it is within reach;
 * BAD_REQUEST at once when msn is more than 2 beyond the last or the part
 * index beyond the limit.  The caller turns a WAIT held longer than
 * cir_hls_block_limit_us() into 503.
 */
cir_decision_t cir_hls_decide_playlist(const cir_live_index_t *idx,
                                       const cir_hls_directives_t *d);
/*
 * For a part or segment request: READY if listed, WAIT if it is the hinted
 * next part (or the open segment, for LL-DASH chunked delivery), NOT_FOUND
 * if not yet and not hinted, GONE if it left the window.
 */
cir_decision_t cir_live_decide_object(const cir_live_index_t *idx,
                                      const cir_live_path_t *p);
/* How long a blocked request may wait: 3 target durations, capped by
 * cap_us (keep it under CloudFront's origin read timeout). */
int64_t cir_hls_block_limit_us(const cir_live_index_t *idx, int64_t cap_us);

/* --- cache policy ------------------------------------------------------- */

typedef enum {
    CIR_CACHE_MEDIA = 0,         /* init, segment, part: immutable */
    CIR_CACHE_LIVE_PLAYLIST,     /* no directives */
    CIR_CACHE_BLOCKING_PLAYLIST, /* answered to _HLS_msn/_HLS_part */
    CIR_CACHE_LIVE_MPD,
    CIR_CACHE_ENDED_PLAYLIST,        /* live playlist after ENDLIST */
    CIR_CACHE_VOD_MANIFEST,          /* an asset's top-level manifests: short */
    CIR_CACHE_ERROR,                 /* 4xx/5xx */
    CIR_CACHE_VOD_VERSIONED_MANIFEST /* a manifest inside a published
                                        version (v/<id>/): immutable */
} cir_cache_kind_t;

/* Writes the Cache-Control value for an object; idx may be NULL for VOD
 * and errors.  Live playlists live for a fraction of a part. */
int cir_origin_cache_control(cir_cache_kind_t kind, const cir_live_index_t *idx,
                             char *out, size_t size);
/* The kind an answer with this HTTP status is cached as: any 4xx/5xx is
 * an error (a 416 for a segment must not be cached like the segment),
 * else the object's kind. */
cir_cache_kind_t cir_origin_cache_kind_for_status(cir_cache_kind_t kind,
                                                  unsigned status);
/* The kind of a VOD file by its path below the root: a manifest (.m3u8,
 * .mpd, .vtt) or JSON document inside a published version
 * ("<asset>/v/<id>/...") is immutable like media, the asset's top-level
 * ones are short-lived (rewritten in place to point at the next version on
 * a re-upload), anything else is media. */
cir_cache_kind_t cir_origin_vod_cache_kind(const char *rel);
/* The same rule for a file an asset publishes, named rel inside a store
 * rooted at the asset (versioned 0) or at one of its published versions,
 * <asset>/v/<id>/ (versioned 1): the transcoder sends the Cache-Control of
 * this kind with every upload, so S3 (behind CloudFront) and nginx answer
 * every file alike. */
cir_cache_kind_t cir_origin_asset_cache_kind(const char *rel, int versioned);
/* The Vary value for an object, or NULL: manifests (text the server may
 * gzip) vary by Accept-Encoding, media and errors by nothing. */
const char *cir_origin_vary(cir_cache_kind_t kind);

/* --- rendering ---------------------------------------------------------- */

typedef struct {
    uint64_t last_msn;
    int last_part;
    const char *uri; /* relative, e.g. "../720p/index.m3u8" */
} cir_rendition_report_t;

/* A live LL-HLS media playlist: EXT-X-PART, PART-INF, PRELOAD-HINT,
 * SERVER-CONTROL, SKIP (delta updates), RENDITION-REPORTs, PDT,
 * discontinuities, ENDLIST once ended. */
int cir_hls_render_live_media(const cir_live_index_t *idx,
                              const cir_hls_directives_t *d,
                              const cir_rendition_report_t *reports,
                              size_t nb_reports, cir_buf_t *out);
/* The live multivariant playlist over every rendition of a stream. */
int cir_hls_render_live_master(const cir_live_index_t *const *tracks, size_t nb,
                               cir_buf_t *out);

typedef struct {
    const char *utc_timing_url; /* served by the origin, e.g. "/time" */
    int64_t now_us;             /* publishTime */
    int64_t latency_target_ms;  /* ServiceDescription; 0: three parts
                                 * and 0.5 s, within [1 s, a segment] */
} cir_dash_live_config_t;

/* A dynamic MPD with LL-DASH settings (availabilityTimeOffset,
 * availabilityTimeComplete=false, ServiceDescription, ProducerReferenceTime,
 * UTCTiming); static with a fixed duration once the stream ended. */
int cir_dash_render_live(const cir_live_index_t *const *tracks, size_t nb,
                         const cir_dash_live_config_t *cfg, cir_buf_t *out);

/* --- one live request, one answer (live_response.c) -------------------- */

/*
 * A live request, parsed once when it arrives; the adapter sets head,
 * streaming and sent_parts (its own state) and passes the request to
 * cir_live_respond() for every decision about it.
 */
typedef struct {
    cir_live_path_t path;
    cir_hls_directives_t directives; /* media playlists */
    const char *content_type;        /* of the object asked for */
    /* what the adapter loads before each decision */
    uint8_t load_stream;    /* every rendition of the stream (master, MPD) */
    uint8_t load_siblings;  /* the other renditions (rendition reports) */
    uint8_t load_rendition; /* the index of path.rendition */
    uint8_t bad_query;      /* the parse failed on the delivery directives */
    /* set by the adapter */
    uint8_t head;      /* HEAD: never streamed */
    uint8_t streaming; /* LL-DASH: the headers are out, parts follow */
    uint32_t sent_parts;
} cir_live_request_t;

/* Parses the path below the live location (still percent-encoded) and the
 * query.  0, CIR_EINVAL (400) or CIR_ENOTFOUND (404). */
int cir_live_request_parse(const char *path, size_t len, const char *query,
                           size_t query_len, cir_live_request_t *req);

/* The media playlist last rendered from one index, per _HLS_skip mode,
 * with a signature of the rendition reports it holds: the adapter keeps
 * one with each index it keeps and hands it in; while neither changes the
 * text is answered again without rendering. */
typedef struct {
    char *body[3];
    size_t len[3];
    uint64_t sig[3];
} cir_live_playlist_cache_t;

void cir_live_playlist_cache_free(cir_live_playlist_cache_t *c);

typedef struct {
    const char *name; /* the rendition's folder */
    const cir_live_index_t *index;
} cir_live_rendition_t;

/* What the adapter loaded, as the request asked (load_*). */
typedef struct {
    const cir_live_rendition_t *renditions; /* stream or siblings, sorted */
    size_t nb_renditions;
    const cir_live_index_t *index;    /* path.rendition's, or NULL */
    int index_err;                    /* why not: CIR_ENOTFOUND, ... */
    cir_live_playlist_cache_t *cache; /* index's, or NULL */
} cir_live_loaded_t;

typedef struct {
    const char *root;           /* the live store */
    const char *utc_timing_url; /* the MPD's UTCTiming */
    int64_t now_us;             /* wall clock */
    int64_t block_cap_us;       /* a blocked request's longest wait */
} cir_live_respond_config_t;

typedef enum {
    CIR_LIVE_SEND_ERROR = 0, /* status (a cut once streaming) */
    CIR_LIVE_SEND_BODY,      /* body[0, body_len) */
    CIR_LIVE_SEND_FILE,      /* file, whole or bytes [offset, +length) */
    CIR_LIVE_SEND_CHUNKS,    /* LL-DASH: headers (start), chunks of file */
    CIR_LIVE_WAIT            /* wait_file in wait_dir changes: decide again */
} cir_live_action_t;

typedef struct {
    uint64_t offset;
    uint32_t size;
} cir_live_range_t;

/* Everything the adapter needs to answer; nothing is left to decide. */
typedef struct {
    cir_live_action_t action;
    unsigned status;        /* SEND_ERROR */
    int error;              /* why (cir error), 0: nothing to log */
    cir_cache_kind_t cache; /* Cache-Control, with cache_index */
    const cir_live_index_t *cache_index;
    const char *content_type;
    int64_t last_modified_s; /* -1: none, 0: the file's own */
    /* SEND_BODY: malloc()ed (body_owned: the adapter frees it) or the
     * playlist cache's (copy it); manifest: a signed request's token goes
     * onto every URI it lists */
    char *body;
    size_t body_len;
    uint8_t body_owned;
    uint8_t manifest;
    /* SEND_FILE, SEND_CHUNKS */
    char file[CIR_LIVE_PATH_MAX];
    uint64_t offset;
    int64_t length; /* -1: the whole file */
    /* SEND_CHUNKS: send the headers first (start), then one chunk per
     * part, the response ends when last; else wait like CIR_LIVE_WAIT */
    uint8_t start;
    uint8_t last;
    uint32_t nb_chunks;
    uint32_t sent_parts; /* the request's sent_parts after these */
    cir_live_range_t chunks[CIR_LIVE_MAX_PARTS];
    /* CIR_LIVE_WAIT, SEND_CHUNKS that are not last: the change to wait
     * for, and for how long at most (a 503, or a cut once streaming) */
    char wait_dir[CIR_LIVE_PATH_MAX];
    char wait_file[16];
    int64_t block_limit_us;
} cir_live_response_t;

/*
 * The whole decision for one live request, given what the adapter loaded:
 * master and MPD rendering, the blocking-reload and object decisions, the
 * media playlist with its rendition reports (through the cache), part
 * byte ranges, LL-DASH chunks, errors, cache kinds and block limits.  The
 * response may point into loaded (cache_index, a cached body): use it
 * before loading again.  0, or CIR_EINVAL for missing arguments.
 */
int cir_live_respond(const cir_live_request_t *req,
                     const cir_live_loaded_t *loaded,
                     const cir_live_respond_config_t *cfg,
                     cir_live_response_t *resp);

/* --- origin authentication --------------------------------------------- */

/* Constant-time comparison of a shared-secret header with the expected
 * value: 1 if equal. */
int cir_origin_secret_equal(const char *expected, const char *got,
                            size_t got_len);
/*
 * Signed, expiring URLs for direct access: token = hex(HMAC-SHA256(key,
 * "<expires>:<path>")), sent as ?token=…&expires=<unix seconds>.  With
 * &scope=<prefix> the token covers every path under prefix (a path that
 * starts and ends with "/", of [A-Za-z0-9/_.~-], no "." or ".." segment)
 * and is signed over the prefix: cir_origin_token_sign(key, prefix, ...).
 * That is what plays a stream: the manifests carry the token onto every
 * URI they list (cir_origin_token_query).  verify returns 0, or CIR_EAUTH
 * for a bad or expired token, a malformed scope or a path outside it.
 */
int cir_origin_token_sign(const char *key, const char *path, int64_t expires,
                          char *out, size_t size);
int cir_origin_token_verify(const char *key, const char *path,
                            const char *query, size_t query_len, int64_t now_s);
/*
 * The query a manifest answered to a token-authorised request adds to
 * every URI it lists: "token=…&expires=…&scope=…" from the request's
 * query (other parameters, such as _HLS_msn, stay behind).  Returns its
 * length, 0 (out = "") when the token has no scope (it covers only the
 * manifest itself, the listed objects could not use it), or CIR_ELIMIT.
 * Call it only for a request the token authorised.
 */
int cir_origin_token_query(const char *query, size_t query_len, char *out,
                           size_t size);
/* Appends a rendered HLS playlist to out with query added to each URI
 * line and each URI="…" attribute ("?" or "&"), or an MPD with it added
 * to each SegmentTemplate media and initialization ("&amp;" escaped).
 * query "" copies the manifest as it is. */
int cir_origin_hls_add_query(const char *in, size_t len, const char *query,
                             cir_buf_t *out);
int cir_origin_mpd_add_query(const char *in, size_t len, const char *query,
                             cir_buf_t *out);

#endif
