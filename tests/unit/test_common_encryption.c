/*
 * cir_encryption_parse (a job's "encryption"): inline keys, key files,
 * and hostile input refused with an error naming the field and never
 * quoting the key.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cir_encryption.h"
#include "cir_error.h"

#define KID "0123456789abcdef0123456789ABCDEF"
#define KEY "00112233445566778899aabbccddeeff"

static char err[512];

static int
parse(const char *text, cir_encryption_t *e)
{
    err[0] = '\0';
    return cir_encryption_parse_text(text, e, err, sizeof(err));
}

/* Fails with ret, err names field, the key is nowhere in err, and the
 * result is cleared. */
static void
refused(const char *text, int ret, const char *field)
{
    cir_encryption_t e;
    static const uint8_t zero[sizeof(e)];

    cr_expect_eq(parse(text, &e), ret, "%s: %s", text, err);
    cr_expect_not_null(strstr(err, field), "%s: \"%s\" does not name %s", text,
                       err, field);
    cr_expect_null(strstr(err, KEY), "%s: the key is in \"%s\"", text, err);
    cr_expect_eq(memcmp(&e, zero, sizeof(e)), 0, "%s: not cleared", text);
}

static char *
write_temp(const char *content)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/cirrus-key-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

Test(encryption, inline_cenc)
{
    cir_encryption_t e;
    char hex[33], uuid[37];

    cr_assert_eq(parse("{\"scheme\": \"cenc\", \"key_id\": \"" KID
                       "\", \"key\": \"" KEY "\"}",
                       &e),
                 0, "%s", err);
    cr_expect_eq(e.scheme, CIR_ENC_CENC);
    cr_expect_eq(e.key_id[0], 0x01);
    cr_expect_eq(e.key_id[15], 0xef);
    cr_expect_eq(e.key[1], 0x11);
    cir_encryption_hex(e.key_id, hex);
    cr_expect_str_eq(hex, "0123456789abcdef0123456789abcdef");
    cir_encryption_uuid(e.key_id, uuid);
    cr_expect_str_eq(uuid, "01234567-89ab-cdef-0123-456789abcdef");
    cr_expect_str_eq(cir_encryption_scheme_name(e.scheme), "cenc");
    cir_encryption_clear(&e);
    cr_expect_eq(e.scheme, CIR_ENC_NONE);
    cr_expect_eq(e.key[1], 0);
}

Test(encryption, none)
{
    cir_encryption_t e;

    cr_expect_eq(parse("", &e), 0);
    cr_expect_eq(e.scheme, CIR_ENC_NONE);
    cr_expect_eq(cir_encryption_parse_text(NULL, &e, err, sizeof(err)), 0);
    cr_expect_eq(e.scheme, CIR_ENC_NONE);
}

Test(encryption, key_file_cbcs)
{
    cir_encryption_t e;
    char text[256];
    char *path =
        write_temp("{\"key_id\": \"" KID "\", \"key\": \"" KEY "\"}\n");

    snprintf(text, sizeof(text), "{\"scheme\": \"cbcs\", \"key_file\": \"%s\"}",
             path);
    cr_assert_eq(parse(text, &e), 0, "%s", err);
    cr_expect_eq(e.scheme, CIR_ENC_CBCS);
    cr_expect_eq(e.key_id[1], 0x23);
    cr_expect_eq(e.key[15], 0xff);
    unlink(path);
}

