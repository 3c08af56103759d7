/*
 * The preset fixture shared by common's and the transcoder's preset tests:
 * the shipped presets folder and a valid one-rung ladder to splice into
 * documents.  Header-only: each test binary links one library.
 */
#ifndef CIR_TEST_PRESET_FIXTURE_H
#define CIR_TEST_PRESET_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A valid rung; tests splice it and other fields into documents. */
#define RUNG "{\"name\":\"720p\",\"height\":720,\"bitrate_kbps\":3000}"

/* The presets shipped in the source tree's presets/. */
static __attribute__((unused)) const char *
presets_dir(void)
{
    static char dir[4096];
    const char *src = getenv("CIRRUS_SOURCE_DIR");

    cr_assert_not_null(src, "CIRRUS_SOURCE_DIR is set by ctest");
    snprintf(dir, sizeof(dir), "%s/presets", src);
    return dir;
}

/* (Re)writes <dir>/<name>.json with doc. */
static __attribute__((unused)) void
write_preset(const char *dir, const char *name, const char *doc)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(doc, 1, strlen(doc), f), strlen(doc));
    cr_assert_eq(fclose(f), 0);
}

#endif
