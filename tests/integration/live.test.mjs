// Live end to end: cirrus-transcode publishes a sample as a live stream at
// real time (CMAF parts through the live index writer), nginx with the
// module serves LL-HLS and LL-DASH, hls.js and dash.js play it in low
// latency mode in headless Chromium, and the test prints the latency each
// player reaches.  The source is a 640x360 file published with the live
// preset: passed through as "video" and transcoded in real time to the
// rungs that fit below it (234p: the 360p rung, the passthrough's size, is
// skipped), segments aligned across renditions, so the
// players see several levels.  Then the source stops and the playlist ends
// cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { nginxAvailable, rawGet as rawGetUnchecked, startNginx } from './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const missing = B.browserAvailable() ||
    (nginxAvailable() ? null : 'nginx module not built');
let nginx, browser, source, liveRoot, input;
// every playlist and MPD fetched (here and by the players) is validated
// strictly, per test
const V = validator('live');
const rawGet = V.wrapRawGet(rawGetUnchecked);
afterEach(() => V.assertClean());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v)
            return v;
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
    }
}

// A small source keeps the rungs cheap: CI has 2 cores shared with nginx
// and Chromium.
async function makeInput(dir) {
    const file = path.join(dir, 'src-640x360.mp4');
    const r = await C.run('ffmpeg', ['-nostdin', '-loglevel', 'error',
        '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', '20', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '800k',
        '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
        '-c:a', 'aac', '-b:a', '96k', file]);
    assert.equal(r.code, 0, r.stderr);
    return file;
}

function startSource() {
    source = spawn(C.TRANSCODE_BIN, ['--input', input,
        '--live-root', liveRoot, '--stream', 'demo', '--loop', '-1',
        '--preset', 'live', '--presets-dir', path.join(C.SOURCE_DIR, 'presets'),
        '--part-seconds', '0.333334', '--segment-seconds', '2',
        '--window', '15'], { stdio: ['ignore', 'ignore', 'pipe'] });
    source.stderrText = '';
    source.stderr.on('data', (d) => (source.stderrText += d));
    source.exited = new Promise((ok) => source.on('exit', (code, sig) =>
        ok({ code, sig })));
}

before(async () => {
    if (missing)
        return;
    liveRoot = C.tmpDir('live-');
    input = await makeInput(C.tmpDir('live-src-'));
    startSource();
    const nm = B.NODE_MODULES;
    nginx = await startNginx({
        server: `
        cirrus_cors on;
        location /live/ { cirrus_live ${liveRoot}; cirrus_block_timeout 6s; }
        location = /time { cirrus_time; }
        location = /player.html { root ${path.join(C.SOURCE_DIR, 'samples')}; }
        location /lib/hls.js/ { alias ${path.join(nm, 'hls.js', 'dist')}/; }
        location /lib/dashjs/ {
            alias ${path.join(nm, 'dashjs', 'dist', 'modern', 'umd')}/;
        }
        location /lib/shaka/ { alias ${B.SHAKA_DIST}/; }`,
    });
    // a few segments, so players have a live window to join
    await waitFor('three live segments', async () => {
        const r = await rawGet(nginx.port, '/live/demo/video/index.m3u8');
        return r.status === 200 &&
            (r.body.toString().match(/^seg-\d+\.m4s$/gm) || []).length >= 3;
    }, 30000);
    await waitFor('the rungs', async () => {
        const r = await rawGet(nginx.port, '/live/demo/234p/index.m3u8');
        return r.status === 200 &&
            (r.body.toString().match(/^seg-\d+\.m4s$/gm) || []).length >= 2;
    }, 30000);
    browser = await B.launch();
});

after(async () => {
    await browser?.close();
    if (source && source.exitCode === null)
        source.kill('SIGKILL');
    await nginx?.stop();
});

