/*
 * Publication markers: <asset>/.published/<tag>.json says that one upload
 * (tag: the hex SHA-256 of its identity, cir_intake_publish_tag()) has been
 * published, so a job run again for the same upload — an SQS redelivery
 * to cirrus-worker, an attempt AWS Batch retries, a duplicate submission —
 * publishes no second version of it.  A re-upload of the same key has
 * another identity, so another tag, and publishes a new version.
 *
 * The marker is written after the asset's top-level manifests (it records
 * the version they name) and checked before a job starts.  It is the one
 * object of the asset, beside the top-level manifests, that is not
 * immutable; it is never rewritten for a given tag in normal operation.
 *
 *   {"input": "s3://in/a.mp4", "source_version": "versionId=...",
 *    "version": "20261206T132644649Z-de78cb433b4d38ec", "preset": "web"}
 *
 * cirrus-worker and cirrus-transcode (--publish-tag, as AWS Batch runs it)
 * share this code.
 */
#ifndef CIR_PUBLISHED_H
#define CIR_PUBLISHED_H

#include <stddef.h>

#include "cir_storage.h"

#define CIR_PUBLISHED_TAG_LEN 64    /* hex SHA-256 */
#define CIR_PUBLISHED_MAX     65536 /* the largest marker read back */

typedef struct {
    char input[4096];
    char source_version[256];
    char version[64]; /* "" when the marker does not say (unreadable) */
    char preset[64];
} cir_published_t;

/* Is tag CIR_PUBLISHED_TAG_LEN lowercase hex digits? */
int cir_published_tag_is_valid(const char *tag);

/* The marker's path in the asset's store: ".published/<tag>.json".  0, or
 * CIR_EINVAL for an invalid tag, CIR_ELIMIT when size is too small. */
int cir_published_path(const char *tag, char *out, size_t size);

/*
 * Is the upload of tag published in the asset's store?  1 (and *m, if not
 * NULL, from the marker: a marker that exists but cannot be parsed still
 * counts, with empty fields), 0 when there is no marker, < 0 when the
 * store could not tell (the caller decides: a worker runs the job, which
 * is safe, only possibly a second version).
 */
int cir_published_read(cir_store_t *store, const char *tag, cir_published_t *m);

/* Writes the marker of tag (after the top-level manifests).  Returns 0 or
 * the store's error. */
int cir_published_write(cir_store_t *store, const char *tag,
                        const cir_published_t *m);

#endif
