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
    cr_assert_str_eq(cc, "public, max-age=3600");
    cr_assert_eq(cir_origin_cache_control(CIR_CACHE_VOD_MANIFEST, NULL, cc, 64),
                 0);
    cr_assert_str_eq(cc, "public, max-age=86400");
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
