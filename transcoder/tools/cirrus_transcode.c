/*
 * cirrus-transcode: one VOD job, then exit (as an AWS Batch job runs).
 *
 * The command line is every program's (common/include/cir_cli.h): each flag
 * stands for an option of the table below ("--input URI" is "--set
 * input=URI"), which a --config file ("transcode" section, or flat) and
 * CIRRUS_TRANSCODE_<NAME> variables may also set.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cir_aws.h"
#include "cir_cli.h"
#include "cir_clip.h"
#include "cir_error.h"
#include "cir_json.h"
#include "cir_onair.h"
#include "cir_log.h"
#include "cir_options.h"
#include "cir_overlay.h"
#include "cir_preset_codecs.h"
#include "cir_published.h"
#include "cir_result_json.h"
#include "cir_speke.h"
#include "cir_storage.h"
#include "cir_transcode.h"

static atomic_int interrupted;

typedef struct {
    const char *live_root, *stream, *record;
    double part_seconds, segment_seconds, max_seconds;
    int window, loops, realtime, no_passthrough;
} live_options_t;

typedef struct {
    const char *input, *output, *preset, *presets_dir, *progress_json;
    const char *publish_tag;         /* NULL: no publication marker */
    cir_audio_tracks_t audio_tracks; /* none: every source track */
    cir_encryption_t encryption;     /* CIR_ENC_NONE: clear */
    uint32_t rotate_segments;        /* live key rotation; 0: one key */
    cir_clip_t clip;                 /* not enabled: the whole source */
    cir_overlay_t overlay;           /* not enabled: none */
    live_options_t live;
    unsigned only;
    int quiet, tty;
    int already_published; /* the marker was there: nothing was done */
    double last_line;
} options_t;

/* ---- the options: one table, a flag for each --------------------------- */

typedef struct {
    char input[4096], output[4096], preset[256], only[64];
    char presets_dir[1024], progress_json[1024], publish_tag[80];
    char log_level[16];
    char audio_tracks[4096];
    int64_t log_json, quiet;
    char live_root[1024], stream[256], record[4096];
    double part_seconds, segment_seconds, max_seconds;
    int64_t window, loop, realtime, passthrough;
    char subtitles[64 * 1024]; /* JSON: the job's "subtitles" */
    char encryption[8192];     /* JSON: the job's "encryption" */
    /* the job document's own options, as JSON (bounded like there) */
    char preset_json[32768]; /* an inline "preset" object */
    char rungs[4096];        /* "rungs" */
    char clip[256];          /* "clip" */
    char overlay[8192];      /* "overlay" (its image URI up to 4 KiB) */
} config_t;

#define S(f) CIR_OPT_S(config_t, f)
#define I(f) CIR_OPT_I(config_t, f)
#define D(f) CIR_OPT_D(config_t, f)

