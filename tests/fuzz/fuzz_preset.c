/* Fuzzes preset parsing: a preset document is configuration from outside
 * (a job can name any file in the presets folder). */
#include <stddef.h>
#include <stdint.h>

#include "cir_preset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cir_preset_t p;
    char err[256];

    (void)cir_preset_parse((const char *)data, size, &p, err, sizeof(err));
    return 0;
}
