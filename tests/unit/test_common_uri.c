/* common/src/uri.c: storage URIs, safe paths and names, version ids and
 * output-root rules. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_storage.h"

static void
expect_uri(const char *s, cir_uri_scheme_t scheme, const char *bucket,
           const char *path)
{
    cir_uri_t u;

    cr_expect_eq(cir_uri_parse(s, &u), 0, "%s", s);
    cr_expect_eq(u.scheme, scheme, "%s", s);
    cr_expect_str_eq(u.bucket, bucket, "%s", s);
    cr_expect_str_eq(u.path, path, "%s", s);
}

static void
expect_bad_uri(const char *s, int err)
{
    cir_uri_t u;

    cr_expect_eq(cir_uri_parse(s, &u), err, "%s", s);
}

Test(common_uri, uri_forms)
{
    expect_uri("file:///srv/out", CIR_URI_FILE, "", "/srv/out");
    expect_uri("file://localhost/srv", CIR_URI_FILE, "", "/srv");
    expect_uri("file:rel/dir", CIR_URI_FILE, "", "rel/dir");
    expect_uri("/abs/path", CIR_URI_FILE, "", "/abs/path");
    expect_uri("relative", CIR_URI_FILE, "", "relative");
    expect_uri("./x:y", CIR_URI_FILE, "", "./x:y");
    expect_uri("s3://my-bucket/out/asset1", CIR_URI_S3, "my-bucket",
               "out/asset1");
    expect_uri("s3://my.bucket.2/", CIR_URI_S3, "my.bucket.2", "");
    expect_uri("s3://abc", CIR_URI_S3, "abc", "");
}

Test(common_uri, uri_rejects)
{
    char big[CIR_URI_MAX + 10];

    expect_bad_uri("", CIR_EINVAL);
    expect_bad_uri(NULL, CIR_EINVAL);
    expect_bad_uri("s3://", CIR_EINVAL);
    expect_bad_uri("s3:///key", CIR_EINVAL);
    expect_bad_uri("s3://ab/key", CIR_EINVAL);          /* too short */
    expect_bad_uri("s3://My-Bucket/key", CIR_EINVAL);   /* upper case */
    expect_bad_uri("s3://my_bucket/key", CIR_EINVAL);   /* underscore */
    expect_bad_uri("s3://-bucket/key", CIR_EINVAL);     /* starts with - */
    expect_bad_uri("s3://bucket-/key", CIR_EINVAL);     /* ends with - */
    expect_bad_uri("s3://my..bucket/key", CIR_EINVAL);  /* .. */
    expect_bad_uri("s3://192.168.1.1/key", CIR_EINVAL); /* an IP */
    expect_bad_uri("s3://bucket//key", CIR_EINVAL);
    expect_bad_uri(
        "s3://"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaa/k",
        CIR_EINVAL); /* 64 characters */
    expect_bad_uri("file://otherhost/x", CIR_EUNSUPPORTED);
    expect_bad_uri("file:", CIR_EINVAL);
    expect_bad_uri("http://example.com/x", CIR_EUNSUPPORTED);
    expect_bad_uri("gs://bucket/x", CIR_EUNSUPPORTED);
    expect_bad_uri("/tmp/a\nb", CIR_EINVAL);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_bad_uri(big, CIR_ELIMIT);
    big[CIR_URI_MAX - 1] = '\0'; /* the longest allowed */
    cir_uri_t u;
    cr_expect_eq(cir_uri_parse(big, &u), 0);
}

static void
expect_why(const char *s, int err, const char *reason)
{
    char why[300] = "";
    cir_uri_t u;

    cr_expect_eq(cir_uri_parse_why(s, &u, why, sizeof(why)), err, "%s", s);
    cr_expect(strstr(why, reason) != NULL, "%s: \"%s\" names \"%s\"", s, why,
              reason);
}

/* A refusal says which rule the URI breaks (the README's own example once
 * used a two-letter bucket and was refused as a "bad input URI") */
