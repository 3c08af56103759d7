/*
 * A job's encryption options.  See cir_encryption.h.
 *
 * Tested by tests/unit/test_common_encryption.c.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "cir_encryption.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_storage.h"

/* A 16-byte value from a JSON string of 32 hex digits; err names the
 * field and says what is wrong, never what the value was. */
static int
parse_hex16(const json_t *v, const char *field, uint8_t out[16], char *err,
            size_t errsize)
{
    const char *s;
    size_t n;

    if (!json_is_string(v)) {
        snprintf(err, errsize, "encryption.%s: not a string", field);
        return CIR_EINVAL;
    }
    s = json_string_value(v);
    n = json_string_length(v);
    if (n != 32) {
        snprintf(err, errsize,
                 "encryption.%s: %zu characters, expected 32 hex digits "
                 "(16 bytes)",
                 field, n);
        return CIR_EINVAL;
    }
    for (size_t i = 0; i < 16; i++) {
        int hi = cir_hex_value(s[2 * i]), lo = cir_hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(err, errsize,
                     "encryption.%s: not hex (character %zu); expected 32 "
                     "hex digits",
                     field, hi < 0 ? 2 * i + 1 : 2 * i + 2);
            return CIR_EINVAL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int
cir_encryption_url_chars_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] >= 0x7f || strchr("\"<>\\", s[i]) != NULL) {
            return 0;
        }
    }
    return n > 0;
}

int
cir_encryption_key_is_zero(const uint8_t v[16])
{
    uint8_t any = 0;
    for (int i = 0; i < 16; i++) {
        any |= v[i];
    }
    return any == 0;
}

/* key_id and key from an object with exactly those two fields; where
 * says which object ("encryption" or "encryption.key_file"). */
static int
parse_key_pair(const json_t *o, const char *where, cir_encryption_t *out,
               char *err, size_t errsize)
{
    const char *name;
    json_t *v;
    int ret;

    json_object_foreach((json_t *)o, name, v)
    {
        if (strcmp(name, "key_id") != 0 && strcmp(name, "key") != 0) {
            snprintf(err, errsize, "%s: unknown field \"%.64s\"", where, name);
            return CIR_EINVAL;
        }
    }
    if (json_object_get(o, "key_id") == NULL ||
        json_object_get(o, "key") == NULL) {
        snprintf(err, errsize, "%s: needs both key_id and key", where);
        return CIR_EINVAL;
    }
    if ((ret = parse_hex16(json_object_get(o, "key_id"), "key_id", out->key_id,
                           err, errsize)) < 0 ||
        (ret = parse_hex16(json_object_get(o, "key"), "key", out->key, err,
                           errsize)) < 0) {
        return ret;
    }
    if (cir_encryption_key_is_zero(out->key)) {
        snprintf(err, errsize, "encryption.key: all zero");
        return CIR_EINVAL;
    }
    return 0;
}

/* The key file: a JSON object {"key_id", "key"}.  Its content is never
 * quoted in an error (it may be any file the job names). */
static int
read_key_file(const json_t *v, cir_encryption_t *out, char *err, size_t errsize)
{
    char *text = NULL;
    size_t len = 0;
    json_t *o;
    int ret;

    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > 4095) {
        snprintf(err, errsize, "encryption.key_file: not a path");
        return CIR_EINVAL;
    }
    ret = cir_read_file(json_string_value(v), CIR_KEY_FILE_MAX, &text, &len);
    if (ret < 0) {
        snprintf(
            err, errsize, "encryption.key_file: %s: %s", json_string_value(v),
            ret == CIR_ELIMIT ? "more than 4096 bytes" : cir_strerror(ret));
        return ret == CIR_ELIMIT ? CIR_ELIMIT
               : ret == -ENOENT  ? CIR_ENOTFOUND
                                 : CIR_EIO;
    }
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    explicit_bzero(text, len);
    free(text);
    if (!json_is_object(o)) {
        json_decref(o);
        snprintf(err, errsize,
                 "encryption.key_file: not a JSON object {\"key_id\": ..., "
                 "\"key\": ...}");
        return CIR_EINVAL;
    }
    ret = parse_key_pair(o, "encryption.key_file", out, err, errsize);
    json_decref(o);
    return ret;
}

