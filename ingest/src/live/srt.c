/*
 * SRT ingest: a listener (libsrt) whose sockets live on a thread of their
 * own (libsrt's epoll), MPEG-TS demuxed with libavformat on a thread per
 * publisher, the packets handed to the loop and from there into the same
 * stream pipeline as RTMP's (stream.c: sequence headers, frames, grace).
 *
 *   SRT thread:   accept, recv -> the publisher's ring (bounded; past it
 *                 datagrams are dropped, counted)
 *   demux thread: ring -> AVIOContext -> mpegts -> AVPackets -> hand-over
 *                 list (bounded; the demuxer waits past it)
 *   loop:         key check (key file, on_publish_url), the stream,
 *                 srv_on_sequence_header / srv_on_frame -> the pipe queue,
 *                 and as FLV tags to the push destinations (push_flv.c)
 *
 * A publisher (srt_pub_t) is freed by the loop once its socket is closed
 * (by the SRT thread), its demux thread joined and its callback done.
 *
 * An adapter on libsrt and libuv: tested through
 * tests/integration/ingest_srt.test.mjs.
 */

#include "server_internal.h"

#include <stdarg.h>

#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <srt/access_control.h>
#include <srt/srt.h>

/* Bytes received and not yet demuxed, per publisher: 1.6 s at 20 Mbit/s.
 * Past it the datagrams are dropped (counted, logged): a demuxer that
 * cannot keep up never makes the ingest hold more. */
#define RING_BYTES (4u << 20)
/* Demuxed packets waiting for the loop, per publisher: past it the
 * demuxer waits (and the ring fills). */
#define HANDOVER_ITEMS 512
/* The demuxer is woken per this many bytes (ten SRT payloads), or by a
 * datagram DEMUX_WAKE_US after the last wake-up: fewer wake-ups than one
 * per datagram or a timed wait every 20 ms, and a steady publisher's
 * datagram waits at most about that long.  DEMUX_WAIT_MS: the demuxer's
 * own look at stop and idle_timeout. */
#define WAKE_BYTES    (10 * 1316)
#define DEMUX_WAKE_US 20000
#define DEMUX_WAIT_MS 250
/* What the demuxer reads to find the programs and the codecs' headers */
#define PROBE_BYTES (4 << 20)
#define ANALYZE_US  (5 * AV_TIME_BASE)
/* Read without a usable packet coming out: not MPEG-TS, or not ours. */
#define UNPARSABLE_BYTES (8u << 20)
#define UNPARSABLE_WHY                                                     \
    "%u bytes read without a usable packet: not MPEG-TS with H.264, HEVC " \
    "or AAC"
#define AVIO_BYTES    (64 * 1024)
#define EPOLL_WAIT_MS 100 /* the SRT thread looks at requests this often */
#define EPOLL_EVENTS  64
#define DGRAM_MAX     1500 /* an SRT live payload is 1316 bytes */
#define DROP_LOG_US   5000000

typedef struct srt_item {
    struct srt_item *next;
    int video;
    AVPacket *pkt;          /* ms timestamps, or */
    AVCodecParameters *par; /* a track's parameters (before its packets) */
} srt_item_t;

enum {
    PHASE_NEW,
    PHASE_AUTH,
    PHASE_LIVE,
    PHASE_DONE
};

typedef struct srt_pub srt_pub_t;

struct srt_pub {
    srv_srt_t *l;
    SRTSOCKET sock;
    srv_app_t *app;
    char key[64], args[256], peer[64];
    cir_log_ctx_t log;
    srt_pub_t *tnext;     /* the SRT thread's list */
    srt_pub_t *lnext;     /* the loop's list */
    atomic_int close_req; /* loop -> SRT thread: close the socket */
    atomic_int stop;      /* loop -> demuxer: stop */
    uv_mutex_t mu;
    uv_cond_t cv;
    /* under mu */
    uint8_t *ring;
    size_t ring_at, ring_len, unsignaled;
    int64_t signaled_us;
    uint64_t ring_dropped;
    int sock_closed; /* the SRT thread closed and forgot the socket */
    int demux_done;
    char why[200]; /* why the demuxer ended */
    srt_item_t *head, **tail;
    size_t nitems;
    int has_video, has_audio; /* tracks found (before the first item) */
    double frame_rate;
    /* demux thread only */
    uint64_t since_packet; /* bytes read since a packet came out */
    int64_t last_data_us;
    /* loop only */
    int phase;
    stream_t *stream;
    int demux_started, demux_joined;
    uv_thread_t demux;
    CURL *auth;
    srv_curl_job_t auth_job;
    char *auth_body;
    uint64_t drops_logged;
    int64_t drop_log_us;
    srv_flvmux_t *flv; /* its packets as FLV tags, for the push */
};

struct srv_srt {
    cir_ingest_t *srv;
    SRTSOCKET listener;
    int eid;
    uv_thread_t thread;
    int thread_started, stopping;
    atomic_int quit;
    atomic_int open; /* sockets accepted and not closed */
    atomic_uint_fast64_t rejected, dropped; /* for /metrics */
    uv_async_t async;
    uv_mutex_t mu;
    srt_pub_t *incoming; /* accepted, not yet seen by the loop; under mu */
    srt_pub_t *tpubs;    /* SRT thread: sockets open */
    srt_pub_t *lpubs;    /* loop: every publisher not freed */
    atomic_int_fast64_t log_us; /* libsrt's lines: one a second */
    /* refused handshakes logged: REFUSED_LOG_BURST a second, the rest
     * counted (only libsrt's receiver thread touches these) */
    int64_t refused_window_us;
    int refused_logged;
    uint64_t refused_unlogged;
    cir_log_ctx_t log;
};

/* ---- helpers ------------------------------------------------------------ */

