/*
 * The TTML parser (transcoder/src/ttml.c): time expressions (clock, frames,
 * offsets, ticks), nesting of times, text (whitespace, <br/>, spans, italic
 * and bold from attributes and referenced styles, escaping), xml:lang,
 * repairs counted, malformed XML and entity attacks refused or inert.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ttml.h"

#define MAX_CUES 16

typedef struct {
    int64_t start, end;
    char text[512];
} got_cue_t;

static got_cue_t cues[MAX_CUES];
static size_t nb;
static cir_ttml_info_t info;
static char why[512];

static int
collect(void *opaque, int64_t start, int64_t end, const char *text)
{
    (void)opaque;
    cr_assert_lt(nb, MAX_CUES);
    cues[nb].start = start;
    cues[nb].end = end;
    snprintf(cues[nb].text, sizeof(cues[nb].text), "%s", text);
    nb++;
    return 0;
}

static int
parse(const char *doc)
{
    nb = 0;
    return cir_ttml_parse(doc, strlen(doc), NULL, 256, collect, NULL, &info,
                          why, sizeof(why));
}

static int64_t
t(const char *s, double fr, double tr)
{
    int64_t ms = -42;

    cr_assert_eq(cir_ttml_time(s, fr, tr, &ms), 0, "%s", s);
    return ms;
}

Test(ttml, clock_times)
{
    cr_assert_eq(t("00:00:01.500", 30, 1), 1500);
    cr_assert_eq(t("01:02:03.004", 30, 1), 3723004);
    cr_assert_eq(t("00:00:05", 30, 1), 5000);
    cr_assert_eq(t(" 00:00:01.2 ", 30, 1), 1200);
    cr_assert_eq(t("100:00:00.000", 30, 1), 360000000);
    /* frames: at 25 fps 12 frames are 480 ms; at 30000/1001, 15 frames */
    cr_assert_eq(t("00:00:01:12", 25, 1), 1480);
    cr_assert_eq(t("00:00:10:15", 30000.0 / 1001, 1), 10501);
    cr_assert_eq(t("00:00:00:15.1", 30, 1), 500); /* subframes not counted */
}

Test(ttml, offset_times)
{
    cr_assert_eq(t("12.3s", 30, 1), 12300);
    cr_assert_eq(t("500ms", 30, 1), 500);
    cr_assert_eq(t("2m", 30, 1), 120000);
    cr_assert_eq(t("1.5h", 30, 1), 5400000);
    cr_assert_eq(t("50f", 25, 1), 2000);
    cr_assert_eq(t("9000t", 30, 90000), 100);
    cr_assert_eq(t("32000000t", 30, 10000000), 3200);
}

Test(ttml, bad_times)
{
    static const char *const bad[] = {"",
                                      "1",
                                      "12.3",
                                      "s",
                                      "1.s",
                                      "-1s",
                                      "1e3s",
                                      "0x10s",
                                      "inf s",
                                      "nans",
                                      "00:60:00.000",
                                      "00:00:61",
                                      "0:00:01",
                                      "00:00:01:30",
                                      "00:00:01.",
                                      "00:00:01.5x",
                                      "1 s",
                                      "99999999999999999h",
                                      "00:00",
                                      "12.3sec"};
    int64_t ms;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(cir_ttml_time(bad[i], 30, 1, &ms), -1, "\"%s\"", bad[i]);
    }
    cr_assert_eq(cir_ttml_time("1f", 0, 1, &ms), -1);
}

Test(ttml, structure_styles_and_text)
{
    static const char doc[] =
        "<?xml version=\"1.0\"?>\n"
        "<tt xmlns=\"http://www.w3.org/ns/ttml\" "
        "xmlns:tts=\"http://www.w3.org/ns/ttml#styling\" "
        "xmlns:ttp=\"http://www.w3.org/ns/ttml#parameter\" "
        "ttp:frameRate=\"25\" xml:lang=\"fr-CA\">\n"
        "<head><styling><style xml:id=\"b\" tts:fontWeight=\"bold\"/>"
        "</styling></head>\n"
        "<body><div begin=\"10s\">\n"
        "  <p begin=\"1s\" end=\"00:00:02:05\">  Un   deux\n  trois  </p>\n"
        "  <p begin=\"3s\" dur=\"500ms\">a <span tts:fontStyle=\"italic\">b"
        "<br/>c</span> &amp; &lt;d&gt;</p>\n"
        "  <p begin=\"4s\" end=\"5s\" style=\"b\">gras <span>x<span "
        "tts:fontStyle=\"italic\">y</span></span></p>\n"
        "  <p begin=\"6s\"><br/>ouvert<br/><br/>fin<br/></p>\n"
        "</div></body></tt>\n";

    cr_assert_eq(parse(doc), 0, "%s", why);
    cr_assert_str_eq(info.language, "fr-CA");
    cr_assert_eq(nb, 4);
    cr_assert_eq(cues[0].start, 11000);
    cr_assert_eq(cues[0].end, 12200);
    cr_assert_str_eq(cues[0].text, "Un deux trois");
    cr_assert_eq(cues[1].start, 13000);
    cr_assert_eq(cues[1].end, 13500);
    cr_assert_str_eq(cues[1].text, "a <i>b\nc</i> &amp; &lt;d&gt;");
    cr_assert_str_eq(cues[2].text, "<b>gras x<i>y</i></b>");
    cr_assert_eq(cues[3].start, 16000);
    cr_assert_eq(cues[3].end, CIR_TTML_OPEN_END);
    cr_assert_str_eq(cues[3].text, "ouvert\nfin");
}

