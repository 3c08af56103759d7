/*
 * The live writer on a fixed clock in a scratch folder: files and index
 * appear together, segments are their parts, the window slides, parts age
 * out of the index, files are removed later, inits bring discontinuities,
 * finish ends the stream, a reopened folder resumes its numbering.
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
#include "cir_origin.h"

#define TS 90000
#define T0 INT64_C(1767225600000000)

static char dir[64];
static cir_clock_t clk;
static cir_live_writer_t *w;

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

    cir_live_writer_close(&w);
    snprintf(root, sizeof(root), "%.26s", dir);
    rm_rf(root);
}

static cir_live_writer_config_t
config(uint32_t window)
{
    cir_live_writer_config_t c = {0};

    c.dir = dir;
    snprintf(c.track.rendition, sizeof(c.track.rendition), "720p");
    snprintf(c.track.codecs, sizeof(c.track.codecs), "avc1.64001f");
    c.track.width = 1280;
    c.track.height = 720;
    c.track.frame_rate = 30;
    c.track.bandwidth = 3000000;
    c.timescale = TS;
    c.segment_target = 4 * TS;
    c.part_target = TS;
    c.part_target_us = 1000000;
    c.target_duration = 4;
    c.window = window;
    c.clock = &clk;
    return c;
}

static int
exists(const char *name)
{
    char p[256];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return stat(p, &st) == 0;
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

/* One 4 s segment of four 1 s parts; the clock follows the media. */
static void
put_segment(void)
{
    char part[32];
    int i;

    for (i = 0; i < 4; i++) {
        cir_clock_fixed_advance(&clk, 1000000);
        snprintf(part, sizeof(part), "P%lld.", (long long)(media_t / TS));
        cr_assert_eq(cir_live_writer_put_part(w, part, strlen(part), media_t,
                                              TS, i == 0),
                     0);
        media_t += TS;
    }
    cr_assert_eq(cir_live_writer_end_segment(w), 0);
}

TestSuite(live_writer, .init = setup, .fini = teardown);

Test(live_writer, parts_segments_and_index)
{
    cir_live_writer_config_t c = config(6);
    const cir_live_index_t *x;
    cir_live_index_t disk;
    size_t len;
    char *data;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert(exists("index"));
    /* no init yet: no media */
    cr_assert_eq(cir_live_writer_put_part(w, "x", 1, 0, TS, 1), CIR_EINVAL);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT", 4), 0);
    cr_assert(exists("init-1.mp4"));

    cir_clock_fixed_advance(&clk, 1500000);
    cr_assert_eq(cir_live_writer_put_part(w, "AB", 2, 0, TS, 1), 0);
    /* the part is appended to its segment file: no file of its own */
    data = slurp("seg-0.m4s", &len);
    cr_assert_eq(len, 2);
    cr_assert_eq(memcmp(data, "AB", 2), 0);
    free(data);
    cr_assert_not(exists("part-0.0.m4s"));
    x = cir_live_writer_index(w);
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
    cr_assert_eq(cir_live_writer_put_part(w, "CDE", 3, TS, TS, 0), 0);
    cr_assert_eq(cir_live_writer_end_segment(w), 0);
    cr_assert_eq(cir_live_writer_end_segment(w), CIR_EINVAL); /* none open */
    data = slurp("seg-0.m4s", &len);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(data, "ABCDE", 5), 0);
    free(data);
    x = cir_live_writer_index(w);
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

Test(live_writer, version_rises_on_every_write)
{
    cir_live_writer_config_t c = config(6);
    uint64_t v;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    v = cir_live_writer_index(w)->version;
    cr_assert_eq(cir_live_writer_put_init(w, "INIT", 4), 0);
    cr_assert_eq(cir_live_writer_index(w)->version, v + 1);
    cr_assert_eq(cir_live_writer_put_part(w, "A", 1, 0, TS, 1), 0);
    cr_assert_eq(cir_live_writer_index(w)->version, v + 2);
    cr_assert_eq(cir_live_writer_end_segment(w), 0);
    cr_assert_eq(cir_live_writer_index(w)->version, v + 3);
    /* the last part and the segment's end: one write */
    cr_assert_eq(cir_live_writer_put_part(w, "B", 1, TS, TS, 1), 0);
    cr_assert_eq(cir_live_writer_put_last_part(w, "CD", 2, 2 * TS, TS, 0), 0);
    cr_assert_eq(cir_live_writer_index(w)->version, v + 5);
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
    cr_assert_eq(cir_live_writer_end_segment(w), CIR_EINVAL); /* closed */
}

