// Common Encryption of a VOD asset (cirrus-transcode --encryption;
// transcoder/src/cenc.c, origin's key signalling): h264_720p2997 through
// the web preset, once with cenc (inline key) and once with cbcs (a key
// file).  ffprobe sees every media packet as encrypted; the ffmpeg CLI with
// -decryption_key decodes every frame (audio bit-exact with a clear encode
// of the same input, video close to the source) and fails without it; no
// 32-byte run of the decrypted bitstream is in the cenc segments; the key
// (hex, base64, raw bytes) is in no output file, log line or result, which
// names the key ID only; hostile --encryption values fail naming the field.
// cirrus-worker takes "encryption" in a spool job document with a key_file
// under its key_dir (an inline key or an unsafe name is refused, the error
// JSON naming the field; a worker without key_dir refuses the job).
// dash.js and Shaka Player play the MPD and hls.js the HLS master with EME
// ClearKey in Chromium (player.html?clearkey=KID:KEY), also with the
// signalling of every DRM system beside ClearKey's; Shaka without the key
// cannot.  DRM systems ("drm": ClearKey, Widevine, PlayReady, FairPlay):
// the pssh boxes in init.mp4 read back by mp4box.js (Widevine's data
// decoded by protobufjs, PlayReady's header parsed as XML with its checksum
// checked with node:crypto), the same bytes in the MPD (cenc:pssh,
// mspr:pro) and the playlists (a key line per KEYFORMAT).  Every playlist
// and MPD validates strictly (lib/validate.mjs, H12/H13/D7 included).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import protobuf from 'protobufjs';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { psshBoxes } from './lib/pssh.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { validator } from './lib/validate.mjs';

const SAMPLE = 'h264_720p2997.mp4';
const KID = '0123456789abcdef0123456789abcdef';
const KEY = '3c5a0e17b5d24f8e9a61c0d2e4f6a8b1';
const KID_UUID = '01234567-89ab-cdef-0123-456789abcdef';
const LA_URL = 'https://pr.example/rightsmanager.asmx?cfg=a&b=1';
const SKD = 'skd://film-42';
// cenc: ClearKey and PlayReady; cbcs: all four systems
const DRM_CENC = { clearkey: {}, playready: { la_url: LA_URL } };
const DRM_CBCS = { clearkey: {}, widevine: { provider: 'cirrus' },
    playready: { la_url: LA_URL }, fairplay: { key_uri: SKD } };
const SYSTEM = { clearkey: '1077efecc0b24d02ace33c1e52e2fb4b',
    widevine: 'edef8ba979d64acea3c827dcd51d21ed', playready: '9a04f07998404286ab92e65be0885f95' };
const WIDEVINE_PSSH = protobuf.parse('syntax = "proto2"; message WidevinePsshData {' +
    ' repeated bytes key_ids = 2; optional string provider = 3;' +
    ' optional bytes content_id = 4; optional uint32 protection_scheme = 9; }', { keepCase: true })
    .root.lookupType('WidevinePsshData');
const V = validator('encryption');

// Every form the key could leak in.
const KEY_FORMS = [KEY, KEY.toUpperCase(), Buffer.from(KEY, 'hex').toString('base64'),
    Buffer.from(KEY, 'hex').toString('base64url')].map((s) => Buffer.from(s))
    .concat([Buffer.from(KEY, 'hex')]);

function filesUnder(dir) {
    const out = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const f = path.join(dir, e.name);
        if (e.isDirectory())
            out.push(...filesUnder(f));
        else
            out.push(f);
    }
    return out;
}

// init.mp4 + every segment of a rendition, in order.
function track(dir, rendition) {
    const text = C.readText(path.join(dir, rendition, 'index.m3u8'));
    const segs = C.parseMedia(text).segments.map((s) => s.uri);
    return Buffer.concat([path.join(dir, rendition, 'init.mp4'),
        ...segs.map((s) => path.join(dir, rendition, s))].map((f) => fs.readFileSync(f)));
}

// ffmpeg reading the track from a pipe.  FFmpeg 5.1 on a seekable file
// reads the next moof ahead and then takes the sample encryption info of
// that fragment for the packets of the one before (its cenc_filter uses
// the fragment index's current entry; later FFmpeg looks it up per
// packet), so it is fed unseekable input, which it reads in order.
function ffmpegPipe(buf, args) {
    return spawnSync('ffmpeg', ['-v', 'error', ...args], { input: buf,
        maxBuffer: 512 << 20 });
}

