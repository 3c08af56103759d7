/*
 * SPEKE v2: the CPIX request, its POST and the response.  See cir_speke.h.
 *
 * Tested by tests/unit/test_aws_speke.c and
 * tests/integration/speke.test.mjs.
 */
#include "cir_speke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "aws_internal.h"
#include "cir_error.h"

#define NS_CPIX  "urn:dashif:org:cpix"
#define NS_PSKC  "urn:ietf:params:xml:ns:keyprov:pskc"
#define NS_SPEKE "urn:aws:amazon:com:speke"

#define X(s) ((const xmlChar *)(s))

static const char *const system_uuids[CIR_DRM_NB] = {
    "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b", /* common (ClearKey) */
    "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed", /* Widevine */
    "9a04f079-9840-4286-ab92-e65be0885f95", /* PlayReady */
    "94ce86fb-07ff-4f43-adb8-93d2fa968ca2", /* FairPlay */
};

/* ---- the request ---- */

static xmlNodePtr
add_child(xmlNodePtr parent, xmlNsPtr ns, const char *name)
{
    return parent ? xmlNewChild(parent, ns, X(name), NULL) : NULL;
}

static void
drm_system_node(xmlNodePtr list, xmlNsPtr cpix, const char *kid, int s)
{
    xmlNodePtr ds = add_child(list, cpix, "DRMSystem");

    if (ds == NULL) {
        return;
    }
    xmlNewProp(ds, X("kid"), X(kid));
    xmlNewProp(ds, X("systemId"), X(system_uuids[s]));
    /* what is asked for: the pssh box, or FairPlay's key URI */
    add_child(ds, cpix, s == CIR_DRM_FAIRPLAY ? "URIExtXKey" : "PSSH");
}

/* Live key rotation (SPEKE v2, CPIX 2.3): the crypto period the key is
 * for, <cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id index/>, which
 * the usage rule's KeyPeriodFilter names. */
static void
put_key_period(xmlNodePtr root, xmlNsPtr cpix, uint32_t index, const char *id)
{
    xmlNodePtr p = add_child(add_child(root, cpix, "ContentKeyPeriodList"),
                             cpix, "ContentKeyPeriod");
    char n[16];

    if (p != NULL) {
        snprintf(n, sizeof(n), "%u", (unsigned)index);
        xmlNewProp(p, X("id"), X(id));
        xmlNewProp(p, X("index"), X(n));
    }
}

int
cir_speke_request_xml(const cir_encryption_t *enc, cir_buf_t *out)
{
    xmlDocPtr doc = xmlNewDoc(X("1.0"));
    xmlNodePtr root = xmlNewNode(NULL, X("CPIX")), n;
    xmlNsPtr cpix;
    xmlChar *text = NULL;
    char kid[37], period_id[32];
    int len = 0, ret;

    snprintf(period_id, sizeof(period_id), "keyPeriod_%u",
             (unsigned)enc->speke.key_period);
    if (doc == NULL || root == NULL) {
        xmlFreeDoc(doc);
        xmlFreeNode(root);
        return CIR_ENOMEM;
    }
    cir_encryption_uuid(enc->key_id, kid);
    xmlDocSetRootElement(doc, root);
    cpix = xmlNewNs(root, X(NS_CPIX), X("cpix"));
    xmlNewNs(root, X(NS_PSKC), X("pskc"));
    xmlNewNs(root, X(NS_SPEKE), X("speke"));
    xmlSetNs(root, cpix);
    xmlNewProp(root, X("id"), X(enc->speke.resource_id));
    n = add_child(add_child(root, cpix, "ContentKeyList"), cpix, "ContentKey");
    if (n != NULL) {
        xmlNewProp(n, X("kid"), X(kid));
        xmlNewProp(n, X("commonEncryptionScheme"),
                   X(cir_encryption_scheme_name(enc->scheme)));
    }
    n = add_child(root, cpix, "DRMSystemList");
    for (int s = 0; s < CIR_DRM_NB; s++) {
        if (enc->drm.systems & CIR_DRM_BIT(s)) {
            drm_system_node(n, cpix, kid, s);
        }
    }
    if (enc->speke.has_period) {
        put_key_period(root, cpix, enc->speke.key_period, period_id);
    }
    n = add_child(add_child(root, cpix, "ContentKeyUsageRuleList"), cpix,
                  "ContentKeyUsageRule");
    if (n != NULL) {
        xmlNewProp(n, X("kid"), X(kid));
        xmlNewProp(n, X("intendedTrackType"), X("ALL"));
        if (enc->speke.has_period) {
            xmlNodePtr f = add_child(n, cpix, "KeyPeriodFilter");
            if (f != NULL) {
                xmlNewProp(f, X("periodId"), X(period_id));
            }
        }
    }
    xmlDocDumpMemoryEnc(doc, &text, &len, "UTF-8");
    ret = text != NULL && len > 0 && cir_buf_append(out, text, (size_t)len) == 0
              ? 0
              : CIR_ENOMEM;
    xmlFree(text);
    xmlFreeDoc(doc);
    return ret;
}

