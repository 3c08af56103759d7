/*
 * common/aws/src/speke.c: the SPEKE v2 CPIX request read back with libxml2
 * (namespaces, resource id, the content key's kid and scheme, one
 * DRMSystem per system asking for a PSSH or FairPlay's URIExtXKey, the
 * usage rule), a response captured from the AWS rig's key server
 * (tests/captures/speke_v2_response.xml, for kid 01234567-89ab-cdef-0123-
 * 456789abcdef) read into the key, the pssh boxes and the FairPlay URI,
 * and that response broken one way at a time: each refused with the
 * element named, the key in no error message.
 */
#include <criterion/criterion.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cir_error.h"
#include "cir_speke.h"
#include "cir_storage.h"

#define KEY_B64 "fzweWpstTG6KCxwtPk9aaw==" /* the rig's key */
static const uint8_t KEY[16] = {0x7f, 0x3c, 0x1e, 0x5a, 0x9b, 0x2d, 0x4c, 0x6e,
                                0x8a, 0x0b, 0x1c, 0x2d, 0x3e, 0x4f, 0x5a, 0x6b};
static const uint8_t KID[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static char err[512];

static void
enc_for(cir_encryption_t *e, unsigned systems)
{
    memset(e, 0, sizeof(*e));
    e->scheme = CIR_ENC_CBCS;
    memcpy(e->key_id, KID, 16);
    e->drm.systems = systems;
    snprintf(e->speke.resource_id, sizeof(e->speke.resource_id), "film-42");
}

#define ALL                                                          \
    (CIR_DRM_BIT(CIR_DRM_CLEARKEY) | CIR_DRM_BIT(CIR_DRM_WIDEVINE) | \
     CIR_DRM_BIT(CIR_DRM_PLAYREADY) | CIR_DRM_BIT(CIR_DRM_FAIRPLAY))

static char *
capture(size_t *len)
{
    const char *src = getenv("CIRRUS_SOURCE_DIR");
    char path[1024];
    char *data = NULL;

    snprintf(path, sizeof(path), "%s/tests/captures/speke_v2_response.xml",
             src ? src : "..");
    cr_assert_eq(cir_read_file(path, 1 << 20, &data, len), 0, "%s", path);
    return data;
}

static const char *
attr(xmlNodePtr n, const char *name)
{
    static char buf[8][128];
    static int i;
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);

    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s", v ? (const char *)v : "(none)");
    xmlFree(v);
    return buf[i];
}

static xmlNodePtr
first_element(xmlNodePtr n)
{
    while (n != NULL && n->type != XML_ELEMENT_NODE) {
        n = n->next;
    }
    return n;
}

