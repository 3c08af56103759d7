/*
 * Subtitle renditions: segmented WebVTT for HLS (the media playlist, the
 * segments with their X-TIMESTAMP-MAP, the EXT-X-MEDIA TYPE=SUBTITLES of the
 * master) and a whole-file WebVTT text AdaptationSet for DASH, in the form
 * dash.js and Shaka display (DASH-IF IOP 6.4.5: text/vtt, one file per
 * Representation, a Role of the DASH role scheme).  Pure, like the other
 * renderers; hls.c and dash.c call the hooks declared in manifest_util.h.
 *
 * Tested by tests/unit/test_origin_text.c (with goldens).
 */
#include <string.h>

#include "cir_error.h"
#include "cir_manifest.h"
#include "cir_storage.h"
#include "manifest_util.h"

#define MAX_TEXT_ID   64
#define MAX_NAME      128
#define MAX_LANG      35
#define MAX_CUE_MS    (INT64_C(1000) * 86400 * 366) /* a year of media */
#define TEXT_GROUP_ID "subs"

static int
safe_language(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > MAX_LANG) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* Fits a quoted HLS attribute; XML-escaped in the MPD. */
static int
safe_name(const char *s)
{
    return cir_label_is_safe(s, MAX_NAME);
}

static int
check_cues(const cir_text_track_t *t)
{
    for (size_t i = 0; i < t->nb_cues; i++) {
        const cir_text_cue_t *c = &t->cues[i];
        if (c->text == NULL || c->start_ms < 0 || c->end_ms <= c->start_ms ||
            c->end_ms > MAX_CUE_MS ||
            (i > 0 && c->start_ms < t->cues[i - 1].start_ms)) {
            return CIR_EINVAL;
        }
    }
    return 0;
}

static int
check_text(const cir_text_track_t *t)
{
    if (t->id == NULL || !cir_name_is_safe(t->id, strlen(t->id), MAX_TEXT_ID) ||
        !safe_language(t->language) || !safe_name(t->name) ||
        (unsigned)t->kind > CIR_TEXT_FORCED || t->timescale == 0 ||
        t->nb_segments == 0 || t->segments == NULL ||
        (t->nb_cues > 0 && t->cues == NULL)) {
        return CIR_EINVAL;
    }
    for (size_t i = 0; i < t->nb_segments; i++) {
        if (t->segments[i].start < 0 || t->segments[i].duration <= 0) {
            return CIR_EINVAL;
        }
    }
    return check_cues(t);
}

int
cir_manifest_check_texts(const cir_asset_t *a)
{
    int ret, defaults = 0;

    if (a->nb_texts > 0 && a->texts == NULL) {
        return CIR_EINVAL;
    }
    for (size_t i = 0; i < a->nb_texts; i++) {
        if ((ret = check_text(&a->texts[i])) < 0) {
            return ret;
        }
        defaults += a->texts[i].is_default != 0;
        for (size_t j = 0; j < a->nb_renditions; j++) {
            if (strcmp(a->texts[i].id, a->renditions[j].id) == 0) {
                return CIR_EINVAL; /* one folder for two renditions */
            }
        }
        for (size_t j = 0; j < i; j++) {
            /* one folder each; NAMEs differ within a group (RFC 8216bis
             * 4.4.6.1) */
            if (strcmp(a->texts[i].id, a->texts[j].id) == 0 ||
                strcmp(a->texts[i].name, a->texts[j].name) == 0) {
                return CIR_EINVAL;
            }
        }
    }
    /* at most one DEFAULT=YES per group (RFC 8216bis 4.4.6.1) */
    return defaults > 1 ? CIR_EINVAL : 0;
}

/* ---- HLS ---------------------------------------------------------------- */

int
cir_hls_put_text_group(cir_buf_t *out, const cir_asset_t *a)
{
    return a->nb_texts > 0
               ? cir_buf_puts(out, ",SUBTITLES=\"" TEXT_GROUP_ID "\"")
               : 0;
}

int
cir_hls_put_text_media(cir_buf_t *out, const cir_asset_t *a)
{
    const char *base = a->base ? a->base : "";
    int ret;

    for (size_t i = 0; i < a->nb_texts; i++) {
        const cir_text_track_t *t = &a->texts[i];
        TRY(cir_buf_printf(
            out,
            "%s#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"" TEXT_GROUP_ID
            "\",LANGUAGE=\"%s\",NAME=\"%s\",DEFAULT=%s,"
            "AUTOSELECT=YES,FORCED=%s",
            i == 0 ? "\n" : "", t->language, t->name,
            t->is_default ? "YES" : "NO",
            t->kind == CIR_TEXT_FORCED ? "YES" : "NO"));
        if (t->kind == CIR_TEXT_CAPTIONS) {
            /* Apple's authoring spec: captions (SDH) are subtitles with
             * these characteristics */
            TRY(cir_buf_puts(out,
                             ",CHARACTERISTICS=\"public.accessibility."
                             "transcribes-spoken-dialog,public.accessibility."
                             "describes-music-and-sound\""));
        }
        TRY(cir_buf_printf(out, ",URI=\"%s%s/index.m3u8\"\n", base, t->id));
    }
    return 0;

fail:
    return ret;
}

