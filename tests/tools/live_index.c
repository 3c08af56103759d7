/*
 * cirrus-live-index: prints a rendition's live index (what the origin
 * serves from) as one line of JSON, decoded by the library itself, so
 * integration tests and benchmarks can check the origin's answers against
 * it without knowing the file's layout.
 *
 *   cirrus-live-index DIR            the index now
 *   cirrus-live-index --follow DIR   a line each time the index changes
 *                                    (polled every millisecond; until
 *                                    killed), for benchmarks that time
 *                                    when parts appear
 *
 * {"version":V,"ended":0|1,"timescale":T,"segments":[{"msn":M,
 *   "complete":0|1,"discontinuity":0|1,"gap":0|1,"start":T,"duration":D,
 *   "pdt_us":P,
 *   "size":S,"listed":N,"parts":[{"offset":O,"size":S},...]},...]}
 * (parts: every part record the index keeps, the N listed ones first)
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cir_error.h"
#include "cir_live.h"

static void
print_index(const cir_live_index_t *idx)
{
    uint64_t off;
    uint32_t size;
    size_t i, j;

    printf("{\"version\":%llu,\"ended\":%d,\"timescale\":%u,"
           "\"segments\":[",
           (unsigned long long)idx->version, idx->ended,
           (unsigned)idx->timescale);
    for (i = 0; i < idx->nb_segments; i++) {
        const cir_live_segment_t *s = &idx->segments[i];
        printf("%s{\"msn\":%llu,\"complete\":%d,\"discontinuity\":%d,"
               "\"gap\":%d,\"start\":%lld,\"duration\":%lld,\"pdt_us\":%lld,"
               "\"size\":%llu,\"listed\":%u,\"parts\":[",
               i ? "," : "", (unsigned long long)s->msn, s->complete,
               s->discontinuity, s->gap, (long long)s->start,
               (long long)s->duration, (long long)s->pdt_us,
               (unsigned long long)s->size, (unsigned)s->nb_parts);
        for (j = 0; j < cir_live_nb_records(s); j++) {
            if (cir_live_index_part_range(idx, s->msn, (uint32_t)j, &off,
                                          &size) < 0) {
                break;
            }
            printf("%s{\"offset\":%llu,\"size\":%u}", j ? "," : "",
                   (unsigned long long)off, (unsigned)size);
        }
        printf("]}");
    }
    printf("]}\n");
    fflush(stdout);
}

static int
print_once(const char *dir, int quiet)
{
    cir_live_index_t idx = {0};
    int rc;

    if ((rc = cir_live_index_load(dir, &idx)) < 0) {
        if (!quiet) {
            fprintf(stderr, "%s: %s\n", dir, cir_strerror(rc));
        }
        return 1;
    }
    print_index(&idx);
    cir_live_index_free(&idx);
    return 0;
}

/* The index is replaced whole (rename): a new inode or mtime is a change. */
static int
follow(const char *dir)
{
    const struct timespec tick = {0, 1000000};
    char path[4096];
    struct stat st, last = {0};

    snprintf(path, sizeof(path), "%s/index", dir);
    for (;;) {
        if (stat(path, &st) == 0 &&
            (st.st_ino != last.st_ino || st.st_size != last.st_size ||
             st.st_mtim.tv_sec != last.st_mtim.tv_sec ||
             st.st_mtim.tv_nsec != last.st_mtim.tv_nsec)) {
            if (print_once(dir, 1) == 0) {
                last = st;
            }
        }
        nanosleep(&tick, NULL);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--follow") == 0) {
        return follow(argv[2]);
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s [--follow] DIR\n", argv[0]);
        return 2;
    }
    return print_once(argv[1], 0);
}
