/*
 * The VOD intake: where jobs come from (a local spool folder, an SQS queue
 * of S3 event notifications) behind one interface, so the worker pool in
 * cirrus-worker does not care which.
 *
 * A source hands out claimed jobs; while one runs the pool calls heartbeat
 * (SQS: ChangeMessageVisibility); when its outputs are complete (manifests
 * written last) the pool calls ack (SQS: DeleteMessage; spool: remove the
 * claim); on failure fail() (a transient one is retried up to the source's
 * limit, then parked: SQS dead-letter queue by redrive, spool failed/ with
 * the error JSON); on shutdown release() (SQS: visibility 0; spool: back to
 * the queue); when the job's lease was lost, abandon() (the source is not
 * told anything: the item comes back by itself, maybe to another worker
 * already).
 *
 * Threads: next, ack, fail, release and abandon are called from one thread
 * (the pool's dispatcher); heartbeat from each job's own lease thread, at
 * the same time as the dispatcher's calls for other jobs but never with
 * another call for the same job.
 */
#ifndef CIR_INTAKE_H
#define CIR_INTAKE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cir_audio_tracks.h"
#include "cir_overlay.h"

#define CIR_JOB_ID_MAX         128
#define CIR_JOB_URI_MAX        4096
#define CIR_JOB_SUBTITLES_MAX  8192
#define CIR_JOB_ENCRYPTION_MAX 2048
#define CIR_JOB_PRESET_MAX     32768 /* an inline preset, compact JSON */
#define CIR_JOB_RUNGS_MAX      4096  /* rung overrides, compact JSON */

typedef struct {
    char id[CIR_JOB_ID_MAX];      /* unique per delivery source item */
    char input[CIR_JOB_URI_MAX];  /* file:// or s3:// */
    char output[CIR_JOB_URI_MAX]; /* file:// or s3:// asset root */
    char preset[64];
    unsigned only; /* CIR_ONLY_* bits, 0 = all */
    /* the job document's "audio_tracks"; none: every source track */
    cir_audio_tracks_t audio_tracks;
    int attempt;         /* 1 on first delivery */
    int64_t enqueued_us; /* when the job was created (queue wait) */
    void *handle;        /* the source's own (receipt handle...) */
    /* Which upload of the input this is: "versionId=..", "sequencer=..",
     * "etag=.." from an S3/EventBridge event, "id=.." from a job
     * document; "" if unknown.  A re-upload of the same key differs. */
    char source_version[256];
    /* Set when the message was read but cannot run (a key that cannot name
     * an output, an unreadable body): why, naming the rule.  The worker
     * fails such a job permanently (dead-letter queue, failed/) without
     * transcoding; it is never dropped. */
    char reject[512];
    /* The job document's "subtitles" (cir_subtitle_spec.h), checked and
     * re-encoded as compact JSON; "" for none. */
    char subtitles[CIR_JOB_SUBTITLES_MAX];
    /* The job document's "encryption": {"scheme": "cenc"|"cbcs",
     * "key_file": NAME}, checked and re-encoded as compact JSON (sorted
     * keys); "" for none.  NAME is a safe relative path under the worker's
     * key_dir, resolved when the job runs: a job document never carries a
     * key (it travels through queues, dead-letter queues, failed/). */
    char encryption[CIR_JOB_ENCRYPTION_MAX];
    /* The job document's "preset" when it is a whole preset object
     * (checked by cir_preset_parse, re-encoded as compact JSON); "" when
     * the job names a preset of the folder.  preset[] then holds its
     * "name", else "inline". */
    char preset_doc[CIR_JOB_PRESET_MAX];
    /* The job document's "rungs": {"<rung name>": {fields} | null, ...}
     * as compact JSON (cir_preset_override_rungs), "" for none.  Checked
     * against an inline preset here, against a named one when the job
     * starts (and by the job API). */
    char rungs[CIR_JOB_RUNGS_MAX];
    /* The job document's "clip": the source range [clip_start, clip_end)
     * in seconds; clip_end 0 = to the end.  clip is 1 when given. */
    int clip;
    double clip_start, clip_end;
    /* The job document's "overlay" (cir_overlay.h); enabled 0: none. */
    cir_overlay_t overlay;
} cir_vod_job_t;

