// cirrus-worker on the SQS intake when things go wrong, on the SQS wire
// protocol (fauxqs: visibility timeouts, long polling, and a RedrivePolicy
// that moves a message to the dead-letter queue on the receive after
// maxReceiveCount, as AWS does; local-aws-sqs 2.0.2 counts every
// ChangeMessageVisibility heartbeat as a receive, see aws-rig/server.mjs)
// behind the SigV4-verifying proxy, with s3rver for media in and out:
//  - a worker killed with SIGKILL mid-job: the message reappears after its
//    visibility timeout, a second worker completes it, and no asset looks
//    complete (master.m3u8 present) before it is;
//  - a poison object (every read of it fails): retried maxReceiveCount times,
//    then moved to the dead-letter queue by the queue's own redrive policy;
//  - two workers, many uploads: each asset made once.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import * as R from '../aws-rig/clients.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const { TOOL, WORKER, AWS_CLI } = R;
const missing = R.missing();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
let rig, tmp;

const tool = (args, opts) => R.tool(rig, args, opts);

const upload = (file, key) => R.upload(rig, file, key);

function startWorker(name, statusDir, sets = {}, env = {}) {
    const opts = { intake: 'sqs', sqs_queue_url: rig.queueUrl,
        out_root: 's3://cirrus-out/vod', default_preset: 'mobile',
        presets_dir: C.PRESETS_DIR, workers: 1, status_dir: statusDir,
        visibility_seconds: 4, max_attempts: 3, drain_seconds: 5, ...sets };
    const args = Object.entries(opts).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const w = spawn(WORKER, args, { env: rig.env(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(w);
    w.name = name;
    w.log = '';
    w.stdout.on('data', (d) => { w.log += d; });
    w.stderr.on('data', (d) => { w.log += d; });
    w.exited = new Promise((ok) => w.on('exit', (code, signal) => {
        children.delete(w);
        ok({ code, signal });
    }));
    return w;
}

async function waitFor(what, fn, workers = [], ms = 120000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        const v = await fn();
        if (v)
            return v;
        await sleep(200);
    }
    throw new Error(`timed out waiting for ${what}\n` +
        workers.map((w) => `--- ${w.name}:\n${w.log.slice(-3000)}`).join('\n'));
}

function statuses(dir) {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
        .map((f) => C.readJson(path.join(dir, f))).filter(Boolean);
}

function s3Keys(prefix) {
    const out = tool(['s3-list', `s3://cirrus-out/${prefix}`]).stdout.trim();
    return new Set(out ? out.split('\n').map((l) => l.split('\t')[0]) : []);
}

function s3Text(key) {
    return tool(['s3-get', `s3://cirrus-out/${key}`, '-']).stdout;
}

// The asset under prefix is whole if its master exists: every playlist the
// master names exists, and every init segment and segment they name.
function assetComplete(prefix) {
    const keys = s3Keys(`${prefix}/`);
    if (!keys.has(`${prefix}/master.m3u8`))
        return false;
    const uris = s3Text(`${prefix}/master.m3u8`).split('\n')
        .flatMap((l) => l.startsWith('#')
            ? [...l.matchAll(/URI="([^"]+)"/g)].map((m) => m[1])
            : (l.trim() ? [l.trim()] : []));
    assert.ok(uris.length > 0, 'the master names playlists');
    for (const u of uris) {
        const key = path.posix.join(prefix, u);
        assert.ok(keys.has(key), `${u} named by the master exists`);
        if (!u.endsWith('.m3u8'))
            continue;
        for (const l of s3Text(key).split('\n')) {
            const seg = l.startsWith('#EXT-X-MAP') ? /URI="([^"]+)"/.exec(l)?.[1]
                : (!l.startsWith('#') && l.trim()) ? l.trim() : null;
            if (seg)
                assert.ok(keys.has(path.posix.join(path.posix.dirname(key), seg)),
                    `${seg} of ${u} exists`);
        }
    }
    return true;
}

function clip(name, seconds) {
    const f = path.join(tmp, name);
    const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
        'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t',
        String(seconds), '-c:v', 'libx264', '-g', '50', '-c:a', 'aac', f]);
    assert.equal(r.status, 0);
    return f;
}

