/*
 * The live store's names (the layout at the top of cir_live.h), spelt in
 * one place: the folders of a stream and of a rendition, and the files in
 * a rendition's folder.  Pure string work.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "cir_live.h"

typedef struct {
    const char *prefix, *suffix;
    int numbered;
} name_form_t;

static const name_form_t forms[] = {
    [CIR_LIVE_FILE_INDEX] = {"index", "", 0},
    [CIR_LIVE_FILE_INIT] = {"init-", ".mp4", 1},
    [CIR_LIVE_FILE_SEGMENT] = {"seg-", ".m4s", 1},
    [CIR_LIVE_FILE_INDEX_SLOT] = {".index.", "", 1},
};

#define NB_FORMS (sizeof(forms) / sizeof(forms[0]))

static int
fits(char *out, size_t size, int n)
{
    if (n < 0 || (size_t)n >= size) {
        if (size > 0) {
            out[0] = '\0';
        }
        return -ENAMETOOLONG;
    }
    return 0;
}

int
cir_live_path(char *out, size_t size, const char *dir, cir_live_file_t kind,
              uint64_t n)
{
    const name_form_t *f;
    unsigned long long x = (unsigned long long)n;
    int len;

    if (out == NULL || size == 0 || (unsigned)kind >= NB_FORMS) {
        return CIR_EINVAL;
    }
    f = &forms[kind];
    if (f->numbered) {
        len = dir ? snprintf(out, size, "%s/%s%llu%s", dir, f->prefix, x,
                             f->suffix)
                  : snprintf(out, size, "%s%llu%s", f->prefix, x, f->suffix);
    } else {
        len = dir ? snprintf(out, size, "%s/%s", dir, f->prefix)
                  : snprintf(out, size, "%s", f->prefix);
    }
    return fits(out, size, len);
}

int
cir_live_dir(char *out, size_t size, const char *root, const char *stream,
             const char *rendition)
{
    int len;

    if (out == NULL || size == 0 || root == NULL || stream == NULL) {
        return CIR_EINVAL;
    }
    len = rendition ? snprintf(out, size, "%s/%s/%s", root, stream, rendition)
                    : snprintf(out, size, "%s/%s", root, stream);
    return fits(out, size, len);
}

int
cir_live_parse_number(const char *s, size_t len, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    size_t i;

    if (s == NULL || len == 0 || len > 20 || (len > 1 && s[0] == '0')) {
        return CIR_EINVAL;
    }
    for (i = 0; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') {
            return CIR_EINVAL;
        }
        d = (unsigned)(s[i] - '0');
        if (x > (max - d) / 10) {
            return CIR_EINVAL;
        }
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

int
cir_live_name_parse(const char *name, size_t len, cir_live_file_t *kind,
                    uint64_t *n)
{
    size_t k, pl, sl;

    if (name == NULL || kind == NULL || n == NULL) {
        return CIR_EINVAL;
    }
    for (k = 0; k < NB_FORMS; k++) {
        const name_form_t *f = &forms[k];
        pl = strlen(f->prefix);
        sl = strlen(f->suffix);
        if (!f->numbered) {
            if (len == pl && memcmp(name, f->prefix, pl) == 0) {
                *kind = (cir_live_file_t)k;
                *n = 0;
                return 0;
            }
            continue;
        }
        if (len > pl + sl && memcmp(name, f->prefix, pl) == 0 &&
            memcmp(name + len - sl, f->suffix, sl) == 0 &&
            cir_live_parse_number(name + pl, len - pl - sl, UINT64_MAX, n) ==
                0) {
            *kind = (cir_live_file_t)k;
            return 0;
        }
    }
    return CIR_ENOTFOUND;
}
