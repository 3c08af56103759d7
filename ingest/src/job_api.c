/*
 * cirrus-worker's job API (cir_job_api.h): routes, auth, and the spool
 * operations behind them.  Every state change is a rename inside the spool
 * (RENAME_NOREPLACE), so the dispatcher and the API never both own an item.
 * With intake=sqs the same routes work on the job store (cir_job_store.h,
 * jobs_s3_uri) that the workers taking jobs from the queue write.
 * Unit tests: tests/unit/test_worker_job_api.c; end to end:
 * tests/integration/job_api.test.mjs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cir_aws.h"
#include "cir_clock.h"
#include "cir_error.h"
#include "cir_intake.h"
#include "cir_job_api.h"
#include "cir_json.h"
#include "cir_storage.h"
#include "cir_job_preset.h"
#include "cir_job_store.h"

/* docs/openapi.json, embedded by ingest/CMakeLists.txt */
extern const unsigned char cir_openapi_doc[];
extern const size_t cir_openapi_doc_len;

#define PATH_LEN      (PATH_MAX + 300)
#define JOB_DOC_MAX   (256 * 1024) /* as the spool's max_job_bytes */
#define LIST_SCAN_MAX 20000        /* items looked at per list */
#define IDEM_KEY_MAX  255

struct cir_job_api {
    char intake[16], spool_dir[PATH_MAX], out_root[CIR_JOB_URI_MAX];
    char presets_dir[PATH_MAX], default_preset[64], status_dir[PATH_MAX];
    char token[256];
    cir_dispatch_t *dispatch;
    /* intake=sqs: POST /jobs sends the document to the queue */
    char queue_url[1024];
    cir_aws_t *aws;         /* the HTTP thread's own client */
    cir_job_store_t *store; /* jobs_s3_uri: what the workers say of jobs */
    /* POST /uploads: where the browser PUTs (upload_s3_uri) */
    cir_uri_t upload;
    int upload_url_seconds;
    cir_aws_t *upload_aws;
    size_t list_scan_max; /* records one GET /jobs reads from the store */
    int64_t key_seconds;  /* an idempotency key is kept this long */
    int64_t next_sweep;   /* when api/keys/ is next swept (s) */
};

/* The spool folders and the state each one means, in that order. */
static const char *const folders[] = {"incoming", "claimed", "failed", "done",
                                      "cancelled"};
static const char *const states[] = {"queued", "running", "failed", "done",
                                     "cancelled"};
#define NB_FOLDERS 5

int
cir_job_api_state_known(const char *state)
{
    for (int i = 0; i < NB_FOLDERS; i++) {
        if (strcmp(states[i], state) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- pure: routing, auth ------------------------------------------------- */

static int
hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes n bytes into out: 0, or CIR_EINVAL. */
static int
pct_decode(const char *in, size_t n, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                return CIR_EINVAL;
            }
            hi = hexval(in[i + 1]);
            lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0) {
                return CIR_EINVAL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
            if (c == '\0') {
                return CIR_EINVAL; /* would cut the string short */
            }
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= size) {
            return CIR_EINVAL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Job ids are what cir_job_id_from_name makes: A-Z a-z 0-9 . _ - and %. */
static int
id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n >= 128 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == '%')) {
            return 0;
        }
    }
    return 1;
}

