/*
 * RTMP connections: bytes between the socket and the pure connection
 * state machine, publish decisions, limits and timeouts.
 */

#include "server_internal.h"

/* ---- connections ---------------------------------------------------------
 */

static void
conn_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;

    if (--c->handles > 0) {
        return;
    }
    cir_rtmp_conn_free(&c->rtmp);
    srv_tls_conn_free(c);
    free(c->auth_body);
    free(c);
}

typedef struct {
    uv_write_t req;
    size_t len;
    char data[];
} write_req_t;

static void
write_req_done(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    conn_t *c = req->data;

    c->write_pending -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        srv_conn_close(c);
    }
}

static void
shutdown_done(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;

    free(req);
    (void)status;
    srv_conn_close(c);
}

/* Sends what the connection produced; closes after it if it asked to. */
static void
conn_flush(conn_t *c)
{
    cir_buf_t *out = cir_rtmp_conn_output(c->rtmp);
    write_req_t *w;
    uv_buf_t buf;

    if (c->closing) {
        return;
    }
    if (c->tls != NULL) {
        /* RTMPS: what goes out is the TLS records of it */
        if (srv_tls_write(c, out) < 0) {
            srv_conn_close(c);
            return;
        }
        out = &c->tls->out;
    }
    if (out->len > 0) {
        if (c->write_pending + out->len > OUT_MAX) {
            cir_log_warn(&c->log, "%s: peer does not read: closing", c->peer);
            srv_conn_close(c);
            return;
        }
        w = malloc(sizeof(*w) + out->len);
        if (w == NULL) {
            srv_conn_close(c);
            return;
        }
        memcpy(w->data, out->data, out->len);
        w->len = out->len;
        w->req.data = c;
        buf = uv_buf_init(w->data, (unsigned)out->len);
        c->write_pending += out->len;
        cir_buf_reset(out);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, write_req_done) <
            0) {
            c->write_pending -= w->len;
            free(w);
            srv_conn_close(c);
            return;
        }
    }
    if (cir_rtmp_conn_closing(c->rtmp)) {
        uv_shutdown_t *sd = malloc(sizeof(*sd));
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (sd == NULL) {
            srv_conn_close(c);
            return;
        }
        sd->data = c;
        if (uv_shutdown(sd, (uv_stream_t *)&c->tcp, shutdown_done) < 0) {
            free(sd);
            srv_conn_close(c);
            return;
        }
        c->closing = 1; /* the shutdown callback closes */
        c->publishing = 0;
        if (c->stream != NULL && c->stream->publisher == c) {
            srv_stream_detach(c->stream);
        }
        c->stream = NULL;
    }
}

