// Helpers shared by the integration tests: where things are, running
// cirrus-transcode, ffprobe, and parsing the playlists and MPDs it writes.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = path.resolve(process.env.CIRRUS_SOURCE_DIR ||
    path.join(here, '..', '..', '..'));
export const BUILD_DIR = path.resolve(process.env.CIRRUS_BUILD_DIR ||
    path.join(SOURCE_DIR, 'build'));
export const SAMPLES_DIR = path.resolve(process.env.CIRRUS_SAMPLES_DIR ||
    path.join(SOURCE_DIR, 'samples', 'media'));
export const PRESETS_DIR = path.resolve(process.env.CIRRUS_PRESETS_DIR ||
    path.join(SOURCE_DIR, 'presets'));
export const TEST_OUT = path.join(BUILD_DIR, 'test-out');
export const TRANSCODE_BIN = process.env.CIRRUS_TRANSCODE ||
    path.join(BUILD_DIR, 'transcoder', 'cirrus-transcode');

export function sample(name) {
    const p = path.join(SAMPLES_DIR, name);
    if (!fs.existsSync(p))
        throw new Error(`missing sample ${p}: run samples/make-samples`);
    return p;
}

export function tmpDir(prefix = 'cirrus-test-') {
    fs.mkdirSync(TEST_OUT, { recursive: true });
    return fs.mkdtempSync(path.join(TEST_OUT, prefix));
}

// Runs a command to completion; resolves { code, signal, stdout, stderr }.
export function run(cmd, args, { env, timeoutMs = 600000, cwd } = {}) {
    return new Promise((ok, fail) => {
        const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd,
            stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '', stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', (e) => {
            clearTimeout(timer);
            fail(e);
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            ok({ code, signal, stdout, stderr });
        });
    });
}

// Runs cirrus-transcode; `result` is the JSON of its last stdout line (or
// null when there is none or it does not parse).
export async function transcode({ input, output, preset, args = [], env,
    timeoutMs } = {}) {
    const argv = [];
    if (input !== undefined)
        argv.push('--input', input);
    if (output !== undefined)
        argv.push('--output', output);
    if (preset !== undefined)
        argv.push('--preset', preset);
    argv.push(...args);
    if (!fs.existsSync(TRANSCODE_BIN))
        throw new Error(`${TRANSCODE_BIN} missing: build cirrus-transcode ` +
            '(scripts/build) or set CIRRUS_BUILD_DIR');
    const r = await run(TRANSCODE_BIN, argv, {
        env: { CIRRUS_PRESETS_DIR: PRESETS_DIR, ...env }, timeoutMs });
    r.argv = argv;
    r.result = lastJsonLine(r.stdout);
    return r;
}

