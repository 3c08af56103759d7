/*
 * Common Encryption of one CMAF track (cenc, cbcs) over the mp4 muxer's
 * clear output.  See cenc.h.
 *
 * Tested by tests/unit/test_transcoder_cenc.c and
 * tests/integration/encryption.test.mjs.
 */
#include <stdlib.h>
#include <string.h>

#include <libavformat/avio.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cenc.h"
#include "cir_error.h"
#include "cmaf.h"
#include "drm.h"
#include "nal_slice.h"

/* a sample's subsamples are bounded by saiz's one-byte sizes:
 * 8 (IV) + 2 + 6 * 40 = 250 */
#define MAX_SUBSAMPLES 40
#define MAX_FRAGMENTS  4096

typedef struct {
    uint16_t clear;
    uint32_t protected_bytes;
} subsample_t;

typedef struct {
    uint64_t in_off, out_off, growth;
} moof_map_t;

struct cir_cenc {
    cir_encryption_t enc;
    int is_video, is_hevc;
    int nal_length_size;     /* from the init segment's avcC/hvcC */
    cir_nal_slice_t *slices; /* its parameter sets, for slice headers */
    int init_done;
    uint8_t iv[16]; /* cenc: the next sample's IV (first 8 bytes);
                       cbcs: the constant IV */
    EVP_CIPHER_CTX *ctx;
    moof_map_t *map;
    size_t nb_map;
};

int
cir_cenc_open(cir_cenc_t **out, const cir_encryption_t *enc,
              const AVCodecParameters *par)
{
    cir_cenc_t *e;

    *out = NULL;
    if (enc->scheme != CIR_ENC_CENC && enc->scheme != CIR_ENC_CBCS) {
        return CIR_EINVAL;
    }
    if (par->codec_type == AVMEDIA_TYPE_VIDEO &&
        par->codec_id != AV_CODEC_ID_H264 &&
        par->codec_id != AV_CODEC_ID_HEVC) {
        return CIR_EUNSUPPORTED;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return CIR_ENOMEM;
    }
    e->enc = *enc;
    e->is_video = par->codec_type == AVMEDIA_TYPE_VIDEO;
    e->is_hevc = par->codec_id == AV_CODEC_ID_HEVC;
    e->map = calloc(MAX_FRAGMENTS, sizeof(*e->map));
    e->ctx = EVP_CIPHER_CTX_new();
    /* cenc: a random first IV, then one more per sample; cbcs: a random
     * constant IV for the track */
    if (e->map == NULL || e->ctx == NULL || RAND_bytes(e->iv, 16) != 1) {
        cir_cenc_free(&e);
        return CIR_ENOMEM;
    }
    memset(e->iv + 8, 0, e->enc.scheme == CIR_ENC_CENC ? 8 : 0);
    if (EVP_EncryptInit_ex(e->ctx,
                           e->enc.scheme == CIR_ENC_CENC ? EVP_aes_128_ctr()
                                                         : EVP_aes_128_cbc(),
                           NULL, e->enc.key, e->iv) != 1) {
        cir_cenc_free(&e);
        return CIR_EINTERNAL;
    }
    EVP_CIPHER_CTX_set_padding(e->ctx, 0);
    *out = e;
    return 0;
}

void
cir_cenc_free(cir_cenc_t **ep)
{
    cir_cenc_t *e = *ep;

    if (e == NULL) {
        return;
    }
    EVP_CIPHER_CTX_free(e->ctx);
    cir_nal_slice_free(&e->slices);
    free(e->map);
    cir_encryption_clear(&e->enc);
    free(e);
    *ep = NULL;
}

/* ---- init segment ---- */

static void
put_tag(AVIOContext *pb, const char *tag)
{
    avio_write(pb, (const uint8_t *)tag, 4);
}

