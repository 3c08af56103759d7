// The AWS clients on the real S3 and SQS wire protocols, on loopback: s3rver
// and local-aws-sqs behind a proxy that recomputes every SigV4 signature with
// AWS's own signer (@smithy/signature-v4) and rejects mismatches, so each
// passing request proves our signature right.  /usr/bin/aws uploads media as
// a user would; cirrus-aws-tool drives our client; cirrus-transcode reads
// s3:// input (and TTML / SCC sidecars) through the ranged-GET AVIOContext
// and writes s3:// outputs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const TOOL = process.env.CIRRUS_AWS_TOOL ||
    path.join(C.BUILD_DIR, 'common', 'aws', 'cirrus-aws-tool');
const WORKER = path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const AWS_CLI = '/usr/bin/aws';
const missing = !fs.existsSync(TOOL) ? `${TOOL} is not built`
    : !fs.existsSync(AWS_CLI) ? 'awscli is not installed (scripts/setup)'
        : false;

let rig, tmp;

function tool(args, env = rig.env()) {
    const r = spawnSync(TOOL, args, { env, encoding: 'utf8', timeout: 120000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// For tests whose loopback servers live in this process (spawnSync would
// block their event loop).
function toolAsync(args, env) {
    return new Promise((resolve) => {
        const c = spawn(TOOL, args, { env });
        let stdout = '', stderr = '';
        c.stdout.on('data', (d) => { stdout += d; });
        c.stderr.on('data', (d) => { stderr += d; });
        c.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
}

function ok(r) {
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    return r;
}

function awsCli(args) {
    const r = spawnSync(AWS_CLI, ['--endpoint-url', rig.s3, ...args],
        { env: rig.env(), encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, `aws ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
}

function head(uri) {
    return JSON.parse(ok(tool(['s3-head', uri])).stdout);
}

async function receiveAll(queueUrl, want, timeoutMs = 20000) {
    const got = [];
    const end = Date.now() + timeoutMs;
    while (got.length < want && Date.now() < end) {
        const r = ok(tool(['sqs-recv', queueUrl, '2', '--delete']));
        got.push(...JSON.parse(r.stdout));
    }
    return got;
}

// A loopback stand-in for the ECS/Batch container credentials endpoint and
// for EC2 IMDSv2, handing out the rig's key with a session token.
function credentialServer(creds) {
    const seen = [];
    const server = http.createServer((req, res) => {
        seen.push({ method: req.method, url: req.url, headers: req.headers });
        const body = JSON.stringify({
            AccessKeyId: creds.accessKey, SecretAccessKey: creds.secretKey,
            Token: 'session-token/for+tests==',
            Expiration: new Date(Date.now() + 3600e3).toISOString().replace(/\.\d+Z$/, 'Z'),
        });
        if (req.url === '/creds' && req.headers.authorization === 'Bearer rig-token') {
            res.end(body);
        } else if (req.method === 'PUT' && req.url === '/latest/api/token' &&
            req.headers['x-aws-ec2-metadata-token-ttl-seconds']) {
            res.end('imds-token');
        } else if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-token') {
            res.writeHead(401).end();
        } else if (req.url === '/latest/meta-data/iam/security-credentials/') {
            res.end('cirrus-role\n');
        } else if (req.url === '/latest/meta-data/iam/security-credentials/cirrus-role') {
            res.end(body);
        } else {
            res.writeHead(404).end();
        }
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
        resolve({ server, seen, url: `http://127.0.0.1:${server.address().port}` })));
}

describe('AWS clients against S3 and SQS on loopback', { skip: missing }, () => {
    before(async () => {
        rig = await start({ visibility: 5 });
        tmp = C.tmpDir('cirrus-aws-');
    });
    after(async () => {
        await stop(rig);
    });

    test('put, head, get and list round-trip, with metadata', async () => {
        const f = path.join(tmp, 'a.txt');
        fs.writeFileSync(f, 'hello cirrus\n');
        ok(tool(['s3-put', 's3://cirrus-out/t/a.txt', f, '--content-type', 'text/plain',
            '--cache-control', 'public, max-age=60', '--meta', 'preset=web']));
        const h = head('s3://cirrus-out/t/a.txt');
        assert.equal(h.size, 13);
        assert.equal(h.content_type, 'text/plain');
        assert.equal(h.cache_control, 'public, max-age=60');
        const meta = JSON.parse(awsCli(['s3api', 'head-object', '--bucket', 'cirrus-out',
            '--key', 't/a.txt']));
        assert.equal(meta.Metadata.preset, 'web');
        assert.equal(ok(tool(['s3-get', 's3://cirrus-out/t/a.txt', '-'])).stdout, 'hello cirrus\n');
        assert.match(ok(tool(['s3-list', 's3://cirrus-out/t/'])).stdout, /^t\/a\.txt\t13$/m);
        assert.equal(tool(['s3-get', 's3://cirrus-out/t/none.txt', '-']).code, 4);
        const st = await rig.stats();
        assert.equal(st.rejected, 0);
        assert.ok(st.verified >= 5);
    });

    test('a key with spaces, plus signs and unicode round-trips', async () => {
        const key = 'dir with space/Ünïcødé + plus/ファイル (1).txt';
        const f = path.join(tmp, 'u.txt');
        fs.writeFileSync(f, 'unicode');
        ok(tool(['s3-put', `s3://cirrus-out/${key}`, f]));
        assert.equal(ok(tool(['s3-get', `s3://cirrus-out/${key}`, '-'])).stdout, 'unicode');
        // the AWS CLI sees the same key
        const ls = JSON.parse(awsCli(['s3api', 'list-objects-v2', '--bucket', 'cirrus-out',
            '--prefix', 'dir with space/']));
        assert.deepEqual(ls.Contents.map((c) => c.Key), [key]);
        assert.match(ok(tool(['s3-list', 's3://cirrus-out/dir with space/'])).stdout,
            new RegExp(`^${key.replace(/[()+]/g, '\\$&')}\\t7$`, 'm'));
    });

    test('multipart upload in parallel parts, and ranged reads', async () => {
        const parts = (await rig.stats()).parts;
        const f = path.join(tmp, 'big.bin');
        const data = crypto.randomBytes(12 * 1024 * 1024 + 12345);
        fs.writeFileSync(f, data);
        ok(tool(['s3-put', 's3://cirrus-out/big/x.bin', f, '--multipart',
            '--content-type', 'video/mp4']));
        const h = head('s3://cirrus-out/big/x.bin');
        assert.equal(h.size, data.length);
        assert.equal(h.content_type, 'video/mp4');
        assert.equal((await rig.stats()).parts, parts + 3, 'three parts');
        const out = path.join(tmp, 'big.out');
        ok(tool(['s3-get', 's3://cirrus-out/big/x.bin', out]));
        assert.ok(fs.readFileSync(out).equals(data));
        ok(tool(['s3-range', 's3://cirrus-out/big/x.bin', '6000000', '4096', out]));
        assert.ok(fs.readFileSync(out).equals(data.subarray(6000000, 6004096)));
    });

    test('a wrong secret is rejected by the verifier: a clear CIR_EAUTH', async () => {
        const before = (await rig.stats()).rejected;
        const r = tool(['s3-get', 's3://cirrus-out/t/a.txt', '-'],
            rig.env({ AWS_SECRET_ACCESS_KEY: 'not-the-secret' }));
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, /CIR_EAUTH.*403 SignatureDoesNotMatch/);
        assert.doesNotMatch(r.stderr, /not-the-secret/, 'secrets are never printed');
        assert.equal((await rig.stats()).rejected, before + 1, 'not retried');
    });

    test('S3 answering 503 SlowDown for a while: retried with backoff, done', async () => {
        const f = path.join(tmp, 'slow.txt');
        fs.writeFileSync(f, 'slow');
        await rig.inject(3, 503, 'SlowDown');
        const injected = (await rig.stats()).injected;
        const r = ok(tool(['s3-put', 's3://cirrus-out/t/slow.txt', f]));
        assert.match(r.stderr, /retrying \(3\/\d+\).*SlowDown/);
        assert.equal((await rig.stats()).injected, injected + 3);
        assert.equal(ok(tool(['s3-get', 's3://cirrus-out/t/slow.txt', '-'])).stdout, 'slow');
        // past the attempt limit: a final transient error
        await rig.inject(10, 503, 'SlowDown');
        const r2 = tool(['s3-get', 's3://cirrus-out/t/slow.txt', '-'],
            rig.env({ CIRRUS_AWS_MAX_ATTEMPTS: '2' }));
        assert.equal(r2.code, 5, r2.stderr);
        assert.match(r2.stderr, /CIR_ETRANSIENT/);
        await rig.inject(0);
    });

    test('an awscli upload becomes an S3 notification in SQS, key URL-encoded', async () => {
        const f = path.join(tmp, 'n.bin');
        fs.writeFileSync(f, 'x');
        awsCli(['s3', 'cp', f, 's3://cirrus-in/web/My Video+1 é.mp4']);
        const msgs = await receiveAll(rig.queueUrl, 1);
        assert.equal(msgs.length, 1);
        assert.equal(msgs[0].receive_count, 1);
        const rec = JSON.parse(msgs[0].body).Records[0];
        assert.equal(rec.eventSource, 'aws:s3');
        assert.match(rec.eventName, /^ObjectCreated:/);
        assert.equal(rec.s3.bucket.name, 'cirrus-in');
        assert.equal(rec.s3.object.key, 'web/My+Video%2B1+%C3%A9.mp4');
    });

    test('SQS send, receive (long poll), visibility and receive count', async () => {
        const id = ok(tool(['sqs-send', rig.queueUrl, '{"hello":1}'])).stdout.trim();
        assert.ok(id.length > 0);
        const t0 = Date.now();
        const first = JSON.parse(ok(tool(['sqs-recv', rig.queueUrl, '2'])).stdout);
        assert.equal(first.length, 1);
        assert.equal(first[0].body, '{"hello":1}');
        // hidden for the queue's 5 s visibility, then delivered again
        const hidden = JSON.parse(ok(tool(['sqs-recv', rig.queueUrl, '1'])).stdout);
        assert.equal(hidden.length, 0);
        const again = await receiveAll(rig.queueUrl, 1, 15000);
        assert.equal(again.length, 1);
        assert.equal(again[0].receive_count, 2);
        assert.ok(Date.now() - t0 >= 4000);
    });

    test('credentials from the container endpoint and from IMDSv2', async () => {
        const cs = await credentialServer(rig);
        try {
            const f = path.join(tmp, 'c.txt');
            fs.writeFileSync(f, 'container');
            const base = rig.env();
            delete base.AWS_ACCESS_KEY_ID;
            delete base.AWS_SECRET_ACCESS_KEY;
            ok(await toolAsync(['s3-put', 's3://cirrus-out/t/container.txt', f], {
                ...base, AWS_CONTAINER_CREDENTIALS_FULL_URI: `${cs.url}/creds`,
                AWS_CONTAINER_AUTHORIZATION_TOKEN: 'Bearer rig-token' }));
            ok(await toolAsync(['s3-get', 's3://cirrus-out/t/container.txt', '-'], {
                ...base, AWS_EC2_METADATA_DISABLED: 'false',
                AWS_EC2_METADATA_SERVICE_ENDPOINT: cs.url }));
            assert.ok(cs.seen.some((s) => s.method === 'PUT' && s.url === '/latest/api/token'));
            // a wrong container token: the endpoint refuses, a clear auth error
            const r = await toolAsync(['s3-get', 's3://cirrus-out/t/container.txt', '-'], {
                ...base, AWS_CONTAINER_CREDENTIALS_FULL_URI: `${cs.url}/creds`,
                AWS_CONTAINER_AUTHORIZATION_TOKEN: 'Bearer wrong' });
            assert.equal(r.code, 3, r.stderr);
        } finally {
            cs.server.close();
        }
    });

    test('Batch SubmitJob is signed and has the documented shape', async () => {
        const r = ok(tool(['batch-submit', 'cirrus-web-abc123', 'cirrus-queue', 'cirrus-transcode:3',
            'input=s3://cirrus-in/web/a b.mp4', 'output=s3://cirrus-out/a', 'preset=web']));
        const jobs = await rig.submitted();
        assert.equal(jobs.length, 1);
        assert.equal(jobs[0].jobId, r.stdout.trim());
        assert.deepEqual(jobs[0].parameters, { input: 's3://cirrus-in/web/a b.mp4',
            output: 's3://cirrus-out/a', preset: 'web' });
    });

    test('cirrus-transcode s3:// in, s3:// out, with CloudFront metadata', async () => {
        const src = path.join(tmp, 'clip.mp4');
        const ff = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
            'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '4',
            '-c:v', 'libx264', '-g', '50', '-c:a', 'aac', src]);
        assert.equal(ff.status, 0);
        awsCli(['s3', 'cp', src, 's3://cirrus-in/web/Clip é 1.mp4']);
        const r = spawnSync(C.TRANSCODE_BIN, ['--input', 's3://cirrus-in/web/Clip é 1.mp4',
            '--output', 's3://cirrus-out/assets/clip-1', '--preset', 'mobile', '--quiet'],
        { env: rig.env(), encoding: 'utf8', timeout: 300000 });
        assert.equal(r.status, 0, r.stderr);
        const res = C.lastJsonLine(r.stdout);
        assert.equal(res.state, 'done');
        const keys = ok(tool(['s3-list', 's3://cirrus-out/assets/clip-1/'])).stdout
            .trim().split('\n').map((l) => l.split('\t')[0]);
        for (const k of ['master.m3u8', 'manifest.mpd'])
            assert.ok(keys.includes(`assets/clip-1/${k}`), `${k} in ${keys}`);
        const m = head('s3://cirrus-out/assets/clip-1/master.m3u8');
        assert.equal(m.content_type, 'application/vnd.apple.mpegurl');
        // origin/'s one cache policy (docs/architecture.md "Cache
        // semantics"): the top-level pair is rewritten on every publish
        assert.equal(m.cache_control, 'public, max-age=60');
        const mpd = head('s3://cirrus-out/assets/clip-1/manifest.mpd');
        assert.equal(mpd.content_type, 'application/dash+xml');
        const seg = keys.find((k) => k.endsWith('.m4s'));
        const init = keys.find((k) => k.endsWith('init.mp4'));
        for (const k of [seg, init]) {
            const h = head(`s3://cirrus-out/${k}`);
            assert.match(h.content_type, /^(video|audio)\/(mp4|iso\.segment)$/);
            assert.equal(h.cache_control, 'public, max-age=1209600, immutable');
        }
        const st = await rig.stats();
        assert.ok(st.verified > keys.length, 'every PUT went through the verifier');
    });

    test('cirrus-transcode: an s3:// still image into s3:// renditions', async () => {
        // a bucket without notifications: the worker test below counts jobs
        const key = 'photos/My Photo é+1.jpg';
        awsCli(['s3', 'cp', C.sample('still_exif.jpg'), `s3://cirrus-out/${key}`]);
        const before = await rig.stats();
        const r = spawnSync(C.TRANSCODE_BIN, ['--input', `s3://cirrus-out/${key}`,
            '--output', 's3://cirrus-out/stills/photo-1', '--preset', 'image', '--quiet'],
        { env: rig.env(), encoding: 'utf8', timeout: 120000 });
        assert.equal(r.status, 0, r.stderr);
        const res = C.lastJsonLine(r.stdout);
        assert.equal(res.state, 'done');
        assert.equal(res.image, true);
        const keys = ok(tool(['s3-list', 's3://cirrus-out/stills/photo-1/'])).stdout
            .trim().split('\n').map((l) => l.split('\t')[0]);
        assert.ok(keys.includes('stills/photo-1/images/manifest.json'), keys.join(' '));
        const manifest = JSON.parse(ok(tool(['s3-get',
            's3://cirrus-out/stills/photo-1/images/manifest.json', '-'])).stdout);
        const named = C.imageNames(manifest);
        const files = keys.filter((k) => /\/images\/\d+\.(jpg|webp)$/.test(k));
        assert.ok(files.length >= 2, `renditions: ${files.join(' ')}`);
        assert.ok(named.length >= files.length, 'manifest.json names the files');
        for (const k of files) {
            const h = head(`s3://cirrus-out/${k}`);
            assert.equal(h.content_type, k.endsWith('.jpg') ? 'image/jpeg' : 'image/webp', k);
        }
        // a rendition decodes, upright per EXIF, no wider than the source
        const jpg = files.find((k) => k.endsWith('.jpg'));
        const local = path.join(tmp, 'still-out.jpg');
        ok(tool(['s3-get', `s3://cirrus-out/${jpg}`, local]));
        const probe = C.videoStream(C.ffprobe(local));
        assert.equal(probe.codec_name, 'mjpeg');
        assert.equal(probe.width, Number(path.basename(jpg).split('.')[0]));
        // the input was read through the verifying proxy, not copied whole
        const after = await rig.stats();
        assert.equal(after.rejected, before.rejected);
        // a missing still is a clear bad-input error (exit 2)
        const miss = spawnSync(C.TRANSCODE_BIN, ['--input', 's3://cirrus-out/photos/none.jpg',
            '--output', 's3://cirrus-out/stills/none', '--preset', 'image', '--quiet'],
        { env: rig.env(), encoding: 'utf8', timeout: 60000 });
        assert.equal(miss.status, 2, miss.stderr);
    });

    test('cirrus-transcode: s3:// TTML and SCC sidecars', async () => {
        // read whole (TTML) and through the SCC demuxer, which the SCC time
        // codes' sniff seeks back on: both over the ranged-GET AVIOContext
        const scc = path.join(tmp, 'cc.scc');
        fs.writeFileSync(scc, 'Scenarist_SCC V1.0\n\n00:00:01;00\t9420 9420 94ae ' +
            '94ae 9452 9452 c8e5 ecec ef80 942f 942f\n\n00:00:02;15\t942c 942c\n\n');
        awsCli(['s3', 'cp', path.join(C.SOURCE_DIR, 'samples', 'subtitles',
            'sample.de.ttml'), 's3://cirrus-out/subs/film.ttml']);
        awsCli(['s3', 'cp', scc, 's3://cirrus-out/subs/film.scc']);
        const out = path.join(tmp, 'subs-out');
        const subs = (list) => ['--input', C.sample('h264_720p2997.mp4'),
            '--output', out, '--preset', 'mobile', '--quiet',
            '--subtitles', JSON.stringify(list)];
        const r = spawnSync(C.TRANSCODE_BIN, subs([
            { uri: 's3://cirrus-out/subs/film.ttml' }, // xml:lang="de"
            { uri: 's3://cirrus-out/subs/film.scc', language: 'en' }]),
        { env: rig.env(), encoding: 'utf8', timeout: 300000 });
        assert.equal(r.status, 0, r.stderr);
        const v = C.versionDir(out);
        const de = C.parseVtt(fs.readFileSync(path.join(v, 'subs-de', 'full.vtt'), 'utf8'));
        assert.deepEqual(de.slice(0, 2).map((c) => [c.start, c.end]),
            [[0.5, 1.4], [1.48, 2.6]]);
        const en = C.parseVtt(fs.readFileSync(path.join(v, 'subs-en', 'full.vtt'), 'utf8'));
        assert.deepEqual(en.map((c) => [c.start, c.end, c.text]),
            [[1.001, 2.503, 'Hello']]);
        const miss = spawnSync(C.TRANSCODE_BIN, subs([
            { uri: 's3://cirrus-out/subs/none.ttml', language: 'de' }]),
        { env: rig.env(), encoding: 'utf8', timeout: 60000 });
        assert.equal(miss.status, 2, miss.stderr);
        assert.match(miss.stderr, /subtitles\[0\] \(s3:\/\/cirrus-out\/subs\/none\.ttml\): /);
    });

    test('cirrus-worker on the SQS intake: upload -> outputs, TestEvent dropped, poison dead-lettered',
        { skip: fs.existsSync(WORKER) ? false : 'cirrus-worker is not built' }, async () => {
            const src = path.join(tmp, 'w.mp4');
            const ff = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
                'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '3',
                '-c:v', 'libx264', '-g', '50', '-c:a', 'aac', src]);
            assert.equal(ff.status, 0);
            const poison = path.join(tmp, 'poison.mp4');
            fs.writeFileSync(poison, crypto.randomBytes(4096));
            ok(tool(['sqs-send', rig.queueUrl, JSON.stringify({ Service: 'Amazon S3',
                Event: 's3:TestEvent', Bucket: 'cirrus-in' })]));
            awsCli(['s3', 'cp', src, 's3://cirrus-in/mobile/Wörker Clip.mp4']);
            awsCli(['s3', 'cp', poison, 's3://cirrus-in/mobile/poison.mp4']);
            const status = C.tmpDir('cirrus-aws-status-');
            const w = spawn(WORKER, ['--set', 'intake=sqs', '--set', `sqs_queue_url=${rig.queueUrl}`,
                '--set', 'out_root=s3://cirrus-out/vod', '--set', 'default_preset=web',
                '--set', 'workers=1', '--set', `status_dir=${status}`,
                '--set', 'visibility_seconds=20'], { env: rig.env(), stdio: ['ignore', 'ignore', 'pipe'] });
            let log = '';
            w.stderr.on('data', (d) => { log += d; });
            const end = Date.now() + 120000;
            const states = () => fs.readdirSync(status).filter((f) => f.endsWith('.json'))
                .map((f) => C.readJson(path.join(status, f)));
            while (Date.now() < end &&
                states().filter((j) => j.state === 'done' || j.state === 'failed').length < 2)
                await new Promise((r) => setTimeout(r, 300));
            // a permanent failure is parked, not deleted: visible again at
            // once, the queue's redrive policy moves it to the DLQ
            let dead = [];
            while (Date.now() < end && dead.length === 0) {
                dead = JSON.parse(ok(tool(['sqs-recv', rig.dlqUrl, '1', '--delete'])).stdout);
                if (dead.length === 0)
                    await new Promise((r) => setTimeout(r, 300));
            }
            w.kill('SIGTERM');
            await new Promise((r) => w.on('exit', r));
            const jobs = states();
            const good = jobs.find((j) => j.input.endsWith('Wörker Clip.mp4'));
            const bad = jobs.find((j) => j.input.endsWith('poison.mp4'));
            assert.equal(good?.state, 'done', log);
            assert.equal(bad?.state, 'failed', log);
            // the preset came from the key's first segment, the key was decoded
            assert.equal(good.preset, 'mobile');
            head('s3://cirrus-out/vod/mobile/Wörker Clip/master.m3u8');
            assert.equal(dead.length, 1, log);
            assert.match(JSON.parse(dead[0].body).Records[0].s3.object.key, /poison\.mp4$/);
            assert.match(log, /permanent failure \(receive 1 of 3 before the dead-letter queue\)/);
            assert.doesNotMatch(log, /Wörker.*permanent failure/);
            // acked, TestEvent dropped, poison in the dead-letter queue
            const left = JSON.parse(ok(tool(['sqs-recv', rig.queueUrl, '1'])).stdout);
            assert.deepEqual(left, []);
            assert.match(log, /TestEvent|nothing to do/);
        });
});
