// The strict validator (lib/validate.mjs) itself: a conforming LL-HLS
// rendition pair, a multivariant playlist and an LL-DASH MPD pass; each
// fault of issue 11 (and the other checklist rules) written into them is
// caught under its rule name.  Pure: no binaries.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Validator } from './lib/validate.mjs';

const BASE = 'http://127.0.0.1:1/live/s';
const PDT0 = Date.parse('2026-01-01T00:00:00.000Z');

// A live LL-HLS media playlist: `n` segments of 2 s from `msn`, parts of
// PART-TARGET 0.5 listed on the last `withParts` segments, an open segment
// with two parts and a hint.  `edit` rewrites the text.
function media({ msn = 10, n = 6, withParts = 2, td = 2, other = 'audio',
    partDur = 0.5, phb = 1.5, dsn = 0, disc = -1, pdtShift = 0, reportMsn } = {}) {
    const l = ['#EXTM3U', '#EXT-X-VERSION:9', `#EXT-X-TARGETDURATION:${td}`,
        `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${6 * td},` +
        `PART-HOLD-BACK=${phb},HOLD-BACK=${3 * td}`,
        '#EXT-X-PART-INF:PART-TARGET=0.5', `#EXT-X-MEDIA-SEQUENCE:${msn}`,
        `#EXT-X-DISCONTINUITY-SEQUENCE:${dsn}`, '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MAP:URI="init.mp4"'];
    const part = (m, i) => `#EXT-X-PART:DURATION=${i === 0 ? 0.5 : partDur},` +
        `URI="part-${m}.${i}.m4s"${i === 0 ? ',INDEPENDENT=YES' : ''}`;
    for (let i = 0; i < n; i++) {
        const m = msn + i;
        if (m === disc)
            l.push('#EXT-X-DISCONTINUITY');
        l.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(PDT0 + m * 2000 + pdtShift).toISOString()}`);
        if (i >= n - withParts)
            for (let p = 0; p < 4; p++)
                l.push(part(m, p));
        l.push(`#EXTINF:${i >= n - withParts ? 0.5 + 3 * partDur : 2}.000,`, `seg-${m}.m4s`);
    }
    const open = msn + n;
    l.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(PDT0 + open * 2000 + pdtShift).toISOString()}`);
    l.push(part(open, 0), part(open, 1));
    l.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-${open}.2.m4s"`);
    l.push(`#EXT-X-RENDITION-REPORT:URI="../${other}/index.m3u8",LAST-MSN=${reportMsn ?? open},LAST-PART=1`);
    return l.join('\n') + '\n';
}

const MASTER = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="audio",LANGUAGE="und",DEFAULT=YES,URI="audio/index.m3u8"',
    '#EXT-X-STREAM-INF:BANDWIDTH=1100000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.64001f,mp4a.40.2",' +
    'RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="a"', 'video/index.m3u8', ''].join('\n');

function rules(v) {
    return [...new Set(v.failures.map((f) => f.rule))].sort();
}

function check(texts) {
    const v = new Validator('self-test');
    let t = 1000;
    for (const [path, text] of texts) {
        v.checkHls(`${BASE}/${path}`, Buffer.from(text), { start: t, end: t + 1 });
        t += 10;
    }
    return v;
}

