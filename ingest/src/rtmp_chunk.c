/*
 * The RTMP handshake and chunk stream: a reader fed with bytes that returns
 * whole messages, and a writer that cuts messages into chunks.
 * Tests: tests/unit/test_ingest_rtmp_chunk.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_rtmp.h"

/* ---- handshake ---------------------------------------------------------- */

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t
get_be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

void
cir_rtmp_handshake_init(cir_rtmp_handshake_t *h, uint32_t time,
                        const uint8_t *random)
{
    memset(h, 0, sizeof(*h));
    put_be32(h->s1, time);
    memcpy(h->s1 + 8, random, CIR_RTMP_HS_SIZE - 8);
}

int
cir_rtmp_handshake_feed(cir_rtmp_handshake_t *h, const uint8_t *p, size_t n,
                        size_t *used)
{
    size_t pos = 0, take;

    while (h->state < 3) {
        if (pos == n) {
            *used = pos;
            return CIR_EAGAIN;
        }
        if (h->state == 0) {
            if (p[pos] != 3) {
                *used = pos;
                return CIR_EPARSE;
            }
            pos++;
            /* S0 + S1 right after C0 */
            h->out[h->out_len++] = 3;
            memcpy(h->out + h->out_len, h->s1, CIR_RTMP_HS_SIZE);
            h->out_len += CIR_RTMP_HS_SIZE;
            h->state = 1;
            h->have = 0;
            continue;
        }
        take = CIR_RTMP_HS_SIZE - h->have;
        if (take > n - pos) {
            take = n - pos;
        }
        if (h->state == 1) {
            memcpy(h->c1 + h->have, p + pos, take);
        }
        /* C2 is read and ignored: clients differ in what they echo */
        h->have += take;
        pos += take;
        if (h->have < CIR_RTMP_HS_SIZE) {
            continue;
        }
        if (h->state == 1) {
            /* S2 echoes C1: its time, then our time2 (zero), its random */
            uint8_t *s2 = h->out + h->out_len;
            memcpy(s2, h->c1, CIR_RTMP_HS_SIZE);
            memcpy(s2 + 4, h->s1, 4);
            h->out_len += CIR_RTMP_HS_SIZE;
        }
        h->state++;
        h->have = 0;
    }
    *used = pos;
    return 0;
}

/* ---- chunk reader ------------------------------------------------------- */

struct cir_rtmp_chunk_state {
    uint32_t csid;
    uint32_t timestamp; /* of the current/last message */
    uint32_t ts_field;  /* last timestamp or delta field (extended value) */
    uint32_t length;
    uint8_t type;
    uint32_t stream_id;
    int extended; /* the last header carried an extended timestamp */
    int seen;     /* a header fixed length/type/stream id */
    int in_msg;   /* a message is being assembled */
    uint8_t *buf;
    uint32_t cap, have;
};

void
cir_rtmp_reader_init(cir_rtmp_reader_t *r, uint32_t max_msg_size,
                     uint32_t max_streams)
{
    memset(r, 0, sizeof(*r));
    r->chunk_size = CIR_RTMP_DEFAULT_CHUNK_SIZE;
    r->max_streams = max_streams ? max_streams : 8;
    cir_rtmp_reader_set_max_msg_size(r, max_msg_size);
}

void
cir_rtmp_reader_set_max_msg_size(cir_rtmp_reader_t *r, uint32_t max_msg_size)
{
    r->max_msg_size = max_msg_size;
    r->max_buffered =
        max_msg_size * 2u < max_msg_size ? UINT32_MAX : max_msg_size * 2u;
}

void
cir_rtmp_reader_free(cir_rtmp_reader_t *r)
{
    for (uint32_t i = 0; i < r->ncs; i++) {
        free(r->cs[i].buf);
    }
    free(r->cs);
    r->cs = NULL;
    r->ncs = 0;
    r->allocated = 0;
}

static cir_rtmp_chunk_state_t *
find_cs(cir_rtmp_reader_t *r, uint32_t csid, int create)
{
    cir_rtmp_chunk_state_t *cs;

    for (uint32_t i = 0; i < r->ncs; i++) {
        if (r->cs[i].csid == csid) {
            return &r->cs[i];
        }
    }
    if (!create || r->ncs >= r->max_streams) {
        return NULL;
    }
    cs = realloc(r->cs, (r->ncs + 1) * sizeof(*cs));
    if (cs == NULL) {
        return NULL;
    }
    r->cs = cs;
    cs = &r->cs[r->ncs++];
    memset(cs, 0, sizeof(*cs));
    cs->csid = csid;
    return cs;
}