/* A hostile string fit for a log line. */
static void
printable(char *out, size_t size, const char *in)
{
    size_t i = 0;

    for (; in != NULL && *in != '\0' && i + 1 < size; in++) {
        out[i++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
    }
    out[i] = '\0';
}

static void
name_addr(const struct sockaddr *sa, char *out, size_t size)
{
    char ip[48] = "?";

    if (sa != NULL && sa->sa_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%d", ip,
                 ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
    } else if (sa != NULL && sa->sa_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof(ip));
        snprintf(out, size, "%s:%d", ip,
                 ntohs(((const struct sockaddr_in *)sa)->sin_port));
    } else {
        snprintf(out, size, "?");
    }
}

static const char *
srt_error_text(void)
{
    return srt_getlasterror_str();
}

/* libsrt's own lines (a wrong passphrase, a broken handshake), at most
 * one a second: garbage datagrams must not flood the log. */
static void
srt_log_handler(void *opaque, int level, const char *file, int line,
                const char *area, const char *message)
{
    srv_srt_t *l = opaque;
    int64_t now = srv_now_us(), last = atomic_load(&l->log_us);
    char msg[300];

    (void)file;
    (void)line;
    (void)area;
    if (now - last < 1000000 ||
        !atomic_compare_exchange_strong(&l->log_us, &last, now)) {
        return;
    }
    printable(msg, sizeof(msg), message);
    if (strstr(msg, "KMREQ") != NULL || strstr(msg, "encryption") != NULL ||
        strstr(msg, "passphrase") != NULL) {
        cir_log_warn(&l->log,
                     "a caller's passphrase (srt_passphrase) is wrong or "
                     "missing: rejected (libsrt: %s)",
                     msg);
    } else if (level <= LOG_ERR) {
        cir_log_warn(&l->log, "libsrt: %s", msg);
    } else {
        cir_log_info(&l->log, "libsrt: %s", msg);
    }
}

/* ---- the SRT thread ----------------------------------------------------- */

#define REFUSED_LOG_BURST 10 /* refused handshakes logged a second at most */

/* Runs on libsrt's receiver thread before a connection is accepted: a
 * streamid that does not publish, or a full house, is rejected in the
 * handshake (the publisher sees the reason). */
static int
listen_hook(void *opaque, SRTSOCKET ns, int hsversion,
            const struct sockaddr *peeraddr, const char *streamid)
{
    srv_srt_t *l = opaque;
    char peer[64], sid[128], app[64], key[64], args[256];
    const char *why = NULL;
    int code = SRT_REJX_BAD_REQUEST;

    name_addr(peeraddr, peer, sizeof(peer));
    printable(sid, sizeof(sid), streamid);
    if (hsversion < 5) {
        why = "an SRT v4 handshake has no streamid";
    } else if (cir_srt_streamid_parse(streamid, app, key, args, &why) < 0) {
        code = strstr(why, "mode") != NULL ? SRT_REJX_BAD_MODE
                                           : SRT_REJX_BAD_REQUEST;
    } else if (srv_app_find(l->srv, app) == NULL) {
        /* counted with the RTMP ones (the counter is atomic) */
        atomic_fetch_add(&l->srv->refused_unknown_app, 1);
        why = "unknown application";
        code = SRT_REJX_NOTFOUND;
    } else if (atomic_load(&l->open) >= (int)l->srv->cfg.srt_max_connections) {
        why = "srt_max_connections reached";
        code = SRT_REJX_OVERLOAD;
    } else {
        return 0;
    }
    atomic_fetch_add(&l->rejected, 1);
    if (srv_now_us() - l->refused_window_us >= 1000000) {
        l->refused_window_us = srv_now_us();
        l->refused_logged = 0;
    }
    if (l->refused_logged++ >= REFUSED_LOG_BURST) {
        l->refused_unlogged++; /* a flood of handshakes is not a log flood */
    } else {
        char more[64] = "";
        if (l->refused_unlogged > 0) {
            snprintf(more, sizeof(more),
                     " (%llu more refused before, not logged)",
                     (unsigned long long)l->refused_unlogged);
        }
        cir_log_warn(&l->log, "%s: SRT streamid \"%s\" refused: %s%s", peer,
                     sid, why, more);
        l->refused_unlogged = 0;
    }
    srt_setrejectreason(ns, code);
    return -1;
}

static void
wake_loop(srv_srt_t *l)
{
    uv_async_send(&l->async);
}

/* Closes a publisher's socket: no more bytes (the demuxer sees the end). */
static void
thread_close(srv_srt_t *l, srt_pub_t *p, const char *why)
{
    for (srt_pub_t **pp = &l->tpubs; *pp != NULL; pp = &(*pp)->tnext) {
        if (*pp == p) {
            *pp = p->tnext;
            break;
        }
    }
    srt_epoll_remove_usock(l->eid, p->sock);
    srt_close(p->sock);
    atomic_fetch_sub(&l->open, 1);
    cir_log_info(&p->log, "%s: SRT connection closed (%s)", p->peer, why);
    uv_mutex_lock(&p->mu);
    p->sock_closed = 1;
    uv_cond_broadcast(&p->cv);
    uv_mutex_unlock(&p->mu);
    wake_loop(l);
}

/* Into the ring, or dropped (counted) when it is full. */
static void
ring_put(srt_pub_t *p, const uint8_t *d, size_t n)
{
    size_t end, first;

    uv_mutex_lock(&p->mu);
    if (p->ring_len + n > RING_BYTES) {
        p->ring_dropped += n;
        atomic_fetch_add(&p->l->dropped, n);
        uv_mutex_unlock(&p->mu);
        return;
    }
    end = (p->ring_at + p->ring_len) % RING_BYTES;
    first = n < RING_BYTES - end ? n : RING_BYTES - end;
    memcpy(p->ring + end, d, first);
    memcpy(p->ring, d + first, n - first);
    p->ring_len += n;
    p->unsignaled += n;
    if (p->unsignaled >= WAKE_BYTES ||
        srv_now_us() - p->signaled_us >= DEMUX_WAKE_US) {
        p->unsignaled = 0;
        p->signaled_us = srv_now_us();
        uv_cond_signal(&p->cv);
    }
    uv_mutex_unlock(&p->mu);
}

