/*
 * CMAF packaging of one track into init.mp4 + seg-<n>.m4s, written through
 * the output store, after the layout in cir_manifest.h.
 *
 * libavformat's mp4 muxer (fragmented, frag_custom, CMAF brands) writes into
 * a memory buffer.  Video carries its place on the asset's timeline in the
 * samples themselves: tfdt is the first sample's presentation time (negative
 * composition offsets absorb the B-frame delay), with no edit list, so a
 * video that starts 0.5 s after the audio has its first sample at 0.5 s for
 * every player, MSE players included (they ignore edit lists).  Audio starts
 * at 0 (the pipeline pads a late track with silence); its encoder priming is
 * cut by an edit list (media_time only, never an empty edit).  A new segment
 * starts at the first keyframe at or after each multiple of the segment
 * duration; inside a video segment a fragment (moof+mdat) starts at every
 * keyframe, and each becomes an entry of the I-frame playlist.  Every segment
 * file starts with a styp box.
 *
 * One packager is used by one thread at a time.
 */
#ifndef CIR_CMAF_H
#define CIR_CMAF_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "cir_encryption.h"
#include "cir_manifest.h"
#include "cir_storage.h"

typedef struct cir_cmaf cir_cmaf_t;

/* enc: an opened encoder (its parameters, extradata and time base are
 * copied); id: the rendition's folder; language: the track's BCP 47 tag
 * for its mdhd box (ISO 639-2/T there), NULL for "und". */
int cir_cmaf_open(cir_cmaf_t **c, const char *id, cir_store_t *store,
                  const AVCodecContext *enc, double segment_seconds,
                  const char *language);
/* Encrypts every segment (and protects init.mp4) with enc's scheme and
 * key (cenc.h); call before the first cir_cmaf_write.  NULL or
 * CIR_ENC_NONE: clear.  The key is copied and cleared on free. */
int cir_cmaf_encrypt(cir_cmaf_t *c, const cir_encryption_t *enc);
/* pkt is in the encoder's time base; it is not consumed. */
int cir_cmaf_write(cir_cmaf_t *c, const AVPacket *pkt);
/* Writes the last segment. */
int cir_cmaf_finish(cir_cmaf_t *c);

/* What was packaged, for the manifests (valid until cir_cmaf_free). */
typedef struct {
    uint32_t timescale;
    const cir_segment_t *segments;
    size_t nb_segments;
    const cir_iframe_t *iframes;
    size_t nb_iframes;
    uint64_t frames;      /* samples written */
    int64_t duration;     /* timescale units, first sample to last end */
    uint64_t total_bytes; /* media segment bytes */
} cir_cmaf_info_t;

void cir_cmaf_info(const cir_cmaf_t *c, cir_cmaf_info_t *info);
void cir_cmaf_free(cir_cmaf_t **c);

/* cir_cmaf_mux_open flags */
enum {
    /* an edit list puts the first presented sample at 0 */
    CIR_CMAF_EDIT_LIST = 1 << 0,
    /* no edit list, and tfdt keeps the packets' own times: the first
     * fragment's tfdt is the first sample's presentation time, not 0 */
    CIR_CMAF_ABSOLUTE_TIME = 1 << 1,
};

/*
 * Opens libavformat's mp4 muxer for one CMAF track writing into pb (the
 * caller's, seekable: the muxer patches box sizes; it stays the caller's)
 * or, when pb is NULL, into a dynamic buffer: fragmented, frag_custom (a
 * fragment per av_write_frame(oc, NULL)), CMAF brands, default-base-is-moof,
 * no sidx, no trailer; flags: CIR_CMAF_* above (0: no edit list, the track
 * shifted to start at 0).
 */
int cir_cmaf_mux_open(AVFormatContext **oc, const AVCodecParameters *par,
                      AVRational tb, AVRational frame_rate, int flags,
                      AVIOContext *pb);
/* The same with the track's language (BCP 47, NULL: "und") in its mdhd. */
int cir_cmaf_mux_open_lang(AVFormatContext **oc, const AVCodecParameters *par,
                           AVRational tb, AVRational frame_rate, int flags,
                           AVIOContext *pb, const char *language);
/*
 * Makes dst (an unused or unreferenced packet) show src's payload with
 * src's properties: a new reference when src holds one, else the bare
 * pointer (valid while src is).  What av_packet_clone gives, without
 * allocating a packet or copying unreferenced data; av_packet_unref(dst)
 * releases it.  0 or CIR_ENOMEM.
 */
int cir_packet_view(AVPacket *dst, const AVPacket *src);
/* The offset of the first top-level box of a type in buf[off..size), or -1;
 * every box length is checked against the buffer. */
int64_t cir_cmaf_find_box(const uint8_t *buf, size_t off, size_t size,
                          const char *type);

/* Exposed for tests: the byte range of a fragment's moof and first sample.
 * frag points at a moof box; returns the bytes from its start through the
 * end of the first sample, or a negative error. */
int64_t cir_cmaf_first_sample_end(const uint8_t *frag, size_t size);

#endif
