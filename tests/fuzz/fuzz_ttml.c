/*
 * libFuzzer target for the TTML parser (transcoder/src/ttml.c): any bytes
 * give cues or an error, never a crash, leak or overflow; every cue has a
 * begin, an end after it (or none) and a bounded text.
 *
 * Seeds: tests/fuzz/seeds/ttml.  Built by tests/fuzz/ttml.cmake.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ttml.h"

#define CUE_BYTES 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
check_cue(void *opaque, int64_t start_ms, int64_t end_ms, const char *text)
{
    (void)opaque;
    if (start_ms < 0 || (end_ms != CIR_TTML_OPEN_END && end_ms <= start_ms) ||
        strlen(text) > CUE_BYTES || text[0] == '\0') {
        abort();
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cir_ttml_info_t info;
    char why[256];

    cir_ttml_parse((const char *)data, size, NULL, CUE_BYTES, check_cue, NULL,
                   &info, why, sizeof(why));
    return 0;
}