Test(encryption, bad_key_files)
{
    char text[256];
    char *path;

    refused("{\"scheme\": \"cenc\", \"key_file\": \"/nonexistent/k.json\"}",
            CIR_ENOTFOUND, "encryption.key_file");
    refused("{\"scheme\": \"cenc\", \"key_file\": \"\"}", CIR_EINVAL,
            "encryption.key_file");
    refused("{\"scheme\": \"cenc\", \"key_file\": 3}", CIR_EINVAL,
            "encryption.key_file");

    /* a line of hex is not the format; the content is never quoted */
    path = write_temp(KID ":" KEY "\n");
    snprintf(text, sizeof(text), "{\"scheme\": \"cenc\", \"key_file\": \"%s\"}",
             path);
    refused(text, CIR_EINVAL, "encryption.key_file");
    unlink(path);

    path = write_temp("{\"key_id\": \"" KID "\", \"key\": \"" KEY
                      "\", \"iv\": \"00\"}");
    snprintf(text, sizeof(text), "{\"scheme\": \"cenc\", \"key_file\": \"%s\"}",
             path);
    refused(text, CIR_EINVAL, "unknown field \"iv\"");
    unlink(path);

    path = write_temp("{\"key_id\": \"" KID "\", \"key\": \"" KEY "0\"}");
    snprintf(text, sizeof(text), "{\"scheme\": \"cenc\", \"key_file\": \"%s\"}",
             path);
    refused(text, CIR_EINVAL, "encryption.key:");
    unlink(path);

    /* larger than the bound */
    {
        static char big[CIR_KEY_FILE_MAX + 100];
        memset(big, ' ', sizeof(big) - 1);
        path = write_temp(big);
        snprintf(text, sizeof(text),
                 "{\"scheme\": \"cenc\", \"key_file\": \"%s\"}", path);
        refused(text, CIR_ELIMIT, "encryption.key_file");
        unlink(path);
    }
}

Test(encryption, hostile)
{
    refused("[]", CIR_EINVAL, "encryption");
    refused("{\"not json", CIR_EINVAL, "encryption");
    refused("{\"key_id\": \"" KID "\", \"key\": \"" KEY "\"}", CIR_EINVAL,
            "encryption.scheme");
    refused("{\"scheme\": \"cens\", \"key_id\": \"" KID "\", \"key\": \"" KEY
            "\"}",
            CIR_EINVAL, "encryption.scheme");
    refused("{\"scheme\": 1, \"key_id\": \"" KID "\", \"key\": \"" KEY "\"}",
            CIR_EINVAL, "encryption.scheme");
    refused("{\"scheme\": \"cenc\", \"key\": \"" KEY "\"}", CIR_EINVAL,
            "key_id");
    refused("{\"scheme\": \"cenc\", \"key_id\": \"" KID "\"}", CIR_EINVAL,
            "key");
    /* wrong length, bad hex, wrong type */
    refused("{\"scheme\": \"cenc\", \"key_id\": \"0123\", \"key\": \"" KEY
            "\"}",
            CIR_EINVAL, "encryption.key_id: 4 characters");
    refused("{\"scheme\": \"cenc\", \"key_id\": \"" KID "\", \"key\": \"" KEY
            "00\"}",
            CIR_EINVAL, "encryption.key: 34 characters");
    refused("{\"scheme\": \"cenc\", \"key_id\": \"" KID
            "\", \"key\": \"00112233445566778899aabbccddeefg\"}",
            CIR_EINVAL, "encryption.key: not hex (character 32)");
    refused("{\"scheme\": \"cenc\", \"key_id\": \"0123-4567-89ab-cdef-0123-"
            "456789ab\", \"key\": \"" KEY "\"}",
            CIR_EINVAL, "encryption.key_id");
    refused("{\"scheme\": \"cenc\", \"key_id\": 12, \"key\": \"" KEY "\"}",
            CIR_EINVAL, "encryption.key_id: not a string");
    refused("{\"scheme\": \"cenc\", \"key_id\": \"" KID
            "\", \"key\": \"00000000000000000000000000000000\"}",
            CIR_EINVAL, "encryption.key: all zero");
    refused("{\"scheme\": \"cenc\", \"key_id\": \"" KID "\", \"key\": \"" KEY
            "\", \"kid\": \"x\"}",
            CIR_EINVAL, "unknown field \"kid\"");
    refused("{\"scheme\": \"cenc\", \"key_id\": \"" KID "\", \"key\": \"" KEY
            "\", \"key_file\": \"/tmp/k\"}",
            CIR_EINVAL, "key_file and key_id/key both given");
    refused("{\"scheme\": \"cenc\", \"scheme\": \"cbcs\", \"key_id\": \"" KID
            "\", \"key\": \"" KEY "\"}",
            CIR_EINVAL, "encryption");
}

#define ENC(scheme, drm)                                               \
    "{\"scheme\":\"" scheme "\",\"key_id\":\"" KID "\",\"key\":\"" KEY \
    "\",\"drm\":" drm "}"

