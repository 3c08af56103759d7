/*
 * S3: object operations, multipart upload, listing, the s3:// store.
 *
 * Tested through tests/integration/aws*.test.mjs (an S3-compatible server
 * behind a proxy that checks every signature with AWS's signer).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aws_internal.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_sigv4.h"
#include "cir_storage.h"

#define KEY_PATH_MAX   (CIR_URI_MAX + 128)
#define MAX_PARTS      10000
#define UPLOAD_THREADS 4

/* Endpoint and raw path for an object: path-style on a custom endpoint,
 * virtual-hosted on AWS.  CIR_ELIMIT when either does not fit (a request
 * for a cut key would name another object). */
static int
locate(cir_aws_t *a, const char *bucket, const char *key, char *ep,
       size_t epsize, char *path, size_t psize)
{
    const char *custom = aws_endpoint(a, "s3");
    int ne, np;

    if (custom[0] != '\0') {
        ne = snprintf(ep, epsize, "%s", custom);
        np = snprintf(path, psize, "/%s/%s", bucket, key);
    } else {
        ne = snprintf(ep, epsize, "https://%s.s3.%s.amazonaws.com", bucket,
                      cir_aws_region(a));
        np = snprintf(path, psize, "/%s", key);
    }
    if (ne < 0 || (size_t)ne >= epsize || np < 0 || (size_t)np >= psize) {
        aws_set_error("s3://%s/...: the key does not fit a request path",
                      bucket);
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_s3_head(cir_aws_t *a, const char *bucket, const char *key,
            cir_s3_head_t *head, const atomic_int *abort)
{
    char ep[600], path[KEY_PATH_MAX];
    aws_req_t r = {
        .service = "s3", .method = "HEAD", .head = head, .abort = abort};

    if (locate(a, bucket, key, ep, sizeof(ep), path, sizeof(path)) < 0) {
        return CIR_ELIMIT;
    }
    r.endpoint = ep;
    r.path = path;
    return aws_request(a, &r);
}

int
cir_s3_get_range(cir_aws_t *a, const char *bucket, const char *key,
                 int64_t offset, size_t len, void *buf, size_t *got,
                 const atomic_int *abort)
{
    char ep[600], path[KEY_PATH_MAX], range[64];
    cir_aws_kv_t h[1];
    aws_req_t r = {.service = "s3", .method = "GET", .abort = abort};

    *got = 0;
    if (len == 0) {
        return 0;
    }
    if (locate(a, bucket, key, ep, sizeof(ep), path, sizeof(path)) < 0) {
        return CIR_ELIMIT;
    }
    snprintf(range, sizeof(range), "bytes=%lld-%lld", (long long)offset,
             (long long)offset + (long long)len - 1);
    h[0] = (cir_aws_kv_t){"range", range};
    r.endpoint = ep;
    r.path = path;
    r.headers = h;
    r.nheaders = 1;
    r.range_buf = buf;
    r.range_cap = len;
    r.range_got = got;
    return aws_request(a, &r);
}

int
cir_s3_get(cir_aws_t *a, const char *bucket, const char *key, size_t max,
           cir_buf_t *out)
{
    char ep[600], path[KEY_PATH_MAX];
    aws_req_t r = {.service = "s3", .method = "GET", .out = out};

    (void)max; /* out carries its own bound */
    if (locate(a, bucket, key, ep, sizeof(ep), path, sizeof(path)) < 0) {
        return CIR_ELIMIT;
    }
    r.endpoint = ep;
    r.path = path;
    return aws_request(a, &r);
}

/* content-type, cache-control, x-amz-meta-*: into h (room for 2 + nmeta) */
static int
put_headers(const cir_s3_put_opts_t *o, cir_aws_kv_t *h, size_t cap,
            char names[][160], size_t *n)
{
    *n = 0;
    h[(*n)++] = (cir_aws_kv_t){
        "content-type",
        o && o->content_type ? o->content_type : "application/octet-stream"};
    if (o && o->if_absent) {
        h[(*n)++] = (cir_aws_kv_t){"if-none-match", "*"};
    }
    if (o && o->cache_control) {
        h[(*n)++] = (cir_aws_kv_t){"cache-control", o->cache_control};
    }
    for (size_t i = 0; o && i < o->nmeta; i++) {
        if (*n >= cap) {
            return CIR_ELIMIT;
        }
        snprintf(names[i], 160, "x-amz-meta-%s", o->meta[i].name);
        h[(*n)++] = (cir_aws_kv_t){names[i], o->meta[i].value};
    }
    return 0;
}

static int
put_single(cir_aws_t *a, const char *bucket, const char *key, const void *data,
           size_t len, const cir_s3_put_opts_t *opts)
{
    char ep[600], path[KEY_PATH_MAX], names[16][160];
    cir_aws_kv_t h[19];
    size_t nh;
    aws_req_t r = {.service = "s3", .method = "PUT"};
    int ret;

    if ((ret = put_headers(opts, h, 19, names, &nh)) < 0) {
        return ret;
    }
    if (locate(a, bucket, key, ep, sizeof(ep), path, sizeof(path)) < 0) {
        return CIR_ELIMIT;
    }
    r.endpoint = ep;
    r.path = path;
    r.headers = h;
    r.nheaders = nh;
    r.body = data ? data : "";
    r.body_len = len;
    r.abort = opts ? opts->abort : NULL;
    ret = aws_request(a, &r);
    if (ret < 0 && opts && opts->if_absent && r.status == 412) {
        return -EEXIST; /* the key exists: the condition did not hold */
    }
    return ret;
}

int
cir_s3_put(cir_aws_t *a, const char *bucket, const char *key, const void *data,
           size_t len, const cir_s3_put_opts_t *opts)
{
    if (len > CIR_AWS_MULTIPART_THRESHOLD) {
        if (opts && opts->if_absent) {
            return CIR_EUNSUPPORTED; /* a conditional write is one PUT */
        }
        return cir_s3_put_multipart(a, bucket, key, data, len,
                                    CIR_AWS_PART_SIZE, opts);
    }
    return put_single(a, bucket, key, data, len, opts);
}

/* The text of the first <tag>...</tag> after *from. */
static int
xml_take(const char *xml, const char *tag, const char **from, char *dst,
         size_t size)
{
    char open[64], close[64];
    const char *s, *e;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    if ((s = strstr(from && *from ? *from : xml, open)) == NULL ||
        (e = strstr(s, close)) == NULL) {
        return 0;
    }
    s += strlen(open);
    /* decode the five XML entities */
    size_t o = 0;
    while (s < e && o + 1 < size) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'},
                    {"&lt;", '<'},
                    {"&gt;", '>'},
                    {"&quot;", '"'},
                    {"&apos;", '\''}};
        int done = 0;
        for (size_t i = 0; *s == '&' && i < 5; i++) {
            size_t n = strlen(ents[i].ent);
            if (strncmp(s, ents[i].ent, n) == 0) {
                dst[o++] = ents[i].c;
                s += n;
                done = 1;
                break;
            }
        }
        if (!done) {
            dst[o++] = *s++;
        }
    }
    dst[o] = '\0';
    if (from) {
        *from = e + strlen(close);
    }
    return 1;
}

