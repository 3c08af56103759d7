/*
 * The RTMP server on libuv.  The loop moves bytes between sockets and the
 * pure connection state machine (cir_rtmp_conn_t), asks for stream keys
 * (a key file, or an HTTP callback through curl_multi_socket_action), and
 * hands demuxed packets to the live pipeline, one per stream key.
 *
 * An adapter on libuv: tested through tests/integration/ingest.test.mjs and
 * live*.test.mjs (real publishers, the real server).
 */

#include "server_internal.h"

int64_t
srv_now_us(void)
{
    return cir_clock_mono_us(cir_clock_system());
}

/*
 * Pacing: while streams are published, a loop turn starts at most every
 * loop_pace_ms (the configuration's; 40 ms by default).  A publisher sends
 * each FLV tag on its own (ffmpeg -re: ~80 a second for 30 fps video + AAC,
 * one every 12 ms), and waking the loop, reading the socket and the TCP
 * acknowledgement each read sends are most of what a passthrough stream
 * costs; what arrives within the pace of a wake-up is read in the next turn,
 * with the other streams' packets.  The pace must exceed the spacing of a
 * stream's tags to batch them: with 8 streams the CPU per stream at 10 ms
 * is about 1.5x that at 40 (bench/ingest).  A part is then published up to 40
 * ms later, well inside the 100 ms past its duration that LL-HLS leaves.  The
 * first packet after a quiet spell is read at once; none waits more than the
 * pace.
 */

static void
pace_woke(uv_check_t *h)
{
    cir_ingest_t *s = h->data;

    s->woke_us = srv_now_us();
}

static void
pace_sleep(uv_prepare_t *h)
{
    cir_ingest_t *s = h->data;
    int64_t pace_us = (int64_t)(s->cfg.loop_pace_ms * 1000), wait;
    struct timespec ts;

    if (s->nstreams == 0 || s->stopping || pace_us <= 0) {
        return;
    }
    wait = s->woke_us + pace_us - srv_now_us();
    if (wait > 0 && wait <= pace_us) {
        ts.tv_sec = 0;
        ts.tv_nsec = (long)wait * 1000;
        nanosleep(&ts, NULL);
    }
}

/* ---- the server ----------------------------------------------------------
 */

static void
stats_tick(uv_timer_t *t)
{
    cir_ingest_t *s = t->data;

    for (stream_t *st = s->streams; st != NULL; st = st->next) {
        st->bitrate = (double)st->win_bytes * 8;
        st->fps = (double)st->win_frames;
        st->win_bytes = st->win_frames = 0;
    }
}

static void
on_signal(uv_signal_t *h, int signum)
{
    cir_ingest_t *s = h->data;

    if (signum == SIGHUP) {
        srv_apps_reload_keys(s);
        if (s->cfg.rtmps_port > 0 && srv_tls_load(s) == 0) {
            cir_log_info(&s->log, "SIGHUP: TLS certificate reloaded");
        }
        return;
    }
    cir_log_info(&s->log, "signal %d: stopping", signum);
    s->stopping = 1;
    srv_srt_stop(s);
    srv_webhook_stop(s);
    while (s->conns != NULL) {
        srv_conn_close(s->conns);
    }
    for (stream_t *st = s->streams, *next; st != NULL; st = next) {
        next = st->next; /* stream_end may release it */
        st->end_reason = "stopping";
        srv_stream_end(st);
    }
    uv_close((uv_handle_t *)&s->listener, NULL);
    if (s->cfg.rtmps_port > 0) {
        uv_close((uv_handle_t *)&s->rtmps_listener, NULL);
    }
    if (s->cfg.status_port > 0) {
        uv_close((uv_handle_t *)&s->status, NULL);
    }
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    uv_close((uv_handle_t *)&s->stats, NULL);
    uv_close((uv_handle_t *)&s->curl_timer, NULL);
    uv_close((uv_handle_t *)&s->pace, NULL);
    uv_close((uv_handle_t *)&s->woke, NULL);
}

static int
listen_on(cir_ingest_t *s, uv_tcp_t *tcp, const char *host, int port,
          uv_connection_cb cb, int *bound)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss), ret;

    if (strchr(host, ':') != NULL) {
        ret = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    } else {
        ret = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    }
    if (ret < 0) {
        return ret;
    }
    uv_tcp_init(&s->loop, tcp);
    tcp->data = s;
    if ((ret = uv_tcp_bind(tcp, (struct sockaddr *)&ss, 0)) < 0 ||
        (ret = uv_listen((uv_stream_t *)tcp, 128, cb)) < 0) {
        return ret;
    }
    uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len);
    *bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

static void
close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

/* The applications (their key files, live ABR presets) and the queues'
 * limits: what the configuration names must be there and consistent
 * before anything listens. */
static int
load_configured(cir_ingest_t *s)
{
    const cir_ingest_config_t *cfg = &s->cfg;
    cir_bqueue_limits_t lim;

    srv_pipe_queue_limits(cfg, &lim);
    if (cir_bqueue_limits_check(&lim) < 0) {
        cir_log_error(&s->log, "pipe_queue_soft_packets and "
                               "pipe_queue_soft_bytes may not exceed "
                               "pipe_queue_packets and pipe_queue_bytes");
        return CIR_EINVAL;
    }
    return srv_apps_load(s);
}

/* The RTMP listener and the status endpoint's; the ports bound (for
 * port 0) go back into the configuration. */
