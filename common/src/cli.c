/*
 * One command line for every program (cir_cli.h): getopt_long from a table
 * of flags, read three times over argv so the sources of an option apply
 * in their order (defaults, --config files, environment, command line)
 * whatever the order of the flags.
 */
#include <getopt.h>
#include <string.h>

#include "cir_build.h" /* generated: CIRRUS_BUILD */
#include "cir_cli.h"
#include "cir_error.h"

#ifndef CIRRUS_VERSION
#error "CIRRUS_VERSION comes from common/CMakeLists.txt (PROJECT_VERSION)"
#endif

#define MAX_FLAGS 64  /* a program's own */
#define NAME_MAX  128 /* of an option in --set */
#define HELP_COL  30  /* where a flag's help starts */

enum {
    F_CONFIG,
    F_SET,
    F_HELP,
    F_VERSION,
    F_MARKDOWN,
    F_COMMON
};

static const cir_cli_flag_t common_flags[F_COMMON] = {
    {"config", 'c', "FILE", NULL, NULL, NULL,
     "a JSON file of options: a flat object, or a shared file whose "
     "sections are objects (repeatable)"},
    {"set", 's', "NAME=VALUE", NULL, NULL, NULL, "one option (repeatable)"},
    {"help", 'h', NULL, NULL, NULL, NULL, "this text"},
    {"version", 0, NULL, NULL, NULL, NULL, "the version"},
    {"print-options-md", 0, NULL, NULL, NULL, NULL,
     "the options as a markdown table"},
};

/* The three readings of argv. */
typedef enum {
    SCAN_CHECK,
    SCAN_FILES,
    SCAN_SETTINGS
} scan_t;

typedef struct {
    const cir_cli_t *cli;
    void *cfg;
    FILE *out;
    char *err;
    size_t errsize;
    struct option longopts[F_COMMON + MAX_FLAGS + 1];
    char shortopts[2 * (F_COMMON + MAX_FLAGS) + 2];
} parser_t;

const char *
cir_cli_version(void)
{
    return CIRRUS_VERSION;
}

const char *
cir_cli_build(void)
{
    return CIRRUS_BUILD;
}

/* Flag i: the common ones first, then the program's. */
static const cir_cli_flag_t *
flag_at(const cir_cli_t *cli, size_t i)
{
    return i < F_COMMON ? &common_flags[i] : &cli->flags[i - F_COMMON];
}

/* ---- the program's options ---------------------------------------------- */

static void
cfg_defaults(const parser_t *p)
{
    cir_options_defaults(p->cli->table, p->cfg, p->cli->cfg_size);
}

static int
cfg_load(const parser_t *p, const char *path, char *err, size_t errsize)
{
    return cir_options_load_section(p->cli->table, p->cfg, path,
                                    p->cli->section, err, errsize);
}

static int
cfg_env(const parser_t *p)
{
    return cir_options_apply_env(p->cli->table, p->cfg, p->err, p->errsize);
}

static int
cfg_set(const parser_t *p, const char *name, const char *value, char *err,
        size_t errsize)
{
    return cir_options_set(p->cli->table, p->cfg, name, value, err, errsize);
}

