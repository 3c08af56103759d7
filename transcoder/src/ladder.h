/*
 * Ladder selection: which of a preset's rungs a source gets, at what size and
 * frame rate.  Pure arithmetic, unit tested.
 */
#ifndef CIR_LADDER_H
#define CIR_LADDER_H

#include "cir_preset.h"

typedef struct {
    const cir_rung_t *rung; /* the preset's rung */
    int width, height;      /* even, aspect kept, never above the source */
} cir_ladder_rung_t;

/*
 * Fills out[] with the rungs to encode for a source of display size
 * src_w x src_h (after rotation), highest first.  A rung taller than the
 * source is dropped; if every rung is, the smallest one is scaled to fit the
 * source so that a tiny upload still gets one rendition.  Rung heights are
 * applied to the source's shorter side for portrait sources, so a 1080x1920
 * upload gets the same quality steps as a landscape one.
 * Returns the number of rungs (>= 1) or a negative error.
 */
int cir_ladder_select(const cir_preset_t *p, int src_w, int src_h,
                      cir_ladder_rung_t *out, int max_out);

/*
 * The output frame rate: the source rate divided by the smallest whole
 * factor that brings it to the cap (59.94 capped at 30 gives 29.97), so
 * frames are dropped evenly.  num/den in, num/den out.
 */
void cir_ladder_frame_rate(int src_num, int src_den, double cap, int *num,
                           int *den);

#endif
