/*
 * The per-title probe (pertitle.h): a pass of its own over the input that
 * decodes a few sampled scenes (at most 6 % of the source), scales them
 * to a mid size (short side 360) and encodes them at each probe CRF
 * (cir_pertitle_probe_crfs), then encodes their first frames at the
 * ladder's top size at the CRF the mid size says reaches the target; each
 * encode's bits and, decoded again, its PSNR against the scaled source.
 */
#ifndef CIR_PERTITLE_PROBE_H
#define CIR_PERTITLE_PROBE_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "cir_log.h"
#include "cir_preset.h"
#include "pertitle.h"

/* At most this many frames are probed, whatever the preset asks (kept
 * at the mid size: 40 MB at most; at the top size: 48 MB at most). */
#define CIR_PERTITLE_PROBE_MAX_FRAMES 120

/*
 * Probes stream stream of ic (opened, stream info read) over
 * [from_us, from_us + duration) on the streams' timeline (AV_TIME_BASE),
 * out_fps the ladder's frame rate, top_w x top_h and top_kbps its largest
 * rung (not probed when the mid size alone needs more than top_kbps): the
 * preset's probe_scenes scenes of probe_scene_seconds spread evenly over it
 * (fewer, or one shorter, when they would cover more than 6 % of it), at
 * the preset's x264 speed.  0 with out filled, CIR_EMEDIA when no frame
 * decoded, CIR_ECANCELED when *cancel became 1.
 */
int cir_pertitle_probe_run(AVFormatContext *ic, int stream, int64_t from_us,
                           double duration, double out_fps, int top_w,
                           int top_h, int top_kbps, const cir_preset_t *p,
                           atomic_int *cancel, const cir_log_ctx_t *log,
                           cir_pertitle_probe_t *out);

#endif
