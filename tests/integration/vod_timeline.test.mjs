// VOD from files users upload (issue 11, point 8): where each track starts
// on the asset's timeline (in tfdt, for every player), inputs that are not
// truncated though they look it (a still picture with a podcast, a leading
// empty edit), BANDWIDTH never below AVERAGE-BANDWIDTH, and thumbnails whose
// declared sizes are the files' and which Shaka Player places right.  Every
// input is made here with the ffmpeg CLI and lavfi.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { startStaticServer } from './lib/static-server.mjs';

const work = path.join(C.TEST_OUT, 'vod-timeline');
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });

// The mobile ladder cut to the two rungs a 640x360 source gets, with
// thumbnails every second on 3x2 sheets (so sheets fill and one is partial).
const presets = path.join(work, 'presets');
fs.mkdirSync(presets);
const preset = C.loadPreset('mobile');
preset.name = 'vodfix';
preset.thumbnails = { ...preset.thumbnails, interval_seconds: 1,
    sprite_columns: 3, sprite_rows: 2 };
fs.writeFileSync(path.join(presets, 'vodfix.json'), JSON.stringify(preset));

async function ffmpeg(name, args) {
    const file = path.join(work, name);
    const r = await C.run('ffmpeg', ['-v', 'error', '-y', ...args, file]);
    assert.equal(r.code, 0, `ffmpeg ${name}: ${r.stderr}`);
    return file;
}

async function transcode(input, name) {
    const output = path.join(work, name);
    const r = await C.transcode({ input, output, preset: 'vodfix',
        args: ['--presets-dir', presets] });
    // the published version's files (its own manifests, relative URIs)
    return { r, out: r.code === 0 ? C.versionDir(output) : output };
}

// ---- a small ISO BMFF reader: the boxes a player reads for timing ----

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts',
    'moof', 'traf', 'mvex']);

function boxes(buf, start = 0, end = buf.length, out = []) {
    for (let off = start; off + 8 <= end;) {
        let size = buf.readUInt32BE(off);
        const type = buf.toString('latin1', off + 4, off + 8);
        let head = 8;
        if (size === 1) {
            size = Number(buf.readBigUInt64BE(off + 8));
            head = 16;
        }
        if (size < head || off + size > end)
            break;
        out.push({ type, off, head, size });
        if (CONTAINERS.has(type))
            boxes(buf, off + head, off + size, out);
        off += size;
    }
    return out;
}

// The edit list entries of init.mp4: [{duration, mediaTime}].
function edits(initFile) {
    const buf = fs.readFileSync(initFile);
    const elst = boxes(buf).find((b) => b.type === 'elst');
    if (!elst)
        return [];
    const p = elst.off + elst.head;
    const v = buf[p];
    const n = buf.readUInt32BE(p + 4);
    const list = [];
    for (let i = 0, q = p + 8; i < n; i++) {
        list.push(v === 1
            ? { duration: Number(buf.readBigUInt64BE(q)),
                mediaTime: Number(buf.readBigInt64BE(q + 8)) }
            : { duration: buf.readUInt32BE(q), mediaTime: buf.readInt32BE(q + 4) });
        q += v === 1 ? 20 : 12;
    }
    return list;
}

function timescale(initFile) {
    const buf = fs.readFileSync(initFile);
    const mdhd = boxes(buf).find((b) => b.type === 'mdhd');
    const p = mdhd.off + mdhd.head;
    return buf.readUInt32BE(p + (buf[p] === 1 ? 20 : 12));
}

// Presentation time of a segment's first sample, as MSE computes it with
// no edit list: tfdt + the first sample's composition offset.
function firstSampleTime(initFile, segFile) {
    const buf = fs.readFileSync(segFile);
    const all = boxes(buf);
    const tfdt = all.find((b) => b.type === 'tfdt');
    const trun = all.find((b) => b.type === 'trun');
    let p = tfdt.off + tfdt.head;
    const base = buf[p] === 1 ? Number(buf.readBigUInt64BE(p + 4))
        : buf.readUInt32BE(p + 4);
    p = trun.off + trun.head;
    const version = buf[p];
    const flags = buf.readUInt32BE(p) & 0xffffff;
    let q = p + 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
    q += (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0) +
        (flags & 0x400 ? 4 : 0);
    const cto = flags & 0x800
        ? (version === 1 ? buf.readInt32BE(q) : buf.readUInt32BE(q)) : 0;
    return { tfdt: base, time: (base + cto) / timescale(initFile) };
}

