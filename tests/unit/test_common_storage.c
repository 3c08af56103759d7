/* common/src/storage.c: content types, the backend registry and the
 * file:// store (put_new's create-once included). */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "dir_fixture.h"

Test(common_storage, content_types)
{
    cr_assert_str_eq(cir_content_type("master.m3u8"),
                     "application/vnd.apple.mpegurl");
    cr_assert_str_eq(cir_content_type("manifest.mpd"), "application/dash+xml");
    cr_assert_str_eq(cir_content_type("720p/init.mp4"), "video/mp4");
    cr_assert_str_eq(cir_content_type("720p/00001.m4s"), "video/iso.segment");
    cr_assert_str_eq(cir_content_type("thumbs/poster.jpg"), "image/jpeg");
    cr_assert_str_eq(cir_content_type("x.JPG"), "image/jpeg");
    cr_assert_str_eq(cir_content_type("i/640.webp"), "image/webp");
    cr_assert_str_eq(cir_content_type("a.png"), "image/png");
    cr_assert_str_eq(cir_content_type("thumbs/thumbs.vtt"), "text/vtt");
    cr_assert_str_eq(cir_content_type("result.json"), "application/json");
    cr_assert_str_eq(cir_content_type("README"), "application/octet-stream");
    cr_assert_str_eq(cir_content_type("a.m3u8/file"),
                     "application/octet-stream");
    cr_assert_str_eq(cir_content_type("a.exe"), "application/octet-stream");
}

Test(common_storage, file_store_put_exists_remove)
{
    char dir[] = "/tmp/cir-store-XXXXXX", root[256], path[512];
    cir_store_t *store = NULL;
    cir_uri_t uri;
    char *data = NULL;
    size_t len = 0;
    struct stat st;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(root, sizeof(root), "file://%s/asset/1", dir);
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    snprintf(path, sizeof(path), "%s/asset/1", dir);
    cr_assert_eq(stat(path, &st), 0, "root created on open");
    cr_assert(S_ISDIR(st.st_mode));

    cr_assert_eq(cir_store_exists(store, "720p/init.mp4"), 0);
    cr_assert_eq(cir_store_put(store, "720p/init.mp4", "first", 5, NULL), 0);
    cr_assert_eq(cir_store_exists(store, "720p/init.mp4"), 1);
    cr_assert_eq(cir_store_put(store, "720p/init.mp4", "second!", 7, NULL), 0);
    snprintf(path, sizeof(path), "%s/asset/1/720p/init.mp4", dir);
    cr_assert_eq(cir_read_file(path, 100, &data, &len), 0);
    cr_assert_eq(len, 7);
    cr_assert_str_eq(data, "second!");
    free(data);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644, "readable by the web server");
    /* no temporary file left behind */
    snprintf(path, sizeof(path), "%s/asset/1/720p", dir);
    cr_assert_eq(count_entries(path), 1);

    cr_assert_eq(cir_store_put(store, "empty.json", "", 0, NULL), 0);
    cr_assert_eq(cir_store_exists(store, "empty.json"), 1);
    cr_assert_eq(cir_store_exists(store, "720p"), 0, "a folder is no object");

    cr_assert_eq(cir_store_put(store, "../escape", "x", 1, NULL), CIR_EINVAL);
    cr_assert_eq(cir_store_put(store, "/etc/x", "x", 1, NULL), CIR_EINVAL);
    cr_assert_eq(cir_store_exists(store, "a/../../b"), CIR_EINVAL);
    cr_assert_eq(cir_store_remove(store, ".."), CIR_EINVAL);
    snprintf(path, sizeof(path), "%s/escape", dir);
    cr_assert_neq(access(path, F_OK), 0);

    cr_assert_eq(cir_store_remove(store, "720p/init.mp4"), 0);
    cr_assert_eq(cir_store_exists(store, "720p/init.mp4"), 0);
    cr_assert_eq(cir_store_remove(store, "720p/init.mp4"), 0,
                 "removing a missing object succeeds");
    cir_store_close(&store);
    cr_assert_null(store);
    cir_store_close(&store);
}

