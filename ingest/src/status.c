/*
 * The status endpoint's documents: GET /streams (JSON) and GET /metrics
 * (Prometheus text).
 *
 * Tested through tests/integration/ingest.test.mjs (the documents checked
 * with a JSON and a Prometheus parser).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_buf.h"
#include "cir_error.h"
#include "cir_ingest.h"

/* A stream's application for a metric label: names are [A-Za-z0-9_-] */
static const char *
app_of(const cir_ingest_stream_info_t *s)
{
    return s->app != NULL ? s->app : "live";
}

/* The pipeline's renditions (names, sizes, rates) and the viewer URLs. */
static void
add_live(json_t *o, json_t *names, const cir_ingest_stream_info_t *s)
{
    json_t *rends = s->live ? json_object_get(s->live, "renditions") : NULL;
    json_t *r, *urls;
    size_t i;

    if (json_is_array(rends)) {
        json_array_foreach(rends, i, r)
        {
            json_t *name = json_object_get(r, "name");
            if (json_is_string(name)) {
                json_array_append(names, name);
            }
            if (s->width == 0 && json_is_string(name) &&
                strcmp(json_string_value(name), "video") == 0 &&
                json_is_integer(json_object_get(r, "width"))) {
                json_object_set(o, "width", json_object_get(r, "width"));
                json_object_set(o, "height", json_object_get(r, "height"));
            }
        }
        json_object_set(o, "abr", rends);
        json_object_set(o, "dropped_frames_abr",
                        json_object_get(s->live, "dropped_frames"));
    }
    if (s->live &&
        json_is_object(json_object_get(s->live, "timestamp_repairs"))) {
        json_object_set(o, "timestamp_repairs",
                        json_object_get(s->live, "timestamp_repairs"));
    }
    if (s->base_url != NULL && s->base_url[0] != '\0') {
        size_t n = strlen(s->base_url);
        const char *sl = s->base_url[n - 1] == '/' ? "" : "/";
        char url[2048];
        urls = json_object();
        snprintf(url, sizeof(url), "%s%s%s/master.m3u8", s->base_url, sl,
                 s->key);
        json_object_set_new(urls, "hls", json_string(url));
        snprintf(url, sizeof(url), "%s%s%s/manifest.mpd", s->base_url, sl,
                 s->key);
        json_object_set_new(urls, "dash", json_string(url));
        json_object_set_new(o, "urls", urls);
    }
}

/* The push destinations: where, in what state, what they took, why they
 * are retrying. */
static json_t *
push_json(const cir_ingest_stream_info_t *s)
{
    json_t *a = json_array();

    for (size_t i = 0; i < s->npush; i++) {
        const cir_ingest_push_info_t *p = &s->push[i];
        json_t *d = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "url", p->url,
                              "state", p->state, "bytes", (json_int_t)p->bytes,
                              "dropped_frames", (json_int_t)p->dropped,
                              "reconnects", (json_int_t)p->reconnects,
                              "queued_bytes", (json_int_t)p->queued_bytes);
        /* why it is retrying (a refusal, a certificate that failed) */
        if (d != NULL && p->error != NULL && p->error[0] != '\0') {
            json_object_set_new(d, "error", json_string(p->error));
        }
        json_array_append_new(a, d);
    }
    return a;
}

