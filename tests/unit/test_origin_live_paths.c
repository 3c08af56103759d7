/*
 * The live store's names: every file of a rendition folder, the folders,
 * the bare names, bounds, and the parser that reads them back.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "cir_error.h"
#include "cir_live.h"

Test(live_paths, files_of_a_rendition)
{
    char out[128];

    cr_assert_eq(
        cir_live_path(out, sizeof(out), "/s/a/720p", CIR_LIVE_FILE_INDEX, 7),
        0);
    cr_assert_str_eq(out, "/s/a/720p/index");
    cr_assert_eq(
        cir_live_path(out, sizeof(out), "/s/a/720p", CIR_LIVE_FILE_INIT, 2), 0);
    cr_assert_str_eq(out, "/s/a/720p/init-2.mp4");
    cr_assert_eq(cir_live_path(out, sizeof(out), "/s/a/720p",
                               CIR_LIVE_FILE_SEGMENT, UINT64_MAX),
                 0);
    cr_assert_str_eq(out, "/s/a/720p/seg-18446744073709551615.m4s");
    cr_assert_eq(
        cir_live_path(out, sizeof(out), "d", CIR_LIVE_FILE_INDEX_SLOT, 1), 0);
    cr_assert_str_eq(out, "d/.index.1");
}

Test(live_paths, bare_names)
{
    char out[32];

    cr_assert_eq(cir_live_path(out, sizeof(out), NULL, CIR_LIVE_FILE_INDEX, 0),
                 0);
    cr_assert_str_eq(out, "index");
    cr_assert_eq(
        cir_live_path(out, sizeof(out), NULL, CIR_LIVE_FILE_SEGMENT, 42), 0);
    cr_assert_str_eq(out, "seg-42.m4s");
}

Test(live_paths, folders)
{
    char out[64];

    cr_assert_eq(cir_live_dir(out, sizeof(out), "/live", "s1", NULL), 0);
    cr_assert_str_eq(out, "/live/s1");
    cr_assert_eq(cir_live_dir(out, sizeof(out), "/live", "s1", "720p"), 0);
    cr_assert_str_eq(out, "/live/s1/720p");
    cr_assert_eq(cir_live_dir(out, sizeof(out), NULL, "s1", NULL), CIR_EINVAL);
}

Test(live_paths, too_long_is_refused_whole)
{
    char out[16];

    /* "/root/seg-1.m4s" is 15 bytes and fits; one more does not */
    cr_assert_eq(
        cir_live_path(out, sizeof(out), "/root", CIR_LIVE_FILE_SEGMENT, 1), 0);
    cr_assert_eq(
        cir_live_path(out, sizeof(out), "/root", CIR_LIVE_FILE_SEGMENT, 10),
        -ENAMETOOLONG);
    cr_assert_str_eq(out, "");
    cr_assert_eq(cir_live_dir(out, sizeof(out), "/root", "stream", "rend"),
                 -ENAMETOOLONG);
    cr_assert_str_eq(out, "");
    cr_assert_eq(cir_live_path(out, sizeof(out), "/r", (cir_live_file_t)99, 1),
                 CIR_EINVAL);
}

Test(live_paths, names_read_back)
{
    static const cir_live_file_t kinds[] = {
        CIR_LIVE_FILE_INDEX, CIR_LIVE_FILE_INIT, CIR_LIVE_FILE_SEGMENT,
        CIR_LIVE_FILE_INDEX_SLOT};
    static const uint64_t numbers[] = {1, 9, 10, 4294967296ULL, UINT64_MAX};
    cir_live_file_t kind;
    char name[48];
    uint64_t n;
    size_t k, i;

    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
            cr_assert_eq(
                cir_live_path(name, sizeof(name), NULL, kinds[k], numbers[i]),
                0);
            cr_assert_eq(cir_live_name_parse(name, strlen(name), &kind, &n), 0,
                         "%s", name);
            cr_assert_eq(kind, kinds[k], "%s", name);
            cr_assert_eq(n, kinds[k] == CIR_LIVE_FILE_INDEX ? 0 : numbers[i]);
        }
    }
}

Test(live_paths, names_that_are_not_store_files)
{
    static const char *bad[] = {
        "seg-01.m4s", "seg-.m4s",      "seg-1.mp4",
        "init-1.m4s", "seg-+1.m4s",    "indexx",
        "index.m3u8", "part-1.0.m4s",  "seg-18446744073709551616.m4s",
        ".index.",    "seg-1.m4s.tmp", ""};
    cir_live_file_t kind;
    uint64_t n;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(cir_live_name_parse(bad[i], strlen(bad[i]), &kind, &n),
                     CIR_ENOTFOUND, "%s", bad[i]);
    }
}

Test(live_paths, canonical_numbers)
{
    uint64_t v;

    cr_assert_eq(cir_live_parse_number("0", 1, UINT64_MAX, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(cir_live_parse_number("4294967295", 10, UINT32_MAX, &v), 0);
    cr_assert_eq(v, UINT32_MAX);
    cr_assert_eq(cir_live_parse_number("4294967296", 10, UINT32_MAX, &v),
                 CIR_EINVAL);
    cr_assert_eq(cir_live_parse_number("007", 3, UINT64_MAX, &v), CIR_EINVAL);
    cr_assert_eq(cir_live_parse_number("", 0, UINT64_MAX, &v), CIR_EINVAL);
    cr_assert_eq(cir_live_parse_number("1a", 2, UINT64_MAX, &v), CIR_EINVAL);
}
