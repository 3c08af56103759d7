/* AWS Signature Version 4 with OpenSSL's SHA-256 and HMAC. */
#include "cir_sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "cir_error.h"

#define MAX_HEADERS 64
#define MAX_QUERY   64

static const char hexl[] = "0123456789abcdef";

static void
to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexl[p[i] >> 4];
        out[2 * i + 1] = hexl[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void
cir_sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t md[SHA256_DIGEST_LENGTH];

    SHA256(data, len, md);
    to_hex(md, sizeof(md), out);
}

void
cir_sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void
hmac(const uint8_t *key, size_t klen, const void *msg, size_t mlen,
     uint8_t out[32])
{
    unsigned int olen = 32;

    HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen);
}

int
cir_sigv4_uri_encode(cir_buf_t *out, const char *s, size_t len,
                     int encode_slash)
{
    static const char hexu[] = "0123456789ABCDEF";
    int ret;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (c == '/' && !encode_slash)) {
            ret = cir_buf_append(out, &s[i], 1);
        } else {
            char e[3] = {'%', hexu[c >> 4], hexu[c & 15]};
            ret = cir_buf_append(out, e, 3);
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

typedef struct {
    char *name; /* encoded */
    char *value;
} enc_pair_t;

static int
cmp_pair(const void *a, const void *b)
{
    const enc_pair_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c != 0 ? c : strcmp(x->value, y->value);
}

static char *
enc_dup(const char *s)
{
    cir_buf_t b;
    char *p;

    cir_buf_init(&b, 65536);
    if (cir_sigv4_uri_encode(&b, s, strlen(s), 1) < 0 ||
        cir_buf_puts(&b, "") < 0) {
        cir_buf_free(&b);
        return NULL;
    }
    p = cir_buf_detach(&b, NULL);
    return p != NULL ? p : strdup("");
}

int
cir_sigv4_canonical_query(const cir_aws_kv_t *q, size_t n, cir_buf_t *out)
{
    enc_pair_t pairs[MAX_QUERY] = {0};
    int ret = 0;

    if (n > MAX_QUERY) {
        return CIR_ELIMIT;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = q[i].value ? q[i].value : "";
        pairs[i].name = enc_dup(q[i].name);
        pairs[i].value = enc_dup(v);
        if (pairs[i].name == NULL || pairs[i].value == NULL) {
            ret = CIR_ENOMEM;
            goto fail;
        }
    }
    qsort(pairs, n, sizeof(pairs[0]), cmp_pair);
    for (size_t i = 0; i < n && ret == 0; i++) {
        ret = cir_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].name,
                             pairs[i].value);
    }
fail:
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    return ret;
}

typedef struct {
    char name[128]; /* lowercased */
    size_t index;   /* original order, for a stable sort */
    const char *value;
} hdr_t;

static int
cmp_hdr(const void *a, const void *b)
{
    const hdr_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0) {
        return c;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Trimmed value with runs of spaces collapsed to one. */
static int
append_trimmed(cir_buf_t *out, const char *v)
{
    int space = 0, started = 0, ret;

    for (; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
            space = started;
            continue;
        }
        if (space && (ret = cir_buf_append(out, " ", 1)) < 0) {
            return ret;
        }
        if ((ret = cir_buf_append(out, v, 1)) < 0) {
            return ret;
        }
        space = 0;
        started = 1;
    }
    return 0;
}

int
cir_sigv4_canonical_request(const cir_sigv4_req_t *r, cir_buf_t *out,
                            cir_buf_t *signed_headers)
{
    hdr_t h[MAX_HEADERS];
    int ret;

    if (r->nheaders > MAX_HEADERS || r->path == NULL || r->path[0] != '/') {
        return CIR_EINVAL;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        size_t n = strlen(r->headers[i].name);
        if (n == 0 || n >= sizeof(h[i].name)) {
            return CIR_EINVAL;
        }
        for (size_t j = 0; j <= n; j++) {
            h[i].name[j] = (char)tolower((unsigned char)r->headers[i].name[j]);
        }
        h[i].index = i;
        h[i].value = r->headers[i].value ? r->headers[i].value : "";
    }
    qsort(h, r->nheaders, sizeof(h[0]), cmp_hdr);

    if ((ret = cir_buf_printf(out, "%s\n", r->method)) < 0 ||
        (ret = cir_sigv4_uri_encode(out, r->path, strlen(r->path), 0)) < 0 ||
        (ret = cir_buf_puts(out, "\n")) < 0 ||
        (ret = cir_sigv4_canonical_query(r->query, r->nquery, out)) < 0 ||
        (ret = cir_buf_puts(out, "\n")) < 0) {
        return ret;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        int first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
        int last = i + 1 == r->nheaders || strcmp(h[i].name, h[i + 1].name);
        if (first) {
            if ((ret = cir_buf_printf(out, "%s:", h[i].name)) < 0 ||
                (ret = cir_buf_printf(signed_headers, "%s%s",
                                      signed_headers->len ? ";" : "",
                                      h[i].name)) < 0) {
                return ret;
            }
        } else if ((ret = cir_buf_puts(out, ",")) < 0) {
            return ret;
        }
        if ((ret = append_trimmed(out, h[i].value)) < 0) {
            return ret;
        }
        if (last && (ret = cir_buf_puts(out, "\n")) < 0) {
            return ret;
        }
    }
    return cir_buf_printf(out, "\n%s\n%s",
                          signed_headers->data ? signed_headers->data : "",
                          r->payload_hash);
}

