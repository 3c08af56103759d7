// RTMP ingest end to end: cirrus-ingest on loopback with a temp live store
// and key file; the ffmpeg CLI publishes; parts appear in the live store;
// wrong keys, second publishers, garbage and slow clients are refused; a
// killed publisher ends with ENDLIST after the grace period, and one that
// comes back within it continues the same stream.  With the nginx module
// built, the playlists are read through nginx.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet, startNginx } from './lib/nginx.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const missing = fs.existsSync(INGEST_BIN) ? (C.hasTool('ffmpeg') ? null
    : 'ffmpeg missing') : `${INGEST_BIN} not built`;
const GRACE = 3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let ingest, nginx, liveRoot, keyFile, rtmpPort, statusPort, log = '';

async function waitFor(what, fn, timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v)
            return v;
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}\n${log.slice(-3000)}`);
        await sleep(100);
    }
}

function publish(key, { seconds = 0, audio = true, extra = [] } = {}) {
    const args = ['-hide_banner', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30'];
    if (audio)
        args.push('-f', 'lavfi', '-i', 'sine');
    if (seconds)
        args.push('-t', String(seconds));
    args.push('-c:v', 'libx264', '-tune', 'zerolatency', '-g', '60');
    if (audio)
        args.push('-c:a', 'aac');
    args.push(...extra, '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`);
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderrText = '';
    child.stderr.on('data', (d) => (child.stderrText += d));
    child.exited = new Promise((ok) => child.on('exit', (code, sig) => ok({ code, sig })));
    return child;
}

function parts(key, rendition) {
    const dir = path.join(liveRoot, key, rendition);
    if (!fs.existsSync(dir))
        return [];
    return fs.readdirSync(dir).filter((f) => /^part-\d+\.\d+\.m4s$/.test(f));
}

async function statusJson(p) {
    const r = await rawGet(statusPort, p);
    return { status: r.status, body: r.body.toString() };
}

async function playlist(key, rendition = 'video') {
    if (!nginx)
        return null;
    const r = await rawGet(nginx.port, `/live/${key}/${rendition}/index.m3u8`);
    return r.status === 200 ? r.body.toString() : null;
}

