/* The bounded queue and its one drop policy (cir_bqueue.h). */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cir_bqueue.h"
#include "cir_error.h"

/* an item as a user keeps it: an id of its own beside a pointer */
typedef struct {
    int id;
    void *payload;
} item_t;

static const cir_bqueue_meta_t KEY = {.key = 1, .size = 10};
static const cir_bqueue_meta_t DELTA = {.size = 10};
static const cir_bqueue_meta_t CONTROL = {.control = 1};

static cir_bqueue_result_t
push(cir_bqueue_t *q, int id, cir_bqueue_meta_t m, item_t *evicted)
{
    item_t it = {.id = id, .payload = &it};
    item_t ev = {0};
    cir_bqueue_result_t r = cir_bqueue_push(q, &it, &m, &ev, NULL);

    if (evicted != NULL) {
        *evicted = ev;
    }
    return r;
}

static int
pop_id(cir_bqueue_t *q, cir_bqueue_meta_t *m)
{
    item_t it;

    cr_assert_eq(cir_bqueue_pop(q, &it, m), 1, "an item to pop");
    return it.id;
}

static void
init(cir_bqueue_t *q, cir_bqueue_limits_t lim)
{
    cr_assert_eq(cir_bqueue_init(q, &lim, sizeof(item_t)), 0);
}

/* Limits in items only: {items, soft_items, bytes, soft_bytes, key
 * reserve, control reserve}. */
static cir_bqueue_limits_t
counted(size_t items, size_t soft, size_t key_reserve, size_t control_reserve)
{
    return (cir_bqueue_limits_t){items,    soft,        SIZE_MAX,
                                 SIZE_MAX, key_reserve, control_reserve};
}

/* Pushes one item a letter of script, ids counting from first: d an item
 * that is not a key, k a key, c a control item; each followed by what
 * must happen to it: + queued, - refused, ^ queued after an eviction. */
static void
pushes(cir_bqueue_t *q, int first, const char *script)
{
    for (const char *c = script; c[0] != '\0' && c[1] != '\0'; c += 2) {
        cir_bqueue_meta_t m = c[0] == 'k' ? KEY : c[0] == 'c' ? CONTROL : DELTA;
        cir_bqueue_result_t want = c[1] == '+'   ? CIR_BQUEUE_QUEUED
                                   : c[1] == '-' ? CIR_BQUEUE_REFUSED
                                                 : CIR_BQUEUE_EVICTED;
        cr_assert_eq(push(q, first, m, NULL), want, "item %d (%c)", first,
                     c[0]);
        first++;
    }
}

/* Items of given sizes (key or not), ids counting from first, and what
 * must happen to each. */
typedef struct {
    size_t size;
    int key;
    cir_bqueue_result_t want;
} sized_t;

static void
push_sized(cir_bqueue_t *q, int first, const sized_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cir_bqueue_meta_t m = {.size = items[i].size, .key = items[i].key};
        cr_assert_eq(push(q, first + (int)i, m, NULL), items[i].want,
                     "item %d (%zu bytes)", first + (int)i, items[i].size);
    }
}

Test(bqueue, items_leave_in_order_with_their_metadata)
{
    cir_bqueue_t q;
    cir_bqueue_meta_t m;

    init(&q, counted(4, 4, 0, 0));
    /* around the ring more than once */
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(push(&q, 1, KEY, NULL), CIR_BQUEUE_QUEUED);
        cr_assert_eq(
            push(&q, 2, (cir_bqueue_meta_t){.size = 7, .track = 1}, NULL),
            CIR_BQUEUE_QUEUED);
        cr_assert_eq(push(&q, 3, CONTROL, NULL), CIR_BQUEUE_QUEUED);
        cr_assert_eq(cir_bqueue_count(&q), 3);
        cr_assert_eq(cir_bqueue_bytes(&q), 17, "control items weigh nothing");
        cr_assert_eq(((item_t *)cir_bqueue_peek(&q))->id, 1);
        cr_assert_eq(((item_t *)cir_bqueue_newest(&q))->id, 3);
        cr_assert_eq(pop_id(&q, &m), 1);
        cr_assert(m.key && !m.control && m.size == 10);
        cr_assert_eq(pop_id(&q, &m), 2);
        cr_assert(!m.key && m.track == 1 && m.size == 7);
        cr_assert_eq(pop_id(&q, &m), 3);
        cr_assert(m.control);
    }
    cr_assert_eq(cir_bqueue_bytes(&q), 0);
    cr_assert_null(cir_bqueue_peek(&q));
    cr_assert_null(cir_bqueue_newest(&q));
    cr_assert_eq(cir_bqueue_pop(&q, &(item_t){0}, NULL), 0);
    cir_bqueue_free(&q);
}

Test(bqueue, non_key_items_stop_at_the_soft_count_keys_at_the_hard_one)
{
    cir_bqueue_t q;

    init(&q, counted(4, 2, 0, 0));
    pushes(&q, 1, "d+d+d-k+k+");
    cr_assert_eq(cir_bqueue_count(&q), 4);
    cir_bqueue_free(&q);
}

