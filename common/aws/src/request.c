/* One signed AWS request: its SigV4 headers and URL, one attempt, and the
 * retry loop that S3, SQS and Batch share. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aws_internal.h"
#include "cir_error.h"
#include "cir_log.h"

static const cir_log_ctx_t log_ctx = {.component = "aws"};

/* What one attempt sends besides its body: every header, signed, and the
 * Authorization value.  The headers point into this struct and r. */
typedef struct {
    cir_aws_creds_t cr;
    cir_aws_kv_t hdrs[40];
    size_t nh;
    char host[512], date[17], hash[65], auth[1024];
} signed_headers_t;

/* The headers of r with host, date, payload hash (S3) and session token,
 * and their SigV4 signature for cr (whose secret is wiped after). */
static int
sign_headers(const cir_aws_t *a, const aws_req_t *r, signed_headers_t *s)
{
    const char *ep = r->endpoint, *hs;
    char sig[65];
    int ret;

    hs = strstr(ep, "://");
    hs = hs ? hs + 3 : ep;
    snprintf(s->host, sizeof(s->host), "%.*s", (int)strcspn(hs, "/"), hs);
    cir_sigv4_amz_date(time(NULL), s->date);
    if (r->unsigned_payload) {
        aws_copy_str(s->hash, sizeof(s->hash), CIR_SIGV4_UNSIGNED);
    } else {
        cir_sha256_hex(r->body ? r->body : "", r->body_len, s->hash);
    }
    if (r->nheaders > 32) {
        return CIR_ELIMIT;
    }
    s->nh = 0;
    s->hdrs[s->nh++] = (cir_aws_kv_t){"host", s->host};
    s->hdrs[s->nh++] = (cir_aws_kv_t){"x-amz-date", s->date};
    if (strcmp(r->service, "s3") == 0) {
        s->hdrs[s->nh++] = (cir_aws_kv_t){"x-amz-content-sha256", s->hash};
    }
    if (s->cr.token[0] != '\0') {
        s->hdrs[s->nh++] = (cir_aws_kv_t){"x-amz-security-token", s->cr.token};
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        s->hdrs[s->nh++] = r->headers[i];
    }
    cir_sigv4_req_t sreq = {.method = r->method,
                            .path = r->path,
                            .query = r->query,
                            .nquery = r->nquery,
                            .headers = s->hdrs,
                            .nheaders = s->nh,
                            .payload_hash = s->hash};
    cir_sigv4_scope_t scope = {.access_key = s->cr.access_key,
                               .secret_key = s->cr.secret_key,
                               .region = a->region,
                               .service = r->service,
                               .amz_date = s->date};
    ret = cir_sigv4_sign(&sreq, &scope, sig, s->auth, sizeof(s->auth));
    OPENSSL_cleanse(s->cr.secret_key, sizeof(s->cr.secret_key));
    return ret;
}

/* An anonymous request's headers: r's, no Authorization. */
static int
unsigned_headers(const aws_req_t *r, signed_headers_t *s)
{
    if (r->nheaders > 32) {
        return CIR_ELIMIT;
    }
    s->nh = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        s->hdrs[s->nh++] = r->headers[i];
    }
    s->auth[0] = '\0';
    return 0;
}

/* endpoint + encoded path [+ "?" canonical query] into url. */
static int
build_url(const aws_req_t *r, cir_buf_t *url)
{
    int ret;

    if ((ret = cir_buf_puts(url, r->endpoint)) < 0 ||
        (ret = cir_sigv4_uri_encode(url, r->path, strlen(r->path), 0)) < 0 ||
        (r->nquery > 0 &&
         ((ret = cir_buf_puts(url, "?")) < 0 ||
          (ret = cir_sigv4_canonical_query(r->query, r->nquery, url)) < 0))) {
        return ret;
    }
    return 0;
}

/* The signed headers as curl's list, with Authorization, no Expect and, for
 * a request without a body, no Content-Type. */
static struct curl_slist *
header_list(const aws_req_t *r, const signed_headers_t *s)
{
    struct curl_slist *sl = NULL;
    char line[8192];

    for (size_t i = 0; i < s->nh; i++) {
        snprintf(line, sizeof(line), "%s: %s", s->hdrs[i].name,
                 s->hdrs[i].value);
        sl = curl_slist_append(sl, line);
    }
    if (s->auth[0] != '\0') {
        snprintf(line, sizeof(line), "Authorization: %s", s->auth);
        sl = curl_slist_append(sl, line);
    }
    sl = curl_slist_append(sl, "Expect:");
    if (r->body == NULL) {
        sl = curl_slist_append(sl, "Content-Type:");
    }
    OPENSSL_cleanse(line, sizeof(line));
    return sl;
}

/* What a finished transfer means: 0 on a 2xx answer; else the error, with
 * *retry set when another attempt may succeed. */
