/*
 * transcoder/src/cenc.c: the mp4 muxer's clear output (an H.264 track of
 * made-up NAL units, an AAC track) encrypted with cenc and cbcs, then read
 * back box by box and decrypted here with OpenSSL: the sample entry and
 * tenc, senc/saiz/saio where they say, the trun data offset moved, the
 * subsample map (clear lengths, NAL and slice headers and non-VCL units;
 * cenc: whole blocks protected, cbcs: all the slice data), and every
 * sample decrypting to its clear bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/intreadwrite.h>
#include <openssl/evp.h>

#include "cenc.h"
#include "cir_error.h"
#include "cmaf.h"

#define NB_SAMPLES 6

static const cir_encryption_t KEY_CENC = {
    .scheme = CIR_ENC_CENC,
    .key_id = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45,
               0x67, 0x89, 0xab, 0xcd, 0xef},
    .key = {0x3c, 0x5a, 0x0e, 0x17, 0xb5, 0xd2, 0x4f, 0x8e, 0x9a, 0x61, 0xc0,
            0xd2, 0xe4, 0xf6, 0xa8, 0xb1},
};

/* avcC: version 1, Baseline, level 3.0, 4-byte lengths, one SPS (16x16,
 * 4-bit frame_num, POC type 2, CAVLC) and one PPS (deblocking control) */
static const uint8_t AVCC[] = {1, 0x42, 0,    0x1e, 0xff, 0xe1, 0,
                               6, 0x67, 0x42, 0,    0x1e, 0xda, 0x79,
                               1, 0,    4,    0x68, 0xce, 0x3c, 0x80};

/* The slice header after the NAL header byte, 3 bytes (its last bits are
 * slice data): first_mb_in_slice 0, slice_type 7 (I) / 5 (P), PPS 0,
 * frame_num, IDR: idr_pic_id 0 + no_output/long_term 0 0; P: no override,
 * no list modification, no adaptive marking; slice_qp_delta 0,
 * disable_deblocking_filter_idc 1.  IDR 20 bits, P 18. */
#define SLICE_HEADER 3
static void
slice_header(uint8_t *out, int i)
{
    static const char *idr = "1"
                             "0001000"
                             "1"
                             "0000"
                             "1"
                             "00"
                             "1"
                             "010";
    char bits[32];
    size_t n;

    if (i == 0) {
        snprintf(bits, sizeof(bits), "%s", idr);
    } else {
        snprintf(bits, sizeof(bits),
                 "1"
                 "00110"
                 "1"
                 "%d%d%d%d"
                 "000"
                 "1"
                 "010",
                 i >> 3 & 1, i >> 2 & 1, i >> 1 & 1, i & 1);
    }
    n = strlen(bits);
    memset(out, 0x55, SLICE_HEADER); /* slice data after the header */
    for (size_t b = 0; b < n; b++) {
        uint8_t mask = (uint8_t)(0x80 >> (b % 8));
        out[b / 8] =
            (uint8_t)(bits[b] == '1' ? out[b / 8] | mask : out[b / 8] & ~mask);
    }
}

typedef struct {
    uint8_t *data;
    int size;
} sample_t;

/* Sample i of the video track: an SEI (clear), then an IDR or a P slice
 * whose body (slice header and data) is 37 + 100 * i bytes. */
static sample_t
video_sample(int i)
{
    int sei = 20, body = 37 + 100 * i;
    sample_t s = {.size = 4 + sei + 4 + 1 + body};

    s.data = av_mallocz((size_t)s.size + AV_INPUT_BUFFER_PADDING_SIZE);
    AV_WB32(s.data, (uint32_t)sei);
    s.data[4] = 0x06;
    memset(s.data + 5, 0x5e, (size_t)sei - 1);
    AV_WB32(s.data + 4 + sei, (uint32_t)(1 + body));
    s.data[8 + sei] = i == 0 ? 0x65 : 0x41;
    for (int k = 0; k < body; k++) {
        s.data[9 + sei + k] = (uint8_t)(k * 7 + i);
    }
    slice_header(s.data + 9 + sei, i);
    return s;
}

