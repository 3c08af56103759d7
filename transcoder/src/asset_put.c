/* Writing an asset's files with origin/'s Cache-Control (asset_put.h). */
#include "asset_put.h"

#include "cir_error.h"
#include "cir_origin.h"

int
cir_asset_cache_control(cir_asset_place_t place, const char *rel, char *out,
                        size_t size)
{
    cir_cache_kind_t kind;

    if (rel == NULL) {
        return CIR_EINVAL;
    }
    kind = cir_origin_asset_cache_kind(rel, place == CIR_ASSET_VERSION);
    return cir_origin_cache_control(kind, NULL, out, size);
}

int
cir_asset_put(cir_store_t *store, cir_asset_place_t place, const char *rel,
              const void *data, size_t len)
{
    char cc[64];
    cir_store_put_opts_t opts = {.cache_control = cc};
    int ret;

    if ((ret = cir_asset_cache_control(place, rel, cc, sizeof(cc))) < 0) {
        return ret;
    }
    return cir_store_put(store, rel, data, len, &opts);
}
