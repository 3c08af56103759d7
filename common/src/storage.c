/* The store: content types, the backend registry and the built-in file://
 * backend (URIs are uri.c's, file helpers file_io.c's). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"

#define MAX_BACKENDS 4

static const cir_log_ctx_t log_ctx = {.component = "storage"};

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

/* rel's full path into path, its folder made. */
static int
file_path_for_write(void *state, const char *rel, char *path, size_t size)
{
    char *slash;
    int ret;

    if ((ret = file_full_path(state, rel, path, size)) < 0) {
        return ret;
    }
    slash = strrchr(path, '/');
    if (slash && slash != path) {
        *slash = '\0';
        ret = cir_mkdir_p(path, 0755);
        *slash = '/';
    }
    return ret;
}

static int
file_put(void *state, const char *rel, const void *data, size_t len,
         const char *content_type, const char *cache_control)
{
    char path[PATH_MAX];
    int ret;

    (void)content_type; /* a file server derives these from the name */
    (void)cache_control;
    if ((ret = file_path_for_write(state, rel, path, sizeof(path))) < 0) {
        return ret;
    }
    return cir_write_file_atomic(path, data, len);
}

static atomic_uint put_new_seq; /* temporary names of file_put_new */

/* A temporary file beside rel, then link(): fails with -EEXIST when rel
 * exists, atomically (two writers: one link wins). */
static int
file_put_new(void *state, const char *rel, const void *data, size_t len,
             const char *content_type)
{
    char path[PATH_MAX], tmp[PATH_MAX + 64];
    int ret;

    (void)content_type;
    if ((ret = file_path_for_write(state, rel, path, sizeof(path))) < 0) {
        return ret;
    }
    snprintf(tmp, sizeof(tmp), "%s.new-%ld-%u", path, (long)getpid(),
             atomic_fetch_add(&put_new_seq, 1));
    if ((ret = cir_write_file_atomic(tmp, data, len)) < 0) {
        return ret;
    }
    ret = link(tmp, path) < 0 ? -errno : 0;
    unlink(tmp);
    return ret;
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

/* rel_dir "" is the root.  An error when it is not empty (or gone). */
static int
file_remove_folder(void *state, const char *rel_dir)
{
    char path[PATH_MAX];
    int ret;

    if ((ret = file_full_path(state, rel_dir, path, sizeof(path))) < 0) {
        return ret;
    }
    return rmdir(path) == 0 ? 0 : -errno;
}

#define FILE_WALK_DEPTH 64

/* Walks the folder rel (a buffer of PATH_MAX bytes, restored on return)
 * without following a symbolic link: the folder itself is opened with
 * O_NOFOLLOW, and an entry is a folder only when lstat says so. */
static int
file_walk(const file_state_t *fs, char *rel, int depth,
          int (*fn)(void *opaque, const char *rel, int is_folder), void *opaque)
{
    char path[PATH_MAX];
    size_t n = strlen(rel);
    struct dirent *de;
    struct stat st;
    int fd, ret = 0;
    DIR *d;

    if (depth > FILE_WALK_DEPTH) {
        return CIR_ELIMIT;
    }
    if ((ret = file_full_path(fs, rel, path, sizeof(path))) < 0) {
        return ret;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT && depth == 0        ? 0
               : errno == ELOOP || errno == ENOTDIR ? CIR_EINVAL
                                                    : -errno;
    }
    if ((d = fdopendir(fd)) == NULL) {
        ret = -errno;
        close(fd);
        return ret;
    }
    while (ret == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if ((size_t)snprintf(rel + n, PATH_MAX - n, "%s%s", n ? "/" : "",
                             de->d_name) >= PATH_MAX - n) {
            ret = -ENAMETOOLONG;
        } else if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
                   0) {
            ret = errno == ENOENT ? 0 : -errno; /* gone meanwhile */
        } else if (S_ISDIR(st.st_mode)) {
            ret = file_walk(fs, rel, depth + 1, fn, opaque);
            ret = ret == 0 ? fn(opaque, rel, 1) : ret;
        } else {
            ret = fn(opaque, rel, 0);
        }
        rel[n] = '\0';
    }
    closedir(d);
    return ret;
}

