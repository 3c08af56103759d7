/*
 * What the HLS, DASH and WebVTT renderers share (manifest_util.h): model
 * validation, number and time formatting in integer arithmetic (the same
 * model always renders to the same bytes), the SegmentTimeline writer.
 *
 * Tested by the renderers' tests (tests/unit/test_origin_hls.c,
 * test_origin_dash.c, test_origin_dash_live.c, test_origin_vtt.c, with
 * goldens).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cir_error.h"
#include "cir_storage.h"
#include "manifest_util.h"

/* Limits that keep every later computation far from overflow. */
#define MAX_ID_LEN     64
#define MAX_CODECS_LEN 256
#define MAX_LANG_LEN   35
#define MAX_NAME_LEN   255
#define MAX_TIME       (INT64_C(1) << 53) /* DASH-IF IOP: times < 2^53 */
#define MAX_SECONDS    1e9
#define MAX_DIM        65535

static int
safe_id(const char *s)
{
    /* "thumbs" is the image track's folder and Representation@id. */
    return s != NULL && cir_name_is_safe(s, strlen(s), MAX_ID_LEN) &&
           strcmp(s, "thumbs") != 0;
}

/* Fits an HLS quoted-string (no '"', CR, LF) and an XML attribute. */
static int
safe_codecs(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > MAX_CODECS_LEN) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"') {
            return 0;
        }
    }
    return 1;
}

/* BCP 47 characters only. */
static int
safe_lang(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > MAX_LANG_LEN) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* An HLS quoted-string (RFC 8216bis 4.2): no '"', CR or LF; no other
 * control character either, and bounded. */
static int
safe_name(const char *s)
{
    return cir_label_is_safe(s, MAX_NAME_LEN);
}

int
cir_manifest_check_rendition(const cir_rendition_t *r)
{
    size_t i;

    if (r == NULL || !safe_id(r->id) || r->timescale == 0 ||
        r->bandwidth == 0 || r->segments == NULL || r->nb_segments == 0) {
        return CIR_EINVAL;
    }
    if (r->codecs != NULL && !safe_codecs(r->codecs)) {
        return CIR_EINVAL;
    }
    for (i = 0; i < r->nb_segments; i++) {
        const cir_segment_t *s = &r->segments[i];
        if (s->start < 0 || s->duration <= 0 || s->start >= MAX_TIME ||
            s->duration > MAX_TIME - s->start) {
            return CIR_EINVAL;
        }
    }
    switch (r->type) {
    case CIR_MEDIA_VIDEO:
        if (r->codecs == NULL || r->width <= 0 || r->height <= 0 ||
            r->width > MAX_DIM || r->height > MAX_DIM ||
            !isfinite(r->frame_rate) || r->frame_rate <= 0 ||
            r->frame_rate > 1000) {
            return CIR_EINVAL;
        }
        if (r->nb_iframes > 0 && r->iframes == NULL) {
            return CIR_EINVAL;
        }
        for (i = 0; i < r->nb_iframes; i++) {
            const cir_iframe_t *f = &r->iframes[i];
            if (f->segment >= r->nb_segments || f->duration <= 0 ||
                f->duration >= MAX_TIME || f->size == 0) {
                return CIR_EINVAL;
            }
        }
        break;
    case CIR_MEDIA_AUDIO:
        if (r->sample_rate <= 0 || r->channels <= 0 || r->channels > 64) {
            return CIR_EINVAL;
        }
        if (r->language != NULL && !safe_lang(r->language)) {
            return CIR_EINVAL;
        }
        if (r->name != NULL && !safe_name(r->name)) {
            return CIR_EINVAL;
        }
        break;
    default:
        return CIR_EINVAL;
    }
    return 0;
}

static int
check_thumbs(const cir_thumbs_t *t)
{
    size_t per;
    int64_t ms;

    if (!isfinite(t->interval) || t->interval <= 0 ||
        t->interval > MAX_SECONDS) {
        return CIR_EINVAL;
    }
    ms = cir_manifest_thumb_interval_ms(t);
    if (ms <= 0 || t->tile_width <= 0 || t->tile_height <= 0 ||
        t->columns <= 0 || t->rows <= 0 ||
        (int64_t)t->tile_width * t->columns > MAX_DIM ||
        (int64_t)t->tile_height * t->rows > MAX_DIM || t->nb_tiles == 0 ||
        t->nb_tiles > (size_t)(MAX_SECONDS) || t->bandwidth == 0) {
        return CIR_EINVAL;
    }
    if ((int64_t)t->nb_tiles > MAX_TIME / ms ||
        (int64_t)cir_manifest_tiles_per_sheet(t) > MAX_TIME / ms) {
        return CIR_EINVAL;
    }
    per = cir_manifest_tiles_per_sheet(t);
    if (t->nb_sprites != (t->nb_tiles + per - 1) / per) {
        return CIR_EINVAL;
    }
    return 0;
}

