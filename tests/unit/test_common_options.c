#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_options.h"

typedef struct {
    char name[8];
    int64_t port;
    double ratio;
} cfg_t;

static const cir_option_t opts[] = {
    {"name", CIR_OPT_S(cfg_t, name), "abc", 0, 0, "a name"},
    {"port", CIR_OPT_I(cfg_t, port), "1935", 0, 65535, "a port"},
    {"ratio", CIR_OPT_D(cfg_t, ratio), "0.5", 0, 1, "a ratio"},
};
static const cir_options_t table = {opts, 3, "CIRTEST_"};

Test(common_options, defaults_set_and_bounds)
{
    cfg_t c;
    char err[128];

    cir_options_defaults(&table, &c, sizeof(c));
    cr_assert_str_eq(c.name, "abc");
    cr_assert_eq(c.port, 1935);
    cr_assert_float_eq(c.ratio, 0.5, 1e-9);
    cr_assert_eq(cir_options_set(&table, &c, "port", "80", err, sizeof(err)),
                 0);
    cr_assert_eq(c.port, 80);
    cr_assert_eq(cir_options_set(&table, &c, "port", "70000", err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert(strstr(err, "port") != NULL, "%s", err);
    cr_assert_eq(cir_options_set(&table, &c, "port", "1.5", err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_eq(cir_options_set(&table, &c, "port", "x", err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_eq(
        cir_options_set(&table, &c, "name", "12345678", err, sizeof(err)),
        CIR_EINVAL, "longer than the field");
    cr_assert_eq(cir_options_set(&table, &c, "nope", "1", err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_eq(c.port, 80, "a refused value changes nothing");
}

Test(common_options, json_and_environment)
{
    cfg_t c;
    char err[128];
    json_t *j =
        json_pack("{s:s, s:i, s:b}", "name", "cam", "port", 8080, "ratio", 1);

    cir_options_defaults(&table, &c, sizeof(c));
    cr_assert_eq(cir_options_apply_json(&table, &c, j, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_str_eq(c.name, "cam");
    cr_assert_eq(c.port, 8080);
    cr_assert_float_eq(c.ratio, 1.0, 1e-9);
    json_decref(j);
    j = json_pack("{s:s}", "port", "80");
    cr_assert_eq(cir_options_apply_json(&table, &c, j, err, sizeof(err)),
                 CIR_EINVAL, "a number given as a string");
    json_decref(j);
    j = json_pack("{s:i}", "unknown", 1);
    cr_assert_eq(cir_options_apply_json(&table, &c, j, err, sizeof(err)),
                 CIR_EINVAL);
    json_decref(j);
    setenv("CIRTEST_PORT", "443", 1);
    cr_assert_eq(cir_options_apply_env(&table, &c, err, sizeof(err)), 0);
    cr_assert_eq(c.port, 443);
    setenv("CIRTEST_RATIO", "2", 1);
    cr_assert_eq(cir_options_apply_env(&table, &c, err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "CIRTEST_RATIO: ratio: 2 is outside [0, 1]",
                     "the variable is named as written");
}

Test(common_options, find_and_print_one)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    cr_assert_eq(cir_options_find(&table, "port"), &opts[1]);
    cr_assert_null(cir_options_find(&table, "por"));
    f = open_memstream(&buf, &len);
    cr_assert(f != NULL);
    cir_options_print_one(&opts[1], f);
    fclose(f);
    cr_assert_str_eq(buf, "  port                   a port (default "
                          "\"1935\")\n");
    free(buf);
}

/* One shared file: each daemon takes its own section, a flat file still
 * works, and the mistakes a shared file invites are named. */
Test(common_options, sections)
{
    cfg_t c;
    char err[256];
    json_t *j;

    j = json_pack("{s:{s:i}, s:{s:i, s:s}}", "ingest", "port", 1936, "worker",
                  "port", 9000, "name", "w");
    cir_options_defaults(&table, &c, sizeof(c));
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, "worker", err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(c.port, 9000);
    cr_assert_str_eq(c.name, "w");
    cir_options_defaults(&table, &c, sizeof(c));
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, "ingest", err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(c.port, 1936);
    cr_assert_str_eq(c.name, "abc", "the worker's section is not applied");
    cir_options_defaults(&table, &c, sizeof(c));
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, "origin", err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(c.port, 1935, "no section of its own: the defaults stay");
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, NULL, err, sizeof(err)),
        CIR_EINVAL, "sections where a flat object is expected");
    json_decref(j);

    j = json_pack("{s:i, s:f}", "port", 81, "ratio", 0.25);
    cir_options_defaults(&table, &c, sizeof(c));
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, "worker", err, sizeof(err)), 0,
        "a flat file: %s", err);
    cr_assert_eq(c.port, 81);
    cr_assert_float_eq(c.ratio, 0.25, 1e-9);
    json_decref(j);

    j = json_pack("{s:i, s:{s:i}}", "port", 81, "worker", "port", 82);
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, "worker", err, sizeof(err)),
        CIR_EINVAL, "a scalar beside sections");
    cr_assert(strstr(err, "port") != NULL, "%s", err);
    json_decref(j);

    j = json_pack("{s:{s:i}}", "worker", "port", 70000);
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, "worker", err, sizeof(err)),
        CIR_EINVAL);
    cr_assert(strstr(err, "worker: port") != NULL, "%s", err);
    json_decref(j);

    j = json_pack("{s:{s:i}}", "worker", "colour", 1);
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, "worker", err, sizeof(err)),
        CIR_EINVAL, "unknown options inside the section are errors");
    json_decref(j);
    j = json_pack("[i]", 1);
    cr_assert_eq(
        cir_options_apply_config(&table, &c, j, "worker", err, sizeof(err)),
        CIR_EINVAL);
    json_decref(j);
}

