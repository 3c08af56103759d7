/*
 * Live encryption in the packager (cmaf_live_crypt.c) through the live
 * pipeline: every rendition's init is protected (encv/enca, tenc with the
 * key ID, the ClearKey pssh), every fragment has its senc/saiz/saio, its index
 * carries the key record the renderers signal (never the key), a new codec
 * configuration keeps the key; aes-128 and a recording are refused; with
 * key rotation (keys from a loopback SPEKE v2 responder, speke_fixture.h),
 * a publisher's outage across a key change: its silence decrypts with the
 * key its init names, the renditions' discontinuities stay aligned.  The
 * decryption itself: tests/integration/live_encryption.test.mjs (ffmpeg
 * -decryption_key) and test_transcoder_cenc.c (OpenSSL).
 */
#include <stdatomic.h>

#include "cmaf_live_fixture.h"
#include "speke_fixture.h"

TestSuite(cmaf_live_crypt, .init = setup, .fini = teardown, .timeout = 120);

static const uint8_t KID[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static const uint8_t KEY[16] = {0x3c, 0x5a, 0x0e, 0x17, 0xb5, 0xd2, 0x4f, 0x8e,
                                0x9a, 0x61, 0xc0, 0xd2, 0xe4, 0xf6, 0xa8, 0xb1};

static cir_encryption_t
encryption(cir_enc_scheme_t scheme)
{
    cir_encryption_t e;

    memset(&e, 0, sizeof(e));
    e.scheme = scheme;
    memcpy(e.key_id, KID, 16);
    memcpy(e.key, KEY, 16);
    e.drm.systems = CIR_DRM_BIT(CIR_DRM_CLEARKEY);
    return e;
}

static cir_onair_t *
open_encrypted(const cir_encryption_t *enc, const char *record, int *ret)
{
    cir_onair_config_t cfg;
    cir_onair_t *live = NULL;
    char root[128];

    fixture_stream_config(&cfg, root, sizeof(root));
    cfg.encryption = enc;
    cfg.record_uri = record;
    if ((*ret = cir_onair_open(&live, &cfg)) < 0) {
        return NULL;
    }
    *ret = cir_onair_add_video(live, vsrc.par, (AVRational){1, 1000},
                               (AVRational){30, 1}, 0);
    if (*ret == 0) {
        *ret = cir_onair_add_audio(live, asrc.par, (AVRational){1, 1000}, 0);
    }
    if (*ret < 0) {
        cir_onair_close(&live);
    }
    return live;
}

/* The whole file, in a new buffer (free). */
static uint8_t *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b;
    long n;

    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static const uint8_t *
find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

static void
check_init(const char *rendition, uint32_t id, const char *entry,
           const char *scheme)
{
    char path[256];
    size_t n;
    uint8_t *b;
    const uint8_t *tenc, *schm;

    snprintf(path, sizeof(path), "%s/live/s/%s/init-%u.mp4", workdir, rendition,
             id);
    b = slurp(path, &n);
    cr_expect_not_null(find(b, n, entry, 4), "%s: %s", path, entry);
    schm = find(b, n, "schm", 4);
    cr_assert_not_null(schm, "%s: schm", path);
    cr_expect_eq(memcmp(schm + 8, scheme, 4), 0, "%s: the scheme", path);
    tenc = find(b, n, "tenc", 4);
    cr_assert_not_null(tenc, "%s: tenc", path);
    cr_expect_eq(memcmp(tenc + 12, KID, 16), 0, "%s: the key ID", path);
    cr_expect_not_null(find(b, n, "pssh", 4), "%s: the ClearKey pssh", path);
    cr_expect_null(find(b, n, KEY, 16), "%s holds the key", path);
    free(b);
}

static void
check_key_record(const char *rendition, uint32_t init_id)
{
    char dir[256];
    cir_live_index_t idx;
    const cir_live_key_t *k;

    snprintf(dir, sizeof(dir), "%s/live/s/%s", workdir, rendition);
    cr_assert_eq(cir_live_index_load(dir, &idx), 0);
    cr_assert_eq(idx.nb_keys, 1, "%s: one key record", rendition);
    k = cir_live_index_key(&idx, init_id);
    cr_assert_not_null(k);
    cr_expect_eq(k->from_init, 1);
    cr_expect_eq(k->scheme, CIR_ENC_CENC);
    cr_expect_eq(memcmp(k->key_id, KID, 16), 0);
    cr_expect_eq(k->systems, CIR_DRM_BIT(CIR_DRM_CLEARKEY));
    /* the common pssh, version 1, with the key ID: 52 bytes */
    cr_expect_eq(k->pssh_len[CIR_DRM_CLEARKEY], 52);
    cr_expect_null(find((const uint8_t *)k, sizeof(*k), KEY, 16),
                   "the index holds the key");
    cir_live_index_free(&idx);
}

/* The moofs of a rendition's segments, each checked to hold a senc, a
 * saiz and a saio (as many of each as of moofs). */
static int
fragments_with_senc(const char *rendition)
{
    char dir[256], path[300];
    cir_live_index_t idx;
    int total = 0;

    snprintf(dir, sizeof(dir), "%s/live/s/%s", workdir, rendition);
    cr_assert_eq(cir_live_index_load(dir, &idx), 0);
    for (size_t i = 0; i < idx.nb_segments; i++) {
        size_t n;
        uint8_t *b;
        int count[4] = {0};
        const char *box[4] = {"moof", "senc", "saiz", "saio"};

        snprintf(path, sizeof(path), "%s/seg-%llu.m4s", dir,
                 (unsigned long long)idx.segments[i].msn);
        b = slurp(path, &n);
        for (int k = 0; k < 4; k++) {
            for (const uint8_t *p = b;
                 (p = find(p, n - (size_t)(p - b), box[k], 4)) != NULL;
                 p += 4) {
                count[k]++;
            }
        }
        cr_expect_gt(count[0], 0, "%s", path);
        for (int k = 1; k < 4; k++) {
            cr_expect_eq(count[k], count[0], "%s: %s", path, box[k]);
        }
        cr_expect_null(find(b, n, KEY, 16), "%s holds the key", path);
        total += count[0];
        free(b);
    }
    cir_live_index_free(&idx);
    return total;
}

Test(cmaf_live_crypt, every_rendition_is_protected)
{
    cir_encryption_t enc = encryption(CIR_ENC_CENC);
    int ret, audio;
    cir_onair_t *live = open_encrypted(&enc, NULL, &ret);

    cr_assert_eq(ret, 0);
    audio = push_av(live, 0, 0, 5000, 48000);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    check_init("video", 1, "encv", "cenc");
    check_init("audio", 1, "enca", "cenc");
    check_key_record("video", 1);
    check_key_record("audio", 1);
    /* every fragment of every segment carries its sample encryption */
    cr_expect_geq(fragments_with_senc("video"), 12);
    cr_expect_geq(fragments_with_senc("audio"), 12);
    cr_expect_gt(audio, 200);
}

Test(cmaf_live_crypt, a_new_codec_configuration_keeps_the_key)
{
    cir_encryption_t enc = encryption(CIR_ENC_CBCS);
    int ret;
    cir_onair_t *live = open_encrypted(&enc, NULL, &ret);

    cr_assert_eq(ret, 0);
    push_av(live, 0, 0, 3000, 48000);
    cr_assert_eq(cir_onair_reconfigure(live, 1, vsrc.par), 0);
    push_av(live, 3000, 3000, 6000, 48000);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    check_init("video", 2, "encv", "cbcs");
    {
        char dir[256];
        cir_live_index_t idx;
        snprintf(dir, sizeof(dir), "%s/live/s/video", workdir);
        cr_assert_eq(cir_live_index_load(dir, &idx), 0);
        cr_assert_eq(idx.init_id, 2);
        cr_assert_not_null(cir_live_index_key(&idx, 2));
        cr_expect_eq(cir_live_index_key(&idx, 2)->scheme, CIR_ENC_CBCS);
        cir_live_index_free(&idx);
    }
}

Test(cmaf_live_crypt, aes128_and_a_recording_are_refused)
{
    cir_encryption_t enc = encryption(CIR_ENC_AES128);
    char record[160];
    int ret;

    cr_expect_null(open_encrypted(&enc, NULL, &ret));
    cr_expect_eq(ret, CIR_EUNSUPPORTED);
    enc = encryption(CIR_ENC_CENC);
    snprintf(record, sizeof(record), "file://%s/rec", workdir);
    cr_expect_null(open_encrypted(&enc, record, &ret));
    cr_expect_eq(ret, CIR_EUNSUPPORTED);
}

/* ---- key rotation across an outage ---- */

static _Atomic int64_t fake_wall;

static int64_t
fake_wall_us(const cir_clock_t *c)
{
    (void)c;
    return atomic_load(&fake_wall);
}

/* 30 fps video (a keyframe every 2 s) and 48 kHz AAC from media time t0
 * to end (ms), the wall clock at wall0 + the media time since t0; a pause
 * after each segment's worth, for the next crypto period's key to come. */
static void
push_live(cir_onair_t *live, int64_t t0, int64_t end, int64_t wall0)
{
    int i = 0, k = 0;
    int64_t next_pause = t0 + 2000;

    for (;;) {
        int64_t vd = t0 + llround(i * 1000.0 / 30);
        int64_t ad = t0 + llround(k * 1024000.0 / 48000);
        int64_t t = ad <= vd ? ad : vd;
        if (vd >= end && ad >= end) {
            return;
        }
        atomic_store(&fake_wall, wall0 + (t - t0) * 1000);
        if (t >= next_pause) {
            usleep(150000);
            next_pause += 2000;
        }
        if (ad < end && ad <= vd) {
            push_one(live, 0, ad, 1024000 / 48000, 1);
            k++;
        } else {
            push_one(live, 1, vd, 33, i % 60 == 0);
            i++;
        }
    }
}

static void
uuid_bytes(const char *uuid, uint8_t out[16])
{
    for (int i = 0, j = 0; i < 16; j++) {
        if (uuid[j] != '-') {
            cr_assert_eq(sscanf(uuid + j, "%2hhx", &out[i]), 1);
            i++;
            j++;
        }
    }
}

/* The segment with its init decodes (ffmpeg -decryption_key) without an
 * error with the key whose every byte is `fill`. */
static void
decrypts_with(const char *dir, const cir_live_segment_t *s, int fill)
{
    char cmd[1024], key[33], err[300];
    size_t n = 0;
    uint8_t *b;

    for (int i = 0; i < 16; i++) {
        snprintf(key + 2 * i, 3, "%02x", fill);
    }
    snprintf(err, sizeof(err), "%s/ffmpeg-%llu.err", workdir,
             (unsigned long long)s->msn);
    snprintf(cmd, sizeof(cmd),
             "cat %s/init-%u.mp4 %s/seg-%llu.m4s | ffmpeg -nostdin -v error "
             "-decryption_key %s -i pipe: -f null - 2> %s",
             dir, s->init_id, dir, (unsigned long long)s->msn, key, err);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    b = slurp(err, &n);
    cr_expect_eq(n, 0, "segment %llu with its period's key: %.*s",
                 (unsigned long long)s->msn, (int)n, (const char *)b);
    free(b);
}

/* The period (0x10 + p: its key) whose key ID the responder handed out
 * as k's, or -1. */
static int
period_of(const speke_fx_t *fx, const cir_live_key_t *k)
{
    for (int p = 0; p < PERIODS_MAX; p++) {
        uint8_t id[16];
        if (fx->kid[p][0] != '\0') {
            uuid_bytes(fx->kid[p], id);
            if (memcmp(id, k->key_id, 16) == 0) {
                return p;
            }
        }
    }
    return -1;
}

/*
 * A new key every 2 segments (SPEKE v2), and the publisher gone for 5 s
 * after 6 s of media, so the outage spans a crypto period's start: the
 * audio's silence over it decodes (ffmpeg) with the key its init's key
 * record names, and every segment number has the same discontinuity in
 * the audio as in the video (whose outage is GAP segments, which cannot
 * change key).  A key change is a new init and a discontinuity: silence
 * that took each period's key would add discontinuities the video lacks,
 * and hls.js pairs an audio rendition's segments with the video's by
 * discontinuity sequence (docs/encryption.md, a publisher's outage).
 */
Test(cmaf_live_crypt, an_outage_across_a_key_change_keeps_renditions_aligned)
{
    const cir_clock_t clock = {.wall_us = fake_wall_us,
                               .mono_us = fake_wall_us};
    const int64_t base = 1800000000000000, outage_us = 5000000;
    cir_encryption_t enc = encryption(CIR_ENC_CENC);
    cir_onair_config_t cfg;
    cir_onair_t *live = NULL;
    cir_live_index_t idx, vidx;
    char root[128], dir[256], vdir[256];
    speke_fx_t fx;
    int outage_segments = 0, across = 0;
    uint32_t first_period = UINT32_MAX;

    speke_fx_start(&fx);
    snprintf(enc.speke.url, sizeof(enc.speke.url), "http://127.0.0.1:%d/v2",
             fx.port);
    snprintf(enc.speke.resource_id, sizeof(enc.speke.resource_id), "live-1");
    fixture_stream_config(&cfg, root, sizeof(root));
    cfg.encryption = &enc;
    cfg.rotate_segments = 2;
    cfg.clock = &clock;
    atomic_store(&fake_wall, base);
    cr_assert_eq(cir_onair_open(&live, &cfg), 0);
    cr_assert_eq(cir_onair_add_video(live, vsrc.par, (AVRational){1, 1000},
                                     (AVRational){30, 1}, 0),
                 0);
    cr_assert_eq(cir_onair_add_audio(live, asrc.par, (AVRational){1, 1000}, 0),
                 0);
    push_live(live, 0, 6000, base);
    /* the publisher back after the outage, its clock from 0 again */
    push_live(live, 0, 6000, base + 6000000 + outage_us);
    cr_assert_eq(cir_onair_finish(live), 0);
    cir_onair_close(&live);
    speke_fx_stop(&fx);

    snprintf(dir, sizeof(dir), "%s/live/s/audio", workdir);
    snprintf(vdir, sizeof(vdir), "%s/live/s/video", workdir);
    cr_assert_eq(cir_live_index_load(dir, &idx), 0);
    cr_assert_eq(cir_live_index_load(vdir, &vidx), 0);
    for (size_t i = 0; i < idx.nb_segments; i++) {
        const cir_live_segment_t *s = &idx.segments[i];
        const cir_live_key_t *k = cir_live_index_key(&idx, s->init_id);
        uint32_t p = (uint32_t)(s->msn / 2);
        int keyp;
        for (size_t j = 0; j < vidx.nb_segments; j++) {
            if (vidx.segments[j].msn == s->msn) {
                cr_expect_eq(s->discontinuity, vidx.segments[j].discontinuity,
                             "segment %llu: a discontinuity in one rendition",
                             (unsigned long long)s->msn);
            }
        }
        if (s->gap || !s->outage) {
            continue;
        }
        outage_segments++;
        if (first_period == UINT32_MAX) {
            first_period = p;
        }
        across += p != first_period;
        cr_assert_not_null(k);
        keyp = period_of(&fx, k);
        cr_assert_geq(keyp, 0, "outage segment %llu: a key from the provider",
                      (unsigned long long)s->msn);
        decrypts_with(dir, s, 0x10 + keyp);
    }
    cir_live_index_free(&idx);
    cir_live_index_free(&vidx);
    cr_assert_geq(outage_segments, 2, "the outage filled with silence");
    cr_assert_gt(across, 0, "the outage spans a crypto period's start");
}