/* "", or segments of [A-Za-z0-9_-] each followed by '/': nothing that
 * needs escaping in a playlist URI or XML, no "." or ".." segment. */
static int
check_base(const char *b)
{
    size_t seg = 0;

    if (b == NULL || b[0] == '\0') {
        return 0;
    }
    for (const char *p = b; *p; p++) {
        char c = *p;
        if (c == '/') {
            if (seg == 0) {
                return CIR_EINVAL;
            }
            seg = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '_' || c == '-') {
            seg++;
        } else {
            return CIR_EINVAL;
        }
        if (p - b > 512) {
            return CIR_ELIMIT;
        }
    }
    return seg == 0 ? 0 : CIR_EINVAL; /* ends in '/' */
}

/* A non-empty value for a quoted HLS attribute: no quote, no control
 * character. */
static int
quotable(const char *s)
{
    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int
cir_manifest_check_asset(const cir_asset_t *a)
{
    if (a == NULL || a->renditions == NULL || a->nb_renditions == 0) {
        return CIR_EINVAL;
    }
    if (a->protection != NULL && a->protection->scheme != CIR_ENC_CENC &&
        a->protection->scheme != CIR_ENC_CBCS &&
        (a->protection->scheme != CIR_ENC_AES128 ||
         !quotable(a->protection->key_uri))) {
        return CIR_EINVAL;
    }
    return cir_manifest_check_image_track(a);
}

int
cir_manifest_check_image_track(const cir_asset_t *a)
{
    size_t i, j;
    int ret;

    if (a == NULL || (a->nb_renditions > 0 && a->renditions == NULL) ||
        !isfinite(a->duration) || a->duration < 0 ||
        a->duration > MAX_SECONDS) {
        return CIR_EINVAL;
    }
    for (i = 0; i < a->nb_renditions; i++) {
        if ((ret = cir_manifest_check_rendition(&a->renditions[i])) < 0) {
            return ret;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(a->renditions[i].id, a->renditions[j].id) == 0) {
                return CIR_EINVAL; /* two renditions in one folder */
            }
        }
    }
    if (a->thumbs.present && (ret = check_thumbs(&a->thumbs)) < 0) {
        return ret;
    }
    if ((ret = cir_manifest_check_texts(a)) < 0) {
        return ret;
    }
    if (a->cc_language != NULL && !safe_lang(a->cc_language)) {
        return CIR_EINVAL;
    }
    return check_base(a->base);
}

int64_t
cir_manifest_round_div(int64_t num, int64_t den)
{
    return num / den + ((num % den) * 2 >= den ? 1 : 0);
}

static int
put_fixed(cir_buf_t *out, int64_t num, int64_t den, int decimals, int up)
{
    static const int64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    int64_t whole, frac, scale;

    if (num < 0 || den <= 0 || decimals < 0 || decimals > 6) {
        return CIR_EINVAL;
    }
    scale = pow10[decimals];
    whole = num / den;
    /* (num % den) < den <= 2^32, times 10^6: no overflow */
    frac = up ? ((num % den) * scale + den - 1) / den
              : cir_manifest_round_div((num % den) * scale, den);
    if (frac >= scale) {
        whole++;
        frac -= scale;
    }
    if (decimals == 0) {
        return cir_buf_printf(out, "%lld", (long long)whole);
    }
    return cir_buf_printf(out, "%lld.%0*lld", (long long)whole, decimals,
                          (long long)frac);
}

int
cir_manifest_put_fixed(cir_buf_t *out, int64_t num, int64_t den, int decimals)
{
    return put_fixed(out, num, den, decimals, 0);
}

int
cir_manifest_put_fixed_up(cir_buf_t *out, int64_t num, int64_t den,
                          int decimals)
{
    return put_fixed(out, num, den, decimals, 1);
}

