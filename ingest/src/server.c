/*
 * The RTMP server on libuv.  The loop moves bytes between sockets and the
 * pure connection state machine (cir_rtmp_conn_t), asks for stream keys
 * (a key file, or an HTTP callback through curl_multi_socket_action), and
 * hands demuxed packets to the live pipeline, one per stream key.
 */
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

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_live_pipeline.h"
#include "cir_log.h"
#include "cir_preset_codecs.h"
#include "cir_rtmp.h"
#include "cir_ingest.h"

#define READ_BUF      (64 * 1024)
#define OUT_MAX       (4 * 1024 * 1024)
#define PENDING_MAX   512 /* packets held until both tracks are known */
#define PENDING_FORCE 150 /* ... or configure with what is known */
#define TICK_MS       250
/* the queue in front of a stream's pipeline thread */
#define QUEUE_MAX        1024 /* items (control items may use the last few) */
#define QUEUE_PACKETS    (QUEUE_MAX - 16)
#define QUEUE_SOFT       256 /* past this, non-key video is dropped */
#define QUEUE_BYTES_SOFT (24 << 20)
#define QUEUE_BYTES_MAX  (64 << 20)
#define DROP_WARN_US     5000000
/* Wakes cost a context switch each (they were most of cirrus-ingest's
 * CPU per passthrough stream once the live store was cheap): the thread is
 * woken for a keyframe, a control item, a batch, or a packet at or past
 * where the pipeline says a part may complete (cir_live_wake_us, so no
 * latency is added), and otherwise sleeps; WAKE_NS is a backstop. */
#define WAKE_BATCH 64
#define WAKE_NS    (UINT64_C(500) * 1000000)

/* on_frame hands tags to FFmpeg without a copy on streams packaged on
 * the loop */
_Static_assert(CIR_RTMP_MSG_PADDING >= AV_INPUT_BUFFER_PADDING_SIZE,
               "RTMP messages must carry FFmpeg's input padding");

typedef struct conn conn_t;
typedef struct stream stream_t;

typedef struct {
    int video;
    AVPacket *pkt;          /* a packet, or */
    AVCodecParameters *par; /* a new sequence header, or */
    int pause;              /* the publisher left (cir_live_pause) */
} item_t;

/* A stream's pipeline: cir_live_* runs on a thread of its own when it
 * decodes, encodes or records (a preset, non-AAC audio, record_uri); the
 * loop feeds it through a bounded queue and the thread wakes the loop with
 * uv_async_send.  A passthrough-only stream is packaged on the loop instead
 * (on_loop; see packages_on_loop). */
typedef struct {
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    item_t q[QUEUE_MAX];
    size_t head, n, bytes;
    int finish;         /* loop -> thread: drain, then end the stream */
    int64_t wake_us[2]; /* thread -> loop: [video] cir_live_wake_us */
    int done, failed;   /* thread -> loop */
    int on_loop;        /* no thread: packaged on the loop, queue unused */
    cir_live_t *live;   /* under mu (the loop reads stats) */
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
    char key[64];
    cir_log_ctx_t log;
    conn_t *publisher;
    uv_timer_t grace;
    uv_async_t async;
    int handles; /* open handles; freed at 0 */
    int closing;
    int started; /* the pipeline runs (its thread, unless on_loop) */
    pipe_t pipe;
    int wait_key;      /* a video packet was dropped: drop until a key */
    uint64_t qdropped; /* dropped at the queue */
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
    char key[64];
    char peer[64];
    cir_log_ctx_t log;
    int64_t accepted_us, last_read_us;
    int64_t rate_start_us;
    uint64_t rate_bytes;
    int paused, closing, publishing;
    size_t write_pending;
    CURL *auth;
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
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t stats, curl_timer;
    uv_prepare_t pace;
    uv_check_t woke;
    int64_t woke_us; /* when the last loop turn's I/O was handled */
    CURLM *multi;
    cir_keyfile_t keys;
    conn_t *conns;
    size_t nconns;
    stream_t *streams;
    size_t nstreams;
    cir_preset_t preset; /* the live ABR preset */
    int have_preset;
    cir_rtmp_limits_t lim;
    cir_log_ctx_t log;
    AVPacket *view; /* a tag's payload, for streams packaged on the loop */
    uint8_t readbuf[READ_BUF];
    int stopping;
};

static int64_t
now_us(void)
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

    s->woke_us = now_us();
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
    wait = s->woke_us + pace_us - now_us();
    if (wait > 0 && wait <= pace_us) {
        ts.tv_sec = 0;
        ts.tv_nsec = (long)wait * 1000;
        nanosleep(&ts, NULL);
    }
}

/* ---- streams -------------------------------------------------------------
 */

static void
pending_clear(stream_t *st)
{
    for (size_t i = 0; i < st->npending; i++) {
        av_packet_free(&st->pending[i]);
    }
    st->npending = 0;
}

static void
item_free(item_t *it)
{
    av_packet_free(&it->pkt);
    avcodec_parameters_free(&it->par);
}

static void
stream_handle_closed(uv_handle_t *h)
{
    stream_t *st = h->data;
    pipe_t *p = &st->pipe;

    if (--st->handles > 0) {
        return;
    }
    while (p->n > 0) {
        item_free(&p->q[p->head]);
        p->head = (p->head + 1) % QUEUE_MAX;
        p->n--;
    }
    uv_mutex_destroy(&p->mu);
    uv_cond_destroy(&p->cv);
    avcodec_parameters_free(&p->vpar);
    avcodec_parameters_free(&p->apar);
    avcodec_parameters_free(&st->vpar);
    avcodec_parameters_free(&st->apar);
    free(st);
}

/* The pipeline is gone (or never started): forget the stream. */
static void
stream_release(stream_t *st)
{
    cir_ingest_t *s = st->srv;

    for (stream_t **pp = &s->streams; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            s->nstreams--;
            break;
        }
    }
    cir_log_info(&st->log, "stream ended");
    uv_close((uv_handle_t *)&st->grace, stream_handle_closed);
    uv_close((uv_handle_t *)&st->async, stream_handle_closed);
}

static void pipe_finish(stream_t *st, cir_live_t **live);

/* Ends a stream: the pipeline writes the last parts and ENDLIST, then the
 * loop forgets the stream.  It stays listed (and its key busy) until then. */
