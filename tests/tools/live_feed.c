/*
 * cirrus-live-feed: writes one live rendition with the real live writer
 * (origin/'s policy through transcoder's file adapter, live_store.c), with fake
 * part payloads, for the nginx module's tests and benchmarks.
 *
 *   cirrus-live-feed DIR [--part-ms 200] [--parts 5] [--segments N]
 *                    [--window 6] [--size 2000] [--step] [--prefill N]
 *
 * DIR is <root>/<stream>/<rendition>.  One part every --part-ms
 * (or, with --step, one per line read from stdin; "end" or EOF finishes the
 * stream), --parts parts per segment, --segments segments (0: forever).
 * --prefill N writes N whole segments at once first.  After each part it
 * prints {"msn":M,"part":P,"t0_us":before writing,"t_us":after} (wall
 * clock, us) to stdout, flushed: tests measure wake latency from t0_us.
 */
#include "cir_error.h"
#include "cir_live.h"
#include "cir_onair_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define TIMESCALE 90000

static int64_t
wall_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int
parse_num(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int
main(int argc, char **argv)
{
    long part_ms = 200, parts = 5, segments = 0, window = 6, size = 2000;
    long prefill = 0;
    int step = 0, ret = 1, i;
    cir_live_writer_config_t cfg;
    cir_onair_store_t *w = NULL;
    unsigned char *payload = NULL;
    const char *dir = NULL;
    int64_t start = 0, dur, t0;
    const char *slash;
    char line[64];
    long seg, p;
    int rc;

    for (i = 1; i < argc; i++) {
        long *dst = NULL, min = 1, max = 1000000;

        if (!strcmp(argv[i], "--step")) {
            step = 1;
            continue;
        }
        if (!strcmp(argv[i], "--part-ms"))
            dst = &part_ms, min = 10, max = 10000;
        else if (!strcmp(argv[i], "--parts"))
            dst = &parts, max = CIR_LIVE_MAX_PARTS;
        else if (!strcmp(argv[i], "--segments"))
            dst = &segments, min = 0;
        else if (!strcmp(argv[i], "--window"))
            dst = &window, min = 3, max = 1000;
        else if (!strcmp(argv[i], "--size"))
            dst = &size, max = 1 << 24;
        else if (!strcmp(argv[i], "--prefill"))
            dst = &prefill, min = 0;
        else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
            continue;
        }
        if (!dst || i + 1 >= argc || parse_num(argv[i + 1], min, max, dst)) {
            fprintf(stderr,
                    "usage: %s DIR [--part-ms MS] [--parts N] "
                    "[--segments N] [--window N] [--size BYTES] "
                    "[--step] [--prefill N]\n",
                    argv[0]);
            return 2;
        }
        i++;
    }
    if (!dir) {
        fprintf(stderr, "%s: no DIR\n", argv[0]);
        return 2;
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.dir = dir;
    slash = strrchr(dir, '/');
    snprintf(cfg.track.rendition, sizeof(cfg.track.rendition), "%s",
             slash ? slash + 1 : dir);
    cfg.track.kind = CIR_LIVE_VIDEO;
    snprintf(cfg.track.codecs, sizeof(cfg.track.codecs), "avc1.64001f");
    cfg.track.width = 640;
    cfg.track.height = 360;
    cfg.track.frame_rate = 30;
    cfg.track.bandwidth = 1000000;
    cfg.track.average_bandwidth = 800000;
    cfg.timescale = TIMESCALE;
    dur = (int64_t)part_ms * TIMESCALE / 1000;
    cfg.part_target = dur;
    cfg.segment_target = dur * parts;
    /* the stream's timing, as the live pipeline decides it */
    cfg.part_target_us = (int64_t)part_ms * 1000;
    cfg.target_duration = cir_live_decide_target_duration(
        (int64_t)part_ms * parts * 1000, (int64_t)part_ms * parts * 1000);
    cfg.window = (uint32_t)window;

    payload = malloc((size_t)size);
    if (!payload)
        goto fail;
    memset(payload, 0x42, (size_t)size);

    if ((rc = cir_onair_store_open(&w, &cfg)) < 0) {
        fprintf(stderr, "writer_open: %s\n", cir_strerror(rc));
        goto fail;
    }
    if ((rc = cir_onair_store_put_init(w, "fake-init", 9)) < 0) {
        fprintf(stderr, "put_init: %s\n", cir_strerror(rc));
        goto fail;
    }
    for (seg = 0; segments == 0 || seg < segments + prefill; seg++) {
        for (p = 0; p < parts; p++) {
            if (seg >= prefill) {
                if (step) {
                    if (!fgets(line, sizeof(line), stdin) ||
                        !strncmp(line, "end", 3))
                        goto done;
                } else {
                    sleep_ms(part_ms);
                }
            }
            /* a recognisable payload: msn and part in the first bytes */
            snprintf((char *)payload, (size_t)size, "part %ld.%ld ", seg, p);
            t0 = wall_us();
            rc = cir_onair_store_put_part(w, payload, (size_t)size, start, dur,
                                          p == 0);
            if (rc < 0) {
                fprintf(stderr, "put_part: %s\n", cir_strerror(rc));
                goto fail;
            }
            start += dur;
            if (p + 1 == parts && (rc = cir_onair_store_end_segment(w)) < 0) {
                fprintf(stderr, "end_segment: %s\n", cir_strerror(rc));
                goto fail;
            }
            if (seg >= prefill) {
                printf("{\"msn\":%ld,\"part\":%ld,\"t0_us\":%lld,"
                       "\"t_us\":%lld}\n",
                       seg, p, (long long)t0, (long long)wall_us());
                fflush(stdout);
            }
        }
    }
done:
    if ((rc = cir_onair_store_finish(w)) < 0) {
        fprintf(stderr, "finish: %s\n", cir_strerror(rc));
        goto fail;
    }
    printf("{\"ended\":true}\n");
    ret = 0;
fail:
    cir_onair_store_close(&w);
    free(payload);
    return ret;
}
