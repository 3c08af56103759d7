/*
 * Logging with levels and context.
 *
 * One function emits every line; the macro checks the level before any
 * argument is formatted.  A context names what the line is about (job id,
 * stream key, rendition) and may be NULL.  Lines go to stderr as text, or as
 * one JSON object per line after cir_log_set_json(1), or to a sink.
 */
#ifndef CIR_LOG_H
#define CIR_LOG_H

#include <stdarg.h>

typedef enum {
    CIR_LOG_QUIET = -1,
    CIR_LOG_ERROR = 0,
    CIR_LOG_WARN,
    CIR_LOG_INFO,
    CIR_LOG_DEBUG,
    CIR_LOG_TRACE
} cir_log_level_t;

typedef struct {
    const char *component; /* "transcode", "origin", "rtmp" */
    const char *job;
    const char *stream;
    const char *rendition;
    const char *app; /* the ingest's application of the stream */
} cir_log_ctx_t;

typedef void (*cir_log_sink_t)(void *opaque, cir_log_level_t level,
                               const char *line);

extern cir_log_level_t cir_log_level;

void cir_log_set_level(cir_log_level_t level);
/* Parses "error", "warn", "info", "debug", "trace", "quiet". */
int cir_log_parse_level(const char *name, cir_log_level_t *level);
void cir_log_set_json(int on);
/* Replaces stderr; NULL restores it.  The sink gets a formatted line. */
void cir_log_set_sink(cir_log_sink_t sink, void *opaque);

void cir_log_emit(cir_log_level_t level, const cir_log_ctx_t *ctx,
                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cir_log_emitv(cir_log_level_t level, const cir_log_ctx_t *ctx,
                   const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define cir_log(level, ctx, ...)                       \
    do {                                               \
        if ((level) <= cir_log_level) {                \
            cir_log_emit((level), (ctx), __VA_ARGS__); \
        }                                              \
    } while (0)

#define cir_log_error(ctx, ...) cir_log(CIR_LOG_ERROR, ctx, __VA_ARGS__)
#define cir_log_warn(ctx, ...)  cir_log(CIR_LOG_WARN, ctx, __VA_ARGS__)
#define cir_log_info(ctx, ...)  cir_log(CIR_LOG_INFO, ctx, __VA_ARGS__)
#define cir_log_debug(ctx, ...) cir_log(CIR_LOG_DEBUG, ctx, __VA_ARGS__)

#endif
