/* Fuzzes what every live request brings from outside: the path (normalised,
 * then split) and the query string (delivery directives, URL tokens). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char rel[1024];
    cir_live_path_t p;
    cir_hls_directives_t d;
    const char *s = (const char *)data;

    if (cir_origin_normalize_path(s, size, rel, sizeof(rel)) == 0) {
        /* nothing accepted may climb out of the root: no absolute path, no
         * "." or ".." segment, no empty segment */
        if (rel[0] == '/' || rel[0] == '\0') {
            __builtin_trap();
        }
        for (const char *seg = rel; seg; seg = strchr(seg, '/')) {
            seg += *seg == '/';
            size_t n = strcspn(seg, "/");
            if (n == 0 || (n == 1 && seg[0] == '.') ||
                (n == 2 && seg[0] == '.' && seg[1] == '.')) {
                __builtin_trap();
            }
            if (seg[n] == '\0') {
                break;
            }
        }
        (void)cir_origin_parse_live_path(rel, &p);
    }
    (void)cir_hls_parse_directives(s, size, &d);
    (void)cir_origin_token_verify("key", "/live/a/b/index.m3u8", s, size,
                                  1700000000);
    return 0;
}