Test(common_storage, file_store_get_reads_back_what_was_put)
{
    char dir[] = "/tmp/cir-get-XXXXXX", root[256];
    cir_store_t *store = NULL;
    cir_uri_t uri;
    char *data = NULL;
    size_t len = 7;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(root, sizeof(root), "file://%s/asset", dir);
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cr_assert_eq(cir_store_get(store, "a/b.json", 100, &data, &len),
                 CIR_ENOTFOUND);
    cr_assert_null(data);
    cr_assert_eq(len, 0);
    cr_assert_eq(cir_store_put(store, "a/b.json", "{\"v\":1}", 7, NULL), 0);
    cr_assert_eq(cir_store_get(store, "a/b.json", 100, &data, &len), 0);
    cr_assert_eq(len, 7);
    cr_assert_str_eq(data, "{\"v\":1}");
    free(data);
    cr_assert_eq(cir_store_get(store, "a/b.json", 6, &data, &len), CIR_ELIMIT);
    cr_assert_null(data);
    cr_assert_eq(cir_store_put(store, "empty", "", 0, NULL), 0);
    cr_assert_eq(cir_store_get(store, "empty", 100, &data, &len), 0);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(data, "");
    free(data);
    cr_assert_eq(cir_store_get(store, "../x", 100, &data, &len), CIR_EINVAL);
    cir_store_close(&store);
}

static int
count_listed(void *opaque, const char *rel, int is_folder)
{
    (void)rel;
    *(int *)opaque += !is_folder;
    return 0;
}

/* put_new creates once: the second writer of a name gets -EEXIST and the
 * first one's content stays; the file store lists in no order, so
 * list_after is not offered there. */
Test(common_storage, file_store_put_new_creates_once)
{
    char dir[] = "/tmp/cir-put-new-XXXXXX", root[256];
    cir_store_t *store = NULL;
    cir_uri_t uri;
    char *data = NULL;
    size_t len = 0;
    int listed = 0;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(root, sizeof(root), "file://%s/state", dir);
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cr_assert_eq(cir_store_put_new(store, "keys/k.json", "first", 5), 0);
    cr_assert_eq(cir_store_put_new(store, "keys/k.json", "second", 6), -EEXIST);
    cr_assert_eq(cir_store_get(store, "keys/k.json", 100, &data, &len), 0);
    cr_assert_str_eq(data, "first");
    free(data);
    cr_assert_eq(cir_store_list(store, "keys", count_listed, &listed), 0);
    cr_assert_eq(listed, 1, "no temporary file is left beside it");
    cr_assert_eq(cir_store_put_new(store, "../k", "x", 1), CIR_EINVAL);
    cr_assert_eq(cir_store_list_after(store, "keys", "", count_listed, &listed),
                 CIR_EUNSUPPORTED);
    cir_store_close(&store);
    snprintf(root, sizeof(root), "rm -rf '%s'", dir);
    cr_assert_eq(system(root), 0);
}

/* An asset's folder goes whole: objects, nested and empty folders; a
 * symbolic link inside is removed as a link (its target stays), a link as
 * the folder itself is refused, and unsafe paths are refused. */
