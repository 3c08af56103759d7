/*
 * The static (VOD) DASH MPD: CMAF segments addressed with SegmentTemplate
 * $Number$ and a SegmentTimeline per Representation (timescales differ per
 * rendition), one AdaptationSet for video, one per audio rendition, and the
 * DASH-IF thumbnail AdaptationSet (IOP 4.3 6.2.6).
 *
 * Tested by tests/unit/test_origin_dash.c.
 */
#include <math.h>
#include <string.h>

#include "cir_audio_tracks.h"
#include "cir_error.h"
#include "cir_manifest.h"
#include "manifest_util.h"

static int
put_timeline(cir_buf_t *out, const cir_rendition_t *r)
{
    cir_dash_timeline_t tl;
    size_t i;
    int ret;

    TRY(cir_dash_timeline_open(&tl, out));
    for (i = 0; i < r->nb_segments; i++) {
        TRY(cir_dash_timeline_add(&tl, out, r->segments[i].start,
                                  r->segments[i].duration));
    }
    TRY(cir_dash_timeline_close(&tl, out));
    return 0;

fail:
    return ret;
}

static int
put_representation(cir_buf_t *out, const cir_rendition_t *r)
{
    const cir_dash_rep_head_t head = {
        .id = r->id,
        .bandwidth = r->bandwidth,
        .video = r->type == CIR_MEDIA_VIDEO,
        .codecs = r->codecs,
        .width = r->width,
        .height = r->height,
        .frame_rate = r->frame_rate,
        .sample_rate = r->sample_rate,
        .channels = r->channels,
    };
    int ret;

    TRY(cir_dash_put_representation_head(out, &head));
    TRY(cir_buf_printf(out,
                       "        <SegmentTemplate timescale=\"%lu\" "
                       "initialization=\"$RepresentationID$/init.mp4\" "
                       "media=\"$RepresentationID$/seg-$Number$.m4s\" "
                       "startNumber=\"%lu\">\n",
                       (unsigned long)r->timescale,
                       (unsigned long)r->start_number));
    TRY(put_timeline(out, r));
    TRY(cir_buf_puts(out, "        </SegmentTemplate>\n"
                          "      </Representation>\n"));
    return 0;

fail:
    return ret;
}

/*
 * CEA-608 captions in the video's SEI, when every video rendition of the
 * set carries them: the SCTE 214-1 descriptor DASH-IF IOP (4.3, 6.4.3)
 * and dash.js read, value "CC1=<ISO 639-2 language>".
 */
static int
put_cc_accessibility(cir_buf_t *out, const cir_asset_t *a)
{
    char lang[4];
    size_t nb_video = 0;

    for (size_t i = 0; i < a->nb_renditions; i++) {
        nb_video += a->renditions[i].type == CIR_MEDIA_VIDEO;
    }
    if (nb_video == 0 || cir_manifest_captioned_videos(a) != nb_video) {
        return 0;
    }
    cir_language_to_iso639_2(cir_manifest_cc_language(a), lang);
    return cir_buf_printf(out,
                          "      <Accessibility "
                          "schemeIdUri=\"urn:scte:dash:cc:cea-608:2015\" "
                          "value=\"CC1=%s\"/>\n",
                          lang);
}

static int
put_video_set(cir_buf_t *out, const cir_asset_t *a, int id)
{
    const cir_rendition_t *fastest = NULL;
    int max_w = 0, max_h = 0, ret;
    size_t i;

    for (i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        if (r->type != CIR_MEDIA_VIDEO) {
            continue;
        }
        if (r->width > max_w) {
            max_w = r->width;
        }
        if (r->height > max_h) {
            max_h = r->height;
        }
        if (fastest == NULL || r->frame_rate > fastest->frame_rate) {
            fastest = r;
        }
    }
    TRY(cir_buf_printf(out,
                       "    <AdaptationSet id=\"%d\" contentType=\"video\" "
                       "mimeType=\"video/mp4\" segmentAlignment=\"true\" "
                       "startWithSAP=\"1\" maxWidth=\"%d\" maxHeight=\"%d\" "
                       "maxFrameRate=\"",
                       id, max_w, max_h));
    TRY(cir_manifest_put_frame_rate(out, fastest->frame_rate));
    TRY(cir_buf_puts(out, "\">\n"));
    /* the RepresentationBase descriptors come before Accessibility, Role */
    TRY(cir_dash_put_content_protection(out, a->protection));
    TRY(put_cc_accessibility(out, a));
    for (i = 0; i < a->nb_renditions; i++) {
        if (a->renditions[i].type == CIR_MEDIA_VIDEO) {
            TRY(put_representation(out, &a->renditions[i]));
        }
    }
    TRY(cir_buf_puts(out, "    </AdaptationSet>\n"));
    return 0;

fail:
    return ret;
}

static const char *
lang(const cir_rendition_t *r)
{
    return r->language ? r->language : "und";
}