static sample_t
audio_sample(int i)
{
    sample_t s = {.size = 100 + 13 * i};

    s.data = av_mallocz((size_t)s.size + AV_INPUT_BUFFER_PADDING_SIZE);
    for (int k = 0; k < s.size; k++) {
        s.data[k] = (uint8_t)(k * 3 + i);
    }
    return s;
}

/* The muxer's output for the samples: init (ftyp + moov) and one fragment
 * (moof + mdat). */
static void
mux(int video, sample_t *samples, uint8_t **init, size_t *init_size,
    uint8_t **frag, size_t *frag_size, AVCodecParameters **par_out)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVFormatContext *oc = NULL;
    uint8_t *buf = NULL;
    int64_t moof;
    int size;

    if (video) {
        par->codec_type = AVMEDIA_TYPE_VIDEO;
        par->codec_id = AV_CODEC_ID_H264;
        par->width = 320;
        par->height = 240;
        par->extradata =
            av_mallocz(sizeof(AVCC) + AV_INPUT_BUFFER_PADDING_SIZE);
        memcpy(par->extradata, AVCC, sizeof(AVCC));
        par->extradata_size = sizeof(AVCC);
    } else {
        static const uint8_t asc[] = {0x11, 0x90};
        par->codec_type = AVMEDIA_TYPE_AUDIO;
        par->codec_id = AV_CODEC_ID_AAC;
        par->sample_rate = 48000;
        av_channel_layout_default(&par->ch_layout, 2);
        par->frame_size = 1024;
        par->extradata = av_mallocz(2 + AV_INPUT_BUFFER_PADDING_SIZE);
        memcpy(par->extradata, asc, 2);
        par->extradata_size = 2;
    }
    cr_assert_eq(
        cir_cmaf_mux_open(&oc, par,
                          video ? (AVRational){1, 30} : (AVRational){1, 48000},
                          (AVRational){30, 1}, 0, NULL),
        0);
    for (int i = 0; i < NB_SAMPLES; i++) {
        AVPacket *pkt = av_packet_alloc();
        pkt->data = samples[i].data;
        pkt->size = samples[i].size;
        pkt->pts = pkt->dts = video ? i : i * 1024;
        pkt->duration = video ? 1 : 1024;
        pkt->flags = i == 0 || !video ? AV_PKT_FLAG_KEY : 0;
        cr_assert_geq(av_write_frame(oc, pkt), 0);
        av_packet_free(&pkt);
    }
    cr_assert_geq(av_write_frame(oc, NULL), 0);
    cr_assert_geq(av_write_frame(oc, NULL), 0); /* delay_moov: the fragment */
    size = avio_close_dyn_buf(oc->pb, &buf);
    oc->pb = NULL;
    avformat_free_context(oc);
    moof = cir_cmaf_find_box(buf, 0, (size_t)size, "moof");
    cr_assert_gt(moof, 0);
    *init = buf;
    *init_size = (size_t)moof;
    *frag = buf + moof;
    *frag_size = (size_t)(size - moof);
    *par_out = par;
}

/* A box inside [off, end) by a path of types ("moov/trak/..."). */
static int64_t
find_path(const uint8_t *b, size_t off, size_t end, const char *path)
{
    char type[5] = {0};
    int64_t at;

    memcpy(type, path, 4);
    at = cir_cmaf_find_box(b, off, end, type);
    if (at < 0 || path[4] == '\0') {
        return at;
    }
    return find_path(b, (size_t)at + 8, (size_t)at + AV_RB32(b + at), path + 5);
}

typedef struct {
    int scheme_cbcs;
    int video;
    unsigned drm; /* CIR_DRM_BIT()s: their pssh boxes end the moov */
} variant_t;

/* The pssh boxes that end the moov: one per system with a box (not
 * FairPlay), in the order of cir_drm_system_t, the moov's last children;
 * each named by its system ID's first byte. */
