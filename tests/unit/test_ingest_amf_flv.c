/* AMF0 decoding with its limits, and FLV video/audio tag bodies. */
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_rtmp.h"

static const cir_amf_limits_t lim = {
    .max_depth = 4, .max_nodes = 64, .max_string = 256};

static int
dec(const void *p, size_t n, cir_amf_t *v, size_t *used)
{
    return cir_amf0_decode(p, n, &lim, v, used);
}

Test(ingest_amf, every_type_round_trips)
{
    static const uint8_t in[] = {
        0x03, /* object */
        0,    1,    'n', 0x00, 0x40, 0x59, 0,   0,
        0,    0,    0,   0,                          /* n: 100 */
        0,    1,    'b', 0x01, 0x01,                 /* b: true */
        0,    1,    's', 0x02, 0,    2,    'h', 'i', /* s: "hi" */
        0,    1,    'l', 0x0c, 0,    0,    0,   3,
        'a',  'b',  'c',       /* l: long */
        0,    1,    'z', 0x05, /* z: null */
        0,    1,    'u', 0x06, /* u: undefined */
        0,    1,    'd', 0x0b, 0x40, 0x59, 0,   0,
        0,    0,    0,   0,    0,    0,            /* date */
        0,    1,    'e', 0x08, 0,    0,    0,   9, /* ECMA (bad count) */
        0,    1,    'x', 0x00, 0,    0,    0,   0,
        0,    0,    0,   0,    0,    0,    9, /* x: 0, end */
        0,    1,    'a', 0x0a, 0,    0,    0,   2,
        0x05, 0x02, 0,   1,    'q', /* [null,"q"] */
        0,    0,    9};
    cir_amf_t v;
    size_t used;

    cr_assert_eq(dec(in, sizeof(in), &v, &used), 0);
    cr_assert_eq(used, sizeof(in));
    cr_assert_eq(v.type, CIR_AMF_OBJECT);
    cr_assert_eq(v.count, 9);
    cr_assert_eq(cir_amf_get_number(&v, "n", 0), 100);
    cr_assert_eq(cir_amf_get(&v, "b")->boolean, 1);
    cr_assert_str_eq(cir_amf_get_string(&v, "s"), "hi");
    cr_assert_str_eq(cir_amf_get_string(&v, "l"), "abc");
    cr_assert_eq(cir_amf_get(&v, "z")->type, CIR_AMF_NULL);
    cr_assert_eq(cir_amf_get(&v, "u")->type, CIR_AMF_UNDEFINED);
    cr_assert_eq(cir_amf_get(&v, "d")->type, CIR_AMF_DATE);
    cr_assert_eq(cir_amf_get(&v, "d")->number, 100);
    cr_assert_eq(cir_amf_get(&v, "e")->type, CIR_AMF_ECMA_ARRAY);
    cr_assert_eq(cir_amf_get(&v, "e")->count, 1);
    cr_assert_eq(cir_amf_get(&v, "a")->count, 2);
    cr_assert_str_eq(cir_amf_get(&v, "a")->items[1].str, "q");
    cr_assert_null(cir_amf_get(&v, "missing"));

    /* every truncation is "need more", never a crash or a value */
    for (size_t n = 0; n < sizeof(in); n++) {
        cir_amf_t t;
        cr_assert_eq(dec(in, n, &t, &used), CIR_EAGAIN, "at %zu", n);
        cr_assert_eq(t.count, 0);
    }
    cir_amf_clear(&v);
}

