/*
 * The shared job store (cir_job_store.h): records and cancel requests
 * under one store URI, through cir_storage.h (S3, or file:// on one host).
 * Tested by tests/unit/test_worker_job_store.c and, on the S3 rig, by
 * tests/integration/job_api.test.mjs.
 */
#include "cir_job_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_json.h"
#include "cir_storage.h"

struct cir_job_store {
    char uri[CIR_URI_MAX];
    cir_uri_t root;
};

int
cir_job_store_open(cir_job_store_t **out, const char *uri, char *err,
                   size_t errsize)
{
    cir_job_store_t *js;
    char why[256] = "";

    *out = NULL;
    if ((js = calloc(1, sizeof(*js))) == NULL) {
        snprintf(err, errsize, "out of memory");
        return CIR_ENOMEM;
    }
    if (strlen(uri) >= sizeof(js->uri) ||
        cir_uri_parse_why(uri, &js->root, why, sizeof(why)) < 0 ||
        (js->root.scheme != CIR_URI_S3 && js->root.scheme != CIR_URI_FILE)) {
        snprintf(err, errsize, "jobs_s3_uri %s: %s", uri,
                 why[0] ? why : "not an s3:// or file:// URI");
        free(js);
        return CIR_EINVAL;
    }
    snprintf(js->uri, sizeof(js->uri), "%s", uri);
    *out = js;
    return 0;
}

void
cir_job_store_close(cir_job_store_t **js)
{
    free(*js);
    *js = NULL;
}

const char *
cir_job_store_uri(const cir_job_store_t *js)
{
    return js->uri;
}

/* "<folder>/<id><suffix>": 0, or CIR_EINVAL for an id that is no name. */
static int
rel_path(const char *folder, const char *id, const char *suffix, char *out,
         size_t size)
{
    int n;

    size_t len = strlen(id);

    /* the job API's ids: A-Z a-z 0-9 . _ - % (cir_job_id_from_name) */
    if (len == 0 || len >= CIR_JOB_STORE_ID_LEN || id[0] == '.' ||
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789._-%") != len) {
        return CIR_EINVAL;
    }
    n = snprintf(out, size, "%s/%s%s", folder, id, suffix);
    return n < 0 || (size_t)n >= size ? CIR_ELIMIT : 0;
}

int
cir_job_store_get(cir_job_store_t *js, const char *id, json_t **rec)
{
    cir_store_t *store = NULL;
    char rel[200], err[128];
    char *text = NULL;
    size_t len = 0;
    int ret;

    *rec = NULL;
    if ((ret = rel_path("jobs", id, ".json", rel, sizeof(rel))) < 0 ||
        (ret = cir_store_open(&store, &js->root)) < 0) {
        return ret;
    }
    ret = cir_store_get(store, rel, CIR_JOB_STORE_RECORD_MAX, &text, &len);
    cir_store_close(&store);
    if (ret == 0 && (cir_json_parse(text, len, CIR_JOB_STORE_RECORD_MAX, rec,
                                    err, sizeof(err)) < 0 ||
                     !json_is_object(*rec))) {
        json_decref(*rec);
        *rec = NULL;
        ret = CIR_EINVAL; /* not a record this store wrote */
    }
    free(text);
    return ret;
}

static int
put_text(cir_job_store_t *js, const char *rel, const char *text)
{
    cir_store_t *store = NULL;
    int ret = cir_store_open(&store, &js->root);

    if (ret == 0) {
        ret = cir_store_put(store, rel, text, strlen(text), NULL);
        cir_store_close(&store);
    }
    return ret;
}

static int
remove_rel(cir_job_store_t *js, const char *rel)
{
    cir_store_t *store = NULL;
    int ret = cir_store_open(&store, &js->root);

    if (ret == 0) {
        ret = cir_store_remove(store, rel);
        cir_store_close(&store);
    }
    return ret == CIR_ENOTFOUND ? 0 : ret;
}

