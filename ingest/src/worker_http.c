/*
 * cirrus-worker's status HTTP port (cir_worker_http.h): a thread accepting
 * one connection at a time; requests parsed by http_parser, bounded in size
 * and time; answers from the dispatcher.
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
    size_t url_len;
    int too_long, complete;
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
on_headers_complete(http_parser *p)
{
    parse_state_t *s = p->data;

    s->complete = 1;
    s->req->get = p->method == HTTP_GET;
    return 0;
}

int
cir_worker_http_parse(const char *buf, size_t len,
                      cir_worker_http_request_t *req)
{
    http_parser_settings settings;
    http_parser parser;
    parse_state_t s = {.req = req};

    memset(req, 0, sizeof(*req));
    http_parser_settings_init(&settings);
    settings.on_url = on_url;
    settings.on_headers_complete = on_headers_complete;
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &s;
    http_parser_execute(&parser, &settings, buf, len);
    if (s.too_long) {
        return CIR_ELIMIT;
    }
    if (s.complete) {
        return 1; /* a body, if any, is not read */
    }
    return HTTP_PARSER_ERRNO(&parser) == HPE_OK ? 0 : CIR_EPARSE;
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

/* An error of the request itself: its status and body. */
static int
request_error(int err, cir_buf_t *body)
{
    switch (err) {
    case CIR_ELIMIT:
        cir_buf_puts(body, "request too large\n");
        return 431;
    case CIR_ETRANSIENT:
        cir_buf_puts(body, "request timeout\n");
        return 408;
    default:
        cir_buf_puts(body, "bad request\n");
        return 400;
    }
}

/* ---- the connection ----------------------------------------------------- */

static int64_t
mono_ms(void)
{
    return cir_clock_mono_us(cir_clock_system()) / 1000;
}

/* Reads one request within the configured size and time: 1, 0 when the
 * peer went away, or an error (CIR_ELIMIT, CIR_EPARSE, CIR_ETRANSIENT for
 * a timeout). */
static int
read_request(cir_worker_http_t *h, int fd, cir_worker_http_request_t *req)
{
    int64_t deadline = mono_ms() + h->cfg.timeout_ms;
    size_t got = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - mono_ms();
        ssize_t r;
        int ret;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            return CIR_ETRANSIENT;
        }
        if (got == h->cfg.max_request) {
            return CIR_ELIMIT;
        }
        r = recv(fd, h->req + got, h->cfg.max_request - got, 0);
        if (r <= 0) {
            return got == 0 ? 0 : CIR_EPARSE;
        }
        got += (size_t)r;
        if ((ret = cir_worker_http_parse(h->req, got, req)) != 0) {
            return ret;
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

    shutdown(fd, SHUT_WR);
    while (dropped < 16 * sizeof(sink)) {
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

static void
serve_one(cir_worker_http_t *h, int fd)
{
    cir_worker_http_request_t req;
    cir_buf_t body, head;
    const char *type = "text/plain; version=0.0.4";
    struct timeval tv = {h->cfg.timeout_ms / 1000,
                         (h->cfg.timeout_ms % 1000) * 1000};
    int status, ret;

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if ((ret = read_request(h, fd, &req)) == 0) {
        return;
    }
    cir_buf_init(&body, BODY_MAX);
    cir_buf_init(&head, 1024);
    status = ret == 1 ? cir_worker_http_answer(h->d, &req, &body, &type)
                      : request_error(ret, &body);
    cir_buf_printf(&head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                   "%zu\r\nConnection: close\r\n\r\n",
                   status, status == 200 ? "OK" : "Error", type, body.len);
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
        (h->req = malloc(cfg->max_request)) == NULL) {
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
