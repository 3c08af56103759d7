/*
 * What DRM systems need in the outputs of an encrypted job: their `pssh`
 * boxes (ISO/IEC 23001-7 8.1) for the init segments and the manifests, and
 * PlayReady's PlayReady Object (DASH mspr:pro, the HLS key URI).
 *
 * - ClearKey: the common system's (1077efec-c0b2-4d02-ace3-3c1e52e2fb4b)
 *   version 1 pssh with the key ID and no data: W3C EME's "cenc" init data.
 * - Widevine: a version 0 pssh whose data is a WidevinePsshData protobuf
 *   (key_ids, provider when given, protection_scheme).
 * - PlayReady: a version 1 pssh (the key ID) whose data is the PlayReady
 *   Object: one record, a WRMHEADER in UTF-16LE, version 4.0.0.0 for cenc
 *   (AESCTR, with the key's CHECKSUM) and 4.3.0.0 for cbcs (AESCBC), with
 *   LA_URL when given.
 * - FairPlay: no pssh (its key URI is skd://, in the playlists only).
 *
 * The boxes name the key ID only; the key goes into the PlayReady checksum
 * (the first 8 bytes of the key ID encrypted with it), which is what the
 * header format asks for and reveals nothing of the key.
 *
 * Tested by tests/unit/test_transcoder_drm.c and
 * tests/integration/encryption.test.mjs (mp4box.js, protobufjs).
 */
#ifndef CIR_DRM_H
#define CIR_DRM_H

#include <stddef.h>
#include <stdint.h>

#include "cir_buf.h"
#include "cir_encryption.h"

typedef struct {
    cir_buf_t pssh[CIR_DRM_NB]; /* whole boxes; empty for a system not named
                                   and for FairPlay */
    cir_buf_t playready_pro;    /* empty without PlayReady */
} cir_drm_boxes_t;

/* Builds the boxes for enc's systems into b (initialised here; free with
 * cir_drm_boxes_free even on failure).  0, CIR_ENOMEM or CIR_EINTERNAL. */
int cir_drm_boxes_build(cir_drm_boxes_t *b, const cir_encryption_t *enc);

/* Every pssh box of b, one after another (the order of cir_drm_system_t),
 * into out. */
int cir_drm_boxes_concat(const cir_drm_boxes_t *b, cir_buf_t *out);

void cir_drm_boxes_free(cir_drm_boxes_t *b);

#endif