void
cir_rtmp_reader_abort(cir_rtmp_reader_t *r, uint32_t csid)
{
    cir_rtmp_chunk_state_t *cs = find_cs(r, csid, 0);

    if (cs != NULL && cs->in_msg) {
        r->buffered -= cs->have;
        cs->have = 0;
        cs->in_msg = 0;
    }
}

/* Bytes of the basic header given its first byte. */
static size_t
basic_len(uint8_t b0)
{
    uint8_t low = b0 & 0x3f;

    return low == 0 ? 2 : low == 1 ? 3 : 1;
}

static const size_t msg_hdr_len[4] = {11, 7, 3, 0};

/* The reader's state while a chunk's payload is read: the chunk stream and
 * how many payload bytes this chunk still carries. */
typedef struct {
    cir_rtmp_chunk_state_t *cs;
    uint32_t left;
} payload_t;

/* Parses the complete header in r->hdr.  Returns 0 with the chunk set up,
 * 1 if the 4 bytes after a fmt-3 header were not an extended timestamp
 * (they go back to the input), or an error. */
static int
apply_header(cir_rtmp_reader_t *r, payload_t *pl, size_t hlen, int peeked)
{
    const uint8_t *h = r->hdr;
    uint8_t fmt = h[0] >> 6;
    size_t b = basic_len(h[0]);
    uint32_t csid, field = 0;
    cir_rtmp_chunk_state_t *cs;
    int rollback = 0;

    csid = b == 1   ? (uint32_t)(h[0] & 0x3f)
           : b == 2 ? 64u + h[1]
                    : 64u + h[1] + 256u * h[2];
    cs = find_cs(r, csid, fmt == 0);
    if (cs == NULL) {
        /* fmt 1-3 on an unknown chunk stream, or too many of them */
        return fmt == 0 ? CIR_ELIMIT : CIR_EPARSE;
    }
    if (fmt != 0 && !cs->seen) {
        return CIR_EPARSE;
    }
    if (fmt < 3) {
        const uint8_t *m = h + b;
        field = get_be24(m);
        if (cs->in_msg) {
            /* a new header in the middle of a message: the old one is lost
             * (a misbehaving peer); start over with this one */
            r->buffered -= cs->have;
            cs->have = 0;
            cs->in_msg = 0;
        }
        if (fmt <= 1) {
            cs->length = get_be24(m + 3);
            cs->type = m[6];
        }
        if (fmt == 0) {
            /* the message stream id is little-endian */
            cs->stream_id = (uint32_t)m[7] | (uint32_t)m[8] << 8 |
                            (uint32_t)m[9] << 16 | (uint32_t)m[10] << 24;
        }
        cs->extended = field == 0xffffff;
        if (cs->extended) {
            field = get_be32(h + b + msg_hdr_len[fmt]);
        }
        cs->ts_field = field;
        cs->timestamp = fmt == 0 ? field : cs->timestamp + field;
        cs->seen = 1;
    } else {
        if (peeked) {
            uint32_t ext = get_be32(h + b);
            /* after the first chunk of a message the extended timestamp
             * may or may not repeat: keep it only if it matches (as SRS) */
            if (cs->in_msg && ext != cs->ts_field) {
                rollback = 1;
            }
        }
        if (!cs->in_msg) {
            cs->timestamp += cs->ts_field;
        }
    }
    (void)hlen;
    if (!cs->in_msg) {
        if (cs->length > r->max_msg_size) {
            return CIR_ELIMIT;
        }
        if (r->buffered + cs->length > r->max_buffered) {
            return CIR_ELIMIT;
        }
        cs->in_msg = 1;
        cs->have = 0;
    }
    pl->cs = cs;
    pl->left = cs->length - cs->have;
    if (pl->left > r->chunk_size) {
        pl->left = r->chunk_size;
    }
    return rollback;
}

/* The reader's input: bytes given back after a failed peek, then p. */
typedef struct {
    cir_rtmp_reader_t *r;
    const uint8_t *p;
    size_t n, pos;
} src_t;