Test(live_writer, window_slides_and_parts_age_out)
{
    cir_live_writer_config_t c = config(6);
    const cir_live_index_t *x;
    uint64_t off;
    uint32_t size;
    int i;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT", 4), 0);
    for (i = 0; i < 4; i++) {
        put_segment();
    }
    /* TD 4 s: parts on the last three segments only, the hinted next one
     * counted: segments 0 and 1's left the playlist */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_parts, 0);
    cr_assert_eq(x->segments[1].nb_parts, 0);
    cr_assert_eq(x->segments[2].nb_parts, 4);
    put_segment(); /* 20 s */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_segments, 5);
    cr_assert_eq(x->segments[0].msn, 0);
    cr_assert_eq(x->segments[0].nb_parts, 0);
    cr_assert_eq(x->segments[2].nb_parts, 0);
    cr_assert_eq(x->segments[2].nb_kept, 4);
    cr_assert_eq(x->segments[3].nb_parts, 4);
    /* dropped parts stay fetchable for 3 x TD: their byte ranges stay */
    cr_assert_eq(x->segments[0].nb_kept, 4);
    cr_assert_eq(x->segments[1].first_part, 4);
    cr_assert_eq(x->segments[4].first_part, 16);
    cr_assert_eq(x->nb_parts, 20);
    cr_assert_eq(cir_live_index_part_range(x, 0, 3, &off, &size), 0);
    cr_assert_eq(off, 9); /* "P0.P1.P2." */
    cr_assert_eq(size, 3);

    put_segment(); /* 24 s: msn 0's records go (unlisted at 12 s) */
    put_segment();
    /* 28 s: 7 complete > window, and msn 0's part records went: msn 0
     * leaves; msn 1's went now too (unlisted at 16 s) */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_segments, 6);
    cr_assert_eq(x->segments[0].msn, 1);
    cr_assert(exists("seg-0.m4s")); /* one window more */
    cr_assert_eq(x->segments[0].nb_kept, 0);
    cr_assert_eq(cir_live_index_part_range(x, 1, 0, &off, &size),
                 CIR_ENOTFOUND);
    /* msn 2's parts left the playlist 8 s ago: ranges kept */
    cr_assert_eq(x->segments[1].nb_parts, 0);
    cr_assert_eq(x->segments[1].nb_kept, 4);
    cr_assert_eq(x->segments[1].first_part, 0);
    cr_assert_eq(cir_live_index_part_range(x, 2, 0, &off, &size), 0);
    put_segment();
    for (i = 0; i < 5; i++) {
        cr_assert(exists("seg-0.m4s"));
        put_segment();
    }
    /* 24 s (window x segment target) after seg 0 left */
    cr_assert_not(exists("seg-0.m4s"));
    cr_assert(exists("seg-1.m4s"));
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 7);
    cr_assert_eq(x->segments[5].msn, 12);
    cr_assert_eq(x->discontinuity_sequence, 0);
    /* PDT follows the media timeline from the anchor */
    cr_assert_eq(x->segments[1].pdt_us - x->segments[0].pdt_us, 4000000);
}