Test(ingest_amf, encoder_output_decodes)
{
    cir_buf_t b;
    cir_amf_t v;
    size_t used, pos = 0;

    cir_buf_init(&b, 1024);
    cir_amf0_put_string(&b, "_result");
    cir_amf0_put_number(&b, 3.5);
    cir_amf0_put_object_begin(&b);
    cir_amf0_put_key(&b, "code");
    cir_amf0_put_string(&b, "X");
    cir_amf0_put_key(&b, "ok");
    cir_amf0_put_bool(&b, 1);
    cir_amf0_put_object_end(&b);
    cir_amf0_put_null(&b);
    cr_assert_eq(dec(b.data, b.len, &v, &used), 0);
    cr_assert_str_eq(v.str, "_result");
    pos += used;
    cir_amf_clear(&v);
    cr_assert_eq(dec(b.data + pos, b.len - pos, &v, &used), 0);
    cr_assert_eq(v.number, 3.5);
    pos += used;
    cr_assert_eq(dec(b.data + pos, b.len - pos, &v, &used), 0);
    cr_assert_str_eq(cir_amf_get_string(&v, "code"), "X");
    cir_amf_clear(&v);
    pos += used;
    cr_assert_eq(dec(b.data + pos, b.len - pos, &v, &used), 0);
    cr_assert_eq(v.type, CIR_AMF_NULL);
    cr_assert_eq(pos + used, b.len);
    cir_buf_free(&b);
}

Test(ingest_amf, malformed_and_hostile_input)
{
    cir_amf_t v;
    size_t used;
    uint8_t deep[64];

    /* unknown type marker; AMF3 switch; stray object end */
    cr_assert_eq(dec("\x0d", 1, &v, &used), CIR_EPARSE);
    cr_assert_eq(dec("\x11", 1, &v, &used), CIR_EPARSE);
    cr_assert_eq(dec("\x09", 1, &v, &used), CIR_EPARSE);
    /* a huge long string length: a limit, not an allocation */
    cr_assert_eq(dec("\x0c\xff\xff\xff\xff", 5, &v, &used), CIR_ELIMIT);
    /* a string longer than the limit */
    cr_assert_eq(dec("\x02\x10\x00", 3, &v, &used), CIR_ELIMIT);
    /* a huge strict array count */
    cr_assert_eq(dec("\x0a\x7f\xff\xff\xff", 5, &v, &used), CIR_ELIMIT);
    /* nesting past the depth limit */
    for (size_t i = 0; i < sizeof(deep); i += 4) {
        memcpy(deep + i, "\x03\x00\x01k", 4);
    }
    cr_assert_eq(dec(deep, sizeof(deep), &v, &used), CIR_ELIMIT);
    /* an object whose value is an end marker */
    cr_assert_eq(dec("\x03\x00\x01k\x09\x00\x00\x09", 8, &v, &used),
                 CIR_EPARSE);
    /* wrong types are reported as such by the getters */
    cr_assert_eq(dec("\x03\x00\x01w\x02\x00\x01x\x00\x00\x09", 11, &v, &used),
                 0);
    cr_assert_eq(cir_amf_get_number(&v, "w", -1), -1);
    cir_amf_clear(&v);
}

Test(ingest_flv, legacy_avc_and_hevc)
{
    static const uint8_t seq[] = {0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f};
    static const uint8_t frame[] = {0x27, 1, 0xff, 0xff, 0xd8, 0, 0, 0, 1, 9};
    static const uint8_t hevc[] = {0x1c, 1, 0, 0, 40, 0, 0, 0, 1, 9};
    cir_flv_tag_t t;

    cr_assert_eq(cir_flv_parse_video(seq, sizeof(seq), &t), 0);
    cr_assert_eq(t.codec, CIR_FLV_CODEC_AVC);
    cr_assert_eq(t.packet, CIR_FLV_SEQUENCE_START);
    cr_assert(t.keyframe);
    cr_assert_eq(t.size, 4);
    cr_assert_eq(t.data[0], 1);
    cr_assert_eq(cir_flv_parse_video(frame, sizeof(frame), &t), 0);
    cr_assert_eq(t.packet, CIR_FLV_CODED_FRAMES);
    cr_assert_not(t.keyframe);
    cr_assert_eq(t.cts, -40, "CTS is signed 24-bit");
    cr_assert_eq(cir_flv_parse_video(hevc, sizeof(hevc), &t), 0);
    cr_assert_eq(t.codec, CIR_FLV_CODEC_HEVC);
    cr_assert_eq(t.cts, 40);
    cr_assert_eq(cir_flv_parse_video(seq, 3, &t), CIR_EAGAIN);
    cr_assert_eq(cir_flv_parse_video(seq, 0, &t), CIR_EAGAIN);
    static const uint8_t badpt[] = {0x17, 9, 0, 0, 0};
    cr_assert_eq(cir_flv_parse_video(badpt, 5, &t), CIR_EPARSE);
}

