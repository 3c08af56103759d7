/* SQS over the JSON protocol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws_internal.h"
#include "cir_error.h"

/* Endpoint of a queue: the custom one, or the queue URL's origin. */
static void
sqs_endpoint(cir_aws_t *a, const char *queue_url, char *ep, size_t size)
{
    const char *custom = aws_endpoint(a, "sqs");
    const char *hs = strstr(queue_url, "://");

    if (custom[0] != '\0' || hs == NULL) {
        snprintf(ep, size, "%s", custom);
        return;
    }
    hs += 3;
    snprintf(ep, size, "%.*s", (int)(hs - queue_url + strcspn(hs, "/")),
             queue_url);
}

/* limits: the request's timeout_ms, extra_ms, max_attempts and abort */
static int
sqs_call_limited(cir_aws_t *a, const char *queue_url, const char *action,
                 json_t *body, const aws_req_t *limits, json_t **reply)
{
    char ep[1024], target[64], what[64];
    aws_req_t r = {.service = "sqs", .path = "/", .low_speed_s = 60};

    *reply = NULL;
    sqs_endpoint(a, queue_url, ep, sizeof(ep));
    if (ep[0] == '\0') {
        return CIR_EINVAL;
    }
    json_object_set_new(body, "QueueUrl", json_string(queue_url));
    snprintf(target, sizeof(target), "AmazonSQS.%s", action);
    snprintf(what, sizeof(what), "SQS %s", action);
    r.endpoint = ep;
    if (limits != NULL) {
        r.timeout_ms = limits->timeout_ms;
        r.extra_ms = limits->extra_ms;
        r.max_attempts = limits->max_attempts;
        r.abort = limits->abort;
    }
    return aws_json_call(a, &r, "application/x-amz-json-1.0", target, body,
                         16 << 20, what, reply);
}

static int
sqs_call(cir_aws_t *a, const char *queue_url, const char *action, json_t *body,
         json_t **reply)
{
    return sqs_call_limited(a, queue_url, action, body, NULL, reply);
}

void
cir_sqs_msg_free(cir_sqs_msg_t *m)
{
    free(m->body);
    m->body = NULL;
}

static int
int_attr(json_t *attrs, const char *name)
{
    const char *s = json_string_value(json_object_get(attrs, name));
    char *end;
    long v;

    if (s == NULL) {
        return 0;
    }
    v = strtol(s, &end, 10);
    return *end == '\0' && v >= 0 && v < 1000000000 ? (int)v : 0;
}

int
cir_sqs_receive(cir_aws_t *a, const char *queue_url, int max, int wait_s,
                int visibility_s, cir_sqs_msg_t *msgs)
{
    json_t *body = json_object(), *reply = NULL, *list, *m;
    size_t i;
    int n = 0, ret;

    if (max < 1 || max > 10 || wait_s < 0 || wait_s > 20) {
        json_decref(body);
        return CIR_EINVAL;
    }
    json_object_set_new(body, "MaxNumberOfMessages", json_integer(max));
    json_object_set_new(body, "WaitTimeSeconds", json_integer(wait_s));
    if (visibility_s > 0) {
        json_object_set_new(body, "VisibilityTimeout",
                            json_integer(visibility_s));
    }
    json_object_set_new(
        body, "AttributeNames",
        json_pack("[ss]", "ApproximateReceiveCount", "SentTimestamp"));
    /* a long poll may take its wait on top of the usual time */
    ret = sqs_call_limited(a, queue_url, "ReceiveMessage", body,
                           &(aws_req_t){.extra_ms = wait_s * 1000}, &reply);
    json_decref(body);
    if (ret < 0) {
        return ret;
    }
    list = json_object_get(reply, "Messages");
    json_array_foreach(list, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "MessageId"));
        const char *rh = json_string_value(json_object_get(m, "ReceiptHandle"));
        const char *b = json_string_value(json_object_get(m, "Body"));
        json_t *attrs = json_object_get(m, "Attributes");
        if (n >= max || id == NULL || rh == NULL || b == NULL) {
            continue;
        }
        cir_sqs_msg_t *o = &msgs[n];
        memset(o, 0, sizeof(*o));
        snprintf(o->id, sizeof(o->id), "%s", id);
        snprintf(o->receipt, sizeof(o->receipt), "%s", rh);
        if ((o->body = strdup(b)) == NULL) {
            break;
        }
        o->body_len = strlen(b);
        o->receive_count = int_attr(attrs, "ApproximateReceiveCount");
        {
            const char *st =
                json_string_value(json_object_get(attrs, "SentTimestamp"));
            o->sent_ms = st ? strtoll(st, NULL, 10) : 0;
        }
        n++;
    }
    json_decref(reply);
    return n;
}