int
cir_hls_render_text(const cir_asset_t *a, const cir_text_track_t *t,
                    cir_buf_t *out)
{
    size_t len0 = out->len;
    int64_t td = 1;
    int ret;

    TRY(cir_manifest_check_asset(a));
    if ((ret = check_text(t)) < 0) {
        goto fail;
    }
    td = cir_manifest_target_duration(a);
    for (size_t i = 0; i < t->nb_segments; i++) {
        int64_t d =
            cir_manifest_round_div(t->segments[i].duration, t->timescale);
        td = d > td ? d : td;
    }
    TRY(cir_buf_printf(out,
                       "#EXTM3U\n#EXT-X-VERSION:7\n"
                       "#EXT-X-TARGETDURATION:%lld\n"
                       "#EXT-X-MEDIA-SEQUENCE:%lu\n"
                       "#EXT-X-PLAYLIST-TYPE:VOD\n",
                       (long long)td, (unsigned long)t->start_number));
    for (size_t i = 0; i < t->nb_segments; i++) {
        TRY(cir_buf_puts(out, "#EXTINF:"));
        TRY(cir_manifest_put_fixed(out, t->segments[i].duration, t->timescale,
                                   6));
        TRY(cir_buf_printf(out, ",\nseg-%llu.vtt\n",
                           (unsigned long long)t->start_number + i));
    }
    TRY(cir_buf_puts(out, "#EXT-X-ENDLIST\n"));
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}

/* ---- DASH --------------------------------------------------------------- */

/* DASH-IF IOP 6.4.4 / ISO 23009-1 5.8.5.5 role values. */
static const char *
dash_role(cir_text_kind_t kind)
{
    switch (kind) {
    case CIR_TEXT_CAPTIONS:
        return "caption";
    case CIR_TEXT_FORCED:
        return "forced-subtitle";
    default:
        return "subtitle";
    }
}

int
cir_dash_put_text_sets(cir_buf_t *out, const cir_asset_t *a, int *id)
{
    int ret;

    for (size_t i = 0; i < a->nb_texts; i++) {
        const cir_text_track_t *t = &a->texts[i];
        TRY(cir_buf_printf(out,
                           "    <AdaptationSet id=\"%d\" contentType=\"text\" "
                           "mimeType=\"text/vtt\" lang=\"%s\">\n"
                           "      <Label>",
                           (*id)++, t->language));
        TRY(cir_manifest_put_xml_attr(out, t->name));
        TRY(cir_buf_printf(
            out,
            "</Label>\n"
            "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" "
            "value=\"%s\"/>\n",
            dash_role(t->kind)));
        if (t->is_default) {
            TRY(cir_buf_puts(out, "      <Role schemeIdUri=\"urn:mpeg:dash:"
                                  "role:2011\" value=\"main\"/>\n"));
        }
        TRY(cir_buf_printf(
            out,
            "      <Representation id=\"%s\" bandwidth=\"256\">\n"
            "        <BaseURL>%s/full.vtt</BaseURL>\n"
            "      </Representation>\n"
            "    </AdaptationSet>\n",
            t->id, t->id));
    }
    return 0;

fail:
    return ret;
}

/* ---- WebVTT ------------------------------------------------------------- */

static int
put_cue(cir_buf_t *out, const cir_text_cue_t *c)
{
    int ret;

    TRY(cir_manifest_put_vtt_time(out, c->start_ms));
    TRY(cir_buf_puts(out, " --> "));
    TRY(cir_manifest_put_vtt_time(out, c->end_ms));
    TRY(cir_buf_printf(out, "\n%s\n\n", c->text));
    return 0;

fail:
    return ret;
}

/* [start, end) of segments[k] in ms, rounded as the playlists are. */
static void
segment_ms(const cir_text_track_t *t, size_t k, int64_t *start, int64_t *end)
{
    const cir_segment_t *s = &t->segments[k];

    *start = cir_manifest_round_div(s->start * 1000, t->timescale);
    *end =
        cir_manifest_round_div((s->start + s->duration) * 1000, t->timescale);
}

int
cir_vtt_render_text_segment(const cir_text_track_t *t, size_t k, cir_buf_t *out)
{
    size_t len0 = out->len;
    int64_t start, end;
    int ret;

    if ((ret = check_text(t)) < 0 || k >= t->nb_segments) {
        ret = ret < 0 ? ret : CIR_EINVAL;
        goto fail;
    }
    segment_ms(t, k, &start, &end);
    if (k == 0) {
        start = INT64_MIN; /* cues before the media's first segment */
    }
    if (k + 1 == t->nb_segments) {
        end = INT64_MAX; /* and after its last */
    }
    /* MPEGTS 0 is the CMAF timeline's 0 (every tfdt counts from it) and
     * cue times are on that timeline: hls.js and Safari map a cue at LOCAL
     * + (t - MPEGTS / 90000) onto the media whose tfdt says t. */
    TRY(cir_buf_puts(out, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,"
                          "LOCAL:00:00:00.000\n\n"));
    for (size_t i = 0; i < t->nb_cues; i++) {
        const cir_text_cue_t *c = &t->cues[i];
        if (c->start_ms >= end) {
            break; /* sorted by start */
        }
        if (c->end_ms > start) {
            TRY(put_cue(out, c));
        }
    }
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}

int
cir_vtt_render_text_full(const cir_text_track_t *t, cir_buf_t *out)
{
    size_t len0 = out->len;
    int ret;

    if ((ret = check_text(t)) < 0) {
        goto fail;
    }
    TRY(cir_buf_puts(out, "WEBVTT\n\n"));
    for (size_t i = 0; i < t->nb_cues; i++) {
        TRY(put_cue(out, &t->cues[i]));
    }
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}
