// Several audio tracks: two_audio.mp4 (English 440 Hz, the source's default,
// handler "English commentary"; French 880 Hz) through the web preset
// publishes one AAC rendition per track (audio, audio-2), each carrying its
// own track's tone, listed in the master (EXT-X-MEDIA LANGUAGE, NAME,
// DEFAULT, one group for every rung) and the MPD (an AdaptationSet each with
// lang and Role); hls.js and dash.js in Chromium list both languages and
// hls.js switches to the French one.  --audio-tracks selects, orders and
// renames; hostile selections fail naming the field.  Every playlist and
// MPD validates strictly (lib/validate.mjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { startStaticServer } from './lib/static-server.mjs';
import { validator } from './lib/validate.mjs';

const SAMPLE = 'two_audio.mp4';
const V = validator('audio_tracks');

// The dominant frequency of a rendition's first segment, from its zero
// crossings (a pure sine: 2 per period).
function toneHz(dir) {
    const tmp = path.join(os.tmpdir(), `cirrus-tone-${process.pid}-` +
        `${path.basename(dir)}.mp4`);
    const seg = C.parseMedia(C.readText(path.join(dir, 'index.m3u8')))
        .segments[0].uri;
    fs.writeFileSync(tmp, Buffer.concat([
        fs.readFileSync(path.join(dir, 'init.mp4')),
        fs.readFileSync(path.join(dir, seg))]));
    try {
        const r = spawnSync('ffmpeg', ['-v', 'error', '-i', tmp, '-ss', '0.5',
            '-t', '2', '-ac', '1', '-ar', '48000', '-f', 's16le', '-'],
        { maxBuffer: 64 << 20 });
        assert.equal(r.status, 0, String(r.stderr));
        const pcm = new Int16Array(r.stdout.buffer, r.stdout.byteOffset,
            r.stdout.length >> 1);
        let crossings = 0;
        for (let i = 1; i < pcm.length; i++)
            crossings += (pcm[i - 1] < 0) !== (pcm[i] < 0) ? 1 : 0;
        return crossings / 2 / (pcm.length / 48000);
    } finally {
        fs.rmSync(tmp, { force: true });
    }
}

// The master's EXT-X-MEDIA lines as attribute objects.
function audioMedia(master) {
    return master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:'))
        .map((l) => C.parseAttrs(l.slice('#EXT-X-MEDIA:'.length)));
}

// The MPD's audio AdaptationSets: { lang, role, reps }.
function audioSets(mpd) {
    return [...mpd.matchAll(/<AdaptationSet ([^>]*contentType="audio"[^>]*)>([\s\S]*?)<\/AdaptationSet>/g)]
        .map((m) => ({
            lang: C.xmlAttrs(m[1]).lang,
            role: (/<Role schemeIdUri="urn:mpeg:dash:role:2011" value="([a-z]+)"\/>/
                .exec(m[2]) || [])[1],
            reps: [...m[2].matchAll(/<Representation id="([^"]+)"/g)]
                .map((r) => r[1]),
        }));
}

