/*
 * A live rendition's health in episodes (live_health.h).
 *
 * Tested by tests/unit/test_transcoder_live_abr.c.
 */
#include "live_health.h"

live_health_event_t
live_health_window(live_health_t *h, uint64_t dropped, int64_t now_us)
{
    uint64_t fresh = dropped - h->dropped_seen;

    h->dropped_seen = dropped;
    if (!h->degraded) {
        if (fresh == 0) {
            return LIVE_HEALTH_SAME;
        }
        h->degraded = 1;
        h->since_us = now_us;
        h->dropped_before = dropped - fresh;
        h->clean_windows = 0;
        return LIVE_HEALTH_DEGRADED;
    }
    h->clean_windows = fresh > 0 ? 0 : h->clean_windows + 1;
    if (h->clean_windows < HEALTH_RECOVER_WINDOWS) {
        return LIVE_HEALTH_SAME;
    }
    h->degraded = 0;
    return LIVE_HEALTH_RECOVERED;
}

uint64_t
live_health_episode_dropped(const live_health_t *h)
{
    return h->dropped_seen - h->dropped_before;
}
