/*
 * Writing one file an asset publishes: the store writes it, origin/'s cache
 * policy (cir_origin_asset_cache_kind, cir_origin_cache_control) says the
 * Cache-Control it is sent with, so an object served from S3 through
 * CloudFront and the same file served by nginx carry the same lifetime.
 */
#ifndef CIR_ASSET_PUT_H
#define CIR_ASSET_PUT_H

#include <stddef.h>

#include "cir_storage.h"

/* Where a store is rooted in an asset's output layout (README "Published
 * outputs never change"). */
typedef enum {
    CIR_ASSET_TOP = 0, /* the asset: master.m3u8 and manifest.mpd, rewritten
                        * in place when a new version is published */
    CIR_ASSET_VERSION  /* <asset>/v/<id>/: written once, never changed */
} cir_asset_place_t;

/* The Cache-Control of rel written in a store at place, into out. */
int cir_asset_cache_control(cir_asset_place_t place, const char *rel, char *out,
                            size_t size);
/* cir_store_put() with that Cache-Control. */
int cir_asset_put(cir_store_t *store, cir_asset_place_t place, const char *rel,
                  const void *data, size_t len);

#endif
