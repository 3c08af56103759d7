// cirrus-worker's job API (docs/api.md) against the real worker on a spool,
// with a real HTTP client: submit and poll to done, idempotency replay and
// conflict, bearer token, body limit, malformed JSON, list with a state
// filter and pagination, cancel a queued and a running job (outputs
// removed), retry a failed job (attempts reset), delete an asset (refused
// while a job writes it, never outside out_root; on file:// and s3://), on
// the SQS intake without a job store a job sent to the queue and run (the
// other routes 501), with one (jobs_s3_uri on the S3 rig) the whole API:
// submit and poll, list with a filter and a cursor, cancel a queued and a
// running job (on this worker and on another one taking from the same
// queue), retry a failed and a cancelled one, idempotency keys shared by
// the workers through the store (a replay to another worker, two racing),
// the listing paged through ListObjectsV2 and bounded per request, delete
// an asset on S3; the OpenAPI document validates and each of its examples is met by an answer.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { tool } from '../aws-rig/clients.mjs';
import { start as startRig, stop as stopRig } from '../aws-rig/index.mjs';
import * as C from './lib/cirrus.mjs';
import { rawGet } from './lib/nginx.mjs';

const WORKER_BIN = process.env.CIRRUS_WORKER ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const OPENAPI = path.join(C.SOURCE_DIR, 'docs', 'openapi.json');
const TOKEN = 'job-api-test-token';
const work = C.tmpDir('job-api-');
const children = new Set();
after(() => {
    for (const c of children)
        c.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
});