Test(common_uri, uri_refusals_say_why)
{
    expect_why("s3://in/a.mp4", CIR_EINVAL, "3 to 63 characters");
    expect_why("s3://My_Bucket/a", CIR_EINVAL, "only lowercase letters");
    expect_why("s3://a..b/k", CIR_EINVAL, "\"..\"");
    expect_why("s3://a-.b/k", CIR_EINVAL, "\"-.\"");
    expect_why("s3://-ab/k", CIR_EINVAL, "begins and ends");
    expect_why("s3://10.0.0.1/k", CIR_EINVAL, "IP address");
    expect_why("s3://xn--abc/k", CIR_EINVAL, "xn--");
    expect_why("s3://bucket//k", CIR_EINVAL, "never begins with '/'");
    expect_why("https://example.com/a.mp4", CIR_EUNSUPPORTED,
               "copy it to S3 or a local file");
    expect_why("file://host/x", CIR_EUNSUPPORTED, "not a host");
    expect_why("file:", CIR_EINVAL, "empty path");
    expect_why("/a\tb", CIR_EINVAL, "control character");
    expect_why("", CIR_EINVAL, "empty URI");
    /* without a buffer for the reason: the same codes */
    cir_uri_t u;
    cr_expect_eq(cir_uri_parse_why("s3://in/a", &u, NULL, 0), CIR_EINVAL);
}

/* One rule for ids: the name, percent-encoded outside the unreserved
 * set; names that differ keep different ids; never a split escape */
Test(common_uri, job_ids_from_names)
{
    char id[16];

    cir_job_id_from_name("My Long.v2", id, sizeof(id));
    cr_expect_str_eq(id, "My%20Long.v2");
    cir_job_id_from_name("a_b", id, sizeof(id));
    cr_expect_str_eq(id, "a_b");
    cir_job_id_from_name("a b", id, sizeof(id));
    cr_expect_str_eq(id, "a%20b", "not the same id as a_b");
    cir_job_id_from_name("web/\xc3\xa9+%", id, sizeof(id));
    cr_expect_str_eq(id, "web%2F%C3%A9%2B");
    cir_job_id_from_name("abcdefghijklm n", id, sizeof(id));
    cr_expect_str_eq(id, "abcdefghijklm", "the escape does not fit: cut");
    cir_job_id_from_name("", id, sizeof(id));
    cr_expect_str_eq(id, "");
}

Test(common_uri, uri_format_round_trips)
{
    const char *in[] = {"file:///srv/out", "file:rel/x", "s3://bucket/a/b",
                        "s3://bucket/"};
    cir_uri_t u, back;
    char s[CIR_URI_MAX];

    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        cr_assert_eq(cir_uri_parse(in[i], &u), 0);
        cr_assert_eq(cir_uri_format(&u, s, sizeof(s)), 0);
        cr_expect_str_eq(s, in[i]);
    }
    cr_assert_eq(cir_uri_parse("/bare", &u), 0);
    cr_assert_eq(cir_uri_format(&u, s, sizeof(s)), 0);
    cr_assert_str_eq(s, "file:///bare");
    cr_assert_eq(cir_uri_parse(s, &back), 0);
    cr_assert_str_eq(back.path, "/bare");
    cr_assert_eq(cir_uri_format(&u, s, 8), CIR_ELIMIT);
    cr_assert_str_eq(s, "");
}

Test(common_uri, safe_relative_paths)
{
    const char *good[] = {
        "a",           "720p/init.mp4", "thumbs/sprite-0001.jpg",
        "a/b/c/d.m4s", ".hidden",       "x..y",
        "..."};
    const char *bad[] = {"",      "/abs", "a//b",  "a/",     "./a",
                         "a/./b", "..",   "../x",  "a/../b", "a/..",
                         "a\\b",  "a\nb", "a\x7f", "a/\tb",  NULL};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_expect(cir_path_is_safe_relative(good[i]), "%s", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_not(cir_path_is_safe_relative(bad[i]), "%s",
                      bad[i] ? bad[i] : "NULL");
    }
}

