/*
 * Which source audio streams of a VOD job become audio renditions, and
 * what each is called: its folder id ("audio" for the first, as a
 * single-track asset always had, then "audio-2", "audio-3"... in output
 * order: stable, URL-safe), its BCP 47 language (the job's, else the
 * stream's ISO 639-2 tag mapped to two letters, else "und"), its NAME (the
 * job's, else the stream's title or a meaningful handler name, else the
 * language's name, else "Audio N"; unique in the asset) and which one is
 * the default.
 */
#ifndef CIR_AUDIO_SELECT_H
#define CIR_AUDIO_SELECT_H

#include <stddef.h>

#include <libavformat/avformat.h>

#include "cir_audio_tracks.h"
#include "cir_log.h"

typedef struct {
    int stream; /* index into ic->streams */
    int source; /* the source's source-th audio stream, from 0 */
    char id[16];
    char language[CIR_LANGUAGE_MAX];
    char name[CIR_AUDIO_NAME_MAX];
    int is_default;
    int requested; /* named by the job's audio_tracks */
} cir_audio_choice_t;

/*
 * Chooses the audio renditions of ic into out: sel's tracks in sel's
 * order, or (sel NULL or empty) every audio stream in source order, at
 * most CIR_AUDIO_TRACKS_MAX, those without a decoder left out.  enabled
 * 0 (the preset or the job makes no audio) chooses none.  Logs one line
 * per source audio stream, chosen (with id, language, name) or dropped
 * (with why).  Returns how many were chosen, or CIR_EINVAL with err
 * naming the field when sel names a stream the source does not have or
 * one that cannot be decoded.
 */
int cir_audio_choose(const AVFormatContext *ic, const cir_audio_tracks_t *sel,
                     int enabled, const cir_log_ctx_t *log,
                     cir_audio_choice_t out[CIR_AUDIO_TRACKS_MAX], char *err,
                     size_t errsize);

#endif