/* Reads what the socket has (non-blocking). */
static void
thread_read(srv_srt_t *l, srt_pub_t *p)
{
    uint8_t d[DGRAM_MAX];
    int n;

    for (;;) {
        n = srt_recvmsg(p->sock, (char *)d, sizeof(d));
        if (n == SRT_ERROR) {
            if (srt_getlasterror(NULL) != SRT_EASYNCRCV) {
                thread_close(l, p, srt_error_text());
            }
            return;
        }
        if (n <= 0) {
            return;
        }
        ring_put(p, d, (size_t)n);
    }
}

static srt_pub_t *pub_new(srv_srt_t *l, SRTSOCKET ns,
                          const struct sockaddr *sa);
static void pub_free(srt_pub_t *p);

static void
thread_accept(srv_srt_t *l)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    SRTSOCKET ns;
    srt_pub_t *p;
    int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;

    /* one a wake-up: the epoll is level-triggered, and an srt_accept with
     * nothing pending logs an error */
    if ((ns = srt_accept(l->listener, (struct sockaddr *)&ss, &len)) !=
        SRT_INVALID_SOCK) {
        if (atomic_load(&l->open) >= (int)l->srv->cfg.srt_max_connections ||
            (p = pub_new(l, ns, (struct sockaddr *)&ss)) == NULL) {
            srt_close(ns);
            return;
        }
        if (srt_epoll_add_usock(l->eid, ns, &ev) == SRT_ERROR) {
            cir_log_warn(&l->log, "%s: %s", p->peer, srt_error_text());
            srt_close(ns);
            pub_free(p);
            return;
        }
        atomic_fetch_add(&l->open, 1);
        p->tnext = l->tpubs;
        l->tpubs = p;
        uv_mutex_lock(&l->mu);
        p->lnext = l->incoming;
        l->incoming = p;
        uv_mutex_unlock(&l->mu);
        wake_loop(l);
    }
}

static srt_pub_t *
thread_find(srv_srt_t *l, SRTSOCKET s)
{
    for (srt_pub_t *p = l->tpubs; p != NULL; p = p->tnext) {
        if (p->sock == s) {
            return p;
        }
    }
    return NULL;
}

static void
srt_thread_main(void *arg)
{
    srv_srt_t *l = arg;
    SRT_EPOLL_EVENT ev[EPOLL_EVENTS];
    int n;

    while (!atomic_load(&l->quit)) {
        n = srt_epoll_uwait(l->eid, ev, EPOLL_EVENTS, EPOLL_WAIT_MS);
        for (int i = 0; i < n; i++) {
            srt_pub_t *p;
            if (ev[i].fd == l->listener) {
                thread_accept(l);
            } else if ((p = thread_find(l, ev[i].fd)) != NULL) {
                if (ev[i].events & SRT_EPOLL_IN) {
                    thread_read(l, p);
                }
                if ((ev[i].events & SRT_EPOLL_ERR) &&
                    thread_find(l, ev[i].fd) == p) {
                    thread_close(l, p, "connection lost or closed");
                }
            }
        }
        for (srt_pub_t *p = l->tpubs, *next; p != NULL; p = next) {
            next = p->tnext;
            if (atomic_load(&p->close_req)) {
                thread_close(l, p, "closed by the ingest");
            }
        }
    }
    while (l->tpubs != NULL) {
        thread_close(l, l->tpubs, "stopping");
    }
    srt_close(l->listener);
}

/* ---- the demux thread --------------------------------------------------- */

