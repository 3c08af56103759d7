/* An AVIOContext over an S3 object: ranged GETs, read and seek. */
#include "cir_aws_avio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "cir_aws.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_storage.h"

typedef struct {
    cir_aws_t *aws;
    char bucket[64];
    char key[CIR_URI_MAX];
    int64_t size;
    int64_t pos;
    uint8_t *chunk; /* CIR_S3_AVIO_CHUNK bytes from chunk_off */
    int64_t chunk_off;
    size_t chunk_len;
} s3_input_t;

static int
read_packet(void *opaque, uint8_t *buf, int size)
{
    s3_input_t *s = opaque;
    size_t n;
    int ret;

    if (s->pos >= s->size) {
        return AVERROR_EOF;
    }
    if (s->pos < s->chunk_off ||
        s->pos >= s->chunk_off + (int64_t)s->chunk_len) {
        size_t want = CIR_S3_AVIO_CHUNK;
        if ((int64_t)want > s->size - s->pos) {
            want = (size_t)(s->size - s->pos);
        }
        s->chunk_len = 0;
        ret = cir_s3_get_range(s->aws, s->bucket, s->key, s->pos, want,
                               s->chunk, &s->chunk_len);
        if (ret < 0) {
            cir_log_error(&(cir_log_ctx_t){.component = "s3"},
                          "read s3://%s/%s at %lld: %s", s->bucket, s->key,
                          (long long)s->pos, cir_aws_last_error());
            return AVERROR(EIO);
        }
        s->chunk_off = s->pos;
        if (s->chunk_len == 0) {
            return AVERROR_EOF;
        }
    }
    n = (size_t)(s->chunk_off + (int64_t)s->chunk_len - s->pos);
    if (n > (size_t)size) {
        n = (size_t)size;
    }
    memcpy(buf, s->chunk + (s->pos - s->chunk_off), n);
    s->pos += (int64_t)n;
    return (int)n;
}

static int64_t
seek(void *opaque, int64_t offset, int whence)
{
    s3_input_t *s = opaque;
    int64_t pos;

    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return s->size;
    case SEEK_SET:
        pos = offset;
        break;
    case SEEK_CUR:
        pos = s->pos + offset;
        break;
    case SEEK_END:
        pos = s->size + offset;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (pos < 0 || pos > s->size) {
        return AVERROR(EINVAL);
    }
    s->pos = pos;
    return pos;
}

int
cir_aws_s3_avio_open(AVIOContext **pb, const char *uri)
{
    cir_uri_t *u = NULL;
    s3_input_t *s = NULL;
    cir_s3_head_t head;
    unsigned char *iobuf = NULL;
    int ret;

    *pb = NULL;
    u = calloc(1, sizeof(*u));
    s = calloc(1, sizeof(*s));
    if (u == NULL || s == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = cir_uri_parse(uri, u)) < 0 || u->scheme != CIR_URI_S3) {
        ret = CIR_EINVAL;
        goto fail;
    }
    if ((s->aws = cir_aws_default()) == NULL) {
        ret = CIR_EAUTH;
        goto fail;
    }
    snprintf(s->bucket, sizeof(s->bucket), "%s", u->bucket);
    snprintf(s->key, sizeof(s->key), "%s", u->path);
    if ((ret = cir_s3_head(s->aws, s->bucket, s->key, &head)) < 0) {
        goto fail;
    }
    s->size = head.size;
    s->chunk = av_malloc(CIR_S3_AVIO_CHUNK);
    iobuf = av_malloc(65536);
    if (s->chunk == NULL || iobuf == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    *pb = avio_alloc_context(iobuf, 65536, 0, s, read_packet, NULL, seek);
    if (*pb == NULL) {
        ret = CIR_ENOMEM;
        goto fail;
    }
    (*pb)->seekable = AVIO_SEEKABLE_NORMAL;
    free(u);
    return 0;
fail:
    if (s != NULL) {
        av_free(s->chunk);
    }
    av_free(iobuf);
    free(s);
    free(u);
    return ret;
}

void
cir_aws_s3_avio_close(AVIOContext **pb)
{
    s3_input_t *s;

    if (*pb == NULL) {
        return;
    }
    s = (*pb)->opaque;
    if (s != NULL) {
        av_free(s->chunk);
        free(s);
    }
    av_freep(&(*pb)->buffer);
    avio_context_free(pb);
}
