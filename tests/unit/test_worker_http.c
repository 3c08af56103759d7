/*
 * cirrus-worker's status HTTP port (worker_http.c): requests parsed by
 * http_parser (complete, partial, not HTTP, URL too long), the routes
 * (/metrics, /jobs, 404, 405), and over a real loopback socket the bounds:
 * a request over max_request bytes gets 431, one not complete in time 408;
 * bodies and the job API's headers (Content-Length, over max_body: 413;
 * chunked: refused), a handler's answer with its Location.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <http_parser.h>

#include "cir_clock.h"
#include "cir_dispatch.h"
#include "cir_error.h"
#include "cir_preset.h"
#include "cir_worker_http.h"

static int
parse(const char *s, cir_worker_http_request_t *req)
{
    return cir_worker_http_parse(s, strlen(s), req);
}

Test(worker_http, parses_a_get)
{
    cir_worker_http_request_t req;

    cr_assert_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &req), 1);
    cr_assert(req.get);
    cr_assert_str_eq(req.url, "/metrics");
    cr_assert_eq(parse("GET /jobs HTTP/1.0\r\n\r\n", &req), 1, "nginx's");
    cr_assert_str_eq(req.url, "/jobs");
}

Test(worker_http, partial_request_needs_more)
{
    cir_worker_http_request_t req;

    cr_assert_eq(parse("GET /metr", &req), 0);
    cr_assert_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &req), 0);
}

Test(worker_http, other_methods_and_garbage)
{
    cir_worker_http_request_t req;

    cr_assert_eq(
        parse("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n", &req), 1);
    cr_assert_not(req.get);
    cr_assert_eq(parse("\x16\x03\x01 hello\r\n\r\n", &req), CIR_EPARSE);
    cr_assert_eq(parse("GET /metrics HTTP/9\r\n\r\n", &req), CIR_EPARSE);
}

Test(worker_http, url_over_the_limit)
{
    char buf[CIR_WORKER_HTTP_URL_MAX + 64];
    cir_worker_http_request_t req;

    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "GET /", 5);
    cr_assert_eq(cir_worker_http_parse(buf, sizeof(buf), &req), CIR_ELIMIT);
}

/* ---- a dispatcher to answer from (its intake is never called) ----------- */

static int
no_next(cir_intake_t *src, cir_vod_job_t *job, int wait_ms)
{
    (void)src, (void)job, (void)wait_ms;
    return 0;
}

static const cir_intake_ops_t idle_ops = {.next = no_next};
static cir_intake_t idle = {.ops = &idle_ops, .name = "idle"};
static cir_pool_t *pool;
static cir_dispatch_t *dispatch;

static void
setup(void)
{
    cir_dispatch_config_t dc = {.presets_dir = cir_preset_dir(NULL),
                                .workers = 1,
                                .max_attempts = 1,
                                .extend_s = 60};

    cir_lease_config_for(&dc.lease, 60000000, 2000000, 20000000);
    cr_assert_eq(
        cir_pool_new(&pool, &(cir_pool_config_t){.workers = 1, .queue_max = 0}),
        0);
    cr_assert_eq(cir_dispatch_new(&dispatch, &dc, &idle, pool), 0);
}

static void
teardown(void)
{
    cir_dispatch_free(&dispatch);
    cir_pool_free(&pool);
}

static int
answer(const char *request, cir_buf_t *body, const char **type)
{
    cir_worker_http_request_t req;

    cr_assert_eq(parse(request, &req), 1);
    return cir_worker_http_answer(dispatch, &req, body, type);
}

Test(worker_http, routes, .init = setup, .fini = teardown)
{
    cir_buf_t b;
    const char *type;

    cir_buf_init(&b, 1 << 16);
    cr_assert_eq(answer("GET /metrics HTTP/1.1\r\n\r\n", &b, &type), 200);
    cr_assert_str_eq(type, "text/plain; version=0.0.4");
    cr_assert_not_null(strstr(b.data, "cirrus_worker_workers 1\n"));
    cir_buf_free(&b);

    cir_buf_init(&b, 1024);
    cr_assert_eq(answer("GET /jobs HTTP/1.1\r\n\r\n", &b, &type), 200);
    cr_assert_str_eq(type, "application/json");
    cr_assert_str_eq(b.data, "[]");
    cir_buf_free(&b);

    cir_buf_init(&b, 1024);
    cr_assert_eq(answer("GET /metrics?x=1 HTTP/1.1\r\n\r\n", &b, &type), 404);
    cr_assert_str_eq(b.data, "not found\n");
    cir_buf_free(&b);

    cir_buf_init(&b, 1024);
    cr_assert_eq(answer("HEAD /metrics HTTP/1.1\r\n\r\n", &b, &type), 405);
    cr_assert_str_eq(b.data, "GET only\n");
    cir_buf_free(&b);
}

/* ---- over a socket ------------------------------------------------------ */

/* Sends what, reads the answer until the server closes: its status. */
static int
exchange(int port, const char *what, size_t len, char *resp, size_t size)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
    size_t got = 0;
    ssize_t r;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (len) {
        (void)send(fd, what, len, MSG_NOSIGNAL);
    }
    while (got < size - 1 &&
           (r = recv(fd, resp + got, size - 1 - got, 0)) > 0) {
        got += (size_t)r;
    }
    resp[got] = '\0';
    close(fd);
    sscanf(resp, "HTTP/1.1 %d", &status);
    return status;
}

