/*
 * Origin authentication: a shared-secret header compared in constant time,
 * and signed expiring URLs (token = hex(HMAC-SHA256(key, "<expires>:<path>"))).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"
#include "cir_storage.h"

#define MAC_LEN   32 /* SHA-256 */
#define TOKEN_HEX (2 * MAC_LEN)

static int
hmac(const void *key, size_t key_len, const void *data, size_t len,
     unsigned char mac[MAC_LEN])
{
    unsigned int n = 0;

    if (key_len > INT32_MAX ||
        HMAC(EVP_sha256(), key, (int)key_len, data, len, mac, &n) == NULL ||
        n != MAC_LEN) {
        return CIR_EINTERNAL;
    }
    return 0;
}

int
cir_origin_secret_equal(const char *expected, const char *got, size_t got_len)
{
    /* Compare MACs of both under a fixed key: the time depends on neither
     * content nor the position of a mismatch, and the comparison itself is
     * fixed-size (only hashing time leaks the lengths). */
    static const char k[] = "cirrus-origin-secret-compare";
    unsigned char a[MAC_LEN], b[MAC_LEN];
    size_t exp_len;

    if (expected == NULL || got == NULL || expected[0] == '\0') {
        return 0;
    }
    exp_len = strlen(expected);
    if (hmac(k, sizeof(k) - 1, expected, exp_len, a) < 0 ||
        hmac(k, sizeof(k) - 1, got, got_len, b) < 0) {
        return 0;
    }
    /* equal MACs and equal lengths: a collision is not a practical risk */
    return (CRYPTO_memcmp(a, b, MAC_LEN) == 0) & (exp_len == got_len);
}

static int
token_mac(const char *key, const char *path, int64_t expires,
          unsigned char mac[MAC_LEN])
{
    char msg[4200];
    int n;

    n = snprintf(msg, sizeof(msg), "%lld:%s", (long long)expires, path);
    if (n < 0 || (size_t)n >= sizeof(msg)) {
        return CIR_ELIMIT;
    }
    return hmac(key, strlen(key), msg, (size_t)n, mac);
}

int
cir_origin_token_sign(const char *key, const char *path, int64_t expires,
                      char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[MAC_LEN];
    int ret, i;

    if (key == NULL || key[0] == '\0' || path == NULL || out == NULL ||
        expires < 0) {
        return CIR_EINVAL;
    }
    if (size < TOKEN_HEX + 1) {
        return CIR_ELIMIT;
    }
    if ((ret = token_mac(key, path, expires, mac)) < 0) {
        return ret;
    }
    for (i = 0; i < MAC_LEN; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[TOKEN_HEX] = '\0';
    return 0;
}

int
cir_origin_token_verify(const char *key, const char *path, const char *query,
                        size_t query_len, int64_t now_s)
{
    unsigned char want[MAC_LEN], got[MAC_LEN];
    const char *token = NULL;
    int64_t expires = -1;
    size_t i = 0, token_len = 0;
    int j;

    if (key == NULL || key[0] == '\0' || path == NULL ||
        (query == NULL && query_len > 0)) {
        return CIR_EAUTH;
    }
    while (i < query_len) {
        const char *kv = query + i, *amp, *eq;
        size_t n, vl;

        amp = memchr(kv, '&', query_len - i);
        n = amp ? (size_t)(amp - kv) : query_len - i;
        i += n + 1;
        eq = memchr(kv, '=', n);
        if (eq == NULL) {
            continue;
        }
        vl = n - (size_t)(eq - kv) - 1;
        if (eq - kv == 5 && memcmp(kv, "token", 5) == 0) {
            if (token != NULL) {
                return CIR_EAUTH; /* repeated */
            }
            token = eq + 1;
            token_len = vl;
        } else if (eq - kv == 7 && memcmp(kv, "expires", 7) == 0) {
            int64_t v = 0;
            size_t k;
            if (expires >= 0 || vl == 0 || vl > 18) {
                return CIR_EAUTH;
            }
            for (k = 0; k < vl; k++) {
                char c = eq[1 + k];
                if (c < '0' || c > '9') {
                    return CIR_EAUTH;
                }
                v = v * 10 + (c - '0');
            }
            expires = v;
        }
    }
    if (token == NULL || expires < 0 || token_len != TOKEN_HEX) {
        return CIR_EAUTH;
    }
    for (j = 0; j < MAC_LEN; j++) {
        int hi = cir_hex_value(token[2 * j]),
            lo = cir_hex_value(token[2 * j + 1]);
        if (hi < 0 || lo < 0) {
            return CIR_EAUTH;
        }
        got[j] = (unsigned char)(hi << 4 | lo);
    }
    if (token_mac(key, path, expires, want) < 0) {
        return CIR_EAUTH;
    }
    /* check the MAC first and in constant time, then the expiry */
    if (CRYPTO_memcmp(want, got, MAC_LEN) != 0 || now_s > expires) {
        return CIR_EAUTH;
    }
    return 0;
}
