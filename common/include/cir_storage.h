/*
 * Storage URIs and the output store.
 *
 * A URI is "file:///abs/path", "file:relative/path", a bare path (file), or
 * "s3://bucket/key/prefix".  The output store writes an asset's objects under
 * a root URI; every write is atomic (a reader sees the whole object or none:
 * temporary file + rename for file://, a single PUT for s3://), so a manifest
 * written last marks a complete asset.  s3:// is parsed here and served by
 * the S3 backend that registers itself with cir_store_register_backend().
 */
#ifndef CIR_STORAGE_H
#define CIR_STORAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CIR_URI_MAX 4096

typedef enum {
    CIR_URI_FILE = 0,
    CIR_URI_S3
} cir_uri_scheme_t;

typedef struct {
    cir_uri_scheme_t scheme;
    char bucket[64];        /* s3: 3..63 chars, DNS-compatible */
    char path[CIR_URI_MAX]; /* file: the path; s3: the key (no leading /) */
} cir_uri_t;

int cir_uri_parse(const char *s, cir_uri_t *u);
/* The same, with the reason of a refusal in why ("an S3 bucket name has 3
 * to 63 characters"). */
int cir_uri_parse_why(const char *s, cir_uri_t *u, char *why, size_t size);
/* Formats the URI back ("file:///x", "s3://b/k"). */
int cir_uri_format(const cir_uri_t *u, char *out, size_t size);

/*
 * A relative object path is safe when it is not empty, not absolute, has no
 * "." or ".." segment, no empty segment, no backslash and no control byte.
 */
int cir_path_is_safe_relative(const char *rel);

/*
 * A name that becomes one folder and one URI segment (stream keys,
 * renditions): [A-Za-z0-9_-], 1 to max_len bytes, of s[0, len).
 */
int cir_name_is_safe(const char *s, size_t len, size_t max_len);

/*
 * A job's id from the name of what it makes (its output folder, an upload's
 * key): the bytes of A-Z a-z 0-9 . _ - as they are, every other byte as
 * %XX (RFC 3986 percent-encoding), so that two names never share an id and
 * an id stands in a file name as it is ("My Clip" is "My%20Clip"; in a URL
 * path its '%' is written %25).  A name too long for size ends at a whole
 * character before it; out is always terminated.
 */
void cir_job_id_from_name(const char *name, char *out, size_t size);

/*
 * A label shown to viewers (an HLS NAME, a DASH Label): 1 to max_len
 * bytes, no control character, DEL or '"', so that it can stand inside an
 * HLS quoted-string or an XML attribute as it is.
 */
int cir_label_is_safe(const char *s, size_t max_len);

/* The value of one hex digit of a percent-escape or token, -1 if c is not
 * one. */
static inline int
cir_hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The Content-Type for an object name by extension (m3u8, mpd, mp4, m4s,
 * jpg, webp, png, vtt, json); "application/octet-stream" otherwise. */
const char *cir_content_type(const char *name);

/*
 * Published versions (README "Published outputs never change"): every
 * object of an asset but its two top-level manifests is written once under
 * <asset>/v/<version>/, a folder no other attempt, worker or upload ever
 * writes; <asset>/master.m3u8 and <asset>/manifest.mpd, written last, point
 * at the finished version and are the only objects that are ever rewritten.
 * A version id is "<UTC yyyymmddThhmmssmmmZ>-<16 hex random>", so ids sort
 * by the time the attempt started and two attempts never share one.
 */
#define CIR_VERSIONS_DIR   "v"
#define CIR_VERSION_ID_MAX 64
/* Bytes an asset's key prefix must leave free below S3's 1024-byte key
 * limit: "/v/<version>/" (at most 68) + the longest name Cirrus writes in a
 * version (a 31-byte rung + "/iframes.m3u8", thumbs/sprite-<n>.jpg,
 * .published/<64 hex>.json: at most 80), rounded up. */
#define CIR_ASSET_KEY_RESERVE 160
#define CIR_S3_KEY_MAX        1024

/* The id for an attempt that starts at wall_us with 64 random bits. */
int cir_version_id_make(int64_t wall_us, uint64_t random, char *out,
                        size_t size);
