/*
 * cirrus-worker's status HTTP port (cir_worker_http.h): a thread accepting
 * one connection at a time; requests parsed by http_parser, bounded in size
 * and time; answers from the dispatcher, or from a handler (the job API,
 * which reads request bodies).  Tested by tests/unit/test_worker_http.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_worker_http.h"

#define BODY_MAX (1 << 20)

struct cir_worker_http {
    cir_worker_http_config_t cfg;
    cir_dispatch_t *d;
    char *req;
    int fd;
    atomic_int stop;
    pthread_t thread;
};

/* ---- parsing ------------------------------------------------------------ */

typedef struct {
    cir_worker_http_request_t *req;
    size_t url_len, max_body;
    char field[32];   /* the header name being read, lower case */
    char *value;      /* where its value goes, NULL: not kept */
    size_t value_len; /* of value so far */
    int in_value, too_long, too_large, chunked_body, complete;
} parse_state_t;

static int
on_url(http_parser *p, const char *at, size_t len)
{
    parse_state_t *s = p->data;

    if (s->url_len + len >= sizeof(s->req->url)) {
        s->too_long = 1;
        return 1;
    }
    memcpy(s->req->url + s->url_len, at, len);
    s->url_len += len;
    s->req->url[s->url_len] = '\0';
    return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
    parse_state_t *s = p->data;
    size_t n = s->in_value ? 0 : strlen(s->field);

    s->in_value = 0;
    s->value = NULL;
    for (size_t i = 0; i < len; i++, n++) {
        if (n + 1 < sizeof(s->field)) {
            s->field[n] =
                (char)(at[i] >= 'A' && at[i] <= 'Z' ? at[i] + 32 : at[i]);
        }
    }
    s->field[n + 1 < sizeof(s->field) ? n : sizeof(s->field) - 1] = '\0';
    return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
    parse_state_t *s = p->data;

    if (!s->in_value) {
        s->in_value = 1;
        s->value_len = 0;
        s->value =
            strcmp(s->field, "authorization") == 0     ? s->req->authorization
            : strcmp(s->field, "idempotency-key") == 0 ? s->req->idempotency_key
                                                       : NULL;
    }
    if (s->value == NULL) {
        return 0;
    }
    if (s->value_len + len >= CIR_WORKER_HTTP_HEADER_MAX) {
        s->too_long = 1;
        return 1;
    }
    memcpy(s->value + s->value_len, at, len);
    s->value_len += len;
    s->value[s->value_len] = '\0';
    return 0;
}

static int
on_headers_complete(http_parser *p)
{
    parse_state_t *s = p->data;

    s->req->headers_done = 1;
    s->req->get = p->method == HTTP_GET;
    s->req->method = (int)p->method;
    if (s->max_body == 0) {
        s->complete = 1;
        return 1; /* a body, if any, is not read */
    }
    if ((p->flags & F_CHUNKED) != 0) {
        s->chunked_body = 1;
        return 1;
    }
    if ((p->flags & F_CONTENTLENGTH) != 0 && p->content_length > s->max_body) {
        s->too_large = 1;
        return 1;
    }
    return 0;
}

/* With Content-Length, the parsed buffer holds the body in one piece. */
static int
on_body(http_parser *p, const char *at, size_t len)
{
    parse_state_t *s = p->data;

    if (s->req->body == NULL) {
        s->req->body = at;
    }
    s->req->body_len = (size_t)(at + len - s->req->body);
    return 0;
}

static int
on_message_complete(http_parser *p)
{
    parse_state_t *s = p->data;

    s->complete = 1;
    return 0;
}

int
cir_worker_http_parse_body(const char *buf, size_t len, size_t max_body,
                           cir_worker_http_request_t *req)
{
    http_parser_settings settings;
    http_parser parser;
    parse_state_t s = {.req = req, .max_body = max_body};

    memset(req, 0, sizeof(*req));
    http_parser_settings_init(&settings);
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &s;
    http_parser_execute(&parser, &settings, buf, len);
    if (s.too_long) {
        return CIR_ELIMIT;
    }
    if (s.chunked_body) {
        return CIR_EUNSUPPORTED;
    }
    if (s.too_large) {
        return 2;
    }
    if (s.complete) {
        return 1;
    }
    return HTTP_PARSER_ERRNO(&parser) == HPE_OK ? 0 : CIR_EPARSE;
}

int
cir_worker_http_parse(const char *buf, size_t len,
                      cir_worker_http_request_t *req)
{
    return cir_worker_http_parse_body(buf, len, 0, req);
}

/* ---- answers ------------------------------------------------------------ */

/* The dispatcher's loop turns at least every few seconds (an SQS long
 * poll is 20 s at most): past this it is stuck. */
