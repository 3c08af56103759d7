/*
 * What a preset name that names no file is told: the closest preset's name
 * (an edit distance of at most a third of the name, at least 2) and the
 * list of presets the folder holds.  Tested in tests/unit/test_common_preset.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preset_names.h"

#define MAX_LISTED 32 /* a folder with more: the first, sorted */
#define NAME_MAX_  63

typedef struct {
    char names[MAX_LISTED][NAME_MAX_ + 1];
    size_t n;
} listing_t;

/* Levenshtein distance of two short names (both at most NAME_MAX_). */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[NAME_MAX_ + 2];

    if (la > NAME_MAX_ || lb > NAME_MAX_) {
        return (size_t)-1;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            if (up + 1 < best) {
                best = up + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The folder's presets (NAME.json), sorted. */
static void
list_presets(const char *dir, listing_t *l)
{
    struct dirent *e;
    DIR *d = opendir(dir);

    l->n = 0;
    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL && l->n < MAX_LISTED) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 5 || len - 5 > NAME_MAX_ ||
            strcmp(e->d_name + len - 5, ".json") != 0) {
            continue;
        }
        memcpy(l->names[l->n], e->d_name, len - 5);
        l->names[l->n][len - 5] = '\0';
        l->n++;
    }
    closedir(d);
    qsort(l->names, l->n, sizeof(l->names[0]), by_name);
}

/* Appends s to out (len bytes used of size), truncating. */
static size_t
append(char *out, size_t size, size_t len, const char *s)
{
    size_t n = strlen(s);

    if (len + 1 >= size) {
        return len;
    }
    if (n > size - 1 - len) {
        n = size - 1 - len;
    }
    memcpy(out + len, s, n);
    out[len + n] = '\0';
    return len + n;
}

void
cir_preset_suggest(const char *dir, const char *name, char *out, size_t size)
{
    size_t best = (size_t)-1, limit = strlen(name) / 3, len = 0;
    const char *closest = NULL;
    listing_t l;

    if (size == 0) {
        return;
    }
    out[0] = '\0';
    list_presets(dir, &l);
    if (l.n == 0) {
        append(out, size, 0, "; the folder holds no preset");
        return;
    }
    limit = limit < 2 ? 2 : limit;
    for (size_t i = 0; i < l.n; i++) {
        size_t d = edit_distance(name, l.names[i]);
        if (d <= limit && d < best) {
            best = d;
            closest = l.names[i];
        }
    }
    if (closest != NULL) {
        len = append(out, size, len, "; did you mean \"");
        len = append(out, size, len, closest);
        len = append(out, size, len, "\"?");
    }
    len = append(out, size, len, "; presets:");
    for (size_t i = 0; i < l.n; i++) {
        len = append(out, size, len, " ");
        len = append(out, size, len, l.names[i]);
    }
}
