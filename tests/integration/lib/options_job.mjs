// One job with every job option at once (an inline preset, rung overrides,
// a clip, an overlay), and the checks of its output with ffprobe/ffmpeg:
// what job_options.test.mjs (the worker and cirrus-transcode) and
// aws_batch.test.mjs (cirrus-transcode as the Batch job definition runs it)
// hold to the same result.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as C from './cirrus.mjs';

// video_only.mp4: 1280x720, 30 fps, 6 s
export const INPUT = 'video_only.mp4';

// Two rungs; the overrides drop "small" and bring "medium" to 300 kbps.
export const PRESET = { name: 'two', video: { rungs: [
    { name: 'small', height: 180, bitrate_kbps: 200 },
    { name: 'medium', height: 360, bitrate_kbps: 900 }] },
thumbnails: { enabled: false } };
export const RUNGS = { small: null, medium: { bitrate_kbps: 300 } };
export const CLIP = { start: 1, end: '00:00:04.000' };
export const CLIP_SECONDS = 3;

// A 64x32 green PNG, top-right, 0.2 of the 360p rung's height (72 px, 144
// wide), 18 px from the top and the right.
export function overlay(dir) {
    const png = path.join(dir, 'mark.png');
    const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
        'color=c=0x00ff00:s=64x32', '-frames:v', '1', '-pix_fmt', 'rgba', png]);
    assert.equal(r.status, 0, String(r.stderr));
    return { image: png, position: 'top-right', margin: 0.05, height: 0.2 };
}
const INSIDE = [640 - 18 - 72, 18 + 36], OUTSIDE = [640 - 18 - 144 - 40, 18 + 36];

// A rendition's init + segments as one file.
function joined(asset, id, dir) {
    const rdir = path.join(C.versionDir(asset), id);
    const segs = fs.readdirSync(rdir).filter((f) => /^seg-\d+\.m4s$/.test(f))
        .sort((a, b) => parseInt(a.slice(4), 10) - parseInt(b.slice(4), 10));
    const file = path.join(dir, `${path.basename(asset)}-${id}.mp4`);
    fs.writeFileSync(file, Buffer.concat([path.join(rdir, 'init.mp4'),
        ...segs.map((s) => path.join(rdir, s))].map((f) => fs.readFileSync(f))));
    return file;
}

// One pixel's RGB of frame `at`.
function pixel(file, at, [x, y]) {
    const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-vf',
        `select=gte(n\\,${at}),format=rgb24,crop=1:1:${x}:${y}`, '-fps_mode',
        'passthrough', '-frames:v', '1', '-f', 'rawvideo', '-'], { maxBuffer: 1 << 20 });
    assert.equal(r.status, 0, String(r.stderr));
    return [...r.stdout.subarray(0, 3)];
}

// The asset at `asset` (an HLS job of the options above): only the medium
// rung, at its overridden bitrate, the clip's duration, the mark burned in.
export function checkOutput(asset, dir) {
    const master = C.parseMaster(fs.readFileSync(path.join(asset, 'master.m3u8'), 'utf8')
        .replace(/v\/[^/]+\//g, ''));
    assert.deepEqual(master.variants.map((v) => [v.uri, v.attrs.RESOLUTION]),
        [['medium/index.m3u8', '640x360']]);
    assert.ok(!fs.existsSync(path.join(C.versionDir(asset), 'small')), 'small dropped');
    const bw = Number(master.variants[0].attrs.BANDWIDTH);
    assert.ok(bw < 600000, `BANDWIDTH ${bw} for 300 kbps (the preset's 900)`);
    const file = joined(asset, 'medium', dir);
    const v = C.videoStream(C.ffprobe(file));
    assert.ok(Math.abs(Number(v.duration) - CLIP_SECONDS) <= 1 / 30 + 1e-6,
        `duration ${v.duration}`);
    for (const at of [0, 60]) {
        const p = pixel(file, at, INSIDE);
        assert.ok(p[1] > 200 && p[0] < 50 && p[2] < 50, `green at ${INSIDE}: ${p}`);
        const o = pixel(file, at, OUTSIDE);
        assert.ok(!(o[1] > 200 && o[0] < 50 && o[2] < 50), `not green at ${OUTSIDE}: ${o}`);
    }
    return { bandwidth: bw, duration: Number(v.duration) };
}