/* ---- the response ---- */

static int
is_element(const xmlNode *n, const char *ns, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
           xmlStrcmp(n->ns->href, X(ns)) == 0 &&
           xmlStrcmp(n->name, X(name)) == 0;
}

/* The first child element ns:name, and how many there are in *count. */
static xmlNodePtr
child(const xmlNode *parent, const char *ns, const char *name, int *count)
{
    xmlNodePtr first = NULL;
    int n = 0;

    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next) {
        if (is_element(c, ns, name)) {
            first = first ? first : c;
            n++;
        }
    }
    if (count != NULL) {
        *count = n;
    }
    return first;
}

/* An element's text, the base64 decoded into out (at most max bytes).
 * The text is wiped after (it may be the key). */
static int
base64_text(xmlNodePtr n, uint8_t *out, size_t max, size_t *len)
{
    xmlChar *text = xmlNodeGetContent(n);
    size_t tl = 0, pad = 0;
    unsigned char *clean;
    int got, ret = CIR_EPARSE;

    *len = 0;
    if (text == NULL) {
        return CIR_EPARSE;
    }
    clean = malloc(xmlStrlen(text) + 1);
    for (const xmlChar *p = text; clean != NULL && *p; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            clean[tl++] = *p;
        }
    }
    if (clean != NULL && tl > 0 && tl % 4 == 0 && tl / 4 * 3 <= max + 2) {
        pad = (clean[tl - 1] == '=') + (clean[tl - 2] == '=');
        uint8_t *tmp = malloc(tl / 4 * 3);
        got = tmp ? EVP_DecodeBlock(tmp, clean, (int)tl) : -1;
        if (got >= 0 && (size_t)got - pad <= max) {
            *len = (size_t)got - pad;
            memcpy(out, tmp, *len);
            ret = 0;
        }
        if (tmp != NULL) {
            OPENSSL_cleanse(tmp, tl / 4 * 3);
            free(tmp);
        }
    }
    if (clean != NULL) {
        OPENSSL_cleanse(clean, tl);
        free(clean);
    }
    OPENSSL_cleanse(text, (size_t)xmlStrlen(text));
    xmlFree(text);
    return ret;
}

