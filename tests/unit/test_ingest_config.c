/* cirrus-ingest options (table, JSON, environment), the key file and the
 * status documents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_ingest.h"

Test(ingest_config, defaults_json_env_and_limits)
{
    cir_ingest_config_t c;
    char err[256];
    json_t *j;

    cir_options_defaults(&cir_ingest_options, &c, sizeof(c));
    cr_assert_eq(c.port, 1935);
    cr_assert_eq(c.grace_seconds, 10);
    cr_assert_eq(c.max_chunk_size, 65536);
    j = json_pack("{s:i, s:s, s:f, s:b}", "port", 2000, "key_file", "/k",
                  "grace_seconds", 2.5, "takeover", 1);
    cr_assert_eq(
        cir_options_apply_json(&cir_ingest_options, &c, j, err, sizeof(err)), 0,
        "%s", err);
    json_decref(j);
    cr_assert_eq(c.port, 2000);
    cr_assert_str_eq(c.key_file, "/k");
    cr_assert_eq(c.grace_seconds, 2.5);
    cr_assert_eq(c.takeover, 1);
    /* out of range, wrong type, unknown name, not an integer */
    j = json_pack("{s:i}", "port", 70000);
    cr_assert_eq(
        cir_options_apply_json(&cir_ingest_options, &c, j, err, sizeof(err)),
        CIR_EINVAL);
    cr_assert(strstr(err, "port") != NULL);
    json_decref(j);
    j = json_pack("{s:s}", "port", "x");
    cr_assert_eq(
        cir_options_apply_json(&cir_ingest_options, &c, j, err, sizeof(err)),
        CIR_EINVAL);
    json_decref(j);
    j = json_pack("{s:i}", "nope", 1);
    cr_assert_eq(
        cir_options_apply_json(&cir_ingest_options, &c, j, err, sizeof(err)),
        CIR_EINVAL);
    json_decref(j);
    cr_assert_eq(cir_options_set(&cir_ingest_options, &c, "max_streams", "1.5",
                                 err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_eq(cir_options_set(&cir_ingest_options, &c, "max_chunk_size",
                                 "64", err, sizeof(err)),
                 CIR_EINVAL, "below the protocol minimum");
    setenv("CIRRUS_INGEST_IDLE_TIMEOUT", "7", 1);
    cr_assert_eq(
        cir_options_apply_env(&cir_ingest_options, &c, err, sizeof(err)), 0);
    cr_assert_eq(c.idle_timeout, 7);
    setenv("CIRRUS_INGEST_IDLE_TIMEOUT", "soon", 1);
    cr_assert_eq(
        cir_options_apply_env(&cir_ingest_options, &c, err, sizeof(err)),
        CIR_EINVAL);
    unsetenv("CIRRUS_INGEST_IDLE_TIMEOUT");
}

/* The queues' limits are options whose defaults are the limits the code
 * had as constants (pipe.c's queue; 8 frames per live rung). */
Test(ingest_config, queue_limits_default_to_the_former_constants)
{
    cir_ingest_config_t c;
    char err[256];

    cir_options_defaults(&cir_ingest_options, &c, sizeof(c));
    cr_assert_eq(c.pipe_queue_packets, 1008);
    cr_assert_eq(c.pipe_queue_soft_packets, 256);
    cr_assert_eq(c.pipe_queue_bytes, 64 << 20);
    cr_assert_eq(c.pipe_queue_soft_bytes, 24 << 20);
    cr_assert_eq(c.pipe_queue_control_reserve, 16);
    cr_assert_eq(c.rung_queue_frames, 8);
    cr_assert_eq(cir_options_set(&cir_ingest_options, &c, "rung_queue_frames",
                                 "1", err, sizeof(err)),
                 CIR_EINVAL, "a rung queues 2 frames at least");
    cr_assert_eq(cir_options_set(&cir_ingest_options, &c, "rung_queue_frames",
                                 "65", err, sizeof(err)),
                 CIR_EINVAL);
    cr_assert_eq(cir_options_set(&cir_ingest_options, &c,
                                 "pipe_queue_control_reserve", "0", err,
                                 sizeof(err)),
                 CIR_EINVAL, "a new sequence header always finds room");
    cr_assert_eq(cir_options_set(&cir_ingest_options, &c, "pipe_queue_packets",
                                 "4", err, sizeof(err)),
                 0);
    cr_assert_eq(c.pipe_queue_packets, 4);
}

Test(ingest_keys, file_is_read_and_reloaded_when_it_changes)
{
    char path[] = "/tmp/cirrus-keys-XXXXXX";
    int fd = mkstemp(path);
    cir_keyfile_t k = {0};
    FILE *f;

    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    fputs("  alpha  \n# comment\nbad key\nbeta # trailing\n../x\n", f);
    fclose(f);
    cr_assert_eq(cir_keyfile_load(&k, path, 0), 0);
    cr_assert_eq(k.count, 2);
    cr_assert(cir_keyfile_allows(&k, "alpha"));
    cr_assert(cir_keyfile_allows(&k, "beta"));
    cr_assert_not(cir_keyfile_allows(&k, "bad"));
    cr_assert_not(cir_keyfile_allows(&k, "../x"));
    f = fopen(path, "w");
    fputs("gamma\n", f);
    fclose(f);
    cr_assert_eq(cir_keyfile_load(&k, path, 1), 0);
    cr_assert_eq(k.count, 1);
    cr_assert_not(cir_keyfile_allows(&k, "alpha"));
    cr_assert(cir_keyfile_allows(&k, "gamma"));
    unlink(path);
    cr_assert_lt(cir_keyfile_load(&k, path, 1), 0, "a missing file fails");
    cr_assert(cir_keyfile_allows(&k, "gamma"), "and keeps the old keys");
    cir_keyfile_free(&k);
}

Test(ingest_status, streams_json_and_metrics)
{
    cir_ingest_stream_info_t s = {.key = "cam1",
                                  .publishing = 1,
                                  .uptime = 3,
                                  .bitrate = 1e6,
                                  .fps = 30,
                                  .video_codec = "h264",
                                  .width = 640,
                                  .height = 360,
                                  .frames = 90,
                                  .dropped = 2};
    char *body = NULL;
    const char *ct;
    json_t *j;

    cr_assert_eq(
        cir_ingest_status_render("/streams", &s, 1,
                                 &(cir_ingest_server_stats_t){.connections = 1},
                                 &body, &ct),
        200);
    cr_assert_str_eq(ct, "application/json");
    j = json_loads(body, 0, NULL);
    cr_assert_not_null(j);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(j, 0), "key")),
        "cam1");
    cr_assert_eq(
        json_array_size(json_object_get(json_array_get(j, 0), "renditions")),
        1);
    json_decref(j);
    free(body);
    cir_ingest_server_stats_t srv = {.connections = 4,
                                     .buffered_bytes = 65004,
                                     .closed_for_room = 269,
                                     .closed_over_buffered = 3,
                                     .refused = 2};
    cr_assert_eq(cir_ingest_status_render("/metrics", &s, 1, &srv, &body, &ct),
                 200);
    cr_assert(strstr(body, "cirrus_ingest_connections 4\n") != NULL);
    cr_assert(strstr(body, "cirrus_ingest_buffered_bytes 65004\n") != NULL);
    cr_assert(strstr(body, "cirrus_ingest_connections_closed_total{reason="
                           "\"room\"} 269\n") != NULL);
    cr_assert(strstr(body, "cirrus_ingest_connections_closed_total{reason="
                           "\"buffered\"} 3\n") != NULL);
    cr_assert(strstr(body, "cirrus_ingest_connections_refused_total 2\n") !=
              NULL);
    cr_assert(
        strstr(body,
               "cirrus_ingest_stream_dropped_frames_total{app=\"live\",key="
               "\"cam1\"} 2\n") != NULL);
    /* no SRT listener: no SRT figures */
    cr_assert(strstr(body, "cirrus_ingest_srt_") == NULL);
    free(body);
    srv.srt = 1;
    srv.srt_connections = 3;
    srv.srt_rejected = 7;
    srv.srt_dropped_bytes = 1316;
    cr_assert_eq(cir_ingest_status_render("/metrics", &s, 1, &srv, &body, &ct),
                 200);
    cr_assert(strstr(body, "cirrus_ingest_srt_connections 3\n") != NULL);
    cr_assert(strstr(body, "cirrus_ingest_srt_rejected_total 7\n") != NULL);
    cr_assert(strstr(body, "cirrus_ingest_srt_dropped_bytes_total 1316\n") !=
              NULL);
    free(body);
    cr_assert_eq(
        cir_ingest_status_render("/x", &s, 1,
                                 &(cir_ingest_server_stats_t){.connections = 0},
                                 &body, &ct),
        404);
    free(body);
}