static int
route_query(const char *q, cir_api_request_t *out, char *err, size_t errsize)
{
    while (q && *q) {
        const char *amp = strchr(q, '&'), *eq;
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        char name[32], value[128];

        eq = memchr(q, '=', n);
        if (eq == NULL || (size_t)(eq - q) >= sizeof(name) ||
            pct_decode(eq + 1, n - (size_t)(eq - q) - 1, value, sizeof(value)) <
                0) {
            snprintf(err, errsize, "query: expected name=value pairs");
            return CIR_EINVAL;
        }
        snprintf(name, sizeof(name), "%.*s", (int)(eq - q), q);
        if (strcmp(name, "state") == 0) {
            if (!cir_job_api_state_known(value)) {
                snprintf(err, errsize,
                         "state: one of queued, running, failed, done, "
                         "cancelled");
                return CIR_EINVAL;
            }
            snprintf(out->state, sizeof(out->state), "%.15s", value);
        } else if (strcmp(name, "limit") == 0) {
            char *end;
            long v = strtol(value, &end, 10);
            if (value[0] == '\0' || *end != '\0' || v < 1 ||
                v > CIR_API_LIMIT_MAX) {
                snprintf(err, errsize, "limit: an integer from 1 to %d",
                         CIR_API_LIMIT_MAX);
                return CIR_EINVAL;
            }
            out->limit = (int)v;
        } else if (strcmp(name, "cursor") == 0) {
            if (!id_ok(value)) {
                snprintf(err, errsize, "cursor: not one this API gave");
                return CIR_EINVAL;
            }
            snprintf(out->cursor, sizeof(out->cursor), "%.127s", value);
        } else {
            snprintf(err, errsize,
                     "query: unknown parameter \"%s\" (state, limit, cursor)",
                     name);
            return CIR_EINVAL;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* An asset's name: one path segment (an output folder may be named after
 * an input file: spaces, UTF-8), never "..", a '/', a '\\' or a control
 * byte (cir_path_is_safe_relative), and not hidden. */
static int
asset_name_ok(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strlen(name) < 128 &&
           strchr(name, '/') == NULL && cir_path_is_safe_relative(name);
}

/* DELETE /assets/{name}: one folder under out_root, never a path.  The
 * name is percent-decoded once: "..", "%2e%2e", "a%2Fb" or an absolute
 * path cannot name anything outside out_root. */
static int
route_asset(int method, const char *name, size_t n, cir_api_request_t *out,
            char *err, size_t errsize)
{
    if (memchr(name, '/', n) != NULL ||
        pct_decode(name, n, out->id, sizeof(out->id)) < 0 ||
        !asset_name_ok(out->id)) {
        snprintf(err, errsize,
                 "not an asset name: one folder under out_root (no '/', "
                 "'\\' or control character, not starting with '.')");
        return CIR_EINVAL;
    }
    out->route =
        method == HTTP_DELETE ? CIR_API_DELETE_ASSET : CIR_API_BAD_METHOD;
    return 0;
}

int
cir_job_api_route(int method, const char *url, cir_api_request_t *out,
                  char *err, size_t errsize)
{
    const char *q = strchr(url, '?');
    size_t plen = q ? (size_t)(q - url) : strlen(url);
    int get = method == HTTP_GET, post = method == HTTP_POST;
    const char *rest, *slash;

    memset(out, 0, sizeof(*out));
    out->limit = CIR_API_LIMIT_DEFAULT;
    out->route = CIR_API_NOT_FOUND;
    if (plen == 13 && strncmp(url, "/openapi.json", 13) == 0) {
        out->route = get ? CIR_API_OPENAPI : CIR_API_BAD_METHOD;
        return 0;
    }
    if (plen == 5 && strncmp(url, "/jobs", 5) == 0) {
        out->route = get    ? CIR_API_LIST
                     : post ? CIR_API_SUBMIT
                            : CIR_API_BAD_METHOD;
        return out->route == CIR_API_LIST
                   ? route_query(q ? q + 1 : NULL, out, err, errsize)
                   : 0;
    }
    if (plen == 8 && strncmp(url, "/uploads", 8) == 0) {
        out->route = post ? CIR_API_UPLOAD : CIR_API_BAD_METHOD;
        return 0;
    }
    if (plen > 8 && strncmp(url, "/assets/", 8) == 0) {
        return route_asset(method, url + 8, plen - 8, out, err, errsize);
    }
    if (plen <= 6 || strncmp(url, "/jobs/", 6) != 0) {
        return 0;
    }
    rest = url + 6;
    slash = memchr(rest, '/', plen - 6);
    if (pct_decode(rest, slash ? (size_t)(slash - rest) : plen - 6, out->id,
                   sizeof(out->id)) < 0 ||
        !id_ok(out->id)) {
        snprintf(err, errsize, "not a job id: A-Z a-z 0-9 . _ - %% only");
        return CIR_EINVAL;
    }
    if (slash == NULL) {
        out->route = get ? CIR_API_GET : CIR_API_BAD_METHOD;
    } else if ((size_t)(url + plen - slash) == 7 &&
               strncmp(slash, "/cancel", 7) == 0) {
        out->route = post ? CIR_API_CANCEL : CIR_API_BAD_METHOD;
    } else if ((size_t)(url + plen - slash) == 6 &&
               strncmp(slash, "/retry", 6) == 0) {
        out->route = post ? CIR_API_RETRY : CIR_API_BAD_METHOD;
    }
    return 0;
}

static void
sha256(const void *data, size_t len, unsigned char md[32])
{
    unsigned int n = 0;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
}

static void
sha256_hex(const void *data, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];

    sha256(data, len, md);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

int
cir_job_api_authorized(const char *authorization, const char *token)
{
    unsigned char a[32], b[32];

    if (strncmp(authorization, "Bearer ", 7) != 0) {
        return 0;
    }
    /* digests of equal length: the time says nothing of the token */
    sha256(authorization + 7, strlen(authorization + 7), a);
    sha256(token, strlen(token), b);
    return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

/* ---- answers --------------------------------------------------------------
 */

static int
answer_json(cir_worker_http_answer_t *ans, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    ans->type = "application/json";
    if (text == NULL || cir_buf_puts(ans->body, text) < 0 ||
        cir_buf_puts(ans->body, "\n") < 0) {
        free(text);
        return 500;
    }
    free(text);
    return status;
}

static int
answer_error(cir_worker_http_answer_t *ans, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return answer_json(ans, status, json_pack("{s:s}", "error", msg));
}

/* ---- the spool ------------------------------------------------------------
 */

static int
spool_path(char *out, const cir_job_api_t *a, const char *folder,
           const char *prefix, const char *id, const char *suffix)
{
    int n = snprintf(out, PATH_LEN, "%s/%s/%s%s%s", a->spool_dir, folder,
                     prefix, id, suffix);
    return n < 0 || n >= PATH_LEN ? CIR_ELIMIT : 0;
}

/* The folder (index into folders[]) holding <id>.json, or -1. */
static int
find_item(const cir_job_api_t *a, const char *id)
{
    char p[PATH_LEN];
    struct stat st;

    for (int i = 0; i < NB_FOLDERS; i++) {
        if (spool_path(p, a, folders[i], "", id, ".json") == 0 &&
            stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            return i;
        }
    }
    return -1;
}

static json_t *
load_json(const char *path)
{
    json_t *j = NULL;
    char err[160];

    return cir_json_load_file(path, JOB_DOC_MAX, &j, err, sizeof(err)) == 0
               ? j
               : NULL;
}

/* The dispatcher's state JSON of a job (cir_dispatch.h), or NULL. */
static json_t *
load_result(const cir_job_api_t *a, const char *text, size_t len)
{
    cir_vod_job_t *job = calloc(1, sizeof(*job));
    char path[PATH_LEN], err[256];
    json_t *r = NULL;
    cir_uri_t u;

    if (job == NULL ||
        cir_intake_parse_job(text, len, a->out_root, a->presets_dir,
                             a->default_preset, job, err, sizeof(err)) < 0) {
        free(job);
        return NULL;
    }
    path[0] = '\0';
    if (a->status_dir[0]) {
        snprintf(path, sizeof(path), "%s/%s.json", a->status_dir, job->id);
    } else if (cir_uri_parse(job->output, &u) == 0 &&
               u.scheme == CIR_URI_FILE) {
        size_t n = strlen(u.path);
        while (n > 1 && u.path[n - 1] == '/') {
            n--;
        }
        snprintf(path, sizeof(path), "%.*s.job.json", (int)n, u.path);
    }
    if (path[0]) {
        r = load_json(path);
    }
    free(job);
    return r;
}

static int
claim_attempt(const char *path)
{
    json_t *c = load_json(path);
    int n = c ? (int)json_integer_value(json_object_get(c, "attempt")) : 0;

    json_decref(c);
    return n;
}

/*
 * What the API says of a job in folders[folder]: {id, state, attempt, job,
 * progress, result, error}.
 */
static json_t *
job_view(const cir_job_api_t *a, const char *id, int folder)
{
    char p[PATH_LEN];
    char *text = NULL;
    size_t len = 0;
    json_t *v, *doc = NULL, *result = NULL, *error = NULL;
    int attempt = 0;

    if (spool_path(p, a, folders[folder], "", id, ".json") == 0 &&
        cir_read_file(p, JOB_DOC_MAX, &text, &len) == 0) {
        char jerr[64];
        cir_json_parse(text, len, JOB_DOC_MAX, &doc, jerr, sizeof(jerr));
        result = load_result(a, text, len);
    }
    free(text);
    if (folder == 0 &&
        spool_path(p, a, "incoming", ".", id, ".json.claim") == 0) {
        attempt = claim_attempt(p); /* attempts made so far */
    } else if (folder == 1 &&
               spool_path(p, a, "claimed", "", id, ".json.claim") == 0) {
        attempt = claim_attempt(p);
    } else if (folder == 2 &&
               spool_path(p, a, "failed", "", id, ".json.error.json") == 0) {
        json_t *e = load_json(p), *why = json_object_get(e, "error");
        attempt = (int)json_integer_value(json_object_get(e, "attempts"));
        /* the parked item's record: {"error": {"error": MESSAGE, ...}} */
        if (json_is_object(why)) {
            why = json_object_get(why, "error");
        }
        error = json_is_string(why) ? json_incref(why) : NULL;
        json_decref(e);
    }
    if (attempt == 0 && result && folder != 0) {
        /* a queued job's attempts are its claim record's (none: 0) */
        attempt = (int)json_integer_value(json_object_get(result, "attempt"));
    }
    if (error == NULL && result && folder != 0 &&
        json_is_string(json_object_get(result, "error"))) {
        error = json_incref(json_object_get(result, "error"));
    }
    v = json_pack(
        "{s:s, s:s, s:i, s:o, s:o, s:o}", "id", id, "state", states[folder],
        "attempt", attempt, "job", doc ? doc : json_null(), "result",
        result ? result : json_null(), "error", error ? error : json_null());
    if (v && result && folder == 1) {
        json_t *pc = json_object_get(result, "percent");
        json_object_set_new(
            v, "progress",
            json_real(json_is_number(pc) ? json_number_value(pc) : 0));
    } else if (v) {
        json_object_set_new(v, "progress", json_real(folder == 3 ? 100 : 0));
    }
    return v;
}

/* Moves <id>.json between folders; no other file is replaced. */
static int
move_item(const cir_job_api_t *a, const char *id, const char *from,
          const char *to)
{
    char src[PATH_LEN], dst[PATH_LEN];

    if (spool_path(src, a, from, "", id, ".json") < 0 ||
        spool_path(dst, a, to, "", id, ".json") < 0) {
        return CIR_ELIMIT;
    }
    return renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) < 0
               ? -errno
               : 0;
}

static void
unlink_side(const cir_job_api_t *a, const char *folder, const char *prefix,
            const char *id, const char *suffix)
{
    char p[PATH_LEN];

    if (spool_path(p, a, folder, prefix, id, suffix) == 0) {
        unlink(p);
    }
}

/* Writes data to path through a hidden temporary name and link(): 0, or
 * -EEXIST when path exists (never replaced). */
static int
write_new_file(const char *dir, const char *name, const char *data, size_t len)
{
    char tmp[PATH_LEN], path[PATH_LEN];
    unsigned char rnd[8];
    int fd, ret = 0;

    RAND_bytes(rnd, sizeof(rnd));
    snprintf(tmp, sizeof(tmp), "%s/.api-%02x%02x%02x%02x%02x%02x%02x%02x.tmp",
             dir, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
             rnd[7]);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
        sizeof(path)) {
        return CIR_ELIMIT;
    }
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
        return -errno;
    }
    if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
        ret = CIR_EIO;
    }
    close(fd);
    if (ret == 0 && link(tmp, path) < 0) {
        ret = -errno;
    }
    unlink(tmp);
    return ret;
}

/* ---- POST /jobs -----------------------------------------------------------
 */

/* A new id: "j", the time in hex microseconds (ids sort by creation), 6
 * random hex digits. */
static void
new_id(char *out, size_t size)
{
    unsigned char r[3];

    RAND_bytes(r, sizeof(r));
    snprintf(out, size, "j%013llx%02x%02x%02x",
             (unsigned long long)cir_clock_wall_us(cir_clock_system()), r[0],
             r[1], r[2]);
}

/* The body's and the header's idempotency key (the body's field removed):
 * 0 and key ("" for none), or CIR_EINVAL with err. */
