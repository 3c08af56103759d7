/*
 * The live store's file adapter: writes what origin's live writer (the
 * window and index policy, origin/src/live_writer.c) decides, in the order
 * cir_live.h gives, into one rendition's folder.  It decides nothing about
 * the window; tested through tests/unit/test_transcoder_live_store.c (the
 * files it leaves) and the live integration tests.  Nothing is fsynced (a
 * live store is rewritten every part and a crash ends the stream anyway);
 * media bytes go out before the index that lists them.
 *
 * What a part costs is what the ingest's CPU per stream is made of, so the
 * file system sees as little as it can (a profile of cirrus-ingest under
 * bench/ingest showed ext4 inode allocation, rename and eviction first):
 * - a part is one write(2) appended to its segment file, which stays open
 *   while the segment is; no file per part, no copy of the segment at its
 *   end (the origin serves parts as byte ranges of the segment file);
 * - the index goes out without allocating or freeing an inode: three
 *   files take turns, the two not named `index` are named .index.0 and
 *   .index.1; the next one is rewritten in place and swapped with `index`
 *   in one renameat2(RENAME_EXCHANGE) (atomic: `index` always names a
 *   whole file; the one it named before takes the hidden name, so no inode
 *   is freed).  A file is rewritten two updates after it stopped being
 *   `index`: a reader stalled across that reads a torn file, which the CRC
 *   rejects and the loader reads again.  Where the file system cannot
 *   exchange, the whole-file write + rename is used instead.
 * - a part whose write failed leaves its segment file as it was: the next
 *   part overwrites it (writes go at the writer's offset) and the
 *   segment's end trims what is left past it; a segment file the writer
 *   opens anew that already exists is a leftover no index listed (a crash
 *   before its first part was listed): it goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cir_error.h"
#include "cir_live.h"
#include "cir_storage.h"
#include "cir_onair_store.h"

#define INDEX_FILES   2
#define FILL_PART_MAX ((size_t)1 << 20) /* a part of an outage's silence */
#define MIN64(a, b)   ((a) < (b) ? (a) : (b))

struct cir_onair_store {
    cir_live_writer_t *w;
    char *dir;
    int seg_fd;              /* the open segment's file, -1 when none */
    uint64_t open_len;       /* its bytes the writer counts */
    int torn;                /* bytes past open_len may remain */
    int idx_fd[INDEX_FILES]; /* the files named .index.<k> */
    size_t idx_len[INDEX_FILES];
    int index_fd; /* the file named index, -1 until the first swap */
    size_t index_len;
    unsigned idx_next; /* the hidden index file written next */
    int no_swap;       /* no RENAME_EXCHANGE: whole-file write + rename */
    cir_onair_store_filler_cb filler; /* an outage's media, or NULL: GAPs */
    void *filler_opaque;
    cir_buf_t fill[2]; /* a filled part and the one after it */
};