static size_t
src_take(src_t *s, uint8_t *dst, size_t want)
{
    cir_rtmp_reader_t *r = s->r;
    size_t got = 0, k;

    while (got < want && r->replay_pos < r->replay_len) {
        dst[got++] = r->replay[r->replay_pos++];
    }
    if (r->replay_pos == r->replay_len) {
        r->replay_pos = r->replay_len = 0;
    }
    k = want - got;
    if (k > s->n - s->pos) {
        k = s->n - s->pos;
    }
    memcpy(dst + got, s->p + s->pos, k);
    s->pos += k;
    return got + k;
}

/* Reads header bytes into r->hdr up to need; 1 when it has them. */
static int
gather(src_t *s, size_t need)
{
    cir_rtmp_reader_t *r = s->r;

    if (r->hdr_len < need) {
        r->hdr_len += src_take(s, r->hdr + r->hdr_len, need - r->hdr_len);
    }
    return r->hdr_len >= need;
}

/* Room for `need` bytes of the message being assembled on cs.  The buffer
 * grows with the bytes that arrive (doubling, up to the declared length)
 * rather than to the declared length at once: a peer that announces a
 * large message and sends little of it holds little memory. */
static int
reserve(cir_rtmp_reader_t *r, cir_rtmp_chunk_state_t *cs, uint32_t need)
{
    uint64_t cap = (uint64_t)cs->cap * 2;
    uint8_t *nb;

    if (cs->cap >= need) {
        return 0;
    }
    if (cap < need) {
        cap = need;
    }
    if (cap > cs->length) {
        cap = cs->length;
    }
    nb = realloc(cs->buf, (size_t)cap + CIR_RTMP_MSG_PADDING);
    if (nb == NULL) {
        return CIR_ENOMEM;
    }
    r->allocated += cap - cs->cap;
    cs->buf = nb;
    cs->cap = (uint32_t)cap;
    return 0;
}

/* A delivered message's buffer is kept for the next message of its chunk
 * stream unless it is larger than KEEP_MAX: a keyframe's buffer would
 * otherwise stay with every publisher between keyframes (seconds), and the
 * loop assembles one message at a time, so the heap hands the same memory
 * to the next publisher's keyframe. */
#define KEEP_MAX ((uint32_t)16 << 10)

static void
release_large(cir_rtmp_reader_t *r, cir_rtmp_chunk_state_t *cs)
{
    if (cs->cap <= KEEP_MAX) {
        return;
    }
    r->allocated -= cs->cap;
    free(cs->buf);
    cs->buf = NULL;
    cs->cap = 0;
}

static uint32_t
hdr_csid(const uint8_t *h)
{
    size_t b = basic_len(h[0]);

    return b == 1   ? (uint32_t)(h[0] & 0x3f)
           : b == 2 ? 64u + h[1]
                    : 64u + h[1] + 256u * h[2];
}

