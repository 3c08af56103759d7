/* common/src/preset_options.c: the preset option table's defaults and the
 * help printed from it (parsing against the table: test_common_preset.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_preset.h"

Test(common_preset_options, defaults)
{
    cir_preset_t p;

    cir_preset_defaults(&p);
    cr_assert_eq(p.video_enabled, 1);
    /* the transcoder's defaults, not common's (test_transcoder_preset_codecs)
     */
    cr_assert_str_eq(p.video_codec, "");
    cr_assert_str_eq(p.encoder_preset, "");
    cr_assert_float_eq(p.gop_seconds, 2.0, 1e-9);
    cr_assert_float_eq(p.max_frame_rate, 60.0, 1e-9);
    cr_assert_eq(p.nb_rungs, 0);
    cr_assert_eq(p.audio_enabled, 1);
    cr_assert_eq(p.audio_bitrate_kbps, 128);
    cr_assert_eq(p.audio_channels, 2);
    cr_assert_eq(p.audio_sample_rate, 48000);
    cr_assert_float_eq(p.segment_seconds, 6.0, 1e-9);
    cr_assert_eq(p.thumbs_enabled, 1);
    cr_assert_float_eq(p.thumb_interval, 5.0, 1e-9);
    cr_assert_eq(p.thumb_width, 160);
    cr_assert_eq(p.sprite_columns, 10);
    cr_assert_eq(p.sprite_rows, 10);
    cr_assert_eq(p.poster_width, 1280);
    cr_assert_eq(p.images_enabled, 1);
    cr_assert_eq(p.nb_image_widths, 0);
    cr_assert_eq(p.image_jpeg, 1);
    cr_assert_eq(p.image_webp, 1);
    cr_assert_eq(p.jpeg_quality, 85);
    cr_assert_eq(p.webp_quality, 80);
}

Test(common_preset_options, help_lists_every_field)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const char *fields[] = {"video.gop_seconds",
                            "video.rungs[].bitrate_kbps",
                            "images.widths[]",
                            "thumbnails.sprite_rows",
                            "audio.sample_rate",
                            "segment_seconds",
                            "audio.surround.bitrate_kbps",
                            "audio.loudness.standard",
                            "audio.loudness.true_peak_db"};

    cir_preset_print_help(f);
    fclose(f);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        cr_expect_not_null(strstr(text, fields[i]), "%s", fields[i]);
    }
    cr_assert_not_null(strstr(text, "0.5..10"));
    free(text);
}
