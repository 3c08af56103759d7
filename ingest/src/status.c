/*
 * The status endpoint's documents: GET /streams (JSON) and GET /metrics
 * (Prometheus text).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_ingest.h"

static char *
render_json(const cir_ingest_stream_info_t *s, size_t n)
{
    json_t *arr = json_array();
    char *out;

    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object(), *r = json_array();
        json_object_set_new(o, "key", json_string(s[i].key));
        json_object_set_new(o, "publishing", json_boolean(s[i].publishing));
        json_object_set_new(o, "uptime", json_real(s[i].uptime));
        json_object_set_new(o, "bitrate", json_real(s[i].bitrate));
        json_object_set_new(o, "fps", json_real(s[i].fps));
        json_object_set_new(o, "width", json_integer(s[i].width));
        json_object_set_new(o, "height", json_integer(s[i].height));
        json_object_set_new(o, "bytes", json_integer((json_int_t)s[i].bytes));
        json_object_set_new(o, "frames", json_integer((json_int_t)s[i].frames));
        json_object_set_new(o, "dropped_frames",
                            json_integer((json_int_t)s[i].dropped));
        json_t *codecs = json_object();
        if (s[i].video_codec != NULL) {
            json_object_set_new(codecs, "video", json_string(s[i].video_codec));
            json_array_append_new(r, json_string("video"));
        }
        if (s[i].audio_codec != NULL) {
            json_object_set_new(codecs, "audio", json_string(s[i].audio_codec));
            json_array_append_new(r, json_string("audio"));
        }
        json_object_set_new(o, "codecs", codecs);
        json_object_set_new(o, "renditions", r);
        json_array_append_new(arr, o);
    }
    out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return out;
}

static char *
render_metrics(const cir_ingest_stream_info_t *s, size_t n,
               uint64_t connections)
{
    cir_buf_t b;
    static const char *names[] = {"bitrate_bps",          "fps",
                                  "bytes_total",          "frames_total",
                                  "dropped_frames_total", "uptime_seconds"};

    cir_buf_init(&b, 4 << 20);
    cir_buf_printf(&b,
                   "# TYPE cirrus_ingest_connections gauge\n"
                   "cirrus_ingest_connections %llu\n"
                   "# TYPE cirrus_ingest_streams gauge\n"
                   "cirrus_ingest_streams %zu\n",
                   (unsigned long long)connections, n);
    for (size_t m = 0; m < 6; m++) {
        cir_buf_printf(&b, "# TYPE cirrus_ingest_stream_%s %s\n", names[m],
                       strstr(names[m], "total") ? "counter" : "gauge");
        for (size_t i = 0; i < n; i++) {
            double v = m == 0   ? s[i].bitrate
                       : m == 1 ? s[i].fps
                       : m == 2 ? (double)s[i].bytes
                       : m == 3 ? (double)s[i].frames
                       : m == 4 ? (double)s[i].dropped
                                : s[i].uptime;
            /* keys are [A-Za-z0-9_-]: nothing to escape */
            cir_buf_printf(&b, "cirrus_ingest_stream_%s{key=\"%s\"} %.6g\n",
                           names[m], s[i].key, v);
        }
    }
    return cir_buf_detach(&b, NULL);
}

int
cir_ingest_status_render(const char *path,
                         const cir_ingest_stream_info_t *streams, size_t n,
                         uint64_t connections, char **body,
                         const char **content_type)
{
    if (strcmp(path, "/streams") == 0) {
        *body = render_json(streams, n);
        *content_type = "application/json";
    } else if (strcmp(path, "/metrics") == 0) {
        *body = render_metrics(streams, n, connections);
        *content_type = "text/plain; version=0.0.4";
    } else {
        *body = strdup("not found\n");
        *content_type = "text/plain";
        return *body != NULL ? 404 : 500;
    }
    return *body != NULL ? 200 : 500;
}
