/*
 * AMF0: a bounded decoder into a small tree, and an encoder for the replies
 * a server sends.
 *
 * Tested by tests/unit/test_ingest_amf_flv.c and fuzzed (tests/fuzz).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_rtmp.h"

typedef struct {
    const uint8_t *p;
    size_t n, pos;
    const cir_amf_limits_t *lim;
    size_t nodes;
} dec_t;

static int decode_value(dec_t *d, cir_amf_t *v, unsigned depth);

static int
need(dec_t *d, size_t k)
{
    return d->n - d->pos >= k ? 0 : CIR_EAGAIN;
}

static double
get_double(const uint8_t *p)
{
    uint64_t u = 0;
    double v;

    for (int i = 0; i < 8; i++) {
        u = u << 8 | p[i];
    }
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* A string body of len bytes after its length field. */
static int
read_chars(dec_t *d, size_t len, char **out)
{
    char *s;

    if (len > d->lim->max_string) {
        return CIR_ELIMIT;
    }
    if (d->n - d->pos < len) {
        return CIR_EAGAIN;
    }
    s = malloc(len + 1);
    if (s == NULL) {
        return CIR_ENOMEM;
    }
    memcpy(s, d->p + d->pos, len);
    s[len] = '\0';
    d->pos += len;
    *out = s;
    return 0;
}

static int
read_short_string(dec_t *d, char **out, size_t *len)
{
    int ret;

    if ((ret = need(d, 2)) < 0) {
        return ret;
    }
    *len = (size_t)d->p[d->pos] << 8 | d->p[d->pos + 1];
    d->pos += 2;
    return read_chars(d, *len, out);
}

/* Appends one slot to an object/array value. */
static int
grow(cir_amf_t *v, int keyed)
{
    cir_amf_t *items;
    char **keys;

    items = realloc(v->items, (v->count + 1) * sizeof(*items));
    if (items == NULL) {
        return CIR_ENOMEM;
    }
    v->items = items;
    memset(&items[v->count], 0, sizeof(*items));
    if (keyed) {
        keys = realloc(v->keys, (v->count + 1) * sizeof(*keys));
        if (keys == NULL) {
            return CIR_ENOMEM;
        }
        v->keys = keys;
        keys[v->count] = NULL;
    }
    v->count++;
    return 0;
}

/* Properties until the 00 00 09 end marker. */
static int
decode_props(dec_t *d, cir_amf_t *v, unsigned depth)
{
    int ret;

    for (;;) {
        char *key = NULL;
        size_t klen;

        if ((ret = need(d, 3)) < 0) {
            return ret;
        }
        if (d->p[d->pos] == 0 && d->p[d->pos + 1] == 0 &&
            d->p[d->pos + 2] == CIR_AMF_OBJECT_END) {
            d->pos += 3;
            return 0;
        }
        if ((ret = read_short_string(d, &key, &klen)) < 0) {
            return ret;
        }
        if ((ret = grow(v, 1)) < 0) {
            free(key);
            return ret;
        }
        v->keys[v->count - 1] = key;
        if ((ret = decode_value(d, &v->items[v->count - 1], depth + 1)) < 0) {
            return ret;
        }
        if (v->items[v->count - 1].type == CIR_AMF_OBJECT_END) {
            return CIR_EPARSE; /* an end marker where a value should be */
        }
    }
}

static int
decode_value(dec_t *d, cir_amf_t *v, unsigned depth)
{
    uint8_t type;
    uint32_t len;
    int ret;

    memset(v, 0, sizeof(*v));
    if (depth > d->lim->max_depth || ++d->nodes > d->lim->max_nodes) {
        return CIR_ELIMIT;
    }
    if ((ret = need(d, 1)) < 0) {
        return ret;
    }
    type = d->p[d->pos++];
    v->type = (cir_amf_type_t)type;
    switch (type) {
    case CIR_AMF_NUMBER:
        if ((ret = need(d, 8)) < 0) {
            return ret;
        }
        v->number = get_double(d->p + d->pos);
        d->pos += 8;
        return 0;
    case CIR_AMF_BOOLEAN:
        if ((ret = need(d, 1)) < 0) {
            return ret;
        }
        v->boolean = d->p[d->pos++] != 0;
        return 0;
    case CIR_AMF_STRING:
        return read_short_string(d, &v->str, &v->len);
    case CIR_AMF_LONG_STRING:
        if ((ret = need(d, 4)) < 0) {
            return ret;
        }
        len = (uint32_t)d->p[d->pos] << 24 | (uint32_t)d->p[d->pos + 1] << 16 |
              (uint32_t)d->p[d->pos + 2] << 8 | d->p[d->pos + 3];
        d->pos += 4;
        v->type = CIR_AMF_STRING;
        v->len = len;
        return read_chars(d, len, &v->str);
    case CIR_AMF_OBJECT:
        return decode_props(d, v, depth);
    case CIR_AMF_ECMA_ARRAY:
        /* the count is a hint only: read properties up to the end marker */
        if ((ret = need(d, 4)) < 0) {
            return ret;
        }
        d->pos += 4;
        return decode_props(d, v, depth);
    case CIR_AMF_STRICT_ARRAY:
        if ((ret = need(d, 4)) < 0) {
            return ret;
        }
        len = (uint32_t)d->p[d->pos] << 24 | (uint32_t)d->p[d->pos + 1] << 16 |
              (uint32_t)d->p[d->pos + 2] << 8 | d->p[d->pos + 3];
        d->pos += 4;
        /* each element takes at least one byte */
        if (len > d->lim->max_nodes) {
            return CIR_ELIMIT;
        }
        for (uint32_t i = 0; i < len; i++) {
            if ((ret = grow(v, 0)) < 0) {
                return ret;
            }
            ret = decode_value(d, &v->items[v->count - 1], depth + 1);
            if (ret < 0) {
                return ret;
            }
            if (v->items[v->count - 1].type == CIR_AMF_OBJECT_END) {
                return CIR_EPARSE;
            }
        }
        return 0;
    case CIR_AMF_NULL:
    case CIR_AMF_UNDEFINED:
    case CIR_AMF_OBJECT_END:
        return 0;
    case CIR_AMF_DATE:
        if ((ret = need(d, 10)) < 0) {
            return ret;
        }
        v->number = get_double(d->p + d->pos);
        d->pos += 10; /* the 2-byte time zone is ignored */
        return 0;
    default:
        v->type = CIR_AMF_UNDEFINED;
        return CIR_EPARSE;
    }
}

