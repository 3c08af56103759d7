// A locked-down input: uploads that are really playlists, manifests or
// scripts (HLS, DASH, concat) named like videos are refused as bad input
// (exit 2, CIR_EUNSUPPORTED, a log line naming the container), from a local
// file and from s3:// through the S3 AVIOContext, and nothing they reference
// is ever fetched or opened:
// - an http server on 127.0.0.1 that the playlist names counts requests
//   (from a local input FFmpeg's `file` protocol already limits nested
//   opens to file, crypto and data; under the S3 AVIOContext there was no
//   limit at all: the old build fetched the playlist's http URL);
// - a "media file outside the job" the playlist names is a FIFO.  Opening a
//   FIFO for reading completes a writer's pending open, so the test keeps an
//   open for writing pending during the transcode: it completes only if
//   someone opened the file to read it.  (A FIFO, unlike atime, does not
//   depend on the mount's noatime/relatime, and nobody can read it without
//   the test seeing it.)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const TOOL = process.env.CIRRUS_AWS_TOOL ||
    path.join(C.BUILD_DIR, 'common', 'aws', 'cirrus-aws-tool');

const work = C.tmpDir('lockdown-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

// An http server that answers 404 and remembers every request.
function referencedServer() {
    const seen = [];
    const server = http.createServer((req, res) => {
        seen.push(`${req.method} ${req.url}`);
        res.writeHead(404).end();
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () =>
        resolve({ server, seen, url: `http://127.0.0.1:${server.address().port}` })));
}

// A FIFO at file: did anyone open it for reading while it was watched?
function watchedFifo(file) {
    assert.equal(spawnSync('mkfifo', [file]).status, 0, `mkfifo ${file}`);
    let opened = false;
    // a reader that came gets end-of-file at once (it must not hang)
    const writer = fs.promises.open(file, 'w').then((fh) => {
        opened = true;
        return fh.close();
    });
    return {
        file,
        // Resolves to whether a reader came; then releases the pending open.
        async readerCame() {
            // a reader's open completed the writer's open at once; its
            // callback may still be queued behind the child's exit
            await Promise.race([writer, new Promise((r) => setTimeout(r, 1000))]);
            const came = opened;
            const r = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
            await writer;
            fs.closeSync(r);
            return came;
        },
    };
}

function hlsPlaylist(segmentUri) {
    return ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:4',
        '#EXT-X-MEDIA-SEQUENCE:0', '#EXTINF:4.0,', segmentUri,
        '#EXTINF:4.0,', segmentUri, '#EXT-X-ENDLIST', ''].join('\n');
}