static const cir_option_t opts[] = {
    {"input", S(input), "", 0, 0,
     "the input: file:///abs/path, a plain path or s3://bucket/key"},
    {"output", S(output), "", 0, 0, "the output folder, as a URI"},
    {"preset", S(preset), "", 0, 0,
     "NAME.json in the presets folder (live: optional, the rungs to "
     "transcode)"},
    {"preset_json", S(preset_json), "", 0, 0,
     "the preset itself, a JSON object (a job document's inline \"preset\"; "
     "--preset then only names it in the result, default its \"name\")"},
    {"rungs", S(rungs), "", 0, 0,
     "change or drop the preset's rungs, a JSON object: {\"720p\": "
     "{\"bitrate_kbps\": 2500}, \"1080p\": null}"},
    {"clip", S(clip), "", 0, 0,
     "only this range of the source, a JSON object: {\"start\": 10, "
     "\"end\": \"1:30.5\"} (seconds or [[hh:]mm:]ss[.fff], both optional)"},
    {"overlay", S(overlay), "", 0, 0,
     "a watermark on every video rung, a JSON object: {\"image\": URI, "
     "\"position\": \"bottom-right\", \"margin\": 0.02, \"height\": 0.1, "
     "\"opacity\": 1}"},
    {"only", S(only), "", 0, 0,
     "what to produce, of hls,dash,thumbs,images (empty: everything)"},
    {"presets_dir", S(presets_dir), "", 0, 0,
     "presets folder (empty: $CIRRUS_PRESETS_DIR, else the build's)"},
    {"progress_json", S(progress_json), "", 0, 0,
     "a file rewritten with the progress, then the result"},
    {"publish_tag", S(publish_tag), "", 0, 0,
     "the upload's identity, 64 hex (\"\" or none: off)"},
    {"audio_tracks", S(audio_tracks), "", 0, 0,
     "JSON list of the source audio tracks to publish, e.g. "
     "[{\"index\":1,\"language\":\"fr\",\"name\":\"Fran\u00e7ais\"}] "
     "(empty: every track)"},
    {"log_level", S(log_level), "", 0, 0,
     "error, warn, info, debug, trace (\"\": info, error with quiet)"},
    {"log_json", I(log_json), "0", 0, 1, "one JSON object per log line"},
    {"quiet", I(quiet), "0", 0, 1,
     "no progress; errors only in the log unless log_level says"},
    {"live_root", S(live_root), "", 0, 0,
     "live: package the input into this live store"},
    {"stream", S(stream), "", 0, 0, "live: the stream's name"},
    {"record", S(record), "", 0, 0,
     "live: also publish the stream as a VOD asset at file:///DIR"},
    {"part_seconds", D(part_seconds), "0.333334", 0.001, 86400,
     "live: part duration"},
    {"segment_seconds", D(segment_seconds), "0", 0, 86400,
     "live: segment duration (0: the preset's, else 2)"},
    {"window", I(window), "15", 3, 100000, "live: segments in the playlist"},
    {"loop", I(loop), "0", -1, 100000,
     "live: play the input again this many times (-1: for ever)"},
    {"max_seconds", D(max_seconds), "0", 0, 86400,
     "live: stop after this long (0: at the end)"},
    {"realtime", I(realtime), "1", 0, 1, "live: at the input's own pace"},
    {"passthrough", I(passthrough), "1", 0, 1,
     "live with a preset: publish the source as \"video\" too"},
    {"subtitles", S(subtitles), "", 0, 0,
     "sidecar subtitle files, a JSON array: [{\"uri\": URI, \"language\": "
     "\"en\", \"name\": \"English\", \"kind\": "
     "\"subtitles|captions|forced\", \"default\": false}]"},
    {"encryption", S(encryption), "", 0, 0,
     "Common Encryption of the segments, a JSON object: {\"scheme\": "
     "\"cenc|cbcs|aes-128\", \"key_file\": PATH} or {\"scheme\": ..., "
     "\"key_id\": HEX32, \"key\": HEX32} or {\"scheme\": ..., \"speke\": "
     "{\"url\": URL, \"resource_id\": ID, \"region\": R}} (a SPEKE v2 "
     "key provider), with \"drm\": {\"clearkey\"|\"widevine\"|"
     "\"playready\"|\"fairplay\": {...}} for the DRM systems to signal "
     "(docs/encryption.md; default ClearKey alone); aes-128 (HLS only) "
     "takes \"key_uri\": where players fetch the key (prefer the key file or "
     "the environment: a command line is visible to every user)"},
};

static const cir_options_t options = {opts, sizeof(opts) / sizeof(opts[0]),
                                      "CIRRUS_TRANSCODE_"};

static void
print_preset_help(FILE *f)
{
    cir_preset_codecs_print_help(f);
}

/* help NULL: the option's */
static const cir_cli_flag_t flags[] = {
    {"input", 'i', "URI", "input", NULL, NULL, NULL},
    {"output", 'o', "URI", "output", NULL, NULL, NULL},
    {"preset", 'p', "NAME", "preset", NULL, NULL, NULL},
    {"preset-json", 0, "JSON", "preset_json", NULL, NULL, NULL},
    {"rungs", 0, "JSON", "rungs", NULL, NULL, NULL},
    {"clip", 0, "JSON", "clip", NULL, NULL, NULL},
    {"overlay", 0, "JSON", "overlay", NULL, NULL, NULL},
    {"only", 0, "LIST", "only", NULL, NULL, NULL},
    {"presets-dir", 0, "DIR", "presets_dir", NULL, NULL, NULL},
    {"progress-json", 0, "FILE", "progress_json", NULL, NULL, NULL},
    {"publish-tag", 0, "TAG", "publish_tag", NULL, NULL, NULL},
    {"audio-tracks", 0, "JSON", "audio_tracks", NULL, NULL, NULL},
    {"subtitles", 0, "JSON", "subtitles", NULL, NULL, NULL},
    {"encryption", 0, "JSON", "encryption", NULL, NULL, NULL},
    {"log-level", 0, "LEVEL", "log_level", NULL, NULL, NULL},
    {"log-json", 0, NULL, "log_json", "1", NULL, NULL},
    {"quiet", 0, NULL, "quiet", "1", NULL, NULL},
    {"help-preset", 0, NULL, NULL, NULL, print_preset_help,
     "every preset field"},
    {"live-root", 0, "DIR", "live_root", NULL, NULL, NULL},
    {"stream", 0, "NAME", "stream", NULL, NULL, NULL},
    {"record", 0, "URI", "record", NULL, NULL, NULL},
    {"part-seconds", 0, "S", "part_seconds", NULL, NULL, NULL},
    {"segment-seconds", 0, "S", "segment_seconds", NULL, NULL, NULL},
    {"window", 0, "N", "window", NULL, NULL, NULL},
    {"loop", 0, "N", "loop", NULL, NULL, NULL},
    {"max-seconds", 0, "S", "max_seconds", NULL, NULL, NULL},
    {"no-realtime", 0, NULL, "realtime", "0", NULL,
     "live: as fast as it goes, not at the input's pace"},
    {"no-passthrough", 0, NULL, "passthrough", "0", NULL,
     "live with a preset: the rungs only, not the source"},
};

