/*
 * What the rooms of the RTMP server share: the server, its streams and
 * connections, and the calls between the rooms (server.c: the loop and
 * its pacing; stream.c: stream lifecycle and the FLV tags; pipe.c: the
 * queue in front of a stream's pipeline thread; conn.c: RTMP connections;
 * auth.c: HTTP publish callbacks through curl on the loop; status_http.c:
 * the status endpoint).  Private to ingest/src/live.
 */
#ifndef CIR_INGEST_SERVER_INTERNAL_H
#define CIR_INGEST_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>
#include <libavcodec/packet.h>
#include <libavutil/mem.h>
#include <uv.h>

#include "cir_buf.h"
#include "cir_clock.h"
#include "cir_bqueue.h"
#include "cir_error.h"
#include "cir_onair.h"
#include "cir_log.h"
#include "cir_preset_codecs.h"
#include "cir_rtmp.h"
#include "cir_ingest.h"

#define READ_BUF      (64 * 1024)
#define OUT_MAX       (4 * 1024 * 1024)
#define PENDING_MAX   512 /* packets held until both tracks are known */
#define PENDING_FORCE 150 /* ... or configure with what is known */
#define TICK_MS       250
/* the queue in front of a stream's pipeline thread: its limits are the
 * pipe_queue_* options (cir_bqueue.h: which packet goes when) */
#define DROP_WARN_US 5000000
/* Wakes cost a context switch each (they were most of cirrus-ingest's
 * CPU per passthrough stream once the live store was cheap): the thread is
 * woken for a keyframe, a control item, a batch, or a packet at or past
 * where the pipeline says a part may complete (cir_onair_wake_us, so no
 * latency is added), and otherwise sleeps; WAKE_NS is a backstop. */
#define WAKE_BATCH 64
#define WAKE_NS    (UINT64_C(500) * 1000000)

/* on_frame hands tags to FFmpeg without a copy on streams packaged on
 * the loop */
_Static_assert(CIR_RTMP_MSG_PADDING >= AV_INPUT_BUFFER_PADDING_SIZE,
               "RTMP messages must carry FFmpeg's input padding");

#define SRV_PUSH_MAX 8 /* push destinations */

typedef struct conn conn_t;
typedef struct stream stream_t;

/* An application (rtmp://host/NAME/KEY): its settings and what they load.
 * Read-only once the server listens, but for keys (the loop's). */
typedef struct srv_app {
    cir_ingest_app_config_t cfg;
    cir_keyfile_t keys;  /* of cfg.key_file */
    cir_preset_t preset; /* the live ABR preset */
    int have_preset;
    cir_rtmp_url_t push_urls[SRV_PUSH_MAX]; /* its push option's */
    size_t npush;
    /* cfg.encryption's, with the key (from its key file or key provider,
     * at start); CIR_ENC_NONE: clear.  Cleared from memory at the end. */
    cir_encryption_t enc;
    uint32_t rotate_segments; /* key rotation; 0: one key */
} srv_app_t;
typedef struct webhook webhook_t;
typedef struct srv_srt srv_srt_t; /* srt.c */

/* A transfer on the loop's curl multi (CURLOPT_PRIVATE): done() when it
 * ends, with curl's result and the HTTP status. */
typedef struct srv_curl_job {
    void (*done)(struct srv_curl_job *j, CURLcode result, long status);
} srv_curl_job_t;

typedef struct {
    int video;
    AVPacket *pkt;          /* a packet, or */
    AVCodecParameters *par; /* a new sequence header, or */
    int pause;              /* the publisher left (cir_onair_pause) */
} item_t;

/* A stream's pipeline: cir_onair_* runs on a thread of its own when it
 * decodes, encodes or records (a preset, non-AAC audio, record_uri); the
 * loop feeds it through a bounded queue and the thread wakes the loop with
 * uv_async_send.  A passthrough-only stream is packaged on the loop instead
 * (on_loop; see packages_on_loop). */
