/* cirrus-ingest applications (ingest/src/apps.c): the "applications"
 * option from a config file, the environment and --set (common/src/
 * options.c's JSON options), each application's settings over the
 * global ones, and what is refused; the key file's per-key push lists
 * (ingest/src/keys.c); the application in the status documents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_ingest.h"

/* The defaults, then a config document (a JSON text: flat or in
 * sections). */
static int
load(cir_ingest_config_t *c, const char *text, char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    int ret;

    cr_assert_not_null(j, "%s: %s", text, jerr.text);
    cir_options_defaults(&cir_ingest_options, c, sizeof(*c));
    ret = cir_options_apply_config(&cir_ingest_options, c, j, "ingest", err,
                                   errsize);
    json_decref(j);
    return ret;
}

/* load() then cir_ingest_apps_parse(): 0 with *apps, or the error. */
static int
parse(const char *text, cir_ingest_app_config_t **apps, size_t *n, char *err,
      size_t errsize)
{
    cir_ingest_config_t *c = malloc(sizeof(*c));
    int ret;

    cr_assert_not_null(c);
    ret = load(c, text, err, errsize);
    if (ret == 0) {
        ret = cir_ingest_apps_parse(c, apps, n, err, errsize);
    }
    free(c);
    return ret;
}

/* The error of a document that must be refused. */
static void
refused(const char *text, const char *because)
{
    cir_ingest_app_config_t *apps = NULL;
    char err[1024] = "";
    size_t n;

    cr_assert_eq(parse(text, &apps, &n, err, sizeof(err)), CIR_EINVAL, "%s",
                 text);
    cr_assert(strstr(err, because) != NULL, "%s: \"%s\" has no \"%s\"", text,
              err, because);
    cr_assert_null(apps);
}

