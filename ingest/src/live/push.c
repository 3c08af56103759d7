/*
 * Restreaming (the `push` option): each published stream is forwarded as
 * it came, FLV tag for FLV tag (metadata, sequence headers, frames with
 * their timestamps), to every destination, each over its own TCP
 * connection running the RTMP client state machine (rtmp_client.c).
 *
 * What a loop turn sends a destination goes out in one socket write at the
 * turn's end (a uv_check per stream; earlier past BATCH_BYTES), not a
 * write per tag.
 *
 * A destination never holds anything else up: what it has not taken stays
 * in its socket's write queue, bounded by push_queue_bytes, past which
 * video is dropped until the next keyframe (counted).  A failed or closed
 * destination is retried with backoff (1, 2, 4 ... 30 s); on each
 * (re)connect it gets the metadata and sequence headers, then the current
 * GOP from its keyframe (kept per stream, bounded by push_queue_bytes), so
 * it starts at a keyframe without waiting for the next one.  State changes
 * are logged once, not each retry.
 *
 * rtmps:// destinations run TLS (tls.c, a client session over memory BIOs)
 * between the socket and the RTMP client: the certificate is verified for
 * the URL's host (push_tls_verify, push_tls_ca_file); a failure is one
 * more reason to retry with backoff, shown in the status.
 *
 * SRT publishers' packets come here as FLV tags made by libavformat's flv
 * muxer (push_flv.c), RTMP publishers' tags as they came.
 *
 * An adapter on libuv: tested through tests/integration/ingest_push.test.mjs
 * (nginx-rtmp and a second cirrus-ingest as destinations) and
 * tests/integration/ingest_push_reach.test.mjs (rtmps://, SRT publishers).
 */

#include "server_internal.h"

#include <signal.h>

#define CONNECT_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS    2000 /* for the unpublish to go out */
#define BACKOFF_MAX_S      30
/* TLS records of one flush at most (the RTMP client's output is bounded
 * by 64 MiB, the records add a little) */
#define TLS_OUT_MAX ((size_t)65 << 20)
/* a destination's output written at once past this, before the turn ends */
#define BATCH_BYTES (256 * 1024)

typedef enum {
    DEST_CONNECTING,
    DEST_PUBLISHING,
    DEST_RETRYING,
    DEST_STOPPED
} dest_state_t;

static const char *const state_names[] = {"connecting", "publishing",
                                          "retrying", "stopped"};

typedef struct srv_push srv_push_t;

typedef struct {
    srv_push_t *set;
    cir_rtmp_url_t url;
    dest_state_t state;
    uv_timer_t timer; /* connect timeout, retry, stop */
    uv_tcp_t tcp;
    int tcp_open;
    uv_getaddrinfo_t gai;
    int gai_pending;
    uv_connect_t creq;
    cir_rtmp_client_t *cl;
    srv_tls_t tls; /* rtmps:// (tls.ssl is NULL otherwise) */
    unsigned backoff_s;
    int wait_key; /* the queue overflowed: video waits for a keyframe */
    /* memory held by writes not done yet, their bookkeeping included (a
     * flood of tiny tags must not get past push_queue_bytes) */
    uint64_t queued;
    uint64_t bytes, dropped, reconnects;
    char why[256]; /* the last failure logged */
} dest_t;

typedef struct {
    uint8_t type;
    uint32_t ts;
    uint32_t n;
    uint8_t data[];
} gop_msg_t;

struct srv_push {
    cir_ingest_t *srv;
    char key[64];
    cir_log_ctx_t log;
    int stopping;
    int handles;      /* timers and sockets open, resolutions pending */
    uv_check_t flush; /* the loop turn's output to the sockets */
    int flush_armed;
    size_t n;
    dest_t dest[SRV_PUSH_MAX];
    cir_ingest_push_info_t info[SRV_PUSH_MAX];
    cir_buf_t meta;       /* the onMetaData payload, as a data message */
    cir_buf_t vseq, aseq; /* the sequence headers' tag bodies */
    /* the tags since the last video keyframe (none until the first) */
    gop_msg_t **gop;
    size_t ngop, gop_cap;
    uint64_t gop_bytes;
    int gop_ok;
};