json_t *
cir_ingest_stream_json(const cir_ingest_stream_info_t *s)
{
    json_t *o = json_object(), *r = json_array(), *codecs = json_object();

    if (o == NULL || r == NULL || codecs == NULL) {
        json_decref(o);
        json_decref(r);
        json_decref(codecs);
        return NULL;
    }
    if (s->app != NULL) {
        json_object_set_new(o, "app", json_string(s->app));
    }
    json_object_set_new(o, "key", json_string(s->key));
    json_object_set_new(o, "publishing", json_boolean(s->publishing));
    if (s->protocol != NULL) {
        json_object_set_new(o, "protocol", json_string(s->protocol));
    }
    json_object_set_new(o, "uptime", json_real(s->uptime));
    json_object_set_new(o, "bitrate", json_real(s->bitrate));
    json_object_set_new(o, "fps", json_real(s->fps));
    json_object_set_new(o, "width", json_integer(s->width));
    json_object_set_new(o, "height", json_integer(s->height));
    json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes));
    json_object_set_new(o, "frames", json_integer((json_int_t)s->frames));
    json_object_set_new(o, "dropped_frames",
                        json_integer((json_int_t)s->dropped));
    if (s->video_codec != NULL) {
        json_object_set_new(codecs, "video", json_string(s->video_codec));
    }
    if (s->audio_codec != NULL) {
        json_object_set_new(codecs, "audio", json_string(s->audio_codec));
    }
    add_live(o, r, s);
    if (s->live == NULL) {
        /* no pipeline yet: the tracks announced */
        if (s->video_codec != NULL) {
            json_array_append_new(r, json_string("video"));
        }
        if (s->audio_codec != NULL) {
            json_array_append_new(r, json_string("audio"));
        }
    }
    json_object_set_new(o, "codecs", codecs);
    json_object_set_new(o, "renditions", r);
    if (s->npush > 0) {
        json_object_set_new(o, "push", push_json(s));
    }
    return o;
}

static char *
render_json(const cir_ingest_stream_info_t *s, size_t n)
{
    json_t *arr = json_array();
    char *out;

    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, cir_ingest_stream_json(&s[i]));
    }
    out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return out;
}

/* The live pipeline's timestamp repairs, per stream, track and kind. */
static void
render_repairs(cir_buf_t *b, const cir_ingest_stream_info_t *s, size_t n)
{
    cir_buf_printf(b, "# HELP cirrus_ingest_stream_timestamp_repairs_total "
                      "publisher timestamps repaired (frames kept), or "
                      "frames dropped (the before_* kinds), by kind\n"
                      "# TYPE cirrus_ingest_stream_timestamp_repairs_total "
                      "counter\n");
    for (size_t i = 0; i < n; i++) {
        json_t *tracks =
            s[i].live ? json_object_get(s[i].live, "timestamp_repairs") : NULL;
        const char *track, *kind;
        json_t *kinds, *v;

        if (!json_is_object(tracks)) {
            continue;
        }
        json_object_foreach(tracks, track, kinds)
        {
            json_object_foreach(kinds, kind, v)
            {
                /* keys are [A-Za-z0-9_-], tracks and kinds ours */
                cir_buf_printf(b,
                               "cirrus_ingest_stream_timestamp_repairs_total{"
                               "app=\"%s\",key=\"%s\",track=\"%s\","
                               "kind=\"%s\"} %lld\n",
                               app_of(&s[i]), s[i].key, track, kind,
                               (long long)json_integer_value(v));
            }
        }
    }
}

/* The per-rendition metric families, from the live pipeline's stats
 * (cir_onair_stats: "renditions"); NULL json: the rungs' only. */
typedef struct {
    const char *name; /* after "cirrus_ingest_rendition_" */
    const char *type;
    const char *help;
    const char *json; /* the rendition's field (the encoded ones have all) */
} rendition_family_t;

static const rendition_family_t rendition_families[] = {
    {"bitrate_bps", "gauge", "bits packaged per second over the last window",
     "bitrate"},
    {"fps", "gauge", "frames packaged per second over the last window", "fps"},
    {"frames_total", "counter", "frames packaged", "frames"},
    {"dropped_frames_total", "counter",
     "frames an encoder that fell behind dropped", "dropped_frames"},
    {"encoder_lag_seconds", "gauge",
     "from a frame's decoding to its encoding done, the last frame's",
     "encoder_lag"},
    {"degraded", "gauge",
     "1 while the rendition drops frames (an episode, logged once)",
     "degraded"},
};