Test(ingest_apps, none_is_the_one_live_application_with_the_globals)
{
    cir_ingest_app_config_t *apps;
    char err[1024];
    size_t n;

    cr_assert_eq(parse("{\"live_root\": \"/srv/live\", \"window\": 7, "
                       "\"key_file\": \"/k\", \"preset\": \"p\"}",
                       &apps, &n, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(apps[0].name, "live");
    cr_assert_str_eq(apps[0].live_root, "/srv/live");
    cr_assert_str_eq(apps[0].key_file, "/k");
    cr_assert_str_eq(apps[0].preset, "p");
    cr_assert_eq(apps[0].window, 7);
    cr_assert_eq(apps[0].segment_seconds, 2);
    free(apps);
}

Test(ingest_apps, each_its_own_settings_over_the_globals)
{
    cir_ingest_app_config_t *apps;
    char err[1024];
    size_t n;

    /* a shared file's ingest section, as samples/cirrus.json */
    cr_assert_eq(
        parse("{\"ingest\": {\"live_root\": \"/var/lib/cirrus/live\", "
              "\"key_file\": \"/etc/keys\", \"window\": 9, "
              "\"public_base_url\": \"https://cdn.example/live\", "
              "\"record_uri\": \"file:///rec/\", "
              "\"applications\": {\"live\": {}, "
              "\"events\": {\"preset\": \"live\", \"window\": 5, "
              "\"segment_seconds\": 4, \"key_file\": \"/etc/ev-keys\", "
              "\"push\": \"rtmp://a.example/app/\"}, "
              "\"lab\": {\"live_root\": \"/data/lab\", "
              "\"public_base_url\": \"https://lab.example/x/\", "
              "\"record_uri\": \"\"}}}, "
              "\"worker\": {\"workers\": 1}}",
              &apps, &n, err, sizeof(err)),
        0, "%s", err);
    cr_assert_eq(n, 3);
    /* in the file's order */
    cr_assert_str_eq(apps[0].name, "live");
    cr_assert_str_eq(apps[1].name, "events");
    cr_assert_str_eq(apps[2].name, "lab");
    /* live: the global settings, paths and URLs as without applications */
    cr_assert_str_eq(apps[0].live_root, "/var/lib/cirrus/live");
    cr_assert_str_eq(apps[0].public_base_url, "https://cdn.example/live");
    cr_assert_str_eq(apps[0].record_uri, "file:///rec/");
    cr_assert_eq(apps[0].window, 9);
    cr_assert_str_eq(apps[0].key_file, "/etc/keys");
    /* events: its own where set, the globals' elsewhere, folders beside */
    cr_assert_str_eq(apps[1].preset, "live");
    cr_assert_eq(apps[1].window, 5);
    cr_assert_eq(apps[1].segment_seconds, 4);
    cr_assert_str_eq(apps[1].key_file, "/etc/ev-keys");
    cr_assert_str_eq(apps[1].push, "rtmp://a.example/app/");
    cr_assert_eq(apps[1].part_seconds, apps[0].part_seconds);
    cr_assert_str_eq(apps[1].live_root, "/var/lib/cirrus/events");
    cr_assert_str_eq(apps[1].public_base_url, "https://cdn.example/events");
    cr_assert_str_eq(apps[1].record_uri, "file:///rec/events");
    /* lab: set explicitly, taken as written */
    cr_assert_str_eq(apps[2].live_root, "/data/lab");
    cr_assert_str_eq(apps[2].public_base_url, "https://lab.example/x/");
    cr_assert_str_eq(apps[2].record_uri, "");
    cr_assert_str_eq(apps[2].key_file, "/etc/keys");
    free(apps);
}

Test(ingest_apps, derived_folders_and_urls_at_the_edges)
{
    cir_ingest_app_config_t *apps;
    char err[1024];
    size_t n;

    /* a relative live_root (the shipped nginx.conf's "live"), a base URL
     * without a path */
    cr_assert_eq(parse("{\"live_root\": \"live/\", \"public_base_url\": "
                       "\"http://127.0.0.1:8080\", \"applications\": "
                       "{\"events\": {}}}",
                       &apps, &n, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(apps[0].live_root, "events");
    cr_assert_str_eq(apps[0].public_base_url, "http://127.0.0.1:8080/events");
    free(apps);
}

Test(ingest_apps, from_the_environment_and_the_command_line_as_json_text)
{
    cir_ingest_config_t *c = malloc(sizeof(*c));
    cir_ingest_app_config_t *apps;
    char err[1024];
    size_t n;

    cir_options_defaults(&cir_ingest_options, c, sizeof(*c));
    cr_assert_eq(cir_options_set(&cir_ingest_options, c, "applications",
                                 "{\"tv\": {\"window\": 4}}", err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(cir_ingest_apps_parse(c, &apps, &n, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(apps[0].name, "tv");
    cr_assert_eq(apps[0].window, 4);
    free(apps);
    setenv("CIRRUS_INGEST_APPLICATIONS", "[1]", 1);
    cr_assert_eq(
        cir_options_apply_env(&cir_ingest_options, c, err, sizeof(err)),
        CIR_EINVAL);
    cr_assert(strstr(err, "CIRRUS_INGEST_APPLICATIONS") != NULL, "%s", err);
    cr_assert(strstr(err, "not a JSON object") != NULL, "%s", err);
    unsetenv("CIRRUS_INGEST_APPLICATIONS");
    /* "" leaves it unset: the one application live again */
    cr_assert_eq(cir_options_set(&cir_ingest_options, c, "applications", "",
                                 err, sizeof(err)),
                 0);
    cr_assert_eq(cir_ingest_apps_parse(c, &apps, &n, err, sizeof(err)), 0);
    cr_assert_str_eq(apps[0].name, "live");
    free(apps);
    free(c);
}

Test(ingest_apps, refused_with_the_option_named)
{
    refused("{\"applications\": {\"events\": {\"window\": 2}}}",
            "applications.events.window: 2 is outside [3, 100000]");
    refused("{\"applications\": {\"events\": {\"window\": \"x\"}}}",
            "applications.events.window: expected a number");
    refused("{\"applications\": {\"events\": {\"port\": 1936}}}",
            "applications.events.port: not an option of an application");
    refused("{\"applications\": {\"events\": {\"wndow\": 5}}}",
            "applications.events.wndow: not an option");
    refused("{\"applications\": {\"events\": {\"segment_seconds\": 0.2, "
            "\"part_seconds\": 0.5}}}",
            "applications.events: segment_seconds 0.2 < part_seconds 0.5");
    refused("{\"applications\": {\"events\": {\"push\": \"http://x/y\"}}}",
            "applications.events.push:");
    refused("{\"applications\": {\"events\": 5}}",
            "applications.events: expected an object");
    refused("{\"applications\": {\"a/b\": {}}}",
            "\"a/b\": an application name");
    refused("{\"applications\": {\"..\": {}}}", "an application name");
    refused("{\"applications\": {}}", "1 to 64 applications");
    refused("{\"applications\": 5}", "applications: expected an object");
}

Test(ingest_apps, two_applications_never_write_the_same_folder)
{
    /* the same live_root, one inside the other, the sibling rule landing
     * on another's folder, the same recording root */
    refused("{\"applications\": {\"a\": {\"live_root\": \"/s/x\"}, "
            "\"b\": {\"live_root\": \"/s/x/\"}}}",
            "applications.a.live_root \"/s/x\" and applications.b.live_root "
            "\"/s/x/\" overlap");
    refused("{\"applications\": {\"a\": {\"live_root\": \"/s\"}, "
            "\"b\": {\"live_root\": \"/s/b\"}}}",
            "overlap");
    refused("{\"live_root\": \"/srv/store\", \"applications\": {\"live\": {}, "
            "\"store\": {}}}",
            "applications.live.live_root \"/srv/store\" and "
            "applications.store.live_root \"/srv/store\" overlap");
    refused("{\"applications\": {\"a\": {\"record_uri\": \"/r\"}, "
            "\"b\": {\"record_uri\": \"/r\"}}}",
            "applications.a.record_uri and applications.b.record_uri are "
            "both \"/r\"");
    /* siblings that only share a prefix are apart */
    cir_ingest_app_config_t *apps;
    char err[1024];
    size_t n;
    cr_assert_eq(parse("{\"applications\": {\"a\": {\"live_root\": \"/s/x\"}, "
                       "\"b\": {\"live_root\": \"/s/xy\"}}}",
                       &apps, &n, err, sizeof(err)),
                 0, "%s", err);
    free(apps);
}

Test(ingest_apps, a_flat_file_with_applications_is_not_sectioned)
{
    cir_ingest_config_t *c = malloc(sizeof(*c));
    char err[1024];

    /* an object member that is an option: not a section */
    cr_assert_eq(load(c, "{\"port\": 1940, \"applications\": {\"x\": {}}}", err,
                      sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(c->port, 1940);
    cr_assert_str_eq(c->applications, "{\"x\":{}}");
    free(c);
}

Test(ingest_keys, a_key_may_carry_its_own_push_list)
{
    char path[] = "/tmp/cirrus-keys-XXXXXX";
    int fd = mkstemp(path);
    cir_keyfile_t k = {0};
    FILE *f;

    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    fputs("plain\n"
          "cam1 rtmp://a.example/live/ rtmp://b.example/app/k2 # two\n"
          "cam2\trtmp://c.example/x/\t\n"
          "bad http://nope/\n",
          f);
    fclose(f);
    cr_assert_eq(cir_keyfile_load(&k, path, 0), 0);
    cr_assert_eq(k.count, 3);
    cr_assert_null(cir_keyfile_push(&k, "plain"));
    cr_assert_str_eq(cir_keyfile_push(&k, "cam1"),
                     "rtmp://a.example/live/ rtmp://b.example/app/k2");
    cr_assert_str_eq(cir_keyfile_push(&k, "cam2"), "rtmp://c.example/x/");
    /* a bad push list: the key is not allowed, the line reported */
    cr_assert_not(cir_keyfile_allows(&k, "bad"));
    cr_assert_eq(k.bad_lines, 1);
    cr_assert(strstr(k.first_bad, "line 4") != NULL, "%s", k.first_bad);
    cr_assert_null(cir_keyfile_push(&k, "nobody"));
    unlink(path);
    cir_keyfile_free(&k);
}

Test(ingest_status, the_application_is_in_the_json_and_the_labels)
{
    cir_ingest_stream_info_t s = {
        .app = "events", .key = "cam1", .publishing = 1, .bytes = 10};
    cir_ingest_server_stats_t srv = {.refused_unknown_app = 3,
                                     .refused_key = 4};
    const char *ct;
    char *body;
    json_t *j;

    cr_assert_eq(cir_ingest_status_render("/streams", &s, 1, &srv, &body, &ct),
                 200);
    j = json_loads(body, 0, NULL);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(j, 0), "app")),
        "events");
    json_decref(j);
    free(body);
    cr_assert_eq(cir_ingest_status_render("/metrics", &s, 1, &srv, &body, &ct),
                 200);
    cr_assert(strstr(body, "cirrus_ingest_stream_bytes_total{app=\"events\","
                           "key=\"cam1\"} 10\n") != NULL);
    cr_assert(strstr(body, "cirrus_ingest_publish_refused_total{reason="
                           "\"unknown_app\"} 3\n") != NULL);
    cr_assert(strstr(body, "cirrus_ingest_publish_refused_total{reason="
                           "\"key\"} 4\n") != NULL);
    free(body);
}

/* "encryption" is an application's own (a JSON object, kept as compact
 * text for the server to parse and read its key file), else the global
 * one; a value that is not an object is refused naming the option. */
Test(ingest_apps, encryption_per_application_over_the_global_one)
{
    cir_ingest_app_config_t *apps = NULL;
    char err[1024] = "";
    size_t n;

    cr_assert_eq(parse("{\"ingest\": {\"encryption\": {\"scheme\": \"cbcs\", "
                       "\"key_file\": \"/k/all.json\"}, \"applications\": {"
                       "\"live\": {}, \"clear\": {\"encryption\": {}}, "
                       "\"events\": {\"encryption\": {\"scheme\": \"cenc\", "
                       "\"key_file\": \"/k/ev.json\"}}}}}",
                       &apps, &n, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        const char *e = apps[i].encryption;
        if (strcmp(apps[i].name, "live") == 0) {
            cr_expect(strstr(e, "\"cbcs\"") && strstr(e, "/k/all.json"), "%s",
                      e);
        } else if (strcmp(apps[i].name, "events") == 0) {
            cr_expect(strstr(e, "\"cenc\"") && strstr(e, "/k/ev.json"), "%s",
                      e);
        } else {
            cr_expect(strstr(e, "key_file") == NULL, "%s", e);
        }
    }
    free(apps);
    refused("{\"ingest\": {\"applications\": {\"live\": {\"encryption\": "
            "\"cenc\"}}}}",
            "applications.live.encryption");
}