static const cir_cli_t cli = {
    .program = "cirrus-transcode",
    .synopsis =
        "--input URI --output URI (--preset NAME | --preset-json JSON)\n"
        "                        [--only hls,dash,thumbs,images]\n"
        "                        [--presets-dir DIR] [--progress-json FILE]\n"
        "                        [--publish-tag TAG] [--audio-tracks JSON]\n"
        "                        [--subtitles JSON] [--encryption JSON]\n"
        "                        [--rungs JSON] [--clip JSON] [--overlay "
        "JSON]\n"
        "                        [--log-level LEVEL] [--log-json] [--quiet]\n"
        "live:  cirrus-transcode --input FILE --live-root DIR --stream NAME\n"
        "                        [--preset NAME] [--no-passthrough]\n"
        "                        [--record file:///DIR] [--part-seconds S]\n"
        "                        [--segment-seconds S] [--window N]\n"
        "                        [--loop N] [--max-seconds S] [--no-realtime]\n"
        "both:                   [--config FILE] [--set NAME=VALUE]...",
    .notes =
        "--publish-tag: the upload's identity (as cirrus-worker passes it to\n"
        "AWS Batch): when <output>/.published/TAG.json exists, exit 0 at once\n"
        "reporting its version; else write it after publishing.\n"
        "live --preset: transcode the preset's rungs (the source is still\n"
        "published as \"video\" unless --no-passthrough).\n"
        "URIs: file:///abs/path, a plain path, or s3://bucket/prefix.\n"
        "Presets: NAME.json in --presets-dir (default $CIRRUS_PRESETS_DIR,\n"
        "else the build's presets/), or the preset itself (--preset-json).\n"
        "--preset-json, --rungs, --clip, --overlay: a job document's fields\n"
        "(docs/transcode.md), checked by the same parsers (exit 3 naming the\n"
        "field); cirrus-worker passes them to AWS Batch as "
        "CIRRUS_TRANSCODE_*.\n"
        "Prints one line of result JSON on stdout; progress on stderr.\n"
        "\n"
        "Exit codes: 0 done, 1 usage, 2 bad input (permanent),\n"
        "3 bad preset or configuration (permanent), 4 transient failure\n"
        "(retry), 5 internal error, 6 access refused (permanent),\n"
        "130 interrupted.\n",
    .flags = flags,
    .nflags = sizeof(flags) / sizeof(flags[0]),
    .table = &options,
    .section = "transcode",
    .cfg_size = sizeof(config_t)};

static void
on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, 1);
}

