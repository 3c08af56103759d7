// The web ladder on the 10 s 1080p30 sample: every rung and the audio exist,
// decode with the right codec, size and rate; segment boundaries match
// across rungs; declared bandwidths match what was written; the master, the
// MPD and the thumbnails are complete and consistent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { validator } from './lib/validate.mjs';

const SAMPLE = 'h264_1080p30.mp4';
const WEB_RUNGS = [['1080p', 1080], ['720p', 720], ['540p', 540], ['360p', 360],
    ['234p', 234]];

let out, job, master, src, rungs;

function rungList() {
    try {
        const r = C.presetRungs(C.loadPreset('web'));
        if (r.length)
            return r.map((x) => ({ name: x.name, height: x.height,
                width: x.width || 0, bitrate: x.bitrate_kbps }));
    } catch {
        /* preset not readable: fall back to the contract's list */
    }
    return WEB_RUNGS.map(([name, height]) => ({ name, height, width: 0 }));
}

function mediaPlaylist(dir) {
    return C.parseMedia(C.readText(path.join(out, dir, 'index.m3u8')));
}

function segFiles(dir) {
    return mediaPlaylist(dir).segments.map((s) => path.join(out, dir, s.uri));
}

before(async () => {
    src = C.ffprobe(C.sample(SAMPLE));
    job = await C.transcodeCached(SAMPLE, 'web');
    out = C.versionDir(job.dir); // the published version: every file
    master = C.parseMaster(C.readText(path.join(out, 'master.m3u8')));
    rungs = rungList();
});

