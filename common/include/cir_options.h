/*
 * Program options as one table: name, type, where in the config struct,
 * default, limits and help.  The same table sets defaults, reads a JSON
 * file, <PREFIX><NAME> environment variables and name=value pairs from the
 * command line, and prints the help and the reference documentation (a
 * markdown table), so a limit is written once.  cir_cli.h reads a
 * program's command line into it.
 *
 * One file can configure several daemons: a file whose top-level members
 * are objects is sectioned ({"ingest": {...}, "worker": {...}}) and each
 * daemon applies only its own section; a flat object of options is applied
 * as a whole.  An option of type CIR_OPT_JSON takes an object (in a file,
 * or as JSON text from the environment or --set): such a member is an
 * option, not a section; its owner validates what is inside.
 */
#ifndef CIR_OPTIONS_H
#define CIR_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

typedef enum {
    CIR_OPT_INT = 0, /* int64_t */
    CIR_OPT_DOUBLE,  /* double */
    CIR_OPT_STRING,  /* char[size] */
    CIR_OPT_JSON     /* char[size]: a JSON object, compact, or "" */
} cir_opt_type_t;

typedef struct {
    const char *name;
    cir_opt_type_t type;
    size_t offset;
    size_t size; /* strings */
    const char *def;
    double min, max; /* numbers */
    const char *help;
} cir_option_t;

typedef struct {
    const cir_option_t *opts;
    size_t count;
    const char *env_prefix; /* "CIRRUS_INGEST_" */
} cir_options_t;

/* Helpers for the table: CIR_OPT_S(type, field) etc. */
#define CIR_OPT_S(T, f) CIR_OPT_STRING, offsetof(T, f), sizeof(((T *)0)->f)
#define CIR_OPT_I(T, f) CIR_OPT_INT, offsetof(T, f), 0
#define CIR_OPT_D(T, f) CIR_OPT_DOUBLE, offsetof(T, f), 0
#define CIR_OPT_J(T, f) CIR_OPT_JSON, offsetof(T, f), sizeof(((T *)0)->f)

/* Zeroes cfg (of the table's struct) and applies every default. */
void cir_options_defaults(const cir_options_t *t, void *cfg, size_t cfg_size);
/* One option from text; errors name the option and the bound. */
int cir_options_set(const cir_options_t *t, void *cfg, const char *name,
                    const char *value, char *err, size_t errsize);
/* A JSON object of options (numbers, booleans, strings; unknown keys are
 * errors). */
int cir_options_apply_json(const cir_options_t *t, void *cfg, const json_t *obj,
                           char *err, size_t errsize);
/* A configuration document: flat (the object's members are options) or
 * sectioned (any member is an object: the object named section is applied,
 * other sections are left to their daemons, a scalar beside sections is an
 * error).  A sectioned document without that section changes nothing.
 * section NULL: the document must be flat. */
int cir_options_apply_config(const cir_options_t *t, void *cfg,
                             const json_t *root, const char *section, char *err,
                             size_t errsize);
/* cir_options_apply_config() on a file of at most 1 MiB: a daemon's own
 * flat file or the shared sectioned one (samples/cirrus.json). */
int cir_options_load_section(const cir_options_t *t, void *cfg,
                             const char *path, const char *section, char *err,
                             size_t errsize);
/* <env_prefix><NAME> variables (name upper-cased); an error names the
 * variable. */
int cir_options_apply_env(const cir_options_t *t, void *cfg, char *err,
                          size_t errsize);
/* The option called name, or NULL. */
const cir_option_t *cir_options_find(const cir_options_t *t, const char *name);
/* "  name   help (default "x")" lines, wrapped: every option's, or one's. */
void cir_options_print(const cir_options_t *t, FILE *f);
void cir_options_print_one(const cir_option_t *o, FILE *f);
/* text from column indent (where the caller stands), words wrapped before
 * column CIR_OPTIONS_WRAP to indent; a newline at the end. */
#define CIR_OPTIONS_WRAP 79
void cir_options_print_wrapped(FILE *f, int indent, const char *text);
/* The reference table in markdown: option, environment variable, default,
 * limits, description (docs/configuration.md is made of these). */
void cir_options_print_markdown(const cir_options_t *t, FILE *f);

#endif