/* One rendition value as Prometheus text: integers in full, reals with
 * fixed decimals, booleans as 0/1. */
static void
format_json_value(const json_t *v, char *out, size_t size)
{
    if (json_is_integer(v)) {
        snprintf(out, size, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(out, size, "%.6f", json_real_value(v));
    } else {
        snprintf(out, size, "%d", json_is_true(v));
    }
}

static void
render_renditions(cir_buf_t *b, const cir_ingest_stream_info_t *s, size_t n)
{
    for (size_t m = 0;
         m < sizeof(rendition_families) / sizeof(rendition_families[0]); m++) {
        const rendition_family_t *f = &rendition_families[m];
        cir_buf_printf(
            b,
            "# HELP cirrus_ingest_rendition_%s %s, per application, stream key "
            "and rendition\n"
            "# TYPE cirrus_ingest_rendition_%s %s\n",
            f->name, f->help, f->name, f->type);
        for (size_t i = 0; i < n; i++) {
            json_t *rends =
                s[i].live ? json_object_get(s[i].live, "renditions") : NULL;
            size_t k;
            json_t *r;
            json_array_foreach(rends, k, r)
            {
                json_t *v = json_object_get(r, f->json);
                char value[64];
                if (v == NULL) {
                    continue; /* the passthrough has no encoder */
                }
                format_json_value(v, value, sizeof(value));
                /* keys are [A-Za-z0-9_-], rendition names ours */
                cir_buf_printf(b,
                               "cirrus_ingest_rendition_%s{app=\"%s\","
                               "key=\"%s\",rendition=\"%s\"} %s\n",
                               f->name, app_of(&s[i]), s[i].key,
                               json_string_value(json_object_get(r, "name")),
                               value);
            }
        }
    }
}

/* The per-stream metric families.  Counters are whole numbers and print
 * as such ("%g" printed 4.26842e+07: digits lost, rates wrong); gauges
 * print with fixed decimals, never an exponent. */
typedef struct {
    const char *name; /* after "cirrus_ingest_stream_" */
    const char *type;
    const char *help;
    size_t offset; /* of the value in cir_ingest_stream_info_t */
    int decimals;  /* a double's; -1: the field is a uint64_t */
} stream_family_t;

#define FIELD(f) offsetof(cir_ingest_stream_info_t, f)

static const stream_family_t stream_families[] = {
    {"bitrate_bps", "gauge",
     "media bits received per second over the last second", FIELD(bitrate), 0},
    {"fps", "gauge", "video frames per second over the last second", FIELD(fps),
     3},
    {"bytes_total", "counter", "audio and video payload bytes received",
     FIELD(bytes), -1},
    {"frames_total", "counter", "audio and video frames received",
     FIELD(frames), -1},
    {"dropped_frames_total", "counter", "frames dropped at the packaging queue",
     FIELD(dropped), -1},
    {"uptime_seconds", "gauge", "seconds since the stream started",
     FIELD(uptime), 3},
};

/* The text of one sample's value. */
static void
format_stream_value(const stream_family_t *f, const cir_ingest_stream_info_t *s,
                    char *value, size_t size)
{
    const char *field = (const char *)s + f->offset;

    if (f->decimals < 0) {
        snprintf(value, size, "%llu",
                 (unsigned long long)*(const uint64_t *)field);
    } else {
        snprintf(value, size, "%.*f", f->decimals, *(const double *)field);
    }
}

/* The server's connection figures: what the limits before a publish
 * (max_connections*, max_buffered_bytes) did. */
static void
render_server(cir_buf_t *b, const cir_ingest_server_stats_t *srv)
{
    cir_buf_printf(
        b,
        "# HELP cirrus_ingest_connections RTMP connections open now\n"
        "# TYPE cirrus_ingest_connections gauge\n"
        "cirrus_ingest_connections %llu\n"
        "# HELP cirrus_ingest_buffered_bytes bytes held for RTMP messages "
        "being assembled, all connections\n"
        "# TYPE cirrus_ingest_buffered_bytes gauge\n"
        "cirrus_ingest_buffered_bytes %llu\n"
        "# HELP cirrus_ingest_connections_closed_total connections the "
        "limits closed: an idle one for a new one (room), or over "
        "max_buffered_bytes (buffered)\n"
        "# TYPE cirrus_ingest_connections_closed_total counter\n"
        "cirrus_ingest_connections_closed_total{reason=\"room\"} %llu\n"
        "cirrus_ingest_connections_closed_total{reason=\"buffered\"} %llu\n"
        "# HELP cirrus_ingest_connections_refused_total new connections "
        "refused at max_connections or max_connections_per_address\n"
        "# TYPE cirrus_ingest_connections_refused_total counter\n"
        "cirrus_ingest_connections_refused_total %llu\n"
        "# HELP cirrus_ingest_publish_refused_total publishes refused: an "
        "application that is not configured (RTMP connect, SRT handshake), "
        "a stream key the key file or on_publish_url refused\n"
        "# TYPE cirrus_ingest_publish_refused_total counter\n"
        "cirrus_ingest_publish_refused_total{reason=\"unknown_app\"} %llu\n"
        "cirrus_ingest_publish_refused_total{reason=\"key\"} %llu\n"
        "# HELP cirrus_ingest_webhooks_total webhook attempts: delivered, "
        "failed (retried or not), dropped (given up)\n"
        "# TYPE cirrus_ingest_webhooks_total counter\n"
        "cirrus_ingest_webhooks_total{result=\"delivered\"} %llu\n"
        "cirrus_ingest_webhooks_total{result=\"failed\"} %llu\n"
        "cirrus_ingest_webhooks_total{result=\"dropped\"} %llu\n",
        (unsigned long long)srv->connections,
        (unsigned long long)srv->buffered_bytes,
        (unsigned long long)srv->closed_for_room,
        (unsigned long long)srv->closed_over_buffered,
        (unsigned long long)srv->refused,
        (unsigned long long)srv->refused_unknown_app,
        (unsigned long long)srv->refused_key,
        (unsigned long long)srv->webhooks_delivered,
        (unsigned long long)srv->webhooks_failed,
        (unsigned long long)srv->webhooks_dropped);
    if (srv->srt) {
        cir_buf_printf(
            b,
            "# HELP cirrus_ingest_srt_connections SRT connections open now\n"
            "# TYPE cirrus_ingest_srt_connections gauge\n"
            "cirrus_ingest_srt_connections %llu\n"
            "# HELP cirrus_ingest_srt_rejected_total SRT handshakes rejected "
            "(a streamid that does not publish, srt_max_connections)\n"
            "# TYPE cirrus_ingest_srt_rejected_total counter\n"
            "cirrus_ingest_srt_rejected_total %llu\n"
            "# HELP cirrus_ingest_srt_dropped_bytes_total bytes received over "
            "SRT and dropped: a publisher's demuxer fell behind\n"
            "# TYPE cirrus_ingest_srt_dropped_bytes_total counter\n"
            "cirrus_ingest_srt_dropped_bytes_total %llu\n",
            (unsigned long long)srv->srt_connections,
            (unsigned long long)srv->srt_rejected,
            (unsigned long long)srv->srt_dropped_bytes);
    }
}

/* cirrus_ingest_push_*: per stream key and destination (the URL with
 * its key hidden; URLs hold no quote, backslash or newline). */
static void
render_push(cir_buf_t *b, const cir_ingest_stream_info_t *s, size_t n)
{
    static const struct {
        const char *name, *type, *help;
        size_t offset;
    } fams[] = {
        {"bytes_total", "counter", "bytes sent to the destination",
         offsetof(cir_ingest_push_info_t, bytes)},
        {"dropped_frames_total", "counter",
         "frames dropped at the destination's full queue",
         offsetof(cir_ingest_push_info_t, dropped)},
        {"reconnects_total", "counter",
         "connection attempts after a failure or a close",
         offsetof(cir_ingest_push_info_t, reconnects)},
        {"queued_bytes", "gauge", "bytes waiting for the destination's socket",
         offsetof(cir_ingest_push_info_t, queued_bytes)},
    };

    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        cir_buf_printf(b,
                       "# HELP cirrus_ingest_push_%s %s, per stream key and "
                       "destination\n# TYPE cirrus_ingest_push_%s %s\n",
                       fams[f].name, fams[f].help, fams[f].name, fams[f].type);
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < s[i].npush; k++) {
                const cir_ingest_push_info_t *p = &s[i].push[k];
                cir_buf_printf(
                    b,
                    "cirrus_ingest_push_%s{app=\"%s\",key=\"%s\","
                    "url=\"%s\"} %llu\n",
                    fams[f].name, app_of(&s[i]), s[i].key, p->url,
                    (unsigned long long)*(const uint64_t *)((const char *)p +
                                                            fams[f].offset));
            }
        }
    }
    cir_buf_printf(b, "# HELP cirrus_ingest_push_publishing 1 while the "
                      "destination takes the stream, 0 while connecting or "
                      "retrying\n# TYPE cirrus_ingest_push_publishing gauge\n");
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < s[i].npush; k++) {
            cir_buf_printf(b,
                           "cirrus_ingest_push_publishing{app=\"%s\","
                           "key=\"%s\",url=\"%s\"} %d\n",
                           app_of(&s[i]), s[i].key, s[i].push[k].url,
                           strcmp(s[i].push[k].state, "publishing") == 0);
        }
    }
}

