/*
 * The command line of every Cirrus program, parsed one way (cirrus-ingest,
 * cirrus-worker, cirrus-transcode).
 *
 * Every program takes the common flags:
 *
 *   -c, --config FILE      a JSON file of options (flat, or a shared file's
 *                          section: cir_options.h); repeatable, in order
 *   -s, --set NAME=VALUE   one option; repeatable
 *   -h, --help             usage on stdout, exit 0
 *       --version          "<program> <version> (git <describe>)" on
 *                          stdout, exit 0 (without the commit when built
 *                          outside a git checkout)
 *       --print-options-md the option table in markdown, exit 0
 *
 * and its own flags (cir_cli_flag_t): a flag sets an option ("--input URI"
 * is "--set input=URI", "--no-realtime" is "--set realtime=0") or prints
 * something and ends the program ("--help-preset").
 *
 * Each option is set from, later ones winning: its default, the --config
 * files, its environment variable (<env_prefix><NAME>, the name
 * upper-cased), then the command line (--set and the flags, in their
 * order).  An unknown flag, a flag without its value or a refused value is
 * an error that names the flag.
 */
#ifndef CIR_CLI_H
#define CIR_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "cir_options.h"

/* One flag of a program's own. */
typedef struct {
    const char *name;       /* "input" for --input */
    int short_name;         /* 'i' for -i, or 0 */
    const char *arg;        /* the value's name ("URI"); NULL: no value */
    const char *option;     /* the option it sets: to the flag's value, or */
    const char *value;      /* (a flag without a value) to this */
    void (*print)(FILE *f); /* or: prints this on stdout, the program ends */
    const char *help;
} cir_cli_flag_t;

/* The daemons' --log-json: the option log_json to 1. */
#define CIR_CLI_FLAG_LOG_JSON                       \
    {                                               \
        "log-json", 0, NULL, "log_json", "1", NULL, \
            "one JSON object per log line"          \
    }

typedef struct {
    const char *program;  /* "cirrus-worker": messages, --help, --version */
    const char *synopsis; /* after "usage: " (NULL: the common flags) */
    const char *notes;    /* the end of --help, or NULL */
    const cir_cli_flag_t *flags; /* the program's own */
    size_t nflags;
    const cir_options_t *table; /* the options */
    const char *section;        /* its section of a shared file ("worker") */
    size_t cfg_size;            /* sizeof the table's struct */
} cir_cli_t;

#define CIR_CLI_RUN  0 /* cfg is complete: run */
#define CIR_CLI_EXIT 1 /* --help, --version or a print flag: exit 0 */

/* The daemons' exit codes (README, "Exit codes"): 0 stopped by a signal,
 * 1 failed while running, and this one; with their text for --help. */
#define CIR_CLI_DAEMON_EXIT_USAGE 2
#define CIR_CLI_DAEMON_EXIT_CODES                                       \
    "Exit codes: 0 stopped by SIGINT/SIGTERM (or --help, --version),\n" \
    "1 failed while running, 2 bad command line or configuration.\n"

/* The project's version (CMake's PROJECT_VERSION), e.g. "0.1.0". */
const char *cir_cli_version(void);
/* The commit built, `git describe --tags --always --dirty` at build time
 * (e.g. "2ed3bd1-dirty"); "" when built outside a git checkout. */
const char *cir_cli_build(void);

/* Parses argv (which getopt may reorder) into cfg: CIR_CLI_RUN,
 * CIR_CLI_EXIT after printing on out, or CIR_EINVAL with the message in
 * err (an unknown flag, a missing value, an option's refused value, a bad
 * config file or environment variable). */
int cir_cli_parse(const cir_cli_t *cli, int argc, char **argv, void *cfg,
                  FILE *out, char *err, size_t errsize);

/* The text of --help. */
void cir_cli_usage(const cir_cli_t *cli, FILE *f);

/* "<program>: <err>" and where to find the usage, for stderr. */
void cir_cli_report(const cir_cli_t *cli, const char *err, FILE *f);

#endif
