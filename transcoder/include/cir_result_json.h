/*
 * Parts of a job's result as JSON, shared by cirrus-transcode's result
 * line and cirrus-worker's job status (ingest/src/dispatch_report.c).
 */
#ifndef CIR_RESULT_JSON_H
#define CIR_RESULT_JSON_H

#include <jansson.h>

#include "cir_transcode.h"

/* An audio rendition's "loudness" object (x->loudness set):
 * input_integrated_lufs, input_true_peak_dbtp, input_lra_lu (to 0.01; null
 * when not finite: digital silence's true peak is -inf), target_lufs,
 * target_true_peak_dbtp and mode.  NULL when x has none or on ENOMEM. */
json_t *cir_result_loudness_json(const cir_result_rendition_t *x);

/* The job's clip as applied: {"start": s, "end": s} (seconds of the
 * source; end null when the source's end is unknown), NULL without one. */
json_t *cir_result_clip_json(const cir_result_t *r);

/* The per-title ladder as chosen: {"target_psnr_db", "probe": {"frames",
 * "seconds", "cpu_seconds", "points": [{"width", "height", "crf", "kbps",
 * "psnr"}]}, "ladder": [{"id", "width", "height", "mode", "crf",
 * "bitrate_kbps", "estimated_kbps", "expected_psnr", "reason"}]}, with
 * "error" instead of the probe when it failed; NULL when the preset did
 * not ask for one. */
json_t *cir_result_per_title_json(const cir_result_t *r);

#endif
