/*
 * Request decisions: path normalisation and live path parsing, LL-HLS
 * delivery directives (RFC 8216bis 6.2.5), the blocking-reload decision
 * and object availability.  Pure functions over plain values.
 */
#include <string.h>

#include "cir_error.h"
#include "cir_storage.h"
#include "cir_origin.h"
#include "live_util.h"

/* ---- paths ---- */

/* Checks the segment out[start, end): not empty, not "." or "..". */
static int
segment_ok(const char *out, size_t start, size_t end)
{
    size_t n = end - start;

    if (n == 0) {
        return 0;
    }
    if (out[start] == '.' && (n == 1 || (n == 2 && out[start + 1] == '.'))) {
        return 0;
    }
    return 1;
}

int
cir_origin_normalize_path(const char *path, size_t len, char *out,
                          size_t outsize)
{
    size_t i, o = 0, seg = 0;

    if (path == NULL || out == NULL || outsize == 0) {
        return CIR_EINVAL;
    }
    out[0] = '\0';
    if (len == 0) {
        return CIR_EINVAL;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3 || (hi = cir_hex_value(path[i + 1])) < 0 ||
                (lo = cir_hex_value(path[i + 2])) < 0) {
                goto bad;
            }
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
            if (c == '/') {
                /* an escaped separator: "s%2fvideo%2findex.m3u8" would be
                 * a second name (and cache key) for s/video/index.m3u8 */
                goto bad;
            }
        }
        /* checked after decoding: "%2e%2e", "%2F", "%5C", "%00" included */
        if (c < 0x20 || c == 0x7f || c == '\\') {
            goto bad;
        }
        if (o + 1 >= outsize) {
            goto bad;
        }
        if (c == '/') {
            if (!segment_ok(out, seg, o)) {
                goto bad;
            }
            seg = o + 1;
        }
        out[o++] = (char)c;
    }
    if (!segment_ok(out, seg, o)) {
        goto bad; /* also a trailing "/" */
    }
    out[o] = '\0';
    return 0;

bad:
    out[0] = '\0';
    return CIR_EINVAL;
}

static int
parse_dec(const char *s, size_t n, uint64_t max, uint64_t *v)
{
    return cir_live_parse_number(s, n, max, v) == 0 ? 0 : -1;
}

/* "part-<msn>.<i>.m4s" with canonical decimals: a part is no file of the
 * store (cir_live.h), only a name in a playlist. */
static int
match_part(const char *s, size_t n, uint64_t *a, uint64_t *b)
{
    static const char prefix[] = "part-", suffix[] = ".m4s";
    size_t pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1;
    const char *num, *dot;
    size_t nl;

    if (n <= pl + sl || memcmp(s, prefix, pl) != 0 ||
        memcmp(s + n - sl, suffix, sl) != 0) {
        return -1;
    }
    num = s + pl;
    nl = n - pl - sl;
    dot = memchr(num, '.', nl);
    if (dot == NULL || parse_dec(num, (size_t)(dot - num), UINT64_MAX, a) < 0) {
        return -1;
    }
    return parse_dec(dot + 1, nl - (size_t)(dot - num) - 1, UINT32_MAX, b);
}

int
cir_origin_parse_live_path(const char *rel, cir_live_path_t *p)
{
    const char *c[3], *s;
    size_t n[3], nc = 0;
    uint64_t a = 0, b = 0;
    cir_live_file_t file;

    if (rel == NULL || p == NULL) {
        return CIR_EINVAL;
    }
    memset(p, 0, sizeof(*p));
    for (s = rel;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (nc == 3) {
            return CIR_ENOTFOUND;
        }
        c[nc] = s;
        n[nc++] = len;
        if (slash == NULL) {
            break;
        }
        s = slash + 1;
    }
    if (nc < 2 || !cir_name_is_safe(c[0], n[0], CIR_LIVE_ID_MAX - 1)) {
        return CIR_ENOTFOUND;
    }
    memcpy(p->stream, c[0], n[0]);
    if (nc == 2) {
        if (n[1] == 11 && memcmp(c[1], "master.m3u8", 11) == 0) {
            p->kind = CIR_REQ_MASTER;
        } else if (n[1] == 12 && memcmp(c[1], "manifest.mpd", 12) == 0) {
            p->kind = CIR_REQ_MPD;
        } else {
            goto notfound;
        }
        return 0;
    }
    if (!cir_name_is_safe(c[1], n[1], CIR_LIVE_ID_MAX - 1)) {
        goto notfound;
    }
    memcpy(p->rendition, c[1], n[1]);
    if (n[2] == 10 && memcmp(c[2], "index.m3u8", 10) == 0) {
        p->kind = CIR_REQ_PLAYLIST;
    } else if (cir_live_name_parse(c[2], n[2], &file, &a) == 0 &&
               file == CIR_LIVE_FILE_INIT && a >= 1 && a <= UINT32_MAX) {
        p->kind = CIR_REQ_INIT;
        p->init_id = (uint32_t)a;
    } else if (match_part(c[2], n[2], &a, &b) == 0) {
        p->kind = CIR_REQ_PART;
        p->msn = a;
        p->part = (uint32_t)b;
    } else if (cir_live_name_parse(c[2], n[2], &file, &a) == 0 &&
               file == CIR_LIVE_FILE_SEGMENT) {
        p->kind = CIR_REQ_SEGMENT;
        p->msn = a;
    } else {
        goto notfound;
    }
    return 0;

notfound:
    memset(p, 0, sizeof(*p));
    return CIR_ENOTFOUND;
}