/* ---- the set's lifetime --------------------------------------------------
 */

static void
gop_clear(srv_push_t *p)
{
    for (size_t i = 0; i < p->ngop; i++) {
        free(p->gop[i]);
    }
    p->ngop = 0;
    p->gop_bytes = 0;
}

/* One of the set's handles closed: the last frees it. */
static void
set_release(srv_push_t *p)
{
    if (--p->handles > 0 || !p->stopping) {
        return;
    }
    gop_clear(p);
    free(p->gop);
    cir_buf_free(&p->meta);
    cir_buf_free(&p->vseq);
    cir_buf_free(&p->aseq);
    free(p);
}

static void
handle_closed(uv_handle_t *h)
{
    dest_t *d = h->data;

    if (h == (uv_handle_t *)&d->tcp) {
        d->tcp_open = 0;
    }
    set_release(d->set);
}

static void
flush_closed(uv_handle_t *h)
{
    set_release(h->data);
}

static void dest_start(dest_t *d);

/* The connection's RTMP client and TLS session go (the socket closes). */
static void
dest_drop_session(dest_t *d)
{
    cir_rtmp_client_free(&d->cl);
    srv_tls_close(&d->tls);
}

/* ---- writing -------------------------------------------------------------
 */

typedef struct {
    uv_write_t req;
    size_t len;
    char data[];
} write_req_t;

static void dest_fail(dest_t *d, const char *what, const char *detail);

static void
write_done(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    dest_t *d = req->data;

    d->queued -= sizeof(*w) + w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED && d->tcp_open &&
        !uv_is_closing((uv_handle_t *)&d->tcp)) {
        dest_fail(d, "write", uv_strerror(status));
    }
}

/* Sends what the client produced.  -1: the destination failed. */
static int
dest_flush(dest_t *d)
{
    cir_buf_t *out = cir_rtmp_client_output(d->cl);
    write_req_t *w;
    uv_buf_t buf;
    int ret;

    if (d->tls.ssl != NULL) {
        /* rtmps: what goes out is the TLS records of it */
        if (srv_tls_send(&d->tls, out) < 0) {
            dest_fail(d, d->tls.error, NULL);
            return -1;
        }
        out = &d->tls.out;
    }
    if (out->len == 0) {
        return 0;
    }
    w = malloc(sizeof(*w) + out->len);
    if (w == NULL) {
        cir_buf_reset(out);
        dest_fail(d, "out of memory", NULL);
        return -1;
    }
    memcpy(w->data, out->data, out->len);
    w->len = out->len;
    w->req.data = d;
    buf = uv_buf_init(w->data, (unsigned)out->len);
    cir_buf_reset(out);
    if ((ret = uv_write(&w->req, (uv_stream_t *)&d->tcp, &buf, 1, write_done)) <
        0) {
        free(w);
        dest_fail(d, "write", uv_strerror(ret));
        return -1;
    }
    d->queued += sizeof(*w) + w->len; /* until write_done */
    d->bytes += w->len;
    return 0;
}

/* The loop turn ends: what it gave the destinations goes out. */
static void
flush_turn(uv_check_t *c)
{
    srv_push_t *p = c->data;

    uv_check_stop(c);
    p->flush_armed = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->dest[i].state == DEST_PUBLISHING && p->dest[i].cl != NULL) {
            dest_flush(&p->dest[i]);
        }
    }
}

