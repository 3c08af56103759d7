#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_json.h"
#include "cir_options.h"

static const cir_option_t *
find(const cir_options_t *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->opts[i].name, name) == 0) {
            return &t->opts[i];
        }
    }
    return NULL;
}

static int
set_text(void *cfg, const cir_option_t *o, const char *v, char *err,
         size_t errsize)
{
    char *field = (char *)cfg + o->offset, *end;
    double d;

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
    const cir_option_t *o = find(t, name);

    if (o == NULL) {
        snprintf(err, errsize, "unknown option \"%s\"", name);
        return CIR_EINVAL;
    }
    return set_text(cfg, o, value, err, errsize);
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
        const cir_option_t *o = find(t, name);
        if (o == NULL) {
            snprintf(err, errsize, "unknown option \"%s\"", name);
            return CIR_EINVAL;
        }
        if (o->type == CIR_OPT_STRING) {
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

int
cir_options_load_file(const cir_options_t *t, void *cfg, const char *path,
                      char *err, size_t errsize)
{
    json_t *j = NULL;
    char jerr[256], oerr[256];
    int ret;

    ret = cir_json_load_file(path, 1 << 20, &j, jerr, sizeof(jerr));
    if (ret < 0) {
        snprintf(err, errsize, "%s: %s", path, jerr);
        return ret;
    }
    ret = cir_options_apply_json(t, cfg, j, oerr, sizeof(oerr));
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
    char var[128];
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
            (ret = set_text(cfg, &t->opts[i], v, err, errsize)) < 0) {
            return ret;
        }
    }
    return 0;
}

void
cir_options_print(const cir_options_t *t, FILE *f)
{
    for (size_t i = 0; i < t->count; i++) {
        fprintf(f, "  %-22s %s (default \"%s\")\n", t->opts[i].name,
                t->opts[i].help, t->opts[i].def);
    }
}
