#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
}
