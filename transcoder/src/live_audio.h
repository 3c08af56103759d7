/*
 * Live audio that is not AAC (MP3 from old encoders, Speex, PCM), or AAC
 * with other channels than the preset asks for: decoded, resampled (gaps
 * filled by timestamps, channels mixed) and encoded to AAC on the pushing
 * thread (AAC is cheap).
 */
#ifndef CIR_LIVE_AUDIO_H
#define CIR_LIVE_AUDIO_H

#include <libavcodec/avcodec.h>

typedef struct cir_onair_aac cir_onair_aac_t;

/* par/tb: the source track.  bitrate_kbps 0: 128.  channels: 1 or 2 (a
 * preset's), 0: mono stays mono, anything else becomes stereo. */
int cir_onair_aac_open(cir_onair_aac_t **a, const AVCodecParameters *par,
                       AVRational tb, int bitrate_kbps, int channels);
/* The encoder's parameters and time base (1/sample rate), for packaging. */
const AVCodecParameters *cir_onair_aac_par(const cir_onair_aac_t *a);
AVRational cir_onair_aac_time_base(const cir_onair_aac_t *a);
/* Decodes pkt (NULL: flush) and calls out() with every AAC packet. */
int cir_onair_aac_push(cir_onair_aac_t *a, const AVPacket *pkt,
                       int (*out)(void *opaque, AVPacket *pkt), void *opaque);
void cir_onair_aac_free(cir_onair_aac_t **a);

#endif
