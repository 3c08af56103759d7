/*
 * VOD manifest test fixtures for the origin's renderer tests: a 3-rung
 * ladder with audio, I-frames and thumbnails, an audio-only asset and a
 * 29.97 fps video-only one, plus the output buffer every test renders into.
 * Header-only: each test binary links one library.
 */
#ifndef CIR_TEST_ASSET_FIXTURE_H
#define CIR_TEST_ASSET_FIXTURE_H

#include <string.h>

#include "cir_buf.h"
#include "cir_manifest.h"

#define V_TS 90000
#define A_TS 48000

typedef struct {
    cir_segment_t vseg[3][8];
    cir_iframe_t ifr[3][16];
    cir_segment_t aseg[8];
    cir_rendition_t r[5];
    cir_asset_t a;
} fixture_t;

static fixture_t fx;

/* Contiguous segments from t0 with the given durations; sizes follow the
 * duration so they are deterministic. */
static __attribute__((unused)) void
fill_segments(cir_segment_t *s, int64_t t0, const int64_t *durs, size_t n,
              uint64_t bytes_per_unit)
{
    size_t i;

    for (i = 0; i < n; i++) {
        s[i].start = t0;
        s[i].duration = durs[i];
        s[i].size = (uint64_t)durs[i] * bytes_per_unit / 10;
        t0 += durs[i];
    }
}

/* One keyframe every gop units, each with its moof at the fragment start. */
static __attribute__((unused)) size_t
fill_iframes(cir_iframe_t *f, const cir_segment_t *s, size_t nb, int64_t gop,
             uint64_t key_size)
{
    size_t i, n = 0;
    int64_t t, end;

    for (i = 0; i < nb; i++) {
        end = s[i].start + s[i].duration;
        for (t = s[i].start; t < end; t += gop) {
            f[n].segment = (uint32_t)i;
            f[n].start = t;
            f[n].duration = end - t < gop ? end - t : gop;
            f[n].offset = (uint64_t)(t - s[i].start) / gop * 300000;
            f[n].size = key_size + n * 100;
            n++;
        }
    }
    return n;
}

static __attribute__((unused)) cir_rendition_t
video(const char *id, const char *codecs, int w, int h, double fps, uint64_t bw,
      uint64_t avg)
{
    cir_rendition_t r = {0};

    r.id = id;
    r.type = CIR_MEDIA_VIDEO;
    r.codecs = codecs;
    r.width = w;
    r.height = h;
    r.frame_rate = fps;
    r.bandwidth = bw;
    r.average_bandwidth = avg;
    r.timescale = V_TS;
    r.start_number = 1;
    return r;
}

static __attribute__((unused)) cir_rendition_t
audio(const char *id, const char *lang, uint64_t bw, uint64_t avg)
{
    cir_rendition_t r = {0};

    r.id = id;
    r.type = CIR_MEDIA_AUDIO;
    r.codecs = "mp4a.40.2";
    r.sample_rate = 48000;
    r.channels = 2;
    r.language = lang;
    r.bandwidth = bw;
    r.average_bandwidth = avg;
    r.timescale = A_TS;
    r.start_number = 1;
    return r;
}

/* 6 s segments of AAC at 48 kHz do not fall on frame boundaries: 282 and
 * 281 frames of 1024 samples, then a short last one. 19.5 s in all. */
static const int64_t audio_durs[] = {288768, 287744, 288768, 70720};
/* 6 + 6 + 6 + 1.5 s: a last short segment; 2 s GOPs. */
static const int64_t video_durs[] = {540000, 540000, 540000, 135000};

/* 1080p/720p/360p at 30 fps + stereo AAC, I-frames, 10 thumbnails of
 * 160x90 on 3x2 sheets (the second sheet partial). */
static __attribute__((unused)) const cir_asset_t *
ladder(void)
{
    static const struct {
        const char *id, *codecs;
        int w, h;
        uint64_t bw, avg, ibw;
    } rungs[3] = {
        {"1080p", "avc1.640028", 1920, 1080, 6000000, 5000000, 580000},
        {"720p", "avc1.64001f", 1280, 720, 3000000, 2500000, 375000},
        {"360p", "avc1.64001e", 640, 360, 800000, 700000, 90000},
    };
    size_t i;

    memset(&fx, 0, sizeof(fx));
    for (i = 0; i < 3; i++) {
        cir_rendition_t *r = &fx.r[i];
        *r = video(rungs[i].id, rungs[i].codecs, rungs[i].w, rungs[i].h, 30.0,
                   rungs[i].bw, rungs[i].avg);
        fill_segments(fx.vseg[i], 0, video_durs, 4, 3 - i);
        r->segments = fx.vseg[i];
        r->nb_segments = 4;
        r->iframes = fx.ifr[i];
        r->nb_iframes = fill_iframes(fx.ifr[i], fx.vseg[i], 4, 2 * V_TS,
                                     (uint64_t)(40000 >> i));
        r->iframe_bandwidth = rungs[i].ibw;
    }
    fx.r[3] = audio("audio", "en", 130000, 128000);
    fill_segments(fx.aseg, 0, audio_durs, 4, 1);
    fx.r[3].segments = fx.aseg;
    fx.r[3].nb_segments = 4;

    fx.a.duration = 19.5;
    fx.a.segment_seconds = 6;
    fx.a.renditions = fx.r;
    fx.a.nb_renditions = 4;
    fx.a.thumbs.present = 1;
    fx.a.thumbs.interval = 2.0;
    fx.a.thumbs.tile_width = 160;
    fx.a.thumbs.tile_height = 90;
    fx.a.thumbs.columns = 3;
    fx.a.thumbs.rows = 2;
    fx.a.thumbs.nb_tiles = 10;
    fx.a.thumbs.nb_sprites = 2;
    fx.a.thumbs.bandwidth = 48000;
    return &fx.a;
}

