/*
 * Closed captions across the preparation graph (captions.c): every cc_data
 * triplet of the source reaches exactly one prepared frame, in order, when
 * the fps filter keeps, drops or repeats frames; the per-frame limit; the
 * padding of a frame with nothing to say; a source without captions.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <libavutil/frame.h>

#include "captions.h"

static const AVRational TB = {1, 30};

static cir_captions_t *c;

static void
setup(void)
{
    cr_assert_eq(cir_captions_open(&c), 0);
}

static void
teardown(void)
{
    cir_captions_free(&c);
}

TestSuite(transcoder_captions, .init = setup, .fini = teardown);

/* A decoded frame at pts carrying a field-1 pair (a, b) and field-2
 * nulls; a == 0: field-1 nulls. */
static AVFrame *
source_frame(int64_t pts, uint8_t a, uint8_t b)
{
    AVFrame *f = av_frame_alloc();
    AVFrameSideData *sd;

    cr_assert_not_null(f);
    f->pts = pts;
    sd = av_frame_new_side_data(f, AV_FRAME_DATA_A53_CC, 9);
    cr_assert_not_null(sd);
    memcpy(sd->data,
           (uint8_t[]){0xfc, a ? a : 0x80, a ? b : 0x80, 0xfd, 0x80, 0x80, 0xfa,
                       0x00, 0x00},
           9);
    return f;
}

static void
take(int64_t pts, uint8_t a, uint8_t b)
{
    AVFrame *f = source_frame(pts, a, b);

    cr_assert_eq(cir_captions_take(c, f, TB), 0);
    cr_assert_null(av_frame_get_side_data(f, AV_FRAME_DATA_A53_CC),
                   "the side data must leave the decoded frame");
    av_frame_free(&f);
}

/* Gives a prepared frame at pts (duration 1 in tb) its cc_data; appends
 * the field-1 data bytes it got (nulls left out) to got. */
static void
give(AVRational tb, int64_t pts, char *got, size_t n)
{
    AVFrame *f = av_frame_alloc();
    AVFrameSideData *sd;
    size_t len = strlen(got);

    cr_assert_not_null(f);
    f->pts = pts;
    cr_assert_eq(cir_captions_give(c, f, tb, 1), 0);
    sd = av_frame_get_side_data(f, AV_FRAME_DATA_A53_CC);
    for (size_t i = 0; sd && i + 3 <= sd->size; i += 3) {
        cr_assert(sd->data[i] & 0x04, "only valid triplets");
        if ((sd->data[i] & 3) == 0 && sd->data[i + 1] != 0x80 && len + 2 < n) {
            got[len++] = (char)sd->data[i + 1];
            got[len++] = (char)sd->data[i + 2];
        }
    }
    got[len] = '\0';
    av_frame_free(&f);
}

/* Same rate: frame n gets frame n's pair, nothing else. */
Test(transcoder_captions, same_rate_frame_for_frame)
{
    const char *text = "HELLO CIRRUS";
    char got[64] = "";

    for (int n = 0; n < 6; n++) {
        take(n, (uint8_t)text[2 * n], (uint8_t)text[2 * n + 1]);
        give(TB, n, got, sizeof(got));
        cr_assert_eq(strlen(got), (size_t)(2 * n + 2));
    }
    cr_assert_str_eq(got, text);
    cr_assert_eq(cir_captions_pending(c), 0);
}

/* 30 -> 15 fps: the fps filter keeps every other frame; the dropped
 * frames' pairs ride on the next kept frame, in order, none lost. */
Test(transcoder_captions, dropped_frames_lose_nothing)
{
    const char *text = "HELLO CIRRUS";
    const AVRational tb15 = {1, 15};
    char got[64] = "";

    for (int n = 0; n < 6; n++) {
        take(n, (uint8_t)text[2 * n], (uint8_t)text[2 * n + 1]);
        if (n % 2 == 1) {
            /* the kept frame at 15 fps pts (n - 1) / 2 covers the
             * source frames before its end: n - 1 and n */
            give(tb15, (n - 1) / 2, got, sizeof(got));
        }
    }
    cr_assert_str_eq(got, text);
    cr_assert_eq(cir_captions_pending(c), 0);
}

