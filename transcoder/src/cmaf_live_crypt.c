/*
 * Live CMAF packaging, encryption (see cmaf_live_internal.h): each part
 * (moof + mdat) and each init segment goes through the VOD packager's
 * Common Encryption rewriter (cenc.h) on its way to the live store, and
 * the live index carries what the renderers signal (the key ID, the DRM
 * systems' pssh boxes: cir_live_key_t), never the key.
 *
 * One key per stream: the key record is set on the writer before the
 * first init segment and applies to every init after it (a new codec
 * configuration reopens the rewriter with the new codec, same key).
 *
 * Tested by tests/unit/test_transcoder_cmaf_live_crypt.c and
 * tests/integration/live_encryption.test.mjs.
 */
#include <stdlib.h>
#include <string.h>

#include <libavutil/mem.h>

#include "cenc.h"
#include "cir_error.h"
#include "cmaf_live_internal.h"
#include "drm.h"

/* The key record for the index: the same boxes cenc.c puts into each
 * init (drm.c builds both, a key provider's replacing ours). */
static int
describe_key(const cir_encryption_t *enc, cir_live_key_t *k)
{
    cir_drm_boxes_t drm;
    int ret;

    memset(k, 0, sizeof(*k));
    k->scheme = (uint8_t)enc->scheme;
    memcpy(k->key_id, enc->key_id, 16);
    k->systems =
        enc->drm.systems ? enc->drm.systems : CIR_DRM_BIT(CIR_DRM_CLEARKEY);
    if ((ret = cir_drm_boxes_build(&drm, enc)) < 0) {
        cir_drm_boxes_free(&drm);
        return ret;
    }
    for (int i = 0; i < CIR_DRM_NB && ret == 0; i++) {
        if (drm.pssh[i].len > sizeof(k->pssh[i])) {
            ret = CIR_ELIMIT;
        } else if (drm.pssh[i].len > 0) {
            memcpy(k->pssh[i], drm.pssh[i].data, drm.pssh[i].len);
            k->pssh_len[i] = (uint16_t)drm.pssh[i].len;
        }
    }
    if (ret == 0 && drm.playready_pro.len > sizeof(k->playready_pro)) {
        ret = CIR_ELIMIT;
    } else if (ret == 0 && drm.playready_pro.len > 0) {
        memcpy(k->playready_pro, drm.playready_pro.data, drm.playready_pro.len);
        k->playready_pro_len = (uint16_t)drm.playready_pro.len;
    }
    snprintf(k->fairplay_key_uri, sizeof(k->fairplay_key_uri), "%s",
             enc->drm.fairplay_key_uri);
    cir_drm_boxes_free(&drm);
    return ret;
}

int
cir_cmaf_live_crypt_open(cir_cmaf_live_t *c, const cir_encryption_t *enc,
                         const AVCodecParameters *par)
{
    cir_live_key_t *key;
    int ret;

    if (enc == NULL || enc->scheme == CIR_ENC_NONE) {
        return 0;
    }
    if (enc->scheme != CIR_ENC_CENC && enc->scheme != CIR_ENC_CBCS) {
        cir_log_error(&c->log, "live encryption: %s is not supported live",
                      cir_encryption_scheme_name(enc->scheme));
        return CIR_EUNSUPPORTED;
    }
    if ((c->enc = malloc(sizeof(*c->enc))) == NULL ||
        (key = malloc(sizeof(*key))) == NULL) {
        return CIR_ENOMEM;
    }
    *c->enc = *enc;
    ret = describe_key(enc, key);
    if (ret == 0) {
        ret = cir_live_writer_set_key(cir_onair_store_writer(c->store), key);
    }
    free(key);
    if (ret == 0) {
        ret = cir_cmaf_live_crypt_reconfigure(c, par);
    }
    if (ret < 0) {
        cir_log_error(&c->log, "live encryption (%s): %s",
                      cir_encryption_scheme_name(enc->scheme),
                      cir_strerror(ret));
    }
    return ret;
}

int
cir_cmaf_live_crypt_reconfigure(cir_cmaf_live_t *c,
                                const AVCodecParameters *par)
{
    if (c->enc == NULL) {
        return 0;
    }
    cir_cenc_free(&c->cenc);
    return cir_cenc_open(&c->cenc, c->enc, par);
}

/* A new buffer (av_free) with the init or the run of fragments protected,
 * or *out NULL when the stream is clear. */
int
cir_cmaf_live_crypt_init(cir_cmaf_live_t *c, const uint8_t *in, size_t size,
                         uint8_t **out, size_t *out_size)
{
    *out = NULL;
    *out_size = size;
    return c->cenc ? cir_cenc_protect_init(c->cenc, in, size, out, out_size)
                   : 0;
}

int
cir_cmaf_live_crypt_part(cir_cmaf_live_t *c, const uint8_t *in, size_t size,
                         uint8_t **out, size_t *out_size)
{
    *out = NULL;
    *out_size = size;
    return c->cenc
               ? cir_cenc_protect_fragments(c->cenc, in, size, out, out_size)
               : 0;
}

void
cir_cmaf_live_crypt_free(cir_cmaf_live_t *c)
{
    cir_cenc_free(&c->cenc);
    if (c->enc != NULL) {
        cir_encryption_clear(c->enc);
        free(c->enc);
        c->enc = NULL;
    }
}
