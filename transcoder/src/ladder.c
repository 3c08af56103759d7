/*
 * The ladder a source gets: which rungs of the preset fit its size (never
 * upscaled, even dimensions, aspect kept) and the frame rate cap.
 */
#include <math.h>
#include <string.h>

#include "cir_error.h"
#include "ladder.h"

static int
even(double v)
{
    int i = (int)lrint(v / 2.0) * 2;

    return i < 2 ? 2 : i;
}

static void
fit(int src_w, int src_h, int short_side, int *w, int *h)
{
    if (src_w >= src_h) {
        *h = even(short_side);
        *w = even((double)src_w * short_side / src_h);
    } else {
        *w = even(short_side);
        *h = even((double)src_h * short_side / src_w);
    }
    /* even rounding may step one pixel over an odd source: stay inside */
    if (*w > src_w) {
        *w = src_w & ~1;
    }
    if (*h > src_h) {
        *h = src_h & ~1;
    }
}

int
cir_ladder_select(const cir_preset_t *p, int src_w, int src_h,
                  cir_ladder_rung_t *out, int max_out)
{
    int n = 0, short_side, smallest = -1;

    if (src_w < 2 || src_h < 2 || max_out < 1 || p->nb_rungs < 1) {
        return CIR_EINVAL;
    }
    short_side = src_w < src_h ? src_w : src_h;
    for (int i = 0; i < p->nb_rungs && n < max_out; i++) {
        const cir_rung_t *r = &p->rungs[i];

        if (smallest < 0 || r->height < p->rungs[smallest].height) {
            smallest = i;
        }
        if (r->height > short_side) {
            continue;
        }
        out[n].rung = r;
        if (r->width > 0 && src_w >= src_h) {
            /* an explicit width (e.g. 416x234) only for landscape sources
             * whose aspect it matches within 1%; otherwise keep the aspect */
            double a = (double)src_w / src_h, b = (double)r->width / r->height;
            if (fabs(a - b) / b < 0.01 && r->width <= src_w) {
                out[n].width = r->width & ~1;
                out[n].height = r->height & ~1;
                n++;
                continue;
            }
        }
        fit(src_w, src_h, r->height, &out[n].width, &out[n].height);
        n++;
    }
    if (n == 0) {
        out[0].rung = &p->rungs[smallest];
        fit(src_w, src_h, short_side & ~1, &out[0].width, &out[0].height);
        n = 1;
    }
    /* highest first, whatever order the preset lists them in */
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && out[j].height * out[j].width >
                                     out[j - 1].height * out[j - 1].width;
             j--) {
            cir_ladder_rung_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    }
    return n;
}

void
cir_ladder_frame_rate(int src_num, int src_den, double cap, int *num, int *den)
{
    double rate;
    int factor;

    if (src_num <= 0 || src_den <= 0) {
        /* unknown: assume the cap, or 30 */
        *num = cap > 0 && cap < 30 ? (int)cap : 30;
        *den = 1;
        return;
    }
    rate = (double)src_num / src_den;
    factor = cap > 0 && rate > cap + 0.01 ? (int)ceil(rate / cap - 0.001) : 1;
    *num = src_num;
    *den = src_den * factor;
}