static void
check_pssh(const uint8_t *init, size_t size, unsigned systems)
{
    static const uint8_t first_byte[CIR_DRM_FAIRPLAY] = {0x10, 0xed, 0x9a};
    uint8_t want[CIR_DRM_NB], got[CIR_DRM_NB];
    int64_t moov = find_path(init, 0, size, "moov");
    size_t end = (size_t)moov + AV_RB32(init + moov), at = (size_t)moov + 8;
    int nb_want = 0, nb_got = 0;

    for (int s = 0; s < CIR_DRM_FAIRPLAY; s++) {
        if (systems & CIR_DRM_BIT(s)) {
            want[nb_want++] = first_byte[s];
        }
    }
    for (; at < end; at += AV_RB32(init + at)) {
        if (memcmp(init + at + 4, "pssh", 4) == 0) {
            cr_assert_lt(nb_got, nb_want, "a pssh too many");
            got[nb_got++] = init[at + 12];
        } else {
            cr_assert_eq(nb_got, 0, "a %.4s after a pssh", init + at + 4);
        }
    }
    cr_assert_eq(at, end);
    cr_assert_eq(nb_got, nb_want);
    cr_assert_eq(memcmp(got, want, (size_t)nb_got), 0);
}

static void
check(variant_t v)
{
    cir_encryption_t enc = KEY_CENC;
    sample_t samples[NB_SAMPLES];
    uint8_t *init, *frag, *pinit, *pfrag;
    size_t init_size, frag_size, pinit_size, pfrag_size;
    AVCodecParameters *par;
    cir_cenc_t *e = NULL;
    int64_t entry, tenc, moof_end, traf, trun, senc, saiz, saio, mdat;
    uint8_t const_iv[16];
    uint32_t count, data_offset;

    enc.scheme = v.scheme_cbcs ? CIR_ENC_CBCS : CIR_ENC_CENC;
    enc.drm.systems = v.drm;
    for (int i = 0; i < NB_SAMPLES; i++) {
        samples[i] = v.video ? video_sample(i) : audio_sample(i);
    }
    mux(v.video, samples, &init, &init_size, &frag, &frag_size, &par);
    cr_assert_eq(cir_cenc_open(&e, &enc, par), 0);
    /* fragments before the init segment: refused */
    cr_assert_lt(
        cir_cenc_protect_fragments(e, frag, frag_size, &pfrag, &pfrag_size), 0);
    cr_assert_eq(cir_cenc_protect_init(e, init, init_size, &pinit, &pinit_size),
                 0);

    /* the sample entry: encv/enca, sinf with frma, schm, tenc */
    entry = find_path(pinit, 0, pinit_size, "moov/trak/mdia/minf/stbl/stsd");
    cr_assert_gt(entry, 0);
    entry += 16;
    cr_assert_eq(memcmp(pinit + entry + 4, v.video ? "encv" : "enca", 4), 0);
    {
        size_t kids = (size_t)entry + (v.video ? 86 : 36);
        size_t end = (size_t)entry + AV_RB32(pinit + entry);
        int64_t sinf = cir_cmaf_find_box(pinit, kids, end, "sinf");
        int64_t frma, schm;
        cr_assert_gt(sinf, 0);
        frma = find_path(pinit, (size_t)sinf + 8,
                         (size_t)sinf + AV_RB32(pinit + sinf), "frma");
        schm = find_path(pinit, (size_t)sinf + 8,
                         (size_t)sinf + AV_RB32(pinit + sinf), "schm");
        tenc = find_path(pinit, (size_t)sinf + 8,
                         (size_t)sinf + AV_RB32(pinit + sinf), "schi/tenc");
        cr_assert(frma > 0 && schm > 0 && tenc > 0);
        cr_assert_eq(memcmp(pinit + frma + 8, v.video ? "avc1" : "mp4a", 4), 0);
        cr_assert_eq(
            memcmp(pinit + schm + 12, v.scheme_cbcs ? "cbcs" : "cenc", 4), 0);
        /* every ancestor grew: moov's size is the file's rest */
        cr_assert_eq(AV_RB32(pinit + find_path(pinit, 0, pinit_size, "moov")) +
                         (uint32_t)find_path(pinit, 0, pinit_size, "moov"),
                     pinit_size);
    }
    check_pssh(pinit, pinit_size, v.drm);
    cr_assert_eq(pinit[tenc + 8], v.scheme_cbcs ? 1 : 0); /* version */
    cr_assert_eq(pinit[tenc + 13], v.scheme_cbcs && v.video ? 0x19 : 0);
    cr_assert_eq(pinit[tenc + 14], 1);                     /* protected */
    cr_assert_eq(pinit[tenc + 15], v.scheme_cbcs ? 0 : 8); /* IV size */
    cr_assert_eq(memcmp(pinit + tenc + 16, enc.key_id, 16), 0);
    if (v.scheme_cbcs) {
        cr_assert_eq(pinit[tenc + 32], 16);
        memcpy(const_iv, pinit + tenc + 33, 16);
    }

    cr_assert_eq(
        cir_cenc_protect_fragments(e, frag, frag_size, &pfrag, &pfrag_size), 0);
    {
        uint64_t out_off, growth;
        cir_cenc_map_offset(e, 0, &out_off, &growth);
        cr_assert_eq(out_off, 0);
        cr_assert_eq(pfrag_size, frag_size + growth);
    }
    moof_end = AV_RB32(pfrag);
    traf = find_path(pfrag, 8, (size_t)moof_end, "traf");
    trun = find_path(pfrag, 8, (size_t)moof_end, "traf/trun");
    senc = find_path(pfrag, 8, (size_t)moof_end, "traf/senc");
    saiz = find_path(pfrag, 8, (size_t)moof_end, "traf/saiz");
    saio = find_path(pfrag, 8, (size_t)moof_end, "traf/saio");
    mdat = cir_cmaf_find_box(pfrag, (size_t)moof_end, pfrag_size, "mdat");
    cr_assert(traf > 0 && trun > 0 && senc > 0 && saiz > 0 && saio > 0);
    cr_assert_eq(mdat, moof_end);
    count = AV_RB32(pfrag + trun + 12);
    data_offset = AV_RB32(pfrag + trun + 16);
    cr_assert_eq(count, NB_SAMPLES);
    cr_assert_eq(data_offset, moof_end + 8, "trun points at the samples");
    cr_assert_eq(AV_RB32(pfrag + senc + 12), NB_SAMPLES);
    cr_assert_eq(AV_RB32(pfrag + senc + 8) & 2, v.video ? 2 : 0);
    cr_assert_eq(AV_RB32(pfrag + saio + 12), 1);
    cr_assert_eq(AV_RB32(pfrag + saio + 16), senc + 16, "saio -> senc");
    cr_assert_eq(AV_RB32(pfrag + saiz + 13), NB_SAMPLES);

    /* decrypt every sample after senc and compare */
    {
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        size_t q = (size_t)senc + 16, pos = (size_t)data_offset;
        int iv_size = v.scheme_cbcs ? 0 : 8;
        uint8_t first_iv[8] = {0};
        for (int i = 0; i < NB_SAMPLES; i++) {
            uint8_t *s = pfrag + pos, iv16[16] = {0};
            int nsub = 1, at = 0, info = iv_size;
            uint32_t clear[8], prot[8];
            cr_assert_neq(memcmp(s, samples[i].data, (size_t)samples[i].size),
                          0, "sample %d is clear", i);
            memcpy(iv16, pfrag + q, (size_t)iv_size);
            if (i == 0 && iv_size) {
                memcpy(first_iv, iv16, 8);
            } else if (iv_size) {
                /* one more per sample */
                cr_assert_eq(AV_RB64(iv16), AV_RB64(first_iv) + (uint64_t)i);
            }
            q += (size_t)iv_size;
            if (v.video) {
                nsub = AV_RB16(pfrag + q);
                q += 2;
                info += 2 + 6 * nsub;
                cr_assert_leq(nsub, 8);
                for (int k = 0; k < nsub; k++, q += 6) {
                    clear[k] = AV_RB16(pfrag + q);
                    prot[k] = AV_RB32(pfrag + q + 2);
                }
                /* the SEI and the slice's length, NAL header and slice
                 * header; cenc: + the data's size % 16 */
                int data = 37 + 100 * i - SLICE_HEADER;
                cr_assert_eq(nsub, 1);
                cr_assert_eq(clear[0], 4 + 20 + 4 + 1 + SLICE_HEADER +
                                           (v.scheme_cbcs ? 0 : data % 16));
                cr_assert_eq(prot[0], v.scheme_cbcs ? data : data - data % 16);
            } else {
                clear[0] = 0;
                prot[0] = (uint32_t)samples[i].size;
            }
            if (AV_RB8(pfrag + saiz + 12) == 0) {
                cr_assert_eq(pfrag[saiz + 17 + i], info);
            } else {
                cr_assert_eq(pfrag[saiz + 12], info);
            }
            if (!v.scheme_cbcs) {
                cr_assert_eq(EVP_DecryptInit_ex(ctx, EVP_aes_128_ctr(), NULL,
                                                enc.key, iv16),
                             1);
            }
            for (int k = 0; k < nsub; k++) {
                uint8_t *p = s + at + clear[k];
                at += (int)(clear[k] + prot[k]);
                if (!v.scheme_cbcs) {
                    /* the counter runs on across subsamples */
                    int outl;
                    cr_assert_eq(
                        EVP_DecryptUpdate(ctx, p, &outl, p, (int)prot[k]), 1);
                    continue;
                }
                EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, enc.key,
                                   const_iv);
                EVP_CIPHER_CTX_set_padding(ctx, 0);
                for (uint32_t b = 0; b + 16 <= prot[k];
                     b += v.video ? 160 : 16) {
                    int outl;
                    cr_assert_eq(
                        EVP_DecryptUpdate(ctx, p + b, &outl, p + b, 16), 1);
                }
            }
            cr_assert_eq(at, samples[i].size);
            cr_assert_eq(memcmp(s, samples[i].data, (size_t)samples[i].size), 0,
                         "sample %d decrypts to its clear bytes", i);
            pos += (size_t)samples[i].size;
        }
        EVP_CIPHER_CTX_free(ctx);
    }
    for (int i = 0; i < NB_SAMPLES; i++) {
        av_free(samples[i].data);
    }
    av_free(init);
    av_free(pinit);
    av_free(pfrag);
    avcodec_parameters_free(&par);
    cir_cenc_free(&e);
    cr_assert_null(e);
}

