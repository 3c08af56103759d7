/*
 * Option tables (cir_options.h): defaults, values set by name with their
 * bounds checked, from JSON config files (flat or in sections).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_json.h"
#include "cir_options.h"

const cir_option_t *
cir_options_find(const cir_options_t *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->opts[i].name, name) == 0) {
            return &t->opts[i];
        }
    }
    return NULL;
}

/* A JSON option from text: "" (none) or an object, stored compact. */
static int
set_json_text(char *field, const cir_option_t *o, const char *v, char *err,
              size_t errsize)
{
    json_error_t jerr;
    json_t *j;
    char *text;
    int ret = 0;

    v += strspn(v, " \t\r\n");
    if (*v == '\0') {
        field[0] = '\0';
        return 0;
    }
    j = json_loads(v, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        snprintf(err, errsize, "%s: not a JSON object%s%s", o->name,
                 j == NULL ? ": " : "", j == NULL ? jerr.text : "");
        json_decref(j);
        return CIR_EINVAL;
    }
    text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (text == NULL) {
        snprintf(err, errsize, "%s: out of memory", o->name);
        return CIR_ENOMEM;
    }
    if (strlen(text) >= o->size) {
        snprintf(err, errsize, "%s: longer than %zu bytes (compact)", o->name,
                 o->size - 1);
        ret = CIR_EINVAL;
    } else {
        memcpy(field, text, strlen(text) + 1);
    }
    free(text);
    return ret;
}

static int
set_text(void *cfg, const cir_option_t *o, const char *v, char *err,
         size_t errsize)
{
    char *field = (char *)cfg + o->offset, *end;
    double d;

    if (o->type == CIR_OPT_JSON) {
        return set_json_text(field, o, v, err, errsize);
    }
    if (o->type == CIR_OPT_STRING) {
        if (strlen(v) >= o->size) {
            snprintf(err, errsize, "%s: longer than %zu bytes", o->name,
                     o->size - 1);
            return CIR_EINVAL;
        }
        memcpy(field, v, strlen(v) + 1);
        return 0;
    }
    errno = 0;
    d = strtod(v, &end);
    while (*end != '\0' && isspace((unsigned char)*end)) {
        end++;
    }
    if (errno != 0 || end == v || *end != '\0' || !isfinite(d)) {
        snprintf(err, errsize, "%s: not a number: \"%s\"", o->name, v);
        return CIR_EINVAL;
    }
    if (d < o->min || d > o->max) {
        snprintf(err, errsize, "%s: %g is outside [%g, %g]", o->name, d, o->min,
                 o->max);
        return CIR_EINVAL;
    }
    if (o->type == CIR_OPT_INT) {
        if (d != floor(d)) {
            snprintf(err, errsize, "%s: not an integer", o->name);
            return CIR_EINVAL;
        }
        int64_t i = (int64_t)d;
        memcpy(field, &i, sizeof(i));
    } else {
        memcpy(field, &d, sizeof(d));
    }
    return 0;
}

void
cir_options_defaults(const cir_options_t *t, void *cfg, size_t cfg_size)
{
    char err[128];

    memset(cfg, 0, cfg_size);
    for (size_t i = 0; i < t->count; i++) {
        (void)set_text(cfg, &t->opts[i], t->opts[i].def, err, sizeof(err));
    }
}

int
cir_options_set(const cir_options_t *t, void *cfg, const char *name,
                const char *value, char *err, size_t errsize)
{
    const cir_option_t *o = cir_options_find(t, name);

    if (o == NULL) {
        snprintf(err, errsize, "unknown option \"%s\"", name);
        return CIR_EINVAL;
    }
    return set_text(cfg, o, value, err, errsize);
}

/* A JSON option from a config file's member: an object, or a string of
 * JSON text. */
