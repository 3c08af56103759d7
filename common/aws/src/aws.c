/*
 * The AWS client core: configuration, credentials, and one signed request
 * function with retries that S3, SQS and Batch share.
 */
#include "aws_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cir_error.h"
#include "cir_log.h"

static const cir_log_ctx_t log_ctx = {.component = "aws"};
static _Thread_local char last_error[1024];
static _Thread_local char last_code[128];

typedef enum {
    CRED_STATIC = 0,
    CRED_CONTAINER,
    CRED_IMDS,
    CRED_NONE
} cred_source_t;

struct cir_aws {
    char region[64];
    char ep_s3[512];
    char ep_sqs[512];
    char ep_batch[512];
    cir_aws_retry_t retry;
    int connect_timeout_ms; /* per attempt: connecting */
    int request_timeout_ms; /* per attempt: the whole exchange */
    cred_source_t source;
    char cred_url[1024];
    char cred_auth[2048];
    char imds[512];
    pthread_mutex_t lock;         /* creds */
    pthread_mutex_t refresh_lock; /* one refresh at a time */
    cir_aws_creds_t creds;
};

const char *
cir_aws_last_error(void)
{
    return last_error;
}

const char *
cir_aws_last_error_code(void)
{
    return last_code;
}

void
aws_set_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
}

static const char *
env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

static void
copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static void
trim_slash(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == '/') {
        s[--n] = '\0';
    }
}

static void
endpoint_for(char *dst, size_t size, const char *svc_env)
{
    const char *v = env(svc_env);

    if (v == NULL) {
        v = env("AWS_ENDPOINT_URL");
    }
    copy_str(dst, size, v);
    trim_slash(dst);
}

/* [profile] in an INI file: aws_access_key_id & co.  1 found, 0 not. */
static int
read_profile(const char *path, const char *profile, cir_aws_creds_t *c)
{
    char line[4096], want[256];
    int in = 0, found = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        return 0;
    }
    snprintf(want, sizeof(want), "[%s]", profile);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s = line, *e, *eq, *k, *v;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
                         e[-1] == '\t')) {
            *--e = '\0';
        }
        if (*s == '[') {
            in = strcmp(s, want) == 0;
            continue;
        }
        if (!in || *s == '#' || *s == ';' || (eq = strchr(s, '=')) == NULL) {
            continue;
        }
        *eq = '\0';
        k = s;
        v = eq + 1;
        for (e = eq; e > k && (e[-1] == ' ' || e[-1] == '\t');) {
            *--e = '\0';
        }
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        if (strcmp(k, "aws_access_key_id") == 0) {
            copy_str(c->access_key, sizeof(c->access_key), v);
            found = 1;
        } else if (strcmp(k, "aws_secret_access_key") == 0) {
            copy_str(c->secret_key, sizeof(c->secret_key), v);
        } else if (strcmp(k, "aws_session_token") == 0) {
            copy_str(c->token, sizeof(c->token), v);
        }
    }
    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
    return found && c->secret_key[0] != '\0';
}

