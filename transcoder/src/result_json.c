/*
 * Parts of a job's result as JSON (cir_result_json.h).
 *
 * Tested by tests/unit/test_transcoder_result_json.c.
 */
#include "cir_result_json.h"

#include <math.h>

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
