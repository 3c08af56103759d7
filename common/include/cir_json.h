/*
 * JSON through jansson, with the bounds every outside document gets: a size
 * limit before parsing, a nesting limit, and errors with line and column.
 */
#ifndef CIR_JSON_H
#define CIR_JSON_H

#include <stddef.h>

#include <jansson.h>

#define CIR_JSON_MAX_DEPTH 32

/* Parses at most max bytes; rejects deeper nesting than CIR_JSON_MAX_DEPTH.
 * On error returns NULL-free negative code and writes "line L column C: …". */
int cir_json_parse(const char *text, size_t len, size_t max, json_t **out,
                   char *err, size_t errsize);
int cir_json_load_file(const char *path, size_t max, json_t **out, char *err,
                       size_t errsize);
/* Writes compact JSON atomically to path (for progress/result files). */
int cir_json_write_file(const char *path, const json_t *value);

#endif
