/*
 * cir_subtitle_specs_parse: the job's "subtitles" field, good and bad; every
 * refusal names the entry and the field.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "cir_error.h"
#include "cir_subtitle_spec.h"

static cir_subtitle_specs_t specs;
static char err[512];

static int
parse(const char *text)
{
    err[0] = '\0';
    return cir_subtitle_specs_parse_text(text, &specs, err, sizeof(err));
}

static void
refused(const char *text, int code, const char *message)
{
    cr_assert_eq(parse(text), code, "%s: %s", text, err);
    cr_assert_str_eq(err, message);
    cr_assert_eq(specs.count, 0);
}

Test(subtitle_spec, full_entry)
{
    cr_assert_eq(parse("[{\"uri\": \"s3://uploads/film.en.srt\", \"language\": "
                       "\"en\", \"name\": \"English\", \"kind\": \"captions\", "
                       "\"default\": true, \"encoding\": \"windows-1252\"}]"),
                 0, "%s", err);
    cr_assert_eq(specs.count, 1);
    cr_assert_str_eq(specs.items[0].uri, "s3://uploads/film.en.srt");
    cr_assert_str_eq(specs.items[0].language, "en");
    cr_assert_str_eq(specs.items[0].name, "English");
    cr_assert_eq(specs.items[0].kind, CIR_SUBTITLE_KIND_CAPTIONS);
    cr_assert_eq(specs.items[0].is_default, 1);
    cr_assert_str_eq(specs.items[0].encoding, "windows-1252");
    cr_assert_str_eq(specs.items[0].id, "subs-en");
}

Test(subtitle_spec, defaults_and_ids)
{
    cr_assert_eq(parse("[{\"uri\": \"/in/a.vtt\", \"language\": \"pt-BR\"},"
                       " {\"uri\": \"file:///in/b.srt\", \"language\": "
                       "\"pt-BR\", \"kind\": \"forced\"},"
                       " {\"uri\": \"/in/c.ass\", \"language\": \"zh-Hant\"}]"),
                 0, "%s", err);
    cr_assert_eq(specs.count, 3);
    cr_assert_str_eq(specs.items[0].name, "pt-BR", "the name is the language");
    cr_assert_eq(specs.items[0].kind, CIR_SUBTITLE_KIND_SUBTITLES);
    cr_assert_eq(specs.items[0].is_default, 0);
    cr_assert_str_eq(specs.items[0].encoding, "");
    cr_assert_str_eq(specs.items[0].id, "subs-pt-BR");
    cr_assert_str_eq(specs.items[1].id, "subs-pt-BR-2");
    cr_assert_eq(specs.items[1].kind, CIR_SUBTITLE_KIND_FORCED);
    cr_assert_str_eq(specs.items[2].id, "subs-zh-Hant");
}

Test(subtitle_spec, none)
{
    cr_assert_eq(parse(""), 0);
    cr_assert_eq(specs.count, 0);
    cr_assert_eq(parse("[]"), 0);
    cr_assert_eq(cir_subtitle_specs_parse(NULL, &specs, err, sizeof(err)), 0);
    cr_assert_eq(
        cir_subtitle_specs_parse(json_null(), &specs, err, sizeof(err)), 0);
    cr_assert_eq(specs.count, 0);
}

Test(subtitle_spec, kind_names)
{
    cr_assert_str_eq(cir_subtitle_kind_name(CIR_SUBTITLE_KIND_CAPTIONS),
                     "captions");
    cr_assert_str_eq(cir_subtitle_kind_name(CIR_SUBTITLE_KIND_FORCED),
                     "forced");
}

Test(subtitle_spec, not_an_array)
{
    refused("{\"uri\": \"a.srt\"}", CIR_EINVAL,
            "subtitles: expected an array of objects");
    refused("[\"a.srt\"]", CIR_EINVAL,
            "subtitles[0].expected an object with uri and language");
}

Test(subtitle_spec, not_json)
{
    cr_assert_lt(parse("[{"), 0);
    cr_assert(strncmp(err, "subtitles: not JSON: ", 21) == 0, "%s", err);
}

Test(subtitle_spec, too_many)
{
    char text[4096];
    size_t o = (size_t)snprintf(text, sizeof(text), "[");

    for (int i = 0; i <= CIR_SUBTITLES_MAX; i++) {
        o += (size_t)snprintf(text + o, sizeof(text) - o,
                              "%s{\"uri\": \"/a.srt\", \"language\": \"en\"}",
                              i ? "," : "");
    }
    snprintf(text + o, sizeof(text) - o, "]");
    refused(text, CIR_ELIMIT, "subtitles: 17 entries, at most 16");
}

Test(subtitle_spec, uri)
{
    refused("[{\"language\": \"en\"}]", CIR_EINVAL,
            "subtitles[0].uri: required, a file path, file:// or s3:// URI");
    refused("[{\"uri\": 3, \"language\": \"en\"}]", CIR_EINVAL,
            "subtitles[0].uri: required, a file path, file:// or s3:// URI");
    refused("[{\"uri\": \"http://x/a.srt\", \"language\": \"en\"}]", CIR_EINVAL,
            "subtitles[0].uri: \"http://x/a.srt\": only s3://bucket/key, "
            "file:///path or a path are read and written (an http(s) "
            "source: copy it to S3 or a local file first)");
}

Test(subtitle_spec, language)
{
    refused("[{\"uri\": \"/a.srt\"}]", CIR_EINVAL,
            "subtitles[0].language: required, a BCP 47 tag such as \"en\" "
            "(a TTML file's own xml:lang when not given)");
    refused("[{\"uri\": \"/a.srt\", \"language\": \"english\"}, {}]",
            CIR_EINVAL,
            "subtitles[0].language: \"english\" is not a BCP 47 tag (such "
            "as \"en\", \"pt-BR\")");
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en-\"}]", CIR_EINVAL,
            "subtitles[0].language: \"en-\" is not a BCP 47 tag (such as "
            "\"en\", \"pt-BR\")");
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\\\",X=\\\"\"}]",
            CIR_EINVAL,
            "subtitles[0].language: \"en\",X=\"\" is not a BCP 47 tag (such "
            "as \"en\", \"pt-BR\")");
}

/* A TTML file's language may come from its xml:lang: left empty here,
 * with its id and name, and the entries after it counted without it. */
