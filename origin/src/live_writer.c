/*
 * The live writer: keeps one rendition's index in memory and publishes it
 * with the media files in the live store (see cir_live.h).  Nothing is
 * fsynced (a live store is rewritten every part and a crash ends the stream
 * anyway); media bytes go out before the index that lists them.
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
 *
 * Choices the header leaves open:
 * - PDT: anchored when a segment opens after the stream start, an init
 *   change, a discontinuity or a timestamp jump: at the stream's anchor
 *   when one was set (cir_live_writer_set_anchor: the same for every
 *   rendition, so PDT agrees across them), else at the wall clock of that
 *   moment minus the duration of the first part (its first sample was
 *   captured one part ago); later segments follow the media timeline from
 *   the anchor, so PDT steps match EXTINF exactly and never drift.
 * - PDT never steps back: an anchor before the end of the previous
 *   segment moves to that end, one that would put media time 0 before
 *   started_us moves to where it does not.
 * - started_us is the wall clock at writer open (DASH availabilityStartTime),
 *   kept when an index is resumed; run_pdt_us/run_start follow segments[0]'s
 *   run (see cir_live.h).
 * - put_init with a segment open closes that segment first.
 * - Reopening a folder that holds an index resumes its numbering: the old
 *   segments leave the index (their files stay), msn, init and
 *   discontinuity numbering continue, the next segment starts with a
 *   discontinuity: MEDIA-SEQUENCE never goes back, no URL is reused.
 * - Parts leave the playlist (nb_parts -> nb_kept) on the index write
 *   after which cir_live_parts_listed no longer lists them; the records of
 *   its parts (their byte ranges) go 3 target durations of media later, and
 *   a segment leaves the index only after that (so a window of few short
 *   segments lists a few more).  A segment's file goes one window (window x
 *   segment_target of media) after it left the index.  Pending deletions
 *   are not carried over a close.
 * - Nothing is published (no index written) until the stream's target
 *   duration is known: a stream's leader decides it when its first segment
 *   closes (cir_live_writer_set_target_duration), or finish does.
 * - Init segments are never deleted (tiny, and old DVR segments may need
 *   them).
 * - An outage (cir_live_writer_fill_outage): its GAP segments open the new
 *   run (the discontinuity is on the first) and sit on the new run's media
 *   timeline just before its first segment, so a DASH Period starts where
 *   the one before ended and its first segment at its own wall clock, as
 *   without them.
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
#include "live_util.h"

#define SEGMENT_MAX_BYTES ((uint64_t)256 << 20)
#define INDEX_FILES       2

typedef struct {
    uint64_t msn;
    uint8_t segment; /* 1: seg-<msn>.m4s, 0: its part records */
    int64_t due;     /* when elapsed reaches this */
} deletion_t;

struct cir_live_writer {
    char *dir;
    const cir_clock_t *clock;
    cir_live_index_t idx;
    size_t seg_cap, part_cap;
    int seg_fd;              /* the open segment's file, -1 when none */
    uint64_t open_len;       /* its bytes so far */
    int torn;                /* bytes past open_len may remain */
    cir_buf_t enc;           /* the index, encoded */
    int idx_fd[INDEX_FILES]; /* the files named .index.<k> */
    size_t idx_len[INDEX_FILES];
    int index_fd; /* the file named index, -1 until the first swap */
    size_t index_len;
    unsigned idx_next; /* the hidden index file written next */
    int no_swap;       /* no RENAME_EXCHANGE: whole-file write + rename */
    uint64_t next_msn;
    int written_any; /* a segment was ever opened */
    int pending_disc;
    uint32_t gaps_pending; /* fill_outage's, put before the next segment */
    int64_t gaps_hole_us;
    int anchored;
    int64_t anchor_wall, anchor_media, last_end;
    /* the stream's anchor (set_anchor): media time stream_media_us (µs on
     * the stream's timeline) was captured at stream_wall_us; 0: none */
    int64_t stream_wall_us, stream_media_us;
    int64_t elapsed; /* media time put so far, timescale units */
    deletion_t *del;
    size_t nb_del, del_cap;
};

