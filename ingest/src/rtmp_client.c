/*
 * The publishing side of RTMP as a state machine, for pushing a stream on
 * to another server: handshake (C0/C1, S0/S1/S2, C2), connect, releaseStream,
 * FCPublish, createStream, publish, then messages.  Bytes in, bytes out, no
 * sockets; the chunk reader and writer and AMF0 are the server's.
 *
 * Tested by tests/unit/test_ingest_rtmp_client.c (against the server state
 * machine, cir_rtmp_conn_*, in memory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_rtmp.h"

#define CSID_CONTROL   2
#define CSID_COMMAND   3
#define CSID_AUDIO     4
#define CSID_DATA      5
#define CSID_VIDEO     6
#define OUT_CHUNK_SIZE 4096
#define MAX_ARGS       8
#define MAX_IN_MSG     (1024 * 1024) /* the server sends commands only */
#define MAX_OUT        (64 * 1024 * 1024)

enum {
    TXN_CONNECT = 1,
    TXN_RELEASE,
    TXN_FCPUBLISH,
    TXN_CREATE_STREAM,
    TXN_PUBLISH,
    TXN_FCUNPUBLISH,
    TXN_DELETE_STREAM
};

struct cir_rtmp_client {
    cir_rtmp_url_t url;
    cir_rtmp_client_state_t state;
    int hs_stage; /* 0: wants S0, 1: S1, 2: S2 */
    size_t hs_have;
    uint8_t s1[CIR_RTMP_HS_SIZE];
    cir_rtmp_reader_t rd;
    cir_amf_limits_t amf;
    cir_buf_t out, tmp;
    uint32_t stream_id;
    uint32_t peer_window;
    uint64_t acked;
    char error[512];
};

/* ---- URLs ---------------------------------------------------------------- */

static int
fail_url(char *err, size_t errlen, const char *url, const char *why)
{
    snprintf(err, errlen, "push URL \"%.200s\": %s", url, why);
    return CIR_EINVAL;
}

static int
host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
}

/* What may appear in an application or a key: no spaces, controls, quotes
 * or '#' (they would end up in AMF strings and logs). */
static int
path_char(char ch)
{
    return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '#';
}

static int
parse_host_port(const char *p, size_t n, cir_rtmp_url_t *u, const char *url,
                char *err, size_t errlen, int default_port)
{
    const char *colon = NULL, *h = p;
    size_t hn = n;

    if (n > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (close == NULL) {
            return fail_url(err, errlen, url, "unclosed '[' in the host");
        }
        h = p + 1;
        hn = (size_t)(close - h);
        if (close + 1 < p + n) {
            if (close[1] != ':') {
                return fail_url(err, errlen, url, "bad host");
            }
            colon = close + 1;
        }
        for (size_t i = 0; i < hn; i++) {
            if (!(h[i] == ':' || host_char(h[i]))) {
                return fail_url(err, errlen, url, "bad IPv6 address");
            }
        }
    } else {
        colon = memchr(p, ':', n);
        hn = colon != NULL ? (size_t)(colon - p) : n;
        for (size_t i = 0; i < hn; i++) {
            if (!host_char(p[i])) {
                return fail_url(err, errlen, url, "bad character in the host");
            }
        }
    }
    if (hn == 0 || hn >= sizeof(u->host)) {
        return fail_url(err, errlen, url, "no host, or a host too long");
    }
    memcpy(u->host, h, hn);
    u->host[hn] = '\0';
    u->port = default_port;
    if (colon != NULL) {
        long port = 0;
        size_t digits = (size_t)(p + n - colon - 1);
        if (digits == 0 || digits > 5) {
            return fail_url(err, errlen, url, "bad port");
        }
        for (size_t i = 0; i < digits; i++) {
            if (colon[1 + i] < '0' || colon[1 + i] > '9') {
                return fail_url(err, errlen, url, "bad port");
            }
            port = port * 10 + (colon[1 + i] - '0');
        }
        if (port < 1 || port > 65535) {
            return fail_url(err, errlen, url, "port out of 1-65535");
        }
        u->port = (int)port;
    }
    return 0;
}