describe('cirrus-worker on SQS: crashes, poison, concurrency', { skip: missing }, () => {
    before(async () => {
        // the queue's redrive policy: after 3 receives, into uploads-dlq
        rig = await start({ visibility: 4, maxReceiveCount: 3, sqs: "fauxqs" });
        tmp = C.tmpDir('cirrus-aws-worker-');
    });
    after(async () => {
        for (const c of children)
            c.kill('SIGKILL');
        await stop(rig);
    });

    test('SIGKILL mid-job: redelivered after the visibility timeout, done by a second worker',
        async () => {
            const status = C.tmpDir('cirrus-aws-kill-');
            upload(C.sample('h264_1080p30.mp4'), 'mobile/killed.mp4');
            const w1 = startWorker('w1', status);
            await waitFor('running', () => statuses(status)
                .some((s) => s.state === 'running' && s.percent > 0), [w1]);
            w1.kill('SIGKILL');
            await w1.exited;
            const killedAt = Date.now();
            assert.ok(!s3Keys('vod/mobile/killed/').has('vod/mobile/killed/master.m3u8'),
                'a killed job leaves no master');
            const w2 = startWorker('w2', status);
            let claimedAt = 0;
            // until the job is done, a master never appears without its parts
            await waitFor('done by the second worker', () => {
                if (!claimedAt && /claimed s3:\/\/cirrus-in\/mobile\/killed\.mp4/.test(w2.log))
                    claimedAt = Date.now();
                const s = statuses(status).find((j) => j.input.endsWith('killed.mp4'));
                if (s?.state !== 'done') {
                    assetComplete('vod/mobile/killed');
                    return false;
                }
                return true;
            }, [w2], 180000);
            const s = statuses(status).find((j) => j.input.endsWith('killed.mp4'));
            assert.equal(s.attempt, 2, 'the second delivery');
            assert.ok(claimedAt - killedAt >= 1000,
                `not redelivered before the lease ran out (${claimedAt - killedAt} ms)`);
            assert.ok(claimedAt - killedAt <= 4000 + 3000,
                `redelivered within the visibility timeout (${claimedAt - killedAt} ms)`);
            assert.ok(assetComplete('vod/mobile/killed'));
            w2.kill('SIGTERM');
            assert.equal((await w2.exited).code, 0);
            const left = JSON.parse(tool(['sqs-recv', rig.queueUrl, '1']).stdout);
            assert.deepEqual(left, [], 'acknowledged');
        });

    test('poison: retried maxReceiveCount times, then dead-lettered by the redrive policy',
        async () => {
            const status = C.tmpDir('cirrus-aws-poison-');
            upload(clip('poison.mp4', 1), 'mobile/poison.mp4');
            // every read of this object fails (the rest of S3 works)
            await rig.inject(100000, 500, 'InternalError', 'poison.mp4');
            const w = startWorker('w-poison', status, {},
                { CIRRUS_AWS_MAX_ATTEMPTS: '1' });
            try {
                await waitFor('the third failure', () =>
                    /attempt 3 failed \(last: the redrive policy dead-letters it\)/.test(w.log),
                [w], 60000);
                const dead = await waitFor('the message in the DLQ', () => {
                    const m = JSON.parse(tool(['sqs-recv', rig.dlqUrl, '1', '--delete']).stdout);
                    return m.length ? m : null;
                }, [w], 30000);
                assert.equal(dead.length, 1);
                assert.match(JSON.parse(dead[0].body).Records[0].s3.object.key, /poison\.mp4$/);
                for (const n of [1, 2])
                    assert.match(w.log, new RegExp(`attempt ${n} failed: .*CIR_ETRANSIENT`));
                assert.doesNotMatch(w.log, /attempt 4 failed/);
                const s = statuses(status).find((j) => j.input.endsWith('poison.mp4'));
                assert.equal(s.state, 'failed');
                assert.equal(s.attempt, 3);
                assert.ok(!s3Keys('vod/mobile/poison/').has('vod/mobile/poison/master.m3u8'));
                const left = JSON.parse(tool(['sqs-recv', rig.queueUrl, '1']).stdout);
                assert.deepEqual(left, [], 'gone from the source queue');
            } finally {
                await rig.inject(0);
                w.kill('SIGTERM');
                await w.exited;
            }
        });

    test('two workers, many uploads: each asset once', async () => {
        const status = C.tmpDir('cirrus-aws-pair-');
        const names = Array.from({ length: 6 }, (_, i) => `pair-${i}`);
        const src = clip('pair.mp4', 2);
        for (const n of names)
            upload(src, `mobile/${n}.mp4`);
        const sets = { visibility_seconds: 20 };
        const ws = [startWorker('a', status, sets), startWorker('b', status, sets)];
        await waitFor('every asset', () => names.every((n) =>
            statuses(status).some((s) => s.input.endsWith(`/${n}.mp4`) && s.state === 'done')),
        ws, 240000);
        for (const w of ws) {
            w.kill('SIGTERM');
            assert.equal((await w.exited).code, 0);
        }
        const logs = ws.map((w) => w.log).join('\n');
        for (const n of names) {
            const claims = logs.split('\n').filter((l) =>
                l.includes(`claimed s3://cirrus-in/mobile/${n}.mp4 `));
            assert.equal(claims.length, 1, `${n} claimed once`);
            assert.ok(assetComplete(`vod/mobile/${n}`), `${n} complete`);
        }
        // both took work
        for (const w of ws)
            assert.match(w.log, /claimed s3:\/\//, `${w.name} worked`);
        const left = JSON.parse(tool(['sqs-recv', rig.queueUrl, '1']).stdout);
        assert.deepEqual(left, []);
        assert.equal((await rig.stats()).rejected, 0);
    });
});
