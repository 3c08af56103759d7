/*
 * FFmpeg's own log lines, routed into cir_log at the matching level.
 *
 * Tested through tests/integration/cli.test.mjs (FFmpeg's messages in the
 * program's log).
 */
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

#include "cir_log.h"
#include "cir_transcode.h"

static void
av_log_to_cir(void *avcl, int level, const char *fmt, va_list vl)
{
    static const cir_log_ctx_t ctx = {.component = "ffmpeg"};
    cir_log_level_t l;
    char line[1024];
    int print_prefix = 1;

    if (level > AV_LOG_VERBOSE) {
        return;
    }
    l = level <= AV_LOG_ERROR     ? CIR_LOG_ERROR
        : level <= AV_LOG_WARNING ? CIR_LOG_WARN
        : level <= AV_LOG_INFO    ? CIR_LOG_DEBUG
                                  : CIR_LOG_TRACE;
    /* FFmpeg is chatty at error level about things we report ourselves:
     * one level down, so a job's own error is what the operator sees */
    if (l < CIR_LOG_WARN) {
        l = CIR_LOG_WARN;
    }
    /* the muxer's note that our CMAF edit lists are on purpose */
    if (strstr(fmt, "Edit list enabled") != NULL) {
        l = CIR_LOG_DEBUG;
    }
    if (l > cir_log_level) {
        return;
    }
    av_log_format_line(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    cir_log_emit(l, &ctx, "%s", line);
}

void
cir_transcode_route_av_log(void)
{
    av_log_set_callback(av_log_to_cir);
}
