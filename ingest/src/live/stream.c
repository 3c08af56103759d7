/*
 * A stream key's lifecycle (publisher, grace, end) and its FLV tags:
 * sequence headers configure the pipeline, frames become packets.
 *
 * An adapter on libuv: tested through tests/integration/ingest.test.mjs and
 * live*.test.mjs.
 */

#include "server_internal.h"

#include <unistd.h>

/* ---- streams -------------------------------------------------------------
 */

void
srv_pending_clear(stream_t *st)
{
    for (size_t i = 0; i < st->npending; i++) {
        av_packet_free(&st->pending[i]);
    }
    st->npending = 0;
}

void
srv_item_free(item_t *it)
{
    av_packet_free(&it->pkt);
    avcodec_parameters_free(&it->par);
}

static void
stream_handle_closed(uv_handle_t *h)
{
    stream_t *st = h->data;
    pipe_t *p = &st->pipe;
    item_t it;

    if (--st->handles > 0) {
        return;
    }
    while (cir_bqueue_pop(&p->q, &it, NULL)) {
        srv_item_free(&it);
    }
    cir_bqueue_free(&p->q);
    uv_mutex_destroy(&p->mu);
    uv_cond_destroy(&p->cv);
    avcodec_parameters_free(&p->vpar);
    avcodec_parameters_free(&p->apar);
    avcodec_parameters_free(&st->vpar);
    avcodec_parameters_free(&st->apar);
    free(st);
}

/* The pipeline is gone (or never started): forget the stream. */
/* publish_done, and record_done when the recording was published (its
 * top-level master.m3u8 is written last). */
static void
send_end_webhooks(stream_t *st)
{
    cir_ingest_t *s = st->srv;
    const char *rec = st->pipe.record;
    char master[sizeof(st->pipe.record) + 32];
    char mpd[sizeof(st->pipe.record) + 32];
    const char *path;

    srv_webhook_send(
        s, "publish_done",
        json_pack("{s:s, s:s, s:s, s:I, s:f, s:I, s:I, s:I}", "app",
                  st->app->cfg.name, "key", st->key, "reason",
                  st->end_reason ? st->end_reason : "ended", "started",
                  (json_int_t)st->start_wall, "duration",
                  (double)(srv_now_us() - st->start_us) / 1e6, "bytes",
                  (json_int_t)st->bytes, "frames", (json_int_t)st->frames,
                  "dropped_frames", (json_int_t)st->dropped));
    if (rec[0] == '\0') {
        return;
    }
    snprintf(master, sizeof(master), "%s/master.m3u8", rec);
    snprintf(mpd, sizeof(mpd), "%s/manifest.mpd", rec);
    path = strncmp(master, "file://", 7) == 0 ? master + 7 : master;
    if (access(path, F_OK) != 0) {
        cir_log_warn(&st->log,
                     "the recording %s was not published: no "
                     "record_done",
                     rec);
        return;
    }
    srv_webhook_send(s, "record_done",
                     json_pack("{s:s, s:s, s:s, s:s, s:s}", "app",
                               st->app->cfg.name, "key", st->key, "uri", rec,
                               "hls", master, "dash", mpd));
}

void
srv_stream_release(stream_t *st)
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
    send_end_webhooks(st);
    uv_close((uv_handle_t *)&st->grace, stream_handle_closed);
    uv_close((uv_handle_t *)&st->async, stream_handle_closed);
}

/* Ends a stream: the pipeline writes the last parts and ENDLIST, then the
 * loop forgets the stream.  It stays listed (and its key busy) until then. */
