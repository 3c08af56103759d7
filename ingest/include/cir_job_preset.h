/*
 * The preset a VOD job runs with, shared by the dispatcher (when the job
 * starts) and the job API (when it is posted).  Part of cirrus_worker.
 */
#ifndef CIR_JOB_PRESET_H
#define CIR_JOB_PRESET_H

#include <stddef.h>

#include "cir_intake.h"
#include "cir_preset.h"

/* The job's inline preset (errors under "preset."), else presets_dir's
 * preset of its name; the codec rules resolved; then its rung overrides
 * (errors under "rungs.").  0, or a negative cir_err_t with err. */
int cir_job_preset_resolve(const char *presets_dir, const cir_vod_job_t *job,
                           cir_preset_t *p, char *err, size_t errsize);

#endif
