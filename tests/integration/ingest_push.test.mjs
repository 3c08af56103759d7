// Restreaming (the `push` option): cirrus-ingest forwards each published
// stream, unchanged, to Debian's nginx with libnginx-mod-rtmp (`record
// all` to a folder) and to a second cirrus-ingest, plus a destination
// that refuses (an application nginx-rtmp does not have).
//
// - The receiver's recording has the source's frame count.  The push
//   starts its connections at the stream's first tag, so the receiver
//   joins a few tens of ms late; cirrus-ingest then sends the GOP so far
//   (from its keyframe), so nothing is lost.  The assertion still allows
//   the first GOP (60 frames) in case a slow machine makes the receiver
//   join after the second keyframe.
// - The second cirrus-ingest makes a playlist of the pushed stream.
// - The refusing destination is retried with backoff (1, 2, 4 ... s) and
//   logged once, not on each attempt.
// - nginx killed for 5 s and started again: the push reconnects (state in
//   /streams, a reconnect counted in /metrics) while the origin's own
//   playlist keeps getting segments.
// - A destination that stops reading (the second cirrus-ingest stopped
//   with SIGSTOP): once the socket's buffers and its push_queue_bytes are
//   full its frames are dropped (counted, video until a keyframe) while
//   the other destination and the origin's playlist go on; with SIGCONT it
//   takes the stream again.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet, startShippedNginx } from './lib/nginx.mjs';
import { checkExposition, sampleValue } from './lib/prometheus.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const RTMP_SO = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
const missing = !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
    : !C.hasTool('ffmpeg') ? 'ffmpeg missing'
        : !fs.existsSync(RTMP_SO) ? 'libnginx-mod-rtmp missing (scripts/setup)'
            : !nginxAvailable() ? 'the nginx module is not built' : null;
const FPS = 30, GOP = 60;

let dir, recDir, receiver, receiverPort, receiverLog = '';
let origin, originLog = '', originStatus, originRtmp, originHttp;
let second, secondLog = '', secondRtmp, secondHttp;

const waitFor = (what, fn, timeoutMs = 20000) => C.waitFor(what, fn,
    { timeoutMs, every: 100, detail: () => originLog.slice(-3000) });

