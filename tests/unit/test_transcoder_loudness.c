/*
 * Loudness normalisation (transcoder/src/loudness.c): the filter chosen
 * from a measurement, and the measurement of a sample's audio streams.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <libavformat/avformat.h>

#include "cir_error.h"
#include "loudness.h"

static const cir_log_ctx_t log_ctx = {.component = "test"};

static cir_loudness_stats_t
stats(double i, double tp)
{
    return (cir_loudness_stats_t){
        .measured = 1, .integrated = i, .true_peak = tp, .lra = 3};
}

/* ---- the filter ---- */

Test(loudness, gain_alone_when_the_peak_stays_under_the_ceiling)
{
    cir_loudness_stats_t m = stats(-30, -20);
    char f[160];

    cr_assert_eq(cir_loudness_filter(&m, -23, -1, f, sizeof(f)),
                 CIR_LOUDNESS_LINEAR);
    cr_expect_str_eq(f, "volume=7.00dB");
    m = stats(-10, -0.5); /* too loud: turned down, never limited */
    cr_assert_eq(cir_loudness_filter(&m, -24, -2, f, sizeof(f)),
                 CIR_LOUDNESS_LINEAR);
    cr_expect_str_eq(f, "volume=-14.00dB");
    m = stats(-30, -8); /* exactly at the ceiling after the gain */
    cr_assert_eq(cir_loudness_filter(&m, -23, -1, f, sizeof(f)),
                 CIR_LOUDNESS_LINEAR);
}

Test(loudness, dynamic_when_the_gain_would_clip)
{
    cir_loudness_stats_t m = stats(-30, -3);
    char f[160];

    cr_assert_eq(cir_loudness_filter(&m, -23, -1, f, sizeof(f)),
                 CIR_LOUDNESS_DYNAMIC);
    cr_expect_str_eq(f, "loudnorm=I=-23.0:TP=-1.0:LRA=20:linear=false");
    cr_expect_str_eq(cir_loudness_mode_name(CIR_LOUDNESS_DYNAMIC), "dynamic");
}

Test(loudness, silence_and_nothing_measured_are_left_alone)
{
    cir_loudness_stats_t m = stats(-75, -80);
    char f[160] = "x";

    cr_expect_eq(cir_loudness_filter(&m, -23, -1, f, sizeof(f)),
                 CIR_LOUDNESS_NONE);
    cr_expect_str_eq(f, "");
    m = stats(-INFINITY, -INFINITY);
    cr_expect_eq(cir_loudness_filter(&m, -23, -1, f, sizeof(f)),
                 CIR_LOUDNESS_NONE);
    m = stats(-20, -10);
    m.measured = 0;
    cr_expect_eq(cir_loudness_filter(&m, -23, -1, f, sizeof(f)),
                 CIR_LOUDNESS_NONE);
    cr_expect_str_eq(cir_loudness_mode_name(CIR_LOUDNESS_NONE), "none");
}

Test(loudness, a_short_buffer_is_an_error)
{
    cir_loudness_stats_t m = stats(-30, -20);
    char f[8];

    cr_expect_eq(cir_loudness_filter(&m, -23, -1, f, sizeof(f)), CIR_ELIMIT);
    cr_expect_eq(cir_loudness_filter(&m, -23, -1, f, 0), CIR_ELIMIT);
}

/* ---- the measurement ---- */

static AVFormatContext *
open_sample(const char *name)
{
    char path[1024];
    const char *src = getenv("CIRRUS_SOURCE_DIR");
    AVFormatContext *ic = NULL;

    snprintf(path, sizeof(path), "%s/samples/media/%s", src ? src : "..", name);
    cr_assert_eq(avformat_open_input(&ic, path, NULL, NULL), 0,
                 "%s (samples/make-samples)", path);
    cr_assert_geq(avformat_find_stream_info(ic, NULL), 0);
    return ic;
}