static void
stream_end(stream_t *st)
{
    if (st->closing) {
        return;
    }
    st->closing = 1;
    uv_timer_stop(&st->grace);
    pending_clear(st);
    if (!st->started) {
        stream_release(st);
        return;
    }
    if (st->pipe.on_loop) {
        cir_live_t *live = st->pipe.live;
        pipe_finish(st, &live);
        st->started = 0;
        stream_release(st);
        return;
    }
    uv_mutex_lock(&st->pipe.mu);
    st->pipe.finish = 1;
    uv_cond_signal(&st->pipe.cv);
    uv_mutex_unlock(&st->pipe.mu);
}

static void
grace_expired(uv_timer_t *t)
{
    stream_t *st = t->data;

    cir_log_info(&st->log, "publisher did not come back: ending");
    stream_end(st);
}

static stream_t *
stream_find(cir_ingest_t *s, const char *key)
{
    for (stream_t *st = s->streams; st != NULL; st = st->next) {
        if (strcmp(st->key, key) == 0) {
            return st;
        }
    }
    return NULL;
}

static void conn_close(conn_t *c);

/* uv_async coalesces: look at the whole state, not at one event. */
static void
stream_async(uv_async_t *a)
{
    stream_t *st = a->data;
    pipe_t *p = &st->pipe;
    int done, failed;

    uv_mutex_lock(&p->mu);
    done = p->done;
    failed = p->failed;
    uv_mutex_unlock(&p->mu);
    if (failed && !st->closing) {
        cir_log_error(&st->log, "the live pipeline failed: ending the stream");
        if (st->publisher != NULL) {
            conn_t *c = st->publisher;
            st->publisher = NULL;
            conn_close(c);
        }
        stream_end(st);
    }
    if (done && st->started) {
        uv_thread_join(&p->thread);
        st->started = 0;
        stream_release(st);
    }
}

static stream_t *
stream_new(cir_ingest_t *s, const char *key)
{
    stream_t *st = calloc(1, sizeof(*st));

    if (st == NULL) {
        return NULL;
    }
    if (uv_mutex_init(&st->pipe.mu) < 0) {
        free(st);
        return NULL;
    }
    if (uv_cond_init(&st->pipe.cv) < 0) {
        uv_mutex_destroy(&st->pipe.mu);
        free(st);
        return NULL;
    }
    if (uv_async_init(&s->loop, &st->async, stream_async) < 0) {
        uv_cond_destroy(&st->pipe.cv);
        uv_mutex_destroy(&st->pipe.mu);
        free(st);
        return NULL;
    }
    st->srv = s;
    snprintf(st->key, sizeof(st->key), "%s", key);
    st->log = (cir_log_ctx_t){.component = "ingest", .stream = st->key};
    st->expect_video = st->expect_audio = 1;
    st->start_us = now_us();
    uv_timer_init(&s->loop, &st->grace);
    st->grace.data = st;
    st->async.data = st;
    st->handles = 2;
    st->next = s->streams;
    s->streams = st;
    s->nstreams++;
    return st;
}

static void feed(stream_t *st, item_t *it);

/* The publisher left without unpublishing: the stream waits grace_seconds
 * for it (a clean unpublish ends the stream at once, see on_unpublish). */
static void
stream_detach(stream_t *st)
{
    st->publisher = NULL;
    if (st->closing) {
        return;
    }
    pending_clear(st);
    if (st->srv->stopping || st->srv->cfg.grace_seconds <= 0 ||
        !st->configured) {
        stream_end(st);
        return;
    }
    cir_log_info(&st->log, "publisher gone: waiting %.1f s for it",
                 st->srv->cfg.grace_seconds);
    /* meanwhile players get whole segments, not an open one */
    feed(st, &(item_t){.pause = 1});
    uv_timer_start(&st->grace, grace_expired,
                   (uint64_t)(st->srv->cfg.grace_seconds * 1000), 0);
}

/* ---- the pipeline thread ------------------------------------------------ */

static int
open_live(stream_t *st, cir_live_t **live)
{
    cir_ingest_t *s = st->srv;
    cir_ingest_config_t *cfg = &s->cfg;
    pipe_t *p = &st->pipe;
    cir_live_config_t lc = {
        .live_root = cfg->live_root,
        .stream = st->key,
        .part_seconds = cfg->part_seconds,
        .segment_seconds = cfg->segment_seconds,
        .window = (uint32_t)cfg->window,
        .max_gap_seconds = cfg->timestamp_gap_seconds,
        .max_correction_seconds = cfg->timestamp_correction_seconds,
        .ts_wrap_bits = 32, /* RTMP timestamps: 32 bits of ms */
        .preset = s->have_preset ? &s->preset : NULL,
        .passthrough = 1,
        .record_uri = p->record[0] != '\0' ? p->record : NULL,
    };
    int ret;

    if ((ret = cir_live_open(live, &lc)) < 0) {
        return ret;
    }
    /* width 0 (no onMetaData): the pipeline reads it from the SPS */
    if (p->vpar != NULL &&
        (ret = cir_live_add_video(*live, p->vpar, (AVRational){1, 1000},
                                  p->frame_rate, p->vbw)) < 0) {
        goto fail;
    }
    if (p->apar != NULL &&
        (ret = cir_live_add_audio(*live, p->apar, (AVRational){1, 1000},
                                  p->abw)) < 0) {
        goto fail;
    }
    return 0;
fail:
    cir_live_close(live);
    return ret;
}

static void
pipe_error(stream_t *st, const char *what, int ret)
{
    uint64_t n = atomic_fetch_add(&st->pipe.errors, 1);

    /* every one at first, then one in a hundred */
    if (n < 10 || n % 100 == 0) {
        cir_log_warn(&st->log, "%s: %s (%llu so far)", what, cir_strerror(ret),
                     (unsigned long long)n + 1);
    }
}

/* One item into the pipeline (on its thread, or on the loop). */
static void
pipe_run(stream_t *st, cir_live_t *live, const item_t *it)
{
    int ret;

    if (live != NULL && it->pkt != NULL) {
        if ((ret = cir_live_push(live, it->video, it->pkt)) < 0) {
            pipe_error(st,
                       it->video ? "dropping a video packet"
                                 : "dropping an audio packet",
                       ret);
        }
    } else if (live != NULL && it->par != NULL) {
        if ((ret = cir_live_reconfigure(live, it->video, it->par)) < 0) {
            pipe_error(st, "new sequence header", ret);
        }
    } else if (live != NULL && it->pause) {
        if ((ret = cir_live_pause(live)) < 0) {
            pipe_error(st, "ending the open segments", ret);
        }
    }
}

