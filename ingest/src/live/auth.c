/*
 * Publish authorisation by HTTP callback, and the loop's curl_multi that
 * runs it and the webhooks (after curl's multi-uv.c): each transfer's
 * owner (srv_curl_job_t) hears when it ends.
 */

#include "server_internal.h"

size_t
srv_curl_discard(char *p, size_t size, size_t n, void *opaque)
{
    (void)p;
    (void)opaque;
    return size * n;
}

/* The callback's answer: 2xx allows. */
static void
auth_done(srv_curl_job_t *j, CURLcode result, long status)
{
    conn_t *c = (conn_t *)((char *)j - offsetof(conn_t, auth_job));
    cir_ingest_t *s = c->srv;

    if (result != CURLE_OK) {
        cir_log_warn(&s->log, "on_publish: %s", curl_easy_strerror(result));
    }
    curl_multi_remove_handle(s->multi, c->auth);
    curl_easy_cleanup(c->auth);
    c->auth = NULL;
    srv_publish_decided(c, result == CURLE_OK && status >= 200 && status < 300);
}

int
srv_key_file_allows(cir_ingest_t *s, srv_app_t *app, const char *key)
{
    int ret;

    if (app->cfg.key_file[0] == '\0') {
        return 1;
    }
    if ((ret = cir_keyfile_load(&app->keys, app->cfg.key_file, 0)) < 0) {
        cir_log_error(&s->log, "application %s: key file %s: %s", app->cfg.name,
                      app->cfg.key_file, cir_strerror(ret));
    }
    return cir_keyfile_allows(&app->keys, key);
}

int
srv_http_auth_start(cir_ingest_t *s, const srv_app_t *app, srv_curl_job_t *job,
                    CURL **handle, char **body_out, const char *key,
                    const char *query, const char *peer)
{
    CURL *e = curl_easy_init();
    char *k = NULL, *q = NULL, *body = NULL;
    size_t len;

    if (e == NULL) {
        return CIR_ENOMEM;
    }
    k = curl_easy_escape(e, key, 0);
    q = curl_easy_escape(e, query, 0);
    len = 64 + strlen(app->cfg.name) + strlen(k ? k : "") + strlen(q ? q : "") +
          strlen(peer);
    body = malloc(len);
    if (k == NULL || q == NULL || body == NULL) {
        curl_free(k);
        curl_free(q);
        free(body);
        curl_easy_cleanup(e);
        return CIR_ENOMEM;
    }
    /* the name is [A-Za-z0-9_-]: nothing to escape */
    snprintf(body, len, "call=publish&app=%s&name=%s&args=%s&addr=%s",
             app->cfg.name, k, q, peer);
    curl_free(k);
    curl_free(q);
    free(*body_out);
    *body_out = body;
    curl_easy_setopt(e, CURLOPT_URL, app->cfg.on_publish_url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(s->cfg.auth_timeout * 1000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, srv_curl_discard);
    curl_easy_setopt(e, CURLOPT_PRIVATE, job);
    *handle = e;
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        *handle = NULL;
        curl_easy_cleanup(e);
        return CIR_EIO;
    }
    return 0;
}

int
srv_start_http_auth(conn_t *c, const char *query)
{
    c->auth_job.done = auth_done;
    return srv_http_auth_start(c->srv, c->app, &c->auth_job, &c->auth,
                               &c->auth_body, c->key, query, c->peer);
}

/* ---- curl multi on the loop (after curl's multi-uv.c) -------------------
 */

static void
curl_check_done(cir_ingest_t *s)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
        srv_curl_job_t *j = NULL;
        long code = 0;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        /* the owner removes and frees the handle */
        j->done(j, m->data.result, code);
    }
}

static void
curl_poll_cb(uv_poll_t *p, int status, int events)
{
    curl_watch_t *w = p->data;
    int running, flags = 0;

    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
        flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
    }
    curl_multi_socket_action(w->srv->multi, w->fd, flags, &running);
    curl_check_done(w->srv);
}

static void
curl_timer_cb(uv_timer_t *t)
{
    cir_ingest_t *s = t->data;
    int running;

    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    curl_check_done(s);
}

int
srv_curl_timer_fn(CURLM *multi, long timeout_ms, void *opaque)
{
    cir_ingest_t *s = opaque;

    (void)multi;
    if (timeout_ms < 0) {
        uv_timer_stop(&s->curl_timer);
    } else {
        uv_timer_start(&s->curl_timer, curl_timer_cb, (uint64_t)timeout_ms, 0);
    }
    return 0;
}

static void
curl_watch_closed(uv_handle_t *h)
{
    free(h->data);
}

int
srv_curl_socket_fn(CURL *e, curl_socket_t fd, int what, void *opaque,
                   void *sockp)
{
    cir_ingest_t *s = opaque;
    curl_watch_t *w = sockp;
    int events = 0;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (w != NULL) {
            uv_poll_stop(&w->poll);
            uv_close((uv_handle_t *)&w->poll, curl_watch_closed);
            curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL) {
            return -1;
        }
        w->fd = fd;
        w->srv = s;
        if (uv_poll_init_socket(&s->loop, &w->poll, fd) < 0) {
            free(w);
            return -1;
        }
        w->poll.data = w;
        curl_multi_assign(s->multi, fd, w);
    }
    events |= (what & CURL_POLL_IN) ? UV_READABLE : 0;
    events |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
    uv_poll_start(&w->poll, events, curl_poll_cb);
    return 0;
}
