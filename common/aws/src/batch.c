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

int
cir_batch_submit(cir_aws_t *a, const char *job_name, const char *job_queue,
                 const char *job_definition, const cir_aws_kv_t *params,
                 size_t nparams, char *job_id, size_t idsize)
{
    json_t *p = json_object(), *reply;
    const char *id;
    int ret;

    for (size_t i = 0; i < nparams; i++) {
        json_object_set_new(p, params[i].name, json_string(params[i].value));
    }
    ret = batch_call(a, "/v1/submitjob",
                     json_pack("{ss ss ss so}", "jobName", job_name, "jobQueue",
                               job_queue, "jobDefinition", job_definition,
                               "parameters", p),
                     &reply);
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
