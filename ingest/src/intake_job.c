/*
 * Job documents and S3 event notifications into cir_vod_job_t.
 *
 * Pure: jansson and common/ only (the preset folder is looked at with
 * access() to pick a preset from a key's first path segment).
 *
 * Tested by tests/unit/test_ingest_intake_job.c (and the job options end to
 * end by tests/integration/job_options.test.mjs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cir_clip.h"
#include "cir_clock.h"
#include "cir_encryption.h"
#include "cir_error.h"
#include "cir_intake.h"
#include "cir_json.h"
#include "cir_preset.h"
#include "cir_storage.h"
#include "cir_subtitle_spec.h"
#include "intake_internal.h"

#define JOB_MAX_BYTES (256 * 1024) /* an SQS message is at most 256 KiB */
#define S3_KEY_MAX    1024         /* S3's own limit, in UTF-8 bytes */

static int
parse_only(const json_t *v, unsigned *bits, char *err, size_t errsize)
{
    *bits = 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        /* an embedded NUL would hide the rest of the list */
        if (strlen(s) == json_string_length(v) &&
            cir_only_parse(s, bits) == 0) {
            return 0;
        }
        goto bad;
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e) ||
                cir_only_add_word(json_string_value(e), json_string_length(e),
                                  bits) < 0) {
                goto bad;
            }
        }
        return 0;
    }
bad:
    snprintf(err, errsize,
             "only: expected a list of hls, dash, thumbs, images");
    return CIR_EINVAL;
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static int
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], need, min, cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            need = 1, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= need) {
            return 0;
        }
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* S3 notification keys are form-encoded: '+' is a space, %XX a byte. */
static int
url_decode(const char *in, char *out, size_t outsize)
{
    size_t o = 0;

    for (const char *p = in; *p; p++) {
        int c = (unsigned char)*p;
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int h = cir_hex_value((unsigned char)p[1]), l;
            if (h < 0 || (l = cir_hex_value((unsigned char)p[2])) < 0) {
                return CIR_EPARSE;
            }
            c = h * 16 + l;
            p += 2;
        }
        if (c == 0 || o + 1 >= outsize) {
            return c == 0 ? CIR_EPARSE : CIR_ELIMIT;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return utf8_valid((const unsigned char *)out, o) ? 0 : CIR_EPARSE;
}

static int
preset_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-')) {
            return 0;
        }
    }
    return 1;
}

static int
set_str(char *dst, size_t size, const char *src, const char *what, char *err,
        size_t errsize)
{
    int n = snprintf(dst, size, "%s", src);
    if (n < 0 || (size_t)n >= size) {
        snprintf(err, errsize, "%s: too long", what);
        return CIR_ELIMIT;
    }
    return 0;
}

/* Joins the output root and a relative path without doubling '/'. */
static int
join_root(char *out, size_t size, const char *root, const char *rel)
{
    size_t rl = strlen(root);
    int n =
        snprintf(out, size, "%.*s/%s",
                 (int)(rl > 0 && root[rl - 1] == '/' ? rl - 1 : rl), root, rel);
    return n < 0 || (size_t)n >= size ? CIR_ELIMIT : 0;
}

/* Does the key, as the output folder rel (the key without its
 * extension), name an output?  Each refusal names its rule. */
