#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_preset.h"
#include "preset_fixture.h"

static int
parse(const char *doc, cir_preset_t *p, char *err, size_t errsize)
{
    err[0] = '\0';
    return cir_preset_parse(doc, strlen(doc), p, err, errsize);
}

/* Expects doc to fail with exactly msg. */
static void
expect_error(const char *doc, const char *msg)
{
    cir_preset_t p;
    char err[512];

    cr_expect_eq(parse(doc, &p, err, sizeof(err)), CIR_EINVAL, "%s", doc);
    cr_expect_str_eq(err, msg, "for %s", doc);
}

Test(common_preset, every_shipped_preset_loads)
{
    DIR *d = opendir(presets_dir());
    struct dirent *e;
    int count = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        char name[64], err[512] = "";
        size_t n = strlen(e->d_name);
        cir_preset_t p;

        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) {
            continue;
        }
        cr_assert_lt(n - 5, sizeof(name));
        memcpy(name, e->d_name, n - 5);
        name[n - 5] = '\0';
        cr_expect_eq(cir_preset_load(presets_dir(), name, &p, err, sizeof(err)),
                     0, "%s: %s", name, err);
        cr_expect_str_eq(p.name, name);
        cr_expect_gt(strlen(p.description), 10, "%s has a description", name);
        count++;
    }
    closedir(d);
    cr_assert_geq(count, 5);
}

