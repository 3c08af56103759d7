// Sidecar subtitles (the job's "subtitles", cirrus-transcode --subtitles):
// the 6 s 720p sample with 2 s segments, an SRT (captions, default) and a
// WebVTT file (subtitles).  On disk: per rendition the segmented WebVTT
// (a cue across a segment boundary in both segments, X-TIMESTAMP-MAP,
// escaping, the cue past the media's end cut there), its media playlist and
// the whole file for DASH; the master's EXT-X-MEDIA TYPE=SUBTITLES and
// SUBTITLES on every variant; the MPD's text AdaptationSets; the strict
// validators pass.  In Chromium through the shipped nginx: hls.js lists
// both tracks and puts the SRT's cues on the video's timeline (startTime
// within 0.1 s of the file's); dash.js lists both text tracks.
// TTML (IMSC1: clock, frame and tick times, styles) and SCC (drop-frame
// time codes at 29.97) sidecars become renditions with their exact cue
// times in the segmented WebVTT; the validators pass; hls.js shows them.
// The input's own text tracks (WebVTT and ASS in Matroska, mov_text in MP4)
// become renditions too, after the sidecars, with their tags and
// dispositions.  Bad subtitle input fails the job with an error naming the
// entry; a
// cirrus-worker job document carries the field to the transcode, and a bad
// one is parked with its reason.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { nginxAvailable, openToWorkers, startShippedNginx } from
    './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const SAMPLE = 'h264_720p2997.mp4';
const SUBS_DIR = path.join(C.SOURCE_DIR, 'samples', 'subtitles');
const SRT = path.join(SUBS_DIR, 'sample.en.srt');
const VTT = path.join(SUBS_DIR, 'sample.fr.vtt');
const V = validator('subtitles');

let presets, job, vdir;

// mobile's two smallest rungs with 2 s segments: three segments in 6 s
function writePreset() {
    const dir = C.tmpDir('subs-presets-');
    const p = C.loadPreset('mobile');
    p.name = 'subs';
    p.segment_seconds = 2;
    p.video.rungs = p.video.rungs.slice(-2);
    p.thumbnails.enabled = false;
    fs.writeFileSync(path.join(dir, 'subs.json'), JSON.stringify(p));
    return dir;
}

function transcodeWith(subtitles, output) {
    return C.transcode({ input: C.sample(SAMPLE), output, preset: 'subs',
        args: ['--subtitles', JSON.stringify(subtitles)],
        env: { CIRRUS_PRESETS_DIR: presets } });
}

const SUBTITLES = [
    { uri: SRT, language: 'en', name: 'English CC', kind: 'captions',
        default: true },
    { uri: `file://${VTT}`, language: 'fr', name: 'Français' },
];

before(async () => {
    presets = writePreset();
    const out = path.join(C.tmpDir('subs-'), 'asset');
    const r = await transcodeWith(SUBTITLES, out);
    assert.equal(r.code, 0, C.describe(r));
    job = { dir: out, result: r.result, stderr: r.stderr };
    vdir = C.versionDir(out);
});

const read = (rel) => fs.readFileSync(path.join(vdir, rel), 'utf8');

