/*
 * What the live pipeline's files share (live.c, live_tracks.c,
 * live_fanout.c, live_timeline.c, live_stats.c): its state and the calls
 * between them.  Private to transcoder/src.
 */
#ifndef CIR_LIVE_INTERNAL_H
#define CIR_LIVE_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <libavutil/avutil.h>

#include "cir_error.h"
#include "cir_onair.h"
#include "cir_log.h"
#include "cir_storage.h"
#include "cmaf.h"
#include "cmaf_live.h"
#include "codecs.h"
#include "ladder.h"
#include "live_audio.h"
#include "live_health.h"
#include "live_probe.h"
#include "live_record.h"
#include "live_rung.h"
#include "live_silence.h"
#include "live_timestamps.h"

#define DEFAULT_VIDEO_BANDWIDTH 5000000
#define DEFAULT_AUDIO_BANDWIDTH 128000
#define DEFAULT_QUEUE_FRAMES    8
#define STATS_WINDOW_US         2000000
#define KEY_RING                16
#define MAX_RENDITIONS          (CIR_PRESET_MAX_RUNGS + 2)
/* the wall clock skipping this much past the media at a break is an
 * outage, filled with GAP segments (anchor_timeline) */
#define OUTAGE_FILL_MIN_US 500000

typedef struct {
    cir_cmaf_live_t *pkg;
    AVRational tb;
    AVRational frame_rate;
    cir_live_track_t track;
    int64_t last_dts; /* normalised, track tb */
    int present;
    AVRational src_tb; /* transcoded audio: the source packets' */
    cir_onair_rec_t *rec;
    atomic_uint_fast64_t frames, bytes; /* packaged */
} live_track_t;

/* Rates over the last stats window, for cir_onair_stats. */
typedef struct {
    atomic_uint_fast64_t bps, fps_milli;
    uint64_t last_frames, last_bytes;
} live_rate_t;

struct cir_live {
    cir_onair_config_t cfg;
    cir_encryption_t *enc;      /* NULL: clear; cleared from memory at close */
    struct cir_live_keys *keys; /* key rotation (cfg.rotate_segments) */
    char stream[CIR_LIVE_ID_MAX];
    char root[CIR_URI_MAX];
    live_track_t video, audio;
    cir_onair_ts_t ts; /* timestamp repair, in front of everything */
    /* its counts for cir_onair_stats ([track][kind], updated on repairs) */
    atomic_uint_fast64_t ts_count[2][CIR_ONAIR_TS_KINDS];
    uint64_t pkg_dropped[2]; /* the packagers' drops counted so far */
    cir_log_ctx_t log;

    /* ABR */
    cir_preset_t preset;
    int abr, passthrough;
    AVCodecContext *vdec;
    AVFrame *frame;
    AVPacket *pkt;             /* cir_onair_push's view of the packet pushed */
    int dec_need_key;          /* skip packets until a keyframe */
    int64_t key_pts[KEY_RING]; /* source keyframes not decoded yet */
    int nb_keys;
    int64_t next_key_us;   /* without passthrough: GOP schedule */
    int64_t vseg_start_us; /* the rungs' open segment (no passthrough) */
    int vseg_open;
    int64_t cts_delay; /* the source's pts - dts at its first keyframe */
    int fanned;        /* a frame went to the rungs */
    /* the decoded source carries closed captions (A/53 cc_data), and the
     * passthrough's index says so: the rungs say it of their own */
    int captions_seen, captions_said;
    /* audio holes filled with silence (passthrough AAC, live_silence.h):
     * where the audio packaged so far ends (audio tb; AV_NOPTS_VALUE:
     * none yet), and whether silence is standing in for it now */
    AVCodecParameters *apar;
    cir_onair_silence_t *silence;
    int silence_failed, silence_on;
    int64_t audio_end;
    /* when the timeline's first video segment starts to be shown (its
     * keyframe's PTS, µs; AV_NOPTS_VALUE: none yet): audio starting a
     * little after it is led in with silence */
    int64_t video_start_us;
    int disc_pending; /* a break before the next frame decoded */
    int paused;       /* the publisher left (cir_onair_pause) */
    cir_ladder_rung_t ladder[CIR_PRESET_MAX_RUNGS];
    cir_onair_rung_t *rungs[CIR_PRESET_MAX_RUNGS];
    int nb_rungs;
    int rungs_started;
    cir_onair_aac_t *aac; /* non-AAC audio */
    /* a passthrough video whose size is not known yet (no onMetaData): its
     * packager opens (or reconfigures) at the next keyframe, with the size
     * read from the SPS */
    AVCodecParameters *vpend;
    int vpend_reconf;
    double segment_seconds;
    int64_t part_target_us;   /* the stream's PART-TARGET */
    uint32_t target_duration; /* the stream's, once decided: every
                               * rendition has it (spread_target) */
    /* the wall clock of the current timeline, the same for every
     * rendition (anchor_timeline): media time anchor_media (µs) was
     * captured at anchor_wall; 0: no packet yet */
    int64_t anchor_wall, anchor_media;

    /* recording */
    char record_root[CIR_URI_MAX];
    char record_version[CIR_VERSION_ID_MAX];
    char record_dir[CIR_URI_MAX]; /* <record_root>/v/<version> */
    cir_onair_rec_t *rung_recs[CIR_PRESET_MAX_RUNGS];

    /* stats */
    int64_t open_us, window_us;
    atomic_uint_fast64_t bytes_in, frames_in;
    live_rate_t rate_in, rate_video, rate_audio;
    live_rate_t rate_rung[CIR_PRESET_MAX_RUNGS];
    live_health_t rung_health[CIR_PRESET_MAX_RUNGS]; /* the pipeline's */
    atomic_int rung_degraded[CIR_PRESET_MAX_RUNGS];  /* for the stats */
};

/* ---- between the files (live_: private to the pipeline) ---- */

int live_anchor_timeline(cir_onair_t *l, int64_t media_us);
int live_decode(cir_onair_t *l, const AVPacket *pkt);
int live_drain_decoder(cir_onair_t *l);
int live_open_decoder(cir_onair_t *l, const AVCodecParameters *par,
                      AVRational tb);
int live_open_deferred_video(cir_onair_t *l, const AVPacket *key);
int live_open_rec(cir_onair_t *l, const char *name, cir_onair_rec_t **rec);
/* The stream's packaging, the same for every rendition (live_rung.h). */
cir_onair_packaging_t live_packaging(const cir_onair_t *l);
int live_rec_sync(live_track_t *t);
int live_spread_decided(cir_onair_t *l, const live_track_t *t);
int live_spread_target(cir_onair_t *l, uint32_t td);
int live_start_rungs(cir_onair_t *l, int width, int height);
int live_timeline_break(cir_onair_t *l);
int64_t live_mono_us(void);
void live_log_repairs(cir_onair_t *l);
void live_note_dropped(cir_onair_t *l);
void live_note_repairs(cir_onair_t *l, int video,
                       const cir_onair_ts_result_t *r, const AVPacket *in);
void live_rendition_dir(const cir_onair_t *l, const char *name, char *dir,
                        size_t size);
void live_stats_tick(cir_onair_t *l);

#endif
