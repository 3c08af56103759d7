/*
 * One server-side RTMP connection as a state machine: bytes in, bytes out
 * and events for the owner (publish, metadata, media, unpublish).  The
 * libuv server only moves bytes between the socket and this.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_storage.h"
#include "cir_rtmp.h"

#define CSID_CONTROL 2
#define CSID_COMMAND 3
#define CSID_STATUS  5
#define MAX_ARGS     8
#define MAX_STREAMS  8 /* createStream per connection */

enum {
    PUB_NONE,
    PUB_PENDING,
    PUB_ON
};

struct cir_rtmp_conn {
    cir_rtmp_limits_t lim;
    cir_rtmp_handler_t h;
    cir_rtmp_handshake_t hs;
    int hs_done;
    cir_rtmp_reader_t rd;
    cir_buf_t out;
    cir_buf_t tmp;
    uint32_t peer_window; /* we ack after each window of this many bytes */
    uint64_t acked;
    uint32_t streams;
    int connected;
    int pub;
    uint32_t pub_stream;
    int closing;
};

void
cir_rtmp_limits_default(cir_rtmp_limits_t *lim)
{
    lim->max_chunk_size = 65536;
    lim->max_message_size = 4 * 1024 * 1024;
    lim->max_message_size_before_publish = 64 * 1024;
    lim->max_chunk_streams = 16;
    lim->window_ack_size = 2500000;
    lim->out_chunk_size = 4096;
    lim->amf.max_depth = 8;
    lim->amf.max_nodes = 1024;
    lim->amf.max_string = 8192;
}

int
cir_rtmp_valid_key(const char *key)
{
    return cir_name_is_safe(key, strnlen(key, 64), 63);
}

/* The limit on one message before and after a publish is accepted. */
static uint32_t
message_limit(const cir_rtmp_limits_t *lim, int published)
{
    uint32_t before = lim->max_message_size_before_publish;

    if (published || before == 0 || before > lim->max_message_size) {
        return lim->max_message_size;
    }
    return before;
}

int
cir_rtmp_conn_new(cir_rtmp_conn_t **out, const cir_rtmp_limits_t *lim,
                  const cir_rtmp_handler_t *h, uint32_t time,
                  const uint8_t *random, size_t out_max)
{
    cir_rtmp_conn_t *c;

    if (lim->out_chunk_size < 128 || lim->max_chunk_size < 128 ||
        lim->max_message_size == 0) {
        return CIR_EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return CIR_ENOMEM;
    }
    c->lim = *lim;
    c->h = *h;
    cir_rtmp_handshake_init(&c->hs, time, random);
    cir_rtmp_reader_init(&c->rd, message_limit(lim, 0), lim->max_chunk_streams);
    cir_buf_init(&c->out, out_max);
    cir_buf_init(&c->tmp, 64 * 1024);
    *out = c;
    return 0;
}

void
cir_rtmp_conn_free(cir_rtmp_conn_t **cp)
{
    cir_rtmp_conn_t *c = *cp;

    if (c == NULL) {
        return;
    }
    cir_rtmp_reader_free(&c->rd);
    cir_buf_free(&c->out);
    cir_buf_free(&c->tmp);
    free(c);
    *cp = NULL;
}

cir_buf_t *
cir_rtmp_conn_output(cir_rtmp_conn_t *c)
{
    return &c->out;
}

int
cir_rtmp_conn_closing(const cir_rtmp_conn_t *c)
{
    return c->closing;
}

int
cir_rtmp_conn_handshake_done(const cir_rtmp_conn_t *c)
{
    return c->hs_done;
}

