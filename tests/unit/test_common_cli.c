#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_cli.h"
#include "cir_error.h"

typedef struct {
    char name[16];
    int64_t port;
    int64_t fast;
    double ratio;
} cfg_t;

static const cir_option_t opts[] = {
    {"name", CIR_OPT_S(cfg_t, name), "abc", 0, 0, "a name"},
    {"port", CIR_OPT_I(cfg_t, port), "1935", 0, 65535, "a port"},
    {"fast", CIR_OPT_I(cfg_t, fast), "0", 0, 1, "go fast"},
    {"ratio", CIR_OPT_D(cfg_t, ratio), "0.5", 0, 1, "a ratio"},
};
static const cir_options_t table = {opts, 4, "CIRCLI_"};

static void
print_hello(FILE *f)
{
    fputs("hello\n", f);
}

static const cir_cli_flag_t flags[] = {
    {"name", 'n', "NAME", "name", NULL, NULL, NULL},
    {"fast", 0, NULL, "fast", "1", NULL, "go fast"},
    {"hello", 0, NULL, NULL, NULL, print_hello, "says hello"},
};

static const cir_cli_t cli = {.program = "cirrus-test",
                              .notes = "the notes\n",
                              .flags = flags,
                              .nflags = 3,
                              .table = &table,
                              .section = "test",
                              .cfg_size = sizeof(cfg_t)};

/* What one command line gives: the return, cfg, what was printed, err. */
typedef struct {
    int ret;
    cfg_t cfg;
    char *out;
    size_t len;
    char err[512];
} run_t;

static run_t *
run_cli(const cir_cli_t *c, const char *const *args)
{
    static run_t r;
    char *argv[32] = {"cirrus-test"};
    int argc = 1;
    FILE *f;

    for (; args[argc - 1] != NULL; argc++) {
        argv[argc] = (char *)args[argc - 1];
    }
    free(r.out);
    memset(&r, 0, sizeof(r));
    f = open_memstream(&r.out, &r.len);
    cr_assert(f != NULL);
    r.ret = cir_cli_parse(c, argc, argv, &r.cfg, f, r.err, sizeof(r.err));
    fclose(f);
    return &r;
}

#define RUN(...) run_cli(&cli, (const char *const[]){__VA_ARGS__, NULL})