/* Whether the attribute name of n is our key ID (a UUID, either case). */
static int
kid_matches(xmlNodePtr n, const char *kid)
{
    xmlChar *v = xmlGetProp(n, X("kid"));
    int ok = v != NULL && strcasecmp((const char *)v, kid) == 0;

    xmlFree(v);
    return ok;
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* One whole pssh box (ISO/IEC 23001-7 8.1) of system s naming key_id when
 * it names key IDs (version 1). */
static const char *
pssh_problem(const uint8_t *b, size_t len, int s, const uint8_t key_id[16])
{
    static const char *const hex = "0123456789abcdef";
    uint8_t id[16];
    size_t off = 28; /* version 0: the data size after the system ID */
    int has_kid = 0;

    if (len < 32 || be32(b) != len) {
        return "not one whole box (its size is not the data's)";
    }
    if (memcmp(b + 4, "pssh", 4) != 0) {
        return "not a pssh box";
    }
    for (int i = 0; i < 16; i++) {
        const char *u = system_uuids[s];
        size_t j = (size_t)(2 * i) + (i >= 4) + (i >= 6) + (i >= 8) + (i >= 10);
        id[i] = (uint8_t)((strchr(hex, u[j]) - hex) << 4 |
                          (strchr(hex, u[j + 1]) - hex));
    }
    if (memcmp(b + 12, id, 16) != 0) {
        return "a pssh box of another DRM system";
    }
    if (b[8] > 1) {
        return "a pssh box of an unknown version";
    }
    if (b[8] == 1) {
        uint32_t n = be32(b + 28);
        if (len < 36 || n > (len - 36) / 16) {
            return "a pssh box whose key IDs overrun it";
        }
        for (uint32_t i = 0; i < n; i++) {
            has_kid |= memcmp(b + 32 + 16 * i, key_id, 16) == 0;
        }
        if (!has_kid) {
            return "a pssh box for other key IDs";
        }
        off = 32 + 16 * (size_t)n;
    }
    if (off + 4 > len || be32(b + off) != len - off - 4) {
        return "a pssh box whose data size is not its own";
    }
    return NULL;
}

static int
read_pssh(xmlNodePtr pssh, int s, cir_encryption_t *enc, char *err,
          size_t errsize)
{
    size_t len = 0;
    const char *why;

    if (base64_text(pssh, enc->provider_pssh[s], CIR_SPEKE_PSSH_MAX, &len) <
        0) {
        snprintf(err, errsize,
                 "SPEKE response: cpix:DRMSystem %s cpix:PSSH: not base64 of "
                 "at most %d bytes",
                 cir_drm_system_name(s), CIR_SPEKE_PSSH_MAX);
        return CIR_EPARSE;
    }
    if ((why = pssh_problem(enc->provider_pssh[s], len, s, enc->key_id))) {
        snprintf(err, errsize,
                 "SPEKE response: cpix:DRMSystem %s cpix:PSSH: %s",
                 cir_drm_system_name(s), why);
        enc->provider_pssh_len[s] = 0;
        return CIR_EPARSE;
    }
    enc->provider_pssh_len[s] = (uint16_t)len;
    return 0;
}

/* FairPlay's key URI: skd://, printable ASCII without blanks, quotes or
 * angle brackets (it goes into a quoted playlist attribute). */
static int
read_uri(xmlNodePtr n, cir_encryption_t *enc, char *err, size_t errsize)
{
    uint8_t uri[CIR_DRM_URL_MAX];
    size_t len = 0;
    int ok = base64_text(n, uri, sizeof(uri) - 1, &len) == 0 && len > 6;

    uri[len] = '\0';
    ok = ok && strncmp((const char *)uri, "skd://", 6) == 0 &&
         cir_encryption_url_chars_ok((const char *)uri, len);
    if (!ok) {
        snprintf(err, errsize,
                 "SPEKE response: cpix:DRMSystem fairplay cpix:URIExtXKey: not "
                 "base64 of an skd:// URI (printable ASCII without blanks or "
                 "quotes, at most %d characters)",
                 CIR_DRM_URL_MAX - 1);
        return CIR_EPARSE;
    }
    memcpy(enc->drm.fairplay_key_uri, uri, len + 1);
    return 0;
}

static int
system_of(xmlNodePtr ds)
{
    xmlChar *id = xmlGetProp(ds, X("systemId"));
    int s = 0;

    if (id == NULL) {
        return CIR_DRM_NB;
    }
    while (s < CIR_DRM_NB &&
           strcasecmp((const char *)id, system_uuids[s]) != 0) {
        s++;
    }
    xmlFree(id);
    return s;
}

static int
read_drm_systems(xmlNodePtr root, const char *kid, cir_encryption_t *enc,
                 char *err, size_t errsize)
{
    xmlNodePtr list = child(root, NS_CPIX, "DRMSystemList", NULL), n;
    int count, ret;

    child(list, NS_CPIX, "DRMSystem", &count);
    if (count > CIR_SPEKE_ELEMENT_MAX) {
        snprintf(err, errsize,
                 "SPEKE response: cpix:DRMSystemList: %d cpix:DRMSystem, at "
                 "most %d",
                 count, CIR_SPEKE_ELEMENT_MAX);
        return CIR_EPARSE;
    }
    for (n = list ? list->children : NULL; n; n = n->next) {
        int s = is_element(n, NS_CPIX, "DRMSystem") ? system_of(n) : CIR_DRM_NB;
        xmlNodePtr data;
        if (s == CIR_DRM_NB || !(enc->drm.systems & CIR_DRM_BIT(s)) ||
            !kid_matches(n, kid)) {
            continue; /* not ours */
        }
        if (s == CIR_DRM_FAIRPLAY) {
            data = child(n, NS_CPIX, "URIExtXKey", NULL);
            ret = data ? read_uri(data, enc, err, errsize) : 0;
        } else {
            data = child(n, NS_CPIX, "PSSH", NULL);
            ret = data ? read_pssh(data, s, enc, err, errsize) : 0;
        }
        if (ret < 0) {
            return ret;
        }
    }
    if ((enc->drm.systems & CIR_DRM_BIT(CIR_DRM_FAIRPLAY)) &&
        enc->drm.fairplay_key_uri[0] == '\0') {
        snprintf(err, errsize,
                 "SPEKE response: no cpix:DRMSystem fairplay with a "
                 "cpix:URIExtXKey for key ID %s (and no "
                 "encryption.drm.fairplay.key_uri)",
                 kid);
        return CIR_EPARSE;
    }
    return 0;
}

/* The ContentKey for kid among at most CIR_SPEKE_ELEMENT_MAX. */
static xmlNodePtr
content_key(xmlNodePtr root, const char *kid, char *err, size_t errsize)
{
    xmlNodePtr list = child(root, NS_CPIX, "ContentKeyList", NULL), n;
    int count;

    child(list, NS_CPIX, "ContentKey", &count);
    if (count > CIR_SPEKE_ELEMENT_MAX) {
        snprintf(err, errsize,
                 "SPEKE response: cpix:ContentKeyList: %d cpix:ContentKey, at "
                 "most %d",
                 count, CIR_SPEKE_ELEMENT_MAX);
        return NULL;
    }
    for (n = list ? list->children : NULL; n; n = n->next) {
        if (is_element(n, NS_CPIX, "ContentKey") && kid_matches(n, kid)) {
            return n;
        }
    }
    snprintf(err, errsize,
             "SPEKE response: cpix:ContentKeyList has no cpix:ContentKey for "
             "key ID %s",
             kid);
    return NULL;
}

static int
read_key(xmlNodePtr root, const char *kid, cir_encryption_t *enc, char *err,
         size_t errsize)
{
    xmlNodePtr ck = content_key(root, kid, err, errsize), secret, plain;
    size_t len = 0;

    if (ck == NULL) {
        return CIR_EPARSE;
    }
    secret = child(child(ck, NS_CPIX, "Data", NULL), NS_PSKC, "Secret", NULL);
    if (child(secret, NS_PSKC, "EncryptedValue", NULL) != NULL) {
        snprintf(err, errsize,
                 "SPEKE response: cpix:ContentKey/cpix:Data/pskc:Secret has an "
                 "pskc:EncryptedValue: encrypted content keys (SPEKE document "
                 "keys) are not supported; configure the key provider for "
                 "plain keys over HTTPS");
        return CIR_EUNSUPPORTED;
    }
    plain = child(secret, NS_PSKC, "PlainValue", NULL);
    if (plain == NULL) {
        snprintf(err, errsize,
                 "SPEKE response: no cpix:ContentKey/cpix:Data/pskc:Secret/"
                 "pskc:PlainValue for key ID %s",
                 kid);
        return CIR_EPARSE;
    }
    if (base64_text(plain, enc->key, 16, &len) < 0 || len != 16) {
        snprintf(err, errsize,
                 "SPEKE response: pskc:PlainValue: not base64 of a 16-byte "
                 "key");
        return CIR_EPARSE;
    }
    if (cir_encryption_key_is_zero(enc->key)) {
        snprintf(err, errsize, "SPEKE response: pskc:PlainValue: all zero");
        return CIR_EPARSE;
    }
    return 0;
}

int
cir_speke_parse_reply(const char *xml, size_t len, cir_encryption_t *enc,
                      char *err, size_t errsize)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    char kid[37];
    int ret;

    if (len == 0 || len > CIR_SPEKE_REPLY_MAX) {
        snprintf(err, errsize, "SPEKE response: %zu bytes (expected 1 to %u)",
                 len, CIR_SPEKE_REPLY_MAX);
        return CIR_EPARSE;
    }
    memset(enc->provider_pssh_len, 0, sizeof(enc->provider_pssh_len));
    cir_encryption_uuid(enc->key_id, kid);
    /* no network, no entity substitution, no parser messages (they quote
     * the document, which holds the key) */
    doc = xmlReadMemory(xml, (int)len, "speke.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!is_element(root, NS_CPIX, "CPIX")) {
        snprintf(err, errsize,
                 "SPEKE response: not XML with a cpix:CPIX root element "
                 "(namespace " NS_CPIX ")");
        ret = CIR_EPARSE;
    } else if ((ret = read_key(root, kid, enc, err, errsize)) == 0) {
        ret = read_drm_systems(root, kid, enc, err, errsize);
    }
    xmlFreeDoc(doc);
    if (ret < 0) {
        OPENSSL_cleanse(enc->key, sizeof(enc->key));
    }
    return ret;
}

