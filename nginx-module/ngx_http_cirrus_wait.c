/*
 * Waiting for live updates inside nginx's event loop, never blocking a
 * worker.  One inotify fd per worker, wrapped in an ngx_connection_t whose
 * read handler drains it; one watch per folder and file that origin/ named
 * as the wait condition (IN_MOVED_TO and IN_CLOSE_WRITE: the writer
 * renames the index into place) holding the queue of requests waiting on
 * it; one timer per request for the block limit (503).  When the file
 * changes every waiter on it is decided again (ctx->decide) and those that
 * are ready are answered.  Without inotify a
 * short periodic timer re-checks instead.  A waiting request costs its
 * context (a small struct in its pool) and a queue link.
 *
 * The waiters of one change are answered as one batch (bench/origin,
 * "wake latency"): the index is looked at once for all of them
 * (ngx_http_cirrus_wait_batch(): the live path trusts what it loaded in
 * the same batch, and the playlist is rendered once per index, skip mode
 * and rendition reports), every answer is written first, and only then
 * are the requests finalized (access log, close or keep-alive), so the
 * last waiter's answer does not wait for the others' teardown.
 *
 * An adapter: tested through tests/integration/live*.test.mjs (blocking
 * playlist reloads, held segment requests).
 */
#include "ngx_http_cirrus.h"

#include <sys/inotify.h>
#include <sys/time.h>

#define POLL_INTERVAL_MS 20

struct ngx_http_cirrus_watch_s {
    ngx_queue_t link;    /* in watches */
    ngx_queue_t waiters; /* ngx_http_cirrus_ctx_t.queue */
    int wd;              /* -1 when polling */
    ngx_uint_t dirty;
    char dir[NGX_HTTP_CIRRUS_PATH_MAX];
    char file[16]; /* the file in dir whose change wakes the waiters */
};

static ngx_queue_t watches;
static ngx_uint_t initialized;
static ngx_connection_t *inotify_conn; /* NULL: poll instead */
static ngx_event_t poll_ev;
static ngx_uint_t nb_waiting;
static ngx_uint_t batch;      /* the wake batch running, 0: none */
static ngx_uint_t last_batch; /* the last batch's number */

static void process_watches(void);

ngx_uint_t
ngx_http_cirrus_wait_count(void)
{
    return nb_waiting;
}

ngx_uint_t
ngx_http_cirrus_wait_batch(void)
{
    return batch;
}

static void
watch_free(ngx_http_cirrus_watch_t *w)
{
    ngx_queue_remove(&w->link);
    if (w->wd >= 0 && inotify_conn) {
        (void)inotify_rm_watch(inotify_conn->fd, w->wd);
    }
    ngx_free(w);
}

static void
inotify_read(ngx_event_t *ev)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    const struct inotify_event *ie;
    ngx_http_cirrus_watch_t *w;
    ngx_connection_t *c = ev->data;
    ngx_queue_t *q;
    ssize_t n, off;

    for (;;) {
        n = read(c->fd, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        for (off = 0; off + (ssize_t)sizeof(*ie) <= n;
             off += sizeof(*ie) + ie->len) {
            ie = (const struct inotify_event *)(buf + off);
            for (q = ngx_queue_head(&watches);
                 q != ngx_queue_sentinel(&watches); q = ngx_queue_next(q)) {
                w = ngx_queue_data(q, ngx_http_cirrus_watch_t, link);
                if (ie->mask & IN_Q_OVERFLOW) {
                    w->dirty = 1;
                } else if (w->wd == ie->wd &&
                           ((ie->mask & IN_IGNORED) ||
                            (ie->len && ngx_strcmp(ie->name, w->file) == 0))) {
                    w->dirty = 1;
                    if (ie->mask & IN_IGNORED) {
                        w->wd = -1; /* the folder went away */
                    }
                }
            }
        }
    }
    if (n < 0 && ngx_errno != NGX_EAGAIN) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_errno,
                      "cirrus: read(inotify) failed");
    }
    process_watches();
    if (ngx_handle_read_event(ev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "cirrus: cannot re-arm the inotify event");
    }
}

static void
poll_handler(ngx_event_t *ev)
{
    ngx_http_cirrus_watch_t *w;
    ngx_queue_t *q;

    for (q = ngx_queue_head(&watches); q != ngx_queue_sentinel(&watches);
         q = ngx_queue_next(q)) {
        w = ngx_queue_data(q, ngx_http_cirrus_watch_t, link);
        w->dirty = 1;
    }
    process_watches();
    if (!ngx_queue_empty(&watches)) {
        ngx_add_timer(ev, POLL_INTERVAL_MS);
    }
}

