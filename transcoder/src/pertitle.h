/*
 * Per-title ladders (a preset's video.per_title): a probe encodes sampled
 * scenes of the source at a low resolution at a few x264 CRF values and
 * measures their bits and PSNR; from those figures the decision gives each
 * rung of the ladder its rate control and drops the rungs that add nothing.
 *
 * A kept rung is either "fixed" (the preset's average bitrate, as without
 * per-title) or "crf": capped CRF, x264's crf with maxrate = the rung's
 * bitrate, so easy content spends what the target quality needs and the
 * VBV keeps it near the fixed rung's rate.  The probe runs at the
 * preset's x264 speed at a mid size and at the ladder's top size, so how
 * bits and PSNR grow with the area is the title's own, not a rule of
 * thumb.
 */
#ifndef CIR_PERTITLE_H
#define CIR_PERTITLE_H

#include "cir_preset.h"
#include "ladder.h"

#define CIR_PERTITLE_MAX_POINTS 4
#define CIR_PERTITLE_MAX_SIZES  2

/* One probe encode: a CRF, the bits it spent per second at the probe's
 * size (key frames counted once per GOP of the preset) and its mean PSNR
 * (all planes, by pixel count, dB). */
typedef struct {
    double crf;
    double kbps;
    double psnr;
} cir_pertitle_point_t;

/* The probe encodes at one size: the same CRF values, ascending. */
typedef struct {
    int width, height;
    int nb_points;
    cir_pertitle_point_t points[CIR_PERTITLE_MAX_POINTS];
} cir_pertitle_size_t;

typedef struct {
    int frames;         /* frames encoded per point at the mid size */
    int top_frames;     /* the first of them, at the top size */
    double seconds;     /* of source those frames cover */
    double cpu_seconds; /* the whole pass's (set by its caller) */
    /* the mid size (every probe CRF), then the ladder's top size (one
     * point, at the CRF the mid size says reaches the target): how bits
     * and PSNR change with the picture's area for this title */
    int nb_sizes;
    cir_pertitle_size_t sizes[CIR_PERTITLE_MAX_SIZES];
} cir_pertitle_probe_t;

typedef enum {
    CIR_PERTITLE_FIXED,   /* the preset's bitrate, unchanged */
    CIR_PERTITLE_CRF,     /* capped CRF */
    CIR_PERTITLE_DROPPED, /* not encoded */
} cir_pertitle_mode_t;

typedef struct {
    cir_ladder_rung_t ladder; /* the rung and its size */
    cir_pertitle_mode_t mode;
    double crf;           /* CIR_PERTITLE_CRF */
    int estimated_kbps;   /* what the target quality needs at this size */
    int cap_kbps;         /* the preset's bitrate: never exceeded */
    double expected_psnr; /* the probe's PSNR at crf (CRF rungs) */
    char reason[160];
} cir_pertitle_rung_t;

/* The CRF (to 0.1) whose probe PSNR at size reaches target (clamped to
 * the probed range). */
double cir_pertitle_crf_for(const cir_pertitle_size_t *size, double target);

/* The CRF values the probe encodes at, ascending; returns how many
 * (<= CIR_PERTITLE_MAX_POINTS). */
int cir_pertitle_probe_crfs(double *crfs, int max);

/*
 * The decision: ladder[0, n) (highest first, cir_ladder_select) and the
 * probe's figures in, out[0, n) out in the same order.  Pure arithmetic:
 *  - at each probed CRF, a rung's rate (log) and PSNR are interpolated
 *    along log(area) between the mid size and the top size (whose curve
 *    is the mid's, moved by its one point), extrapolated below the mid;
 *    with one size, the rate grows with the area and the PSNR stays;
 *  - the rung's CRF is the one whose PSNR there reaches target_psnr_db
 *    (between probed CRFs linear in PSNR and log rate; clamped to the
 *    probed range), its estimate the rate at that CRF;
 *  - a rung whose estimate is at least 75 % of its bitrate stays fixed
 *    (the target needs about all of it: hard content), else it is CRF;
 *  - walking down from the top, a rung is dropped when the kept rung
 *    above it needs at most 80 % of its bitrate: a player with this
 *    rung's bandwidth can play the larger one, so it adds no quality.
 * Returns the number of kept rungs (>= 1), or CIR_EINVAL when the probe's
 * figures are not usable.
 */
int cir_pertitle_decide(const cir_preset_t *p,
                        const cir_pertitle_probe_t *probe,
                        const cir_ladder_rung_t *ladder, int n,
                        cir_pertitle_rung_t *out);

const char *cir_pertitle_mode_name(cir_pertitle_mode_t mode);

#endif