static void
set_why(srt_pub_t *p, const char *fmt, ...)
{
    va_list ap;

    uv_mutex_lock(&p->mu);
    if (p->why[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(p->why, sizeof(p->why), fmt, ap);
        va_end(ap);
    }
    uv_mutex_unlock(&p->mu);
}

/* The AVIOContext's reader: waits for the SRT thread's bytes. */
static int
demux_read(void *opaque, uint8_t *buf, int size)
{
    srt_pub_t *p = opaque;
    int64_t idle_us = (int64_t)(p->l->srv->cfg.idle_timeout * 1e6);
    size_t n, first;

    uv_mutex_lock(&p->mu);
    while (p->ring_len == 0 && !p->sock_closed && !atomic_load(&p->stop)) {
        (void)uv_cond_timedwait(&p->cv, &p->mu,
                                (uint64_t)DEMUX_WAIT_MS * 1000000);
        if (p->ring_len == 0 && srv_now_us() - p->last_data_us > idle_us) {
            uv_mutex_unlock(&p->mu);
            set_why(p, "no data for %.0f s (idle_timeout)",
                    p->l->srv->cfg.idle_timeout);
            return AVERROR_EOF;
        }
    }
    if (p->ring_len == 0 || atomic_load(&p->stop)) {
        uv_mutex_unlock(&p->mu);
        return AVERROR_EOF;
    }
    n = p->ring_len < (size_t)size ? p->ring_len : (size_t)size;
    first = n < RING_BYTES - p->ring_at ? n : RING_BYTES - p->ring_at;
    memcpy(buf, p->ring + p->ring_at, first);
    memcpy(buf + first, p->ring, n - first);
    p->ring_at = (p->ring_at + n) % RING_BYTES;
    p->ring_len -= n;
    uv_mutex_unlock(&p->mu);
    p->last_data_us = srv_now_us();
    p->since_packet += n;
    return (int)n;
}

/* libavformat gives up when the loop stops the publisher, or when
 * UNPARSABLE_BYTES came in without a usable packet. */
static int
demux_interrupt(void *opaque)
{
    srt_pub_t *p = opaque;

    return atomic_load(&p->stop) || p->since_packet > UNPARSABLE_BYTES;
}

/* An item to the loop; waits while HANDOVER_ITEMS are there.  Takes it.
 * -1: the publisher stopped. */
static int
handover(srt_pub_t *p, int video, AVPacket **pkt, AVCodecParameters **par)
{
    srt_item_t *it = calloc(1, sizeof(*it));
    int was_empty;

    if (it == NULL) {
        av_packet_free(pkt);
        avcodec_parameters_free(par);
        return -1;
    }
    it->video = video;
    it->pkt = pkt ? *pkt : NULL;
    it->par = par ? *par : NULL;
    if (pkt) {
        *pkt = NULL;
    }
    if (par) {
        *par = NULL;
    }
    uv_mutex_lock(&p->mu);
    while (p->nitems >= HANDOVER_ITEMS && !atomic_load(&p->stop)) {
        (void)uv_cond_timedwait(&p->cv, &p->mu,
                                (uint64_t)DEMUX_WAIT_MS * 1000000);
    }
    if (atomic_load(&p->stop)) {
        uv_mutex_unlock(&p->mu);
        av_packet_free(&it->pkt);
        avcodec_parameters_free(&it->par);
        free(it);
        return -1;
    }
    was_empty = p->nitems == 0;
    *p->tail = it;
    p->tail = &it->next;
    p->nitems++;
    uv_mutex_unlock(&p->mu);
    if (was_empty) {
        wake_loop(p->l); /* the loop takes all there is */
    }
    return 0;
}

typedef struct {
    AVFormatContext *fc;
    AVIOContext *pb; /* ours (custom I/O): avformat_open_input never frees it */
    int vidx, aidx;
    AVBSFContext *adts; /* ADTS -> raw AAC and its AudioSpecificConfig */
    int audio_announced;
} demux_t;

/* The first H.264/HEVC and AAC streams; others are discarded. */
static int
pick_streams(srt_pub_t *p, demux_t *d)
{
    const AVBitStreamFilter *f = av_bsf_get_by_name("aac_adtstoasc");
    char other[160] = "";

    d->vidx = d->aidx = -1;
    for (unsigned i = 0; i < d->fc->nb_streams; i++) {
        AVStream *s = d->fc->streams[i];
        enum AVCodecID id = s->codecpar->codec_id;
        if (d->vidx < 0 && (id == AV_CODEC_ID_H264 || id == AV_CODEC_ID_HEVC) &&
            s->codecpar->extradata_size > 0) {
            d->vidx = (int)i;
        } else if (d->aidx < 0 && id == AV_CODEC_ID_AAC && f != NULL) {
            d->aidx = (int)i;
        } else {
            s->discard = AVDISCARD_ALL;
            if (other[0] == '\0') {
                snprintf(other, sizeof(other), " (found %s)",
                         id != AV_CODEC_ID_NONE
                             ? avcodec_get_name(id)
                             : "a stream without codec parameters");
            }
        }
    }
    if (d->vidx < 0 && d->aidx < 0) {
        set_why(p,
                "no H.264, HEVC (with SPS/PPS) or AAC stream in the first "
                "%d bytes of MPEG-TS%s",
                PROBE_BYTES, other);
        return -1;
    }
    if (d->aidx >= 0) {
        AVStream *s = d->fc->streams[d->aidx];
        if (av_bsf_alloc(f, &d->adts) < 0 ||
            avcodec_parameters_copy(d->adts->par_in, s->codecpar) < 0 ||
            (d->adts->time_base_in = s->time_base, av_bsf_init(d->adts)) < 0) {
            set_why(p, "cannot set up the AAC filter");
            return -1;
        }
    }
    uv_mutex_lock(&p->mu);
    p->has_video = d->vidx >= 0;
    p->has_audio = d->aidx >= 0;
    if (d->vidx >= 0) {
        AVRational r = d->fc->streams[d->vidx]->avg_frame_rate;
        p->frame_rate = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
        if (!(p->frame_rate > 0 && p->frame_rate <= 240)) {
            p->frame_rate = 0;
        }
    }
    uv_mutex_unlock(&p->mu);
    return 0;
}

static int
open_demuxer(srt_pub_t *p, demux_t *d)
{
    uint8_t *buf = av_malloc(AVIO_BYTES);
    AVIOContext *pb;
    int ret;

    d->fc = avformat_alloc_context();
    pb = buf ? avio_alloc_context(buf, AVIO_BYTES, 0, p, demux_read, NULL, NULL)
             : NULL;
    if (d->fc == NULL || pb == NULL) {
        av_free(buf);
        avio_context_free(&pb);
        set_why(p, "out of memory");
        return -1;
    }
    d->pb = pb;
    d->fc->pb = pb;
    d->fc->flags |= AVFMT_FLAG_CUSTOM_IO;
    d->fc->interrupt_callback = (AVIOInterruptCB){demux_interrupt, p};
    d->fc->probesize = PROBE_BYTES;
    d->fc->max_analyze_duration = ANALYZE_US;
    if ((ret = avformat_open_input(&d->fc, NULL, av_find_input_format("mpegts"),
                                   NULL)) < 0 ||
        (ret = avformat_find_stream_info(d->fc, NULL)) < 0) {
        if (ret == AVERROR_EXIT && p->since_packet > UNPARSABLE_BYTES) {
            set_why(p, UNPARSABLE_WHY, UNPARSABLE_BYTES);
        } else {
            set_why(p, "not MPEG-TS that can be read: %s", av_err2str(ret));
        }
        return -1;
    }
    return pick_streams(p, d);
}

/* A demuxed packet, in ms, to the loop (the parameters first). */
static int
hand_packet(srt_pub_t *p, demux_t *d, int video, AVPacket *pkt)
{
    AVRational tb = d->fc->streams[video ? d->vidx : d->aidx]->time_base;
    AVRational ms = {1, 1000};
    AVCodecParameters *par;

    if (pkt->dts == AV_NOPTS_VALUE) {
        pkt->dts = pkt->pts;
    }
    if (pkt->pts == AV_NOPTS_VALUE || pkt->size == 0) {
        av_packet_unref(pkt);
        return 0;
    }
    pkt->pts = av_rescale_q(pkt->pts, tb, ms);
    pkt->dts = av_rescale_q(pkt->dts, tb, ms);
    pkt->time_base = ms;
    p->since_packet = 0;
    if (!video && !d->audio_announced) {
        size_t n = 0;
        const uint8_t *asc =
            av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &n);
        if ((par = avcodec_parameters_alloc()) == NULL ||
            avcodec_parameters_copy(par, d->adts->par_out) < 0) {
            avcodec_parameters_free(&par);
            return -1;
        }
        if (asc != NULL && n > 0) {
            av_freep(&par->extradata);
            par->extradata = av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE);
            if (par->extradata == NULL) {
                avcodec_parameters_free(&par);
                return -1;
            }
            memcpy(par->extradata, asc, n);
            par->extradata_size = (int)n;
        }
        if (par->extradata_size == 0) {
            avcodec_parameters_free(&par);
            av_packet_unref(pkt);
            return 0; /* no AudioSpecificConfig yet */
        }
        d->audio_announced = 1;
        if (handover(p, 0, NULL, &par) < 0) {
            return -1;
        }
    }
    AVPacket *copy = av_packet_alloc();
    if (copy == NULL) {
        return -1;
    }
    av_packet_move_ref(copy, pkt);
    return handover(p, video, &copy, NULL);
}

