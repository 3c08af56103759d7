/*
 * The intake's AWS Batch dispatch: job names and the per-message decision
 * (see cir_intake_batch.h).  Pure: jansson, OpenSSL's SHA-256 and common/;
 * Batch and SQS are reached through the caller's ops.
 */
#include "cir_intake_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cir_clip.h"
#include "cir_error.h"
#include "cir_json.h"
#include "cir_log.h"
#include "cir_preset.h"
#include "intake_internal.h"

#define MSG_MAX_BYTES (256 * 1024) /* an SQS message is at most 256 KiB */

static const char *
str_at(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);

    if (b != NULL) {
        v = json_object_get(v, b);
    }
    if (c != NULL) {
        v = json_object_get(v, c);
    }
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v)
                                                          : NULL;
}

/* input + which version of it: versionId, else sequencer, else ETag. */
static int
object_identity(const json_t *root, const cir_vod_job_t *job, char *out,
                size_t size)
{
    const char *version = NULL, *seq = NULL, *etag = NULL, *id = NULL;
    const json_t *r;
    int n;

    if (json_object_get(root, "Records") != NULL) {
        if ((r = cir_intake_s3_record(root)) == NULL) {
            return CIR_EPARSE;
        }
        version = str_at(r, "s3", "object", "versionId");
        seq = str_at(r, "s3", "object", "sequencer");
        etag = str_at(r, "s3", "object", "eTag");
    } else if (json_object_get(root, "detail-type") != NULL) {
        version = str_at(root, "detail", "object", "version-id");
        seq = str_at(root, "detail", "object", "sequencer");
        etag = str_at(root, "detail", "object", "etag");
    } else {
        id = str_at(root, "id", NULL, NULL);
    }
    if (version != NULL) {
        n = snprintf(out, size, "%s?versionId=%s", job->input, version);
    } else if (seq != NULL) {
        n = snprintf(out, size, "%s#sequencer=%s", job->input, seq);
    } else if (etag != NULL) {
        n = snprintf(out, size, "%s#etag=%s", job->input, etag);
    } else if (id != NULL) {
        n = snprintf(out, size, "%s#id=%s", job->input, id);
    } else {
        n = snprintf(out, size, "%s", job->input);
    }
    return n < 0 || (size_t)n >= size ? CIR_ELIMIT : 0;
}

int
cir_batch_name_is_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > CIR_BATCH_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_'))) {
            return 0;
        }
    }
    return 1;
}

