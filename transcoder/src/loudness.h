/*
 * Loudness normalisation of a VOD job's audio renditions (the preset's
 * audio.loudness), in two passes: the source audio is decoded once before
 * the job (cir_loudness_measure: ITU-R BS.1770 integrated loudness, true
 * peak and loudness range by libavfilter's ebur128, after the same
 * conversion to the rendition's channel layout as the encode, so a 5.1
 * source measured for its stereo rendition is measured as its downmix),
 * then the encode applies the filter cir_loudness_filter() chooses: a
 * plain gain when the gain keeps the true peak under the ceiling (what
 * loudnorm's linear mode does), else loudnorm's dynamic mode.
 */
#ifndef CIR_LOUDNESS_H
#define CIR_LOUDNESS_H

#include <stdatomic.h>
#include <stddef.h>

#include <libavformat/avformat.h>

#include "cir_log.h"

typedef struct {
    int measured;      /* 0: no audio frame was decoded */
    double integrated; /* LUFS; -70 or below: silence */
    double true_peak;  /* dBTP */
    double lra;        /* LU */
} cir_loudness_stats_t;

typedef enum {
    CIR_LOUDNESS_LINEAR = 0, /* one gain for the whole track */
    CIR_LOUDNESS_DYNAMIC,    /* loudnorm's dynamic mode: the gain alone
                              * would push the true peak over the ceiling */
    CIR_LOUDNESS_NONE        /* silence or nothing measured: left alone */
} cir_loudness_mode_t;

/* One measurement: a source stream as one rendition will hear it. */
typedef struct {
    int stream;   /* index into ic->streams (an audio stream) */
    int channels; /* the rendition's channels (its default layout) */
    cir_loudness_stats_t stats; /* out */
} cir_loudness_probe_t;

/*
 * Reads ic from where it is to its end, measuring the packets that start
 * in [from_us, end_us) (AV_TIME_BASE, the streams' own timeline;
 * INT64_MIN, INT64_MAX: no bound); the read stops once every measured
 * stream got to end_us (a job's clip: the caller seeks ic to the keyframe
 * before from_us).  Only the probes'
 * streams are decoded (the others are discarded: a second read of the
 * input, not a second decode of its video); every probe's stats are
 * filled.  cancel (may be NULL) stops it with CIR_ECANCELED.  ic is the
 * caller's: a context opened for this pass, not the one the job then
 * reads.
 */
int cir_loudness_measure(AVFormatContext *ic, cir_loudness_probe_t *probes,
                         size_t n, int64_t from_us, int64_t end_us,
                         atomic_int *cancel, const cir_log_ctx_t *log);

/*
 * The filter that brings m to target_lufs under the true-peak ceiling
 * target_tp into out ("" for CIR_LOUDNESS_NONE); returns the mode, or
 * CIR_ELIMIT when out is too small.
 */
int cir_loudness_filter(const cir_loudness_stats_t *m, double target_lufs,
                        double target_tp, char *out, size_t size);

/* "linear", "dynamic", "none". */
const char *cir_loudness_mode_name(cir_loudness_mode_t mode);

#endif