/* Opens hidden index file k (unknown length: truncated after the write). */
static int
open_hidden(cir_onair_store_t *st, unsigned k, const char *hidden)
{
    st->idx_fd[k] = open(hidden, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (st->idx_fd[k] < 0) {
        return -errno;
    }
    /* nginx's workers read it, whatever the umask */
    if (fchmod(st->idx_fd[k], 0644) != 0) {
        return -errno;
    }
    st->idx_len[k] = SIZE_MAX;
    return 0;
}

/* Writes hidden index file k in place and swaps it with `index` (see the
 * top of this file); the first time, renames it over whatever `index` is. */
static int
publish_swapped(cir_onair_store_t *st, const char *data, size_t len)
{
    char hidden[PATH_MAX], path[PATH_MAX];
    unsigned k = st->idx_next;
    size_t tl;
    int ret, t;

    if ((ret = cir_live_path(hidden, sizeof(hidden), st->dir,
                             CIR_LIVE_FILE_INDEX_SLOT, k)) < 0 ||
        (ret = cir_live_path(path, sizeof(path), st->dir, CIR_LIVE_FILE_INDEX,
                             0)) < 0) {
        return ret;
    }
    if (st->idx_fd[k] < 0 && (ret = open_hidden(st, k, hidden)) < 0) {
        return ret;
    }
    if ((ret = cir_pwrite_all(st->idx_fd[k], data, len, 0)) < 0) {
        return ret;
    }
    if (len < st->idx_len[k] && ftruncate(st->idx_fd[k], (off_t)len) != 0) {
        return -errno;
    }
    st->idx_len[k] = len;
    if (st->index_fd < 0) {
        if (rename(hidden, path) != 0) {
            return -errno;
        }
        st->index_fd = st->idx_fd[k];
        st->index_len = len;
        st->idx_fd[k] = -1;
    } else {
        if (renameat2(AT_FDCWD, hidden, AT_FDCWD, path, RENAME_EXCHANGE) != 0) {
            return -errno;
        }
        t = st->index_fd;
        tl = st->index_len;
        st->index_fd = st->idx_fd[k];
        st->index_len = len;
        st->idx_fd[k] = t;
        st->idx_len[k] = tl;
    }
    st->idx_next = (k + 1) % INDEX_FILES;
    return 0;
}

/* Removes the segment files the writer let go. */
static void
remove_segments(cir_onair_store_t *st)
{
    char path[PATH_MAX];
    uint64_t msn;

    while (cir_live_writer_take_removal(st->w, &msn)) {
        if (cir_live_path(path, sizeof(path), st->dir, CIR_LIVE_FILE_SEGMENT,
                          msn) == 0) {
            unlink(path);
        }
    }
}

/* The writer's next index, published as <dir>/index. */
static int
write_index(cir_onair_store_t *st)
{
    char path[PATH_MAX];
    const void *data;
    size_t len;
    int ret;

    remove_segments(st);
    if ((ret = cir_live_writer_next_index(st->w, &data, &len)) < 0 ||
        len == 0) {
        return ret;
    }
    if (!st->no_swap) {
        ret = publish_swapped(st, data, len);
        if (ret == -EINVAL || ret == -EOPNOTSUPP || ret == -ENOSYS) {
            st->no_swap = 1; /* a file system without RENAME_EXCHANGE */
        } else {
            return ret;
        }
    }
    if ((ret = cir_live_path(path, sizeof(path), st->dir, CIR_LIVE_FILE_INDEX,
                             0)) < 0) {
        return ret;
    }
    return cir_write_file_atomic_flags(path, data, len, 0);
}

/* The index at a segment's end, then the segment files now due. */
static int
write_index_at_end(cir_onair_store_t *st)
{
    int ret;

    if ((ret = write_index(st)) < 0) {
        return ret;
    }
    cir_live_writer_segments_due(st->w);
    remove_segments(st);
    return 0;
}

static int
resume(cir_onair_store_t *st)
{
    cir_live_index_t old;
    int ret;

    ret = cir_live_index_load(st->dir, &old);
    if (ret == CIR_ENOTFOUND || ret == CIR_EPARSE) {
        return 0; /* nothing (usable) to resume: start afresh */
    }
    if (ret < 0) {
        return ret;
    }
    ret = cir_live_writer_resume(st->w, &old);
    cir_live_index_free(&old);
    return ret;
}

int
cir_onair_store_open(cir_onair_store_t **out, const cir_live_writer_config_t *c)
{
    cir_onair_store_t *st;
    int ret;

    if (out == NULL || c == NULL || c->dir == NULL || c->dir[0] == '\0') {
        return CIR_EINVAL;
    }
    *out = NULL;
    if ((st = calloc(1, sizeof(*st))) == NULL) {
        return CIR_ENOMEM;
    }
    st->seg_fd = -1;
    st->index_fd = -1;
    for (int k = 0; k < INDEX_FILES; k++) {
        st->idx_fd[k] = -1;
        cir_buf_init(&st->fill[k], FILL_PART_MAX);
    }
    if ((ret = cir_live_writer_open(&st->w, c)) < 0) {
        goto fail;
    }
    if ((st->dir = strdup(c->dir)) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = cir_mkdir_p(c->dir, 0755)) < 0 || (ret = resume(st)) < 0 ||
        (ret = write_index(st)) < 0) {
        goto fail;
    }
    *out = st;
    return 0;

fail:
    cir_onair_store_close(&st);
    return ret;
}

