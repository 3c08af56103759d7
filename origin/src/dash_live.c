/*
 * The live (LL-DASH) MPD over the live indexes of a stream's renditions:
 * type="dynamic" with availabilityTimeOffset/availabilityTimeComplete=false
 * (chunked delivery of the open segment), ServiceDescription,
 * ProducerReferenceTime and UTCTiming (DASH-IF LL CR, checklist D1-D8);
 * type="static" once every rendition has ended.
 *
 * Choices:
 * - availabilityStartTime is the earliest started_us of the renditions
 *   (kept when a writer resumes an index: a republished key keeps it).
 * - One Period per discontinuity run of the lead rendition (the first
 *   video one): a publisher's outage, a republish, an init change.  The
 *   media timeline goes on across an outage while the wall clock jumped
 *   (and restarts at 0 on a republish), so each run's segments are placed
 *   by the wall clock (pdt_us) of its first one.  Its Period begins where
 *   the one before ended (the outage is a gap at the start of the new
 *   Period, where players seek ahead to the first segment; a gap at the
 *   end of a Period leaves dash.js stuck in it), presentationTimeOffset
 *   going back by as much, never below 0 nor before availabilityStartTime.
 *   The first listed Period takes its anchor from the index (run_pdt_us,
 *   run_start, run_after_us), which outlives its segments, so Period@start
 *   never changes as the window slides.  Period@id is the HLS
 *   discontinuity sequence number of its segments: unique and stable.
 * - The other renditions' segments go to the Period their middle falls in
 *   by wall clock (pdt_us), their presentationTimeOffset the lead's in
 *   their timescale: the renditions share the packager's media clock.
 * - A Period needs one init segment per Representation: a rendition lists
 *   its segments since its latest init change in that Period.
 * - The open segment is listed at its nominal duration (segment_target):
 *   its chunks are served as they are written (seg-<msn>.m4s: WAIT).
 * - The latency is ServiceDescription/Latency@target alone (no
 *   suggestedPresentationDelay: Shaka would keep the target behind it);
 *   minimumUpdatePeriod is one part (a new segment is known a part after
 *   it begins); maxSegmentDuration is the longest segment in ms, not the
 *   whole seconds of the HLS target duration (Shaka's live edge is
 *   maxSegmentDuration - availabilityTimeOffset behind the wall clock).
 * - Ended: type="static", the first listed segment at presentation time 0,
 *   later Periods where they were relative to it,
 *   mediaPresentationDuration = the end of the last.
 */
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_origin.h"
#include "live_util.h"
#include "manifest_util.h"

#define UTC_SCHEME "urn:mpeg:dash:utc:http-iso:2014"

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

/* Segments are listed up to the first one not listed (none after it is). */
static int
listed(const cir_live_index_t *idx, const cir_live_segment_t *s)
{
    return s->complete || !idx->ended;
}

