/*
 * Live CMAF packaging, an audio track's share of a publisher's outage:
 * silent AAC frames rather than GAP segments (the store's outage filler,
 * cir_onair_store_set_outage_filler).  The video renditions list GAP
 * segments over the outage; the audio plays silence over the same time,
 * in segments with the same numbers.  Why: a player that meets a GAP in
 * its audio as well as its video handles both at once, and Shaka Player's
 * handling of the video's (a forced variant switch) closes the audio's
 * segment index while the audio's own GAP handling needs it: 1011
 * SEGMENT_MISSING, fatal, in a fair share of outages.  Audio with media
 * has no such race, and a listener hears silence, as in a broadcast.
 *
 * The frames come from an AAC encoder of the muxer's current parameters
 * (cir_onair_silence, the same as for audio that stops while the video
 * goes on), so the track's init segment decodes them; other codecs keep
 * their GAP segments.
 *
 * Tested by tests/unit/test_transcoder_live_store.c (the segments and
 * parts) and tests/integration/ingest.test.mjs (hls.js, dash.js and Shaka
 * through an outage).
 */
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cmaf_live_internal.h"

#define FILL_FRAMES_MAX 1024 /* per part: 21 s of 48 kHz AAC */

typedef struct {
    uint32_t durations[FILL_FRAMES_MAX], sizes[FILL_FRAMES_MAX];
    uint32_t n;
    cir_buf_t data;
} fill_frames_t;

static int
keep_frame(void *opaque, AVPacket *pkt)
{
    fill_frames_t *f = opaque;

    if (f->n == FILL_FRAMES_MAX || pkt->size <= 0 || pkt->duration <= 0 ||
        pkt->duration > UINT32_MAX) {
        return CIR_ELIMIT;
    }
    f->durations[f->n] = (uint32_t)pkt->duration;
    f->sizes[f->n] = (uint32_t)pkt->size;
    f->n++;
    return cir_buf_append(&f->data, pkt->data, (size_t)pkt->size);
}

/* The silence encoder for the muxer's current parameters (a publisher
 * that came back may send another sample rate or channel count). */
static int
silence_for_muxer(cir_cmaf_live_t *c)
{
    const AVCodecParameters *par = c->oc->streams[0]->codecpar;

    if (c->silence != NULL && c->silence_rate == par->sample_rate &&
        c->silence_channels == par->ch_layout.nb_channels) {
        return 0;
    }
    cir_onair_silence_close(&c->silence);
    c->silence_rate = par->sample_rate;
    c->silence_channels = par->ch_layout.nb_channels;
    return cir_onair_silence_open(&c->silence, par);
}

int
cir_cmaf_live_fill_silence(void *opaque, int64_t start, int64_t end,
                           cir_buf_t *out, int64_t *filled)
{
    cir_cmaf_live_t *c = opaque;
    fill_frames_t *f;
    int ret;

    *filled = start;
    if ((ret = silence_for_muxer(c)) < 0) {
        cir_log_warn(&c->log,
                     "an outage's audio cannot be silence (%s): GAP segments",
                     cir_strerror(ret));
        return ret;
    }
    if ((f = calloc(1, sizeof(*f))) == NULL) {
        return CIR_ENOMEM;
    }
    cir_buf_init(&f->data, (size_t)1 << 20);
    ret = cir_onair_silence_fill(c->silence, start, end, c->writer_tb,
                                 keep_frame, f, filled);
    if (ret > 0) {
        ret = cir_live_media_chunk(out, ++c->silence_chunks, start,
                                   f->durations, f->sizes, f->n,
                                   (const uint8_t *)f->data.data, f->data.len);
    }
    if (ret < 0) {
        *filled = start;
    }
    cir_buf_free(&f->data);
    free(f);
    return ret < 0 ? ret : 0;
}
