/*
 * SRT streamids of publishers: the access-control convention of libsrt's
 * docs/features/access-control.md ("#!::" then comma-separated key=value
 * pairs) and the plain "APP/KEY" form.  Pure: see cir_ingest.h.
 *
 * Tested by tests/unit/test_ingest_srt_streamid.c.
 */
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "cir_ingest.h"
#include "cir_rtmp.h"

#define APP        "live" /* the application of a streamid without one */
#define SID_MAX    512    /* SRT's own limit for a streamid */
#define ACL_PREFIX "#!::"

/* "APP/KEY" or "KEY" (len bytes of r) into app and key. */
static int
take_resource(const char *r, size_t len, char app[64], char key[64],
              const char **why)
{
    const char *slash = memchr(r, '/', len);

    snprintf(app, 64, "%s", APP);
    if (slash != NULL) {
        size_t alen = (size_t)(slash - r);
        if (alen == 0 || alen >= 64) {
            *why = alen == 0 ? "no application before '/'"
                             : "application name longer than 63 bytes";
            return CIR_EINVAL;
        }
        memcpy(app, r, alen);
        app[alen] = '\0';
        if (!cir_rtmp_valid_key(app)) {
            *why = "invalid application name";
            return CIR_EINVAL;
        }
        len -= alen + 1;
        r = slash + 1;
    }
    if (len == 0 || len >= 64) {
        *why = len == 0 ? "no stream key" : "stream key longer than 63 bytes";
        return CIR_EINVAL;
    }
    memcpy(key, r, len);
    key[len] = '\0';
    if (!cir_rtmp_valid_key(key)) {
        *why = "invalid stream key";
        return CIR_EINVAL;
    }
    return 0;
}

/* Appends "k=v" to args, '&' between pairs. */
static int
add_arg(char args[256], const char *pair, size_t len, const char **why)
{
    size_t at = strlen(args);

    if (at + (at > 0) + len >= 256) {
        *why = "streamid parameters longer than 255 bytes";
        return CIR_EINVAL;
    }
    if (at > 0) {
        args[at++] = '&';
    }
    memcpy(args + at, pair, len);
    args[at + len] = '\0';
    return 0;
}

/* One "k=v" of the access-control form. */
static int
acl_pair(const char *p, size_t len, char app[64], char key[64], char args[256],
         int *have_r, int *have_m, const char **why)
{
    const char *eq = memchr(p, '=', len);
    size_t klen, vlen;
    const char *v;

    if (eq == NULL || eq == p) {
        *why = "malformed access-control streamid (key=value pairs)";
        return CIR_EINVAL;
    }
    klen = (size_t)(eq - p);
    v = eq + 1;
    vlen = len - klen - 1;
    if (klen == 1 && p[0] == 'r') {
        *have_r = 1;
        return take_resource(v, vlen, app, key, why);
    }
    if (klen == 1 && p[0] == 'm') {
        if (vlen != 7 || memcmp(v, "publish", 7) != 0) {
            *why = "mode is not publish (this server only ingests)";
            return CIR_EINVAL;
        }
        *have_m = 1;
        return 0;
    }
    if (klen == 1 && p[0] == 't') {
        if (vlen != 6 || memcmp(v, "stream", 6) != 0) {
            *why = "type is not stream";
            return CIR_EINVAL;
        }
        return 0;
    }
    return add_arg(args, p, len, why);
}

static int
parse_acl(const char *s, char app[64], char key[64], char args[256],
          const char **why)
{
    int have_r = 0, have_m = 0, ret;

    if (*s == '{') {
        *why = "nested access-control streamids are not supported";
        return CIR_EINVAL;
    }
    while (*s != '\0') {
        size_t len = strcspn(s, ",");
        if ((ret = acl_pair(s, len, app, key, args, &have_r, &have_m, why)) <
            0) {
            return ret;
        }
        s += len + (s[len] == ',');
    }
    if (!have_r) {
        *why = "no resource (r=APP/KEY)";
        return CIR_EINVAL;
    }
    if (!have_m) {
        /* the convention's default mode is request (a player) */
        *why = "no m=publish (the default mode is request)";
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_srt_streamid_parse(const char *sid, char app[64], char key[64],
                       char args[256], const char **why)
{
    size_t len;
    const char *q;

    app[0] = key[0] = args[0] = '\0';
    *why = NULL;
    if (sid == NULL || sid[0] == '\0') {
        *why = "no streamid";
        return CIR_EINVAL;
    }
    if (strnlen(sid, SID_MAX + 1) > SID_MAX) {
        *why = "streamid longer than 512 bytes";
        return CIR_EINVAL;
    }
    if (strncmp(sid, ACL_PREFIX, 4) == 0) {
        return parse_acl(sid + 4, app, key, args, why);
    }
    if (sid[0] == '#') {
        *why = "malformed access-control streamid (it starts \"#!::\")";
        return CIR_EINVAL;
    }
    q = strchr(sid, '?');
    len = q != NULL ? (size_t)(q - sid) : strlen(sid);
    if (q != NULL && add_arg(args, q + 1, strlen(q + 1), why) < 0) {
        return CIR_EINVAL;
    }
    return take_resource(sid, len, app, key, why);
}