/* The sinf box for a sample entry whose type was fourcc. */
static void
write_sinf(const cir_cenc_t *e, AVIOContext *pb, const uint8_t *fourcc)
{
    int cbcs = e->enc.scheme == CIR_ENC_CBCS;
    int tenc = 8 + 4 + 4 + 16 + (cbcs ? 17 : 0);

    avio_wb32(pb, 8 + 12 + 20 + 8 + tenc);
    put_tag(pb, "sinf");
    avio_wb32(pb, 12);
    put_tag(pb, "frma");
    avio_write(pb, fourcc, 4);
    avio_wb32(pb, 20);
    put_tag(pb, "schm");
    avio_wb32(pb, 0);
    put_tag(pb, cbcs ? "cbcs" : "cenc");
    avio_wb32(pb, 0x00010000);
    avio_wb32(pb, 8 + tenc);
    put_tag(pb, "schi");
    avio_wb32(pb, tenc);
    put_tag(pb, "tenc");
    avio_wb32(pb, cbcs ? 0x01000000 : 0); /* version 1 carries the pattern */
    avio_w8(pb, 0);
    /* cbcs video: 1 block encrypted, 9 skipped; audio: every block */
    avio_w8(pb, cbcs && e->is_video ? 0x19 : 0);
    avio_w8(pb, 1);            /* default_isProtected */
    avio_w8(pb, cbcs ? 0 : 8); /* per-sample IV size; cbcs: constant */
    avio_write(pb, e->enc.key_id, 16);
    if (cbcs) {
        avio_w8(pb, 16);
        avio_write(pb, e->iv, 16);
    }
}

/* The child box of the box at off (its children start at off + skip). */
static int64_t
child(const uint8_t *buf, int64_t off, size_t skip, const char *type)
{
    if (off < 0) {
        return -1;
    }
    return cir_cmaf_find_box(buf, (size_t)off + skip,
                             (size_t)off + AV_RB32(buf + off), type);
}

/* The NAL length size and the parameter sets from the sample entry's avcC
 * or hvcC. */
static int
read_decoder_config(cir_cenc_t *e, const uint8_t *buf, int64_t entry)
{
    /* VisualSampleEntry: 8 header + 78 bytes of fields, then boxes */
    int64_t cfg = child(buf, entry, 86, e->is_hevc ? "hvcC" : "avcC");
    size_t at = e->is_hevc ? 21 : 4;

    if (cfg < 0 || AV_RB32(buf + cfg) < 8 + at + 1 || buf[cfg + 8] != 1) {
        return CIR_EMEDIA;
    }
    e->nal_length_size = (buf[cfg + 8 + at] & 3) + 1;
    if (e->nal_length_size == 3) {
        return CIR_EMEDIA;
    }
    cir_nal_slice_free(&e->slices);
    return cir_nal_slice_open(&e->slices, e->is_hevc, buf + cfg + 8,
                              AV_RB32(buf + cfg) - 8);
}

static int
protect_sample_entry(cir_cenc_t *e, const uint8_t *in, size_t size,
                     uint8_t **out, size_t *out_size)
{
    static const char *path[] = {"moov", "trak", "mdia",
                                 "minf", "stbl", "stsd"};
    int64_t at[7];
    int64_t off = 0, end;
    AVIOContext *pb = NULL;
    uint8_t fourcc[4];
    uint8_t *sinf = NULL;
    int sinf_size, ret;

    for (size_t i = 0; i < 6; i++) {
        off = i == 0 ? cir_cmaf_find_box(in, 0, size, path[0])
                     : child(in, at[i - 1], 8, path[i]);
        if (off < 0) {
            return CIR_EMEDIA;
        }
        at[i] = off;
    }
    /* stsd: full box + entry count, then the one sample entry */
    at[6] = at[5] + 16;
    if (AV_RB32(in + at[5]) < 16 + 8 ||
        AV_RB32(in + at[6]) > AV_RB32(in + at[5]) - 16) {
        return CIR_EMEDIA;
    }
    memcpy(fourcc, in + at[6] + 4, 4);
    if (e->is_video && (ret = read_decoder_config(e, in, at[6])) < 0) {
        return ret;
    }
    if ((ret = avio_open_dyn_buf(&pb)) < 0) {
        return CIR_ENOMEM;
    }
    write_sinf(e, pb, fourcc);
    sinf_size = avio_close_dyn_buf(pb, &sinf);
    if (sinf_size <= 0) {
        av_free(sinf);
        return CIR_ENOMEM;
    }
    end = at[6] + AV_RB32(in + at[6]);
    *out = av_malloc(size + (size_t)sinf_size);
    if (*out == NULL) {
        av_free(sinf);
        return CIR_ENOMEM;
    }
    memcpy(*out, in, (size_t)end);
    memcpy(*out + end, sinf, (size_t)sinf_size);
    memcpy(*out + end + sinf_size, in + end, size - (size_t)end);
    av_free(sinf);
    /* every box on the path grows by the sinf */
    for (size_t i = 0; i < 7; i++) {
        AV_WB32(*out + at[i], AV_RB32(in + at[i]) + (uint32_t)sinf_size);
    }
    memcpy(*out + at[6] + 4, e->is_video ? "encv" : "enca", 4);
    *out_size = size + (size_t)sinf_size;
    return 0;
}

