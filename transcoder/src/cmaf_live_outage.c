/*
 * Live CMAF packaging, a track's share of a publisher's outage, filled
 * with media rather than GAP segments (the store's outage filler,
 * cir_onair_store_set_outage_filler): an AAC audio track plays silence, a
 * video track shows its last picture (its newest segment's first sample,
 * a keyframe, repeated once per part), in segments with the same numbers
 * and times in every rendition.  Why: a player that meets GAP segments
 * handles them in ways of its own, and Shaka Player's (disable the
 * variant, force a switch to another that has the same gap, clear and
 * seek) failed at the outage in a fair share of runs: a fatal 1011
 * SEGMENT_MISSING when the audio had GAPs too (its index closed by the
 * forced switch while its own GAP was handled), a video stream that never
 * fetched again when only the video had them.  A stream without GAP
 * segments plays through an outage as through any other media: a frozen
 * picture and silence, as a broadcast shows.
 *
 * The silence comes from an AAC encoder of the muxer's current
 * parameters (cir_onair_silence, the same as for audio that stops while
 * the video goes on), so the track's init segment decodes it; other audio
 * codecs keep their GAP segments.  The picture is read back from the
 * segment file (nothing is kept in memory for an outage that may never
 * come); a track with no segment yet keeps its GAP segments.
 *
 * Tested by tests/unit/test_transcoder_live_abr.c (every rendition filled),
 * tests/integration/ingest.test.mjs (the segments decoded; Shaka through an
 * outage), dash_reconnect.test.mjs (dash.js and Shaka on the MPD, which
 * leaves them out) and live_encryption.test.mjs (an encrypted stream's).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_storage.h"
#include "cmaf.h"
#include "cmaf_live_internal.h"

#define FILL_FRAMES_MAX 1024               /* per part: 21 s of 48 kHz AAC */
#define PICTURE_MAX     ((size_t)16 << 20) /* a segment file read back */

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

/* The chunk encrypted in place when the stream is (cmaf_live_crypt.c). */
static int
protect(cir_cmaf_live_t *c, cir_buf_t *chunk)
{
    uint8_t *prot = NULL;
    size_t size;
    int ret;

    ret = cir_cmaf_live_crypt_part(c, (const uint8_t *)chunk->data, chunk->len,
                                   &prot, &size);
    if (ret == 0 && prot != NULL) {
        cir_buf_reset(chunk);
        ret = cir_buf_append(chunk, prot, size);
    }
    av_free(prot);
    return ret;
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
    if (ret >= 0) {
        ret = protect(c, out);
    }
    if (ret < 0) {
        *filled = start;
    }
    cir_buf_free(&f->data);
    free(f);
    return ret < 0 ? ret : 0;
}

/* The newest complete media segment of the track: its first sample (a
 * segment starts with a keyframe) into c->picture, read once per segment. */
static int
load_picture(cir_cmaf_live_t *c)
{
    const cir_live_index_t *x = cir_cmaf_live_index(c);
    const cir_live_segment_t *s = NULL;
    char path[PATH_MAX], *file;
    size_t len;
    int64_t end, mdat;
    int ret;

    for (size_t i = x->nb_segments; i > 0 && s == NULL; i--) {
        const cir_live_segment_t *t = &x->segments[i - 1];
        if (t->complete && !t->gap && t->size > 0) {
            s = t;
        }
    }
    if (s == NULL) {
        return CIR_ENOTFOUND;
    }
    if (c->picture.len > 0 && c->picture_msn == s->msn) {
        return 0;
    }
    cir_buf_reset(&c->picture);
    if ((ret = cir_live_path(path, sizeof(path), c->dir, CIR_LIVE_FILE_SEGMENT,
                             s->msn)) < 0) {
        return ret;
    }
    if ((ret = cir_read_file(path, PICTURE_MAX, &file, &len)) < 0) {
        return ret;
    }
    end = cir_cmaf_first_sample_end((const uint8_t *)file, len);
    mdat = cir_cmaf_find_box((const uint8_t *)file, 0, len, "mdat");
    if (end < 0 || mdat < 0 || mdat + 8 >= end) {
        ret = CIR_EPARSE;
    } else {
        ret = cir_buf_append(&c->picture, file + mdat + 8,
                             (size_t)(end - mdat - 8));
        c->picture_msn = s->msn;
    }
    free(file);
    return ret;
}

int
cir_cmaf_live_fill_picture(void *opaque, int64_t start, int64_t end,
                           cir_buf_t *out, int64_t *filled)
{
    cir_cmaf_live_t *c = opaque;
    uint32_t duration, size;
    int ret;

    *filled = start;
    if (end <= start || end - start > UINT32_MAX) {
        return CIR_EINVAL;
    }
    if ((ret = load_picture(c)) < 0) {
        cir_log_warn(&c->log,
                     "an outage's video cannot hold the last picture (%s): "
                     "GAP segments",
                     cir_strerror(ret));
        return ret;
    }
    duration = (uint32_t)(end - start);
    size = (uint32_t)c->picture.len;
    ret = cir_live_media_chunk(out, ++c->silence_chunks, start, &duration,
                               &size, 1, (const uint8_t *)c->picture.data,
                               c->picture.len);
    if (ret == 0) {
        *filled = end;
    }
    return ret;
}
