/*
 * RTMP applications: the "applications" option (an object of name:
 * {options}) into one settings record per application, each option the
 * application does not set taken from the global one, validated as
 * strictly as the rest of the configuration (cir_ingest.h).  Pure.
 *
 * Tested by tests/unit/test_ingest_apps.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_ingest.h"
#include "cir_rtmp.h"
#include "cir_storage.h"

#define DEFAULT_APP "live"
#define PUSH_MAX    8 /* as the server's SRV_PUSH_MAX */

const char *const cir_ingest_app_options[] = {
    "live_root",       "key_file",        "on_publish_url", "preset",
    "record_uri",      "public_base_url", "push",           "window",
    "segment_seconds", "part_seconds",    "encryption",     NULL};

static int
is_app_option(const char *name)
{
    for (size_t i = 0; cir_ingest_app_options[i] != NULL; i++) {
        if (strcmp(cir_ingest_app_options[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* "live_root, key_file, ..." for an error message. */
static void
list_app_options(char *out, size_t size)
{
    size_t at = 0;

    out[0] = '\0';
    for (size_t i = 0; cir_ingest_app_options[i] != NULL && at < size; i++) {
        at += (size_t)snprintf(out + at, size - at, "%s%s", i > 0 ? ", " : "",
                               cir_ingest_app_options[i]);
    }
}

/* The global settings as an application's. */
static void
app_from_global(cir_ingest_app_config_t *a, const cir_ingest_config_t *g)
{
    snprintf(a->live_root, sizeof(a->live_root), "%s", g->live_root);
    snprintf(a->key_file, sizeof(a->key_file), "%s", g->key_file);
    snprintf(a->on_publish_url, sizeof(a->on_publish_url), "%s",
             g->on_publish_url);
    snprintf(a->record_uri, sizeof(a->record_uri), "%s", g->record_uri);
    snprintf(a->public_base_url, sizeof(a->public_base_url), "%s",
             g->public_base_url);
    snprintf(a->preset, sizeof(a->preset), "%s", g->preset);
    snprintf(a->push, sizeof(a->push), "%s", g->push);
    snprintf(a->encryption, sizeof(a->encryption), "%s", g->encryption);
    a->part_seconds = g->part_seconds;
    a->segment_seconds = g->segment_seconds;
    a->window = g->window;
}

/* path without its trailing slashes (but "/" stays "/"). */
static size_t
trimmed_len(const char *path)
{
    size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    return n;
}

/* The sibling of path (a folder or a URL's path) named name: its last
 * segment replaced, or name appended when there is no segment after
 * `from` (the start of the part that may be replaced). */
static int
sibling(const char *path, size_t from, const char *name, char *out, size_t size)
{
    size_t n = trimmed_len(path);
    const char *slash = NULL;
    int len;

    for (size_t i = from; i < n; i++) {
        if (path[i] == '/') {
            slash = path + i;
        }
    }
    if (slash == NULL && from > 0) {
        len = snprintf(out, size, "%.*s/%s", (int)n, path, name);
    } else if (slash == NULL) {
        len = snprintf(out, size, "%s", name); /* "live": relative */
    } else {
        len = snprintf(out, size, "%.*s/%s", (int)(slash - path), path, name);
    }
    return len < 0 || (size_t)len >= size ? CIR_EINVAL : 0;
}

/* What the options an application does not set become for one that is
 * not "live": its own folder, URL and recording folder beside the
 * global ones. */
static int
derive_for_app(cir_ingest_app_config_t *a, const json_t *set, char *err,
               size_t errsize)
{
    const char *scheme;
    int ret = 0;
    int len;

    if (strcmp(a->name, DEFAULT_APP) == 0) {
        return 0;
    }
    if (json_object_get(set, "live_root") == NULL) {
        char root[sizeof(a->live_root)];
        ret = sibling(a->live_root, 0, a->name, root, sizeof(root));
        if (ret == 0 && strcmp(a->live_root, "/") == 0) {
            ret = CIR_EINVAL;
        }
        if (ret < 0) {
            snprintf(err, errsize,
                     "applications.%s.live_root: no folder beside live_root "
                     "\"%s\": set it",
                     a->name, a->live_root);
            return ret;
        }
        memcpy(a->live_root, root, sizeof(root));
    }
    if (json_object_get(set, "public_base_url") == NULL &&
        a->public_base_url[0] != '\0') {
        char url[sizeof(a->public_base_url)];
        scheme = strstr(a->public_base_url, "://");
        /* the host stays: only a path segment is replaced */
        size_t from = scheme != NULL ? (size_t)(scheme - a->public_base_url) +
                                           3 + strcspn(scheme + 3, "/")
                                     : 0;
        if (sibling(a->public_base_url, from, a->name, url, sizeof(url)) < 0) {
            snprintf(err, errsize, "applications.%s.public_base_url: too long",
                     a->name);
            return CIR_EINVAL;
        }
        memcpy(a->public_base_url, url, sizeof(url));
    }
    if (json_object_get(set, "record_uri") == NULL &&
        a->record_uri[0] != '\0') {
        char uri[sizeof(a->record_uri)];
        len = snprintf(uri, sizeof(uri), "%.*s/%s",
                       (int)trimmed_len(a->record_uri), a->record_uri, a->name);
        if (len < 0 || (size_t)len >= sizeof(uri)) {
            snprintf(err, errsize, "applications.%s.record_uri: too long",
                     a->name);
            return CIR_EINVAL;
        }
        memcpy(a->record_uri, uri, sizeof(uri));
    }
    return 0;
}

/* The application's push list parses (its URLs are used at a publish). */
static int
check_push(const cir_ingest_app_config_t *a, char *err, size_t errsize)
{
    cir_rtmp_url_t *urls = calloc(PUSH_MAX, sizeof(*urls));
    char perr[400];
    size_t n;
    int ret;

    if (urls == NULL) {
        return CIR_ENOMEM;
    }
    ret = cir_rtmp_url_list_parse(a->push, urls, PUSH_MAX, &n, perr,
                                  sizeof(perr));
    free(urls);
    if (ret < 0) {
        snprintf(err, errsize, "applications.%s.push: %s", a->name, perr);
    }
    return ret;
}

/* One application: name checked, options applied over the global ones
 * through the option table (same bounds, same messages). */
static int
parse_app(const cir_ingest_config_t *g, const char *name, const json_t *obj,
          cir_ingest_app_config_t *a, char *err, size_t errsize)
{
    cir_ingest_config_t *tmp;
    const char *opt;
    json_t *v;
    char oerr[600];
    int ret;

    if (!cir_name_is_safe(name, strlen(name), CIR_INGEST_APP_MAX)) {
        snprintf(err, errsize,
                 "applications: \"%.64s\": an application name is 1 to %d "
                 "characters of A-Z a-z 0-9 _ -",
                 name, CIR_INGEST_APP_MAX);
        return CIR_EINVAL;
    }
    if (!json_is_object(obj)) {
        snprintf(err, errsize, "applications.%s: expected an object", name);
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)obj, opt, v)
    {
        if (!is_app_option(opt)) {
            char list[256];
            list_app_options(list, sizeof(list));
            snprintf(err, errsize,
                     "applications.%s.%.64s: not an option of an application "
                     "(%s)",
                     name, opt, list);
            return CIR_EINVAL;
        }
    }
    if ((tmp = malloc(sizeof(*tmp))) == NULL) {
        return CIR_ENOMEM;
    }
    *tmp = *g;
    ret = cir_options_apply_json(&cir_ingest_options, tmp, obj, oerr,
                                 sizeof(oerr));
    if (ret < 0) {
        snprintf(err, errsize, "applications.%s.%s", name, oerr);
        free(tmp);
        return ret;
    }
    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", name);
    app_from_global(a, tmp);
    free(tmp);
    if (a->segment_seconds < a->part_seconds) {
        snprintf(err, errsize,
                 "applications.%s: segment_seconds %g < part_seconds %g", name,
                 a->segment_seconds, a->part_seconds);
        return CIR_EINVAL;
    }
    if ((ret = check_push(a, err, errsize)) < 0) {
        return ret;
    }
    return derive_for_app(a, obj, err, errsize);
}

/* 1 when a and b are the same folder or one is inside the other
 * (compared as written, trailing slashes aside). */
static int
folders_overlap(const char *a, const char *b)
{
    size_t na = trimmed_len(a), nb = trimmed_len(b);
    size_t n = na < nb ? na : nb;

    if (strncmp(a, b, n) != 0) {
        return 0;
    }
    if (na == nb) {
        return 1;
    }
    /* the shorter is a prefix: inside it only at a segment boundary */
    return (na > nb ? a : b)[n] == '/' || (n == 1 && a[0] == '/');
}

static int
check_apart(const cir_ingest_app_config_t *apps, size_t n, char *err,
            size_t errsize)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = i + 1; k < n; k++) {
            const cir_ingest_app_config_t *a = &apps[i], *b = &apps[k];
            if (folders_overlap(a->live_root, b->live_root)) {
                snprintf(err, errsize,
                         "applications.%s.live_root \"%s\" and "
                         "applications.%s.live_root \"%s\" overlap: two "
                         "applications may not write the same folder",
                         a->name, a->live_root, b->name, b->live_root);
                return CIR_EINVAL;
            }
            if (a->record_uri[0] != '\0' &&
                strcmp(a->record_uri, b->record_uri) == 0) {
                snprintf(err, errsize,
                         "applications.%s.record_uri and "
                         "applications.%s.record_uri are both \"%s\"",
                         a->name, b->name, a->record_uri);
                return CIR_EINVAL;
            }
        }
    }
    return 0;
}

int
cir_ingest_apps_parse(const cir_ingest_config_t *cfg,
                      cir_ingest_app_config_t **apps, size_t *n, char *err,
                      size_t errsize)
{
    json_t *root = NULL, *v;
    json_error_t jerr;
    cir_ingest_app_config_t *out;
    const char *name;
    size_t count = 0;
    int ret = 0;

    *apps = NULL;
    *n = 0;
    if (cfg->applications[0] != '\0') {
        root = json_loads(cfg->applications, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(root)) {
            snprintf(err, errsize, "applications: not a JSON object");
            json_decref(root);
            return CIR_EINVAL;
        }
        if (json_object_size(root) == 0 ||
            json_object_size(root) > CIR_INGEST_APPS_MAX) {
            snprintf(err, errsize,
                     "applications: 1 to %d applications (or leave it unset)",
                     CIR_INGEST_APPS_MAX);
            json_decref(root);
            return CIR_EINVAL;
        }
    }
    out = calloc(root != NULL ? json_object_size(root) : 1, sizeof(*out));
    if (out == NULL) {
        json_decref(root);
        return CIR_ENOMEM;
    }
    if (root == NULL) {
        snprintf(out[0].name, sizeof(out[0].name), DEFAULT_APP);
        app_from_global(&out[0], cfg);
        count = 1;
    } else {
        json_object_foreach(root, name, v)
        {
            if ((ret = parse_app(cfg, name, v, &out[count], err, errsize)) <
                0) {
                break;
            }
            count++;
        }
    }
    json_decref(root);
    if (ret == 0) {
        ret = check_apart(out, count, err, errsize);
    }
    if (ret < 0) {
        free(out);
        return ret;
    }
    *apps = out;
    *n = count;
    return 0;
}
