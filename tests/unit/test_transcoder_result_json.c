/*
 * The result's loudness object (transcoder/src/result_json.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_result_json.h"

static cir_result_rendition_t
audio_with_loudness(void)
{
    cir_result_rendition_t x;

    memset(&x, 0, sizeof(x));
    x.loudness = 1;
    x.loudness_input_i = -37.123;
    x.loudness_input_tp = -35.918;
    x.loudness_input_lra = 0.004;
    x.loudness_target_i = -23;
    x.loudness_target_tp = -1;
    strcpy(x.loudness_mode, "linear");
    return x;
}

Test(result_json, loudness_fields_rounded_to_hundredths)
{
    cir_result_rendition_t x = audio_with_loudness();
    json_t *j = cir_result_loudness_json(&x);
    char *text;

    cr_assert_not_null(j);
    text =
        json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
    cr_expect_str_eq(text,
                     "{\"input_integrated_lufs\":-37.12,"
                     "\"input_lra_lu\":0.0,\"input_true_peak_dbtp\":-35.92,"
                     "\"mode\":\"linear\",\"target_lufs\":-23.0,"
                     "\"target_true_peak_dbtp\":-1.0}");
    free(text);
    json_decref(j);
}

Test(result_json, silence_has_a_null_true_peak)
{
    cir_result_rendition_t x = audio_with_loudness();
    json_t *j;

    x.loudness_input_i = -INFINITY;
    x.loudness_input_tp = -INFINITY;
    strcpy(x.loudness_mode, "none");
    j = cir_result_loudness_json(&x);
    cr_assert_not_null(j);
    cr_expect(json_is_null(json_object_get(j, "input_true_peak_dbtp")));
    cr_expect(json_is_null(json_object_get(j, "input_integrated_lufs")));
    cr_expect_str_eq(json_string_value(json_object_get(j, "mode")), "none");
    json_decref(j);
}

Test(result_json, none_without_loudness_or_for_video)
{
    cir_result_rendition_t x = audio_with_loudness();

    cr_expect_null(cir_result_loudness_json(NULL));
    x.video = 1;
    cr_expect_null(cir_result_loudness_json(&x));
    x.video = 0;
    x.loudness = 0;
    cr_expect_null(cir_result_loudness_json(&x));
}
