/*
 * The per-title decision (transcoder/src/pertitle.c): probe figures in,
 * ladder out.  The figures of the easy, middling and hard cases are what
 * the probe measured on bench/per_title's screen, smooth and noise clips.
 */
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_preset.h"
#include "pertitle.h"

static cir_preset_t preset;
static cir_ladder_rung_t ladder[4];

/* web's rungs that fit 720p, at the sizes cir_ladder_select gives */
static void
web_720p(void)
{
    static const struct {
        const char *name;
        int w, h, kbps;
    } rungs[] = {{"720p", 1280, 720, 3000},
                 {"540p", 960, 540, 2000},
                 {"360p", 640, 360, 730},
                 {"234p", 416, 234, 145}};

    cir_preset_defaults(&preset);
    preset.per_title_enabled = 1;
    preset.nb_rungs = 4;
    for (int i = 0; i < 4; i++) {
        snprintf(preset.rungs[i].name, sizeof(preset.rungs[i].name), "%s",
                 rungs[i].name);
        preset.rungs[i].height = rungs[i].h;
        preset.rungs[i].bitrate_kbps = rungs[i].kbps;
        ladder[i] = (cir_ladder_rung_t){.rung = &preset.rungs[i],
                                        .width = rungs[i].w,
                                        .height = rungs[i].h};
    }
}

static cir_pertitle_probe_t
probe_of(const double mid[3][3], const double top[3])
{
    cir_pertitle_probe_t p = {.frames = 15, .nb_sizes = top ? 2 : 1};

    p.sizes[0] =
        (cir_pertitle_size_t){.width = 640, .height = 360, .nb_points = 3};
    for (int i = 0; i < 3; i++) {
        p.sizes[0].points[i] = (cir_pertitle_point_t){
            .crf = mid[i][0], .kbps = mid[i][1], .psnr = mid[i][2]};
    }
    if (top) {
        p.sizes[1] =
            (cir_pertitle_size_t){.width = 1280, .height = 720, .nb_points = 1};
        p.sizes[1].points[0] = (cir_pertitle_point_t){
            .crf = top[0], .kbps = top[1], .psnr = top[2]};
    }
    return p;
}

TestSuite(transcoder_pertitle, .init = web_720p);

Test(transcoder_pertitle, easy_content_gets_one_capped_crf_rung)
{
    static const double mid[3][3] = {
        {16, 46.09, 56.48}, {24, 29.94, 49.66}, {32, 17.88, 43.15}};
    static const double top[3] = {29.7, 40.41, 46.76};
    cir_pertitle_probe_t probe = probe_of(mid, top);
    cir_pertitle_rung_t out[4];

    cr_assert_eq(cir_pertitle_decide(&preset, &probe, ladder, 4, out), 1);
    cr_expect_eq(out[0].mode, CIR_PERTITLE_CRF);
    cr_expect(out[0].crf > 29.7 && out[0].crf < 32, "crf %g", out[0].crf);
    cr_expect_eq(out[0].cap_kbps, 3000);
    cr_expect(out[0].estimated_kbps > 30 && out[0].estimated_kbps < 45,
              "estimate %d", out[0].estimated_kbps);
    cr_expect(fabs(out[0].expected_psnr - 45) < 1e-9);
    cr_expect(strstr(out[0].reason, "capped CRF") != NULL, "%s", out[0].reason);
    for (int i = 1; i < 4; i++) {
        cr_expect_eq(out[i].mode, CIR_PERTITLE_DROPPED, "%s",
                     out[i].ladder.rung->name);
        cr_expect(strstr(out[i].reason, "720p needs about") != NULL, "%s",
                  out[i].reason);
        cr_expect(strstr(out[i].reason, "adds no quality") != NULL);
    }
}

Test(transcoder_pertitle, hard_content_keeps_the_fixed_ladder)
{
    static const double mid[3][3] = {
        {16, 18236.2, 39.77}, {24, 3861.36, 32.6}, {32, 36.36, 31.44}};
    static const double top[3] = {16, 121384, 37.1};
    cir_pertitle_probe_t probe = probe_of(mid, top);
    cir_pertitle_rung_t out[4];

    cr_assert_eq(cir_pertitle_decide(&preset, &probe, ladder, 4, out), 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(out[i].mode, CIR_PERTITLE_FIXED);
        cr_expect_eq(out[i].crf, 0);
        cr_expect_eq(out[i].cap_kbps, preset.rungs[i].bitrate_kbps);
        cr_expect_gt(out[i].estimated_kbps, out[i].cap_kbps);
        cr_expect(strstr(out[i].reason, "kept fixed") != NULL, "%s",
                  out[i].reason);
    }
}

Test(transcoder_pertitle, middling_content_mixes_fixed_and_crf)
{
    static const double mid[3][3] = {
        {16, 873.51, 47.17}, {24, 279.36, 41.75}, {32, 122.74, 37.32}};
    static const double top[3] = {19.2, 3601.43, 46.06};
    cir_pertitle_probe_t probe = probe_of(mid, top);
    cir_pertitle_rung_t out[4];

    cr_assert_eq(cir_pertitle_decide(&preset, &probe, ladder, 4, out), 4);
    /* 720p: 45 dB needs about the fixed rate */
    cr_expect_eq(out[0].mode, CIR_PERTITLE_FIXED);
    /* 540p: between the two probed sizes, well under its 2000 kbps */
    cr_expect_eq(out[1].mode, CIR_PERTITLE_CRF);
    cr_expect(out[1].crf > 19 && out[1].crf < 21, "crf %g", out[1].crf);
    cr_expect(out[1].estimated_kbps > 1200 && out[1].estimated_kbps < 1700,
              "estimate %d", out[1].estimated_kbps);
    /* 360p and 234p: their fixed rates are below what 45 dB needs */
    cr_expect_eq(out[2].mode, CIR_PERTITLE_FIXED);
    cr_expect_eq(out[3].mode, CIR_PERTITLE_FIXED);
}