/*
 * two_audio.mp4: a 440 Hz and an 880 Hz sine (lavfi sine, amplitude 1/8),
 * each measured as stereo.  The references are what the ffmpeg CLI says
 * of the same streams (-af aresample,aformat=channel_layouts=stereo,
 * ebur128=peak=true): -21.8 and -21.3 LUFS.
 */
Test(loudness, measures_each_stream_as_its_rendition_hears_it)
{
    AVFormatContext *ic = open_sample("two_audio.mp4");
    cir_loudness_probe_t p[3] = {{.stream = 1, .channels = 2},
                                 {.stream = 2, .channels = 2},
                                 {.stream = 1, .channels = 6}};

    cr_assert_eq(
        cir_loudness_measure(ic, p, 3, INT64_MIN, INT64_MAX, NULL, &log_ctx),
        0);
    cr_expect_eq(p[0].stats.measured, 1);
    cr_expect_float_eq(p[0].stats.integrated, -21.8, 0.3, "%f",
                       p[0].stats.integrated);
    cr_expect_float_eq(p[1].stats.integrated, -21.3, 0.3, "%f",
                       p[1].stats.integrated);
    cr_expect(p[0].stats.true_peak < -15 && p[0].stats.true_peak > -25, "%f",
              p[0].stats.true_peak);
    cr_expect_float_eq(p[0].stats.lra, 0, 1, "a steady tone");
    /* the same stream as 5.1 is a probe of its own; stereo into 5.1
     * keeps L and R as they are, so as loud */
    cr_expect_eq(p[2].stats.measured, 1);
    cr_expect_float_eq(p[2].stats.integrated, p[0].stats.integrated, 0.2,
                       "%f vs %f", p[2].stats.integrated,
                       p[0].stats.integrated);
    avformat_close_input(&ic);
}

Test(loudness, refuses_a_stream_that_is_not_audio)
{
    AVFormatContext *ic = open_sample("two_audio.mp4");
    cir_loudness_probe_t p = {.stream = 0, .channels = 2};

    cr_expect_eq(
        cir_loudness_measure(ic, &p, 1, INT64_MIN, INT64_MAX, NULL, &log_ctx),
        CIR_EINVAL);
    p.stream = 7;
    cr_expect_eq(
        cir_loudness_measure(ic, &p, 1, INT64_MIN, INT64_MAX, NULL, &log_ctx),
        CIR_EINVAL);
    avformat_close_input(&ic);
}

Test(loudness, stops_when_cancelled)
{
    AVFormatContext *ic = open_sample("two_audio.mp4");
    cir_loudness_probe_t p = {.stream = 1, .channels = 2};
    atomic_int cancel = 1;

    cr_expect_eq(cir_loudness_measure(ic, &p, 1, INT64_MIN, INT64_MAX, &cancel,
                                      &log_ctx),
                 CIR_ECANCELED);
    avformat_close_input(&ic);
}

/* A job's clip: nothing outside [from_us, end_us) is measured: an empty
 * window measures nothing; 1 s to 3 s of the steady tone is as loud as
 * the whole. */
Test(loudness, stops_at_the_end_it_is_given)
{
    AVFormatContext *ic = open_sample("two_audio.mp4");
    cir_loudness_probe_t p = {.stream = 1, .channels = 2};

    cr_assert_eq(
        cir_loudness_measure(ic, &p, 1, 2000000, 2000000, NULL, &log_ctx), 0);
    cr_expect_eq(p.stats.measured, 0, "an empty window: nothing measured");
    avformat_close_input(&ic);
    ic = open_sample("two_audio.mp4");
    cr_assert_eq(
        cir_loudness_measure(ic, &p, 1, 1000000, 3000000, NULL, &log_ctx), 0);
    cr_expect_eq(p.stats.measured, 1, "1 s to 3 s");
    cr_expect_float_eq(p.stats.integrated, -21.8, 0.3, "%f",
                       p.stats.integrated);
    avformat_close_input(&ic);
}
