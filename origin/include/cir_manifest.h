/*
 * The model of a packaged asset, and the HLS and DASH renderers over it.
 *
 * One set of CMAF files, two manifests.  The transcoder fills a cir_asset_t
 * from what it packaged and calls the renderers to write a VOD asset's
 * playlists and MPD; the origin will fill the same model from the live index
 * per request.  The renderers are pure: no I/O, output into a bounded
 * cir_buf_t, deterministic for the same input (golden-file tested).
 *
 * Layout (docs/architecture.md, "Output layout"), all URIs relative:
 *   master.m3u8, manifest.mpd                       asset root
 *   <id>/index.m3u8, <id>/iframes.m3u8              per rendition
 *   <id>/init.mp4, <id>/seg-<n>.m4s                 CMAF, n from start_number
 *   thumbs/poster.jpg, thumbs/sprite-<n>.jpg, thumbs/thumbs.vtt,
 *   thumbs/images.m3u8                              image track
 *   subs-<lang>/index.m3u8, subs-<lang>/seg-<n>.vtt, subs-<lang>/full.vtt
 *                                                   subtitle renditions
 */
#ifndef CIR_MANIFEST_H
#define CIR_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "cir_buf.h"
#include "cir_encryption.h"

typedef enum {
    CIR_MEDIA_VIDEO = 0,
    CIR_MEDIA_AUDIO
} cir_media_type_t;

typedef struct {
    int64_t start;    /* tfdt of the segment, in the rendition's timescale */
    int64_t duration; /* in the rendition's timescale */
    uint64_t size;    /* bytes of the .m4s file */
} cir_segment_t;

/* One keyframe for the I-frame playlist: a byte range of a segment file that
 * holds the fragment's moof and the keyframe sample. */
typedef struct {
    uint32_t segment; /* index into segments[] */
    int64_t start;    /* presentation time, rendition timescale */
    int64_t duration; /* until the next keyframe */
    uint64_t offset;  /* byte offset in the segment file */
    uint64_t size;    /* bytes from offset through the keyframe sample */
} cir_iframe_t;

typedef struct {
    const char *id; /* folder name and DASH Representation@id */
    cir_media_type_t type;
    const char *codecs;   /* RFC 6381, e.g. "avc1.64001f", "mp4a.40.2" */
    int width, height;    /* video */
    double frame_rate;    /* video, measured */
    int sample_rate;      /* audio */
    int channels;         /* audio */
    const char *language; /* audio, BCP 47; NULL = "und" */
    /* audio: HLS NAME (no '"' or control character); NULL = the id */
    const char *name;
    /* audio: the one a player picks first (HLS DEFAULT=YES, DASH Role
     * "main"); when no audio rendition says so, the first one is */
    int is_default;
    uint64_t bandwidth;         /* peak bits/s over segments, measured */
    uint64_t average_bandwidth; /* bits/s over the whole rendition */
    uint32_t timescale;
    uint32_t start_number; /* number of segments[0] in seg-<n>.m4s */
    const cir_segment_t *segments;
    size_t nb_segments;
    const cir_iframe_t *iframes; /* video only; may be NULL */
    size_t nb_iframes;
    uint64_t iframe_bandwidth; /* peak bits/s of the I-frame track */
    /* video: its SEI carries CEA-608 closed captions (CC1), signalled as
     * HLS CLOSED-CAPTIONS and a DASH Accessibility descriptor */
    int closed_captions;
} cir_rendition_t;

/* Thumbnails as a tiled image track (HLS image playlist, DASH thumbnails). */
typedef struct {
    int present;
    double interval; /* seconds per tile */
    int tile_width, tile_height;
    int columns, rows; /* tiles per sprite sheet */
    size_t nb_tiles;   /* thumbnails in all; the last sheet may be partial */
    size_t nb_sprites;
    uint64_t bandwidth; /* peak bits/s of the sprite sheets */
} cir_thumbs_t;

/* Subtitle renditions (manifest_text.c): segmented WebVTT for HLS on the
 * segments of a media rendition, one whole file for DASH. */
typedef enum {
    CIR_TEXT_SUBTITLES = 0,
    CIR_TEXT_CAPTIONS, /* for the deaf and hard of hearing */
    CIR_TEXT_FORCED    /* only what the audio does not say */
} cir_text_kind_t;

typedef struct {
    int64_t start_ms, end_ms; /* on the asset's timeline, start < end */
    const char *text;         /* WebVTT cue payload: escaped, no blank line */
} cir_text_cue_t;

typedef struct {
    const char *id;       /* folder: [A-Za-z0-9_-] */
    const char *language; /* BCP 47 */
    const char *name;     /* what players list; no '"' or control byte */
    cir_text_kind_t kind;
    int is_default;
    /* seg-<n>.vtt follow these segments (a media rendition's) */
    uint32_t timescale;
    uint32_t start_number;
    const cir_segment_t *segments;
    size_t nb_segments;
    const cir_text_cue_t *cues; /* sorted by start */
    size_t nb_cues;
} cir_text_track_t;