Test(common_uri, version_ids_are_sortable_and_safe)
{
    char a[CIR_VERSION_ID_MAX], b[CIR_VERSION_ID_MAX], small[20];

    /* 2026-12-06T13:26:44.649Z */
    cr_assert_eq(cir_version_id_make(1796563604649000LL, 0xde78cb433b4d38ecULL,
                                     a, sizeof(a)),
                 0);
    cr_assert_str_eq(a, "20261206T132644649Z-de78cb433b4d38ec");
    cr_assert_eq(cir_version_id_make(1796563604650000LL, 1, b, sizeof(b)), 0);
    cr_assert_lt(strcmp(a, b), 0, "later attempts sort later");
    cr_assert(cir_version_id_is_valid(a));
    cr_assert_eq(cir_version_id_make(0, 1, small, sizeof(small)), CIR_ELIMIT);
    cr_assert_not(cir_version_id_is_valid(""));
    cr_assert_not(cir_version_id_is_valid("a/b"));
    cr_assert_not(cir_version_id_is_valid(".."));
    cr_assert_not(cir_version_id_is_valid(
        "0123456789012345678901234567890123456789012345678901234567890123"));
}

Test(common_uri, uri_join)
{
    cir_uri_t u, o;

    cr_assert_eq(cir_uri_parse("s3://out/assets/a/", &u), 0);
    cr_assert_eq(cir_uri_join(&u, "v/1", &o), 0);
    cr_assert_str_eq(o.bucket, "out");
    cr_assert_str_eq(o.path, "assets/a/v/1");
    cr_assert_eq(cir_uri_parse("s3://out", &u), 0);
    cr_assert_eq(cir_uri_join(&u, "v/1", &o), 0);
    cr_assert_str_eq(o.path, "v/1");
    cr_assert_eq(cir_uri_parse("/tmp/x", &u), 0);
    cr_assert_eq(cir_uri_join(&u, "v/1", &o), 0);
    cr_assert_str_eq(o.path, "/tmp/x/v/1");
    cr_assert_eq(cir_uri_join(&u, "../y", &o), CIR_EINVAL);
}

/* An output root must leave room for "v/<version>/<name>" below S3's
 * 1024-byte key limit and have no empty segment; each refusal names it. */
Test(common_uri, output_root_rules)
{
    char uri[1200], why[300];
    cir_uri_t u;
    size_t limit = CIR_S3_KEY_MAX - CIR_ASSET_KEY_RESERVE;

    cr_assert_eq(cir_uri_parse("s3://out/a//b", &u), 0);
    cr_assert_eq(cir_output_root_check(&u, why, sizeof(why)), CIR_EINVAL);
    cr_assert_not_null(strstr(why, "empty path segment"), "%s", why);
    cr_assert_eq(cir_uri_parse("s3://out/a/b/", &u), 0);
    cr_assert_eq(cir_output_root_check(&u, why, sizeof(why)), 0);
    cr_assert_eq(cir_uri_parse("/local/a//b", &u), 0);
    cr_assert_eq(cir_output_root_check(&u, why, sizeof(why)), 0,
                 "file:// paths are the file system's business");

    memcpy(uri, "s3://out/", 9);
    memset(uri + 9, 'k', limit);
    uri[9 + limit] = '\0';
    cr_assert_eq(cir_uri_parse(uri, &u), 0);
    cr_assert_eq(cir_output_root_check(&u, why, sizeof(why)), 0, "%zu", limit);
    memcpy(uri + 9 + limit, "k", 2);
    cr_assert_eq(cir_uri_parse(uri, &u), 0);
    cr_assert_eq(cir_output_root_check(&u, why, sizeof(why)), CIR_ELIMIT);
    cr_assert_not_null(strstr(why, "1024-byte key limit"), "%s", why);
}

Test(common_uri, safe_names)
{
    cr_assert(cir_name_is_safe("cam_1-A", 7, 63));
    cr_assert_not(cir_name_is_safe("", 0, 63));
    cr_assert_not(cir_name_is_safe("a/b", 3, 63));
    cr_assert_not(cir_name_is_safe("..", 2, 63));
    cr_assert_not(cir_name_is_safe("a b", 3, 63));
    cr_assert_not(cir_name_is_safe("\xc3\xa9", 2, 63));
    cr_assert_not(cir_name_is_safe("abcd", 4, 3), "longer than the limit");
    cr_assert(cir_name_is_safe("abc", 3, 3));
    /* only s[0, len) counts */
    cr_assert(cir_name_is_safe("ab/c", 2, 63));
}
