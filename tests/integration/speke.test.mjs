// Keys from a SPEKE v2 key provider (common/aws/src/speke.c): the AWS rig's
// SPEKE key server (tests/aws-rig/speke.mjs) behind its SigV4 verifier (AWS's
// own signer recomputes the signature).
//  - cirrus-transcode, cbcs, every DRM system, signed (region given): the
//    request reached the key server signed for execute-api in that region
//    and well-formed (its CPIX parsed and checked by the rig: resource id,
//    one ContentKey for the job's random key ID with cbcs, a DRMSystem per
//    system, the usage rule, X-Speke-Version 2.0); the output decrypts with
//    the rig's key (ffmpeg -decryption_key) and not without; init.mp4's
//    Widevine and PlayReady pssh boxes are the rig's bytes (mp4box.js), and
//    so are the MPD's cenc:pssh / mspr:pro and the playlists' key lines;
//    FairPlay's key URI is the rig's URIExtXKey; the result names the key ID
//    only and the key is in no output, log or result.
//  - unsigned (no region) with a given key_id: the request carries no
//    Authorization and that key ID.
//  - faults (500s, malformed XML, no key, an encrypted key, a pssh that is
//    not one box): the job fails with the error naming the element, and
//    nothing is published.
//  - cirrus-worker: a spool job document with "speke" (no key_dir needed)
//    is encrypted with the provider's key; one with a plain-http URL to
//    another host is refused at intake.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import * as C from './lib/cirrus.mjs';
import { psshBySystem as psshBoxes } from './lib/pssh.mjs';
import { start, stop } from '../aws-rig/index.mjs';
import { SPEKE_KEY, spekeBoxes } from '../aws-rig/speke.mjs';

const SAMPLE = 'h264_720p2997.mp4';
const KEY = SPEKE_KEY.toString('hex');
const KEY_FORMS = [KEY, KEY.toUpperCase(), SPEKE_KEY.toString('base64'),
    SPEKE_KEY.toString('base64url')].map((s) => Buffer.from(s)).concat([SPEKE_KEY]);
const DRM = { clearkey: {}, widevine: {}, playready: {}, fairplay: {} };
const SYSTEM = { clearkey: '1077efecc0b24d02ace33c1e52e2fb4b',
    widevine: 'edef8ba979d64acea3c827dcd51d21ed', playready: '9a04f07998404286ab92e65be0885f95' };
const uuid = (hex) => hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

let rig;
const work = C.tmpDir('speke-');

