// cirrus-worker on a local spool: two workers, media files and job JSONs
// dropped in, each asset produced once with its result JSON; poison media
// parked in failed/; SIGKILL mid-job then a restart retries the stale claim;
// SIGTERM drains within its bound.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { checkExposition, sampleValue } from './lib/prometheus.mjs';

const WORKER_BIN = process.env.CIRRUS_WORKER ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const work = C.tmpDir('worker-');
const children = new Set();
after(() => {
    for (const c of children)
        c.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startWorker(spool, out, sets = {}) {
    const args = [];
    const opts = { spool_dir: spool, out_root: `file://${out}`, workers: 2,
        default_preset: 'mobile', presets_dir: C.PRESETS_DIR,
        visibility_seconds: 3, settle_seconds: 0.3, max_attempts: 2,
        metrics_port: -1, drain_seconds: 30, ...sets };
    for (const [k, v] of Object.entries(opts))
        args.push('--set', `${k}=${v}`);
    const child = spawn(WORKER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.log = '';
    child.stdout.on('data', (d) => (child.log += d));
    child.stderr.on('data', (d) => (child.log += d));
    child.exited = new Promise((ok) => child.on('exit', (code, signal) => {
        children.delete(child);
        ok({ code, signal });
    }));
    return child;
}

// Drops a file into incoming/ the safe way: written beside, renamed in.
// mtime (seconds): the same file delivered again keeps it; a new upload of
// the same name has a new one (and publishes a new version).
function drop(spool, name, { from, text, mtime }) {
    const inc = path.join(spool, 'incoming');
    fs.mkdirSync(inc, { recursive: true });
    const tmp = path.join(inc, `.tmp-${name}`);
    if (from)
        fs.copyFileSync(from, tmp);
    else
        fs.writeFileSync(tmp, text);
    if (mtime !== undefined)
        fs.utimesSync(tmp, mtime, mtime);
    fs.renameSync(tmp, path.join(inc, name));
}

const VIDEO_ONLY_MTIME = 1796563604; // one upload of video_only.mp4

const waitFor = (what, fn, timeoutMs = 120000, child = null) =>
    C.waitFor(what, fn, { timeoutMs, every: 100,
        detail: () => (child ? `worker log:\n${child.log.slice(-4000)}` : '') });

function metricsPort(child) {
    const m = /metrics on http:\/\/127\.0\.0\.1:(\d+)\//.exec(child.log);
    return m ? Number(m[1]) : 0;
}

// Every URI a master playlist names exists, and every segment its media
// playlists name: the asset is whole.
function assetComplete(dir) {
    const master = path.join(dir, 'master.m3u8');
    if (!fs.existsSync(master))
        return false;
    const uris = fs.readFileSync(master, 'utf8').split('\n')
        .flatMap((l) => l.startsWith('#') ?
            [...l.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]) :
            (l.trim() ? [l.trim()] : []));
    assert.ok(uris.length > 0);
    for (const u of uris) {
        const p = path.join(dir, u);
        assert.ok(fs.existsSync(p), `${u} named by the master exists`);
        for (const l of fs.readFileSync(p, 'utf8').split('\n')) {
            const seg = l.startsWith('#EXT-X-MAP') ? /URI="([^"]+)"/.exec(l)?.[1]
                : (!l.startsWith('#') && l.trim()) ? l.trim() : null;
            if (seg)
                assert.ok(fs.existsSync(path.join(path.dirname(p), seg)),
                    `${seg} of ${u} exists`);
        }
    }
    return true;
}