/* Push destinations: a "push" array in /streams (why one retries in
 * "error"), cirrus_ingest_push_* per key and URL in /metrics. */
Test(ingest_status, push_destinations_per_stream_and_url)
{
    cir_ingest_push_info_t push[2] = {
        {.url = "rtmp://a:1935/live/***",
         .state = "publishing",
         .bytes = 123456789012,
         .dropped = 7,
         .reconnects = 1,
         .queued_bytes = 4096},
        {.url = "rtmp://b:1935/x/***",
         .state = "retrying",
         .reconnects = 5,
         .error = "TLS: certificate verify failed: self-signed certificate"}};
    cir_ingest_stream_info_t s = {
        .key = "cam1", .video_codec = "h264", .push = push, .npush = 2};
    cir_ingest_server_stats_t srv = {0};
    char *body = NULL;
    const char *ct;
    json_t *j, *p;

    cr_assert_eq(cir_ingest_status_render("/streams", &s, 1, &srv, &body, &ct),
                 200);
    j = json_loads(body, 0, NULL);
    p = json_object_get(json_array_get(j, 0), "push");
    cr_assert_eq(json_array_size(p), 2, "%s", body);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(p, 1), "state")),
        "retrying");
    cr_assert_eq(
        json_integer_value(json_object_get(json_array_get(p, 0), "bytes")),
        123456789012);
    cr_assert_eq(
        json_integer_value(json_object_get(json_array_get(p, 1), "reconnects")),
        5);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(p, 1), "error")),
        "TLS: certificate verify failed: self-signed certificate");
    cr_assert_null(json_object_get(json_array_get(p, 0), "error"),
                   "no error while publishing");
    json_decref(j);
    free(body);
    cr_assert_eq(cir_ingest_status_render("/metrics", &s, 1, &srv, &body, &ct),
                 200);
    cr_assert_not_null(strstr(body, "cirrus_ingest_push_bytes_total{app="
                                    "\"live\",key=\"cam1\",url=\"rtmp://"
                                    "a:1935/live/***\"} 123456789012\n"),
                       "%s", body);
    cr_assert_not_null(
        strstr(body, "cirrus_ingest_push_dropped_frames_total{"
                     "app=\"live\",key=\"cam1\",url=\"rtmp://a:1935/live/"
                     "***\"} 7\n"));
    cr_assert_not_null(
        strstr(body, "cirrus_ingest_push_reconnects_total{app=\"live\",key="
                     "\"cam1\",url=\"rtmp://b:1935/x/***\"} 5\n"));
    cr_assert_not_null(
        strstr(body, "cirrus_ingest_push_publishing{app=\"live\",key=\"cam1\","
                     "url=\"rtmp://b:1935/x/***\"} 0\n"));
    cr_assert_not_null(strstr(body, "# TYPE cirrus_ingest_push_queued_bytes "
                                    "gauge\n"));
    free(body);
}

