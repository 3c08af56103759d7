/*
 * The live index: what a live packager has written for one rendition of one
 * stream, and what the origin renders playlists from.
 *
 * The live store is a folder per stream and rendition:
 *
 *   <root>/<stream>/<rendition>/index              this index (encoded)
 *   <root>/<stream>/<rendition>/init-<k>.mp4       CMAF header, k from 1
 *   <root>/<stream>/<rendition>/seg-<msn>.m4s      segments, parts appended
 *
 * A segment file grows part by part (each part appended in place, no copy):
 * the LL-HLS part URL part-<msn>.<i>.m4s is served as the byte range of
 * seg-<msn>.m4s that the index records for it (the sizes of the parts
 * before it give its offset), and seg-<msn>.m4s as a whole once the index
 * says the segment is complete.  Media bytes are written before the index
 * that lists them, so a reader that sees an object in the index can serve
 * it; nothing outside the listed ranges is ever served.  The index is
 * replaced whole on each update (rename into place): it is bounded by the
 * DVR window, and a torn or foreign file fails to decode (CRC) instead of
 * misleading.  The origin never parses a playlist a packager wrote.
 *
 * Times are in the track's timescale; wall-clock times in microseconds since
 * the Unix epoch.
 */
#ifndef CIR_LIVE_H
#define CIR_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "cir_buf.h"
#include "cir_clock.h"
#include "cir_encryption.h"

#define CIR_LIVE_MAX_PARTS      128  /* parts in one segment */
#define CIR_LIVE_MAX_SEGMENTS   8192 /* segments in one index */
#define CIR_LIVE_INDEX_MAX_SIZE (8 << 20)
#define CIR_LIVE_ID_MAX         64 /* stream and rendition names */

/* --- the live store's names (live_paths.c) ------------------------------
 * Every path of the layout above comes from these two functions: the
 * writer, the origin's answers and the nginx module spell no file name. */

#define CIR_LIVE_MAX_RENDITIONS 32 /* renditions a stream serves */
/* <root>/<stream>/<rendition>/<name>, with room for a root of 1 KiB */
#define CIR_LIVE_PATH_MAX (1024 + 2 * CIR_LIVE_ID_MAX + 32)

typedef enum {
    CIR_LIVE_FILE_INDEX = 0, /* index */
    CIR_LIVE_FILE_INIT,      /* init-<n>.mp4 */
    CIR_LIVE_FILE_SEGMENT,   /* seg-<n>.m4s */
    CIR_LIVE_FILE_INDEX_SLOT /* .index.<n>: the writer's index rotation */
} cir_live_file_t;

/* <dir>/<the file's name>, or the name alone when dir is NULL.  0, or
 * -ENAMETOOLONG (out holds "" then). */
int cir_live_path(char *out, size_t size, const char *dir, cir_live_file_t kind,
                  uint64_t n);
/* A stream's folder <root>/<stream>, or with a rendition its folder
 * <root>/<stream>/<rendition>.  0, or -ENAMETOOLONG. */
int cir_live_dir(char *out, size_t size, const char *root, const char *stream,
                 const char *rendition);
/* Which store file name[0, len) is (canonical decimals only, so one file
 * has one name): 0, or CIR_ENOTFOUND. */
int cir_live_name_parse(const char *name, size_t len, cir_live_file_t *kind,
                        uint64_t *n);
/* A canonical decimal in s[0, len) (no sign, no leading zero, at most
 * max): 0, or CIR_EINVAL. */
int cir_live_parse_number(const char *s, size_t len, uint64_t max, uint64_t *v);

/* --- end of live_paths.c ------------------------------------------------ */

typedef struct {
    int64_t duration; /* timescale units */
    uint32_t size;    /* bytes in seg-<msn>.m4s, after the parts before it */
    uint8_t independent;
    uint8_t gap;
} cir_live_part_t;

