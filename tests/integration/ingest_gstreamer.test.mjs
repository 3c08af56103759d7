// A second and a third RTMP publisher stack (issue 11: "a bug that only a
// second publisher stack finds is still our bug"): GStreamer's own RTMP
// client (rtmp2sink) and librtmp (rtmpsink, the library many hardware
// encoders and older OBS builds are made on), each muxing with GStreamer's
// flvmux, x264 with B-frames as OBS sends them and AAC.  Neither shares
// code with the ffmpeg CLI the other tests publish with: their own
// handshake, chunking, AMF commands, FLV timestamps and metadata.
//
// cirrus-ingest (passthrough) behind nginx from the shipped
// samples/nginx.conf.  While each stream runs, its playlists and MPD are
// fetched every 250 ms through the strict validator; at its end every
// frame published is in the segments (ffprobe -count_frames through
// nginx), none was dropped, and a publisher that went away and came back
// gets its outage filled with media (the last picture, silence), not GAPs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, startShippedNginx } from './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const FPS = 30;
const GRACE = 8; // the outage case's publisher is away for about 3 s

// The GStreamer elements the publishers need, and the AAC encoder found
// (voaacenc from plugins-bad, else avenc_aac from gstreamer1.0-libav).
function gstElement(name) {
    return spawnSync('gst-inspect-1.0', ['--exists', name]).status === 0;
}
const AAC = ['voaacenc', 'avenc_aac'].find((e) => C.hasTool('gst-inspect-1.0') &&
    gstElement(e));
const missing = !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
    : !nginxAvailable() ? 'nginx module not built'
        : !C.hasTool('gst-launch-1.0') ? 'gst-launch-1.0 missing (gstreamer1.0-tools)'
            : ['videotestsrc', 'x264enc', 'h264parse', 'flvmux', 'aacparse',
                'rtmp2sink', 'rtmpsink'].find((e) => !gstElement(e)) ??
                (AAC ? null : 'no GStreamer AAC encoder');

const V = validator('ingest-gstreamer');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let ingest, nginx, liveRoot, rtmpPort, log = '';
const vget = V.wrapFetch();

const waitFor = (what, fn, timeoutMs = 30000) => C.waitFor(what, fn,
    { timeoutMs, every: 200, detail: () => log.slice(-3000) });

