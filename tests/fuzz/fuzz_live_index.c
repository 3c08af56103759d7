/* Fuzzes the live index decoder (what the origin reads from a store that a
 * crashed or hostile writer may have left), then the renderers and
 * decisions over whatever decodes. */
#include <stddef.h>
#include <stdint.h>

#include "cir_error.h"
#include "cir_live.h"
#include "cir_origin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cir_live_index_t idx = {0};
    cir_hls_directives_t d = {
        .has_msn = 1, .msn = 3, .has_part = 1, .part = 1, .skip = CIR_SKIP_YES};
    cir_buf_t out;
    uint64_t msn;
    int part;

    if (cir_live_index_decode(data, size, &idx) < 0) {
        return 0;
    }
    /* a decoded index must round-trip and render without faults */
    cir_buf_init(&out, 1 << 20);
    (void)cir_live_index_encode(&idx, &out);
    cir_buf_reset(&out);
    (void)cir_hls_render_live_media(&idx, &d, NULL, 0, &out);
    (void)cir_hls_decide_playlist(&idx, &d);
    (void)cir_live_index_last(&idx, &msn, &part);
    /* part byte ranges: every record of every segment, and one past */
    for (size_t i = 0; i < idx.nb_segments; i++) {
        const cir_live_segment_t *s = &idx.segments[i];
        uint64_t off;
        uint32_t len;
        for (uint32_t p = 0; p <= cir_live_nb_records(s); p++) {
            (void)cir_live_index_part_range(&idx, s->msn, p, &off, &len);
        }
    }
    cir_buf_free(&out);
    cir_live_index_free(&idx);
    return 0;
}
