// Strict validation of every HLS playlist and DASH MPD the tests see:
// npm hls-parser in strict mode, npm mpd-parser, xmllint, and the rules of
// docs/conformance.md (H1-H13, L1-L7, Q1/Q3/Q7, M1, D1-D7) as assertions of
// our own, over one playlist and over the sequence of fetches of one URL
// and of the renditions of one master.
//
//   const V = validator('origin');           // one per test file
//   const get = V.wrapRawGet(rawGet);        // every answer is checked
//   V.watchPage(page);                       // every manifest a player loads
//   afterEach(() => V.assertClean());        // failures fail the test
//   V.checkDir(outDir);                      // VOD outputs on disk
//
// Each failure names a rule ("hls.H1.extinf-le-td", "dash.D6.ato-range",
// "hls-parser.<message>", ...); every failure fails the test it came from.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import HLS from 'hls-parser';
import mpdParser from 'mpd-parser';
import { dechunk } from './nginx.mjs';

const EPS = 1e-6;
const MAX_DETAILS = 30;

// --- small parsers ------------------------------------------------------------

// KEY=VALUE,KEY="quoted, value" (RFC 8216bis 4.2)
export function attrs(s) {
    const out = {};
    const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
    let m;
    while ((m = re.exec(s || '')))
        out[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
    return out;
}

function tagOf(line) {
    const i = line.indexOf(':');
    return i < 0 ? line : line.slice(0, i);
}

function valueOf(line) {
    const i = line.indexOf(':');
    return i < 0 ? '' : line.slice(i + 1);
}

const ISO_MS_TZ = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,}(Z|[+-]\d\d:?\d\d)$/;

// A media playlist as lines in order: what our rules need, including the
// order of tags inside a segment (L2: MAP/PDT/DISCONTINUITY before PART).
export function parseMediaPlaylist(text) {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    const p = { version: null, td: null, msn: 0, dsn: 0, msnSeen: false,
        dsnSeen: false, endlist: false, type: null, independent: false,
        serverControl: null, serverControlRaw: null, partTarget: null,
        skip: null, skips: 0, hints: [], reports: [], segments: [],
        floatExtinf: false, hasMap: false, hasByterange: false, iframes: false,
        tagsBeforeFirstSegment: new Set() };
    let cur = null;
    let msn = null, dsn = null;
    const open = () => {
        if (!cur) {
            if (msn === null) {
                msn = p.msn + (p.skip || 0);
                // a delta update: DISCONTINUITY-SEQUENCE is the first
                // skipped segment's, and the skipped segments' DISCONTINUITY
                // tags are not listed (the client has them from the
                // playlist it updates, RFC 8216bis 6.2.5.1): the listed
                // segments' sequence numbers are not known from it alone
                dsn = p.skip ? null : p.dsn;
            }
            cur = { msn, dsn, duration: null, uri: null, discontinuity: false,
                pdt: null, pdtText: null, map: null, gap: false, parts: [],
                lateTags: [], byterange: null };
        }
        return cur;
    };
    for (const line of lines) {
        if (!line.startsWith('#')) {
            const s = open();
            s.uri = line;
            p.segments.push(s);
            msn++;
            cur = null;
            continue;
        }
        const tag = tagOf(line);
        const val = valueOf(line);
        if (!p.segments.length && !cur)
            p.tagsBeforeFirstSegment.add(tag);
        switch (tag) {
        case '#EXT-X-VERSION': p.version = Number(val); break;
        case '#EXT-X-TARGETDURATION': p.td = val; break;
        case '#EXT-X-MEDIA-SEQUENCE': p.msn = Number(val); p.msnSeen = true;
            p.msnAfterSegment = p.segments.length > 0 || !!cur; break;
        case '#EXT-X-DISCONTINUITY-SEQUENCE': p.dsn = Number(val);
            p.dsnSeen = true; p.dsnAfterSegment = p.segments.length > 0 || !!cur;
            break;
        case '#EXT-X-ENDLIST': p.endlist = true; break;
        case '#EXT-X-PLAYLIST-TYPE': p.type = val; break;
        case '#EXT-X-I-FRAMES-ONLY': p.iframes = true; break;
        case '#EXT-X-INDEPENDENT-SEGMENTS': p.independent = true; break;
        case '#EXT-X-SERVER-CONTROL':
            p.serverControlRaw = val;
            p.serverControl = attrs(val);
            break;
        case '#EXT-X-PART-INF': p.partTarget = Number(attrs(val)['PART-TARGET']); break;
        case '#EXT-X-SKIP':
            p.skips++;
            p.skip = Number(attrs(val)['SKIPPED-SEGMENTS']);
            break;
        case '#EXT-X-PRELOAD-HINT': p.hints.push({ ...attrs(val), after: p.segments.length }); break;
        case '#EXT-X-RENDITION-REPORT': p.reports.push(attrs(val)); break;
        case '#EXTINF': {
            const s = open();
            const d = val.split(',')[0];
            s.duration = Number(d);
            if (d.includes('.'))
                p.floatExtinf = true;
            break;
        }
        case '#EXT-X-BYTERANGE': open().byterange = val; p.hasByterange = true; break;
        case '#EXT-X-DISCONTINUITY': {
            const s = open();
            s.discontinuity = true;
            s.dsn = dsn === null ? null : ++dsn;
            if (s.parts.length)
                s.lateTags.push(tag);
            break;
        }
        case '#EXT-X-PROGRAM-DATE-TIME': {
            const s = open();
            s.pdtText = val;
            s.pdt = Date.parse(val);
            if (s.parts.length)
                s.lateTags.push(tag);
            break;
        }
        case '#EXT-X-MAP': {
            p.hasMap = true;
            const s = open();
            s.map = attrs(val);
            if (s.parts.length)
                s.lateTags.push(tag);
            break;
        }
        case '#EXT-X-KEY': {
            const s = open();
            if (s.parts.length)
                s.lateTags.push(tag);
            break;
        }
        case '#EXT-X-GAP': open().gap = true; break;
        case '#EXT-X-PART': {
            const a = attrs(val);
            open().parts.push({ uri: a.URI, duration: Number(a.DURATION),
                independent: a.INDEPENDENT === 'YES', gap: a.GAP === 'YES',
                byterange: a.BYTERANGE });
            break;
        }
        default: break;
        }
    }
    // the open segment: parts listed, no URI yet
    if (cur) {
        cur.open = true;
        p.openSegment = cur;
    }
    return p;
}

export function parseMasterPlaylist(text) {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    const m = { version: null, variants: [], media: [], iframes: [],
        images: [], independent: false };
    for (let i = 0; i < lines.length; i++) {
        const l = lines[i];
        const tag = tagOf(l);
        if (tag === '#EXT-X-STREAM-INF') {
            let j = i + 1;
            while (j < lines.length && lines[j].startsWith('#'))
                j++;
            m.variants.push({ attrs: attrs(valueOf(l)), uri: lines[j] });
            i = j;
        } else if (tag === '#EXT-X-MEDIA') {
            m.media.push(attrs(valueOf(l)));
        } else if (tag === '#EXT-X-I-FRAME-STREAM-INF') {
            m.iframes.push(attrs(valueOf(l)));
        } else if (tag === '#EXT-X-IMAGE-STREAM-INF') {
            m.images.push(attrs(valueOf(l)));
        } else if (tag === '#EXT-X-INDEPENDENT-SEGMENTS') {
            m.independent = true;
        } else if (tag === '#EXT-X-VERSION') {
            m.version = Number(valueOf(l));
        }
    }
    return m;
}

export function isMaster(text) {
    return /^#EXT-X-STREAM-INF/m.test(text) || (/^#EXT-X-MEDIA:/m.test(text) &&
        !/^#EXTINF/m.test(text));
}

// Image playlists (EXT-X-IMAGES-ONLY, Roku/Apple's image-stream extension)
// are not media playlists for hls-parser: checked by our rules only.
function isImagePlaylist(text) {
    return /^#EXT-X-IMAGES-ONLY/m.test(text);
}

// hls-parser's strict mode throws at its first complaint; its lenient mode
// reports each complaint through console.error.  Both are run: the strict
// verdict, and every message of the lenient pass for the report.
function hlsParserErrors(text) {
    const errors = [];
    HLS.setOptions({ strictMode: true, silent: true });
    let strictError = null, parsed = null;
    try {
        parsed = HLS.parse(text);
    } catch (e) {
        strictError = e.message;
    }
    if (strictError) {
        const saved = console.error;
        console.error = (msg) => errors.push(String(msg));
        HLS.setOptions({ strictMode: false, silent: false });
        try {
            parsed = HLS.parse(text);
        } catch (e) {
            errors.push(e.message);
        } finally {
            console.error = saved;
            HLS.setOptions({ strictMode: true, silent: true });
        }
        if (!errors.includes(strictError))
            errors.unshift(strictError);
    }
    return { errors: [...new Set(errors)], parsed };
}

export function parserRule(msg) {
    // the message's first eight words
    const slug = msg.replace(/^Invalid Playlist : /, '').toLowerCase()
        .replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').split('-')
        .slice(0, 8).join('-');
    return `hls-parser.${slug}`;
}

