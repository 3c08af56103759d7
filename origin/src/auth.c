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

/* The signed-URL parameters of a query. */
typedef struct {
    const char *token, *scope;
    size_t token_len, scope_len;
    const char *expires_text;
    size_t expires_len;
    int64_t expires;
} token_params_t;

/* A scope: a path prefix "/.../" of safe characters, no "." or ".."
 * segment (it is matched against nginx's normalised URI and copied into
 * manifests as it is). */
static int
scope_ok(const char *s, size_t n)
{
    size_t i, seg = 1;

    if (n < 1 || n > 1024 || s[0] != '/' || s[n - 1] != '/') {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' ||
              c == '.' || c == '~')) {
            return 0;
        }
        if (c == '/' && i > 0) {
            size_t len = i - seg;
            if (len == 0 || (s[seg] == '.' &&
                             (len == 1 || (len == 2 && s[seg + 1] == '.')))) {
                return 0;
            }
            seg = i + 1;
        }
    }
    return 1;
}

/* token, expires and scope from a query; 0 or CIR_EAUTH (missing, repeated
 * or malformed). */
static int
parse_token_params(const char *query, size_t query_len, token_params_t *tp)
{
    size_t i = 0;

    memset(tp, 0, sizeof(*tp));
    tp->expires = -1;
    if (query == NULL && query_len > 0) {
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
            if (tp->token != NULL) {
                return CIR_EAUTH; /* repeated */
            }
            tp->token = eq + 1;
            tp->token_len = vl;
        } else if (eq - kv == 5 && memcmp(kv, "scope", 5) == 0) {
            if (tp->scope != NULL || !scope_ok(eq + 1, vl)) {
                return CIR_EAUTH;
            }
            tp->scope = eq + 1;
            tp->scope_len = vl;
        } else if (eq - kv == 7 && memcmp(kv, "expires", 7) == 0) {
            int64_t v = 0;
            size_t k;
            if (tp->expires >= 0 || vl == 0 || vl > 18) {
                return CIR_EAUTH;
            }
            for (k = 0; k < vl; k++) {
                char c = eq[1 + k];
                if (c < '0' || c > '9') {
                    return CIR_EAUTH;
                }
                v = v * 10 + (c - '0');
            }
            tp->expires = v;
            tp->expires_text = eq + 1;
            tp->expires_len = vl;
        }
    }
    if (tp->token == NULL || tp->expires < 0 || tp->token_len != TOKEN_HEX) {
        return CIR_EAUTH;
    }
    return 0;
}

int
cir_origin_token_verify(const char *key, const char *path, const char *query,
                        size_t query_len, int64_t now_s)
{
    unsigned char want[MAC_LEN], got[MAC_LEN];
    char scope[1025];
    const char *signed_path = path;
    token_params_t tp;
    int j;

    if (key == NULL || key[0] == '\0' || path == NULL ||
        parse_token_params(query, query_len, &tp) < 0) {
        return CIR_EAUTH;
    }
    if (tp.scope != NULL) {
        /* the token covers every path under its scope */
        if (strncmp(path, tp.scope, tp.scope_len) != 0) {
            return CIR_EAUTH;
        }
        memcpy(scope, tp.scope, tp.scope_len);
        scope[tp.scope_len] = '\0';
        signed_path = scope;
    }
    for (j = 0; j < MAC_LEN; j++) {
        int hi = cir_hex_value(tp.token[2 * j]),
            lo = cir_hex_value(tp.token[2 * j + 1]);
        if (hi < 0 || lo < 0) {
            return CIR_EAUTH;
        }
        got[j] = (unsigned char)(hi << 4 | lo);
    }
    if (token_mac(key, signed_path, tp.expires, want) < 0) {
        return CIR_EAUTH;
    }
    /* check the MAC first and in constant time, then the expiry */
    if (CRYPTO_memcmp(want, got, MAC_LEN) != 0 || now_s > tp.expires) {
        return CIR_EAUTH;
    }
    return 0;
}

int
cir_origin_token_query(const char *query, size_t query_len, char *out,
                       size_t size)
{
    token_params_t tp;
    int n;

    if (out == NULL || size == 0) {
        return CIR_EINVAL;
    }
    out[0] = '\0';
    if (parse_token_params(query, query_len, &tp) < 0 || tp.scope == NULL) {
        return 0; /* nothing the listed URIs could use */
    }
    n = snprintf(out, size, "token=%.*s&expires=%.*s&scope=%.*s",
                 (int)tp.token_len, tp.token, (int)tp.expires_len,
                 tp.expires_text, (int)tp.scope_len, tp.scope);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return CIR_ELIMIT;
    }
    return n;
}