/* A message to a publishing destination: written at the turn's end. */
static int
dest_send(dest_t *d, uint8_t type, uint32_t ts, const uint8_t *data, size_t n)
{
    srv_push_t *p = d->set;

    if (cir_rtmp_client_send(d->cl, type, ts, data, n) < 0) {
        dest_fail(d, "cannot frame a message", NULL);
        return -1;
    }
    if (cir_rtmp_client_output(d->cl)->len >= BATCH_BYTES) {
        return dest_flush(d);
    }
    if (!p->flush_armed) {
        uv_check_start(&p->flush, flush_turn);
        p->flush_armed = 1;
    }
    return 0;
}

/* Its bytes not yet taken: in writes, and framed for the turn's end. */
static uint64_t
dest_queued(const dest_t *d)
{
    return d->queued + (d->cl != NULL ? cir_rtmp_client_output(d->cl)->len : 0);
}

/* Publishing: the headers, then the GOP so far. */
static void
dest_on_publishing(dest_t *d)
{
    srv_push_t *p = d->set;

    d->state = DEST_PUBLISHING;
    d->backoff_s = 1;
    d->why[0] = '\0';
    uv_timer_stop(&d->timer);
    cir_log_info(&p->log, "push to %s: publishing", d->url.redacted);
    if (p->meta.len > 0 &&
        dest_send(d, CIR_RTMP_MSG_DATA_AMF0, 0, (const uint8_t *)p->meta.data,
                  p->meta.len) < 0) {
        return;
    }
    if (p->vseq.len > 0 &&
        dest_send(d, CIR_RTMP_MSG_VIDEO, 0, (const uint8_t *)p->vseq.data,
                  p->vseq.len) < 0) {
        return;
    }
    if (p->aseq.len > 0 &&
        dest_send(d, CIR_RTMP_MSG_AUDIO, 0, (const uint8_t *)p->aseq.data,
                  p->aseq.len) < 0) {
        return;
    }
    /* without a GOP the video starts at the next keyframe */
    d->wait_key = p->vseq.len > 0 && !(p->gop_ok && p->ngop > 0);
    for (size_t i = 0; i < p->ngop && d->state == DEST_PUBLISHING; i++) {
        gop_msg_t *m = p->gop[i];
        if (dest_send(d, m->type, m->ts, m->data, m->n) < 0) {
            return;
        }
    }
}

/* ---- connecting ----------------------------------------------------------
 */

static void
dest_retry(uv_timer_t *t)
{
    dest_t *d = t->data;

    if (d->tcp_open || d->gai_pending) {
        /* the last socket is still closing, or a resolution running */
        uv_timer_start(&d->timer, dest_retry, 100, 0);
        return;
    }
    d->reconnects++;
    dest_start(d);
}

/* Closes the connection and retries after the backoff.  The reason is
 * logged when it is not the one logged last (or after publishing). */
static void
dest_fail(dest_t *d, const char *what, const char *detail)
{
    srv_push_t *p = d->set;
    char why[256];

    if (d->state == DEST_RETRYING || d->state == DEST_STOPPED) {
        return;
    }
    snprintf(why, sizeof(why), "%s%s%s", what, detail != NULL ? ": " : "",
             detail != NULL ? detail : "");
    if (d->state == DEST_PUBLISHING || strcmp(why, d->why) != 0) {
        cir_log_warn(
            &p->log, "push to %s: %s%s: retrying with backoff (1 to %d s)",
            d->url.redacted, d->state == DEST_PUBLISHING ? "lost: " : "", why,
            BACKOFF_MAX_S);
        snprintf(d->why, sizeof(d->why), "%s", why);
    } else {
        cir_log_debug(&p->log, "push to %s: %s: retrying in %u s",
                      d->url.redacted, why, d->backoff_s);
    }
    d->state = DEST_RETRYING;
    dest_drop_session(d);
    if (d->tcp_open && !uv_is_closing((uv_handle_t *)&d->tcp)) {
        uv_close((uv_handle_t *)&d->tcp, handle_closed);
    }
    uv_timer_start(&d->timer, dest_retry, (uint64_t)d->backoff_s * 1000, 0);
    d->backoff_s =
        d->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : d->backoff_s * 2;
}