static int
take_idempotency_key(json_t *root, const char *header, char *key, size_t size,
                     char *err, size_t errsize)
{
    json_t *k = json_object_get(root, "idempotency_key");
    const char *body = NULL;

    key[0] = '\0';
    if (k) {
        if (!json_is_string(k) || json_string_length(k) == 0 ||
            json_string_length(k) > IDEM_KEY_MAX) {
            snprintf(err, errsize, "idempotency_key: a string of 1 to %d bytes",
                     IDEM_KEY_MAX);
            return CIR_EINVAL;
        }
        body = json_string_value(k);
    }
    if (header[0] && body && strcmp(header, body) != 0) {
        snprintf(err, errsize,
                 "the Idempotency-Key header and idempotency_key differ");
        return CIR_EINVAL;
    }
    if (strlen(header) > IDEM_KEY_MAX) {
        snprintf(err, errsize, "Idempotency-Key: at most %d bytes",
                 IDEM_KEY_MAX);
        return CIR_EINVAL;
    }
    snprintf(key, size, "%s", header[0] ? header : body ? body : "");
    json_object_del(root, "idempotency_key");
    return 0;
}

/* Checks the document as the spool will read it, and that its preset
 * exists: 0 and the job's id, or CIR_EINVAL with err. */
static int
validate_job(const cir_job_api_t *a, const char *text, char *id, size_t idsize,
             char *err, size_t errsize)
{
    cir_vod_job_t *job = calloc(1, sizeof(*job));
    cir_preset_t *preset = NULL;
    char p[PATH_LEN];
    int ret;

    if (job == NULL) {
        snprintf(err, errsize, "out of memory");
        return CIR_ENOMEM;
    }
    ret = cir_intake_parse_job(text, strlen(text), a->out_root, a->presets_dir,
                               a->default_preset, job, err, errsize);
    if (ret == 0) {
        snprintf(p, sizeof(p), "%s/%s.json", a->presets_dir, job->preset);
        if (job->preset_doc[0] == '\0' && access(p, R_OK) != 0) {
            snprintf(err, errsize, "preset: no preset named \"%s\"",
                     job->preset);
            ret = CIR_EINVAL;
        } else if ((preset = malloc(sizeof(*preset))) == NULL) {
            snprintf(err, errsize, "out of memory");
            ret = CIR_ENOMEM;
        } else {
            /* what the job will run with: codecs, rung overrides */
            ret = cir_job_preset_resolve(a->presets_dir, job, preset, err,
                                         errsize);
        }
        snprintf(id, idsize, "%s", job->id);
    }
    free(preset);
    free(job);
    return ret < 0 ? CIR_EINVAL : 0;
}

static int64_t
now_seconds(void)
{
    return cir_clock_wall_us(cir_clock_system()) / 1000000;
}

/* An idempotency key made at created (s) has been forgotten. */
static int
key_expired(const cir_job_api_t *a, int64_t created)
{
    return now_seconds() - created >= a->key_seconds;
}

/* The idempotency record of key: 1 and *id when the key was used (then
 * *same tells whether with the same body), 0 when it is new or expired
 * (its file is then removed). */
static int
idem_lookup(const cir_job_api_t *a, const char *keyfile, const char *body_hash,
            char *id, size_t idsize, int *same)
{
    char p[PATH_LEN];
    struct stat st;
    json_t *r;

    snprintf(p, sizeof(p), "%s/api/keys/%s", a->spool_dir, keyfile);
    if (stat(p, &st) == 0 && key_expired(a, st.st_mtime)) {
        unlink(p); /* written once: its time is the key's */
        return 0;
    }
    if ((r = load_json(p)) == NULL) {
        return 0;
    }
    snprintf(id, idsize, "%s",
             json_string_value(json_object_get(r, "id"))
                 ? json_string_value(json_object_get(r, "id"))
                 : "");
    *same = json_is_string(json_object_get(r, "body_sha256")) &&
            strcmp(json_string_value(json_object_get(r, "body_sha256")),
                   body_hash) == 0;
    json_decref(r);
    return 1;
}

/* Location: /jobs/<id>, the id's '%' written %25 (the path is
 * percent-decoded when it comes back). */
static void
set_location(cir_worker_http_answer_t *ans, const char *id)
{
    size_t o = (size_t)snprintf(ans->location, sizeof(ans->location), "/jobs/");

    for (; *id && o + 4 < sizeof(ans->location); id++) {
        if (*id == '%') {
            memcpy(ans->location + o, "%25", 3);
            o += 3;
        } else {
            ans->location[o++] = *id;
        }
    }
    ans->location[o] = '\0';
}

static json_t *stored_view(json_t *rec);

static int
answer_replay(const cir_job_api_t *a, const char *id,
              cir_worker_http_answer_t *ans)
{
    int folder;

    if (a->aws && a->store) {
        json_t *rec = NULL;
        set_location(ans, id);
        if (cir_job_store_get(a->store, id, &rec) == 0) {
            return answer_json(ans, 200, stored_view(rec));
        }
    }
    if (a->aws) {
        return answer_json(
            ans, 200, json_pack("{s:s, s:s}", "id", id, "state", "queued"));
    }
    set_location(ans, id);
    if ((folder = find_item(a, id)) < 0) {
        return answer_json(ans, 200,
                           json_pack("{s:s, s:n}", "id", id, "state"));
    }
    return answer_json(ans, 200, job_view(a, id, folder));
}

/* Records an idempotency key: 0, or the answer's status. */
static int
record_key(const cir_job_api_t *a, const char *id, const char *keyfile,
           const char *body_hash, cir_worker_http_answer_t *ans)
{
    char kdir[PATH_LEN], *krec;
    json_t *k;
    int ret;

    if (keyfile[0] == '\0') {
        return 0;
    }
    snprintf(kdir, sizeof(kdir), "%s/api/keys", a->spool_dir);
    k = json_pack("{s:s, s:s}", "id", id, "body_sha256", body_hash);
    krec = k ? json_dumps(k, JSON_COMPACT) : NULL;
    json_decref(k);
    if (krec == NULL) {
        return answer_error(ans, 500, "out of memory");
    }
    ret = write_new_file(kdir, keyfile, krec, strlen(krec));
    free(krec);
    if (ret < 0) {
        return answer_error(ans, ret == -EEXIST ? 409 : 500,
                            "idempotency key: %s", cir_strerror(ret));
    }
    return 0;
}

/* Records the key, then writes the job into incoming/: the status. */
static int
enqueue(const cir_job_api_t *a, const char *id, const char *text,
        const char *keyfile, const char *body_hash,
        cir_worker_http_answer_t *ans)
{
    char dir[PATH_LEN], name[160];
    int ret;

    if ((ret = record_key(a, id, keyfile, body_hash, ans)) != 0) {
        return ret;
    }
    snprintf(dir, sizeof(dir), "%s/incoming", a->spool_dir);
    snprintf(name, sizeof(name), "%s.json", id);
    if ((ret = write_new_file(dir, name, text, strlen(text))) < 0) {
        if (keyfile[0]) {
            unlink_side(a, "api/keys", "", keyfile, "");
        }
        return answer_error(ans, ret == -EEXIST ? 409 : 500,
                            "cannot queue job %s: %s", id, cir_strerror(ret));
    }
    set_location(ans, id);
    return answer_json(ans, 201, job_view(a, id, 0));
}

/* intake=sqs: sends the document to the queue (SendMessage), then records
 * the key: 202 and the id the worker will know it by, "sqs-<MessageId>"
 * (its state: status_dir/<id>.json). */
static int
send_to_queue(const cir_job_api_t *a, const char *text, const char *keyfile,
              const char *body_hash, cir_worker_http_answer_t *ans)
{
    char msg_id[100] = "", id[CIR_JOB_ID_MAX];
    json_t *doc;

    if (cir_sqs_send(a->aws, a->queue_url, text, msg_id, sizeof(msg_id)) < 0) {
        return answer_error(ans, 502, "SendMessage %s: %s", a->queue_url,
                            cir_aws_last_error());
    }
    snprintf(id, sizeof(id), "sqs-%s", msg_id); /* as intake_sqs.c names it */
    if (record_key(a, id, keyfile, body_hash, ans) != 0) {
        cir_buf_reset(ans->body); /* sent all the same */
    }
    doc = json_loads(text, 0, NULL);
    return answer_json(ans, 202,
                       json_pack("{s:s, s:s, s:s, s:o}", "id", id, "state",
                                 "queued", "message_id", msg_id, "job",
                                 doc ? doc : json_null()));
}

/* ---- intake=sqs: the job store (jobs_s3_uri) ------------------------------
 */

#define STORE_SCAN_MAX 1000 /* records read by one list or asset check */

/* The API's view of a stored record: its bookkeeping taken out. */
static json_t *
stored_view(json_t *rec)
{
    json_object_del(rec, "attempt_base");
    return rec;
}