void
srv_stream_end(stream_t *st)
{
    if (st->closing) {
        return;
    }
    st->closing = 1;
    srv_srt_publisher_drop(st);
    srv_push_stop(st);
    uv_timer_stop(&st->grace);
    srv_pending_clear(st);
    if (!st->started) {
        srv_stream_release(st);
        return;
    }
    if (st->pipe.on_loop) {
        cir_onair_t *live = st->pipe.live;
        srv_pipe_finish(st, &live);
        st->started = 0;
        srv_stream_release(st);
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
    st->end_reason = "publisher did not come back";
    srv_stream_end(st);
}

stream_t *
srv_stream_find(cir_ingest_t *s, const srv_app_t *app, const char *key)
{
    for (stream_t *st = s->streams; st != NULL; st = st->next) {
        if (st->app == app && strcmp(st->key, key) == 0) {
            return st;
        }
    }
    return NULL;
}

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
        st->end_reason = "pipeline failed";
        if (st->publisher != NULL) {
            conn_t *c = st->publisher;
            st->publisher = NULL;
            srv_conn_close(c);
        }
        srv_stream_end(st);
    }
    if (done && st->started) {
        uv_thread_join(&p->thread);
        st->started = 0;
        srv_stream_release(st);
    }
}

stream_t *
srv_stream_new(cir_ingest_t *s, srv_app_t *app, const char *key)
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
    st->app = app;
    snprintf(st->key, sizeof(st->key), "%s", key);
    st->log = (cir_log_ctx_t){
        .component = "ingest", .app = app->cfg.name, .stream = st->key};
    st->expect_video = st->expect_audio = 1;
    st->start_us = srv_now_us();
    st->start_wall = time(NULL);
    uv_timer_init(&s->loop, &st->grace);
    st->grace.data = st;
    st->async.data = st;
    st->handles = 2;
    st->next = s->streams;
    s->streams = st;
    s->nstreams++;
    return st;
}

/* The publisher left without unpublishing: the stream waits grace_seconds
 * for it (a clean unpublish ends the stream at once, see on_unpublish). */
void
srv_stream_detach(stream_t *st)
{
    st->publisher = NULL;
    srv_push_stop(st); /* a returning publisher starts them afresh */
    if (st->closing) {
        return;
    }
    srv_pending_clear(st);
    if (st->srv->stopping || st->srv->cfg.grace_seconds <= 0 ||
        !st->configured) {
        st->end_reason = st->srv->stopping ? "stopping" : "publisher gone";
        srv_stream_end(st);
        return;
    }
    cir_log_info(&st->log, "publisher gone: waiting %.1f s for it",
                 st->srv->cfg.grace_seconds);
    /* meanwhile players get whole segments, not an open one */
    srv_feed(st, &(item_t){.pause = 1});
    uv_timer_start(&st->grace, grace_expired,
                   (uint64_t)(st->srv->cfg.grace_seconds * 1000), 0);
}

int
srv_try_configure(stream_t *st, int force)
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
    if (!st->started && (ret = srv_start_pipe(st)) < 0) {
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
        srv_push(st, st->pending_video[i], &st->pending[i]);
    }
    st->npending = 0;
    return 0;
}

enum AVCodecID
srv_codec_id(cir_flv_codec_t c)
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

int
srv_on_sequence_header(stream_t *st, int video, const cir_flv_tag_t *t)
{
    AVCodecParameters *par, **cur = video ? &st->vpar : &st->apar;
    int ret;

    if (t->size == 0 || t->size > 1 << 20) {
        return CIR_EMEDIA;
    }
    if (video && srv_codec_id(t->codec) != AV_CODEC_ID_H264 &&
        srv_codec_id(t->codec) != AV_CODEC_ID_HEVC) {
        /* accepted at connect (E-RTMP fourCcList), refused here */
        cir_log_error(&st->log,
                      "video codec %s: the live pipeline takes H.264 and "
                      "HEVC only: closing the publisher",
                      avcodec_get_name(srv_codec_id(t->codec)));
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
    par->codec_id = srv_codec_id(t->codec);
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
        srv_feed(st, &it);
    } else if (st->configured) {
        /* a track the pipeline was not told about: ignored */
        avcodec_parameters_free(&par);
        return 0;
    }
    avcodec_parameters_free(cur);
    *cur = par;
    return srv_try_configure(st, 0);
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

int
srv_on_frame(stream_t *st, int video, uint32_t ts, const cir_flv_tag_t *t)
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
        srv_pipe_run(st, st->pipe.live, &it);
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
        srv_push(st, video, &pkt);
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
    return srv_try_configure(st, st->npending >= PENDING_FORCE ||
                                     pkt->dts - st->pending[0]->dts >= 1000);
}