/* The last parts and ENDLIST (and the recording); then the pipeline goes. */
static void
pipe_finish(stream_t *st, cir_live_t **live)
{
    pipe_t *p = &st->pipe;
    int ret;

    if (*live != NULL && (ret = cir_live_finish(*live)) < 0) {
        cir_log_error(&st->log, "finishing the stream: %s", cir_strerror(ret));
    }
    uv_mutex_lock(&p->mu);
    p->live = NULL;
    uv_mutex_unlock(&p->mu);
    cir_live_close(live);
}

static void
pipe_main(void *arg)
{
    stream_t *st = arg;
    pipe_t *p = &st->pipe;
    cir_live_t *live = NULL;
    item_t it;
    int ret;

    if ((ret = open_live(st, &live)) < 0) {
        cir_log_error(&st->log, "cannot start the live pipeline: %s",
                      cir_strerror(ret));
    }
    uv_mutex_lock(&p->mu);
    p->live = live;
    p->failed = live == NULL;
    uv_mutex_unlock(&p->mu);
    if (live == NULL) {
        uv_async_send(&st->async);
    }
    for (;;) {
        int64_t wv = live ? cir_live_wake_us(live, 1) : INT64_MIN;
        int64_t wa = live ? cir_live_wake_us(live, 0) : INT64_MIN;

        uv_mutex_lock(&p->mu);
        p->wake_us[1] = wv;
        p->wake_us[0] = wa;
        while (p->n == 0 && !p->finish) {
            (void)uv_cond_timedwait(&p->cv, &p->mu, WAKE_NS);
        }
        if (p->n == 0) {
            uv_mutex_unlock(&p->mu);
            break;
        }
        it = p->q[p->head];
        p->q[p->head] = (item_t){0};
        p->head = (p->head + 1) % QUEUE_MAX;
        p->n--;
        p->bytes -= it.pkt != NULL ? (size_t)it.pkt->size : 0;
        uv_mutex_unlock(&p->mu);
        pipe_run(st, live, &it);
        item_free(&it);
    }
    pipe_finish(st, &live);
    uv_mutex_lock(&p->mu);
    p->done = 1;
    uv_mutex_unlock(&p->mu);
    uv_async_send(&st->async);
}

/* Whether the thread wants this packet at once (p->mu held). */
static int
due(const pipe_t *p, const item_t *it)
{
    const AVPacket *pkt = it->pkt;
    int64_t ts;

    ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    if (ts == AV_NOPTS_VALUE || ts <= INT64_MIN / 1000) {
        return 1;
    }
    /* FLV times are milliseconds (open_live's time base) */
    return ts >= INT64_MAX / 1000 || ts * 1000 >= p->wake_us[it->video ? 1 : 0];
}

/* Hands an item to the thread (taking it).  Never blocks and never grows
 * past the limits: non-key video goes first when the thread falls behind,
 * then anything; after a dropped video packet the video waits for a key. */
static void
enqueue(stream_t *st, item_t *it)
{
    pipe_t *p = &st->pipe;
    size_t size = it->pkt != NULL ? (size_t)it->pkt->size : 0;
    int key = it->pkt == NULL || (it->pkt->flags & AV_PKT_FLAG_KEY);
    int drop;

    if (it->pkt != NULL && it->video && st->wait_key && !key) {
        drop = 1;
    } else {
        uv_mutex_lock(&p->mu);
        if (it->pkt == NULL) {
            drop = p->n >= QUEUE_MAX; /* control: the reserve */
        } else {
            drop = p->n >= QUEUE_PACKETS || p->bytes + size > QUEUE_BYTES_MAX ||
                   (it->video && !key &&
                    (p->n >= QUEUE_SOFT || p->bytes + size > QUEUE_BYTES_SOFT));
        }
        if (!drop) {
            p->q[(p->head + p->n) % QUEUE_MAX] = *it;
            p->n++;
            p->bytes += size;
            /* every AAC packet is a "key": only video keys cut */
            if (it->pkt == NULL || (it->video && key) || p->n >= WAKE_BATCH ||
                due(p, it)) {
                uv_cond_signal(&p->cv);
            }
        }
        uv_mutex_unlock(&p->mu);
    }
    if (!drop) {
        if (it->pkt != NULL && it->video && key) {
            st->wait_key = 0;
        }
        *it = (item_t){0};
        return;
    }
    if (it->video) {
        st->wait_key = 1;
    }
    st->dropped++;
    st->qdropped++;
    if (now_us() - st->qwarn_us >= DROP_WARN_US) {
        cir_log_warn(&st->log,
                     "the pipeline falls behind: %llu packets dropped "
                     "(%llu since the last warning)",
                     (unsigned long long)st->qdropped,
                     (unsigned long long)(st->qdropped - st->qdropped_warned));
        st->qwarn_us = now_us();
        st->qdropped_warned = st->qdropped;
    }
    item_free(it);
}

/* An item (taken) into the stream's pipeline: run now when the stream is
 * packaged on the loop, else queued for its thread. */
static void
feed(stream_t *st, item_t *it)
{
    if (st->pipe.on_loop) {
        pipe_run(st, st->pipe.live, it);
        item_free(it);
        return;
    }
    enqueue(st, it);
}

static void
push(stream_t *st, int video, AVPacket **pkt)
{
    item_t it = {.video = video, .pkt = *pkt};

    *pkt = NULL;
    feed(st, &it);
}

/*
 * Whether a stream is packaged on the loop rather than on a thread of its
 * own: when it is passed through only (no preset, AAC or no audio, no
 * recording), a packet costs one copy into the muxer and, three times a
 * second, a write to the page cache.  That is less than handing the packet
 * to a thread (the futex wake-ups and context switches were the largest
 * item of bench/ingest's profile), and it is how nginx-rtmp works.  A slow
 * disk then slows every stream on the loop (TCP pushes back; nothing is
 * dropped): package_on_loop=0 gives each stream its thread again.
 */
static int
packages_on_loop(const stream_t *st)
{
    const cir_ingest_t *s = st->srv;

    return s->cfg.package_on_loop && !s->have_preset &&
           s->cfg.record_uri[0] == '\0' &&
           (st->apar == NULL || st->apar->codec_id == AV_CODEC_ID_AAC);
}

