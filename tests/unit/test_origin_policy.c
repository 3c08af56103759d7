/* Cache-Control values per object kind (CloudFront, MediaPackage). */
#include <criterion/criterion.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"

Test(policy, values)
{
    cir_live_index_t idx = {0};
    char cc[64];

    idx.timescale = 90000;
    idx.segment_target = 4 * 90000;
    cr_assert_eq(cir_origin_cache_control(CIR_CACHE_MEDIA, NULL, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=1209600, immutable");
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_LIVE_PLAYLIST, &idx, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=1");
    cr_assert_eq(cir_origin_cache_control(CIR_CACHE_LIVE_MPD, &idx, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=1");
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_BLOCKING_PLAYLIST, &idx, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=24");
    idx.segment_target = 6 * 90000 + 1; /* TD 7 */
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_BLOCKING_PLAYLIST, &idx, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=42");
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_ENDED_PLAYLIST, &idx, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=3");
    cr_assert_eq(cir_origin_cache_control(CIR_CACHE_VOD_MANIFEST, NULL, cc, 64),
                 0);
    cr_assert_str_eq(cc, "public, max-age=60");
    cr_assert_eq(cir_origin_cache_control(CIR_CACHE_VOD_VERSIONED_MANIFEST,
                                          NULL, cc, 64),
                 0);
    cr_assert_str_eq(cc, "public, max-age=1209600, immutable");
    cr_assert_eq(cir_origin_cache_control(CIR_CACHE_ERROR, NULL, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=1");
}

Test(policy, errors)
{
    char cc[8];

    cr_assert_eq(cir_origin_cache_control(CIR_CACHE_BLOCKING_PLAYLIST, NULL, cc,
                                          sizeof(cc)),
                 CIR_EINVAL);
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_MEDIA, NULL, cc, sizeof(cc)),
        CIR_ELIMIT);
    cr_assert_str_eq(cc, "");
    cr_assert_eq(
        cir_origin_cache_control((cir_cache_kind_t)99, NULL, cc, sizeof(cc)),
        CIR_EINVAL);
}

/* A republished key must not be hidden behind the previous publish's
 * ENDLIST for longer than a regular playlist lives: half a target
 * duration, at least a second. */
Test(policy, ended_playlist_lives_half_a_target_duration)
{
    cir_live_index_t idx = {0};
    char cc[64];

    idx.timescale = 1000;
    idx.segment_target = 2000; /* TD 2 */
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_ENDED_PLAYLIST, &idx, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=1");
    idx.segment_target = 6000; /* TD 6 */
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_ENDED_PLAYLIST, &idx, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=3");
    idx.segment_target = 1000; /* TD 1 */
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_ENDED_PLAYLIST, &idx, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=1");
    /* no index: the shortest */
    cr_assert_eq(
        cir_origin_cache_control(CIR_CACHE_ENDED_PLAYLIST, NULL, cc, 64), 0);
    cr_assert_str_eq(cc, "public, max-age=1");
}

/* Every error status is cached briefly, whatever object was asked for. */
Test(policy, errors_are_cached_as_errors_whatever_the_object)
{
    static const unsigned errors[] = {400, 403, 404, 410, 416, 500, 503};
    size_t i;

    for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        cr_expect_eq(
            cir_origin_cache_kind_for_status(CIR_CACHE_MEDIA, errors[i]),
            CIR_CACHE_ERROR, "%u", errors[i]);
        cr_expect_eq(
            cir_origin_cache_kind_for_status(CIR_CACHE_VOD_MANIFEST, errors[i]),
            CIR_CACHE_ERROR, "%u", errors[i]);
    }
    cr_assert_eq(cir_origin_cache_kind_for_status(CIR_CACHE_MEDIA, 200),
                 CIR_CACHE_MEDIA);
    cr_assert_eq(cir_origin_cache_kind_for_status(CIR_CACHE_MEDIA, 206),
                 CIR_CACHE_MEDIA);
    cr_assert_eq(cir_origin_cache_kind_for_status(CIR_CACHE_MEDIA, 304),
                 CIR_CACHE_MEDIA);
}

Test(policy, manifests_vary_by_accept_encoding)
{
    cr_assert_str_eq(cir_origin_vary(CIR_CACHE_LIVE_PLAYLIST),
                     "Accept-Encoding");
    cr_assert_str_eq(cir_origin_vary(CIR_CACHE_BLOCKING_PLAYLIST),
                     "Accept-Encoding");
    cr_assert_str_eq(cir_origin_vary(CIR_CACHE_LIVE_MPD), "Accept-Encoding");
    cr_assert_str_eq(cir_origin_vary(CIR_CACHE_ENDED_PLAYLIST),
                     "Accept-Encoding");
    cr_assert_str_eq(cir_origin_vary(CIR_CACHE_VOD_MANIFEST),
                     "Accept-Encoding");
    cr_assert_null(cir_origin_vary(CIR_CACHE_MEDIA));
    cr_assert_null(cir_origin_vary(CIR_CACHE_ERROR));
}

/* Only an asset's top-level manifests are short-lived; a published
 * version's manifests are immutable like its media. */
Test(policy, vod_kinds_by_path)
{
    cr_assert_eq(cir_origin_vod_cache_kind("a/master.m3u8"),
                 CIR_CACHE_VOD_MANIFEST);
    cr_assert_eq(cir_origin_vod_cache_kind("x/y/manifest.mpd"),
                 CIR_CACHE_VOD_MANIFEST);
    cr_assert_eq(cir_origin_vod_cache_kind("a/v/20261206T1Z-ab/master.m3u8"),
                 CIR_CACHE_VOD_VERSIONED_MANIFEST);
    cr_assert_eq(
        cir_origin_vod_cache_kind("a/v/20261206T1Z-ab/720p/index.m3u8"),
        CIR_CACHE_VOD_VERSIONED_MANIFEST);
    cr_assert_eq(
        cir_origin_vod_cache_kind("a/v/20261206T1Z-ab/thumbs/thumbs.vtt"),
        CIR_CACHE_VOD_VERSIONED_MANIFEST);
    cr_assert_eq(cir_origin_vod_cache_kind("v/master.m3u8"),
                 CIR_CACHE_VOD_MANIFEST); /* an asset called "v" */
    cr_assert_eq(cir_origin_vod_cache_kind("a/v/x/seg-1.m4s"), CIR_CACHE_MEDIA);
    cr_assert_eq(cir_origin_vod_cache_kind("a/720p/seg-1.m4s"),
                 CIR_CACHE_MEDIA);
    cr_assert_str_eq(cir_origin_vary(CIR_CACHE_VOD_VERSIONED_MANIFEST),
                     "Accept-Encoding");
}

/* Every kind of file an asset publishes, in a store rooted at the asset and
 * in one rooted at a published version: the kind and the Cache-Control the
 * transcoder sends with the upload (the lifetimes nginx gives them too). */
Test(policy, asset_files_by_kind_and_place)
{
    static const struct {
        const char *rel;
        int versioned;
        cir_cache_kind_t kind;
        const char *cc;
    } cases[] = {
        /* top level: rewritten in place on every publish: short */
        {"master.m3u8", 0, CIR_CACHE_VOD_MANIFEST, "public, max-age=60"},
        {"manifest.mpd", 0, CIR_CACHE_VOD_MANIFEST, "public, max-age=60"},
        {"thumbs.vtt", 0, CIR_CACHE_VOD_MANIFEST, "public, max-age=60"},
        {"images/manifest.json", 0, CIR_CACHE_VOD_MANIFEST,
         "public, max-age=60"},
        {".published/0123abcd.json", 0, CIR_CACHE_VOD_MANIFEST,
         "public, max-age=60"},
        /* a version's manifests, WebVTT and JSON never change */
        {"master.m3u8", 1, CIR_CACHE_VOD_VERSIONED_MANIFEST,
         "public, max-age=1209600, immutable"},
        {"manifest.mpd", 1, CIR_CACHE_VOD_VERSIONED_MANIFEST,
         "public, max-age=1209600, immutable"},
        {"720p/index.m3u8", 1, CIR_CACHE_VOD_VERSIONED_MANIFEST,
         "public, max-age=1209600, immutable"},
        {"720p/iframes.m3u8", 1, CIR_CACHE_VOD_VERSIONED_MANIFEST,
         "public, max-age=1209600, immutable"},
        {"thumbs/thumbs.vtt", 1, CIR_CACHE_VOD_VERSIONED_MANIFEST,
         "public, max-age=1209600, immutable"},
        {"images/manifest.json", 1, CIR_CACHE_VOD_VERSIONED_MANIFEST,
         "public, max-age=1209600, immutable"},
        /* media and images: immutable wherever they are */
        {"720p/init.mp4", 1, CIR_CACHE_MEDIA,
         "public, max-age=1209600, immutable"},
        {"720p/seg-1.m4s", 1, CIR_CACHE_MEDIA,
         "public, max-age=1209600, immutable"},
        {"audio/seg-7.m4s", 0, CIR_CACHE_MEDIA,
         "public, max-age=1209600, immutable"},
        {"thumbs/sprite-0001.jpg", 1, CIR_CACHE_MEDIA,
         "public, max-age=1209600, immutable"},
        {"poster.jpg", 1, CIR_CACHE_MEDIA,
         "public, max-age=1209600, immutable"},
        {"images/640.webp", 1, CIR_CACHE_MEDIA,
         "public, max-age=1209600, immutable"},
        {"images/640.jpg", 0, CIR_CACHE_MEDIA,
         "public, max-age=1209600, immutable"},
    };
    char cc[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cir_cache_kind_t k =
            cir_origin_asset_cache_kind(cases[i].rel, cases[i].versioned);
        cr_expect_eq(k, cases[i].kind, "%s (versioned %d): kind %d",
                     cases[i].rel, cases[i].versioned, (int)k);
        cr_assert_eq(cir_origin_cache_control(k, NULL, cc, sizeof(cc)), 0);
        cr_expect_str_eq(cc, cases[i].cc, "%s (versioned %d)", cases[i].rel,
                         cases[i].versioned);
    }
    /* nginx's view of the same files, by their path below its root */
    cr_assert_eq(cir_origin_vod_cache_kind("a/v/20261206T1Z-ab/manifest.mpd"),
                 cir_origin_asset_cache_kind("manifest.mpd", 1));
    cr_assert_eq(cir_origin_vod_cache_kind("a/manifest.mpd"),
                 cir_origin_asset_cache_kind("manifest.mpd", 0));
    cr_assert_eq(cir_origin_vod_cache_kind("a/images/manifest.json"),
                 CIR_CACHE_VOD_MANIFEST);
    cr_assert_eq(cir_origin_asset_cache_kind(NULL, 0), CIR_CACHE_MEDIA);
}
