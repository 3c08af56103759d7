/* The preset option table's shape, shared by the table (preset_options.c)
 * and the parser (preset.c); not a public interface. */
#ifndef CIR_PRESET_OPTIONS_H
#define CIR_PRESET_OPTIONS_H

#include <stddef.h>

typedef enum {
    OPT_INT,
    OPT_DOUBLE,
    OPT_STRING,
    OPT_BOOL,
    OPT_ARRAY, /* elements described by elem[] */
} opt_type_t;

#define F_REQUIRED 0x1 /* no default: the document must give it */
#define F_ZERO_OK  0x2 /* 0 means "automatic", allowed beside [min, max] */

typedef struct opt opt_t;

struct opt {
    const char *path; /* "video.gop_seconds"; "" for a scalar array element */
    opt_type_t type;
    size_t offset;
    size_t size; /* OPT_STRING: the buffer size */
    double def;  /* OPT_INT, OPT_DOUBLE, OPT_BOOL */
    const char *def_str;
    double min, max; /* OPT_ARRAY: max is the most elements */
    int flags;
    const char *(*check)(const char *value); /* OPT_STRING: NULL or why not */
    const opt_t *elem;                       /* OPT_ARRAY */
    size_t nb_elem;
    size_t elem_size;
    size_t count_offset;
    const char *help;
};

/* Every field of cir_preset_t, in help order. */
extern const opt_t preset_options[];
extern const size_t preset_nb_options;

/* 1 when s is 1 to max of a-z 0-9 _ - (a preset's or a rung's name). */
int preset_name_matches(const char *s, size_t max);

#endif
