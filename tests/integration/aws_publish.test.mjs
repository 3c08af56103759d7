// Published outputs never change (README "Published outputs never
// change"), on the S3/SQS rig with a bucket watcher (lib/watcher.mjs)
// polling the output bucket behind the fault proxy:
//  - a re-upload of the same key publishes a second version; the first
//    version's objects keep their bytes and its own master still lists
//    them all;
//  - two attempts of one job at once (two cirrus-transcode processes on the
//    same input and output), and a worker whose lease is lost while a
//    second worker redoes its job: no immutable object ever changes, the
//    top-level master always names complete versions;
//  - keys that cannot name an output ("//", a 1010-byte key) go to the
//    dead-letter queue with a reason that names the rule, never dropped.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { playlistUris, watchBucket } from './lib/watcher.mjs';
import { freePort } from './lib/nginx.mjs';
import * as R from '../aws-rig/clients.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const { TOOL, WORKER, AWS_CLI } = R;
const missing = R.missing();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
let rig, tmp;

const tool = (args, opts) => R.tool(rig, args, opts);

const upload = (file, key) => R.upload(rig, file, key);

function s3Keys(prefix) {
    const out = tool(['s3-list', `s3://cirrus-out/${prefix}`]).stdout.trim();
    return new Set(out ? out.split('\n').map((l) => l.split('\t')[0]) : []);
}

function s3Text(key) {
    return tool(['s3-get', `s3://cirrus-out/${key}`, '-']).stdout;
}

// An object's tags, read with the AWS CLI (GetObjectTagging).
const SUPERSEDED = [{ Key: 'cirrus-superseded', Value: 'true' }];
function tags(key) {
    const r = spawnSync(AWS_CLI, ['--endpoint-url', rig.s3, 's3api', 'get-object-tagging',
        '--bucket', 'cirrus-out', '--key', key], { env: rig.env(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).TagSet;
}

// ListObjectsV2 requests the fault proxy saw for a prefix.
function listPages(log, prefix) {
    return log.s3.requests.filter((r) => r.method === 'GET' &&
        r.subject === '/cirrus-out' && (r.query || '').includes(encodeURIComponent(prefix))).length;
}

function track(child, name) {
    children.add(child);
    child.name = name;
    child.log = '';
    child.stdout.on('data', (d) => { child.log += d; });
    child.stderr.on('data', (d) => { child.log += d; });
    child.exited = new Promise((ok) => child.on('exit', (code, signal) => {
        children.delete(child);
        ok({ code, signal });
    }));
    return child;
}

function startWorker(name, statusDir, sets = {}, env = {}) {
    const opts = { intake: 'sqs', sqs_queue_url: rig.queueUrl,
        out_root: 's3://cirrus-out/vod', default_preset: 'mobile',
        presets_dir: C.PRESETS_DIR, workers: 1, status_dir: statusDir,
        visibility_seconds: 20, max_attempts: 2, drain_seconds: 5, ...sets };
    const args = Object.entries(opts).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    // ListObjectsV2 in pages of 5: the marking of superseded versions pages
    return track(spawn(WORKER, args, { env: rig.env({ CIRRUS_AWS_S3_LIST_MAX_KEYS: '5', ...env }),
        stdio: ['ignore', 'pipe', 'pipe'] }), name);
}

function transcode(name, input, output) {
    return track(spawn(C.TRANSCODE_BIN, ['--input', input, '--output', output,
        '--preset', 'mobile', '--presets-dir', C.PRESETS_DIR, '--quiet'],
    { env: rig.env(), stdio: ['ignore', 'pipe', 'pipe'] }), name);
}

async function waitFor(what, fn, procs = [], ms = 180000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        const v = await fn();
        if (v)
            return v;
        await sleep(200);
    }
    throw new Error(`timed out waiting for ${what}\n` +
        procs.map((w) => `--- ${w.name}:\n${w.log.slice(-3000)}`).join('\n'));
}

function statuses(dir) {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
        .map((f) => C.readJson(path.join(dir, f))).filter(Boolean);
}

function clip(name, seconds, pattern = 'testsrc2') {
    const f = path.join(tmp, name);
    const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
        `${pattern}=size=320x240:rate=25`, '-f', 'lavfi', '-i', 'sine', '-t',
        String(seconds), '-c:v', 'libx264', '-g', '50', '-c:a', 'aac', f]);
    assert.equal(r.status, 0);
    return f;
}

