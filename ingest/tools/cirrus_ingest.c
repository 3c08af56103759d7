/*
 * cirrus-ingest: the RTMP ingest daemon.
 *
 *   cirrus-ingest [--config FILE] [--set NAME=VALUE]... [--log-json]
 *
 * The command line is every program's (common/include/cir_cli.h): the
 * options of ingest/src/config.c's table from their defaults, the file's
 * "ingest" section (or a flat file), CIRRUS_INGEST_<NAME> variables, then
 * --set; and log_json, the main's own (command line and environment).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cir_cli.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_options.h"
#include "cir_transcode.h"
#include "cir_ingest.h"

typedef struct {
    cir_ingest_config_t ingest;
    int64_t log_json;
} config_t;

/* The main's own option, beside ingest/src/config.c's table. */
static const cir_option_t main_opts[] = {
    {"log_json", CIR_OPT_I(config_t, log_json), "0", 0, 1,
     "1: one JSON object per log line (command line and environment only)"},
};
static const cir_options_t main_table = {main_opts, 1, "CIRRUS_INGEST_"};

static void
cfg_defaults(void *cfg)
{
    config_t *c = cfg;

    cir_options_defaults(&main_table, c, sizeof(*c));
    cir_ingest_config_defaults(&c->ingest);
}

static int
cfg_load(void *cfg, const char *path, char *err, size_t errsize)
{
    return cir_ingest_config_load_file(&((config_t *)cfg)->ingest, path, err,
                                       errsize);
}

static int
cfg_env(void *cfg, char *err, size_t errsize)
{
    config_t *c = cfg;

    if (cir_options_apply_env(&main_table, c, err, errsize) < 0) {
        return CIR_EINVAL;
    }
    return cir_ingest_config_apply_env(&c->ingest, err, errsize);
}

static int
cfg_set(void *cfg, const char *name, const char *value, char *err,
        size_t errsize)
{
    config_t *c = cfg;

    if (strcmp(name, main_opts[0].name) == 0) {
        return cir_options_set(&main_table, c, name, value, err, errsize);
    }
    return cir_ingest_config_set(&c->ingest, name, value, err, errsize);
}

/* The option list of --help: config.c prints it on stderr, which points
 * at f meanwhile. */
static void
cfg_print(FILE *f)
{
    int saved;

    fflush(f);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    if (saved < 0 || dup2(fileno(f), STDERR_FILENO) < 0) {
        cir_ingest_config_usage();
    } else {
        cir_ingest_config_usage();
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
    }
    if (saved >= 0) {
        close(saved);
    }
    cir_options_print(&main_table, f);
}

static const cir_cli_config_fns_t config_fns = {
    cfg_defaults, cfg_load,  cfg_env,
    cfg_set,      cfg_print, cir_ingest_config_print_markdown};

static const cir_cli_flag_t flags[] = {
    {"log-json", 0, NULL, "log_json", "1", NULL,
     "one JSON object per log line"},
};

static const cir_cli_t cli = {
    .program = "cirrus-ingest",
    .notes = "--config: a flat JSON object of options, or a shared file's "
             "\"ingest\" section.\n" CIR_CLI_DAEMON_EXIT_CODES,
    .flags = flags,
    .nflags = sizeof(flags) / sizeof(flags[0]),
    .fns = &config_fns,
    .section = "ingest",
    .cfg_size = sizeof(config_t)};

/* What the options imply before the server starts: 0 or -1 (printed). */
static int
complete_config(const config_t *cfg)
{
    cir_log_level_t level;

    if (cir_log_parse_level(cfg->ingest.log_level, &level) < 0) {
        fprintf(stderr, "cirrus-ingest: bad log_level \"%s\"\n",
                cfg->ingest.log_level);
        return -1;
    }
    cir_log_set_level(level);
    cir_log_set_json((int)cfg->log_json);
    if (cfg->ingest.segment_seconds < cfg->ingest.part_seconds) {
        fprintf(stderr, "cirrus-ingest: segment_seconds < part_seconds\n");
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    config_t cfg;
    cir_ingest_t *s = NULL;
    char err[1024];
    int ret;

    /*
     * Every part allocates and frees buffers of up to a keyframe's size
     * (the mp4 muxer's).  glibc's defaults hand those back to the kernel
     * (munmap, heap trim) and fault them in again: 220 page faults a
     * second with 8 streams.  Keeping them in the heap: 6 (bench/ingest).
     */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    ret = cir_cli_parse(&cli, argc, argv, &cfg, stdout, err, sizeof(err));
    if (ret < 0) {
        cir_cli_report(&cli, err, stderr);
        return CIR_CLI_DAEMON_EXIT_USAGE;
    }
    if (ret == CIR_CLI_EXIT) {
        return 0;
    }
    if (complete_config(&cfg) < 0) {
        return CIR_CLI_DAEMON_EXIT_USAGE;
    }
    cir_transcode_route_av_log();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((ret = cir_ingest_new(&s, &cfg.ingest)) < 0) {
        curl_global_cleanup();
        return 1;
    }
    ret = cir_ingest_run(s);
    cir_ingest_free(&s);
    curl_global_cleanup();
    return ret < 0 ? 1 : 0;
}
