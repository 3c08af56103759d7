// Awkward but valid inputs through the `mobile` preset (small and quick):
// odd sizes, portrait, 29.97, no audio, audio only, HEVC in, VFR, rotation,
// interlacing, 10-bit; and the `hevc` preset's output.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { validator } from './lib/validate.mjs';

const V = validator('inputs');
afterEach(() => V.assertClean());

// Parsed view of one asset: master, video rung folders, probes of each.
async function asset(sampleName, preset = 'mobile') {
    const job = await C.transcodeCached(sampleName, preset);
    const out = C.versionDir(job.dir); // the published version's files
    V.checkDir(job.dir); // strict validation: asserted after each test
    const master = C.parseMaster(C.readText(path.join(out, 'master.m3u8')));
    const audioMedia = master.media.filter((m) => m.TYPE === 'AUDIO');
    const rungs = master.variants.map((v) => path.dirname(v.uri))
        .filter((d) => !audioMedia.some((m) => path.dirname(m.URI) === d));
    const probe = (dir, seg = 'seg-1.m4s') => C.probeSegment(
        path.join(out, dir, 'init.mp4'), path.join(out, dir, seg));
    const segments = (dir) => C.parseMedia(C.readText(path.join(out, dir,
        'index.m3u8'))).segments;
    const source = C.ffprobe(C.sample(sampleName));
    return { job, out, master, rungs, probe, segments, source };
}

// Every rung: even size, no bigger than the displayed source, same shape,
// same segment durations, and the whole duration is there.
function checkLadder(a, { codec = 'h264' } = {}) {
    const sv = C.videoStream(a.source);
    const disp = C.displaySize(sv);
    const srcAspect = disp.width / disp.height;
    assert.ok(a.rungs.length >= 1, 'at least one video rung');
    const ref = a.segments(a.rungs[0]).map((s) => s.duration);
    const total = ref.reduce((x, y) => x + y, 0);
    const srcDur = Number(a.source.format.duration);
    assert.ok(Math.abs(total - srcDur) < 0.3,
        `playlist total ${total.toFixed(3)} vs source ${srcDur}`);
    const sizes = [];
    for (const dir of a.rungs) {
        const v = C.videoStream(a.probe(dir));
        assert.equal(v.codec_name, codec, dir);
        assert.equal(v.pix_fmt, 'yuv420p', `${dir} pix_fmt`);
        assert.equal(v.width % 2, 0, `${dir} width ${v.width} even`);
        assert.equal(v.height % 2, 0, `${dir} height ${v.height} even`);
        assert.ok(v.width <= disp.width && v.height <= disp.height,
            `${dir} ${v.width}x${v.height} not above ${disp.width}x${disp.height}`);
        const aspect = v.width / v.height;
        assert.ok(Math.abs(aspect - srcAspect) / srcAspect < 0.02,
            `${dir} ${v.width}x${v.height} keeps aspect ${srcAspect.toFixed(3)}`);
        assert.deepEqual(a.segments(dir).map((s) => s.duration), ref,
            `${dir} segment durations match ${a.rungs[0]}`);
        sizes.push(v);
    }
    return sizes;
}

