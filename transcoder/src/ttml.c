/*
 * TTML / DFXP sidecars into cues with libxml2.  See ttml.h.
 *
 * Tested by tests/unit/test_transcoder_ttml.c; fuzzed by
 * tests/fuzz/fuzz_ttml.c.
 */
#include "ttml.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/encoding.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#define STYLES_MAX 256
/* 1000 hours: a time past it is no subtitle time (and no overflow) */
#define TIME_MAX_MS (1000LL * 3600 * 1000)

/* Not one of the libxml2 options that load or expand: XML_PARSE_NOENT
 * (entity substitution), XML_PARSE_DTDLOAD / DTDATTR / DTDVALID,
 * XML_PARSE_XINCLUDE, XML_PARSE_HUGE (lifts the depth and size limits). */
#define PARSE_OPTIONS                                            \
    (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | \
     XML_PARSE_NOCDATA)

typedef struct {
    char id[64];
    int italic, bold; /* -1 when the style does not say */
} style_t;

typedef struct {
    int64_t begin_ms; /* absolute */
    int has_begin;
    int64_t end_ms; /* absolute, CIR_TTML_OPEN_END when none */
    int italic, bold;
} scope_t;

typedef struct {
    double frame_rate, tick_rate;
    style_t styles[STYLES_MAX];
    size_t nb_styles;
    cir_ttml_info_t *info;
    cir_ttml_cue_fn cue;
    void *opaque;
    /* the cue being built */
    char *text;
    size_t len, max, visible;
    int line_start, pending_space, pending_newline, overflow;
    char *why;
    size_t why_len;
} parser_t;

/* ---- time expressions ---- */

static int
digits(const char **p, int min, int max, int64_t *out)
{
    int n = 0;

    *out = 0;
    while (**p >= '0' && **p <= '9' && n < max) {
        *out = *out * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n >= min && !(**p >= '0' && **p <= '9') ? 0 : -1;
}

/* ".123" as 0.123; none is 0. */
static int
fraction(const char **p, double *out)
{
    double scale = 0.1;
    int n = 0;

    *out = 0;
    if (**p != '.') {
        return 0;
    }
    (*p)++;
    while (**p >= '0' && **p <= '9' && n < 9) {
        *out += (**p - '0') * scale;
        scale /= 10;
        (*p)++;
        n++;
    }
    while (**p >= '0' && **p <= '9') { /* more precision than a ms: kept out */
        (*p)++;
    }
    return n > 0 ? 0 : -1;
}

/* hh:mm:ss(.fff | :ff(.sub)?) in seconds. */
static int
clock_time(const char *p, double frame_rate, double *sec)
{
    int64_t h, m, s, f;
    double frac;

    if (digits(&p, 2, 7, &h) < 0 || *p++ != ':' || digits(&p, 2, 2, &m) < 0 ||
        *p++ != ':' || digits(&p, 2, 2, &s) < 0 || m > 59 || s > 60) {
        return -1;
    }
    *sec = (double)(h * 3600 + m * 60 + s);
    if (*p == ':') { /* frames, and subframes we do not count */
        p++;
        if (digits(&p, 1, 4, &f) < 0 || (double)f >= ceil(frame_rate)) {
            return -1;
        }
        *sec += (double)f / frame_rate;
        if (fraction(&p, &frac) < 0) {
            return -1;
        }
    } else {
        if (fraction(&p, &frac) < 0) {
            return -1;
        }
        *sec += frac;
    }
    return *p == '\0' ? 0 : -1;
}

/* 12.3s, 500ms, 2m, 1h, 25f, 9000t in seconds. */
static int
offset_time(const char *p, double frame_rate, double tick_rate, double *sec)
{
    int64_t whole;
    double frac, v;

    if (digits(&p, 1, 15, &whole) < 0 || fraction(&p, &frac) < 0) {
        return -1;
    }
    v = (double)whole + frac;
    if (strcmp(p, "h") == 0) {
        *sec = v * 3600;
    } else if (strcmp(p, "m") == 0) {
        *sec = v * 60;
    } else if (strcmp(p, "s") == 0) {
        *sec = v;
    } else if (strcmp(p, "ms") == 0) {
        *sec = v / 1000;
    } else if (strcmp(p, "f") == 0) {
        *sec = v / frame_rate;
    } else if (strcmp(p, "t") == 0) {
        *sec = v / tick_rate;
    } else {
        return -1;
    }
    return 0;
}

int
cir_ttml_time(const char *s, double frame_rate, double tick_rate, int64_t *out)
{
    char buf[64];
    size_t n;
    double sec;
    int ret;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
        s++;
    }
    n = strcspn(s, " \t\r\n");
    if (n == 0 || n >= sizeof(buf) || s[n + strspn(s + n, " \t\r\n")] != '\0' ||
        !(frame_rate > 0) || !(tick_rate > 0)) {
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    ret = strchr(buf, ':') ? clock_time(buf, frame_rate, &sec)
                           : offset_time(buf, frame_rate, tick_rate, &sec);
    if (ret < 0 || !(sec * 1000 < (double)TIME_MAX_MS)) {
        return -1;
    }
    *out = llround(sec * 1000);
    return 0;
}

/* ---- the document ---- */

static int
is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE &&
           strcmp((const char *)n->name, name) == 0;
}

