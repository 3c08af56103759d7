/* asset_put.c: every file the transcoder publishes reaches the store with
 * origin/'s Cache-Control for its kind and place. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "asset_put.h"
#include "cir_error.h"
#include "cir_origin.h"
#include "cir_storage.h"

/* An S3 backend that records what the store passes on (the real one sends
 * cache_control as the object's Cache-Control). */
static struct {
    char rel[256], cc[128];
} seen;

static int
rec_open(void **state, const cir_uri_t *root)
{
    (void)root;
    *state = &seen;
    return 0;
}

static int
rec_put(void *state, const char *rel, const void *data, size_t len,
        const char *content_type, const char *cache_control)
{
    (void)state, (void)data, (void)len, (void)content_type;
    snprintf(seen.rel, sizeof(seen.rel), "%s", rel);
    snprintf(seen.cc, sizeof(seen.cc), "%s",
             cache_control != NULL ? cache_control : "(none)");
    return 0;
}

static int
rec_exists(void *state, const char *rel)
{
    (void)state, (void)rel;
    return 0;
}

static int
rec_remove(void *state, const char *rel)
{
    (void)state, (void)rel;
    return 0;
}

static void
rec_close(void *state)
{
    (void)state;
}

static cir_store_t *
open_recording_store(void)
{
    static const cir_store_backend_t b = {.scheme = CIR_URI_S3,
                                          .open = rec_open,
                                          .put = rec_put,
                                          .exists = rec_exists,
                                          .remove = rec_remove,
                                          .close = rec_close};
    cir_store_t *store = NULL;
    cir_uri_t uri;

    cr_assert_eq(cir_store_register_backend(&b), 0);
    cr_assert_eq(cir_uri_parse("s3://out/assets/1", &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    return store;
}

Test(asset_put, each_file_gets_origins_cache_control_for_its_place)
{
    static const struct {
        cir_asset_place_t place;
        const char *rel;
    } files[] = {
        {CIR_ASSET_TOP, "master.m3u8"},
        {CIR_ASSET_TOP, "manifest.mpd"},
        {CIR_ASSET_TOP, ".published/0123abcd.json"},
        {CIR_ASSET_VERSION, "master.m3u8"},
        {CIR_ASSET_VERSION, "720p/index.m3u8"},
        {CIR_ASSET_VERSION, "720p/init.mp4"},
        {CIR_ASSET_VERSION, "720p/seg-1.m4s"},
        {CIR_ASSET_VERSION, "thumbs/thumbs.vtt"},
        {CIR_ASSET_VERSION, "thumbs/sprite-0001.jpg"},
        {CIR_ASSET_VERSION, "images/640.webp"},
    };
    cir_store_t *store = open_recording_store();
    char want[64];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cir_cache_kind_t k = cir_origin_asset_cache_kind(
            files[i].rel, files[i].place == CIR_ASSET_VERSION);
        cr_assert_eq(cir_origin_cache_control(k, NULL, want, sizeof(want)), 0);
        cr_assert_eq(cir_asset_put(store, files[i].place, files[i].rel, "x", 1),
                     0);
        cr_expect_str_eq(seen.rel, files[i].rel);
        cr_expect_str_eq(seen.cc, want, "%s (place %d)", files[i].rel,
                         (int)files[i].place);
    }
    cir_store_close(&store);
}

/* The decision in one place: the top-level manifests, rewritten when a new
 * version is published, are short-lived; the same names in a version are
 * immutable. */
Test(asset_put, top_level_manifests_short_versioned_immutable)
{
    char cc[64];

    cr_assert_eq(
        cir_asset_cache_control(CIR_ASSET_TOP, "master.m3u8", cc, sizeof(cc)),
        0);
    cr_assert_str_eq(cc, "public, max-age=60");
    cr_assert_eq(cir_asset_cache_control(CIR_ASSET_VERSION, "master.m3u8", cc,
                                         sizeof(cc)),
                 0);
    cr_assert_str_eq(cc, "public, max-age=1209600, immutable");
    cr_assert_eq(cir_asset_cache_control(CIR_ASSET_TOP, NULL, cc, sizeof(cc)),
                 CIR_EINVAL);
    cr_assert_eq(
        cir_asset_cache_control(CIR_ASSET_VERSION, "720p/seg-1.m4s", cc, 8),
        CIR_ELIMIT);
}