Test(bqueue, bytes_are_bounded_and_an_eviction_makes_room_or_nothing_goes)
{
    cir_bqueue_t q;
    cir_bqueue_limits_t lim = {
        .items = 100, .soft_items = 100, .bytes = 100, .soft_bytes = 40};
    cir_bqueue_meta_t evm;
    item_t ev;

    init(&q, lim);
    /* 41 bytes > the soft 40; then exactly the soft limit, exactly the
     * hard one; past the soft bytes a small non-key item is refused */
    push_sized(&q, 1,
               (const sized_t[]){{30, 0, CIR_BQUEUE_QUEUED},
                                 {11, 0, CIR_BQUEUE_REFUSED},
                                 {10, 0, CIR_BQUEUE_QUEUED},
                                 {60, 1, CIR_BQUEUE_QUEUED},
                                 {1, 0, CIR_BQUEUE_REFUSED},
                                 /* evicting 3 frees 10, not 20 */
                                 {20, 1, CIR_BQUEUE_REFUSED}},
               6);
    cr_assert_eq(cir_bqueue_count(&q), 3, "nothing evicted");
    cr_assert_eq(cir_bqueue_bytes(&q), 100);
    /* a key of 10 fits once 3 is gone */
    cr_assert_eq(cir_bqueue_push(&q, &(item_t){.id = 7},
                                 &(cir_bqueue_meta_t){.size = 10, .key = 1},
                                 &ev, &evm),
                 CIR_BQUEUE_EVICTED);
    cr_assert_eq(ev.id, 3);
    cr_assert_eq(evm.size, 10);
    cr_assert_eq(cir_bqueue_bytes(&q), 100);
    cir_bqueue_free(&q);
}

Test(bqueue, control_items_use_the_reserves_and_are_never_evicted)
{
    cir_bqueue_t q;

    init(&q, counted(2, 2, 1, 2));
    pushes(&q, 1, "d+d+c+c+c+c-"); /* 2 + 1 + 2 slots in all */
    cir_bqueue_free(&q);

    /* a key finding controls only (and the oldest) behind it: refused */
    init(&q, counted(2, 2, 0, 1));
    pushes(&q, 1, "d+c+k-");
    cr_assert_eq(pop_id(&q, NULL), 1);
    cr_assert_eq(pop_id(&q, NULL), 2);
    cir_bqueue_free(&q);
}

Test(bqueue, a_key_evicts_the_newest_non_key_item_but_never_the_oldest)
{
    cir_bqueue_t q;
    cir_bqueue_meta_t m;
    item_t ev;

    /* a live rung's shape: 3 frames, 1 more for keyframes */
    init(&q, counted(3, 3, 1, 0));
    pushes(&q, 1, "d+d+d+d-k+"); /* 5: the reserve */
    cr_assert_eq(push(&q, 6, KEY, &ev), CIR_BQUEUE_EVICTED);
    cr_assert_eq(ev.id, 3, "the newest non-key item");
    cr_assert_eq(push(&q, 7, KEY, &ev), CIR_BQUEUE_EVICTED);
    cr_assert_eq(ev.id, 2);
    /* only the oldest is not a key now: it stays, the key goes */
    cr_assert_eq(push(&q, 8, KEY, NULL), CIR_BQUEUE_REFUSED);
    cr_assert_eq(pop_id(&q, &m), 1);
    cr_assert(m.gap_after, "2 and 3 were evicted after it");
    cr_assert_eq(pop_id(&q, &m), 5);
    cr_assert_eq(pop_id(&q, &m), 6);
    cr_assert_eq(pop_id(&q, &m), 7);
    cr_assert(m.gap_after, "8 was refused after it");
    cir_bqueue_free(&q);
}

Test(bqueue, a_chained_track_waits_for_a_key_after_a_drop)
{
    cir_bqueue_t q;
    cir_bqueue_meta_t video = {.size = 10, .chained = 1, .track = 1};
    cir_bqueue_meta_t vkey = {.size = 10, .chained = 1, .track = 1, .key = 1};
    cir_bqueue_meta_t audio = {.size = 10, .key = 1, .track = 0};
    cir_bqueue_meta_t frame = {.size = 10, .track = 2}; /* not chained */

    init(&q, counted(8, 2, 0, 0));
    cr_assert_eq(push(&q, 1, video, NULL), CIR_BQUEUE_QUEUED);
    cr_assert_eq(push(&q, 2, video, NULL), CIR_BQUEUE_QUEUED);
    cr_assert_eq(push(&q, 3, video, NULL), CIR_BQUEUE_REFUSED, "soft");
    cr_assert(cir_bqueue_waits_for_key(&q, 1));
    cr_assert_eq(pop_id(&q, NULL), 1);
    cr_assert_eq(pop_id(&q, NULL), 2);
    /* room again, but the track waits for its key; the others do not */
    cr_assert_eq(push(&q, 4, video, NULL), CIR_BQUEUE_REFUSED);
    cr_assert_eq(push(&q, 5, audio, NULL), CIR_BQUEUE_QUEUED);
    cr_assert_eq(push(&q, 6, frame, NULL), CIR_BQUEUE_QUEUED);
    cr_assert_eq(push(&q, 7, vkey, NULL), CIR_BQUEUE_QUEUED);
    cr_assert(!cir_bqueue_waits_for_key(&q, 1));
    cr_assert_eq(pop_id(&q, NULL), 5);
    cr_assert_eq(pop_id(&q, NULL), 6);
    cr_assert_eq(push(&q, 8, video, NULL), CIR_BQUEUE_QUEUED);
    cir_bqueue_free(&q);

    /* an unchained track goes on at once after a drop */
    init(&q, counted(1, 1, 0, 0));
    cr_assert_eq(push(&q, 1, frame, NULL), CIR_BQUEUE_QUEUED);
    cr_assert_eq(push(&q, 2, frame, NULL), CIR_BQUEUE_REFUSED);
    cr_assert(!cir_bqueue_waits_for_key(&q, 2));
    cr_assert_eq(pop_id(&q, NULL), 1);
    cr_assert_eq(push(&q, 3, frame, NULL), CIR_BQUEUE_QUEUED);
    cir_bqueue_free(&q);
}

