// Timestamps as encoders send them (issue 11): cirrus-ingest's repair
// stage keeps every frame of publishers whose timestamps are repeated,
// bunched, jittered, stepping back, wrapping at 2^32 ms, with negative
// composition offsets, late or vanishing audio, or a new sequence header
// mid-stream.  Each case publishes a few seconds over real RTMP into one
// cirrus-ingest (passthrough, no preset), the cases in parallel; nginx
// from the shipped samples/nginx.conf serves the result.  For each case: every rendition has
// segments, the video holds (nearly) every frame published (ffprobe
// -count_frames over init + segments fetched through nginx), the log has
// no "dropping a ... packet", and /metrics counted the repairs by kind.
//
// Publishers: the ffmpeg CLI with its setts bitstream filter (bunched and
// jittered DTS), and, for what the CLI cannot send (it rewrites backward
// DTS and PTS < DTS itself before muxing), a small RTMP publisher in this
// file that sends the tags of an FLV file made by ffmpeg with rewritten
// timestamps.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, startShippedNginx } from './lib/nginx.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const missing = !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
    : !C.hasTool('ffmpeg') ? 'ffmpeg missing'
        : !nginxAvailable() ? 'nginx module not built' : null;
const SECONDS = 5; // media published per case
const FPS = 30;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let ingest, nginx, liveRoot, work, rtmpPort, statusPort, log = '';
const src = {}; // FLV sources, made before the cases run in parallel
const metricsSeen = new Map(); // key -> Map(`${track}/${kind}` -> count)

// (the ingest's log tail when it times out)
const waitFor = (what, fn, timeoutMs = 30000) => C.waitFor(what, fn,
    { timeoutMs, every: 150, detail: () => log.slice(-3000) });

// ---- the repair counters, polled while the streams run -----------------

async function pollMetrics() {
    let text;
    try {
        text = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
    } catch {
        return;
    }
    const re = /^cirrus_ingest_stream_timestamp_repairs_total\{app="live",key="([^"]+)",track="(\w+)",kind="(\w+)"\} (\d+)$/gm;
    let m;
    while ((m = re.exec(text))) {
        const seen = metricsSeen.get(m[1]) ?? new Map();
        metricsSeen.set(m[1], seen);
        const id = `${m[2]}/${m[3]}`;
        seen.set(id, Math.max(seen.get(id) ?? 0, Number(m[4])));
    }
}

function repairs(key, track, kind) {
    return metricsSeen.get(key)?.get(`${track}/${kind}`) ?? 0;
}

// The counts the pipeline logs once, at the stream's end: "timestamp
// repairs: video repeated_dts=100 ..." ({} when there were none).
function finalRepairs(key) {
    const m = log.match(new RegExp(`stream=${key}\\] timestamp repairs:(.*)`));
    const out = {};
    for (const [, track, kind, n] of (m?.[1] ?? '').matchAll(/(\w+) (\w+)=(\d+)/g))
        out[`${track}/${kind}`] = Number(n);
    return out;
}

// ---- FLV: tags of a file made by ffmpeg ---------------------------------

// [{type: 8|9|18, ts, data}] of an FLV file.
function flvTags(file) {
    const b = fs.readFileSync(file);
    assert.equal(b.toString('latin1', 0, 3), 'FLV');
    const tags = [];
    for (let o = b.readUInt32BE(5) + 4; o + 11 <= b.length;) {
        const type = b[o] & 0x1f, size = b.readUIntBE(o + 1, 3);
        const ts = (b.readUIntBE(o + 4, 3) | (b[o + 7] << 24)) >>> 0;
        tags.push({ type, ts, data: Buffer.from(b.subarray(o + 11, o + 11 + size)) });
        o += 11 + size + 4;
    }
    return tags;
}

const isVideo = (t) => t.type === 9;
const isAudio = (t) => t.type === 8;
// AVC: byte 1 is the packet type (0 sequence header, 1 NAL units), bytes
// 2..4 the composition time (signed 24 bits, ms)
const isFrame = (t) => (isVideo(t) || isAudio(t)) && t.data[1] === 1;
const cts = (t) => (t.data.readIntBE(2, 3));
const setCts = (t, v) => t.data.writeIntBE(v, 2, 3);

