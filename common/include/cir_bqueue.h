/*
 * A bounded queue between a producer that must never wait and a consumer
 * that may fall behind (ingest's hand-over to a stream's pipeline thread,
 * a live rung's frames), with the one drop policy both use.  Pure: no
 * lock (the caller holds its own around every call), no codec: an item
 * is the caller's bytes (item_size of them, copied in and out), told
 * apart only by the metadata pushed with it.
 *
 * Items are data (a packet or a frame of a track) or control (anything
 * else the consumer must see in order: a new sequence header, a break).
 * A data item is a key when its track can start again from it (a video
 * keyframe; every audio packet); it is chained when it needs its track's
 * items before it (compressed video: decoding breaks after a gap).
 *
 * The drop policy, with n the items queued (every kind) and b the data
 * bytes queued:
 *   - A control item is queued while n < items + key_reserve +
 *     control_reserve, else refused.  It never evicts and is never evicted.
 *   - A data item of a track waiting for a key (below) is refused unless
 *     it is a key.
 *   - A non-key data item is queued while n < soft_items and its size
 *     fits under soft_bytes (soft_items <= items, soft_bytes <= bytes),
 *     else refused: the producer's newest non-key item is the first to go.
 *   - A key data item is queued while n < items + key_reserve and its
 *     size fits under bytes.  When it does not fit, the newest queued
 *     non-key data item (never the oldest item: the consumer may have
 *     looked at it, cir_bqueue_peek) is evicted if that alone makes room;
 *     otherwise the key is refused.  Evicting the newest non-key item is
 *     safe for a chained track: every item of its track queued after it
 *     is a key.
 *   - After a chained item is refused or evicted, its track waits for a
 *     key: its non-key items are refused until one of its keys is queued.
 *   - A refused or evicted data item sets gap_after on the item queued
 *     before it (the newest one, for a refusal): items after it are
 *     missing, which a consumer timing samples wants to know.
 * At most one item is evicted per push.  Keys are thus kept as long as
 * room can be made for them (segments stay aligned), and memory stays
 * bounded by (items + key_reserve + control_reserve) * item_size plus
 * bytes.
 */
#ifndef CIR_BQUEUE_H
#define CIR_BQUEUE_H

#include <stddef.h>

#define CIR_BQUEUE_TRACKS 4

typedef struct {
    size_t items;           /* data items queued at most (>= 1) */
    size_t soft_items;      /* non-key data items only below this many */
    size_t bytes;           /* data bytes queued at most (>= 1) */
    size_t soft_bytes;      /* non-key data items only below this many */
    size_t key_reserve;     /* slots past items for keys and control */
    size_t control_reserve; /* slots past those for control items only */
} cir_bqueue_limits_t;

typedef struct {
    size_t size;    /* data: bytes counted against the limits */
    unsigned track; /* data: < CIR_BQUEUE_TRACKS */
    int key;        /* data: its track can start again from it */
    int chained;    /* data: needs its track's items before it */
    int control;    /* a control item (size, track, key unused) */
    int gap_after;  /* set by the queue: data items after it dropped */
} cir_bqueue_meta_t;

typedef enum {
    CIR_BQUEUE_QUEUED = 0,
    CIR_BQUEUE_REFUSED = 1, /* not queued: the item is still the caller's */
    CIR_BQUEUE_EVICTED = 2  /* queued, after evicting one (handed back) */
} cir_bqueue_result_t;

typedef struct {
    cir_bqueue_limits_t lim;
    size_t item_size;
    size_t cap; /* slots: items + key_reserve + control_reserve */
    unsigned char *items;
    cir_bqueue_meta_t *meta;
    size_t head, count, bytes;
    unsigned char wait_key[CIR_BQUEUE_TRACKS];
} cir_bqueue_t;

/* 0, or CIR_EINVAL naming nothing: soft limits above the hard ones, or a
 * zero limit. */
int cir_bqueue_limits_check(const cir_bqueue_limits_t *lim);
/* An empty queue for items of item_size bytes.  A zeroed cir_bqueue_t is
 * an empty queue without slots that can be freed. */
int cir_bqueue_init(cir_bqueue_t *q, const cir_bqueue_limits_t *lim,
                    size_t item_size);
/* Frees the slots; whatever is still queued must be popped first (the
 * queue does not know how to free an item). */
void cir_bqueue_free(cir_bqueue_t *q);
/* Copies item in (or not, by the policy above).  On CIR_BQUEUE_EVICTED
 * the evicted item is copied to evicted (item_size bytes, the caller's to
 * free) and its metadata to evicted_meta (may be NULL). */
cir_bqueue_result_t cir_bqueue_push(cir_bqueue_t *q, const void *item,
                                    const cir_bqueue_meta_t *m, void *evicted,
                                    cir_bqueue_meta_t *evicted_meta);
/* The oldest item into item (its metadata into m, may be NULL): 1, or 0
 * when the queue is empty. */
int cir_bqueue_pop(cir_bqueue_t *q, void *item, cir_bqueue_meta_t *m);
/* The oldest / newest item in place (NULL when empty): the caller may
 * change its own bytes, not the metadata. */
void *cir_bqueue_peek(cir_bqueue_t *q);
void *cir_bqueue_newest(cir_bqueue_t *q);
size_t cir_bqueue_count(const cir_bqueue_t *q);
size_t cir_bqueue_bytes(const cir_bqueue_t *q);
/* Whether a track's non-key items are refused until its next key. */
int cir_bqueue_waits_for_key(const cir_bqueue_t *q, unsigned track);

#endif