int64_t
cir_manifest_target_duration(const cir_asset_t *a)
{
    int64_t td = 1, d;
    size_t i, j;

    /* One TD for all variants (HLS2 6.2.4; checklist H10). */
    for (i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        for (j = 0; j < r->nb_segments; j++) {
            d = cir_manifest_round_div(r->segments[j].duration, r->timescale);
            if (d > td) {
                td = d;
            }
        }
    }
    return td;
}

int64_t
cir_manifest_duration_ms(const cir_asset_t *a)
{
    int64_t ms = 0, d;
    size_t i;

    if (a->duration > 0) {
        return llround(a->duration * 1000.0);
    }
    for (i = 0; i < a->nb_renditions; i++) {
        const cir_rendition_t *r = &a->renditions[i];
        const cir_segment_t *last = &r->segments[r->nb_segments - 1];
        d = last->start + last->duration - r->segments[0].start;
        d = cir_manifest_round_div(d * 1000, r->timescale);
        if (d > ms) {
            ms = d;
        }
    }
    return ms;
}

int64_t
cir_manifest_thumb_interval_ms(const cir_thumbs_t *t)
{
    return llround(t->interval * 1000.0);
}

int64_t
cir_manifest_thumbs_end_ms(const cir_asset_t *a)
{
    int64_t ms = cir_manifest_thumb_interval_ms(&a->thumbs);
    int64_t last = (int64_t)(a->thumbs.nb_tiles - 1) * ms;
    int64_t dur = cir_manifest_duration_ms(a);

    return dur > last ? dur : last + ms;
}

size_t
cir_manifest_tiles_per_sheet(const cir_thumbs_t *t)
{
    return (size_t)t->columns * (size_t)t->rows;
}

size_t
cir_manifest_sheet_tiles(const cir_thumbs_t *t, size_t n)
{
    size_t per = cir_manifest_tiles_per_sheet(t);
    size_t first = n * per;

    if (first >= t->nb_tiles) {
        return 0;
    }
    return t->nb_tiles - first < per ? t->nb_tiles - first : per;
}

int
cir_manifest_fail(cir_buf_t *out, size_t len0, int err)
{
    if (out->data != NULL && out->len > len0) {
        out->len = len0;
        out->data[len0] = '\0';
    }
    return err;
}

int
cir_manifest_put_xml_attr(cir_buf_t *out, const char *s)
{
    int ret = 0;

    for (; *s && ret == 0; s++) {
        switch (*s) {
        case '&':
            ret = cir_buf_puts(out, "&amp;");
            break;
        case '<':
            ret = cir_buf_puts(out, "&lt;");
            break;
        case '>':
            ret = cir_buf_puts(out, "&gt;");
            break;
        case '"':
            ret = cir_buf_puts(out, "&quot;");
            break;
        case '\'':
            ret = cir_buf_puts(out, "&apos;");
            break;
        default:
            ret = cir_buf_append(out, s, 1);
        }
    }
    return ret;
}