Test(live_writer, part_ranges_go_3_target_durations_after_the_parts)
{
    cir_live_writer_config_t c = config(10);
    const cir_live_index_t *x;
    uint64_t off;
    uint32_t size;
    int i;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT", 4), 0);
    for (i = 0; i < 3; i++) {
        put_segment();
    }
    /* 12 s: msn 0's parts leave the playlist (parts on the last three
     * segments only, the hinted next one counted) */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_parts, 0);
    cr_assert_eq(x->segments[0].nb_kept, 4);
    put_segment();
    put_segment(); /* 20 s: 8 s after, still servable */
    x = cir_live_writer_index(w);
    cr_assert_eq(cir_live_index_part_range(x, 0, 2, &off, &size), 0);
    cr_assert_eq(off, 6);
    cr_assert_eq(size, 3);
    put_segment(); /* 24 s: 12 s after, dropped at this segment's end */
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_kept, 0);
    cr_assert_eq(x->segments[1].nb_kept, 4);
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 0); /* still in the window */
    cr_assert_eq(x->segments[0].nb_kept, 0);
    cr_assert_eq(x->segments[0].first_part, 0);
    cr_assert_eq(cir_live_index_part_range(x, 0, 0, &off, &size),
                 CIR_ENOTFOUND);
    /* msn 1's (unlisted at 16 s) went at 28 s; msn 2 (unlisted at 20 s)
     * keeps its ranges */
    cr_assert_eq(x->segments[1].nb_kept, 0);
    cr_assert_eq(x->segments[2].nb_kept, 4);
    cr_assert_eq(x->segments[2].first_part, 0);
    cr_assert_eq(cir_live_index_part_range(x, 2, 1, &off, &size), 0);
    cr_assert_eq(off, 3);
    cr_assert(exists("seg-0.m4s"));
    {
        cir_live_index_t disk;
        cr_assert_eq(cir_live_index_load(dir, &disk), 0);
        cr_assert_eq(disk.nb_parts, x->nb_parts);
        cr_assert_eq(disk.segments[2].nb_kept, 4);
        cir_live_index_free(&disk);
    }
}

Test(live_writer, index_is_replaced_without_new_files)
{
    cir_live_writer_config_t c = config(6);
    ino_t seen[8];
    struct stat a, b;
    char p[256];
    int i;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT", 4), 0);
    put_segment();
    /* three files take turns as the index: a new version, another inode,
     * and the fourth version is on the first one again */
    snprintf(p, sizeof(p), "%s/index", dir);
    for (i = 0; i < 6; i++) {
        cr_assert_eq(stat(p, &a), 0);
        seen[i] = a.st_ino;
        cir_clock_fixed_advance(&clk, 1000000);
        cr_assert_eq(cir_live_writer_put_part(w, "Z", 1, media_t, TS, 1), 0);
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
        cr_assert_eq(disk.version, cir_live_writer_index(w)->version);
        cir_live_index_free(&disk);
    }
}

Test(live_writer, new_init_means_discontinuity)
{
    cir_live_writer_config_t c = config(3);
    const cir_live_index_t *x;
    int i;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT1", 5), 0);
    put_segment();
    put_segment();
    cr_assert_eq(cir_live_writer_put_init(w, "INIT2", 5), 0);
    cr_assert(exists("init-2.mp4"));
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->init_id, 2);
    cr_assert_eq(x->segments[1].init_id, 1);
    cr_assert_eq(x->segments[1].discontinuity, 0);
    cr_assert_eq(x->segments[2].init_id, 2);
    cr_assert_eq(x->segments[2].discontinuity, 1);
    /* an explicit discontinuity, with a timestamp jump */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    media_t += 100 * TS;
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[2].discontinuity, 1); /* msn 3 */
    cr_assert_eq(x->discontinuity_sequence, 0);
    /* msns 0-3 (2 and 3 flagged) leave once the window is full and their
     * part records went, 3 x TD after their parts left the playlist */
    for (i = 0; i < 5; i++) {
        put_segment();
    }
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 4);
    cr_assert_eq(x->discontinuity_sequence, 2);
}

Test(live_writer, run_anchor_outlives_its_segment)
{
    cir_live_writer_config_t c = config(3);
    const cir_live_index_t *x;
    cir_live_index_t disk;
    int64_t pdt2;
    int i;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->run_pdt_us, T0);
    cr_assert_eq(x->run_start, 0);
    cr_assert_eq(x->run_after_us, 0, "nothing before it");
    put_segment();
    /* a 6 s outage: the media goes on where it was, the wall clock not */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cir_clock_fixed_advance(&clk, 6000000);
    media_t += TS / 25;
    put_segment(); /* msn 2 */
    x = cir_live_writer_index(w);
    pdt2 = x->segments[2].pdt_us;
    cr_assert_eq(pdt2, T0 + 14000000); /* 8 s of media + 6 s away */
    cr_assert_eq(x->run_pdt_us, T0, "msn 0 is still listed");
    /* msn 0 and 1 leave (once their parts' records went, 3 x TD after
     * the parts left the playlist): msn 2 begins segments[0]'s run */
    for (i = 0; i < 16 && cir_live_writer_index(w)->segments[0].msn < 2; i++) {
        put_segment();
    }
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 2);
    cr_assert_eq(x->run_pdt_us, pdt2);
    cr_assert_eq(x->run_start, 8 * TS + TS / 25);
    /* where msn 1 ended: the outage lies between */
    cr_assert_eq(x->run_after_us, T0 + 8000000);
    for (i = 0; i < 16 && cir_live_writer_index(w)->segments[0].msn < 4; i++) {
        put_segment();
    }
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].msn, 4);
    cr_assert_eq(x->run_pdt_us, pdt2, "msn 2 left, its run goes on");
    cr_assert_eq(x->run_start, 8 * TS + TS / 25);
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.run_pdt_us, pdt2);
    cr_assert_eq(disk.run_start, 8 * TS + TS / 25);
    cr_assert_eq(disk.run_after_us, T0 + 8000000);
    cir_live_index_free(&disk);
}

