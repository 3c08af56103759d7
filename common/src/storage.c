/*
 * Storage URIs, the backend registry and the built-in file:// backend.
 *
 * URIs are taken as written: no percent-decoding (file:///a%20b names a file
 * called "a%20b"); S3 keys are passed to the S3 backend as they are.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"

#define MAX_BACKENDS 4
#define READ_CHUNK   65536

static const cir_log_ctx_t log_ctx = {.component = "storage"};

/* ---- URIs ---- */

static int
has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

static int
is_ipv4_like(const char *s)
{
    int dots = 0;

    for (; *s; s++) {
        if (*s == '.') {
            dots++;
        } else if (!isdigit((unsigned char)*s)) {
            return 0;
        }
    }
    return dots == 3;
}

/* S3 bucket naming rules (the DNS-compatible subset). */
static int
bucket_is_valid(const char *b, size_t n)
{
    char name[64];

    if (n < 3 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-')) {
            return 0;
        }
        if (i > 0 && (c == '.' || c == '-') && b[i - 1] == '.') {
            return 0; /* "..", ".-" */
        }
        if (i > 0 && c == '.' && b[i - 1] == '-') {
            return 0; /* "-." */
        }
    }
    if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1])) {
        return 0;
    }
    memcpy(name, b, n);
    name[n] = '\0';
    if (is_ipv4_like(name) || strncmp(name, "xn--", 4) == 0) {
        return 0;
    }
    return 1;
}

/* "scheme://" with a scheme we do not serve. */
static int
has_other_scheme(const char *s)
{
    const char *p = s;

    if (!isalpha((unsigned char)*p)) {
        return 0;
    }
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    return strncmp(p, "://", 3) == 0;
}

static int
set_path(cir_uri_t *u, const char *path)
{
    size_t n = strlen(path);

    if (n == 0) {
        return CIR_EINVAL;
    }
    if (n >= sizeof(u->path)) {
        return CIR_ELIMIT;
    }
    memcpy(u->path, path, n + 1);
    return 0;
}

int
cir_uri_parse(const char *s, cir_uri_t *u)
{
    size_t n;

    if (s == NULL || u == NULL) {
        return CIR_EINVAL;
    }
    memset(u, 0, sizeof(*u));
    n = strnlen(s, CIR_URI_MAX);
    if (n == 0) {
        return CIR_EINVAL;
    }
    if (n >= CIR_URI_MAX) {
        return CIR_ELIMIT;
    }
    if (has_control(s)) {
        return CIR_EINVAL;
    }

    if (strncmp(s, "s3://", 5) == 0) {
        const char *b = s + 5, *slash = strchr(b, '/');
        size_t blen = slash ? (size_t)(slash - b) : strlen(b);

        if (!bucket_is_valid(b, blen)) {
            return CIR_EINVAL;
        }
        u->scheme = CIR_URI_S3;
        memcpy(u->bucket, b, blen);
        u->bucket[blen] = '\0';
        if (slash) {
            if (slash[1] == '/') {
                return CIR_EINVAL; /* a key never starts with '/' */
            }
            memcpy(u->path, slash + 1, strlen(slash + 1) + 1);
        }
        return 0;
    }

    u->scheme = CIR_URI_FILE;
    if (strncmp(s, "file://", 7) == 0) {
        const char *p = s + 7;
        if (strncmp(p, "localhost/", 10) == 0) {
            p += 9;
        }
        if (*p != '/') {
            return CIR_EUNSUPPORTED; /* file://host/... */
        }
        return set_path(u, p);
    }
    if (strncmp(s, "file:", 5) == 0) {
        return set_path(u, s + 5);
    }
    if (has_other_scheme(s)) {
        return CIR_EUNSUPPORTED;
    }
    return set_path(u, s);
}

