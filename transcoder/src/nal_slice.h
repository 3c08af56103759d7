/*
 * The length of the slice header of an H.264 or H.265 VCL NAL unit, for
 * Common Encryption's subsample maps (ISO/IEC 23001-7: the protected part
 * of a video NAL unit starts after its slice header).
 *
 * The parameter sets come from the sample entry's avcC / hvcC; the parser
 * keeps only the fields a slice header's syntax depends on.  Every read is
 * bounded: a malformed or hostile bitstream gives CIR_EMEDIA, features the
 * parser does not follow (H.264 slice groups and data partitioning, H.265
 * multi-layer / 3D / screen-content extensions) CIR_EUNSUPPORTED.
 *
 * Tested by tests/unit/test_transcoder_nal_slice.c (lengths compared with
 * FFmpeg's trace_headers on the sample media, hostile inputs) and
 * tests/fuzz/fuzz_nal_slice.c.
 */
#ifndef CIR_NAL_SLICE_H
#define CIR_NAL_SLICE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cir_nal_slice cir_nal_slice_t;

/* The parameter sets of a decoder configuration record (the avcC or hvcC
 * box's payload, after its 8-byte box header). */
int cir_nal_slice_open(cir_nal_slice_t **p, int is_hevc, const uint8_t *cfg,
                       size_t size);

/* Adds one SPS or PPS NAL unit (no length prefix): in-band parameter sets
 * replace those of the same id. Other NAL types are ignored. */
int cir_nal_slice_add_param_set(cir_nal_slice_t *p, const uint8_t *nal,
                                size_t size);

/* 1 for a NAL unit that carries a slice header (H.264 types 1 and 5, H.265
 * VCL types 0-31), 0 otherwise. */
int cir_nal_slice_is_slice(const cir_nal_slice_t *p, const uint8_t *nal,
                           size_t size);

/* The bytes of a slice NAL unit (no length prefix) up to the end of its
 * slice header: the NAL header, the header's bits rounded up to a whole
 * byte, emulation prevention bytes counted. */
int cir_nal_slice_header_size(const cir_nal_slice_t *p, const uint8_t *nal,
                              size_t size, size_t *header_size);

void cir_nal_slice_free(cir_nal_slice_t **p);

#endif