/* The open segment's file whole and closed, and closed in the writer. */
static int
close_open_segment(cir_onair_store_t *st)
{
    int ret;

    if (st->seg_fd >= 0) {
        ret = 0;
        if (st->torn && ftruncate(st->seg_fd, (off_t)st->open_len) != 0) {
            ret = -errno;
        }
        st->torn = 0;
        if (close(st->seg_fd) != 0 && ret == 0) {
            ret = -errno;
        }
        st->seg_fd = -1;
        if (ret < 0) {
            return ret;
        }
    }
    st->open_len = 0;
    return cir_live_writer_close_segment(st->w);
}

/* The open segment closed, then its end published. */
static int
end_segment(cir_onair_store_t *st)
{
    int ret;

    if ((ret = close_open_segment(st)) < 0) {
        return ret;
    }
    return write_index_at_end(st);
}

int
cir_onair_store_end_segment(cir_onair_store_t *st)
{
    if (st == NULL || !cir_live_writer_has_open_segment(st->w)) {
        return CIR_EINVAL; /* nothing open */
    }
    return end_segment(st);
}

int
cir_onair_store_put_init(cir_onair_store_t *st, const void *data, size_t len)
{
    char path[PATH_MAX];
    uint32_t id;
    int ret;

    if (st == NULL || data == NULL ||
        (ret = cir_live_writer_begin_init(st->w, len)) < 0) {
        return CIR_EINVAL;
    }
    if (cir_live_writer_has_open_segment(st->w) &&
        (ret = end_segment(st)) < 0) {
        return ret;
    }
    if ((ret = cir_live_writer_next_init(st->w, &id)) < 0) {
        return ret;
    }
    ret = cir_live_path(path, sizeof(path), st->dir, CIR_LIVE_FILE_INIT, id);
    if (ret < 0 ||
        (ret = cir_write_file_atomic_flags(path, data, len, 0)) < 0) {
        return ret;
    }
    cir_live_writer_init_written(st->w);
    return write_index(st);
}

/* seg-<msn>.m4s, new and empty.  A file of that name is a leftover that
 * no index listed (a crash before its first part was listed): it goes. */
static int
create_segment_file(cir_onair_store_t *st, uint64_t msn)
{
    char path[PATH_MAX];
    int fd, ret;

    if ((ret = cir_live_path(path, sizeof(path), st->dir, CIR_LIVE_FILE_SEGMENT,
                             msn)) < 0) {
        return ret;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && unlink(path) == 0) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        return -errno;
    }
    st->seg_fd = fd;
    st->open_len = 0;
    st->torn = 0;
    return 0;
}

static void
discard_segment_file(cir_onair_store_t *st, uint64_t msn)
{
    char path[PATH_MAX];

    if (st->seg_fd >= 0) {
        close(st->seg_fd);
        st->seg_fd = -1;
    }
    if (cir_live_path(path, sizeof(path), st->dir, CIR_LIVE_FILE_SEGMENT,
                      msn) == 0) {
        unlink(path);
    }
}

/* The part's bytes where the plan puts them; on a failure the writer
 * forgets what the plan opened. */