int
cir_rtmp_url_parse(const char *url, cir_rtmp_url_t *u, char *err, size_t errlen)
{
    const char *p, *slash, *last;
    size_t len = strlen(url), an, kn;
    int ret;

    memset(u, 0, sizeof(*u));
    if (len > 512) {
        return fail_url(err, errlen, url, "longer than 512 bytes");
    }
    if (strncmp(url, "rtmp://", 7) == 0) {
        p = url + 7;
    } else if (strncmp(url, "rtmps://", 8) == 0) {
        p = url + 8;
        u->tls = 1;
    } else {
        return fail_url(err, errlen, url,
                        "not rtmp[s]://host[:port]/app/key (only rtmp:// and "
                        "rtmps:// are supported)");
    }
    slash = strchr(p, '/');
    if (slash == NULL) {
        return fail_url(err, errlen, url, "no application and key");
    }
    if ((ret = parse_host_port(p, (size_t)(slash - p), u, url, err, errlen,
                               u->tls ? 443 : 1935)) < 0) {
        return ret;
    }
    last = strrchr(slash + 1, '/');
    if (last == NULL) {
        return fail_url(err, errlen, url,
                        "no stream key (rtmp://host[:port]/app/key)");
    }
    an = (size_t)(last - slash - 1);
    kn = strlen(last + 1);
    /* an empty key ("rtmp://host/app/") is the pushed stream's own */
    if (an == 0 || an >= sizeof(u->app) || kn >= sizeof(u->key)) {
        return fail_url(err, errlen, url,
                        "empty or too long application or stream key");
    }
    for (const char *q = slash + 1; *q != '\0'; q++) {
        if (!path_char(*q)) {
            return fail_url(err, errlen, url,
                            "bad character in the application or key");
        }
    }
    memcpy(u->app, slash + 1, an);
    memcpy(u->key, last + 1, kn);
    snprintf(u->tc_url, sizeof(u->tc_url), "rtmp%s://%s%s%s:%d/%s",
             u->tls ? "s" : "", strchr(u->host, ':') ? "[" : "", u->host,
             strchr(u->host, ':') ? "]" : "", u->port, u->app);
    cir_rtmp_url_set_key(u, u->key);
    return 0;
}

void
cir_rtmp_url_set_key(cir_rtmp_url_t *u, const char *key)
{
    char copy[sizeof(u->key)];

    snprintf(copy, sizeof(copy), "%s", key); /* key may be u->key */
    memcpy(u->key, copy, sizeof(copy));
    /* two characters of a long key tell keys apart; a short one is hidden */
    snprintf(u->redacted, sizeof(u->redacted), "%s/%.*s%s", u->tc_url,
             strlen(u->key) >= 8 ? 2 : 0, u->key,
             u->key[0] != '\0' ? "***" : "");
}

int
cir_rtmp_url_list_parse(const char *list, cir_rtmp_url_t *out, size_t max,
                        size_t *n, char *err, size_t errlen)
{
    const char *p = list;
    char one[600];
    int ret;

    *n = 0;
    for (;;) {
        size_t k;
        p += strspn(p, " ,\t\n");
        if (*p == '\0') {
            return 0;
        }
        k = strcspn(p, " ,\t\n");
        if (k >= sizeof(one)) {
            snprintf(err, errlen, "push URL \"%.60s...\": too long", p);
            return CIR_EINVAL;
        }
        memcpy(one, p, k);
        one[k] = '\0';
        if (*n >= max) {
            snprintf(err, errlen,
                     "push: more than %zu destinations (at \"%.200s\")", max,
                     one);
            return CIR_ELIMIT;
        }
        if ((ret = cir_rtmp_url_parse(one, &out[*n], err, errlen)) < 0) {
            return ret;
        }
        (*n)++;
        p += k;
    }
}