describe('cirrus-worker with a spool folder', () => {
    const spool = path.join(work, 'spool');
    const out = path.join(work, 'out');
    let w;

    test('two workers: every asset once, results, poison parked', async () => {
        w = startWorker(spool, out);
        const media = ['video_only.mp4', 'h264_720p2997.mp4',
            'odd_1366x768.mp4'];
        for (const m of media)
            drop(spool, m, { from: C.sample(m), mtime: m === 'video_only.mp4'
                ? VIDEO_ONLY_MTIME : undefined });
        drop(spool, 'job-a.json', { text: JSON.stringify({
            input: `file://${C.sample('h264_720p2997.mp4')}`,
            output: `file://${path.join(out, 'job-a')}`, preset: 'mobile',
            only: 'hls' }) });
        drop(spool, 'job-b.json', { text: JSON.stringify({
            input: C.sample('portrait_1080x1920.mp4'), only: 'hls,dash' }) });
        drop(spool, 'poison.mp4', { from: C.sample('not_media.mp4') });
        drop(spool, 'bad-job.json', { text: '{"input": "x.mp4", "colour": 1}' });

        const assets = ['video_only', 'h264_720p2997', 'odd_1366x768',
            'job-a', 'portrait_1080x1920'];
        // /metrics scraped while jobs run: a running job's progress is
        // labelled job_id (Prometheus owns `job`)
        const running = new Map();
        let scrapes = 0;
        const scrapeUntil = Date.now() + 180000;
        const scraper = (async () => {
            while (Date.now() < scrapeUntil && w.exitCode === null) {
                const port = metricsPort(w);
                const r = port ? await fetch(`http://127.0.0.1:${port}/metrics`)
                    .catch(() => null) : null;
                if (r?.ok) {
                    const fam = checkExposition(await r.text(),
                        'cirrus_worker_');
                    scrapes++;
                    for (const m of fam.get('cirrus_worker_job_percent')
                        .metrics)
                        running.set(m.labels.job_id, m.value);
                }
                if (assets.every((a) => C.readJson(
                    path.join(out, `${a}.job.json`))?.state === 'done'))
                    return;
                await sleep(200);
            }
        })();
        scraper.catch(() => {}); // awaited below, after the jobs
        const results = {};
        await waitFor('every asset', () => assets.every((a) => {
            const r = C.readJson(path.join(out, `${a}.job.json`));
            if (r?.state !== 'done')
                return false;
            results[a] = r;
            return true;
        }), 180000, w);
        for (const a of assets) {
            assert.ok(assetComplete(path.join(out, a)), `${a} complete`);
            const r = results[a];
            assert.equal(r.attempt, 1);
            assert.equal(r.percent, 100);
            assert.ok(r.elapsed > 0 && r.duration > 0 && r.speed > 0);
            assert.ok(r.outputs.length >= 2, 'renditions listed');
            assert.equal(r.error, null);
            // claimed exactly once across the run
            const claims = w.log.split('\n').filter((l) =>
                l.includes(`[worker job=${a}] claimed`));
            assert.equal(claims.length, 1, `${a} claimed once`);
        }
        assert.ok(fs.existsSync(path.join(out, 'portrait_1080x1920',
            'manifest.mpd')));
        assert.ok(!fs.existsSync(path.join(out, 'job-a', 'manifest.mpd')),
            'only: hls honoured');

        // poison: a permanent error parks it at once with the error JSON
        const err = await waitFor('poison parked', () => C.readJson(
            path.join(spool, 'failed', 'poison.mp4.error.json')), 30000, w);
        assert.equal(err.permanent, true);
        assert.equal(err.attempts, 1);
        assert.equal(err.error.code, 'CIR_EMEDIA');
        assert.ok(fs.existsSync(path.join(spool, 'failed', 'poison.mp4')));
        assert.ok(!fs.existsSync(path.join(out, 'poison', 'master.m3u8')));
        const bad = C.readJson(path.join(spool, 'failed',
            'bad-job.json.error.json'));
        assert.match(bad.error.error, /colour/);

        // nothing left claimed, everything done once
        assert.deepEqual(fs.readdirSync(path.join(spool, 'claimed')), []);
        assert.deepEqual(fs.readdirSync(path.join(spool, 'incoming')), []);
        await scraper;
        assert.ok(scrapes > 0 && running.size > 0,
            `progress of a running job seen (${scrapes} scrapes)`);
        for (const [id, pct] of running) {
            assert.ok(assets.includes(id) || id === 'poison', id);
            assert.ok(Number(pct) >= 0 && Number(pct) <= 100, pct);
        }
        const port = metricsPort(w);
        assert.ok(port > 0, 'metrics port logged');
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`))
            .text();
        const fam = checkExposition(text, 'cirrus_worker_');
        assert.equal(sampleValue(fam, 'cirrus_worker_jobs_total',
            { state: 'done' }), '5');
        assert.match(text, /cirrus_worker_jobs_total\{state="done"\} 5\n/);
        assert.match(text, /cirrus_worker_jobs_total\{state="failed"\} 1\n/);
        assert.match(text, /cirrus_worker_queue_wait_seconds_count 6\n/);
        assert.match(text, /cirrus_worker_transcode_speed \d/);
    });

    test('a redelivered finished job is acknowledged without redoing it',
        async () => {
            const master = path.join(out, 'video_only', 'master.m3u8');
            const before = fs.statSync(master).mtimeMs;
            // the same upload again (a redelivery after a crash before the
            // ack): its published marker says it is done
            drop(spool, 'video_only.mp4', { from: C.sample('video_only.mp4'),
                mtime: VIDEO_ONLY_MTIME });
            await waitFor('skip', () =>
                /\[worker job=video_only\] outputs already complete/
                    .test(w.log), 30000, w);
            assert.equal(fs.statSync(master).mtimeMs, before);
        });

    test('SIGTERM with nothing running exits at once', async () => {
        const t0 = Date.now();
        w.kill('SIGTERM');
        const r = await w.exited;
        assert.equal(r.code, 0);
        assert.ok(Date.now() - t0 < 3000);
    });
});

describe('probes for an orchestrator', () => {
    test('/healthz while the loop turns; /readyz says when the intake ' +
        'fails and when it is back', async () => {
        const spool = path.join(work, 'probe-spool');
        const w = startWorker(spool, path.join(work, 'probe-out'));
        await waitFor('the status port', () => metricsPort(w) > 0, 20000, w);
        const base = `http://127.0.0.1:${metricsPort(w)}`;
        const probe = async (p) => {
            const r = await fetch(`${base}${p}`);
            return { status: r.status, body: await r.json() };
        };
        await waitFor('ready', async () => (await probe('/readyz'))
            .status === 200, 20000, w);
        assert.deepEqual(await probe('/readyz').then((r) => r.body.status),
            'ready');
        const h = await probe('/healthz');
        assert.equal(h.status, 200);
        assert.equal(h.body.status, 'ok');
        assert.ok(h.body.loop_age_seconds >= 0 &&
            h.body.loop_age_seconds < 5, JSON.stringify(h.body));
        // the spool folder vanishes (an unmounted volume): not ready, with
        // the intake's error; alive all the same
        fs.rmSync(spool, { recursive: true, force: true });
        await waitFor('not ready', async () => (await probe('/readyz'))
            .status === 503, 20000, w);
        const r = await probe('/readyz');
        assert.equal(r.body.status, 'intake failing');
        assert.match(r.body.intake_error, /spool/);
        assert.equal((await probe('/healthz')).status, 200);
        // back: ready again
        for (const d of ['incoming', 'claimed', 'failed', 'done'])
            fs.mkdirSync(path.join(spool, d), { recursive: true });
        await waitFor('ready again', async () => (await probe('/readyz'))
            .status === 200, 20000, w);
        w.kill('SIGTERM');
        assert.equal((await w.exited).code, 0);
    });
});