int
cir_aws_open(cir_aws_t **out, char *err, size_t errsize)
{
    cir_aws_t *a = calloc(1, sizeof(*a));
    const char *v;
    char path[1024];

    *out = NULL;
    if (a == NULL) {
        return CIR_ENOMEM;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->refresh_lock, NULL);
    v = env("AWS_REGION");
    copy_str(a->region, sizeof(a->region),
             v ? v
               : (env("AWS_DEFAULT_REGION") ? env("AWS_DEFAULT_REGION")
                                            : "us-east-1"));
    endpoint_for(a->ep_s3, sizeof(a->ep_s3), "AWS_ENDPOINT_URL_S3");
    endpoint_for(a->ep_sqs, sizeof(a->ep_sqs), "AWS_ENDPOINT_URL_SQS");
    endpoint_for(a->ep_batch, sizeof(a->ep_batch), "AWS_ENDPOINT_URL_BATCH");
    a->connect_timeout_ms = CIR_AWS_CONNECT_TIMEOUT_MS;
    a->request_timeout_ms = CIR_AWS_REQUEST_TIMEOUT_MS;
    cir_aws_retry_default(&a->retry);
    if (cir_aws_retry_configure(&a->retry, env("CIRRUS_AWS_MAX_ATTEMPTS"),
                                env("CIRRUS_AWS_RETRY_BUDGET_S"),
                                env("CIRRUS_AWS_RETRY_MAX_WAIT_S"), err,
                                errsize) < 0) {
        pthread_mutex_destroy(&a->lock);
        free(a);
        return CIR_EINVAL;
    }

    a->source = CRED_NONE;
    if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
        copy_str(a->creds.access_key, sizeof(a->creds.access_key),
                 env("AWS_ACCESS_KEY_ID"));
        copy_str(a->creds.secret_key, sizeof(a->creds.secret_key),
                 env("AWS_SECRET_ACCESS_KEY"));
        copy_str(a->creds.token, sizeof(a->creds.token),
                 env("AWS_SESSION_TOKEN"));
        a->source = CRED_STATIC;
    }
    if (a->source == CRED_NONE) {
        if ((v = env("AWS_SHARED_CREDENTIALS_FILE")) != NULL) {
            copy_str(path, sizeof(path), v);
        } else {
            snprintf(path, sizeof(path), "%s/.aws/credentials",
                     env("HOME") ? env("HOME") : "");
        }
        if (read_profile(path,
                         env("AWS_PROFILE") ? env("AWS_PROFILE") : "default",
                         &a->creds)) {
            a->source = CRED_STATIC;
        }
    }
    if (a->source == CRED_NONE) {
        if ((v = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) != NULL) {
            snprintf(a->cred_url, sizeof(a->cred_url), "http://169.254.170.2%s",
                     v);
            a->source = CRED_CONTAINER;
        } else if ((v = env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) != NULL) {
            copy_str(a->cred_url, sizeof(a->cred_url), v);
            a->source = CRED_CONTAINER;
        }
        if (a->source == CRED_CONTAINER) {
            if ((v = env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) != NULL) {
                copy_str(a->cred_auth, sizeof(a->cred_auth), v);
            } else if ((v = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))) {
                char *data = NULL;
                size_t len = 0;
                FILE *f = fopen(v, "r");
                if (f != NULL) {
                    len = fread(a->cred_auth, 1, sizeof(a->cred_auth) - 1, f);
                    a->cred_auth[len] = '\0';
                    fclose(f);
                    a->cred_auth[strcspn(a->cred_auth, "\r\n")] = '\0';
                }
                (void)data;
            }
        }
    }
    if (a->source == CRED_NONE) {
        v = env("AWS_EC2_METADATA_DISABLED");
        if (v == NULL || strcmp(v, "true") != 0) {
            copy_str(a->imds, sizeof(a->imds),
                     env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                         ? env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                         : "http://169.254.169.254");
            trim_slash(a->imds);
            a->source = CRED_IMDS;
        }
    }
    if (a->source == CRED_NONE) {
        snprintf(err, errsize, "no AWS credentials found");
        pthread_mutex_destroy(&a->lock);
        pthread_mutex_destroy(&a->refresh_lock);
        free(a);
        return CIR_EAUTH;
    }
    *out = a;
    return 0;
}

void
cir_aws_close(cir_aws_t **aws)
{
    if (*aws == NULL) {
        return;
    }
    OPENSSL_cleanse(&(*aws)->creds, sizeof((*aws)->creds));
    pthread_mutex_destroy(&(*aws)->lock);
    pthread_mutex_destroy(&(*aws)->refresh_lock);
    free(*aws);
    *aws = NULL;
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static cir_aws_t *default_aws;

static void
open_default(void)
{
    char err[256];

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cir_aws_open(&default_aws, err, sizeof(err)) < 0) {
        cir_log_error(&log_ctx, "%s", err);
    }
}

cir_aws_t *
cir_aws_default(void)
{
    pthread_once(&default_once, open_default);
    return default_aws;
}

const char *
cir_aws_region(const cir_aws_t *aws)
{
    return aws->region;
}

int
cir_aws_set_region(cir_aws_t *aws, const char *region)
{
    if (region == NULL || region[0] == '\0' ||
        strlen(region) >= sizeof(aws->region)) {
        return CIR_EINVAL;
    }
    copy_str(aws->region, sizeof(aws->region), region);
    return 0;
}

