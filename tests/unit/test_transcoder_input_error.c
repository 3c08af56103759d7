/*
 * What a libavformat failure on an input means (transcoder/src/
 * input_error.c): the demuxer's verdict on bytes is CIR_EMEDIA, the rest
 * says what failed.  The S3 AVIO's own errors are covered end to end by
 * tests/integration/aws_faults.test.mjs.
 */
#include <errno.h>

#include <criterion/criterion.h>
#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "cir_error.h"
#include "input_error.h"

Test(transcoder_input_error, bytes_judged_bad_are_media_errors)
{
    cr_assert_eq(cir_input_error(NULL, AVERROR_INVALIDDATA), CIR_EMEDIA);
    cr_assert_eq(cir_input_error(NULL, AVERROR_EOF), CIR_EMEDIA);
    cr_assert_eq(cir_input_error(NULL, AVERROR(EIO)), CIR_EMEDIA);
}

Test(transcoder_input_error, local_failures_say_what_failed)
{
    cr_assert_eq(cir_input_error(NULL, AVERROR(EACCES)), -EACCES);
    cr_assert_eq(cir_input_error(NULL, AVERROR(EPERM)), -EACCES);
    cr_assert_eq(cir_input_error(NULL, AVERROR(ENOENT)), CIR_ENOTFOUND);
    cr_assert_eq(cir_input_error(NULL, AVERROR(ENOMEM)), CIR_ENOMEM);
}

/* AVERROR_EXIT comes from the interrupt callback: the job was cancelled,
 * which is neither bad media nor a failure to retry. */
Test(transcoder_input_error, an_interrupted_read_is_a_cancel)
{
    cr_assert_eq(cir_input_error(NULL, AVERROR_EXIT), CIR_ECANCELED);
}

static int
read_nothing(void *opaque, uint8_t *buf, int size)
{
    (void)opaque;
    (void)buf;
    (void)size;
    return AVERROR(EIO);
}

Test(transcoder_input_error, another_avio_is_not_taken_for_the_s3_one)
{
    unsigned char *b = av_malloc(4096);
    AVIOContext *pb =
        avio_alloc_context(b, 4096, 0, NULL, read_nothing, NULL, NULL);
    char msg[128];

    cr_assert_not_null(pb);
    cr_assert_eq(cir_input_error(pb, AVERROR(EIO)), CIR_EMEDIA);
    cr_assert_str_eq(cir_input_strerror(pb, AVERROR(EIO), msg, sizeof(msg)),
                     av_err2str(AVERROR(EIO)));
    av_freep(&pb->buffer);
    avio_context_free(&pb);
}