static void
connect_timeout(uv_timer_t *t)
{
    dest_fail(t->data, "no publish within 10 s", NULL);
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    dest_t *d = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)d->set->srv->readbuf, READ_BUF);
}

/* Plaintext from the TLS session: into the RTMP client. */
static int
feed_client(void *opaque, const uint8_t *p, size_t n)
{
    dest_t *d = opaque;

    return cir_rtmp_client_feed(d->cl, p, n);
}

static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    dest_t *d = stream->data;
    int ret;

    if (nread < 0) {
        dest_fail(d,
                  nread == UV_EOF ? "the destination closed the connection"
                                  : uv_strerror((int)nread),
                  NULL);
        return;
    }
    if (nread == 0 || d->cl == NULL) {
        return;
    }
    if (d->tls.ssl != NULL) {
        d->tls.error[0] = '\0';
        ret = srv_tls_feed(&d->tls, (const uint8_t *)buf->base, (size_t)nread,
                           feed_client, d);
    } else {
        ret = feed_client(d, (const uint8_t *)buf->base, (size_t)nread);
    }
    if (ret < 0) {
        /* (the TLS session's reason, or the RTMP client's) */
        dest_fail(d,
                  d->tls.error[0] != '\0' ? d->tls.error
                                          : cir_rtmp_client_error(d->cl),
                  NULL);
        return;
    }
    if (dest_flush(d) < 0) {
        return;
    }
    if (d->state == DEST_CONNECTING &&
        cir_rtmp_client_state(d->cl) == CIR_RTMP_CLIENT_LIVE) {
        dest_on_publishing(d);
    }
}

