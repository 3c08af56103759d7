/*
 * A live rendition's health in episodes: a window of the stats (every
 * STATS_WINDOW_US) in which the rendition dropped frames starts an episode
 * of degradation, logged once; HEALTH_RECOVER_WINDOWS windows in a row
 * without a drop end it, logged once with what it cost.  Pure (the
 * caller gives the counts and the time).
 *
 * Tested by tests/unit/test_transcoder_live_abr.c.
 */
#ifndef CIR_LIVE_HEALTH_H
#define CIR_LIVE_HEALTH_H

#include <stdint.h>

#define HEALTH_RECOVER_WINDOWS 3

typedef struct {
    int degraded;            /* in an episode */
    int64_t since_us;        /* when it started */
    uint64_t dropped_seen;   /* the drop count at the last window */
    uint64_t dropped_before; /* the drop count when it started */
    int clean_windows;       /* windows without a drop since the last one */
} live_health_t;

typedef enum {
    LIVE_HEALTH_SAME = 0,
    LIVE_HEALTH_DEGRADED, /* an episode starts */
    LIVE_HEALTH_RECOVERED /* it ends */
} live_health_event_t;

/* One stats window: dropped is the rendition's drop count so far. */
live_health_event_t live_health_window(live_health_t *h, uint64_t dropped,
                                       int64_t now_us);
/* Frames dropped in the current (or last) episode. */
uint64_t live_health_episode_dropped(const live_health_t *h);

#endif