int
cir_sigv4_string_to_sign(const cir_sigv4_scope_t *s, const char *creq,
                         cir_buf_t *out)
{
    char hash[65];

    if (strlen(s->amz_date) != 16) {
        return CIR_EINVAL;
    }
    cir_sha256_hex(creq, strlen(creq), hash);
    return cir_buf_printf(
        out, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", s->amz_date,
        s->amz_date, s->region, s->service, hash);
}

void
cir_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                      const char *service, uint8_t key[32])
{
    char k0[256];
    uint8_t k1[32], k2[32], k3[32];
    int n = snprintf(k0, sizeof(k0), "AWS4%s", secret);

    if (n < 0 || (size_t)n >= sizeof(k0)) {
        n = (int)sizeof(k0) - 1; /* secrets are 40 bytes; never reached */
    }
    hmac((const uint8_t *)k0, (size_t)n, date8, 8, k1);
    hmac(k1, 32, region, strlen(region), k2);
    hmac(k2, 32, service, strlen(service), k3);
    hmac(k3, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(k3, sizeof(k3));
}

int
cir_sigv4_sign(const cir_sigv4_req_t *r, const cir_sigv4_scope_t *s,
               char sig[65], char *auth, size_t authsize)
{
    cir_buf_t creq, sh, sts;
    uint8_t key[32], mac[32];
    int ret, n;

    cir_buf_init(&creq, 1 << 20);
    cir_buf_init(&sh, 8192);
    cir_buf_init(&sts, 4096);
    if ((ret = cir_sigv4_canonical_request(r, &creq, &sh)) < 0 ||
        (ret = cir_sigv4_string_to_sign(s, creq.data, &sts)) < 0) {
        goto fail;
    }
    cir_sigv4_signing_key(s->secret_key, s->amz_date, s->region, s->service,
                          key);
    hmac(key, sizeof(key), sts.data, sts.len, mac);
    OPENSSL_cleanse(key, sizeof(key));
    to_hex(mac, sizeof(mac), sig);
    if (auth != NULL) {
        n = snprintf(auth, authsize,
                     "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
                     "SignedHeaders=%s, Signature=%s",
                     s->access_key, s->amz_date, s->region, s->service, sh.data,
                     sig);
        if (n < 0 || (size_t)n >= authsize) {
            ret = CIR_ELIMIT;
        }
    }
fail:
    cir_buf_free(&creq);
    cir_buf_free(&sh);
    cir_buf_free(&sts);
    return ret;
}

int
cir_sigv4_presign_query(const char *method, const char *host, const char *path,
                        const cir_sigv4_scope_t *s, const char *token,
                        int expires_s, cir_buf_t *out)
{
    char cred[512], expires[16], sig[65];
    cir_aws_kv_t q[6], h[1] = {{"host", host}};
    size_t nq = 0;
    int n, ret;

    n = snprintf(cred, sizeof(cred), "%s/%.8s/%s/%s/aws4_request",
                 s->access_key, s->amz_date, s->region, s->service);
    if (n < 0 || (size_t)n >= sizeof(cred) || expires_s < 1 ||
        expires_s > 604800) {
        return CIR_EINVAL; /* S3 takes at most 7 days */
    }
    snprintf(expires, sizeof(expires), "%d", expires_s);
    q[nq++] = (cir_aws_kv_t){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
    q[nq++] = (cir_aws_kv_t){"X-Amz-Credential", cred};
    q[nq++] = (cir_aws_kv_t){"X-Amz-Date", s->amz_date};
    q[nq++] = (cir_aws_kv_t){"X-Amz-Expires", expires};
    q[nq++] = (cir_aws_kv_t){"X-Amz-SignedHeaders", "host"};
    if (token != NULL && token[0] != '\0') {
        q[nq++] = (cir_aws_kv_t){"X-Amz-Security-Token", token};
    }
    cir_sigv4_req_t r = {.method = method,
                         .path = path,
                         .query = q,
                         .nquery = nq,
                         .headers = h,
                         .nheaders = 1,
                         .payload_hash = CIR_SIGV4_UNSIGNED};
    if ((ret = cir_sigv4_sign(&r, s, sig, NULL, 0)) < 0 ||
        (ret = cir_sigv4_canonical_query(q, nq, out)) < 0) {
        return ret;
    }
    return cir_buf_printf(out, "&X-Amz-Signature=%s", sig);
}