Test(live_writer, pdt_never_steps_back)
{
    cir_live_writer_config_t c = config(3);
    const cir_live_index_t *x;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    put_segment(); /* pdt T0, ends at T0 + 4 s, the clock at T0 + 4 s */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    /* the next part, its media time gone back to 1 s, is here at once:
     * now - 1 s would be T0 + 3 s */
    cr_assert_eq(cir_live_writer_put_part(w, "A", 1, TS, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[1].discontinuity, 1);
    cr_assert_eq(x->segments[1].pdt_us, T0 + 4000000);
}

/* A publisher that bursts: its first part comes sooner than its duration
 * after the stream started; media time 0 stays at started_us. */
Test(live_writer, pdt_never_before_the_stream_start)
{
    cir_live_writer_config_t c = config(3);
    const cir_live_index_t *x;

    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    cir_clock_fixed_advance(&clk, 200000);
    cr_assert_eq(cir_live_writer_put_part(w, "A", 1, TS / 10, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].pdt_us, T0 + 100000);
    cr_assert_eq(x->run_pdt_us, T0 + 100000);
}

Test(live_writer, put_init_closes_an_open_segment)
{
    cir_live_writer_config_t c = config(3);
    const cir_live_index_t *x;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    cr_assert_eq(cir_live_writer_put_part(w, "A", 1, 0, TS, 1), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "J", 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].complete, 1);
    cr_assert(exists("seg-0.m4s"));
}

Test(live_writer, finish_ends_the_stream)
{
    cir_live_writer_config_t c = config(3);
    cir_live_index_t disk;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    put_segment();
    cr_assert_eq(cir_live_writer_put_part(w, "A", 1, media_t, TS, 1), 0);
    cr_assert_eq(cir_live_writer_finish(w), 0);
    cr_assert(exists("seg-1.m4s"));
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.ended, 1);
    cr_assert_eq(disk.nb_segments, 2);
    cr_assert_eq(disk.segments[1].complete, 1);
    cir_live_index_free(&disk);
    cr_assert_eq(cir_live_writer_put_part(w, "B", 1, media_t, TS, 1),
                 CIR_EINVAL);
}