static size_t
nb_listed(const cir_live_index_t *idx)
{
    size_t n = 0;

    while (n < idx->nb_segments && listed(idx, &idx->segments[n])) {
        n++;
    }
    return n;
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

/* v in timescale `from`, in timescale `to`, rounded. */
static int64_t
rescale(int64_t v, uint32_t from, uint32_t to)
{
    if (from == to) {
        return v;
    }
    return v / from * to + (v % from * to + from / 2) / from;
}

typedef struct {
    uint32_t id;      /* discontinuity sequence number of its segments */
    int64_t start_us; /* Period@start (from availabilityStartTime) */
    int64_t pto;      /* presentationTimeOffset, lead timescale */
    int64_t wall_us;  /* wall clock of its start */
    size_t from, to;  /* its lead segments */
} period_t;

typedef struct {
    const cir_live_index_t *const *tracks;
    size_t nb;
    const cir_dash_live_config_t *cfg;
    const cir_live_index_t *lead;
    int64_t ast;
    int ended;
    period_t *periods;
    size_t nb_periods;
} mpd_t;

/* Where a run's Period begins: it takes in the time since the segment
 * before it ended (run_after_us, an outage), so it starts where the one
 * before ended and its first segment starts at its own wall clock; not
 * before its media time 0 (presentationTimeOffset >= 0) nor before
 * availabilityStartTime. */
static void
place_run(const mpd_t *m, period_t *p, int64_t pdt, int64_t start,
          int64_t after)
{
    uint32_t ts = m->lead->timescale;
    int64_t lead_in = cir_live_ts_to_us(start, ts);

    if (after > 0 && pdt - after < lead_in) {
        lead_in = pdt - after;
    }
    if (pdt - m->ast < lead_in) {
        lead_in = pdt - m->ast; /* < 0: the offset moves later */
    }
    p->start_us = pdt - lead_in - m->ast;
    p->pto = start - cir_live_us_to_ts(lead_in, ts);
    p->wall_us = m->ast + p->start_us;
}

/* The Periods, from the lead's discontinuities (see the top). */
static void
make_periods(mpd_t *m)
{
    const cir_live_index_t *x = m->lead;
    size_t n = nb_listed(x), i;
    uint32_t dseq = x->discontinuity_sequence;
    period_t *p = NULL;

    m->nb_periods = 0;
    for (i = 0; i < n; i++) {
        const cir_live_segment_t *s = &x->segments[i], *prev = s - 1;

        dseq += s->discontinuity;
        if (i > 0 && !s->discontinuity) {
            p->to = i + 1;
            continue;
        }
        p = &m->periods[m->nb_periods++];
        p->id = dseq;
        p->from = i;
        p->to = i + 1;
        if (i > 0) {
            place_run(m, p, s->pdt_us, s->start,
                      prev->pdt_us +
                          cir_live_ts_to_us(prev->duration, x->timescale));
        } else if (x->run_pdt_us > 0 && x->run_start <= s->start) {
            /* the run began before the window: the writer kept where */
            place_run(m, p, x->run_pdt_us, x->run_start, x->run_after_us);
        } else {
            place_run(m, p, s->pdt_us, s->start, 0);
        }
    }
    if (m->nb_periods == 0) {
        p = &m->periods[m->nb_periods++];
        memset(p, 0, sizeof(*p));
        p->id = dseq;
        p->wall_us = m->ast;
    }
}

/* Track x's segments in Period k: [*from, *to), those since its latest
 * init change there. */
static void
track_range(const mpd_t *m, const cir_live_index_t *x, size_t k, size_t *from,
            size_t *to)
{
    size_t n = nb_listed(x), i, a = n, b = n;

    if (x == m->lead) {
        a = m->periods[k].from;
        b = m->periods[k].to;
    } else {
        for (i = 0; i < n; i++) {
            const cir_live_segment_t *s = &x->segments[i];
            int64_t mid =
                s->pdt_us + cir_live_ts_to_us(seg_dur(x, s), x->timescale) / 2;
            if (mid < m->periods[k].wall_us) {
                continue;
            }
            if (k + 1 < m->nb_periods && mid >= m->periods[k + 1].wall_us) {
                break;
            }
            a = a == n ? i : a;
            b = i + 1;
        }
    }
    while (b > a && a + 1 < b &&
           x->segments[a].init_id != x->segments[b - 1].init_id) {
        a++;
    }
    /* GAP segments (no media, no file) are not listed: a follower's at
     * the end of a Period (cir_live_writer_put_gap_segment), an outage's
     * at the start of one (cir_live_writer_fill_outage: the gap at the
     * start of the Period that the outage is anyway); nor an outage's
     * media (the last picture, silence: cir_live_writer_take_outage),
     * which dash.js and Shaka would play from the Period's start, then
     * stay behind live by the outage (dash.js stuck there) */
    while (b > a && x->segments[b - 1].gap) {
        b--;
    }
    while (a < b && (x->segments[a].gap || x->segments[a].outage)) {
        a++;
    }
    *from = a;
    *to = b;
}

/* Where Period k starts in the MPD, and its offset for the lead; static:
 * the first listed segment at 0. */
static void
period_place(const mpd_t *m, size_t k, int64_t *start_us, int64_t *pto)
{
    const period_t *p = &m->periods[k], *p0 = &m->periods[0];
    const cir_live_index_t *x = m->lead;
    int64_t first, shift;

    *start_us = p->start_us;
    *pto = p->pto;
    if (!m->ended || p0->to == p0->from) {
        return;
    }
    first = x->segments[p0->from].start;
    shift = p0->start_us + cir_live_ts_to_us(first - p0->pto, x->timescale);
    if (k == 0) {
        *start_us = 0;
        *pto = first;
    } else {
        *start_us = p->start_us - shift;
    }
}

/* "PT<s>[.<fraction>]S" of a time in microseconds. */
static int
put_us_duration(cir_buf_t *out, int64_t us)
{
    int64_t frac = us % 1000000;
    int digits = 6;

    if (frac == 0) {
        return cir_buf_printf(out, "PT%lldS", (long long)(us / 1000000));
    }
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    return cir_buf_printf(out, "PT%lld.%0*lldS", (long long)(us / 1000000),
                          digits, (long long)frac);
}

/*
 * While the stream is live, the segments after the newest one are
 * promised with an open-ended S element (ISO/IEC 23009-1 5.3.9.6: a
 * negative @r repeats @d until the next MPD update).  A player then asks
 * for the next segment when it is due instead of when an MPD update lists
 * it: dash.js reloads the MPD at most once a second whatever
 * minimumUpdatePeriod says, which left it 0-1 s late for every segment, a
 * stall when late by more than its buffer.  The same rule as HLS's hint of
 * the next part (hls_live.c): also after a complete newest segment (an MPD
 * fetched in the third of a second before the next segment's first part
 * would otherwise take the promise back until dash.js's next reload), not
 * between timelines (the publisher gone: cir_live_index_t.paused), not
 * after an outage's GAP segment nor in an ended stream.
 */
static int
open_ended(const mpd_t *m, const cir_live_index_t *idx, size_t k, size_t to)
{
    return !idx->ended && !idx->paused && k + 1 == m->nb_periods && to > 0 &&
           to == idx->nb_segments && !idx->segments[to - 1].gap &&
           idx->segment_target > 0;
}

static int
put_timeline(cir_buf_t *out, const cir_live_index_t *idx, size_t from,
             size_t to, int promise_next)
{
    cir_dash_timeline_t tl;
    size_t i;
    int ret;

    TRY(cir_dash_timeline_open(&tl, out));
    for (i = from; i < to; i++) {
        const cir_live_segment_t *s = &idx->segments[i];
        TRY(cir_dash_timeline_add(&tl, out, s->start, seg_dur(idx, s)));
    }
    TRY(cir_dash_timeline_close_open_ended(
        &tl, out, promise_next ? idx->segment_target : 0));
    return 0;

fail:
    return ret;
}

static int
put_representation(cir_buf_t *out, const mpd_t *m, const cir_live_index_t *idx,
                   size_t k, int64_t lead_pto)
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
    size_t from, to;
    int ret;

    track_range(m, idx, k, &from, &to);
    TRY(cir_dash_put_representation_head(out, &head));
    TRY(cir_buf_printf(
        out,
        "        <SegmentTemplate timescale=\"%lu\" "
        "initialization=\"$RepresentationID$/init-%u.mp4\" "
        "media=\"$RepresentationID$/seg-$Number$.m4s\" "
        "startNumber=\"%llu\" presentationTimeOffset=\"%lld\">\n",
        (unsigned long)idx->timescale,
        (unsigned)(from < to ? idx->segments[from].init_id : idx->init_id),
        (unsigned long long)(from < to ? idx->segments[from].msn : 0),
        (long long)rescale(lead_pto, m->lead->timescale, idx->timescale)));
    TRY(put_timeline(out, idx, from, to, open_ended(m, idx, k, to)));
    TRY(cir_buf_puts(out, "        </SegmentTemplate>\n"
                          "      </Representation>\n"));
    return 0;

fail:
    return ret;
}

