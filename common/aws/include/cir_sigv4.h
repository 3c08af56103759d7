/*
 * AWS Signature Version 4, as pure functions (no network, no clock).
 *
 * The caller lists the request as it will be sent: method, the raw
 * (unencoded) path, the raw query parameters, every header to sign (host and
 * x-amz-date included, x-amz-security-token when a session token exists,
 * x-amz-content-sha256 for S3) and the payload hash (hex SHA-256 of the body
 * or "UNSIGNED-PAYLOAD").  Paths are encoded once per segment and never
 * normalised, which is what S3 requires and what every other service we call
 * accepts for our simple paths ("/", "/v1/submitjob").
 *
 * Secrets are only ever inputs: nothing here logs.
 */
#ifndef CIR_SIGV4_H
#define CIR_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cir_buf.h"

#define CIR_SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"
#define CIR_SIGV4_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
    const char *name;
    const char *value;
} cir_aws_kv_t;

typedef struct {
    const char *method;
    const char *path; /* raw, begins with '/' */
    const cir_aws_kv_t *query;
    size_t nquery;
    const cir_aws_kv_t *headers; /* all signed; names in any case */
    size_t nheaders;
    const char *payload_hash;
} cir_sigv4_req_t;

typedef struct {
    const char *access_key;
    const char *secret_key;
    const char *region;
    const char *service;
    const char *amz_date; /* "20150830T123600Z" */
} cir_sigv4_scope_t;

/* Appends s[0..len) percent-encoded per AWS: unreserved A-Za-z0-9-._~ kept,
 * '/' kept unless encode_slash, everything else %XX (uppercase). */
int cir_sigv4_uri_encode(cir_buf_t *out, const char *s, size_t len,
                         int encode_slash);
/* The encoded path and the sorted, encoded query string, as sent. */
int cir_sigv4_canonical_query(const cir_aws_kv_t *q, size_t n, cir_buf_t *out);

int cir_sigv4_canonical_request(const cir_sigv4_req_t *r, cir_buf_t *out,
                                cir_buf_t *signed_headers);
int cir_sigv4_string_to_sign(const cir_sigv4_scope_t *s, const char *creq,
                             cir_buf_t *out);
void cir_sigv4_signing_key(const char *secret, const char *date8,
                           const char *region, const char *service,
                           uint8_t key[32]);
/* Computes the signature (hex, 65 bytes) and the Authorization header value. */
int cir_sigv4_sign(const cir_sigv4_req_t *r, const cir_sigv4_scope_t *s,
                   char sig[65], char *auth, size_t authsize);

/*
 * A presigned URL's query (SigV4 in the query string, "UNSIGNED-PAYLOAD",
 * only host signed): the canonical query of X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders (and
 * X-Amz-Security-Token when token is not NULL or ""), then
 * &X-Amz-Signature=..., appended to out.  host as the request will send
 * it ("bucket.s3.region.amazonaws.com", "127.0.0.1:9000").
 */
int cir_sigv4_presign_query(const char *method, const char *host,
                            const char *path, const cir_sigv4_scope_t *s,
                            const char *token, int expires_s, cir_buf_t *out);

void cir_sha256_hex(const void *data, size_t len, char out[65]);
/* "YYYYMMDDTHHMMSSZ" for t (UTC). */
void cir_sigv4_amz_date(time_t t, char out[17]);

#endif
