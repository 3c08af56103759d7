/*
 * The size a still's header declares.  See image_sniff.h.
 *
 * Tested by tests/unit/test_transcoder_images.c.
 */
#include "image_sniff.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_aws.h"
#include "cir_error.h"
#include "cir_storage.h"

#define SNIFF_BYTES (256 * 1024)

static uint32_t
be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static uint32_t
le24(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/* The first SNIFF_BYTES (or fewer) of path into b. */
static int
read_head(const char *path, const atomic_int *cancel, uint8_t *b, size_t *n)
{
    FILE *f;
    int ret;

    *n = 0;
    if (strncmp(path, "s3://", 5) == 0) {
        cir_uri_t *u = malloc(sizeof(*u));
        cir_aws_t *aws = cir_aws_default();
        ret = u == NULL ? CIR_ENOMEM : aws == NULL ? CIR_EAUTH : 0;
        if (ret == 0 &&
            (cir_uri_parse(path, u) < 0 || u->scheme != CIR_URI_S3)) {
            ret = CIR_EINVAL;
        }
        if (ret == 0) {
            ret = cir_s3_get_range(aws, u->bucket, u->path, 0, SNIFF_BYTES, b,
                                   n, cancel);
        }
        free(u);
        return ret;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        return -errno;
    }
    *n = fread(b, 1, SNIFF_BYTES, f);
    fclose(f);
    return 0;
}

/* The size the PNG, JPEG or WebP header in b[0..n) declares: 0, or
 * CIR_EMEDIA. */
static int
header_size(const uint8_t *b, size_t n, long long *w, long long *h)
{
    size_t pos;
    int ret = CIR_EMEDIA;

    if (n >= 24 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 &&
        memcmp(b + 12, "IHDR", 4) == 0) {
        *w = be32(b + 16);
        *h = be32(b + 20);
        ret = 0;
    } else if (n >= 4 && b[0] == 0xFF && b[1] == 0xD8) {
        pos = 2;
        while (pos + 4 <= n && b[pos] == 0xFF) {
            uint8_t m = b[pos + 1];
            uint32_t len;

            if (m == 0xFF) {
                pos++;
                continue;
            }
            if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
                pos += 2;
                continue;
            }
            len = be16(b + pos + 2);
            if (len < 2) {
                break;
            }
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
                if (pos + 9 > n || len < 7) {
                    break;
                }
                *h = be16(b + pos + 5);
                *w = be16(b + pos + 7);
                ret = 0;
                break;
            }
            pos += 2 + (size_t)len;
        }
    } else if (n >= 30 && memcmp(b, "RIFF", 4) == 0 &&
               memcmp(b + 8, "WEBP", 4) == 0) {
        if (memcmp(b + 12, "VP8X", 4) == 0) {
            *w = 1 + (long long)le24(b + 24);
            *h = 1 + (long long)le24(b + 27);
            ret = 0;
        } else if (memcmp(b + 12, "VP8L", 4) == 0 && b[20] == 0x2f) {
            uint32_t bits = le24(b + 21) | (uint32_t)b[24] << 24;

            *w = (bits & 0x3fff) + 1;
            *h = ((bits >> 14) & 0x3fff) + 1;
            ret = 0;
        } else if (memcmp(b + 12, "VP8 ", 4) == 0) {
            *w = (b[26] | b[27] << 8) & 0x3fff;
            *h = (b[28] | b[29] << 8) & 0x3fff;
            ret = 0;
        }
    }
    return ret;
}

int
cir_image_sniff_size(const char *path, const atomic_int *cancel, long long *w,
                     long long *h)
{
    uint8_t *b = malloc(SNIFF_BYTES);
    size_t n = 0;
    int ret;

    *w = *h = 0;
    if (b == NULL) {
        return CIR_ENOMEM;
    }
    ret = read_head(path, cancel, b, &n);
    if (ret == 0) {
        ret = header_size(b, n, w, h);
    }
    free(b);
    return ret;
}
