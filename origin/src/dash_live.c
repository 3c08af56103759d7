/*
 * The live (LL-DASH) MPD over the live indexes of a stream's renditions:
 * type="dynamic" with availabilityTimeOffset/availabilityTimeComplete=false
 * (chunked delivery of the open segment), ServiceDescription,
 * ProducerReferenceTime and UTCTiming (DASH-IF LL CR, checklist D1-D8);
 * type="static" once every rendition has ended.
 *
 * Choices:
 * - availabilityStartTime is the earliest started_us of the renditions,
 *   and period time 0 is media time 0 (the packager's timestamps start at
 *   0 when its writers open), so S@t is the segment's tfdt.
 * - A Period needs one init segment per Representation: the timeline lists
 *   the segments since the latest init change only (init-<k> of the index).
 * - The open segment is listed at its nominal duration (segment_target):
 *   its chunks are served as they are written (seg-<msn>.m4s: WAIT).
 * - Ended: type="static", presentationTimeOffset = the first listed start,
 *   mediaPresentationDuration = the longest listed rendition.
 */
#include <math.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"
#include "live_util.h"
#include "manifest_util.h"

#define DEFAULT_LATENCY_MS 3000
#define UTC_SCHEME         "urn:mpeg:dash:utc:http-iso:2014"

/* xs:duration "PT<s.mmm>S" of num/den seconds. */
static int
put_duration(cir_buf_t *out, int64_t num, int64_t den)
{
    int ret;

    if ((ret = cir_buf_puts(out, "PT")) < 0 ||
        (ret = cir_manifest_put_fixed(out, num, den, 3)) < 0) {
        return ret;
    }
    return cir_buf_puts(out, "S");
}

static int
put_time(cir_buf_t *out, const char *name, int64_t us)
{
    char iso[40];
    int ret;

    if ((ret = cir_clock_format_iso8601(us, iso, sizeof(iso))) < 0) {
        return ret;
    }
    return cir_buf_printf(out, " %s=\"%s\"", name, iso);
}

/* First listed segment: the first that uses the latest init. */
static size_t
first_listed(const cir_live_index_t *idx)
{
    size_t i = idx->nb_segments;

    while (i > 0 && idx->segments[i - 1].init_id == idx->init_id) {
        i--;
    }
    return i;
}

/* Listed media time: complete segments, plus the open one at its nominal
 * duration while live. */
static int64_t
seg_dur(const cir_live_index_t *idx, const cir_live_segment_t *s)
{
    if (s->complete) {
        return s->duration;
    }
    return s->duration > idx->segment_target ? s->duration
                                             : idx->segment_target;
}

static int
listed(const cir_live_index_t *idx, const cir_live_segment_t *s)
{
    return s->complete || !idx->ended;
}

static int64_t
listed_duration_ms(const cir_live_index_t *idx)
{
    int64_t total = 0;
    size_t i;

    for (i = first_listed(idx); i < idx->nb_segments; i++) {
        if (listed(idx, &idx->segments[i])) {
            total += seg_dur(idx, &idx->segments[i]);
        }
    }
    return total * 1000 / idx->timescale;
}

/* Runs up to the first segment not listed (none after it is either). */
static int
put_timeline(cir_buf_t *out, const cir_live_index_t *idx, size_t from)
{
    cir_dash_timeline_t tl;
    size_t i;
    int ret;

    TRY(cir_dash_timeline_open(&tl, out));
    for (i = from; i < idx->nb_segments && listed(idx, &idx->segments[i]);
         i++) {
        const cir_live_segment_t *s = &idx->segments[i];
        TRY(cir_dash_timeline_add(&tl, out, s->start, seg_dur(idx, s)));
    }
    TRY(cir_dash_timeline_close(&tl, out));
    return 0;

fail:
    return ret;
}

