/*
 * Subtitle renditions (origin/src/manifest_text.c): the WebVTT segmenter
 * (a cue across a boundary in both segments, edges, X-TIMESTAMP-MAP), the
 * whole file, the text media playlist, the master's EXT-X-MEDIA
 * TYPE=SUBTITLES and SUBTITLES group, the MPD's text AdaptationSets
 * (goldens), and the model's validation.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <string.h>

#include "asset_fixture.h"
#include "cir_error.h"
#include "golden.h"

TestSuite(origin_text, .init = setup, .fini = teardown);

/* On the ladder's video segments: 0-6, 6-12, 12-18, 18-19.5 s. */
static const cir_text_cue_t en_cues[] = {
    {1000, 2500, "Tom &amp; Jerry"},
    {5500, 6500, "<i>Across</i> the boundary"},
    {11000, 12000, "Ends where the third starts"},
    {12000, 13000, "Starts with the third\non two lines"},
    {19000, 19500, "The last"},
};
static const cir_text_cue_t fr_cues[] = {{2000, 3000, "Bonjour"}};

static cir_text_track_t texts[2];

static cir_text_track_t
track(const char *id, const char *lang, const char *name, cir_text_kind_t kind,
      const cir_text_cue_t *cues, size_t n)
{
    const cir_rendition_t *v = &fx.r[0];
    cir_text_track_t t = {
        .id = id,
        .language = lang,
        .name = name,
        .kind = kind,
        .timescale = v->timescale,
        .start_number = v->start_number,
        .segments = v->segments,
        .nb_segments = v->nb_segments,
        .cues = cues,
        .nb_cues = n,
    };
    return t;
}

/* The ladder with English captions (default) and French forced
 * subtitles. */
static cir_asset_t *
with_texts(void)
{
    ladder();
    texts[0] =
        track("subs-en", "en", "English CC", CIR_TEXT_CAPTIONS, en_cues, 5);
    texts[0].is_default = 1;
    texts[1] =
        track("subs-fr", "fr", "Français (forcé)", CIR_TEXT_FORCED, fr_cues, 1);
    fx.a.texts = texts;
    fx.a.nb_texts = 2;
    return &fx.a;
}

static const char *
segment(size_t k)
{
    cir_buf_reset(&out);
    cr_assert_eq(cir_vtt_render_text_segment(&texts[0], k, &out), 0);
    return out.data;
}

Test(origin_text, segment_has_timestamp_map_and_its_cues)
{
    with_texts();
    cr_assert_str_eq(segment(0), "WEBVTT\n"
                                 "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"
                                 "\n"
                                 "00:00:01.000 --> 00:00:02.500\n"
                                 "Tom &amp; Jerry\n"
                                 "\n"
                                 "00:00:05.500 --> 00:00:06.500\n"
                                 "<i>Across</i> the boundary\n"
                                 "\n");
}

Test(origin_text, cue_across_a_boundary_is_in_both_segments)
{
    with_texts();
    cr_assert(strstr(segment(0), "00:00:05.500 --> 00:00:06.500\n<i>Across"));
    cr_assert(strstr(segment(1), "00:00:05.500 --> 00:00:06.500\n<i>Across"),
              "%s", out.data);
    cr_assert_null(strstr(segment(2), "Across"));
}

Test(origin_text, cue_ending_at_a_boundary_is_in_one_segment)
{
    with_texts();
    cr_assert(strstr(segment(1), "Ends where the third starts"));
    cr_assert_null(strstr(segment(2), "Ends where the third starts"));
    cr_assert_null(strstr(segment(1), "Starts with the third"));
    cr_assert(strstr(segment(2), "00:00:12.000 --> 00:00:13.000\n"
                                 "Starts with the third\non two lines\n\n"));
}

Test(origin_text, empty_segment_is_a_header)
{
    static const cir_text_cue_t one[] = {{500, 900, "early"}};

    with_texts();
    texts[0].cues = one;
    texts[0].nb_cues = 1;
    cr_assert_str_eq(segment(2), "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,"
                                 "LOCAL:00:00:00.000\n\n");
}

Test(origin_text, first_and_last_segments_take_the_cues_outside)
{
    static const cir_text_cue_t outside[] = {
        {0, 100, "before the video's first frame"},
        {25000, 26000, "after the last segment"},
    };
    with_texts();
    /* the video starts at 0.5 s: its segments move */
    for (size_t i = 0; i < 4; i++) {
        fx.vseg[0][i].start += V_TS / 2;
    }
    texts[0].cues = outside;
    texts[0].nb_cues = 2;
    cr_assert(strstr(segment(0), "before the video"));
    cr_assert(strstr(segment(3), "after the last segment"));
    cr_assert_null(strstr(segment(1), "after"));
}

Test(origin_text, full_file_has_every_cue)
{
    with_texts();
    cr_assert_eq(cir_vtt_render_text_full(&texts[0], &out), 0);
    cr_assert_eq(strncmp(out.data, "WEBVTT\n\n00:00:01.000 --> ", 25), 0);
    cr_assert_null(strstr(out.data, "X-TIMESTAMP-MAP"));
    cr_assert(strstr(out.data, "00:00:19.000 --> 00:00:19.500\nThe last\n\n"));
}

Test(origin_text, segment_out_of_range_fails)
{
    with_texts();
    cr_assert_eq(cir_vtt_render_text_segment(&texts[0], 4, &out), CIR_EINVAL);
    cr_assert_eq(out.len, 0);
}

Test(origin_text, text_playlist_golden)
{
    cr_assert_eq(cir_hls_render_text(with_texts(), &texts[0], &out), 0);
    check_golden("ladder_subs_en.m3u8", &out);
}