static int
key_names_output(const char *key, const char *rel, char *err, size_t errsize)
{
    const char *seg = rel;
    int shown = (int)(strlen(key) > 200 ? 200 : strlen(key));

    for (const char *p = rel;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/' || c == '\0') {
            size_t len = (size_t)(p - seg);
            if (len == 0) {
                snprintf(err, errsize,
                         "object key \"%.*s\"%s: an empty path segment "
                         "(\"//\", or a leading or trailing '/') cannot "
                         "name an output folder",
                         shown, key, shown < (int)strlen(key) ? "..." : "");
                return CIR_EINVAL;
            }
            if ((len == 1 && seg[0] == '.') ||
                (len == 2 && seg[0] == '.' && seg[1] == '.')) {
                snprintf(err, errsize,
                         "object key \"%.*s\": a \".\" or \"..\" path "
                         "segment cannot name an output folder",
                         shown, key);
                return CIR_EINVAL;
            }
            if (c == '\0') {
                return 0;
            }
            seg = p + 1;
        } else if (c == '\\' || c < 0x20 || c == 0x7f) {
            snprintf(err, errsize,
                     "object key \"%.*s\": a backslash or control byte "
                     "cannot name an output folder",
                     shown, key);
            return CIR_EINVAL;
        }
    }
}

/* The output URI can hold an asset (S3's key limit with room for the
 * version folder and the longest name in it). */
static int
output_ok(const char *output, const char *key, char *err, size_t errsize)
{
    char why[400];
    cir_uri_t u;
    int ret;

    if (cir_uri_parse_why(output, &u, why, sizeof(why)) < 0) {
        snprintf(err, errsize,
                 "object key \"%.200s\": output URI %.200s is "
                 "not valid: %s",
                 key, output, why);
        return CIR_EINVAL;
    }
    if ((ret = cir_output_root_check(&u, why, sizeof(why))) < 0) {
        snprintf(err, errsize, "object key of %zu bytes: %s", strlen(key), why);
        return ret;
    }
    return 0;
}

/* The key (URL-decoded already) of an uploaded object into a job. */
static int
job_from_object(const char *bucket, const char *key, const char *out_root,
                const char *presets_dir, const char *default_preset,
                cir_vod_job_t *job, char *err, size_t errsize)
{
    char rel[S3_KEY_MAX + 1];
    const char *slash, *base, *dot;
    int ret;

    if (bucket[0] == '\0' || strlen(bucket) > 63 || strchr(bucket, '/')) {
        snprintf(err, errsize, "bad bucket name");
        return CIR_EINVAL;
    }
    ret = snprintf(job->input, sizeof(job->input), "s3://%s/%s", bucket, key);
    if (ret < 0 || (size_t)ret >= sizeof(job->input)) {
        snprintf(err, errsize, "input URI too long");
        return CIR_ELIMIT;
    }
    /* the output folder: the key without the extension of its last part */
    snprintf(rel, sizeof(rel), "%s", key);
    base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    dot = strrchr(base, '.');
    if (dot && dot != base) {
        rel[dot - rel] = '\0';
    }
    if ((ret = key_names_output(key, rel, err, errsize)) < 0) {
        return ret;
    }
    if (out_root == NULL) {
        snprintf(err, errsize, "no output root");
        return CIR_EINVAL;
    }
    if (join_root(job->output, sizeof(job->output), out_root, rel) < 0) {
        snprintf(err, errsize,
                 "object key of %zu bytes: the output URI would exceed %d "
                 "bytes",
                 strlen(key), CIR_JOB_URI_MAX - 1);
        return CIR_ELIMIT;
    }
    if ((ret = output_ok(job->output, key, err, errsize)) < 0) {
        return ret;
    }
    /* the preset: the key's first segment if it names one */
    snprintf(job->preset, sizeof(job->preset), "%s",
             default_preset ? default_preset : "");
    slash = strchr(key, '/');
    if (slash && presets_dir && preset_name_ok(key, (size_t)(slash - key))) {
        char path[4200];
        ret = snprintf(path, sizeof(path), "%s/%.*s.json", presets_dir,
                       (int)(slash - key), key);
        if (ret > 0 && (size_t)ret < sizeof(path) && access(path, R_OK) == 0) {
            snprintf(job->preset, sizeof(job->preset), "%.*s",
                     (int)(slash - key), key);
        }
    }
    if (job->preset[0] == '\0') {
        snprintf(err, errsize, "no preset for \"%s\" and no default", key);
        return CIR_EINVAL;
    }
    cir_job_id_from_name(rel, job->id, sizeof(job->id));
    return 0;
}