/* An attribute by local name, any namespace (DFXP and TTML differ). */
static char *
attr(const xmlNode *n, const char *name)
{
    return (char *)xmlGetProp(n, (const xmlChar *)name);
}

static double
number_attr(const xmlNode *n, const char *name, double dflt)
{
    char *v = attr(n, name), *end;
    double d = dflt;

    if (v != NULL) {
        d = strtod(v, &end);
        if (end == v || !(d > 0 && d < 1e10)) {
            d = dflt;
        }
        xmlFree(v);
    }
    return d;
}

/* ttp:frameRate (x ttp:frameRateMultiplier "num den"), ttp:tickRate. */
static void
read_rates(parser_t *ps, const xmlNode *root)
{
    double frame_rate = number_attr(root, "frameRate", 30);
    double sub = number_attr(root, "subFrameRate", 1);
    char *mul = attr(root, "frameRateMultiplier");
    char *tick = attr(root, "tickRate");
    unsigned num, den;

    if (mul != NULL && sscanf(mul, "%u %u", &num, &den) == 2 && num > 0 &&
        den > 0) {
        frame_rate = frame_rate * num / den;
    }
    ps->frame_rate = frame_rate;
    if (tick != NULL) {
        ps->tick_rate = number_attr(root, "tickRate", 1);
    } else {
        ps->tick_rate = xmlHasProp(root, (const xmlChar *)"frameRate")
                            ? frame_rate * sub
                            : 1;
    }
    xmlFree(mul);
    xmlFree(tick);
}

/* tts:fontStyle / tts:fontWeight: 1, 0, or -1 when not said. */
static void
own_style(const xmlNode *n, int *italic, int *bold)
{
    char *fs = attr(n, "fontStyle"), *fw = attr(n, "fontWeight");

    *italic = fs == NULL ? -1 : strcmp(fs, "normal") != 0; /* italic, oblique */
    *bold = fw == NULL ? -1 : strcmp(fw, "bold") == 0;
    xmlFree(fs);
    xmlFree(fw);
}

/* The <style xml:id> of <head><styling>. */
static void
read_styles(parser_t *ps, const xmlNode *root)
{
    for (const xmlNode *h = root->children; h; h = h->next) {
        for (const xmlNode *st = is(h, "head") ? h->children : NULL; st;
             st = st->next) {
            for (const xmlNode *s = is(st, "styling") ? st->children : NULL;
                 s && ps->nb_styles < STYLES_MAX; s = s->next) {
                char *id = is(s, "style") ? attr(s, "id") : NULL;
                style_t *o = &ps->styles[ps->nb_styles];
                if (id != NULL && strlen(id) < sizeof(o->id)) {
                    snprintf(o->id, sizeof(o->id), "%s", id);
                    own_style(s, &o->italic, &o->bold);
                    ps->nb_styles++;
                }
                xmlFree(id);
            }
        }
    }
}

/* The scope's styles after the element's style="a b" and tts:*. */
static void
apply_style(const parser_t *ps, const xmlNode *n, scope_t *sc)
{
    char *refs = attr(n, "style");
    int italic, bold;

    for (char *save = NULL,
              *id = refs ? strtok_r(refs, " \t\r\n", &save) : NULL;
         id; id = strtok_r(NULL, " \t\r\n", &save)) {
        for (size_t i = 0; i < ps->nb_styles; i++) {
            if (strcmp(ps->styles[i].id, id) == 0) {
                sc->italic = ps->styles[i].italic >= 0 ? ps->styles[i].italic
                                                       : sc->italic;
                sc->bold =
                    ps->styles[i].bold >= 0 ? ps->styles[i].bold : sc->bold;
            }
        }
    }
    xmlFree(refs);
    own_style(n, &italic, &bold);
    sc->italic = italic >= 0 ? italic : sc->italic;
    sc->bold = bold >= 0 ? bold : sc->bold;
}

static void
count_position(parser_t *ps, const xmlNode *n)
{
    static const char *const names[] = {"region", "origin", "extent",
                                        "position"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (xmlHasProp(n, (const xmlChar *)names[i])) {
            ps->info->positioned++;
            return;
        }
    }
}