int
cir_job_store_put(cir_job_store_t *js, const char *id, const json_t *rec)
{
    char rel[200], *text;
    int ret;

    if ((ret = rel_path("jobs", id, ".json", rel, sizeof(rel))) < 0) {
        return ret;
    }
    if ((text = json_dumps(rec, JSON_COMPACT)) == NULL) {
        return CIR_ENOMEM;
    }
    ret = put_text(js, rel, text);
    free(text);
    return ret;
}

int
cir_job_store_remove(cir_job_store_t *js, const char *id)
{
    char rel[200];
    int ret = rel_path("jobs", id, ".json", rel, sizeof(rel));

    return ret < 0 ? ret : remove_rel(js, rel);
}

int
cir_job_store_cancel_mark(cir_job_store_t *js, const char *id)
{
    char rel[200];
    int ret = rel_path("cancel", id, "", rel, sizeof(rel));

    return ret < 0 ? ret : put_text(js, rel, "{\"cancel\":true}\n");
}

int
cir_job_store_cancel_asked(cir_job_store_t *js, const char *id)
{
    cir_store_t *store = NULL;
    char rel[200];
    int ret;

    if ((ret = rel_path("cancel", id, "", rel, sizeof(rel))) < 0 ||
        (ret = cir_store_open(&store, &js->root)) < 0) {
        return ret;
    }
    ret = cir_store_exists(store, rel);
    cir_store_close(&store);
    return ret;
}

int
cir_job_store_cancel_clear(cir_job_store_t *js, const char *id)
{
    char rel[200];
    int ret = rel_path("cancel", id, "", rel, sizeof(rel));

    return ret < 0 ? ret : remove_rel(js, rel);
}

/* ---- idempotency keys -----------------------------------------------------
 */

int
cir_job_store_key_get(cir_job_store_t *js, const char *name, json_t **rec)
{
    cir_store_t *store = NULL;
    char rel[200], err[128];
    char *text = NULL;
    size_t len = 0;
    int ret;

    *rec = NULL;
    if ((ret = rel_path("keys", name, ".json", rel, sizeof(rel))) < 0 ||
        (ret = cir_store_open(&store, &js->root)) < 0) {
        return ret;
    }
    ret = cir_store_get(store, rel, CIR_JOB_STORE_KEY_MAX, &text, &len);
    cir_store_close(&store);
    if (ret == 0 && (cir_json_parse(text, len, CIR_JOB_STORE_KEY_MAX, rec, err,
                                    sizeof(err)) < 0 ||
                     !json_is_object(*rec))) {
        json_decref(*rec);
        *rec = NULL;
        ret = CIR_EINVAL;
    }
    free(text);
    return ret;
}

int
cir_job_store_key_claim(cir_job_store_t *js, const char *name,
                        const json_t *rec)
{
    cir_store_t *store = NULL;
    char rel[200], *text;
    int ret;

    if ((ret = rel_path("keys", name, ".json", rel, sizeof(rel))) < 0) {
        return ret;
    }
    if ((text = json_dumps(rec, JSON_COMPACT)) == NULL) {
        return CIR_ENOMEM;
    }
    if ((ret = cir_store_open(&store, &js->root)) == 0) {
        ret = cir_store_put_new(store, rel, text, strlen(text));
        cir_store_close(&store);
    }
    free(text);
    return ret;
}

int
cir_job_store_key_remove(cir_job_store_t *js, const char *name)
{
    char rel[200];
    int ret = rel_path("keys", name, ".json", rel, sizeof(rel));

    return ret < 0 ? ret : remove_rel(js, rel);
}

/* ---- listing ------------------------------------------------------------ */

#define LIST_MAX 100000 /* records looked at, past which a list stops */

/* The order of the records' object names, "<id>.json" (S3's order): the
 * ids' byte order but for ids that differ where one has a byte below '.'
 * ('-', '%') and the other ends. */
int
cir_job_store_id_cmp(const char *x, const char *y)
{
    char kx[CIR_JOB_STORE_ID_LEN + 8], ky[CIR_JOB_STORE_ID_LEN + 8];

    snprintf(kx, sizeof(kx), "%s.json", x);
    snprintf(ky, sizeof(ky), "%s.json", y);
    return strcmp(kx, ky);
}

