// Lifecycle webhooks: cirrus-ingest (with a recording) posts publish,
// update, publish_done and record_done to an HTTP server in the rig,
// which checks every signature (HMAC-SHA256 of "<timestamp>.<body>" with
// the shared secret, node's crypto) and answers the first attempt of
// every delivery with 503, so each arrives by its retry with the same
// delivery id.  The recording's URIs from record_done are read back with
// ffprobe.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort, rawGet } from './lib/nginx.mjs';
import { checkExposition, sampleValue } from './lib/prometheus.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const missing = fs.existsSync(INGEST_BIN) ? (C.hasTool('ffmpeg') ? null
    : 'ffmpeg missing') : `${INGEST_BIN} not built`;
const SECRET = 'rig-secret-0123';
let ingest, receiver, statusPort, dir, log = '';
const deliveries = []; // { event, id, attempt, body, ts, signed }
const attempts = new Map(); // delivery id -> attempts seen

const waitFor = (what, fn, timeoutMs = 20000) => C.waitFor(what, fn,
    { timeoutMs, every: 100, detail: () => log.slice(-3000) });

function verify(req, body) {
    const ts = req.headers['x-cirrus-timestamp'];
    const sig = req.headers['x-cirrus-signature'] || '';
    const want = 'sha256=' + crypto.createHmac('sha256', SECRET)
        .update(`${ts}.${body}`).digest('hex');
    return sig.length === want.length &&
        crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want)) &&
        Math.abs(Date.now() / 1000 - Number(ts)) < 60;
}

before(async () => {
    if (missing)
        return;
    dir = C.tmpDir('ingest-webhooks-');
    receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
            const id = req.headers['x-cirrus-delivery'];
            const n = (attempts.get(id) || 0) + 1;
            attempts.set(id, n);
            const signed = verify(req, body);
            if (n === 1) { // the first attempt of each delivery fails
                res.writeHead(503).end();
                return;
            }
            deliveries.push({ event: req.headers['x-cirrus-event'], id, attempt: n,
                body: JSON.parse(body), signed,
                type: req.headers['content-type'] });
            res.writeHead(signed ? 204 : 401).end();
        });
    });
    await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
    statusPort = await freePort();
    ingest = spawn(INGEST_BIN, ['--set', 'port=0', '--set', `status_port=${statusPort}`,
        '--set', `live_root=${path.join(dir, 'live')}`,
        '--set', `record_uri=file://${path.join(dir, 'rec')}`,
        '--set', `webhook_url=http://127.0.0.1:${receiver.address().port}/hooks`,
        '--set', `webhook_secret=${SECRET}`, '--set', 'webhook_update_seconds=1',
        '--set', 'grace_seconds=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    ingest.stderr.on('data', (d) => (log += d));
    await waitFor('cirrus-ingest to listen', () => /listening rtmp=/.test(log), 5000);
});

after(() => {
    ingest?.kill('SIGTERM');
    receiver?.close();
});

describe('cirrus-ingest lifecycle webhooks', { skip: missing || false }, () => {
    test('publish, update, publish_done and record_done, signed and retried', async () => {
        const port = Number(/listening rtmp=[\d.]+:(\d+)/.exec(log)[1]);
        const pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
            '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine',
            '-t', '5', '-c:v', 'libx264', '-tune', 'zerolatency', '-g', '60', '-c:a', 'aac',
            '-f', 'flv', `rtmp://127.0.0.1:${port}/live/hooked`], { stdio: 'ignore' });
        assert.equal(await new Promise((ok) => pub.on('exit', ok)), 0);
        const of = (e) => deliveries.filter((d) => d.event === e);
        await waitFor('record_done', () => of('record_done').length === 1, 20000);

        assert.ok(deliveries.every((d) => d.signed), 'every signature checks out');
        assert.ok(deliveries.every((d) => d.type === 'application/json'));
        assert.ok(deliveries.every((d) => d.attempt === 2),
            'each delivered by its second attempt, with the same delivery id');
        assert.equal(of('publish').length, 1);
        assert.equal(of('publish')[0].body.key, 'hooked');
        // the application of every stream (the one default one here)
        for (const e of ['publish', 'update', 'publish_done', 'record_done'])
            assert.ok(of(e).every((d) => d.body.app === 'live'), `${e}: app`);
        assert.equal(of('publish')[0].body.resumed, false);
        const updates = of('update');
        assert.ok(updates.length >= 2, `${updates.length} updates in 5 s`);
        const u = updates[updates.length - 1].body;
        assert.equal(u.key, 'hooked');
        assert.ok(u.frames > 0 && u.bitrate > 0, JSON.stringify(u));
        assert.deepEqual(u.renditions, ['video', 'audio']);
        assert.equal(of('publish_done').length, 1, 'publish_done once');
        const done = of('publish_done')[0].body;
        assert.equal(done.reason, 'unpublished');
        assert.ok(done.frames >= 5 * 30, `frames ${done.frames}`);
        assert.ok(done.duration >= 4 && done.duration < 15, `duration ${done.duration}`);
        // the recording's URIs work
        const rec = of('record_done')[0].body;
        assert.match(rec.hls, /^file:\/\/.*\/rec\/hooked-\d+\/master\.m3u8$/);
        const probe = await C.ffprobe(rec.hls.slice('file://'.length));
        assert.ok(Number(probe.format.duration) >= 4.5, `recording ${probe.format.duration} s`);
        assert.ok(fs.existsSync(rec.dash.slice('file://'.length)));
        // the events in order, and the metrics count the retries
        const order = deliveries.map((d) => d.event).filter((e) => e !== 'update');
        assert.deepEqual(order, ['publish', 'publish_done', 'record_done']);
        const m = checkExposition((await rawGet(statusPort, '/metrics')).body.toString(),
            'cirrus_ingest_');
        const n = (r) => Number(sampleValue(m, 'cirrus_ingest_webhooks_total', { result: r }));
        console.log(`# webhooks: ${deliveries.length} delivered (${updates.length} updates), ` +
            `${n('failed')} attempts failed and retried`);
        assert.equal(n('delivered'), deliveries.length);
        assert.equal(n('failed'), attempts.size);
        assert.equal(n('dropped'), 0);
        assert.match(log, /webhook publish [0-9a-f]{32}: HTTP 503; attempt 2 of 5 in 1 s/);
    });
});
