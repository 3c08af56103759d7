/*
 * Request decisions: path normalisation (traversal attempts), live path
 * parsing, LL-HLS directives, blocking-reload and object decisions, the
 * block limit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"
#include "live_fixture.h"

static fx_t fa;

static int
norm(const char *in, char *out, size_t size)
{
    return cir_origin_normalize_path(in, strlen(in), out, size);
}

Test(request, normalize_accepts_and_decodes)
{
    char out[256];

    cr_assert_eq(norm("s1/720p/index.m3u8", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "s1/720p/index.m3u8");
    cr_assert_eq(norm("my%20stream/a%2Db/seg-1.m4s", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "my stream/a-b/seg-1.m4s");
    cr_assert_eq(norm("a/..b/c...", out, sizeof(out)), 0);
}

Test(request, normalize_rejects_traversal_and_junk)
{
    static const char *bad[] = {
        "../etc/passwd",
        "a/../b",
        "a/..",
        "..",
        ".",
        "a/./b",
        "%2e%2e/x",
        "a/%2E%2E/b",
        "a/%2F..",
        "a/%2f%2e%2e",
        "a\\b",
        "a%5Cb",
        "a%00b",
        "a//b",
        "/a/b",
        "a/b/",
        "",
        "a%",
        "a%2",
        "a%zz",
        "a\x01b",
        "a%7Fb",
        "a%0Ab",
        /* escaped separators: a second name for the same object */
        "s%2fvideo%2findex.m3u8",
        "s%2Fvideo/index.m3u8",
        "a/b%2fc.m4s",
    };
    char out[256];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(norm(bad[i], out, sizeof(out)), CIR_EINVAL, "%s", bad[i]);
        cr_expect_str_eq(out, "");
    }
    /* a NUL inside the given length */
    cr_assert_eq(cir_origin_normalize_path("a\0b", 3, out, sizeof(out)),
                 CIR_EINVAL);
}

Test(request, normalize_bounds_the_output)
{
    char in[5000], out[256];

    memset(in, 'a', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    cr_assert_eq(norm(in, out, sizeof(out)), CIR_EINVAL);
    cr_assert_eq(norm("abc", out, 4), 0);
    cr_assert_eq(norm("abcd", out, 4), CIR_EINVAL);
}

Test(request, parse_live_paths)
{
    cir_live_path_t p;

    cr_assert_eq(cir_origin_parse_live_path("s1/master.m3u8", &p), 0);
    cr_assert_eq(p.kind, CIR_REQ_MASTER);
    cr_assert_str_eq(p.stream, "s1");
    cr_assert_eq(cir_origin_parse_live_path("s1/manifest.mpd", &p), 0);
    cr_assert_eq(p.kind, CIR_REQ_MPD);
    cr_assert_eq(cir_origin_parse_live_path("s1/720p/index.m3u8", &p), 0);
    cr_assert_eq(p.kind, CIR_REQ_PLAYLIST);
    cr_assert_str_eq(p.rendition, "720p");
    cr_assert_eq(cir_origin_parse_live_path("s1/720p/init-3.mp4", &p), 0);
    cr_assert_eq(p.kind, CIR_REQ_INIT);
    cr_assert_eq(p.init_id, 3);
    cr_assert_eq(cir_origin_parse_live_path("s1/720p/part-123.4.m4s", &p), 0);
    cr_assert_eq(p.kind, CIR_REQ_PART);
    cr_assert_eq(p.msn, 123);
    cr_assert_eq(p.part, 4);
    cr_assert_eq(cir_origin_parse_live_path("s1/720p/seg-0.m4s", &p), 0);
    cr_assert_eq(p.kind, CIR_REQ_SEGMENT);
    cr_assert_eq(p.msn, 0);
    cr_assert_eq(
        cir_origin_parse_live_path("s1/720p/seg-18446744073709551615.m4s", &p),
        0);
    cr_assert_eq(p.msn, UINT64_MAX);
}

Test(request, parse_live_paths_rejects)
{
    static const char *bad[] = {
        "s1",
        "s1/other.m3u8",
        "s1/720p/index.m3u",
        "s1/720p/seg-01.m4s",
        "s1/720p/seg-+1.m4s",
        "s1/720p/seg-.m4s",
        "s1/720p/seg-1.mp4",
        "s1/720p/seg-18446744073709551616.m4s",
        "s1/720p/part-1.m4s",
        "s1/720p/part-1.4294967296.m4s",
        "s1/720p/part-1.2.3.m4s",
        "s1/720p/init-0.mp4",
        "s1/720p/init-4294967296.mp4",
        "s 1/master.m3u8",
        "s1/72.0p/index.m3u8",
        "s1/720p/x/index.m3u8",
        "s1/720p/seg-1.m4s/x",
        "s1234567890123456789012345678901234567890123456789012345678901234/"
        "master.m3u8",
    };
    cir_live_path_t p;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(cir_origin_parse_live_path(bad[i], &p), CIR_ENOTFOUND,
                     "%s", bad[i]);
        cr_expect_eq(p.kind, CIR_REQ_UNKNOWN);
    }
}

