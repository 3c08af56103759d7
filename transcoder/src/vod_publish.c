/*
 * A VOD job's asset description: the packagers' timelines (every rung, the
 * audio renditions) and the thumbnail track become a cir_asset_t, published
 * by publish.c into the job's version and top-level stores; the job result
 * names what was published.
 *
 * Tested by tests/unit/test_transcoder_publish.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cir_audio_tracks.h"
#include "cir_error.h"
#include "drm.h"
#include "pipeline.h"
#include "publish.h"

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
    cir_publish_rates(r, (double)in->total_bytes, dur, target);
}

/* The loudness pass's numbers for an audio rendition of the result. */
static void
fill_loudness(cir_job_state_t *s, const char *id, cir_result_rendition_t *o)
{
    const cir_preset_t *p = s->ctx->preset;

    for (int i = 0; i < s->nb_audio; i++) {
        const cir_vod_audio_t *t = &s->audio[i];
        int kind = strcmp(id, t->choice.id) == 0 ? CIR_VOD_STEREO
                   : t->wants_surround && strcmp(id, t->surround_id) == 0
                       ? CIR_VOD_SURROUND
                       : -1;
        if (kind < 0 || !t->loudness_measured) {
            continue;
        }
        o->loudness = 1;
        o->loudness_input_i = t->loudness[kind].input.integrated;
        o->loudness_input_tp = t->loudness[kind].input.true_peak;
        o->loudness_input_lra = t->loudness[kind].input.lra;
        o->loudness_target_i = p->loudness_target_lufs;
        o->loudness_target_tp = p->loudness_true_peak_db;
        snprintf(o->loudness_mode, sizeof(o->loudness_mode), "%s",
                 cir_loudness_mode_name(t->loudness[kind].mode));
        return;
    }
}

static void
fill_result(cir_job_state_t *s, const cir_asset_t *asset)
{
    cir_result_t *res = s->ctx->result;

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
        o->closed_captions = r->closed_captions;
        o->bandwidth = r->bandwidth;
        o->average_bandwidth = r->average_bandwidth;
        o->segments = r->nb_segments;
        if (r->type == CIR_MEDIA_AUDIO) {
            o->channels = r->channels;
            snprintf(o->language, sizeof(o->language), "%s",
                     r->language ? r->language : "und");
            snprintf(o->name, sizeof(o->name), "%s", r->name ? r->name : r->id);
            o->is_default = r->is_default;
            fill_loudness(s, r->id, o);
        }
        res->nb_renditions = i + 1;
    }
    if (asset->protection != NULL) {
        res->encryption = asset->protection->scheme;
        cir_encryption_hex(asset->protection->key_id, res->key_id);
    }
}

json_t *
cir_result_encryption_json(const cir_result_t *r)
{
    if (r->encryption == CIR_ENC_NONE) {
        return NULL;
    }
    return json_pack("{s:s, s:[s]}", "scheme",
                     cir_encryption_scheme_name(r->encryption), "key_ids",
                     r->key_id);
}

/* The video renditions (one per rung) and the audio ones (one per source
 * track that made one) into rends. */