int
cir_aws_set_timeouts(cir_aws_t *aws, int connect_ms, int request_ms)
{
    if (connect_ms < 1 || request_ms < 1 || connect_ms > 3600000 ||
        request_ms > 3600000) {
        return CIR_EINVAL;
    }
    aws->connect_timeout_ms = connect_ms;
    aws->request_timeout_ms = request_ms;
    return 0;
}

int
cir_aws_set_endpoint(cir_aws_t *aws, const char *service, const char *url)
{
    char *dst = strcmp(service, "s3") == 0      ? aws->ep_s3
                : strcmp(service, "sqs") == 0   ? aws->ep_sqs
                : strcmp(service, "batch") == 0 ? aws->ep_batch
                                                : NULL;

    /* ep_* are all the same size */
    if (dst == NULL || url == NULL || strlen(url) >= sizeof(aws->ep_s3) ||
        (url[0] != '\0' && strncmp(url, "http://", 7) != 0 &&
         strncmp(url, "https://", 8) != 0)) {
        return CIR_EINVAL;
    }
    copy_str(dst, sizeof(aws->ep_s3), url);
    trim_slash(dst);
    return 0;
}

const char *
aws_endpoint(const cir_aws_t *aws, const char *service)
{
    if (strcmp(service, "s3") == 0) {
        return aws->ep_s3;
    }
    if (strcmp(service, "sqs") == 0) {
        return aws->ep_sqs;
    }
    return aws->ep_batch;
}

/* ---- plain HTTP for the credential endpoints ---- */

static size_t
write_buf(char *p, size_t size, size_t n, void *opaque)
{
    cir_buf_t *b = opaque;

    return cir_buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

static int
plain_http(const char *method, const char *url, const char *header1,
           const char *header2, cir_buf_t *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    long status = 0;
    CURLcode rc;

    if (c == NULL) {
        return CIR_ENOMEM;
    }
    if (header1) {
        h = curl_slist_append(h, header1);
    }
    if (header2) {
        h = curl_slist_append(h, header2);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        aws_set_error("credentials endpoint: %s", curl_easy_strerror(rc));
        return CIR_ETRANSIENT;
    }
    if (status != 200) {
        aws_set_error("credentials endpoint answered %ld", status);
        return status >= 500 ? CIR_ETRANSIENT : CIR_EAUTH;
    }
    return 0;
}

static int64_t
parse_iso8601(const char *s)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, se;

    if (s == NULL ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6) {
        return 0;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    return (int64_t)timegm(&tm);
}

/* {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} */
static int
parse_cred_json(const cir_buf_t *b, cir_aws_creds_t *c)
{
    json_t *root = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    const char *ak, *sk, *tok, *exp;
    int ret = CIR_EAUTH;

    if (root == NULL) {
        aws_set_error("credentials endpoint: malformed JSON");
        return CIR_EPARSE;
    }
    ak = json_string_value(json_object_get(root, "AccessKeyId"));
    sk = json_string_value(json_object_get(root, "SecretAccessKey"));
    tok = json_string_value(json_object_get(root, "Token"));
    exp = json_string_value(json_object_get(root, "Expiration"));
    if (ak != NULL && sk != NULL) {
        copy_str(c->access_key, sizeof(c->access_key), ak);
        copy_str(c->secret_key, sizeof(c->secret_key), sk);
        copy_str(c->token, sizeof(c->token), tok);
        c->expires = parse_iso8601(exp);
        ret = 0;
    } else {
        aws_set_error("credentials endpoint: no AccessKeyId/SecretAccessKey");
    }
    json_decref(root);
    return ret;
}

static int
fetch_container(cir_aws_t *a, cir_aws_creds_t *c)
{
    cir_buf_t b;
    char auth[2100];
    int ret;

    cir_buf_init(&b, 65536);
    snprintf(auth, sizeof(auth), "Authorization: %s", a->cred_auth);
    ret =
        plain_http("GET", a->cred_url, a->cred_auth[0] ? auth : NULL, NULL, &b);
    if (ret == 0) {
        ret = parse_cred_json(&b, c);
    }
    OPENSSL_cleanse(auth, sizeof(auth));
    if (b.data) {
        OPENSSL_cleanse(b.data, b.len);
    }
    cir_buf_free(&b);
    return ret;
}

static int
fetch_imds(cir_aws_t *a, cir_aws_creds_t *c)
{
    cir_buf_t tok, role, b;
    char url[1024], hdr[512];
    int ret;

    cir_buf_init(&tok, 4096);
    cir_buf_init(&role, 1024);
    cir_buf_init(&b, 65536);
    snprintf(url, sizeof(url), "%s/latest/api/token", a->imds);
    if ((ret = plain_http("PUT", url,
                          "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL,
                          &tok)) < 0) {
        goto fail;
    }
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s",
             tok.data ? tok.data : "");
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/",
             a->imds);
    if ((ret = plain_http("GET", url, hdr, NULL, &role)) < 0) {
        goto fail;
    }
    if (role.data == NULL || role.len == 0) {
        ret = CIR_EAUTH;
        goto fail;
    }
    role.data[strcspn(role.data, "\r\n")] = '\0';
    snprintf(url, sizeof(url),
             "%s/latest/meta-data/iam/security-credentials/%s", a->imds,
             role.data);
    if ((ret = plain_http("GET", url, hdr, NULL, &b)) == 0) {
        ret = parse_cred_json(&b, c);
    }
