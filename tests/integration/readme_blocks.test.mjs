// Every command in README.md is run: the fenced `sh` blocks marked with
// `<!-- runnable -->` (README, "Checked commands") run with bash in a
// temporary folder that links the source tree and the build, with the
// README's ports (the demo's 8080, 1935, 8081, 8082, the job API's 8090)
// replaced by free ones.  A block must exit 0; a block marked
// `until="TEXT"` is a long-running command (the demo, a worker): it must
// print TEXT and keep running until the end of its section or the next
// long-running command, when it is stopped; a `text` block marked `output` lists lines the command before it
// must have printed, and each http URL in it must answer.  Unmarked `sh`
// blocks are only those listed in UNMARKED (AWS, OBS, the CI run itself).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort } from './lib/nginx.mjs';

const README = path.join(C.SOURCE_DIR, 'README.md');
const README_PORTS = ['8080', '1935', '8081', '8082', '8090'];
// `sh` blocks left unmarked on purpose, by their first line
const UNMARKED = [
    'scripts/demo   # set up', // the two commands: the demo is run below,
    // scripts/test is CI's own run
    'aws s3 cp ', // needs an AWS account and the deployed stack
];
const BLOCK_MS = 120000; // one block, or a service reaching its TEXT
const STOP_MS = 15000; // a service stopping after SIGTERM

const missing = [
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest'),
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker'),
    path.join(C.BUILD_DIR, 'nginx-module', 'ngx_http_cirrus_module.so'),
    '/usr/sbin/nginx',
    path.join(C.SOURCE_DIR, 'samples', 'media', 'h264_1080p30.mp4'),
].find((f) => !fs.existsSync(f));

// README.md -> [{ title, blocks: [{ kind, code, until, line }] }], kind
// 'run', 'service' or 'output'; `unmarked` collects the other sh blocks.
function parseReadme(text) {
    const lines = text.split('\n');
    const sections = [{ title: '(top)', blocks: [] }];
    const unmarked = [];
    for (let i = 0; i < lines.length; i++) {
        const l = lines[i];
        if (/^## /.test(l)) {
            sections.push({ title: l.slice(3), blocks: [] });
            continue;
        }
        const marker = /^<!--\s*runnable(?::\s*(.*?))?\s*-->\s*$/.exec(l);
        const fence = /^```(\w*)/.exec(l);
        if (!marker && !fence)
            continue;
        let lang = fence && fence[1];
        let start = i;
        if (marker) {
            const next = /^```(\w*)/.exec(lines[i + 1] || '');
            assert.ok(next, `README.md:${i + 1}: a runnable marker must be `
                + 'followed by a fenced block on the next line');
            lang = next[1];
            start = i + 1;
        }
        let end = start + 1;
        while (end < lines.length && !/^```\s*$/.test(lines[end]))
            end++;
        assert.ok(end < lines.length, `README.md:${start + 1}: unclosed fence`);
        const code = lines.slice(start + 1, end).join('\n');
        i = end;
        if (!marker) {
            if (lang === 'sh' || lang === 'bash')
                unmarked.push({ code, line: start + 1 });
            continue;
        }
        const opts = marker[1] || '';
        const until = /until="([^"]+)"/.exec(opts);
        const kind = /^output\b/.test(opts) ? 'output'
            : until ? 'service' : 'run';
        assert.ok(kind === 'output' ? lang === 'text' : lang === 'sh',
            `README.md:${start + 1}: a runnable ${kind} block must be `
            + `\`${kind === 'output' ? 'text' : 'sh'}\`, not \`${lang}\``);
        assert.ok(kind !== 'run' || opts === '',
            `README.md:${i + 1}: unknown runnable option "${opts}"`);
        sections.at(-1).blocks.push({ kind, code, line: start + 1,
            until: until && until[1] });
    }
    return { sections: sections.filter((s) => s.blocks.length), unmarked };
}