static int
write_part(cir_onair_store_t *st, const cir_live_part_plan_t *plan,
           const void *data, size_t len)
{
    int ret;

    if (plan->opens && (ret = create_segment_file(st, plan->msn)) < 0) {
        cir_live_writer_abort_part(st->w, plan, 0);
        return ret;
    }
    /* listed in the index only after this write completes */
    ret = cir_pwrite_all(st->seg_fd, data, len, (int64_t)plan->offset);
    if (ret < 0) {
        if (plan->opens) {
            /* undo the segment we just opened */
            discard_segment_file(st, plan->msn);
            cir_live_writer_abort_part(st->w, plan, 1);
        } else {
            /* the next part overwrites a torn one (writes go at the
             * writer's offset); the segment's end trims what is left */
            st->torn = ftruncate(st->seg_fd, (off_t)st->open_len) != 0;
        }
        return ret;
    }
    st->open_len = plan->offset + len;
    return 0;
}

/* A part: begin, its bytes, commit (last: its segment closed); then the
 * index published (publish), or nothing yet. */
static int
write_listed_part(cir_onair_store_t *st, const void *data, size_t len,
                  int64_t start, int64_t duration, int independent, int last,
                  int publish)
{
    cir_live_part_plan_t plan;
    int ret;

    ret = cir_live_writer_begin_part(st->w, len, start, duration, &plan);
    remove_segments(st); /* an outage's GAP segments may let some go */
    if (ret < 0 || (ret = write_part(st, &plan, data, len)) < 0) {
        return ret;
    }
    cir_live_writer_commit_part(st->w, len, start, duration, independent, last);
    if (!publish) {
        return last ? close_open_segment(st) : 0;
    }
    return last ? end_segment(st) : write_index(st);
}

/*
 * One segment of an outage taken from the writer, [start, end), filled by
 * the filler in parts of at most the part target, each part put once the
 * next is known (the last ends the segment); *at: where its media ends.
 * One the filler cannot begin is a GAP segment (ends at end).  Nothing is
 * published: the outage goes out whole with the part after it, as the
 * other renditions' GAP segments do (a playlist would otherwise lag its
 * rendition reports by the outage for a moment).
 */
static int
fill_outage_segment(cir_onair_store_t *st, int64_t start, int64_t end,
                    int64_t *at)
{
    const cir_live_index_t *x = cir_live_writer_index(st->w);
    int64_t step = x->part_target > 0 ? x->part_target : end - start;
    int64_t s = start, cur_end, next_end;
    cir_buf_t *cur = &st->fill[0], *next = &st->fill[1], *t;
    int ret;

    cir_buf_reset(cur);
    ret = st->filler(st->filler_opaque, s, MIN64(s + step, end), cur, &cur_end);
    if (ret < 0 || cur_end <= s) {
        *at = end;
        return cir_live_writer_put_outage_gap(st->w, start, end - start);
    }
    for (;;) {
        cir_buf_reset(next);
        next_end = cur_end;
        if (cur_end < end && (ret = st->filler(st->filler_opaque, cur_end,
                                               MIN64(cur_end + step, end), next,
                                               &next_end)) < 0) {
            next_end = cur_end; /* this part ends the segment */
        }
        ret = write_listed_part(st, cur->data, cur->len, s, cur_end - s, 1,
                                next_end <= cur_end, 0);
        if (ret < 0 || next_end <= cur_end) {
            break;
        }
        s = cur_end;
        cur_end = next_end;
        t = cur, cur = next, next = t;
    }
    *at = cur_end;
    return ret;
}

/* The writer's pending outage filled with media (see the setter), up to
 * next, where the part after it starts (a video whose first keyframe
 * after the outage is older than the stream's new anchor: its media
 * overlapping the new one would push the new one's PDT). */