typedef struct {
    uint64_t msn;          /* media sequence number */
    int64_t start;         /* tfdt of the first sample */
    int64_t duration;      /* whole segment; for the open one, its parts */
    int64_t pdt_us;        /* wall clock of the first sample */
    uint64_t size;         /* bytes of seg-<msn>.m4s (0 while open) */
    uint32_t init_id;      /* the init-<k>.mp4 its samples need */
    uint8_t discontinuity; /* EXT-X-DISCONTINUITY before it */
    uint8_t complete;      /* seg-<msn>.m4s holds all its parts */
    uint8_t gap;           /* no media (EXT-X-GAP) */
    uint8_t outage;        /* media over a publisher's outage (the last
                            * picture, silence): listed in HLS, left out of
                            * the MPD as the gap that opens its Period */
    uint32_t first_part;   /* index into cir_live_index_t.parts */
    uint32_t nb_parts;     /* listed; 0 once its parts have aged out */
    uint32_t nb_kept;      /* records kept after ageing out, so their
                            * byte ranges stay servable for a while:
                            * parts[first_part .. + cir_live_nb_records) */
} cir_live_segment_t;

/* Part records a segment holds in parts[]: the listed ones first. */
static inline uint32_t
cir_live_nb_records(const cir_live_segment_t *s)
{
    return s->nb_kept > s->nb_parts ? s->nb_kept : s->nb_parts;
}

typedef enum {
    CIR_LIVE_VIDEO = 0,
    CIR_LIVE_AUDIO
} cir_live_kind_t;

typedef struct {
    char rendition[CIR_LIVE_ID_MAX]; /* folder name, [A-Za-z0-9_-] */
    cir_live_kind_t kind;
    char codecs[64]; /* RFC 6381 */
    int width, height;
    double frame_rate;
    int sample_rate, channels;
    uint64_t bandwidth; /* declared peak bits/s */
    uint64_t average_bandwidth;
    /* a video whose SEI carries CEA-608/708 closed captions (A/53 cc_data,
     * CC1): set once a frame with them was seen, never cleared */
    uint8_t closed_captions;
} cir_live_track_t;

/* How the media of init-<from_init>.mp4 and later inits (up to the next
 * key's from_init) is encrypted: what the renderers signal (HLS EXT-X-KEY
 * after the EXT-X-MAP, DASH ContentProtection), never the key itself.
 * The pssh boxes are the init's own (whole boxes, as written there). */
#define CIR_LIVE_MAX_KEYS 32 /* key records an index keeps */
typedef struct {
    uint32_t from_init;
    uint8_t scheme; /* CIR_ENC_CENC or CIR_ENC_CBCS */
    uint8_t key_id[16];
    uint32_t systems; /* CIR_DRM_BIT()s */
    uint16_t pssh_len[CIR_DRM_NB];
    uint8_t pssh[CIR_DRM_NB][CIR_SPEKE_PSSH_MAX]; /* none for FairPlay */
    uint16_t playready_pro_len;
    uint8_t playready_pro[CIR_SPEKE_PSSH_MAX];
    char fairplay_key_uri[CIR_DRM_URL_MAX]; /* "": none */
} cir_live_key_t;

typedef struct {
    cir_live_track_t track;
    uint32_t timescale;
    int64_t segment_target; /* nominal segment duration, timescale units */
    int64_t part_target;    /* parts' maximum, timescale units (0: none) */
    /* The stream's timing, the same in every rendition (RFC 8216bis 6.2.4:
     * one TARGETDURATION and SERVER-CONTROL for all; see
     * cir_live_decide_target_duration): */
    uint32_t target_duration; /* EXT-X-TARGETDURATION, s; never changes */
    int64_t part_target_us;   /* PART-TARGET, whole ms in µs (0: from
                               * part_target) */
    uint32_t window;          /* segments kept in the playlist */
    uint32_t discontinuity_sequence; /* discontinuities before segments[0] */
    uint32_t init_id;                /* the latest init-<k>.mp4 (0: none yet) */
    uint8_t ended;                   /* EXT-X-ENDLIST */
    uint8_t paused;     /* between timelines (a break, a publisher gone): no
                         * part is hinted until the next media segment opens,
                         * so a hint never names what an outage's GAP segment
                         * takes (cir_live_writer_fill_outage) */
    uint64_t version;   /* +1 on every update */
    int64_t updated_us; /* wall clock of the last update */
    int64_t started_us; /* wall clock of the stream's start */
    /* The run segments[0] belongs to (the segments since the latest
     * discontinuity): pdt_us and start of its first segment, and the wall
     * clock where the segment before it ended (0: none), kept after those
     * segments leave the index, so a DASH Period keeps its start. */
    int64_t run_pdt_us;
    int64_t run_start;
    int64_t run_after_us;

    cir_live_segment_t *segments; /* oldest first; the last may be open */
    size_t nb_segments;
    cir_live_part_t *parts;
    size_t nb_parts;
    /* encryption (none: clear), from_init increasing */
    cir_live_key_t *keys;
    size_t nb_keys;
} cir_live_index_t;

