// SRT ingest: the ffmpeg CLI (Debian's is built with libsrt) publishes
// MPEG-TS over srt:// to cirrus-ingest's SRT listener, by streamid
// ("#!::r=live/KEY,m=publish" or "live/KEY"); hls.js plays it through
// nginx (samples/nginx.conf as shipped).  Two ingests: one without
// encryption (with a key file), one with a passphrase (a wrong or missing
// one is refused).  A vanished publisher ends with ENDLIST after the grace
// period; refused streamids, UDP garbage and a stream of unparsable
// MPEG-TS leave the listener serving the next valid publisher.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet as rawGetUnchecked,
    startShippedNginx } from './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const missing = !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
    : !C.hasTool('ffmpeg') ? 'ffmpeg missing' : null;
const GRACE = 2;
const PASSPHRASE = 'cirrus-srt-secret-1';
const V = validator('ingest_srt');
const rawGet = V.wrapRawGet(rawGetUnchecked);
afterEach(() => V.assertClean());
let plain, secure, nginx, browser, dir, liveRoot, log = '';

const waitFor = (what, fn, timeoutMs = 20000) => C.waitFor(what, fn,
    { timeoutMs, every: 100, detail: () => log.slice(-3000) });

async function startIngest(name, extra) {
    const srtPort = await freePort();
    const statusPort = await freePort();
    const child = spawn(INGEST_BIN, ['--set', 'port=0', '--set', `srt_port=${srtPort}`,
        '--set', `status_port=${statusPort}`, '--set', `live_root=${liveRoot}`,
        '--set', `grace_seconds=${GRACE}`, ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    // every line named by its ingest
    let partial = '';
    child.stderr.on('data', (d) => {
        const lines = (partial + d).split('\n');
        partial = lines.pop();
        for (const line of lines)
            log += `${name}: ${line}\n`;
    });
    const listening = new RegExp(`${name}: .*listening rtmp=.* srt=${srtPort} `);
    await waitFor(`${name} to listen`, () => listening.test(log), 5000);
    return { child, srtPort, statusPort };
}

// ffmpeg -f mpegts to srt:// (streamid and the other options in the URL:
// Debian's ffmpeg takes the streamid's characters as they are)
function publish(ingest, streamid, { seconds = 0, options = '', codec = 'libx264',
    audio = true } = {}) {
    const args = ['-hide_banner', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30'];
    if (audio)
        args.push('-f', 'lavfi', '-i', 'sine');
    if (seconds)
        args.push('-t', String(seconds));
    args.push('-c:v', codec, '-g', '60');
    args.push(...(codec === 'libx264' ? ['-tune', 'zerolatency']
        : ['-preset', 'ultrafast', '-x265-params', 'log-level=error']));
    if (audio)
        args.push('-c:a', 'aac');
    args.push('-f', 'mpegts',
        `srt://127.0.0.1:${ingest.srtPort}?streamid=${streamid}${options}`);
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderrText = '';
    child.stderr.on('data', (d) => (child.stderrText += d));
    child.exited = new Promise((ok) => child.on('exit', (code, sig) => ok({ code, sig })));
    return child;
}

function segments(key) {
    const d = path.join(liveRoot, key, 'video');
    return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => /^seg-\d+\.m4s$/.test(f)) : [];
}

async function streams(ingest) {
    const r = await rawGetUnchecked(ingest.statusPort, '/streams');
    assert.equal(r.status, 200);
    return JSON.parse(r.body.toString());
}

async function playlist(key) {
    const r = await rawGet(nginx.port, `/live/${key}/video/index.m3u8`);
    return r.status === 200 ? r.body.toString() : null;
}

before(async () => {
    if (missing)
        return;
    dir = C.tmpDir('ingest-srt-');
    liveRoot = path.join(dir, 'live');
    fs.mkdirSync(liveRoot);
    const keyFile = path.join(dir, 'keys');
    fs.writeFileSync(keyFile, 'k1\nhevc\njunk\nafter\n');
    plain = await startIngest('plain', ['--set', `key_file=${keyFile}`]);
    secure = await startIngest('secure', ['--set', `srt_passphrase=${PASSPHRASE}`]);
    if (nginxAvailable()) {
        nginx = await startShippedNginx('sample', { liveRoot });
        browser = await B.launch();
    }
});

after(async () => {
    if (dir)
        fs.writeFileSync(path.join(dir, 'ingest.log'), log); // for a failure's post-mortem
    await browser?.close();
    plain?.child.kill('SIGTERM');
    secure?.child.kill('SIGTERM');
    await nginx?.stop();
});

describe('cirrus-ingest over SRT', { skip: missing || false }, () => {
    test('ffmpeg publishes MPEG-TS over SRT, hls.js plays it, a vanished publisher ends with ENDLIST', async () => {
        const pub = publish(plain, '#!::r=live/k1,m=publish', { seconds: 20 });
        try {
            await waitFor('the SRT publisher', () =>
                /plain: .*\[srt app=live stream=k1\] 127\.0\.0\.1:\d+: publishing over SRT/.test(log), 10000);
            await waitFor('two segments', () => segments('k1').length >= 2, 20000);
            const st = (await streams(plain)).find((x) => x.key === 'k1');
            assert.ok(st, 'k1 in /streams');
            assert.equal(st.protocol, 'srt');
            assert.equal(st.publishing, true);
            assert.deepEqual(st.codecs, { video: 'h264', audio: 'aac' });
            assert.equal(st.width, 640);
            assert.equal(st.height, 360);
            assert.ok(st.frames > 30, `frames ${st.frames}`);
            assert.match(log, /plain: .*stream=k1\] live: video h264 640x360, audio aac/);
            if (browser) {
                const s = await B.play(browser, `${nginx.base}/player.html?engine=hls` +
                    '&lowLatency=1&src=/live/k1/master.m3u8', { minTime: 3,
                    timeoutMs: 30000, onPage: (p) => V.watchPage(p) });
                assert.equal(s.fatal, null, JSON.stringify(s.errors));
                assert.equal(s.videoWidth, 640);
                console.log(`# hls.js over SRT: played to ${s.currentTime.toFixed(1)} s`);
            }
        } finally {
            // SIGKILL: the publisher vanishes without a word
            pub.kill('SIGKILL');
            await pub.exited;
        }
        await waitFor('publisher gone', () =>
            /plain: .*stream=k1\] publisher gone: waiting 2\.0 s for it/.test(log), 15000);
        await waitFor('the stream to end', () =>
            /plain: .*stream=k1\] stream ended/.test(log), (GRACE + 5) * 1000);
        if (nginx)
            assert.match(await playlist('k1'), /#EXT-X-ENDLIST/);
    });

    test('a publisher back within the grace period continues the stream', async () => {
        const start = log.length;
        const first = publish(plain, 'live/k1?token=abc', { seconds: 4 });
        await waitFor('the first publisher', () =>
            /stream=k1\] 127\.0\.0\.1:\d+: publishing over SRT/.test(log.slice(start)), 10000);
        assert.equal((await first.exited).code, 0, first.stderrText);
        await waitFor('publisher gone', () =>
            /stream=k1\] publisher gone: waiting 2\.0 s for it/.test(log.slice(start)), 5000);
        const from = log.length;
        const second = publish(plain, '#!::r=live/k1,m=publish', { seconds: 4 });
        await waitFor('the publisher back', () =>
            /stream=k1\] publisher is back: continuing the stream/.test(log.slice(from)), 5000);
        assert.equal((await second.exited).code, 0, second.stderrText);
        await waitFor('the stream to end', () =>
            /plain: .*stream=k1\] stream ended/.test(log.slice(from)), (GRACE + 8) * 1000);
    });

    test('HEVC in the plain streamid form', async () => {
        const pub = publish(plain, 'live/hevc', { seconds: 6, codec: 'libx265' });
        await waitFor('HEVC segments', () => segments('hevc').length >= 2, 25000);
        assert.match(log, /plain: .*stream=hevc\] live: video hevc 640x360, audio aac/);
        const st = (await streams(plain)).find((x) => x.key === 'hevc');
        assert.deepEqual(st?.codecs, { video: 'hevc', audio: 'aac' });
        pub.kill('SIGKILL');
        await pub.exited;
    });

    test('with a passphrase; a wrong or missing passphrase is refused', async () => {
        const pub = publish(secure, '#!::r=live/enc,m=publish',
            { seconds: 6, options: `&passphrase=${PASSPHRASE}&pbkeylen=16` });
        await waitFor('encrypted segments', () => segments('enc').length >= 2, 20000);
        const st = (await streams(secure)).find((x) => x.key === 'enc');
        assert.equal(st?.protocol, 'srt');
        const r = await pub.exited;
        assert.equal(r.code, 0, pub.stderrText);

        for (const options of ['&passphrase=not-the-passphrase&pbkeylen=16', '']) {
            const from = log.length;
            const bad = publish(secure, '#!::r=live/intruder,m=publish', { seconds: 5, options });
            const res = await bad.exited;
            assert.notEqual(res.code, 0, `refused (${options || 'no passphrase'})`);
            assert.doesNotMatch(log.slice(from), /stream=intruder\] .*publishing/);
            assert.equal(fs.existsSync(path.join(liveRoot, 'intruder')), false);
            if (options)
                assert.match(log.slice(from), /secure: .*\[srt\] a caller's passphrase .*is wrong or missing: rejected/);
        }
    });

    test('a streamid that does not publish, an unknown key or application is refused', async () => {
        const cases = [
            ['#!::r=live/k1,m=request', /"#!::r=live\/k1,m=request" refused: mode is not publish/],
            ['#!::r=live/k1', /refused: no m=publish/],
            ['other/k1', /refused: unknown application/],
            ['live/nokey', /\[srt app=live stream=nokey\] 127\.0\.0\.1:\d+: stream key refused/],
        ];
        for (const [sid, why] of cases) {
            const from = log.length;
            const pub = publish(plain, sid, { seconds: 4 });
            const r = await pub.exited;
            assert.notEqual(r.code, 0, `${sid} refused`);
            await waitFor(`the log line for ${sid}`, () => why.test(log.slice(from)), 3000);
        }
        assert.equal(fs.existsSync(path.join(liveRoot, 'nokey')), false);
        // three rejected in the handshake; the refused key's socket closed
        const metrics = async () =>
            (await rawGetUnchecked(plain.statusPort, '/metrics')).body.toString();
        const m = await waitFor('no SRT connection open', async () => {
            const body = await metrics();
            return /^cirrus_ingest_srt_connections 0$/m.test(body) && body;
        }, 5000);
        const rejected = /^cirrus_ingest_srt_rejected_total (\d+)$/m.exec(m);
        assert.ok(rejected && Number(rejected[1]) >= 3, m);
    });

    test('UDP garbage and unparsable MPEG-TS: the listener survives and serves the next publisher', async () => {
        // garbage datagrams, some shaped like SRT control packets
        const sock = dgram.createSocket('udp4');
        for (let i = 0; i < 3000; i++) {
            const b = crypto.randomBytes(1 + (i * 37) % 1400);
            if (i % 3 === 0)
                b[0] |= 0x80; // the control bit
            await new Promise((ok) => sock.send(b, plain.srtPort, '127.0.0.1', ok));
        }
        sock.close();
        // an SRT publisher whose payload is raw video, not MPEG-TS
        const from = log.length;
        const junk = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
            '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30', '-t', '30',
            '-c:v', 'rawvideo', '-f', 'rawvideo',
            `srt://127.0.0.1:${plain.srtPort}?streamid=live/junk`], { stdio: 'ignore' });
        junk.exited = new Promise((ok) => junk.on('exit', ok));
        await waitFor('the unparsable stream refused', () =>
            /stream=junk\] .*SRT publisher ends: (no H\.264|\d+ bytes read without a usable packet|not MPEG-TS)/
                .test(log.slice(from)), 25000);
        junk.kill('SIGKILL');
        await junk.exited;
        assert.equal(segments('junk').length, 0);
        const pub = publish(plain, '#!::r=live/after,m=publish', { seconds: 5 });
        await waitFor('segments after the garbage', () => segments('after').length >= 2, 20000);
        const r = await pub.exited;
        assert.equal(r.code, 0, pub.stderrText);
        assert.equal(plain.child.exitCode, null, 'the ingest still runs');
    });
});
