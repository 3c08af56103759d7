/*
 * Opening a user's upload, locked down.
 *
 * Every input (video, audio, still; a local file or s3:// through the S3
 * AVIOContext) is opened by cir_input_open() and nothing else:
 *
 * - protocols: `file` only for a local path; none at all under the S3
 *   AVIOContext.  A demuxer that tries to open another URL (a playlist's
 *   segment, a reference) is refused by libavformat.
 * - demuxers: the containers people upload (cir_input_demuxer_accepted()).
 *   The container is probed first and a refused one is reported by name
 *   before any demuxer reads a header; HLS, DASH, concat and every other
 *   demuxer that follows references to other files or URLs are refused.
 *   The same list goes to libavformat as `format_whitelist`, and MOV's
 *   external data references stay off (`enable_drefs` 0).
 * - image2 (a still chosen by its file name) only with a still codec the
 *   images pipeline handles (not SVG, whose decoder can load other files).
 */
#ifndef CIR_INPUT_H
#define CIR_INPUT_H

#include <stdatomic.h>
#include <stddef.h>

#include <libavformat/avformat.h>

/* Is this demuxer (AVInputFormat.name, e.g. "mov,mp4,m4a,3gp,3g2,mj2")
 * an accepted upload container?  The whole name must match. */
int cir_input_demuxer_accepted(const char *name);

/* What a demuxer's input is, for the refusal message: "an HLS playlist",
 * "a DASH manifest", "a concat script", … or "a container". */
const char *cir_input_demuxer_what(const char *name);

/* Is this codec (avcodec_get_name()) a still the image2 demuxer may give? */
int cir_input_image_codec_accepted(const char *codec_name);

/* The accepted demuxer names joined by ',' (libavformat's format_whitelist)
 * into buf.  Returns 0, or CIR_ELIMIT if len is too small. */
int cir_input_format_whitelist(char *buf, size_t len);

/* Adds the lockdown options to o: protocol_whitelist (`file`, or no
 * protocol at all when custom_io: the S3 AVIOContext), format_whitelist,
 * enable_drefs 0.  Returns 0 or CIR_ENOMEM. */
int cir_input_lockdown(AVDictionary **o, int custom_io);

/*
 * Opens path (a local path, or s3://bucket/key) and reads the container
 * header (not the stream info).  opts: the caller's own avformat options
 * (probesize, pattern_type, …) or NULL; the lockdown options are added.
 * cancel (may be NULL; must outlive *ic): once set, every read stops —
 * a ranged GET of the S3 AVIOContext in flight or in its backoff within
 * ~50 ms, and libavformat through the context's AVIOInterruptCB — and the
 * failure is CIR_ECANCELED (cir_input_error() maps AVERROR_EXIT to it).
 * On failure why holds a sentence for the logs and the result, e.g.
 * "input is an HLS playlist (hls): not an accepted upload format".
 *
 * Returns 0; CIR_EUNSUPPORTED for a refused container; CIR_ENOTFOUND for a
 * missing input; CIR_EMEDIA when no demuxer recognises the bytes;
 * CIR_ECANCELED once cancel is set; the S3 AVIOContext's error or
 * libavformat's AVERROR otherwise.
 */
int cir_input_open(AVFormatContext **ic, const char *path, AVDictionary **opts,
                   const atomic_int *cancel, char *why, size_t why_len);

/* The same for a sidecar subtitle file: the text subtitle demuxers only
 * (SubRip, WebVTT, ASS/SSA, SCC, SAMI, MicroDVD, ...), locked down the same
 * way; a refusal says "not an accepted subtitle format". */
int cir_input_open_subtitles(AVFormatContext **ic, const char *path,
                             AVDictionary **opts, const atomic_int *cancel,
                             char *why, size_t why_len);

/* Closes ic and, for s3://, its AVIOContext.  *ic may be NULL. */
void cir_input_close(AVFormatContext **ic);

#endif
