/*
 * cir_job_preset_resolve: a job's inline or named preset, the codec rules,
 * then its rung overrides, with errors naming the field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_intake.h"
#include "cir_job_preset.h"
#include "preset_fixture.h"

static char err[512];

/* The job of a document, resolved against the shipped presets. */
static int
resolve(const char *doc, cir_preset_t *p)
{
    cir_vod_job_t *job = calloc(1, sizeof(*job));
    int ret;

    cr_assert_not_null(job);
    err[0] = '\0';
    ret = cir_intake_parse_job(doc, strlen(doc), "file:///out/", presets_dir(),
                               "web", job, err, sizeof(err));
    cr_assert_eq(ret, 0, "%s: %s", doc, err);
    ret = cir_job_preset_resolve(presets_dir(), job, p, err, sizeof(err));
    free(job);
    return ret;
}

Test(job_preset, named_with_overrides)
{
    cir_preset_t p;

    cr_assert_eq(resolve("{\"input\":\"a.mp4\",\"preset\":\"mobile\","
                         "\"rungs\":{\"480p\":{\"bitrate_kbps\":600},"
                         "\"234p\":null}}",
                         &p),
                 0, "%s", err);
    cr_assert_str_eq(p.name, "mobile");
    cr_assert_eq(p.nb_rungs, 3);
    cr_assert_eq(p.rungs[1].bitrate_kbps, 600);
    cr_assert_str_eq(p.video_codec, "h264", "the codec rules resolved");
    cr_assert_eq(resolve("{\"input\":\"a.mp4\",\"preset\":\"mobile\","
                         "\"rungs\":{\"2160p\":null}}",
                         &p),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "rungs.2160p: the preset has no rung of that name");
}

Test(job_preset, inline_checked_by_the_codec_rules)
{
    cir_preset_t p;

    cr_assert_eq(resolve("{\"input\":\"a.mp4\",\"preset\":{\"name\":\"tiny\","
                         "\"video\":{\"rungs\":[{\"name\":\"180p\","
                         "\"height\":180,\"bitrate_kbps\":200}]}},"
                         "\"rungs\":{\"180p\":{\"bitrate_kbps\":150}}}",
                         &p),
                 0, "%s", err);
    cr_assert_str_eq(p.name, "tiny");
    cr_assert_eq(p.nb_rungs, 1);
    cr_assert_eq(p.rungs[0].bitrate_kbps, 150);
    cr_assert_eq(resolve("{\"input\":\"a.mp4\",\"preset\":{\"video\":{"
                         "\"codec\":\"vp9\",\"rungs\":[{\"name\":\"180p\","
                         "\"height\":180,\"bitrate_kbps\":200}]}}}",
                         &p),
                 CIR_EINVAL);
    cr_assert(strncmp(err, "preset.video.codec: ", 20) == 0, "%s", err);
}
