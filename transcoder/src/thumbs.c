/*
 * Thumbnails, sprite sheets and the poster from the single decode pass.
 *
 * A tile is taken for every interval boundary the frames' times cross (a
 * gap repeats the frame, so tile i always stands for i * interval, as the
 * WebVTT track says).  Tiles are scaled to full-range YUV 4:2:0, written as
 * thumb-<n>.jpg and copied into the current sheet; a sheet is written when
 * full, the last one at finish.  Every sheet has the size the image
 * playlist and the MPD declare (columns x rows tiles; a last sheet's unused
 * tiles stay black): players compute tile positions from that layout.  Memory:
 * one sheet, one tile, and at most one copy of a poster candidate.
 */
#include "thumbs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "asset_put.h"
#include "cir_error.h"
#include "cir_log.h"
#include "jpeg.h"

#define THUMB_QUALITY  75
#define POSTER_QUALITY 85
#define POSTER_AT_MAX  10.0   /* seconds */
#define MAX_TILES      100000 /* a runaway timestamp must not fill a disk */
#define MAX_SHEET_SIDE 16384
#define TIME_EPSILON   1e-6

struct cir_thumbnailer {
    int enabled;
    cir_store_t *store;
    cir_log_ctx_t log;

    double interval;
    int tw, th;     /* tile */
    int cols, rows; /* tiles per sheet */
    int pw, ph;     /* poster */
    double poster_at;

    size_t nb_tiles;
    size_t nb_sprites;
    size_t sheet_tiles; /* tiles in the current sheet */
    size_t peak_sheet_bytes;
    int capped;

    AVFrame *sheet; /* yuvj420p, cols*tw x rows*th */
    struct SwsContext *tile_sws;
    struct SwsContext *poster_sws;

    int poster_done;
    AVFrame *candidate; /* copy of the last frame before poster_at */
};

/* An even size >= 2 for w * num / den, rounded to nearest. */
static int
even_scaled(int w, int num, int den)
{
    double v = (double)w * num / den;
    int e = 2 * (int)lround(v / 2.0);

    return e < 2 ? 2 : e;
}

static void
sheet_clear(AVFrame *s)
{
    int y;

    for (y = 0; y < s->height; y++) {
        memset(s->data[0] + (size_t)y * s->linesize[0], 0, s->width);
    }
    for (y = 0; y < (s->height + 1) / 2; y++) {
        memset(s->data[1] + (size_t)y * s->linesize[1], 128,
               (s->width + 1) / 2);
        memset(s->data[2] + (size_t)y * s->linesize[2], 128,
               (s->width + 1) / 2);
    }
}

static int
put_jpeg(cir_thumbnailer_t *t, const char *name, const AVFrame *f, int quality,
         size_t *bytes)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int ret;

    ret = cir_img_encode_jpeg(f, quality, &t->log, &data, &len);
    if (ret < 0) {
        cir_log_error(&t->log, "encoding %s failed: %s", name,
                      cir_strerror(ret));
        return ret;
    }
    ret = cir_asset_put(t->store, CIR_ASSET_VERSION, name, data, len);
    free(data);
    if (ret < 0) {
        cir_log_error(&t->log, "writing %s failed: %s", name,
                      cir_strerror(ret));
        return ret;
    }
    if (bytes != NULL) {
        *bytes = len;
    }
    return 0;
}

/* Writes the current sheet, whole: columns x rows tiles. */
static int
flush_sheet(cir_thumbnailer_t *t)
{
    char name[64];
    size_t bytes = 0;
    int ret;

    if (t->sheet_tiles == 0) {
        return 0;
    }
    snprintf(name, sizeof(name), "thumbs/sprite-%zu.jpg", t->nb_sprites + 1);
    ret = put_jpeg(t, name, t->sheet, THUMB_QUALITY, &bytes);
    if (ret < 0) {
        return ret;
    }
    t->nb_sprites++;
    if (bytes > t->peak_sheet_bytes) {
        t->peak_sheet_bytes = bytes;
    }
    t->sheet_tiles = 0;
    sheet_clear(t->sheet);
    return 0;
}

