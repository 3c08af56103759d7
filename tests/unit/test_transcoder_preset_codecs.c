/* preset_codecs.c: the codec rules of presets, on top of common's model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_preset.h"
#include "cir_preset_codecs.h"
#include "preset_fixture.h"

/* Expects doc to pass common's parser and fail the codec rules with
 * exactly msg. */
static void
expect_error(const char *doc, const char *msg)
{
    cir_preset_t p;
    char err[512] = "";

    cr_expect_eq(cir_preset_parse(doc, strlen(doc), &p, err, sizeof(err)), 0,
                 "common takes %s: %s", doc, err);
    err[0] = '\0';
    cr_expect_eq(
        cir_preset_codecs_parse(doc, strlen(doc), &p, err, sizeof(err)),
        CIR_EINVAL, "%s", doc);
    cr_expect_str_eq(err, msg, "for %s", doc);
}

/* The presets shipped in presets/ (common's test loads every file there) */
Test(preset_codecs, shipped_presets_pass_the_codec_rules)
{
    static const char *const names[] = {"web",        "mobile", "hevc",
                                        "audio-only", "image",  "live"};
    cir_preset_t p;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char err[512] = "";
        cr_expect_eq(cir_preset_codecs_load(presets_dir(), names[i], &p, err,
                                            sizeof(err)),
                     0, "%s: %s", names[i], err);
        cr_expect_neq(p.video_codec[0], '\0', "%s: codec resolved", names[i]);
        cr_expect_neq(p.encoder_preset[0], '\0', "%s: speed resolved",
                      names[i]);
    }
}

