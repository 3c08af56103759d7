/*
 * pssh boxes and the PlayReady Object.  See drm.h.
 *
 * Tested by tests/unit/test_transcoder_drm.c.
 */
#include "drm.h"

#include <string.h>

#include <openssl/evp.h>

#include "cir_error.h"

#define BOX_MAX (16 * 1024)

static const uint8_t system_ids[CIR_DRM_NB][16] = {
    /* W3C common pssh (ClearKey) 1077efec-c0b2-4d02-ace3-3c1e52e2fb4b */
    {0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e,
     0x52, 0xe2, 0xfb, 0x4b},
    /* Widevine edef8ba9-79d6-4ace-a3c8-27dcd51d21ed */
    {0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc,
     0xd5, 0x1d, 0x21, 0xed},
    /* PlayReady 9a04f079-9840-4286-ab92-e65be0885f95 */
    {0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86, 0xab, 0x92, 0xe6, 0x5b,
     0xe0, 0x88, 0x5f, 0x95},
    {0},
};

static int
put_be32(cir_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    return cir_buf_append(b, x, 4);
}

static int
put_le(cir_buf_t *b, uint32_t v, int bytes)
{
    uint8_t x[4];
    for (int i = 0; i < bytes; i++) {
        x[i] = (uint8_t)(v >> (8 * i));
    }
    return cir_buf_append(b, x, (size_t)bytes);
}

/* A pssh box: version 1 lists the key ID. */
static int
put_pssh(cir_buf_t *b, cir_drm_system_t s, int version, const uint8_t kid[16],
         const void *data, size_t len)
{
    uint32_t size = 8 + 4 + 16 + (version ? 4 + 16 : 0) + 4 + (uint32_t)len;
    int ret = 0;

    ret |= put_be32(b, size);
    ret |= cir_buf_append(b, "pssh", 4);
    ret |= put_be32(b, (uint32_t)version << 24);
    ret |= cir_buf_append(b, system_ids[s], 16);
    if (version) {
        ret |= put_be32(b, 1);
        ret |= cir_buf_append(b, kid, 16);
    }
    ret |= put_be32(b, (uint32_t)len);
    if (len > 0) {
        ret |= cir_buf_append(b, data, len);
    }
    return ret < 0 ? CIR_ENOMEM : 0;
}

/* ---- Widevine: WidevinePsshData (protobuf) ---- */

static int
put_varint(cir_buf_t *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;

    do {
        x[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        x[n] |= v ? 0x80 : 0;
        n++;
    } while (v);
    return cir_buf_append(b, x, n);
}

/* Field 2 key_ids, 3 provider, 9 protection_scheme (the scheme's fourcc
 * as a big-endian uint32). */
static int
widevine_data(cir_buf_t *b, const cir_encryption_t *enc)
{
    const char *provider = enc->drm.widevine_provider;
    const char *scheme = enc->scheme == CIR_ENC_CBCS ? "cbcs" : "cenc";
    uint32_t fourcc = (uint32_t)scheme[0] << 24 | (uint32_t)scheme[1] << 16 |
                      (uint32_t)scheme[2] << 8 | (uint32_t)scheme[3];
    int ret = 0;

    ret |= put_varint(b, 2 << 3 | 2);
    ret |= put_varint(b, 16);
    ret |= cir_buf_append(b, enc->key_id, 16);
    if (provider[0] != '\0') {
        ret |= put_varint(b, 3 << 3 | 2);
        ret |= put_varint(b, strlen(provider));
        ret |= cir_buf_puts(b, provider);
    }
    ret |= put_varint(b, 9 << 3 | 0);
    ret |= put_varint(b, fourcc);
    return ret < 0 ? CIR_ENOMEM : 0;
}

/* ---- PlayReady: the PlayReady Object ---- */

/* The key ID in a GUID's byte order (the first three fields little-endian),
 * as PlayReady headers write it. */
static void
guid_order(const uint8_t kid[16], uint8_t out[16])
{
    static const int map[16] = {3, 2, 1,  0,  5,  4,  7,  6,
                                8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++) {
        out[i] = kid[map[i]];
    }
}

/* CHECKSUM (header 4.0, AESCTR): the first 8 bytes of the GUID-ordered
 * key ID encrypted with the key, AES-128 ECB. */
static int
playready_checksum(const uint8_t guid[16], const uint8_t key[16],
                   uint8_t out[8])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t block[16 + 16];
    int n = 0, ok;

    ok = ctx != NULL &&
         EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
         EVP_EncryptUpdate(ctx, block, &n, guid, 16) == 1 && n == 16;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        return CIR_EINTERNAL;
    }
    memcpy(out, block, 8);
    OPENSSL_cleanse(block, sizeof(block));
    return 0;
}

/* The WRMHEADER as ASCII text (the URL was checked: printable ASCII
 * without quotes or angle brackets; '&' is escaped here). */
