// Bad inputs, bad presets and bad command lines: the documented exit codes,
// a failed result line, and nothing left that looks like a complete asset.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';

const work = C.tmpDir('broken-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

function assertNoCompleteAsset(out) {
    for (const f of ['master.m3u8', 'manifest.mpd'])
        assert.ok(!fs.existsSync(path.join(out, f)), `no ${f} in ${out}`);
}

async function expectExit(code, opts, name) {
    const out = path.join(work, name);
    const r = await C.transcode({ output: out, ...opts, timeoutMs: 120000 });
    assert.equal(r.code, code, C.describe(r));
    assertNoCompleteAsset(out);
    return r;
}

describe('bad inputs exit 2', () => {
    for (const name of ['truncated.mp4', 'not_media.mp4', 'empty.mp4',
        'huge_box.mp4']) {
        test(name, async () => {
            const r = await expectExit(2, { input: C.sample(name),
                preset: 'web' }, name);
            assert.ok(r.result, 'a result line on stdout');
            assert.equal(r.result.state, 'failed');
            assert.equal(r.result.exit_code, 2);
            assert.ok(r.result.error, 'the result names the error');
        });
    }

    test('a missing file', async () => {
        const r = await expectExit(2, { input: path.join(work, 'nope.mp4'),
            preset: 'web' }, 'missing');
        assert.equal(r.result?.state, 'failed');
    });

    test('a missing file as a file:// URI', async () => {
        await expectExit(2, { input: `file://${path.join(work, 'nope.mp4')}`,
            preset: 'web' }, 'missing-uri');
    });
});

describe('bad presets exit 3', () => {
    test('unknown preset name', async () => {
        const r = await expectExit(3, { input: C.sample('h264_720p2997.mp4'),
            preset: 'no-such-preset' }, 'unknown-preset');
        assert.equal(r.result?.exit_code, 3);
    });

    const presets = path.join(work, 'presets');
    fs.mkdirSync(presets, { recursive: true });
    const bad = {
        'not-json': '{ "name": "not-json", "video": { ',
        'wrong-type': JSON.stringify({ name: 'wrong-type', video: 'fast' }),
        'unknown-field': JSON.stringify({ name: 'unknown-field',
            no_such_field: 1 }),
        'zero-bitrate': JSON.stringify({ name: 'zero-bitrate',
            video: { rungs: [{ name: '360p', height: 360, bitrate_kbps: 0 }] } }),
        'empty-file': '',
    };
    for (const [name, text] of Object.entries(bad)) {
        fs.writeFileSync(path.join(presets, `${name}.json`), text);
        test(`invalid preset file: ${name}`, async () => {
            await expectExit(3, { input: C.sample('h264_720p2997.mp4'),
                preset: name, args: ['--presets-dir', presets] }, `preset-${name}`);
        });
    }
});

describe('bad command lines exit 1', () => {
    const input = C.sample('h264_720p2997.mp4');
    const cases = {
        'no arguments': [],
        'unknown option': ['--input', input, '--output', 'x', '--preset', 'web',
            '--no-such-option'],
        'missing --preset': ['--input', input, '--output', 'x'],
        'missing --input': ['--output', 'x', '--preset', 'web'],
        'option without value': ['--input', input, '--output', 'x', '--preset'],
        'bad --only': ['--input', input, '--output', 'x', '--preset', 'web',
            '--only', 'hls,nonsense'],
        'bad --log-level': ['--input', input, '--output', 'x', '--preset', 'web',
            '--log-level', 'loud'],
    };
    for (const [name, args] of Object.entries(cases)) {
        test(name, async () => {
            const r = await C.run(C.TRANSCODE_BIN, args, { cwd: work,
                timeoutMs: 60000 });
            assert.equal(r.code, 1, `${args.join(' ')}\n${r.stderr}`);
            assert.ok(r.stderr.length > 0, 'says what is wrong on stderr');
            assertNoCompleteAsset(path.join(work, 'x'));
        });
    }
});