function makeFlv(name, { size = '320x180', bframes = 0, seconds = SECONDS,
    audio = true, rate = 48000, channels = 1 } = {}) {
    const out = path.join(work, `${name}.flv`);
    const args = ['-nostdin', '-hide_banner', '-loglevel', 'error',
        '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${FPS}`];
    if (audio)
        args.push('-f', 'lavfi', '-i', `sine=sample_rate=${rate}`);
    args.push('-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast',
        '-g', '60', '-bf', String(bframes), '-pix_fmt', 'yuv420p');
    if (bframes)
        args.push('-x264-params', `bframes=${bframes}:b-adapt=0`);
    if (audio)
        args.push('-c:a', 'aac', '-b:a', '64k', '-ac', String(channels));
    args.push('-f', 'flv', '-y', out);
    const r = spawnSync('ffmpeg', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return flvTags(out);
}

// ---- a small RTMP publisher (what the ffmpeg CLI cannot send) -----------

function amf0(values) {
    const parts = [];
    const put = (v) => {
        if (v === null) {
            parts.push(Buffer.from([5]));
        } else if (typeof v === 'number') {
            const b = Buffer.alloc(9);
            b[0] = 0;
            b.writeDoubleBE(v, 1);
            parts.push(b);
        } else if (typeof v === 'string') {
            const s = Buffer.from(v);
            const b = Buffer.alloc(3);
            b[0] = 2;
            b.writeUInt16BE(s.length, 1);
            parts.push(b, s);
        } else {
            parts.push(Buffer.from([3]));
            for (const [k, x] of Object.entries(v)) {
                const kb = Buffer.from(k), l = Buffer.alloc(2);
                l.writeUInt16BE(kb.length);
                parts.push(l, kb);
                put(x);
            }
            parts.push(Buffer.from([0, 0, 9]));
        }
    };
    values.forEach(put);
    return Buffer.concat(parts);
}

const CHUNK = 4096;

// One message as RTMP chunks: a type-0 header (extended timestamp past
// 0xffffff, repeated in the type-3 continuations), then type-3 chunks.
function chunks(csid, ts, type, streamId, payload) {
    ts = Number(BigInt.asUintN(32, BigInt(ts)));
    const ext = ts >= 0xffffff;
    const head = Buffer.alloc(12 + (ext ? 4 : 0));
    head[0] = csid;
    head.writeUIntBE(ext ? 0xffffff : ts, 1, 3);
    head.writeUIntBE(payload.length, 4, 3);
    head[7] = type;
    head.writeUInt32LE(streamId, 8);
    if (ext)
        head.writeUInt32BE(ts, 12);
    const out = [head];
    for (let o = 0; o < payload.length; o += CHUNK) {
        if (o > 0) {
            const c = Buffer.alloc(ext ? 5 : 1);
            c[0] = 0xc0 | csid;
            if (ext)
                c.writeUInt32BE(ts, 1);
            out.push(c);
        }
        out.push(payload.subarray(o, o + CHUNK));
    }
    return Buffer.concat(out);
}

// Publishes tags [{type, ts (as sent), at (ms after the start to send
// it), data}] to rtmp://.../live/key at their pace; resolves when sent and
// unpublished.  stopAt (optional): called before the unpublish.
async function rtmpPublish(key, tags, { beforeUnpublish } = {}) {
    const sock = net.connect(rtmpPort, '127.0.0.1');
    let inbox = Buffer.alloc(0);
    sock.on('data', (d) => (inbox = Buffer.concat([inbox, d])));
    await new Promise((ok, fail) => {
        sock.once('connect', ok);
        sock.once('error', fail);
    });
    sock.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(8),
        crypto.randomBytes(1528)]));
    await waitFor('S0 S1 S2', () => inbox.length >= 1 + 1536 * 2, 5000);
    sock.write(inbox.subarray(1, 1 + 1536)); // C2 echoes S1
    inbox = inbox.subarray(1 + 1536 * 2);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(CHUNK);
    sock.write(chunks(2, 0, 1, 0, size));
    const tcUrl = `rtmp://127.0.0.1:${rtmpPort}/live`;
    sock.write(chunks(3, 0, 20, 0, amf0(['connect', 1,
        { app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl }])));
    sock.write(chunks(3, 0, 20, 0, amf0(['createStream', 2, null])));
    sock.write(chunks(3, 0, 20, 1, amf0(['publish', 3, null, key, 'live'])));
    await waitFor(`${key}: NetStream.Publish.Start`,
        () => inbox.includes('NetStream.Publish.Start'), 10000);
    const t0 = Date.now();
    for (const t of tags) {
        const wait = t0 + t.at - Date.now();
        if (wait > 0)
            await sleep(wait);
        const type = t.type === 18 ? 18 : t.type;
        sock.write(chunks(t.type === 9 ? 6 : t.type === 8 ? 4 : 5, t.ts, type, 1,
            t.data));
    }
    await beforeUnpublish?.();
    sock.write(chunks(3, 0, 20, 1, amf0(['FCUnpublish', 4, null, key])));
    sock.write(chunks(3, 0, 20, 0, amf0(['deleteStream', 5, null, 1])));
    await sleep(200);
    sock.end();
}