#define LOOP_STUCK_US (60 * 1000000LL)
/* The intake's calls failing this many times in a row: not ready. */
#define INTAKE_FAILURES_NOT_READY 3

/* /healthz: the dispatcher's loop turns (a stuck one is restarted by the
 * orchestrator); /readyz: it is claiming jobs and its intake answers. */
static int
probe_answer(cir_dispatch_t *d, int ready_probe, cir_buf_t *body)
{
    cir_dispatch_health_t h;
    const char *status = "ok";
    int code = 200;
    json_t *o;
    char *text;

    cir_dispatch_health(d, &h);
    if (h.loop_age_us > LOOP_STUCK_US) {
        status = "stuck";
        code = 503;
    } else if (ready_probe && h.stopping) {
        status = "stopping";
        code = 503;
    } else if (ready_probe && !h.running) {
        status = "starting";
        code = 503;
    } else if (ready_probe && h.intake_failures >= INTAKE_FAILURES_NOT_READY) {
        status = "intake failing";
        code = 503;
    } else if (ready_probe) {
        status = "ready";
    }
    o = json_pack("{s:s, s:b, s:b, s:f, s:i, s:s?}", "status", status,
                  "running", h.running, "stopping", h.stopping,
                  "loop_age_seconds",
                  h.loop_age_us < 0 ? -1.0 : (double)h.loop_age_us / 1e6,
                  "intake_failures", h.intake_failures, "intake_error",
                  h.intake_error[0] ? h.intake_error : NULL);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL || cir_buf_puts(body, text) < 0 ||
        cir_buf_puts(body, "\n") < 0) {
        free(text);
        return 500;
    }
    free(text);
    return code;
}

int
cir_worker_http_answer(cir_dispatch_t *d, const cir_worker_http_request_t *req,
                       cir_buf_t *body, const char **type)
{
    *type = "text/plain; version=0.0.4";
    if (!req->get) {
        cir_buf_puts(body, "GET only\n");
        return 405;
    }
    if (strcmp(req->url, "/healthz") == 0 || strcmp(req->url, "/readyz") == 0) {
        *type = "application/json";
        return probe_answer(d, strcmp(req->url, "/readyz") == 0, body);
    }
    if (strcmp(req->url, "/metrics") == 0) {
        return cir_dispatch_render_metrics(d, body) < 0 ? 500 : 200;
    }
    if (strcmp(req->url, "/jobs") == 0) {
        *type = "application/json";
        return cir_dispatch_render_jobs(d, body) < 0 ? 500 : 200;
    }
    cir_buf_puts(body, "not found\n");
    return 404;
}

/* An error of the request itself: its status and body (JSON, {"error"},
 * on the job API's port). */
static int
request_error(int err, cir_worker_http_answer_t *ans, int json)
{
    const char *msg;
    int status;

    switch (err) {
    case CIR_ELIMIT:
        msg = "request too large", status = 431;
        break;
    case CIR_ETRANSIENT:
        msg = "request timeout", status = 408;
        break;
    case CIR_EUNSUPPORTED:
        msg = "chunked bodies are not read: send Content-Length";
        status = 411;
        break;
    case 2:
        msg = "request body too large", status = 413;
        break;
    default:
        msg = "bad request", status = 400;
        break;
    }
    if (json) {
        ans->type = "application/json";
        cir_buf_printf(ans->body, "{\"error\":\"%s\"}\n", msg);
    } else {
        cir_buf_printf(ans->body, "%s\n", msg);
    }
    return status;
}

/* ---- the connection ----------------------------------------------------- */

static int64_t
mono_ms(void)
{
    return cir_clock_mono_us(cir_clock_system()) / 1000;
}

/* Reads one request within the configured size and time: 1, 0 when the
 * peer went away, 2 for a body over max_body, or an error (CIR_ELIMIT,
 * CIR_EPARSE, CIR_EUNSUPPORTED, CIR_ETRANSIENT for a timeout). */
static int
read_request(cir_worker_http_t *h, int fd, cir_worker_http_request_t *req)
{
    int64_t deadline = mono_ms() + h->cfg.timeout_ms;
    size_t got = 0, cap = h->cfg.max_request + h->cfg.max_body;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - mono_ms();
        ssize_t r;
        int ret;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            return CIR_ETRANSIENT;
        }
        if (got == cap) {
            return CIR_ELIMIT;
        }
        r = recv(fd, h->req + got, cap - got, 0);
        if (r <= 0) {
            return got == 0 ? 0 : CIR_EPARSE;
        }
        got += (size_t)r;
        ret = cir_worker_http_parse_body(h->req, got, h->cfg.max_body, req);
        if (ret != 0) {
            return ret;
        }
        if (!req->headers_done && got >= h->cfg.max_request) {
            return CIR_ELIMIT; /* the request line and headers alone */
        }
    }
}