static int
listen_all(cir_ingest_t *s)
{
    cir_ingest_config_t *cfg = &s->cfg;
    int ret, port;

    if ((ret = listen_on(s, &s->listener, cfg->listen, (int)cfg->port,
                         srv_on_connection, &port)) < 0) {
        cir_log_error(&s->log, "listen %s:%d: %s", cfg->listen, (int)cfg->port,
                      uv_strerror(ret));
        return ret;
    }
    cfg->port = port;
    if (cfg->rtmps_port > 0) {
        const char *host =
            cfg->rtmps_listen[0] != '\0' ? cfg->rtmps_listen : cfg->listen;
        if ((ret = srv_tls_load(s)) < 0) {
            return ret;
        }
        if ((ret = listen_on(s, &s->rtmps_listener, host, (int)cfg->rtmps_port,
                             srv_on_tls_connection, &port)) < 0) {
            cir_log_error(&s->log, "listen rtmps %s:%d: %s", host,
                          (int)cfg->rtmps_port, uv_strerror(ret));
            return ret;
        }
    }
    if ((ret = srv_srt_start(s)) < 0) {
        return ret;
    }
    if (cfg->status_port > 0) {
        if ((ret = listen_on(s, &s->status, cfg->status_listen,
                             (int)cfg->status_port, srv_on_status_connection,
                             &port)) < 0) {
            cir_log_error(&s->log, "status listen: %s", uv_strerror(ret));
            return ret;
        }
        cfg->status_port = port;
    }
    return 0;
}

/* curl_multi driven by the loop (the publish callbacks). */
static int
start_curl(cir_ingest_t *s)
{
    s->multi = curl_multi_init();
    if (s->multi == NULL) {
        return CIR_ENOMEM;
    }
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, srv_curl_socket_fn);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, srv_curl_timer_fn);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    uv_timer_init(&s->loop, &s->curl_timer);
    s->curl_timer.data = s;
    return 0;
}

/* The stats timer, the pacing hooks and the signals. */
static void
start_timers_and_signals(cir_ingest_t *s)
{
    uv_timer_init(&s->loop, &s->stats);
    s->stats.data = s;
    uv_timer_start(&s->stats, stats_tick, 1000, 1000);
    uv_prepare_init(&s->loop, &s->pace);
    uv_check_init(&s->loop, &s->woke);
    s->pace.data = s->woke.data = s;
    uv_prepare_start(&s->pace, pace_sleep);
    uv_check_start(&s->woke, pace_woke);
    /* neither keeps the loop alive */
    uv_unref((uv_handle_t *)&s->pace);
    uv_unref((uv_handle_t *)&s->woke);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    uv_signal_init(&s->loop, &s->sighup);
    s->sigint.data = s->sigterm.data = s->sighup.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sighup, on_signal, SIGHUP);
}

int
cir_ingest_new(cir_ingest_t **out, const cir_ingest_config_t *cfg)
{
    cir_ingest_t *s = calloc(1, sizeof(*s));
    int ret;

    if (s == NULL) {
        return CIR_ENOMEM;
    }
    s->cfg = *cfg;
    s->log = (cir_log_ctx_t){.component = "ingest"};
    if ((s->view = av_packet_alloc()) == NULL) {
        free(s);
        return CIR_ENOMEM;
    }
    cir_rtmp_limits_default(&s->lim);
    s->lim.max_chunk_size = (uint32_t)cfg->max_chunk_size;
    s->lim.max_message_size = (uint32_t)cfg->max_message_size;
    s->lim.max_message_size_before_publish =
        (uint32_t)cfg->max_message_size_before_publish;
    s->lim.window_ack_size = (uint32_t)cfg->window_ack_size;
    if ((ret = uv_loop_init(&s->loop)) < 0) {
        av_packet_free(&s->view);
        free(s);
        return ret;
    }
    if ((ret = load_configured(s)) < 0 || (ret = srv_push_configure(s)) < 0 ||
        (ret = listen_all(s)) < 0 || (ret = start_curl(s)) < 0) {
        goto fail;
    }
    start_timers_and_signals(s);
    srv_webhook_start(s);
    /* one line a test or a supervisor can wait for */
    cir_log_info(&s->log,
                 "listening rtmp=%s:%d rtmps=%d srt=%d status=%s:%d "
                 "live_root=%s preset=%s applications=%zu",
                 s->cfg.listen, (int)s->cfg.port, (int)s->cfg.rtmps_port,
                 (int)s->cfg.srt_port, s->cfg.status_listen,
                 (int)s->cfg.status_port, s->apps[0].cfg.live_root,
                 s->apps[0].have_preset ? s->apps[0].cfg.preset : "none",
                 s->napps);
    *out = s;
    return 0;
fail:
    /* handles may be open: close them and let the loop finish */
    uv_walk(&s->loop, close_walk, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    srv_apps_free(s);
    srv_tls_free(s);
    srv_srt_free(s);
    av_packet_free(&s->view);
    free(s);
    return ret < 0 ? ret : CIR_EINVAL;
}

int
cir_ingest_run(cir_ingest_t *s)
{
    return uv_run(&s->loop, UV_RUN_DEFAULT);
}

void
cir_ingest_free(cir_ingest_t **sp)
{
    cir_ingest_t *s = *sp;

    if (s == NULL) {
        return;
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (s->multi != NULL) {
        curl_multi_cleanup(s->multi);
    }
    uv_loop_close(&s->loop);
    srv_apps_free(s);
    srv_tls_free(s);
    srv_srt_free(s);
    av_packet_free(&s->view);
    free(s);
    *sp = NULL;
}
