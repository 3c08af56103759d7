/*
 * Still-image helpers shared by thumbs.c and images.c (private to the
 * transcoder): scale a frame with swscale, encode one frame as JPEG (mjpeg)
 * or WebP (libwebp) into a malloc'd buffer.
 *
 * Every function returns 0 or a negative cir_err_t / -errno and logs what
 * failed with the caller's context.
 */
#ifndef CIR_JPEG_H
#define CIR_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include "cir_log.h"

struct SwsContext;

/* Maps an AVERROR to a cir_err_t (-errno passes through). */
int cir_img_averr(int averr);

/* A new refcounted frame of w x h in fmt; yuvj formats are full range. */
int cir_img_alloc(int w, int h, enum AVPixelFormat fmt, AVFrame **out);

/*
 * Scales src into a new frame of w x h in fmt.  *sws is a cached context
 * (NULL at first, reused across calls, freed by the caller with
 * sws_freeContext).  yuvj* targets are written full range with BT.601
 * coefficients (JFIF); the source range and matrix come from the frame.
 */
int cir_img_scale(struct SwsContext **sws, const AVFrame *src, int w, int h,
                  enum AVPixelFormat fmt, const cir_log_ctx_t *log,
                  AVFrame **out);

/* JPEG through the mjpeg encoder; f is yuvj420p/422p/444p.  quality 1..100
 * maps onto qscale 31..2.  *data is malloc'd, the caller frees it. */
int cir_img_encode_jpeg(const AVFrame *f, int quality, const cir_log_ctx_t *log,
                        uint8_t **data, size_t *len);

/* Lossy WebP through libwebp; f is yuv420p, or yuva420p to keep alpha. */
int cir_img_encode_webp(const AVFrame *f, int quality, const cir_log_ctx_t *log,
                        uint8_t **data, size_t *len);

/* The mjpeg qscale (2..31) for a quality 1..100. */
int cir_img_jpeg_qscale(int quality);

#endif
