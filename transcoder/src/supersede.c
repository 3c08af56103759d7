/*
 * Superseded versions: recorded, tagged on S3 for the lifecycle rule that
 * expires them (supersede.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "asset_put.h"
#include "cir_aws.h"
#include "cir_error.h"
#include "supersede.h"

#define MANIFEST_MAX (8u << 20)

/* The top-level objects that name the published version, by preference. */
static const char *const top_names[] = {"master.m3u8", "manifest.mpd",
                                        "images/manifest.json", "thumbs.vtt"};

static int
id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int
cir_supersede_parse_version(const char *text, char *id, size_t size)
{
    for (const char *p = text; (p = strstr(p, CIR_VERSIONS_DIR "/")) != NULL;
         p++) {
        const char *s = p + strlen(CIR_VERSIONS_DIR "/"), *e = s;
        if (p != text && strchr("\"'>\n", p[-1]) == NULL) {
            continue;
        }
        while (id_char(*e)) {
            e++;
        }
        if (*e == '/' && e > s && (size_t)(e - s) < size &&
            (size_t)(e - s) < CIR_VERSION_ID_MAX) {
            memcpy(id, s, (size_t)(e - s));
            id[e - s] = '\0';
            return 1;
        }
    }
    return 0;
}

/* <prefix>/<rel> as an S3 key (no slash doubled, none leading). */
static int
s3_key(const cir_uri_t *out, const char *rel, char *key, size_t size)
{
    size_t n = strlen(out->path);
    int w;

    while (n > 0 && out->path[n - 1] == '/') {
        n--;
    }
    w = snprintf(key, size, "%.*s%s%s", (int)n, out->path, n ? "/" : "", rel);
    return w < 0 || (size_t)w >= size ? CIR_ELIMIT : 0;
}

/* The text of a top-level object: 0, CIR_ENOTFOUND, or another error. */
static int
read_top(const cir_uri_t *out, const char *rel, char **text)
{
    char key[CIR_URI_MAX + 64];
    size_t len = 0;
    int ret;

    *text = NULL;
    if (out->scheme == CIR_URI_FILE) {
        snprintf(key, sizeof(key), "%s/%s", out->path, rel);
        ret = cir_read_file(key, MANIFEST_MAX, text, &len);
        return ret == -ENOENT ? CIR_ENOTFOUND : ret;
    }
    cir_aws_t *a = cir_aws_default();
    cir_buf_t b;
    if (a == NULL) {
        return CIR_EAUTH;
    }
    if ((ret = s3_key(out, rel, key, sizeof(key))) < 0) {
        return ret;
    }
    cir_buf_init(&b, MANIFEST_MAX);
    ret = cir_s3_get(a, out->bucket, key, MANIFEST_MAX, &b);
    if (ret == 0 && (*text = malloc(b.len + 1)) == NULL) {
        ret = CIR_ENOMEM;
    } else if (ret == 0) {
        if (b.len) {
            memcpy(*text, b.data, b.len);
        }
        (*text)[b.len] = '\0';
    }
    cir_buf_free(&b);
    return ret;
}

int
cir_supersede_current(const cir_uri_t *out, char *id, size_t size)
{
    id[0] = '\0';
    for (size_t i = 0; i < sizeof(top_names) / sizeof(top_names[0]); i++) {
        char *text = NULL;
        int ret = read_top(out, top_names[i], &text), found;
        if (ret == CIR_ENOTFOUND) {
            continue;
        }
        if (ret < 0) {
            return ret;
        }
        found = cir_supersede_parse_version(text, id, size);
        free(text);
        if (found) {
            return 0;
        }
    }
    return 0;
}

static int
write_record(const cir_uri_t *out, const char *previous, const char *published)
{
    char name[CIR_VERSION_ID_MAX + 32];
    cir_store_t *store = NULL;
    json_t *j;
    char *text = NULL;
    int ret;

    snprintf(name, sizeof(name), "%s/%s.json", CIR_SUPERSEDED_DIR, previous);
    j = json_pack("{s:s, s:s}", "version", previous, "superseded_by",
                  published);
    if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL) {
        ret = CIR_ENOMEM;
    } else if ((ret = cir_store_open(&store, out)) == 0) {
        ret = cir_asset_put(store, CIR_ASSET_TOP, name, text, strlen(text));
    }
    cir_store_close(&store);
    free(text);
    json_decref(j);
    return ret;
}

typedef struct {
    char ids[CIR_SUPERSEDE_MAX_RECORDS][CIR_VERSION_ID_MAX];
    int n;
    size_t skip; /* the prefix "<out>/.superseded/" */
} records_t;

static int
on_record(void *opaque, const char *key, int64_t size)
{
    records_t *r = opaque;
    const char *name = key + r->skip;
    size_t n = strlen(name);
    char id[CIR_VERSION_ID_MAX];

    (void)size;
    if (n <= 5 || strcmp(name + n - 5, ".json") != 0 || n - 5 >= sizeof(id)) {
        return 0;
    }
    memcpy(id, name, n - 5);
    id[n - 5] = '\0';
    if (cir_version_id_is_valid(id) && r->n < CIR_SUPERSEDE_MAX_RECORDS) {
        snprintf(r->ids[r->n++], CIR_VERSION_ID_MAX, "%s", id);
    }
    return r->n >= CIR_SUPERSEDE_MAX_RECORDS;
}