enum {
    F_INDEX,
    F_INIT,
    F_SEG,
    F_HIDDEN /* .index.<a>, a < INDEX_FILES */
};

/* <dir>/<name of a live store object>. */
static int
join(const cir_live_writer_t *w, char *out, size_t size, int kind, uint64_t a,
     uint32_t b)
{
    unsigned long long x = (unsigned long long)a;
    int n;

    switch (kind) {
    case F_INDEX:
        n = snprintf(out, size, "%s/index", w->dir);
        break;
    case F_INIT:
        n = snprintf(out, size, "%s/init-%llu.mp4", w->dir, x);
        break;
    case F_HIDDEN:
        n = snprintf(out, size, "%s/.index.%llu", w->dir, x);
        break;
    default:
        n = snprintf(out, size, "%s/seg-%llu.m4s", w->dir, x);
        break;
    }
    (void)b;
    if (n < 0 || (size_t)n >= size) {
        return -ENAMETOOLONG;
    }
    return 0;
}

/* Writes hidden index file k in place and swaps it with `index` (see the
 * top of this file); the first time, renames it over whatever `index` is. */
static int
publish_swapped(cir_live_writer_t *w, const char *data, size_t len)
{
    char hidden[PATH_MAX], path[PATH_MAX];
    unsigned k = w->idx_next;
    size_t tl;
    int ret, t;

    if ((ret = join(w, hidden, sizeof(hidden), F_HIDDEN, k, 0)) < 0 ||
        (ret = join(w, path, sizeof(path), F_INDEX, 0, 0)) < 0) {
        return ret;
    }
    if (w->idx_fd[k] < 0) {
        w->idx_fd[k] = open(hidden, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (w->idx_fd[k] < 0) {
            return -errno;
        }
        /* nginx's workers read it, whatever the umask */
        if (fchmod(w->idx_fd[k], 0644) != 0) {
            return -errno;
        }
        w->idx_len[k] = SIZE_MAX; /* unknown: truncate after the write */
    }
    if ((ret = cir_pwrite_all(w->idx_fd[k], data, len, 0)) < 0) {
        return ret;
    }
    if (len < w->idx_len[k] && ftruncate(w->idx_fd[k], (off_t)len) != 0) {
        return -errno;
    }
    w->idx_len[k] = len;
    if (w->index_fd < 0) {
        if (rename(hidden, path) != 0) {
            return -errno;
        }
        w->index_fd = w->idx_fd[k];
        w->index_len = len;
        w->idx_fd[k] = -1;
    } else {
        if (renameat2(AT_FDCWD, hidden, AT_FDCWD, path, RENAME_EXCHANGE) != 0) {
            return -errno;
        }
        t = w->index_fd;
        tl = w->index_len;
        w->index_fd = w->idx_fd[k];
        w->index_len = len;
        w->idx_fd[k] = t;
        w->idx_len[k] = tl;
    }
    w->idx_next = (k + 1) % INDEX_FILES;
    return 0;
}

static int
write_index(cir_live_writer_t *w)
{
    char path[PATH_MAX];
    int ret;

    if (w->idx.target_duration == 0) {
        return 0; /* held back until the stream's target duration is known */
    }
    w->idx.version++;
    w->idx.updated_us = cir_clock_wall_us(w->clock);
    cir_buf_reset(&w->enc);
    if ((ret = cir_live_index_encode(&w->idx, &w->enc)) < 0) {
        return ret;
    }
    if (!w->no_swap) {
        ret = publish_swapped(w, w->enc.data, w->enc.len);
        if (ret == -EINVAL || ret == -EOPNOTSUPP || ret == -ENOSYS) {
            w->no_swap = 1; /* a file system without RENAME_EXCHANGE */
        } else {
            return ret;
        }
    }
    if ((ret = join(w, path, sizeof(path), F_INDEX, 0, 0)) < 0) {
        return ret;
    }
    return cir_write_file_atomic_flags(path, w->enc.data, w->enc.len, 0);
}

static int
grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
    size_t n;
    void *q;

    if (need <= *cap) {
        return 0;
    }
    if (need > max) {
        return CIR_ELIMIT;
    }
    n = *cap ? *cap * 2 : 16;
    while (n < need) {
        n *= 2;
    }
    if (n > max) {
        n = max;
    }
    if ((q = realloc(*p, n * elem)) == NULL) {
        return CIR_ENOMEM;
    }
    *p = q;
    *cap = n;
    return 0;
}