/* Hex SHA-256 (64 chars) of a job's upload identity: input, output,
 * preset, only, audio_tracks, subtitles, encryption, an inline preset, rung
 * overrides, clip, overlay and source_version (else enqueued_us).  The worker
 * marks a published upload with <output>/.published/<tag>.json, so a
 * redelivered job is acknowledged without redoing it while a re-upload of the
 * same key (another source_version) publishes a new version. */
#define CIR_PUBLISH_TAG_LEN 64
int cir_intake_publish_tag(const cir_vod_job_t *job,
                           char tag[CIR_PUBLISH_TAG_LEN + 1]);

typedef struct cir_intake cir_intake_t;

typedef struct {
    /* 1 and a claimed job, 0 if none arrived within wait_ms, or < 0 */
    int (*next)(cir_intake_t *src, cir_vod_job_t *job, int wait_ms);
    /* extends the claim by extend_s in one attempt of at most within_ms,
     * given up when *abort is set; CIR_ENOTFOUND when the source says the
     * claim is no longer this worker's */
    int (*heartbeat)(cir_intake_t *src, cir_vod_job_t *job, int extend_s,
                     int within_ms, const atomic_int *abort);
    int (*ack)(cir_intake_t *src, cir_vod_job_t *job);
    /* permanent: no retry (bad input, bad preset) */
    int (*fail)(cir_intake_t *src, cir_vod_job_t *job, const char *error_json,
                int permanent);
    int (*release)(cir_intake_t *src, cir_vod_job_t *job);
    /* forgets a job whose lease was lost, without a call to the source */
    void (*abandon)(cir_intake_t *src, cir_vod_job_t *job);
    void (*close)(cir_intake_t *src);
    /* a job cancelled by an operator, never retried (spool: cancelled/);
     * NULL: the dispatcher acks it (SQS: the message is deleted) */
    int (*cancel)(cir_intake_t *src, cir_vod_job_t *job);
} cir_intake_ops_t;

struct cir_intake {
    const cir_intake_ops_t *ops;
    const char *name; /* "spool", "sqs" */
};

/*
 * Parses one job document: {"input": URI, "output": URI, "preset": NAME,
 * "only": "hls,dash", "audio_tracks": [...] (cir_audio_tracks_parse),
 * "subtitles": [...], "encryption": {"scheme", "key_file"},
 * "rungs": {NAME: {...} | null}, "clip": {"start", "end"},
 * "overlay": {...} (cir_overlay_parse)}; "preset" may
 * be a whole preset object instead of a NAME (docs/transcode.md)
 * (bounded, unknown fields rejected), or an S3 event
 * notification (Records[].s3.bucket.name / object.key URL-decoded, '+' is a
 * space; s3:TestEvent yields CIR_ENOTFOUND = nothing to do) or an
 * EventBridge "Object Created" event (detail.bucket.name, detail.object.key).
 * For S3 events the output is out_root + the key without its extension, and
 * the preset comes from the key's first path segment when it names a preset
 * in presets_dir, else default_preset.
 *
 * A key that cannot name an output is refused with CIR_EINVAL or
 * CIR_ELIMIT and the rule in err (job->input is set when the message named
 * one): an empty path segment ("a//b.mp4", a leading or trailing '/'), a
 * "." or ".." segment, a backslash or control byte, or an output prefix
 * that leaves output keys over S3's 1024-byte limit (cir_output_root_check).
 * Only CIR_ENOTFOUND (s3:TestEvent, events that create no object) means
 * "nothing to do"; every other error is a job to park, not to drop.
 */
int cir_intake_parse_job(const char *text, size_t len, const char *out_root,
                         const char *presets_dir, const char *default_preset,
                         cir_vod_job_t *job, char *err, size_t errsize);

#endif
