/*
 * Superseded versions (transcoder/src/supersede.c): which version a
 * top-level manifest names, and the record a publish leaves on a local
 * output (the S3 tagging is tested on the rig: aws_publish.test.mjs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_storage.h"
#include "dir_fixture.h"
#include "supersede.h"

static char workdir[64];
static cir_log_ctx_t log_ctx = {.component = "test"};

static void
setup(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/cirrus-supersede-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(supersede, .init = setup, .fini = teardown);

static void
put(const char *rel, const char *text)
{
    char path[256], dir[256];

    snprintf(path, sizeof(path), "%s/%s", workdir, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    cr_assert_eq(cir_mkdir_p(dir, 0755), 0);
    cr_assert_eq(cir_write_file_atomic(path, text, strlen(text)), 0);
}

static cir_uri_t
root(void)
{
    cir_uri_t u;

    cr_assert_eq(cir_uri_parse(workdir, &u), 0);
    return u;
}

Test(supersede, parse_version_of_each_top_level_kind)
{
    char id[CIR_VERSION_ID_MAX];

    cr_assert_eq(
        cir_supersede_parse_version("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"
                                    "v/20261206T1Z-ab/720p/index.m3u8\n",
                                    id, sizeof(id)),
        1);
    cr_expect_str_eq(id, "20261206T1Z-ab");
    cr_assert_eq(cir_supersede_parse_version(
                     "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,URI=\"v/a_b-1/audio/"
                     "index.m3u8\"\n",
                     id, sizeof(id)),
                 1);
    cr_expect_str_eq(id, "a_b-1");
    cr_assert_eq(cir_supersede_parse_version(
                     "<MPD><BaseURL>v/X1/</BaseURL></MPD>", id, sizeof(id)),
                 1);
    cr_expect_str_eq(id, "X1");
    cr_assert_eq(cir_supersede_parse_version(
                     "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n"
                     "v/T9/thumbs/sprite-1.jpg#xywh=0,0,160,90\n",
                     id, sizeof(id)),
                 1);
    cr_expect_str_eq(id, "T9");
}

Test(supersede, parse_version_refuses_what_is_not_one)
{
    char id[CIR_VERSION_ID_MAX] = "untouched";

    /* a version's own manifests: relative URIs */
    cr_expect_eq(cir_supersede_parse_version("#EXTM3U\n720p/index.m3u8\n", id,
                                             sizeof(id)),
                 0);
    /* "v/" inside a name, no trailing slash, a bad character */
    cr_expect_eq(
        cir_supersede_parse_version("\nav/x/index.m3u8\n", id, sizeof(id)), 0);
    cr_expect_eq(cir_supersede_parse_version("\nv/abc", id, sizeof(id)), 0);
    cr_expect_eq(cir_supersede_parse_version("\nv/a.b/x\n", id, sizeof(id)), 0);
    cr_expect_eq(cir_supersede_parse_version("\nv//x\n", id, sizeof(id)), 0);
    /* longer than a version id */
    char big[200];
    memset(big, 'a', sizeof(big));
    memcpy(big, "\nv/", 3);
    big[150] = '/';
    big[151] = '\0';
    cr_expect_eq(cir_supersede_parse_version(big, id, sizeof(id)), 0);
}

Test(supersede, current_reads_the_first_top_level_manifest)
{
    cir_uri_t u = root();
    char id[CIR_VERSION_ID_MAX];

    cr_assert_eq(cir_supersede_current(&u, id, sizeof(id)), 0);
    cr_expect_str_eq(id, "", "no asset yet");
    put("thumbs.vtt", "WEBVTT\n\n00:00.000 --> 00:02.000\nv/T1/thumbs/"
                      "sprite-1.jpg#xywh=0,0,1,1\n");
    cr_assert_eq(cir_supersede_current(&u, id, sizeof(id)), 0);
    cr_expect_str_eq(id, "T1");
    put("master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"
                       "v/M2/r/index.m3u8\n");
    cr_assert_eq(cir_supersede_current(&u, id, sizeof(id)), 0);
    cr_expect_str_eq(id, "M2", "master.m3u8 first");
}

static int
exists(const char *rel)
{
    return exists_in(workdir, rel);
}

/* A local output: the record only (no lifecycle on a file system), never
 * for the version just published or when there was none. */
Test(supersede, a_local_output_gets_the_record)
{
    cir_uri_t u = root();
    cir_supersede_stats_t st;
    char *text = NULL, path[256];
    size_t len = 0;

    cr_assert_eq(cir_supersede_mark(&u, "", "V2", 0, NULL, &log_ctx, &st), 0);
    cr_assert_eq(cir_supersede_mark(&u, NULL, "V2", 0, NULL, &log_ctx, &st), 0);
    cr_assert_eq(cir_supersede_mark(&u, "V2", "V2", 0, NULL, &log_ctx, &st), 0);
    cr_expect(!exists(".superseded"));
    cr_assert_eq(cir_supersede_mark(&u, "V1", "V2", 0, NULL, &log_ctx, &st), 0);
    cr_expect_eq(st.failures, 0);
    snprintf(path, sizeof(path), "%s/.superseded/V1.json", workdir);
    cr_assert_eq(cir_read_file(path, 4096, &text, &len), 0);
    cr_expect_str_eq(text, "{\"version\":\"V1\",\"superseded_by\":\"V2\"}");
    free(text);
}