static int
dirs(const char *q, cir_hls_directives_t *d)
{
    return cir_hls_parse_directives(q, strlen(q), d);
}

Test(request, directives_in_any_order)
{
    cir_hls_directives_t d;

    cr_assert_eq(dirs("", &d), 0);
    cr_assert_eq(d.has_msn, 0);
    cr_assert_eq(dirs("_HLS_part=2&x=1&_HLS_skip=YES&_HLS_msn=105", &d), 0);
    cr_assert(d.has_msn && d.has_part);
    cr_assert_eq(d.msn, 105);
    cr_assert_eq(d.part, 2);
    cr_assert_eq(d.skip, CIR_SKIP_YES);
    cr_assert_eq(dirs("_HLS_skip=v2", &d), 0);
    cr_assert_eq(d.skip, CIR_SKIP_V2);
    cr_assert_eq(d.has_msn, 0);
    cr_assert_eq(dirs("token=abc&_HLS_msn=0", &d), 0);
    cr_assert_eq(d.msn, 0);
}

Test(request, directives_rejects)
{
    static const char *bad[] = {
        "_HLS_part=1",
        "_HLS_msn=",
        "_HLS_msn=-1",
        "_HLS_msn=1x",
        "_HLS_msn=+1",
        "_HLS_msn=1&_HLS_msn=2",
        "_HLS_msn",
        "_HLS_msn=99999999999999999999",
        "_HLS_msn=1&_HLS_part=4294967296",
        "_HLS_skip=yes",
        "_HLS_skip=YES&_HLS_skip=YES",
        "_HLS_msn=1&_HLS_part=",
    };
    cir_hls_directives_t d;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(dirs(bad[i], &d), CIR_EINVAL, "%s", bad[i]);
    }
}

static cir_decision_t
decide(const char *q)
{
    cir_hls_directives_t d;

    cr_assert_eq(dirs(q, &d), 0, "%s", q);
    return cir_hls_decide_playlist(&fa.idx, &d);
}