static int
put_representation(cir_buf_t *out, const cir_live_index_t *idx, int ended)
{
    const cir_live_track_t *t = &idx->track;
    const cir_dash_rep_head_t head = {
        .id = t->rendition,
        .bandwidth = t->bandwidth,
        .video = t->kind == CIR_LIVE_VIDEO,
        .codecs = t->codecs,
        .width = t->width,
        .height = t->height,
        .frame_rate = t->frame_rate,
        .sample_rate = t->sample_rate,
        .channels = t->channels,
    };
    size_t from = first_listed(idx);
    int ret;

    TRY(cir_dash_put_representation_head(out, &head));
    TRY(cir_buf_printf(out,
                       "        <SegmentTemplate timescale=\"%lu\" "
                       "initialization=\"$RepresentationID$/init-%u.mp4\" "
                       "media=\"$RepresentationID$/seg-$Number$.m4s\" "
                       "startNumber=\"%llu\"",
                       (unsigned long)idx->timescale, (unsigned)idx->init_id,
                       (unsigned long long)(from < idx->nb_segments
                                                ? idx->segments[from].msn
                                                : 0)));
    if (ended && from < idx->nb_segments) {
        TRY(cir_buf_printf(out, " presentationTimeOffset=\"%lld\"",
                           (long long)idx->segments[from].start));
    }
    TRY(cir_buf_puts(out, ">\n"));
    TRY(put_timeline(out, idx, from));
    TRY(cir_buf_puts(out, "        </SegmentTemplate>\n"
                          "      </Representation>\n"));
    return 0;

fail:
    return ret;
}

static int
put_set(cir_buf_t *out, const cir_live_index_t *const *tracks, size_t nb,
        cir_live_kind_t kind, int id, const cir_dash_live_config_t *cfg,
        int64_t ast_us, int ended)
{
    const cir_live_index_t *lead = NULL;
    int max_w = 0, max_h = 0, ret;
    double max_fr = 0;
    size_t i;

    for (i = 0; i < nb; i++) {
        const cir_live_track_t *t = &tracks[i]->track;
        if (t->kind != kind) {
            continue;
        }
        if (lead == NULL) {
            lead = tracks[i];
        }
        max_w = t->width > max_w ? t->width : max_w;
        max_h = t->height > max_h ? t->height : max_h;
        max_fr = t->frame_rate > max_fr ? t->frame_rate : max_fr;
    }
    if (lead == NULL) {
        return 0;
    }
    if (kind == CIR_LIVE_VIDEO) {
        TRY(cir_buf_printf(out,
                           "    <AdaptationSet id=\"%d\" contentType=\"video\" "
                           "mimeType=\"video/mp4\" segmentAlignment=\"true\" "
                           "startWithSAP=\"1\" maxWidth=\"%d\" "
                           "maxHeight=\"%d\" maxFrameRate=\"",
                           id, max_w, max_h));
        TRY(cir_manifest_put_frame_rate(out, max_fr));
        TRY(cir_buf_puts(out, "\">\n"));
    } else {
        TRY(cir_buf_printf(out,
                           "    <AdaptationSet id=\"%d\" contentType=\"audio\" "
                           "mimeType=\"audio/mp4\" segmentAlignment=\"true\" "
                           "lang=\"und\">\n",
                           id));
    }
    if (!ended) {
        /* wall clock of presentation time 0, with the clock to read it by */
        TRY(cir_buf_printf(out,
                           "      <ProducerReferenceTime id=\"%d\" "
                           "type=\"encoder\"",
                           id));
        TRY(put_time(out, "wallClockTime", ast_us));
        TRY(cir_buf_puts(out, " presentationTime=\"0\">\n"
                              "        <UTCTiming schemeIdUri=\"" UTC_SCHEME
                              "\" value=\""));
        TRY(cir_manifest_put_xml_attr(out, cfg->utc_timing_url));
        TRY(cir_buf_puts(out, "\"/>\n      </ProducerReferenceTime>\n"));
        if (lead->part_target > 0) {
            /* a segment can be fetched once its first chunk is out:
             * ATO = segDur - chunkDur (LL CR 9.X.4.5) */
            TRY(cir_buf_puts(out, "      <SegmentTemplate "
                                  "availabilityTimeOffset=\""));
            TRY(cir_manifest_put_fixed(out,
                                       lead->segment_target - lead->part_target,
                                       lead->timescale, 3));
            TRY(cir_buf_puts(out, "\" availabilityTimeComplete=\"false\"/>\n"));
        }
    }
    for (i = 0; i < nb; i++) {
        if (tracks[i]->track.kind == kind) {
            TRY(put_representation(out, tracks[i], ended));
        }
    }
    TRY(cir_buf_puts(out, "    </AdaptationSet>\n"));
    return 0;

fail:
    return ret;
}

