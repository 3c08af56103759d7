// Real players: hls.js, dash.js and Shaka Player (HLS and DASH) in headless
// Chromium play the web ladder of h264_1080p30 from the origin as we ship
// it: nginx with the module, started from samples/nginx.conf (only ports
// and paths substituted; the asset is /vod/web/, the player page and
// libraries as the sample serves them), seek, and resume near the seek
// target.  Every playlist and MPD the players load is validated strictly
// (lib/validate.mjs).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { nginxAvailable, openToWorkers, startShippedNginx } from
    './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const missing = B.browserAvailable() ||
    (nginxAvailable() ? null : 'nginx module not built');
let srv, browser;
const V = validator('players');
afterEach(() => V.assertClean());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The origin's answers, from its access log (combined format):
// [{ path, status }].
function originRequests(ng) {
    return ng.accessLog().split('\n').map((l) =>
        /"(?:GET|HEAD) (\S+) HTTP\/[\d.]+" (\d{3}) /.exec(l))
        .filter(Boolean).map((m) => ({ path: m[1], status: Number(m[2]) }));
}

before(async () => {
    if (missing)
        return;
    const job = await C.transcodeCached('h264_1080p30.mp4', 'web');
    openToWorkers(job.dir);
    const vodRoot = C.tmpDir('vod-');
    fs.symlinkSync(job.dir, path.join(vodRoot, 'web'));
    const ng = await startShippedNginx('sample', { vodRoot });
    srv = { url: ng.base, stop: () => ng.stop(),
        get requests() { return originRequests(ng); } };
    browser = await B.launch();
});

after(async () => {
    await browser?.close();
    await srv?.stop();
});

async function playAndCheck(engine, manifest) {
    const shot = path.join(C.TEST_OUT, 'screenshots',
        `${engine}-${path.extname(manifest).slice(1)}.png`);
    const s = await B.play(browser,
        `${srv.url}/player.html?engine=${engine}&src=/vod/web/${manifest}`,
        { minTime: 3, timeoutMs: 60000, screenshot: shot,
            onPage: (page) => V.watchPage(page) });
    const why = JSON.stringify({ errors: s.errors, console: s.console.slice(-20),
        currentTime: s.currentTime }, null, 1);
    assert.equal(s.fatal, null, `no fatal error: ${why}`);
    assert.ok(s.currentTime > 3, `played past 3 s (${s.currentTime}): ${why}`);
    assert.ok(s.videoWidth > 0 && s.videoHeight > 0, 'frames decoded');
    assert.ok(s.levels.length >= 5, `the player saw the ladder: ${s.levels.length}`);
    assert.deepEqual(browser.offLoopback, [], 'nothing left 127.0.0.1');
    const fetched = srv.requests.filter((r) => r.path.endsWith('.m4s') &&
        r.status >= 200 && r.status < 300);
    assert.ok(fetched.length >= 2, 'segments were fetched');
    assert.deepEqual(srv.requests.filter((r) => r.status >= 400), [],
        'no failed requests');
    return s;
}

// Plays past 2 s, seeks to `target` and waits for playback to go on from
// there: resolves { before, after, ms } (the time seeking took).
async function seekAndCheck(engine, manifest, target = 6) {
    const page = await browser.context.newPage();
    V.watchPage(page);
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    await page.goto(`${srv.url}/player.html?engine=${engine}&src=/vod/web/${manifest}`,
        { waitUntil: 'load' });
    const read = () => page.evaluate(() => {
        const v = document.querySelector('video');
        return { ...window.cirrusPlayer, currentTime: v.currentTime,
            seeking: v.seeking, paused: v.paused, videoWidth: v.videoWidth };
    });
    let st;
    const why = () => JSON.stringify({ fatal: st?.fatal, errors: st?.errors,
        currentTime: st?.currentTime, console: consoleLines.slice(-15) }, null, 1);
    try {
        for (const end = Date.now() + 60000; Date.now() < end; await sleep(200)) {
            st = await read();
            if (st.fatal || st.currentTime > 2)
                break;
        }
        assert.equal(st.fatal, null, `no fatal error before the seek: ${why()}`);
        assert.ok(st.currentTime > 2, `played past 2 s before seeking: ${why()}`);
        const before = st.currentTime;
        const t0 = Date.now();
        await page.evaluate((t) => { document.querySelector('video').currentTime = t; },
            target);
        for (const end = Date.now() + 20000; Date.now() < end; await sleep(100)) {
            st = await read();
            if (st.fatal || (!st.seeking && !st.paused && st.currentTime > target + 0.5))
                break;
        }
        const ms = Date.now() - t0;
        assert.equal(st.fatal, null, `no fatal error after the seek: ${why()}`);
        assert.ok(!st.seeking && st.currentTime > target + 0.5,
            `playback went on after the seek: ${why()}`);
        // resumed near the target: at most the time since the seek ahead of it
        assert.ok(st.currentTime >= target - 0.1 &&
            st.currentTime <= target + 0.5 + ms / 1000 + 0.5,
            `resumed near ${target} s: at ${st.currentTime} after ${ms} ms: ${why()}`);
        console.log(`# ${engine} ${manifest}: seek ${before.toFixed(2)} -> ${target} s, ` +
            `playing at ${st.currentTime.toFixed(2)} s ${ms} ms later`);
        return { before, after: st.currentTime, ms };
    } finally {
        await page.close();
    }
}

describe('players', { skip: missing || false }, () => {
    test('hls.js plays master.m3u8', async () => {
        await playAndCheck('hls', 'master.m3u8');
    });
    test('dash.js plays manifest.mpd', async () => {
        await playAndCheck('dash', 'manifest.mpd');
    });
    test('Shaka Player plays master.m3u8', async () => {
        await playAndCheck('shaka', 'master.m3u8');
    });
    test('Shaka Player plays manifest.mpd', async () => {
        await playAndCheck('shaka', 'manifest.mpd');
    });
    for (const [engine, manifest] of [['hls', 'master.m3u8'], ['dash', 'manifest.mpd'],
        ['shaka', 'master.m3u8'], ['shaka', 'manifest.mpd']]) {
        test(`${engine} seeks in ${manifest} and plays on from the target`, async () => {
            await seekAndCheck(engine, manifest);
        });
    }
});
