/* Origin auth: shared-secret comparison and signed expiring URLs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"

#define KEY  "k3y-for-tests"
#define PATH "/live/s1/720p/index.m3u8"

Test(auth, secret_equal)
{
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3cret", 6), 1);
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3creT", 6), 0);
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3cre", 5), 0);
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3cretX", 7), 0);
    /* only got_len bytes count */
    cr_assert_eq(cir_origin_secret_equal("s3cret", "s3cretXYZ", 6), 1);
    cr_assert_eq(cir_origin_secret_equal("s3cret", "", 0), 0);
    cr_assert_eq(cir_origin_secret_equal("", "", 0), 0); /* unset: deny */
    cr_assert_eq(cir_origin_secret_equal(NULL, "x", 1), 0);
}

Test(auth, sign_is_hmac_sha256_hex)
{
    char tok[65];

    cr_assert_eq(cir_origin_token_sign(KEY, PATH, 1767225600, tok, 65), 0);
    cr_assert_eq(strlen(tok), 64);
    /* openssl dgst -sha256 -hmac k3y-for-tests of "1767225600:<PATH>" */
    cr_assert_str_eq(
        tok,
        "95e3c838bfcfa82b4529ea31545158206a659af34693309f2b112a411123922e");
    cr_assert_eq(cir_origin_token_sign(KEY, PATH, 1, tok, 64), CIR_ELIMIT);
}

static int
verify(const char *q, int64_t now)
{
    return cir_origin_token_verify(KEY, PATH, q, strlen(q), now);
}