/* ---- AMF0 of a decoded value --------------------------------------------- */

static void
be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t
be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int
put_props(cir_buf_t *b, const cir_amf_t *v)
{
    static const uint8_t end[3] = {0, 0, CIR_AMF_OBJECT_END};
    int ret;

    for (size_t i = 0; i < v->count; i++) {
        if ((ret = cir_amf0_put_key(b, v->keys[i])) < 0 ||
            (ret = cir_amf0_put_value(b, &v->items[i])) < 0) {
            return ret;
        }
    }
    return cir_buf_append(b, end, 3);
}

int
cir_amf0_put_value(cir_buf_t *b, const cir_amf_t *v)
{
    uint8_t hdr[11];
    int ret;

    switch (v->type) {
    case CIR_AMF_NUMBER:
        return cir_amf0_put_number(b, v->number);
    case CIR_AMF_BOOLEAN:
        return cir_amf0_put_bool(b, v->boolean);
    case CIR_AMF_STRING:
    case CIR_AMF_LONG_STRING:
        if (v->len > 0xffff) {
            hdr[0] = CIR_AMF_LONG_STRING;
            be32_put(hdr + 1, (uint32_t)v->len);
            if ((ret = cir_buf_append(b, hdr, 5)) < 0) {
                return ret;
            }
            return cir_buf_append(b, v->str, v->len);
        }
        return cir_amf0_put_string(b, v->str);
    case CIR_AMF_OBJECT:
        hdr[0] = CIR_AMF_OBJECT;
        return (ret = cir_buf_append(b, hdr, 1)) < 0 ? ret : put_props(b, v);
    case CIR_AMF_ECMA_ARRAY:
        hdr[0] = CIR_AMF_ECMA_ARRAY;
        be32_put(hdr + 1, (uint32_t)v->count);
        return (ret = cir_buf_append(b, hdr, 5)) < 0 ? ret : put_props(b, v);
    case CIR_AMF_STRICT_ARRAY:
        hdr[0] = CIR_AMF_STRICT_ARRAY;
        be32_put(hdr + 1, (uint32_t)v->count);
        if ((ret = cir_buf_append(b, hdr, 5)) < 0) {
            return ret;
        }
        for (size_t i = 0; i < v->count; i++) {
            if ((ret = cir_amf0_put_value(b, &v->items[i])) < 0) {
                return ret;
            }
        }
        return 0;
    case CIR_AMF_DATE:
        if ((ret = cir_amf0_put_number(b, v->number)) < 0) {
            return ret;
        }
        b->data[b->len - 9] = CIR_AMF_DATE;
        hdr[0] = hdr[1] = 0; /* time zone: unused */
        return cir_buf_append(b, hdr, 2);
    case CIR_AMF_UNDEFINED:
        hdr[0] = CIR_AMF_UNDEFINED;
        return cir_buf_append(b, hdr, 1);
    default:
        return cir_amf0_put_null(b);
    }
}

/* ---- the client ---------------------------------------------------------- */

int
cir_rtmp_client_new(cir_rtmp_client_t **out, const cir_rtmp_url_t *u,
                    uint32_t time, const uint8_t *random)
{
    cir_rtmp_client_t *c = calloc(1, sizeof(*c));
    uint8_t c01[1 + CIR_RTMP_HS_SIZE] = {3};
    int ret;

    if (c == NULL) {
        return CIR_ENOMEM;
    }
    c->url = *u;
    c->amf = (cir_amf_limits_t){8, 1024, 8192};
    cir_rtmp_reader_init(&c->rd, MAX_IN_MSG, 16);
    cir_buf_init(&c->out, MAX_OUT);
    cir_buf_init(&c->tmp, 64 * 1024);
    be32_put(c01 + 1, time); /* then 4 zero bytes, then random */
    memcpy(c01 + 9, random, CIR_RTMP_HS_SIZE - 8);
    if ((ret = cir_buf_append(&c->out, c01, sizeof(c01))) < 0) {
        cir_rtmp_client_free(&c);
        return ret;
    }
    *out = c;
    return 0;
}

