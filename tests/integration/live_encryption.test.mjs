// Live encryption (issue 14; docs/encryption.md, Live): one key per stream,
// from a key file, through the live CMAF packager (transcoder/src/
// cmaf_live_crypt.c) and the live renderers (origin/src/hls_live.c,
// dash_live.c).
// - cirrus-transcode --live-root --encryption publishes h264_720p2997 as a
//   cenc stream with the live preset (the passthrough, rungs and AAC) and as
//   a cbcs stream with every DRM system; cirrus-ingest with an application
//   whose "encryption" is cenc takes an RTMP publisher (ffmpeg CLI).
// - Every playlist and MPD nginx (the shipped sample config) serves passes
//   the strict validator (lib/validate.mjs: H12 key lines, D7
//   ContentProtection); each media playlist has the key lines after its
//   EXT-X-MAP (METHOD by scheme, ClearKey's key ID data URI, a line per
//   system), the MPD a ContentProtection with cenc:default_KID per set and
//   cenc:pssh with the init segments' own boxes (read by mp4box.js); each
//   init's sample entry is encv/enca with a tenc naming the key ID.
// - Each rendition's init + segments decode with ffmpeg -decryption_key
//   without an error, the video to as many frames as the clear stream's,
//   and not without the key or with another.
// - The key (hex, base64, raw bytes) is in no file of the live store and in
//   no log line.
// - The master's EXT-X-SESSION-KEY lines are the media playlists' key
//   lines (after a rotation: the current period's).
// - hls.js, dash.js and Shaka Player (HLS and DASH) play a cenc and a cbcs
//   live stream with EME ClearKey in Chromium (player.html?clearkey=
//   KID:KEY) while it runs, and a stream whose key changes every segment
//   across two key changes (clearkey=KID:KEY,KID:KEY,...), and with the
//   rig's ClearKey licence server instead (clearkey=URL: Shaka's DASH,
//   which given fixed keys stops with 4012 once the MPD names a Period key
//   it lacks, hls.js and dash.js); Shaka's HLS refuses ClearKey signalled
//   alone (4026).  hls.js and dash.js play a stream an ingest application
//   encrypts, fed over RTMP by the ffmpeg CLI, which decrypts with the key.
// - The rig's ClearKey licence server (tests/aws-rig/speke.mjs) answers
//   only keys its SPEKE server handed out; 4xx otherwise.
// - Key rotation ("rotate_segments", keys from the AWS rig's SPEKE v2 key
//   server, which checks each request's crypto period shape): the
//   requests for periods 0, 1, 2 in order, each with its own key ID; per
//   period a map, key lines, a tenc and a DASH Period of its own, its
//   segments decrypting with its key only; through cirrus-transcode
//   --live-root and a cirrus-ingest application over RTMP.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet as rawGetUnchecked,
    startShippedNginx } from './lib/nginx.mjs';
import { psshBySystem } from './lib/pssh.mjs';
import { validator } from './lib/validate.mjs';
import { start as startRig, stop as stopRig } from '../aws-rig/index.mjs';
import { spekeKeyFor } from '../aws-rig/speke.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const SAMPLE = 'h264_720p2997.mp4';
const ROT_SAMPLE = 'h264_1080p30.mp4';
const KID = '0123456789abcdef0123456789abcdef';
const KEY = '3c5a0e17b5d24f8e9a61c0d2e4f6a8b1';
const OTHER_KEY = '00112233445566778899aabbccddeeff';
const KID_UUID = '01234567-89ab-cdef-0123-456789abcdef';
const SYSTEM = { clearkey: '1077efecc0b24d02ace33c1e52e2fb4b',
    widevine: 'edef8ba979d64acea3c827dcd51d21ed',
    playready: '9a04f07998404286ab92e65be0885f95' };
const KEY_FORMS = [KEY, KEY.toUpperCase(), Buffer.from(KEY, 'hex').toString('base64'),
    Buffer.from(KEY, 'hex').toString('base64url')];
const missing = !fs.existsSync(C.TRANSCODE_BIN) ? `${C.TRANSCODE_BIN} not built`
    : !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
        : !(C.hasTool('ffmpeg') && C.hasTool('ffprobe')) ? 'ffmpeg/ffprobe missing'
            : nginxAvailable() ? null : 'nginx module not built';
const V = validator('live-encryption');
const rawGet = V.wrapRawGet(rawGetUnchecked);
afterEach(() => V.assertClean());

let work, liveRoot, keyFile, nginx;
const logs = [];

// Publishes the sample as live stream `stream` (with the preset at real
// time: faster, the rungs drop frames and their parts come out shorter
// than the validator's 85 % of PART-TARGET, encrypted or not).
async function publishFile(stream, encryption, extra = []) {
    const r = await C.run(C.TRANSCODE_BIN, ['--input', C.sample(SAMPLE),
        '--live-root', liveRoot, '--stream', stream,
        ...(extra.includes('--preset') ? [] : ['--no-realtime']),
        '--segment-seconds', '2', '--part-seconds', '0.5',
        ...(encryption ? ['--encryption', JSON.stringify(encryption)] : []),
        ...extra], { timeoutMs: 120000 });
    logs.push(r.stdout, r.stderr);
    return r;
}