/* AAC through the ADTS filter, video as it is. */
static int
demux_packet(srt_pub_t *p, demux_t *d, AVPacket *pkt)
{
    int ret;

    if (pkt->stream_index == d->vidx) {
        return hand_packet(p, d, 1, pkt);
    }
    if (pkt->stream_index != d->aidx) {
        av_packet_unref(pkt);
        return 0;
    }
    if (av_bsf_send_packet(d->adts, pkt) < 0) {
        av_packet_unref(pkt);
        return 0; /* a broken ADTS frame: skipped */
    }
    while ((ret = av_bsf_receive_packet(d->adts, pkt)) == 0) {
        if (hand_packet(p, d, 0, pkt) < 0) {
            return -1;
        }
    }
    return 0;
}

static void
demux_main(void *arg)
{
    srt_pub_t *p = arg;
    demux_t d = {0};
    AVPacket *pkt = av_packet_alloc();
    AVCodecParameters *par = NULL;
    int ret;

    p->last_data_us = srv_now_us();
    if (pkt == NULL || open_demuxer(p, &d) < 0) {
        goto out;
    }
    if (d.vidx >= 0 &&
        ((par = avcodec_parameters_alloc()) == NULL ||
         avcodec_parameters_copy(par, d.fc->streams[d.vidx]->codecpar) < 0 ||
         handover(p, 1, NULL, &par) < 0)) {
        avcodec_parameters_free(&par);
        goto out;
    }
    while ((ret = av_read_frame(d.fc, pkt)) >= 0) {
        if (demux_packet(p, &d, pkt) < 0) {
            break;
        }
    }
    if (ret == AVERROR_EXIT && p->since_packet > UNPARSABLE_BYTES) {
        set_why(p, UNPARSABLE_WHY, UNPARSABLE_BYTES);
    } else if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR_EXIT) {
        set_why(p, "demuxing: %s", av_err2str(ret));
    }
out:
    set_why(p, "publisher gone");
    av_packet_free(&pkt);
    av_bsf_free(&d.adts);
    avformat_close_input(&d.fc); /* (NULL after a failed open) */
    if (d.pb != NULL) {
        av_freep(&d.pb->buffer); /* (libavformat may have replaced it) */
        avio_context_free(&d.pb);
    }
    uv_mutex_lock(&p->mu);
    p->demux_done = 1;
    uv_mutex_unlock(&p->mu);
    wake_loop(p->l);
}

/* ---- publishers on the loop --------------------------------------------- */

static srt_pub_t *
pub_new(srv_srt_t *l, SRTSOCKET ns, const struct sockaddr *sa)
{
    srt_pub_t *p = calloc(1, sizeof(*p));
    char sid[600];
    int len = sizeof(sid) - 1;
    const char *why;
    char app[64];

    if (p == NULL) {
        return NULL;
    }
    if (srt_getsockflag(ns, SRTO_STREAMID, sid, &len) == SRT_ERROR) {
        len = 0;
    }
    sid[len] = '\0';
    if (cir_srt_streamid_parse(sid, app, p->key, p->args, &why) < 0 ||
        (p->app = srv_app_find(l->srv, app)) == NULL ||
        (p->ring = malloc(RING_BYTES)) == NULL) {
        free(p);
        return NULL; /* (the listen hook refused what does not parse) */
    }
    if (uv_mutex_init(&p->mu) < 0) {
        free(p->ring);
        free(p);
        return NULL;
    }
    if (uv_cond_init(&p->cv) < 0) {
        uv_mutex_destroy(&p->mu);
        free(p->ring);
        free(p);
        return NULL;
    }
    p->l = l;
    p->sock = ns;
    p->tail = &p->head;
    name_addr(sa, p->peer, sizeof(p->peer));
    p->log = (cir_log_ctx_t){
        .component = "srt", .app = p->app->cfg.name, .stream = p->key};
    cir_log_debug(&p->log, "%s: SRT connection", p->peer);
    return p;
}