typedef struct {
    cir_aws_t *a;
    const char *ep, *path, *upload_id;
    const char *data;
    size_t len, part_size;
    int nparts;
    pthread_mutex_t lock;
    int next;  /* next part to upload (0-based) */
    int error; /* first error */
    char (*etags)[128];
    const atomic_int *abort;
} mp_t;

static void *
mp_worker(void *opaque)
{
    mp_t *m = opaque;

    for (;;) {
        int i;
        pthread_mutex_lock(&m->lock);
        i = m->error == 0 && m->next < m->nparts ? m->next++ : -1;
        pthread_mutex_unlock(&m->lock);
        if (i < 0) {
            break;
        }
        char num[16];
        cir_s3_head_t head = {0};
        snprintf(num, sizeof(num), "%d", i + 1);
        cir_aws_kv_t q[2] = {{"partNumber", num}, {"uploadId", m->upload_id}};
        size_t off = (size_t)i * m->part_size;
        size_t n = m->len - off < m->part_size ? m->len - off : m->part_size;
        aws_req_t r = {.service = "s3",
                       .method = "PUT",
                       .endpoint = m->ep,
                       .path = m->path,
                       .query = q,
                       .nquery = 2,
                       .body = m->data + off,
                       .body_len = n,
                       .head = &head,
                       .abort = m->abort};
        int ret = aws_request(m->a, &r);
        pthread_mutex_lock(&m->lock);
        if (ret < 0 && m->error == 0) {
            m->error = ret;
        } else if (ret == 0) {
            snprintf(m->etags[i], 128, "%s", head.etag);
        }
        pthread_mutex_unlock(&m->lock);
    }
    return NULL;
}