/* The id of a record's path ("jobs/<id>.json") into id: 1, else 0. */
static int
record_id(const char *rel, char *id, size_t size)
{
    const char *name = rel + 5; /* after "jobs/" */
    size_t len;

    if (strncmp(rel, "jobs/", 5) != 0) {
        return 0;
    }
    len = strlen(name);
    if (len <= 5 || len - 5 >= size || strchr(name, '/') != NULL ||
        strcmp(name + len - 5, ".json") != 0 || name[0] == '.') {
        return 0;
    }
    snprintf(id, size, "%.*s", (int)(len - 5), name);
    return 1;
}

typedef struct {
    const char *cursor;
    char (*ids)[CIR_JOB_STORE_ID_LEN];
    size_t cap, n, seen;
} list_t;

/* Keeps the cap smallest ids after the cursor (the file store lists in no
 * order; S3 lists in byte order). */
static int
list_one(void *opaque, const char *rel, int is_folder)
{
    list_t *l = opaque;
    char id[CIR_JOB_STORE_ID_LEN];

    if (is_folder || !record_id(rel, id, sizeof(id))) {
        return 0;
    }
    if (++l->seen > LIST_MAX) {
        return 1;
    }
    if (l->cursor[0] && cir_job_store_id_cmp(id, l->cursor) <= 0) {
        return 0;
    }
    /* where it goes: at the end when the keys come sorted (S3) */
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cir_job_store_id_cmp(l->ids[mid], id) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == l->cap) {
        return 0; /* full, and larger than every id kept */
    }
    if (l->n == l->cap) {
        l->n--; /* the largest makes room */
    }
    memmove(l->ids + lo + 1, l->ids + lo, (l->n - lo) * sizeof(*l->ids));
    snprintf(l->ids[lo], CIR_JOB_STORE_ID_LEN, "%s", id);
    l->n++;
    return 0;
}

/* A store that cannot list in order (file://): every name listed, the
 * max first after the cursor kept. */
static int
list_sorted(cir_job_store_t *js, const char *cursor,
            char (*ids)[CIR_JOB_STORE_ID_LEN], size_t max, size_t *n, int *more)
{
    char(*buf)[CIR_JOB_STORE_ID_LEN] = malloc((max + 1) * sizeof(*buf));
    list_t l = {.cursor = cursor ? cursor : "", .ids = buf, .cap = max + 1};
    cir_store_t *store = NULL;
    int ret;

    *n = 0;
    *more = 0;
    if (buf == NULL) {
        return CIR_ENOMEM;
    }
    if ((ret = cir_store_open(&store, &js->root)) == 0) {
        ret = cir_store_list(store, "jobs", list_one, &l);
        cir_store_close(&store);
    }
    if (ret == CIR_ENOTFOUND || ret == -ENOENT) {
        ret = 0; /* nothing submitted yet */
    }
    if (ret >= 0) {
        *more = l.n > max || l.seen > LIST_MAX;
        *n = l.n > max ? max : l.n;
        memcpy(ids, buf, *n * sizeof(*buf));
        ret = 0;
    }
    free(buf);
    return ret;
}

typedef struct {
    int (*fn)(void *opaque, const char *id);
    void *opaque;
} scan_t;

static int
scan_one(void *opaque, const char *rel, int is_folder)
{
    scan_t *sc = opaque;
    char id[CIR_JOB_STORE_ID_LEN];

    if (is_folder || !record_id(rel, id, sizeof(id))) {
        return 0;
    }
    return sc->fn(sc->opaque, id) != 0;
}

#define SCAN_BATCH 256 /* ids a file:// store lists at a time */

/* file://: batches of list_sorted, each after the last id of the one
 * before. */
static int
scan_sorted(cir_job_store_t *js, const char *cursor,
            int (*fn)(void *opaque, const char *id), void *opaque)
{
    char(*ids)[CIR_JOB_STORE_ID_LEN] = malloc(SCAN_BATCH * sizeof(*ids));
    char after[CIR_JOB_STORE_ID_LEN];
    size_t n = 0;
    int more = 1, ret = 0;

    if (ids == NULL) {
        return CIR_ENOMEM;
    }
    snprintf(after, sizeof(after), "%s", cursor);
    while (more && ret == 0) {
        if ((ret = list_sorted(js, after, ids, SCAN_BATCH, &n, &more)) < 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (fn(opaque, ids[i]) != 0) {
                free(ids);
                return 0;
            }
        }
        if (n == 0) {
            break;
        }
        snprintf(after, sizeof(after), "%s", ids[n - 1]);
    }
    free(ids);
    return ret;
}