static int
add_tile(cir_thumbnailer_t *t, const AVFrame *tile)
{
    char name[64];
    size_t i = t->sheet_tiles;
    int x = (int)(i % (size_t)t->cols) * t->tw;
    int y = (int)(i / (size_t)t->cols) * t->th;
    int p, row;
    int ret;

    snprintf(name, sizeof(name), "thumbs/thumb-%zu.jpg", t->nb_tiles + 1);
    ret = put_jpeg(t, name, tile, THUMB_QUALITY, NULL);
    if (ret < 0) {
        return ret;
    }
    /* tw, th, x, y are even: chroma offsets are exact halves. */
    for (p = 0; p < 3; p++) {
        int sx = p == 0 ? x : x / 2, sy = p == 0 ? y : y / 2;
        int w = p == 0 ? t->tw : t->tw / 2, h = p == 0 ? t->th : t->th / 2;

        for (row = 0; row < h; row++) {
            memcpy(t->sheet->data[p] +
                       (size_t)(sy + row) * t->sheet->linesize[p] + sx,
                   tile->data[p] + (size_t)row * tile->linesize[p], w);
        }
    }
    t->nb_tiles++;
    t->sheet_tiles++;
    if (t->sheet_tiles == (size_t)t->cols * (size_t)t->rows) {
        return flush_sheet(t);
    }
    return 0;
}

static int
write_poster(cir_thumbnailer_t *t, const AVFrame *frame)
{
    AVFrame *p = NULL;
    int ret;

    ret = cir_img_scale(&t->poster_sws, frame, t->pw, t->ph,
                        AV_PIX_FMT_YUVJ420P, &t->log, &p);
    if (ret < 0) {
        cir_log_error(&t->log, "scaling the poster failed: %s",
                      cir_strerror(ret));
        return ret;
    }
    ret = put_jpeg(t, "thumbs/poster.jpg", p, POSTER_QUALITY, NULL);
    av_frame_free(&p);
    if (ret < 0) {
        return ret;
    }
    t->poster_done = 1;
    av_frame_free(&t->candidate);
    return 0;
}

/* Keeps an owned copy of frame as the poster candidate, reusing the copy's
 * buffer while the geometry stays the same. */
static int
keep_candidate(cir_thumbnailer_t *t, const AVFrame *frame)
{
    AVFrame *c = t->candidate;
    int ret;

    if (c != NULL &&
        (c->width != frame->width || c->height != frame->height ||
         c->format != frame->format || av_frame_make_writable(c) < 0)) {
        av_frame_free(&t->candidate);
        c = NULL;
    }
    if (c == NULL) {
        c = av_frame_alloc();
        if (c == NULL) {
            return CIR_ENOMEM;
        }
        c->width = frame->width;
        c->height = frame->height;
        c->format = frame->format;
        ret = av_frame_get_buffer(c, 0);
        if (ret < 0) {
            av_frame_free(&c);
            return cir_img_averr(ret);
        }
        t->candidate = c;
    }
    ret = av_frame_copy(c, frame);
    if (ret < 0) {
        av_frame_free(&t->candidate);
        return cir_img_averr(ret);
    }
    c->color_range = frame->color_range;
    c->colorspace = frame->colorspace;
    return 0;
}

int
cir_thumbnailer_open(cir_thumbnailer_t **out, const cir_preset_t *preset,
                     cir_store_t *store, int width, int height, double duration)
{
    cir_thumbnailer_t *t = NULL;
    int ret;

    *out = NULL;
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return CIR_ENOMEM;
    }
    t->log.component = "thumbs";
    t->store = store;
    t->enabled = preset->thumbs_enabled;
    if (!t->enabled) {
        *out = t;
        return 0;
    }
    if (store == NULL || width <= 0 || height <= 0 ||
        !(preset->thumb_interval > 0) || preset->thumb_width < 2 ||
        preset->sprite_columns < 1 || preset->sprite_rows < 1 ||
        preset->poster_width < 2) {
        cir_log_error(&t->log,
                      "invalid thumbnail settings: %dx%d source, interval "
                      "%g, tile width %d, grid %dx%d, poster width %d",
                      width, height, preset->thumb_interval,
                      preset->thumb_width, preset->sprite_columns,
                      preset->sprite_rows, preset->poster_width);
        ret = CIR_EINVAL;
        goto fail;
    }
    t->interval = preset->thumb_interval;
    t->tw = preset->thumb_width & ~1;
    t->th = even_scaled(t->tw, height, width);
    t->cols = preset->sprite_columns;
    t->rows = preset->sprite_rows;
    if ((long long)t->cols * t->tw > MAX_SHEET_SIDE ||
        (long long)t->rows * t->th > MAX_SHEET_SIDE) {
        cir_log_error(&t->log,
                      "sprite sheet of %dx%d tiles of %dx%d is "
                      "larger than %d px on a side",
                      t->cols, t->rows, t->tw, t->th, MAX_SHEET_SIDE);
        ret = CIR_ELIMIT;
        goto fail;
    }
    /* Never upscale the poster beyond the source. */
    t->pw = (preset->poster_width < width ? preset->poster_width : width) & ~1;
    if (t->pw < 2) {
        t->pw = 2;
    }
    t->ph = even_scaled(t->pw, height, width);
    t->poster_at = duration > 0 && isfinite(duration)
                       ? fmin(duration * 0.1, POSTER_AT_MAX)
                       : 0.0;
    ret = cir_img_alloc(t->cols * t->tw, t->rows * t->th, AV_PIX_FMT_YUVJ420P,
                        &t->sheet);
    if (ret < 0) {
        cir_log_error(&t->log, "cannot allocate a sprite sheet: %s",
                      cir_strerror(ret));
        goto fail;
    }
    sheet_clear(t->sheet);
    cir_log_debug(&t->log,
                  "tiles %dx%d every %gs, %dx%d per sheet, poster "
                  "%dx%d at %gs",
                  t->tw, t->th, t->interval, t->cols, t->rows, t->pw, t->ph,
                  t->poster_at);
    *out = t;
    return 0;