static int
file_list(void *state, const char *rel_dir,
          int (*fn)(void *opaque, const char *rel, int is_folder), void *opaque)
{
    char rel[PATH_MAX];

    if ((size_t)snprintf(rel, sizeof(rel), "%s", rel_dir) >= sizeof(rel)) {
        return -ENAMETOOLONG;
    }
    return file_walk(state, rel, 0, fn, opaque);
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
    .put_new = file_put_new,
    .exists = file_exists,
    .remove = file_remove,
    .remove_folder = file_remove_folder,
    .get = file_get,
    .close = file_close,
    .list = file_list,
};

/* ---- the registry and the store ---- */

static cir_store_backend_t backends[MAX_BACKENDS];
static int nb_backends;
static pthread_mutex_t backends_lock = PTHREAD_MUTEX_INITIALIZER;

struct cir_store {
    cir_store_backend_t backend;
    void *state;
    const atomic_int *cancel; /* cir_store_set_cancel() */
    /* cir_store_track_writes(): what this store wrote, in order */
    pthread_mutex_t lock;
    int tracking;
    char **written;
    size_t nwritten, cap;
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
    pthread_mutex_init(&s->lock, NULL);
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

/* ---- the journal of writes ---- */

void
cir_store_track_writes(cir_store_t *store)
{
    store->tracking = 1;
}

/* Records rel; an object rewritten soon after (a playlist, a manifest) is
 * one entry.  Older duplicates stay: removing one twice is harmless. */
static int
note_written(cir_store_t *s, const char *rel)
{
    size_t recent;
    int ret = 0;

    pthread_mutex_lock(&s->lock);
    recent = s->nwritten > 16 ? s->nwritten - 16 : 0;
    for (size_t i = s->nwritten; i-- > recent;) {
        if (strcmp(s->written[i], rel) == 0) {
            goto done;
        }
    }
    if (s->nwritten == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->written, cap * sizeof(*v));
        if (v == NULL) {
            ret = CIR_ENOMEM;
            goto done;
        }
        s->written = v;
        s->cap = cap;
    }
    if ((s->written[s->nwritten] = strdup(rel)) == NULL) {
        ret = CIR_ENOMEM;
        goto done;
    }
    s->nwritten++;
done:
    pthread_mutex_unlock(&s->lock);
    return ret;
}

size_t
cir_store_written(cir_store_t *store)
{
    size_t n;

    pthread_mutex_lock(&store->lock);
    n = store->nwritten;
    pthread_mutex_unlock(&store->lock);
    return n;
}

/* The folders rel sits in, deepest first, then the root: removed when
 * empty (file:// only; S3 has no folders). */
static void
prune_folders(cir_store_t *s, const char *rel)
{
    char dir[CIR_URI_MAX];
    char *slash;

    if (s->backend.remove_folder == NULL) {
        return;
    }
    snprintf(dir, sizeof(dir), "%s", rel);
    while ((slash = strrchr(dir, '/')) != NULL) {
        *slash = '\0';
        if (s->backend.remove_folder(s->state, dir) < 0) {
            return; /* not empty: its parents are not either */
        }
    }
}

int
cir_store_undo_writes(cir_store_t *store, size_t *removed)
{
    int ret = 0, r;

    *removed = 0;
    pthread_mutex_lock(&store->lock);
    for (size_t i = store->nwritten; i-- > 0;) {
        if ((r = store->backend.remove(store->state, store->written[i])) < 0) {
            ret = ret < 0 ? ret : r;
        } else {
            (*removed)++;
            prune_folders(store, store->written[i]);
        }
        free(store->written[i]);
    }
    store->nwritten = 0;
    pthread_mutex_unlock(&store->lock);
    if (store->backend.remove_folder != NULL) {
        store->backend.remove_folder(store->state, "");
    }
    return ret;
}