/* CreateMultipartUpload: the upload's id into upload_id. */
static int
mp_create(cir_aws_t *a, const char *ep, const char *path, const cir_aws_kv_t *h,
          size_t nh, const atomic_int *abort, cir_buf_t *out, char *upload_id,
          size_t size)
{
    cir_aws_kv_t qi[1] = {{"uploads", ""}};
    aws_req_t r = {.service = "s3",
                   .method = "POST",
                   .endpoint = ep,
                   .path = path,
                   .query = qi,
                   .nquery = 1,
                   .headers = h,
                   .nheaders = nh,
                   .out = out,
                   .abort = abort};
    int ret;

    if ((ret = aws_request(a, &r)) < 0) {
        return ret;
    }
    if (!xml_take(out->data ? out->data : "", "UploadId", NULL, upload_id,
                  size)) {
        aws_set_error("CreateMultipartUpload: no UploadId");
        return CIR_EPARSE;
    }
    return 0;
}

/* UploadPart for every part, on up to UPLOAD_THREADS threads (on this one
 * when none starts); the first error, or 0 with every part's ETag. */
static int
mp_upload_parts(mp_t *m)
{
    pthread_t th[UPLOAD_THREADS];
    int nth = 0;

    pthread_mutex_init(&m->lock, NULL);
    for (int i = 0; i < UPLOAD_THREADS && i < m->nparts; i++) {
        if (pthread_create(&th[nth], NULL, mp_worker, m) == 0) {
            nth++;
        }
    }
    if (nth == 0) {
        mp_worker(m);
    }
    for (int i = 0; i < nth; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_mutex_destroy(&m->lock);
    return m->error;
}

/* CompleteMultipartUpload with the parts' ETags. */
static int
mp_complete(const mp_t *m, cir_buf_t *body, cir_buf_t *out)
{
    int ret = cir_buf_puts(body, "<CompleteMultipartUpload>");

    for (int i = 0; i < m->nparts && ret == 0; i++) {
        ret = cir_buf_printf(body,
                             "<Part><PartNumber>%d</PartNumber>"
                             "<ETag>%s</ETag></Part>",
                             i + 1, m->etags[i]);
    }
    if (ret == 0) {
        ret = cir_buf_puts(body, "</CompleteMultipartUpload>");
    }
    if (ret < 0) {
        return ret;
    }
    cir_aws_kv_t qc[1] = {{"uploadId", m->upload_id}};
    cir_aws_kv_t hc[1] = {{"content-type", "application/xml"}};
    aws_req_t rc = {.service = "s3",
                    .method = "POST",
                    .endpoint = m->ep,
                    .path = m->path,
                    .query = qc,
                    .nquery = 1,
                    .headers = hc,
                    .nheaders = 1,
                    .body = body->data,
                    .body_len = body->len,
                    .out = out,
                    .abort = m->abort};
    if ((ret = aws_request(m->a, &rc)) < 0) {
        return ret;
    }
    /* S3 may answer 200 with an error body on Complete */
    if (out->data != NULL && strstr(out->data, "<Error>") != NULL) {
        aws_set_error("CompleteMultipartUpload failed: %.200s", out->data);
        return CIR_ETRANSIENT;
    }
    return 0;
}

/* AbortMultipartUpload, best effort (a lifecycle rule cleans up); the
 * error that led here stays the last error. */
static void
mp_abort(cir_aws_t *a, const char *ep, const char *path, const char *upload_id)
{
    char saved[1024];
    snprintf(saved, sizeof(saved), "%s", cir_aws_last_error());
    cir_aws_kv_t qa[1] = {{"uploadId", upload_id}};
    aws_req_t ra = {.service = "s3",
                    .method = "DELETE",
                    .endpoint = ep,
                    .path = path,
                    .query = qa,
                    .nquery = 1};
    (void)aws_request(a, &ra);
    aws_set_error("%s", saved);
}

int
cir_s3_put_multipart(cir_aws_t *a, const char *bucket, const char *key,
                     const void *data, size_t len, size_t part_size,
                     const cir_s3_put_opts_t *opts)
{
    char ep[600], path[KEY_PATH_MAX], names[16][160], upload_id[1024];
    cir_aws_kv_t h[18];
    size_t nh;
    cir_buf_t out, body;
    int ret;
    mp_t m = {0};

    if (part_size < (5u << 20) && len > part_size) {
        part_size = 5u << 20; /* S3's minimum for all but the last part */
    }
    if (part_size == 0 || (len + part_size - 1) / part_size > MAX_PARTS) {
        return CIR_ELIMIT;
    }
    if ((ret = put_headers(opts, h, 18, names, &nh)) < 0) {
        return ret;
    }
    if (locate(a, bucket, key, ep, sizeof(ep), path, sizeof(path)) < 0) {
        return CIR_ELIMIT;
    }
    cir_buf_init(&out, 1 << 20);
    cir_buf_init(&body, 1 << 20);
    m.abort = opts ? opts->abort : NULL;
    if ((ret = mp_create(a, ep, path, h, nh, m.abort, &out, upload_id,
                         sizeof(upload_id))) < 0) {
        goto done;
    }
    m.a = a;
    m.ep = ep;
    m.path = path;
    m.upload_id = upload_id;
    m.data = data;
    m.len = len;
    m.part_size = part_size;
    m.nparts = len == 0 ? 1 : (int)((len + part_size - 1) / part_size);
    m.etags = calloc((size_t)m.nparts, sizeof(*m.etags));
    if (m.etags == NULL) {
        ret = CIR_ENOMEM;
    } else if ((ret = mp_upload_parts(&m)) == 0) {
        ret = mp_complete(&m, &body, &out);
    }
    if (ret < 0) {
        mp_abort(a, ep, path, upload_id);
    }

done:
    free(m.etags);
    cir_buf_free(&out);
    cir_buf_free(&body);
    return ret;
}

int
cir_s3_presign_url(cir_aws_t *a, const char *method, const char *bucket,
                   const char *key, int expires_s, cir_buf_t *url)
{
    char ep[1024], path[2048], date[17];
    const char *host;
    cir_aws_creds_t cr;
    int ret;

    if ((ret = locate(a, bucket, key, ep, sizeof(ep), path, sizeof(path))) <
            0 ||
        (ret = cir_aws_credentials(a, &cr)) < 0) {
        return ret;
    }
    host = strstr(ep, "://");
    host = host ? host + 3 : ep;
    cir_sigv4_amz_date(time(NULL), date);
    cir_sigv4_scope_t scope = {.access_key = cr.access_key,
                               .secret_key = cr.secret_key,
                               .region = cir_aws_region(a),
                               .service = "s3",
                               .amz_date = date};
    if ((ret = cir_buf_puts(url, ep)) == 0 &&
        (ret = cir_sigv4_uri_encode(url, path, strlen(path), 0)) == 0 &&
        (ret = cir_buf_puts(url, "?")) == 0) {
        ret = cir_sigv4_presign_query(method, host, path, &scope, cr.token,
                                      expires_s, url);
    }
    OPENSSL_cleanse(&cr, sizeof(cr));
    return ret;
}

int
cir_s3_delete(cir_aws_t *a, const char *bucket, const char *key)
{
    char ep[600], path[KEY_PATH_MAX];
    aws_req_t r = {.service = "s3", .method = "DELETE"};

    if (locate(a, bucket, key, ep, sizeof(ep), path, sizeof(path)) < 0) {
        return CIR_ELIMIT;
    }
    r.endpoint = ep;
    r.path = path;
    return aws_request(a, &r);
}

/* S3's tag character set (letters, digits, space, + - = . _ : / @), so
 * the XML body needs no escaping. */
static int
tag_text_is_valid(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n > max) {
        return 0;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr(" +-=._:/@", *s) != NULL)) {
            return 0;
        }
    }
    return 1;
}

