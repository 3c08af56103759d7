/*
 * Ladder presets: parsing, checks across fields and loading, driven by one
 * option table (preset_options.c).
 *
 * Every field of cir_preset_t appears once in `preset_options` with its JSON
 * path, type, default, bounds and help text; arrays (video.rungs,
 * images.widths) carry a table of their own for one element.  The same
 * tables give the defaults, drive parsing and bounds checks, and print the
 * help, so a new field is one line there.  Checks that relate several
 * fields live in validate().
 *
 * Nothing here knows a codec: the codec, the encoder's speed preset, a
 * rung's profile and level are names checked only for their shape, and the
 * audio sample rate only for its range.  The transcoder, where the codecs
 * live, resolves and checks them (transcoder/include/cir_preset_codecs.h).
 *
 * Tested by tests/unit/test_common_preset.c (a job's rung overrides too).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_json.h"
#include "cir_preset.h"
#include "cir_storage.h"
#include "preset_names.h"
#include "preset_options.h"

#ifndef CIRRUS_PRESETS_DEFAULT /* set by the build: the source tree's */
#define CIRRUS_PRESETS_DEFAULT "/usr/share/cirrus/presets"
#endif

/* ---- helpers ---- */

static int seterr(char *err, size_t errsize, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
seterr(char *err, size_t errsize, int ret, const char *fmt, ...)
{
    va_list ap;

    if (err && errsize) {
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
    return ret;
}

/* Outside text shown in a message: printable ASCII only, bounded. */
static void
sanitize(const char *in, char *out, size_t size)
{
    size_t i = 0;

    for (; *in && i + 4 < size; in++) {
        unsigned char c = (unsigned char)*in;
        out[i++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    if (*in && i + 3 < size) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static const char *
type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static void
apply_defaults(const opt_t *table, size_t n, char *base)
{
    for (size_t i = 0; i < n; i++) {
        const opt_t *o = &table[i];
        char *at = base + o->offset;
        int iv = (int)o->def;

        switch (o->type) {
        case OPT_INT:
        case OPT_BOOL:
            memcpy(at, &iv, sizeof(iv));
            break;
        case OPT_DOUBLE:
            memcpy(at, &o->def, sizeof(double));
            break;
        case OPT_STRING:
            snprintf(at, o->size, "%s", o->def_str ? o->def_str : "");
            break;
        case OPT_ARRAY:
            iv = 0;
            memcpy(base + o->count_offset, &iv, sizeof(iv));
            memset(at, 0, (size_t)o->max * o->elem_size);
            break;
        }
    }
}

/* ---- parsing ---- */

static int parse_value(const opt_t *o, const json_t *v, char *base,
                       const char *path, char *err, size_t errsize);
static int parse_object(const opt_t *table, size_t n, const json_t *obj,
                        char *base, const char *shown, const char *rel,
                        unsigned char *seen, char *err, size_t errsize);

static int
check_range(const opt_t *o, double x, const char *path, char *err,
            size_t errsize)
{
    if ((o->flags & F_ZERO_OK) && x == 0) {
        return 0;
    }
    if (x < o->min) {
        return seterr(err, errsize, CIR_EINVAL,
                      "%s: %.15g is below the minimum %.15g%s", path, x, o->min,
                      (o->flags & F_ZERO_OK) ? " (0: automatic)" : "");
    }
    if (x > o->max) {
        return seterr(err, errsize, CIR_EINVAL,
                      "%s: %.15g is above the maximum %.15g", path, x, o->max);
    }
    return 0;
}

static int
parse_string(const opt_t *o, const json_t *v, char *at, const char *path,
             char *err, size_t errsize)
{
    char shown[64];
    const char *s = json_string_value(v), *why;
    size_t len = json_string_length(v);

    sanitize(s, shown, sizeof(shown));
    if (strlen(s) != len) {
        return seterr(err, errsize, CIR_EINVAL, "%s: contains a NUL byte",
                      path);
    }
    if (len >= o->size) {
        return seterr(err, errsize, CIR_EINVAL,
                      "%s: \"%s\" is longer than %zu characters", path, shown,
                      o->size - 1);
    }
    if (o->check && (why = o->check(s)) != NULL) {
        return seterr(err, errsize, CIR_EINVAL, "%s: \"%s\" %s", path, shown,
                      why);
    }
    memcpy(at, s, len + 1);
    return 0;
}

static int
parse_array(const opt_t *o, const json_t *v, char *base, const char *path,
            char *err, size_t errsize)
{
    char elem_path[256];
    unsigned char seen[16]; /* one per element option */
    size_t count = json_array_size(v), i;
    const json_t *item;
    int ret, nb;

    if (o->nb_elem > sizeof(seen)) {
        return CIR_EINTERNAL;
    }
    if (count > (size_t)o->max) {
        return seterr(err, errsize, CIR_EINVAL,
                      "%s: %zu entries, more than the maximum %.0f", path,
                      count, o->max);
    }
    json_array_foreach(v, i, item)
    {
        char *at = base + o->offset + i * o->elem_size;

        snprintf(elem_path, sizeof(elem_path), "%s[%zu]", path, i);
        if (o->elem[0].path[0] == '\0') {
            /* an array of scalars: the element table is the element */
            if ((ret = parse_value(&o->elem[0], item, at, elem_path, err,
                                   errsize)) < 0) {
                return ret;
            }
            continue;
        }
        if (!json_is_object(item)) {
            return seterr(err, errsize, CIR_EINVAL,
                          "%s: expected an object, got %s", elem_path,
                          type_name(item));
        }
        memset(seen, 0, sizeof(seen));
        apply_defaults(o->elem, o->nb_elem, at);
        if ((ret = parse_object(o->elem, o->nb_elem, item, at, elem_path, "",
                                seen, err, errsize)) < 0) {
            return ret;
        }
        for (size_t k = 0; k < o->nb_elem; k++) {
            if ((o->elem[k].flags & F_REQUIRED) && !seen[k]) {
                return seterr(err, errsize, CIR_EINVAL, "%s.%s: required",
                              elem_path, o->elem[k].path);
            }
        }
    }
    nb = (int)count;
    memcpy(base + o->count_offset, &nb, sizeof(nb));
    return 0;
}

static int
parse_value(const opt_t *o, const json_t *v, char *base, const char *path,
            char *err, size_t errsize)
{
    char *at = base + o->offset;
    int ret, iv;
    double d;

    switch (o->type) {
    case OPT_INT:
        if (!json_is_integer(v)) {
            return seterr(err, errsize, CIR_EINVAL,
                          "%s: expected an integer, got %s", path,
                          type_name(v));
        }
        d = (double)json_integer_value(v);
        if ((ret = check_range(o, d, path, err, errsize)) < 0) {
            return ret;
        }
        iv = (int)json_integer_value(v);
        memcpy(at, &iv, sizeof(iv));
        return 0;
    case OPT_DOUBLE:
        if (!json_is_number(v)) {
            return seterr(err, errsize, CIR_EINVAL,
                          "%s: expected a number, got %s", path, type_name(v));
        }
        d = json_number_value(v);
        if ((ret = check_range(o, d, path, err, errsize)) < 0) {
            return ret;
        }
        memcpy(at, &d, sizeof(d));
        return 0;
    case OPT_BOOL:
        if (!json_is_boolean(v)) {
            return seterr(err, errsize, CIR_EINVAL,
                          "%s: expected true or false, got %s", path,
                          type_name(v));
        }
        iv = json_is_true(v);
        memcpy(at, &iv, sizeof(iv));
        return 0;
    case OPT_STRING:
        if (!json_is_string(v)) {
            return seterr(err, errsize, CIR_EINVAL,
                          "%s: expected a string, got %s", path, type_name(v));
        }
        return parse_string(o, v, at, path, err, errsize);
    case OPT_ARRAY:
        if (!json_is_array(v)) {
            return seterr(err, errsize, CIR_EINVAL,
                          "%s: expected an array, got %s", path, type_name(v));
        }
        return parse_array(o, v, base, path, err, errsize);
    }
    return CIR_EINTERNAL;
}

/* Is rel a prefix of some option path, i.e. an object holding options? */
static int
is_group(const opt_t *table, size_t n, const char *rel)
{
    size_t len = strlen(rel);

    for (size_t i = 0; i < n; i++) {
        if (strncmp(table[i].path, rel, len) == 0 &&
            table[i].path[len] == '.') {
            return 1;
        }
    }
    return 0;
}

/*
 * Parses the members of obj against table.  rel is the path of obj inside
 * the table ("" at the table's root, "video" inside it); shown is what
 * messages call the table's root ("" at the top, "video.rungs[2]").
 */
static int
parse_object(const opt_t *table, size_t n, const json_t *obj, char *base,
             const char *shown, const char *rel, unsigned char *seen, char *err,
             size_t errsize)
{
    char key_shown[80], sub[128], path[256];
    const char *key;
    json_t *v;
    int ret;

    json_object_foreach((json_t *)obj, key, v)
    {
        const opt_t *o = NULL;
        int w;

        sanitize(key, key_shown, sizeof(key_shown));
        w = snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "." : "", key);
        /* rel is made of keys that matched the table: safe to show */
        snprintf(path, sizeof(path), "%s%s%s%s%s", shown, shown[0] ? "." : "",
                 rel, rel[0] ? "." : "", key_shown);
        /* a '.' in a key must not reach a nested option */
        if (strchr(key, '.') == NULL && w > 0 && (size_t)w < sizeof(sub)) {
            for (size_t i = 0; i < n; i++) {
                if (strcmp(table[i].path, sub) == 0) {
                    o = &table[i];
                    if (seen) {
                        seen[i] = 1;
                    }
                    break;
                }
            }
            if (o == NULL && is_group(table, n, sub)) {
                if (!json_is_object(v)) {
                    return seterr(err, errsize, CIR_EINVAL,
                                  "%s: expected an object, got %s", path,
                                  type_name(v));
                }
                if ((ret = parse_object(table, n, v, base, shown, sub, seen,
                                        err, errsize)) < 0) {
                    return ret;
                }
                continue;
            }
        }
        if (o == NULL) {
            return seterr(err, errsize, CIR_EINVAL, "%s: unknown field", path);
        }
        if ((ret = parse_value(o, v, base, path, err, errsize)) < 0) {
            return ret;
        }
    }
    return 0;
}

/* ---- checks across fields ---- */

static int
validate(const cir_preset_t *p, char *err, size_t errsize)
{
    double ratio;

    if (!p->video_enabled && !p->audio_enabled && !p->thumbs_enabled &&
        !p->images_enabled) {
        return seterr(err, errsize, CIR_EINVAL,
                      "video.enabled, audio.enabled, thumbnails.enabled, "
                      "images.enabled: all false, the preset produces "
                      "nothing");
    }
    if (p->video_enabled && p->nb_rungs < 1) {
        return seterr(err, errsize, CIR_EINVAL,
                      "video.rungs: at least one rung is needed when video "
                      "is enabled");
    }
    for (int i = 0; i < p->nb_rungs; i++) {
        const cir_rung_t *r = &p->rungs[i];

        for (int j = 0; j < i; j++) {
            if (strcmp(p->rungs[j].name, r->name) == 0) {
                return seterr(err, errsize, CIR_EINVAL,
                              "video.rungs[%d].name: \"%s\" is already used "
                              "by video.rungs[%d]",
                              i, r->name, j);
            }
        }
        if (r->height % 2) {
            return seterr(err, errsize, CIR_EINVAL,
                          "video.rungs[%d].height: %d is not even", i,
                          r->height);
        }
        if (r->width % 2) {
            return seterr(err, errsize, CIR_EINVAL,
                          "video.rungs[%d].width: %d is not even", i, r->width);
        }
        if (r->maxrate_kbps && r->maxrate_kbps < r->bitrate_kbps) {
            return seterr(err, errsize, CIR_EINVAL,
                          "video.rungs[%d].maxrate_kbps: %d is below "
                          "bitrate_kbps %d",
                          i, r->maxrate_kbps, r->bitrate_kbps);
        }
    }
    if (p->video_enabled) {
        ratio = p->segment_seconds / p->gop_seconds;
        if (fabs(ratio - round(ratio)) > 1e-6) {
            return seterr(err, errsize, CIR_EINVAL,
                          "segment_seconds: must be a whole multiple of "
                          "video.gop_seconds (%g is not a multiple of %g)",
                          p->segment_seconds, p->gop_seconds);
        }
    }
    if (p->sprite_columns * p->sprite_rows > 400) {
        return seterr(err, errsize, CIR_EINVAL,
                      "thumbnails.sprite_columns: %d x %d tiles is more than "
                      "400 per sprite sheet",
                      p->sprite_columns, p->sprite_rows);
    }
    if (p->images_enabled && !p->image_jpeg && !p->image_webp) {
        return seterr(err, errsize, CIR_EINVAL,
                      "images.jpeg: at least one of images.jpeg and "
                      "images.webp must be true when images are enabled");
    }
    for (int i = 0; i < p->nb_image_widths; i++) {
        for (int j = 0; j < i; j++) {
            if (p->image_widths[j] == p->image_widths[i]) {
                return seterr(err, errsize, CIR_EINVAL,
                              "images.widths[%d]: %d is already "
                              "images.widths[%d]",
                              i, p->image_widths[i], j);
            }
        }
    }
    return 0;
}

/*
 * The audio options that relate: a surround rendition or loudness needs
 * audio; a loudness standard gives the target (an explicit target_lufs
 * must agree with it) and the true-peak ceiling unless one is given; a
 * true_peak_db with no target at all is a mistake, not silently ignored.
 * Writes the resolved target into p: target_lufs 0 means off.
 */
static int
resolve_audio(cir_preset_t *p, char *err, size_t errsize)
{
    double std_lufs = 0, std_tp = -1;
    int has_std = p->loudness_standard[0] != '\0';

    if (p->surround_enabled && !p->audio_enabled) {
        return seterr(err, errsize, CIR_EINVAL,
                      "audio.surround.enabled: true needs audio.enabled");
    }
    if (has_std && cir_preset_loudness_standard(p->loudness_standard, &std_lufs,
                                                &std_tp) < 0) {
        return CIR_EINTERNAL; /* checked by the option table */
    }
    if (has_std && p->loudness_target_lufs != 0 &&
        p->loudness_target_lufs != std_lufs) {
        return seterr(err, errsize, CIR_EINVAL,
                      "audio.loudness.target_lufs: %g differs from the %g "
                      "LUFS of audio.loudness.standard \"%s\": give one "
                      "of them",
                      p->loudness_target_lufs, std_lufs, p->loudness_standard);
    }
    if (!has_std && p->loudness_target_lufs == 0) {
        if (p->loudness_true_peak_db != 0) {
            return seterr(err, errsize, CIR_EINVAL,
                          "audio.loudness.true_peak_db: set without a "
                          "target (audio.loudness.standard or "
                          "audio.loudness.target_lufs)");
        }
        return 0; /* no normalisation */
    }
    if (!p->audio_enabled) {
        return seterr(err, errsize, CIR_EINVAL,
                      "audio.loudness: normalisation needs audio.enabled");
    }
    if (has_std) {
        p->loudness_target_lufs = std_lufs;
    }
    if (p->loudness_true_peak_db == 0) {
        p->loudness_true_peak_db = std_tp;
    }
    return 0;
}

/* ---- the API ---- */

int
cir_preset_loudness_standard(const char *name, double *target_lufs,
                             double *true_peak_db)
{
    static const struct {
        const char *name;
        double lufs, tp;
    } standards[] = {{"ebu_r128", -23, -1}, {"atsc_a85", -24, -2}};

    for (size_t i = 0; i < sizeof(standards) / sizeof(standards[0]); i++) {
        if (name != NULL && strcmp(name, standards[i].name) == 0) {
            if (target_lufs != NULL) {
                *target_lufs = standards[i].lufs;
            }
            if (true_peak_db != NULL) {
                *true_peak_db = standards[i].tp;
            }
            return 0;
        }
    }
    return CIR_EINVAL;
}

void
cir_preset_defaults(cir_preset_t *p)
{
    memset(p, 0, sizeof(*p));
    apply_defaults(preset_options, preset_nb_options, (char *)p);
}

static int
parse_root(const json_t *root, cir_preset_t *p, char *err, size_t errsize)
{
    cir_preset_t tmp;
    int ret;

    if (!json_is_object(root)) {
        return seterr(err, errsize, CIR_EINVAL,
                      "expected a JSON object at the top level, got %s",
                      type_name(root));
    }
    cir_preset_defaults(&tmp);
    if ((ret = parse_object(preset_options, preset_nb_options, root,
                            (char *)&tmp, "", "", NULL, err, errsize)) < 0) {
        return ret;
    }
    if ((ret = validate(&tmp, err, errsize)) < 0 ||
        (ret = resolve_audio(&tmp, err, errsize)) < 0) {
        return ret;
    }
    *p = tmp; /* p changes only when the whole document is good */
    return 0;
}

int
cir_preset_parse(const char *json, size_t len, cir_preset_t *p, char *err,
                 size_t errsize)
{
    json_t *root = NULL;
    int ret;

    if (p == NULL || (json == NULL && len > 0)) {
        return seterr(err, errsize, CIR_EINVAL, "invalid argument");
    }
    if ((ret = cir_json_parse(json, len, CIR_PRESET_MAX_SIZE, &root, err,
                              errsize)) < 0) {
        return ret;
    }
    ret = parse_root(root, p, err, errsize);
    json_decref(root);
    return ret;
}

int
cir_preset_load_file(const char *path, cir_preset_t *p, char *err,
                     size_t errsize)
{
    char msg[512];
    char *data = NULL;
    size_t len = 0;
    int ret;

    if (path == NULL || p == NULL) {
        return seterr(err, errsize, CIR_EINVAL, "invalid argument");
    }
    ret = cir_read_file(path, CIR_PRESET_MAX_SIZE, &data, &len);
    if (ret == CIR_ELIMIT) {
        return seterr(err, errsize, ret,
                      "%s: larger than the limit of %d bytes", path,
                      CIR_PRESET_MAX_SIZE);
    }
    if (ret < 0) {
        return seterr(err, errsize, ret, "%s: %s", path, cir_strerror(ret));
    }
    msg[0] = '\0';
    ret = cir_preset_parse(data, len, p, msg, sizeof(msg));
    free(data);
    if (ret < 0) {
        return seterr(err, errsize, ret, "%s: %s", path, msg);
    }
    return 0;
}

int
cir_preset_load(const char *dir, const char *name, cir_preset_t *p, char *err,
                size_t errsize)
{
    char path[4096], shown[80];
    cir_preset_t tmp;
    int n, ret;

    if (dir == NULL || name == NULL || p == NULL) {
        return seterr(err, errsize, CIR_EINVAL, "invalid argument");
    }
    /* the name comes from job documents: check it before any file access */
    if (!preset_name_matches(name, 63)) {
        sanitize(name, shown, sizeof(shown));
        return seterr(err, errsize, CIR_EINVAL,
                      "preset name \"%s\" is not valid: use 1 to 63 of "
                      "a-z 0-9 _ -",
                      shown);
    }
    n = snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return seterr(err, errsize, CIR_ELIMIT, "%s: path too long", name);
    }
    ret = cir_preset_load_file(path, &tmp, err, errsize);
    if (ret == -ENOENT) {
        char hint[600];
        cir_preset_suggest(dir, name, hint, sizeof(hint));
        return seterr(err, errsize, CIR_ENOTFOUND,
                      "no preset named \"%s\" (%s does not exist)%s", name,
                      path, hint);
    }
    if (ret < 0) {
        return ret;
    }
    if (tmp.name[0] == '\0') {
        snprintf(tmp.name, sizeof(tmp.name), "%s", name);
    } else if (strcmp(tmp.name, name) != 0) {
        return seterr(err, errsize, CIR_EINVAL,
                      "%s: name: \"%s\" does not match the file name \"%s\"",
                      path, tmp.name, name);
    }
    *p = tmp;
    return 0;
}

/* The element table of video.rungs in the option table. */
static const opt_t *
rung_table(size_t *n)
{
    for (size_t i = 0; i < preset_nb_options; i++) {
        if (strcmp(preset_options[i].path, "video.rungs") == 0) {
            *n = preset_options[i].nb_elem;
            return preset_options[i].elem;
        }
    }
    return NULL;
}

static int
find_rung(const cir_preset_t *p, const char *name)
{
    for (int i = 0; i < p->nb_rungs; i++) {
        if (strcmp(p->rungs[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* One member of a job's "rungs": null drops the rung, an object changes
 * its fields by the rung table's own rules (its name stays). */
static int
override_rung(cir_preset_t *p, const char *key, const json_t *v,
              unsigned char *drop, char *err, size_t errsize)
{
    const opt_t *table;
    char shown[80], where[96];
    size_t n = 0;
    int i;

    sanitize(key, shown, sizeof(shown));
    if ((i = find_rung(p, key)) < 0) {
        return seterr(err, errsize, CIR_EINVAL,
                      "rungs.%s: the preset has no rung of that name", shown);
    }
    if (json_is_null(v)) {
        drop[i] = 1;
        return 0;
    }
    if (!json_is_object(v)) {
        return seterr(err, errsize, CIR_EINVAL,
                      "rungs.%s: expected an object or null, got %s", shown,
                      type_name(v));
    }
    if (json_object_get(v, "name") != NULL) {
        return seterr(err, errsize, CIR_EINVAL,
                      "rungs.%s.name: a rung keeps its name", shown);
    }
    if ((table = rung_table(&n)) == NULL) {
        return CIR_EINTERNAL;
    }
    snprintf(where, sizeof(where), "rungs.%s", shown);
    return parse_object(table, n, v, (char *)&p->rungs[i], where, "", NULL, err,
                        errsize);
}

int
cir_preset_override_rungs(cir_preset_t *p, const json_t *rungs, char *err,
                          size_t errsize)
{
    unsigned char drop[CIR_PRESET_MAX_RUNGS] = {0};
    cir_preset_t tmp;
    const char *key;
    json_t *v;
    int ret, kept = 0;

    if (!json_is_object(rungs)) {
        return seterr(err, errsize, CIR_EINVAL,
                      "rungs: expected an object of rung names, got %s",
                      type_name(rungs));
    }
    tmp = *p;
    json_object_foreach((json_t *)rungs, key, v)
    {
        if ((ret = override_rung(&tmp, key, v, drop, err, errsize)) < 0) {
            return ret;
        }
    }
    for (int i = 0; i < tmp.nb_rungs; i++) {
        if (!drop[i]) {
            tmp.rungs[kept++] = tmp.rungs[i];
        }
    }
    tmp.nb_rungs = kept;
    if ((ret = validate(&tmp, err, errsize)) < 0) {
        return ret;
    }
    *p = tmp; /* p changes only when every override is good */
    return 0;
}

int
cir_only_add_word(const char *s, size_t len, unsigned *bits)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"hls", CIR_ONLY_HLS},
                 {"dash", CIR_ONLY_DASH},
                 {"thumbs", CIR_ONLY_THUMBS},
                 {"images", CIR_ONLY_IMAGES}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) == len &&
            memcmp(names[i].name, s, len) == 0) {
            *bits |= names[i].bit;
            return 0;
        }
    }
    return CIR_EINVAL;
}

int
cir_only_parse(const char *list, unsigned *bits)
{
    const char *p = list;

    *bits = 0;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (cir_only_add_word(p, len, bits) < 0) {
            *bits = 0;
            return CIR_EINVAL;
        }
        if (p[len] == '\0') {
            return 0;
        }
        p += len + 1;
    }
}

const char *
cir_preset_dir(const char *configured)
{
    const char *env;

    if (configured != NULL && configured[0] != '\0') {
        return configured;
    }
    env = getenv("CIRRUS_PRESETS_DIR");
    return env != NULL && env[0] != '\0' ? env : CIRRUS_PRESETS_DEFAULT;
}
