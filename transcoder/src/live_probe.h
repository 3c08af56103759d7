/*
 * The picture size of an H.264/HEVC stream from its decoder configuration
 * record (avcC/hvcC in extradata) and its first keyframe, for publishers
 * that send no onMetaData.  libavcodec's parser reads the SPS; a decoder
 * is the fallback.
 */
#ifndef CIR_LIVE_PROBE_H
#define CIR_LIVE_PROBE_H

#include <libavcodec/avcodec.h>

/* key: a keyframe in the format of par (length-prefixed NAL units when
 * par has avcC/hvcC).  0 with *width, *height > 0, or a negative error. */
int cir_onair_probe_size(const AVCodecParameters *par, const AVPacket *key,
                         int *width, int *height);

#endif
