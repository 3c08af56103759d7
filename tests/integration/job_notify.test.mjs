// Job notifications (ingest/src/notify.c): cirrus-worker on a spool folder
// posts every state change of a job to an HTTP receiver in this test, which
// checks each signature with node's crypto (HMAC-SHA256 of
// "<X-Cirrus-Timestamp>.<body>" with the shared secret):
//  - a job that completes: exactly one event per state change (running,
//    done), in order, the done one with the version and outputs;
//  - a receiver answering 500 twice then 200: the same event id three
//    times, delivered once;
//  - a job that fails: running, then failed with its error;
//  - a receiver that never answers: the job finishes all the same, and the
//    notifications time out, are given up and counted in /metrics;
//  - SIGTERM with notifications still retrying: they go out within
//    notify_drain_seconds; with no drain time they are dropped and logged;
//  - EventBridge: PutEvents reaches the AWS rig's verifying proxy signed
//    (AWS's own signer recomputes it), retried after an InternalFailure; the
//    rig's PutEvents is checked with the AWS CLI first.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { checkExposition, sampleValue } from './lib/prometheus.mjs';
import * as R from '../aws-rig/clients.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const WORKER_BIN = process.env.CIRRUS_WORKER ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const SECRET = 'notify-secret-0123';
const work = C.tmpDir('job-notify-');
const children = new Set();
after(() => {
    for (const c of children)
        c.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startWorker(name, sets = {}, env = process.env) {
    const opts = { spool_dir: path.join(work, name, 'spool'),
        out_root: `file://${path.join(work, name, 'out')}`, workers: 1,
        default_preset: 'mobile', presets_dir: C.PRESETS_DIR,
        visibility_seconds: 10, settle_seconds: 0.2, max_attempts: 1,
        metrics_port: -1, drain_seconds: 5, ...sets };
    const args = Object.entries(opts).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const child = spawn(WORKER_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.spool = opts.spool_dir;
    child.out = path.join(work, name, 'out');
    child.log = '';
    child.stdout.on('data', (d) => (child.log += d));
    child.stderr.on('data', (d) => (child.log += d));
    child.exited = new Promise((ok) => child.on('exit', (code, signal) => {
        children.delete(child);
        ok({ code, signal });
    }));
    return child;
}

// A job JSON into incoming/ (written beside, renamed in): its id is `name`.
function submit(w, name, input) {
    const inc = path.join(w.spool, 'incoming');
    fs.mkdirSync(inc, { recursive: true });
    fs.writeFileSync(path.join(inc, `.tmp-${name}`), JSON.stringify({
        input: C.sample(input), output: `file://${path.join(w.out, name)}`,
        preset: 'mobile', only: 'hls' }));
    fs.renameSync(path.join(inc, `.tmp-${name}`), path.join(inc, `${name}.json`));
}

const waitFor = (what, fn, w, timeoutMs = 90000) => C.waitFor(what, fn,
    { timeoutMs, every: 100, detail: () => (w ? `worker log:\n${w.log.slice(-4000)}` : '') });

function metricsPort(w) {
    const m = /metrics on http:\/\/127\.0\.0\.1:(\d+)\//.exec(w.log);
    return m ? Number(m[1]) : 0;
}

async function notifications(w) {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort(w)}/metrics`)).text();
    const fam = checkExposition(text, 'cirrus_worker_');
    return (sink, result) => Number(sampleValue(fam, 'cirrus_worker_notifications_total',
        { sink, result }));
}

function signatureValid(headers, body) {
    const ts = headers['x-cirrus-timestamp'];
    const sig = headers['x-cirrus-signature'] || '';
    const want = 'sha256=' + crypto.createHmac('sha256', SECRET)
        .update(`${ts}.${body}`).digest('hex');
    return sig.length === want.length &&
        crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want)) &&
        Math.abs(Date.now() / 1000 - Number(ts)) < 60;
}

describe('job notifications by webhook', { skip: fs.existsSync(WORKER_BIN) ? false
    : `${WORKER_BIN} not built` }, () => {
    const seen = []; // every request: { id, job, state, status, signed, body, headers }
    const failFirst = new Map(); // job id -> how many attempts of each event answer 500
    let receiver, w;

    before(async () => {
        receiver = http.createServer((req, res) => {
            let body = '';
            req.on('data', (d) => (body += d));
            req.on('end', () => {
                const doc = JSON.parse(body);
                const id = req.headers['x-cirrus-event-id'];
                const before = seen.filter((s) => s.id === id).length;
                const status = before < (failFirst.get(doc.id) || 0) ? 500 : 204;
                seen.push({ id, job: doc.id, state: doc.state, status, body: doc,
                    signed: signatureValid(req.headers, body), headers: req.headers });
                res.writeHead(status).end();
            });
        });
        await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
        w = startWorker('hook', {
            notify_url: `http://127.0.0.1:${receiver.address().port}/cirrus`,
            notify_secret: SECRET, notify_attempts: 4, notify_timeout: 5 });
    });
    after(async () => {
        w?.kill('SIGTERM');
        await w?.exited;
        receiver?.close();
    });

    const delivered = (job) => seen.filter((s) => s.job === job && s.status === 204);

    test('a completed job: one signed event per state change', async () => {
        submit(w, 'ok', 'video_only.mp4');
        await waitFor('done delivered', () => delivered('ok').some((s) => s.state === 'done'), w);
        await sleep(500); // nothing more comes
        const got = delivered('ok');
        assert.deepEqual(got.map((s) => s.state), ['running', 'done']);
        assert.equal(seen.filter((s) => s.job === 'ok').length, 2, 'no retries, no repeats');
        for (const s of got) {
            assert.ok(s.signed, `signature of ${s.state}`);
            assert.equal(s.headers['content-type'], 'application/json');
            assert.equal(s.headers['x-cirrus-event'], 'job.state');
            assert.match(s.id, /^[0-9a-f]{32}$/);
            assert.equal(s.body.event_id, s.id);
            assert.equal(s.body.event, 'job.state');
            assert.equal(s.body.attempt, 1);
            assert.equal(s.body.preset, 'mobile');
            assert.equal(s.body.input, C.sample('video_only.mp4'));
            assert.equal(s.body.output, `file://${path.join(w.out, 'ok')}`);
            assert.ok(Math.abs(s.body.time - Date.now() / 1000) < 120);
        }
        assert.notEqual(got[0].id, got[1].id);
        const [running, done] = got.map((s) => s.body);
        assert.equal(running.previous_state, null);
        assert.equal(running.error, null);
        assert.equal(done.previous_state, 'running');
        assert.equal(done.error, null);
        // the same fields as the state JSON on disk, plus the envelope
        const state = C.readJson(path.join(w.out, 'ok.job.json'));
        assert.equal(state.state, 'done');
        for (const k of ['version', 'outputs', 'exit_code', 'duration', 'image'])
            assert.deepEqual(done[k], state[k], k);
        assert.ok(done.version && done.outputs.length >= 2, JSON.stringify(done.outputs));
        const n = await notifications(w);
        assert.equal(n('webhook', 'delivered'), 2);
        assert.equal(n('webhook', 'failed'), 0);
        assert.equal(n('webhook', 'dropped'), 0);
    });

    test('500 twice then 200: the same event id retried, delivered once', async () => {
        failFirst.set('flaky', 2);
        const t0 = Date.now();
        submit(w, 'flaky', 'video_only.mp4');
        await waitFor('done delivered', () => delivered('flaky').some((s) => s.state === 'done'), w);
        await sleep(1500);
        const all = seen.filter((s) => s.job === 'flaky');
        for (const state of ['running', 'done']) {
            const tries = all.filter((s) => s.state === state);
            assert.equal(tries.length, 3, `${state}: 500, 500, 204`);
            assert.deepEqual(tries.map((s) => s.status), [500, 500, 204]);
            assert.equal(new Set(tries.map((s) => s.id)).size, 1, 'one event id');
            assert.ok(tries.every((s) => s.signed), 'each attempt signed anew');
        }
        assert.deepEqual(delivered('flaky').map((s) => s.state), ['running', 'done'],
            'in order, once each');
        // the retries waited 1 s, then 2 s
        assert.ok(Date.now() - t0 >= 3000);
        assert.match(w.log, /webhook [0-9a-f]{32} \(running\): HTTP 500; attempt 2 of 4 in 1 s/);
        assert.match(w.log, /attempt 3 of 4 in 2 s/);
        const n = await notifications(w);
        assert.equal(n('webhook', 'delivered'), 4);
        assert.equal(n('webhook', 'retried'), 4);
        assert.equal(n('webhook', 'failed'), 0);
    });

    test('a failing job: running, then failed with its error', async () => {
        submit(w, 'broken', 'not_media.mp4');
        await waitFor('failed delivered', () => delivered('broken').some((s) => s.state === 'failed'), w);
        await sleep(500);
        const got = delivered('broken');
        assert.deepEqual(got.map((s) => s.state), ['running', 'failed']);
        const failed = got[1].body;
        assert.equal(failed.previous_state, 'running');
        assert.equal(typeof failed.error, 'string');
        assert.ok(failed.error.length > 0);
        assert.notEqual(failed.exit_code, 0);
        assert.deepEqual(failed.outputs, []);
        assert.ok(got.every((s) => s.signed));
    });
});