typedef struct {
    cir_aws_t *a;
    const char *bucket;
    const atomic_int *cancel;
    int objects;
    int error;
} tagger_t;

static int
on_object(void *opaque, const char *key, int64_t size)
{
    static const cir_aws_kv_t tag = {CIR_SUPERSEDED_TAG,
                                     CIR_SUPERSEDED_TAG_VALUE};
    tagger_t *t = opaque;

    (void)size;
    if (t->cancel && atomic_load(t->cancel)) {
        t->error = CIR_ECANCELED;
        return 1;
    }
    if ((t->error = cir_s3_put_tagging(t->a, t->bucket, key, &tag, 1)) < 0) {
        return 1;
    }
    t->objects++;
    return 0;
}

/* Tags every object of one superseded version, then removes its record. */
static int
tag_version(cir_aws_t *a, const cir_uri_t *out, const char *id, int max_keys,
            const atomic_int *cancel, cir_log_ctx_t *log,
            cir_supersede_stats_t *st)
{
    char prefix[CIR_URI_MAX + 96], rel[CIR_VERSION_ID_MAX + 32];
    tagger_t t = {.a = a, .bucket = out->bucket, .cancel = cancel};
    int ret;

    snprintf(rel, sizeof(rel), "%s/%s/", CIR_VERSIONS_DIR, id);
    if ((ret = s3_key(out, rel, prefix, sizeof(prefix))) < 0) {
        return ret;
    }
    ret = cir_s3_list_paged(a, out->bucket, prefix, max_keys, on_object, &t);
    st->objects += t.objects;
    if (ret == 0) {
        ret = t.error;
    }
    if (ret < 0) {
        cir_log_warn(log,
                     "marking superseded version %s: %d object(s) tagged, "
                     "then %s (%s); the asset's next publish tries again",
                     id, t.objects, cir_errname(ret), cir_aws_last_error());
        return ret;
    }
    snprintf(rel, sizeof(rel), "%s/%s.json", CIR_SUPERSEDED_DIR, id);
    if ((ret = s3_key(out, rel, prefix, sizeof(prefix))) < 0 ||
        (ret = cir_s3_delete(a, out->bucket, prefix)) < 0) {
        /* tagged again next time: harmless */
        cir_log_warn(log, "removing the record of superseded version %s: %s",
                     id, cir_strerror(ret));
    }
    cir_log_info(log, "superseded version %s: %d object(s) tagged %s=%s", id,
                 t.objects, CIR_SUPERSEDED_TAG, CIR_SUPERSEDED_TAG_VALUE);
    st->versions++;
    return 0;
}

int
cir_supersede_mark(const cir_uri_t *out, const char *previous,
                   const char *published, int max_keys,
                   const atomic_int *cancel, cir_log_ctx_t *log,
                   cir_supersede_stats_t *st)
{
    char prefix[CIR_URI_MAX + 32], current[CIR_VERSION_ID_MAX];
    records_t recs = {.n = 0};
    cir_aws_t *a;
    int ret, first = 0;

    memset(st, 0, sizeof(*st));
    if (previous && previous[0] && strcmp(previous, published) != 0 &&
        (ret = write_record(out, previous, published)) < 0) {
        cir_log_warn(log, "recording superseded version %s: %s", previous,
                     cir_strerror(ret));
        st->failures++;
        first = ret;
    }
    if (out->scheme != CIR_URI_S3) {
        return first; /* no lifecycle on a file system: the record only */
    }
    if ((a = cir_aws_default()) == NULL) {
        st->failures++;
        return first ? first : CIR_EAUTH;
    }
    /* what is served now is never marked, whatever a record says */
    if ((ret = cir_supersede_current(out, current, sizeof(current))) < 0) {
        cir_log_warn(log,
                     "reading the asset's top-level manifests: %s; superseded "
                     "versions are marked by its next publish",
                     cir_strerror(ret));
        st->failures++;
        return first ? first : ret;
    }
    if ((ret = s3_key(out, CIR_SUPERSEDED_DIR "/", prefix, sizeof(prefix))) <
        0) {
        return ret;
    }
    recs.skip = strlen(prefix);
    if ((ret = cir_s3_list_paged(a, out->bucket, prefix, max_keys, on_record,
                                 &recs)) < 0) {
        cir_log_warn(log, "listing %s: %s (%s)", prefix, cir_strerror(ret),
                     cir_aws_last_error());
        st->failures++;
        return first ? first : ret;
    }
    for (int i = 0; i < recs.n; i++) {
        const char *id = recs.ids[i];
        if (strcmp(id, published) == 0 || strcmp(id, current) == 0) {
            cir_log_warn(log,
                         "version %s is recorded as superseded but is "
                         "the published one: not marked",
                         id);
            continue;
        }
        if (cancel && atomic_load(cancel)) {
            break;
        }
        if ((ret = tag_version(a, out, id, max_keys, cancel, log, st)) < 0) {
            st->failures++;
            first = first ? first : ret;
        }
    }
    return first;
}
