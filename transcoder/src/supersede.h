/*
 * Superseded versions (README "Superseded versions expire"): when a job
 * publishes a new version of an asset, the version the top-level manifests
 * named before it is recorded as superseded (<output>/.superseded/<id>.json)
 * and, on S3, every object under <output>/v/<id>/ gets the tag
 * cirrus-superseded=true, which the output bucket's lifecycle rule expires
 * after a grace period.  Records whose tagging did not finish stay and are
 * retried by the asset's next publish.  Marking never fails a job.
 *
 * Why this never marks the version being served: a job reads the version
 * the top-level manifests name before it writes its own; a version can only
 * be read there after it wrote them, and writes them once, so by the time
 * this job's manifests are written the recorded version has been replaced
 * (or is replaced by this job's).  Concurrent attempts can miss a version
 * (both read the same predecessor): that leaks storage, never removes a
 * served object.
 */
#ifndef CIR_SUPERSEDE_H
#define CIR_SUPERSEDE_H

#include <stdatomic.h>
#include <stddef.h>

#include "cir_log.h"
#include "cir_storage.h"

#define CIR_SUPERSEDED_DIR       ".superseded"
#define CIR_SUPERSEDED_TAG       "cirrus-superseded"
#define CIR_SUPERSEDED_TAG_VALUE "true"
/* Records handled by one publish (the rest wait for the next). */
#define CIR_SUPERSEDE_MAX_RECORDS 32

typedef struct {
    int versions; /* versions whose objects are all tagged now */
    int objects;  /* objects tagged */
    int failures; /* versions left for the next publish after an error */
} cir_supersede_stats_t;

/* The version a top-level manifest's text points into ("v/<id>/" after
 * the start, a quote, '>' or a newline): 1 with the id in id, else 0. */
int cir_supersede_parse_version(const char *text, char *id, size_t size);

/* The version the asset's top-level manifests (master.m3u8, manifest.mpd,
 * images/manifest.json, thumbs.vtt, the first found) name now: 0 with id
 * ("" when the asset has none yet), or < 0 when they could not be read. */
int cir_supersede_current(const cir_uri_t *out, char *id, size_t size);

/* After `published` became the asset's version: records `previous` (may be
 * "" or NULL) as superseded, then on S3 tags the objects of every recorded
 * version (ListObjectsV2 pages of max_keys, 0 = S3's default) and removes
 * the records that are done.  Stops early, leaving records, when *cancel is
 * set.  0 or the first error (already logged); never touches `published`
 * or the version the top-level manifests name now. */
int cir_supersede_mark(const cir_uri_t *out, const char *previous,
                       const char *published, int max_keys,
                       const atomic_int *cancel, cir_log_ctx_t *log,
                       cir_supersede_stats_t *st);

#endif