void
cir_rtmp_client_free(cir_rtmp_client_t **cp)
{
    cir_rtmp_client_t *c = *cp;

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
cir_rtmp_client_output(cir_rtmp_client_t *c)
{
    return &c->out;
}

cir_rtmp_client_state_t
cir_rtmp_client_state(const cir_rtmp_client_t *c)
{
    return c->state;
}

const char *
cir_rtmp_client_error(const cir_rtmp_client_t *c)
{
    return c->error;
}

/* Enters FAILED: the error reads "what[: code][: description]". */
static int
fail(cir_rtmp_client_t *c, int err, const char *what, const char *code,
     const char *desc)
{
    c->state = CIR_RTMP_CLIENT_FAILED;
    snprintf(c->error, sizeof(c->error), "%s%s%s%s%s", what,
             code != NULL ? ": " : "", code != NULL ? code : "",
             desc != NULL ? ": " : "", desc != NULL ? desc : "");
    return err;
}

static int
send_control_u32(cir_rtmp_client_t *c, uint8_t type, uint32_t v)
{
    uint8_t b[4];

    be32_put(b, v);
    return cir_rtmp_write_msg(&c->out, OUT_CHUNK_SIZE, CSID_CONTROL, 0, type, 0,
                              b, 4);
}

/* The command in c->tmp on stream sid. */
static int
send_tmp(cir_rtmp_client_t *c, uint32_t sid)
{
    int ret = cir_rtmp_write_msg(&c->out, OUT_CHUNK_SIZE, CSID_COMMAND, 0,
                                 CIR_RTMP_MSG_COMMAND_AMF0, sid,
                                 (const uint8_t *)c->tmp.data, c->tmp.len);
    cir_buf_reset(&c->tmp);
    return ret;
}

/* name(txn, null, arg): releaseStream, FCPublish, FCUnpublish. */
static int
send_call_s(cir_rtmp_client_t *c, const char *name, double txn, const char *arg)
{
    int ret;

    if ((ret = cir_amf0_put_string(&c->tmp, name)) < 0 ||
        (ret = cir_amf0_put_number(&c->tmp, txn)) < 0 ||
        (ret = cir_amf0_put_null(&c->tmp)) < 0 ||
        (arg != NULL && (ret = cir_amf0_put_string(&c->tmp, arg)) < 0)) {
        cir_buf_reset(&c->tmp);
        return ret;
    }
    return send_tmp(c, 0);
}

static int
put_prop_s(cir_buf_t *b, const char *k, const char *v)
{
    int ret = cir_amf0_put_key(b, k);

    return ret < 0 ? ret : cir_amf0_put_string(b, v);
}

static int
send_connect(cir_rtmp_client_t *c)
{
    cir_buf_t *b = &c->tmp;
    int ret;

    if ((ret = send_control_u32(c, CIR_RTMP_MSG_SET_CHUNK_SIZE,
                                OUT_CHUNK_SIZE)) < 0) {
        return ret;
    }
    if ((ret = cir_amf0_put_string(b, "connect")) < 0 ||
        (ret = cir_amf0_put_number(b, TXN_CONNECT)) < 0 ||
        (ret = cir_amf0_put_object_begin(b)) < 0 ||
        (ret = put_prop_s(b, "app", c->url.app)) < 0 ||
        (ret = put_prop_s(b, "type", "nonprivate")) < 0 ||
        (ret = put_prop_s(b, "flashVer", "FMLE/3.0 (compatible; Cirrus)")) <
            0 ||
        (ret = put_prop_s(b, "tcUrl", c->url.tc_url)) < 0 ||
        (ret = cir_amf0_put_object_end(b)) < 0) {
        cir_buf_reset(b);
        return ret;
    }
    c->state = CIR_RTMP_CLIENT_CONNECT;
    return send_tmp(c, 0);
}

/* S0, S1 (answered with C2, its echo), S2 (read, not checked: servers
 * differ in what they echo).  *used: bytes taken. */
static int
handshake(cir_rtmp_client_t *c, const uint8_t *p, size_t n, size_t *used)
{
    size_t pos = 0, take;
    int ret;

    while (c->hs_stage < 3) {
        if (pos == n) {
            *used = pos;
            return CIR_EAGAIN;
        }
        if (c->hs_stage == 0) {
            if (p[pos++] != 3) {
                *used = pos;
                return fail(c, CIR_EPARSE,
                            "not an RTMP server (S0 is not version 3)", NULL,
                            NULL);
            }
            c->hs_stage = 1;
            continue;
        }
        take = CIR_RTMP_HS_SIZE - c->hs_have;
        if (take > n - pos) {
            take = n - pos;
        }
        if (c->hs_stage == 1) {
            memcpy(c->s1 + c->hs_have, p + pos, take);
        }
        c->hs_have += take;
        pos += take;
        if (c->hs_have < CIR_RTMP_HS_SIZE) {
            continue;
        }
        if (c->hs_stage == 1 &&
            (ret = cir_buf_append(&c->out, c->s1, CIR_RTMP_HS_SIZE)) < 0) {
            return ret;
        }
        c->hs_stage++;
        c->hs_have = 0;
    }
    *used = pos;
    return send_connect(c);
}

static void
clear_all(cir_amf_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cir_amf_clear(&v[i]);
    }
}

