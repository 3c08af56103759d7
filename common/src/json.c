/*
 * JSON through jansson (cir_json.h): parsing with a size and nesting limit
 * and messages that say where, bounded file reads, atomic file writes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_json.h"
#include "cir_storage.h"

static void seterr(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errsize == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}

/*
 * The nesting depth of v: a scalar is 0, [] or {} is 1.  Stops descending
 * once past limit, so the walk itself stays shallow.
 */
static int
depth_exceeds(const json_t *v, int depth, int limit)
{
    size_t i;
    const char *key;
    json_t *child;

    if (!json_is_object(v) && !json_is_array(v)) {
        return 0;
    }
    if (depth + 1 > limit) {
        return 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if (depth_exceeds(child, depth + 1, limit)) {
                return 1;
            }
        }
    } else {
        json_object_foreach((json_t *)v, key, child)
        {
            if (depth_exceeds(child, depth + 1, limit)) {
                return 1;
            }
        }
    }
    return 0;
}

int
cir_json_parse(const char *text, size_t len, size_t max, json_t **out,
               char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *v;

    if (out == NULL || (text == NULL && len > 0)) {
        seterr(err, errsize, "invalid argument");
        return CIR_EINVAL;
    }
    *out = NULL;
    if (len > max) {
        seterr(err, errsize, "document is %zu bytes, over the limit of %zu",
               len, max);
        return CIR_ELIMIT;
    }
    v = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        seterr(err, errsize, "line %d column %d: %s", jerr.line, jerr.column,
               jerr.text);
        /* jansson's own depth guard (2048) is a limit too */
        return json_error_code(&jerr) == json_error_stack_overflow ? CIR_ELIMIT
                                                                   : CIR_EPARSE;
    }
    if (depth_exceeds(v, 0, CIR_JSON_MAX_DEPTH)) {
        json_decref(v);
        seterr(err, errsize, "nesting deeper than %d levels",
               CIR_JSON_MAX_DEPTH);
        return CIR_ELIMIT;
    }
    *out = v;
    return 0;
}

int
cir_json_load_file(const char *path, size_t max, json_t **out, char *err,
                   size_t errsize)
{
    char *data = NULL;
    size_t len = 0;
    int ret;

    if (out == NULL || path == NULL) {
        seterr(err, errsize, "invalid argument");
        return CIR_EINVAL;
    }
    *out = NULL;
    ret = cir_read_file(path, max, &data, &len);
    if (ret == CIR_ELIMIT) {
        seterr(err, errsize, "%s: larger than the limit of %zu bytes", path,
               max);
        return ret;
    }
    if (ret < 0) {
        seterr(err, errsize, "%s: %s", path, cir_strerror(ret));
        return ret;
    }
    ret = cir_json_parse(data, len, max, out, err, errsize);
    free(data);
    return ret;
}

int
cir_json_write_file(const char *path, const json_t *value)
{
    char *s;
    size_t n;
    int ret;

    if (path == NULL || value == NULL) {
        return CIR_EINVAL;
    }
    s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        return CIR_ENOMEM;
    }
    n = strlen(s);
    /* end with a newline: these files are read by people and tools too */
    char *line = realloc(s, n + 2);
    if (line == NULL) {
        free(s);
        return CIR_ENOMEM;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    ret = cir_write_file_atomic(path, line, n + 1);
    free(line);
    return ret;
}