uint64_t
cir_rtmp_conn_buffered_bytes(const cir_rtmp_conn_t *c)
{
    return c->rd.allocated;
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void
set_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int
send_control(cir_rtmp_conn_t *c, uint8_t type, const uint8_t *p, size_t n)
{
    return cir_rtmp_write_msg(&c->out, c->lim.out_chunk_size, CSID_CONTROL, 0,
                              type, 0, p, n);
}

static int
send_u32(cir_rtmp_conn_t *c, uint8_t type, uint32_t v)
{
    uint8_t b[4];

    set_be32(b, v);
    return send_control(c, type, b, 4);
}

static int
send_user_control(cir_rtmp_conn_t *c, uint16_t event, uint32_t v)
{
    uint8_t b[6] = {(uint8_t)(event >> 8), (uint8_t)event};

    set_be32(b + 2, v);
    return send_control(c, CIR_RTMP_MSG_USER_CONTROL, b, 6);
}

static int
send_tmp(cir_rtmp_conn_t *c, uint32_t csid, uint32_t stream_id)
{
    int ret = cir_rtmp_write_msg(&c->out, c->lim.out_chunk_size, csid, 0,
                                 CIR_RTMP_MSG_COMMAND_AMF0, stream_id,
                                 (const uint8_t *)c->tmp.data, c->tmp.len);
    cir_buf_reset(&c->tmp);
    return ret;
}

/* name, transaction id, then the first argument. */
static int
put_head(cir_rtmp_conn_t *c, const char *name, double txn)
{
    int ret;

    cir_buf_reset(&c->tmp);
    if ((ret = cir_amf0_put_string(&c->tmp, name)) < 0 ||
        (ret = cir_amf0_put_number(&c->tmp, txn)) < 0) {
        return ret;
    }
    return 0;
}

static int
put_prop_s(cir_buf_t *b, const char *k, const char *v)
{
    int ret;

    if ((ret = cir_amf0_put_key(b, k)) < 0) {
        return ret;
    }
    return cir_amf0_put_string(b, v);
}

static int
put_prop_n(cir_buf_t *b, const char *k, double v)
{
    int ret;

    if ((ret = cir_amf0_put_key(b, k)) < 0) {
        return ret;
    }
    return cir_amf0_put_number(b, v);
}

static int
send_status(cir_rtmp_conn_t *c, uint32_t stream_id, const char *level,
            const char *code, const char *desc)
{
    cir_buf_t *b = &c->tmp;
    int ret;

    if ((ret = put_head(c, "onStatus", 0)) < 0 ||
        (ret = cir_amf0_put_null(b)) < 0 ||
        (ret = cir_amf0_put_object_begin(b)) < 0 ||
        (ret = put_prop_s(b, "level", level)) < 0 ||
        (ret = put_prop_s(b, "code", code)) < 0 ||
        (ret = put_prop_s(b, "description", desc)) < 0 ||
        (ret = cir_amf0_put_object_end(b)) < 0) {
        return ret;
    }
    return send_tmp(c, CSID_STATUS, stream_id);
}

/* _result(txn, null, undefined) for commands answered at once. */
static int
send_simple_result(cir_rtmp_conn_t *c, double txn)
{
    uint8_t undef = CIR_AMF_UNDEFINED;
    int ret;

    if ((ret = put_head(c, "_result", txn)) < 0 ||
        (ret = cir_amf0_put_null(&c->tmp)) < 0 ||
        (ret = cir_buf_append(&c->tmp, &undef, 1)) < 0) {
        return ret;
    }
    return send_tmp(c, CSID_COMMAND, 0);
}

static int
send_error(cir_rtmp_conn_t *c, double txn, const char *code, const char *desc)
{
    cir_buf_t *b = &c->tmp;
    int ret;

    if ((ret = put_head(c, "_error", txn)) < 0 ||
        (ret = cir_amf0_put_null(b)) < 0 ||
        (ret = cir_amf0_put_object_begin(b)) < 0 ||
        (ret = put_prop_s(b, "level", "error")) < 0 ||
        (ret = put_prop_s(b, "code", code)) < 0 ||
        (ret = put_prop_s(b, "description", desc)) < 0 ||
        (ret = cir_amf0_put_object_end(b)) < 0) {
        return ret;
    }
    return send_tmp(c, CSID_COMMAND, 0);
}

/* Enhanced RTMP (veovera v2): the video FourCCs this server accepts at
 * connect.  AV1 is accepted here so new clients offer it, and refused at
 * publish with a clear log (the live pipeline takes H.264 and HEVC). */
static const char *const ertmp_fourccs[] = {"avc1", "hvc1", "av01"};
#define ERTMP_NFOURCC     (sizeof(ertmp_fourccs) / sizeof(ertmp_fourccs[0]))
#define ERTMP_CAN_DECODE  0x01 /* FourCcInfoMask */
#define ERTMP_CAN_FORWARD 0x04

/* Which of ours the client listed ("*" lists all); all when it sent no
 * list (an old client ignores the properties). */
static unsigned
ertmp_accepted(const cir_amf_t *cmd)
{
    const cir_amf_t *list = cmd ? cir_amf_get(cmd, "fourCcList") : NULL;
    unsigned mask = 0;

    if (list == NULL || list->type != CIR_AMF_STRICT_ARRAY) {
        return (1u << ERTMP_NFOURCC) - 1;
    }
    for (size_t i = 0; i < list->count; i++) {
        const cir_amf_t *v = &list->items[i];
        if (v->type != CIR_AMF_STRING) {
            continue;
        }
        for (size_t k = 0; k < ERTMP_NFOURCC; k++) {
            if (strcmp(v->str, "*") == 0 ||
                strcmp(v->str, ertmp_fourccs[k]) == 0) {
                mask |= 1u << k;
            }
        }
    }
    return mask;
}

/* fourCcList, videoFourCcInfoMap and capsEx in the connect _result. */
static int
put_ertmp(cir_buf_t *b, unsigned mask)
{
    uint8_t hdr[5] = {CIR_AMF_STRICT_ARRAY};
    uint32_t n = 0;
    int ret;

    for (size_t k = 0; k < ERTMP_NFOURCC; k++) {
        n += (mask >> k) & 1;
    }
    set_be32(hdr + 1, n);
    if ((ret = cir_amf0_put_key(b, "fourCcList")) < 0 ||
        (ret = cir_buf_append(b, hdr, sizeof(hdr))) < 0) {
        return ret;
    }
    for (size_t k = 0; k < ERTMP_NFOURCC; k++) {
        if (((mask >> k) & 1) &&
            (ret = cir_amf0_put_string(b, ertmp_fourccs[k])) < 0) {
            return ret;
        }
    }
    if ((ret = cir_amf0_put_key(b, "videoFourCcInfoMap")) < 0 ||
        (ret = cir_amf0_put_object_begin(b)) < 0) {
        return ret;
    }
    for (size_t k = 0; k < ERTMP_NFOURCC; k++) {
        if (((mask >> k) & 1) &&
            (ret = put_prop_n(b, ertmp_fourccs[k],
                              ERTMP_CAN_DECODE | ERTMP_CAN_FORWARD)) < 0) {
            return ret;
        }
    }
    if ((ret = cir_amf0_put_object_end(b)) < 0) {
        return ret;
    }
    /* no reconnect request, multitrack, ModEx or nanosecond offsets */
    return put_prop_n(b, "capsEx", 0);
}

/* "events", "events/", "events?x=y" all name the application "events":
 * its name into name, or 0 when app is not one (a path, unsafe bytes). */
static int
app_name(const char *app, char name[64])
{
    size_t n = strcspn(app, "/?");

    if (n == 0 || n >= 64 ||
        !(app[n] == '\0' || app[n] == '?' ||
          (app[n] == '/' && (app[n + 1] == '\0' || app[n + 1] == '?')))) {
        return 0;
    }
    memcpy(name, app, n);
    name[n] = '\0';
    return cir_rtmp_valid_key(name);
}

/* The owner's answer, or (no on_connect) "live" only. */
static int
app_accepted(cir_rtmp_conn_t *c, const char *app)
{
    char name[64];
    int valid = app != NULL && app_name(app, name);

    if (c->h.on_connect != NULL) {
        return c->h.on_connect(c->h.opaque, valid ? name : NULL) == 0;
    }
    return valid && strcmp(name, "live") == 0;
}

static int
on_connect(cir_rtmp_conn_t *c, double txn, const cir_amf_t *cmd)
{
    cir_buf_t *b = &c->tmp;
    const char *app = cir_amf_get_string(cmd, "app");
    int ret;

    if (!app_accepted(c, app)) {
        c->closing = 1;
        return send_error(c, txn, "NetConnection.Connect.Rejected",
                          "unknown application");
    }
    c->connected = 1;
    if ((ret = send_u32(c, CIR_RTMP_MSG_WIN_ACK_SIZE, c->lim.window_ack_size)) <
        0) {
        return ret;
    }
    {
        uint8_t bw[5];
        set_be32(bw, c->lim.window_ack_size);
        bw[4] = 2; /* dynamic */
        if ((ret = send_control(c, CIR_RTMP_MSG_SET_PEER_BW, bw, 5)) < 0) {
            return ret;
        }
    }
    if ((ret = send_user_control(c, CIR_RTMP_UC_STREAM_BEGIN, 0)) < 0 ||
        (ret = send_u32(c, CIR_RTMP_MSG_SET_CHUNK_SIZE,
                        c->lim.out_chunk_size)) < 0) {
        return ret;
    }
    if ((ret = put_head(c, "_result", txn)) < 0 ||
        (ret = cir_amf0_put_object_begin(b)) < 0 ||
        (ret = put_prop_s(b, "fmsVer", "FMS/3,0,1,123")) < 0 ||
        (ret = put_prop_n(b, "capabilities", 31)) < 0 ||
        (ret = put_ertmp(b, ertmp_accepted(cmd))) < 0 ||
        (ret = cir_amf0_put_object_end(b)) < 0 ||
        (ret = cir_amf0_put_object_begin(b)) < 0 ||
        (ret = put_prop_s(b, "level", "status")) < 0 ||
        (ret = put_prop_s(b, "code", "NetConnection.Connect.Success")) < 0 ||
        (ret = put_prop_s(b, "description", "Connection succeeded.")) < 0 ||
        (ret = put_prop_n(b, "objectEncoding", 0)) < 0 ||
        (ret = cir_amf0_put_object_end(b)) < 0) {
        return ret;
    }
    return send_tmp(c, CSID_COMMAND, 0);
}

static int
on_publish_cmd(cir_rtmp_conn_t *c, uint32_t stream_id, const cir_amf_t *args,
               size_t nargs)
{
    char key[64], query[256];
    const char *name, *q;
    size_t klen;
    int ret;

    name = nargs >= 2 && args[1].type == CIR_AMF_STRING ? args[1].str : NULL;
    if (!c->connected || c->pub != PUB_NONE || name == NULL) {
        c->closing = 1;
        return send_status(c, stream_id, "error", "NetStream.Publish.BadName",
                           "publish refused");
    }
    q = strchr(name, '?');
    klen = q != NULL ? (size_t)(q - name) : strlen(name);
    query[0] = '\0';
    if (q != NULL) {
        snprintf(query, sizeof(query), "%s", q + 1);
    }
    if (klen >= sizeof(key)) {
        klen = sizeof(key) - 1; /* too long: fails the check below */
        memcpy(key, name, klen);
        key[klen] = '!';
        key[klen - 1] = '!';
    } else {
        memcpy(key, name, klen);
    }
    key[klen] = '\0';
    if (!cir_rtmp_valid_key(key)) {
        c->closing = 1;
        return send_status(c, stream_id, "error", "NetStream.Publish.BadName",
                           "invalid stream key");
    }
    c->pub = PUB_PENDING;
    c->pub_stream = stream_id;
    if (c->h.on_publish != NULL &&
        (ret = c->h.on_publish(c->h.opaque, key, query)) < 0) {
        return ret;
    }
    return 0;
}

int
cir_rtmp_conn_publish_reply(cir_rtmp_conn_t *c, cir_rtmp_publish_result_t r)
{
    int ret;

    if (c->pub != PUB_PENDING) {
        return CIR_EINVAL;
    }
    if (r == CIR_RTMP_PUBLISH_OK) {
        c->pub = PUB_ON;
        cir_rtmp_reader_set_max_msg_size(&c->rd, message_limit(&c->lim, 1));
        if ((ret = send_user_control(c, CIR_RTMP_UC_STREAM_BEGIN,
                                     c->pub_stream)) < 0) {
            return ret;
        }
        return send_status(c, c->pub_stream, "status",
                           "NetStream.Publish.Start", "Start publishing");
    }
    c->pub = PUB_NONE;
    c->closing = 1;
    if (r == CIR_RTMP_PUBLISH_BAD_NAME) {
        return send_status(c, c->pub_stream, "error",
                           "NetStream.Publish.BadName", "stream is busy");
    }
    return send_status(c, c->pub_stream, "error",
                       "NetStream.Publish.Unauthorized", "stream key refused");
}

static void
stop_publishing(cir_rtmp_conn_t *c)
{
    if (c->pub == PUB_ON && c->h.on_unpublish != NULL) {
        c->h.on_unpublish(c->h.opaque);
    }
    c->pub = PUB_NONE;
}

/* Decodes up to MAX_ARGS values; *n says how many. */
static int
decode_all(cir_rtmp_conn_t *c, const uint8_t *p, size_t len, cir_amf_t *v,
           size_t *n)
{
    size_t pos = 0, used;
    int ret;

    *n = 0;
    while (pos < len && *n < MAX_ARGS) {
        ret = cir_amf0_decode(p + pos, len - pos, &c->lim.amf, &v[*n], &used);
        if (ret < 0) {
            return ret == CIR_EAGAIN ? CIR_EPARSE : ret;
        }
        pos += used;
        (*n)++;
    }
    return 0;
}

static void
clear_all(cir_amf_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cir_amf_clear(&v[i]);
    }
}

