// Errors mean what they say: cirrus-transcode against s3:// through the
// rig's fault-injecting proxy (tests/aws-rig/faults.mjs), every request
// behind it still verified by AWS's own SigV4 signer.  A failed ranged GET
// of the input is retried from the same offset and, when S3 keeps failing,
// is a transient error (exit 4), never bad media (exit 2); a SlowDown burst
// on PUTs is absorbed by the per-request retry budget; and each class of
// failure exits with the code docs/transcode.md's table documents.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const TOOL = process.env.CIRRUS_AWS_TOOL ||
    path.join(C.BUILD_DIR, 'common', 'aws', 'cirrus-aws-tool');
const WORKER = path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const missing = !fs.existsSync(TOOL) ? `${TOOL} is not built`
    : !fs.existsSync(C.TRANSCODE_BIN) ? `${C.TRANSCODE_BIN} is not built`
        : false;

// The exit-code table of docs/transcode.md: | code | meaning | retry? | -> rows.
function documentedExitCodes() {
    const lines = fs.readFileSync(path.join(C.SOURCE_DIR, 'docs', 'transcode.md'),
        'utf8').split('\n');
    const start = lines.findIndex((l) => /^\|\s*exit code\s*\|/i.test(l));
    assert.ok(start >= 0, 'docs/transcode.md has an "exit code" table');
    const rows = [];
    for (const l of lines.slice(start + 2)) {
        if (!l.startsWith('|'))
            break;
        const cells = l.split('|').slice(1, -1).map((c) => c.trim());
        rows.push({ code: Number(cells[0]), meaning: cells[1],
            retry: /^yes\b/i.test(cells[2]) });
    }
    return rows;
}

// The documented code whose meaning starts with `label`.
function documented(label) {
    const row = documentedExitCodes().find((r) => r.meaning.startsWith(label));
    assert.ok(row, `the exit-code table of docs/transcode.md has a "${label}" row`);
    return row;
}

let rig, tmp, video, seq = 0;