Test(origin_text, master_golden)
{
    cr_assert_eq(cir_hls_render_master(with_texts(), &out), 0);
    check_golden("ladder_subs_master.m3u8", &out);
}

Test(origin_text, master_with_base)
{
    cir_asset_t *a = with_texts();

    a->base = "v/abc/";
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_assert(contains("URI=\"v/abc/subs-en/index.m3u8\""), "%s", out.data);
}

Test(origin_text, master_subtitle_attributes)
{
    cr_assert_eq(cir_hls_render_master(with_texts(), &out), 0);
    cr_assert(contains("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\","
                       "LANGUAGE=\"en\",NAME=\"English CC\",DEFAULT=YES,"
                       "AUTOSELECT=YES,FORCED=NO,CHARACTERISTICS=\"public."
                       "accessibility.transcribes-spoken-dialog,public."
                       "accessibility.describes-music-and-sound\","
                       "URI=\"subs-en/index.m3u8\"\n"));
    cr_assert(contains("LANGUAGE=\"fr\",NAME=\"Français (forcé)\",DEFAULT=NO,"
                       "AUTOSELECT=YES,FORCED=YES,URI="));
    /* every variant names the group */
    for (const char *p = strstr(out.data, "#EXT-X-STREAM-INF:"); p != NULL;
         p = strstr(p + 1, "#EXT-X-STREAM-INF:")) {
        const char *eol = strchr(p, '\n');
        cr_assert(strstr(p, ",SUBTITLES=\"subs\"") != NULL &&
                  strstr(p, ",SUBTITLES=\"subs\"") < eol);
    }
}

Test(origin_text, audio_only_variants_name_the_group)
{
    cir_asset_t *a = (cir_asset_t *)audio_only();

    texts[0] = (cir_text_track_t){.id = "subs-en",
                                  .language = "en",
                                  .name = "English",
                                  .timescale = A_TS,
                                  .start_number = 1,
                                  .segments = fx.aseg,
                                  .nb_segments = 4,
                                  .cues = en_cues,
                                  .nb_cues = 5};
    a->texts = texts;
    a->nb_texts = 1;
    cr_assert_eq(cir_hls_render_master(a, &out), 0);
    cr_assert(contains("CODECS=\"mp4a.40.2\",SUBTITLES=\"subs\"\n"), "%s",
              out.data);
}

Test(origin_text, mpd_golden)
{
    cr_assert_eq(cir_dash_render_static(with_texts(), &out), 0);
    check_golden("ladder_subs.mpd", &out);
}

Test(origin_text, mpd_text_sets)
{
    cr_assert_eq(cir_dash_render_static(with_texts(), &out), 0);
    cr_assert(contains("<AdaptationSet id=\"2\" contentType=\"text\" "
                       "mimeType=\"text/vtt\" lang=\"en\">\n"
                       "      <Label>English CC</Label>\n"
                       "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
                       "value=\"caption\"/>\n"
                       "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
                       "value=\"main\"/>\n"
                       "      <Representation id=\"subs-en\" "
                       "bandwidth=\"256\">\n"
                       "        <BaseURL>subs-en/full.vtt</BaseURL>\n"),
              "%s", out.data);
    cr_assert(contains("value=\"forced-subtitle\""));
    /* the thumbnails come after, numbered on */
    cr_assert(contains("<AdaptationSet id=\"4\" contentType=\"image\""));
}

Test(origin_text, mpd_label_is_escaped)
{
    with_texts();
    texts[1].name = "A & <B>";
    cr_assert_eq(cir_dash_render_static(&fx.a, &out), 0);
    cr_assert(contains("<Label>A &amp; &lt;B&gt;</Label>"));
}

/* ---- validation: nothing rendered ---- */

static void
assert_refused(void)
{
    cr_assert_eq(cir_hls_render_master(&fx.a, &out), CIR_EINVAL);
    cr_assert_eq(cir_dash_render_static(&fx.a, &out), CIR_EINVAL);
    cr_assert_eq(out.len, 0);
}

Test(origin_text, two_defaults_refused)
{
    with_texts();
    texts[1].is_default = 1;
    assert_refused();
}

Test(origin_text, quote_in_name_refused)
{
    with_texts();
    texts[0].name = "Say \"hi\"";
    assert_refused();
}

Test(origin_text, bad_language_refused)
{
    with_texts();
    texts[0].language = "en\",X=\"";
    assert_refused();
}

Test(origin_text, id_of_a_rendition_refused)
{
    with_texts();
    texts[0].id = "720p";
    assert_refused();
}

Test(origin_text, same_id_twice_refused)
{
    with_texts();
    texts[1].id = "subs-en";
    assert_refused();
}

Test(origin_text, same_name_twice_refused)
{
    with_texts();
    texts[1].name = "English CC";
    assert_refused();
}

Test(origin_text, unsorted_cues_refused)
{
    static const cir_text_cue_t bad[] = {{3000, 4000, "b"}, {1000, 2000, "a"}};

    with_texts();
    texts[0].cues = bad;
    texts[0].nb_cues = 2;
    assert_refused();
    cr_assert_eq(cir_vtt_render_text_full(&texts[0], &out), CIR_EINVAL);
}

Test(origin_text, empty_cue_refused)
{
    static const cir_text_cue_t bad[] = {{3000, 3000, "zero"}};

    with_texts();
    texts[0].cues = bad;
    texts[0].nb_cues = 1;
    assert_refused();
}

Test(origin_text, no_segments_refused)
{
    with_texts();
    texts[0].nb_segments = 0;
    assert_refused();
}