describe('web ladder on h264_1080p30', () => {
    test('the result line reports success and lists the renditions', () => {
        const r = job.result;
        assert.ok(r, 'a JSON result line on stdout');
        assert.equal(r.state, 'done');
        assert.equal(r.exit_code, 0);
        assert.ok(Math.abs(r.duration - 10) < 0.2, `duration ${r.duration}`);
        assert.ok(Array.isArray(r.renditions) && r.renditions.length >= 6);
        for (const p of r.outputs || [])
            assert.ok(fs.existsSync(path.join(out, p)), `listed output ${p}`);
        if (job.progress)
            assert.equal(job.progress.state, 'done', 'final --progress-json');
    });

    test('every rung and the audio have init, segments and playlists', () => {
        for (const dir of [...rungs.map((r) => r.name), 'audio']) {
            for (const f of ['init.mp4', 'seg-1.m4s', 'index.m3u8'])
                assert.ok(fs.statSync(path.join(out, dir, f)).size > 0,
                    `${dir}/${f}`);
            const pl = mediaPlaylist(dir);
            assert.ok(pl.endList, `${dir}: VOD playlist ends with ENDLIST`);
            assert.equal(pl.map?.URI, 'init.mp4', `${dir}: EXT-X-MAP`);
            assert.ok(pl.segments.length >= 2, `${dir}: segments`);
            for (const f of segFiles(dir))
                assert.ok(fs.existsSync(f), f);
        }
        for (const r of rungs)
            assert.ok(fs.existsSync(path.join(out, r.name, 'iframes.m3u8')),
                `${r.name}/iframes.m3u8`);
    });

    test('each rung decodes as H.264 at its size and the source rate', () => {
        const srcV = C.videoStream(src);
        const srcAspect = srcV.width / srcV.height;
        for (const r of rungs) {
            const p = C.probeSegment(path.join(out, r.name, 'init.mp4'),
                path.join(out, r.name, 'seg-1.m4s'));
            const v = C.videoStream(p);
            assert.equal(v.codec_name, 'h264', r.name);
            assert.equal(v.pix_fmt, 'yuv420p', r.name);
            assert.equal(v.height, r.height, `${r.name} height`);
            if (r.width)
                assert.equal(v.width, r.width, `${r.name} width`);
            assert.equal(v.width % 2, 0, `${r.name} width even`);
            assert.equal(v.height % 2, 0, `${r.name} height even`);
            const aspect = v.width / v.height;
            assert.ok(Math.abs(aspect - srcAspect) / srcAspect < 0.01,
                `${r.name} ${v.width}x${v.height} keeps ${srcAspect.toFixed(3)}`);
            assert.ok(Math.abs(C.rate(v.avg_frame_rate || v.r_frame_rate) - 30)
                < 0.05, `${r.name} frame rate ${v.r_frame_rate}`);
        }
        const a = C.audioStream(C.probeSegment(path.join(out, 'audio', 'init.mp4'),
            path.join(out, 'audio', 'seg-1.m4s')));
        assert.equal(a.codec_name, 'aac');
        assert.equal(a.channels, 2);
    });

    test('segment boundaries are identical across video rungs', () => {
        const ref = mediaPlaylist(rungs[0].name).segments.map((s) => s.duration);
        const total = ref.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(total - 10) < 0.1, `total ${total}`);
        assert.ok(Math.abs(ref[0] - 6) < 0.05, `first segment ${ref[0]} s`);
        const starts = {};
        for (const r of rungs) {
            const d = mediaPlaylist(r.name).segments.map((s) => s.duration);
            assert.deepEqual(d, ref, `${r.name} EXTINF list`);
            // tfdt: the first packet of each segment, and a keyframe there.
            starts[r.name] = segFiles(r.name).map((f) => {
                const p = C.probeSegment(path.join(out, r.name, 'init.mp4'), f,
                    ['-select_streams', 'v', '-show_entries',
                        'packet=pts_time,flags', '-read_intervals', '%+#1']);
                const pkt = p.packets[0];
                assert.ok(pkt.flags.startsWith('K'), `${f} starts on a keyframe`);
                return Number(pkt.pts_time).toFixed(3);
            });
        }
        for (const r of rungs)
            assert.deepEqual(starts[r.name], starts[rungs[0].name],
                `${r.name} segment start times`);
    });

    test('keyframes every 2 s inside a segment', () => {
        const r = rungs[rungs.length - 1].name;
        const p = C.probeSegment(path.join(out, r, 'init.mp4'),
            path.join(out, r, 'seg-1.m4s'),
            ['-select_streams', 'v', '-show_entries', 'packet=pts_time,flags']);
        const keys = p.packets.filter((k) => k.flags.startsWith('K'))
            .map((k) => Number(k.pts_time));
        const t0 = keys[0];
        assert.deepEqual(keys.map((t) => Math.round((t - t0) * 10) / 10),
            [0, 2, 4]);
    });

    test('declared bandwidths are within 10% of the bytes written', () => {
        const measure = (dir) => {
            const pl = mediaPlaylist(dir);
            let bytes = 0, dur = 0, peak = 0;
            for (const s of pl.segments) {
                const b = fs.statSync(path.join(out, dir, s.uri)).size;
                bytes += b;
                dur += s.duration;
                peak = Math.max(peak, (b * 8) / s.duration);
            }
            return { avg: (bytes * 8) / dur, peak };
        };
        const audioGroups = new Map();
        for (const m of master.media.filter((x) => x.TYPE === 'AUDIO'))
            audioGroups.set(m['GROUP-ID'], path.dirname(m.URI));
        assert.equal(master.variants.length, rungs.length);
        for (const v of master.variants) {
            const dir = path.dirname(v.uri);
            const m = measure(dir);
            if (v.attrs.AUDIO) {
                const a = measure(audioGroups.get(v.attrs.AUDIO));
                m.avg += a.avg;
                m.peak += a.peak;
            }
            const bw = Number(v.attrs.BANDWIDTH);
            const avg = Number(v.attrs['AVERAGE-BANDWIDTH']);
            assert.ok(Math.abs(avg - m.avg) / m.avg <= 0.10,
                `${dir} AVERAGE-BANDWIDTH ${avg} vs measured ${Math.round(m.avg)}`);
            assert.ok(Math.abs(bw - m.peak) / m.peak <= 0.10,
                `${dir} BANDWIDTH ${bw} vs measured peak ${Math.round(m.peak)}`);
        }
    });

    test('master playlist carries the tags players need', () => {
        assert.ok(master.lines[0].startsWith('#EXTM3U'));
        assert.ok(master.tags.has('#EXT-X-INDEPENDENT-SEGMENTS'));
        const audio = master.media.filter((m) => m.TYPE === 'AUDIO');
        assert.equal(audio.length, 1, 'one audio rendition');
        assert.ok(fs.existsSync(path.join(out, audio[0].URI)));
        for (const v of master.variants) {
            const a = v.attrs;
            const dir = path.dirname(v.uri);
            assert.ok(fs.existsSync(path.join(out, v.uri)), v.uri);
            assert.match(a.CODECS, /^avc1\.[0-9A-Fa-f]{6},mp4a\.40\.2$/,
                `${dir} CODECS`);
            const p = C.videoStream(C.probeSegment(path.join(out, dir, 'init.mp4'),
                path.join(out, dir, 'seg-1.m4s')));
            assert.equal(a.RESOLUTION, `${p.width}x${p.height}`);
            assert.ok(Math.abs(Number(a['FRAME-RATE']) - 30) < 0.01,
                `FRAME-RATE ${a['FRAME-RATE']}`);
            assert.equal(a.AUDIO, audio[0]['GROUP-ID']);
        }
        assert.equal(master.iframes.length, rungs.length,
            'one EXT-X-I-FRAME-STREAM-INF per rung');
        for (const f of master.iframes) {
            assert.ok(fs.existsSync(path.join(out, f.URI)), f.URI);
            assert.ok(Number(f.BANDWIDTH) > 0);
            const ip = C.parseMedia(C.readText(path.join(out, f.URI)));
            assert.ok(ip.tags.has('#EXT-X-I-FRAMES-ONLY'), `${f.URI} I-FRAMES-ONLY`);
            assert.ok(ip.segments.length >= 5, `${f.URI}: one entry per keyframe`);
        }
    });

    test('every playlist and the MPD on disk validate strictly', async () => {
        const V = validator('transcode');
        // the asset's root: its top-level pair and the whole version
        assert.ok(V.checkDir(job.dir) >= 10, 'playlists and the MPDs found');
        await V.assertClean();
    });

    test('one published version: the top-level manifests point into it', () => {
        const version = job.result.version;
        assert.match(version, /^\d{8}T\d{9}Z-[0-9a-f]{16}$/);
        assert.equal(path.relative(job.dir, out), path.join('v', version));
        assert.deepEqual(fs.readdirSync(job.dir).filter((f) => !f.startsWith('.'))
            .sort(), ['manifest.mpd', 'master.m3u8', 'v']);
        const base = `v/${version}/`;
        // the top-level master is the version's with every URI under base
        const top = C.readText(path.join(job.dir, 'master.m3u8'));
        const own = C.readText(path.join(out, 'master.m3u8'));
        assert.equal(top.split(base).join(''), own);
        for (const line of top.split('\n'))
            if (line && !line.startsWith('#'))
                assert.ok(line.startsWith(base), line);
        for (const m of top.matchAll(/URI="([^"]*)"/g))
            assert.ok(m[1].startsWith(base), m[1]);
        // the top-level MPD: the version's with a BaseURL into it
        const mpd = C.readText(path.join(job.dir, 'manifest.mpd'));
        assert.equal(mpd.replace(`  <BaseURL>${base}</BaseURL>\n`, ''),
            C.readText(path.join(out, 'manifest.mpd')));
    });

    test('manifest.mpd is valid XML and lists the same representations', () => {
        const mpd = path.join(out, 'manifest.mpd');
        const x = spawnSync('xmllint', ['--noout', mpd], { encoding: 'utf8' });
        assert.equal(x.status, 0, `xmllint: ${x.stderr}`);
        const xml = C.readText(mpd);
        assert.match(xml, /type="static"/);
        assert.match(xml, /mediaPresentationDuration="PT/);
        const reps = C.parseMpdRepresentations(xml);
        const kind = (r) => r.contentType || (r.mimeType || '').split('/')[0];
        const video = reps.filter((r) => kind(r) === 'video');
        const audio = reps.filter((r) => kind(r) === 'audio');
        assert.deepEqual(video.map((r) => Number(r.height)).sort((a, b) => b - a),
            master.variants.map((v) => Number(v.attrs.RESOLUTION.split('x')[1]))
                .sort((a, b) => b - a));
        assert.equal(audio.length, 1);
        for (const r of video)
            assert.match(r.codecs || '', /^avc1\./);
        // Each Representation's SegmentTimeline gives the same segment
        // durations as its HLS playlist (one set of CMAF files, two manifests).
        const repRe = /<Representation\b[^>]*\bid="([^"]+)"[^>]*>([\s\S]*?)<\/Representation>/g;
        let m, checked = 0;
        while ((m = repRe.exec(xml))) {
            const [, id, body] = m;
            if (!fs.existsSync(path.join(out, id, 'index.m3u8')))
                continue;
            const ts = Number(C.xmlAttrs(/<SegmentTemplate\b([^>]*)>/
                .exec(body)[1]).timescale);
            const durs = [];
            for (const sm of body.matchAll(/<S\b([^>]*)\/>/g)) {
                const a = C.xmlAttrs(sm[1]);
                for (let k = 0; k <= Number(a.r || 0); k++)
                    durs.push(Number(a.d) / ts);
            }
            const hls = mediaPlaylist(id).segments.map((x) => x.duration);
            assert.equal(durs.length, hls.length, `${id} segment count`);
            durs.forEach((d, k) => assert.ok(Math.abs(d - hls[k]) < 0.002,
                `${id} segment ${k + 1}: MPD ${d} vs EXTINF ${hls[k]}`));
            checked++;
        }
        assert.equal(checked, rungs.length + 1, 'every rung and the audio');
    });

    test('thumbnails: poster, sprites and a WebVTT track inside them', () => {
        const t = path.join(out, 'thumbs');
        const poster = C.videoStream(C.ffprobe(path.join(t, 'poster.jpg')));
        assert.equal(poster.codec_name, 'mjpeg');
        assert.ok(poster.width > 0 && poster.height > 0);
        const vtt = C.readText(path.join(t, 'thumbs.vtt'));
        assert.ok(vtt.startsWith('WEBVTT'));
        const cues = C.parseVtt(vtt);
        assert.ok(cues.length >= 2, `${cues.length} cues`);
        assert.equal(cues[0].start, 0);
        for (let i = 1; i < cues.length; i++)
            assert.ok(Math.abs(cues[i].start - cues[i - 1].end) < 0.002,
                `cue ${i} follows cue ${i - 1}`);
        assert.ok(Math.abs(cues[cues.length - 1].end - 10) < 1.01,
            `last cue ends at ${cues[cues.length - 1].end}`);
        const sprites = new Map();
        for (const c of cues) {
            const m = /^(.+)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(c.text.trim());
            assert.ok(m, `cue text ${c.text}`);
            const [, file, x, y, w, h] = m;
            if (!sprites.has(file))
                sprites.set(file, C.videoStream(C.ffprobe(path.join(t, file))));
            const s = sprites.get(file);
            assert.ok(Number(w) > 0 && Number(h) > 0);
            assert.ok(Number(x) + Number(w) <= s.width &&
                Number(y) + Number(h) <= s.height,
                `${c.text} inside ${file} ${s.width}x${s.height}`);
        }
        assert.ok([...sprites.keys()].every((f) => /^sprite-\d+\.jpg$/.test(f)));
        const images = C.readText(path.join(t, 'images.m3u8'));
        assert.ok(images.startsWith('#EXTM3U'), 'thumbs/images.m3u8');
    });
});
