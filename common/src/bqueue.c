/*
 * The bounded queue and its drop policy (cir_bqueue.h says which item
 * goes when).  A ring of item_size-byte slots beside their metadata.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cir_bqueue.h"
#include "cir_error.h"

int
cir_bqueue_limits_check(const cir_bqueue_limits_t *lim)
{
    if (lim->items < 1 || lim->soft_items < 1 || lim->soft_items > lim->items ||
        lim->bytes < 1 || lim->soft_bytes < 1 || lim->soft_bytes > lim->bytes ||
        lim->key_reserve > SIZE_MAX / 4 ||
        lim->control_reserve > SIZE_MAX / 4 || lim->items > SIZE_MAX / 4) {
        return CIR_EINVAL;
    }
    return 0;
}

int
cir_bqueue_init(cir_bqueue_t *q, const cir_bqueue_limits_t *lim,
                size_t item_size)
{
    size_t cap;

    memset(q, 0, sizeof(*q));
    if (item_size == 0 || cir_bqueue_limits_check(lim) < 0) {
        return CIR_EINVAL;
    }
    cap = lim->items + lim->key_reserve + lim->control_reserve;
    if (cap > SIZE_MAX / item_size) {
        return CIR_EINVAL;
    }
    q->items = malloc(cap * item_size);
    q->meta = calloc(cap, sizeof(*q->meta));
    if (q->items == NULL || q->meta == NULL) {
        cir_bqueue_free(q);
        return CIR_ENOMEM;
    }
    q->lim = *lim;
    q->item_size = item_size;
    q->cap = cap;
    return 0;
}

void
cir_bqueue_free(cir_bqueue_t *q)
{
    free(q->items);
    free(q->meta);
    memset(q, 0, sizeof(*q));
}

/* The ring slot of the i-th item from the oldest. */
static size_t
slot(const cir_bqueue_t *q, size_t i)
{
    return (q->head + i) % q->cap;
}

static unsigned char *
item_at(const cir_bqueue_t *q, size_t i)
{
    return q->items + slot(q, i) * q->item_size;
}

/* Whether a data item of size bytes fits with n items and b bytes queued. */
static int
data_fits(const cir_bqueue_t *q, const cir_bqueue_meta_t *m, size_t n, size_t b)
{
    const cir_bqueue_limits_t *l = &q->lim;

    if (m->key) {
        return n < l->items + l->key_reserve && b <= l->bytes &&
               m->size <= l->bytes - b;
    }
    return n < l->soft_items && b <= l->soft_bytes &&
           m->size <= l->soft_bytes - b;
}

/* The newest non-key data item past the oldest; 0: none. */
static size_t
eviction_candidate(const cir_bqueue_t *q)
{
    for (size_t i = q->count; i-- > 1;) {
        const cir_bqueue_meta_t *m = &q->meta[slot(q, i)];
        if (!m->control && !m->key) {
            return i;
        }
    }
    return 0;
}

/* Takes the i-th item out (i >= 1), closing the hole. */
static void
evict(cir_bqueue_t *q, size_t i, void *out, cir_bqueue_meta_t *out_meta)
{
    cir_bqueue_meta_t m = q->meta[slot(q, i)];

    memcpy(out, item_at(q, i), q->item_size);
    if (out_meta != NULL) {
        *out_meta = m;
    }
    for (size_t j = i; j + 1 < q->count; j++) {
        memcpy(item_at(q, j), item_at(q, j + 1), q->item_size);
        q->meta[slot(q, j)] = q->meta[slot(q, j + 1)];
    }
    q->count--;
    q->bytes -= m.size;
    q->meta[slot(q, i - 1)].gap_after = 1;
    if (m.chained) {
        q->wait_key[m.track % CIR_BQUEUE_TRACKS] = 1;
    }
}

static void
append(cir_bqueue_t *q, const void *item, const cir_bqueue_meta_t *m)
{
    cir_bqueue_meta_t *at = &q->meta[slot(q, q->count)];

    memcpy(item_at(q, q->count), item, q->item_size);
    *at = *m;
    at->gap_after = 0;
    if (at->control) {
        at->size = 0;
        at->key = at->chained = 0;
    } else if (at->key) {
        q->wait_key[at->track % CIR_BQUEUE_TRACKS] = 0;
    }
    q->count++;
    q->bytes += at->size;
}

static cir_bqueue_result_t
refuse(cir_bqueue_t *q, const cir_bqueue_meta_t *m)
{
    if (q->count > 0) {
        q->meta[slot(q, q->count - 1)].gap_after = 1;
    }
    if (m->chained) {
        q->wait_key[m->track % CIR_BQUEUE_TRACKS] = 1;
    }
    return CIR_BQUEUE_REFUSED;
}

cir_bqueue_result_t
cir_bqueue_push(cir_bqueue_t *q, const void *item, const cir_bqueue_meta_t *m,
                void *evicted, cir_bqueue_meta_t *evicted_meta)
{
    size_t victim;

    if (m->control) {
        if (q->count >= q->cap) {
            return CIR_BQUEUE_REFUSED;
        }
        append(q, item, m);
        return CIR_BQUEUE_QUEUED;
    }
    if (!m->key && q->wait_key[m->track % CIR_BQUEUE_TRACKS]) {
        return refuse(q, m);
    }
    if (data_fits(q, m, q->count, q->bytes)) {
        append(q, item, m);
        return CIR_BQUEUE_QUEUED;
    }
    if (!m->key || (victim = eviction_candidate(q)) == 0 ||
        !data_fits(q, m, q->count - 1,
                   q->bytes - q->meta[slot(q, victim)].size)) {
        return refuse(q, m);
    }
    evict(q, victim, evicted, evicted_meta);
    append(q, item, m);
    return CIR_BQUEUE_EVICTED;
}

int
cir_bqueue_pop(cir_bqueue_t *q, void *item, cir_bqueue_meta_t *m)
{
    if (q->count == 0) {
        return 0;
    }
    memcpy(item, item_at(q, 0), q->item_size);
    if (m != NULL) {
        *m = q->meta[q->head];
    }
    q->bytes -= q->meta[q->head].size;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return 1;
}

void *
cir_bqueue_peek(cir_bqueue_t *q)
{
    return q->count > 0 ? item_at(q, 0) : NULL;
}

void *
cir_bqueue_newest(cir_bqueue_t *q)
{
    return q->count > 0 ? item_at(q, q->count - 1) : NULL;
}

size_t
cir_bqueue_count(const cir_bqueue_t *q)
{
    return q->count;
}

size_t
cir_bqueue_bytes(const cir_bqueue_t *q)
{
    return q->bytes;
}

int
cir_bqueue_waits_for_key(const cir_bqueue_t *q, unsigned track)
{
    return q->wait_key[track % CIR_BQUEUE_TRACKS];
}