// The sample published over RTMP (ffmpeg -re, stream copy) to a
// cirrus-ingest whose application "live" encrypts; resolves once the
// stream ended.
async function publishRtmp(key, encryption = { scheme: 'cenc', key_file: keyFile,
    drm: { clearkey: {}, widevine: {} } }) {
    const port = await freePort();
    let log = '';
    const apps = { live: { encryption } };
    const ing = spawn(INGEST_BIN, ['--set', `port=${port}`,
        '--set', `live_root=${liveRoot}`, '--set', 'segment_seconds=2',
        '--set', 'part_seconds=0.5', '--set', 'grace_seconds=0',
        '--set', `applications=${JSON.stringify(apps)}`,
        '--set', 'log_level=debug'], { stdio: ['ignore', 'ignore', 'pipe'] });
    ing.stderr.on('data', (d) => (log += d));
    const waitLog = (what, re) => C.waitFor(what, () => re.test(log),
        { timeoutMs: 30000, every: 100, detail: () => log.slice(-3000) });
    try {
        await waitLog('the ingest', /listening rtmp=/);
        const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error',
            '-re', '-i', C.sample(SAMPLE), '-c', 'copy', '-f', 'flv',
            `rtmp://127.0.0.1:${port}/live/${key}`], { encoding: 'utf8',
            timeout: 60000 });
        assert.equal(r.status, 0, r.stderr);
        await waitLog(`stream ${key} to end`,
            new RegExp(`stream=${key}\\] stream ended`));
    } finally {
        ing.kill('SIGTERM');
    }
    logs.push(log);
    return log;
}

async function get(stream, file) {
    const r = await rawGet(nginx.port, `/live/${stream}/${file}`);
    assert.equal(r.status, 200, `${stream}/${file}: ${r.status}`);
    return r.body;
}

const text = async (stream, file) => (await get(stream, file)).toString('utf8');

// The renditions of a stream (its master's media playlists).
async function renditions(stream) {
    const m = C.parseMaster(await text(stream, 'master.m3u8'));
    const uris = [...m.variants.map((v) => v.uri),
        ...m.media.filter((x) => x.URI).map((x) => x.URI)];
    return [...new Set(uris.map((u) => u.split('/')[0]))];
}

// A rendition's init segment and every segment its playlist lists, in
// order, as one buffer (and the playlist).
async function joined(stream, r) {
    const pl = await text(stream, `${r}/index.m3u8`);
    const init = /^#EXT-X-MAP:URI="([^"]+)"$/m.exec(pl)[1];
    const segs = pl.match(/^seg-\d+\.m4s$/gm);
    assert.ok(segs && segs.length >= 2, pl);
    const bufs = [await get(stream, `${r}/${init}`)];
    for (const s of segs)
        bufs.push(await get(stream, `${r}/${s}`));
    return { buf: Buffer.concat(bufs), init: bufs[0], pl };
}

// ffmpeg reads from a pipe (see encryption.test.mjs: FFmpeg 5.1 on a
// seekable file applies a fragment's encryption info to the one before).
function decode(buf, key) {
    const r = spawnSync('ffmpeg', ['-v', 'error', ...(key ? ['-decryption_key', key] : []),
        '-i', 'pipe:', '-map', '0', '-f', 'framemd5', '-'], { input: buf,
        maxBuffer: 512 << 20 });
    const frames = String(r.stdout).split('\n').filter((l) => l && !l.startsWith('#'));
    return { ok: r.status === 0 && String(r.stderr).trim() === '', frames,
        err: String(r.stderr).slice(0, 1500) };
}

// The key ID the init's tenc names (after its version/flags, reserved,
// default_isProtected and default_Per_Sample_IV_Size bytes).
function tencKid(init) {
    const at = init.indexOf('tenc');
    assert.ok(at > 0, 'a tenc box');
    return init.subarray(at + 12, at + 28).toString('hex');
}

before(async () => {
    if (missing)
        return;
    work = C.tmpDir('live-enc-');
    liveRoot = C.tmpDir('live-enc-root-');
    keyFile = path.join(work, 'key.json');
    fs.writeFileSync(keyFile, JSON.stringify({ key_id: KID, key: KEY }));
    const presets = ['--preset', 'live', '--presets-dir', C.PRESETS_DIR];
    const results = await Promise.all([
        publishFile('cenc', { scheme: 'cenc', key_file: keyFile,
            drm: { clearkey: {}, playready: { la_url: 'https://pr.example/x' } } },
        presets),
        publishFile('cbcs', { scheme: 'cbcs', key_file: keyFile,
            drm: { clearkey: {}, widevine: {}, playready: {},
                fairplay: { key_uri: 'skd://live-42' } } }),
        publishFile('clear', null)]);
    for (const r of results)
        assert.equal(r.code, 0, r.stderr.slice(-3000));
    await publishRtmp('rtmpenc');
    nginx = await startShippedNginx('sample', { liveRoot });
});

after(async () => {
    await nginx?.stop();
});

