/*
 * Live LL-HLS rendering from live indexes (RFC 8216bis, Apple LL-HLS):
 * the media playlist with parts, preload hint, blocking-reload server
 * control, delta updates and rendition reports, and the live multivariant
 * playlist (EXT-X-SESSION-KEY of an encrypted stream's current key).
 * Pure functions over cir_live_index_t.  Tested by
 * tests/unit/test_origin_hls_live.c (goldens tests/golden/origin/live_*.m3u8)
 * and tests/integration/live.test.mjs, live_encryption.test.mjs.
 */
#include <math.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"
#include "live_util.h"
#include "manifest_util.h"

/* A quoted-string attribute value: no '"', CR or LF (RFC 8216bis 4.2). */
static int
quoted_ok(const char *s)
{
    return s != NULL && strpbrk(s, "\"\r\n") == NULL;
}

/*
 * The EXT-X-KEY lines of the key that applies to init-<init_id>.mp4's
 * media, after its EXT-X-MAP (the key applies to the segments after it; a
 * sample-encrypted init holds no encrypted bytes), when the key differs
 * from the one before (the first map always says its key); METHOD=NONE
 * for clear media after encrypted media (a resumed index).
 */
static int
put_init_key(cir_buf_t *out, const cir_live_index_t *idx, uint32_t init_id,
             int first, uint32_t prev_init)
{
    const cir_live_key_t *k = cir_live_index_key(idx, init_id);
    cir_protection_t p;

    if (k == NULL) {
        return first || cir_live_index_key(idx, prev_init) == NULL
                   ? 0
                   : cir_buf_puts(out, "#EXT-X-KEY:METHOD=NONE\n");
    }
    if (!first && cir_live_index_key(idx, prev_init) == k) {
        return 0;
    }
    cir_live_key_protection(k, &p);
    return cir_hls_put_key(out, &p, "KEY");
}

static int
put_segment_tags(cir_buf_t *out, const cir_live_index_t *idx, size_t i,
                 int first, uint32_t prev_init)
{
    const cir_live_segment_t *s = &idx->segments[i];
    char pdt[40];
    uint32_t j;
    int ret;

    if (s->discontinuity) {
        TRY(cir_buf_puts(out, "#EXT-X-DISCONTINUITY\n"));
    }
    if (s->init_id > 0 && (first || s->init_id != prev_init)) {
        TRY(cir_buf_printf(out, "#EXT-X-MAP:URI=\"init-%u.mp4\"\n",
                           (unsigned)s->init_id));
        TRY(put_init_key(out, idx, s->init_id, first, prev_init));
    }
    /* PDT on every segment: valid, and what the LL profile asks (B.1) */
    TRY(cir_clock_format_iso8601(s->pdt_us, pdt, sizeof(pdt)));
    TRY(cir_buf_printf(out, "#EXT-X-PROGRAM-DATE-TIME:%s\n", pdt));
    /* parts only near the end (RFC 8216bis 4.4.4.9); the writer unlists
     * them on its next write, this holds between writes too */
    if (cir_live_parts_listed(idx, i)) {
        for (j = 0; j < s->nb_parts; j++) {
            const cir_live_part_t *p = &idx->parts[s->first_part + j];
            TRY(cir_buf_puts(out, "#EXT-X-PART:DURATION="));
            TRY(cir_manifest_put_fixed(out, p->duration, idx->timescale, 5));
            TRY(cir_buf_printf(out, ",URI=\"part-%llu.%u.m4s\"%s%s\n",
                               (unsigned long long)s->msn, (unsigned)j,
                               p->independent ? ",INDEPENDENT=YES" : "",
                               p->gap ? ",GAP=YES" : ""));
        }
    }
    if (s->complete) {
        if (s->gap) {
            TRY(cir_buf_puts(out, "#EXT-X-GAP\n"));
        }
        TRY(cir_buf_puts(out, "#EXTINF:"));
        TRY(cir_manifest_put_fixed(out, s->duration, idx->timescale, 5));
        TRY(cir_buf_printf(out, ",\nseg-%llu.m4s\n",
                           (unsigned long long)s->msn));
    }
    return 0;

fail:
    return ret;
}

/* times x PART-TARGET: the stream's (whole ms, exact), or for an index
 * without one the rendition's part target rounded up to ms, times */
static int
put_part_target(cir_buf_t *out, const cir_live_index_t *idx, int times)
{
    int64_t ms;

    if (idx->part_target_us > 0) {
        return cir_manifest_put_fixed(out, times * idx->part_target_us, 1000000,
                                      3);
    }
    ms = (idx->part_target * 1000 + idx->timescale - 1) / idx->timescale;
    return cir_manifest_put_fixed(out, times * ms, 1000, 3);
}

