/*
 * One live rung: bounded queue -> swscale -> libx264 (zero latency) -> live
 * CMAF packager, on its own thread.
 *
 * Closed captions (A/53 cc_data, captions.h) do not ride in the queue with
 * their frame: a dropped frame would lose them, and a picture repeated over
 * a hole would say them twice.  They leave each frame as it is pushed, wait
 * in the rung's caption queue (under the rung's lock), and every frame sent
 * to the encoder, repeats too, takes those timed before its end.
 *
 * Tested by tests/unit/test_transcoder_live_abr.c (the captions by
 * tests/integration/live_captions.test.mjs).
 */
#include <pthread.h> /* _GNU_SOURCE (the build's): pthread_setname_np */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "avsetup.h"
#include "captions.h"
#include "cir_bqueue.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_preset_codecs.h"
#include "cmaf_live.h"
#include "codecs.h"
#include "live_rung.h"

#define KEY_RESERVE 2 /* slots past the cap for keyframes only */

/* The stream's wall clock for a timeline (cir_onair_rung_set_anchor). */
typedef struct {
    int64_t wall, media; /* media time (µs) media was captured at wall */
    uint32_t gaps;       /* its outage's GAP segments */
    int64_t hole;
} anchor_t;

typedef struct {
    AVFrame *frame;
    int key, disc;
    int64_t next_pts;  /* of the frame queued after it, when known */
    anchor_t anchor;   /* the stream's, when pushed */
    int64_t pushed_us; /* monotonic, for the encoder's lag */
} entry_t;

struct cir_onair_rung {
    char name[CIR_LIVE_ID_MAX];
    char stream[CIR_LIVE_ID_MAX];
    int width, height;
    AVRational tb;
    int64_t frame_dur; /* tb units; 0: unknown, measured */
    int64_t last_pts;
    int64_t measured_dur;
    int64_t cur_dur;   /* of the frame being encoded */
    int64_t last_end;  /* where the last sample ended */
    AVFrame *prev;     /* the last picture encoded, for repeats */
    int64_t max_gap;   /* longest sample: half a part, tb units */
    int64_t dts_shift; /* the source's composition delay, tb units */
    AVCodecContext *enc;
    struct SwsContext *sws;
    cir_cmaf_live_t *pkg;
    AVPacket *pkt;
    cir_onair_rec_t *rec;
    int delay_us;
    cir_log_ctx_t log;

    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* of entry_t: frames queued at most queue_frames (keyframes and
     * breaks: KEY_RESERVE more), dropped by cir_bqueue.h's policy */
    cir_bqueue_t q;
    int eof, err;
    /* the newest frame dropped since the last one queued (AV_NOPTS_VALUE:
     * none): at the end of the stream, where the last frame's sample ends */
    int64_t dropped_tail_pts;

    int anchored; /* the rendition has the stream's anchor (thread) */
    /* the frames' cc_data, taken at push, given at send (under lock) */
    cir_captions_t *captions;
    int captions_said; /* the index says so (thread) */

    /* producer side only */
    int carry_disc;  /* a dropped frame's discontinuity, for the next one */
    anchor_t anchor; /* set_anchor's, for the entries */

    atomic_uint_fast64_t frames, dropped, bytes;
    /* from a frame's push to its encoding done, the last frame's */
    atomic_int_fast64_t lag_us;
    atomic_uint target_duration; /* the stream's, 0 until decided */
};

static int64_t
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
open_encoder(cir_onair_rung_t *r, const cir_onair_rung_config_t *cfg)
{
    cir_venc_config_t venc = {
        .width = r->width,
        .height = r->height,
        .time_base = cfg->time_base,
        .frame_rate = cfg->frame_rate,
        /* every keyframe is forced by the producer, at the same frames in
         * every rung; the encoder must never add one of its own */
        .gop_frames = 0,
        .rung = cfg->ladder->rung,
        .preset = cir_preset_encoder_speed(cfg->preset),
        .low_latency = 1,
    };

    if (cir_preset_vcodec(cfg->preset) != CIR_VCODEC_H264) {
        cir_log_warn(&r->log, "live rungs are H.264: the preset's codec is "
                              "not used");
    }
    if (venc.frame_rate.num <= 0 || venc.frame_rate.den <= 0) {
        venc.frame_rate = (AVRational){30, 1};
    }
    return cir_venc_open(&venc, &r->log, &r->enc);
}