/* Lingering close after a bad request: the answer is sent; what the peer
 * still sends (the rest of a request that was too large) is read and dropped,
 * bounded in bytes and time, so closing does not reset the connection before
 * the peer has read the answer. */
static void
linger(cir_worker_http_t *h, int fd)
{
    int64_t deadline = mono_ms() + h->cfg.timeout_ms;
    size_t dropped = 0;
    char sink[4096];
    /* a body refused as too large is read too, up to a bound */
    size_t bound = 16 * sizeof(sink) + 4 * h->cfg.max_body;

    shutdown(fd, SHUT_WR);
    while (dropped < bound) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - mono_ms();
        ssize_t r;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0 ||
            (r = recv(fd, sink, sizeof(sink), 0)) <= 0) {
            break;
        }
        dropped += (size_t)r;
    }
}

static const char *
reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 502:
        return "Bad Gateway";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return status < 400 ? "OK" : "Error";
    }
}

static int
answer(cir_worker_http_t *h, const cir_worker_http_request_t *req,
       cir_worker_http_answer_t *ans)
{
    if (h->cfg.handler) {
        return h->cfg.handler(h->cfg.handler_ctx, req, ans);
    }
    return cir_worker_http_answer(h->d, req, ans->body, &ans->type);
}

static void
serve_one(cir_worker_http_t *h, int fd)
{
    cir_worker_http_request_t req;
    cir_buf_t body, head;
    cir_worker_http_answer_t ans = {.body = &body,
                                    .type = "text/plain; version=0.0.4"};
    struct timeval tv = {h->cfg.timeout_ms / 1000,
                         (h->cfg.timeout_ms % 1000) * 1000};
    int status, ret;

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if ((ret = read_request(h, fd, &req)) == 0) {
        return;
    }
    cir_buf_init(&body, BODY_MAX);
    cir_buf_init(&head, 2048);
    status = ret == 1 ? answer(h, &req, &ans)
                      : request_error(ret, &ans, h->cfg.handler != NULL);
    cir_buf_printf(&head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                   "%zu\r\nConnection: close\r\n",
                   status, reason(status), ans.type, body.len);
    if (ans.location[0]) {
        cir_buf_printf(&head, "Location: %s\r\n", ans.location);
    }
    if (status == 401) {
        cir_buf_puts(&head, "WWW-Authenticate: Bearer\r\n");
    }
    cir_buf_puts(&head, "\r\n");
    if (send(fd, head.data, head.len, MSG_NOSIGNAL) >= 0 && body.len) {
        (void)send(fd, body.data, body.len, MSG_NOSIGNAL);
    }
    cir_buf_free(&body);
    cir_buf_free(&head);
    if (ret != 1) {
        linger(h, fd); /* the request may not have been read to its end */
    }
}

static void *
http_main(void *arg)
{
    cir_worker_http_t *h = arg;

    while (!atomic_load(&h->stop)) {
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        int c = accept(h->fd, NULL, NULL);
        if (c >= 0) {
            serve_one(h, c);
            close(c);
        }
    }
    return NULL;
}

static int
bind_listen(cir_worker_http_t *h, int *bound)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int one = 1;

    sa.sin_port = htons((uint16_t)(h->cfg.port < 0 ? 0 : h->cfg.port));
    if (inet_pton(AF_INET, h->cfg.listen, &sa.sin_addr) != 1) {
        return CIR_EINVAL;
    }
    if ((h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        return -errno;
    }
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(h->fd, 16) < 0 ||
        getsockname(h->fd, (struct sockaddr *)&sa, &len) < 0) {
        return -errno;
    }
    *bound = ntohs(sa.sin_port);
    return 0;
}

int
cir_worker_http_start(cir_worker_http_t **out,
                      const cir_worker_http_config_t *cfg, cir_dispatch_t *d,
                      int *bound)
{
    cir_worker_http_t *h;
    int ret;

    *out = NULL;
    if (cfg->listen == NULL || cfg->max_request < 64 || cfg->timeout_ms < 1) {
        return CIR_EINVAL;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL ||
        (h->req = malloc(cfg->max_request + cfg->max_body)) == NULL) {
        free(h);
        return CIR_ENOMEM;
    }
    h->cfg = *cfg;
    h->d = d;
    h->fd = -1;
    if ((ret = bind_listen(h, bound)) < 0) {
        goto fail;
    }
    if (pthread_create(&h->thread, NULL, http_main, h) != 0) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    *out = h;
    return 0;
fail:
    if (h->fd >= 0) {
        close(h->fd);
    }
    free(h->req);
    free(h);
    return ret;
}

void
cir_worker_http_stop(cir_worker_http_t **ph)
{
    cir_worker_http_t *h = *ph;

    if (h == NULL) {
        return;
    }
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    close(h->fd);
    free(h->req);
    free(h);
    *ph = NULL;
}