static int
on_command(cir_rtmp_conn_t *c, const cir_rtmp_msg_t *m, const uint8_t *p,
           size_t len)
{
    cir_amf_t v[MAX_ARGS];
    size_t n = 0;
    const char *name;
    double txn;
    int ret;

    if ((ret = decode_all(c, p, len, v, &n)) < 0) {
        clear_all(v, n);
        return ret;
    }
    if (n < 2 || v[0].type != CIR_AMF_STRING || v[1].type != CIR_AMF_NUMBER) {
        ret = CIR_EPARSE;
        goto done;
    }
    name = v[0].str;
    txn = v[1].number;
    ret = 0;
    if (strcmp(name, "connect") == 0) {
        ret = on_connect(c, txn, n >= 3 ? &v[2] : NULL);
    } else if (!c->connected) {
        ret = CIR_EPARSE; /* anything before connect */
    } else if (strcmp(name, "releaseStream") == 0 ||
               strcmp(name, "FCPublish") == 0 ||
               strcmp(name, "FCUnpublish") == 0) {
        if (strcmp(name, "FCUnpublish") == 0) {
            stop_publishing(c);
        }
        if (txn != 0) {
            ret = send_simple_result(c, txn);
        }
    } else if (strcmp(name, "createStream") == 0) {
        if (c->streams >= MAX_STREAMS) {
            ret = send_error(c, txn, "NetConnection.Call.Failed",
                             "too many streams");
            goto done;
        }
        c->streams++;
        if ((ret = put_head(c, "_result", txn)) < 0 ||
            (ret = cir_amf0_put_null(&c->tmp)) < 0 ||
            (ret = cir_amf0_put_number(&c->tmp, c->streams)) < 0) {
            goto done;
        }
        ret = send_tmp(c, CSID_COMMAND, 0);
    } else if (strcmp(name, "publish") == 0) {
        ret = on_publish_cmd(c, m->stream_id, v + 2, n - 2);
    } else if (strcmp(name, "deleteStream") == 0 ||
               strcmp(name, "closeStream") == 0) {
        stop_publishing(c);
    } else if (strcmp(name, "play") == 0) {
        c->closing = 1;
        ret = send_status(c, m->stream_id, "error", "NetStream.Play.Failed",
                          "this server only ingests");
    } else if (txn != 0) {
        ret =
            send_error(c, txn, "NetConnection.Call.Failed", "unknown command");
    }
done:
    clear_all(v, n);
    return ret;
}

