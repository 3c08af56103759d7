/*
 * A SPEKE v2 key provider on loopback for the live key rotation's unit
 * tests (test_transcoder_live_keys.c): each request's ContentKey kid and
 * ContentKeyPeriod index read back, answered with a key of that period's
 * own (every byte 0x10 + the period), the key IDs asked for kept by
 * period; while `hold` is set, requests wait.  Header-only.
 */
#ifndef CIR_TEST_SPEKE_FIXTURE_H
#define CIR_TEST_SPEKE_FIXTURE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libavutil/base64.h>

#include "aws_fixture.h" /* http_fx_read */

#define PERIODS_MAX 64

/* A SPEKE v2 key provider on loopback: each request's ContentKey kid and
 * ContentKeyPeriod index read back, answered with a key of that period's
 * own (every byte 0x10 + the period); the key IDs asked for, by period. */
typedef struct {
    int fd, port;
    atomic_int stop;
    atomic_int hold; /* set: requests wait (not accepted) */
    pthread_t thread;
    pthread_mutex_t mu;
    char kid[PERIODS_MAX][37];
} speke_fx_t;

static __attribute__((unused)) void
answer(speke_fx_t *s, int c, const char *req)
{
    static char out[4096], body[3072];
    const char *kid = strstr(req, "kid=\""), *index = strstr(req, "index=\"");
    unsigned p = index ? (unsigned)strtoul(index + 7, NULL, 10) : 0;
    char k[37];
    uint8_t key[16];
    char b64[32];
    int n;

    if (kid == NULL || index == NULL || p >= PERIODS_MAX) {
        n = snprintf(out, sizeof(out),
                     "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
        send(c, out, (size_t)n, MSG_NOSIGNAL);
        return;
    }
    snprintf(k, sizeof(k), "%.36s", kid + 5);
    memset(key, 0x10 + (int)p, 16);
    av_base64_encode(b64, sizeof(b64), key, 16);
    pthread_mutex_lock(&s->mu);
    memcpy(s->kid[p], k, sizeof(k));
    pthread_mutex_unlock(&s->mu);
    n = snprintf(
        body, sizeof(body),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><cpix:CPIX "
        "xmlns:cpix=\"urn:dashif:org:cpix\" "
        "xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" "
        "xmlns:speke=\"urn:aws:amazon:com:speke\" id=\"live-1\">"
        "<cpix:ContentKeyList><cpix:ContentKey kid=\"%s\" "
        "commonEncryptionScheme=\"cenc\"><cpix:Data><pskc:Secret>"
        "<pskc:PlainValue>%s</pskc:PlainValue></pskc:Secret></cpix:Data>"
        "</cpix:ContentKey></cpix:ContentKeyList><cpix:DRMSystemList>"
        "<cpix:DRMSystem kid=\"%s\" "
        "systemId=\"1077efec-c0b2-4d02-ace3-3c1e52e2fb4b\"/>"
        "</cpix:DRMSystemList><cpix:ContentKeyUsageRuleList>"
        "<cpix:ContentKeyUsageRule kid=\"%s\" intendedTrackType=\"ALL\"/>"
        "</cpix:ContentKeyUsageRuleList></cpix:CPIX>",
        k, b64, k, k);
    n = snprintf(out, sizeof(out),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                 "X-Speke-Version: 2.0\r\nContent-Length: %d\r\n"
                 "Connection: close\r\n\r\n%s",
                 n, body);
    send(c, out, (size_t)n, MSG_NOSIGNAL);
}

static __attribute__((unused)) void *
speke_serve(void *opaque)
{
    speke_fx_t *s = opaque;
    static char req[65536];

    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        int c;
        if (atomic_load(&s->hold)) {
            usleep(10000);
            continue;
        }
        if (poll(&p, 1, 50) <= 0 || (c = accept(s->fd, NULL, NULL)) < 0) {
            continue;
        }
        http_fx_read(c, req, sizeof(req));
        answer(s, c, req);
        close(c);
    }
    return NULL;
}

static __attribute__((unused)) void
speke_fx_start(speke_fx_t *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->fd, 0);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(s->fd, 8), 0);
    cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, speke_serve, s), 0);
}

static __attribute__((unused)) void
speke_fx_stop(speke_fx_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->mu);
}

#endif
