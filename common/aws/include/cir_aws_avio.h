/*
 * An AVIOContext reading an s3:// object with ranged GETs (read + seek), so
 * libavformat demuxes an upload without a local copy.  Reads go through a
 * buffer of CIR_S3_AVIO_CHUNK bytes per GET.
 */
#ifndef CIR_AWS_AVIO_H
#define CIR_AWS_AVIO_H

#include <libavformat/avio.h>

#define CIR_S3_AVIO_CHUNK (4 << 20)

/* uri is s3://bucket/key.  Free with cir_aws_s3_avio_close(). */
int cir_aws_s3_avio_open(AVIOContext **pb, const char *uri);
void cir_aws_s3_avio_close(AVIOContext **pb);

#endif
