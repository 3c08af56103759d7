/*
 * An AVIOContext over an S3 object: ranged GETs, read and seek, on the public
 * cir_s3_* client of common/aws.  Tested through the integration tests
 * (aws, aws_faults, aws_worker: inputs read from the S3 rig).
 */
#include "s3_avio.h"

#include <errno.h>
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
    const atomic_int *abort; /* cir_s3_avio_opts_t */
    int64_t size;
    int64_t pos;
    uint8_t *chunk; /* CIR_S3_AVIO_CHUNK bytes from chunk_off */
    int64_t chunk_off;
    size_t chunk_len;
    int error;         /* the read that failed: every later one fails */
    char errmsg[1280]; /* and why */
    char why[128];     /* a failure found here, not by the S3 client */
} s3_input_t;

static const cir_log_ctx_t log_ctx = {.component = "s3"};

/* want bytes from s->pos into the chunk: the client retries a failed GET
 * from the same offset; a body that ends early without an error is read on
 * from where it stopped. */
static int
fill_chunk(s3_input_t *s, size_t want)
{
    size_t have = 0, got;
    int ret, short_reads = 0;

    s->chunk_len = 0;
    s->why[0] = '\0';
    while (have < want) {
        got = 0;
        ret =
            cir_s3_get_range(s->aws, s->bucket, s->key, s->pos + (int64_t)have,
                             want - have, s->chunk + have, &got, s->abort);
        if (ret < 0) {
            return ret;
        }
        have += got;
        if (have < want && ++short_reads > CIR_S3_AVIO_SHORT_READS) {
            snprintf(s->why, sizeof(s->why),
                     "%zu of %zu bytes arrived after %d short reads", have,
                     want, short_reads);
            return CIR_ETRANSIENT;
        }
    }
    s->chunk_off = s->pos;
    s->chunk_len = have;
    return 0;
}

/* The read at s->pos failed with ret: remembered, logged, and told to
 * libavformat (a cancel as AVERROR_EXIT, anything else as EIO). */
static int
fail_read(s3_input_t *s, int ret)
{
    char shown[256];

    cir_aws_ellipsize(shown, sizeof(shown), s->key);
    s->error = ret;
    if (ret == CIR_ECANCELED) {
        snprintf(s->errmsg, sizeof(s->errmsg),
                 "reading s3://%s/%s at byte %lld: cancelled", s->bucket, shown,
                 (long long)s->pos);
        cir_log_info(&log_ctx, "%s", s->errmsg);
        return AVERROR_EXIT;
    }
    snprintf(s->errmsg, sizeof(s->errmsg),
             "reading s3://%s/%s at byte %lld failed (%s): %s", s->bucket,
             shown, (long long)s->pos, cir_errname(ret),
             s->why[0] != '\0' ? s->why : cir_aws_last_error());
    cir_log_error(&log_ctx, "%s", s->errmsg);
    return AVERROR(EIO);
}

