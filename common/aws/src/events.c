/* EventBridge over its JSON protocol (AWSEvents, JSON 1.1): PutEvents of
 * one entry.  Tested by tests/integration/job_notify.test.mjs (the rig's
 * verifying proxy checks the signature and the request's shape). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws_internal.h"
#include "cir_error.h"

#define EVENTS_REPLY_MAX (1u << 20)

static void
events_endpoint(cir_aws_t *a, char *ep, size_t size)
{
    if (aws_endpoint(a, "events")[0] != '\0') {
        snprintf(ep, size, "%s", aws_endpoint(a, "events"));
    } else {
        snprintf(ep, size, "https://events.%s.amazonaws.com",
                 cir_aws_region(a));
    }
}

/* A 200 answer can still refuse the entry (FailedEntryCount): its
 * ErrorCode decides whether another attempt may do better. */
static int
entry_result(json_t *reply)
{
    json_t *e = json_array_get(json_object_get(reply, "Entries"), 0);
    const char *code = json_string_value(json_object_get(e, "ErrorCode"));
    const char *msg = json_string_value(json_object_get(e, "ErrorMessage"));

    if (!json_is_object(reply)) {
        aws_set_error("EventBridge PutEvents: malformed reply");
        return CIR_EPARSE;
    }
    if (json_integer_value(json_object_get(reply, "FailedEntryCount")) == 0 &&
        json_string_value(json_object_get(e, "EventId")) != NULL) {
        return 0;
    }
    aws_set_error_code(code ? code : "");
    aws_set_error("EventBridge PutEvents: entry refused: %s%s%s",
                  code ? code : "(no error code)", msg ? ": " : "",
                  msg ? msg : "");
    return code != NULL && (strcmp(code, "ThrottlingException") == 0 ||
                            strcmp(code, "InternalFailure") == 0 ||
                            strcmp(code, "InternalException") == 0)
               ? CIR_ETRANSIENT
               : CIR_EINVAL;
}

int
cir_events_put(cir_aws_t *a, const cir_events_entry_t *entry, int max_attempts,
               int timeout_ms)
{
    char ep[600];
    json_t *body, *reply;
    int ret;

    if (entry->source == NULL || entry->detail_type == NULL ||
        entry->detail == NULL) {
        return CIR_EINVAL;
    }
    body =
        json_pack("{s:[{s:s, s:s, s:s}]}", "Entries", "Source", entry->source,
                  "DetailType", entry->detail_type, "Detail", entry->detail);
    if (body == NULL) {
        return CIR_ENOMEM;
    }
    if (entry->bus != NULL && entry->bus[0] != '\0') {
        json_object_set_new(json_array_get(json_object_get(body, "Entries"), 0),
                            "EventBusName", json_string(entry->bus));
    }
    events_endpoint(a, ep, sizeof(ep));
    aws_req_t r = {.service = "events",
                   .endpoint = ep,
                   .path = "/",
                   .low_speed_s = 30,
                   .timeout_ms = timeout_ms,
                   .max_attempts = max_attempts};
    ret = aws_json_call(a, &r, "application/x-amz-json-1.1",
                        "AWSEvents.PutEvents", body, EVENTS_REPLY_MAX,
                        "EventBridge PutEvents", &reply);
    json_decref(body);
    if (ret == 0) {
        ret = entry_result(reply);
    }
    json_decref(reply);
    return ret;
}