static int
set_json(void *cfg, const cir_option_t *o, const json_t *v, char *err,
         size_t errsize)
{
    char *text;
    int ret;

    if (json_is_string(v)) {
        return set_text(cfg, o, json_string_value(v), err, errsize);
    }
    if (!json_is_object(v)) {
        snprintf(err, errsize, "%s: expected an object", o->name);
        return CIR_EINVAL;
    }
    text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        snprintf(err, errsize, "%s: out of memory", o->name);
        return CIR_ENOMEM;
    }
    ret = set_text(cfg, o, text, err, errsize);
    free(text);
    return ret;
}

int
cir_options_apply_json(const cir_options_t *t, void *cfg, const json_t *obj,
                       char *err, size_t errsize)
{
    const char *name;
    json_t *v;
    char text[64];
    int ret;

    if (!json_is_object(obj)) {
        snprintf(err, errsize, "the configuration must be a JSON object");
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)obj, name, v)
    {
        const cir_option_t *o = cir_options_find(t, name);
        if (o == NULL) {
            snprintf(err, errsize, "unknown option \"%s\"", name);
            return CIR_EINVAL;
        }
        if (o->type == CIR_OPT_JSON) {
            ret = set_json(cfg, o, v, err, errsize);
        } else if (o->type == CIR_OPT_STRING) {
            if (!json_is_string(v)) {
                snprintf(err, errsize, "%s: expected a string", name);
                return CIR_EINVAL;
            }
            ret = set_text(cfg, o, json_string_value(v), err, errsize);
        } else if (json_is_number(v)) {
            snprintf(text, sizeof(text), "%.17g", json_number_value(v));
            ret = set_text(cfg, o, text, err, errsize);
        } else if (json_is_boolean(v)) {
            ret = set_text(cfg, o, json_is_true(v) ? "1" : "0", err, errsize);
        } else {
            snprintf(err, errsize, "%s: expected a number", name);
            return CIR_EINVAL;
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* 1 when any member of root is an object that is not an option of t's
 * (CIR_OPT_JSON): a file of sections. */
static int
is_sectioned(const cir_options_t *t, const json_t *root)
{
    const char *name;
    json_t *v;

    json_object_foreach((json_t *)root, name, v)
    {
        const cir_option_t *o = cir_options_find(t, name);
        if (json_is_object(v) && (o == NULL || o->type != CIR_OPT_JSON)) {
            return 1;
        }
    }
    return 0;
}

int
cir_options_apply_config(const cir_options_t *t, void *cfg, const json_t *root,
                         const char *section, char *err, size_t errsize)
{
    const char *name;
    json_t *v, *mine = NULL;
    char oerr[256];
    int ret;

    if (!json_is_object(root)) {
        snprintf(err, errsize, "the configuration must be a JSON object");
        return CIR_EINVAL;
    }
    if (!is_sectioned(t, root)) {
        return cir_options_apply_json(t, cfg, root, err, errsize);
    }
    json_object_foreach((json_t *)root, name, v)
    {
        if (!json_is_object(v)) {
            snprintf(err, errsize,
                     "%s: options of a file with sections go inside a "
                     "section (\"ingest\", \"worker\")",
                     name);
            return CIR_EINVAL;
        }
        if (section != NULL && strcmp(name, section) == 0) {
            mine = v;
        }
    }
    if (section == NULL) {
        snprintf(err, errsize, "sections are not accepted here");
        return CIR_EINVAL;
    }
    if (mine == NULL) {
        return 0;
    }
    ret = cir_options_apply_json(t, cfg, mine, oerr, sizeof(oerr));
    if (ret < 0) {
        snprintf(err, errsize, "%s: %s", section, oerr);
    }
    return ret;
}

int
cir_options_load_section(const cir_options_t *t, void *cfg, const char *path,
                         const char *section, char *err, size_t errsize)
{
    json_t *j = NULL;
    char jerr[256], oerr[384];
    int ret;

    ret = cir_json_load_file(path, 1 << 20, &j, jerr, sizeof(jerr));
    if (ret < 0) {
        snprintf(err, errsize, "%s: %s", path, jerr);
        return ret;
    }
    ret = cir_options_apply_config(t, cfg, j, section, oerr, sizeof(oerr));
    if (ret < 0) {
        snprintf(err, errsize, "%s: %s", path, oerr);
    }
    json_decref(j);
    return ret;
}

int
cir_options_apply_env(const cir_options_t *t, void *cfg, char *err,
                      size_t errsize)
{
    size_t skip = strlen(t->env_prefix);
    char var[128], oerr[384];
    const char *v;
    int ret;

    for (size_t i = 0; i < t->count; i++) {
        size_t n = (size_t)snprintf(var, sizeof(var), "%s%s", t->env_prefix,
                                    t->opts[i].name);
        for (size_t k = skip; k < n && k < sizeof(var); k++) {
            var[k] = (char)toupper((unsigned char)var[k]);
        }
        v = getenv(var);
        if (v != NULL &&
            (ret = set_text(cfg, &t->opts[i], v, oerr, sizeof(oerr))) < 0) {
            /* the variable, as the user wrote it */
            snprintf(err, errsize, "%s: %s", var, oerr);
            return ret;
        }
    }
    return 0;
}

void
cir_options_print_wrapped(FILE *f, int indent, const char *text)
{
    int col = indent;

    while (*text != '\0') {
        int len = (int)strcspn(text, " ");

        if (col > indent && col + 1 + len > CIR_OPTIONS_WRAP) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", len, text);
        col += len;
        text += len;
        text += strspn(text, " ");
    }
    fputc('\n', f);
}

void
cir_options_print_one(const cir_option_t *o, FILE *f)
{
    char help[1024];

    snprintf(help, sizeof(help), "%s (default \"%s\")", o->help, o->def);
    if (strlen(o->name) > 22) {
        fprintf(f, "  %s\n%25s", o->name, "");
    } else {
        fprintf(f, "  %-22s ", o->name);
    }
    cir_options_print_wrapped(f, 25, help);
}

void
cir_options_print(const cir_options_t *t, FILE *f)
{
    for (size_t i = 0; i < t->count; i++) {
        cir_options_print_one(&t->opts[i], f);
    }
}

/* A bound as the documentation shows it: integers in full, others %g. */
static void
print_number(FILE *f, double d)
{
    if (d == floor(d) && fabs(d) < 1e18) {
        fprintf(f, "%.0f", d);
    } else {
        fprintf(f, "%g", d);
    }
}

/* Table cells: '|' would end the cell, a newline the row. */
static void
print_cell(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|') {
            fputs("\\|", f);
        } else if (*s == '\n') {
            fputc(' ', f);
        } else {
            fputc(*s, f);
        }
    }
}

void
cir_options_print_markdown(const cir_options_t *t, FILE *f)
{
    fputs("| option | environment | default | limits | description |\n"
          "|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < t->count; i++) {
        const cir_option_t *o = &t->opts[i];

        fprintf(f, "| `%s` | `%s", o->name, t->env_prefix);
        for (const char *c = o->name; *c != '\0'; c++) {
            fputc(toupper((unsigned char)*c), f);
        }
        fputs("` | ", f);
        if (o->type == CIR_OPT_STRING || o->type == CIR_OPT_JSON) {
            fputs("`\"", f);
            print_cell(f, o->def);
            fputs("\"` | ", f);
            fprintf(f, "%s, at most %zu bytes",
                    o->type == CIR_OPT_JSON ? "JSON object" : "string",
                    o->size - 1);
        } else {
            fputc('`', f);
            print_cell(f, o->def);
            fputs("` | ", f);
            fputs(o->type == CIR_OPT_INT ? "integer " : "number ", f);
            print_number(f, o->min);
            fputs(" .. ", f);
            print_number(f, o->max);
        }
        fputs(" | ", f);
        print_cell(f, o->help);
        fputs(" |\n", f);
    }
}