int
cir_dash_render_live(const cir_live_index_t *const *tracks, size_t nb,
                     const cir_dash_live_config_t *cfg, cir_buf_t *out)
{
    const cir_live_index_t *lead;
    int64_t ast = INT64_MAX, dur_ms = 0, latency, td = 1;
    size_t i, len0;
    int ret, ended = 1, id = 0, has_video = 0;

    if (tracks == NULL || nb == 0 || cfg == NULL || out == NULL) {
        return CIR_EINVAL;
    }
    len0 = out->len;
    for (i = 0; i < nb; i++) {
        if (tracks[i] == NULL || cir_live_index_check(tracks[i]) < 0 ||
            !cir_live_id_ok(tracks[i]->track.rendition)) {
            return CIR_EINVAL;
        }
        ended &= tracks[i]->ended;
        has_video |= tracks[i]->track.kind == CIR_LIVE_VIDEO;
        ast = tracks[i]->started_us < ast ? tracks[i]->started_us : ast;
        if (listed_duration_ms(tracks[i]) > dur_ms) {
            dur_ms = listed_duration_ms(tracks[i]);
        }
        if (cir_live_target_duration(tracks[i]) > td) {
            td = cir_live_target_duration(tracks[i]);
        }
    }
    if (!ended && (cfg->utc_timing_url == NULL || cfg->now_us < 0)) {
        return CIR_EINVAL;
    }
    lead = tracks[0];
    latency = cfg->latency_target_ms > 0 ? cfg->latency_target_ms
                                         : DEFAULT_LATENCY_MS;

    TRY(cir_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
                          "profiles=\"urn:mpeg:dash:profile:isoff-live:2011,"
                          "urn:mpeg:dash:profile:cmaf:2019\""));
    if (ended) {
        TRY(cir_buf_puts(out, " type=\"static\" mediaPresentationDuration=\""));
        TRY(put_duration(out, dur_ms, 1000));
        TRY(cir_buf_puts(out, "\""));
    } else {
        TRY(cir_buf_puts(out, " type=\"dynamic\""));
        TRY(put_time(out, "availabilityStartTime", ast));
        TRY(put_time(out, "publishTime", cfg->now_us));
        TRY(cir_buf_puts(out, " minimumUpdatePeriod=\""));
        TRY(put_duration(out, lead->segment_target, lead->timescale));
        TRY(cir_buf_puts(out, "\" timeShiftBufferDepth=\""));
        TRY(put_duration(out, (int64_t)lead->window * lead->segment_target,
                         lead->timescale));
        TRY(cir_buf_puts(out, "\" suggestedPresentationDelay=\""));
        TRY(put_duration(out, latency, 1000));
        TRY(cir_buf_puts(out, "\""));
    }
    TRY(cir_buf_printf(out, " maxSegmentDuration=\"PT%lldS\"", (long long)td));
    TRY(cir_buf_puts(out, " minBufferTime=\"PT1S\">\n"));
    if (!ended) {
        TRY(cir_buf_printf(out,
                           "  <ServiceDescription id=\"0\">\n"
                           "    <Latency referenceId=\"0\" target=\"%lld\" "
                           "min=\"%lld\" max=\"%lld\"/>\n"
                           "    <PlaybackRate min=\"0.96\" max=\"1.04\"/>\n"
                           "  </ServiceDescription>\n",
                           (long long)latency, (long long)(latency / 2),
                           (long long)(latency * 3 / 2)));
    }
    TRY(cir_buf_puts(out, "  <Period id=\"0\" start=\"PT0S\">\n"));
    if (has_video) {
        TRY(put_set(out, tracks, nb, CIR_LIVE_VIDEO, id++, cfg, ast, ended));
    }
    TRY(put_set(out, tracks, nb, CIR_LIVE_AUDIO, id, cfg, ast, ended));
    TRY(cir_buf_puts(out, "  </Period>\n"));
    if (!ended) {
        TRY(cir_buf_puts(out, "  <UTCTiming schemeIdUri=\"" UTC_SCHEME
                              "\" value=\""));
        TRY(cir_manifest_put_xml_attr(out, cfg->utc_timing_url));
        TRY(cir_buf_puts(out, "\"/>\n"));
    }
    TRY(cir_buf_puts(out, "</MPD>\n"));
    return 0;

fail:
    return cir_manifest_fail(out, len0, ret);
}