typedef struct {
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    cir_bqueue_t q;     /* of item_t; under mu */
    int finish;         /* loop -> thread: drain, then end the stream */
    int64_t wake_us[2]; /* thread -> loop: [video] cir_onair_wake_us */
    int done, failed;   /* thread -> loop */
    int on_loop;        /* no thread: packaged on the loop, queue unused */
    cir_onair_t *live;  /* under mu (the loop reads stats) */
    atomic_uint_fast64_t errors;
    /* set by the loop before the thread starts, then read-only */
    AVCodecParameters *vpar, *apar;
    AVRational frame_rate;
    uint64_t vbw, abw;
    char record[2048];
} pipe_t;

struct stream {
    stream_t *next;
    struct cir_ingest *srv;
    srv_app_t *app;
    char key[64];
    cir_log_ctx_t log; /* with its application */
    conn_t *publisher;
    struct srt_pub *srt_publisher; /* or the SRT one (srt.c) */
    const char *protocol;          /* the last publisher's: "rtmp", ... */
    uv_timer_t grace;
    uv_async_t async;
    int handles; /* open handles; freed at 0 */
    int closing;
    int started;            /* the pipeline runs (its thread, unless on_loop) */
    const char *end_reason; /* why it ends, for publish_done */
    pipe_t pipe;
    struct srv_push *push; /* its push destinations (push.c), or NULL */
    uint64_t qdropped;     /* dropped at the queue */
    uint64_t qdropped_warned;
    int64_t qwarn_us;
    int configured;
    AVCodecParameters *vpar, *apar;
    int expect_video, expect_audio; /* from onMetaData; 1 when unknown */
    double frame_rate, video_kbps, audio_kbps;
    int width, height;
    AVPacket *pending[PENDING_MAX];
    int pending_video[PENDING_MAX];
    size_t npending;
    /* stats */
    int64_t start_us;
    time_t start_wall;
    uint64_t bytes, frames, dropped;
    uint64_t win_bytes, win_frames;
    double bitrate, fps;
};

typedef enum {
    AUTH_NONE,
    AUTH_WAIT
} auth_state_t;

struct conn {
    conn_t *next, **pprev;
    struct cir_ingest *srv;
    uv_tcp_t tcp;
    uv_timer_t timer;
    int handles; /* open handles; freed at 0 */
    cir_rtmp_conn_t *rtmp;
    stream_t *stream;
    srv_app_t *app; /* from the connect */
    char key[64];
    char peer[64];
    char addr[48]; /* the peer's IP address, for the per-address limit */
    cir_log_ctx_t log;
    int64_t accepted_us, last_read_us;
    int64_t rate_start_us;
    uint64_t rate_bytes;
    int paused, closing, publishing;
    size_t write_pending;
    uint64_t buffered;   /* cir_rtmp_conn_buffered_bytes when last read */
    struct srv_tls *tls; /* RTMPS (tls.c), or NULL */
    CURL *auth;
    srv_curl_job_t auth_job; /* auth's owner (auth.c) */
    char *auth_body;
};

/* the curl_multi socket watcher */
typedef struct {
    uv_poll_t poll;
    curl_socket_t fd;
    struct cir_ingest *srv;
} curl_watch_t;

struct cir_ingest {
    cir_ingest_config_t cfg;
    uv_loop_t loop;
    uv_tcp_t listener, status;
    uv_tcp_t rtmps_listener;           /* when rtmps_port > 0 */
    struct ssl_ctx_st *tls_ctx;        /* its certificate (tls.c) */
    struct ssl_ctx_st *tls_client_ctx; /* rtmps:// pushes' (tls.c) */
    srv_srt_t *srt;                    /* when srt_port > 0 */
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t stats, curl_timer;
    uv_prepare_t pace;
    uv_check_t woke;
    int64_t woke_us; /* when the last loop turn's I/O was handled */
    CURLM *multi;
    srv_app_t *apps; /* the applications */
    size_t napps;
    /* publishes refused: unknown application (also counted on the SRT
     * thread), key refused */
    atomic_uint_fast64_t refused_unknown_app, refused_key;
    /* unknown applications logged (RTMP): a burst a second, the rest
     * counted (app.c) */
    int64_t app_refused_window_us;
    unsigned app_refused_logged;
    uint64_t app_refused_unlogged;
    conn_t *conns;
    size_t nconns;
    uint64_t buffered; /* the connections' buffered bytes, summed */
    /* what the limits before a publish did (cir_ingest_server_stats_t) */
    uint64_t closed_for_room, closed_over_buffered, refused;
    int64_t limit_logged_us; /* the last of those logged (one line a second) */
    /* webhooks (webhook.c): deliveries waiting, what became of them */
    webhook_t *webhooks;
    size_t webhooks_pending;
    uint64_t webhooks_delivered, webhooks_failed, webhooks_dropped;
    uv_timer_t webhook_update;
    uint64_t limit_unlogged; /* since then, not logged */
    stream_t *streams;
    size_t nstreams;
    cir_rtmp_limits_t lim;
    cir_log_ctx_t log;
    AVPacket *view; /* a tag's payload, for streams packaged on the loop */
    uint8_t readbuf[READ_BUF];
    int stopping;
};

