/*
 * The live pipeline's ABR fan-out: decode the source once, hand each frame
 * to the rungs (live_rung.c: scale and encode on threads of their own,
 * each carrying the frames' closed captions).
 *
 * Tested by tests/unit/test_transcoder_live_abr.c.
 */

#include "live_internal.h"

static int fan_out(cir_onair_t *l, AVFrame *f);

int
live_open_decoder(cir_onair_t *l, const AVCodecParameters *par, AVRational tb)
{
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    int ret;

    avcodec_free_context(&l->vdec);
    if (codec == NULL) {
        return CIR_EUNSUPPORTED;
    }
    l->vdec = avcodec_alloc_context3(codec);
    if (l->vdec == NULL || avcodec_parameters_to_context(l->vdec, par) < 0) {
        return CIR_ENOMEM;
    }
    l->vdec->pkt_timebase = tb;
    /* slice threads only: frame threads would delay every frame */
    l->vdec->thread_type = FF_THREAD_SLICE;
    l->vdec->thread_count = 0;
    l->vdec->flags |= AV_CODEC_FLAG_LOW_DELAY;
    if ((ret = avcodec_open2(l->vdec, codec, NULL)) < 0) {
        cir_log_error(&l->log, "cannot open the %s decoder: %s", codec->name,
                      av_err2str(ret));
        return CIR_EMEDIA;
    }
    l->dec_need_key = 1;
    return 0;
}

/* The rungs that fit a width x height source, each on its thread. */
int
live_start_rungs(cir_onair_t *l, int width, int height)
{
    char dir[CIR_URI_MAX + 2 * CIR_LIVE_ID_MAX];
    AVRational tb = l->video.tb, fr = l->video.frame_rate;
    int n, ret;

    l->rungs_started = 1;
    n = cir_ladder_select(&l->preset, width, height, l->ladder,
                          CIR_PRESET_MAX_RUNGS);
    if (n < 0) {
        cir_log_error(&l->log, "no rung fits a %dx%d source", width, height);
        return CIR_EMEDIA;
    }
    if (l->passthrough) {
        /* a rung as big as the passthrough (the ladder never goes above
         * the source) is the same picture at a lower quality: skipped */
        int k = 0;
        for (int i = 0; i < n; i++) {
            if ((int64_t)l->ladder[i].width * l->ladder[i].height >=
                (int64_t)width * height) {
                cir_log_info(&l->log,
                             "rung %s skipped: the passthrough is %dx%d "
                             "already",
                             l->ladder[i].rung->name, width, height);
                continue;
            }
            l->ladder[k++] = l->ladder[i];
        }
        n = k;
    }
    for (int i = 0; i < n; i++) {
        cir_onair_rung_config_t c = {0};
        const char *name = l->ladder[i].rung->name;
        if (strcmp(name, "video") == 0 || strcmp(name, "audio") == 0) {
            cir_log_error(&l->log, "a rung may not be named %s", name);
            return CIR_EINVAL;
        }
        live_rendition_dir(l, name, dir, sizeof(dir));
        if ((ret = live_open_rec(l, name, &l->rung_recs[i])) < 0) {
            return ret;
        }
        c.dir = dir;
        c.stream = l->stream;
        c.preset = &l->preset;
        c.ladder = &l->ladder[i];
        c.time_base = tb;
        c.frame_rate = fr;
        c.packaging = live_packaging(l);
        c.queue_frames = l->cfg.queue_frames;
        c.rec = l->rung_recs[i];
        c.delay_us = i == n - 1 ? l->cfg.test_rung_delay_us : 0;
        if ((ret = cir_onair_rung_start(&l->rungs[i], &c)) < 0) {
            cir_log_error(&l->log, "rung %s: %s", name, cir_strerror(ret));
            return ret;
        }
        l->nb_rungs = i + 1;
        if (l->anchor_wall != 0) {
            cir_onair_rung_set_anchor(l->rungs[i], l->anchor_wall,
                                      l->anchor_media, 0, 0);
        }
        cir_log_info(&l->log, "rung %s %dx%d %d kbps", name, l->ladder[i].width,
                     l->ladder[i].height, l->ladder[i].rung->bitrate_kbps);
    }
    return 0;
}

int
live_decode(cir_onair_t *l, const AVPacket *pkt)
{
    int ret;

    if (l->vdec == NULL || (l->rungs_started && l->nb_rungs == 0)) {
        return 0; /* no rung to feed (the passthrough covers the ladder) */
    }
    if (pkt && l->dec_need_key) {
        if (!(pkt->flags & AV_PKT_FLAG_KEY)) {
            return 0;
        }
        l->dec_need_key = 0;
    }
    ret = avcodec_send_packet(l->vdec, pkt);
    if (ret < 0 && ret != AVERROR_EOF) {
        cir_log_debug(&l->log, "video decoding: %s", av_err2str(ret));
        return 0; /* a broken packet costs a frame, not the stream */
    }
    for (;;) {
        ret = avcodec_receive_frame(l->vdec, l->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return 0;
        }
        if (ret < 0) {
            continue;
        }
        ret = fan_out(l, l->frame);
        av_frame_unref(l->frame);
        if (ret < 0) {
            return ret;
        }
    }
}

