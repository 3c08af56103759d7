/*
 * A job's "subtitles" field.  See cir_subtitle_spec.h.
 * Tested by tests/unit/test_common_subtitle_spec.c.
 */
#include "cir_subtitle_spec.h"
#include "cir_storage.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cir_error.h"
#include "cir_json.h"

#define SPEC_TEXT_MAX (64 * 1024)

static const char *const kind_names[] = {"subtitles", "captions", "forced"};

const char *
cir_subtitle_kind_name(cir_subtitle_kind_t kind)
{
    return (unsigned)kind < 3 ? kind_names[kind] : "subtitles";
}

/* BCP 47's shape, as players match it: a primary language of 2 or 3
 * letters (ISO 639), then subtags of 1 to 8 letters and digits ("pt-BR",
 * "zh-Hant", "es-419"). */
static int
language_ok(const char *s, size_t n)
{
    size_t i = 0, start;

    if (n == 0 || n >= CIR_SUBTITLE_LANG_MAX || strlen(s) != n) {
        return 0;
    }
    while (i < n && isalpha((unsigned char)s[i])) {
        i++;
    }
    if (i < 2 || i > 3 || (i < n && s[i] != '-')) {
        return 0;
    }
    for (start = ++i; i <= n; i++) {
        if (i == n || s[i] == '-') {
            if (i - start == 0 || i - start > 8) {
                return 0;
            }
            start = i + 1;
        } else if (!isalnum((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* What a player lists: printable, and nothing that would end a quoted HLS
 * attribute.  (jansson has already checked the UTF-8.) */
static int
name_ok(const char *s, size_t n)
{
    /* (n: jansson's length, so that an embedded NUL is refused) */
    return strlen(s) == n && cir_label_is_safe(s, CIR_SUBTITLE_NAME_MAX - 1);
}

static int
encoding_ok(const char *s, size_t n)
{
    if (n == 0 || n >= CIR_SUBTITLE_ENCODING_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':') {
            return 0;
        }
    }
    return 1;
}

#define FAIL(code, ...)                                      \
    do {                                                     \
        snprintf(err, errsize, "subtitles[%zu].", index);    \
        size_t used_ = strlen(err);                          \
        snprintf(err + used_, errsize - used_, __VA_ARGS__); \
        return code;                                         \
    } while (0)

static int
parse_uri(const json_t *v, size_t index, cir_subtitle_spec_t *s, char *err,
          size_t errsize)
{
    char why[200];
    cir_uri_t u;

    if (!json_is_string(v) || json_string_length(v) == 0) {
        FAIL(CIR_EINVAL, "uri: required, a file path, file:// or s3:// URI");
    }
    if (json_string_length(v) >= sizeof(s->uri) ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        FAIL(CIR_ELIMIT, "uri: longer than %zu bytes", sizeof(s->uri) - 1);
    }
    if (cir_uri_parse_why(json_string_value(v), &u, why, sizeof(why)) < 0) {
        FAIL(CIR_EINVAL, "uri: \"%.200s\": %s", json_string_value(v), why);
    }
    snprintf(s->uri, sizeof(s->uri), "%s", json_string_value(v));
    return 0;
}

/* A TTML file (.ttml, .dfxp, .xml) says its language itself (xml:lang). */
int
cir_subtitle_uri_is_ttml(const char *uri)
{
    static const char *const exts[] = {".ttml", ".dfxp", ".xml"};
    size_t n = strlen(uri);

    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcasecmp(uri + n - e, exts[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int
cir_subtitle_language_ok(const char *s)
{
    return language_ok(s, strlen(s));
}

static int
parse_language(const json_t *v, size_t index, cir_subtitle_spec_t *s, char *err,
               size_t errsize)
{
    if (v == NULL && cir_subtitle_uri_is_ttml(s->uri)) {
        s->language[0] = '\0'; /* the file's xml:lang, when it is read */
        return 0;
    }
    if (!json_is_string(v)) {
        FAIL(CIR_EINVAL, "language: required, a BCP 47 tag such as \"en\" "
                         "(a TTML file's own xml:lang when not given)");
    }
    if (!language_ok(json_string_value(v), json_string_length(v))) {
        FAIL(CIR_EINVAL,
             "language: \"%.40s\" is not a BCP 47 tag (such as "
             "\"en\", \"pt-BR\")",
             json_string_value(v));
    }
    snprintf(s->language, sizeof(s->language), "%s", json_string_value(v));
    return 0;
}

static int
parse_name(const json_t *v, size_t index, cir_subtitle_spec_t *s, char *err,
           size_t errsize)
{
    if (v == NULL) {
        snprintf(s->name, sizeof(s->name), "%s", s->language);
        return 0;
    }
    if (!json_is_string(v) ||
        !name_ok(json_string_value(v), json_string_length(v))) {
        FAIL(CIR_EINVAL,
             "name: expected 1 to %d bytes of text without "
             "control characters or '\"'",
             CIR_SUBTITLE_NAME_MAX - 1);
    }
    snprintf(s->name, sizeof(s->name), "%s", json_string_value(v));
    return 0;
}

static int
parse_kind(const json_t *v, size_t index, cir_subtitle_spec_t *s, char *err,
           size_t errsize)
{
    size_t n = strlen(s->uri);

    s->kind = CIR_SUBTITLE_KIND_SUBTITLES;
    if (v == NULL) {
        /* SCC is CEA-608: captions for the deaf and hard of hearing */
        if (n > 4 && strcasecmp(s->uri + n - 4, ".scc") == 0) {
            s->kind = CIR_SUBTITLE_KIND_CAPTIONS;
        }
        return 0;
    }
    for (unsigned k = 0; json_is_string(v) && k < 3; k++) {
        if (strcmp(json_string_value(v), kind_names[k]) == 0) {
            s->kind = (cir_subtitle_kind_t)k;
            return 0;
        }
    }
    FAIL(CIR_EINVAL, "kind: expected \"subtitles\", \"captions\" or "
                     "\"forced\"");
}

static int
parse_flags(const json_t *e, size_t index, cir_subtitle_spec_t *s, char *err,
            size_t errsize)
{
    const json_t *def = json_object_get(e, "default");
    const json_t *enc = json_object_get(e, "encoding");

    if (def != NULL && !json_is_boolean(def)) {
        FAIL(CIR_EINVAL, "default: expected true or false");
    }
    s->is_default = def != NULL && json_is_true(def);
    if (enc != NULL &&
        (!json_is_string(enc) ||
         !encoding_ok(json_string_value(enc), json_string_length(enc)))) {
        FAIL(CIR_EINVAL, "encoding: expected a character set name such as "
                         "\"windows-1252\"");
    }
    if (enc != NULL) {
        snprintf(s->encoding, sizeof(s->encoding), "%s",
                 json_string_value(enc));
    }
    return 0;
}

static int
check_fields(const json_t *e, size_t index, char *err, size_t errsize)
{
    static const char *const known[] = {"uri",  "language", "name",
                                        "kind", "default",  "encoding"};
    const char *key;
    json_t *v;

    if (!json_is_object(e)) {
        FAIL(CIR_EINVAL, "expected an object with uri and language");
    }
    json_object_foreach((json_t *)e, key, v)
    {
        size_t k = 0;
        while (k < sizeof(known) / sizeof(known[0]) &&
               strcmp(key, known[k]) != 0) {
            k++;
        }
        if (k == sizeof(known) / sizeof(known[0])) {
            FAIL(CIR_EINVAL,
                 "%.40s: unknown field (known: uri, language, "
                 "name, kind, default, encoding)",
                 key);
        }
    }
    return 0;
}

/* "subs-<language>", "-<n>" added for a language seen before. */
static void
make_id(cir_subtitle_specs_t *out, size_t index)
{
    cir_subtitle_spec_t *s = &out->items[index];
    size_t same = 0;

    if (s->language[0] == '\0') {
        return; /* a TTML file's: made when it is read */
    }
    for (size_t i = 0; i < index; i++) {
        same += strcmp(out->items[i].language, s->language) == 0;
    }
    if (same == 0) {
        snprintf(s->id, sizeof(s->id), "subs-%s", s->language);
    } else {
        snprintf(s->id, sizeof(s->id), "subs-%s-%zu", s->language, same + 1);
    }
}

static int
parse_entry(const json_t *e, size_t index, cir_subtitle_specs_t *out, char *err,
            size_t errsize)
{
    cir_subtitle_spec_t *s = &out->items[index];
    int ret;

    memset(s, 0, sizeof(*s));
    if ((ret = check_fields(e, index, err, errsize)) < 0 ||
        (ret = parse_uri(json_object_get(e, "uri"), index, s, err, errsize)) <
            0 ||
        (ret = parse_language(json_object_get(e, "language"), index, s, err,
                              errsize)) < 0 ||
        (ret = parse_name(json_object_get(e, "name"), index, s, err, errsize)) <
            0 ||
        (ret = parse_kind(json_object_get(e, "kind"), index, s, err, errsize)) <
            0 ||
        (ret = parse_flags(e, index, s, err, errsize)) < 0) {
        return ret;
    }
    for (size_t i = 0; i < index; i++) {
        if (s->is_default && out->items[i].is_default) {
            FAIL(CIR_EINVAL,
                 "default: subtitles[%zu] is the default already "
                 "(at most one may be)",
                 i);
        }
    }
    make_id(out, index);
    return 0;
}

int
cir_subtitle_specs_parse(const json_t *v, cir_subtitle_specs_t *out, char *err,
                         size_t errsize)
{
    size_t i;
    json_t *e;
    int ret;

    out->count = 0;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_array(v)) {
        snprintf(err, errsize, "subtitles: expected an array of objects");
        return CIR_EINVAL;
    }
    if (json_array_size(v) > CIR_SUBTITLES_MAX) {
        snprintf(err, errsize, "subtitles: %zu entries, at most %d",
                 json_array_size(v), CIR_SUBTITLES_MAX);
        return CIR_ELIMIT;
    }
    json_array_foreach(v, i, e)
    {
        if ((ret = parse_entry(e, i, out, err, errsize)) < 0) {
            out->count = 0;
            return ret;
        }
        out->count = i + 1;
    }
    return 0;
}

int
cir_subtitle_specs_parse_text(const char *text, cir_subtitle_specs_t *out,
                              char *err, size_t errsize)
{
    json_t *v = NULL;
    char why[256];
    int ret;

    out->count = 0;
    if (text == NULL || text[0] == '\0') {
        return 0;
    }
    ret =
        cir_json_parse(text, strlen(text), SPEC_TEXT_MAX, &v, why, sizeof(why));
    if (ret < 0) {
        snprintf(err, errsize, "subtitles: not JSON: %s", why);
        return ret;
    }
    ret = cir_subtitle_specs_parse(v, out, err, errsize);
    json_decref(v);
    return ret;
}
