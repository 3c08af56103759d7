/*
 * The live-index fixture shared by the origin's live tests: 4 s segments of
 * four 1 s parts, timescale TS, the stream starting at wall clock T0.
 */
#ifndef CIR_TEST_LIVE_FIXTURE_H
#define CIR_TEST_LIVE_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "cir_live.h"

#define TS 90000
#define T0 INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

/* ---- fixtures: 4 s segments of four 1 s parts ---- */

typedef struct {
    cir_live_segment_t segs[32];
    cir_live_part_t parts[256];
    cir_live_index_t idx;
} fx_t;

static __attribute__((unused)) void
fx_init(fx_t *f, const char *rend, cir_live_kind_t kind, uint64_t msn0)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->idx.track.rendition, CIR_LIVE_ID_MAX, "%s", rend);
    f->idx.track.kind = kind;
    if (kind == CIR_LIVE_VIDEO) {
        snprintf(f->idx.track.codecs, 64, "avc1.64001f");
        f->idx.track.width = 1280;
        f->idx.track.height = 720;
        f->idx.track.frame_rate = 30;
        f->idx.track.bandwidth = 3000000;
        f->idx.track.average_bandwidth = 2500000;
    } else {
        snprintf(f->idx.track.codecs, 64, "mp4a.40.2");
        f->idx.track.sample_rate = 48000;
        f->idx.track.channels = 2;
        f->idx.track.bandwidth = 128000;
        f->idx.track.average_bandwidth = 128000;
    }
    f->idx.timescale = TS;
    f->idx.segment_target = 4 * TS;
    f->idx.part_target = TS;
    f->idx.target_duration = 4;
    f->idx.part_target_us = 1000000;
    f->idx.window = 10;
    f->idx.init_id = 1;
    f->idx.started_us = T0;
    f->idx.updated_us = T0;
    f->idx.segments = f->segs;
    f->idx.parts = f->parts;
    f->segs[0].msn = msn0; /* read by the first fx_add */
}

/* A segment of nparts 1 s parts; parts listed when keep. */
static __attribute__((unused)) cir_live_segment_t *
fx_add(fx_t *f, uint32_t nparts, int complete, int keep)
{
    cir_live_index_t *x = &f->idx;
    cir_live_segment_t *s = &f->segs[x->nb_segments], *prev;
    uint64_t msn =
        x->nb_segments ? f->segs[x->nb_segments - 1].msn + 1 : f->segs[0].msn;
    uint32_t j;

    prev = x->nb_segments ? s - 1 : NULL;
    memset(s, 0, sizeof(*s));
    s->msn = msn;
    s->start = prev ? prev->start + prev->duration : 0;
    s->duration = (int64_t)nparts * TS;
    s->pdt_us = T0 + s->start / TS * 1000000;
    s->init_id = x->init_id;
    s->complete = (uint8_t)complete;
    s->size = complete ? 1000 * msn : 0;
    if (keep) {
        s->first_part = (uint32_t)x->nb_parts;
        s->nb_parts = nparts;
        for (j = 0; j < nparts; j++) {
            x->parts[x->nb_parts].duration = TS;
            x->parts[x->nb_parts].independent = j == 0;
            x->nb_parts++;
        }
    }
    x->nb_segments++;
    return s;
}

/* msn 100..: n complete (parts on the last 3; the renderer shows only the
 * last 3 segments' counting the open one), then an open one with
 * open_parts (none when < 0). */
static __attribute__((unused)) void
fx_live(fx_t *f, const char *rend, size_t n, int open_parts)
{
    size_t i;

    fx_init(f, rend, CIR_LIVE_VIDEO, 100);
    for (i = 0; i < n; i++) {
        fx_add(f, 4, 1, i + 3 >= n);
    }
    if (open_parts >= 0) {
        fx_add(f, (uint32_t)open_parts, 0, 1);
    }
}

#endif
