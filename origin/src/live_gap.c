/*
 * What part 0 of a GAP segment answers: a CMAF chunk without a sample.
 *
 * At a segment boundary the playlist hints the next segment's first part
 * (EXT-X-PRELOAD-HINT), and a player asks for it at once.  When the
 * publisher goes away right then and that number becomes one of the
 * outage's GAP segments (cir_live_writer_fill_outage), the hinted request
 * still gets an answer that holds no media, rather than a 404 (after which
 * Shaka Player gives up the rendition for 30 s): a moof whose one track
 * run has no sample, at the gap's decode time, and an empty mdat.
 */
#include <string.h>

#include "cir_error.h"
#include "cir_live.h"

static void
be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t *
box(uint8_t *p, uint32_t size, const char *type)
{
    be32(p, size);
    memcpy(p + 4, type, 4);
    return p + 8;
}

int
cir_live_gap_chunk(cir_buf_t *out, const cir_live_segment_t *gap)
{
    uint8_t b[CIR_LIVE_GAP_CHUNK_SIZE], *p = b;
    uint32_t sequence, track_id = 1; /* the live store's one track */
    int64_t decode_time;

    if (out == NULL || gap == NULL || !gap->gap || gap->start < 0) {
        return CIR_EINVAL;
    }
    sequence = (uint32_t)gap->msn;
    decode_time = gap->start;
    memset(b, 0, sizeof(b));
    p = box(p, 84, "moof");
    p = box(p, 16, "mfhd");
    be32(p + 4, sequence);
    p += 8;
    p = box(p, 60, "traf");
    p = box(p, 16, "tfhd");
    be32(p, 0x020000); /* version 0, default-base-is-moof */
    be32(p + 4, track_id);
    p += 8;
    p = box(p, 20, "tfdt");
    be32(p, 0x01000000); /* version 1: a 64-bit decode time */
    be32(p + 4, (uint32_t)((uint64_t)decode_time >> 32));
    be32(p + 8, (uint32_t)decode_time);
    p += 12;
    p = box(p, 16, "trun");
    p += 8; /* version 0, no flags, sample_count 0 */
    box(p, 8, "mdat");
    return cir_buf_append(out, b, sizeof(b));
}