static void
on_connected(uv_connect_t *req, int status)
{
    dest_t *d = req->data;
    uint8_t rnd[1528];
    int ret;

    if (status == UV_ECANCELED || d->state != DEST_CONNECTING) {
        return;
    }
    if (status < 0) {
        dest_fail(d, "connect", uv_strerror(status));
        return;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        memset(rnd, 0x5a, sizeof(rnd));
    }
    if ((ret = cir_rtmp_client_new(&d->cl, &d->url,
                                   (uint32_t)(srv_now_us() / 1000), rnd)) < 0) {
        dest_fail(d, cir_strerror(ret), NULL);
        return;
    }
    /* (the context is made at start when a push URL is rtmps://; here for
     * destination lists set otherwise) */
    if (d->url.tls && d->set->srv->tls_client_ctx == NULL &&
        srv_tls_client_load(d->set->srv) < 0) {
        dest_fail(d, "cannot start TLS", "no client context (see the log)");
        return;
    }
    if (d->url.tls && (ret = srv_tls_open(&d->tls, d->set->srv->tls_client_ctx,
                                          d->url.host, TLS_OUT_MAX)) < 0) {
        dest_fail(d, "cannot start TLS", cir_strerror(ret));
        return;
    }
    uv_tcp_nodelay(&d->tcp, 1);
    if (dest_flush(d) < 0) {
        return;
    }
    if ((ret = uv_read_start((uv_stream_t *)&d->tcp, alloc_cb, read_cb)) < 0) {
        dest_fail(d, "read", uv_strerror(ret));
    }
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dest_t *d = req->data;
    srv_push_t *p = d->set;
    int ret;

    d->gai_pending = 0;
    if (p->stopping || d->state != DEST_CONNECTING) {
        uv_freeaddrinfo(res);
        /* the resolution counted as a handle: it may have been the last */
        handle_closed((uv_handle_t *)&d->timer);
        return;
    }
    p->handles--;
    if (status < 0) {
        dest_fail(d, "cannot resolve the host", uv_strerror(status));
        return;
    }
    uv_tcp_init(&p->srv->loop, &d->tcp);
    d->tcp.data = d;
    d->tcp_open = 1;
    p->handles++;
    d->creq.data = d;
    ret = uv_tcp_connect(&d->creq, &d->tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (ret < 0) {
        dest_fail(d, "connect", uv_strerror(ret));
    }
}

static void
dest_start(dest_t *d)
{
    srv_push_t *p = d->set;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    char port[8];
    int ret;

    d->state = DEST_CONNECTING;
    d->wait_key = 0;
    uv_timer_start(&d->timer, connect_timeout, CONNECT_TIMEOUT_MS, 0);
    snprintf(port, sizeof(port), "%d", d->url.port);
    d->gai.data = d;
    ret = uv_getaddrinfo(&p->srv->loop, &d->gai, on_resolved, d->url.host, port,
                         &hints);
    if (ret < 0) {
        dest_fail(d, "cannot resolve the host", uv_strerror(ret));
        return;
    }
    d->gai_pending = 1;
    p->handles++;
}

/* ---- the stream's side ---------------------------------------------------
 */

/* The stream's push set, started at its first tag. */
static srv_push_t *
push_get(stream_t *st)
{
    cir_ingest_t *s = st->srv;
    cir_rtmp_url_t urls[SRV_PUSH_MAX];
    size_t nurls = 0;
    srv_push_t *p;

    if (st->push != NULL || st->closing ||
        (st->publisher == NULL && st->srt_publisher == NULL) || s->stopping) {
        return st->push;
    }
    /* the key's own destinations or its application's (app.c) */
    srv_push_targets(st, urls, &nurls);
    if (nurls == 0) {
        return NULL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        return NULL;
    }
    p->srv = s;
    snprintf(p->key, sizeof(p->key), "%s", st->key);
    p->log = (cir_log_ctx_t){
        .component = "push", .app = st->app->cfg.name, .stream = p->key};
    cir_buf_init(&p->meta, 1 << 20);
    cir_buf_init(&p->vseq, 1 << 20);
    cir_buf_init(&p->aseq, 1 << 20);
    uv_check_init(&s->loop, &p->flush);
    p->flush.data = p;
    p->handles++;
    p->n = nurls;
    for (size_t i = 0; i < p->n; i++) {
        dest_t *d = &p->dest[i];
        d->set = p;
        d->url = urls[i];
        if (d->url.key[0] == '\0') {
            cir_rtmp_url_set_key(&d->url, st->key);
        }
        d->backoff_s = 1;
        uv_timer_init(&s->loop, &d->timer);
        d->timer.data = d;
        p->handles++;
        dest_start(d);
    }
    st->push = p;
    return p;
}

static void
dest_stop_now(uv_timer_t *t)
{
    dest_t *d = t->data;

    if (d->tcp_open && !uv_is_closing((uv_handle_t *)&d->tcp)) {
        uv_close((uv_handle_t *)&d->tcp, handle_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&d->timer)) {
        uv_close((uv_handle_t *)&d->timer, handle_closed);
    }
}

static void
shutdown_done(uv_shutdown_t *req, int status)
{
    dest_t *d = req->data;

    (void)status;
    free(req);
    dest_stop_now(&d->timer);
}

/* Unpublishes cleanly where it can, then closes (at most STOP_TIMEOUT_MS
 * later: a destination that does not read does not keep it). */
static void
dest_stop(dest_t *d)
{
    uv_shutdown_t *sd;
    int publishing = d->state == DEST_PUBLISHING;

    d->state = DEST_STOPPED;
    if (d->gai_pending) {
        uv_cancel((uv_req_t *)&d->gai); /* on_resolved still runs */
    }
    if (publishing && cir_rtmp_client_unpublish(d->cl) == 0 &&
        dest_flush(d) == 0 && (sd = malloc(sizeof(*sd))) != NULL) {
        sd->data = d;
        if (uv_shutdown(sd, (uv_stream_t *)&d->tcp, shutdown_done) == 0) {
            uv_timer_start(&d->timer, dest_stop_now, STOP_TIMEOUT_MS, 0);
            dest_drop_session(d);
            return;
        }
        free(sd);
    }
    dest_drop_session(d);
    dest_stop_now(&d->timer);
}

void
srv_push_stop(stream_t *st)
{
    srv_push_t *p = st->push;

    if (p == NULL) {
        return;
    }
    st->push = NULL;
    p->stopping = 1;
    for (size_t i = 0; i < p->n; i++) {
        if (p->dest[i].state == DEST_PUBLISHING) {
            cir_log_info(&p->log, "push to %s: stream ended: unpublishing",
                         p->dest[i].url.redacted);
        }
        dest_stop(&p->dest[i]);
    }
    uv_close((uv_handle_t *)&p->flush, flush_closed);
}

/* The new metadata (in p->meta) to the destinations publishing. */
static void
meta_send(srv_push_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        dest_t *d = &p->dest[i];
        if (d->state == DEST_PUBLISHING) {
            dest_send(d, CIR_RTMP_MSG_DATA_AMF0, 0,
                      (const uint8_t *)p->meta.data, p->meta.len);
        }
    }
}