void
srv_conn_close(conn_t *c)
{
    if (c->handles == 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
        return;
    }
    c->closing = 1;
    if (c->auth != NULL) {
        curl_multi_remove_handle(c->srv->multi, c->auth);
        curl_easy_cleanup(c->auth);
        c->auth = NULL;
    }
    if (c->stream != NULL && c->stream->publisher == c) {
        srv_stream_detach(c->stream);
    }
    c->stream = NULL;
    *c->pprev = c->next;
    if (c->next != NULL) {
        c->next->pprev = c->pprev;
    }
    c->srv->nconns--;
    c->srv->buffered -= c->buffered;
    c->buffered = 0;
    cir_log_debug(&c->log, "%s: closed", c->peer);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

/* The key was checked: take the stream (or refuse). */
void
srv_publish_decided(conn_t *c, int allowed)
{
    cir_ingest_t *s = c->srv;
    cir_rtmp_publish_result_t r = CIR_RTMP_PUBLISH_OK;
    stream_t *st;
    int resumed = 0;

    if (!allowed) {
        cir_log_warn(&c->log, "%s: stream key refused", c->peer);
        atomic_fetch_add(&s->refused_key, 1);
        r = CIR_RTMP_PUBLISH_UNAUTHORIZED;
        goto reply;
    }
    st = srv_stream_find(s, c->app, c->key);
    if (st != NULL && st->closing) {
        cir_log_warn(&c->log, "%s: the stream is still ending: refused",
                     c->peer);
        r = CIR_RTMP_PUBLISH_BAD_NAME;
        goto reply;
    }
    if (st != NULL && (st->publisher != NULL || st->srt_publisher != NULL)) {
        if (!s->cfg.takeover) {
            cir_log_warn(&c->log, "%s: already published: refused", c->peer);
            r = CIR_RTMP_PUBLISH_BAD_NAME;
            goto reply;
        }
        cir_log_info(&c->log, "%s: takes over the stream", c->peer);
        conn_t *old = st->publisher;
        srv_srt_publisher_drop(st);
        if (old != NULL) {
            old->stream = NULL;
            st->publisher = NULL;
            srv_conn_close(old);
        }
    }
    if (st == NULL) {
        if (s->nstreams >= (size_t)s->cfg.max_streams) {
            cir_log_warn(&c->log, "max_streams reached: refused");
            r = CIR_RTMP_PUBLISH_BAD_NAME;
            goto reply;
        }
        if ((st = srv_stream_new(s, c->app, c->key)) == NULL) {
            r = CIR_RTMP_PUBLISH_BAD_NAME;
            goto reply;
        }
    } else {
        uv_timer_stop(&st->grace);
        cir_log_info(&c->log, "publisher is back: continuing the stream");
        resumed = 1;
    }
    st->publisher = c;
    st->protocol = c->tls != NULL ? "rtmps" : "rtmp";
    c->stream = st;
    c->publishing = 1;
    cir_log_info(&c->log, "%s: publishing", c->peer);
    srv_webhook_send(s, "publish",
                     json_pack("{s:s, s:s, s:s, s:b}", "app", c->app->cfg.name,
                               "key", c->key, "addr", c->peer, "resumed",
                               resumed));
reply:
    if (cir_rtmp_conn_publish_reply(c->rtmp, r) < 0) {
        srv_conn_close(c);
        return;
    }
    conn_flush(c);
}

static int
on_publish(void *opaque, const char *key, const char *query)
{
    conn_t *c = opaque;
    cir_ingest_t *s = c->srv;
    snprintf(c->key, sizeof(c->key), "%s", key);
    c->log.stream = c->key;
    c->log.app = c->app->cfg.name;
    if (!srv_key_file_allows(s, c->app, key)) {
        srv_publish_decided(c, 0);
        return 0;
    }
    if (c->app->cfg.on_publish_url[0] != '\0') {
        if (srv_start_http_auth(c, query) < 0) {
            srv_publish_decided(c, 0);
        }
        return 0;
    }
    srv_publish_decided(c, 1);
    return 0;
}

/* The connect's application: one of the configured, or refused. */
static int
on_connect(void *opaque, const char *app)
{
    conn_t *c = opaque;
    char what[128];

    if ((c->app = srv_app_find(c->srv, app)) == NULL) {
        snprintf(what, sizeof(what), "%s: RTMP connect", c->peer);
        srv_app_refused(c->srv, app, what);
        return 1;
    }
    return 0;
}

static int
on_metadata(void *opaque, const cir_amf_t *meta)
{
    conn_t *c = opaque;
    stream_t *st = c->stream;

    if (st == NULL) {
        return 0;
    }
    srv_push_metadata(st, meta);
    st->expect_video = cir_amf_get(meta, "videocodecid") != NULL;
    st->expect_audio = cir_amf_get(meta, "audiocodecid") != NULL;
    if (!st->expect_video && !st->expect_audio) {
        st->expect_video = st->expect_audio = 1; /* says nothing */
    }
    st->width = (int)cir_amf_get_number(meta, "width", 0);
    st->height = (int)cir_amf_get_number(meta, "height", 0);
    if (st->width < 0 || st->width > 16384 || st->height < 0 ||
        st->height > 16384) {
        st->width = st->height = 0;
    }
    st->frame_rate = cir_amf_get_number(meta, "framerate", 0);
    if (!(st->frame_rate > 0 && st->frame_rate <= 240)) {
        st->frame_rate = 0;
    }
    st->video_kbps = cir_amf_get_number(meta, "videodatarate", 0);
    st->audio_kbps = cir_amf_get_number(meta, "audiodatarate", 0);
    if (!(st->video_kbps >= 0 && st->video_kbps < 1e6)) {
        st->video_kbps = 0;
    }
    if (!(st->audio_kbps >= 0 && st->audio_kbps < 1e5)) {
        st->audio_kbps = 0;
    }
    return 0;
}

static int
on_media(void *opaque, int video, uint32_t ts, const uint8_t *p, size_t n)
{
    conn_t *c = opaque;
    stream_t *st = c->stream;
    cir_flv_tag_t t;
    int ret;

    if (st == NULL) {
        return 0;
    }
    st->bytes += n;
    st->win_bytes += n;
    if ((ret = video ? cir_flv_parse_video(p, n, &t)
                     : cir_flv_parse_audio(p, n, &t)) < 0) {
        cir_log_debug(&st->log, "skipping a malformed %s tag",
                      video ? "video" : "audio");
        st->dropped += video;
        return 0;
    }
    srv_push_media(st, video, ts, p, n, &t); /* as it came */
    switch (t.packet) {
    case CIR_FLV_SEQUENCE_START:
        if (srv_codec_id(t.codec) == AV_CODEC_ID_NONE) {
            return 0;
        }
        return srv_on_sequence_header(st, video, &t);
    case CIR_FLV_CODED_FRAMES:
        if (video) {
            st->frames++;
            st->win_frames++;
        }
        return srv_on_frame(st, video, ts, &t);
    default:
        return 0;
    }
}

static void
on_unpublish(void *opaque)
{
    conn_t *c = opaque;

    if (c->stream != NULL && c->stream->publisher == c) {
        /* a clean stop: ENDLIST now, no grace period */
        cir_log_info(&c->log, "unpublished: ending the stream");
        c->stream->end_reason = "unpublished";
        c->stream->publisher = NULL;
        srv_try_configure(c->stream, 1); /* a short stream still publishes */
        srv_stream_end(c->stream);
    }
    c->stream = NULL;
    c->publishing = 0;
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;

    (void)suggested;
    /* one buffer for the loop: the bytes are parsed before the next read */
    *buf = uv_buf_init((char *)c->srv->readbuf, READ_BUF);
}

/* Whether to log what a limit did now: the first time, then at most a
 * line a second with the count of those not logged (a flood of sockets
 * must not flood the log).  *skipped: how many were not logged. */
static int
limit_log_now(cir_ingest_t *s, uint64_t *skipped)
{
    int64_t now = srv_now_us();

    if (s->limit_logged_us != 0 && now - s->limit_logged_us < 1000000) {
        s->limit_unlogged++;
        return 0;
    }
    *skipped = s->limit_unlogged;
    s->limit_unlogged = 0;
    s->limit_logged_us = now;
    return 1;
}

/* The connection that has not published holding the most buffered
 * bytes, or NULL. */
static conn_t *
largest_waiting_holder(cir_ingest_t *s)
{
    conn_t *best = NULL;

    for (conn_t *x = s->conns; x != NULL; x = x->next) {
        if (!x->publishing && x->buffered > 0 &&
            (best == NULL || x->buffered > best->buffered)) {
            best = x;
        }
    }
    return best;
}

/* Adds what the last read made c buffer to the server's total; over
 * max_buffered_bytes, connections that have not published go first
 * (largest first), then c itself.  -1: c was closed. */
static int
account_buffered(conn_t *c)
{
    cir_ingest_t *s = c->srv;
    uint64_t now = cir_rtmp_conn_buffered_bytes(c->rtmp), skipped = 0;
    conn_t *victim;

    s->buffered += now - c->buffered;
    c->buffered = now;
    while (s->buffered > (uint64_t)s->cfg.max_buffered_bytes) {
        victim = largest_waiting_holder(s);
        if (victim == NULL) {
            victim = c;
        }
        s->closed_over_buffered++;
        if (limit_log_now(s, &skipped)) {
            cir_log_warn(&victim->log,
                         "%s: %llu bytes buffered over all connections, over "
                         "max_buffered_bytes (this one holds %llu, %s): "
                         "closing (%llu more connection limit events since "
                         "the last line)",
                         victim->peer, (unsigned long long)s->buffered,
                         (unsigned long long)victim->buffered,
                         victim->publishing ? "publishing" : "not publishing",
                         (unsigned long long)skipped);
        }
        srv_conn_close(victim);
        if (victim == c) {
            return -1;
        }
    }
    return 0;
}

static int
feed_rtmp(conn_t *c, const uint8_t *p, size_t n)
{
    return cir_rtmp_conn_feed(c->rtmp, p, n);
}

static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = stream->data;
    cir_ingest_t *s = c->srv;
    int ret;

    if (nread < 0) {
        if (nread != UV_EOF) {
            cir_log_debug(&c->log, "%s: %s", c->peer, uv_strerror((int)nread));
        }
        srv_conn_close(c);
        return;
    }
    if (nread == 0 || c->closing) {
        return;
    }
    c->last_read_us = srv_now_us();
    c->rate_bytes += (uint64_t)nread;
    if (c->tls != NULL) {
        ret = srv_tls_read(c, (const uint8_t *)buf->base, (size_t)nread,
                           feed_rtmp);
        if (ret == CIR_EPARSE && !cir_rtmp_conn_handshake_done(c->rtmp)) {
            /* (logged by tls.c: not TLS, or a failed handshake) */
            conn_flush(c); /* the alert */
            srv_conn_close(c);
            return;
        }
    } else {
        ret = feed_rtmp(c, (const uint8_t *)buf->base, (size_t)nread);
    }
    if (ret < 0 && ret != CIR_ECANCELED) {
        cir_log_warn(&c->log, "%s: %s%s: closing", c->peer, cir_strerror(ret),
                     ret != CIR_ELIMIT ? ""
                     : c->publishing   ? " (max_message_size, max_chunk_size)"
                                       : " (max_message_size_before_publish, "
                                         "max_chunk_size)");
        srv_conn_close(c);
        return;
    }
    if (account_buffered(c) < 0) {
        return; /* closed */
    }
    conn_flush(c);
    if (c->closing) {
        return;
    }
    if (s->cfg.max_bytes_per_second > 0 &&
        c->rate_bytes > (uint64_t)s->cfg.max_bytes_per_second) {
        /* over the rate: stop reading until the second is over */
        uv_read_stop(stream);
        c->paused = 1;
    }
}

