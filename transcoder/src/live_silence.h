/*
 * Silent AAC frames for a live audio track whose publisher stops sending
 * audio while the video goes on (a muted source, an encoder that drops its
 * audio): the audio rendition keeps its parts and segments in step with the
 * video instead of one sample stretched over the hole, and players keep
 * playing.  The frames are AAC-LC at the track's sample rate and channel
 * count, so the track's init segment decodes them.
 */
#ifndef CIR_LIVE_SILENCE_H
#define CIR_LIVE_SILENCE_H

#include <stdint.h>

#include <libavcodec/avcodec.h>

typedef struct cir_onair_silence cir_onair_silence_t;

/* Called with each silent frame (dts = pts, duration set, in the time base
 * given to cir_onair_silence_fill); the packet is the callee's to read only. */
typedef int (*cir_onair_silence_cb)(void *opaque, AVPacket *pkt);

/* CIR_EUNSUPPORTED for audio other than AAC-LC (HE-AAC frames would not
 * match the track's init segment). */
int cir_onair_silence_open(cir_onair_silence_t **s,
                           const AVCodecParameters *par);
/* Whole frames of silence from `from`, each ending by `to` (both in tb);
 * *end: where the last one ends (`from` if none fits).  Returns the number
 * of frames, or an error (the callback's included). */
int cir_onair_silence_fill(cir_onair_silence_t *s, int64_t from, int64_t to,
                           AVRational tb, cir_onair_silence_cb cb, void *opaque,
                           int64_t *end);
/* One frame's duration in microseconds. */
int64_t cir_onair_silence_frame_us(const cir_onair_silence_t *s);
void cir_onair_silence_close(cir_onair_silence_t **s);

#endif