/*
 * CEA-608 captions in the video's SEI, when every video track carries them
 * (cir_live_track_t.closed_captions): the SCTE 214-1 descriptor, as the VOD
 * MPD has it (dash.c); the live source's language is not known: "und".
 * Accessibility follows the RepresentationBase descriptors
 * (ProducerReferenceTime) and precedes SegmentTemplate.
 */
static int
put_cc_accessibility(cir_buf_t *out, const mpd_t *m)
{
    size_t nb_video = 0, nb_cc = 0;

    for (size_t i = 0; i < m->nb; i++) {
        const cir_live_track_t *t = &m->tracks[i]->track;
        nb_video += t->kind == CIR_LIVE_VIDEO;
        nb_cc += t->kind == CIR_LIVE_VIDEO && t->closed_captions;
    }
    if (nb_video == 0 || nb_cc != nb_video) {
        return 0;
    }
    return cir_buf_puts(out, "      <Accessibility "
                             "schemeIdUri=\"urn:scte:dash:cc:cea-608:2015\" "
                             "value=\"CC1=und\"/>\n");
}

/* xmlns:cenc (and mspr) on the MPD when a rendition is encrypted: the
 * namespaces of the newest key of the first encrypted one (every key of a
 * stream names the same systems). */
static int
put_cenc_namespace(cir_buf_t *out, const mpd_t *m)
{
    cir_protection_t p;

    for (size_t i = 0; i < m->nb; i++) {
        const cir_live_index_t *x = m->tracks[i];
        if (x->nb_keys > 0) {
            cir_live_key_protection(&x->keys[x->nb_keys - 1], &p);
            return cir_dash_put_cenc_namespace(out, &p);
        }
    }
    return 0;
}