describe('a live stream encrypted with one key', { skip: missing || false }, () => {
    for (const [stream, scheme, method] of [['cenc', 'cenc', 'SAMPLE-AES-CTR'],
        ['cbcs', 'cbcs', 'SAMPLE-AES'], ['rtmpenc', 'cenc', 'SAMPLE-AES-CTR']]) {
        test(`${stream}: key lines after EXT-X-MAP, tenc and pssh in the init`,
            async () => {
                const rs = await renditions(stream);
                assert.ok(rs.includes('video') && rs.includes('audio'), rs.join());
                if (stream === 'cenc')
                    assert.ok(rs.length >= 3, `the rungs too: ${rs}`);
                for (const r of rs) {
                    const { pl, init } = await joined(stream, r);
                    const lines = pl.split('\n');
                    const map = lines.findIndex((l) => l.startsWith('#EXT-X-MAP:'));
                    const keys = lines.map((l, i) => [l, i])
                        .filter(([l]) => l.startsWith('#EXT-X-KEY:'));
                    assert.ok(keys.length >= 1, pl);
                    for (const [l, i] of keys) {
                        assert.equal(i > map, true, `the key after the map:\n${pl}`);
                        assert.ok(l.includes(`METHOD=${method},`), l);
                    }
                    assert.ok(pl.includes(`#EXT-X-KEY:METHOD=${method},URI="data:text/plain;` +
                        `base64,${Buffer.from(KID, 'hex').toString('base64')}",` +
                        'KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"\n'), pl);
                    const sampleEntry = r === 'audio' ? 'enca' : 'encv';
                    assert.ok(init.includes(sampleEntry), `${r}: ${sampleEntry}`);
                    assert.equal(init.toString('latin1', init.indexOf('schm') + 8,
                        init.indexOf('schm') + 12), scheme);
                    assert.equal(tencKid(init), KID);
                    const file = path.join(work, `${stream}-${r}-init.mp4`);
                    fs.writeFileSync(file, init);
                    const boxes = psshBySystem(file);
                    assert.ok(boxes[SYSTEM.clearkey], 'the ClearKey pssh');
                    assert.deepEqual(boxes[SYSTEM.clearkey].kid, [KID]);
                    if (stream === 'cbcs') {
                        assert.ok(boxes[SYSTEM.widevine] && boxes[SYSTEM.playready]);
                        assert.ok(pl.includes('URI="skd://live-42",KEYFORMAT=' +
                            '"com.apple.streamingkeydelivery"'), pl);
                        assert.ok(pl.includes('KEYFORMAT="urn:uuid:edef8ba9-79d6-' +
                            '4ace-a3c8-27dcd51d21ed"'), pl);
                    }
                }
            });

        test(`${stream}: the master's EXT-X-SESSION-KEY lines are the media ` +
            'playlists\' key lines', async () => {
            const master = await text(stream, 'master.m3u8');
            const session = master.split('\n').filter((l) =>
                l.startsWith('#EXT-X-SESSION-KEY:')).map((l) => l.slice(19));
            assert.ok(session.length >= 1, master);
            assert.ok(session.every((a) => a.startsWith(`METHOD=${method},`)), master);
            assert.ok(session.some((a) => a.includes('KEYFORMAT="org.w3.clearkey"')), master);
            for (const r of await renditions(stream)) {
                const keys = (await text(stream, `${r}/index.m3u8`)).split('\n')
                    .filter((l) => l.startsWith('#EXT-X-KEY:')).map((l) => l.slice(11));
                assert.deepEqual(keys, session, `${r}'s key lines`);
            }
        });

        test(`${stream}: the MPD's ContentProtection and the init's pssh bytes`,
            async () => {
                const mpd = await text(stream, 'manifest.mpd');
                assert.match(mpd, /<MPD [^>]*xmlns:cenc="urn:mpeg:cenc:2013"/);
                const sets = mpd.match(/<AdaptationSet[\s\S]*?<\/AdaptationSet>/g);
                assert.ok(sets.length >= 2);
                for (const set of sets) {
                    assert.ok(set.includes('<ContentProtection schemeIdUri="urn:mpeg:' +
                        `dash:mp4protection:2011" value="${scheme}" ` +
                        `cenc:default_KID="${KID_UUID}"/>`), set);
                    assert.ok(set.includes('value="ClearKey1.0"'), set);
                    const rep = /<Representation id="([^"]+)"/.exec(set)[1];
                    const init = /initialization="\$RepresentationID\$\/([^"]+)"/
                        .exec(set)[1];
                    const file = path.join(work, `${stream}-${rep}-mpd-init.mp4`);
                    fs.writeFileSync(file, await get(stream, `${rep}/${init}`));
                    const boxes = psshBySystem(file);
                    for (const [name, id] of [['Widevine', SYSTEM.widevine],
                        ['MSPR 2.0', SYSTEM.playready]]) {
                        const m = new RegExp(`value="${name}">\\s*<cenc:pssh>([^<]+)<`)
                            .exec(set);
                        assert.equal(Boolean(m), Boolean(boxes[id]), `${name}: ${set}`);
                        if (m)
                            assert.equal(m[1], boxes[id].bytes.toString('base64'));
                    }
                }
            });

        test(`${stream}: every rendition decrypts with the key, not without`,
            async () => {
                for (const r of await renditions(stream)) {
                    const { buf } = await joined(stream, r);
                    const good = decode(buf, KEY);
                    assert.ok(good.ok, `${r} with the key: ${good.err}`);
                    assert.ok(good.frames.length > 20, `${r}: ${good.frames.length} frames`);
                    const none = decode(buf, null);
                    const wrong = decode(buf, OTHER_KEY);
                    for (const [what, d] of [['without the key', none],
                        ['with another key', wrong]]) {
                        assert.ok(!d.ok || d.frames.join() !== good.frames.join(),
                            `${r} decodes ${what}`);
                    }
                }
            });
    }

    // A publisher's outage on an encrypted stream: the audio's silence over
    // it is encrypted as its parts are (it decrypts with the key, to
    // silence); the video keeps GAP segments (its last picture is
    // ciphertext under its own segment's IVs)
    test('an outage: the audio\'s silence is encrypted, the video lists GAPs', async () => {
        const port = await freePort();
        let log = '';
        const apps = { live: { encryption: { scheme: 'cenc', key_file: keyFile } } };
        const ing = spawn(INGEST_BIN, ['--set', `port=${port}`,
            '--set', `live_root=${liveRoot}`, '--set', 'segment_seconds=2',
            '--set', 'part_seconds=0.5', '--set', 'grace_seconds=20',
            '--set', `applications=${JSON.stringify(apps)}`],
        { stdio: ['ignore', 'ignore', 'pipe'] });
        ing.stderr.on('data', (d) => (log += d));
        const waitLog = (what, re) => C.waitFor(what, () => re.test(log),
            { timeoutMs: 30000, every: 100, detail: () => log.slice(-3000) });
        const publish = () => spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error',
            '-re', '-i', C.sample(SAMPLE), '-c', 'copy', '-f', 'flv',
            `rtmp://127.0.0.1:${port}/live/encout`], { stdio: 'ignore' });
        let pub;
        try {
            await waitLog('the ingest', /listening rtmp=/);
            pub = publish();
            await C.waitFor('two segments', async () => {
                const r = await rawGetUnchecked(nginx.port, '/live/encout/video/index.m3u8');
                return r.status === 200 && (r.body.toString().match(/^seg-/gm) || []).length >= 2;
            }, { timeoutMs: 30000, every: 200 });
            pub.kill('SIGKILL');
            await waitLog('the publisher gone', /stream=encout\] publisher gone/);
            await C.sleep(3000);
            pub = publish();
            await waitLog('the outage filled', /stream=encout\] [\d.]+ s without media/);
            let apl = '', vpl = '';
            await C.waitFor('the outage in both playlists', async () => {
                vpl = await text('encout', 'video/index.m3u8');
                apl = await text('encout', 'audio/index.m3u8');
                const msn = /#EXT-X-GAP\n#EXTINF:[\d.]+,\nseg-(\d+)\.m4s/.exec(vpl)?.[1];
                return msn && apl.includes(`\nseg-${msn}.m4s`) ? msn : false;
            }, { timeoutMs: 15000, every: 200 });
            const msn = /#EXT-X-GAP\n#EXTINF:[\d.]+,\nseg-(\d+)\.m4s/.exec(vpl)[1];
            assert.doesNotMatch(apl, /#EXT-X-GAP/, apl);
            const init = [...apl.slice(0, apl.indexOf(`\nseg-${msn}.m4s`))
                .matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].at(-1)[1];
            const buf = Buffer.concat([await get('encout', `audio/${init}`),
                await get('encout', `audio/seg-${msn}.m4s`)]);
            assert.ok(buf.includes('senc'), 'the silence carries its encryption');
            const vd = spawnSync('ffmpeg', ['-hide_banner', '-decryption_key', KEY,
                '-i', 'pipe:', '-af', 'volumedetect', '-f', 'null', '-'], { input: buf,
                encoding: 'buffer' });
            const err = String(vd.stderr);
            assert.equal(vd.status, 0, err);
            assert.match(err, /max_volume: -(9\d|inf)/, err.slice(-800));
            assert.match(err, /n_samples: [1-9]/);
        } finally {
            pub?.kill('SIGKILL');
            ing.kill('SIGTERM');
            logs.push(log);
        }
    });

    test('the video decrypts to as many frames as the clear stream has', async () => {
        const enc = decode((await joined('cenc', 'video')).buf, KEY);
        const clear = decode((await joined('clear', 'video')).buf, null);
        assert.ok(clear.ok, clear.err);
        assert.equal(enc.frames.length, clear.frames.length);
        // the passthrough: the same samples, so the same decoded frames
        assert.deepEqual(enc.frames.map((l) => l.split(',').pop()),
            clear.frames.map((l) => l.split(',').pop()));
    });

    test('a clear stream has no key line, no ContentProtection', async () => {
        assert.ok(!(await text('clear', 'video/index.m3u8')).includes('EXT-X-KEY'));
        assert.ok(!(await text('clear', 'manifest.mpd')).includes('ContentProtection'));
    });

    test('the key is in no file of the live store and no log', () => {
        const files = [];
        const walk = (d) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                const f = path.join(d, e.name);
                if (e.isDirectory())
                    walk(f);
                else
                    files.push(f);
            }
        };
        walk(liveRoot);
        assert.ok(files.length > 20);
        const raw = Buffer.from(KEY, 'hex');
        for (const f of files) {
            const b = fs.readFileSync(f);
            assert.equal(b.indexOf(raw), -1, `${f} holds the raw key`);
            for (const form of KEY_FORMS)
                assert.equal(b.indexOf(form), -1, `${f} holds the key`);
        }
        const all = logs.join('\n');
        assert.ok(all.includes(KID), 'the logs name the key ID');
        for (const form of KEY_FORMS)
            assert.ok(!all.includes(form), 'a log holds the key');
    });

    test('bad live encryption settings are refused, naming the field', async () => {
        const aes = await publishFile('bad1', { scheme: 'aes-128', key_file: keyFile,
            key_uri: 'https://k.example/' });
        assert.equal(aes.code, 3);
        assert.match(aes.stderr, /aes-128 is not supported live/);
        const gone = await publishFile('bad2', { scheme: 'cenc',
            key_file: path.join(work, 'nope.json') });
        assert.equal(gone.code, 3, gone.stderr);
        assert.match(gone.stderr, /encryption\.key_file: .*nope\.json/);
        assert.ok(!fs.existsSync(path.join(liveRoot, 'bad1')));
        assert.ok(!fs.existsSync(path.join(liveRoot, 'bad2')));
    });
});

