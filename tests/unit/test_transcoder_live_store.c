/*
 * The live store's file adapter with the real writer, on a fixed clock in
 * a scratch folder: files and index appear together, a segment file is its
 * parts' bytes, the index is swapped in without new inodes, nothing is
 * published before the target duration, finish ends the stream, a
 * reopened folder resumes its numbering, old segment files leave.  The
 * writer's decisions themselves: test_origin_live_writer.c and
 * test_origin_live_window.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_buf.h"
#include "cir_live.h"
#include "live_writer_config.h"
#include "cir_onair_store.h"
#include "cir_origin.h"
#include "dir_fixture.h"

static char dir[64];
static cir_clock_t clk;
static cir_onair_store_t *w;

static void
rm_rf(const char *d)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    cr_assert_eq(system(cmd), 0);
}

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cirrus-lw-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    strcat(dir, "/s/720p"); /* created by open */
    cir_clock_fixed_init(&clk, T0);
}

static void
teardown(void)
{
    char root[64];

    cir_onair_store_close(&w);
    snprintf(root, sizeof(root), "%.26s", dir);
    rm_rf(root);
}

static cir_live_writer_config_t
config(uint32_t window)
{
    return live_writer_config(window, dir, &clk);
}

static int
exists(const char *name)
{
    return exists_in(dir, name);
}

static char *
slurp(const char *name, size_t *len)
{
    char p[256], *data;
    long n;
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "rb");
    cr_assert_not_null(f, "%s", p);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static int64_t media_t;

/* w opened with a window of `window` segments, its first init put: where
 * most tests start. */
static void
start(uint32_t window, const char *init, size_t len)
{
    cir_live_writer_config_t c = config(window);

    media_t = 0;
    cr_assert_eq(cir_onair_store_open(&w, &c), 0);
    cr_assert_eq(cir_onair_store_put_init(w, init, len), 0);
}

/* One 4 s segment of four 1 s parts into w. */
static void
put_segment(void)
{
    LIVE_PUT_SEGMENT(w, cir_onair_store_put_part, cir_onair_store_end_segment,
                     &clk, media_t);
}

TestSuite(live_store, .init = setup, .fini = teardown);

Test(live_store, parts_segments_and_index)
{
    cir_live_writer_config_t c = config(6);
    const cir_live_index_t *x;
    cir_live_index_t disk;
    size_t len;
    char *data;

    media_t = 0;
    cr_assert_eq(cir_onair_store_open(&w, &c), 0);
    cr_assert(exists("index"));
    /* no init yet: no media */
    cr_assert_eq(cir_onair_store_put_part(w, "x", 1, 0, TS, 1), CIR_EINVAL);
    cr_assert_eq(cir_onair_store_put_init(w, "INIT", 4), 0);
    cr_assert(exists("init-1.mp4"));

    cir_clock_fixed_advance(&clk, 1500000);
    cr_assert_eq(cir_onair_store_put_part(w, "AB", 2, 0, TS, 1), 0);
    /* the part is appended to its segment file: no file of its own */
    data = slurp("seg-0.m4s", &len);
    cr_assert_eq(len, 2);
    cr_assert_eq(memcmp(data, "AB", 2), 0);
    free(data);
    cr_assert_not(exists("part-0.0.m4s"));
    x = cir_live_writer_index(cir_onair_store_writer(w));
    cr_assert_eq(x->nb_segments, 1);
    cr_assert_eq(x->segments[0].complete, 0);
    cr_assert_eq(x->segments[0].nb_parts, 1);
    cr_assert_eq(x->segments[0].init_id, 1);
    cr_assert_eq(x->segments[0].discontinuity, 0);
    /* PDT: the wall clock at open minus the first part (1 s) */
    cr_assert_eq(x->segments[0].pdt_us, T0 + 500000);
    cr_assert_eq(x->started_us, T0);

    /* the index on disk is what the writer holds */
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.version, x->version);
    cr_assert_eq(disk.nb_parts, 1);
    cir_live_index_free(&disk);

    cir_clock_fixed_advance(&clk, 1000000);
    cr_assert_eq(cir_onair_store_put_part(w, "CDE", 3, TS, TS, 0), 0);
    cr_assert_eq(cir_onair_store_end_segment(w), 0);
    cr_assert_eq(cir_onair_store_end_segment(w), CIR_EINVAL); /* none open */
    data = slurp("seg-0.m4s", &len);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(data, "ABCDE", 5), 0);
    free(data);
    x = cir_live_writer_index(cir_onair_store_writer(w));
    {
        uint64_t off;
        uint32_t size;
        cr_assert_eq(cir_live_index_part_range(x, 0, 1, &off, &size), 0);
        cr_assert_eq(off, 2);
        cr_assert_eq(size, 3);
    }
    cr_assert_eq(x->segments[0].complete, 1);
    cr_assert_eq(x->segments[0].size, 5);
    cr_assert_eq(x->segments[0].duration, 2 * TS);
    cr_assert_eq(x->updated_us, T0 + 2500000);

    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.segments[0].complete, 1);
    cr_assert_eq(disk.version, x->version);
    cir_live_index_free(&disk);
}