/* ---- deletions ---- */

static void compact_parts(cir_live_writer_t *w);

static void
remove_segment(cir_live_writer_t *w, const deletion_t *d)
{
    char path[PATH_MAX];

    if (join(w, path, sizeof(path), F_SEG, d->msn, 0) == 0) {
        unlink(path);
    }
}

/* A part-record drop: the byte ranges of a segment's aged-out parts go at
 * the next index write. */
static void
drop_records(cir_live_writer_t *w, const deletion_t *d)
{
    cir_live_segment_t *s =
        (cir_live_segment_t *)cir_live_index_segment(&w->idx, d->msn);

    if (s != NULL && s->nb_parts == 0 && s->nb_kept > 0) {
        s->nb_kept = 0;
        compact_parts(w);
    }
}

static void
apply(cir_live_writer_t *w, const deletion_t *d)
{
    if (d->segment) {
        remove_segment(w, d);
    } else {
        drop_records(w, d);
    }
}

static void
schedule(cir_live_writer_t *w, uint64_t msn, int segment, int64_t delay)
{
    deletion_t d = {msn, (uint8_t)segment, w->elapsed + delay};
    size_t max = 4 * (size_t)w->idx.window + 16;

    if (grow((void **)&w->del, &w->del_cap, w->nb_del + 1, sizeof(d), max) <
        0) {
        if (w->nb_del == 0) {
            apply(w, &d);
            return;
        }
        /* list full (or no memory): the oldest entry goes now */
        apply(w, &w->del[0]);
        memmove(w->del, w->del + 1, (w->nb_del - 1) * sizeof(d));
        w->nb_del--;
    }
    w->del[w->nb_del++] = d;
}

/* The due entries of one kind: part records (segment 0) before the index
 * is written, segment files (1) after it. */
static void
run_deletions(cir_live_writer_t *w, int segment)
{
    size_t i, k = 0;

    for (i = 0; i < w->nb_del; i++) {
        if (w->del[i].due <= w->elapsed && w->del[i].segment == segment) {
            apply(w, &w->del[i]);
        } else {
            w->del[k++] = w->del[i];
        }
    }
    w->nb_del = k;
}

/* ---- index maintenance ---- */

/* Removes parts of segments whose nb_parts went to 0 from parts[]. */
static void
compact_parts(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    size_t i, k = 0;

    for (i = 0; i < x->nb_segments; i++) {
        cir_live_segment_t *s = &x->segments[i];
        uint32_t n = cir_live_nb_records(s);
        if (n == 0) {
            s->first_part = 0;
            continue;
        }
        if (s->first_part != k) {
            memmove(&x->parts[k], &x->parts[s->first_part],
                    n * sizeof(*x->parts));
        }
        s->first_part = (uint32_t)k;
        k += n;
    }
    x->nb_parts = k;
}

/* segments[0] is (or begins) the run s starts, after prev (NULL: none
 * in this index). */
static void
set_run(cir_live_index_t *x, const cir_live_segment_t *s,
        const cir_live_segment_t *prev)
{
    x->run_pdt_us = s->pdt_us;
    x->run_start = s->start;
    x->run_after_us = 0;
    if (prev != NULL) {
        x->run_after_us =
            prev->pdt_us + cir_live_ts_to_us(prev->duration, x->timescale);
        if (x->run_after_us > s->pdt_us) {
            x->run_after_us = s->pdt_us;
        }
    }
}

static int64_t
three_td(const cir_live_writer_t *w)
{
    return 3 * cir_live_target_duration(&w->idx) * (int64_t)w->idx.timescale;
}

static void
drop_segment_parts(cir_live_writer_t *w, cir_live_segment_t *s)
{
    if (s->nb_parts > 0) {
        /* parts stay fetchable 3 x TD after they leave (RFC 8216bis 6.2.2):
         * their records (byte ranges) stay that long */
        s->nb_kept = s->nb_parts;
        s->nb_parts = 0;
        schedule(w, s->msn, 0, three_td(w));
    }
}