/* Which upload: versionId, else the sequencer, else the ETag. */
static void
set_source_version(cir_vod_job_t *job, const json_t *version,
                   const json_t *sequencer, const json_t *etag)
{
    const char *name = "versionId";
    const json_t *v = version;

    if (!json_is_string(v) || json_string_length(v) == 0) {
        name = "sequencer", v = sequencer;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        name = "etag", v = etag;
    }
    if (json_is_string(v) && json_string_length(v) > 0) {
        snprintf(job->source_version, sizeof(job->source_version), "%s=%s",
                 name, json_string_value(v));
    }
}

static int
decode_key(const json_t *k, char *key, size_t size, char *err, size_t errsize)
{
    int ret;

    if (!json_is_string(k) || json_string_length(k) == 0 ||
        json_string_length(k) > 3 * S3_KEY_MAX) {
        snprintf(err, errsize, "object.key: missing or too long");
        return CIR_EPARSE;
    }
    ret = url_decode(json_string_value(k), key, size);
    if (ret < 0) {
        snprintf(err, errsize, "object.key: %s",
                 ret == CIR_ELIMIT ? "longer than 1024 bytes"
                                   : "bad %-escape or not UTF-8");
    }
    return ret;
}

const json_t *
cir_intake_s3_record(const json_t *root)
{
    size_t i;
    json_t *e;

    /* S3 sends one record per message; take the first object creation */
    json_array_foreach(json_object_get(root, "Records"), i, e)
    {
        const char *src = json_string_value(json_object_get(e, "eventSource"));
        const char *name = json_string_value(json_object_get(e, "eventName"));
        if (src && strcmp(src, "aws:s3") == 0 && name &&
            strncmp(name, "ObjectCreated:", 14) == 0) {
            return e;
        }
    }
    return NULL;
}

static int
parse_s3_event(const json_t *root, const char *out_root,
               const char *presets_dir, const char *default_preset,
               cir_vod_job_t *job, char *err, size_t errsize)
{
    const json_t *records = json_object_get(root, "Records"), *r;
    const char *bucket;
    char key[S3_KEY_MAX + 1];
    int ret;

    if (!json_is_array(records) || json_array_size(records) == 0) {
        snprintf(err, errsize, "Records: expected a non-empty array");
        return CIR_EPARSE;
    }
    if ((r = cir_intake_s3_record(root)) == NULL) {
        snprintf(err, errsize, "no ObjectCreated record");
        return CIR_ENOTFOUND;
    }
    bucket = json_string_value(json_object_get(
        json_object_get(json_object_get(r, "s3"), "bucket"), "name"));
    if (bucket == NULL) {
        snprintf(err, errsize, "Records[].s3.bucket.name: missing");
        return CIR_EPARSE;
    }
    ret = decode_key(
        json_object_get(json_object_get(json_object_get(r, "s3"), "object"),
                        "key"),
        key, sizeof(key), err, errsize);
    if (ret < 0) {
        return ret;
    }
    ret = job_from_object(bucket, key, out_root, presets_dir, default_preset,
                          job, err, errsize);
    if (ret == 0) {
        const json_t *o = json_object_get(json_object_get(r, "s3"), "object");
        set_source_version(job, json_object_get(o, "versionId"),
                           json_object_get(o, "sequencer"),
                           json_object_get(o, "eTag"));
        job->enqueued_us = cir_clock_parse_iso8601(
            json_string_value(json_object_get(r, "eventTime")));
    }
    return ret;
}