Test(live_store, version_rises_on_every_write)
{
    cir_live_writer_config_t c = config(6);
    uint64_t v;

    media_t = 0;
    cr_assert_eq(cir_onair_store_open(&w, &c), 0);
    v = cir_live_writer_index(cir_onair_store_writer(w))->version;
    cr_assert_eq(cir_onair_store_put_init(w, "INIT", 4), 0);
    cr_assert_eq(cir_live_writer_index(cir_onair_store_writer(w))->version,
                 v + 1);
    cr_assert_eq(cir_onair_store_put_part(w, "A", 1, 0, TS, 1), 0);
    cr_assert_eq(cir_live_writer_index(cir_onair_store_writer(w))->version,
                 v + 2);
    cr_assert_eq(cir_onair_store_end_segment(w), 0);
    cr_assert_eq(cir_live_writer_index(cir_onair_store_writer(w))->version,
                 v + 3);
    /* the last part and the segment's end: one write */
    cr_assert_eq(cir_onair_store_put_part(w, "B", 1, TS, TS, 1), 0);
    cr_assert_eq(cir_onair_store_put_last_part(w, "CD", 2, 2 * TS, TS, 0), 0);
    cr_assert_eq(cir_live_writer_index(cir_onair_store_writer(w))->version,
                 v + 5);
    {
        cir_live_index_t disk;
        uint64_t off;
        uint32_t size;
        cr_assert_eq(cir_live_index_load(dir, &disk), 0);
        cr_assert_eq(disk.nb_segments, 2);
        cr_assert_eq(disk.segments[1].complete, 1);
        cr_assert_eq(disk.segments[1].nb_parts, 2);
        cr_assert_eq(disk.segments[1].size, 3);
        cr_assert_eq(cir_live_index_part_range(&disk, 1, 1, &off, &size), 0);
        cr_assert_eq(off, 1);
        cr_assert_eq(size, 2);
        cir_live_index_free(&disk);
    }
    cr_assert_eq(cir_onair_store_end_segment(w), CIR_EINVAL); /* closed */
}

Test(live_store, index_is_replaced_without_new_files)
{
    ino_t seen[8];
    struct stat a, b;
    char p[256];
    int i;

    start(6, "INIT", 4);
    put_segment();
    /* three files take turns as the index: a new version, another inode,
     * and the fourth version is on the first one again */
    snprintf(p, sizeof(p), "%s/index", dir);
    for (i = 0; i < 6; i++) {
        cr_assert_eq(stat(p, &a), 0);
        seen[i] = a.st_ino;
        cir_clock_fixed_advance(&clk, 1000000);
        cr_assert_eq(cir_onair_store_put_part(w, "Z", 1, media_t, TS, 1), 0);
        media_t += TS;
        cr_assert_eq(stat(p, &b), 0);
        cr_assert_neq(a.st_ino, b.st_ino, "a new version, a new inode");
        cr_assert_eq(b.st_nlink, 1);
    }
    cr_assert_eq(seen[3], seen[0]);
    cr_assert_eq(seen[4], seen[1]);
    cr_assert_neq(seen[1], seen[0]);
    cr_assert_neq(seen[2], seen[0]);
    cr_assert(exists(".index.0"));
    cr_assert(exists(".index.1"));
    cr_assert_not(exists(".index.2"));
    {
        cir_live_index_t disk;
        cr_assert_eq(cir_live_index_load(dir, &disk), 0);
        cr_assert_eq(disk.version,
                     cir_live_writer_index(cir_onair_store_writer(w))->version);
        cir_live_index_free(&disk);
    }
}

