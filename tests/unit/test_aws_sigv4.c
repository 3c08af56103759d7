/*
 * SigV4 against AWS's published test vectors: the aws-sig-v4-test-suite
 * (AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service"; the
 * unnormalised path variants, as S3 signs), and the S3 GET object, the S3
 * presigned URL and IAM ListUsers examples of AWS's documentation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "cir_sigv4.h"

#define SUITE_KEY    "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE   "20150830T123600Z"
#define EMPTY        CIR_SIGV4_EMPTY_SHA256

typedef struct {
    const char *name;
    const char *method;
    const char *path;
    cir_aws_kv_t query[4];
    size_t nquery;
    cir_aws_kv_t headers[6]; /* besides host and x-amz-date */
    size_t nheaders;
    const char *payload;
    const char *creq;
    const char *sts_hash; /* last line of the string to sign */
    const char *sig;
} vector_t;

static const vector_t vectors[] = {
    {"get-vanilla",
     "GET",
     "/",
     {{0}},
     0,
     {{0}},
     0,
     EMPTY,
     "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
     "host;x-amz-date\n" EMPTY,
     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"post-vanilla",
     "POST",
     "/",
     {{0}},
     0,
     {{0}},
     0,
     EMPTY,
     NULL,
     NULL,
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"get-unreserved",
     "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {{0}},
     0,
     {{0}},
     0,
     EMPTY,
     NULL,
     "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-utf8",
     "GET",
     "/\xe1\x88\xb4",
     {{0}},
     0,
     {{0}},
     0,
     EMPTY,
     "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
     "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"get-space-unnormalized",
     "GET",
     "/example space/",
     {{0}},
     0,
     {{0}},
     0,
     EMPTY,
     NULL,
     NULL,
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {"get-slashes-unnormalized",
     "GET",
     "//example//",
     {{0}},
     0,
     {{0}},
     0,
     EMPTY,
     NULL,
     NULL,
     "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"},
    {"get-relative-unnormalized",
     "GET",
     "/example/..",
     {{0}},
     0,
     {{0}},
     0,
     EMPTY,
     NULL,
     NULL,
     "eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282"},
    {"get-vanilla-query-order-key-case",
     "GET",
     "/",
     {{"Param2", "value2"}, {"Param1", "value1"}},
     2,
     {{0}},
     0,
     EMPTY,
     "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY,
     "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-query-order-encoded",
     "GET",
     "/",
     {{"Param-3", "Value3"}, {"Param", "Value2"}, {"\xe1\x88\xb4", "Value1"}},
     3,
     {{0}},
     0,
     EMPTY,
     "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n"
     "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
     "host;x-amz-date\n" EMPTY,
     NULL,
     "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
    {"get-vanilla-query-unreserved",
     "GET",
     "/",
     {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}},
     1,
     {{0}},
     0,
     EMPTY,
     NULL,
     NULL,
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {"get-vanilla-utf8-query",
     "GET",
     "/",
     {{"\xe1\x88\xb4", "bar"}},
     1,
     {{0}},
     0,
     EMPTY,
     NULL,
     NULL,
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-vanilla-with-session-token",
     "GET",
     "/",
     {{0}},
     0,
     {{"X-Amz-Security-Token",
       "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"}},
     1,
     EMPTY,
     NULL,
     "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
     "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
    {"get-header-key-duplicate",
     "GET",
     "/",
     {{0}},
     0,
     {{"My-Header1", "value2"},
      {"My-Header1", "value2"},
      {"My-Header1", "value1"}},
     3,
     EMPTY,
     "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
     "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" EMPTY,
     NULL,
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-order",
     "GET",
     "/",
     {{0}},
     0,
     {{"My-Header1", "value4"},
      {"My-Header1", "value1"},
      {"My-Header1", "value3"},
      {"My-Header1", "value2"}},
     4,
     EMPTY,
     NULL,
     NULL,
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"get-header-value-trim",
     "GET",
     "/",
     {{0}},
     0,
     {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
     2,
     EMPTY,
     "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
     "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
     "host;my-header1;my-header2;x-amz-date\n" EMPTY,
     "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"post-vanilla-query",
     "POST",
     "/",
     {{"Param1", "value1"}},
     1,
     {{0}},
     0,
     EMPTY,
     NULL,
     NULL,
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {"post-header-value-case",
     "POST",
     "/",
     {{0}},
     0,
     {{"My-Header1", "VALUE1"}},
     1,
     EMPTY,
     NULL,
     NULL,
     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     {{0}},
     0,
     {{"Content-Type", "application/x-www-form-urlencoded"},
      {"Content-Length", "13"},
      {"x-amz-content-sha256",
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}},
     3,
     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
     NULL,
     "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
     "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
};

static void
check_vector(const vector_t *v)
{
    cir_aws_kv_t h[8];
    size_t n = 0;
    char sig[65], auth[1024], want[1024];
    cir_buf_t creq, sh, sts;

    h[n++] = (cir_aws_kv_t){"Host", "example.amazonaws.com"};
    h[n++] = (cir_aws_kv_t){"X-Amz-Date", SUITE_DATE};
    for (size_t i = 0; i < v->nheaders; i++) {
        h[n++] = v->headers[i];
    }
    cir_sigv4_req_t r = {v->method, v->path, v->query,  v->nquery,
                         h,         n,       v->payload};
    cir_sigv4_scope_t s = {SUITE_KEY, SUITE_SECRET, "us-east-1", "service",
                           SUITE_DATE};

    cir_buf_init(&creq, 1 << 16);
    cir_buf_init(&sh, 1 << 12);
    cir_buf_init(&sts, 1 << 12);
    cr_assert_eq(cir_sigv4_canonical_request(&r, &creq, &sh), 0, "%s", v->name);
    if (v->creq != NULL) {
        cr_assert_str_eq(creq.data, v->creq, "%s canonical request", v->name);
    }
    cr_assert_eq(cir_sigv4_string_to_sign(&s, creq.data, &sts), 0);
    if (v->sts_hash != NULL) {
        const char *last = strrchr(sts.data, '\n');
        cr_assert_not_null(last);
        cr_assert_str_eq(last + 1, v->sts_hash, "%s string to sign", v->name);
        static const char head[] = "AWS4-HMAC-SHA256\n20150830T123600Z\n"
                                   "20150830/us-east-1/service/aws4_request\n";
        cr_assert(strncmp(sts.data, head, sizeof(head) - 1) == 0);
    }
    cr_assert_eq(cir_sigv4_sign(&r, &s, sig, auth, sizeof(auth)), 0);
    cr_assert_str_eq(sig, v->sig, "%s signature", v->name);
    snprintf(want, sizeof(want),
             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
             "service/aws4_request, SignedHeaders=%s, Signature=%s",
             sh.data, v->sig);
    cr_assert_str_eq(auth, want);
    cir_buf_free(&creq);
    cir_buf_free(&sh);
    cir_buf_free(&sts);
}

Test(aws_sigv4, test_suite_vectors)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        check_vector(&vectors[i]);
    }
}

Test(aws_sigv4, s3_get_object_documentation_example)
{
    cir_aws_kv_t h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", EMPTY},
        {"x-amz-date", "20130524T000000Z"},
    };
    cir_sigv4_req_t r = {"GET", "/test.txt", NULL, 0, h, 4, EMPTY};
    cir_sigv4_scope_t s = {"AKIAIOSFODNN7EXAMPLE",
                           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                           "us-east-1", "s3", "20130524T000000Z"};
    char sig[65], auth[1024];

    cr_assert_eq(cir_sigv4_sign(&r, &s, sig, auth, sizeof(auth)), 0);
    cr_assert_str_eq(
        sig,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    cr_assert_str_eq(
        auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
              "us-east-1/s3/aws4_request, "
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91"
              "039c6036bdb41");
}

/* S3's "Authenticating Requests: Using Query Parameters" example. */
Test(aws_sigv4, s3_presigned_url_documentation_example)
{
    cir_sigv4_scope_t s = {"AKIAIOSFODNN7EXAMPLE",
                           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                           "us-east-1", "s3", "20130524T000000Z"};
    cir_buf_t q;

    cir_buf_init(&q, 4096);
    cr_assert_eq(cir_sigv4_presign_query("GET",
                                         "examplebucket.s3.amazonaws.com",
                                         "/test.txt", &s, NULL, 86400, &q),
                 0);
    cr_assert_str_eq(
        q.data,
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date="
        "20130524T000000Z"
        "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* more than S3's 7 days: refused */
    cr_assert_eq(
        cir_sigv4_presign_query("PUT", "h", "/k", &s, NULL, 604801, &q),
        CIR_EINVAL);
    cir_buf_free(&q);
}

Test(aws_sigv4, iam_list_users_documentation_example)
{
    cir_aws_kv_t q[] = {{"Version", "2010-05-08"}, {"Action", "ListUsers"}};
    cir_aws_kv_t h[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"Host", "iam.amazonaws.com"},
        {"X-Amz-Date", "20150830T123600Z"},
    };
    cir_sigv4_req_t r = {"GET", "/", q, 2, h, 3, EMPTY};
    cir_sigv4_scope_t s = {SUITE_KEY, SUITE_SECRET, "us-east-1", "iam",
                           "20150830T123600Z"};
    cir_buf_t creq, sh;
    char sig[65];

    cir_buf_init(&creq, 4096);
    cir_buf_init(&sh, 4096);
    cr_assert_eq(cir_sigv4_canonical_request(&r, &creq, &sh), 0);
    cr_assert_str_eq(creq.data,
                     "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                     "content-type:application/x-www-form-urlencoded; "
                     "charset=utf-8\nhost:iam.amazonaws.com\n"
                     "x-amz-date:20150830T123600Z\n\n"
                     "content-type;host;x-amz-date\n" EMPTY);
    cr_assert_eq(cir_sigv4_sign(&r, &s, sig, NULL, 0), 0);
    cr_assert_str_eq(
        sig,
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    cir_buf_free(&creq);
    cir_buf_free(&sh);
}

Test(aws_sigv4, signing_key_documentation_example)
{
    /* AWS's "derive a signing key" example (iam, 20120215) */
    static const uint8_t want[32] = {
        0xf4, 0x78, 0x0e, 0x2d, 0x9f, 0x65, 0xfa, 0x89, 0x5f, 0x9c, 0x67,
        0xb3, 0x2c, 0xe1, 0xba, 0xf0, 0xb0, 0xd8, 0xa4, 0x35, 0x05, 0xa0,
        0x00, 0xa1, 0xa9, 0xe0, 0x90, 0xd4, 0x14, 0xdb, 0x40, 0x4d};
    uint8_t key[32];

    cir_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                          "20120215", "us-east-1", "iam", key);
    cr_assert_arr_eq(key, want, 32);
}

Test(aws_sigv4, s3_keys_encode_once_per_segment)
{
    cir_buf_t b;

    cir_buf_init(&b, 4096);
    cr_assert_eq(cir_sigv4_uri_encode(&b, "/in/My Video+ü (1).mp4",
                                      strlen("/in/My Video+ü (1).mp4"), 0),
                 0);
    cr_assert_str_eq(b.data, "/in/My%20Video%2B%C3%BC%20%281%29.mp4");
    cir_buf_reset(&b);
    cr_assert_eq(cir_sigv4_uri_encode(&b, "a/b=c%", 6, 1), 0);
    cr_assert_str_eq(b.data, "a%2Fb%3Dc%25");
    cir_buf_free(&b);
}

Test(aws_sigv4, empty_query_value_and_sorting_by_value)
{
    cir_aws_kv_t q[] = {{"uploads", ""}, {"b", "2"}, {"b", "1"}, {"a b", NULL}};
    cir_buf_t b;

    cir_buf_init(&b, 4096);
    cr_assert_eq(cir_sigv4_canonical_query(q, 4, &b), 0);
    cr_assert_str_eq(b.data, "a%20b=&b=1&b=2&uploads=");
    cir_buf_free(&b);
}

Test(aws_sigv4, rejects_bad_input)
{
    cir_buf_t a, b;
    cir_sigv4_req_t r = {"GET", "relative", NULL, 0, NULL, 0, EMPTY};

    cir_buf_init(&a, 4096);
    cir_buf_init(&b, 4096);
    cr_assert_lt(cir_sigv4_canonical_request(&r, &a, &b), 0);
    cir_buf_free(&a);
    cir_buf_free(&b);
}

Test(aws_sigv4, amz_date_format)
{
    char d[17];

    cir_sigv4_amz_date(1440938160, d);
    cr_assert_str_eq(d, "20150830T123600Z");
}