function decodeMd5(buf, key) {
    const r = ffmpegPipe(buf, [...(key ? ['-decryption_key', key] : []), '-i', 'pipe:',
        '-f', 'md5', '-']);
    return { ok: r.status === 0 && String(r.stderr).trim() === '',
        md5: String(r.stdout).trim(), err: String(r.stderr).slice(0, 2000) };
}

// A PlayReady Object: its one record's WRMHEADER (UTF-16LE) as a DOM.
function playReadyHeader(pro) {
    assert.equal(pro.readUInt32LE(0), pro.length);
    assert.equal(pro.readUInt16LE(4), 1, 'one record');
    assert.equal(pro.readUInt16LE(6), 1, 'a rights management header');
    assert.equal(10 + pro.readUInt16LE(8), pro.length);
    const xml = pro.subarray(10).toString('utf16le');
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    assert.equal(doc.documentElement.localName, 'WRMHEADER', xml);
    assert.equal(doc.documentElement.namespaceURI,
        'http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader');
    return doc;
}

const text = (doc, name) => doc.getElementsByTagName(name)[0]?.textContent;
// the key ID as PlayReady writes it: a GUID, its first three fields
// little-endian
const guidKid = () => {
    const b = Buffer.from(KID, 'hex');
    return Buffer.concat([b.subarray(0, 4).reverse(), b.subarray(4, 6).reverse(),
        b.subarray(6, 8).reverse(), b.subarray(8)]);
};

async function encode(name, encryption, extraArgs = []) {
    const out = path.join(C.tmpDir('encryption-'), name);
    const progress = `${out}.progress.json`;
    const r = await C.transcode({ input: C.sample(SAMPLE), output: out, preset: 'web',
        args: ['--encryption', JSON.stringify(encryption), '--progress-json', progress,
            '--log-level', 'debug', ...extraArgs] });
    assert.equal(r.code, 0, C.describe(r));
    return { out, dir: C.versionDir(out), r, progress };
}

let cenc, cbcs, aes, clear, keyFile;

before(async () => {
    keyFile = path.join(C.tmpDir('encryption-key-'), 'key.json');
    fs.writeFileSync(keyFile, JSON.stringify({ key_id: KID, key: KEY }));
    cenc = await encode('cenc', { scheme: 'cenc', key_id: KID, key: KEY, drm: DRM_CENC });
    cbcs = await encode('cbcs', { scheme: 'cbcs', key_file: keyFile, drm: DRM_CBCS });
    // HLS AES-128: the key where the media playlists' relative URI points
    // (out/key.bin), as an operator would serve it
    aes = await encode('aes', { scheme: 'aes-128', key_file: keyFile, key_uri: '../../../key.bin' });
    fs.writeFileSync(path.join(aes.out, 'key.bin'), Buffer.from(KEY, 'hex'));
    clear = await C.transcodeCached(SAMPLE, 'web');
});