Test(encryption, drm_systems)
{
    cir_encryption_t e;

    /* no drm: ClearKey alone */
    cr_assert_eq(parse("{\"scheme\":\"cenc\",\"key_id\":\"" KID
                       "\",\"key\":\"" KEY "\"}",
                       &e),
                 0, "%s", err);
    cr_expect_eq(e.drm.systems, CIR_DRM_BIT(CIR_DRM_CLEARKEY));
    cr_assert_eq(
        parse(ENC("cbcs", "{\"widevine\":{\"provider\":\"acme-1\"},"
                          "\"playready\":{\"la_url\":\"https://pr.example/"
                          "r?a=1&b=2\"},\"fairplay\":{\"key_uri\":"
                          "\"skd://film-42\"}}"),
              &e),
        0, "%s", err);
    cr_expect_eq(e.drm.systems, CIR_DRM_BIT(CIR_DRM_WIDEVINE) |
                                    CIR_DRM_BIT(CIR_DRM_PLAYREADY) |
                                    CIR_DRM_BIT(CIR_DRM_FAIRPLAY));
    cr_expect_str_eq(e.drm.widevine_provider, "acme-1");
    cr_expect_str_eq(e.drm.playready_la_url, "https://pr.example/r?a=1&b=2");
    cr_expect_str_eq(e.drm.fairplay_key_uri, "skd://film-42");
    cr_expect_str_eq(cir_drm_system_name(CIR_DRM_PLAYREADY), "playready");
    cr_assert_eq(parse(ENC("cenc", "{\"clearkey\":{},\"playready\":{}}"), &e),
                 0, "%s", err);
    cr_expect_eq(e.drm.systems, CIR_DRM_BIT(CIR_DRM_CLEARKEY) |
                                    CIR_DRM_BIT(CIR_DRM_PLAYREADY));
    cr_expect_str_eq(e.drm.playready_la_url, "");
}

Test(encryption, drm_hostile)
{
    refused(ENC("cenc", "{}"), CIR_EINVAL, "encryption.drm");
    refused(ENC("cenc", "[\"widevine\"]"), CIR_EINVAL, "encryption.drm");
    refused(ENC("cenc", "{\"primetime\":{}}"), CIR_EINVAL,
            "unknown system \"primetime\"");
    refused(ENC("cenc", "{\"widevine\":true}"), CIR_EINVAL,
            "encryption.drm.widevine: not an object");
    refused(ENC("cenc", "{\"widevine\":{\"provider\":\"a b\"}}"), CIR_EINVAL,
            "encryption.drm.widevine.provider");
    refused(ENC("cenc", "{\"widevine\":{\"content_id\":\"x\"}}"), CIR_EINVAL,
            "unknown field \"content_id\"");
    refused(ENC("cenc", "{\"clearkey\":{\"x\":1}}"), CIR_EINVAL,
            "encryption.drm.clearkey: unknown field");
    refused(ENC("cenc", "{\"playready\":{\"la_url\":\"ftp://x\"}}"), CIR_EINVAL,
            "encryption.drm.playready.la_url");
    refused(ENC("cenc", "{\"playready\":{\"la_url\":\"https://x/\\\"><a\"}}"),
            CIR_EINVAL, "encryption.drm.playready.la_url");
    refused(ENC("cenc", "{\"playready\":{\"la_url\":\"https://\"}}"),
            CIR_EINVAL, "encryption.drm.playready.la_url");
    refused(ENC("cenc", "{\"fairplay\":{\"key_uri\":\"skd://k\"}}"), CIR_EINVAL,
            "encryption.drm.fairplay: needs the cbcs scheme");
    refused(ENC("cbcs", "{\"fairplay\":{}}"), CIR_EINVAL,
            "encryption.drm.fairplay.key_uri: missing");
    refused(ENC("cbcs", "{\"fairplay\":{\"key_uri\":\"https://k\"}}"),
            CIR_EINVAL, "encryption.drm.fairplay.key_uri");
}