static json_t *
result_json(const options_t *o, const cir_result_t *r, int ret, int code)
{
    json_t *j = json_object(), *rends = json_array();

    json_object_set_new(j, "state", json_string(ret == 0 ? "done" : "failed"));
    json_object_set_new(j, "exit_code", json_integer(code));
    json_object_set_new(j, "error",
                        ret == 0 ? json_null() : json_string(r->error));
    json_object_set_new(j, "error_code",
                        ret == 0 ? json_null() : json_string(cir_errname(ret)));
    json_object_set_new(j, "input", json_string(o->input));
    json_object_set_new(j, "output", json_string(o->output));
    json_object_set_new(j, "preset", json_string(o->preset));
    json_object_set_new(j, "version",
                        r->version[0] ? json_string(r->version) : json_null());
    json_object_set_new(j, "superseded",
                        r->superseded[0] ? json_string(r->superseded)
                                         : json_null());
    json_object_set_new(j, "superseded_objects",
                        json_integer(r->superseded_objects));
    json_object_set_new(j, "supersede_failures",
                        json_integer(r->supersede_failures));
    json_object_set_new(j, "duration", json_real(r->duration));
    json_object_set_new(j, "elapsed", json_real(r->elapsed));
    json_object_set_new(
        j, "speed", json_real(r->elapsed > 0 ? r->duration / r->elapsed : 0));
    for (size_t i = 0; i < r->nb_renditions; i++) {
        const cir_result_rendition_t *x = &r->renditions[i];
        json_t *e =
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "id", x->id, "type",
                      x->video ? "video" : "audio", "codecs", x->codecs,
                      "bandwidth", (json_int_t)x->bandwidth,
                      "average_bandwidth", (json_int_t)x->average_bandwidth,
                      "segments", (json_int_t)x->segments);
        if (!x->video) {
            json_object_set_new(e, "channels", json_integer(x->channels));
            json_object_set_new(e, "language", json_string(x->language));
            json_object_set_new(e, "name", json_string(x->name));
            json_object_set_new(e, "default", json_boolean(x->is_default));
        }
        if (!x->video && x->loudness) {
            json_object_set_new(e, "loudness", cir_result_loudness_json(x));
        }
        if (x->video) {
            json_object_set_new(e, "width", json_integer(x->width));
            json_object_set_new(e, "height", json_integer(x->height));
            json_object_set_new(e, "frame_rate", json_real(x->frame_rate));
            json_object_set_new(e, "closed_captions",
                                json_boolean(x->closed_captions));
        }
        json_array_append_new(rends, e);
    }
    json_object_set_new(j, "renditions", rends);
    json_object_set_new(j, "image", json_boolean(r->is_image));
    json_t *clip = cir_result_clip_json(r);
    if (clip != NULL) {
        json_object_set_new(j, "clip", clip);
    }
    json_t *per_title = cir_result_per_title_json(r);
    if (per_title != NULL) {
        json_object_set_new(j, "per_title", per_title);
    }
    json_t *enc = cir_result_encryption_json(r);
    if (enc != NULL) {
        /* the key ID only: the key is never written out */
        json_object_set_new(j, "encryption", enc);
    }
    if (o->publish_tag != NULL) {
        json_object_set_new(j, "already_published",
                            json_boolean(o->already_published));
    }
    return j;
}

static int
open_output(const options_t *o, cir_store_t **store)
{
    cir_uri_t u;
    int ret;

    if ((ret = cir_uri_parse(o->output, &u)) < 0) {
        return ret;
    }
    return cir_store_open(store, &u);
}

/* Is the upload of --publish-tag published already?  1 with its version
 * in r->version.  A store that cannot tell means no: the job runs, which
 * publishes at worst a second, complete version. */
static int
check_published(options_t *o, cir_result_t *r)
{
    cir_published_t *m = calloc(1, sizeof(*m));
    cir_store_t *store = NULL;
    int ret;

    if (m == NULL || (ret = open_output(o, &store)) < 0 ||
        (ret = cir_published_read(store, o->publish_tag, m)) < 0) {
        fprintf(stderr,
                "cannot tell whether %s is published already (%s): "
                "transcoding\n",
                o->output, cir_strerror(m == NULL ? CIR_ENOMEM : ret));
        ret = 0;
    } else if (ret == 1) {
        memset(r, 0, sizeof(*r));
        snprintf(r->version, sizeof(r->version), "%s", m->version);
        cir_log_info(NULL,
                     "%s: this upload is published already (version %s, "
                     ".published/%s.json): nothing to do",
                     o->output, m->version[0] ? m->version : "unknown",
                     o->publish_tag);
        o->already_published = 1;
    }
    cir_store_close(&store);
    free(m);
    return ret;
}

/* After a successful run: the marker a retried attempt finds. */
static void
mark_published(const options_t *o, const cir_result_t *r)
{
    cir_published_t *m = calloc(1, sizeof(*m));
    cir_store_t *store = NULL;
    int ret = CIR_ENOMEM;

    if (m != NULL && (ret = open_output(o, &store)) == 0) {
        snprintf(m->input, sizeof(m->input), "%s", o->input);
        snprintf(m->version, sizeof(m->version), "%s", r->version);
        snprintf(m->preset, sizeof(m->preset), "%s", o->preset);
        ret = cir_published_write(store, o->publish_tag, m);
    }
    if (ret < 0) {
        /* a retried attempt then publishes one more version: harmless */
        cir_log_warn(NULL, "writing .published/%s.json: %s", o->publish_tag,
                     cir_strerror(ret));
    }
    cir_store_close(&store);
    free(m);
}