static int64_t
gcd(int64_t a, int64_t b)
{
    while (b != 0) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int
cir_manifest_put_frame_rate(cir_buf_t *out, double fr)
{
    int64_t num = llround(fr), den = 1, g;

    if (fabs(fr - (double)num) >= 0.005) {
        num = llround(fr * 1001.0);
        den = 1001;
        if (num % 1000 != 0 || fabs(fr - (double)num / 1001.0) >= 0.005) {
            num = llround(fr * 1000.0);
            den = 1000;
            g = gcd(num, den);
            num /= g;
            den /= g;
        }
    }
    if (den == 1) {
        return cir_buf_printf(out, "%lld", (long long)num);
    }
    return cir_buf_printf(out, "%lld/%lld", (long long)num, (long long)den);
}

/*
 * The Dolby channel map of an AC-3 / E-AC-3 track of n channels, for the
 * AudioChannelConfiguration scheme DASH-IF IOP (Dolby, 6.3.2) gives
 * those codecs, tag:dolby.com,2014:dash:audio_channel_configuration:2011:
 * four hex digits of a 16-bit field, L C R Ls Rs ... LFE from the most
 * significant bit (ETSI TS 102 366 Table I.1.1).  NULL when the count has
 * no usual layout: the MPEG scheme then says the count.
 */
static const char *
dolby_channel_map(const char *codecs, int n)
{
    if (strcmp(codecs, "ec-3") != 0 && strcmp(codecs, "ac-3") != 0) {
        return NULL;
    }
    switch (n) {
    case 1:
        return "4000"; /* C */
    case 2:
        return "A000"; /* L R */
    case 6:
        return "F801"; /* L C R Ls Rs LFE */
    case 8:
        return "FA01"; /* L C R Ls Rs Lrs Rrs LFE */
    default:
        return NULL;
    }
}

int
cir_dash_put_representation_head(cir_buf_t *out, const cir_dash_rep_head_t *h)
{
    const char *codecs = h->codecs ? h->codecs : "";

    int ret;

    TRY(cir_buf_printf(out,
                       "      <Representation id=\"%s\" bandwidth=\"%llu\" "
                       "codecs=\"",
                       h->id, (unsigned long long)h->bandwidth));
    if (!h->video && codecs[0] == '\0') {
        codecs = CIR_MANIFEST_DEFAULT_AUDIO_CODECS;
    }
    TRY(cir_manifest_put_xml_attr(out, codecs));
    if (h->video) {
        TRY(cir_buf_printf(out, "\" width=\"%d\" height=\"%d\" frameRate=\"",
                           h->width, h->height));
        TRY(cir_manifest_put_frame_rate(out, h->frame_rate));
        return cir_buf_puts(out, "\" sar=\"1:1\">\n");
    }
    if (dolby_channel_map(codecs, h->channels) != NULL) {
        return cir_buf_printf(
            out,
            "\" audioSamplingRate=\"%d\">\n"
            "        <AudioChannelConfiguration schemeIdUri=\"tag:dolby.com,"
            "2014:dash:audio_channel_configuration:2011\" value=\"%s\"/>\n",
            h->sample_rate, dolby_channel_map(codecs, h->channels));
    }
    return cir_buf_printf(
        out,
        "\" audioSamplingRate=\"%d\">\n"
        "        <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:"
        "23003:3:audio_channel_configuration:2011\" value=\"%d\"/>\n",
        h->sample_rate, h->channels);

fail:
    return ret;
}

int
cir_dash_timeline_open(cir_dash_timeline_t *tl, cir_buf_t *out)
{
    memset(tl, 0, sizeof(*tl));
    return cir_buf_puts(out, "          <SegmentTimeline>\n");
}

static int
flush_run(const cir_dash_timeline_t *tl, cir_buf_t *out)
{
    int ret;

    TRY(cir_buf_puts(out, "            <S"));
    if (tl->has_t) {
        TRY(cir_buf_printf(out, " t=\"%lld\"", (long long)tl->t));
    }
    TRY(cir_buf_printf(out, " d=\"%lld\"", (long long)tl->d));
    if (tl->rep > 0) {
        TRY(cir_buf_printf(out, " r=\"%llu\"", (unsigned long long)tl->rep));
    }
    TRY(cir_buf_puts(out, "/>\n"));
    return 0;

fail:
    return ret;
}

int
cir_dash_timeline_add(cir_dash_timeline_t *tl, cir_buf_t *out, int64_t start,
                      int64_t duration)
{
    int contiguous = tl->started && start == tl->end;
    int ret;

    if (contiguous && duration == tl->d) {
        tl->rep++;
        tl->end += duration;
        return 0;
    }
    if (tl->started && (ret = flush_run(tl, out)) < 0) {
        return ret;
    }
    tl->started = 1;
    tl->has_t = !contiguous;
    tl->t = start;
    tl->d = duration;
    tl->rep = 0;
    tl->end = start + duration;
    return 0;
}

int
cir_dash_timeline_close(cir_dash_timeline_t *tl, cir_buf_t *out)
{
    return cir_dash_timeline_close_open_ended(tl, out, 0);
}

int
cir_dash_timeline_close_open_ended(cir_dash_timeline_t *tl, cir_buf_t *out,
                                   int64_t next_duration)
{
    int ret;

    if (tl->started && (ret = flush_run(tl, out)) < 0) {
        return ret;
    }
    if (tl->started && next_duration > 0) {
        TRY(cir_buf_printf(out, "            <S d=\"%lld\" r=\"-1\"/>\n",
                           (long long)next_duration));
    }
    return cir_buf_puts(out, "          </SegmentTimeline>\n");

fail:
    return ret;
}

int
cir_manifest_put_vtt_time(cir_buf_t *out, int64_t ms)
{
    return cir_buf_printf(out, "%02lld:%02lld:%02lld.%03lld",
                          (long long)(ms / 3600000),
                          (long long)(ms / 60000 % 60),
                          (long long)(ms / 1000 % 60), (long long)(ms % 1000));
}

size_t
cir_manifest_captioned_videos(const cir_asset_t *a)
{
    size_t n = 0;

    for (size_t i = 0; i < a->nb_renditions; i++) {
        n += a->renditions[i].type == CIR_MEDIA_VIDEO &&
             a->renditions[i].closed_captions;
    }
    return n;
}

const char *
cir_manifest_cc_language(const cir_asset_t *a)
{
    return a->cc_language ? a->cc_language : "und";
}

static unsigned
drm_systems(const cir_protection_t *p)
{
    return p->systems ? p->systems : CIR_DRM_BIT(CIR_DRM_CLEARKEY);
}

/* base64 of n bytes into a new NUL-terminated string (free()). */
static char *
base64(const uint8_t *in, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);

    if (out != NULL) {
        EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    }
    return out;
}

