/*
 * cir_audio_choose: which source audio streams become renditions, their
 * ids, languages, names and default, and one log line per stream, over
 * AVFormatContexts built in memory (no media needed).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "audio_select.h"
#include "cir_error.h"
#include "cir_log.h"

static AVFormatContext *ic;
static char err[512];
static char logged[8192];

static void
capture(void *opaque, cir_log_level_t level, const char *line)
{
    size_t len = strlen(logged);

    (void)opaque;
    snprintf(logged + len, sizeof(logged) - len, "%s%s\n",
             level == CIR_LOG_WARN ? "W " : "I ", line);
}

static void
setup(void)
{
    ic = avformat_alloc_context();
    cr_assert_not_null(ic);
    logged[0] = '\0';
    err[0] = '\0';
    cir_log_set_sink(capture, NULL);
}

static void
teardown(void)
{
    cir_log_set_sink(NULL, NULL);
    avformat_free_context(ic);
}

TestSuite(audio_select, .init = setup, .fini = teardown);

static AVStream *
add(enum AVMediaType type, enum AVCodecID codec, const char *lang,
    const char *handler, int dflt)
{
    AVStream *st = avformat_new_stream(ic, NULL);

    cr_assert_not_null(st);
    st->codecpar->codec_type = type;
    st->codecpar->codec_id = codec;
    if (lang) {
        av_dict_set(&st->metadata, "language", lang, 0);
    }
    if (handler) {
        av_dict_set(&st->metadata, "handler_name", handler, 0);
    }
    st->disposition = dflt ? AV_DISPOSITION_DEFAULT : 0;
    return st;
}

static AVStream *
add_audio(const char *lang, const char *handler, int dflt)
{
    return add(AVMEDIA_TYPE_AUDIO, AV_CODEC_ID_AAC, lang, handler, dflt);
}

static int
choose(const cir_audio_tracks_t *sel, cir_audio_choice_t *out)
{
    const cir_log_ctx_t log = {.component = "transcode"};

    return cir_audio_choose(ic, sel, 1, &log, out, err, sizeof(err));
}

static size_t
count(const char *needle)
{
    size_t n = 0;

    for (const char *p = logged; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

/* Every track in source order; ids keep "audio" for the first; the
 * source's default disposition makes the default. */
Test(audio_select, every_track_in_source_order)
{
    cir_audio_choice_t c[CIR_AUDIO_TRACKS_MAX];
    AVStream *third;

    add(AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_H264, "und", "VideoHandler", 1);
    add_audio("eng", "English commentary", 0);
    add_audio("fre", "SoundHandler", 1);
    third = add_audio(NULL, "Core Media Audio", 0);
    av_dict_set(&third->metadata, "title", "Director's \"cut\"\ttrack", 0);

    cr_assert_eq(choose(NULL, c), 3, "%s", err);
    cr_expect_eq(c[0].stream, 1);
    cr_expect_str_eq(c[0].id, "audio");
    cr_expect_str_eq(c[0].language, "en");
    cr_expect_str_eq(c[0].name, "English commentary");
    cr_expect_eq(c[0].is_default, 0);
    cr_expect_str_eq(c[1].id, "audio-2");
    cr_expect_str_eq(c[1].language, "fr");
    cr_expect_str_eq(c[1].name, "French", "a generic handler is no name");
    cr_expect_eq(c[1].is_default, 1);
    cr_expect_str_eq(c[2].id, "audio-3");
    cr_expect_str_eq(c[2].language, "und");
    cr_expect_str_eq(c[2].name, "Director's 'cut' track",
                     "a title is made safe for a NAME");
    cr_expect_eq(count("audio stream "), 3, "%s", logged);
    cr_expect_eq(count("rendition audio-2, language fr, name \"French\", "
                       "default"),
                 1, "%s", logged);
}

/* No default disposition: the first; no language, no name: "Audio N";
 * two tracks whose names would clash are told apart. */
Test(audio_select, fallbacks_and_unique_names)
{
    cir_audio_choice_t c[CIR_AUDIO_TRACKS_MAX];

    add_audio("und", "SoundHandler", 0);
    add_audio("eng", NULL, 0);
    add_audio("en", NULL, 0);
    cr_assert_eq(choose(NULL, c), 3, "%s", err);
    cr_expect_eq(c[0].is_default, 1);
    cr_expect_str_eq(c[0].name, "Audio 1");
    cr_expect_str_eq(c[1].name, "English");
    cr_expect_str_eq(c[2].name, "English (3)");
    cr_expect_str_eq(c[2].language, "en");
}

