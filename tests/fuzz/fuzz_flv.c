/* Fuzzes the FLV video/audio tag parsers and the AAC config parser. */
#include <stddef.h>
#include <stdint.h>

#include "cir_rtmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cir_flv_tag_t t;
    int rate, ch;

    if (cir_flv_parse_video(data, size, &t) == 0 && t.size > 0) {
        volatile uint8_t x = t.data[t.size - 1];
        (void)x;
    }
    if (cir_flv_parse_audio(data, size, &t) == 0 && t.size > 0) {
        volatile uint8_t x = t.data[t.size - 1];
        (void)x;
        (void)cir_aac_parse_asc(t.data, t.size, &rate, &ch);
    }
    return 0;
}