// Key rotation: a new key every 2 segments from the AWS rig's SPEKE v2
// key server, asked ahead of time for each crypto period (the rig checks
// the ContentKeyPeriod / KeyPeriodFilter shape and answers a key of the
// period's own).  h264_1080p30 (10 s: 5 segments) at real time (the keys
// must come before their periods do; without the preset: the passthrough
// and the audio).
describe('key rotation every 2 segments (SPEKE v2)', { skip: missing || false }, () => {
    let rig, requests, kids;
    const uuid = (hex) => hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/,
        '$1-$2-$3-$4-$5');
    before(async () => {
        rig = await startRig();
        const r = await C.run(C.TRANSCODE_BIN, ['--input', C.sample(ROT_SAMPLE),
            '--live-root', liveRoot, '--stream', 'rot',
            '--segment-seconds', '2', '--part-seconds', '0.5',
            '--encryption', JSON.stringify({ scheme: 'cenc', rotate_segments: 2,
                speke: { url: `${rig.speke}/v2/speke`, resource_id: 'live-rot' },
                drm: { clearkey: {}, widevine: {} } })],
        { timeoutMs: 120000, env: rig.env() });
        logs.push(r.stdout, r.stderr);
        assert.equal(r.code, 0, r.stderr.slice(-3000));
        requests = await rig.spekeRequests();
    });
    after(async () => {
        await stopRig(rig);
    });

    test('the key provider was asked for each crypto period, ahead', async () => {
        for (const q of requests)
            assert.equal(q.error, undefined, q.error);
        const periods = requests.map((q) => q.period);
        assert.deepEqual(periods.slice(0, 3), [0, 1, 2], JSON.stringify(periods));
        assert.ok(requests.every((q) => q.resourceId === 'live-rot' &&
            q.scheme === 'cenc'));
        // each period's key ID is its own
        assert.equal(new Set(requests.map((q) => q.kid)).size, requests.length);
        assert.match(requests[1].body, /<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id="keyPeriod_1" index="1"\/><\/cpix:ContentKeyPeriodList>/);
        assert.match(requests[1].body, /<cpix:KeyPeriodFilter periodId="keyPeriod_1"\/>/);
        kids = requests.map((q) => q.kid);
        // the rig refuses a period shape that does not hold together
        const post = (body) => fetch(`${rig.speke}/v2/speke`, { method: 'POST', body,
            headers: { 'content-type': 'application/xml', 'x-speke-version': '2.0' } });
        for (const [from, to, why] of [
            ['periodId="keyPeriod_1"', 'periodId="keyPeriod_9"', /KeyPeriodFilter must name/],
            [/<cpix:ContentKeyPeriodList>.*<\/cpix:ContentKeyPeriodList>/, '',
                /one cpix:ContentKeyPeriod expected/],
            ['index="1"', 'index="x"', /needs an id and an index/]]) {
            const res = await post(requests[1].body.replace(from, to));
            assert.equal(res.status, 400);
            assert.match(await res.text(), why);
        }
    });

    // Each rendition of `stream`: a map per crypto period with its own
    // key ID (from the rig), which the init's tenc names; each period's
    // init + segments decrypt with the rig's key for it and not with
    // another period's; the MPD a Period per crypto period.
    async function checkPeriods(stream, minPeriods) {
        requests = await rig.spekeRequests();
        kids = requests.map((q) => q.kid);
        for (const r of ['video', 'audio']) {
            const pl = await text(stream, `${r}/index.m3u8`);
            const runs = [];
            let cur = null;
            for (const line of pl.split('\n')) {
                const map = /^#EXT-X-MAP:URI="([^"]+)"$/.exec(line);
                if (map)
                    runs.push(cur = { init: map[1], keys: [], segs: [] });
                const key = /^#EXT-X-KEY:.*URI="data:text\/plain;base64,([^"]+)",KEYFORMAT="org.w3.clearkey"/
                    .exec(line);
                if (key)
                    cur.keys.push(Buffer.from(key[1], 'base64').toString('hex'));
                if (/^seg-\d+\.m4s$/.test(line))
                    cur.segs.push(line);
            }
            assert.ok(runs.length >= minPeriods, `${r}: ${runs.length} periods\n${pl}`);
            const seen = new Set();
            for (const [i, run] of runs.entries()) {
                assert.equal(run.keys.length, 1, `${r} ${run.init}: one ClearKey line`);
                const kid = run.keys[0];
                assert.ok(!seen.has(kid), `${r}: a key ID per period`);
                seen.add(kid);
                const q = requests.find((x) => x.kid === uuid(kid));
                assert.ok(q, `${r} ${run.init}: the key ID ${kid} came from the rig`);
                const init = await get(stream, `${r}/${run.init}`);
                assert.equal(tencKid(init), kid, `${r} ${run.init}: its tenc`);
                if (run.segs.length === 0)
                    continue;
                const buf = Buffer.concat([init, ...await Promise.all(
                    run.segs.map((f) => get(stream, `${r}/${f}`)))]);
                const key = spekeKeyFor(uuid(kid), q.period).toString('hex');
                const good = decode(buf, key);
                assert.ok(good.ok && good.frames.length > 10,
                    `${r} period ${i}: ${good.frames.length} frames ${good.err}`);
                const other = runs[(i + 1) % runs.length].keys[0];
                const otherQ = requests.find((x) => x.kid === uuid(other));
                const bad = decode(buf, spekeKeyFor(uuid(other), otherQ.period)
                    .toString('hex'));
                assert.ok(!bad.ok || bad.frames.join() !== good.frames.join(),
                    `${r} period ${i} decodes with another period's key`);
            }
        }
        // the master's session key is the current (the ended stream's
        // last) period's: the key lines after the video playlist's last map
        const master = await text(stream, 'master.m3u8');
        const vpl = await text(stream, 'video/index.m3u8');
        const session = master.split('\n').filter((l) => l.startsWith('#EXT-X-SESSION-KEY:'))
            .map((l) => l.slice(19));
        const keyRuns = vpl.split(/^#EXT-X-MAP:.*$/m).slice(1).map((run) => run.split('\n')
            .filter((l) => l.startsWith('#EXT-X-KEY:')).map((l) => l.slice(11)));
        assert.ok(session.length >= 1 && session.some((a) => a.includes('org.w3.clearkey')),
            master);
        assert.deepEqual(session, keyRuns.at(-1), `the last period's key:\n${master}\n${vpl}`);
        assert.ok(keyRuns.length >= 2 && keyRuns[0].join() !== session.join());
        const mpd = await text(stream, 'manifest.mpd');
        const periods = mpd.match(/<Period [\s\S]*?<\/Period>/g);
        assert.ok(periods.length >= minPeriods, mpd);
        const pk = periods.map((p) => /cenc:default_KID="([^"]+)"/.exec(p)[1]);
        assert.equal(new Set(pk).size, pk.length, `a key per Period: ${pk}`);
        for (const k of pk)
            assert.ok(kids.includes(k), k);
    }

    test('each period: its own init, key lines and Period; its segments ' +
        'decrypt with its key only', async () => {
        await checkPeriods('rot', 3);
    });

    test('an ingest application rotating every segment (RTMP)', async () => {
        const before = (await rig.spekeRequests()).length;
        const log = await publishRtmp('rtmprot', { scheme: 'cbcs', rotate_segments: 1,
            speke: { url: `${rig.speke}/v2/speke`, resource_id: 'live-app' },
            drm: { clearkey: {} } });
        assert.match(log, /application live: cbcs encryption, key ID [0-9a-f]{32} \(the first crypto period's\)/);
        assert.match(log, /key rotation: period 1, key ID [0-9a-f]{32}/);
        const mine = (await rig.spekeRequests()).slice(before);
        assert.ok(mine.length >= 3 && mine.every((q) => q.resourceId === 'live-app' &&
            q.scheme === 'cbcs' && q.error === undefined), JSON.stringify(mine.map((q) => q.period)));
        assert.deepEqual(mine.slice(0, 2).map((q) => q.period), [0, 1]);
        await checkPeriods('rtmprot', 2);
    });

    // The rig's ClearKey licence server (the player tests' clearkey=URL): the
    // keys it handed out in a SPEKE answer as a JSON Web Key set, CORS-open;
    // a 4xx for another key ID or a malformed request.
    test('the rig\'s ClearKey licence server answers the keys it handed out only',
        async () => {
            const b64u = (hex) => Buffer.from(hex, 'hex').toString('base64url');
            const ask = (body, headers = {}) => fetch(rig.clearKey, { method: 'POST',
                body: typeof body === 'string' ? body : JSON.stringify(body),
                headers: { 'content-type': 'application/json', origin: 'http://page.example',
                    ...headers } });
            const [a, b] = requests.slice(0, 2);
            const res = await ask({ kids: [a, b].map((q) => b64u(q.kid.replace(/-/g, ''))),
                type: 'temporary' });
            assert.equal(res.status, 200);
            assert.equal(res.headers.get('access-control-allow-origin'), '*');
            const jwks = await res.json();
            assert.equal(jwks.type, 'temporary');
            // the keys asked for, then the resource's other keys: every
            // period's of 'live-rot' (not the other tests' resources)
            const jwk = (q) => ({ kty: 'oct', kid: b64u(q.kid.replace(/-/g, '')),
                k: spekeKeyFor(q.kid, q.period).toString('base64url') });
            assert.deepEqual(jwks.keys.slice(0, 2), [a, b].map(jwk));
            const mine = (await rig.spekeRequests()).filter((q) =>
                q.resourceId === 'live-rot' && q.error === undefined);
            assert.deepEqual(new Set(jwks.keys.map(JSON.stringify)),
                new Set(mine.map(jwk).map(JSON.stringify)));
            const pre = await fetch(rig.clearKey, { method: 'OPTIONS', headers: {
                origin: 'http://page.example', 'access-control-request-method': 'POST',
                'access-control-request-headers': 'content-type' } });
            assert.ok(pre.ok && /POST/.test(pre.headers.get('access-control-allow-methods')));
            assert.equal(pre.headers.get('access-control-allow-origin'), '*');
            for (const [body, status, why] of [
                [{ kids: [b64u(KID)], type: 'temporary' }, 404, /no key handed out for 0123/],
                [{ kids: [b64u(a.kid.replace(/-/g, '')), b64u(KID)] }, 404, /no key handed out/],
                ['{"kids":', 400, /not JSON/],
                [{ kids: [] }, 400, /"kids" must be an array/],
                [{ kids: ['AAAA'] }, 400, /16 bytes in unpadded base64url/],
                [{ kids: [b64u(KID) + '=='] }, 400, /16 bytes/],
                [{ kids: Array(65).fill(b64u(KID)) }, 400, /1-64 key IDs/],
                [{ kids: [b64u(KID)], type: 'persistent-license' }, 400, /"type"/],
                ['x'.repeat(20000), 400, /over 16384 bytes/]]) {
                const r = await ask(body);
                assert.equal(r.status, status, JSON.stringify(body).slice(0, 80));
                assert.match((await r.json()).error, why);
            }
            assert.equal((await fetch(rig.clearKey)).status, 405);
        });

    test('rotation is refused without a key provider', async () => {
        const r = await publishFile('bad3', { scheme: 'cenc', key_file: keyFile,
            rotate_segments: 2 });
        assert.equal(r.code, 3);
        assert.match(r.stderr, /encryption\.rotate_segments: needs a key provider/);
    });
});