int
cir_uri_format(const cir_uri_t *u, char *out, size_t size)
{
    int n;

    if (u == NULL || out == NULL || size == 0) {
        return CIR_EINVAL;
    }
    if (u->scheme == CIR_URI_S3) {
        n = snprintf(out, size, "s3://%s/%s", u->bucket, u->path);
    } else if (u->path[0] == '/') {
        n = snprintf(out, size, "file://%s", u->path);
    } else {
        n = snprintf(out, size, "file:%s", u->path);
    }
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_path_is_safe_relative(const char *rel)
{
    const char *seg, *p;

    if (rel == NULL || rel[0] == '\0' || rel[0] == '/' ||
        strnlen(rel, CIR_URI_MAX) >= CIR_URI_MAX) {
        return 0;
    }
    seg = rel;
    for (p = rel;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/' || c == '\0') {
            size_t len = (size_t)(p - seg);
            if (len == 0 || (len == 1 && seg[0] == '.') ||
                (len == 2 && seg[0] == '.' && seg[1] == '.')) {
                return 0;
            }
            if (c == '\0') {
                return 1;
            }
            seg = p + 1;
        } else if (c == '\\' || c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
}

/* ---- content type ---- */

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"mpd", "application/dash+xml"},
    {"mp4", "video/mp4"},
    {"m4s", "video/iso.segment"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"webp", "image/webp"},
    {"png", "image/png"},
    {"vtt", "text/vtt"},
    {"json", "application/json"},
};

static int
find_type(const char *name)
{
    const char *base, *dot;

    if (name == NULL) {
        return -1;
    }
    base = strrchr(name, '/');
    base = base ? base + 1 : name;
    dot = strrchr(base, '.');
    if (dot == NULL) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcasecmp(dot + 1, types[i].ext) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *
cir_content_type(const char *name)
{
    int i = find_type(name);

    return i >= 0 ? types[i].type : "application/octet-stream";
}

/* ---- file helpers ---- */

int
cir_mkdir_p(const char *path, unsigned mode)
{
    char buf[PATH_MAX];
    size_t n;
    struct stat st;

    if (path == NULL || path[0] == '\0') {
        return CIR_EINVAL;
    }
    n = strnlen(path, sizeof(buf));
    if (n >= sizeof(buf)) {
        return -ENAMETOOLONG;
    }
    memcpy(buf, path, n + 1);
    while (n > 1 && buf[n - 1] == '/') {
        buf[--n] = '\0';
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, (mode_t)mode) != 0) {
            int e = errno;
            if (e != EEXIST) {
                return -e;
            }
            if (stat(buf, &st) != 0) {
                return -errno;
            }
            if (!S_ISDIR(st.st_mode)) {
                return -ENOTDIR;
            }
        }
        *p = saved;
        if (saved == '\0') {
            return 0;
        }
    }
}

int
cir_pwrite_all(int fd, const void *data, size_t len, int64_t off)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

static void
fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n;
    int fd;

    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else {
        n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* durability of the rename; best effort */
        close(fd);
    }
}

int
cir_write_file_atomic(const char *path, const void *data, size_t len)
{
    return cir_write_file_atomic_flags(path, data, len, CIR_WRITE_DURABLE);
}

int
cir_write_file_atomic_flags(const char *path, const void *data, size_t len,
                            unsigned flags)
{
    char tmp[PATH_MAX];
    const char *slash, *base;
    int fd = -1, ret, n;

    if (path == NULL || path[0] == '\0' || (data == NULL && len > 0)) {
        return CIR_EINVAL;
    }
    /* the temporary file lives in the same folder, so rename is atomic */
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    if (base[0] == '\0') {
        return CIR_EINVAL;
    }
    n = snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp.XXXXXX", (int)(base - path),
                 path, base);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return -ENAMETOOLONG;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fchmod(fd, 0644) != 0) {
        ret = -errno;
        goto fail;
    }
    if ((ret = cir_pwrite_all(fd, data, len, 0)) < 0) {
        goto fail;
    }
    if ((flags & CIR_WRITE_DURABLE) && fsync(fd) != 0) {
        ret = -errno;
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        ret = -errno;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        ret = -errno;
        goto fail;
    }
    if (flags & CIR_WRITE_DURABLE) {
        fsync_parent(path);
    }
    return 0;

