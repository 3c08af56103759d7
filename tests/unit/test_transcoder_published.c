/*
 * Publication markers (transcoder/src/published.c): the marker's name, a
 * marker written and read back through a file:// store, what counts as
 * published, and tags that are refused.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_published.h"
#include "cir_storage.h"

static const char TAG[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static cir_store_t *
open_store(char *dir, char *root, size_t size)
{
    cir_store_t *store = NULL;
    cir_uri_t uri;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(root, size, "%s/asset", dir);
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    return store;
}

Test(published, tags_are_64_lowercase_hex_digits)
{
    char path[128];

    cr_assert(cir_published_tag_is_valid(TAG));
    cr_assert_not(cir_published_tag_is_valid(NULL));
    cr_assert_not(cir_published_tag_is_valid(""));
    cr_assert_not(cir_published_tag_is_valid("0123abcd"));
    cr_assert_not(cir_published_tag_is_valid(
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
    cr_assert_not(cir_published_tag_is_valid(
        "../456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
    cr_assert_eq(cir_published_path(TAG, path, sizeof(path)), 0);
    cr_assert_str_eq(path, ".published/0123456789abcdef0123456789abcdef"
                           "0123456789abcdef0123456789abcdef.json");
    cr_assert_eq(cir_published_path("x", path, sizeof(path)), CIR_EINVAL);
    cr_assert_eq(cir_published_path(TAG, path, 20), CIR_ELIMIT);
}

Test(published, a_marker_written_is_read_back)
{
    char dir[] = "/tmp/cir-published-XXXXXX", root[64], file[256];
    cir_store_t *store = open_store(dir, root, sizeof(root));
    cir_published_t m = {0}, back;
    char *text = NULL;
    size_t len;

    cr_assert_eq(cir_published_read(store, TAG, &back), 0, "not yet");
    cr_assert_eq(cir_published_read(store, TAG, NULL), 0);
    snprintf(m.input, sizeof(m.input), "s3://in/a b.mp4");
    snprintf(m.source_version, sizeof(m.source_version), "versionId=3");
    snprintf(m.version, sizeof(m.version), "20261206T132644649Z-de78cb4");
    snprintf(m.preset, sizeof(m.preset), "web");
    cr_assert_eq(cir_published_write(store, TAG, &m), 0);

    cr_assert_eq(cir_published_read(store, TAG, &back), 1);
    cr_assert_str_eq(back.input, "s3://in/a b.mp4");
    cr_assert_str_eq(back.source_version, "versionId=3");
    cr_assert_str_eq(back.version, "20261206T132644649Z-de78cb4");
    cr_assert_str_eq(back.preset, "web");
    cr_assert_eq(cir_published_read(store, TAG, NULL), 1);
    /* where the worker and README say it is */
    snprintf(file, sizeof(file), "%s/.published/%s.json", root, TAG);
    cr_assert_eq(cir_read_file(file, 4096, &text, &len), 0);
    cr_assert(strstr(text, "\"version\":\"20261206T132644649Z-de78cb4\""), "%s",
              text);
    free(text);
    /* another upload's tag is not published */
    cr_assert_eq(cir_published_read(store,
                                    "f123456789abcdef0123456789abcdef0123456789"
                                    "abcdef0123456789abcdef",
                                    &back),
                 0);
    cir_store_close(&store);
}

Test(published, an_unreadable_marker_still_counts)
{
    char dir[] = "/tmp/cir-published-XXXXXX", root[64], path[128];
    cir_store_t *store = open_store(dir, root, sizeof(root));
    cir_published_t back;

    cr_assert_eq(cir_published_path(TAG, path, sizeof(path)), 0);
    cr_assert_eq(cir_store_put(store, path, "{not json", 9, NULL), 0);
    cr_assert_eq(cir_published_read(store, TAG, &back), 1);
    cr_assert_str_eq(back.version, "");
    cir_store_close(&store);
}

Test(published, a_bad_tag_is_neither_read_nor_written)
{
    char dir[] = "/tmp/cir-published-XXXXXX", root[64];
    cir_store_t *store = open_store(dir, root, sizeof(root));
    cir_published_t m = {0};

    cr_assert_eq(cir_published_read(store, "../../x", &m), CIR_EINVAL);
    cr_assert_eq(cir_published_write(store, "../../x", &m), CIR_EINVAL);
    cir_store_close(&store);
}
