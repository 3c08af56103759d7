/* common/aws/src/batch.c: SubmitJob's body (parameters, the environment in
 * containerOverrides) and SubmitJob's size limit, met before sending. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws_fixture.h"
#include "cir_aws.h"
#include "cir_error.h"

static cir_aws_t *
batch_client(http_fx_t *s)
{
    cir_aws_t *a = aws_fx_client(s, "1");
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
    cr_assert_eq(cir_aws_set_endpoint(a, "batch", url), 0);
    return a;
}

Test(aws_batch, the_environment_goes_in_container_overrides)
{
    static char ok[256];
    http_fx_t s = {.answers = {ok}, .nanswers = 1};
    const cir_aws_kv_t params[] = {{"input", "s3://b/a.mp4"}};
    const cir_aws_kv_t env[] = {{"CIRRUS_TRANSCODE_CLIP", "{\"start\":1.0}"}};
    char id[64] = "";
    json_t *body, *e;
    cir_aws_t *a;

    http_fx_answer(ok, sizeof(ok), "200 OK", "", "{\"jobId\":\"j-1\"}");
    http_fx_start(&s);
    a = batch_client(&s);
    cr_assert_eq(cir_batch_submit_env(a, "n", "q", "d", params, 1, env, 1, id,
                                      sizeof(id)),
                 0, "%s", cir_aws_last_error());
    http_fx_stop(&s);
    cr_assert_str_eq(id, "j-1");
    body = json_loads(strstr(s.requests[0], "\r\n\r\n") + 4, 0, NULL);
    cr_assert_not_null(body, "%s", s.requests[0]);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(body, "parameters"), "input")),
                     "s3://b/a.mp4");
    e = json_object_get(json_object_get(body, "containerOverrides"),
                        "environment");
    cr_assert_eq(json_array_size(e), 1);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(e, 0), "name")),
        "CIRRUS_TRANSCODE_CLIP");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(e, 0), "value")),
        "{\"start\":1.0}");
    json_decref(body);
    cir_aws_close(&a);
}

/* Above SubmitJob's 30 KiB: not sent, the size in the error. */
Test(aws_batch, a_request_above_the_limit_is_not_sent)
{
    http_fx_t s = {.nanswers = 0};
    char *big = malloc(CIR_BATCH_SUBMIT_MAX);
    cir_aws_kv_t env[] = {{"CIRRUS_TRANSCODE_PRESET_JSON", big}};
    cir_aws_t *a;

    memset(big, 'x', CIR_BATCH_SUBMIT_MAX - 1);
    big[CIR_BATCH_SUBMIT_MAX - 1] = '\0';
    http_fx_start(&s);
    a = batch_client(&s);
    cr_assert_eq(
        cir_batch_submit_env(a, "n", "q", "d", NULL, 0, env, 1, NULL, 0),
        CIR_ELIMIT);
    http_fx_stop(&s);
    cr_assert_eq(s.nrequests, 0, "nothing sent");
    cr_assert(strstr(cir_aws_last_error(),
                     "above the 30720 bytes AWS Batch takes") != NULL,
              "%s", cir_aws_last_error());
    free(big);
    cir_aws_close(&a);
}
