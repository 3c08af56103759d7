#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_json.h"
#include "cir_storage.h"

static char *
nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);

    for (int i = 0; i < depth; i++) {
        s[i] = '[';
        s[depth * 2 - 1 - i] = ']';
    }
    s[depth * 2] = '\0';
    return s;
}

Test(common_json, parses_a_document)
{
    const char *doc = "{\"a\": [1, 2, {\"b\": \"c\"}]}";
    json_t *v = NULL;
    char err[128] = "";

    cr_assert_eq(cir_json_parse(doc, strlen(doc), 1024, &v, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(json_array_size(json_object_get(v, "a")), 3);
    json_decref(v);
}

Test(common_json, length_is_respected_not_the_nul)
{
    const char *doc = "{\"a\":1}garbage";
    json_t *v = NULL;

    cr_assert_eq(cir_json_parse(doc, 7, 1024, &v, NULL, 0), 0);
    cr_assert_eq(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
}

Test(common_json, size_limit_is_checked_before_parsing)
{
    const char *doc = "{\"a\": 1}";
    json_t *v = (json_t *)1;
    char err[128] = "";

    cr_assert_eq(
        cir_json_parse(doc, strlen(doc), strlen(doc) - 1, &v, err, sizeof(err)),
        CIR_ELIMIT);
    cr_assert_null(v);
    cr_assert_not_null(strstr(err, "over the limit of 7"), "%s", err);
    cr_assert_eq(
        cir_json_parse(doc, strlen(doc), strlen(doc), &v, err, sizeof(err)), 0);
    json_decref(v);
}

Test(common_json, depth_limit)
{
    char *ok = nested(CIR_JSON_MAX_DEPTH);
    char *deep = nested(CIR_JSON_MAX_DEPTH + 1);
    json_t *v = NULL;
    char err[128] = "";

    cr_assert_eq(cir_json_parse(ok, strlen(ok), 100000, &v, err, sizeof(err)),
                 0, "%s", err);
    json_decref(v);
    v = NULL;
    cr_assert_eq(
        cir_json_parse(deep, strlen(deep), 100000, &v, err, sizeof(err)),
        CIR_ELIMIT);
    cr_assert_null(v);
    cr_assert_not_null(strstr(err, "nesting deeper than 32"), "%s", err);
    free(ok);
    free(deep);
}

Test(common_json, depth_counts_objects_too)
{
    char doc[1024];
    size_t n = 0;
    json_t *v = NULL;

    for (int i = 0; i < CIR_JSON_MAX_DEPTH; i++) {
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"k\":");
    }
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "[1]");
    for (int i = 0; i < CIR_JSON_MAX_DEPTH; i++) {
        doc[n++] = '}';
    }
    doc[n] = '\0';
    cr_assert_eq(cir_json_parse(doc, n, sizeof(doc), &v, NULL, 0), CIR_ELIMIT);
}

Test(common_json, very_deep_input_is_a_limit_not_a_crash)
{
    char *deep = nested(100000);
    json_t *v = NULL;
    char err[128] = "";

    cr_assert_eq(
        cir_json_parse(deep, strlen(deep), 1 << 20, &v, err, sizeof(err)),
        CIR_ELIMIT, "%s", err);
    free(deep);
}

Test(common_json, errors_give_line_and_column)
{
    const char *doc = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    json_t *v = NULL;
    char err[256] = "";

    cr_assert_eq(cir_json_parse(doc, strlen(doc), 1024, &v, err, sizeof(err)),
                 CIR_EPARSE);
    cr_assert_null(v);
    cr_assert_eq(strncmp(err, "line 3 column ", 14), 0, "%s", err);
    cr_assert_not_null(strstr(err, ": invalid token"), "%s", err);
}

Test(common_json, duplicate_keys_and_empty_input_are_errors)
{
    const char *doc = "{\"a\": 1, \"a\": 2}";
    json_t *v = NULL;
    char err[256] = "";

    cr_assert_eq(cir_json_parse(doc, strlen(doc), 1024, &v, err, sizeof(err)),
                 CIR_EPARSE);
    cr_assert_not_null(strstr(err, "duplicate"), "%s", err);
    cr_assert_eq(cir_json_parse("", 0, 1024, &v, err, sizeof(err)), CIR_EPARSE);
    cr_assert_eq(strncmp(err, "line 1 column 0: ", 17), 0, "%s", err);
}

Test(common_json, small_error_buffer_is_not_overrun)
{
    char err[8];

    memset(err, 'x', sizeof(err));
    json_t *v = NULL;
    cr_assert_eq(cir_json_parse("{", 1, 1024, &v, err, sizeof(err)),
                 CIR_EPARSE);
    cr_assert_eq(err[7], '\0');
    cr_assert_str_eq(err, "line 1 ");
}

Test(common_json, write_then_load_a_file)
{
    char dir[] = "/tmp/cir-json-XXXXXX", path[256], err[256] = "";
    json_t *v = json_pack("{s:i, s:s, s:[i,i]}", "progress", 42, "state",
                          "running", "r", 1, 2);
    json_t *back = NULL;
    char *text = NULL;
    size_t len = 0;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/progress.json", dir);
    cr_assert_eq(cir_json_write_file(path, v), 0);
    cr_assert_eq(cir_read_file(path, 4096, &text, &len), 0);
    cr_assert_eq(text[len - 1], '\n');
    cr_assert_null(strchr(text, ' '), "compact: %s", text);
    cr_assert_eq(cir_json_load_file(path, 4096, &back, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert(json_equal(v, back));
    json_decref(back);
    back = NULL;
    cr_assert_eq(cir_json_load_file(path, 10, &back, err, sizeof(err)),
                 CIR_ELIMIT);
    cr_assert_null(back);
    unlink(path);
    cr_assert_lt(cir_json_load_file(path, 4096, &back, err, sizeof(err)), 0);
    cr_assert_not_null(strstr(err, path), "%s", err);
    free(text);
    json_decref(v);
    rmdir(dir);
}