int
cir_store_put(cir_store_t *store, const char *rel, const void *data, size_t len,
              const cir_store_put_opts_t *opts)
{
    const char *cc = opts != NULL ? opts->cache_control : NULL;
    int ret, jret;

    if (store == NULL || !cir_path_is_safe_relative(rel)) {
        return CIR_EINVAL;
    }
    if (store->cancel != NULL && atomic_load(store->cancel)) {
        return CIR_ECANCELED;
    }
    /* the caller's Cache-Control exactly: the store has no cache policy */
    ret =
        store->backend.put(store->state, rel, data, len, cir_content_type(rel),
                           cc != NULL && cc[0] != '\0' ? cc : NULL);
    /* tracked even when the put failed: a partial object may be there */
    if (store->tracking && (jret = note_written(store, rel)) < 0 && ret == 0) {
        ret = jret; /* an object the store could not undo: a failed put */
    }
    return ret;
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

int
cir_store_put_new(cir_store_t *store, const char *rel, const void *data,
                  size_t len)
{
    if (store == NULL || !cir_path_is_safe_relative(rel)) {
        return CIR_EINVAL;
    }
    if (store->backend.put_new == NULL) {
        return CIR_EUNSUPPORTED;
    }
    if (store->cancel != NULL && atomic_load(store->cancel)) {
        return CIR_ECANCELED;
    }
    return store->backend.put_new(store->state, rel, data, len,
                                  cir_content_type(rel));
}

int
cir_store_list_after(cir_store_t *store, const char *rel_dir,
                     const char *after_rel,
                     int (*fn)(void *opaque, const char *rel, int is_folder),
                     void *opaque)
{
    if (store == NULL || fn == NULL || after_rel == NULL ||
        !cir_path_is_safe_relative(rel_dir)) {
        return CIR_EINVAL;
    }
    if (store->backend.list_after == NULL) {
        return CIR_EUNSUPPORTED;
    }
    return store->backend.list_after(store->state, rel_dir, after_rel, fn,
                                     opaque);
}

int
cir_store_list(cir_store_t *store, const char *rel_dir,
               int (*fn)(void *opaque, const char *rel, int is_folder),
               void *opaque)
{
    if (store == NULL || fn == NULL || !cir_path_is_safe_relative(rel_dir)) {
        return CIR_EINVAL;
    }
    if (store->backend.list == NULL) {
        return CIR_EUNSUPPORTED;
    }
    return store->backend.list(store->state, rel_dir, fn, opaque);
}

/* What cir_store_remove_tree found: paths, folders after their contents. */
typedef struct {
    char **rel;
    unsigned char *is_folder;
    size_t n, cap;
} tree_t;

static int
tree_add(void *opaque, const char *rel, int is_folder)
{
    tree_t *t = opaque;

    if (t->n == CIR_STORE_TREE_MAX) {
        return CIR_ELIMIT;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **r = realloc(t->rel, cap * sizeof(*r));
        unsigned char *f = r ? realloc(t->is_folder, cap) : NULL;
        if (r) {
            t->rel = r;
        }
        if (f == NULL) {
            return CIR_ENOMEM;
        }
        t->is_folder = f;
        t->cap = cap;
    }
    if ((t->rel[t->n] = strdup(rel)) == NULL) {
        return CIR_ENOMEM;
    }
    t->is_folder[t->n++] = (unsigned char)is_folder;
    return 0;
}

static void
tree_free(tree_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rel[i]);
    }
    free(t->rel);
    free(t->is_folder);
}

int
cir_store_remove_tree(cir_store_t *store, const char *rel_dir, size_t *removed)
{
    tree_t t = {0};
    int ret, r, folder_gone = 0;

    *removed = 0;
    /* the whole list first: nothing is removed unless it can all be seen */
    if ((ret = cir_store_list(store, rel_dir, tree_add, &t)) < 0) {
        tree_free(&t);
        return ret;
    }
    for (size_t i = 0; i < t.n; i++) {
        if (t.is_folder[i]) {
            r = store->backend.remove_folder
                    ? store->backend.remove_folder(store->state, t.rel[i])
                    : 0;
        } else if ((r = store->backend.remove(store->state, t.rel[i])) == 0) {
            (*removed)++;
        }
        if (r < 0 && ret == 0) {
            ret = r;
        }
    }
    if (store->backend.remove_folder != NULL) {
        folder_gone = store->backend.remove_folder(store->state, rel_dir) == 0;
    }
    if (ret == 0 && t.n == 0 && !folder_gone) {
        ret = CIR_ENOTFOUND;
    }
    tree_free(&t);
    return ret;
}

void
cir_store_close(cir_store_t **store)
{
    if (store == NULL || *store == NULL) {
        return;
    }
    (*store)->backend.close((*store)->state);
    for (size_t i = 0; i < (*store)->nwritten; i++) {
        free((*store)->written[i]);
    }
    free((*store)->written);
    pthread_mutex_destroy(&(*store)->lock);
    free(*store);
    *store = NULL;
}