Test(request, blocking_decisions)
{
    /* msn 100..105 complete (parts on 103-105), 106 open with 2 parts */
    fx_live(&fa, "720p", 6, 2);
    cr_assert_eq(decide(""), CIR_DECIDE_READY);
    cr_assert_eq(decide("_HLS_skip=YES"), CIR_DECIDE_READY);
    cr_assert_eq(decide("_HLS_msn=50"), CIR_DECIDE_READY); /* Q2 */
    cr_assert_eq(decide("_HLS_msn=105"), CIR_DECIDE_READY);
    cr_assert_eq(decide("_HLS_msn=106"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=106&_HLS_part=1"), CIR_DECIDE_READY);
    cr_assert_eq(decide("_HLS_msn=106&_HLS_part=2"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=107&_HLS_part=0"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=108"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=109"), CIR_DECIDE_BAD_REQUEST); /* Q5 */
    /* part limit: ceil(4 / 1) + 1 = 5 parts, indexes 0..4 */
    cr_assert_eq(decide("_HLS_msn=106&_HLS_part=4"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=106&_HLS_part=5"), CIR_DECIDE_BAD_REQUEST);
    /* past the last part of a complete segment: part 0 of the next */
    cr_assert_eq(decide("_HLS_msn=104&_HLS_part=4"), CIR_DECIDE_READY);
    cr_assert_eq(decide("_HLS_msn=100&_HLS_part=3"), CIR_DECIDE_READY);

    /* the last segment complete: its parts past the end mean msn+1 part 0 */
    fx_live(&fa, "720p", 6, -1);
    cr_assert_eq(decide("_HLS_msn=105&_HLS_part=3"), CIR_DECIDE_READY);
    cr_assert_eq(decide("_HLS_msn=105&_HLS_part=4"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=106&_HLS_part=0"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=107"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=108"), CIR_DECIDE_BAD_REQUEST);

    /* a complete last segment with one part more than nominal (audio parts
     * of whole AAC frames): the part after its last waits, never a 400;
     * the Advance Part Limit (3 parts at PART-TARGET 1 s) still holds */
    fx_init(&fa, "audio", CIR_LIVE_AUDIO, 10);
    fx_add(&fa, 4, 1, 1);
    fx_add(&fa, 5, 1, 1);
    cr_assert_eq(decide("_HLS_msn=11&_HLS_part=5"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=12&_HLS_part=2"), CIR_DECIDE_WAIT);
    cr_assert_eq(decide("_HLS_msn=12&_HLS_part=4"), CIR_DECIDE_BAD_REQUEST);
    fx_live(&fa, "720p", 6, -1);

    /* ENDLIST: everything is answered at once (Q3) */
    fa.idx.ended = 1;
    cr_assert_eq(decide("_HLS_msn=107"), CIR_DECIDE_READY);
    cr_assert_eq(decide("_HLS_msn=900&_HLS_part=90"), CIR_DECIDE_READY);
}

static cir_decision_t
object(const char *rel)
{
    cir_live_path_t p;

    cr_assert_eq(cir_origin_parse_live_path(rel, &p), 0, "%s", rel);
    return cir_live_decide_object(&fa.idx, &p);
}

Test(request, object_decisions)
{
    fx_live(&fa, "720p", 6, 2);
    fa.idx.init_id = 2;
    cr_assert_eq(object("s/720p/init-1.mp4"), CIR_DECIDE_READY);
    cr_assert_eq(object("s/720p/init-2.mp4"), CIR_DECIDE_READY);
    cr_assert_eq(object("s/720p/init-3.mp4"), CIR_DECIDE_NOT_FOUND);
    cr_assert_eq(object("s/720p/seg-100.m4s"), CIR_DECIDE_READY);
    cr_assert_eq(object("s/720p/seg-105.m4s"), CIR_DECIDE_READY);
    cr_assert_eq(object("s/720p/seg-106.m4s"), CIR_DECIDE_WAIT); /* LL-DASH */
    /* the one after the open segment: the MPD promises it (S@r="-1") */
    cr_assert_eq(object("s/720p/seg-107.m4s"), CIR_DECIDE_WAIT);
    cr_assert_eq(object("s/720p/seg-108.m4s"), CIR_DECIDE_NOT_FOUND);
    cr_assert_eq(object("s/720p/seg-99.m4s"), CIR_DECIDE_GONE);
    cr_assert_eq(object("s/720p/part-105.3.m4s"), CIR_DECIDE_READY);
    cr_assert_eq(object("s/720p/part-105.4.m4s"), CIR_DECIDE_NOT_FOUND);
    cr_assert_eq(object("s/720p/part-106.1.m4s"), CIR_DECIDE_READY);
    cr_assert_eq(object("s/720p/part-106.2.m4s"), CIR_DECIDE_WAIT); /* hint */
    cr_assert_eq(object("s/720p/part-106.4.m4s"), CIR_DECIDE_WAIT);
    cr_assert_eq(object("s/720p/part-106.5.m4s"), CIR_DECIDE_NOT_FOUND);
    cr_assert_eq(object("s/720p/part-107.0.m4s"), CIR_DECIDE_NOT_FOUND);
    cr_assert_eq(object("s/720p/part-99.0.m4s"), CIR_DECIDE_GONE);
    /* parts that aged out of the index: serve the file while it lasts */
    cr_assert_eq(object("s/720p/part-100.0.m4s"), CIR_DECIDE_READY);
    cr_assert_eq(object("s/720p/index.m3u8"), CIR_DECIDE_READY);

    /* the last segment complete: the hint is part 0 of the next */
    fx_live(&fa, "720p", 6, -1);
    cr_assert_eq(object("s/720p/part-106.0.m4s"), CIR_DECIDE_WAIT);
    cr_assert_eq(object("s/720p/part-106.1.m4s"), CIR_DECIDE_NOT_FOUND);
    cr_assert_eq(object("s/720p/seg-106.m4s"), CIR_DECIDE_WAIT);
    fa.idx.ended = 1;
    cr_assert_eq(object("s/720p/part-106.0.m4s"), CIR_DECIDE_NOT_FOUND);
    cr_assert_eq(object("s/720p/seg-106.m4s"), CIR_DECIDE_NOT_FOUND);
}

Test(request, block_limit)
{
    fx_live(&fa, "720p", 6, 2);
    cr_assert_eq(cir_hls_block_limit_us(&fa.idx, 0), 12000000);
    cr_assert_eq(cir_hls_block_limit_us(&fa.idx, 10000000), 10000000);
    cr_assert_eq(cir_hls_block_limit_us(&fa.idx, 30000000), 12000000);
    /* the stream's target duration never changes, whatever a segment */
    fa.segs[0].duration = 558000;
    cr_assert_eq(cir_hls_block_limit_us(&fa.idx, 0), 12000000);
    /* an index without one (before format 3 had it): a 6.2 s segment
     * raises TD to 7 */
    fa.idx.target_duration = 0;
    cr_assert_eq(cir_hls_block_limit_us(&fa.idx, 0), 21000000);
}