describe('every audio track of the source', () => {
    let out, run, vdir;
    before(async () => {
        out = path.join(C.tmpDir('audio-tracks-'), 'all');
        run = await C.transcode({ input: C.sample(SAMPLE), output: out,
            preset: 'web' });
        assert.equal(run.code, 0, C.describe(run));
        vdir = C.versionDir(out);
    });

    test('the result lists both renditions with language and name', () => {
        const audio = run.result.renditions.filter((r) => r.type === 'audio');
        assert.deepEqual(audio.map((r) => [r.id, r.language, r.name,
            r.default, r.channels]), [
            ['audio', 'en', 'English commentary', true, 2],
            ['audio-2', 'fr', 'French', false, 2]]);
        assert.match(run.stderr, /audio stream 0 \(aac, language eng\): rendition audio, language en/);
        assert.match(run.stderr, /audio stream 1 \(aac, language fra\): rendition audio-2, language fr/);
    });

    test('each rendition is AAC stereo 48 kHz, tagged, with its own track\'s tone', () => {
        for (const [id, hz, lang] of [['audio', 440, 'eng'], ['audio-2', 880, 'fra']]) {
            const dir = path.join(vdir, id);
            const seg = C.parseMedia(C.readText(path.join(dir, 'index.m3u8')))
                .segments[0].uri;
            const a = C.audioStream(C.probeSegment(path.join(dir, 'init.mp4'),
                path.join(dir, seg)));
            assert.equal(a.codec_name, 'aac', id);
            assert.equal(a.channels, 2, id);
            assert.equal(Number(a.sample_rate), 48000, id);
            assert.equal(a.tags?.language, lang, `${id}: mdhd language`);
            const f = toneHz(dir);
            assert.ok(Math.abs(f - hz) < hz * 0.05, `${id}: ${f} Hz, want ${hz}`);
        }
    });

    test('the master has one EXT-X-MEDIA per track in the group every rung names', () => {
        const master = C.readText(path.join(out, 'master.m3u8'));
        const media = audioMedia(master);
        assert.deepEqual(media.map((m) => [m.TYPE, m['GROUP-ID'], m.LANGUAGE,
            m.NAME, m.DEFAULT, m.AUTOSELECT, m.CHANNELS]), [
            ['AUDIO', 'audio', 'en', 'English commentary', 'YES', 'YES', '2'],
            ['AUDIO', 'audio', 'fr', 'French', 'NO', 'YES', '2']]);
        assert.match(media[1].URI, /\/audio-2\/index\.m3u8$/);
        const variants = master.split('\n')
            .filter((l) => l.startsWith('#EXT-X-STREAM-INF:'))
            .map((l) => C.parseAttrs(l.slice('#EXT-X-STREAM-INF:'.length)));
        assert.ok(variants.length >= 2);
        assert.ok(variants.every((v) => v.AUDIO === 'audio'), master);
    });

    test('the MPD has an AdaptationSet per track with lang and Role', () => {
        const sets = audioSets(C.readText(path.join(out, 'manifest.mpd')));
        assert.deepEqual(sets, [
            { lang: 'en', role: 'main', reps: ['audio'] },
            { lang: 'fr', role: 'alternate', reps: ['audio-2'] }]);
    });

    test('every playlist and the MPD validate strictly', () => {
        assert.ok(V.checkDir(out) >= 6, 'playlists and MPDs found');
        V.assertClean();
    });

    const missing = B.browserAvailable();
    describe('in Chromium', { skip: missing || false }, () => {
        let srv, browser;
        before(async () => {
            srv = await startStaticServer({ mounts: B.playerMounts(out) });
            browser = await B.launch();
        });
        after(async () => {
            await browser?.close();
            await srv?.close();
        });

        // Opens the player and polls `probe` in the page until `done`.
        async function open(engine, manifest, probe, done) {
            const page = await browser.context.newPage();
            V.watchPage(page);
            await page.goto(`${srv.url}/player.html?engine=${engine}` +
                `&src=/out/${manifest}`);
            let s = null;
            const deadline = Date.now() + 45000;
            while (Date.now() < deadline) {
                s = await page.evaluate(probe);
                if (s.fatal || done(s))
                    break;
                await new Promise((r) => setTimeout(r, 250));
            }
            return { page, s };
        }

        test('hls.js lists both languages and switches to French', async () => {
            const probe = () => ({
                fatal: window.cirrusPlayer.fatal,
                time: document.querySelector('video').currentTime,
                tracks: (window.hls?.audioTracks || []).map((t) => ({
                    lang: t.lang, name: t.name, default: t.default })),
                current: window.hls?.audioTrack,
            });
            const { page, s } = await open('hls', 'master.m3u8', probe,
                (x) => x.tracks.length === 2 && x.time > 1);
            try {
                const why = JSON.stringify(s);
                assert.equal(s.fatal, null, why);
                assert.deepEqual(s.tracks, [
                    { lang: 'en', name: 'English commentary', default: true },
                    { lang: 'fr', name: 'French', default: false }], why);
                assert.equal(s.current, 0, why);
                const fetched = [];
                page.on('request', (r) => fetched.push(r.url()));
                await page.evaluate(() => { window.hls.audioTrack = 1; });
                const deadline = Date.now() + 20000;
                while (Date.now() < deadline &&
                    !fetched.some((u) => /\/audio-2\/seg-\d+\.m4s$/.test(u)))
                    await new Promise((r) => setTimeout(r, 200));
                const after = await page.evaluate(probe);
                assert.equal(after.current, 1, JSON.stringify(after));
                assert.ok(fetched.some((u) => /\/audio-2\/seg-\d+\.m4s$/.test(u)),
                    `French segments fetched: ${fetched.join(' ')}`);
                assert.equal(after.fatal, null);
            } finally {
                await page.close();
            }
            V.assertClean();
        });

        test('dash.js lists both languages, English first', async () => {
            const probe = () => {
                const p = window.dashPlayer;
                let tracks = [], current = null;
                try {
                    tracks = p.getTracksFor('audio').map((t) => ({
                        lang: t.lang, roles: (t.roles || []).map((r) =>
                            (typeof r === 'string' ? r : r.value)) }));
                    current = p.getCurrentTrackFor('audio')?.lang ?? null;
                } catch { /* not initialised yet */ }
                return { fatal: window.cirrusPlayer.fatal,
                    time: document.querySelector('video').currentTime,
                    tracks, current };
            };
            const { page, s } = await open('dash', 'manifest.mpd', probe,
                (x) => x.tracks.length === 2 && x.time > 1);
            await page.close();
            const why = JSON.stringify(s);
            assert.equal(s.fatal, null, why);
            assert.deepEqual(s.tracks.map((t) => t.lang).sort(), ['en', 'fr'], why);
            assert.deepEqual(s.tracks.find((t) => t.lang === 'en').roles,
                ['main'], why);
            assert.deepEqual(s.tracks.find((t) => t.lang === 'fr').roles,
                ['alternate'], why);
            assert.equal(s.current, 'en', why);
            V.assertClean();
        });
    });
});