static int
decode_all(cir_rtmp_client_t *c, const uint8_t *p, size_t len, cir_amf_t *v,
           size_t *n)
{
    size_t pos = 0, used;
    int ret;

    *n = 0;
    while (pos < len && *n < MAX_ARGS) {
        ret = cir_amf0_decode(p + pos, len - pos, &c->amf, &v[*n], &used);
        if (ret < 0) {
            return ret == CIR_EAGAIN ? CIR_EPARSE : ret;
        }
        pos += used;
        (*n)++;
    }
    return 0;
}

/* The code and description of an info object (argument 3), or "". */
static const char *
info_s(const cir_amf_t *v, size_t n, const char *key)
{
    const char *s = n >= 4 ? cir_amf_get_string(&v[3], key) : NULL;

    return s != NULL ? s : "";
}

static int
on_result(cir_rtmp_client_t *c, double txn, const cir_amf_t *v, size_t n)
{
    int ret;

    if (txn == TXN_CONNECT && c->state == CIR_RTMP_CLIENT_CONNECT) {
        c->state = CIR_RTMP_CLIENT_CREATE_STREAM;
        if ((ret = send_call_s(c, "releaseStream", TXN_RELEASE, c->url.key)) <
                0 ||
            (ret = send_call_s(c, "FCPublish", TXN_FCPUBLISH, c->url.key)) <
                0) {
            return ret;
        }
        return send_call_s(c, "createStream", TXN_CREATE_STREAM, NULL);
    }
    if (txn == TXN_CREATE_STREAM && c->state == CIR_RTMP_CLIENT_CREATE_STREAM) {
        if (n < 4 || v[3].type != CIR_AMF_NUMBER || v[3].number < 1 ||
            v[3].number > 65535) {
            return fail(c, CIR_EPARSE, "createStream: no stream id", NULL,
                        NULL);
        }
        c->stream_id = (uint32_t)v[3].number;
        c->state = CIR_RTMP_CLIENT_PUBLISH;
        if ((ret = cir_amf0_put_string(&c->tmp, "publish")) < 0 ||
            (ret = cir_amf0_put_number(&c->tmp, TXN_PUBLISH)) < 0 ||
            (ret = cir_amf0_put_null(&c->tmp)) < 0 ||
            (ret = cir_amf0_put_string(&c->tmp, c->url.key)) < 0 ||
            (ret = cir_amf0_put_string(&c->tmp, "live")) < 0) {
            cir_buf_reset(&c->tmp);
            return ret;
        }
        return send_tmp(c, c->stream_id);
    }
    return 0; /* releaseStream, FCPublish answered: nothing to do */
}