Test(transcoder_cenc, cenc_video)
{
    check((variant_t){.video = 1});
}

Test(transcoder_cenc, cenc_audio)
{
    check((variant_t){.video = 0});
}

Test(transcoder_cenc, cbcs_video)
{
    check((variant_t){.video = 1, .scheme_cbcs = 1});
}

Test(transcoder_cenc, cbcs_audio)
{
    check((variant_t){.video = 0, .scheme_cbcs = 1});
}

Test(transcoder_cenc, drm_systems_pssh_in_moov)
{
    check((variant_t){.video = 1,
                      .drm = CIR_DRM_BIT(CIR_DRM_CLEARKEY) |
                             CIR_DRM_BIT(CIR_DRM_WIDEVINE) |
                             CIR_DRM_BIT(CIR_DRM_PLAYREADY)});
    check((variant_t){.video = 0,
                      .scheme_cbcs = 1,
                      .drm = CIR_DRM_BIT(CIR_DRM_PLAYREADY) |
                             CIR_DRM_BIT(CIR_DRM_FAIRPLAY)});
}

Test(transcoder_cenc, refuses_what_it_cannot_protect)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    cir_encryption_t none = {0};
    cir_cenc_t *e = NULL;
    uint8_t *out;
    size_t out_size;
    static const uint8_t junk[] = {0, 0, 0, 8, 'm', 'o', 'o', 'v'};

    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_VP9;
    cr_assert_eq(cir_cenc_open(&e, &KEY_CENC, par), CIR_EUNSUPPORTED);
    par->codec_id = AV_CODEC_ID_H264;
    cr_assert_eq(cir_cenc_open(&e, &none, par), CIR_EINVAL);
    cr_assert_eq(cir_cenc_open(&e, &KEY_CENC, par), 0);
    cr_assert_eq(cir_cenc_protect_init(e, junk, sizeof(junk), &out, &out_size),
                 CIR_EMEDIA);
    cir_cenc_free(&e);
    avcodec_parameters_free(&par);
}
