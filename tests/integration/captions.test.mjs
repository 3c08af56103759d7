// CEA-608 closed captions in the source's H.264 SEI (issue 14): a 6 s 720p
// clip made by tests/tools/cc_sample.c (CC1 pop-on "HELLO CIRRUS" from 1 s
// to 4 s, video language eng) is transcoded with the web preset.  Every
// rung's segments carry the captions (ffprobe on init + segments sees
// Closed Captions; lavfi's movie=...[out0+subcc] reads the text back, once,
// at its time); the master has CLOSED-CAPTIONS="cc" on every variant and
// one EXT-X-MEDIA TYPE=CLOSED-CAPTIONS (INSTREAM-ID CC1, English), the MPD
// the SCTE 214 Accessibility descriptor; the strict validators pass.  A
// frame rate cap that drops frames (30 -> 10 fps) loses or doubles no
// caption byte.  An HEVC ladder (libx265 cannot write them) claims none.
// The same clip without captions gets none of it.  hls.js
// in Chromium, through the shipped nginx, shows a captions text track whose
// cue says HELLO CIRRUS.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import { hasCaptions, readCaptions } from './lib/captions.mjs';
import * as C from './lib/cirrus.mjs';
import { nginxAvailable, openToWorkers, startShippedNginx } from
    './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const CC_SAMPLE = path.join(C.BUILD_DIR, 'tests', 'cirrus-cc-sample');
const TEXT = 'HELLO CIRRUS';
const V = validator('captions');

let work, captioned, plain, capped, hevc, presets;

