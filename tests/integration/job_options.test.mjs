// A job's options through the job API (docs/transcode.md, job documents),
// on real jobs checked with ffprobe/ffmpeg: an inline preset makes the
// rungs it names (a broken one is a 400 naming the field); rung overrides
// change a rung's bitrate (BANDWIDTH and the measured bitrate follow) and
// drop rungs; a clip transcodes only its range (durations, the first frame
// the source's frame at the clip's start, audio to the AAC frame, sidecar
// cues and thumbnails on the clipped timeline); an overlay is burned into
// the rung at its corner in the image's colour.  Also tests the C in
// ingest/src/intake_job.c, job_preset.c, transcoder/src/pipeline.c (clip)
// and watermark.c end to end.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import * as O from './lib/options_job.mjs';

const WORKER_BIN = process.env.CIRRUS_WORKER ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const work = C.tmpDir('job-options-');
const out = path.join(work, 'out');
const sample = (n) => `file://${C.sample(n)}`;
let worker, base;

before(async () => {
    worker = spawn(WORKER_BIN, ['--set', `spool_dir=${path.join(work, 'spool')}`,
        '--set', `out_root=file://${out}`, '--set', 'workers=1',
        '--set', `presets_dir=${C.PRESETS_DIR}`, '--set', 'settle_seconds=0.1',
        '--set', 'max_attempts=1', '--set', 'api_port=-1'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    worker.log = '';
    worker.stdout.on('data', (d) => (worker.log += d));
    worker.stderr.on('data', (d) => (worker.log += d));
    const m = await C.waitFor('the job API to listen', () =>
        /job API on (http:\/\/127\.0\.0\.1:\d+)\/jobs/.exec(worker.log),
    { timeoutMs: 10000, detail: () => worker.log });
    base = m[1];
});

after(() => {
    worker?.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
});

async function post(body) {
    const res = await fetch(`${base}/jobs`, { method: 'POST',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
}

// Submits a job and waits for its end: the job's state JSON.
async function run(body, state = 'done') {
    const r = await post(body);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const id = r.json.id;
    const j = await C.waitFor(`job ${id} ${state}`, async () => {
        const g = await (await fetch(`${base}/jobs/${id}`)).json();
        return ['done', 'failed'].includes(g.state) ? g : null;
    }, { timeoutMs: 120000, every: 200, detail: () => worker.log.slice(-3000) });
    assert.equal(j.state, state, `${JSON.stringify(j.error)}\n${worker.log.slice(-2000)}`);
    return j;
}

// A rendition's init + segments as one file to probe or decode.
function joined(asset, id) {
    const dir = path.join(C.versionDir(asset), id);
    const segs = fs.readdirSync(dir).filter((f) => /^seg-\d+\.m4s$/.test(f))
        .sort((a, b) => parseInt(a.slice(4), 10) - parseInt(b.slice(4), 10));
    const file = path.join(work, `${path.basename(asset)}-${id}.mp4`);
    fs.writeFileSync(file, Buffer.concat([path.join(dir, 'init.mp4'),
        ...segs.map((s) => path.join(dir, s))].map((f) => fs.readFileSync(f))));
    return file;
}

// Frames of a file (from index `from`, `count` of them) as 32x18 grey
// bytes, or one pixel's RGB with { crop: [x, y] }.
function frames(file, { from = 0, count = 1, crop } = {}) {
    const vf = crop ? `format=rgb24,crop=1:1:${crop[0]}:${crop[1]}`
        : 'scale=32:18:flags=area,format=gray';
    const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-vf',
        `select=gte(n\\,${from}),${vf}`, '-fps_mode', 'passthrough',
        '-frames:v', String(count), '-f', 'rawvideo', '-'], { maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, String(r.stderr));
    const size = crop ? 3 : 32 * 18;
    return Array.from({ length: r.stdout.length / size },
        (_, i) => r.stdout.subarray(i * size, (i + 1) * size));
}

const diff = (a, b) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

const master = (asset) => C.parseMaster(fs.readFileSync(path.join(asset, 'master.m3u8'), 'utf8')
    .replace(/v\/[^/]+\//g, ''));

// One small rung, no thumbnails: fast jobs.
const TINY = { name: 'tiny', video: { rungs: [
    { name: 'small', height: 180, bitrate_kbps: 200 }] },
thumbnails: { enabled: false } };

describe('inline preset', () => {
    test('a job with a whole preset makes the rungs it names', async () => {
        const preset = { name: 'two', video: { rungs: [
            { name: 'small', height: 180, bitrate_kbps: 200 },
            { name: 'medium', height: 360, bitrate_kbps: 500 }] },
        audio: { bitrate_kbps: 64 }, thumbnails: { enabled: false } };
        const j = await run({ input: sample('h264_720p2997.mp4'),
            output: `file://${out}/inline`, only: 'hls', preset });
        assert.equal(j.result.preset, 'two');
        const m = master(path.join(out, 'inline'));
        assert.deepEqual(m.variants.map((v) => [v.uri, v.attrs.RESOLUTION]).sort(),
            [['medium/index.m3u8', '640x360'], ['small/index.m3u8', '320x180']]);
        const audio = C.audioStream(C.ffprobe(joined(path.join(out, 'inline'), 'audio')));
        assert.ok(Number(audio.bit_rate) < 80000, `64 kbps audio: ${audio.bit_rate}`);
    });

    test('a per-title inline preset: the job\'s result says the ladder chosen', async () => {
        const preset = { name: 'pt', video: { per_title: { enabled: true }, rungs: [
            { name: 'small', height: 180, bitrate_kbps: 200 },
            { name: 'medium', height: 360, bitrate_kbps: 500 }] },
        audio: { enabled: false }, thumbnails: { enabled: false } };
        const j = await run({ input: sample('h264_720p2997.mp4'),
            output: `file://${out}/per-title`, only: 'hls', preset });
        const t = j.result.per_title;
        assert.ok(t, JSON.stringify(j.result));
        assert.equal(t.target_psnr_db, 45);
        assert.ok(t.probe.points.length >= 3, JSON.stringify(t.probe));
        assert.deepEqual(t.ladder.map((x) => x.id), ['medium', 'small']);
        for (const x of t.ladder)
            assert.ok(['fixed', 'crf', 'dropped'].includes(x.mode) && x.reason, JSON.stringify(x));
        assert.deepEqual(j.result.outputs.filter((o) => o.type === 'video').map((o) => o.id).sort(),
            t.ladder.filter((x) => x.mode !== 'dropped').map((x) => x.id).sort());
    });

    test('a broken inline preset is a 400 naming the field', async () => {
        const bad = structuredClone(TINY);
        bad.video.rungs.push({ name: 'big', height: 720, bitrate_kbps: 0 });
        let r = await post({ input: sample('video_only.mp4'), preset: bad });
        assert.equal(r.status, 400);
        assert.equal(r.json.error, 'preset.video.rungs[1].bitrate_kbps: 0 is below the minimum 16');
        // the codec rules too, where the codecs live
        r = await post({ input: sample('video_only.mp4'),
            preset: { ...TINY, video: { ...TINY.video, codec: 'vp9' } } });
        assert.equal(r.status, 400);
        assert.match(r.json.error, /^preset\.video\.codec: "vp9"/);
        r = await post({ input: sample('video_only.mp4'), preset: { colour: 1 } });
        assert.equal(r.json.error, 'preset.colour: unknown field');
    });
});

describe('rung overrides', () => {
    // the 480p rung's bits per second over its segments
    const measured = (asset) => {
        const dir = path.join(C.versionDir(asset), '480p');
        const media = C.parseMedia(fs.readFileSync(path.join(dir, 'index.m3u8'), 'utf8'));
        const bytes = media.segments.reduce((s, g) =>
            s + fs.statSync(path.join(dir, g.uri)).size, 0);
        return bytes * 8 / media.segments.reduce((s, g) => s + g.duration, 0);
    };
    const variant = (asset, id) => master(asset).variants
        .find((v) => v.uri === `${id}/index.m3u8`);

    test('a rung\'s bitrate follows the override, a null rung is dropped', async () => {
        const body = { input: sample('h264_720p2997.mp4'), preset: 'mobile', only: 'hls' };
        await run({ ...body, output: `file://${out}/ladder` });
        await run({ ...body, output: `file://${out}/overridden`,
            rungs: { '480p': { bitrate_kbps: 300 }, '360p': null, '234p': null } });
        const plain = path.join(out, 'ladder'), over = path.join(out, 'overridden');
        assert.deepEqual(master(over).variants.map((v) => v.uri).sort(),
            ['480p/index.m3u8', '720p/index.m3u8']);
        assert.ok(!fs.existsSync(path.join(C.versionDir(over), '360p')));
        assert.ok(!fs.existsSync(path.join(C.versionDir(over), '234p')));
        const was = measured(plain), now = measured(over);
        assert.ok(now > 150000 && now < 420000, `measured ${now} for 300 kbps`);
        assert.ok(was > 650000, `measured ${was} for 900 kbps`);
        const bw = Number(variant(over, '480p').attrs['AVERAGE-BANDWIDTH']);
        const bwWas = Number(variant(plain, '480p').attrs['AVERAGE-BANDWIDTH']);
        assert.ok(bw < bwWas / 2, `AVERAGE-BANDWIDTH ${bw} vs ${bwWas}`);
        assert.ok(Number(variant(over, '480p').attrs.BANDWIDTH) <
            Number(variant(plain, '480p').attrs.BANDWIDTH) / 2);
        // the 720p rung is the preset's
        assert.equal(variant(over, '720p').attrs.RESOLUTION, '1280x720');
    });

    test('an unknown rung or a bad value is a 400 naming it', async () => {
        let r = await post({ input: sample('video_only.mp4'), preset: 'mobile',
            rungs: { '1080p': null } });
        assert.equal(r.status, 400);
        assert.equal(r.json.error, 'rungs.1080p: the preset has no rung of that name');
        r = await post({ input: sample('video_only.mp4'), preset: 'mobile',
            rungs: { '720p': { bitrate_kbps: 5 } } });
        assert.equal(r.json.error, 'rungs.720p.bitrate_kbps: 5 is below the minimum 16');
    });
});

describe('clip', () => {
    const srt = path.join(work, 'clip.srt');
    const AAC_FRAME = 1024 / 48000;
    let clipped, whole, job;

    before(async () => {
        fs.mkdirSync(work, { recursive: true });
        fs.writeFileSync(srt, '1\n00:00:01,000 --> 00:00:02,000\nbefore\n\n' +
            '2\n00:00:03,000 --> 00:00:04,000\ninside\n\n' +
            '3\n00:00:05,000 --> 00:00:07,000\nacross the end\n\n' +
            '4\n00:00:08,000 --> 00:00:09,000\nafter\n');
        const preset = { ...TINY, thumbnails: { enabled: true, interval_seconds: 1 } };
        const body = { input: sample('h264_1080p30.mp4'), only: 'hls,dash,thumbs', preset,
            subtitles: [{ uri: `file://${srt}`, language: 'en' }] };
        job = await run({ ...body, output: `file://${out}/clipped`,
            clip: { start: 2.5, end: '00:00:06.000' } });
        await run({ ...body, output: `file://${out}/whole` });
        clipped = path.join(out, 'clipped');
        whole = path.join(out, 'whole');
    });

    test('the result and the MPD say the clip and its duration', () => {
        assert.deepEqual(job.result.clip, { start: 2.5, end: 6 });
        assert.ok(Math.abs(job.result.duration - 3.5) < 0.04, job.result.duration);
        const mpd = fs.readFileSync(path.join(clipped, 'manifest.mpd'), 'utf8');
        const m = /mediaPresentationDuration="PT(?:(\d+)H)?(?:(\d+)M)?([\d.]+)S"/.exec(mpd);
        assert.ok(m, mpd.slice(0, 400));
        const secs = Number(m[1] || 0) * 3600 + Number(m[2] || 0) * 60 + Number(m[3]);
        assert.ok(Math.abs(secs - 3.5) < 0.04, `MPD duration ${secs}`);
    });

    test('video: end - start within a frame, from the frame at the start', () => {
        const v = C.videoStream(C.ffprobe(joined(clipped, 'small')));
        const w = C.videoStream(C.ffprobe(joined(whole, 'small')));
        assert.ok(Math.abs(Number(v.duration) - 3.5) <= 1 / 30 + 1e-6, v.duration);
        // the first pts is the whole job's (0 but the packaging's offset)
        assert.equal(Number(v.start_time), Number(w.start_time));
        // the first frame is the source's frame at 2.5 s (frame 75 at 30 fps)
        const [first] = frames(joined(clipped, 'small'));
        const near = frames(joined(whole, 'small'), { from: 73, count: 5 });
        const d = near.map((f) => diff(first, f));
        assert.equal(d.indexOf(Math.min(...d)), 2, `differences ${d}`);
        assert.ok(d[2] < 3, `differences ${d}`);
    });

    test('audio: the same range within an AAC frame, from 0', () => {
        const a = C.audioStream(C.ffprobe(joined(clipped, 'audio')));
        const start = Number(a.start_time), end = start + Number(a.duration);
        // the encoder's priming before 0 (as without a clip), then the clip
        assert.ok(start <= 0 && start >= -AAC_FRAME - 1e-6, `starts at ${start}`);
        assert.ok(Math.abs(end - 3.5) <= AAC_FRAME + 1e-6, `ends at ${end}`);
    });

    test('sidecar cues shifted by -start, those outside dropped', () => {
        const cues = C.parseVtt(fs.readFileSync(
            path.join(C.versionDir(clipped), 'subs-en', 'full.vtt'), 'utf8'));
        assert.deepEqual(cues.map((c) => [c.text, c.start, c.end]),
            [['inside', 0.5, 1.5], ['across the end', 2.5, 3.5]]);
    });

    test('thumbnails on the clipped timeline', () => {
        const text = fs.readFileSync(path.join(C.versionDir(clipped), 'thumbs', 'thumbs.vtt'),
            'utf8');
        const cues = C.parseVtt(text);
        assert.equal(cues[0].start, 0);
        assert.ok(cues.length === 4 && cues[3].end <= 3.5 + 1e-3,
            JSON.stringify(cues.map((c) => [c.start, c.end])));
    });

    test('a start beyond the source, or a bad range, is an error naming the field', async () => {
        const j = await run({ input: sample('video_only.mp4'), output: `file://${out}/late`,
            preset: TINY, only: 'hls', clip: { start: 20 } }, 'failed');
        assert.match(j.error, /clip\.start: 20\.000 s is not before the end of the source \(6\.000 s\)/);
        let r = await post({ input: sample('video_only.mp4'), clip: { start: 6, end: 5 } });
        assert.equal(r.status, 400);
        assert.equal(r.json.error, 'clip.end: 5 is not after clip.start 6');
        r = await post({ input: sample('video_only.mp4'), clip: { start: -1 } });
        assert.equal(r.json.error, 'clip.start: -1 is not a time from 0 to 10000000 s');
    });
});

describe('overlay', () => {
    // 360p only: 640x360; the image 0.2 of 72 = 72 high, 144 wide, 18 from
    // the top and the right
    const body = { input: sample('video_only.mp4'), preset: 'mobile', only: 'hls',
        rungs: { '720p': null, '480p': null, '234p': null } };
    const png = path.join(work, 'mark.png');
    const inside = [640 - 18 - 72, 18 + 36], outside = [640 - 18 - 144 - 20, 18 + 36];

    test('burned into the rung at its corner, in the image\'s colour', async () => {
        const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
            'color=c=0x00ff00:s=64x32', '-frames:v', '1', '-pix_fmt', 'rgba', png]);
        assert.equal(r.status, 0, String(r.stderr));
        await run({ ...body, output: `file://${out}/plain` });
        const j = await run({ ...body, output: `file://${out}/marked`,
            overlay: { image: png, position: 'top-right', margin: 0.05, height: 0.2 } });
        assert.deepEqual(j.result.outputs.map((o) => o.id), ['360p']);
        const plain = joined(path.join(out, 'plain'), '360p');
        const marked = joined(path.join(out, 'marked'), '360p');
        for (const at of [0, 100]) {
            const [p] = frames(marked, { from: at, crop: inside });
            const [q] = frames(plain, { from: at, crop: inside });
            assert.ok(p[1] > 200 && p[0] < 50 && p[2] < 50, `green at ${inside}: ${[...p]}`);
            assert.ok(diff(p, q) > 40, `differs from the plain job: ${[...p]} vs ${[...q]}`);
            const [o] = frames(marked, { from: at, crop: outside });
            const [o2] = frames(plain, { from: at, crop: outside });
            assert.ok(diff(o, o2) < 12, `untouched outside: ${[...o]} vs ${[...o2]}`);
        }
    });

    test('an image that is none fails the job naming it', async () => {
        const bad = C.sample('not_media.mp4');
        const j = await run({ ...body, output: `file://${out}/badmark`,
            overlay: { image: bad } }, 'failed');
        assert.ok(j.error.startsWith(`overlay.image ${bad}: `), j.error);
        assert.equal(j.result.exit_code, 3, 'a bad job, not retried');
    });
});

// cirrus-transcode (what AWS Batch runs) takes the same options as flags or
// CIRRUS_TRANSCODE_* variables: the same output as the worker's job, the
// same refusals (exit 3, the field named).
describe('cirrus-transcode with the job options', () => {
    let job;
    before(() => {
        fs.mkdirSync(work, { recursive: true });
        job = { preset: O.PRESET, rungs: O.RUNGS, clip: O.CLIP, overlay: O.overlay(work) };
    });
    const flags = (j) => ['--only', 'hls', '--preset-json', JSON.stringify(j.preset),
        '--rungs', JSON.stringify(j.rungs), '--clip', JSON.stringify(j.clip),
        '--overlay', JSON.stringify(j.overlay)];

    test('the worker\'s job and the flags make the same asset', async () => {
        const j = await run({ input: sample(O.INPUT), output: `file://${out}/opts-worker`,
            only: 'hls', ...job });
        assert.equal(j.result.preset, 'two');
        const w = O.checkOutput(path.join(out, 'opts-worker'), work);
        const r = await C.transcode({ input: sample(O.INPUT),
            output: `file://${out}/opts-cli`, args: flags(job) });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.result.preset, 'two');
        assert.deepEqual(r.result.clip, { start: 1, end: 4 });
        const c = O.checkOutput(path.join(out, 'opts-cli'), work);
        assert.equal(c.duration, w.duration);
        assert.ok(Math.abs(c.bandwidth - w.bandwidth) < w.bandwidth * 0.1,
            `BANDWIDTH ${c.bandwidth} vs the worker's ${w.bandwidth}`);
    });

    test('the same from the environment (as AWS Batch passes them)', async () => {
        const r = await C.transcode({ input: sample(O.INPUT), preset: 'two',
            output: `file://${out}/opts-env`, args: ['--only', 'hls'], env: {
                CIRRUS_TRANSCODE_PRESET_JSON: JSON.stringify(job.preset),
                CIRRUS_TRANSCODE_RUNGS: JSON.stringify(job.rungs),
                CIRRUS_TRANSCODE_CLIP: JSON.stringify(job.clip),
                CIRRUS_TRANSCODE_OVERLAY: JSON.stringify(job.overlay) } });
        assert.equal(r.code, 0, r.stderr);
        O.checkOutput(path.join(out, 'opts-env'), work);
    });

    test('hostile values: exit 3, the field named as in a job document', async () => {
        const cases = [
            [['--clip', '{"start":6,"end":5}'], 'clip.end: 5 is not after clip.start 6'],
            [['--clip', '{"start":-1}'], 'clip.start: -1 is not a time from 0 to 10000000 s'],
            [['--clip', '{"start":'], /^clip: not JSON \(/],
            [['--rungs', '{"1080p":null}'], 'rungs.1080p: the preset has no rung of that name'],
            [['--rungs', '{"720p":{"bitrate_kbps":5}}'],
                'rungs.720p.bitrate_kbps: 5 is below the minimum 16'],
            [['--rungs', '[]'], 'rungs: expected an object of rung names'],
            [['--overlay', '{"image":"a.png","height":7}'], /^overlay\.height: /],
            [['--overlay', '{"image":"a.png","colour":1}'], /^overlay: unknown field/],
            [['--preset-json', '{"colour":1}'], 'preset.colour: unknown field'],
            [['--preset-json', JSON.stringify({ ...O.PRESET, video: { ...O.PRESET.video,
                codec: 'vp9' } })], /^preset\.video\.codec: "vp9"/],
            [['--preset-json', '[1]'], 'preset: expected a preset object'],
        ];
        for (const [args, msg] of cases) {
            const preset = args[0] === '--preset-json' ? undefined : 'mobile';
            const r = await C.transcode({ input: sample('video_only.mp4'), preset,
                output: `file://${out}/hostile`, args });
            assert.equal(r.code, 3, `${args}: ${r.stderr}`);
            const err = r.result.error;
            if (typeof msg === 'string')
                assert.equal(err, msg, args.join(' '));
            else
                assert.match(err, msg, args.join(' '));
            assert.ok(r.stderr.includes(err), r.stderr);
        }
        // the worker says the same of the same value
        const w = await post({ input: sample('video_only.mp4'), preset: 'mobile',
            rungs: { '720p': { bitrate_kbps: 5 } } });
        assert.equal(w.json.error, 'rungs.720p.bitrate_kbps: 5 is below the minimum 16');
        assert.ok(!fs.existsSync(path.join(out, 'hostile')), 'nothing published');
    });
});