static void
wait_init(ngx_log_t *log)
{
    ngx_connection_t *c;
    int fd;

    initialized = 1;
    ngx_queue_init(&watches);
    poll_ev.handler = poll_handler;
    poll_ev.log = ngx_cycle->log;
    poll_ev.data = &poll_ev;
    poll_ev.cancelable = 1;

    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "cirrus: inotify_init1() failed, polling every %d ms",
                      POLL_INTERVAL_MS);
        return;
    }
    c = ngx_get_connection(fd, ngx_cycle->log);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->read->handler = inotify_read;
    c->read->log = ngx_cycle->log;
    c->log = ngx_cycle->log;
    c->data = c;
    c->read->data = c;
    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "cirrus: cannot add the inotify event, polling");
        ngx_close_connection(c);
        return;
    }
    inotify_conn = c;
}

static void
waiter_remove(ngx_http_cirrus_ctx_t *ctx)
{
    if (!ctx->waiting) {
        return;
    }
    ctx->waiting = 0;
    ngx_queue_remove(&ctx->queue);
    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }
    nb_waiting--;
    ngx_http_cirrus_metric_blocked(-1);
}

/* The request is freed (client gone, worker shutting down): unlink it. */
static void
waiter_cleanup(void *data)
{
    waiter_remove(data);
}

static void
finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t *c = r->connection;

    r->read_event_handler = ngx_http_block_reading;
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}

static void
waiter_timeout(ngx_event_t *ev)
{
    ngx_http_cirrus_ctx_t *ctx = ev->data;
    ngx_http_request_t *r = ctx->request;

    waiter_remove(ctx);
    ngx_http_cirrus_metric_timeout();
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "cirrus: %s/%s: blocked request timed out after %M ms",
                  ctx->req.path.stream, ctx->req.path.rendition, ctx->block_ms);
    /* a streamed segment that stopped growing: its headers are out, so the
     * only honest end is a cut (the client sees a truncated response) */
    finish(r, ctx->req.streaming ? NGX_ERROR
                                 : ngx_http_cirrus_send_error(
                                       r, NGX_HTTP_SERVICE_UNAVAILABLE));
}

