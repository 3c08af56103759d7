/*
 * Private helpers shared by the HLS, DASH and WebVTT renderers: model
 * validation and locale-independent number/time formatting done in integer
 * arithmetic, so the same model always renders to the same bytes.
 */
#ifndef CIR_MANIFEST_UTIL_H
#define CIR_MANIFEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "cir_buf.h"
#include "cir_manifest.h"

/* ret = expr; on a negative result, goto fail (the renderers' one exit). */
#define TRY(expr)                 \
    do {                          \
        if ((ret = (expr)) < 0) { \
            goto fail;            \
        }                         \
    } while (0)

#define CIR_MANIFEST_DEFAULT_AUDIO_CODECS "mp4a.40.2"

/* Checks everything a renderer relies on (see cir_manifest_check_asset()). */
int cir_manifest_check_rendition(const cir_rendition_t *r);
/* The asset and every rendition: at least one rendition, unique safe ids,
 * timescale > 0, video with codecs/size/frame rate, positive durations,
 * thumbnails consistent when present.  CIR_EINVAL otherwise. */
int cir_manifest_check_asset(const cir_asset_t *a);

/* The number of video renditions that carry closed captions. */
size_t cir_manifest_captioned_videos(const cir_asset_t *a);
/* The captions' language: the model's, or "und". */
const char *cir_manifest_cc_language(const cir_asset_t *a);
/* The same for the thumbnail WebVTT track alone, which needs no rendition
 * (a thumbnails-only asset): duration, renditions if any, thumbs, base. */
int cir_manifest_check_image_track(const cir_asset_t *a);

/* round(num / den), halves up; num >= 0, den > 0. */
int64_t cir_manifest_round_div(int64_t num, int64_t den);
/* num/den seconds with a fixed number of decimals (0..9), halves up. */
int cir_manifest_put_fixed(cir_buf_t *out, int64_t num, int64_t den,
                           int decimals);
/* The same, rounded up: for maxima such as PART-TARGET, which no part may
 * exceed once both are printed. */
int cir_manifest_put_fixed_up(cir_buf_t *out, int64_t num, int64_t den,
                              int decimals);

/* EXT-X-TARGETDURATION shared by every media playlist of the asset: the
 * largest segment duration rounded to the nearest integer, at least 1. */
int64_t cir_manifest_target_duration(const cir_asset_t *a);

/* Asset duration in milliseconds: asset->duration, or when that is 0 the
 * longest rendition's timeline. */
int64_t cir_manifest_duration_ms(const cir_asset_t *a);

/* Thumbnail geometry, valid after cir_manifest_check_asset(). */
int64_t cir_manifest_thumb_interval_ms(const cir_thumbs_t *t);
/* End of the last tile: the asset's end when that falls after the last
 * tile's start (the last tile stretches or shrinks to it). */
int64_t cir_manifest_thumbs_end_ms(const cir_asset_t *a);
size_t cir_manifest_tiles_per_sheet(const cir_thumbs_t *t);
/* Tiles on sheet n (0-based): the last sheet may be partial. */
size_t cir_manifest_sheet_tiles(const cir_thumbs_t *t, size_t n);

/* s escaped for an XML attribute value (&, <, >, ", '). */
int cir_manifest_put_xml_attr(cir_buf_t *out, const char *s);
/* A WebVTT timestamp, hh:mm:ss.ttt. */
int cir_manifest_put_vtt_time(cir_buf_t *out, int64_t ms);
/* A measured rate as DASH FrameRateType: "30", "30000/1001", else the
 * reduced fraction of the rate in thousandths ("25/2"). */
int cir_manifest_put_frame_rate(cir_buf_t *out, double fr);

/* What a DASH Representation's opening says, VOD and live alike. */
typedef struct {
    const char *id;
    uint64_t bandwidth;
    int video;
    const char *codecs; /* NULL or "": audio gets AAC-LC */
    int width, height;
    double frame_rate;
    int sample_rate, channels;
} cir_dash_rep_head_t;

/* <Representation ...> with its AudioChannelConfiguration for audio; the
 * caller writes the SegmentTemplate and closes the element. */
int cir_dash_put_representation_head(cir_buf_t *out,
                                     const cir_dash_rep_head_t *h);

/* A SegmentTimeline written as runs: S@r for repeats of one duration, S@t
 * on the first S and after any gap or overlap. */
typedef struct {
    int64_t t, d, end;
    uint64_t rep;
    int started, has_t;
} cir_dash_timeline_t;

int cir_dash_timeline_open(cir_dash_timeline_t *tl, cir_buf_t *out);
int cir_dash_timeline_add(cir_dash_timeline_t *tl, cir_buf_t *out,
                          int64_t start, int64_t duration);
int cir_dash_timeline_close(cir_dash_timeline_t *tl, cir_buf_t *out);
/* The same, promising the segments after the last with an open-ended S
 * element of next_duration (none when 0 or when nothing was added). */
int cir_dash_timeline_close_open_ended(cir_dash_timeline_t *tl, cir_buf_t *out,
                                       int64_t next_duration);

/* Subtitle renditions (manifest_text.c): the asset's text tracks are
 * valid (ids, languages, names, cues sorted; at most one default). */
int cir_manifest_check_texts(const cir_asset_t *a);
/* ',SUBTITLES="subs"' for an EXT-X-STREAM-INF when the asset has text. */
int cir_hls_put_text_group(cir_buf_t *out, const cir_asset_t *a);
/* The master's EXT-X-MEDIA:TYPE=SUBTITLES lines. */
int cir_hls_put_text_media(cir_buf_t *out, const cir_asset_t *a);
/* One text AdaptationSet per subtitle rendition; *id counts on. */
int cir_dash_put_text_sets(cir_buf_t *out, const cir_asset_t *a, int *id);

/* Renderers append to out; on failure they truncate out back to where it
 * was, so a caller never sees half a manifest. */
/* Encryption signalling (p: an asset's protection, or a live key's;
 * nothing when NULL), VOD and live alike.  HLS: the
 * EXT-X-KEY (tag "KEY") or EXT-X-SESSION-KEY (tag "SESSION-KEY") line;
 * DASH: the ContentProtection elements of a video or audio
 * AdaptationSet, and the MPD's xmlns:cenc. */
int cir_hls_put_key(cir_buf_t *out, const cir_protection_t *p, const char *tag);
int cir_dash_put_content_protection(cir_buf_t *out, const cir_protection_t *p);
int cir_dash_put_cenc_namespace(cir_buf_t *out, const cir_protection_t *p);

int cir_manifest_fail(cir_buf_t *out, size_t len0, int err);

#endif