function startWorker(sets, env = process.env) {
    const args = [];
    for (const [k, v] of Object.entries(sets))
        args.push('--set', `${k}=${v}`);
    const child = spawn(WORKER_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.log = '';
    child.stdout.on('data', (d) => (child.log += d));
    child.stderr.on('data', (d) => (child.log += d));
    child.exited = new Promise((ok) => child.on('exit', (code) => {
        children.delete(child);
        ok(code);
    }));
    return child;
}

// A worker stopped the way ECS stops one (SIGTERM: it drains and gives
// back what it received), so no ReceiveMessage of a dead process is left
// pending on the queue to swallow a later message.
async function stopWorker(child) {
    child.kill('SIGTERM');
    const done = await Promise.race([child.exited.then(() => true),
        new Promise((ok) => setTimeout(() => ok(false), 30000))]);
    if (!done)
        child.kill('SIGKILL');
}

async function apiBase(child) {
    const m = await C.waitFor('the job API to listen', () =>
        /job API on (http:\/\/127\.0\.0\.1:\d+)\/jobs/.exec(child.log),
    { timeoutMs: 10000, detail: () => child.log });
    return m[1];
}

// The answers, by operation and status (each shape once), for the
// examples' check.
const seen = new Map();

async function call(base, op, method, url, { body, token = TOKEN,
    headers = {} } = {}) {
    const h = { ...headers };
    if (token)
        h.authorization = `Bearer ${token}`;
    if (body !== undefined && typeof body !== 'string')
        body = JSON.stringify(body);
    if (body !== undefined)
        h['content-type'] = 'application/json';
    const res = await fetch(base + url, { method, headers: h, body });
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    const key = `${op} ${res.status}`;
    const shape = (j) => JSON.stringify(Object.keys(j ?? {}).sort());
    if (!seen.has(key))
        seen.set(key, []);
    if (!seen.get(key).some((j) => shape(j) === shape(json)))
        seen.get(key).push(json);
    return { status: res.status, json, headers: res.headers };
}

const out = path.join(work, 'out');
const spool = path.join(work, 'spool');
const sample = (n) => `file://${C.sample(n)}`;

describe('cirrus-worker job API on a spool', () => {
    let w, base;
    const api = (op, method, url, opts) => call(base, op, method, url, opts);
    const job = (id) => api('getJob', 'GET', `/jobs/${id}`);
    const waitState = (id, state, timeoutMs = 120000) =>
        C.waitFor(`job ${id} ${state}`, async () => {
            const r = await job(id);
            return r.json.state === state ? r.json : null;
        }, { timeoutMs, every: 200, detail: () => w.log.slice(-3000) });

    test('starts, refuses a non-loopback address without a token', async () => {
        const bad = startWorker({ spool_dir: spool, api_port: -1,
            api_listen: '0.0.0.0', presets_dir: C.PRESETS_DIR });
        assert.notEqual(await bad.exited, 0);
        assert.match(bad.log, /api_listen 0\.0\.0\.0 is not a loopback address: set api_token/);

        // two keys left by an earlier run: one past api_idempotency_hours
        // (24 h), one not; the first submit's sweep removes the old one
        const keyDir = path.join(spool, 'api', 'keys');
        fs.mkdirSync(keyDir, { recursive: true });
        const dayAgo = (Date.now() - 25 * 3600e3) / 1000;
        for (const [name, when] of [['a'.repeat(64), dayAgo], ['b'.repeat(64), null]]) {
            const f = path.join(keyDir, `${name}.json`);
            fs.writeFileSync(f, JSON.stringify({ id: `old-${name[0]}`, body_sha256: 'x' }));
            if (when)
                fs.utimesSync(f, when, when);
        }

        w = startWorker({ spool_dir: spool, out_root: `file://${out}`,
            workers: 1, default_preset: 'mobile', presets_dir: C.PRESETS_DIR,
            settle_seconds: 0.2, max_attempts: 2, api_port: -1,
            api_token: TOKEN, api_max_body_bytes: 1048576 });
        base = await apiBase(w);
    });

    test('the OpenAPI document is served and validates', async () => {
        const r = await api('openapi', 'GET', '/openapi.json');
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, JSON.parse(fs.readFileSync(OPENAPI, 'utf8')));
        const v = await new Validator().validate(r.json);
        assert.equal(v.valid, true, JSON.stringify(v.errors));
    });

    test('a missing or wrong bearer token: 401 on every route', async () => {
        const routes = [['openapi', 'GET', '/openapi.json'],
            ['submitJob', 'POST', '/jobs'], ['listJobs', 'GET', '/jobs'],
            ['getJob', 'GET', '/jobs/x'], ['cancelJob', 'POST', '/jobs/x/cancel'],
            ['retryJob', 'POST', '/jobs/x/retry'],
            ['deleteAsset', 'DELETE', '/assets/x']];
        for (const [op, method, url] of routes) {
            for (const token of [null, 'wrong', `${TOKEN}x`, TOKEN.slice(1)]) {
                const r = await api(op, method, url, { token,
                    body: method === 'POST' ? '{}' : undefined });
                assert.equal(r.status, 401, `${method} ${url} token ${token}`);
                assert.equal(r.headers.get('www-authenticate'), 'Bearer');
            }
        }
    });

    let doneId;
    test('submit, poll to done', async () => {
        const r = await api('submitJob', 'POST', '/jobs', { body: {
            input: sample('video_only.mp4'), output: `file://${out}/a`,
            only: 'hls' } });
        assert.equal(r.status, 201, JSON.stringify(r.json));
        doneId = r.json.id;
        assert.equal(r.headers.get('location'), `/jobs/${doneId}`);
        assert.equal(r.json.state, 'queued');
        assert.ok(fs.existsSync(path.join(spool, 'incoming', `${doneId}.json`)));
        const done = await waitState(doneId, 'done');
        assert.equal(done.progress, 100);
        assert.equal(done.result.state, 'done');
        assert.equal(done.attempt, 1);
        assert.ok(fs.existsSync(path.join(out, 'a', 'master.m3u8')));
    });

    test('malformed JSON and invalid documents: 400 with the reason', async () => {
        let r = await api('submitJob', 'POST', '/jobs', { body: '{"input": "x",' });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^malformed JSON: line 1 column \d+: /);
        r = await api('submitJob', 'POST', '/jobs', { body: '{\n "input": x}' });
        assert.match(r.json.error, /line 2 column/);
        r = await api('submitJob', 'POST', '/jobs', { body: { input: 'x.mp4', colour: 1 } });
        assert.equal(r.status, 400);
        assert.equal(r.json.error, 'unknown field "colour"');
        r = await api('submitJob', 'POST', '/jobs', { body: { input: 'x.mp4', preset: 'nope' } });
        assert.equal(r.json.error, 'preset: no preset named "nope"');
        r = await api('submitJob', 'POST', '/jobs', { body: { output: 'file:///tmp/x' } });
        assert.equal(r.json.error, 'input: missing');
        assert.equal(fs.readdirSync(path.join(spool, 'incoming'))
            .filter((n) => !n.startsWith('.')).length, 0, 'nothing queued');
    });

    test('a body over api_max_body_bytes: 413', async () => {
        const big = JSON.stringify({ input: 'x.mp4', id: 'a'.repeat(2 << 20) });
        const r = await api('submitJob', 'POST', '/jobs', { body: big });
        assert.equal(r.status, 413);
        assert.equal(r.json.error, 'request body too large');
    });

    test('idempotency: the same key and body replays, another body conflicts', async () => {
        const body = { input: `file://${work}/nowhere.mp4`, output: `file://${out}/idem` };
        const key = { 'idempotency-key': 'upload-1' };
        const first = await api('submitJob', 'POST', '/jobs', { body, headers: key });
        assert.equal(first.status, 201);
        const again = await api('submitJob', 'POST', '/jobs', { body, headers: key });
        assert.equal(again.status, 200);
        assert.equal(again.json.id, first.json.id);
        assert.equal(again.headers.get('location'), `/jobs/${first.json.id}`);
        // the key in the body is the same key
        const inBody = await api('submitJob', 'POST', '/jobs', {
            body: { ...body, idempotency_key: 'upload-1' } });
        assert.equal(inBody.status, 200);
        assert.equal(inBody.json.id, first.json.id);
        const other = await api('submitJob', 'POST', '/jobs', {
            body: { ...body, only: 'hls' }, headers: key });
        assert.equal(other.status, 409);
        assert.match(other.json.error, /idempotency key used for another job/);
        const all = await api('listJobs', 'GET', '/jobs?limit=500');
        assert.equal(all.json.jobs.filter((j) => j.job.output === body.output).length, 1,
            'one job');
        await waitState(first.json.id, 'failed');

        // the submits before swept the expired key left in api/keys/ and
        // kept the young one
        const keyDir = path.join(spool, 'api', 'keys');
        assert.ok(!fs.existsSync(path.join(keyDir, `${'a'.repeat(64)}.json`)), 'expired key swept');
        assert.ok(fs.existsSync(path.join(keyDir, `${'b'.repeat(64)}.json`)), 'young key kept');
        // a key older than api_idempotency_hours is forgotten: the same
        // key (with another body, even) makes a new job
        const sha = crypto.createHash('sha256').update('upload-1').digest('hex');
        const keyFile = path.join(keyDir, `${sha}.json`);
        const dayAgo = (Date.now() - 25 * 3600e3) / 1000;
        fs.utimesSync(keyFile, dayAgo, dayAgo);
        const later = await api('submitJob', 'POST', '/jobs', {
            body: { ...body, only: 'hls' }, headers: key });
        assert.equal(later.status, 201, JSON.stringify(later.json));
        assert.notEqual(later.json.id, first.json.id);
        assert.equal(JSON.parse(fs.readFileSync(keyFile, 'utf8')).id, later.json.id);
        await waitState(later.json.id, 'failed');
    });

    test('cancel: a queued job at once, a running one through the pool', async () => {
        // one worker: the second job waits while the first runs
        const run = await api('submitJob', 'POST', '/jobs', { body: {
            input: sample('h264_1080p30.mp4'), output: `file://${out}/long`,
            preset: 'web' } });
        const queued = await api('submitJob', 'POST', '/jobs', { body: {
            input: sample('video_only.mp4'), output: `file://${out}/later` } });
        const files = (d) => (fs.existsSync(d) ? fs.readdirSync(d,
            { recursive: true }).filter((f) => fs.statSync(path.join(d, f)).isFile()) : []);
        await waitState(run.json.id, 'running');
        await C.waitFor('the running job to write', () => files(path.join(out, 'long')).length > 0,
            { timeoutMs: 60000 });

        // an asset a running or a queued job writes cannot be deleted
        let r = await api('deleteAsset', 'DELETE', '/assets/long');
        assert.equal(r.status, 409, JSON.stringify(r.json));
        assert.match(r.json.error, new RegExp(`job ${run.json.id} \\(running\\) writes it`));
        assert.ok(files(path.join(out, 'long')).length > 0, 'nothing removed');
        r = await api('deleteAsset', 'DELETE', '/assets/later');
        assert.equal(r.status, 409, JSON.stringify(r.json));
        assert.match(r.json.error, /\(queued\)/);

        r = await api('cancelJob', 'POST', `/jobs/${queued.json.id}/cancel`);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.state, 'cancelled');
        assert.ok(fs.existsSync(path.join(spool, 'cancelled', `${queued.json.id}.json`)));

        r = await api('cancelJob', 'POST', `/jobs/${run.json.id}/cancel`);
        assert.equal(r.status, 202, JSON.stringify(r.json));
        assert.equal(r.json.state, 'cancelling');
        const c = await waitState(run.json.id, 'cancelled', 60000);
        assert.equal(c.result.state, 'cancelled');
        assert.equal(c.error, 'cancelled on request');
        assert.deepEqual(files(path.join(out, 'long')), [], 'its outputs are removed');
        assert.ok(!fs.existsSync(path.join(out, 'later')), 'the queued job never ran');

        r = await api('cancelJob', 'POST', `/jobs/${run.json.id}/cancel`);
        assert.equal(r.status, 409);
        r = await api('cancelJob', 'POST', `/jobs/${doneId}/cancel`);
        assert.equal(r.status, 409);
        assert.match(r.json.error, /is done/);
        r = await api('cancelJob', 'POST', '/jobs/jnothere/cancel');
        assert.equal(r.status, 404);
    });

    test('retry: a failed job goes back with its attempts reset', async () => {
        const input = path.join(work, 'arrives-later.mp4');
        const r0 = await api('submitJob', 'POST', '/jobs', { body: {
            input: `file://${input}`, output: `file://${out}/retried`, only: 'hls' } });
        const id = r0.json.id;
        const failed = await waitState(id, 'failed');
        assert.match(failed.error, /does not exist/);
        assert.equal(failed.attempt, 1);

        let r = await api('retryJob', 'POST', `/jobs/${doneId}/retry`);
        assert.equal(r.status, 409);
        assert.match(r.json.error, /only a failed job can be retried/);
        r = await api('retryJob', 'POST', '/jobs/jnothere/retry');
        assert.equal(r.status, 404);

        fs.copyFileSync(C.sample('video_only.mp4'), input);
        r = await api('retryJob', 'POST', `/jobs/${id}/retry`);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.state, 'queued');
        assert.equal(r.json.attempt, 0, 'no attempt made since the retry');
        assert.ok(!fs.existsSync(path.join(spool, 'failed', `${id}.json.error.json`)));
        const done = await waitState(id, 'done');
        assert.equal(done.attempt, 1, 'attempts start again');
        assert.equal(done.result.attempt, 1);
        assert.ok(fs.existsSync(path.join(out, 'retried', 'master.m3u8')));
    });

    test('delete an asset: removed whole, 404 after, never outside out_root', async () => {
        const asset = path.join(out, 'a');
        assert.ok(fs.existsSync(path.join(asset, 'master.m3u8')));
        assert.ok(fs.existsSync(`${asset}.job.json`), 'its result beside it');
        const count = fs.readdirSync(asset, { recursive: true })
            .filter((f) => !fs.statSync(path.join(asset, f)).isDirectory()).length;
        // a link inside the asset to a file outside: removed as a link
        const outside = path.join(work, 'outside');
        fs.mkdirSync(outside, { recursive: true });
        fs.writeFileSync(path.join(outside, 'keep.txt'), 'keep');
        fs.symlinkSync(outside, path.join(asset, 'link-out'));
        let r = await api('deleteAsset', 'DELETE', '/assets/a');
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.deepEqual(r.json, { name: 'a', removed: count + 1 });
        assert.ok(!fs.existsSync(asset), 'the folder is gone');
        assert.ok(!fs.existsSync(`${asset}.job.json`), 'and its result');
        assert.equal(fs.readFileSync(path.join(outside, 'keep.txt'), 'utf8'), 'keep');
        assert.ok(fs.existsSync(path.join(out, 'retried', 'master.m3u8')),
            'another asset stays');
        r = await api('deleteAsset', 'DELETE', '/assets/a');
        assert.equal(r.status, 404);
        assert.match(r.json.error, /^no asset a under /);
        assert.equal((await api('deleteAsset', 'GET', '/assets/a')).status, 405);
        // the job record stays, done, its output gone
        assert.equal((await job(doneId)).json.state, 'done');

        // a folder named after an input file, a space in its name
        fs.mkdirSync(path.join(out, 'My Clip', 'v'), { recursive: true });
        fs.writeFileSync(path.join(out, 'My Clip', 'v', 'x.m4s'), 'x');
        r = await api('deleteAsset', 'DELETE', '/assets/My%20Clip');
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.deepEqual(r.json, { name: 'My Clip', removed: 1 });
        assert.ok(!fs.existsSync(path.join(out, 'My Clip')));

        // the asset folder a link to a folder outside out_root: refused
        fs.symlinkSync(outside, path.join(out, 'linked'));
        r = await api('deleteAsset', 'DELETE', '/assets/linked');
        assert.equal(r.status, 403, JSON.stringify(r.json));
        assert.ok(fs.existsSync(path.join(outside, 'keep.txt')));
        assert.ok(fs.lstatSync(path.join(out, 'linked')).isSymbolicLink());

        // names that would leave out_root, sent as they are (fetch would
        // resolve the dot segments itself)
        const port = Number(new URL(base).port);
        for (const target of ['/assets/..', '/assets/%2e%2e', '/assets/%2E%2e',
            '/assets/..%2F..%2Fetc', '/assets/%2Fetc', '/assets//etc',
            '/assets/%2F' + encodeURIComponent(outside), '/assets/a%2F..%2F..',
            '/assets/.job.json', '/assets/..%5Cx', '/assets/a%0Ab', '/assets/%00']) {
            const raw = await rawGet(port, target, { Authorization: `Bearer ${TOKEN}` },
                { method: 'DELETE' });
            const body = JSON.parse(raw.body.toString());
            assert.equal(raw.status, 400, `${target}: ${raw.body}`);
            assert.match(body.error, /^not an asset name/);
            if (!seen.has('deleteAsset 400'))
                seen.set('deleteAsset 400', [body]);
        }
        assert.ok(fs.existsSync(path.join(outside, 'keep.txt')));
        assert.ok(fs.existsSync(out));
    });

    test('list: stable order, state filter, pagination', async () => {
        const all = (await api('listJobs', 'GET', '/jobs?limit=500')).json;
        assert.equal(all.next_cursor, null);
        const ids = all.jobs.map((j) => j.id);
        assert.ok(ids.length >= 5);
        assert.deepEqual(ids, [...ids].sort(), 'ascending ids');
        const paged = [];
        let cursor = '';
        for (let pages = 0; ; pages++) {
            assert.ok(pages < 50);
            const r = await api('listJobs', 'GET',
                `/jobs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
            assert.equal(r.status, 200);
            assert.ok(r.json.jobs.length <= 2);
            paged.push(...r.json.jobs.map((j) => j.id));
            if (r.json.next_cursor === null)
                break;
            cursor = r.json.next_cursor;
        }
        assert.deepEqual(paged, ids);
        for (const state of ['done', 'failed', 'cancelled']) {
            const r = await api('listJobs', 'GET', `/jobs?state=${state}`);
            assert.ok(r.json.jobs.length > 0, state);
            assert.ok(r.json.jobs.every((j) => j.state === state), state);
            assert.deepEqual(r.json.jobs.map((j) => j.id),
                all.jobs.filter((j) => j.state === state).map((j) => j.id));
        }
        assert.ok((await api('listJobs', 'GET', '/jobs?state=done')).json.jobs
            .some((j) => j.id === doneId));
        for (const q of ['limit=0', 'limit=501', 'limit=x', 'state=bogus', 'colour=1', 'cursor=a/b'])
            assert.equal((await api('listJobs', 'GET', `/jobs?${q}`)).status, 400, q);
        assert.equal((await api('getJob', 'GET', '/jobs/jnothere')).status, 404);
    });

    test('on the SQS intake: POST /jobs sends to the queue, the worker runs it', async () => {
        const rig = await startRig({ sqs: 'fauxqs' });
        const statusDir = path.join(work, 'sqs-status');
        try {
            const sqs = startWorker({ intake: 'sqs', sqs_queue_url: rig.queueUrl,
                spool_dir: path.join(work, 'sqs-spool'), status_dir: statusDir,
                out_root: `file://${out}`, presets_dir: C.PRESETS_DIR,
                default_preset: 'mobile', workers: 1, api_port: -1,
                api_token: TOKEN }, rig.env());
            const sqsBase = await apiBase(sqs);
            const body = { input: sample('video_only.mp4'),
                output: `file://${out}/from-queue`, only: 'hls' };
            const key = { 'idempotency-key': 'sqs-1' };
            const r = await call(sqsBase, 'submitJob', 'POST', '/jobs', { body, headers: key });
            assert.equal(r.status, 202, JSON.stringify(r.json));
            assert.equal(r.json.state, 'queued');
            assert.ok(r.json.message_id.length > 0);
            const again = await call(sqsBase, 'submitJob', 'POST', '/jobs', { body, headers: key });
            assert.equal(again.status, 200);
            assert.equal(again.json.id, r.json.id);
            const bad = await call(sqsBase, 'submitJob', 'POST', '/jobs', { body: { input: 'x', colour: 1 } });
            assert.equal(bad.status, 400);
            for (const [op, method, url] of [['listJobs', 'GET', '/jobs'],
                ['getJob', 'GET', `/jobs/${r.json.id}`],
                ['cancelJob', 'POST', `/jobs/${r.json.id}/cancel`],
                ['retryJob', 'POST', `/jobs/${r.json.id}/retry`]]) {
                const n = await call(sqsBase, op, method, url);
                assert.equal(n.status, 501, url);
                assert.match(n.json.error, /with intake=sqs and no jobs_s3_uri the job API only queues jobs/);
            }
            // the worker takes the message like any other
            const state = path.join(statusDir, `${r.json.id}.json`);
            await C.waitFor('the queued job done', () => fs.existsSync(state) &&
                JSON.parse(fs.readFileSync(state, 'utf8')).state === 'done',
            { timeoutMs: 120000, detail: () => sqs.log.slice(-3000) });
            assert.ok(fs.existsSync(path.join(out, 'from-queue', 'master.m3u8')));
            sqs.kill('SIGKILL');
        } finally {
            await stopRig(rig);
        }
    });

    test('on the SQS intake with a job store (jobs_s3_uri): the whole API', async (t) => {
        const rig = await startRig({ sqs: 'fauxqs',
            buckets: ['cirrus-in', 'cirrus-out', 'cirrus-jobs'] });
        const keys = (prefix) => tool(rig, ['s3-list', prefix]).stdout.trim()
            .split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
        let sw;
        try {
            // one worker (queue_max 0: a second job waits in the queue while
            // the first runs); the store is all it shares with other workers
            sw = startWorker({ intake: 'sqs', sqs_queue_url: rig.queueUrl,
                jobs_s3_uri: 's3://cirrus-jobs/state',
                spool_dir: path.join(work, 'store-spool'),
                out_root: 's3://cirrus-out/vod', presets_dir: C.PRESETS_DIR,
                default_preset: 'mobile', workers: 1, queue_max: 0,
                api_port: -1, api_token: TOKEN }, rig.env());
            const sb = await apiBase(sw);
            const api = (op, method, url, opts) => call(sb, op, method, url, opts);
            const waitState = (id, state, timeoutMs = 120000) =>
                C.waitFor(`job ${id} ${state}`, async () => {
                    const r = await api('getJob', 'GET', `/jobs/${id}`);
                    return r.json.state === state ? r.json : null;
                }, { timeoutMs, every: 300, detail: () => sw.log.slice(-3000) });

            let firstId;
            await t.test('submit: 202, the record queued in the store; poll GET to done', async () => {
                const r = await api('submitJob', 'POST', '/jobs', { body: {
                    input: sample('video_only.mp4'), output: 's3://cirrus-out/vod/first',
                    only: 'hls' }, headers: { 'idempotency-key': 'store-1' } });
                assert.equal(r.status, 202, JSON.stringify(r.json));
                firstId = r.json.id;
                assert.match(firstId, /^j[0-9a-f]{19}$/, 'the API\'s id, by creation');
                assert.equal(r.headers.get('location'), `/jobs/${firstId}`);
                assert.equal(r.json.state, 'queued');
                assert.equal(r.json.attempt, 0);
                assert.ok(r.json.message_id.length > 0);
                assert.equal(r.json.job.id, firstId, 'the id travels in the message');
                assert.ok(!('attempt_base' in r.json));
                assert.ok(keys('s3://cirrus-jobs/state/').includes(`state/jobs/${firstId}.json`));
                const again = await api('submitJob', 'POST', '/jobs', { body: {
                    input: sample('video_only.mp4'), output: 's3://cirrus-out/vod/first',
                    only: 'hls' }, headers: { 'idempotency-key': 'store-1' } });
                assert.equal(again.status, 200);
                assert.equal(again.json.id, firstId);
                const done = await waitState(firstId, 'done');
                assert.equal(done.attempt, 1);
                assert.equal(done.progress, 100);
                assert.equal(done.result.state, 'done');
                assert.equal(done.result.id, firstId);
                assert.equal(done.error, null);
                assert.equal(done.job.output, 's3://cirrus-out/vod/first');
                assert.ok(keys('s3://cirrus-out/vod/first/').includes('vod/first/master.m3u8'));
                assert.equal((await api('getJob', 'GET', '/jobs/jnothere')).status, 404);
            });

            let runId, queuedId;
            await t.test('cancel: a queued job never runs, a running one stops and its outputs go', async () => {
                const run = await api('submitJob', 'POST', '/jobs', { body: {
                    input: sample('h264_1080p30.mp4'), output: 's3://cirrus-out/vod/long',
                    preset: 'web' } });
                assert.equal(run.status, 202, JSON.stringify(run.json));
                runId = run.json.id;
                await waitState(runId, 'running');
                const queued = await api('submitJob', 'POST', '/jobs', { body: {
                    input: sample('video_only.mp4'), output: 's3://cirrus-out/vod/later',
                    only: 'hls' } });
                queuedId = queued.json.id;
                assert.ok(queuedId > runId, 'ids sort by creation');
                await C.waitFor('the running job to write', () =>
                    keys('s3://cirrus-out/vod/long/').length > 0, { timeoutMs: 60000, every: 500 });

                // an asset a queued or running job writes cannot be deleted
                let r = await api('deleteAsset', 'DELETE', '/assets/long');
                assert.equal(r.status, 409, JSON.stringify(r.json));
                assert.match(r.json.error, new RegExp(`job ${runId} \\(running\\) writes it`));
                r = await api('deleteAsset', 'DELETE', '/assets/later');
                assert.equal(r.status, 409, JSON.stringify(r.json));
                assert.match(r.json.error, /\(queued\)/);

                r = await api('cancelJob', 'POST', `/jobs/${queuedId}/cancel`);
                assert.equal(r.status, 200, JSON.stringify(r.json));
                assert.equal(r.json.state, 'cancelled');
                assert.equal(r.json.error, 'cancelled on request');

                r = await api('cancelJob', 'POST', `/jobs/${runId}/cancel`);
                assert.equal(r.status, 202, JSON.stringify(r.json));
                assert.equal(r.json.state, 'cancelling');
                const c = await waitState(runId, 'cancelled', 60000);
                assert.equal(c.result.state, 'cancelled');
                assert.equal(c.error, 'cancelled on request');
                assert.deepEqual(keys('s3://cirrus-out/vod/long/'), [], 'its outputs are removed');

                // the worker takes the cancelled job's message off the queue
                await C.waitFor('the queued job dropped', () =>
                    /cancelled on request before it ran/.test(sw.log),
                { timeoutMs: 60000, detail: () => sw.log.slice(-3000) });
                const q = await waitState(queuedId, 'cancelled');
                assert.equal(q.result.state, 'cancelled');
                assert.deepEqual(keys('s3://cirrus-out/vod/later/'), [], 'never ran');

                r = await api('cancelJob', 'POST', `/jobs/${runId}/cancel`);
                assert.equal(r.status, 409);
                r = await api('cancelJob', 'POST', `/jobs/${firstId}/cancel`);
                assert.equal(r.status, 409);
                assert.match(r.json.error, /is done/);
                assert.equal((await api('cancelJob', 'POST', '/jobs/jnothere/cancel')).status, 404);
            });

            await t.test('retry: a failed or cancelled job runs again, same id, its attempts counted on', async () => {
                const input = path.join(work, 'store-arrives-later.mp4');
                const r0 = await api('submitJob', 'POST', '/jobs', { body: {
                    input: `file://${input}`, output: 's3://cirrus-out/vod/retried',
                    only: 'hls' } });
                const id = r0.json.id;
                const failed = await waitState(id, 'failed');
                assert.match(failed.error, /does not exist/);
                assert.ok(failed.attempt >= 1);

                let r = await api('retryJob', 'POST', `/jobs/${firstId}/retry`);
                assert.equal(r.status, 409);
                assert.match(r.json.error, /only a failed or cancelled job can be retried/);
                assert.equal((await api('retryJob', 'POST', '/jobs/jnothere/retry')).status, 404);

                fs.copyFileSync(C.sample('video_only.mp4'), input);
                const before = (await api('getJob', 'GET', `/jobs/${id}`)).json.attempt;
                r = await api('retryJob', 'POST', `/jobs/${id}/retry`);
                assert.equal(r.status, 200, JSON.stringify(r.json));
                assert.equal(r.json.id, id);
                assert.equal(r.json.state, 'queued');
                assert.equal(r.json.attempt, before, 'no attempt made since the retry');
                const done = await waitState(id, 'done');
                assert.ok(done.attempt > before, `attempt ${done.attempt} after ${before}`);
                assert.ok(keys('s3://cirrus-out/vod/retried/').includes('vod/retried/master.m3u8'));

                // a cancelled job as well: the one cancelled while queued
                r = await api('retryJob', 'POST', `/jobs/${queuedId}/retry`);
                assert.equal(r.status, 200, JSON.stringify(r.json));
                assert.equal(r.json.state, 'queued');
                assert.equal((await waitState(queuedId, 'done')).result.state, 'done');
                assert.ok(keys('s3://cirrus-out/vod/later/').includes('vod/later/master.m3u8'));
            });

            await t.test('list: by creation, a state filter, a cursor', async () => {
                let r = await api('listJobs', 'GET', '/jobs?limit=500');
                assert.equal(r.status, 200);
                const ids = r.json.jobs.map((j) => j.id);
                assert.deepEqual(ids, [...ids].sort());
                assert.ok(ids.includes(firstId) && ids.includes(runId) && ids.includes(queuedId));
                assert.equal(r.json.next_cursor, null);
                r = await api('listJobs', 'GET', '/jobs?state=cancelled');
                assert.deepEqual(r.json.jobs.map((j) => j.id), [runId], 'the other one was retried');
                assert.ok(r.json.jobs.every((j) => j.state === 'cancelled'));
                r = await api('listJobs', 'GET', '/jobs?state=done&limit=1');
                assert.equal(r.json.jobs.length, 1);
                assert.equal(r.json.jobs[0].id, firstId);
                assert.equal(r.json.next_cursor, firstId);
                r = await api('listJobs', 'GET', `/jobs?state=done&limit=1&cursor=${firstId}`);
                assert.equal(r.json.jobs.length, 1);
                assert.ok(r.json.jobs[0].id > firstId);
                assert.equal(r.json.jobs[0].state, 'done');
                const all = [];
                for (let cursor = ''; ;) {
                    const p = await api('listJobs', 'GET', `/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
                    all.push(...p.json.jobs.map((j) => j.id));
                    if (!p.json.next_cursor)
                        break;
                    cursor = p.json.next_cursor;
                }
                assert.deepEqual(all, ids, 'pages of 2 make the whole list');
            });

            // docs/api.md: with a job store the idempotency keys are in it
            // (keys/<sha256>.json, a conditional write), so every worker's
            // API answers a key with the same job.
            await t.test('idempotency keys in the store: a replay to another worker, two workers racing', async () => {
                const other = startWorker({ intake: 'sqs', sqs_queue_url: rig.queueUrl,
                    jobs_s3_uri: 's3://cirrus-jobs/state',
                    spool_dir: path.join(work, 'store-spool-2'),
                    out_root: 's3://cirrus-out/vod', presets_dir: C.PRESETS_DIR,
                    default_preset: 'mobile', workers: 1, queue_max: 0,
                    api_port: -1, api_token: TOKEN }, rig.env());
                try {
                    const ob = await apiBase(other);
                    const oapi = (op, method, url, opts) => call(ob, op, method, url, opts);
                    const sha = crypto.createHash('sha256').update('store-1').digest('hex');
                    assert.ok(keys('s3://cirrus-jobs/state/keys/').includes(`state/keys/${sha}.json`),
                        'the key is kept in the store');
                    // the first worker's key, replayed to the other one
                    let r = await oapi('submitJob', 'POST', '/jobs', { body: {
                        input: sample('video_only.mp4'), output: 's3://cirrus-out/vod/first',
                        only: 'hls' }, headers: { 'idempotency-key': 'store-1' } });
                    assert.equal(r.status, 200, JSON.stringify(r.json));
                    assert.equal(r.json.id, firstId);
                    assert.equal(r.json.state, 'done');
                    assert.equal(r.headers.get('location'), `/jobs/${firstId}`);
                    r = await oapi('submitJob', 'POST', '/jobs', { body: {
                        input: sample('video_only.mp4'), output: 's3://cirrus-out/vod/else',
                        only: 'hls' }, headers: { 'idempotency-key': 'store-1' } });
                    assert.equal(r.status, 409, JSON.stringify(r.json));
                    assert.match(r.json.error, new RegExp(`another job \\(${firstId}\\) with another body`));

                    // the same key sent to both at once: one job, never two
                    // (jobs on a missing input: they fail at once)
                    for (let i = 0; i < 4; i++) {
                        const body = { input: `file://${path.join(work, `race-${i}.mp4`)}`,
                            output: `s3://cirrus-out/vod/race-${i}`, only: 'hls' };
                        const opts = { body, headers: { 'idempotency-key': `race-${i}` } };
                        const both = await Promise.all([api('submitJob', 'POST', '/jobs', opts),
                            oapi('submitJob', 'POST', '/jobs', opts)]);
                        const made = both.filter((x) => x.status === 202);
                        assert.equal(made.length, 1, JSON.stringify(both.map((x) => [x.status, x.json])));
                        const id = made[0].json.id;
                        for (const x of both.filter((y) => y !== made[0])) {
                            // the job, or (its record not written yet) try again
                            if (x.status === 200)
                                assert.equal(x.json.id, id);
                            else {
                                assert.equal(x.status, 409, JSON.stringify(x.json));
                                assert.match(x.json.error, /being submitted by another request: try again/);
                            }
                        }
                        for (const replay of [api, oapi]) {
                            const x = await replay('submitJob', 'POST', '/jobs', opts);
                            assert.equal(x.status, 200, JSON.stringify(x.json));
                            assert.equal(x.json.id, id);
                        }
                        const listed = (await api('listJobs', 'GET', '/jobs?limit=500')).json.jobs
                            .filter((j) => j.job.output === body.output);
                        assert.deepEqual(listed.map((j) => j.id), [id], 'one record for the key');
                    }
                    t.diagnostic(`conditional PUTs refused by the rig: ${(await rig.stats()).conditionalRefused}`);

                    // a key made more than api_idempotency_hours ago (24)
                    // is replaced by the next submit with it: a new job
                    const oldSha = crypto.createHash('sha256').update('old-1').digest('hex');
                    const oldKey = path.join(work, 'old-key.json');
                    fs.writeFileSync(oldKey, JSON.stringify({ id: 'jold', body_sha256: 'x',
                        created: Math.floor(Date.now() / 1000) - 25 * 3600 }));
                    tool(rig, ['s3-put', `s3://cirrus-jobs/state/keys/${oldSha}.json`, oldKey]);
                    const body = { input: `file://${path.join(work, 'old-1.mp4')}`,
                        output: 's3://cirrus-out/vod/old-1', only: 'hls' };
                    const made = await oapi('submitJob', 'POST', '/jobs',
                        { body, headers: { 'idempotency-key': 'old-1' } });
                    assert.equal(made.status, 202, JSON.stringify(made.json));
                    assert.notEqual(made.json.id, 'jold');
                    const again = await api('submitJob', 'POST', '/jobs',
                        { body, headers: { 'idempotency-key': 'old-1' } });
                    assert.equal(again.status, 200, JSON.stringify(again.json));
                    assert.equal(again.json.id, made.json.id);
                } finally {
                    await stopWorker(other);
                }
            });

            // GET /jobs on the store reads the listing a page at a time (2
            // keys a page here) and only as far as it needs, up to
            // api_list_scan_max records, then hands out a cursor.
            await t.test('list: ListObjectsV2 paged and read only as far as needed, bounded by api_list_scan_max', async () => {
                // every job settled (the racing ones fail on their input)
                const all = await C.waitFor('every job settled', async () => {
                    const jobs = (await api('listJobs', 'GET', '/jobs?limit=500')).json.jobs;
                    return jobs.every((j) => ['done', 'failed', 'cancelled'].includes(j.state))
                        ? jobs : null;
                }, { timeoutMs: 60000, every: 500 });
                assert.ok(all.length >= 8, `${all.length} records`);
                const small = startWorker({ intake: 'sqs', sqs_queue_url: rig.queueUrl,
                    jobs_s3_uri: 's3://cirrus-jobs/state',
                    spool_dir: path.join(work, 'store-spool-3'),
                    out_root: 's3://cirrus-out/vod', presets_dir: C.PRESETS_DIR,
                    default_preset: 'mobile', workers: 1, queue_max: 0,
                    api_port: -1, api_token: TOKEN, api_list_scan_max: 3 },
                { ...rig.env(), CIRRUS_AWS_S3_LIST_MAX_KEYS: '2' });
                try {
                    const sb2 = await apiBase(small);
                    const sapi = (op, method, url, opts) => call(sb2, op, method, url, opts);
                    const lists = async () => (await rig.stats()).lists['state/jobs/']
                        ?? { pages: 0, continued: 0, startAfter: 0 };
                    // the first job: one page of 2 keys is enough
                    let before = await lists();
                    let r = await sapi('listJobs', 'GET', '/jobs?limit=1');
                    assert.deepEqual(r.json.jobs.map((j) => j.id), [all[0].id]);
                    assert.equal(r.json.next_cursor, all[0].id);
                    let now = await lists();
                    assert.equal(now.pages - before.pages, 1, 'one ListObjectsV2 page, not the whole listing');
                    // the next page starts after the cursor (start-after)
                    before = now;
                    r = await sapi('listJobs', 'GET', `/jobs?limit=2&cursor=${all[0].id}`);
                    assert.deepEqual(r.json.jobs.map((j) => j.id), [all[1].id, all[2].id]);
                    now = await lists();
                    assert.ok(now.startAfter > before.startAfter, 'listed from start-after the cursor');
                    assert.ok(now.continued > before.continued, 'and on through a continuation token');
                    // a state filter: at most 3 records read per request,
                    // so pages may be short; walked to the end they make
                    // the whole list, each job once
                    for (const state of ['done', 'failed', 'cancelled']) {
                        const want = all.filter((j) => j.state === state).map((j) => j.id);
                        const got = [];
                        let pages = 0;
                        for (let cursor = ''; ; pages++) {
                            const p = await sapi('listJobs', 'GET',
                                `/jobs?state=${state}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
                            assert.equal(p.status, 200, JSON.stringify(p.json));
                            assert.ok(p.json.jobs.every((j) => j.state === state));
                            got.push(...p.json.jobs.map((j) => j.id));
                            if (!p.json.next_cursor)
                                break;
                            cursor = p.json.next_cursor;
                        }
                        assert.deepEqual(got, want, state);
                        assert.equal(pages + 1, Math.ceil(all.length / 3), `${state}: pages of 3 records read`);
                    }
                    // the default scan (1000 records) finds them in one request
                    r = await api('listJobs', 'GET', '/jobs?state=failed&limit=500');
                    assert.deepEqual(r.json.jobs.map((j) => j.id),
                        all.filter((j) => j.state === 'failed').map((j) => j.id));
                    assert.equal(r.json.next_cursor, null);
                    // a cursor this API never gave
                    for (const bad of ['..%2Fx', '.hidden']) {
                        r = await sapi('listJobs', 'GET', `/jobs?cursor=${bad}`);
                        assert.equal(r.status, 400, JSON.stringify(r.json));
                        assert.match(r.json.error, /cursor: not one this API gave/);
                    }
                } finally {
                    await stopWorker(small);
                }
            });

            await t.test('two workers on one queue: the API follows and cancels a job the other runs', async () => {
                const other = startWorker({ intake: 'sqs', sqs_queue_url: rig.queueUrl,
                    jobs_s3_uri: 's3://cirrus-jobs/state', out_root: 's3://cirrus-out/vod',
                    presets_dir: C.PRESETS_DIR, default_preset: 'mobile', workers: 1,
                    queue_max: 0 }, rig.env());
                try {
                    await C.waitFor('the second worker', () => /intake sqs/.test(other.log),
                        { timeoutMs: 10000, detail: () => other.log });
                    // one long job each: the API's worker cannot take both
                    const ids = [];
                    for (const name of ['two-a', 'two-b']) {
                        const r = await api('submitJob', 'POST', '/jobs', { body: {
                            input: sample('h264_1080p30.mp4'),
                            output: `s3://cirrus-out/vod/${name}`, preset: 'web' } });
                        assert.equal(r.status, 202, JSON.stringify(r.json));
                        ids.push(r.json.id);
                    }
                    for (const id of ids)
                        await waitState(id, 'running', 60000);
                    const theirs = ids.find((id) => other.log.includes(`job=${id}]`));
                    assert.ok(theirs, `one of ${ids} runs on the other worker`);
                    await C.waitFor('its outputs', () =>
                        keys('s3://cirrus-out/vod/').some((k) => k.includes(`/two-${theirs === ids[0] ? 'a' : 'b'}/`)),
                    { timeoutMs: 60000, every: 500 });
                    for (const id of ids) {
                        const r = await api('cancelJob', 'POST', `/jobs/${id}/cancel`);
                        assert.equal(r.status, 202, JSON.stringify(r.json));
                    }
                    for (const id of ids)
                        assert.equal((await waitState(id, 'cancelled', 60000)).error, 'cancelled on request');
                    assert.match(other.log, new RegExp(`job=${theirs}\\] cancel requested in the job store`));
                    assert.deepEqual(keys('s3://cirrus-out/vod/').filter((k) => /\/two-[ab]\//.test(k)), [],
                        'their outputs are removed');
                } finally {
                    other.kill('SIGKILL');
                }
            });

            await t.test('delete an asset on S3 once no job writes it', async () => {
                const before = keys('s3://cirrus-out/vod/first/').length;
                assert.ok(before > 0);
                const r = await api('deleteAsset', 'DELETE', '/assets/first');
                assert.equal(r.status, 200, JSON.stringify(r.json));
                assert.deepEqual(r.json, { name: 'first', removed: before });
                assert.deepEqual(keys('s3://cirrus-out/vod/first/'), []);
                assert.ok(keys('s3://cirrus-out/vod/retried/').length > 0, 'others kept');
                assert.equal((await api('deleteAsset', 'DELETE', '/assets/first')).status, 404);
            });
        } finally {
            sw?.kill('SIGKILL');
            await stopRig(rig);
        }
    });

    test('delete an asset on s3://: the keys under <prefix>/<name>/, no other', async () => {
        const rig = await startRig();
        try {
            const s3w = startWorker({ spool_dir: path.join(work, 's3-spool'),
                out_root: 's3://cirrus-out/vod', presets_dir: C.PRESETS_DIR,
                default_preset: 'mobile', workers: 1, api_port: -1,
                api_token: TOKEN }, rig.env());
            const s3Base = await apiBase(s3w);
            const obj = path.join(work, 'object.txt');
            fs.writeFileSync(obj, 'x');
            const asset = ['vod/talk/master.m3u8', 'vod/talk/manifest.mpd',
                'vod/talk/v/1/720p/a.m4s', 'vod/talk/v/1/720p/b.m4s'];
            // beside it: a longer name, a key that only starts the same, an
            // asset of the same name under another prefix
            const others = ['vod/talk-2/master.m3u8', 'vod/talkx', 'other/talk/keep'];
            for (const k of [...asset, ...others])
                tool(rig, ['s3-put', `s3://cirrus-out/${k}`, obj]);
            const r = await call(s3Base, 'deleteAsset', 'DELETE', '/assets/talk');
            assert.equal(r.status, 200, JSON.stringify(r.json));
            assert.deepEqual(r.json, { name: 'talk', removed: asset.length });
            const left = tool(rig, ['s3-list', 's3://cirrus-out/']).stdout.trim()
                .split('\n').map((l) => l.split('\t')[0]).sort();
            assert.deepEqual(left, [...others].sort());
            const again = await call(s3Base, 'deleteAsset', 'DELETE', '/assets/talk');
            assert.equal(again.status, 404);
            assert.equal(again.json.error, 'no asset talk under s3://cirrus-out/vod');
            s3w.kill('SIGKILL');
        } finally {
            await stopRig(rig);
        }
    });

    test('POST /uploads: a presigned PUT the S3 rig accepts (signature checked), then a job on it', async () => {
        const rig = await startRig();
        try {
            // without upload_s3_uri: 501
            const plain = startWorker({ spool_dir: path.join(work, 'noup-spool'),
                out_root: `file://${out}`, presets_dir: C.PRESETS_DIR, workers: 1,
                api_port: -1, api_token: TOKEN }, rig.env());
            const none = await call(await apiBase(plain), 'createUpload', 'POST', '/uploads',
                { body: { name: 'a.mp4' } });
            assert.equal(none.status, 501);
            plain.kill('SIGKILL');
            const up = startWorker({ spool_dir: path.join(work, 'up-spool'),
                out_root: `file://${out}`, presets_dir: C.PRESETS_DIR,
                default_preset: 'mobile', workers: 1, api_port: -1, api_token: TOKEN,
                upload_s3_uri: 's3://cirrus-in/console', upload_url_seconds: 600 }, rig.env());
            const upBase = await apiBase(up);
            const r = await call(upBase, 'createUpload', 'POST', '/uploads',
                { body: { name: 'My Clip.mp4' } });
            assert.equal(r.status, 200, JSON.stringify(r.json));
            assert.equal(r.json.method, 'PUT');
            assert.equal(r.json.input, 's3://cirrus-in/console/My Clip.mp4');
            assert.equal(r.json.expires_in, 600);
            const u = new URL(r.json.url);
            assert.equal(u.pathname, '/cirrus-in/console/My%20Clip.mp4');
            assert.equal(u.searchParams.get('X-Amz-Expires'), '600');
            assert.equal(u.searchParams.get('X-Amz-SignedHeaders'), 'host');
            assert.ok(!r.json.url.includes(rig.env().AWS_SECRET_ACCESS_KEY), 'no secret in the URL');
            const file = fs.readFileSync(C.sample('video_only.mp4'));
            // a tampered signature, or another key, is refused by the rig
            const bad = new URL(r.json.url);
            bad.searchParams.set('X-Amz-Signature', '0'.repeat(64));
            assert.equal((await fetch(bad, { method: 'PUT', body: file })).status, 403);
            const other = new URL(r.json.url);
            other.pathname = '/cirrus-in/console/other.mp4';
            assert.equal((await fetch(other, { method: 'PUT', body: file })).status, 403);
            const put = await fetch(r.json.url, { method: 'PUT', body: file });
            assert.equal(put.status, 200, await put.text());
            assert.match(tool(rig, ['s3-list', 's3://cirrus-in/console/']).stdout, /console\/My Clip\.mp4/);
            // names that are not one path segment
            for (const name of ['../x.mp4', 'a/b.mp4', '.hidden', '', 'x\u0001y'])
                assert.equal((await call(upBase, 'createUpload', 'POST', '/uploads',
                    { body: { name } })).status, 400, JSON.stringify(name));
            assert.equal((await call(upBase, 'createUpload', 'POST', '/uploads',
                { body: { name: 'a.mp4' }, token: null })).status, 401);
            // the job on what the browser uploaded
            const j = await call(upBase, 'submitJob', 'POST', '/jobs', { body: { id: 'uploaded',
                input: r.json.input, output: `file://${out}/uploaded`, only: 'hls' } });
            assert.equal(j.status, 201, JSON.stringify(j.json));
            await C.waitFor('the uploaded job done', async () =>
                (await call(upBase, 'getJob', 'GET', '/jobs/uploaded')).json?.state === 'done',
            { timeoutMs: 120000, every: 250, detail: () => up.log.slice(-3000) });
            assert.ok(fs.existsSync(path.join(out, 'uploaded', 'master.m3u8')));
            up.kill('SIGKILL');
        } finally {
            await stopRig(rig);
        }
    });

    test('every example in the OpenAPI document', async () => {
        const doc = JSON.parse(fs.readFileSync(OPENAPI, 'utf8'));
        // the request examples are accepted as they are
        const bodies = doc.paths['/jobs'].post.requestBody.content['application/json'].examples;
        for (const [name, ex] of Object.entries(bodies)) {
            const r = await api('submitJob', 'POST', '/jobs', { body: ex.value });
            assert.equal(r.status, 201, `${name}: ${JSON.stringify(r.json)}`);
            for (const k of ['input', 'output', 'preset', 'only', 'rungs', 'clip',
                'overlay'].filter((f) => f in ex.value))
                assert.deepEqual(r.json.job[k], ex.value[k], `${name}.${k}`);
        }
        // each answer example: an answer of that operation and status was
        // seen, with the example's fields and their types
        const typeOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
        for (const item of Object.values(doc.paths)) {
            for (const opDoc of Object.values(item)) {
                for (const [status, res] of Object.entries(opDoc.responses)) {
                    const exs = res.content?.['application/json']?.examples ?? {};
                    for (const [name, ex] of Object.entries(exs)) {
                        const key = `${opDoc.operationId} ${status}`;
                        assert.ok(seen.has(key), `an answer for ${key} (${name})`);
                        // the answer with the example's fields (one shape
                        // of answer per intake: 202 on SQS, with or without
                        // a job store)
                        const got = seen.get(key).find((j) => Object.keys(ex.value)
                            .every((k) => k in (j ?? {}))) ?? seen.get(key)[0];
                        for (const [k, v] of Object.entries(ex.value)) {
                            assert.ok(k in got, `${key} ${name}: ${k}`);
                            if (v !== null && got[k] !== null)
                                assert.equal(typeOf(got[k]), typeOf(v), `${key} ${name}: ${k}`);
                        }
                        if (typeof ex.value.error === 'string' && name !== 'unauthorized')
                            assert.equal(typeof got.error, 'string');
                    }
                }
            }
        }
    });
});
