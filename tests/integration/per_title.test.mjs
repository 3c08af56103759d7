// Per-title ladders (a preset's video.per_title): the same three-rung ladder
// fixed and per-title on an easy clip (a static slide with a little text
// typed in) and a hard one (noise), both 854x480 and 4 s, made here with
// ffmpeg.  The easy clip costs far fewer bits per-title, the hard one no
// more; the result JSON says what the probe measured and why each rung was
// kept, capped or dropped; every output decodes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const SECONDS = 4;
const RUNGS = [
    { name: '480p', height: 480, bitrate_kbps: 1400, profile: 'high' },
    { name: '360p', height: 360, bitrate_kbps: 730, profile: 'main' },
    { name: '240p', height: 240, bitrate_kbps: 300, profile: 'main' },
];
const SIZES = { '480p': [854, 480], '360p': [640, 360], '240p': [428, 240] };
const CLIPS = {
    easy: `color=c=0x1e2a38:s=854x480:r=30,drawtext=fontfile=${FONT}:` +
        "fontsize=32:fontcolor=white:x=60:y=60:text='Quarterly review',"
        + `drawtext=fontfile=${FONT}:fontsize=24:fontcolor=yellow:x=60:` +
        "y=300:text='$ make %{eif\\:trunc(t*4)\\:d}'",
    hard: 'color=c=gray:s=854x480:r=30,noise=alls=60:allf=t+u',
};

function preset(perTitle) {
    const video = { encoder_preset: 'veryfast', rungs: RUNGS };
    if (perTitle)
        video.per_title = { enabled: true };
    return { name: perTitle ? 'per-title' : 'fixed', video,
        audio: { enabled: false }, thumbnails: { enabled: false },
        images: { enabled: false } };
}

const work = C.tmpDir('per-title-');
const runs = {};

// The media bytes of a rung (its segments) and the rung's files joined.
function rungMedia(dir, name) {
    const rd = path.join(dir, name);
    const pl = C.parseMedia(C.readText(path.join(rd, 'index.m3u8')));
    const segs = pl.segments.map((s) => fs.readFileSync(path.join(rd, s.uri)));
    const joined = path.join(work, `joined-${path.basename(dir)}-${name}.mp4`);
    fs.writeFileSync(joined, Buffer.concat([
        fs.readFileSync(path.join(rd, 'init.mp4')), ...segs]));
    return { bytes: segs.reduce((a, b) => a + b.length, 0), joined };
}

async function transcode(clip, perTitle) {
    const out = path.join(work, `${clip}-${perTitle ? 'pt' : 'fixed'}`);
    const r = await C.transcode({ input: path.join(work, `${clip}.mp4`),
        output: `file://${out}`, args: ['--only', 'hls,dash', '--preset-json',
            JSON.stringify(preset(perTitle))] });
    assert.equal(r.code, 0, C.describe(r));
    const dir = C.versionDir(out);
    const rungs = {};
    for (const { name } of RUNGS)
        if (fs.existsSync(path.join(dir, name, 'index.m3u8')))
            rungs[name] = rungMedia(dir, name);
    return { result: r.result, dir, rungs,
        bytes: Object.values(rungs).reduce((a, x) => a + x.bytes, 0) };
}

before(async () => {
    for (const [name, src] of Object.entries(CLIPS)) {
        const r = await C.run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel',
            'error', '-y', '-f', 'lavfi', '-i', `${src},format=yuv420p`, '-t',
            String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '12',
            '-g', '60', path.join(work, `${name}.mp4`)]);
        assert.equal(r.code, 0, r.stderr);
        runs[name] = { fixed: await transcode(name, false),
            pt: await transcode(name, true) };
    }
});