static int
parse_eventbridge(const json_t *root, const char *out_root,
                  const char *presets_dir, const char *default_preset,
                  cir_vod_job_t *job, char *err, size_t errsize)
{
    const json_t *detail = json_object_get(root, "detail");
    const char *type = json_string_value(json_object_get(root, "detail-type"));
    const char *bucket;
    char key[S3_KEY_MAX + 1];
    int ret;

    if (type == NULL || strcmp(type, "Object Created") != 0) {
        snprintf(err, errsize, "EventBridge event \"%s\" is not Object Created",
                 type ? type : "?");
        return CIR_ENOTFOUND;
    }
    bucket = json_string_value(
        json_object_get(json_object_get(detail, "bucket"), "name"));
    if (bucket == NULL) {
        snprintf(err, errsize, "detail.bucket.name: missing");
        return CIR_EPARSE;
    }
    /* EventBridge keys are URL-encoded like S3 notification keys */
    ret = decode_key(json_object_get(json_object_get(detail, "object"), "key"),
                     key, sizeof(key), err, errsize);
    if (ret < 0) {
        return ret;
    }
    ret = job_from_object(bucket, key, out_root, presets_dir, default_preset,
                          job, err, errsize);
    if (ret == 0) {
        const json_t *o = json_object_get(detail, "object");
        set_source_version(job, json_object_get(o, "version-id"),
                           json_object_get(o, "sequencer"),
                           json_object_get(o, "etag"));
        job->enqueued_us = cir_clock_parse_iso8601(
            json_string_value(json_object_get(root, "time")));
    }
    return ret;
}

/* Checked here, so a bad entry fails the message with its reason; kept as
 * compact JSON for the transcoder (cirrus-transcode --subtitles, the
 * pool). */
static int
parse_subtitles(const json_t *v, cir_vod_job_t *job, char *err, size_t errsize)
{
    cir_subtitle_specs_t *specs = calloc(1, sizeof(*specs));
    char *text = NULL;
    int ret;

    if (specs == NULL) {
        snprintf(err, errsize, "subtitles: out of memory");
        return CIR_ENOMEM;
    }
    ret = cir_subtitle_specs_parse(v, specs, err, errsize);
    if (ret == 0 && specs->count > 0) {
        text = json_dumps(v, JSON_COMPACT);
        if (text == NULL || strlen(text) >= sizeof(job->subtitles)) {
            snprintf(err, errsize, "subtitles: more than %zu bytes of JSON",
                     sizeof(job->subtitles) - 1);
            ret = CIR_ELIMIT;
        } else {
            snprintf(job->subtitles, sizeof(job->subtitles), "%s", text);
        }
    }
    free(text);
    free(specs);
    return ret;
}

/* The scheme's own options, checked as the worker will read them. */
static int
check_scheme_options(const json_t *v, const char *scheme, char *err,
                     size_t errsize)
{
    char uri[CIR_DRM_URL_MAX];
    cir_drm_t drm;
    cir_enc_scheme_t s = strcmp(scheme, "aes-128") == 0 ? CIR_ENC_AES128
                         : strcmp(scheme, "cbcs") == 0  ? CIR_ENC_CBCS
                                                        : CIR_ENC_CENC;

    return cir_encryption_parse_scheme_options(v, s, &drm, uri, sizeof(uri),
                                               err, errsize);
}

/* "speke" (a key provider) instead of a key file: its fields and an
 * optional key_id (not secret); never with aes-128. */
static int
check_speke(const json_t *v, const char *scheme, char *err, size_t errsize)
{
    cir_encryption_t enc;
    int ret;

    if (strcmp(scheme, "aes-128") == 0 ||
        json_object_get(v, "key_file") != NULL) {
        snprintf(err, errsize,
                 "encryption.speke: with cenc or cbcs and no key_file");
        return CIR_EINVAL;
    }
    /* the same checks as the worker's, the key ID's included */
    ret = cir_encryption_parse(v, &enc, err, errsize);
    cir_encryption_clear(&enc);
    return ret;
}

/* "encryption" in a job document: the scheme and a key file name only,
 * checked here (the key file is read by the worker, under its key_dir). */