/* ---- the progress bar on a terminal ---------------------------------------
 * One line, redrawn in place; a log line never lands on it: the sink clears
 * the bar, prints the line, and draws the bar again below it.  The sink is
 * called under the log's lock, the bar is drawn under bar_lock alone (never
 * logging), so the two locks are always taken in the same order. */

static pthread_mutex_t bar_lock = PTHREAD_MUTEX_INITIALIZER;
static char bar_line[192]; /* the bar as last drawn; "" before the first */

static void
bar_log_sink(void *opaque, cir_log_level_t level, const char *line)
{
    (void)opaque;
    (void)level;
    pthread_mutex_lock(&bar_lock);
    fprintf(stderr, "%s%s\n%s", bar_line[0] ? "\r\033[K" : "", line, bar_line);
    fflush(stderr);
    pthread_mutex_unlock(&bar_lock);
}

/* The bar is done: the next output starts on a line of its own. */
static void
bar_end(void)
{
    pthread_mutex_lock(&bar_lock);
    if (bar_line[0]) {
        fputc('\n', stderr);
        bar_line[0] = '\0';
    }
    pthread_mutex_unlock(&bar_lock);
}

/* Seconds as h:mm:ss ("--:--:--" while unknown). */
static void
format_eta(double s, char *out, size_t size)
{
    long long t;

    if (!(s >= 0) || s > 99 * 3600.0) {
        snprintf(out, size, "--:--:--");
        return;
    }
    t = (long long)(s + 0.5);
    snprintf(out, size, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
}

static void
draw_bar(const cir_progress_t *p)
{
    int width = 30, fill = p->percent > 0 ? (int)(p->percent * width / 100) : 0;
    char bar[64], eta[32];

    fill = fill > width ? width : fill;
    for (int i = 0; i < width; i++) {
        bar[i] = i < fill ? '#' : '.';
    }
    bar[width] = '\0';
    format_eta(p->eta, eta, sizeof(eta));
    pthread_mutex_lock(&bar_lock);
    snprintf(bar_line, sizeof(bar_line),
             "[%s] %5.1f%%  %6.1f fps  %5.2fx  eta %s ", bar,
             p->percent < 0 ? 0 : p->percent, p->fps, p->speed, eta);
    fprintf(stderr, "\r%s", bar_line);
    fflush(stderr);
    pthread_mutex_unlock(&bar_lock);
}

static void
on_progress(void *opaque, const cir_progress_t *p)
{
    options_t *o = opaque;

    if (o->progress_json) {
        json_t *j = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "state",
                              "running", "percent", p->percent, "fps", p->fps,
                              "speed", p->speed, "eta", p->eta, "media_time",
                              p->media_time, "elapsed", p->elapsed);
        cir_json_write_file(o->progress_json, j);
        json_decref(j);
    }
    if (o->quiet) {
        return;
    }
    if (o->tty) {
        draw_bar(p);
    } else if (p->elapsed - o->last_line >= 5 || p->percent >= 100) {
        char eta[32];
        o->last_line = p->elapsed;
        format_eta(p->eta, eta, sizeof(eta));
        fprintf(stderr, "progress %.1f%% fps=%.1f speed=%.2fx eta=%s\n",
                p->percent, p->fps, p->speed, eta);
    }
}