cir_cmaf_live_config_t
live_packager_config(const cir_onair_packaging_t *p, const char *dir,
                     const cir_live_track_t *track,
                     const AVCodecParameters *par, AVRational time_base,
                     AVRational frame_rate)
{
    return (cir_cmaf_live_config_t){
        .dir = dir,
        .track = track,
        .par = par,
        .time_base = time_base,
        .frame_rate = frame_rate,
        .part_target_us = p->part_target_us,
        .segment_seconds = p->segment_seconds,
        .target_duration = p->target_duration,
        .window = p->window,
        .clock = p->clock,
        .enc = p->enc,
        .keys = p->keys,
    };
}

static int
open_packager(cir_onair_rung_t *r, const cir_onair_rung_config_t *cfg)
{
    cir_cmaf_live_config_t c;
    cir_live_track_t track = {0};
    AVCodecParameters *par = avcodec_parameters_alloc();
    int ret;

    if (par == NULL) {
        return CIR_ENOMEM;
    }
    if ((ret = avcodec_parameters_from_context(par, r->enc)) < 0) {
        avcodec_parameters_free(&par);
        return CIR_ENOMEM;
    }
    snprintf(track.rendition, sizeof(track.rendition), "%s", r->name);
    track.kind = CIR_LIVE_VIDEO;
    if (cir_codecs_avc(r->enc->extradata, (size_t)r->enc->extradata_size,
                       track.codecs, sizeof(track.codecs)) < 0) {
        snprintf(track.codecs, sizeof(track.codecs), "avc1.64001f");
    }
    track.width = r->width;
    track.height = r->height;
    track.frame_rate = cfg->frame_rate.num > 0 ? av_q2d(cfg->frame_rate) : 0;
    track.average_bandwidth = (uint64_t)r->enc->bit_rate;
    track.bandwidth = (uint64_t)r->enc->rc_max_rate;
    c = live_packager_config(&cfg->packaging, cfg->dir, &track, par,
                             cfg->time_base, cfg->frame_rate);
    ret = cir_cmaf_live_open(&r->pkg, &c);
    avcodec_parameters_free(&par);
    return ret;
}

static int
record(cir_onair_rung_t *r)
{
    return r->rec ? cir_onair_rec_sync(r->rec, cir_cmaf_live_index(r->pkg)) : 0;
}

/* The stream's target duration, once the producer knows it. */
static int
apply_target(cir_onair_rung_t *r)
{
    unsigned td = atomic_load(&r->target_duration);

    if (td == 0 || cir_cmaf_live_target_duration(r->pkg) == td) {
        return 0;
    }
    return cir_cmaf_live_set_target_duration(r->pkg, td);
}

void
cir_onair_rung_set_target_duration(cir_onair_rung_t *r, uint32_t td)
{
    atomic_store(&r->target_duration, td);
}

static int
drain(cir_onair_rung_t *r)
{
    int ret;

    for (;;) {
        ret = avcodec_receive_packet(r->enc, r->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            cir_log_error(&r->log, "encoder: %s", av_err2str(ret));
            return CIR_EINTERNAL;
        }
        /* decode times as the source's: the same tfdt in every rendition */
        r->pkt->dts -= r->dts_shift;
        if (r->pkt->duration <= 0) {
            r->pkt->duration = r->cur_dur;
        }
        atomic_fetch_add(&r->bytes, (uint64_t)r->pkt->size);
        ret = apply_target(r);
        if (ret == 0) {
            ret = cir_cmaf_live_write(r->pkg, r->pkt);
        }
        av_packet_unref(r->pkt);
        if (ret == 1) {
            ret = record(r);
        }
        if (ret < 0) {
            return ret;
        }
    }
}

/* Encodes one picture at pts lasting dur (cut to max_gap). */
/* The queued cc_data timed before the frame's end onto it (captions.h);
 * the first time the source has captions, the rendition's index says so. */