Test(speke, request_document)
{
    static const char *const systems[] = {
        "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b",
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
        "9a04f079-9840-4286-ab92-e65be0885f95",
        "94ce86fb-07ff-4f43-adb8-93d2fa968ca2"};
    cir_encryption_t e;
    cir_buf_t out;
    xmlDocPtr doc;
    xmlNodePtr root, n, ds;
    int i = 0;

    enc_for(&e, ALL);
    memcpy(e.key, KEY, 16);
    cir_buf_init(&out, 1 << 16);
    cr_assert_eq(cir_speke_request_xml(&e, &out), 0);
    cr_assert_null(strstr(out.data, KEY_B64), "the request holds no key");
    doc = xmlReadMemory(out.data, (int)out.len, "req.xml", NULL, 0);
    cr_assert_not_null(doc, "%s", out.data);
    root = xmlDocGetRootElement(doc);
    cr_assert_str_eq((const char *)root->name, "CPIX");
    cr_assert_str_eq((const char *)root->ns->href, "urn:dashif:org:cpix");
    cr_assert_not_null(xmlSearchNsByHref(
        doc, root, (const xmlChar *)"urn:ietf:params:xml:ns:keyprov:pskc"));
    cr_assert_not_null(xmlSearchNsByHref(
        doc, root, (const xmlChar *)"urn:aws:amazon:com:speke"));
    cr_assert_str_eq(attr(root, "id"), "film-42");
    n = first_element(root->children);
    cr_assert_str_eq((const char *)n->name, "ContentKeyList");
    n = first_element(n->children);
    cr_assert_str_eq((const char *)n->name, "ContentKey");
    cr_assert_str_eq(attr(n, "kid"), "01234567-89ab-cdef-0123-456789abcdef");
    cr_assert_str_eq(attr(n, "commonEncryptionScheme"), "cbcs");
    n = first_element(root->children->next);
    cr_assert_str_eq((const char *)n->name, "DRMSystemList");
    for (ds = first_element(n->children); ds;
         ds = first_element(ds->next), i++) {
        cr_assert_str_eq((const char *)ds->name, "DRMSystem");
        cr_assert_str_eq((const char *)ds->ns->href, "urn:dashif:org:cpix");
        cr_assert_str_eq(attr(ds, "kid"),
                         "01234567-89ab-cdef-0123-456789abcdef");
        cr_assert_str_eq(attr(ds, "systemId"), systems[i]);
        cr_assert_str_eq((const char *)first_element(ds->children)->name,
                         i == 3 ? "URIExtXKey" : "PSSH");
    }
    cr_assert_eq(i, 4);
    n = first_element(n->next);
    cr_assert_str_eq((const char *)n->name, "ContentKeyUsageRuleList");
    n = first_element(n->children);
    cr_assert_str_eq((const char *)n->name, "ContentKeyUsageRule");
    cr_assert_str_eq(attr(n, "kid"), "01234567-89ab-cdef-0123-456789abcdef");
    cr_assert_str_eq(attr(n, "intendedTrackType"), "ALL");
    xmlFreeDoc(doc);
    cir_buf_free(&out);
}

