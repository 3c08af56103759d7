// Restreaming's reach (issue 15): rtmps:// destinations and SRT publishers.
//
// The origin cirrus-ingest takes RTMP and SRT and pushes every stream to
// - a second cirrus-ingest over rtmps:// (its RTMPS listener, a certificate
//   for 127.0.0.1 made here; the origin trusts it through push_tls_ca_file
//   and checks the address),
// - an untrusted TLS server (node:tls, another self-signed certificate) at
//   rtmps://localhost: the verification fails, which /streams and /metrics
//   report; it is retried with backoff, logged once, gets the URL's host as
//   SNI, and holds nothing up,
// - Debian's nginx with libnginx-mod-rtmp (`record all`): an SRT-published
//   stream's recording has its video and audio with sane timestamps.
// The second cirrus-ingest's copy is checked with ffprobe through nginx
// (samples/nginx.conf as shipped).  push_tls_verify=0 reaches the
// untrusted server's TLS, with a warning at start.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet, startShippedNginx } from './lib/nginx.mjs';
import { checkExposition, sampleValue } from './lib/prometheus.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const RTMP_SO = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
const missing = !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
    : !C.hasTool('ffmpeg') ? 'ffmpeg missing'
        : !C.hasTool('openssl') ? 'openssl missing'
            : !fs.existsSync(RTMP_SO) ? 'libnginx-mod-rtmp missing (scripts/setup)'
                : !nginxAvailable() ? 'the nginx module is not built' : null;
const FPS = 30, GOP = 60;

let dir, recDir, receiver, receiverPort, receiverLog = '';
let origin, originLog = '', originStatus, originRtmp, originSrt;
let second, secondLog = '', secondRtmps, secondRoot, secondHttp;
let untrusted, untrustedPort, untrustedConns = 0, untrustedSecure = 0;
const sniNames = [];

const waitFor = (what, fn, timeoutMs = 20000) => C.waitFor(what, fn,
    { timeoutMs, every: 100, detail: () => originLog.slice(-3000) });
const exited = (p) => new Promise((ok) => p.on('exit', (code) => ok(code)));

// a self-signed certificate (the openssl CLI)
function makeCert(name, cn, san) {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes',
        '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.pem`),
        '-days', '2', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`],
    { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
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

// The TLS server nobody trusts: counts connections and the SNI names.
function startUntrusted() {
    const ctx = tls.createSecureContext({
        key: fs.readFileSync(path.join(dir, 'untrusted.key')),
        cert: fs.readFileSync(path.join(dir, 'untrusted.pem')) });
    untrusted = tls.createServer({
        SNICallback: (name, cb) => {
            sniNames.push(name);
            cb(null, ctx);
        },
        key: fs.readFileSync(path.join(dir, 'untrusted.key')),
        cert: fs.readFileSync(path.join(dir, 'untrusted.pem')) }, (s) => {
        untrustedSecure++;
        s.on('error', () => {});
        s.on('data', () => {}); // the RTMP handshake: never answered
    });
    untrusted.on('connection', () => untrustedConns++);
    untrusted.on('tlsClientError', () => {});
    return new Promise((ok) => untrusted.listen(untrustedPort, '127.0.0.1', ok));
}

function ingest(args, onLog) {
    const p = spawn(INGEST_BIN, ['--set', 'port=0', '--set', 'grace_seconds=0', ...args],
        { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr.on('data', (d) => onLog(String(d)));
    return p;
}

function publishRtmp(key, seconds, port = originRtmp) {
    return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${FPS}`, '-f', 'lavfi', '-i', 'sine',
        '-t', String(seconds), '-c:v', 'libx264', '-tune', 'zerolatency', '-g', String(GOP),
        '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${key}`],
    { stdio: 'ignore' });
}

