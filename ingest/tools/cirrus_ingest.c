/*
 * cirrus-ingest: the RTMP ingest daemon.
 *
 *   cirrus-ingest [--config FILE] [--set NAME=VALUE]... [--log-json]
 *
 * The command line is every program's (common/include/cir_cli.h): the
 * options of ingest/src/config.c's table (cir_ingest_options) from their
 * defaults, the file's "ingest" section (or a flat file),
 * CIRRUS_INGEST_<NAME> variables, then --set and --log-json.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "cir_cli.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_options.h"
#include "cir_transcode.h"
#include "cir_ingest.h"

typedef cir_ingest_config_t config_t;

static const cir_cli_flag_t flags[] = {CIR_CLI_FLAG_LOG_JSON};

static const cir_cli_t cli = {
    .program = "cirrus-ingest",
    .notes = "--config: a flat JSON object of options, or a shared file's "
             "\"ingest\" section.\n" CIR_CLI_DAEMON_EXIT_CODES,
    .flags = flags,
    .nflags = sizeof(flags) / sizeof(flags[0]),
    .table = &cir_ingest_options,
    .section = "ingest",
    .cfg_size = sizeof(config_t)};

/* What the options imply before the server starts: 0 or -1 (printed). */
static int
complete_config(const config_t *cfg)
{
    cir_ingest_app_config_t *apps;
    cir_log_level_t level;
    char err[1024];
    size_t napps;

    if (cir_log_parse_level(cfg->log_level, &level) < 0) {
        fprintf(stderr, "cirrus-ingest: bad log_level \"%s\"\n",
                cfg->log_level);
        return -1;
    }
    cir_log_set_level(level);
    cir_log_set_json((int)cfg->log_json);
    if (cfg->segment_seconds < cfg->part_seconds) {
        fprintf(stderr, "cirrus-ingest: segment_seconds < part_seconds\n");
        return -1;
    }
    /* the applications (their options, names, folders): checked before
     * anything starts; the server parses them again */
    if (cir_ingest_apps_parse(cfg, &apps, &napps, err, sizeof(err)) < 0) {
        fprintf(stderr, "cirrus-ingest: %s\n", err);
        return -1;
    }
    free(apps);
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
    if ((ret = cir_ingest_new(&s, &cfg)) < 0) {
        curl_global_cleanup();
        return 1;
    }
    ret = cir_ingest_run(s);
    cir_ingest_free(&s);
    curl_global_cleanup();
    return ret < 0 ? 1 : 0;
}
