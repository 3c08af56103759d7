/*
 * The live index codec: a versioned, little-endian, fixed-width binary
 * record with a trailing CRC-32, so a torn or foreign file fails to decode
 * instead of misleading the origin.
 *
 *   header   "CIRLIDX1", u32 format version (4), the track (fixed-size
 *            strings NUL-padded), the stream fields, u32 nb_segments,
 *            u32 nb_parts
 *   segments nb_segments x 59 bytes
 *   parts    nb_parts x 14 bytes
 *
 * Version 2 added the part sizes and the kept part records (parts are
 * byte ranges of their segment file); version 3 the stream's timing
 * (u32 target duration, i64 PART-TARGET in µs, after the part target);
 * version 4 the run anchor (run_pdt_us, run_start, run_after_us: where
 * segments[0]'s DASH Period starts, after started_us); version 5 the
 * paused flag (the flags byte's bit 1).  The flags byte's bit 2 (the video
 * track carries closed captions) came later without a version change:
 * older version-5 indexes have it clear, which reads as no captions.  An
 * index of another version fails to decode.
 *   keys     only in an encrypted rendition's index (also without a
 *            version change: an index without them is as long as its
 *            counts say and reads as clear): u32 nb_keys, then per key
 *            u32 from_init, u8 scheme, key ID (16 bytes), u32 systems, per
 *            DRM system u16 length + its pssh box, u16 length + the
 *            PlayReady Object, u16 length + the FairPlay key URI
 *   crc      u32, CRC-32 (IEEE, as zlib's crc32) of everything before it
 *
 * The length is implied by the counts and must match exactly.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_live.h"
#include "cir_storage.h"
#include "live_util.h"

#define MAGIC          "CIRLIDX1"
#define FORMAT_VERSION 5u
#define HEADER_SIZE    285u
#define SEGMENT_SIZE   59u
#define PART_SIZE      14u
#define CRC_SIZE       4u

/* Sanity bounds on times so later sums and formatting cannot overflow. */
#define MAX_TIMESCALE 1000000000u
#define MAX_START     ((int64_t)1 << 62)
#define MAX_WALL_US   INT64_C(32503680000000000) /* year 3000 */

/* ---- CRC-32 (reflected, polynomial 0xEDB88320), table-driven ---- */