static char *
render_metrics(const cir_ingest_stream_info_t *s, size_t n,
               const cir_ingest_server_stats_t *srv)
{
    cir_buf_t b;

    cir_buf_init(&b, 4 << 20);
    render_server(&b, srv);
    cir_buf_printf(&b,
                   "# HELP cirrus_ingest_streams streams known now "
                   "(publishing or in their grace period)\n"
                   "# TYPE cirrus_ingest_streams gauge\n"
                   "cirrus_ingest_streams %zu\n",
                   n);
    for (size_t m = 0; m < sizeof(stream_families) / sizeof(stream_families[0]);
         m++) {
        const stream_family_t *f = &stream_families[m];
        cir_buf_printf(&b,
                       "# HELP cirrus_ingest_stream_%s %s, per stream key\n"
                       "# TYPE cirrus_ingest_stream_%s %s\n",
                       f->name, f->help, f->name, f->type);
        for (size_t i = 0; i < n; i++) {
            char value[64];
            format_stream_value(f, &s[i], value, sizeof(value));
            /* keys are [A-Za-z0-9_-]: nothing to escape */
            cir_buf_printf(&b,
                           "cirrus_ingest_stream_%s{app=\"%s\",key=\"%s\"} "
                           "%s\n",
                           f->name, app_of(&s[i]), s[i].key, value);
        }
    }
    render_repairs(&b, s, n);
    render_renditions(&b, s, n);
    render_push(&b, s, n);
    return cir_buf_detach(&b, NULL);
}

int
cir_ingest_status_render(const char *path,
                         const cir_ingest_stream_info_t *streams, size_t n,
                         const cir_ingest_server_stats_t *srv, char **body,
                         const char **content_type)
{
    if (strcmp(path, "/streams") == 0) {
        *body = render_json(streams, n);
        *content_type = "application/json";
    } else if (strcmp(path, "/metrics") == 0) {
        *body = render_metrics(streams, n, srv);
        *content_type = "text/plain; version=0.0.4";
    } else {
        *body = strdup("not found\n");
        *content_type = "text/plain";
        return *body != NULL ? 404 : 500;
    }
    return *body != NULL ? 200 : 500;
}