fail:
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return ret;
}

int
cir_read_file(const char *path, size_t max, char **data, size_t *len)
{
    cir_buf_t b;
    char chunk[READ_CHUNK];
    struct stat st;
    int fd, ret;

    if (path == NULL || data == NULL) {
        return CIR_EINVAL;
    }
    *data = NULL;
    if (len) {
        *len = 0;
    }
    cir_buf_init(&b, max);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) != 0) {
        ret = -errno;
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        ret = -EISDIR;
        goto fail;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > (uintmax_t)max) {
        ret = CIR_ELIMIT;
        goto fail;
    }
    /* the size may change under us: the buffer's maximum is what binds */
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            ret = -errno;
            goto fail;
        }
        if (r == 0) {
            break;
        }
        if ((ret = cir_buf_append(&b, chunk, (size_t)r)) < 0) {
            goto fail;
        }
    }
    close(fd);
    if (b.data == NULL && (ret = cir_buf_append(&b, "", 0)) < 0) {
        cir_buf_free(&b);
        return ret;
    }
    *data = cir_buf_detach(&b, len);
    return 0;

fail:
    close(fd);
    cir_buf_free(&b);
    return ret;
}

/* ---- the file backend ---- */

typedef struct {
    char root[PATH_MAX];
} file_state_t;

static int
file_full_path(const file_state_t *fs, const char *rel, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", fs->root, rel);

    return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : 0;
}

static int
file_open(void **state, const cir_uri_t *root)
{
    file_state_t *fs;
    size_t n = strlen(root->path);
    int ret;

    if (n == 0) {
        return CIR_EINVAL;
    }
    if (n >= sizeof(fs->root)) {
        return -ENAMETOOLONG;
    }
    fs = calloc(1, sizeof(*fs));
    if (fs == NULL) {
        return CIR_ENOMEM;
    }
    memcpy(fs->root, root->path, n + 1);
    while (n > 1 && fs->root[n - 1] == '/') {
        fs->root[--n] = '\0';
    }
    if ((ret = cir_mkdir_p(fs->root, 0755)) < 0) {
        free(fs);
        return ret;
    }
    *state = fs;
    return 0;
}

static int
file_put(void *state, const char *rel, const void *data, size_t len,
         const char *content_type, const char *cache_control)
{
    char path[PATH_MAX];
    char *slash;
    int ret;

    (void)content_type; /* a file server derives these from the name */
    (void)cache_control;
    if ((ret = file_full_path(state, rel, path, sizeof(path))) < 0) {
        return ret;
    }
    slash = strrchr(path, '/');
    if (slash && slash != path) {
        *slash = '\0';
        ret = cir_mkdir_p(path, 0755);
        *slash = '/';
        if (ret < 0) {
            return ret;
        }
    }
    return cir_write_file_atomic(path, data, len);
}

static int
file_exists(void *state, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    int ret;

    if ((ret = file_full_path(state, rel, path, sizeof(path))) < 0) {
        return ret;
    }
    if (stat(path, &st) != 0) {
        return (errno == ENOENT || errno == ENOTDIR) ? 0 : -errno;
    }
    return S_ISREG(st.st_mode) ? 1 : 0;
}

static int
file_get(void *state, const char *rel, size_t max, char **data, size_t *len)
{
    char path[PATH_MAX];
    int ret;

    if ((ret = file_full_path(state, rel, path, sizeof(path))) < 0) {
        return ret;
    }
    ret = cir_read_file(path, max, data, len);
    return ret == -ENOENT || ret == -ENOTDIR ? CIR_ENOTFOUND : ret;
}

