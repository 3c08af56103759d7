/*
 * The AWS client's test fixture: a scripted loopback HTTP server (one
 * thread takes one connection per scripted answer, keeps what each request
 * sent, and sends the answer as written; NULL holds the connection, silent,
 * for hold_ms) and a client with static test credentials pointed at it.
 * Header-only: each test binary links one library.
 */
#ifndef CIR_TEST_AWS_FIXTURE_H
#define CIR_TEST_AWS_FIXTURE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cir_aws.h"

#define HTTP_FX_MAX 8

typedef struct {
    const char *answers[HTTP_FX_MAX];
    int nanswers;
    int hold_ms;
    /* filled in */
    int fd, port;
    pthread_t thread;
    char requests[HTTP_FX_MAX][16384];
    int nrequests;
} http_fx_t;

/* Reads one request: its head and a Content-Length body. */
static __attribute__((unused)) void
http_fx_read(int c, char *req, size_t size)
{
    size_t n = 0, want = 0;
    const char *end = NULL;
    ssize_t k;

    while (n + 1 < size) {
        if ((k = recv(c, req + n, size - 1 - n, 0)) <= 0) {
            break;
        }
        n += (size_t)k;
        req[n] = '\0';
        if (end == NULL && (end = strstr(req, "\r\n\r\n")) != NULL) {
            for (const char *h = req; h < end; h = strstr(h, "\r\n") + 2) {
                if (strncasecmp(h, "content-length:", 15) == 0) {
                    want = strtoul(h + 15, NULL, 10);
                }
            }
            want += (size_t)(end + 4 - req);
        }
        if (end != NULL && n >= want) {
            break;
        }
    }
    req[n] = '\0';
}

static __attribute__((unused)) void *
http_fx_serve(void *opaque)
{
    http_fx_t *s = opaque;

    for (int i = 0; i < s->nanswers; i++) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        int c;
        if (poll(&p, 1, 5000) <= 0 || (c = accept(s->fd, NULL, NULL)) < 0) {
            break;
        }
        http_fx_read(c, s->requests[s->nrequests++], sizeof(s->requests[0]));
        if (s->answers[i] == NULL) {
            struct timespec ts = {.tv_sec = s->hold_ms / 1000,
                                  .tv_nsec = s->hold_ms % 1000 * 1000000L};
            nanosleep(&ts, NULL);
        } else {
            (void)send(c, s->answers[i], strlen(s->answers[i]), MSG_NOSIGNAL);
        }
        close(c);
    }
    return NULL;
}

/* Listens on a free loopback port and serves the script on a thread. */
static __attribute__((unused)) void
http_fx_start(http_fx_t *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->fd, 0);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(s->fd, HTTP_FX_MAX), 0);
    cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, http_fx_serve, s), 0);
}

/* Waits for the script's end (or 5 s without a connection). */
static __attribute__((unused)) void
http_fx_stop(http_fx_t *s)
{
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* Does the request start with this line? */
static __attribute__((unused)) int
http_fx_starts(const char *request, const char *line)
{
    return strncmp(request, line, strlen(line)) == 0;
}

static __attribute__((unused)) int64_t
http_fx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An answer: status line ("200 OK"), extra header lines (each ending in
 * \r\n), body; with its Content-Length and Connection: close. */
static __attribute__((unused)) const char *
http_fx_answer(char *dst, size_t size, const char *status, const char *headers,
               const char *body)
{
    snprintf(dst, size,
             "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%sConnection: close"
             "\r\n\r\n%s",
             status, strlen(body), headers, body);
    return dst;
}

/* Static test credentials, no session token, retry waits of at most
 * 10 ms; max_attempts NULL: the default. */
static __attribute__((unused)) void
aws_fx_env(const char *max_attempts)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("CIRRUS_AWS_RETRY_MAX_WAIT_S", "0.01", 1);
    if (max_attempts != NULL) {
        setenv("CIRRUS_AWS_MAX_ATTEMPTS", max_attempts, 1);
    } else {
        unsetenv("CIRRUS_AWS_MAX_ATTEMPTS");
    }
}

/* A client from the environment, its S3 endpoint the server. */
static __attribute__((unused)) cir_aws_t *
aws_fx_open(const http_fx_t *s)
{
    cir_aws_t *a = NULL;
    char err[256] = "", url[64];

    cr_assert_eq(cir_aws_open(&a, err, sizeof(err)), 0, "%s", err);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
    cr_assert_eq(cir_aws_set_endpoint(a, "s3", url), 0);
    return a;
}

static __attribute__((unused)) cir_aws_t *
aws_fx_client(const http_fx_t *s, const char *max_attempts)
{
    aws_fx_env(max_attempts);
    return aws_fx_open(s);
}

#endif
