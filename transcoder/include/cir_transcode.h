/*
 * The VOD transcoder: one job from an input URI to an output URI with a
 * preset.  Decode once; scale and encode every rung in its own thread;
 * package one set of CMAF files; render HLS and DASH manifests with origin/;
 * thumbnails, sprites and a WebVTT track from the same decoded frames; image
 * renditions for stills.  Everything is written once into a new published
 * version, <output>/v/<version>/, then the top-level manifests that point at
 * it, last: a job that fails leaves no master.m3u8 or manifest.mpd, and no
 * object a published manifest references ever changes.
 */
#ifndef CIR_TRANSCODE_H
#define CIR_TRANSCODE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cir_audio_tracks.h"
#include "cir_encryption.h"
#include "cir_overlay.h"
#include "cir_preset.h"
#include "cir_subtitle_spec.h"

typedef struct {
    double percent; /* 0..100, -1 if the duration is unknown */
    double fps;     /* decoded frames per second of wall time */
    double speed;   /* media seconds per wall second */
    double eta;     /* seconds, -1 if unknown */
    double media_time;
    double duration; /* of the input, 0 if unknown */
    double elapsed;
} cir_progress_t;

typedef void (*cir_progress_cb)(void *opaque, const cir_progress_t *p);

typedef struct {
    const char *input;  /* URI */
    const char *output; /* URI */
    const cir_preset_t *preset;
    unsigned only; /* CIR_ONLY_* bits; 0 = all */
    const char *job_id;
    cir_progress_cb progress;
    void *opaque;
    atomic_int *cancel; /* set to 1 to stop; may be NULL */
    /* The published version this attempt writes (v/<version>/ below the
     * output); NULL: a new one, unique to this attempt
     * (cir_version_id_make with the start time and 64 random bits). */
    const char *version;
    /* Which source audio streams become audio renditions, in this order,
     * with their language and name ("audio_tracks" of a job document);
     * NULL or none: every audio stream of the source, in source order. */
    const cir_audio_tracks_t *audio_tracks;
    /* Sidecar subtitle files, each a subtitle rendition (the job's
     * "subtitles"); NULL or count 0: none. */
    const cir_subtitle_specs_t *subtitles;
    /* Common Encryption of every video and audio rendition (the job's
     * "encryption", cir_encryption.h); NULL or CIR_ENC_NONE: clear.
     * Subtitles, thumbnails and image renditions stay clear. */
    const cir_encryption_t *encryption;
    /* Only the source's range [clip_start, clip_end) in seconds from its
     * start (the job's "clip"), output from time 0; clip_end 0: to the
     * end.  clip 0: the whole source. */
    int clip;
    double clip_start, clip_end;
    /* A watermark burned into every video rung (the job's "overlay",
     * cir_overlay.h); NULL or not enabled: none. */
    const cir_overlay_t *overlay;
} cir_job_t;

typedef struct {
    char id[32];
    int video;
    int width, height;
    double frame_rate;
    char codecs[64];
    uint64_t bandwidth, average_bandwidth;
    size_t segments;
    int closed_captions; /* video: carries the source's CEA-608 captions */
    /* audio */
    int channels;
    char language[CIR_LANGUAGE_MAX];
    char name[CIR_AUDIO_NAME_MAX];
    int is_default;
    /* audio.loudness: the source as measured for this rendition (its
     * layout), the target, and how it was reached ("linear": one gain,
     * "dynamic": loudnorm's dynamic mode, "none": silence) */
    int loudness; /* the fields below are set */
    double loudness_input_i, loudness_input_tp, loudness_input_lra;
    double loudness_target_i, loudness_target_tp;
    char loudness_mode[8];
} cir_result_rendition_t;

/* A per-title ladder as chosen (the preset's video.per_title): the probe's
 * figures and each rung of the fixed ladder, how it was encoded and why. */