describe('crash and shutdown', () => {
    const spool = path.join(work, 'spool2');
    const out = path.join(work, 'out2');
    const asset = path.join(out, 'h264_1080p30');

    test('SIGKILL mid-job: the stale claim is retried and completes',
        async () => {
            const w1 = startWorker(spool, out, { workers: 1 });
            drop(spool, 'h264_1080p30.mp4',
                { from: C.sample('h264_1080p30.mp4') });
            await waitFor('running', () => C.readJson(
                `${asset}.job.json`)?.state === 'running', 30000, w1);
            await sleep(300);
            w1.kill('SIGKILL');
            await w1.exited;
            assert.ok(fs.existsSync(path.join(spool, 'claimed',
                'h264_1080p30.mp4')), 'left claimed');
            assert.ok(!fs.existsSync(path.join(asset, 'master.m3u8')),
                'a killed job leaves no master');
            const w2 = startWorker(spool, out, { workers: 1 });
            // until it is done, the asset never looks complete
            await waitFor('retried', () => {
                const r = C.readJson(`${asset}.job.json`);
                if (r?.state !== 'done') {
                    if (fs.existsSync(path.join(asset, 'master.m3u8')))
                        assetComplete(asset);
                    return false;
                }
                return true;
            }, 120000, w2);
            const r = C.readJson(`${asset}.job.json`);
            assert.equal(r.attempt, 2);
            assert.ok(assetComplete(asset));
            assert.ok(fs.existsSync(path.join(spool, 'done',
                'h264_1080p30.mp4')));
            w2.kill('SIGTERM');
            assert.equal((await w2.exited).code, 0);
        });

    test('SIGTERM drains within drain_seconds and releases the job',
        async () => {
            fs.rmSync(asset, { recursive: true, force: true });
            fs.rmSync(`${asset}.job.json`, { force: true });
            fs.rmSync(path.join(spool, 'done'), { recursive: true,
                force: true });
            const w = startWorker(spool, out, { workers: 1,
                drain_seconds: 0.5 });
            drop(spool, 'h264_1080p30.mp4',
                { from: C.sample('h264_1080p30.mp4') });
            await waitFor('running', () => C.readJson(
                `${asset}.job.json`)?.state === 'running', 30000, w);
            const t0 = Date.now();
            w.kill('SIGTERM');
            const r = await w.exited;
            const took = Date.now() - t0;
            assert.equal(r.code, 0, w.log.slice(-2000));
            assert.ok(took < 3500, `stopped in ${took} ms`);
            assert.match(w.log, /cancelled by shutdown: released/);
            assert.ok(fs.existsSync(path.join(spool, 'incoming',
                'h264_1080p30.mp4')), 'back in incoming/');
            assert.ok(!fs.existsSync(path.join(asset, 'master.m3u8')));
            assert.equal(C.readJson(`${asset}.job.json`).state, 'released');
        });
});
