/* Suggestions for a preset name that names no file (preset_names.c). */
#ifndef CIR_PRESET_NAMES_H
#define CIR_PRESET_NAMES_H

#include <stddef.h>

/* "; did you mean \"web\"?; presets: hevc live web" into out (truncated to
 * size): the closest name in dir, if one is close, and the folder's list. */
void cir_preset_suggest(const char *dir, const char *name, char *out,
                        size_t size);

#endif
