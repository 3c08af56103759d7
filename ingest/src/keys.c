/*
 * Stream keys from a file: one allowed key a line, '#' starts a comment.
 * Reloaded when its modification time changes or on request (SIGHUP).
 *
 * Tested by tests/unit/test_ingest_config.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cir_error.h"
#include "cir_rtmp.h"
#include "cir_ingest.h"

#define MAX_KEYS 100000

static void
free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
    }
    free(keys);
}

int
cir_keyfile_load(cir_keyfile_t *k, const char *path, int force)
{
    struct stat st;
    FILE *f = NULL;
    char line[256];
    char **keys = NULL;
    size_t n = 0;
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
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s = line, *e, *rest;
        char **nk;
        s += strspn(s, " \t");
        e = s + strcspn(s, " \t\r\n#");
        /* one key a line; anything after it but a comment: not a key */
        rest = e + strspn(e, " \t\r\n");
        *e = '\0';
        if (*s == '\0' || (*rest != '\0' && *rest != '#') ||
            !cir_rtmp_valid_key(s)) {
            continue;
        }
        if (n >= MAX_KEYS) {
            ret = CIR_ELIMIT;
            goto fail;
        }
        nk = realloc(keys, (n + 1) * sizeof(*keys));
        if (nk == NULL) {
            ret = CIR_ENOMEM;
            goto fail;
        }
        keys = nk;
        if ((keys[n] = strdup(s)) == NULL) {
            ret = CIR_ENOMEM;
            goto fail;
        }
        n++;
    }
    fclose(f);
    free_keys(k->keys, k->count);
    k->keys = keys != NULL ? keys : calloc(1, sizeof(char *));
    k->count = n;
    k->mtime_ns = mtime;
    snprintf(k->path, sizeof(k->path), "%s", path);
    return 0;
fail:
    fclose(f);
    free_keys(keys, n);
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

void
cir_keyfile_free(cir_keyfile_t *k)
{
    free_keys(k->keys, k->count);
    k->keys = NULL;
    k->count = 0;
}