/* ---- directives ---- */

int
cir_hls_parse_directives(const char *query, size_t len, cir_hls_directives_t *d)
{
    size_t i = 0;
    int has_skip = 0;

    if (d == NULL || (query == NULL && len > 0)) {
        return CIR_EINVAL;
    }
    memset(d, 0, sizeof(*d));
    while (i < len) {
        const char *kv = query + i, *amp, *eq;
        size_t n, kl, vl;
        uint64_t v;

        amp = memchr(kv, '&', len - i);
        n = amp ? (size_t)(amp - kv) : len - i;
        i += n + 1;
        eq = memchr(kv, '=', n);
        kl = eq ? (size_t)(eq - kv) : n;
        vl = eq ? n - kl - 1 : 0;
        if (kl == 8 && memcmp(kv, "_HLS_msn", 8) == 0) {
            if (d->has_msn || !eq || parse_dec(eq + 1, vl, UINT64_MAX, &v)) {
                goto bad;
            }
            d->has_msn = 1;
            d->msn = v;
        } else if (kl == 9 && memcmp(kv, "_HLS_part", 9) == 0) {
            if (d->has_part || !eq || parse_dec(eq + 1, vl, UINT32_MAX, &v)) {
                goto bad;
            }
            d->has_part = 1;
            d->part = (uint32_t)v;
        } else if (kl == 9 && memcmp(kv, "_HLS_skip", 9) == 0) {
            if (has_skip || !eq) {
                goto bad;
            }
            if (vl == 3 && memcmp(eq + 1, "YES", 3) == 0) {
                d->skip = CIR_SKIP_YES;
            } else if (vl == 2 && memcmp(eq + 1, "v2", 2) == 0) {
                d->skip = CIR_SKIP_V2;
            } else {
                goto bad;
            }
            has_skip = 1;
        }
    }
    if (d->has_part && !d->has_msn) {
        goto bad; /* RFC 8216bis 6.2.5.2: MUST 400 */
    }
    return 0;

bad:
    memset(d, 0, sizeof(*d));
    return CIR_EINVAL;
}

/* ---- decisions ---- */

/*
 * The Advance Part Limit (RFC 8216bis 6.2.5.2): a part more than 3 parts
 * (3 / PART-TARGET when PART-TARGET is under a second) beyond the last part
 * in the playlist.  Distance across segments counts the nominal parts per
 * segment, so asking for "the part after the last" of a segment that ends
 * up with one part more than nominal (audio parts of whole AAC frames) is
 * never refused.
 */
static int
part_too_far(const cir_live_index_t *idx, const cir_live_segment_t *last,
             uint64_t msn, uint32_t part)
{
    int64_t per = cir_live_max_parts(idx) - 1; /* nominal parts a segment */
    int64_t limit, have, ahead;

    if (idx->part_target >= idx->timescale) {
        limit = 3;
    } else {
        limit = (3 * (int64_t)idx->timescale + idx->part_target - 1) /
                idx->part_target;
    }
    /* the last part that exists, as (msn, index) */
    have = (int64_t)last->nb_parts;
    if (msn <= last->msn) {
        ahead = msn < last->msn ? 0 : (int64_t)part - (have - 1);
    } else {
        ahead = (int64_t)(msn - last->msn - 1) * per + (per - have) +
                (int64_t)part + 1;
    }
    return ahead > limit;
}

