/*
 * Live CMAF packaging, encryption (see cmaf_live_internal.h): each part
 * (moof + mdat) and each init segment goes through the VOD packager's
 * Common Encryption rewriter (cenc.h) on its way to the live store, and
 * the live index carries what the renderers signal (the key ID, the DRM
 * systems' pssh boxes: cir_live_key_t), never the key.
 *
 * The stream's key record is set on the writer before the first init
 * segment and applies to every init after it (a new codec configuration
 * reopens the rewriter with the new codec, same key).  With key rotation
 * (live_keys.h), the first segment of each crypto period (by media
 * sequence number, the same in every rendition) switches to its key: a
 * new key record, the muxer's clear init protected again with it as the
 * next init-<k>.mp4 (which the writer follows with a discontinuity: HLS
 * gets a new EXT-X-MAP and key lines, DASH a new Period), the fragments
 * from then on encrypted with it.
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
#include "live_keys.h"

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

/* The writer's key record for enc, from the next init on. */
static int
signal_key(cir_cmaf_live_t *c, const cir_encryption_t *enc)
{
    cir_live_key_t *key = malloc(sizeof(*key));
    int ret;

    if (key == NULL) {
        return CIR_ENOMEM;
    }
    ret = describe_key(enc, key);
    if (ret == 0) {
        ret = cir_live_writer_set_key(cir_onair_store_writer(c->store), key);
    }
    free(key);
    return ret;
}

int
cir_cmaf_live_crypt_open(cir_cmaf_live_t *c, const cir_encryption_t *enc,
                         const AVCodecParameters *par)
{
    int ret;

    if (enc == NULL || enc->scheme == CIR_ENC_NONE) {
        return 0;
    }
    if (enc->scheme != CIR_ENC_CENC && enc->scheme != CIR_ENC_CBCS) {
        cir_log_error(&c->log, "live encryption: %s is not supported live",
                      cir_encryption_scheme_name(enc->scheme));
        return CIR_EUNSUPPORTED;
    }
    if ((c->enc = malloc(sizeof(*c->enc))) == NULL) {
        return CIR_ENOMEM;
    }
    *c->enc = *enc;
    cir_buf_init(&c->clear_init, OUT_MAX);
    /* with key rotation the first segment picks its period's key */
    ret = signal_key(c, enc);
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

int
cir_cmaf_live_crypt_keep_init(cir_cmaf_live_t *c, const uint8_t *buf,
                              size_t size)
{
    if (c->keys == NULL || c->enc == NULL) {
        return 0;
    }
    cir_buf_reset(&c->clear_init);
    return cir_buf_append(&c->clear_init, buf, size);
}

/* The next crypto period's key: signalled from a new init on (the
 * muxer's init protected again with it, when it was written already),
 * the fragments encrypted with it from now on. */
static int
switch_key(cir_cmaf_live_t *c, const cir_encryption_t *next)
{
    uint8_t *prot = NULL;
    size_t size;
    int ret;

    if ((ret = signal_key(c, next)) < 0) {
        return ret;
    }
    *c->enc = *next;
    if ((ret = cir_cmaf_live_crypt_reconfigure(
             c, c->oc->streams[0]->codecpar)) < 0 ||
        !c->header_done || c->clear_init.len == 0) {
        return ret;
    }
    ret = cir_cmaf_live_crypt_init(c, (const uint8_t *)c->clear_init.data,
                                   c->clear_init.len, &prot, &size);
    if (ret == 0) {
        ret = cir_onair_store_put_init(c->store, prot, size);
    }
    av_free(prot);
    return ret;
}

int
cir_cmaf_live_crypt_segment(cir_cmaf_live_t *c)
{
    cir_encryption_t *next;
    uint64_t msn;
    uint32_t p;
    int ret;

    if (c->keys == NULL || c->enc == NULL) {
        return 0;
    }
    msn = cir_live_writer_next_msn(cir_onair_store_writer(c->store));
    p = (uint32_t)(msn / cir_live_keys_rotate(c->keys));
    if (c->period_set && p == c->period) {
        return 0;
    }
    if ((next = malloc(sizeof(*next))) == NULL) {
        return CIR_ENOMEM;
    }
    ret = cir_live_keys_get(c->keys, p, msn, next);
    if (ret < 0) {
        /* not there in time (or another rendition went on without it at
         * this segment): the key in use goes on, asked again at the next
         * segment */
        if (!c->eagain_logged) {
            cir_log_warn(&c->log,
                         "key rotation: no key for period %u yet (%s): the "
                         "key in use goes on",
                         (unsigned)p, cir_strerror(ret));
            c->eagain_logged = 1;
        }
        free(next);
        return 0;
    }
    c->eagain_logged = 0;
    if (memcmp(next->key_id, c->enc->key_id, 16) != 0) {
        ret = switch_key(c, next);
    }
    if (ret == CIR_ELIMIT) {
        /* more periods in the index than it keeps keys for (a window of
         * more than CIR_LIVE_MAX_KEYS periods): nothing was changed, the
         * key in use goes on */
        cir_log_warn(&c->log,
                     "key rotation: more than %d crypto periods in the "
                     "window: the key in use goes on",
                     CIR_LIVE_MAX_KEYS);
        ret = 0;
    }
    cir_encryption_clear(next);
    free(next);
    c->period = p;
    c->period_set = 1;
    return ret;
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
    cir_buf_free(&c->clear_init);
    if (c->enc != NULL) {
        cir_encryption_clear(c->enc);
        free(c->enc);
        c->enc = NULL;
    }
}