fail:
    if (b.data) {
        OPENSSL_cleanse(b.data, b.len);
    }
    cir_buf_free(&tok);
    cir_buf_free(&role);
    cir_buf_free(&b);
    return ret;
}

/* Called with a->lock held. */
static int
needs_refresh(const cir_aws_t *a)
{
    return a->source != CRED_STATIC &&
           (a->creds.access_key[0] == '\0' ||
            (a->creds.expires != 0 &&
             a->creds.expires - 300 < (int64_t)time(NULL)));
}

static int
still_valid(const cir_aws_t *a)
{
    return a->creds.access_key[0] != '\0' &&
           (a->creds.expires == 0 || a->creds.expires > (int64_t)time(NULL));
}

/*
 * a->lock guards the credentials for a copy only; a refresh (network, up to
 * the endpoint's timeouts) holds refresh_lock alone, so a caller whose
 * credentials are still valid never waits on another thread's refresh (a
 * lease's heartbeat must not wait on a slow metadata endpoint).
 */
int
cir_aws_credentials(cir_aws_t *a, cir_aws_creds_t *out)
{
    cir_aws_creds_t fresh = {0};
    int ret, valid;

    pthread_mutex_lock(&a->lock);
    if (!needs_refresh(a)) {
        *out = a->creds;
        pthread_mutex_unlock(&a->lock);
        return 0;
    }
    if ((valid = still_valid(a)) != 0) {
        *out = a->creds;
    }
    pthread_mutex_unlock(&a->lock);
    if (valid && pthread_mutex_trylock(&a->refresh_lock) != 0) {
        return 0; /* another thread refreshes: these work meanwhile */
    }
    if (!valid) {
        pthread_mutex_lock(&a->refresh_lock);
    }
    pthread_mutex_lock(&a->lock);
    if (!needs_refresh(a)) { /* refreshed while we waited */
        *out = a->creds;
        pthread_mutex_unlock(&a->lock);
        pthread_mutex_unlock(&a->refresh_lock);
        return 0;
    }
    pthread_mutex_unlock(&a->lock);
    ret = a->source == CRED_CONTAINER ? fetch_container(a, &fresh)
                                      : fetch_imds(a, &fresh);
    pthread_mutex_lock(&a->lock);
    if (ret == 0) {
        a->creds = fresh;
        cir_log_debug(&log_ctx, "refreshed credentials from %s",
                      a->source == CRED_CONTAINER ? "container" : "IMDS");
    } else if (still_valid(a)) {
        ret = 0; /* still valid: keep using them, retry next time */
    }
    if (ret == 0) {
        *out = a->creds;
    }
    pthread_mutex_unlock(&a->lock);
    pthread_mutex_unlock(&a->refresh_lock);
    OPENSSL_cleanse(&fresh, sizeof(fresh));
    return ret;
}

/* ---- signed requests with retries ---- */

typedef struct {
    aws_req_t *r;
    cir_buf_t *out;
} sink_t;