static char *
write_file(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/cirrus-cli-XXXXXX");
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(common_cli, defaults_when_nothing_is_given)
{
    run_t *r = run_cli(&cli, (const char *const[]){NULL});

    cr_assert_eq(r->ret, CIR_CLI_RUN, "%s", r->err);
    cr_assert_str_eq(r->cfg.name, "abc");
    cr_assert_eq(r->cfg.port, 1935);
    cr_assert_eq(r->len, 0, "nothing printed");
}

/* default < file < environment < command line, whatever the order of the
 * flags; on the command line the later one wins. */
Test(common_cli, sources_in_order)
{
    char *path = write_file("{\"test\": {\"port\": 2000, \"name\": \"file\", "
                            "\"ratio\": 0.25}, \"other\": {\"port\": 1}}");
    run_t *r;

    setenv("CIRCLI_PORT", "3000", 1);
    setenv("CIRCLI_NAME", "env", 1);
    r = RUN("--set", "name=set", "--config", path);
    cr_assert_eq(r->ret, CIR_CLI_RUN, "%s", r->err);
    cr_assert_float_eq(r->cfg.ratio, 0.25, 1e-9, "the file's section");
    cr_assert_eq(r->cfg.port, 3000, "the environment over the file");
    cr_assert_str_eq(r->cfg.name, "set", "--set over the environment");

    r = RUN("-c", path, "--name", "flag", "--set", "name=later", "-s",
            "port=4000");
    cr_assert_eq(r->ret, CIR_CLI_RUN, "%s", r->err);
    cr_assert_str_eq(r->cfg.name, "later", "the last on the command line");
    cr_assert_eq(r->cfg.port, 4000);
    r = RUN("--set", "name=first", "-n", "last");
    cr_assert_str_eq(r->cfg.name, "last");
    r = RUN("--name=eq", "--fast");
    cr_assert_eq(r->ret, CIR_CLI_RUN, "%s", r->err);
    cr_assert_str_eq(r->cfg.name, "eq", "--flag=value");
    cr_assert_eq(r->cfg.fast, 1, "a flag without a value sets its value");
    unsetenv("CIRCLI_PORT");
    unsetenv("CIRCLI_NAME");
    unlink(path);
}

Test(common_cli, config_files_apply_in_order)
{
    char first[64], *second;
    run_t *r;

    snprintf(first, sizeof(first), "%s", write_file("{\"port\": 10}"));
    second = write_file("{\"port\": 20, \"name\": \"two\"}");
    r = RUN("--config", first, "--config", second);
    cr_assert_eq(r->ret, CIR_CLI_RUN, "%s", r->err);
    cr_assert_eq(r->cfg.port, 20);
    r = RUN("--config", second, "--config", first);
    cr_assert_eq(r->cfg.port, 10);
    cr_assert_str_eq(r->cfg.name, "two");
    unlink(first);
    unlink(second);
}

/* Every mistake names the flag (or option, or file, or variable). */
Test(common_cli, errors_name_the_flag)
{
    static const struct {
        const char *args[4];
        const char *says;
    } cases[] = {
        {{"--nope"}, "unknown flag '--nope'"},
        {{"--nope=3"}, "unknown flag '--nope'"},
        {{"-x"}, "unknown flag '-x'"},
        {{"--config"}, "--config needs a value"},
        {{"--name"}, "--name needs a value"},
        {{"-n"}, "-n needs a value"},
        {{"--set"}, "--set needs a value"},
        {{"--fast=1"}, "--fast takes no value"},
        {{"--help=1"}, "--help takes no value"},
        {{"--set", "port"}, "--set port: expected NAME=VALUE"},
        {{"--set", "=3"}, "--set =3: expected NAME=VALUE"},
        {{"--set", "nope=1"}, "--set nope=1: unknown option \"nope\""},
        {{"--set", "port=70000"},
         "--set port=70000: port: 70000 is outside [0, 65535]"},
        {{"--name", "much-too-long-a-name"},
         "--name: name: longer than 15 bytes"},
        {{"stray"}, "unexpected argument 'stray'"},
        {{"--fast", "stray"}, "unexpected argument 'stray'"},
        {{"--config", "/nonexistent/c.json"}, "/nonexistent/c.json"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_t *r = run_cli(&cli, cases[i].args);

        cr_assert_eq(r->ret, CIR_EINVAL, "%s", cases[i].args[0]);
        cr_assert(strstr(r->err, cases[i].says) != NULL,
                  "%s: \"%s\" does not say \"%s\"", cases[i].args[0], r->err,
                  cases[i].says);
        cr_assert_eq(r->len, 0, "nothing printed on out");
    }
}

Test(common_cli, an_abbreviation_of_two_flags_is_ambiguous)
{
    run_t *r = RUN("--he");

    cr_assert_eq(r->ret, CIR_EINVAL);
    cr_assert_str_eq(r->err, "ambiguous flag '--he'");
    r = RUN("--conf", "/nonexistent.json");
    cr_assert_eq(r->ret, CIR_EINVAL);
    cr_assert(strstr(r->err, "/nonexistent.json") != NULL,
              "a unique abbreviation is the flag: %s", r->err);
}

Test(common_cli, a_bad_environment_variable_is_named)
{
    run_t *r;

    setenv("CIRCLI_RATIO", "2", 1);
    r = RUN("--fast");
    cr_assert_eq(r->ret, CIR_EINVAL);
    cr_assert_str_eq(r->err, "CIRCLI_RATIO: ratio: 2 is outside [0, 1]");
    r = RUN("--set", "ratio=0.5");
    cr_assert_eq(r->ret, CIR_EINVAL, "read before the command line");
    unsetenv("CIRCLI_RATIO");
}

Test(common_cli, help_on_out)
{
    run_t *r = RUN("--name", "x", "--help", "--nope");

    cr_assert_eq(r->ret, CIR_CLI_EXIT, "--help ends the parse: %s", r->err);
    cr_assert(strstr(r->out, "usage: cirrus-test [--config FILE] "
                             "[--set NAME=VALUE]...\n") == r->out,
              "%s", r->out);
    cr_assert(strstr(r->out, "  -c, --config FILE") != NULL, "%s", r->out);
    cr_assert(strstr(r->out, "  -s, --set NAME=VALUE") != NULL, "%s", r->out);
    cr_assert(strstr(r->out, "      --version") != NULL, "%s", r->out);
    cr_assert(strstr(r->out, "  -n, --name NAME ") != NULL, "%s", r->out);
    cr_assert(strstr(r->out, " a name (--set name=NAME, default abc)\n") !=
                  NULL,
              "a flag's help is its option's: %s", r->out);
    cr_assert(strstr(r->out, "      --fast ") != NULL, "%s", r->out);
    cr_assert(strstr(r->out, " go fast (--set fast=1)\n") != NULL, "%s",
              r->out);
    cr_assert(strstr(r->out, " says hello\n") != NULL, "%s", r->out);
    cr_assert(strstr(r->out, "CIRCLI_<NAME>") != NULL, "%s", r->out);
    cr_assert(strstr(r->out, "  port ") != NULL, "%s", r->out);
    cr_assert(strstr(r->out, "  name ") == NULL,
              "options with a flag are shown once, at the flag: %s", r->out);
    cr_assert(strstr(r->out, "\nthe notes\n") != NULL, "%s", r->out);
    r = RUN("-h");
    cr_assert_eq(r->ret, CIR_CLI_EXIT);
    r = RUN("--nope", "--help");
    cr_assert_eq(r->ret, CIR_EINVAL, "flags are read in order");
}

Test(common_cli, version_and_printing_flags)
{
    char want[64];
    run_t *r = RUN("--version");

    cr_assert_eq(r->ret, CIR_CLI_EXIT);
    if (cir_cli_build()[0] != '\0') {
        snprintf(want, sizeof(want), "cirrus-test %s (git %s)\n",
                 cir_cli_version(), cir_cli_build());
    } else {
        snprintf(want, sizeof(want), "cirrus-test %s\n", cir_cli_version());
    }
    cr_assert_str_eq(r->out, want);
    /* the build's version: digits and dots, as CMake's project() */
    cr_assert(strspn(cir_cli_version(), "0123456789.") ==
                      strlen(cir_cli_version()) &&
                  strchr(cir_cli_version(), '.') != NULL,
              "%s", cir_cli_version());
    r = RUN("--hello");
    cr_assert_eq(r->ret, CIR_CLI_EXIT);
    cr_assert_str_eq(r->out, "hello\n");
    r = RUN("--print-options-md");
    cr_assert_eq(r->ret, CIR_CLI_EXIT);
    cr_assert(strstr(r->out, "| `port` | `CIRCLI_PORT` | `1935` |") != NULL,
              "%s", r->out);
}

Test(common_cli, report_names_the_program)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert(f != NULL);
    cir_cli_report(&cli, "unknown flag '--nope'", f);
    fclose(f);
    cr_assert_str_eq(buf, "cirrus-test: unknown flag '--nope'\n"
                          "'cirrus-test --help' lists every flag and "
                          "option.\n");
    free(buf);
}