static const char *
stored_state(const json_t *rec)
{
    const char *s = json_string_value(json_object_get(rec, "state"));
    return s ? s : "";
}

/* The record of id: 0 and *rec, or the answer's status (404, 502). */
static int
stored_get(const cir_job_api_t *a, const char *id, json_t **rec,
           cir_worker_http_answer_t *ans)
{
    int ret = cir_job_store_get(a->store, id, rec);

    if (ret == CIR_ENOTFOUND) {
        return answer_error(ans, 404, "no job %s", id);
    }
    if (ret < 0) {
        return answer_error(ans, 502, "job store %s: job %s: %s",
                            cir_job_store_uri(a->store), id, cir_strerror(ret));
    }
    return 0;
}

static int
stored_put(const cir_job_api_t *a, const char *id, const json_t *rec,
           cir_worker_http_answer_t *ans)
{
    int ret = cir_job_store_put(a->store, id, rec);

    return ret < 0 ? answer_error(ans, 502, "job store %s: cannot write %s: %s",
                                  cir_job_store_uri(a->store), id,
                                  cir_strerror(ret))
                   : 0;
}

/* A queued record; attempt_base: the attempts made before (a retry's). */
static json_t *
queued_record(const char *id, json_t *doc, int attempt_base)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:O, s:n, s:n, s:f}", "id", id,
                     "state", "queued", "attempt", attempt_base, "attempt_base",
                     attempt_base, "job", doc, "result", "error", "progress",
                     0.0);
}

/* SendMessage of a job document: 0 and msg_id, or the answer's status. */
static int
send_doc(const cir_job_api_t *a, const json_t *doc, char *msg_id, size_t size,
         cir_worker_http_answer_t *ans)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    int ret = text ? cir_sqs_send(a->aws, a->queue_url, text, msg_id, size)
                   : CIR_ENOMEM;

    free(text);
    return ret < 0 ? answer_error(ans, 502, "SendMessage %s: %s", a->queue_url,
                                  cir_aws_last_error())
                   : 0;
}

/* An idempotency key of the job store whose job record is missing for
 * longer than this was left by a submission that died halfway: it is
 * taken over.  Younger, its submission is still under way. */
#define KEY_PENDING_SECONDS 60

/* Removes a key of the job store that was abandoned or has expired: 0,
 * or the answer's status. */
static int
forget_stored_key(const cir_job_api_t *a, const char *name, const char *id,
                  cir_worker_http_answer_t *ans)
{
    int ret = cir_job_store_key_remove(a->store, name);

    return ret < 0 ? answer_error(ans, 502,
                                  "job store %s: cannot remove the "
                                  "idempotency key of job %s: %s",
                                  cir_job_store_uri(a->store), id,
                                  cir_strerror(ret))
                   : 0;
}

/* The answer to a key found in the job store (k): the job it made (200),
 * 409 when the body differs or its job is still being submitted; 0 when
 * the key was abandoned or has expired and has been removed (the caller
 * submits). */
static int
replay_stored_key(const cir_job_api_t *a, const char *name, json_t *k,
                  const char *body_hash, cir_worker_http_answer_t *ans)
{
    const char *id = json_string_value(json_object_get(k, "id"));
    const char *hash = json_string_value(json_object_get(k, "body_sha256"));
    json_int_t created = json_integer_value(json_object_get(k, "created"));
    json_t *rec = NULL;
    int ret;

    if (id == NULL || hash == NULL) {
        return answer_error(ans, 502,
                            "job store %s: idempotency key %.16s...: not a "
                            "record this API wrote",
                            cir_job_store_uri(a->store), name);
    }
    if (created > 0 && key_expired(a, created)) {
        return forget_stored_key(a, name, id, ans);
    }
    if (strcmp(hash, body_hash) != 0) {
        return answer_error(ans, 409,
                            "idempotency key used for another job (%s) with "
                            "another body",
                            id);
    }
    if ((ret = cir_job_store_get(a->store, id, &rec)) == 0) {
        set_location(ans, id);
        return answer_json(ans, 200, stored_view(rec));
    }
    if (ret != CIR_ENOTFOUND) {
        return answer_error(ans, 502, "job store %s: job %s: %s",
                            cir_job_store_uri(a->store), id, cir_strerror(ret));
    }
    if (now_seconds() - created < KEY_PENDING_SECONDS) {
        return answer_error(ans, 409,
                            "idempotency key: its job %s is being submitted "
                            "by another request: try again",
                            id);
    }
    return forget_stored_key(a, name, id, ans);
}

/* The job store's idempotency key name: 0 when it is new (or was
 * abandoned), else the answer's status (a replay, 409, 502). */
static int
lookup_stored_key(const cir_job_api_t *a, const char *name,
                  const char *body_hash, cir_worker_http_answer_t *ans)
{
    json_t *k = NULL;
    int ret = cir_job_store_key_get(a->store, name, &k), status;

    if (ret == CIR_ENOTFOUND) {
        return 0;
    }
    if (ret < 0) {
        return answer_error(ans, 502, "job store %s: idempotency key: %s",
                            cir_job_store_uri(a->store), cir_strerror(ret));
    }
    status = replay_stored_key(a, name, k, body_hash, ans);
    json_decref(k);
    return status;
}

/* Takes the idempotency key name for job id in the job store (a
 * conditional write): 0 when this request has it, else the answer's
 * status: the job of the request that took it first (another worker's
 * too), 409, 502. */
static int
claim_stored_key(const cir_job_api_t *a, const char *name, const char *id,
                 const char *body_hash, cir_worker_http_answer_t *ans)
{
    json_t *k = json_pack("{s:s, s:s, s:I}", "id", id, "body_sha256", body_hash,
                          "created", (json_int_t)now_seconds());
    json_t *have = NULL;
    int ret, status;

    if (k == NULL) {
        return answer_error(ans, 500, "out of memory");
    }
    ret = cir_job_store_key_claim(a->store, name, k);
    json_decref(k);
    if (ret == 0) {
        return 0;
    }
    if (ret != -EEXIST) {
        return answer_error(ans, 502,
                            "job store %s: cannot record the idempotency "
                            "key: %s",
                            cir_job_store_uri(a->store), cir_strerror(ret));
    }
    /* taken meanwhile (or by this request's own write, retried after its
     * answer was lost) */
    if ((ret = cir_job_store_key_get(a->store, name, &have)) < 0) {
        return answer_error(ans, 502, "job store %s: idempotency key: %s",
                            cir_job_store_uri(a->store), cir_strerror(ret));
    }
    if (json_is_string(json_object_get(have, "id")) &&
        strcmp(json_string_value(json_object_get(have, "id")), id) == 0) {
        json_decref(have);
        return 0;
    }
    status = replay_stored_key(a, name, have, body_hash, ans);
    json_decref(have);
    return status ? status
                  : answer_error(ans, 409,
                                 "idempotency key: taken over meanwhile: "
                                 "try again");
}

/* The record (queued), then the message: 202 with the record and the
 * message's id, else the answer's status and the record removed. */
static int
put_and_send(const cir_job_api_t *a, const char *id, const json_t *doc,
             json_t *rec, cir_worker_http_answer_t *ans)
{
    char msg_id[100] = "";
    int status;

    if (cir_job_store_cancel_clear(a->store, id) < 0) {
        return answer_error(ans, 502, "job store %s: cannot clear %s",
                            cir_job_store_uri(a->store), id);
    }
    if ((status = stored_put(a, id, rec, ans)) != 0) {
        return status;
    }
    if ((status = send_doc(a, doc, msg_id, sizeof(msg_id), ans)) != 0) {
        cir_job_store_remove(a->store, id);
        return status;
    }
    set_location(ans, id);
    json_object_set_new(rec, "message_id", json_string(msg_id));
    return answer_json(ans, 202, stored_view(json_incref(rec)));
}

/* POST /jobs: the idempotency key (taken in the store), the record
 * (queued), then the message: 202 and the record with the message's id;
 * nothing left when one fails. */
static int
submit_stored(const cir_job_api_t *a, const char *id, const char *text,
              const char *key_name, const char *body_hash,
              cir_worker_http_answer_t *ans)
{
    json_t *doc = json_loads(text, 0, NULL), *rec = NULL, *old = NULL;
    int ret, status = 0;

    ret = cir_job_store_get(a->store, id, &old);
    json_decref(old);
    if (ret == 0) {
        status = answer_error(ans, 409, "a job with id %s exists", id);
    } else if (ret != CIR_ENOTFOUND) {
        status = answer_error(ans, 502, "job store %s: %s",
                              cir_job_store_uri(a->store), cir_strerror(ret));
    } else if (doc == NULL || (rec = queued_record(id, doc, 0)) == NULL) {
        status = answer_error(ans, 500, "out of memory");
    } else if (key_name[0] && (status = claim_stored_key(
                                   a, key_name, id, body_hash, ans)) != 0) {
        /* answered: the key's job, or why not */
    } else {
        status = put_and_send(a, id, doc, rec, ans);
        if (status != 202 && key_name[0]) {
            cir_job_store_key_remove(a->store, key_name); /* nothing made */
        }
    }
    json_decref(rec);
    json_decref(doc);
    return status;
}

