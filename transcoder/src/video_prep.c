/*
 * The preparation graph of a VOD job's video: deinterlace, rotate per the
 * display matrix, square pixels, cap the frame rate, 8-bit 4:2:0.  See
 * pipeline.h.
 *
 * Tested by tests/unit/test_transcoder_pipeline.c.
 */
#include <math.h>
#include <stdio.h>

#include <libavfilter/buffersink.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

#include "avsetup.h"
#include "cir_error.h"
#include "ladder.h"
#include "pipeline.h"

/* The rotation the display matrix asks for, in degrees clockwise. */
static int
display_rotation(const AVStream *st)
{
    const uint8_t *m =
        av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    double theta;

    if (m == NULL) {
        return 0;
    }
    theta = -av_display_rotation_get((const int32_t *)m);
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    return (int)lrint(theta / 90) * 90 % 360;
}

/* Builds the preparation graph once the first frame shows what the decoder
 * really outputs. */
int
cir_video_prep_build(cir_job_state_t *s, const AVFrame *f)
{
    char args[512], spec[512];
    AVRational sar = f->sample_aspect_ratio, fr;
    int num, den, ret, n = 0, rot = display_rotation(s->vst);
    int interlaced = f->interlaced_frame ||
                     (s->vst->codecpar->field_order != AV_FIELD_PROGRESSIVE &&
                      s->vst->codecpar->field_order != AV_FIELD_UNKNOWN);

    if (sar.num <= 0 || sar.den <= 0) {
        sar = (AVRational){1, 1};
    }
    s->graph = avfilter_graph_alloc();
    if (s->graph == NULL) {
        return CIR_ENOMEM;
    }
    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             f->width, f->height, f->format, s->vst->time_base.num,
             s->vst->time_base.den, sar.num, sar.den);
    ret = avfilter_graph_create_filter(&s->vsrc, avfilter_get_by_name("buffer"),
                                       "in", args, NULL, s->graph);
    if (ret < 0) {
        goto fail;
    }
    ret = avfilter_graph_create_filter(&s->vsink,
                                       avfilter_get_by_name("buffersink"),
                                       "out", NULL, NULL, s->graph);
    if (ret < 0) {
        goto fail;
    }
    fr = s->vst->avg_frame_rate.num > 0 ? s->vst->avg_frame_rate
                                        : s->vst->r_frame_rate;
    cir_ladder_frame_rate(fr.num, fr.den, s->ctx->preset->max_frame_rate, &num,
                          &den);
    spec[0] = '\0';
    if (interlaced) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n,
                      "yadif=mode=send_frame:deint=all,");
        s->deinterlaced = 1;
    }
    if (rot == 90) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n, "transpose=clock,");
    } else if (rot == 270) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n, "transpose=cclock,");
    } else if (rot == 180) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n, "hflip,vflip,");
    }
    if (sar.num != sar.den) {
        n += snprintf(spec + n, sizeof(spec) - (size_t)n,
                      "scale=trunc(iw*sar/2)*2:ih,setsar=1,");
    }
    snprintf(spec + n, sizeof(spec) - (size_t)n,
             "fps=fps=%d/%d:round=near,format=pix_fmts=yuv420p", num, den);
    cir_log_info(&s->ctx->log,
                 "video %dx%d %s, %s%srotation %d, %d/%d fps -> %s", f->width,
                 f->height, av_get_pix_fmt_name((enum AVPixelFormat)f->format),
                 interlaced ? "interlaced, " : "",
                 sar.num != sar.den ? "anamorphic, " : "", rot, num, den, spec);
    if ((ret = cir_graph_link(s->graph, s->vsrc, s->vsink, spec)) < 0) {
        goto fail;
    }
    s->frame_rate = (AVRational){num, den};
    s->prep_tb = av_buffersink_get_time_base(s->vsink);
    s->width = av_buffersink_get_w(s->vsink);
    s->height = av_buffersink_get_h(s->vsink);
    ret = 0;

fail:
    if (ret < 0) {
        return cir_job_fail(s->ctx, CIR_EMEDIA, "video filter graph: %s",
                            av_err2str(ret));
    }
    return 0;
}