before(async () => {
    if (missing)
        return;
    liveRoot = C.tmpDir('ingest-live-');
    keyFile = path.join(liveRoot, '..', `${path.basename(liveRoot)}.keys`);
    fs.writeFileSync(keyFile, 'cam1\ncam2\ncam3\ncam4\ncam5\n# not-a-key\n');
    rtmpPort = await freePort();
    statusPort = await freePort();
    ingest = spawn(INGEST_BIN, ['--set', `port=${rtmpPort}`,
        '--set', `status_port=${statusPort}`, '--set', `live_root=${liveRoot}`,
        '--set', `key_file=${keyFile}`, '--set', `grace_seconds=${GRACE}`,
        '--set', 'handshake_timeout=1', '--set', 'publish_timeout=3'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    ingest.stderr.on('data', (d) => (log += d));
    await waitFor('cirrus-ingest to listen', () => /listening rtmp=/.test(log), 5000);
    if (nginxAvailable()) {
        nginx = await startNginx({ server: `
            location /live/ { cirrus_live ${liveRoot}; cirrus_block_timeout 3s; }` });
    }
});

after(async () => {
    ingest?.kill('SIGTERM');
    await nginx?.stop();
});

describe('cirrus-ingest with the ffmpeg CLI', { skip: missing || false }, () => {
    test('a publisher with H.264 and AAC makes parts in the live store', async () => {
        const pub = publish('cam1', { seconds: 5 });
        await waitFor('video and audio parts', () =>
            parts('cam1', 'video').length >= 3 && parts('cam1', 'audio').length >= 3);
        const s = await statusJson('/streams');
        assert.equal(s.status, 200);
        const st = JSON.parse(s.body).find((x) => x.key === 'cam1');
        assert.ok(st, s.body);
        assert.equal(st.publishing, true);
        assert.deepEqual(st.codecs, { video: 'h264', audio: 'aac' });
        assert.deepEqual(st.renditions, ['video', 'audio']);
        assert.equal(st.width, 640);
        const m = await statusJson('/metrics');
        assert.match(m.body, /cirrus_ingest_stream_frames_total\{key="cam1"\} \d+/);
        const r = await pub.exited;
        assert.equal(r.code, 0, pub.stderrText);
        const pl = await playlist('cam1');
        if (pl !== null) {
            assert.match(pl, /#EXT-X-PART:DURATION=/);
            assert.match(pl, /CODECS|#EXTINF/);
        }
        // the stream ends after the grace period
        await waitFor('stream cam1 to end', () => /stream=cam1\] stream ended/.test(log),
            (GRACE + 5) * 1000);
        if (nginx)
            assert.match(await playlist('cam1'), /#EXT-X-ENDLIST/);
    });

    test('video only', async () => {
        const pub = publish('cam2', { seconds: 3, audio: false });
        const r = await pub.exited;
        assert.equal(r.code, 0, pub.stderrText);
        assert.ok(parts('cam2', 'video').length >= 3);
        assert.equal(fs.existsSync(path.join(liveRoot, 'cam2', 'audio')), false);
    });

    test('a wrong key is refused and ffmpeg exits non-zero', async () => {
        const pub = publish('intruder', { seconds: 3 });
        const r = await pub.exited;
        assert.notEqual(r.code, 0);
        assert.match(log, /stream=intruder\].*refused/);
        assert.equal(fs.existsSync(path.join(liveRoot, 'intruder')), false);
        // the key file is re-read when it changes
        fs.appendFileSync(keyFile, 'latecomer\n');
        const ok = publish('latecomer', { seconds: 2, audio: false });
        assert.equal((await ok.exited).code, 0, ok.stderrText);
    });

    test('a second publisher of a live key is refused', async () => {
        const first = publish('cam3');
        await waitFor('cam3 parts', () => parts('cam3', 'video').length >= 2);
        const second = publish('cam3', { seconds: 2 });
        const r = await second.exited;
        assert.notEqual(r.code, 0);
        assert.ok(parts('cam3', 'video').length >= 2);
        first.kill('SIGKILL');
        await first.exited;
    });

    test('SIGKILL then reconnect within the grace period continues', async () => {
        const first = publish('cam4');
        await waitFor('cam4 parts', () => parts('cam4', 'video').length >= 4);
        first.kill('SIGKILL');
        await first.exited;
        await waitFor('the loss noticed', () =>
            /stream=cam4\] publisher gone/.test(log), 5000);
        const before = parts('cam4', 'video').length;
        const second = publish('cam4', { seconds: 3 });
        assert.equal((await second.exited).code, 0, second.stderrText);
        assert.match(log, /stream=cam4\] publisher is back/);
        assert.ok(parts('cam4', 'video').length > before + 3,
            'the same stream went on');
        const pl = await playlist('cam4');
        if (pl !== null)
            assert.match(pl, /#EXT-X-DISCONTINUITY/, 'timestamp restart');
        await waitFor('stream cam4 to end', () => /stream=cam4\] stream ended/.test(log),
            (GRACE + 5) * 1000);
        if (nginx)
            assert.match(await playlist('cam4'), /#EXT-X-ENDLIST/);
    });

    test('SIGKILL without a return ends with a valid index and ENDLIST', async () => {
        const pub = publish('cam5');
        await waitFor('cam5 parts', () => parts('cam5', 'video').length >= 3);
        pub.kill('SIGKILL');
        await pub.exited;
        await waitFor('stream cam5 to end', () => /stream=cam5\] stream ended/.test(log),
            (GRACE + 5) * 1000);
        assert.ok(fs.statSync(path.join(liveRoot, 'cam5', 'video', 'index')).size > 0);
        if (nginx) {
            const pl = await playlist('cam5');
            assert.match(pl, /#EXT-X-ENDLIST/);
            assert.match(pl, /seg-\d+\.m4s/);
        }
    });

    test('garbage and slow clients are dropped', async () => {
        const closedAfter = (write) => new Promise((ok) => {
            const t0 = Date.now();
            const s = net.connect(rtmpPort, '127.0.0.1', () => write(s));
            s.on('data', () => {});
            s.on('error', () => {});
            s.on('close', () => ok(Date.now() - t0));
        });
        const garbage = await closedAfter((s) => s.write('GET / HTTP/1.1\r\n\r\n'));
        assert.ok(garbage < 1000, `garbage dropped at once (${garbage} ms)`);
        const slow = await closedAfter((s) => s.write(Buffer.from([3, 0, 0])));
        assert.ok(slow >= 900 && slow < 4000, `slowloris dropped after the handshake timeout (${slow} ms)`);
        const s = await statusJson('/metrics');
        assert.match(s.body, /cirrus_ingest_connections 0/);
    });
});