/* ---- the exchange ---- */

/* "https://host[:port]/path" into its endpoint and path ("/" if none). */
static void
split_url(const char *url, char *ep, size_t epsize, const char **path)
{
    const char *host = strstr(url, "://") + 3;
    size_t n = strcspn(host, "/");

    snprintf(ep, epsize, "%.*s", (int)(host - url + n), url);
    *path = host[n] != '\0' ? host + n : "/";
}

static int
open_client(const cir_encryption_t *enc, cir_aws_t **a, char *err,
            size_t errsize)
{
    char why[256] = "";
    int ret;

    ret = enc->speke.region[0] != '\0'
              ? cir_aws_open(a, why, sizeof(why))
              : aws_open_anonymous(a, why, sizeof(why));
    if (ret == 0 && enc->speke.region[0] != '\0') {
        ret = cir_aws_set_region(*a, enc->speke.region);
    }
    if (ret < 0) {
        snprintf(err, errsize, "encryption.speke: %s",
                 why[0] ? why : "cannot set up the AWS client");
        cir_aws_close(a);
    }
    return ret;
}

static int
post_request(cir_aws_t *a, const cir_encryption_t *enc, const cir_buf_t *body,
             cir_buf_t *reply, char *err, size_t errsize)
{
    cir_aws_kv_t h[2] = {{"content-type", "application/xml"},
                         {"x-speke-version", "2.0"}};
    char ep[CIR_DRM_URL_MAX];
    int ret;

    aws_req_t r = {.service = "execute-api",
                   .method = "POST",
                   .headers = h,
                   .nheaders = 2,
                   .body = body->data,
                   .body_len = body->len,
                   .anonymous = enc->speke.region[0] == '\0',
                   .low_speed_s = 30,
                   .max_attempts = 3,
                   .out = reply};
    split_url(enc->speke.url, ep, sizeof(ep), &r.path);
    r.endpoint = ep;
    if ((ret = aws_request(a, &r)) < 0) {
        snprintf(err, errsize, "encryption.speke: key provider %s: %s",
                 enc->speke.url, cir_aws_last_error());
    }
    return ret;
}