int
cir_s3_put_tagging(cir_aws_t *a, const char *bucket, const char *key,
                   const cir_aws_kv_t *tags, size_t ntags)
{
    char ep[600], path[KEY_PATH_MAX], md5b64[32];
    unsigned char md5[EVP_MAX_MD_SIZE];
    unsigned int md5_len = 0;
    cir_buf_t body;
    int ret = 0;

    if (ntags > 10) {
        return CIR_EINVAL; /* S3 allows 10 tags per object */
    }
    if (locate(a, bucket, key, ep, sizeof(ep), path, sizeof(path)) < 0) {
        return CIR_ELIMIT;
    }
    cir_buf_init(&body, 8192);
    ret = cir_buf_puts(&body, "<Tagging><TagSet>");
    for (size_t i = 0; i < ntags && ret == 0; i++) {
        if (!tag_text_is_valid(tags[i].name, 128) || tags[i].name[0] == '\0' ||
            !tag_text_is_valid(tags[i].value, 256)) {
            ret = CIR_EINVAL;
            break;
        }
        ret = cir_buf_printf(&body, "<Tag><Key>%s</Key><Value>%s</Value></Tag>",
                             tags[i].name, tags[i].value);
    }
    if (ret == 0) {
        ret = cir_buf_puts(&body, "</TagSet></Tagging>");
    }
    /* PutObjectTagging requires an integrity header: Content-MD5 */
    if (ret == 0 &&
        EVP_Digest(body.data, body.len, md5, &md5_len, EVP_md5(), NULL) != 1) {
        ret = CIR_EINTERNAL;
    }
    if (ret == 0) {
        EVP_EncodeBlock((unsigned char *)md5b64, md5, (int)md5_len);
        cir_aws_kv_t q[1] = {{"tagging", ""}};
        cir_aws_kv_t h[2] = {{"content-md5", md5b64},
                             {"content-type", "application/xml"}};
        aws_req_t r = {.service = "s3",
                       .method = "PUT",
                       .endpoint = ep,
                       .path = path,
                       .query = q,
                       .nquery = 1,
                       .headers = h,
                       .nheaders = 2,
                       .body = body.data,
                       .body_len = body.len};
        ret = aws_request(a, &r);
    }
    cir_buf_free(&body);
    return ret;
}