Test(ttml, ticks_and_dfxp_namespace)
{
    static const char doc[] =
        "<tt xmlns=\"http://www.w3.org/2006/10/ttaf1\" "
        "xmlns:ttp=\"http://www.w3.org/2006/10/ttaf1#parameter\" "
        "ttp:tickRate=\"10000000\"><body><div>"
        "<p begin=\"15000000t\" end=\"25000000t\">tick</p>"
        "</div></body></tt>";

    cr_assert_eq(parse(doc), 0, "%s", why);
    cr_assert_eq(nb, 1);
    cr_assert_eq(cues[0].start, 1500);
    cr_assert_eq(cues[0].end, 2500);
    cr_assert_str_eq(info.language, "");
}

Test(ttml, repairs_counted)
{
    static const char doc[] =
        "<tt xmlns=\"http://www.w3.org/ns/ttml\"><body region=\"r1\"><div>"
        "<p>no begin</p>"
        "<p begin=\"5s\" end=\"4s\">backwards</p>"
        "<p begin=\"5s\" end=\"5s\">zero</p>"
        "<p begin=\"soon\" end=\"5s\">bad time</p>"
        "<p begin=\"1s\" end=\"2s\">  </p>"
        "<p begin=\"1s\" end=\"2s\" region=\"r1\">kept</p>"
        "</div></body></tt>";

    cr_assert_eq(parse(doc), 0, "%s", why);
    cr_assert_eq(nb, 1);
    cr_assert_str_eq(cues[0].text, "kept");
    cr_assert_eq(info.dropped_no_begin, 1);
    cr_assert_eq(info.dropped_end_before, 2);
    cr_assert_eq(info.dropped_bad_time, 1);
    cr_assert_eq(info.dropped_empty, 1);
    cr_assert_eq(info.positioned, 2);
}

Test(ttml, parent_end_clips)
{
    static const char doc[] = "<tt><body><div begin=\"1s\" end=\"3s\">"
                              "<p begin=\"1s\" end=\"5s\">clipped</p>"
                              "<p begin=\"500ms\">closed</p></div></body></tt>";

    cr_assert_eq(parse(doc), 0, "%s", why);
    cr_assert_eq(nb, 2);
    cr_assert_eq(cues[0].start, 2000);
    cr_assert_eq(cues[0].end, 3000);
    cr_assert_eq(cues[1].start, 1500);
    cr_assert_eq(cues[1].end, 3000);
}

Test(ttml, malformed_xml_named)
{
    cr_assert_eq(parse("<tt><body><p begin=\"1s\">x</body></tt>"), -1);
    cr_assert(strstr(why, "not well-formed XML: line 1: ") == why, "%s", why);
    cr_assert_eq(parse(""), -1);
    cr_assert_eq(parse("<html><p begin=\"1s\" end=\"2s\">x</p></html>"), -1);
    cr_assert_str_eq(why, "the root element is <html>, not TTML's <tt>");
}

Test(ttml, long_cue_refused)
{
    char doc[2048];
    char text[400];

    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    snprintf(
        doc, sizeof(doc),
        "<tt><body><p begin=\"00:00:02.000\" end=\"3s\">%s</p></body></tt>",
        text);
    cr_assert_eq(parse(doc), -1);
    cr_assert_str_eq(why,
                     "cue at 00:00:02.000 has more than 256 bytes of text");
}

Test(ttml, unknown_encoding_refused)
{
    static const char doc[] = "<tt><body><p begin=\"1s\">x</p></body></tt>";

    nb = 0;
    cr_assert_eq(cir_ttml_parse(doc, strlen(doc), "no-such-charset", 256,
                                collect, NULL, &info, why, sizeof(why)),
                 -1);
    cr_assert(strstr(why, "no-such-charset") != NULL, "%s", why);
}

/* Entities are never expanded nor external ones read: the cue has only
 * the document's own text, the file's bytes never appear. */
Test(ttml, entities_inert)
{
    char path[] = "/tmp/cirrus-ttml-XXXXXX", doc[2048];
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "SECRET", 6), 6);
    close(fd);
    snprintf(doc, sizeof(doc),
             "<?xml version=\"1.0\"?>\n"
             "<!DOCTYPE tt [\n"
             "<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n"
             "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
             "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
             "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
             "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
             "<!ENTITY x SYSTEM \"file://%s\">\n"
             "]>\n"
             "<tt><body><p begin=\"1s\" end=\"2s\">ok&e;&x;</p></body></tt>\n",
             path);
    parse(doc);
    unlink(path);
    for (size_t i = 0; i < nb; i++) {
        cr_assert_null(strstr(cues[i].text, "SECRET"));
        cr_assert_null(strstr(cues[i].text, "aaa"));
    }
}