static int
attempt_result(aws_req_t *r, CURLcode rc, long status, int *retry)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        aws_set_error("%s %s: aborted", r->method, r->service);
        return CIR_ECANCELED;
    }
    if (rc != CURLE_OK) {
        char where[160];
        cir_aws_ellipsize(where, sizeof(where), r->path);
        aws_set_error("%s (%s %s on %s)", curl_easy_strerror(rc), r->method,
                      where, r->service);
        *retry = 1;
        return CIR_ETRANSIENT;
    }
    if (status >= 200 && status < 300) {
        if (r->range_got != NULL) {
            *r->range_got = r->range_got_n;
        }
        return 0;
    }
    return aws_response_error(r, status, retry);
}

/* One attempt.  0 ok; else a cir error and *retry. */
static int
attempt_once(cir_aws_t *a, aws_req_t *r, int *retry)
{
    signed_headers_t s;
    struct curl_slist *sl = NULL;
    cir_buf_t url;
    CURL *c = NULL;
    CURLcode rc;
    long status = 0;
    int ret;

    *retry = 0;
    if (r->anonymous) {
        ret = unsigned_headers(r, &s);
    } else if ((ret = cir_aws_credentials(a, &s.cr)) < 0) {
        *retry = ret == CIR_ETRANSIENT;
        return ret;
    } else {
        ret = sign_headers(a, r, &s);
    }
    if (ret < 0) {
        return ret;
    }
    cir_buf_init(&url, 65536);
    if ((ret = build_url(r, &url)) < 0) {
        goto fail;
    }
    sl = header_list(r, &s);
    if ((c = curl_easy_init()) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    aws_response_reset(r);
    aws_transfer_setup(c, a, r, url.data, sl);
    rc = aws_perform(c, r->abort);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;
    ret = attempt_result(r, rc, status, retry);
fail:
    if (c != NULL) {
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(sl);
    cir_buf_free(&url);
    OPENSSL_cleanse(s.auth, sizeof(s.auth));
    return ret;
}

int
aws_request(cir_aws_t *a, aws_req_t *r)
{
    int64_t start = aws_mono_ms(), wait;
    int ret, retry;
    /* a request may ask for fewer attempts (a lease's heartbeat) */
    cir_aws_retry_t policy = a->retry;

    if (r->max_attempts > 0 && r->max_attempts < policy.max_attempts) {
        policy.max_attempts = r->max_attempts;
    }
    for (int attempt = 1;; attempt++) {
        if (r->abort != NULL && atomic_load(r->abort)) {
            aws_set_error("%s %s: aborted", r->method, r->service);
            ret = CIR_ECANCELED;
            break;
        }
        aws_set_error_code("");
        ret = attempt_once(a, r, &retry);
        if (ret == 0 || !retry) {
            break;
        }
        wait = cir_aws_retry_wait_ms(&policy, attempt, aws_mono_ms() - start,
                                     aws_random32());
        if (wait < 0) {
            char saved[AWS_ERROR_MAX];
            aws_copy_str(saved, sizeof(saved), cir_aws_last_error());
            aws_set_error("%s; gave up after %d attempts in %.1f s", saved,
                          attempt, (double)(aws_mono_ms() - start) / 1000);
            break;
        }
        cir_log_warn(&log_ctx, "retrying (%d/%d) in %.2f s after: %s", attempt,
                     policy.max_attempts - 1, (double)wait / 1000,
                     cir_aws_last_error());
        aws_wait_ms(wait, r->abort); /* the loop's top sees an abort */
    }
    cir_buf_free(&r->errbody);
    return ret;
}

int
aws_json_call(cir_aws_t *a, aws_req_t *r, const char *content_type,
              const char *target, const json_t *body, size_t reply_max,
              const char *what, json_t **reply)
{
    cir_aws_kv_t h[2] = {{"content-type", content_type},
                         {"x-amz-target", target}};
    char *text = json_dumps(body, JSON_COMPACT);
    cir_buf_t out;
    int ret;

    *reply = NULL;
    if (text == NULL) {
        return CIR_ENOMEM;
    }
    cir_buf_init(&out, reply_max);
    r->method = "POST";
    r->headers = h;
    r->nheaders = target != NULL ? 2 : 1;
    r->body = text;
    r->body_len = strlen(text);
    r->out = &out;
    ret = aws_request(a, r);
    r->headers = NULL;
    r->body = NULL;
    r->out = NULL;
    free(text);
    if (ret == 0) {
        *reply = out.len > 0 ? json_loadb(out.data, out.len, 0, NULL)
                             : json_object();
        if (!json_is_object(*reply)) {
            json_decref(*reply);
            *reply = NULL;
            aws_set_error("%s: malformed reply", what);
            ret = CIR_EPARSE;
        }
    }
    cir_buf_free(&out);
    return ret;
}