static int
get_stored(const cir_job_api_t *a, const char *id,
           cir_worker_http_answer_t *ans)
{
    json_t *rec = NULL;
    int status = stored_get(a, id, &rec, ans);

    return status ? status : answer_json(ans, 200, stored_view(rec));
}

/* GET /jobs on the job store: one walk of the listing. */
typedef struct {
    const cir_job_api_t *a;
    const cir_api_request_t *r;
    json_t *jobs;
    size_t shown, read;
    char last[CIR_JOB_STORE_ID_LEN]; /* the last id read */
    int more;                        /* stopped before the listing's end */
} list_walk_t;

static int
list_walk_one(void *opaque, const char *id)
{
    list_walk_t *w = opaque;
    json_t *rec = NULL;

    if (w->shown == (size_t)w->r->limit || w->read == w->a->list_scan_max) {
        w->more = 1; /* there is one more: the cursor goes on from last */
        return 1;
    }
    w->read++;
    snprintf(w->last, sizeof(w->last), "%s", id);
    if (cir_job_store_get(w->a->store, id, &rec) < 0) {
        return 0; /* removed meanwhile */
    }
    if (w->r->state[0] && strcmp(stored_state(rec), w->r->state) != 0) {
        json_decref(rec);
        return 0;
    }
    json_array_append_new(w->jobs, stored_view(rec));
    w->shown++;
    return 0;
}

/* GET /jobs: the records after the cursor in id order (creation order for
 * the API's ids), those in the state asked for.  The listing is read page
 * by page until limit jobs are found or it ends; at most list_scan_max
 * records are read (one GetObject each), and next_cursor then follows the
 * last one read, so a page may hold fewer than limit jobs and the next
 * one goes on from there. */
static int
list_stored(const cir_job_api_t *a, const cir_api_request_t *r,
            cir_worker_http_answer_t *ans)
{
    list_walk_t w = {.a = a, .r = r, .jobs = json_array()};
    int ret;

    if (w.jobs == NULL) {
        return answer_error(ans, 500, "out of memory");
    }
    if (r->cursor[0] == '.') { /* names no record: ids never start so */
        json_decref(w.jobs);
        return answer_error(ans, 400, "cursor: not one this API gave");
    }
    ret = cir_job_store_scan(a->store, r->cursor, list_walk_one, &w);
    if (ret < 0) {
        json_decref(w.jobs);
        return answer_error(ans, 502, "job store %s: cannot list: %s",
                            cir_job_store_uri(a->store), cir_strerror(ret));
    }
    return answer_json(ans, 200,
                       json_pack("{s:o, s:o}", "jobs", w.jobs, "next_cursor",
                                 w.more ? json_string(w.last) : json_null()));
}

/* POST /jobs/{id}/cancel: a cancel request in the store, which the worker
 * that holds the job, or later receives it, obeys.  A queued job is
 * cancelled at once (200), a running one is being cancelled (202). */
static int
cancel_stored(const cir_job_api_t *a, const char *id,
              cir_worker_http_answer_t *ans)
{
    json_t *rec = NULL;
    int status = stored_get(a, id, &rec, ans), ret, queued;

    if (status) {
        return status;
    }
    queued = strcmp(stored_state(rec), "queued") == 0;
    if (!queued && strcmp(stored_state(rec), "running") != 0) {
        status = answer_error(ans, 409,
                              "job %s is %s: only a queued or running job "
                              "can be cancelled",
                              id, stored_state(rec));
        json_decref(rec);
        return status;
    }
    if ((ret = cir_job_store_cancel_mark(a->store, id)) < 0) {
        json_decref(rec);
        return answer_error(ans, 502, "job store %s: cannot cancel %s: %s",
                            cir_job_store_uri(a->store), id, cir_strerror(ret));
    }
    if (!queued) {
        json_object_set_new(rec, "state", json_string("cancelling"));
        return answer_json(ans, 202, stored_view(rec));
    }
    json_object_set_new(rec, "state", json_string("cancelled"));
    json_object_set_new(rec, "error", json_string("cancelled on request"));
    if ((status = stored_put(a, id, rec, ans)) != 0) {
        json_decref(rec);
        return status;
    }
    return answer_json(ans, 200, stored_view(rec));
}

/* POST /jobs/{id}/retry: a failed or cancelled job's document sent to the
 * queue again, same id, its attempts counted on.  A job cancelled while
 * queued that no worker has seen yet (no result) still has its message in
 * the queue: the request removed and the record queued, it runs from that
 * message, not a second one. */
static int
retry_stored(const cir_job_api_t *a, const char *id,
             cir_worker_http_answer_t *ans)
{
    json_t *rec = NULL, *doc, *next = NULL;
    char msg_id[100];
    int status = stored_get(a, id, &rec, ans), attempt;

    if (status) {
        return status;
    }
    doc = json_object_get(rec, "job");
    attempt = (int)json_integer_value(json_object_get(rec, "attempt"));
    if (strcmp(stored_state(rec), "failed") != 0 &&
        strcmp(stored_state(rec), "cancelled") != 0) {
        status = answer_error(ans, 409,
                              "job %s is %s: only a failed or cancelled job "
                              "can be retried",
                              id, stored_state(rec));
    } else if (!json_is_object(doc)) {
        status = answer_error(ans, 409,
                              "job %s: its document is not in the job store "
                              "(it was not submitted through the job API)",
                              id);
    } else if (cir_job_store_cancel_clear(a->store, id) < 0) {
        status = answer_error(ans, 502, "job store %s: cannot clear %s",
                              cir_job_store_uri(a->store), id);
    } else if ((next = queued_record(id, doc, attempt)) == NULL) {
        status = answer_error(ans, 500, "out of memory");
    } else if ((status = stored_put(a, id, next, ans)) == 0 &&
               !json_is_null(json_object_get(rec, "result")) &&
               (status = send_doc(a, doc, msg_id, sizeof(msg_id), ans)) != 0) {
        cir_job_store_put(a->store, id, rec); /* as it was */
    } else if (status == 0) {
        status = answer_json(ans, 200, stored_view(json_incref(next)));
    }
    json_decref(next);
    json_decref(rec);
    return status;
}

/* The spool's expired idempotency keys removed, at most once a minute
 * (a submit with a key removes its own when it meets it). */
#define KEY_SWEEP_SECONDS 60

static void
sweep_spool_keys(cir_job_api_t *a)
{
    char dir[PATH_LEN];
    struct dirent *de;
    struct stat st;
    DIR *d;

    if (now_seconds() < a->next_sweep) {
        return;
    }
    a->next_sweep = now_seconds() + KEY_SWEEP_SECONDS;
    snprintf(dir, sizeof(dir), "%s/api/keys", a->spool_dir);
    if ((d = opendir(dir)) == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || de->d_name[0] == '.' ||
            strcmp(de->d_name + n - 5, ".json") != 0) {
            continue;
        }
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            key_expired(a, st.st_mtime)) {
            unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
}

