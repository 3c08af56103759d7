/*
 * cirrus-transcode: one VOD job, then exit (as an AWS Batch job runs).
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cir_aws.h"
#include "cir_error.h"
#include "cir_json.h"
#include "cir_live_pipeline.h"
#include "cir_log.h"
#include "cir_preset_codecs.h"
#include "cir_published.h"
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
    const char *publish_tag; /* NULL: no publication marker */
    live_options_t live;
    unsigned only;
    int quiet, tty;
    int already_published; /* the marker was there: nothing was done */
    double last_line;
} options_t;

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: cirrus-transcode --input URI --output URI --preset NAME\n"
        "                        [--only hls,dash,thumbs,images]\n"
        "                        [--presets-dir DIR] [--progress-json FILE]\n"
        "                        [--publish-tag TAG]\n"
        "                        [--log-level LEVEL] [--log-json] [--quiet]\n"
        "  --quiet: no progress, errors only in the log\n"
        "  --publish-tag: the upload's identity (64 hex, as cirrus-worker\n"
        "  passes it to AWS Batch; \"\" or none: off): when\n"
        "  <output>/.published/TAG.json exists, exit 0 at once reporting\n"
        "  its version; else write it after publishing\n"
        "\n"
        "live: cirrus-transcode --input FILE --live-root DIR --stream NAME\n"
        "                        [--preset NAME] [--no-passthrough]\n"
        "                        [--record file:///DIR] [--part-seconds S]\n"
        "                        [--segment-seconds S] [--window N]\n"
        "                        [--loop N] [--max-seconds S] [--no-realtime]\n"
        "  --preset: transcode the preset's rungs (the source is still\n"
        "  published as \"video\" unless --no-passthrough)\n"
        "\n"
        "URIs: file:///abs/path, a plain path, or s3://bucket/prefix.\n"
        "Presets: NAME.json in --presets-dir (default $CIRRUS_PRESETS_DIR,\n"
        "else the build's presets/: now %s);\n"
        "--help-preset lists every preset field.\n"
        "Prints one line of result JSON on stdout; progress on stderr.\n"
        "\n"
        "Exit codes: 0 done, 1 usage, 2 bad input (permanent),\n"
        "3 bad preset or configuration (permanent), 4 transient failure\n"
        "(retry), 5 internal error, 130 interrupted.\n",
        cir_preset_dir(NULL));
}

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
        if (x->video) {
            json_object_set_new(e, "width", json_integer(x->width));
            json_object_set_new(e, "height", json_integer(x->height));
            json_object_set_new(e, "frame_rate", json_real(x->frame_rate));
        }
        json_array_append_new(rends, e);
    }
    json_object_set_new(j, "renditions", rends);
    json_object_set_new(j, "image", json_boolean(r->is_image));
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
        int width = 30,
            fill = p->percent > 0 ? (int)(p->percent * width / 100) : 0;
        char bar[64];
        for (int i = 0; i < width; i++) {
            bar[i] = i < fill ? '#' : '.';
        }
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %5.1f%%  %6.1f fps  %5.2fx  eta %4.0fs ", bar,
                p->percent < 0 ? 0 : p->percent, p->fps, p->speed,
                p->eta < 0 ? 0 : p->eta);
    } else if (p->elapsed - o->last_line >= 5 || p->percent >= 100) {
        o->last_line = p->elapsed;
        fprintf(stderr, "progress %.1f%% fps=%.1f speed=%.2fx eta=%.0fs\n",
                p->percent, p->fps, p->speed, p->eta);
    }
}