/* Counters print every digit, gauges fixed decimals: no exponent (the
 * "%.6g" of old printed 42684213 bytes as 4.26842e+07), and every family
 * has its HELP and TYPE. */
Test(ingest_status, counters_print_as_integers_in_full_precision)
{
    cir_ingest_stream_info_t s = {.key = "cam1",
                                  .uptime = 12345678.25,
                                  .bitrate = 25e6,
                                  .fps = 29.97,
                                  .bytes = 42684213,
                                  .frames = 9007199254740993ULL, /* 2^53+1 */
                                  .dropped = 1000000};
    static const char *families[] = {"connections",
                                     "streams",
                                     "stream_bitrate_bps",
                                     "stream_fps",
                                     "stream_bytes_total",
                                     "stream_frames_total",
                                     "stream_dropped_frames_total",
                                     "stream_uptime_seconds"};
    char *body = NULL, line[160];
    const char *ct;

    cr_assert_eq(
        cir_ingest_status_render("/metrics", &s, 1,
                                 &(cir_ingest_server_stats_t){.connections = 2},
                                 &body, &ct),
        200);
    cr_assert(
        strstr(body,
               "cirrus_ingest_stream_bytes_total{app=\"live\",key=\"cam1\"} "
               "42684213\n") != NULL,
        "%s", body);
    cr_assert(
        strstr(body,
               "cirrus_ingest_stream_frames_total{app=\"live\",key=\"cam1\"} "
               "9007199254740993\n") != NULL,
        "%s", body);
    cr_assert(
        strstr(body,
               "cirrus_ingest_stream_dropped_frames_total{app=\"live\",key="
               "\"cam1\"} 1000000\n") != NULL,
        "%s", body);
    cr_assert(
        strstr(body,
               "cirrus_ingest_stream_bitrate_bps{app=\"live\",key=\"cam1\"} "
               "25000000\n") != NULL,
        "%s", body);
    cr_assert(
        strstr(body,
               "cirrus_ingest_stream_uptime_seconds{app=\"live\",key=\"cam1\"} "
               "12345678.250\n") != NULL,
        "%s", body);
    /* no sample's value has an exponent */
    for (const char *l = body; *l != '\0'; l = strchr(l, '\n') + 1) {
        const char *nl = strchr(l, '\n'), *v = nl;
        cr_assert_not_null(nl, "the text ends with a newline");
        while (v > l && v[-1] != ' ') {
            v--;
        }
        if (l[0] != '#') {
            cr_assert(memchr(v, 'e', (size_t)(nl - v)) == NULL, "%.*s",
                      (int)(nl - l), l);
        }
    }
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        snprintf(line, sizeof(line), "# HELP cirrus_ingest_%s ", families[i]);
        cr_assert(strstr(body, line) != NULL, "%s in %s", line, body);
        snprintf(line, sizeof(line), "# TYPE cirrus_ingest_%s ", families[i]);
        cr_assert(strstr(body, line) != NULL, "%s in %s", line, body);
    }
    free(body);
}

