/*
 * The status endpoint: the streams as JSON, on a port of its own.
 *
 * An adapter on libuv: tested through tests/integration/ingest.test.mjs
 * (/streams, /metrics with a Prometheus parser).
 */

#include "server_internal.h"

/* ---- status HTTP ---------------------------------------------------------
 */

typedef struct {
    uv_tcp_t tcp;
    cir_ingest_t *srv;
    char req[2048];
    size_t len;
    int answered;
} http_conn_t;

static void
http_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
http_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    http_conn_t *hc = h->data;

    (void)suggested;
    *buf = uv_buf_init(hc->req + hc->len,
                       (unsigned)(sizeof(hc->req) - 1 - hc->len));
}

static void
http_written(uv_write_t *req, int status)
{
    http_conn_t *hc = req->data;

    (void)status;
    free(req);
    if (!uv_is_closing((uv_handle_t *)&hc->tcp)) {
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
    }
}

void
srv_stream_info(stream_t *st, cir_ingest_stream_info_t *i, int64_t now)
{
    memset(i, 0, sizeof(*i));
    i->app = st->app->cfg.name;
    i->key = st->key;
    i->publishing = st->publisher != NULL || st->srt_publisher != NULL;
    i->protocol = st->protocol;
    i->uptime = (double)(now - st->start_us) / 1e6;
    i->bitrate = st->bitrate;
    i->fps = st->fps;
    i->video_codec = st->vpar ? avcodec_get_name(st->vpar->codec_id) : NULL;
    i->audio_codec = st->apar ? avcodec_get_name(st->apar->codec_id) : NULL;
    i->width = st->width;
    i->height = st->height;
    i->bytes = st->bytes;
    i->frames = st->frames;
    i->dropped = st->dropped;
    i->base_url = st->app->cfg.public_base_url;
    srv_push_info(st, &i->push, &i->npush);
    uv_mutex_lock(&st->pipe.mu);
    if (st->pipe.live != NULL) {
        i->live = cir_onair_stats(st->pipe.live);
    }
    uv_mutex_unlock(&st->pipe.mu);
}

static size_t
stream_infos(cir_ingest_t *s, cir_ingest_stream_info_t **out)
{
    cir_ingest_stream_info_t *v = calloc(s->nstreams + 1, sizeof(*v));
    size_t n = 0;
    int64_t now = srv_now_us();

    if (v == NULL) {
        *out = NULL;
        return 0;
    }
    for (stream_t *st = s->streams; st != NULL; st = st->next) {
        srv_stream_info(st, &v[n++], now);
    }
    *out = v;
    return n;
}

/* Probes of an orchestrator (Kubernetes, ECS, a load balancer): /healthz
 * is answered by the event loop itself, so an answer means it turns;
 * /readyz says whether publishers are taken (not while shutting down).
 * 1 when path is one of them (body and code set). */
static int
probe_answer(const cir_ingest_t *s, const char *path, char **body, int *code)
{
    if (strcmp(path, "/healthz") == 0) {
        *code = 200;
        *body = strdup("{\"status\":\"ok\"}\n");
        return 1;
    }
    if (strcmp(path, "/readyz") == 0) {
        *code = s->stopping ? 503 : 200;
        *body = strdup(s->stopping ? "{\"status\":\"stopping\"}\n"
                                   : "{\"status\":\"ready\"}\n");
        return 1;
    }
    return 0;
}

static void
http_respond(http_conn_t *hc)
{
    char path[256] = "/", head[256];
    const char *ctype = "text/plain";
    char *body = NULL;
    int code = 400, hl;
    cir_ingest_stream_info_t *infos = NULL;
    size_t n, blen;
    uv_write_t *w;
    uv_buf_t bufs[2];
    char *all;

    hc->answered = 1;
    if (strncmp(hc->req, "GET ", 4) == 0) {
        size_t k = strcspn(hc->req + 4, " ?\r\n");
        if (k < sizeof(path)) {
            memcpy(path, hc->req + 4, k);
            path[k] = '\0';
        }
        if (k < sizeof(path) && probe_answer(hc->srv, path, &body, &code)) {
            ctype = "application/json";
        } else if (k < sizeof(path)) {
            n = stream_infos(hc->srv, &infos);
            cir_ingest_server_stats_t st = {
                .connections = hc->srv->nconns,
                .buffered_bytes = hc->srv->buffered,
                .closed_for_room = hc->srv->closed_for_room,
                .closed_over_buffered = hc->srv->closed_over_buffered,
                .refused = hc->srv->refused,
                .refused_unknown_app =
                    atomic_load(&hc->srv->refused_unknown_app),
                .refused_key = atomic_load(&hc->srv->refused_key),
                .webhooks_delivered = hc->srv->webhooks_delivered,
                .webhooks_failed = hc->srv->webhooks_failed,
                .webhooks_dropped = hc->srv->webhooks_dropped};
            srv_srt_stats(hc->srv, &st);
            code = cir_ingest_status_render(path, infos, n, &st, &body, &ctype);
            for (size_t i = 0; i < n; i++) {
                json_decref(infos[i].live);
            }
            free(infos);
        }
    } else {
        code = 405;
    }
    if (body == NULL) {
        body = strdup(code == 405 ? "method not allowed\n" : "bad request\n");
    }
    blen = body ? strlen(body) : 0;
    hl = snprintf(head, sizeof(head),
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                  "%zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                  code, code == 200 ? "OK" : "Error", ctype, blen);
    w = malloc(sizeof(*w) + (size_t)hl + blen);
    if (w == NULL) {
        free(body);
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
        return;
    }
    all = (char *)(w + 1);
    memcpy(all, head, (size_t)hl);
    if (blen) {
        memcpy(all + hl, body, blen);
    }
    free(body);
    bufs[0] = uv_buf_init(all, (unsigned)((size_t)hl + blen));
    w->data = hc;
    if (uv_write(w, (uv_stream_t *)&hc->tcp, bufs, 1, http_written) < 0) {
        free(w);
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
    }
}

static void
http_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    http_conn_t *hc = stream->data;

    (void)buf;
    if (hc->answered) {
        return;
    }
    if (nread < 0) {
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
        return;
    }
    hc->len += (size_t)nread;
    hc->req[hc->len] = '\0';
    if (strstr(hc->req, "\r\n\r\n") != NULL || strstr(hc->req, "\n\n")) {
        uv_read_stop(stream);
        http_respond(hc);
    } else if (hc->len >= sizeof(hc->req) - 1) {
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
    }
}

void
srv_on_status_connection(uv_stream_t *server, int status)
{
    cir_ingest_t *s = server->data;
    http_conn_t *hc;

    if (status < 0 || (hc = calloc(1, sizeof(*hc))) == NULL) {
        return;
    }
    hc->srv = s;
    uv_tcp_init(&s->loop, &hc->tcp);
    hc->tcp.data = hc;
    if (uv_accept(server, (uv_stream_t *)&hc->tcp) < 0) {
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&hc->tcp, http_alloc, http_read);
}
