/*
 * HLS renderers: the multivariant playlist, VOD media playlists, I-frame
 * playlists and the image (thumbnail) playlist, after RFC 8216bis and the
 * Apple HLS authoring spec.  Pure functions over the cir_asset_t model.
 *
 * Tested by tests/unit/test_origin_hls.c.
 */
#include <math.h>
#include <string.h>

#include "cir_audio_tracks.h"
#include "cir_error.h"
#include "cir_manifest.h"
#include "manifest_util.h"

/* AAC-LC, what the transcoder produces, when the model leaves it out. */
static const char *
audio_codecs(const cir_rendition_t *r)
{
    return r->codecs ? r->codecs : CIR_MANIFEST_DEFAULT_AUDIO_CODECS;
}

static int
put_header(cir_buf_t *out)
{
    return cir_buf_puts(out, "#EXTM3U\n#EXT-X-VERSION:7\n");
}

/* The prefix of every URI the master lists (checked by
 * cir_manifest_check_asset). */
static const char *
base_of(const cir_asset_t *a)
{
    return a->base ? a->base : "";
}

/*
 * Audio groups: one per audio codec family (the codecs string up to its
 * first '.': "mp4a", "ec-3", "ac-3"), in model order.  A client that
 * cannot decode a group's codec skips the variants that name it, so stereo
 * AAC and 5.1 E-AC-3 of the same tracks are two groups and every video
 * variant is listed once per group (Apple's HLS authoring spec; its
 * bipbop_adv example).  The first group keeps the id "audio"; the others
 * are "audio-<family>".  An asset with AAC only has the one group, as
 * before.
 */
#define MAX_AUDIO_GROUPS 4

typedef struct {
    char id[24];
    const cir_rendition_t *first; /* its first rendition, in model order */
    uint64_t peak, avg;           /* the highest of its renditions */
} audio_group_t;

static size_t
family_len(const char *codecs)
{
    return strcspn(codecs, ".");
}

static int
same_family(const cir_rendition_t *a, const cir_rendition_t *b)
{
    const char *x = audio_codecs(a), *y = audio_codecs(b);
    size_t n = family_len(x);

    return n == family_len(y) && strncmp(x, y, n) == 0;
}

static int
in_group(const audio_group_t *g, const cir_rendition_t *r)
{
    return r->type == CIR_MEDIA_AUDIO && same_family(g->first, r);
}

/* The groups of a's audio renditions into g; returns how many (0 without
 * audio; renditions past MAX_AUDIO_GROUPS families join none). */
static size_t
audio_groups(const cir_asset_t *a, audio_group_t *g)
{
    size_t n = 0;

    for (size_t i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        size_t k = 0;
        if (r->type != CIR_MEDIA_AUDIO) {
            continue;
        }
        while (k < n && !in_group(&g[k], r)) {
            k++;
        }
        if (k == n) {
            if (n == MAX_AUDIO_GROUPS) {
                continue;
            }
            memset(&g[n], 0, sizeof(g[n]));
            g[n].first = r;
            if (n == 0) {
                snprintf(g[n].id, sizeof(g[n].id), "audio");
            } else {
                /* the family is checked safe (cir_manifest_check_rendition
                 * refuses '"' and control bytes in codecs) */
                snprintf(g[n].id, sizeof(g[n].id), "audio-%.*s",
                         (int)family_len(audio_codecs(r)), audio_codecs(r));
            }
            n++;
        }
        if (r->bandwidth > g[k].peak) {
            g[k].peak = r->bandwidth;
        }
        if (r->average_bandwidth > g[k].avg) {
            g[k].avg = r->average_bandwidth;
        }
    }
    return n;
}

/* ",<codecs>" for each distinct codec string of group g, in model order. */
static int
put_audio_codecs(cir_buf_t *out, const cir_asset_t *a, const audio_group_t *g)
{
    size_t i, j;
    int ret;

    for (i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        int dup = 0;
        if (!in_group(g, r)) {
            continue;
        }
        for (j = 0; j < i && !dup; j++) {
            dup = in_group(g, &a->renditions[j]) &&
                  strcmp(audio_codecs(&a->renditions[j]), audio_codecs(r)) == 0;
        }
        if (!dup && (ret = cir_buf_printf(out, ",%s", audio_codecs(r))) < 0) {
            return ret;
        }
    }
    return 0;
}