Test(subtitle_spec, ttml_language_optional)
{
    cr_assert_eq(cir_subtitle_specs_parse_text(
                     "[{\"uri\": \"/a.TTML\"}, {\"uri\": \"/b.dfxp\", "
                     "\"name\": \"B\"}, {\"uri\": \"/c.srt\", "
                     "\"language\": \"en\"}]",
                     &specs, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(specs.items[0].language, "");
    cr_assert_str_eq(specs.items[0].id, "");
    cr_assert_str_eq(specs.items[0].name, "");
    cr_assert_str_eq(specs.items[1].name, "B");
    cr_assert_str_eq(specs.items[2].id, "subs-en");
    cr_assert_eq(specs.items[2].kind, CIR_SUBTITLE_KIND_SUBTITLES);
    cr_assert(cir_subtitle_uri_is_ttml("s3://b/k/x.xml"));
    cr_assert(!cir_subtitle_uri_is_ttml("/x.srt"));
    cr_assert(!cir_subtitle_uri_is_ttml(".ttml"));
}

/* SCC is CEA-608 captions: that is its kind unless the job says. */
Test(subtitle_spec, scc_defaults_to_captions)
{
    cr_assert_eq(parse("[{\"uri\": \"/a.SCC\", \"language\": \"en\"}, "
                       "{\"uri\": \"/b.scc\", \"language\": \"en\", "
                       "\"kind\": \"subtitles\"}]"),
                 0, "%s", err);
    cr_assert_eq(specs.items[0].kind, CIR_SUBTITLE_KIND_CAPTIONS);
    cr_assert_eq(specs.items[1].kind, CIR_SUBTITLE_KIND_SUBTITLES);
}

Test(subtitle_spec, name)
{
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\", \"name\": "
            "\"Say \\\"hi\\\"\"}]",
            CIR_EINVAL,
            "subtitles[0].name: expected 1 to 128 bytes of text without "
            "control characters or '\"'");
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\", \"name\": "
            "\"two\\nlines\"}]",
            CIR_EINVAL,
            "subtitles[0].name: expected 1 to 128 bytes of text without "
            "control characters or '\"'");
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\", \"name\": \"\"}]",
            CIR_EINVAL,
            "subtitles[0].name: expected 1 to 128 bytes of text without "
            "control characters or '\"'");
}

Test(subtitle_spec, kind_default_encoding)
{
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\", \"kind\": "
            "\"karaoke\"}]",
            CIR_EINVAL,
            "subtitles[0].kind: expected \"subtitles\", \"captions\" or "
            "\"forced\"");
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\", \"default\": "
            "\"yes\"}]",
            CIR_EINVAL, "subtitles[0].default: expected true or false");
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\", \"encoding\": "
            "\"latin 1; rm\"}]",
            CIR_EINVAL,
            "subtitles[0].encoding: expected a character set name such as "
            "\"windows-1252\"");
}

Test(subtitle_spec, one_default)
{
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\", \"default\": true},"
            " {\"uri\": \"/b.srt\", \"language\": \"fr\"},"
            " {\"uri\": \"/c.srt\", \"language\": \"de\", \"default\": true}]",
            CIR_EINVAL,
            "subtitles[2].default: subtitles[0] is the default already (at "
            "most one may be)");
}

Test(subtitle_spec, unknown_field)
{
    refused("[{\"uri\": \"/a.srt\", \"language\": \"en\", \"lang\": \"en\"}]",
            CIR_EINVAL,
            "subtitles[0].lang: unknown field (known: uri, language, name, "
            "kind, default, encoding)");
}
