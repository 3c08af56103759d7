// Premium audio (issue 14): a preset's audio.surround and audio.loudness.
// A 5.1 source made with the ffmpeg CLI (a different tone per channel, at a
// known low level) through a preset asking for a 5.1 E-AC-3 rendition and
// EBU R 128 loudness publishes the stereo AAC rendition and a 5.1 E-AC-3
// one (ffprobe: eac3, 6 channels), signalled in the master as a second
// audio group (CHANNELS="6", CODECS ec-3, every rung once per group) and in
// the MPD as an AdaptationSet with codecs="ec-3" and the Dolby channel
// configuration F801; both renditions measure -23 LUFS +-1 with the ffmpeg
// CLI, the job result says what the loudness pass measured and the
// target.  A stereo source gets no surround (said in the log); AC-3 is
// ac-3; a preset without loudness leaves the level as it was; a quiet
// track with a loud click (its gain alone would clip) goes through
// loudnorm's dynamic mode to -23 +-1 under the ceiling; ATSC A/85 turns a
// loud source down to -24.  An audio-only 5.1 source lists a variant per
// rendition, each naming its own codec.  Every manifest validates
// strictly (lib/validate.mjs); hls.js, dash.js and Shaka play the asset in
// headless Chromium, on the AAC track when Chromium cannot decode E-AC-3.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { validator } from './lib/validate.mjs';

const V = validator('audio_surround');
const LADDER = {
    codec: 'h264', encoder_preset: 'ultrafast', gop_seconds: 2,
    rungs: [
        { name: '360p', height: 360, bitrate_kbps: 600 },
        { name: '234p', height: 234, bitrate_kbps: 200 },
    ],
};
const PRESETS = {
    premium: { audio: { surround: { enabled: true, codec: 'eac3', bitrate_kbps: 384 },
        loudness: { standard: 'ebu_r128' } } },
    'premium-ac3': { audio: { surround: { enabled: true, codec: 'ac3', bitrate_kbps: 448 } } },
    plain: { audio: { surround: { enabled: true } } },
    atsc: { audio: { loudness: { standard: 'atsc_a85' } } },
    'ebu-audio': { video: { enabled: false },
        audio: { loudness: { standard: 'ebu_r128' } } },
    'surround-audio': { video: { enabled: false },
        audio: { surround: { enabled: true } } },
};

let work, presets, src51, srcStereo, srcLoud, srcClick;

// The integrated loudness (LUFS) and true peak (dBTP) of a media file, as
// the ffmpeg CLI's ebur128 filter reports them.
function loudness(file) {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', file,
        '-map', '0:a:0', '-af', 'ebur128=peak=true', '-f', 'null', '-'],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
    const text = String(r.stderr);
    const summary = text.slice(text.lastIndexOf('Summary:'));
    const i = /I:\s+(-?[\d.]+) LUFS/.exec(summary);
    const tp = /Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary);
    assert.ok(i, `no ebur128 summary for ${file}: ${text.slice(-2000)}`);
    return { i: Number(i[1]), tp: tp ? Number(tp[1]) : null };
}

// A rendition's init and segments as one file.
function joinRendition(dir) {
    const tmp = path.join(work, `joined-${path.basename(path.dirname(dir))}-` +
        `${path.basename(dir)}.mp4`);
    const segs = C.parseMedia(C.readText(path.join(dir, 'index.m3u8')))
        .segments.map((s) => fs.readFileSync(path.join(dir, s.uri)));
    fs.writeFileSync(tmp, Buffer.concat([
        fs.readFileSync(path.join(dir, 'init.mp4')), ...segs]));
    return tmp;
}

function ffmpeg(args) {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
        ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
}

function audioMedia(master) {
    return master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:'))
        .map((l) => C.parseAttrs(l.slice('#EXT-X-MEDIA:'.length)));
}

function variants(master) {
    return master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'))
        .map((l) => C.parseAttrs(l.slice('#EXT-X-STREAM-INF:'.length)));
}

