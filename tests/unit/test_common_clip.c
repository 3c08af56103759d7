/*
 * cir_clip_parse and cir_clip_to_json: the times a clip takes, its
 * refusals naming the field, and the JSON that reads back the same (what
 * cirrus-worker hands a Batch job as CIRRUS_TRANSCODE_CLIP).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_clip.h"
#include "cir_error.h"

static char err[256];

static int
parse(const char *text, cir_clip_t *c)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    int ret;

    cr_assert_not_null(v, "%s", text);
    err[0] = '\0';
    ret = cir_clip_parse(v, c, err, sizeof(err));
    json_decref(v);
    return ret;
}

Test(clip, times_as_numbers_and_clock_strings)
{
    cir_clip_t c;

    cr_assert_eq(parse("{\"start\":\"1:02:03.25\",\"end\":3724}", &c), 0);
    cr_assert_eq(c.enabled, 1);
    cr_assert_float_eq(c.start, 3723.25, 1e-9);
    cr_assert_float_eq(c.end, 3724, 1e-9);
    cr_assert_eq(parse("{\"end\":\"90\"}", &c), 0);
    cr_assert_float_eq(c.start, 0, 1e-9);
    cr_assert_float_eq(c.end, 90, 1e-9);
}

Test(clip, refusals_name_the_field)
{
    static const struct {
        const char *doc, *msg;
    } cases[] = {
        {"[]", "clip: expected an object with start, end"},
        {"{\"from\":1}", "clip: unknown field \"from\""},
        {"{\"start\":-1}", "clip.start: -1 is not a time from 0 to 10000000 s"},
        {"{\"start\":6,\"end\":5}", "clip.end: 5 is not after clip.start 6"},
        {"{\"end\":\"1:60\"}",
         "clip.end: expected seconds (a number) or \"hh:mm:ss.mmm\""},
        {"{\"start\":\"1.5:00\"}",
         "clip.start: expected seconds (a number) or \"hh:mm:ss.mmm\""},
    };
    cir_clip_t c;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(parse(cases[i].doc, &c), CIR_EINVAL, "%s", cases[i].doc);
        cr_assert_str_eq(err, cases[i].msg);
    }
}

Test(clip, json_reads_back_exactly)
{
    cir_clip_t c, back;
    json_t *j;
    char *text;

    cr_assert_eq(parse("{\"start\":0.1,\"end\":\"00:00:02.7\"}", &c), 0);
    cr_assert_not_null(j = cir_clip_to_json(&c));
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cr_assert_eq(parse(text, &back), 0, "%s", text);
    free(text);
    cr_assert(back.start == c.start && back.end == c.end);
    /* no end: none written (to the end of the source) */
    cr_assert_eq(parse("{\"start\":3}", &c), 0);
    cr_assert_not_null(j = cir_clip_to_json(&c));
    cr_assert_null(json_object_get(j, "end"));
    json_decref(j);
    c.enabled = 0;
    cr_assert_null(cir_clip_to_json(&c));
}
