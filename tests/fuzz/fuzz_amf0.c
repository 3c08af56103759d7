/* Fuzzes the AMF0 decoder: every value in the input, then re-encoding the
 * strings and numbers it found. */
#include <stddef.h>
#include <stdint.h>

#include "cir_error.h"
#include "cir_rtmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const cir_amf_t *v, cir_buf_t *b)
{
    if (v->type == CIR_AMF_STRING && v->len < 0xffff) {
        cir_amf0_put_string(b, v->str);
    } else if (v->type == CIR_AMF_NUMBER) {
        cir_amf0_put_number(b, v->number);
    }
    for (size_t i = 0; i < v->count; i++) {
        if (v->keys != NULL) {
            (void)cir_amf_get(v, v->keys[i]);
        }
        walk(&v->items[i], b);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const cir_amf_limits_t lim = {
        .max_depth = 8, .max_nodes = 1024, .max_string = 8192};
    size_t pos = 0, used;
    cir_buf_t b;

    cir_buf_init(&b, 1 << 16);
    while (pos < size) {
        cir_amf_t v;
        if (cir_amf0_decode(data + pos, size - pos, &lim, &v, &used) < 0) {
            break;
        }
        walk(&v, &b);
        cir_amf_clear(&v);
        pos += used;
    }
    cir_buf_free(&b);
    return 0;
}