before(async () => {
    if (missing)
        return;
    liveRoot = C.tmpDir('ingest-gst-');
    rtmpPort = await freePort();
    ingest = spawn(INGEST_BIN, ['--set', `port=${rtmpPort}`,
        '--set', `live_root=${liveRoot}`, '--set', `grace_seconds=${GRACE}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    ingest.stderr.on('data', (d) => (log += d));
    await waitFor('cirrus-ingest to listen', () => /listening rtmp=/.test(log), 5000);
    nginx = await startShippedNginx('sample', { liveRoot });
});

after(async () => {
    ingest?.kill('SIGTERM');
    await nginx?.stop();
});

afterEach(() => V.assertClean());

// gst-launch-1.0's arguments for `seconds` of 320x180 video (x264, two
// B-frames, a key frame every 2 s) and 48 kHz stereo AAC, paced as live,
// flvmux'ed to sink (its element and properties, as words).
function pipeline(sink, seconds) {
    const frames = seconds * FPS;
    const audioBuffers = Math.ceil(seconds * 48000 / 1024);
    return ['-q', '-e',
        'videotestsrc', 'is-live=true', `num-buffers=${frames}`, 'pattern=smpte',
        '!', `video/x-raw,width=320,height=180,framerate=${FPS}/1,format=I420`,
        '!', 'x264enc', 'speed-preset=veryfast', 'bframes=2', 'b-adapt=false',
        'key-int-max=60', 'bitrate=400',
        '!', 'h264parse', '!', 'queue', '!', 'mux.',
        'audiotestsrc', 'is-live=true', 'wave=sine', 'freq=440',
        'samplesperbuffer=1024', `num-buffers=${audioBuffers}`,
        '!', 'audio/x-raw,rate=48000,channels=2',
        '!', 'audioconvert', '!', AAC, 'bitrate=64000',
        '!', 'aacparse', '!', 'queue', '!', 'mux.',
        'flvmux', 'name=mux', 'streamable=true', '!', ...sink];
}

const SINKS = {
    // GStreamer's own RTMP client
    rtmp2sink: (key) => ['rtmp2sink',
        `location=rtmp://127.0.0.1:${rtmpPort}/live/${key}`],
    // librtmp ("live=1": publish rather than play)
    rtmpsink: (key) => ['rtmpsink',
        `location=rtmp://127.0.0.1:${rtmpPort}/live/${key} live=1`],
};

// Publishes `seconds` with the given sink; resolves { code, err } at exit.
function gstPublish(sinkName, key, seconds) {
    const child = spawn('gst-launch-1.0', pipeline(SINKS[sinkName](key), seconds),
        { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (d) => (err += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((ok) => child.on('exit', (code) => ok({ code, err })));
    return { child, exited };
}

// Fetches the stream's playlists and MPD through the validator every
// 250 ms until stop() is called; resolves the number of rounds made.
function watchStream(key) {
    let stopped = false, rounds = 0;
    const done = (async () => {
        while (!stopped) {
            for (const p of ['master.m3u8', 'video/index.m3u8',
                'audio/index.m3u8', 'manifest.mpd']) {
                try {
                    await (await vget(`${nginx.base}/live/${key}/${p}`)).arrayBuffer();
                } catch {
                    // the validator records what it saw; a refused
                    // connection is not a playlist
                }
            }
            rounds++;
            await sleep(250);
        }
        return rounds;
    })();
    return { stop: () => { stopped = true; return done; } };
}

async function get(p) {
    const r = await fetch(`${nginx.base}${p}`);
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

// The media playlist's lines, by init: [{ map, segments: [{ uri, gap }] }].
function byInit(text) {
    const groups = [];
    let gap = false;
    for (const l of text.split('\n')) {
        if (l.startsWith('#EXT-X-MAP:'))
            groups.push({ map: C.parseAttrs(l.slice(11)).URI, segments: [] });
        else if (l === '#EXT-X-GAP')
            gap = true;
        else if (l && !l.startsWith('#')) {
            groups.at(-1).segments.push({ uri: l, gap });
            gap = false;
        }
    }
    return groups;
}

// Frames in a rendition's non-GAP segments (each init joined to its
// segments, fetched through nginx, counted by ffprobe) and its segments.
async function renditionFrames(key, rendition, kind) {
    const base = `/live/${key}/${rendition}/`;
    const text = (await get(`${base}index.m3u8`)).body.toString();
    assert.match(text, /#EXT-X-ENDLIST/, `${key}/${rendition} ended`);
    const dir = C.tmpDir('gst-frames-');
    let frames = 0, segments = 0, gaps = 0;
    for (const [i, g] of byInit(text).entries()) {
        const bufs = [(await get(base + g.map)).body];
        for (const s of g.segments) {
            if (s.gap) {
                gaps++;
                continue;
            }
            const r = await get(base + s.uri);
            assert.equal(r.status, 200, base + s.uri);
            bufs.push(r.body);
            segments++;
        }
        const file = path.join(dir, `${i}.mp4`);
        fs.writeFileSync(file, Buffer.concat(bufs));
        const p = C.ffprobe(file, ['-v', 'error', '-count_frames', '-select_streams',
            kind === 'video' ? 'v:0' : 'a:0', '-show_entries', 'stream=nb_read_frames']);
        frames += Number(p.streams[0].nb_read_frames);
    }
    return { frames, segments, gaps, text };
}

function streamLog(key) {
    return log.split('\n').filter((l) => l.includes(`stream=${key}]`));
}

describe('GStreamer publishers (rtmp2sink, librtmp)', { skip: missing || false,
    concurrency: true }, () => {
    for (const sink of Object.keys(SINKS)) {
        test(`${sink}: every frame kept, every playlist valid`, async () => {
            const key = `gst-${sink}`;
            const seconds = 6;
            const watch = watchStream(key);
            const pub = gstPublish(sink, key, seconds);
            const r = await pub.exited;
            assert.equal(r.code, 0, `gst-launch-1.0 (${sink}): ${r.err}`);
            await waitFor(`${key} ended`, async () =>
                /#EXT-X-ENDLIST/.test((await get(`/live/${key}/video/index.m3u8`))
                    .body.toString()), 20000);
            const rounds = await watch.stop();
            assert.ok(rounds >= 10, `playlists fetched ${rounds} times while live`);
            assert.equal((await get(`/live/${key}/master.m3u8`)).status, 200);
            const v = await renditionFrames(key, 'video', 'video');
            const a = await renditionFrames(key, 'audio', 'audio');
            console.log(`# ${sink}: ${v.frames} of ${seconds * FPS} video frames ` +
                `in ${v.segments} segments, ${a.frames} audio frames in ` +
                `${a.segments} segments, ${rounds} validation rounds`);
            assert.equal(v.frames, seconds * FPS, `${sink}: video frames kept`);
            // the audio starts with the video's first segment: the frames
            // before the first picture are not in it, counted as repairs
            const lines = streamLog(key);
            const repairs = lines.find((l) => /timestamp repairs:/.test(l)) ?? '';
            const early = [...repairs.matchAll(/audio before_(?:start|video)=(\d+)/g)]
                .reduce((n, m) => n + Number(m[1]), 0);
            // and silence leads in audio that starts after the picture
            const silence = Number(/audio silence_filled=(\d+)/.exec(repairs)?.[1] ?? 0);
            const published = Math.ceil(seconds * 48000 / 1024);
            assert.ok(a.frames >= published - early - 2 &&
                a.frames <= published + silence,
            `${sink}: ${a.frames} audio frames of ${published}, ${early} ` +
                `before the video, ${silence} of silence: ${repairs}`);
            assert.ok(!lines.some((l) => /dropping a (video|audio) packet/.test(l)),
                lines.join('\n'));
        });
    }

    // A clean end (EOS: rtmp2sink unpublishes) ends the stream at once; a
    // publisher that vanishes (killed) leaves an outage for the grace time.
    test('rtmp2sink: a publisher killed and back 3 s later: the outage is ' +
        'the last picture and silence, the playlists stay valid', async () => {
        const key = 'gst-outage';
        const watch = watchStream(key);
        const first = gstPublish('rtmp2sink', key, 60);
        await waitFor(`${key}: two segments`, async () =>
            ((await get(`/live/${key}/video/index.m3u8`)).body.toString()
                .match(/^seg-\d+\.m4s$/gm) || []).length >= 2, 20000);
        first.child.kill('SIGKILL');
        await first.exited;
        await waitFor(`${key}: publisher gone`,
            () => streamLog(key).some((l) => /publisher gone/.test(l)), 10000);
        await sleep(3000);
        const back = gstPublish('rtmp2sink', key, 5);
        await waitFor(`${key}: publisher is back`,
            () => streamLog(key).some((l) => /publisher is back/.test(l)), 10000);
        const r = await back.exited;
        assert.equal(r.code, 0, r.err);
        await waitFor(`${key} ended`, async () =>
            /#EXT-X-ENDLIST/.test((await get(`/live/${key}/video/index.m3u8`))
                .body.toString()), 20000);
        await watch.stop();
        const filled = streamLog(key).find((l) => /s without media: \d+ segment/.test(l));
        assert.ok(filled, `the outage filled: ${streamLog(key).join('\n')}`);
        const outage = Number(/without media: (\d+) segment/.exec(filled)[1]);
        const v = await renditionFrames(key, 'video', 'video');
        const a = await renditionFrames(key, 'audio', 'audio');
        console.log(`# outage: ${filled.replace(/^.*\] /, '')}; video ` +
            `${v.frames} frames in ${v.segments} segments, audio ${a.frames} ` +
            `frames in ${a.segments} segments`);
        for (const [rendition, x] of [['video', v], ['audio', a]]) {
            assert.equal(x.gaps, 0, `${rendition}: no GAP segment:\n${x.text}`);
            assert.match(x.text, /#EXT-X-DISCONTINUITY/, `${rendition}:\n${x.text}`);
        }
        assert.equal(v.segments, a.segments, 'the audio segmented as the video');
        // two segments before the kill, the outage's, the second publish's
        // 5 s whole
        assert.ok(outage >= 1 && v.segments >= 2 + outage + 2,
            `${v.segments} segments, ${outage} of the outage`);
        assert.ok(v.frames >= 2 * 2 * FPS + 5 * FPS, `${v.frames} video frames`);
        const lines = streamLog(key);
        assert.ok(!lines.some((l) => /dropping a (video|audio) packet/.test(l)),
            lines.join('\n'));
    });
});