/* The DRM systems' pssh boxes at the end of the moov (ISO/IEC 23001-7
 * 8.1: in the moov, the init segment's only box players search). */
static int
append_pssh(const cir_cenc_t *e, uint8_t **buf, size_t *size)
{
    cir_drm_boxes_t boxes;
    cir_buf_t all;
    int64_t moov = cir_cmaf_find_box(*buf, 0, *size, "moov");
    size_t end;
    uint8_t *grown;
    int ret;

    if (moov < 0) {
        return CIR_EMEDIA;
    }
    cir_buf_init(&all, 64 * 1024);
    if ((ret = cir_drm_boxes_build(&boxes, &e->enc)) < 0 ||
        (ret = cir_drm_boxes_concat(&boxes, &all)) < 0 || all.len == 0) {
        goto done;
    }
    end = (size_t)moov + AV_RB32(*buf + moov);
    if ((grown = av_malloc(*size + all.len)) == NULL) {
        ret = CIR_ENOMEM;
        goto done;
    }
    memcpy(grown, *buf, end);
    memcpy(grown + end, all.data, all.len);
    memcpy(grown + end + all.len, *buf + end, *size - end);
    AV_WB32(grown + moov, AV_RB32(*buf + moov) + (uint32_t)all.len);
    av_free(*buf);
    *buf = grown;
    *size += all.len;
done:
    cir_drm_boxes_free(&boxes);
    cir_buf_free(&all);
    return ret;
}

int
cir_cenc_protect_init(cir_cenc_t *e, const uint8_t *in, size_t size,
                      uint8_t **out, size_t *out_size)
{
    int ret;

    if ((ret = protect_sample_entry(e, in, size, out, out_size)) < 0) {
        return ret;
    }
    if ((ret = append_pssh(e, out, out_size)) < 0) {
        av_freep(out);
        return ret;
    }
    e->init_done = 1;
    return 0;
}

/* ---- fragments ---- */

/*
 * How much of one NAL unit stays clear (after its length field).
 * ISO/IEC 23001-7: the NAL header always; for a slice, its slice header
 * too ('cbcs': the protected range starts at the first byte after the
 * slice header; 'cenc': recommended, and CMAF wants whole blocks, so the
 * first (rest mod 16) bytes stay clear as well).  Non-slice units stay
 * clear whole.  Parameter sets met in the samples update the parser's.
 */
static int
nal_clear_bytes(cir_cenc_t *e, const uint8_t *nal, size_t n, size_t *clear)
{
    size_t header;
    int ret;

    if (!cir_nal_slice_is_slice(e->slices, nal, n)) {
        *clear = n;
        return cir_nal_slice_add_param_set(e->slices, nal, n);
    }
    if ((ret = cir_nal_slice_header_size(e->slices, nal, n, &header)) < 0) {
        return ret;
    }
    *clear = header;
    if (e->enc.scheme == CIR_ENC_CENC) {
        *clear += (n - header) % 16;
    }
    return 0;
}

/* Appends clear then protected bytes; bytes_of_clear_data is 16 bits. */
static int
add_subsample(subsample_t *sub, int *nb, size_t clear, size_t prot)
{
    while (clear > 0xffff) {
        if (*nb >= MAX_SUBSAMPLES) {
            return CIR_EUNSUPPORTED;
        }
        sub[(*nb)++] = (subsample_t){0xffff, 0};
        clear -= 0xffff;
    }
    if (*nb >= MAX_SUBSAMPLES) {
        return CIR_EUNSUPPORTED;
    }
    sub[(*nb)++] = (subsample_t){(uint16_t)clear, (uint32_t)prot};
    return 0;
}

/* The subsamples of one video sample: clear NAL lengths, headers, slice
 * headers and non-VCL units, the slice data protected. */