static int
parse_scheme(const json_t *v, cir_encryption_t *out, char *err, size_t errsize)
{
    const char *s = json_string_value(v);

    if (v == NULL) {
        snprintf(err, errsize,
                 "encryption.scheme: missing (cenc, cbcs or aes-128)");
        return CIR_EINVAL;
    }
    if (s != NULL && strcmp(s, "cenc") == 0) {
        out->scheme = CIR_ENC_CENC;
    } else if (s != NULL && strcmp(s, "cbcs") == 0) {
        out->scheme = CIR_ENC_CBCS;
    } else if (s != NULL && strcmp(s, "aes-128") == 0) {
        out->scheme = CIR_ENC_AES128;
    } else {
        snprintf(err, errsize, "encryption.scheme: not cenc, cbcs or aes-128");
        return CIR_EINVAL;
    }
    return 0;
}

/* ---- drm ---- */

static const char *const drm_names[CIR_DRM_NB] = {"clearkey", "widevine",
                                                  "playready", "fairplay"};

const char *
cir_drm_system_name(cir_drm_system_t s)
{
    return (unsigned)s < CIR_DRM_NB ? drm_names[s] : "unknown";
}

/* Refuses a field of a system's object other than the one it takes
 * (allowed NULL: none). */
static int
drm_fields_only(const json_t *o, const char *system, const char *allowed,
                char *err, size_t errsize)
{
    const char *name;
    json_t *v;

    if (!json_is_object(o)) {
        snprintf(err, errsize, "encryption.drm.%s: not an object", system);
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)o, name, v)
    {
        if (allowed == NULL || strcmp(name, allowed) != 0) {
            snprintf(err, errsize, "encryption.drm.%s: unknown field \"%.64s\"",
                     system, name);
            return CIR_EINVAL;
        }
    }
    return 0;
}

/* A URL that goes into a quoted HLS attribute and an XML text node:
 * printable ASCII without blanks, quotes or angle brackets, with the
 * scheme prefix. */
static int
drm_url(const json_t *v, const char *field, const char *const prefixes[],
        char *out, size_t outsize, char *err, size_t errsize)
{
    const char *s = json_string_value(v);
    int ok = 0;

    if (s == NULL || json_string_length(v) >= outsize) {
        snprintf(err, errsize,
                 "encryption.drm.%s: not a string of at most %zu "
                 "characters",
                 field, outsize - 1);
        return CIR_EINVAL;
    }
    for (size_t i = 0; prefixes[i] != NULL; i++) {
        ok |= strncmp(s, prefixes[i], strlen(prefixes[i])) == 0 &&
              s[strlen(prefixes[i])] != '\0';
    }
    ok = ok && cir_encryption_url_chars_ok(s, strlen(s));
    if (!ok) {
        snprintf(err, errsize,
                 "encryption.drm.%s: not a %s URL (printable ASCII without "
                 "blanks, quotes or angle brackets)",
                 field, prefixes[0]);
        return CIR_EINVAL;
    }
    snprintf(out, outsize, "%s", s);
    return 0;
}

static int
drm_widevine(const json_t *o, cir_drm_t *out, char *err, size_t errsize)
{
    const json_t *v = json_object_get(o, "provider");
    const char *s = json_string_value(v);
    int ret;

    if ((ret = drm_fields_only(o, "widevine", "provider", err, errsize)) < 0 ||
        v == NULL) {
        return ret;
    }
    if (s == NULL || json_string_length(v) == 0 ||
        json_string_length(v) >= sizeof(out->widevine_provider) ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789_.-") != json_string_length(v)) {
        snprintf(err, errsize,
                 "encryption.drm.widevine.provider: 1 to 63 of A-Z a-z 0-9 "
                 "_ . -");
        return CIR_EINVAL;
    }
    snprintf(out->widevine_provider, sizeof(out->widevine_provider), "%s", s);
    return 0;
}