static size_t
on_body(char *p, size_t size, size_t n, void *opaque)
{
    aws_req_t *r = opaque;
    size_t len = size * n;

    if (r->status_seen >= 300 || r->range_buf == NULL) {
        if (r->errbody.max == 0) {
            cir_buf_init(&r->errbody, 65536);
        }
        cir_buf_t *b =
            r->status_seen >= 300 || r->out == NULL ? &r->errbody : r->out;
        if (b == &r->errbody && b->len + len > b->max) {
            return len; /* keep the start of a long error body */
        }
        return cir_buf_append(b, p, len) < 0 ? 0 : len;
    }
    if (r->range_got_n + len > r->range_cap) {
        len = r->range_cap - r->range_got_n;
        memcpy((char *)r->range_buf + r->range_got_n, p, len);
        r->range_got_n += len;
        return size * n; /* the server sent more than asked: ignore */
    }
    memcpy((char *)r->range_buf + r->range_got_n, p, len);
    r->range_got_n += len;
    return len;
}

static void
header_value(const char *p, size_t n, const char *name, char *dst, size_t size)
{
    size_t k = strlen(name);
    size_t i, j;

    if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':') {
        return;
    }
    for (i = k + 1; i < n && (p[i] == ' ' || p[i] == '\t'); i++) {
    }
    for (j = n;
         j > i && (p[j - 1] == '\r' || p[j - 1] == '\n' || p[j - 1] == ' ');
         j--) {
    }
    snprintf(dst, size, "%.*s", (int)(j - i), p + i);
}

static size_t
on_header(char *p, size_t size, size_t n, void *opaque)
{
    aws_req_t *r = opaque;
    size_t len = size * n;
    char num[32] = "";

    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        r->status_seen = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    if (r->head != NULL) {
        header_value(p, len, "content-length", num, sizeof(num));
        if (num[0] != '\0') {
            r->head->size = strtoll(num, NULL, 10);
        }
        header_value(p, len, "etag", r->head->etag, sizeof(r->head->etag));
        header_value(p, len, "content-type", r->head->content_type,
                     sizeof(r->head->content_type));
        header_value(p, len, "cache-control", r->head->cache_control,
                     sizeof(r->head->cache_control));
    }
    return len;
}

/* The <Code> of an S3 XML error or the __type of a JSON one. */
static void
error_code(const cir_buf_t *b, char *code, size_t size, char *msg, size_t msize)
{
    const char *s = b->data, *e;

    code[0] = msg[0] = '\0';
    if (s == NULL) {
        return;
    }
    if ((s = strstr(b->data, "<Code>")) != NULL &&
        (e = strstr(s, "</Code>")) != NULL) {
        snprintf(code, size, "%.*s", (int)(e - s - 6), s + 6);
        if ((s = strstr(b->data, "<Message>")) != NULL &&
            (e = strstr(s, "</Message>")) != NULL) {
            snprintf(msg, msize, "%.*s", (int)(e - s - 9), s + 9);
        }
        return;
    }
    json_t *root = json_loadb(b->data, b->len, 0, NULL);
    if (root != NULL) {
        const char *t = json_string_value(json_object_get(root, "__type"));
        const char *m = json_string_value(json_object_get(root, "message"));
        if (t == NULL) {
            t = json_string_value(json_object_get(root, "code"));
        }
        if (m == NULL) {
            m = json_string_value(json_object_get(root, "Message"));
        }
        if (t != NULL) {
            const char *hash = strrchr(t, '#');
            snprintf(code, size, "%s", hash ? hash + 1 : t);
        }
        if (m != NULL) {
            snprintf(msg, msize, "%s", m);
        }
        json_decref(root);
    }
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t
random32(void)
{
    uint32_t rnd = 0;

    if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1) {
        rnd = (uint32_t)mono_ms() * 2654435761u;
    }
    return rnd;
}

/* The connect and total timeouts of one attempt. */
static void
set_timeouts(CURL *c, const cir_aws_t *a, const aws_req_t *r)
{
    long total = r->timeout_ms > 0 ? r->timeout_ms
                                   : (long)a->request_timeout_ms + r->extra_ms;
    long connect =
        a->connect_timeout_ms < total ? a->connect_timeout_ms : total;

    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total);
}