Test(bqueue, evicting_a_chained_item_makes_its_track_wait_for_a_key)
{
    cir_bqueue_t q;
    cir_bqueue_meta_t video = {.size = 10, .chained = 1, .track = 1};
    cir_bqueue_meta_t audio = {.size = 10, .key = 1, .track = 0};
    item_t ev;

    init(&q, counted(3, 3, 0, 0));
    cr_assert_eq(push(&q, 1, video, NULL), CIR_BQUEUE_QUEUED);
    cr_assert_eq(push(&q, 2, video, NULL), CIR_BQUEUE_QUEUED);
    cr_assert_eq(push(&q, 3, audio, NULL), CIR_BQUEUE_QUEUED);
    cr_assert_eq(push(&q, 4, audio, &ev), CIR_BQUEUE_EVICTED);
    cr_assert_eq(ev.id, 2);
    cr_assert(cir_bqueue_waits_for_key(&q, 1));
    cr_assert_eq(pop_id(&q, NULL), 1);
    cr_assert_eq(push(&q, 5, video, NULL), CIR_BQUEUE_REFUSED);
    cir_bqueue_free(&q);
}

Test(bqueue, eviction_keeps_the_ring_in_order_across_its_end)
{
    cir_bqueue_t q;
    item_t ev;
    int want[] = {3, 4, 6, 7, 8};

    init(&q, counted(4, 4, 1, 0));
    pushes(&q, 1, "k+k+k+");
    cr_assert_eq(pop_id(&q, NULL), 1);
    cr_assert_eq(pop_id(&q, NULL), 2); /* the head is at slot 2 of 5 */
    pushes(&q, 4, "k+d+k+k+");         /* 7: the reserve */
    cr_assert_eq(push(&q, 8, KEY, &ev), CIR_BQUEUE_EVICTED);
    cr_assert_eq(ev.id, 5);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_eq(pop_id(&q, NULL), want[i]);
    }
    cr_assert_eq(cir_bqueue_count(&q), 0);
    cr_assert_eq(cir_bqueue_bytes(&q), 0);
    cir_bqueue_free(&q);
}

Test(bqueue, limits_are_checked_and_a_zeroed_queue_is_empty)
{
    cir_bqueue_t q = {0};
    item_t it;

    cr_assert_eq(cir_bqueue_pop(&q, &it, NULL), 0);
    cr_assert_null(cir_bqueue_peek(&q));
    cir_bqueue_free(&q);
    cr_assert_eq(cir_bqueue_limits_check(&(cir_bqueue_limits_t){
                     .items = 4, .soft_items = 4, .bytes = 1, .soft_bytes = 1}),
                 0);
    cr_assert_eq(cir_bqueue_limits_check(&(cir_bqueue_limits_t){
                     .items = 4, .soft_items = 5, .bytes = 1, .soft_bytes = 1}),
                 CIR_EINVAL, "soft items above the hard ones");
    cr_assert_eq(cir_bqueue_limits_check(&(cir_bqueue_limits_t){
                     .items = 4, .soft_items = 4, .bytes = 1, .soft_bytes = 2}),
                 CIR_EINVAL, "soft bytes above the hard ones");
    cr_assert_eq(cir_bqueue_limits_check(&(cir_bqueue_limits_t){
                     .items = 0, .soft_items = 0, .bytes = 1, .soft_bytes = 1}),
                 CIR_EINVAL, "no room");
    cr_assert_eq(cir_bqueue_init(&q,
                                 &(cir_bqueue_limits_t){.items = 1,
                                                        .soft_items = 1,
                                                        .bytes = 1,
                                                        .soft_bytes = 1},
                                 0),
                 CIR_EINVAL, "items of no size");
    cr_assert_eq(cir_bqueue_init(&q,
                                 &(cir_bqueue_limits_t){.items = SIZE_MAX / 8,
                                                        .soft_items = 1,
                                                        .bytes = 1,
                                                        .soft_bytes = 1},
                                 64),
                 CIR_EINVAL, "slots past the address space");
}
