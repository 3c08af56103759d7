/*
 * A VOD job's subtitle renditions from sidecar files (the job's
 * "subtitles", cir_subtitle_spec.h): each file is demuxed and decoded with
 * libavformat/libavcodec (SubRip, WebVTT, ASS/SSA, SCC, SAMI, ... whatever
 * the text subtitle decoders read), its cues turned into WebVTT by
 * libavcodec's WebVTT encoder and escaped; SCC time codes are re-timed at
 * 29.97 fps (drop-frame or not: FFmpeg reads them as wall-clock); TTML /
 * DFXP files (.ttml, .dfxp, .xml: no FFmpeg demuxer) are read whole and
 * parsed by ttml.c into the same cue list (the language, when the job
 * gives none, from their xml:lang); at publish time the cues are
 * clipped to the media, segmented on a media rendition's segments and
 * written as <id>/seg-<n>.vtt + <id>/index.m3u8 (HLS) and <id>/full.vtt
 * (DASH); the asset then lists them (cir_asset_t.texts).
 *
 * Tested by tests/unit/test_transcoder_subtitles.c and
 * tests/integration/subtitles.test.mjs.
 */
#ifndef CIR_SUBTITLES_H
#define CIR_SUBTITLES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "cir_log.h"
#include "cir_manifest.h"
#include "cir_storage.h"
#include "cir_subtitle_spec.h"

/* A sidecar larger than this is refused. */
#define CIR_SUBTITLE_FILE_MAX  (16 * 1024 * 1024)
#define CIR_SUBTITLE_CUES_MAX  50000
#define CIR_SUBTITLE_CUE_BYTES 4096

typedef struct cir_subtitles cir_subtitles_t;

/* Reads every sidecar of specs (its count may be 0: *out is then NULL).
 * A file that cannot be read, is no text subtitle format, is not UTF-8
 * (without "encoding"), has a cue over CIR_SUBTITLE_CUE_BYTES or no cue
 * at all, malformed TTML or a TTML file without a language (job's or
 * xml:lang) is an error: why names the entry and its URI.  Repairs (a cue
 * without an end, an empty cue, a negative start; a TTML <p> without a
 * begin, ending before it or with a time that does not parse: left out)
 * are logged. */
int cir_subtitles_load(cir_subtitles_t **out, const cir_subtitle_specs_t *specs,
                       const atomic_int *cancel, const cir_log_ctx_t *log,
                       char *why, size_t why_len);

/* A clip starting by_ms into the media: the sidecars' cues moved by_ms
 * earlier, those over before it left out (logged).  A sidecar left with no
 * cue is an error (why names it).  Call before
 * cir_subtitles_open_embedded (the input's cues are read on the clip's
 * timeline: its start_us). */
int cir_subtitles_shift(cir_subtitles_t *s, int64_t by_ms,
                        const cir_log_ctx_t *log, char *why, size_t why_len);

/* Adds the input's text subtitle streams (mov_text, SubRip, ASS, WebVTT in
 * MKV or MP4, ...) after the sidecars, *s made if NULL: the language from
 * the stream's tag ("und" without one), the name from its title, forced /
 * captions / default from its dispositions, cue times less the input's
 * start (start_us, AV_TIME_BASE).  A stream that is no text format, or past
 * CIR_SUBTITLES_MAX renditions, is left out and logged.  0 or CIR_ENOMEM. */
int cir_subtitles_open_embedded(cir_subtitles_t **s, AVFormatContext *ic,
                                int64_t start_us, const cir_log_ctx_t *log);

/* One packet of the input: decoded into cues when it is one of those
 * streams (else nothing).  A cue that cannot be read is left out and
 * logged; CIR_ENOMEM or CIR_ELIMIT (too many cues) with why is the job's
 * error. */
int cir_subtitles_push(cir_subtitles_t *s, AVPacket *pkt, char *why,
                       size_t why_len);

/* How many renditions, and each one's track (its cues; no segments before
 * cir_subtitles_publish). */
size_t cir_subtitles_count(const cir_subtitles_t *s);
const cir_text_track_t *cir_subtitles_track(const cir_subtitles_t *s, size_t i);

/* Finishes the input's tracks (one without a cue is left out, logged),
 * clips the cues to the asset's duration (a cue that ends after it is cut
 * there, one that starts after it is left out: both logged), puts each
 * track on the segments of the asset's first video rendition (else its
 * first rendition), writes seg-<n>.vtt and index.m3u8 (formats has
 * CIR_ONLY_HLS) and full.vtt (CIR_ONLY_DASH) into store, and points
 * asset->texts at the tracks (s must outlive the asset's use).  A track
 * left with no cue is an error. */
int cir_subtitles_publish(cir_subtitles_t *s, cir_asset_t *asset,
                          cir_store_t *store, unsigned formats,
                          const cir_log_ctx_t *log, char *why, size_t why_len);

void cir_subtitles_free(cir_subtitles_t **s);

/* libavcodec's WebVTT encoder output (n bytes) as a cue payload into out:
 * '&', '<' and '>' of the text escaped, the encoder's own tags (<i>, <b>,
 * <u> and their ends) kept, CR and NUL dropped, blank lines (which would
 * end the cue) and newlines or spaces at the end removed.  Returns the
 * length, or -1 when out (size bytes with the NUL) is too small. */
int cir_subtitles_escape(const char *in, size_t n, char *out, size_t size);

#endif
