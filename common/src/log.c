/*
 * Logging (cir_log.h): one line per event, text or JSON, with the job's or
 * stream's context, to stderr or a sink the program sets.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cir_log.h"

cir_log_level_t cir_log_level = CIR_LOG_INFO;

static _Atomic int log_json;
static cir_log_sink_t log_sink;
static void *log_sink_opaque;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug",
                                          "trace"};

void
cir_log_set_level(cir_log_level_t level)
{
    cir_log_level = level;
}

int
cir_log_parse_level(const char *name, cir_log_level_t *level)
{
    if (strcmp(name, "quiet") == 0) {
        *level = CIR_LOG_QUIET;
        return 0;
    }
    for (int i = 0; i <= CIR_LOG_TRACE; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (cir_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void
cir_log_set_json(int on)
{
    log_json = on;
}

void
cir_log_set_sink(cir_log_sink_t sink, void *opaque)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_opaque = opaque;
    pthread_mutex_unlock(&log_lock);
}

static void
format_time(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void
format_json(char *line, size_t size, const char *when, const char *level,
            const cir_log_ctx_t *ctx, const char *msg)
{
    json_t *o = json_object();
    char *s;

    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "level", json_string(level));
    if (ctx && ctx->component) {
        json_object_set_new(o, "component", json_string(ctx->component));
    }
    if (ctx && ctx->app) {
        json_object_set_new(o, "app", json_string(ctx->app));
    }
    if (ctx && ctx->job) {
        json_object_set_new(o, "job", json_string(ctx->job));
    }
    if (ctx && ctx->stream) {
        json_object_set_new(o, "stream", json_string(ctx->stream));
    }
    if (ctx && ctx->rendition) {
        json_object_set_new(o, "rendition", json_string(ctx->rendition));
    }
    /* json_string() rejects invalid UTF-8: keep the line anyway */
    json_t *m = json_string(msg);
    json_object_set_new(o, "msg", m ? m : json_string("(invalid utf-8)"));
    s = json_dumps(o, JSON_COMPACT);
    snprintf(line, size, "%s", s ? s : "{}");
    free(s);
    json_decref(o);
}

static void
format_text(char *line, size_t size, const char *when, const char *level,
            const cir_log_ctx_t *ctx, const char *msg)
{
    char context[256] = "";
    size_t n = 0;

    if (ctx) {
        const char *keys[] = {"", "app=", "job=", "stream=", "rendition="};
        const char *vals[] = {ctx->component, ctx->app, ctx->job, ctx->stream,
                              ctx->rendition};
        for (int i = 0; i < 5; i++) {
            if (vals[i] && n < sizeof(context)) {
                int w = snprintf(context + n, sizeof(context) - n, "%s%s%s",
                                 n ? " " : "", keys[i], vals[i]);
                n += w > 0 ? (size_t)w : 0;
            }
        }
    }
    snprintf(line, size, "%s %-5s%s%s%s %s", when, level, n ? " [" : "",
             context, n ? "]" : "", msg);
}

void
cir_log_emitv(cir_log_level_t level, const cir_log_ctx_t *ctx, const char *fmt,
              va_list ap)
{
    char msg[2048], line[3072], when[64];
    const char *name;
    size_t len;

    if (level > cir_log_level || level < CIR_LOG_ERROR ||
        level > CIR_LOG_TRACE) {
        return;
    }
    vsnprintf(msg, sizeof(msg), fmt, ap);
    len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r')) {
        msg[--len] = '\0';
    }
    name = level_names[level];
    format_time(when, sizeof(when));
    if (log_json) {
        format_json(line, sizeof(line), when, name, ctx, msg);
    } else {
        format_text(line, sizeof(line), when, name, ctx, msg);
    }
    pthread_mutex_lock(&log_lock);
    if (log_sink) {
        log_sink(log_sink_opaque, level, line);
    } else {
        fprintf(stderr, "%s\n", line);
    }
    pthread_mutex_unlock(&log_lock);
}

void
cir_log_emit(cir_log_level_t level, const cir_log_ctx_t *ctx, const char *fmt,
             ...)
{
    va_list ap;

    va_start(ap, fmt);
    cir_log_emitv(level, ctx, fmt, ap);
    va_end(ap);
}
