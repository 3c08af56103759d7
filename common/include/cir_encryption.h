/*
 * A VOD job's "encryption" (cirrus-transcode --encryption): Common
 * Encryption of the CMAF segments with one content key.
 *
 *   {"scheme": "cenc", "key_id": "<32 hex>", "key": "<32 hex>"}
 *   {"scheme": "aes-128", "key_file": "/path/key.json",
 *    "key_uri": "https://keys.example/film-42"}
 *   {"scheme": "cbcs", "key_file": "/path/key.json",
 *    "drm": {"widevine": {"provider": "acme"},
 *            "playready": {"la_url": "https://pr.example/rightsmanager.asmx"},
 *            "fairplay": {"key_uri": "skd://film-42"}, "clearkey": {}}}
 *   {"scheme": "cbcs", "speke": {"url": "https://kp.example/v2",
 *    "resource_id": "film-42", "region": "us-east-1"}, "drm": {...}}
 *
 * scheme: "cenc" (AES-CTR, ISO/IEC 23001-7), "cbcs" (AES-CBC, 1:9
 * pattern, constant IV) or "aes-128" (HLS only: whole segments, the key
 * served by the operator at key_uri, which the playlists name).  The key is
 * given inline or in a local key file holding {"key_id": "<32 hex>", "key":
 * "<32 hex>"} (at most CIR_KEY_FILE_MAX bytes), never both.  Key IDs and keys
 * are 16 bytes written as 32 hex digits (either case; no dashes).
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
    CIR_ENC_CENC,  /* AES-128 CTR, 8-byte per-sample IVs */
    CIR_ENC_CBCS,  /* AES-128 CBC, 1:9 pattern, 16-byte constant IV */
    CIR_ENC_AES128 /* HLS AES-128: each segment file whole, AES-128 CBC with
                      PKCS#7 padding, the IV its media sequence number */
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

/* A SPEKE v2 key provider (docs/encryption.md): the key comes from it
 * (common/aws/include/cir_speke.h), not from the job. */
#define CIR_SPEKE_PSSH_MAX 4096 /* a provider's pssh box, whole */

typedef struct {
    char url[CIR_DRM_URL_MAX]; /* "": no key provider */
    char resource_id[128];     /* the CPIX id */
    char region[32];           /* "": an unsigned request */
    int key_id_given;          /* 0: a random key ID per job */
    /* live key rotation: the key of crypto period key_period (the
     * request's ContentKeyPeriod index and KeyPeriodFilter) */
    int has_period;
    uint32_t key_period;
} cir_speke_t;

typedef struct {
    cir_enc_scheme_t scheme; /* CIR_ENC_NONE: not encrypted */
    uint8_t key_id[16];
    uint8_t key[16];
    cir_drm_t drm;
    char key_uri[CIR_DRM_URL_MAX]; /* aes-128: where players get the key */
    cir_speke_t speke;
    /* a system's whole pssh box from the key provider (length 0: none),
     * used instead of the one built locally (transcoder/src/drm.c) */
    uint8_t provider_pssh[CIR_DRM_NB][CIR_SPEKE_PSSH_MAX];
    uint16_t provider_pssh_len[CIR_DRM_NB];
} cir_encryption_t;

/*
 * Parses a job's "encryption" object (above) into out, reading the key
 * file when it names one.  Unknown fields are refused.  0, or CIR_EINVAL
 * (bad field), CIR_ENOTFOUND / CIR_ELIMIT / CIR_EIO (key file) with err
 * naming the field ("encryption.key_id: ...").  On failure out is
 * cleared.  With "speke" the key is not known yet (out->speke.url set):
 * cir_speke_resolve (cir_speke.h) asks the key provider for it.
 */
int cir_encryption_parse(const json_t *v, cir_encryption_t *out, char *err,
                         size_t errsize);

/*
 * What goes with the scheme in an encryption object v: aes-128 takes
 * "key_uri" (into key_uri: an http(s) URL or a relative reference,
 * printable ASCII without blanks, quotes, angle brackets or backslashes,
 * shorter than CIR_DRM_URL_MAX) and no "drm"; cenc and cbcs take "drm"
 * (into drm; absent: ClearKey alone; with "speke" in v the provider gives
 * the systems' data, so drm.fairplay.key_uri may be left out) and no
 * "key_uri".  The cirrus-worker intake checks a job document's with it.
 * 0 or CIR_EINVAL with err naming the field ("encryption.drm.fairplay:
 * needs the cbcs scheme").
 */
int cir_encryption_parse_scheme_options(const json_t *v,
                                        cir_enc_scheme_t scheme, cir_drm_t *drm,
                                        char *key_uri, size_t key_uri_size,
                                        char *err, size_t errsize);

/*
 * An encryption object's "speke" into out: {"url": https:// (http:// only
 * to 127.0.0.1), "resource_id": 1 to 127 of A-Z a-z 0-9 _ . : / -,
 * "region": optional, a-z 0-9 -}.  0 or CIR_EINVAL with err naming the
 * field (encryption.speke.url: ...).  The cirrus-worker intake checks a
 * job document's with it.
 */
int cir_speke_parse(const json_t *v, cir_speke_t *out, char *err,
                    size_t errsize);

/* 1 when s is a URL that may go into a quoted playlist attribute and an
 * XML text node as it is: printable ASCII without blanks, quotes, angle
 * brackets or backslashes (n bytes; "" is not). */
int cir_encryption_url_chars_ok(const char *s, size_t n);

/* 1 when the 16 bytes are all zero (no usable key). */
int cir_encryption_key_is_zero(const uint8_t key[16]);

/* "clearkey", "widevine", "playready", "fairplay". */
const char *cir_drm_system_name(cir_drm_system_t s);

/* The same from JSON text ("" or NULL: not encrypted). */
int cir_encryption_parse_text(const char *text, cir_encryption_t *out,
                              char *err, size_t errsize);

/*
 * A live stream's encryption (cirrus-ingest's "encryption" option,
 * cirrus-transcode --live-root --encryption): the same object, and
 * "rotate_segments": N (1 to CIR_ROTATE_SEGMENTS_MAX, with "speke" only):
 * a new key every N segments (*rotate_segments; 0: one key).  Then the
 * key provider is asked for the first crypto period's key as period 0.
 */
#define CIR_ROTATE_SEGMENTS_MAX 100000
int cir_live_encryption_parse_text(const char *text, cir_encryption_t *out,
                                   uint32_t *rotate_segments, char *err,
                                   size_t errsize);

/* "cenc", "cbcs", "aes-128" or "none". */
const char *cir_encryption_scheme_name(cir_enc_scheme_t s);

/* 32 lowercase hex digits and a NUL into out[33]. */
void cir_encryption_hex(const uint8_t in[16], char out[33]);

/* The key ID as a UUID, 8-4-4-4-12 lowercase, into out[37] (DASH
 * cenc:default_KID). */
void cir_encryption_uuid(const uint8_t in[16], char out[37]);

/* Clears the key from memory (explicit_bzero: not optimised away). */
void cir_encryption_clear(cir_encryption_t *e);

#endif