/* The ContentProtection elements of the key of the set's lead rendition
 * in Period k (its init there; a new key comes with a new init, so with a
 * new Period): RepresentationBase order puts them first in the set. */
static int
put_set_protection(cir_buf_t *out, const mpd_t *m, size_t k,
                   const cir_live_index_t *lead)
{
    const cir_live_key_t *key;
    cir_protection_t p;
    size_t from, to;

    track_range(m, lead, k, &from, &to);
    key = cir_live_index_key(lead, from < to ? lead->segments[from].init_id
                                             : lead->init_id);
    if (key == NULL) {
        return 0;
    }
    cir_live_key_protection(key, &p);
    return cir_dash_put_content_protection(out, &p);
}

static int
put_set(cir_buf_t *out, const mpd_t *m, size_t k, cir_live_kind_t kind, int id)
{
    const cir_live_index_t *lead = NULL;
    int max_w = 0, max_h = 0, ret;
    double max_fr = 0;
    int64_t start_us, pto;
    size_t i;

    for (i = 0; i < m->nb; i++) {
        const cir_live_track_t *t = &m->tracks[i]->track;
        if (t->kind != kind) {
            continue;
        }
        if (lead == NULL) {
            lead = m->tracks[i];
        }
        max_w = t->width > max_w ? t->width : max_w;
        max_h = t->height > max_h ? t->height : max_h;
        max_fr = t->frame_rate > max_fr ? t->frame_rate : max_fr;
    }
    if (lead == NULL) {
        return 0;
    }
    period_place(m, k, &start_us, &pto);
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
    TRY(put_set_protection(out, m, k, lead));
    if (!m->ended) {
        /* the wall clock of the Period's start, with the clock to read it
         * by: presentationTime is presentationTimeOffset */
        TRY(cir_buf_printf(out,
                           "      <ProducerReferenceTime id=\"%d\" "
                           "type=\"encoder\"",
                           id));
        TRY(put_time(out, "wallClockTime", m->periods[k].wall_us));
        TRY(cir_buf_printf(
            out, " presentationTime=\"%lld\">\n",
            (long long)rescale(pto, m->lead->timescale, lead->timescale)));
        TRY(cir_buf_puts(out, "        <UTCTiming schemeIdUri=\"" UTC_SCHEME
                              "\" value=\""));
        TRY(cir_manifest_put_xml_attr(out, m->cfg->utc_timing_url));
        TRY(cir_buf_puts(out, "\"/>\n      </ProducerReferenceTime>\n"));
    }
    if (kind == CIR_LIVE_VIDEO) {
        TRY(put_cc_accessibility(out, m));
    }
    if (!m->ended) {
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
    for (i = 0; i < m->nb; i++) {
        if (m->tracks[i]->track.kind == kind) {
            TRY(put_representation(out, m, m->tracks[i], k, pto));
        }
    }
    TRY(cir_buf_puts(out, "    </AdaptationSet>\n"));
    return 0;

fail:
    return ret;
}

static int
put_period(cir_buf_t *out, const mpd_t *m, size_t k, int has_video)
{
    int64_t start_us, pto;
    int ret, id = 0;

    period_place(m, k, &start_us, &pto);
    TRY(cir_buf_printf(out, "  <Period id=\"%lu\" start=\"",
                       (unsigned long)m->periods[k].id));
    TRY(put_us_duration(out, start_us));
    TRY(cir_buf_puts(out, "\">\n"));
    if (has_video) {
        TRY(put_set(out, m, k, CIR_LIVE_VIDEO, id++));
    }
    TRY(put_set(out, m, k, CIR_LIVE_AUDIO, id));
    TRY(cir_buf_puts(out, "  </Period>\n"));
    return 0;

fail:
    return ret;
}

/* Static: where the last Period's media ends, in microseconds. */
static int64_t
static_duration_us(const mpd_t *m)
{
    int64_t end = 0, start_us, pto, e;
    size_t k, i, from, to;

    for (k = 0; k < m->nb_periods; k++) {
        period_place(m, k, &start_us, &pto);
        for (i = 0; i < m->nb; i++) {
            const cir_live_index_t *x = m->tracks[i];
            int64_t off = rescale(pto, m->lead->timescale, x->timescale);
            track_range(m, x, k, &from, &to);
            if (from == to) {
                continue;
            }
            e = x->segments[to - 1].start + seg_dur(x, &x->segments[to - 1]);
            e = start_us + cir_live_ts_to_us(e - off, x->timescale);
            end = e > end ? e : end;
        }
    }
    return end;
}

/* MPD@maxSegmentDuration in milliseconds, rounded up: the longest
 * segment of any rendition, at least its nominal duration (a segment ends
 * at the keyframe after it).  Players put the newest available segment's
 * start this far back from its availability (Shaka: the live edge is
 * now - maxSegmentDuration + availabilityTimeOffset), so a whole-second
 * bound (the HLS target duration, 3 s for 2.03 s segments) plays a second
 * further behind. */
static int64_t
max_segment_ms(const cir_live_index_t *const *tracks, size_t nb)
{
    int64_t ms = 1, d, us;
    size_t i, k;

    for (i = 0; i < nb; i++) {
        const cir_live_index_t *x = tracks[i];
        d = x->segment_target;
        for (k = 0; k < x->nb_segments; k++) {
            d = x->segments[k].duration > d ? x->segments[k].duration : d;
        }
        us = cir_live_ts_to_us(d, x->timescale);
        ms = (us + 999) / 1000 > ms ? (us + 999) / 1000 : ms;
    }
    return ms;
}

/*
 * The latency target: three parts (what LL-HLS holds back) and half a
 * second for the request and the decoder, within [1 s, one segment].
 * Shaka keeps the latency within 0.5 s of the target, so a target of one
 * 2 s segment let it settle 2.5 s behind; dash.js aims at the target.
 */
static int64_t
default_latency_ms(const cir_live_index_t *lead)
{
    int64_t seg_ms, ms;

    if (lead->timescale == 0) {
        return 1000;
    }
    seg_ms = lead->segment_target * 1000 / lead->timescale;
    ms = lead->part_target > 0
             ? 3 * lead->part_target * 1000 / lead->timescale + 500
             : seg_ms;
    if (ms > seg_ms) {
        ms = seg_ms;
    }
    return ms < 1000 ? 1000 : ms;
}

/* <MPD ...> with its timing attributes and, while live, the
 * ServiceDescription (latency target: the configured one, else the
 * default for the first track). */
static int
put_mpd_open(cir_buf_t *out, const mpd_t *m, const cir_live_index_t *lead)
{
    const cir_dash_live_config_t *cfg = m->cfg;
    const cir_live_index_t *const *tracks = m->tracks;
    size_t nb = m->nb;
    int64_t latency;
    int ret;

    latency = cfg->latency_target_ms > 0 ? cfg->latency_target_ms
                                         : default_latency_ms(lead);
    TRY(cir_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
                          "profiles=\"urn:mpeg:dash:profile:isoff-live:2011,"
                          "urn:mpeg:dash:profile:cmaf:2019\""));
    if (m->ended) {
        TRY(cir_buf_puts(out, " type=\"static\" mediaPresentationDuration=\""));
        TRY(put_duration(out, static_duration_us(m), 1000000));
        TRY(cir_buf_puts(out, "\""));
    } else {
        TRY(cir_buf_puts(out, " type=\"dynamic\""));
        TRY(put_time(out, "availabilityStartTime", m->ast));
        TRY(put_time(out, "publishTime", cfg->now_us));
        /* a new segment is listed once it begins: with a period of one
         * part, players learn of it a part later, not up to a segment
         * later (Shaka stalled at each segment start below ~2.5 s) */
        TRY(cir_buf_puts(out, " minimumUpdatePeriod=\""));
        TRY(put_duration(out,
                         lead->part_target > 0 ? lead->part_target
                                               : lead->segment_target,
                         lead->timescale));
        TRY(cir_buf_puts(out, "\" timeShiftBufferDepth=\""));
        TRY(put_duration(out, (int64_t)lead->window * lead->segment_target,
                         lead->timescale));
        /* no suggestedPresentationDelay: the latency is the
         * ServiceDescription's target.  Shaka in low-latency mode puts its
         * live edge suggestedPresentationDelay back and then keeps the
         * target behind that (the latency counted twice); dash.js takes
         * the target. */
        TRY(cir_buf_puts(out, "\""));
    }
    TRY(put_cenc_namespace(out, m));
    TRY(cir_buf_puts(out, " maxSegmentDuration=\""));
    TRY(put_duration(out, max_segment_ms(tracks, nb), 1000));
    TRY(cir_buf_puts(out, "\" minBufferTime=\"PT1S\">\n"));
    if (!m->ended) {
        TRY(cir_buf_printf(out,
                           "  <ServiceDescription id=\"0\">\n"
                           "    <Latency referenceId=\"0\" target=\"%lld\" "
                           "min=\"%lld\" max=\"%lld\"/>\n"
                           "    <PlaybackRate min=\"0.96\" max=\"1.04\"/>\n"
                           "  </ServiceDescription>\n",
                           (long long)latency, (long long)(latency / 2),
                           (long long)(latency * 3 / 2)));
    }
    return 0;

fail:
    return ret;
}