/* provided: a key provider gives the systems' data (FairPlay's key URI
 * may then be left out). */
static int
drm_system(const char *name, const json_t *o, cir_enc_scheme_t scheme,
           int provided, cir_drm_t *out, char *err, size_t errsize)
{
    static const char *const http[] = {"https://", "http://", NULL};
    static const char *const skd[] = {"skd://", NULL};
    const json_t *v;
    int ret;

    if (strcmp(name, "clearkey") == 0) {
        return drm_fields_only(o, name, NULL, err, errsize);
    }
    if (strcmp(name, "widevine") == 0) {
        return drm_widevine(o, out, err, errsize);
    }
    if (strcmp(name, "playready") == 0) {
        if ((ret = drm_fields_only(o, name, "la_url", err, errsize)) < 0) {
            return ret;
        }
        v = json_object_get(o, "la_url");
        return v == NULL
                   ? 0
                   : drm_url(v, "playready.la_url", http, out->playready_la_url,
                             sizeof(out->playready_la_url), err, errsize);
    }
    /* fairplay */
    if (scheme != CIR_ENC_CBCS) {
        snprintf(err, errsize,
                 "encryption.drm.fairplay: needs the cbcs scheme");
        return CIR_EINVAL;
    }
    if ((ret = drm_fields_only(o, name, "key_uri", err, errsize)) < 0) {
        return ret;
    }
    if ((v = json_object_get(o, "key_uri")) == NULL) {
        if (provided) {
            return 0;
        }
        snprintf(err, errsize,
                 "encryption.drm.fairplay.key_uri: missing "
                 "(skd://...)");
        return CIR_EINVAL;
    }
    return drm_url(v, "fairplay.key_uri", skd, out->fairplay_key_uri,
                   sizeof(out->fairplay_key_uri), err, errsize);
}

static int
drm_parse(const json_t *v, cir_enc_scheme_t scheme, int provided,
          cir_drm_t *out, char *err, size_t errsize)
{
    const char *name;
    json_t *sv;
    int ret;

    memset(out, 0, sizeof(*out));
    if (v == NULL) {
        out->systems = CIR_DRM_BIT(CIR_DRM_CLEARKEY);
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) == 0) {
        snprintf(err, errsize,
                 "encryption.drm: not an object naming at least one of "
                 "clearkey, widevine, playready, fairplay");
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)v, name, sv)
    {
        unsigned s = 0;
        while (s < CIR_DRM_NB && strcmp(name, drm_names[s]) != 0) {
            s++;
        }
        if (s == CIR_DRM_NB) {
            snprintf(err, errsize,
                     "encryption.drm: unknown system \"%.64s\" (clearkey, "
                     "widevine, playready, fairplay)",
                     name);
            return CIR_EINVAL;
        }
        if ((ret = drm_system(name, sv, scheme, provided, out, err, errsize)) <
            0) {
            return ret;
        }
        out->systems |= CIR_DRM_BIT(s);
    }
    return 0;
}

/* ---- speke ---- */

static int
speke_fields_only(const json_t *o, char *err, size_t errsize)
{
    const char *name;
    json_t *v;

    json_object_foreach((json_t *)o, name, v)
    {
        if (strcmp(name, "url") != 0 && strcmp(name, "resource_id") != 0 &&
            strcmp(name, "region") != 0) {
            snprintf(err, errsize, "encryption.speke: unknown field \"%.64s\"",
                     name);
            return CIR_EINVAL;
        }
    }
    return 0;
}

/* https://, or http:// to 127.0.0.1 only (a local test key server: the key
 * travels in the clear). */