/* [A-Za-z0-9_-], 1 .. CIR_VERSION_ID_MAX - 1 bytes. */
int cir_version_id_is_valid(const char *id);
/* base + "/" + rel (a safe relative path) into out (same scheme/bucket). */
int cir_uri_join(const cir_uri_t *base, const char *rel, cir_uri_t *out);
/*
 * Can this URI be an asset's output root?  For s3:// the key prefix must
 * have no empty segment ("a//b": S3 would store it, but it names no folder
 * a file:// mirror or a player's relative URL can reach) and leave
 * CIR_ASSET_KEY_RESERVE bytes below the 1024-byte key limit.  0, or
 * CIR_EINVAL / CIR_ELIMIT with the rule it breaks in why.
 */
int cir_output_root_check(const cir_uri_t *out, char *why, size_t size);

typedef struct cir_store cir_store_t;

typedef struct {
    cir_uri_scheme_t scheme;
    int (*open)(void **state, const cir_uri_t *root);
    /* cache_control: NULL sends none */
    int (*put)(void *state, const char *rel, const void *data, size_t len,
               const char *content_type, const char *cache_control);
    int (*exists)(void *state, const char *rel); /* 1, 0 or < 0 */
    int (*remove)(void *state, const char *rel);
    /* optional: reads rel whole (at most max bytes) into a malloc'd *data
     * (NUL-terminated, *len without it): 0, CIR_ENOTFOUND, CIR_ELIMIT */
    int (*get)(void *state, const char *rel, size_t max, char **data,
               size_t *len);
    /* optional: removes the folder rel_dir ("" the root) when it is empty;
     * < 0 when it is not (file://: S3 has no folders) */
    int (*remove_folder)(void *state, const char *rel_dir);
    /* optional: a flag that, once set, aborts writes in flight */
    void (*set_cancel)(void *state, const atomic_int *cancel);
    void (*close)(void *state);
    /* optional: calls fn for every object under the folder rel_dir, with
     * its path relative to the root, and (file://) every folder after its
     * contents (is_folder 1; S3 has none).  A symbolic link is an object,
     * never followed; rel_dir itself must be a real folder.  fn's nonzero
     * return stops the walk and is returned.  0 (nothing there: 0 calls),
     * or < 0. */
    int (*list)(void *state, const char *rel_dir,
                int (*fn)(void *opaque, const char *rel, int is_folder),
                void *opaque);
    /* optional: writes rel only when there is no object rel (atomically:
     * of two writers one wins): 0, -EEXIST, or < 0 */
    int (*put_new)(void *state, const char *rel, const void *data, size_t len,
                   const char *content_type);
    /* optional: the objects under rel_dir in byte order of their paths,
     * from the first after after_rel ("" : the first), read page by page
     * (S3's ListObjectsV2); fn's nonzero return stops the walk */
    int (*list_after)(void *state, const char *rel_dir, const char *after_rel,
                      int (*fn)(void *opaque, const char *rel, int is_folder),
                      void *opaque);
} cir_store_backend_t;

int cir_store_register_backend(const cir_store_backend_t *backend);

int cir_store_open(cir_store_t **store, const cir_uri_t *root);
/* What a caller says about one object it writes. */
typedef struct {
    /* the Cache-Control header sent with it (an S3 object's metadata),
     * exactly as given; NULL or "": none.  The store has no cache policy
     * of its own: the caller asks origin/'s (cir_origin_cache_control). */
    const char *cache_control;
} cir_store_put_opts_t;

/* Writes rel (a safe relative path) under the root, atomically, creating
 * folders as needed; the content type from the name, the rest from opts
 * (NULL: no Cache-Control). */
int cir_store_put(cir_store_t *store, const char *rel, const void *data,
                  size_t len, const cir_store_put_opts_t *opts);
int cir_store_exists(cir_store_t *store, const char *rel);
/* Reads rel (a safe relative path) whole, at most max bytes, into a
 * malloc'd, NUL-terminated *data (free() it) and *len: 0, CIR_ENOTFOUND
 * when there is no such object, CIR_ELIMIT when it is larger than max,
 * CIR_EUNSUPPORTED when the backend cannot read, else < 0. */
