/*
 * Removing the console's uploads (cir_uploads.h).  Called by the
 * dispatcher (dispatch.c) when a job ends for good and from its loop for
 * the age limit.  Unit tests: tests/unit/test_worker_uploads.c; end to
 * end: tests/integration/dashboard.test.mjs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "cir_uploads.h"

static const cir_log_ctx_t log_ctx = {.component = "uploads"};

/* The local path of a file:// URI or a bare path, else "". */
static void
input_path(const char *input, char *out, size_t size)
{
    cir_uri_t u;

    out[0] = '\0';
    if (input && cir_uri_parse(input, &u) == 0 && u.scheme == CIR_URI_FILE) {
        snprintf(out, size, "%s", u.path);
    }
}

int
cir_uploads_remove_input(const char *dir, const char *input)
{
    char path[PATH_MAX], parent[PATH_MAX], real_dir[PATH_MAX],
        real_parent[PATH_MAX];
    const char *base;
    struct stat st;

    if (dir == NULL || dir[0] == '\0') {
        return 0;
    }
    input_path(input, path, sizeof(path));
    if ((base = strrchr(path, '/')) == NULL || base[1] == '\0' ||
        base[1] == '.') {
        return 0;
    }
    snprintf(parent, sizeof(parent), "%.*s", (int)(base - path), path);
    /* the folder holding it is the upload folder (names resolved), the
     * file itself a regular file, not a link */
    if (realpath(dir, real_dir) == NULL ||
        realpath(parent[0] ? parent : "/", real_parent) == NULL ||
        strcmp(real_dir, real_parent) != 0 || lstat(path, &st) != 0 ||
        !S_ISREG(st.st_mode)) {
        return 0;
    }
    if (unlink(path) != 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    cir_log_info(&log_ctx, "removed the upload %s (its job has ended)", path);
    return 1;
}

static int
kept(const char *dir, const char *name, const char *const *keep, size_t nkeep)
{
    char path[PATH_MAX], p[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    for (size_t i = 0; i < nkeep; i++) {
        input_path(keep[i], p, sizeof(p));
        const char *b = strrchr(p, '/');
        if (strcmp(p, path) == 0 || (b && strcmp(b + 1, name) == 0)) {
            return 1; /* the same name: kept, whatever the spelling */
        }
    }
    return 0;
}

int
cir_uploads_sweep(const char *dir, double max_age_s, int64_t now_s,
                  const char *const *keep, size_t nkeep)
{
    struct dirent *de;
    struct stat st;
    int n = 0, fd;
    DIR *d;

    if (dir == NULL || dir[0] == '\0' || max_age_s <= 0) {
        return 0;
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (d = fdopendir(fd)) == NULL) {
        int ret = -errno;
        if (fd >= 0) {
            close(fd);
        }
        return ret;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode) ||
            (double)(now_s - (int64_t)st.st_mtime) <= max_age_s ||
            kept(dir, de->d_name, keep, nkeep)) {
            continue;
        }
        if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
            cir_log_info(&log_ctx,
                         "removed the upload %s/%s (older than "
                         "%.0f s)",
                         dir, de->d_name, max_age_s);
            n++;
        }
    }
    closedir(d);
    return n;
}