/* "" is "not given" */
static const char *
given(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

/* --audio-tracks: a JSON list (cir_audio_tracks_parse). */
static int
parse_audio_tracks(const char *text, cir_audio_tracks_t *out, char *err,
                   size_t errsize)
{
    char why[512];
    json_t *v = NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    if (text[0] == '\0') {
        return 0;
    }
    ret = cir_json_parse(text, strlen(text), strlen(text) + 1, &v, why,
                         sizeof(why));
    if (ret == 0) {
        ret = cir_audio_tracks_parse(v, out, why, sizeof(why));
    }
    json_decref(v);
    if (ret < 0) {
        snprintf(err, errsize, "--audio-tracks: %s", why);
        return -1;
    }
    return 0;
}

/* The log and the values the table cannot check: 0, or -1 with the
 * message in err. */
static int
check_config(const config_t *c, unsigned *only, char *err, size_t errsize)
{
    cir_log_level_t level = c->quiet ? CIR_LOG_ERROR : CIR_LOG_INFO;

    /* an explicit level wins over --quiet's, whatever their order */
    if (c->log_level[0] != '\0' &&
        cir_log_parse_level(c->log_level, &level) < 0) {
        snprintf(err, errsize, "--log-level: unknown level '%s'", c->log_level);
        return -1;
    }
    cir_log_set_level(level);
    cir_log_set_json((int)c->log_json);
    if (c->publish_tag[0] != '\0' && strcmp(c->publish_tag, "none") != 0 &&
        !cir_published_tag_is_valid(c->publish_tag)) {
        snprintf(err, errsize,
                 "--publish-tag: '%s' is not 64 lowercase hex "
                 "digits",
                 c->publish_tag);
        return -1;
    }
    if (c->only[0] != '\0' && cir_only_parse(c->only, only) < 0) {
        snprintf(err, errsize,
                 "--only: '%s' is not a list of hls, dash, thumbs, images",
                 c->only);
        return -1;
    }
    if (c->live_root[0] != '\0') {
        if (c->input[0] == '\0' || c->stream[0] == '\0') {
            snprintf(err, errsize, "--live-root needs --input and --stream");
            return -1;
        }
        if (c->preset_json[0] || c->rungs[0] || c->clip[0] || c->overlay[0]) {
            snprintf(err, errsize,
                     "--preset-json, --rungs, --clip and --overlay are for "
                     "VOD jobs, not --live-root");
            return -1;
        }
    } else if (c->input[0] == '\0' || c->output[0] == '\0' ||
               (c->preset[0] == '\0' && c->preset_json[0] == '\0')) {
        snprintf(err, errsize,
                 "--input, --output and --preset (or --preset-json) are "
                 "required");
        return -1;
    }
    return 0;
}

/* The command line into o (pointing into c): 0, CIR_CLI_EXIT (printed:
 * exit 0) or -1 (printed: a usage error). */
static int
parse_args(int argc, char **argv, config_t *c, options_t *o)
{
    char err[1024];
    int ret;

    ret = cir_cli_parse(&cli, argc, argv, c, stdout, err, sizeof(err));
    if (ret == CIR_CLI_EXIT) {
        return ret;
    }
    if (ret < 0 || check_config(c, &o->only, err, sizeof(err)) < 0 ||
        parse_audio_tracks(c->audio_tracks, &o->audio_tracks, err,
                           sizeof(err)) < 0) {
        cir_cli_report(&cli, err, stderr);
        return -1;
    }
    o->input = given(c->input);
    o->output = given(c->output);
    o->preset = given(c->preset);
    o->presets_dir = given(c->presets_dir);
    o->progress_json = given(c->progress_json);
    o->publish_tag =
        strcmp(c->publish_tag, "none") == 0 ? NULL : given(c->publish_tag);
    o->quiet = (int)c->quiet;
    o->live = (live_options_t){.live_root = given(c->live_root),
                               .stream = given(c->stream),
                               .record = given(c->record),
                               .part_seconds = c->part_seconds,
                               .segment_seconds = c->segment_seconds,
                               .max_seconds = c->max_seconds,
                               .window = (int)c->window,
                               .loops = (int)c->loop,
                               .realtime = (int)c->realtime,
                               .no_passthrough = !c->passthrough};
    return 0;
}

/* --encryption for a live source: cenc or cbcs (one key for the stream,
 * read or asked for now), not with --record.  0, or an exit code. */
static int
live_encryption(options_t *o, char *text)
{
    char err[768];
    int ret = cir_live_encryption_parse_text(
        text, &o->encryption, &o->rotate_segments, err, sizeof(err));

    explicit_bzero(text, strlen(text));
    if (ret == 0 && o->encryption.scheme == CIR_ENC_AES128) {
        snprintf(err, sizeof(err),
                 "encryption.scheme: aes-128 is not "
                 "supported live (cenc or cbcs)");
        ret = CIR_EINVAL;
    }
    if (ret == 0 && o->encryption.scheme != CIR_ENC_NONE && o->live.record) {
        snprintf(err, sizeof(err), "--encryption: not with --record");
        ret = CIR_EINVAL;
    }
    if (ret < 0) {
        fprintf(stderr, "%s\n", err);
        return CIR_EXIT_BAD_PRESET; /* as a VOD job's bad field */
    }
    /* a key provider's failures: exit codes as a VOD job's */
    if ((ret = cir_speke_resolve(&o->encryption, err, sizeof(err))) < 0) {
        fprintf(stderr, "%s\n", err);
        return cir_transcode_exit_code(ret);
    }
    return 0;
}

static int
run_live(const options_t *o)
{
    cir_onair_file_job_t job = {0};
    cir_preset_t preset;
    char err[400];
    int ret;

    if (o->preset) {
        ret = cir_preset_codecs_load(o->presets_dir, o->preset, &preset, err,
                                     sizeof(err));
        if (ret < 0) {
            fprintf(stderr, "preset %s: %s\n", o->preset, err);
            return CIR_EXIT_BAD_PRESET;
        }
        job.live.preset = &preset;
        job.live.passthrough = !o->live.no_passthrough;
    }
    job.live.record_uri = o->live.record;
    job.input = o->input;
    job.live.live_root = o->live.live_root;
    job.live.stream = o->live.stream;
    job.live.part_seconds = o->live.part_seconds;
    /* 0: the preset's (2 s without a preset) */
    job.live.segment_seconds = o->live.segment_seconds > 0
                                   ? o->live.segment_seconds
                               : o->preset ? 0
                                           : 2;
    job.live.window = (uint32_t)o->live.window;
    job.live.encryption =
        o->encryption.scheme != CIR_ENC_NONE ? &o->encryption : NULL;
    job.live.rotate_segments = o->rotate_segments;
    job.loops = o->live.loops;
    job.max_seconds = o->live.max_seconds;
    job.realtime = o->live.realtime;
    job.cancel = &interrupted;
    ret = cir_onair_run_file(&job);
    if (ret < 0) {
        fprintf(stderr, "live source: %s\n", cir_strerror(ret));
    }
    return cir_transcode_exit_code(ret);
}

/* A job document's field given as JSON text (--rungs, --clip, ...): its
 * value, a syntax error named after the field. */
static int
parse_field(const char *text, const char *field, json_t **out, char *err,
            size_t errsize)
{
    char why[256];
    int ret = cir_json_parse(text, strlen(text), strlen(text) + 1, out, why,
                             sizeof(why));

    if (ret < 0) {
        snprintf(err, errsize, "%s: not JSON (%s)", field, why);
    }
    return ret;
}

/* --preset-json or --preset, then --rungs: what the worker's
 * cir_job_preset_resolve does with a job document's "preset" and "rungs",
 * with its messages ("preset.video.codec: ...", "rungs.720p: ..."). */
static int
load_preset(options_t *o, const config_t *c, cir_preset_t *p, char *err,
            size_t errsize)
{
    char msg[400];
    json_t *rungs = NULL;
    const int named = o->preset != NULL;
    int ret;

    if (!named) {
        o->preset = "inline"; /* the result's name, the preset's own if any */
    }
    if (c->preset_json[0] == '\0') {
        if ((ret = cir_preset_codecs_load(o->presets_dir, o->preset, p, msg,
                                          sizeof(msg))) < 0) {
            snprintf(err, errsize, "preset %s: %s", o->preset, msg);
            return ret;
        }
    } else if ((ret = parse_field(c->preset_json, "preset", &rungs, err,
                                  errsize)) < 0) {
        return ret;
    } else if (!json_is_object(rungs)) {
        json_decref(rungs);
        snprintf(err, errsize, "preset: expected a preset object");
        return CIR_EINVAL;
    } else {
        json_decref(rungs);
        rungs = NULL;
        ret = cir_preset_codecs_parse(c->preset_json, strlen(c->preset_json), p,
                                      msg, sizeof(msg));
        if (ret < 0) {
            snprintf(err, errsize, "preset.%s", msg);
            return ret;
        }
        if (!named && p->name[0] != '\0') {
            o->preset = p->name;
        }
    }
    if (c->rungs[0] == '\0') {
        return 0;
    }
    if ((ret = parse_field(c->rungs, "rungs", &rungs, err, errsize)) < 0) {
        return ret;
    }
    if (!json_is_object(rungs)) {
        snprintf(err, errsize, "rungs: expected an object of rung names");
        ret = CIR_EINVAL;
    } else {
        ret = cir_preset_override_rungs(p, rungs, err, errsize);
    }
    json_decref(rungs);
    return ret;
}

/* --clip and --overlay, with the job document's parsers. */
static int
load_clip_overlay(options_t *o, const config_t *c, char *err, size_t errsize)
{
    json_t *v = NULL;
    int ret = 0;

    if (c->clip[0] != '\0' &&
        (ret = parse_field(c->clip, "clip", &v, err, errsize)) == 0) {
        ret = cir_clip_parse(v, &o->clip, err, errsize);
        json_decref(v);
        v = NULL;
    }
    if (ret == 0 && c->overlay[0] != '\0' &&
        (ret = parse_field(c->overlay, "overlay", &v, err, errsize)) == 0) {
        ret = cir_overlay_parse(v, &o->overlay, err, errsize);
        json_decref(v);
    }
    return ret;
}

int
main(int argc, char **argv)
{
    static config_t c; /* 80 KiB of strings: not on the stack */
    static cir_subtitle_specs_t subtitles;
    options_t o = {0};
    cir_preset_t preset;
    cir_result_t result;
    cir_job_t job = {0};
    char err[512]; /* result.error's size */
    struct sigaction sa = {0};
    json_t *j;
    int ret, code;

    if ((ret = parse_args(argc, argv, &c, &o)) != 0) {
        return ret == CIR_CLI_EXIT ? CIR_EXIT_OK : CIR_EXIT_USAGE;
    }
    o.presets_dir = cir_preset_dir(o.presets_dir);
    o.tty = isatty(STDERR_FILENO);
    cir_transcode_route_av_log();
    cir_transcode_tune_memory();
    /* s3:// outputs; credentials are looked up on first use only */
    cir_aws_register_s3_backend();

    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o.live.live_root) {
        if ((code = live_encryption(&o, c.encryption)) == 0) {
            code = run_live(&o);
        }
        cir_encryption_clear(&o.encryption);
        return code;
    }
    if (o.tty && !o.quiet) {
        cir_log_set_sink(bar_log_sink, NULL);
    }

    if ((ret = load_preset(&o, &c, &preset, err, sizeof(err))) < 0 ||
        (ret = load_clip_overlay(&o, &c, err, sizeof(err))) < 0) {
        fprintf(stderr, "%s\n", err);
        memset(&result, 0, sizeof(result));
        snprintf(result.error, sizeof(result.error), "%s", err);
        code = CIR_EXIT_BAD_PRESET;
        goto report;
    }

    ret = cir_subtitle_specs_parse_text(c.subtitles, &subtitles, err,
                                        sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "%s\n", err);
        memset(&result, 0, sizeof(result));
        snprintf(result.error, sizeof(result.error), "%s", err);
        code = CIR_EXIT_BAD_PRESET;
        goto report;
    }
    ret = cir_encryption_parse_text(c.encryption, &o.encryption, err,
                                    sizeof(err));
    explicit_bzero(c.encryption, sizeof(c.encryption));
    if (ret < 0) {
        fprintf(stderr, "%s\n", err);
        memset(&result, 0, sizeof(result));
        snprintf(result.error, sizeof(result.error), "%s", err);
        code = CIR_EXIT_BAD_PRESET;
        goto report;
    }
    job.encryption = &o.encryption;
    job.subtitles = &subtitles;
    job.input = o.input;
    job.output = o.output;
    job.preset = &preset;
    job.only = o.only;
    job.audio_tracks = &o.audio_tracks;
    job.clip = o.clip.enabled;
    job.clip_start = o.clip.start;
    job.clip_end = o.clip.end;
    job.overlay = &o.overlay;
    job.progress = on_progress;
    job.opaque = &o;
    job.cancel = &interrupted;
    if (o.publish_tag != NULL && check_published(&o, &result) == 1) {
        ret = 0;
        code = CIR_EXIT_OK;
        goto report;
    }
    /* a key provider is asked only for a job that will run */
    if ((ret = cir_speke_resolve(&o.encryption, err, sizeof(err))) < 0) {
        fprintf(stderr, "%s\n", err);
        memset(&result, 0, sizeof(result));
        snprintf(result.error, sizeof(result.error), "%s", err);
        code = cir_transcode_exit_code(ret);
        goto report;
    }
    ret = cir_transcode_run(&job, &result);
    code = cir_transcode_exit_code(ret);
    if (o.tty && !o.quiet) {
        bar_end();
        cir_log_set_sink(NULL, NULL);
    }
    if (ret == 0 && o.publish_tag != NULL) {
        mark_published(&o, &result);
    }

report:
    j = result_json(&o, &result, code == 0 ? 0 : (ret < 0 ? ret : -1), code);
    if (o.progress_json) {
        cir_json_write_file(o.progress_json, j);
    }
    char *s = json_dumps(j, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(j);
    cir_encryption_clear(&o.encryption);
    return code;
}