int
cir_s3_list(cir_aws_t *a, const char *bucket, const char *prefix,
            int (*fn)(void *opaque, const char *key, int64_t size),
            void *opaque)
{
    return cir_s3_list_paged(a, bucket, prefix, 0, fn, opaque);
}

int
cir_s3_list_paged(cir_aws_t *a, const char *bucket, const char *prefix,
                  int max_keys,
                  int (*fn)(void *opaque, const char *key, int64_t size),
                  void *opaque)
{
    return cir_s3_list_after(a, bucket, prefix, NULL, max_keys, fn, opaque);
}

int
cir_s3_list_after(cir_aws_t *a, const char *bucket, const char *prefix,
                  const char *start_after, int max_keys,
                  int (*fn)(void *opaque, const char *key, int64_t size),
                  void *opaque)
{
    char ep[600], path[KEY_PATH_MAX], token[2048] = "", key[CIR_URI_MAX],
                                      num[32], trunc[16], mk[16];
    cir_buf_t out;
    int ret = 0;

    if (max_keys == 0) {
        /* CIRRUS_AWS_S3_LIST_MAX_KEYS (1..1000): smaller pages (tests) */
        const char *env = getenv("CIRRUS_AWS_S3_LIST_MAX_KEYS");
        max_keys = env ? atoi(env) : 0;
    }
    if (max_keys < 0 || max_keys > 1000) {
        return CIR_EINVAL;
    }
    snprintf(mk, sizeof(mk), "%d", max_keys);

    if (locate(a, bucket, "", ep, sizeof(ep), path, sizeof(path)) < 0) {
        return CIR_ELIMIT;
    }
    if (aws_endpoint(a, "s3")[0] != '\0') {
        snprintf(path, sizeof(path), "/%s", bucket);
    }
    cir_buf_init(&out, 16 << 20);
    for (int page = 0; page < 100000; page++) {
        cir_aws_kv_t q[5] = {{"list-type", "2"}, {"prefix", prefix}};
        size_t nq = 2;
        if (token[0] != '\0') {
            q[nq++] = (cir_aws_kv_t){"continuation-token", token};
        } else if (start_after != NULL && start_after[0] != '\0') {
            q[nq++] = (cir_aws_kv_t){"start-after", start_after};
        }
        if (max_keys > 0) {
            q[nq++] = (cir_aws_kv_t){"max-keys", mk};
        }
        aws_req_t r = {.service = "s3",
                       .method = "GET",
                       .endpoint = ep,
                       .path = path,
                       .query = q,
                       .nquery = nq,
                       .out = &out};
        if ((ret = aws_request(a, &r)) < 0) {
            break;
        }
        const char *at = out.data ? out.data : "";
        const char *c;
        while ((c = strstr(at, "<Contents>")) != NULL) {
            const char *end = strstr(c, "</Contents>");
            if (end == NULL) {
                break;
            }
            const char *p = c;
            key[0] = num[0] = '\0';
            xml_take(c, "Key", &p, key, sizeof(key));
            p = c;
            xml_take(c, "Size", &p, num, sizeof(num));
            if (fn(opaque, key, strtoll(num, NULL, 10)) != 0) {
                goto done;
            }
            at = end;
        }
        trunc[0] = '\0';
        xml_take(out.data ? out.data : "", "IsTruncated", NULL, trunc,
                 sizeof(trunc));
        if (strcmp(trunc, "true") != 0 ||
            !xml_take(out.data, "NextContinuationToken", NULL, token,
                      sizeof(token))) {
            break;
        }
    }
done:
    cir_buf_free(&out);
    return ret;
}

