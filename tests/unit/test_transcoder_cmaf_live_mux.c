/*
 * The live packager's muxer (cmaf_live_mux.c) through the live pipeline:
 * what it hands the store demuxes whole, init and segments, and a new
 * codec configuration whose timescale differs (an encoder restarted at
 * another sample rate) gets a new init while the store keeps its own
 * timescale, without a frame lost after the video's new start.
 */
#include "cmaf_live_fixture.h"

TestSuite(cmaf_live_mux, .init = setup, .fini = teardown, .timeout = 120);

Test(cmaf_live_mux,
     a_new_audio_sample_rate_mid_stream_loses_no_frame_after_the_video)
{
    cir_onair_t *live = open_ms_stream();
    AVCodecParameters *par = avcodec_parameters_alloc();
    cir_live_index_t vidx, aidx;
    char dir[256];
    int audio, disc = -1;

    audio = push_av(live, 0, 0, 3000, 48000);
    /* an encoder restarted at 44.1 kHz (the muxer's timescale changes; the
     * store keeps its own), its video 24 ms after its audio */
    avcodec_parameters_copy(par, asrc.par);
    par->sample_rate = 44100;
    par->extradata[0] = (uint8_t)((par->extradata[0] & 0xf8) | (4 >> 1));
    par->extradata[1] = (uint8_t)((par->extradata[1] & 0x7f) | ((4 & 1) << 7));
    cr_assert_eq(cir_onair_reconfigure(live, 1, vsrc.par), 0);
    cr_assert_eq(cir_onair_reconfigure(live, 0, par), 0);
    audio += push_av(live, 3064, 3040, 6000, 44100);
    cr_assert_eq(cir_onair_finish(live), 0);
    /* the one frame wholly before the video's new start is dropped and
     * counted (every rendition breaks at the same MSN, starting where the
     * video does); none is lost to the timescale change */
    cr_assert_eq(repairs_of(live, "audio", "before_video"), 1);
    cir_onair_close(&live);
    avcodec_parameters_free(&par);
    cr_assert_eq(stored_samples("audio"), audio - 1);

    /* the new audio segment starts with the frame overlapping the video's
     * start, same number as the video's, in the store's timescale */
    snprintf(dir, sizeof(dir), "%s/live/s/video", workdir);
    cr_assert_eq(cir_live_index_load(dir, &vidx), 0);
    snprintf(dir, sizeof(dir), "%s/live/s/audio", workdir);
    cr_assert_eq(cir_live_index_load(dir, &aidx), 0);
    cr_assert_eq(aidx.nb_segments, vidx.nb_segments);
    for (size_t i = 0; i < aidx.nb_segments; i++) {
        cr_assert_eq(aidx.segments[i].discontinuity,
                     vidx.segments[i].discontinuity, "segment %zu", i);
        if (aidx.segments[i].discontinuity) {
            disc = (int)i;
        }
        if (i > 0) {
            cr_assert_gt(aidx.segments[i].start, aidx.segments[i - 1].start);
        }
    }
    cr_assert_geq(disc, 1);
    cr_assert_eq(aidx.timescale, 48000);
    cr_assert_gt(aidx.segments[disc].start, 3040 * 48);
    cr_assert_leq(aidx.segments[disc].start, 3064 * 48);
    cr_assert_eq(aidx.segments[disc].init_id, 2);
    cir_live_index_free(&vidx);
    cir_live_index_free(&aidx);
}
