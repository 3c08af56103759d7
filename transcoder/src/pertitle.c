/*
 * The per-title decision (pertitle.h): probe figures in, ladder out.
 *
 * Tested by tests/unit/test_transcoder_pertitle.c.
 */
#include <math.h>
#include <stdio.h>

#include "cir_error.h"
#include "pertitle.h"

/* A rung whose target needs this share of its bitrate or more stays fixed:
 * headroom for the estimate's error and the VBV's start (a capped CRF
 * rung may spend its buffer at once, which shows on a short title). */
#define FIXED_SHARE 0.75
/* A rung is dropped when the kept rung above needs at most this share of
 * its bitrate (headroom for the estimate's error). */
#define DROP_SHARE 0.8

static const double probe_crfs[] = {16, 24, 32};

int
cir_pertitle_probe_crfs(double *crfs, int max)
{
    int n = (int)(sizeof(probe_crfs) / sizeof(probe_crfs[0]));

    if (n > max) {
        n = max;
    }
    for (int i = 0; i < n; i++) {
        crfs[i] = probe_crfs[i];
    }
    return n;
}

const char *
cir_pertitle_mode_name(cir_pertitle_mode_t mode)
{
    switch (mode) {
    case CIR_PERTITLE_CRF:
        return "crf";
    case CIR_PERTITLE_DROPPED:
        return "dropped";
    default:
        return "fixed";
    }
}

static int
usable_points(const cir_pertitle_size_t *z)
{
    if (z->width < 2 || z->height < 2 || z->nb_points < 1 ||
        z->nb_points > CIR_PERTITLE_MAX_POINTS) {
        return 0;
    }
    for (int i = 0; i < z->nb_points; i++) {
        const cir_pertitle_point_t *pt = &z->points[i];
        if (!isfinite(pt->psnr) || !isfinite(pt->kbps) || pt->kbps <= 0 ||
            !isfinite(pt->crf) || (i > 0 && pt->crf <= z->points[i - 1].crf)) {
            return 0;
        }
    }
    return 1;
}

/* One size, or the mid size and a larger top size of one point. */
static int
usable(const cir_pertitle_probe_t *probe)
{
    if (probe == NULL || probe->nb_sizes < 1 ||
        probe->nb_sizes > CIR_PERTITLE_MAX_SIZES ||
        !usable_points(&probe->sizes[0])) {
        return 0;
    }
    if (probe->nb_sizes == 2) {
        const cir_pertitle_size_t *mid = &probe->sizes[0],
                                  *top = &probe->sizes[1];
        return usable_points(top) && top->nb_points == 1 &&
               (double)top->width * top->height >
                   (double)mid->width * mid->height;
    }
    return 1;
}

static double
area(int w, int h)
{
    return (double)w * h;
}

/* The point at crf among pt[0, n): between two probed points PSNR and
 * log(rate) move about linearly with the CRF; beyond them, the nearest. */
static cir_pertitle_point_t
point_at_crf(const cir_pertitle_point_t *pt, int n, double crf)
{
    if (crf <= pt[0].crf) {
        return pt[0];
    }
    for (int i = 0; i + 1 < n; i++) {
        const cir_pertitle_point_t *a = &pt[i], *b = &pt[i + 1];
        if (crf <= b->crf) {
            double t = (crf - a->crf) / (b->crf - a->crf);
            return (cir_pertitle_point_t){
                .crf = crf,
                .kbps = exp(log(a->kbps) + t * (log(b->kbps) - log(a->kbps))),
                .psnr = a->psnr + t * (b->psnr - a->psnr)};
        }
    }
    return pt[n - 1];
}

/* The CRF whose PSNR is target among pt[0, n) (clamped to the probed
 * range), and the rate and PSNR there. */
static cir_pertitle_point_t
point_for_target(const cir_pertitle_point_t *pt, int n, double target)
{
    if (pt[0].psnr <= target) {
        return pt[0];
    }
    for (int i = 0; i + 1 < n; i++) {
        const cir_pertitle_point_t *a = &pt[i], *b = &pt[i + 1];
        if (b->psnr <= target) {
            double t = (a->psnr - target) / (a->psnr - b->psnr);
            return point_at_crf(pt, n, a->crf + t * (b->crf - a->crf));
        }
    }
    return pt[n - 1];
}

