/*
 * Audio track selections and language tags.  See cir_audio_tracks.h.
 *
 * Tested by tests/unit/test_common_audio_tracks.c.
 */
#include "cir_audio_tracks.h"
#include "cir_storage.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cir_error.h"
#include "iso639.h"

#define NB_ISO639 (sizeof(cir_iso639) / sizeof(cir_iso639[0]))

static int
all_alpha(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isalpha((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int
all_alnum(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int
cir_language_tag_is_valid(const char *tag)
{
    size_t len, first;
    const char *p;

    if (tag == NULL || (len = strlen(tag)) == 0 || len >= CIR_LANGUAGE_MAX) {
        return 0;
    }
    first = strcspn(tag, "-");
    if (first < 2 || first > 3 || !all_alpha(tag, first)) {
        return 0;
    }
    for (p = tag + first; *p == '-'; p += 1 + strcspn(p + 1, "-")) {
        size_t n = strcspn(p + 1, "-");
        if (n < 1 || n > 8 || !all_alnum(p + 1, n)) {
            return 0;
        }
    }
    return *p == '\0';
}

int
cir_audio_name_is_valid(const char *name)
{
    return cir_label_is_safe(name, CIR_AUDIO_NAME_MAX - 1);
}

static int
by_alpha3(const void *key, const void *elem)
{
    return strcmp(key, ((const cir_iso639_t *)elem)->alpha3);
}

const char *
cir_language_from_source(const char *tag, char out[CIR_LANGUAGE_MAX])
{
    size_t first;

    snprintf(out, CIR_LANGUAGE_MAX, "und");
    if (!cir_language_tag_is_valid(tag)) {
        return out;
    }
    snprintf(out, CIR_LANGUAGE_MAX, "%s", tag);
    first = strcspn(out, "-");
    for (size_t i = 0; i < first; i++) {
        out[i] = (char)tolower((unsigned char)out[i]);
    }
    if (first == 3) {
        char code[4] = {out[0], out[1], out[2], '\0'};
        const cir_iso639_t *e = bsearch(code, cir_iso639, NB_ISO639,
                                        sizeof(cir_iso639[0]), by_alpha3);
        if (e != NULL) {
            /* "fra-CA" -> "fr-CA": only the primary subtag changes */
            out[0] = e->alpha2[0];
            out[1] = e->alpha2[1];
            memmove(out + 2, out + 3, strlen(out + 3) + 1);
        }
    }
    return out;
}

const char *
cir_language_name(const char *tag)
{
    size_t first;

    if (!cir_language_tag_is_valid(tag)) {
        return NULL;
    }
    first = strcspn(tag, "-");
    for (size_t i = 0; i < NB_ISO639; i++) {
        const cir_iso639_t *e = &cir_iso639[i];
        const char *code = first == 2 ? e->alpha2 : e->alpha3;
        if (strlen(code) == first && strncasecmp(code, tag, first) == 0) {
            return e->name;
        }
    }
    return NULL;
}

const char *
cir_language_to_iso639_2(const char *tag, char out[4])
{
    size_t first;

    snprintf(out, 4, "und");
    if (!cir_language_tag_is_valid(tag)) {
        return out;
    }
    first = strcspn(tag, "-");
    if (first == 3) {
        for (size_t i = 0; i < 3; i++) {
            out[i] = (char)tolower((unsigned char)tag[i]);
        }
        return out;
    }
    for (size_t i = 0; i < NB_ISO639; i++) {
        const cir_iso639_t *e = &cir_iso639[i];
        if (!e->bibliographic && strncasecmp(e->alpha2, tag, 2) == 0) {
            snprintf(out, 4, "%s", e->alpha3);
            break;
        }
    }
    return out;
}

/* ---- the job's "audio_tracks" ---------------------------------------- */

static int
parse_index(const json_t *v, size_t i, cir_audio_track_t *t, char *err,
            size_t errsize)
{
    json_int_t n;

    if (!json_is_integer(v)) {
        snprintf(err, errsize,
                 "audio_tracks[%zu].index: expected the number of a source "
                 "audio stream (0 for the first)",
                 i);
        return CIR_EINVAL;
    }
    n = json_integer_value(v);
    if (n < 0 || n > CIR_AUDIO_INDEX_MAX) {
        snprintf(err, errsize, "audio_tracks[%zu].index: %lld is not in 0..%d",
                 i, (long long)n, CIR_AUDIO_INDEX_MAX);
        return CIR_EINVAL;
    }
    t->index = (int)n;
    return 0;
}

static int
parse_language(const json_t *v, size_t i, cir_audio_track_t *t, char *err,
               size_t errsize)
{
    const char *s = json_string_value(v);

    if (s == NULL || strlen(s) != json_string_length(v) ||
        !cir_language_tag_is_valid(s)) {
        snprintf(err, errsize,
                 "audio_tracks[%zu].language: expected a BCP 47 language tag "
                 "such as \"en\", \"fr-CA\" or \"und\" (at most %d characters)",
                 i, CIR_LANGUAGE_MAX - 1);
        return CIR_EINVAL;
    }
    snprintf(t->language, sizeof(t->language), "%s", s);
    return 0;
}

static int
parse_name(const json_t *v, size_t i, cir_audio_track_t *t, char *err,
           size_t errsize)
{
    const char *s = json_string_value(v);

    if (s == NULL || strlen(s) != json_string_length(v) ||
        !cir_audio_name_is_valid(s)) {
        snprintf(err, errsize,
                 "audio_tracks[%zu].name: expected 1 to %d bytes of text "
                 "without '\"' or control characters",
                 i, CIR_AUDIO_NAME_MAX - 1);
        return CIR_EINVAL;
    }
    snprintf(t->name, sizeof(t->name), "%s", s);
    return 0;
}

static int
parse_track(const json_t *obj, size_t i, cir_audio_track_t *t, char *err,
            size_t errsize)
{
    const char *key;
    json_t *v;
    int ret = 0, has_index = 0;

    if (!json_is_object(obj)) {
        snprintf(err, errsize,
                 "audio_tracks[%zu]: expected an object such as "
                 "{\"index\": 0, \"language\": \"en\"}",
                 i);
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)obj, key, v)
    {
        if (strcmp(key, "index") == 0) {
            ret = parse_index(v, i, t, err, errsize);
            has_index = 1;
        } else if (strcmp(key, "language") == 0) {
            ret = parse_language(v, i, t, err, errsize);
        } else if (strcmp(key, "name") == 0) {
            ret = parse_name(v, i, t, err, errsize);
        } else if (strcmp(key, "default") == 0 && json_is_boolean(v)) {
            t->is_default = json_is_true(v);
        } else if (strcmp(key, "default") == 0) {
            snprintf(err, errsize,
                     "audio_tracks[%zu].default: expected true "
                     "or false",
                     i);
            ret = CIR_EINVAL;
        } else {
            snprintf(err, errsize,
                     "audio_tracks[%zu]: unknown field \"%.64s\" (index, "
                     "language, name, default)",
                     i, key);
            ret = CIR_EINVAL;
        }
        if (ret < 0) {
            return ret;
        }
    }
    if (!has_index) {
        snprintf(err, errsize, "audio_tracks[%zu].index: missing", i);
        return CIR_EINVAL;
    }
    return 0;
}

/* Each source stream once, at most one default. */
static int
check_tracks(const cir_audio_tracks_t *out, char *err, size_t errsize)
{
    size_t defaults = 0;

    for (size_t i = 0; i < out->nb; i++) {
        for (size_t j = 0; j < i; j++) {
            if (out->tracks[j].index == out->tracks[i].index) {
                snprintf(err, errsize,
                         "audio_tracks[%zu].index: audio stream %d is "
                         "selected already by audio_tracks[%zu]",
                         i, out->tracks[i].index, j);
                return CIR_EINVAL;
            }
        }
        if (out->tracks[i].is_default && ++defaults > 1) {
            snprintf(err, errsize,
                     "audio_tracks[%zu].default: only one track may be the "
                     "default",
                     i);
            return CIR_EINVAL;
        }
    }
    return 0;
}

int
cir_audio_tracks_parse(const json_t *v, cir_audio_tracks_t *out, char *err,
                       size_t errsize)
{
    size_t i;
    json_t *e;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!json_is_array(v) || json_array_size(v) == 0) {
        snprintf(err, errsize,
                 "audio_tracks: expected a non-empty list of "
                 "{\"index\": N, ...} (leave it out for every track)");
        return CIR_EINVAL;
    }
    if (json_array_size(v) > CIR_AUDIO_TRACKS_MAX) {
        snprintf(err, errsize, "audio_tracks: %zu tracks, at most %d",
                 json_array_size(v), CIR_AUDIO_TRACKS_MAX);
        return CIR_ELIMIT;
    }
    json_array_foreach(v, i, e)
    {
        if ((ret = parse_track(e, i, &out->tracks[i], err, errsize)) < 0) {
            memset(out, 0, sizeof(*out));
            return ret;
        }
        out->nb = i + 1;
    }
    if ((ret = check_tracks(out, err, errsize)) < 0) {
        memset(out, 0, sizeof(*out));
    }
    return ret;
}

json_t *
cir_audio_tracks_to_json(const cir_audio_tracks_t *t)
{
    json_t *a;

    if (t->nb == 0 || (a = json_array()) == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < t->nb; i++) {
        const cir_audio_track_t *x = &t->tracks[i];
        json_t *o = json_pack("{s:i}", "index", x->index);
        if (o != NULL && x->language[0]) {
            json_object_set_new(o, "language", json_string(x->language));
        }
        if (o != NULL && x->name[0]) {
            json_object_set_new(o, "name", json_string(x->name));
        }
        if (o != NULL && x->is_default) {
            json_object_set_new(o, "default", json_true());
        }
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}