static int
submit(const cir_job_api_t *a, const cir_worker_http_request_t *req,
       cir_worker_http_answer_t *ans)
{
    char err[512], key[IDEM_KEY_MAX + 1], keyfile[80], body_hash[65],
        key_name[65] = "";
    char id[CIR_JOB_ID_MAX], old_id[CIR_JOB_ID_MAX];
    json_t *root = NULL;
    char *canon = NULL, *text = NULL;
    int status, same = 0;

    if (req->body == NULL || req->body_len == 0) {
        return answer_error(ans, 400, "a JSON job document is needed");
    }
    if (cir_json_parse(req->body, req->body_len, req->body_len, &root, err,
                       sizeof(err)) < 0) {
        return answer_error(ans, 400, "malformed JSON: %s", err);
    }
    if (!json_is_object(root) || json_object_get(root, "Records") ||
        json_object_get(root, "detail-type") ||
        json_object_get(root, "Event")) {
        json_decref(root);
        return answer_error(ans, 400,
                            "expected a job document (an object "
                            "with input, output, preset...)");
    }
    if (take_idempotency_key(root, req->idempotency_key, key, sizeof(key), err,
                             sizeof(err)) < 0) {
        json_decref(root);
        return answer_error(ans, 400, "%s", err);
    }
    canon = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (json_object_get(root, "id") == NULL &&
        (a->aws == NULL || a->store != NULL)) {
        new_id(id, sizeof(id));
        json_object_set_new(root, "id", json_string(id));
    }
    text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    if (canon == NULL || text == NULL) {
        status = answer_error(ans, 500, "out of memory");
        goto done;
    }
    sha256_hex(canon, strlen(canon), body_hash);
    keyfile[0] = '\0';
    if (key[0]) {
        char kh[65];
        sha256_hex(key, strlen(key), kh);
        snprintf(keyfile, sizeof(keyfile), "%s.json", kh);
        if (a->store) {
            /* every worker's API sees the key (docs/api.md) */
            snprintf(key_name, sizeof(key_name), "%s", kh);
            if ((status = lookup_stored_key(a, key_name, body_hash, ans)) !=
                0) {
                goto done;
            }
        } else if (idem_lookup(a, keyfile, body_hash, old_id, sizeof(old_id),
                               &same)) {
            status = same ? answer_replay(a, old_id, ans)
                          : answer_error(ans, 409,
                                         "idempotency key used for another "
                                         "job (%s) with another body",
                                         old_id);
            goto done;
        }
    }
    if (validate_job(a, text, id, sizeof(id), err, sizeof(err)) < 0) {
        status = answer_error(ans, 400, "%s", err);
        goto done;
    }
    if (id[0] == '.') {
        /* a hidden name in incoming/ is never taken */
        status = answer_error(ans, 400, "id: must not start with '.'");
        goto done;
    }
    if (a->aws) {
        status = a->store ? submit_stored(a, id, text, key_name, body_hash, ans)
                          : send_to_queue(a, text, keyfile, body_hash, ans);
        goto done;
    }
    if (find_item(a, id) >= 0) {
        status = answer_error(ans, 409, "a job with id %s exists", id);
        goto done;
    }
    status = enqueue(a, id, text, keyfile, body_hash, ans);
done:
    free(canon);
    free(text);
    return status;
}

/* ---- GET /jobs ------------------------------------------------------------
 */

typedef struct {
    char id[128];
    int folder;
} listed_t;

static int
listed_cmp(const void *x, const void *y)
{
    return strcmp(((const listed_t *)x)->id, ((const listed_t *)y)->id);
}

/* The items of folders[folder] after cursor, appended to *items. */
static void
scan_folder(const cir_job_api_t *a, int folder, const char *cursor,
            listed_t *items, size_t *n)
{
    char p[PATH_LEN];
    struct dirent *de;
    DIR *d;

    snprintf(p, sizeof(p), "%s/%s", a->spool_dir, folders[folder]);
    if ((d = opendir(p)) == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL && *n < LIST_SCAN_MAX) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= 5 || len - 5 >= 128 ||
            strcmp(de->d_name + len - 5, ".json") != 0 ||
            (len > 11 && strcmp(de->d_name + len - 11, ".error.json") == 0)) {
            continue;
        }
        snprintf(items[*n].id, sizeof(items[*n].id), "%.*s", (int)(len - 5),
                 de->d_name);
        if (!id_ok(items[*n].id) ||
            (cursor[0] && strcmp(items[*n].id, cursor) <= 0)) {
            continue;
        }
        items[*n].folder = folder;
        (*n)++;
    }
    closedir(d);
}

static int
list_jobs(const cir_job_api_t *a, const cir_api_request_t *r,
          cir_worker_http_answer_t *ans)
{
    listed_t *items = malloc(sizeof(*items) * LIST_SCAN_MAX);
    json_t *jobs = json_array(), *o;
    size_t n = 0, shown;

    if (items == NULL || jobs == NULL) {
        free(items);
        json_decref(jobs);
        return answer_error(ans, 500, "out of memory");
    }
    for (int f = 0; f < NB_FOLDERS; f++) {
        if (r->state[0] == '\0' || strcmp(r->state, states[f]) == 0) {
            scan_folder(a, f, r->cursor, items, &n);
        }
    }
    qsort(items, n, sizeof(*items), listed_cmp);
    shown = n < (size_t)r->limit ? n : (size_t)r->limit;
    for (size_t i = 0; i < shown; i++) {
        json_array_append_new(jobs, job_view(a, items[i].id, items[i].folder));
    }
    o = json_pack("{s:o, s:o}", "jobs", jobs, "next_cursor",
                  n > shown ? json_string(items[shown - 1].id) : json_null());
    free(items);
    return answer_json(ans, 200, o);
}

/* ---- cancel, retry --------------------------------------------------------
 */

/* The dispatcher's id of the claimed item <id>.json (a document dropped
 * by hand may name another id than its file name). */
static int
running_job_id(const cir_job_api_t *a, const char *id, char *out)
{
    cir_vod_job_t *job = calloc(1, sizeof(*job));
    char p[PATH_LEN], err[256];
    char *text = NULL;
    size_t len = 0;
    int ret = CIR_ENOMEM;

    if (job != NULL &&
        (ret = spool_path(p, a, "claimed", "", id, ".json")) == 0 &&
        (ret = cir_read_file(p, JOB_DOC_MAX, &text, &len)) == 0 &&
        (ret = cir_intake_parse_job(text, len, a->out_root, a->presets_dir,
                                    a->default_preset, job, err,
                                    sizeof(err))) == 0) {
        snprintf(out, CIR_JOB_ID_MAX, "%s", job->id);
    }
    free(text);
    free(job);
    return ret;
}

static int
cancel_job(const cir_job_api_t *a, const char *id,
           cir_worker_http_answer_t *ans)
{
    int folder = find_item(a, id);

    if (folder == 0 && move_item(a, id, "incoming", "cancelled") == 0) {
        unlink_side(a, "incoming", ".", id, ".json.claim");
        return answer_json(ans, 200, job_view(a, id, 4));
    }
    if (folder == 0) {
        folder = find_item(a, id); /* claimed meanwhile */
    }
    if (folder < 0) {
        return answer_error(ans, 404, "no job %s", id);
    }
    if (folder == 1) {
        char job_id[CIR_JOB_ID_MAX];
        if (a->dispatch == NULL || running_job_id(a, id, job_id) < 0 ||
            !cir_dispatch_cancel(a->dispatch, job_id)) {
            return answer_error(ans, 409,
                                "job %s is not running on this worker", id);
        }
        json_t *v = job_view(a, id, 1);
        json_object_set_new(v, "state", json_string("cancelling"));
        return answer_json(ans, 202, v);
    }
    return answer_error(ans, 409,
                        "job %s is %s: only a queued or running job "
                        "can be cancelled",
                        id, states[folder]);
}

static int
retry_job(const cir_job_api_t *a, const char *id, cir_worker_http_answer_t *ans)
{
    int folder = find_item(a, id);

    if (folder < 0) {
        return answer_error(ans, 404, "no job %s", id);
    }
    if (folder != 2) {
        return answer_error(ans, 409,
                            "job %s is %s: only a failed job can "
                            "be retried",
                            id, states[folder]);
    }
    /* no incoming/.NAME.claim: the attempt count starts again */
    unlink_side(a, "incoming", ".", id, ".json.claim");
    if (move_item(a, id, "failed", "incoming") < 0) {
        return answer_error(ans, 409, "job %s could not be queued again", id);
    }
    unlink_side(a, "failed", "", id, ".json.error.json");
    return answer_json(ans, 200, job_view(a, id, 0));
}

/* ---- DELETE /assets/{name} -----------------------------------------------
 */

/* The URI's path without trailing slashes, for comparing two outputs. */
static void
uri_key(const cir_uri_t *u, char *out, size_t size)
{
    size_t n = strlen(u->path);

    while (n > 1 && u->path[n - 1] == '/') {
        n--;
    }
    snprintf(out, size, "%d:%s:%.*s", (int)u->scheme, u->bucket, (int)n,
             u->path);
}

/* 1 when two file:// outputs are the same folder: equal names in folders
 * that resolve to the same place (a relative out_root, "a/../b"). */
static int
same_file_place(const char *x, const char *y)
{
    char px[PATH_MAX], py[PATH_MAX], rx[PATH_MAX], ry[PATH_MAX];
    const char *bx = strrchr(x, '/'), *by = strrchr(y, '/');

    if (bx == NULL || by == NULL || strcmp(bx, by) != 0) {
        return 0;
    }
    snprintf(px, sizeof(px), "%.*s", (int)(bx - x), x);
    snprintf(py, sizeof(py), "%.*s", (int)(by - y), y);
    return realpath(px[0] ? px : "/", rx) != NULL &&
           realpath(py[0] ? py : "/", ry) != NULL && strcmp(rx, ry) == 0;
}

