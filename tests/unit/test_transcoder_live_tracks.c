/*
 * The live pipeline's tracks (live_tracks.c): a recording published as a
 * VOD asset, non-AAC audio transcoded to AAC, rungs that wait for the
 * picture size.
 */
#include "live_abr_fixture.h"

/* The whole text of workdir/rel (malloc'd). */
static char *
slurp(const char *rel)
{
    char path[512], *text = NULL;
    size_t len = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", workdir, rel);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s written", rel);
    cr_assert_geq(getdelim(&text, &len, '\0', f), 0);
    fclose(f);
    return text;
}

/* A recording is published like a VOD job's output (README "Output
 * layout"): everything under rec/v/<version>/, the version's own manifests
 * with relative URIs, and the asset's top-level pair pointing into it. */
Test(transcoder_live_tracks, recording_is_a_vod_asset, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("in.mp4");
    char uri[128], *text, cmd[768], version[64] = "", rel[256];
    const char *v;
    FILE *f;

    snprintf(uri, sizeof(uri), "file://%s/rec", workdir);
    j.live.record_uri = uri;
    j.live.window = 3; /* the live store keeps fewer segments than made */
    cr_assert_eq(cir_onair_run_file(&j), 0);
    text = slurp("rec/master.m3u8");
    v = strstr(text, "\nv/");
    cr_assert_not_null(v, "the top-level master points into a version:\n%s",
                       text);
    cr_assert_eq(sscanf(v + 3, "%63[A-Za-z0-9_-]/", version), 1);
    cr_assert(cir_version_id_is_valid(version));
    snprintf(cmd, sizeof(cmd), "\nv/%s/180p/index.m3u8", version);
    cr_assert_not_null(strstr(text, cmd), "%s", text);
    snprintf(cmd, sizeof(cmd), "\nv/%s/90p/index.m3u8", version);
    cr_assert_not_null(strstr(text, cmd));
    snprintf(cmd, sizeof(cmd), "URI=\"v/%s/audio/index.m3u8\"", version);
    cr_assert_not_null(strstr(text, cmd));
    free(text);
    text = slurp("rec/manifest.mpd");
    snprintf(cmd, sizeof(cmd), "<BaseURL>v/%s/</BaseURL>", version);
    cr_assert_not_null(strstr(text, cmd), "%s", text);
    free(text);
    /* the version's own master, relative as a VOD job's */
    snprintf(rel, sizeof(rel), "rec/v/%s/master.m3u8", version);
    text = slurp(rel);
    cr_assert_not_null(strstr(text, "\n180p/index.m3u8"));
    cr_assert_not_null(strstr(text, "\nvideo/index.m3u8"));
    cr_assert_not_null(strstr(text, "URI=\"audio/index.m3u8\""));
    free(text);
    const char *files[] = {"manifest.mpd",    "180p/init.mp4",
                           "180p/seg-1.m4s",  "180p/seg-3.m4s",
                           "90p/seg-3.m4s",   "video/seg-3.m4s",
                           "audio/seg-3.m4s", "90p/index.m3u8"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(rel, sizeof(rel), "rec/v/%s/%s", version, files[i]);
        cr_assert(exists(rel), "%s exists", rel);
    }
    /* nothing else at the top: the two manifests and v/ */
    cr_assert(!exists("rec/180p/init.mp4") && !exists("rec/audio/seg-1.m4s"));
    /* ffmpeg reads the whole recording back through the top-level master:
     * 5 s of it */
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -show_entries format=duration -of csv=p=0 "
             "-select_streams v:0 %s/rec/master.m3u8 > %s/dur.txt",
             workdir, workdir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/dur.txt", workdir);
    f = fopen(cmd, "r");
    double dur = 0;
    cr_assert_eq(fscanf(f, "%lf", &dur), 1);
    fclose(f);
    cr_assert_float_eq(dur, 5.0, 0.3, "recorded %.3f s", dur);
}

Test(transcoder_live_tracks, mp3_audio_is_transcoded_to_aac, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("mp3.mp4");
    const char *names[] = {"video", "90p", "audio"};
    cir_live_index_t a;

    make_input("libmp3lame", "mp3.mp4", 5);
    cr_assert_eq(cir_onair_run_file(&j), 0);
    cr_assert_eq(load("audio", &a), 0);
    cr_assert_str_eq(a.track.codecs, "mp4a.40.2");
    cr_assert_eq(a.track.sample_rate, 48000);
    cir_live_index_free(&a);
    assert_aligned(names, 3, 3);
}

/* A publisher may declare the video before its size is known (a bare
 * sequence header): the rungs start at the first decoded frame.  (The
 * passthrough's muxer needs the size up front.) */
Test(transcoder_live_tracks, rungs_start_when_the_size_is_known, .init = setup,
     .fini = teardown, .timeout = 60)
{
    cir_onair_file_job_t j = job("in.mp4");
    const char *names[] = {"180p", "90p"};
    cir_onair_t *live = NULL;
    AVFormatContext *ic = NULL;
    AVCodecParameters *par = avcodec_parameters_alloc();
    int vi = open_file(j.input, &ic);

    cr_assert_geq(avcodec_parameters_copy(par, ic->streams[vi]->codecpar), 0);
    par->width = par->height = 0;
    j.live.passthrough = 0;
    cr_assert_eq(cir_onair_open(&live, &j.live), 0);
    cr_assert_eq(cir_onair_add_video(live, par, ic->streams[vi]->time_base,
                                     ic->streams[vi]->avg_frame_rate, 0),
                 0);
    push_video_packets(live, ic, vi);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    assert_aligned(names, 2, 3);
    avformat_close_input(&ic);
    avcodec_parameters_free(&par);
}