/* uri + ('?' or '&') + query */
static int
put_uri(cir_buf_t *out, const char *uri, size_t n, const char *query,
        const char *amp)
{
    int ret;

    if ((ret = cir_buf_append(out, uri, n)) < 0 ||
        (ret = cir_buf_puts(out, memchr(uri, '?', n) ? amp : "?")) < 0) {
        return ret;
    }
    return cir_buf_puts(out, query);
}

/* A tag line with URI="..." attributes: the query goes into each. */
static int
put_tag_line(cir_buf_t *out, const char *line, size_t n, const char *query)
{
    const char *p = line, *end = line + n, *a, *q;
    int ret;

    while ((a = memmem(p, (size_t)(end - p), "URI=\"", 5)) != NULL) {
        if (a == line || (a[-1] != ':' && a[-1] != ',')) {
            /* not an attribute name (e.g. inside a quoted value) */
            if ((ret = cir_buf_append(out, p, (size_t)(a + 5 - p))) < 0) {
                return ret;
            }
            p = a + 5;
            continue;
        }
        a += 5;
        q = memchr(a, '"', (size_t)(end - a));
        if (q == NULL) {
            return CIR_EPARSE;
        }
        if ((ret = cir_buf_append(out, p, (size_t)(a - p))) < 0 ||
            (ret = put_uri(out, a, (size_t)(q - a), query, "&")) < 0) {
            return ret;
        }
        p = q;
    }
    return cir_buf_append(out, p, (size_t)(end - p));
}

int
cir_origin_hls_add_query(const char *in, size_t len, const char *query,
                         cir_buf_t *out)
{
    const char *p = in, *end = in + len, *nl, *next;
    size_t n;
    int ret;

    if (in == NULL || query == NULL || out == NULL) {
        return CIR_EINVAL;
    }
    if (query[0] == '\0') {
        return cir_buf_append(out, in, len);
    }
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            ret = 0;
        } else if (p[0] == '#') {
            ret = put_tag_line(out, p, n, query);
        } else {
            ret = put_uri(out, p, n, query, "&");
        }
        if (ret < 0) {
            return ret;
        }
        /* the line's own ending ("\r\n", "\n" or none), as it was */
        next = nl ? nl + 1 : end;
        if ((ret = cir_buf_append(out, p + n, (size_t)(next - p - n))) < 0) {
            return ret;
        }
        p = next;
    }
    return 0;
}

int
cir_origin_mpd_add_query(const char *in, size_t len, const char *query,
                         cir_buf_t *out)
{
    static const char *const attrs[] = {" media=\"", " initialization=\""};
    const char *p = in, *end = in + len, *a, *q, *best;
    size_t i, alen = 0;
    int ret;

    if (in == NULL || query == NULL || out == NULL) {
        return CIR_EINVAL;
    }
    if (query[0] == '\0') {
        return cir_buf_append(out, in, len);
    }
    for (;;) {
        best = NULL;
        for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
            a = memmem(p, (size_t)(end - p), attrs[i], strlen(attrs[i]));
            if (a != NULL && (best == NULL || a < best)) {
                best = a;
                alen = strlen(attrs[i]);
            }
        }
        if (best == NULL) {
            return cir_buf_append(out, p, (size_t)(end - p));
        }
        a = best + alen;
        q = memchr(a, '"', (size_t)(end - a));
        if (q == NULL) {
            return CIR_EPARSE;
        }
        /* the query is plain [A-Za-z0-9/_.~=&-]: only '&' needs escaping
         * in an attribute */
        if ((ret = cir_buf_append(out, p, (size_t)(a - p))) < 0 ||
            (ret = cir_buf_append(out, a, (size_t)(q - a))) < 0 ||
            (ret = cir_buf_puts(
                 out, memchr(a, '?', (size_t)(q - a)) ? "&amp;" : "?")) < 0) {
            return ret;
        }
        for (i = 0; query[i]; i++) {
            ret = query[i] == '&' ? cir_buf_puts(out, "&amp;")
                                  : cir_buf_append(out, &query[i], 1);
            if (ret < 0) {
                return ret;
            }
        }
        p = q;
    }
}