Test(common_preset, web_preset_is_apples_ladder)
{
    cir_preset_t p;
    char err[512] = "";
    static const struct {
        const char *name;
        int height, kbps;
        const char *profile;
    } want[] = {{"1080p", 1080, 6000, "high"},
                {"720p", 720, 3000, "high"},
                {"540p", 540, 2000, "high"},
                {"360p", 360, 730, "main"},
                {"234p", 234, 145, "main"}};

    cr_assert_eq(cir_preset_load(presets_dir(), "web", &p, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_str_eq(p.video_codec, "h264", "as the file says");
    cr_assert_eq(p.nb_rungs, 5);
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq(p.rungs[i].name, want[i].name);
        cr_expect_eq(p.rungs[i].height, want[i].height);
        cr_expect_eq(p.rungs[i].bitrate_kbps, want[i].kbps);
        cr_expect_str_eq(p.rungs[i].profile, want[i].profile);
    }
    cr_assert_eq(p.audio_bitrate_kbps, 128);
    cr_assert_eq(p.audio_channels, 2);
    cr_assert_float_eq(p.gop_seconds, 2.0, 1e-9);
    cr_assert_float_eq(p.segment_seconds, 6.0, 1e-9);
    cr_assert_str_eq(p.encoder_preset, "veryfast");
}

Test(common_preset, other_shipped_presets)
{
    cir_preset_t p;
    char err[512] = "";

    cr_assert_eq(cir_preset_load(presets_dir(), "hevc", &p, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(p.video_codec, "hevc");
    cr_assert_str_eq(p.encoder_preset, "fast");
    cr_assert_eq(
        cir_preset_load(presets_dir(), "audio-only", &p, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(p.video_enabled, 0);
    cr_assert_eq(p.thumbs_enabled, 0);
    cr_assert_eq(p.audio_enabled, 1);
    cr_assert_eq(cir_preset_load(presets_dir(), "image", &p, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(p.images_enabled, 1);
    cr_assert_eq(p.nb_image_widths, 5);
    cr_assert_eq(p.image_widths[4], 3840);
    cr_assert_eq(p.video_enabled + p.audio_enabled + p.thumbs_enabled, 0);
    cr_assert_eq(cir_preset_load(presets_dir(), "mobile", &p, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(p.audio_bitrate_kbps, 96);
    cr_assert_eq(p.rungs[0].height, 720);
}

Test(common_preset, minimal_document_fills_defaults)
{
    cir_preset_t p;
    char err[512];

    cr_assert_eq(
        parse("{\"video\":{\"rungs\":[" RUNG "]}}", &p, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(p.nb_rungs, 1);
    cr_assert_str_eq(p.rungs[0].name, "720p");
    cr_assert_eq(p.rungs[0].width, 0);
    cr_assert_eq(p.rungs[0].maxrate_kbps, 0);
    cr_assert_str_eq(p.rungs[0].profile, "");
    cr_assert_eq(p.audio_bitrate_kbps, 128);
    cr_assert_str_eq(p.name, "");
}

Test(common_preset, bounds_name_the_field_with_its_index)
{
    expect_error("{\"video\":{\"rungs\":[" RUNG "," RUNG
                 ",{\"name\":\"x\",\"height\":360,\"bitrate_kbps\":0}]}}",
                 "video.rungs[2].bitrate_kbps: 0 is below the minimum 16");
    expect_error("{\"video\":{\"gop_seconds\":11,\"rungs\":[" RUNG "]}}",
                 "video.gop_seconds: 11 is above the maximum 10");
    expect_error("{\"audio\":{\"channels\":9}}",
                 "audio.channels: 9 is above the maximum 8");
    expect_error("{\"segment_seconds\":0.5}",
                 "segment_seconds: 0.5 is below the minimum 1");
    expect_error("{\"images\":{\"widths\":[320,8]}}",
                 "images.widths[1]: 8 is below the minimum 16");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":100000,"
                 "\"bitrate_kbps\":100}]}}",
                 "video.rungs[0].height: 100000 is above the maximum 4320");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":360,"
                 "\"width\":8,\"bitrate_kbps\":100}]}}",
                 "video.rungs[0].width: 8 is below the minimum 16 "
                 "(0: automatic)");
    expect_error("{\"thumbnails\":{\"interval_seconds\":0.1}}",
                 "thumbnails.interval_seconds: 0.1 is below the minimum 0.5");
    expect_error("{\"images\":{\"jpeg_quality\":101}}",
                 "images.jpeg_quality: 101 is above the maximum 100");
}

/* Codec names are checked for their shape only: which ones mean something
 * is the transcoder's to say (test_transcoder_preset_codecs.c). */
Test(common_preset, codec_names_are_shaped_not_judged)
{
    cir_preset_t p;
    char err[512];

    cr_assert_eq(parse("{\"video\":{\"codec\":\"vp9\",\"encoder_preset\":"
                       "\"turbo\",\"rungs\":[{\"name\":\"a\",\"height\":360,"
                       "\"bitrate_kbps\":100,\"profile\":\"high\",\"level\":"
                       "\"4.10\"}]},\"audio\":{\"sample_rate\":22000}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(p.video_codec, "vp9");
    cr_assert_str_eq(p.encoder_preset, "turbo");
    cr_assert_str_eq(p.rungs[0].profile, "high");
    cr_assert_str_eq(p.rungs[0].level, "4.10");
    cr_assert_eq(p.audio_sample_rate, 22000);
    expect_error("{\"video\":{\"encoder_preset\":\"\"}}",
                 "video.encoder_preset: \"\" must be 1 to 15 of a-z 0-9 . _ -");
    expect_error("{\"video\":{\"codec\":\"H.264\"}}",
                 "video.codec: \"H.264\" must be 1 to 15 of a-z 0-9 . _ -");
    expect_error("{\"video\":{\"codec\":\"a b\"}}",
                 "video.codec: \"a b\" must be 1 to 15 of a-z 0-9 . _ -");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":360,"
                 "\"bitrate_kbps\":100,\"profile\":\"Main\"}]}}",
                 "video.rungs[0].profile: \"Main\" must be \"\" or 1 to 15 of "
                 "a-z 0-9 . _ -");
    expect_error("{\"audio\":{\"sample_rate\":7999}}",
                 "audio.sample_rate: 7999 is below the minimum 8000");
}

Test(common_preset, wrong_types_name_the_field)
{
    expect_error("{\"video\":{\"enabled\":1}}",
                 "video.enabled: expected true or false, got an integer");
    expect_error("{\"audio\":{\"bitrate_kbps\":\"128\"}}",
                 "audio.bitrate_kbps: expected an integer, got a string");
    expect_error("{\"audio\":{\"bitrate_kbps\":128.5}}",
                 "audio.bitrate_kbps: expected an integer, got a number");
    expect_error("{\"video\":[]}", "video: expected an object, got an array");
    expect_error("{\"video\":{\"rungs\":{}}}",
                 "video.rungs: expected an array, got an object");
    expect_error("{\"video\":{\"rungs\":[3]}}",
                 "video.rungs[0]: expected an object, got an integer");
    expect_error("{\"name\":null}", "name: expected a string, got null");
    expect_error("[]", "expected a JSON object at the top level, got an array");
}

Test(common_preset, unknown_fields_are_named)
{
    expect_error("{\"colour\":1}", "colour: unknown field");
    expect_error("{\"video\":{\"gop\":2}}", "video.gop: unknown field");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":360,"
                 "\"bitrate_kbps\":100,\"crf\":23}]}}",
                 "video.rungs[0].crf: unknown field");
    /* a dotted key must not reach the nested option */
    expect_error("{\"video.gop_seconds\":3}",
                 "video.gop_seconds: unknown field");
    /* control bytes in a key are not echoed */
    expect_error("{\"a\\u001bb\":1}", "a?b: unknown field");
}

Test(common_preset, per_title_is_off_by_default_and_parsed)
{
    cir_preset_t p;
    char err[512];

    cr_assert_eq(
        parse("{\"video\":{\"rungs\":[" RUNG "]}}", &p, err, sizeof(err)), 0,
        "%s", err);
    cr_expect_eq(p.per_title_enabled, 0);
    cr_expect_eq(p.per_title_target_psnr_db, 45);
    cr_expect_eq(p.per_title_probe_scenes, 4);
    cr_expect_eq(p.per_title_probe_scene_seconds, 0.5);
    cr_assert_eq(parse("{\"video\":{\"rungs\":[" RUNG "],\"per_title\":"
                       "{\"enabled\":true,\"target_psnr_db\":42.5,"
                       "\"probe_scenes\":2,\"probe_scene_seconds\":1}}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_eq(p.per_title_enabled, 1);
    cr_expect_eq(p.per_title_target_psnr_db, 42.5);
    cr_expect_eq(p.per_title_probe_scenes, 2);
    cr_expect_eq(p.per_title_probe_scene_seconds, 1);
}

Test(common_preset, per_title_fields_are_checked_by_name)
{
    expect_error("{\"video\":{\"per_title\":{\"enable\":true}}}",
                 "video.per_title.enable: unknown field");
    expect_error("{\"video\":{\"per_title\":true}}",
                 "video.per_title: expected an object, got a boolean");
    expect_error("{\"video\":{\"per_title\":{\"enabled\":1}}}",
                 "video.per_title.enabled: expected true or false, got an "
                 "integer");
    expect_error("{\"video\":{\"per_title\":{\"target_psnr_db\":70}}}",
                 "video.per_title.target_psnr_db: 70 is above the maximum 60");
    expect_error("{\"video\":{\"per_title\":{\"probe_scenes\":0}}}",
                 "video.per_title.probe_scenes: 0 is below the minimum 1");
    expect_error(
        "{\"video\":{\"per_title\":{\"probe_scene_seconds\":11}}}",
        "video.per_title.probe_scene_seconds: 11 is above the maximum 10");
}

Test(common_preset, rungs_need_name_height_and_bitrate)
{
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"bitrate_kbps\":"
                 "100}]}}",
                 "video.rungs[0].height: required");
    expect_error("{\"video\":{\"rungs\":[{\"height\":360,\"bitrate_kbps\":"
                 "100}]}}",
                 "video.rungs[0].name: required");
}

Test(common_preset, cross_field_checks)
{
    expect_error("{\"video\":{\"rungs\":[" RUNG "," RUNG "]}}",
                 "video.rungs[1].name: \"720p\" is already used by "
                 "video.rungs[0]");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"Big\",\"height\":360,"
                 "\"bitrate_kbps\":100}]}}",
                 "video.rungs[0].name: \"Big\" must be 1 to 31 of a-z 0-9 _ "
                 "-");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"../x\",\"height\":360,"
                 "\"bitrate_kbps\":100}]}}",
                 "video.rungs[0].name: \"../x\" must be 1 to 31 of a-z 0-9 _ "
                 "-");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":361,"
                 "\"bitrate_kbps\":100}]}}",
                 "video.rungs[0].height: 361 is not even");
    expect_error("{\"video\":{\"rungs\":[{\"name\":\"a\",\"height\":360,"
                 "\"bitrate_kbps\":1000,\"maxrate_kbps\":900}]}}",
                 "video.rungs[0].maxrate_kbps: 900 is below bitrate_kbps "
                 "1000");
    expect_error("{}", "video.rungs: at least one rung is needed when video "
                       "is enabled");
    expect_error("{\"video\":{\"rungs\":[" RUNG "]},\"segment_seconds\":5}",
                 "segment_seconds: must be a whole multiple of "
                 "video.gop_seconds (5 is not a multiple of 2)");
    expect_error("{\"video\":{\"rungs\":[" RUNG "]},\"thumbnails\":{"
                 "\"sprite_columns\":21,\"sprite_rows\":20}}",
                 "thumbnails.sprite_columns: 21 x 20 tiles is more than 400 "
                 "per sprite sheet");
    expect_error("{\"video\":{\"rungs\":[" RUNG "]},\"images\":{\"jpeg\":"
                 "false,\"webp\":false}}",
                 "images.jpeg: at least one of images.jpeg and images.webp "
                 "must be true when images are enabled");
    expect_error("{\"video\":{\"rungs\":[" RUNG "]},\"images\":{\"widths\":"
                 "[320,640,320]}}",
                 "images.widths[2]: 320 is already images.widths[0]");
    expect_error("{\"video\":{\"enabled\":false},\"audio\":{\"enabled\":false},"
                 "\"thumbnails\":{\"enabled\":false},\"images\":{\"enabled\":"
                 "false}}",
                 "video.enabled, audio.enabled, thumbnails.enabled, "
                 "images.enabled: all false, the preset produces nothing");
}

Test(common_preset, checks_that_pass)
{
    cir_preset_t p;
    char err[512];

    /* 1.5 s GOP, 6 s segments; sprites exactly 400 tiles; maxrate given */
    cr_assert_eq(parse("{\"video\":{\"gop_seconds\":1.5,\"rungs\":[{\"name\":"
                       "\"a\",\"height\":360,\"width\":640,\"bitrate_kbps\":"
                       "100,\"maxrate_kbps\":100,\"level\":\"3.1\"}]},"
                       "\"thumbnails\":{\"sprite_columns\":20,"
                       "\"sprite_rows\":20},\"images\":{\"jpeg\":false}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_float_eq(p.gop_seconds, 1.5, 1e-9);
    cr_assert_eq(p.rungs[0].width, 640);
    cr_assert_str_eq(p.rungs[0].level, "3.1");
    cr_assert_eq(p.image_jpeg, 0);
    /* video off: no rungs needed and no GOP multiple */
    cr_assert_eq(parse("{\"video\":{\"enabled\":false},\"segment_seconds\":5}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
}

Test(common_preset, syntax_errors_give_the_position)
{
    cir_preset_t p;
    char err[512];

    cr_assert_eq(
        parse("{\"images\":\n {\"widths\":[320,8}}", &p, err, sizeof(err)),
        CIR_EPARSE);
    cr_assert_str_eq(err, "line 2 column 18: ']' expected near '}'");
}

Test(common_preset, too_many_rungs)
{
    char doc[4096];
    size_t n = 0;

    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"video\":{\"rungs\":[");
    for (int i = 0; i < CIR_PRESET_MAX_RUNGS + 1; i++) {
        n += (size_t)snprintf(doc + n, sizeof(doc) - n,
                              "%s{\"name\":\"r%d\",\"height\":360,"
                              "\"bitrate_kbps\":100}",
                              i ? "," : "", i);
    }
    snprintf(doc + n, sizeof(doc) - n, "]}}");
    expect_error(doc, "video.rungs: 17 entries, more than the maximum 16");
}

Test(common_preset, long_strings_are_rejected)
{
    char doc[1024], want[512];
    char longname[300];

    memset(longname, 'a', 299);
    longname[299] = '\0';
    snprintf(doc, sizeof(doc), "{\"description\":\"%s\"}", longname);
    cr_assert_str_neq(doc, "");
    cir_preset_t p;
    char err[512];
    cr_assert_eq(parse(doc, &p, err, sizeof(err)), CIR_EINVAL);
    snprintf(want, sizeof(want), "description: \"");
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
    cr_assert_not_null(strstr(err, "...\" is longer than 255 characters"), "%s",
                       err);
}

Test(common_preset, failed_parse_leaves_the_preset_alone)
{
    cir_preset_t p;
    char err[512];

    cir_preset_defaults(&p);
    p.audio_bitrate_kbps = 77;
    cr_assert_lt(parse("{\"audio\":{\"bitrate_kbps\":96},\"colour\":1}", &p,
                       err, sizeof(err)),
                 0);
    cr_assert_eq(p.audio_bitrate_kbps, 77);
}

Test(common_preset, errors_fit_any_buffer)
{
    cir_preset_t p;
    char err[10];

    memset(err, 'x', sizeof(err));
    cr_assert_eq(cir_preset_parse("{\"colour\":1}", 12, &p, err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_str_eq(err, "colour: u");
    cr_assert_eq(cir_preset_parse("{\"colour\":1}", 12, &p, NULL, 0),
                 CIR_EINVAL);
}

Test(common_preset, size_limit)
{
    size_t n = CIR_PRESET_MAX_SIZE + 10;
    char *doc = malloc(n + 1);
    cir_preset_t p;
    char err[256];

    memset(doc, ' ', n);
    doc[0] = '{';
    doc[n - 1] = '}';
    doc[n] = '\0';
    cr_assert_eq(cir_preset_parse(doc, n, &p, err, sizeof(err)), CIR_ELIMIT);
    free(doc);
}

Test(common_preset, load_validates_the_name_first)
{
    cir_preset_t p;
    char err[256];
    const char *bad[] = {"../x",
                         "",
                         "A",
                         "web.json",
                         "a/b",
                         "web ",
                         "0123456789012345678901234567890123456789"
                         "012345678901234567890123"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        /* the folder does not exist: the name check must come first */
        cr_expect_eq(
            cir_preset_load("/nonexistent", bad[i], &p, err, sizeof(err)),
            CIR_EINVAL, "%s", bad[i]);
        cr_expect_not_null(strstr(err, "is not valid"), "%s", err);
    }
}

Test(common_preset, load_of_a_missing_preset_is_not_found)
{
    cir_preset_t p;
    char err[512];

    cr_assert_eq(
        cir_preset_load(presets_dir(), "no-such-preset", &p, err, sizeof(err)),
        CIR_ENOTFOUND);
    cr_assert_not_null(strstr(err, "no preset named \"no-such-preset\""), "%s",
                       err);
}

/* A typo gets the closest name and the list; a name close to nothing gets
 * the list only; an empty folder says so */
Test(common_preset, a_missing_preset_suggests_the_closest_and_lists_them)
{
    char dir[] = "/tmp/cir-preset-XXXXXX", path[300], err[700];
    const char *names[] = {"web", "mobile", "live", "audio-only"};
    cir_preset_t p;

    cr_assert_eq(cir_preset_load(presets_dir(), "wbe", &p, err, sizeof(err)),
                 CIR_ENOTFOUND);
    cr_expect_not_null(strstr(err, "did you mean \"web\"?"), "%s", err);
    cr_expect_not_null(strstr(err, "; presets: audio-only hevc"), "%s", err);
    cr_assert_eq(cir_preset_load(presets_dir(), "moble", &p, err, sizeof(err)),
                 CIR_ENOTFOUND);
    cr_expect_not_null(strstr(err, "did you mean \"mobile\"?"), "%s", err);
    cr_assert_eq(
        cir_preset_load(presets_dir(), "zzzzzzzz", &p, err, sizeof(err)),
        CIR_ENOTFOUND);
    cr_expect_null(strstr(err, "did you mean"), "%s", err);
    cr_expect_not_null(strstr(err, "; presets: "), "%s", err);

    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(cir_preset_load(dir, "web", &p, err, sizeof(err)),
                 CIR_ENOTFOUND);
    cr_expect_not_null(strstr(err, "the folder holds no preset"), "%s", err);
    /* a small error buffer: truncated, still a string */
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fclose(f);
    }
    char small[40];
    cr_assert_eq(cir_preset_load(dir, "lvie", &p, small, sizeof(small)),
                 CIR_ENOTFOUND);
    cr_expect_eq(strlen(small), sizeof(small) - 1);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

Test(common_preset, load_checks_the_name_inside_and_prefixes_the_path)
{
    char dir[] = "/tmp/cir-preset-XXXXXX", path[256], err[512];
    cir_preset_t p;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/copy.json", dir);
    write_preset(dir, "copy",
                 "{\"name\":\"web\",\"video\":{\"rungs\":[" RUNG "]}}");
    cr_assert_eq(cir_preset_load(dir, "copy", &p, err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_not_null(strstr(err, "does not match the file name \"copy\""),
                       "%s", err);

    write_preset(dir, "copy", "{\"video\":{\"rungs\":[" RUNG "]}}");
    cr_assert_eq(cir_preset_load(dir, "copy", &p, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_str_eq(p.name, "copy", "a nameless preset takes the file name");

    write_preset(dir, "copy", "{\"video\":{\"codec\":\"A1\"}}");
    cr_assert_eq(cir_preset_load(dir, "copy", &p, err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_not_null(strstr(err, "copy.json: video.codec: \"A1\""), "%s",
                       err);
    unlink(path);
    rmdir(dir);
}

Test(only, parses_lists_strictly)
{
    unsigned bits = 99;

    cr_assert_eq(cir_only_parse("hls", &bits), 0);
    cr_assert_eq(bits, CIR_ONLY_HLS);
    cr_assert_eq(cir_only_parse("dash,thumbs,images", &bits), 0);
    cr_assert_eq(bits, CIR_ONLY_DASH | CIR_ONLY_THUMBS | CIR_ONLY_IMAGES);
    cr_assert_eq(cir_only_parse("hls,hls", &bits), 0);
    cr_assert_eq(bits, CIR_ONLY_HLS);
    cr_assert_eq(cir_only_parse("", &bits), CIR_EINVAL);
    cr_assert_eq(cir_only_parse("hls,", &bits), CIR_EINVAL);
    cr_assert_eq(cir_only_parse(",hls", &bits), CIR_EINVAL);
    cr_assert_eq(cir_only_parse("hls,,dash", &bits), CIR_EINVAL);
    cr_assert_eq(cir_only_parse("HLS", &bits), CIR_EINVAL);
    cr_assert_eq(cir_only_parse("hlsx", &bits), CIR_EINVAL);
    cr_assert_eq(bits, 0u);
    bits = 0;
    cr_assert_eq(cir_only_add_word("thumbsX", 6, &bits), 0);
    cr_assert_eq(bits, CIR_ONLY_THUMBS);
}

Test(preset_dir, configured_then_environment_then_default)
{
    const char *dflt;

    unsetenv("CIRRUS_PRESETS_DIR");
    dflt = cir_preset_dir(NULL);
    cr_assert(dflt != NULL && dflt[0] == '/', "%s", dflt);
    cr_assert_str_eq(cir_preset_dir(""), dflt);
    setenv("CIRRUS_PRESETS_DIR", "", 1);
    cr_assert_str_eq(cir_preset_dir(NULL), dflt, "an empty variable is unset");
    setenv("CIRRUS_PRESETS_DIR", "/env/presets", 1);
    cr_assert_str_eq(cir_preset_dir(NULL), "/env/presets");
    cr_assert_str_eq(cir_preset_dir("/etc/cirrus/presets"),
                     "/etc/cirrus/presets");
    unsetenv("CIRRUS_PRESETS_DIR");
}

/* ---- audio.surround and audio.loudness ---- */

Test(common_preset, surround_and_loudness_default_off)
{
    cir_preset_t p;
    char err[512];

    cr_assert_eq(parse("{\"audio\":{\"enabled\":true},"
                       "\"video\":{\"enabled\":false}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_eq(p.surround_enabled, 0);
    cr_expect_str_eq(p.surround_codec, "eac3");
    cr_expect_eq(p.surround_bitrate_kbps, 384);
    cr_expect_str_eq(p.loudness_standard, "");
    cr_expect_float_eq(p.loudness_target_lufs, 0, 1e-9, "off");
    cr_expect_float_eq(p.loudness_true_peak_db, 0, 1e-9);
}

Test(common_preset, surround_fields_parse)
{
    cir_preset_t p;
    char err[512];

    cr_assert_eq(parse("{\"video\":{\"enabled\":false},\"audio\":{"
                       "\"surround\":{\"enabled\":true,\"codec\":\"ac3\","
                       "\"bitrate_kbps\":448}}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_eq(p.surround_enabled, 1);
    cr_expect_str_eq(p.surround_codec, "ac3");
    cr_expect_eq(p.surround_bitrate_kbps, 448);
}

Test(common_preset, surround_fields_are_checked)
{
    expect_error("{\"audio\":{\"surround\":{\"bitrate_kbps\":1000}}}",
                 "audio.surround.bitrate_kbps: 1000 is above the maximum 640");
    expect_error("{\"audio\":{\"surround\":{\"bitrate_kbps\":\"384\"}}}",
                 "audio.surround.bitrate_kbps: expected an integer, got a "
                 "string");
    expect_error("{\"audio\":{\"surround\":{\"codec\":\"E-AC3\"}}}",
                 "audio.surround.codec: \"E-AC3\" must be 1 to 15 of a-z 0-9 "
                 ". _ -");
    expect_error("{\"audio\":{\"surround\":{\"channels\":8}}}",
                 "audio.surround.channels: unknown field");
    expect_error("{\"audio\":{\"surround\":true}}",
                 "audio.surround: expected an object, got a boolean");
    expect_error("{\"video\":{\"enabled\":false},\"thumbnails\":{\"enabled\":"
                 "true},\"audio\":{\"enabled\":false,\"surround\":{"
                 "\"enabled\":true}}}",
                 "audio.surround.enabled: true needs audio.enabled");
}

Test(common_preset, loudness_standards_resolve)
{
    cir_preset_t p;
    char err[512];

    cr_assert_eq(parse("{\"video\":{\"enabled\":false},\"audio\":{"
                       "\"loudness\":{\"standard\":\"ebu_r128\"}}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_float_eq(p.loudness_target_lufs, -23, 1e-9);
    cr_expect_float_eq(p.loudness_true_peak_db, -1, 1e-9);
    cr_assert_eq(parse("{\"video\":{\"enabled\":false},\"audio\":{"
                       "\"loudness\":{\"standard\":\"atsc_a85\"}}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_float_eq(p.loudness_target_lufs, -24, 1e-9);
    cr_expect_float_eq(p.loudness_true_peak_db, -2, 1e-9);
    /* a standard with its own target and a stricter ceiling */
    cr_assert_eq(parse("{\"video\":{\"enabled\":false},\"audio\":{"
                       "\"loudness\":{\"standard\":\"ebu_r128\","
                       "\"target_lufs\":-23,\"true_peak_db\":-3}}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_float_eq(p.loudness_target_lufs, -23, 1e-9);
    cr_expect_float_eq(p.loudness_true_peak_db, -3, 1e-9);
    /* a custom target: the ceiling defaults to -1 dBTP */
    cr_assert_eq(parse("{\"video\":{\"enabled\":false},\"audio\":{"
                       "\"loudness\":{\"target_lufs\":-16}}}",
                       &p, err, sizeof(err)),
                 0, "%s", err);
    cr_expect_float_eq(p.loudness_target_lufs, -16, 1e-9);
    cr_expect_float_eq(p.loudness_true_peak_db, -1, 1e-9);
}

Test(common_preset, loudness_fields_are_checked)
{
    expect_error("{\"audio\":{\"loudness\":{\"standard\":\"r128\"}}}",
                 "audio.loudness.standard: \"r128\" is not one of "
                 "\"ebu_r128\", \"atsc_a85\" (or \"\": none)");
    expect_error("{\"audio\":{\"loudness\":{\"target_lufs\":-60}}}",
                 "audio.loudness.target_lufs: -60 is below the minimum -40 "
                 "(0: automatic)");
    expect_error("{\"audio\":{\"loudness\":{\"target_lufs\":3}}}",
                 "audio.loudness.target_lufs: 3 is above the maximum -5");
    expect_error("{\"audio\":{\"loudness\":{\"true_peak_db\":1}}}",
                 "audio.loudness.true_peak_db: 1 is above the maximum -0.1");
    expect_error("{\"audio\":{\"loudness\":\"ebu_r128\"}}",
                 "audio.loudness: expected an object, got a string");
    expect_error("{\"video\":{\"enabled\":false},\"audio\":{\"loudness\":{"
                 "\"standard\":\"ebu_r128\",\"target_lufs\":-16}}}",
                 "audio.loudness.target_lufs: -16 differs from the -23 LUFS "
                 "of audio.loudness.standard \"ebu_r128\": give one of them");
    expect_error("{\"video\":{\"enabled\":false},\"audio\":{\"loudness\":{"
                 "\"true_peak_db\":-2}}}",
                 "audio.loudness.true_peak_db: set without a target "
                 "(audio.loudness.standard or audio.loudness.target_lufs)");
    expect_error("{\"video\":{\"enabled\":false},\"thumbnails\":{\"enabled\":"
                 "true},\"audio\":{\"enabled\":false,\"loudness\":{"
                 "\"standard\":\"atsc_a85\"}}}",
                 "audio.loudness: normalisation needs audio.enabled");
}

Test(common_preset, loudness_standard_table)
{
    double lufs = 0, tp = 0;

    cr_assert_eq(cir_preset_loudness_standard("ebu_r128", &lufs, &tp), 0);
    cr_expect_float_eq(lufs, -23, 1e-9);
    cr_expect_float_eq(tp, -1, 1e-9);
    cr_assert_eq(cir_preset_loudness_standard("atsc_a85", NULL, &tp), 0);
    cr_expect_float_eq(tp, -2, 1e-9);
    cr_expect_eq(cir_preset_loudness_standard("EBU_R128", &lufs, &tp),
                 CIR_EINVAL);
    cr_expect_eq(cir_preset_loudness_standard(NULL, &lufs, &tp), CIR_EINVAL);
}

static int
override(cir_preset_t *p, const char *json, char *err, size_t errsize)
{
    json_t *v = json_loads(json, 0, NULL);
    int ret;

    cr_assert_not_null(v, "%s", json);
    err[0] = '\0';
    ret = cir_preset_override_rungs(p, v, err, errsize);
    json_decref(v);
    return ret;
}

/* A job's "rungs": fields changed by the rung table's rules, null drops
 * a rung, the order of the rest kept. */
Test(common_preset, rung_overrides_change_and_drop)
{
    cir_preset_t p;
    char err[512] = "";

    cr_assert_eq(cir_preset_load(presets_dir(), "mobile", &p, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(p.nb_rungs, 4);
    cr_assert_eq(override(&p,
                          "{\"480p\":{\"bitrate_kbps\":300,\"maxrate_kbps\":"
                          "400},\"720p\":null,\"234p\":null}",
                          err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(p.nb_rungs, 2);
    cr_assert_str_eq(p.rungs[0].name, "480p");
    cr_assert_eq(p.rungs[0].bitrate_kbps, 300);
    cr_assert_eq(p.rungs[0].maxrate_kbps, 400);
    cr_assert_eq(p.rungs[0].height, 480, "the rest stays");
    cr_assert_str_eq(p.rungs[1].name, "360p");
    cr_assert_eq(p.rungs[1].bitrate_kbps, 500);
}

Test(common_preset, rung_overrides_refused_with_the_field)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{\"1080p\":null}",
         "rungs.1080p: the preset has no rung of that name"},
        {"{\"720p\":{\"bitrate_kbps\":0}}",
         "rungs.720p.bitrate_kbps: 0 is below the minimum 16"},
        {"{\"720p\":{\"bitrate_kbps\":\"fast\"}}",
         "rungs.720p.bitrate_kbps: expected an integer, got a string"},
        {"{\"720p\":{\"height\":721}}",
         "video.rungs[0].height: 721 is not even"},
        {"{\"720p\":{\"colour\":1}}", "rungs.720p.colour: unknown field"},
        {"{\"720p\":{\"name\":\"hd\"}}",
         "rungs.720p.name: a rung keeps its name"},
        {"{\"720p\":5}",
         "rungs.720p: expected an object or null, got an integer"},
        {"{\"720p\":null,\"480p\":null,\"360p\":null,\"234p\":null}",
         "video.rungs: at least one rung is needed when video is enabled"},
        {"[1]", "rungs: expected an object of rung names, got an array"},
    };
    cir_preset_t p, before;
    char err[512] = "";

    cr_assert_eq(cir_preset_load(presets_dir(), "mobile", &p, err, sizeof(err)),
                 0, "%s", err);
    before = p;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(override(&p, cases[i].json, err, sizeof(err)), CIR_EINVAL,
                     "%s", cases[i].json);
        cr_expect_str_eq(err, cases[i].msg, "%s", cases[i].json);
        cr_expect(memcmp(&p, &before, sizeof(p)) == 0, "p unchanged: %s",
                  cases[i].json);
    }
}
