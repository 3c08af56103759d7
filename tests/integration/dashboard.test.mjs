// The dashboard (samples/dashboard/) served by the origin, with the whole
// system behind it on loopback: nginx with the module, cirrus-ingest and
// cirrus-worker on a spool folder, both configured by one sectioned file.
// A short job goes through the spool and the ffmpeg CLI publishes a live
// stream; in headless Chromium the page lists both and the running job,
// plays the VOD asset (hls.js, then dash.js) and the live stream, offers
// the asset's renditions, shows sprite thumbnails on hovering the seek bar,
// and logs no console error.  The console part drives cirrus-worker's job
// API (api_port, proxied at /api/jobs/): a file uploaded through the page
// is queued, followed to done (the upload then removed) and played; a running job is cancelled, a
// failed one shows its reason and is retried; an asset is deleted once
// confirmed (gone from the store, its manifest 404); the engine menu offers only
// the engines of the manifest; the live stream has rendition health rows
// with graphs; the origin's requests per second show; on AWS's layout
// (console.json: presigned) a file goes straight to S3 (the AWS rig)
// through the job API's presigned URL and its job runs; a stream whose
// rungs cannot keep up raises the degraded banner.  Screenshots go to
// <build>/test-out/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, startShippedNginx } from './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';
import { tool } from '../aws-rig/clients.mjs';
import { start as startRig, stop as stopRig } from '../aws-rig/index.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const WORKER_BIN = process.env.CIRRUS_WORKER ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const SAMPLE = 'h264_720p2997.mp4';
const API_TOKEN = 'console-test-token-0123456789';

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