static int
speke_url(const json_t *v, cir_speke_t *out, char *err, size_t errsize)
{
    static const char *const prefixes[] = {
        "https://", "http://127.0.0.1:", "http://127.0.0.1/", NULL};
    int ret = drm_url(v, "speke.url", prefixes, out->url, sizeof(out->url), err,
                      errsize);

    if (ret == 0 && strchr(out->url, '@') != NULL) {
        ret = CIR_EINVAL; /* user info: http://127.0.0.1:1@elsewhere/ */
    }
    if (ret < 0) {
        /* drm_url names its field under encryption.drm. */
        snprintf(err, errsize,
                 "encryption.speke.url: not a https:// URL (or http:// to "
                 "127.0.0.1) of printable ASCII without blanks, quotes or "
                 "angle brackets, at most %d characters",
                 CIR_DRM_URL_MAX - 1);
    }
    return ret;
}

static int
speke_token(const json_t *v, const char *field, const char *allowed, char *out,
            size_t outsize, char *err, size_t errsize)
{
    const char *s = json_string_value(v);

    if (s == NULL || json_string_length(v) == 0 ||
        json_string_length(v) >= outsize ||
        strspn(s, allowed) != json_string_length(v)) {
        snprintf(err, errsize, "encryption.speke.%s: 1 to %zu of %s", field,
                 outsize - 1,
                 strcmp(field, "region") == 0 ? "a-z 0-9 -"
                                              : "A-Z a-z 0-9 _ . : / -");
        return CIR_EINVAL;
    }
    snprintf(out, outsize, "%s", s);
    return 0;
}