int
cir_amf0_decode(const uint8_t *p, size_t n, const cir_amf_limits_t *lim,
                cir_amf_t *out, size_t *used)
{
    dec_t d = {.p = p, .n = n, .lim = lim};
    int ret;

    ret = decode_value(&d, out, 0);
    if (ret == 0 && out->type == CIR_AMF_OBJECT_END) {
        ret = CIR_EPARSE; /* an object end outside an object */
    }
    if (ret < 0) {
        cir_amf_clear(out);
        *used = 0;
        return ret;
    }
    *used = d.pos;
    return 0;
}

void
cir_amf_clear(cir_amf_t *v)
{
    for (size_t i = 0; i < v->count; i++) {
        if (v->keys != NULL) {
            free(v->keys[i]);
        }
        cir_amf_clear(&v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->str);
    memset(v, 0, sizeof(*v));
}

const cir_amf_t *
cir_amf_get(const cir_amf_t *obj, const char *key)
{
    if (obj == NULL || obj->keys == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < obj->count; i++) {
        if (obj->keys[i] != NULL && strcmp(obj->keys[i], key) == 0) {
            return &obj->items[i];
        }
    }
    return NULL;
}

double
cir_amf_get_number(const cir_amf_t *obj, const char *key, double def)
{
    const cir_amf_t *v = cir_amf_get(obj, key);

    return v != NULL && v->type == CIR_AMF_NUMBER && isfinite(v->number)
               ? v->number
               : def;
}

const char *
cir_amf_get_string(const cir_amf_t *obj, const char *key)
{
    const cir_amf_t *v = cir_amf_get(obj, key);

    return v != NULL && v->type == CIR_AMF_STRING ? v->str : NULL;
}

/* ---- encoder ------------------------------------------------------------ */

int
cir_amf0_put_number(cir_buf_t *b, double v)
{
    uint8_t o[9];
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    o[0] = CIR_AMF_NUMBER;
    for (int i = 0; i < 8; i++) {
        o[1 + i] = (uint8_t)(u >> (56 - 8 * i));
    }
    return cir_buf_append(b, o, sizeof(o));
}

int
cir_amf0_put_bool(cir_buf_t *b, int v)
{
    uint8_t o[2] = {CIR_AMF_BOOLEAN, v ? 1 : 0};

    return cir_buf_append(b, o, sizeof(o));
}

int
cir_amf0_put_key(cir_buf_t *b, const char *key)
{
    size_t n = strlen(key);
    uint8_t o[2];
    int ret;

    if (n > 0xffff) {
        return CIR_EINVAL;
    }
    o[0] = (uint8_t)(n >> 8);
    o[1] = (uint8_t)n;
    if ((ret = cir_buf_append(b, o, 2)) < 0) {
        return ret;
    }
    return cir_buf_append(b, key, n);
}

int
cir_amf0_put_string(cir_buf_t *b, const char *s)
{
    uint8_t t = CIR_AMF_STRING;
    int ret;

    if ((ret = cir_buf_append(b, &t, 1)) < 0) {
        return ret;
    }
    return cir_amf0_put_key(b, s);
}

int
cir_amf0_put_null(cir_buf_t *b)
{
    uint8_t t = CIR_AMF_NULL;

    return cir_buf_append(b, &t, 1);
}

int
cir_amf0_put_object_begin(cir_buf_t *b)
{
    uint8_t t = CIR_AMF_OBJECT;

    return cir_buf_append(b, &t, 1);
}

int
cir_amf0_put_object_end(cir_buf_t *b)
{
    uint8_t o[3] = {0, 0, CIR_AMF_OBJECT_END};

    return cir_buf_append(b, o, 3);
}
