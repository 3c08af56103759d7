/*
 * cirrus-wake-probe: N clients of one blocking request each, timed without
 * a scripting runtime in the way, for bench/origin's wake latency.
 *
 *   cirrus-wake-probe PORT TARGET N [--timeout-ms 10000] [--header "K: V"]
 *
 * Opens N connections to 127.0.0.1:PORT, sends "GET TARGET" on each
 * (Connection: close), prints {"sent":N} once every request is written,
 * then reads them all in one epoll loop and prints one line
 * {"status":[...],"rx_us":[...],"first_us":[...],"bytes":[...]}: each
 * answer's status; the wall clock (us, the clock cirrus-live-feed prints)
 * at which the kernel received its first byte (SO_TIMESTAMPNS: stamped as
 * the server's write reaches this socket, whenever this process gets to
 * run; 0 if the kernel gave none); the wall clock at which this process
 * read it; its length.  A node client timed the same answers as they
 * went through its event loop, one after the other, which added its own
 * work (and, on a shared machine, its scheduling) to the latency
 * measured.  Exit 0 when every answer arrived before the timeout, 1
 * otherwise.
 *
 * A bench tool; its only user is bench/origin (run by hand).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>

#define MAX_CLIENTS 10000
#define HEAD_MAX    64

typedef struct {
    int fd;
    int done;
    long long first_us;
    long long rx_us;
    long long bytes;
    char head[HEAD_MAX]; /* the status line's start */
    size_t head_len;
} client_t;

static long long
wall_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int
parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* A blocking connect and write (before any answer can come), then
 * non-blocking for the reads. */
static int
open_client(long port, const char *req, size_t len)
{
    struct sockaddr_in sa;
    size_t off = 0;
    ssize_t n;
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    while (off < len) {
        n = write(fd, req + off, len - off);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){1}, sizeof(int)) !=
            0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The kernel's receive stamp of what msg read (SCM_TIMESTAMPNS), us. */
static long long
rx_stamp_us(struct msghdr *msg)
{
    struct cmsghdr *cm;
    struct timespec ts;

    for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
            return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        }
    }
    return 0;
}

/* Reads what c has; 1 when the server closed it. */
static int
drain(client_t *c)
{
    char buf[16384];
    char control[CMSG_SPACE(sizeof(struct timespec)) * 2];
    struct iovec iov;
    struct msghdr msg;
    ssize_t n;
    size_t k;

    for (;;) {
        iov.iov_base = buf;
        iov.iov_len = sizeof(buf);
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        n = recvmsg(c->fd, &msg, 0);
        if (n > 0) {
            if (c->first_us == 0) {
                c->first_us = wall_us();
                c->rx_us = rx_stamp_us(&msg);
            }
            k = (size_t)n < HEAD_MAX - 1 - c->head_len
                    ? (size_t)n
                    : HEAD_MAX - 1 - c->head_len;
            memcpy(c->head + c->head_len, buf, k);
            c->head_len += k;
            c->bytes += n;
            continue;
        }
        if (n == 0) {
            return 1;
        }
        return errno == EAGAIN || errno == EINTR ? 0 : 1;
    }
}

static int
status_of(const client_t *c)
{
    const char *sp = memchr(c->head, ' ', c->head_len);

    return sp && sp + 4 <= c->head + c->head_len ? atoi(sp + 1) : 0;
}

static void
print_array(const char *key, const client_t *cl, long n, int what)
{
    long i;

    printf("\"%s\":[", key);
    for (i = 0; i < n; i++) {
        long long v = what == 0   ? status_of(&cl[i])
                      : what == 1 ? cl[i].first_us
                      : what == 2 ? cl[i].rx_us
                                  : cl[i].bytes;
        printf("%s%lld", i ? "," : "", v);
    }
    printf("]");
}

int
main(int argc, char **argv)
{
    long port = 0, n = 0, timeout_ms = 10000, left;
    const char *target = NULL, *header = NULL;
    struct epoll_event ev, evs[256];
    char req[4096];
    client_t *cl;
    long long deadline;
    int ep, len, i, k;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) {
            if (parse_long(argv[++i], 1, 3600000, &timeout_ms) < 0) {
                goto usage;
            }
        } else if (!strcmp(argv[i], "--header") && i + 1 < argc) {
            header = argv[++i];
        } else if (!port) {
            if (parse_long(argv[i], 1, 65535, &port) < 0) {
                goto usage;
            }
        } else if (!target) {
            target = argv[i];
        } else if (!n) {
            if (parse_long(argv[i], 1, MAX_CLIENTS, &n) < 0) {
                goto usage;
            }
        } else {
            goto usage;
        }
    }
    if (!port || !target || !n) {
        goto usage;
    }
    len = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                   "close\r\n%s%s\r\n",
                   target, header ? header : "", header ? "\r\n" : "");
    if (len < 0 || (size_t)len >= sizeof(req)) {
        fprintf(stderr, "wake-probe: the request is too long\n");
        return 2;
    }
    cl = calloc((size_t)n, sizeof(*cl));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (cl == NULL || ep < 0) {
        fprintf(stderr, "wake-probe: %s\n", strerror(errno));
        return 1;
    }
    for (i = 0; i < n; i++) {
        cl[i].fd = open_client(port, req, (size_t)len);
        if (cl[i].fd < 0) {
            fprintf(stderr, "wake-probe: client %d: %s\n", i, strerror(errno));
            return 1;
        }
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u32 = (uint32_t)i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) != 0) {
            fprintf(stderr, "wake-probe: epoll_ctl: %s\n", strerror(errno));
            return 1;
        }
    }
    printf("{\"sent\":%ld}\n", n);
    fflush(stdout);

    deadline = wall_us() + timeout_ms * 1000LL;
    for (left = n; left > 0;) {
        long long wait_ms = (deadline - wall_us()) / 1000;
        int got;

        if (wait_ms <= 0) {
            break;
        }
        got = epoll_wait(ep, evs, 256, (int)wait_ms);
        if (got < 0 && errno != EINTR) {
            break;
        }
        for (k = 0; k < got; k++) {
            client_t *c = &cl[evs[k].data.u32];
            if (!c->done && drain(c)) {
                c->done = 1;
                close(c->fd);
                left--;
            }
        }
    }
    printf("{");
    print_array("status", cl, n, 0);
    printf(",");
    print_array("rx_us", cl, n, 2);
    printf(",");
    print_array("first_us", cl, n, 1);
    printf(",");
    print_array("bytes", cl, n, 3);
    printf("}\n");
    return left == 0 ? 0 : 1;

usage:
    fprintf(stderr,
            "usage: %s PORT TARGET N [--timeout-ms MS] "
            "[--header \"K: V\"]\n",
            argv[0]);
    return 2;
}