/* One EXT-X-KEY (or SESSION-KEY) line with a data URI of bytes. */
static int
put_key_data(cir_buf_t *out, const char *tag, const char *method,
             const char *mime, const uint8_t *data, size_t len,
             const char *keyformat)
{
    char *b64 = base64(data, len);
    int ret;

    if (b64 == NULL) {
        return CIR_ENOMEM;
    }
    ret = cir_buf_printf(out,
                         "#EXT-X-%s:METHOD=%s,URI=\"data:%s;base64,%s\","
                         "KEYFORMAT=\"%s\",KEYFORMATVERSIONS=\"1\"\n",
                         tag, method, mime, b64, keyformat);
    free(b64);
    return ret;
}

/*
 * HLS: SAMPLE-AES-CTR for cenc, SAMPLE-AES for cbcs (RFC 8216bis 4.4.4.4;
 * fMP4 segments carry their IVs, so no IV attribute), one key line per DRM
 * system, each with its KEYFORMAT:
 * - ClearKey: "org.w3.clearkey" with the key ID as a data URI, how hls.js's
 *   EME ClearKey path finds the key ID (its KeySystemFormats); the key
 *   comes from the player's configuration or licence server.
 * - Widevine: its system ID as a URN, the pssh box as a data URI.
 * - PlayReady: "com.microsoft.playready", the PlayReady Object as a
 *   UTF-16 data URI.
 * - FairPlay (cbcs): "com.apple.streamingkeydelivery", the skd:// URI.
 * HLS AES-128 (whole segments): one METHOD=AES-128 line with the key's URI.
 */
int
cir_hls_put_key(cir_buf_t *out, const cir_protection_t *p, const char *tag)
{
    const char *method;
    unsigned sys;
    int ret = 0;

    if (p == NULL) {
        return 0;
    }
    if (p->scheme == CIR_ENC_AES128) {
        /* No session key: it lets a player set up a DRM key early, of no
         * use here, and a relative key URI would resolve differently
         * from the multivariant playlist.  No IV: each segment's IV is
         * its media sequence number. */
        return strcmp(tag, "KEY") != 0
                   ? 0
                   : cir_buf_printf(out,
                                    "#EXT-X-KEY:METHOD=AES-128,URI=\"%s\"\n",
                                    p->key_uri);
    }
    sys = drm_systems(p);
    method = p->scheme == CIR_ENC_CBCS ? "SAMPLE-AES" : "SAMPLE-AES-CTR";
    if (sys & CIR_DRM_BIT(CIR_DRM_CLEARKEY)) {
        ret = put_key_data(out, tag, method, "text/plain", p->key_id, 16,
                           "org.w3.clearkey");
    }
    if (ret == 0 && (sys & CIR_DRM_BIT(CIR_DRM_WIDEVINE)) &&
        p->pssh[CIR_DRM_WIDEVINE] != NULL) {
        ret = put_key_data(out, tag, method, "text/plain",
                           p->pssh[CIR_DRM_WIDEVINE],
                           p->pssh_len[CIR_DRM_WIDEVINE],
                           "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed");
    }
    if (ret == 0 && (sys & CIR_DRM_BIT(CIR_DRM_PLAYREADY)) &&
        p->playready_pro != NULL) {
        ret = put_key_data(out, tag, method, "text/plain;charset=UTF-16",
                           p->playready_pro, p->playready_pro_len,
                           "com.microsoft.playready");
    }
    if (ret == 0 && (sys & CIR_DRM_BIT(CIR_DRM_FAIRPLAY)) &&
        p->fairplay_key_uri != NULL && p->scheme == CIR_ENC_CBCS) {
        ret = cir_buf_printf(out,
                             "#EXT-X-%s:METHOD=SAMPLE-AES,URI=\"%s\","
                             "KEYFORMAT=\"com.apple.streamingkeydelivery\","
                             "KEYFORMATVERSIONS=\"1\"\n",
                             tag, p->fairplay_key_uri);
    }
    return ret;
}

