/*
 * transcoder/src/drm.c: the pssh boxes and the PlayReady Object for each
 * DRM system, read back byte by byte: box header, system ID, version and
 * key ID list, Widevine's protobuf fields, the PlayReady Object's record
 * and its UTF-16LE WRMHEADER (GUID-ordered key ID, the AESCTR checksum,
 * the escaped licence URL, AESCBC for cbcs).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "drm.h"

static const uint8_t KID[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static cir_encryption_t
enc_for(cir_enc_scheme_t scheme, unsigned systems)
{
    cir_encryption_t e = {.scheme = scheme};

    memcpy(e.key_id, KID, 16);
    memset(e.key, 0x3c, 16);
    e.drm.systems = systems;
    snprintf(e.drm.widevine_provider, sizeof(e.drm.widevine_provider), "acme");
    snprintf(e.drm.playready_la_url, sizeof(e.drm.playready_la_url),
             "https://pr.example/r?a=1&b=2");
    return e;
}

static uint32_t
rb32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Checks the box header; returns the data and its size. */
static const uint8_t *
pssh_data(const cir_buf_t *b, const char *system_hex, int version,
          uint32_t *size)
{
    const uint8_t *p = (const uint8_t *)b->data;
    char hex[33];
    size_t at = 28;

    cr_assert_geq(b->len, 32);
    cr_assert_eq(rb32(p), b->len);
    cr_assert_eq(memcmp(p + 4, "pssh", 4), 0);
    cr_assert_eq(p[8], version);
    for (int i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", p[12 + i]);
    }
    cr_assert_str_eq(hex, system_hex);
    if (version == 1) {
        cr_assert_eq(rb32(p + 28), 1);
        cr_assert_eq(memcmp(p + 32, KID, 16), 0);
        at = 48;
    }
    *size = rb32(p + at);
    cr_assert_eq(at + 4 + *size, b->len);
    return p + at + 4;
}

Test(drm, clearkey_common_pssh)
{
    cir_encryption_t e = enc_for(CIR_ENC_CENC, CIR_DRM_BIT(CIR_DRM_CLEARKEY));
    cir_drm_boxes_t b;
    cir_buf_t all;
    uint32_t n;

    cir_buf_init(&all, 1 << 16);
    cr_assert_eq(cir_drm_boxes_build(&b, &e), 0);
    pssh_data(&b.pssh[CIR_DRM_CLEARKEY], "1077efecc0b24d02ace33c1e52e2fb4b", 1,
              &n);
    cr_expect_eq(n, 0);
    cr_expect_eq(b.pssh[CIR_DRM_WIDEVINE].len, 0);
    cr_expect_eq(b.playready_pro.len, 0);
    cr_assert_eq(cir_drm_boxes_concat(&b, &all), 0);
    cr_expect_eq(all.len, 52);
    cir_buf_free(&all);
    cir_drm_boxes_free(&b);
}

Test(drm, widevine_protobuf)
{
    cir_encryption_t e = enc_for(CIR_ENC_CBCS, CIR_DRM_BIT(CIR_DRM_WIDEVINE));
    static const uint8_t want_tail[] = {0x1a, 4,    'a',  'c',  'm',  'e',
                                        0x48, 0xf3, 0xc6, 0x89, 0x9b, 0x06};
    cir_drm_boxes_t b;
    const uint8_t *d;
    uint32_t n;

    cr_assert_eq(cir_drm_boxes_build(&b, &e), 0);
    d = pssh_data(&b.pssh[CIR_DRM_WIDEVINE], "edef8ba979d64acea3c827dcd51d21ed",
                  0, &n);
    /* key_ids (field 2), provider (3), protection_scheme (9) = 'cbcs' */
    cr_assert_eq(n, 2 + 16 + sizeof(want_tail));
    cr_expect_eq(d[0], 0x12);
    cr_expect_eq(d[1], 16);
    cr_expect_eq(memcmp(d + 2, KID, 16), 0);
    cr_expect_eq(memcmp(d + 18, want_tail, sizeof(want_tail)), 0);
    cir_drm_boxes_free(&b);
}

/* The PlayReady Object's header as ASCII (it is UTF-16LE of ASCII). */
static char *
pro_header(const cir_buf_t *pro)
{
    const uint8_t *p = (const uint8_t *)pro->data;
    uint32_t total = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t len = p[8] | p[9] << 8;
    char *s;

    cr_assert_eq(total, pro->len);
    cr_assert_eq(p[4] | p[5] << 8, 1); /* one record */
    cr_assert_eq(p[6] | p[7] << 8, 1); /* rights management header */
    cr_assert_eq(10 + len, pro->len);
    s = calloc(1, len / 2 + 1);
    for (uint32_t i = 0; i < len / 2; i++) {
        cr_assert_eq(p[10 + 2 * i + 1], 0);
        s[i] = (char)p[10 + 2 * i];
    }
    return s;
}