function makeSample(name, args) {
    const file = path.join(work, name);
    const r = spawnSync(CC_SAMPLE, [file, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `cirrus-cc-sample: ${r.stderr}`);
    return file;
}

async function transcode(input, name, preset = 'web', env = {}) {
    const out = path.join(work, name);
    const r = await C.transcode({ input, output: out, preset, env });
    assert.equal(r.code, 0, C.describe(r));
    return { dir: out, vdir: C.versionDir(out), result: r.result,
        stderr: r.stderr };
}

// web's two smallest rungs, the frame rate capped at 12 fps (10 fps, the
// ladder's divisor of 30 under it): the fps filter drops 2 frames in 3
function writeCappedPreset() {
    const dir = path.join(work, 'presets');
    fs.mkdirSync(dir);
    const p = C.loadPreset('web');
    p.name = 'capped';
    p.video.max_frame_rate = 12;
    p.video.rungs = p.video.rungs.slice(-2);
    p.thumbnails.enabled = false;
    fs.writeFileSync(path.join(dir, 'capped.json'), JSON.stringify(p));
    const h = C.loadPreset('hevc');
    h.name = 'hevc-small';
    h.video.rungs = h.video.rungs.slice(-1);
    h.thumbnails.enabled = false;
    fs.writeFileSync(path.join(dir, 'hevc-small.json'), JSON.stringify(h));
    return dir;
}

// The rung's init segment and media segments as one MP4.
function joined(job, rung) {
    const dir = path.join(job.vdir, rung);
    const segs = fs.readdirSync(dir).filter((f) => /^seg-\d+\.m4s$/.test(f))
        .sort((a, b) => Number(a.match(/\d+/)[0]) - Number(b.match(/\d+/)[0]));
    const file = path.join(work, `${path.basename(job.dir)}-${rung}.mp4`);
    fs.writeFileSync(file, Buffer.concat([path.join(dir, 'init.mp4'),
        ...segs.map((s) => path.join(dir, s))].map((f) => fs.readFileSync(f))));
    return file;
}

const videoIds = (job) => job.result.renditions
    .filter((r) => r.type === 'video').map((r) => r.id);

before(async () => {
    work = C.tmpDir('captions-');
    const src = makeSample('captioned.mp4', ['--language', 'eng']);
    const bare = makeSample('plain.mp4', ['--no-captions']);
    presets = writeCappedPreset();
    captioned = await transcode(src, 'captioned');
    plain = await transcode(bare, 'plain');
    capped = await transcode(src, 'capped', 'capped',
        { CIRRUS_PRESETS_DIR: presets });
    hevc = await transcode(src, 'hevc', 'hevc-small',
        { CIRRUS_PRESETS_DIR: presets });
});

describe('the source', () => {
    test('cirrus-cc-sample writes captions ffprobe and ccaption_dec see', () => {
        const src = path.join(work, 'captioned.mp4');
        assert.ok(hasCaptions(src));
        assert.deepEqual(readCaptions(src), [{ start: 1.4, end: 4, text: TEXT }]);
        assert.ok(!hasCaptions(path.join(work, 'plain.mp4')));
    });
});

describe('a captioned source', () => {
    test('every rung carries the captions, once, at their time', () => {
        const ids = videoIds(captioned);
        assert.deepEqual(ids, ['720p', '540p', '360p', '234p']);
        for (const id of ids) {
            const file = joined(captioned, id);
            assert.ok(hasCaptions(file), `${id}: ffprobe sees Closed Captions`);
            const cues = readCaptions(file);
            assert.equal(cues.length, 1, `${id}: ${JSON.stringify(cues)}`);
            assert.equal(cues[0].text, TEXT, id);
            assert.ok(Math.abs(cues[0].start - 1.4) < 0.05 &&
                Math.abs(cues[0].end - 4) < 0.05, `${id}: ${JSON.stringify(cues)}`);
        }
        for (const r of captioned.result.renditions.filter((x) => x.type === 'video'))
            assert.equal(r.closed_captions, true, r.id);
        assert.match(captioned.stderr, /the video carries closed captions/);
        assert.match(captioned.stderr, /closed captions: \d+ cc_data triplets carried, 0 lost/);
    });

    test('frames dropped by a frame rate cap lose and double nothing', () => {
        assert.deepEqual(videoIds(capped), ['360p', '234p']);
        for (const id of videoIds(capped)) {
            const file = joined(capped, id);
            const probe = C.videoStream(C.ffprobe(file, ['-show_streams']));
            // the ladder's rate under the cap: 30 / 3
            assert.equal(C.rate(probe.avg_frame_rate), 10);
            const cues = readCaptions(file);
            assert.equal(cues.length, 1, `${id}: ${JSON.stringify(cues)}`);
            assert.equal(cues[0].text, TEXT, id);
            assert.ok(Math.abs(cues[0].start - 1.4) < 0.2, JSON.stringify(cues));
        }
    });

    test('master: CLOSED-CAPTIONS on every variant, one EXT-X-MEDIA', () => {
        const text = fs.readFileSync(path.join(captioned.dir, 'master.m3u8'), 'utf8');
        const m = C.parseMaster(text);
        assert.equal(m.variants.length, 4);
        for (const v of m.variants)
            assert.equal(v.attrs['CLOSED-CAPTIONS'], 'cc', v.uri);
        assert.ok(text.includes('#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",' +
            'NAME="English",LANGUAGE="en",INSTREAM-ID="CC1",DEFAULT=YES,' +
            'AUTOSELECT=YES\n'), text);
        assert.equal(m.media.filter((x) => x.TYPE === 'CLOSED-CAPTIONS').length, 1);
    });

    test('MPD: the SCTE 214 Accessibility descriptor on the video set', () => {
        const mpd = fs.readFileSync(path.join(captioned.dir, 'manifest.mpd'), 'utf8');
        const set = mpd.match(/<AdaptationSet[^>]*contentType="video"[\s\S]*?<\/AdaptationSet>/)[0];
        assert.match(set, /^<AdaptationSet[^>]*>\n {6}<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=eng"\/>\n/);
        assert.equal(mpd.match(/<Accessibility/g).length, 1);
    });

    test('the strict validators pass', async () => {
        assert.ok(V.checkDir(captioned.dir) >= 4);
        assert.ok(V.checkDir(capped.dir) >= 4);
        await V.assertClean();
    });
});

// libx265 in FFmpeg 5.1 has no a53cc: an HEVC ladder cannot carry them,
// says so, and its manifests do not claim them.
describe('a captioned source, HEVC rungs', () => {
    test('no captions claimed, a warning logged', () => {
        const master = fs.readFileSync(path.join(hevc.dir, 'master.m3u8'), 'utf8');
        assert.ok(!master.includes('CLOSED-CAPTIONS'), master);
        const mpd = fs.readFileSync(path.join(hevc.dir, 'manifest.mpd'), 'utf8');
        assert.ok(!mpd.includes('Accessibility'), mpd);
        for (const r of hevc.result.renditions.filter((x) => x.type === 'video')) {
            assert.match(r.codecs, /^hvc1\./);
            assert.equal(r.closed_captions, false, r.id);
            assert.ok(!hasCaptions(joined(hevc, r.id)), r.id);
        }
        assert.match(hevc.stderr, /closed captions are not carried: the HEVC encoder cannot write them/);
    });
});

describe('a source without captions', () => {
    test('gets no captions and no signalling', async () => {
        const master = fs.readFileSync(path.join(plain.dir, 'master.m3u8'), 'utf8');
        assert.ok(!master.includes('CLOSED-CAPTIONS'), master);
        const mpd = fs.readFileSync(path.join(plain.dir, 'manifest.mpd'), 'utf8');
        assert.ok(!mpd.includes('Accessibility'), mpd);
        for (const id of videoIds(plain))
            assert.ok(!hasCaptions(joined(plain, id)), id);
        for (const r of plain.result.renditions.filter((x) => x.type === 'video'))
            assert.equal(r.closed_captions, false, r.id);
        assert.ok(!/closed captions/.test(plain.stderr));
        assert.ok(V.checkDir(plain.dir) >= 4);
        await V.assertClean();
    });
});

const missing = B.browserAvailable() ||
    (nginxAvailable() ? null : 'nginx module not built');

describe('players', { skip: missing || false }, () => {
    let ng, browser;

    before(async () => {
        openToWorkers(captioned.dir);
        const vodRoot = C.tmpDir('vod-');
        fs.symlinkSync(captioned.dir, path.join(vodRoot, 'cc'));
        ng = await startShippedNginx('sample', { vodRoot });
        browser = await B.launch();
    });

    after(async () => {
        await browser?.close();
        await ng?.stop();
    });

    test('hls.js shows a captions track that says HELLO CIRRUS', async () => {
        const page = await browser.context.newPage();
        V.watchPage(page);
        try {
            await page.goto(`${ng.base}/player.html?engine=hls&src=/vod/cc/master.m3u8`,
                { waitUntil: 'load' });
            const cue = await C.waitFor('a caption cue', () => page.evaluate(() => {
                const v = document.querySelector('video');
                for (const t of v.textTracks) {
                    if (t.kind !== 'captions')
                        continue;
                    t.mode = 'hidden'; // cues are kept only when not disabled
                    for (const c of t.cues || []) {
                        if (c.text.includes('HELLO'))
                            return { label: t.label, lang: t.language,
                                text: c.text, start: c.startTime };
                    }
                }
                return null;
            }), { timeoutMs: 40000 });
            assert.equal(cue.text.trim(), TEXT);
            assert.equal(cue.label, 'English');
            assert.ok(Math.abs(cue.start - 1.4) < 0.2, JSON.stringify(cue));
        } finally {
            await page.close();
        }
        await V.assertClean();
    });
});
