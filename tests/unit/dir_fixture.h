/* Folder helpers shared by tests that look at what was written: how many
 * entries a folder holds, whether a file is there.  Header-only. */
#ifndef CIR_TEST_DIR_FIXTURE_H
#define CIR_TEST_DIR_FIXTURE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The entries of dir besides "." and "..". */
static __attribute__((unused)) int
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d, "%s", dir);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Whether dir/rel exists (a file or a folder, empty or not). */
static __attribute__((unused)) int
exists_in(const char *dir, const char *rel)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return stat(path, &st) == 0;
}

#endif
