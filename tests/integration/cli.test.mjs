// The command line of the three programs, parsed one way
// (common/include/cir_cli.h, docs/command-line.md): --help on stdout,
// --version, unknown flags and missing values named, the sources of an
// option in their order (default, --config, environment, command line),
// --log-json.  Then the command line around a job: progress reporting,
// --only, file:// URIs, JSON logs and interruption.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort } from './lib/nginx.mjs';

const work = C.tmpDir('cli-');
const children = new Set();
after(() => {
    for (const c of children)
        c.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
});
const input = C.sample('h264_720p2997.mp4');

// `usage`: the exit code of a bad command line or configuration, from the
// README's exit-code tables (cirrus-transcode's 2 means a bad input).
const PROGRAMS = {
    'cirrus-transcode': { bin: C.TRANSCODE_BIN, usage: 1,
        section: 'transcode', env: 'CIRRUS_TRANSCODE_' },
    'cirrus-ingest': { bin: process.env.CIRRUS_INGEST ||
        path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest'), usage: 2,
    section: 'ingest', env: 'CIRRUS_INGEST_' },
    'cirrus-worker': { bin: process.env.CIRRUS_WORKER ||
        path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker'), usage: 2,
    section: 'worker', env: 'CIRRUS_WORKER_' },
};
const missing = Object.values(PROGRAMS).map((p) => p.bin)
    .find((b) => !fs.existsSync(b));

// A run with nothing of the caller's environment but PATH and `env`.
function runSync(name, args, env = {}) {
    return spawnSync(PROGRAMS[name].bin, args, { encoding: 'utf8',
        timeout: 20000, env: { PATH: process.env.PATH, ...env } });
}