/* Unlists the parts of complete segments that cir_live_parts_listed no
 * longer lists (run before every index write). */
static void
unlist_parts(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;

    if (x->target_duration == 0) {
        return;
    }
    for (size_t i = 0; i < x->nb_segments; i++) {
        cir_live_segment_t *s = &x->segments[i];
        if (s->complete && s->nb_parts > 0 && !cir_live_parts_listed(x, i)) {
            drop_segment_parts(w, s);
        }
    }
}

static void
age_and_slide(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    size_t i, complete = 0;

    for (i = 0; i < x->nb_segments; i++) {
        complete += x->segments[i].complete;
    }
    unlist_parts(w);
    /* a segment leaves the index (and the playlist) once the window is
     * full and the records of its parts went (3 x TD after they left the
     * playlist): their byte ranges stay servable that long */
    while (complete > x->window && x->segments[0].nb_kept == 0 &&
           (x->segments[0].nb_parts == 0 || x->part_target == 0)) {
        cir_live_segment_t *s = &x->segments[0], gone;
        if (s->discontinuity) {
            x->discontinuity_sequence++;
        }
        s->nb_parts = 0;
        schedule(w, s->msn, 1, (int64_t)x->window * x->segment_target);
        gone = *s;
        memmove(x->segments, x->segments + 1,
                (x->nb_segments - 1) * sizeof(*x->segments));
        x->nb_segments--;
        complete--;
        if (x->segments[0].discontinuity) {
            set_run(x, &x->segments[0], &gone);
        }
    }
    compact_parts(w);
}

/* ---- public ---- */

static int
resume(cir_live_writer_t *w)
{
    cir_live_index_t old;
    uint32_t flags = 0;
    size_t i;
    int ret;

    ret = cir_live_index_load(w->dir, &old);
    if (ret == CIR_ENOTFOUND || ret == CIR_EPARSE) {
        return 0; /* nothing (usable) to resume: start afresh */
    }
    if (ret < 0) {
        return ret;
    }
    if (old.nb_segments == 0) {
        cir_live_index_free(&old);
        return 0;
    }
    /* The old segments go (as if they left the window): MEDIA-SEQUENCE
     * continues after them, and no URL a CDN may have cached is reused
     * for other bytes. */
    for (i = 0; i < old.nb_segments; i++) {
        flags += old.segments[i].discontinuity;
    }
    w->idx.discontinuity_sequence = old.discontinuity_sequence + flags;
    w->idx.init_id = old.init_id;
    w->idx.started_us = old.started_us;
    w->idx.version = old.version;
    w->next_msn = old.segments[old.nb_segments - 1].msn + 1;
    w->written_any = 1;
    w->pending_disc = 1;
    cir_live_index_free(&old);
    return 0;
}