static int64_t
wall_us(void)
{
    struct timeval tv;

    ngx_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Decides every waiter of w again against the index as it is now: those
 * still waiting go back on w, the answered ones onto done (their answers
 * written, the requests not finalized yet). */
static void
answer_waiters(ngx_http_cirrus_watch_t *w, ngx_queue_t *done)
{
    ngx_http_cirrus_ctx_t *ctx;
    ngx_queue_t pending, *q;
    ngx_msec_int_t left;
    int64_t now;

    ngx_queue_init(&pending);
    ngx_queue_add(&pending, &w->waiters);
    ngx_queue_init(&w->waiters);

    last_batch = last_batch + 1 ? last_batch + 1 : 1;
    batch = last_batch;
    while (!ngx_queue_empty(&pending)) {
        q = ngx_queue_head(&pending);
        ctx = ngx_queue_data(q, ngx_http_cirrus_ctx_t, queue);
        waiter_remove(ctx);
        ctx->rc = ctx->decide(ctx->request, ctx);
        if (ctx->rc == NGX_HTTP_CIRRUS_WAIT) {
            ngx_queue_insert_tail(&w->waiters, &ctx->queue);
            ctx->waiting = 1;
            nb_waiting++;
            ngx_http_cirrus_metric_blocked(1);
            left = (ngx_msec_int_t)(ctx->deadline - ngx_current_msec);
            ngx_add_timer(&ctx->timer, left > 0 ? (ngx_msec_t)left : 1);
            continue;
        }
        if (ctx->index_updated_us) {
            now = wall_us();
            ngx_http_cirrus_metric_wake(now - ctx->index_updated_us);
        }
        ngx_queue_insert_tail(done, &ctx->queue);
    }
    batch = 0;
}

static void
process_watch(ngx_http_cirrus_watch_t *w)
{
    ngx_http_cirrus_ctx_t *ctx;
    ngx_queue_t done, *q;

    if (ngx_queue_empty(&w->waiters)) {
        return;
    }
    ngx_queue_init(&done);
    answer_waiters(w, &done);
    /* the answers are out: now the teardown (finalizing may free r) */
    while (!ngx_queue_empty(&done)) {
        q = ngx_queue_head(&done);
        ngx_queue_remove(q);
        ctx = ngx_queue_data(q, ngx_http_cirrus_ctx_t, queue);
        finish(ctx->request, ctx->rc);
    }
}

static void
process_watches(void)
{
    ngx_http_cirrus_watch_t *w;
    ngx_queue_t *q, *next;

    for (q = ngx_queue_head(&watches); q != ngx_queue_sentinel(&watches);
         q = next) {
        next = ngx_queue_next(q);
        w = ngx_queue_data(q, ngx_http_cirrus_watch_t, link);
        if (w->dirty) {
            w->dirty = 0;
            process_watch(w);
        }
        if (ngx_queue_empty(&w->waiters)) {
            watch_free(w);
        }
    }
}

ngx_int_t
ngx_http_cirrus_wait_watch(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                           const char *dir, const char *file)
{
    ngx_http_cirrus_watch_t *w;
    ngx_queue_t *q;

    if (!initialized) {
        wait_init(r->connection->log);
    }
    for (q = ngx_queue_head(&watches); q != ngx_queue_sentinel(&watches);
         q = ngx_queue_next(q)) {
        w = ngx_queue_data(q, ngx_http_cirrus_watch_t, link);
        if (ngx_strcmp(w->dir, dir) == 0 && ngx_strcmp(w->file, file) == 0) {
            ctx->watch = w;
            return 0;
        }
    }
    w = ngx_alloc(sizeof(ngx_http_cirrus_watch_t), r->connection->log);
    if (w == NULL) {
        return NGX_ERROR;
    }
    if (ngx_strlen(dir) >= sizeof(w->dir) ||
        ngx_strlen(file) >= sizeof(w->file)) {
        ngx_free(w);
        return NGX_ERROR;
    }
    ngx_cpystrn((u_char *)w->dir, (u_char *)dir, sizeof(w->dir));
    ngx_cpystrn((u_char *)w->file, (u_char *)file, sizeof(w->file));
    ngx_queue_init(&w->waiters);
    w->dirty = 0;
    w->wd = -1;
    if (inotify_conn) {
        w->wd = inotify_add_watch(inotify_conn->fd, w->dir,
                                  IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
        if (w->wd < 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                          "cirrus: inotify_add_watch(\"%s\") failed", w->dir);
            ngx_free(w);
            return NGX_ERROR;
        }
    } else if (!poll_ev.timer_set) {
        ngx_add_timer(&poll_ev, POLL_INTERVAL_MS);
    }
    ngx_queue_insert_tail(&watches, &w->link);
    ctx->watch = w;
    return 1;
}

ngx_int_t
ngx_http_cirrus_wait_hold(ngx_http_request_t *r, ngx_http_cirrus_ctx_t *ctx,
                          ngx_msec_t limit)
{
    ngx_http_cleanup_t *cln;

    if (!ctx->cleanup_added) {
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return ngx_http_cirrus_send_error(r, 500);
        }
        cln->handler = waiter_cleanup;
        cln->data = ctx;
        ctx->cleanup_added = 1;
    }
    ctx->timer.handler = waiter_timeout;
    ctx->timer.data = ctx;
    ctx->timer.log = r->connection->log;
    ctx->block_ms = limit;
    ctx->deadline = ngx_current_msec + limit;
    ngx_add_timer(&ctx->timer, limit);

    ngx_queue_insert_tail(&ctx->watch->waiters, &ctx->queue);
    ctx->waiting = 1;
    nb_waiting++;
    ngx_http_cirrus_metric_blocked(1);

    /* notice a client that goes away while we hold its request */
    r->read_event_handler = ngx_http_test_reading;
    r->main->count++;
    return NGX_DONE;
}

void
ngx_http_cirrus_wait_exit(ngx_cycle_t *cycle)
{
    ngx_http_cirrus_watch_t *w;

    (void)cycle;
    if (!initialized) {
        return;
    }
    /* no request waits any more: their timers kept the worker alive */
    while (!ngx_queue_empty(&watches)) {
        w = ngx_queue_data(ngx_queue_head(&watches), ngx_http_cirrus_watch_t,
                           link);
        watch_free(w);
    }
    if (poll_ev.timer_set) {
        ngx_del_timer(&poll_ev);
    }
    if (inotify_conn) {
        ngx_close_connection(inotify_conn);
        inotify_conn = NULL;
    }
    initialized = 0;
}