Test(speke, captured_response)
{
    cir_encryption_t e;
    size_t len;
    char *xml = capture(&len);

    enc_for(&e, ALL);
    cr_assert_eq(cir_speke_parse_reply(xml, len, &e, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_arr_eq(e.key, KEY, 16);
    cr_assert_eq(e.provider_pssh_len[CIR_DRM_CLEARKEY], 0, "none sent");
    cr_assert_eq(e.provider_pssh_len[CIR_DRM_WIDEVINE], 0x4d);
    cr_assert_arr_eq(e.provider_pssh[CIR_DRM_WIDEVINE] + 4, "pssh", 4);
    cr_assert_eq(e.provider_pssh_len[CIR_DRM_PLAYREADY], 0x24e);
    cr_assert_arr_eq(e.provider_pssh[CIR_DRM_PLAYREADY] + 32, KID, 16);
    cr_assert_str_eq(e.drm.fairplay_key_uri,
                     "skd://rig/01234567-89ab-cdef-0123-456789abcdef");
    free(xml);
}

/* Systems not asked for are left alone. */
Test(speke, only_requested_systems)
{
    cir_encryption_t e;
    size_t len;
    char *xml = capture(&len);

    enc_for(&e, CIR_DRM_BIT(CIR_DRM_WIDEVINE));
    cr_assert_eq(cir_speke_parse_reply(xml, len, &e, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(e.provider_pssh_len[CIR_DRM_PLAYREADY], 0);
    cr_assert_str_eq(e.drm.fairplay_key_uri, "");
    free(xml);
}

/* xml with the first from replaced by to. */
static char *
edit(const char *xml, const char *from, const char *to)
{
    const char *at = strstr(xml, from);
    char *out;

    cr_assert_not_null(at, "%s not in the capture", from);
    out = malloc(strlen(xml) + strlen(to) + 1);
    sprintf(out, "%.*s%s%s", (int)(at - xml), xml, to, at + strlen(from));
    return out;
}

/* Both the opening and the closing tag: from is "ns:name>". */
static char *
edit2(const char *xml, const char *from, const char *to)
{
    char o[64], c[64], o2[64], c2[64];
    char *a, *b;

    snprintf(o, sizeof(o), "<%s", from);
    snprintf(c, sizeof(c), "</%s", from);
    snprintf(o2, sizeof(o2), "<%s", to);
    snprintf(c2, sizeof(c2), "</%s", to);
    a = edit(xml, o, o2);
    b = edit(a, c, c2);
    free(a);
    return b;
}

static void
refused(const char *xml, unsigned systems, int want, const char *message)
{
    cir_encryption_t e;

    enc_for(&e, systems);
    err[0] = '\0';
    cr_assert_eq(cir_speke_parse_reply(xml, strlen(xml), &e, err, sizeof(err)),
                 want, "%s", err);
    cr_assert_not_null(strstr(err, message), "%s", err);
    cr_assert_null(strstr(err, KEY_B64), "the error quotes the key");
    for (int i = 0; i < 16; i++) {
        cr_assert_eq(e.key[i], 0, "the key is cleared on failure");
    }
}

Test(speke, broken_responses)
{
    size_t len;
    char *xml = capture(&len), *bad;
    char many[8192] = "";
    const char *widevine_pssh =
        "AAAATXBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAC0SEAE"
        "jRWeJq83vASNFZ4mrze8aDHJpZy1wcm92aWRlciILcmln"
        "LWNvbnRlbnQ=";

    refused("<oops", ALL, CIR_EPARSE, "not XML with a cpix:CPIX root");
    refused("<CPIX/>", ALL, CIR_EPARSE, "cpix:CPIX root");
    bad = edit(xml, "<pskc:PlainValue>" KEY_B64 "</pskc:PlainValue>",
               "<pskc:EncryptedValue>AAAA</pskc:EncryptedValue>");
    refused(bad, ALL, CIR_EUNSUPPORTED, "pskc:EncryptedValue");
    free(bad);
    bad = edit(xml, "<pskc:PlainValue>" KEY_B64, "<pskc:PlainValue>AAAA");
    refused(bad, ALL, CIR_EPARSE, "pskc:PlainValue: not base64 of a 16-byte");
    free(bad);
    bad = edit(xml, "<pskc:PlainValue>" KEY_B64, "<pskc:PlainValue>!!!!");
    refused(bad, ALL, CIR_EPARSE, "pskc:PlainValue");
    free(bad);
    bad = edit(xml, "<pskc:PlainValue>" KEY_B64,
               "<pskc:PlainValue>AAAAAAAAAAAAAAAAAAAAAA==");
    refused(bad, ALL, CIR_EPARSE, "all zero");
    free(bad);
    bad = edit(xml, "ContentKey kid=\"01234567", "ContentKey kid=\"11234567");
    refused(bad, ALL, CIR_EPARSE, "no cpix:ContentKey for key ID");
    free(bad);
    bad = edit2(xml, "cpix:Data>", "cpix:Other>");
    refused(bad, ALL, CIR_EPARSE,
            "no cpix:ContentKey/cpix:Data/pskc:Secret/pskc:PlainValue");
    free(bad);
    bad = edit(xml, "urn:dashif:org:cpix", "urn:other");
    refused(bad, ALL, CIR_EPARSE, "cpix:CPIX root");
    free(bad);
    /* a PSSH that is not one box, or another system's */
    bad = edit(xml, "AAACTnBzc2gB", "AAACT3Bzc2gB");
    refused(bad, ALL, CIR_EPARSE,
            "cpix:DRMSystem playready cpix:PSSH: not one whole box");
    free(bad);
    bad = edit(xml, "AAACTnBzc2gB", "AAACTnhzc2gB");
    refused(bad, ALL, CIR_EPARSE, "not a pssh box");
    free(bad);
    {
        char *pr = strstr(xml, "AAACTnBzc2gB");
        char *end = strstr(pr, "</cpix:PSSH>");
        char *from = strndup(pr, (size_t)(end - pr));
        bad = edit(xml, from, widevine_pssh);
        refused(bad, ALL, CIR_EPARSE, "a pssh box of another DRM system");
        free(bad);
        free(from);
    }
    bad = edit2(xml, "cpix:URIExtXKey>", "cpix:Other>");
    refused(bad, ALL, CIR_EPARSE,
            "no cpix:DRMSystem fairplay with a cpix:URIExtXKey");
    free(bad);
    bad = edit(xml, "94ce86fb", "00ce86fb");
    refused(bad, ALL, CIR_EPARSE,
            "no cpix:DRMSystem fairplay with a cpix:URIExtXKey");
    free(bad);
    /* more DRMSystems than allowed */
    strcat(many, "<cpix:DRMSystemList>");
    for (int i = 0; i < 17; i++) {
        strcat(many, "<cpix:DRMSystem kid=\"x\" systemId=\"y\"/>");
    }
    bad = edit(xml, "<cpix:DRMSystemList>", many);
    refused(bad, ALL, CIR_EPARSE, "at most 16");
    free(bad);
    free(xml);
}

Test(speke, size_limit)
{
    cir_encryption_t e;

    enc_for(&e, ALL);
    cr_assert_eq(cir_speke_parse_reply("", 0, &e, err, sizeof(err)),
                 CIR_EPARSE);
    cr_assert_eq(cir_speke_parse_reply("x", CIR_SPEKE_REPLY_MAX + 1, &e, err,
                                       sizeof(err)),
                 CIR_EPARSE);
    cr_assert_not_null(strstr(err, "expected 1 to"), "%s", err);
}

/* Live key rotation: the request names its crypto period, a
 * ContentKeyPeriod (id, index) after the DRMSystemList, which the usage
 * rule's KeyPeriodFilter names (SPEKE v2, CPIX 2.3). */
Test(speke, request_for_a_crypto_period)
{
    cir_encryption_t e;
    cir_buf_t out;
    xmlDocPtr doc;
    xmlNodePtr root, n, p, f;

    enc_for(&e, CIR_DRM_BIT(CIR_DRM_CLEARKEY));
    e.speke.has_period = 1;
    e.speke.key_period = 7;
    cir_buf_init(&out, 1 << 16);
    cr_assert_eq(cir_speke_request_xml(&e, &out), 0);
    doc = xmlReadMemory(out.data, (int)out.len, "req.xml", NULL, 0);
    cr_assert_not_null(doc, "%s", out.data);
    root = xmlDocGetRootElement(doc);
    n = first_element(root->children); /* ContentKeyList */
    n = first_element(n->next);        /* DRMSystemList */
    n = first_element(n->next);
    cr_assert_str_eq((const char *)n->name, "ContentKeyPeriodList");
    p = first_element(n->children);
    cr_assert_str_eq((const char *)p->name, "ContentKeyPeriod");
    cr_assert_str_eq((const char *)p->ns->href, "urn:dashif:org:cpix");
    cr_assert_str_eq(attr(p, "id"), "keyPeriod_7");
    cr_assert_str_eq(attr(p, "index"), "7");
    cr_assert_null(first_element(p->next), "one period");
    n = first_element(n->next);
    cr_assert_str_eq((const char *)n->name, "ContentKeyUsageRuleList");
    f = first_element(first_element(n->children)->children);
    cr_assert_not_null(f);
    cr_assert_str_eq((const char *)f->name, "KeyPeriodFilter");
    cr_assert_str_eq(attr(f, "periodId"), "keyPeriod_7");
    xmlFreeDoc(doc);
    cir_buf_free(&out);

    /* without a period: neither */
    e.speke.has_period = 0;
    cir_buf_init(&out, 1 << 16);
    cr_assert_eq(cir_speke_request_xml(&e, &out), 0);
    cr_assert_null(strstr(out.data, "Period"), "%s", out.data);
    cir_buf_free(&out);
}