static int
on_error(cir_rtmp_client_t *c, double txn, const cir_amf_t *v, size_t n)
{
    if (txn == TXN_CONNECT) {
        return fail(c, CIR_EAUTH, "connect refused", info_s(v, n, "code"),
                    info_s(v, n, "description"));
    }
    if (txn == TXN_CREATE_STREAM) {
        return fail(c, CIR_EAUTH, "createStream refused", info_s(v, n, "code"),
                    info_s(v, n, "description"));
    }
    return 0; /* releaseStream or FCPublish unknown to the server: fine */
}

static int
on_status(cir_rtmp_client_t *c, const cir_amf_t *v, size_t n)
{
    const char *code = info_s(v, n, "code");

    if (strcmp(code, "NetStream.Publish.Start") == 0) {
        if (c->state == CIR_RTMP_CLIENT_PUBLISH) {
            c->state = CIR_RTMP_CLIENT_LIVE;
        }
        return 0;
    }
    if (strcmp(info_s(v, n, "level"), "error") == 0) {
        return fail(c, CIR_EAUTH, "publish refused", code,
                    info_s(v, n, "description"));
    }
    return 0;
}

static int
on_command(cir_rtmp_client_t *c, const uint8_t *p, size_t len)
{
    cir_amf_t v[MAX_ARGS];
    size_t n = 0;
    int ret;

    if ((ret = decode_all(c, p, len, v, &n)) < 0) {
        clear_all(v, n);
        return fail(c, ret, "a malformed command from the server", NULL, NULL);
    }
    ret = 0;
    if (n >= 2 && v[0].type == CIR_AMF_STRING && v[1].type == CIR_AMF_NUMBER) {
        if (strcmp(v[0].str, "_result") == 0) {
            ret = on_result(c, v[1].number, v, n);
        } else if (strcmp(v[0].str, "_error") == 0) {
            ret = on_error(c, v[1].number, v, n);
        } else if (strcmp(v[0].str, "onStatus") == 0) {
            ret = on_status(c, v, n);
        }
    }
    clear_all(v, n);
    return ret;
}

static int
on_message(cir_rtmp_client_t *c, const cir_rtmp_msg_t *m)
{
    const uint8_t *p = m->data;
    uint8_t pong[6];

    switch (m->type) {
    case CIR_RTMP_MSG_SET_CHUNK_SIZE:
        if (m->size < 4 || (be32_get(p) & 0x7fffffff) < 1) {
            return fail(c, CIR_EPARSE, "bad Set Chunk Size", NULL, NULL);
        }
        c->rd.chunk_size = be32_get(p) & 0x7fffffff;
        return 0;
    case CIR_RTMP_MSG_ABORT:
        if (m->size >= 4) {
            cir_rtmp_reader_abort(&c->rd, be32_get(p));
        }
        return 0;
    case CIR_RTMP_MSG_WIN_ACK_SIZE:
        if (m->size >= 4) {
            c->peer_window = be32_get(p);
            c->acked = c->rd.bytes_in;
        }
        return 0;
    case CIR_RTMP_MSG_USER_CONTROL:
        if (m->size >= 6 &&
            ((uint16_t)p[0] << 8 | p[1]) == CIR_RTMP_UC_PING_REQUEST) {
            pong[0] = 0;
            pong[1] = CIR_RTMP_UC_PING_RESPONSE;
            memcpy(pong + 2, p + 2, 4);
            return cir_rtmp_write_msg(&c->out, OUT_CHUNK_SIZE, CSID_CONTROL, 0,
                                      CIR_RTMP_MSG_USER_CONTROL, 0, pong, 6);
        }
        return 0;
    case CIR_RTMP_MSG_COMMAND_AMF3:
        return m->size < 1 ? 0 : on_command(c, p + 1, m->size - 1);
    case CIR_RTMP_MSG_COMMAND_AMF0:
        return on_command(c, p, m->size);
    default:
        return 0; /* acknowledgements, bandwidth, data: nothing to do */
    }
}