Test(preset_codecs, web_preset_is_apples_ladder)
{
    cir_preset_t p;
    char err[512] = "";
    static const char *const profiles[] = {"high", "high", "high", "main",
                                           "main"};

    cr_assert_eq(
        cir_preset_codecs_load(presets_dir(), "web", &p, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(cir_preset_vcodec(&p), CIR_VCODEC_H264);
    cr_assert_str_eq(cir_preset_encoder_speed(&p), "veryfast");
    cr_assert_eq(p.nb_rungs, 5);
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq(p.rungs[i].profile, profiles[i]);
    }
    cr_assert_eq(p.audio_sample_rate, 48000);
}

Test(preset_codecs, hevc_preset)
{
    cir_preset_t p;
    char err[512] = "";

    cr_assert_eq(
        cir_preset_codecs_load(presets_dir(), "hevc", &p, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(cir_preset_vcodec(&p), CIR_VCODEC_HEVC);
    cr_assert_str_eq(p.video_codec, "hevc");
    cr_assert_str_eq(cir_preset_encoder_speed(&p), "fast");
}

/* common leaves the codec names unset; the transcoder's defaults apply
 * (read through the accessors, or written in by resolve) */
Test(preset_codecs, defaults_are_the_transcoders)
{
    cir_preset_t p;
    char err[512] = "";

    cir_preset_defaults(&p);
    cr_assert_str_eq(p.video_codec, "");
    cr_assert_eq(cir_preset_vcodec(&p), CIR_VCODEC_H264);
    cr_assert_str_eq(cir_preset_encoder_speed(&p), "veryfast");
    cr_assert_eq(cir_preset_codecs_check(&p, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(p.video_codec, "", "check leaves p alone");
    cr_assert_eq(cir_preset_codecs_resolve(&p, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(p.video_codec, "h264");
    cr_assert_str_eq(p.encoder_preset, "veryfast");
    cr_assert_str_eq(cir_preset_vcodec_name(CIR_VCODEC_HEVC), "hevc");
    cr_assert_str_eq(cir_preset_vcodec_name((cir_vcodec_t)7), "h264");
}

Test(preset_codecs, names_list_their_choices)
{
    expect_error("{\"video\":{\"codec\":\"vp9\",\"rungs\":[" RUNG "]}}",
                 "video.codec: \"vp9\" is not one of h264, hevc");
    expect_error("{\"video\":{\"encoder_preset\":\"turbo\",\"rungs\":[" RUNG
                 "]}}",
                 "video.encoder_preset: \"turbo\" is not one of ultrafast, "
                 "superfast, veryfast, faster, fast, medium, slow, slower, "
                 "veryslow");
}

Test(preset_codecs, profiles_levels_and_sample_rates)
{
    expect_error("{\"video\":{\"codec\":\"hevc\",\"rungs\":[{\"name\":\"a\","
                 "\"height\":360,\"bitrate_kbps\":100,\"profile\":\"high\"}]}}",
                 "video.rungs[0].profile: \"high\" is not a hevc profile "
                 "(main, main10)");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":360,"
                 "\"bitrate_kbps\":100,\"profile\":\"main10\"}]}}",
                 "video.rungs[0].profile: \"main10\" is not a h264 profile "
                 "(baseline, main, high)");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":360,"
                 "\"bitrate_kbps\":100,\"level\":\"4.10\"}]}}",
                 "video.rungs[0].level: \"4.10\" must look like 3, 4.1 or "
                 "5.2");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":360,"
                 "\"bitrate_kbps\":100,\"level\":\"7\"}]}}",
                 "video.rungs[0].level: \"7\" must look like 3, 4.1 or 5.2");
    expect_error("{\"video\":{\"rungs\":[" RUNG "]},\"audio\":{"
                 "\"sample_rate\":22000}}",
                 "audio.sample_rate: 22000 is not an AAC sample rate (8000, "
                 "11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, "
                 "64000, 88200, 96000)");
}

Test(preset_codecs, surround_codec_is_eac3_or_ac3)
{
    cir_preset_t p;
    char err[512] = "";
    const char *doc = "{\"video\":{\"enabled\":false},\"audio\":{"
                      "\"surround\":{\"enabled\":true,\"codec\":\"ac3\"}}}";

    expect_error("{\"video\":{\"rungs\":[" RUNG "]},\"audio\":{"
                 "\"surround\":{\"enabled\":true,\"codec\":\"dts\"}}}",
                 "audio.surround.codec: \"dts\" is not one of eac3, ac3");
    cr_assert_eq(
        cir_preset_codecs_parse(doc, strlen(doc), &p, err, sizeof(err)), 0,
        "%s", err);
    cr_expect_str_eq(p.surround_codec, "ac3");
}

Test(preset_codecs, checks_that_pass)
{
    const char *doc =
        "{\"video\":{\"codec\":\"hevc\",\"encoder_preset\":\"slow\","
        "\"rungs\":[{\"name\":\"a\",\"height\":360,\"bitrate_kbps\":100,"
        "\"profile\":\"main10\",\"level\":\"5.1\"},{\"name\":\"b\","
        "\"height\":240,\"bitrate_kbps\":100,\"level\":\"3\"}]},"
        "\"audio\":{\"sample_rate\":44100}}";
    cir_preset_t p;
    char err[512] = "";

    cr_assert_eq(
        cir_preset_codecs_parse(doc, strlen(doc), &p, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(cir_preset_vcodec(&p), CIR_VCODEC_HEVC);
    cr_assert_str_eq(cir_preset_encoder_speed(&p), "slow");
    cr_assert_str_eq(p.rungs[0].profile, "main10");
    cr_assert_str_eq(p.rungs[1].level, "3");
}

Test(preset_codecs, failed_check_leaves_the_preset_alone)
{
    const char *doc = "{\"video\":{\"codec\":\"vp9\",\"rungs\":[" RUNG "]}}";
    cir_preset_t p;
    char err[512];

    cir_preset_defaults(&p);
    p.audio_bitrate_kbps = 77;
    cr_assert_eq(
        cir_preset_codecs_parse(doc, strlen(doc), &p, err, sizeof(err)),
        CIR_EINVAL);
    cr_assert_eq(p.audio_bitrate_kbps, 77);
    cr_assert_eq(cir_preset_codecs_check(NULL, err, sizeof(err)), CIR_EINVAL);
}

Test(preset_codecs, load_names_the_file_in_a_codec_error)
{
    char dir[] = "/tmp/cir-preset-codecs-XXXXXX", path[256], err[512];
    cir_preset_t p;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/copy.json", dir);
    write_preset(dir, "copy",
                 "{\"video\":{\"codec\":\"av1\",\"rungs\":[" RUNG "]}}");
    cr_assert_eq(cir_preset_codecs_load(dir, "copy", &p, err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_not_null(strstr(err, "copy.json: video.codec: \"av1\" is not one "
                                   "of h264, hevc"),
                       "%s", err);
    /* common's errors pass through as they are */
    cr_assert_eq(cir_preset_codecs_load(dir, "no-such", &p, err, sizeof(err)),
                 CIR_ENOTFOUND);
    unlink(path);
    rmdir(dir);
}

Test(preset_codecs, help_lists_fields_and_codec_rules)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    cir_preset_codecs_print_help(f);
    fclose(f);
    cr_assert_not_null(strstr(text, "video.gop_seconds"), "common's table");
    cr_assert_not_null(strstr(text, "h264, hevc"));
    cr_assert_not_null(strstr(text, "ultrafast"));
    cr_assert_not_null(strstr(text, "main, main10"));
    cr_assert_not_null(strstr(text, "44100"));
    cr_assert_not_null(strstr(text, "audio.surround.codec"));
    cr_assert_not_null(strstr(text, "eac3, ac3"));
    free(text);
}

Test(preset_codecs, per_title_is_for_h264)
{
    cir_preset_t p;
    const char *h264 = "{\"video\":{\"per_title\":{\"enabled\":true},"
                       "\"rungs\":[{\"name\":\"a\",\"height\":360,"
                       "\"bitrate_kbps\":700}]}}";
    char err[256] = "";

    cr_expect_eq(
        cir_preset_codecs_parse(h264, strlen(h264), &p, err, sizeof(err)), 0,
        "%s", err);
    cr_expect_eq(p.per_title_enabled, 1);
    expect_error("{\"video\":{\"codec\":\"hevc\",\"per_title\":"
                 "{\"enabled\":true},\"rungs\":[{\"name\":\"a\","
                 "\"height\":360,\"bitrate_kbps\":700}]}}",
                 "video.per_title.enabled: per-title ladders are for h264 "
                 "only, not hevc");
}