/* curl_easy_perform, or with an abort flag a multi loop that looks at the
 * flag every ABORT_POLL_MS (curl's progress callback may wait a second on
 * an idle connection): an aborted request stops within that. */
#define ABORT_POLL_MS 50

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A backoff wait, in ABORT_POLL_MS slices when an abort flag may end it. */
static void
wait_ms(int64_t ms, const atomic_int *abort_flag)
{
    int64_t end = mono_ms() + ms, left;

    if (abort_flag == NULL) {
        sleep_ms(ms);
        return;
    }
    while (!atomic_load(abort_flag) && (left = end - mono_ms()) > 0) {
        sleep_ms(left < ABORT_POLL_MS ? left : ABORT_POLL_MS);
    }
}

static CURLcode
perform(CURL *c, const atomic_int *abort_flag)
{
    CURLM *m;
    CURLcode rc = CURLE_OK;
    CURLMsg *msg;
    int running = 1, left;

    if (abort_flag == NULL) {
        return curl_easy_perform(c);
    }
    if ((m = curl_multi_init()) == NULL) {
        return CURLE_OUT_OF_MEMORY;
    }
    if (curl_multi_add_handle(m, c) != CURLM_OK) {
        curl_multi_cleanup(m);
        return CURLE_OUT_OF_MEMORY;
    }
    while (running) {
        if (atomic_load(abort_flag)) {
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            rc = CURLE_SEND_ERROR;
            break;
        }
        if (running &&
            curl_multi_poll(m, NULL, 0, ABORT_POLL_MS, NULL) != CURLM_OK) {
            rc = CURLE_RECV_ERROR;
            break;
        }
    }
    while (rc == CURLE_OK && (msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            rc = msg->data.result;
        }
    }
    curl_multi_remove_handle(m, c);
    curl_multi_cleanup(m);
    return rc;
}