/* The job's selection: its order, its language and name, its default
 * (else its first); the others are dropped, each said in the log. */
Test(audio_select, the_job_selects_orders_and_overrides)
{
    cir_audio_choice_t c[CIR_AUDIO_TRACKS_MAX];
    cir_audio_tracks_t sel = {.nb = 2};

    add_audio("eng", NULL, 1);
    add(AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_H264, NULL, NULL, 1);
    add_audio("fra", NULL, 0);
    add_audio("deu", NULL, 0);
    sel.tracks[0] = (cir_audio_track_t){.index = 2};
    snprintf(sel.tracks[0].language, sizeof(sel.tracks[0].language), "de-AT");
    snprintf(sel.tracks[0].name, sizeof(sel.tracks[0].name), "%s",
             "\xc3\x96sterreichisch");
    sel.tracks[1] = (cir_audio_track_t){.index = 1};

    cr_assert_eq(choose(&sel, c), 2, "%s", err);
    cr_expect_eq(c[0].stream, 3);
    cr_expect_eq(c[0].source, 2);
    cr_expect_str_eq(c[0].id, "audio");
    cr_expect_str_eq(c[0].language, "de-AT");
    cr_expect_str_eq(c[0].name, "\xc3\x96sterreichisch");
    cr_expect_eq(c[0].is_default, 1, "the job's first, not the source's");
    cr_expect_eq(c[0].requested, 1);
    cr_expect_eq(c[1].stream, 2);
    cr_expect_str_eq(c[1].id, "audio-2");
    cr_expect_str_eq(c[1].language, "fr");
    cr_expect_eq(c[1].is_default, 0);
    cr_expect_eq(count("audio stream 0 (aac, language eng): dropped (not in "
                       "audio_tracks)"),
                 1, "%s", logged);

    sel.tracks[1].is_default = 1;
    cr_assert_eq(choose(&sel, c), 2, "%s", err);
    cr_expect_eq(c[0].is_default, 0);
    cr_expect_eq(c[1].is_default, 1);
}

Test(audio_select, a_stream_the_source_lacks_is_the_jobs_error)
{
    cir_audio_choice_t c[CIR_AUDIO_TRACKS_MAX];
    cir_audio_tracks_t sel = {.nb = 2};

    add_audio("eng", NULL, 1);
    add_audio("fra", NULL, 0);
    sel.tracks[0].index = 0;
    sel.tracks[1].index = 2;
    cr_expect_eq(choose(&sel, c), CIR_EINVAL);
    cr_expect_str_eq(err,
                     "audio_tracks[1].index: 2, but the source has 2 audio "
                     "streams");
}

/* A track without a decoder: dropped and said when every track is
 * taken, the job's error when the job names it. */
Test(audio_select, undecodable_tracks)
{
    cir_audio_choice_t c[CIR_AUDIO_TRACKS_MAX];
    cir_audio_tracks_t sel = {.nb = 1};

    add(AVMEDIA_TYPE_AUDIO, AV_CODEC_ID_NONE, "eng", NULL, 1);
    add_audio("fra", NULL, 0);
    cr_assert_eq(choose(NULL, c), 1, "%s", err);
    cr_expect_eq(c[0].source, 1);
    cr_expect_str_eq(c[0].id, "audio");
    cr_expect_eq(count("audio stream 0 (none, language eng): dropped (no "
                       "decoder)"),
                 1, "%s", logged);
    sel.tracks[0].index = 0;
    cr_expect_eq(choose(&sel, c), CIR_EINVAL);
    cr_expect_not_null(strstr(err, "audio_tracks[0].index"), "%s", err);
}

Test(audio_select, at_most_sixteen_and_none_when_disabled)
{
    cir_audio_choice_t c[CIR_AUDIO_TRACKS_MAX];
    const cir_log_ctx_t log = {.component = "transcode"};

    for (int i = 0; i < CIR_AUDIO_TRACKS_MAX + 2; i++) {
        add_audio("eng", NULL, 0);
    }
    cr_assert_eq(choose(NULL, c), CIR_AUDIO_TRACKS_MAX);
    cr_expect_str_eq(c[15].id, "audio-16");
    cr_expect_eq(count("dropped (at most 16 audio renditions)"), 2, "%s",
                 logged);

    logged[0] = '\0';
    cr_expect_eq(cir_audio_choose(ic, NULL, 0, &log, c, err, sizeof(err)), 0);
    cr_expect_eq(count("dropped (no audio output)"), CIR_AUDIO_TRACKS_MAX + 2,
                 "%s", logged);
}
