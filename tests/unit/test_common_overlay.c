/*
 * cir_overlay_parse: a job's watermark, its defaults, and every refusal
 * naming the field.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_overlay.h"

static char err[256];

static int
parse(const char *text, cir_overlay_t *o)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    int ret;

    cr_assert_not_null(v, "%s", text);
    err[0] = '\0';
    ret = cir_overlay_parse(v, o, err, sizeof(err));
    json_decref(v);
    return ret;
}

Test(overlay, defaults)
{
    cir_overlay_t o;

    cr_assert_eq(parse("{\"image\":\"s3://b/logo.png\"}", &o), 0, "%s", err);
    cr_assert_eq(o.enabled, 1);
    cr_assert_str_eq(o.image, "s3://b/logo.png");
    cr_assert_eq(o.position, CIR_OVERLAY_BOTTOM_RIGHT);
    cr_assert_float_eq(o.margin, 0.02, 1e-12);
    cr_assert_float_eq(o.height, 0.1, 1e-12);
    cr_assert_float_eq(o.opacity, 1, 1e-12);
}

Test(overlay, every_field_and_back_to_json)
{
    static const char *positions[] = {"top-left", "top-right", "bottom-left",
                                      "bottom-right", "center"};
    cir_overlay_t o;
    char doc[200], *text;
    json_t *j;

    for (size_t i = 0; i < 5; i++) {
        snprintf(doc, sizeof(doc),
                 "{\"image\":\"/srv/logo.png\",\"position\":\"%s\","
                 "\"margin\":0,\"height\":0.25,\"opacity\":0.5}",
                 positions[i]);
        cr_assert_eq(parse(doc, &o), 0, "%s: %s", doc, err);
        cr_assert_str_eq(cir_overlay_position_name(o.position), positions[i]);
    }
    j = cir_overlay_to_json(&o);
    cr_assert_not_null(j);
    text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(text, "{\"height\":0.25,\"image\":\"/srv/logo.png\","
                           "\"margin\":0.0,\"opacity\":0.5,\"position\":"
                           "\"center\"}");
    free(text);
    json_decref(j);
    o.enabled = 0;
    cr_assert_null(cir_overlay_to_json(&o));
}

Test(overlay, refused_with_the_field)
{
    static const struct {
        const char *doc, *msg;
    } cases[] = {
        {"{}", "overlay.image: missing"},
        {"\"logo.png\"", "overlay: expected an object with an image"},
        {"{\"image\":\"\"}",
         "overlay.image: expected a URI or path of a PNG or JPEG"},
        {"{\"image\":5}",
         "overlay.image: expected a URI or path of a PNG or JPEG"},
        {"{\"image\":\"a.png\",\"position\":\"middle\"}",
         "overlay.position: expected top-left, top-right, bottom-left, "
         "bottom-right or center"},
        {"{\"image\":\"a.png\",\"height\":0}",
         "overlay.height: expected a number > 0 and <= 1"},
        {"{\"image\":\"a.png\",\"height\":1.5}",
         "overlay.height: expected a number > 0 and <= 1"},
        {"{\"image\":\"a.png\",\"margin\":-0.1}",
         "overlay.margin: expected a number >= 0 and <= 0.5"},
        {"{\"image\":\"a.png\",\"opacity\":\"1\"}",
         "overlay.opacity: expected a number > 0 and <= 1"},
        {"{\"image\":\"a.png\",\"alpha\":1}",
         "overlay: unknown field \"alpha\""},
    };
    cir_overlay_t o = {0};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(parse(cases[i].doc, &o), CIR_EINVAL, "%s", cases[i].doc);
        cr_expect_str_eq(err, cases[i].msg, "%s", cases[i].doc);
        cr_expect_eq(o.enabled, 0, "o unchanged: %s", cases[i].doc);
    }
}