/* 1 when one of the program's flags sets option o. */
static int
set_by_flag(const cir_cli_t *cli, const cir_option_t *o)
{
    for (size_t i = 0; i < cli->nflags; i++) {
        if (cli->flags[i].option != NULL &&
            strcmp(cli->flags[i].option, o->name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The options of --help: those no flag sets (the flags show theirs). */
static void
print_options(const cir_cli_t *cli, FILE *f)
{
    size_t rest = 0;

    for (size_t i = 0; i < cli->table->count; i++) {
        rest += !set_by_flag(cli, &cli->table->opts[i]);
    }
    fprintf(f,
            "options (the flags' too): keys of a --config file, %s<NAME>\n"
            "variables, --set NAME=VALUE; later sources win (default, file,\n"
            "environment, command line)%s\n",
            cli->table->env_prefix, rest > 0 ? ":" : ".");
    for (size_t i = 0; i < cli->table->count; i++) {
        if (!set_by_flag(cli, &cli->table->opts[i])) {
            cir_options_print_one(&cli->table->opts[i], f);
        }
    }
}

static void
print_markdown(const cir_cli_t *cli, FILE *f)
{
    cir_options_print_markdown(cli->table, f);
}

/* ---- getopt ------------------------------------------------------------- */

static int
build(parser_t *p)
{
    size_t n = F_COMMON + p->cli->nflags, s = 0;

    if (p->cli->nflags > MAX_FLAGS) {
        snprintf(p->err, p->errsize, "more than %d flags", MAX_FLAGS);
        return CIR_EINVAL;
    }
    p->shortopts[s++] = ':'; /* a missing value is ':', not '?' */
    for (size_t i = 0; i < n; i++) {
        const cir_cli_flag_t *f = flag_at(p->cli, i);

        p->longopts[i] =
            (struct option){f->name, f->arg ? required_argument : no_argument,
                            NULL, 256 + (int)i};
        if (f->short_name != 0) {
            p->shortopts[s++] = (char)f->short_name;
            if (f->arg != NULL) {
                p->shortopts[s++] = ':';
            }
        }
    }
    p->longopts[n] = (struct option){NULL, 0, NULL, 0};
    p->shortopts[s] = '\0';
    return 0;
}

/* The flag getopt_long returned as c. */
static size_t
index_of(const parser_t *p, int c)
{
    size_t n = F_COMMON + p->cli->nflags;

    if (c >= 256) {
        return (size_t)(c - 256);
    }
    for (size_t i = 0; i < n; i++) {
        if (flag_at(p->cli, i)->short_name == c) {
            return i;
        }
    }
    return n; /* not reached: getopt returns only the flags it was given */
}

/* 1 when "--xy" abbreviates more than one long flag. */
static int
ambiguous(const parser_t *p, const char *arg, size_t len)
{
    int matches = 0;

    if (len < 3 || strncmp(arg, "--", 2) != 0) {
        return 0;
    }
    for (const struct option *o = p->longopts; o->name != NULL; o++) {
        matches += strncmp(o->name, arg + 2, len - 2) == 0;
    }
    return matches > 1;
}

/* getopt's '?' or ':' as a message naming the flag: optopt is the flag's
 * val (256 + index: a long flag), its letter, or 0 (an unknown long flag,
 * then the last argument read). */
static int
bad_flag(parser_t *p, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    int len = (int)strcspn(arg, "=");
    const char *name =
        optopt >= 256 ? flag_at(p->cli, (size_t)(optopt - 256))->name : NULL;

    if (c == ':' && name != NULL) {
        snprintf(p->err, p->errsize, "--%s needs a value", name);
    } else if (c == ':') {
        snprintf(p->err, p->errsize, "-%c needs a value", optopt);
    } else if (name != NULL) {
        snprintf(p->err, p->errsize, "--%s takes no value", name);
    } else if (optopt != 0) {
        snprintf(p->err, p->errsize, "unknown flag '-%c'", optopt);
    } else if (ambiguous(p, arg, (size_t)len)) {
        snprintf(p->err, p->errsize, "ambiguous flag '%.*s'", len, arg);
    } else {
        snprintf(p->err, p->errsize, "unknown flag '%.*s'", len, arg);
    }
    return CIR_EINVAL;
}

/* ---- what each flag does in each reading --------------------------------
 */

/* First reading: the flags that print and end, and --set's shape. */
static int
check_flag(parser_t *p, size_t i, const char *value)
{
    const cir_cli_flag_t *f = flag_at(p->cli, i);

    switch (i) {
    case F_HELP:
        cir_cli_usage(p->cli, p->out);
        return CIR_CLI_EXIT;
    case F_VERSION:
        if (cir_cli_build()[0] != '\0') {
            fprintf(p->out, "%s %s (git %s)\n", p->cli->program,
                    cir_cli_version(), cir_cli_build());
        } else {
            fprintf(p->out, "%s %s\n", p->cli->program, cir_cli_version());
        }
        return CIR_CLI_EXIT;
    case F_MARKDOWN:
        print_markdown(p->cli, p->out);
        return CIR_CLI_EXIT;
    case F_SET:
        if (strchr(value, '=') == NULL || value[0] == '=') {
            snprintf(p->err, p->errsize, "--set %s: expected NAME=VALUE",
                     value);
            return CIR_EINVAL;
        }
        return 0;
    default:
        break;
    }
    if (f->print != NULL) {
        f->print(p->out);
        return CIR_CLI_EXIT;
    }
    return 0;
}

static int
load_file(parser_t *p, const char *path)
{
    int ret = cfg_load(p, path, p->err, p->errsize);

    return ret < 0 ? CIR_EINVAL : 0;
}

/* --set NAME=VALUE */
static int
set_pair(parser_t *p, const char *pair)
{
    const char *eq = strchr(pair, '=');
    size_t n = (size_t)(eq - pair);
    char name[NAME_MAX], err[512];

    if (n >= sizeof(name)) {
        snprintf(p->err, p->errsize, "--set: unknown option \"%.*s\"", (int)n,
                 pair);
        return CIR_EINVAL;
    }
    memcpy(name, pair, n);
    name[n] = '\0';
    if (cfg_set(p, name, eq + 1, err, sizeof(err)) < 0) {
        snprintf(p->err, p->errsize, "--set %s: %s", pair, err);
        return CIR_EINVAL;
    }
    return 0;
}

/* A program's flag that stands for an option. */
static int
set_flag(parser_t *p, const cir_cli_flag_t *f, const char *value)
{
    char err[512];

    if (cfg_set(p, f->option, value, err, sizeof(err)) < 0) {
        snprintf(p->err, p->errsize, "--%s: %s", f->name, err);
        return CIR_EINVAL;
    }
    return 0;
}

static int
on_flag(parser_t *p, size_t i, const char *value, scan_t scan)
{
    const cir_cli_flag_t *f = flag_at(p->cli, i);

    switch (scan) {
    case SCAN_CHECK:
        return check_flag(p, i, value);
    case SCAN_FILES:
        return i == F_CONFIG ? load_file(p, value) : 0;
    case SCAN_SETTINGS:
        if (i == F_SET) {
            return set_pair(p, value);
        }
        if (i >= F_COMMON && f->option != NULL) {
            return set_flag(p, f, value != NULL ? value : f->value);
        }
        return 0;
    }
    return 0;
}

static int
scan(parser_t *p, int argc, char **argv, scan_t s)
{
    int c, ret;

    optind = 0; /* glibc: start again from argv[1], state reset */
    opterr = 0; /* the messages are ours */
    while ((c = getopt_long(argc, argv, p->shortopts, p->longopts, NULL)) !=
           -1) {
        if (c == '?' || c == ':') {
            return bad_flag(p, c, argv);
        }
        if ((ret = on_flag(p, index_of(p, c), optarg, s)) != 0) {
            return ret;
        }
    }
    if (optind < argc) {
        snprintf(p->err, p->errsize, "unexpected argument '%s'", argv[optind]);
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_cli_parse(const cir_cli_t *cli, int argc, char **argv, void *cfg, FILE *out,
              char *err, size_t errsize)
{
    parser_t p = {
        .cli = cli, .cfg = cfg, .out = out, .err = err, .errsize = errsize};
    int ret;

    err[0] = '\0';
    if ((ret = build(&p)) < 0 ||
        (ret = scan(&p, argc, argv, SCAN_CHECK)) != 0) {
        return ret;
    }
    cfg_defaults(&p);
    if ((ret = scan(&p, argc, argv, SCAN_FILES)) < 0) {
        return ret;
    }
    if (cfg_env(&p) < 0) {
        return CIR_EINVAL;
    }
    return scan(&p, argc, argv, SCAN_SETTINGS);
}

/* ---- help ---------------------------------------------------------------
 */

/* A flag's help: its own, or its option's, with the option and default. */
static void
flag_help(const cir_cli_t *cli, const cir_cli_flag_t *fl, char *buf,
          size_t size)
{
    const cir_option_t *o = NULL;
    size_t n;

    if (fl->option != NULL && cli->table != NULL) {
        o = cir_options_find(cli->table, fl->option);
    }
    n = (size_t)snprintf(buf, size, "%s",
                         fl->help != NULL ? fl->help
                         : o != NULL      ? o->help
                                          : "");
    if (fl->option == NULL || n >= size) {
        return;
    }
    n += (size_t)snprintf(buf + n, size - n, " (--set %s=%s", fl->option,
                          fl->arg != NULL ? fl->arg : fl->value);
    if (n < size && fl->arg != NULL && o != NULL && o->def[0] != '\0') {
        n += (size_t)snprintf(buf + n, size - n, ", default %s", o->def);
    }
    if (n < size) {
        snprintf(buf + n, size - n, ")");
    }
}

static void
print_flag(const cir_cli_t *cli, FILE *f, const cir_cli_flag_t *fl)
{
    char left[64], help[512];
    int n;

    n = snprintf(left, sizeof(left), "  %c%c%s--%s%s%s",
                 fl->short_name ? '-' : ' ',
                 fl->short_name ? (char)fl->short_name : ' ',
                 fl->short_name ? ", " : "  ", fl->name, fl->arg ? " " : "",
                 fl->arg ? fl->arg : "");
    if (n >= HELP_COL - 1) {
        fprintf(f, "%s\n%*s", left, HELP_COL, "");
    } else {
        fprintf(f, "%-*s", HELP_COL, left);
    }
    flag_help(cli, fl, help, sizeof(help));
    cir_options_print_wrapped(f, HELP_COL, help);
}

void
cir_cli_usage(const cir_cli_t *cli, FILE *f)
{
    fprintf(f, "usage: %s %s\n\nflags:\n", cli->program,
            cli->synopsis != NULL ? cli->synopsis
                                  : "[--config FILE] [--set NAME=VALUE]...");
    for (size_t i = 0; i < F_COMMON + cli->nflags; i++) {
        print_flag(cli, f, flag_at(cli, i));
    }
    fputc('\n', f);
    print_options(cli, f);
    if (cli->notes != NULL) {
        fprintf(f, "\n%s", cli->notes);
    }
}

void
cir_cli_report(const cir_cli_t *cli, const char *err, FILE *f)
{
    fprintf(f, "%s: %s\n'%s --help' lists every flag and option.\n",
            cli->program, err, cli->program);
}