static int
video_subsamples(cir_cenc_t *e, const uint8_t *s, size_t size, subsample_t *sub,
                 int *nb)
{
    size_t L = (size_t)e->nal_length_size;
    size_t pos = 0, clear = 0;
    int ret;

    *nb = 0;
    if (e->slices == NULL) {
        return CIR_EINVAL; /* no init segment yet */
    }
    while (pos < size) {
        size_t n = 0, nal_clear;
        if (size - pos < L) {
            return CIR_EMEDIA;
        }
        for (size_t i = 0; i < L; i++) {
            n = n << 8 | s[pos + i];
        }
        if (n == 0 || n > size - pos - L) {
            return CIR_EMEDIA;
        }
        if ((ret = nal_clear_bytes(e, s + pos + L, n, &nal_clear)) < 0) {
            return ret;
        }
        clear += L + nal_clear;
        pos += L + n;
        if (nal_clear < n) {
            if ((ret = add_subsample(sub, nb, clear, n - nal_clear)) < 0) {
                return ret;
            }
            clear = 0;
        }
    }
    while (clear > 0) {
        size_t c = clear > 0xffff ? 0xffff : clear;
        if ((ret = add_subsample(sub, nb, c, 0)) < 0) {
            return ret;
        }
        clear -= c;
    }
    return 0;
}

