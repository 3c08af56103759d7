/*
 * Publishing a VOD asset: the packagers' timelines become a cir_asset_t,
 * origin/ renders the manifests, and they are written in an order that makes
 * the asset complete only at the end: rendition playlists, the WebVTT track,
 * the version's MPD and master.m3u8 (all under <output>/v/<version>/, never
 * written again), then the asset's top-level manifest.mpd and master.m3u8
 * (the same with every URI under "v/<version>/"), master.m3u8 last.  A
 * thumbnails-only job's entry point is its top-level thumbs.vtt (cues into
 * "v/<version>/thumbs/"), written last the same way.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "asset_put.h"
#include "cir_error.h"
#include "cir_manifest.h"
#include "pipeline.h"

/*
 * Peak bit rate after the HLS definition: the highest rate of any run of
 * consecutive segments lasting 0.5 to 1.5 target durations, every such run
 * (a short last segment counts with the ones before it, not alone), and
 * never below the average (RFC 8216bis 4.4.6.2: BANDWIDTH is the peak
 * segment bit rate; AVERAGE-BANDWIDTH cannot exceed it).
 */
static uint64_t
peak_bandwidth(const cir_cmaf_info_t *in, double target, uint64_t average)
{
    double best = 0;

    for (size_t i = 0; i < in->nb_segments; i++) {
        double bytes = 0, dur = 0;
        for (size_t j = i; j < in->nb_segments; j++) {
            bytes += (double)in->segments[j].size;
            dur += (double)in->segments[j].duration / in->timescale;
            if (dur > 1.5 * target) {
                break;
            }
            if (dur >= 0.5 * target) {
                best = fmax(best, bytes * 8 / dur);
            }
        }
    }
    return FFMAX((uint64_t)ceil(best), average);
}

static uint64_t
iframe_peak(const cir_cmaf_info_t *in)
{
    double best = 0;

    for (size_t i = 0; i < in->nb_iframes; i++) {
        double dur = (double)in->iframes[i].duration / in->timescale;
        if (dur > 0) {
            best = fmax(best, (double)in->iframes[i].size * 8 / dur);
        }
    }
    return (uint64_t)ceil(best);
}

/* Where a rendition ends on the asset's timeline, seconds: a track may
 * start after 0 (its first segment's tfdt). */
static double
rendition_end(const cir_cmaf_info_t *in)
{
    int64_t first = in->nb_segments > 0 ? in->segments[0].start : 0;

    return in->timescale ? (double)(first + in->duration) / in->timescale : 0;
}

static void
fill_rendition(cir_rendition_t *r, const cir_cmaf_info_t *in, double target)
{
    double dur = in->timescale ? (double)in->duration / in->timescale : 0;

    r->timescale = in->timescale;
    r->start_number = 1;
    r->segments = in->segments;
    r->nb_segments = in->nb_segments;
    r->average_bandwidth =
        dur > 0 ? (uint64_t)ceil(in->total_bytes * 8 / dur) : 0;
    r->bandwidth = peak_bandwidth(in, target, r->average_bandwidth);
}

static int
put_rendered(cir_job_state_t *s, cir_store_t *store, cir_buf_t *buf,
             const char *name, int ret)
{
    if (ret < 0) {
        cir_log_error(&s->log, "rendering %s: %s", name, cir_strerror(ret));
        return ret == CIR_ELIMIT ? ret : CIR_EINTERNAL;
    }
    ret = cir_asset_put(store,
                        store == s->top ? CIR_ASSET_TOP : CIR_ASSET_VERSION,
                        name, buf->data, buf->len);
    cir_buf_reset(buf);
    if (ret < 0) {
        cir_log_error(&s->log, "writing %s%s: %s",
                      store == s->top ? "" : s->version_base, name,
                      cir_strerror(ret));
    }
    return ret;
}

static void
fill_result(cir_job_state_t *s, const cir_asset_t *asset)
{
    cir_result_t *res = s->result;

    res->duration = asset->duration;
    for (size_t i = 0; i < asset->nb_renditions &&
                       i < sizeof(res->renditions) / sizeof(res->renditions[0]);
         i++) {
        const cir_rendition_t *r = &asset->renditions[i];
        cir_result_rendition_t *o = &res->renditions[i];
        snprintf(o->id, sizeof(o->id), "%s", r->id);
        snprintf(o->codecs, sizeof(o->codecs), "%s", r->codecs);
        o->video = r->type == CIR_MEDIA_VIDEO;
        o->width = r->width;
        o->height = r->height;
        o->frame_rate = r->frame_rate;
        o->bandwidth = r->bandwidth;
        o->average_bandwidth = r->average_bandwidth;
        o->segments = r->nb_segments;
        res->nb_renditions = i + 1;
    }
}

/* The MPD and master.m3u8 into store (master last); with a base, the
 * asset's top-level pair pointing into the version. */
