/*
 * A stream's pipeline thread and the bounded queue that feeds it from
 * the loop (or, for a passthrough-only stream, packaging on the loop).
 */

#include "server_internal.h"

/* ---- the pipeline thread ------------------------------------------------ */

static int
open_live(stream_t *st, cir_onair_t **live)
{
    cir_ingest_t *s = st->srv;
    cir_ingest_config_t *cfg = &s->cfg;
    srv_app_t *app = st->app;
    pipe_t *p = &st->pipe;
    cir_onair_config_t lc = {
        .live_root = app->cfg.live_root,
        .stream = st->key,
        .part_seconds = app->cfg.part_seconds,
        .segment_seconds = app->cfg.segment_seconds,
        .window = (uint32_t)app->cfg.window,
        .max_gap_seconds = cfg->timestamp_gap_seconds,
        .max_correction_seconds = cfg->timestamp_correction_seconds,
        .ts_wrap_bits = 32, /* RTMP timestamps: 32 bits of ms */
        .preset = app->have_preset ? &app->preset : NULL,
        .passthrough = 1,
        .queue_frames = (int)cfg->rung_queue_frames,
        .record_uri = p->record[0] != '\0' ? p->record : NULL,
        .encryption = app->enc.scheme != CIR_ENC_NONE ? &app->enc : NULL,
        .rotate_segments = app->rotate_segments,
    };
    int ret;

    if ((ret = cir_onair_open(live, &lc)) < 0) {
        return ret;
    }
    /* width 0 (no onMetaData): the pipeline reads it from the SPS */
    if (p->vpar != NULL &&
        (ret = cir_onair_add_video(*live, p->vpar, (AVRational){1, 1000},
                                   p->frame_rate, p->vbw)) < 0) {
        goto fail;
    }
    if (p->apar != NULL &&
        (ret = cir_onair_add_audio(*live, p->apar, (AVRational){1, 1000},
                                   p->abw)) < 0) {
        goto fail;
    }
    return 0;
fail:
    cir_onair_close(live);
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
void
srv_pipe_run(stream_t *st, cir_onair_t *live, const item_t *it)
{
    int ret;

    if (live != NULL && it->pkt != NULL) {
        if ((ret = cir_onair_push(live, it->video, it->pkt)) < 0) {
            pipe_error(st,
                       it->video ? "dropping a video packet"
                                 : "dropping an audio packet",
                       ret);
        }
    } else if (live != NULL && it->par != NULL) {
        if ((ret = cir_onair_reconfigure(live, it->video, it->par)) < 0) {
            pipe_error(st, "new sequence header", ret);
        }
    } else if (live != NULL && it->pause) {
        if ((ret = cir_onair_pause(live)) < 0) {
            pipe_error(st, "ending the open segments", ret);
        }
    }
}

/* The last parts and ENDLIST (and the recording); then the pipeline goes. */
void
srv_pipe_finish(stream_t *st, cir_onair_t **live)
{
    pipe_t *p = &st->pipe;
    int ret;

    if (*live != NULL && (ret = cir_onair_finish(*live)) < 0) {
        cir_log_error(&st->log, "finishing the stream: %s", cir_strerror(ret));
    }
    uv_mutex_lock(&p->mu);
    p->live = NULL;
    uv_mutex_unlock(&p->mu);
    cir_onair_close(live);
}

static void
pipe_main(void *arg)
{
    stream_t *st = arg;
    pipe_t *p = &st->pipe;
    cir_onair_t *live = NULL;
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
        int64_t wv = live ? cir_onair_wake_us(live, 1) : INT64_MIN;
        int64_t wa = live ? cir_onair_wake_us(live, 0) : INT64_MIN;

        uv_mutex_lock(&p->mu);
        p->wake_us[1] = wv;
        p->wake_us[0] = wa;
        while (cir_bqueue_count(&p->q) == 0 && !p->finish) {
            (void)uv_cond_timedwait(&p->cv, &p->mu, WAKE_NS);
        }
        if (!cir_bqueue_pop(&p->q, &it, NULL)) {
            uv_mutex_unlock(&p->mu);
            break;
        }
        uv_mutex_unlock(&p->mu);
        srv_pipe_run(st, live, &it);
        srv_item_free(&it);
    }
    srv_pipe_finish(st, &live);
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

/* The pipe_queue_* options as the queue's limits. */
void
srv_pipe_queue_limits(const cir_ingest_config_t *cfg, cir_bqueue_limits_t *lim)
{
    *lim = (cir_bqueue_limits_t){
        .items = (size_t)cfg->pipe_queue_packets,
        .soft_items = (size_t)cfg->pipe_queue_soft_packets,
        .bytes = (size_t)cfg->pipe_queue_bytes,
        .soft_bytes = (size_t)cfg->pipe_queue_soft_bytes,
        .key_reserve = 0,
        .control_reserve = (size_t)cfg->pipe_queue_control_reserve,
    };
}

/* What the queue's drop policy knows of an item: video packets need the
 * ones before them (after a drop the video waits for a keyframe); every
 * audio packet is a key. */
static cir_bqueue_meta_t
item_meta(const item_t *it)
{
    if (it->pkt == NULL) {
        return (cir_bqueue_meta_t){.control = 1};
    }
    return (cir_bqueue_meta_t){
        .size = (size_t)it->pkt->size,
        .track = it->video ? 1 : 0,
        .key = !it->video || (it->pkt->flags & AV_PKT_FLAG_KEY),
        .chained = it->video,
    };
}

static void
note_queue_drop(stream_t *st)
{
    st->dropped++;
    st->qdropped++;
    if (srv_now_us() - st->qwarn_us >= DROP_WARN_US) {
        cir_log_warn(&st->log,
                     "the pipeline falls behind: %llu packets dropped "
                     "(%llu since the last warning)",
                     (unsigned long long)st->qdropped,
                     (unsigned long long)(st->qdropped - st->qdropped_warned));
        st->qwarn_us = srv_now_us();
        st->qdropped_warned = st->qdropped;
    }
}

/* Hands an item to the thread (taking it, or freeing it when the queue's
 * drop policy refuses it).  Never blocks and never grows past the
 * pipe_queue_* limits. */
static void
enqueue(stream_t *st, item_t *it)
{
    pipe_t *p = &st->pipe;
    cir_bqueue_meta_t m = item_meta(it);
    item_t evicted = {0};
    cir_bqueue_result_t r;

    uv_mutex_lock(&p->mu);
    r = cir_bqueue_push(&p->q, it, &m, &evicted, NULL);
    /* only video keys cut: every audio packet is a "key" */
    if (r != CIR_BQUEUE_REFUSED &&
        (m.control || (it->video && m.key) ||
         cir_bqueue_count(&p->q) >= WAKE_BATCH || due(p, it))) {
        uv_cond_signal(&p->cv);
    }
    uv_mutex_unlock(&p->mu);
    if (r == CIR_BQUEUE_REFUSED) {
        note_queue_drop(st);
        srv_item_free(it);
        return;
    }
    *it = (item_t){0};
    if (r == CIR_BQUEUE_EVICTED) {
        note_queue_drop(st);
        srv_item_free(&evicted);
    }
}

/* An item (taken) into the stream's pipeline: run now when the stream is
 * packaged on the loop, else queued for its thread. */
void
srv_feed(stream_t *st, item_t *it)
{
    if (st->pipe.on_loop) {
        srv_pipe_run(st, st->pipe.live, it);
        srv_item_free(it);
        return;
    }
    enqueue(st, it);
}

void
srv_push(stream_t *st, int video, AVPacket **pkt)
{
    item_t it = {.video = video, .pkt = *pkt};

    *pkt = NULL;
    srv_feed(st, &it);
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

    return s->cfg.package_on_loop && !st->app->have_preset &&
           st->app->cfg.record_uri[0] == '\0' &&
           (st->apar == NULL || st->apar->codec_id == AV_CODEC_ID_AAC);
}

int
srv_start_pipe(stream_t *st)
{
    cir_ingest_config_t *cfg = &st->srv->cfg;
    pipe_t *p = &st->pipe;
    cir_bqueue_limits_t lim;
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
    if (st->app->cfg.record_uri[0] != '\0') {
        /* one VOD asset per stream and start */
        snprintf(p->record, sizeof(p->record), "%s/%s-%lld",
                 st->app->cfg.record_uri, st->key, (long long)time(NULL));
    }
    if (packages_on_loop(st)) {
        if ((ret = open_live(st, &p->live)) < 0) {
            return ret;
        }
        p->on_loop = 1;
        st->started = 1;
        return 0;
    }
    srv_pipe_queue_limits(cfg, &lim);
    cir_bqueue_free(&p->q); /* (empty) from an attempt that failed */
    if ((ret = cir_bqueue_init(&p->q, &lim, sizeof(item_t))) < 0 ||
        (ret = uv_thread_create(&p->thread, pipe_main, st)) < 0) {
        return ret;
    }
    st->started = 1;
    return 0;
}

/* Declares the tracks once their sequence headers are known (or once
 * enough packets came to stop waiting for a track that is not coming). */