static int
on_data(cir_rtmp_conn_t *c, const uint8_t *p, size_t len)
{
    cir_amf_t v[MAX_ARGS];
    size_t n = 0, i = 0;
    int ret;

    if ((ret = decode_all(c, p, len, v, &n)) < 0) {
        clear_all(v, n);
        return ret;
    }
    if (n > 0 && v[0].type == CIR_AMF_STRING &&
        strcmp(v[0].str, "@setDataFrame") == 0) {
        i = 1;
    }
    if (c->pub == PUB_ON && n >= i + 2 && v[i].type == CIR_AMF_STRING &&
        strcmp(v[i].str, "onMetaData") == 0 &&
        (v[i + 1].type == CIR_AMF_OBJECT ||
         v[i + 1].type == CIR_AMF_ECMA_ARRAY) &&
        c->h.on_metadata != NULL) {
        ret = c->h.on_metadata(c->h.opaque, &v[i + 1]);
    }
    clear_all(v, n);
    return ret;
}

static int
on_message(cir_rtmp_conn_t *c, const cir_rtmp_msg_t *m)
{
    const uint8_t *p = m->data;
    uint32_t v;

    switch (m->type) {
    case CIR_RTMP_MSG_SET_CHUNK_SIZE:
        if (m->size < 4) {
            return CIR_EPARSE;
        }
        v = be32(p) & 0x7fffffff;
        if (v < 1) {
            return CIR_EPARSE;
        }
        if (v > c->lim.max_chunk_size) {
            return CIR_ELIMIT;
        }
        c->rd.chunk_size = v;
        return 0;
    case CIR_RTMP_MSG_ABORT:
        if (m->size < 4) {
            return CIR_EPARSE;
        }
        cir_rtmp_reader_abort(&c->rd, be32(p));
        return 0;
    case CIR_RTMP_MSG_WIN_ACK_SIZE:
        if (m->size < 4) {
            return CIR_EPARSE;
        }
        c->peer_window = be32(p);
        c->acked = c->rd.bytes_in;
        return 0;
    case CIR_RTMP_MSG_USER_CONTROL:
        if (m->size < 6) {
            return CIR_EPARSE;
        }
        if (((uint16_t)p[0] << 8 | p[1]) == CIR_RTMP_UC_PING_REQUEST) {
            return send_user_control(c, CIR_RTMP_UC_PING_RESPONSE, be32(p + 2));
        }
        return 0;
    case CIR_RTMP_MSG_ACK:
    case CIR_RTMP_MSG_SET_PEER_BW:
        return 0;
    case CIR_RTMP_MSG_AUDIO:
    case CIR_RTMP_MSG_VIDEO:
        if (c->pub != PUB_ON || m->stream_id != c->pub_stream ||
            c->h.on_media == NULL) {
            return 0;
        }
        return c->h.on_media(c->h.opaque, m->type == CIR_RTMP_MSG_VIDEO,
                             m->timestamp, p, m->size);
    case CIR_RTMP_MSG_COMMAND_AMF3:
        /* AMF3 commands start with a 0 format byte, then AMF0 values */
        return m->size < 1 ? CIR_EPARSE : on_command(c, m, p + 1, m->size - 1);
    case CIR_RTMP_MSG_COMMAND_AMF0:
        return on_command(c, m, p, m->size);
    case CIR_RTMP_MSG_DATA_AMF3:
        return m->size < 1 ? CIR_EPARSE : on_data(c, p + 1, m->size - 1);
    case CIR_RTMP_MSG_DATA_AMF0:
        return on_data(c, p, m->size);
    default:
        return 0; /* aggregate, shared object: ignored */
    }
}