/* 1 when the job document text writes asset (want: its uri_key); a
 * document that does not parse writes nothing. */
static int
doc_writes_asset(const cir_job_api_t *a, cir_vod_job_t *job, const char *text,
                 size_t len, const cir_uri_t *asset, const char *want)
{
    char have[CIR_URI_MAX + 80], err[256];
    cir_uri_t u;

    if (cir_intake_parse_job(text, len, a->out_root, a->presets_dir,
                             a->default_preset, job, err, sizeof(err)) < 0 ||
        cir_uri_parse(job->output, &u) < 0) {
        return 0;
    }
    uri_key(&u, have, sizeof(have));
    return strcmp(want, have) == 0 ||
           (u.scheme == CIR_URI_FILE && asset->scheme == CIR_URI_FILE &&
            same_file_place(u.path, asset->path));
}

/* intake=sqs: the id of a queued or running job of the job store whose
 * output is asset (into busy), 1; else 0.  The newest STORE_SCAN_MAX
 * records are read; a store that does not answer is busy (refused). */
static int
asset_busy_stored(const cir_job_api_t *a, const cir_uri_t *asset, char *busy,
                  size_t size)
{
    char(*ids)[CIR_JOB_STORE_ID_LEN] = malloc(LIST_SCAN_MAX * sizeof(*ids));
    cir_vod_job_t *job = calloc(1, sizeof(*job));
    char want[CIR_URI_MAX + 80];
    size_t n = 0, looked = 0;
    int more = 0, found = 0, ret = CIR_ENOMEM;

    if (ids != NULL && job != NULL) {
        ret = cir_job_store_list(a->store, "", ids, LIST_SCAN_MAX, &n, &more);
    }
    if (ret < 0) {
        snprintf(busy, size, "(the job store cannot be read: %s)",
                 cir_strerror(ret));
        free(ids);
        free(job);
        return 1;
    }
    uri_key(asset, want, sizeof(want));
    for (size_t i = n; i-- > 0 && looked < STORE_SCAN_MAX && !found; looked++) {
        json_t *rec = NULL;
        char *text;
        if (cir_job_store_get(a->store, ids[i], &rec) < 0) {
            continue;
        }
        if ((strcmp(stored_state(rec), "queued") == 0 ||
             strcmp(stored_state(rec), "running") == 0) &&
            (text = json_dumps(json_object_get(rec, "job"), 0)) != NULL) {
            found = doc_writes_asset(a, job, text, strlen(text), asset, want);
            if (found) {
                snprintf(busy, size, "%s (%s)", ids[i], stored_state(rec));
            }
            free(text);
        }
        json_decref(rec);
    }
    free(ids);
    free(job);
    return found;
}

/* The id of a queued or running job whose output is asset (into busy), 1;
 * else 0.  A job document that does not parse writes nothing. */
static int
asset_busy(const cir_job_api_t *a, const cir_uri_t *asset, char *busy,
           size_t size)
{
    listed_t *items = malloc(sizeof(*items) * LIST_SCAN_MAX);
    cir_vod_job_t *job = calloc(1, sizeof(*job));
    char want[CIR_URI_MAX + 80], p[PATH_LEN];
    size_t n = 0;
    int found = 0;

    if (items == NULL || job == NULL) {
        free(items);
        free(job);
        snprintf(busy, size, "(out of memory)");
        return 1; /* cannot tell: refuse */
    }
    uri_key(asset, want, sizeof(want));
    scan_folder(a, 0, "", items, &n);
    scan_folder(a, 1, "", items, &n);
    for (size_t i = 0; i < n && !found; i++) {
        char *text = NULL;
        size_t len = 0;
        if (spool_path(p, a, folders[items[i].folder], "", items[i].id,
                       ".json") < 0 ||
            cir_read_file(p, JOB_DOC_MAX, &text, &len) < 0) {
            continue; /* moved meanwhile */
        }
        found = doc_writes_asset(a, job, text, len, asset, want);
        if (found) {
            snprintf(busy, size, "%s (%s)", items[i].id,
                     states[items[i].folder]);
        }
        free(text);
    }
    free(items);
    free(job);
    return found;
}

/* Removes out_root/<name>/ whole, then the <name>.job.json result beside
 * it (file://): 200 {name, removed}, 404 when neither was there. */
static int
remove_asset(const cir_job_api_t *a, const cir_uri_t *root, const char *name,
             cir_worker_http_answer_t *ans)
{
    cir_store_t *store = NULL;
    char result[160];
    size_t removed = 0;
    int ret, had_result = 0;

    if ((ret = cir_store_open(&store, root)) < 0) {
        return answer_error(ans, 500, "cannot open the store %s: %s",
                            a->out_root, cir_strerror(ret));
    }
    ret = cir_store_remove_tree(store, name, &removed);
    snprintf(result, sizeof(result), "%s.job.json", name);
    if (root->scheme == CIR_URI_FILE && ret != CIR_EINVAL &&
        cir_store_exists(store, result) == 1) {
        had_result = cir_store_remove(store, result) == 0;
    }
    cir_store_close(&store);
    if (ret == CIR_EINVAL) {
        return answer_error(ans, 403,
                            "asset %s: not a folder of out_root (a symbolic "
                            "link or a file): not removed",
                            name);
    }
    if (ret == CIR_ENOTFOUND && !had_result) {
        return answer_error(ans, 404, "no asset %s under %s", name,
                            a->out_root);
    }
    if (ret < 0 && ret != CIR_ENOTFOUND) {
        return answer_error(ans, 500, "asset %s: %zu objects removed, then %s",
                            name, removed, cir_strerror(ret));
    }
    return answer_json(
        ans, 200,
        json_pack("{s:s, s:I}", "name", name, "removed", (json_int_t)removed));
}

static int
delete_asset(const cir_job_api_t *a, const char *name,
             cir_worker_http_answer_t *ans)
{
    cir_uri_t root, asset;
    char busy[200];

    if (cir_uri_parse(a->out_root, &root) < 0 ||
        cir_uri_join(&root, name, &asset) < 0) {
        return answer_error(ans, 500, "out_root %s: not a store URI",
                            a->out_root);
    }
    if (a->store ? asset_busy_stored(a, &asset, busy, sizeof(busy))
                 : asset_busy(a, &asset, busy, sizeof(busy))) {
        return answer_error(ans, 409,
                            "asset %s: job %s writes it; cancel it first", name,
                            busy);
    }
    return remove_asset(a, &root, name, ans);
}

/* ---- the handler ----------------------------------------------------------
 */

/* ---- POST /uploads ---------------------------------------------------------
 */

/*
 * A presigned PUT for upload_s3_uri/<name>: the console (on AWS, where the
 * worker is not beside nginx) sends the file straight to S3 with it, then
 * submits a job on the input returned.  The name is one path segment like
 * an asset's; the URL is signed with the worker's credentials (its role
 * needs s3:PutObject there) and valid upload_url_seconds.
 */
static int
presign_upload(const cir_job_api_t *a, const cir_worker_http_request_t *req,
               cir_worker_http_answer_t *ans)
{
    char key[CIR_URI_MAX], input[CIR_JOB_URI_MAX];
    const char *name;
    json_error_t jerr;
    cir_buf_t url;
    json_t *body, *o;
    int n, ret;

    if (a->upload.bucket[0] == '\0') {
        return answer_error(ans, 501,
                            "no upload_s3_uri: uploads go through nginx "
                            "(/api/uploads/) beside a spool worker");
    }
    body = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
    name = json_string_value(json_object_get(body, "name"));
    if (name == NULL || !asset_name_ok(name) || strlen(name) > 255) {
        json_decref(body);
        return answer_error(ans, 400,
                            "the body is {\"name\": \"<file name>\"}: one "
                            "path segment of at most 255 bytes (no '/', '\\' "
                            "or control character, not starting with '.')");
    }
    n = snprintf(key, sizeof(key), "%s%s", a->upload.path, name);
    if (n < 0 || (size_t)n >= sizeof(key) ||
        snprintf(input, sizeof(input), "s3://%s/%s", a->upload.bucket, key) >=
            (int)sizeof(input)) {
        json_decref(body);
        return answer_error(ans, 400, "the name is too long for a key");
    }
    json_decref(body);
    cir_buf_init(&url, 64 * 1024);
    ret = cir_s3_presign_url(a->upload_aws, "PUT", a->upload.bucket, key,
                             a->upload_url_seconds, &url);
    if (ret < 0) {
        cir_buf_free(&url);
        return answer_error(ans, 503, "cannot sign the upload URL: %s",
                            cir_aws_last_error());
    }
    o = json_pack("{s:s, s:s, s:s, s:i}", "method", "PUT", "url", url.data,
                  "input", input, "expires_in", a->upload_url_seconds);
    cir_buf_free(&url);
    return answer_json(ans, 200, o);
}

