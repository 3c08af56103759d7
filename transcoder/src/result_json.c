/*
 * Parts of a job's result as JSON (cir_result_json.h).
 *
 * Tested by tests/unit/test_transcoder_result_json.c.
 */
#include "cir_result_json.h"

#include <math.h>
#include <string.h>

/* A number JSON can carry, to 0.01; null when not finite. */
static json_t *
finite_or_null(double v)
{
    return isfinite(v) ? json_real(round(v * 100) / 100) : json_null();
}

json_t *
cir_result_clip_json(const cir_result_t *r)
{
    if (r == NULL || !r->clip) {
        return NULL;
    }
    return json_pack("{s:f, s:o}", "start", r->clip_start, "end",
                     r->clip_end > 0 ? json_real(r->clip_end) : json_null());
}

json_t *
cir_result_loudness_json(const cir_result_rendition_t *x)
{
    if (x == NULL || x->video || !x->loudness) {
        return NULL;
    }
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:s}", "input_integrated_lufs",
        finite_or_null(x->loudness_input_i), "input_true_peak_dbtp",
        finite_or_null(x->loudness_input_tp), "input_lra_lu",
        finite_or_null(x->loudness_input_lra), "target_lufs",
        finite_or_null(x->loudness_target_i), "target_true_peak_dbtp",
        finite_or_null(x->loudness_target_tp), "mode", x->loudness_mode);
}

static json_t *
per_title_probe_json(const cir_result_per_title_t *t)
{
    json_t *points = json_array();

    for (int i = 0; i < t->nb_points && i < 8; i++) {
        json_array_append_new(
            points, json_pack("{s:i, s:i, s:o, s:o, s:o}", "width",
                              t->points[i].width, "height", t->points[i].height,
                              "crf", finite_or_null(t->points[i].crf), "kbps",
                              finite_or_null(t->points[i].kbps), "psnr",
                              finite_or_null(t->points[i].psnr)));
    }
    return json_pack("{s:i, s:o, s:o, s:o}", "frames", t->probe_frames,
                     "seconds", finite_or_null(t->probe_seconds), "cpu_seconds",
                     finite_or_null(t->probe_cpu_seconds), "points", points);
}

static json_t *
per_title_rung_json(const cir_result_per_title_rung_t *x)
{
    int crf = strcmp(x->mode, "crf") == 0;

    return json_pack("{s:s, s:i, s:i, s:s, s:o, s:i, s:i, s:o, s:s}", "id",
                     x->id, "width", x->width, "height", x->height, "mode",
                     x->mode, "crf", crf ? finite_or_null(x->crf) : json_null(),
                     "bitrate_kbps", x->bitrate_kbps, "estimated_kbps",
                     x->estimated_kbps, "expected_psnr",
                     crf ? finite_or_null(x->expected_psnr) : json_null(),
                     "reason", x->reason);
}

json_t *
cir_result_per_title_json(const cir_result_t *r)
{
    const cir_result_per_title_t *t;
    json_t *j, *ladder;

    if (r == NULL || !r->per_title.enabled) {
        return NULL;
    }
    t = &r->per_title;
    j = json_pack("{s:o}", "target_psnr_db", finite_or_null(t->target_psnr_db));
    if (j == NULL) {
        return NULL;
    }
    if (t->error[0]) {
        json_object_set_new(j, "error", json_string(t->error));
    } else {
        json_object_set_new(j, "probe", per_title_probe_json(t));
    }
    ladder = json_array();
    for (int i = 0; i < t->nb_rungs && i < CIR_PRESET_MAX_RUNGS; i++) {
        json_array_append_new(ladder, per_title_rung_json(&t->rungs[i]));
    }
    json_object_set_new(j, "ladder", ladder);
    return j;
}
