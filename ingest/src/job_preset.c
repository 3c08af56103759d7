/*
 * The preset a VOD job runs with: inline or named, then the job's rung
 * overrides.  See cir_job_preset.h.
 *
 * Tested by tests/unit/test_worker_job_preset.c (and, with real jobs, by
 * tests/integration/job_api.test.mjs).
 */
#include "cir_job_preset.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cir_error.h"
#include "cir_preset_codecs.h"

static int
load_preset(const char *presets_dir, const cir_vod_job_t *job, cir_preset_t *p,
            char *err, size_t errsize)
{
    char msg[400];
    int ret;

    if (job->preset_doc[0] == '\0') {
        return cir_preset_codecs_load(presets_dir, job->preset, p, err,
                                      errsize);
    }
    ret = cir_preset_codecs_parse(job->preset_doc, strlen(job->preset_doc), p,
                                  msg, sizeof(msg));
    if (ret < 0) {
        snprintf(err, errsize, "preset.%s", msg);
    }
    return ret;
}

int
cir_job_preset_resolve(const char *presets_dir, const cir_vod_job_t *job,
                       cir_preset_t *p, char *err, size_t errsize)
{
    json_t *rungs;
    int ret;

    if ((ret = load_preset(presets_dir, job, p, err, errsize)) < 0 ||
        job->rungs[0] == '\0') {
        return ret;
    }
    /* checked JSON already (the intake wrote it) */
    if ((rungs = json_loads(job->rungs, 0, NULL)) == NULL) {
        snprintf(err, errsize, "rungs: not JSON");
        return CIR_EINVAL;
    }
    ret = cir_preset_override_rungs(p, rungs, err, errsize);
    json_decref(rungs);
    return ret;
}