static int
give_captions(cir_onair_rung_t *r, AVFrame *f)
{
    int ret, seen;

    pthread_mutex_lock(&r->lock);
    ret = cir_captions_give(r->captions, f, r->tb, r->cur_dur);
    seen = cir_captions_seen(r->captions);
    pthread_mutex_unlock(&r->lock);
    if (ret < 0 || !seen || r->captions_said) {
        return ret;
    }
    r->captions_said = 1;
    return cir_cmaf_live_set_closed_captions(r->pkg);
}

static int
send(cir_onair_rung_t *r, AVFrame *f, int key, int64_t pts, int64_t dur)
{
    int ret;

    f->pts = pts;
    f->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    f->key_frame = key;
    r->cur_dur = dur > r->max_gap ? r->max_gap : dur;
    r->last_pts = pts;
    r->last_end = pts + r->cur_dur;
    if ((ret = give_captions(r, f)) < 0) {
        return ret;
    }
    ret = avcodec_send_frame(r->enc, f);
    if (ret < 0) {
        cir_log_error(&r->log, "encoder: %s", av_err2str(ret));
        return CIR_EINTERNAL;
    }
    return drain(r);
}

/* The source picture at the rung's size in YUV 4:2:0 (bicubic), or a
 * reference to it when it is that already; NULL: out of memory. */