static int
parse_encryption(const json_t *v, cir_vod_job_t *job, char *err, size_t errsize)
{
    const char *name, *scheme, *file;
    json_t *fv;
    char *text;

    if (!json_is_object(v)) {
        snprintf(err, errsize, "encryption: not an object");
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)v, name, fv)
    {
        if (strcmp(name, "key") == 0 || (strcmp(name, "key_id") == 0 &&
                                         json_object_get(v, "speke") == NULL)) {
            snprintf(err, errsize,
                     "encryption.%s: a job document names a key_file (under "
                     "the worker's key_dir), never the key itself",
                     name);
            return CIR_EINVAL;
        }
        if (strcmp(name, "scheme") != 0 && strcmp(name, "key_file") != 0 &&
            strcmp(name, "drm") != 0 && strcmp(name, "key_uri") != 0 &&
            strcmp(name, "speke") != 0 && strcmp(name, "key_id") != 0) {
            snprintf(err, errsize, "encryption: unknown field \"%.64s\"", name);
            return CIR_EINVAL;
        }
    }
    scheme = json_string_value(json_object_get(v, "scheme"));
    if (scheme == NULL ||
        (strcmp(scheme, "cenc") != 0 && strcmp(scheme, "cbcs") != 0 &&
         strcmp(scheme, "aes-128") != 0)) {
        snprintf(err, errsize,
                 "encryption.scheme: missing or not cenc, cbcs or aes-128");
        return CIR_EINVAL;
    }
    file = json_string_value(json_object_get(v, "key_file"));
    if (json_object_get(v, "speke") != NULL) {
        if (check_speke(v, scheme, err, errsize) < 0) {
            return CIR_EINVAL;
        }
    } else if (file == NULL || strlen(file) > 255 ||
               !cir_path_is_safe_relative(file)) {
        snprintf(err, errsize,
                 "encryption.key_file: missing or not a safe relative path "
                 "(under the worker's key_dir)");
        return CIR_EINVAL;
    }
    if (check_scheme_options(v, scheme, err, errsize) < 0) {
        return CIR_EINVAL;
    }
    text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL || strlen(text) >= sizeof(job->encryption)) {
        free(text);
        snprintf(err, errsize, "encryption: too long");
        return CIR_ELIMIT;
    }
    snprintf(job->encryption, sizeof(job->encryption), "%s", text);
    free(text);
    return 0;
}

/* "preset" given as a whole preset object: checked by the preset parser,
 * its errors under "preset.", kept as compact JSON (bounded). */
static int
parse_inline_preset(const json_t *v, cir_vod_job_t *job, char *err,
                    size_t errsize)
{
    char msg[400];
    cir_preset_t *p = calloc(1, sizeof(*p));
    char *text = json_dumps(v, JSON_COMPACT);
    int ret = CIR_EINVAL;

    if (p == NULL || text == NULL) {
        snprintf(err, errsize, "preset: out of memory");
        ret = CIR_ENOMEM;
    } else if (strlen(text) >= sizeof(job->preset_doc)) {
        snprintf(err, errsize,
                 "preset: an inline preset of more than %zu bytes of JSON",
                 sizeof(job->preset_doc) - 1);
        ret = CIR_ELIMIT;
    } else if (cir_preset_parse(text, strlen(text), p, msg, sizeof(msg)) < 0) {
        snprintf(err, errsize, "preset.%s", msg);
    } else {
        snprintf(job->preset_doc, sizeof(job->preset_doc), "%s", text);
        snprintf(job->preset, sizeof(job->preset), "%s",
                 p->name[0] ? p->name : "inline");
        ret = 0;
    }
    free(text);
    free(p);
    return ret;
}

/* "rungs": an object of rung names, each an object or null; checked
 * against the preset by cir_preset_override_rungs (here for an inline
 * preset, when the job starts for a named one). */