int
cir_live_writer_open(cir_live_writer_t **wp, const cir_live_writer_config_t *c)
{
    cir_live_writer_t *w = NULL;
    int ret;

    if (wp == NULL || c == NULL || c->dir == NULL || c->dir[0] == '\0') {
        return CIR_EINVAL;
    }
    *wp = NULL;
    if (c->timescale == 0 || c->segment_target <= 0 || c->part_target < 0 ||
        c->part_target > c->segment_target || c->part_target_us < 0 ||
        c->target_duration > 3600 || c->window < 3 ||
        c->window >= CIR_LIVE_MAX_SEGMENTS) {
        return CIR_EINVAL;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        return CIR_ENOMEM;
    }
    w->seg_fd = -1;
    w->index_fd = -1;
    for (int k = 0; k < INDEX_FILES; k++) {
        w->idx_fd[k] = -1;
    }
    if ((w->dir = strdup(c->dir)) == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    w->clock = c->clock ? c->clock : cir_clock_system();
    w->idx.track = c->track;
    w->idx.track.rendition[sizeof(w->idx.track.rendition) - 1] = '\0';
    w->idx.track.codecs[sizeof(w->idx.track.codecs) - 1] = '\0';
    w->idx.timescale = c->timescale;
    w->idx.segment_target = c->segment_target;
    w->idx.part_target = c->part_target;
    w->idx.part_target_us = c->part_target_us;
    w->idx.target_duration = c->target_duration;
    w->idx.window = c->window;
    w->idx.started_us = cir_clock_wall_us(w->clock);
    cir_buf_init(&w->enc, CIR_LIVE_INDEX_MAX_SIZE);
    if (cir_live_index_check(&w->idx) < 0) {
        ret = CIR_EINVAL;
        goto fail;
    }
    if ((ret = cir_mkdir_p(c->dir, 0755)) < 0 || (ret = resume(w)) < 0 ||
        (ret = write_index(w)) < 0) {
        goto fail;
    }
    *wp = w;
    return 0;

fail:
    cir_live_writer_close(&w);
    return ret;
}

int
cir_live_writer_put_init(cir_live_writer_t *w, const void *data, size_t len)
{
    char path[PATH_MAX];
    int ret;

    if (w == NULL || data == NULL || len == 0 || w->idx.ended) {
        return CIR_EINVAL;
    }
    if (cir_live_open_segment(&w->idx) != NULL &&
        (ret = cir_live_writer_end_segment(w)) < 0) {
        return ret;
    }
    if (w->idx.init_id == UINT32_MAX) {
        return CIR_ELIMIT;
    }
    ret = join(w, path, sizeof(path), F_INIT, (uint64_t)w->idx.init_id + 1, 0);
    if (ret < 0 ||
        (ret = cir_write_file_atomic_flags(path, data, len, 0)) < 0) {
        return ret;
    }
    if (++w->idx.init_id > 1 || w->written_any) {
        w->pending_disc = 1;
    }
    return write_index(w);
}

/* seg-<msn>.m4s, new and empty.  A file of that name is a leftover that
 * no index listed (a crash before its first part was listed): it goes. */
static int
create_segment_file(cir_live_writer_t *w, uint64_t msn)
{
    char path[PATH_MAX];
    int fd, ret;

    if ((ret = join(w, path, sizeof(path), F_SEG, msn, 0)) < 0) {
        return ret;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && unlink(path) == 0) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        return -errno;
    }
    w->seg_fd = fd;
    w->open_len = 0;
    w->torn = 0;
    return 0;
}

static void
discard_segment_file(cir_live_writer_t *w, uint64_t msn)
{
    char path[PATH_MAX];

    if (w->seg_fd >= 0) {
        close(w->seg_fd);
        w->seg_fd = -1;
    }
    if (join(w, path, sizeof(path), F_SEG, msn, 0) == 0) {
        unlink(path);
    }
}

/* The newest segment with media (not a GAP segment), or NULL. */
static const cir_live_segment_t *
last_media(const cir_live_index_t *x)
{
    for (size_t i = x->nb_segments; i > 0; i--) {
        if (!x->segments[i - 1].gap) {
            return &x->segments[i - 1];
        }
    }
    return NULL;
}

/* A new segment record at start (its file, seg-<msn>.m4s, created when
 * with_file: a GAP segment has none). */
