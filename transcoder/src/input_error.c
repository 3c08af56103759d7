/*
 * What a failed read of the input means: S3's own error (from s3_avio)
 * or libav's, as a project error code and a message.
 */
#include "input_error.h"

#include <errno.h>
#include <stdio.h>

#include <libavutil/error.h>

#include "s3_avio.h"
#include "cir_error.h"

int
cir_input_error(const AVIOContext *pb, int averr)
{
    int io = cir_s3_avio_error(pb);

    if (io < 0) {
        return io;
    }
    if (averr == AVERROR_EXIT) { /* the interrupt callback: cancelled */
        return CIR_ECANCELED;
    }
    if (averr == AVERROR(ENOMEM)) {
        return CIR_ENOMEM;
    }
    if (averr == AVERROR(EACCES) || averr == AVERROR(EPERM)) {
        return -EACCES;
    }
    if (averr == AVERROR(ENOENT)) {
        return CIR_ENOTFOUND;
    }
    return CIR_EMEDIA;
}

const char *
cir_input_strerror(const AVIOContext *pb, int averr, char *buf, size_t size)
{
    if (cir_s3_avio_error(pb) < 0) {
        snprintf(buf, size, "%s", cir_s3_avio_strerror(pb));
    } else {
        av_strerror(averr, buf, size);
    }
    return buf;
}
