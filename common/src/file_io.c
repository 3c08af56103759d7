/* Local file helpers: mkdir -p, writing at an offset, atomic replacement
 * (with the parent folder synced) and bounded reads. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_storage.h"

#define READ_CHUNK 65536

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
