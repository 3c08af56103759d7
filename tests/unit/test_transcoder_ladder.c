#include <stdio.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_preset.h"
#include "ladder.h"

static cir_preset_t
web(void)
{
    static const int heights[] = {1080, 720, 540, 360, 234};
    cir_preset_t p;

    cir_preset_defaults(&p);
    p.nb_rungs = 5;
    for (int i = 0; i < 5; i++) {
        snprintf(p.rungs[i].name, sizeof(p.rungs[i].name), "%dp", heights[i]);
        p.rungs[i].height = heights[i];
        p.rungs[i].bitrate_kbps = 1000;
    }
    return p;
}

Test(transcoder_ladder, full_hd_keeps_every_rung)
{
    cir_preset_t p = web();
    cir_ladder_rung_t out[16];
    int n = cir_ladder_select(&p, 1920, 1080, out, 16);

    cr_assert_eq(n, 5);
    cr_assert_eq(out[0].width, 1920);
    cr_assert_eq(out[0].height, 1080);
    cr_assert_eq(out[4].width, 416);
    cr_assert_eq(out[4].height, 234);
}

Test(transcoder_ladder, never_upscales)
{
    cir_preset_t p = web();
    cir_ladder_rung_t out[16];
    int n = cir_ladder_select(&p, 1280, 720, out, 16);

    cr_assert_eq(n, 4);
    cr_assert_eq(out[0].height, 720);
    for (int i = 0; i < n; i++) {
        cr_assert_leq(out[i].width, 1280);
    }
}

Test(transcoder_ladder, odd_source_gives_even_sizes_inside_it)
{
    cir_preset_t p = web();
    cir_ladder_rung_t out[16];
    int n = cir_ladder_select(&p, 1366, 768, out, 16);

    cr_assert_eq(n, 4); /* 720, 540, 360, 234 */
    for (int i = 0; i < n; i++) {
        cr_assert_eq(out[i].width % 2, 0);
        cr_assert_eq(out[i].height % 2, 0);
        cr_assert_leq(out[i].width, 1366);
        cr_assert_leq(out[i].height, 768);
        /* aspect within one pixel of rounding */
        double a = (double)out[i].width / out[i].height;
        cr_assert_float_eq(a, 1366.0 / 768.0, 0.02, "rung %d: %dx%d", i,
                           out[i].width, out[i].height);
    }
    cr_assert_eq(out[0].width, 1280);
    cr_assert_eq(out[0].height, 720);
}

Test(transcoder_ladder, portrait_uses_the_short_side)
{
    cir_preset_t p = web();
    cir_ladder_rung_t out[16];
    int n = cir_ladder_select(&p, 1080, 1920, out, 16);

    cr_assert_eq(n, 5);
    cr_assert_eq(out[0].width, 1080);
    cr_assert_eq(out[0].height, 1920);
    cr_assert_eq(out[1].width, 720);
    cr_assert_eq(out[1].height, 1280);
}

Test(transcoder_ladder, tiny_source_still_gets_one_rendition)
{
    cir_preset_t p = web();
    cir_ladder_rung_t out[16];
    int n = cir_ladder_select(&p, 320, 181, out, 16);

    cr_assert_eq(n, 1);
    cr_assert_eq(out[0].height, 180);
    cr_assert_eq(out[0].width, 318);
    cr_assert_str_eq(out[0].rung->name, "234p");
}

Test(transcoder_ladder, highest_first_whatever_the_preset_order)
{
    cir_preset_t p = web();
    cir_rung_t t = p.rungs[0];
    cir_ladder_rung_t out[16];

    p.rungs[0] = p.rungs[4];
    p.rungs[4] = t;
    cr_assert_eq(cir_ladder_select(&p, 1920, 1080, out, 16), 5);
    cr_assert_eq(out[0].height, 1080);
    cr_assert_eq(out[4].height, 234);
}

Test(transcoder_ladder, bad_arguments)
{
    cir_preset_t p = web();
    cir_ladder_rung_t out[16];

    cr_assert_eq(cir_ladder_select(&p, 0, 1080, out, 16), CIR_EINVAL);
    cr_assert_eq(cir_ladder_select(&p, 1920, 1080, out, 0), CIR_EINVAL);
    p.nb_rungs = 0;
    cr_assert_eq(cir_ladder_select(&p, 1920, 1080, out, 16), CIR_EINVAL);
}

Test(transcoder_ladder, frame_rate_cap_divides_evenly)
{
    int num, den;

    cir_ladder_frame_rate(60000, 1001, 30, &num, &den);
    cr_assert_eq(num, 60000);
    cr_assert_eq(den, 2002); /* 29.97 */
    cir_ladder_frame_rate(30, 1, 60, &num, &den);
    cr_assert_eq(num * 1, 30);
    cr_assert_eq(den, 1);
    cir_ladder_frame_rate(120, 1, 30, &num, &den);
    cr_assert_eq((double)num / den, 30.0);
    cir_ladder_frame_rate(50, 1, 30, &num, &den);
    cr_assert_eq((double)num / den, 25.0);
    cir_ladder_frame_rate(0, 0, 30, &num, &den);
    cr_assert_eq((double)num / den, 30.0);
}