int
cir_dash_render_live(const cir_live_index_t *const *tracks, size_t nb,
                     const cir_dash_live_config_t *cfg, cir_buf_t *out)
{
    const cir_live_index_t *lead;
    mpd_t m;
    size_t i, len0;
    int ret, has_video = 0;

    if (tracks == NULL || nb == 0 || cfg == NULL || out == NULL) {
        return CIR_EINVAL;
    }
    len0 = out->len;
    memset(&m, 0, sizeof(m));
    m.tracks = tracks;
    m.nb = nb;
    m.cfg = cfg;
    m.ast = INT64_MAX;
    m.ended = 1;
    for (i = 0; i < nb; i++) {
        if (tracks[i] == NULL || cir_live_index_check(tracks[i]) < 0 ||
            !cir_live_id_ok(tracks[i]->track.rendition)) {
            return CIR_EINVAL;
        }
        m.ended &= tracks[i]->ended;
        if (!has_video && tracks[i]->track.kind == CIR_LIVE_VIDEO) {
            has_video = 1;
            m.lead = tracks[i];
        }
        m.ast = tracks[i]->started_us < m.ast ? tracks[i]->started_us : m.ast;
    }
    if (!m.ended && (cfg->utc_timing_url == NULL || cfg->now_us < 0)) {
        return CIR_EINVAL;
    }
    if (m.lead == NULL) {
        m.lead = tracks[0];
    }
    /* one Period per lead segment at most, and one when it has none */
    m.periods = malloc((m.lead->nb_segments + 1) * sizeof(*m.periods));
    if (m.periods == NULL) {
        return CIR_ENOMEM;
    }
    make_periods(&m);
    lead = tracks[0];

    TRY(put_mpd_open(out, &m, lead));
    for (i = 0; i < m.nb_periods; i++) {
        TRY(put_period(out, &m, i, has_video));
    }
    if (!m.ended) {
        TRY(cir_buf_puts(out, "  <UTCTiming schemeIdUri=\"" UTC_SCHEME
                              "\" value=\""));
        TRY(cir_manifest_put_xml_attr(out, cfg->utc_timing_url));
        TRY(cir_buf_puts(out, "\"/>\n"));
    }
    TRY(cir_buf_puts(out, "</MPD>\n"));
    free(m.periods);
    return 0;

fail:
    free(m.periods);
    return cir_manifest_fail(out, len0, ret);
}