Test(common_storage, remove_tree_removes_a_folder_and_follows_no_link)
{
    char dir[] = "/tmp/cir-tree-XXXXXX", root[256], path[600], other[600];
    cir_store_t *store = NULL;
    cir_uri_t uri;
    size_t removed = 9;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(root, sizeof(root), "file://%s/vod", dir);
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cr_assert_eq(cir_store_put(store, "talk/master.m3u8", "m", 1, NULL), 0);
    cr_assert_eq(cir_store_put(store, "talk/v/1/720p/a.m4s", "a", 1, NULL), 0);
    cr_assert_eq(cir_store_put(store, "talk/v/1/720p/b.m4s", "b", 1, NULL), 0);
    cr_assert_eq(cir_store_put(store, "other/master.m3u8", "o", 1, NULL), 0);
    snprintf(path, sizeof(path), "%s/vod/talk/empty", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    /* a link to another asset's file and one to a folder outside */
    snprintf(other, sizeof(other), "%s/vod/other/master.m3u8", dir);
    snprintf(path, sizeof(path), "%s/vod/talk/v/link.m3u8", dir);
    cr_assert_eq(symlink(other, path), 0);
    snprintf(path, sizeof(path), "%s/vod/talk/v/outside", dir);
    cr_assert_eq(symlink(dir, path), 0);

    cr_assert_eq(cir_store_remove_tree(store, "../vod", &removed), CIR_EINVAL);
    cr_assert_eq(cir_store_remove_tree(store, "/etc", &removed), CIR_EINVAL);
    cr_assert_eq(cir_store_remove_tree(store, "talk", &removed), 0);
    cr_assert_eq(removed, 5, "3 files and 2 links, not %zu", removed);
    snprintf(path, sizeof(path), "%s/vod/talk", dir);
    cr_assert_neq(access(path, F_OK), 0, "the folder is gone");
    cr_assert_eq(access(other, F_OK), 0, "a link's target stays");
    cr_assert_eq(access(dir, F_OK), 0);
    cr_assert_eq(cir_store_remove_tree(store, "talk", &removed), CIR_ENOTFOUND);
    cr_assert_eq(removed, 0);

    /* the asset folder itself a link: refused, nothing removed */
    snprintf(path, sizeof(path), "%s/vod/linked", dir);
    snprintf(other, sizeof(other), "%s/vod/other", dir);
    cr_assert_eq(symlink(other, path), 0);
    cr_assert_eq(cir_store_remove_tree(store, "linked", &removed), CIR_EINVAL);
    cr_assert_eq(cir_store_exists(store, "other/master.m3u8"), 1);
    cr_assert_eq(cir_store_remove_tree(store, "other/master.m3u8", &removed),
                 CIR_EINVAL, "a file is no folder");
    cir_store_close(&store);
}

/* A failed job's version: every object it wrote goes, then the folders
 * left empty and the root; a file it did not write (and so its folder)
 * stays, and a store that does not track undoes nothing */
Test(common_storage, undo_removes_what_the_store_wrote_and_empty_folders)
{
    char dir[] = "/tmp/cir-undo-XXXXXX", root[256], path[400];
    cir_store_t *store = NULL;
    struct stat st;
    size_t removed = 9;
    cir_uri_t uri;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(root, sizeof(root), "file://%s/v/1", dir);
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cr_assert_eq(cir_store_put(store, "untracked.txt", "u", 1, NULL), 0);
    cir_store_track_writes(store);
    cr_assert_eq(cir_store_put(store, "360p/init.mp4", "i", 1, NULL), 0);
    cr_assert_eq(cir_store_put(store, "360p/seg-1.m4s", "s", 1, NULL), 0);
    cr_assert_eq(cir_store_put(store, "360p/index.m3u8", "1", 1, NULL), 0);
    cr_assert_eq(cir_store_put(store, "360p/index.m3u8", "2", 1, NULL), 0);
    cr_assert_eq(cir_store_put(store, "thumbs/a/b/t.jpg", "t", 1, NULL), 0);
    cr_assert_eq(cir_store_written(store), 4, "a rewrite is one entry");
    cr_assert_eq(cir_store_undo_writes(store, &removed), 0);
    cr_expect_eq(removed, 4);
    cr_expect_eq(cir_store_written(store), 0);
    snprintf(path, sizeof(path), "%s/v/1/360p", dir);
    cr_expect_neq(stat(path, &st), 0, "360p/ is gone");
    snprintf(path, sizeof(path), "%s/v/1/thumbs", dir);
    cr_expect_neq(stat(path, &st), 0, "thumbs/a/b/ and its parents are gone");
    snprintf(path, sizeof(path), "%s/v/1/untracked.txt", dir);
    cr_expect_eq(stat(path, &st), 0, "what it did not write stays");
    cir_store_close(&store);

    /* nothing left in it: the root goes too; the folder above stays */
    snprintf(path, sizeof(path), "%s/v/1/untracked.txt", dir);
    unlink(path);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cir_store_track_writes(store);
    cr_assert_eq(cir_store_put(store, "x/y.m4s", "y", 1, NULL), 0);
    cr_assert_eq(cir_store_undo_writes(store, &removed), 0);
    cr_expect_eq(removed, 1);
    snprintf(path, sizeof(path), "%s/v/1", dir);
    cr_expect_neq(stat(path, &st), 0, "the root is gone");
    snprintf(path, sizeof(path), "%s/v", dir);
    cr_expect_eq(stat(path, &st), 0, "its parent stays");
    cir_store_close(&store);

    /* not tracking: nothing to undo */
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cr_assert_eq(cir_store_put(store, "kept.m4s", "k", 1, NULL), 0);
    cr_assert_eq(cir_store_undo_writes(store, &removed), 0);
    cr_expect_eq(removed, 0);
    snprintf(path, sizeof(path), "%s/v/1/kept.m4s", dir);
    cr_expect_eq(stat(path, &st), 0);
    cir_store_close(&store);
    unlink(path);
    snprintf(path, sizeof(path), "%s/v/1", dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/v", dir);
    rmdir(path);
    rmdir(dir);
}

Test(common_storage, file_store_on_a_file_fails)
{
    char dir[] = "/tmp/cir-store-XXXXXX", path[256];
    cir_store_t *store = NULL;
    cir_uri_t uri;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    cr_assert_eq(cir_write_file_atomic(path, "x", 1), 0);
    snprintf(path, sizeof(path), "%s/f/sub", dir);
    cr_assert_eq(cir_uri_parse(path, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), -ENOTDIR);
    cr_assert_null(store);
}

typedef struct {
    int count;
    char line[1024];
} capture_t;

static void
sink(void *opaque, cir_log_level_t level, const char *line)
{
    capture_t *c = opaque;

    c->count++;
    snprintf(c->line, sizeof(c->line), "%s", line);
}

Test(common_storage, s3_without_a_backend_is_unsupported)
{
    cir_store_t *store = NULL;
    capture_t c = {0};
    cir_uri_t uri;

    cir_log_set_sink(sink, &c);
    cr_assert_eq(cir_uri_parse("s3://bucket/prefix", &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), CIR_EUNSUPPORTED);
    cr_assert_null(store);
    cr_assert_eq(c.count, 1);
    cr_assert_not_null(strstr(c.line, "s3:// output needs the S3 backend"),
                       "%s", c.line);
    cir_log_set_sink(NULL, NULL);
}

/* A fake S3 backend: records what the store passes on. */
static struct {
    char bucket[64], prefix[CIR_URI_MAX], rel[256], type[64], cc[128];
    size_t len;
    int closed;
} fake;

static int
fake_open(void **state, const cir_uri_t *root)
{
    snprintf(fake.bucket, sizeof(fake.bucket), "%s", root->bucket);
    snprintf(fake.prefix, sizeof(fake.prefix), "%s", root->path);
    *state = &fake;
    return 0;
}

static int
fake_put(void *state, const char *rel, const void *data, size_t len,
         const char *content_type, const char *cache_control)
{
    snprintf(fake.rel, sizeof(fake.rel), "%s", rel);
    snprintf(fake.type, sizeof(fake.type), "%s", content_type);
    snprintf(fake.cc, sizeof(fake.cc), "%s",
             cache_control != NULL ? cache_control : "(none)");
    fake.len = len;
    return 0;
}

static int
fake_exists(void *state, const char *rel)
{
    return strcmp(rel, fake.rel) == 0;
}

static int
fake_remove(void *state, const char *rel)
{
    return CIR_EIO;
}

static void
fake_close(void *state)
{
    fake.closed = 1;
}

static const cir_store_backend_t fake_backend = {.scheme = CIR_URI_S3,
                                                 .open = fake_open,
                                                 .put = fake_put,
                                                 .exists = fake_exists,
                                                 .remove = fake_remove,
                                                 .close = fake_close};

Test(common_storage, registered_backend_gets_type_and_cache_control)
{
    cir_store_backend_t incomplete = {.scheme = CIR_URI_S3};
    cir_store_t *store = NULL;
    cir_uri_t uri;

    cr_assert_eq(cir_store_register_backend(&incomplete), CIR_EINVAL);
    cr_assert_eq(cir_store_register_backend(&fake_backend), 0);
    cr_assert_eq(cir_store_register_backend(&fake_backend), 0,
                 "re-registering replaces");
    cr_assert_eq(cir_uri_parse("s3://media-out/assets/42", &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cr_assert_str_eq(fake.bucket, "media-out");
    cr_assert_str_eq(fake.prefix, "assets/42");
    cr_assert_eq(cir_store_put(store, "master.m3u8", "#EXTM3U\n", 8, NULL), 0);
    cr_assert_str_eq(fake.rel, "master.m3u8");
    cr_assert_str_eq(fake.type, "application/vnd.apple.mpegurl");
    cr_assert_str_eq(fake.cc, "(none)", "no options: no Cache-Control");
    cr_assert_eq(fake.len, 8);
    cr_assert_eq(cir_store_exists(store, "master.m3u8"), 1);
    cr_assert_eq(cir_store_remove(store, "master.m3u8"), CIR_EIO);
    cr_assert_eq(cir_store_put(store, "a/../b", "x", 1, NULL), CIR_EINVAL);
    cr_assert_str_eq(fake.rel, "master.m3u8", "unsafe path never reached it");
    cir_store_close(&store);
    cr_assert_eq(fake.closed, 1);
}

/* The store has no cache policy: it sends exactly what its caller gives,
 * whatever the name, and nothing when the caller gives nothing. */
Test(common_storage, backend_gets_exactly_the_callers_cache_control)
{
    static const struct {
        const char *rel, *given, *sent;
    } cases[] = {
        {"master.m3u8", "public, max-age=60", "public, max-age=60"},
        {"master.m3u8", "no-store", "no-store"},
        {"720p/seg-1.m4s", "private, max-age=5", "private, max-age=5"},
        {"720p/init.mp4", "public, max-age=1209600, immutable",
         "public, max-age=1209600, immutable"},
        {"thumbs/thumbs.vtt", "x-anything; at all", "x-anything; at all"},
        {"job.json", "", "(none)"},
        {"720p/index.m3u8", NULL, "(none)"},
    };
    cir_store_t *store = NULL;
    cir_uri_t uri;

    cr_assert_eq(cir_store_register_backend(&fake_backend), 0);
    cr_assert_eq(cir_uri_parse("s3://media-out/assets/43", &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cir_store_put_opts_t o = {.cache_control = cases[i].given};
        cr_assert_eq(cir_store_put(store, cases[i].rel, "x", 1, &o), 0);
        cr_expect_str_eq(fake.rel, cases[i].rel);
        cr_expect_str_eq(fake.cc, cases[i].sent, "%s given \"%s\"",
                         cases[i].rel,
                         cases[i].given ? cases[i].given : "NULL");
    }
    cir_store_close(&store);
    cr_assert_eq(fake.closed, 1);
}

static const atomic_int *fake_cancel;

static void
fake_set_cancel(void *state, const atomic_int *cancel)
{
    fake_cancel = cancel;
}

Test(common_storage, a_cancelled_store_writes_nothing)
{
    cir_store_backend_t b = {.scheme = CIR_URI_S3,
                             .open = fake_open,
                             .put = fake_put,
                             .exists = fake_exists,
                             .remove = fake_remove,
                             .set_cancel = fake_set_cancel,
                             .close = fake_close};
    cir_store_t *store = NULL;
    atomic_int cancel = 0;
    cir_uri_t uri;

    cr_assert_eq(cir_store_register_backend(&b), 0);
    cr_assert_eq(cir_uri_parse("s3://media-out/assets/43", &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cir_store_set_cancel(store, &cancel);
    cr_assert_eq(fake_cancel, &cancel, "the backend gets the flag");
    cr_assert_eq(cir_store_put(store, "720p/seg-1.m4s", "a", 1, NULL), 0);
    cr_assert_str_eq(fake.rel, "720p/seg-1.m4s");
    atomic_store(&cancel, 1);
    cr_assert_eq(cir_store_put(store, "720p/seg-2.m4s", "b", 1, NULL),
                 CIR_ECANCELED);
    cr_assert_str_eq(fake.rel, "720p/seg-1.m4s", "never reached the backend");
    cir_store_close(&store);
}

Test(common_storage, a_cancelled_file_store_writes_nothing)
{
    char dir[] = "/tmp/cir-cancel-XXXXXX", root[64], path[128];
    cir_store_t *store = NULL;
    atomic_int cancel = 1;
    cir_uri_t uri;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(root, sizeof(root), "file://%s", dir);
    cr_assert_eq(cir_uri_parse(root, &uri), 0);
    cr_assert_eq(cir_store_open(&store, &uri), 0);
    cir_store_set_cancel(store, &cancel);
    cr_assert_eq(cir_store_put(store, "master.m3u8", "#EXTM3U\n", 8, NULL),
                 CIR_ECANCELED);
    snprintf(path, sizeof(path), "%s/master.m3u8", dir);
    cr_assert_eq(access(path, F_OK), -1);
    cir_store_set_cancel(store, NULL);
    cr_assert_eq(cir_store_put(store, "master.m3u8", "#EXTM3U\n", 8, NULL), 0);
    cr_assert_eq(access(path, F_OK), 0);
    cir_store_close(&store);
    unlink(path);
    rmdir(dir);
}