/* A ContentProtection for a system with its pssh (cenc:pssh) and, for
 * PlayReady, the PlayReady Object (mspr:pro). */
static int
put_system_protection(cir_buf_t *out, const char *uuid, const char *value,
                      const uint8_t *pssh, size_t pssh_len, const uint8_t *pro,
                      size_t pro_len)
{
    char *b64 = base64(pssh, pssh_len);
    char *pro64 = pro ? base64(pro, pro_len) : NULL;
    int ret = CIR_ENOMEM;

    if (b64 != NULL && (pro == NULL || pro64 != NULL)) {
        ret = cir_buf_printf(out,
                             "      <ContentProtection schemeIdUri=\"urn:uuid:"
                             "%s\" value=\"%s\">\n"
                             "        <cenc:pssh>%s</cenc:pssh>\n",
                             uuid, value, b64);
        if (ret == 0 && pro64 != NULL) {
            ret =
                cir_buf_printf(out, "        <mspr:pro>%s</mspr:pro>\n", pro64);
        }
        if (ret == 0) {
            ret = cir_buf_puts(out, "      </ContentProtection>\n");
        }
    }
    free(b64);
    free(pro64);
    return ret;
}

/*
 * DASH: the mp4protection descriptor (ISO/IEC 23009-1 5.8.5.2) naming the
 * scheme and cenc:default_KID (ISO/IEC 23001-7 11.2), then one per DRM
 * system (DASH-IF IOP 7.7): ClearKey's (W3C EME ClearKey's DASH-IF system
 * ID; a player configured with the key builds its "keyids" initData from
 * the KID), Widevine's and PlayReady's with their pssh (and mspr:pro), as
 * in init.mp4.  FairPlay is HLS only.
 */
int
cir_dash_put_content_protection(cir_buf_t *out, const cir_protection_t *p)
{
    unsigned sys;
    char kid[37];
    int ret;

    if (p == NULL) {
        return 0;
    }
    sys = drm_systems(p);
    cir_encryption_uuid(p->key_id, kid);
    ret = cir_buf_printf(out,
                         "      <ContentProtection schemeIdUri=\"urn:mpeg:dash:"
                         "mp4protection:2011\" value=\"%s\" "
                         "cenc:default_KID=\"%s\"/>\n",
                         cir_encryption_scheme_name(p->scheme), kid);
    if (ret == 0 && (sys & CIR_DRM_BIT(CIR_DRM_CLEARKEY))) {
        ret = cir_buf_puts(out, "      <ContentProtection schemeIdUri=\"urn:"
                                "uuid:e2719d58-a985-b3c9-781a-b030af78d30e\" "
                                "value=\"ClearKey1.0\"/>\n");
    }
    if (ret == 0 && (sys & CIR_DRM_BIT(CIR_DRM_WIDEVINE)) &&
        p->pssh[CIR_DRM_WIDEVINE] != NULL) {
        ret = put_system_protection(out, "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
                                    "Widevine", p->pssh[CIR_DRM_WIDEVINE],
                                    p->pssh_len[CIR_DRM_WIDEVINE], NULL, 0);
    }
    if (ret == 0 && (sys & CIR_DRM_BIT(CIR_DRM_PLAYREADY)) &&
        p->pssh[CIR_DRM_PLAYREADY] != NULL) {
        ret = put_system_protection(out, "9a04f079-9840-4286-ab92-e65be0885f95",
                                    "MSPR 2.0", p->pssh[CIR_DRM_PLAYREADY],
                                    p->pssh_len[CIR_DRM_PLAYREADY],
                                    p->playready_pro, p->playready_pro_len);
    }
    return ret;
}

int
cir_dash_put_cenc_namespace(cir_buf_t *out, const cir_protection_t *p)
{
    if (p == NULL) {
        return 0;
    }
    if (cir_buf_puts(out, " xmlns:cenc=\"urn:mpeg:cenc:2013\"") < 0) {
        return CIR_ENOMEM;
    }
    return drm_systems(p) & CIR_DRM_BIT(CIR_DRM_PLAYREADY)
               ? cir_buf_puts(out, " xmlns:mspr=\"urn:microsoft:playready\"")
               : 0;
}