// The temporary tree: links to the source's top-level entries, and a
// build/ of links to the build's own (its demo/ folder stays here).
function makeTree() {
    const root = C.tmpDir('readme-');
    fs.chmodSync(root, 0o755); // nginx's workers run as nobody under root
    for (const e of fs.readdirSync(C.SOURCE_DIR))
        if (!/^(build.*|out|\.git)$/.test(e))
            fs.symlinkSync(path.join(C.SOURCE_DIR, e), path.join(root, e));
    fs.mkdirSync(path.join(root, 'build'));
    for (const e of fs.readdirSync(C.BUILD_DIR))
        if (!/^(demo|test-out)$/.test(e))
            fs.symlinkSync(path.join(C.BUILD_DIR, e),
                path.join(root, 'build', e));
    return root;
}

// Starts a block: bash in a process group of its own, output collected.
function startBlock(code, { cwd, env }) {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', code],
        { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = { child, out: '', exited: null };
    child.stdout.on('data', (d) => { proc.out += d; });
    child.stderr.on('data', (d) => { proc.out += d; });
    proc.done = new Promise((resolve) => child.on('close', (code, signal) => {
        proc.exited = { code, signal };
        resolve(proc.exited);
    }));
    return proc;
}

function killGroup(proc, signal) {
    try {
        process.kill(-proc.child.pid, signal);
    } catch {
        // the group is gone already
    }
}

// resolves 'timeout' after ms; unref'd: a pending one keeps nothing alive
const timeout = (ms) => new Promise((r) => setTimeout(() => r('timeout'), ms)
    .unref());

async function runBlock(code, opts) {
    const proc = startBlock(code, opts);
    const r = await Promise.race([proc.done, timeout(BLOCK_MS)]);
    killGroup(proc, 'SIGKILL'); // what it left in the background
    assert.notEqual(r, 'timeout', `still running after ${BLOCK_MS} ms:\n${proc.out}`);
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal || ''}:\n${proc.out}`);
    return proc;
}

async function startService(code, until, opts) {
    const proc = startBlock(code, opts);
    const deadline = Date.now() + BLOCK_MS;
    while (!proc.out.includes(until) && !proc.exited && Date.now() < deadline)
        await C.sleep(100);
    if (!proc.out.includes(until)) {
        killGroup(proc, 'SIGKILL');
        assert.fail(`"${until}" not printed (${proc.exited
            ? `exit ${proc.exited.code}` : 'timeout'}):\n${proc.out}`);
    }
    return proc;
}

async function stopService(proc) {
    assert.equal(proc.exited, null,
        `the command ended by itself before its section's end:\n${proc.out}`);
    killGroup(proc, 'SIGTERM');
    if (await Promise.race([proc.done, timeout(STOP_MS)]) === 'timeout') {
        killGroup(proc, 'SIGKILL');
        assert.fail(`did not stop within ${STOP_MS} ms of SIGTERM:\n${proc.out}`);
    }
}

// An output block: each of its lines was printed (`…`: any text), and each
// of its http URLs answers 2xx.
async function checkOutput(expected, proc) {
    for (const line of expected.split('\n').map((l) => l.trim()).filter(Boolean))
        for (const piece of line.split('…').map((p) => p.trim()).filter(Boolean))
            assert.ok(proc.out.includes(piece),
                `not printed: "${piece}"\nin:\n${proc.out}`);
    for (const [url] of expected.matchAll(/http:\/\/[^\s)]+/g)) {
        const r = await fetch(url);
        assert.ok(r.ok, `${url}: HTTP ${r.status}`);
        await r.arrayBuffer();
    }
}