describe('files', () => {
    test('segmented WebVTT follows the video segments', () => {
        const video = C.parseMedia(read('360p/index.m3u8'));
        const subs = C.parseMedia(read('subs-en/index.m3u8'));
        assert.ok(video.segments.length >= 3, 'three video segments');
        assert.deepEqual(subs.segments.map((s) => s.duration),
            video.segments.map((s) => s.duration), 'same EXTINF durations');
        assert.deepEqual(subs.segments.map((s) => s.uri),
            video.segments.map((_, i) => `seg-${i + 1}.vtt`));
        assert.ok(!/EXT-X-MAP/.test(read('subs-en/index.m3u8')), 'no init');
    });

    test('X-TIMESTAMP-MAP on the CMAF timeline in every segment', () => {
        for (let i = 1; fs.existsSync(path.join(vdir, `subs-en/seg-${i}.vtt`)); i++) {
            const t = read(`subs-en/seg-${i}.vtt`);
            assert.match(t, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00\.000\n\n/);
        }
    });

    test('a cue across a segment boundary is in both segments', () => {
        const cue = '00:00:01.500 --> 00:00:02.600\n<i>Across the boundary</i>';
        assert.ok(read('subs-en/seg-1.vtt').includes(cue), read('subs-en/seg-1.vtt'));
        assert.ok(read('subs-en/seg-2.vtt').includes(cue), read('subs-en/seg-2.vtt'));
        assert.ok(!read('subs-en/seg-3.vtt').includes('boundary'));
        assert.ok(read('subs-en/seg-2.vtt').includes('Third cue\non two lines'));
    });

    test('text is escaped, WebVTT markup kept', () => {
        assert.ok(read('subs-en/full.vtt').includes('Tom &amp; Jerry: 1 &lt; 2'));
        assert.ok(read('subs-fr/full.vtt').includes('<b>Bonjour</b> &amp; bienvenue'));
        assert.ok(read('subs-fr/full.vtt').includes('Troisième réplique'));
    });

    test('a cue past the media end is cut there, and logged', () => {
        const cues = C.parseVtt(read('subs-en/full.vtt'));
        const last = cues[cues.length - 1];
        assert.equal(last.start, 5.5);
        assert.ok(Math.abs(last.end - job.result.duration) < 0.002,
            `${last.end} vs ${job.result.duration}`);
        assert.match(job.stderr, /subtitles\[0\].*1 cut at its end/);
    });

    test('master: EXT-X-MEDIA TYPE=SUBTITLES and SUBTITLES on each variant', () => {
        const m = C.parseMaster(fs.readFileSync(path.join(job.dir, 'master.m3u8'),
            'utf8'));
        const subs = m.media.filter((x) => x.TYPE === 'SUBTITLES');
        assert.equal(subs.length, 2);
        const en = subs.find((x) => x.LANGUAGE === 'en');
        assert.equal(en['GROUP-ID'], 'subs');
        assert.equal(en.NAME, 'English CC');
        assert.equal(en.DEFAULT, 'YES');
        assert.equal(en.FORCED, 'NO');
        assert.match(en.CHARACTERISTICS, /transcribes-spoken-dialog/);
        assert.ok(en.URI.endsWith('subs-en/index.m3u8'));
        const fr = subs.find((x) => x.LANGUAGE === 'fr');
        assert.equal(fr.DEFAULT, 'NO');
        assert.equal(fr.CHARACTERISTICS, undefined);
        assert.ok(m.variants.length >= 2);
        for (const v of m.variants)
            assert.equal(v.attrs.SUBTITLES, 'subs');
    });

    test('MPD: one text AdaptationSet per language, dash.js form', () => {
        const mpd = fs.readFileSync(path.join(job.dir, 'manifest.mpd'), 'utf8');
        const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="text"[\s\S]*?<\/AdaptationSet>/g)]
            .map((x) => x[0]);
        assert.equal(sets.length, 2);
        assert.match(sets[0], /mimeType="text\/vtt" lang="en"/);
        assert.match(sets[0], /<Role schemeIdUri="urn:mpeg:dash:role:2011" value="caption"\/>/);
        assert.match(sets[0], /<BaseURL>subs-en\/full\.vtt<\/BaseURL>/);
        assert.match(sets[1], /value="subtitle"/);
    });

    test('the strict validators pass', async () => {
        assert.ok(V.checkDir(job.dir) >= 4, 'playlists and MPDs found');
        await V.assertClean();
    });
});

