/*
 * cirrus-ingest internals: configuration (one option table), stream-key
 * checks, the libuv server and its status endpoint.
 */
#ifndef CIR_INGEST_H_
#define CIR_INGEST_H_

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "cir_options.h"

/* ---- configuration ------------------------------------------------------ */

typedef struct {
    char listen[64];
    int64_t port;
    int64_t rtmps_port;         /* RTMP over TLS; 0: off */
    char rtmps_listen[64];      /* "": listen's */
    char tls_certificate[1024]; /* PEM, the chain: reloaded on SIGHUP */
    char tls_certificate_key[1024];
    /* SRT listener (live/srt.c): MPEG-TS published by streamid */
    int64_t srt_port;        /* 0: off */
    char srt_listen[64];     /* "": listen's */
    char srt_passphrase[80]; /* "": no encryption; else 10..79 chars */
    int64_t srt_latency_ms;  /* SRTO_LATENCY */
    int64_t srt_max_connections;
    char status_listen[64];
    int64_t status_port; /* 0: no status endpoint */
    char live_root[1024];
    char key_file[1024];       /* one allowed key per line */
    char on_publish_url[1024]; /* HTTP callback: 2xx allows */
    double auth_timeout;
    /* lifecycle webhooks (publish, publish_done, update, record_done):
     * JSON POSTs signed with webhook_secret, retried with backoff */
    char webhook_url[1024];
    char webhook_secret[256];
    double webhook_update_seconds; /* "update" per stream; 0: none */
    int64_t webhook_attempts;
    double webhook_timeout;
    int64_t webhook_max_pending; /* deliveries queued or retrying */
    int64_t takeover;            /* 1: a second publisher replaces the first */
    int64_t max_connections;
    /* connections from one address at once; at either limit a new
     * connection closes the oldest that has not published */
    int64_t max_connections_per_address;
    double handshake_timeout;
    double publish_timeout; /* connected but not publishing */
    double idle_timeout;
    int64_t max_chunk_size;
    int64_t max_message_size;
    int64_t max_message_size_before_publish; /* until a publish is accepted */
    int64_t max_buffered_bytes; /* messages being assembled, all connections */
    int64_t max_streams;
    int64_t max_bytes_per_second; /* per connection, 0: unlimited */
    int64_t window_ack_size;
    /* while streams are published, a loop turn starts at most every
     * loop_pace_ms: fewer wake-ups and reads per packet, at most that much
     * added to a part's availability (0: off) */
    double loop_pace_ms;
    /* passthrough-only streams packaged on the event loop, not a thread */
    int64_t package_on_loop;
    /* the queue in front of a stream's pipeline thread (cir_bqueue.h):
     * packets and bytes at most, the soft limits past which non-key video
     * is dropped, and the slots only control items (a new sequence
     * header, the publisher leaving) may use */
    int64_t pipe_queue_packets;
    int64_t pipe_queue_soft_packets;
    int64_t pipe_queue_bytes;
    int64_t pipe_queue_soft_bytes;
    int64_t pipe_queue_control_reserve;
    int64_t rung_queue_frames; /* decoded frames queued per live rung */
    double grace_seconds;      /* a lost publisher may come back this long */
    /* timestamp repair (transcoder/src/live_timestamps.h): a jump larger
     * than the gap, or a repair larger than the correction, starts a new
     * timeline with a discontinuity */
    double timestamp_gap_seconds;
    double timestamp_correction_seconds;
    double part_seconds;
    double segment_seconds;
    int64_t window;
    char preset[64];            /* live ABR preset; "": passthrough only */
    char presets_dir[1024];     /* "": $CIRRUS_PRESETS_DIR or the default */
    char record_uri[1024];      /* each stream recorded as VOD under it */
    char public_base_url[1024]; /* viewer URLs in the status ("": none) */
    /* restreaming: every stream forwarded as it came to these
     * rtmp[s]://host[:port]/app/key URLs (space or comma separated; the
     * stream's own key is appended when a URL ends in '/') */
    char push[4096];
    /* live encryption, a VOD job's "encryption" object ("": clear) */
    char encryption[2048];
    int64_t push_queue_bytes;    /* per destination, then drops */
    int64_t push_tls_verify;     /* rtmps:// certificates checked */
    char push_tls_ca_file[1024]; /* "": the system's authorities */
    char log_level[16];
    int64_t log_json; /* one JSON object per log line */
    /* RTMP applications (rtmp://host/APP/KEY), each with its own settings
     * ({"events": {"preset": "live", ...}}), compact JSON; "": the one
     * application "live" with the options above (cir_ingest_apps_parse) */
    char applications[16384];
} cir_ingest_config_t;

/* The options' table (cir_options.h): a config file's "ingest" section,
 * CIRRUS_INGEST_<NAME>, --set NAME=VALUE (cir_cli.h). */
extern const cir_options_t cir_ingest_options;

/* ---- applications -------------------------------------------------------- */

#define CIR_INGEST_APPS_MAX 64
#define CIR_INGEST_APP_MAX  63 /* bytes of a name: [A-Za-z0-9_-] */

/* One application's settings: its own where the "applications" option
 * sets them, else the global option's (live_root, public_base_url and
 * record_uri: derived from the global ones for an application other than
 * "live", see cir_ingest_apps_parse). */
typedef struct {
    char name[CIR_INGEST_APP_MAX + 1];
    char live_root[1024];
    char key_file[1024];
    char on_publish_url[1024];
    char record_uri[1024];
    char public_base_url[1024];
    char preset[64];
    char push[4096];
    char encryption[2048]; /* "": clear */
    double part_seconds;
    double segment_seconds;
    int64_t window;
} cir_ingest_app_config_t;