static int
start_pipe(stream_t *st)
{
    cir_ingest_config_t *cfg = &st->srv->cfg;
    pipe_t *p = &st->pipe;
    int ret;

    if (st->vpar != NULL && (p->vpar = avcodec_parameters_alloc()) != NULL &&
        avcodec_parameters_copy(p->vpar, st->vpar) < 0) {
        avcodec_parameters_free(&p->vpar);
    }
    if (st->apar != NULL && (p->apar = avcodec_parameters_alloc()) != NULL &&
        avcodec_parameters_copy(p->apar, st->apar) < 0) {
        avcodec_parameters_free(&p->apar);
    }
    if ((st->vpar != NULL && p->vpar == NULL) ||
        (st->apar != NULL && p->apar == NULL)) {
        return CIR_ENOMEM;
    }
    if (st->frame_rate > 0) {
        p->frame_rate = av_d2q(st->frame_rate, 1001000);
    }
    p->vbw = (uint64_t)(st->video_kbps * 1100);
    p->abw = (uint64_t)(st->audio_kbps * 1100);
    if (cfg->record_uri[0] != '\0') {
        /* one VOD asset per stream and start */
        snprintf(p->record, sizeof(p->record), "%s/%s-%lld", cfg->record_uri,
                 st->key, (long long)time(NULL));
    }
    if (packages_on_loop(st)) {
        if ((ret = open_live(st, &p->live)) < 0) {
            return ret;
        }
        p->on_loop = 1;
        st->started = 1;
        return 0;
    }
    if ((ret = uv_thread_create(&p->thread, pipe_main, st)) < 0) {
        return ret;
    }
    st->started = 1;
    return 0;
}

/* Declares the tracks once their sequence headers are known (or once
 * enough packets came to stop waiting for a track that is not coming). */
static int
try_configure(stream_t *st, int force)
{
    int ret;

    if (st->configured) {
        return 0;
    }
    if (st->vpar == NULL && st->apar == NULL) {
        return 0;
    }
    if (!force && ((st->expect_video && st->vpar == NULL) ||
                   (st->expect_audio && st->apar == NULL))) {
        return 0;
    }
    if (!st->started && (ret = start_pipe(st)) < 0) {
        cir_log_error(&st->log, "cannot start the live pipeline: %s",
                      cir_strerror(ret));
        return ret;
    }
    st->configured = 1;
    cir_log_info(&st->log, "live: video %s %dx%d, audio %s, packaged %s",
                 st->vpar ? avcodec_get_name(st->vpar->codec_id) : "none",
                 st->width, st->height,
                 st->apar ? avcodec_get_name(st->apar->codec_id) : "none",
                 st->pipe.on_loop ? "on the loop" : "on its own thread");
    for (size_t i = 0; i < st->npending; i++) {
        push(st, st->pending_video[i], &st->pending[i]);
    }
    st->npending = 0;
    return 0;
}

static enum AVCodecID
codec_id(cir_flv_codec_t c)
{
    switch (c) {
    case CIR_FLV_CODEC_AVC:
        return AV_CODEC_ID_H264;
    case CIR_FLV_CODEC_HEVC:
        return AV_CODEC_ID_HEVC;
    case CIR_FLV_CODEC_AV1:
        return AV_CODEC_ID_AV1;
    case CIR_FLV_CODEC_VP9:
        return AV_CODEC_ID_VP9;
    case CIR_FLV_CODEC_AAC:
        return AV_CODEC_ID_AAC;
    default:
        return AV_CODEC_ID_NONE;
    }
}

static int
on_sequence_header(stream_t *st, int video, const cir_flv_tag_t *t)
{
    AVCodecParameters *par, **cur = video ? &st->vpar : &st->apar;
    int ret;

    if (t->size == 0 || t->size > 1 << 20) {
        return CIR_EMEDIA;
    }
    if (video && codec_id(t->codec) != AV_CODEC_ID_H264 &&
        codec_id(t->codec) != AV_CODEC_ID_HEVC) {
        /* accepted at connect (E-RTMP fourCcList), refused here */
        cir_log_error(&st->log,
                      "video codec %s: the live pipeline takes H.264 and "
                      "HEVC only: closing the publisher",
                      avcodec_get_name(codec_id(t->codec)));
        return CIR_EUNSUPPORTED;
    }
    if (*cur != NULL && (*cur)->extradata_size == (int)t->size &&
        memcmp((*cur)->extradata, t->data, t->size) == 0) {
        return 0; /* the same again (a reconnect, or a periodic repeat) */
    }
    par = avcodec_parameters_alloc();
    if (par == NULL) {
        return CIR_ENOMEM;
    }
    par->codec_type = video ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO;
    par->codec_id = codec_id(t->codec);
    par->extradata = av_mallocz(t->size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (par->extradata == NULL) {
        avcodec_parameters_free(&par);
        return CIR_ENOMEM;
    }
    memcpy(par->extradata, t->data, t->size);
    par->extradata_size = (int)t->size;
    if (video) {
        par->width = st->width;
        par->height = st->height;
        par->bit_rate = (int64_t)(st->video_kbps * 1000);
    } else {
        int rate = 0, ch = 0;
        if ((ret = cir_aac_parse_asc(t->data, t->size, &rate, &ch)) < 0) {
            avcodec_parameters_free(&par);
            cir_log_warn(&st->log, "bad AudioSpecificConfig");
            return CIR_EMEDIA;
        }
        par->sample_rate = rate;
        par->frame_size = 1024;
        av_channel_layout_default(&par->ch_layout, ch > 0 ? ch : 2);
        par->bit_rate = (int64_t)(st->audio_kbps * 1000);
    }
    if (st->configured && *cur != NULL) {
        cir_log_info(&st->log, "new %s sequence header: reconfiguring",
                     video ? "video" : "audio");
        item_t it = {.video = video, .par = avcodec_parameters_alloc()};
        if (it.par == NULL || avcodec_parameters_copy(it.par, par) < 0) {
            avcodec_parameters_free(&it.par);
            avcodec_parameters_free(&par);
            return CIR_ENOMEM;
        }
        feed(st, &it);
    } else if (st->configured) {
        /* a track the pipeline was not told about: ignored */
        avcodec_parameters_free(&par);
        return 0;
    }
    avcodec_parameters_free(cur);
    *cur = par;
    return try_configure(st, 0);
}

/* A coded frame's timing and flags, from its tag. */
static void
frame_props(stream_t *st, int video, uint32_t ts, const cir_flv_tag_t *t,
            AVPacket *pkt)
{
    pkt->dts = ts;
    pkt->pts = (int64_t)ts + t->cts;
    pkt->time_base = (AVRational){1, 1000};
    if (t->keyframe) {
        pkt->flags |= AV_PKT_FLAG_KEY;
    }
    /* nominal durations: FLV has none, and the muxer wants them */
    if (video && st->frame_rate > 0) {
        pkt->duration = (int64_t)(1000 / st->frame_rate + 0.5);
    } else if (!video && st->apar->sample_rate > 0) {
        pkt->duration = 1024000 / st->apar->sample_rate;
    }
}

static int
on_frame(stream_t *st, int video, uint32_t ts, const cir_flv_tag_t *t)
{
    AVPacket *pkt;

    if (t->size == 0) {
        return 0;
    }
    if ((video && st->vpar == NULL) || (!video && st->apar == NULL)) {
        st->dropped += video;
        return 0; /* frames before their sequence header */
    }
    if (st->configured && st->pipe.on_loop) {
        /* packaged before the next read: the tag's own bytes will do (the
         * reader pads every message, see CIR_RTMP_MSG_PADDING) */
        item_t it = {.video = video, .pkt = st->srv->view};
        pkt = it.pkt;
        pkt->data = (uint8_t *)t->data; /* read only */
        pkt->size = (int)t->size;
        frame_props(st, video, ts, t, pkt);
        pipe_run(st, st->pipe.live, &it);
        av_packet_unref(pkt);
        return 0;
    }
    pkt = av_packet_alloc();
    if (pkt == NULL || av_new_packet(pkt, (int)t->size) < 0) {
        av_packet_free(&pkt);
        return CIR_ENOMEM;
    }
    memcpy(pkt->data, t->data, t->size);
    frame_props(st, video, ts, t, pkt);
    if (st->configured) {
        push(st, video, &pkt);
        return 0;
    }
    if (st->npending >= PENDING_MAX) {
        av_packet_free(&pkt);
        st->dropped++;
        return 0;
    }
    st->pending_video[st->npending] = video;
    st->pending[st->npending++] = pkt;
    /* a track announced by nobody (no onMetaData) is not waited for long */
    return try_configure(st, st->npending >= PENDING_FORCE ||
                                 pkt->dts - st->pending[0]->dts >= 1000);
}

/* ---- connections ---------------------------------------------------------
 */

static void conn_close(conn_t *c);

static void
conn_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;

    if (--c->handles > 0) {
        return;
    }
    cir_rtmp_conn_free(&c->rtmp);
    free(c->auth_body);
    free(c);
}