/* The ladder with a second audio track: English ("audio", named
 * "English", the default) and French ("audio-2", "Français", 5.1 at a
 * higher rate), one audio group for every rung. */
static __attribute__((unused)) const cir_asset_t *
two_audio(void)
{
    ladder();
    fx.r[3].name = "English";
    fx.r[3].is_default = 1;
    fx.r[4] = audio("audio-2", "fr", 200000, 192000);
    fx.r[4].name = "Fran\xc3\xa7"
                   "ais";
    fx.r[4].channels = 6;
    fx.r[4].segments = fx.aseg;
    fx.r[4].nb_segments = 4;
    fx.a.nb_renditions = 5;
    return &fx.a;
}

/* The ladder with the English track also as 5.1 E-AC-3 (audio.surround):
 * "audio-ec3", the same NAME, 6 channels, 384 kbit/s. */
static __attribute__((unused)) const cir_asset_t *
surround(void)
{
    ladder();
    fx.r[3].name = "English";
    fx.r[4] = audio("audio-ec3", "en", 390000, 384000);
    fx.r[4].name = "English";
    fx.r[4].codecs = "ec-3";
    fx.r[4].channels = 6;
    fx.r[4].segments = fx.aseg;
    fx.r[4].nb_segments = 4;
    fx.a.nb_renditions = 5;
    return &fx.a;
}

/* The ladder whose every rung carries the source's CEA-608 captions (CC1,
 * English). */
static __attribute__((unused)) const cir_asset_t *
captioned(void)
{
    ladder();
    for (int i = 0; i < 3; i++) {
        fx.r[i].closed_captions = 1;
    }
    fx.a.cc_language = "en";
    return &fx.a;
}

/* A stereo AAC rendition alone, no language, no thumbnails. */
static __attribute__((unused)) const cir_asset_t *
audio_only(void)
{
    memset(&fx, 0, sizeof(fx));
    fx.r[0] = audio("aac", NULL, 130000, 128000);
    fill_segments(fx.aseg, 0, audio_durs, 4, 1);
    fx.r[0].segments = fx.aseg;
    fx.r[0].nb_segments = 4;
    fx.a.duration = 19.5;
    fx.a.segment_seconds = 6;
    fx.a.renditions = fx.r;
    fx.a.nb_renditions = 1;
    return &fx.a;
}

/* 720p at 29.97 fps (timescale 30000, 180 frames per segment), no audio,
 * numbered from 0, first tfdt 1001, asset duration left for the renderer
 * to take from the timeline. */
static __attribute__((unused)) const cir_asset_t *
video_only_2997(void)
{
    static const int64_t durs[] = {180180, 180180, 180180, 60060};

    memset(&fx, 0, sizeof(fx));
    fx.r[0] = video("720p", "avc1.64001f", 1280, 720, 30000.0 / 1001.0, 3200000,
                    2600000);
    fx.r[0].timescale = 30000;
    fx.r[0].start_number = 0;
    fill_segments(fx.vseg[0], 1001, durs, 4, 3);
    fx.r[0].segments = fx.vseg[0];
    fx.r[0].nb_segments = 4;
    fx.a.duration = 0;
    fx.a.segment_seconds = 6;
    fx.a.renditions = fx.r;
    fx.a.nb_renditions = 1;
    return &fx.a;
}

/* ---- helpers ---- */

static cir_buf_t out;

static __attribute__((unused)) void
setup(void)
{
    cir_buf_init(&out, CIR_MANIFEST_MAX_SIZE);
}

static __attribute__((unused)) void
teardown(void)
{
    cir_buf_free(&out);
}

static __attribute__((unused)) int
contains(const char *needle)
{
    return out.data != NULL && strstr(out.data, needle) != NULL;
}

#endif
