/* AWS Batch over its REST JSON protocol: SubmitJob and ListJobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "aws_internal.h"
#include "cir_error.h"

#define BATCH_REPLY_MAX (4u << 20)

/* POSTs body (consumed) to path; the parsed reply into *reply. */
static int
batch_call(cir_aws_t *a, const char *path, json_t *body, json_t **reply)
{
    char ep[600], what[128];
    aws_req_t r = {.service = "batch", .path = path, .low_speed_s = 60};
    int ret;

    *reply = NULL;
    if (body == NULL) {
        return CIR_ENOMEM;
    }
    if (aws_endpoint(a, "batch")[0] != '\0') {
        snprintf(ep, sizeof(ep), "%s", aws_endpoint(a, "batch"));
    } else {
        snprintf(ep, sizeof(ep), "https://batch.%s.amazonaws.com",
                 cir_aws_region(a));
    }
    snprintf(what, sizeof(what), "Batch %s", path);
    r.endpoint = ep;
    ret = aws_json_call(a, &r, "application/json", NULL, body, BATCH_REPLY_MAX,
                        what, reply);
    json_decref(body);
    return ret;
}

/* The SubmitJob body: parameters, and the environment when there is one. */
static json_t *
submit_body(const char *job_name, const char *job_queue,
            const char *job_definition, const cir_aws_kv_t *params,
            size_t nparams, const cir_aws_kv_t *env, size_t nenv)
{
    json_t *p = json_object(), *e = json_array();
    json_t *body = json_pack("{ss ss ss}", "jobName", job_name, "jobQueue",
                             job_queue, "jobDefinition", job_definition);

    for (size_t i = 0; p != NULL && i < nparams; i++) {
        json_object_set_new(p, params[i].name, json_string(params[i].value));
    }
    for (size_t i = 0; e != NULL && i < nenv; i++) {
        json_array_append_new(e, json_pack("{ss ss}", "name", env[i].name,
                                           "value", env[i].value));
    }
    if (body == NULL || p == NULL || e == NULL) {
        json_decref(body);
        json_decref(p);
        json_decref(e);
        return NULL;
    }
    json_object_set_new(body, "parameters", p);
    if (nenv > 0) {
        json_object_set_new(body, "containerOverrides",
                            json_pack("{so}", "environment", e));
    } else {
        json_decref(e);
    }
    return body;
}

int
cir_batch_submit_env(cir_aws_t *a, const char *job_name, const char *job_queue,
                     const char *job_definition, const cir_aws_kv_t *params,
                     size_t nparams, const cir_aws_kv_t *env, size_t nenv,
                     char *job_id, size_t idsize)
{
    json_t *body = submit_body(job_name, job_queue, job_definition, params,
                               nparams, env, nenv);
    json_t *reply;
    const char *id;
    size_t size;
    int ret;

    if (body == NULL) {
        return CIR_ENOMEM;
    }
    /* what batch_call sends; Batch refuses more, with a less clear 4xx */
    size = json_dumpb(body, NULL, 0, JSON_COMPACT);
    if (size > CIR_BATCH_SUBMIT_MAX) {
        json_decref(body);
        aws_set_error("SubmitJob: a request of %zu bytes, above the %d bytes "
                      "AWS Batch takes",
                      size, CIR_BATCH_SUBMIT_MAX);
        return CIR_ELIMIT;
    }
    ret = batch_call(a, "/v1/submitjob", body, &reply);
    if (ret < 0) {
        return ret;
    }
    id = json_string_value(json_object_get(reply, "jobId"));
    if (id == NULL || id[0] == '\0') {
        aws_set_error("SubmitJob: no jobId in the reply");
        ret = CIR_EPARSE;
    } else if (job_id != NULL) {
        snprintf(job_id, idsize, "%s", id);
    }
    json_decref(reply);
    return ret;
}

int
cir_batch_submit(cir_aws_t *a, const char *job_name, const char *job_queue,
                 const char *job_definition, const cir_aws_kv_t *params,
                 size_t nparams, char *job_id, size_t idsize)
{
    return cir_batch_submit_env(a, job_name, job_queue, job_definition, params,
                                nparams, NULL, 0, job_id, idsize);
}

int
cir_batch_list_by_name(cir_aws_t *a, const char *job_queue,
                       const char *job_name, cir_batch_job_t *jobs, size_t max)
{
    char *token = NULL;
    size_t found = 0;
    int ret = 0;

    for (int page = 0; page < CIR_BATCH_LIST_MAX_PAGES; page++) {
        json_t *body = json_pack("{ss s[{ss s[s]}] si}", "jobQueue", job_queue,
                                 "filters", "name", "JOB_NAME", "values",
                                 job_name, "maxResults", 100);
        json_t *reply, *list, *e;
        const char *next;
        size_t i;

        if (body != NULL && token != NULL) {
            json_object_set_new(body, "nextToken", json_string(token));
        }
        free(token);
        token = NULL;
        if ((ret = batch_call(a, "/v1/listjobs", body, &reply)) < 0) {
            return ret;
        }
        list = json_object_get(reply, "jobSummaryList");
        json_array_foreach(list, i, e)
        {
            const char *name = json_string_value(json_object_get(e, "jobName"));
            const char *id = json_string_value(json_object_get(e, "jobId"));
            if (name == NULL || id == NULL || strcasecmp(name, job_name) != 0) {
                continue;
            }
            if (found < max) {
                cir_batch_job_t *j = &jobs[found];
                const char *st =
                    json_string_value(json_object_get(e, "status"));
                json_t *c = json_object_get(e, "createdAt");
                snprintf(j->job_id, sizeof(j->job_id), "%s", id);
                snprintf(j->job_name, sizeof(j->job_name), "%s", name);
                snprintf(j->status, sizeof(j->status), "%s", st ? st : "");
                j->created_ms = json_is_integer(c) ? json_integer_value(c) : 0;
            }
            found++;
        }
        next = json_string_value(json_object_get(reply, "nextToken"));
        if (next != NULL && next[0] != '\0' && (token = strdup(next)) == NULL) {
            json_decref(reply);
            return CIR_ENOMEM;
        }
        json_decref(reply);
        if (token == NULL) {
            break;
        }
    }
    free(token);
    return found > (size_t)INT32_MAX ? INT32_MAX : (int)found;
}