static void
conn_tick(uv_timer_t *t)
{
    conn_t *c = t->data;
    cir_ingest_config_t *cfg = &c->srv->cfg;
    int64_t now = srv_now_us();
    const char *why = NULL;

    if (now - c->rate_start_us >= 1000000) {
        c->rate_start_us = now;
        c->rate_bytes = 0;
        if (c->paused && !c->closing) {
            c->paused = 0;
            uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
        }
    }
    if (!cir_rtmp_conn_handshake_done(c->rtmp) &&
        now - c->accepted_us > (int64_t)(cfg->handshake_timeout * 1e6)) {
        why = "handshake timeout";
    } else if (!c->publishing && c->auth == NULL &&
               now - c->accepted_us > (int64_t)(cfg->publish_timeout * 1e6)) {
        why = "not publishing";
    } else if (!c->paused &&
               now - c->last_read_us > (int64_t)(cfg->idle_timeout * 1e6)) {
        why = "idle timeout";
    }
    if (why != NULL) {
        cir_log_info(&c->log, "%s: %s: closing", c->peer, why);
        srv_conn_close(c);
    }
}

/* c->peer ("ip:port") and c->addr ("ip") from the socket. */
static void
name_peer(conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    snprintf(c->peer, sizeof(c->peer), "?");
    snprintf(c->addr, sizeof(c->addr), "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) {
        return;
    }
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->addr, sizeof(c->addr));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%d", c->addr,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, c->addr, sizeof(c->addr));
        snprintf(c->peer, sizeof(c->peer), "%s:%d", c->addr,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
}