// The version a top-level master points at ("v/<id>/...").
function versionOfMaster(text) {
    const m = /(?:^|["\n])v\/([A-Za-z0-9_-]+)\//.exec(text);
    assert.ok(m, `a master pointing into a version:\n${text}`);
    return m[1];
}

// Every key a version's own master names, through its media playlists.
function versionKeys(asset, version) {
    const dir = `${asset}/v/${version}`;
    const keys = new Set([`${dir}/master.m3u8`]);
    for (const u of playlistUris(s3Text(`${dir}/master.m3u8`))) {
        const k = path.posix.join(dir, u);
        keys.add(k);
        if (k.endsWith('.m3u8'))
            for (const s of playlistUris(s3Text(k)))
                keys.add(path.posix.join(path.posix.dirname(k), s));
    }
    return keys;
}

// An S3 notification as S3 (and the rig's bridge) sends it, for keys an
// S3 emulator on a file system cannot store.
function s3Event(key) {
    const enc = encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
    return JSON.stringify({ Records: [{ eventVersion: '2.1', eventSource: 'aws:s3',
        awsRegion: rig.region, eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put', s3: { s3SchemaVersion: '1.0',
            bucket: { name: 'cirrus-in', arn: 'arn:aws:s3:::cirrus-in' },
            object: { key: enc, size: 1000, eTag: 'd41d8cd98f00b204e9800998ecf8427e',
                sequencer: Date.now().toString(16).toUpperCase() } } }] });
}

// The rig (fauxqs: redrive as AWS does it) with a watcher on vod/.
async function startRig(config, tmpName) {
    rig = await start({ visibility: 20, sqs: 'fauxqs', ...config });
    tmp = C.tmpDir(tmpName);
    return watchBucket(rig, { bucket: 'cirrus-out', prefix: 'vod/' });
}

async function stopRig(watcher) {
    for (const c of children)
        c.kill('SIGKILL');
    if (watcher)
        await watcher.stop();
    await stop(rig);
}

describe('published outputs never change', { skip: missing }, () => {
    let watcher;

    before(async () => {
        watcher = await startRig({ maxReceiveCount: 2 }, 'cirrus-aws-publish-');
    });
    after(() => stopRig(watcher));

    test('a re-upload of the same key publishes a second version; the first stays whole',
        async () => {
            const status = C.tmpDir('cirrus-aws-reupload-');
            const asset = 'vod/mobile/same';
            upload(clip('first.mp4', 3), 'mobile/same.mp4');
            const w = startWorker('w-reupload', status);
            const done = (n) => statuses(status).filter((s) =>
                s.input.endsWith('/same.mp4') && s.state === 'done').length >= n;
            await waitFor('the first upload published', () => done(1), [w]);
            const v1 = versionOfMaster(s3Text(`${asset}/master.m3u8`));
            const first = versionKeys(asset, v1);
            const heads = new Map([...first].map((k) =>
                [k, JSON.parse(tool(['s3-head', `s3://cirrus-out/${k}`]).stdout).etag]));
            await watcher.poll();

            // the same key again, other bytes
            upload(clip('second.mp4', 3, 'smptebars'), 'mobile/same.mp4');
            await waitFor('the re-upload published', () => done(2), [w]);
            w.kill('SIGTERM');
            assert.equal((await w.exited).code, 0);
            assert.doesNotMatch(w.log, /outputs already complete/,
                'a re-upload is a new upload, not a redelivery');
            const top = s3Text(`${asset}/master.m3u8`);
            const v2 = versionOfMaster(top);
            assert.notEqual(v2, v1, 'a second version');
            assert.ok(v2 > v1, 'version ids sort by time');
            const results = statuses(status).filter((s) => s.input.endsWith('/same.mp4'));
            assert.deepEqual(results.map((s) => s.version).sort(), [v1, v2].sort());
            // the first version: every object still there with its bytes,
            // its own master still names them all
            assert.deepEqual(versionKeys(asset, v1), first);
            for (const [k, etag] of heads)
                assert.equal(JSON.parse(tool(['s3-head', `s3://cirrus-out/${k}`]).stdout).etag,
                    etag, `${k} unchanged`);
            const keys = s3Keys(`${asset}/`);
            for (const k of versionKeys(asset, v2))
                assert.ok(keys.has(k), `${k} of the second version`);
            // cache: versioned objects immutable, the top-level pair short
            const h = (k) => JSON.parse(tool(['s3-head', `s3://cirrus-out/${k}`]).stdout);
            const immutable = 'public, max-age=1209600, immutable';
            assert.equal(h(`${asset}/v/${v1}/master.m3u8`).cache_control, immutable);
            assert.equal(h(`${asset}/v/${v2}/audio/index.m3u8`).cache_control, immutable);
            assert.equal(h(`${asset}/master.m3u8`).cache_control, 'public, max-age=60');
            // one marker per upload
            assert.equal([...keys].filter((k) => k.startsWith(`${asset}/.published/`)).length, 2);
            // superseded: every object of the first version is tagged for
            // the lifecycle rule (listed in pages of 5), none of the second
            const v1Keys = [...keys].filter((k) => k.startsWith(`${asset}/v/${v1}/`));
            assert.ok(v1Keys.length > 5, `${v1Keys.length} objects: more than one page`);
            for (const k of v1Keys)
                assert.deepEqual(tags(k), SUPERSEDED, `${k} tagged`);
            for (const k of [...keys].filter((k) => !k.startsWith(`${asset}/v/${v1}/`)))
                assert.deepEqual(tags(k), [], `${k} not tagged`);
            assert.ok(![...keys].some((k) => k.includes('/.superseded/')), 'no record left');
            assert.match(w.log, new RegExp(`superseded version ${v1}: ${v1Keys.length} object\\(s\\) tagged`));
            const pages = listPages(await rig.faultLog(), `${asset}/v/${v1}/`);
            assert.ok(pages >= Math.ceil(v1Keys.length / 5), `${pages} ListObjectsV2 pages`);
            await watcher.poll();
            assert.deepEqual(watcher.violations, []);
        });

    test('marking a superseded version that fails never fails the publish; the next one retries',
        async () => {
            const status = C.tmpDir('cirrus-aws-supersede-');
            const asset = 'vod/mobile/again';
            const metricsPort = await freePort();
            const w = startWorker('w-supersede', status, { metrics_port: metricsPort });
            const done = (n) => statuses(status).filter((s) =>
                s.input.endsWith('/again.mp4') && s.state === 'done').length >= n;
            upload(clip('again1.mp4', 2), 'mobile/again.mp4');
            await waitFor('the first upload published', () => done(1), [w]);
            const v1 = versionOfMaster(s3Text(`${asset}/master.m3u8`));
            // S3 refuses every PutObjectTagging of the first version
            await rig.faults([{ service: 's3', method: 'PUT', match: `${asset}/v/${v1}/`,
                action: 'status', status: 403, code: 'AccessDenied' }]);
            upload(clip('again2.mp4', 2, 'smptebars'), 'mobile/again.mp4');
            await waitFor('the second upload published', () => done(2), [w]);
            await rig.faults([]);
            const v2 = versionOfMaster(s3Text(`${asset}/master.m3u8`));
            assert.notEqual(v2, v1, 'published although the marking failed');
            let keys = s3Keys(`${asset}/`);
            assert.ok(keys.has(`${asset}/.superseded/${v1}.json`), 'the record stays');
            assert.deepEqual(tags(`${asset}/v/${v1}/master.m3u8`), []);
            const metrics = async () => (await (await fetch(
                `http://127.0.0.1:${metricsPort}/metrics`)).text());
            assert.match(await metrics(), /^cirrus_worker_supersede_failures_total 1$/m);
            // the third publish marks the second version and retries the first
            upload(clip('again3.mp4', 2, 'rgbtestsrc'), 'mobile/again.mp4');
            await waitFor('the third upload published', () => done(3), [w]);
            const v3 = versionOfMaster(s3Text(`${asset}/master.m3u8`));
            keys = s3Keys(`${asset}/`);
            let tagged = 0;
            for (const k of keys) {
                const old = k.includes(`/v/${v1}/`) || k.includes(`/v/${v2}/`);
                assert.deepEqual(tags(k), old ? SUPERSEDED : [], k);
                tagged += old;
            }
            assert.ok(![...keys].some((k) => k.includes('/.superseded/')), 'records done');
            const text = await metrics();
            assert.match(text, new RegExp(`^cirrus_worker_superseded_objects_total ${tagged}$`, 'm'));
            assert.match(text, /^cirrus_worker_supersede_failures_total 1$/m);
            w.kill('SIGTERM');
            assert.equal((await w.exited).code, 0);
            for (const k of versionKeys(asset, v3))
                assert.ok(keys.has(k), `${k} of the published version`);
            await watcher.poll();
            assert.deepEqual(watcher.violations, []);
        });

    test('two attempts of one job at once: no published object changes', async () => {
        // an input in a bucket without notifications: no worker job
        const input = 's3://cirrus-out/inputs/race.mp4';
        const up = spawnSync(AWS_CLI, ['--endpoint-url', rig.s3, 's3', 'cp',
            clip('race.mp4', 4), input], { env: rig.env(), encoding: 'utf8' });
        assert.equal(up.status, 0, up.stderr);
        const out = 's3://cirrus-out/vod/race';
        // the second starts while the first writes segments
        const a = transcode('attempt-a', input, out);
        await sleep(1500);
        const b = transcode('attempt-b', input, out);
        const [ra, rb] = await Promise.all([a.exited, b.exited]);
        assert.equal(ra.code, 0, a.log);
        assert.equal(rb.code, 0, b.log);
        const va = C.lastJsonLine(a.log)?.version, vb = C.lastJsonLine(b.log)?.version;
        assert.ok(va && vb && va !== vb, `each attempt its own version: ${va} ${vb}`);
        const top = versionOfMaster(s3Text('vod/race/master.m3u8'));
        assert.ok([va, vb].includes(top), 'the master names one finished attempt');
        for (const v of [va, vb]) {
            const keys = s3Keys(`vod/race/v/${v}/`);
            for (const k of versionKeys('vod/race', v))
                assert.ok(keys.has(k), `${k} complete`);
        }
        await watcher.poll();
        assert.deepEqual(watcher.violations, []);
    });

    test('a worker whose lease runs out while another redoes the job', async () => {
        const status = C.tmpDir('cirrus-aws-lease-');
        const sets = { visibility_seconds: 4, max_attempts: 3 };
        // the first heartbeat hangs 8 s: the 4 s lease runs out meanwhile
        await rig.faults([{ service: 'sqs', match: 'ChangeMessageVisibility',
            action: 'hang', delayMs: 8000, count: 1 }]);
        try {
            upload(clip('lease.mp4', 6), 'mobile/lease.mp4');
            const ws = [startWorker('lease-a', status, sets),
                startWorker('lease-b', status, sets)];
            await waitFor('published', () => statuses(status).some((s) =>
                s.input.endsWith('/lease.mp4') && s.state === 'done'), ws);
            // let a stale attempt finish (or stop) before the verdict
            await sleep(10000);
            for (const w of ws) {
                w.kill('SIGTERM');
                await w.exited;
            }
            const claims = ws.map((w) => w.log).join('\n').split('\n')
                .filter((l) => l.includes('claimed s3://cirrus-in/mobile/lease.mp4'));
            console.log(`# lease: ${claims.length} claim(s)`);
            const top = versionOfMaster(s3Text('vod/mobile/lease/master.m3u8'));
            const keys = s3Keys('vod/mobile/lease/');
            for (const k of versionKeys('vod/mobile/lease', top))
                assert.ok(keys.has(k), `${k} of the published version`);
        } finally {
            await rig.faults([]);
        }
        await watcher.poll();
        assert.deepEqual(watcher.violations, []);
    });

    test('keys that cannot name an output go to the dead-letter queue with the rule',
        async () => {
            const status = C.tmpDir('cirrus-aws-badkeys-');
            const long = `mobile/${'k'.repeat(200)}/${'l'.repeat(200)}/${'m'.repeat(200)}/` +
                `${'n'.repeat(200)}/${'o'.repeat(195)}.mp4`;
            assert.equal(Buffer.byteLength(long), 1010);
            tool(['sqs-send', rig.queueUrl, s3Event('mobile//double.mp4')]);
            tool(['sqs-send', rig.queueUrl, s3Event(long)]);
            // nothing to do: logged at info and deleted, not dead-lettered
            tool(['sqs-send', rig.queueUrl,
                JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' })]);
            const w = startWorker('w-badkeys', status, { visibility_seconds: 4 });
            const dead = [];
            await waitFor('both in the DLQ', () => {
                const m = JSON.parse(tool(['sqs-recv', rig.dlqUrl, '1', '--delete']).stdout);
                dead.push(...m);
                return dead.length >= 2;
            }, [w], 60000);
            w.kill('SIGTERM');
            await w.exited;
            const keys = dead.map((m) => decodeURIComponent(
                JSON.parse(m.body).Records[0].s3.object.key));
            assert.deepEqual(keys.sort(), ['mobile//double.mp4', long].sort());
            assert.match(w.log, /cannot run: object key "mobile\/\/double\.mp4": an empty path segment/);
            assert.match(w.log, /cannot run: object key of 1010 bytes: .*exceed S3's 1024-byte key limit/);
            assert.doesNotMatch(w.log, /not a job, dropped/);
            assert.match(w.log, /s3:TestEvent: nothing to do/);
            const failed = statuses(status).filter((s) => s.state === 'failed');
            assert.ok(failed.some((s) => /empty path segment/.test(s.error)), JSON.stringify(failed));
            assert.ok(failed.some((s) => /1024-byte key limit/.test(s.error)), JSON.stringify(failed));
            const left = JSON.parse(tool(['sqs-recv', rig.queueUrl, '1']).stdout);
            assert.deepEqual(left, [], 'nothing left on the source queue');
            assert.deepEqual(s3Keys('vod/mobile/double'), new Set());
        });

    test('the watcher itself: it catches a rewritten segment and a missing reference',
        async () => {
            const w = watchBucket(rig, { bucket: 'cirrus-out', prefix: 'selftest/' });
            const put = (key, text) => {
                const f = path.join(tmp, 'selftest.txt');
                fs.writeFileSync(f, text);
                tool(['s3-put', `s3://cirrus-out/${key}`, f]);
            };
            const v = 'selftest/a/v/1';
            put(`${v}/r/init.mp4`, 'init');
            put(`${v}/r/seg-1.m4s`, 'one');
            put(`${v}/r/index.m3u8`, '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1,\nseg-1.m4s\n');
            put('selftest/a/master.m3u8', '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/1/r/index.m3u8\n');
            await w.poll();
            put(`${v}/r/seg-1.m4s`, 'other bytes');
            put('selftest/b/master.m3u8', '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/2/r/index.m3u8\n');
            await w.poll();
            const report = await w.stop();
            assert.equal(report.violations.length, 2, report.violations.join('\n'));
            assert.match(report.violations[0], /selftest\/a\/v\/1\/r\/seg-1\.m4s changed bytes .* after selftest\/a\/master\.m3u8/);
            assert.match(report.violations[1], /selftest\/b\/master\.m3u8 .* references selftest\/b\/v\/2\/r\/index\.m3u8, which is missing/);
        });

    test('the watcher saw masters and no violation', async () => {
        const report = await watcher.stop();
        watcher = null;
        assert.ok(report.polls > 3, `${report.polls} polls`);
        assert.ok(report.masters.length >= 4, `${report.masters.length} manifests followed`);
        // the top-level manifests moved (re-upload, race), and the upload
        // markers of jobs done twice (the lease race); nothing else did
        console.log(`# watcher: ${report.polls} polls, ${report.keys.size} keys, ` +
            `${report.masters.length} manifests, ${report.changes.length} changes`);
        for (const c of report.changes) {
            assert.match(c.key, /(^vod\/[^]*\/(master\.m3u8|manifest\.mpd)|\/\.published\/[0-9a-f]{64}\.json)$/,
                JSON.stringify(c));
            assert.doesNotMatch(c.key, /\/v\//, JSON.stringify(c));
        }
        assert.deepEqual(report.violations, []);
    });
});

// The chaos run: two workers, ten uploads (eight clips, a re-upload of one
// of them, a file that is not media) arriving all through two minutes of
// random faults (CIRRUS_CHAOS_MS; CIRRUS_CHAOS_SEED replays a run): a fault
// every 1.5 s on S3 and SQS (503 SlowDown and 500 bursts, resets, bodies
// cut short, delays, a hung heartbeat, failed deletes and receives), each
// short enough for the retry budget and the lease to ride out.  Every good
// upload is published exactly once per version, the poison file lands in
// the dead-letter queue, and the watcher sees no published object change.
describe('chaos: two workers, ten uploads, random faults for two minutes',
    { skip: missing }, () => {
        const SEED = Number(process.env.CIRRUS_CHAOS_SEED || Date.now() % 100000);
        const CHAOS_MS = Number(process.env.CIRRUS_CHAOS_MS || 120000);
        let watcher;

        before(async () => {
            watcher = await startRig({ maxReceiveCount: 4 }, 'cirrus-aws-chaos-');
        });
        after(() => stopRig(watcher));

        // a small deterministic generator (mulberry32): the seed is printed
        function random(seed) {
            let a = seed >>> 0;
            return () => {
                a = (a + 0x6d2b79f5) >>> 0;
                let t = Math.imul(a ^ (a >>> 15), 1 | a);
                t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
                return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
            };
        }
        const FAULTS = [
            { service: 's3', method: 'PUT', action: 'status', status: 503, code: 'SlowDown', forMs: 2000 },
            { service: 's3', method: 'GET', action: 'status', status: 500, code: 'InternalError', count: 3 },
            { service: 's3', method: 'GET', match: 'cirrus-in/', action: 'cut', cutAfter: 20000, count: 1 },
            { service: 's3', action: 'reset', count: 2 },
            { service: 's3', method: 'PUT', action: 'delay', delayMs: 1500, count: 2 },
            { service: 'sqs', match: 'ChangeMessageVisibility', action: 'hang', delayMs: 3000, count: 1 },
            { service: 'sqs', match: 'ChangeMessageVisibility', action: 'status', status: 500, code: 'InternalError', count: 1 },
            { service: 'sqs', match: 'DeleteMessage', action: 'status', status: 500, code: 'InternalError', count: 1 },
            { service: 'sqs', match: 'ReceiveMessage', action: 'status', status: 503, code: 'ServiceUnavailable', count: 2 },
            { service: 'sqs', match: 'ReceiveMessage', action: 'reset', count: 1 },
        ];

        test('every good upload published once per version, the poison dead-lettered, nothing changed',
            async () => {
                const status = C.tmpDir('cirrus-aws-chaos-status-');
                const rnd = random(SEED);
                const good = Array.from({ length: 8 }, (_, i) => `mobile/chaos-${i}.mp4`);
                const poison = path.join(tmp, 'poison.mp4');
                fs.writeFileSync(poison, Buffer.from(Array.from({ length: 60000 },
                    (_, i) => (i * 7919 + SEED) & 0xff)));
                const clips = good.map((k, i) => clip(`chaos-${i}.mp4`, 2,
                    i % 2 ? 'smptebars' : 'testsrc2'));
                const sets = { visibility_seconds: 20, max_attempts: 4 };
                const ws = [startWorker('chaos-a', status, sets),
                    startWorker('chaos-b', status, sets)];
                const applied = [];
                let chaos = true, faulted = 0;
                // (setting rules clears the proxies' log: counted per window)
                const countFaulted = async () => {
                    const l = await rig.faultLog();
                    faulted += l.s3.log.length + l.sqs.log.length;
                };
                const faulting = (async () => {
                    const end = Date.now() + CHAOS_MS;
                    while (chaos && Date.now() < end) {
                        const f = FAULTS[Math.floor(rnd() * FAULTS.length)];
                        applied.push(`${f.service}:${f.match || f.method || '*'}:${f.action}`);
                        await countFaulted();
                        await rig.faults([f]);
                        await sleep(1500);
                    }
                    await countFaulted();
                    await rig.faults([]);
                })();
                try {
                    // the uploads arrive all through the faults
                    for (const [i, k] of good.entries()) {
                        upload(clips[i], k);
                        if (i === 3)
                            upload(poison, 'mobile/chaos-poison.mp4');
                        await sleep(CHAOS_MS / 10);
                    }
                    const done = (key) => statuses(status).filter((s) =>
                        s.input.endsWith(`/${key}`) && s.state === 'done');
                    await waitFor('the first upload published', () => done('chaos-0.mp4').length >= 1,
                        ws, 240000);
                    // the same key again, other bytes: a second version
                    upload(clips[1], good[0]);
                    await waitFor('every good upload and the re-upload published', () =>
                        good.every((k) => done(path.basename(k)).length >= 1) &&
                        done('chaos-0.mp4').length >= 2, ws, 300000);
                    const dead = [];
                    await waitFor('the poison in the dead-letter queue', () => {
                        const m = JSON.parse(tool(['sqs-recv', rig.dlqUrl, '1', '--delete']).stdout);
                        dead.push(...m);
                        return dead.length >= 1;
                    }, ws, 120000);
                    // the faults run their whole time (jobs redone after
                    // a lost lease may still be under way), then none
                    await faulting;
                    // let stale attempts end before the verdict
                    await sleep(5000);
                    for (const w of ws) {
                        w.kill('SIGTERM');
                        await w.exited;
                    }
                    const deadKeys = dead.map((m) => decodeURIComponent(
                        JSON.parse(m.body).Records[0].s3.object.key));
                    assert.deepEqual(deadKeys, ['mobile/chaos-poison.mp4']);
                    // once per version: one marker per upload (9), the
                    // top-level master naming a complete version
                    const markers = new Map();
                    for (const k of good) {
                        const asset = `vod/${k.replace(/\.mp4$/, '')}`;
                        const keys = s3Keys(`${asset}/`);
                        markers.set(k, [...keys].filter((x) => x.includes('/.published/')).length);
                        const top = versionOfMaster(s3Text(`${asset}/master.m3u8`));
                        for (const x of versionKeys(asset, top))
                            assert.ok(keys.has(x), `${x} of the published version`);
                    }
                    assert.equal(markers.get(good[0]), 2, 'the re-upload: a second version');
                    for (const k of good.slice(1))
                        assert.equal(markers.get(k), 1, `${k}: published once`);
                    const results = statuses(status);
                    const versions = new Set(results.filter((s) => s.state === 'done')
                        .map((s) => s.version));
                    await watcher.poll();
                    const report = await watcher.stop();
                    watcher = null;
                    const claims = ws.map((w) => w.log).join('\n').split('\n')
                        .filter((l) => / claimed s3:\/\/cirrus-in\//.test(l)).length;
                    const kinds = {};
                    for (const a of applied)
                        kinds[a] = (kinds[a] || 0) + 1;
                    console.log(`# chaos (seed ${SEED}): ${applied.length} fault rules ` +
                        `set, ${faulted} requests faulted; ${claims} claims for 10 uploads; ` +
                        `${results.filter((s) => s.state === 'done').length} done, ` +
                        `${versions.size} versions published, poison dead-lettered; ` +
                        `watcher ${report.polls} polls, ${report.keys.size} keys, ` +
                        `${report.changes.length} changes, ${report.violations.length} violations`);
                    console.log(`# chaos rules: ${JSON.stringify(kinds)}`);
                    assert.deepEqual(report.violations, []);
                    for (const c of report.changes)
                        assert.doesNotMatch(c.key, /\/v\//, JSON.stringify(c));
                } finally {
                    chaos = false;
                    await faulting;
                }
            });
    });