/* Complete segments wholly older than the Skip Boundary (CAN-SKIP-UNTIL
 * seconds before the end of the playlist, RFC 8216bis 4.4.3.8). */
static size_t
skip_count(const cir_live_index_t *idx, int64_t skip_until)
{
    int64_t total = 0, end = 0;
    size_t i, n = 0;

    for (i = 0; i < idx->nb_segments; i++) {
        total += idx->segments[i].duration;
    }
    for (i = 0; i < idx->nb_segments; i++) {
        end += idx->segments[i].duration;
        if (!idx->segments[i].complete || total - end < skip_until) {
            break;
        }
        n++;
    }
    return n;
}

/* An EXT-X-GAP in the playlist needs EXT-X-VERSION 8 (what strict parsers
 * hold an ended playlist with an outage to). */
static int
lists_gap(const cir_live_index_t *idx)
{
    size_t i;

    for (i = 0; i < idx->nb_segments; i++) {
        if (idx->segments[i].complete && idx->segments[i].gap) {
            return 1;
        }
    }
    return 0;
}

int
cir_hls_render_live_media(const cir_live_index_t *idx,
                          const cir_hls_directives_t *d,
                          const cir_rendition_report_t *reports,
                          size_t nb_reports, cir_buf_t *out)
{
    const cir_live_segment_t *open;
    size_t i, nskip = 0, len0;
    int64_t td, ts;
    uint32_t prev_init = 0;
    int ret, can_skip, v2 = 0, has_parts, first = 1;

    if (idx == NULL || out == NULL || (nb_reports > 0 && reports == NULL)) {
        return CIR_EINVAL;
    }
    len0 = out->len;
    if (cir_live_index_check(idx) < 0) {
        return CIR_EINVAL;
    }
    for (i = 0; i < nb_reports; i++) {
        if (!quoted_ok(reports[i].uri)) {
            return CIR_EINVAL;
        }
    }
    ts = idx->timescale;
    td = cir_live_target_duration(idx);
    has_parts = idx->part_target > 0;
    /* directives are ignored once the playlist has ENDLIST (Q3) */
    can_skip = !idx->ended;
    if (can_skip && d != NULL && d->skip != CIR_SKIP_NO) {
        nskip = skip_count(idx, 6 * td * ts);
        v2 = d->skip == CIR_SKIP_V2;
    }

    TRY(cir_buf_printf(out, "#EXTM3U\n#EXT-X-VERSION:%d\n",
                       v2               ? 10
                       : can_skip       ? 9
                       : lists_gap(idx) ? 8
                                        : 6));
    TRY(cir_buf_printf(out, "#EXT-X-TARGETDURATION:%lld\n", (long long)td));
    TRY(cir_buf_puts(out, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"));
    if (can_skip) {
        TRY(cir_buf_printf(out, ",CAN-SKIP-UNTIL=%lld", (long long)(6 * td)));
    }
    if (has_parts) {
        /* Apple asks 3 x PART-TARGET (RFC: at least 2x), as printed */
        TRY(cir_buf_puts(out, ",PART-HOLD-BACK="));
        TRY(put_part_target(out, idx, 3));
    }
    TRY(cir_buf_printf(out, ",HOLD-BACK=%lld\n", (long long)(3 * td)));
    if (has_parts) {
        TRY(cir_buf_puts(out, "#EXT-X-PART-INF:PART-TARGET="));
        TRY(put_part_target(out, idx, 1));
        TRY(cir_buf_puts(out, "\n"));
    }
    TRY(cir_buf_printf(
        out, "#EXT-X-MEDIA-SEQUENCE:%llu\n#EXT-X-DISCONTINUITY-SEQUENCE:%u\n",
        (unsigned long long)(idx->nb_segments ? idx->segments[0].msn : 0),
        (unsigned)idx->discontinuity_sequence));
    if (nskip > 0) {
        TRY(cir_buf_printf(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%zu%s\n", nskip,
                           v2 ? ",RECENTLY-REMOVED-DATERANGES=\"\"" : ""));
    }

    for (i = nskip; i < idx->nb_segments; i++) {
        const cir_live_segment_t *s = &idx->segments[i];
        if (!s->complete && (!has_parts || s->nb_parts == 0)) {
            break; /* an open segment shows only through its parts */
        }
        TRY(put_segment_tags(out, idx, i, first, prev_init));
        prev_init = s->init_id;
        first = 0;
    }

    open = cir_live_open_segment(idx);
    if (has_parts && !idx->ended && !idx->paused && idx->nb_segments > 0) {
        const cir_live_segment_t *last = &idx->segments[idx->nb_segments - 1];
        TRY(cir_buf_printf(
            out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-%llu.%u.m4s\"\n",
            (unsigned long long)(open ? open->msn : last->msn + 1),
            (unsigned)(open ? open->nb_parts : 0)));
    }
    for (i = 0; i < nb_reports; i++) {
        TRY(cir_buf_printf(
            out, "#EXT-X-RENDITION-REPORT:URI=\"%s\",LAST-MSN=%llu",
            reports[i].uri, (unsigned long long)reports[i].last_msn));
        if (reports[i].last_part >= 0) {
            TRY(cir_buf_printf(out, ",LAST-PART=%d", reports[i].last_part));
        }
        TRY(cir_buf_puts(out, "\n"));
    }
    if (idx->ended) {
        TRY(cir_buf_puts(out, "#EXT-X-ENDLIST\n"));
    }
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}

static const char *
audio_codecs(const cir_live_track_t *t)
{
    return t->codecs[0] ? t->codecs : CIR_MANIFEST_DEFAULT_AUDIO_CODECS;
}

/* Checks every track; counts the audio tracks and gives their highest peak
 * and average bandwidth (added to each video variant's).  0 or CIR_EINVAL. */
static int
live_audio_bandwidth(const cir_live_index_t *const *tracks, size_t nb,
                     size_t *nb_audio, uint64_t *peak, uint64_t *avg)
{
    size_t i;

    *nb_audio = 0;
    *peak = *avg = 0;
    for (i = 0; i < nb; i++) {
        const cir_live_track_t *t;
        if (tracks[i] == NULL || cir_live_index_check(tracks[i]) < 0) {
            return CIR_EINVAL;
        }
        t = &tracks[i]->track;
        if (!cir_live_id_ok(t->rendition) || !quoted_ok(t->codecs)) {
            return CIR_EINVAL;
        }
        if (t->kind == CIR_LIVE_VIDEO) {
            continue;
        }
        (*nb_audio)++;
        *peak = t->bandwidth > *peak ? t->bandwidth : *peak;
        *avg = t->average_bandwidth > *avg ? t->average_bandwidth : *avg;
    }
    return 0;
}

/* One EXT-X-MEDIA per audio track, in the group "audio". */
static int
put_live_audio_media(cir_buf_t *out, const cir_live_index_t *const *tracks,
                     size_t nb)
{
    size_t i;
    int ret, first = 1;

    TRY(cir_buf_puts(out, "\n"));
    for (i = 0; i < nb; i++) {
        const cir_live_track_t *t = &tracks[i]->track;
        if (t->kind != CIR_LIVE_AUDIO) {
            continue;
        }
        TRY(cir_buf_printf(
            out,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"%s\","
            "LANGUAGE=\"und\",DEFAULT=%s,AUTOSELECT=YES,CHANNELS=\"%d\","
            "URI=\"%s/index.m3u8\"\n",
            t->rendition, first ? "YES" : "NO",
            t->channels > 0 ? t->channels : 2, t->rendition));
        first = 0;
    }
    return 0;

fail:
    return ret;
}

/* ",<codecs>" for each distinct audio codec string, in track order. */
static int
put_live_audio_codecs(cir_buf_t *out, const cir_live_index_t *const *tracks,
                      size_t nb)
{
    for (size_t j = 0; j < nb; j++) {
        const cir_live_track_t *a = &tracks[j]->track;
        int dup = 0, ret;
        if (a->kind != CIR_LIVE_AUDIO) {
            continue;
        }
        for (size_t k = 0; k < j && !dup; k++) {
            dup = tracks[k]->track.kind == CIR_LIVE_AUDIO &&
                  strcmp(audio_codecs(&tracks[k]->track), audio_codecs(a)) == 0;
        }
        if (!dup && (ret = cir_buf_printf(out, ",%s", audio_codecs(a))) < 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * The closed captions a video track's SEI carries (CEA-608 CC1, the
 * transcoder's cir_live_track_t.closed_captions), as the VOD master says
 * them (hls.c): one EXT-X-MEDIA in the group "cc", named by the variants
 * that carry them; none at all when no track does (CLOSED-CAPTIONS=NONE
 * must be on every variant or none).  The live source's language is not
 * known: "und".
 */
static int
put_live_cc_media(cir_buf_t *out, const cir_live_index_t *const *tracks,
                  size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        if (tracks[i]->track.kind == CIR_LIVE_VIDEO &&
            tracks[i]->track.closed_captions) {
            return cir_buf_puts(
                out, "\n#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\","
                     "NAME=\"Captions\",LANGUAGE=\"und\",INSTREAM-ID=\"CC1\","
                     "DEFAULT=YES,AUTOSELECT=YES\n");
        }
    }
    return 0;
}

/* One EXT-X-STREAM-INF per video track, its bandwidth with the audio's
 * added. */
static int
put_live_video_variants(cir_buf_t *out, const cir_live_index_t *const *tracks,
                        size_t nb, size_t nb_audio, uint64_t audio_peak,
                        uint64_t audio_avg)
{
    size_t i;
    int ret;

    TRY(cir_buf_puts(out, "\n"));
    for (i = 0; i < nb; i++) {
        const cir_live_track_t *t = &tracks[i]->track;
        if (t->kind != CIR_LIVE_VIDEO) {
            continue;
        }
        TRY(cir_buf_printf(out, "#EXT-X-STREAM-INF:BANDWIDTH=%llu",
                           (unsigned long long)(t->bandwidth + audio_peak)));
        if (t->average_bandwidth > 0) {
            TRY(cir_buf_printf(
                out, ",AVERAGE-BANDWIDTH=%llu",
                (unsigned long long)(t->average_bandwidth + audio_avg)));
        }
        TRY(cir_buf_printf(out, ",CODECS=\"%s", t->codecs));
        TRY(put_live_audio_codecs(out, tracks, nb));
        TRY(cir_buf_printf(out, "\",RESOLUTION=%dx%d,FRAME-RATE=", t->width,
                           t->height));
        TRY(cir_manifest_put_fixed(out, llround(t->frame_rate * 1000.0), 1000,
                                   3));
        if (nb_audio > 0) {
            TRY(cir_buf_puts(out, ",AUDIO=\"audio\""));
        }
        if (t->closed_captions) {
            TRY(cir_buf_puts(out, ",CLOSED-CAPTIONS=\"cc\""));
        }
        TRY(cir_buf_printf(out, "\n%s/index.m3u8\n", t->rendition));
    }
    return 0;

fail:
    return ret;
}

/*
 * EXT-X-SESSION-KEY (RFC 8216bis 4.4.6.5): the key lines of the key the
 * first video track's (else the first track's) newest segment is
 * encrypted with, the same METHOD, URI, KEYFORMAT and KEYFORMATVERSIONS
 * as that EXT-X-KEY in its media playlist (the same code writes both), so
 * a player may set up its key before it loads a media playlist.  With key
 * rotation that is the current crypto period's key (every rendition
 * changes key at the same media sequence number).  None for clear media
 * (never METHOD=NONE).
 */
static int
put_live_session_key(cir_buf_t *out, const cir_live_index_t *const *tracks,
                     size_t nb)
{
    const cir_live_index_t *lead = tracks[0];
    const cir_live_key_t *k;
    cir_protection_t p;
    uint32_t init_id;

    for (size_t i = 0; i < nb; i++) {
        if (tracks[i]->track.kind == CIR_LIVE_VIDEO) {
            lead = tracks[i];
            break;
        }
    }
    init_id = lead->nb_segments > 0
                  ? lead->segments[lead->nb_segments - 1].init_id
                  : lead->init_id;
    k = init_id > 0 ? cir_live_index_key(lead, init_id) : NULL;
    if (k == NULL) {
        return 0;
    }
    cir_live_key_protection(k, &p);
    return cir_hls_put_key(out, &p, "SESSION-KEY");
}

int
cir_hls_render_live_master(const cir_live_index_t *const *tracks, size_t nb,
                           cir_buf_t *out)
{
    uint64_t audio_peak, audio_avg;
    size_t nb_audio, len0;
    int ret;

    if (tracks == NULL || nb == 0 || out == NULL) {
        return CIR_EINVAL;
    }
    len0 = out->len;
    if (live_audio_bandwidth(tracks, nb, &nb_audio, &audio_peak, &audio_avg) <
        0) {
        return CIR_EINVAL;
    }
    TRY(cir_buf_puts(out, "#EXTM3U\n#EXT-X-VERSION:6\n"
                          "#EXT-X-INDEPENDENT-SEGMENTS\n"));
    TRY(put_live_session_key(out, tracks, nb));
    if (nb_audio == nb) {
        /* audio only: each rendition is a variant of its own */
        TRY(cir_buf_puts(out, "\n"));
        for (size_t i = 0; i < nb; i++) {
            const cir_live_track_t *t = &tracks[i]->track;
            TRY(cir_buf_printf(out, "#EXT-X-STREAM-INF:BANDWIDTH=%llu",
                               (unsigned long long)t->bandwidth));
            if (t->average_bandwidth > 0) {
                TRY(cir_buf_printf(out, ",AVERAGE-BANDWIDTH=%llu",
                                   (unsigned long long)t->average_bandwidth));
            }
            TRY(cir_buf_printf(out, ",CODECS=\"%s\"\n%s/index.m3u8\n",
                               audio_codecs(t), t->rendition));
        }
        return 0;
    }
    if (nb_audio > 0) {
        TRY(put_live_audio_media(out, tracks, nb));
    }
    TRY(put_live_cc_media(out, tracks, nb));
    TRY(put_live_video_variants(out, tracks, nb, nb_audio, audio_peak,
                                audio_avg));
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}