Test(live_writer, reopen_resumes_numbering)
{
    cir_live_writer_config_t c = config(3);
    const cir_live_index_t *x;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    put_segment();
    put_segment();
    cr_assert_eq(cir_live_writer_put_part(w, "A", 1, media_t, TS, 1), 0);
    cir_live_writer_close(&w);

    media_t = 0; /* the new packager starts from 0 again */
    cir_clock_fixed_advance(&clk, 60000000);
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_segments, 0); /* the old segments left */
    cr_assert_eq(x->nb_parts, 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    cr_assert(exists("init-2.mp4"));
    put_segment();
    x = cir_live_writer_index(w);
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

Test(live_writer, rejects_bad_config_and_input)
{
    cir_live_writer_config_t c = config(2);

    cr_assert_eq(cir_live_writer_open(&w, &c), CIR_EINVAL); /* window < 3 */
    c = config(3);
    c.part_target = 5 * TS;
    cr_assert_eq(cir_live_writer_open(&w, &c), CIR_EINVAL);
    c = config(3);
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    cr_assert_eq(cir_live_writer_put_part(w, "A", 1, 0, 0, 1), CIR_EINVAL);
    cr_assert_eq(cir_live_writer_put_part(w, "A", 0, 0, TS, 1), CIR_EINVAL);
    cr_assert_eq(cir_live_writer_put_part(w, "A", 1, -5, TS, 1), CIR_EINVAL);
    cr_assert_eq(cir_live_writer_index(w)->nb_segments, 0);
}

Test(live_writer, nothing_is_published_before_the_target_duration)
{
    cir_live_writer_config_t c = config(6);
    cir_live_index_t disk;

    c.target_duration = 0; /* the stream's leader decides it later */
    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT", 4), 0);
    put_segment();
    cr_assert_not(exists("index"), "held back until the target is known");
    cr_assert(exists("seg-0.m4s"));
    cr_assert_eq(cir_live_writer_set_target_duration(w, 5), 0);
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.target_duration, 5);
    cr_assert_eq(disk.nb_segments, 1);
    cr_assert_eq(disk.part_target_us, 1000000);
    cir_live_index_free(&disk);
    /* it never changes */
    cr_assert_eq(cir_live_writer_set_target_duration(w, 5), 0);
    cr_assert_eq(cir_live_writer_set_target_duration(w, 6), CIR_EINVAL);
    cr_assert_eq(cir_live_writer_index(w)->target_duration, 5);
}

Test(live_writer, a_stream_ending_undecided_decides_from_its_segments)
{
    cir_live_writer_config_t c = config(6);
    cir_live_index_t disk;

    c.target_duration = 0;
    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT", 4), 0);
    put_segment();
    cr_assert_eq(cir_live_writer_finish(w), 0);
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert(disk.ended);
    cr_assert_eq(disk.target_duration, 4, "4 s segments");
    cir_live_index_free(&disk);
}

Test(live_writer, parts_leave_the_playlist_three_segments_from_the_end)
{
    cir_live_writer_config_t c = config(10);
    const cir_live_index_t *x;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT", 4), 0);
    put_segment();
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_parts, 4);
    /* the third segment ends: with the hinted fourth, msn 0 is the fourth
     * segment from the end */
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[0].nb_parts, 0);
    cr_assert_eq(x->segments[0].nb_kept, 4, "still servable");
    cr_assert_eq(x->segments[1].nb_parts, 4);
    /* the first part of msn 3 replaces the hint: msn 1 stays */
    cr_assert_eq(cir_live_writer_put_part(w, "Q", 1, media_t, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[1].nb_parts, 4);
    for (size_t i = 0; i < x->nb_segments; i++) {
        cr_assert_eq(x->segments[i].nb_parts > 0,
                     cir_live_parts_listed(x, i) != 0, "segment %zu", i);
    }
}

/* One part of d seconds' media at start (seconds) into writer x. */
static void
put_at(cir_live_writer_t *x, uint32_t ts, double start, double d, int last)
{
    int64_t s = (int64_t)(start * ts + 0.5), n = (int64_t)(d * ts + 0.5);

    cr_assert_eq((last ? cir_live_writer_put_last_part
                       : cir_live_writer_put_part)(x, "P", 1, s, n, 1),
                 0);
}

/*
 * Two renditions of one stream (90 kHz video, 48 kHz audio) that write at
 * different moments take the stream's anchor: the same PDT at the same
 * media time, before and after a discontinuity (RFC 8216bis 6.2.4); the
 * one opened late starts with the stream (started_us); PDT still never
 * steps back.
 */
