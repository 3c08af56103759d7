// The dashboard (samples/dashboard/) served by the origin, with the whole
// system behind it on loopback: nginx with the module, cirrus-ingest and
// cirrus-worker on a spool folder, both configured by one sectioned file.
// A short job goes through the spool and the ffmpeg CLI publishes a live
// stream; in headless Chromium the page lists both and the running job,
// plays the VOD asset (hls.js, then dash.js) and the live stream, offers
// the asset's renditions, shows sprite thumbnails on hovering the seek bar,
// and logs no console error.  Screenshots go to <build>/test-out/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, startShippedNginx } from './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const WORKER_BIN = process.env.CIRRUS_WORKER ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const SAMPLE = 'h264_720p2997.mp4';

const missing = !nginxAvailable() ? 'nginx or the module is missing' :
    B.browserAvailable() ||
    (![INGEST_BIN, WORKER_BIN].every((f) => fs.existsSync(f)) ?
        'cirrus-ingest or cirrus-worker is not built' : null) ||
    (!fs.existsSync(path.join(C.SAMPLES_DIR, SAMPLE)) ?
        'samples missing: run samples/make-samples' : null);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// every playlist and MPD fetched here or by the page is validated strictly
const V = validator('dashboard');
const fetch = V.wrapFetch(globalThis.fetch);
afterEach(() => V.assertClean());

const waitFor = (what, fn, timeoutMs, detail) => C.waitFor(what, fn,
    { timeoutMs, every: 200, detail });

function daemon(bin, args) {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.log = '';
    child.stdout.on('data', (d) => (child.log += d));
    child.stderr.on('data', (d) => (child.log += d));
    child.exited = new Promise((ok) => child.on('exit', ok));
    return child;
}

