/*
 * The size a still's header declares, read from its first bytes (a PNG,
 * JPEG or WebP header), for a still the capped probe could not size.
 * Private to the transcoder.
 */
#ifndef CIR_IMAGE_SNIFF_H
#define CIR_IMAGE_SNIFF_H

#include <stdatomic.h>

/*
 * The size a PNG, JPEG or WebP header declares, read from the file's
 * first bytes (path: local, or s3:// through ranged GETs).  Only used when
 * the probe could not fill the codec parameters (its decoder refused a
 * size past max_pixels): it tells a too-large image from a broken one.
 * Returns 0 and the size, or < 0.
 */
int cir_image_sniff_size(const char *path, const atomic_int *cancel,
                         long long *w, long long *h);

#endif
