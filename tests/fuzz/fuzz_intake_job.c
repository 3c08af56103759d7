/* Fuzzes what arrives on a VOD queue: the job document (with its
 * audio_tracks and subtitles lists) / S3 event / EventBridge parser, then
 * the Batch job name derived from a parsed one. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cir_intake.h"
#include "cir_intake_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cir_vod_job_t job;
    static char identity[CIR_JOB_URI_MAX + 1200];
    char name[CIR_BATCH_NAME_MAX + 1], err[256];
    const char *text = (const char *)data;

    memset(&job, 0, sizeof(job));
    /* no presets_dir: the preset comes from the default (no file I/O) */
    if (cir_intake_parse_job(text, size, "s3://out/vod", NULL, "web", &job, err,
                             sizeof(err)) < 0) {
        return 0;
    }
    if (memchr(job.input, '\0', sizeof(job.input)) == NULL ||
        memchr(job.output, '\0', sizeof(job.output)) == NULL) {
        __builtin_trap(); /* a parsed job is always terminated */
    }
    if (cir_intake_batch_job_name(text, size, &job, identity, sizeof(identity),
                                  name) == 0 &&
        !cir_batch_name_is_valid(name)) {
        __builtin_trap(); /* a derived name is one Batch accepts */
    }
    return 0;
}