static int
put_audio_only(cir_buf_t *out, const cir_asset_t *a)
{
    size_t i;
    int ret;

    for (i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        ret = cir_buf_printf(out, "#EXT-X-STREAM-INF:BANDWIDTH=%llu",
                             (unsigned long long)r->bandwidth);
        if (ret == 0 && r->average_bandwidth > 0) {
            ret = cir_buf_printf(out, ",AVERAGE-BANDWIDTH=%llu",
                                 (unsigned long long)r->average_bandwidth);
        }
        if (ret == 0) {
            ret = cir_buf_printf(out, ",CODECS=\"%s\"", audio_codecs(r));
        }
        if (ret == 0) {
            ret = cir_hls_put_text_group(out, a);
        }
        if (ret == 0) {
            ret = cir_buf_printf(out, "\n%s%s/index.m3u8\n", base_of(a), r->id);
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* The audio rendition of group g a player picks first: the one the model
 * marks, else the group's first. */
static const cir_rendition_t *
default_audio(const cir_asset_t *a, const audio_group_t *g)
{
    for (size_t i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        if (in_group(g, r) && r->is_default) {
            return r;
        }
    }
    return g->first;
}

/* One EXT-X-MEDIA per audio rendition, in its codec's group. */
static int
put_audio_media(cir_buf_t *out, const cir_asset_t *a, const audio_group_t *g,
                size_t nb_groups)
{
    int ret;

    TRY(cir_buf_puts(out, "\n"));
    for (size_t k = 0; k < nb_groups; k++) {
        const cir_rendition_t *dflt = default_audio(a, &g[k]);
        for (size_t i = 0; i < a->nb_renditions; i++) {
            const cir_rendition_t *r = &a->renditions[i];
            if (!in_group(&g[k], r)) {
                continue;
            }
            /* At most one DEFAULT=YES per group (RFC 8216bis 4.4.6.1);
             * the name is checked free of '"'
             * (cir_manifest_check_rendition). */
            TRY(cir_buf_printf(
                out,
                "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"%s\",NAME=\"%s\","
                "LANGUAGE=\"%s\",DEFAULT=%s,AUTOSELECT=YES,CHANNELS=\"%d\","
                "URI=\"%s%s/index.m3u8\"\n",
                g[k].id, r->name ? r->name : r->id,
                r->language ? r->language : "und", r == dflt ? "YES" : "NO",
                r->channels, base_of(a), r->id));
        }
    }
    return 0;

fail:
    return ret;
}

/*
 * The closed captions the video carries in its SEI (CEA-608 CC1), when a
 * rendition does: one EXT-X-MEDIA in the group "cc" that the variants
 * carrying them name (RFC 8216bis 4.4.6.1, 4.4.6.2).  The NAME is the
 * language's English name ("English"), "Captions" when unknown.  A variant
 * without them names no group: CLOSED-CAPTIONS=NONE must be on every
 * variant or none, so a ladder without captions has no attribute at all.
 */
static int
put_cc_media(cir_buf_t *out, const cir_asset_t *a)
{
    const char *lang = cir_manifest_cc_language(a);
    const char *name = cir_language_name(lang);

    if (cir_manifest_captioned_videos(a) == 0) {
        return 0;
    }
    return cir_buf_printf(out,
                          "\n#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\","
                          "NAME=\"%s\",LANGUAGE=\"%s\",INSTREAM-ID=\"CC1\","
                          "DEFAULT=YES,AUTOSELECT=YES\n",
                          name ? name : "Captions", lang);
}

/* One EXT-X-STREAM-INF per video rendition and audio group (g NULL: no
 * audio), its bandwidth with the group's added. */
static int
put_video_variants(cir_buf_t *out, const cir_asset_t *a, const audio_group_t *g)
{
    size_t i;
    int ret;

    for (i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        if (r->type != CIR_MEDIA_VIDEO) {
            continue;
        }
        TRY(cir_buf_printf(
            out, "#EXT-X-STREAM-INF:BANDWIDTH=%llu",
            (unsigned long long)(r->bandwidth + (g ? g->peak : 0))));
        if (r->average_bandwidth > 0) {
            TRY(cir_buf_printf(
                out, ",AVERAGE-BANDWIDTH=%llu",
                (unsigned long long)(r->average_bandwidth + (g ? g->avg : 0))));
        }
        TRY(cir_buf_printf(out, ",CODECS=\"%s", r->codecs));
        if (g != NULL) {
            TRY(put_audio_codecs(out, a, g));
        }
        TRY(cir_buf_printf(out, "\",RESOLUTION=%dx%d,FRAME-RATE=", r->width,
                           r->height));
        TRY(cir_manifest_put_fixed(out, llround(r->frame_rate * 1000.0), 1000,
                                   3));
        if (g != NULL) {
            TRY(cir_buf_printf(out, ",AUDIO=\"%s\"", g->id));
        }
        TRY(cir_hls_put_text_group(out, a));
        if (r->closed_captions) {
            TRY(cir_buf_puts(out, ",CLOSED-CAPTIONS=\"cc\""));
        }
        TRY(cir_buf_printf(out, "\n%s%s/index.m3u8\n", base_of(a), r->id));
    }
    return 0;

fail:
    return ret;
}

/* The video variants once per audio group, the AAC group's first. */
static int
put_all_variants(cir_buf_t *out, const cir_asset_t *a, const audio_group_t *g,
                 size_t nb_groups)
{
    int ret;

    TRY(cir_buf_puts(out, "\n"));
    if (nb_groups == 0) {
        return put_video_variants(out, a, NULL);
    }
    for (size_t k = 0; k < nb_groups; k++) {
        TRY(put_video_variants(out, a, &g[k]));
    }
    return 0;

fail:
    return ret;
}

/* One EXT-X-I-FRAME-STREAM-INF per video rendition that has I-frames. */
static int
put_iframe_variants(cir_buf_t *out, const cir_asset_t *a)
{
    size_t i, nb_iframe = 0;
    int ret;

    for (i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        if (r->type != CIR_MEDIA_VIDEO || r->nb_iframes == 0) {
            continue;
        }
        TRY(cir_buf_printf(out,
                           "%s#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%llu,"
                           "CODECS=\"%s\",RESOLUTION=%dx%d,"
                           "URI=\"%s%s/iframes.m3u8\"\n",
                           nb_iframe++ == 0 ? "\n" : "",
                           (unsigned long long)r->iframe_bandwidth, r->codecs,
                           r->width, r->height, base_of(a), r->id));
    }
    return 0;

fail:
    return ret;
}

/* The thumbnails' EXT-X-IMAGE-STREAM-INF, when the asset has them. */
static int
put_image_stream(cir_buf_t *out, const cir_asset_t *a)
{
    const cir_thumbs_t *t = &a->thumbs;

    if (!t->present) {
        return 0;
    }
    /* RESOLUTION is one tile's (one image's) size, as in EXT-X-TILES,
     * not the sheet's: the Image Media Playlist spec (v0.4,
     * github.com/image-media-playlist/spec) that Roku and AWS Elemental
     * implement, Roku's samples (rokudev/trickplay-samples,
     * standard-HLS-DASH: "5x2_640x360" read back as width 640, htiles
     * 5) and Shaka Player (hls_parser.js createStreamInfoFromImageTag_:
     * "the resolution of a single thumbnail", multiplied by LAYOUT). */
    return cir_buf_printf(out,
                          "\n#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=%llu,"
                          "RESOLUTION=%dx%d,CODECS=\"jpeg\","
                          "URI=\"%sthumbs/images.m3u8\"\n",
                          (unsigned long long)t->bandwidth, t->tile_width,
                          t->tile_height, base_of(a));
}

int
cir_hls_render_master(const cir_asset_t *a, cir_buf_t *out)
{
    audio_group_t groups[MAX_AUDIO_GROUPS];
    size_t nb_audio = 0, nb_groups, len0 = out->len;
    int ret;

    TRY(cir_manifest_check_asset(a));
    TRY(put_header(out));
    /* Every segment starts with an IDR (audio: every frame is a sync
     * sample), so say so once here (APL 9.11). */
    TRY(cir_buf_puts(out, "#EXT-X-INDEPENDENT-SEGMENTS\n"));
    /* the key a player may set up before it loads a media playlist */
    TRY(cir_hls_put_key(out, a->protection, "SESSION-KEY"));

    TRY(cir_hls_put_text_media(out, a));
    for (size_t i = 0; i < a->nb_renditions; i++) {
        nb_audio += a->renditions[i].type == CIR_MEDIA_AUDIO;
    }
    nb_groups = audio_groups(a, groups);
    if (nb_audio == a->nb_renditions) { /* no video */
        TRY(cir_buf_puts(out, "\n"));
        TRY(put_audio_only(out, a));
    } else {
        if (nb_groups > 0) {
            TRY(put_audio_media(out, a, groups, nb_groups));
        }
        TRY(put_cc_media(out, a));
        TRY(put_all_variants(out, a, groups, nb_groups));
        TRY(put_iframe_variants(out, a));
    }
    TRY(put_image_stream(out, a));
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}

/* The largest rounded duration in r, at least the asset's TD. */
static int64_t
target_duration(const cir_asset_t *a, const cir_rendition_t *r)
{
    int64_t td = cir_manifest_target_duration(a), d;
    size_t i;

    for (i = 0; i < r->nb_segments; i++) {
        d = cir_manifest_round_div(r->segments[i].duration, r->timescale);
        if (d > td) {
            td = d;
        }
    }
    for (i = 0; i < r->nb_iframes && r->type == CIR_MEDIA_VIDEO; i++) {
        d = cir_manifest_round_div(r->iframes[i].duration, r->timescale);
        if (d > td) {
            td = d;
        }
    }
    return td;
}

static int
put_media_header(cir_buf_t *out, const cir_asset_t *a, const cir_rendition_t *r,
                 int iframes)
{
    int ret, whole;

    if ((ret = put_header(out)) < 0) {
        return ret;
    }
    ret = cir_buf_printf(
        out,
        "#EXT-X-TARGETDURATION:%lld\n"
        "#EXT-X-MEDIA-SEQUENCE:%lu\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "%s%s",
        (long long)target_duration(a, r), (unsigned long)r->start_number,
        iframes ? "#EXT-X-I-FRAMES-ONLY\n" : "",
        r->type == CIR_MEDIA_VIDEO && !iframes ? "#EXT-X-INDEPENDENT-SEGMENTS\n"
                                               : "");
    /* Sample encryption: the key before the map, it applies to every
     * segment after it.  AES-128 encrypts segment files whole but not
     * init.mp4: a key before the map would apply to it too (RFC 8216bis
     * 4.4.4.5), so it comes after. */
    whole = a->protection && a->protection->scheme == CIR_ENC_AES128;
    if (ret == 0 && !whole) {
        ret = cir_hls_put_key(out, a->protection, "KEY");
    }
    if (ret == 0) {
        ret = cir_buf_puts(out, "#EXT-X-MAP:URI=\"init.mp4\"\n");
    }
    if (ret == 0 && whole) {
        ret = cir_hls_put_key(out, a->protection, "KEY");
    }
    return ret;
}

static int
put_extinf(cir_buf_t *out, int64_t duration, uint32_t timescale)
{
    int ret;

    if ((ret = cir_buf_puts(out, "#EXTINF:")) < 0 ||
        (ret = cir_manifest_put_fixed(out, duration, timescale, 6)) < 0) {
        return ret;
    }
    return cir_buf_puts(out, ",\n");
}

/* The first segment's start in ms on the asset's timeline (its tfdt). */
static int64_t
first_start_ms(const cir_rendition_t *r)
{
    return r->nb_segments > 0 ? (int64_t)cir_manifest_round_div(
                                    r->segments[0].start * 1000, r->timescale)
                              : 0;
}

/*
 * Where renditions start at different times (a video that starts 0.5 s
 * after its audio: the offset is in each track's tfdt), every media
 * playlist dates its first segment with EXT-X-PROGRAM-DATE-TIME on one
 * clock whose 0 is the asset's 0 (the Unix epoch).  A playlist's own
 * timeline starts with its first segment, so without a shared date a
 * player that lines up renditions by playlist position (Shaka Player)
 * starts both at 0 and plays them out of sync; with it, they are synced
 * by date (RFC 8216bis 4.4.4.6).  Assets whose renditions all start at 0
 * carry no date.
 */
static int
put_start_date(cir_buf_t *out, const cir_asset_t *a, const cir_rendition_t *r)
{
    int64_t ms = first_start_ms(r);
    int differ = 0;

    for (size_t i = 0; i < a->nb_renditions && !differ; i++) {
        differ = first_start_ms(&a->renditions[i]) != ms;
    }
    if (!differ || ms >= 86400000) {
        return 0; /* no offset, or none a date on 1 January can carry */
    }
    return cir_buf_printf(out,
                          "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T%02lld:%02lld:"
                          "%02lld.%03lldZ\n",
                          (long long)(ms / 3600000),
                          (long long)(ms / 60000 % 60),
                          (long long)(ms / 1000 % 60), (long long)(ms % 1000));
}

int
cir_hls_render_media(const cir_asset_t *a, const cir_rendition_t *r,
                     cir_buf_t *out)
{
    size_t i, len0 = out->len;
    int ret;

    TRY(cir_manifest_check_asset(a));
    TRY(cir_manifest_check_rendition(r));
    TRY(put_media_header(out, a, r, 0));
    TRY(put_start_date(out, a, r));
    for (i = 0; i < r->nb_segments; i++) {
        TRY(put_extinf(out, r->segments[i].duration, r->timescale));
        TRY(cir_buf_printf(out, "seg-%llu.m4s\n",
                           (unsigned long long)r->start_number + i));
    }
    TRY(cir_buf_puts(out, "#EXT-X-ENDLIST\n"));
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}

int
cir_hls_render_iframes(const cir_asset_t *a, const cir_rendition_t *r,
                       cir_buf_t *out)
{
    size_t i, len0 = out->len;
    int ret;

    TRY(cir_manifest_check_asset(a));
    TRY(cir_manifest_check_rendition(r));
    if (r->type != CIR_MEDIA_VIDEO || r->nb_iframes == 0) {
        ret = CIR_EINVAL;
        goto fail;
    }
    TRY(put_media_header(out, a, r, 1));
    TRY(put_start_date(out, a, r));
    for (i = 0; i < r->nb_iframes; i++) {
        const cir_iframe_t *f = &r->iframes[i];
        TRY(put_extinf(out, f->duration, r->timescale));
        TRY(cir_buf_printf(out, "#EXT-X-BYTERANGE:%llu@%llu\nseg-%llu.m4s\n",
                           (unsigned long long)f->size,
                           (unsigned long long)f->offset,
                           (unsigned long long)r->start_number + f->segment));
    }
    TRY(cir_buf_puts(out, "#EXT-X-ENDLIST\n"));
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}

int
cir_hls_render_images(const cir_asset_t *a, cir_buf_t *out)
{
    const cir_thumbs_t *t = &a->thumbs;
    int64_t ms, end, start, sheet_end, td = 1, d;
    size_t n, per, len0 = out->len;
    int ret;

    TRY(cir_manifest_check_asset(a));
    if (!t->present) {
        ret = CIR_EINVAL;
        goto fail;
    }
    ms = cir_manifest_thumb_interval_ms(t);
    per = cir_manifest_tiles_per_sheet(t);
    end = cir_manifest_thumbs_end_ms(a);

    /* TD: the longest sheet, rounded (RFC 8216bis 4.4.3.1). */
    for (n = 0; n < t->nb_sprites; n++) {
        start = (int64_t)(n * per) * ms;
        sheet_end = n + 1 < t->nb_sprites
                        ? start + (int64_t)cir_manifest_sheet_tiles(t, n) * ms
                        : end;
        d = cir_manifest_round_div(sheet_end - start, 1000);
        if (d > td) {
            td = d;
        }
    }

    TRY(put_header(out));
    TRY(cir_buf_printf(out,
                       "#EXT-X-TARGETDURATION:%lld\n"
                       "#EXT-X-MEDIA-SEQUENCE:1\n"
                       "#EXT-X-PLAYLIST-TYPE:VOD\n"
                       "#EXT-X-IMAGES-ONLY\n",
                       (long long)td));
    for (n = 0; n < t->nb_sprites; n++) {
        start = (int64_t)(n * per) * ms;
        /* The last sheet holds only the remaining tiles and ends with the
         * asset, as the WebVTT track does. */
        sheet_end = n + 1 < t->nb_sprites
                        ? start + (int64_t)cir_manifest_sheet_tiles(t, n) * ms
                        : end;
        TRY(cir_buf_puts(out, "#EXTINF:"));
        TRY(cir_manifest_put_fixed(out, sheet_end - start, 1000, 3));
        TRY(cir_buf_printf(out,
                           ",\n#EXT-X-TILES:RESOLUTION=%dx%d,LAYOUT=%dx%d,"
                           "DURATION=",
                           t->tile_width, t->tile_height, t->columns, t->rows));
        TRY(cir_manifest_put_fixed(out, ms, 1000, 3));
        TRY(cir_buf_printf(out, "\nsprite-%zu.jpg\n", n + 1));
    }
    TRY(cir_buf_puts(out, "#EXT-X-ENDLIST\n"));
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}
