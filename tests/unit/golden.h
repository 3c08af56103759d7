/*
 * Golden files for the origin's renderers: output compared byte for byte
 * with tests/golden/origin/<name>; CIRRUS_UPDATE_GOLDEN=1 rewrites them
 * (review the diff by eye against the specs before committing).
 */
#ifndef CIR_TEST_GOLDEN_H
#define CIR_TEST_GOLDEN_H

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_buf.h"

/* ---- golden files ---- */

static __attribute__((unused)) void
golden_path(char *dst, size_t n, const char *name)
{
    const char *src = getenv("CIRRUS_SOURCE_DIR");
    const char *file = __FILE__, *slash;

    if (src != NULL && *src) {
        snprintf(dst, n, "%s/tests/golden/origin/%s", src, name);
        return;
    }
    /* <src>/tests/unit/test_x.c -> <src>/tests/golden/origin */
    slash = strrchr(file, '/');
    snprintf(dst, n, "%.*s/../golden/origin/%s",
             slash ? (int)(slash - file) : 1, slash ? file : ".", name);
}

static __attribute__((unused)) void
check_golden(const char *name, const cir_buf_t *b)
{
    char path[4096], *want;
    const char *upd = getenv("CIRRUS_UPDATE_GOLDEN");
    size_t n, line = 1, i;
    long len;
    FILE *f;

    golden_path(path, sizeof(path), name);
    if (upd != NULL && strcmp(upd, "1") == 0) {
        f = fopen(path, "wb");
        cr_assert_not_null(f, "cannot write %s", path);
        cr_assert_eq(fwrite(b->data, 1, b->len, f), b->len);
        fclose(f);
        cr_log_warn("rewrote %s", path);
        return;
    }
    f = fopen(path, "rb");
    cr_assert_not_null(f, "missing golden %s (CIRRUS_UPDATE_GOLDEN=1)", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    cr_assert_geq(len, 0);
    want = malloc((size_t)len + 1);
    cr_assert_not_null(want);
    n = fread(want, 1, (size_t)len, f);
    fclose(f);
    want[n] = '\0';
    for (i = 0; i < n && i < b->len && want[i] == b->data[i]; i++) {
        line += want[i] == '\n';
    }
    cr_expect(n == b->len && i == n, "%s differs at line %zu:\n%s", name, line,
              b->data);
    free(want);
}

#endif