// --- the validator ---------------------------------------------------------------

function urlKey(u) {
    const x = new URL(u);
    x.search = '';
    x.hash = '';
    return x.href;
}

function round(x, n = 3) {
    return Number(x.toFixed(n));
}

export class Validator {
    constructor(name = 'tests') {
        this.name = name;
        this.failures = [];      // since the last assertClean()
        this.counts = new Map(); // rule -> count, over the whole run
        this.details = new Map(); // rule -> first few messages
        this.checked = { hls: 0, mpd: 0, master: 0, media: 0 };
        this.media = new Map();  // url key -> [{ p, start, end, url }]
        this.masters = new Map(); // master url key -> { renditions, iframes, m }
        this.groupOf = new Map(); // rendition url key -> master url key
        this.mpds = new Map();   // url key -> [{ doc, start, end }]
        this.pending = new Set();
    }

    fail(rule, where, msg) {
        const f = { rule, where, msg };
        this.failures.push(f);
        this.counts.set(rule, (this.counts.get(rule) || 0) + 1);
        const d = this.details.get(rule) || [];
        if (d.length < 3)
            d.push(`${where}: ${msg}`);
        this.details.set(rule, d);
    }

    // --- dispatch ---

    // One HTTP answer (status, lower-case headers, body Buffer already
    // de-chunked).  Playlists and MPDs are recognised by type or name.
    checkResponse(url, { status, headers = {}, body, start, end, method = 'GET' }) {
        if (method !== 'GET' || status !== 200 || !body)
            return;
        const u = new URL(url);
        const ct = (headers['content-type'] || '').toLowerCase();
        const hls = /\.m3u8$/.test(u.pathname) || /mpegurl/.test(ct);
        const mpd = /\.mpd$/.test(u.pathname) || /dash\+xml/.test(ct);
        if (!hls && !mpd)
            return;
        let buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
        const enc = (headers['content-encoding'] || '').toLowerCase();
        if (enc === 'gzip') {
            if (!/accept-encoding/i.test(headers.vary || ''))
                this.fail('http.vary-accept-encoding', url,
                    `gzip answer without Vary: Accept-Encoding (vary: ${headers.vary})`);
            try {
                buf = zlib.gunzipSync(buf);
            } catch (e) {
                this.fail('http.gzip', url, `body does not gunzip: ${e.message}`);
                return;
            }
        }
        if (hls) {
            if (!/^(application\/vnd\.apple\.mpegurl|audio\/mpegurl)\b/.test(ct))
                this.fail('hls.H7.content-type', url, `Content-Type ${ct}`);
            this.checkHls(url, buf, { start, end });
        } else {
            if (!/^application\/dash\+xml\b/.test(ct))
                this.fail('dash.content-type', url, `Content-Type ${ct}`);
            this.checkMpd(url, buf.toString('utf8'), { start, end });
        }
    }