int
cir_speke_parse(const json_t *v, cir_speke_t *out, char *err, size_t errsize)
{
    static const char lower[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
    static const char id[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "0123456789_.:/-";
    const json_t *region;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(v)) {
        snprintf(err, errsize,
                 "encryption.speke: not an object {\"url\", \"resource_id\", "
                 "\"region\"}");
        return CIR_EINVAL;
    }
    if ((ret = speke_fields_only(v, err, errsize)) < 0) {
        return ret;
    }
    if (json_object_get(v, "url") == NULL) {
        snprintf(err, errsize, "encryption.speke.url: missing");
        return CIR_EINVAL;
    }
    if ((ret = speke_url(json_object_get(v, "url"), out, err, errsize)) < 0 ||
        (ret = speke_token(json_object_get(v, "resource_id"), "resource_id", id,
                           out->resource_id, sizeof(out->resource_id), err,
                           errsize)) < 0) {
        return ret;
    }
    region = json_object_get(v, "region");
    return region == NULL ? 0
                          : speke_token(region, "region", lower, out->region,
                                        sizeof(out->region), err, errsize);
}

/* {"speke": ..., "key_id"?}: the key comes from the provider later. */
static int
parse_speke_object(const json_t *v, cir_encryption_t *out, char *err,
                   size_t errsize)
{
    const json_t *kid = json_object_get(v, "key_id");
    int ret;

    if (out->scheme == CIR_ENC_AES128) {
        snprintf(err, errsize,
                 "encryption.speke: with cenc or cbcs only (aes-128 keys are "
                 "served at key_uri)");
        return CIR_EINVAL;
    }
    if (json_object_get(v, "key_file") != NULL ||
        json_object_get(v, "key") != NULL) {
        snprintf(err, errsize,
                 "encryption.speke: the key comes from the key provider; "
                 "no key or key_file with it");
        return CIR_EINVAL;
    }
    if ((ret = cir_speke_parse(json_object_get(v, "speke"), &out->speke, err,
                               errsize)) < 0) {
        return ret;
    }
    if (kid != NULL) {
        if ((ret = parse_hex16(kid, "key_id", out->key_id, err, errsize)) < 0) {
            return ret;
        }
        out->speke.key_id_given = 1;
    }
    return 0;
}

/* ---- the encryption object ---- */

/* An aes-128 "key_uri" (v NULL: missing) into out, checked as
 * cir_encryption_parse_scheme_options says. */
static int
parse_key_uri(const json_t *v, char *out, size_t outsize, char *err,
              size_t errsize)
{
    const char *s = json_string_value(v);
    int ok = s != NULL && s[0] != '\0' && json_string_length(v) < outsize;

    if (v == NULL) {
        snprintf(err, errsize,
                 "encryption.key_uri: missing (aes-128: where players get "
                 "the key)");
        return CIR_EINVAL;
    }
    ok = ok && cir_encryption_url_chars_ok(s, strlen(s));
    if (!ok) {
        snprintf(err, errsize,
                 "encryption.key_uri: not a URL of at most %zu characters "
                 "(printable ASCII without blanks, quotes or angle brackets)",
                 outsize - 1);
        return CIR_EINVAL;
    }
    snprintf(out, outsize, "%s", s);
    return 0;
}

/* aes-128 takes key_uri and no drm; the others drm and no key_uri. */
int
cir_encryption_parse_scheme_options(const json_t *v, cir_enc_scheme_t scheme,
                                    cir_drm_t *drm, char *key_uri,
                                    size_t key_uri_size, char *err,
                                    size_t errsize)
{
    if (scheme != CIR_ENC_AES128) {
        if (json_object_get(v, "key_uri") != NULL) {
            snprintf(err, errsize,
                     "encryption.key_uri: only with the aes-128 scheme (cenc "
                     "and cbcs: drm)");
            return CIR_EINVAL;
        }
        return drm_parse(json_object_get(v, "drm"), scheme,
                         json_object_get(v, "speke") != NULL, drm, err,
                         errsize);
    }
    if (json_object_get(v, "drm") != NULL) {
        snprintf(err, errsize,
                 "encryption.drm: not with aes-128 (a whole-segment key "
                 "served at key_uri, no DRM system)");
        return CIR_EINVAL;
    }
    return parse_key_uri(json_object_get(v, "key_uri"), key_uri, key_uri_size,
                         err, errsize);
}

static int
parse_object(const json_t *v, cir_encryption_t *out, char *err, size_t errsize)
{
    const json_t *file;
    json_t *pair, *fv;
    const char *name;
    int ret;

    if (!json_is_object(v)) {
        snprintf(err, errsize, "encryption: not an object");
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)v, name, fv)
    {
        if (strcmp(name, "scheme") != 0 && strcmp(name, "key_id") != 0 &&
            strcmp(name, "key") != 0 && strcmp(name, "key_file") != 0 &&
            strcmp(name, "drm") != 0 && strcmp(name, "key_uri") != 0 &&
            strcmp(name, "speke") != 0) {
            snprintf(err, errsize, "encryption: unknown field \"%.64s\"", name);
            return CIR_EINVAL;
        }
    }
    if ((ret = parse_scheme(json_object_get(v, "scheme"), out, err, errsize)) <
            0 ||
        (ret = cir_encryption_parse_scheme_options(
             v, out->scheme, &out->drm, out->key_uri, sizeof(out->key_uri), err,
             errsize)) < 0) {
        return ret;
    }
    if (json_object_get(v, "speke") != NULL) {
        return parse_speke_object(v, out, err, errsize);
    }
    file = json_object_get(v, "key_file");
    if (file != NULL) {
        if (json_object_get(v, "key_id") || json_object_get(v, "key")) {
            snprintf(err, errsize,
                     "encryption: key_file and key_id/key both given");
            return CIR_EINVAL;
        }
        return read_key_file(file, out, err, errsize);
    }
    /* the inline pair, checked like a key file's */
    pair = json_object();
    if (pair == NULL) {
        snprintf(err, errsize, "encryption: out of memory");
        return CIR_ENOMEM;
    }
    if (json_object_get(v, "key_id")) {
        json_object_set(pair, "key_id", json_object_get(v, "key_id"));
    }
    if (json_object_get(v, "key")) {
        json_object_set(pair, "key", json_object_get(v, "key"));
    }
    ret = parse_key_pair(pair, "encryption", out, err, errsize);
    json_decref(pair);
    return ret;
}

