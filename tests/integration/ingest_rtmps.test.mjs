// RTMPS: cirrus-ingest with a TLS listener (a self-signed certificate made
// here with the openssl CLI); the ffmpeg CLI publishes over rtmps:// (its
// own TLS stack, GnuTLS on Debian) and hls.js plays the stream through
// nginx (samples/nginx.conf as shipped, ports and paths substituted).
// Plain RTMP on the RTMPS port, and TLS 1.1, are refused with a log line;
// SIGHUP loads a new certificate, and keeps the old one when the new files
// are broken.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, startShippedNginx } from './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const missing = !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
    : !C.hasTool('ffmpeg') ? 'ffmpeg missing'
        : !C.hasTool('openssl') ? 'openssl missing' : null;
const V = validator('ingest_rtmps');
let ingest, nginx, browser, dir, rtmpsPort, log = '';

const waitFor = (what, fn, timeoutMs = 20000) => C.waitFor(what, fn,
    { timeoutMs, every: 100, detail: () => log.slice(-3000) });

// a self-signed certificate for 127.0.0.1 with this common name
function makeCert(name, cn) {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes',
        '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.pem`),
        '-days', '2', '-subj', `/CN=${cn}`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
}

// the common name of the certificate the RTMPS port presents, or the
// error of the TLS handshake
function peerCert(options = {}) {
    return new Promise((ok) => {
        const s = tls.connect({ host: '127.0.0.1', port: rtmpsPort,
            rejectUnauthorized: false, ...options }, () => {
            ok(s.getPeerCertificate().subject.CN);
            s.destroy();
        });
        s.on('error', (e) => ok(`error: ${e.code || e.message}`));
    });
}

before(async () => {
    if (missing)
        return;
    dir = C.tmpDir('ingest-rtmps-');
    makeCert('first', 'cirrus-first');
    rtmpsPort = await freePort();
    const liveRoot = path.join(dir, 'live');
    fs.mkdirSync(liveRoot);
    ingest = spawn(INGEST_BIN, ['--set', 'port=0', '--set', `rtmps_port=${rtmpsPort}`,
        '--set', `tls_certificate=${path.join(dir, 'first.pem')}`,
        '--set', `tls_certificate_key=${path.join(dir, 'first.key')}`,
        '--set', `live_root=${liveRoot}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    ingest.stderr.on('data', (d) => (log += d));
    await waitFor('cirrus-ingest to listen', () => /listening rtmp=.* rtmps=\d+/.test(log), 5000);
    if (nginxAvailable()) {
        nginx = await startShippedNginx('sample', { liveRoot });
        browser = await B.launch();
    }
});

after(async () => {
    await browser?.close();
    ingest?.kill('SIGTERM');
    await nginx?.stop();
});

describe('cirrus-ingest over RTMPS', { skip: missing || false }, () => {
    test('ffmpeg publishes over rtmps:// and hls.js plays it', async () => {
        const pub = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
            '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine',
            '-t', '20', '-c:v', 'libx264', '-tune', 'zerolatency', '-g', '60', '-c:a', 'aac',
            '-f', 'flv', `rtmps://127.0.0.1:${rtmpsPort}/live/secure`],
        { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        pub.stderr.on('data', (d) => (err += d));
        const exited = new Promise((ok) => pub.on('exit', (code) => ok(code)));
        try {
            await waitFor('the RTMPS publisher', () =>
                /stream=secure\] 127\.0\.0\.1:\d+: publishing/.test(log), 10000);
            await waitFor('two segments', () => {
                const d = path.join(dir, 'live', 'secure', 'video');
                return fs.existsSync(d) && fs.readdirSync(d)
                    .filter((f) => /^seg-\d+\.m4s$/.test(f)).length >= 2;
            }, 20000);
            if (!browser)
                return;
            const s = await B.play(browser, `${nginx.base}/player.html?engine=hls` +
                '&lowLatency=1&src=/live/secure/master.m3u8', { minTime: 3,
                timeoutMs: 30000, onPage: (p) => V.watchPage(p) });
            assert.equal(s.fatal, null, JSON.stringify(s.errors));
            assert.ok(s.videoWidth === 640, `decoded ${s.videoWidth}x${s.videoHeight}`);
            console.log(`# hls.js over RTMPS: played to ${s.currentTime.toFixed(1)} s`);
        } finally {
            // SIGINT: ffmpeg sends FCUnpublish and deleteStream, over TLS
            pub.kill('SIGINT');
            await exited;
        }
        await waitFor('a clean end', () =>
            /stream=secure\] unpublished: ending the stream/.test(log), 5000);
        assert.doesNotMatch(log, /stream=secure\].*TLS: /, err);
        V.assertClean();
    });

    test('plain RTMP and TLS 1.1 on the RTMPS port are refused', async () => {
        const from = log.length;
        const closedMs = await new Promise((ok) => {
            const t0 = Date.now();
            const s = net.connect(rtmpsPort, '127.0.0.1', () =>
                s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 7)])));
            s.on('data', () => {});
            s.on('error', () => {});
            s.on('close', () => ok(Date.now() - t0));
        });
        assert.ok(closedMs < 1000, `plain RTMP closed after ${closedMs} ms`);
        await waitFor('the TLS log line', () => /127\.0\.0\.1:\d+: TLS: /.test(log.slice(from)), 2000);
        const old = await peerCert({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1.1',
            ciphers: 'DEFAULT@SECLEVEL=0' });
        assert.match(old, /^error/, `TLS 1.1: ${old}`);
        // refused by the ingest, not by the client's own settings
        await waitFor('the protocol refused', () =>
            /TLS: .*unsupported protocol/.test(log.slice(from)), 2000);
        assert.equal(await peerCert({ maxVersion: 'TLSv1.2' }), 'cirrus-first');
    });

    test('SIGHUP loads a new certificate and keeps the old one if broken', async () => {
        assert.equal(await peerCert(), 'cirrus-first');
        makeCert('first', 'cirrus-second'); // the same files, new contents
        let from = log.length;
        ingest.kill('SIGHUP');
        await waitFor('the reload', () => /TLS certificate reloaded/.test(log.slice(from)), 3000);
        assert.equal(await peerCert(), 'cirrus-second');
        fs.writeFileSync(path.join(dir, 'first.pem'), 'not a certificate\n');
        from = log.length;
        ingest.kill('SIGHUP');
        await waitFor('the refused reload', () =>
            /TLS certificate .*first\.pem.*\(the ones loaded before stay\)/.test(log.slice(from)), 3000);
        assert.equal(await peerCert(), 'cirrus-second');
    });
});