void
srv_push_metadata(stream_t *st, const cir_amf_t *meta)
{
    srv_push_t *p = push_get(st);

    if (p == NULL) {
        return;
    }
    cir_buf_reset(&p->meta);
    if (cir_rtmp_metadata_encode(&p->meta, meta) < 0) {
        cir_buf_reset(&p->meta);
        return;
    }
    meta_send(p);
}

void
srv_push_script(stream_t *st, const uint8_t *body, size_t n)
{
    static const uint8_t set_data_frame[] = {
        0x02, 0x00, 0x0d, '@', 's', 'e', 't', 'D',
        'a',  't',  'a',  'F', 'r', 'a', 'm', 'e'}; /* AMF0 string */
    srv_push_t *p = push_get(st);

    if (p == NULL) {
        return;
    }
    cir_buf_reset(&p->meta);
    if (cir_buf_append(&p->meta, set_data_frame, sizeof(set_data_frame)) < 0 ||
        cir_buf_append(&p->meta, body, n) < 0) {
        cir_buf_reset(&p->meta);
        return;
    }
    meta_send(p);
}

/* Keeps the tags since the last keyframe, within push_queue_bytes. */
static void
gop_keep(srv_push_t *p, int video, int keyframe, uint32_t ts,
         const uint8_t *data, size_t n)
{
    gop_msg_t *m;

    if (video && keyframe) {
        gop_clear(p);
        p->gop_ok = 1;
    }
    if (!p->gop_ok) {
        return;
    }
    /* the bookkeeping counts: a flood of tiny tags stays bounded too */
    if (p->gop_bytes + sizeof(*m) + n >
        (uint64_t)p->srv->cfg.push_queue_bytes) {
        gop_clear(p); /* too long: the next keyframe starts another */
        p->gop_ok = 0;
        return;
    }
    if (p->ngop == p->gop_cap) {
        size_t cap = p->gop_cap ? p->gop_cap * 2 : 256;
        gop_msg_t **g = realloc(p->gop, cap * sizeof(*g));
        if (g == NULL) {
            gop_clear(p);
            p->gop_ok = 0;
            return;
        }
        p->gop = g;
        p->gop_cap = cap;
    }
    if ((m = malloc(sizeof(*m) + n)) == NULL) {
        gop_clear(p);
        p->gop_ok = 0;
        return;
    }
    m->type = video ? CIR_RTMP_MSG_VIDEO : CIR_RTMP_MSG_AUDIO;
    m->ts = ts;
    m->n = (uint32_t)n;
    memcpy(m->data, data, n);
    p->gop[p->ngop++] = m;
    p->gop_bytes += sizeof(*m) + n;
}