/* How the media renditions are encrypted: the scheme, the key ID and what
 * each DRM system needs to find its licence (a manifest never carries a
 * key).  A system whose bit is set and that has a pssh box gets it in the
 * manifests as written into init.mp4. */
typedef struct {
    cir_enc_scheme_t scheme; /* CIR_ENC_CENC or CIR_ENC_CBCS */
    uint8_t key_id[16];
    unsigned systems;                /* CIR_DRM_BIT()s; 0: ClearKey alone */
    const uint8_t *pssh[CIR_DRM_NB]; /* whole boxes; NULL for FairPlay */
    size_t pssh_len[CIR_DRM_NB];
    const uint8_t *playready_pro; /* the PlayReady Object; with PlayReady */
    size_t playready_pro_len;
    const char *fairplay_key_uri; /* skd://...; with FairPlay */
} cir_protection_t;

typedef struct {
    double duration;        /* seconds: the longest rendition */
    double segment_seconds; /* the preset's nominal segment duration */
    const cir_rendition_t *renditions; /* video first, then audio */
    size_t nb_renditions;
    cir_thumbs_t thumbs;
    /* A prefix for every URI the master playlist lists and the MPD's
     * BaseURL, e.g. "v/<version>/": how an asset's top-level manifests
     * point into a published version.  NULL or "" for none; else a safe
     * relative path of [A-Za-z0-9_/-] ending in '/'. */
    const char *base;
    const cir_text_track_t *texts; /* subtitle renditions; may be NULL */
    size_t nb_texts;
    /* The language of the closed captions (CC1) the video renditions
     * marked closed_captions carry, BCP 47; NULL = "und". */
    const char *cc_language;
    /* Common Encryption of the video and audio renditions (the text and
     * image ones stay clear); NULL: clear.  HLS: EXT-X-KEY in the media
     * and I-frame playlists, EXT-X-SESSION-KEY in the master; DASH:
     * ContentProtection (mp4protection with cenc:default_KID, ClearKey) in
     * the video and audio AdaptationSets. */
    const cir_protection_t *protection;
} cir_asset_t;

/* The largest manifest a renderer may produce, by default. */
#define CIR_MANIFEST_MAX_SIZE (8 * 1024 * 1024)

/* master.m3u8: every video rendition with the audio group, I-frame streams,
 * the image stream; with closed captions, their EXT-X-MEDIA (group "cc",
 * INSTREAM-ID "CC1") named by each variant that carries them. */
int cir_hls_render_master(const cir_asset_t *asset, cir_buf_t *out);
/* <id>/index.m3u8: a VOD media playlist (EXT-X-PLAYLIST-TYPE:VOD, ENDLIST). */
int cir_hls_render_media(const cir_asset_t *asset, const cir_rendition_t *r,
                         cir_buf_t *out);
/* <id>/iframes.m3u8: EXT-X-I-FRAMES-ONLY with byte ranges. */
int cir_hls_render_iframes(const cir_asset_t *asset, const cir_rendition_t *r,
                           cir_buf_t *out);
/* thumbs/images.m3u8: an image media playlist (EXT-X-IMAGES-ONLY, TILES). */
int cir_hls_render_images(const cir_asset_t *asset, cir_buf_t *out);
/* manifest.mpd: a static MPD, SegmentTemplate + SegmentTimeline ($Number$),
 * one AdaptationSet for video (with an SCTE 214 CEA-608 Accessibility
 * descriptor when its renditions carry captions), one per audio rendition
 * (lang; a Role main or alternate when there are several), plus the
 * thumbnail AdaptationSet. */
int cir_dash_render_static(const cir_asset_t *asset, cir_buf_t *out);
/* thumbs/thumbs.vtt: WebVTT cues mapping times to sprite-N.jpg#xywh=.
 * With asset->base the track is for the asset's root (a thumbnails-only
 * asset's top-level thumbs.vtt): "<base>thumbs/sprite-N.jpg#xywh=". */
int cir_vtt_render_thumbs(const cir_asset_t *asset, cir_buf_t *out);

/* <id>/index.m3u8 of a subtitle rendition: seg-<n>.vtt on its segments. */
int cir_hls_render_text(const cir_asset_t *asset, const cir_text_track_t *t,
                        cir_buf_t *out);
/* <id>/seg-<n>.vtt for segments[k]: X-TIMESTAMP-MAP (MPEGTS 0 is the
 * asset's time 0, the CMAF timeline's origin), then every cue that overlaps
 * the segment, with its own times (a cue spanning a boundary is in both
 * segments; players drop the repeat).  The first segment also takes the
 * cues before it, the last the cues after it. */
int cir_vtt_render_text_segment(const cir_text_track_t *t, size_t k,
                                cir_buf_t *out);
/* <id>/full.vtt: every cue, for DASH. */
int cir_vtt_render_text_full(const cir_text_track_t *t, cir_buf_t *out);

#endif