Test(encryption, aes128_key_uri)
{
    cir_encryption_t e;

    cr_assert_eq(parse("{\"scheme\":\"aes-128\",\"key_id\":\"" KID
                       "\",\"key\":\"" KEY
                       "\",\"key_uri\":\"https://keys.example/k?x=1\"}",
                       &e),
                 0, "%s", err);
    cr_expect_eq(e.scheme, CIR_ENC_AES128);
    cr_expect_str_eq(e.key_uri, "https://keys.example/k?x=1");
    cr_expect_str_eq(cir_encryption_scheme_name(e.scheme), "aes-128");
    cr_expect_eq(e.drm.systems, 0);
    refused("{\"scheme\":\"aes-128\",\"key_id\":\"" KID "\",\"key\":\"" KEY
            "\"}",
            CIR_EINVAL, "encryption.key_uri: missing");
    refused("{\"scheme\":\"aes-128\",\"key_id\":\"" KID "\",\"key\":\"" KEY
            "\",\"key_uri\":\"a b\"}",
            CIR_EINVAL, "encryption.key_uri");
    refused("{\"scheme\":\"aes-128\",\"key_id\":\"" KID "\",\"key\":\"" KEY
            "\",\"key_uri\":\"\"}",
            CIR_EINVAL, "encryption.key_uri");
    refused("{\"scheme\":\"aes-128\",\"key_id\":\"" KID "\",\"key\":\"" KEY
            "\",\"key_uri\":\"k\",\"drm\":{\"widevine\":{}}}",
            CIR_EINVAL, "encryption.drm: not with aes-128");
    refused("{\"scheme\":\"cbcs\",\"key_id\":\"" KID "\",\"key\":\"" KEY
            "\",\"key_uri\":\"k\"}",
            CIR_EINVAL, "encryption.key_uri: only with the aes-128 scheme");
}

/* "speke": the key comes from a key provider later; the fields checked
 * now (https, or http to 127.0.0.1 only), a key ID optional, no key. */
Test(encryption, speke)
{
    cir_encryption_t e;

    cr_assert_eq(parse("{\"scheme\":\"cbcs\",\"speke\":{\"url\":\"https://"
                       "kp.example/v2/speke\",\"resource_id\":\"film-42\","
                       "\"region\":\"eu-west-1\"},\"drm\":{\"fairplay\":{},"
                       "\"widevine\":{}}}",
                       &e),
                 0, "%s", err);
    cr_expect_str_eq(e.speke.url, "https://kp.example/v2/speke");
    cr_expect_str_eq(e.speke.resource_id, "film-42");
    cr_expect_str_eq(e.speke.region, "eu-west-1");
    cr_expect_eq(e.speke.key_id_given, 0);
    cr_expect_str_eq(e.drm.fairplay_key_uri, "", "the provider's, later");
    cr_expect_eq(e.drm.systems,
                 CIR_DRM_BIT(CIR_DRM_WIDEVINE) | CIR_DRM_BIT(CIR_DRM_FAIRPLAY));
    cr_assert_eq(parse("{\"scheme\":\"cenc\",\"key_id\":\"" KID "\","
                       "\"speke\":{\"url\":\"http://127.0.0.1:8080/s\","
                       "\"resource_id\":\"a:b/c_d.e-f\"}}",
                       &e),
                 0, "%s", err);
    cr_expect_eq(e.speke.key_id_given, 1);
    cr_expect_eq(e.key_id[15], 0xef);
    cr_expect_str_eq(e.speke.region, "");
}

#define SPEKE(fields)                                                   \
    "{\"scheme\":\"cbcs\",\"speke\":{\"url\":\"https://kp.example/s\"," \
    "\"resource_id\":\"r\"" fields "}}"

