/*
 * Stream keys from a file: one allowed key a line, '#' starts a comment;
 * after the key, the key's own push destinations (URLs as the push
 * option's, space separated), which replace its application's.  A line
 * that is not that is skipped (counted, the first one described).
 * Reloaded when its modification time changes or on request (SIGHUP).
 *
 * Tested by tests/unit/test_ingest_config.c and test_ingest_apps.c (a
 * key's own push list).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cir_error.h"
#include "cir_rtmp.h"
#include "cir_ingest.h"

#define MAX_KEYS  100000
#define LINE_MAX_ 8192 /* bytes of a line, at most */
#define PUSH_MAX  8    /* destinations of a key, as the push option's */

static void
free_keys(char **keys, char **push, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
        if (push != NULL) {
            free(push[i]);
        }
    }
    free(keys);
    free(push);
}

/* The rest of a key's line: "" or its push list, checked. */
static int
check_push_list(const char *list, char *why, size_t size)
{
    cir_rtmp_url_t *urls;
    char err[256];
    size_t n;
    int ret;

    if (*list == '\0') {
        return 0;
    }
    if ((urls = calloc(PUSH_MAX, sizeof(*urls))) == NULL) {
        return CIR_ENOMEM;
    }
    ret = cir_rtmp_url_list_parse(list, urls, PUSH_MAX, &n, err, sizeof(err));
    free(urls);
    if (ret < 0) {
        snprintf(why, size, "%.100s", err);
    }
    return ret;
}

/* One line: *key (NUL-terminated in line) and *push ("" when none), or
 * 0 for a blank or comment line, CIR_EINVAL with why. */
static int
split_line(char *line, char **key, char **push, char *why, size_t size)
{
    char *s = line + strspn(line, " \t"), *e, *rest, *end;

    e = s + strcspn(s, " \t\r\n#");
    rest = e + strspn(e, " \t\r\n");
    /* the comment and trailing blanks off the push list */
    end = rest + strcspn(rest, "#\r\n");
    while (end > rest && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    *end = '\0';
    *e = '\0';
    if (*s == '\0') {
        return 0;
    }
    if (!cir_rtmp_valid_key(s)) {
        snprintf(why, size, "not a stream key ([A-Za-z0-9_-], 1 to 63)");
        return CIR_EINVAL;
    }
    *key = s;
    *push = rest;
    return check_push_list(rest, why, size) < 0 ? CIR_EINVAL : 1;
}

int
cir_keyfile_load(cir_keyfile_t *k, const char *path, int force)
{
    struct stat st;
    FILE *f = NULL;
    char *line = NULL, why[128];
    size_t cap = 0, n = 0, bad = 0, lineno = 0;
    char **keys = NULL, **push = NULL;
    ssize_t len;
    int64_t mtime;
    int ret;

    if (stat(path, &st) < 0) {
        return -errno;
    }
    mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (!force && k->keys != NULL && mtime == k->mtime_ns &&
        strcmp(path, k->path) == 0) {
        return 0;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return -errno;
    }
    k->first_bad[0] = '\0';
    while ((len = getline(&line, &cap, f)) >= 0) {
        char *key = NULL, *list = NULL;
        char **nk, **np;
        lineno++;
        ret = (size_t)len > LINE_MAX_
                  ? CIR_EINVAL
                  : split_line(line, &key, &list, why, sizeof(why));
        if ((size_t)len > LINE_MAX_) {
            snprintf(why, sizeof(why), "longer than %d bytes", LINE_MAX_);
        }
        if (ret == CIR_ENOMEM) {
            goto fail;
        }
        if (ret < 0) {
            if (bad++ == 0) {
                snprintf(k->first_bad, sizeof(k->first_bad), "line %zu: %s",
                         lineno, why);
            }
            continue;
        }
        if (ret == 0) {
            continue;
        }
        if (n >= MAX_KEYS) {
            ret = CIR_ELIMIT;
            goto fail;
        }
        nk = realloc(keys, (n + 1) * sizeof(*keys));
        if (nk != NULL) {
            keys = nk;
        }
        np = realloc(push, (n + 1) * sizeof(*push));
        if (np != NULL) {
            push = np;
        }
        ret = CIR_ENOMEM;
        if (nk == NULL || np == NULL) {
            goto fail;
        }
        push[n] = NULL;
        if ((keys[n] = strdup(key)) == NULL) {
            goto fail;
        }
        n++; /* keys[n - 1] is set: freed with the rest on failure */
        if (*list != '\0' && (push[n - 1] = strdup(list)) == NULL) {
            goto fail;
        }
    }
    free(line);
    fclose(f);
    free_keys(k->keys, k->push, k->count);
    k->keys = keys != NULL ? keys : calloc(1, sizeof(char *));
    k->push = push;
    k->count = n;
    k->bad_lines = bad;
    k->mtime_ns = mtime;
    snprintf(k->path, sizeof(k->path), "%s", path);
    return 0;
fail:
    free(line);
    fclose(f);
    free_keys(keys, push, n);
    return ret;
}

int
cir_keyfile_allows(const cir_keyfile_t *k, const char *key)
{
    for (size_t i = 0; i < k->count; i++) {
        if (strcmp(k->keys[i], key) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *
cir_keyfile_push(const cir_keyfile_t *k, const char *key)
{
    for (size_t i = 0; i < k->count; i++) {
        if (strcmp(k->keys[i], key) == 0) {
            return k->push != NULL ? k->push[i] : NULL;
        }
    }
    return NULL;
}

void
cir_keyfile_free(cir_keyfile_t *k)
{
    free_keys(k->keys, k->push, k->count);
    k->keys = NULL;
    k->push = NULL;
    k->count = 0;
}