static int
evp_update(EVP_CIPHER_CTX *ctx, uint8_t *p, size_t n)
{
    int outl = 0;

    while (n > 0) {
        int chunk = n > (1 << 30) ? 1 << 30 : (int)n;
        if (EVP_EncryptUpdate(ctx, p, &outl, p, chunk) != 1 || outl != chunk) {
            return CIR_EINTERNAL;
        }
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

/* Encrypts one sample in place after its subsample map. */
static int
encrypt_sample(cir_cenc_t *e, uint8_t *s, const subsample_t *sub, int nb)
{
    int cbcs = e->enc.scheme == CIR_ENC_CBCS;
    size_t pos = 0;

    if (!cbcs && EVP_EncryptInit_ex(e->ctx, NULL, NULL, NULL, e->iv) != 1) {
        return CIR_EINTERNAL;
    }
    for (int i = 0; i < nb; i++) {
        uint8_t *p = s + pos + sub[i].clear;
        size_t n = sub[i].protected_bytes;
        int ret = 0;

        pos += sub[i].clear + n;
        if (n == 0) {
            continue;
        }
        if (!cbcs) {
            /* the counter runs on across the sample's subsamples */
            ret = evp_update(e->ctx, p, n);
        } else if (EVP_EncryptInit_ex(e->ctx, NULL, NULL, NULL, e->iv) != 1) {
            ret = CIR_EINTERNAL; /* each subsample starts at the IV */
        } else if (e->is_video) {
            /* 1 block encrypted, 9 clear; a partial block stays clear */
            for (size_t b = 0; b + 16 <= n && ret == 0; b += 160) {
                ret = evp_update(e->ctx, p + b, 16);
            }
        } else {
            ret = evp_update(e->ctx, p, n - n % 16);
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* The next sample's IV: the 8-byte counter + 1. */
static void
next_iv(cir_cenc_t *e)
{
    for (int i = 7; i >= 0 && ++e->iv[i] == 0; i--) {
    }
}

typedef struct {
    int64_t traf, tfhd, trun;
    size_t traf_end;
    uint32_t count;
    size_t data_offset_at; /* where trun's data offset is, in the moof */
    int32_t data_offset;
    uint32_t default_size;
    size_t entries; /* trun's first per-sample entry */
    uint32_t trun_flags;
} frag_t;

static int
parse_moof(const uint8_t *m, size_t len, frag_t *f)
{
    size_t p, end, per;
    uint32_t flags;

    memset(f, 0, sizeof(*f));
    f->traf = cir_cmaf_find_box(m, 8, len, "traf");
    if (f->traf < 0) {
        return CIR_EMEDIA;
    }
    f->traf_end = (size_t)f->traf + AV_RB32(m + f->traf);
    f->tfhd = cir_cmaf_find_box(m, (size_t)f->traf + 8, f->traf_end, "tfhd");
    f->trun = cir_cmaf_find_box(m, (size_t)f->traf + 8, f->traf_end, "trun");
    if (f->tfhd < 0 || f->trun < 0 ||
        cir_cmaf_find_box(m, f->traf_end, len, "traf") >= 0) {
        return CIR_EMEDIA; /* one track per file */
    }
    p = (size_t)f->tfhd + 8;
    end = (size_t)f->tfhd + AV_RB32(m + f->tfhd);
    if (p + 8 > end) {
        return CIR_EMEDIA;
    }
    flags = AV_RB32(m + p) & 0xffffff;
    /* offsets from the moof (default-base-is-moof), no base offset */
    if ((flags & 0x01) || !(flags & 0x020000)) {
        return CIR_EUNSUPPORTED;
    }
    p += 8 + ((flags & 0x02) ? 4 : 0) + ((flags & 0x08) ? 4 : 0);
    if ((flags & 0x10) && p + 4 <= end) {
        f->default_size = AV_RB32(m + p);
    }
    p = (size_t)f->trun + 8;
    end = (size_t)f->trun + AV_RB32(m + f->trun);
    if (p + 12 > end) {
        return CIR_EMEDIA;
    }
    f->trun_flags = AV_RB32(m + p) & 0xffffff;
    f->count = AV_RB32(m + p + 4);
    if (!(f->trun_flags & 0x01) || f->count == 0) {
        return CIR_EMEDIA;
    }
    f->data_offset_at = p + 8;
    f->data_offset = (int32_t)AV_RB32(m + p + 8);
    f->entries = p + 12 + ((f->trun_flags & 0x04) ? 4 : 0);
    /* every entry must be inside the trun */
    per = 4 * (size_t)(!!(f->trun_flags & 0x100) + !!(f->trun_flags & 0x200) +
                       !!(f->trun_flags & 0x400) + !!(f->trun_flags & 0x800));
    if (f->entries > end || (per > 0 && f->count > (end - f->entries) / per)) {
        return CIR_EMEDIA;
    }
    if (!(f->trun_flags & 0x200) && f->default_size == 0) {
        return CIR_EMEDIA;
    }
    return 0;
}

static uint32_t
sample_size(const uint8_t *m, const frag_t *f, uint32_t i)
{
    size_t per = 0, p;

    if (!(f->trun_flags & 0x200)) {
        return f->default_size;
    }
    per = 4 * (size_t)(!!(f->trun_flags & 0x100) + 1 +
                       !!(f->trun_flags & 0x400) + !!(f->trun_flags & 0x800));
    p = f->entries + per * i + ((f->trun_flags & 0x100) ? 4 : 0);
    return AV_RB32(m + p);
}

/* Encrypts the samples of one moof + mdat pair into pb. */
static int
protect_pair(cir_cenc_t *e, const uint8_t *m, size_t mlen, const uint8_t *d,
             size_t dlen, AVIOContext *pb, uint64_t *growth)
{
    subsample_t sub[MAX_SUBSAMPLES];
    AVIOContext *info = NULL;
    uint8_t *mdat = NULL, *infobuf = NULL, *moof = NULL, *sizes = NULL;
    size_t pos, iv_size = e->enc.scheme == CIR_ENC_CENC ? 8 : 0;
    int infolen = 0, ret, same = 1;
    frag_t f;

    if ((ret = parse_moof(m, mlen, &f)) < 0) {
        return ret;
    }
    /* the samples, from the trun's data offset, must be in the mdat */
    if (f.data_offset < (int64_t)(mlen + 8) ||
        (size_t)f.data_offset > mlen + dlen) {
        return CIR_EMEDIA;
    }
    mdat = av_memdup(d, dlen);
    sizes = av_malloc(f.count);
    if (mdat == NULL || sizes == NULL || avio_open_dyn_buf(&info) < 0) {
        ret = CIR_ENOMEM;
        goto done;
    }
    pos = (size_t)f.data_offset - mlen;
    for (uint32_t i = 0; i < f.count; i++) {
        uint32_t n = sample_size(m, &f, i);
        int nb = 1;
        if (n > dlen - pos) {
            ret = CIR_EMEDIA;
            goto done;
        }
        if (e->is_video) {
            ret = video_subsamples(e, mdat + pos, n, sub, &nb);
        } else {
            sub[0] = (subsample_t){0, n}; /* the whole sample */
        }
        if (ret < 0 || (ret = encrypt_sample(e, mdat + pos, sub, nb)) < 0) {
            goto done;
        }
        avio_write(info, e->iv, (int)iv_size);
        if (e->is_video) {
            avio_wb16(info, (unsigned)nb);
            for (int k = 0; k < nb; k++) {
                avio_wb16(info, sub[k].clear);
                avio_wb32(info, sub[k].protected_bytes);
            }
        }
        sizes[i] = (uint8_t)(iv_size + (e->is_video ? 2 + 6 * (size_t)nb : 0));
        same = same && sizes[i] == sizes[0];
        if (iv_size) {
            next_iv(e);
        }
        pos += n;
    }
    infolen = avio_close_dyn_buf(info, &infobuf);
    info = NULL;
    {
        uint32_t senc = 16 + (uint32_t)infolen;
        /* a default size of 0 means a table follows (cbcs audio: all 0) */
        same = same && sizes[0] != 0;
        uint32_t saiz = 17 + (same ? 0 : f.count);
        uint32_t saio = 20;
        uint32_t add = senc + saiz + saio;

        moof = av_memdup(m, mlen);
        if (moof == NULL || infolen < 0) {
            ret = CIR_ENOMEM;
            goto done;
        }
        AV_WB32(moof, (uint32_t)mlen + add);
        AV_WB32(moof + f.traf, AV_RB32(m + f.traf) + add);
        AV_WB32(moof + f.data_offset_at, (uint32_t)f.data_offset + add);
        avio_write(pb, moof, (int)f.traf_end);
        /* senc: the IVs and subsamples */
        avio_wb32(pb, senc);
        put_tag(pb, "senc");
        avio_wb32(pb, e->is_video ? 0x000002 : 0); /* subsamples? */
        avio_wb32(pb, f.count);
        avio_write(pb, infobuf, infolen);
        avio_wb32(pb, saiz);
        put_tag(pb, "saiz");
        avio_wb32(pb, 0);
        avio_w8(pb, same ? sizes[0] : 0);
        avio_wb32(pb, f.count);
        if (!same) {
            avio_write(pb, sizes, (int)f.count);
        }
        /* saio: where senc's first entry is, from the moof */
        avio_wb32(pb, saio);
        put_tag(pb, "saio");
        avio_wb32(pb, 0);
        avio_wb32(pb, 1);
        avio_wb32(pb, (uint32_t)f.traf_end + 16);
        avio_write(pb, moof + f.traf_end, (int)(mlen - f.traf_end));
        avio_write(pb, mdat, (int)dlen);
        *growth = add;
    }
    ret = 0;

done:
    if (info != NULL) {
        avio_close_dyn_buf(info, &infobuf);
    }
    av_free(infobuf);
    av_free(mdat);
    av_free(moof);
    av_free(sizes);
    return ret;
}

int
cir_cenc_protect_fragments(cir_cenc_t *e, const uint8_t *in, size_t size,
                           uint8_t **out, size_t *out_size)
{
    AVIOContext *pb = NULL;
    size_t off = 0;
    uint64_t added = 0;
    int ret = 0, len;

    e->nb_map = 0;
    if (!e->init_done || size > INT32_MAX) {
        return CIR_EINTERNAL;
    }
    if (avio_open_dyn_buf(&pb) < 0) {
        return CIR_ENOMEM;
    }
    while (off < size && ret == 0) {
        uint64_t blen, dlen, growth = 0;
        if (size - off < 8 || (blen = AV_RB32(in + off)) < 8 ||
            blen > size - off) {
            ret = CIR_EMEDIA;
            break;
        }
        if (memcmp(in + off + 4, "moof", 4) != 0) {
            avio_write(pb, in + off, (int)blen);
            off += blen;
            continue;
        }
        if (size - off - blen < 8 ||
            memcmp(in + off + blen + 4, "mdat", 4) != 0 ||
            (dlen = AV_RB32(in + off + blen)) < 8 || dlen > size - off - blen ||
            e->nb_map >= MAX_FRAGMENTS) {
            ret = CIR_EMEDIA;
            break;
        }
        e->map[e->nb_map++] = (moof_map_t){off, off + added, 0};
        ret =
            protect_pair(e, in + off, blen, in + off + blen, dlen, pb, &growth);
        e->map[e->nb_map - 1].growth = growth;
        added += growth;
        off += blen + dlen;
    }
    len = avio_close_dyn_buf(pb, out);
    if (ret == 0 && (len < 0 || (size_t)len != size + added)) {
        ret = len < 0 ? CIR_ENOMEM : CIR_EINTERNAL;
    }
    if (ret < 0) {
        av_freep(out);
        return ret;
    }
    *out_size = (size_t)len;
    return 0;
}

void
cir_cenc_map_offset(const cir_cenc_t *e, uint64_t in_off, uint64_t *out_off,
                    uint64_t *growth)
{
    uint64_t added = 0;

    for (size_t i = 0; i < e->nb_map; i++) {
        if (e->map[i].in_off == in_off) {
            *out_off = e->map[i].out_off;
            *growth = e->map[i].growth;
            return;
        }
        if (e->map[i].in_off > in_off) {
            break;
        }
        added = e->map[i].out_off + e->map[i].growth - e->map[i].in_off;
    }
    *out_off = in_off + added;
    *growth = 0;
}