static int
read_packet(void *opaque, uint8_t *buf, int size)
{
    s3_input_t *s = opaque;
    size_t n;
    int ret;

    if (s->error < 0) {
        return s->error == CIR_ECANCELED ? AVERROR_EXIT : AVERROR(EIO);
    }
    if (s->abort != NULL && atomic_load(s->abort)) {
        return fail_read(s, CIR_ECANCELED);
    }
    if (s->pos >= s->size) {
        return AVERROR_EOF;
    }
    if (s->pos < s->chunk_off ||
        s->pos >= s->chunk_off + (int64_t)s->chunk_len) {
        size_t want = CIR_S3_AVIO_CHUNK;
        if ((int64_t)want > s->size - s->pos) {
            want = (size_t)(s->size - s->pos);
        }
        if ((ret = fill_chunk(s, want)) < 0) {
            return fail_read(s, ret);
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

/*
 * Rewrites the client's last error into a sentence about the input.  A
 * HEAD answer has no body, so a 403 says nothing of why: one ranged GET
 * learns S3's error code (SignatureDoesNotMatch, AccessDenied...).  S3
 * answers 403, not 404, for a missing key when the role may not
 * s3:ListBucket the bucket, so AccessDenied may mean either.
 */
static void
explain_head_failure(s3_input_t *s, int ret, char *out, size_t size)
{
    char why[1024], shown[256];
    uint8_t byte;
    size_t got;

    cir_aws_ellipsize(shown, sizeof(shown), s->key);
    if (ret == CIR_EAUTH &&
        cir_s3_get_range(s->aws, s->bucket, s->key, 0, 1, &byte, &got,
                         s->abort) == CIR_EAUTH) {
        snprintf(why, sizeof(why), "%s", cir_aws_last_error());
        if (strstr(why, "AccessDenied") != NULL) {
            snprintf(out, size,
                     "input s3://%s/%s is missing or not readable: %s "
                     "(S3 answers 403 for a missing key when the role "
                     "lacks s3:ListBucket on the bucket)",
                     s->bucket, shown, why);
        } else {
            snprintf(out, size, "input s3://%s/%s: credentials refused: %s",
                     s->bucket, shown, why);
        }
        return;
    }
    snprintf(why, sizeof(why), "%s", cir_aws_last_error());
    if (ret == CIR_ENOTFOUND) {
        snprintf(out, size, "input s3://%s/%s does not exist: %s", s->bucket,
                 shown, why);
    } else if (ret == CIR_EAUTH) {
        snprintf(out, size, "input s3://%s/%s is not readable: %s", s->bucket,
                 shown, why);
    } else {
        snprintf(out, size, "input s3://%s/%s: %s", s->bucket, shown, why);
    }
}

int
cir_s3_avio_error(const AVIOContext *pb)
{
    if (pb == NULL || pb->read_packet != read_packet || pb->opaque == NULL) {
        return 0;
    }
    return ((const s3_input_t *)pb->opaque)->error;
}

const char *
cir_s3_avio_strerror(const AVIOContext *pb)
{
    if (cir_s3_avio_error(pb) == 0) {
        return "";
    }
    return ((const s3_input_t *)pb->opaque)->errmsg;
}

int
cir_s3_avio_open(AVIOContext **pb, const char *uri,
                 const cir_s3_avio_opts_t *opts, char *why, size_t why_len)
{
    cir_uri_t *u = NULL;
    s3_input_t *s = NULL;
    cir_s3_head_t head;
    unsigned char *iobuf = NULL;
    int ret;

    *pb = NULL;
    why[0] = '\0';
    u = calloc(1, sizeof(*u));
    s = calloc(1, sizeof(*s));
    if (u == NULL || s == NULL) {
        snprintf(why, why_len, "out of memory");
        ret = CIR_ENOMEM;
        goto fail;
    }
    if ((ret = cir_uri_parse(uri, u)) < 0 || u->scheme != CIR_URI_S3) {
        snprintf(why, why_len, "not an s3:// URI");
        ret = CIR_EINVAL;
        goto fail;
    }
    if ((s->aws = cir_aws_default()) == NULL) {
        snprintf(why, why_len,
                 "no AWS client: credentials or configuration "
                 "(logged at start)");
        ret = CIR_EAUTH;
        goto fail;
    }
    snprintf(s->bucket, sizeof(s->bucket), "%s", u->bucket);
    snprintf(s->key, sizeof(s->key), "%s", u->path);
    s->abort = opts != NULL ? opts->abort : NULL;
    if ((ret = cir_s3_head(s->aws, s->bucket, s->key, &head, s->abort)) < 0) {
        explain_head_failure(s, ret, why, why_len);
        goto fail;
    }
    s->size = head.size;
    s->chunk = av_malloc(CIR_S3_AVIO_CHUNK);
    iobuf = av_malloc(65536);
    if (s->chunk == NULL || iobuf == NULL) {
        snprintf(why, why_len, "out of memory");
        ret = CIR_ENOMEM;
        goto fail;
    }
    *pb = avio_alloc_context(iobuf, 65536, 0, s, read_packet, NULL, seek);
    if (*pb == NULL) {
        snprintf(why, why_len, "out of memory");
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
cir_s3_avio_close(AVIOContext **pb)
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
