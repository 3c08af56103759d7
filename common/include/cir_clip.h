/*
 * A VOD job's source range ("clip" in a job document, cirrus-transcode
 * --clip): {"start": T, "end": T}, both optional, each seconds as a number
 * or "[[hh:]mm:]ss[.fff]"; start before end.
 *
 * Pure: jansson only.  Tested by tests/unit/test_common_clip.c (and, as
 * job documents, by tests/unit/test_ingest_intake_job.c).
 */
#ifndef CIR_CLIP_H
#define CIR_CLIP_H

#include <stddef.h>

#include <jansson.h>

typedef struct {
    int enabled;       /* 0: the whole source */
    double start, end; /* seconds; end 0: to the end */
} cir_clip_t;

/* Parses a "clip" object into *out (enabled); unknown fields, wrong types
 * and times out of range fail with CIR_EINVAL and a message naming the
 * field ("clip.end: 3 is not after clip.start 5"). */
int cir_clip_parse(const json_t *v, cir_clip_t *out, char *err, size_t errsize);

/* The object again, what cir_clip_parse reads back ("end" only when set),
 * or NULL without a clip or on ENOMEM. */
json_t *cir_clip_to_json(const cir_clip_t *c);

#endif