Test(drm, playready_object_cenc)
{
    cir_encryption_t e = enc_for(CIR_ENC_CENC, CIR_DRM_BIT(CIR_DRM_PLAYREADY));
    /* the key ID in GUID order: 67452301-ab89-efcd-0123-456789abcdef */
    static const uint8_t guid[16] = {0x67, 0x45, 0x23, 0x01, 0xab, 0x89,
                                     0xef, 0xcd, 0x01, 0x23, 0x45, 0x67,
                                     0x89, 0xab, 0xcd, 0xef};
    unsigned char kid64[32], sum64[16];
    uint8_t sum[16];
    char want[256];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    cir_drm_boxes_t b;
    const uint8_t *d;
    uint32_t n;
    int len = 0;
    char *x;

    cr_assert_eq(cir_drm_boxes_build(&b, &e), 0);
    d = pssh_data(&b.pssh[CIR_DRM_PLAYREADY],
                  "9a04f07998404286ab92e65be0885f95", 1, &n);
    cr_assert_eq(n, b.playready_pro.len);
    cr_assert_eq(memcmp(d, b.playready_pro.data, n), 0);
    x = pro_header(&b.playready_pro);
    cr_expect_not_null(strstr(x, "version=\"4.0.0.0\""), "%s", x);
    cr_expect_not_null(strstr(x, "<ALGID>AESCTR</ALGID>"), "%s", x);
    EVP_EncodeBlock(kid64, guid, 16);
    snprintf(want, sizeof(want), "<KID>%s</KID>", kid64);
    cr_expect_not_null(strstr(x, want), "%s in %s", want, x);
    EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, e.key, NULL);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    EVP_EncryptUpdate(ctx, sum, &len, guid, 16);
    EVP_CIPHER_CTX_free(ctx);
    EVP_EncodeBlock(sum64, sum, 8);
    snprintf(want, sizeof(want), "<CHECKSUM>%s</CHECKSUM>", sum64);
    cr_expect_not_null(strstr(x, want), "%s in %s", want, x);
    cr_expect_not_null(
        strstr(x, "<LA_URL>https://pr.example/r?a=1&amp;b=2</LA_URL>"), "%s",
        x);
    free(x);
    cir_drm_boxes_free(&b);
}

Test(drm, playready_object_cbcs)
{
    cir_encryption_t e =
        enc_for(CIR_ENC_CBCS,
                CIR_DRM_BIT(CIR_DRM_PLAYREADY) | CIR_DRM_BIT(CIR_DRM_FAIRPLAY));
    cir_drm_boxes_t b;
    char *x;

    e.drm.playready_la_url[0] = '\0';
    cr_assert_eq(cir_drm_boxes_build(&b, &e), 0);
    x = pro_header(&b.playready_pro);
    cr_expect_not_null(strstr(x, "version=\"4.3.0.0\""), "%s", x);
    cr_expect_not_null(strstr(x, "<KID ALGID=\"AESCBC\" VALUE=\""), "%s", x);
    cr_expect_null(strstr(x, "CHECKSUM"), "%s", x);
    cr_expect_null(strstr(x, "LA_URL"), "%s", x);
    /* FairPlay has no pssh */
    cr_expect_eq(b.pssh[CIR_DRM_FAIRPLAY].len, 0);
    free(x);
    cir_drm_boxes_free(&b);
}

/* A key provider's boxes (SPEKE) replace ours byte for byte; PlayReady's
 * Object is then its box's data; a system without one keeps ours. */
Test(drm, provider_boxes)
{
    cir_encryption_t e =
        enc_for(CIR_ENC_CBCS, CIR_DRM_BIT(CIR_DRM_CLEARKEY) |
                                  CIR_DRM_BIT(CIR_DRM_WIDEVINE) |
                                  CIR_DRM_BIT(CIR_DRM_PLAYREADY));
    static const uint8_t pro[6] = {'v', 'e', 'n', 'd', 'o', 'r'};
    uint8_t *wv = e.provider_pssh[CIR_DRM_WIDEVINE];
    uint8_t *pr = e.provider_pssh[CIR_DRM_PLAYREADY];
    cir_drm_boxes_t b;
    uint32_t n;

    /* Widevine, version 0, data "xyz" */
    memcpy(wv, "\0\0\0\x23pssh\0\0\0\0", 12);
    memcpy(wv + 12,
           "\xed\xef\x8b\xa9\x79\xd6\x4a\xce\xa3\xc8\x27\xdc\xd5\x1d\x21\xed",
           16);
    memcpy(wv + 28, "\0\0\0\x03xyz", 7);
    e.provider_pssh_len[CIR_DRM_WIDEVINE] = 35;
    /* PlayReady, version 1, the key ID, data "vendor" */
    memcpy(pr, "\0\0\0\x3apssh\x01\0\0\0", 12);
    memcpy(pr + 12,
           "\x9a\x04\xf0\x79\x98\x40\x42\x86\xab\x92\xe6\x5b\xe0\x88\x5f\x95",
           16);
    memcpy(pr + 28, "\0\0\0\x01", 4);
    memcpy(pr + 32, KID, 16);
    memcpy(pr + 48, "\0\0\0\x06", 4);
    memcpy(pr + 52, pro, 6);
    e.provider_pssh_len[CIR_DRM_PLAYREADY] = 58;

    cr_assert_eq(cir_drm_boxes_build(&b, &e), 0);
    cr_assert_eq(b.pssh[CIR_DRM_WIDEVINE].len, 35);
    cr_expect_eq(memcmp(b.pssh[CIR_DRM_WIDEVINE].data, wv, 35), 0);
    cr_assert_eq(b.pssh[CIR_DRM_PLAYREADY].len, 58);
    cr_expect_eq(memcmp(b.pssh[CIR_DRM_PLAYREADY].data, pr, 58), 0);
    cr_assert_eq(b.playready_pro.len, 6);
    cr_expect_eq(memcmp(b.playready_pro.data, pro, 6), 0);
    pssh_data(&b.pssh[CIR_DRM_CLEARKEY], "1077efecc0b24d02ace33c1e52e2fb4b", 1,
              &n);
    cir_drm_boxes_free(&b);
}
