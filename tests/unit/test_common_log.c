#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cir_log.h"

typedef struct {
    int count;
    cir_log_level_t level;
    char line[4096];
} capture_t;

static void
sink(void *opaque, cir_log_level_t level, const char *line)
{
    capture_t *c = opaque;

    c->count++;
    c->level = level;
    snprintf(c->line, sizeof(c->line), "%s", line);
}

static int formatted;

static const char *
count_formatting(void)
{
    formatted++;
    return "x";
}

Test(common_log, sink_receives_the_line)
{
    capture_t c = {0};

    cir_log_set_sink(sink, &c);
    cir_log_set_level(CIR_LOG_INFO);
    cir_log_info(NULL, "hello %d", 7);
    cr_assert_eq(c.count, 1);
    cr_assert_eq(c.level, CIR_LOG_INFO);
    cr_assert_not_null(strstr(c.line, " info  hello 7"), "%s", c.line);
    /* starts with an ISO 8601 UTC time */
    cr_assert_eq(c.line[4], '-');
    cr_assert_eq(c.line[10], 'T');
    cr_assert_eq(c.line[23], 'Z');
    cir_log_set_sink(NULL, NULL);
}

Test(common_log, level_filters_before_formatting)
{
    capture_t c = {0};

    cir_log_set_sink(sink, &c);
    cir_log_set_level(CIR_LOG_WARN);
    cir_log_info(NULL, "%s", count_formatting());
    cir_log_debug(NULL, "%s", count_formatting());
    cr_assert_eq(c.count, 0);
    cr_assert_eq(formatted, 0, "arguments of a filtered line not evaluated");
    cir_log_warn(NULL, "%s", count_formatting());
    cir_log_error(NULL, "e");
    cr_assert_eq(c.count, 2);
    cr_assert_eq(formatted, 1);
    cr_assert_eq(c.level, CIR_LOG_ERROR);
    /* emit itself also respects the level */
    cir_log_emit(CIR_LOG_DEBUG, NULL, "no");
    cr_assert_eq(c.count, 2);
    cir_log_set_level(CIR_LOG_QUIET);
    cir_log_error(NULL, "silenced");
    cr_assert_eq(c.count, 2);
    cir_log_set_sink(NULL, NULL);
}

Test(common_log, text_lines_carry_context)
{
    capture_t c = {0};
    cir_log_ctx_t ctx = {.component = "transcode",
                         .job = "j1",
                         .stream = NULL,
                         .rendition = "720p"};

    cir_log_set_sink(sink, &c);
    cir_log_set_level(CIR_LOG_TRACE);
    cir_log_debug(&ctx, "encoded\n");
    cr_assert_not_null(
        strstr(c.line, "debug [transcode job=j1 rendition=720p] encoded"), "%s",
        c.line);
    cr_assert_null(strstr(c.line, "stream="));
    cr_assert_eq(c.line[strlen(c.line) - 1], 'd', "trailing newline dropped");
    cir_log_set_sink(NULL, NULL);
}

Test(common_log, json_lines_are_objects_with_fields)
{
    capture_t c = {0};
    cir_log_ctx_t ctx = {.component = "origin", .stream = "key\"1"};
    json_error_t jerr;
    json_t *o;

    cir_log_set_sink(sink, &c);
    cir_log_set_level(CIR_LOG_INFO);
    cir_log_set_json(1);
    cir_log_warn(&ctx, "slow \"client\" %d", 3);
    o = json_loads(c.line, 0, &jerr);
    cr_assert_not_null(o, "not JSON: %s (%s)", c.line, jerr.text);
    cr_assert_str_eq(json_string_value(json_object_get(o, "level")), "warn");
    cr_assert_str_eq(json_string_value(json_object_get(o, "component")),
                     "origin");
    cr_assert_str_eq(json_string_value(json_object_get(o, "stream")), "key\"1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "msg")),
                     "slow \"client\" 3");
    cr_assert_null(json_object_get(o, "job"));
    cr_assert_eq(strlen(json_string_value(json_object_get(o, "time"))), 24);
    json_decref(o);
    cir_log_set_json(0);
    cir_log_set_sink(NULL, NULL);
}

Test(common_log, json_survives_invalid_utf8)
{
    capture_t c = {0};
    json_t *o;

    cir_log_set_sink(sink, &c);
    cir_log_set_json(1);
    cir_log_error(NULL, "bad \xff byte");
    o = json_loads(c.line, 0, NULL);
    cr_assert_not_null(o, "%s", c.line);
    cr_assert_not_null(json_object_get(o, "msg"));
    json_decref(o);
    cir_log_set_json(0);
    cir_log_set_sink(NULL, NULL);
}

Test(common_log, long_messages_are_truncated_not_overflowed)
{
    capture_t c = {0};
    static char big[10000];

    memset(big, 'z', sizeof(big) - 1);
    cir_log_set_sink(sink, &c);
    cir_log_error(NULL, "%s", big);
    cr_assert_eq(c.count, 1);
    cr_assert_lt(strlen(c.line), 3072);
    cr_assert_not_null(strstr(c.line, "zzzz"));
    cir_log_set_sink(NULL, NULL);
}

Test(common_log, parse_level_names)
{
    cir_log_level_t l;

    cr_assert_eq(cir_log_parse_level("debug", &l), 0);
    cr_assert_eq(l, CIR_LOG_DEBUG);
    cr_assert_eq(cir_log_parse_level("quiet", &l), 0);
    cr_assert_eq(l, CIR_LOG_QUIET);
    cr_assert_eq(cir_log_parse_level("error", &l), 0);
    cr_assert_eq(l, CIR_LOG_ERROR);
    cr_assert_lt(cir_log_parse_level("verbose", &l), 0);
    cr_assert_lt(cir_log_parse_level("", &l), 0);
}