typedef struct {
    uv_write_t req;
    size_t len;
    char data[];
} write_req_t;

static void
write_req_done(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    conn_t *c = req->data;

    c->write_pending -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        conn_close(c);
    }
}

static void
shutdown_done(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;

    free(req);
    (void)status;
    conn_close(c);
}

/* Sends what the connection produced; closes after it if it asked to. */
static void
conn_flush(conn_t *c)
{
    cir_buf_t *out = cir_rtmp_conn_output(c->rtmp);
    write_req_t *w;
    uv_buf_t buf;

    if (c->closing) {
        return;
    }
    if (out->len > 0) {
        if (c->write_pending + out->len > OUT_MAX) {
            cir_log_warn(&c->log, "%s: peer does not read: closing", c->peer);
            conn_close(c);
            return;
        }
        w = malloc(sizeof(*w) + out->len);
        if (w == NULL) {
            conn_close(c);
            return;
        }
        memcpy(w->data, out->data, out->len);
        w->len = out->len;
        w->req.data = c;
        buf = uv_buf_init(w->data, (unsigned)out->len);
        c->write_pending += out->len;
        cir_buf_reset(out);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, write_req_done) <
            0) {
            c->write_pending -= w->len;
            free(w);
            conn_close(c);
            return;
        }
    }
    if (cir_rtmp_conn_closing(c->rtmp)) {
        uv_shutdown_t *sd = malloc(sizeof(*sd));
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (sd == NULL) {
            conn_close(c);
            return;
        }
        sd->data = c;
        if (uv_shutdown(sd, (uv_stream_t *)&c->tcp, shutdown_done) < 0) {
            free(sd);
            conn_close(c);
            return;
        }
        c->closing = 1; /* the shutdown callback closes */
        c->publishing = 0;
        if (c->stream != NULL && c->stream->publisher == c) {
            stream_detach(c->stream);
        }
        c->stream = NULL;
    }
}