/* The live pipeline's timestamp repairs (cir_onair_stats'
 * "timestamp_repairs") in /streams and as one counter per track and kind
 * in /metrics. */
Test(ingest_status, timestamp_repairs_per_track_and_kind)
{
    json_t *live =
        json_pack("{s:[], s:{s:{s:i, s:i}, s:{s:i, s:i}}}", "renditions",
                  "timestamp_repairs", "video", "repeated_dts", 12, "wrap", 0,
                  "audio", "repeated_dts", 3, "wrap", 1);
    cir_ingest_stream_info_t s = {.key = "cam1", .live = live};
    char *body = NULL;
    const char *ct;
    json_t *j;

    cr_assert_not_null(live);
    cr_assert_eq(
        cir_ingest_status_render("/metrics", &s, 1,
                                 &(cir_ingest_server_stats_t){.connections = 1},
                                 &body, &ct),
        200);
    cr_assert(strstr(body, "# TYPE cirrus_ingest_stream_timestamp_repairs_total"
                           " counter\n") != NULL);
    cr_assert(
        strstr(body,
               "cirrus_ingest_stream_timestamp_repairs_total{app=\"live\",key="
               "\"cam1\",track=\"video\",kind=\"repeated_dts\"} "
               "12\n") != NULL,
        "%s", body);
    cr_assert(
        strstr(body,
               "cirrus_ingest_stream_timestamp_repairs_total{app=\"live\",key="
               "\"cam1\",track=\"audio\",kind=\"wrap\"} 1\n") != NULL);
    free(body);
    cr_assert_eq(
        cir_ingest_status_render("/streams", &s, 1,
                                 &(cir_ingest_server_stats_t){.connections = 1},
                                 &body, &ct),
        200);
    j = json_loads(body, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(json_object_get(json_array_get(j, 0),
                                                     "timestamp_repairs"),
                                     "video"),
                     "repeated_dts")),
                 12);
    json_decref(j);
    free(body);
    json_decref(live);
}