function publishSrt(key, seconds) {
    return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${FPS}`, '-f', 'lavfi', '-i', 'sine',
        '-t', String(seconds), '-c:v', 'libx264', '-tune', 'zerolatency', '-g', String(GOP),
        '-c:a', 'aac', '-f', 'mpegts',
        `srt://127.0.0.1:${originSrt}?streamid=live/${key}`], { stdio: 'ignore' });
}

async function streams(port = originStatus) {
    const r = await rawGet(port, '/streams');
    return JSON.parse(r.body.toString());
}

async function pushState(key, match, port = originStatus) {
    const st = (await streams(port)).find((s) => s.key === key);
    return st?.push?.find((p) => p.url.includes(match));
}

const originSegments = (key) => {
    const d = path.join(dir, 'live', key, 'video');
    return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => /^seg-\d+\.m4s$/.test(f)).length
        : 0;
};

async function secondPlaylist(key) {
    const r = await rawGet(secondHttp.port, `/live/${key}/video/index.m3u8`);
    return r.status === 200 ? r.body.toString() : '';
}

const lastSegment = (m3u8) => {
    const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(m3u8)?.[1] ?? -1);
    return seq < 0 ? -1 : seq + (m3u8.match(/^#EXTINF/mg) || []).length;
};

// The second cirrus-ingest's copy, through nginx: H.264 640x360 and AAC.
async function checkSecondCopy(key) {
    await C.waitFor(`${key}'s copy ended`, async () =>
        /#EXT-X-ENDLIST/.test(await secondPlaylist(key)), { timeoutMs: 10000 });
    const m3u8 = await secondPlaylist(key);
    assert.ok(lastSegment(m3u8) >= 4, m3u8);
    const probe = C.ffprobe(`http://127.0.0.1:${secondHttp.port}/live/${key}/master.m3u8`);
    const v = C.videoStream(probe), a = C.audioStream(probe);
    assert.equal(v?.codec_name, 'h264', JSON.stringify(probe.streams));
    assert.equal(`${v.width}x${v.height}`, '640x360');
    assert.equal(a?.codec_name, 'aac', JSON.stringify(probe.streams));
}

// A recording's packets (dts in seconds) per stream: increasing, no holes.
function checkTimestamps(file, kind, maxGap) {
    const probe = C.ffprobe(file, ['-show_packets', '-select_streams', kind,
        '-show_entries', 'packet=dts_time']);
    const dts = probe.packets.map((p) => Number(p.dts_time));
    for (let i = 1; i < dts.length; i++) {
        assert.ok(dts[i] >= dts[i - 1], `${kind} dts back at ${i}: ${dts[i - 1]} -> ${dts[i]}`);
        assert.ok(dts[i] - dts[i - 1] <= maxGap,
            `${kind} dts jump at ${i}: ${dts[i - 1]} -> ${dts[i]}`);
    }
    return { count: dts.length, first: dts[0], last: dts[dts.length - 1] };
}

before(async () => {
    if (missing)
        return;
    dir = C.tmpDir('ingest-push-reach-');
    recDir = path.join(dir, 'rec');
    fs.mkdirSync(recDir);
    makeCert('dest', 'cirrus-dest', 'IP:127.0.0.1');
    makeCert('untrusted', 'localhost', 'DNS:localhost');
    receiverPort = await freePort();
    await startReceiver();
    untrustedPort = await freePort();
    await startUntrusted();
    secondRoot = path.join(dir, 'live-second');
    fs.mkdirSync(secondRoot);
    fs.mkdirSync(path.join(dir, 'live'));
    secondRtmps = await freePort();
    second = ingest(['--set', `live_root=${secondRoot}`, '--set', `rtmps_port=${secondRtmps}`,
        '--set', `tls_certificate=${path.join(dir, 'dest.pem')}`,
        '--set', `tls_certificate_key=${path.join(dir, 'dest.key')}`],
    (d) => (secondLog += d));
    await C.waitFor('the second cirrus-ingest', () => /listening rtmp=.* rtmps=\d+/.test(secondLog),
        { timeoutMs: 5000 });
    originStatus = await freePort();
    originSrt = await freePort();
    origin = ingest(['--set', `live_root=${path.join(dir, 'live')}`,
        '--set', `status_port=${originStatus}`, '--set', `srt_port=${originSrt}`,
        '--set', `push_tls_ca_file=${path.join(dir, 'dest.pem')}`,
        '--set', `push=rtmps://127.0.0.1:${secondRtmps}/live/ ` +
            `rtmps://localhost:${untrustedPort}/live/untrusted ` +
            `rtmp://127.0.0.1:${receiverPort}/live/`], (d) => (originLog += d));
    await waitFor('the origin to listen', () => /listening rtmp=/.test(originLog), 5000);
    originRtmp = Number(/listening rtmp=[\d.]+:(\d+)/.exec(originLog)[1]);
    secondHttp = await startShippedNginx('sample', { liveRoot: secondRoot });
});

after(async () => {
    if (dir)
        fs.writeFileSync(path.join(dir, 'origin.log'), originLog);
    origin?.kill('SIGTERM');
    second?.kill('SIGTERM');
    receiver?.kill('SIGTERM');
    untrusted?.close();
    await secondHttp?.stop();
});

describe('cirrus-ingest push: rtmps:// and SRT publishers', { skip: missing || false }, () => {
    test('rtmps:// to a cirrus-ingest whose certificate verifies; an untrusted one is ' +
        'reported, retried with backoff, logged once, and stalls nothing', async () => {
        const seconds = 12;
        const pub = publishRtmp('tlscam', seconds);
        const toSecond = `rtmps://127.0.0.1:${secondRtmps}/`, toUntrusted = `localhost:${untrustedPort}/`;
        await waitFor('publishing over rtmps://', async () =>
            (await pushState('tlscam', toSecond))?.state === 'publishing', 10000);
        const segmentsBefore = originSegments('tlscam');
        await C.sleep(6000);
        const bad = await pushState('tlscam', toUntrusted);
        assert.notEqual(bad.state, 'publishing');
        assert.match(bad.error, /^TLS: certificate verify failed: self-signed certificate$/,
            JSON.stringify(bad));
        assert.ok(bad.reconnects >= 2, JSON.stringify(bad));
        assert.ok(untrustedConns >= 3, `${untrustedConns} connections to the untrusted server`);
        assert.equal(untrustedSecure, 0, 'no handshake completed with the untrusted server');
        assert.ok(sniNames.length >= 3 && sniNames.every((n) => n === 'localhost'),
            `SNI: ${sniNames.join(',')}`);
        // the origin's own stream and the other destinations went on
        const own = (await streams()).find((s) => s.key === 'tlscam');
        assert.ok(own.fps > 20 && own.dropped_frames === 0, JSON.stringify(own));
        assert.ok(originSegments('tlscam') >= segmentsBefore + 2,
            `origin segments ${segmentsBefore} -> ${originSegments('tlscam')}`);
        assert.equal((await pushState('tlscam', `:${receiverPort}/`)).state, 'publishing');
        const m = checkExposition((await rawGet(originStatus, '/metrics')).body.toString(),
            'cirrus_ingest_');
        assert.equal(Number(sampleValue(m, 'cirrus_ingest_push_publishing',
            { app: 'live', key: 'tlscam', url: bad.url })), 0);
        assert.equal(Number(sampleValue(m, 'cirrus_ingest_push_publishing',
            { app: 'live', key: 'tlscam', url: (await pushState('tlscam', toSecond)).url })), 1);
        assert.equal(await exited(pub), 0);

        const lines = originLog.split('\n').filter((l) => l.includes(toUntrusted) &&
            /retrying/.test(l));
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0], new RegExp('warn .*push to rtmps://localhost:\\d+/live/' +
            'un\\*\\*\\*: TLS: certificate verify failed: self-signed certificate: ' +
            'retrying with backoff'));
        // the second cirrus-ingest took it over TLS, end to end
        assert.match(secondLog, /\[rtmp app=live stream=tlscam\] 127\.0\.0\.1:\d+: publishing/);
        await checkSecondCopy('tlscam');
    });

    test('published over SRT: pushed to nginx-rtmp and over rtmps://, with video, audio ' +
        'and sane timestamps', async () => {
        const seconds = 10;
        const pub = publishSrt('srtcam', seconds);
        await waitFor('both destinations publishing', async () =>
            (await pushState('srtcam', `:${receiverPort}/`))?.state === 'publishing' &&
            (await pushState('srtcam', `:${secondRtmps}/`))?.state === 'publishing', 15000);
        assert.equal(await exited(pub), 0);
        await waitFor('the recording closed', () =>
            /record: .*close|deleteStream/.test(fs.readFileSync(
                path.join(dir, 'nginx-rtmp-error.log'), 'utf8').split('srtcam').pop()), 15000);
        await C.sleep(500);
        const [rec] = fs.readdirSync(recDir)
            .filter((f) => f.startsWith('srtcam-') && f.endsWith('.flv'))
            .map((f) => path.join(recDir, f));
        assert.ok(rec, fs.readdirSync(recDir).join(','));
        const probe = C.ffprobe(rec);
        assert.equal(C.videoStream(probe)?.codec_name, 'h264', JSON.stringify(probe.streams));
        assert.equal(`${C.videoStream(probe).width}x${C.videoStream(probe).height}`, '640x360');
        assert.equal(C.audioStream(probe)?.codec_name, 'aac', JSON.stringify(probe.streams));
        const v = checkTimestamps(rec, 'v', 0.1), a = checkTimestamps(rec, 'a', 0.1);
        console.log(`# nginx-rtmp recorded ${v.count} video frames of ${seconds * FPS} ` +
            `(${v.first}-${v.last} s), ${a.count} audio frames (${a.first}-${a.last} s)`);
        assert.ok(v.count <= seconds * FPS && v.count >= seconds * FPS - GOP,
            `${v.count} video frames`);
        assert.ok(a.count >= (seconds - 2) * 46, `${a.count} audio frames`);
        assert.ok(Math.abs(v.first - a.first) < 0.5 && Math.abs(v.last - a.last) < 0.5,
            `video ${v.first}-${v.last} s, audio ${a.first}-${a.last} s`);
        assert.ok(v.last - v.first > seconds - 2.5, `video spans ${v.last - v.first} s`);
        await checkSecondCopy('srtcam');
    });

    test('push_tls_verify=0: a warning at start, and the untrusted server\'s TLS is ' +
        'reached', async () => {
        let log = '';
        const status = await freePort();
        const root = path.join(dir, 'live-noverify');
        fs.mkdirSync(root);
        const before = untrustedSecure;
        const o = ingest(['--set', `live_root=${root}`, '--set', `status_port=${status}`,
            '--set', 'push_tls_verify=0',
            '--set', `push=rtmps://localhost:${untrustedPort}/live/x`], (d) => (log += d));
        try {
            await C.waitFor('listening', () => /listening rtmp=/.test(log), { timeoutMs: 5000 });
            assert.match(log, /warn .*push_tls_verify is 0: the certificates of rtmps:\/\/ /);
            const port = Number(/listening rtmp=[\d.]+:(\d+)/.exec(log)[1]);
            const pub = publishRtmp('noverify', 4, port);
            await C.waitFor('a TLS session with the untrusted server',
                () => untrustedSecure > before, { timeoutMs: 10000, detail: () => log });
            assert.doesNotMatch(log, /certificate verify failed/);
            pub.kill('SIGINT');
            await exited(pub);
        } finally {
            o.kill('SIGTERM');
            await exited(o);
        }
    });
});