static void
items_free(srt_item_t *it)
{
    while (it != NULL) {
        srt_item_t *next = it->next;
        av_packet_free(&it->pkt);
        avcodec_parameters_free(&it->par);
        free(it);
        it = next;
    }
}

static void
pub_free(srt_pub_t *p)
{
    items_free(p->head);
    srv_push_flv_free(&p->flv);
    free(p->auth_body);
    uv_cond_destroy(&p->cv);
    uv_mutex_destroy(&p->mu);
    free(p->ring);
    free(p);
}

/* The publisher goes: the socket closes, the demuxer stops and the stream
 * (if it has it) waits for it for grace_seconds. */
static void
pub_end(srt_pub_t *p, const char *why)
{
    stream_t *st = p->stream;

    if (p->phase == PHASE_DONE) {
        return;
    }
    p->phase = PHASE_DONE;
    atomic_store(&p->stop, 1);
    atomic_store(&p->close_req, 1);
    uv_mutex_lock(&p->mu);
    uv_cond_broadcast(&p->cv);
    uv_mutex_unlock(&p->mu);
    if (p->auth != NULL) {
        curl_multi_remove_handle(p->l->srv->multi, p->auth);
        curl_easy_cleanup(p->auth);
        p->auth = NULL;
    }
    p->stream = NULL;
    if (st != NULL && st->srt_publisher == p) {
        cir_log_info(&p->log, "%s: SRT publisher ends: %s", p->peer, why);
        st->srt_publisher = NULL;
        srv_stream_detach(st);
    }
}

/* The stream is taken from its SRT publisher (it ends, or an RTMP
 * publisher takes it over). */
void
srv_srt_publisher_drop(stream_t *st)
{
    srt_pub_t *p = st->srt_publisher;

    if (p == NULL) {
        return;
    }
    st->srt_publisher = NULL;
    p->stream = NULL;
    pub_end(p, "the stream ends");
}

/* The first publisher of a key, a publisher coming back in the grace
 * period, or one taking over (takeover=1): as RTMP's srv_publish_decided. */
static stream_t *
claim_stream(srt_pub_t *p, int *resumed)
{
    cir_ingest_t *s = p->l->srv;
    stream_t *st = srv_stream_find(s, p->app, p->key);

    if (st != NULL && st->closing) {
        cir_log_warn(&p->log, "%s: the stream is still ending: refused",
                     p->peer);
        return NULL;
    }
    if (st != NULL && (st->publisher != NULL || st->srt_publisher != NULL)) {
        if (!s->cfg.takeover) {
            cir_log_warn(&p->log, "%s: already published: refused", p->peer);
            return NULL;
        }
        cir_log_info(&p->log, "%s: takes over the stream", p->peer);
        if (st->publisher != NULL) {
            conn_t *old = st->publisher;
            old->stream = NULL;
            st->publisher = NULL;
            srv_conn_close(old);
        }
        srv_srt_publisher_drop(st);
    }
    if (st == NULL) {
        if (s->nstreams >= (size_t)s->cfg.max_streams) {
            cir_log_warn(&p->log, "max_streams reached: refused");
            return NULL;
        }
        return srv_stream_new(s, p->app, p->key);
    }
    uv_timer_stop(&st->grace);
    cir_log_info(&p->log, "publisher is back: continuing the stream");
    *resumed = 1;
    return st;
}

static void
publish_decided(srt_pub_t *p, int allowed)
{
    cir_ingest_t *s = p->l->srv;
    stream_t *st;
    int resumed = 0;

    if (p->phase == PHASE_DONE) {
        return;
    }
    if (!allowed) {
        cir_log_warn(&p->log, "%s: stream key refused", p->peer);
        atomic_fetch_add(&s->refused_key, 1);
        pub_end(p, "refused");
        return;
    }
    if ((st = claim_stream(p, &resumed)) == NULL) {
        pub_end(p, "refused");
        return;
    }
    if (uv_thread_create(&p->demux, demux_main, p) < 0) {
        cir_log_error(&p->log, "%s: cannot start a demux thread", p->peer);
        if (!resumed) {
            srv_stream_end(st);
        }
        pub_end(p, "no thread");
        return;
    }
    p->demux_started = 1;
    p->phase = PHASE_LIVE;
    p->stream = st;
    st->srt_publisher = p;
    st->protocol = "srt";
    cir_log_info(&p->log, "%s: publishing over SRT", p->peer);
    srv_webhook_send(s, "publish",
                     json_pack("{s:s, s:s, s:s, s:b, s:s}", "app",
                               p->app->cfg.name, "key", p->key, "addr", p->peer,
                               "resumed", resumed, "protocol", "srt"));
}

static void
auth_done(srv_curl_job_t *j, CURLcode result, long status)
{
    srt_pub_t *p = (srt_pub_t *)((char *)j - offsetof(srt_pub_t, auth_job));
    cir_ingest_t *s = p->l->srv;

    if (result != CURLE_OK) {
        cir_log_warn(&p->log, "on_publish: %s", curl_easy_strerror(result));
    }
    curl_multi_remove_handle(s->multi, p->auth);
    curl_easy_cleanup(p->auth);
    p->auth = NULL;
    publish_decided(p, result == CURLE_OK && status >= 200 && status < 300);
    wake_loop(p->l); /* it may be done */
}

/* The same checks as an RTMP publish: the key file, then the callback. */
static void
pub_check_key(srt_pub_t *p)
{
    cir_ingest_t *s = p->l->srv;

    p->phase = PHASE_AUTH;
    if (!srv_key_file_allows(s, p->app, p->key)) {
        publish_decided(p, 0);
        return;
    }
    if (p->app->cfg.on_publish_url[0] != '\0') {
        p->auth_job.done = auth_done;
        if (srv_http_auth_start(s, p->app, &p->auth_job, &p->auth,
                                &p->auth_body, p->key, p->args, p->peer) < 0) {
            publish_decided(p, 0);
        }
        return;
    }
    publish_decided(p, 1);
}