/* -1 on a time that does not parse; *has 0 when the attribute is absent. */
static int
time_attr(const parser_t *ps, const xmlNode *n, const char *name, int *has,
          int64_t *ms)
{
    char *v = attr(n, name);
    int ret = 0;

    *has = v != NULL;
    if (v != NULL) {
        ret = cir_ttml_time(v, ps->frame_rate, ps->tick_rate, ms);
        xmlFree(v);
    }
    return ret;
}

/* The element's interval inside its parent's (timeContainer par). */
static int
timed_scope(const parser_t *ps, const xmlNode *n, const scope_t *parent,
            scope_t *sc)
{
    int has_begin, has_end, has_dur;
    int64_t begin = 0, end = 0, dur = 0;

    *sc = *parent;
    if (time_attr(ps, n, "begin", &has_begin, &begin) < 0 ||
        time_attr(ps, n, "end", &has_end, &end) < 0 ||
        time_attr(ps, n, "dur", &has_dur, &dur) < 0) {
        return -1;
    }
    sc->begin_ms = parent->begin_ms + begin;
    sc->has_begin = parent->has_begin || has_begin;
    if (has_end) {
        sc->end_ms = parent->begin_ms + end;
    } else if (has_dur) {
        sc->end_ms = sc->begin_ms + dur;
    }
    if (parent->end_ms != CIR_TTML_OPEN_END &&
        (sc->end_ms == CIR_TTML_OPEN_END || sc->end_ms > parent->end_ms)) {
        sc->end_ms = parent->end_ms;
    }
    return 0;
}

/* ---- a cue's text ---- */

static void
put(parser_t *ps, const char *s)
{
    size_t n = strlen(s);

    if (ps->len + n >= ps->max) {
        ps->overflow = 1;
        return;
    }
    memcpy(ps->text + ps->len, s, n + 1);
    ps->len += n;
}

/* A <br/> or a space before text that follows: none at a cue's start or
 * end, one newline at most (a blank line would end the WebVTT cue). */
static void
flush_pending(parser_t *ps)
{
    if (ps->pending_newline && ps->visible > 0) {
        put(ps, "\n");
        ps->line_start = 1;
    } else if (ps->pending_space && !ps->line_start) {
        put(ps, " ");
    }
    ps->pending_newline = ps->pending_space = 0;
}

/* One character of text: XML whitespace collapsed, & < > escaped. */
static void
put_char(parser_t *ps, char c)
{
    char one[2] = {c, '\0'};

    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ps->pending_space = 1;
        return;
    }
    flush_pending(ps);
    ps->line_start = 0;
    ps->visible++;
    put(ps, c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : one);
}

static void put_children(parser_t *ps, const xmlNode *n, const scope_t *sc);

/* A <span>: its text inside <i>/<b> when it turns them on. */
static void
put_span(parser_t *ps, const xmlNode *n, const scope_t *parent)
{
    scope_t sc = *parent;
    int open_i, open_b;

    apply_style(ps, n, &sc);
    count_position(ps, n);
    open_i = sc.italic > 0 && parent->italic <= 0;
    open_b = sc.bold > 0 && parent->bold <= 0;
    if (open_i || open_b) {
        flush_pending(ps); /* "a <i>b</i>", not "a<i> b</i>" */
    }
    put(ps, open_i ? "<i>" : "");
    put(ps, open_b ? "<b>" : "");
    put_children(ps, n, &sc);
    put(ps, open_b ? "</b>" : "");
    put(ps, open_i ? "</i>" : "");
}

static void
put_children(parser_t *ps, const xmlNode *n, const scope_t *sc)
{
    for (const xmlNode *c = n->children; c && !ps->overflow; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            for (const xmlChar *t = c->content; t && *t; t++) {
                put_char(ps, (char)*t);
            }
        } else if (is(c, "br")) {
            ps->pending_newline = 1;
            ps->pending_space = 0;
        } else if (is(c, "span")) {
            put_span(ps, c, sc);
        }
        /* metadata, animation, entity references (never expanded): no text */
    }
}

static void
put_time(char *out, size_t n, int64_t ms)
{
    snprintf(out, n, "%02lld:%02lld:%02lld.%03lld", (long long)(ms / 3600000),
             (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60),
             (long long)(ms % 1000));
}

