/*
 * FLV video and audio tag bodies as RTMP carries them: legacy AVC (7) and
 * HEVC (12), Enhanced RTMP ex-headers with a FourCC, and AAC.
 */
#include <string.h>

#include "cir_error.h"
#include "cir_rtmp.h"

static int32_t
get_si24(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

    return (int32_t)(u ^ 0x800000u) - 0x800000;
}

static cir_flv_codec_t
codec_of_fourcc(const uint8_t *f)
{
    if (memcmp(f, "hvc1", 4) == 0) {
        return CIR_FLV_CODEC_HEVC;
    }
    if (memcmp(f, "av01", 4) == 0) {
        return CIR_FLV_CODEC_AV1;
    }
    if (memcmp(f, "vp09", 4) == 0) {
        return CIR_FLV_CODEC_VP9;
    }
    if (memcmp(f, "avc1", 4) == 0) {
        return CIR_FLV_CODEC_AVC;
    }
    return CIR_FLV_CODEC_OTHER;
}

int
cir_flv_parse_video(const uint8_t *p, size_t n, cir_flv_tag_t *t)
{
    uint8_t b0, frame_type;

    memset(t, 0, sizeof(*t));
    if (n < 1) {
        return CIR_EAGAIN;
    }
    b0 = p[0];
    frame_type = (b0 >> 4) & 0x07;
    if (b0 & 0x80) {
        /* E-RTMP: [IsExHeader:1][FrameType:3][PacketType:4][FourCC:4] */
        uint8_t pt = b0 & 0x0f;
        size_t hl = 5;

        t->ex_header = 1;
        if (n < 5) {
            return CIR_EAGAIN;
        }
        t->codec = codec_of_fourcc(p + 1);
        t->keyframe = frame_type == 1;
        if (frame_type == 5) {
            t->packet = CIR_FLV_SKIP; /* a command frame */
            return 0;
        }
        switch (pt) {
        case 0:
            t->packet = CIR_FLV_SEQUENCE_START;
            break;
        case 1:
            t->packet = CIR_FLV_CODED_FRAMES;
            /* only HEVC carries a CTS in CodedFrames */
            if (t->codec == CIR_FLV_CODEC_HEVC) {
                if (n < 8) {
                    return CIR_EAGAIN;
                }
                t->cts = get_si24(p + 5);
                hl = 8;
            }
            break;
        case 2:
            t->packet = CIR_FLV_SEQUENCE_END;
            break;
        case 3:
            t->packet = CIR_FLV_CODED_FRAMES; /* CodedFramesX: CTS 0 */
            break;
        case 4:
            t->packet = CIR_FLV_METADATA;
            break;
        case 5: /* MPEG2TSSequenceStart: an AV1 config in TS form */
        case 6: /* multitrack */
        default:
            t->packet = CIR_FLV_SKIP;
            break;
        }
        t->data = p + hl;
        t->size = n - hl;
        return 0;
    }
    t->keyframe = frame_type == 1;
    switch (b0 & 0x0f) {
    case 7:
        t->codec = CIR_FLV_CODEC_AVC;
        break;
    case 12:
        t->codec = CIR_FLV_CODEC_HEVC; /* the legacy, pre-E-RTMP way */
        break;
    default:
        t->codec = CIR_FLV_CODEC_OTHER;
        t->packet = CIR_FLV_SKIP;
        t->data = p + 1;
        t->size = n - 1;
        return 0;
    }
    if (frame_type == 5) {
        t->packet = CIR_FLV_SKIP;
        return 0;
    }
    if (n < 5) {
        return CIR_EAGAIN;
    }
    switch (p[1]) {
    case 0:
        t->packet = CIR_FLV_SEQUENCE_START;
        break;
    case 1:
        t->packet = CIR_FLV_CODED_FRAMES;
        break;
    case 2:
        t->packet = CIR_FLV_SEQUENCE_END;
        break;
    default:
        return CIR_EPARSE;
    }
    t->cts = get_si24(p + 2);
    t->data = p + 5;
    t->size = n - 5;
    return 0;
}

int
cir_flv_parse_audio(const uint8_t *p, size_t n, cir_flv_tag_t *t)
{
    memset(t, 0, sizeof(*t));
    if (n < 1) {
        return CIR_EAGAIN;
    }
    if ((p[0] >> 4) != 10) {
        t->codec = CIR_FLV_CODEC_OTHER;
        t->packet = CIR_FLV_SKIP;
        t->data = p + 1;
        t->size = n - 1;
        return 0;
    }
    t->codec = CIR_FLV_CODEC_AAC;
    if (n < 2) {
        return CIR_EAGAIN;
    }
    switch (p[1]) {
    case 0:
        t->packet = CIR_FLV_SEQUENCE_START;
        break;
    case 1:
        t->packet = CIR_FLV_CODED_FRAMES;
        break;
    default:
        return CIR_EPARSE;
    }
    t->keyframe = 1;
    t->data = p + 2;
    t->size = n - 2;
    return 0;
}

int
cir_aac_parse_asc(const uint8_t *p, size_t n, int *sample_rate, int *channels)
{
    static const int rates[13] = {96000, 88200, 64000, 48000, 44100,
                                  32000, 24000, 22050, 16000, 12000,
                                  11025, 8000,  7350};
    unsigned aot, idx, ch;
    size_t bit;

    if (n < 2) {
        return CIR_EAGAIN;
    }
    aot = p[0] >> 3;
    bit = 5;
    if (aot == 31) {
        return CIR_EUNSUPPORTED; /* escaped object types */
    }
    idx = ((p[0] & 0x07) << 1) | (p[1] >> 7);
    bit += 4;
    if (idx == 15) {
        /* an explicit 24-bit rate follows */
        uint32_t v;
        if (n < 5) {
            return CIR_EAGAIN;
        }
        v = ((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
             p[4]);
        *sample_rate = (int)((v >> 7) & 0xffffff);
        ch = (p[4] >> 3) & 0x0f;
    } else if (idx < 13) {
        *sample_rate = rates[idx];
        ch = (p[1] >> 3) & 0x0f;
    } else {
        return CIR_EPARSE;
    }
    (void)bit;
    if (aot == 0 || *sample_rate == 0) {
        return CIR_EPARSE;
    }
    *channels = ch == 7 ? 8 : (int)ch;
    return 0;
}
