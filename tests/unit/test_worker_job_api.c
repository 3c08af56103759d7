/*
 * The job API (job_api.c): routing and query parsing, the bearer token
 * check, and the handler on a real spool folder without a dispatcher:
 * submit (201, the file in incoming/), validation (400), idempotency
 * replay (200) and conflict (409), get, list with its cursor, cancel of a
 * queued job, retry refused for a job that did not fail, and a failed one
 * queued again with its attempts reset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <http_parser.h>
#include <jansson.h>

#include "cir_error.h"
#include "cir_job_api.h"
#include "cir_preset.h"

static cir_api_request_t
route_ok(int method, const char *url)
{
    cir_api_request_t r;
    char err[256];

    cr_assert_eq(cir_job_api_route(method, url, &r, err, sizeof(err)), 0,
                 "%s: %s", url, err);
    return r;
}

static void
route_bad(int method, const char *url, const char *why)
{
    cir_api_request_t r;
    char err[256] = "";

    cr_assert_eq(cir_job_api_route(method, url, &r, err, sizeof(err)),
                 CIR_EINVAL, "%s", url);
    cr_assert_not_null(strstr(err, why), "%s: %s", url, err);
}

Test(job_api, routes)
{
    cir_api_request_t r;

    cr_assert_eq(route_ok(HTTP_POST, "/jobs").route, CIR_API_SUBMIT);
    r = route_ok(HTTP_GET, "/jobs");
    cr_assert_eq(r.route, CIR_API_LIST);
    cr_assert_eq(r.limit, CIR_API_LIMIT_DEFAULT);
    cr_assert_str_eq(r.state, "");
    cr_assert_eq(route_ok(HTTP_PUT, "/jobs").route, CIR_API_BAD_METHOD);
    r = route_ok(HTTP_GET, "/jobs/j1");
    cr_assert_eq(r.route, CIR_API_GET);
    cr_assert_str_eq(r.id, "j1");
    r = route_ok(HTTP_GET, "/jobs/a%2520b");
    cr_assert_str_eq(r.id, "a%20b", "the path is percent-decoded once");
    cr_assert_eq(route_ok(HTTP_DELETE, "/jobs/j1").route, CIR_API_BAD_METHOD);
    r = route_ok(HTTP_POST, "/jobs/j1/cancel");
    cr_assert_eq(r.route, CIR_API_CANCEL);
    cr_assert_str_eq(r.id, "j1");
    cr_assert_eq(route_ok(HTTP_GET, "/jobs/j1/cancel").route,
                 CIR_API_BAD_METHOD);
    cr_assert_eq(route_ok(HTTP_POST, "/jobs/j1/retry").route, CIR_API_RETRY);
    cr_assert_eq(route_ok(HTTP_POST, "/jobs/j1/retryx").route,
                 CIR_API_NOT_FOUND);
    cr_assert_eq(route_ok(HTTP_POST, "/jobs/j1/cancel/x").route,
                 CIR_API_NOT_FOUND);
    cr_assert_eq(route_ok(HTTP_GET, "/openapi.json").route, CIR_API_OPENAPI);
    cr_assert_eq(route_ok(HTTP_POST, "/openapi.json").route,
                 CIR_API_BAD_METHOD);
    cr_assert_eq(route_ok(HTTP_POST, "/uploads").route, CIR_API_UPLOAD);
    cr_assert_eq(route_ok(HTTP_GET, "/uploads").route, CIR_API_BAD_METHOD);
    cr_assert_eq(route_ok(HTTP_POST, "/uploads/x").route, CIR_API_NOT_FOUND);
    r = route_ok(HTTP_DELETE, "/assets/talk-1");
    cr_assert_eq(r.route, CIR_API_DELETE_ASSET);
    cr_assert_str_eq(r.id, "talk-1");
    cr_assert_str_eq(route_ok(HTTP_DELETE, "/assets/My%2520Clip").id,
                     "My%20Clip");
    cr_assert_str_eq(route_ok(HTTP_DELETE, "/assets/My%20Clip").id, "My Clip",
                     "a folder named after an input file");
    cr_assert_eq(route_ok(HTTP_GET, "/assets/talk-1").route,
                 CIR_API_BAD_METHOD);
    cr_assert_eq(route_ok(HTTP_DELETE, "/assets/").route, CIR_API_NOT_FOUND);
    cr_assert_eq(route_ok(HTTP_GET, "/jobsx").route, CIR_API_NOT_FOUND);
    cr_assert_eq(route_ok(HTTP_GET, "/jobs/").route, CIR_API_NOT_FOUND);
    cr_assert_eq(route_ok(HTTP_GET, "/").route, CIR_API_NOT_FOUND);
}

Test(job_api, bad_ids)
{
    route_bad(HTTP_GET, "/jobs/..", "not a job id");
    route_bad(HTTP_GET, "/jobs/a%2Fb", "not a job id");
    route_bad(HTTP_GET, "/jobs/a%2", "not a job id");
    route_bad(HTTP_GET, "/jobs/a%zz", "not a job id");
    route_bad(HTTP_GET, "/jobs/a%00b", "not a job id");
    /* an asset name is one folder under out_root, never a path */
    route_bad(HTTP_DELETE, "/assets/..", "not an asset name");
    route_bad(HTTP_DELETE, "/assets/%2e%2e", "not an asset name");
    route_bad(HTTP_DELETE, "/assets/%2E%2E", "not an asset name");
    route_bad(HTTP_DELETE, "/assets/a/../b", "not an asset name");
    route_bad(HTTP_DELETE, "/assets/a%2Fb", "not an asset name");
    route_bad(HTTP_DELETE, "/assets/%2Fetc", "not an asset name");
    route_bad(HTTP_DELETE, "/assets//etc", "not an asset name");
    route_bad(HTTP_DELETE, "/assets/.published", "not an asset name");
    route_bad(HTTP_DELETE, "/assets/a%5Cb", "not an asset name");
    route_bad(HTTP_DELETE, "/assets/a%0Ab", "not an asset name");
}