function dashManifest(baseUrl) {
    return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"
     profiles="urn:mpeg:dash:profile:isoff-live:2011"
     mediaPresentationDuration="PT8S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <BaseURL>${baseUrl}/dash/</BaseURL>
    <AdaptationSet mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" duration="4000" startNumber="1"
                       initialization="init.mp4" media="seg-$Number$.m4s"/>
      <Representation id="v" codecs="avc1.42c01e" bandwidth="500000"
                      width="320" height="240"/>
    </AdaptationSet>
  </Period>
</MPD>
`;
}

// The refusal: exit 2, a failed result naming the container, no asset.
function assertRefused(r, container, what) {
    assert.equal(r.code, 2, C.describe(r));
    assert.equal(r.result?.state, 'failed', C.describe(r));
    assert.equal(r.result.exit_code, 2);
    assert.equal(r.result.error_code, 'CIR_EUNSUPPORTED');
    const line = `input is ${what} (${container}): not an accepted upload format`;
    assert.ok(r.result.error.includes(line), `result error: ${r.result.error}`);
    assert.ok(r.stderr.includes(line), `the log names the container:\n${r.stderr}`);
    for (const f of ['master.m3u8', 'manifest.mpd'])
        assert.ok(!fs.existsSync(path.join(r.out, f)), `no ${f}`);
}

async function transcodeLocal(input, name) {
    const out = path.join(work, 'out', name);
    // a refusal is immediate; a build that follows the references may block
    const r = await C.transcode({ input, output: out, preset: 'mobile',
        timeoutMs: 20000 });
    return { ...r, out };
}

describe('uploads that reference other files are refused (local file)', () => {
    let web;
    before(async () => {
        web = await referencedServer();
    });
    after(() => web.server.close());

    test('an HLS playlist named x.mp4 pointing at http://127.0.0.1', async () => {
        const dir = path.join(work, 'hls-http');
        fs.mkdirSync(dir, { recursive: true });
        const x = path.join(dir, 'x.mp4');
        fs.writeFileSync(x, hlsPlaylist(`${web.url}/internal/seg.ts`));
        const r = await transcodeLocal(x, 'hls-http');
        assert.deepEqual(web.seen, [], 'the server saw no request');
        assertRefused(r, 'hls', 'an HLS playlist');
    });

    test('an HLS playlist named x.mp4 pointing at a local media file', async () => {
        const dir = path.join(work, 'hls-file');
        const elsewhere = path.join(work, 'other-customer');
        fs.mkdirSync(dir, { recursive: true });
        fs.mkdirSync(elsewhere, { recursive: true });
        const secret = watchedFifo(path.join(elsewhere, 'secret.mp4'));
        const x = path.join(dir, 'x.mp4');
        fs.writeFileSync(x, hlsPlaylist(`file:${secret.file}`));
        const r = await transcodeLocal(x, 'hls-file');
        const read = await secret.readerCame();
        assert.equal(read, false, `${secret.file} was opened for reading`);
        assertRefused(r, 'hls', 'an HLS playlist');
    });

    test('a DASH MPD named x.mp4', async () => {
        const dir = path.join(work, 'dash');
        fs.mkdirSync(dir, { recursive: true });
        const x = path.join(dir, 'x.mp4');
        fs.writeFileSync(x, dashManifest(web.url));
        const r = await transcodeLocal(x, 'dash');
        assert.deepEqual(web.seen, [], 'the server saw no request');
        assertRefused(r, 'dash', 'a DASH manifest');
    });

    test('an ffconcat script named x.mp4 naming a file beside it', async () => {
        const dir = path.join(work, 'concat');
        fs.mkdirSync(dir, { recursive: true });
        // the concat demuxer's safe mode allows a plain relative name
        const secret = watchedFifo(path.join(dir, 'neighbour.mp4'));
        const x = path.join(dir, 'x.mp4');
        fs.writeFileSync(x, 'ffconcat version 1.0\nfile neighbour.mp4\n');
        const r = await transcodeLocal(x, 'concat');
        const read = await secret.readerCame();
        assert.equal(read, false, `${secret.file} was opened for reading`);
        assertRefused(r, 'concat', 'a concat script');
    });

    test('every accepted container still transcodes', async () => {
        // small generated files: [name, ffmpeg output options, preset]
        const video = ['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25',
            '-f', 'lavfi', '-i', 'sine', '-t', '2'];
        const audio = ['-f', 'lavfi', '-i', 'sine', '-t', '2'];
        const cases = [
            ['a.mp4', [...video, '-c:v', 'libx264', '-c:a', 'aac'], 'mobile'],
            ['a.mov', [...video, '-c:v', 'libx264', '-c:a', 'aac'], 'mobile'],
            ['a.mkv', [...video, '-c:v', 'libx264', '-c:a', 'aac'], 'mobile'],
            ['a.webm', [...video, '-c:v', 'libvpx', '-c:a', 'libopus'], 'mobile'],
            ['a.ts', [...video, '-c:v', 'libx264', '-c:a', 'aac'], 'mobile'],
            ['a.flv', [...video, '-c:v', 'libx264', '-c:a', 'aac'], 'mobile'],
            ['a.avi', [...video, '-c:v', 'mpeg4', '-c:a', 'mp3'], 'mobile'],
            ['a.mxf', [...video, '-c:v', 'mpeg2video', '-c:a', 'pcm_s16le',
                '-ar', '48000'], 'mobile'],
            ['a.mpg', [...video, '-c:v', 'mpeg2video', '-c:a', 'mp2'], 'mobile'],
            ['a.gif', [...video.slice(0, 4), '-t', '2'], 'mobile'],
            ['a.wav', audio, 'audio-only'],
            ['a.mp3', audio, 'audio-only'],
            ['a.aac', [...audio, '-f', 'adts'], 'audio-only'],
            ['a.flac', audio, 'audio-only'],
            ['a.ogg', [...audio, '-c:a', 'libvorbis'], 'audio-only'],
            ['a.m4a', [...audio, '-c:a', 'aac'], 'audio-only'],
            ['a.png', [...video.slice(0, 4), '-frames:v', '1'], 'image'],
            ['a.jpg', [...video.slice(0, 4), '-frames:v', '1'], 'image'],
        ];
        const dir = path.join(work, 'accepted');
        fs.mkdirSync(dir, { recursive: true });
        for (const [name, opts, preset] of cases) {
            const f = path.join(dir, name);
            const ff = spawnSync('ffmpeg', ['-v', 'error', '-y', ...opts, f]);
            assert.equal(ff.status, 0, `${name}: ${ff.stderr}`);
            const r = await C.transcode({ input: f, output: path.join(work,
                'out', `ok-${name}`), preset, timeoutMs: 120000 });
            assert.equal(r.code, 0, C.describe(r));
        }
    });
});

describe('uploads that reference other files are refused (s3://)', {
    skip: !fs.existsSync(TOOL) && `${TOOL} is not built`,
}, () => {
    let rig, web;
    before(async () => {
        rig = await start({ notifyBuckets: [] });
        web = await referencedServer();
    });
    after(async () => {
        web.server.close();
        await stop(rig);
    });

    // spawn, not spawnSync: the http server lives in this process
    function runAsync(cmd, args) {
        return new Promise((resolve) => {
            const c = spawn(cmd, args, { env: { ...rig.env(),
                CIRRUS_PRESETS_DIR: C.PRESETS_DIR } });
            let stdout = '', stderr = '';
            c.stdout.on('data', (d) => { stdout += d; });
            c.stderr.on('data', (d) => { stderr += d; });
            const timer = setTimeout(() => c.kill('SIGKILL'), 20000);
            c.on('close', (code, signal) => {
                clearTimeout(timer);
                resolve({ code, signal, stdout, stderr, argv: args });
            });
        });
    }

    async function upload(key, text) {
        const f = path.join(work, `upload-${key.replace(/\W/g, '_')}`);
        fs.writeFileSync(f, text);
        const r = await runAsync(TOOL, ['s3-put', `s3://cirrus-in/${key}`, f]);
        assert.equal(r.code, 0, r.stderr);
    }

    async function transcodeS3(key, name) {
        const out = path.join(work, 'out', `s3-${name}`);
        const r = await runAsync(C.TRANSCODE_BIN, ['--input', `s3://cirrus-in/${key}`,
            '--output', out, '--preset', 'mobile']);
        return { ...r, result: C.lastJsonLine(r.stdout), out };
    }

    test('an HLS playlist uploaded as x.mp4 pointing at http://127.0.0.1', async () => {
        await upload('up/http/x.mp4', hlsPlaylist(`${web.url}/latest/meta-data/seg.ts`));
        const r = await transcodeS3('up/http/x.mp4', 'hls-http');
        assert.deepEqual(web.seen, [], 'the server saw no request');
        assertRefused(r, 'hls', 'an HLS playlist');
    });

    test('an HLS playlist uploaded as x.mp4 pointing at a local media file', async () => {
        const elsewhere = path.join(work, 's3-other-customer');
        fs.mkdirSync(elsewhere, { recursive: true });
        const secret = watchedFifo(path.join(elsewhere, 'secret.mp4'));
        await upload('up/file/x.mp4', hlsPlaylist(`file:${secret.file}`));
        const r = await transcodeS3('up/file/x.mp4', 'hls-file');
        const read = await secret.readerCame();
        assert.equal(read, false, `${secret.file} was opened for reading`);
        assertRefused(r, 'hls', 'an HLS playlist');
    });

    test('a DASH MPD uploaded as x.mp4', async () => {
        await upload('up/dash/x.mp4', dashManifest(web.url));
        const r = await transcodeS3('up/dash/x.mp4', 'dash');
        assert.deepEqual(web.seen, [], 'the server saw no request');
        assertRefused(r, 'dash', 'a DASH manifest');
    });
});