int
cir_sqs_delete(cir_aws_t *a, const char *queue_url, const char *receipt)
{
    json_t *body = json_pack("{ss}", "ReceiptHandle", receipt), *reply;
    int ret = sqs_call(a, queue_url, "DeleteMessage", body, &reply);

    json_decref(body);
    json_decref(reply);
    return ret;
}

int
cir_sqs_change_visibility(cir_aws_t *a, const char *queue_url,
                          const char *receipt, int timeout_s)
{
    json_t *body = json_pack("{ss si}", "ReceiptHandle", receipt,
                             "VisibilityTimeout", timeout_s),
           *reply;
    int ret = sqs_call(a, queue_url, "ChangeMessageVisibility", body, &reply);

    json_decref(body);
    json_decref(reply);
    return ret;
}

int
cir_sqs_extend_visibility(cir_aws_t *a, const char *queue_url,
                          const char *receipt, int timeout_s, int within_ms,
                          const atomic_int *abort)
{
    json_t *body = json_pack("{ss si}", "ReceiptHandle", receipt,
                             "VisibilityTimeout", timeout_s),
           *reply;
    aws_req_t limits = {.timeout_ms = within_ms > 0 ? within_ms : 1,
                        .max_attempts = 1,
                        .abort = abort};
    int ret = sqs_call_limited(a, queue_url, "ChangeMessageVisibility", body,
                               &limits, &reply);
    const char *code = cir_aws_last_error_code();

    json_decref(body);
    json_decref(reply);
    /* AWS's JSON protocol names them bare, the query protocol with an
     * AWS.SimpleQueueService. prefix */
    if (ret < 0 && (strstr(code, "MessageNotInflight") != NULL ||
                    strstr(code, "ReceiptHandleIsInvalid") != NULL)) {
        return CIR_ENOTFOUND;
    }
    return ret;
}

int
cir_sqs_send(cir_aws_t *a, const char *queue_url, const char *text, char *id,
             size_t idsize)
{
    json_t *body = json_pack("{ss}", "MessageBody", text), *reply;
    int ret = sqs_call(a, queue_url, "SendMessage", body, &reply);

    if (ret == 0 && id != NULL) {
        const char *v = json_string_value(json_object_get(reply, "MessageId"));
        snprintf(id, idsize, "%s", v ? v : "");
    }
    json_decref(body);
    json_decref(reply);
    return ret;
}

int
cir_sqs_max_receive_count(cir_aws_t *a, const char *queue_url)
{
    json_t *body = json_pack("{s[s]}", "AttributeNames", "RedrivePolicy");
    json_t *reply = NULL, *policy;
    const char *text;
    int ret, count = 0;

    ret = sqs_call(a, queue_url, "GetQueueAttributes", body, &reply);
    json_decref(body);
    if (ret < 0) {
        return ret;
    }
    /* RedrivePolicy is a JSON document in a string attribute */
    text = json_string_value(
        json_object_get(json_object_get(reply, "Attributes"), "RedrivePolicy"));
    if (text != NULL && (policy = json_loads(text, 0, NULL)) != NULL) {
        json_t *v = json_object_get(policy, "maxReceiveCount");
        if (json_is_integer(v)) {
            count = (int)json_integer_value(v);
        } else if (json_is_string(v)) {
            count = (int)strtol(json_string_value(v), NULL, 10);
        }
        json_decref(policy);
    }
    json_decref(reply);
    return count > 0 && count <= 1000 ? count : 0;
}