Test(job_api, list_query)
{
    cir_api_request_t r = route_ok(HTTP_GET, "/jobs?state=done&limit=2&"
                                             "cursor=j00a");

    cr_assert_str_eq(r.state, "done");
    cr_assert_eq(r.limit, 2);
    cr_assert_str_eq(r.cursor, "j00a");
    r = route_ok(HTTP_GET, "/jobs?limit=500");
    cr_assert_eq(r.limit, CIR_API_LIMIT_MAX);
    route_bad(HTTP_GET, "/jobs?limit=0", "limit");
    route_bad(HTTP_GET, "/jobs?limit=501", "limit");
    route_bad(HTTP_GET, "/jobs?limit=2x", "limit");
    route_bad(HTTP_GET, "/jobs?limit=", "limit");
    route_bad(HTTP_GET, "/jobs?state=bogus", "state: one of");
    route_bad(HTTP_GET, "/jobs?cursor=a/b", "cursor");
    route_bad(HTTP_GET, "/jobs?colour=1", "unknown parameter \"colour\"");
    route_bad(HTTP_GET, "/jobs?limit", "name=value");
    cr_assert(cir_job_api_state_known("cancelled"));
    cr_assert_not(cir_job_api_state_known("cancelling"));
}

Test(job_api, bearer_token)
{
    cr_assert(cir_job_api_authorized("Bearer s3cret", "s3cret"));
    cr_assert_not(cir_job_api_authorized("Bearer s3cre", "s3cret"));
    cr_assert_not(cir_job_api_authorized("Bearer s3cret2", "s3cret"));
    cr_assert_not(cir_job_api_authorized("bearer s3cret", "s3cret"));
    cr_assert_not(cir_job_api_authorized("Basic s3cret", "s3cret"));
    cr_assert_not(cir_job_api_authorized("", "s3cret"));
}

/* ---- the handler on a spool --------------------------------------------- */

static char dir[64], spool[128];
static cir_job_api_t *api;

static void
setup(void)
{
    static const char *subs[] = {"incoming", "claimed", "failed", "done",
                                 "cancelled"};
    cir_job_api_config_t c = {.intake = "spool",
                              .out_root = "file:///tmp/cir-api-out",
                              .default_preset = "mobile",
                              .status_dir = "",
                              .token = ""};
    char p[200], err[256];

    snprintf(dir, sizeof(dir), "/tmp/cir-api-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(spool, sizeof(spool), "%s/spool", dir);
    cr_assert_eq(mkdir(spool, 0755), 0);
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof(p), "%s/%s", spool, subs[i]);
        cr_assert_eq(mkdir(p, 0755), 0);
    }
    c.spool_dir = spool;
    c.presets_dir = cir_preset_dir(NULL);
    cr_assert_eq(cir_job_api_new(&api, &c, err, sizeof(err)), 0, "%s", err);
}