Test(live_store, finish_ends_the_stream)
{
    cir_live_index_t disk;

    start(3, "I", 1);
    put_segment();
    cr_assert_eq(cir_onair_store_put_part(w, "A", 1, media_t, TS, 1), 0);
    cr_assert_eq(cir_onair_store_finish(w), 0);
    cr_assert(exists("seg-1.m4s"));
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.ended, 1);
    cr_assert_eq(disk.nb_segments, 2);
    cr_assert_eq(disk.segments[1].complete, 1);
    cir_live_index_free(&disk);
    cr_assert_eq(cir_onair_store_put_part(w, "B", 1, media_t, TS, 1),
                 CIR_EINVAL);
}

Test(live_store, reopen_resumes_numbering)
{
    cir_live_writer_config_t c = config(3);
    const cir_live_index_t *x;

    media_t = 0;
    cr_assert_eq(cir_onair_store_open(&w, &c), 0);
    cr_assert_eq(cir_onair_store_put_init(w, "I", 1), 0);
    put_segment();
    put_segment();
    cr_assert_eq(cir_onair_store_put_part(w, "A", 1, media_t, TS, 1), 0);
    cir_onair_store_close(&w);

    media_t = 0; /* the new packager starts from 0 again */
    cir_clock_fixed_advance(&clk, 60000000);
    cr_assert_eq(cir_onair_store_open(&w, &c), 0);
    x = cir_live_writer_index(cir_onair_store_writer(w));
    cr_assert_eq(x->nb_segments, 0); /* the old segments left */
    cr_assert_eq(x->nb_parts, 0);
    cr_assert_eq(cir_onair_store_put_init(w, "I", 1), 0);
    cr_assert(exists("init-2.mp4"));
    put_segment();
    x = cir_live_writer_index(cir_onair_store_writer(w));
    cr_assert_eq(x->segments[0].msn, 3); /* after the open msn 2 */
    cr_assert_eq(x->segments[0].discontinuity, 1);
    cr_assert_eq(x->segments[0].init_id, 2);
    cr_assert(exists("seg-0.m4s"));
    /* the first publish's start stays (DASH availabilityStartTime); the
     * new run is anchored at the wall clock */
    cr_assert_eq(x->started_us, T0);
    cr_assert_eq(x->run_start, 0);
    cr_assert_eq(x->run_pdt_us, x->segments[0].pdt_us);
    cr_assert_eq(x->run_pdt_us, T0 + 8000000 + 60000000);
    cr_assert_eq(x->run_after_us, 0, "the old segments are not listed");
}

Test(live_store, nothing_is_published_before_the_target_duration)
{
    cir_live_writer_config_t c = config(6);
    cir_live_index_t disk;

    c.target_duration = 0; /* the stream's leader decides it later */
    media_t = 0;
    cr_assert_eq(cir_onair_store_open(&w, &c), 0);
    cr_assert_eq(cir_onair_store_put_init(w, "INIT", 4), 0);
    put_segment();
    cr_assert_not(exists("index"), "held back until the target is known");
    cr_assert(exists("seg-0.m4s"));
    cr_assert_eq(cir_onair_store_set_target_duration(w, 5), 0);
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.target_duration, 5);
    cr_assert_eq(disk.nb_segments, 1);
    cr_assert_eq(disk.part_target_us, 1000000);
    cir_live_index_free(&disk);
    /* it never changes */
    cr_assert_eq(cir_onair_store_set_target_duration(w, 5), 0);
    cr_assert_eq(cir_onair_store_set_target_duration(w, 6), CIR_EINVAL);
    cr_assert_eq(
        cir_live_writer_index(cir_onair_store_writer(w))->target_duration, 5);
}

/* The files the window lets go leave the folder: a segment's file a window
 * after the segment left the index, never one the index lists. */
Test(live_store, old_segment_files_leave_the_folder)
{
    const cir_live_index_t *x;
    char name[32];
    int i;

    start(3, "I", 1);
    for (i = 0; i < 12; i++) {
        put_segment();
    }
    x = cir_live_writer_index(cir_onair_store_writer(w));
    cr_assert_gt(x->segments[0].msn, 3);
    cr_assert_not(exists("seg-0.m4s"));
    for (i = 0; i < (int)x->nb_segments; i++) {
        snprintf(name, sizeof(name), "seg-%llu.m4s",
                 (unsigned long long)x->segments[i].msn);
        cr_assert(exists(name), "%s is listed", name);
    }
}