static int
parse_rungs(const json_t *v, cir_vod_job_t *job, char *err, size_t errsize)
{
    char *text;

    if (!json_is_object(v)) {
        snprintf(err, errsize, "rungs: expected an object of rung names");
        return CIR_EINVAL;
    }
    text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL || strlen(text) >= sizeof(job->rungs)) {
        free(text);
        snprintf(err, errsize, "rungs: more than %zu bytes of JSON",
                 sizeof(job->rungs) - 1);
        return CIR_ELIMIT;
    }
    snprintf(job->rungs, sizeof(job->rungs), "%s", text);
    free(text);
    return 0;
}

/* The rung overrides of a job with an inline preset, checked now. */
static int
check_inline_rungs(const cir_vod_job_t *job, char *err, size_t errsize)
{
    cir_preset_t *p = calloc(1, sizeof(*p));
    json_t *rungs = json_loads(job->rungs, 0, NULL);
    int ret;

    if (p == NULL || rungs == NULL) {
        ret = CIR_ENOMEM;
        snprintf(err, errsize, "rungs: out of memory");
    } else if ((ret = cir_preset_parse(job->preset_doc, strlen(job->preset_doc),
                                       p, err, errsize)) == 0) {
        ret = cir_preset_override_rungs(p, rungs, err, errsize);
    }
    json_decref(rungs);
    free(p);
    return ret;
}

/* "clip": cir_clip_parse, kept in the job's fields. */
static int
parse_clip(const json_t *v, cir_vod_job_t *job, char *err, size_t errsize)
{
    cir_clip_t c;
    int ret = cir_clip_parse(v, &c, err, errsize);

    if (ret == 0) {
        job->clip = c.enabled;
        job->clip_start = c.start;
        job->clip_end = c.end;
    }
    return ret;
}