async function playLive(engine, manifest, { seconds = 8 } = {}) {
    const shot = path.join(C.TEST_OUT, 'screenshots', `live-${engine}.png`);
    const url = `${nginx.base}/player.html?engine=${engine}&lowLatency=1` +
        `&src=/live/demo/${manifest}`;
    const page = await browser.context.newPage();
    V.watchPage(page);
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    await page.goto(url, { waitUntil: 'load' });
    // play for a while, then read the latency the player settled at
    const samples = [];
    let state;
    const deadline = Date.now() + 17000 + seconds * 1000;
    while (Date.now() < deadline) {
        state = await page.evaluate(() => {
            const v = document.querySelector('video');
            return { ...window.cirrusPlayer, currentTime: v.currentTime,
                videoWidth: v.videoWidth };
        });
        if (state.fatal)
            break;
        if (state.playing && state.latency != null)
            samples.push(state.latency);
        if (samples.length >= seconds * 2)
            break;
        await sleep(500);
    }
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot }).catch(() => {});
    await page.close();
    const why = JSON.stringify({ fatal: state.fatal, errors: state.errors,
        levels: state.levels,
        console: consoleLines.slice(-15) }, null, 1);
    assert.equal(state.fatal, null, `no fatal error: ${why}`);
    assert.ok(state.videoWidth > 0, `frames decoded: ${why}`);
    assert.ok(samples.length >= 4, `the player reported a live latency: ${why}`);
    const httpErrors = (state.errors || []).filter((e) => /status [45]\d\d/.test(e.msg));
    assert.deepEqual(httpErrors, [], 'no request failed');
    const settled = samples.slice(-4).reduce((a, b) => a + b, 0) / 4;
    console.log(`# ${engine}: live latency ${settled.toFixed(2)} s ` +
        `(samples ${samples.map((s) => s.toFixed(2)).join(' ')}), ` +
        `${(state.levels || []).length} levels, ${state.stalls ?? 0} stalls`);
    return { latency: settled, levels: state.levels || [] };
}

