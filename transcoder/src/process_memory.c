/*
 * The allocator settings of a process that runs VOD jobs.
 *
 * glibc raises its mmap threshold to the size of each mapped block freed
 * (up to 32 MiB), so after the first segment buffers and keyframe packets
 * are freed, every later one of that size comes from the allocating
 * thread's arena, and with a dozen encoder, scaler and packager threads
 * the arenas keep tens of MiB resident that no thread is using.  A fixed
 * threshold (which also stops the dynamic one) maps those blocks on their
 * own: 18 MiB less peak RSS on the web ladder of bench/vod_ladder for no
 * more page faults, the per-frame pictures being pooled (rung.c).  The
 * live ingest chooses the opposite (cirrus_ingest.c: its part buffers
 * are reused at a steady rate, where faults cost more than residency).
 */
#include <stdlib.h> /* (defines __GLIBC__) */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cir_transcode.h"

#define MMAP_THRESHOLD (128 * 1024)

void
cir_transcode_tune_memory(void)
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
}