/* Each rendition's health (cir_onair_stats' "renditions") as samples per
 * stream and rendition: an encoded rung has its lag and degraded flag, the
 * passthrough has neither. */
Test(ingest_status, rendition_health_per_stream_and_rendition)
{
    json_t *live = json_pack(
        "{s:[{s:s, s:I, s:f, s:I, s:I}, {s:s, s:I, s:f, s:I, s:I, s:f, s:b}]}",
        "renditions", "name", "video", "bitrate", (json_int_t)904934, "fps",
        29.973, "frames", (json_int_t)150, "dropped_frames", (json_int_t)0,
        "name", "234p", "bitrate", (json_int_t)69918, "fps", 19.482, "frames",
        (json_int_t)99, "dropped_frames", (json_int_t)51, "encoder_lag", 0.39,
        "degraded", 1);
    cir_ingest_stream_info_t s = {.key = "cam1", .live = live};
    char *body = NULL;
    const char *ct;

    cr_assert_not_null(live);
    cr_assert_eq(
        cir_ingest_status_render("/metrics", &s, 1,
                                 &(cir_ingest_server_stats_t){.connections = 1},
                                 &body, &ct),
        200);
    const char *want[] = {
        "# TYPE cirrus_ingest_rendition_fps gauge\n",
        "cirrus_ingest_rendition_fps{app=\"live\",key=\"cam1\",rendition="
        "\"video\"} "
        "29.973000\n",
        "cirrus_ingest_rendition_fps{app=\"live\",key=\"cam1\",rendition="
        "\"234p\"} "
        "19.482000\n",
        "cirrus_ingest_rendition_bitrate_bps{app=\"live\",key=\"cam1\","
        "rendition=\"234p\"} "
        "69918\n",
        "# TYPE cirrus_ingest_rendition_dropped_frames_total counter\n",
        "cirrus_ingest_rendition_dropped_frames_total{app=\"live\",key="
        "\"cam1\",rendition="
        "\"234p\"} 51\n",
        "cirrus_ingest_rendition_frames_total{app=\"live\",key=\"cam1\","
        "rendition=\"video\"}"
        " "
        "150\n",
        "cirrus_ingest_rendition_encoder_lag_seconds{app=\"live\",key=\"cam1\","
        "rendition="
        "\"234p\"} 0.390000\n",
        "cirrus_ingest_rendition_degraded{app=\"live\",key=\"cam1\",rendition="
        "\"234p\"} 1\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert(strstr(body, want[i]) != NULL, "%s not in %s", want[i], body);
    }
    cr_assert(strstr(body,
                     "encoder_lag_seconds{app=\"live\",key=\"cam1\",rendition="
                     "\"video\"}") == NULL,
              "the passthrough has no encoder");
    free(body);
    json_decref(live);
}

/* X-Cirrus-Signature: hex(HMAC-SHA256(secret, "<timestamp>.<body>")), the
 * value Python's hmac module gives for the same input. */
Test(ingest_webhook, signature_is_hmac_sha256_of_timestamp_dot_body)
{
    const char *body = "{\"event\":\"publish\"}";
    char hex[65];

    cr_assert_eq(cir_webhook_signature("topsecret", 1796620000LL, body,
                                       strlen(body), hex),
                 0);
    cr_assert_str_eq(
        hex,
        "6ab7d4da93f91e971d2fbc2cc58ec20fa1a5d385acd7f719899ee9ded74c892e");
    /* a byte of the body or of the time changes it */
    cr_assert_eq(cir_webhook_signature("topsecret", 1796620001LL, body,
                                       strlen(body), hex),
                 0);
    cr_assert_str_neq(
        hex,
        "6ab7d4da93f91e971d2fbc2cc58ec20fa1a5d385acd7f719899ee9ded74c892e");
}