static int
wrmheader(cir_buf_t *x, const cir_encryption_t *enc)
{
    uint8_t guid[16], sum[8];
    unsigned char kid64[32], sum64[16];
    const char *url = enc->drm.playready_la_url;
    int ret;

    guid_order(enc->key_id, guid);
    EVP_EncodeBlock(kid64, guid, 16);
    ret = cir_buf_puts(x, "<WRMHEADER xmlns=\"http://schemas.microsoft.com/"
                          "DRM/2007/03/PlayReadyHeader\" ");
    if (enc->scheme == CIR_ENC_CBCS) {
        /* AESCBC needs header 4.3, which has no CHECKSUM for it */
        ret |= cir_buf_printf(x,
                              "version=\"4.3.0.0\"><DATA><PROTECTINFO><KIDS>"
                              "<KID ALGID=\"AESCBC\" VALUE=\"%s\"></KID>"
                              "</KIDS></PROTECTINFO>",
                              kid64);
    } else {
        if (playready_checksum(guid, enc->key, sum) < 0) {
            return CIR_EINTERNAL;
        }
        EVP_EncodeBlock(sum64, sum, 8);
        ret |= cir_buf_printf(x,
                              "version=\"4.0.0.0\"><DATA><PROTECTINFO>"
                              "<KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID>"
                              "</PROTECTINFO><KID>%s</KID>"
                              "<CHECKSUM>%s</CHECKSUM>",
                              kid64, sum64);
    }
    if (url[0] != '\0') {
        ret |= cir_buf_puts(x, "<LA_URL>");
        for (const char *p = url; *p != '\0'; p++) {
            ret |=
                *p == '&' ? cir_buf_puts(x, "&amp;") : cir_buf_append(x, p, 1);
        }
        ret |= cir_buf_puts(x, "</LA_URL>");
    }
    ret |= cir_buf_puts(x, "</DATA></WRMHEADER>");
    return ret < 0 ? CIR_ENOMEM : 0;
}

/* Length, one record (type 1: rights management header), the header in
 * UTF-16LE; every number little-endian. */
static int
playready_object(cir_buf_t *pro, const cir_encryption_t *enc)
{
    cir_buf_t xml;
    int ret;

    cir_buf_init(&xml, BOX_MAX / 2);
    if ((ret = wrmheader(&xml, enc)) < 0) {
        cir_buf_free(&xml);
        return ret;
    }
    ret = put_le(pro, (uint32_t)(4 + 2 + 2 + 2 + 2 * xml.len), 4);
    ret |= put_le(pro, 1, 2);
    ret |= put_le(pro, 1, 2);
    ret |= put_le(pro, (uint32_t)(2 * xml.len), 2);
    for (size_t i = 0; i < xml.len; i++) {
        ret |= put_le(pro, (uint8_t)xml.data[i], 2);
    }
    cir_buf_free(&xml);
    return ret < 0 ? CIR_ENOMEM : 0;
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* The key provider's boxes (cir_speke.c checked each: one whole pssh box
 * of its system) instead of ours; PlayReady's Object is its box's data. */
static int
use_provider_boxes(cir_drm_boxes_t *b, const cir_encryption_t *enc)
{
    for (int s = 0; s < CIR_DRM_NB; s++) {
        const uint8_t *box = enc->provider_pssh[s];
        size_t len = enc->provider_pssh_len[s], off;

        if (len == 0 || !(enc->drm.systems & CIR_DRM_BIT(s))) {
            continue;
        }
        cir_buf_reset(&b->pssh[s]);
        if (cir_buf_append(&b->pssh[s], box, len) < 0) {
            return CIR_ENOMEM;
        }
        if (s != CIR_DRM_PLAYREADY) {
            continue;
        }
        off = box[8] == 1 ? 32 + 16 * (size_t)get_be32(box + 28) : 28;
        if (off + 4 > len) {
            return CIR_EINTERNAL;
        }
        cir_buf_reset(&b->playready_pro);
        if (cir_buf_append(&b->playready_pro, box + off + 4, len - off - 4) <
            0) {
            return CIR_ENOMEM;
        }
    }
    return 0;
}

int
cir_drm_boxes_build(cir_drm_boxes_t *b, const cir_encryption_t *enc)
{
    unsigned systems = enc->drm.systems;
    cir_buf_t data;
    int ret = 0;

    for (int s = 0; s < CIR_DRM_NB; s++) {
        cir_buf_init(&b->pssh[s], BOX_MAX);
    }
    cir_buf_init(&b->playready_pro, BOX_MAX);
    cir_buf_init(&data, BOX_MAX);
    if (systems & CIR_DRM_BIT(CIR_DRM_CLEARKEY)) {
        ret = put_pssh(&b->pssh[CIR_DRM_CLEARKEY], CIR_DRM_CLEARKEY, 1,
                       enc->key_id, NULL, 0);
    }
    if (ret == 0 && (systems & CIR_DRM_BIT(CIR_DRM_WIDEVINE)) &&
        (ret = widevine_data(&data, enc)) == 0) {
        ret = put_pssh(&b->pssh[CIR_DRM_WIDEVINE], CIR_DRM_WIDEVINE, 0,
                       enc->key_id, data.data, data.len);
    }
    if (ret == 0 && (systems & CIR_DRM_BIT(CIR_DRM_PLAYREADY)) &&
        (ret = playready_object(&b->playready_pro, enc)) == 0) {
        ret =
            put_pssh(&b->pssh[CIR_DRM_PLAYREADY], CIR_DRM_PLAYREADY, 1,
                     enc->key_id, b->playready_pro.data, b->playready_pro.len);
    }
    cir_buf_free(&data);
    return ret == 0 ? use_provider_boxes(b, enc) : ret;
}

int
cir_drm_boxes_concat(const cir_drm_boxes_t *b, cir_buf_t *out)
{
    for (int s = 0; s < CIR_DRM_NB; s++) {
        if (b->pssh[s].len > 0 &&
            cir_buf_append(out, b->pssh[s].data, b->pssh[s].len) < 0) {
            return CIR_ENOMEM;
        }
    }
    return 0;
}

void
cir_drm_boxes_free(cir_drm_boxes_t *b)
{
    for (int s = 0; s < CIR_DRM_NB; s++) {
        cir_buf_free(&b->pssh[s]);
    }
    cir_buf_free(&b->playready_pro);
}