static int
add_segment(cir_live_writer_t *w, int64_t start, int64_t first_duration,
            int with_file)
{
    cir_live_index_t *x = &w->idx;
    const cir_live_segment_t *p;
    cir_live_segment_t *s;
    int64_t now = cir_clock_wall_us(w->clock);
    uint32_t ts = x->timescale;
    int ret;

    ret = grow((void **)&x->segments, &w->seg_cap, x->nb_segments + 1,
               sizeof(*x->segments), CIR_LIVE_MAX_SEGMENTS);
    if (ret < 0 ||
        (with_file && (ret = create_segment_file(w, w->next_msn)) < 0)) {
        return ret;
    }
    if (w->pending_disc || !w->anchored || start != w->last_end) {
        w->anchored = 1;
        w->anchor_media = start;
        if (w->stream_wall_us != 0) {
            /* the stream's: every rendition's PDT is the same function of
             * media time (RFC 8216bis 6.2.4) */
            w->anchor_wall = w->stream_wall_us + (cir_live_ts_to_us(start, ts) -
                                                  w->stream_media_us);
        } else {
            w->anchor_wall = now - first_duration * 1000000 / x->timescale;
        }
        if (w->anchor_wall < x->started_us + cir_live_ts_to_us(start, ts)) {
            /* media time 0 is not before the stream started (a publisher
             * that bursts): a DASH Period never starts before
             * availabilityStartTime */
            w->anchor_wall = x->started_us + cir_live_ts_to_us(start, ts);
        }
        if ((p = last_media(x)) != NULL) {
            /* PDT never steps back: a DASH Period starts at it, after the
             * one before has ended (an outage's GAP segments aside: no
             * media, the stream's clock places them) */
            int64_t end =
                p->pdt_us + cir_live_ts_to_us(p->duration, x->timescale);
            if (w->anchor_wall < end) {
                w->anchor_wall = end;
            }
        }
    }
    s = &x->segments[x->nb_segments];
    memset(s, 0, sizeof(*s));
    s->msn = w->next_msn;
    s->start = start;
    /* exact: (start - anchor) / ts seconds, in microseconds */
    s->pdt_us =
        w->anchor_wall + (start - w->anchor_media) / x->timescale * 1000000 +
        (start - w->anchor_media) % x->timescale * 1000000 / x->timescale;
    s->init_id = x->init_id;
    s->discontinuity = (uint8_t)(w->pending_disc && w->written_any);
    if (with_file) {
        x->paused = 0; /* media again: its next part is hinted */
    }
    if (x->nb_segments == 0) {
        set_run(x, s, NULL);
    }
    s->first_part = (uint32_t)x->nb_parts;
    x->nb_segments++;
    w->pending_disc = 0;
    w->written_any = 1;
    w->next_msn++;
    return 0;
}

static int end_segment(cir_live_writer_t *w, cir_live_segment_t *s);
static int put_outage_gaps(cir_live_writer_t *w);

static int
put_part(cir_live_writer_t *w, const void *data, size_t len, int64_t start,
         int64_t duration, int independent, int last)
{
    cir_live_index_t *x;
    cir_live_segment_t *s;
    cir_live_part_t *p;
    int opened = 0, ret;

    if (w == NULL || data == NULL || len == 0) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    if (x->ended || x->init_id == 0 || start < 0 || duration <= 0 ||
        duration > x->segment_target * 4 || len > UINT32_MAX) {
        return CIR_EINVAL;
    }
    s = (cir_live_segment_t *)cir_live_open_segment(x);
    if (s != NULL && (s->nb_parts >= CIR_LIVE_MAX_PARTS ||
                      w->open_len + len > SEGMENT_MAX_BYTES)) {
        return CIR_ELIMIT;
    }
    if (s == NULL) {
        if ((ret = put_outage_gaps(w)) < 0 ||
            (ret = add_segment(w, start, duration, 1)) < 0) {
            return ret;
        }
        opened = 1;
    }
    s = &x->segments[x->nb_segments - 1];
    ret = grow((void **)&x->parts, &w->part_cap, x->nb_parts + 1,
               sizeof(*x->parts),
               (size_t)CIR_LIVE_MAX_SEGMENTS * CIR_LIVE_MAX_PARTS);
    if (ret == 0) {
        /* listed in the index only after this write completes */
        ret = cir_pwrite_all(w->seg_fd, data, len, (int64_t)w->open_len);
    }
    if (ret < 0) {
        if (opened) {
            /* undo the segment we just opened */
            discard_segment_file(w, s->msn);
            x->nb_segments--;
            w->next_msn--;
        } else {
            /* the next part overwrites a torn one (writes go at open_len);
             * the segment's end trims what is left past it */
            w->torn = ftruncate(w->seg_fd, (off_t)w->open_len) != 0;
        }
        return ret;
    }
    w->open_len += len;
    p = &x->parts[x->nb_parts++];
    p->duration = duration;
    p->size = (uint32_t)len;
    p->independent = independent ? 1 : 0;
    p->gap = 0;
    s->nb_parts++;
    s->duration += duration;
    w->last_end = start + duration;
    w->elapsed += duration;
    if (last) {
        return end_segment(w, s);
    }
    unlist_parts(w);
    compact_parts(w);
    return write_index(w);
}

