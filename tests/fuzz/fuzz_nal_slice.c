/*
 * libFuzzer target for the slice header parser (transcoder/src/nal_slice.c):
 * any parameter sets and slices give a length within the NAL unit or an
 * error, never a crash, leak or read past the unit.
 *
 * Input: one byte of flags (bit 0: H.265; bit 1: the first unit is the
 * decoder configuration record, else an empty one), then units, each a
 * 16-bit big-endian length and its bytes: parameter sets are added, slices
 * measured.  Each unit is copied to a buffer of exactly its size so the
 * sanitizer sees any overread.  Seeds: tests/fuzz/seeds/nal_slice.  Built
 * by tests/fuzz/nal_slice.cmake.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "nal_slice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* records with no parameter set */
static const uint8_t EMPTY_AVCC[] = {1, 0x64, 0, 0x1f, 0xff, 0xe0, 0};
static const uint8_t EMPTY_HVCC[23] = {1};

static int
allowed(int ret)
{
    return ret == 0 || ret == CIR_EMEDIA || ret == CIR_EUNSUPPORTED;
}

/* the next unit, copied; NULL at the end */
static uint8_t *
next_unit(const uint8_t *data, size_t size, size_t *at, size_t *n)
{
    uint8_t *copy;

    if (size - *at < 2) {
        return NULL;
    }
    *n = (size_t)data[*at] << 8 | data[*at + 1];
    *at += 2;
    if (*n > size - *at) {
        *n = size - *at;
    }
    copy = malloc(*n ? *n : 1);
    if (copy == NULL) {
        abort();
    }
    memcpy(copy, data + *at, *n);
    *at += *n;
    return copy;
}

static void
measure(cir_nal_slice_t *p, const uint8_t *unit, size_t n)
{
    size_t header = 0;
    int ret;

    if (!cir_nal_slice_is_slice(p, unit, n)) {
        ret = cir_nal_slice_add_param_set(p, unit, n);
    } else if ((ret = cir_nal_slice_header_size(p, unit, n, &header)) == 0 &&
               (header > n || header < 1)) {
        abort();
    }
    if (!allowed(ret)) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cir_nal_slice_t *p = NULL;
    size_t at = 1, n;
    uint8_t *unit;
    int is_hevc, ret;

    if (size < 1) {
        return 0;
    }
    is_hevc = data[0] & 1;
    if (data[0] & 2) {
        if ((unit = next_unit(data, size, &at, &n)) == NULL) {
            return 0;
        }
        ret = cir_nal_slice_open(&p, is_hevc, unit, n);
        free(unit);
    } else {
        ret = is_hevc
                  ? cir_nal_slice_open(&p, 1, EMPTY_HVCC, sizeof(EMPTY_HVCC))
                  : cir_nal_slice_open(&p, 0, EMPTY_AVCC, sizeof(EMPTY_AVCC));
    }
    if (!allowed(ret)) {
        abort();
    }
    while (p != NULL && (unit = next_unit(data, size, &at, &n)) != NULL) {
        measure(p, unit, n);
        free(unit);
    }
    cir_nal_slice_free(&p);
    return 0;
}
