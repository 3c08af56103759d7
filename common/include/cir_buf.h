/*
 * A growable byte buffer with a hard maximum, after curl's dynbuf.
 *
 * The data is always NUL-terminated (the terminator is not counted in len),
 * so a buffer that holds text can be used as a C string.  Appending past the
 * maximum fails with CIR_ELIMIT and leaves the buffer as it was.
 */
#ifndef CIR_BUF_H
#define CIR_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} cir_buf_t;

void cir_buf_init(cir_buf_t *b, size_t max);
int cir_buf_append(cir_buf_t *b, const void *p, size_t n);
int cir_buf_puts(cir_buf_t *b, const char *s);
int cir_buf_printf(cir_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cir_buf_reset(cir_buf_t *b);
/* Frees the data; the buffer can be used again after cir_buf_init(). */
void cir_buf_free(cir_buf_t *b);
/* Hands the data to the caller (free() it) and empties the buffer. */
char *cir_buf_detach(cir_buf_t *b, size_t *len);

#endif