describe('encryption', () => {
    test('the result names the scheme and key ID, never the key', () => {
        for (const [job, scheme] of [[cenc, 'cenc'], [cbcs, 'cbcs']]) {
            assert.deepEqual(job.r.result.encryption, { scheme, key_ids: [KID] });
            assert.deepEqual(C.readJson(job.progress).encryption,
                { scheme, key_ids: [KID] });
        }
    });

    test('no output file, log or result holds the key', () => {
        for (const job of [cenc, cbcs]) {
            const texts = [['stdout', Buffer.from(job.r.stdout)],
                ['stderr (debug log)', Buffer.from(job.r.stderr)],
                ['progress.json', fs.readFileSync(job.progress)],
                ...filesUnder(job.out).map((f) => [f, fs.readFileSync(f)])];
            assert.ok(texts.length > 20, 'the outputs were found');
            assert.ok(job.r.stderr.length > 1000, 'the debug log was captured');
            for (const [where, buf] of texts)
                for (const form of KEY_FORMS)
                    assert.equal(buf.indexOf(form), -1, `${where} holds the key (${form})`);
        }
    });

    test('ffprobe sees encrypted samples in every video and audio rendition', () => {
        for (const job of [cenc, cbcs]) {
            for (const r of job.r.result.renditions) {
                const p = spawnSync('ffprobe', ['-v', 'quiet', '-show_packets',
                    '-read_intervals', '%+#5', '-of', 'json', 'pipe:'],
                { input: track(job.dir, r.id), maxBuffer: 64 << 20 });
                const packets = JSON.parse(String(p.stdout)).packets || [];
                assert.ok(packets.length >= 5, `${r.id}: packets`);
                for (const k of packets)
                    assert.ok((k.side_data_list || []).some((s) =>
                        s.side_data_type === 'Encryption info'), `${r.id}: ${JSON.stringify(k)}`);
            }
            // the clear asset: none
            const p = spawnSync('ffprobe', ['-v', 'quiet', '-show_packets',
                '-read_intervals', '%+#5', '-of', 'json', 'pipe:'],
            { input: track(C.versionDir(clear.dir), '720p') });
            assert.ok(!String(p.stdout).includes('Encryption info'));
        }
    });

    test('the ffmpeg CLI decrypts audio bit-exact with the clear encode', () => {
        const want = decodeMd5(track(C.versionDir(clear.dir), 'audio'));
        assert.ok(want.ok, want.err);
        for (const job of [cenc, cbcs]) {
            const got = decodeMd5(track(job.dir, 'audio'), KEY);
            assert.ok(got.ok, got.err);
            assert.equal(got.md5, want.md5);
            assert.ok(!decodeMd5(track(job.dir, 'audio')).ok, 'no key: no decode');
        }
    });

    test('the ffmpeg CLI decrypts every video frame, close to the source', () => {
        for (const job of [cenc, cbcs]) {
            for (const r of job.r.result.renditions.filter((x) => x.type === 'video')) {
                const buf = track(job.dir, r.id);
                const frames = ffmpegPipe(buf, ['-decryption_key', KEY, '-i', 'pipe:',
                    '-f', 'framecrc', '-']);
                assert.equal(frames.status, 0, String(frames.stderr));
                assert.equal(String(frames.stderr).trim(), '', `${r.id}: decode errors`);
                const n = String(frames.stdout).split('\n').filter((l) => /^0,/.test(l)).length;
                assert.equal(n, 180, `${r.id}: every frame`);
                if (r.id !== '720p')
                    continue;
                // x264 is not bit-exact from run to run: compare with the
                // source instead (garbage would be far below)
                const ssim = ffmpegPipe(buf, ['-decryption_key', KEY, '-i', 'pipe:',
                    '-i', C.sample(SAMPLE), '-lavfi',
                    '[0:v]setpts=PTS-STARTPTS[a];[1:v]scale=1280:720,setpts=PTS-STARTPTS[b];' +
                    '[a][b]ssim=stats_file=-', '-f', 'null', '-']);
                const values = String(ssim.stdout).split('\n').filter(Boolean)
                    .map((l) => Number(/All:([\d.]+)/.exec(l)?.[1]));
                assert.equal(values.length, 180, String(ssim.stderr));
                assert.ok(Math.min(...values) > 0.9, `${job.r.result.encryption.scheme}: ` +
                    `lowest SSIM ${Math.min(...values)}`);
                // without the key the frames do not decode
                const bad = ffmpegPipe(buf, ['-i', 'pipe:', '-f', 'null', '-']);
                assert.ok(bad.status !== 0 || String(bad.stderr).trim() !== '',
                    'no key: decode errors');
            }
        }
    });

    test('cenc: no run of the decrypted bitstream is in the segments', () => {
        for (const r of ['720p', 'audio']) {
            const enc = track(cenc.dir, r);
            const es = ffmpegPipe(enc, ['-decryption_key', KEY, '-i', 'pipe:', '-c', 'copy',
                '-f', r === 'audio' ? 'adts' : 'h264', '-']).stdout;
            assert.ok(es.length > 50000, `${r}: ${es.length} bytes decrypted`);
            let probes = 0;
            for (let i = 0; i < 40; i++) {
                const at = Math.floor(es.length * (i + 0.5) / 40);
                const run = es.subarray(at, at + 32);
                if (run.includes(Buffer.from([0, 0, 1])) || run.includes(Buffer.from([0xff, 0xf1])))
                    continue; // a start code or ADTS header: not sample data
                probes++;
                assert.equal(enc.indexOf(run), -1, `${r}: clear bytes at ${at} are in the segments`);
            }
            assert.ok(probes >= 20, `${r}: ${probes} probes`);
        }
    });

    // the I-frame byte ranges follow the moofs that grew: each starts at a
    // moof and ends where that fragment's first sample does
    test('I-frame playlist byte ranges point at the encrypted fragments', () => {
        for (const job of [cenc, cbcs]) {
            const text = C.readText(path.join(job.dir, '720p', 'iframes.m3u8'));
            const ranges = [...text.matchAll(/#EXT-X-BYTERANGE:(\d+)@(\d+)\n(\S+)/g)];
            assert.ok(ranges.length >= 3, text);
            for (const [, size, offset, uri] of ranges) {
                const seg = fs.readFileSync(path.join(job.dir, '720p', uri));
                const at = Number(offset), n = Number(size);
                assert.equal(seg.toString('latin1', at + 4, at + 8), 'moof', `${uri}@${at}`);
                const moof = seg.readUInt32BE(at);
                assert.equal(seg.toString('latin1', at + moof + 4, at + moof + 8), 'mdat');
                // trun: data offset, then the first sample's size
                const trun = seg.indexOf('trun', at) - 4;
                assert.ok(trun > at && trun < at + moof);
                const flags = seg.readUInt32BE(trun + 8) & 0xffffff;
                assert.equal(flags & 0x201, 0x201, 'data offset and sizes');
                const dataOffset = seg.readInt32BE(trun + 16);
                const first = trun + 20 + (flags & 4 ? 4 : 0) + (flags & 0x100 ? 4 : 0);
                assert.equal(n, dataOffset + seg.readUInt32BE(first), `${uri}@${at}`);
                assert.ok(at + n <= seg.length);
            }
        }
    });

    test('manifests signal the key ID and scheme, and validate strictly', () => {
        const mpd = C.readText(path.join(cenc.dir, 'manifest.mpd'));
        assert.equal([...mpd.matchAll(new RegExp(`value="cenc" cenc:default_KID="${KID_UUID}"`, 'g'))]
            .length, 2, mpd);
        assert.match(mpd, /urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e/);
        assert.match(C.readText(path.join(cbcs.dir, 'manifest.mpd')), /value="cbcs"/);
        const kidB64 = Buffer.from(KID, 'hex').toString('base64');
        const key = (m) => `${m},URI="data:text/plain;base64,${kidB64}",` +
            'KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"';
        assert.ok(C.readText(path.join(cenc.dir, 'master.m3u8'))
            .includes(`#EXT-X-SESSION-KEY:METHOD=${key('SAMPLE-AES-CTR')}`));
        for (const r of ['720p', 'audio']) {
            const pl = C.readText(path.join(cenc.dir, r, 'index.m3u8'));
            assert.ok(pl.includes(`#EXT-X-KEY:METHOD=${key('SAMPLE-AES-CTR')}\n`));
            // the key lines come right before EXT-X-MAP
            assert.match(pl, /^#EXT-X-KEY:[^\n]*\n#EXT-X-MAP/m);
        }
        assert.ok(C.readText(path.join(cbcs.dir, '720p', 'iframes.m3u8'))
            .includes(`#EXT-X-KEY:METHOD=${key('SAMPLE-AES')}`));
        // subtitles and thumbnails stay clear: no key in their playlists
        assert.ok(!C.readText(path.join(cenc.dir, 'thumbs', 'images.m3u8')).includes('KEY'));
        for (const job of [cenc, cbcs, { out: clear.dir }])
            assert.ok(V.checkDir(job.out) >= 10);
        return V.assertClean();
    });

    test('DRM systems: pssh boxes in init.mp4, the same bytes in the MPD and the playlists', () => {
        for (const [job, drm, scheme] of [[cenc, DRM_CENC, 'cenc'], [cbcs, DRM_CBCS, 'cbcs']]) {
            const systems = Object.keys(drm).filter((k) => k !== 'fairplay');
            const boxes = {};
            for (const r of ['720p', 'audio']) {
                const found = psshBoxes(path.join(job.dir, r, 'init.mp4'));
                assert.deepEqual(found.map((b) => b.system_id), systems.map((s) => SYSTEM[s]),
                    `${scheme} ${r}: the pssh boxes`);
                for (const b of found)
                    boxes[b.system_id] = b;
            }
            const ck = boxes[SYSTEM.clearkey];
            assert.equal(ck.version, 1);
            assert.deepEqual(ck.kid, [KID]);
            assert.equal(ck.data.length, 0);
            const pr = boxes[SYSTEM.playready];
            assert.equal(pr.version, 1);
            assert.deepEqual(pr.kid, [KID]);
            const header = playReadyHeader(pr.data);
            assert.equal(text(header, 'LA_URL'), LA_URL);
            if (scheme === 'cenc') {
                assert.equal(header.documentElement.getAttribute('version'), '4.0.0.0');
                assert.equal(text(header, 'ALGID'), 'AESCTR');
                assert.equal(text(header, 'KID'), guidKid().toString('base64'));
                // the checksum: the GUID-ordered key ID encrypted with the key
                const c = crypto.createCipheriv('aes-128-ecb', Buffer.from(KEY, 'hex'), null);
                c.setAutoPadding(false);
                assert.equal(text(header, 'CHECKSUM'),
                    c.update(guidKid()).subarray(0, 8).toString('base64'));
            } else {
                assert.equal(header.documentElement.getAttribute('version'), '4.3.0.0');
                const kid = header.getElementsByTagName('KID')[0];
                assert.equal(kid.getAttribute('ALGID'), 'AESCBC');
                assert.equal(kid.getAttribute('VALUE'), guidKid().toString('base64'));
                const wv = boxes[SYSTEM.widevine];
                assert.equal(wv.version, 0);
                const data = WIDEVINE_PSSH.decode(wv.data);
                assert.deepEqual(data.key_ids.map((k) => Buffer.from(k).toString('hex')), [KID]);
                assert.equal(data.provider, 'cirrus');
                assert.equal(data.protection_scheme, Buffer.from('cbcs').readUInt32BE(0));
            }
            // the MPD: a ContentProtection per system with the same pssh
            const mpd = new DOMParser().parseFromString(
                C.readText(path.join(job.dir, 'manifest.mpd')), 'text/xml');
            const sets = Array.from(mpd.getElementsByTagName('AdaptationSet'))
                .filter((a) => ['video', 'audio'].includes(a.getAttribute('contentType')));
            assert.equal(sets.length, 2);
            for (const set of sets) {
                const cps = Array.from(set.getElementsByTagName('ContentProtection'));
                for (const s of ['widevine', 'playready']) {
                    const cp = cps.find((c) => c.getAttribute('schemeIdUri').replace(/-/g, '') ===
                        `urn:uuid:${SYSTEM[s]}`);
                    if (!drm[s]) {
                        assert.equal(cp, undefined, `${scheme}: no ${s}`);
                        continue;
                    }
                    assert.ok(cp, `${scheme}: ${s}'s ContentProtection`);
                    const pssh = cp.getElementsByTagNameNS('urn:mpeg:cenc:2013', 'pssh')[0];
                    assert.ok(Buffer.from(pssh.textContent, 'base64').equals(boxes[SYSTEM[s]].bytes),
                        `${scheme}: ${s}'s cenc:pssh is init.mp4's box`);
                    if (s === 'playready')
                        assert.ok(Buffer.from(cp.getElementsByTagNameNS('urn:microsoft:playready',
                            'pro')[0].textContent, 'base64').equals(pr.data), 'mspr:pro');
                }
            }
            // the playlists: one key line per KEYFORMAT, in every media
            // playlist and as session keys in the master
            const method = scheme === 'cenc' ? 'SAMPLE-AES-CTR' : 'SAMPLE-AES';
            const keys = (file, tag) => [...C.readText(file).matchAll(
                new RegExp(`^#EXT-X-${tag}:(.*)$`, 'gm'))].map((m) => Object.fromEntries(
                [...m[1].matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)].map(([, k, v]) => [k, v.replace(/^"|"$/g, '')])));
            const dataOf = (uri) => Buffer.from(uri.replace(/^data:[^,]*base64,/, ''), 'base64');
            for (const [file, tag] of [[path.join(job.dir, 'master.m3u8'), 'SESSION-KEY'],
                [path.join(job.dir, '720p', 'index.m3u8'), 'KEY'],
                [path.join(job.dir, 'audio', 'index.m3u8'), 'KEY']]) {
                const byFormat = Object.fromEntries(keys(file, tag).map((k) => [k.KEYFORMAT, k]));
                const want = { clearkey: 'org.w3.clearkey',
                    widevine: 'urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed',
                    playready: 'com.microsoft.playready', fairplay: 'com.apple.streamingkeydelivery' };
                assert.deepEqual(Object.keys(byFormat).sort(),
                    Object.keys(drm).map((s) => want[s]).sort(), `${file}: KEYFORMATs`);
                for (const k of Object.values(byFormat))
                    assert.equal(k.METHOD, method, `${file}: ${k.KEYFORMAT}`);
                if (drm.widevine)
                    assert.ok(dataOf(byFormat[want.widevine].URI).equals(boxes[SYSTEM.widevine].bytes));
                assert.match(byFormat[want.playready].URI, /^data:text\/plain;charset=UTF-16;base64,/);
                assert.ok(dataOf(byFormat[want.playready].URI).equals(pr.data));
                if (drm.fairplay)
                    assert.equal(byFormat[want.fairplay].URI, SKD);
            }
        }
    });

    test('aes-128: segment files encrypted whole, HLS only, ffmpeg decodes every frame with the key', () => {
        assert.deepEqual(aes.r.result.encryption, { scheme: 'aes-128', key_ids: [KID] });
        assert.ok(!fs.existsSync(path.join(aes.dir, 'manifest.mpd')), 'no MPD');
        assert.ok(!fs.existsSync(path.join(aes.out, 'manifest.mpd')), 'no top-level MPD');
        assert.match(aes.r.stderr, /aes-128 encryption: HLS only/);
        const master = C.readText(path.join(aes.dir, 'master.m3u8'));
        assert.doesNotMatch(master, /SESSION-KEY|I-FRAME/);
        for (const r of ['720p', 'audio']) {
            const pl = C.readText(path.join(aes.dir, r, 'index.m3u8'));
            // the key after the map: init.mp4 stays clear
            assert.match(pl, /^#EXT-X-MAP:URI="init\.mp4"\n#EXT-X-KEY:METHOD=AES-128,URI="\.\.\/\.\.\/\.\.\/key\.bin"$/m);
            assert.ok(!fs.existsSync(path.join(aes.dir, r, 'iframes.m3u8')));
            assert.equal(fs.readFileSync(path.join(aes.dir, r, 'init.mp4')).toString('latin1', 4, 8), 'ftyp');
            const segs = C.parseMedia(pl).segments;
            segs.forEach((seg, i) => {
                const file = fs.readFileSync(path.join(aes.dir, r, seg.uri));
                assert.equal(file.length % 16, 0, `${r}/${seg.uri}: whole AES blocks`);
                assert.notEqual(file.toString('latin1', 4, 8), 'styp', `${r}/${seg.uri} is encrypted`);
                // AES-128 CBC, PKCS#7, the IV the media sequence number
                const iv = Buffer.alloc(16);
                iv.writeUInt32BE(i + 1, 12);
                const d = crypto.createDecipheriv('aes-128-cbc', Buffer.from(KEY, 'hex'), iv);
                const clearSeg = Buffer.concat([d.update(file), d.final()]);
                assert.equal(clearSeg.toString('latin1', 4, 8), 'styp', `${r}/${seg.uri} decrypts`);
            });
        }
        // the ffmpeg CLI reads the playlist, fetches the key, decrypts
        const frames = (dir) => {
            const r = spawnSync('ffmpeg', ['-v', 'error', '-allowed_extensions', 'ALL',
                '-i', path.join(dir, '720p', 'index.m3u8'), '-f', 'framemd5', '-'],
            { maxBuffer: 64 << 20 });
            assert.equal(r.status, 0, String(r.stderr));
            return String(r.stdout).split('\n').filter((l) => /^0,/.test(l)).length;
        };
        assert.equal(frames(aes.dir), frames(C.versionDir(clear.dir)));
        assert.ok(V.checkDir(aes.out) >= 5);
        // the key is only in the file the operator put there
        for (const f of filesUnder(aes.out).filter((f) => !f.endsWith('key.bin')))
            for (const form of KEY_FORMS)
                assert.equal(fs.readFileSync(f).indexOf(form), -1, `${f} holds the key`);
        return V.assertClean();
    });

    test('hostile encryption options fail naming the field, leaking no key', async () => {
        const bad = [
            [{ scheme: 'cenc', key_id: KID.slice(2), key: KEY }, 'encryption.key_id: 30 characters'],
            [{ scheme: 'cenc', key_id: KID, key: `${KEY.slice(1)}z` }, 'encryption.key: not hex'],
            [{ scheme: 'aes', key_id: KID, key: KEY }, 'encryption.scheme'],
            [{ scheme: 'cenc', key_id: KID }, 'needs both key_id and key'],
            [{ scheme: 'cenc', key_file: '/nonexistent/key.json' }, 'encryption.key_file'],
            [{ scheme: 'cenc', key_file: C.sample(SAMPLE) }, 'encryption.key_file'],
            [{ scheme: 'cenc', key_id: KID, key: KEY, iv: '00' }, 'unknown field "iv"'],
            [{ scheme: 'cenc', key_id: KID, key: KEY, drm: { fairplay: { key_uri: SKD } } },
                'encryption.drm.fairplay: needs the cbcs scheme'],
            [{ scheme: 'cenc', key_id: KID, key: KEY, drm: { marlin: {} } },
                'encryption.drm: unknown system "marlin"'],
            [{ scheme: 'aes-128', key_id: KID, key: KEY }, 'encryption.key_uri: missing'],
            [{ scheme: 'aes-128', key_id: KID, key: KEY, key_uri: 'k"ey' }, 'encryption.key_uri'],
            [{ scheme: 'cenc', key_id: KID, key: KEY, key_uri: 'https://k/' },
                'encryption.key_uri: only with the aes-128 scheme'],
            [{ scheme: 'aes-128', key_id: KID, key: KEY, key_uri: 'https://k/', drm: { clearkey: {} } },
                'encryption.drm: not with aes-128'],
            [{ scheme: 'cenc', key_id: KID, key: KEY,
                drm: { playready: { la_url: 'https://x/"><script>' } } },
            'encryption.drm.playready.la_url'],
        ];
        for (const [enc, msg] of bad) {
            const out = path.join(C.tmpDir('encryption-bad-'), 'out');
            const r = await C.transcode({ input: C.sample(SAMPLE), output: out, preset: 'web',
                args: ['--encryption', JSON.stringify(enc)] });
            assert.equal(r.code, 3, C.describe(r));
            assert.ok(r.result.error.includes(msg), `${r.result.error} names ${msg}`);
            assert.ok(r.stderr.includes(msg), r.stderr);
            assert.ok(!fs.existsSync(out), 'nothing written');
            for (const form of KEY_FORMS.slice(0, 2))
                assert.ok(!`${r.stdout}${r.stderr}`.includes(String(form)), 'the key leaked');
        }
    });

    const missing = B.browserAvailable();
    describe('in Chromium with EME ClearKey', { skip: missing || false }, () => {
        let srv, browser;
        before(async () => {
            srv = await startStaticServer({ mounts: { ...B.playerMounts(cenc.out),
                '/cbcs/': cbcs.out, '/aes/': aes.out } });
            browser = await B.launch();
        });
        after(async () => {
            await browser?.close();
            await srv?.close();
        });

        async function play(engine, src, clearkey = `${KID}:${KEY}`) {
            return B.play(browser, `${srv.url}/player.html?engine=${engine}&src=${src}` +
                (clearkey ? `&clearkey=${clearkey}` : ''),
            { minTime: 3, timeoutMs: 45000, onPage: (page) => V.watchPage(page) });
        }

        function assertPlayed(s) {
            const why = JSON.stringify({ errors: s.errors, fatal: s.fatal,
                console: s.console.slice(-15) });
            assert.equal(s.fatal, null, why);
            assert.ok(s.videoWidth > 0 && s.videoHeight > 0, `frames decoded: ${why}`);
            assert.ok(s.currentTime > 3, `played past 3 s (${s.currentTime}): ${why}`);
            assert.deepEqual(browser.offLoopback, [], 'nothing left 127.0.0.1');
        }

        for (const [engine, src] of [['shaka', '/out/manifest.mpd'], ['dash', '/out/manifest.mpd'],
            ['hls', '/out/master.m3u8'], ['shaka', '/cbcs/manifest.mpd'], ['dash', '/cbcs/manifest.mpd'],
            ['hls', '/cbcs/master.m3u8']]) {
            test(`${engine} plays ${src} (${src.startsWith('/cbcs') ? 'cbcs' : 'cenc'})`, async () => {
                assertPlayed(await play(engine, src));
                await V.assertClean();
            });
        }

        test('hls plays /aes/master.m3u8 (aes-128, the key fetched from its URI)', async () => {
            assertPlayed(await play('hls', '/aes/master.m3u8', null));
            await V.assertClean();
        });

        test('Shaka without the key does not play', async () => {
            const s = await play('shaka', '/out/manifest.mpd', null);
            assert.ok(s.fatal !== null || s.currentTime < 0.5,
                JSON.stringify({ fatal: s.fatal, t: s.currentTime }));
            assert.ok(!(s.currentTime > 3), 'played without the key');
        });
    });
});

describe('cirrus-worker job documents', () => {
    const WORKER_BIN = process.env.CIRRUS_WORKER ||
        path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
    const work = C.tmpDir('encryption-worker-');
    const spool = path.join(work, 'spool');
    const out = path.join(work, 'out');
    const keyDir = path.join(work, 'keys');
    let child;

    function startWorker(sets) {
        const args = [];
        for (const [k, v] of Object.entries({ spool_dir: spool, out_root: `file://${out}`,
            workers: 1, default_preset: 'web', presets_dir: C.PRESETS_DIR,
            visibility_seconds: 3, settle_seconds: 0.3, max_attempts: 1,
            metrics_port: -1, log_level: 'debug', ...sets }))
            args.push('--set', `${k}=${v}`);
        const c = spawn(WORKER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        c.log = '';
        c.stdout.on('data', (d) => (c.log += d));
        c.stderr.on('data', (d) => (c.log += d));
        c.exited = new Promise((ok) => c.on('exit', ok));
        return c;
    }

    function drop(name, doc) {
        const inc = path.join(spool, 'incoming');
        fs.mkdirSync(inc, { recursive: true });
        fs.writeFileSync(path.join(inc, `.tmp-${name}`), JSON.stringify(doc));
        fs.renameSync(path.join(inc, `.tmp-${name}`), path.join(inc, name));
    }

    const input = () => `file://${C.sample(SAMPLE)}`;
    const waitFor = (what, fn) => C.waitFor(what, fn, { timeoutMs: 120000, every: 100,
        detail: () => `worker log:\n${child?.log.slice(-3000)}` });

    after(async () => {
        child?.kill('SIGTERM');
        await child?.exited;
    });

    test('a key_file under key_dir encrypts; inline keys and unsafe names are refused', async () => {
        fs.mkdirSync(path.join(keyDir, 'films'), { recursive: true });
        fs.writeFileSync(path.join(keyDir, 'films', 'a.json'),
            JSON.stringify({ key_id: KID, key: KEY }));
        child = startWorker({ key_dir: keyDir });
        drop('enc.json', { input: input(), output: `file://${path.join(out, 'enc')}`,
            encryption: { scheme: 'cenc', key_file: 'films/a.json',
                drm: { widevine: { provider: 'cirrus' } } } });
        drop('fairplay.json', { input: input(), output: `file://${path.join(out, 'fairplay')}`,
            encryption: { scheme: 'cenc', key_file: 'films/a.json',
                drm: { fairplay: { key_uri: SKD } } } });
        drop('aes-nouri.json', { input: input(), output: `file://${path.join(out, 'aes-nouri')}`,
            encryption: { scheme: 'aes-128', key_file: 'films/a.json' } });
        drop('inline.json', { input: input(), output: `file://${path.join(out, 'inline')}`,
            encryption: { scheme: 'cenc', key_id: KID, key: KEY } });
        drop('escape.json', { input: input(), output: `file://${path.join(out, 'escape')}`,
            encryption: { scheme: 'cenc', key_file: '../keys/films/a.json' } });
        drop('missing.json', { input: input(), output: `file://${path.join(out, 'missing')}`,
            encryption: { scheme: 'cbcs', key_file: 'films/none.json' } });
        const done = await waitFor('the encrypted job done', () =>
            C.readJson(path.join(out, 'enc.job.json'))?.state === 'done' &&
            C.readJson(path.join(out, 'enc.job.json')));
        assert.deepEqual(done.encryption, { scheme: 'cenc', key_ids: [KID] });
        const errorOf = (name) => waitFor(`${name} refused`, () =>
            C.readJson(path.join(spool, 'failed', `${name}.error.json`)));
        const inline = await errorOf('inline.json');
        assert.match(inline.error.error, /encryption\.key(_id)?: a job document names a key_file/);
        assert.match((await errorOf('escape.json')).error.error, /encryption\.key_file/);
        assert.match((await errorOf('fairplay.json')).error.error,
            /encryption\.drm\.fairplay: needs the cbcs scheme/);
        assert.match((await errorOf('aes-nouri.json')).error.error, /encryption\.key_uri: missing/);
        const missing = await errorOf('missing.json');
        assert.match(missing.error.error, /encryption\.key_file: .*films\/none\.json/);
        assert.equal(missing.permanent, true);
        // the asset is encrypted with the file's key
        const dir = C.versionDir(path.join(out, 'enc'));
        const audio = track(dir, 'audio');
        assert.ok(decodeMd5(audio, KEY).ok);
        assert.ok(!decodeMd5(audio).ok, 'no key: no decode');
        assert.match(C.readText(path.join(dir, 'master.m3u8')), /EXT-X-SESSION-KEY:METHOD=SAMPLE-AES-CTR/);
        // the job's drm went through the worker: Widevine alone
        assert.deepEqual(psshBoxes(path.join(dir, 'audio', 'init.mp4')).map((b) => b.system_id),
            [SYSTEM.widevine]);
        // no log, result, error JSON or output holds the key (the inline
        // job's own document, parked as it came, is the operator's file)
        const texts = [['worker log', Buffer.from(child.log)], ['result', Buffer.from(JSON.stringify(done))],
            ...filesUnder(out).map((f) => [f, fs.readFileSync(f)]),
            ...filesUnder(path.join(spool, 'failed')).filter((f) => f.endsWith('.error.json'))
                .map((f) => [f, fs.readFileSync(f)])];
        assert.ok(child.log.length > 1000, 'the debug log was captured');
        for (const [where, buf] of texts)
            for (const form of KEY_FORMS)
                assert.equal(buf.indexOf(form), -1, `${where} holds the key`);
    });

    test('a worker without key_dir refuses encrypted jobs', async () => {
        child.kill('SIGTERM');
        await child.exited;
        child = startWorker({});
        drop('nokeydir.json', { input: input(), output: `file://${path.join(out, 'nokeydir')}`,
            encryption: { scheme: 'cenc', key_file: 'films/a.json' } });
        const e = await waitFor('refused', () =>
            C.readJson(path.join(spool, 'failed', 'nokeydir.json.error.json')));
        assert.match(e.error.error, /no key_dir/);
        assert.ok(!fs.existsSync(path.join(out, 'nokeydir', 'master.m3u8')));
    });
});