/* The oldest connection (from addr, or from anywhere when addr is NULL)
 * that neither publishes nor waits for a publish callback, or NULL. */
static conn_t *
oldest_idle(cir_ingest_t *s, const char *addr, size_t *from_addr)
{
    conn_t *best = NULL;

    *from_addr = 0;
    for (conn_t *x = s->conns; x != NULL; x = x->next) {
        if (addr != NULL && strcmp(x->addr, addr) != 0) {
            continue;
        }
        (*from_addr)++;
        if (!x->publishing && x->auth == NULL &&
            (best == NULL || x->accepted_us < best->accepted_us)) {
            best = x;
        }
    }
    return best;
}

/* Closes an idle connection for the new one c at a limit. */
static int
evict_for(conn_t *c, conn_t *victim, const char *limit)
{
    cir_ingest_t *s = c->srv;
    uint64_t skipped = 0;

    if (victim == NULL) {
        s->refused++;
        if (limit_log_now(s, &skipped)) {
            cir_log_warn(&c->log,
                         "%s: %s reached and every connection publishes or "
                         "is being authorized: refusing (%llu more connection "
                         "limit events since the last line)",
                         c->peer, limit, (unsigned long long)skipped);
        }
        return 0;
    }
    s->closed_for_room++;
    if (limit_log_now(s, &skipped)) {
        cir_log_warn(&victim->log,
                     "%s: %s reached: closing this connection, %.1f s old "
                     "and not publishing, for %s (%llu more connection limit "
                     "events since the last line)",
                     victim->peer, limit,
                     (double)(srv_now_us() - victim->accepted_us) / 1e6,
                     c->peer, (unsigned long long)skipped);
    }
    srv_conn_close(victim);
    return 1;
}