static int
fill_outage(cir_onair_store_t *st, int64_t next)
{
    uint32_t count;
    int64_t from, to, at;
    int ret;

    if (st->filler == NULL || cir_live_writer_has_open_segment(st->w)) {
        return 0;
    }
    if ((ret = cir_live_writer_take_outage(st->w, &count, &from, &to, &at)) <=
        0) {
        return ret; /* 0: none pending */
    }
    for (uint32_t k = 0; k < count && ret >= 0; k++) {
        int64_t end = MIN64(from + (to - from) * (k + 1) / count, next);
        if (end <= at) {
            /* (new media more than a segment early: the numbers stay) */
            ret = cir_live_writer_put_outage_gap(st->w, at, 1);
            at++;
            continue;
        }
        ret = fill_outage_segment(st, at, end, &at);
    }
    return ret < 0 ? ret : 0;
}

static int
put_part(cir_onair_store_t *st, const void *data, size_t len, int64_t start,
         int64_t duration, int independent, int last)
{
    int ret;

    if (st == NULL || data == NULL) {
        return CIR_EINVAL;
    }
    if ((ret = fill_outage(st, start)) < 0) {
        return ret;
    }
    return write_listed_part(st, data, len, start, duration, independent, last,
                             1);
}

void
cir_onair_store_set_outage_filler(cir_onair_store_t *st,
                                  cir_onair_store_filler_cb cb, void *opaque)
{
    if (st != NULL) {
        st->filler = cb;
        st->filler_opaque = opaque;
    }
}

int
cir_onair_store_put_part(cir_onair_store_t *st, const void *data, size_t len,
                         int64_t start, int64_t duration, int independent)
{
    return put_part(st, data, len, start, duration, independent, 0);
}

int
cir_onair_store_put_last_part(cir_onair_store_t *st, const void *data,
                              size_t len, int64_t start, int64_t duration,
                              int independent)
{
    return put_part(st, data, len, start, duration, independent, 1);
}

int
cir_onair_store_put_gap_segment(cir_onair_store_t *st, int64_t start,
                                int64_t duration)
{
    int ret;

    if (st == NULL) {
        return CIR_EINVAL;
    }
    if ((ret = cir_live_writer_put_gap_segment(st->w, start, duration)) < 0) {
        return ret;
    }
    return write_index_at_end(st);
}

int
cir_onair_store_set_target_duration(cir_onair_store_t *st, uint32_t td)
{
    int ret;

    if (st == NULL) {
        return CIR_EINVAL;
    }
    if ((ret = cir_live_writer_set_target_duration(st->w, td)) <= 0) {
        return ret;
    }
    return write_index(st);
}

int
cir_onair_store_set_closed_captions(cir_onair_store_t *st)
{
    if (st == NULL) {
        return CIR_EINVAL;
    }
    return cir_live_writer_set_closed_captions(st->w);
}

int
cir_onair_store_finish(cir_onair_store_t *st)
{
    int ret;

    if (st == NULL) {
        return CIR_EINVAL;
    }
    if (cir_live_writer_has_open_segment(st->w) &&
        (ret = end_segment(st)) < 0) {
        return ret;
    }
    if ((ret = cir_live_writer_finish(st->w)) <= 0) {
        return ret;
    }
    return write_index(st);
}

cir_live_writer_t *
cir_onair_store_writer(cir_onair_store_t *st)
{
    return st ? st->w : NULL;
}

/* The store's open files: the segment's and the three index files. */
static void
close_files(cir_onair_store_t *st)
{
    if (st->seg_fd >= 0) {
        close(st->seg_fd);
    }
    for (int k = 0; k < INDEX_FILES; k++) {
        if (st->idx_fd[k] >= 0) {
            close(st->idx_fd[k]);
        }
    }
    if (st->index_fd >= 0) {
        close(st->index_fd);
    }
}

void
cir_onair_store_close(cir_onair_store_t **stp)
{
    cir_onair_store_t *st = stp != NULL ? *stp : NULL;

    if (st != NULL) {
        cir_live_writer_close(&st->w);
        close_files(st);
        cir_buf_free(&st->fill[0]);
        cir_buf_free(&st->fill[1]);
        free(st->dir);
        free(st);
        *stp = NULL;
    }
}
