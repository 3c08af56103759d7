/*
 * Closed captions from the decoded frames to the prepared ones: a queue of
 * cc_data triplets with their times.  See captions.h.
 *
 * Tested by tests/unit/test_transcoder_captions.c.
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>

#include "captions.h"
#include "cir_error.h"

typedef struct {
    int64_t time_us; /* the source frame's time */
    uint8_t b[3];    /* cc_valid/cc_type, cc_data_1, cc_data_2 */
} triplet_t;

struct cir_captions {
    triplet_t q[CIR_CAPTIONS_QUEUE];
    int head, count;
    int seen;
    int64_t last_us; /* the time of the last frame taken from */
    uint64_t in, out, dropped;
};

int
cir_captions_open(cir_captions_t **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : CIR_ENOMEM;
}

void
cir_captions_free(cir_captions_t **cp)
{
    free(*cp);
    *cp = NULL;
}

/* A triplet worth carrying: marked valid, and for 608 (cc_type 0 or 1)
 * not the null pair (0x80 0x80, nulls with their odd parity) that pads
 * the caption channel when nothing is said. */
static int
worth_carrying(const uint8_t *t)
{
    int valid = (t[0] & 0x04) != 0, type = t[0] & 0x03;

    if (!valid) {
        return 0;
    }
    return type >= 2 || (t[1] & 0x7f) != 0 || (t[2] & 0x7f) != 0;
}

static void
enqueue(cir_captions_t *c, int64_t time_us, const uint8_t *t)
{
    triplet_t *slot;

    if (c->count == CIR_CAPTIONS_QUEUE) {
        /* a stalled video (no prepared frame for seconds): the oldest go */
        c->head = (c->head + 1) % CIR_CAPTIONS_QUEUE;
        c->count--;
        c->dropped++;
    }
    slot = &c->q[(c->head + c->count) % CIR_CAPTIONS_QUEUE];
    slot->time_us = time_us;
    memcpy(slot->b, t, 3);
    c->count++;
}

int
cir_captions_take(cir_captions_t *c, AVFrame *f, AVRational tb)
{
    AVFrameSideData *sd = av_frame_get_side_data(f, AV_FRAME_DATA_A53_CC);
    int64_t time_us;

    if (sd == NULL) {
        return 0;
    }
    /* a frame without a time keeps its captions, with its predecessor's */
    time_us = f->pts == AV_NOPTS_VALUE
                  ? c->last_us
                  : av_rescale_q(f->pts, tb, AV_TIME_BASE_Q);
    c->last_us = time_us;
    for (size_t i = 0; i + 3 <= sd->size; i += 3) {
        /* a caption channel, even one that only pads, is a caption
         * channel: the renditions carry and signal it */
        c->seen |= (sd->data[i] & 0x04) != 0;
        if (worth_carrying(sd->data + i)) {
            enqueue(c, time_us, sd->data + i);
            c->in++;
        }
    }
    av_frame_remove_side_data(f, AV_FRAME_DATA_A53_CC);
    return 0;
}

/* The null pairs of both 608 fields: once a source has captions, every
 * frame carries cc_data, as broadcast streams do (and as players and
 * ffprobe expect to see from the first frame). */
static int
give_padding(AVFrame *f)
{
    static const uint8_t nulls[6] = {0xfc, 0x80, 0x80, 0xfd, 0x80, 0x80};
    AVFrameSideData *sd =
        av_frame_new_side_data(f, AV_FRAME_DATA_A53_CC, sizeof(nulls));

    if (sd == NULL) {
        return CIR_ENOMEM;
    }
    memcpy(sd->data, nulls, sizeof(nulls));
    return 0;
}

int
cir_captions_give(cir_captions_t *c, AVFrame *f, AVRational tb,
                  int64_t frame_duration)
{
    int64_t end_us = av_rescale_q(f->pts + frame_duration, tb, AV_TIME_BASE_Q);
    AVFrameSideData *sd;
    int n = 0;

    av_frame_remove_side_data(f, AV_FRAME_DATA_A53_CC);
    while (n < c->count && n < CIR_CAPTIONS_PER_FRAME &&
           c->q[(c->head + n) % CIR_CAPTIONS_QUEUE].time_us < end_us) {
        n++;
    }
    if (n == 0) {
        return c->seen ? give_padding(f) : 0;
    }
    sd = av_frame_new_side_data(f, AV_FRAME_DATA_A53_CC, (size_t)n * 3);
    if (sd == NULL) {
        return CIR_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        memcpy(sd->data + i * 3, c->q[c->head].b, 3);
        c->head = (c->head + 1) % CIR_CAPTIONS_QUEUE;
    }
    c->count -= n;
    c->out += (uint64_t)n;
    return 0;
}

int
cir_captions_seen(const cir_captions_t *c)
{
    return c->seen;
}

void
cir_captions_counts(const cir_captions_t *c, uint64_t *in, uint64_t *out,
                    uint64_t *dropped)
{
    *in = c->in;
    *out = c->out;
    *dropped = c->dropped;
}

int
cir_captions_pending(const cir_captions_t *c)
{
    return c->count;
}