describe('--audio-tracks selects, orders and renames', () => {
    test('French only, as fr-CA with its own name', async () => {
        const out = path.join(C.tmpDir('audio-tracks-'), 'fr');
        const run = await C.transcode({ input: C.sample(SAMPLE), output: out,
            preset: 'web', args: ['--audio-tracks', JSON.stringify([
                { index: 1, language: 'fr-CA', name: 'Français (Canada)' }])] });
        assert.equal(run.code, 0, C.describe(run));
        assert.match(run.stderr,
            /audio stream 0 \(aac, language eng\): dropped \(not in audio_tracks\)/);
        const media = audioMedia(C.readText(path.join(out, 'master.m3u8')));
        assert.deepEqual(media.map((m) => [m.LANGUAGE, m.NAME, m.DEFAULT]),
            [['fr-CA', 'Français (Canada)', 'YES']]);
        assert.match(media[0].URI, /\/audio\/index\.m3u8$/);
        const f = toneHz(path.join(C.versionDir(out), 'audio'));
        assert.ok(Math.abs(f - 880) < 44, `the French tone: ${f} Hz`);
        const init = C.ffprobe(path.join(C.versionDir(out), 'audio', 'init.mp4'));
        assert.equal(C.audioStream(init).tags?.language, 'fra', 'mdhd: fr-CA as ISO 639-2/T');
        assert.deepEqual(audioSets(C.readText(path.join(out, 'manifest.mpd'))),
            [{ lang: 'fr-CA', role: undefined, reps: ['audio'] }]);
        assert.ok(V.checkDir(out) >= 4);
        V.assertClean();
    });

    test('the order and the default are the job\'s', async () => {
        const out = path.join(C.tmpDir('audio-tracks-'), 'order');
        const run = await C.transcode({ input: C.sample(SAMPLE), output: out,
            preset: 'web', args: ['--audio-tracks', JSON.stringify([
                { index: 1 }, { index: 0, default: true }])] });
        assert.equal(run.code, 0, C.describe(run));
        const media = audioMedia(C.readText(path.join(out, 'master.m3u8')));
        assert.deepEqual(media.map((m) => [m.LANGUAGE, m.DEFAULT, m.URI.split('/').at(-2)]),
            [['fr', 'NO', 'audio'], ['en', 'YES', 'audio-2']]);
        assert.deepEqual(audioSets(C.readText(path.join(out, 'manifest.mpd')))
            .map((s) => [s.lang, s.role]), [['fr', 'alternate'], ['en', 'main']]);
        V.checkDir(out);
        V.assertClean();
    });

    const bad = [
        ['a stream the source lacks', [{ index: 2 }], 3,
            /audio_tracks\[0\]\.index: 2, but the source has 2 audio streams/],
        ['a language that is no BCP 47 tag', [{ index: 0, language: 'French' }], 1,
            /audio_tracks\[0\]\.language/],
        ['a name that would break the playlist', [{ index: 0, name: 'a"b' }], 1,
            /audio_tracks\[0\]\.name/],
        ['too many tracks', Array.from({ length: 17 }, (_, i) => ({ index: i })), 1,
            /audio_tracks: 17 tracks, at most 16/],
    ];
    for (const [what, tracks, code, why] of bad) {
        test(`refused: ${what}`, async () => {
            const out = path.join(C.tmpDir('audio-tracks-'), 'bad');
            const run = await C.transcode({ input: C.sample(SAMPLE), output: out,
                preset: 'web', args: ['--audio-tracks', JSON.stringify(tracks)] });
            assert.equal(run.code, code, C.describe(run));
            assert.match(run.stderr + run.stdout, why, C.describe(run));
            assert.equal(fs.existsSync(path.join(out, 'master.m3u8')), false,
                'nothing published');
        });
    }
});

