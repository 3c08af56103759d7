/*
 * Pixels of a decoded still (private to the transcoder): its EXIF
 * orientation, turned upright, its transparency, flattened onto white.
 */
#ifndef CIR_IMAGE_ORIENT_H
#define CIR_IMAGE_ORIENT_H

#include <libavutil/frame.h>

/* EXIF orientation 1..8 from the decoder's metadata; 1 if absent. */
int cir_image_orientation(const AVFrame *f);

/*
 * Turns an RGBA frame upright into a new frame: o is the EXIF orientation
 * (2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise,
 * 7 transverse, 8 rotate 90 counter-clockwise).
 */
int cir_image_orient_rgba(const AVFrame *src, int o, AVFrame **out);

/* Does any pixel of an RGBA frame have alpha below 255? */
int cir_image_any_transparent(const AVFrame *rgba);

/* Composites RGBA onto white, in place, leaving it opaque. */
void cir_image_flatten_white(AVFrame *rgba);

#endif