static int
parse_args(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"preset", required_argument, NULL, 'p'},
        {"only", required_argument, NULL, 'O'},
        {"presets-dir", required_argument, NULL, 'P'},
        {"progress-json", required_argument, NULL, 'J'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"help-preset", no_argument, NULL, 'F'},
        {"live-root", required_argument, NULL, 'L'},
        {"stream", required_argument, NULL, 'S'},
        {"part-seconds", required_argument, NULL, 'T'},
        {"segment-seconds", required_argument, NULL, 'G'},
        {"window", required_argument, NULL, 'W'},
        {"loop", required_argument, NULL, 'R'},
        {"max-seconds", required_argument, NULL, 'M'},
        {"no-realtime", no_argument, NULL, 'N'},
        {"no-passthrough", no_argument, NULL, 'X'},
        {"record", required_argument, NULL, 'r'},
        {"publish-tag", required_argument, NULL, 'U'},
        {NULL, 0, NULL, 0}};
    cir_log_level_t level;
    int c;

    while ((c = getopt_long(argc, argv, "i:o:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->input = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'p':
            o->preset = optarg;
            break;
        case 'O':
            if (cir_only_parse(optarg, &o->only) < 0) {
                fprintf(stderr,
                        "--only: '%s' is not a list of hls, dash, "
                        "thumbs, images\n",
                        optarg);
                return -1;
            }
            break;
        case 'P':
            o->presets_dir = optarg;
            break;
        case 'J':
            o->progress_json = optarg;
            break;
        case 'l':
            if (cir_log_parse_level(optarg, &level) < 0) {
                fprintf(stderr, "--log-level: unknown level '%s'\n", optarg);
                return -1;
            }
            cir_log_set_level(level);
            break;
        case 'j':
            cir_log_set_json(1);
            break;
        case 'q':
            o->quiet = 1;
            cir_log_set_level(CIR_LOG_ERROR);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'F':
            cir_preset_codecs_print_help(stdout);
            exit(0);
        case 'L':
            o->live.live_root = optarg;
            break;
        case 'S':
            o->live.stream = optarg;
            break;
        case 'T':
        case 'G':
        case 'M': {
            char *end;
            double v = strtod(optarg, &end);
            if (*end || v <= 0 || v > 86400) {
                fprintf(stderr, "bad number of seconds '%s'\n", optarg);
                return -1;
            }
            *(c == 'T'   ? &o->live.part_seconds
              : c == 'G' ? &o->live.segment_seconds
                         : &o->live.max_seconds) = v;
            break;
        }
        case 'W':
        case 'R': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < -1 || v > 100000 || (c == 'W' && v < 3)) {
                fprintf(stderr, "bad number '%s'\n", optarg);
                return -1;
            }
            *(c == 'W' ? &o->live.window : &o->live.loops) = (int)v;
            break;
        }
        case 'N':
            o->live.realtime = 0;
            break;
        case 'X':
            o->live.no_passthrough = 1;
            break;
        case 'r':
            o->live.record = optarg;
            break;
        case 'U':
            if (optarg[0] == '\0' || strcmp(optarg, "none") == 0) {
                o->publish_tag = NULL;
            } else if (!cir_published_tag_is_valid(optarg)) {
                fprintf(stderr,
                        "--publish-tag: '%s' is not 64 lowercase hex digits\n",
                        optarg);
                return -1;
            } else {
                o->publish_tag = optarg;
            }
            break;
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->live.live_root) {
        if (!o->input || !o->live.stream) {
            fprintf(stderr, "--live-root needs --input and --stream\n");
            return -1;
        }
        return 0;
    }
    if (!o->input || !o->output || !o->preset) {
        fprintf(stderr, "--input, --output and --preset are required\n");
        return -1;
    }
    return 0;
}

static int
run_live(const options_t *o)
{
    cir_live_file_job_t job = {0};
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
    job.loops = o->live.loops;
    job.max_seconds = o->live.max_seconds;
    job.realtime = o->live.realtime;
    job.cancel = &interrupted;
    ret = cir_live_run_file(&job);
    if (ret < 0) {
        fprintf(stderr, "live source: %s\n", cir_strerror(ret));
    }
    return cir_transcode_exit_code(ret);
}

int
main(int argc, char **argv)
{
    options_t o = {
        .live = {.part_seconds = 0.333334, .window = 15, .realtime = 1}};
    cir_preset_t preset;
    cir_result_t result;
    cir_job_t job = {0};
    char err[400];
    struct sigaction sa = {0};
    json_t *j;
    int ret, code;

    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return CIR_EXIT_USAGE;
    }
    o.presets_dir = cir_preset_dir(o.presets_dir);
    o.tty = isatty(STDERR_FILENO);
    cir_transcode_route_av_log();
    /* s3:// outputs; credentials are looked up on first use only */
    cir_aws_register_s3_backend();

    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o.live.live_root) {
        return run_live(&o);
    }

    ret = cir_preset_codecs_load(o.presets_dir, o.preset, &preset, err,
                                 sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "preset %s: %s\n", o.preset, err);
        memset(&result, 0, sizeof(result));
        snprintf(result.error, sizeof(result.error), "preset %s: %s", o.preset,
                 err);
        code = CIR_EXIT_BAD_PRESET;
        goto report;
    }

    job.input = o.input;
    job.output = o.output;
    job.preset = &preset;
    job.only = o.only;
    job.progress = on_progress;
    job.opaque = &o;
    job.cancel = &interrupted;
    if (o.publish_tag != NULL && check_published(&o, &result) == 1) {
        ret = 0;
        code = CIR_EXIT_OK;
        goto report;
    }
    ret = cir_transcode_run(&job, &result);
    code = cir_transcode_exit_code(ret);
    if (o.tty && !o.quiet) {
        fputc('\n', stderr);
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
    return code;
}
