// CEA-608 closed captions in a live stream (issue 14).  A 640x360 clip made
// by tests/tools/cc_sample.c (CC1 pop-on "HELLO CIRRUS" from 1 s to 4 s) is
// published with cirrus-transcode --live-root and the live preset, at real
// time (faster, the rung drops frames and its parts come out shorter than
// the validator's 85% of PART-TARGET, with or without captions): passed
// through as "video" and transcoded to the 234p rung.
// The rung's segments carry the captions, once, at their time (ffprobe sees
// Closed Captions, lavfi's movie=...[out0+subcc] reads the text back); the
// live index of both video renditions records them; the shipped nginx
// serves a live master with CLOSED-CAPTIONS="cc" and one EXT-X-MEDIA
// TYPE=CLOSED-CAPTIONS, and an MPD with the SCTE 214 Accessibility
// descriptor, both passing the strict validator.  The same clip published
// by the ffmpeg CLI over RTMP to cirrus-ingest (preset live) gets the same.
// The same clip without captions gets none of it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { after, afterEach, before, describe, test } from 'node:test';
import { hasCaptions, readCaptions } from './lib/captions.mjs';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet as rawGetUnchecked,
    startShippedNginx } from './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const CC_SAMPLE = path.join(C.BUILD_DIR, 'tests', 'cirrus-cc-sample');
const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const TEXT = 'HELLO CIRRUS';
const missing = !fs.existsSync(C.TRANSCODE_BIN) ? `${C.TRANSCODE_BIN} not built`
    : !fs.existsSync(CC_SAMPLE) ? `${CC_SAMPLE} not built`
        : !(C.hasTool('ffmpeg') && C.hasTool('ffprobe')) ? 'ffmpeg/ffprobe missing'
            : nginxAvailable() ? null : 'nginx module not built';
const V = validator('live-captions');
const rawGet = V.wrapRawGet(rawGetUnchecked);
afterEach(() => V.assertClean());

let work, liveRoot, nginx, published;

function makeSample(name, args) {
    const file = path.join(work, name);
    const r = spawnSync(CC_SAMPLE, [file, '--size', '640x360', ...args],
        { encoding: 'utf8' });
    assert.equal(r.status, 0, `cirrus-cc-sample: ${r.stderr}`);
    return file;
}

