/*
 * A follower (cmaf_live_follow.c) through the live pipeline: audio next to
 * video waits for the video's start, keeps what overlaps it, drops and
 * counts what lies wholly before it, and starts alone when no video comes.
 */
#include "cmaf_live_fixture.h"

TestSuite(cmaf_live_follow, .init = setup, .fini = teardown, .timeout = 120);

Test(cmaf_live_follow, audio_sent_before_the_video_at_the_same_time_is_kept)
{
    cir_onair_t *live = open_ms_stream();
    int audio = push_av(live, 0, 0, 5000, 48000);

    cr_assert_eq(cir_onair_finish(live), 0);
    /* the audio frame at 0 came before the video's first keyframe, at 0 */
    cr_assert_eq(repairs_of(live, "audio", "before_video"), 0);
    cir_onair_close(&live);
    cr_assert_eq(stored_samples("audio"), audio);
}

Test(cmaf_live_follow, audio_wholly_before_the_video_is_dropped_and_counted)
{
    cir_onair_t *live = open_ms_stream();
    int64_t v0 = 70;
    int audio = push_av(live, v0, 0, 5000, 48000), early = 0;
    json_int_t dropped;

    /* frames ending at or before the first video frame (the next one's
     * start); the one overlapping it starts segment 0 */
    while (llround((early + 1) * 1024000.0 / 48000) <= v0) {
        early++;
    }
    cr_assert_gt(early, 0);
    cr_assert_eq(cir_onair_finish(live), 0);
    dropped = repairs_of(live, "audio", "before_video");
    cir_onair_close(&live);
    cr_assert_eq(dropped, early);
    cr_assert_eq(stored_samples("audio"), audio - early);
}

Test(cmaf_live_follow, audio_whose_video_never_comes_is_kept)
{
    /* a video track declared, no video frame: the audio waits for it, not
     * past a segment's limit, then starts alone with what it kept */
    cir_onair_t *live = open_ms_stream();
    int k;

    for (k = 0; k * 1024000.0 / 48000 < 8000; k++) {
        push_one(live, 0, llround(k * 1024000.0 / 48000), 21, 1);
    }
    cr_assert_eq(cir_onair_finish(live), 0);
    cr_assert_eq(repairs_of(live, "audio", "before_video"), 0);
    cir_onair_close(&live);
    cr_assert_eq(stored_samples("audio"), k);
}
