/*
 * Storage URIs and the names in them: parsing, formatting and joining,
 * safe relative paths and names, published version ids, and the rules an
 * output root must follow.
 *
 * URIs are taken as written: no percent-decoding (file:///a%20b names a file
 * called "a%20b"); S3 keys are passed to the S3 backend as they are.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cir_error.h"
#include "cir_storage.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

static int
has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

static int
is_ipv4_like(const char *s)
{
    int dots = 0;

    for (; *s; s++) {
        if (*s == '.') {
            dots++;
        } else if (!isdigit((unsigned char)*s)) {
            return 0;
        }
    }
    return dots == 3;
}

/* S3 bucket naming rules (the DNS-compatible subset): NULL when the name
 * follows them, else the rule it breaks. */
static const char *
bucket_problem(const char *b, size_t n)
{
    char name[64];

    if (n < 3 || n > 63) {
        return "an S3 bucket name has 3 to 63 characters";
    }
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-')) {
            return "an S3 bucket name has only lowercase letters, digits, "
                   "'.' and '-'";
        }
        if (i > 0 && (c == '.' || c == '-') && b[i - 1] == '.') {
            return "an S3 bucket name has no \"..\" or \".-\"";
        }
        if (i > 0 && c == '.' && b[i - 1] == '-') {
            return "an S3 bucket name has no \"-.\"";
        }
    }
    if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1])) {
        return "an S3 bucket name begins and ends with a letter or digit";
    }
    memcpy(name, b, n);
    name[n] = '\0';
    if (is_ipv4_like(name)) {
        return "an S3 bucket name is not an IP address";
    }
    if (strncmp(name, "xn--", 4) == 0) {
        return "an S3 bucket name does not begin with \"xn--\"";
    }
    return NULL;
}

/* "scheme://" with a scheme we do not serve. */
static int
has_other_scheme(const char *s)
{
    const char *p = s;

    if (!isalpha((unsigned char)*p)) {
        return 0;
    }
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    return strncmp(p, "://", 3) == 0;
}

static int
set_path(cir_uri_t *u, const char *path)
{
    size_t n = strlen(path);

    if (n == 0) {
        return CIR_EINVAL;
    }
    if (n >= sizeof(u->path)) {
        return CIR_ELIMIT;
    }
    memcpy(u->path, path, n + 1);
    return 0;
}

/* The reason of a refusal, when the caller wants one. */
static int
refuse(int code, char *why, size_t size, const char *reason)
{
    if (why != NULL && size > 0) {
        snprintf(why, size, "%s", reason);
    }
    return code;
}

static int
path_or_why(cir_uri_t *u, const char *path, char *why, size_t size)
{
    int ret = set_path(u, path);

    if (ret == CIR_ELIMIT) {
        return refuse(ret, why, size, "the path is too long");
    }
    if (ret < 0) {
        return refuse(ret, why, size, "an empty path");
    }
    return 0;
}

int
cir_uri_parse(const char *s, cir_uri_t *u)
{
    return cir_uri_parse_why(s, u, NULL, 0);
}

int
cir_uri_parse_why(const char *s, cir_uri_t *u, char *why, size_t size)
{
    const char *problem;
    size_t n;

    if (s == NULL || u == NULL) {
        return refuse(CIR_EINVAL, why, size, "no URI");
    }
    memset(u, 0, sizeof(*u));
    n = strnlen(s, CIR_URI_MAX);
    if (n == 0) {
        return refuse(CIR_EINVAL, why, size, "an empty URI");
    }
    if (n >= CIR_URI_MAX) {
        return refuse(CIR_ELIMIT, why, size,
                      "a URI has fewer than " STR(CIR_URI_MAX) " bytes");
    }
    if (has_control(s)) {
        return refuse(CIR_EINVAL, why, size, "it holds a control character");
    }

    if (strncmp(s, "s3://", 5) == 0) {
        const char *b = s + 5, *slash = strchr(b, '/');
        size_t blen = slash ? (size_t)(slash - b) : strlen(b);

        if ((problem = bucket_problem(b, blen)) != NULL) {
            return refuse(CIR_EINVAL, why, size, problem);
        }
        u->scheme = CIR_URI_S3;
        memcpy(u->bucket, b, blen);
        u->bucket[blen] = '\0';
        if (slash) {
            if (slash[1] == '/') {
                return refuse(CIR_EINVAL, why, size,
                              "an S3 key never begins with '/'");
            }
            memcpy(u->path, slash + 1, strlen(slash + 1) + 1);
        }
        return 0;
    }

    u->scheme = CIR_URI_FILE;
    if (strncmp(s, "file://", 7) == 0) {
        const char *p = s + 7;
        if (strncmp(p, "localhost/", 10) == 0) {
            p += 9;
        }
        if (*p != '/') {
            return refuse(CIR_EUNSUPPORTED, why, size,
                          "a file:// URI names a local path "
                          "(file:///path), not a host");
        }
        return path_or_why(u, p, why, size);
    }
    if (strncmp(s, "file:", 5) == 0) {
        return path_or_why(u, s + 5, why, size);
    }
    if (has_other_scheme(s)) {
        return refuse(CIR_EUNSUPPORTED, why, size,
                      "only s3://bucket/key, file:///path or a path are "
                      "read and written (an http(s) source: copy it to S3 "
                      "or a local file first)");
    }
    return path_or_why(u, s, why, size);
}

