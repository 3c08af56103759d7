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
 *
 * The same boxes with samples carry an outage's silent audio, which fills
 * an audio rendition's share of an outage instead of GAP segments
 * (cir_live_media_chunk; see transcoder/src/live_store.c).
 *
 * Tested by tests/unit/test_origin_live_gap.c.
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

/*
 * An outage's silent audio (cir_live_writer_take_outage): a CMAF chunk of
 * n samples stored one after another in data, each a sync sample, at
 * decode_time.  The tfhd carries the flags (sample_depends_on 2: decodable
 * alone), the trun each duration and size.
 */
int
cir_live_media_chunk(cir_buf_t *out, uint32_t sequence, int64_t decode_time,
                     const uint32_t *durations, const uint32_t *sizes,
                     uint32_t n, const uint8_t *data, size_t data_len)
{
    uint8_t head[92], *p = head;
    uint32_t moof_size, trun_size, track_id = 1;
    int ret;

    if (out == NULL || durations == NULL || sizes == NULL || data == NULL ||
        n == 0 || n > 4096 || decode_time < 0 || data_len > UINT32_MAX - 8) {
        return CIR_EINVAL;
    }
    trun_size = 20 + 8 * n;
    moof_size = 8 + 16 + 8 + 20 + 20 + trun_size;
    memset(head, 0, sizeof(head));
    p = box(p, moof_size, "moof");
    p = box(p, 16, "mfhd");
    be32(p + 4, sequence);
    p += 8;
    p = box(p, moof_size - 24, "traf");
    p = box(p, 20, "tfhd");
    be32(p, 0x020000 | 0x20); /* default-base-is-moof, default flags */
    be32(p + 4, track_id);
    be32(p + 8, 0x02000000);
    p += 12;
    p = box(p, 20, "tfdt");
    be32(p, 0x01000000);
    be32(p + 4, (uint32_t)((uint64_t)decode_time >> 32));
    be32(p + 8, (uint32_t)decode_time);
    p += 12;
    p = box(p, trun_size, "trun");
    be32(p, 0x000301); /* data offset, sample durations and sizes */
    be32(p + 4, n);
    be32(p + 8, moof_size + 8); /* the mdat's payload, from the moof */
    p += 12;
    if ((ret = cir_buf_append(out, head, (size_t)(p - head))) < 0) {
        return ret;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t b[8];
        be32(b, durations[i]);
        be32(b + 4, sizes[i]);
        if ((ret = cir_buf_append(out, b, 8)) < 0) {
            return ret;
        }
    }
    be32(head, (uint32_t)data_len + 8);
    memcpy(head + 4, "mdat", 4);
    if ((ret = cir_buf_append(out, head, 8)) < 0) {
        return ret;
    }
    return cir_buf_append(out, data, data_len);
}