// The tags of an FLV with the metadata first, each paced at its own
// timestamp, retimed by fn(tag, k) (k counts the tags of its track).
function plan(tags, fn = () => {}) {
    const first = tags.find(isFrame)?.ts ?? 0;
    const count = { 8: 0, 9: 0 };
    return tags.map((t) => {
        const u = { type: t.type, ts: t.ts, at: Math.max(0, t.ts - first),
            data: Buffer.from(t.data) };
        if (isFrame(t))
            fn(u, count[t.type]++);
        return u;
    });
}

// ---- the ffmpeg CLI with setts -------------------------------------------

function ffmpegPublish(key, bsf, { extra = [] } = {}) {
    const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=${FPS}`,
        '-f', 'lavfi', '-i', 'sine', '-t', String(SECONDS),
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
        '-g', '60', ...extra, '-bsf:v', bsf, '-c:a', 'aac', '-b:a', '64k',
        '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`];
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    return new Promise((ok) => child.on('exit', (code) => ok({ code, err })));
}

// ---- what the origin serves ----------------------------------------------

async function get(p) {
    const r = await fetch(`http://127.0.0.1:${nginx.port}${p}`);
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

// Segments of a media playlist grouped by their EXT-X-MAP, with
// discontinuities counted.
function mediaGroups(text) {
    const groups = [];
    let map = null, disc = 0;
    for (const l of text.split('\n').map((x) => x.trim())) {
        if (l.startsWith('#EXT-X-MAP:')) {
            map = C.parseAttrs(l.slice(11)).URI;
            groups.push({ map, segments: [] });
        } else if (l === '#EXT-X-DISCONTINUITY') {
            disc++;
        } else if (l && !l.startsWith('#')) {
            groups.at(-1).segments.push(l);
        }
    }
    return { groups, disc, ended: /#EXT-X-ENDLIST/.test(text) };
}

// Frames in a rendition: every init + its segments, fetched through nginx,
// counted by ffprobe.
async function renditionFrames(key, rendition, kind) {
    const base = `/live/${key}/${rendition}/`;
    const pl = await get(`${base}index.m3u8`);
    assert.equal(pl.status, 200, `${base}index.m3u8`);
    const m = mediaGroups(pl.body.toString());
    assert.ok(m.ended, `${key}/${rendition} ended`);
    let frames = 0, segments = 0;
    for (const [i, g] of m.groups.entries()) {
        const bufs = [(await get(base + g.map)).body];
        for (const s of g.segments) {
            const r = await get(base + s);
            assert.equal(r.status, 200, base + s);
            bufs.push(r.body);
            segments++;
        }
        const file = path.join(work, `${key}-${rendition}-${i}.mp4`);
        fs.writeFileSync(file, Buffer.concat(bufs));
        const p = C.ffprobe(file, ['-count_frames', '-select_streams',
            kind === 'video' ? 'v:0' : 'a:0', '-show_entries',
            'stream=nb_read_frames']);
        frames += Number(p.streams[0].nb_read_frames);
    }
    return { frames, segments, disc: m.disc, groups: m.groups.length };
}

// The checks every case shares: master playlist, segments in every
// rendition, the video frames, no dropped packets in the log.
async function checkStream(key, { videoFrames, audioFrames, beforeVideo,
    audio = true, slack = 0 }) {
    await waitFor(`${key} ended`, async () => {
        const r = await get(`/live/${key}/video/index.m3u8`);
        return r.status === 200 && /#EXT-X-ENDLIST/.test(r.body.toString());
    });
    const master = await get(`/live/${key}/master.m3u8`);
    assert.equal(master.status, 200, `${key}: master playlist`);
    const v = await renditionFrames(key, 'video', 'video');
    assert.ok(v.segments >= 2, `${key}: video segments ${v.segments}`);
    assert.ok(v.frames >= videoFrames - slack && v.frames <= videoFrames,
        `${key}: ${v.frames} video frames of ${videoFrames} published`);
    let a = null;
    if (audio) {
        a = await renditionFrames(key, 'audio', 'audio');
        assert.ok(a.segments >= 2, `${key}: audio segments ${a.segments}`);
        if (audioFrames !== undefined) {
            // all but those before the stream's start and those wholly
            // before the video's first segment (both counted)
            const fin = finalRepairs(key);
            if (beforeVideo !== undefined)
                assert.equal(fin['audio/before_video'] ?? 0, beforeVideo,
                    `${key}: audio frames before the video counted`);
            const early = (fin['audio/before_start'] ?? 0) +
                (fin['audio/before_video'] ?? 0);
            // silence filled a hole, and frames late for their time went
            const filled = (fin['audio/silence_filled'] ?? 0) -
                (fin['audio/overlapped_silence'] ?? 0);
            assert.equal(a.frames, audioFrames - early + filled, `${key}: audio frames`);
        }
    }
    console.log(`# ${key}: ${v.frames} of ${videoFrames} video frames in ` +
        `${v.segments} segments, audio ${a ? a.segments : '-'} segments, ` +
        `repairs ${JSON.stringify(finalRepairs(key))}`);
    const lines = log.split('\n').filter((l) => l.includes(`stream=${key}]`));
    assert.ok(!lines.some((l) => /dropping a (video|audio) packet/.test(l)),
        lines.join('\n'));
    return { v, a, lines };
}

before(async () => {
    if (missing)
        return;
    work = C.tmpDir('live-ts-');
    liveRoot = path.join(work, 'live');
    fs.mkdirSync(liveRoot);
    rtmpPort = await freePort();
    statusPort = await freePort();
    ingest = spawn(INGEST_BIN, ['--set', `port=${rtmpPort}`,
        '--set', `status_port=${statusPort}`, '--set', `live_root=${liveRoot}`,
        '--set', 'grace_seconds=1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    ingest.stderr.on('data', (d) => (log += d));
    await waitFor('cirrus-ingest to listen', () => /listening rtmp=/.test(log), 5000);
    nginx = await startShippedNginx('sample', { liveRoot });
    src.plain = makeFlv('plain');
    src.bframes = makeFlv('bframes', { bframes: 2 });
    src.seqa = makeFlv('seqa', { seconds: 3 });
    src.seqb = makeFlv('seqb', { seconds: 3, size: '256x144', rate: 44100,
        channels: 2 });
    const poll = setInterval(pollMetrics, 200);
    poll.unref();
});

after(async () => {
    ingest?.kill('SIGTERM');
    fs.writeFileSync('/tmp/af-ingest.log', log);
    await nginx?.stop();
});

// Sends plan(tags) and polls the metrics once more before unpublishing.
async function publishPlan(key, tags) {
    await rtmpPublish(key, tags, { beforeUnpublish: async () => {
        await sleep(400);
        await pollMetrics();
    } });
    // audio frames that end (the next one starts) at or before the first
    // video frame of their timeline (the stream's start, and each new
    // sequence header: a break): the audio's segment starts with the
    // video's, so the packager drops them, counted as before_video
    const runs = (pred) => {
        const out = [];
        for (const t of tags) {
            if (pred(t) && !isFrame(t) && t.data[1] === 0)
                out.push([]);
            else if (pred(t) && isFrame(t) && out.length)
                out[out.length - 1].push(t);
        }
        return out;
    };
    const vruns = runs(isVideo), aruns = runs(isAudio);
    let beforeVideo = 0;
    aruns.forEach((af, k) => {
        const vfirst = vruns[Math.min(k, vruns.length - 1)]?.[0]?.ts;
        if (vfirst === undefined)
            return;
        for (let i = 0; i + 1 < af.length && af[i + 1].ts <= vfirst; i++)
            beforeVideo++;
    });
    const af = tags.filter((t) => isAudio(t) && isFrame(t));
    return { videoFrames: tags.filter((t) => isVideo(t) && isFrame(t)).length,
        audioFrames: af.length, beforeVideo };
}

describe('timestamps as encoders send them', { skip: missing || false,
    concurrency: true }, () => {
    test('ffmpeg setts: three frames share each DTS (bunched)', async () => {
        const r = await ffmpegPublish('bunched',
            'setts=dts=if(mod(N\\,3)\\,PREV_OUTDTS\\,DTS)');
        assert.equal(r.code, 0, r.err);
        const { lines } = await checkStream('bunched',
            { videoFrames: SECONDS * FPS });
        // counted in /metrics while the stream ran, and all of them (two
        // of every three frames) in the log at its end
        assert.ok(repairs('bunched', 'video', 'repeated_dts') >= 50,
            `repeated_dts ${repairs('bunched', 'video', 'repeated_dts')}`);
        // and the AAC encoder's first frame, which ffmpeg's FLV muxer puts
        // a frame before the first video frame (its priming): audio
        // segment 0 starts with the video's, so it is dropped, counted
        assert.deepEqual(finalRepairs('bunched'),
            { 'video/repeated_dts': SECONDS * FPS * 2 / 3,
                'audio/before_video': 1 });
        // logged once, not per packet
        assert.equal(lines.filter((l) =>
            /video timestamps: repeated_dts/.test(l)).length, 1);
    });

    test('ffmpeg setts: DTS and PTS jittered by up to 60 ms', async () => {
        const r = await ffmpegPublish('jitter',
            'setts=ts=TS+floor(random(0)*61)',
            { extra: ['-enc_time_base:v', '1:1000'] });
        assert.equal(r.code, 0, r.err);
        await checkStream('jitter', { videoFrames: SECONDS * FPS });
        assert.ok(repairs('jitter', 'video', 'repeated_dts') +
            repairs('jitter', 'video', 'backward_dts') > 0);
        assert.equal(repairs('jitter', 'video', 'discontinuity'), 0);
    });

    test('B-frames as OBS x264 (bframes=2) sends them: nothing to repair', async () => {
        const tags = plan(src.bframes);
        assert.ok(tags.some((t) => isVideo(t) && isFrame(t) && cts(t) > 0));
        const { v } = await checkStream('obs', await publishPlan('obs', tags));
        assert.equal(v.disc, 0);
        assert.deepEqual(finalRepairs('obs'), {});
    });

    test('backward steps and negative CTS (OBS x264 bframes=2)', async () => {
        const tags = plan(src.bframes, (t, k) => {
            if (isVideo(t)) {
                // DTS as an encoder that does not delay them sends: 67 ms
                // later, composition offsets 67 ms smaller (some < 0)
                t.ts += 67;
                setCts(t, cts(t) - 67);
                if (k % 15 === 7)
                    t.ts -= 40; // and a step back now and then
            }
        });
        assert.ok(tags.some((t) => isVideo(t) && isFrame(t) && cts(t) < 0));
        // (the stream starts at the first packet sent, an audio one; the
        // repair stage drops what comes before, counted; no frame count
        // of our own for the audio before the video here)
        const { beforeVideo, ...counts } = await publishPlan('negcts', tags);
        await checkStream('negcts', counts);
        assert.ok(repairs('negcts', 'video', 'negative_cts') > 0);
        assert.ok(repairs('negcts', 'video', 'backward_dts') >= 5);
        assert.equal(repairs('negcts', 'video', 'discontinuity'), 0);
    });

    test('RTMP timestamps wrapping at 2^32 ms (extended timestamps)', async () => {
        const start = 2 ** 32 - 2500; // the wrap 2.5 s in
        const tags = plan(src.plain, (t) => {
            t.ts = (t.ts + start) % 2 ** 32;
        });
        const { v } = await checkStream('wrap', await publishPlan('wrap', tags));
        assert.equal(v.disc, 0, 'no discontinuity at the wrap');
        assert.equal(repairs('wrap', 'video', 'wrap'), 1);
        assert.equal(repairs('wrap', 'audio', 'wrap'), 1);
    });

    test('audio appearing late, vanishing and returning', async () => {
        // no audio for the first 1.2 s and between 2.5 s and 4 s, and the
        // audio 80 ms behind the video (skew)
        const tags = plan(src.plain, (t) => {
            if (isAudio(t))
                t.ts += 80;
        }).filter((t) => !(isAudio(t) && isFrame(t) &&
            (t.at < 1200 || (t.at >= 2500 && t.at < 4000))));
        const { v } = await checkStream('gaps', await publishPlan('gaps', tags));
        assert.equal(v.disc, 0);
        assert.equal(repairs('gaps', 'audio', 'gap'), 1);
        assert.equal(repairs('gaps', 'video', 'discontinuity') +
            repairs('gaps', 'audio', 'discontinuity'), 0);
    });

    // The repair stage keeps such a stream going (no break, every frame)
    // and silence stands in for the missing audio (kept 0.5 s behind the
    // video while none comes, the rest of the hole filled when it comes
    // back): the audio's parts and segments go on as the video's do,
    // none longer than its target.
    test('audio vanishing longer than a segment keeps the playlists valid', async () => {
        const tags = plan(src.plain).filter((t) => !(isAudio(t) && isFrame(t) &&
            t.at >= 1500 && t.at < 4900));
        const { v, a } = await checkStream('longgap', await publishPlan('longgap', tags));
        const td = {};
        for (const r of ['video', 'audio']) {
            const text = (await get(`/live/longgap/${r}/index.m3u8`)).body.toString();
            td[r] = Number(text.match(/#EXT-X-TARGETDURATION:(\d+)/)[1]);
            const target = Number(text.match(/PART-TARGET=([\d.]+)/)[1]);
            for (const m of text.matchAll(/#EXT-X-PART:DURATION=([\d.]+)/g))
                assert.ok(Number(m[1]) <= target, `${r} part ${m[1]} > ${target}`);
            // (rounded, as RFC 8216bis 4.4.3.1 compares them)
            for (const m of text.matchAll(/#EXTINF:([\d.]+)/g))
                assert.ok(Math.round(Number(m[1])) <= td[r], `${r} segment ${m[1]} > ${td[r]}`);
        }
        assert.equal(td.audio, td.video);
        assert.equal(a.segments, v.segments, 'the audio segmented as the video');
        // the hole's 3.4 s at 1024 samples per frame: all but the frames
        // that came back around it
        const filled = repairs('longgap', 'audio', 'silence_filled');
        assert.ok(filled >= 130 && filled <= 165, `${filled} frames of silence`);
        assert.ok(log.includes('stream=longgap] no audio for'), 'logged once');
    });

    test('new AVC and AAC sequence headers mid-stream: new inits, one discontinuity', async () => {
        const a = src.seqa, b = src.seqb;
        const end = Math.max(...a.filter(isFrame).map((t) => t.ts)) + 33;
        // b's sequence headers and frames continue a's timeline
        const tags = plan([...a, ...b.filter((t) => t.type !== 18)
            .map((t) => ({ ...t, ts: t.ts + end }))]);
        const { v, lines } = await checkStream('seqhdr',
            await publishPlan('seqhdr', tags));
        assert.equal(v.groups, 2, 'two init segments');
        assert.equal(v.disc, 1);
        assert.ok(lines.some((l) => /new video sequence header/.test(l)));
        assert.ok(lines.some((l) => /new audio sequence header/.test(l)));
        for (const r of ['video', 'audio']) {
            const init2 = await get(`/live/seqhdr/${r}/init-2.mp4`);
            assert.equal(init2.status, 200, `${r}/init-2.mp4`);
        }
        const p = C.ffprobe(path.join(work, 'seqhdr-audio-1.mp4'));
        assert.equal(C.audioStream(p).sample_rate, '44100');
        assert.equal(C.audioStream(p).channels, 2);
    });
});