/*
 * The applications of cfg: its "applications" option's, in their order,
 * or (none) the one application "live" with the global settings.  An
 * application's unset live_root is the global one for "live" and a
 * sibling folder named after the application otherwise (live_root
 * /var/lib/cirrus/live: "events" stores under /var/lib/cirrus/events);
 * public_base_url likewise (its last path segment replaced); record_uri
 * gets "/<name>" appended.  Two applications may not share or nest their
 * live_root, nor share a record_uri.  *apps (free()) and *n, or
 * CIR_EINVAL with err naming the option ("applications.events.window:
 * ...").
 */
int cir_ingest_apps_parse(const cir_ingest_config_t *cfg,
                          cir_ingest_app_config_t **apps, size_t *n, char *err,
                          size_t errsize);

/* The options an application may set (NULL-terminated), for messages and
 * the documentation. */
extern const char *const cir_ingest_app_options[];

/* ---- stream keys from a file -------------------------------------------- */

/* One key a line, optionally followed by its own push destinations
 * (space separated URLs, as the push option's). */
typedef struct {
    char path[1024];
    char **keys;
    char **push; /* per key: its push list, or NULL */
    size_t count;
    int64_t mtime_ns;
    size_t bad_lines;    /* lines skipped at the last load */
    char first_bad[160]; /* the first of them, why */
} cir_keyfile_t;

/* (Re)loads when the file changed or force is set. */
int cir_keyfile_load(cir_keyfile_t *k, const char *path, int force);
int cir_keyfile_allows(const cir_keyfile_t *k, const char *key);
/* The key's own push destinations from its line, or NULL. */
const char *cir_keyfile_push(const cir_keyfile_t *k, const char *key);
void cir_keyfile_free(cir_keyfile_t *k);

/* ---- SRT streamids ------------------------------------------------------ */

/*
 * A publisher's SRT streamid: the access-control form
 * "#!::r=APP/KEY,m=publish" (other pairs, e.g. u=, s=, go to args as
 * "u=...&s=..."; m may be left out) or the plain "APP/KEY" or "KEY"
 * (application "live"; a "?query" after it goes to args).  0, or
 * CIR_EINVAL with *why set: m=request or another mode, a malformed
 * streamid, an unsafe application name or key.  Whether the application
 * exists is the caller's question.
 */
int cir_srt_streamid_parse(const char *sid, char app[64], char key[64],
                           char args[256], const char **why);

/* ---- the server --------------------------------------------------------- */

typedef struct cir_ingest cir_ingest_t;

int cir_ingest_new(cir_ingest_t **s, const cir_ingest_config_t *cfg);
/* Runs the loop until SIGINT/SIGTERM; streams end cleanly. */
int cir_ingest_run(cir_ingest_t *s);
void cir_ingest_free(cir_ingest_t **s);

/* ---- status (rendered by status.c from the server's streams) ------------ */

/* A push destination as the status shows it. */
typedef struct {
    const char *url;   /* the key hidden */
    const char *state; /* connecting, publishing, retrying */
    uint64_t bytes;    /* sent (queued to the socket) */
    uint64_t dropped;  /* frames dropped at its queue */
    uint64_t reconnects;
    uint64_t queued_bytes; /* waiting for the socket now */
    const char *error;     /* why it is retrying ("" while publishing) */
} cir_ingest_push_info_t;

typedef struct {
    const char *app; /* its application */
    const char *key;
    const char *protocol; /* "rtmp", "rtmps", "srt" (the last publisher) */
    int publishing;
    double uptime;
    double bitrate; /* bits/s over the last second */
    double fps;
    const char *video_codec, *audio_codec;
    int width, height;
    uint64_t bytes, frames, dropped;
    json_t *live;         /* cir_onair_stats() of the stream, or NULL */
    const char *base_url; /* public base for viewer URLs, or NULL/"" */
    const cir_ingest_push_info_t *push; /* its push destinations */
    size_t npush;
} cir_ingest_stream_info_t;

/* One stream as /streams lists it (and the "update" webhook sends it). */
json_t *cir_ingest_stream_json(const cir_ingest_stream_info_t *s);

/* hex(HMAC-SHA256(secret, "<timestamp>.<body>")): a webhook's
 * X-Cirrus-Signature (after "sha256="). */
int cir_webhook_signature(const char *secret, long long timestamp,
                          const char *body, size_t len, char hex[65]);

/* The server's own figures, for /metrics. */
typedef struct {
    uint64_t connections;     /* open now */
    uint64_t buffered_bytes;  /* RTMP messages being assembled, all of them */
    uint64_t closed_for_room; /* idle connections closed for new ones */
    uint64_t closed_over_buffered; /* closed over max_buffered_bytes */
    uint64_t refused;              /* new connections refused at a limit */
    /* publishes refused: an application that is not configured (RTMP
     * connect, SRT handshake), a key the key file or callback refused */
    uint64_t refused_unknown_app, refused_key;
    /* webhooks: delivered, attempts that failed, given up (attempts spent
     * or webhook_max_pending reached) */
    uint64_t webhooks_delivered, webhooks_failed, webhooks_dropped;
    /* SRT (srt_port > 0): connections open, handshakes rejected by the
     * listener (streamid, srt_max_connections), bytes dropped because a
     * publisher's demuxer fell behind */
    int srt;
    uint64_t srt_connections, srt_rejected, srt_dropped_bytes;
} cir_ingest_server_stats_t;

/* Builds the HTTP response for a request line path ("/streams",
 * "/metrics"); returns the status code. */
int cir_ingest_status_render(const char *path,
                             const cir_ingest_stream_info_t *streams, size_t n,
                             const cir_ingest_server_stats_t *srv, char **body,
                             const char **content_type);

#endif