function masterOf(out) {
    const master = C.parseMaster(C.readText(path.join(out, 'master.m3u8')));
    const audio = master.media.filter((m) => m.TYPE === 'AUDIO')
        .map((m) => path.dirname(m.URI));
    const video = master.variants.map((v) => path.dirname(v.uri));
    return { master, audio, video };
}

// WebVTT thumbnail cues with their sheet and xywh rectangle.
function thumbCues(out) {
    return C.parseVtt(C.readText(path.join(out, 'thumbs', 'thumbs.vtt')))
        .map((c) => {
            const [image, frag] = c.text.trim().split('#xywh=');
            return { ...c, image, xywh: frag.split(',').map(Number) };
        });
}

const extinfSum = (out, dir) => C.parseMedia(C.readText(path.join(out, dir,
    'index.m3u8'))).segments.reduce((s, x) => s + x.duration, 0);

// ---- (a) a video that starts 0.5 s after its audio ----

describe('video starting 0.5 s after the audio', () => {
    let out;
    before(async () => {
        const input = await ffmpeg('late_video.mp4', ['-f', 'lavfi', '-i',
            'sine=f=440:d=6', '-f', 'lavfi', '-i',
            'testsrc2=size=640x360:rate=30:d=5.5', '-map', '1:v', '-map',
            '0:a', '-vf', 'setpts=PTS+0.5/TB', '-c:v', 'libx264', '-g', '60',
            '-c:a', 'aac']);
        const src = C.ffprobe(input);
        assert.ok(Math.abs(Number(C.videoStream(src).start_time) - 0.5) < 0.01,
            'the source video starts at 0.5 s');
        const t = await transcode(input, 'late_video');
        assert.equal(t.r.code, 0, C.describe(t.r));
        out = t.out;
    });

    test('every video rung has its first sample at 0.5 s (tfdt, no empty edit)', () => {
        const { video, audio } = masterOf(out);
        assert.ok(video.length >= 2, `rungs: ${video}`);
        for (const dir of video) {
            const init = path.join(out, dir, 'init.mp4');
            const seg = path.join(out, dir, 'seg-1.m4s');
            assert.deepEqual(edits(init), [], `${dir}: no edit list`);
            const first = firstSampleTime(init, seg);
            assert.ok(Math.abs(first.time - 0.5) < 0.002,
                `${dir} first sample at ${first.time} s (tfdt ${first.tfdt})`);
            // ffprobe: the first sample's composition offset is 0, so its
            // dts is its presentation time (ffprobe's pts adds the
            // demuxer's dts_shift for negative offsets without an edit list)
            const pkt = C.probeSegment(init, seg, ['-select_streams', 'v',
                '-show_entries', 'packet=pts_time,dts_time', '-read_intervals',
                '%+#1']).packets[0];
            assert.ok(Math.abs(Number(pkt.dts_time) - 0.5) < 0.002,
                `${dir} ffprobe first packet ${JSON.stringify(pkt)}`);
        }
        for (const dir of audio) {
            const init = path.join(out, dir, 'init.mp4');
            // priming only: one edit with a media time, never an empty one
            assert.ok(edits(init).every((e) => e.mediaTime >= 0),
                `${dir} edits ${JSON.stringify(edits(init))}`);
            assert.equal(firstSampleTime(init, path.join(out, dir,
                'seg-1.m4s')).tfdt, 0, `${dir} starts at 0`);
            const pkt = C.probeSegment(init, path.join(out, dir, 'seg-1.m4s'),
                ['-show_entries', 'packet=pts_time', '-read_intervals',
                    '%+#1']).packets[0];
            assert.ok(Number(pkt.pts_time) <= 0 && Number(pkt.pts_time) > -0.05,
                `${dir} first packet (priming) at ${pkt.pts_time}`);
        }
    });

    test('manifests say the same: SegmentTimeline @t, dates, EXTINF sums', () => {
        const { video, audio } = masterOf(out);
        const mpd = C.readText(path.join(out, 'manifest.mpd'));
        assert.doesNotMatch(mpd, /presentationTimeOffset="[1-9]/);
        for (const rep of C.parseMpdRepresentations(mpd)) {
            const m = new RegExp(`<Representation id="${rep.id}"[\\s\\S]*?` +
                '<SegmentTemplate timescale="(\\d+)"[\\s\\S]*?<S t="(\\d+)"')
                .exec(mpd);
            if (!m)
                continue; // the thumbnail set
            const t = Number(m[2]) / Number(m[1]);
            const want = video.includes(rep.id) ? 0.5 : 0;
            assert.ok(Math.abs(t - want) < 0.002, `${rep.id} S@t ${t}`);
        }
        const dates = {};
        for (const dir of [...video, ...audio]) {
            const text = C.readText(path.join(out, dir, 'index.m3u8'));
            const d = /#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(text);
            assert.ok(d, `${dir} dates its first segment`);
            dates[dir] = Date.parse(d[1]) / 1000;
        }
        for (const dir of video) {
            assert.ok(Math.abs(dates[dir] - dates[audio[0]] - 0.5) < 0.002,
                `${dir} dated 0.5 s after the audio: ${JSON.stringify(dates)}`);
            // both end where the source ends: 0.5 + video sum = audio sum
            assert.ok(Math.abs(0.5 + extinfSum(out, dir) -
                extinfSum(out, audio[0])) < 0.05, `${dir} EXTINF sum`);
        }
    });

    // Each player's SourceBuffers: video from 0.5 s, audio from 0.  hls.js
    // starts its timeline at the main (video) playlist's first sample and
    // drops the audio before it: there both tracks are shifted by the same
    // amount, which the audio's end shows; sync is what is asserted for it.
    const missing = B.browserAvailable();
    describe('in Chromium', { skip: missing || false }, () => {
        let srv, browser;
        before(async () => {
            srv = await startStaticServer({ mounts: { ...B.playerMounts(out),
                '/lib/shaka/': path.join(B.NODE_MODULES, 'shaka-player', 'dist'),
                '/pages/': path.join(C.SOURCE_DIR, 'tests', 'integration',
                    'pages') } });
            browser = await B.launch();
        });
        after(async () => {
            await browser?.close();
            await srv?.close();
        });

        const cases = [['hls', 'master.m3u8', false],
            ['dash', 'manifest.mpd', true], ['shaka', 'master.m3u8', true],
            ['shaka', 'manifest.mpd', true]];
        for (const [engine, manifest, absolute] of cases) {
            test(`${engine} ${manifest}: audio and video start where the source says`,
                async () => {
                    const page = await browser.context.newPage();
                    await page.goto(`${srv.url}/pages/buffered.html?engine=` +
                        `${engine}&src=/out/${manifest}`);
                    let s = null;
                    const deadline = Date.now() + 45000;
                    const done = (x) => x.tracks.length === 2 &&
                        x.tracks.every((k) => k.ranges.length &&
                            k.ranges.at(-1)[1] > 5.4);
                    while (Date.now() < deadline) {
                        s = await page.evaluate(() => ({ tracks: window.tracks(),
                            errors: window.errors }));
                        if (s.errors.length || done(s))
                            break;
                        await new Promise((r) => setTimeout(r, 250));
                    }
                    await page.close();
                    const why = JSON.stringify(s);
                    assert.deepEqual(s.errors, [], why);
                    assert.ok(done(s), `both tracks buffered: ${why}`);
                    const v = s.tracks.find((k) => k.mime.startsWith('video'));
                    const a = s.tracks.find((k) => k.mime.startsWith('audio'));
                    // the audio ends at 6.014 s in the source
                    const shift = 6.014 - a.ranges.at(-1)[1];
                    if (absolute)
                        assert.ok(Math.abs(shift) < 0.02, `no shift: ${why}`);
                    assert.ok(Math.abs(v.ranges[0][0] + shift - 0.5) < 0.04,
                        `video starts at 0.5 s of the source: ${why}`);
                    assert.ok(Math.abs(a.ranges[0][0] - Math.max(0, -shift)) < 0.04,
                        `audio starts at 0 (or where the player starts): ${why}`);
                });
        }
    });
});

// ---- (b) inputs that look truncated but are not ----

describe('inputs that are not truncated', () => {
    test('one video frame and 5 s of audio: the picture held for the audio', async () => {
        const input = await ffmpeg('cover.mp4', ['-f', 'lavfi', '-i',
            'testsrc2=size=640x360:rate=25:d=0.04', '-f', 'lavfi', '-i',
            'sine=d=5', '-c:v', 'libx264', '-c:a', 'aac']);
        assert.equal(Number(C.videoStream(C.ffprobe(input, ['-count_frames',
            '-show_streams'])).nb_read_frames), 1, 'the source has one frame');
        const { r, out } = await transcode(input, 'cover');
        assert.equal(r.code, 0, C.describe(r));
        const { video, audio } = masterOf(out);
        assert.ok(video.length >= 1 && audio.length === 1);
        const audioSum = extinfSum(out, audio[0]);
        assert.ok(audioSum > 4.9, `audio ${audioSum} s`);
        for (const dir of video) {
            const sum = extinfSum(out, dir);
            assert.ok(Math.abs(sum - audioSum) < 0.1,
                `${dir} lasts as long as the audio: ${sum} vs ${audioSum}`);
            const frames = Number(C.videoStream(C.probeSegment(
                path.join(out, dir, 'init.mp4'), path.join(out, dir, 'seg-1.m4s'),
                ['-count_packets', '-show_streams'])).nb_read_packets);
            assert.ok(frames >= 120 && frames <= 127, `${dir} ${frames} frames`);
        }
        assert.ok(fs.existsSync(path.join(out, 'thumbs', 'poster.jpg')));
    });

    test('a leading empty edit (-output_ts_offset 1000) starts at 0', async () => {
        const input = await ffmpeg('offset.mp4', ['-f', 'lavfi', '-i',
            'testsrc2=size=640x360:rate=25:d=5', '-f', 'lavfi', '-i',
            'sine=d=5', '-c:v', 'libx264', '-c:a', 'aac',
            '-output_ts_offset', '1000']);
        assert.ok(Number(C.ffprobe(input).format.duration) > 1000,
            'the source declares 1005 s');
        const { r, out } = await transcode(input, 'offset');
        assert.equal(r.code, 0, C.describe(r));
        assert.ok(r.result.duration > 4.9 && r.result.duration < 5.2,
            `duration ${r.result.duration}`);
        const { video } = masterOf(out);
        for (const dir of video) {
            const first = firstSampleTime(path.join(out, dir, 'init.mp4'),
                path.join(out, dir, 'seg-1.m4s'));
            assert.ok(first.time < 0.1, `${dir} starts at ${first.time} s`);
            assert.ok(Math.abs(extinfSum(out, dir) - 5) < 0.1);
        }
    });
});

// ---- (c) and (d): 12 s of a still picture, then 2 s of noise ----

describe('a short, busy last segment and the thumbnails', () => {
    let out, result;
    before(async () => {
        const input = await ffmpeg('busy_end.mp4', ['-f', 'lavfi', '-i',
            'color=c=gray:size=640x360:rate=30:d=12', '-f', 'lavfi', '-i',
            'testsrc2=size=640x360:rate=30:d=2', '-f', 'lavfi', '-i',
            'sine=d=14', '-filter_complex',
            '[1:v]noise=alls=100:allf=t+u[n];[0:v][n]concat=n=2:v=1:a=0[v]',
            '-map', '[v]', '-map', '2:a', '-c:v', 'libx264', '-g', '60',
            '-c:a', 'aac']);
        const t = await transcode(input, 'busy_end');
        assert.equal(t.r.code, 0, C.describe(t.r));
        out = t.out;
        result = t.r.result;
    });

    test('BANDWIDTH is at least AVERAGE-BANDWIDTH (master, MPD, result)', () => {
        const { master, video } = masterOf(out);
        const segs = C.parseMedia(C.readText(path.join(out, video[0],
            'index.m3u8'))).segments.map((s) => s.duration);
        assert.ok(segs.length >= 3 && segs.at(-1) < 3,
            `a short last segment: ${segs}`);
        for (const v of master.variants) {
            const bw = Number(v.attrs.BANDWIDTH);
            const avg = Number(v.attrs['AVERAGE-BANDWIDTH']);
            assert.ok(bw >= avg, `${v.uri}: BANDWIDTH ${bw} < AVERAGE ${avg}`);
        }
        for (const r of result.renditions)
            assert.ok(r.bandwidth >= r.average_bandwidth,
                `${r.id}: ${r.bandwidth} < ${r.average_bandwidth}`);
        // the MPD's @bandwidth against the bytes of each Representation
        const mpd = C.readText(path.join(out, 'manifest.mpd'));
        for (const rep of C.parseMpdRepresentations(mpd)) {
            const dir = path.join(out, rep.id);
            if (!fs.existsSync(path.join(dir, 'index.m3u8')))
                continue;
            const pl = C.parseMedia(C.readText(path.join(dir, 'index.m3u8')));
            const bytes = pl.segments.reduce((s, x) =>
                s + fs.statSync(path.join(dir, x.uri)).size, 0);
            const dur = pl.segments.reduce((s, x) => s + x.duration, 0);
            assert.ok(Number(rep.bandwidth) >= bytes * 8 / dur * 0.99,
                `${rep.id} @bandwidth ${rep.bandwidth} below its average ` +
                `${Math.round(bytes * 8 / dur)}`);
        }
    });

    test('sprite sheets are the size images.m3u8, the MPD and the master declare', () => {
        const { master } = masterOf(out);
        const img = C.readText(path.join(out, 'master.m3u8'))
            .split('\n').find((l) => l.startsWith('#EXT-X-IMAGE-STREAM-INF:'));
        const imgAttrs = C.parseAttrs(img.slice(img.indexOf(':') + 1));
        const pl = C.readText(path.join(out, 'thumbs', 'images.m3u8'));
        const tiles = [...pl.matchAll(/#EXT-X-TILES:(.*)/g)]
            .map((m) => C.parseAttrs(m[1]));
        const sheets = [...pl.matchAll(/^(sprite-\d+\.jpg)$/gm)].map((m) => m[1]);
        assert.equal(sheets.length, 3, '14 tiles on 3x2 sheets');
        assert.ok(master.variants.length >= 1);
        // RESOLUTION: one tile, as EXT-X-TILES says
        assert.equal(imgAttrs.RESOLUTION, tiles[0].RESOLUTION);
        const mpd = C.readText(path.join(out, 'manifest.mpd'));
        const thumbRep = C.xmlAttrs(/<Representation id="thumbs"[^>]*>/
            .exec(mpd)[0]);
        sheets.forEach((name, i) => {
            const [tw, th] = tiles[i].RESOLUTION.split('x').map(Number);
            const [cols, rows] = tiles[i].LAYOUT.split('x').map(Number);
            const s = C.videoStream(C.ffprobe(path.join(out, 'thumbs', name)));
            assert.deepEqual([s.width, s.height], [tw * cols, th * rows],
                `${name} is the declared ${cols}x${rows} sheet of ${tw}x${th}`);
            assert.deepEqual([s.width, s.height], [Number(thumbRep.width),
                Number(thumbRep.height)], `${name} matches the MPD`);
        });
        for (const cue of thumbCues(out)) {
            const [x, y, w, h] = cue.xywh;
            const s = C.videoStream(C.ffprobe(path.join(out, 'thumbs', cue.image)));
            assert.ok(x + w <= s.width && y + h <= s.height,
                `${cue.image}#${cue.xywh} inside ${s.width}x${s.height}`);
        }
    });

    const missing = B.browserAvailable();
    for (const manifest of ['master.m3u8', 'manifest.mpd']) {
        test(`Shaka Player (${manifest}) places each thumbnail where the WebVTT track does`,
            { skip: missing || false }, async () => {
                const srv = await startStaticServer({ mounts: {
                    ...B.playerMounts(out),
                    '/lib/shaka/': path.join(B.NODE_MODULES, 'shaka-player',
                        'dist'),
                    '/pages/': path.join(C.SOURCE_DIR, 'tests', 'integration',
                        'pages') } });
                const browser = await B.launch();
                try {
                    const page = await browser.context.newPage();
                    await page.goto(`${srv.url}/pages/buffered.html?engine=shaka` +
                        `&src=/out/${manifest}`);
                    await page.waitForFunction(() => window.loaded ||
                        window.errors.length, null, { timeout: 30000 });
                    assert.deepEqual(await page.evaluate(() => window.errors), []);
                    const cues = thumbCues(out);
                    for (const t of [0.5, 7.5, 10.5, 13.5]) {
                        const cue = cues.find((c) => c.start <= t && t < c.end);
                        const th = await page.evaluate((x) => window.thumbnail(x), t);
                        const why = JSON.stringify({ t, cue, th: th && { ...th,
                            segment: undefined } });
                        assert.ok(th, `a thumbnail at ${t} s`);
                        assert.ok(th.uris[0].endsWith(`/thumbs/${cue.image}`), why);
                        assert.deepEqual([th.positionX, th.positionY, th.width,
                            th.height], cue.xywh, why);
                        const s = C.videoStream(C.ffprobe(path.join(out, 'thumbs',
                            cue.image)));
                        assert.deepEqual([th.imageWidth, th.imageHeight],
                            [s.width, s.height], why);
                    }
                    await page.close();
                } finally {
                    await browser.close();
                    await srv.close();
                }
            });
    }
});