/* ---- the s3:// output store ---- */

typedef struct {
    cir_aws_t *aws;
    char bucket[64];
    char prefix[CIR_URI_MAX];
    const atomic_int *cancel; /* set: uploads in flight abort */
} s3_store_t;

static int
store_open(void **state, const cir_uri_t *root)
{
    s3_store_t *s;
    cir_aws_t *a = cir_aws_default();
    size_t n;

    if (a == NULL) {
        return CIR_EAUTH;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return CIR_ENOMEM;
    }
    s->aws = a;
    snprintf(s->bucket, sizeof(s->bucket), "%s", root->bucket);
    snprintf(s->prefix, sizeof(s->prefix), "%s", root->path);
    n = strlen(s->prefix);
    while (n > 0 && s->prefix[n - 1] == '/') {
        s->prefix[--n] = '\0';
    }
    *state = s;
    return 0;
}

static void
store_key(s3_store_t *s, const char *rel, char *key, size_t size)
{
    snprintf(key, size, "%s%s%s", s->prefix, s->prefix[0] ? "/" : "", rel);
}

static int
store_put(void *state, const char *rel, const void *data, size_t len,
          const char *content_type, const char *cache_control)
{
    s3_store_t *s = state;
    char key[CIR_URI_MAX + 256];
    cir_s3_put_opts_t o = {.content_type = content_type,
                           .cache_control = cache_control,
                           .abort = s->cancel};
    int ret;

    store_key(s, rel, key, sizeof(key));
    ret = cir_s3_put(s->aws, s->bucket, key, data, len, &o);
    if (ret < 0 && ret != CIR_ECANCELED) {
        char shown[256];
        cir_aws_ellipsize(shown, sizeof(shown), key);
        cir_log_error(&(cir_log_ctx_t){.component = "s3"},
                      "put s3://%s/%s failed (%s): %s", s->bucket, shown,
                      cir_errname(ret), cir_aws_last_error());
    }
    return ret;
}

static int
store_put_new(void *state, const char *rel, const void *data, size_t len,
              const char *content_type)
{
    s3_store_t *s = state;
    char key[CIR_URI_MAX + 256];
    cir_s3_put_opts_t o = {
        .content_type = content_type, .abort = s->cancel, .if_absent = 1};

    store_key(s, rel, key, sizeof(key));
    return cir_s3_put(s->aws, s->bucket, key, data, len, &o);
}

