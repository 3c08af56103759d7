/*
 * A job's "clip": see cir_clip.h.
 *
 * Tested by tests/unit/test_common_clip.c.
 */
#include "cir_clip.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"

/* "[[hh:]mm:]ss[.fff]" into *out: 0, or -1 when it is not one. */
static int
parse_clock(const char *s, double *out)
{
    double parts[3] = {0};
    int n = 0;
    char *end;

    if (s[strspn(s, "0123456789:.")] != '\0') {
        return -1;
    }
    for (;;) {
        const char *dot = strchr(s, '.');
        if (!isdigit((unsigned char)*s) || n == 3) {
            return -1;
        }
        parts[n++] = strtod(s, &end);
        if (*end == '\0') {
            break;
        }
        if (*end != ':' || (dot != NULL && dot < end)) {
            return -1; /* only the seconds have a fraction */
        }
        s = end + 1;
    }
    for (int i = 0; i + 1 < n; i++) {
        if (parts[i + 1] >= 60) {
            return -1;
        }
    }
    *out = n == 3   ? parts[0] * 3600 + parts[1] * 60 + parts[2]
           : n == 2 ? parts[0] * 60 + parts[1]
                    : parts[0];
    return 0;
}

/* A clip bound: seconds as a number, or "[[hh:]mm:]ss[.fff]". */
static int
parse_seconds(const json_t *v, const char *what, double *out, char *err,
              size_t errsize)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (!json_is_string(v) || json_string_length(v) >= 32 ||
               parse_clock(json_string_value(v), out) < 0) {
        snprintf(err, errsize,
                 "%s: expected seconds (a number) or \"hh:mm:ss.mmm\"", what);
        return CIR_EINVAL;
    }
    if (!isfinite(*out) || *out < 0 || *out > 1e7) {
        snprintf(err, errsize, "%s: %g is not a time from 0 to 10000000 s",
                 what, *out);
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_clip_parse(const json_t *v, cir_clip_t *out, char *err, size_t errsize)
{
    const char *name;
    json_t *fv;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(v)) {
        snprintf(err, errsize, "clip: expected an object with start, end");
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)v, name, fv)
    {
        double *dst = strcmp(name, "start") == 0 ? &out->start
                      : strcmp(name, "end") == 0 ? &out->end
                                                 : NULL;
        char what[16];
        if (dst == NULL) {
            snprintf(err, errsize, "clip: unknown field \"%.64s\"", name);
            return CIR_EINVAL;
        }
        snprintf(what, sizeof(what), "clip.%s", name);
        if ((ret = parse_seconds(fv, what, dst, err, errsize)) < 0) {
            return ret;
        }
    }
    if (json_object_get(v, "end") != NULL && out->end <= out->start) {
        snprintf(err, errsize, "clip.end: %g is not after clip.start %g",
                 out->end, out->start);
        return CIR_EINVAL;
    }
    out->enabled = 1;
    return 0;
}

json_t *
cir_clip_to_json(const cir_clip_t *c)
{
    json_t *j;

    if (c == NULL || !c->enabled || (j = json_object()) == NULL) {
        return NULL;
    }
    /* jansson writes doubles with 17 digits: read back exactly */
    json_object_set_new(j, "start", json_real(c->start));
    if (c->end > 0) {
        json_object_set_new(j, "end", json_real(c->end));
    }
    return j;
}
