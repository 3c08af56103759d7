/*
 * A VOD job's "encryption" (cirrus-transcode --encryption): Common
 * Encryption of the CMAF segments with one content key.
 *
 *   {"scheme": "cenc", "key_id": "<32 hex>", "key": "<32 hex>"}
 *   {"scheme": "cbcs", "key_file": "/path/key.json",
 *    "drm": {"widevine": {"provider": "acme"},
 *            "playready": {"la_url": "https://pr.example/rightsmanager.asmx"},
 *            "fairplay": {"key_uri": "skd://film-42"}, "clearkey": {}}}
 *
 * scheme: "cenc" (AES-CTR, ISO/IEC 23001-7) or "cbcs" (AES-CBC, 1:9
 * pattern, constant IV).  The key is given inline or in a local key file
 * holding {"key_id": "<32 hex>", "key": "<32 hex>"} (at most
 * CIR_KEY_FILE_MAX bytes), never both.  Key IDs and keys are 16 bytes
 * written as 32 hex digits (either case; no dashes).
 *
 * The clear key is secret: nothing here writes it anywhere, error
 * messages name fields and never quote a key or a key file's content.
 *
 * drm: the DRM systems the outputs are signalled for (pssh boxes in the
 * init segments, HLS EXT-X-KEY KEYFORMATs, DASH ContentProtection); left
 * out: ClearKey alone.  FairPlay needs cbcs.
 *
 * Pure (jansson, and the key file read).  Tested by
 * tests/unit/test_common_encryption.c.
 */
#ifndef CIR_ENCRYPTION_H
#define CIR_ENCRYPTION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CIR_KEY_FILE_MAX 4096

typedef enum {
    CIR_ENC_NONE = 0,
    CIR_ENC_CENC, /* AES-128 CTR, 8-byte per-sample IVs */
    CIR_ENC_CBCS  /* AES-128 CBC, 1:9 pattern, 16-byte constant IV */
} cir_enc_scheme_t;

/* The DRM systems an encrypted output is signalled for. */
typedef enum {
    CIR_DRM_CLEARKEY = 0, /* W3C ClearKey (the common pssh system) */
    CIR_DRM_WIDEVINE,
    CIR_DRM_PLAYREADY,
    CIR_DRM_FAIRPLAY, /* cbcs only; no pssh (the key URI is skd://) */
    CIR_DRM_NB
} cir_drm_system_t;

#define CIR_DRM_BIT(s)  (1u << (s))
#define CIR_DRM_URL_MAX 512

typedef struct {
    unsigned systems;           /* CIR_DRM_BIT()s; never 0 once parsed */
    char widevine_provider[64]; /* "": none */
    char playready_la_url[CIR_DRM_URL_MAX]; /* "": none */
    char fairplay_key_uri[CIR_DRM_URL_MAX]; /* skd://...; with FAIRPLAY */
} cir_drm_t;

typedef struct {
    cir_enc_scheme_t scheme; /* CIR_ENC_NONE: not encrypted */
    uint8_t key_id[16];
    uint8_t key[16];
    cir_drm_t drm;
} cir_encryption_t;

/*
 * Parses a job's "encryption" object (above) into out, reading the key
 * file when it names one.  Unknown fields are refused.  0, or CIR_EINVAL
 * (bad field), CIR_ENOTFOUND / CIR_ELIMIT / CIR_EIO (key file) with err
 * naming the field ("encryption.key_id: ...").  On failure out is
 * cleared.
 */
int cir_encryption_parse(const json_t *v, cir_encryption_t *out, char *err,
                         size_t errsize);

/*
 * An encryption object's "drm" (NULL: ClearKey alone) for the scheme; the
 * cirrus-worker intake checks a job document's with it.  0 or CIR_EINVAL
 * with err naming the field ("encryption.drm.fairplay: needs the cbcs
 * scheme").
 */
int cir_drm_parse(const json_t *v, cir_enc_scheme_t scheme, cir_drm_t *out,
                  char *err, size_t errsize);

/* "clearkey", "widevine", "playready", "fairplay". */
const char *cir_drm_system_name(cir_drm_system_t s);

/* The same from JSON text ("" or NULL: not encrypted). */
int cir_encryption_parse_text(const char *text, cir_encryption_t *out,
                              char *err, size_t errsize);

/* "cenc", "cbcs" or "none". */
const char *cir_encryption_scheme_name(cir_enc_scheme_t s);

/* 32 lowercase hex digits and a NUL into out[33]. */
void cir_encryption_hex(const uint8_t in[16], char out[33]);

/* The key ID as a UUID, 8-4-4-4-12 lowercase, into out[37] (DASH
 * cenc:default_KID). */
void cir_encryption_uuid(const uint8_t in[16], char out[37]);

/* Clears the key from memory (explicit_bzero: not optimised away). */
void cir_encryption_clear(cir_encryption_t *e);

#endif