/* Encoding and decoding: pure, bounded.  Decoding checks every length and
 * count against the limits above and the CRC; on error nothing is kept. */
int cir_live_index_encode(const cir_live_index_t *idx, cir_buf_t *out);
int cir_live_index_decode(const void *data, size_t len, cir_live_index_t *idx);
void cir_live_index_free(cir_live_index_t *idx);
/* The key record that applies to init-<init_id>.mp4 (the one with the
 * largest from_init <= init_id), or NULL: clear. */
const cir_live_key_t *cir_live_index_key(const cir_live_index_t *idx,
                                         uint32_t init_id);
/* Reads and decodes <dir>/index. */
int cir_live_index_load(const char *dir, cir_live_index_t *idx);

/* The last segment and part that exist: *msn, *part (-1: the segment is
 * complete and no part of the next one exists yet).  CIR_ENOTFOUND if the
 * index holds no media. */
int cir_live_index_last(const cir_live_index_t *idx, uint64_t *msn, int *part);
/* The segment with this msn, or NULL (not yet, or left the window). */
const cir_live_segment_t *cir_live_index_segment(const cir_live_index_t *idx,
                                                 uint64_t msn);
/* Where part `part` of segment msn lies in seg-<msn>.m4s: 0, or
 * CIR_ENOTFOUND when the index holds no record of it. */
int cir_live_index_part_range(const cir_live_index_t *idx, uint64_t msn,
                              uint32_t part, uint64_t *offset, uint32_t *size);

/* --- a live stream's timing, decided once for all its renditions (pure) ---
 *
 * PART-TARGET is the configured part duration rounded up to whole
 * milliseconds, so it prints exactly and PART-HOLD-BACK (3 x PART-TARGET)
 * prints as exactly three times it.  Packagers close a part before it
 * would exceed it and, but for a segment's last part, not before 85 % of it.
 *
 * With the video's frame rate known, parts are a whole number of frames
 * that tiles a segment of the segment target (10 frames at 30 fps and 2 s,
 * 10 at 25 fps: 0.4 s, since 8 or 9 frames leave a short last part), the
 * number nearest the configured part duration; PART-TARGET is that plus
 * half a frame (at most 10 %) for timestamp jitter, in whole ms up.  A
 * part exactly at the configured duration would otherwise outgrow the
 * target with any jitter, every part would lose a frame, and each segment
 * would end with a runt part (0.09 s at 30 fps), which hls.js skips: it
 * treats a buffer end within 0.25 s (maxFragLookUpTolerance) of a
 * segment's end as past it, leaving a hole it stalls on.
 *
 * EXT-X-TARGETDURATION is decided when the stream's first video segment
 * closes (at the first keyframe past the segment target; audio-only
 * streams at once, from the target alone): the larger of the segment
 * target and the first segment's duration, each less 100 ms and rounded
 * up, capped at CIR_LIVE_TD_FACTOR x the target.  A keyframe interval longer
 * than the segment target (a passthrough from an encoder with 4 s GOPs)
 * thus gets a target duration that fits its segments (4), instead of
 * segments longer than the target duration or segments that do not start
 * with a keyframe.  Nothing of a rendition is published before the stream's
 * target duration is known (its first segment: a few seconds at start).
 * A segment never reaches cir_live_segment_limit_us: past it a packager
 * cuts without waiting for a keyframe (a source whose keyframe interval
 * grew after the start), so every EXTINF rounds to at most the target. */

