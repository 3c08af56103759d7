/*
 * What a libavformat failure on an input means.  Only the demuxer or the
 * decoder judging the bytes makes CIR_EMEDIA: an I/O error of the S3 AVIO
 * (s3_avio.h) is that error (CIR_ETRANSIENT, CIR_EAUTH, ...), even
 * when libavformat reports it as AVERROR(EIO), AVERROR_EOF or as bytes it
 * could not parse after the read failed.
 */
#ifndef CIR_INPUT_ERROR_H
#define CIR_INPUT_ERROR_H

#include <libavformat/avio.h>

/* pb: the input's AVIOContext (NULL when there is none yet); averr: what
 * libavformat returned (AVERROR_EOF included).  Returns the S3 AVIO's own
 * error when a read failed (CIR_ECANCELED when it was cancelled),
 * CIR_ECANCELED for AVERROR_EXIT (the interrupt callback: cancelled),
 * CIR_ENOMEM, -EACCES for a local input that may not be read,
 * CIR_ENOTFOUND for a missing one, else CIR_EMEDIA. */
int cir_input_error(const AVIOContext *pb, int averr);

/* A message for it: the S3 AVIO's ("reading s3://... failed (...)"), else
 * libavformat's text for averr, in buf. */
const char *cir_input_strerror(const AVIOContext *pb, int averr, char *buf,
                               size_t size);

#endif