static int
parse_job_doc(const json_t *root, const char *out_root,
              const char *default_preset, cir_vod_job_t *job, char *err,
              size_t errsize)
{
    const char *name, *input = NULL, *output = NULL, *id = NULL;
    const char *preset = default_preset;
    json_t *v;
    int ret;

    json_object_foreach((json_t *)root, name, v)
    {
        const char **dst = strcmp(name, "input") == 0    ? &input
                           : strcmp(name, "output") == 0 ? &output
                           : strcmp(name, "preset") == 0 ? &preset
                           : strcmp(name, "id") == 0     ? &id
                                                         : NULL;
        if (strcmp(name, "only") == 0) {
            ret = parse_only(v, &job->only, err, errsize);
            if (ret < 0) {
                return ret;
            }
            continue;
        }
        if (strcmp(name, "subtitles") == 0) {
            if ((ret = parse_subtitles(v, job, err, errsize)) < 0) {
                return ret;
            }
            continue;
        }
        if (strcmp(name, "encryption") == 0) {
            if ((ret = parse_encryption(v, job, err, errsize)) < 0) {
                return ret;
            }
            continue;
        }
        if (strcmp(name, "preset") == 0 && json_is_object(v)) {
            if ((ret = parse_inline_preset(v, job, err, errsize)) < 0) {
                return ret;
            }
            preset = NULL;
            continue;
        }
        if (strcmp(name, "rungs") == 0) {
            if ((ret = parse_rungs(v, job, err, errsize)) < 0) {
                return ret;
            }
            continue;
        }
        if (strcmp(name, "overlay") == 0) {
            if ((ret = cir_overlay_parse(v, &job->overlay, err, errsize)) < 0) {
                return ret;
            }
            continue;
        }
        if (strcmp(name, "clip") == 0) {
            if ((ret = parse_clip(v, job, err, errsize)) < 0) {
                return ret;
            }
            continue;
        }
        if (strcmp(name, "audio_tracks") == 0) {
            ret = cir_audio_tracks_parse(v, &job->audio_tracks, err, errsize);
            if (ret < 0) {
                return ret;
            }
            continue;
        }
        if (dst == NULL) {
            snprintf(err, errsize, "unknown field \"%.64s\"", name);
            return CIR_EINVAL;
        }
        if (!json_is_string(v) || json_string_length(v) == 0) {
            snprintf(err, errsize, "%s: expected a non-empty string", name);
            return CIR_EINVAL;
        }
        *dst = json_string_value(v);
    }
    if (input == NULL) {
        snprintf(err, errsize, "input: missing");
        return CIR_EINVAL;
    }
    if (job->preset_doc[0] != '\0') {
        if (job->rungs[0] != '\0' &&
            (ret = check_inline_rungs(job, err, errsize)) < 0) {
            return ret;
        }
    } else if (preset == NULL || !preset_name_ok(preset, strlen(preset))) {
        snprintf(err, errsize, "preset: missing or not [a-z0-9_-]{1,63}");
        return CIR_EINVAL;
    } else if ((ret = set_str(job->preset, sizeof(job->preset), preset,
                              "preset", err, errsize)) < 0) {
        return ret;
    }
    if ((ret = set_str(job->input, sizeof(job->input), input, "input", err,
                       errsize)) < 0) {
        return ret;
    }
    if (output == NULL) {
        /* out_root + the input's file name without its extension */
        char base[256];
        const char *b = strrchr(input, '/');
        char *dot;
        snprintf(base, sizeof(base), "%s", b ? b + 1 : input);
        dot = strrchr(base, '.');
        if (dot && dot != base) {
            *dot = '\0';
        }
        if (out_root == NULL || !cir_path_is_safe_relative(base) ||
            join_root(job->output, sizeof(job->output), out_root, base) < 0) {
            snprintf(err, errsize, "output: missing");
            return CIR_EINVAL;
        }
    } else if ((ret = set_str(job->output, sizeof(job->output), output,
                              "output", err, errsize)) < 0) {
        return ret;
    } else {
        char why[400];
        cir_uri_t u;
        if (cir_uri_parse_why(job->output, &u, why, sizeof(why)) < 0) {
            snprintf(err, errsize, "output: %s", why);
            return CIR_EINVAL;
        }
        if ((ret = cir_output_root_check(&u, why, sizeof(why))) < 0) {
            snprintf(err, errsize, "output: %s", why);
            return ret;
        }
    }
    if (id) {
        snprintf(job->source_version, sizeof(job->source_version), "id=%s", id);
        if (strlen(id) >= CIR_JOB_ID_MAX) {
            snprintf(err, errsize, "id: too long");
            return CIR_ELIMIT;
        }
        cir_job_id_from_name(id, job->id, sizeof(job->id));
    } else {
        const char *b = strrchr(job->output, '/');
        cir_job_id_from_name(b && b[1] ? b + 1 : job->output, job->id,
                             sizeof(job->id));
    }
    return 0;
}

int
cir_intake_parse_job(const char *text, size_t len, const char *out_root,
                     const char *presets_dir, const char *default_preset,
                     cir_vod_job_t *job, char *err, size_t errsize)
{
    json_t *root = NULL;
    const char *ev;
    int ret;

    memset(job, 0, sizeof(*job));
    job->attempt = 1;
    if (err && errsize) {
        err[0] = '\0';
    }
    ret = cir_json_parse(text, len, JOB_MAX_BYTES, &root, err, errsize);
    if (ret < 0) {
        return ret;
    }
    if (!json_is_object(root)) {
        snprintf(err, errsize, "expected a JSON object");
        ret = CIR_EPARSE;
        goto fail;
    }
    ev = json_string_value(json_object_get(root, "Event"));
    if (ev && strcmp(ev, "s3:TestEvent") == 0) {
        snprintf(err, errsize, "s3:TestEvent: nothing to do");
        ret = CIR_ENOTFOUND;
    } else if (json_object_get(root, "Records")) {
        ret = parse_s3_event(root, out_root, presets_dir, default_preset, job,
                             err, errsize);
    } else if (json_object_get(root, "detail-type")) {
        ret = parse_eventbridge(root, out_root, presets_dir, default_preset,
                                job, err, errsize);
    } else {
        ret = parse_job_doc(root, out_root, default_preset, job, err, errsize);
    }
fail:
    json_decref(root);
    return ret;
}

