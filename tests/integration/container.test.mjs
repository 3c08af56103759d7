// The container image (deploy/Dockerfile) built and started here, without a
// registry, by deploy/scripts/container-smoke: podman, a bookworm base made
// by debootstrap, the image built FROM it, then each binary's --version,
// `nginx -t` of the production config with the module, and a VOD job
// through the spool inside the container.
//
// A cold run takes about 6 minutes on 2 shared cores (debootstrap, apt in
// both stages, the project compiled with one job; 45 s once podman's layer
// cache holds the apt layers), so it runs when asked, as scripts/test (CI)
// asks unless CIRRUS_CONTAINER_TEST=0:
//   CIRRUS_CONTAINER_TEST=1 ctest --test-dir build -R integration.container
// Without it only the probe runs (can containers run here at all?), and the
// test is skipped with the probe's answer.  Always: the Dockerfile installs
// a Debian package for every pkg-config module CMake requires, in the
// builder (-dev) and the runtime (the library it depends on).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOURCE_DIR } from './lib/cirrus.mjs';

const SMOKE = path.join(SOURCE_DIR, 'deploy', 'scripts', 'container-smoke');
const DOCKERFILE = fs.readFileSync(path.join(SOURCE_DIR, 'deploy', 'Dockerfile'), 'utf8');

// The packages of the first `apt-get install` in a stage (FROM … AS name).
function stagePackages(stage) {
    const start = DOCKERFILE.search(new RegExp(`^FROM \\S+ AS ${stage}$`, 'm'));
    assert.ok(start >= 0, `stage ${stage}`);
    const lines = DOCKERFILE.slice(start).split('\n');
    const first = lines.findIndex((l) => /apt-get install -y/.test(l));
    assert.ok(first >= 0, `apt-get install in ${stage}`);
    // Its continuation lines, up to the next command (`&& …`).
    const words = [];
    for (const line of lines.slice(first + 1)) {
        if (/^\s*&&/.test(line)) break;
        words.push(...line.replace(/\\$/, '').trim().split(/\s+/));
        if (!/\\$/.test(line)) break;
    }
    return new Set(words.filter((w) => /^[a-z0-9"]/.test(w))
        .map((w) => w.replace(/^"|"$/g, '').replace(/=.*$/, '')));
}

// pkg-config modules of every pkg_check_modules(...) in CMake, but tests/'s
// (the image builds with -DCIRRUS_TESTS=OFF -DCIRRUS_FUZZ=OFF).
function requiredPkgConfigModules() {
    const mods = new Set();
    const walk = (dir) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            if (e.name.startsWith('.') || /^build|^(node_modules|samples|tests)$/.test(e.name))
                continue;
            const p = path.join(dir, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.name === 'CMakeLists.txt') {
                const text = fs.readFileSync(p, 'utf8');
                for (const m of text.matchAll(/pkg_check_modules\(([^)]*)\)/g)) {
                    const words = m[1].split(/\s+/).filter(Boolean).slice(1)
                        .filter((w) => !/^(REQUIRED|QUIET|IMPORTED_TARGET|GLOBAL)$/.test(w));
                    for (const w of words) mods.add(w.replace(/[<>=].*$/, ''));
                }
            }
        }
    };
    walk(SOURCE_DIR);
    return [...mods].sort();
}

const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' });

describe('container image', () => {
    test('the Dockerfile installs every pkg-config module CMake requires', () => {
        const builder = stagePackages('builder');
        const runtime = stagePackages('runtime');
        const mods = requiredPkgConfigModules();
        assert.ok(mods.includes('jansson') && mods.includes('srt'), mods.join(' '));
        // The Debian package that ships this machine's MOD.pc (one dpkg -S).
        const pcFiles = mods.map((mod) => {
            const dir = run('pkg-config', ['--variable=pcfiledir', mod]).stdout.trim();
            assert.ok(dir, `pkg-config knows ${mod} (scripts/setup installs it)`);
            return path.join(dir, `${mod}.pc`);
        });
        const owners = new Map(run('dpkg', ['-S', ...pcFiles]).stdout.trim().split('\n')
            .map((l) => /^([^:]+)(?::[a-z0-9]+)?: (\S+)$/.exec(l))
            .filter(Boolean).map((m) => [m[2], m[1]]));
        const devs = [...new Set(pcFiles.map((f) => owners.get(f)))];
        assert.ok(devs.every(Boolean), `dpkg -S ${pcFiles.join(' ')}`);
        // Their shared libraries: the lib* packages each -dev one depends on.
        const libs = {};
        let current = null;
        for (const l of run('apt-cache', ['depends', ...devs]).stdout.split('\n')) {
            if (/^\S/.test(l)) current = libs[l.trim()] = [];
            const d = /^\s*Depends: ([a-z0-9.+-]+)$/.exec(l)?.[1];
            if (current && d && /^lib/.test(d) && !/-dev$/.test(d)) current.push(d);
        }
        const missing = [];
        for (const [i, mod] of mods.entries()) {
            const dev = owners.get(pcFiles[i]);
            if (!builder.has(dev)) missing.push(`builder: ${dev} (${mod}.pc)`);
            assert.ok(libs[dev], `apt-cache depends ${dev}`);
            const deps = libs[dev];
            if (deps.length && !deps.some((d) => runtime.has(d)))
                missing.push(`runtime: one of ${deps.join(', ')} (for ${dev})`);
        }
        assert.deepEqual(missing, []);
    });

    test('without podman the smoke script says why it cannot run (exit 77)', () => {
        // A PATH with the two tools the script needs before it looks for podman.
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'cirrus-nopodman-'));
        try {
            for (const tool of ['dirname', 'id'])
                fs.symlinkSync(run('sh', ['-c', `command -v ${tool}`]).stdout.trim(),
                    path.join(bin, tool));
            const r = spawnSync('/bin/bash', [SMOKE, '--probe'],
                { encoding: 'utf8', env: { PATH: bin } });
            assert.equal(r.status, 77, r.stderr);
            assert.match(r.stderr, /^SKIP: podman is not installed \(apt-get install podman/m);
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
        }
    });

    test('build the image and run it (deploy/scripts/container-smoke)', {
        timeout: 60 * 60 * 1000,
    }, async (t) => {
        const full = process.env.CIRRUS_CONTAINER_TEST === '1';
        const args = full ? [] : ['--probe'];
        const child = spawn(SMOKE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stdout.on('data', (d) => process.stdout.write(`# ${d}`));
        child.stderr.on('data', (d) => {
            stderr += d;
            process.stderr.write(d);
        });
        const code = await new Promise((resolve) => child.on('close', resolve));
        const reason = /^SKIP: (.*)$/m.exec(stderr)?.[1];
        if (code === 77) {
            t.skip(`containers cannot run here: ${reason}`);
            return;
        }
        assert.equal(code, 0, `container-smoke ${args.join(' ')} exited ${code}`);
        if (!full) {
            t.skip('containers run here (probe passed); the build and smoke run with '
                + 'CIRRUS_CONTAINER_TEST=1 (a cold run takes about 6 minutes)');
        }
    });
});
