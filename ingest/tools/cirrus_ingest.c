/*
 * cirrus-ingest: the RTMP ingest daemon.
 *
 *   cirrus-ingest [--config FILE] [--set name=value]... [--help]
 *
 * Options come from the table in ingest/src/config.c: defaults, then the
 * JSON file, then CIRRUS_INGEST_<NAME> variables, then --set.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cir_error.h"
#include "cir_log.h"
#include "cir_transcode.h"
#include "cir_ingest.h"

static void
usage(void)
{
    fprintf(stderr, "usage: cirrus-ingest [--config FILE] [--set "
                    "name=value]... [--log-json] [--print-options-md]\n"
                    "--config: a flat JSON object of options, or a shared "
                    "file's \"ingest\" section\n");
    cir_ingest_config_usage();
}

int
main(int argc, char **argv)
{
    cir_ingest_config_t cfg;
    cir_ingest_t *s = NULL;
    cir_log_level_t level;
    char err[512];
    int ret;

    /*
     * Every part allocates and frees buffers of up to a keyframe's size
     * (the mp4 muxer's).  glibc's defaults hand those back to the kernel
     * (munmap, heap trim) and fault them in again: 220 page faults a
     * second with 8 streams.  Keeping them in the heap: 6 (bench/ingest).
     */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    cir_ingest_config_defaults(&cfg);
    /* the file first, so the environment and --set override it */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            if (cir_ingest_config_load_file(&cfg, argv[++i], err, sizeof(err)) <
                0) {
                fprintf(stderr, "cirrus-ingest: %s\n", err);
                return 2;
            }
        }
    }
    if (cir_ingest_config_apply_env(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "cirrus-ingest: environment: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            i++;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            char name[64];
            const char *eq = strchr(argv[++i], '=');
            size_t n = eq ? (size_t)(eq - argv[i]) : 0;
            if (eq == NULL || n >= sizeof(name)) {
                fprintf(stderr, "cirrus-ingest: --set name=value\n");
                return 2;
            }
            memcpy(name, argv[i], n);
            name[n] = '\0';
            if (cir_ingest_config_set(&cfg, name, eq + 1, err, sizeof(err)) <
                0) {
                fprintf(stderr, "cirrus-ingest: %s\n", err);
                return 2;
            }
        } else if (strcmp(argv[i], "--log-json") == 0) {
            cir_log_set_json(1);
        } else if (strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (strcmp(argv[i], "--print-options-md") == 0) {
            cir_ingest_config_print_markdown(stdout);
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (cir_log_parse_level(cfg.log_level, &level) < 0) {
        fprintf(stderr, "cirrus-ingest: bad log_level \"%s\"\n", cfg.log_level);
        return 2;
    }
    cir_log_set_level(level);
    cir_transcode_route_av_log();
    if (cfg.segment_seconds < cfg.part_seconds) {
        fprintf(stderr, "cirrus-ingest: segment_seconds < part_seconds\n");
        return 2;
    }
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
