/*
 * A live source from a file: demux, optionally pace to the wall clock, and
 * loop with timestamps that keep rising, into the live pipeline.
 *
 * Tested by tests/unit/test_transcoder_live.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavformat/avformat.h>

#include "cir_error.h"
#include "cir_onair.h"
#include "cir_log.h"
#include "input.h"

static const cir_log_ctx_t log_ctx = {.component = "live-source"};

static int64_t
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_us(int64_t us)
{
    struct timespec ts = {.tv_sec = us / 1000000,
                          .tv_nsec = (us % 1000000) * 1000};

    if (us > 0) {
        nanosleep(&ts, NULL);
    }
}

typedef struct {
    AVFormatContext *ic;
    int v, a;
} source_t;

static int
open_source(const char *path, source_t *s)
{
    char why[256];
    int ret;

    if ((ret = cir_input_open(&s->ic, path, NULL, NULL, why, sizeof(why))) <
        0) {
        cir_log_error(&log_ctx, "cannot open %s: %s", path, why);
        return ret == CIR_EUNSUPPORTED ? ret : CIR_EMEDIA;
    }
    if ((ret = avformat_find_stream_info(s->ic, NULL)) < 0) {
        cir_log_error(&log_ctx, "%s: %s", path, av_err2str(ret));
        return CIR_EMEDIA;
    }
    s->v = av_find_best_stream(s->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    s->a = av_find_best_stream(s->ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (s->v < 0 && s->a < 0) {
        cir_log_error(&log_ctx, "%s has no audio or video", path);
        return CIR_EMEDIA;
    }
    return 0;
}

static int
add_tracks(cir_onair_t *l, const source_t *s)
{
    int ret;

    if (s->v >= 0) {
        AVStream *st = s->ic->streams[s->v];
        ret = cir_onair_add_video(l, st->codecpar, st->time_base,
                                  st->avg_frame_rate, 0);
        if (ret < 0) {
            return ret;
        }
    }
    if (s->a >= 0) {
        AVStream *st = s->ic->streams[s->a];
        ret = cir_onair_add_audio(l, st->codecpar, st->time_base, 0);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

int
cir_onair_run_file(const cir_onair_file_job_t *job)
{
    source_t s = {0};
    cir_onair_t *live = NULL;
    AVPacket *pkt = av_packet_alloc();
    int64_t start_us = 0, loop_offset_us = 0, loop_len_us = 0, media_us = 0;
    int loops_left = job->loops, ret;

    if (pkt == NULL) {
        return CIR_ENOMEM;
    }
    if ((ret = open_source(job->input, &s)) < 0) {
        goto done;
    }
    if ((ret = cir_onair_open(&live, &job->live)) < 0 ||
        (ret = add_tracks(live, &s)) < 0) {
        goto done;
    }
    cir_log_info(&log_ctx, "publishing %s as stream %s", job->input,
                 job->live.stream);
    start_us = mono_us();
    for (;;) {
        if (job->cancel && atomic_load(job->cancel)) {
            break;
        }
        ret = av_read_frame(s.ic, pkt);
        if (ret == AVERROR_EOF) {
            if (loops_left == 0) {
                ret = 0;
                break;
            }
            loops_left -= loops_left > 0;
            loop_offset_us += loop_len_us;
            loop_len_us = 0;
            if (av_seek_frame(s.ic, -1, 0, AVSEEK_FLAG_BACKWARD) < 0) {
                ret = CIR_EMEDIA;
                break;
            }
            continue;
        }
        if (ret < 0) {
            cir_log_error(&log_ctx, "reading: %s", av_err2str(ret));
            ret = CIR_EMEDIA;
            break;
        }
        if (pkt->stream_index != s.v && pkt->stream_index != s.a) {
            av_packet_unref(pkt);
            continue;
        }
        AVStream *st = s.ic->streams[pkt->stream_index];
        int64_t off =
            av_rescale_q(loop_offset_us, AV_TIME_BASE_Q, st->time_base);
        int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
        int64_t t_us = ts == AV_NOPTS_VALUE
                           ? media_us
                           : av_rescale_q(ts, st->time_base, AV_TIME_BASE_Q);
        int64_t end_us =
            t_us + av_rescale_q(pkt->duration, st->time_base, AV_TIME_BASE_Q);
        if (end_us > loop_len_us) {
            loop_len_us = end_us;
        }
        if (pkt->pts != AV_NOPTS_VALUE) {
            pkt->pts += off;
        }
        if (pkt->dts != AV_NOPTS_VALUE) {
            pkt->dts += off;
        }
        media_us = loop_offset_us + t_us;
        if (job->max_seconds > 0 && media_us > job->max_seconds * 1e6) {
            av_packet_unref(pkt);
            ret = 0;
            break;
        }
        if (job->realtime) {
            sleep_us(start_us + media_us - mono_us());
        }
        ret = cir_onair_push(live, pkt->stream_index == s.v, pkt);
        av_packet_unref(pkt);
        if (ret < 0) {
            break;
        }
    }
    if (live) {
        int r = cir_onair_finish(live);
        if (ret == 0) {
            ret = r;
        }
    }

done:
    cir_onair_close(&live);
    cir_input_close(&s.ic);
    av_packet_free(&pkt);
    return ret;
}