// The VTT's cue for time t, read here independently of the page's parser.
function vttCue(file, t) {
    const text = fs.readFileSync(file, 'utf8');
    const re = /(\d+):(\d+):([\d.]+) --> (\d+):(\d+):([\d.]+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
    let m, cue = null;
    while ((m = re.exec(text))) {
        const start = m[1] * 3600 + m[2] * 60 + Number(m[3]);
        if (start <= t)
            cue = { image: m[7], x: +m[8], y: +m[9], w: +m[10], h: +m[11] };
    }
    return cue;
}

describe('dashboard', { skip: missing || false }, () => {
    const work = missing ? null : C.tmpDir('dashboard-');
    const out = work && path.join(work, 'out');
    const live = work && path.join(work, 'live');
    const spool = work && path.join(work, 'spool');
    const shots = path.join(C.TEST_OUT, 'dashboard');
    const consoleLines = [];
    let ingest, worker, ffmpeg, ngx, browser, page, rtmpPort;

    before(async () => {
        for (const d of [out, live, spool])
            fs.mkdirSync(d, { recursive: true });
        rtmpPort = await freePort();
        const statusPort = await freePort();
        const workerPort = await freePort();
        // one file, two sections: each daemon takes its own
        const config = path.join(work, 'cirrus.json');
        fs.writeFileSync(config, JSON.stringify({
            ingest: { port: rtmpPort, status_port: statusPort, live_root: live,
                grace_seconds: 2 },
            worker: { spool_dir: spool, out_root: `file://${out}`,
                presets_dir: C.PRESETS_DIR, workers: 1, settle_seconds: 0.1,
                drain_seconds: 1, metrics_port: workerPort },
        }, null, 2));
        ingest = daemon(INGEST_BIN, ['--config', config]);
        worker = daemon(WORKER_BIN, ['--config', config]);
        // the origin as shipped: samples/nginx.conf, its ports and paths
        ngx = await startShippedNginx('sample', { vodRoot: out, liveRoot: live,
            ingestPort: statusPort, workerPort });
        const up = async (p) => (await fetch(`${ngx.base}${p}`).catch(() => null))?.ok;
        await waitFor('the ingest and worker status through nginx', async () =>
            (await up('/api/ingest/streams')) && (await up('/api/worker/jobs')),
        10000, () => `ingest:\n${ingest.log}\nworker:\n${worker.log}`);
        browser = await B.launch();
        page = await browser.context.newPage();
        V.watchPage(page);
        page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
        page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
        page.on('response', (r) => {
            if (r.status() >= 400)
                consoleLines.push(`http ${r.status()} ${r.url()}`);
        });
    });

    after(async () => {
        await browser?.close();
        ffmpeg?.kill('SIGKILL');
        for (const d of [worker, ingest]) {
            if (d && d.exitCode === null) {
                d.kill('SIGTERM');
                const t = setTimeout(() => d.kill('SIGKILL'), 5000);
                await d.exited;
                clearTimeout(t);
            }
        }
        await ngx?.stop();
        if (work)
            fs.rmSync(work, { recursive: true, force: true });
    });

    const dash = () => page.evaluate(() => {
        const d = window.cirrusDashboard;
        const v = document.querySelector('video');
        return { streams: d.streams.map((s) => s.key),
            assets: d.assets.map((a) => a.name), jobs: d.jobs,
            finished: d.finished.map((j) => ({ id: j.id, state: j.state })),
            engine: d.player.engine, src: d.player.src, fatal: d.fatal, errors: d.errors,
            latency: d.latency, currentTime: v.currentTime, polls: d.polls,
            levels: d.player.levels().length, level: d.player.level(),
            runningRows: document.querySelectorAll('#jobs li.running .progress').length };
    });

    test('lists the job while it runs, then the asset; the live stream', async () => {
        await page.goto(`${ngx.base}/`, { waitUntil: 'load' });
        assert.match(page.url(), /\/dashboard\/$/);
        await waitFor('the first poll', async () => (await dash()).polls > 0, 10000);

        // the job through the spool: written beside incoming/, renamed in
        const job = { input: `file://${C.sample(SAMPLE)}`,
            output: `file://${path.join(out, 'clip')}`, preset: 'mobile' };
        fs.mkdirSync(path.join(spool, 'incoming'), { recursive: true });
        fs.writeFileSync(path.join(spool, '.clip.json'), JSON.stringify(job));
        fs.renameSync(path.join(spool, '.clip.json'),
            path.join(spool, 'incoming', 'clip.json'));

        let sawRunning = null;
        const s = await waitFor('the asset in the VOD list', async () => {
            const st = await dash();
            if (!sawRunning && st.jobs.length) {
                sawRunning = st.jobs[0];
                // the page shows it with a progress bar
                assert.equal(st.runningRows, st.jobs.length);
            }
            return st.assets.includes('clip') && st;
        }, 60000, () => worker.log.slice(-3000));
        await waitFor('the finished job in the list', async () =>
            (await dash()).finished.some((j) => j.state === 'done'), 10000);
        assert.match(await page.locator('#jobs').innerText(), /clip[\s\S]*done/);
        if (sawRunning) {
            assert.ok(sawRunning.percent >= 0 && sawRunning.percent <= 100);
            console.log(`# job seen running at ${sawRunning.percent.toFixed(1)}%`);
        } else {
            console.log('# job finished between two polls; listed as done');
        }
        assert.ok(s.assets.includes('clip'));

        ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin',
            '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
            '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
            '-t', '120', '-c:v', 'libx264', '-preset', 'veryfast',
            '-tune', 'zerolatency', '-g', '30', '-b:v', '800k', '-c:a', 'aac',
            '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/cam`],
        { stdio: 'ignore' });
        await waitFor('the live stream in the list', async () =>
            (await dash()).streams.includes('cam'), 20000, () => ingest.log);
        // its first segment: before it the playlist is a 404 (logged by the
        // browser as a console error, which the last test forbids)
        await waitFor('the live playlist', async () =>
            (await fetch(`${ngx.base}/live/cam/master.m3u8`)).ok, 20000);
        assert.match(await page.locator('#live').innerText(), /cam[\s\S]*LIVE/);
    });

    test('the VOD asset plays in hls.js with its renditions and thumbnails', async () => {
        await page.click('#vod li[data-name="clip"] .play-hls');
        const st = await waitFor('VOD playback (hls.js)', async () => {
            const x = await dash();
            assert.equal(x.fatal, null, JSON.stringify(x.errors));
            return x.currentTime > 1.5 && x;
        }, 20000);
        assert.equal(st.engine, 'hls');
        assert.ok(st.levels > 1, `${st.levels} renditions`);
        const options = await page.locator('#rendition option').allInnerTexts();
        assert.equal(options.length, st.levels + 1, options.join(', '));
        assert.ok(/720p/.test(options) && /360p/.test(options), options.join(", "));

        // pin the lowest rendition, then back to auto
        await page.selectOption('#rendition', String(st.levels - 1));
        const pinned = (await dash()).level;
        assert.deepEqual({ auto: pinned.auto }, { auto: false });
        await page.selectOption('#rendition', '-1');
        assert.equal((await dash()).level.auto, true);

        // hovering the seek bar at 90% shows the sprite tile of that time
        const box = await page.locator('#seek').boundingBox();
        await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
        const thumb = await waitFor('a thumbnail', () => page.evaluate(() => {
            const t = window.cirrusDashboard.thumb;
            const img = document.getElementById('thumb-img');
            return t && !document.getElementById('thumb').hidden && {
                t: t.t, bg: img.style.backgroundImage, pos: img.style.backgroundPosition,
                w: img.style.width, h: img.style.height };
        }), 5000);
        // the sprites of the version the asset's manifests point at
        const version = C.versionOf(path.join(out, 'clip'));
        const thumbs = `/vod/clip/v/${version}/thumbs`;
        const cue = vttCue(path.join(out, 'clip', 'v', version, 'thumbs',
            'thumbs.vtt'), thumb.t);
        assert.ok(cue, `a cue at ${thumb.t}`);
        assert.ok(thumb.bg.includes(`${thumbs}/${cue.image}`), thumb.bg);
        assert.equal(thumb.pos, `${-cue.x}px ${-cue.y}px`);
        assert.equal(thumb.w, `${cue.w}px`);
        const sprite = await fetch(`${ngx.base}${thumbs}/${cue.image}`);
        assert.equal(sprite.status, 200);
        assert.equal(sprite.headers.get('content-type'), 'image/jpeg');
        fs.mkdirSync(shots, { recursive: true });
        const shot = path.join(shots, 'dashboard-vod.png');
        await page.screenshot({ path: shot });
        console.log(`# screenshot: ${shot}`);
        await page.mouse.move(0, 0);
    });

    test('the VOD asset plays in dash.js', async () => {
        await page.click('#vod li[data-name="clip"] .play-dash');
        const st = await waitFor('VOD playback (dash.js)', async () => {
            const x = await dash();
            assert.equal(x.fatal, null, JSON.stringify(x.errors));
            return x.engine === 'dash' && x.currentTime > 1.5 && x;
        }, 20000);
        assert.ok(st.levels > 1, `${st.levels} representations`);
    });

    test('the VOD asset plays in Shaka Player, DASH and HLS', async () => {
        // the engine choice replays the current source (the MPD) in Shaka
        await page.selectOption('#engine', 'shaka');
        try {
            for (const button of [null, '.play-hls']) {
                if (button)
                    await page.click(`#vod li[data-name="clip"] ${button}`);
                const src = button ? /master\.m3u8$/ : /manifest\.mpd$/;
                let x;
                const st = await waitFor(`VOD playback (Shaka ${button || 'DASH'})`, async () => {
                    x = await dash();
                    assert.equal(x.fatal, null, JSON.stringify(x.errors));
                    return x.engine === 'shaka' && src.test(x.src) && x.currentTime > 1.5 && x;
                }, 20000, () => JSON.stringify(x));
                assert.ok(st.levels > 1, `${st.levels} renditions`);
            }
        } finally {
            await page.selectOption('#engine', 'auto');
        }
    });

    test('the live stream plays with a latency readout', async () => {
        await page.click('#live li[data-key="cam"] .play-hls');
        let first = null;
        const st = await waitFor('live playback (hls.js)', async () => {
            const x = await dash();
            assert.equal(x.fatal, null, JSON.stringify(x.errors));
            if (first === null && x.currentTime > 0)
                first = x.currentTime;
            return first !== null && x.currentTime > first + 2 &&
                x.latency != null && x;
        }, 30000);
        assert.ok(st.latency > 0 && st.latency < 10, `latency ${st.latency}`);
        assert.match(await page.locator('#stats').innerText(), /latency \d+\.\d\d s behind live/);
        const shot = path.join(shots, 'dashboard-live.png');
        await page.screenshot({ path: shot });
        console.log(`# screenshot: ${shot}; live latency ${st.latency.toFixed(2)} s`);
    });

    test('no console errors, nothing off loopback', () => {
        const errors = consoleLines.filter((l) => /^(error|pageerror)/.test(l));
        assert.deepEqual(errors, [], consoleLines.join('\n'));
        assert.deepEqual(browser.offLoopback, []);
    });
});