int
cir_job_api_handle(void *ctx, const cir_worker_http_request_t *req,
                   cir_worker_http_answer_t *ans)
{
    const cir_job_api_t *a = ctx;
    cir_api_request_t r;
    char err[256];
    int folder;

    if (a->token[0] && !cir_job_api_authorized(req->authorization, a->token)) {
        return answer_error(ans, 401,
                            "Authorization: Bearer <api_token> "
                            "needed");
    }
    if (cir_job_api_route(req->method, req->url, &r, err, sizeof(err)) < 0) {
        return answer_error(ans, 400, "%s", err);
    }
    if (a->aws && a->store == NULL && r.route != CIR_API_OPENAPI &&
        r.route != CIR_API_SUBMIT && r.route != CIR_API_UPLOAD &&
        r.route != CIR_API_NOT_FOUND && r.route != CIR_API_BAD_METHOD) {
        return answer_error(ans, 501,
                            "with intake=sqs and no jobs_s3_uri the job API "
                            "only queues jobs (POST /jobs): their state is "
                            "in status_dir");
    }
    switch (r.route) {
    case CIR_API_OPENAPI:
        ans->type = "application/json";
        cir_buf_append(ans->body, cir_openapi_doc, cir_openapi_doc_len);
        return 200;
    case CIR_API_SUBMIT:
        if (a->store == NULL) {
            sweep_spool_keys(ctx);
        }
        return submit(a, req, ans);
    case CIR_API_LIST:
        return a->store ? list_stored(a, &r, ans) : list_jobs(a, &r, ans);
    case CIR_API_GET:
        if (a->store) {
            return get_stored(a, r.id, ans);
        }
        if ((folder = find_item(a, r.id)) < 0) {
            return answer_error(ans, 404, "no job %s", r.id);
        }
        return answer_json(ans, 200, job_view(a, r.id, folder));
    case CIR_API_CANCEL:
        return a->store ? cancel_stored(a, r.id, ans)
                        : cancel_job(a, r.id, ans);
    case CIR_API_RETRY:
        return a->store ? retry_stored(a, r.id, ans) : retry_job(a, r.id, ans);
    case CIR_API_DELETE_ASSET:
        return delete_asset(a, r.id, ans);
    case CIR_API_UPLOAD:
        return presign_upload(a, req, ans);
    case CIR_API_BAD_METHOD:
        return answer_error(ans, 405, "method not allowed on %s", req->url);
    default:
        return answer_error(ans, 404, "no such resource: %s", req->url);
    }
}

/* ---- life -----------------------------------------------------------------
 */

static int
copy(char *dst, size_t size, const char *src)
{
    int n = snprintf(dst, size, "%s", src ? src : "");
    return n < 0 || (size_t)n >= size ? CIR_ELIMIT : 0;
}

/* intake=sqs: the queue and a client of the HTTP thread's own. */
static int
open_queue(cir_job_api_t *a, const cir_job_api_config_t *cfg, char *err,
           size_t errsize)
{
    if (copy(a->queue_url, sizeof(a->queue_url), cfg->sqs_queue_url) < 0 ||
        a->queue_url[0] == '\0') {
        snprintf(err, errsize, "api: intake=sqs needs sqs_queue_url");
        return CIR_EINVAL;
    }
    if (cir_aws_open(&a->aws, err, errsize) < 0) {
        return CIR_EINVAL;
    }
    if (cfg->aws_connect_timeout_ms > 0 && cfg->aws_request_timeout_ms > 0) {
        cir_aws_set_timeouts(a->aws, cfg->aws_connect_timeout_ms,
                             cfg->aws_request_timeout_ms);
    }
    return 0;
}

/* POST /uploads: upload_s3_uri (an s3:// prefix) and a client for it. */
static int
open_upload(cir_job_api_t *a, const cir_job_api_config_t *cfg, char *err,
            size_t errsize)
{
    char why[256] = "";
    size_t n;

    if (cfg->upload_s3_uri == NULL || cfg->upload_s3_uri[0] == '\0') {
        return 0;
    }
    if (cir_uri_parse_why(cfg->upload_s3_uri, &a->upload, why, sizeof(why)) <
            0 ||
        a->upload.scheme != CIR_URI_S3) {
        snprintf(err, errsize, "api: upload_s3_uri %s: %s", cfg->upload_s3_uri,
                 why[0] ? why : "not an s3:// URI");
        return CIR_EINVAL;
    }
    n = strlen(a->upload.path);
    if (n > 0 && a->upload.path[n - 1] != '/') {
        if (n + 1 >= sizeof(a->upload.path)) {
            snprintf(err, errsize, "api: upload_s3_uri is too long");
            return CIR_EINVAL;
        }
        a->upload.path[n] = '/'; /* a prefix: the name goes under it */
        a->upload.path[n + 1] = '\0';
    }
    a->upload_url_seconds =
        cfg->upload_url_seconds > 0 ? cfg->upload_url_seconds : 900;
    if (cir_aws_open(&a->upload_aws, err, errsize) < 0) {
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_job_api_new(cir_job_api_t **out, const cir_job_api_config_t *cfg, char *err,
                size_t errsize)
{
    cir_job_api_t *a = calloc(1, sizeof(*a));
    char p[PATH_LEN];

    *out = NULL;
    if (a == NULL) {
        return CIR_ENOMEM;
    }
    if (copy(a->intake, sizeof(a->intake), cfg->intake) < 0 ||
        copy(a->out_root, sizeof(a->out_root), cfg->out_root) < 0 ||
        copy(a->presets_dir, sizeof(a->presets_dir), cfg->presets_dir) < 0 ||
        copy(a->default_preset, sizeof(a->default_preset),
             cfg->default_preset) < 0 ||
        copy(a->status_dir, sizeof(a->status_dir), cfg->status_dir) < 0 ||
        copy(a->token, sizeof(a->token), cfg->token) < 0) {
        snprintf(err, errsize, "api: a setting is too long");
        free(a);
        return CIR_EINVAL;
    }
    a->dispatch = cfg->dispatch;
    a->list_scan_max = cfg->list_scan_max > 0 ? cfg->list_scan_max : 1000;
    a->key_seconds =
        cfg->idempotency_seconds > 0 ? cfg->idempotency_seconds : 86400;
    if (strcmp(a->intake, "sqs") == 0 && open_queue(a, cfg, err, errsize) < 0) {
        free(a);
        return CIR_EINVAL;
    }
    if (a->aws && cfg->jobs_uri && cfg->jobs_uri[0] &&
        cir_job_store_open(&a->store, cfg->jobs_uri, err, errsize) < 0) {
        cir_job_api_free(&a);
        return CIR_EINVAL;
    }
    if (open_upload(a, cfg, err, errsize) < 0) {
        cir_job_api_free(&a);
        return CIR_EINVAL;
    }
    /* the spool; with intake=sqs only its api/keys/ */
    if (a->aws && cfg->spool_dir && cir_mkdir_p(cfg->spool_dir, 0755) < 0) {
        snprintf(err, errsize, "api: cannot create %s", cfg->spool_dir);
        cir_job_api_free(&a);
        return CIR_EIO;
    }
    if (cfg->spool_dir == NULL ||
        realpath(cfg->spool_dir, a->spool_dir) == NULL) {
        snprintf(err, errsize, "api: the spool folder %s is missing",
                 cfg->spool_dir ? cfg->spool_dir : "(none)");
        cir_job_api_free(&a);
        return CIR_EINVAL;
    }
    snprintf(p, sizeof(p), "%s/api/keys", a->spool_dir);
    if (cir_mkdir_p(p, 0755) < 0) {
        snprintf(err, errsize, "api: cannot create %s", p);
        cir_job_api_free(&a);
        return CIR_EIO;
    }
    *out = a;
    return 0;
}

void
cir_job_api_free(cir_job_api_t **pa)
{
    if (*pa) {
        cir_aws_close(&(*pa)->aws);
        cir_aws_close(&(*pa)->upload_aws);
        cir_job_store_close(&(*pa)->store);
    }
    free(*pa);
    *pa = NULL;
}