int
cir_rtmp_client_feed(cir_rtmp_client_t *c, const uint8_t *p, size_t n)
{
    size_t pos = 0, used;
    cir_rtmp_msg_t m;
    int ret;

    if (c->state == CIR_RTMP_CLIENT_FAILED) {
        return CIR_ECANCELED;
    }
    if (c->state == CIR_RTMP_CLIENT_HANDSHAKE) {
        ret = handshake(c, p, n, &used);
        if (ret == CIR_EAGAIN) {
            return 0;
        }
        if (ret < 0) {
            return ret;
        }
        pos = used;
    }
    for (;;) {
        ret = cir_rtmp_reader_feed(&c->rd, p + pos, n - pos, &used, &m);
        pos += used;
        if (ret == CIR_EAGAIN) {
            break;
        }
        if (ret < 0) {
            return fail(c, ret, "a malformed chunk stream from the server",
                        NULL, NULL);
        }
        if ((ret = on_message(c, &m)) < 0) {
            return ret;
        }
    }
    if (c->peer_window > 0 && c->rd.bytes_in - c->acked >= c->peer_window) {
        c->acked = c->rd.bytes_in;
        return send_control_u32(c, CIR_RTMP_MSG_ACK, (uint32_t)c->rd.bytes_in);
    }
    return 0;
}

int
cir_rtmp_client_send(cir_rtmp_client_t *c, uint8_t type, uint32_t timestamp,
                     const uint8_t *p, size_t n)
{
    uint32_t csid = type == CIR_RTMP_MSG_AUDIO   ? CSID_AUDIO
                    : type == CIR_RTMP_MSG_VIDEO ? CSID_VIDEO
                                                 : CSID_DATA;

    if (c->state != CIR_RTMP_CLIENT_LIVE || n > 0xffffff) {
        return CIR_EINVAL;
    }
    return cir_rtmp_write_msg(&c->out, OUT_CHUNK_SIZE, csid, timestamp, type,
                              c->stream_id, p, n);
}

int
cir_rtmp_metadata_encode(cir_buf_t *b, const cir_amf_t *meta)
{
    int ret;

    if ((ret = cir_amf0_put_string(b, "@setDataFrame")) < 0 ||
        (ret = cir_amf0_put_string(b, "onMetaData")) < 0) {
        return ret;
    }
    return cir_amf0_put_value(b, meta);
}

int
cir_rtmp_client_unpublish(cir_rtmp_client_t *c)
{
    int ret;

    if (c->state != CIR_RTMP_CLIENT_LIVE) {
        return 0;
    }
    if ((ret = send_call_s(c, "FCUnpublish", TXN_FCUNPUBLISH, c->url.key)) <
            0 ||
        (ret = cir_amf0_put_string(&c->tmp, "deleteStream")) < 0 ||
        (ret = cir_amf0_put_number(&c->tmp, TXN_DELETE_STREAM)) < 0 ||
        (ret = cir_amf0_put_null(&c->tmp)) < 0 ||
        (ret = cir_amf0_put_number(&c->tmp, c->stream_id)) < 0) {
        cir_buf_reset(&c->tmp);
        return ret;
    }
    c->state = CIR_RTMP_CLIENT_CREATE_STREAM; /* no more media */
    return send_tmp(c, 0);
}
