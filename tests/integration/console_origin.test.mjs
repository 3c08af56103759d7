// The console in production: deploy/nginx/cirrus-origin.conf.in as shipped
// (only ports and paths substituted, lib/nginx.mjs), the console tree laid
// out as deploy/Dockerfile installs it, a real cirrus-worker with a job API
// token behind it.  The console and its /api/ are served on the admin
// listen only: the public (ALB/CloudFront) server and the peer server
// answer 404 for all of it; from a network not allowed the admin server
// answers 403.  On the admin side the page and every player library it
// loads are served, the job API works with the bearer token and answers
// 401 without it (uploads too), and in headless Chromium the page asks for
// the token, then lists the jobs, with no console error.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { consoleLibs, freePort, nginxAvailable, startShippedNginx } from './lib/nginx.mjs';

const WORKER_BIN = process.env.CIRRUS_WORKER ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const TOKEN = 'console-origin-token-0123456789';
const missing = !nginxAvailable() ? 'nginx or the module is missing' :
    !fs.existsSync(WORKER_BIN) ? 'cirrus-worker is not built' : null;

describe('the console on the production origin', { skip: missing || false }, () => {
    const work = missing ? null : C.tmpDir('console-origin-');
    const out = work && path.join(work, 'vod');
    const spool = work && path.join(work, 'spool');
    const uploads = work && path.join(work, 'uploads');
    let worker, ngx, closed;
    const bearer = { authorization: `Bearer ${TOKEN}` };

    before(async () => {
        for (const d of [out, spool, uploads])
            fs.mkdirSync(d, { recursive: true });
        fs.chmodSync(uploads, 0o1777); // nginx's workers may run as nobody
        const apiPort = await freePort();
        const workerPort = await freePort();
        worker = spawn(WORKER_BIN, ['--set', `spool_dir=${spool}`,
            '--set', `out_root=file://${out}`, '--set', `presets_dir=${C.PRESETS_DIR}`,
            '--set', 'workers=1', '--set', `api_port=${apiPort}`,
            '--set', `api_token=${TOKEN}`, '--set', `metrics_port=${workerPort}`,
            '--set', `upload_dir=${uploads}`], { stdio: ['ignore', 'pipe', 'pipe'] });
        worker.log = '';
        worker.stdout.on('data', (d) => (worker.log += d));
        worker.stderr.on('data', (d) => (worker.log += d));
        ngx = await startShippedNginx('deploy', { vodRoot: out, uploadRoot: uploads,
            apiPort, workerPort });
        // the same template, the admin server open to another network only
        closed = await startShippedNginx('deploy', { vodRoot: out, uploadRoot: uploads,
            apiPort, workerPort, adminAllow: ['192.0.2.0/24'] });
        await C.waitFor('the job API through the admin server', async () =>
            (await fetch(`${ngx.adminBase}/api/jobs/jobs`).catch(() => null))?.status === 401,
        { timeoutMs: 10000, detail: () => worker.log });
    });

    after(async () => {
        worker?.kill('SIGKILL');
        await ngx?.stop();
        await closed?.stop();
        if (work)
            fs.rmSync(work, { recursive: true, force: true });
    });

    const indexHtml = () => fs.readFileSync(path.join(C.SOURCE_DIR, 'samples',
        'dashboard', 'index.html'), 'utf8');
    // everything the console is: the page, its modules, the players, its APIs
    const consolePaths = () => ['/', '/dashboard/', '/dashboard/index.html',
        '/dashboard/app.js', '/dashboard/jobs.js', '/dashboard/style.css',
        ...[...indexHtml().matchAll(/<script src="(\/lib\/[^"]+)"/g)].map((m) => m[1]),
        '/api/jobs/jobs', '/api/jobs/openapi.json', '/api/worker/jobs',
        '/api/ingest/streams', '/api/vod/', '/api/console.json', '/vod/x/master.m3u8'];

    test('not on the public server nor the peer port: 404, with or without the token', async () => {
        for (const port of [ngx.port, ngx.peerPort]) {
            for (const p of consolePaths()) {
                for (const headers of [{}, bearer]) {
                    const r = await fetch(`http://127.0.0.1:${port}${p}`,
                        { headers, redirect: 'manual' });
                    assert.equal(r.status, 404, `${port}${p}`);
                }
            }
            const put = await fetch(`http://127.0.0.1:${port}/api/uploads/x.mp4`,
                { method: 'PUT', headers: bearer, body: 'x' });
            assert.equal(put.status, 404);
            const del = await fetch(`http://127.0.0.1:${port}/api/jobs/assets/x`,
                { method: 'DELETE', headers: bearer });
            assert.equal(del.status, 404);
        }
        assert.deepEqual(fs.readdirSync(uploads), [], 'nothing uploaded');
    });

    test('on the admin server from a network not allowed: 403', async () => {
        for (const p of consolePaths()) {
            const r = await fetch(`${closed.adminBase}${p}`, { headers: bearer,
                redirect: 'manual' });
            assert.equal(r.status, 403, p);
        }
    });

    test('on the admin server: the page and every library it loads', async () => {
        const root = await fetch(`${ngx.adminBase}/`, { redirect: 'manual' });
        assert.equal(root.status, 302);
        assert.equal(new URL(root.headers.get('location'), ngx.adminBase).pathname,
            '/dashboard/');
        const page = await fetch(`${ngx.adminBase}/dashboard/`);
        assert.equal(page.status, 200);
        assert.match(page.headers.get('content-type'), /^text\/html/);
        assert.equal(await page.text(), indexHtml());
        const libs = [...indexHtml().matchAll(/<script src="(\/lib\/[^"]+)"/g)]
            .map((m) => m[1]);
        assert.equal(libs.length, 3, libs.join(' '));
        // what the page loads is what the Dockerfile installs
        assert.deepEqual(libs.map((l) => l.replace(/^\/lib\//, '')).sort(),
            consoleLibs().map(([, to]) => to).sort());
        for (const l of libs) {
            const r = await fetch(`${ngx.adminBase}${l}`);
            assert.equal(r.status, 200, l);
            assert.match(r.headers.get('content-type'), /^text\/javascript/, l);
            assert.ok((await r.arrayBuffer()).byteLength > 100000, l);
        }
        for (const m of ['app.js', 'jobs.js', 'player.js', 'health.js', 'thumbs.js']) {
            const r = await fetch(`${ngx.adminBase}/dashboard/${m}`);
            assert.equal(r.status, 200, m);
            assert.match(r.headers.get('content-type'), /^text\/javascript/, m);
        }
    });

    test('the job API with the token works, without it 401; uploads too', async () => {
        const base = `${ngx.adminBase}/api/jobs`;
        for (const [method, p] of [['GET', '/jobs'], ['GET', '/openapi.json'],
            ['POST', '/jobs'], ['DELETE', '/assets/x'], ['POST', '/jobs/x/cancel']]) {
            for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
                const r = await fetch(`${base}${p}`, { method, headers });
                assert.equal(r.status, 401, `${method} ${p}`);
            }
        }
        let r = await fetch(`${base}/jobs`, { headers: bearer });
        assert.equal(r.status, 200);
        assert.deepEqual(await r.json(), { jobs: [], next_cursor: null });
        r = await fetch(`${base}/assets/nothere`, { method: 'DELETE', headers: bearer });
        assert.equal(r.status, 404);
        assert.match((await r.json()).error, /^no asset nothere/);

        // an upload: refused without the token, written whole with it
        const body = fs.readFileSync(C.sample('video_only.mp4'));
        r = await fetch(`${ngx.adminBase}/api/uploads/clip-1.mp4`, { method: 'PUT', body });
        assert.equal(r.status, 401);
        assert.ok(!fs.existsSync(path.join(uploads, 'clip-1.mp4')));
        r = await fetch(`${ngx.adminBase}/api/uploads/clip-1.mp4`, { method: 'PUT', body,
            headers: bearer });
        assert.equal(r.status, 201);
        assert.deepEqual(fs.readFileSync(path.join(uploads, 'clip-1.mp4')), body);
        const cfg = await (await fetch(`${ngx.adminBase}/api/console.json`)).json();
        assert.equal(cfg.upload_dir, `${uploads}/`);

        // queued on it, done: the asset is listed and served here, and the
        // upload is gone from the upload folder (the worker's upload_dir)
        r = await fetch(`${base}/jobs`, { method: 'POST', headers: { ...bearer,
            'content-type': 'application/json' }, body: JSON.stringify({
            input: `file://${cfg.upload_dir}clip-1.mp4`, only: 'hls', preset: 'mobile' }) });
        assert.equal(r.status, 201);
        const { id } = await r.json();
        await C.waitFor('the job done', async () => (await (await fetch(`${base}/jobs/${id}`,
            { headers: bearer })).json()).state === 'done', { timeoutMs: 90000,
            every: 300, detail: () => worker.log.slice(-2000) });
        const listing = await (await fetch(`${ngx.adminBase}/api/vod/`)).json();
        assert.ok(listing.some((e) => e.name === 'clip-1' && e.type === 'directory'));
        assert.equal((await fetch(`${ngx.adminBase}/vod/clip-1/master.m3u8`)).status, 200);
        assert.ok(!fs.existsSync(path.join(uploads, 'clip-1.mp4')), 'the upload removed');
        assert.equal((await fetch(`${ngx.adminBase}/api/worker/jobs`)).status, 200);
    });

    test('in Chromium: the page asks for the token, then lists the jobs', {
        skip: B.browserAvailable() || false,
    }, async () => {
        const browser = await B.launch();
        const lines = [];
        try {
            const page = await browser.context.newPage();
            page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
            page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
            await page.goto(`${ngx.adminBase}/`, { waitUntil: 'load' });
            assert.deepEqual(await page.evaluate(() => [typeof window.Hls,
                typeof window.dashjs, typeof window.shaka]),
            ['function', 'object', 'object'], 'the players loaded from the image\'s lib/');
            await page.locator('#token-form').waitFor({ state: 'visible', timeout: 10000 });
            const before = lines.length;
            await page.fill('#token', TOKEN);
            await page.click('#token-form button[type=submit]');
            await C.waitFor('the job list', () => page.evaluate(() =>
                document.getElementById('token-form').hidden &&
                window.cirrusDashboard.history.length > 0), { timeoutMs: 10000 });
            assert.match(await page.locator('#history').innerText(), /clip-1\.mp4/);
            // before the token: the API's 401s only (the ingest is not
            // running here: its status is a 502, shown in the page)
            const errors = lines.filter((l, i) => /^(error|pageerror)/.test(l) &&
                !(i < before && /status of 401/.test(l)) && !/status of 502/.test(l));
            assert.deepEqual(errors, [], lines.join('\n'));
            assert.deepEqual(browser.offLoopback, []);
        } finally {
            await browser.close();
        }
    });
});