static uint32_t
crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    size_t i;

    if (!ready) {
        /* idempotent, so a race between threads only recomputes it */
        for (uint32_t k = 0; k < 256; k++) {
            uint32_t c = k;
            for (int j = 0; j < 8; j++) {
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[k] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* ---- little-endian writers ---- */

static int
put_u8(cir_buf_t *b, uint8_t v)
{
    return cir_buf_append(b, &v, 1);
}

static int
put_u32(cir_buf_t *b, uint32_t v)
{
    uint8_t p[4];

    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
    return cir_buf_append(b, p, 4);
}

static int
put_u64(cir_buf_t *b, uint64_t v)
{
    uint8_t p[8];

    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
    return cir_buf_append(b, p, 8);
}

static int
put_i64(cir_buf_t *b, int64_t v)
{
    return put_u64(b, (uint64_t)v);
}

static int
put_str(cir_buf_t *b, const char *s, size_t size)
{
    char tmp[CIR_LIVE_ID_MAX > 64 ? CIR_LIVE_ID_MAX : 64];
    size_t n = strnlen(s, size);

    if (n >= size || size > sizeof(tmp)) {
        return CIR_EINVAL;
    }
    memset(tmp, 0, size);
    memcpy(tmp, s, n);
    return cir_buf_append(b, tmp, size);
}

/* ---- little-endian reader over a checked range ---- */

typedef struct {
    const uint8_t *p;
    size_t pos, len;
} reader_t;

static uint64_t
get_n(reader_t *r, int n)
{
    uint64_t v = 0;

    /* callers checked the whole length up front */
    for (int i = 0; i < n; i++) {
        v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
    }
    r->pos += (size_t)n;
    return v;
}

static int
get_str(reader_t *r, char *dst, size_t size)
{
    memcpy(dst, r->p + r->pos, size);
    r->pos += size;
    return memchr(dst, '\0', size) != NULL ? 0 : CIR_EPARSE;
}

/* ---- invariants ---- */

static int
check_key(const cir_live_key_t *k, uint32_t init_id)
{
    if (k->from_init == 0 || k->from_init > init_id + 1 ||
        (k->scheme != CIR_ENC_CENC && k->scheme != CIR_ENC_CBCS) ||
        k->systems == 0 || k->systems >= CIR_DRM_BIT(CIR_DRM_NB) ||
        k->playready_pro_len > sizeof(k->playready_pro) ||
        memchr(k->fairplay_key_uri, '\0', sizeof(k->fairplay_key_uri)) ==
            NULL) {
        return CIR_EPARSE;
    }
    for (int i = 0; i < CIR_DRM_NB; i++) {
        if (k->pssh_len[i] > sizeof(k->pssh[i])) {
            return CIR_EPARSE;
        }
    }
    /* it goes into a quoted playlist attribute as it is */
    if (k->fairplay_key_uri[0] != '\0' &&
        !cir_encryption_url_chars_ok(k->fairplay_key_uri,
                                     strlen(k->fairplay_key_uri))) {
        return CIR_EPARSE;
    }
    return 0;
}

static int
check_keys(const cir_live_index_t *idx)
{
    if (idx->nb_keys > CIR_LIVE_MAX_KEYS ||
        (idx->nb_keys > 0 && idx->keys == NULL)) {
        return CIR_EPARSE;
    }
    for (size_t i = 0; i < idx->nb_keys; i++) {
        if (check_key(&idx->keys[i], idx->init_id) < 0 ||
            (i > 0 && idx->keys[i].from_init <= idx->keys[i - 1].from_init)) {
            return CIR_EPARSE;
        }
    }
    return 0;
}

static int
check_track(const cir_live_track_t *t)
{
    if (memchr(t->rendition, '\0', sizeof(t->rendition)) == NULL ||
        memchr(t->codecs, '\0', sizeof(t->codecs)) == NULL) {
        return CIR_EPARSE;
    }
    if (t->kind != CIR_LIVE_VIDEO && t->kind != CIR_LIVE_AUDIO) {
        return CIR_EPARSE;
    }
    if (t->closed_captions > 1 ||
        (t->closed_captions && t->kind != CIR_LIVE_VIDEO)) {
        return CIR_EPARSE;
    }
    if (t->width < 0 || t->height < 0 || t->sample_rate < 0 ||
        t->channels < 0 || !(t->frame_rate >= 0.0 && t->frame_rate < 1000.0)) {
        return CIR_EPARSE;
    }
    return 0;
}

static int
wall_ok(int64_t us)
{
    return us >= 0 && us < MAX_WALL_US;
}

int
cir_live_index_check(const cir_live_index_t *idx)
{
    size_t i;
    int ret;

    if (idx == NULL) {
        return CIR_EINVAL;
    }
    if ((ret = check_track(&idx->track)) < 0 || (ret = check_keys(idx)) < 0) {
        return ret;
    }
    if (idx->timescale == 0 || idx->timescale > MAX_TIMESCALE ||
        idx->segment_target <= 0 ||
        idx->segment_target > (int64_t)idx->timescale * 3600 ||
        idx->part_target < 0 || idx->part_target > idx->segment_target ||
        idx->target_duration > 3600 || idx->part_target_us < 0 ||
        idx->part_target_us > INT64_C(3600000000) || idx->window == 0 ||
        idx->window > CIR_LIVE_MAX_SEGMENTS || idx->ended > 1 ||
        idx->paused > 1 || !wall_ok(idx->updated_us) ||
        !wall_ok(idx->started_us) || !wall_ok(idx->run_pdt_us) ||
        idx->run_start < 0 || idx->run_start > MAX_START ||
        !wall_ok(idx->run_after_us) || idx->run_after_us > idx->run_pdt_us) {
        return CIR_EPARSE;
    }
    if (idx->nb_segments > CIR_LIVE_MAX_SEGMENTS ||
        idx->nb_parts > (size_t)CIR_LIVE_MAX_SEGMENTS * CIR_LIVE_MAX_PARTS ||
        (idx->nb_segments > 0 && idx->segments == NULL) ||
        (idx->nb_parts > 0 && idx->parts == NULL)) {
        return CIR_EPARSE;
    }
    for (i = 0; i < idx->nb_segments; i++) {
        const cir_live_segment_t *s = &idx->segments[i];
        int last = i + 1 == idx->nb_segments;

        if (i == 0 ? s->msn > UINT64_MAX - CIR_LIVE_MAX_SEGMENTS
                   : s->msn != idx->segments[i - 1].msn + 1) {
            return CIR_EPARSE;
        }
        if (s->start < 0 || s->start > MAX_START || s->duration < 0 ||
            s->duration > (int64_t)idx->timescale * 3600 ||
            !wall_ok(s->pdt_us) || s->init_id > idx->init_id ||
            s->discontinuity > 1 || s->complete > 1 || s->gap > 1) {
            return CIR_EPARSE;
        }
        /* only the last segment may be open, and none once ended */
        if (!s->complete && (!last || idx->ended)) {
            return CIR_EPARSE;
        }
        if (s->nb_parts > CIR_LIVE_MAX_PARTS ||
            s->nb_kept > CIR_LIVE_MAX_PARTS ||
            (uint64_t)s->first_part + cir_live_nb_records(s) > idx->nb_parts) {
            return CIR_EPARSE;
        }
    }
    for (i = 0; i < idx->nb_parts; i++) {
        const cir_live_part_t *p = &idx->parts[i];
        if (p->duration < 0 || p->duration > idx->segment_target * 4 ||
            p->independent > 1 || p->gap > 1) {
            return CIR_EPARSE;
        }
    }
    return 0;
}

/* ---- encode ---- */

static int
put_blob(cir_buf_t *b, const void *data, size_t len)
{
    uint8_t n[2] = {(uint8_t)len, (uint8_t)(len >> 8)};
    int ret;

    if ((ret = cir_buf_append(b, n, 2)) < 0) {
        return ret;
    }
    return len > 0 ? cir_buf_append(b, data, len) : 0;
}

static int
put_keys(cir_buf_t *out, const cir_live_index_t *idx)
{
    int ret;

    if ((ret = put_u32(out, (uint32_t)idx->nb_keys)) < 0) {
        return ret;
    }
    for (size_t i = 0; i < idx->nb_keys && ret == 0; i++) {
        const cir_live_key_t *k = &idx->keys[i];
        if ((ret = put_u32(out, k->from_init)) < 0 ||
            (ret = put_u8(out, k->scheme)) < 0 ||
            (ret = cir_buf_append(out, k->key_id, 16)) < 0 ||
            (ret = put_u32(out, k->systems)) < 0) {
            return ret;
        }
        for (int s = 0; s < CIR_DRM_NB && ret == 0; s++) {
            ret = put_blob(out, k->pssh[s], k->pssh_len[s]);
        }
        if (ret == 0) {
            ret = put_blob(out, k->playready_pro, k->playready_pro_len);
        }
        if (ret == 0) {
            ret =
                put_blob(out, k->fairplay_key_uri, strlen(k->fairplay_key_uri));
        }
    }
    return ret;
}

int
cir_live_index_encode(const cir_live_index_t *idx, cir_buf_t *out)
{
    const cir_live_track_t *t;
    size_t i, len0;
    uint64_t fr;
    int ret;

    if (idx == NULL || out == NULL) {
        return CIR_EINVAL;
    }
    if (cir_live_index_check(idx) < 0) {
        return CIR_EINVAL;
    }
    len0 = out->len;
    t = &idx->track;
    memcpy(&fr, &t->frame_rate, sizeof(fr));

#define TRY(e)                 \
    do {                       \
        if ((ret = (e)) < 0) { \
            goto fail;         \
        }                      \
    } while (0)

    TRY(cir_buf_append(out, MAGIC, 8));
    TRY(put_u32(out, FORMAT_VERSION));
    TRY(put_str(out, t->rendition, sizeof(t->rendition)));
    TRY(put_u32(out, (uint32_t)t->kind));
    TRY(put_str(out, t->codecs, sizeof(t->codecs)));
    TRY(put_u32(out, (uint32_t)t->width));
    TRY(put_u32(out, (uint32_t)t->height));
    TRY(put_u64(out, fr));
    TRY(put_u32(out, (uint32_t)t->sample_rate));
    TRY(put_u32(out, (uint32_t)t->channels));
    TRY(put_u64(out, t->bandwidth));
    TRY(put_u64(out, t->average_bandwidth));
    TRY(put_u32(out, idx->timescale));
    TRY(put_i64(out, idx->segment_target));
    TRY(put_i64(out, idx->part_target));
    TRY(put_u32(out, idx->target_duration));
    TRY(put_i64(out, idx->part_target_us));
    TRY(put_u32(out, idx->window));
    TRY(put_u32(out, idx->discontinuity_sequence));
    TRY(put_u32(out, idx->init_id));
    TRY(put_u8(out, (uint8_t)(idx->ended | idx->paused << 1 |
                              t->closed_captions << 2)));
    TRY(put_u64(out, idx->version));
    TRY(put_i64(out, idx->updated_us));
    TRY(put_i64(out, idx->started_us));
    TRY(put_i64(out, idx->run_pdt_us));
    TRY(put_i64(out, idx->run_start));
    TRY(put_i64(out, idx->run_after_us));
    TRY(put_u32(out, (uint32_t)idx->nb_segments));
    TRY(put_u32(out, (uint32_t)idx->nb_parts));
    for (i = 0; i < idx->nb_segments; i++) {
        const cir_live_segment_t *s = &idx->segments[i];
        TRY(put_u64(out, s->msn));
        TRY(put_i64(out, s->start));
        TRY(put_i64(out, s->duration));
        TRY(put_i64(out, s->pdt_us));
        TRY(put_u64(out, s->size));
        TRY(put_u32(out, s->init_id));
        TRY(put_u8(out, s->discontinuity));
        TRY(put_u8(out, s->complete));
        /* bit 1: outage media (added within version 5: older indexes
         * have it clear) */
        TRY(put_u8(out, (uint8_t)(s->gap | s->outage << 1)));
        TRY(put_u32(out, s->first_part));
        TRY(put_u32(out, s->nb_parts));
        TRY(put_u32(out, s->nb_kept));
    }
    for (i = 0; i < idx->nb_parts; i++) {
        TRY(put_i64(out, idx->parts[i].duration));
        TRY(put_u32(out, idx->parts[i].size));
        TRY(put_u8(out, idx->parts[i].independent));
        TRY(put_u8(out, idx->parts[i].gap));
    }
    if (idx->nb_keys > 0) {
        TRY(put_keys(out, idx));
    }
    if (out->len - len0 > CIR_LIVE_INDEX_MAX_SIZE - CRC_SIZE) {
        ret = CIR_ELIMIT;
        goto fail;
    }
    TRY(put_u32(out, crc32_update(0, (const uint8_t *)out->data + len0,
                                  out->len - len0)));
#undef TRY
    return 0;

fail:
    /* cir_buf keeps its NUL terminator at len */
    out->len = len0;
    if (out->data != NULL) {
        out->data[len0] = '\0';
    }
    return ret;
}

/* ---- decode ---- */

/* A u16-length-prefixed blob of at most size bytes from the key section
 * (bounds checked: the section is variable-length). */
static int
get_blob(reader_t *r, size_t end, void *dst, size_t size, uint16_t *len)
{
    size_t n;

    if (r->pos + 2 > end) {
        return CIR_EPARSE;
    }
    n = (size_t)get_n(r, 2);
    if (n > size || r->pos + n > end) {
        return CIR_EPARSE;
    }
    memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    *len = (uint16_t)n;
    return 0;
}

static int
read_key(reader_t *r, size_t end, cir_live_key_t *k)
{
    uint16_t n;

    if (r->pos + 25 > end) {
        return CIR_EPARSE;
    }
    k->from_init = (uint32_t)get_n(r, 4);
    k->scheme = (uint8_t)get_n(r, 1);
    memcpy(k->key_id, r->p + r->pos, 16);
    r->pos += 16;
    k->systems = (uint32_t)get_n(r, 4);
    for (int s = 0; s < CIR_DRM_NB; s++) {
        if (get_blob(r, end, k->pssh[s], sizeof(k->pssh[s]), &k->pssh_len[s]) <
            0) {
            return CIR_EPARSE;
        }
    }
    if (get_blob(r, end, k->playready_pro, sizeof(k->playready_pro),
                 &k->playready_pro_len) < 0 ||
        get_blob(r, end, k->fairplay_key_uri, sizeof(k->fairplay_key_uri) - 1,
                 &n) < 0) {
        return CIR_EPARSE;
    }
    k->fairplay_key_uri[n] = '\0';
    return 0;
}

/* The key section, keys_len bytes before the CRC (0: none). */
static int
read_keys(reader_t *r, cir_live_index_t *x, size_t keys_len)
{
    size_t end = r->pos + keys_len;
    uint64_t n;

    if (keys_len == 0) {
        return 0;
    }
    if (keys_len < 4) {
        return CIR_EPARSE;
    }
    n = get_n(r, 4);
    if (n == 0 || n > CIR_LIVE_MAX_KEYS) {
        return CIR_EPARSE;
    }
    if ((x->keys = calloc((size_t)n, sizeof(*x->keys))) == NULL) {
        return CIR_ENOMEM;
    }
    x->nb_keys = (size_t)n;
    for (size_t i = 0; i < x->nb_keys; i++) {
        if (read_key(r, end, &x->keys[i]) < 0) {
            return CIR_EPARSE;
        }
    }
    return r->pos == end ? 0 : CIR_EPARSE;
}

/* The frame: size, magic, format version, counts within the limits and
 * matching the size, CRC.  r is set on the whole encoded index. */
static int
check_frame(reader_t *r, const void *data, size_t len, uint64_t *nseg,
            uint64_t *npart, size_t *keys_len)
{
    uint64_t expect, crc;

    if (len < HEADER_SIZE + CRC_SIZE || len > CIR_LIVE_INDEX_MAX_SIZE) {
        return CIR_EPARSE;
    }
    r->p = data;
    r->pos = 0;
    r->len = len;
    if (memcmp(r->p, MAGIC, 8) != 0) {
        return CIR_EPARSE;
    }
    r->pos = 8;
    if (get_n(r, 4) != FORMAT_VERSION) {
        return CIR_EPARSE;
    }
    /* counts sit at the end of the fixed header */
    r->pos = HEADER_SIZE - 8;
    *nseg = get_n(r, 4);
    *npart = get_n(r, 4);
    if (*nseg > CIR_LIVE_MAX_SEGMENTS ||
        *npart > (uint64_t)CIR_LIVE_MAX_SEGMENTS * CIR_LIVE_MAX_PARTS) {
        return CIR_EPARSE;
    }
    expect = HEADER_SIZE + *nseg * SEGMENT_SIZE + *npart * PART_SIZE + CRC_SIZE;
    if (expect > len) {
        return CIR_EPARSE;
    }
    *keys_len = len - (size_t)expect; /* 0: clear */
    r->pos = len - CRC_SIZE;
    crc = get_n(r, 4);
    if (crc != crc32_update(0, r->p, len - CRC_SIZE)) {
        return CIR_EPARSE;
    }
    return 0;
}

/* The fixed header after the format version, up to the counts. */
static int
read_header(reader_t *r, cir_live_index_t *out)
{
    cir_live_index_t x = *out;
    cir_live_track_t *t = &x.track;
    uint64_t fr;

    r->pos = 12;
    if (get_str(r, t->rendition, sizeof(t->rendition)) < 0) {
        return CIR_EPARSE;
    }
    t->kind = (cir_live_kind_t)get_n(r, 4);
    if (get_str(r, t->codecs, sizeof(t->codecs)) < 0) {
        return CIR_EPARSE;
    }
    t->width = (int32_t)get_n(r, 4);
    t->height = (int32_t)get_n(r, 4);
    fr = get_n(r, 8);
    memcpy(&t->frame_rate, &fr, sizeof(fr));
    t->sample_rate = (int32_t)get_n(r, 4);
    t->channels = (int32_t)get_n(r, 4);
    t->bandwidth = get_n(r, 8);
    t->average_bandwidth = get_n(r, 8);
    x.timescale = (uint32_t)get_n(r, 4);
    x.segment_target = (int64_t)get_n(r, 8);
    x.part_target = (int64_t)get_n(r, 8);
    x.target_duration = (uint32_t)get_n(r, 4);
    x.part_target_us = (int64_t)get_n(r, 8);
    x.window = (uint32_t)get_n(r, 4);
    x.discontinuity_sequence = (uint32_t)get_n(r, 4);
    x.init_id = (uint32_t)get_n(r, 4);
    x.ended = (uint8_t)get_n(r, 1);
    t->closed_captions = (uint8_t)(x.ended >> 2); /* > 1: refused */
    x.paused = (x.ended >> 1) & 1;
    x.ended &= 1;
    x.version = get_n(r, 8);
    x.updated_us = (int64_t)get_n(r, 8);
    x.started_us = (int64_t)get_n(r, 8);
    x.run_pdt_us = (int64_t)get_n(r, 8);
    x.run_start = (int64_t)get_n(r, 8);
    x.run_after_us = (int64_t)get_n(r, 8);
    r->pos += 8; /* the counts, read with the frame */
    *out = x;
    return 0;
}

/* The segment and part records that follow the header. */
static int
read_records(reader_t *r, cir_live_index_t *x, uint64_t nseg, uint64_t npart)
{
    size_t i;

    if (nseg > 0 &&
        (x->segments = calloc((size_t)nseg, sizeof(*x->segments))) == NULL) {
        return CIR_ENOMEM;
    }
    if (npart > 0 &&
        (x->parts = calloc((size_t)npart, sizeof(*x->parts))) == NULL) {
        return CIR_ENOMEM;
    }
    x->nb_segments = (size_t)nseg;
    x->nb_parts = (size_t)npart;
    for (i = 0; i < x->nb_segments; i++) {
        cir_live_segment_t *s = &x->segments[i];
        s->msn = get_n(r, 8);
        s->start = (int64_t)get_n(r, 8);
        s->duration = (int64_t)get_n(r, 8);
        s->pdt_us = (int64_t)get_n(r, 8);
        s->size = get_n(r, 8);
        s->init_id = (uint32_t)get_n(r, 4);
        s->discontinuity = (uint8_t)get_n(r, 1);
        s->complete = (uint8_t)get_n(r, 1);
        s->gap = (uint8_t)get_n(r, 1);
        s->outage = s->gap >> 1;
        s->gap &= 1;
        s->first_part = (uint32_t)get_n(r, 4);
        s->nb_parts = (uint32_t)get_n(r, 4);
        s->nb_kept = (uint32_t)get_n(r, 4);
    }
    for (i = 0; i < x->nb_parts; i++) {
        x->parts[i].duration = (int64_t)get_n(r, 8);
        x->parts[i].size = (uint32_t)get_n(r, 4);
        x->parts[i].independent = (uint8_t)get_n(r, 1);
        x->parts[i].gap = (uint8_t)get_n(r, 1);
    }
    return 0;
}

int
cir_live_index_decode(const void *data, size_t len, cir_live_index_t *idx)
{
    cir_live_index_t x;
    reader_t r;
    uint64_t nseg, npart;
    size_t keys_len = 0;
    int ret;

    if (idx == NULL || (data == NULL && len > 0)) {
        return CIR_EINVAL;
    }
    memset(idx, 0, sizeof(*idx));
    memset(&x, 0, sizeof(x));
    if ((ret = check_frame(&r, data, len, &nseg, &npart, &keys_len)) < 0) {
        return ret;
    }
    if ((ret = read_header(&r, &x)) < 0 ||
        (ret = read_records(&r, &x, nseg, npart)) < 0 ||
        (ret = read_keys(&r, &x, keys_len)) < 0) {
        goto fail;
    }
    if (cir_live_index_check(&x) < 0) {
        ret = CIR_EPARSE;
        goto fail;
    }
    *idx = x;
    return 0;

fail:
    free(x.segments);
    free(x.parts);
    free(x.keys);
    return ret;
}

void
cir_live_index_free(cir_live_index_t *idx)
{
    if (idx == NULL) {
        return;
    }
    free(idx->segments);
    free(idx->parts);
    free(idx->keys);
    idx->segments = NULL;
    idx->parts = NULL;
    idx->keys = NULL;
    idx->nb_segments = 0;
    idx->nb_parts = 0;
    idx->nb_keys = 0;
}

void
cir_live_key_protection(const cir_live_key_t *k, cir_protection_t *p)
{
    memset(p, 0, sizeof(*p));
    p->scheme = (cir_enc_scheme_t)k->scheme;
    memcpy(p->key_id, k->key_id, sizeof(p->key_id));
    p->systems = k->systems;
    for (int s = 0; s < CIR_DRM_NB; s++) {
        if (k->pssh_len[s] > 0) {
            p->pssh[s] = k->pssh[s];
            p->pssh_len[s] = k->pssh_len[s];
        }
    }
    if (k->playready_pro_len > 0) {
        p->playready_pro = k->playready_pro;
        p->playready_pro_len = k->playready_pro_len;
    }
    if (k->fairplay_key_uri[0] != '\0') {
        p->fairplay_key_uri = k->fairplay_key_uri;
    }
}

const cir_live_key_t *
cir_live_index_key(const cir_live_index_t *idx, uint32_t init_id)
{
    const cir_live_key_t *k = NULL;

    for (size_t i = 0; idx != NULL && i < idx->nb_keys; i++) {
        if (idx->keys[i].from_init <= init_id) {
            k = &idx->keys[i];
        }
    }
    return k;
}

int
cir_live_index_load(const char *dir, cir_live_index_t *idx)
{
    char path[PATH_MAX], *data = NULL;
    size_t len = 0;
    int n, ret;

    if (dir == NULL || idx == NULL) {
        return CIR_EINVAL;
    }
    memset(idx, 0, sizeof(*idx));
    if ((n = cir_live_path(path, sizeof(path), dir, CIR_LIVE_FILE_INDEX, 0)) <
        0) {
        return n;
    }
    /* The writer rewrites a few index files in rotation (see
     * live_writer.c): a reader stalled for several updates between its
     * open and its read can see a rewrite, which the CRC rejects; the
     * file the name points to now is whole. */
    for (int attempt = 0; attempt < 3; attempt++) {
        ret = cir_read_file(path, CIR_LIVE_INDEX_MAX_SIZE, &data, &len);
        if (ret == -ENOENT || ret == -ENOTDIR) {
            return CIR_ENOTFOUND;
        }
        if (ret < 0) {
            return ret;
        }
        ret = cir_live_index_decode(data, len, idx);
        free(data);
        data = NULL;
        if (ret != CIR_EPARSE) {
            break;
        }
    }
    return ret;
}

/* ---- queries ---- */

int
cir_live_index_last(const cir_live_index_t *idx, uint64_t *msn, int *part)
{
    const cir_live_segment_t *s;

    if (idx == NULL || idx->nb_segments == 0) {
        return CIR_ENOTFOUND;
    }
    s = &idx->segments[idx->nb_segments - 1];
    if (msn) {
        *msn = s->msn;
    }
    if (part) {
        /* the last part of the last segment, -1 when it has none listed */
        *part = s->nb_parts > 0 ? (int)s->nb_parts - 1 : -1;
    }
    return 0;
}

const cir_live_segment_t *
cir_live_index_segment(const cir_live_index_t *idx, uint64_t msn)
{
    uint64_t first;

    if (idx == NULL || idx->nb_segments == 0) {
        return NULL;
    }
    /* msns are consecutive (checked on decode and by the writer) */
    first = idx->segments[0].msn;
    if (msn < first || msn - first >= idx->nb_segments) {
        return NULL;
    }
    return &idx->segments[msn - first];
}

int
cir_live_index_part_range(const cir_live_index_t *idx, uint64_t msn,
                          uint32_t part, uint64_t *offset, uint32_t *size)
{
    const cir_live_segment_t *s = cir_live_index_segment(idx, msn);
    uint64_t off = 0;
    uint32_t i;

    if (s == NULL || part >= cir_live_nb_records(s)) {
        return CIR_ENOTFOUND;
    }
    /* the check bounds first_part + records by nb_parts */
    for (i = 0; i < part; i++) {
        off += idx->parts[s->first_part + i].size;
    }
    if (offset) {
        *offset = off;
    }
    if (size) {
        *size = idx->parts[s->first_part + part].size;
    }
    return 0;
}

const cir_live_segment_t *
cir_live_open_segment(const cir_live_index_t *idx)
{
    const cir_live_segment_t *s;

    if (idx == NULL || idx->nb_segments == 0) {
        return NULL;
    }
    s = &idx->segments[idx->nb_segments - 1];
    return s->complete ? NULL : s;
}

int64_t
cir_live_target_duration(const cir_live_index_t *idx)
{
    int64_t ts = idx->timescale, td, d;
    size_t i;

    if (idx->target_duration > 0) {
        return idx->target_duration; /* the stream's, decided once */
    }
    td = (idx->segment_target + ts - 1) / ts;
    for (i = 0; i < idx->nb_segments; i++) {
        d = (idx->segments[i].duration + ts - 1) / ts;
        if (d > td) {
            td = d;
        }
    }
    return td < 1 ? 1 : td;
}

uint32_t
cir_live_max_parts(const cir_live_index_t *idx)
{
    int64_t n;

    if (idx->part_target <= 0) {
        return 0;
    }
    n = (idx->segment_target + idx->part_target - 1) / idx->part_target + 1;
    return n > CIR_LIVE_MAX_PARTS ? CIR_LIVE_MAX_PARTS : (uint32_t)n;
}

/* ---- a live stream's timing (see cir_live.h) ---- */

#define TD_SLACK_US 100000 /* measured durations: 100 ms less, rounded up */

int64_t
cir_live_part_target_us(double part_seconds)
{
    int64_t ms;

    if (!(part_seconds > 0) || part_seconds > 3600) {
        return 0;
    }
    /* whole ms, up; 1e-9 absorbs the binary representation of 0.3 etc. */
    ms = (int64_t)(part_seconds * 1000 - 1e-6);
    if ((double)ms < part_seconds * 1000 - 1e-6) {
        ms++;
    }
    return (ms < 1 ? 1 : ms) * 1000;
}

/* Frames per part: the divisor of the segment's frame count nearest the
 * configured part (by ratio; the shorter on a tie), or, when none lies
 * within 1.5 x (a prime count), the configured part in whole frames. */
static int64_t
frames_per_part(double part_frames, int64_t segment_frames)
{
    int64_t best = 0;
    double best_ratio = 0;

    for (int64_t k = 1; k <= segment_frames; k++) {
        double ratio;
        if (segment_frames % k != 0) {
            continue;
        }
        ratio = k > part_frames ? k / part_frames : part_frames / k;
        if (best == 0 || ratio < best_ratio) {
            best = k;
            best_ratio = ratio;
        }
    }
    if (best == 0 || best_ratio > 1.5) {
        best = (int64_t)(part_frames + 0.5);
    }
    return best < 1 ? 1 : best;
}

int64_t
cir_live_video_part_target_us(double part_seconds, double segment_seconds,
                              int fr_num, int fr_den)
{
    double fps, frame_us, part_us, slack_us;
    int64_t k, seg_frames, target_us;

    if (fr_num <= 0 || fr_den <= 0 || !(segment_seconds >= part_seconds) ||
        cir_live_part_target_us(part_seconds) == 0) {
        return cir_live_part_target_us(part_seconds);
    }
    fps = (double)fr_num / fr_den;
    seg_frames = (int64_t)(segment_seconds * fps + 0.5);
    if (fps > 1000 || seg_frames < 1 || seg_frames > 100000 ||
        part_seconds * fps < 1) {
        return cir_live_part_target_us(part_seconds);
    }
    k = frames_per_part(part_seconds * fps, seg_frames);
    frame_us = 1e6 / fps;
    part_us = k * frame_us;
    slack_us = frame_us / 2 < part_us / 10 ? frame_us / 2 : part_us / 10;
    target_us = cir_live_part_target_us((part_us + slack_us) / 1e6);
    /* a part as long as the segment: the slack would outgrow it */
    return (double)target_us > segment_seconds * 1e6
               ? cir_live_part_target_us(part_seconds)
               : target_us;
}

static uint32_t
seconds_up(int64_t us)
{
    us -= TD_SLACK_US;
    return us <= 0 ? 1 : (uint32_t)((us + 999999) / 1000000);
}

uint32_t
cir_live_max_target_duration(int64_t segment_target_us)
{
    uint32_t td = seconds_up(segment_target_us) * CIR_LIVE_TD_FACTOR;

    return td > 3600 ? 3600 : td;
}

uint32_t
cir_live_decide_target_duration(int64_t segment_target_us,
                                int64_t first_segment_us)
{
    uint32_t td = seconds_up(segment_target_us), max;

    max = cir_live_max_target_duration(segment_target_us);
    if (first_segment_us > 0 && seconds_up(first_segment_us) > td) {
        td = seconds_up(first_segment_us);
    }
    return td > max ? max : td;
}

int64_t
cir_live_segment_limit_us(uint32_t target_duration)
{
    /* EXTINF rounds to the nearest integer: below td + 0.5 s */
    return (int64_t)target_duration * 1000000 + 500000 - 1;
}

int
cir_live_parts_listed(const cir_live_index_t *idx, size_t i)
{
    int64_t from_end = 0;
    size_t n;

    if (idx == NULL || i >= idx->nb_segments || idx->part_target <= 0) {
        return 0;
    }
    if (!idx->segments[i].complete) {
        return 1;
    }
    /* a live playlist whose segments are all complete hints the next
     * one's first part: that segment counts as one of the three */
    n = idx->nb_segments;
    if (!idx->ended && !idx->paused && idx->segments[n - 1].complete) {
        n++;
    }
    if (i + 3 < n) {
        return 0;
    }
    /* how far its start lies from the end of the playlist */
    for (size_t k = i; k < idx->nb_segments; k++) {
        from_end += idx->segments[k].duration;
    }
    return from_end <=
           3 * cir_live_target_duration(idx) * (int64_t)idx->timescale;
}