/* Removing a missing object succeeds, as an S3 DELETE does. */
static int
file_remove(void *state, const char *rel)
{
    char path[PATH_MAX];
    int ret;

    if ((ret = file_full_path(state, rel, path, sizeof(path))) < 0) {
        return ret;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        return -errno;
    }
    return 0;
}

static void
file_close(void *state)
{
    free(state);
}

static const cir_store_backend_t file_backend = {
    .scheme = CIR_URI_FILE,
    .open = file_open,
    .put = file_put,
    .exists = file_exists,
    .remove = file_remove,
    .get = file_get,
    .close = file_close,
};

/* ---- the registry and the store ---- */

static cir_store_backend_t backends[MAX_BACKENDS];
static int nb_backends;
static pthread_mutex_t backends_lock = PTHREAD_MUTEX_INITIALIZER;

struct cir_store {
    cir_store_backend_t backend;
    void *state;
    const atomic_int *cancel; /* cir_store_set_cancel() */
};

/* A later registration for the same scheme replaces the earlier one. */
int
cir_store_register_backend(const cir_store_backend_t *backend)
{
    int ret = CIR_ELIMIT;

    if (backend == NULL || backend->open == NULL || backend->put == NULL ||
        backend->exists == NULL || backend->remove == NULL ||
        backend->close == NULL) {
        return CIR_EINVAL;
    }
    pthread_mutex_lock(&backends_lock);
    for (int i = 0; i < nb_backends; i++) {
        if (backends[i].scheme == backend->scheme) {
            backends[i] = *backend;
            ret = 0;
            goto done;
        }
    }
    if (nb_backends < MAX_BACKENDS) {
        backends[nb_backends++] = *backend;
        ret = 0;
    }
done:
    pthread_mutex_unlock(&backends_lock);
    return ret;
}

static int
find_backend(cir_uri_scheme_t scheme, cir_store_backend_t *out)
{
    int found = 0;

    pthread_mutex_lock(&backends_lock);
    for (int i = 0; i < nb_backends; i++) {
        if (backends[i].scheme == scheme) {
            *out = backends[i];
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&backends_lock);
    if (!found && scheme == CIR_URI_FILE) {
        *out = file_backend;
        found = 1;
    }
    return found;
}

int
cir_store_open(cir_store_t **store, const cir_uri_t *root)
{
    cir_store_t *s = NULL;
    int ret;

    if (store == NULL || root == NULL) {
        return CIR_EINVAL;
    }
    *store = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return CIR_ENOMEM;
    }
    if (!find_backend(root->scheme, &s->backend)) {
        cir_log_error(&log_ctx,
                      "s3://%s/%s: s3:// output needs the S3 backend, which "
                      "this program did not register",
                      root->bucket, root->path);
        ret = CIR_EUNSUPPORTED;
        goto fail;
    }
    if ((ret = s->backend.open(&s->state, root)) < 0) {
        goto fail;
    }
    *store = s;
    return 0;

fail:
    free(s);
    return ret;
}

void
cir_store_set_cancel(cir_store_t *store, const atomic_int *cancel)
{
    store->cancel = cancel;
    if (store->backend.set_cancel != NULL) {
        store->backend.set_cancel(store->state, cancel);
    }
}

int
cir_store_put(cir_store_t *store, const char *rel, const void *data, size_t len,
              const cir_store_put_opts_t *opts)
{
    const char *cc = opts != NULL ? opts->cache_control : NULL;

    if (store == NULL || !cir_path_is_safe_relative(rel)) {
        return CIR_EINVAL;
    }
    if (store->cancel != NULL && atomic_load(store->cancel)) {
        return CIR_ECANCELED;
    }
    /* the caller's Cache-Control exactly: the store has no cache policy */
    return store->backend.put(store->state, rel, data, len,
                              cir_content_type(rel),
                              cc != NULL && cc[0] != '\0' ? cc : NULL);
}

