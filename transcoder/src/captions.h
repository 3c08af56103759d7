/*
 * CEA-608/708 closed captions (ATSC A/53 cc_data) carried from the source's
 * decoded frames to the prepared frames the rungs encode.
 *
 * The H.264/HEVC decoders export a frame's cc_data as AV_FRAME_DATA_A53_CC
 * side data.  The preparation graph's fps filter drops and repeats frames,
 * and side data would be dropped or repeated with them: a caption byte pair
 * lost, or a control code doubled (a doubled 608 character is shown twice).
 * So the side data is taken off every decoded frame before the graph
 * (cir_captions_take), queued with the frame's time, and every prepared
 * frame gets the queued cc_data whose time comes before the next prepared
 * frame (cir_captions_give): each byte pair goes out exactly once, in
 * order, on the frame nearest its time.  The 608 null pairs that pad the
 * caption channel are not queued (frames merged by the fps filter would
 * overflow a frame's 31 triplets with them); a frame with nothing to say
 * gets a null pair for each field instead.
 *
 * Tested by tests/unit/test_transcoder_captions.c.
 */
#ifndef CIR_CAPTIONS_H
#define CIR_CAPTIONS_H

#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/rational.h>

/* cc_data triplets one frame's SEI may carry (cc_count is 5 bits). */
#define CIR_CAPTIONS_PER_FRAME 31
/* Triplets queued at most: some seconds of the fastest cc_data (708 at
 * 60 fps: 10 a frame); beyond it the oldest are dropped, said in the log. */
#define CIR_CAPTIONS_QUEUE 4096

typedef struct cir_captions cir_captions_t;

int cir_captions_open(cir_captions_t **out);
void cir_captions_free(cir_captions_t **cp);

/* Takes the cc_data off a decoded frame (f->pts in tb) and queues its
 * valid triplets; a frame without any is left as it was.  Returns 0, or
 * CIR_ENOMEM. */
int cir_captions_take(cir_captions_t *c, AVFrame *f, AVRational tb);

/* Gives a prepared frame (f->pts in tb, frame_duration in tb) the queued
 * triplets timed before its end, at most CIR_CAPTIONS_PER_FRAME; the rest
 * wait for the next frame.  Before its end, not its middle: the last
 * prepared frame ends with the video, so nothing is left over at the end
 * of the stream; a pair may go out one frame early, far within what 608
 * decoders expect.  Side data the frame already had is replaced.
 * Returns 0, or CIR_ENOMEM. */
int cir_captions_give(cir_captions_t *c, AVFrame *f, AVRational tb,
                      int64_t frame_duration);

/* 1 once a decoded frame had a valid cc_data triplet (a null pair too). */
int cir_captions_seen(const cir_captions_t *c);
/* Triplets taken in, given out, and dropped (queue full or left over). */
void cir_captions_counts(const cir_captions_t *c, uint64_t *in, uint64_t *out,
                         uint64_t *dropped);
/* Triplets still queued (none once the last frame took them). */
int cir_captions_pending(const cir_captions_t *c);

#endif