// The same selection as a job document's "audio_tracks", through
// cirrus-worker's spool intake and pool; a bad one is parked in failed/
// with an error that names the field.
describe('a job document\'s audio_tracks, through cirrus-worker', () => {
    const WORKER_BIN = process.env.CIRRUS_WORKER ||
        path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
    let child;
    after(() => child?.kill('SIGKILL'));

    function drop(spool, name, doc) {
        const inc = path.join(spool, 'incoming');
        fs.mkdirSync(inc, { recursive: true });
        fs.writeFileSync(path.join(inc, `.tmp-${name}`), JSON.stringify(doc));
        fs.renameSync(path.join(inc, `.tmp-${name}`), path.join(inc, name));
    }

    test('selects and renames; a bad language is parked naming the field', async () => {
        const work = C.tmpDir('audio-tracks-worker-');
        const spool = path.join(work, 'spool'), out = path.join(work, 'out');
        const args = Object.entries({ spool_dir: spool,
            out_root: `file://${out}`, workers: 1, default_preset: 'web',
            presets_dir: C.PRESETS_DIR, settle_seconds: 0.2, max_attempts: 1,
            metrics_port: -1, drain_seconds: 5 })
            .flatMap(([k, v]) => ['--set', `${k}=${v}`]);
        const { spawn } = await import('node:child_process');
        child = spawn(WORKER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let log = '';
        child.stdout.on('data', (d) => (log += d));
        child.stderr.on('data', (d) => (log += d));
        drop(spool, 'fr.json', { input: C.sample(SAMPLE),
            output: `file://${path.join(out, 'fr')}`, audio_tracks: [
            { index: 1, language: 'fr', name: 'Version française' }] });
        drop(spool, 'bad.json', { input: C.sample(SAMPLE),
            output: `file://${path.join(out, 'bad')}`, audio_tracks: [{ index: 0, language: 'en_US' }] });
        await C.waitFor('both jobs settled', () =>
            C.readJson(path.join(out, 'fr.job.json'))?.state === 'done' &&
            fs.existsSync(path.join(spool, 'failed', 'bad.json.error.json')),
        { timeoutMs: 120000, detail: () => log.slice(-4000) });
        const media = audioMedia(C.readText(path.join(out, 'fr', 'master.m3u8')));
        assert.deepEqual(media.map((m) => [m.LANGUAGE, m.NAME, m.DEFAULT]),
            [['fr', 'Version française', 'YES']]);
        const f = toneHz(path.join(C.versionDir(path.join(out, 'fr')), 'audio'));
        assert.ok(Math.abs(f - 880) < 44, `the French tone: ${f} Hz`);
        const bad = C.readJson(path.join(spool, 'failed', 'bad.json.error.json'));
        assert.match(bad.error.error, /audio_tracks\[0\]\.language/);
        child.kill('SIGTERM');
    });
});