// GitHub's anchors of a Markdown file: heading slugs (repeats get -1, -2
// ...) and explicit <a id="...">.
function anchorsOf(text) {
    const out = new Set();
    const seen = new Map();
    let fenced = false;
    for (const l of text.split('\n')) {
        if (/^```/.test(l))
            fenced = !fenced;
        const h = !fenced && /^#{1,6}\s+(.*?)\s*$/.exec(l);
        if (h) {
            const slug = h[1].toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '')
                .replace(/ /g, '-');
            const n = seen.get(slug) || 0;
            seen.set(slug, n + 1);
            out.add(n ? `${slug}-${n}` : slug);
        }
        for (const m of l.matchAll(/<a id="([^"]+)"/g))
            out.add(m[1]);
    }
    return out;
}

// Relative links of README.md and docs/*.md: the file exists, and so
// does the anchor in a Markdown target.
function brokenLinks() {
    const pages = ['README.md', ...fs.readdirSync(path.join(C.SOURCE_DIR, 'docs'))
        .filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const broken = [];
    for (const page of pages) {
        const text = fs.readFileSync(path.join(C.SOURCE_DIR, page), 'utf8')
            .replace(/^```[\s\S]*?^```/gm, '');
        for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
            if (/^[a-z]+:/.test(target))
                continue;
            const [file, anchor] = target.split('#');
            const abs = file ? path.resolve(C.SOURCE_DIR, path.dirname(page), file)
                : path.join(C.SOURCE_DIR, page);
            if (!fs.existsSync(abs))
                broken.push(`${page}: ${target}: no such file`);
            else if (anchor && abs.endsWith('.md')
                && !anchorsOf(fs.readFileSync(abs, 'utf8')).has(anchor))
                broken.push(`${page}: ${target}: no such anchor`);
        }
    }
    return broken;
}

test('README.md and docs/*.md: relative links and anchors resolve', () => {
    assert.deepEqual(brokenLinks(), []);
});

const readme = fs.readFileSync(process.env.CIRRUS_README || README, 'utf8');
const parsed = parseReadme(readme);

describe('README.md commands', { skip: missing ? `${missing} is missing` : false },
    async () => {
        const tree = makeTree();
        const ports = new Map();
        for (const p of README_PORTS)
            ports.set(p, String(await freePort()));
        const portRe = new RegExp(`\\b(${README_PORTS.join('|')})\\b`, 'g');
        const withPorts = (s) => s.replace(portRe, (p) => ports.get(p));
        const env = { ...process.env,
            CIRRUS_DEMO_SKIP_SETUP: '1',
            CIRRUS_DEMO_PORT: ports.get('8080'),
            CIRRUS_DEMO_RTMP_PORT: ports.get('1935'),
            CIRRUS_DEMO_STATUS_PORT: ports.get('8081'),
            CIRRUS_DEMO_WORKER_PORT: ports.get('8082') };
        for (const v of ['CIRRUS_DEMO_LISTEN', 'CIRRUS_DEMO_KEYS',
            'CIRRUS_DEMO_SECONDS', 'CIRRUS_BUILD_DIR'])
            delete env[v];
        const running = new Set();
        after(() => {
            for (const p of running)
                killGroup(p, 'SIGKILL');
            if (!process.env.CIRRUS_KEEP_TEST_OUT)
                fs.rmSync(tree, { recursive: true, force: true });
        });

        test('every sh block is marked runnable or known to need AWS/OBS',
            () => {
                for (const b of parsed.unmarked)
                    assert.ok(UNMARKED.some((u) => b.code.startsWith(u)),
                        `README.md:${b.line}: mark it <!-- runnable --> or `
                        + `list it in UNMARKED with the reason:\n${b.code}`);
                assert.ok(parsed.sections.length >= 3, 'runnable blocks found');
            });

        for (const section of parsed.sections)
            test(`## ${section.title}`, async () => {
                const services = [];
                let last = null;
                try {
                    for (const b of section.blocks) {
                        const code = withPorts(b.code);
                        const opts = { cwd: tree, env };
                        try {
                            if (b.kind === 'output') {
                                assert.ok(last, 'no command before it');
                                await checkOutput(code, last);
                            } else if (b.kind === 'service') {
                                // one at a time: the demos share ports
                                for (const s of services.splice(0))
                                    await stopService(s);
                                last = await startService(code,
                                    withPorts(b.until), opts);
                                services.push(last);
                                running.add(last);
                            } else {
                                last = await runBlock(code, opts);
                            }
                        } catch (e) {
                            e.message = `README.md:${b.line}: ${e.message}`;
                            throw e;
                        }
                    }
                    for (const s of services.reverse())
                        await stopService(s);
                } finally {
                    for (const s of services) {
                        killGroup(s, 'SIGKILL');
                        running.delete(s);
                    }
                }
            });
    });