static void
conn_close(conn_t *c)
{
    if (c->handles == 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
        return;
    }
    c->closing = 1;
    if (c->auth != NULL) {
        curl_multi_remove_handle(c->srv->multi, c->auth);
        curl_easy_cleanup(c->auth);
        c->auth = NULL;
    }
    if (c->stream != NULL && c->stream->publisher == c) {
        stream_detach(c->stream);
    }
    c->stream = NULL;
    *c->pprev = c->next;
    if (c->next != NULL) {
        c->next->pprev = c->pprev;
    }
    c->srv->nconns--;
    cir_log_debug(&c->log, "%s: closed", c->peer);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

/* The key was checked: take the stream (or refuse). */
static void
publish_decided(conn_t *c, int allowed)
{
    cir_ingest_t *s = c->srv;
    cir_rtmp_publish_result_t r = CIR_RTMP_PUBLISH_OK;
    stream_t *st;

    if (!allowed) {
        cir_log_warn(&c->log, "%s: stream key refused", c->peer);
        r = CIR_RTMP_PUBLISH_UNAUTHORIZED;
        goto reply;
    }
    st = stream_find(s, c->key);
    if (st != NULL && st->closing) {
        cir_log_warn(&c->log, "%s: the stream is still ending: refused",
                     c->peer);
        r = CIR_RTMP_PUBLISH_BAD_NAME;
        goto reply;
    }
    if (st != NULL && st->publisher != NULL) {
        if (!s->cfg.takeover) {
            cir_log_warn(&c->log, "%s: already published: refused", c->peer);
            r = CIR_RTMP_PUBLISH_BAD_NAME;
            goto reply;
        }
        cir_log_info(&c->log, "%s: takes over the stream", c->peer);
        conn_t *old = st->publisher;
        old->stream = NULL;
        st->publisher = NULL;
        conn_close(old);
    }
    if (st == NULL) {
        if (s->nstreams >= (size_t)s->cfg.max_streams) {
            cir_log_warn(&c->log, "max_streams reached: refused");
            r = CIR_RTMP_PUBLISH_BAD_NAME;
            goto reply;
        }
        if ((st = stream_new(s, c->key)) == NULL) {
            r = CIR_RTMP_PUBLISH_BAD_NAME;
            goto reply;
        }
    } else {
        uv_timer_stop(&st->grace);
        cir_log_info(&c->log, "publisher is back: continuing the stream");
    }
    st->publisher = c;
    c->stream = st;
    c->publishing = 1;
    cir_log_info(&c->log, "%s: publishing", c->peer);
reply:
    if (cir_rtmp_conn_publish_reply(c->rtmp, r) < 0) {
        conn_close(c);
        return;
    }
    conn_flush(c);
}

static size_t
discard_body(char *p, size_t size, size_t n, void *opaque)
{
    (void)p;
    (void)opaque;
    return size * n;
}

static int
start_http_auth(conn_t *c, const char *query)
{
    CURL *e = curl_easy_init();
    char *k = NULL, *q = NULL, *body = NULL;
    size_t len;

    if (e == NULL) {
        return CIR_ENOMEM;
    }
    k = curl_easy_escape(e, c->key, 0);
    q = curl_easy_escape(e, query, 0);
    len = 64 + strlen(k ? k : "") + strlen(q ? q : "") + strlen(c->peer);
    body = malloc(len);
    if (k == NULL || q == NULL || body == NULL) {
        curl_free(k);
        curl_free(q);
        free(body);
        curl_easy_cleanup(e);
        return CIR_ENOMEM;
    }
    snprintf(body, len, "call=publish&app=live&name=%s&args=%s&addr=%s", k, q,
             c->peer);
    curl_free(k);
    curl_free(q);
    c->auth_body = body;
    curl_easy_setopt(e, CURLOPT_URL, c->srv->cfg.on_publish_url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     (long)(c->srv->cfg.auth_timeout * 1000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    c->auth = e;
    if (curl_multi_add_handle(c->srv->multi, e) != CURLM_OK) {
        c->auth = NULL;
        curl_easy_cleanup(e);
        return CIR_EIO;
    }
    return 0;
}

static int
on_publish(void *opaque, const char *key, const char *query)
{
    conn_t *c = opaque;
    cir_ingest_t *s = c->srv;
    int ret;

    snprintf(c->key, sizeof(c->key), "%s", key);
    c->log.stream = c->key;
    if (s->cfg.key_file[0] != '\0') {
        ret = cir_keyfile_load(&s->keys, s->cfg.key_file, 0);
        if (ret < 0) {
            cir_log_error(&s->log, "key file %s: %s", s->cfg.key_file,
                          cir_strerror(ret));
        }
        if (!cir_keyfile_allows(&s->keys, key)) {
            publish_decided(c, 0);
            return 0;
        }
    }
    if (s->cfg.on_publish_url[0] != '\0') {
        if ((ret = start_http_auth(c, query)) < 0) {
            publish_decided(c, 0);
        }
        return 0;
    }
    publish_decided(c, 1);
    return 0;
}

static int
on_metadata(void *opaque, const cir_amf_t *meta)
{
    conn_t *c = opaque;
    stream_t *st = c->stream;

    if (st == NULL) {
        return 0;
    }
    st->expect_video = cir_amf_get(meta, "videocodecid") != NULL;
    st->expect_audio = cir_amf_get(meta, "audiocodecid") != NULL;
    if (!st->expect_video && !st->expect_audio) {
        st->expect_video = st->expect_audio = 1; /* says nothing */
    }
    st->width = (int)cir_amf_get_number(meta, "width", 0);
    st->height = (int)cir_amf_get_number(meta, "height", 0);
    if (st->width < 0 || st->width > 16384 || st->height < 0 ||
        st->height > 16384) {
        st->width = st->height = 0;
    }
    st->frame_rate = cir_amf_get_number(meta, "framerate", 0);
    if (!(st->frame_rate > 0 && st->frame_rate <= 240)) {
        st->frame_rate = 0;
    }
    st->video_kbps = cir_amf_get_number(meta, "videodatarate", 0);
    st->audio_kbps = cir_amf_get_number(meta, "audiodatarate", 0);
    if (!(st->video_kbps >= 0 && st->video_kbps < 1e6)) {
        st->video_kbps = 0;
    }
    if (!(st->audio_kbps >= 0 && st->audio_kbps < 1e5)) {
        st->audio_kbps = 0;
    }
    return 0;
}

static int
on_media(void *opaque, int video, uint32_t ts, const uint8_t *p, size_t n)
{
    conn_t *c = opaque;
    stream_t *st = c->stream;
    cir_flv_tag_t t;
    int ret;

    if (st == NULL) {
        return 0;
    }
    st->bytes += n;
    st->win_bytes += n;
    if ((ret = video ? cir_flv_parse_video(p, n, &t)
                     : cir_flv_parse_audio(p, n, &t)) < 0) {
        cir_log_debug(&st->log, "skipping a malformed %s tag",
                      video ? "video" : "audio");
        st->dropped += video;
        return 0;
    }
    switch (t.packet) {
    case CIR_FLV_SEQUENCE_START:
        if (codec_id(t.codec) == AV_CODEC_ID_NONE) {
            return 0;
        }
        return on_sequence_header(st, video, &t);
    case CIR_FLV_CODED_FRAMES:
        if (video) {
            st->frames++;
            st->win_frames++;
        }
        return on_frame(st, video, ts, &t);
    default:
        return 0;
    }
}

static void
on_unpublish(void *opaque)
{
    conn_t *c = opaque;

    if (c->stream != NULL && c->stream->publisher == c) {
        /* a clean stop: ENDLIST now, no grace period */
        cir_log_info(&c->log, "unpublished: ending the stream");
        c->stream->publisher = NULL;
        try_configure(c->stream, 1); /* a short stream still publishes */
        stream_end(c->stream);
    }
    c->stream = NULL;
    c->publishing = 0;
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;

    (void)suggested;
    /* one buffer for the loop: the bytes are parsed before the next read */
    *buf = uv_buf_init((char *)c->srv->readbuf, READ_BUF);
}

static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = stream->data;
    cir_ingest_t *s = c->srv;
    int ret;

    if (nread < 0) {
        if (nread != UV_EOF) {
            cir_log_debug(&c->log, "%s: %s", c->peer, uv_strerror((int)nread));
        }
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing) {
        return;
    }
    c->last_read_us = now_us();
    c->rate_bytes += (uint64_t)nread;
    ret =
        cir_rtmp_conn_feed(c->rtmp, (const uint8_t *)buf->base, (size_t)nread);
    if (ret < 0 && ret != CIR_ECANCELED) {
        cir_log_warn(&c->log, "%s: %s: closing", c->peer, cir_strerror(ret));
        conn_close(c);
        return;
    }
    conn_flush(c);
    if (c->closing) {
        return;
    }
    if (s->cfg.max_bytes_per_second > 0 &&
        c->rate_bytes > (uint64_t)s->cfg.max_bytes_per_second) {
        /* over the rate: stop reading until the second is over */
        uv_read_stop(stream);
        c->paused = 1;
    }
}

static void
conn_tick(uv_timer_t *t)
{
    conn_t *c = t->data;
    cir_ingest_config_t *cfg = &c->srv->cfg;
    int64_t now = now_us();
    const char *why = NULL;

    if (now - c->rate_start_us >= 1000000) {
        c->rate_start_us = now;
        c->rate_bytes = 0;
        if (c->paused && !c->closing) {
            c->paused = 0;
            uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
        }
    }
    if (!cir_rtmp_conn_handshake_done(c->rtmp) &&
        now - c->accepted_us > (int64_t)(cfg->handshake_timeout * 1e6)) {
        why = "handshake timeout";
    } else if (!c->publishing && c->auth == NULL &&
               now - c->accepted_us > (int64_t)(cfg->publish_timeout * 1e6)) {
        why = "not publishing";
    } else if (!c->paused &&
               now - c->last_read_us > (int64_t)(cfg->idle_timeout * 1e6)) {
        why = "idle timeout";
    }
    if (why != NULL) {
        cir_log_info(&c->log, "%s: %s: closing", c->peer, why);
        conn_close(c);
    }
}

static void
on_connection(uv_stream_t *server, int status)
{
    cir_ingest_t *s = server->data;
    cir_rtmp_handler_t h = {on_publish, on_metadata, on_media, on_unpublish,
                            NULL};
    uint8_t rnd[1528];
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    conn_t *c;

    if (status < 0) {
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return;
    }
    c->srv = s;
    uv_tcp_init(&s->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return;
    }
    if (s->nconns >= (size_t)s->cfg.max_connections || s->stopping) {
        cir_log_warn(&s->log, "max_connections reached: refusing");
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        memset(rnd, 0x5a, sizeof(rnd));
    }
    h.opaque = c;
    if (cir_rtmp_conn_new(&c->rtmp, &s->lim, &h, (uint32_t)(now_us() / 1000),
                          rnd, OUT_MAX) < 0) {
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return;
    }
    snprintf(c->peer, sizeof(c->peer), "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        char ip[48] = "?";
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
            snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip,
                     ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
            snprintf(c->peer, sizeof(c->peer), "%s:%d", ip,
                     ntohs(((struct sockaddr_in *)&ss)->sin_port));
        }
    }
    c->log = (cir_log_ctx_t){.component = "rtmp"};
    c->accepted_us = c->last_read_us = c->rate_start_us = now_us();
    uv_timer_init(&s->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    uv_timer_start(&c->timer, conn_tick, TICK_MS, TICK_MS);
    c->next = s->conns;
    if (c->next != NULL) {
        c->next->pprev = &c->next;
    }
    c->pprev = &s->conns;
    s->conns = c;
    s->nconns++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    cir_log_debug(&c->log, "%s: connected", c->peer);
}

/* ---- curl multi on the loop (after curl's multi-uv.c) -------------------
 */

static void
curl_check_done(cir_ingest_t *s)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
        conn_t *c = NULL;
        long code = 0;
        int ok;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        ok = m->data.result == CURLE_OK && code >= 200 && code < 300;
        if (m->data.result != CURLE_OK) {
            cir_log_warn(&s->log, "on_publish: %s",
                         curl_easy_strerror(m->data.result));
        }
        curl_multi_remove_handle(s->multi, m->easy_handle);
        curl_easy_cleanup(m->easy_handle);
        if (c != NULL) {
            c->auth = NULL;
            publish_decided(c, ok);
        }
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

static int
curl_timer_fn(CURLM *multi, long timeout_ms, void *opaque)
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

static int
curl_socket_fn(CURL *e, curl_socket_t fd, int what, void *opaque, void *sockp)
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

/* ---- status HTTP ---------------------------------------------------------
 */

typedef struct {
    uv_tcp_t tcp;
    cir_ingest_t *srv;
    char req[2048];
    size_t len;
    int answered;
} http_conn_t;

static void
http_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
http_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    http_conn_t *hc = h->data;

    (void)suggested;
    *buf = uv_buf_init(hc->req + hc->len,
                       (unsigned)(sizeof(hc->req) - 1 - hc->len));
}

static void
http_written(uv_write_t *req, int status)
{
    http_conn_t *hc = req->data;

    (void)status;
    free(req);
    if (!uv_is_closing((uv_handle_t *)&hc->tcp)) {
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
    }
}

static size_t
stream_infos(cir_ingest_t *s, cir_ingest_stream_info_t **out)
{
    cir_ingest_stream_info_t *v = calloc(s->nstreams + 1, sizeof(*v));
    size_t n = 0;
    int64_t now = now_us();

    if (v == NULL) {
        *out = NULL;
        return 0;
    }
    for (stream_t *st = s->streams; st != NULL; st = st->next) {
        cir_ingest_stream_info_t *i = &v[n++];
        i->key = st->key;
        i->publishing = st->publisher != NULL;
        i->uptime = (double)(now - st->start_us) / 1e6;
        i->bitrate = st->bitrate;
        i->fps = st->fps;
        i->video_codec = st->vpar ? avcodec_get_name(st->vpar->codec_id) : NULL;
        i->audio_codec = st->apar ? avcodec_get_name(st->apar->codec_id) : NULL;
        i->width = st->width;
        i->height = st->height;
        i->bytes = st->bytes;
        i->frames = st->frames;
        i->dropped = st->dropped;
        i->base_url = s->cfg.public_base_url;
        uv_mutex_lock(&st->pipe.mu);
        if (st->pipe.live != NULL) {
            i->live = cir_live_stats(st->pipe.live);
        }
        uv_mutex_unlock(&st->pipe.mu);
    }
    *out = v;
    return n;
}

static void
http_respond(http_conn_t *hc)
{
    char path[256] = "/", head[256];
    const char *ctype = "text/plain";
    char *body = NULL;
    int code = 400, hl;
    cir_ingest_stream_info_t *infos = NULL;
    size_t n, blen;
    uv_write_t *w;
    uv_buf_t bufs[2];
    char *all;

    hc->answered = 1;
    if (strncmp(hc->req, "GET ", 4) == 0) {
        size_t k = strcspn(hc->req + 4, " ?\r\n");
        if (k < sizeof(path)) {
            memcpy(path, hc->req + 4, k);
            path[k] = '\0';
            n = stream_infos(hc->srv, &infos);
            code = cir_ingest_status_render(path, infos, n, hc->srv->nconns,
                                            &body, &ctype);
            for (size_t i = 0; i < n; i++) {
                json_decref(infos[i].live);
            }
            free(infos);
        }
    } else {
        code = 405;
    }
    if (body == NULL) {
        body = strdup(code == 405 ? "method not allowed\n" : "bad request\n");
    }
    blen = body ? strlen(body) : 0;
    hl = snprintf(head, sizeof(head),
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                  "%zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                  code, code == 200 ? "OK" : "Error", ctype, blen);
    w = malloc(sizeof(*w) + (size_t)hl + blen);
    if (w == NULL) {
        free(body);
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
        return;
    }
    all = (char *)(w + 1);
    memcpy(all, head, (size_t)hl);
    if (blen) {
        memcpy(all + hl, body, blen);
    }
    free(body);
    bufs[0] = uv_buf_init(all, (unsigned)((size_t)hl + blen));
    w->data = hc;
    if (uv_write(w, (uv_stream_t *)&hc->tcp, bufs, 1, http_written) < 0) {
        free(w);
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
    }
}

static void
http_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    http_conn_t *hc = stream->data;

    (void)buf;
    if (hc->answered) {
        return;
    }
    if (nread < 0) {
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
        return;
    }
    hc->len += (size_t)nread;
    hc->req[hc->len] = '\0';
    if (strstr(hc->req, "\r\n\r\n") != NULL || strstr(hc->req, "\n\n")) {
        uv_read_stop(stream);
        http_respond(hc);
    } else if (hc->len >= sizeof(hc->req) - 1) {
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
    }
}

static void
on_status_connection(uv_stream_t *server, int status)
{
    cir_ingest_t *s = server->data;
    http_conn_t *hc;

    if (status < 0 || (hc = calloc(1, sizeof(*hc))) == NULL) {
        return;
    }
    hc->srv = s;
    uv_tcp_init(&s->loop, &hc->tcp);
    hc->tcp.data = hc;
    if (uv_accept(server, (uv_stream_t *)&hc->tcp) < 0) {
        uv_close((uv_handle_t *)&hc->tcp, http_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&hc->tcp, http_alloc, http_read);
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
        if (s->cfg.key_file[0] != '\0') {
            int ret = cir_keyfile_load(&s->keys, s->cfg.key_file, 1);
            cir_log_info(&s->log, "SIGHUP: key file reloaded (%s)",
                         ret < 0 ? cir_strerror(ret) : "ok");
        }
        return;
    }
    cir_log_info(&s->log, "signal %d: stopping", signum);
    s->stopping = 1;
    while (s->conns != NULL) {
        conn_close(s->conns);
    }
    for (stream_t *st = s->streams, *next; st != NULL; st = next) {
        next = st->next; /* stream_end may release it */
        stream_end(st);
    }
    uv_close((uv_handle_t *)&s->listener, NULL);
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

int
cir_ingest_new(cir_ingest_t **out, const cir_ingest_config_t *cfg)
{
    cir_ingest_t *s = calloc(1, sizeof(*s));
    int ret, port;

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
    s->lim.window_ack_size = (uint32_t)cfg->window_ack_size;
    if ((ret = uv_loop_init(&s->loop)) < 0) {
        av_packet_free(&s->view);
        free(s);
        return ret;
    }
    if (cfg->key_file[0] != '\0' &&
        (ret = cir_keyfile_load(&s->keys, cfg->key_file, 1)) < 0) {
        cir_log_error(&s->log, "key file %s: %s", cfg->key_file,
                      cir_strerror(ret));
        goto fail;
    }
    if (cfg->preset[0] != '\0') {
        char perr[400];
        const char *dir = cir_preset_dir(cfg->presets_dir);
        if ((ret = cir_preset_codecs_load(dir, cfg->preset, &s->preset, perr,
                                          sizeof(perr))) < 0) {
            cir_log_error(&s->log, "preset %s in %s: %s", cfg->preset, dir,
                          perr);
            goto fail;
        }
        s->have_preset = 1;
    }
    if (cfg->key_file[0] == '\0' && cfg->on_publish_url[0] == '\0') {
        cir_log_warn(&s->log, "no key_file or on_publish_url: every stream "
                              "key is accepted");
    }
    if ((ret = listen_on(s, &s->listener, cfg->listen, (int)cfg->port,
                         on_connection, &port)) < 0) {
        cir_log_error(&s->log, "listen %s:%d: %s", cfg->listen, (int)cfg->port,
                      uv_strerror(ret));
        goto fail;
    }
    s->cfg.port = port;
    if (cfg->status_port > 0) {
        if ((ret = listen_on(s, &s->status, cfg->status_listen,
                             (int)cfg->status_port, on_status_connection,
                             &port)) < 0) {
            cir_log_error(&s->log, "status listen: %s", uv_strerror(ret));
            goto fail;
        }
        s->cfg.status_port = port;
    }
    s->multi = curl_multi_init();
    if (s->multi == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_fn);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, curl_timer_fn);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    uv_timer_init(&s->loop, &s->curl_timer);
    s->curl_timer.data = s;
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
    /* one line a test or a supervisor can wait for */
    cir_log_info(&s->log,
                 "listening rtmp=%s:%d status=%s:%d live_root=%s preset=%s",
                 s->cfg.listen, (int)s->cfg.port, s->cfg.status_listen,
                 (int)s->cfg.status_port, s->cfg.live_root,
                 s->have_preset ? s->cfg.preset : "none");
    *out = s;
    return 0;
fail:
    /* handles may be open: close them and let the loop finish */
    uv_walk(&s->loop, close_walk, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    cir_keyfile_free(&s->keys);
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
    cir_keyfile_free(&s->keys);
    av_packet_free(&s->view);
    free(s);
    *sp = NULL;
}