int
cir_intake_publish_tag(const cir_vod_job_t *job,
                       char tag[CIR_PUBLISH_TAG_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char extra[128], *tracks = NULL, *overlay = NULL;
    json_t *tj;
    EVP_MD_CTX *ctx;
    int ok;

    tag[0] = '\0';
    if (job == NULL) {
        return CIR_EINVAL;
    }
    /* without a source version, when the job was made tells uploads apart */
    snprintf(extra, sizeof(extra), "%u %lld", job->only,
             job->source_version[0] ? 0LL : (long long)job->enqueued_us);
    /* a clip is another output (none adds nothing, as below) */
    if (job->clip) {
        size_t n = strlen(extra);
        snprintf(extra + n, sizeof(extra) - n, " clip %.17g %.17g",
                 job->clip_start, job->clip_end);
    }
    /* another selection of audio tracks is another output */
    if (job->audio_tracks.nb > 0) {
        if ((tj = cir_audio_tracks_to_json(&job->audio_tracks)) == NULL) {
            return CIR_ENOMEM;
        }
        tracks = json_dumps(tj, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(tj);
        if (tracks == NULL) {
            return CIR_ENOMEM;
        }
    }
    /* so is a watermark (none adds nothing) */
    if (job->overlay.enabled) {
        if ((tj = cir_overlay_to_json(&job->overlay)) == NULL) {
            free(tracks);
            return CIR_ENOMEM;
        }
        overlay = json_dumps(tj, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(tj);
        if (overlay == NULL) {
            free(tracks);
            return CIR_ENOMEM;
        }
    }
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, job->input, strlen(job->input) + 1) == 1 &&
         EVP_DigestUpdate(ctx, job->output, strlen(job->output) + 1) == 1 &&
         EVP_DigestUpdate(ctx, job->preset, strlen(job->preset) + 1) == 1 &&
         EVP_DigestUpdate(ctx, job->source_version,
                          strlen(job->source_version) + 1) == 1 &&
         EVP_DigestUpdate(ctx, extra, strlen(extra) + 1) == 1 &&
         (tracks == NULL ||
          EVP_DigestUpdate(ctx, tracks, strlen(tracks) + 1) == 1) &&
         /* other subtitles make another output; none adds nothing, so the
          * tags of jobs without them stay what they were */
         (job->subtitles[0] == '\0' ||
          EVP_DigestUpdate(ctx, job->subtitles, strlen(job->subtitles) + 1) ==
              1) &&
         /* so is another encryption (none adds nothing, as above) */
         (job->encryption[0] == '\0' ||
          EVP_DigestUpdate(ctx, job->encryption, strlen(job->encryption) + 1) ==
              1) &&
         /* so are another inline preset and other rung overrides */
         (job->preset_doc[0] == '\0' ||
          EVP_DigestUpdate(ctx, job->preset_doc, strlen(job->preset_doc) + 1) ==
              1) &&
         (job->rungs[0] == '\0' ||
          EVP_DigestUpdate(ctx, job->rungs, strlen(job->rungs) + 1) == 1) &&
         (overlay == NULL ||
          EVP_DigestUpdate(ctx, overlay, strlen(overlay) + 1) == 1) &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    free(tracks);
    free(overlay);
    if (!ok) {
        return CIR_EINTERNAL;
    }
    for (unsigned i = 0; i < mdlen; i++) {
        tag[2 * i] = hex[md[i] >> 4];
        tag[2 * i + 1] = hex[md[i] & 15];
    }
    tag[2 * mdlen] = '\0';
    return 0;
}