fail:
    cir_thumbnailer_free(&t);
    return ret;
}

int
cir_thumbnailer_push(cir_thumbnailer_t *t, const AVFrame *frame, double time)
{
    AVFrame *tile = NULL;
    int ret = 0;

    if (t == NULL || !t->enabled) {
        return 0;
    }
    if (frame == NULL || frame->width <= 0 || frame->height <= 0 ||
        !isfinite(time)) {
        cir_log_error(&t->log, "invalid frame pushed at %g s", time);
        return CIR_EINVAL;
    }

    if (!t->poster_done) {
        if (time + TIME_EPSILON >= t->poster_at) {
            ret = write_poster(t, frame);
        } else {
            ret = keep_candidate(t, frame);
            if (ret < 0) {
                cir_log_error(&t->log, "cannot keep a poster candidate: %s",
                              cir_strerror(ret));
            }
        }
        if (ret < 0) {
            return ret;
        }
    }

    while (!t->capped &&
           time + TIME_EPSILON >= (double)t->nb_tiles * t->interval) {
        if (t->nb_tiles >= MAX_TILES) {
            cir_log_warn(&t->log,
                         "%d thumbnails taken, ignoring the rest "
                         "(time %g s)",
                         MAX_TILES, time);
            t->capped = 1;
            break;
        }
        if (tile == NULL) {
            ret = cir_img_scale(&t->tile_sws, frame, t->tw, t->th,
                                AV_PIX_FMT_YUVJ420P, &t->log, &tile);
            if (ret < 0) {
                cir_log_error(&t->log, "scaling a tile at %g s failed: %s",
                              time, cir_strerror(ret));
                return ret;
            }
        }
        ret = add_tile(t, tile);
        if (ret < 0) {
            break;
        }
    }
    av_frame_free(&tile);
    return ret;
}

int
cir_thumbnailer_finish(cir_thumbnailer_t *t, cir_thumbs_t *desc)
{
    double denom;
    int ret;

    memset(desc, 0, sizeof(*desc));
    if (t == NULL || !t->enabled) {
        return 0;
    }
    if (!t->poster_done && t->candidate != NULL) {
        ret = write_poster(t, t->candidate);
        if (ret < 0) {
            return ret;
        }
    }
    ret = flush_sheet(t);
    if (ret < 0) {
        return ret;
    }
    if (t->nb_tiles == 0) {
        cir_log_warn(&t->log, "no frames: no thumbnails written");
        return 0;
    }
    desc->present = 1;
    desc->interval = t->interval;
    desc->tile_width = t->tw;
    desc->tile_height = t->th;
    desc->columns = t->cols;
    desc->rows = t->rows;
    desc->nb_tiles = t->nb_tiles;
    desc->nb_sprites = t->nb_sprites;
    denom = (double)t->cols * t->rows * t->interval;
    desc->bandwidth = (uint64_t)ceil((double)t->peak_sheet_bytes * 8.0 / denom);
    cir_log_info(&t->log,
                 "%zu thumbnails, %zu sprite sheets, poster %dx%d, "
                 "%llu bit/s",
                 t->nb_tiles, t->nb_sprites, t->pw, t->ph,
                 (unsigned long long)desc->bandwidth);
    return 0;
}

void
cir_thumbnailer_free(cir_thumbnailer_t **pt)
{
    cir_thumbnailer_t *t = *pt;

    if (t == NULL) {
        return;
    }
    av_frame_free(&t->sheet);
    av_frame_free(&t->candidate);
    sws_freeContext(t->tile_sws);
    sws_freeContext(t->poster_sws);
    free(t);
    *pt = NULL;
}