/* An item into the stream, as an FLV tag would be (stream.c). */
static int
feed_item(srt_pub_t *p, stream_t *st, srt_item_t *it)
{
    cir_flv_tag_t t = {0};

    if (it->par != NULL) {
        AVCodecParameters *par = it->par;
        t.codec = par->codec_id == AV_CODEC_ID_HEVC   ? CIR_FLV_CODEC_HEVC
                  : par->codec_id == AV_CODEC_ID_H264 ? CIR_FLV_CODEC_AVC
                                                      : CIR_FLV_CODEC_AAC;
        t.packet = CIR_FLV_SEQUENCE_START;
        t.data = par->extradata;
        t.size = (size_t)par->extradata_size;
        uv_mutex_lock(&p->mu);
        st->expect_video = p->has_video;
        st->expect_audio = p->has_audio;
        if (it->video) {
            st->frame_rate = p->frame_rate;
        }
        uv_mutex_unlock(&p->mu);
        if (it->video && par->width > 0 && par->width <= 16384 &&
            par->height > 0 && par->height <= 16384) {
            st->width = par->width;
            st->height = par->height;
        }
        srv_push_flv_track(st, &p->flv, it->video, par);
        return srv_on_sequence_header(st, it->video, &t);
    }
    AVPacket *pkt = it->pkt;
    int64_t cts = pkt->pts - pkt->dts;
    t.codec = it->video
                  ? (st->vpar != NULL && st->vpar->codec_id == AV_CODEC_ID_HEVC
                         ? CIR_FLV_CODEC_HEVC
                         : CIR_FLV_CODEC_AVC)
                  : CIR_FLV_CODEC_AAC;
    t.packet = CIR_FLV_CODED_FRAMES;
    t.keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    t.cts = cts > INT32_MAX || cts < INT32_MIN ? 0 : (int32_t)cts;
    t.data = pkt->data; /* padded: an AVPacket */
    t.size = (size_t)pkt->size;
    st->bytes += t.size;
    st->win_bytes += t.size;
    if (it->video) {
        st->frames++;
        st->win_frames++;
    }
    srv_push_flv_packet(st, &p->flv, it->video, pkt);
    /* RTMP's 32 bits of ms: the pipeline unwraps them (ts_wrap_bits) */
    return srv_on_frame(st, it->video, (uint32_t)pkt->dts, &t);
}

/* Logs the ring's drops, at most every DROP_LOG_US. */
static void
note_drops(srt_pub_t *p, uint64_t dropped)
{
    if (dropped > p->drops_logged &&
        srv_now_us() - p->drop_log_us >= DROP_LOG_US) {
        cir_log_warn(&p->log,
                     "%s: the demuxer falls behind: %llu bytes dropped from "
                     "SRT (%u bytes buffered at most)",
                     p->peer, (unsigned long long)dropped, RING_BYTES);
        p->drops_logged = dropped;
        p->drop_log_us = srv_now_us();
    }
}

/* What the threads did for this publisher; frees it when all is done.
 * 1: freed. */
static int
pub_service(srt_pub_t *p)
{
    srt_item_t *items;
    int sock_closed, demux_done, ret;
    uint64_t dropped;
    char why[sizeof(p->why)];

    if (p->phase == PHASE_NEW) {
        pub_check_key(p);
    }
    uv_mutex_lock(&p->mu);
    items = p->head;
    p->head = NULL;
    p->tail = &p->head;
    p->nitems = 0;
    sock_closed = p->sock_closed;
    demux_done = p->demux_done;
    dropped = p->ring_dropped;
    snprintf(why, sizeof(why), "%s", p->why);
    uv_cond_broadcast(&p->cv); /* room in the hand-over */
    uv_mutex_unlock(&p->mu);
    note_drops(p, dropped);
    for (srt_item_t *it = items; it != NULL; it = it->next) {
        if (p->phase == PHASE_LIVE && p->stream != NULL &&
            (ret = feed_item(p, p->stream, it)) < 0) {
            cir_log_warn(&p->log, "%s: %s: closing the publisher", p->peer,
                         cir_strerror(ret));
            pub_end(p, cir_strerror(ret));
        }
    }
    items_free(items);
    if (demux_done && p->demux_started && !p->demux_joined) {
        uv_thread_join(&p->demux);
        p->demux_joined = 1;
        pub_end(p, why);
    }
    if (sock_closed && p->phase == PHASE_AUTH && p->auth == NULL) {
        pub_end(p, "gone before it was authorized");
    }
    if (p->phase == PHASE_DONE && sock_closed &&
        (!p->demux_started || p->demux_joined) && p->auth == NULL) {
        pub_free(p);
        return 1;
    }
    return 0;
}

static void
service_all(srv_srt_t *l)
{
    srt_pub_t *in;

    uv_mutex_lock(&l->mu);
    in = l->incoming;
    l->incoming = NULL;
    uv_mutex_unlock(&l->mu);
    while (in != NULL) {
        srt_pub_t *next = in->lnext;
        in->lnext = l->lpubs;
        l->lpubs = in;
        in = next;
    }
    for (srt_pub_t **pp = &l->lpubs; *pp != NULL;) {
        srt_pub_t *p = *pp, *next = p->lnext;
        if (l->stopping) {
            pub_end(p, "stopping");
        }
        if (pub_service(p)) {
            *pp = next;
        } else {
            pp = &p->lnext;
        }
    }
    if (l->stopping && l->lpubs == NULL &&
        !uv_is_closing((uv_handle_t *)&l->async)) {
        uv_close((uv_handle_t *)&l->async, NULL);
    }
}

static void
on_async(uv_async_t *a)
{
    service_all(a->data);
}

/* ---- the listener ------------------------------------------------------- */

