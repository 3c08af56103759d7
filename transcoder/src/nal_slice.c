/*
 * Slice header lengths of H.264 (ITU-T H.264 7.3.3) and H.265 (ITU-T
 * H.265 7.3.6.1) VCL NAL units.  See nal_slice.h.
 *
 * Why a parser of our own: libavcodec has no public slice-header API (its
 * cbs is internal), and Common Encryption needs the header's length.
 *
 * Tested by tests/unit/test_transcoder_nal_slice.c and
 * tests/fuzz/fuzz_nal_slice.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "nal_slice.h"

#define AVC_MAX_SPS  32
#define AVC_MAX_PPS  256
#define HEVC_MAX_SPS 16
#define HEVC_MAX_PPS 64
#define MAX_REFS     32 /* num_ref_idx_active_minus1 + 1 */
#define MAX_DPB      16 /* pictures in one short-term reference set */
#define MAX_RPS      64 /* num_short_term_ref_pic_sets */
#define MAX_LT_SPS   32 /* num_long_term_ref_pics_sps */

/* ---- bits: an RBSP read over the NAL bytes, emulation prevention
 * bytes (00 00 03) skipped ---- */

typedef struct {
    const uint8_t *buf;
    size_t size, pos;   /* pos: the raw byte after the current one */
    unsigned cur, left; /* the current byte and its unread bits */
    int zeros, err;
} bits_t;

static void
bits_init(bits_t *b, const uint8_t *buf, size_t size)
{
    *b = (bits_t){.buf = buf, .size = size};
}

static unsigned
read_bit(bits_t *b)
{
    if (b->err) {
        return 0;
    }
    if (b->left == 0) {
        if (b->pos < b->size && b->zeros >= 2 && b->buf[b->pos] == 3) {
            b->pos++; /* emulation prevention */
            b->zeros = 0;
        }
        if (b->pos >= b->size) {
            b->err = CIR_EMEDIA;
            return 0;
        }
        b->cur = b->buf[b->pos++];
        b->zeros = b->cur == 0 ? b->zeros + 1 : 0;
        b->left = 8;
    }
    b->left--;
    return (b->cur >> b->left) & 1;
}

/* n <= 32 bits */
static uint32_t
read_bits(bits_t *b, unsigned n)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < n && !b->err; i++) {
        v = v << 1 | read_bit(b);
    }
    return v;
}

static void
skip_bits(bits_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n && !b->err; i++) {
        read_bit(b);
    }
}

/* ue(v): values above max are an error (every use has a bound) */
static uint32_t
read_ue(bits_t *b, uint32_t max)
{
    unsigned zeros = 0;
    uint64_t v;

    while (!b->err && read_bit(b) == 0) {
        if (++zeros > 31) {
            b->err = CIR_EMEDIA;
        }
    }
    v = ((uint64_t)1 << zeros) - 1 + read_bits(b, zeros);
    if (!b->err && v > max) {
        b->err = CIR_EMEDIA;
    }
    return b->err ? 0 : (uint32_t)v;
}

