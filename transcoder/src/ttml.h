/*
 * TTML / DFXP / IMSC1 text profile sidecars into cues (libavformat has no
 * TTML demuxer).  Parsed with libxml2, locked down: no network, no DTD
 * loaded, no entity substituted (billion laughs, XXE), the input's size
 * bounded by the caller.  What is read: every <p>'s begin / end / dur
 * (clock times hh:mm:ss.fff and hh:mm:ss:ff with ttp:frameRate and
 * ttp:frameRateMultiplier, offset times 12.3s, 500ms, 2m, 1h, 25f and
 * 9000t with ttp:tickRate), relative to its ancestors' begin; its text
 * with XML whitespace collapsed, <br/> as a line break, nested <span>s
 * kept as text, italic and bold (tts:fontStyle, tts:fontWeight on the
 * element or its referenced <style>) as WebVTT <i>/<b>; the root's
 * xml:lang.  Regions and positions are ignored (counted).
 *
 * Tested by tests/unit/test_transcoder_ttml.c, through subtitles.c by
 * tests/unit/test_transcoder_subtitles.c and
 * tests/integration/subtitles.test.mjs; fuzzed by tests/fuzz/fuzz_ttml.c.
 */
#ifndef CIR_TTML_H
#define CIR_TTML_H

#include <stddef.h>
#include <stdint.h>

/* A cue's end when the file gives none (it ends where the next starts). */
#define CIR_TTML_OPEN_END INT64_MIN

/* One cue: times in ms, text escaped WebVTT payload (&amp; &lt; &gt;,
 * <i> <b>, '\n' between lines).  Nonzero stops the parse with that value. */
typedef int (*cir_ttml_cue_fn)(void *opaque, int64_t start_ms, int64_t end_ms,
                               const char *text);

typedef struct {
    char language[64];         /* the root's xml:lang, "" when none */
    size_t dropped_no_begin;   /* <p> with no begin (nor an ancestor's) */
    size_t dropped_end_before; /* end at or before begin */
    size_t dropped_bad_time;   /* a time expression that does not parse */
    size_t dropped_empty;      /* no text */
    size_t positioned;         /* elements with a region or position */
} cir_ttml_info_t;

/* Parses len bytes of TTML (in encoding, an iconv name, when not NULL:
 * else the document's own, UTF-8 without a declaration); each <p> with text and
 * valid times goes to cue() in document order.  Returns 0, cue()'s nonzero
 * value, or -1 with why ("line 3: ...", "the root element is <html>, not <tt>",
 * "cue at 00:00:01.000 has more than N bytes of text") when the document is not
 * well-formed TTML.  max_cue_bytes bounds one cue's text. */
int cir_ttml_parse(const char *data, size_t len, const char *encoding,
                   size_t max_cue_bytes, cir_ttml_cue_fn cue, void *opaque,
                   cir_ttml_info_t *info, char *why, size_t why_len);

/* One time expression (exposed for its tests): ms into *out, 0 or -1.
 * frame_rate is the effective rate (frameRate x multiplier), tick_rate
 * the ticks per second. */
int cir_ttml_time(const char *s, double frame_rate, double tick_rate,
                  int64_t *out);

#endif