cir_decision_t
cir_hls_decide_playlist(const cir_live_index_t *idx,
                        const cir_hls_directives_t *d)
{
    const cir_live_segment_t *last, *s;
    uint64_t msn;
    uint32_t part, max_parts;
    int has_part;

    if (idx == NULL || idx->ended || d == NULL || !d->has_msn) {
        return CIR_DECIDE_READY; /* Q3; skip alone never blocks */
    }
    msn = d->msn;
    part = d->part;
    has_part = d->has_part;
    if (has_part) {
        max_parts = cir_live_max_parts(idx);
        if (max_parts == 0 || part >= CIR_LIVE_MAX_PARTS) {
            return CIR_DECIDE_BAD_REQUEST;
        }
    }
    if (idx->nb_segments == 0) {
        /* nothing yet: the first segment is msn 0 of a fresh stream */
        return msn > 1 ? CIR_DECIDE_BAD_REQUEST : CIR_DECIDE_WAIT;
    }
    last = &idx->segments[idx->nb_segments - 1];
    if (msn > last->msn && msn - last->msn > 2) {
        return CIR_DECIDE_BAD_REQUEST;
    }
    if (has_part && part_too_far(idx, last, msn, part)) {
        return CIR_DECIDE_BAD_REQUEST;
    }
    /* a part past the last of a complete segment is part 0 of the next */
    s = cir_live_index_segment(idx, msn);
    if (has_part && s != NULL && s->complete && part >= s->nb_parts) {
        if (msn == UINT64_MAX) {
            return CIR_DECIDE_BAD_REQUEST;
        }
        msn++;
        part = 0;
    }
    if (msn < last->msn) {
        return CIR_DECIDE_READY; /* includes segments that left (Q2) */
    }
    if (msn > last->msn) {
        return CIR_DECIDE_WAIT;
    }
    /* msn == last */
    if (last->complete) {
        return CIR_DECIDE_READY;
    }
    if (has_part && part < last->nb_parts) {
        return CIR_DECIDE_READY;
    }
    return CIR_DECIDE_WAIT;
}

cir_decision_t
cir_live_decide_object(const cir_live_index_t *idx, const cir_live_path_t *p)
{
    const cir_live_segment_t *first, *last, *s;

    if (idx == NULL || p == NULL) {
        return CIR_DECIDE_NOT_FOUND;
    }
    switch (p->kind) {
    case CIR_REQ_MASTER:
    case CIR_REQ_MPD:
    case CIR_REQ_PLAYLIST:
        return CIR_DECIDE_READY;
    case CIR_REQ_INIT:
        /* old inits stay: DVR segments still refer to them */
        return p->init_id >= 1 && p->init_id <= idx->init_id
                   ? CIR_DECIDE_READY
                   : CIR_DECIDE_NOT_FOUND;
    case CIR_REQ_PART:
    case CIR_REQ_SEGMENT:
        break;
    default:
        return CIR_DECIDE_NOT_FOUND;
    }
    if (idx->nb_segments == 0) {
        return CIR_DECIDE_NOT_FOUND;
    }
    first = &idx->segments[0];
    last = &idx->segments[idx->nb_segments - 1];
    if (p->msn < first->msn) {
        return CIR_DECIDE_GONE;
    }
    if (p->msn > last->msn) {
        /* the next segment's first part is what the preload hint names;
         * for LL-DASH the segment after the open one, which the MPD's
         * open-ended S element (r="-1") lets a player ask for before an
         * MPD update lists it */
        if (!idx->ended && p->msn == last->msn + 1 &&
            (p->kind == CIR_REQ_SEGMENT ||
             (last->complete && p->part == 0 && idx->part_target > 0))) {
            return CIR_DECIDE_WAIT;
        }
        return CIR_DECIDE_NOT_FOUND;
    }
    s = cir_live_index_segment(idx, p->msn);
    if (p->kind == CIR_REQ_SEGMENT) {
        return s->complete ? CIR_DECIDE_READY : CIR_DECIDE_WAIT;
    }
    if (p->part < s->nb_parts) {
        return CIR_DECIDE_READY;
    }
    if (s->complete) {
        /* parts dropped from the index stay fetchable 3 x TD: READY means
         * "serve the file if it is still there" (404 if it is not) */
        return s->nb_parts == 0 && idx->part_target > 0 ? CIR_DECIDE_READY
                                                        : CIR_DECIDE_NOT_FOUND;
    }
    return p->part < cir_live_max_parts(idx) ? CIR_DECIDE_WAIT
                                             : CIR_DECIDE_NOT_FOUND;
}

int64_t
cir_hls_block_limit_us(const cir_live_index_t *idx, int64_t cap_us)
{
    int64_t limit;

    if (idx == NULL || idx->timescale == 0) {
        return cap_us > 0 ? cap_us : 0;
    }
    limit = 3 * cir_live_target_duration(idx) * 1000000;
    if (cap_us > 0 && limit > cap_us) {
        limit = cap_us;
    }
    return limit;
}
