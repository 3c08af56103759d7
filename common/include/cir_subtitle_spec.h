/*
 * A job's "subtitles" field: the sidecar subtitle files that become the
 * asset's subtitle renditions, validated field by field (a bounded count,
 * every error naming the entry and the field).
 *
 *   "subtitles": [{"uri": "s3://in/film.en.srt", "language": "en",
 *                  "name": "English", "kind": "subtitles",
 *                  "default": false, "encoding": "windows-1252"}]
 *
 * uri (required): a local path, file:// or s3:// URI, like the job's input.
 * language (required): a BCP 47 tag ("en", "pt-BR", "zh-Hant"); for a TTML
 * file (.ttml, .dfxp, .xml) it may be left out: language, id and name are
 * then "" here, and the file's xml:lang gives them when it is read.
 * name: what players list (default: the language); printable UTF-8, no '"'.
 * kind: "subtitles" (default; "captions" for a .scc file), "captions" (for
 * the deaf and hard of
 * hearing: sounds and speakers too) or "forced" (only what the audio does
 * not say in the viewer's language).
 * default: at most one entry true.
 * encoding: the file's character set when it is not UTF-8 (an iconv name).
 *
 * Pure: jansson and common/ only, so the intake (ingest/) and
 * cirrus-transcode check a job the same way.
 * Tested by tests/unit/test_common_subtitle_spec.c.
 */
#ifndef CIR_SUBTITLE_SPEC_H
#define CIR_SUBTITLE_SPEC_H

#include <stddef.h>

#include <jansson.h>

#include "cir_storage.h"

#define CIR_SUBTITLES_MAX         16
#define CIR_SUBTITLE_LANG_MAX     36  /* a BCP 47 tag of at most 35 bytes */
#define CIR_SUBTITLE_NAME_MAX     129 /* 128 bytes of UTF-8 */
#define CIR_SUBTITLE_ENCODING_MAX 32
/* the folder of a rendition: "subs-<language>[-<n>]" */
#define CIR_SUBTITLE_ID_MAX 48

typedef enum {
    CIR_SUBTITLE_KIND_SUBTITLES = 0,
    CIR_SUBTITLE_KIND_CAPTIONS,
    CIR_SUBTITLE_KIND_FORCED
} cir_subtitle_kind_t;

typedef struct {
    char uri[CIR_URI_MAX];
    char language[CIR_SUBTITLE_LANG_MAX];
    char name[CIR_SUBTITLE_NAME_MAX];
    char encoding[CIR_SUBTITLE_ENCODING_MAX]; /* "" : UTF-8 */
    char id[CIR_SUBTITLE_ID_MAX];             /* set by the parser */
    cir_subtitle_kind_t kind;
    int is_default;
} cir_subtitle_spec_t;

typedef struct {
    cir_subtitle_spec_t items[CIR_SUBTITLES_MAX];
    size_t count;
} cir_subtitle_specs_t;

/* Parses the "subtitles" array v (NULL or JSON null: none) into out.
 * Returns 0, or CIR_EINVAL / CIR_ELIMIT with err naming the entry and the
 * field, e.g. "subtitles[1].language: \"english\" is not a BCP 47 tag". */
int cir_subtitle_specs_parse(const json_t *v, cir_subtitle_specs_t *out,
                             char *err, size_t errsize);

/* The same from JSON text (the --subtitles option of cirrus-transcode). */
int cir_subtitle_specs_parse_text(const char *text, cir_subtitle_specs_t *out,
                                  char *err, size_t errsize);

/* Whether uri names a TTML file (.ttml, .dfxp, .xml, any case). */
int cir_subtitle_uri_is_ttml(const char *uri);

/* Whether s has the shape of a BCP 47 tag (as the "language" field). */
int cir_subtitle_language_ok(const char *s);

/* "subtitles", "captions", "forced". */
const char *cir_subtitle_kind_name(cir_subtitle_kind_t kind);

#endif