int
cir_rtmp_conn_feed(cir_rtmp_conn_t *c, const uint8_t *p, size_t n)
{
    size_t pos = 0, used;
    cir_rtmp_msg_t m;
    int ret;

    if (c->closing) {
        return CIR_ECANCELED;
    }
    if (!c->hs_done) {
        ret = cir_rtmp_handshake_feed(&c->hs, p, n, &used);
        if (c->hs.out_len > 0) {
            int r = cir_buf_append(&c->out, c->hs.out, c->hs.out_len);
            c->hs.out_len = 0;
            if (r < 0) {
                return r;
            }
        }
        if (ret < 0) {
            return ret == CIR_EAGAIN ? 0 : ret;
        }
        c->hs_done = 1;
        pos = used;
    }
    for (;;) {
        ret = cir_rtmp_reader_feed(&c->rd, p + pos, n - pos, &used, &m);
        pos += used;
        if (ret == CIR_EAGAIN) {
            break;
        }
        if (ret < 0) {
            return ret;
        }
        if ((ret = on_message(c, &m)) < 0) {
            return ret;
        }
        if (c->closing) {
            return CIR_ECANCELED;
        }
    }
    /* an Acknowledgement after each window of bytes */
    if (c->peer_window > 0 && c->rd.bytes_in - c->acked >= c->peer_window) {
        c->acked = c->rd.bytes_in;
        if ((ret = send_u32(c, CIR_RTMP_MSG_ACK, (uint32_t)c->rd.bytes_in)) <
            0) {
            return ret;
        }
    }
    return c->closing ? CIR_ECANCELED : 0;
}