// The published version an asset's top-level manifests point at:
// <asset>/v/<version> (README "Published outputs never change"); every
// other object of the asset is in there, with the version's own
// master.m3u8 and manifest.mpd (relative URIs, as before versions).
export function versionOf(assetDir) {
    for (const f of ['master.m3u8', 'manifest.mpd', 'images/manifest.json',
        'thumbs.vtt']) {
        let text;
        try {
            text = fs.readFileSync(path.join(assetDir, f), 'utf8');
        } catch {
            continue;
        }
        const m = /(?:^|["\n>])v\/([A-Za-z0-9_-]+)\//.exec(text);
        if (m)
            return m[1];
    }
    throw new Error(`${assetDir}: no top-level manifest pointing into v/<version>/`);
}

export function versionDir(assetDir) {
    return path.join(assetDir, 'v', versionOf(assetDir));
}

export function lastJsonLine(text) {
    const lines = text.trim().split('\n').filter(Boolean);
    if (!lines.length)
        return null;
    try {
        return JSON.parse(lines[lines.length - 1]);
    } catch {
        return null;
    }
}

// A readable failure message for a transcode run.
export function describe(r) {
    return `cirrus-transcode ${r.argv.join(' ')}\nexit ${r.code} ` +
        `(signal ${r.signal})\nstdout: ${r.stdout.slice(-2000)}\n` +
        `stderr: ${r.stderr.slice(-4000)}`;
}

function stampOf(input, preset) {
    const parts = [TRANSCODE_BIN, input, path.join(PRESETS_DIR, `${preset}.json`)]
        .map((f) => {
            try {
                const st = fs.statSync(f);
                return `${f}:${st.size}:${st.mtimeMs}`;
            } catch {
                return `${f}:-`;
            }
        });
    return parts.join('\n');
}

const cache = new Map();

// One transcode of `sampleName` with `preset`, shared by every test that asks
// for it.  Outputs live in $CIRRUS_BUILD_DIR/test-out/<sample>.<preset>/ and
// are reused across test files while the binary, the sample and the preset
// are unchanged (a stamp file records them); a new run writes to a temporary
// folder and renames it into place, so concurrent test files never share a
// half-written folder.  Resolves { dir, run (null when reused), result }.
export function transcodeCached(sampleName, preset) {
    const key = `${sampleName}.${preset}`;
    if (!cache.has(key))
        cache.set(key, doTranscodeCached(sampleName, preset, key));
    return cache.get(key);
}

async function doTranscodeCached(sampleName, preset, key) {
    const input = sample(sampleName);
    const dir = path.join(TEST_OUT, key);
    const stampFile = path.join(dir, '.cirrus-test-stamp');
    const stamp = stampOf(input, preset);
    try {
        const old = JSON.parse(fs.readFileSync(stampFile, 'utf8'));
        if (old.stamp === stamp && process.env.CIRRUS_TEST_FRESH !== '1')
            return { dir, run: null, result: old.result, reused: true };
    } catch {
        /* no usable stamp: transcode */
    }
    fs.mkdirSync(TEST_OUT, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(TEST_OUT, `.${key}.`));
    const out = path.join(tmp, 'out');
    let r;
    try {
        r = await transcode({ input, output: out, preset,
            args: ['--progress-json', path.join(tmp, 'progress.json')] });
    } catch (e) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw e;
    }
    if (r.code !== 0) {
        const err = new Error(describe(r));
        err.run = r;
        throw err;
    }
    fs.writeFileSync(path.join(out, '.cirrus-test-stamp'),
        JSON.stringify({ stamp, result: r.result }));
    // Another test file may have published the same job meanwhile: keep
    // theirs (their tests may be reading it) and drop ours.
    if (process.env.CIRRUS_TEST_FRESH === '1' ||
        readJson(stampFile)?.stamp !== stamp) {
        fs.rmSync(dir, { recursive: true, force: true });
        try {
            fs.renameSync(out, dir);
        } catch (e) {
            if (readJson(stampFile)?.stamp !== stamp)
                throw e;
        }
    }
    const progress = readJson(path.join(tmp, 'progress.json'));
    fs.rmSync(tmp, { recursive: true, force: true });
    // the result of the asset that is in place (theirs, if we dropped ours:
    // its version, not ours, is what the folder holds)
    const result = readJson(stampFile)?.result ?? r.result;
    return { dir, run: r, result, progress, reused: false };
}

export function readJson(file) {
    try {
        return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
        return null;
    }
}

// --- presets ---------------------------------------------------------------

export function loadPreset(name) {
    return JSON.parse(fs.readFileSync(path.join(PRESETS_DIR, `${name}.json`),
        'utf8'));
}

// The video rungs of a preset document: [{ name, width, height,
// bitrate_kbps, ... }], whatever nesting the document uses.
export function presetRungs(doc) {
    const v = doc.video || {};
    return v.rungs || v.renditions || doc.rungs || doc.renditions || [];
}

// Every image file name (.jpg, .webp) an image manifest.json names,
// wherever its schema puts them.
export function imageNames(manifest) {
    const named = [];
    (function walk(v) {
        if (typeof v === 'string' && /\.(jpg|webp)$/.test(v))
            named.push(v);
        else if (v && typeof v === 'object')
            Object.values(v).forEach(walk);
    })(manifest);
    return named;
}

export function presetImageWidths(doc) {
    const im = doc.images || doc.image || {};
    return im.widths || im.image_widths || doc.image_widths || doc.widths || [];
}

// --- ffprobe ---------------------------------------------------------------

export function ffprobe(file, extra = ['-show_streams', '-show_format']) {
    const r = spawnSync('ffprobe', ['-v', 'error', '-of', 'json', ...extra, file],
        { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0)
        throw new Error(`ffprobe ${file} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
}

// Probes a CMAF segment by joining it to its init segment in a temp file.
// `extra` are ffprobe's -show_* arguments.
export function probeSegment(initFile, segFile, extra) {
    const tmp = path.join(os.tmpdir(), `cirrus-seg-${process.pid}-` +
        `${Math.random().toString(36).slice(2)}.mp4`);
    fs.writeFileSync(tmp, Buffer.concat([fs.readFileSync(initFile),
        fs.readFileSync(segFile)]));
    try {
        return ffprobe(tmp, extra);
    } finally {
        fs.rmSync(tmp, { force: true });
    }
}

export function videoStream(probe) {
    return (probe.streams || []).find((s) => s.codec_type === 'video');
}

export function audioStream(probe) {
    return (probe.streams || []).find((s) => s.codec_type === 'audio');
}

export function rate(str) {
    const [n, d] = String(str).split('/').map(Number);
    return d ? n / d : n;
}

// Width and height as displayed (after any rotation in the display matrix).
export function displaySize(stream) {
    let rot = 0;
    for (const sd of stream.side_data_list || [])
        if (sd.rotation !== undefined)
            rot = Number(sd.rotation);
    if (stream.tags && stream.tags.rotate)
        rot = Number(stream.tags.rotate);
    const swap = Math.abs(rot) % 180 === 90;
    return swap ? { width: stream.height, height: stream.width }
        : { width: stream.width, height: stream.height };
}

// --- HLS -------------------------------------------------------------------

// Attribute lists: KEY=VALUE,KEY="quoted, value"
export function parseAttrs(s) {
    const out = {};
    const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
    let m;
    while ((m = re.exec(s)))
        out[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
    return out;
}

export function parseMaster(text) {
    const lines = text.split(/\r?\n/);
    const m = { lines, variants: [], media: [], iframes: [], tags: new Set() };
    for (let i = 0; i < lines.length; i++) {
        const l = lines[i].trim();
        if (!l.startsWith('#EXT'))
            continue;
        const tag = l.split(':')[0];
        m.tags.add(tag);
        const attrs = parseAttrs(l.slice(tag.length + 1));
        if (tag === '#EXT-X-STREAM-INF') {
            let j = i + 1;
            while (j < lines.length && (!lines[j].trim() ||
                lines[j].trim().startsWith('#')))
                j++;
            m.variants.push({ attrs, uri: (lines[j] || '').trim() });
            i = j;
        } else if (tag === '#EXT-X-MEDIA') {
            m.media.push(attrs);
        } else if (tag === '#EXT-X-I-FRAME-STREAM-INF') {
            m.iframes.push(attrs);
        }
    }
    return m;
}

export function parseMedia(text) {
    const lines = text.split(/\r?\n/);
    const p = { segments: [], map: null, targetDuration: null, endList: false,
        tags: new Set(), version: null };
    let pending = null;
    for (const raw of lines) {
        const l = raw.trim();
        if (!l)
            continue;
        if (l.startsWith('#')) {
            const tag = l.split(':')[0];
            p.tags.add(tag);
            const val = l.slice(tag.length + 1);
            if (tag === '#EXTINF')
                pending = { duration: Number(val.split(',')[0]) };
            else if (tag === '#EXT-X-MAP')
                p.map = parseAttrs(val);
            else if (tag === '#EXT-X-TARGETDURATION')
                p.targetDuration = Number(val);
            else if (tag === '#EXT-X-ENDLIST')
                p.endList = true;
            else if (tag === '#EXT-X-VERSION')
                p.version = Number(val);
            else if (tag === '#EXT-X-BYTERANGE' && pending)
                pending.byterange = val;
            continue;
        }
        if (pending) {
            pending.uri = l;
            p.segments.push(pending);
            pending = null;
        }
    }
    return p;
}

export function readText(file) {
    return fs.readFileSync(file, 'utf8');
}

// --- DASH ------------------------------------------------------------------

// The Representations of an MPD, with the attributes of their AdaptationSet
// merged in (enough for structure checks; xmllint checks well-formedness).
export function parseMpdRepresentations(xml) {
    const reps = [];
    const setRe = /<AdaptationSet\b([^>]*)>([\s\S]*?)<\/AdaptationSet>/g;
    let s;
    while ((s = setRe.exec(xml))) {
        const setAttrs = xmlAttrs(s[1]);
        const repRe = /<Representation\b([^>]*?)(\/?)>/g;
        let r;
        while ((r = repRe.exec(s[2])))
            reps.push({ ...setAttrs, ...xmlAttrs(r[1]) });
    }
    return reps;
}

export function xmlAttrs(s) {
    const out = {};
    const re = /([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*"([^"]*)"/g;
    let m;
    while ((m = re.exec(s)))
        out[m[1]] = m[2];
    return out;
}

// --- WebVTT ----------------------------------------------------------------

export function vttTime(s) {
    const parts = s.trim().split(':').map(Number);
    return parts.reduce((acc, v) => acc * 60 + v, 0);
}

export function parseVtt(text) {
    const cues = [];
    const blocks = text.replace(/\r/g, '').split(/\n\n+/);
    for (const b of blocks) {
        const lines = b.split('\n').filter(Boolean);
        const ti = lines.findIndex((l) => l.includes('-->'));
        if (ti < 0)
            continue;
        const [a, z] = lines[ti].split('-->');
        cues.push({ start: vttTime(a), end: vttTime(z.trim().split(/\s/)[0]),
            text: lines.slice(ti + 1).join('\n') });
    }
    return cues;
}

export function hasTool(name) {
    return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn (sync or async) every `every` ms until it returns something
// truthy, and returns that; after timeoutMs throws "timed out waiting for
// <what>" with detail() (e.g. the tail of a server's log) appended.
export async function waitFor(what, fn, { timeoutMs = 20000, every = 150,
    detail = () => '' } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v)
            return v;
        if (Date.now() > deadline) {
            const more = detail();
            throw new Error(`timed out waiting for ${what}${more ? `\n${more}` : ''}`);
        }
        await sleep(every);
    }
}