#define CIR_LIVE_TD_FACTOR 4

int64_t cir_live_part_target_us(double part_seconds);
/* ... for a video of fr_num/fr_den frames per second (0: not known, then
 * cir_live_part_target_us) and segments of segment_seconds. */
int64_t cir_live_video_part_target_us(double part_seconds,
                                      double segment_seconds, int fr_num,
                                      int fr_den);
/* first_segment_us <= 0: not known (audio only) */
uint32_t cir_live_decide_target_duration(int64_t segment_target_us,
                                         int64_t first_segment_us);
/* The largest target duration the decision gives for this target. */
uint32_t cir_live_max_target_duration(int64_t segment_target_us);
/* Segments stay shorter than this (their EXTINF rounds to <= td). */
int64_t cir_live_segment_limit_us(uint32_t target_duration);
/* Whether segment i's parts are listed in a playlist of idx: only in the
 * last three segments (the open one counted, or the next one whose first
 * part is hinted) and within 3 target durations of the end (RFC 8216bis
 * 4.4.4.9). */
int cir_live_parts_listed(const cir_live_index_t *idx, size_t i);

/* What part 0 of a GAP segment answers (a part hinted at a segment
 * boundary whose number became an outage's GAP segment): a CMAF chunk
 * without a sample at the gap's start, appended to `out`. */
#define CIR_LIVE_GAP_CHUNK_SIZE 92
int cir_live_gap_chunk(cir_buf_t *out, const cir_live_segment_t *gap);
/* A CMAF chunk (moof + mdat) of n sync samples, sizes[i] bytes each one
 * after another in data, lasting durations[i], at decode_time: an
 * outage's silent audio (cir_live_writer_take_outage).  n <= 4096. */
int cir_live_media_chunk(cir_buf_t *out, uint32_t sequence, int64_t decode_time,
                         const uint32_t *durations, const uint32_t *sizes,
                         uint32_t n, const uint8_t *data, size_t data_len);

/* --- the writer: the live store's window and index policy (pure).  It
 * keeps one rendition's index in memory and decides what the store must
 * become; a file adapter (transcoder/src/live_store.c) performs it.  What a
 * live packager asks of the store, in this order per segment: put_part ...
 * put_part, end_segment; put_init before the first part and again (with a
 * discontinuity) when the codec configuration changes.  Each is a sequence
 * of the calls below with the adapter's file work between them:
 *
 *   open:        cir_live_writer_open, [load <dir>/index] resume, INDEX
 *   put_init:    begin_init, [END_SEGMENT if has_open_segment], next_init,
 *                [write init-<id>.mp4 whole], init_written, INDEX
 *   put_part:    begin_part, [REMOVALS; create seg-<msn>.m4s if the plan
 *                opens it; write the bytes at plan.offset] then
 *                commit_part, or abort_part on a failure; then INDEX
 *                (put_last_part: END_SEGMENT instead)
 *   END_SEGMENT: [the segment file whole, closed], close_segment, INDEX,
 *                segments_due, REMOVALS
 *   put_gap_segment, then INDEX, segments_due, REMOVALS
 *   set_target_duration, finish: INDEX when they return 1
 *   INDEX:       REMOVALS, next_index, [publish the bytes as <dir>/index]
 *   REMOVALS:    [remove seg-<msn>.m4s] while take_removal gives one
 */

typedef struct {
    const char *dir; /* <root>/<stream>/<rendition>, created */
    cir_live_track_t track;
    uint32_t timescale;
    int64_t segment_target;   /* timescale units */
    int64_t part_target;      /* timescale units */
    int64_t part_target_us;   /* PART-TARGET (cir_live_part_target_us) */
    uint32_t target_duration; /* 0: decided later (set_target_duration);
                               * nothing is published until then */
    uint32_t window;          /* segments listed (DVR window), >= 3 */
    const cir_clock_t *clock; /* NULL: the system clock */
} cir_live_writer_config_t;