int cir_store_get(cir_store_t *store, const char *rel, size_t max, char **data,
                  size_t *len);
/* A fence for a job that may be stopped from outside (its lease lost): once
 * *cancel is nonzero no write starts (cir_store_put answers CIR_ECANCELED)
 * and a backend that can (S3) aborts the uploads in flight.  cancel must
 * outlive the store; NULL removes the fence. */
void cir_store_set_cancel(cir_store_t *store, const atomic_int *cancel);
int cir_store_remove(cir_store_t *store, const char *rel);
/* A journal of writes, for a job that must leave nothing when it fails:
 * after cir_store_track_writes() the store remembers every object it put
 * (or tried to: a failed put may leave a part); cir_store_written() counts
 * them; cir_store_undo_writes() removes them, newest first, then the
 * folders left empty (the root too), and forgets them: 0 or the first
 * error (the rest are still tried), *removed the objects removed. */
void cir_store_track_writes(cir_store_t *store);
size_t cir_store_written(cir_store_t *store);
int cir_store_undo_writes(cir_store_t *store, size_t *removed);
/* Lists what is under rel_dir (a safe relative path): the backend's list
 * (above); CIR_EUNSUPPORTED when it has none. */
int cir_store_list(cir_store_t *store, const char *rel_dir,
                   int (*fn)(void *opaque, const char *rel, int is_folder),
                   void *opaque);
/* Creates rel (a safe relative path) with data unless an object rel exists
 * (S3: a conditional PUT, If-None-Match: *; file://: a link, which fails
 * on an existing name): 0, -EEXIST when it exists (whoever wrote it), or
 * < 0.  Of writers racing on one rel exactly one gets 0. */
int cir_store_put_new(cir_store_t *store, const char *rel, const void *data,
                      size_t len);
/* The objects under rel_dir in byte order, from the first after after_rel
 * (a path relative to the root, "" for the first), as the store pages them
 * (S3: ListObjectsV2 with start-after and continuation tokens), so a caller
 * that stops early reads no more than it needs: fn's nonzero return stops
 * the walk (0 is returned then too); CIR_EUNSUPPORTED for a backend
 * that cannot list in order (file://: use cir_store_list and sort). */
int cir_store_list_after(
    cir_store_t *store, const char *rel_dir, const char *after_rel,
    int (*fn)(void *opaque, const char *rel, int is_folder), void *opaque);
/* Removes every object under rel_dir (a safe relative path: an asset's
 * folder), then its folders, rel_dir last: 0 and *removed the objects
 * removed, CIR_ENOTFOUND when there was nothing under it, CIR_EINVAL when
 * rel_dir is a symbolic link (file://: not followed), else the first error
 * (the rest are still tried).  At most CIR_STORE_TREE_MAX objects: past
 * them CIR_ELIMIT and nothing is removed. */
#define CIR_STORE_TREE_MAX 1000000
int cir_store_remove_tree(cir_store_t *store, const char *rel_dir,
                          size_t *removed);
void cir_store_close(cir_store_t **store);

/* file:// helpers the transcoder also uses for scratch space. */
int cir_mkdir_p(const char *path, unsigned mode);
int cir_write_file_atomic(const char *path, const void *data, size_t len);
/* CIR_WRITE_DURABLE: fsync the file and its folder (what an output store
 * needs); without it the write is still atomic for readers but may be lost
 * in a crash (what a live store, rewritten every part, can afford). */
#define CIR_WRITE_DURABLE 1u
int cir_write_file_atomic_flags(const char *path, const void *data, size_t len,
                                unsigned flags);
/* Writes all len bytes at off (pwrite, retried on EINTR and short
 * writes): 0 or -errno. */
int cir_pwrite_all(int fd, const void *data, size_t len, int64_t off);
/* Reads a whole file of at most max bytes (CIR_ELIMIT past it). */
int cir_read_file(const char *path, size_t max, char **data, size_t *len);

#endif