before(() => {
    work = C.tmpDir('audio-surround-');
    presets = path.join(work, 'presets');
    fs.mkdirSync(presets);
    for (const [name, extra] of Object.entries(PRESETS)) {
        fs.writeFileSync(path.join(presets, `${name}.json`), JSON.stringify({
            name, video: extra.video || LADDER, segment_seconds: 4,
            thumbnails: { enabled: false }, images: { enabled: false },
            audio: { enabled: true, bitrate_kbps: 128, channels: 2,
                sample_rate: 48000, ...extra.audio },
        }));
    }
    const video = ['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=8'];
    const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50'];
    // 5.1: a tone per channel (LFE low), quiet: about -38 LUFS
    src51 = path.join(work, 'src51.mp4');
    ffmpeg([...video, '-f', 'lavfi', '-i',
        'aevalsrc=0.02*sin(2*PI*440*t)|0.02*sin(2*PI*550*t)|' +
        '0.02*sin(2*PI*660*t)|0.02*sin(2*PI*60*t)|0.02*sin(2*PI*770*t)|' +
        '0.02*sin(2*PI*880*t):s=48000:c=5.1:d=8',
        ...x264, '-c:a', 'aac', '-b:a', '384k', '-shortest', src51]);
    srcStereo = path.join(work, 'stereo.mp4');
    ffmpeg([...video, '-f', 'lavfi', '-i',
        'sine=frequency=500:sample_rate=48000:duration=8,volume=0.3',
        ...x264, '-c:a', 'aac', '-ac', '2', '-shortest', srcStereo]);
    // loud: about -13 LUFS, well over ATSC A/85's -24
    srcLoud = path.join(work, 'loud.mp4');
    ffmpeg([...video, '-f', 'lavfi', '-i',
        'sine=frequency=1000:sample_rate=48000:duration=8,volume=2',
        ...x264, '-c:a', 'aac', '-ac', '2', '-shortest', srcLoud]);
    // quiet (about -37 LUFS) with one loud click (-3 dBTP): the gain to
    // -23 alone would put the click over the ceiling
    srcClick = path.join(work, 'click.m4a');
    ffmpeg(['-f', 'lavfi', '-i',
        "aevalsrc='0.02*sin(2*PI*440*t)+0.9*between(t,15,15.001)':s=48000:d=30",
        '-ac', '2', '-c:a', 'aac', '-b:a', '192k', srcClick]);
});

async function transcode(input, preset, name) {
    const out = path.join(work, name);
    const run = await C.transcode({ input, output: out, preset,
        args: ['--presets-dir', presets] });
    assert.equal(run.code, 0, C.describe(run));
    return { out, run, vdir: C.versionDir(out) };
}

