/*
 * cirrus-ingest options: one table with defaults, limits and help; set from
 * a JSON file, CIRRUS_INGEST_<NAME> variables and the command line, in that
 * order.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_json.h"
#include "cir_ingest.h"

typedef enum {
    OPT_INT,
    OPT_DOUBLE,
    OPT_STRING
} opt_type_t;

typedef struct {
    const char *name;
    opt_type_t type;
    size_t offset;
    size_t size; /* strings */
    const char *def;
    double min, max;
    const char *help;
} opt_t;

#define S(f)                                      \
    OPT_STRING, offsetof(cir_ingest_config_t, f), \
        sizeof(((cir_ingest_config_t *)0)->f)
#define I(f) OPT_INT, offsetof(cir_ingest_config_t, f), 0
#define D(f) OPT_DOUBLE, offsetof(cir_ingest_config_t, f), 0
#define BIG  1e15

static const opt_t opts[] = {
    {"listen", S(listen), "127.0.0.1", 0, 0, "RTMP listen address"},
    {"port", I(port), "1935", 0, 65535, "RTMP port (0: any free port)"},
    {"status_listen", S(status_listen), "127.0.0.1", 0, 0,
     "status HTTP address"},
    {"status_port", I(status_port), "0", 0, 65535,
     "status HTTP port (/streams, /metrics); 0: off"},
    {"live_root", S(live_root), "/var/lib/cirrus/live", 0, 0,
     "live store directory"},
    {"key_file", S(key_file), "", 0, 0,
     "allowed stream keys, one a line (reloaded on SIGHUP or change)"},
    {"on_publish_url", S(on_publish_url), "", 0, 0,
     "HTTP callback asked on publish; 2xx allows"},
    {"auth_timeout", D(auth_timeout), "5", 0.1, 60, "callback timeout, s"},
    {"takeover", I(takeover), "0", 0, 1,
     "1: a second publisher of a key replaces the first; 0: refused"},
    {"max_connections", I(max_connections), "256", 1, 100000,
     "simultaneous connections"},
    {"handshake_timeout", D(handshake_timeout), "5", 0.1, 600,
     "seconds to complete the handshake"},
    {"publish_timeout", D(publish_timeout), "10", 0.1, 600,
     "seconds from accept to publishing"},
    {"idle_timeout", D(idle_timeout), "30", 0.1, 3600,
     "seconds without a byte before closing"},
    {"max_chunk_size", I(max_chunk_size), "65536", 128, 16777215,
     "largest Set Chunk Size accepted"},
    {"max_message_size", I(max_message_size), "8388608", 4096, 16777215,
     "largest RTMP message"},
    {"max_streams", I(max_streams), "64", 1, 100000,
     "streams live at once (including those in their grace period)"},
    {"max_bytes_per_second", I(max_bytes_per_second), "12500000", 0, BIG,
     "per-connection read rate (0: unlimited)"},
    {"window_ack_size", I(window_ack_size), "2500000", 4096, 0x7fffffff,
     "Window Acknowledgement Size announced to clients"},
    {"grace_seconds", D(grace_seconds), "10", 0, 3600,
     "a lost publisher may reconnect this long before the stream ends"},
    {"part_seconds", D(part_seconds), "0.333334", 0.05, 10,
     "LL-HLS part duration"},
    {"segment_seconds", D(segment_seconds), "2", 0.1, 60, "segment duration"},
    {"window", I(window), "15", 3, 100000, "segments kept in the playlist"},
    {"preset", S(preset), "", 0, 0,
     "live ABR preset name (presets_dir/NAME.json); empty: the source is "
     "passed through only"},
    {"presets_dir", S(presets_dir), "", 0, 0,
     "preset folder (empty: $CIRRUS_PRESETS_DIR)"},
    {"record_uri", S(record_uri), "", 0, 0,
     "file:// URI or path: each stream is also recorded as a VOD asset "
     "there (KEY-STARTTIME); empty: off"},
    {"public_base_url", S(public_base_url), "", 0, 0,
     "viewer base URL for the status endpoint (e.g. https://cdn.example/live)"},
    {"log_level", S(log_level), "info", 0, 0,
     "error, warn, info, debug, trace"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const opt_t *
find(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcmp(opts[i].name, name) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

static int
set_text(cir_ingest_config_t *c, const opt_t *o, const char *v, char *err,
         size_t errsize)
{
    char *end;
    double d;

    if (o->type == OPT_STRING) {
        if (strlen(v) >= o->size) {
            snprintf(err, errsize, "%s: too long", o->name);
            return CIR_EINVAL;
        }
        snprintf((char *)c + o->offset, o->size, "%s", v);
        return 0;
    }
    errno = 0;
    d = strtod(v, &end);
    while (*end != '\0' && isspace((unsigned char)*end)) {
        end++;
    }
    if (errno != 0 || end == v || *end != '\0' || !isfinite(d)) {
        snprintf(err, errsize, "%s: not a number: \"%s\"", o->name, v);
        return CIR_EINVAL;
    }
    if (d < o->min || d > o->max) {
        snprintf(err, errsize, "%s: %g is outside [%g, %g]", o->name, d, o->min,
                 o->max);
        return CIR_EINVAL;
    }
    if (o->type == OPT_INT) {
        if (d != floor(d)) {
            snprintf(err, errsize, "%s: not an integer", o->name);
            return CIR_EINVAL;
        }
        *(int64_t *)(void *)((char *)c + o->offset) = (int64_t)d;
    } else {
        *(double *)(void *)((char *)c + o->offset) = d;
    }
    return 0;
}

void
cir_ingest_config_defaults(cir_ingest_config_t *c)
{
    char err[128];

    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NOPTS; i++) {
        (void)set_text(c, &opts[i], opts[i].def, err, sizeof(err));
    }
}

int
cir_ingest_config_set(cir_ingest_config_t *c, const char *name,
                      const char *value, char *err, size_t errsize)
{
    const opt_t *o = find(name);

    if (o == NULL) {
        snprintf(err, errsize, "unknown option \"%s\"", name);
        return CIR_EINVAL;
    }
    return set_text(c, o, value, err, errsize);
}

int
cir_ingest_config_apply_json(cir_ingest_config_t *c, const json_t *obj,
                             char *err, size_t errsize)
{
    const char *name;
    json_t *v;
    char text[64];
    int ret;

    if (!json_is_object(obj)) {
        snprintf(err, errsize, "the configuration must be a JSON object");
        return CIR_EINVAL;
    }
    json_object_foreach((json_t *)obj, name, v)
    {
        const opt_t *o = find(name);
        if (o == NULL) {
            snprintf(err, errsize, "unknown option \"%s\"", name);
            return CIR_EINVAL;
        }
        if (o->type == OPT_STRING) {
            if (!json_is_string(v)) {
                snprintf(err, errsize, "%s: expected a string", name);
                return CIR_EINVAL;
            }
            ret = set_text(c, o, json_string_value(v), err, errsize);
        } else if (json_is_number(v)) {
            snprintf(text, sizeof(text), "%.17g", json_number_value(v));
            ret = set_text(c, o, text, err, errsize);
        } else if (json_is_boolean(v)) {
            ret = set_text(c, o, json_is_true(v) ? "1" : "0", err, errsize);
        } else {
            snprintf(err, errsize, "%s: expected a number", name);
            return CIR_EINVAL;
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

int
cir_ingest_config_load_file(cir_ingest_config_t *c, const char *path, char *err,
                            size_t errsize)
{
    json_t *j = NULL;
    char jerr[256];
    int ret;

    ret = cir_json_load_file(path, 1 << 20, &j, jerr, sizeof(jerr));
    if (ret < 0) {
        snprintf(err, errsize, "%s: %s", path, jerr);
        return ret;
    }
    ret = cir_ingest_config_apply_json(c, j, err, errsize);
    json_decref(j);
    return ret;
}

int
cir_ingest_config_apply_env(cir_ingest_config_t *c, char *err, size_t errsize)
{
    char var[96];
    const char *v;
    int ret;

    for (size_t i = 0; i < NOPTS; i++) {
        size_t n = (size_t)snprintf(var, sizeof(var), "CIRRUS_INGEST_%s",
                                    opts[i].name);
        for (size_t k = 14; k < n && k < sizeof(var); k++) {
            var[k] = (char)toupper((unsigned char)var[k]);
        }
        v = getenv(var);
        if (v != NULL && (ret = set_text(c, &opts[i], v, err, errsize)) < 0) {
            return ret;
        }
    }
    return 0;
}

void
cir_ingest_config_usage(void)
{
    fprintf(stderr, "options (JSON config keys, --set name=value, or "
                    "CIRRUS_INGEST_<NAME>):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        fprintf(stderr, "  %-22s %s (default \"%s\")\n", opts[i].name,
                opts[i].help, opts[i].def);
    }
}