typedef struct cir_live_writer cir_live_writer_t;

/* Where a part goes: appended to seg-<msn>.m4s at offset; opens: the
 * part opens that segment (its file is created, new and empty, first). */
typedef struct {
    uint64_t msn;
    uint64_t offset;
    int opens;
} cir_live_part_plan_t;

/* cfg->dir is the adapter's. */
int cir_live_writer_open(cir_live_writer_t **w,
                         const cir_live_writer_config_t *cfg);
/* The folder held an index (old): its numbering goes on (see the top of
 * live_writer.c). */
int cir_live_writer_resume(cir_live_writer_t *w, const cir_live_index_t *old);
/* The next index version, encoded (valid until the next call), to be
 * published whole; *len 0: nothing to publish yet (the stream's target
 * duration not known). */
int cir_live_writer_next_index(cir_live_writer_t *w, const void **data,
                               size_t *len);
/* A segment file to remove now (1, *msn: seg-<msn>.m4s), oldest first, or
 * 0.  Taken before an index is published. */
int cir_live_writer_take_removal(cir_live_writer_t *w, uint64_t *msn);
/* After an index published at a segment's end: the segment files whose
 * time came go to take_removal (nothing listed names them). */
void cir_live_writer_segments_due(cir_live_writer_t *w);
int cir_live_writer_has_open_segment(const cir_live_writer_t *w);
/* The media sequence number the next segment opened gets (a held GAP
 * segment's aside). */
uint64_t cir_live_writer_next_msn(const cir_live_writer_t *w);

/* A new init segment of len bytes (CIR_EINVAL: not now); after the first,
 * the next segment starts with a discontinuity.  next_init names its file
 * (init-<id>.mp4; CIR_ELIMIT: no number left); init_written once it is. */
int cir_live_writer_begin_init(const cir_live_writer_t *w, size_t len);
int cir_live_writer_next_init(const cir_live_writer_t *w, uint32_t *id);
void cir_live_writer_init_written(cir_live_writer_t *w);
/* A part of len bytes at start: where it goes (opening a segment at start
 * if none is open, after an outage's GAP segments).  Its bytes are written
 * there before commit_part lists it (last: it ends its segment, listed
 * with the segment's end: END_SEGMENT follows); abort_part when they could
 * not be (file_created: the plan's new file exists, and is removed). */
int cir_live_writer_begin_part(cir_live_writer_t *w, size_t len, int64_t start,
                               int64_t duration, cir_live_part_plan_t *plan);
void cir_live_writer_commit_part(cir_live_writer_t *w, size_t len,
                                 int64_t start, int64_t duration,
                                 int independent, int last);
void cir_live_writer_abort_part(cir_live_writer_t *w,
                                const cir_live_part_plan_t *plan,
                                int file_created);
/* The open segment's file holds its parts, in order: it is complete.
 * Slides the window, drops part records 3 target durations after they
 * leave the playlist (a segment stays in the index, listed, until its part
 * records went) and hands out segment files one window after they leave
 * it (segments_due).  Every index unlists the parts that
 * cir_live_parts_listed no longer lists.  CIR_EINVAL: none open. */
int cir_live_writer_close_segment(cir_live_writer_t *w);
/* A segment without media (EXT-X-GAP; no file, no parts), none being
 * open: a follower's number for a segment its leader began just before a
 * break, so every rendition breaks at the same MSN.  Listed with the next
 * segment (its first part), not before: a playlist that ends with a GAP
 * while the publisher is away stops Shaka Player; dropped if the stream
 * ends first. */
int cir_live_writer_put_gap_segment(cir_live_writer_t *w, int64_t start,
                                    int64_t duration);
/* The next segment starts with EXT-X-DISCONTINUITY (publisher reconnect,
 * timestamp jump). */