function filesUnder(dir) {
    if (!fs.existsSync(dir))
        return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

function track(dir, rendition) {
    const text = C.readText(path.join(dir, rendition, 'index.m3u8'));
    const segs = C.parseMedia(text).segments.map((s) => s.uri);
    return Buffer.concat([path.join(dir, rendition, 'init.mp4'),
        ...segs.map((s) => path.join(dir, rendition, s))].map((f) => fs.readFileSync(f)));
}

// ffmpeg reading from a pipe (see encryption.test.mjs: FFmpeg 5.1 on a
// seekable fragmented file mixes up the fragments' encryption info).
function decodes(buf, key) {
    const r = spawnSync('ffmpeg', ['-v', 'error', ...(key ? ['-decryption_key', key] : []),
        '-i', 'pipe:', '-f', 'md5', '-'], { input: buf, maxBuffer: 512 << 20 });
    return r.status === 0 && String(r.stderr).trim() === '';
}

async function encode(name, speke, extra = {}) {
    const out = path.join(work, name);
    const r = await C.transcode({ input: C.sample(SAMPLE), output: out, preset: 'web',
        env: rig.env(), args: ['--encryption', JSON.stringify({ scheme: 'cbcs', speke, drm: DRM,
            ...extra }), '--log-level', 'debug'] });
    return { out, r };
}

before(async () => {
    rig = await start();
});
after(async () => {
    await stop(rig);
});

describe('SPEKE v2 key provider', () => {
    let job, kid, requests;

    before(async () => {
        job = await encode('signed', { url: `${rig.speke}/v2/speke`, resource_id: 'film-42',
            region: 'eu-west-1' });
        assert.equal(job.r.code, 0, C.describe(job.r));
        job.dir = C.versionDir(job.out);
        kid = job.r.result.encryption.key_ids[0];
        requests = await rig.spekeRequests();
    });

    test('the request is signed for execute-api and well-formed', () => {
        assert.equal(requests.length, 1);
        const q = requests[0];
        assert.equal(q.error, undefined, q.error);
        assert.deepEqual(q.signed, { service: 'execute-api', region: 'eu-west-1' });
        assert.equal(q.path, '/v2/speke');
        assert.equal(q.resourceId, 'film-42');
        assert.equal(q.scheme, 'cbcs');
        assert.deepEqual(q.systems.sort(), ['clearkey', 'fairplay', 'playready', 'widevine']);
        assert.match(kid, /^[0-9a-f]{32}$/);
        assert.equal(q.kid, uuid(kid), 'the job result names the key ID it asked for');
        assert.deepEqual(job.r.result.encryption, { scheme: 'cbcs', key_ids: [kid] });
    });

    test('the output decrypts with the key server\'s key', () => {
        for (const rendition of ['audio', '720p']) {
            const buf = track(job.dir, rendition);
            assert.ok(decodes(buf, KEY), `${rendition} decrypts with the rig's key`);
            assert.ok(!decodes(buf), `${rendition}: no key, no decode`);
        }
    });

    test('init.mp4 and the manifests carry the key server\'s pssh boxes and key URI', () => {
        const rigBoxes = spekeBoxes(uuid(kid));
        const pro = rigBoxes.playready.subarray(32 + 16 + 4);
        for (const rendition of ['audio', '720p']) {
            const boxes = psshBoxes(path.join(job.dir, rendition, 'init.mp4'));
            assert.deepEqual(Object.keys(boxes).map((s) => s.replace(/-/g, '')).sort(),
                Object.values(SYSTEM).sort());
            const get = (s) => Object.values(boxes).find((b) => b.system_id.replace(/-/g, '') === SYSTEM[s]);
            assert.ok(get('widevine').bytes.equals(rigBoxes.widevine), 'Widevine: the rig\'s box');
            assert.ok(get('playready').bytes.equals(rigBoxes.playready), 'PlayReady: the rig\'s box');
            assert.deepEqual(get('clearkey').kid_count ? get('clearkey').kid : [kid], [kid]);
        }
        const mpd = new DOMParser().parseFromString(C.readText(path.join(job.dir, 'manifest.mpd')),
            'text/xml');
        const cps = Array.from(mpd.getElementsByTagName('ContentProtection'));
        const cp = (s) => cps.filter((c) => c.getAttribute('schemeIdUri').replace(/-/g, '') ===
            `urn:uuid:${SYSTEM[s]}`);
        assert.equal(cp('widevine').length, 2);
        for (const s of ['widevine', 'playready'])
            for (const c of cp(s))
                assert.ok(Buffer.from(c.getElementsByTagNameNS('urn:mpeg:cenc:2013', 'pssh')[0]
                    .textContent, 'base64').equals(rigBoxes[s]), `MPD: ${s}'s cenc:pssh`);
        for (const c of cp('playready'))
            assert.ok(Buffer.from(c.getElementsByTagNameNS('urn:microsoft:playready', 'pro')[0]
                .textContent, 'base64').equals(pro), 'MPD: mspr:pro is the rig\'s Object');
        for (const f of ['master.m3u8', '720p/index.m3u8', 'audio/index.m3u8']) {
            const text = C.readText(path.join(job.dir, f));
            assert.ok(text.includes(`URI="data:text/plain;base64,${rigBoxes.widevine.toString('base64')}"`),
                `${f}: the rig's Widevine box`);
            assert.ok(text.includes(`URI="data:text/plain;charset=UTF-16;base64,${pro.toString('base64')}"`),
                `${f}: the rig's PlayReady Object`);
            assert.ok(text.includes(`URI="${rigBoxes.fairplay}",KEYFORMAT="com.apple.streamingkeydelivery"`),
                `${f}: the rig's FairPlay URI`);
        }
    });

    test('the key is in no output, log or result', () => {
        const texts = [['stdout', Buffer.from(job.r.stdout)], ['stderr', Buffer.from(job.r.stderr)],
            ...filesUnder(job.out).map((f) => [f, fs.readFileSync(f)])];
        assert.ok(job.r.stderr.length > 1000, 'the debug log was captured');
        for (const [where, buf] of texts)
            for (const form of KEY_FORMS)
                assert.equal(buf.indexOf(form), -1, `${where} holds the key`);
    });

    test('without a region the request is unsigned; a given key_id is used', async () => {
        const given = 'aabbccddeeff00112233445566778899';
        const before = (await rig.spekeRequests()).length;
        const r = await C.transcode({ input: C.sample(SAMPLE), output: path.join(work, 'unsigned'),
            preset: 'web', env: rig.env(), args: ['--encryption', JSON.stringify({ scheme: 'cenc',
                key_id: given, speke: { url: `${rig.speke}/v2/speke`, resource_id: 'film-43' },
                drm: { widevine: {} } })] });
        assert.equal(r.code, 0, C.describe(r));
        const q = (await rig.spekeRequests()).slice(before);
        assert.equal(q.length, 1);
        assert.equal(q[0].signed, null);
        assert.equal(q[0].headers.authorization, undefined);
        assert.equal(q[0].kid, uuid(given));
        assert.equal(q[0].scheme, 'cenc');
        assert.deepEqual(r.result.encryption, { scheme: 'cenc', key_ids: [given] });
        assert.ok(decodes(track(C.versionDir(path.join(work, 'unsigned')), 'audio'), KEY));
    });

    for (const [name, faults, error] of [
        ['500s', [{ kind: 'status', status: 500 }, { kind: 'status', status: 500 },
            { kind: 'status', status: 500 }], /encryption\.speke: key provider .*HTTP 500/],
        ['malformed', [{ kind: 'malformed' }], /SPEKE response: not XML with a cpix:CPIX root/],
        ['nokey', [{ kind: 'nokey' }], /no cpix:ContentKey\/cpix:Data\/pskc:Secret\/pskc:PlainValue/],
        ['encrypted', [{ kind: 'encrypted' }], /pskc:EncryptedValue: encrypted content keys/],
        ['badpssh', [{ kind: 'badpssh' }], /cpix:DRMSystem (widevine|playready) cpix:PSSH: not one whole box/],
    ]) {
        test(`a fault (${name}) fails the job naming the problem, nothing published`, async () => {
            await rig.spekeFaults(faults);
            const j = await encode(`fault-${name}`, { url: `${rig.speke}/v2/speke`,
                resource_id: 'film-42', region: 'us-east-1' });
            assert.notEqual(j.r.code, 0, C.describe(j.r));
            assert.match(j.r.result.error, error);
            assert.match(j.r.stderr, error);
            assert.deepEqual(filesUnder(j.out), [], 'nothing written');
            for (const form of KEY_FORMS)
                assert.equal(Buffer.from(j.r.stderr + j.r.stdout).indexOf(form), -1);
        });
    }

    test('hostile speke fields are refused before any request', async () => {
        const before = (await rig.spekeRequests()).length;
        for (const [speke, error] of [
            [{ url: 'http://example.com/speke', resource_id: 'a' }, /encryption\.speke\.url: not a https/],
            [{ url: 'http://127.0.0.1:1@example.com/', resource_id: 'a' }, /encryption\.speke\.url/],
            [{ url: `${rig.speke}/v2`, resource_id: 'a b' }, /encryption\.speke\.resource_id/],
            [{ url: `${rig.speke}/v2`, resource_id: 'a', region: 'US EAST' }, /encryption\.speke\.region/],
            [{ url: `${rig.speke}/v2`, resource_id: 'a', extra: 1 }, /encryption\.speke: unknown field "extra"/],
        ]) {
            const j = await encode('hostile', speke);
            assert.equal(j.r.code, 3, C.describe(j.r));
            assert.match(j.r.result.error, error);
        }
        const k = await encode('hostile', { url: `${rig.speke}/v2`, resource_id: 'a' },
            { key: KEY });
        assert.match(k.r.result.error, /no key or key_file with it/);
        assert.equal((await rig.spekeRequests()).length, before);
    });
});

describe('cirrus-worker with a SPEKE key provider', () => {
    const WORKER_BIN = process.env.CIRRUS_WORKER || path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
    const spool = path.join(work, 'spool');
    const out = path.join(work, 'wout');
    let child;

    after(async () => {
        child?.kill('SIGTERM');
        await child?.exited;
    });

    function drop(name, doc) {
        const inc = path.join(spool, 'incoming');
        fs.mkdirSync(inc, { recursive: true });
        fs.writeFileSync(path.join(inc, `.tmp-${name}`), JSON.stringify(doc));
        fs.renameSync(path.join(inc, `.tmp-${name}`), path.join(inc, name));
    }

    test('a job document with speke is encrypted with the provider\'s key', async () => {
        const args = [];
        for (const [k, v] of Object.entries({ spool_dir: spool, out_root: `file://${out}`, workers: 1,
            default_preset: 'web', presets_dir: C.PRESETS_DIR, visibility_seconds: 3,
            settle_seconds: 0.3, max_attempts: 1, metrics_port: -1, log_level: 'debug' }))
            args.push('--set', `${k}=${v}`);
        child = spawn(WORKER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: rig.env() });
        child.log = '';
        child.stdout.on('data', (d) => (child.log += d));
        child.stderr.on('data', (d) => (child.log += d));
        child.exited = new Promise((ok) => child.on('exit', ok));
        const input = `file://${C.sample(SAMPLE)}`;
        const speke = { url: `${rig.speke}/v2/speke`, resource_id: 'film-44', region: 'us-east-1' };
        drop('speke.json', { input, output: `file://${path.join(out, 'speke')}`,
            encryption: { scheme: 'cbcs', speke, drm: { widevine: {}, fairplay: {} } } });
        drop('plain.json', { input, output: `file://${path.join(out, 'plain')}`,
            encryption: { scheme: 'cbcs', speke: { ...speke, url: 'http://example.com/speke' } } });
        drop('withkey.json', { input, output: `file://${path.join(out, 'withkey')}`,
            encryption: { scheme: 'cbcs', speke, key: KEY } });
        const waitFor = (what, fn) => C.waitFor(what, fn, { timeoutMs: 180000, every: 100,
            detail: () => `worker log:\n${child.log.slice(-3000)}` });
        const done = await waitFor('the speke job done', () =>
            C.readJson(path.join(out, 'speke.job.json'))?.state === 'done' &&
            C.readJson(path.join(out, 'speke.job.json')));
        const kid = done.encryption.key_ids[0];
        const q = (await rig.spekeRequests()).find((r) => r.resourceId === 'film-44');
        assert.equal(q.kid, uuid(kid));
        assert.deepEqual(q.signed, { service: 'execute-api', region: 'us-east-1' });
        const dir = C.versionDir(path.join(out, 'speke'));
        assert.ok(decodes(track(dir, 'audio'), KEY));
        const boxes = psshBoxes(path.join(dir, 'audio', 'init.mp4'));
        assert.ok(Object.values(boxes)[0].bytes.equals(spekeBoxes(uuid(kid)).widevine));
        assert.match(C.readText(path.join(dir, 'master.m3u8')), new RegExp(`URI="skd://rig/${uuid(kid)}"`));
        const errorOf = (name) => waitFor(`${name} refused`, () =>
            C.readJson(path.join(spool, 'failed', `${name}.error.json`)));
        assert.match((await errorOf('plain.json')).error.error, /encryption\.speke\.url/);
        assert.match((await errorOf('withkey.json')).error.error, /encryption\.key: a job document/);
        for (const [where, buf] of [['worker log', Buffer.from(child.log)],
            ['result', Buffer.from(JSON.stringify(done))],
            ...filesUnder(out).map((f) => [f, fs.readFileSync(f)])])
            for (const form of KEY_FORMS)
                assert.equal(buf.indexOf(form), -1, `${where} holds the key`);
    });
});
