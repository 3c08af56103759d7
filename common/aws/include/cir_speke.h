/*
 * A SPEKE v2 key provider client (docs/encryption.md, "Key providers:
 * SPEKE v2"): the job's content key and the DRM systems' signalling data
 * from a key server speaking CPIX over HTTPS, the request SigV4-signed for
 * execute-api when the job names a region (API Gateway).
 *
 * The content key is never logged nor put into an error message; the key
 * ID is.  Tested by tests/unit/test_aws_speke.c (the CPIX request and a
 * captured response) and tests/integration/speke.test.mjs (the rig's key
 * server, SigV4 checked by AWS's signer).
 */
#ifndef CIR_SPEKE_H
#define CIR_SPEKE_H

#include <stddef.h>

#include "cir_buf.h"
#include "cir_encryption.h"

#define CIR_SPEKE_REPLY_MAX   (1u << 20) /* bytes of a CPIX response */
#define CIR_SPEKE_ELEMENT_MAX 16 /* ContentKeys, DRMSystems in a response */

/* The CPIX request document for enc (its key ID, scheme, DRM systems and
 * speke.resource_id) into out. 0 or CIR_ENOMEM. */
int cir_speke_request_xml(const cir_encryption_t *enc, cir_buf_t *out);

/*
 * Reads a CPIX response into enc: the content key for enc's key ID, each
 * requested system's pssh box (checked: one whole box of that system, for
 * that key ID when it names key IDs) into enc->provider_pssh, FairPlay's
 * URIExtXKey into enc->drm.fairplay_key_uri.  0, or CIR_EPARSE /
 * CIR_EUNSUPPORTED (an encrypted key) with err naming the element.
 */
int cir_speke_parse_reply(const char *xml, size_t len, cir_encryption_t *enc,
                          char *err, size_t errsize);

/*
 * For an encryption with enc->speke.url: a random key ID unless the job
 * gave one, the request POSTed (X-Speke-Version: 2.0; signed when
 * speke.region is set, with the usual AWS credentials chain), the reply
 * read as above.  0, or a cir error with err ("encryption.speke: ...").
 * Nothing to do (0) without speke.url.
 */
int cir_speke_resolve(cir_encryption_t *enc, char *err, size_t errsize);

#endif
