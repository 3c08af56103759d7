/*
 * Sidecar subtitles (transcoder/src/subtitles.c): SubRip, WebVTT, ASS, SCC
 * (drop-frame and non-drop time codes) and TTML
 * read through libavformat/libavcodec into escaped WebVTT cues; bad files
 * (missing, empty, not UTF-8, not a subtitle format, no cue) refused with
 * the entry named; publishing clips the cues to the media (logged), follows
 * the video's segments and writes seg-<n>.vtt, index.m3u8 and full.vtt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "cir_error.h"
#include "cir_preset.h"
#include "cir_storage.h"
#include "dir_fixture.h"
#include "subtitles.h"

static cir_subtitle_specs_t specs;
static cir_subtitles_t *subs;
static char why[1024], dir[256];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cirrus-subs-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    memset(&specs, 0, sizeof(specs));
}

static void
teardown(void)
{
    char cmd[300];

    cir_subtitles_free(&subs);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(subtitles, .init = setup, .fini = teardown);

static const char *
sample(const char *name)
{
    static char path[1024];
    const char *src = getenv("CIRRUS_SOURCE_DIR");

    snprintf(path, sizeof(path), "%s/samples/subtitles/%s", src ? src : "..",
             name);
    return path;
}

/* A file in the test's folder with these bytes. */
static const char *
file_with(const char *name, const void *data, size_t len)
{
    static char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static void
add_spec(const char *uri, const char *lang, const char *encoding)
{
    cir_subtitle_spec_t *s = &specs.items[specs.count];

    snprintf(s->uri, sizeof(s->uri), "%s", uri);
    snprintf(s->language, sizeof(s->language), "%s", lang);
    snprintf(s->name, sizeof(s->name), "%s", lang);
    snprintf(s->id, sizeof(s->id), "subs-%s", lang);
    snprintf(s->encoding, sizeof(s->encoding), "%s", encoding ? encoding : "");
    specs.count++;
}

static int
load(void)
{
    why[0] = '\0';
    return cir_subtitles_load(&subs, &specs, NULL, NULL, why, sizeof(why));
}

static void
assert_cue(const cir_text_track_t *t, size_t i, int64_t start, int64_t end,
           const char *text)
{
    cr_assert_lt(i, t->nb_cues);
    cr_assert_eq(t->cues[i].start_ms, start, "cue %zu starts at %lld", i,
                 (long long)t->cues[i].start_ms);
    cr_assert_eq(t->cues[i].end_ms, end, "cue %zu ends at %lld", i,
                 (long long)t->cues[i].end_ms);
    cr_assert_str_eq(t->cues[i].text, text);
}

Test(subtitles, srt_cues_escaped)
{
    const cir_text_track_t *t;

    add_spec(sample("sample.en.srt"), "en", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    cr_assert_eq(cir_subtitles_count(subs), 1);
    t = cir_subtitles_track(subs, 0);
    cr_assert_eq(t->nb_cues, 4);
    assert_cue(t, 0, 500, 1400, "Tom &amp; Jerry: 1 &lt; 2");
    assert_cue(t, 1, 1500, 2600, "<i>Across the boundary</i>");
    assert_cue(t, 2, 3200, 4000, "Third cue\non two lines");
    assert_cue(t, 3, 5500, 9000, "Past the end of the media");
    cr_assert_str_eq(t->id, "subs-en");
    cr_assert_str_eq(t->language, "en");
}

Test(subtitles, webvtt_markup_kept)
{
    const cir_text_track_t *t;

    add_spec(sample("sample.fr.vtt"), "fr", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    t = cir_subtitles_track(subs, 0);
    cr_assert_eq(t->nb_cues, 2);
    assert_cue(t, 0, 700, 1600, "<b>Bonjour</b> &amp; bienvenue");
    assert_cue(t, 1, 3300, 4100, "Troisième réplique");
}

Test(subtitles, ass_styles_become_webvtt)
{
    static const char ass[] =
        "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, Bold, Italic\n"
        "Style: Default,Arial,20,&H00FFFFFF,0,0\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, "
        "Effect, Text\n"
        "Dialogue: 0,0:00:02.00,0:00:03.50,Default,,0,0,0,,{\\i1}Rock{\\i0} "
        "& roll\\Nline two\n"
        "Dialogue: 0,0:00:01.00,0:00:01.50,Default,,0,0,0,,First\n";
    const cir_text_track_t *t;

    add_spec(file_with("a.ass", ass, sizeof(ass) - 1), "en", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    t = cir_subtitles_track(subs, 0);
    cr_assert_eq(t->nb_cues, 2);
    assert_cue(t, 0, 1000, 1500, "First"); /* sorted by start */
    assert_cue(t, 1, 2000, 3500, "<i>Rock</i> &amp; roll\nline two");
}

/* Scenarist SCC: CEA-608 pop-on captions (odd parity bytes), each shown
 * until the erase at the next time code. */
Test(subtitles, scc_captions)
{
    static const char scc[] =
        "Scenarist_SCC V1.0\n\n"
        "00:00:01:00\t9420 9420 94ae 94ae 9452 9452 c8e5 ecec ef80 942f "
        "942f\n\n"
        "00:00:03:00\t942c 942c\n\n"
        "00:00:04:00\t9420 9420 94ae 94ae 9452 9452 57ef f2ec 6480 942f "
        "942f\n\n"
        "00:00:05:00\t942c 942c\n\n";
    const cir_text_track_t *t;

    add_spec(file_with("c.scc", scc, sizeof(scc) - 1), "en", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    t = cir_subtitles_track(subs, 0);
    cr_assert_eq(t->nb_cues, 2);
    /* non-drop time codes count 30 frames of 1.001/30 s */
    assert_cue(t, 0, 1001, 3003, "Hello");
    assert_cue(t, 1, 4004, 5005, "World");
}

/* Drop-frame time codes (';'): frames 0 and 1 of each minute but every
 * tenth are not counted, so 00:01:00;02 is frame 1800, 60.060 s, and
 * 01:00:00;00 frame 107892, 3599.996 s (FFmpeg alone: 60.066, 3600.000). */
Test(subtitles, scc_drop_frame_times)
{
    static const char scc[] =
        "Scenarist_SCC V1.0\n\n"
        "00:01:00;02\t9420 9420 94ae 94ae 9452 9452 c8e5 ecec ef80 942f "
        "942f\n\n"
        "00:01:02;00\t942c 942c\n\n"
        "01:00:00;00\t9420 9420 94ae 94ae 9452 9452 57ef f2ec 6480 942f "
        "942f\n\n"
        "01:00:01;00\t942c 942c\n\n";
    const cir_text_track_t *t;

    add_spec(file_with("df.scc", scc, sizeof(scc) - 1), "en", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    t = cir_subtitles_track(subs, 0);
    cr_assert_eq(t->nb_cues, 2);
    assert_cue(t, 0, 60060, 61995, "Hello");
    assert_cue(t, 1, 3599996, 3600997, "World");
}

/* TTML (IMSC1): clock times, frames at 25 fps, ticks, an offset with dur;
 * text escaped, <br/> a new line, italic from a style, bold from a span. */
Test(subtitles, ttml_cues)
{
    const cir_text_track_t *t;

    add_spec(sample("sample.de.ttml"), "de", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    t = cir_subtitles_track(subs, 0);
    cr_assert_eq(t->nb_cues, 4);
    assert_cue(t, 0, 500, 1400, "Tom &amp; Jerry: 1 &lt; 2");
    assert_cue(t, 1, 1480, 2600, "<i>Über die Grenze</i>");
    assert_cue(t, 2, 3200, 4000, "Dritte Zeile\nauf <b>zwei</b> Zeilen");
    assert_cue(t, 3, 5500, 9000, "Nach dem Ende");
}

Test(subtitles, ttml_open_end_and_dfxp_extension)
{
    static const char dfxp[] =
        "<tt xmlns=\"http://www.w3.org/2006/10/ttaf1\"><body><div>"
        "<p begin=\"2s\">second</p><p begin=\"1s\" end=\"1.5s\">first</p>"
        "<p begin=\"4s\" end=\"5s\">third</p></div></body></tt>";
    const cir_text_track_t *t;

    add_spec(file_with("c.DFXP", dfxp, sizeof(dfxp) - 1), "en", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    t = cir_subtitles_track(subs, 0);
    cr_assert_eq(t->nb_cues, 3);
    assert_cue(t, 0, 1000, 1500, "first");
    assert_cue(t, 1, 2000, 4000, "second"); /* ends where the next starts */
    assert_cue(t, 2, 4000, 5000, "third");
}

Test(subtitles, ttml_malformed_named)
{
    static const char bad[] = "<tt><body>\n<p begin=\"1s\">x</div></tt>";

    add_spec(file_with("bad.ttml", bad, sizeof(bad) - 1), "en", NULL);
    cr_assert_eq(load(), CIR_EMEDIA);
    cr_assert(strstr(why, "subtitles[0] (") == why, "%s", why);
    cr_assert(strstr(why, "bad.ttml): TTML: not well-formed XML: line 2: "),
              "%s", why);
    cr_assert_null(subs);
}

Test(subtitles, ttml_every_cue_dropped)
{
    static const char xml[] = "<tt><body><p>no begin</p>"
                              "<p begin=\"3s\" end=\"2s\">backwards</p>"
                              "</body></tt>";

    add_spec(file_with("none.xml", xml, sizeof(xml) - 1), "en", NULL);
    cr_assert_eq(load(), CIR_EMEDIA);
    cr_assert(strstr(why, "none.xml): no cue in the file"), "%s", why);
}

Test(subtitles, ttml_unknown_encoding)
{
    static const char xml[] = "<tt><body><p begin=\"1s\">x</p></body></tt>";

    add_spec(file_with("e.ttml", xml, sizeof(xml) - 1), "en", "klingon-8");
    cr_assert_eq(load(), CIR_EMEDIA);
    cr_assert(strstr(why, "e.ttml): TTML: unknown encoding \"klingon-8\""),
              "%s", why);
}

/* No language in the job: the file's xml:lang, its id made unique among
 * the renditions (an SRT given "de" has subs-de already). */
Test(subtitles, ttml_language_from_xml_lang)
{
    const cir_text_track_t *t;

    add_spec(sample("sample.de.ttml"), "", NULL);
    add_spec(sample("sample.en.srt"), "de", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    t = cir_subtitles_track(subs, 0);
    cr_assert_str_eq(t->language, "de");
    cr_assert_str_eq(t->name, "de");
    cr_assert_str_eq(t->id, "subs-de-2");
    cr_assert_str_eq(cir_subtitles_track(subs, 1)->id, "subs-de");
}

Test(subtitles, ttml_no_language_anywhere)
{
    static const char xml[] = "<tt><body><p begin=\"1s\">x</p></body></tt>";
    static const char bad[] = "<tt xml:lang=\"not a tag\"><body>"
                              "<p begin=\"1s\">x</p></body></tt>";

    add_spec(file_with("n.ttml", xml, sizeof(xml) - 1), "", NULL);
    cr_assert_eq(load(), CIR_EINVAL);
    cr_assert(strstr(why, "n.ttml): no language: the job gives none and the "
                          "file has no xml:lang"),
              "%s", why);
    specs.count = 0;
    add_spec(file_with("b.ttml", bad, sizeof(bad) - 1), "", NULL);
    cr_assert_eq(load(), CIR_EINVAL);
    cr_assert(strstr(why, "b.ttml): xml:lang \"not a tag\" is not a BCP 47 "
                          "tag"),
              "%s", why);
}

Test(subtitles, ttml_missing_file)
{
    add_spec("/nonexistent/x.ttml", "en", NULL);
    cr_assert_lt(load(), 0);
    cr_assert(strstr(why, "subtitles[0] (/nonexistent/x.ttml): cannot open"),
              "%s", why);
}

Test(subtitles, unsorted_srt_is_sorted)
{
    static const char srt[] = "1\n00:00:05,000 --> 00:00:06,000\nsecond\n\n"
                              "2\n00:00:01,000 --> 00:00:02,000\nfirst\n\n";
    const cir_text_track_t *t;

    add_spec(file_with("u.srt", srt, sizeof(srt) - 1), "en", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    t = cir_subtitles_track(subs, 0);
    assert_cue(t, 0, 1000, 2000, "first");
    assert_cue(t, 1, 5000, 6000, "second");
}

Test(subtitles, latin1_needs_its_encoding)
{
    static const char srt[] = "1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9\n\n";
    const char *path = file_with("l.srt", srt, sizeof(srt) - 1);

    add_spec(path, "fr", NULL);
    cr_assert_eq(load(), CIR_EMEDIA);
    cr_assert(strstr(why, "subtitles[0] (") == why, "%s", why);
    cr_assert(strstr(why, "cue at 00:00:01.000 is not UTF-8 text: give the "
                          "file's \"encoding\""),
              "%s", why);
    cr_assert_null(subs);

    snprintf(specs.items[0].encoding, sizeof(specs.items[0].encoding),
             "ISO-8859-1");
    cr_assert_eq(load(), 0, "%s", why);
    assert_cue(cir_subtitles_track(subs, 0), 0, 1000, 2000, "Café");
}

Test(subtitles, unknown_encoding_named)
{
    add_spec(sample("sample.en.srt"), "en", "no-such-charset");
    cr_assert_lt(load(), 0);
    cr_assert(strstr(why, "with encoding no-such-charset"), "%s", why);
}

Test(subtitles, missing_file)
{
    add_spec("/nonexistent/a.srt", "en", NULL);
    cr_assert_eq(load(), CIR_ENOTFOUND);
    cr_assert_str_eq(why, "subtitles[0] (/nonexistent/a.srt): input does not "
                          "exist");
}

Test(subtitles, empty_file)
{
    add_spec(file_with("e.srt", "", 0), "en", NULL);
    cr_assert_eq(load(), CIR_EMEDIA);
    cr_assert(strstr(why, "(empty, or not a subtitle file)"), "%s", why);
}

Test(subtitles, no_cue)
{
    static const char vtt[] = "WEBVTT\n\nNOTE nothing here\n";

    add_spec(file_with("n.vtt", vtt, sizeof(vtt) - 1), "en", NULL);
    cr_assert_eq(load(), CIR_EMEDIA);
    cr_assert(strstr(why, "no cue in the file"), "%s", why);
}

Test(subtitles, media_file_refused)
{
    /* an MP4 is an upload container, not a sidecar subtitle format */
    static const unsigned char mp4[] = {
        0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
        0, 0, 2, 0,    'i', 's', 'o', 'm', 'm', 'p', '4', '1'};

    add_spec(file_with("x.mp4", mp4, sizeof(mp4)), "en", NULL);
    cr_assert_eq(load(), CIR_EUNSUPPORTED, "%s", why);
    cr_assert(strstr(why, "not an accepted subtitle format"), "%s", why);
}

Test(subtitles, second_entry_named)
{
    add_spec(sample("sample.en.srt"), "en", NULL);
    add_spec("/nonexistent/b.vtt", "fr", NULL);
    cr_assert_lt(load(), 0);
    cr_assert(strstr(why, "subtitles[1] (/nonexistent/b.vtt)") == why, "%s",
              why);
    cr_assert_null(subs);
}

Test(subtitles, none)
{
    cr_assert_eq(load(), 0);
    cr_assert_null(subs);
    cr_assert_eq(cir_subtitles_count(subs), 0);
}

Test(subtitles, escape)
{
    char out[64];

    cr_assert_eq(
        cir_subtitles_escape("a & b <c> <i>d</i>", 18, out, sizeof(out)), 28);
    cr_assert_str_eq(out, "a &amp; b &lt;c&gt; <i>d</i>");
    cr_assert_eq(
        cir_subtitles_escape("x\r\n\n\ny -->\n\n", 13, out, sizeof(out)), 10);
    cr_assert_str_eq(out, "x\ny --&gt;");
    cr_assert_eq(cir_subtitles_escape("&&&&", 4, out, 10), -1);
}

/* ---- publishing ---- */

static cir_segment_t segs[3] = {
    {0, 180180, 1000}, {180180, 180180, 1000}, {360360, 120120, 1000}};
static cir_rendition_t video = {
    .id = "360p",
    .type = CIR_MEDIA_VIDEO,
    .codecs = "avc1.4d401e",
    .width = 640,
    .height = 360,
    .frame_rate = 29.97,
    .bandwidth = 500000,
    .average_bandwidth = 400000,
    .timescale = 90000,
    .start_number = 1,
    .segments = segs,
    .nb_segments = 3,
};

static cir_store_t *
open_store(void)
{
    cir_store_t *store = NULL;
    cir_uri_t uri;

    cr_assert_eq(cir_uri_parse(dir, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    return store;
}

static char *
read_file(const char *rel)
{
    static char buf[8192];
    char path[512];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

Test(subtitles, publish_clips_and_writes)
{
    cir_asset_t asset = {.duration = 5.339,
                         .segment_seconds = 2,
                         .renditions = &video,
                         .nb_renditions = 1};
    cir_store_t *store = open_store();
    const cir_text_track_t *t;

    add_spec(sample("sample.en.srt"), "en", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    cr_assert_eq(cir_subtitles_publish(subs, &asset, store,
                                       CIR_ONLY_HLS | CIR_ONLY_DASH, NULL, why,
                                       sizeof(why)),
                 0, "%s", why);
    cr_assert_eq(asset.nb_texts, 1);
    t = &asset.texts[0];
    /* the cue at 5.5 s starts after the media: left out */
    cr_assert_eq(t->nb_cues, 3);
    cr_assert_eq(t->nb_segments, 3);
    cr_assert_eq(t->timescale, 90000);
    cr_assert(exists_in(dir, "subs-en/seg-1.vtt"));
    cr_assert(exists_in(dir, "subs-en/seg-3.vtt"));
    cr_assert_not(exists_in(dir, "subs-en/seg-4.vtt"));
    cr_assert(strstr(read_file("subs-en/index.m3u8"), "seg-3.vtt\n"));
    cr_assert(strstr(read_file("subs-en/seg-2.vtt"),
                     "00:00:01.500 --> 00:00:02.600\n<i>Across the "
                     "boundary</i>"));
    cr_assert_null(strstr(read_file("subs-en/full.vtt"), "Past the end"));
    cir_store_close(&store);
}

Test(subtitles, publish_cuts_cues_at_the_end)
{
    cir_asset_t asset = {.duration = 3.5,
                         .segment_seconds = 2,
                         .renditions = &video,
                         .nb_renditions = 1};
    cir_store_t *store = open_store();

    add_spec(sample("sample.en.srt"), "en", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    cr_assert_eq(cir_subtitles_publish(subs, &asset, store, CIR_ONLY_HLS, NULL,
                                       why, sizeof(why)),
                 0, "%s", why);
    cr_assert_eq(asset.texts[0].nb_cues, 3);
    cr_assert_eq(asset.texts[0].cues[2].end_ms, 3500, "cut at the end");
    cr_assert_not(exists_in(dir, "subs-en/full.vtt"), "DASH not asked for");
    cir_store_close(&store);
}

Test(subtitles, publish_nothing_within_the_media)
{
    cir_asset_t asset = {.duration = 0.4,
                         .segment_seconds = 2,
                         .renditions = &video,
                         .nb_renditions = 1};
    cir_store_t *store = open_store();

    add_spec(sample("sample.fr.vtt"), "fr", NULL);
    cr_assert_eq(load(), 0, "%s", why);
    cr_assert_eq(cir_subtitles_publish(subs, &asset, store, CIR_ONLY_HLS, NULL,
                                       why, sizeof(why)),
                 CIR_EMEDIA);
    cr_assert(strstr(why, "every cue starts after the media's end (0.400 s)"),
              "%s", why);
    cir_store_close(&store);
}