int
cir_encryption_parse(const json_t *v, cir_encryption_t *out, char *err,
                     size_t errsize)
{
    int ret;

    memset(out, 0, sizeof(*out));
    ret = parse_object(v, out, err, errsize);
    if (ret < 0) {
        cir_encryption_clear(out);
    }
    return ret;
}

/* The encryption JSON text into *v (NULL when the text is empty: no
 * encryption). */
static int
load_text(const char *text, json_t **v, char *err, size_t errsize)
{
    *v = NULL;
    if (text == NULL || text[0] == '\0') {
        return 0;
    }
    *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (*v == NULL) {
        /* the parser's message may quote the text: a key */
        snprintf(err, errsize, "encryption: not valid JSON");
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_encryption_parse_text(const char *text, cir_encryption_t *out, char *err,
                          size_t errsize)
{
    json_t *v;
    int ret;

    memset(out, 0, sizeof(*out));
    if ((ret = load_text(text, &v, err, errsize)) < 0 || v == NULL) {
        return ret;
    }
    ret = cir_encryption_parse(v, out, err, errsize);
    json_decref(v);
    return ret;
}

/* A live stream's "rotate_segments" taken out of v (an object): 0 when
 * absent. */
static int
take_rotation(json_t *v, uint32_t *rotate, char *err, size_t errsize)
{
    json_t *r = json_object_get(v, "rotate_segments");
    json_int_t n;

    *rotate = 0;
    if (r == NULL) {
        return 0;
    }
    n = json_is_integer(r) ? json_integer_value(r) : 0;
    if (n < 1 || n > CIR_ROTATE_SEGMENTS_MAX) {
        snprintf(err, errsize,
                 "encryption.rotate_segments: expected an integer 1 to %d",
                 CIR_ROTATE_SEGMENTS_MAX);
        return CIR_EINVAL;
    }
    if (json_object_get(v, "speke") == NULL) {
        snprintf(err, errsize,
                 "encryption.rotate_segments: needs a key provider (speke): "
                 "a key file or an inline key is one key");
        return CIR_EINVAL;
    }
    *rotate = (uint32_t)n;
    json_object_del(v, "rotate_segments");
    return 0;
}

int
cir_live_encryption_parse_text(const char *text, cir_encryption_t *out,
                               uint32_t *rotate_segments, char *err,
                               size_t errsize)
{
    json_t *v;
    int ret;

    memset(out, 0, sizeof(*out));
    *rotate_segments = 0;
    if ((ret = load_text(text, &v, err, errsize)) < 0 || v == NULL) {
        return ret;
    }
    ret =
        json_is_object(v) ? take_rotation(v, rotate_segments, err, errsize) : 0;
    if (ret == 0) {
        ret = cir_encryption_parse(v, out, err, errsize);
    }
    if (ret == 0 && *rotate_segments > 0) {
        /* the first crypto period's key is asked for as period 0 */
        out->speke.has_period = 1;
        out->speke.key_period = 0;
    }
    json_decref(v);
    if (ret < 0) {
        *rotate_segments = 0;
    }
    return ret;
}

const char *
cir_encryption_scheme_name(cir_enc_scheme_t s)
{
    return s == CIR_ENC_CENC     ? "cenc"
           : s == CIR_ENC_CBCS   ? "cbcs"
           : s == CIR_ENC_AES128 ? "aes-128"
                                 : "none";
}

void
cir_encryption_hex(const uint8_t in[16], char out[33])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[32] = '\0';
}

void
cir_encryption_uuid(const uint8_t in[16], char out[37])
{
    char hex[33];
    size_t o = 0;

    cir_encryption_hex(in, hex);
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20) {
            out[o++] = '-';
        }
        out[o++] = hex[i];
    }
    out[o] = '\0';
}

void
cir_encryption_clear(cir_encryption_t *e)
{
    explicit_bzero(e, sizeof(*e));
}