int
cir_intake_batch_job_name(const char *text, size_t len,
                          const cir_vod_job_t *job, char *identity,
                          size_t idsize, char name[CIR_BATCH_NAME_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    json_t *root = NULL;
    EVP_MD_CTX *ctx = NULL;
    char err[128];
    size_t o;
    int ret;

    name[0] = '\0';
    ret = cir_json_parse(text, len, MSG_MAX_BYTES, &root, err, sizeof(err));
    if (ret < 0) {
        return ret;
    }
    if (!json_is_object(root)) {
        ret = CIR_EPARSE;
        goto fail;
    }
    if ((ret = object_identity(root, job, identity, idsize)) < 0) {
        goto fail;
    }
    /* the same version sent to another output or preset is another job */
    if ((ctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, identity, strlen(identity) + 1) != 1 ||
        EVP_DigestUpdate(ctx, job->output, strlen(job->output) + 1) != 1 ||
        EVP_DigestUpdate(ctx, job->preset, strlen(job->preset) + 1) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        ret = CIR_EINTERNAL;
        goto fail;
    }
    o = (size_t)snprintf(name, CIR_BATCH_NAME_MAX + 1, "%s",
                         CIR_BATCH_NAME_PREFIX);
    for (unsigned i = 0; i < mdlen; i++) {
        name[o++] = hex[md[i] >> 4];
        name[o++] = hex[md[i] & 15];
    }
    name[o] = '\0';
    ret = 0;
fail:
    EVP_MD_CTX_free(ctx);
    json_decref(root);
    return ret;
}

int
cir_batch_outcome_acks(cir_batch_outcome_t o)
{
    return o == CIR_BATCH_SUBMITTED || o == CIR_BATCH_DUPLICATE ||
           o == CIR_BATCH_NOT_A_JOB;
}

static const char *
ops_error(const cir_intake_batch_ops_t *ops)
{
    const char *e = ops->last_error ? ops->last_error(ops->opaque) : NULL;
    return e != NULL ? e : "";
}

static cir_batch_outcome_t
finish(const cir_intake_batch_ops_t *ops, void *msg, cir_batch_result_t *res,
       cir_batch_outcome_t o)
{
    cir_log_ctx_t ctx = {.component = "intake-batch",
                         .job = res->job_name[0] ? res->job_name : NULL};

    res->outcome = o;
    if (cir_batch_outcome_acks(o)) {
        int ret = ops->ack(ops->opaque, msg);
        if (ret < 0) {
            /* it comes back and is then found as a duplicate */
            cir_log_warn(&ctx, "DeleteMessage: %s", ops_error(ops));
        }
    }
    switch (o) {
    case CIR_BATCH_SUBMITTED:
        cir_log_info(&ctx, "submitted %s -> %s (preset %s) as Batch job %s",
                     res->job.input, res->job.output, res->job.preset,
                     res->job_id);
        break;
    case CIR_BATCH_DUPLICATE:
        cir_log_info(&ctx,
                     "Batch has this job already (%s): not submitted again",
                     res->message);
        break;
    case CIR_BATCH_NOT_A_JOB:
        if (res->error == CIR_ENOTFOUND) {
            cir_log_info(&ctx, "nothing to do: %s", res->message);
        } else {
            cir_log_error(&ctx, "message is not a job, dropped: %s",
                          res->message);
        }
        break;
    case CIR_BATCH_RETRY:
        cir_log_warn(&ctx, "left in the queue for a retry: %s", res->message);
        break;
    case CIR_BATCH_REJECTED:
        cir_log_error(&ctx, "%s, message kept: %s",
                      res->job_name[0] ? "Batch refused the job"
                                       : "the job cannot run (the redrive "
                                         "policy parks it)",
                      res->message);
        break;
    }
    return o;
}

/* Transient (after the client's retries): RETRY; any other refusal from
 * Batch: REJECTED. */
static cir_batch_outcome_t
failed(const cir_intake_batch_ops_t *ops, void *msg, cir_batch_result_t *res,
       const char *what, int ret)
{
    res->error = ret;
    snprintf(res->message, sizeof(res->message), "%s: %s (%s)", what,
             ops_error(ops), cir_errname(ret));
    return finish(ops, msg, res,
                  ret == CIR_ETRANSIENT || ret == CIR_ENOMEM
                      ? CIR_BATCH_RETRY
                      : CIR_BATCH_REJECTED);
}

void
cir_batch_env_free(cir_batch_env_t *env)
{
    for (size_t i = 0; i < env->n; i++) {
        free(env->value[i]);
    }
    env->n = 0;
}

/* Adds NAME=text (copied; NULL text: ENOMEM). */
static int
env_add(cir_batch_env_t *env, const char *name, const char *text)
{
    char *v = text != NULL ? strdup(text) : NULL;

    if (v == NULL) {
        return CIR_ENOMEM;
    }
    env->name[env->n] = name;
    env->value[env->n++] = v;
    return 0;
}

/* Adds NAME=compact JSON of v (consumed; NULL: ENOMEM). */
static int
env_add_json(cir_batch_env_t *env, const char *name, json_t *v)
{
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
    int ret = env_add(env, name, text);

    free(text);
    json_decref(v);
    return ret;
}

/* "hls,dash,..." of the CIR_ONLY_* bits (cir_only_parse reads it). */
static void
only_text(unsigned only, char *out, size_t size)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{CIR_ONLY_HLS, "hls"},
                 {CIR_ONLY_DASH, "dash"},
                 {CIR_ONLY_THUMBS, "thumbs"},
                 {CIR_ONLY_IMAGES, "images"}};
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((only & names[i].bit) != 0 && len < size) {
            len += (size_t)snprintf(out + len, size - len, "%s%s",
                                    len ? "," : "", names[i].name);
        }
    }
}

