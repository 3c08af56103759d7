/* Lease decisions (see cir_lease.h): no clock, no I/O. */
#include "cir_lease.h"

#include <stddef.h>

#include "cir_error.h"

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int
cir_lease_config_check(const cir_lease_config_t *cfg)
{
    if (cfg == NULL || cfg->window_us <= 0 || cfg->margin_us < 0 ||
        cfg->attempt_max_us <= 0 || cfg->retry_us <= 0 ||
        cfg->margin_us > cfg->window_us / 3) {
        return CIR_EINVAL;
    }
    return 0;
}

void
cir_lease_config_for(cir_lease_config_t *cfg, int64_t window_us,
                     int64_t margin_us, int64_t attempt_max_us)
{
    cfg->window_us = window_us;
    cfg->margin_us = min64(margin_us, window_us / 6);
    cfg->attempt_max_us = min64(attempt_max_us, window_us / 6);
    cfg->retry_us = min64(1000000, window_us / 12);
}

void
cir_lease_init(cir_lease_t *l, const cir_lease_config_t *cfg,
               int64_t granted_us)
{
    *l = (cir_lease_t){.cfg = *cfg,
                       .end_us = granted_us + cfg->window_us,
                       .due_us = granted_us + cfg->window_us / 3,
                       .state = CIR_LEASE_HELD};
}

cir_lease_action_t
cir_lease_next(cir_lease_t *l, int64_t now_us, int64_t *at_us)
{
    int64_t fence = l->end_us - l->cfg.margin_us;

    if (l->state != CIR_LEASE_HELD) {
        return CIR_LEASE_STOP;
    }
    if (now_us >= fence) {
        l->state = CIR_LEASE_EXPIRED;
        return CIR_LEASE_STOP;
    }
    if (now_us < l->due_us) {
        *at_us = min64(l->due_us, fence);
        return CIR_LEASE_WAIT;
    }
    *at_us = min64(l->cfg.attempt_max_us, fence - now_us);
    return CIR_LEASE_EXTEND;
}

void
cir_lease_done(cir_lease_t *l, int64_t sent_us, int64_t now_us, int ret)
{
    if (l->state != CIR_LEASE_HELD) {
        return;
    }
    if (ret == 0) {
        /* the service restarts the window when it handles the call, which
         * is after sent_us: this end is never late */
        if (sent_us + l->cfg.window_us > l->end_us) {
            l->end_us = sent_us + l->cfg.window_us;
        }
        l->due_us = sent_us + l->cfg.window_us / 3;
        l->extensions++;
    } else if (ret == CIR_ENOTFOUND) {
        l->state = CIR_LEASE_REVOKED;
    } else {
        l->failures++;
        l->due_us = now_us + l->cfg.retry_us;
    }
}

const char *
cir_lease_state_name(cir_lease_state_t state)
{
    switch (state) {
    case CIR_LEASE_HELD:
        return "held";
    case CIR_LEASE_REVOKED:
        return "revoked";
    case CIR_LEASE_EXPIRED:
        return "expired";
    }
    return "?";
}