/* The audio rendition marked default, else the first. */
static const cir_rendition_t *
main_audio(const cir_asset_t *a, size_t *nb_audio)
{
    const cir_rendition_t *primary = NULL;

    *nb_audio = 0;
    for (size_t i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        if (r->type != CIR_MEDIA_AUDIO) {
            continue;
        }
        (*nb_audio)++;
        if (primary == NULL || (r->is_default && !primary->is_default)) {
            primary = r;
        }
    }
    return primary;
}

/* One AdaptationSet per audio rendition: each source track is its own
 * choice for the viewer (a language, a commentary), not a bitrate of
 * another.  With several, a Role (ISO/IEC 23009-1 5.8.5.5) says which
 * one a player starts with; a single track's set has none, as before. */
static int
put_audio_sets(cir_buf_t *out, const cir_asset_t *a, int *id)
{
    size_t i, nb_audio;
    const cir_rendition_t *primary = main_audio(a, &nb_audio);
    int ret;

    for (i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        if (r->type != CIR_MEDIA_AUDIO) {
            continue;
        }
        TRY(cir_buf_printf(out,
                           "    <AdaptationSet id=\"%d\" contentType=\"audio\" "
                           "mimeType=\"audio/mp4\" segmentAlignment=\"true\" "
                           "lang=\"",
                           (*id)++));
        TRY(cir_manifest_put_xml_attr(out, lang(r)));
        TRY(cir_buf_puts(out, "\">\n"));
        TRY(cir_dash_put_content_protection(out, a->protection));
        if (nb_audio > 1) {
            TRY(cir_buf_printf(out,
                               "      <Role schemeIdUri=\"urn:mpeg:dash:role:"
                               "2011\" value=\"%s\"/>\n",
                               r == primary ? "main" : "alternate"));
        }
        TRY(put_representation(out, r));
        TRY(cir_buf_puts(out, "    </AdaptationSet>\n"));
    }
    return 0;

fail:
    return ret;
}

static int
put_thumbs_set(cir_buf_t *out, const cir_asset_t *a, int id)
{
    const cir_thumbs_t *t = &a->thumbs;
    int64_t sheet_ms, duration, timescale = 1;
    int ret;

    sheet_ms = cir_manifest_thumb_interval_ms(t) *
               (int64_t)cir_manifest_tiles_per_sheet(t);
    duration = sheet_ms / 1000;
    if (sheet_ms % 1000 != 0) {
        /* a sheet of a fractional number of seconds: keep it exact */
        duration = sheet_ms;
        timescale = 1000;
    }
    TRY(cir_buf_printf(
        out,
        "    <AdaptationSet id=\"%d\" contentType=\"image\" "
        "mimeType=\"image/jpeg\">\n"
        "      <Representation id=\"thumbs\" bandwidth=\"%llu\" "
        "width=\"%d\" height=\"%d\">\n"
        "        <EssentialProperty "
        "schemeIdUri=\"http://dashif.org/thumbnail_tile\" value=\"%dx%d\"/>\n"
        "        <SegmentTemplate media=\"thumbs/sprite-$Number$.jpg\" "
        "duration=\"%lld\" timescale=\"%lld\" startNumber=\"1\"/>\n"
        "      </Representation>\n"
        "    </AdaptationSet>\n",
        id, (unsigned long long)t->bandwidth, t->tile_width * t->columns,
        t->tile_height * t->rows, t->columns, t->rows, (long long)duration,
        (long long)timescale));
    return 0;

fail:
    return ret;
}

int
cir_dash_render_static(const cir_asset_t *a, cir_buf_t *out)
{
    size_t i, len0 = out->len;
    int ret, id = 0, has_video = 0;

    TRY(cir_manifest_check_asset(a));
    if (a->protection != NULL && a->protection->scheme == CIR_ENC_AES128) {
        return CIR_EINVAL; /* whole-segment encryption: HLS only */
    }
    TRY(cir_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\""));
    TRY(cir_dash_put_cenc_namespace(out, a->protection));
    TRY(cir_buf_puts(out, " profiles=\"urn:mpeg:dash:profile:isoff-live:2011,"
                          "urn:mpeg:dash:profile:cmaf:2019\" type=\"static\" "
                          "mediaPresentationDuration=\"PT"));
    TRY(cir_manifest_put_fixed(out, cir_manifest_duration_ms(a), 1000, 3));
    TRY(cir_buf_puts(out, "S\" minBufferTime=\"PT2S\">\n"));
    if (a->base && a->base[0]) {
        /* checked: [A-Za-z0-9_/-] only, nothing to escape */
        TRY(cir_buf_printf(out, "  <BaseURL>%s</BaseURL>\n", a->base));
    }
    TRY(cir_buf_puts(out, "  <Period id=\"0\" start=\"PT0S\">\n"));
    for (i = 0; i < a->nb_renditions; i++) {
        has_video |= a->renditions[i].type == CIR_MEDIA_VIDEO;
    }
    if (has_video) {
        TRY(put_video_set(out, a, id++));
    }
    TRY(put_audio_sets(out, a, &id));
    TRY(cir_dash_put_text_sets(out, a, &id));
    if (a->thumbs.present) {
        TRY(put_thumbs_set(out, a, id));
    }
    TRY(cir_buf_puts(out, "  </Period>\n</MPD>\n"));
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}