int cir_live_writer_discontinuity(cir_live_writer_t *w);
/* Between timelines from now on (before the break's last index write):
 * no part is hinted until the first media segment after the break's
 * discontinuity opens (see cir_live_index_t.paused); a segment the break
 * itself opens (its last samples flushed) leaves it paused. */
void cir_live_writer_pause(cir_live_writer_t *w);
/* After that discontinuity and the new timeline's set_anchor, when the
 * wall clock went on hole_us further than the media did (a publisher's
 * outage): `count` EXT-X-GAP segments (at most the window) fill it, put
 * with the new timeline's first part, just before the anchor's media
 * time, with the same times and PDT in every rendition, so the playlist's
 * timeline stays in step with the wall clock (a player whose live edge
 * follows the wall clock, as Shaka's does, would otherwise find every
 * later segment late by the outage and shrink its window by as much on
 * each reload).  The stream decides count once for all its renditions,
 * so their MSNs stay the same; nothing without a pending discontinuity. */
int cir_live_writer_fill_outage(cir_live_writer_t *w, uint32_t count,
                                int64_t hole_us);
/* For a rendition that fills an outage with media (silence, the last
 * picture) rather than GAP segments: the pending outage taken (1), so the
 * next part opens no GAP segment: `count` segments over [*from, *to) of
 * the timescale, the k-th ending at from + (to - from) * (k + 1) / count,
 * where the GAP segments of a rendition that lists them would (0: none
 * pending); the first begins at *begin (>= from: this rendition's media
 * may have run past where the stream's broke, and its PDT does not step
 * back).  A follower's held GAP segment is put first.  The caller then
 * puts those segments' parts (the first one carries the discontinuity),
 * or, for one it cannot fill, put_outage_gap. */
int cir_live_writer_take_outage(cir_live_writer_t *w, uint32_t *count,
                                int64_t *from, int64_t *to, int64_t *begin);
/* One of a taken outage's segments as a GAP segment (none being open). */
int cir_live_writer_put_outage_gap(cir_live_writer_t *w, int64_t start,
                                   int64_t duration);
/* The stream's wall clock: media time media_us (µs on the stream's
 * timeline, which every rendition shares) was captured at wall_us.  The
 * stream's packager decides it once per timeline (at its start and after
 * each discontinuity) and gives every rendition the same, so
 * PROGRAM-DATE-TIME is the same at the same media time in all of them
 * (RFC 8216bis 6.2.4).  Used from the next segment that opens after the
 * start, a discontinuity, a new init or a timestamp jump (PDT = wall_us +
 * its start - media_us, but never before the end of the segment before
 * it nor media time 0 before started_us); without one the writer anchors
 * at its own wall clock.  Before the first segment, started_us moves back
 * to wall_us - media_us if that is earlier. */
int cir_live_writer_set_anchor(cir_live_writer_t *w, int64_t wall_us,
                               int64_t media_us);
/* The stream's target duration, once (CIR_EINVAL if another was set):
 * 1, the index held back until then is to be published; 0: already set. */
int cir_live_writer_set_target_duration(cir_live_writer_t *w, uint32_t td);
/* The media of the next init segment (put_init) and of those after it is
 * encrypted as key says (copied; NULL: clear from then on).  Key records
 * no listed segment needs any more are dropped as segments leave. */
int cir_live_writer_set_key(cir_live_writer_t *w, const cir_live_key_t *key);
/* Marks the track as carrying closed captions (cir_live_track_t): 1 when
 * that changed the index (to be published), 0 when it had them already. */
int cir_live_writer_set_closed_captions(cir_live_writer_t *w);
/* Ends the stream (ENDLIST), the open segment closed first (CIR_EINVAL
 * otherwise): 1, the index is to be published; 0: it had ended. */
int cir_live_writer_finish(cir_live_writer_t *w);
const cir_live_index_t *cir_live_writer_index(const cir_live_writer_t *w);
void cir_live_writer_close(cir_live_writer_t **w);

#endif
