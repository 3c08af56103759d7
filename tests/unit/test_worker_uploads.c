/*
 * The console's uploads (uploads.c): a job's input in the upload folder is
 * removed when its job ends, nothing outside it (another folder, a path
 * that only looks inside, a link) ever is; the age sweep removes old
 * files only, never a hidden one, a folder, a link or a running job's
 * input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_uploads.h"

static void
touch(const char *dir, const char *name, time_t mtime)
{
    char p[512];
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    cr_assert_not_null(f = fopen(p, "w"), "%s", p);
    fputs("x", f);
    fclose(f);
    cr_assert_eq(utimes(p, tv), 0);
}

static int
there(const char *dir, const char *name)
{
    char p[512];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

Test(uploads, a_jobs_input_in_the_folder_is_removed_and_nothing_else)
{
    char base[] = "/tmp/cir-uploads-XXXXXX", up[300], other[300], in[700];
    time_t now = time(NULL);

    cr_assert_not_null(mkdtemp(base));
    snprintf(up, sizeof(up), "%s/uploads", base);
    snprintf(other, sizeof(other), "%s/media", base);
    cr_assert_eq(mkdir(up, 0755), 0);
    cr_assert_eq(mkdir(other, 0755), 0);
    touch(up, "talk-1.mp4", now);
    touch(other, "talk-1.mp4", now);

    /* not in the folder: kept */
    snprintf(in, sizeof(in), "file://%s/talk-1.mp4", other);
    cr_assert_eq(cir_uploads_remove_input(up, in), 0);
    cr_assert(there(other, "talk-1.mp4"));
    cr_assert_eq(cir_uploads_remove_input(up, "s3://b/uploads/talk-1.mp4"), 0);
    cr_assert_eq(cir_uploads_remove_input("", in), 0, "no folder: off");
    /* a link in the folder to a file outside: not an upload */
    snprintf(in, sizeof(in), "%s/talk-1.mp4", other);
    char link[400];
    snprintf(link, sizeof(link), "%s/linked.mp4", up);
    cr_assert_eq(symlink(in, link), 0);
    snprintf(in, sizeof(in), "file://%s", link);
    cr_assert_eq(cir_uploads_remove_input(up, in), 0);
    cr_assert(there(other, "talk-1.mp4") && there(up, "linked.mp4"));
    /* a subfolder's file is not directly in it */
    snprintf(in, sizeof(in), "%s/sub", up);
    cr_assert_eq(mkdir(in, 0755), 0);
    touch(in, "x.mp4", now);
    snprintf(in, sizeof(in), "file://%s/sub/x.mp4", up);
    cr_assert_eq(cir_uploads_remove_input(up, in), 0);

    /* the upload itself, spelled with a detour: removed, once */
    snprintf(in, sizeof(in), "file://%s/../uploads/talk-1.mp4", up);
    cr_assert_eq(cir_uploads_remove_input(up, in), 1);
    cr_assert(!there(up, "talk-1.mp4"));
    cr_assert_eq(cir_uploads_remove_input(up, in), 0, "gone already");
    touch(up, "bare.mp4", now);
    snprintf(in, sizeof(in), "%s/bare.mp4", up);
    cr_assert_eq(cir_uploads_remove_input(up, in), 1, "a bare path");
}

Test(uploads, the_sweep_removes_old_files_only)
{
    char up[] = "/tmp/cir-sweep-XXXXXX", p[300], keep_uri[400];
    time_t now = time(NULL);
    const char *keep[1];

    cr_assert_not_null(mkdtemp(up));
    touch(up, "old.mp4", now - 7200);
    touch(up, "new.mp4", now - 60);
    touch(up, ".hidden.mp4", now - 7200);
    touch(up, "running.mp4", now - 7200);
    snprintf(p, sizeof(p), "%s/dir", up);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/old-link", up);
    cr_assert_eq(symlink("/etc/hostname", p), 0);
    snprintf(keep_uri, sizeof(keep_uri), "file://%s/running.mp4", up);
    keep[0] = keep_uri;

    cr_assert_eq(cir_uploads_sweep(up, 0, now, keep, 1), 0, "0: off");
    cr_assert_eq(cir_uploads_sweep(up, 3600, now, keep, 1), 1);
    cr_assert(!there(up, "old.mp4"));
    cr_assert(there(up, "new.mp4") && there(up, ".hidden.mp4") &&
              there(up, "running.mp4") && there(up, "dir") &&
              there(up, "old-link"));
    cr_assert_eq(cir_uploads_sweep(up, 3600, now, NULL, 0), 1,
                 "no longer running");
    cr_assert(!there(up, "running.mp4"));
    cr_assert_lt(cir_uploads_sweep("/nonexistent-cirrus", 3600, now, NULL, 0),
                 0);
}