function startReceiver() {
    const conf = path.join(dir, 'nginx-rtmp.conf');
    fs.writeFileSync(conf, `load_module ${RTMP_SO};
daemon off;
master_process off;
error_log ${path.join(dir, 'nginx-rtmp-error.log')} info;
pid ${path.join(dir, 'nginx-rtmp.pid')};
events {}
rtmp {
    server {
        listen 127.0.0.1:${receiverPort};
        application live {
            live on;
            record all;
            record_path ${recDir};
            record_unique on;
        }
    }
}
`);
    receiver = spawn('nginx', ['-p', dir, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    receiver.stderr.on('data', (d) => (receiverLog += d));
    return C.waitFor('nginx-rtmp to listen', () => canConnect(receiverPort),
        { timeoutMs: 5000, every: 50, detail: () => receiverLog });
}

function canConnect(port) {
    return new Promise((ok) => {
        const sock = net.connect(port, '127.0.0.1');
        sock.once('connect', () => {
            sock.destroy();
            ok(true);
        });
        sock.once('error', () => ok(false));
    });
}

function ingest(name, args, onLog) {
    const p = spawn(INGEST_BIN, ['--set', 'port=0', '--set', 'grace_seconds=0', ...args],
        { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr.on('data', (d) => onLog(String(d)));
    return p;
}

// heavy: lossless video (several MB/s), to fill a stalled socket fast
function publish(key, seconds, { port = originRtmp, heavy = false } = {}) {
    return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${FPS}`, '-f', 'lavfi', '-i', 'sine',
        '-t', String(seconds), '-c:v', 'libx264', '-tune', 'zerolatency', '-g', String(GOP),
        ...(heavy ? ['-preset', 'ultrafast', '-qp', '0'] : []),
        '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${key}`],
    { stdio: 'ignore' });
}

const exited = (p) => new Promise((ok) => p.on('exit', ok));

async function streams(port = originStatus) {
    const r = await rawGet(port, '/streams');
    return JSON.parse(r.body.toString());
}

async function pushState(key, match, port = originStatus) {
    const st = (await streams(port)).find((s) => s.key === key);
    return st?.push?.find((p) => p.url.includes(match));
}

async function playlist(port, key) {
    const r = await rawGet(port, `/live/${key}/video/index.m3u8`);
    return r.status === 200 ? r.body.toString() : '';
}

const lastSegment = (m3u8) => {
    const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(m3u8)?.[1] ?? -1);
    return seq < 0 ? -1 : seq + (m3u8.match(/^#EXTINF/mg) || []).length;
};

async function countFrames(file, stream) {
    const r = await C.run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', stream,
        '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
    assert.equal(r.code, 0, r.stderr);
    return Number(r.stdout.trim());
}

const recordings = (key) => fs.readdirSync(recDir)
    .filter((f) => f.startsWith(`${key}-`) && f.endsWith('.flv')).sort()
    .map((f) => path.join(recDir, f));

before(async () => {
    if (missing)
        return;
    dir = C.tmpDir('ingest-push-');
    recDir = path.join(dir, 'rec');
    fs.mkdirSync(recDir);
    receiverPort = await freePort();
    await startReceiver();
    const secondRoot = path.join(dir, 'live-second'), originRoot = path.join(dir, 'live');
    fs.mkdirSync(secondRoot);
    fs.mkdirSync(originRoot);
    second = ingest('second', ['--set', `live_root=${secondRoot}`], (d) => (secondLog += d));
    await C.waitFor('the second cirrus-ingest', () => /listening rtmp=/.test(secondLog),
        { timeoutMs: 5000 });
    secondRtmp = Number(/listening rtmp=[\d.]+:(\d+)/.exec(secondLog)[1]);
    originStatus = await freePort();
    origin = ingest('origin', ['--set', `live_root=${originRoot}`,
        '--set', `status_port=${originStatus}`,
        '--set', `push=rtmp://127.0.0.1:${receiverPort}/live/ ` +
            `rtmp://127.0.0.1:${secondRtmp}/live/copy,` +
            `rtmp://127.0.0.1:${receiverPort}/nosuchapp/elsewhere`], (d) => (originLog += d));
    await waitFor('cirrus-ingest to listen', () => /listening rtmp=/.test(originLog), 5000);
    originRtmp = Number(/listening rtmp=[\d.]+:(\d+)/.exec(originLog)[1]);
    originHttp = await startShippedNginx('sample', { liveRoot: originRoot });
    secondHttp = await startShippedNginx('sample', { liveRoot: secondRoot });
});

after(async () => {
    origin?.kill('SIGTERM');
    second?.kill('SIGTERM');
    receiver?.kill('SIGTERM');
    await originHttp?.stop();
    await secondHttp?.stop();
});

describe('cirrus-ingest push', { skip: missing || false }, () => {
    test('a bad push URL is refused at start, naming it', async () => {
        const p = ingest('bad', ['--set', 'push=rtmp://ok/live/a rtmp://bad:99999/live/k'],
            () => {});
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        assert.notEqual(await exited(p), 0);
        assert.match(err, /push URL "rtmp:\/\/bad:99999\/live\/k": port out of 1-65535/);
    });

    test('forwarded unchanged to nginx-rtmp and a second cirrus-ingest; a refusing ' +
        'destination is retried with backoff, logged once', async () => {
        const seconds = 10;
        const pub = publish('cam', seconds);
        await waitFor('both destinations publishing', async () =>
            (await pushState('cam', `:${receiverPort}/live/`))?.state === 'publishing' &&
            (await pushState('cam', `:${secondRtmp}/live/`))?.state === 'publishing', 10000);
        await C.sleep(4000);
        const refused = await pushState('cam', 'nosuchapp');
        assert.notEqual(refused.state, 'publishing');
        assert.ok(refused.reconnects >= 2, JSON.stringify(refused));
        assert.equal(await exited(pub), 0);

        // nginx-rtmp's recording: the source's frames, with their timing
        await waitFor('the recording closed', () =>
            /record: .*close|deleteStream/.test(fs.readFileSync(
                path.join(dir, 'nginx-rtmp-error.log'), 'utf8')), 10000);
        await C.sleep(500);
        const [rec] = recordings('cam');
        assert.ok(rec, fs.readdirSync(recDir).join(','));
        const frames = await countFrames(rec, 'v'), audio = await countFrames(rec, 'a');
        console.log(`# nginx-rtmp recorded ${frames} video frames of ${seconds * FPS}, ` +
            `${audio} audio frames`);
        assert.ok(frames <= seconds * FPS && frames >= seconds * FPS - GOP,
            `${frames} video frames of ${seconds * FPS}`);
        assert.ok(audio >= (seconds - 1) * 46, `${audio} audio frames`);
        const probe = await C.ffprobe(rec);
        assert.equal(C.videoStream(probe).codec_name, 'h264');
        assert.equal(C.audioStream(probe).codec_name, 'aac');
        const dur = Number(probe.format.duration);
        assert.ok(dur > seconds - 2.1 && dur < seconds + 0.5, `recording ${dur} s`);

        // the second cirrus-ingest made a playlist of it, ended
        const m3u8 = await playlist(secondHttp.port, 'copy');
        assert.match(m3u8, /#EXT-X-ENDLIST/, m3u8);
        assert.ok(lastSegment(m3u8) >= 4, m3u8);

        // the refusing destination: several attempts, one log line
        const attempts = (fs.readFileSync(path.join(dir, 'nginx-rtmp-error.log'), 'utf8')
            .match(/application not found: 'nosuchapp'/g) || []).length;
        assert.ok(attempts >= 3, `${attempts} attempts`);
        const lines = originLog.split('\n').filter((l) => /nosuchapp.*retrying/.test(l));
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0], /warn .*the destination closed the connection: retrying with backoff/);
    });

    test('the receiver killed for 5 s: the push reconnects and the origin never stalls',
        async () => {
            const pub = publish('cam2', 30);
            const toNginx = `:${receiverPort}/live/`;
            await waitFor('publishing to nginx-rtmp', async () =>
                (await pushState('cam2', toNginx))?.state === 'publishing', 10000);
            await waitFor('the origin playlist', async () =>
                lastSegment(await playlist(originHttp.port, 'cam2')) >= 2, 10000);
            receiver.kill('SIGKILL');
            await exited(receiver);
            const killedAt = Date.now();
            const before = lastSegment(await playlist(originHttp.port, 'cam2'));
            const states = new Set();
            while (Date.now() - killedAt < 5000) {
                states.add((await pushState('cam2', toNginx))?.state);
                await C.sleep(200);
            }
            const during = lastSegment(await playlist(originHttp.port, 'cam2'));
            console.log(`# origin playlist: last segment ${before} -> ${during} while the ` +
                `receiver was down; push states seen ${[...states].join(', ')}`);
            assert.ok(during >= before + 2, `segments ${before} -> ${during}`);
            assert.ok(states.has('retrying'), [...states].join(','));
            // the second destination was not held up
            assert.equal((await pushState('cam2', `:${secondRtmp}/`)).state, 'publishing');

            await startReceiver();
            await waitFor('the push back on nginx-rtmp', async () =>
                (await pushState('cam2', toNginx))?.state === 'publishing', 35000);
            const st = await pushState('cam2', toNginx);
            assert.ok(st.reconnects >= 1, JSON.stringify(st));
            const m = checkExposition((await rawGet(originStatus, '/metrics')).body.toString(),
                'cirrus_ingest_');
            assert.ok(Number(sampleValue(m, 'cirrus_ingest_push_reconnects_total',
                { app: 'live', key: 'cam2', url: st.url })) >= 1);
            assert.equal(Number(sampleValue(m, 'cirrus_ingest_push_publishing',
                { app: 'live', key: 'cam2', url: st.url })), 1);
            // the loss is logged once, the refusals while down once
            const lines = originLog.split('\n').filter((l) =>
                l.includes(toNginx) && /cam2/.test(l) && /retrying/.test(l));
            assert.ok(lines.length >= 1 && lines.length <= 2, lines.join('\n'));
            // (SIGKILL closes nginx's socket with a FIN, or with a RST when
            // bytes it had not read were waiting)
            assert.match(lines[0],
                /lost: (the destination closed the connection|connection reset by peer)/);
            assert.equal(await exited(pub), 0);
            // the second recording, after the reconnect, starts at a keyframe
            await C.sleep(1000);
            const recs = recordings('cam2');
            assert.ok(recs.length >= 2, recs.join(','));
            const after = await countFrames(recs[recs.length - 1], 'v');
            assert.ok(after > 5 * FPS, `${after} frames after the reconnect`);
        });

    test('a destination that stops reading: its frames are dropped, counted; the ' +
        'other destination and the origin go on', async () => {
        const status = await freePort();
        let log2 = '';
        const root = path.join(dir, 'live-slow');
        fs.mkdirSync(root);
        const o2 = ingest('slow-origin', ['--set', `live_root=${root}`,
            '--set', `status_port=${status}`, '--set', 'push_queue_bytes=262144',
            '--set', `push=rtmp://127.0.0.1:${receiverPort}/live/ ` +
                `rtmp://127.0.0.1:${secondRtmp}/live/`], (d) => (log2 += d));
        try {
            await C.waitFor('the origin', () => /listening rtmp=/.test(log2), { timeoutMs: 5000 });
            const port = Number(/listening rtmp=[\d.]+:(\d+)/.exec(log2)[1]);
            const pub = publish('slow', 30, { port, heavy: true });
            const toSecond = `:${secondRtmp}/`, toNginx = `:${receiverPort}/`;
            await C.waitFor('both publishing', async () =>
                (await pushState('slow', toSecond, status))?.state === 'publishing' &&
                (await pushState('slow', toNginx, status))?.state === 'publishing',
            { timeoutMs: 10000 });
            second.kill('SIGSTOP');
            let slow;
            try {
                slow = await C.waitFor('frames dropped for the stalled destination',
                    async () => {
                        const d = await pushState('slow', toSecond, status);
                        return d.dropped_frames > 30 ? d : null;
                    }, { timeoutMs: 20000, every: 250,
                        detail: () => log2.slice(-2000) });
            } finally {
                second.kill('SIGCONT');
            }
            assert.ok(slow.queued_bytes <= 262144 + 65536, JSON.stringify(slow));
            const fine = await pushState('slow', toNginx, status);
            assert.equal(fine.state, 'publishing');
            assert.equal(fine.dropped_frames, 0, JSON.stringify(fine));
            const st = (await streams(status)).find((x) => x.key === 'slow');
            assert.equal(st.dropped_frames, 0, 'the ingest itself dropped nothing');
            assert.ok(st.fps > 20, `the origin's own stream at ${st.fps} fps`);
            console.log(`# stalled destination: ${slow.dropped_frames} frames dropped, ` +
                `${slow.queued_bytes} bytes queued; the other: ${fine.bytes} bytes sent`);
            // going on: the stalled one takes frames again after SIGCONT
            const before = (await pushState('slow', toSecond, status)).bytes;
            await C.waitFor('the stalled destination taking the stream again', async () =>
                (await pushState('slow', toSecond, status)).bytes > before + 100000,
            { timeoutMs: 15000 });
            pub.kill('SIGINT');
            await exited(pub);
        } finally {
            o2.kill('SIGTERM');
            await exited(o2);
        }
    });
});
