/*
 * An audio rendition: one decoded source audio track through a filter graph
 * (resample to the preset's rate and layout, fill gaps and a late start with
 * silence so audio stays in sync with video at time 0) into the AAC encoder
 * and the CMAF packager.  Runs on the demuxing thread: AAC is cheap.
 */
#ifndef CIR_AUDIO_H
#define CIR_AUDIO_H

#include <libavcodec/avcodec.h>

#include "cir_preset.h"
#include "cir_storage.h"
#include "cmaf.h"

typedef struct cir_audio cir_audio_t;

/* id: the rendition's folder ("audio", "audio-2", ...); language: its
 * BCP 47 tag (the track's mdhd); dec: the opened source decoder; tb: the
 * time base of the frames' pts, which start at 0 for the asset's start. */
int cir_audio_open(cir_audio_t **a, const char *id, const char *language,
                   const cir_preset_t *preset, const AVCodecContext *dec,
                   AVRational tb, cir_store_t *store, const char *job_id);
/* Encrypts the rendition (cir_cmaf_encrypt); before the first push. */
int cir_audio_encrypt(cir_audio_t *a, const cir_encryption_t *enc);
/* frame NULL flushes. */
int cir_audio_push(cir_audio_t *a, AVFrame *frame);
const char *cir_audio_codecs(const cir_audio_t *a);
int cir_audio_sample_rate(const cir_audio_t *a);
int cir_audio_channels(const cir_audio_t *a);
const cir_cmaf_t *cir_audio_packager(const cir_audio_t *a);
void cir_audio_free(cir_audio_t **a);

#endif