static size_t
describe_renditions(cir_job_state_t *s, cir_rendition_t *rends,
                    cir_asset_t *asset)
{
    double target = s->ctx->preset->segment_seconds;
    size_t n = 0;

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
        r->closed_captions = cir_rung_carries_captions(s->rungs[i]);
        asset->duration = fmax(asset->duration, rendition_end(&in));
    }
    /* the AAC renditions first, then the 5.1 ones (each codec its own
     * HLS audio group, in this order) */
    for (int kind = CIR_VOD_STEREO; kind < CIR_VOD_KINDS; kind++) {
        for (int i = 0; i < s->nb_audio; i++) {
            const cir_vod_audio_t *t = &s->audio[i];
            const cir_audio_t *out =
                kind == CIR_VOD_STEREO ? t->out : t->surround;
            cir_cmaf_info_t in;
            cir_rendition_t *r;
            if (out == NULL) {
                continue; /* nothing decoded (check_audio_complete), or
                           * no 5.1 rendition */
            }
            r = &rends[n++];
            cir_cmaf_info(cir_audio_packager(out), &in);
            fill_rendition(r, &in, target);
            r->id = kind == CIR_VOD_STEREO ? t->choice.id : t->surround_id;
            r->type = CIR_MEDIA_AUDIO;
            r->codecs = cir_audio_codecs(out);
            r->sample_rate = cir_audio_sample_rate(out);
            r->channels = cir_audio_channels(out);
            r->language = t->choice.language;
            /* the same NAME in both groups: one choice for the viewer,
             * the player picks the codec (Apple's HLS authoring spec) */
            r->name = t->choice.name;
            r->is_default = t->choice.is_default;
            asset->duration = fmax(asset->duration, rendition_end(&in));
        }
    }
    return n;
}

static void
log_renditions(cir_job_state_t *s, const cir_rendition_t *rends, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cir_rendition_t *r = &rends[i];
        cir_log_debug(&s->ctx->log,
                      "rendition %s: %zu segments, %zu I-frames, timescale "
                      "%u, %.3f fps, peak %llu, average %llu bit/s",
                      r->id, r->nb_segments, r->nb_iframes, r->timescale,
                      r->frame_rate, (unsigned long long)r->bandwidth,
                      (unsigned long long)r->average_bandwidth);
        for (size_t k = 0; k < r->nb_iframes; k++) {
            cir_log(CIR_LOG_TRACE, &s->ctx->log,
                    "  iframe seg %u start %lld dur %lld @%llu+%llu",
                    r->iframes[k].segment, (long long)r->iframes[k].start,
                    (long long)r->iframes[k].duration,
                    (unsigned long long)r->iframes[k].offset,
                    (unsigned long long)r->iframes[k].size);
        }
        for (size_t k = 0; k < r->nb_segments; k++) {
            cir_log(CIR_LOG_TRACE, &s->ctx->log,
                    "  segment %zu start %lld dur %lld", k + 1,
                    (long long)r->segments[k].start,
                    (long long)r->segments[k].duration);
        }
    }
}

/* The closed captions' language (the video stream's tag, else "und")
 * into lang, when a rung carries the source's captions; a source with
 * captions that no rung could keep (HEVC: libx265 in FFmpeg 5.1 writes no
 * A/53 SEI) says so in the log. */
static void
describe_captions(cir_job_state_t *s, cir_asset_t *asset,
                  char lang[CIR_LANGUAGE_MAX])
{
    const AVDictionaryEntry *tag;
    uint64_t in, out, dropped;
    int carried = 0;

    if (s->captions == NULL || !cir_captions_seen(s->captions) ||
        s->vst == NULL) {
        return;
    }
    for (size_t i = 0; i < asset->nb_renditions; i++) {
        carried |= asset->renditions[i].closed_captions;
    }
    if (!carried) {
        if (s->nb_rungs == 0) {
            return; /* thumbnails only, or audio: nothing to say */
        }
        cir_log_warn(&s->ctx->log,
                     "the source's closed captions are not carried: the "
                     "HEVC encoder cannot write them");
        return;
    }
    cir_captions_counts(s->captions, &in, &out, &dropped);
    /* in - out: dropped from a full queue, or left after the last frame */
    cir_log(in > out ? CIR_LOG_WARN : CIR_LOG_INFO, &s->ctx->log,
            "closed captions: %llu cc_data triplets carried, %llu lost "
            "(%llu to a full queue)",
            (unsigned long long)out, (unsigned long long)(in - out),
            (unsigned long long)dropped);
    tag = av_dict_get(s->vst->metadata, "language", NULL, 0);
    asset->cc_language =
        cir_language_from_source(tag ? tag->value : NULL, lang);
}