describe('a receiver that never answers', { skip: fs.existsSync(WORKER_BIN) ? false
    : `${WORKER_BIN} not built` }, () => {
    const sockets = new Set();
    let hang, w;

    before(async () => {
        // accepts, reads, never answers
        hang = http.createServer(() => {});
        hang.on('connection', (s) => sockets.add(s));
        await new Promise((ok) => hang.listen(0, '127.0.0.1', ok));
    });
    after(async () => {
        w?.kill('SIGKILL');
        for (const s of sockets)
            s.destroy();
        hang?.close();
    });

    test('does not slow the job; its notifications fail and are counted', async () => {
        w = startWorker('dead', {
            notify_url: `http://127.0.0.1:${hang.address().port}/`, notify_secret: SECRET,
            notify_attempts: 2, notify_timeout: 10 });
        const t0 = Date.now();
        submit(w, 'alone', 'video_only.mp4');
        const state = await waitFor('the job done', () => {
            const s = C.readJson(path.join(w.out, 'alone.job.json'));
            return s?.state === 'done' && s;
        }, w);
        const jobMs = Date.now() - t0;
        // running's first attempt alone takes 10 s, its retry 1 + 10 s more:
        // a dispatcher waiting on it would not be done yet
        const n0 = await notifications(w);
        assert.equal(n0('webhook', 'failed'), 0, `done after ${jobMs} ms, before any give-up`);
        assert.equal(n0('webhook', 'delivered'), 0);
        assert.ok(state.outputs.length >= 2);
        await waitFor('both given up', async () => (await notifications(w))('webhook', 'failed') === 2,
            w, 90000);
        const n = await notifications(w);
        assert.equal(n('webhook', 'retried'), 2);
        assert.equal(n('webhook', 'delivered'), 0);
        assert.match(w.log, /webhook [0-9a-f]{32} \(done\): Timeout was reached; given up after 2 attempt/);
        // a stop with nothing pending is prompt
        const t1 = Date.now();
        w.kill('SIGTERM');
        assert.deepEqual(await w.exited, { code: 0, signal: null });
        assert.ok(Date.now() - t1 < 5000);
    });
});

