/*
 * An audio rendition: one decoded source audio track through a filter graph
 * (resample to the preset's rate and layout, fill gaps and a late start with
 * silence so audio stays in sync with video at time 0, the loudness gain
 * when the preset asks) into the AAC encoder, or the E-AC-3 / AC-3 one for
 * a 5.1 rendition, and the CMAF packager.  Runs on the demuxing thread:
 * audio encoding is cheap.
 */
#ifndef CIR_AUDIO_H
#define CIR_AUDIO_H

#include <libavcodec/avcodec.h>

#include "cir_preset.h"
#include "cir_storage.h"
#include "cmaf.h"

typedef struct cir_audio cir_audio_t;

typedef struct {
    const char *id;       /* the rendition's folder */
    const char *language; /* BCP 47 (the track's mdhd) */
    const cir_preset_t *preset;
    const char *job_id;
    /* 0: the preset's AAC rendition; 1: its 5.1 one (audio.surround) */
    int surround;
    /* NULL, or the loudness filter (loudness.h) after the conversion to
     * the encoder's layout */
    const char *gain_filter;
} cir_audio_config_t;

/* Opens the rendition cfg describes for the decoder dec, whose frames' pts
 * are in tb and start at 0 for the asset's start. */
int cir_audio_open(cir_audio_t **a, const cir_audio_config_t *cfg,
                   const AVCodecContext *dec, AVRational tb,
                   cir_store_t *store);
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