function tool(args, env = rig.env()) {
    return new Promise((resolve) => {
        const c = spawn(TOOL, args, { env });
        let stdout = '', stderr = '';
        c.stdout.on('data', (d) => { stdout += d; });
        c.stderr.on('data', (d) => { stderr += d; });
        c.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
}

async function upload(file, key) {
    const r = await tool(['s3-put', `s3://cirrus-in/${key}`, file]);
    assert.equal(r.code, 0, r.stderr);
}

// cirrus-transcode s3:// -> s3://, through the fault proxies.
async function transcode(input, { env = {}, preset = 'mobile', output } = {}) {
    const out = output || `s3://cirrus-out/faults/${++seq}`;
    const t0 = Date.now();
    const r = await C.transcode({ input, output: out, preset, args: ['--quiet', '--log-level', 'warn'],
        env: rig.env(env), timeoutMs: 300000 });
    r.ms = Date.now() - t0;
    r.output = out;
    return r;
}

function explain(r) {
    return `exit ${r.code}\n${r.stderr.split('\n').slice(-30).join('\n')}`;
}

async function applied(service = 's3') {
    return (await rig.faultLog())[service];
}

async function listKeys(uri) {
    const r = await tool(['s3-list', uri]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
}

describe('S3 faults: errors mean what they say', { skip: missing }, () => {
    before(async () => {
        tmp = C.tmpDir('cirrus-faults-');
        rig = await start();
        // two 4 MiB AVIO chunks: a read can fail in the middle of the input
        video = path.join(tmp, 'clip.mp4');
        const ff = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
            'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '6',
            '-vf', 'noise=alls=30:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast',
            '-b:v', '8M', '-g', '50', '-c:a', 'aac', video]);
        assert.equal(ff.status, 0, String(ff.stderr));
        assert.ok(fs.statSync(video).size > 4.5 * 1024 * 1024, 'more than one chunk');
        await upload(video, 'faults/clip.mp4');
        await upload(C.sample('not_media.mp4'), 'faults/not-media.mp4');
    });
    after(async () => {
        if (rig)
            await rig.faults([]);
        await stop(rig);
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    test('(a) 500 on every input GET for 5 s, then healthy: the transcode succeeds', async () => {
        // at open (every GET) and mid-read (after the image probe's and
        // the video's first reads: one request's budget has to cover it)
        for (const skip of [0, 2]) {
            const t0 = Date.now();
            await rig.faults([{ service: 's3', method: 'GET', match: 'cirrus-in/faults/clip.mp4',
                action: 'status', status: 500, code: 'InternalError', skip, forMs: 5000 }]);
            const r = await transcode('s3://cirrus-in/faults/clip.mp4');
            const seen = await applied();
            await rig.faults([]);
            assert.equal(r.code, 0, `skip ${skip}: ${explain(r)}`);
            assert.equal(r.result.state, 'done');
            assert.ok(seen.log.length >= 2, `GETs failed and were retried: ${seen.log.length}`);
            // the reads kept trying across the whole window, then went on
            const first = Math.min(...seen.log.map((e) => e.t));
            const healed = seen.requests.find((e) => e.method === 'GET' && !e.fault &&
                e.t > first);
            assert.ok(healed && healed.t >= t0 + 4900,
                `skip ${skip}: a GET went through ${healed && healed.t - t0} ms after the faults began`);
            assert.match(r.stderr, /retrying \(\d+\/\d+\).*HTTP 500 InternalError/);
            // no read gave up: the demuxer never saw an I/O error (it may
            // otherwise seek and read on past a hole)
            assert.doesNotMatch(r.stderr, /read(ing)? s3:\/\/\S+ at (byte )?\d+/);
            const keys = await listKeys(`${r.output}/`);
            assert.ok(keys.some((k) => k.endsWith('master.m3u8')), keys.join(' '));
        }
    });

    test('(b) an input GET cut mid-body, reset or stalled: read again from the same offset, the transcode succeeds', async () => {
        // the third GET: the video's own reads, after the image probe's.
        // A stall longer than the whole budget is still tried again: the
        // SDKs' three attempts are always made.
        for (const [action, env] of [['cut', {}], ['reset', {}],
            ['hang', { CIRRUS_AWS_RETRY_BUDGET_S: '1' }]]) {
            await rig.faults([{ service: 's3', method: 'GET', match: 'cirrus-in/faults/clip.mp4',
                action, cutAfter: 1000000, delayMs: 2500, skip: 2, count: 1 }]);
            const r = await transcode('s3://cirrus-in/faults/clip.mp4', { env });
            const seen = await applied();
            await rig.faults([]);
            assert.equal(r.code, 0, `${action}: ${explain(r)}`);
            assert.equal(seen.log.length, 1, `one GET was ${action}`);
            assert.equal(seen.log[0].fault, action);
            assert.match(r.stderr, /retrying \(1\/\d+\).*GET \/cirrus-in\/faults\/clip\.mp4 on s3/);
            const keys = await listKeys(`${r.output}/`);
            assert.ok(keys.some((k) => k.endsWith('master.m3u8')), keys.join(' '));
        }
    });

    test('(c) input GETs failing for good: exit 4 (CIR_ETRANSIENT), not 2, with a clear log line', async () => {
        const transient = documented('transient');
        assert.ok(transient.retry);
        const badInput = documented('bad input');
        // at open (every GET) and mid-read (after the probe's and the
        // video's first reads)
        for (const skip of [0, 3]) {
            await rig.faults([{ service: 's3', method: 'GET', match: 'cirrus-in/faults/clip.mp4',
                action: 'status', status: 500, code: 'InternalError', skip }]);
            const r = await transcode('s3://cirrus-in/faults/clip.mp4',
                { env: { CIRRUS_AWS_RETRY_BUDGET_S: '2' } });
            const seen = await applied();
            await rig.faults([]);
            assert.equal(r.code, transient.code, `skip ${skip}: ${explain(r)}`);
            assert.notEqual(r.code, badInput.code);
            assert.equal(r.result.error_code, 'CIR_ETRANSIENT');
            assert.match(r.stderr,
                /reading s3:\/\/cirrus-in\/faults\/clip\.mp4 at byte \d+ failed \(CIR_ETRANSIENT\): HTTP 500 InternalError.*gave up after \d+ attempts in [\d.]+ s/);
            assert.doesNotMatch(r.result.error, /not usable media|Input\/output error$/);
            // bounded: one budget, then every later read fails at once
            assert.ok(seen.log.length >= 2 && seen.log.length <= 25,
                `skip ${skip}: ${seen.log.length} failed GETs`);
            assert.ok(r.ms < 60000, `skip ${skip}: took ${r.ms} ms`);
        }
    });

    test('(d) 10 s of 503 SlowDown on output PUTs: the transcode completes without restarting', async () => {
        await rig.faults([{ service: 's3', method: 'PUT', match: 'cirrus-out/faults/slow/',
            action: 'status', status: 503, code: 'SlowDown', forMs: 10000 }]);
        const t0 = Date.now();
        const r = await transcode('s3://cirrus-in/faults/clip.mp4',
            { output: 's3://cirrus-out/faults/slow' });
        const seen = await applied();
        await rig.faults([]);
        assert.equal(r.code, 0, explain(r));
        assert.equal(r.result.state, 'done');
        const puts = seen.log.filter((e) => e.method === 'PUT');
        assert.ok(puts.length >= 3, `PUTs were refused: ${puts.length}`);
        assert.ok(Math.max(...puts.map((e) => e.t)) - t0 < 11000, 'only in the burst');
        // each refused key was PUT again and went through
        const ok = seen.requests.filter((e) => e.method === 'PUT' && !e.fault);
        for (const p of puts)
            assert.ok(ok.some((e) => e.subject === p.subject && e.t > p.t),
                `${p.subject} retried after its 503`);
        assert.match(r.stderr, /retrying \(\d+\/\d+\) in [\d.]+ s after: HTTP 503 SlowDown/);
        // the input was read by one transcode, not redone after a failure
        const gets = seen.requests.filter((e) => e.method === 'GET' &&
            e.subject.includes('faults/clip.mp4'));
        assert.ok(gets.length <= 8, `${gets.length} input GETs`);
        const keys = await listKeys('s3://cirrus-out/faults/slow/');
        for (const k of ['master.m3u8', 'manifest.mpd'])
            assert.ok(keys.includes(`faults/slow/${k}`), keys.join(' '));
    });

    test('(e) each failure class exits with its documented code', async () => {
        const access = documented('access refused');
        const badInput = documented('bad input');
        const transient = documented('transient');
        for (const row of [access, badInput])
            assert.equal(row.retry, false, `${row.code} is permanent`);

        // wrong credentials: SignatureDoesNotMatch, never retried
        let r = await transcode('s3://cirrus-in/faults/clip.mp4',
            { env: { AWS_SECRET_ACCESS_KEY: 'not-the-secret' } });
        assert.equal(r.code, access.code, `wrong credentials: ${explain(r)}`);
        assert.equal(r.result.error_code, 'CIR_EAUTH');
        assert.match(r.stderr, /credentials refused: HTTP 403 SignatureDoesNotMatch/);
        assert.doesNotMatch(r.stderr, /retrying|not-the-secret/);

        // a missing input key: NoSuchKey (the role may list the bucket)
        r = await transcode('s3://cirrus-in/faults/none.mp4');
        assert.equal(r.code, badInput.code, `missing key: ${explain(r)}`);
        assert.match(r.stderr, /input s3:\/\/cirrus-in\/faults\/none\.mp4 does not exist: HTTP 404/);

        // a missing key under a role without s3:ListBucket: S3 answers 403
        await rig.faults([{ service: 's3', match: 'cirrus-in/faults/hidden.mp4',
            action: 'status', status: 403, code: 'AccessDenied' }]);
        r = await transcode('s3://cirrus-in/faults/hidden.mp4');
        await rig.faults([]);
        assert.equal(r.code, access.code, `403 on the input: ${explain(r)}`);
        assert.match(r.stderr, /input s3:\/\/cirrus-in\/faults\/hidden\.mp4 is missing or not readable: HTTP 403 AccessDenied/);
        assert.doesNotMatch(r.stderr, /retrying/);

        // AccessDenied on an output PUT
        await rig.faults([{ service: 's3', method: 'PUT', match: 'cirrus-out/faults/denied/',
            action: 'status', status: 403, code: 'AccessDenied' }]);
        r = await transcode('s3://cirrus-in/faults/clip.mp4',
            { output: 's3://cirrus-out/faults/denied' });
        await rig.faults([]);
        assert.equal(r.code, access.code, `403 on output: ${explain(r)}`);
        assert.match(r.stderr, /put s3:\/\/cirrus-out\/faults\/denied\/.* failed \(CIR_EAUTH\): HTTP 403 AccessDenied/);

        // a corrupt media file: the demuxer's verdict
        r = await transcode('s3://cirrus-in/faults/not-media.mp4');
        assert.equal(r.code, badInput.code, `corrupt media: ${explain(r)}`);
        assert.equal(r.result.error_code, 'CIR_EMEDIA');

        // a transient failure: every GET 503 SlowDown past a short budget
        await rig.faults([{ service: 's3', method: 'GET', match: 'cirrus-in/faults/clip.mp4',
            action: 'status', status: 503, code: 'SlowDown' }]);
        r = await transcode('s3://cirrus-in/faults/clip.mp4',
            { env: { CIRRUS_AWS_RETRY_BUDGET_S: '1' } });
        await rig.faults([]);
        assert.equal(r.code, transient.code, `transient: ${explain(r)}`);
        assert.equal(r.result.error_code, 'CIR_ETRANSIENT');

        // a local output that may not be written (as an unprivileged user
        // when we are root, who may write anywhere)
        const parent = path.join(tmp, 'read-only');
        fs.mkdirSync(parent);
        const asRoot = process.getuid && process.getuid() === 0;
        fs.chmodSync(tmp, 0o755);
        fs.chmodSync(parent, asRoot ? 0o755 : 0o555);
        const local = await new Promise((resolve) => {
            const c = spawn(C.TRANSCODE_BIN, ['--input', C.sample('video_only.mp4'),
                '--output', path.join(parent, 'out'), '--preset', 'mobile', '--quiet'], {
                env: { ...process.env, CIRRUS_PRESETS_DIR: C.PRESETS_DIR },
                ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
            let stdout = '', stderr = '';
            c.stdout.on('data', (d) => { stdout += d; });
            c.stderr.on('data', (d) => { stderr += d; });
            c.on('exit', (code) => resolve({ code, stdout, stderr }));
        });
        fs.chmodSync(parent, 0o755);
        assert.equal(local.code, access.code, `read-only output: ${explain(local)}`);
        assert.match(C.lastJsonLine(local.stdout).error, /Permission denied|Read-only/);
    });

    test('(f) cirrus-worker takes an access failure as permanent: parked, not retried',
        { skip: fs.existsSync(WORKER) ? false : 'cirrus-worker is not built' }, async () => {
            // the notifications of the uploads above: not this test's jobs
            for (;;) {
                const r = await tool(['sqs-recv', rig.queueUrl, '1', '--delete']);
                assert.equal(r.code, 0, r.stderr);
                if (!JSON.parse(r.stdout).length)
                    break;
            }
            await rig.faults([{ service: 's3', method: 'PUT', match: 'cirrus-out/vod/',
                action: 'status', status: 403, code: 'AccessDenied' }]);
            await upload(video, 'mobile/denied.mp4');
            const status = C.tmpDir('cirrus-faults-status-');
            const sets = { intake: 'sqs', sqs_queue_url: rig.queueUrl,
                out_root: 's3://cirrus-out/vod', default_preset: 'mobile',
                presets_dir: C.PRESETS_DIR, workers: 1, status_dir: status,
                visibility_seconds: 10, max_attempts: 3, drain_seconds: 5 };
            const w = spawn(WORKER, Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
                { env: rig.env(), stdio: ['ignore', 'pipe', 'pipe'] });
            let log = '';
            w.stdout.on('data', (d) => { log += d; });
            w.stderr.on('data', (d) => { log += d; });
            const exited = new Promise((ok) => w.on('exit', (code) => ok(code)));
            try {
                const end = Date.now() + 120000;
                while (!/failed \(CIR_EAUTH, permanent\)/.test(log) && Date.now() < end)
                    await sleep(200);
                assert.match(log, /failed \(CIR_EAUTH, permanent\)/,
                    log.slice(-3000));
                await sleep(1500);
                const s = fs.readdirSync(status).filter((f) => f.endsWith('.json'))
                    .map((f) => C.readJson(path.join(status, f))).filter(Boolean)
                    .find((j) => j.input.endsWith('denied.mp4'));
                assert.equal(s.state, 'failed', JSON.stringify(s));
                assert.equal(s.exit_code, documented('access refused').code);
                // parked for the dead-letter queue (quick redeliveries until
                // the redrive policy moves it), never a transient backoff
                assert.match(log, /permanent failure \(receive 1 of \d+ before the dead-letter queue\)/);
                assert.doesNotMatch(log, /failed \(\w+, transient\)|attempt \d+ failed/,
                    'not retried as transient');
            } finally {
                await rig.faults([]);
                w.kill('SIGTERM');
                await exited;
            }
        });

    test('(g) an S3 error code survives a long key in the log', async () => {
        // S3 refuses keys over 1024 bytes (KeyTooLongError); the log line
        // used to be cut before the code
        // (a prefix our own key rule accepts, 612 bytes: S3 refuses it here)
        const prefix = `faults/long/${'abcdefghi/'.repeat(60)}`;
        await rig.faults([{ service: 's3', method: 'PUT', match: 'cirrus-out/faults/long/',
            action: 'status', status: 400, code: 'KeyTooLongError',
            message: 'Your key is too long' }]);
        const r = await transcode('s3://cirrus-in/faults/clip.mp4',
            { output: `s3://cirrus-out/${prefix}` });
        await rig.faults([]);
        assert.equal(r.code, documented('bad preset').code, explain(r));
        const line = r.stderr.split('\n').find((l) => /put s3:\/\/cirrus-out\/faults\/long\//.test(l));
        assert.ok(line, r.stderr.slice(-2000));
        assert.match(line, /failed \(CIR_EINVAL\): HTTP 400 KeyTooLongError: Your key is too long/);
        assert.match(line, /\.\.\./, 'the key is cut in its middle');
    });
});