int
cir_live_writer_put_part(cir_live_writer_t *w, const void *data, size_t len,
                         int64_t start, int64_t duration, int independent)
{
    return put_part(w, data, len, start, duration, independent, 0);
}

int
cir_live_writer_put_last_part(cir_live_writer_t *w, const void *data,
                              size_t len, int64_t start, int64_t duration,
                              int independent)
{
    return put_part(w, data, len, start, duration, independent, 1);
}

/* A GAP segment record (no file, no parts), complete at once; published
 * now, or with the next index write. */
static int
add_gap_segment(cir_live_writer_t *w, int64_t start, int64_t duration,
                int publish)
{
    cir_live_index_t *x = &w->idx;
    cir_live_segment_t *s;
    int ret;

    if ((ret = add_segment(w, start, duration, 0)) < 0) {
        return ret;
    }
    s = &x->segments[x->nb_segments - 1];
    s->gap = 1;
    s->duration = duration;
    w->last_end = start + duration;
    w->elapsed += duration;
    if (publish) {
        return end_segment(w, s);
    }
    s->complete = 1;
    age_and_slide(w);
    return 0;
}

int
cir_live_writer_put_gap_segment(cir_live_writer_t *w, int64_t start,
                                int64_t duration)
{
    cir_live_index_t *x;

    if (w == NULL) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    if (x->ended || x->init_id == 0 || cir_live_open_segment(x) != NULL ||
        start < 0 || duration <= 0 || duration > x->segment_target * 4) {
        return CIR_EINVAL;
    }
    return add_gap_segment(w, start, duration, 1);
}

int
cir_live_writer_end_segment(cir_live_writer_t *w)
{
    cir_live_segment_t *s;

    if (w == NULL) {
        return CIR_EINVAL;
    }
    s = (cir_live_segment_t *)cir_live_open_segment(&w->idx);
    if (s == NULL) {
        return CIR_EINVAL; /* nothing open */
    }
    return end_segment(w, s);
}

static int
end_segment(cir_live_writer_t *w, cir_live_segment_t *s)
{
    int ret;

    if (w->seg_fd >= 0) {
        ret = 0;
        if (w->torn && ftruncate(w->seg_fd, (off_t)w->open_len) != 0) {
            ret = -errno;
        }
        w->torn = 0;
        if (close(w->seg_fd) != 0 && ret == 0) {
            ret = -errno;
        }
        w->seg_fd = -1;
        if (ret < 0) {
            return ret;
        }
    }
    s->size = w->open_len;
    s->complete = 1;
    w->open_len = 0;
    run_deletions(w, 0);
    age_and_slide(w);
    if ((ret = write_index(w)) < 0) {
        return ret;
    }
    /* only now is nothing that goes listed any more */
    run_deletions(w, 1);
    return 0;
}

int
cir_live_writer_set_target_duration(cir_live_writer_t *w, uint32_t td)
{
    if (w == NULL || td == 0 || td > 3600 ||
        (w->idx.target_duration != 0 && w->idx.target_duration != td)) {
        return CIR_EINVAL;
    }
    if (w->idx.target_duration == td) {
        return 0;
    }
    w->idx.target_duration = td;
    unlist_parts(w);
    compact_parts(w);
    return write_index(w);
}

int
cir_live_writer_discontinuity(cir_live_writer_t *w)
{
    if (w == NULL) {
        return CIR_EINVAL;
    }
    w->pending_disc = 1;
    return 0;
}

void
cir_live_writer_pause(cir_live_writer_t *w)
{
    if (w != NULL) {
        w->idx.paused = 1;
    }
}

/*
 * The outage's GAP segments (fill_outage), put when the new timeline's
 * first media segment opens, so that both are published together (a
 * player reaching GAP segments with nothing after them yet takes it as
 * an error): on the new timeline's media clock (the stream's anchor),
 * media time [M - hole, M) in equal parts, M the anchor's media time, so
 * they have the same times and PDT in every rendition; from media time 0
 * at the earliest (a stream younger than its outage: shorter), at most a
 * window of segments (the newest of a longer one).  The segment then
 * opens anchored anew, at its own PDT.
 */