double
cir_pertitle_crf_for(const cir_pertitle_size_t *size, double target)
{
    return round(point_for_target(size->points, size->nb_points, target).crf *
                 10) /
           10;
}

/*
 * The probe's points carried to a picture of px pixels.  The top size has
 * one point: the mid size's curve moved by the top's difference at that
 * CRF (in log rate and in PSNR).  A rung's rate and PSNR are interpolated
 * along log(area) between the mid and the top size, extrapolated (bounded)
 * below the mid; with one size, the rate grows with the area.
 */
static int
points_at(const cir_pertitle_probe_t *probe, double px,
          cir_pertitle_point_t *out)
{
    const cir_pertitle_size_t *mid = &probe->sizes[0];
    int n = mid->nb_points;
    double pm = area(mid->width, mid->height);

    if (probe->nb_sizes < 2) {
        for (int i = 0; i < n; i++) {
            out[i] = mid->points[i];
            out[i].kbps *= px / pm;
        }
        return n;
    }
    const cir_pertitle_size_t *top = &probe->sizes[1];
    cir_pertitle_point_t ref = point_at_crf(mid->points, n, top->points[0].crf);
    double d_rate = log(top->points[0].kbps) - log(ref.kbps);
    double d_psnr = top->points[0].psnr - ref.psnr;
    double t = log(px / pm) / log(area(top->width, top->height) / pm);

    t = fmin(fmax(t, -2.0), 1.5);
    for (int i = 0; i < n; i++) {
        out[i] = mid->points[i];
        out[i].kbps = exp(log(out[i].kbps) + t * d_rate);
        out[i].psnr += t * d_psnr;
    }
    return n;
}

static void
choose_mode(cir_pertitle_rung_t *r, double target, double crf, double psnr)
{
    if (r->estimated_kbps >= FIXED_SHARE * r->cap_kbps) {
        r->mode = CIR_PERTITLE_FIXED;
        snprintf(r->reason, sizeof(r->reason),
                 "%.1f dB needs about %d kbps, %.0f %% or more of the fixed "
                 "%d kbps: kept fixed",
                 target, r->estimated_kbps, FIXED_SHARE * 100, r->cap_kbps);
        return;
    }
    r->mode = CIR_PERTITLE_CRF;
    r->crf = round(crf * 10) / 10;
    r->expected_psnr = psnr;
    snprintf(r->reason, sizeof(r->reason),
             "%.1f dB at CRF %.1f needs about %d of the fixed %d kbps: "
             "capped CRF",
             psnr, r->crf, r->estimated_kbps, r->cap_kbps);
}

/* What a kept rung spends at most, by the estimate. */
static int
spends_kbps(const cir_pertitle_rung_t *r)
{
    return r->mode == CIR_PERTITLE_CRF ? r->estimated_kbps : r->cap_kbps;
}

int
cir_pertitle_decide(const cir_preset_t *p, const cir_pertitle_probe_t *probe,
                    const cir_ladder_rung_t *ladder, int n,
                    cir_pertitle_rung_t *out)
{
    double target = p->per_title_target_psnr_db;
    cir_pertitle_point_t pts[CIR_PERTITLE_MAX_POINTS];
    int kept = 0, above = -1;

    if (n < 1 || !usable(probe)) {
        return CIR_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        cir_pertitle_rung_t *r = &out[i];
        int np = points_at(probe, area(ladder[i].width, ladder[i].height), pts);
        cir_pertitle_point_t at = point_for_target(pts, np, target);

        *r = (cir_pertitle_rung_t){.ladder = ladder[i]};
        r->cap_kbps = ladder[i].rung->bitrate_kbps;
        r->estimated_kbps = at.kbps < 1e6 ? (int)lrint(at.kbps) : 1000000;
        choose_mode(r, target, at.crf, at.psnr);
        if (above >= 0 &&
            spends_kbps(&out[above]) <= DROP_SHARE * r->cap_kbps) {
            snprintf(r->reason, sizeof(r->reason),
                     "%s needs about %d kbps, at most %.0f %% of this "
                     "rung's %d kbps: it adds no quality",
                     out[above].ladder.rung->name, spends_kbps(&out[above]),
                     DROP_SHARE * 100, r->cap_kbps);
            r->mode = CIR_PERTITLE_DROPPED;
            continue;
        }
        above = i;
        kept++;
    }
    return kept;
}