Test(worker_http, bounded_in_size_and_time, .init = setup, .fini = teardown,
     .timeout = 30)
{
    cir_worker_http_config_t hc = {.listen = "127.0.0.1",
                                   .port = -1,
                                   .max_request = 256,
                                   .timeout_ms = 300};
    cir_worker_http_t *h = NULL;
    char resp[1 << 16], big[2048];
    const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    int port = 0;
    int64_t t0;

    cr_assert_eq(cir_worker_http_start(&h, &hc, dispatch, &port), 0);
    cr_assert_gt(port, 0);
    cr_assert_eq(exchange(port, get, strlen(get), resp, sizeof(resp)), 200);
    cr_assert_not_null(strstr(resp, "Connection: close\r\n"));
    cr_assert_not_null(strstr(resp, "cirrus_worker_jobs_total"));

    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
    cr_assert_eq(exchange(port, big, sizeof(big), resp, sizeof(resp)), 431);

    t0 = cir_clock_mono_us(cir_clock_system());
    cr_assert_eq(
        exchange(port, "GET /metrics HTTP/1.1\r\n", 23, resp, sizeof(resp)),
        408);
    cr_assert_geq(cir_clock_mono_us(cir_clock_system()) - t0, 250000);
    cr_assert_eq(exchange(port, "nonsense\r\n\r\n", 12, resp, sizeof(resp)),
                 400);
    cir_worker_http_stop(&h);
}

/* ---- bodies (the job API's) --------------------------------------------- */

static int
echo_handler(void *ctx, const cir_worker_http_request_t *req,
             cir_worker_http_answer_t *ans)
{
    (void)ctx;
    snprintf(ans->location, sizeof(ans->location), "%.1000s/1", req->url);
    cir_buf_printf(ans->body, "%zu %.*s", req->body_len, (int)req->body_len,
                   req->body);
    return 201;
}

static int
parse_body(const char *s, size_t max_body, cir_worker_http_request_t *req)
{
    return cir_worker_http_parse_body(s, strlen(s), max_body, req);
}

Test(worker_http, reads_a_body_and_the_api_headers)
{
    cir_worker_http_request_t req;
    const char *post = "POST /jobs HTTP/1.1\r\nContent-Length: 7\r\n"
                       "AUTHORIZATION: Bearer t\r\nIdempotency-Key: k-1\r\n"
                       "\r\n{\"a\":1}";

    cr_assert_eq(parse_body(post, 100, &req), 1);
    cr_assert_eq(req.method, HTTP_POST);
    cr_assert_str_eq(req.authorization, "Bearer t");
    cr_assert_str_eq(req.idempotency_key, "k-1");
    cr_assert_eq(req.body_len, 7);
    cr_assert_eq(memcmp(req.body, "{\"a\":1}", 7), 0);
    /* a body not all there yet */
    cr_assert_eq(cir_worker_http_parse_body(post, strlen(post) - 2, 100, &req),
                 0);
    cr_assert(req.headers_done);
    /* the status port reads no body */
    cr_assert_eq(parse_body(post, 0, &req), 1);
    cr_assert_null(req.body);
}

Test(worker_http, body_limits)
{
    cir_worker_http_request_t req;
    char big[CIR_WORKER_HTTP_HEADER_MAX + 64];

    cr_assert_eq(
        parse_body("POST /jobs HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 100,
                   &req),
        2, "over max_body: 413");
    cr_assert_eq(parse_body("POST /jobs HTTP/1.1\r\nTransfer-Encoding: "
                            "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                            100, &req),
                 CIR_EUNSUPPORTED);
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nAuthorization: %0*d\r\n\r\n",
             CIR_WORKER_HTTP_HEADER_MAX, 0);
    cr_assert_eq(parse_body(big, 100, &req), CIR_ELIMIT);
}

Test(worker_http, a_handler_answers_with_a_location, .init = setup,
     .fini = teardown, .timeout = 30)
{
    cir_worker_http_config_t hc = {.listen = "127.0.0.1",
                                   .port = -1,
                                   .max_request = 256,
                                   .timeout_ms = 500,
                                   .max_body = 64,
                                   .handler = echo_handler};
    cir_worker_http_t *h = NULL;
    char resp[4096], big[600];
    const char *post = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    int port = 0;

    cr_assert_eq(cir_worker_http_start(&h, &hc, dispatch, &port), 0);
    cr_assert_eq(exchange(port, post, strlen(post), resp, sizeof(resp)), 201);
    cr_assert_not_null(strstr(resp, "Location: /x/1\r\n"), "%s", resp);
    cr_assert_not_null(strstr(resp, "\r\n\r\n5 hello"), "%s", resp);
    snprintf(big, sizeof(big),
             "POST /x HTTP/1.1\r\nContent-Length: 500\r\n\r\n%0500d", 0);
    cr_assert_eq(exchange(port, big, strlen(big), resp, sizeof(resp)), 413);
    cr_assert_not_null(strstr(resp, "{\"error\":\"request body too large\"}"));
    cir_worker_http_stop(&h);
}