static int
write_top_manifests(cir_job_state_t *s, cir_store_t *store,
                    const cir_asset_t *asset, cir_buf_t *buf)
{
    int ret;

    if (s->only & CIR_ONLY_DASH) {
        ret = put_rendered(s, store, buf, "manifest.mpd",
                           cir_dash_render_static(asset, buf));
        if (ret < 0) {
            return ret;
        }
    }
    if (s->only & CIR_ONLY_HLS) {
        ret = put_rendered(s, store, buf, "master.m3u8",
                           cir_hls_render_master(asset, buf));
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static int
write_manifests(cir_job_state_t *s, const cir_asset_t *asset, cir_buf_t *buf)
{
    cir_asset_t top = *asset;
    char name[128];
    int ret, hls = (s->only & CIR_ONLY_HLS) != 0;

    for (size_t i = 0; hls && i < asset->nb_renditions; i++) {
        const cir_rendition_t *r = &asset->renditions[i];
        snprintf(name, sizeof(name), "%s/index.m3u8", r->id);
        ret = put_rendered(s, s->store, buf, name,
                           cir_hls_render_media(asset, r, buf));
        if (ret < 0) {
            return ret;
        }
        if (r->nb_iframes > 0) {
            snprintf(name, sizeof(name), "%s/iframes.m3u8", r->id);
            ret = put_rendered(s, s->store, buf, name,
                               cir_hls_render_iframes(asset, r, buf));
            if (ret < 0) {
                return ret;
            }
        }
    }
    if (asset->thumbs.present) {
        ret = put_rendered(s, s->store, buf, "thumbs/thumbs.vtt",
                           cir_vtt_render_thumbs(asset, buf));
        if (ret == 0 && hls) {
            ret = put_rendered(s, s->store, buf, "thumbs/images.m3u8",
                               cir_hls_render_images(asset, buf));
        }
        if (ret < 0) {
            return ret;
        }
    }
    top.base = s->version_base;
    if (asset->nb_renditions == 0) {
        /* thumbnails only: the asset's entry point is its top-level
         * WebVTT track, written last, every cue into the version */
        return asset->thumbs.present
                   ? put_rendered(s, s->top, buf, "thumbs.vtt",
                                  cir_vtt_render_thumbs(&top, buf))
                   : 0;
    }
    /* the version's own manifests (immutable), then the asset's */
    if ((ret = write_top_manifests(s, s->store, asset, buf)) < 0) {
        return ret;
    }
    return write_top_manifests(s, s->top, &top, buf);
}

int
cir_publish(cir_job_state_t *s)
{
    cir_rendition_t rends[CIR_PRESET_MAX_RUNGS + 1];
    cir_asset_t asset = {0};
    cir_buf_t buf;
    double target = s->job->preset->segment_seconds;
    size_t n = 0;
    int ret;

    memset(rends, 0, sizeof(rends));
    for (int i = 0; i < s->nb_rungs; i++) {
        cir_cmaf_info_t in;
        cir_rendition_t *r = &rends[n++];
        cir_cmaf_info(cir_rung_packager(s->rungs[i]), &in);
        fill_rendition(r, &in, target);
        r->id = cir_rung_id(s->rungs[i]);
        r->type = CIR_MEDIA_VIDEO;
        r->codecs = cir_rung_codecs(s->rungs[i]);
        cir_rung_size(s->rungs[i], &r->width, &r->height);
        r->frame_rate = in.duration > 0 ? (double)in.frames * in.timescale /
                                              (double)in.duration
                                        : av_q2d(s->frame_rate);
        r->iframes = in.iframes;
        r->nb_iframes = in.nb_iframes;
        r->iframe_bandwidth = iframe_peak(&in);
        asset.duration = fmax(asset.duration, rendition_end(&in));
    }
    if (s->audio) {
        cir_cmaf_info_t in;
        cir_rendition_t *r = &rends[n++];
        cir_cmaf_info(cir_audio_packager(s->audio), &in);
        fill_rendition(r, &in, target);
        r->id = "audio";
        r->type = CIR_MEDIA_AUDIO;
        r->codecs = cir_audio_codecs(s->audio);
        r->sample_rate = cir_audio_sample_rate(s->audio);
        r->channels = cir_audio_channels(s->audio);
        r->language = NULL;
        asset.duration = fmax(asset.duration, rendition_end(&in));
    }
    if (s->thumbs &&
        (ret = cir_thumbnailer_finish(s->thumbs, &asset.thumbs)) < 0) {
        s->result->error[0] = '\0';
        snprintf(s->result->error, sizeof(s->result->error), "thumbnails: %s",
                 cir_strerror(ret));
        return ret;
    }
    if (asset.duration == 0) {
        asset.duration = s->media_time;
    }
    asset.segment_seconds = target;
    asset.renditions = rends;
    asset.nb_renditions = n;

    for (size_t i = 0; i < n; i++) {
        const cir_rendition_t *r = &rends[i];
        cir_log_debug(&s->log,
                      "rendition %s: %zu segments, %zu I-frames, timescale "
                      "%u, %.3f fps, peak %llu, average %llu bit/s",
                      r->id, r->nb_segments, r->nb_iframes, r->timescale,
                      r->frame_rate, (unsigned long long)r->bandwidth,
                      (unsigned long long)r->average_bandwidth);
        for (size_t k = 0; k < r->nb_iframes; k++) {
            cir_log(CIR_LOG_TRACE, &s->log,
                    "  iframe seg %u start %lld dur %lld @%llu+%llu",
                    r->iframes[k].segment, (long long)r->iframes[k].start,
                    (long long)r->iframes[k].duration,
                    (unsigned long long)r->iframes[k].offset,
                    (unsigned long long)r->iframes[k].size);
        }
        for (size_t k = 0; k < r->nb_segments; k++) {
            cir_log(CIR_LOG_TRACE, &s->log, "  segment %zu start %lld dur %lld",
                    k + 1, (long long)r->segments[k].start,
                    (long long)r->segments[k].duration);
        }
    }
    cir_buf_init(&buf, CIR_MANIFEST_MAX_SIZE);
    ret = write_manifests(s, &asset, &buf);
    cir_buf_free(&buf);
    if (ret < 0) {
        snprintf(s->result->error, sizeof(s->result->error),
                 "publishing the manifests failed: %s", cir_strerror(ret));
        return ret;
    }
    fill_result(s, &asset);
    cir_log_info(&s->log, "published %zu renditions, %.3f s", n,
                 asset.duration);
    return 0;
}