describe('a 5.1 source through a preset with surround and EBU R 128', () => {
    let out, run, vdir;
    before(async () => {
        ({ out, run, vdir } = await transcode(src51, 'premium', 'premium'));
    });

    test('the result lists the AAC and the 5.1 E-AC-3 renditions', () => {
        const audio = run.result.renditions.filter((r) => r.type === 'audio');
        assert.deepEqual(audio.map((r) => [r.id, r.codecs, r.channels, r.name,
            r.default]), [
            ['audio', 'mp4a.40.2', 2, 'Audio 1', true],
            ['audio-ec3', 'ec-3', 6, 'Audio 1', true]]);
        assert.match(run.stderr, /audio stream 0 has 6 channels: surround rendition audio-ec3 \(eac3 5\.1, 384 kbps\)/);
    });

    test('ffprobe: the 5.1 track is E-AC-3, 6 channels, 48 kHz, ec-3 sample entry', () => {
        const dir = path.join(vdir, 'audio-ec3');
        const seg = C.parseMedia(C.readText(path.join(dir, 'index.m3u8')))
            .segments[0].uri;
        const a = C.audioStream(C.probeSegment(path.join(dir, 'init.mp4'),
            path.join(dir, seg)));
        assert.equal(a.codec_name, 'eac3');
        assert.equal(a.codec_tag_string, 'ec-3');
        assert.equal(a.channels, 6);
        assert.equal(Number(a.sample_rate), 48000);
        const stereo = C.audioStream(C.ffprobe(path.join(vdir, 'audio', 'init.mp4')));
        assert.equal(stereo.codec_name, 'aac');
        assert.equal(stereo.channels, 2);
    });

    test('the master: a second audio group for E-AC-3, every rung once per group', () => {
        const master = C.readText(path.join(out, 'master.m3u8'));
        const media = audioMedia(master);
        assert.deepEqual(media.map((m) => [m['GROUP-ID'], m.NAME, m.DEFAULT,
            m.CHANNELS, m.URI.split('/').at(-2)]), [
            ['audio', 'Audio 1', 'YES', '2', 'audio'],
            ['audio-ec-3', 'Audio 1', 'YES', '6', 'audio-ec3']]);
        const vs = variants(master);
        assert.equal(vs.length, 4, master);
        for (const v of vs) {
            const audio = v.CODECS.split(',').slice(1);
            assert.deepEqual(audio, v.AUDIO === 'audio' ? ['mp4a.40.2'] : ['ec-3'],
                master);
        }
        assert.deepEqual(vs.map((v) => v.AUDIO),
            ['audio', 'audio', 'audio-ec-3', 'audio-ec-3']);
        const aac = run.result.renditions.find((r) => r.id === 'audio');
        const ec3 = run.result.renditions.find((r) => r.id === 'audio-ec3');
        const rung = run.result.renditions.find((r) => r.id === '360p');
        assert.equal(Number(vs[0].BANDWIDTH), rung.bandwidth + aac.bandwidth);
        assert.equal(Number(vs[2].BANDWIDTH), rung.bandwidth + ec3.bandwidth);
    });

    test('the MPD: an ec-3 AdaptationSet with the Dolby channel configuration', () => {
        const mpd = C.readText(path.join(out, 'manifest.mpd'));
        const sets = [...mpd.matchAll(/<AdaptationSet [^>]*contentType="audio"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)]
            .map((m) => m[1]);
        assert.equal(sets.length, 2, mpd);
        assert.match(sets[0], /<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"\/>/);
        assert.match(sets[0], /codecs="mp4a\.40\.2"[\s\S]*urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/);
        assert.match(sets[1], /<Role schemeIdUri="urn:mpeg:dash:role:2011" value="alternate"\/>/);
        assert.match(sets[1], /<Representation id="audio-ec3" bandwidth="\d+" codecs="ec-3" audioSamplingRate="48000">/);
        assert.match(sets[1], /<AudioChannelConfiguration schemeIdUri="tag:dolby\.com,2014:dash:audio_channel_configuration:2011" value="F801"\/>/);
    });

    test('every playlist and the MPD validate strictly', () => {
        assert.ok(V.checkDir(out) >= 6, 'playlists and MPDs found');
        V.assertClean();
    });

    test('both renditions measure -23 LUFS +-1 (ffmpeg ebur128), the source did not', () => {
        const source = loudness(src51);
        assert.ok(source.i < -27, `the source is quiet: ${source.i}`);
        for (const id of ['audio', 'audio-ec3']) {
            const l = loudness(joinRendition(path.join(vdir, id)));
            assert.ok(Math.abs(l.i - -23) <= 1, `${id}: ${l.i} LUFS`);
            assert.ok(l.tp === null || l.tp <= -1 + 0.5, `${id}: peak ${l.tp}`);
        }
    });

    test('the result says what the loudness pass measured and the target', () => {
        const source = loudness(src51); // as 5.1, like the E-AC-3 rendition
        const ec3 = run.result.renditions.find((r) => r.id === 'audio-ec3');
        assert.equal(ec3.loudness.target_lufs, -23);
        assert.equal(ec3.loudness.target_true_peak_dbtp, -1);
        assert.equal(ec3.loudness.mode, 'linear');
        assert.ok(Math.abs(ec3.loudness.input_integrated_lufs - source.i) <= 0.5,
            `${JSON.stringify(ec3.loudness)} vs the CLI's ${source.i}`);
        const aac = run.result.renditions.find((r) => r.id === 'audio');
        // measured as its stereo downmix, not as the 5.1
        assert.equal(typeof aac.loudness.input_integrated_lufs, 'number');
        assert.notEqual(aac.loudness.input_integrated_lufs,
            ec3.loudness.input_integrated_lufs);
        assert.match(run.stderr, /loudness of audio-ec3: -?[\d.]+ LUFS to -23\.0 LUFS \(linear: volume=/);
    });

    const missing = B.browserAvailable();
    describe('in Chromium', { skip: missing || false }, () => {
        let srv, browser, ec3Supported;
        before(async () => {
            srv = await startStaticServer({ mounts: B.playerMounts(out) });
            browser = await B.launch();
            const page = await browser.context.newPage();
            await page.goto(`${srv.url}/player.html`);
            ec3Supported = await page.evaluate(() =>
                MediaSource.isTypeSupported('audio/mp4; codecs="ec-3"'));
            await page.close();
            console.log(`# Chromium MSE E-AC-3: ${ec3Supported ? 'yes' : 'no'}`);
        });
        after(async () => {
            await browser?.close();
            await srv?.close();
        });

        for (const [engine, manifest] of [['hls', 'master.m3u8'],
            ['dash', 'manifest.mpd'], ['shaka', 'manifest.mpd'],
            ['shaka', 'master.m3u8']]) {
            test(`${engine} plays ${manifest}`, async () => {
                const fetched = [];
                const st = await B.play(browser,
                    `${srv.url}/player.html?engine=${engine}&src=/out/${manifest}`,
                    { minTime: 2, onPage: (p) => {
                        V.watchPage(p);
                        p.on('request', (r) => fetched.push(r.url()));
                    } });
                const why = JSON.stringify({ ...st, console: st.console?.slice(-20) });
                assert.equal(st.fatal ?? null, null, why);
                assert.ok(st.currentTime > 2, why);
                const aac = fetched.filter((u) => /\/audio\/seg-\d+\.m4s$/.test(u));
                const ec3 = fetched.filter((u) => /\/audio-ec3\/seg-\d+\.m4s$/.test(u));
                if (!ec3Supported) {
                    // no E-AC-3 in this Chromium: the player starts on AAC
                    assert.ok(aac.length > 0, `AAC segments: ${fetched.join(' ')}`);
                    assert.equal(ec3.length, 0, `E-AC-3 fetched: ${ec3.join(' ')}`);
                } else {
                    assert.ok(aac.length + ec3.length > 0, fetched.join(' '));
                }
                V.assertClean();
            });
        }
    });
});

describe('surround needs a source of 6 channels or more', () => {
    test('a stereo source: no 5.1 rendition, said in the log; one audio group', async () => {
        const { out, run } = await transcode(srcStereo, 'plain', 'stereo-plain');
        const audio = run.result.renditions.filter((r) => r.type === 'audio');
        assert.deepEqual(audio.map((r) => [r.id, r.codecs, r.channels]),
            [['audio', 'mp4a.40.2', 2]]);
        assert.match(run.stderr, /audio stream 0 has 2 channels: no surround rendition \(it needs 6 or more\)/);
        const master = C.readText(path.join(out, 'master.m3u8'));
        assert.deepEqual(audioMedia(master).map((m) => m['GROUP-ID']), ['audio']);
        assert.doesNotMatch(master, /ec-3/);
        assert.doesNotMatch(C.readText(path.join(out, 'manifest.mpd')), /ec-3|dolby/);
        V.checkDir(out);
        V.assertClean();
    });

    test('AC-3 when the preset says so: ac-3 in the manifests, ffprobe ac3 6 channels', async () => {
        const { out, vdir } = await transcode(src51, 'premium-ac3', 'premium-ac3');
        const a = C.audioStream(C.ffprobe(joinRendition(path.join(vdir, 'audio-ac3'))));
        assert.equal(a.codec_name, 'ac3');
        assert.equal(a.channels, 6);
        const master = C.readText(path.join(out, 'master.m3u8'));
        assert.match(master, /GROUP-ID="audio-ac-3",NAME="Audio 1",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6"/);
        assert.match(master, /CODECS="avc1\.[0-9a-f]+,ac-3"/);
        assert.match(C.readText(path.join(out, 'manifest.mpd')),
            /codecs="ac-3" audioSamplingRate="48000">\s*<AudioChannelConfiguration schemeIdUri="tag:dolby\.com,2014:dash:audio_channel_configuration:2011" value="F801"\/>/);
        V.checkDir(out);
        V.assertClean();
    });
});

describe('an audio-only 5.1 source', () => {
    test('a variant per rendition, each naming its own codec; valid', async () => {
        const src = path.join(work, 'only51.m4a');
        ffmpeg(['-i', src51, '-vn', '-c:a', 'copy', src]);
        const { out, run } = await transcode(src, 'surround-audio', 'only51');
        assert.deepEqual(run.result.renditions.map((r) => [r.id, r.codecs,
            r.channels]), [['audio', 'mp4a.40.2', 2], ['audio-ec3', 'ec-3', 6]]);
        const vs = variants(C.readText(path.join(out, 'master.m3u8')));
        assert.deepEqual(vs.map((v) => v.CODECS), ['mp4a.40.2', 'ec-3']);
        assert.ok(V.checkDir(out) >= 4);
        V.assertClean();
    });
});

describe('loudness', () => {
    test('without audio.loudness the level is unchanged and the result has none', async () => {
        const { run, vdir } = await transcode(srcStereo, 'plain', 'stereo-level');
        const before = loudness(srcStereo);
        const after = loudness(joinRendition(path.join(vdir, 'audio')));
        assert.ok(Math.abs(after.i - before.i) <= 0.5,
            `source ${before.i}, output ${after.i} LUFS`);
        assert.ok(Math.abs(after.i - -23) > 3, `the source is not near -23 already: ${after.i}`);
        const aac = run.result.renditions.find((r) => r.id === 'audio');
        assert.equal(aac.loudness, undefined);
        assert.doesNotMatch(run.stderr, /loudness of/);
    });

    test('a gain that would clip: loudnorm\'s dynamic mode, -23 LUFS +-1 under the ceiling', async () => {
        const { run, vdir } = await transcode(srcClick, 'ebu-audio', 'click');
        const before = loudness(srcClick);
        const after = loudness(joinRendition(path.join(vdir, 'audio')));
        assert.ok(before.tp + (-23 - before.i) > -1,
            `the gain alone would clip: ${JSON.stringify(before)}`);
        assert.ok(Math.abs(after.i - -23) <= 1, `${after.i} LUFS`);
        assert.ok(after.tp <= -1 + 0.5, `true peak ${after.tp}`);
        const l = run.result.renditions.find((r) => r.id === 'audio').loudness;
        assert.equal(l.mode, 'dynamic');
        assert.match(run.stderr, /\(dynamic: loudnorm=I=-23\.0:TP=-1\.0:LRA=20:linear=false\)/);
    });

    test('ATSC A/85 turns a loud source down to -24 LKFS +-1', async () => {
        const { run, vdir } = await transcode(srcLoud, 'atsc', 'atsc');
        const before = loudness(srcLoud);
        const after = loudness(joinRendition(path.join(vdir, 'audio')));
        assert.ok(before.i > -16, `a loud source: ${before.i}`);
        assert.ok(Math.abs(after.i - -24) <= 1, `${after.i} LUFS`);
        const l = run.result.renditions.find((r) => r.id === 'audio').loudness;
        assert.equal(l.target_lufs, -24);
        assert.equal(l.target_true_peak_dbtp, -2);
        assert.ok(Math.abs(l.input_integrated_lufs - before.i) <= 0.5,
            `${JSON.stringify(l)} vs ${before.i}`);
    });
});