describe('per-title ladders', () => {
    test('easy content: at least 20 % fewer bits than the fixed ladder', () => {
        const { fixed, pt } = runs.easy;
        assert.equal(Object.keys(fixed.rungs).length, 3);
        assert.ok(pt.bytes < 0.8 * fixed.bytes,
            `per-title ${pt.bytes} B vs fixed ${fixed.bytes} B`);
        // no kept rung spends more than its fixed counterpart
        for (const [name, x] of Object.entries(pt.rungs))
            assert.ok(x.bytes <= fixed.rungs[name].bytes * 1.03,
                `${name}: ${x.bytes} vs ${fixed.rungs[name].bytes}`);
    });

    test('hard content: not more bits than the fixed ladder', () => {
        const { fixed, pt } = runs.hard;
        // the same encodes: x264's frame threads leave ~1 % between runs
        assert.ok(pt.bytes <= fixed.bytes * 1.03,
            `per-title ${pt.bytes} B vs fixed ${fixed.bytes} B`);
        assert.deepEqual(Object.keys(pt.rungs).sort(),
            Object.keys(fixed.rungs).sort());
    });

    test('the result reports the probe and each rung\'s decision', () => {
        assert.equal(runs.easy.fixed.result.per_title, undefined,
            'no report without video.per_title');
        for (const clip of ['easy', 'hard']) {
            const t = runs[clip].pt.result.per_title;
            assert.ok(t, `${clip}: per_title in the result`);
            assert.equal(t.target_psnr_db, 45);
            assert.ok(t.probe.frames > 0 && t.probe.cpu_seconds > 0, JSON.stringify(t.probe));
            const mid = t.probe.points.filter((p) => p.height === 360);
            assert.deepEqual(mid.map((p) => p.crf), [16, 24, 32]);
            for (const p of t.probe.points)
                assert.ok(p.kbps > 0 && p.psnr > 10, JSON.stringify(p));
            assert.deepEqual(t.ladder.map((x) => x.id), RUNGS.map((r) => r.name));
            for (const x of t.ladder) {
                assert.deepEqual([x.width, x.height], SIZES[x.id]);
                assert.equal(x.bitrate_kbps, RUNGS.find((r) => r.name === x.id).bitrate_kbps);
                assert.ok(x.reason.length > 10, x.reason);
            }
        }
        const easy = runs.easy.pt.result.per_title;
        // the top size was probed too, at the CRF the mid size chose
        assert.ok(easy.probe.points.some((p) => p.height === 480));
        assert.equal(easy.ladder[0].mode, 'crf');
        assert.ok(easy.ladder[0].crf >= 16 && easy.ladder[0].crf <= 32);
        assert.ok(easy.ladder[0].estimated_kbps < 0.75 * 1400);
        assert.match(easy.ladder[0].reason, /capped CRF/);
        for (const x of easy.ladder.filter((l) => l.mode === 'dropped'))
            assert.match(x.reason, /480p needs about \d+ kbps.*adds no quality/);
        assert.ok(easy.ladder.some((l) => l.mode === 'dropped'),
            'a rung the 480p one fits is dropped');
        const hard = runs.hard.pt.result.per_title;
        for (const x of hard.ladder) {
            assert.equal(x.mode, 'fixed');
            assert.equal(x.crf, null);
            assert.match(x.reason, /kept fixed/);
        }
        // renditions and the master list the kept rungs only
        for (const clip of ['easy', 'hard']) {
            const { result, dir } = runs[clip].pt;
            const kept = result.per_title.ladder.filter((l) => l.mode !== 'dropped')
                .map((l) => l.id).sort();
            assert.deepEqual(result.renditions.filter((r) => r.type === 'video')
                .map((r) => r.id).sort(), kept);
            const master = C.parseMaster(C.readText(path.join(dir, 'master.m3u8')));
            assert.equal(master.variants.length, kept.length);
        }
    });

    test('every rung decodes as H.264 at its size, all of the clip', () => {
        for (const clip of ['easy', 'hard']) {
            for (const [name, x] of Object.entries(runs[clip].pt.rungs)) {
                const p = C.ffprobe(x.joined, ['-count_frames', '-show_streams']);
                const v = C.videoStream(p);
                assert.equal(v.codec_name, 'h264', `${clip} ${name}`);
                assert.deepEqual([v.width, v.height], SIZES[name]);
                assert.equal(Number(v.nb_read_frames), SECONDS * 30, `${clip} ${name}`);
            }
        }
    });
});