typedef struct {
    char id[32];
    int width, height;
    char mode[8];       /* "fixed", "crf" (capped CRF) or "dropped" */
    double crf;         /* "crf" */
    int bitrate_kbps;   /* the preset's: the cap */
    int estimated_kbps; /* what the probe says the target quality needs */
    double expected_psnr;
    char reason[160];
} cir_result_per_title_rung_t;

typedef struct {
    int enabled;           /* the preset asked for it */
    char error[160];       /* the probe failed: the fixed ladder, and why */
    double target_psnr_db; /* the preset's */
    int probe_frames;
    double probe_seconds, probe_cpu_seconds;
    int nb_points; /* each probe encode: its size, CRF, rate and PSNR */
    struct {
        int width, height;
        double crf, kbps, psnr;
    } points[8];
    int nb_rungs;
    cir_result_per_title_rung_t rungs[CIR_PRESET_MAX_RUNGS];
} cir_result_per_title_t;

typedef struct {
    double duration; /* seconds of output */
    double elapsed;  /* wall seconds */
    int is_image;
    size_t nb_renditions;
    cir_result_rendition_t
        renditions[CIR_PRESET_MAX_RUNGS + 2 * CIR_AUDIO_TRACKS_MAX];
    char error[512];  /* on failure, what went wrong */
    char version[64]; /* the version written under <output>/v/ */
    /* the version this one superseded ("" for none; supersede.h), and the
     * marking of superseded versions for the lifecycle rule: objects
     * tagged, versions left for the next publish after an error */
    char superseded[64];
    int superseded_objects;
    int supersede_failures;
    /* the renditions' encryption: the scheme and the key ID (32 hex), never
     * the key; CIR_ENC_NONE when nothing was encrypted */
    cir_enc_scheme_t encryption;
    char key_id[33];
    /* the job's clip as applied: the source's range in seconds (clip_end
     * 0: to its end, unknown) */
    int clip;
    double clip_start, clip_end;
    cir_result_per_title_t per_title;
} cir_result_t;

/* {"scheme": "cenc", "key_ids": ["<32 hex>"]} for an encrypted result,
 * else NULL: what the result JSON of cirrus-transcode and cirrus-worker
 * says about encryption. */
json_t *cir_result_encryption_json(const cir_result_t *r);

/* Runs the job.  0 on success, a negative cir_err_t otherwise with
 * result->error set. */
int cir_transcode_run(const cir_job_t *job, cir_result_t *result);

/* Routes FFmpeg's log into cir_log (call once at start-up). */
void cir_transcode_route_av_log(void);
/* Sets the process's allocator for VOD jobs (call once at start-up, before
 * any thread): blocks of 128 KiB and more are mapped on their own and given
 * back when freed, so the buffers a job frees (packets, segment buffers)
 * do not stay resident in each thread's heap (process_memory.c). */
void cir_transcode_tune_memory(void);

/* Exit codes of cirrus-transcode (AWS Batch keys its retry on them; the
 * table with their meaning is in README.md, "Exit codes"). */
enum {
    CIR_EXIT_OK = 0,
    CIR_EXIT_USAGE = 1,
    CIR_EXIT_BAD_INPUT = 2,  /* not media, truncated, missing input */
    CIR_EXIT_BAD_PRESET = 3, /* bad preset or job */
    CIR_EXIT_TRANSIENT = 4,  /* S3 kept failing, I/O, memory: retry */
    CIR_EXIT_INTERNAL = 5,   /* a bug */
    CIR_EXIT_ACCESS = 6,     /* credentials or permissions refused, an
                                output that may not be written */
    CIR_EXIT_INTERRUPTED = 130
};

/* The exit code for an error returned by cir_transcode_run. */
int cir_transcode_exit_code(int err);
/* 1 when no retry of the job can help (usage, bad input, bad preset,
 * access refused), 0 when another attempt may succeed. */
int cir_transcode_exit_permanent(int code);

#endif