/* ---- between the rooms (srv_: private to this folder) ---- */

/* server.c */
int64_t srv_now_us(void);

/* apps.c: the applications */
int srv_apps_load(cir_ingest_t *s); /* settings, key files, presets */
void srv_apps_free(cir_ingest_t *s);
void srv_apps_reload_keys(cir_ingest_t *s); /* SIGHUP */
/* The application called name, or NULL (also from the SRT thread). */
srv_app_t *srv_app_find(cir_ingest_t *s, const char *name);
/* An application that is not configured (name NULL: not a name): logged,
 * counted; what from the peer ("1.2.3.4:5678: RTMP connect"). */
void srv_app_refused(cir_ingest_t *s, const char *name, const char *what);

/* stream.c */
stream_t *srv_stream_find(cir_ingest_t *s, const srv_app_t *app,
                          const char *key);
stream_t *srv_stream_new(cir_ingest_t *s, srv_app_t *app, const char *key);
void srv_stream_detach(stream_t *st);
void srv_stream_end(stream_t *st);
void srv_stream_release(stream_t *st);
void srv_pending_clear(stream_t *st);
enum AVCodecID srv_codec_id(cir_flv_codec_t c);
int srv_try_configure(stream_t *st, int force);
int srv_on_sequence_header(stream_t *st, int video, const cir_flv_tag_t *t);
int srv_on_frame(stream_t *st, int video, uint32_t ts, const cir_flv_tag_t *t);

/* pipe.c */
void srv_item_free(item_t *it);
void srv_pipe_queue_limits(const cir_ingest_config_t *cfg,
                           cir_bqueue_limits_t *lim);
void srv_feed(stream_t *st, item_t *it);
void srv_push(stream_t *st, int video, AVPacket **pkt);
int srv_start_pipe(stream_t *st);
void srv_pipe_finish(stream_t *st, cir_onair_t **live);
void srv_pipe_run(stream_t *st, cir_onair_t *live, const item_t *it);

/* conn.c */
void srv_conn_close(conn_t *c);
void srv_publish_decided(conn_t *c, int allowed);
void srv_on_connection(uv_stream_t *server, int status);
void srv_on_tls_connection(uv_stream_t *server, int status);

/* webhook.c: lifecycle webhooks; body (taken) gets "event" and "time" */
void srv_webhook_send(cir_ingest_t *s, const char *event, json_t *body);
void srv_webhook_start(cir_ingest_t *s);
void srv_webhook_stop(cir_ingest_t *s);
/* status_http.c: a stream as the status lists it (info->live to free) */
void srv_stream_info(stream_t *st, cir_ingest_stream_info_t *info, int64_t now);

/* tls.c: TLS over memory BIOs, for RTMPS connections and rtmps:// pushes */
typedef struct srv_tls {
    struct ssl_st *ssl;
    cir_buf_t out;   /* encrypted bytes to send */
    char error[256]; /* why the last call failed */
} srv_tls_t;
typedef int (*srv_tls_plain_fn)(void *opaque, const uint8_t *p, size_t n);
int srv_tls_load(cir_ingest_t *s); /* (re)loads the certificate and key */
/* The push destinations' context (push_tls_verify, push_tls_ca_file). */
int srv_tls_client_load(cir_ingest_t *s);
void srv_tls_free(cir_ingest_t *s);
/* A session: the server side when host is NULL, else a client verifying
 * host (SNI too, when a name); out holds at most out_max bytes. */
int srv_tls_open(srv_tls_t *t, struct ssl_ctx_st *ctx, const char *host,
                 size_t out_max);