Test(auth, verify)
{
    char tok[65], q[256];

    cr_assert_eq(cir_origin_token_sign(KEY, PATH, 2000, tok, 65), 0);
    snprintf(q, sizeof(q), "token=%s&expires=2000", tok);
    cr_assert_eq(verify(q, 1999), 0);
    cr_assert_eq(verify(q, 2000), 0);
    cr_assert_eq(verify(q, 2001), CIR_EAUTH); /* expired */
    snprintf(q, sizeof(q), "_HLS_msn=3&expires=2000&x=y&token=%s", tok);
    cr_assert_eq(verify(q, 1000), 0); /* any order */
    snprintf(q, sizeof(q), "token=%s&expires=2001", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* expiry is signed */
    cr_assert_eq(cir_origin_token_verify(KEY, "/live/s2/720p/index.m3u8", q,
                                         strlen(q), 1000),
                 CIR_EAUTH);
    cr_assert_eq(cir_origin_token_verify("other", PATH, q, strlen(q), 1000),
                 CIR_EAUTH);
    snprintf(q, sizeof(q), "token=%.63s&expires=2000", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* wrong length */
    snprintf(q, sizeof(q), "token=%.62szz&expires=2000", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* not hex */
    snprintf(q, sizeof(q), "token=%s", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* no expiry */
    snprintf(q, sizeof(q), "token=%s&expires=-5", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH);
    snprintf(q, sizeof(q), "token=%s&expires=2000&expires=2000", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* repeated */
    snprintf(q, sizeof(q), "token=%s&token=%s&expires=2000", tok, tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH);
    cr_assert_eq(verify("", 1000), CIR_EAUTH);
    cr_assert_eq(verify("expires=2000", 1000), CIR_EAUTH);
}

/* A token with a scope covers every path under it, and only those. */
Test(auth, verify_scope)
{
    char tok[65], q[512];

    cr_assert_eq(cir_origin_token_sign(KEY, "/live/s1/", 2000, tok, 65), 0);
    snprintf(q, sizeof(q), "token=%s&expires=2000&scope=/live/s1/", tok);
    cr_assert_eq(verify(q, 1000), 0);
    cr_assert_eq(cir_origin_token_verify(KEY, "/live/s1/master.m3u8", q,
                                         strlen(q), 1000),
                 0);
    cr_assert_eq(cir_origin_token_verify(KEY, "/live/s1/audio/part-7.2.m4s", q,
                                         strlen(q), 1000),
                 0);
    cr_assert_eq(cir_origin_token_verify(KEY, "/live/s10/master.m3u8", q,
                                         strlen(q), 1000),
                 CIR_EAUTH); /* a prefix of the name is not the folder */
    cr_assert_eq(cir_origin_token_verify(KEY, "/live/s2/master.m3u8", q,
                                         strlen(q), 1000),
                 CIR_EAUTH);
    cr_assert_eq(verify(q, 2001), CIR_EAUTH); /* expired */
    /* the scope is signed: a wider one does not verify */
    snprintf(q, sizeof(q), "token=%s&expires=2000&scope=/live/", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH);
    /* without the scope the token is for the exact path "/live/s1/" */
    snprintf(q, sizeof(q), "token=%s&expires=2000", tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH);
    /* malformed scopes */
    static const char *bad[] = {"/live/s1",    "live/s1/",   "/live/../",
                                "/live/./s1/", "/live//s1/", "/live/s%31/",
                                "/live/s\"1/", "",           "/live/s1/&x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(cir_origin_token_sign(KEY, bad[i], 2000, tok, 65), 0);
        snprintf(q, sizeof(q), "token=%s&expires=2000&scope=%s", tok, bad[i]);
        cr_expect_eq(verify(q, 1000), CIR_EAUTH, "%s", bad[i]);
    }
    snprintf(q, sizeof(q), "token=%s&expires=2000&scope=/live/&scope=/live/",
             tok);
    cr_assert_eq(verify(q, 1000), CIR_EAUTH); /* repeated */
}

Test(auth, token_query_carries_only_the_token)
{
    static const char tok[] =
        "95e3c838bfcfa82b4529ea31545158206a659af34693309f2b112a411123922e";
    char q[512], out[256];
    int n;

    snprintf(q, sizeof(q), "_HLS_msn=4&scope=/live/s1/&x=1&expires=99&token=%s",
             tok);
    n = cir_origin_token_query(q, strlen(q), out, sizeof(out));
    cr_assert_eq(n, (int)strlen(out));
    cr_assert_str_eq(out, "token=95e3c838bfcfa82b4529ea31545158206a659af346933"
                          "09f2b112a411123922e&expires=99&scope=/live/s1/");
    /* no scope: nothing the listed URIs could use */
    snprintf(q, sizeof(q), "token=%s&expires=99", tok);
    cr_assert_eq(cir_origin_token_query(q, strlen(q), out, sizeof(out)), 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(cir_origin_token_query("_HLS_msn=4", 10, out, sizeof(out)), 0);
    snprintf(q, sizeof(q), "token=%s&expires=99&scope=/live/s1/", tok);
    cr_assert_eq(cir_origin_token_query(q, strlen(q), out, 40), CIR_ELIMIT);
    cr_assert_str_eq(out, "");
}

Test(auth, hls_add_query_reaches_every_uri)
{
    static const char in[] =
        "#EXTM3U\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\","
        "URI=\"audio/index.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\"\n"
        "video/index.m3u8\n"
        "#EXT-X-MAP:URI=\"init-1.mp4\"\n"
        "#EXT-X-PART:DURATION=0.33333,URI=\"part-7.0.m4s\",INDEPENDENT=YES\n"
        "#EXTINF:2.00000,\n"
        "seg-7.m4s\r\n"
        "\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-8.1.m4s\"\n"
        "#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8?a=b\",LAST-MSN=8\n"
        "#EXT-X-ENDLIST";
    static const char want[] =
        "#EXTM3U\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\","
        "URI=\"audio/index.m3u8?T\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\"\n"
        "video/index.m3u8?T\n"
        "#EXT-X-MAP:URI=\"init-1.mp4?T\"\n"
        "#EXT-X-PART:DURATION=0.33333,URI=\"part-7.0.m4s?T\",INDEPENDENT=YES\n"
        "#EXTINF:2.00000,\n"
        "seg-7.m4s?T\r\n"
        "\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-8.1.m4s?T\"\n"
        "#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8?a=b&T\","
        "LAST-MSN=8\n"
        "#EXT-X-ENDLIST";
    cir_buf_t out;

    cir_buf_init(&out, 1 << 16);
    cr_assert_eq(cir_origin_hls_add_query(in, strlen(in), "T", &out), 0);
    cr_assert_str_eq(out.data, want);
    cir_buf_reset(&out);
    cr_assert_eq(cir_origin_hls_add_query(in, strlen(in), "", &out), 0);
    cr_assert_str_eq(out.data, in);
    cir_buf_free(&out);
}

Test(auth, mpd_add_query_reaches_the_templates)
{
    static const char in[] =
        "<MPD><Period><AdaptationSet mimeType=\"video/mp4\">\n"
        "<UTCTiming schemeIdUri=\"x\" value=\"/time\"/>\n"
        "<SegmentTemplate timescale=\"90000\" "
        "initialization=\"$RepresentationID$/init-1.mp4\" "
        "media=\"$RepresentationID$/seg-$Number$.m4s\" startNumber=\"3\">\n"
        "</SegmentTemplate></AdaptationSet></Period></MPD>\n";
    static const char want[] =
        "<MPD><Period><AdaptationSet mimeType=\"video/mp4\">\n"
        "<UTCTiming schemeIdUri=\"x\" value=\"/time\"/>\n"
        "<SegmentTemplate timescale=\"90000\" "
        "initialization=\"$RepresentationID$/init-1.mp4?a=1&amp;b=2\" "
        "media=\"$RepresentationID$/seg-$Number$.m4s?a=1&amp;b=2\" "
        "startNumber=\"3\">\n"
        "</SegmentTemplate></AdaptationSet></Period></MPD>\n";
    cir_buf_t out;

    cir_buf_init(&out, 1 << 16);
    cr_assert_eq(cir_origin_mpd_add_query(in, strlen(in), "a=1&b=2", &out), 0);
    cr_assert_str_eq(out.data, want);
    cir_buf_free(&out);
}