/* se(v), |value| <= max */
static int32_t
read_se(bits_t *b, uint32_t max)
{
    uint32_t k = read_ue(b, 2 * max);

    return k & 1 ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

static unsigned
ceil_log2(uint32_t n)
{
    unsigned k = 0;

    while (k < 32 && ((uint64_t)1 << k) < n) {
        k++;
    }
    return k;
}

/* ---- H.264 ---- */

typedef struct {
    int valid;
    int chroma_array_type, separate_colour_plane;
    unsigned log2_max_frame_num, poc_type, log2_max_poc_lsb;
    int delta_pic_order_always_zero, frame_mbs_only;
} avc_sps_t;

typedef struct {
    int valid, slice_groups; /* slice_groups: FMO, not followed */
    uint32_t sps_id;
    int cabac, bottom_field_pic_order, weighted_pred, weighted_bipred_idc;
    int deblocking_filter_control, redundant_pic_cnt;
    uint32_t num_ref_idx_default[2];
} avc_pps_t;

/* ---- H.265 ---- */

typedef struct {
    int num_neg, num_pos;
    int32_t poc[2][MAX_DPB];
    uint8_t used[2][MAX_DPB];
} rps_t;

typedef struct {
    int valid;
    int chroma_array_type, separate_colour_plane;
    unsigned log2_max_poc_lsb, address_bits;
    uint32_t num_rps, num_lt_sps;
    int long_term_refs, temporal_mvp, sao;
    uint8_t lt_used[MAX_LT_SPS];
    rps_t rps[MAX_RPS];
} hevc_sps_t;

typedef struct {
    int valid;
    uint32_t sps_id;
    int dependent_slices, output_flag, cabac_init, chroma_qp_offsets;
    unsigned extra_bits;
    uint32_t num_ref_idx_default[2];
    int weighted_pred, weighted_bipred, tiles, wpp;
    int loop_filter_across_slices, deblocking_override, deblocking_disabled;
    int lists_modification, header_extension, chroma_qp_offset_list;
} hevc_pps_t;

struct cir_nal_slice {
    int is_hevc;
    union {
        struct {
            avc_sps_t sps[AVC_MAX_SPS];
            avc_pps_t pps[AVC_MAX_PPS];
        } avc;
        struct {
            hevc_sps_t sps[HEVC_MAX_SPS];
            hevc_pps_t pps[HEVC_MAX_PPS];
        } hevc;
    } u;
};

/* ---- H.264 parameter sets (7.3.2.1.1, 7.3.2.2) ---- */

static void
avc_skip_scaling_list(bits_t *b, int size)
{
    int last = 8, next = 8;

    for (int j = 0; j < size && !b->err; j++) {
        if (next != 0) {
            next = (last + read_se(b, 128) + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
}

static int
avc_high_profile(uint32_t profile)
{
    static const uint8_t high[] = {100, 110, 122, 244, 44,  83, 86,
                                   118, 128, 138, 139, 134, 135};

    for (size_t i = 0; i < sizeof(high); i++) {
        if (profile == high[i]) {
            return 1;
        }
    }
    return 0;
}

static void
avc_skip_poc_cycle(bits_t *b)
{
    read_se(b, INT32_MAX); /* offset_for_non_ref_pic */
    read_se(b, INT32_MAX); /* offset_for_top_to_bottom */
    for (uint32_t n = read_ue(b, 255); n > 0 && !b->err; n--) {
        read_se(b, INT32_MAX); /* offset_for_ref_frame */
    }
}

static int
avc_parse_sps(cir_nal_slice_t *p, bits_t *b)
{
    avc_sps_t s = {.valid = 1, .chroma_array_type = 1};
    uint32_t profile = read_bits(b, 8), id;

    skip_bits(b, 16); /* constraint flags, level_idc */
    id = read_ue(b, AVC_MAX_SPS - 1);
    if (avc_high_profile(profile)) {
        uint32_t chroma = read_ue(b, 3);
        s.separate_colour_plane = chroma == 3 ? (int)read_bit(b) : 0;
        s.chroma_array_type = s.separate_colour_plane ? 0 : (int)chroma;
        read_ue(b, 6); /* bit depths */
        read_ue(b, 6);
        read_bit(b); /* qpprime_y_zero_transform_bypass_flag */
        if (read_bit(b)) {
            for (int i = 0; i < (chroma != 3 ? 8 : 12) && !b->err; i++) {
                if (read_bit(b)) {
                    avc_skip_scaling_list(b, i < 6 ? 16 : 64);
                }
            }
        }
    }
    s.log2_max_frame_num = read_ue(b, 12) + 4;
    s.poc_type = read_ue(b, 2);
    if (s.poc_type == 0) {
        s.log2_max_poc_lsb = read_ue(b, 12) + 4;
    } else if (s.poc_type == 1) {
        s.delta_pic_order_always_zero = (int)read_bit(b);
        avc_skip_poc_cycle(b);
    }
    read_ue(b, 32); /* max_num_ref_frames */
    read_bit(b);    /* gaps_in_frame_num_value_allowed_flag */
    read_ue(b, UINT32_MAX);
    read_ue(b, UINT32_MAX); /* picture size in macroblocks */
    s.frame_mbs_only = (int)read_bit(b);
    if (b->err) {
        return b->err;
    }
    p->u.avc.sps[id] = s;
    return 0;
}

static int
avc_parse_pps(cir_nal_slice_t *p, bits_t *b)
{
    avc_pps_t s = {.valid = 1};
    uint32_t id = read_ue(b, AVC_MAX_PPS - 1);

    s.sps_id = read_ue(b, AVC_MAX_SPS - 1);
    s.cabac = (int)read_bit(b);
    s.bottom_field_pic_order = (int)read_bit(b);
    if (read_ue(b, 7) > 0) {
        /* slice groups (FMO, Baseline/Extended only): the slice header's
         * slice_group_change_cycle is not followed; refused at the slice */
        s.slice_groups = 1;
        p->u.avc.pps[id] = s;
        return b->err;
    }
    s.num_ref_idx_default[0] = read_ue(b, MAX_REFS - 1);
    s.num_ref_idx_default[1] = read_ue(b, MAX_REFS - 1);
    s.weighted_pred = (int)read_bit(b);
    s.weighted_bipred_idc = (int)read_bits(b, 2);
    read_se(b, 64); /* pic_init_qp_minus26, pic_init_qs_minus26, */
    read_se(b, 64); /* chroma_qp_index_offset */
    read_se(b, 12);
    s.deblocking_filter_control = (int)read_bit(b);
    read_bit(b); /* constrained_intra_pred_flag */
    s.redundant_pic_cnt = (int)read_bit(b);
    if (b->err) {
        return b->err;
    }
    p->u.avc.pps[id] = s;
    return 0;
}

/* ---- H.264 slice header (7.3.3) ---- */

enum {
    AVC_P,
    AVC_B,
    AVC_I,
    AVC_SP,
    AVC_SI
};

static void
avc_skip_ref_list_modification(bits_t *b)
{
    if (!read_bit(b)) {
        return;
    }
    for (;;) {
        uint32_t idc = read_ue(b, 5);
        if (b->err || idc == 3) {
            return;
        }
        if (idc > 5) {
            b->err = CIR_EMEDIA;
            return;
        }
        read_ue(b, UINT32_MAX); /* abs_diff_pic_num / long_term_pic_num */
    }
}

static void
avc_skip_pred_weights(bits_t *b, const avc_sps_t *sps, const uint32_t *refs,
                      int lists)
{
    read_ue(b, 7); /* luma_log2_weight_denom */
    if (sps->chroma_array_type != 0) {
        read_ue(b, 7);
    }
    for (int l = 0; l < lists; l++) {
        for (uint32_t i = 0; i < refs[l] && !b->err; i++) {
            if (read_bit(b)) {
                read_se(b, 128);
                read_se(b, 128);
            }
            if (sps->chroma_array_type != 0 && read_bit(b)) {
                for (int j = 0; j < 4; j++) {
                    read_se(b, 128);
                }
            }
        }
    }
}

static void
avc_skip_ref_pic_marking(bits_t *b, int idr)
{
    if (idr) {
        skip_bits(b, 2);
        return;
    }
    if (!read_bit(b)) {
        return;
    }
    for (;;) {
        uint32_t op = read_ue(b, 6);
        if (b->err || op == 0) {
            return;
        }
        read_ue(b, UINT32_MAX);
        if (op == 3) {
            read_ue(b, UINT32_MAX);
        }
    }
}

static int
avc_slice_header(const cir_nal_slice_t *p, bits_t *b, uint8_t nal_byte)
{
    int type = nal_byte & 0x1f, ref_idc = (nal_byte >> 5) & 3, field = 0;
    int idr = type == 5;
    uint32_t slice, pps_id, refs[2];
    const avc_pps_t *pps;
    const avc_sps_t *sps;

    if (type != 1 && type != 5) {
        return CIR_EUNSUPPORTED; /* data partitioning */
    }
    read_ue(b, UINT32_MAX); /* first_mb_in_slice */
    slice = read_ue(b, 9) % 5;
    pps_id = read_ue(b, AVC_MAX_PPS - 1);
    pps = &p->u.avc.pps[pps_id];
    sps = &p->u.avc.sps[pps->sps_id];
    if (b->err || !pps->valid || !sps->valid) {
        return CIR_EMEDIA;
    }
    if (pps->slice_groups) {
        return CIR_EUNSUPPORTED;
    }
    skip_bits(b, sps->separate_colour_plane ? 2 : 0);
    skip_bits(b, sps->log2_max_frame_num);
    if (!sps->frame_mbs_only && (field = (int)read_bit(b))) {
        read_bit(b); /* bottom_field_flag */
    }
    if (idr) {
        read_ue(b, 65535);
    }
    if (sps->poc_type == 0) {
        skip_bits(b, sps->log2_max_poc_lsb);
        if (pps->bottom_field_pic_order && !field) {
            read_se(b, INT32_MAX);
        }
    }
    if (sps->poc_type == 1 && !sps->delta_pic_order_always_zero) {
        read_se(b, INT32_MAX);
        if (pps->bottom_field_pic_order && !field) {
            read_se(b, INT32_MAX);
        }
    }
    if (pps->redundant_pic_cnt) {
        read_ue(b, 127);
    }
    if (slice == AVC_B) {
        read_bit(b); /* direct_spatial_mv_pred_flag */
    }
    refs[0] = pps->num_ref_idx_default[0] + 1;
    refs[1] = pps->num_ref_idx_default[1] + 1;
    if ((slice == AVC_P || slice == AVC_SP || slice == AVC_B) && read_bit(b)) {
        refs[0] = read_ue(b, MAX_REFS - 1) + 1;
        if (slice == AVC_B) {
            refs[1] = read_ue(b, MAX_REFS - 1) + 1;
        }
    }
    if (slice != AVC_I && slice != AVC_SI) {
        avc_skip_ref_list_modification(b);
        if (slice == AVC_B) {
            avc_skip_ref_list_modification(b);
        }
    }
    if ((pps->weighted_pred && (slice == AVC_P || slice == AVC_SP)) ||
        (pps->weighted_bipred_idc == 1 && slice == AVC_B)) {
        avc_skip_pred_weights(b, sps, refs, slice == AVC_B ? 2 : 1);
    }
    if (ref_idc != 0) {
        avc_skip_ref_pic_marking(b, idr);
    }
    if (pps->cabac && slice != AVC_I && slice != AVC_SI) {
        read_ue(b, 2); /* cabac_init_idc */
    }
    read_se(b, 87); /* slice_qp_delta */
    if (slice == AVC_SP || slice == AVC_SI) {
        skip_bits(b, slice == AVC_SP ? 1 : 0);
        read_se(b, 87);
    }
    if (pps->deblocking_filter_control && read_ue(b, 2) != 1) {
        read_se(b, 6);
        read_se(b, 6);
    }
    return b->err;
}

/* ---- H.265 parameter sets (7.3.2.2, 7.3.2.3, 7.3.7) ---- */

static void
hevc_skip_profile_tier_level(bits_t *b, unsigned max_sub_layers_minus1)
{
    uint8_t profile[8], level[8];

    skip_bits(b, 96); /* general profile, tier, flags, level */
    for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
        profile[i] = (uint8_t)read_bit(b);
        level[i] = (uint8_t)read_bit(b);
    }
    if (max_sub_layers_minus1 > 0) {
        skip_bits(b, 2 * (8 - max_sub_layers_minus1));
    }
    for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
        skip_bits(b, (profile[i] ? 88 : 0) + (level[i] ? 8 : 0));
    }
}

static void
hevc_skip_scaling_list_data(bits_t *b)
{
    for (int size = 0; size < 4; size++) {
        for (int m = 0; m < 6 && !b->err; m += size == 3 ? 3 : 1) {
            if (!read_bit(b)) {
                read_ue(b, (unsigned)m); /* pred_matrix_id_delta */
                continue;
            }
            int coefs = 1 << (4 + (size << 1));
            coefs = coefs > 64 ? 64 : coefs;
            if (size > 1) {
                read_se(b, 256); /* dc coefficient */
            }
            for (int i = 0; i < coefs && !b->err; i++) {
                read_se(b, 256);
            }
        }
    }
}

static int
rps_add(rps_t *r, int list, int32_t poc, uint8_t used)
{
    int *n = list == 0 ? &r->num_neg : &r->num_pos;

    if (*n >= MAX_DPB || r->num_neg + r->num_pos >= MAX_DPB) {
        return CIR_EMEDIA;
    }
    r->poc[list][*n] = poc;
    r->used[list][(*n)++] = used;
    return 0;
}

/* 7-61, 7-62: a set predicted from ref and deltaRps */
static int
rps_predict(rps_t *r, const rps_t *ref, int32_t delta, const uint8_t *used,
            const uint8_t *use)
{
    int neg = ref->num_neg, all = ref->num_neg + ref->num_pos, ret = 0;

    for (int j = ref->num_pos - 1; j >= 0 && ret == 0; j--) {
        int32_t d = ref->poc[1][j] + delta;
        if (d < 0 && use[neg + j]) {
            ret = rps_add(r, 0, d, used[neg + j]);
        }
    }
    if (ret == 0 && delta < 0 && use[all]) {
        ret = rps_add(r, 0, delta, used[all]);
    }
    for (int j = 0; j < neg && ret == 0; j++) {
        int32_t d = ref->poc[0][j] + delta;
        if (d < 0 && use[j]) {
            ret = rps_add(r, 0, d, used[j]);
        }
    }
    for (int j = neg - 1; j >= 0 && ret == 0; j--) {
        int32_t d = ref->poc[0][j] + delta;
        if (d > 0 && use[j]) {
            ret = rps_add(r, 1, d, used[j]);
        }
    }
    if (ret == 0 && delta > 0 && use[all]) {
        ret = rps_add(r, 1, delta, used[all]);
    }
    for (int j = 0; j < ref->num_pos && ret == 0; j++) {
        int32_t d = ref->poc[1][j] + delta;
        if (d > 0 && use[neg + j]) {
            ret = rps_add(r, 1, d, used[neg + j]);
        }
    }
    return ret;
}

/* st_ref_pic_set(idx) (7.3.7) of a set of num; sets: the SPS's */
static int
hevc_parse_rps(bits_t *b, const rps_t *sets, uint32_t idx, uint32_t num,
               rps_t *r)
{
    *r = (rps_t){0};
    if (idx != 0 && read_bit(b)) {
        uint32_t back = idx == num ? read_ue(b, idx - 1) + 1 : 1;
        int sign = (int)read_bit(b);
        int32_t delta = (int32_t)read_ue(b, 32767) + 1;
        uint8_t used[MAX_DPB + 1], use[MAX_DPB + 1];
        const rps_t *ref = &sets[idx - back];
        int all = ref->num_neg + ref->num_pos;

        for (int j = 0; j <= all; j++) {
            used[j] = (uint8_t)read_bit(b);
            use[j] = used[j] ? 1 : (uint8_t)read_bit(b);
        }
        return b->err ? b->err
                      : rps_predict(r, ref, sign ? -delta : delta, used, use);
    }
    uint32_t n[2];
    n[0] = read_ue(b, MAX_DPB);
    n[1] = read_ue(b, MAX_DPB);
    for (int l = 0; l < 2; l++) {
        int32_t poc = 0;
        for (uint32_t i = 0; i < n[l] && !b->err; i++) {
            int32_t d = (int32_t)read_ue(b, 32767) + 1;
            poc += l == 0 ? -d : d;
            uint8_t used = (uint8_t)read_bit(b);
            if (!b->err && rps_add(r, l, poc, used) < 0) {
                return CIR_EMEDIA;
            }
        }
    }
    return b->err;
}

static void
hevc_skip_sps_until_coding(bits_t *b, hevc_sps_t *s, unsigned sub_layers)
{
    uint32_t chroma = read_ue(b, 3), width, height, min_cb, ctb;

    s->separate_colour_plane = chroma == 3 ? (int)read_bit(b) : 0;
    s->chroma_array_type = s->separate_colour_plane ? 0 : (int)chroma;
    width = read_ue(b, 65535);
    height = read_ue(b, 65535);
    if (read_bit(b)) {
        for (int i = 0; i < 4; i++) {
            read_ue(b, 65535); /* conformance window */
        }
    }
    read_ue(b, 8); /* bit depths */
    read_ue(b, 8);
    s->log2_max_poc_lsb = read_ue(b, 12) + 4;
    for (unsigned i = read_bit(b) ? 0 : sub_layers; i <= sub_layers; i++) {
        for (int k = 0; k < 3; k++) {
            read_ue(b, UINT32_MAX); /* sub-layer ordering */
        }
    }
    min_cb = read_ue(b, 3) + 3;
    ctb = min_cb + read_ue(b, 3);
    if (!b->err && ctb > 6) {
        b->err = CIR_EMEDIA;
    }
    /* slice_segment_address: Ceil(Log2(PicSizeInCtbsY)) bits */
    s->address_bits = ceil_log2(((width + (1u << ctb) - 1) >> ctb) *
                                ((height + (1u << ctb) - 1) >> ctb));
}

static int
hevc_parse_sps(cir_nal_slice_t *p, bits_t *b)
{
    hevc_sps_t *s = calloc(1, sizeof(*s));
    unsigned sub_layers;
    uint32_t id;

    if (s == NULL) {
        return CIR_ENOMEM;
    }
    s->valid = 1;
    skip_bits(b, 4); /* sps_video_parameter_set_id */
    sub_layers = read_bits(b, 3);
    if (sub_layers > 6) {
        b->err = CIR_EMEDIA;
    }
    read_bit(b); /* temporal_id_nesting */
    hevc_skip_profile_tier_level(b, b->err ? 0 : sub_layers);
    id = read_ue(b, HEVC_MAX_SPS - 1);
    hevc_skip_sps_until_coding(b, s, sub_layers);
    read_ue(b, 3); /* log2 transform block sizes, hierarchy depths */
    read_ue(b, 3);
    read_ue(b, 4);
    read_ue(b, 4);
    if (read_bit(b) && read_bit(b)) {
        hevc_skip_scaling_list_data(b);
    }
    read_bit(b); /* amp_enabled_flag */
    s->sao = (int)read_bit(b);
    if (read_bit(b)) {
        skip_bits(b, 8); /* PCM bit depths */
        read_ue(b, 2);
        read_ue(b, 2);
        read_bit(b);
    }
    s->num_rps = read_ue(b, MAX_RPS);
    for (uint32_t i = 0; i < s->num_rps && !b->err; i++) {
        int ret = hevc_parse_rps(b, s->rps, i, s->num_rps, &s->rps[i]);
        b->err = ret < 0 ? ret : b->err;
    }
    if ((s->long_term_refs = (int)read_bit(b))) {
        s->num_lt_sps = read_ue(b, MAX_LT_SPS);
        for (uint32_t i = 0; i < s->num_lt_sps && !b->err; i++) {
            skip_bits(b, s->log2_max_poc_lsb);
            s->lt_used[i] = (uint8_t)read_bit(b);
        }
    }
    s->temporal_mvp = (int)read_bit(b);
    if (!b->err) {
        p->u.hevc.sps[id] = *s;
    }
    free(s);
    return b->err;
}

static void
hevc_skip_tiles(bits_t *b)
{
    uint32_t cols = read_ue(b, 63), rows = read_ue(b, 63);

    if (!read_bit(b)) { /* not uniform: each column's and row's size */
        for (uint32_t i = 0; i < cols + rows && !b->err; i++) {
            read_ue(b, 65535);
        }
    }
    read_bit(b); /* loop_filter_across_tiles_enabled_flag */
}

/* pps_range_extension() (7.3.2.3.2): only its chroma QP offset list
 * changes the slice header; other extensions are refused */
static void
hevc_parse_pps_extensions(bits_t *b, hevc_pps_t *s, int transform_skip)
{
    int range = (int)read_bit(b);

    /* multilayer, 3D, screen content; then 4 bits of extension data */
    if (read_bits(b, 3) != 0) {
        b->err = b->err ? b->err : CIR_EUNSUPPORTED;
        return;
    }
    skip_bits(b, 4);
    if (!range) {
        return;
    }
    if (transform_skip) {
        read_ue(b, 3);
    }
    read_bit(b); /* cross_component_prediction_enabled_flag */
    if ((s->chroma_qp_offset_list = (int)read_bit(b))) {
        read_ue(b, 3);
        for (uint32_t n = read_ue(b, 5) + 1; n > 0 && !b->err; n--) {
            read_se(b, 12);
            read_se(b, 12);
        }
    }
}

static int
hevc_parse_pps(cir_nal_slice_t *p, bits_t *b)
{
    hevc_pps_t s = {.valid = 1};
    uint32_t id = read_ue(b, HEVC_MAX_PPS - 1);
    int transform_skip;

    s.sps_id = read_ue(b, HEVC_MAX_SPS - 1);
    s.dependent_slices = (int)read_bit(b);
    s.output_flag = (int)read_bit(b);
    s.extra_bits = read_bits(b, 3);
    read_bit(b); /* sign_data_hiding_enabled_flag */
    s.cabac_init = (int)read_bit(b);
    s.num_ref_idx_default[0] = read_ue(b, 14);
    s.num_ref_idx_default[1] = read_ue(b, 14);
    read_se(b, 64); /* init_qp_minus26 */
    read_bit(b);    /* constrained_intra_pred_flag */
    transform_skip = (int)read_bit(b);
    if (read_bit(b)) {
        read_ue(b, 6); /* diff_cu_qp_delta_depth */
    }
    read_se(b, 12); /* cb, cr QP offsets */
    read_se(b, 12);
    s.chroma_qp_offsets = (int)read_bit(b);
    s.weighted_pred = (int)read_bit(b);
    s.weighted_bipred = (int)read_bit(b);
    read_bit(b); /* transquant_bypass_enabled_flag */
    s.tiles = (int)read_bit(b);
    s.wpp = (int)read_bit(b);
    if (s.tiles) {
        hevc_skip_tiles(b);
    }
    s.loop_filter_across_slices = (int)read_bit(b);
    if (read_bit(b)) { /* deblocking_filter_control_present_flag */
        s.deblocking_override = (int)read_bit(b);
        if (!(s.deblocking_disabled = (int)read_bit(b))) {
            read_se(b, 6);
            read_se(b, 6);
        }
    }
    if (read_bit(b)) {
        hevc_skip_scaling_list_data(b);
    }
    s.lists_modification = (int)read_bit(b);
    read_ue(b, 4); /* log2_parallel_merge_level_minus2 */
    s.header_extension = (int)read_bit(b);
    if (read_bit(b)) {
        hevc_parse_pps_extensions(b, &s, transform_skip);
    }
    if (b->err) {
        return b->err;
    }
    p->u.hevc.pps[id] = s;
    return 0;
}

/* ---- H.265 slice segment header (7.3.6.1) ---- */

enum {
    HEVC_B,
    HEVC_P,
    HEVC_I
};

/* The long-term pictures; returns how many the current picture uses. */
static uint32_t
hevc_skip_long_term(bits_t *b, const hevc_sps_t *sps)
{
    uint32_t from_sps = 0, used = 0, all;

    if (sps->num_lt_sps > 0) {
        from_sps = read_ue(b, sps->num_lt_sps);
    }
    all = from_sps + read_ue(b, MAX_DPB);
    for (uint32_t i = 0; i < all && !b->err; i++) {
        if (i < from_sps) {
            uint32_t idx = read_bits(b, ceil_log2(sps->num_lt_sps));
            if (idx >= sps->num_lt_sps) {
                b->err = CIR_EMEDIA;
                break;
            }
            used += sps->lt_used[idx];
        } else {
            skip_bits(b, sps->log2_max_poc_lsb);
            used += read_bit(b);
        }
        if (read_bit(b)) {
            read_ue(b, UINT32_MAX); /* delta_poc_msb_cycle_lt */
        }
    }
    return used;
}

static void
hevc_skip_pred_weights(bits_t *b, const hevc_sps_t *sps, const uint32_t *refs,
                       int lists)
{
    int chroma = sps->chroma_array_type != 0;

    read_ue(b, 7); /* luma_log2_weight_denom */
    if (chroma) {
        read_se(b, 7);
    }
    for (int l = 0; l < lists; l++) {
        uint8_t luma[MAX_DPB], chr[MAX_DPB] = {0};
        for (uint32_t i = 0; i < refs[l]; i++) {
            luma[i] = (uint8_t)read_bit(b);
        }
        for (uint32_t i = 0; i < refs[l] && chroma; i++) {
            chr[i] = (uint8_t)read_bit(b);
        }
        for (uint32_t i = 0; i < refs[l] && !b->err; i++) {
            int n = (luma[i] ? 2 : 0) + (chr[i] ? 4 : 0);
            for (int k = 0; k < n; k++) {
                read_se(b, 1 << 20); /* weights, offsets */
            }
        }
    }
}

typedef struct {
    uint32_t slice, refs[2], pic_total;
    int temporal_mvp, sao;
} hevc_slice_t;

static void
hevc_skip_inter(bits_t *b, const hevc_sps_t *sps, const hevc_pps_t *pps,
                hevc_slice_t *h)
{
    int bi = h->slice == HEVC_B, from_l0 = 1;

    h->refs[0] = pps->num_ref_idx_default[0] + 1;
    h->refs[1] = pps->num_ref_idx_default[1] + 1;
    if (read_bit(b)) { /* num_ref_idx_active_override_flag */
        h->refs[0] = read_ue(b, 14) + 1;
        h->refs[1] = bi ? read_ue(b, 14) + 1 : h->refs[1];
    }
    if (pps->lists_modification && h->pic_total > 1) {
        for (int l = 0; l < (bi ? 2 : 1); l++) {
            if (read_bit(b)) {
                skip_bits(b, h->refs[l] * ceil_log2(h->pic_total));
            }
        }
    }
    if (bi) {
        read_bit(b); /* mvd_l1_zero_flag */
    }
    if (pps->cabac_init) {
        read_bit(b);
    }
    if (h->temporal_mvp) {
        if (bi) {
            from_l0 = (int)read_bit(b);
        }
        if (h->refs[from_l0 ? 0 : 1] > 1) {
            read_ue(b, 14); /* collocated_ref_idx */
        }
    }
    if ((pps->weighted_pred && h->slice == HEVC_P) ||
        (pps->weighted_bipred && bi)) {
        hevc_skip_pred_weights(b, sps, h->refs, bi ? 2 : 1);
    }
    read_ue(b, 4); /* five_minus_max_num_merge_cand */
}

/* The fields of an independent slice segment (the part a dependent one
 * takes from it). */
static int
hevc_skip_independent(bits_t *b, const hevc_sps_t *sps, const hevc_pps_t *pps,
                      int nal_type)
{
    hevc_slice_t h = {0};
    int deblocking_disabled = pps->deblocking_disabled;

    skip_bits(b, pps->extra_bits);
    h.slice = read_ue(b, 2);
    skip_bits(b, pps->output_flag ? 1 : 0);
    skip_bits(b, sps->separate_colour_plane ? 2 : 0);
    if (nal_type != 19 && nal_type != 20) { /* not IDR */
        rps_t rps, tmp;
        const rps_t *cur = &rps;
        skip_bits(b, sps->log2_max_poc_lsb);
        if (!read_bit(b)) { /* short_term_ref_pic_set_sps_flag */
            int ret =
                hevc_parse_rps(b, sps->rps, sps->num_rps, sps->num_rps, &tmp);
            if (ret < 0) {
                return ret;
            }
            rps = tmp;
        } else if (sps->num_rps == 0) {
            return CIR_EMEDIA;
        } else {
            uint32_t idx = read_bits(b, ceil_log2(sps->num_rps));
            if (idx >= sps->num_rps) {
                return CIR_EMEDIA;
            }
            cur = &sps->rps[idx];
        }
        for (int i = 0; i < cur->num_neg; i++) {
            h.pic_total += cur->used[0][i];
        }
        for (int i = 0; i < cur->num_pos; i++) {
            h.pic_total += cur->used[1][i];
        }
        if (sps->long_term_refs) {
            h.pic_total += hevc_skip_long_term(b, sps);
        }
        h.temporal_mvp = sps->temporal_mvp ? (int)read_bit(b) : 0;
    }
    if (sps->sao) {
        h.sao = (int)read_bit(b);
        h.sao |= sps->chroma_array_type != 0 ? (int)read_bit(b) : 0;
    }
    if (h.slice != HEVC_I) {
        hevc_skip_inter(b, sps, pps, &h);
    }
    read_se(b, 64); /* slice_qp_delta */
    if (pps->chroma_qp_offsets) {
        read_se(b, 12);
        read_se(b, 12);
    }
    skip_bits(b, pps->chroma_qp_offset_list ? 1 : 0);
    if (pps->deblocking_override && read_bit(b)) {
        if (!(deblocking_disabled = (int)read_bit(b))) {
            read_se(b, 6);
            read_se(b, 6);
        }
    }
    if (pps->loop_filter_across_slices && (h.sao || !deblocking_disabled)) {
        read_bit(b);
    }
    return b->err;
}

static int
hevc_slice_header(const cir_nal_slice_t *p, bits_t *b, int nal_type)
{
    int first = (int)read_bit(b), dependent = 0, ret;
    const hevc_pps_t *pps;
    const hevc_sps_t *sps;

    if (nal_type >= 16 && nal_type <= 23) {
        read_bit(b); /* no_output_of_prior_pics_flag */
    }
    pps = &p->u.hevc.pps[read_ue(b, HEVC_MAX_PPS - 1)];
    sps = &p->u.hevc.sps[pps->sps_id];
    if (b->err || !pps->valid || !sps->valid) {
        return CIR_EMEDIA;
    }
    if (!first) {
        dependent = pps->dependent_slices ? (int)read_bit(b) : 0;
        skip_bits(b, sps->address_bits);
    }
    if (!dependent && (ret = hevc_skip_independent(b, sps, pps, nal_type))) {
        return ret;
    }
    if (pps->tiles || pps->wpp) {
        uint32_t n = read_ue(b, UINT32_MAX);
        if (n > 0) {
            uint32_t len = read_ue(b, 31) + 1;
            for (uint32_t i = 0; i < n && !b->err; i++) {
                skip_bits(b, len);
            }
        }
    }
    if (pps->header_extension) {
        skip_bits(b, 8 * read_ue(b, 256));
    }
    /* byte_alignment(): a one, then zeros */
    if (read_bit(b) != 1 && !b->err) {
        return CIR_EMEDIA;
    }
    while (b->left > 0 && !b->err) {
        read_bit(b);
    }
    return b->err;
}

/* ---- the NAL units ---- */

static int
nal_type(const cir_nal_slice_t *p, const uint8_t *nal, size_t size)
{
    if (size < (p->is_hevc ? 2u : 1u) || (nal[0] & 0x80)) {
        return -1;
    }
    return p->is_hevc ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;
}

int
cir_nal_slice_add_param_set(cir_nal_slice_t *p, const uint8_t *nal, size_t size)
{
    int type = nal_type(p, nal, size);
    size_t hdr = p->is_hevc ? 2 : 1;
    bits_t b;

    if (type < 0) {
        return CIR_EMEDIA;
    }
    bits_init(&b, nal + hdr, size - hdr);
    if (p->is_hevc) {
        if ((nal[0] & 1) || (nal[1] >> 3) != 0) {
            return 0; /* another layer's (its slices are refused) */
        }
        return type == 33   ? hevc_parse_sps(p, &b)
               : type == 34 ? hevc_parse_pps(p, &b)
                            : 0;
    }
    return type == 7   ? avc_parse_sps(p, &b)
           : type == 8 ? avc_parse_pps(p, &b)
                       : 0;
}

int
cir_nal_slice_is_slice(const cir_nal_slice_t *p, const uint8_t *nal,
                       size_t size)
{
    int type = nal_type(p, nal, size);

    return p->is_hevc ? type >= 0 && type < 32 : type >= 1 && type <= 5;
}

int
cir_nal_slice_header_size(const cir_nal_slice_t *p, const uint8_t *nal,
                          size_t size, size_t *header_size)
{
    size_t hdr = p->is_hevc ? 2 : 1;
    int ret;
    bits_t b;

    if (!cir_nal_slice_is_slice(p, nal, size)) {
        return CIR_EMEDIA;
    }
    if (p->is_hevc && ((nal[0] & 1) || (nal[1] >> 3) != 0 || !(nal[1] & 7))) {
        return CIR_EUNSUPPORTED; /* a layer other than the base layer */
    }
    bits_init(&b, nal + hdr, size - hdr);
    ret = p->is_hevc ? hevc_slice_header(p, &b, nal_type(p, nal, size))
                     : avc_slice_header(p, &b, nal[0]);
    if (ret < 0) {
        return ret;
    }
    *header_size = hdr + b.pos;
    return 0;
}

/* ---- decoder configuration records ---- */

/* count NAL units, each a 16-bit length and the unit, from *at */
static int
add_units(cir_nal_slice_t *p, const uint8_t *cfg, size_t size, size_t *at,
          unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        size_t n;
        int ret;
        if (size - *at < 2 ||
            (n = (size_t)cfg[*at] << 8 | cfg[*at + 1]) > size - *at - 2) {
            return CIR_EMEDIA;
        }
        if (n > 0 &&
            (ret = cir_nal_slice_add_param_set(p, cfg + *at + 2, n)) < 0) {
            return ret;
        }
        *at += 2 + n;
    }
    return 0;
}

static int
add_config(cir_nal_slice_t *p, const uint8_t *cfg, size_t size)
{
    size_t at;
    int ret;

    if (!p->is_hevc) { /* AVCDecoderConfigurationRecord */
        if (size < 7 || cfg[0] != 1) {
            return CIR_EMEDIA;
        }
        at = 6;
        if ((ret = add_units(p, cfg, size, &at, cfg[5] & 0x1f)) < 0) {
            return ret;
        }
        if (at >= size) {
            return CIR_EMEDIA;
        }
        at++;
        return add_units(p, cfg, size, &at, cfg[at - 1]);
    }
    /* HEVCDecoderConfigurationRecord: 22 bytes, then the arrays */
    if (size < 23 || cfg[0] != 1) {
        return CIR_EMEDIA;
    }
    at = 23;
    for (unsigned i = 0; i < cfg[22]; i++) {
        if (size - at < 3) {
            return CIR_EMEDIA;
        }
        at += 3;
        if ((ret = add_units(p, cfg, size, &at,
                             (unsigned)cfg[at - 2] << 8 | cfg[at - 1])) < 0) {
            return ret;
        }
    }
    return 0;
}

int
cir_nal_slice_open(cir_nal_slice_t **out, int is_hevc, const uint8_t *cfg,
                   size_t size)
{
    cir_nal_slice_t *p = calloc(1, sizeof(*p));
    int ret;

    *out = NULL;
    if (p == NULL) {
        return CIR_ENOMEM;
    }
    p->is_hevc = is_hevc;
    if ((ret = add_config(p, cfg, size)) < 0) {
        free(p);
        return ret;
    }
    *out = p;
    return 0;
}

void
cir_nal_slice_free(cir_nal_slice_t **p)
{
    free(*p);
    *p = NULL;
}
