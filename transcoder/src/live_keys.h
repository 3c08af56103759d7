/*
 * Live key rotation (docs/encryption.md, Live streams): the content keys of
 * a stream's crypto periods, shared by all its renditions' packagers.  A
 * crypto period is `rotate` segments (by media sequence number, the same
 * in every rendition): period p holds segments p*rotate .. p*rotate +
 * rotate - 1.  The first period asked for gets the stream's key (resolved
 * when the stream's encryption was read); each later one is asked of the
 * SPEKE v2 key provider (a random key ID, the request naming the period:
 * cir_speke_t.key_period) by a thread of its own, one period ahead: asking
 * for period p starts the request for p + 1, so the key is there before
 * its first segment.  A key not there in time (the provider slow or down)
 * is CIR_EAGAIN: the packager keeps the key it has and asks again at its
 * next segment; every rendition switches to it at the same segment.
 *
 * Thread-safe (rungs package on threads of their own).  Tested by
 * tests/unit/test_transcoder_live_keys.c and
 * tests/integration/live_encryption.test.mjs (the AWS rig's key server).
 */
#ifndef CIR_LIVE_KEYS_H
#define CIR_LIVE_KEYS_H

#include <stdint.h>

#include "cir_encryption.h"

typedef struct cir_live_keys cir_live_keys_t;

/* base: the stream's encryption with its key (copied, cleared at free),
 * with speke.url; rotate: segments per crypto period, > 0. */
int cir_live_keys_open(cir_live_keys_t **k, const cir_encryption_t *base,
                       uint32_t rotate);
uint32_t cir_live_keys_rotate(const cir_live_keys_t *k);
/* The key of period p for segment msn (the one about to open, in period
 * p) into *out (the whole encryption, the provider's pssh boxes too): 0,
 * or CIR_EAGAIN while it is asked for, or the provider's last error for it
 * (logged; asked again a second later).  A key that came late is used
 * from the same segment in every rendition: the one after the last a
 * rendition was refused it for (CIR_EAGAIN before that), so their key
 * changes (a new init, a discontinuity) stay at the same segment. */
int cir_live_keys_get(cir_live_keys_t *k, uint32_t p, uint64_t msn,
                      cir_encryption_t *out);
/* Requests made so far (tests). */
uint32_t cir_live_keys_fetched(const cir_live_keys_t *k);
void cir_live_keys_free(cir_live_keys_t **k);

#endif
