// The command line around a job: progress reporting, --only, file:// URIs,
// JSON logs and interruption.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';

const work = C.tmpDir('cli-');
after(() => fs.rmSync(work, { recursive: true, force: true }));
const input = C.sample('h264_720p2997.mp4');

describe('cirrus-transcode command line', () => {
    test('progress on stderr and in --progress-json, result on stdout',
        async () => {
            const out = path.join(work, 'progress');
            const pj = path.join(work, 'progress.json');
            const r = await C.transcode({ input: `file://${input}`,
                output: `file://${out}`, preset: 'mobile',
                args: ['--only', 'hls', '--progress-json', pj] });
            assert.equal(r.code, 0, C.describe(r));
            const lines = r.stderr.split('\n').filter((l) =>
                /^progress \d+(\.\d)?% /.test(l));
            // However short the job, a line at 100% ends it.
            assert.ok(lines.length >= 1, `progress lines in:\n${r.stderr}`);
            const pcts = lines.map((l) => Number(/^progress ([\d.]+)%/.exec(l)[1]));
            assert.deepEqual(pcts, [...pcts].sort((a, b) => a - b),
                'progress never goes back');
            assert.ok(pcts.every((p) => p >= 0 && p <= 100));
            assert.equal(pcts[pcts.length - 1], 100, 'a last line at 100%');
            assert.match(lines[0], /fps=\S+ speed=\S+x eta=\S+s/);
            const final = C.readJson(pj);
            assert.equal(final?.state, 'done');
            assert.equal(r.result.state, 'done');
            assert.ok(Math.abs(r.result.duration - 6) < 0.2);
            assert.ok(r.result.elapsed > 0 && r.result.speed > 0);
            // the stdout holds exactly one line: the result
            assert.equal(r.stdout.trim().split('\n').length, 1);
        });

    test('--only hls writes HLS and no MPD or thumbnails', async () => {
        const out = path.join(work, 'progress');
        const version = C.versionDir(out); // the published version's files
        for (const dir of [out, version]) {
            assert.ok(fs.existsSync(path.join(dir, 'master.m3u8')));
            assert.ok(!fs.existsSync(path.join(dir, 'manifest.mpd')));
            assert.ok(!fs.existsSync(path.join(dir, 'thumbs')));
        }
    });

    test('--only dash,thumbs writes the MPD and thumbnails, no master',
        async () => {
            const out = path.join(work, 'dash');
            const r = await C.transcode({ input, output: out, preset: 'mobile',
                args: ['--only', 'dash,thumbs', '--quiet'] });
            assert.equal(r.code, 0, C.describe(r));
            assert.ok(fs.existsSync(path.join(out, 'manifest.mpd')));
            assert.ok(!fs.existsSync(path.join(out, 'master.m3u8')));
            assert.ok(fs.existsSync(path.join(C.versionDir(out), 'thumbs',
                'thumbs.vtt')));
            assert.ok(!/^progress /m.test(r.stderr), '--quiet: no progress');
        });

    // A thumbnails-only asset is published like any other: its objects in
    // v/<version>/, its entry point (the top-level thumbs.vtt, cues into
    // the version) written last; publishing it again moves the entry point
    // and records the version it replaced (.superseded/, README).
    test('--only thumbs publishes a version and a top-level thumbs.vtt into it',
        async () => {
            const out = path.join(work, 'thumbsonly');
            const run = async () => {
                const r = await C.transcode({ input, output: out, preset: 'mobile',
                    args: ['--only', 'thumbs', '--quiet'] });
                assert.equal(r.code, 0, C.describe(r));
                return r.result;
            };
            const first = await run();
            assert.equal(fs.readdirSync(out).filter((f) => !f.startsWith('.')).sort()
                .join(' '), 'thumbs.vtt v', 'nothing but the entry point beside v/');
            const check = (version) => {
                assert.equal(C.versionOf(out), version);
                const cues = C.parseVtt(C.readText(path.join(out, 'thumbs.vtt')));
                assert.ok(cues.length >= 2, `${cues.length} cues`);
                for (const c of cues) {
                    const m = /^v\/([^/]+)\/thumbs\/(sprite-\d+\.jpg)#xywh=\d+,\d+,\d+,\d+$/
                        .exec(c.text);
                    assert.ok(m, c.text);
                    assert.equal(m[1], version);
                    assert.ok(fs.existsSync(path.join(out, 'v', version, 'thumbs', m[2])));
                }
                // the version's own track, relative as before
                assert.match(C.readText(path.join(out, 'v', version, 'thumbs',
                    'thumbs.vtt')), /\nsprite-1\.jpg#xywh=0,0,/);
            };
            check(first.version);
            assert.equal(first.superseded, null);
            const second = await run();
            assert.notEqual(second.version, first.version);
            check(second.version);
            assert.equal(second.superseded, first.version);
            assert.ok(fs.existsSync(path.join(out, 'v', first.version, 'thumbs',
                'sprite-1.jpg')), 'the old version stays');
            assert.deepEqual(C.readJson(path.join(out, '.superseded',
                `${first.version}.json`)), { version: first.version,
                superseded_by: second.version });
        });

    // A live recording is published like a VOD job (README "Output
    // layout"): the stream's segments and the version's manifests under
    // v/<version>/, the top-level pair written last, pointing into it.
    test('--record publishes the stream as a versioned VOD asset', async () => {
        const root = path.join(work, 'live-rec');
        const rec = path.join(work, 'recorded');
        const r = await C.run(C.TRANSCODE_BIN, ['--input', input, '--live-root', root,
            '--stream', 's', '--no-realtime', '--segment-seconds', '1',
            '--part-seconds', '0.5', '--window', '3', '--record', `file://${rec}`],
        { timeoutMs: 120000 });
        assert.equal(r.code, 0, r.stderr.slice(-3000));
        assert.deepEqual(fs.readdirSync(rec).sort(), ['manifest.mpd', 'master.m3u8', 'v']);
        const version = C.versionOf(rec);
        assert.deepEqual(fs.readdirSync(path.join(rec, 'v')), [version]);
        assert.match(r.stderr, new RegExp(`recorded into .* \\(version ${version}\\)`));
        const master = C.parseMaster(C.readText(path.join(rec, 'master.m3u8')));
        const uris = [...master.variants.map((x) => x.uri),
            ...master.media.filter((m) => m.URI).map((m) => m.URI)];
        assert.ok(uris.length >= 1, 'renditions listed');
        let segments = 0;
        for (const u of uris) {
            assert.ok(u.startsWith(`v/${version}/`), u);
            const pl = path.join(rec, u);
            const media = C.readText(pl);
            for (const line of media.split('\n')) {
                const ref = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line)?.[1] ??
                    (line && !line.startsWith('#') ? line : null);
                if (!ref)
                    continue;
                assert.ok(fs.statSync(path.join(path.dirname(pl), ref)).size > 0, ref);
                segments += ref.endsWith('.m4s');
            }
        }
        assert.ok(segments > 5, `${segments} segments recorded`);
        assert.match(C.readText(path.join(rec, 'manifest.mpd')),
            new RegExp(`<BaseURL>v/${version}/</BaseURL>`));
        // the version's own master: relative URIs, as a VOD job's
        assert.doesNotMatch(C.readText(path.join(rec, 'v', version, 'master.m3u8')), /\bv\//);
    });

    test('--log-json writes one JSON object per log line', async () => {
        const r = await C.transcode({ input: C.sample('not_media.mp4'),
            output: path.join(work, 'logjson'), preset: 'mobile',
            args: ['--log-json', '--log-level', 'debug'] });
        assert.equal(r.code, 2, C.describe(r));
        const lines = r.stderr.split('\n').filter((l) => l.trim() &&
            !l.startsWith('progress '));
        assert.ok(lines.length >= 1);
        for (const l of lines)
            assert.doesNotThrow(() => JSON.parse(l), `not JSON: ${l}`);
    });

    test('SIGINT stops the job with 130 and leaves no manifests', async () => {
        const out = path.join(work, 'interrupted');
        const child = spawn(C.TRANSCODE_BIN, ['--input',
            C.sample('h264_1080p30.mp4'), '--output', out, '--preset', 'web'],
        { stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, CIRRUS_PRESETS_DIR: C.PRESETS_DIR } });
        let stdout = '', stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        // Wait for the job to be under way, then interrupt it.
        await new Promise((ok) => {
            const t0 = Date.now();
            const poll = setInterval(() => {
                if (/^progress /m.test(stderr) || Date.now() - t0 > 3000) {
                    clearInterval(poll);
                    ok();
                }
            }, 50);
        });
        child.kill('SIGINT');
        const code = await new Promise((ok) => child.on('close', (c) => ok(c)));
        assert.equal(code, 130, stderr.slice(-2000));
        for (const f of ['master.m3u8', 'manifest.mpd'])
            assert.ok(!fs.existsSync(path.join(out, f)), `no ${f}`);
        const res = C.lastJsonLine(stdout);
        assert.equal(res?.state, 'failed');
        assert.equal(res?.exit_code, 130);
    });
});
