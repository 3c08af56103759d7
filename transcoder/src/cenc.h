/*
 * Common Encryption (ISO/IEC 23001-7) of the CMAF track the VOD packager
 * writes: a box rewriter over libavformat's clear output, with OpenSSL's
 * AES doing the cipher.
 *
 * Why not the mp4 muxer's own encryption_scheme=cenc-aes-ctr: FFmpeg 5.1
 * keeps the per-sample IVs and subsample maps for the moov's stbl (senc,
 * saio, saiz there) and writes none into the fragments, so fragmented
 * (CMAF) output is not decryptable; it has no cbcs either.
 *
 * The init segment: the sample entry becomes encv/enca with a sinf
 * (frma, schm 'cenc' or 'cbcs', schi/tenc with the key ID; cbcs: the
 * 1:9 pattern for video and the constant IV), and at the moov's end the
 * pssh boxes of the job's DRM systems (drm.h).  Each fragment (moof + mdat):
 * the samples encrypted in place and a senc, saiz and saio appended to the
 * traf, the moof and traf sizes and the trun data offset moved by what was
 * added.
 *
 * Video (H.264, H.265: length-prefixed NAL units) uses subsamples: the
 * length, the NAL header and the slice header (nal_slice.h, from the
 * avcC/hvcC parameter sets) of each slice NAL unit stay clear, every other
 * NAL unit stays clear whole (ISO/IEC 23001-7: for 'cbcs' the protected
 * range starts at the first byte after the slice header, what Apple's
 * FairPlay and hardware decoders need; for 'cenc' a clear slice header is
 * recommended).  cenc also keeps the first (rest mod 16) bytes of the slice
 * data clear, so the protected part is whole AES blocks (CMAF); cbcs's
 * pattern leaves a trailing partial block clear.  Audio: full-sample
 * encryption, no subsamples (cbcs: "whole-block full-sample", every whole
 * block, no pattern, the last partial block clear; FFmpeg refuses cbcs
 * subsamples with a 0:0 pattern).
 *
 * Tested by tests/unit/test_transcoder_cenc.c (boxes, decryption with
 * OpenSSL) and tests/integration/encryption.test.mjs (ffmpeg's decryption,
 * ffprobe, Shaka Player with ClearKey in Chromium).
 */
#ifndef CIR_CENC_H
#define CIR_CENC_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>

#include "cir_encryption.h"

typedef struct cir_cenc cir_cenc_t;

/* enc: the scheme and key (copied; cleared on free); par: the track's
 * codec.  CIR_EUNSUPPORTED for a video codec other than H.264/H.265. */
int cir_cenc_open(cir_cenc_t **e, const cir_encryption_t *enc,
                  const AVCodecParameters *par);

/* The init segment (ftyp + moov of one track) with its sample entry
 * protected, in a new buffer (av_free). */
int cir_cenc_protect_init(cir_cenc_t *e, const uint8_t *in, size_t size,
                          uint8_t **out, size_t *out_size);

/*
 * A run of top-level boxes (moof + mdat pairs; anything else is copied)
 * encrypted into a new buffer (av_free).  in is not changed.  Each moof
 * grows; cir_cenc_map_offset() says where a moof of in ended up.
 */
int cir_cenc_protect_fragments(cir_cenc_t *e, const uint8_t *in, size_t size,
                               uint8_t **out, size_t *out_size);

/* For the last cir_cenc_protect_fragments call: the new offset of the
 * moof that was at in_off, and how many bytes it grew (0 and in_off for
 * an offset that was not a moof). */
void cir_cenc_map_offset(const cir_cenc_t *e, uint64_t in_off,
                         uint64_t *out_off, uint64_t *growth);

void cir_cenc_free(cir_cenc_t **e);

#endif