describe('notifications pending at a stop', { skip: fs.existsSync(WORKER_BIN) ? false
    : `${WORKER_BIN} not built` }, () => {
    const got = []; // { job, state, status }
    let receiver, failAll = false;
    const tries = new Map();

    before(async () => {
        // the first attempt of every event fails; with failAll, every one
        receiver = http.createServer((req, res) => {
            let body = '';
            req.on('data', (d) => (body += d));
            req.on('end', () => {
                const doc = JSON.parse(body);
                const id = req.headers['x-cirrus-event-id'];
                const n = (tries.get(id) || 0) + 1;
                tries.set(id, n);
                const status = failAll || n === 1 ? 503 : 204;
                got.push({ job: doc.id, state: doc.state, status });
                res.writeHead(status).end();
            });
        });
        await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
    });
    after(() => receiver?.close());

    async function stopWhenDone(name, sets) {
        const w = startWorker(name, { notify_url: `http://127.0.0.1:${receiver.address().port}/`,
            notify_secret: SECRET, ...sets });
        submit(w, name, 'video_only.mp4');
        await waitFor('the job done', () =>
            C.readJson(path.join(w.out, `${name}.job.json`))?.state === 'done', w);
        w.kill('SIGTERM');
        assert.deepEqual(await w.exited, { code: 0, signal: null }, w.log.slice(-2000));
        return w;
    }

    test('what is retrying when SIGTERM comes goes out in the drain', async () => {
        const w = await stopWhenDone('drained', { notify_drain_seconds: 8 });
        const ok = got.filter((g) => g.job === 'drained' && g.status === 204);
        assert.deepEqual(ok.map((g) => g.state), ['running', 'done'], w.log.slice(-2000));
        assert.doesNotMatch(w.log, /not delivered/);
    });

    test('without drain time it is dropped, and logged', async () => {
        failAll = true;
        const w = await stopWhenDone('cut', { notify_drain_seconds: 0 });
        assert.equal(got.filter((g) => g.job === 'cut' && g.status === 204).length, 0);
        assert.match(w.log, /stopping: [12] notification\(s\) not delivered in 0\.0 s/);
    });
});

