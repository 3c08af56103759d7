/*
 * RFC 6381 codec strings for manifests, read from an encoder's extradata
 * (Annex B or avcC/hvcC) or an AAC AudioSpecificConfig.
 */
#ifndef CIR_CODECS_H
#define CIR_CODECS_H

#include <stddef.h>
#include <stdint.h>

/* "avc1.64001f" from the first SPS. */
int cir_codecs_avc(const uint8_t *extradata, size_t size, char *out,
                   size_t outsize);
/* "hvc1.1.6.L93.B0" from the first SPS's profile_tier_level. */
int cir_codecs_hevc(const uint8_t *extradata, size_t size, char *out,
                    size_t outsize);
/* "mp4a.40.2" from the AudioSpecificConfig's object type. */
int cir_codecs_aac(const uint8_t *asc, size_t size, char *out, size_t outsize);

#endif