/* Decodes and fans out the frames the decoder holds, then takes the next
 * packets afresh, from a keyframe. */
int
live_drain_decoder(cir_onair_t *l)
{
    int ret;

    if (l->vdec == NULL) {
        return 0;
    }
    if ((ret = live_decode(l, NULL)) < 0) {
        return ret;
    }
    avcodec_flush_buffers(l->vdec); /* leaves the draining state */
    l->dec_need_key = 1;
    return 0;
}

static int
is_source_key(cir_onair_t *l, int64_t pts)
{
    for (int i = 0; i < l->nb_keys; i++) {
        if (l->key_pts[i] == pts) {
            l->key_pts[i] = l->key_pts[--l->nb_keys];
            return 1;
        }
    }
    return 0;
}

/* A passthrough keeps the source's SEI, so its captions too: once a
 * decoded frame has cc_data, its index says so (as the rungs' do). */
static int
note_captions(cir_onair_t *l, const AVFrame *f)
{
    if (!l->captions_seen &&
        av_frame_get_side_data(f, AV_FRAME_DATA_A53_CC) != NULL) {
        l->captions_seen = 1;
        cir_log_info(&l->log, "the source carries closed captions "
                              "(A/53 cc_data)");
    }
    if (!l->captions_seen || l->captions_said || !l->passthrough ||
        l->video.pkg == NULL) {
        return 0;
    }
    l->captions_said = 1;
    return cir_cmaf_live_set_closed_captions(l->video.pkg);
}

static int
fan_out(cir_onair_t *l, AVFrame *f)
{
    AVRational tb = l->video.tb;
    int64_t pts = f->best_effort_timestamp, pts_us, half_us, gop_us, seg_us;
    int key, disc = 0, ret;

    if (pts == AV_NOPTS_VALUE) {
        return 0;
    }
    if (!l->rungs_started &&
        (ret = live_start_rungs(l, f->width, f->height)) < 0) {
        return ret;
    }
    f->pts = pts;
    pts_us = av_rescale_q(pts, tb, AV_TIME_BASE_Q);
    if (l->disc_pending) {
        disc = 1;
        l->disc_pending = 0;
    }
    if (l->passthrough) {
        /* the source's keyframes, which cut the passthrough's segments */
        key = is_source_key(l, pts);
    } else {
        half_us = l->video.frame_rate.num > 0
                      ? (int64_t)(5e5 / av_q2d(l->video.frame_rate))
                      : 10000;
        gop_us = (int64_t)(l->preset.gop_seconds * 1e6);
        seg_us = (int64_t)(l->segment_seconds * 1e6);
        key = disc || l->next_key_us == AV_NOPTS_VALUE ||
              pts_us >= l->next_key_us - half_us;
        if (key) {
            l->next_key_us = disc || l->next_key_us == AV_NOPTS_VALUE ||
                                     pts_us > l->next_key_us + gop_us
                                 ? pts_us + gop_us
                                 : l->next_key_us + gop_us;
            /* where the rungs' packagers will cut: the audio follows, and
             * the first segment decides the stream's target duration */
            if (!l->vseg_open || disc) {
                l->vseg_open = 1;
                l->vseg_start_us = pts_us;
                if (l->audio.pkg) {
                    cir_cmaf_live_cut_at(l->audio.pkg, pts_us);
                }
            } else if (pts_us - l->vseg_start_us >= seg_us - half_us) {
                ret = live_spread_target(
                    l, cir_live_decide_target_duration(
                           seg_us, pts_us - l->vseg_start_us));
                if (ret < 0) {
                    return ret;
                }
                l->vseg_start_us = pts_us;
                if (l->audio.pkg) {
                    cir_cmaf_live_cut_at(l->audio.pkg, pts_us);
                }
            }
        }
    }
    if ((ret = note_captions(l, f)) < 0) {
        return ret;
    }
    if (!l->fanned) {
        l->fanned = 1;
        for (int i = 0; i < l->nb_rungs; i++) {
            cir_onair_rung_set_dts_shift(l->rungs[i], l->cts_delay);
        }
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        if ((ret = cir_onair_rung_push(l->rungs[i], f, key, disc)) < 0) {
            cir_log_error(&l->log, "rung %s failed: %s",
                          cir_onair_rung_name(l->rungs[i]), cir_strerror(ret));
            return ret;
        }
    }
    return 0;
}