int
cir_job_store_scan(cir_job_store_t *js, const char *cursor,
                   int (*fn)(void *opaque, const char *id), void *opaque)
{
    cir_store_t *store = NULL;
    scan_t sc = {.fn = fn, .opaque = opaque};
    char after[200] = "";
    int ret;

    cursor = cursor ? cursor : "";
    if (cursor[0] &&
        (ret = rel_path("jobs", cursor, ".json", after, sizeof(after))) < 0) {
        return ret;
    }
    if ((ret = cir_store_open(&store, &js->root)) < 0) {
        return ret;
    }
    ret = cir_store_list_after(store, "jobs", after, scan_one, &sc);
    cir_store_close(&store);
    if (ret == CIR_EUNSUPPORTED) {
        return scan_sorted(js, cursor, fn, opaque);
    }
    if (ret == CIR_ENOTFOUND || ret == -ENOENT) {
        return 0; /* nothing submitted yet */
    }
    return ret < 0 ? ret : 0;
}

typedef struct {
    char (*ids)[CIR_JOB_STORE_ID_LEN];
    size_t max, n;
    int more;
} collect_t;

static int
collect_one(void *opaque, const char *id)
{
    collect_t *c = opaque;

    if (c->n == c->max) {
        c->more = 1;
        return 1;
    }
    snprintf(c->ids[c->n++], CIR_JOB_STORE_ID_LEN, "%s", id);
    return 0;
}

int
cir_job_store_list(cir_job_store_t *js, const char *cursor,
                   char (*ids)[CIR_JOB_STORE_ID_LEN], size_t max, size_t *n,
                   int *more)
{
    collect_t c = {.ids = ids, .max = max};
    int ret;

    if (js->root.scheme != CIR_URI_S3) {
        return list_sorted(js, cursor, ids, max, n, more);
    }
    ret = cir_job_store_scan(js, cursor, collect_one, &c);
    *n = ret < 0 ? 0 : c.n;
    *more = ret < 0 ? 0 : c.more;
    return ret;
}

/* ---- records ------------------------------------------------------------ */

const char *
cir_job_store_state(const char *s)
{
    static const char *const kept[] = {"running", "done", "failed",
                                       "cancelled"};

    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        if (strcmp(s, kept[i]) == 0) {
            return kept[i];
        }
    }
    return "queued";
}

json_t *
cir_job_store_record(const json_t *base, const json_t *result, int attempt_base)
{
    json_t *rec = base ? json_deep_copy(base) : json_object();
    const char *state = json_string_value(json_object_get(result, "state"));
    json_t *err = json_object_get(result, "error");
    json_t *pc = json_object_get(result, "percent");
    const char *api_state = cir_job_store_state(state ? state : "");

    if (rec == NULL || !json_is_object(rec)) {
        json_decref(rec);
        return NULL;
    }
    if (json_object_get(rec, "id") == NULL) {
        json_object_set(rec, "id", json_object_get(result, "id"));
    }
    if (json_object_get(rec, "job") == NULL) {
        json_object_set_new(rec, "job", json_null());
    }
    json_object_set_new(rec, "state", json_string(api_state));
    json_object_set_new(
        rec, "attempt",
        json_integer(attempt_base +
                     json_integer_value(json_object_get(result, "attempt"))));
    json_object_set(rec, "result", (json_t *)result);
    json_object_set_new(rec, "error",
                        json_is_string(err) && strcmp(api_state, "queued") != 0
                            ? json_incref(err)
                            : json_null());
    json_object_set_new(rec, "progress",
                        json_real(strcmp(api_state, "done") == 0 ? 100
                                  : json_is_number(pc) ? json_number_value(pc)
                                                       : 0));
    return rec;
}
