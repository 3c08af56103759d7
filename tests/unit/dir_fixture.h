/* A folder helper shared by common's storage and file tests: how many
 * entries a folder holds.  Header-only. */
#ifndef CIR_TEST_DIR_FIXTURE_H
#define CIR_TEST_DIR_FIXTURE_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <string.h>

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

#endif
