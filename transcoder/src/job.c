/*
 * One VOD job's context, built once.  See job.h.
 */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cir_error.h"
#include "cir_preset_codecs.h"
#include "input.h"
#include "supersede.h"

static int64_t
now_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
cir_job_fail(cir_job_ctx_t *c, int err, const char *fmt, ...)
{
    va_list ap;

    if (c->result->error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(c->result->error, sizeof(c->result->error), fmt, ap);
        va_end(ap);
        cir_log_error(&c->log, "%s", c->result->error);
    }
    return err;
}

/* The attempt's own version id: the caller's, else the start time and 64
 * bits from the kernel's random source. */
static int
pick_version(cir_job_ctx_t *c)
{
    uint64_t rnd = 0;
    const char *given = c->job->version;

    if (given != NULL && given[0] != '\0') {
        if (!cir_version_id_is_valid(given)) {
            return cir_job_fail(c, CIR_EINVAL,
                                "version \"%.80s\" is not [A-Za-z0-9_-]{1,63}",
                                given);
        }
        snprintf(c->result->version, sizeof(c->result->version), "%s", given);
        return 0;
    }
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        int err = -errno;
        return cir_job_fail(c, err, "no random bytes for a version id: %s",
                            cir_strerror(err));
    }
    return cir_version_id_make(now_wall_us(), rnd, c->result->version,
                               sizeof(c->result->version));
}

/* The version the asset's top-level manifests name before this job
 * writes its own (supersede.h); unknown when they cannot be read: nothing
 * is marked then but the records earlier publishes left. */
static void
read_previous(cir_job_ctx_t *c)
{
    int ret = cir_supersede_current(&c->out, c->previous, sizeof(c->previous));

    if (ret < 0) {
        c->previous[0] = '\0';
        cir_log_warn(&c->log,
                     "cannot read the asset's current version (%s): the "
                     "version this job replaces is not marked superseded",
                     cir_strerror(ret));
    }
    c->previous_known = 1;
}

/* <output> for the top-level manifests and <output>/v/<version>/ for
 * everything else (immutable). */
static int
open_stores(cir_job_ctx_t *c)
{
    char why[300], rel[CIR_VERSION_ID_MAX + 8];
    cir_uri_t vuri;
    int ret;

    if ((ret = cir_output_root_check(&c->out, why, sizeof(why))) < 0) {
        /* (the rule names the prefix, cut: a whole over-long one would
         * push the rule out of the log line) */
        return cir_job_fail(c, CIR_EINVAL, "output s3://%s/: %s", c->out.bucket,
                            why);
    }
    if ((ret = pick_version(c)) < 0) {
        return ret;
    }
    snprintf(rel, sizeof(rel), "%s/%s", CIR_VERSIONS_DIR, c->result->version);
    snprintf(c->version_base, sizeof(c->version_base), "%s/%s/",
             CIR_VERSIONS_DIR, c->result->version);
    if ((ret = cir_uri_join(&c->out, rel, &vuri)) < 0) {
        return cir_job_fail(c, CIR_EINVAL, "output %s: too long for a version",
                            c->job->output);
    }
    if ((ret = cir_store_open(&c->top, &c->out)) < 0 ||
        (ret = cir_store_open(&c->store, &vuri)) < 0) {
        return cir_job_fail(c, ret, "cannot open output %s: %s", c->job->output,
                            cir_strerror(ret));
    }
    cir_log_info(&c->log, "writing version %s", c->result->version);
    read_previous(c);
    return 0;
}