int
cir_speke_resolve(cir_encryption_t *enc, char *err, size_t errsize)
{
    cir_aws_t *a = NULL;
    cir_buf_t body, reply;
    char why[400];
    int ret;

    if (enc->speke.url[0] == '\0') {
        return 0;
    }
    if (!enc->speke.key_id_given && RAND_bytes(enc->key_id, 16) != 1) {
        snprintf(err, errsize, "encryption.speke: no random key ID");
        return CIR_EINTERNAL;
    }
    cir_buf_init(&body, 1u << 16);
    cir_buf_init(&reply, CIR_SPEKE_REPLY_MAX);
    if ((ret = cir_speke_request_xml(enc, &body)) < 0) {
        snprintf(err, errsize, "encryption.speke: out of memory");
    } else if ((ret = open_client(enc, &a, err, errsize)) == 0 &&
               (ret = post_request(a, enc, &body, &reply, err, errsize)) == 0 &&
               (ret = cir_speke_parse_reply(reply.data, reply.len, enc, why,
                                            sizeof(why))) < 0) {
        snprintf(err, errsize, "encryption.speke: %s: %s", enc->speke.url, why);
    }
    cir_aws_close(&a);
    if (reply.data != NULL) {
        OPENSSL_cleanse(reply.data, reply.len);
    }
    cir_buf_free(&reply);
    cir_buf_free(&body);
    return ret;
}
