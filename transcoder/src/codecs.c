/*
 * RFC 6381 codec strings (codecs.h): "avc1.PPCCLL", "hvc1.…", "mp4a.40.N"
 * read from an encoder's extradata (Annex B or avcC/hvcC) or an AAC
 * AudioSpecificConfig.
 */
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "codecs.h"

/*
 * Finds the first NAL unit of a type in Annex B data, or in avcC/hvcC
 * configuration records (which hold length-prefixed NAL units after a
 * header).  Returns its start (header included) and length.
 */
static const uint8_t *
find_annexb_nal(const uint8_t *p, size_t size, int hevc, int type, size_t *len)
{
    size_t i = 0, start;

    while (i + 3 <= size) {
        if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
            start = i + 3;
            size_t j = start;
            while (j + 3 <= size &&
                   !(p[j] == 0 && p[j + 1] == 0 &&
                     (p[j + 2] == 1 ||
                      (p[j + 2] == 0 && j + 3 < size && p[j + 3] == 1)))) {
                j++;
            }
            if (j + 3 > size) {
                j = size;
            }
            if (start < size) {
                int t = hevc ? (p[start] >> 1) & 0x3f : p[start] & 0x1f;
                if (t == type) {
                    *len = j - start;
                    return p + start;
                }
            }
            i = j;
        } else {
            i++;
        }
    }
    return NULL;
}

/* Removes emulation prevention bytes (00 00 03) into out; returns length. */
static size_t
unescape(const uint8_t *p, size_t n, uint8_t *out, size_t outsize)
{
    size_t o = 0;
    int zeros = 0;

    for (size_t i = 0; i < n && o < outsize; i++) {
        if (zeros >= 2 && p[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = p[i] == 0 ? zeros + 1 : 0;
        out[o++] = p[i];
    }
    return o;
}

int
cir_codecs_avc(const uint8_t *ed, size_t size, char *out, size_t outsize)
{
    const uint8_t *sps = NULL;
    size_t len = 0;

    if (ed == NULL || size < 4) {
        return CIR_EINVAL;
    }
    if (ed[0] == 1) {
        /* avcC: version, profile, compatibility, level, ... */
        snprintf(out, outsize, "avc1.%02x%02x%02x", ed[1], ed[2], ed[3]);
        return 0;
    }
    sps = find_annexb_nal(ed, size, 0, 7, &len);
    if (sps == NULL || len < 4) {
        return CIR_EPARSE;
    }
    snprintf(out, outsize, "avc1.%02x%02x%02x", sps[1], sps[2], sps[3]);
    return 0;
}

static int
hevc_from_ptl(const uint8_t *ptl, char *out, size_t outsize)
{
    /* general_profile_space(2) tier(1) profile_idc(5), 32 compatibility
     * flags, 48 constraint flags, level_idc(8) */
    static const char *const spaces[] = {"", "A", "B", "C"};
    int space = ptl[0] >> 6, tier = (ptl[0] >> 5) & 1, profile = ptl[0] & 31;
    uint32_t compat = (uint32_t)ptl[1] << 24 | (uint32_t)ptl[2] << 16 |
                      (uint32_t)ptl[3] << 8 | ptl[4];
    uint32_t reversed = 0;
    int level = ptl[11], n, last;
    char constraints[32] = "";

    for (int i = 0; i < 32; i++) {
        if (compat & (1u << i)) {
            reversed |= 1u << (31 - i);
        }
    }
    /* constraint bytes, trailing zero bytes omitted */
    for (last = 5; last >= 0 && ptl[5 + last] == 0; last--) {
    }
    n = 0;
    for (int i = 0; i <= last; i++) {
        n += snprintf(constraints + n, sizeof(constraints) - (size_t)n, ".%X",
                      ptl[5 + i]);
    }
    snprintf(out, outsize, "hvc1.%s%d.%X.%c%d%s", spaces[space], profile,
             reversed, tier ? 'H' : 'L', level, constraints);
    return 0;
}

int
cir_codecs_hevc(const uint8_t *ed, size_t size, char *out, size_t outsize)
{
    uint8_t buf[64];
    const uint8_t *sps;
    size_t len = 0, n;

    if (ed == NULL || size < 23) {
        return CIR_EINVAL;
    }
    if (ed[0] == 1) {
        /* hvcC: version, then profile_space..level_idc as in the SPS */
        return hevc_from_ptl(ed + 1, out, outsize);
    }
    sps = find_annexb_nal(ed, size, 1, 33, &len);
    if (sps == NULL) {
        return CIR_EPARSE;
    }
    /* skip the 2-byte NAL header and the 1-byte vps id / sub-layer info */
    n = unescape(sps, len, buf, sizeof(buf));
    if (n < 3 + 12) {
        return CIR_EPARSE;
    }
    return hevc_from_ptl(buf + 3, out, outsize);
}

int
cir_codecs_aac(const uint8_t *asc, size_t size, char *out, size_t outsize)
{
    int aot;

    if (asc == NULL || size < 2) {
        snprintf(out, outsize, "mp4a.40.2");
        return 0;
    }
    aot = asc[0] >> 3;
    if (aot == 31) {
        aot = 32 + (((asc[0] & 7) << 3) | (asc[1] >> 5));
    }
    snprintf(out, outsize, "mp4a.40.%d", aot);
    return 0;
}