/* One coded frame to one destination: dropped (counted) when its queue is
 * full, and video then waits for a keyframe. */
static void
dest_frame(dest_t *d, int video, int keyframe, uint32_t ts, const uint8_t *data,
           size_t n)
{
    uint64_t limit = (uint64_t)d->set->srv->cfg.push_queue_bytes;

    if (d->state != DEST_PUBLISHING) {
        return;
    }
    if (video && d->wait_key && !keyframe) {
        d->dropped++;
        return;
    }
    if (dest_queued(d) + n > limit) {
        d->dropped++;
        d->wait_key |= video;
        return;
    }
    if (video) {
        d->wait_key = 0;
    }
    dest_send(d, video ? CIR_RTMP_MSG_VIDEO : CIR_RTMP_MSG_AUDIO, ts, data, n);
}

void
srv_push_media(stream_t *st, int video, uint32_t ts, const uint8_t *data,
               size_t n, const cir_flv_tag_t *t)
{
    srv_push_t *p = push_get(st);
    uint8_t type = video ? CIR_RTMP_MSG_VIDEO : CIR_RTMP_MSG_AUDIO;

    if (p == NULL) {
        return;
    }
    if (t->packet == CIR_FLV_SEQUENCE_START) {
        cir_buf_t *b = video ? &p->vseq : &p->aseq;
        cir_buf_reset(b);
        if (cir_buf_append(b, data, n) < 0) {
            cir_buf_reset(b);
        }
    }
    if (t->packet != CIR_FLV_CODED_FRAMES) {
        /* sequence headers and ends: small and rare, always sent */
        for (size_t i = 0; i < p->n; i++) {
            if (p->dest[i].state == DEST_PUBLISHING) {
                dest_send(&p->dest[i], type, ts, data, n);
            }
        }
        return;
    }
    if (p->vseq.len > 0) {
        gop_keep(p, video, t->keyframe, ts, data, n);
    }
    for (size_t i = 0; i < p->n; i++) {
        dest_frame(&p->dest[i], video, t->keyframe, ts, data, n);
    }
}

void
srv_push_info(stream_t *st, const cir_ingest_push_info_t **info, size_t *n)
{
    srv_push_t *p = st->push;

    *info = NULL;
    *n = 0;
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        const dest_t *d = &p->dest[i];
        p->info[i] = (cir_ingest_push_info_t){.url = d->url.redacted,
                                              .state = state_names[d->state],
                                              .bytes = d->bytes,
                                              .dropped = d->dropped,
                                              .reconnects = d->reconnects,
                                              .queued_bytes = dest_queued(d),
                                              .error = d->why};
    }
    *info = p->info;
    *n = p->n;
}

int
srv_push_configure(cir_ingest_t *s)
{
    char err[512];
    int ret;

    /* a destination that goes away mid-write must be EPIPE on its own
     * socket (then a retry), not SIGPIPE for the whole process */
    signal(SIGPIPE, SIG_IGN);
    for (size_t k = 0; k < s->napps; k++) {
        srv_app_t *a = &s->apps[k];
        ret = cir_rtmp_url_list_parse(a->cfg.push, a->push_urls, SRV_PUSH_MAX,
                                      &a->npush, err, sizeof(err));
        if (ret < 0) {
            cir_log_error(&s->log, "application %s: push: %s", a->cfg.name,
                          err);
            return ret;
        }
        for (size_t i = 0; i < a->npush; i++) {
            if (a->push_urls[i].tls && s->tls_client_ctx == NULL &&
                (ret = srv_tls_client_load(s)) < 0) {
                return ret;
            }
            cir_log_info(&s->log, "push: every stream of %s to %s%s",
                         a->cfg.name, a->push_urls[i].redacted,
                         a->push_urls[i].key[0] == '\0' ? "<stream key>" : "");
        }
    }
    return 0;
}