Test(live_writer, the_stream_anchor_is_every_renditions_pdt)
{
    cir_live_writer_config_t c = config(3), ca = config(3);
    cir_live_writer_t *a = NULL;
    const cir_live_index_t *x, *y;
    char adir[64];

    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "I", 1), 0);
    /* the audio opens 300 ms later, its first part 250 ms after the
     * video's: each would anchor at its own moment */
    cir_clock_fixed_advance(&clk, 300000);
    snprintf(adir, sizeof(adir), "%.*s/audio", (int)strlen(dir) - 5, dir);
    ca.dir = adir;
    ca.timescale = 48000;
    ca.segment_target = 4 * 48000;
    ca.part_target = 48000;
    cr_assert_eq(cir_live_writer_open(&a, &ca), 0);
    cr_assert_eq(cir_live_writer_put_init(a, "I", 1), 0);
    /* media time 0 was captured at T0 + 100 ms */
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 100000, 0), 0);
    cr_assert_eq(cir_live_writer_set_anchor(a, T0 + 100000, 0), 0);
    cr_assert_eq(cir_live_writer_index(a)->started_us, T0 + 100000,
                 "the late rendition starts with the stream");
    cr_assert_eq(cir_live_writer_index(w)->started_us, T0);
    cir_clock_fixed_set(&clk, T0 + 1100000);
    put_at(w, TS, 0, 1, 0);
    cir_clock_fixed_set(&clk, T0 + 1350000);
    put_at(a, 48000, 0, 1, 0);
    cir_clock_fixed_set(&clk, T0 + 4100000);
    put_at(w, TS, 1, 3, 1);
    put_at(a, 48000, 1, 3, 1);
    /* a reconnect 6 s later: the new timeline just after the old one in
     * media time, its first sample captured at T0 + 10.2 s; the audio's
     * first sample 20 ms before the video's, both written late */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_discontinuity(a), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 10200000, 4060000), 0);
    cr_assert_eq(cir_live_writer_set_anchor(a, T0 + 10200000, 4060000), 0);
    cir_clock_fixed_set(&clk, T0 + 11900000);
    put_at(w, TS, 4.06, 1, 0);
    cir_clock_fixed_set(&clk, T0 + 12300000);
    put_at(a, 48000, 4.04, 1, 0);
    x = cir_live_writer_index(w);
    y = cir_live_writer_index(a);
    cr_assert_eq(x->nb_segments, 2);
    cr_assert_eq(y->nb_segments, 2);
    cr_assert_eq(x->segments[0].pdt_us, T0 + 100000);
    cr_assert_eq(y->segments[0].pdt_us, T0 + 100000);
    cr_assert_eq(x->run_pdt_us, T0 + 100000);
    cr_assert_eq(y->run_pdt_us, T0 + 100000);
    cr_assert_eq(x->segments[1].discontinuity, 1);
    cr_assert_eq(y->segments[1].discontinuity, 1);
    cr_assert_eq(x->segments[1].pdt_us, T0 + 10200000);
    cr_assert_eq(y->segments[1].pdt_us, T0 + 10180000);
    /* an anchor that would step PDT back moves to the end before it */
    cr_assert_eq(cir_live_writer_end_segment(w), 0);
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 2000000, 5060000), 0);
    put_at(w, TS, 5.06, 1, 0);
    cr_assert_eq(x->segments[2].pdt_us, T0 + 11200000);
    cir_live_writer_close(&a);
}

/* A GAP segment: its number, no file, no parts, complete; none while one
 * is open; rendered as EXT-X-GAP and left out of the MPD's timeline at the
 * end of its Period; the window slides over it like any other. */
Test(live_writer, a_gap_segment_takes_a_number_without_a_file)
{
    cir_live_writer_config_t c = config(3);
    cir_hls_directives_t d = {0};
    cir_dash_live_config_t dc = {.utc_timing_url = "/time",
                                 .now_us = T0 + 30000000};
    const cir_live_index_t *x, *tracks[1];
    const cir_live_segment_t *s;
    cir_buf_t out;
    int i;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_gap_segment(w, 0, TS), CIR_EINVAL,
                 "not before an init");
    cr_assert_eq(cir_live_writer_put_init(w, "INIT1", 5), 0);
    put_segment();
    cr_assert_eq(cir_live_writer_put_part(w, "P", 1, media_t, TS, 1), 0);
    cr_assert_eq(cir_live_writer_put_gap_segment(w, media_t + TS, TS),
                 CIR_EINVAL, "not while a segment is open");
    cr_assert_eq(cir_live_writer_end_segment(w), 0);
    media_t += TS;
    cr_assert_eq(cir_live_writer_put_gap_segment(w, media_t, 0), CIR_EINVAL);
    cr_assert_eq(cir_live_writer_put_gap_segment(w, media_t, 3 * TS), 0);
    media_t += 3 * TS;
    x = cir_live_writer_index(w);
    s = &x->segments[x->nb_segments - 1];
    cr_assert_eq(s->msn, 2);
    cr_assert(s->gap && s->complete);
    cr_assert_eq(s->nb_parts, 0);
    cr_assert_eq(s->duration, 3 * TS);
    cr_assert_eq(s->size, 0);
    cr_assert(!exists("seg-2.m4s"));
    /* what the origin makes of it */
    cir_buf_init(&out, 1 << 20);
    cr_assert_eq(cir_hls_render_live_media(x, &d, NULL, 0, &out), 0);
    cr_assert_not_null(strstr(out.data, "#EXT-X-GAP\n#EXTINF:3.00000,\n"
                                        "seg-2.m4s\n"),
                       "%s", out.data);
    cir_buf_reset(&out);
    tracks[0] = x;
    cr_assert_eq(cir_dash_render_live(tracks, 1, &dc, &out), 0);
    cr_assert_null(strstr(out.data, "d=\"270000\""), "%s", out.data);
    cir_buf_free(&out);
    /* the next segment follows it; the window slides over it */
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[x->nb_segments - 1].msn, 3);
    for (i = 0; i < 4; i++) {
        put_segment();
    }
    x = cir_live_writer_index(w);
    cr_assert_gt(x->segments[0].msn, 2);
}