describe('lib/validate.mjs: HLS', () => {
    test('a conforming master and rendition pair pass, with hls-parser strict', () => {
        const v = check([['master.m3u8', MASTER],
            ['video/index.m3u8', media({ other: 'audio' })],
            ['audio/index.m3u8', media({ other: 'video' })],
            ['video/index.m3u8', media({ msn: 11, other: 'audio' })]]);
        assert.deepEqual(v.failures, []);
        assert.equal(v.checked.hls, 4);
    });

    test('the faults of issue 11, each under its rule', () => {
        // #2: targets and SERVER-CONTROL differ between renditions
        let v = check([['master.m3u8', MASTER], ['video/index.m3u8', media()],
            ['audio/index.m3u8', media({ td: 3, other: 'video' })]]);
        assert.ok(rules(v).includes('hls.H10.td-same-across-renditions'), rules(v));
        assert.ok(rules(v).includes('hls.H10.server-control-same-across-renditions'));
        // #3: parts kept beyond 3 x TD; PART-HOLD-BACK under 3 x PART-TARGET
        v = check([['video/index.m3u8', media({ withParts: 5, phb: 1.0 })]]);
        assert.ok(rules(v).includes('hls.H5.parts-within-3td'), rules(v));
        assert.ok(rules(v).includes('hls-parser.remove-ext-x-part-tags-from-the-playlist'));
        assert.ok(rules(v).includes('hls.L3.part-hold-back'));
        // #4: parts under 0.85 x PART-TARGET, neither independent nor last
        v = check([['video/index.m3u8', media({ partDur: 0.4 })]]);
        assert.ok(rules(v).includes('hls.L2.part-ge-85pct'), rules(v));
        // a part over PART-TARGET
        v = check([['video/index.m3u8', media({ partDur: 0.52 })]]);
        assert.ok(rules(v).includes('hls.L2.part-le-part-target'), rules(v));
        // #2 again: audio one MSN ahead shows as PDT and report mismatches
        v = check([['master.m3u8', MASTER], ['video/index.m3u8', media()],
            ['audio/index.m3u8', media({ other: 'video', pdtShift: -2000 })]]);
        assert.ok(rules(v).includes('hls.H9.pdt-consistent-across-renditions'), rules(v));
        v = check([['video/index.m3u8', media({ reportMsn: 30 })]]);
        assert.ok(rules(v).includes('hls.L5.report-current'), rules(v));
        // a discontinuity in one rendition only
        v = check([['master.m3u8', MASTER], ['video/index.m3u8', media({ disc: 12, dsn: 0 })],
            ['audio/index.m3u8', media({ other: 'video' })]]);
        assert.ok(rules(v).includes('hls.H10.discontinuity-aligned'), rules(v));
        // a delta update does not list its skipped segments'
        // discontinuities (RFC 8216bis 6.2.5.1): its segments' sequence
        // numbers are not compared, their DISCONTINUITY tags are
        const delta = (text) => text.replace('#EXT-X-MAP:URI="init.mp4"',
            '#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n#EXT-X-MAP:URI="init.mp4"')
            .replace(/(#EXT-X-DISCONTINUITY\n)?#EXT-X-PROGRAM-DATE-TIME:[^\n]*\n#EXTINF:2.000,\nseg-1[0-3].m4s\n/g, '');
        v = check([['master.m3u8', MASTER],
            ['audio/index.m3u8', media({ n: 10, disc: 12, other: 'video' })],
            ['video/index.m3u8?_HLS_skip=YES', delta(media({ n: 10, disc: 12 }))]]);
        assert.ok(!rules(v).includes('hls.H10.discontinuity-aligned'), rules(v));
        v = check([['master.m3u8', MASTER],
            ['audio/index.m3u8', media({ n: 10, disc: 15, other: 'video' })],
            ['video/index.m3u8?_HLS_skip=YES', delta(media({ n: 10, disc: 12 }))]]);
        assert.ok(rules(v).includes('hls.H10.discontinuity-aligned'), rules(v));
    });

    test('rules over a sequence of fetches of one URL', () => {
        let v = check([['video/index.m3u8', media({ msn: 11 })],
            ['video/index.m3u8', media({ msn: 10 })]]);
        assert.ok(rules(v).includes('hls.H2.media-sequence-monotonic'), rules(v));
        v = check([['video/index.m3u8', media()], ['video/index.m3u8', media({ td: 3 })]]);
        assert.ok(rules(v).includes('hls.H1.td-unchanged'), rules(v));
        // the hinted part must be the next one listed
        const next = media({ msn: 10 }).replace('part-16.1.m4s"', 'part-16.1.m4s"\n' +
            '#EXT-X-PART:DURATION=0.5,URI="part-16.9.m4s"');
        v = check([['video/index.m3u8', media()], ['video/index.m3u8', next]]);
        assert.ok(rules(v).includes('hls.L4.hint-is-next-part'), rules(v));
    });

    test('one-playlist rules: TD, EXTINF, hints, delta updates, blocking reloads', () => {
        let v = check([['video/index.m3u8', media().replace('#EXTINF:2.000,\nseg-10', '#EXTINF:2.600,\nseg-10')]]);
        assert.ok(rules(v).includes('hls.H1.extinf-le-td'), rules(v));
        v = check([['video/index.m3u8', media() + '#EXT-X-ENDLIST\n']]);
        assert.ok(rules(v).includes('hls.L4.no-hint-after-endlist'), rules(v));
        // an unasked skip; a skip boundary too close to the end
        const skipped = media().replace('#EXT-X-MAP:URI="init.mp4"',
            '#EXT-X-MAP:URI="init.mp4"\n#EXT-X-SKIP:SKIPPED-SEGMENTS=4')
            .replace(/#EXT-X-PROGRAM-DATE-TIME:[^\n]*\n#EXTINF:2.000,\nseg-1[0-3].m4s\n/g, '');
        v = check([['video/index.m3u8', skipped]]);
        assert.ok(rules(v).includes('hls.Q7.skip-only-when-asked'), rules(v));
        assert.ok(rules(v).includes('hls.L6.skip-boundary'), rules(v));
        // a blocking reload answered before the part it asked for
        v = check([['video/index.m3u8?_HLS_msn=16&_HLS_part=3', media()]]);
        assert.ok(rules(v).includes('hls.Q1.blocking-reload-satisfied'), rules(v));
        v = check([['video/index.m3u8?_HLS_msn=16&_HLS_part=1', media()]]);
        assert.deepEqual(rules(v), []);
    });

    test('multivariant: BANDWIDTH >= AVERAGE-BANDWIDTH and required attributes', () => {
        const v = check([['master.m3u8', MASTER.replace('BANDWIDTH=1100000', 'BANDWIDTH=900000')
            .replace(',FRAME-RATE=30.000', '')]]);
        assert.ok(rules(v).includes('hls.M1.bandwidth-ge-average'), rules(v));
        assert.ok(rules(v).includes('hls.M1.frame-rate'), rules(v));
    });

    // H12: key tags (RFC 8216bis 4.4.4.4, 4.4.6.5)
    test('encryption: EXT-X-KEY and EXT-X-SESSION-KEY rules', () => {
        const KEY = 'METHOD=SAMPLE-AES-CTR,URI="data:text/plain;base64,ASNFZ4mrze8BI0VniavN7w==",' +
            'KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"';
        const master = MASTER.replace('#EXT-X-INDEPENDENT-SEGMENTS',
            `#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-SESSION-KEY:${KEY}`);
        const vod = (key) => ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2',
            '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-INDEPENDENT-SEGMENTS', `#EXT-X-KEY:${key}`,
            '#EXT-X-MAP:URI="init.mp4"', '#EXTINF:2.000,', 'seg-1.m4s', '#EXT-X-ENDLIST', ''].join('\n');
        const good = check([['master.m3u8', master], ['video/index.m3u8', vod(KEY)]]);
        assert.deepEqual(good.failures, []);
        const v = check([['master.m3u8', master.replace(',KEYFORMATVERSIONS="1"', '')],
            ['video/index.m3u8', vod(KEY.replace('SAMPLE-AES-CTR', 'SAMPLE-AES'))]]);
        assert.ok(rules(v).includes('hls.H12.session-key-matches'), rules(v));
        const w = check([['master.m3u8', master.replace('SAMPLE-AES-CTR', 'NONE')],
            ['video/index.m3u8', vod('METHOD=AES-129,IV=0x0')],
            ['audio/index.m3u8', vod('METHOD=SAMPLE-AES').replace('VERSION:7', 'VERSION:4')
                .replace('#EXT-X-MAP', `#EXT-X-SESSION-KEY:${KEY}\n#EXT-X-MAP`)]]);
        for (const r of ['hls.H12.session-key-method', 'hls.H12.key-none-alone',
            'hls.H12.key-method', 'hls.H12.key-uri', 'hls.H12.session-key-in-master',
            'hls.H6.version'])
            assert.ok(rules(w).includes(r), `${r}: ${rules(w)}`);
    });

    // H13: the key tag agrees with init.mp4's scheme (on disk)
    test('encryption: EXT-X-KEY METHOD matches the init segment\'s schm', () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cirrus-validate-'));
        try {
            const box = (type, body) => {
                const b = Buffer.alloc(8 + body.length);
                b.writeUInt32BE(b.length);
                b.write(type, 4, 'latin1');
                body.copy(b, 8);
                return b;
            };
            const schm = (s) => box('schm', Buffer.concat([Buffer.alloc(4),
                Buffer.from(s, 'latin1'), Buffer.from([0, 1, 0, 0])]));
            const playlist = (key) => ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2',
                '#EXT-X-PLAYLIST-TYPE:VOD', ...(key ? [`#EXT-X-KEY:METHOD=${key},URI="data:,k"`] : []),
                '#EXT-X-MAP:URI="init.mp4"', '#EXTINF:2.000,', 'seg-1.m4s', '#EXT-X-ENDLIST', ''].join('\n');
            const run = (init, key) => {
                fs.writeFileSync(path.join(dir, 'init.mp4'), init);
                fs.writeFileSync(path.join(dir, 'seg-1.m4s'), '');
                fs.writeFileSync(path.join(dir, 'index.m3u8'), playlist(key));
                const v = new Validator('self-test');
                v.checkDir(dir);
                return rules(v);
            };
            assert.deepEqual(run(schm('cenc'), 'SAMPLE-AES-CTR'), []);
            assert.deepEqual(run(schm('cbcs'), 'SAMPLE-AES'), []);
            assert.deepEqual(run(box('free', Buffer.alloc(0)), null), []);
            assert.ok(run(schm('cbcs'), 'SAMPLE-AES-CTR').includes('hls.H13.key-scheme'));
            assert.ok(run(schm('cenc'), null).includes('hls.H13.key-scheme'));
            assert.ok(run(box('free', Buffer.alloc(0)), 'SAMPLE-AES').includes('hls.H13.key-scheme'));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

const MPD = (ast, { ato = '1.500', t = 0, n = 5, prtWall } = {}) => `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011"
  type="dynamic" availabilityStartTime="${ast}" publishTime="${ast}"
  minimumUpdatePeriod="PT0.500S" timeShiftBufferDepth="PT30S" minBufferTime="PT1S">
  <ServiceDescription id="0"><Latency target="3000"/></ServiceDescription>
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <ProducerReferenceTime id="0" type="encoder" wallClockTime="${prtWall || ast}" presentationTime="0">
        <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="http://127.0.0.1:1/time"/>
      </ProducerReferenceTime>
      <SegmentTemplate availabilityTimeOffset="${ato}" availabilityTimeComplete="false"/>
      <Representation id="video" bandwidth="1000000" codecs="avc1.64001f" width="640" height="360">
        <SegmentTemplate timescale="1000" initialization="$RepresentationID$/init.mp4"
          media="$RepresentationID$/seg-$Number$.m4s" startNumber="1">
          <SegmentTimeline><S t="${t}" d="2000" r="${n - 1}"/></SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="http://127.0.0.1:1/time"/>
</MPD>
`;

describe('lib/validate.mjs: DASH', () => {
    test('a conforming LL-DASH MPD passes mpd-parser, xmllint and D1-D6', () => {
        const now = Date.now();
        const ast = new Date(now - 10000).toISOString();
        const v = new Validator('self-test');
        v.checkMpd(`${BASE}/manifest.mpd`, MPD(ast), { start: now, end: now });
        v.checkMpd(`${BASE}/manifest.mpd`, MPD(ast, { n: 6 }), { start: now + 2000, end: now + 2000 });
        assert.deepEqual(v.failures, []);
    });

    test('an open-ended S (r="-1") only last in a live timeline; it lists no segment', () => {
        const now = Date.now();
        const ast = new Date(now - 10000).toISOString();
        const open = (text) => text.replace(/(<S [^>]*\/>)/, '$1<S d="2000" r="-1"/>');
        const v = new Validator('self-test');
        v.checkMpd(`${BASE}/manifest.mpd`, open(MPD(ast)), { start: now, end: now });
        v.checkMpd(`${BASE}/manifest.mpd`, open(MPD(ast, { n: 6 })), { start: now + 2000, end: now + 2000 });
        assert.deepEqual(v.failures, []);
        // the promise does not count as media: 6 s on, the timeline is behind
        v.checkMpd(`${BASE}/manifest.mpd`, open(MPD(ast, { n: 7 })), { start: now + 8000, end: now + 8000 });
        assert.ok(rules(v).includes('dash.D4.timeline-follows-wall-clock'), rules(v));
        const x = new Validator('self-test');
        x.checkMpd(`${BASE}/static.mpd`, open(MPD(ast)).replace('type="dynamic"', 'type="static"'),
            { start: now, end: now });
        assert.ok(rules(x).includes('dash.D5.open-ended-S'), rules(x));
        const y = new Validator('self-test');
        y.checkMpd(`${BASE}/middle.mpd`, MPD(ast).replace(/(<S [^>]*\/>)/, '<S t="0" d="2000" r="-1"/><S d="2000"/>'),
            { start: now, end: now });
        assert.ok(rules(y).includes('dash.D5.open-ended-S'), rules(y));
    });

    test('D4 follows the newest Period: one that ended may be seen closed late', () => {
        const now = Date.now();
        const ast = new Date(now - 10000).toISOString();
        // Period 0 open at 10 s; 8 s later it ended at 12 s and Period 1
        // (a new key: its own init) runs to the wall clock
        const two = (nextEnd) => MPD(ast, { n: 6 }).replace('</Period>\n', (p) => p +
            MPD(ast, { n: nextEnd, prtWall: new Date(now + 2000).toISOString() })
                .match(/  <Period[\s\S]*?<\/Period>\n/)[0]
                .replace('id="0" start="PT0S"', 'id="1" start="PT12S"'));
        const v = new Validator('self-test');
        v.checkMpd(`${BASE}/manifest.mpd`, MPD(ast), { start: now, end: now });
        v.checkMpd(`${BASE}/manifest.mpd`, two(3), { start: now + 8000, end: now + 8000 });
        assert.deepEqual(rules(v), []);
        // the newest Period behind the clock still fails
        v.checkMpd(`${BASE}/manifest.mpd`, two(4), { start: now + 16000, end: now + 16000 });
        assert.ok(rules(v).includes('dash.D4.timeline-follows-wall-clock'), rules(v));
    });

    test('faults: ATO range, a moved availabilityStartTime, a timeline behind the clock', () => {
        const now = Date.now();
        const ast = new Date(now - 10000).toISOString();
        const v = new Validator('self-test');
        v.checkMpd(`${BASE}/manifest.mpd`, MPD(ast, { ato: '2.500' }), { start: now, end: now });
        assert.ok(rules(v).includes('dash.D6.ato-range'), rules(v));
        v.failures.length = 0;
        // after a 6 s outage: the timeline goes on where it was
        v.checkMpd(`${BASE}/manifest.mpd`, MPD(ast, { n: 6 }), { start: now + 8000, end: now + 8000 });
        assert.ok(rules(v).includes('dash.D4.timeline-follows-wall-clock'), rules(v));
        v.checkMpd(`${BASE}/manifest.mpd`, MPD(new Date(now).toISOString(), { n: 6 }),
            { start: now + 9000, end: now + 9000 });
        assert.ok(rules(v).includes('dash.D1.ast-unchanged'), rules(v));
        // a Period that lists only the short segment before a
        // discontinuity: ATO is for the nominal segment duration
        const two = (text) => {
            const per = /  <Period[\s\S]*<\/Period>\n/.exec(text)[0];
            const short = per.replace(/<S [^>]*\/>/, '<S t="0" d="500"/>');
            const next = per.replace('id="0" start="PT0S"', 'id="1" start="PT6S"');
            return text.replace(per, short + next);
        };
        const x = new Validator('self-test');
        x.checkMpd(`${BASE}/manifest.mpd`, two(MPD(ast)), { start: now, end: now });
        assert.ok(!rules(x).includes('dash.D6.ato-range'), rules(x));
        x.checkMpd(`${BASE}/short.mpd`, MPD(ast).replace(/<S [^>]*\/>/, '<S t="0" d="500"/>'),
            { start: now, end: now });
        assert.ok(rules(x).includes('dash.D6.ato-range'), rules(x));
        const w = new Validator('self-test');
        w.checkMpd(`${BASE}/manifest.mpd`, MPD(ast, { prtWall: new Date(now).toISOString() }));
        assert.ok(rules(w).includes('dash.D6.prt-matches-timeline'), rules(w));
        w.checkMpd(`${BASE}/bad.mpd`, '<MPD><Period>');
        assert.ok(rules(w).includes('dash.xmllint'), rules(w));
    });
});

describe('lib/validate.mjs: DASH encryption', () => {
    // D7: ContentProtection
    const VOD = (cp, { ns = ' xmlns:cenc="urn:mpeg:cenc:2013"', role = '' } = {}) =>
        `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"${ns} profiles="urn:mpeg:dash:profile:isoff-live:2011"
  type="static" mediaPresentationDuration="PT2S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="audio" mimeType="audio/mp4" segmentAlignment="true" lang="en">
${role}${cp}
      <Representation id="audio" bandwidth="128000" codecs="mp4a.40.2" audioSamplingRate="48000">
        <SegmentTemplate timescale="48000" initialization="$RepresentationID$/init.mp4"
          media="$RepresentationID$/seg-$Number$.m4s" startNumber="1">
          <SegmentTimeline><S t="0" d="96000"/></SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
`;
    const MP4 = (value, kid) => `      <ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="${value}"` +
        (kid ? ` cenc:default_KID="${kid}"/>` : '/>');
    const CK = '      <ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0"/>';
    const KID = '01234567-89ab-cdef-0123-456789abcdef';
    const ROLE = '      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>\n';
    const run = (xml) => {
        const v = new Validator('self-test');
        v.checkMpd(`${BASE}/vod.mpd`, xml);
        return rules(v);
    };

    test('mp4protection with cenc:default_KID and ClearKey pass', () => {
        assert.deepEqual(run(VOD(`${MP4('cenc', KID)}\n${CK}`)), []);
        assert.deepEqual(run(VOD(MP4('cbcs', KID))), []);
    });

    test('faults: value, KID, namespace, order, system ID', () => {
        assert.ok(run(VOD(MP4('aes', KID))).includes('dash.D7.mp4protection-value'));
        assert.ok(run(VOD(MP4('cenc', null))).includes('dash.D7.default-kid'));
        assert.ok(run(VOD(MP4('cenc', '0123456789abcdef0123456789abcdef'))).includes('dash.D7.default-kid'));
        assert.ok(run(VOD(`${MP4('cenc', KID)}\n${MP4('cenc', KID.replace('01234567', '11111111'))}`))
            .includes('dash.D7.default-kid'));
        // the KID outside the cenc namespace (and xmllint: an unbound prefix)
        const r = run(VOD(MP4('cenc', KID), { ns: '' }));
        assert.ok(r.includes('dash.D7.default-kid') || r.includes('dash.xmllint'), r);
        assert.ok(run(VOD(MP4('cenc', KID), { role: ROLE })).includes('dash.D7.content-protection-order'));
        assert.ok(run(VOD(CK.replace('urn:uuid:e2719d58', 'urn:uuid:nothex00'))).includes('dash.D7.system-id'));
    });
});
