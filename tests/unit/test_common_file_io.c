/* common/src/file_io.c: mkdir -p, positioned and atomic writes, bounded
 * reads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_storage.h"
#include "dir_fixture.h"

Test(common_file_io, mkdir_p)
{
    char dir[] = "/tmp/cir-mkdir-XXXXXX", path[256];
    struct stat st;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a/b/c/", dir);
    cr_assert_eq(cir_mkdir_p(path, 0755), 0);
    cr_assert_eq(cir_mkdir_p(path, 0755), 0, "existing folders are fine");
    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    snprintf(path, sizeof(path), "%s/a/file", dir);
    cr_assert_eq(cir_write_file_atomic(path, "x", 1), 0);
    snprintf(path, sizeof(path), "%s/a/file/sub", dir);
    cr_assert_eq(cir_mkdir_p(path, 0755), -ENOTDIR);
    cr_assert_eq(cir_mkdir_p("", 0755), CIR_EINVAL);
}

Test(common_file_io, atomic_write_and_bounded_read)
{
    char dir[] = "/tmp/cir-write-XXXXXX", path[256];
    char *data = NULL;
    size_t len = 0;
    static char big[200000];

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f.bin", dir);
    memset(big, 'q', sizeof(big));
    cr_assert_eq(cir_write_file_atomic(path, big, sizeof(big)), 0);
    cr_assert_eq(cir_read_file(path, sizeof(big), &data, &len), 0);
    cr_assert_eq(len, sizeof(big));
    cr_assert_eq(data[len], '\0');
    cr_assert_eq(memcmp(data, big, len), 0);
    free(data);
    data = NULL;
    cr_assert_eq(cir_read_file(path, sizeof(big) - 1, &data, &len), CIR_ELIMIT);
    cr_assert_null(data);
    cr_assert_eq(count_entries(dir), 1);

    /* an empty file reads as an empty string */
    cr_assert_eq(cir_write_file_atomic(path, NULL, 0), 0);
    cr_assert_eq(cir_read_file(path, 10, &data, &len), 0);
    cr_assert_not_null(data);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(data, "");
    free(data);

    cr_assert_eq(cir_read_file(dir, 10, &data, &len), -EISDIR);
    snprintf(path, sizeof(path), "%s/missing", dir);
    cr_assert_eq(cir_read_file(path, 10, &data, &len), -ENOENT);
    /* writing into a missing folder fails and leaves nothing */
    snprintf(path, sizeof(path), "%s/no/such/f", dir);
    cr_assert_eq(cir_write_file_atomic(path, "x", 1), -ENOENT);
    cr_assert_eq(cir_write_file_atomic(dir, "x", 1), -EISDIR);
    cr_assert_eq(count_entries(dir), 1, "temporary file removed on failure");
}

Test(common_file_io, read_is_bounded_for_files_that_lie_about_size)
{
    char *data = NULL;
    size_t len = 0;

    /* /dev/zero reports size 0 and never ends: the limit must stop it */
    cr_assert_eq(cir_read_file("/dev/zero", 100000, &data, &len), CIR_ELIMIT);
    cr_assert_null(data);
}

Test(common_file_io, pwrite_all_writes_at_the_offset)
{
    char path[] = "/tmp/cir-pwrite-XXXXXX";
    char *data = NULL;
    size_t len = 0;
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    cr_assert_eq(cir_pwrite_all(fd, "abc", 3, 0), 0);
    cr_assert_eq(cir_pwrite_all(fd, "def", 3, 3), 0);
    cr_assert_eq(cir_pwrite_all(fd, "X", 1, 1), 0);
    cr_assert_eq(cir_pwrite_all(-1, "X", 1, 0), -EBADF);
    close(fd);
    cr_assert_eq(cir_read_file(path, 16, &data, &len), 0);
    cr_assert_eq(len, 6);
    cr_assert_str_eq(data, "aXcdef");
    free(data);
    unlink(path);
}
