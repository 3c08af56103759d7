/*
 * Set-up shared by the VOD and live pipelines: the H.264/HEVC encoder of a
 * ladder rung and the linking of a filter graph between its buffer source
 * and sink.  The two pipelines differ only in the settings below.
 */
#ifndef CIR_AVSETUP_H
#define CIR_AVSETUP_H

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>

#include "cir_log.h"
#include "cir_preset.h"

typedef struct {
    int hevc; /* libx265, else libx264 */
    int width, height;
    AVRational time_base, frame_rate;
    /* Keyframe interval in frames (keyint = min-keyint); 0: only the
     * keyframes the producer forces (live, aligned across rungs). */
    int gop_frames;
    const cir_rung_t *rung; /* bitrate, maxrate, bufsize, profile, level */
    const char *preset;     /* x264/x265 speed preset */
    /* zerolatency: no B-frames, no lookahead, one thread, a VBV of one
     * second of maxrate (VOD: frame threads and two seconds). */
    int low_latency;
    /* > 0: capped CRF (per-title ladders): x264's crf with a VBV maxrate
     * of the rung's bitrate and one second of buffer (bufsize_kbps when
     * set), half full at the start, so the rung averages no more than
     * the fixed one; 0: the rung's average bitrate */
    double crf;
} cir_venc_config_t;

/* Opens the encoder into *out (freed by the caller with
 * avcodec_free_context, also on failure); errors are logged. */
int cir_venc_open(const cir_venc_config_t *c, const cir_log_ctx_t *log,
                  AVCodecContext **out);

/* The AAC-LC encoder (FLTP, global header, time base 1/sample_rate). */
int cir_aenc_open(int sample_rate, int channels, int bitrate_kbps,
                  const cir_log_ctx_t *log, AVCodecContext **out);

/* A 5.1 encoder, 48 kHz, for the surround rendition: FFmpeg's encoder
 * of that name ("eac3", "ac3"). */
int cir_aenc_open_surround(const char *encoder, int bitrate_kbps,
                           const cir_log_ctx_t *log, AVCodecContext **out);

/* The audio graph from a decoder's frames (time base tb) to the encoder's
 * format, rate and layout in frames of its frame_size: aresample with
 * async=1000 (stretch/squeeze and pad by timestamps), plus first_pts=0
 * when pad_start (a late-starting track gets leading silence).  The graph
 * is freed by the caller (avfilter_graph_free), also on failure. */
int cir_audio_graph_open(const AVCodecContext *dec, AVRational tb,
                         const AVCodecContext *enc, int pad_start,
                         AVFilterGraph **graph, AVFilterContext **src,
                         AVFilterContext **sink);
/* The same with extra (NULL or a filter chain, e.g. a loudness gain) after
 * the conversion to the encoder's format, then back to its rate. */
int cir_audio_graph_open_with(const AVCodecContext *dec, AVRational tb,
                              const AVCodecContext *enc, int pad_start,
                              const char *extra, AVFilterGraph **graph,
                              AVFilterContext **src, AVFilterContext **sink);

/* Parses spec between src ("in") and sink ("out") of graph and configures
 * the graph; a libav error code on failure. */
int cir_graph_link(AVFilterGraph *graph, AVFilterContext *src,
                   AVFilterContext *sink, const char *spec);

#endif