static int
put_outage_gaps(cir_live_writer_t *w)
{
    cir_live_index_t *x = &w->idx;
    uint32_t count = w->gaps_pending, k;
    int64_t to, from;
    int ret;

    w->gaps_pending = 0;
    if (count == 0 || !w->pending_disc || x->nb_segments == 0 ||
        w->stream_wall_us == 0) {
        return 0;
    }
    to = cir_live_us_to_ts(w->stream_media_us, x->timescale);
    from = to - cir_live_us_to_ts(w->gaps_hole_us, x->timescale);
    if (count > x->window) {
        /* older ones would leave the window at once: the newest of it */
        int64_t newest = to - (int64_t)x->window * x->segment_target;
        count = x->window;
        from = from > newest ? from : newest;
    }
    from = from < 0 ? 0 : from;
    if (to - from < (int64_t)count) {
        return 0;
    }
    for (k = 0; k < count; k++) {
        int64_t a = from + (to - from) * k / count;
        int64_t b = from + (to - from) * (k + 1) / count;
        if ((ret = add_gap_segment(w, a, b - a, 0)) < 0) {
            return ret;
        }
    }
    w->anchored = 0;
    return 0;
}

int
cir_live_writer_fill_outage(cir_live_writer_t *w, uint32_t count,
                            int64_t hole_us)
{
    if (w == NULL) {
        return CIR_EINVAL;
    }
    w->gaps_pending = hole_us > 0 ? count : 0;
    w->gaps_hole_us = hole_us;
    return 0;
}

int
cir_live_writer_set_anchor(cir_live_writer_t *w, int64_t wall_us,
                           int64_t media_us)
{
    cir_live_index_t *x;

    if (w == NULL || wall_us <= 0 || media_us >= wall_us) {
        return CIR_EINVAL;
    }
    x = &w->idx;
    w->stream_wall_us = wall_us;
    w->stream_media_us = media_us;
    if (!w->written_any && wall_us - media_us < x->started_us) {
        /* a rendition that opened after the stream's media time 0 (a rung
         * started at the first decoded frame) starts with the stream: its
         * PDT is not moved past started_us, and availabilityStartTime (the
         * renditions' earliest) stays */
        x->started_us = wall_us - media_us;
    }
    return 0;
}

int
cir_live_writer_finish(cir_live_writer_t *w)
{
    int ret;

    if (w == NULL) {
        return CIR_EINVAL;
    }
    if (w->idx.ended) {
        return 0;
    }
    if (cir_live_open_segment(&w->idx) != NULL &&
        (ret = cir_live_writer_end_segment(w)) < 0) {
        return ret;
    }
    if (w->idx.target_duration == 0) {
        /* ended before the stream's target was decided: from its media */
        cir_live_index_t *x = &w->idx;
        int64_t longest = 0;
        for (size_t i = 0; i < x->nb_segments; i++) {
            if (x->segments[i].duration > longest) {
                longest = x->segments[i].duration;
            }
        }
        x->target_duration = cir_live_decide_target_duration(
            x->segment_target * 1000000 / x->timescale,
            longest * 1000000 / x->timescale);
        unlist_parts(w);
        compact_parts(w);
    }
    w->idx.ended = 1;
    return write_index(w);
}

const cir_live_index_t *
cir_live_writer_index(const cir_live_writer_t *w)
{
    return w ? &w->idx : NULL;
}

void
cir_live_writer_close(cir_live_writer_t **wp)
{
    cir_live_writer_t *w;

    if (wp == NULL || *wp == NULL) {
        return;
    }
    w = *wp;
    free(w->dir);
    cir_live_index_free(&w->idx);
    if (w->seg_fd >= 0) {
        close(w->seg_fd);
    }
    for (int k = 0; k < INDEX_FILES; k++) {
        if (w->idx_fd[k] >= 0) {
            close(w->idx_fd[k]);
        }
    }
    if (w->index_fd >= 0) {
        close(w->index_fd);
    }
    cir_buf_free(&w->enc);
    free(w->del);
    free(w);
    *wp = NULL;
}