int
cir_intake_batch_env(const cir_vod_job_t *job, cir_batch_env_t *env)
{
    cir_clip_t clip = {job->clip, job->clip_start, job->clip_end};
    char only[64];
    int ret = 0;

    env->n = 0;
    only_text(job->only, only, sizeof(only));
    if (job->only != 0 && job->only != CIR_ONLY_ALL) {
        ret = env_add(env, "CIRRUS_TRANSCODE_ONLY", only);
    }
    if (ret == 0 && job->audio_tracks.nb > 0) {
        ret = env_add_json(env, "CIRRUS_TRANSCODE_AUDIO_TRACKS",
                           cir_audio_tracks_to_json(&job->audio_tracks));
    }
    if (ret == 0 && job->preset_doc[0] != '\0') {
        ret = env_add(env, "CIRRUS_TRANSCODE_PRESET_JSON", job->preset_doc);
    }
    if (ret == 0 && job->rungs[0] != '\0') {
        ret = env_add(env, "CIRRUS_TRANSCODE_RUNGS", job->rungs);
    }
    if (ret == 0 && job->clip) {
        ret =
            env_add_json(env, "CIRRUS_TRANSCODE_CLIP", cir_clip_to_json(&clip));
    }
    if (ret == 0 && job->overlay.enabled) {
        ret = env_add_json(env, "CIRRUS_TRANSCODE_OVERLAY",
                           cir_overlay_to_json(&job->overlay));
    }
    if (ret < 0) {
        cir_batch_env_free(env);
    }
    return ret;
}

cir_batch_outcome_t
cir_intake_batch_handle(const cir_intake_batch_config_t *cfg,
                        const cir_intake_batch_ops_t *ops, const char *body,
                        size_t len, void *msg, cir_batch_result_t *res)
{
    char err[400], status[32] = "";
    int ret;

    memset(res, 0, sizeof(*res));
    ret =
        cir_intake_parse_job(body, len, cfg->out_root, cfg->presets_dir,
                             cfg->default_preset, &res->job, err, sizeof(err));
    if (ret < 0) {
        res->error = ret;
        snprintf(res->message, sizeof(res->message), "%s", err);
        /* only "nothing to do" is deleted; a job that cannot run stays for
         * the redrive policy to park in the dead-letter queue */
        return finish(ops, msg, res,
                      ret == CIR_ENOTFOUND ? CIR_BATCH_NOT_A_JOB
                                           : CIR_BATCH_REJECTED);
    }
    if (res->job.encryption[0] != '\0') {
        /* the key file is on the worker's disk, not in a Batch container,
         * and a key in the job's environment would be in every
         * DescribeJobs answer: refused, not run in the clear */
        res->error = CIR_EUNSUPPORTED;
        snprintf(res->message, sizeof(res->message),
                 "encryption: not passed to AWS Batch jobs (dispatch=batch); "
                 "run this job with dispatch=local");
        return finish(ops, msg, res, CIR_BATCH_REJECTED);
    }
    ret = cir_intake_batch_job_name(body, len, &res->job, res->identity,
                                    sizeof(res->identity), res->job_name);
    if (ret < 0 || !cir_batch_name_is_valid(res->job_name)) {
        res->error = ret < 0 ? ret : CIR_EINTERNAL;
        snprintf(res->message, sizeof(res->message),
                 "no job name for %.300s: %s", res->job.input,
                 cir_strerror(res->error));
        return finish(ops, msg, res, CIR_BATCH_NOT_A_JOB);
    }
    ret = ops->find(ops->opaque, cfg->job_queue, res->job_name, res->job_id,
                    sizeof(res->job_id), status, sizeof(status));
    if (ret < 0) {
        return failed(ops, msg, res, "ListJobs", ret);
    }
    if (ret > 0) {
        snprintf(res->message, sizeof(res->message), "job %s, %s", res->job_id,
                 status[0] ? status : "?");
        return finish(ops, msg, res, CIR_BATCH_DUPLICATE);
    }
    ret = ops->submit(ops->opaque, cfg, res->job_name, &res->job, res->job_id,
                      sizeof(res->job_id));
    if (ret < 0) {
        res->job_id[0] = '\0';
        return failed(ops, msg, res, "SubmitJob", ret);
    }
    return finish(ops, msg, res, CIR_BATCH_SUBMITTED);
}
