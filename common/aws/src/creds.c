/* AWS credentials: where they come from (environment, shared profile
 * file, container endpoint, IMDS), fetching and refreshing them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "aws_internal.h"
#include "cir_clock.h"
#include "cir_error.h"
#include "cir_log.h"

static const cir_log_ctx_t log_ctx = {.component = "aws"};

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
            aws_copy_str(c->access_key, sizeof(c->access_key), v);
            found = 1;
        } else if (strcmp(k, "aws_secret_access_key") == 0) {
            aws_copy_str(c->secret_key, sizeof(c->secret_key), v);
        } else if (strcmp(k, "aws_session_token") == 0) {
            aws_copy_str(c->token, sizeof(c->token), v);
        }
    }
    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
    return found && c->secret_key[0] != '\0';
}

/* Where the credentials come from, in the AWS tools' order: the
 * environment, the shared credentials file, the container endpoint, IMDS.
 * CIR_EAUTH with a message when none is there. */
int
aws_creds_find(cir_aws_t *a, char *err, size_t errsize)
{
    const char *v;
    char path[1024];

    a->source = CRED_NONE;
    if (aws_env("AWS_ACCESS_KEY_ID") && aws_env("AWS_SECRET_ACCESS_KEY")) {
        aws_copy_str(a->creds.access_key, sizeof(a->creds.access_key),
                     aws_env("AWS_ACCESS_KEY_ID"));
        aws_copy_str(a->creds.secret_key, sizeof(a->creds.secret_key),
                     aws_env("AWS_SECRET_ACCESS_KEY"));
        aws_copy_str(a->creds.token, sizeof(a->creds.token),
                     aws_env("AWS_SESSION_TOKEN"));
        a->source = CRED_STATIC;
    }
    if (a->source == CRED_NONE) {
        if ((v = aws_env("AWS_SHARED_CREDENTIALS_FILE")) != NULL) {
            aws_copy_str(path, sizeof(path), v);
        } else {
            snprintf(path, sizeof(path), "%s/.aws/credentials",
                     aws_env("HOME") ? aws_env("HOME") : "");
        }
        if (read_profile(path,
                         aws_env("AWS_PROFILE") ? aws_env("AWS_PROFILE")
                                                : "default",
                         &a->creds)) {
            a->source = CRED_STATIC;
        }
    }
    if (a->source == CRED_NONE) {
        if ((v = aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) != NULL) {
            snprintf(a->cred_url, sizeof(a->cred_url), "http://169.254.170.2%s",
                     v);
            a->source = CRED_CONTAINER;
        } else if ((v = aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) !=
                   NULL) {
            aws_copy_str(a->cred_url, sizeof(a->cred_url), v);
            a->source = CRED_CONTAINER;
        }
        if (a->source == CRED_CONTAINER) {
            if ((v = aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) != NULL) {
                aws_copy_str(a->cred_auth, sizeof(a->cred_auth), v);
            } else if ((v = aws_env(
                            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))) {
                size_t len = 0;
                FILE *f = fopen(v, "r");
                if (f != NULL) {
                    len = fread(a->cred_auth, 1, sizeof(a->cred_auth) - 1, f);
                    a->cred_auth[len] = '\0';
                    fclose(f);
                    a->cred_auth[strcspn(a->cred_auth, "\r\n")] = '\0';
                }
            }
        }
    }
    if (a->source == CRED_NONE) {
        v = aws_env("AWS_EC2_METADATA_DISABLED");
        if (v == NULL || strcmp(v, "true") != 0) {
            aws_copy_str(a->imds, sizeof(a->imds),
                         aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                             ? aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                             : "http://169.254.169.254");
            aws_trim_slash(a->imds);
            a->source = CRED_IMDS;
        }
    }
    if (a->source == CRED_NONE) {
        snprintf(err, errsize, "no AWS credentials found");
        return CIR_EAUTH;
    }
    return 0;
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
        aws_copy_str(c->access_key, sizeof(c->access_key), ak);
        aws_copy_str(c->secret_key, sizeof(c->secret_key), sk);
        aws_copy_str(c->token, sizeof(c->token), tok);
        c->expires = cir_clock_parse_iso8601(exp) / 1000000;
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