static int
set_flag(srv_srt_t *l, SRT_SOCKOPT opt, const void *v, int len,
         const char *name)
{
    if (srt_setsockflag(l->listener, opt, v, len) == SRT_ERROR) {
        cir_log_error(&l->log, "SRT option %s: %s", name, srt_error_text());
        return CIR_EINVAL;
    }
    return 0;
}

static int
listener_options(srv_srt_t *l)
{
    const cir_ingest_config_t *cfg = &l->srv->cfg;
    int no = 0, latency = (int)cfg->srt_latency_ms;
    size_t plen = strlen(cfg->srt_passphrase);

    if (plen > 0 && (plen < 10 || plen > 79)) {
        cir_log_error(&l->log,
                      "srt_passphrase: %zu characters, SRT takes 10 to 79",
                      plen);
        return CIR_EINVAL;
    }
    if (set_flag(l, SRTO_RCVSYN, &no, sizeof(no), "SRTO_RCVSYN") < 0 ||
        set_flag(l, SRTO_LATENCY, &latency, sizeof(latency), "SRTO_LATENCY") <
            0) {
        return CIR_EINVAL;
    }
    if (plen > 0 && set_flag(l, SRTO_PASSPHRASE, cfg->srt_passphrase, (int)plen,
                             "SRTO_PASSPHRASE") < 0) {
        return CIR_EINVAL;
    }
    return 0;
}

static int
bind_listener(srv_srt_t *l, int *port)
{
    const cir_ingest_config_t *cfg = &l->srv->cfg;
    const char *host =
        cfg->srt_listen[0] != '\0' ? cfg->srt_listen : cfg->listen;
    struct sockaddr_storage ss;
    int len = sizeof(ss), ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    int ret =
        strchr(host, ':') != NULL
            ? uv_ip6_addr(host, (int)cfg->srt_port, (struct sockaddr_in6 *)&ss)
            : uv_ip4_addr(host, (int)cfg->srt_port, (struct sockaddr_in *)&ss);

    if (ret < 0) {
        cir_log_error(&l->log, "srt_listen %s: %s", host, uv_strerror(ret));
        return CIR_EINVAL;
    }
    if (srt_bind(l->listener, (struct sockaddr *)&ss,
                 ss.ss_family == AF_INET6
                     ? sizeof(struct sockaddr_in6)
                     : sizeof(struct sockaddr_in)) == SRT_ERROR ||
        srt_listen_callback(l->listener, listen_hook, l) == SRT_ERROR ||
        srt_listen(l->listener, 16) == SRT_ERROR ||
        srt_epoll_add_usock(l->eid, l->listener, &ev) == SRT_ERROR) {
        cir_log_error(&l->log, "listen srt %s:%d: %s", host, (int)cfg->srt_port,
                      srt_error_text());
        return CIR_EIO;
    }
    srt_getsockname(l->listener, (struct sockaddr *)&ss, &len);
    *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

int
srv_srt_start(cir_ingest_t *s)
{
    srv_srt_t *l;
    int ret, port = 0;

    if (s->cfg.srt_port <= 0) {
        return 0;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL) {
        return CIR_ENOMEM;
    }
    l->srv = s;
    l->log = (cir_log_ctx_t){.component = "srt"};
    l->listener = SRT_INVALID_SOCK;
    l->eid = -1;
    s->srt = l;
    if (srt_startup() < 0) {
        cir_log_error(&l->log, "libsrt: %s", srt_error_text());
        return CIR_EIO;
    }
    srt_setloglevel(LOG_WARNING);
    srt_setloghandler(l, srt_log_handler);
    if ((l->listener = srt_create_socket()) == SRT_INVALID_SOCK ||
        (l->eid = srt_epoll_create()) < 0) {
        cir_log_error(&l->log, "libsrt: %s", srt_error_text());
        return CIR_EIO;
    }
    if ((ret = listener_options(l)) < 0 ||
        (ret = bind_listener(l, &port)) < 0) {
        return ret;
    }
    s->cfg.srt_port = port;
    if ((ret = uv_mutex_init(&l->mu)) < 0 ||
        (ret = uv_async_init(&s->loop, &l->async, on_async)) < 0) {
        return ret;
    }
    l->async.data = l;
    if ((ret = uv_thread_create(&l->thread, srt_thread_main, l)) < 0) {
        return ret;
    }
    l->thread_started = 1;
    return 0;
}

/* On SIGINT/SIGTERM: the SRT thread closes every socket and ends; the
 * publishers go as their demuxers end (the loop runs until they have). */
void
srv_srt_stop(cir_ingest_t *s)
{
    srv_srt_t *l = s->srt;

    if (l == NULL || l->stopping) {
        return;
    }
    l->stopping = 1;
    if (l->thread_started) {
        atomic_store(&l->quit, 1);
        uv_thread_join(&l->thread);
        l->thread_started = 0;
    }
    service_all(l);
}

void
srv_srt_stats(const cir_ingest_t *s, cir_ingest_server_stats_t *st)
{
    srv_srt_t *l = s->srt;

    if (l == NULL) {
        return;
    }
    st->srt = 1;
    st->srt_connections = (uint64_t)atomic_load(&l->open);
    st->srt_rejected = atomic_load(&l->rejected);
    st->srt_dropped_bytes = atomic_load(&l->dropped);
}

void
srv_srt_free(cir_ingest_t *s)
{
    srv_srt_t *l = s->srt;

    if (l == NULL) {
        return;
    }
    if (l->thread_started) {
        atomic_store(&l->quit, 1);
        uv_thread_join(&l->thread);
    } else if (l->listener != SRT_INVALID_SOCK) {
        srt_close(l->listener);
    }
    if (l->eid >= 0) {
        srt_epoll_release(l->eid);
    }
    srt_setloghandler(NULL, NULL);
    srt_cleanup();
    s->srt = NULL;
    free(l);
}
