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

Test(result_json, per_title_reports_the_probe_and_the_ladder)
{
    cir_result_t *r = calloc(1, sizeof(*r));
    cir_result_per_title_t *t = &r->per_title;
    json_t *j, *l;

    cr_assert_not_null(r);
    cr_expect_null(cir_result_per_title_json(r));
    t->enabled = 1;
    t->target_psnr_db = 45;
    t->probe_frames = 15;
    t->probe_seconds = 0.5;
    t->probe_cpu_seconds = 0.234;
    t->nb_points = 1;
    t->points[0].width = 640;
    t->points[0].height = 360;
    t->points[0].crf = 16;
    t->points[0].kbps = 46.091;
    t->points[0].psnr = 56.478;
    t->nb_rungs = 2;
    strcpy(t->rungs[0].id, "720p");
    t->rungs[0].width = 1280;
    t->rungs[0].height = 720;
    strcpy(t->rungs[0].mode, "crf");
    t->rungs[0].crf = 31.9;
    t->rungs[0].bitrate_kbps = 3000;
    t->rungs[0].estimated_kbps = 35;
    t->rungs[0].expected_psnr = 45;
    strcpy(t->rungs[0].reason, "capped");
    strcpy(t->rungs[1].id, "540p");
    strcpy(t->rungs[1].mode, "dropped");
    t->rungs[1].crf = 7; /* not reported for a rung that is not crf */
    strcpy(t->rungs[1].reason, "720p fits");
    j = cir_result_per_title_json(r);
    cr_assert_not_null(j);
    cr_expect_eq(json_real_value(json_object_get(j, "target_psnr_db")), 45);
    cr_expect_eq(json_real_value(json_object_get(json_object_get(j, "probe"),
                                                 "cpu_seconds")),
                 0.23);
    cr_expect_eq(
        json_real_value(json_object_get(
            json_array_get(
                json_object_get(json_object_get(j, "probe"), "points"), 0),
            "kbps")),
        46.09);
    l = json_object_get(j, "ladder");
    cr_assert_eq(json_array_size(l), 2);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(l, 0), "mode")),
        "crf");
    cr_expect_eq(json_real_value(json_object_get(json_array_get(l, 0), "crf")),
                 31.9);
    cr_expect(json_is_null(json_object_get(json_array_get(l, 1), "crf")));
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(l, 1), "reason")),
        "720p fits");
    json_decref(j);
    strcpy(t->error, "probe: no media");
    j = cir_result_per_title_json(r);
    cr_expect_null(json_object_get(j, "probe"));
    cr_expect_str_eq(json_string_value(json_object_get(j, "error")),
                     "probe: no media");
    json_decref(j);
    free(r);
}