/*
 * A publisher's outage: after the discontinuity and the new timeline's
 * anchor, fill_outage lists the wall-clock time the media skipped as GAP
 * segments, published with the next segment's first part (none longer
 * than a segment, on the new run's media clock just before its anchor,
 * the first with the discontinuity), so the playlist's timeline stays in
 * step with the wall clock; that segment is at its own PDT; the MPD leaves them
 * out (the outage is the gap at the start of the new Period, which starts where
 * the old one ended); without a pending discontinuity, or with nothing to fill,
 * it does nothing; a count over the window fills the newest window's worth.
 */
Test(live_writer, an_outage_is_filled_with_gap_segments)
{
    cir_live_writer_config_t c = config(4);
    cir_hls_directives_t d = {0};
    cir_dash_live_config_t dc = {.utc_timing_url = "/time",
                                 .now_us = T0 + 22000000};
    const cir_live_index_t *x, *tracks[1];
    cir_buf_t out;
    uint64_t version;
    char pdt[40], want[256];

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT1", 5), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0, 0), 0);
    put_segment();
    put_segment();
    cr_assert_eq(cir_live_writer_fill_outage(w, 3, 9000000), 0);
    put_segment();
    x = cir_live_writer_index(w);
    cr_assert_eq(x->nb_segments, 3, "no discontinuity pending: no gap");

    /* gone at 12 s, back 9 s later: media time 12 s captured at T0 + 21 s */
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 21000000, 12000000), 0);
    cr_assert_eq(cir_live_writer_fill_outage(w, 3, 9000000), 0);
    cr_assert_eq(x->nb_segments, 3, "the gaps come with the media");
    version = x->version;
    /* the media resumes at its own PDT, where the gaps end, published
     * with them */
    cir_clock_fixed_set(&clk, T0 + 22000000);
    media_t = 12 * TS;
    cr_assert_eq(cir_live_writer_put_part(w, "P", 1, media_t, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->version, version + 1, "one index write");
    cr_assert_eq(x->nb_segments, 7);
    for (int i = 0; i < 3; i++) {
        const cir_live_segment_t *s = &x->segments[3 + i];
        cr_assert_eq(s->msn, (uint64_t)(3 + i));
        cr_assert(s->gap && s->complete);
        cr_assert_eq(s->nb_parts, 0);
        cr_assert_eq(s->discontinuity, i == 0);
        cr_assert_eq(s->duration, 3 * TS);
        cr_assert_eq(s->start, (3 + 3 * i) * TS);
        cr_assert_eq(s->pdt_us, T0 + 12000000 + 3000000 * i, "gap %d at %lld",
                     i, (long long)(s->pdt_us - T0));
        cr_assert(!exists("seg-3.m4s"));
    }
    cr_assert_eq(x->segments[6].msn, 6);
    cr_assert_eq(x->segments[6].pdt_us, T0 + 21000000);
    cr_assert_eq(x->segments[6].discontinuity, 0);

    cir_buf_init(&out, 1 << 20);
    cr_assert_eq(cir_hls_render_live_media(x, &d, NULL, 0, &out), 0);
    cr_assert_eq(cir_clock_format_iso8601(T0 + 12000000, pdt, sizeof(pdt)), 0);
    snprintf(want, sizeof(want),
             "seg-2.m4s\n#EXT-X-DISCONTINUITY\n"
             "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXT-X-GAP\n#EXTINF:3.00000,\n"
             "seg-3.m4s\n",
             pdt);
    cr_assert_not_null(strstr(out.data, want), "%s", out.data);
    cr_assert_not_null(strstr(out.data, "#EXT-X-GAP\n#EXTINF:3.00000,\n"
                                        "seg-5.m4s\n"),
                       "%s", out.data);
    /* DASH: the new Period starts where the old one ended (12 s), its
     * media at 21 s; the gaps are not listed */
    cir_buf_reset(&out);
    tracks[0] = x;
    cr_assert_eq(cir_dash_render_live(tracks, 1, &dc, &out), 0);
    cr_assert_not_null(strstr(out.data, "start=\"PT12S\""), "%s", out.data);
    cr_assert_not_null(strstr(out.data, "startNumber=\"6\" "
                                        "presentationTimeOffset=\"270000\""),
                       "%s", out.data);
    cr_assert_not_null(strstr(out.data, "<S t=\"1080000\""), "%s", out.data);
    cr_assert_null(strstr(out.data, "<S t=\"270000\""), "%s", out.data);
    cir_buf_free(&out);

    /* a count over the window: the newest window's worth (4 x 4 s) */
    cr_assert_eq(cir_live_writer_end_segment(w), 0);
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_writer_set_anchor(w, T0 + 100000000, 40000000), 0);
    cr_assert_eq(cir_live_writer_fill_outage(w, 20, 78000000), 0);
    cr_assert_eq(cir_live_writer_put_part(w, "P", 1, 40 * TS, TS, 1), 0);
    x = cir_live_writer_index(w);
    cr_assert_eq(x->segments[x->nb_segments - 1].msn, 11);
    for (int i = 2; i <= 5; i++) {
        const cir_live_segment_t *s = &x->segments[x->nb_segments - i];
        cr_assert(s->gap);
        cr_assert_eq(s->duration, 4 * TS);
        cr_assert_eq(s->start, (40 - 4 * (i - 1)) * TS);
    }
}

