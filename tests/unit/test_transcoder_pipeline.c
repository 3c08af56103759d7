/* pipeline.c: what cir_transcode_run decides before it touches the input.
 * The transcoding itself is tested end to end by the integration tests
 * (transcode, aws, worker). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cir_error.h"
#include "cir_preset.h"
#include "cir_transcode.h"

/* A preset loaded by common alone (as a caller that skips
 * cir_preset_codecs_load would) is still checked against the codecs: the
 * job fails as a bad preset before any output exists. */
Test(pipeline, a_preset_breaking_the_codec_rules_fails_before_any_output)
{
    const char *doc = "{\"video\":{\"codec\":\"vp9\",\"rungs\":[{\"name\":"
                      "\"a\",\"height\":360,\"bitrate_kbps\":100}]}}";
    char out[] = "/tmp/cir-pipeline-XXXXXX", uri[128], err[256];
    cir_preset_t p;
    cir_result_t result;
    cir_job_t job = {0};
    struct stat st;

    cr_assert_eq(cir_preset_parse(doc, strlen(doc), &p, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_not_null(mkdtemp(out));
    snprintf(uri, sizeof(uri), "file://%s/asset", out);
    job.input = "file:///nonexistent/input.mp4";
    job.output = uri;
    job.preset = &p;
    cr_assert_eq(cir_transcode_run(&job, &result), CIR_EINVAL);
    cr_assert_str_eq(result.error,
                     "preset: video.codec: \"vp9\" is not one of h264, hevc");
    cr_assert_eq(cir_transcode_exit_code(CIR_EINVAL), CIR_EXIT_BAD_PRESET);
    cr_assert_eq(cir_transcode_exit_permanent(CIR_EXIT_BAD_PRESET), 1);
    snprintf(uri, sizeof(uri), "%s/asset", out);
    cr_assert_neq(stat(uri, &st), 0, "nothing written");
    rmdir(out);
}