/* A gap in the source (frame 2 missing): the fps filter repeats frame 1
 * at pts 2; the repeat carries nothing of frame 1's again. */
Test(transcoder_captions, repeated_frames_repeat_nothing)
{
    char got[64] = "";
    uint64_t in, out, dropped;

    take(0, 'H', 'E');
    give(TB, 0, got, sizeof(got));
    take(1, 'L', 'L');
    give(TB, 1, got, sizeof(got));
    give(TB, 2, got, sizeof(got)); /* the repeat */
    take(3, 'O', ' ');
    give(TB, 3, got, sizeof(got));
    cr_assert_str_eq(got, "HELLO ");
    cir_captions_counts(c, &in, &out, &dropped);
    cr_assert_eq(in, 3);
    cr_assert_eq(out, 3);
    cr_assert_eq(dropped, 0);
}

/* The repeat still carries cc_data: null pairs for both fields. */
Test(transcoder_captions, a_frame_with_nothing_to_say_gets_null_pairs)
{
    AVFrame *f = av_frame_alloc();
    AVFrameSideData *sd;

    take(0, 0, 0); /* nulls only: a caption channel that pads */
    cr_assert(cir_captions_seen(c));
    cr_assert_eq(cir_captions_pending(c), 0);
    f->pts = 0;
    cr_assert_eq(cir_captions_give(c, f, TB, 1), 0);
    sd = av_frame_get_side_data(f, AV_FRAME_DATA_A53_CC);
    cr_assert_not_null(sd);
    cr_assert_eq(sd->size, 6);
    cr_assert_eq(
        memcmp(sd->data, (uint8_t[]){0xfc, 0x80, 0x80, 0xfd, 0x80, 0x80}, 6),
        0);
    av_frame_free(&f);
}

/* More than a frame's SEI can hold (cc_count is 5 bits): 31 now, the rest
 * on the next frame. */
Test(transcoder_captions, at_most_31_triplets_a_frame)
{
    char got[128] = "";

    for (int i = 0; i < 40; i++) {
        take(0, (uint8_t)('A' + i % 26), 'x');
    }
    give(TB, 0, got, sizeof(got));
    cr_assert_eq(strlen(got), 62);
    give(TB, 1, got, sizeof(got));
    cr_assert_eq(strlen(got), 80);
    cr_assert_eq(cir_captions_pending(c), 0);
}

/* A source without captions: frames pass untouched, nothing is added. */
Test(transcoder_captions, no_captions_no_side_data)
{
    AVFrame *f = av_frame_alloc();

    f->pts = 0;
    cr_assert_eq(cir_captions_take(c, f, TB), 0);
    cr_assert_eq(cir_captions_give(c, f, TB, 1), 0);
    cr_assert_null(av_frame_get_side_data(f, AV_FRAME_DATA_A53_CC));
    cr_assert_not(cir_captions_seen(c));
    av_frame_free(&f);
}

/* A video that stalls with captions still coming: the queue keeps the
 * newest CIR_CAPTIONS_QUEUE and counts the dropped. */
Test(transcoder_captions, a_full_queue_drops_the_oldest)
{
    uint64_t in, out, dropped;

    for (int i = 0; i < CIR_CAPTIONS_QUEUE + 5; i++) {
        take(0, 'A', 'B');
    }
    cir_captions_counts(c, &in, &out, &dropped);
    cr_assert_eq(in, CIR_CAPTIONS_QUEUE + 5);
    cr_assert_eq(dropped, 5);
    cr_assert_eq(cir_captions_pending(c), CIR_CAPTIONS_QUEUE);
}
