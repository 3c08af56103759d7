// The rig's fault injector (tests/aws-rig/faults.mjs) checked with a client
// we did not write, the AWS CLI: transparent without rules (every request
// still verified by AWS's signer behind it), and each fault kind doing what
// the fault tests rely on -- an error status, a reset, a body cut short, a
// hang, a delay, an SQS action matched by name, a rule that expires.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const AWS_CLI = '/usr/bin/aws';
const missing = fs.existsSync(AWS_CLI) ? false : 'awscli is not installed (scripts/setup)';
let rig, tmp;

// async: the rig's servers answer from another process, but the test's own
// timers must run while the CLI waits
function aws(args, { endpoint = rig.s3, timeoutMs = 60000 } = {}) {
    return new Promise((resolve) => {
        const c = spawn(AWS_CLI, ['--endpoint-url', endpoint, ...args],
            { env: { ...rig.env(), AWS_RETRY_MODE: 'standard', AWS_MAX_ATTEMPTS: '3' } });
        let stdout = '', stderr = '';
        c.stdout.on('data', (d) => { stdout += d; });
        c.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
        const t0 = Date.now();
        c.on('exit', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr, ms: Date.now() - t0 });
        });
    });
}

async function faultsApplied(service) {
    return (await rig.faultLog())[service].log;
}

describe('the rig\'s fault injector, driven by the AWS CLI', { skip: missing }, () => {
    const key = 'rig/object.bin';
    const data = crypto.randomBytes(256 * 1024);
    let file;

    before(async () => {
        tmp = C.tmpDir('cirrus-rig-');
        file = path.join(tmp, 'object.bin');
        fs.writeFileSync(file, data);
        rig = await start();
        const r = await aws(['s3', 'cp', file, `s3://cirrus-in/${key}`]);
        assert.equal(r.code, 0, r.stderr);
    });
    after(async () => {
        await stop(rig);
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    async function download(name) {
        const out = path.join(tmp, name);
        const r = await aws(['s3', 'cp', `s3://cirrus-in/${key}`, out]);
        return { ...r, same: r.code === 0 && fs.readFileSync(out).equals(data) };
    }

    test('no rules: requests pass unchanged and are verified behind it', async () => {
        await rig.faults([]);
        const before = (await rig.stats()).verified;
        const r = await download('plain.bin');
        assert.ok(r.same, r.stderr);
        assert.ok((await rig.stats()).verified > before);
        assert.deepEqual(await faultsApplied('s3'), []);
        const seen = (await rig.faultLog()).s3.requests;
        assert.ok(seen.some((q) => q.method === 'GET' && q.subject.includes(key)));
    });

    test('a status, a reset and a cut body, each once: the CLI retries', async () => {
        for (const rule of [
            { action: 'status', status: 503, code: 'SlowDown' },
            { action: 'reset' },
            { action: 'cut', cutAfter: 1000 },
        ]) {
            await rig.faults([{ service: 's3', method: 'GET', match: key, count: 1, ...rule }]);
            const r = await download(`${rule.action}.bin`);
            assert.ok(r.same, `${rule.action}: ${r.stderr}`);
            const log = await faultsApplied('s3');
            assert.equal(log.length, 1, JSON.stringify(log));
            assert.equal(log[0].fault, rule.action);
        }
    });

    test('an error on every try fails the CLI with the injected code', async () => {
        await rig.faults([{ service: 's3', method: 'GET', match: key,
            action: 'status', status: 500, code: 'InternalError' }]);
        const r = await download('fails.bin');
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /500|InternalError/);
        // AWS_MAX_ATTEMPTS per request; s3 cp may try the download again
        assert.ok((await faultsApplied('s3')).length >= 3);
    });

    test('skip lets the first matches through; forMs expires a rule', async () => {
        await rig.faults([{ service: 's3', method: 'GET', match: key, skip: 1,
            action: 'status', status: 500, forMs: 60000 }]);
        assert.ok((await download('skip.bin')).same); // the first GET passes
        await rig.faults([{ service: 's3', method: 'GET', match: key,
            action: 'status', status: 500, forMs: 300 }]);
        await new Promise((r) => setTimeout(r, 500));
        assert.ok((await download('expired.bin')).same);
        assert.deepEqual(await faultsApplied('s3'), []);
    });

    test('delay and hang hold the request', async () => {
        await rig.faults([{ service: 's3', method: 'GET', match: key,
            action: 'delay', delayMs: 1500, count: 1 }]);
        const d = await download('delay.bin');
        assert.ok(d.same && d.ms >= 1500, `${d.ms} ms: ${d.stderr}`);
        // a hang the client must time out of (the CLI's read timeout: 1 s)
        await rig.faults([{ service: 's3', method: 'GET', match: key,
            action: 'hang', count: 1 }]);
        const out = path.join(tmp, 'hang.bin');
        const h = await aws(['--cli-read-timeout', '1', 's3', 'cp',
            `s3://cirrus-in/${key}`, out]);
        assert.equal(h.code, 0, h.stderr);
        assert.ok(fs.readFileSync(out).equals(data));
        assert.ok(h.ms >= 1000, `${h.ms} ms`);
    });

    test('SQS faults match the action by name', async () => {
        await rig.faults([{ service: 'sqs', match: 'SendMessage', action: 'status',
            status: 500, code: 'InternalError', count: 1 }]);
        const r = await aws(['sqs', 'send-message', '--queue-url', rig.queueUrl,
            '--message-body', 'hello'], { endpoint: rig.sqs });
        assert.equal(r.code, 0, r.stderr);
        const log = await faultsApplied('sqs');
        assert.equal(log.length, 1, JSON.stringify(log));
        assert.equal(log[0].subject, 'SendMessage');
        const seen = (await rig.faultLog()).sqs.requests.map((q) => q.subject);
        assert.equal(seen.filter((s) => s === 'SendMessage').length, 2);
        await rig.faults([]);
    });
});