describe('inputs (preset mobile)', () => {
    test('720p at 29.97 keeps 30000/1001', async () => {
        const a = await asset('h264_720p2997.mp4');
        for (const v of checkLadder(a))
            assert.ok(Math.abs(C.rate(v.avg_frame_rate || v.r_frame_rate) -
                30000 / 1001) < 0.01, `rate ${v.r_frame_rate}`);
        for (const v of a.master.variants)
            assert.equal(v.attrs['FRAME-RATE'], '29.970');
    });

    test('portrait 1080x1920 gives portrait rungs', async () => {
        const a = await asset('portrait_1080x1920.mp4');
        for (const v of checkLadder(a))
            assert.ok(v.height > v.width, `${v.width}x${v.height} is portrait`);
    });

    test('odd 1366x768 gives even sizes', async () => {
        checkLadder(await asset('odd_1366x768.mp4'));
    });

    test('video without audio has no audio rendition', async () => {
        const a = await asset('video_only.mp4');
        checkLadder(a);
        assert.ok(!fs.existsSync(path.join(a.out, 'audio')), 'no audio/ folder');
        assert.equal(a.master.media.filter((m) => m.TYPE === 'AUDIO').length, 0);
        for (const v of a.master.variants) {
            assert.equal(v.attrs.AUDIO, undefined);
            assert.doesNotMatch(v.attrs.CODECS, /mp4a/);
        }
        const mpd = C.readText(path.join(a.out, 'manifest.mpd'));
        assert.doesNotMatch(mpd, /audio\/mp4|contentType="audio"/);
    });

    test('audio only with preset audio-only', async () => {
        const a = await asset('audio_only.m4a', 'audio-only');
        assert.ok(fs.existsSync(path.join(a.out, 'audio', 'init.mp4')));
        const s = C.audioStream(a.probe('audio'));
        assert.equal(s.codec_name, 'aac');
        assert.equal(s.channels, 2);
        assert.ok(a.master.variants.length >= 1);
        for (const v of a.master.variants) {
            assert.match(v.attrs.CODECS, /^mp4a\.40\.\d+$/);
            assert.equal(v.attrs.RESOLUTION, undefined);
        }
        const segs = C.parseMedia(C.readText(path.join(a.out, 'audio',
            'index.m3u8'))).segments;
        const total = segs.reduce((x, y) => x + y.duration, 0);
        assert.ok(Math.abs(total - 6) < 0.2, `audio total ${total}`);
        assert.doesNotMatch(C.readText(path.join(a.out, 'manifest.mpd')),
            /video\/mp4|contentType="video"/);
    });

    test('HEVC input is transcoded to H.264', async () => {
        checkLadder(await asset('hevc_1080p.mp4'));
    });

    test('variable frame rate input', async () => {
        const a = await asset('vfr.mkv');
        checkLadder(a);
        // Every source frame is there (135: 90 at 30 fps + 45 at 15 fps), or
        // the output was made constant at 30 fps (180); nothing is lost.
        let frames = 0;
        for (const s of a.segments(a.rungs[0]))
            frames += C.probeSegment(path.join(a.out, a.rungs[0], 'init.mp4'),
                path.join(a.out, a.rungs[0], s.uri), ['-count_packets',
                    '-select_streams', 'v', '-show_entries',
                    'stream=nb_read_packets']).streams[0].nb_read_packets * 1;
        assert.ok(frames >= 130 && frames <= 185, `${frames} frames`);
    });

    test('rotated 90 degrees gives portrait rungs', async () => {
        const a = await asset('rotated_90.mp4');
        for (const v of checkLadder(a)) {
            assert.ok(v.height > v.width, `${v.width}x${v.height} is portrait`);
            const rot = (v.side_data_list || []).find((s) => s.rotation);
            assert.equal(rot, undefined, 'rotation applied, not signalled');
        }
    });

    test('interlaced 1080i becomes progressive', async () => {
        const a = await asset('interlaced_1080i.ts');
        for (const v of checkLadder(a))
            assert.ok(['progressive', 'unknown', undefined]
                .includes(v.field_order), `field_order ${v.field_order}`);
    });

    test('10-bit input becomes 8-bit 4:2:0 H.264', async () => {
        const a = await asset('tenbit.mp4');
        for (const v of checkLadder(a))
            assert.doesNotMatch(v.profile || '', /10/);
        for (const v of a.master.variants)
            assert.match(v.attrs.CODECS, /^avc1\.(42|4d|64)/i);
    });

    test('preset hevc writes hvc1', async () => {
        const a = await asset('h264_720p2997.mp4', 'hevc');
        for (const v of checkLadder(a, { codec: 'hevc' }))
            assert.equal(v.codec_tag_string, 'hvc1');
        for (const v of a.master.variants)
            assert.match(v.attrs.CODECS, /^hvc1\./);
    });
});
