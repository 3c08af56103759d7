/*
 * cir_audio_tracks_parse (a job's "audio_tracks": good and hostile
 * input), the language tags (BCP 47 checks, ISO 639-2 to two letters,
 * names) and the round trip through JSON.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cir_audio_tracks.h"
#include "cir_error.h"

static char err[512];

static int
parse(const char *text, cir_audio_tracks_t *t)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    int ret;

    cr_assert_not_null(v, "%s: %s", text, je.text);
    err[0] = '\0';
    ret = cir_audio_tracks_parse(v, t, err, sizeof(err));
    json_decref(v);
    return ret;
}

/* Fails with ret and an error that names field. */
static void
refused(const char *text, int ret, const char *field)
{
    cir_audio_tracks_t t;

    cr_expect_eq(parse(text, &t), ret, "%s: %s", text, err);
    cr_expect_not_null(strstr(err, field), "%s: \"%s\" does not name %s", text,
                       err, field);
    cr_expect_eq(t.nb, 0);
}

Test(audio_tracks, selects_orders_and_overrides)
{
    cir_audio_tracks_t t;

    cr_assert_eq(parse("[{\"index\": 1, \"language\": \"fr-CA\", \"name\": "
                       "\"Fran\\u00e7ais\", \"default\": true}, "
                       "{\"index\": 0}]",
                       &t),
                 0, "%s", err);
    cr_assert_eq(t.nb, 2);
    cr_expect_eq(t.tracks[0].index, 1);
    cr_expect_str_eq(t.tracks[0].language, "fr-CA");
    cr_expect_str_eq(t.tracks[0].name, "Fran\xc3\xa7"
                                       "ais");
    cr_expect_eq(t.tracks[0].is_default, 1);
    cr_expect_eq(t.tracks[1].index, 0);
    cr_expect_str_eq(t.tracks[1].language, "");
    cr_expect_str_eq(t.tracks[1].name, "");
    cr_expect_eq(t.tracks[1].is_default, 0);
}

Test(audio_tracks, round_trips_through_json)
{
    cir_audio_tracks_t t, back;
    json_t *j;

    cr_assert_eq(parse("[{\"index\": 2, \"language\": \"de\", \"name\": "
                       "\"Deutsch\"}, {\"index\": 0, \"default\": true}]",
                       &t),
                 0);
    j = cir_audio_tracks_to_json(&t);
    cr_assert_not_null(j);
    cr_assert_eq(cir_audio_tracks_parse(j, &back, err, sizeof(err)), 0, "%s",
                 err);
    json_decref(j);
    cr_expect_eq(memcmp(&t, &back, sizeof(t)), 0);
    memset(&t, 0, sizeof(t));
    cr_expect_null(cir_audio_tracks_to_json(&t));
}

Test(audio_tracks, refuses_what_is_not_a_list_of_tracks)
{
    refused("{\"index\": 0}", CIR_EINVAL, "audio_tracks:");
    refused("[]", CIR_EINVAL, "audio_tracks:");
    refused("\"0,1\"", CIR_EINVAL, "audio_tracks:");
    refused("[0]", CIR_EINVAL, "audio_tracks[0]");
    refused("[{\"index\": 0}, {\"language\": \"fr\"}]", CIR_EINVAL,
            "audio_tracks[1].index: missing");
    refused("[{\"index\": 0, \"lang\": \"fr\"}]", CIR_EINVAL,
            "unknown field \"lang\"");
}

Test(audio_tracks, refuses_bad_indexes)
{
    refused("[{\"index\": -1}]", CIR_EINVAL, "audio_tracks[0].index");
    refused("[{\"index\": 256}]", CIR_EINVAL, "audio_tracks[0].index");
    refused("[{\"index\": 1e3}]", CIR_EINVAL, "audio_tracks[0].index");
    refused("[{\"index\": \"1\"}]", CIR_EINVAL, "audio_tracks[0].index");
    refused("[{\"index\": 9223372036854775807}]", CIR_EINVAL,
            "audio_tracks[0].index");
    refused("[{\"index\": 1}, {\"index\": 0}, {\"index\": 1}]", CIR_EINVAL,
            "audio_tracks[2].index: audio stream 1 is selected already");
}