function daemon(bin, args, env = process.env) {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    const uploads = work && path.join(work, 'uploads');
    let ingest, worker, ffmpeg, ngx, browser, page, rtmpPort, rig;
    let tokenGiven = 0; // consoleLines before the token: the API's 401s

    before(async () => {
        for (const d of [out, live, spool, uploads])
            fs.mkdirSync(d, { recursive: true });
        fs.chmodSync(uploads, 0o1777); // nginx's workers may run as nobody
        rtmpPort = await freePort();
        const statusPort = await freePort();
        const workerPort = await freePort();
        const apiPort = await freePort();
        // one file, two sections: each daemon takes its own
        const config = path.join(work, 'cirrus.json');
        // a second application whose one rung cannot keep up (x264's
        // veryslow, 720p and 540p from 1080p30, on two cores): they drop
        // frames, the ingest marks them degraded
        const presets = path.join(work, 'presets');
        fs.mkdirSync(presets);
        fs.writeFileSync(path.join(presets, 'slow.json'), JSON.stringify({
            name: 'slow', description: 'a rung far slower than real time',
            video: { enabled: true, codec: 'h264', encoder_preset: 'veryslow', gop_seconds: 2,
                rungs: [{ name: 'slow720', height: 720, bitrate_kbps: 4000 },
                    { name: 'slow540', height: 540, bitrate_kbps: 3000 }] },
            audio: { enabled: true, bitrate_kbps: 96, channels: 2, sample_rate: 48000 },
            segment_seconds: 2, thumbnails: { enabled: false }, images: { enabled: false } }));
        fs.writeFileSync(config, JSON.stringify({
            ingest: { port: rtmpPort, status_port: statusPort, live_root: live,
                grace_seconds: 2, presets_dir: presets,
                applications: { live: {}, slow: { preset: 'slow' } } },
            worker: { spool_dir: spool, out_root: `file://${out}`,
                presets_dir: C.PRESETS_DIR, workers: 1, settle_seconds: 0.1,
                drain_seconds: 1, metrics_port: workerPort, api_port: apiPort,
                api_token: API_TOKEN, upload_dir: uploads,
                // the AWS layout's uploads: presigned PUTs to the S3 rig
                upload_s3_uri: 's3://cirrus-in/console/' },
        }, null, 2));
        rig = await startRig();
        ingest = daemon(INGEST_BIN, ['--config', config]);
        worker = daemon(WORKER_BIN, ['--config', config], rig.env());
        // the origin as shipped: samples/nginx.conf, its ports and paths
        ngx = await startShippedNginx('sample', { vodRoot: out, liveRoot: live,
            ingestPort: statusPort, workerPort, apiPort, uploadRoot: uploads });
        const up = async (p, ok = [200]) =>
            ok.includes((await fetch(`${ngx.base}${p}`).catch(() => null))?.status);
        await waitFor('the ingest and worker status through nginx', async () =>
            (await up('/api/ingest/streams')) && (await up('/api/worker/jobs')) &&
            (await up('/api/jobs/jobs', [401])),
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
        if (rig)
            await stopRig(rig);
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

        // the job API has a token: the console asks for it, keeps it in
        // sessionStorage only, and sends it as a bearer token
        await page.locator('#token-form').waitFor({ state: 'visible', timeout: 10000 });
        await page.fill('#token', API_TOKEN);
        await page.click('#token-form button[type=submit]');
        await waitFor('the job history with the token', () => page.evaluate(() =>
            document.getElementById('token-form').hidden &&
            !window.cirrusDashboard.historyError), 10000);
        await sleep(2500); // a poll sent before the token has answered by now
        tokenGiven = consoleLines.length;
        assert.deepEqual(await page.evaluate(() => ({
            session: sessionStorage.getItem('cirrus.apiToken'),
            local: localStorage.length, cookie: document.cookie })),
        { session: API_TOKEN, local: 0, cookie: '' });

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
        // the list is drawn from the page's state on its next render: it
        // may still show the running row a moment after the state has
        // the finished job (seen once: "clip 36%")
        let drawn = '';
        await waitFor('the finished job drawn in the list', async () =>
            /clip[\s\S]*done/.test(drawn = await page.locator('#jobs').innerText()), 10000,
        () => drawn);
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

    test('the live stream has rendition health rows, graphs; the origin its req/s', async () => {
        const health = await waitFor('health rows with graphs', () => page.evaluate(() => {
            const li = document.querySelector('#live li[data-key="cam"]');
            const rows = li ? [...li.querySelectorAll('table.health tr.rendition')] : [];
            const lines = li ? li.querySelectorAll('svg.spark polyline').length : 0;
            return rows.length && lines && {
                rows: rows.map((r) => r.dataset.rendition), lines,
                text: li.querySelector('table.health').innerText };
        }), 20000);
        assert.ok(health.rows.includes('video'), JSON.stringify(health));
        assert.match(health.text, /\d+ kb\/s · \d+\.\d fps/);
        assert.match(health.text, /dropped \d+/);
        // the figures kept in the page: several samples of this rendition
        const n = await page.evaluate(() =>
            window.cirrusDashboard.health.series.get('cam/video').length);
        assert.ok(n >= 2, `${n} samples`);
        assert.equal(await page.locator('#banner').isHidden(), true);
        // no token asked for: this worker's API has none
        assert.equal(await page.locator('#token-form').isVisible(), false);
        await page.screenshot({ path: path.join(shots, 'console-health.png') });
        await waitFor('requests per second', async () =>
            /\d+\.\d req\/s/.test(await page.locator('#rps').innerText()), 10000);
    });

    // the console's view of the job API: [{id, state, progress, error, input}]
    const history = () => page.evaluate(() => window.cirrusDashboard.history);
    const row = (id) => page.locator(`#history li[data-id="${id}"]`);
    const jobWith = async (what, pred, timeoutMs) => waitFor(what, async () =>
        (await history()).find(pred), timeoutMs, () => worker.log.slice(-3000));

    test('the console uploads a file, follows its job to done, and plays it', async () => {
        await page.setInputFiles('#job-file', C.sample(SAMPLE));
        await page.fill('#job-preset', 'mobile');
        await page.click('#job-form button[type=submit]');
        const job = await jobWith('the uploaded file\'s job', (j) =>
            /\/uploads\/h264_720p2997-[0-9a-z]+\.mp4$/.test(j.input || ''), 20000);
        // the whole file landed in the upload folder, byte for byte
        const name = path.basename(new URL(job.input).pathname);
        assert.deepEqual(fs.readFileSync(path.join(uploads, name)),
            fs.readFileSync(C.sample(SAMPLE)));
        const seen = [];
        const done = await waitFor('the uploaded job done', async () => {
            const j = (await history()).find((x) => x.id === job.id);
            if (j?.state === 'running') {
                const text = await row(job.id).innerText().catch(() => '');
                const m = /(\d+)%/.exec(text);
                if (m)
                    seen.push(Number(m[1]));
            }
            assert.notEqual(j?.state, 'failed', JSON.stringify(j));
            return j?.state === 'done' && j;
        }, 90000, () => worker.log.slice(-3000));
        assert.equal(done.progress, 100);
        // its job done, the upload leaves the upload folder (upload_dir)
        await waitFor('the upload removed', () => !fs.existsSync(path.join(uploads, name)),
            5000, () => worker.log.slice(-2000));
        console.log(`# upload job ${job.id}: progress seen ${seen.join(' ')}`);
        assert.ok(seen.length > 0, 'the running job showed a percent');
        assert.ok(seen.every((p, i) => p >= 0 && p <= 100 && (i === 0 || p >= seen[i - 1])),
            seen.join(' '));
        // its asset: out_root/<the uploaded file's name>
        const asset = name.replace(/\.mp4$/, '');
        await waitFor('the uploaded asset in the VOD list', async () =>
            (await dash()).assets.includes(asset), 10000);
        await page.click(`#vod li[data-name="${asset}"] .play-hls`);
        await waitFor('the uploaded asset plays', async () => {
            const x = await dash();
            assert.equal(x.fatal, null, JSON.stringify(x.errors));
            return x.currentTime > 1 && x;
        }, 20000);
    });

    test('the engine menu offers the engines of the manifest', async () => {
        const offered = () => page.evaluate(() => [...document.querySelectorAll('#engine option')]
            .filter((o) => !o.disabled).map((o) => o.value));
        await page.click('#vod li[data-name="clip"] .play-hls');
        assert.deepEqual(await offered(), ['auto', 'hls', 'shaka', 'native']);
        await page.click('#vod li[data-name="clip"] .play-dash');
        assert.deepEqual(await offered(), ['auto', 'dash', 'shaka']);
        // dash.js chosen, then an HLS asset: back to auto, played by hls.js
        await page.selectOption('#engine', 'dash');
        await waitFor('dash.js playing', async () => {
            const x = await dash();
            return x.engine === 'dash' && x.currentTime > 0.5;
        }, 20000);
        await page.click('#vod li[data-name="clip"] .play-hls');
        assert.equal(await page.inputValue('#engine'), 'auto');
        const st = await waitFor('HLS after dash.js was chosen', async () => {
            const x = await dash();
            assert.equal(x.fatal, null, JSON.stringify(x.errors));
            return x.currentTime > 1 && x;
        }, 20000);
        assert.equal(st.engine, 'hls');
    });

    test('the console cancels a running job', async () => {
        await page.fill('#job-input', `file://${C.sample('h264_1080p30.mp4')}`);
        await page.fill('#job-output', `file://${path.join(out, 'cancelme')}`);
        await page.fill('#job-preset', 'web');
        await page.click('#job-form button[type=submit]');
        const job = await jobWith('the job running', (j) =>
            /cancelme$/.test(j.output || '') && j.state === 'running', 30000);
        await row(job.id).locator('.cancel').click();
        const j = await jobWith('the job cancelled', (x) =>
            x.id === job.id && x.state === 'cancelled', 30000);
        assert.match(JSON.stringify(j.error), /cancel/);
        assert.match(await row(job.id).innerText(), /cancelled/);
        assert.equal(await row(job.id).locator('.cancel').count(), 0);
        assert.ok(!fs.existsSync(path.join(out, 'cancelme', 'master.m3u8')));
    });

    test('a failed job shows its reason; retried once its input is there, it runs', async () => {
        const later = path.join(work, 'later.mp4');
        await page.fill('#job-input', `file://${later}`);
        await page.fill('#job-output', '');
        await page.fill('#job-preset', 'mobile');
        await page.click('#job-form button[type=submit]');
        const job = await jobWith('the job failed', (j) =>
            /later\.mp4$/.test(j.input || '') && j.state === 'failed', 30000);
        assert.match(await row(job.id).locator('.reason').innerText(), /does not exist/);
        // the state filter: only failed jobs
        await page.selectOption('#job-filter', 'failed');
        await waitFor('the failed filter', async () => {
            const h = await history();
            return h.length && h.every((j) => j.state === 'failed') &&
                h.some((j) => j.id === job.id);
        }, 10000);
        await page.selectOption('#job-filter', '');
        fs.copyFileSync(C.sample(SAMPLE), later);
        await row(job.id).locator('.retry').click();
        await jobWith('the retried job done', (j) => {
            assert.ok(!(j.id === job.id && j.state === 'failed' && j.attempt > 1),
                JSON.stringify(j));
            return j.id === job.id && j.state === 'done';
        }, 90000);
    });

    test('the console deletes an asset once confirmed: gone from the store, its manifest 404', async () => {
        // the retried job's asset (out_root/later), not the one playing
        const asset = 'later';
        const manifest = `${ngx.base}/vod/${asset}/master.m3u8`;
        await waitFor('the asset in the VOD list', async () =>
            (await dash()).assets.includes(asset), 10000);
        assert.equal((await fetch(manifest)).status, 200);
        const button = page.locator(`#vod li[data-name="${asset}"] .delete`);
        let asked = '';
        page.once('dialog', (d) => {
            asked = d.message();
            d.dismiss();
        });
        await button.click();
        await waitFor('the confirmation', () => asked, 5000);
        assert.match(asked, /Delete the asset "later"\?/);
        await sleep(500);
        assert.ok(fs.existsSync(path.join(out, asset, 'master.m3u8')), 'dismissed: kept');
        page.once('dialog', (d) => d.accept());
        await button.click();
        await waitFor('the asset gone from the list', async () =>
            !(await dash()).assets.includes(asset), 10000);
        assert.ok(!fs.existsSync(path.join(out, asset)), 'its folder is gone');
        assert.ok(!fs.existsSync(path.join(out, `${asset}.job.json`)), 'and its result');
        // nginx's open_file_cache (samples/nginx.conf) may hold a deleted
        // manifest open until open_file_cache_valid (60 s) has passed
        const t0 = Date.now();
        await waitFor('the manifests 404 at the origin', async () =>
            (await fetch(manifest)).status === 404 &&
            (await fetch(`${ngx.base}/vod/${asset}/manifest.mpd`)).status === 404, 75000);
        console.log(`# the deleted manifests 404 after ${Date.now() - t0} ms`);
        assert.match(await page.locator('#job-status').innerText(), /^deleted later \(\d+ files\)$/);
        assert.ok(fs.existsSync(path.join(out, 'clip', 'master.m3u8')), 'the other assets stay');
    });

    test('on AWS (console.json says presigned): the file goes straight to S3, then its job runs', async () => {
        // what the AWS layout's admin server answers; the page asks the job
        // API for a presigned PUT, sends the file to S3 (cross-origin: the
        // bucket's CORS), then queues the job on the s3:// input
        await page.route('**/api/console.json', (route) => route.fulfill({
            contentType: 'application/json', body: '{"upload": "presigned"}' }));
        try {
            await page.reload();
            await waitFor('the file input offered', () => page.locator('#job-file').isVisible(), 10000);
            await page.setInputFiles('#job-file', C.sample('video_only.mp4'));
            await page.fill('#job-preset', 'mobile');
            await page.click('#job-form button[type=submit]');
            const job = await jobWith('the S3 upload\'s job', (j) =>
                /^s3:\/\/cirrus-in\/console\/video_only-[0-9a-z]+\.mp4$/.test(j.input || ''), 20000);
            const key = job.input.replace('s3://cirrus-in/', '');
            const got = path.join(work, 'from-s3.mp4');
            tool(rig, ['s3-get', job.input, got]);
            assert.deepEqual(fs.readFileSync(got), fs.readFileSync(C.sample('video_only.mp4')),
                `${key}: the object is the file, byte for byte`);
            await waitFor('the S3 upload\'s job done', async () => {
                const j = (await history()).find((x) => x.id === job.id);
                assert.notEqual(j?.state, 'failed', JSON.stringify(j));
                return j?.state === 'done';
            }, 90000, () => worker.log.slice(-3000));
        } finally {
            await page.unroute('**/api/console.json');
        }
    });

    test('a rendition that drops frames raises the banner, named', async () => {
        const pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin',
            '-re', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30',
            '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
            '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast',
            '-tune', 'zerolatency', '-g', '30', '-b:v', '4000k', '-c:a', 'aac',
            '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/slow/burn`], { stdio: 'ignore' });
        try {
            const text = await waitFor('the degraded banner', async () => {
                const b = page.locator('#banner');
                return (await b.isVisible()) && await b.innerText();
            }, 45000, () => ingest.log.slice(-3000));
            assert.match(text, /degraded: (burn\/slow(720|540)(, )?)+ \(dropping frames\)/);
            // the ingest says the same: its status marks the rendition
            const st = await (await fetch(`${ngx.base}/api/ingest/streams`)).json();
            const burn = (st.streams || st).find((x) => x.key === 'burn');
            const rung = burn?.abr?.find((r) => r.degraded);
            assert.ok(rung?.degraded && rung.dropped_frames > 0, JSON.stringify(burn));
            // its row in the live panel is marked
            assert.ok(await page.locator('#live tr.rendition.degraded').count() >= 1);
        } finally {
            pub.kill('SIGKILL');
        }
    });

    test('no console errors, nothing off loopback', () => {
        // before the token was given, the API's 401s (and only those)
        const asked = consoleLines.slice(0, tokenGiven);
        assert.ok(asked.some((l) => /^http 401 .*\/api\/jobs\//.test(l)), asked.join('\n'));
        const errors = [...asked.filter((l) => /^(error|pageerror)/.test(l) &&
            !/status of 401/.test(l)), ...consoleLines.slice(tokenGiven)
            .filter((l) => /^(error|pageerror)/.test(l))];
        assert.deepEqual(errors, [], consoleLines.join('\n'));
        assert.deepEqual(browser.offLoopback, []);
    });
});