static int
emit_p(parser_t *ps, const xmlNode *n, const scope_t *parent)
{
    scope_t sc;
    char at[32];

    count_position(ps, n);
    if (timed_scope(ps, n, parent, &sc) < 0) {
        ps->info->dropped_bad_time++;
        return 0;
    }
    if (!sc.has_begin) {
        ps->info->dropped_no_begin++;
        return 0;
    }
    if (sc.end_ms != CIR_TTML_OPEN_END && sc.end_ms <= sc.begin_ms) {
        ps->info->dropped_end_before++;
        return 0;
    }
    apply_style(ps, n, &sc);
    ps->len = ps->visible = 0;
    ps->text[0] = '\0';
    ps->line_start = 1;
    ps->pending_space = ps->pending_newline = ps->overflow = 0;
    put(ps, sc.italic > 0 ? "<i>" : "");
    put(ps, sc.bold > 0 ? "<b>" : "");
    put_children(ps, n, &sc);
    put(ps, sc.bold > 0 ? "</b>" : "");
    put(ps, sc.italic > 0 ? "</i>" : "");
    if (ps->overflow) {
        put_time(at, sizeof(at), sc.begin_ms);
        snprintf(ps->why, ps->why_len,
                 "cue at %s has more than %zu bytes of text", at, ps->max - 1);
        return -1;
    }
    if (ps->visible == 0) {
        ps->info->dropped_empty++;
        return 0;
    }
    return ps->cue(ps->opaque, sc.begin_ms, sc.end_ms, ps->text);
}

/* body, div (and p) in document order; the times nest. */
static int
walk(parser_t *ps, const xmlNode *n, const scope_t *parent)
{
    scope_t sc;
    int ret;

    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is(c, "p")) {
            ret = emit_p(ps, c, parent);
        } else if (is(c, "div") || is(c, "body")) {
            count_position(ps, c);
            if (timed_scope(ps, c, parent, &sc) < 0) {
                ps->info->dropped_bad_time++;
                continue;
            }
            apply_style(ps, c, &sc);
            ret = walk(ps, c, &sc);
        } else {
            continue; /* head, metadata */
        }
        if (ret != 0) {
            return ret;
        }
    }
    return 0;
}

/* No external entity, DTD or XInclude is ever read, whatever the options. */
static xmlParserInputPtr
refuse_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    (void)url;
    (void)id;
    (void)ctxt;
    return NULL;
}

static void
init_libxml(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(refuse_loader);
}

static int
known_encoding(const char *name)
{
    xmlCharEncodingHandlerPtr h = xmlFindCharEncodingHandler(name);

    if (h == NULL) {
        return 0;
    }
    xmlCharEncCloseFunc(h);
    return 1;
}

static int
parse_error(xmlParserCtxtPtr ctxt, char *why, size_t why_len)
{
    const xmlError *e = xmlCtxtGetLastError(ctxt);
    const char *msg = e && e->message ? e->message : "unknown error";
    int n = (int)strcspn(msg, "\n");

    snprintf(why, why_len, "not well-formed XML: line %d: %.*s",
             e ? e->line : 0, n, msg);
    return -1;
}

static int
parse_doc(parser_t *ps, xmlDocPtr doc)
{
    const xmlNode *root = xmlDocGetRootElement(doc);
    char *lang;
    scope_t top = {.end_ms = CIR_TTML_OPEN_END};

    if (root == NULL || !is(root, "tt")) {
        snprintf(ps->why, ps->why_len,
                 "the root element is <%.40s>, not TTML's <tt>",
                 root ? (const char *)root->name : "");
        return -1;
    }
    if ((lang = (char *)xmlNodeGetLang(root)) != NULL) {
        snprintf(ps->info->language, sizeof(ps->info->language), "%s", lang);
        xmlFree(lang);
    }
    read_rates(ps, root);
    read_styles(ps, root);
    return walk(ps, root, &top);
}

int
cir_ttml_parse(const char *data, size_t len, const char *encoding,
               size_t max_cue_bytes, cir_ttml_cue_fn cue, void *opaque,
               cir_ttml_info_t *info, char *why, size_t why_len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    parser_t *ps;
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    int ret;

    memset(info, 0, sizeof(*info));
    why[0] = '\0';
    if (len > INT_MAX || max_cue_bytes == 0) {
        snprintf(why, why_len, "%zu bytes: too large", len);
        return -1;
    }
    pthread_once(&once, init_libxml);
    if (encoding != NULL && !known_encoding(encoding)) {
        snprintf(why, why_len, "unknown encoding \"%.64s\"", encoding);
        return -1;
    }
    if ((ctxt = xmlNewParserCtxt()) == NULL ||
        (ps = calloc(1, sizeof(*ps))) == NULL) {
        xmlFreeParserCtxt(ctxt);
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    *ps = (parser_t){.info = info,
                     .cue = cue,
                     .opaque = opaque,
                     .max = max_cue_bytes + 1,
                     .why = why,
                     .why_len = why_len};
    doc = xmlCtxtReadMemory(ctxt, data, (int)len, "ttml", encoding,
                            PARSE_OPTIONS);
    if (doc == NULL) {
        ret = parse_error(ctxt, why, why_len);
    } else if ((ps->text = malloc(ps->max)) == NULL) {
        snprintf(why, why_len, "out of memory");
        ret = -1;
    } else {
        ret = parse_doc(ps, doc);
    }
    free(ps->text);
    free(ps);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return ret;
}