const projectVersion = /project\(cirrus VERSION ([0-9.]+)/.exec(
    fs.readFileSync(path.join(C.SOURCE_DIR, 'CMakeLists.txt'), 'utf8'))[1];

describe('one command line for cirrus-transcode, cirrus-ingest, cirrus-worker',
    { skip: missing ? `${missing} not built` : false }, () => {
        for (const [name, p] of Object.entries(PROGRAMS)) {
            test(`${name} --help: the usage on stdout, exit 0`, () => {
                for (const flag of ['--help', '-h']) {
                    const r = runSync(name, [flag]);
                    assert.equal(r.status, 0, r.stderr);
                    assert.equal(r.stderr, '');
                    assert.ok(r.stdout.startsWith(`usage: ${name} `), r.stdout);
                    for (const f of ['-c, --config FILE', '-s, --set NAME=VALUE',
                        '--version', '--help', 'Exit codes:', p.env])
                        assert.ok(r.stdout.includes(f), `${f} in:\n${r.stdout}`);
                }
            });

            test(`${name} --version: the project's version, exit 0`, () => {
                const r = runSync(name, ['--version']);
                assert.equal(r.status, 0, r.stderr);
                // and the commit built (git describe when it was built:
                // the checkout may have moved on since)
                const inGit = spawnSync('git', ['-C', C.SOURCE_DIR,
                    'rev-parse', '--git-dir']).status === 0;
                if (inGit) {
                    assert.match(r.stdout, new RegExp(`^${name} ` +
                        `${projectVersion.replace(/\./g, '\\.')} ` +
                        '\\(git [0-9A-Za-z._+-]+\\)\n$'), r.stdout);
                } else {
                    assert.equal(r.stdout, `${name} ${projectVersion}\n`);
                }
                assert.equal(r.stderr, '');
            });

            test(`${name}: an unknown flag is named, exit ${p.usage}`, () => {
                for (const args of [['--no-such-flag'],
                    ['--set', 'log_level=info', '--no-such-flag=3']]) {
                    const r = runSync(name, args);
                    assert.equal(r.status, p.usage, r.stderr);
                    assert.match(r.stderr, new RegExp(
                        `^${name}: unknown flag '--no-such-flag'\n`));
                    assert.match(r.stderr, new RegExp(`'${name} --help'`));
                    assert.equal(r.stdout, '');
                }
                const r = runSync(name, ['stray']);
                assert.equal(r.status, p.usage);
                assert.match(r.stderr, /unexpected argument 'stray'/);
            });

            test(`${name}: a flag without its value is named, exit ${p.usage}`,
                () => {
                    for (const flag of ['--config', '--set', '-c']) {
                        const r = runSync(name, ['--log-json', flag]);
                        assert.equal(r.status, p.usage, r.stderr);
                        assert.match(r.stderr, new RegExp(
                            `^${name}: ${flag} needs a value\n`));
                    }
                    const r = runSync(name, ['--set', 'log_level']);
                    assert.equal(r.status, p.usage);
                    assert.match(r.stderr, /--set log_level: expected NAME=VALUE/);
                    const u = runSync(name, ['--set', 'no_such_option=1']);
                    assert.equal(u.status, p.usage);
                    assert.match(u.stderr, /unknown option "no_such_option"/);
                });

            // log_level is checked once every source is read: the value that
            // is refused is the one that won.
            test(`${name}: default < --config < ${p.env}<NAME> < --set`, () => {
                const file = path.join(work, `${name}.json`);
                fs.writeFileSync(file, JSON.stringify({ [p.section]:
                    { log_level: 'from-file' }, other: { x: 1 } }));
                const refused = (args, env) => {
                    const r = runSync(name, args, env);
                    assert.equal(r.status, p.usage, r.stderr);
                    const m = /(from-[a-z]+)/.exec(r.stderr);
                    assert.ok(m, r.stderr);
                    assert.match(r.stderr, /log.level/);
                    return m[1];
                };
                const env = { [`${p.env}LOG_LEVEL`]: 'from-env' };
                assert.equal(refused(['--config', file]), 'from-file');
                assert.equal(refused(['--config', file], env), 'from-env');
                // --set wins wherever it stands
                assert.equal(refused(['--set', 'log_level=from-set',
                    '--config', file], env), 'from-set');
                // a flat file is a program's own
                fs.writeFileSync(file, JSON.stringify({ log_level: 'from-flat' }));
                assert.equal(refused(['-c', file]), 'from-flat');
                fs.writeFileSync(file, JSON.stringify({ log_level: 'warn' }));
                assert.equal(refused(['-c', file, '-s', 'log_level=from-set']),
                    'from-set');
            });
        }

        test('cirrus-transcode: a flag and --set name the same option', () => {
            const r = runSync('cirrus-transcode', ['--window', '2']);
            assert.equal(r.status, 1);
            assert.match(r.stderr, /--window: window: 2 is outside \[3, 100000\]/);
            const s = runSync('cirrus-transcode', ['--set', 'window=2']);
            assert.match(s.stderr, /--set window=2: window: 2 is outside/);
            const e = runSync('cirrus-transcode', [],
                { CIRRUS_TRANSCODE_WINDOW: '2' });
            assert.match(e.stderr, /CIRRUS_TRANSCODE_WINDOW: window: 2 is outside/);
        });

        // The daemons really run on what wins: the file's port is
        // overridden by --set, and --log-json makes every log line JSON.
        for (const [name, portOption, ready, url] of [
            ['cirrus-ingest', 'status_port', /listening rtmp=/, '/streams'],
            ['cirrus-worker', 'metrics_port', /metrics on http:/, '/metrics']]) {
            test(`${name} runs on --set over --config, logs JSON, exit 0 on ` +
                'SIGTERM', async () => {
                const dir = fs.mkdtempSync(path.join(work, 'daemon-'));
                const [filePort, setPort] = [await freePort(), await freePort()];
                const file = path.join(dir, 'cirrus.json');
                fs.writeFileSync(file, JSON.stringify({
                    ingest: { port: 0, status_port: filePort,
                        live_root: path.join(dir, 'live') },
                    worker: { spool_dir: path.join(dir, 'spool'),
                        out_root: `file://${path.join(dir, 'out')}`,
                        presets_dir: C.PRESETS_DIR, workers: 1,
                        metrics_port: filePort } }));
                const child = spawn(PROGRAMS[name].bin, ['--config', file,
                    '--set', `${portOption}=${setPort}`, '--log-json'],
                { stdio: ['ignore', 'pipe', 'pipe'],
                    env: { PATH: process.env.PATH } });
                children.add(child);
                let log = '';
                child.stdout.on('data', (d) => (log += d));
                child.stderr.on('data', (d) => (log += d));
                const exited = new Promise((ok) => child.on('exit',
                    (code, signal) => ok({ code, signal })));
                try {
                    await C.waitFor(`${name} to start`, () => ready.test(log),
                        { timeoutMs: 20000, detail: () => log });
                    const res = await fetch(`http://127.0.0.1:${setPort}${url}`);
                    assert.equal(res.status, 200);
                    await res.text(); // one status port: --set's
                } finally {
                    child.kill('SIGTERM');
                }
                assert.deepEqual(await exited, { code: 0, signal: null }, log);
                children.delete(child);
                const lines = log.split('\n').filter((l) => l.trim());
                assert.ok(lines.length >= 1);
                for (const l of lines)
                    assert.doesNotThrow(() => JSON.parse(l), `not JSON: ${l}`);
            });
        }
    });

describe('cirrus-transcode command line', () => {
    // On a terminal (script(1) gives the program a pty): one bar redrawn in
    // place, the ETA as h:mm:ss, and every log line on a line of its own:
    // the bar is cleared before it and drawn again after it.
    test('on a terminal, log lines never land on the progress bar',
        async () => {
            const out = path.join(work, 'tty-bar');
            const cmd = [C.TRANSCODE_BIN, '--input', input, '--output', out,
                '--preset', 'mobile', '--only', 'hls', '--presets-dir',
                C.PRESETS_DIR, '--log-level', 'debug']
                .map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
            const r = await C.run('script', ['-qec', cmd, '/dev/null']);
            assert.equal(r.code, 0, r.stderr);
            const text = r.stdout.replace(/\r\n/g, '\n');
            const bars = text.match(/\[[#.]{30}\] +[\d.]+% .*?eta \S+/g) || [];
            assert.ok(bars.length >= 2, text.slice(0, 2000));
            for (const b of bars)
                assert.match(b, /eta (\d+:\d\d:\d\d|--:--:--)$/);
            assert.match(bars[bars.length - 1], /100\.0%/);
            // a log line starts a line, or follows the bar's clearing
            const logAt = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn)/g;
            let m, logs = 0;
            while ((m = logAt.exec(text))) {
                const before = text.slice(Math.max(0, m.index - 4), m.index);
                assert.ok(m.index === 0 || before.endsWith('\n') ||
                    before.endsWith('\r\x1b[K'),
                    `a log line drawn over the bar: ${JSON.stringify(
                        text.slice(Math.max(0, m.index - 120), m.index + 60))}`);
                logs++;
            }
            assert.ok(logs >= 5, `${logs} log lines`);
        });

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
            assert.match(lines[0], /fps=\S+ speed=\S+x eta=(\d+:\d\d:\d\d|--:--:--)$/);
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

    test('SIGINT stops the job with 130 and leaves nothing it wrote; ' +
        'the version already published stays', async () => {
        const out = path.join(work, 'interrupted');
        // a version published first, by a job that finished
        const first = await C.transcode({ input: `file://${input}`,
            output: `file://${out}`, preset: 'mobile', args: ['--only', 'hls'] });
        assert.equal(first.code, 0, C.describe(first));
        const kept = fs.readFileSync(path.join(out, 'master.m3u8'), 'utf8');
        const filesOf = (dir) => fs.readdirSync(dir, { recursive: true })
            .filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
        const keptFiles = filesOf(path.join(out, 'v', first.result.version));
        const child = spawn(C.TRANSCODE_BIN, ['--input',
            C.sample('h264_1080p30.mp4'), '--output', out, '--preset', 'web'],
        { stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, CIRRUS_PRESETS_DIR: C.PRESETS_DIR } });
        let stdout = '', stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        // Wait for the job to have written media, then interrupt it.
        const versions = () => fs.readdirSync(path.join(out, 'v'))
            .filter((v) => v !== first.result.version);
        await C.waitFor('the second job writing media', () =>
            versions().some((v) => filesOf(path.join(out, 'v', v))
                .some((f) => /\.(mp4|m4s|jpg)$/.test(f))),
        { timeoutMs: 30000, every: 50 });
        child.kill('SIGINT');
        const code = await new Promise((ok) => child.on('close', (c) => ok(c)));
        assert.equal(code, 130, stderr.slice(-2000));
        const res = C.lastJsonLine(stdout);
        assert.equal(res?.state, 'failed');
        assert.equal(res?.exit_code, 130);
        // its version is gone, folders and all; the published one is whole
        // and still the one the manifests name
        assert.deepEqual(versions(), [], stderr.slice(-2000));
        assert.match(stderr, new RegExp(`removed the unfinished version ` +
            `${res.version} \\(\\d+ objects\\)`));
        assert.equal(fs.readFileSync(path.join(out, 'master.m3u8'), 'utf8'),
            kept);
        assert.deepEqual(filesOf(path.join(out, 'v', first.result.version)),
            keptFiles);
    });
});