Test(ingest_flv, enhanced_rtmp_ex_header)
{
    /* IsExHeader | keyframe(1)<<4 | SequenceStart, "hvc1" */
    static const uint8_t seq[] = {0x90, 'h', 'v', 'c', '1', 1, 2, 3};
    /* CodedFrames for HEVC carries a CTS */
    static const uint8_t cf[] = {0x91, 'h', 'v', 'c', '1', 0, 0, 33, 0xaa};
    /* CodedFramesX: no CTS */
    static const uint8_t cfx[] = {0xa3, 'a', 'v', '0', '1', 0xbb};
    static const uint8_t end[] = {0x92, 'a', 'v', '0', '1'};
    cir_flv_tag_t t;

    cr_assert_eq(cir_flv_parse_video(seq, sizeof(seq), &t), 0);
    cr_assert(t.ex_header);
    cr_assert_eq(t.codec, CIR_FLV_CODEC_HEVC);
    cr_assert_eq(t.packet, CIR_FLV_SEQUENCE_START);
    cr_assert_eq(t.size, 3);
    cr_assert_eq(cir_flv_parse_video(cf, sizeof(cf), &t), 0);
    cr_assert_eq(t.packet, CIR_FLV_CODED_FRAMES);
    cr_assert_eq(t.cts, 33);
    cr_assert_eq(t.size, 1);
    cr_assert_eq(t.data[0], 0xaa);
    cr_assert_eq(cir_flv_parse_video(cf, 6, &t), CIR_EAGAIN);
    cr_assert_eq(cir_flv_parse_video(cfx, sizeof(cfx), &t), 0);
    cr_assert_eq(t.codec, CIR_FLV_CODEC_AV1);
    cr_assert_not(t.keyframe);
    cr_assert_eq(t.cts, 0);
    cr_assert_eq(t.data[0], 0xbb);
    cr_assert_eq(cir_flv_parse_video(end, sizeof(end), &t), 0);
    cr_assert_eq(t.packet, CIR_FLV_SEQUENCE_END);
    cr_assert_eq(cir_flv_parse_video(end, 3, &t), CIR_EAGAIN);
}

Test(ingest_flv, aac_and_its_config)
{
    static const uint8_t seq[] = {0xaf, 0, 0x12, 0x10};
    static const uint8_t raw[] = {0xaf, 1, 0x21, 0x22};
    static const uint8_t mp3[] = {0x2f, 0xff};
    cir_flv_tag_t t;
    int rate, ch;

    cr_assert_eq(cir_flv_parse_audio(seq, sizeof(seq), &t), 0);
    cr_assert_eq(t.codec, CIR_FLV_CODEC_AAC);
    cr_assert_eq(t.packet, CIR_FLV_SEQUENCE_START);
    cr_assert_eq(cir_aac_parse_asc(t.data, t.size, &rate, &ch), 0);
    cr_assert_eq(rate, 44100);
    cr_assert_eq(ch, 2);
    cr_assert_eq(cir_flv_parse_audio(raw, sizeof(raw), &t), 0);
    cr_assert_eq(t.packet, CIR_FLV_CODED_FRAMES);
    cr_assert_eq(t.size, 2);
    cr_assert_eq(cir_flv_parse_audio(raw, 1, &t), CIR_EAGAIN);
    cr_assert_eq(cir_flv_parse_audio(mp3, sizeof(mp3), &t), 0);
    cr_assert_eq(t.packet, CIR_FLV_SKIP);
    cr_assert_eq(cir_aac_parse_asc((const uint8_t *)"\x11\x90", 2, &rate, &ch),
                 0);
    cr_assert_eq(rate, 48000);
    cr_assert_eq(ch, 2);
    cr_assert_eq(cir_aac_parse_asc((const uint8_t *)"\x17", 1, &rate, &ch),
                 CIR_EAGAIN);
}