describe('bad subtitle input', () => {
    const cases = [
        ['a missing file', [{ uri: '/nonexistent/x.srt', language: 'en' }],
            /subtitles\[0\] \(\/nonexistent\/x\.srt\): input does not exist/],
        ['an empty file', 'EMPTY', /subtitles\[0\] .*not a subtitle file|no cue/],
        ['not UTF-8', 'LATIN1', /not UTF-8 text: give the file's "encoding"/],
        ['a bad language', [{ uri: SRT, language: 'english language' }],
            /subtitles\[0\]\.language: "english language" is not a BCP 47 tag/],
        ['an unknown kind', [{ uri: SRT, language: 'en', kind: 'karaoke' }],
            /subtitles\[0\]\.kind: expected "subtitles", "captions" or "forced"/],
        ['malformed TTML', 'BADTTML',
            /subtitles\[0\] \(.*bad\.ttml\): TTML: not well-formed XML: line 2: /],
        ['TTML whose every cue is dropped', 'NOBEGIN',
            /subtitles\[0\] \(.*nob\.dfxp\): no cue in the file/],
    ];
    for (const [what, subs, want] of cases) {
        test(what, async () => {
            const dir = C.tmpDir('subs-bad-');
            let list = subs;
            if (subs === 'EMPTY') {
                fs.writeFileSync(path.join(dir, 'e.srt'), '');
                list = [{ uri: path.join(dir, 'e.srt'), language: 'en' }];
            } else if (subs === 'BADTTML') {
                fs.writeFileSync(path.join(dir, 'bad.ttml'),
                    '<tt><body>\n<p begin="1s">x</div></body></tt>');
                list = [{ uri: path.join(dir, 'bad.ttml'), language: 'en' }];
            } else if (subs === 'NOBEGIN') {
                fs.writeFileSync(path.join(dir, 'nob.dfxp'),
                    '<tt><body><p>x</p><p begin="3s" end="2s">y</p></body></tt>');
                list = [{ uri: path.join(dir, 'nob.dfxp'), language: 'en' }];
            } else if (subs === 'LATIN1') {
                fs.writeFileSync(path.join(dir, 'l.srt'), Buffer.from(
                    '1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me\n\n', 'latin1'));
                list = [{ uri: path.join(dir, 'l.srt'), language: 'fr' }];
            }
            const r = await transcodeWith(list, path.join(dir, 'out'));
            assert.notEqual(r.code, 0, C.describe(r));
            assert.match(r.result.error, want);
            assert.ok(!fs.existsSync(path.join(dir, 'out', 'master.m3u8')),
                'nothing published');
        });
    }

    test('not UTF-8 with its encoding given is read', async () => {
        const dir = C.tmpDir('subs-enc-');
        fs.writeFileSync(path.join(dir, 'l.srt'), Buffer.from(
            '1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me\n\n', 'latin1'));
        const out = path.join(dir, 'out');
        const r = await transcodeWith([{ uri: path.join(dir, 'l.srt'),
            language: 'fr', encoding: 'ISO-8859-1' }], out);
        assert.equal(r.code, 0, C.describe(r));
        assert.ok(fs.readFileSync(path.join(C.versionDir(out), 'subs-fr/full.vtt'),
            'utf8').includes('Café crème'));
    });
});

const missing = B.browserAvailable() ||
    (nginxAvailable() ? null : 'nginx module not built');

describe('players', { skip: missing || false }, () => {
    let ng, browser;

    before(async () => {
        openToWorkers(job.dir);
        const vodRoot = C.tmpDir('vod-');
        fs.symlinkSync(job.dir, path.join(vodRoot, 'subs'));
        ng = await startShippedNginx('sample', { vodRoot });
        browser = await B.launch();
    });

    after(async () => {
        await browser?.close();
        await ng?.stop();
    });

    async function open(engine, manifest) {
        const page = await browser.context.newPage();
        V.watchPage(page);
        await page.goto(`${ng.base}/player.html?engine=${engine}&src=/vod/subs/${manifest}`,
            { waitUntil: 'load' });
        return page;
    }

    test('hls.js lists the subtitle tracks and shows the cues on time', async () => {
        const page = await open('hls', 'master.m3u8');
        try {
            await C.waitFor('hls.js subtitle tracks', () => page.evaluate(() =>
                window.hls && window.hls.subtitleTracks.length === 2), { timeoutMs: 30000 });
            const tracks = await page.evaluate(() => window.hls.subtitleTracks
                .map((t) => ({ lang: t.lang, name: t.name, default: t.default })));
            assert.deepEqual(tracks.map((t) => t.lang), ['en', 'fr']);
            assert.equal(tracks[0].default, true);
            await page.evaluate(() => { window.hls.subtitleTrack = 0; });
            // every segment's cues, the third one's too
            const cues = await C.waitFor('cues of the en track', () => page.evaluate(() => {
                const v = document.querySelector('video');
                for (const t of v.textTracks) {
                    if (t.language === 'en' && t.cues && t.cues.length >= 4) {
                        return [...t.cues].map((c) => ({ start: c.startTime,
                            end: c.endTime, text: c.text }));
                    }
                }
                return null;
            }), { timeoutMs: 40000 });
            // VTTCue.text is the payload as written (entities decoded
            // only when rendered)
            const want = [[0.5, 'Tom &amp; Jerry: 1 &lt; 2'], [1.5, 'Across the boundary'],
                [3.2, 'Third cue\non two lines'], [5.5, 'Past the end of the media']];
            for (const [start, text] of want) {
                const c = cues.find((x) => x.text.replace(/<\/?i>/g, '') === text);
                assert.ok(c, `cue "${text}" in ${JSON.stringify(cues)}`);
                assert.ok(Math.abs(c.start - start) <= 0.1,
                    `"${text}" at ${c.start}, want ${start} ±0.1`);
            }
            assert.equal(cues.filter((x) => /boundary/.test(x.text)).length, 1,
                'the repeated cue is shown once');
        } finally {
            await page.close();
        }
    });

    test('dash.js lists the text tracks', async () => {
        const page = await open('dash', 'manifest.mpd');
        try {
            const langs = await C.waitFor('dash.js text tracks', () => page.evaluate(() => {
                const p = window.dashPlayer;
                if (!p || !p.isReady())
                    return null;
                const t = p.getTracksFor('text');
                return t.length === 2 ? t.map((x) => x.lang) : null;
            }), { timeoutMs: 30000 });
            assert.deepEqual(langs.sort(), ['en', 'fr']);
        } finally {
            await page.close();
        }
        await V.assertClean();
    });
});

describe('cirrus-worker job documents', () => {
    let child;
    after(() => child?.kill('SIGKILL'));

    test('subtitles reach the transcode; a bad entry is parked', async () => {
        const work = C.tmpDir('subs-worker-');
        const spool = path.join(work, 'spool'), out = path.join(work, 'out');
        const inc = path.join(spool, 'incoming');
        fs.mkdirSync(inc, { recursive: true });
        const drop = (name, doc) => {
            fs.writeFileSync(path.join(inc, `.tmp-${name}`), JSON.stringify(doc));
            fs.renameSync(path.join(inc, `.tmp-${name}`), path.join(inc, name));
        };
        const args = [];
        for (const [k, v] of Object.entries({ spool_dir: spool,
            out_root: `file://${out}`, workers: 1, default_preset: 'subs',
            presets_dir: presets, settle_seconds: 0.3, metrics_port: -1 }))
            args.push('--set', `${k}=${v}`);
        child = spawn(path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker'), args,
            { stdio: ['ignore', 'pipe', 'pipe'] });
        let log = '';
        child.stdout.on('data', (d) => (log += d));
        child.stderr.on('data', (d) => (log += d));
        drop('with-subs.json', { input: C.sample(SAMPLE), only: 'hls,dash',
            output: `file://${path.join(out, 'with-subs')}`,
            subtitles: [{ uri: SRT, language: 'en', kind: 'forced' }] });
        drop('bad-subs.json', { input: C.sample(SAMPLE),
            subtitles: [{ uri: SRT, language: 'en', default: 'yes' }] });
        const detail = () => `worker log:\n${log.slice(-3000)}`;
        await C.waitFor('the job', () => C.readJson(
            path.join(out, 'with-subs.job.json'))?.state === 'done',
        { timeoutMs: 120000, detail });
        const asset = path.join(out, 'with-subs');
        const master = fs.readFileSync(path.join(asset, 'master.m3u8'), 'utf8');
        assert.match(master, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=YES,URI=/);
        assert.ok(fs.existsSync(path.join(C.versionDir(asset), 'subs-en', 'seg-1.vtt')));
        assert.match(fs.readFileSync(path.join(asset, 'manifest.mpd'), 'utf8'),
            /value="forced-subtitle"/);
        const bad = await C.waitFor('the bad job parked', () => C.readJson(
            path.join(spool, 'failed', 'bad-subs.json.error.json')),
        { timeoutMs: 30000, detail });
        assert.equal(bad.permanent, true);
        assert.match(bad.error.error, /subtitles\[0\]\.default: expected true or false/);
        child.kill('SIGTERM');
    });
});

describe("the input's own text tracks", () => {
    const ASS = `[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, Bold, Italic
Style: Default,Arial,20,&H00FFFFFF,0,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:02.00,0:00:03.50,Default,,0,0,0,,{\\i1}Achtung{\\i0} & Vorsicht
`;
    const ffmpeg = (args) => C.run('ffmpeg', ['-hide_banner', '-loglevel',
        'error', '-y', ...args]);

    test('Matroska: WebVTT and ASS tracks after a sidecar', async () => {
        const dir = C.tmpDir('subs-mkv-');
        fs.writeFileSync(path.join(dir, 'de.ass'), ASS);
        const mkv = path.join(dir, 'in.mkv');
        const made = await ffmpeg(['-i', C.sample(SAMPLE), '-i', VTT, '-i',
            path.join(dir, 'de.ass'), '-map', '0', '-map', '1', '-map', '2',
            '-c:v', 'copy', '-c:a', 'copy', '-c:s:0', 'webvtt', '-c:s:1', 'ass',
            '-metadata:s:s:0', 'language=fre', '-metadata:s:s:1', 'language=ger',
            '-metadata:s:s:1', 'title=Deutsch (forced)', '-disposition:s:0',
            'default', '-disposition:s:1', 'forced', mkv]);
        assert.equal(made.code, 0, made.stderr);
        // where the file has the cue (ffmpeg moved it with the video's
        // start), less the file's start: the asset's timeline
        const start = Number(C.ffprobe(mkv).format.start_time);
        const assAt = Number(C.ffprobe(mkv, ['-select_streams', 's:1',
            '-show_packets']).packets[0].pts_time) - start;
        const out = path.join(dir, 'out');
        const r = await C.transcode({ input: mkv, output: out, preset: 'subs',
            args: ['--subtitles', JSON.stringify([{ uri: SRT, language: 'fre' }])],
            env: { CIRRUS_PRESETS_DIR: presets } });
        assert.equal(r.code, 0, C.describe(r));
        const m = C.parseMaster(fs.readFileSync(path.join(out, 'master.m3u8'), 'utf8'));
        const subs = m.media.filter((x) => x.TYPE === 'SUBTITLES');
        assert.deepEqual(subs.map((x) => [x.LANGUAGE, x.NAME, x.DEFAULT, x.FORCED,
            x.URI.replace(/^.*\/(subs-[^/]+)\/index\.m3u8$/, '$1')]), [
            ['fre', 'fre', 'NO', 'NO', 'subs-fre'],
            ['fre', 'fre (2)', 'YES', 'NO', 'subs-fre-2'],
            ['ger', 'Deutsch (forced)', 'NO', 'YES', 'subs-ger'],
        ]);
        const v = C.versionDir(out);
        const ger = C.parseVtt(fs.readFileSync(path.join(v, 'subs-ger', 'full.vtt'), 'utf8'));
        assert.equal(ger.length, 1);
        assert.equal(ger[0].text, '<i>Achtung</i> &amp; Vorsicht');
        // on the asset's timeline: the input's start is its 0
        assert.ok(Math.abs(ger[0].start - assAt) < 0.002,
            `${ger[0].start} vs ${assAt}`);
        assert.ok(Math.abs(ger[0].end - ger[0].start - 1.5) < 0.002);
        const fre = fs.readFileSync(path.join(v, 'subs-fre-2', 'seg-1.vtt'), 'utf8');
        assert.match(fre, /<b>Bonjour<\/b> &amp; bienvenue/);
        assert.match(r.stderr, /the input's subtitle stream #3 \(ass, ger\): 1 cues/);
        assert.ok(V.checkDir(out) >= 4);
        await V.assertClean();
    });

    test('MP4: a mov_text track', async () => {
        const dir = C.tmpDir('subs-mp4-');
        const mp4 = path.join(dir, 'in.mp4');
        const made = await ffmpeg(['-i', C.sample(SAMPLE), '-i', SRT, '-map', '0',
            '-map', '1', '-c:v', 'copy', '-c:a', 'copy', '-c:s', 'mov_text',
            '-metadata:s:s:0', 'language=spa', mp4]);
        assert.equal(made.code, 0, made.stderr);
        const out = path.join(dir, 'out');
        const r = await C.transcode({ input: mp4, output: out, preset: 'subs',
            env: { CIRRUS_PRESETS_DIR: presets } });
        assert.equal(r.code, 0, C.describe(r));
        const v = C.versionDir(out);
        const seg2 = fs.readFileSync(path.join(v, 'subs-spa', 'seg-2.vtt'), 'utf8');
        assert.match(seg2, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00\.000\n/);
        assert.match(seg2, /00:00:01\.500 --> 00:00:02\.600\n<i>Across the boundary<\/i>/);
        assert.match(fs.readFileSync(path.join(out, 'master.m3u8'), 'utf8'),
            /TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="spa"/);
        assert.match(fs.readFileSync(path.join(out, 'manifest.mpd'), 'utf8'),
            /contentType="text" mimeType="text\/vtt" lang="spa"/);
    });
});

// CEA-608 pop-on captions with drop-frame time codes: 00:00:02;15 is frame
// 75, 2.5025 s (FFmpeg's demuxer alone would say 2.495 s)
const SCC = `Scenarist_SCC V1.0

00:00:01;00\t9420 9420 94ae 94ae 9452 9452 c8e5 ecec ef80 942f 942f

00:00:02;15\t942c 942c

00:00:04;00\t9420 9420 94ae 94ae 9452 9452 57ef f2ec 6480 942f 942f

00:00:05;00\t942c 942c

`;

describe('TTML and SCC sidecars', () => {
    let dir, out, v, r;
    const TTML = path.join(SUBS_DIR, 'sample.de.ttml');

    before(async () => {
        dir = C.tmpDir('subs-ttml-');
        fs.writeFileSync(path.join(dir, 'cc.scc'), SCC);
        out = path.join(dir, 'out');
        r = await transcodeWith([
            { uri: TTML, language: 'de', name: 'Deutsch' },
            { uri: path.join(dir, 'cc.scc'), language: 'en' }, // captions: SCC's kind
        ], out);
        assert.equal(r.code, 0, C.describe(r));
        v = C.versionDir(out);
    });

    const seg = (id, n) => fs.readFileSync(path.join(v, id, `seg-${n}.vtt`), 'utf8');

    test('TTML cues at their exact times, segmented', () => {
        const full = C.parseVtt(fs.readFileSync(path.join(v, 'subs-de', 'full.vtt'),
            'utf8'));
        assert.deepEqual(full.slice(0, 3).map((c) => [c.start, c.end, c.text]), [
            [0.5, 1.4, 'Tom &amp; Jerry: 1 &lt; 2'],
            [1.48, 2.6, '<i>Über die Grenze</i>'], // 00:00:01:12 at 25 fps
            [3.2, 4, 'Dritte Zeile\nauf <b>zwei</b> Zeilen'], // ticks
        ]);
        assert.equal(full[3].start, 5.5); // 5.5s, dur 3500ms: cut at the end
        const across = '00:00:01.480 --> 00:00:02.600\n<i>Über die Grenze</i>';
        assert.ok(seg('subs-de', 1).includes(across), seg('subs-de', 1));
        assert.ok(seg('subs-de', 2).includes(across), seg('subs-de', 2));
        assert.match(seg('subs-de', 2),
            /00:00:03\.200 --> 00:00:04\.000\nDritte Zeile\nauf <b>zwei<\/b> Zeilen/);
        assert.match(r.stderr, /sample\.de\.ttml\): regions and positions ignored/);
    });

    test('SCC captions on the drop-frame timeline', () => {
        const full = C.parseVtt(fs.readFileSync(path.join(v, 'subs-en', 'full.vtt'),
            'utf8'));
        assert.deepEqual(full.map((c) => [c.start, c.end, c.text]),
            [[1.001, 2.503, 'Hello'], [4.004, 5.005, 'World']]);
        assert.match(seg('subs-en', 1), /00:00:01\.001 --> 00:00:02\.503\nHello/);
        assert.match(seg('subs-en', 3), /00:00:04\.004 --> 00:00:05\.005\nWorld/);
        const m = C.parseMaster(fs.readFileSync(path.join(out, 'master.m3u8'), 'utf8'));
        const en = m.media.find((x) => x.TYPE === 'SUBTITLES' && x.LANGUAGE === 'en');
        assert.match(en.CHARACTERISTICS, /transcribes-spoken-dialog/);
        const de = m.media.find((x) => x.TYPE === 'SUBTITLES' && x.LANGUAGE === 'de');
        assert.equal(de.NAME, 'Deutsch');
    });

    test('the strict validators pass', async () => {
        assert.ok(V.checkDir(out) >= 4);
        await V.assertClean();
    });

    test('hls.js shows the TTML and SCC cues on time',
        { skip: missing || false }, async () => {
            openToWorkers(out);
            const vodRoot = C.tmpDir('vod-');
            fs.symlinkSync(out, path.join(vodRoot, 'ttml'));
            const ng = await startShippedNginx('sample', { vodRoot });
            const browser = await B.launch();
            try {
                const page = await browser.context.newPage();
                V.watchPage(page);
                await page.goto(`${ng.base}/player.html?engine=hls&src=/vod/ttml/master.m3u8`,
                    { waitUntil: 'load' });
                await C.waitFor('hls.js subtitle tracks', () => page.evaluate(() =>
                    window.hls && window.hls.subtitleTracks.length === 2),
                { timeoutMs: 30000 });
                const want = { de: [[0.5, 'Tom'], [1.48, 'Über'], [3.2, 'Dritte'],
                    [5.5, 'Nach']], en: [[1.001, 'Hello'], [4.004, 'World']] };
                for (const [i, lang] of ['de', 'en'].entries()) {
                    await page.evaluate((n) => { window.hls.subtitleTrack = n; }, i);
                    const cues = await C.waitFor(`cues of ${lang}`, () => page.evaluate(
                        ([l, n]) => {
                            const t = [...document.querySelector('video').textTracks]
                                .find((x) => x.language === l);
                            return t && t.cues && t.cues.length >= n
                                ? [...t.cues].map((c) => ({ start: c.startTime,
                                    text: c.text })) : null;
                        }, [lang, want[lang].length]), { timeoutMs: 40000 });
                    for (const [start, text] of want[lang]) {
                        const c = cues.find((x) => x.text.includes(text));
                        assert.ok(c, `"${text}" in ${JSON.stringify(cues)}`);
                        assert.ok(Math.abs(c.start - start) <= 0.1,
                            `${lang} "${text}" at ${c.start}, want ${start}`);
                    }
                }
                await page.close();
                await V.assertClean();
            } finally {
                await browser.close();
                await ng.stop();
            }
        });
});
