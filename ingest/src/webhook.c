/*
 * Webhook signatures: hex(HMAC-SHA256(secret, "<timestamp>.<body>")), as
 * X-Cirrus-Signature: sha256=<hex> (the timestamp in X-Cirrus-Timestamp,
 * so a receiver can refuse old deliveries: replays).
 *
 * Tested by tests/unit/test_ingest_config.c (and the deliveries by
 * tests/integration/ingest_webhooks.test.mjs).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_ingest.h"

int
cir_webhook_signature(const char *secret, long long timestamp, const char *body,
                      size_t len, char hex[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    char ts[24];
    int n = snprintf(ts, sizeof(ts), "%lld.", timestamp);
    unsigned char *msg = malloc((size_t)n + len);

    if (msg == NULL) {
        return CIR_ENOMEM;
    }
    memcpy(msg, ts, (size_t)n);
    memcpy(msg + n, body, len);
    if (HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, (size_t)n + len,
             mac, &mlen) == NULL ||
        mlen != 32) {
        free(msg);
        return CIR_EINTERNAL;
    }
    free(msg);
    for (unsigned int i = 0; i < mlen; i++) {
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    }
    return 0;
}