/* The subtitle renditions' files, before the manifests that list them. */
static int
publish_subtitles(cir_job_state_t *s, cir_asset_t *asset, unsigned formats)
{
    char why[1024];
    int ret = cir_subtitles_publish(s->subtitles, asset, s->ctx->store, formats,
                                    &s->ctx->log, why, sizeof(why));

    return ret < 0 ? cir_job_fail(s->ctx, ret, "%s", why) : 0;
}

/* The scheme, key ID and DRM systems' boxes (the same bytes cenc.c puts
 * into init.mp4): the manifests never see the key. */
static int
describe_protection(const cir_encryption_t *enc, cir_protection_t *p,
                    cir_drm_boxes_t *drm)
{
    int ret;

    p->scheme = enc->scheme;
    memcpy(p->key_id, enc->key_id, 16);
    p->systems = enc->drm.systems;
    if ((ret = cir_drm_boxes_build(drm, enc)) < 0) {
        return ret;
    }
    for (int i = 0; i < CIR_DRM_NB; i++) {
        p->pssh[i] =
            drm->pssh[i].len ? (const uint8_t *)drm->pssh[i].data : NULL;
        p->pssh_len[i] = drm->pssh[i].len;
    }
    p->playready_pro = (const uint8_t *)drm->playready_pro.data;
    p->playready_pro_len = drm->playready_pro.len;
    p->fairplay_key_uri = enc->drm.fairplay_key_uri;
    return 0;
}

int
cir_vod_publish(cir_job_state_t *s)
{
    cir_rendition_t rends[CIR_PRESET_MAX_RUNGS + 2 * CIR_AUDIO_TRACKS_MAX];
    cir_asset_t asset = {0};
    cir_protection_t protection = {0};
    cir_drm_boxes_t drm = {0};
    char cc_language[CIR_LANGUAGE_MAX];
    const cir_publish_dest_t dest = {
        .version = s->ctx->store,
        .top = s->ctx->top,
        .version_base = s->ctx->version_base,
        .formats = s->ctx->only & (CIR_ONLY_HLS | CIR_ONLY_DASH),
        .log = &s->ctx->log,
    };
    size_t n;
    int ret;

    memset(rends, 0, sizeof(rends));
    n = describe_renditions(s, rends, &asset);
    if (s->thumbs &&
        (ret = cir_thumbnailer_finish(s->thumbs, &asset.thumbs)) < 0) {
        s->ctx->result->error[0] = '\0';
        snprintf(s->ctx->result->error, sizeof(s->ctx->result->error),
                 "thumbnails: %s", cir_strerror(ret));
        return ret;
    }
    if (asset.duration == 0) {
        asset.duration = s->media_time;
    }
    asset.segment_seconds = s->ctx->preset->segment_seconds;
    asset.renditions = rends;
    asset.nb_renditions = n;
    describe_captions(s, &asset, cc_language);
    if (s->ctx->job->encryption != NULL &&
        s->ctx->job->encryption->scheme != CIR_ENC_NONE) {
        ret = describe_protection(s->ctx->job->encryption, &protection, &drm);
        if (ret < 0) {
            cir_drm_boxes_free(&drm);
            return cir_job_fail(s->ctx, ret, "encryption: %s",
                                cir_strerror(ret));
        }
        asset.protection = &protection;
    }
    log_renditions(s, rends, n);
    if ((ret = publish_subtitles(s, &asset, dest.formats)) < 0) {
        cir_drm_boxes_free(&drm);
        return ret;
    }
    ret = cir_publish_asset(&asset, &dest);
    cir_drm_boxes_free(&drm);
    if (ret < 0) {
        snprintf(s->ctx->result->error, sizeof(s->ctx->result->error),
                 "publishing the manifests failed: %s", cir_strerror(ret));
        return ret;
    }
    fill_result(s, &asset);
    cir_log_info(&s->ctx->log, "published %zu renditions, %.3f s", n,
                 asset.duration);
    return 0;
}
