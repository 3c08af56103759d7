// Slice headers stay clear under Common Encryption (issue 14;
// transcoder/src/cenc.c with the slice header parser nal_slice.c):
// ISO/IEC 23001-7 wants the protected range of a cbcs video NAL unit to
// start after the slice header (and recommends it for cenc), as Apple's
// sample encryption and hardware decoders need.  An H.264 and an H.265
// rung (an inline one-rung preset), each with cenc and cbcs: FFmpeg's
// trace_headers reads every slice header of the encrypted track without
// the key and finds exactly the headers of the track decrypted with
// -decryption_key; the decrypted track decodes every frame without an
// error, and without the key it does not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';

const KID = '0123456789abcdef0123456789abcdef';
const KEY = '3c5a0e17b5d24f8e9a61c0d2e4f6a8b1';
const SOURCES = { h264: 'h264_720p2997.mp4', hevc: 'hevc_1080p.mp4' };

const preset = (codec) => ({
    name: `slices-${codec}`,
    description: 'one rung, for the slice header test',
    video: { enabled: true, codec, encoder_preset: 'veryfast', gop_seconds: 2,
        max_frame_rate: 30,
        rungs: [{ name: '360p', height: 360, bitrate_kbps: 600, profile: 'main' }] },
    audio: { enabled: false },
    segment_seconds: 4,
    thumbnails: { enabled: false },
    images: { enabled: false },
});

// init.mp4 + every segment of a rendition, in order.
function track(dir, rendition) {
    const text = C.readText(path.join(dir, rendition, 'index.m3u8'));
    const segs = C.parseMedia(text).segments.map((s) => s.uri);
    return Buffer.concat([path.join(dir, rendition, 'init.mp4'),
        ...segs.map((s) => path.join(dir, rendition, s))].map((f) => fs.readFileSync(f)));
}

// ffmpeg reading the track from a pipe (FFmpeg 5.1 applies a read-ahead
// fragment's encryption info to the one before on seekable input: see
// encryption.test.mjs).
function ffmpeg(buf, args) {
    return spawnSync('ffmpeg', ['-hide_banner', '-nostats', ...args],
        { input: buf, maxBuffer: 512 << 20 });
}

// Every field line of every slice header trace_headers prints (position,
// name, bits, value), in order.
function sliceHeaders(buf, key) {
    const r = ffmpeg(buf, [...(key ? ['-decryption_key', key] : []), '-i', 'pipe:',
        '-map', '0:v:0', '-c', 'copy', '-bsf:v', 'trace_headers', '-f', 'null', '-']);
    assert.equal(r.status, 0, String(r.stderr).slice(-2000));
    const out = [];
    let inSlice = false;
    for (const line of String(r.stderr).split('\n')) {
        const m = /^\[trace_headers @ [^\]]+\] (.*)$/.exec(line);
        if (!m)
            continue;
        if (/^Slice (Segment )?Header/.test(m[1])) {
            inSlice = true;
            out.push('--');
        } else if (inSlice && /^\d+\s+\S+\s+[01]+ = /.test(m[1])) {
            out.push(m[1].replace(/\s+/g, ' '));
        } else {
            inSlice = false;
        }
    }
    return out;
}

const jobs = {};

before(async () => {
    for (const codec of ['h264', 'hevc']) {
        for (const scheme of ['cenc', 'cbcs']) {
            const out = path.join(C.tmpDir('encryption-slices-'), `${codec}-${scheme}`);
            const r = await C.transcode({ input: C.sample(SOURCES[codec]), output: out,
                args: ['--only', 'hls', '--preset-json', JSON.stringify(preset(codec)),
                    '--encryption', JSON.stringify({ scheme, key_id: KID, key: KEY })] });
            assert.equal(r.code, 0, C.describe(r));
            const video = r.result.renditions.find((x) => x.type === 'video');
            jobs[`${codec} ${scheme}`] = track(C.versionDir(out), video.id);
        }
    }
});

describe('encryption: clear slice headers', () => {
    for (const codec of ['h264', 'hevc']) {
        for (const scheme of ['cenc', 'cbcs']) {
            test(`${codec} ${scheme}: the encrypted track's slice headers read as the decrypted ones`, () => {
                const buf = jobs[`${codec} ${scheme}`];
                const clear = sliceHeaders(buf, KEY);
                const slices = clear.filter((l) => l === '--').length;
                assert.ok(slices >= 100, `${slices} slices`);
                assert.deepEqual(sliceHeaders(buf), clear);
            });

            test(`${codec} ${scheme}: decrypted, every frame decodes; without the key, not`, () => {
                const buf = jobs[`${codec} ${scheme}`];
                const frames = ffmpeg(buf, ['-v', 'error', '-decryption_key', KEY,
                    '-i', 'pipe:', '-f', 'framecrc', '-']);
                assert.equal(frames.status, 0, String(frames.stderr));
                assert.equal(String(frames.stderr).trim(), '', 'decode errors');
                const n = String(frames.stdout).split('\n').filter((l) => /^0,/.test(l)).length;
                const packets = ffmpeg(buf, ['-v', 'error', '-i', 'pipe:', '-map', '0:v:0',
                    '-c', 'copy', '-f', 'framecrc', '-']);
                assert.equal(n, String(packets.stdout).split('\n')
                    .filter((l) => /^0,/.test(l)).length, 'every frame');
                assert.ok(n >= 100, `${n} frames`);
                const bad = ffmpeg(buf, ['-v', 'error', '-i', 'pipe:', '-f', 'null', '-']);
                assert.ok(bad.status !== 0 || String(bad.stderr).trim() !== '',
                    'no key: decode errors');
            });
        }
    }
});