/*
 * Room for the new connection c: at max_connections_per_address (its
 * address) or max_connections (anywhere) the oldest connection that has
 * not published goes, so idle or slow sockets can never lock a publisher
 * out (they would otherwise hold their slots until their timeouts); only
 * when every connection publishes or is being authorized is c refused.
 * 1: room made, 0: refused.
 */
static int
make_room(cir_ingest_t *s, conn_t *c)
{
    size_t n;
    conn_t *victim = oldest_idle(s, c->addr, &n);

    if (n >= (size_t)s->cfg.max_connections_per_address &&
        !evict_for(c, victim, "max_connections_per_address")) {
        return 0;
    }
    if (s->nconns >= (size_t)s->cfg.max_connections) {
        victim = oldest_idle(s, NULL, &n);
        if (!evict_for(c, victim, "max_connections")) {
            return 0;
        }
    }
    return 1;
}

static void accept_conn(uv_stream_t *server, int status, int tls);

void
srv_on_connection(uv_stream_t *server, int status)
{
    accept_conn(server, status, 0);
}

void
srv_on_tls_connection(uv_stream_t *server, int status)
{
    accept_conn(server, status, 1);
}

static void
accept_conn(uv_stream_t *server, int status, int tls)
{
    cir_ingest_t *s = server->data;
    cir_rtmp_handler_t h = {on_publish,   on_metadata, on_media,
                            on_unpublish, NULL,        on_connect};
    uint8_t rnd[1528];
    conn_t *c;

    if (status < 0) {
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return;
    }
    c->srv = s;
    uv_tcp_init(&s->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return;
    }
    name_peer(c);
    c->log = (cir_log_ctx_t){.component = "rtmp"};
    if (s->stopping || !make_room(s, c)) {
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        memset(rnd, 0x5a, sizeof(rnd));
    }
    h.opaque = c;
    if (cir_rtmp_conn_new(&c->rtmp, &s->lim, &h,
                          (uint32_t)(srv_now_us() / 1000), rnd, OUT_MAX) < 0 ||
        (tls && srv_tls_conn_new(c) < 0)) {
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return;
    }
    c->accepted_us = c->last_read_us = c->rate_start_us = srv_now_us();
    uv_timer_init(&s->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    uv_timer_start(&c->timer, conn_tick, TICK_MS, TICK_MS);
    c->next = s->conns;
    if (c->next != NULL) {
        c->next->pprev = &c->next;
    }
    c->pprev = &s->conns;
    s->conns = c;
    s->nconns++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    cir_log_debug(&c->log, "%s: connected", c->peer);
}