int
cir_job_open(cir_job_ctx_t *c, const cir_job_t *job, cir_result_t *result)
{
    struct timespec ts;
    char why[400];
    int ret;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    memset(c, 0, sizeof(*c));
    memset(result, 0, sizeof(*result));
    c->job = job;
    c->preset = job->preset;
    c->result = result;
    c->only = job->only ? job->only : CIR_ONLY_ALL;
    c->log = (cir_log_ctx_t){.component = "transcode", .job = job->job_id};
    c->start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;

    /* the codec rules are checked here, where the codecs live, whoever
     * loaded the preset */
    if (cir_preset_codecs_check(job->preset, why, sizeof(why)) < 0) {
        return cir_job_fail(c, CIR_EINVAL, "preset: %s", why);
    }
    if (cir_uri_parse_why(job->input, &c->in, why, sizeof(why)) < 0) {
        return cir_job_fail(c, CIR_EINVAL, "bad input URI '%s': %s", job->input,
                            why);
    }
    if (cir_uri_parse_why(job->output, &c->out, why, sizeof(why)) < 0) {
        return cir_job_fail(c, CIR_EINVAL, "bad output URI '%s': %s",
                            job->output, why);
    }
    c->input = c->in.scheme == CIR_URI_FILE ? c->in.path : job->input;
    if ((ret = open_stores(c)) < 0) {
        return ret;
    }
    /* stopped from outside (a lost lease): nothing more is written */
    cir_store_set_cancel(c->store, job->cancel);
    /* a failed job removes what it wrote (cir_job_discard_unpublished) */
    cir_store_track_writes(c->store);
    cir_store_track_writes(c->top);
    return 0;
}

void
cir_job_discard_unpublished(cir_job_ctx_t *c)
{
    size_t removed = 0;
    int ret;

    if (c->store == NULL || c->top == NULL) {
        return;
    }
    if (cir_store_written(c->top) > 0) {
        /* a top-level manifest names this version now: it is served */
        cir_log_warn(&c->log,
                     "version %s is kept: the asset's manifests name it",
                     c->result->version);
        return;
    }
    ret = cir_store_undo_writes(c->store, &removed);
    if (ret < 0) {
        cir_log_warn(&c->log,
                     "removing the unfinished version %s: %s (%zu objects "
                     "removed)",
                     c->result->version, cir_strerror(ret), removed);
    } else if (removed > 0) {
        cir_log_info(&c->log, "removed the unfinished version %s (%zu objects)",
                     c->result->version, removed);
    }
}

int
cir_job_open_input(cir_job_ctx_t *c, char *why, size_t why_len)
{
    return cir_job_open_input_into(c, &c->ic, why, why_len);
}

int
cir_job_open_input_into(cir_job_ctx_t *c, AVFormatContext **ic, char *why,
                        size_t why_len)
{
    AVDictionary *opts = NULL;
    int ret;

    /* bounded probing: a hostile file cannot make us read forever */
    av_dict_set(&opts, "probesize", "50000000", 0);
    av_dict_set(&opts, "analyzeduration", "20000000", 0);
    /* a name with '%' or '*' is a file, not an image2 sequence pattern */
    av_dict_set(&opts, "pattern_type", "none", 0);
    /* locked down: file or the S3 AVIOContext, the upload containers */
    ret = cir_input_open(ic, c->input, &opts, c->job->cancel, why, why_len);
    av_dict_free(&opts);
    return ret;
}

void
cir_job_close_input(cir_job_ctx_t *c)
{
    cir_input_close(&c->ic); /* and the S3 AVIOContext */
}

void
cir_job_mark_superseded(cir_job_ctx_t *c)
{
    cir_supersede_stats_t st;
    cir_result_t *res = c->result;
    int ret;

    if (!c->previous_known) {
        return;
    }
    ret = cir_supersede_mark(&c->out, c->previous, res->version, 0,
                             c->job->cancel, &c->log, &st);
    snprintf(res->superseded, sizeof(res->superseded), "%s", c->previous);
    res->superseded_objects = st.objects;
    res->supersede_failures = st.failures;
    if (ret < 0 && st.failures == 0) {
        res->supersede_failures = 1;
    }
}

void
cir_job_close(cir_job_ctx_t *c)
{
    cir_job_close_input(c);
    cir_store_close(&c->store);
    cir_store_close(&c->top);
}
