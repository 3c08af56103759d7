// Real players: hls.js and dash.js in headless Chromium play the web ladder
// of h264_1080p30 from the origin as we ship it: nginx with the module,
// started from samples/nginx.conf (only ports and paths substituted; the
// asset is /vod/web/, the player page and libraries as the sample serves
// them).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { nginxAvailable, openToWorkers, startShippedNginx } from
    './lib/nginx.mjs';

const missing = B.browserAvailable() ||
    (nginxAvailable() ? null : 'nginx module not built');
let srv, browser;

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
    const shot = path.join(C.TEST_OUT, 'screenshots', `${engine}.png`);
    const s = await B.play(browser,
        `${srv.url}/player.html?engine=${engine}&src=/vod/web/${manifest}`,
        { minTime: 3, timeoutMs: 60000, screenshot: shot });
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

describe('players', { skip: missing || false }, () => {
    test('hls.js plays master.m3u8', async () => {
        await playAndCheck('hls', 'master.m3u8');
    });
    test('dash.js plays manifest.mpd', async () => {
        await playAndCheck('dash', 'manifest.mpd');
    });
});