// The players on encrypted live streams, in headless Chromium with EME
// ClearKey (samples/player.html?clearkey=KID:KEY[,KID:KEY...]): hls.js,
// dash.js and Shaka Player (its HLS and its DASH) each play a cenc and a
// cbcs stream (the sample looped at real time, ClearKey and Widevine
// signalled) while it runs, and a stream whose key changes every segment
// (SPEKE v2 keys from the AWS rig) across at least two key changes, given
// every key asked for so far (but Shaka's DASH: 4012) or the rig's ClearKey
// licence server (all four); hls.js and dash.js an RTMP-fed stream; Shaka's HLS
// refuses a stream signalled with ClearKey alone (its HLS parser knows no
// org.w3.clearkey KEYFORMAT).
const ENGINES = [['hls.js', 'hls', 'master.m3u8'], ['dash.js', 'dash', 'manifest.mpd'],
    ['Shaka (HLS)', 'shaka', 'master.m3u8'], ['Shaka (DASH)', 'shaka', 'manifest.mpd']];

describe('players play encrypted live streams (EME ClearKey)', {
    skip: missing || B.browserAvailable() || false }, () => {
    const DRM = { clearkey: {}, widevine: {} };
    const SEGMENT = 2; // s: the input's GOP, 60 frames at 30/s
    const pubs = [];
    let browser, rig, input;

    // A 4-minute input (a looped sample's audio starts each loop 50-60 ms
    // after its video, clear or not, past the validator's PDT tolerance
    // across renditions): 640x360 at 30/s, a keyframe every 2 s, AAC.
    async function makeInput() {
        const file = path.join(work, 'players-src.mp4');
        const r = await C.run('ffmpeg', ['-nostdin', '-loglevel', 'error',
            '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
            '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
            '-t', '240', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60',
            '-keyint_min', '60', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
            '-c:a', 'aac', '-b:a', '96k', file], { timeoutMs: 120000 });
        assert.equal(r.code, 0, r.stderr);
        return file;
    }

    // The input at real time as live stream `stream`; stopped after the
    // tests.
    function startLive(stream, encryption, env) {
        const pub = spawn(C.TRANSCODE_BIN, ['--input', input,
            '--live-root', liveRoot, '--stream', stream,
            '--segment-seconds', '2', '--part-seconds', '0.5',
            '--encryption', JSON.stringify(encryption)],
        { stdio: ['ignore', 'ignore', 'pipe'], env: env || process.env });
        pub.log = '';
        pub.stderr.on('data', (d) => (pub.log += d));
        pubs.push(pub);
        return C.waitFor(`${stream} to list segments`, async () => {
            const r = await rawGetUnchecked(nginx.port, `/live/${stream}/video/index.m3u8`);
            return r.status === 200 &&
                (r.body.toString().match(/^seg-\d+\.m4s$/gm) || []).length >= 2;
        }, { timeoutMs: 30000, every: 200, detail: () => pub.log.slice(-2000) });
    }

    // The input published by the ffmpeg CLI (-re, stream copy) over RTMP to
    // a cirrus-ingest whose application "live" encrypts (cenc, the key
    // file), as live stream `stream`; both stopped after the tests.
    async function startRtmpLive(stream) {
        const port = await freePort();
        const apps = { live: { encryption: { scheme: 'cenc', key_file: keyFile,
            drm: DRM } } };
        const ing = spawn(INGEST_BIN, ['--set', `port=${port}`,
            '--set', `live_root=${liveRoot}`, '--set', 'segment_seconds=2',
            '--set', 'part_seconds=0.5', '--set', `applications=${JSON.stringify(apps)}`],
        { stdio: ['ignore', 'ignore', 'pipe'] });
        ing.log = '';
        ing.stderr.on('data', (d) => (ing.log += d));
        pubs.push(ing);
        await C.waitFor('the ingest', () => /listening rtmp=/.test(ing.log),
            { timeoutMs: 30000, every: 100, detail: () => ing.log.slice(-2000) });
        const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re',
            '-i', input, '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${stream}`],
        { stdio: ['ignore', 'ignore', 'pipe'] });
        ff.log = '';
        ff.stderr.on('data', (d) => (ff.log += d));
        pubs.push(ff);
        return C.waitFor(`${stream} to list segments`, async () => {
            const r = await rawGetUnchecked(nginx.port, `/live/${stream}/video/index.m3u8`);
            return r.status === 200 &&
                (r.body.toString().match(/^seg-\d+\.m4s$/gm) || []).length >= 2;
        }, { timeoutMs: 30000, every: 200,
            detail: () => `${ing.log.slice(-2000)}\n${ff.log.slice(-1000)}` });
    }

    before(async () => {
        browser = await B.launch();
        rig = await startRig();
        input = await makeInput();
        await Promise.all([
            startLive('pcenc', { scheme: 'cenc', key_file: keyFile, drm: DRM }),
            startLive('pcbcs', { scheme: 'cbcs', key_file: keyFile, drm: DRM }),
            startLive('ckonly', { scheme: 'cenc', key_file: keyFile }),
            startLive('prot', { scheme: 'cenc', rotate_segments: 1, drm: DRM,
                speke: { url: `${rig.speke}/v2/speke`, resource_id: 'live-play' } },
            rig.env()),
            startRtmpLive('prtmp')]);
    });
    after(async () => {
        for (const pub of pubs) {
            pub.kill('SIGTERM');
            logs.push(pub.log);
        }
        await browser?.close();
        await stopRig(rig);
    });

    // Plays /live/<stream>/<manifest> with `engine`; resolves B.play's
    // state and the video init segments the page fetched.
    async function playLive(engine, stream, manifest, clearkey, { minPlayed,
        timeoutMs = 40000, extra = '' }) {
        const inits = new Set();
        const s = await B.play(browser, `${nginx.base}/player.html?engine=${engine}` +
            `&src=${encodeURIComponent(`/live/${stream}/${manifest}`)}` +
            `&clearkey=${clearkey}${extra}`, { minPlayed, timeoutMs,
            onPage: (page) => {
                V.watchPage(page);
                page.on('request', (q) => {
                    const m = /\/live\/[^/]+\/video\/(init-\d+\.mp4)/.exec(q.url());
                    if (m)
                        inits.add(m[1]);
                });
            } });
        s.inits = [...inits];
        s.why = JSON.stringify({ fatal: s.fatal, errors: s.errors, firstTime: s.firstTime,
            currentTime: s.currentTime, played: s.played, inits: s.inits,
            events: (s.events || []).slice(-8), console: s.console.slice(-15) });
        return s;
    }

    function assertPlayed(s, seconds) {
        assert.equal(s.fatal, null, s.why);
        assert.ok(s.videoWidth > 0, `frames decoded: ${s.why}`);
        assert.ok(s.played > seconds, `played ${seconds} s on: ${s.why}`);
        assert.deepEqual(browser.offLoopback, [], 'nothing left 127.0.0.1');
    }

    for (const [stream, scheme] of [['pcenc', 'cenc'], ['pcbcs', 'cbcs']]) {
        for (const [name, engine, manifest] of ENGINES) {
            test(`${name} plays the ${scheme} live stream`, async () => {
                assertPlayed(await playLive(engine, stream, manifest, `${KID}:${KEY}`,
                    { minPlayed: 4 }), 4);
            });
        }
    }

    test('Shaka (HLS) refuses ClearKey alone: HLS_KEYFORMATS_NOT_SUPPORTED (4026)', async () => {
        const s = await playLive('shaka', 'ckonly', 'master.m3u8', `${KID}:${KEY}`,
            { minPlayed: 2, timeoutMs: 20000 });
        assert.match(String(s.fatal), /"code":4026\b/, s.why);
        assert.ok(!(s.played > 0.5), s.why);
        // its DASH plays the same stream
        assertPlayed(await playLive('shaka', 'ckonly', 'manifest.mpd', `${KID}:${KEY}`,
            { minPlayed: 2 }), 2);
    });

    // Every key asked of the rig for the stream so far (the transcoder asks
    // one crypto period ahead), as KID:KEY pairs.
    async function keysSoFar() {
        const asked = (await rig.spekeRequests()).filter((q) =>
            q.resourceId === 'live-play' && q.error === undefined);
        assert.ok(asked.length >= 3, `${asked.length} periods asked for`);
        return asked.map((q) => `${q.kid.replace(/-/g, '')}:` +
            spekeKeyFor(q.kid, q.period).toString('hex')).join(',');
    }

    // The page plays 10 s behind the live edge and buffers at most 3 s
    // ahead (hls.js, which buffers up to the edge by default, stops at a
    // key it lacks: keySystemStatusInternalError), so the periods it
    // fetches are among the keys it was given.  Shaka's DASH cannot (below).
    for (const [name, engine, manifest] of ENGINES.slice(0, 3)) {
        test(`${name} plays on across two key changes (a key per segment)`, async () => {
            const s = await playLive(engine, 'prot', manifest, await keysSoFar(),
                { minPlayed: 2 * SEGMENT + 1, extra: '&liveDelay=10&maxBuffer=3' });
            // more than two periods' worth of media played: past two key
            // changes, each with a new init segment
            assertPlayed(s, 2 * SEGMENT + 1);
            assert.ok(s.inits.length >= 3, `the inits of 3 periods: ${s.why}`);
        });
    }

    // With the rig's ClearKey licence server (clearkey=URL) each engine asks
    // for every new key as it meets it: Shaka's DASH too (given fixed keys,
    // it stops with RESTRICTIONS_CANNOT_BE_MET, 4012, as soon as an MPD
    // update names a Period whose key it lacks), at its own pace, with no
    // limit on its buffer.  Each plays on for more than two periods and
    // fetches at least three periods' init segments, its keys from the
    // licence server alone (which answers the stream's other keys with the
    // ones asked for: Shaka restricts a Period whose key has no status yet).
    for (const [name, engine, manifest] of [ENGINES[3], ENGINES[0], ENGINES[1]]) {
        test(`${name} plays on across two key changes with a ClearKey licence server`,
            async () => {
                const before = (await rig.clearKeyRequests()).length;
                const s = await playLive(engine, 'prot', manifest,
                    encodeURIComponent(rig.clearKey), { minPlayed: 2 * SEGMENT + 1,
                        timeoutMs: 50000, extra: '&liveDelay=6' });
                assertPlayed(s, 2 * SEGMENT + 1);
                assert.ok(s.inits.length >= 3, `the inits of 3 periods: ${s.why}`);
                // the page had no key: every one came from the server
                const asked = (await rig.clearKeyRequests()).slice(before);
                assert.ok(asked.length >= 1 && asked.every((q) => q.status === 200),
                    `licences: ${JSON.stringify(asked)} ${s.why}`);
            });
    }

    // An RTMP publisher (ffmpeg CLI) into an ingest application that
    // encrypts: hls.js and dash.js play it; its video decrypts with the key.
    for (const [name, engine, manifest] of ENGINES.slice(0, 2)) {
        test(`${name} plays an RTMP-fed encrypted live stream`, async () => {
            assertPlayed(await playLive(engine, 'prtmp', manifest, `${KID}:${KEY}`,
                { minPlayed: 4 }), 4);
        });
    }

    test('the RTMP-fed stream decrypts with the key, not without', async () => {
        const { buf, init } = await joined('prtmp', 'video');
        assert.equal(tencKid(init), KID);
        const good = decode(buf, KEY);
        assert.ok(good.ok && good.frames.length >= 60, `${good.frames.length} frames ${good.err}`);
        const none = decode(buf, null);
        assert.ok(!none.ok || none.frames.join() !== good.frames.join(), 'decodes without the key');
    });
});
