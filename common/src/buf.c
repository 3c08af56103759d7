/*
 * A growable byte buffer with a hard size limit (cir_buf.h): appends and
 * printf that fail with CIR_ELIMIT past the limit instead of growing on.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_buf.h"
#include "cir_error.h"

void
cir_buf_init(cir_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int
reserve(cir_buf_t *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra) {
        return CIR_ELIMIT;
    }
    need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap - 1 > b->max) { /* max may be SIZE_MAX: no "max + 1" */
        cap = need;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        return CIR_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int
cir_buf_append(cir_buf_t *b, const void *p, size_t n)
{
    int ret;

    if ((ret = reserve(b, n)) < 0) {
        return ret;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
cir_buf_puts(cir_buf_t *b, const char *s)
{
    return cir_buf_append(b, s, strlen(s));
}

int
cir_buf_printf(cir_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n, ret;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return CIR_EINVAL;
    }
    if ((ret = reserve(b, (size_t)n)) < 0) {
        return ret;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void
cir_buf_reset(cir_buf_t *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

void
cir_buf_free(cir_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *
cir_buf_detach(cir_buf_t *b, size_t *len)
{
    char *p = b->data;

    if (len) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
