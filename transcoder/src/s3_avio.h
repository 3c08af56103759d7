/*
 * An AVIOContext reading an s3:// object with ranged GETs (read + seek), so
 * libavformat demuxes an upload without a local copy.  Reads go through a
 * buffer of CIR_S3_AVIO_CHUNK bytes per GET.
 *
 * A GET that fails (5xx, reset, timeout, a body cut short) is retried from
 * the same offset within the client's retry budget (cir_aws.h: only the
 * public cir_s3_* client is used); a body
 * that ends early without an error is read on from where it stopped, at
 * most CIR_S3_AVIO_SHORT_READS times.  When a read still fails, the AVIO
 * answers AVERROR(EIO) to libavformat, remembers why, and fails every
 * later read at once (the job's fate is decided: no second budget spent):
 * cir_s3_avio_error() tells that I/O failure from bytes the demuxer
 * judged bad.
 *
 * Cancelling: with an abort flag in the options, a read once the flag is
 * set fails at once, and a GET in flight (or a retry's backoff wait) stops
 * within ~50 ms; the AVIO then answers AVERROR_EXIT (libavformat's "stop
 * now", as from an AVIOInterruptCB) and cir_s3_avio_error() gives
 * CIR_ECANCELED: neither bad media nor a transient failure to retry.
 */
#ifndef CIR_S3_AVIO_H
#define CIR_S3_AVIO_H

#include <stdatomic.h>

#include <libavformat/avio.h>

#define CIR_S3_AVIO_CHUNK       (4 << 20)
#define CIR_S3_AVIO_SHORT_READS 5

typedef struct {
    /* set (by another thread): every read stops, CIR_ECANCELED; NULL: none.
     * Must outlive the AVIOContext. */
    const atomic_int *abort;
} cir_s3_avio_opts_t;

/* uri is s3://bucket/key; opts may be NULL.  Free with
 * cir_s3_avio_close().  On failure why says in a sentence what is wrong with
 * the input (missing, not readable, credentials refused...). */
int cir_s3_avio_open(AVIOContext **pb, const char *uri,
                     const cir_s3_avio_opts_t *opts, char *why, size_t why_len);
void cir_s3_avio_close(AVIOContext **pb);
/* The error of the read that failed on pb (CIR_ETRANSIENT, CIR_EAUTH,
 * CIR_ENOTFOUND, CIR_ECANCELED...), 0 when none did or when pb is NULL or not
 * an S3 AVIO. Its message: cir_s3_avio_strerror(). */
int cir_s3_avio_error(const AVIOContext *pb);
const char *cir_s3_avio_strerror(const AVIOContext *pb);

#endif