static AVFrame *
rung_picture(cir_onair_rung_t *r, const AVFrame *src)
{
    AVFrame *dst;

    if (src->width == r->width && src->height == r->height &&
        src->format == AV_PIX_FMT_YUV420P) {
        return av_frame_clone(src);
    }
    r->sws = sws_getCachedContext(
        r->sws, src->width, src->height, (enum AVPixelFormat)src->format,
        r->width, r->height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    dst = av_frame_alloc();
    if (r->sws == NULL || dst == NULL) {
        av_frame_free(&dst);
        return NULL;
    }
    dst->format = AV_PIX_FMT_YUV420P;
    dst->width = r->width;
    dst->height = r->height;
    if (av_frame_get_buffer(dst, 0) < 0) {
        av_frame_free(&dst);
        return NULL;
    }
    sws_scale(r->sws, (const uint8_t *const *)src->data, src->linesize, 0,
              src->height, dst->data, dst->linesize);
    av_frame_copy_props(dst, src);
    return dst;
}

static int
encode(cir_onair_rung_t *r, entry_t *e)
{
    AVFrame *src = e->frame, *dst;
    int64_t dur, pts;
    int ret;

    if (e->disc) {
        if ((ret = drain(r)) < 0 ||
            (ret = cir_cmaf_live_discontinuity(r->pkg, AV_NOPTS_VALUE)) < 0 ||
            (ret = record(r)) < 0) {
            return ret;
        }
    }
    if (src == NULL) {
        return 0; /* a break alone (cir_onair_rung_break) */
    }
    if (e->anchor.wall != 0 && (e->disc || !r->anchored)) {
        /* the new timeline's anchor: the frames before it were packaged */
        ret = cir_cmaf_live_set_anchor(r->pkg, e->anchor.wall, e->anchor.media,
                                       e->disc ? e->anchor.gaps : 0,
                                       e->anchor.hole);
        if (ret < 0) {
            return ret;
        }
        r->anchored = 1;
    }
    if ((dst = rung_picture(r, src)) == NULL) {
        return CIR_ENOMEM;
    }
    dst->sample_aspect_ratio = (AVRational){1, 1};
    if (r->last_pts != AV_NOPTS_VALUE && dst->pts > r->last_pts) {
        /* an unknown frame rate: durations from the last gap */
        r->measured_dur = dst->pts - r->last_pts;
    }
    dur = r->frame_dur ? r->frame_dur : r->measured_dur;
    if (e->next_pts != AV_NOPTS_VALUE && e->next_pts > dst->pts) {
        /* up to the next frame: dropped frames leave no hole */
        dur = e->next_pts - dst->pts;
    }
    /* frames dropped after the last one left a hole it did not know of:
     * repeat the last picture over it (cheap, all skip) so no sample, so
     * no part, outgrows the part target */
    pts = dst->pts;
    ret = 0;
    for (int64_t t = r->last_end;
         !e->disc && r->prev && r->last_end != AV_NOPTS_VALUE && t < pts &&
         pts - t > r->max_gap / 4 && ret == 0;
         t = r->last_end) {
        AVFrame *rep = av_frame_clone(r->prev);
        if (rep == NULL) {
            av_frame_free(&dst);
            return CIR_ENOMEM;
        }
        ret = send(r, rep, 0, t, pts - t);
        av_frame_free(&rep);
    }
    if (ret == 0) {
        ret = send(r, dst, e->key, pts, dur);
    }
    atomic_fetch_add(&r->frames, 1);
    /* a long hole after drops: repeats of this picture (cheap, all skip)
     * keep every sample, so every part, within the part target */
    for (int64_t t = dst->pts + r->cur_dur; ret == 0 && t < dst->pts + dur;
         t += r->cur_dur) {
        AVFrame *rep = av_frame_clone(dst);
        if (rep == NULL) {
            ret = CIR_ENOMEM;
            break;
        }
        ret = send(r, rep, 0, t, dst->pts + dur - t);
        av_frame_free(&rep);
    }
    av_frame_free(&r->prev);
    r->prev = dst;
    return ret;
}

static int
pop(cir_onair_rung_t *r, entry_t *e)
{
    cir_bqueue_meta_t m;
    const entry_t *next;
    int got = 0;

    pthread_mutex_lock(&r->lock);
    while (cir_bqueue_count(&r->q) == 0 && !r->eof && r->err != CIR_ECANCELED) {
        pthread_cond_wait(&r->cond, &r->lock);
    }
    if (r->err != CIR_ECANCELED && cir_bqueue_pop(&r->q, e, &m)) {
        /* where its successor starts, if frames after it were dropped, is
         * worth waiting a frame for: its sample then covers the hole */
        while (m.gap_after && cir_bqueue_count(&r->q) == 0 && !r->eof &&
               r->err != CIR_ECANCELED) {
            pthread_cond_wait(&r->cond, &r->lock);
        }
        next = cir_bqueue_peek(&r->q);
        if (next != NULL && !next->disc && next->frame != NULL) {
            /* (not across a break: the new timeline's first frame is no
             * end for the old one's last sample) */
            e->next_pts = next->frame->pts;
        } else if (m.gap_after && r->eof &&
                   r->dropped_tail_pts != AV_NOPTS_VALUE) {
            /* the stream's last frames were dropped: this one's sample
             * runs to where theirs would have ended, so the rendition
             * (and its recording) lasts as long as the source */
            e->next_pts = r->dropped_tail_pts +
                          (r->frame_dur ? r->frame_dur : r->measured_dur);
        } else {
            e->next_pts = AV_NOPTS_VALUE;
        }
        got = 1;
    }
    pthread_mutex_unlock(&r->lock);
    return got;
}

static void
set_err(cir_onair_rung_t *r, int err)
{
    pthread_mutex_lock(&r->lock);
    if (r->err == 0) {
        r->err = err;
    }
    pthread_mutex_unlock(&r->lock);
}

static void *
run(void *arg)
{
    cir_onair_rung_t *r = arg;
    char name[16];
    entry_t e;
    int ret = 0;

    /* "rung-<name>" cut to the 15 bytes a thread name holds */
    snprintf(name, sizeof(name), "rung-%.10s", r->name);
    pthread_setname_np(pthread_self(), name);

    while (pop(r, &e)) {
        if (ret == 0) {
            ret = encode(r, &e);
            if (ret < 0) {
                set_err(r, ret); /* the producer sees it on its next push */
            }
            atomic_store(&r->lag_us, mono_us() - e.pushed_us);
        }
        av_frame_free(&e.frame);
        if (r->delay_us > 0) {
            struct timespec ts = {.tv_sec = r->delay_us / 1000000,
                                  .tv_nsec = (r->delay_us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
    }
    pthread_mutex_lock(&r->lock);
    ret = r->err;
    pthread_mutex_unlock(&r->lock);
    if (ret == 0) {
        ret = avcodec_send_frame(r->enc, NULL) < 0 ? CIR_EINTERNAL : drain(r);
    }
    if (ret == 0 && (ret = apply_target(r)) == 0) {
        ret = cir_cmaf_live_finish(r->pkg);
    }
    if (ret == 0) {
        ret = record(r);
    }
    if (ret < 0) {
        set_err(r, ret);
    }
    return NULL;
}

int
cir_onair_rung_start(cir_onair_rung_t **out, const cir_onair_rung_config_t *cfg)
{
    cir_onair_rung_t *r;
    int ret;

    if (cfg->queue_frames < 2 || cfg->queue_frames > CIR_ONAIR_RUNG_QUEUE_MAX) {
        return CIR_EINVAL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return CIR_ENOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    snprintf(r->name, sizeof(r->name), "%s", cfg->ladder->rung->name);
    snprintf(r->stream, sizeof(r->stream), "%s",
             cfg->stream ? cfg->stream : "");
    r->log = (cir_log_ctx_t){
        .component = "live-rung", .stream = r->stream, .rendition = r->name};
    r->width = cfg->ladder->width;
    r->height = cfg->ladder->height;
    r->tb = cfg->time_base;
    r->rec = cfg->rec;
    r->delay_us = cfg->delay_us;
    r->last_pts = AV_NOPTS_VALUE;
    r->dropped_tail_pts = AV_NOPTS_VALUE;
    r->last_end = AV_NOPTS_VALUE;
    r->max_gap =
        av_rescale_q(cfg->packaging.part_target_us / 2, AV_TIME_BASE_Q, r->tb);
    r->frame_dur = cfg->frame_rate.num > 0
                       ? av_rescale_q(1, av_inv_q(cfg->frame_rate), r->tb)
                       : 0;
    if (r->max_gap < r->frame_dur) {
        r->max_gap = r->frame_dur;
    }
    if (r->max_gap < 1) {
        r->max_gap = 1;
    }
    atomic_init(&r->frames, 0);
    atomic_init(&r->dropped, 0);
    atomic_init(&r->lag_us, 0);
    atomic_init(&r->bytes, 0);
    atomic_init(&r->target_duration, cfg->packaging.target_duration);
    r->pkt = av_packet_alloc();
    if (r->pkt == NULL || cir_captions_open(&r->captions) < 0) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = cir_bqueue_init(&r->q,
                               &(cir_bqueue_limits_t){
                                   .items = (size_t)cfg->queue_frames,
                                   .soft_items = (size_t)cfg->queue_frames,
                                   .bytes = SIZE_MAX, /* frames are counted */
                                   .soft_bytes = SIZE_MAX,
                                   .key_reserve = KEY_RESERVE,
                               },
                               sizeof(entry_t))) < 0 ||
        (ret = open_encoder(r, cfg)) < 0 || (ret = open_packager(r, cfg)) < 0) {
        goto fail;
    }
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    r->started = 1;
    *out = r;
    return 0;

fail:
    cir_onair_rung_free(&r);
    return ret;
}

int
cir_onair_rung_break(cir_onair_rung_t *r)
{
    entry_t brk = {.key = 1, .disc = 1, .next_pts = AV_NOPTS_VALUE};
    int ret, full = 0;

    pthread_mutex_lock(&r->lock);
    ret = r->err;
    if (ret == 0) {
        full = cir_bqueue_push(&r->q, &brk, &(cir_bqueue_meta_t){.control = 1},
                               NULL, NULL) == CIR_BQUEUE_REFUSED;
        if (!full) {
            pthread_cond_signal(&r->cond);
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (ret < 0) {
        return ret;
    }
    if (full) {
        r->carry_disc = 1;
        return 1;
    }
    return 0;
}

/* Queues ref (taken unless refused) by the queue's drop policy (called
 * locked): a frame that is not a keyframe is refused when the queue is
 * full; a keyframe evicts the newest queued one that is not (its break
 * goes on with the keyframe), or is refused when all are keyframes.
 * Returns 1 if a frame was dropped. */
static int
queue_frame(cir_onair_rung_t *r, AVFrame **ref, int key, int disc)
{
    entry_t e = {.frame = *ref,
                 .key = key,
                 .disc = disc,
                 .next_pts = AV_NOPTS_VALUE,
                 .anchor = r->anchor,
                 .pushed_us = mono_us()};
    entry_t evicted;

    switch (cir_bqueue_push(&r->q, &e, &(cir_bqueue_meta_t){.key = key},
                            &evicted, NULL)) {
    case CIR_BQUEUE_REFUSED:
        if (key) {
            cir_log_warn(&r->log, "a keyframe is dropped: segments may not "
                                  "align");
        }
        r->carry_disc = disc;
        r->dropped_tail_pts = (*ref)->pts;
        return 1;
    case CIR_BQUEUE_EVICTED:
        ((entry_t *)cir_bqueue_newest(&r->q))->disc |= evicted.disc;
        av_frame_free(&evicted.frame);
        *ref = NULL;
        r->dropped_tail_pts = AV_NOPTS_VALUE;
        pthread_cond_signal(&r->cond);
        return 1;
    default:
        *ref = NULL;
        r->dropped_tail_pts = AV_NOPTS_VALUE;
        pthread_cond_signal(&r->cond);
        return 0;
    }
}

int
cir_onair_rung_push(cir_onair_rung_t *r, const AVFrame *frame, int key,
                    int disc)
{
    AVFrame *ref = av_frame_clone(frame);
    int ret, dropped = 0;

    if (ref == NULL) {
        return CIR_ENOMEM;
    }
    disc |= r->carry_disc;
    r->carry_disc = 0;
    pthread_mutex_lock(&r->lock);
    ret = r->err;
    if (ret == 0) {
        /* the captions stay, whether the frame is queued or dropped */
        ret = cir_captions_take(r->captions, ref, r->tb);
    }
    if (ret == 0) {
        dropped = queue_frame(r, &ref, key, disc);
    }
    pthread_mutex_unlock(&r->lock);
    av_frame_free(&ref);
    if (ret < 0) {
        return ret;
    }
    if (dropped) {
        /* logged once per episode by the stats (live_health.h) */
        atomic_fetch_add(&r->dropped, 1);
    }
    return dropped;
}

int
cir_onair_rung_finish(cir_onair_rung_t *r)
{
    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->eof = 1;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
        r->started = 0;
    }
    return r->err;
}

void
cir_onair_rung_set_anchor(cir_onair_rung_t *r, int64_t wall_us,
                          int64_t media_us, uint32_t gaps, int64_t hole_us)
{
    r->anchor = (anchor_t){
        .wall = wall_us, .media = media_us, .gaps = gaps, .hole = hole_us};
}

void
cir_onair_rung_set_dts_shift(cir_onair_rung_t *r, int64_t shift)
{
    pthread_mutex_lock(&r->lock);
    r->dts_shift = shift;
    pthread_mutex_unlock(&r->lock);
}

const char *
cir_onair_rung_name(const cir_onair_rung_t *r)
{
    return r->name;
}

void
cir_onair_rung_size(const cir_onair_rung_t *r, int *w, int *h)
{
    *w = r->width;
    *h = r->height;
}

uint64_t
cir_onair_rung_frames(const cir_onair_rung_t *r)
{
    return atomic_load(&((cir_onair_rung_t *)r)->frames);
}

uint64_t
cir_onair_rung_dropped(const cir_onair_rung_t *r)
{
    return atomic_load(&((cir_onair_rung_t *)r)->dropped);
}

int64_t
cir_onair_rung_lag_us(const cir_onair_rung_t *r)
{
    return atomic_load(&((cir_onair_rung_t *)r)->lag_us);
}

uint64_t
cir_onair_rung_bytes(const cir_onair_rung_t *r)
{
    return atomic_load(&((cir_onair_rung_t *)r)->bytes);
}

void
cir_onair_rung_free(cir_onair_rung_t **rp)
{
    cir_onair_rung_t *r = *rp;

    if (r == NULL) {
        return;
    }
    if (r->started) {
        /* an early stop: the thread drops what is queued and exits */
        set_err(r, CIR_ECANCELED);
        pthread_mutex_lock(&r->lock);
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
        cir_onair_rung_finish(r);
    }
    for (entry_t e; cir_bqueue_pop(&r->q, &e, NULL);) {
        av_frame_free(&e.frame);
    }
    cir_bqueue_free(&r->q);
    av_frame_free(&r->prev);
    avcodec_free_context(&r->enc);
    sws_freeContext(r->sws);
    cir_cmaf_live_free(&r->pkg);
    av_packet_free(&r->pkt);
    cir_captions_free(&r->captions);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
    *rp = NULL;
}
