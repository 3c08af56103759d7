#include <criterion/criterion.h>

#include "cir_error.h"
#include "codecs.h"

Test(transcoder_codecs, avc_from_annexb_sps)
{
    /* start code, SPS (type 7): High profile 100, constraints 0, level 31 */
    static const uint8_t ed[] = {0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac,
                                 0, 0, 0, 1, 0x68, 0xeb, 0xe3, 0xcb};
    char s[32];

    cr_assert_eq(cir_codecs_avc(ed, sizeof(ed), s, sizeof(s)), 0);
    cr_assert_str_eq(s, "avc1.64001f");
}

Test(transcoder_codecs, avc_sps_after_other_nal_units)
{
    static const uint8_t ed[] = {0, 0, 1,    0x06, 0x05, 0x01, 0xff, 0,
                                 0, 1, 0x67, 0x4d, 0x40, 0x1e, 0x9a};
    char s[32];

    cr_assert_eq(cir_codecs_avc(ed, sizeof(ed), s, sizeof(s)), 0);
    cr_assert_str_eq(s, "avc1.4d401e");
}

Test(transcoder_codecs, avc_from_avcc)
{
    static const uint8_t avcc[] = {1, 0x42, 0xc0, 0x0d, 0xff, 0xe1};
    char s[32];

    cr_assert_eq(cir_codecs_avc(avcc, sizeof(avcc), s, sizeof(s)), 0);
    cr_assert_str_eq(s, "avc1.42c00d");
}

Test(transcoder_codecs, avc_without_sps_is_an_error)
{
    static const uint8_t ed[] = {0, 0, 0, 1, 0x68, 0xeb, 0xe3, 0xcb};
    char s[32];

    cr_assert_eq(cir_codecs_avc(ed, sizeof(ed), s, sizeof(s)), CIR_EPARSE);
    cr_assert_eq(cir_codecs_avc(NULL, 0, s, sizeof(s)), CIR_EINVAL);
}

Test(transcoder_codecs, hevc_main_level_93)
{
    /* SPS NAL (type 33): header 0x42 0x01, then vps id / sub-layers byte,
     * profile_tier_level: Main (1), compat flags 0x60000000, progressive +
     * frame-only constraint 0xb0, level 93 (3.1) */
    static const uint8_t ed[] = {
        0,    0,    0,    1,    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x00,
        0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5d, 0xa0, 0x02, 0x80, 0x80, 0x2d};
    char s[48];

    cr_assert_eq(cir_codecs_hevc(ed, sizeof(ed), s, sizeof(s)), 0);
    cr_assert_str_eq(s, "hvc1.1.6.L93.B0");
}

Test(transcoder_codecs, hevc_emulation_prevention_is_removed)
{
    /* compat flags 0x00000300 would be written 00 00 03 03 00 */
    static const uint8_t ed[] = {0,    0,    0,    1,    0x42, 0x01, 0x01,
                                 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0x90,
                                 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x78,
                                 0xa0, 0x02, 0x80, 0x80};
    char s[48];

    cr_assert_eq(cir_codecs_hevc(ed, sizeof(ed), s, sizeof(s)), 0);
    cr_assert_str_eq(s, "hvc1.2.4.L120.90");
}

Test(transcoder_codecs, aac_object_types)
{
    static const uint8_t lc[] = {0x11, 0x90};  /* AOT 2, 48 kHz, stereo */
    static const uint8_t he[] = {0x2b, 0x92};  /* AOT 5 */
    static const uint8_t ext[] = {0xf8, 0x20}; /* AOT 31 escape: 32 + 1 */
    char s[32];

    cir_codecs_aac(lc, sizeof(lc), s, sizeof(s));
    cr_assert_str_eq(s, "mp4a.40.2");
    cir_codecs_aac(he, sizeof(he), s, sizeof(s));
    cr_assert_str_eq(s, "mp4a.40.5");
    cir_codecs_aac(ext, sizeof(ext), s, sizeof(s));
    cr_assert_str_eq(s, "mp4a.40.33");
}