Test(encryption, speke_hostile)
{
    refused("{\"scheme\":\"cbcs\",\"speke\":{\"url\":\"http://kp.example/"
            "s\",\"resource_id\":\"r\"}}",
            CIR_EINVAL, "encryption.speke.url: not a https://");
    refused("{\"scheme\":\"cbcs\",\"speke\":{\"url\":\"http://127.0.0.1:1@"
            "kp.example/\",\"resource_id\":\"r\"}}",
            CIR_EINVAL, "encryption.speke.url");
    refused("{\"scheme\":\"cbcs\",\"speke\":{\"resource_id\":\"r\"}}",
            CIR_EINVAL, "encryption.speke.url: missing");
    refused("{\"scheme\":\"cbcs\",\"speke\":{\"url\":\"https://k/\"}}",
            CIR_EINVAL, "encryption.speke.resource_id");
    refused(SPEKE(",\"resource_id2\":1"), CIR_EINVAL,
            "encryption.speke: unknown field \"resource_id2\"");
    refused(SPEKE(",\"region\":\"US-EAST-1\""), CIR_EINVAL,
            "encryption.speke.region");
    refused(SPEKE(",\"region\":\"\""), CIR_EINVAL, "encryption.speke.region");
    refused("{\"scheme\":\"cbcs\",\"speke\":\"https://k/\"}", CIR_EINVAL,
            "encryption.speke: not an object");
    refused("{\"scheme\":\"cbcs\",\"key\":\"" KEY "\",\"speke\":{\"url\":"
            "\"https://k/\",\"resource_id\":\"r\"}}",
            CIR_EINVAL,
            "encryption.speke: the key comes from the key provider");
    refused("{\"scheme\":\"cbcs\",\"key_file\":\"/k\",\"speke\":{\"url\":"
            "\"https://k/\",\"resource_id\":\"r\"}}",
            CIR_EINVAL, "encryption.speke");
    refused("{\"scheme\":\"aes-128\",\"key_uri\":\"https://k/\",\"speke\":{"
            "\"url\":\"https://k/\",\"resource_id\":\"r\"}}",
            CIR_EINVAL, "encryption.speke: with cenc or cbcs only");
    refused("{\"scheme\":\"cbcs\",\"key_id\":\"00\",\"speke\":{\"url\":"
            "\"https://k/\",\"resource_id\":\"r\"}}",
            CIR_EINVAL, "encryption.key_id");
}

/* A live stream's "rotate_segments": with "speke" only, 1 to the
 * maximum; the key provider is then asked for period 0 first. */
Test(encryption, live_rotation)
{
    cir_encryption_t e;
    uint32_t rotate = 99;
    const char *speke = "\"speke\": {\"url\": \"http://127.0.0.1:9/v2\", "
                        "\"resource_id\": \"live-1\"}";
    char text[512];

    snprintf(text, sizeof(text),
             "{\"scheme\": \"cenc\", \"rotate_segments\": 4, %s}", speke);
    cr_assert_eq(
        cir_live_encryption_parse_text(text, &e, &rotate, err, sizeof(err)), 0,
        "%s", err);
    cr_expect_eq(rotate, 4);
    cr_expect_eq(e.speke.has_period, 1);
    cr_expect_eq(e.speke.key_period, 0);
    cr_expect_str_eq(e.speke.resource_id, "live-1");

    snprintf(text, sizeof(text), "{\"scheme\": \"cbcs\", %s}", speke);
    cr_assert_eq(
        cir_live_encryption_parse_text(text, &e, &rotate, err, sizeof(err)), 0,
        "%s", err);
    cr_expect_eq(rotate, 0);
    cr_expect_eq(e.speke.has_period, 0);

    cr_expect_eq(cir_live_encryption_parse_text(
                     "{\"scheme\": \"cenc\", \"rotate_segments\": 2, "
                     "\"key_id\": \"0123456789abcdef0123456789abcdef\", "
                     "\"key\": \"3c5a0e17b5d24f8e9a61c0d2e4f6a8b1\"}",
                     &e, &rotate, err, sizeof(err)),
                 CIR_EINVAL);
    cr_expect(strstr(err, "encryption.rotate_segments: needs a key provider") !=
                  NULL,
              "%s", err);
    cr_expect(strstr(err, "3c5a0e17") == NULL, "the key in the error");
    for (int i = 0; i < 3; i++) {
        const char *bad[] = {"0", "100001", "\"2\""};
        snprintf(text, sizeof(text),
                 "{\"scheme\": \"cenc\", \"rotate_segments\": %s, %s}", bad[i],
                 speke);
        cr_expect_eq(
            cir_live_encryption_parse_text(text, &e, &rotate, err, sizeof(err)),
            CIR_EINVAL, "%s", bad[i]);
        cr_expect(strstr(err, "encryption.rotate_segments") != NULL, "%s", err);
        cr_expect_eq(rotate, 0);
    }
    /* the VOD parser knows no rotation */
    snprintf(text, sizeof(text),
             "{\"scheme\": \"cenc\", \"rotate_segments\": 4, %s}", speke);
    cr_expect_eq(cir_encryption_parse_text(text, &e, err, sizeof(err)),
                 CIR_EINVAL);
}