int
cir_store_exists(cir_store_t *store, const char *rel)
{
    if (store == NULL || !cir_path_is_safe_relative(rel)) {
        return CIR_EINVAL;
    }
    return store->backend.exists(store->state, rel);
}

int
cir_store_get(cir_store_t *store, const char *rel, size_t max, char **data,
              size_t *len)
{
    if (data != NULL) {
        *data = NULL;
    }
    if (store == NULL || data == NULL || len == NULL ||
        !cir_path_is_safe_relative(rel)) {
        return CIR_EINVAL;
    }
    *len = 0;
    if (store->backend.get == NULL) {
        return CIR_EUNSUPPORTED;
    }
    return store->backend.get(store->state, rel, max, data, len);
}

int
cir_store_remove(cir_store_t *store, const char *rel)
{
    if (store == NULL || !cir_path_is_safe_relative(rel)) {
        return CIR_EINVAL;
    }
    return store->backend.remove(store->state, rel);
}

void
cir_store_close(cir_store_t **store)
{
    if (store == NULL || *store == NULL) {
        return;
    }
    (*store)->backend.close((*store)->state);
    free(*store);
    *store = NULL;
}

int
cir_name_is_safe(const char *s, size_t len, size_t max_len)
{
    if (s == NULL || len == 0 || len > max_len) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* ---- published versions ---- */

int
cir_version_id_make(int64_t wall_us, uint64_t random, char *out, size_t size)
{
    time_t secs = (time_t)(wall_us / 1000000);
    struct tm tm;
    int n;

    if (out == NULL || size == 0 || wall_us < 0 ||
        gmtime_r(&secs, &tm) == NULL) {
        return CIR_EINVAL;
    }
    n = snprintf(out, size, "%04d%02d%02dT%02d%02d%02d%03dZ-%016llx",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(wall_us / 1000 % 1000),
                 (unsigned long long)random);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_version_id_is_valid(const char *id)
{
    return id != NULL && cir_name_is_safe(id, strnlen(id, CIR_VERSION_ID_MAX),
                                          CIR_VERSION_ID_MAX - 1);
}

int
cir_uri_join(const cir_uri_t *base, const char *rel, cir_uri_t *out)
{
    size_t n;
    int m;

    if (base == NULL || out == NULL || !cir_path_is_safe_relative(rel)) {
        return CIR_EINVAL;
    }
    if (out != base) {
        *out = *base;
    }
    n = strlen(out->path);
    while (n > 0 && out->path[n - 1] == '/') {
        n--;
    }
    m = snprintf(out->path + n, sizeof(out->path) - n, "%s%s", n > 0 ? "/" : "",
                 rel);
    if (m < 0 || (size_t)m >= sizeof(out->path) - n) {
        return CIR_ELIMIT;
    }
    return 0;
}

int
cir_output_root_check(const cir_uri_t *out, char *why, size_t size)
{
    const char *k;
    size_t n;

    if (out == NULL || out->scheme != CIR_URI_S3) {
        return 0;
    }
    k = out->path;
    n = strlen(k);
    while (n > 0 && k[n - 1] == '/') {
        n--; /* the prefix's own trailing '/' is the one we add */
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (k[i] == '/' && k[i + 1] == '/') {
            snprintf(why, size,
                     "output key prefix \"%.*s\": an empty path segment "
                     "(\"//\") names no output folder",
                     (int)(n > 200 ? 200 : n), k);
            return CIR_EINVAL;
        }
    }
    if (n + CIR_ASSET_KEY_RESERVE > CIR_S3_KEY_MAX) {
        snprintf(why, size,
                 "output key prefix of %zu bytes: output keys would exceed "
                 "S3's %d-byte key limit (an asset prefix may have at most "
                 "%d bytes)",
                 n, CIR_S3_KEY_MAX, CIR_S3_KEY_MAX - CIR_ASSET_KEY_RESERVE);
        return CIR_ELIMIT;
    }
    return 0;
}