int
cir_uri_format(const cir_uri_t *u, char *out, size_t size)
{
    int n;

    if (u == NULL || out == NULL || size == 0) {
        return CIR_EINVAL;
    }
    if (u->scheme == CIR_URI_S3) {
        n = snprintf(out, size, "s3://%s/%s", u->bucket, u->path);
    } else if (u->path[0] == '/') {
        n = snprintf(out, size, "file://%s", u->path);
    } else {
        n = snprintf(out, size, "file:%s", u->path);
    }
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_path_is_safe_relative(const char *rel)
{
    const char *seg, *p;

    if (rel == NULL || rel[0] == '\0' || rel[0] == '/' ||
        strnlen(rel, CIR_URI_MAX) >= CIR_URI_MAX) {
        return 0;
    }
    seg = rel;
    for (p = rel;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/' || c == '\0') {
            size_t len = (size_t)(p - seg);
            if (len == 0 || (len == 1 && seg[0] == '.') ||
                (len == 2 && seg[0] == '.' && seg[1] == '.')) {
                return 0;
            }
            if (c == '\0') {
                return 1;
            }
            seg = p + 1;
        } else if (c == '\\' || c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
}

int
cir_uri_join(const cir_uri_t *base, const char *rel, cir_uri_t *out)
{
    size_t n;
    int m;

    if (base == NULL || out == NULL || !cir_path_is_safe_relative(rel)) {
        return CIR_EINVAL;
    }
    if (out != base) {
        *out = *base;
    }
    n = strlen(out->path);
    while (n > 0 && out->path[n - 1] == '/') {
        n--;
    }
    m = snprintf(out->path + n, sizeof(out->path) - n, "%s%s", n > 0 ? "/" : "",
                 rel);
    if (m < 0 || (size_t)m >= sizeof(out->path) - n) {
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_output_root_check(const cir_uri_t *out, char *why, size_t size)
{
    const char *k;
    size_t n;

    if (out == NULL || out->scheme != CIR_URI_S3) {
        return 0;
    }
    k = out->path;
    n = strlen(k);
    while (n > 0 && k[n - 1] == '/') {
        n--; /* the prefix's own trailing '/' is the one we add */
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (k[i] == '/' && k[i + 1] == '/') {
            snprintf(why, size,
                     "output key prefix \"%.*s\": an empty path segment "
                     "(\"//\") names no output folder",
                     (int)(n > 200 ? 200 : n), k);
            return CIR_EINVAL;
        }
    }
    if (n + CIR_ASSET_KEY_RESERVE > CIR_S3_KEY_MAX) {
        snprintf(why, size,
                 "output key prefix of %zu bytes: output keys would exceed "
                 "S3's %d-byte key limit (an asset prefix may have at most "
                 "%d bytes)",
                 n, CIR_S3_KEY_MAX, CIR_S3_KEY_MAX - CIR_ASSET_KEY_RESERVE);
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_name_is_safe(const char *s, size_t len, size_t max_len)
{
    if (s == NULL || len == 0 || len > max_len) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

void
cir_job_id_from_name(const char *name, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    if (size == 0) {
        return;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        int plain = isalnum(*p) || *p == '.' || *p == '_' || *p == '-';
        size_t need = plain ? 1 : 3;
        if (*p >= 0x80) {
            plain = 0; /* isalnum in a locale could say yes */
            need = 3;
        }
        if (o + need >= size) {
            break;
        }
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

int
cir_label_is_safe(const char *s, size_t max_len)
{
    size_t len = s != NULL ? strlen(s) : 0;

    if (len == 0 || len > max_len) {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* ---- published versions ---- */

int
cir_version_id_make(int64_t wall_us, uint64_t random, char *out, size_t size)
{
    time_t secs = (time_t)(wall_us / 1000000);
    struct tm tm;
    int n;

    if (out == NULL || size == 0 || wall_us < 0 ||
        gmtime_r(&secs, &tm) == NULL) {
        return CIR_EINVAL;
    }
    n = snprintf(out, size, "%04d%02d%02dT%02d%02d%02d%03dZ-%016llx",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(wall_us / 1000 % 1000),
                 (unsigned long long)random);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_version_id_is_valid(const char *id)
{
    return id != NULL && cir_name_is_safe(id, strnlen(id, CIR_VERSION_ID_MAX),
                                          CIR_VERSION_ID_MAX - 1);
}
