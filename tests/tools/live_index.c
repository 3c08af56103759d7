/*
 * cirrus-live-index: prints a rendition's live index (what the origin
 * serves from) as one line of JSON, decoded by the library itself, so
 * integration tests can check the origin's answers against it.
 *
 *   cirrus-live-index DIR
 *
 * {"version":V,"ended":0|1,"segments":[{"msn":M,"complete":0|1,"size":S,
 *   "listed":N,"parts":[{"offset":O,"size":S},...]},...]}
 * (parts: every part record the index keeps, the N listed ones first)
 */
#include <stdio.h>

#include "cir_error.h"
#include "cir_live.h"

int
main(int argc, char **argv)
{
    cir_live_index_t idx = {0};
    uint64_t off;
    uint32_t size;
    size_t i, j;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    if ((rc = cir_live_index_load(argv[1], &idx)) < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], cir_strerror(rc));
        return 1;
    }
    printf("{\"version\":%llu,\"ended\":%d,\"segments\":[",
           (unsigned long long)idx.version, idx.ended);
    for (i = 0; i < idx.nb_segments; i++) {
        const cir_live_segment_t *s = &idx.segments[i];
        printf("%s{\"msn\":%llu,\"complete\":%d,\"size\":%llu,"
               "\"listed\":%u,\"parts\":[",
               i ? "," : "", (unsigned long long)s->msn, s->complete,
               (unsigned long long)s->size, (unsigned)s->nb_parts);
        for (j = 0; j < cir_live_nb_records(s); j++) {
            if (cir_live_index_part_range(&idx, s->msn, (uint32_t)j, &off,
                                          &size) < 0) {
                break;
            }
            printf("%s{\"offset\":%llu,\"size\":%u}", j ? "," : "",
                   (unsigned long long)off, (unsigned)size);
        }
        printf("]}");
    }
    printf("]}\n");
    cir_live_index_free(&idx);
    return 0;
}