/* One attempt.  0 ok; else a cir error and *retry. */
static int
attempt_once(cir_aws_t *a, aws_req_t *r, int *retry)
{
    cir_aws_creds_t cr;
    cir_aws_kv_t hdrs[40];
    size_t nh = 0;
    char host[512], date[17], hash[65], sig[65], auth[1024], line[8192];
    const char *ep = r->endpoint, *hs;
    struct curl_slist *sl = NULL;
    cir_buf_t url;
    CURL *c = NULL;
    CURLcode rc;
    long status = 0;
    int ret;

    *retry = 0;
    if ((ret = cir_aws_credentials(a, &cr)) < 0) {
        *retry = ret == CIR_ETRANSIENT;
        return ret;
    }
    hs = strstr(ep, "://");
    hs = hs ? hs + 3 : ep;
    snprintf(host, sizeof(host), "%.*s", (int)strcspn(hs, "/"), hs);
    cir_sigv4_amz_date(time(NULL), date);
    if (r->unsigned_payload) {
        copy_str(hash, sizeof(hash), CIR_SIGV4_UNSIGNED);
    } else {
        cir_sha256_hex(r->body ? r->body : "", r->body_len, hash);
    }
    if (r->nheaders > 32) {
        return CIR_ELIMIT;
    }
    hdrs[nh++] = (cir_aws_kv_t){"host", host};
    hdrs[nh++] = (cir_aws_kv_t){"x-amz-date", date};
    if (strcmp(r->service, "s3") == 0) {
        hdrs[nh++] = (cir_aws_kv_t){"x-amz-content-sha256", hash};
    }
    if (cr.token[0] != '\0') {
        hdrs[nh++] = (cir_aws_kv_t){"x-amz-security-token", cr.token};
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        hdrs[nh++] = r->headers[i];
    }
    cir_sigv4_req_t sreq = {.method = r->method,
                            .path = r->path,
                            .query = r->query,
                            .nquery = r->nquery,
                            .headers = hdrs,
                            .nheaders = nh,
                            .payload_hash = hash};
    cir_sigv4_scope_t scope = {.access_key = cr.access_key,
                               .secret_key = cr.secret_key,
                               .region = a->region,
                               .service = r->service,
                               .amz_date = date};
    ret = cir_sigv4_sign(&sreq, &scope, sig, auth, sizeof(auth));
    OPENSSL_cleanse(cr.secret_key, sizeof(cr.secret_key));
    if (ret < 0) {
        return ret;
    }

    cir_buf_init(&url, 65536);
    if ((ret = cir_buf_puts(&url, ep)) < 0 ||
        (ret = cir_sigv4_uri_encode(&url, r->path, strlen(r->path), 0)) < 0 ||
        (r->nquery > 0 &&
         ((ret = cir_buf_puts(&url, "?")) < 0 ||
          (ret = cir_sigv4_canonical_query(r->query, r->nquery, &url)) < 0))) {
        goto fail;
    }
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof(line), "%s: %s", hdrs[i].name, hdrs[i].value);
        sl = curl_slist_append(sl, line);
    }
    snprintf(line, sizeof(line), "Authorization: %s", auth);
    sl = curl_slist_append(sl, line);
    sl = curl_slist_append(sl, "Expect:");
    if (r->body == NULL) {
        sl = curl_slist_append(sl, "Content-Type:");
    }
    OPENSSL_cleanse(line, sizeof(line));

    if ((c = curl_easy_init()) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    r->status_seen = 0;
    r->range_got_n = 0;
    if (r->out != NULL) {
        cir_buf_reset(r->out);
    }
    cir_buf_free(&r->errbody);
    r->errbody.max = 0;
    if (r->head != NULL) {
        memset(r->head, 0, sizeof(*r->head));
    }
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    set_timeouts(c, a, r);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     r->low_speed_s > 0 ? (long)r->low_speed_s : 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (r->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)r->body_len);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        if (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        }
    }
    rc = perform(c, r->abort);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        aws_set_error("%s %s: aborted", r->method, r->service);
        ret = CIR_ECANCELED;
        goto fail;
    }
    if (rc != CURLE_OK) {
        char where[160];
        cir_aws_ellipsize(where, sizeof(where), r->path);
        aws_set_error("%s (%s %s on %s)", curl_easy_strerror(rc), r->method,
                      where, r->service);
        *retry = 1;
        ret = CIR_ETRANSIENT;
        goto fail;
    }
    if (status >= 200 && status < 300) {
        if (r->range_got != NULL) {
            *r->range_got = r->range_got_n;
        }
        ret = 0;
        goto fail;
    }
    {
        char code[128], msg[256], where[160];
        error_code(&r->errbody, code, sizeof(code), msg, sizeof(msg));
        if (code[0] == '\0' && status == 404) {
            copy_str(code, sizeof(code), "NotFound");
        }
        copy_str(last_code, sizeof(last_code), code);
        /* the code first, a long path or message cut in the middle: the
         * code is what tells an operator what happened */
        cir_aws_ellipsize(where, sizeof(where), r->path);
        aws_set_error("HTTP %ld %s%s%s (%s %s on %s)", status,
                      code[0] ? code : "(no error code)", msg[0] ? ": " : "",
                      msg, r->method, where, r->service);
        ret = cir_aws_classify(status, code);
        *retry = ret == CIR_ETRANSIENT;
    }
fail:
    if (c != NULL) {
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(sl);
    cir_buf_free(&url);
    OPENSSL_cleanse(auth, sizeof(auth));
    return ret;
}

int
aws_request(cir_aws_t *a, aws_req_t *r)
{
    int64_t start = mono_ms(), wait;
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
        last_code[0] = '\0';
        ret = attempt_once(a, r, &retry);
        if (ret == 0 || !retry) {
            break;
        }
        wait = cir_aws_retry_wait_ms(&policy, attempt, mono_ms() - start,
                                     random32());
        if (wait < 0) {
            char saved[sizeof(last_error)];
            copy_str(saved, sizeof(saved), last_error);
            aws_set_error("%s; gave up after %d attempts in %.1f s", saved,
                          attempt, (double)(mono_ms() - start) / 1000);
            break;
        }
        cir_log_warn(&log_ctx, "retrying (%d/%d) in %.2f s after: %s", attempt,
                     policy.max_attempts - 1, (double)wait / 1000, last_error);
        wait_ms(wait, r->abort); /* the loop's top sees an abort */
    }
    cir_buf_free(&r->errbody);
    return ret;
}
