/*
 * A lease on a claimed job (an SQS message's visibility timeout): when to
 * extend it, how long one extension may take, and when it counts as lost.
 * Pure decisions on a monotonic clock in microseconds; cirrus-worker makes
 * the calls (one thread per job, so no job's extension waits on another's).
 *
 * The lease is granted at granted_us, the moment the claiming call was
 * sent: the service starts its visibility clock later, so the end computed
 * here is never later than the real one.  An extension is due a third of
 * the window after the last confirmed one (sent_us + window / 3), so two
 * more chances remain before the end.  One attempt may take attempt_max_us
 * at most and never runs past the fence; a failed or timed-out attempt is
 * tried again after retry_us.  The fence is margin_us before the lease's
 * end: with no extension confirmed by then the lease is EXPIRED and the job
 * must stop, before another worker can receive the message.  An extension
 * the service refuses because the claim is gone (SQS MessageNotInflight,
 * ReceiptHandleIsInvalid: the caller passes CIR_ENOTFOUND) REVOKES it at
 * once.
 */
#ifndef CIR_LEASE_H
#define CIR_LEASE_H

#include <stdint.h>

typedef struct {
    int64_t window_us;      /* the visibility timeout */
    int64_t margin_us;      /* the fence: this long before the end */
    int64_t attempt_max_us; /* one extension call at most */
    int64_t retry_us;       /* after a failed attempt */
} cir_lease_config_t;

typedef enum {
    CIR_LEASE_HELD = 0,
    CIR_LEASE_REVOKED, /* the service says the claim is gone */
    CIR_LEASE_EXPIRED  /* no extension confirmed before the fence */
} cir_lease_state_t;

typedef enum {
    CIR_LEASE_WAIT,   /* nothing to do before *at_us */
    CIR_LEASE_EXTEND, /* extend now, the call bounded to *at_us (a length) */
    CIR_LEASE_STOP    /* lost: stop the job (state says why) */
} cir_lease_action_t;

typedef struct {
    cir_lease_config_t cfg;
    int64_t end_us; /* the lease's end as far as is confirmed */
    int64_t due_us; /* the next extension attempt */
    cir_lease_state_t state;
    int extensions; /* confirmed */
    int failures;   /* attempts that confirmed nothing */
} cir_lease_t;

/* 0, or CIR_EINVAL unless every field is positive (margin may be 0) and
 * margin_us is at most a third of the window. */
int cir_lease_config_check(const cir_lease_config_t *cfg);

/* The defaults for a window: the margin is min(margin_us, window / 6), an
 * attempt min(attempt_max_us, window / 6), a retry min(1 s, window / 12). */
void cir_lease_config_for(cir_lease_config_t *cfg, int64_t window_us,
                          int64_t margin_us, int64_t attempt_max_us);

void cir_lease_init(cir_lease_t *l, const cir_lease_config_t *cfg,
                    int64_t granted_us);

cir_lease_action_t cir_lease_next(cir_lease_t *l, int64_t now_us,
                                  int64_t *at_us);

/* The outcome of an extension sent at sent_us, known at now_us: 0
 * confirmed, CIR_ENOTFOUND revoked, another error confirms nothing. */
void cir_lease_done(cir_lease_t *l, int64_t sent_us, int64_t now_us, int ret);

const char *cir_lease_state_name(cir_lease_state_t state);

#endif
