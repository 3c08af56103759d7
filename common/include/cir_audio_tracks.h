/*
 * A VOD job's audio track selection ("audio_tracks" in a job document,
 * --audio-tracks on cirrus-transcode) and the language tags of audio
 * renditions: BCP 47 in the manifests (HLS LANGUAGE, DASH @lang), from
 * the source's ISO 639-2 tags ("eng" becomes "en").
 *
 * Pure: jansson only.  Tested by tests/unit/test_common_audio_tracks.c.
 */
#ifndef CIR_AUDIO_TRACKS_H
#define CIR_AUDIO_TRACKS_H

#include <stddef.h>

#include <jansson.h>

/* At most this many audio renditions per asset. */
#define CIR_AUDIO_TRACKS_MAX 16
/* A language tag Cirrus writes: BCP 47, at most 35 characters. */
#define CIR_LANGUAGE_MAX 36
/* A rendition's NAME: at most 63 bytes of UTF-8. */
#define CIR_AUDIO_NAME_MAX 64
/* The highest source audio stream a selection may name (0-based). */
#define CIR_AUDIO_INDEX_MAX 255

typedef struct {
    int index;                       /* the index-th audio stream, from 0 */
    char language[CIR_LANGUAGE_MAX]; /* "": the source's */
    char name[CIR_AUDIO_NAME_MAX];   /* "": the source's, else derived */
    int is_default;                  /* "default": true */
} cir_audio_track_t;

typedef struct {
    cir_audio_track_t tracks[CIR_AUDIO_TRACKS_MAX];
    size_t nb; /* 0: every audio stream of the source, in source order */
} cir_audio_tracks_t;

/*
 * Parses [{"index": N, "language": "fr", "name": "Français",
 * "default": true}, ...]: 1 to CIR_AUDIO_TRACKS_MAX objects, each with an
 * index (0..CIR_AUDIO_INDEX_MAX, each at most once) and optional
 * language (a BCP 47 tag, written as given), name
 * (cir_audio_name_is_valid) and default (at most one true).  Unknown
 * fields are refused.  0, or CIR_EINVAL / CIR_ELIMIT with err naming the
 * field ("audio_tracks[1].language: ...").
 */
int cir_audio_tracks_parse(const json_t *v, cir_audio_tracks_t *out, char *err,
                           size_t errsize);

/* The selection as JSON, what cir_audio_tracks_parse reads back (NULL
 * for an empty selection or on allocation failure). */
json_t *cir_audio_tracks_to_json(const cir_audio_tracks_t *t);

/* 1 if tag is a well-formed BCP 47 tag as Cirrus accepts it: a 2-3
 * letter primary language, then subtags of 1-8 letters or digits joined
 * by '-'; at most CIR_LANGUAGE_MAX - 1 characters. */
int cir_language_tag_is_valid(const char *tag);

/* 1 if name may be a rendition's NAME: 1..CIR_AUDIO_NAME_MAX - 1 bytes
 * with no '"' and no control character (HLS quoted-string). */
int cir_audio_name_is_valid(const char *name);

/*
 * The BCP 47 tag for a source stream's language tag (NULL: none): an ISO
 * 639-2 code (terminology or bibliographic, any case) becomes its
 * two-letter code where one exists ("eng", "fre" -> "en", "fr"), a
 * well-formed tag is kept (lowercased primary subtag), anything else
 * (absent, "und", garbage) is "und".  Writes into out (CIR_LANGUAGE_MAX)
 * and returns it.
 */
const char *cir_language_from_source(const char *tag,
                                     char out[CIR_LANGUAGE_MAX]);

/* The ISO 639-2/T code of a language tag's primary subtag, as an MP4
 * track's mdhd language holds it ("fr-CA" -> "fra", "haw" -> "haw"), or
 * "und".  Writes into out and returns it. */
const char *cir_language_to_iso639_2(const char *tag, char out[4]);

/* The English name of a language tag's primary subtag ("fr-CA" ->
 * "French"), or NULL when it is unknown or "und". */
const char *cir_language_name(const char *tag);

#endif