/* One size: rate in proportion to the area, the CRF interpolated. */
Test(transcoder_pertitle, arithmetic_of_one_size)
{
    static const double mid[3][3] = {
        {16, 1000, 50}, {24, 500, 44}, {32, 250, 38}};
    cir_pertitle_probe_t probe = probe_of(mid, NULL);
    cir_pertitle_rung_t out[3];
    cir_ladder_rung_t l[3];

    preset.per_title_target_psnr_db = 47;
    preset.rungs[0].bitrate_kbps = 3000; /* 2828 >= 75 %: fixed */
    preset.rungs[1].bitrate_kbps = 2000; /* 707 < 1500: crf 20 */
    preset.rungs[2].bitrate_kbps = 900;  /* 707 <= 80 % of it: dropped */
    l[0] = (cir_ladder_rung_t){&preset.rungs[0], 1280, 720};
    l[1] = (cir_ladder_rung_t){&preset.rungs[1], 640, 360};
    l[2] = (cir_ladder_rung_t){&preset.rungs[2], 320, 180};
    cr_assert_eq(cir_pertitle_decide(&preset, &probe, l, 3, out), 2);
    cr_expect_eq(out[0].mode, CIR_PERTITLE_FIXED);
    cr_expect_eq(out[0].estimated_kbps, 2828); /* 4 x 707.1 */
    cr_expect_eq(out[1].mode, CIR_PERTITLE_CRF);
    cr_expect(fabs(out[1].crf - 20) < 1e-9, "crf %g", out[1].crf);
    cr_expect_eq(out[1].estimated_kbps, 707);
    cr_expect_eq(out[2].mode, CIR_PERTITLE_DROPPED);
    cr_expect(strstr(out[2].reason, "540p needs about 707 kbps") != NULL, "%s",
              out[2].reason);
    /* with a little less budget the step is worth a rung */
    preset.rungs[2].bitrate_kbps = 800;
    cr_assert_eq(cir_pertitle_decide(&preset, &probe, l, 3, out), 3);
    cr_expect_eq(out[2].mode, CIR_PERTITLE_CRF);
    cr_expect_eq(out[2].estimated_kbps, 177); /* a quarter of 707 */
}

Test(transcoder_pertitle, crf_for_target_is_clamped_to_the_probe)
{
    static const double mid[3][3] = {
        {16, 1000, 50}, {24, 500, 44}, {32, 250, 38}};
    cir_pertitle_probe_t probe = probe_of(mid, NULL);

    cr_expect_eq(cir_pertitle_crf_for(&probe.sizes[0], 47), 20);
    cr_expect_eq(cir_pertitle_crf_for(&probe.sizes[0], 55), 16);
    cr_expect_eq(cir_pertitle_crf_for(&probe.sizes[0], 30), 32);
}

Test(transcoder_pertitle, unusable_figures_are_refused)
{
    static const double mid[3][3] = {
        {16, 1000, 50}, {24, 500, 44}, {32, 250, 38}};
    static const double top[3] = {20, 3000, 48};
    cir_pertitle_probe_t probe;
    cir_pertitle_rung_t out[4];

    probe = probe_of(mid, top);
    probe.nb_sizes = 0;
    cr_expect_eq(cir_pertitle_decide(&preset, &probe, ladder, 4, out),
                 CIR_EINVAL);
    probe = probe_of(mid, top);
    probe.sizes[0].points[1].crf = 16; /* not ascending */
    cr_expect_eq(cir_pertitle_decide(&preset, &probe, ladder, 4, out),
                 CIR_EINVAL);
    probe = probe_of(mid, top);
    probe.sizes[0].points[2].psnr = NAN;
    cr_expect_eq(cir_pertitle_decide(&preset, &probe, ladder, 4, out),
                 CIR_EINVAL);
    probe = probe_of(mid, top);
    probe.sizes[1].points[0].kbps = 0;
    cr_expect_eq(cir_pertitle_decide(&preset, &probe, ladder, 4, out),
                 CIR_EINVAL);
    probe = probe_of(mid, top);
    probe.sizes[1].width = 320; /* the top size smaller than the mid */
    probe.sizes[1].height = 180;
    cr_expect_eq(cir_pertitle_decide(&preset, &probe, ladder, 4, out),
                 CIR_EINVAL);
    cr_expect_eq(cir_pertitle_decide(&preset, NULL, ladder, 4, out),
                 CIR_EINVAL);
    probe = probe_of(mid, top);
    cr_expect_eq(cir_pertitle_decide(&preset, &probe, ladder, 0, out),
                 CIR_EINVAL);
}

Test(transcoder_pertitle, mode_names)
{
    cr_expect_str_eq(cir_pertitle_mode_name(CIR_PERTITLE_FIXED), "fixed");
    cr_expect_str_eq(cir_pertitle_mode_name(CIR_PERTITLE_CRF), "crf");
    cr_expect_str_eq(cir_pertitle_mode_name(CIR_PERTITLE_DROPPED), "dropped");
}
