/*
 * The live index: what a live packager has written for one rendition of one
 * stream, and what the origin renders playlists from.
 *
 * The live store is a folder per stream and rendition:
 *
 *   <root>/<stream>/<rendition>/index              this index (encoded)
 *   <root>/<stream>/<rendition>/init-<k>.mp4       CMAF header, k from 1
 *   <root>/<stream>/<rendition>/part-<msn>.<i>.m4s LL-HLS parts, i from 0
 *   <root>/<stream>/<rendition>/seg-<msn>.m4s      whole segments
 *
 * Every file appears atomically (written aside, then renamed), the media
 * before the index that lists it, so a reader that sees an object in the
 * index can serve it.  The index is rewritten whole (write + rename) on each
 * update: it is bounded by the DVR window, a reader never sees a torn record,
 * and a torn or foreign file fails to decode (CRC) instead of misleading.
 * The origin never parses a playlist a packager wrote.
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

#define CIR_LIVE_MAX_PARTS      128  /* parts in one segment */
#define CIR_LIVE_MAX_SEGMENTS   8192 /* segments in one index */
#define CIR_LIVE_INDEX_MAX_SIZE (8 << 20)
#define CIR_LIVE_ID_MAX         64 /* stream and rendition names */

typedef struct {
    int64_t duration; /* timescale units */
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
    uint8_t complete;      /* seg-<msn>.m4s exists */
    uint8_t gap;           /* no media (EXT-X-GAP) */
    uint32_t first_part;   /* index into cir_live_index_t.parts */
    uint32_t nb_parts;     /* 0 once its parts have aged out */
} cir_live_segment_t;

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
} cir_live_track_t;

typedef struct {
    cir_live_track_t track;
    uint32_t timescale;
    int64_t segment_target; /* nominal segment duration, timescale units */
    int64_t part_target;    /* PART-TARGET, timescale units (0: no parts) */
    uint32_t window;        /* segments kept in the playlist */
    uint32_t discontinuity_sequence; /* discontinuities before segments[0] */
    uint32_t init_id;                /* the latest init-<k>.mp4 (0: none yet) */
    uint8_t ended;                   /* EXT-X-ENDLIST */
    uint64_t version;                /* +1 on every update */
    int64_t updated_us;              /* wall clock of the last update */
    int64_t started_us;              /* wall clock of the stream's start */

    cir_live_segment_t *segments; /* oldest first; the last may be open */
    size_t nb_segments;
    cir_live_part_t *parts;
    size_t nb_parts;
} cir_live_index_t;

/* Encoding and decoding: pure, bounded.  Decoding checks every length and
 * count against the limits above and the CRC; on error nothing is kept. */
int cir_live_index_encode(const cir_live_index_t *idx, cir_buf_t *out);
int cir_live_index_decode(const void *data, size_t len, cir_live_index_t *idx);
void cir_live_index_free(cir_live_index_t *idx);
/* Reads and decodes <dir>/index. */
int cir_live_index_load(const char *dir, cir_live_index_t *idx);

/* The last segment and part that exist: *msn, *part (-1: the segment is
 * complete and no part of the next one exists yet).  CIR_ENOTFOUND if the
 * index holds no media. */
int cir_live_index_last(const cir_live_index_t *idx, uint64_t *msn, int *part);
/* The segment with this msn, or NULL (not yet, or left the window). */
const cir_live_segment_t *cir_live_index_segment(const cir_live_index_t *idx,
                                                 uint64_t msn);

/* --- the writer: what a live packager calls, in this order per segment:
 * put_part ... put_part, end_segment; put_init before the first part and
 * again (with a discontinuity) when the codec configuration changes. */

typedef struct {
    const char *dir; /* <root>/<stream>/<rendition>, created */
    cir_live_track_t track;
    uint32_t timescale;
    int64_t segment_target;   /* timescale units */
    int64_t part_target;      /* timescale units */
    uint32_t window;          /* segments listed (DVR window), >= 3 */
    const cir_clock_t *clock; /* NULL: the system clock */
} cir_live_writer_config_t;

typedef struct cir_live_writer cir_live_writer_t;

int cir_live_writer_open(cir_live_writer_t **w,
                         const cir_live_writer_config_t *cfg);
/* A new init segment; after the first, the next segment starts with a
 * discontinuity. */
int cir_live_writer_put_init(cir_live_writer_t *w, const void *data,
                             size_t len);
/* Appends a part to the open segment (opening one at `start` if none is
 * open); writes part-<msn>.<i>.m4s, then the index. */
int cir_live_writer_put_part(cir_live_writer_t *w, const void *data, size_t len,
                             int64_t start, int64_t duration, int independent);
/* Closes the open segment: writes seg-<msn>.m4s (its parts, in order), then
 * the index; slides the window and removes files that aged out (parts 3
 * target durations after they leave the playlist, segments one window
 * after). */
int cir_live_writer_end_segment(cir_live_writer_t *w);
/* The next segment starts with EXT-X-DISCONTINUITY (publisher reconnect,
 * timestamp jump). */
int cir_live_writer_discontinuity(cir_live_writer_t *w);
/* Ends the stream: closes an open segment, sets ENDLIST. */
int cir_live_writer_finish(cir_live_writer_t *w);
const cir_live_index_t *cir_live_writer_index(const cir_live_writer_t *w);
void cir_live_writer_close(cir_live_writer_t **w);

#endif
