/*
 * The live pipeline: demuxed packets of one stream in, LL-HLS/LL-DASH
 * renditions out through the origin's live index writer.  The RTMP server
 * feeds it from the network; `cirrus-transcode --live-root` feeds it from a
 * file at real time.
 *
 * Renditions: the source video passed through as "video" (when no preset
 * is given, or `passthrough` is set), one transcoded rendition per rung of a
 * live preset (folder = rung name), and the audio as "audio" (AAC passes
 * through, other codecs are transcoded to AAC).  The source video is decoded
 * once on the pushing thread; each rung scales (bicubic) and encodes
 * (libx264, zero latency) on its own thread behind a bounded queue: a rung
 * that falls behind drops frames (counted, logged) instead of growing
 * memory.  Rung keyframes are forced where the source has keyframes (with
 * the passthrough) or every GOP (without), so every rendition cuts segments
 * at the same times; the audio cuts at the AAC frame nearest each video
 * cut, from the first segment on, so media sequence numbers match.  One
 * timing for the stream (cir_live.h): PART-TARGET from part_seconds, the
 * target duration decided when the first video segment closes and given to
 * every rendition; nothing is published before that.  Timestamps go
 * through a repair stage first (transcoder/src/live_timestamps.h): the
 * stream starts at 0, DTS strictly increase per track and PTS >= DTS
 * (repeated, bunched and slightly backward DTS and negative composition
 * offsets are repaired, not dropped), wraps are undone, and a jump of more
 * than `max_gap_seconds` or a repair of more than `max_correction_seconds`
 * starts a new segment with a discontinuity.
 *
 * Threads: every function but cir_onair_stats is called from one thread;
 * cir_onair_stats may be called from another while the stream runs (not
 * concurrently with cir_onair_close).
 */
#ifndef CIR_ONAIR_H
#define CIR_ONAIR_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#include <jansson.h>

#include "cir_clock.h"
#include "cir_encryption.h"
#include "cir_preset.h"

typedef struct {
    const char *live_root;  /* the live store */
    const char *stream;     /* [A-Za-z0-9_-]{1,63} */
    double part_seconds;    /* e.g. 0.333 */
    double segment_seconds; /* e.g. 2 */
    uint32_t window;        /* segments kept (DVR window) */
    double max_gap_seconds; /* a jump larger than this is a break (0: 5) */
    double max_correction_seconds; /* a timestamp repair larger than this
                                    * is a break instead (0: 0.5) */
    int ts_wrap_bits;         /* the source's timestamps wrap at 2^bits ticks
                               * (RTMP: 32); 0: never */
    const cir_clock_t *clock; /* NULL: system */

    /* ABR (all optional; zero = the passthrough-only pipeline) */
    const cir_preset_t *preset; /* rungs; NULL: passthrough only.  Copied.
                                 * segment_seconds 0: the preset's */
    int passthrough;            /* with a preset: also publish the source as
                                 * "video" (without a preset it always is) */
    int queue_frames;           /* frames queued per rung (0: 8; 2..64) */
    const char *record_uri;     /* file:// (or a path): at the end, the whole
                                 * stream as a VOD asset there; NULL: none */
    int test_rung_delay_us;     /* tests: the last rung sleeps this long per
                                 * frame (simulates a slow encoder) */
    /* Common Encryption of every rendition (cenc or cbcs, one key for the
     * stream; docs/encryption.md); NULL: clear.  Copied, and cleared from
     * memory at close.  Not with record_uri (CIR_EUNSUPPORTED). */
    const cir_encryption_t *encryption;
    /* key rotation: a new key every this many segments, asked of
     * encryption's SPEKE key provider ahead of time (needs speke.url);
     * 0: one key */
    uint32_t rotate_segments;
} cir_onair_config_t;

typedef struct cir_live cir_onair_t;

int cir_onair_open(cir_onair_t **l, const cir_onair_config_t *cfg);
/* Declares the tracks before the first packet.  bandwidth: declared bits/s
 * for the master playlist (0: from par->bit_rate, or a default). */
int cir_onair_add_video(cir_onair_t *l, const AVCodecParameters *par,
                        AVRational time_base, AVRational frame_rate,
                        uint64_t bandwidth);
int cir_onair_add_audio(cir_onair_t *l, const AVCodecParameters *par,
                        AVRational time_base, uint64_t bandwidth);
/* A new sequence header for a track: new init segment + discontinuity. */
int cir_onair_reconfigure(cir_onair_t *l, int video,
                          const AVCodecParameters *par);
/* Packets in the time base given for their track; not consumed. */
int cir_onair_push(cir_onair_t *l, int video, const AVPacket *pkt);
/* For a feeder that batches packets (each hand-over to a pipeline thread
 * costs a wake-up): the earliest dts, in µs of the time base given for the
 * track, from which a packet of this track may complete a part (or start
 * a segment); earlier ones only add to open parts.  INT64_MIN: every
 * packet may (ABR rungs, audio transcoding, nothing open yet).  Valid
 * until the next call on l. */
int64_t cir_onair_wake_us(const cir_onair_t *l, int video);
/* The publisher left and may come back: every open segment ends now (no
 * ENDLIST); the next packet starts a new timeline (a discontinuity). */
int cir_onair_pause(cir_onair_t *l);
/* The stream ended: last parts, ENDLIST on every rendition. */
int cir_onair_finish(cir_onair_t *l);
void cir_onair_close(cir_onair_t **l);

/*
 * Per-stream statistics for a status endpoint: a new JSON object (the
 * caller decrefs) with "stream", "uptime" (s), "bitrate_in" (bit/s over the
 * last few seconds), "fps_in", "frames_in", "dropped_frames" (all rungs) and
 * "renditions": [{"name", "type", "width", "height", "bitrate", "fps",
 * "frames", "dropped_frames"}] and "timestamp_repairs": {"video": {KIND:
 * count, ...}, "audio": {...}} (kinds: cir_onair_ts_kind_name).  NULL on
 * allocation failure.
 */
json_t *cir_onair_stats(const cir_onair_t *l);

/* --- a live source from a file (for tests and demos, like ffmpeg -re) --- */

typedef struct {
    const char *input; /* a media file path */
    cir_onair_config_t live;
    int loops;          /* play the file this many extra times; -1: forever */
    double max_seconds; /* stop after this much media (0: no limit) */
    int realtime;       /* pace packets to the wall clock */
    atomic_int *cancel; /* set to 1 to stop (ENDLIST is still written) */
} cir_onair_file_job_t;

/* Reads the file (at real time when asked) into a live pipeline until the
 * end, the limit or a cancel; always ends the stream cleanly. */
int cir_onair_run_file(const cir_onair_file_job_t *job);

#endif
