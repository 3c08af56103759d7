/*
 * Thumbnails from the decoded frames of the single decode pass: a poster,
 * one JPEG every interval, and sprite sheets of tiles, written through the
 * output store under thumbs/.  The WebVTT track and the manifests' image
 * tracks are rendered by origin/ from the cir_thumbs_t this fills.
 *
 *   thumbs/poster.jpg           poster_width wide, from the frame nearest
 *                               min(10% of duration, 10 s) (first if short)
 *   thumbs/thumb-<n>.jpg        n from 1, one per interval, tile size
 *   thumbs/sprite-<n>.jpg       columns x rows tiles, n from 1
 *
 * Frames arrive in presentation order with their time in seconds; the frame
 * is only read (never kept): what is needed is scaled into owned memory.
 */
#ifndef CIR_THUMBS_H
#define CIR_THUMBS_H

#include <libavutil/frame.h>

#include "cir_manifest.h"
#include "cir_preset.h"
#include "cir_storage.h"

typedef struct cir_thumbnailer cir_thumbnailer_t;

/* width/height: the display size of the frames that will be pushed;
 * duration: the source's duration in seconds (0 if unknown). */
int cir_thumbnailer_open(cir_thumbnailer_t **t, const cir_preset_t *preset,
                         cir_store_t *store, int width, int height,
                         double duration);
int cir_thumbnailer_push(cir_thumbnailer_t *t, const AVFrame *frame,
                         double time);
/* Writes what is pending (poster, last partial sheet) and describes the
 * track for the manifests. */
int cir_thumbnailer_finish(cir_thumbnailer_t *t, cir_thumbs_t *desc);
void cir_thumbnailer_free(cir_thumbnailer_t **t);

#endif