describe('live LL-HLS and LL-DASH through the origin', { skip: missing || false },
    () => {
        test('the playlist has parts, a preload hint and reports', async () => {
            const r = await rawGet(nginx.port, '/live/demo/video/index.m3u8');
            const text = r.body.toString();
            assert.equal(r.status, 200);
            assert.match(text, /#EXT-X-PART-INF:PART-TARGET=0\.33/);
            assert.match(text, /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES/);
            assert.match(text, /#EXT-X-PART:DURATION=[\d.]+,URI="part-\d+\.\d+\.m4s",INDEPENDENT=YES/);
            assert.match(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+\.\d+\.m4s"/);
            assert.match(text, /#EXT-X-RENDITION-REPORT:URI="..\/audio\/index.m3u8"/);
            assert.match(text, /#EXT-X-PROGRAM-DATE-TIME:/);
        });

        test('a part is available within a part duration of its time', async () => {
            // block on the next part; it must come within ~1 part + slack
            const pl = (await rawGet(nginx.port, '/live/demo/video/index.m3u8'))
                .body.toString();
            const hint = /PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(pl);
            const r = await rawGet(nginx.port,
                `/live/demo/video/index.m3u8?_HLS_msn=${hint[1]}&_HLS_part=${hint[2]}`);
            assert.equal(r.status, 200);
            assert.ok(r.ms < 1000, `blocked reload answered in ${r.ms.toFixed(0)} ms`);
            console.log(`# blocking reload for the hinted part: ${r.ms.toFixed(0)} ms`);
        });

        test('parts are byte ranges of their segment, with stable validators',
            async () => {
                // the newest whole segment whose parts are still listed
                const text = (await rawGet(nginx.port,
                    '/live/demo/video/index.m3u8')).body.toString();
                let parts = [], whole = null;
                for (const line of text.split('\n')) {
                    const p = /^#EXT-X-PART:.*URI="(part-\d+\.\d+\.m4s)"/.exec(line);
                    if (p)
                        parts.push(p[1]);
                    const m = /^seg-(\d+)\.m4s$/.exec(line);
                    if (m) {
                        if (parts.length > 0)
                            whole = { msn: m[1], parts };
                        parts = [];
                    }
                }
                assert.ok(whole, 'a whole segment with its parts listed');
                const get = (u, h) => rawGet(nginx.port, `/live/demo/video/${u}`, h);
                const seg = await get(`seg-${whole.msn}.m4s`);
                assert.equal(seg.status, 200);
                const bodies = [];
                for (const u of whole.parts) {
                    const r = await get(u);
                    assert.equal(r.status, 200, u);
                    assert.equal(Number(r.headers['content-length']), r.body.length);
                    assert.match(r.headers['cache-control'], /max-age=\d{4,}/, u);
                    bodies.push(r.body);
                }
                assert.ok(Buffer.concat(bodies).equals(seg.body),
                    'the segment is its parts, in order');
                // the same validators on every answer for a part's bytes
                const u = whole.parts[1];
                const a = await get(u), b = await get(u);
                assert.ok(a.headers.etag, 'an ETag');
                assert.equal(a.headers.etag, b.headers.etag);
                assert.equal(a.headers['last-modified'], b.headers['last-modified']);
                assert.equal((await get(u, { 'If-None-Match': a.headers.etag })).status,
                    304);
                // byte ranges within the part
                const r = await get(u, { Range: 'bytes=10-99' });
                assert.equal(r.status, 206);
                assert.equal(r.headers['content-range'], `bytes 10-99/${a.body.length}`);
                assert.ok(r.body.equals(a.body.subarray(10, 100)));
                // a part the index never listed is not served from the file
                assert.equal((await get(`part-${whole.msn}.${whole.parts.length + 3}.m4s`))
                    .status, 404);
            });

        test('the master playlist lists the source and the rungs', async () => {
            const r = await rawGet(nginx.port, '/live/demo/master.m3u8');
            const text = r.body.toString();
            assert.equal(r.status, 200);
            for (const name of ['video', '234p'])
                assert.match(text, new RegExp(`^${name}/index\\.m3u8$`, 'm'), text);
            // a 360p rung beside the 640x360 passthrough would repeat it
            assert.doesNotMatch(text, /^360p\//m);
            assert.doesNotMatch(text, /720p|480p/, 'no rung above the source');
            assert.match(text, /RESOLUTION=416x234/);
        });

        test('every rendition cuts segments at the same times', async () => {
            // the same media sequence numbers with the same durations
            const durations = async (name) => {
                const text = (await rawGet(nginx.port,
                    `/live/demo/${name}/index.m3u8`)).body.toString();
                const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)[1]);
                const out = new Map();
                let n = msn;
                for (const m of text.matchAll(/^#EXTINF:([\d.]+),\s*\n(?:#[^\n]*\n)*seg-(\d+)\.m4s$/gm)) {
                    out.set(Number(m[2]), Number(m[1]));
                    n++;
                }
                assert.ok(n > msn, `${name} lists segments`);
                return out;
            };
            const [src, a] = await Promise.all(['video', '234p']
                .map(durations));
            let compared = 0;
            for (const [msn, d] of src) {
                for (const other of [a]) {
                    if (!other.has(msn))
                        continue;
                    assert.ok(Math.abs(other.get(msn) - d) < 0.002,
                        `segment ${msn}: ${other.get(msn)} s vs ${d} s`);
                    compared++;
                }
            }
            assert.ok(compared >= 2, `compared ${compared} segments`);
        });

        test('hls.js in low-latency mode plays the live stream', async () => {
            const { latency, levels } = await playLive('hls', 'master.m3u8');
            assert.ok(latency < 6, `LL-HLS latency ${latency.toFixed(2)} s`);
            assert.ok(levels.length >= 2, `hls.js sees ${levels.length} levels`);
        });

        test('dash.js in low-latency mode plays the live stream', async () => {
            const { latency } = await playLive('dash', 'manifest.mpd');
            assert.ok(latency < 8, `LL-DASH latency ${latency.toFixed(2)} s`);
        });

        // the third player: 20 s of each, within the 2.5 s of live
        test('Shaka Player plays the LL-HLS stream for 20 s', async () => {
            const { latency, levels } = await playLive('shaka', 'master.m3u8',
                { seconds: 20 });
            assert.ok(latency < 2.5, `Shaka LL-HLS latency ${latency.toFixed(2)} s`);
            assert.ok(levels.length >= 2, `Shaka sees ${levels.length} levels`);
        });

        test('Shaka Player plays the LL-DASH stream for 20 s', async () => {
            const { latency } = await playLive('shaka', 'manifest.mpd', { seconds: 20 });
            assert.ok(latency < 2.5, `Shaka LL-DASH latency ${latency.toFixed(2)} s`);
        });

        test('the players got no error status from the origin', () => {
            const log = fs.readFileSync(path.join(nginx.prefix, 'logs',
                'access.log'), 'utf8');
            // the players' requests (their referer is the player page);
            // 499 is a player closing a held request when its page closes
            const bad = log.split('\n').filter((l) => /player\.html/.test(l) &&
                /" [45]\d\d /.test(l) && !/" 499 /.test(l));
            assert.deepEqual(bad, []);
        });

        test('a source that stops ends the playlist with ENDLIST', async () => {
            source.kill('SIGINT');
            const { code } = await source.exited;
            assert.equal(code, 0, source.stderrText.slice(-2000));
            const drops = source.stderrText.match(/encoder falls behind.*/g) || [];
            console.log(`# rung frame drop warnings: ${drops.length}` +
                (drops.length ? ` (last: ${drops[drops.length - 1]})` : ''));
            const r = await rawGet(nginx.port, '/live/demo/video/index.m3u8');
            const text = r.body.toString();
            assert.match(text, /#EXT-X-ENDLIST\s*$/);
            assert.doesNotMatch(text, /PRELOAD-HINT/);
            // directives are ignored after ENDLIST: no blocking
            const far = await rawGet(nginx.port,
                '/live/demo/video/index.m3u8?_HLS_msn=999999');
            assert.equal(far.status, 200);
            const mpd = (await rawGet(nginx.port, '/live/demo/manifest.mpd')).body.toString();
            assert.match(mpd, /type="static"/);
        });
    });