void srv_tls_close(srv_tls_t *t);
/* Decrypts bytes from the socket, giving the plaintext to fn; the
 * handshake's own records go to t->out.  On an error t->error says why. */
int srv_tls_feed(srv_tls_t *t, const uint8_t *p, size_t n, srv_tls_plain_fn fn,
                 void *opaque);
/* Encrypts plain (then emptied; kept while the handshake runs) into
 * t->out. */
int srv_tls_send(srv_tls_t *t, cir_buf_t *plain);
/* The same for an RTMPS connection, its failures logged. */
typedef int (*srv_tls_conn_plain_fn)(conn_t *c, const uint8_t *p, size_t n);
int srv_tls_conn_new(conn_t *c);
void srv_tls_conn_free(conn_t *c);
int srv_tls_read(conn_t *c, const uint8_t *p, size_t n,
                 srv_tls_conn_plain_fn fn);
int srv_tls_write(conn_t *c, cir_buf_t *plain);

/* auth.c */
int srv_start_http_auth(conn_t *c, const char *query);
/* CURLOPT_WRITEFUNCTION for answers whose body does not matter */
size_t srv_curl_discard(char *p, size_t size, size_t n, void *opaque);
/* The application's key file allows key (or it has none); reloaded when
 * it changed. */
int srv_key_file_allows(cir_ingest_t *s, srv_app_t *app, const char *key);
/* Asks the application's on_publish_url about key; job->done (set by the
 * caller) hears the answer; *handle and *body are the caller's
 * (curl_easy_cleanup, free). */
int srv_http_auth_start(cir_ingest_t *s, const srv_app_t *app,
                        srv_curl_job_t *job, CURL **handle, char **body,
                        const char *key, const char *query, const char *peer);
int srv_curl_timer_fn(CURLM *multi, long timeout_ms, void *opaque);
int srv_curl_socket_fn(CURL *e, curl_socket_t fd, int what, void *opaque,
                       void *sockp);

/* srt.c: the SRT listener (srt_port), its thread and publishers */
int srv_srt_start(cir_ingest_t *s);
void srv_srt_stop(cir_ingest_t *s);
void srv_srt_free(cir_ingest_t *s);
/* The SRT figures of /metrics (none when srt_port is 0). */
void srv_srt_stats(const cir_ingest_t *s, cir_ingest_server_stats_t *st);
/* The stream's SRT publisher (if any) goes: it ends, or is taken over. */
void srv_srt_publisher_drop(stream_t *st);
/* push.c: restreaming to the push option's destinations */
int srv_push_configure(cir_ingest_t *s); /* checks and logs the URLs */
/* The stream's destinations (apps.c): its key's own, from the key file,
 * else its application's; *n of them into urls. */
void srv_push_targets(stream_t *st, cir_rtmp_url_t urls[SRV_PUSH_MAX],
                      size_t *n);
/* Whether the stream has any destination (without parsing them). */
int srv_push_wanted(const stream_t *st);
void srv_push_metadata(stream_t *st, const cir_amf_t *meta);
/* An FLV script tag's body ("onMetaData" and its array) as the metadata */
void srv_push_script(stream_t *st, const uint8_t *body, size_t n);
void srv_push_media(stream_t *st, int video, uint32_t ts, const uint8_t *data,
                    size_t n, const cir_flv_tag_t *t);
void srv_push_stop(stream_t *st); /* the publisher left, or the stream ends */
void srv_push_info(stream_t *st, const cir_ingest_push_info_t **info,
                   size_t *n);
/* push_flv.c: an SRT publisher's tracks and packets (ms timestamps) as FLV
 * tags for the push (*m made at the first call when there is a push,
 * freed with srv_push_flv_free) */
typedef struct srv_flvmux srv_flvmux_t;
void srv_push_flv_track(stream_t *st, srv_flvmux_t **m, int video,
                        const AVCodecParameters *par);
void srv_push_flv_packet(stream_t *st, srv_flvmux_t **m, int video,
                         const AVPacket *pkt);
void srv_push_flv_free(srv_flvmux_t **m);

/* status_http.c */
void srv_on_status_connection(uv_stream_t *server, int status);

#endif