int
cir_rtmp_reader_feed(cir_rtmp_reader_t *r, const uint8_t *p, size_t n,
                     size_t *used, cir_rtmp_msg_t *msg)
{
    src_t s = {.r = r, .p = p, .n = n, .pos = 0};
    cir_rtmp_chunk_state_t *cs;
    int ret = CIR_EAGAIN;

    if (r->delivered) {
        cs = &r->cs[r->delivered - 1];
        r->buffered -= cs->have;
        cs->have = 0;
        cs->in_msg = 0;
        r->delivered = 0;
        release_large(r, cs);
    }
    for (;;) {
        if (r->pend_cs == 0) {
            payload_t pl = {0};
            size_t need, b;
            uint8_t fmt;
            int ext, peek = 0;

            if (!gather(&s, 1)) {
                break;
            }
            fmt = r->hdr[0] >> 6;
            b = basic_len(r->hdr[0]);
            need = b + msg_hdr_len[fmt];
            if (!gather(&s, need)) {
                break;
            }
            if (fmt < 3) {
                ext = get_be24(r->hdr + b) == 0xffffff;
            } else {
                cs = find_cs(r, hdr_csid(r->hdr), 0);
                ext = peek = cs != NULL && cs->extended;
            }
            if (ext) {
                need += 4;
                if (!gather(&s, need)) {
                    break;
                }
            }
            ret = apply_header(r, &pl, need, peek);
            if (ret < 0) {
                goto done;
            }
            if (ret == 1) {
                /* not a timestamp: give the 4 bytes back, before any
                 * replayed bytes not yet read */
                uint8_t tmp[8];
                size_t rest = (size_t)(r->replay_len - r->replay_pos);
                memcpy(tmp, r->hdr + need - 4, 4);
                memcpy(tmp + 4, r->replay + r->replay_pos, rest);
                memcpy(r->replay, tmp, 4 + rest);
                r->replay_len = (uint8_t)(4 + rest);
                r->replay_pos = 0;
            }
            ret = CIR_EAGAIN;
            r->hdr_len = 0;
            r->pend_cs = (uint32_t)(pl.cs - r->cs) + 1;
            r->pend_left = pl.left;
        }
        cs = &r->cs[r->pend_cs - 1];
        if (r->pend_left > 0) {
            if ((ret = reserve(r, cs, cs->have + r->pend_left)) < 0) {
                goto done;
            }
            ret = CIR_EAGAIN;
            size_t got = src_take(&s, cs->buf + cs->have, r->pend_left);
            cs->have += (uint32_t)got;
            r->buffered += got;
            r->pend_left -= (uint32_t)got;
            if (r->pend_left > 0) {
                break;
            }
        }
        r->pend_cs = 0;
        if (cs->have == cs->length) {
            msg->csid = cs->csid;
            msg->timestamp = cs->timestamp;
            msg->type = cs->type;
            msg->stream_id = cs->stream_id;
            msg->data = cs->buf;
            msg->size = cs->length;
            if (cs->buf != NULL) {
                memset(cs->buf + cs->length, 0, CIR_RTMP_MSG_PADDING);
            }
            r->delivered = (uint32_t)(cs - r->cs) + 1;
            ret = 1;
            goto done;
        }
    }
done:
    r->bytes_in += s.pos;
    *used = s.pos;
    return ret;
}

/* ---- chunk writer ------------------------------------------------------- */

static int
put_basic(uint8_t *h, uint8_t fmt, uint32_t csid)
{
    if (csid < 64) {
        h[0] = (uint8_t)(fmt << 6 | csid);
        return 1;
    }
    if (csid < 320) {
        h[0] = (uint8_t)(fmt << 6);
        h[1] = (uint8_t)(csid - 64);
        return 2;
    }
    h[0] = (uint8_t)(fmt << 6 | 1);
    h[1] = (uint8_t)((csid - 64) & 0xff);
    h[2] = (uint8_t)((csid - 64) >> 8);
    return 3;
}

int
cir_rtmp_write_msg(cir_buf_t *out, uint32_t chunk_size, uint32_t csid,
                   uint32_t timestamp, uint8_t type, uint32_t stream_id,
                   const uint8_t *data, size_t size)
{
    uint8_t h[18];
    size_t hl, off = 0;
    int ext = timestamp >= 0xffffff, ret;

    if (csid < 2 || csid > CIR_RTMP_MAX_CSID || size > 0xffffff ||
        chunk_size == 0) {
        return CIR_EINVAL;
    }
    hl = (size_t)put_basic(h, 0, csid);
    h[hl] = (uint8_t)((ext ? 0xffffff : timestamp) >> 16);
    h[hl + 1] = (uint8_t)((ext ? 0xffffff : timestamp) >> 8);
    h[hl + 2] = (uint8_t)(ext ? 0xffffff : timestamp);
    h[hl + 3] = (uint8_t)(size >> 16);
    h[hl + 4] = (uint8_t)(size >> 8);
    h[hl + 5] = (uint8_t)size;
    h[hl + 6] = type;
    h[hl + 7] = (uint8_t)stream_id;
    h[hl + 8] = (uint8_t)(stream_id >> 8);
    h[hl + 9] = (uint8_t)(stream_id >> 16);
    h[hl + 10] = (uint8_t)(stream_id >> 24);
    hl += 11;
    if (ext) {
        put_be32(h + hl, timestamp);
        hl += 4;
    }
    for (;;) {
        size_t k = size - off < chunk_size ? size - off : chunk_size;
        if ((ret = cir_buf_append(out, h, hl)) < 0 ||
            (ret = cir_buf_append(out, data + off, k)) < 0) {
            return ret;
        }
        off += k;
        if (off >= size) {
            return 0;
        }
        /* continuation: fmt 3, repeating the extended timestamp */
        hl = (size_t)put_basic(h, 3, csid);
        if (ext) {
            put_be32(h + hl, timestamp);
            hl += 4;
        }
    }
}