// Publishes the file as the live stream `stream`, at real time.
async function publish(input, stream) {
    const r = await C.run(C.TRANSCODE_BIN, ['--input', input,
        '--live-root', liveRoot, '--stream', stream,
        '--preset', 'live', '--presets-dir', path.join(C.SOURCE_DIR, 'presets'),
        '--segment-seconds', '2', '--part-seconds', '0.5'],
    { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    return r.stderr;
}

// A live rendition's init segment and media segments as one MP4.
function joined(stream, rendition) {
    const dir = path.join(liveRoot, stream, rendition);
    const files = fs.readdirSync(dir);
    const init = files.filter((f) => /^init-\d+\.mp4$/.test(f)).sort()[0];
    const segs = files.filter((f) => /^seg-\d+\.m4s$/.test(f))
        .sort((a, b) => Number(a.match(/\d+/)[0]) - Number(b.match(/\d+/)[0]));
    assert.ok(init && segs.length > 0, files.join(' '));
    const file = path.join(work, `${stream}-${rendition}.mp4`);
    fs.writeFileSync(file, Buffer.concat([init, ...segs].map((f) =>
        fs.readFileSync(path.join(dir, f)))));
    return file;
}

// The captioned clip published over RTMP (ffmpeg -re, stream copy) to a
// cirrus-ingest with the live preset, as stream `key`; resolves once the
// stream ended.  Returns the ingest's log.
async function publishRtmp(input, key) {
    const port = await freePort();
    let log = '';
    const ing = spawn(INGEST_BIN, ['--set', `port=${port}`,
        '--set', `live_root=${liveRoot}`, '--set', 'preset=live',
        '--set', `presets_dir=${path.join(C.SOURCE_DIR, 'presets')}`,
        '--set', 'segment_seconds=2', '--set', 'part_seconds=0.5',
        '--set', 'grace_seconds=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    ing.stderr.on('data', (d) => (log += d));
    const waitLog = (what, re) => C.waitFor(what, () => re.test(log),
        { timeoutMs: 30000, every: 100, detail: () => log.slice(-3000) });
    try {
        await waitLog('the ingest', /listening rtmp=/);
        const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error',
            '-re', '-i', input, '-c', 'copy', '-f', 'flv',
            `rtmp://127.0.0.1:${port}/live/${key}`], { encoding: 'utf8',
            timeout: 60000 });
        assert.equal(r.status, 0, r.stderr);
        await waitLog(`stream ${key} to end`,
            new RegExp(`stream=${key}\\] stream ended`));
    } finally {
        ing.kill('SIGTERM');
    }
    return log;
}

async function get(stream, file) {
    const r = await rawGet(nginx.port, `/live/${stream}/${file}`);
    assert.equal(r.status, 200, `${stream}/${file}: ${r.status}`);
    return r.body.toString('utf8');
}

const videoSet = (mpd) =>
    mpd.match(/<AdaptationSet[^>]*contentType="video"[\s\S]*?<\/AdaptationSet>/)[0];

before(async () => {
    if (missing)
        return;
    work = C.tmpDir('live-captions-');
    liveRoot = C.tmpDir('live-captions-root-');
    const [cc, plain] = await Promise.all([
        publish(makeSample('captioned.mp4', []), 'cc'),
        publish(makeSample('plain.mp4', ['--no-captions']), 'plain')]);
    published = { cc, plain };
    if (fs.existsSync(INGEST_BIN))
        published.rtmp = await publishRtmp(path.join(work, 'captioned.mp4'), 'rtmpcc');
    nginx = await startShippedNginx('sample', { liveRoot });
});

after(async () => {
    await nginx?.stop();
});

describe('a captioned live source', { skip: missing || false }, () => {
    test('the rung carries the captions, once, at their time', () => {
        assert.ok(fs.existsSync(path.join(liveRoot, 'cc', '234p')),
            fs.readdirSync(path.join(liveRoot, 'cc')).join(' '));
        const file = joined('cc', '234p');
        assert.ok(hasCaptions(file), 'ffprobe sees Closed Captions');
        const cues = readCaptions(file);
        assert.equal(cues.length, 1, JSON.stringify(cues));
        assert.equal(cues[0].text, TEXT);
        assert.ok(Math.abs(cues[0].start - 1.4) < 0.1 &&
            Math.abs(cues[0].end - 4) < 0.1, JSON.stringify(cues));
        // the passthrough keeps the source's SEI
        assert.ok(hasCaptions(joined('cc', 'video')));
        assert.match(published.cc, /the source carries closed captions/);
    });

    test('the live master: CLOSED-CAPTIONS on both variants, one EXT-X-MEDIA',
        async () => {
            const text = await get('cc', 'master.m3u8');
            const m = C.parseMaster(text);
            assert.deepEqual(m.variants.map((v) => v.uri).sort(),
                ['234p/index.m3u8', 'video/index.m3u8']);
            for (const v of m.variants)
                assert.equal(v.attrs['CLOSED-CAPTIONS'], 'cc', v.uri);
            assert.ok(text.includes('#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,' +
                'GROUP-ID="cc",NAME="Captions",LANGUAGE="und",' +
                'INSTREAM-ID="CC1",DEFAULT=YES,AUTOSELECT=YES\n'), text);
            assert.equal(m.media.filter((x) => x.TYPE === 'CLOSED-CAPTIONS')
                .length, 1);
            await get('cc', 'video/index.m3u8');
            await get('cc', '234p/index.m3u8');
        });

    test('the live MPD: the SCTE 214 Accessibility on the video set',
        async () => {
            const mpd = await get('cc', 'manifest.mpd');
            assert.match(videoSet(mpd), /\n {6}<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=und"\/>\n/);
            assert.equal(mpd.match(/<Accessibility/g).length, 1);
        });
});

describe('a captioned RTMP publisher', { skip: missing ||
    (fs.existsSync(INGEST_BIN) ? false : `${INGEST_BIN} not built`) }, () => {
    test('its rungs carry the captions, its manifests signal them',
        async () => {
            const cues = readCaptions(joined('rtmpcc', '234p'));
            assert.equal(cues.length, 1, JSON.stringify(cues));
            assert.equal(cues[0].text, TEXT);
            const m = C.parseMaster(await get('rtmpcc', 'master.m3u8'));
            assert.ok(m.variants.length >= 2, JSON.stringify(m.variants));
            for (const v of m.variants)
                assert.equal(v.attrs['CLOSED-CAPTIONS'], 'cc', v.uri);
            assert.match(videoSet(await get('rtmpcc', 'manifest.mpd')),
                /<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=und"\/>/);
            assert.match(published.rtmp, /the source carries closed captions/);
        });
});

describe('a live source without captions', { skip: missing || false }, () => {
    test('no rung carries any, no manifest claims any', async () => {
        assert.ok(!hasCaptions(joined('plain', '234p')));
        const master = await get('plain', 'master.m3u8');
        assert.ok(!master.includes('CLOSED-CAPTIONS'), master);
        const mpd = await get('plain', 'manifest.mpd');
        assert.ok(!mpd.includes('Accessibility'), mpd);
        assert.doesNotMatch(published.plain, /closed captions/);
    });
});