static void
teardown(void)
{
    char cmd[128];

    cir_job_api_free(&api);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    (void)system(cmd);
}

typedef struct {
    int status;
    json_t *json;
    char location[CIR_WORKER_HTTP_URL_MAX];
} reply_t;

static reply_t
call(int method, const char *url, const char *body, const char *key)
{
    cir_worker_http_request_t req = {.method = method, .body = body};
    cir_buf_t b;
    cir_worker_http_answer_t ans = {.body = &b};
    json_error_t e;
    reply_t r;

    snprintf(req.url, sizeof(req.url), "%s", url);
    snprintf(req.idempotency_key, sizeof(req.idempotency_key), "%s",
             key ? key : "");
    req.body_len = body ? strlen(body) : 0;
    cir_buf_init(&b, 1 << 20);
    r.status = cir_job_api_handle(api, &req, &ans);
    cr_assert_str_eq(ans.type, "application/json");
    r.json = json_loadb(b.data, b.len, 0, &e);
    cr_assert_not_null(r.json, "%s: %.*s", url, (int)b.len, b.data);
    snprintf(r.location, sizeof(r.location), "%s", ans.location);
    cir_buf_free(&b);
    return r;
}

/* The status only. */
static int
status_of(int method, const char *url)
{
    reply_t r = call(method, url, NULL, NULL);

    json_decref(r.json);
    return r.status;
}

static const char *
str(const reply_t *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->json, key));
    cr_assert_not_null(s, "%s", key);
    return s;
}

static int
exists(const char *folder, const char *name)
{
    char p[300];

    snprintf(p, sizeof(p), "%s/%s/%s", spool, folder, name);
    return access(p, F_OK) == 0;
}

Test(job_api, submit_get_replay_conflict, .init = setup, .fini = teardown)
{
    const char *body = "{\"input\":\"file:///media/a.mp4\",\"only\":\"hls\"}";
    char id[128], url[200], name[160];
    reply_t r;

    r = call(HTTP_POST, "/jobs", body, "k1");
    cr_assert_eq(r.status, 201);
    snprintf(id, sizeof(id), "%s", str(&r, "id"));
    cr_assert_str_eq(str(&r, "state"), "queued");
    snprintf(url, sizeof(url), "/jobs/%s", id);
    cr_assert_str_eq(r.location, url);
    snprintf(name, sizeof(name), "%s.json", id);
    cr_assert(exists("incoming", name));
    json_decref(r.json);

    r = call(HTTP_GET, url, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(str(&r, "id"), id);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(r.json, "job"), "input")),
                     "file:///media/a.mp4");
    json_decref(r.json);

    r = call(HTTP_POST, "/jobs", body, "k1");
    cr_assert_eq(r.status, 200, "replayed");
    cr_assert_str_eq(str(&r, "id"), id);
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs",
             "{\"only\":\"hls\",\"idempotency_key\":\"k1\",\"input\":"
             "\"file:///media/a.mp4\"}",
             NULL);
    cr_assert_eq(r.status, 200, "the key in the body, fields in any order");
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs", "{\"input\":\"file:///media/b.mp4\"}", "k1");
    cr_assert_eq(r.status, 409);
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs",
             "{\"input\":\"file:///media/b.mp4\",\"idempotency_key\":\"k2\"}",
             "k1");
    cr_assert_eq(r.status, 400, "two different keys");
    json_decref(r.json);

    /* the same id again */
    r = call(HTTP_POST, "/jobs", "{\"input\":\"file:///m/c.mp4\",\"id\":\"c\"}",
             NULL);
    cr_assert_eq(r.status, 201);
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs", "{\"input\":\"file:///m/d.mp4\",\"id\":\"c\"}",
             NULL);
    cr_assert_eq(r.status, 409);
    cr_assert_str_eq(str(&r, "error"), "a job with id c exists");
    json_decref(r.json);

    /* an id with a percent-escape (the id of "My Clip"): its Location
     * writes the '%' as %25, and that Location reaches the job */
    r = call(HTTP_POST, "/jobs",
             "{\"input\":\"file:///m/e.mp4\",\"id\":\"My Clip\"}", NULL);
    cr_assert_eq(r.status, 201);
    cr_assert_str_eq(str(&r, "id"), "My%20Clip");
    cr_assert_str_eq(r.location, "/jobs/My%2520Clip");
    char location[CIR_WORKER_HTTP_URL_MAX];
    memcpy(location, r.location, sizeof(location));
    json_decref(r.json);
    r = call(HTTP_GET, location, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(str(&r, "id"), "My%20Clip");
    json_decref(r.json);
}