static int
store_exists(void *state, const char *rel)
{
    s3_store_t *s = state;
    char key[CIR_URI_MAX + 256];
    cir_s3_head_t h;
    int ret;

    store_key(s, rel, key, sizeof(key));
    ret = cir_s3_head(s->aws, s->bucket, key, &h, s->cancel);
    return ret == 0 ? 1 : ret == CIR_ENOTFOUND ? 0 : ret;
}

static int
store_get(void *state, const char *rel, size_t max, char **data, size_t *len)
{
    s3_store_t *s = state;
    char key[CIR_URI_MAX + 256];
    cir_buf_t out;
    int ret;

    store_key(s, rel, key, sizeof(key));
    cir_buf_init(&out, max);
    ret = cir_s3_get(s->aws, s->bucket, key, max, &out);
    if (ret == 0 && out.data == NULL) {
        ret = cir_buf_append(&out, "", 0); /* an empty object */
    }
    if (ret < 0) {
        cir_buf_free(&out);
        return ret;
    }
    *data = cir_buf_detach(&out, len);
    return 0;
}

static int
store_remove(void *state, const char *rel)
{
    s3_store_t *s = state;
    char key[CIR_URI_MAX + 256];

    store_key(s, rel, key, sizeof(key));
    return cir_s3_delete(s->aws, s->bucket, key);
}

typedef struct {
    const char *asked; /* <prefix>/<rel_dir>/ */
    size_t skip;       /* the store's prefix and its '/' */
    int (*fn)(void *opaque, const char *rel, int is_folder);
    void *opaque;
} store_list_t;

static int
store_list_key(void *opaque, const char *key, int64_t size)
{
    store_list_t *l = opaque;

    (void)size;
    /* S3 answers keys under the prefix asked for: one that is not, or
     * that is no safe relative path, is never handed on to be removed */
    if (strncmp(key, l->asked, strlen(l->asked)) != 0 ||
        !cir_path_is_safe_relative(key + l->skip)) {
        return 0;
    }
    return l->fn(l->opaque, key + l->skip, 0);
}

/* The keys under <prefix>/<rel_dir>/ after <prefix>/<after_rel> ("":
 * all of them), in S3's order, page by page (CIRRUS_AWS_S3_LIST_MAX_KEYS
 * keys a page).  S3 has no folders. */
static int
store_list_after(void *state, const char *rel_dir, const char *after_rel,
                 int (*fn)(void *opaque, const char *rel, int is_folder),
                 void *opaque)
{
    s3_store_t *s = state;
    char prefix[CIR_URI_MAX + 256], after[CIR_URI_MAX + 256] = "";
    store_list_t l = {.skip = s->prefix[0] ? strlen(s->prefix) + 1 : 0,
                      .asked = prefix,
                      .fn = fn,
                      .opaque = opaque};

    store_key(s, rel_dir, prefix, sizeof(prefix) - 1);
    strcat(prefix, "/");
    if (after_rel[0] != '\0') {
        store_key(s, after_rel, after, sizeof(after));
    }
    return cir_s3_list_after(s->aws, s->bucket, prefix, after, 0,
                             store_list_key, &l);
}

/* Every key under <prefix>/<rel_dir>/. */
static int
store_list(void *state, const char *rel_dir,
           int (*fn)(void *opaque, const char *rel, int is_folder),
           void *opaque)
{
    return store_list_after(state, rel_dir, "", fn, opaque);
}

static void
store_set_cancel(void *state, const atomic_int *cancel)
{
    ((s3_store_t *)state)->cancel = cancel;
}

static void
store_close(void *state)
{
    free(state);
}

static const cir_store_backend_t s3_backend = {
    .scheme = CIR_URI_S3,
    .open = store_open,
    .put = store_put,
    .exists = store_exists,
    .remove = store_remove,
    .get = store_get,
    .set_cancel = store_set_cancel,
    .close = store_close,
    .list = store_list,
    .put_new = store_put_new,
    .list_after = store_list_after,
};

int
cir_aws_register_s3_backend(void)
{
    return cir_store_register_backend(&s3_backend);
}
