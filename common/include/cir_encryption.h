/*
 * A VOD job's "encryption" (cirrus-transcode --encryption): Common
 * Encryption of the CMAF segments with one content key.
 *
 *   {"scheme": "cenc", "key_id": "<32 hex>", "key": "<32 hex>"}
 *   {"scheme": "cbcs", "key_file": "/path/key.json"}
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

typedef struct {
    cir_enc_scheme_t scheme; /* CIR_ENC_NONE: not encrypted */
    uint8_t key_id[16];
    uint8_t key[16];
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