    checkHls(url, buf, { start = Date.now(), end = Date.now() } = {}) {
        this.checked.hls++;
        if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf)
            this.fail('hls.H7.utf8-no-bom', url, 'starts with a UTF-8 BOM');
        const text = buf.toString('utf8');
        if (Buffer.from(text, 'utf8').compare(buf) !== 0)
            this.fail('hls.H7.utf8-no-bom', url, 'not valid UTF-8');
        if (!text.startsWith('#EXTM3U')) {
            this.fail('hls.extm3u-first', url, `starts with ${JSON.stringify(text.slice(0, 20))}`);
            return;
        }
        if (!isImagePlaylist(text)) {
            for (const msg of hlsParserErrors(text).errors)
                this.fail(parserRule(msg), url, msg);
        }
        this.checkKeys(url, text);
        if (isMaster(text))
            this.checkMaster(url, text);
        else
            this.checkMedia(url, text, { start, end });
    }

    // H12: EXT-X-KEY and EXT-X-SESSION-KEY (RFC 8216bis 4.4.4.4, 4.4.6.5,
    // 7).  METHOD is NONE, AES-128, AES-256, SAMPLE-AES or SAMPLE-AES-CTR;
    // any but NONE needs a URI and NONE allows no other attribute;
    // KEYFORMAT/KEYFORMATVERSIONS need EXT-X-VERSION 5; SESSION-KEY only in
    // a multivariant playlist, never METHOD=NONE, and the same METHOD,
    // KEYFORMAT and KEYFORMATVERSIONS as every EXT-X-KEY with its URI (in
    // the media playlists of that master).
    checkKeys(url, text) {
        const F = (rule, msg) => this.fail(rule, url, msg);
        const master = isMaster(text);
        const version = Number((/^#EXT-X-VERSION:(\d+)/m.exec(text) || [])[1] || 1);
        const keys = [];
        for (const line of text.split(/\r?\n/)) {
            const session = line.startsWith('#EXT-X-SESSION-KEY:');
            if (!session && !line.startsWith('#EXT-X-KEY:'))
                continue;
            const a = attrs(line.slice(line.indexOf(':') + 1));
            const tag = session ? 'EXT-X-SESSION-KEY' : 'EXT-X-KEY';
            if (!['NONE', 'AES-128', 'AES-256', 'SAMPLE-AES', 'SAMPLE-AES-CTR'].includes(a.METHOD))
                F('hls.H12.key-method', `${tag} METHOD=${a.METHOD}`);
            if (a.METHOD === 'NONE' && Object.keys(a).length > 1)
                F('hls.H12.key-none-alone', `${tag} METHOD=NONE with other attributes`);
            if (a.METHOD !== 'NONE' && !a.URI)
                F('hls.H12.key-uri', `${tag} METHOD=${a.METHOD} without URI`);
            if ((a.KEYFORMAT || a.KEYFORMATVERSIONS) && version < 5)
                F('hls.H6.version', `KEYFORMAT needs EXT-X-VERSION 5, not ${version}`);
            if (a.KEYFORMATVERSIONS && !/^"?\d+(\/\d+)*"?$/.test(a.KEYFORMATVERSIONS))
                F('hls.H12.keyformatversions', `KEYFORMATVERSIONS ${a.KEYFORMATVERSIONS}`);
            if (session && !master)
                F('hls.H12.session-key-in-master', 'EXT-X-SESSION-KEY in a media playlist');
            if (!session && master)
                F('hls.H12.session-key-in-master', 'EXT-X-KEY in a multivariant playlist');
            if (session && a.METHOD === 'NONE')
                F('hls.H12.session-key-method', 'EXT-X-SESSION-KEY METHOD=NONE');
            keys.push({ session, a });
        }
        const key = urlKey(url);
        if (master) {
            this.sessionKeys = this.sessionKeys || new Map();
            this.sessionKeys.set(key, keys.filter((k) => k.session).map((k) => k.a));
            return;
        }
        const sessions = (this.sessionKeys || new Map()).get(this.groupOf.get(key)) || [];
        const same = (x, y) => ['METHOD', 'KEYFORMAT', 'KEYFORMATVERSIONS']
            .every((n) => (x[n] || '') === (y[n] || ''));
        for (const k of keys)
            for (const sk of sessions.filter((x) => x.URI === k.a.URI))
                if (!same(sk, k.a))
                    F('hls.H12.session-key-matches', `EXT-X-KEY ${k.a.METHOD} ` +
                        `${k.a.KEYFORMAT} differs from the EXT-X-SESSION-KEY with its URI`);
    }

    // --- multivariant ---

    checkMaster(url, text) {
        this.checked.master++;
        const m = parseMasterPlaylist(text);
        const key = urlKey(url);
        const renditions = new Set();
        for (const v of m.variants) {
            const a = v.attrs;
            const where = `${url} ${v.uri}`;
            renditions.add(urlKey(new URL(v.uri, url).href));
            const bw = Number(a.BANDWIDTH), avg = Number(a['AVERAGE-BANDWIDTH']);
            if (!(bw > 0))
                this.fail('hls.M1.bandwidth', where, 'BANDWIDTH missing');
            if (!a['AVERAGE-BANDWIDTH'])
                this.fail('hls.M1.average-bandwidth', where, 'AVERAGE-BANDWIDTH missing');
            else if (avg > bw)
                this.fail('hls.M1.bandwidth-ge-average', where,
                    `BANDWIDTH ${bw} < AVERAGE-BANDWIDTH ${avg}`);
            if (!a.CODECS)
                this.fail('hls.M1.codecs', where, 'CODECS missing');
            const video = /\b(avc[13]|hvc1|hev1|av01|vp09|dvh1|dvhe)\./.test(a.CODECS || '');
            if (video && !a.RESOLUTION)
                this.fail('hls.M1.resolution', where, 'RESOLUTION missing on a video variant');
            if (video && !a['FRAME-RATE'])
                this.fail('hls.M1.frame-rate', where, 'FRAME-RATE missing on a video variant');
            if (a.AUDIO && !m.media.some((x) => x.TYPE === 'AUDIO' && x['GROUP-ID'] === a.AUDIO))
                this.fail('hls.M1.audio-group', where, `no EXT-X-MEDIA for AUDIO="${a.AUDIO}"`);
            this.checkClosedCaptions(where, a, m);
        }
        for (const x of m.media.filter((y) => y.TYPE === 'CLOSED-CAPTIONS')) {
            // RFC 8216bis 4.4.6.1: no URI; INSTREAM-ID CC1-CC4 or SERVICE1-63
            if (x.URI !== undefined)
                this.fail('hls.M1.cc-no-uri', `${url} ${x.NAME}`,
                    'EXT-X-MEDIA TYPE=CLOSED-CAPTIONS with a URI');
            if (!/^(CC[1-4]|SERVICE([1-9]|[1-5][0-9]|6[0-3]))$/.test(x['INSTREAM-ID'] || ''))
                this.fail('hls.M1.cc-instream-id', `${url} ${x.NAME}`,
                    `INSTREAM-ID ${x['INSTREAM-ID']}`);
        }
        for (const x of m.media) {
            if (x.URI)
                renditions.add(urlKey(new URL(x.URI, url).href));
            if (x.TYPE !== 'VIDEO' && !x.LANGUAGE)
                this.fail('hls.apple.language', `${url} ${x.NAME}`,
                    `EXT-X-MEDIA TYPE=${x.TYPE} without LANGUAGE`);
        }
        const audio = new Set(m.media.filter((x) => x.TYPE === 'AUDIO' && x.URI)
            .map((x) => urlKey(new URL(x.URI, url).href)));
        const iframes = new Set();
        for (const a of m.iframes) {
            iframes.add(urlKey(new URL(a.URI, url).href));
            if (!a.CODECS || !a.RESOLUTION)
                this.fail('hls.M1.iframe-attributes', `${url} ${a.URI}`,
                    'I-FRAME-STREAM-INF needs CODECS and RESOLUTION');
            if (Number(a['AVERAGE-BANDWIDTH']) > Number(a.BANDWIDTH))
                this.fail('hls.M1.bandwidth-ge-average', `${url} ${a.URI}`,
                    `BANDWIDTH ${a.BANDWIDTH} < AVERAGE-BANDWIDTH ${a['AVERAGE-BANDWIDTH']}`);
        }
        this.masters.set(key, { renditions, iframes, audio, m, url });
        for (const r of [...renditions, ...iframes])
            this.groupOf.set(r, key);
        // H11 for renditions already seen
        for (const r of renditions)
            this.checkIndependent(r);
    }

    // RFC 8216bis 4.4.6.2: CLOSED-CAPTIONS names a group of TYPE
    // CLOSED-CAPTIONS (quoted), or is NONE on every variant.
    checkClosedCaptions(where, a, m) {
        const cc = a['CLOSED-CAPTIONS'];
        const none = m.variants.filter((v) => v.attrs['CLOSED-CAPTIONS'] === 'NONE').length;
        if (none > 0 && none !== m.variants.length)
            this.fail('hls.M1.cc-none-everywhere', where,
                'CLOSED-CAPTIONS=NONE on some variants only');
        if (cc === undefined || cc === 'NONE')
            return;
        if (!m.media.some((x) => x.TYPE === 'CLOSED-CAPTIONS' && x['GROUP-ID'] === cc))
            this.fail('hls.M1.cc-group', where,
                `no EXT-X-MEDIA TYPE=CLOSED-CAPTIONS for CLOSED-CAPTIONS="${cc}"`);
    }

    // H11: INDEPENDENT-SEGMENTS in the multivariant playlist, else in
    // every video media playlist (our segments all start with an IDR).
    checkIndependent(rkey) {
        const master = this.masters.get(this.groupOf.get(rkey));
        const hist = this.media.get(rkey);
        if (!master || !hist || master.m.independent)
            return;
        const p = hist[hist.length - 1].p;
        if (!p.independent && !p.iframes && !master.audio.has(rkey))
            this.fail('hls.H11.independent-segments', rkey,
                'neither the multivariant nor this media playlist has EXT-X-INDEPENDENT-SEGMENTS');
    }

    // --- media playlists ---

    checkMedia(url, text, { start, end }) {
        this.checked.media++;
        const p = parseMediaPlaylist(text);
        const q = new URL(url).searchParams;
        const live = !p.endlist && p.type !== 'VOD';
        p.live = live;
        p.text = text;
        const image = isImagePlaylist(text);
        this.checkOne(url, p, q, { image });
        const key = urlKey(url);
        const hist = this.media.get(key) || [];
        const entry = { p, start, end, url };
        // the newest earlier answer that was complete before this request
        // went out: concurrent fetches are not ordered
        const prev = [...hist].reverse().find((h) => h.end <= start);
        if (prev)
            this.checkSequence(url, prev.p, p, q);
        hist.push(entry);
        if (hist.length > 8)
            hist.shift();
        this.media.set(key, hist);
        if (!image && !p.iframes) {
            this.checkAcrossRenditions(url, key, p);
            this.checkIndependent(key);
        }
    }

    // Rules checkable from one playlist.
    checkOne(url, p, q, { image }) {
        const F = (rule, msg) => this.fail(rule, url, msg);
        // H1: TD an integer >= 1; each EXTINF rounded <= TD
        if (p.td === null) {
            F('hls.H1.td-present', 'no EXT-X-TARGETDURATION');
            return;
        }
        if (!/^\d+$/.test(p.td) || Number(p.td) < 1)
            F('hls.H1.td-integer', `EXT-X-TARGETDURATION:${p.td}`);
        const td = Number(p.td);
        for (const s of p.segments) {
            if (!(s.duration >= 0))
                F('hls.H1.extinf', `segment ${s.msn} has no EXTINF`);
            else if (Math.round(s.duration) > td)
                F('hls.H1.extinf-le-td', `segment ${s.msn} EXTINF ${s.duration} rounds above TD ${td}`);
        }
        // H2: sequence tags before the first segment
        if (p.msnAfterSegment || p.dsnAfterSegment)
            F('hls.H2.sequence-before-segments', 'MEDIA-SEQUENCE or DISCONTINUITY-SEQUENCE after a segment');
        if (p.live && !p.msnSeen && p.segments.length)
            F('hls.H2.media-sequence-present', 'a live playlist without EXT-X-MEDIA-SEQUENCE');
        const hasDisc = p.segments.some((s) => s.discontinuity) ||
            p.openSegment?.discontinuity;
        if (hasDisc && !p.dsnSeen)
            F('hls.H2.discontinuity-sequence-present',
                'EXT-X-DISCONTINUITY without EXT-X-DISCONTINUITY-SEQUENCE (APL 8.17)');
        // H3: no PLAYLIST-TYPE on live playlists
        if (p.live && p.type)
            F('hls.H3.no-playlist-type-live', `live playlist with PLAYLIST-TYPE:${p.type}`);
        if (p.type === 'VOD' && !p.endlist)
            F('hls.H3.vod-endlist', 'PLAYLIST-TYPE:VOD without EXT-X-ENDLIST');
        // H6: version minimums
        const need = Math.max(p.floatExtinf ? 3 : 1,
            p.hasByterange ? 4 : 1, p.iframes ? 4 : 1,
            p.hasMap && !p.iframes ? 6 : 1, p.skip !== null ? 9 : 1);
        if ((p.version || 1) < need)
            F('hls.H6.version', `EXT-X-VERSION ${p.version} < ${need}`);
        // H9: PDT format, in every live playlist, after every discontinuity
        for (const s of [...p.segments, p.openSegment].filter(Boolean)) {
            if (s.pdtText && !ISO_MS_TZ.test(s.pdtText))
                F('hls.H9.pdt-format', `PDT ${s.pdtText}: ISO-8601 with ms and a time zone`);
            if (s.discontinuity && !s.pdtText && (p.live || p.segments[0]?.pdtText))
                F('hls.H9.pdt-after-discontinuity', `segment ${s.msn}: DISCONTINUITY without PROGRAM-DATE-TIME`);
        }
        const first = p.segments[0] || p.openSegment;
        if (p.live && first && !first.pdtText && !image)
            F('hls.H9.pdt-live', 'live playlist: first segment without PROGRAM-DATE-TIME');
        // H5: HOLD-BACK >= 3 x TD
        const sc = p.serverControl;
        if (sc && sc['HOLD-BACK'] !== undefined && Number(sc['HOLD-BACK']) + EPS < 3 * td)
            F('hls.H5.hold-back', `HOLD-BACK ${sc['HOLD-BACK']} < 3 x TD ${td}`);
        // L1-L3: parts
        const allParts = [];
        for (const s of [...p.segments, p.openSegment].filter(Boolean))
            s.parts.forEach((x, i) => allParts.push({ s, x, i }));
        if (allParts.length) {
            const pt = p.partTarget;
            if (!(pt > 0))
                F('hls.L1.part-inf', 'EXT-X-PART without EXT-X-PART-INF:PART-TARGET');
            if (!sc || sc['CAN-BLOCK-RELOAD'] !== 'YES')
                F('hls.L3.can-block-reload', 'parts without CAN-BLOCK-RELOAD=YES');
            if (!sc || sc['PART-HOLD-BACK'] === undefined)
                F('hls.L3.part-hold-back', 'parts without PART-HOLD-BACK');
            else if (pt > 0 && Number(sc['PART-HOLD-BACK']) + EPS < 3 * pt)
                F('hls.L3.part-hold-back', `PART-HOLD-BACK ${sc['PART-HOLD-BACK']} < 3 x PART-TARGET ${pt}`);
            if (pt > 0)
                this.checkParts(url, p, pt, td);
            // L4/L7: a live playlist with parts hints the next part; one
            // between timelines (its publisher gone, every segment
            // complete) promises none: its next number may be an
            // outage's GAP segment, and a hint must name what is added
            const partHints = p.hints.filter((h) => h.TYPE === 'PART');
            if (p.live && partHints.length === 0 && p.openSegment)
                F('hls.L4.preload-hint-next-part', 'live playlist with parts and no PRELOAD-HINT TYPE=PART');
        }
        if (sc && sc['CAN-SKIP-UNTIL'] !== undefined &&
            Number(sc['CAN-SKIP-UNTIL']) + EPS < 6 * td)
            F('hls.L3.can-skip-until', `CAN-SKIP-UNTIL ${sc['CAN-SKIP-UNTIL']} < 6 x TD ${td}`);
        // L4: hints
        if (p.endlist && p.hints.length)
            F('hls.L4.no-hint-after-endlist', 'PRELOAD-HINT with EXT-X-ENDLIST');
        for (const type of ['PART', 'MAP'])
            if (p.hints.filter((h) => h.TYPE === type).length > 1)
                F('hls.L4.one-hint-per-type', `more than one PRELOAD-HINT TYPE=${type}`);
        for (const h of p.hints)
            if (!h.URI || !['PART', 'MAP'].includes(h.TYPE))
                F('hls.L4.hint-attributes', `PRELOAD-HINT ${JSON.stringify(h)}`);
        // L5: relative URIs in reports
        for (const r of p.reports) {
            if (!r.URI || /^[a-z][a-z0-9+.-]*:/i.test(r.URI))
                F('hls.L5.report-uri-relative', `RENDITION-REPORT URI ${r.URI}`);
            if (p.live && r['LAST-MSN'] === undefined)
                F('hls.L5.report-last-msn', `RENDITION-REPORT ${r.URI} without LAST-MSN`);
        }
        // L6 / Q3 / Q7: delta updates
        const skipAsked = q.get('_HLS_skip');
        if (p.skips > 1)
            F('hls.L6.one-skip', `${p.skips} EXT-X-SKIP tags`);
        if (p.skip !== null) {
            if (!skipAsked)
                F('hls.Q7.skip-only-when-asked', 'EXT-X-SKIP in an answer to a request without _HLS_skip');
            if (!sc || sc['CAN-SKIP-UNTIL'] === undefined)
                F('hls.Q3.skip-needs-can-skip-until', 'EXT-X-SKIP without CAN-SKIP-UNTIL');
            if (p.endlist)
                F('hls.Q3.no-directives-after-endlist', 'EXT-X-SKIP with ENDLIST');
            if (sc && sc['CAN-SKIP-UNTIL'] !== undefined && p.skip > 0) {
                // every skipped segment starts >= CAN-SKIP-UNTIL before the
                // end: the listed ones plus one TD cover the boundary
                const listed = p.segments.reduce((a, s) => a + s.duration, 0) +
                    (p.openSegment?.parts || []).reduce((a, x) => a + x.duration, 0);
                if (listed + td + EPS < Number(sc['CAN-SKIP-UNTIL']))
                    F('hls.L6.skip-boundary', `skipped ${p.skip} segments but only ` +
                        `${round(listed)} s listed, CAN-SKIP-UNTIL ${sc['CAN-SKIP-UNTIL']}`);
            }
        }
        // Q1/Q3: a blocking reload is answered with what it asked for
        const wantMsn = q.get('_HLS_msn');
        if (wantMsn !== null && !p.endlist && /^\d+$/.test(wantMsn)) {
            const M = Number(wantMsn);
            const N = q.get('_HLS_part') === null ? null : Number(q.get('_HLS_part'));
            if (!blockingSatisfied(p, M, N))
                F('hls.Q1.blocking-reload-satisfied',
                    `_HLS_msn=${M}${N === null ? '' : `&_HLS_part=${N}`} answered ` +
                    `with last segment ${lastMsn(p)}`);
        }
    }

    // L2 and H5 (parts): durations within [0.85, 1] x PART-TARGET, tags
    // before the first part, parts summing to their segment, and no parts
    // more than 3 x TD from the end.
    checkParts(url, p, pt, td) {
        const F = (rule, msg) => this.fail(rule, url, msg);
        const segs = [...p.segments, p.openSegment].filter(Boolean);
        // the end of the playlist, counting the open segment's parts
        let total = 0;
        const startOf = new Map();
        for (const s of segs) {
            startOf.set(s, total);
            total += s.open ? s.parts.reduce((a, x) => a + x.duration, 0) : s.duration;
        }
        for (const s of segs) {
            if (!s.parts.length)
                continue;
            if (s.lateTags.length)
                F('hls.L2.tags-before-first-part',
                    `segment ${s.msn}: ${s.lateTags.join(' ')} after its first EXT-X-PART`);
            const finished = !s.open; // the parent is complete: its last part is final
            s.parts.forEach((x, i) => {
                const last = i === s.parts.length - 1 && finished;
                const beforeGap = s.parts[i + 1]?.gap;
                if (x.duration > pt + EPS)
                    F('hls.L2.part-le-part-target',
                        `part ${s.msn}.${i} ${x.duration} s > PART-TARGET ${pt}`);
                if (x.duration + EPS < 0.85 * pt && !last && !x.independent &&
                    !x.gap && !beforeGap)
                    F('hls.L2.part-ge-85pct',
                        `part ${s.msn}.${i} ${x.duration} s < 0.85 x PART-TARGET ${pt}` +
                        ' (neither INDEPENDENT, GAP nor last)');
            });
            if (finished) {
                const sum = s.parts.reduce((a, x) => a + x.duration, 0);
                if (Math.abs(sum - s.duration) > 0.002 + 0.0005 * s.parts.length)
                    F('hls.L2.parts-sum-to-segment',
                        `segment ${s.msn}: parts sum to ${round(sum, 5)} s, EXTINF ${s.duration}`);
            }
            // H5: a part whose start is more than 3 x TD before the end
            let t = startOf.get(s);
            for (const [i, x] of s.parts.entries()) {
                if (total - t > 3 * td + EPS && !p.endlist) {
                    F('hls.H5.parts-within-3td',
                        `part ${s.msn}.${i} starts ${round(total - t)} s before the end (> 3 x TD = ${3 * td})`);
                    break;
                }
                t += x.duration;
            }
        }
    }

    // Rules over two answers for one URL, `a` before `b`.
    checkSequence(url, a, b, q) {
        const F = (rule, msg) => this.fail(rule, url, msg);
        if (a.td !== b.td)
            F('hls.H1.td-unchanged', `TARGETDURATION ${a.td} then ${b.td}`);
        if (b.msn < a.msn)
            F('hls.H2.media-sequence-monotonic', `MEDIA-SEQUENCE ${a.msn} then ${b.msn}`);
        if (b.dsn < a.dsn)
            F('hls.H2.discontinuity-sequence-monotonic',
                `DISCONTINUITY-SEQUENCE ${a.dsn} then ${b.dsn}`);
        if (a.endlist && !b.endlist)
            F('hls.H3.endlist-final', 'EXT-X-ENDLIST went away');
        // DSN rises by the discontinuities removed from the head
        if (b.msn > a.msn && a.skip === null) {
            const removed = a.segments.filter((s) => s.msn < b.msn);
            if (removed.length === b.msn - a.msn) {
                const n = removed.filter((s) => s.discontinuity).length;
                if (b.dsn !== a.dsn + n)
                    F('hls.H2.discontinuity-sequence-exact',
                        `${n} discontinuities removed, DSN ${a.dsn} -> ${b.dsn}`);
            }
        }
        // H3: segments kept are unchanged (URI and duration)
        const byMsn = new Map(a.segments.map((s) => [s.msn, s]));
        for (const s of b.segments) {
            const o = byMsn.get(s.msn);
            if (!o)
                continue;
            if (o.uri !== s.uri || Math.abs(o.duration - s.duration) > EPS ||
                o.discontinuity !== s.discontinuity)
                F('hls.H3.segments-unchanged',
                    `segment ${s.msn} was ${o.uri} ${o.duration}${o.discontinuity ? ' disc' : ''}` +
                    `, now ${s.uri} ${s.duration}${s.discontinuity ? ' disc' : ''}`);
        }
        // H5: removing segments never leaves less than 3 x TD
        if (b.msn > a.msn && b.live && b.skip === null) {
            const dur = b.segments.reduce((x, s) => x + s.duration, 0);
            if (dur + EPS < 3 * Number(b.td))
                F('hls.H5.window-ge-3td',
                    `segments removed down to ${round(dur)} s (< 3 x TD ${b.td})`);
        }
        // L4: the hinted part is the one added next
        const hint = a.hints.find((h) => h.TYPE === 'PART');
        if (hint && a.live) {
            const flat = (p) => [...p.segments, p.openSegment].filter(Boolean)
                .flatMap((s) => s.parts.map((x) => ({ msn: s.msn, ...x })));
            const pa = flat(a), pb = flat(b);
            const lastA = pa[pa.length - 1];
            if (lastA) {
                const i = pb.findIndex((x) => x.uri === lastA.uri && x.msn === lastA.msn &&
                    x.byterange === lastA.byterange);
                if (i >= 0 && i + 1 < pb.length) {
                    const next = pb[i + 1];
                    const hintStart = hint['BYTERANGE-START'];
                    const nextStart = next.byterange ? next.byterange.split('@')[1] : undefined;
                    // A segment ends where the next keyframe comes, which a
                    // live packager learns only then: the part hinted after
                    // its last part is never made (the next one is part 0 of
                    // the next segment) and answers 404, as an unmade
                    // resource does (RFC 8216bis 6.2.6).
                    const hm = /part-(\d+)\.(\d+)\.m4s/.exec(hint.URI || '');
                    const ended = hm && next.msn === Number(hm[1]) + 1 &&
                        /part-\d+\.0\.m4s/.test(next.uri) &&
                        pb.filter((x) => x.msn === Number(hm[1])).length === Number(hm[2]);
                    if (!ended && (next.uri !== hint.URI ||
                        (hintStart !== undefined && nextStart !== undefined &&
                            Number(hintStart) !== Number(nextStart))))
                        F('hls.L4.hint-is-next-part',
                            `hinted ${hint.URI}${hintStart !== undefined ? `@${hintStart}` : ''}` +
                            `, next part added was ${next.uri}${next.byterange ? ` (${next.byterange})` : ''}`);
                }
            }
        }
        // L6: a delta update keeps the DSN of the full playlist
        if (b.skip !== null && a.skip === null && a.msn === b.msn && a.dsn !== b.dsn)
            F('hls.L6.skip-keeps-dsn', `full playlist DSN ${a.dsn}, delta update ${b.dsn}`);
    }

    // H10, H9 and L5 over the renditions of one master (or, until a master
    // is seen, the renditions this playlist reports on).
    checkAcrossRenditions(url, key, p) {
        let group = null;
        const mkey = this.groupOf.get(key);
        if (mkey)
            group = [...this.masters.get(mkey).renditions];
        else if (p.reports.length)
            group = [key, ...p.reports.map((r) => urlKey(new URL(r.URI, url).href))];
        if (!group)
            return;
        // L5: one report per other rendition of the master
        if (mkey && p.live && p.partTarget) {
            const others = group.filter((r) => r !== key);
            const reported = new Set(p.reports.map((r) => urlKey(new URL(r.URI, url).href)));
            for (const o of others)
                if (!reported.has(o))
                    this.fail('hls.L5.report-per-rendition', url, `no RENDITION-REPORT for ${o}`);
            for (const r of reported)
                if (!others.includes(r))
                    this.fail('hls.L5.report-per-rendition', url, `RENDITION-REPORT for ${r}, not another rendition of the master`);
        }
        // L5/L7: reports are current (within one segment of this playlist's
        // last part or segment).  What a rendition publishes at once when a
        // publisher comes back does not count: an outage's GAP segments, or
        // the segments after a discontinuity that fill it with media (the
        // last picture, silence), each rendition's with its first part after
        // the outage, so one lists them a part before another does (in this
        // playlist or in another rendition's latest seen; the renditions
        // share their MSNs)
        const mine = p.openSegment ? p.openSegment.msn : lastMsn(p);
        if (p.live && mine !== null) {
            const gaps = new Set(), breaks = [];
            for (const q of [p, ...group.map((g) => this.media.get(g))
                .filter(Boolean).map((h) => h[h.length - 1].p)])
                for (const s of [...q.segments, q.openSegment]) {
                    if (s?.gap)
                        gaps.add(s.msn);
                    if (s?.discontinuity)
                        breaks.push(s.msn);
                }
            for (const r of p.reports) {
                const lm = Number(r['LAST-MSN']);
                const lo = Math.min(lm, mine), hi = Math.max(lm, mine);
                let apart = hi - lo;
                for (let m = lo + 1; m < hi; m++)
                    apart -= gaps.has(m) || breaks.some((d) => d > lo && d <= m);
                if (Number.isFinite(lm) && apart > 1)
                    this.fail('hls.L5.report-current', url,
                        `RENDITION-REPORT ${r.URI} LAST-MSN ${lm}, this playlist's last ${mine}`);
            }
        }
        for (const other of group) {
            if (other === key)
                continue;
            const h = this.media.get(other);
            if (!h)
                continue;
            const o = h[h.length - 1].p;
            const where = `${url} vs ${other}`;
            if (o.td !== p.td)
                this.fail('hls.H10.td-same-across-renditions', where,
                    `TARGETDURATION ${p.td} vs ${o.td}`);
            if (p.live && o.live && canonical(p.serverControl) !== canonical(o.serverControl))
                this.fail('hls.H10.server-control-same-across-renditions', where,
                    `SERVER-CONTROL ${p.serverControlRaw} vs ${o.serverControlRaw}`);
            if (p.live && o.live && (p.partTarget || o.partTarget) && p.partTarget !== o.partTarget)
                this.fail('hls.H10.part-target-same-across-renditions', where,
                    `PART-TARGET ${p.partTarget} vs ${o.partTarget}`);
            // the same MSN: the same discontinuity and, within an audio
            // frame, the same PROGRAM-DATE-TIME
            const om = new Map(o.segments.map((s) => [s.msn, s]));
            let pdtBad = null, discBad = null;
            for (const s of p.segments) {
                const t = om.get(s.msn);
                if (!t)
                    continue;
                if (s.discontinuity !== t.discontinuity ||
                    (s.dsn !== null && t.dsn !== null && s.dsn !== t.dsn))
                    discBad = discBad || `segment ${s.msn}: discontinuity ${s.discontinuity}/${s.dsn} vs ${t.discontinuity}/${t.dsn}`;
                if (s.pdt && t.pdt && Math.abs(s.pdt - t.pdt) > 50)
                    pdtBad = pdtBad || `segment ${s.msn}: PDT ${s.pdtText} vs ${t.pdtText}`;
            }
            if (discBad)
                this.fail('hls.H10.discontinuity-aligned', where, discBad);
            if (pdtBad)
                this.fail('hls.H9.pdt-consistent-across-renditions', where, pdtBad);
        }
    }

    // --- DASH ---

    checkMpd(url, xml, { start = Date.now(), end = Date.now(), now = null } = {}) {
        this.checked.mpd++;
        const F = (rule, msg) => this.fail(rule, url, msg);
        const lint = spawnSync('xmllint', ['--noout', '-'], { input: xml, encoding: 'utf8' });
        if (lint.error === undefined && lint.status !== 0)
            F('dash.xmllint', lint.stderr.trim().split('\n').slice(0, 3).join(' | '));
        const events = [];
        try {
            mpdParser.parse(xml, { manifestUri: url,
                eventHandler: (e) => events.push(e) });
        } catch (e) {
            F('mpd-parser.parse', e.message);
        }
        for (const e of events)
            if (e.type === 'warn' || e.type === 'error')
                F(`mpd-parser.${e.type}`, e.message);
        let doc;
        try {
            doc = mpdParser.stringToMpdXml(xml);
        } catch (e) {
            F('mpd-parser.xml', e.message);
            return;
        }
        const d = readMpd(doc);
        this.checkMpdOne(url, d);
        this.checkContentProtection(url, doc);
        const key = urlKey(url);
        const hist = this.mpds.get(key) || [];
        const prev = [...hist].reverse().find((h) => h.end <= start);
        if (prev)
            this.checkMpdSequence(url, prev.d, d, now ?? (start + end) / 2);
        hist.push({ d, start, end });
        if (hist.length > 8)
            hist.shift();
        this.mpds.set(key, hist);
    }

    // D7: ContentProtection (ISO/IEC 23009-1 5.8.4.1, 5.8.5.2; ISO/IEC
    // 23001-7 11.2): the mp4protection descriptor's value is a scheme
    // (cenc, cbcs, cens, cbc1) and its cenc:default_KID a UUID, in the
    // urn:mpeg:cenc:2013 namespace, one KID per AdaptationSet; a
    // ContentProtection comes before the AdaptationSet's Accessibility,
    // Role, Rating and Viewpoint (the schema's sequence); a system's
    // schemeIdUri is urn:uuid:<UUID>.
    checkContentProtection(url, doc) {
        const F = (rule, msg) => this.fail(rule, url, msg);
        const CENC = 'urn:mpeg:cenc:2013';
        const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
        const sets = doc.getElementsByTagName('AdaptationSet');
        for (let i = 0; i < sets.length; i++) {
            const set = sets[i];
            const where = `AdaptationSet ${set.getAttribute('id')}`;
            let seenLater = false;
            const kids = new Set();
            for (let n = set.firstChild; n; n = n.nextSibling) {
                if (n.nodeType !== 1)
                    continue;
                if (['Accessibility', 'Role', 'Rating', 'Viewpoint'].includes(n.localName))
                    seenLater = true;
                if (n.localName !== 'ContentProtection')
                    continue;
                if (seenLater)
                    F('dash.D7.content-protection-order', `${where}: ContentProtection after Accessibility/Role`);
                const scheme = n.getAttribute('schemeIdUri') || '';
                if (scheme === 'urn:mpeg:dash:mp4protection:2011') {
                    if (!['cenc', 'cbcs', 'cens', 'cbc1'].includes(n.getAttribute('value')))
                        F('dash.D7.mp4protection-value', `${where}: value=${n.getAttribute('value')}`);
                    const kid = n.getAttributeNS(CENC, 'default_KID');
                    if (!kid || !uuid.test(kid))
                        F('dash.D7.default-kid', `${where}: cenc:default_KID ${kid || 'missing'} ` +
                            `(a UUID in ${CENC})`);
                    else
                        kids.add(kid.toLowerCase());
                } else if (!/^urn:uuid:/i.test(scheme) || !uuid.test(scheme.slice(9))) {
                    F('dash.D7.system-id', `${where}: schemeIdUri ${scheme}`);
                }
            }
            if (kids.size > 1)
                F('dash.D7.default-kid', `${where}: ${kids.size} different default_KIDs`);
        }
    }

    checkMpdOne(url, d) {
        const F = (rule, msg) => this.fail(rule, url, msg);
        const dynamic = d.type === 'dynamic';
        if (dynamic && !d.ast)
            F('dash.D1.availability-start-time', 'dynamic MPD without availabilityStartTime');
        // D2: UTCTiming, with a scheme players know, on our origin
        const schemes = /^urn:mpeg:dash:utc:(http-xsdate|http-iso|http-head|direct|http-ntp|ntp):201[24]$/;
        if (dynamic) {
            if (!d.utc.length)
                F('dash.D2.utctiming', 'dynamic MPD without UTCTiming');
            for (const u of d.utc) {
                if (!schemes.test(u.scheme))
                    F('dash.D2.utctiming', `UTCTiming scheme ${u.scheme}`);
                if (/^urn:mpeg:dash:utc:http-/.test(u.scheme)) {
                    try {
                        const t = new URL(u.value, url);
                        if (t.host !== new URL(url).host)
                            F('dash.D2.utctiming-origin', `UTCTiming ${u.value} is not served by the origin`);
                    } catch {
                        F('dash.D2.utctiming', `UTCTiming value ${u.value}`);
                    }
                }
            }
        }
        // D3: dynamic MPDs update; the end of live is static or final
        if (dynamic && d.hasTimeline && d.mup === null)
            F('dash.D3.minimum-update-period', 'dynamic MPD with a SegmentTimeline and no minimumUpdatePeriod');
        if (d.type === 'static' && d.mup !== null)
            F('dash.D3.static-no-mup', 'static MPD with minimumUpdatePeriod');
        if (d.type === 'static' && !d.mpd && d.periods.some((p) => p.duration === null) &&
            d.periods.length)
            F('dash.D3.static-duration', 'static MPD without mediaPresentationDuration or Period@duration');
        // D6's segment duration is the nominal one: the longest S@d of the
        // content type in any Period.  A segment cut short by a
        // discontinuity (a publisher gone mid-segment) may be all a Period
        // still lists, but ATO = segment duration - chunk duration is for
        // the segments as they are produced (DASH-IF IOP LL 9.X.4.5; their
        // availability starts ATO before their end, ISO/IEC 23009-1
        // 5.3.9.5.3): a short one's duration was only known once it was
        // complete, so an ATO over it made none of it available early.
        const nominal = new Map();
        for (const p of d.periods)
            for (const as of p.sets)
                if (as.segDur && !(nominal.get(as.kind) >= as.segDur))
                    nominal.set(as.kind, as.segDur);
        for (const [pi, p] of d.periods.entries()) {
            if (dynamic && p.start === null && pi === 0)
                F('dash.D1.period-start', 'dynamic MPD: the first Period has no @start');
            const ids = new Set();
            for (const as of p.sets) {
                const w = `Period ${p.id ?? pi} AdaptationSet ${as.id}`;
                if (as.id === null)
                    F('dash.D1.adaptation-set-id', `${w}: no @id`);
                else if (ids.has(as.id))
                    F('dash.D1.adaptation-set-id', `${w}: @id repeated`);
                ids.add(as.id);
                if (as.segmentAlignment !== 'true' && /^(video|audio)/.test(as.kind))
                    F('dash.D5.segment-alignment', `${w}: segmentAlignment is ${as.segmentAlignment}`);
                // D4: no availability attributes at Representation level
                for (const r of as.reps)
                    if (r.repAvailability)
                        F('dash.D4.no-representation-availability',
                            `${w} Representation ${r.id}: ${r.repAvailability}`);
                // D5: addressing
                const modes = new Set();
                for (const r of as.reps) {
                    const t = r.template;
                    const rw = `${w} Representation ${r.id}`;
                    if (!t) {
                        if (!r.hasBaseOrList)
                            F('dash.D5.addressing', `${rw}: no SegmentTemplate`);
                        continue;
                    }
                    if (t.timescale === null)
                        F('dash.D5.timescale', `${rw}: SegmentTemplate without @timescale`);
                    const media = t.media || '';
                    for (const m of media.matchAll(/\$(\w*)(%[^$]*)?\$/g))
                        if (m[2] && !/^%0\d+d$/.test(m[2]))
                            F('dash.D5.format-tag', `${rw}: ${m[0]}`);
                    if (t.timeline && t.duration !== null)
                        F('dash.D5.addressing', `${rw}: both @duration and SegmentTimeline`);
                    if (/\$Time\$/.test(media) && !t.timeline)
                        F('dash.D5.addressing', `${rw}: $Time$ without SegmentTimeline`);
                    if (!t.timeline && !(t.duration > 0))
                        F('dash.D5.addressing', `${rw}: neither @duration nor SegmentTimeline`);
                    modes.add(t.timeline ? `timeline${/\$Time/.test(media) ? '-time' : '-number'}` : 'duration');
                    for (const [i, s] of (t.timeline || []).entries()) {
                        if (s.t >= 2 ** 53 || s.d >= 2 ** 53)
                            F('dash.D5.times-lt-2^53', `${rw}: S@t ${s.t}`);
                        // a negative @r ends at the next S@t, or is the
                        // last S of a live timeline
                        const next = t.timeline[i + 1];
                        if (s.r < 0 && (s.r !== -1 || (next ? !next.hasT : !dynamic)))
                            F('dash.D5.open-ended-S', `${rw}: S@r ${s.r} ` +
                                (next ? 'followed by an S without @t' : 'in a static MPD'));
                    }
                    if (t.pto >= 2 ** 53)
                        F('dash.D5.times-lt-2^53', `${rw}: presentationTimeOffset ${t.pto}`);
                }
                if (modes.size > 1)
                    F('dash.D5.one-mode-per-set', `${w}: ${[...modes].join(', ')}`);
                // D6: LL chunked
                if (dynamic && as.ato !== null) {
                    const segDur = nominal.get(as.kind) ?? as.segDur;
                    if (!(as.ato > 0) || (segDur && as.ato >= segDur - EPS))
                        F('dash.D6.ato-range', `${w}: availabilityTimeOffset ${as.ato}, segment ${segDur} s`);
                    if (as.atc !== 'false')
                        F('dash.D6.availability-time-complete', `${w}: availabilityTimeComplete ${as.atc}`);
                    if (!d.latencyTarget)
                        F('dash.D6.service-description', 'LL MPD without ServiceDescription/Latency@target');
                    else if (segDur && segDur - as.ato > d.latencyTarget / 1000 + EPS)
                        F('dash.D6.ato-vs-latency', `${w}: segDur ${segDur} - ATO ${as.ato} > target ${d.latencyTarget} ms`);
                    if (!as.prt)
                        F('dash.D6.producer-reference-time', `${w}: no ProducerReferenceTime`);
                    else {
                        if (!as.prt.type || !as.prt.wallClockTime || as.prt.presentationTime === null)
                            F('dash.D6.producer-reference-time', `${w}: ProducerReferenceTime ${JSON.stringify(as.prt)}`);
                        const top = d.utc.map((u) => `${u.scheme} ${u.value}`);
                        if (!as.prt.utc || !top.includes(as.prt.utc))
                            F('dash.D6.prt-utctiming', `${w}: ProducerReferenceTime UTCTiming ${as.prt.utc} vs MPD ${top.join(', ')}`);
                        // the PRT maps presentationTime to wallClockTime: it
                        // must agree with the MPD timeline
                        const wall = Date.parse(as.prt.wallClockTime);
                        const expected = d.ast + (p.start ?? 0) * 1000 +
                            ((as.prt.presentationTime - (as.reps[0]?.template?.pto || 0)) /
                                (as.reps[0]?.template?.timescale || 1)) * 1000;
                        if (d.ast && Number.isFinite(wall) && Math.abs(wall - expected) > 50)
                            F('dash.D6.prt-matches-timeline',
                                `${w}: ProducerReferenceTime ${as.prt.wallClockTime} for ` +
                                `presentationTime ${as.prt.presentationTime}, the timeline says ${new Date(expected).toISOString()}`);
                    }
                }
                // D4: the newest segment's time on the wall clock, for
                // checkMpdSequence
                if (dynamic && d.ast) {
                    for (const r of as.reps) {
                        const t = r.template;
                        if (!t?.timeline?.length)
                            continue;
                        // an open-ended S promises segments, it lists none
                        const counted = t.timeline.filter((s) => s.r >= 0);
                        if (!counted.length)
                            continue;
                        const lastS = counted[counted.length - 1];
                        const endT = lastS.t + lastS.d * (lastS.r + 1);
                        r.liveEdge = d.ast + (p.start ?? 0) * 1000 +
                            (endT - (t.pto || 0)) / t.timescale * 1000;
                    }
                }
            }
        }
    }

    checkMpdSequence(url, a, b, now) {
        const F = (rule, msg) => this.fail(rule, url, msg);
        if (a.type !== 'dynamic')
            return;
        if (b.type === 'dynamic' && a.ast !== b.ast)
            F('dash.D1.ast-unchanged', `availabilityStartTime ${a.astText} then ${b.astText}`);
        const pa = new Map(a.periods.map((p, i) => [p.id ?? `#${i}`, p]));
        for (const [i, p] of b.periods.entries()) {
            const o = pa.get(p.id ?? `#${i}`);
            if (!o)
                continue;
            // a static MPD (the stream ended) is a presentation of its own,
            // its Periods placed from 0: like availabilityStartTime above,
            // Period@start is compared between dynamic updates
            if (b.type === 'dynamic' && o.start !== p.start)
                F('dash.D1.period-start-unchanged', `Period ${p.id ?? i} @start ${o.start} then ${p.start}`);
            const sig = (q) => q.sets.map((s) => `${s.id}:${s.reps.map((r) => r.id).join(',')}`).join(' ');
            if (sig(o) !== sig(p))
                F('dash.D1.sets-stable', `Period ${p.id ?? i}: ${sig(o)} then ${sig(p)}`);
            // D4: when the timeline moved on, its edge is near the wall
            // clock; the newest Period's only (one with a successor ended
            // where that starts: its edge moved on when it closed, which
            // an MPD fetched a while after the one before sees late)
            if (b.type !== 'dynamic' || i !== b.periods.length - 1)
                continue;
            for (const [si, s] of p.sets.entries()) {
                for (const [ri, r] of s.reps.entries()) {
                    const or = o.sets[si]?.reps[ri];
                    if (!or || r.liveEdge === undefined || or.liveEdge === undefined ||
                        r.liveEdge <= or.liveEdge)
                        continue;
                    const lag = (now - r.liveEdge) / 1000;
                    const segDur = s.segDur || 2;
                    if (lag > segDur + 1)
                        F('dash.D4.timeline-follows-wall-clock',
                            `Representation ${r.id}: newest segment ends ${round(lag, 2)} s before now`);
                }
            }
        }
    }

    // --- on disk (VOD outputs) ---

    // Every .m3u8 and .mpd under `dir`, masters first so renditions are
    // known as such.  Also checks that the files the playlists name exist.
    checkDir(dir) {
        const files = [];
        (function walk(d) {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                const f = path.join(d, e.name);
                if (e.isDirectory())
                    walk(f);
                else if (/\.(m3u8|mpd)$/.test(e.name))
                    files.push(f);
            }
        })(dir);
        const rank = (f) => (/\.mpd$/.test(f) ? 2 : isMaster(fs.readFileSync(f, 'utf8')) ? 0 : 1);
        files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
        for (const f of files) {
            const url = pathToFileURL(f).href;
            const buf = fs.readFileSync(f);
            if (f.endsWith('.mpd'))
                this.checkMpd(url, buf.toString('utf8'));
            else {
                this.checkHls(url, buf);
                this.checkFilesExist(f, buf.toString('utf8'));
            }
        }
        return files.length;
    }

    checkFilesExist(file, text) {
        const dir = path.dirname(file);
        const uris = new Set();
        for (const l of text.split(/\r?\n/)) {
            const t = l.trim();
            if (!t)
                continue;
            if (!t.startsWith('#'))
                uris.add(t);
            else
                for (const m of t.matchAll(/URI="([^"]+)"/g))
                    uris.add(m[1]);
        }
        for (const u of uris) {
            if (/^[a-z]+:/i.test(u))
                continue;
            const f = path.join(dir, decodeURIComponent(u.split(/[?#]/)[0]));
            if (!fs.existsSync(f))
                this.fail('hls.H8.listed-files-exist', file, `${u} is listed but missing`);
        }
        this.checkKeyScheme(file, text);
    }

    // H13 (on disk): a media playlist's EXT-X-KEY METHOD is what its
    // EXT-X-MAP's sample entry says (RFC 8216bis 5.4: SAMPLE-AES with fMP4
    // is the 'cbcs' scheme, SAMPLE-AES-CTR 'cenc'; ISO/IEC 23001-7 schm):
    // a protected init.mp4 needs its key tag, a clear one none, unless the
    // key is AES-128 (whole segments), after the map or with an IV.
    checkKeyScheme(file, text) {
        const map = /^#EXT-X-MAP:(.*)$/m.exec(text);
        if (!map)
            return;
        const init = path.join(path.dirname(file), attrs(map[1]).URI || '');
        if (!fs.existsSync(init))
            return;
        const buf = fs.readFileSync(init);
        const at = buf.indexOf('schm');
        const scheme = at >= 4 && at + 12 <= buf.length ?
            buf.toString('latin1', at + 8, at + 12) : null;
        const keyLine = /^#EXT-X-KEY:(.*)$/m.exec(text);
        const method = keyLine ? attrs(keyLine[1]).METHOD : 'NONE';
        if (method === 'AES-128' || method === 'AES-256') {
            // whole-segment encryption: a clear init.mp4, so the key comes
            // after EXT-X-MAP (before it, it would apply to the map too and
            // need an IV: RFC 8216bis 4.4.4.5)
            if (scheme)
                this.fail('hls.H13.key-scheme', file, `METHOD=${method} over a ` +
                    `sample-encrypted init.mp4 ('${scheme}')`);
            if (keyLine.index < map.index && !attrs(keyLine[1]).IV)
                this.fail('hls.H13.key-scheme', file, `METHOD=${method} before ` +
                    'EXT-X-MAP without an IV');
            return;
        }
        const want = { cenc: 'SAMPLE-AES-CTR', cbcs: 'SAMPLE-AES' }[scheme] || 'NONE';
        if (scheme && !(scheme in { cenc: 1, cbcs: 1 }))
            this.fail('hls.H13.key-scheme', file, `init.mp4 scheme ${scheme}`);
        else if (method !== want)
            this.fail('hls.H13.key-scheme', file, `EXT-X-KEY METHOD=${method} but ` +
                `init.mp4 is ${scheme ? `'${scheme}'` : 'clear'} (needs ${want})`);
    }

    // --- wiring ---

    // Wraps tests/integration/lib/nginx.mjs rawGet(port, target, headers,
    // opts): same answers, each playlist and MPD checked.
    wrapRawGet(rawGet) {
        return async (port, target, headers = {}, opts = {}) => {
            const start = Date.now();
            const r = await rawGet(port, target, headers, opts);
            const end = Date.now();
            try {
                let body = r.body;
                // a manifest cut short fails to parse, as it should
                if (/chunked/i.test(r.headers['transfer-encoding'] || ''))
                    body = dechunk(body) ?? Buffer.alloc(0);
                this.checkResponse(`http://127.0.0.1:${port}${target}`, {
                    status: r.status, headers: r.headers, body, start, end,
                    method: opts.method || 'GET' });
            } catch (e) {
                this.fail('validator.crash', target, e.stack);
            }
            return r;
        };
    }

    // Wraps the global fetch: same Response, each playlist and MPD checked
    // from a clone.
    wrapFetch(f = globalThis.fetch) {
        return async (input, init = {}) => {
            const start = Date.now();
            const res = await f(input, init);
            const url = typeof input === 'string' ? input : input.url;
            if (res.status === 200 && (init.method || 'GET') === 'GET') {
                const clone = res.clone();
                this.track((async () => {
                    const body = Buffer.from(await clone.arrayBuffer());
                    const headers = Object.fromEntries(res.headers);
                    // fetch already gunzipped the body
                    delete headers['content-encoding'];
                    this.checkResponse(url, { status: res.status, headers, body,
                        start, end: Date.now() });
                })());
            }
            return res;
        };
    }

    // Every playlist and MPD a page loads (players included).
    watchPage(page) {
        page.on('response', (res) => {
            const req = res.request();
            const u = req.url();
            if (!/\.(m3u8|mpd)(\?|$)/.test(u) && !/mpegurl|dash\+xml/
                .test(res.headers()['content-type'] || ''))
                return;
            if (req.method() !== 'GET' || res.status() !== 200)
                return;
            const timing = req.timing();
            const start = timing.startTime > 0 ? timing.startTime : Date.now();
            this.track((async () => {
                let body;
                try {
                    body = await res.body();
                } catch {
                    return; // page gone, or a body the browser did not keep
                }
                const headers = { ...res.headers() };
                delete headers['content-encoding']; // the browser decoded it
                this.checkResponse(u, { status: 200, headers, body, start,
                    end: Date.now() });
            })());
        });
    }

    track(promise) {
        const p = promise.catch((e) => this.fail('validator.crash', 'async', e.stack))
            .finally(() => this.pending.delete(p));
        this.pending.add(p);
    }

    async settle() {
        while (this.pending.size)
            await Promise.all([...this.pending]);
    }

    // Takes the failures recorded since the last call: throws if there are
    // any.
    async assertClean() {
        await this.settle();
        const bad = this.failures.splice(0);
        if (bad.length) {
            const lines = bad.slice(0, MAX_DETAILS).map((f) => `  ${f.rule}: ${f.where}: ${f.msg}`);
            throw new Error(`strict validation: ${bad.length} failure(s) ` +
                `(${summarize(bad)})\n${lines.join('\n')}`);
        }
    }

    report() {
        const rules = [...this.counts.entries()].sort((a, b) => b[1] - a[1]);
        return { checked: { ...this.checked }, failures: Object.fromEntries(rules),
            examples: Object.fromEntries(this.details) };
    }
}

function summarize(fs_) {
    const by = new Map();
    for (const f of fs_)
        by.set(f.rule, (by.get(f.rule) || 0) + 1);
    return [...by.entries()].map(([r, n]) => `${r} x${n}`).join(', ');
}

function canonical(o) {
    return JSON.stringify(Object.entries(o || {}).sort(([a], [b]) => a.localeCompare(b)));
}

function lastMsn(p) {
    const s = p.segments[p.segments.length - 1];
    return s ? s.msn : null;
}

// Q1: a segment >= M exists; with _HLS_part, part N of M (or a later part,
// or a later segment) exists.
function blockingSatisfied(p, M, N) {
    const segs = [...p.segments, p.openSegment].filter(Boolean);
    if (N === null)
        return p.segments.some((s) => s.msn >= M);
    return segs.some((s) => s.msn > M) ||
        segs.some((s) => s.msn === M && (s.parts.length > N || (!s.open && N >= s.parts.length)));
}

// --- MPD model ---------------------------------------------------------------

function num(v) {
    return v === null || v === undefined || v === '' ? null : Number(v);
}

// xs:duration (PnYnMnDTnHnMnS) in seconds
export function xsDuration(s) {
    if (!s)
        return null;
    const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$/.exec(s);
    if (!m)
        return NaN;
    return (Number(m[1] || 0) * 86400) + (Number(m[2] || 0) * 3600) +
        (Number(m[3] || 0) * 60) + Number(m[4] || 0);
}

function kids(el, name) {
    const out = [];
    for (let c = el.firstChild; c; c = c.nextSibling)
        if (c.nodeType === 1 && (c.localName || c.nodeName) === name)
            out.push(c);
    return out;
}

function attr(el, name) {
    return el && el.hasAttribute(name) ? el.getAttribute(name) : null;
}

function readTemplate(el, inherited) {
    const own = kids(el, 'SegmentTemplate')[0];
    if (!own && !inherited)
        return null;
    const pick = (n) => attr(own, n) ?? inherited?.[n] ?? null;
    const tl = own ? kids(own, 'SegmentTimeline')[0] : null;
    let timeline = inherited?.timelineList || null;
    if (tl) {
        timeline = [];
        let t = 0;
        for (const s of kids(tl, 'S')) {
            const st = num(attr(s, 't'));
            const d = Number(attr(s, 'd'));
            const r = Number(attr(s, 'r') || 0);
            if (st !== null)
                t = st;
            // r < 0: @d repeats until the next S@t, the Period's end or
            // the next MPD update (open-ended: no count of its own)
            timeline.push({ t, d, r, hasT: st !== null });
            if (r >= 0)
                t += d * (r + 1);
        }
    }
    return { media: pick('media'), initialization: pick('initialization'),
        timescale: num(pick('timescale')), duration: num(pick('duration')),
        startNumber: num(pick('startNumber')), pto: num(pick('presentationTimeOffset')) || 0,
        ato: num(pick('availabilityTimeOffset')), atc: pick('availabilityTimeComplete'),
        timeline, timelineList: timeline };
}

function templateAttrs(el) {
    const t = el ? kids(el, 'SegmentTemplate')[0] : null;
    if (!t)
        return null;
    const o = {};
    for (const n of ['media', 'initialization', 'timescale', 'duration', 'startNumber',
        'presentationTimeOffset', 'availabilityTimeOffset', 'availabilityTimeComplete'])
        if (t.hasAttribute(n))
            o[n] = t.getAttribute(n);
    return o;
}

export function readMpd(root) {
    const d = { type: attr(root, 'type') || 'static', astText: attr(root, 'availabilityStartTime'),
        ast: null, mup: xsDuration(attr(root, 'minimumUpdatePeriod')),
        mpd: xsDuration(attr(root, 'mediaPresentationDuration')), utc: [],
        periods: [], hasTimeline: false, latencyTarget: null };
    d.ast = d.astText ? Date.parse(d.astText) : null;
    for (const u of kids(root, 'UTCTiming'))
        d.utc.push({ scheme: attr(u, 'schemeIdUri'), value: attr(u, 'value') });
    for (const sd of kids(root, 'ServiceDescription'))
        for (const l of kids(sd, 'Latency'))
            d.latencyTarget = num(attr(l, 'target'));
    for (const pe of kids(root, 'Period')) {
        const p = { id: attr(pe, 'id'), start: xsDuration(attr(pe, 'start')),
            duration: xsDuration(attr(pe, 'duration')), sets: [] };
        for (const sd of kids(pe, 'ServiceDescription'))
            for (const l of kids(sd, 'Latency'))
                d.latencyTarget = num(attr(l, 'target'));
        const pt = templateAttrs(pe);
        for (const ae of kids(pe, 'AdaptationSet')) {
            const at = { ...(pt || {}), ...(templateAttrs(ae) || {}) };
            const prtEl = kids(ae, 'ProducerReferenceTime')[0];
            const prtUtc = prtEl ? kids(prtEl, 'UTCTiming')[0] : null;
            const as = { id: attr(ae, 'id'), segmentAlignment: attr(ae, 'segmentAlignment'),
                kind: attr(ae, 'contentType') || attr(ae, 'mimeType') || '',
                ato: num(attr(ae, 'availabilityTimeOffset') ?? at.availabilityTimeOffset),
                atc: attr(ae, 'availabilityTimeComplete') ?? at.availabilityTimeComplete ?? null,
                prt: prtEl ? { type: attr(prtEl, 'type'), wallClockTime: attr(prtEl, 'wallClockTime'),
                    presentationTime: num(attr(prtEl, 'presentationTime')),
                    utc: prtUtc ? `${attr(prtUtc, 'schemeIdUri')} ${attr(prtUtc, 'value')}` : null } : null,
                reps: [], segDur: null };
            for (const re of kids(ae, 'Representation')) {
                const t = readTemplate(re, Object.keys(at).length ? at : null);
                const ownT = kids(re, 'SegmentTemplate')[0];
                const repAvail = ['availabilityTimeOffset', 'availabilityTimeComplete']
                    .filter((n) => re.hasAttribute(n) || (ownT && ownT.hasAttribute(n)));
                const r = { id: attr(re, 'id'), template: t,
                    repAvailability: repAvail.length ? repAvail.join(', ') : null,
                    // a side-loaded text track (WebVTT, TTML) may be one
                    // whole file: a Representation with only a BaseURL is
                    // a single segment (ISO 23009-1 5.3.9.2, DASH-IF IOP
                    // 6.4.5); media still needs its addressing
                    hasBaseOrList: kids(re, 'SegmentList').length + kids(re, 'SegmentBase').length > 0 ||
                        (/^text/.test(as.kind) && kids(re, 'BaseURL').length > 0) };
                if (t?.timeline)
                    d.hasTimeline = true;
                if (t && t.timescale) {
                    // the nominal segment duration: @duration, else the
                    // longest S@d
                    const sd = t.duration ? t.duration / t.timescale
                        : t.timeline?.length ? Math.max(...t.timeline.map((s) => s.d)) / t.timescale : null;
                    if (sd && (!as.segDur || sd > as.segDur))
                        as.segDur = sd;
                }
                as.reps.push(r);
            }
            p.sets.push(as);
        }
        d.periods.push(p);
    }
    return d;
}

// One validator per test file (each file runs in its own process).
const shared = new Map();
export function validator(name = 'tests') {
    if (!shared.has(name))
        shared.set(name, new Validator(name));
    return shared.get(name);
}
