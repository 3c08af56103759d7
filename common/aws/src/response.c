/* What an AWS answer brings back: the body and header sinks curl writes
 * into, and an error answer's code, message and class. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "aws_internal.h"
#include "cir_error.h"

size_t
aws_on_body(char *p, size_t size, size_t n, void *opaque)
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

size_t
aws_on_header(char *p, size_t size, size_t n, void *opaque)
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

/* Resets what r captured before an attempt: status, body sinks, headers. */
void
aws_response_reset(aws_req_t *r)
{
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
}

/* An HTTP error answer: its code becomes the last error code, a message
 * the last error; returns its class (cir_aws_classify), *retry set when it
 * is worth another attempt. */
int
aws_response_error(aws_req_t *r, long status, int *retry)
{
    char code[128], msg[256], where[160];
    int ret;

    error_code(&r->errbody, code, sizeof(code), msg, sizeof(msg));
    if (code[0] == '\0' && status == 404) {
        aws_copy_str(code, sizeof(code), "NotFound");
    }
    aws_set_error_code(code);
    /* the code first, a long path or message cut in the middle: the
     * code is what tells an operator what happened */
    cir_aws_ellipsize(where, sizeof(where), r->path);
    aws_set_error("HTTP %ld %s%s%s (%s %s on %s)", status,
                  code[0] ? code : "(no error code)", msg[0] ? ": " : "", msg,
                  r->method, where, r->service);
    ret = cir_aws_classify(status, code);
    *retry = ret == CIR_ETRANSIENT;
    return ret;
}