Test(job_api, validation, .init = setup, .fini = teardown)
{
    reply_t r = call(HTTP_POST, "/jobs", "{\"input\": \"x\",", NULL);

    cr_assert_eq(r.status, 400);
    cr_assert_eq(
        strncmp(str(&r, "error"), "malformed JSON: line 1 column ", 30), 0,
        "%s", str(&r, "error"));
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs", "[1]", NULL);
    cr_assert_eq(r.status, 400);
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs", "{\"Records\":[]}", NULL);
    cr_assert_eq(r.status, 400, "an S3 event is not a job document");
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs", "{\"input\":\"x.mp4\",\"preset\":\"nope\"}",
             NULL);
    cr_assert_str_eq(str(&r, "error"), "preset: no preset named \"nope\"");
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs", NULL, NULL);
    cr_assert_eq(r.status, 400);
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs", "{\"input\":\"x.mp4\",\"id\":\".x\"}", NULL);
    cr_assert_eq(r.status, 400, "a hidden name would never be taken");
    json_decref(r.json);
    cr_assert_eq(status_of(HTTP_GET, "/jobs/nothere"), 404);
}

Test(job_api, list_cancel_retry, .init = setup, .fini = teardown)
{
    const char *ids[] = {"a1", "a2", "a3"};
    char body[200];
    reply_t r;
    json_t *jobs;

    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof(body),
                 "{\"input\":\"file:///m/%s.mp4\","
                 "\"id\":\"%s\"}",
                 ids[i], ids[i]);
        r = call(HTTP_POST, "/jobs", body, NULL);
        cr_assert_eq(r.status, 201);
        json_decref(r.json);
    }
    r = call(HTTP_GET, "/jobs?limit=2", NULL, NULL);
    jobs = json_object_get(r.json, "jobs");
    cr_assert_eq(json_array_size(jobs), 2);
    cr_assert_str_eq(str(&r, "next_cursor"), "a2");
    json_decref(r.json);
    r = call(HTTP_GET, "/jobs?limit=2&cursor=a2", NULL, NULL);
    jobs = json_object_get(r.json, "jobs");
    cr_assert_eq(json_array_size(jobs), 1);
    cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
    json_decref(r.json);

    r = call(HTTP_POST, "/jobs/a2/cancel", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(str(&r, "state"), "cancelled");
    cr_assert(exists("cancelled", "a2.json"));
    cr_assert_not(exists("incoming", "a2.json"));
    json_decref(r.json);
    r = call(HTTP_GET, "/jobs?state=cancelled", NULL, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 1);
    json_decref(r.json);
    cr_assert_eq(status_of(HTTP_POST, "/jobs/a2/cancel"), 409);
    cr_assert_eq(status_of(HTTP_POST, "/jobs/a1/retry"), 409);

    /* a1 as the spool parks a failed job, after two attempts */
    {
        char from[300], to[300], side[300];
        FILE *f;
        snprintf(from, sizeof(from), "%s/incoming/a1.json", spool);
        snprintf(to, sizeof(to), "%s/failed/a1.json", spool);
        cr_assert_eq(rename(from, to), 0);
        snprintf(side, sizeof(side), "%s/failed/a1.json.error.json", spool);
        f = fopen(side, "w");
        fputs("{\"item\":\"a1.json\",\"attempts\":2,\"permanent\":false,"
              "\"error\":{\"error\":\"input gone\",\"code\":\"CIR_EIO\"}}",
              f);
        fclose(f);
        snprintf(side, sizeof(side), "%s/incoming/.a1.json.claim", spool);
        f = fopen(side, "w");
        fputs("{\"attempt\":2}", f);
        fclose(f);
    }
    r = call(HTTP_GET, "/jobs/a1", NULL, NULL);
    cr_assert_str_eq(str(&r, "state"), "failed");
    cr_assert_str_eq(str(&r, "error"), "input gone");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "attempt")), 2);
    json_decref(r.json);
    r = call(HTTP_POST, "/jobs/a1/retry", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(str(&r, "state"), "queued");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "attempt")), 0,
                 "attempts reset");
    cr_assert(exists("incoming", "a1.json"));
    cr_assert_not(exists("incoming", ".a1.json.claim"));
    cr_assert_not(exists("failed", "a1.json.error.json"));
    json_decref(r.json);
}