/* Paused between timelines (a break): no part is hinted, in memory and
 * in the index on disk, until the next media segment opens. */
Test(live_writer, a_paused_writer_hints_no_part)
{
    cir_live_writer_config_t c = config(4);
    cir_hls_directives_t d = {0};
    cir_live_index_t disk;
    cir_buf_t out;

    media_t = 0;
    cr_assert_eq(cir_live_writer_open(&w, &c), 0);
    cr_assert_eq(cir_live_writer_put_init(w, "INIT1", 5), 0);
    put_segment();
    cir_buf_init(&out, 1 << 20);
    cr_assert_eq(
        cir_hls_render_live_media(cir_live_writer_index(w), &d, NULL, 0, &out),
        0);
    cr_assert_not_null(
        strstr(out.data, "PRELOAD-HINT:TYPE=PART,URI=\"part-1.0"), "%s",
        out.data);
    cr_assert_eq(cir_live_writer_put_part(w, "P", 1, media_t, TS, 1), 0);
    media_t += TS;
    cir_live_writer_pause(w);
    cr_assert_eq(cir_live_writer_end_segment(w), 0);
    cr_assert_eq(cir_live_writer_discontinuity(w), 0);
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.paused, 1);
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_media(&disk, &d, NULL, 0, &out), 0);
    cr_assert_null(strstr(out.data, "PRELOAD-HINT"), "%s", out.data);
    cir_live_index_free(&disk);
    cr_assert_eq(cir_live_writer_put_part(w, "P", 1, media_t, TS, 1), 0);
    cr_assert_eq(cir_live_index_load(dir, &disk), 0);
    cr_assert_eq(disk.paused, 0);
    cir_buf_reset(&out);
    cr_assert_eq(cir_hls_render_live_media(&disk, &d, NULL, 0, &out), 0);
    cr_assert_not_null(
        strstr(out.data, "PRELOAD-HINT:TYPE=PART,URI=\"part-2.1"), "%s",
        out.data);
    cir_live_index_free(&disk);
    cir_buf_free(&out);
}
