/*
 * Live key rotation: the crypto periods' keys (see live_keys.h).
 *
 * Tested by tests/unit/test_transcoder_live_keys.c and
 * tests/integration/live_encryption.test.mjs.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cir_clock.h"
#include "cir_error.h"
#include "cir_log.h"
#include "cir_speke.h"
#include "live_keys.h"

#define SLOTS    4       /* periods kept: the current, the next, spares */
#define RETRY_US 1000000 /* a failed request is made again after this */

typedef struct {
    int state; /* 0 empty, 1 asked, 2 ready, 3 failed */
    uint32_t period;
    int error;
    int64_t failed_us;
    cir_encryption_t enc;
    /* the segments it was refused for (not there yet): up to refused_max;
     * once there, it is used from from_msn on, in every rendition */
    int has_refused, has_from;
    uint64_t refused_max, from_msn;
} slot_t;

struct cir_live_keys {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    uint32_t rotate;
    int have_first;
    uint32_t fetched;
    cir_encryption_t base;
    slot_t slots[SLOTS];
    cir_log_ctx_t log;
};

static slot_t *
slot_of(cir_live_keys_t *k, uint32_t p)
{
    return &k->slots[p % SLOTS];
}

/* A period to ask for (state 1), or NULL. */
static slot_t *
next_asked(cir_live_keys_t *k)
{
    for (int i = 0; i < SLOTS; i++) {
        if (k->slots[i].state == 1) {
            return &k->slots[i];
        }
    }
    return NULL;
}

/* The key provider asked for one period, without the lock. */
static int
fetch(cir_live_keys_t *k, uint32_t p, cir_encryption_t *out)
{
    char err[600];
    char kid[33];
    int ret;

    *out = k->base;
    out->speke.key_id_given = 0; /* a key ID of its own */
    out->speke.has_period = 1;
    out->speke.key_period = p;
    memset(out->provider_pssh_len, 0, sizeof(out->provider_pssh_len));
    ret = cir_speke_resolve(out, err, sizeof(err));
    if (ret < 0) {
        cir_log_error(&k->log, "key rotation: period %u: %s", (unsigned)p, err);
        cir_encryption_clear(out);
        return ret;
    }
    cir_encryption_hex(out->key_id, kid);
    cir_log_info(&k->log, "key rotation: period %u, key ID %s", (unsigned)p,
                 kid);
    return 0;
}

static void *
run(void *arg)
{
    cir_live_keys_t *k = arg;
    cir_encryption_t *enc = malloc(sizeof(*enc));

    pthread_mutex_lock(&k->mu);
    while (!k->stop && enc != NULL) {
        slot_t *s = next_asked(k);
        uint32_t p;
        int ret;
        if (s == NULL) {
            pthread_cond_wait(&k->cv, &k->mu);
            continue;
        }
        p = s->period;
        pthread_mutex_unlock(&k->mu);
        ret = fetch(k, p, enc);
        pthread_mutex_lock(&k->mu);
        k->fetched++;
        if (s->period != p || s->state != 1) {
            continue; /* the slot went to another period meanwhile */
        }
        if (ret == 0) {
            s->enc = *enc;
            s->state = 2;
        } else {
            s->state = 3;
            s->error = ret;
            s->failed_us = cir_clock_mono_us(cir_clock_system());
        }
    }
    pthread_mutex_unlock(&k->mu);
    if (enc != NULL) {
        cir_encryption_clear(enc);
        free(enc);
    }
    return NULL;
}

/* Period p asked for unless it is there, asked or failed just now (the
 * lock held). */
static void
ask(cir_live_keys_t *k, uint32_t p)
{
    slot_t *s = slot_of(k, p);

    if (s->period == p && (s->state == 1 || s->state == 2)) {
        return;
    }
    if (s->period == p && s->state == 3 &&
        cir_clock_mono_us(cir_clock_system()) - s->failed_us < RETRY_US) {
        return;
    }
    if (s->period != p || s->state == 0) {
        s->has_refused = 0;
        s->has_from = 0;
    }
    cir_encryption_clear(&s->enc);
    s->period = p;
    s->state = 1;
    pthread_cond_signal(&k->cv);
}

/* Whether a ready key may be used for segment msn (the lock held).  The
 * renditions open their segments one after another: one that asked before
 * the key came went on without it, so it is used from the segment after
 * the last one refused (or from the first asked for once there), the same
 * segment in every rendition. */
static int
usable_from(slot_t *s, uint64_t msn)
{
    if (!s->has_from) {
        s->from_msn =
            s->has_refused && s->refused_max >= msn ? s->refused_max + 1 : msn;
        s->has_from = 1;
    }
    return msn >= s->from_msn;
}

static void
refuse(slot_t *s, uint64_t msn)
{
    if (!s->has_refused || msn > s->refused_max) {
        s->refused_max = msn;
        s->has_refused = 1;
    }
}

int
cir_live_keys_get(cir_live_keys_t *k, uint32_t p, uint64_t msn,
                  cir_encryption_t *out)
{
    slot_t *s;
    int ret;

    pthread_mutex_lock(&k->mu);
    if (!k->have_first) {
        /* the first period: the stream's own key */
        s = slot_of(k, p);
        s->enc = k->base;
        s->period = p;
        s->state = 2;
        s->has_refused = 0;
        s->has_from = 0;
        k->have_first = 1;
    }
    s = slot_of(k, p);
    if (s->period != p || s->state != 2) {
        ask(k, p);
        refuse(s, msn);
        ret = s->state == 3 ? s->error : CIR_EAGAIN;
    } else if (!usable_from(s, msn)) {
        ret = CIR_EAGAIN; /* another rendition went on without it here */
    } else {
        *out = s->enc;
        ret = 0;
    }
    if (p < UINT32_MAX) {
        ask(k, p + 1); /* one period ahead */
    }
    pthread_mutex_unlock(&k->mu);
    return ret;
}

int
cir_live_keys_open(cir_live_keys_t **out, const cir_encryption_t *base,
                   uint32_t rotate)
{
    cir_live_keys_t *k;

    *out = NULL;
    if (base == NULL || rotate == 0 || base->speke.url[0] == '\0') {
        return CIR_EINVAL;
    }
    if ((k = calloc(1, sizeof(*k))) == NULL) {
        return CIR_ENOMEM;
    }
    k->base = *base;
    k->rotate = rotate;
    k->log = (cir_log_ctx_t){.component = "live"};
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (pthread_create(&k->thread, NULL, run, k) != 0) {
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->cv);
        cir_encryption_clear(&k->base);
        free(k);
        return CIR_ENOMEM;
    }
    *out = k;
    return 0;
}

uint32_t
cir_live_keys_rotate(const cir_live_keys_t *k)
{
    return k->rotate;
}

uint32_t
cir_live_keys_fetched(const cir_live_keys_t *k)
{
    uint32_t n;

    pthread_mutex_lock((pthread_mutex_t *)&k->mu);
    n = k->fetched;
    pthread_mutex_unlock((pthread_mutex_t *)&k->mu);
    return n;
}

void
cir_live_keys_free(cir_live_keys_t **kp)
{
    cir_live_keys_t *k = *kp;

    if (k == NULL) {
        return;
    }
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    /* a request under way ends within the AWS client's timeouts */
    pthread_join(k->thread, NULL);
    for (int i = 0; i < SLOTS; i++) {
        cir_encryption_clear(&k->slots[i].enc);
    }
    cir_encryption_clear(&k->base);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
    *kp = NULL;
}
