/*
 * Private helpers shared by the live index, the live renderers and the
 * request decisions (not part of the public contract).
 */
#ifndef CIR_LIVE_UTIL_H
#define CIR_LIVE_UTIL_H

#include <stdint.h>
#include <string.h>

#include "cir_live.h"
#include "cir_manifest.h"
#include "cir_storage.h"

/* The invariants every consumer relies on: limits, timescale > 0,
 * non-negative durations, consecutive msns, only the last segment open, part
 * ranges inside parts[], init ids <= idx->init_id.  CIR_EPARSE otherwise. */
int cir_live_index_check(const cir_live_index_t *idx);

/* EXT-X-TARGETDURATION in seconds: ceil of the longest listed segment and
 * of segment_target, at least 1. */
int64_t cir_live_target_duration(const cir_live_index_t *idx);

/* Most parts a segment may hold: ceil(segment_target / part_target) + 1
 * (0 when the index has no parts). */
uint32_t cir_live_max_parts(const cir_live_index_t *idx);

/* A stream or rendition name (a folder and a URI segment). */
static inline int
cir_live_id_ok(const char *s)
{
    return cir_name_is_safe(s, strnlen(s, CIR_LIVE_ID_MAX),
                            CIR_LIVE_ID_MAX - 1);
}

/* v timescale units in microseconds, rounded toward zero: the one
 * conversion the writer's PDT and the MPD's Period starts share. */
static inline int64_t
cir_live_ts_to_us(int64_t v, uint32_t ts)
{
    return v / ts * 1000000 + v % ts * 1000000 / ts;
}

/* Microseconds in timescale units, rounded toward zero. */
static inline int64_t
cir_live_us_to_ts(int64_t us, uint32_t ts)
{
    return us / 1000000 * ts + us % 1000000 * ts / 1000000;
}

/* What the renderers' shared signalling (manifest_util.h) reads, from a
 * live key record (p points into k). */
void cir_live_key_protection(const cir_live_key_t *k, cir_protection_t *p);

/* The open (last, incomplete) segment, or NULL. */
const cir_live_segment_t *cir_live_open_segment(const cir_live_index_t *idx);

#endif