describe('job notifications on EventBridge', { skip: R.missing() }, () => {
    let rig, w;

    before(async () => {
        rig = await start();
    });
    after(async () => {
        w?.kill('SIGKILL');
        await stop(rig);
    });

    test('the rig takes PutEvents from the AWS CLI, verified by AWS\'s signer', async () => {
        const entries = [{ Source: 'cirrus.test', DetailType: 'Rig Check',
            Detail: '{"hello":1}', EventBusName: 'cli-bus' }];
        const r = spawnSync(R.AWS_CLI, ['--endpoint-url', rig.eventbridge, 'events', 'put-events',
            '--entries', JSON.stringify(entries)], { env: rig.env(), encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).FailedEntryCount, 0);
        // a shape EventBridge refuses is refused here too
        const bad = spawnSync(R.AWS_CLI, ['--endpoint-url', rig.eventbridge, 'events', 'put-events',
            '--entries', JSON.stringify([{ Source: 'x', DetailType: 'y', Detail: '[1]' }])],
            { env: { ...rig.env(), AWS_MAX_ATTEMPTS: '1' }, encoding: 'utf8' });
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /Detail is not a JSON object/);
        const got = await rig.putEvents();
        assert.equal(got.length, 1);
        assert.equal(got[0].EventBusName, 'cli-bus');
        assert.equal(got[0].service, 'events');
    });

    test('each state change reaches the bus signed, retried after a 500', async () => {
        // the first PutEvents fails as AWS does when it has a bad moment
        await rig.eventsFaults([{ status: 500, code: 'InternalFailure' }]);
        const before = (await rig.putEvents()).length;
        w = startWorker('bus', { eventbridge_bus: 'cirrus-jobs', notify_attempts: 3,
            notify_timeout: 5 }, rig.env());
        submit(w, 'onbus', 'video_only.mp4');
        await waitFor('done on the bus', async () => (await rig.putEvents()).slice(before)
            .some((e) => JSON.parse(e.Detail).state === 'done'), w);
        const got = (await rig.putEvents()).slice(before);
        assert.equal(got.length, 2, 'one entry per state change');
        for (const e of got) {
            assert.equal(e.Source, 'cirrus.worker');
            assert.equal(e.DetailType, 'Cirrus Job State Change');
            assert.equal(e.EventBusName, 'cirrus-jobs');
            assert.equal(e.service, 'events');
            assert.equal(e.region, rig.region);
        }
        const [running, done] = got.map((e) => JSON.parse(e.Detail));
        assert.equal(running.state, 'running');
        assert.equal(running.id, 'onbus');
        assert.equal(done.state, 'done');
        assert.equal(done.previous_state, 'running');
        assert.ok(done.version && done.outputs.length >= 2);
        assert.match(running.event_id, /^[0-9a-f]{32}$/);
        assert.match(w.log, /eventbridge [0-9a-f]{32} \(running\): HTTP 500 InternalFailure.*attempt 2 of 3 in 1 s/);
        const n = await notifications(w);
        assert.equal(n('eventbridge', 'delivered'), 2);
        assert.equal(n('eventbridge', 'retried'), 1);
        assert.equal(n('webhook', 'delivered'), 0);
        assert.equal((await rig.stats()).rejected, 0, 'no signature refused');
    });
});