Test(common_options, load_section_from_a_file)
{
    char path[] = "/tmp/cirrus-options-XXXXXX";
    const char *text = "{\"ingest\": {\"port\": 2000},\n"
                       " \"worker\": {\"port\": 3000, \"ratio\": 0.75}}\n";
    int fd = mkstemp(path);
    cfg_t c;
    char err[512];

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cir_options_defaults(&table, &c, sizeof(c));
    cr_assert_eq(
        cir_options_load_section(&table, &c, path, "worker", err, sizeof(err)),
        0, "%s", err);
    cr_assert_eq(c.port, 3000);
    cr_assert_float_eq(c.ratio, 0.75, 1e-9);
    unlink(path);
    /* a setting beside the sections belongs to none of them */
    text = "{\"port\": 1, \"worker\": {\"port\": 3000}}\n";
    memcpy(path, "/tmp/cirrus-options-XXXXXX", sizeof(path));
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cr_assert_eq(
        cir_options_load_section(&table, &c, path, "worker", err, sizeof(err)),
        CIR_EINVAL);
    cr_assert(strstr(err, path) != NULL && strstr(err, "port") != NULL, "%s",
              err);
    unlink(path);
}

/* The documentation table: a row per option with the variable, the default
 * and the limits from the table itself. */
Test(common_options, markdown)
{
    static const cir_option_t more[] = {
        {"big", CIR_OPT_I(cfg_t, port), "12500000", 0, 1e15, "a | pipe"},
    };
    static const cir_options_t t2 = {more, 1, "CIRTEST_"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert(f != NULL);
    cir_options_print_markdown(&table, f);
    cir_options_print_markdown(&t2, f);
    fclose(f);
    cr_assert(strstr(buf, "| option | environment | default | limits | "
                          "description |\n|---|---|---|---|---|\n") == buf,
              "%s", buf);
    cr_assert(strstr(buf, "| `name` | `CIRTEST_NAME` | `\"abc\"` | string, "
                          "at most 7 bytes | a name |\n") != NULL,
              "%s", buf);
    cr_assert(strstr(buf, "| `port` | `CIRTEST_PORT` | `1935` | integer 0 .. "
                          "65535 | a port |\n") != NULL,
              "%s", buf);
    cr_assert(strstr(buf, "| `ratio` | `CIRTEST_RATIO` | `0.5` | number 0 .. "
                          "1 | a ratio |\n") != NULL,
              "%s", buf);
    cr_assert(strstr(buf, "integer 0 .. 1000000000000000 | a \\| pipe |\n") !=
                  NULL,
              "%s", buf);
    free(buf);
}

/* CIR_OPT_JSON: an object from a file (or its JSON text from anywhere),
 * kept compact; an object member that is such an option is not a
 * section. */
typedef struct {
    int64_t port;
    char apps[32];
} jcfg_t;

static const cir_option_t jopts[] = {
    {"port", CIR_OPT_I(jcfg_t, port), "1", 0, 65535, "a port"},
    {"apps", CIR_OPT_J(jcfg_t, apps), "", 0, 0, "applications"},
};
static const cir_options_t jtable = {jopts, 2, "CIRTEST_"};

Test(common_options, json_object_options)
{
    jcfg_t c;
    char err[256];
    json_t *doc;
    FILE *md;
    char *text = NULL;
    size_t len = 0;

    cir_options_defaults(&jtable, &c, sizeof(c));
    cr_assert_str_eq(c.apps, "");
    /* a flat file with an object option stays flat */
    doc = json_pack("{s:i, s:{s:{}}}", "port", 7, "apps", "a");
    cr_assert_eq(
        cir_options_apply_config(&jtable, &c, doc, "x", err, sizeof(err)), 0,
        "%s", err);
    json_decref(doc);
    cr_assert_eq(c.port, 7);
    cr_assert_str_eq(c.apps, "{\"a\":{}}");
    /* in a section, and as text */
    doc = json_pack("{s:{s:s}, s:{}}", "x", "apps", " {\"b\" : 1} ", "y");
    cr_assert_eq(
        cir_options_apply_config(&jtable, &c, doc, "x", err, sizeof(err)), 0,
        "%s", err);
    json_decref(doc);
    cr_assert_str_eq(c.apps, "{\"b\":1}");
    /* not an object, not JSON, too long: refused, named */
    cr_assert_eq(cir_options_set(&jtable, &c, "apps", "[1]", err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert(strstr(err, "apps: not a JSON object") != NULL, "%s", err);
    cr_assert_eq(cir_options_set(&jtable, &c, "apps", "{", err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_eq(cir_options_set(&jtable, &c, "apps",
                                 "{\"0123456789\":\"0123456789012345\"}", err,
                                 sizeof(err)),
                 CIR_EINVAL);
    cr_assert(strstr(err, "longer than 31 bytes") != NULL, "%s", err);
    doc = json_pack("{s:i}", "apps", 3);
    cr_assert_eq(cir_options_apply_json(&jtable, &c, doc, err, sizeof(err)),
                 CIR_EINVAL);
    json_decref(doc);
    cr_assert(strstr(err, "apps: expected an object") != NULL, "%s", err);
    cr_assert_str_eq(c.apps, "{\"b\":1}", "a refused value changes nothing");
    /* "" unsets it */
    cr_assert_eq(cir_options_set(&jtable, &c, "apps", "", err, sizeof(err)), 0);
    cr_assert_str_eq(c.apps, "");
    md = open_memstream(&text, &len);
    cir_options_print_markdown(&jtable, md);
    fclose(md);
    cr_assert(strstr(text, "| `apps` | `CIRTEST_APPS` | `\"\"` | JSON object, "
                           "at most 31 bytes |") != NULL,
              "%s", text);
    free(text);
}
