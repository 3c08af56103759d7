// The live preset's audio: presets/live.json asks for AAC stereo, so a
// publisher's mono (or 5.1) AAC is transcoded to stereo, while stereo AAC
// passes through untouched; without a preset AAC always passes.  The
// source is a file published with cirrus-transcode --live-root (the same
// live pipeline cirrus-ingest feeds); ffprobe reads the audio rendition's
// init segment and first media segment.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';

const missing = fs.existsSync(C.TRANSCODE_BIN) ? (C.hasTool('ffmpeg') &&
    C.hasTool('ffprobe') ? null : 'ffmpeg/ffprobe missing')
    : `${C.TRANSCODE_BIN} not built`;

async function source(dir, channels) {
    const file = path.join(dir, `src-${channels}ch.mp4`);
    const r = await C.run('ffmpeg', ['-nostdin', '-loglevel', 'error',
        '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', '5', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30',
        '-c:a', 'aac', '-b:a', '64k', '-ac', String(channels), file]);
    assert.equal(r.code, 0, r.stderr);
    return file;
}

// Publishes the file as a live stream, not in real time; resolves the
// audio rendition's channels, codec and the transcoder's log.
async function publish(input, preset) {
    const root = C.tmpDir('live-audio-');
    const args = ['--input', input, '--live-root', root, '--stream', 's',
        '--no-realtime', '--segment-seconds', '1', '--part-seconds', '0.5'];
    if (preset)
        args.push('--preset', preset, '--presets-dir',
            path.join(C.SOURCE_DIR, 'presets'));
    const r = await C.run(C.TRANSCODE_BIN, args, { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const dir = path.join(root, 's', 'audio');
    const init = fs.readdirSync(dir).filter((f) => /^init-\d+\.mp4$/.test(f))[0];
    const seg = fs.readdirSync(dir).filter((f) => /^seg-\d+\.m4s$/.test(f))
        .sort()[0];
    assert.ok(init && seg, fs.readdirSync(dir).join(' '));
    // the init segment and a media segment, as a player reads them
    const joined = path.join(root, 'probe.mp4');
    fs.writeFileSync(joined, Buffer.concat([fs.readFileSync(path.join(dir, init)),
        fs.readFileSync(path.join(dir, seg))]));
    const p = await C.run('ffprobe', ['-v', 'error', '-select_streams', 'a:0',
        '-show_entries', 'stream=codec_name,channels', '-of', 'json', joined]);
    assert.equal(p.code, 0, p.stderr);
    const st = JSON.parse(p.stdout).streams[0];
    return { channels: st.channels, codec: st.codec_name, log: r.stderr };
}

describe('live audio channels', { skip: missing || false }, () => {
    test('the live preset makes mono AAC stereo, as the README says',
        async () => {
            const mono = await source(C.tmpDir('live-audio-src-'), 1);
            const a = await publish(mono, 'live');
            assert.equal(a.codec, 'aac');
            assert.equal(a.channels, 2, a.log.slice(-2000));
            assert.match(a.log, /transcoded to AAC 48000 Hz 2 ch/);
        });

    test('stereo AAC passes through under the live preset', async () => {
        const stereo = await source(C.tmpDir('live-audio-src-'), 2);
        const a = await publish(stereo, 'live');
        assert.equal(a.channels, 2);
        assert.doesNotMatch(a.log, /transcoded to AAC/);
    });

    test('without a preset, mono AAC passes through as it came', async () => {
        const mono = await source(C.tmpDir('live-audio-src-'), 1);
        const a = await publish(mono, null);
        assert.equal(a.channels, 1);
        assert.doesNotMatch(a.log, /transcoded to AAC/);
    });
});