Test(audio_tracks, refuses_bad_languages_and_names)
{
    static const char *const bad_tags[] = {
        "",
        "e",
        "english",
        "en_US",
        "en-",
        "-en",
        "en--US",
        "en-US-toolongsubtag",
        "e1",
        "fr\\\"",
        "fr ca",
        "fr\\u0000",
        "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd"};
    char doc[256];

    for (size_t i = 0; i < sizeof(bad_tags) / sizeof(bad_tags[0]); i++) {
        snprintf(doc, sizeof(doc), "[{\"index\": 0, \"language\": \"%s\"}]",
                 bad_tags[i]);
        refused(doc, CIR_EINVAL, "audio_tracks[0].language");
    }
    refused("[{\"index\": 0, \"language\": 7}]", CIR_EINVAL,
            "audio_tracks[0].language");
    refused("[{\"index\": 0, \"name\": \"\"}]", CIR_EINVAL,
            "audio_tracks[0].name");
    refused("[{\"index\": 0, \"name\": \"The \\\"best\\\" mix\"}]", CIR_EINVAL,
            "audio_tracks[0].name");
    refused("[{\"index\": 0, \"name\": \"two\\nlines\"}]", CIR_EINVAL,
            "audio_tracks[0].name");
    refused("[{\"index\": 0, \"name\": \"nul\\u0000byte\"}]", CIR_EINVAL,
            "audio_tracks[0].name");
    refused("[{\"index\": 0, \"name\": "
            "\"0123456789012345678901234567890123456789012345678901234567890123"
            "\"}]",
            CIR_EINVAL, "audio_tracks[0].name");
    refused("[{\"index\": 0, \"default\": 1}]", CIR_EINVAL,
            "audio_tracks[0].default");
    refused("[{\"index\": 0, \"default\": true}, {\"index\": 1, \"default\": "
            "true}]",
            CIR_EINVAL, "audio_tracks[1].default");
}

Test(audio_tracks, at_most_sixteen_tracks)
{
    char doc[1024];
    size_t len = 0;
    cir_audio_tracks_t t;

    len += (size_t)snprintf(doc + len, sizeof(doc) - len, "[");
    for (int i = 0; i < CIR_AUDIO_TRACKS_MAX; i++) {
        len += (size_t)snprintf(doc + len, sizeof(doc) - len,
                                "%s{\"index\":%d}", i ? "," : "", i);
    }
    snprintf(doc + len, sizeof(doc) - len, "]");
    cr_assert_eq(parse(doc, &t), 0, "%s", err);
    cr_expect_eq(t.nb, CIR_AUDIO_TRACKS_MAX);
    snprintf(doc + len, sizeof(doc) - len, ",{\"index\":99}]");
    refused(doc, CIR_ELIMIT, "at most 16");
}

Test(audio_tracks, language_tags)
{
    cr_expect(cir_language_tag_is_valid("en"));
    cr_expect(cir_language_tag_is_valid("und"));
    cr_expect(cir_language_tag_is_valid("zh-Hant-TW"));
    cr_expect(cir_language_tag_is_valid("es-419"));
    cr_expect(!cir_language_tag_is_valid(NULL));
    cr_expect(!cir_language_tag_is_valid("eng\n"));
}

Test(audio_tracks, source_tags_become_bcp47)
{
    char out[CIR_LANGUAGE_MAX];

    cr_expect_str_eq(cir_language_from_source("eng", out), "en");
    cr_expect_str_eq(cir_language_from_source("fra", out), "fr");
    cr_expect_str_eq(cir_language_from_source("fre", out), "fr");
    cr_expect_str_eq(cir_language_from_source("GER", out), "de");
    cr_expect_str_eq(cir_language_from_source("zho", out), "zh");
    cr_expect_str_eq(cir_language_from_source("fra-CA", out), "fr-CA");
    /* no two-letter code: the three letters are the BCP 47 tag */
    cr_expect_str_eq(cir_language_from_source("haw", out), "haw");
    cr_expect_str_eq(cir_language_from_source("pt-BR", out), "pt-BR");
    cr_expect_str_eq(cir_language_from_source("und", out), "und");
    cr_expect_str_eq(cir_language_from_source(NULL, out), "und");
    cr_expect_str_eq(cir_language_from_source("", out), "und");
    cr_expect_str_eq(cir_language_from_source("english", out), "und");
    cr_expect_str_eq(cir_language_from_source("\"><x", out), "und");
}

/* What an MP4 track's mdhd holds: ISO 639-2/T, not the /B code. */
Test(audio_tracks, tags_become_iso639_2_for_mp4)
{
    char code[4];

    cr_expect_str_eq(cir_language_to_iso639_2("en", code), "eng");
    cr_expect_str_eq(cir_language_to_iso639_2("fr-CA", code), "fra");
    cr_expect_str_eq(cir_language_to_iso639_2("de", code), "deu");
    cr_expect_str_eq(cir_language_to_iso639_2("HAW", code), "haw");
    cr_expect_str_eq(cir_language_to_iso639_2("xx", code), "und");
    cr_expect_str_eq(cir_language_to_iso639_2(NULL, code), "und");
    cr_expect_str_eq(cir_language_to_iso639_2("e\"", code), "und");
}

Test(audio_tracks, language_names)
{
    cr_expect_str_eq(cir_language_name("en"), "English");
    cr_expect_str_eq(cir_language_name("fr-CA"), "French");
    cr_expect_str_eq(cir_language_name("deu"), "German");
    cr_expect_null(cir_language_name("und"));
    cr_expect_null(cir_language_name("xx"));
    cr_expect_null(cir_language_name(NULL));
}
