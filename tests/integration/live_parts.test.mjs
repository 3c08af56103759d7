// Parts and segments from the media, over real RTMP: cirrus-ingest with the
// live preset (the 640x360 source passed through as "video", a 234p rung,
// AAC audio) and one without (the passthrough packaged on the event loop),
// nginx from the shipped samples/nginx.conf, and the ffmpeg CLI publishing with keyframes every
// 0.77 s (-g 23 at 30 fps) and every 2 s (-g 60).  Every
// rendition's playlist is fetched many times while the stream runs and
// checked against RFC 8216bis:
// - one TARGETDURATION, SERVER-CONTROL and PART-INF in every rendition and
//   every fetch (6.2.4; H1: the target never changes), every EXTINF
//   rounding to at most it;
// - PART-HOLD-BACK at least 3 x PART-TARGET as printed, HOLD-BACK 3 x TD;
// - every part within PART-TARGET and, but for independent parts and the
//   last part of a segment, at least 85 % of it (4.4.4.9);
// - parts listed only on the last three segments, within 3 x TD of the end,
//   and still fetchable after they left the playlist;
// - video, rung and audio segments cut at the same times (the same media
//   sequence numbers, durations within an AAC frame);
// - a strict parser (hls-parser in strict mode) accepts every playlist;
// - init + the newest segment of every rendition decode without an error.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import HLS from 'hls-parser';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet, startShippedNginx } from './lib/nginx.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const missing = !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
    : !C.hasTool('ffmpeg') ? 'ffmpeg missing'
        : nginxAvailable() ? null : 'nginx module not built';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let nginx, liveRoot, log = '';
// two ingests on one live store: with the live preset (rungs, packaged on
// threads) and without (the passthrough packaged on the event loop, straight
// from the RTMP reader's buffer)
const ingests = {};

// (the ingest's log tail when it times out)
const waitFor = (what, fn, timeoutMs = 30000) => C.waitFor(what, fn,
    { timeoutMs, every: 150, detail: () => log.slice(-3000) });

function publish(rtmpPort, key, gop, seconds) {
    const args = ['-hide_banner', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
        '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', String(seconds),
        '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
        '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
        '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`];
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderrText = '';
    child.stderr.on('data', (d) => (child.stderrText += d));
    child.exited = new Promise((ok) => child.on('exit', (code, sig) =>
        ok({ code, sig })));
    return child;
}

async function get(key, p) {
    return rawGet(nginx.port, `/live/${key}/${p}`);
}

// A media playlist, read line by line.
function parsePlaylist(text) {
    const pl = { segments: [], text };
    const num = (re) => {
        const m = re.exec(text);
        return m ? Number(m[1]) : null;
    };
    pl.td = num(/^#EXT-X-TARGETDURATION:(\d+)$/m);
    pl.msn = num(/^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m);
    pl.partTarget = num(/^#EXT-X-PART-INF:PART-TARGET=([\d.]+)$/m);
    pl.serverControl = /^#EXT-X-SERVER-CONTROL:(.*)$/m.exec(text)?.[1];
    pl.partHoldBack = num(/PART-HOLD-BACK=([\d.]+)/);
    pl.holdBack = num(/[,:]HOLD-BACK=([\d.]+)/);
    let cur = { parts: [] }, msn = pl.msn;
    for (const line of text.split('\n')) {
        const p = /^#EXT-X-PART:DURATION=([\d.]+),URI="([^"]+)"(.*)$/.exec(line);
        if (p) {
            cur.parts.push({ duration: Number(p[1]), uri: p[2],
                independent: /INDEPENDENT=YES/.test(p[3]) });
            continue;
        }
        const d = /^#EXTINF:([\d.]+),/.exec(line);
        if (d)
            cur.duration = Number(d[1]);
        if (/^seg-\d+\.m4s$/.test(line)) {
            cur.msn = msn++;
            cur.complete = true;
            pl.segments.push(cur);
            cur = { parts: [] };
        }
    }
    if (cur.parts.length > 0) {
        cur.msn = msn;
        cur.complete = false;
        pl.segments.push(cur);
    }
    return pl;
}

// The rules on one playlist.
function checkPlaylist(name, pl) {
    const where = `${name}:\n${pl.text}`;
    assert.ok(pl.td >= 1, where);
    assert.ok(pl.partTarget > 0, where);
    assert.ok(pl.partHoldBack >= 3 * pl.partTarget - 1e-9,
        `PART-HOLD-BACK ${pl.partHoldBack} < 3 x ${pl.partTarget}`);
    assert.ok(pl.holdBack >= 3 * pl.td, where);
    const n = pl.segments.length;
    let fromEnd = 0;
    for (let i = n - 1; i >= 0; i--) {
        const s = pl.segments[i];
        const dur = s.complete ? s.duration
            : s.parts.reduce((a, p) => a + p.duration, 0);
        fromEnd += dur;
        if (s.complete)
            assert.ok(Math.round(s.duration) <= pl.td,
                `${name}: EXTINF ${s.duration} > TD ${pl.td}`);
        if (s.parts.length === 0)
            continue;
        assert.ok(i >= n - 3, `${name}: parts on segment ${s.msn}, ` +
            `${n - 1 - i} from the end\n${pl.text}`);
        assert.ok(fromEnd <= 3 * pl.td + 1e-3,
            `${name}: parts ${fromEnd.toFixed(3)} s from the end`);
        s.parts.forEach((p, j) => {
            assert.ok(p.duration <= pl.partTarget + 1e-9,
                `${name}: ${p.uri} ${p.duration} > ${pl.partTarget}`);
            const last = s.complete && j === s.parts.length - 1;
            if (!last && !p.independent)
                assert.ok(p.duration >= 0.85 * pl.partTarget - 1e-9,
                    `${name}: ${p.uri} ${p.duration} < 0.85 x ${pl.partTarget}`);
        });
        if (s.complete) {
            const sum = s.parts.reduce((a, p) => a + p.duration, 0);
            assert.ok(Math.abs(sum - s.duration) < 0.002 * s.parts.length,
                `${name}: parts of ${s.msn} add up to ${sum}, not ${s.duration}`);
        }
    }
    // an independent, strict parser agrees
    HLS.setOptions({ strictMode: true });
    try {
        HLS.parse(pl.text);
    } finally {
        HLS.setOptions({ strictMode: false });
    }
}

// Fetches every rendition's playlist `rounds` times while the stream runs
// and checks each fetch, and what they say together.
async function watch(key, rounds, wantTd, renditions) {
    const header = new Map(); // the stream-level lines seen first
    const durations = new Map(renditions.map((r) => [r, new Map()]));
    const listed = new Map(renditions.map((r) => [r, new Set()]));
    let unlistedFetched = 0;
    for (let k = 0; k < rounds; k++) {
        for (const r of renditions) {
            const res = await get(key, `${r}/index.m3u8`);
            assert.equal(res.status, 200, `${r}/index.m3u8`);
            const pl = parsePlaylist(res.body.toString());
            checkPlaylist(`${key}/${r}`, pl);
            const h = JSON.stringify([pl.td, pl.serverControl, pl.partTarget]);
            if (!header.has('stream'))
                header.set('stream', h);
            assert.equal(h, header.get('stream'), `${r}: the same ` +
                'TARGETDURATION, SERVER-CONTROL and PART-TARGET in every ' +
                'rendition and every fetch');
            assert.equal(pl.td, wantTd, `TD ${pl.td}, want ${wantTd}`);
            for (const s of pl.segments)
                if (s.complete)
                    durations.get(r).set(s.msn, s.duration);
            // parts that left the playlist since the last fetch still serve
            const now = new Set(pl.segments.flatMap((s) => s.parts.map((p) => p.uri)));
            for (const uri of listed.get(r)) {
                if (now.has(uri))
                    continue;
                const msn = Number(/part-(\d+)\./.exec(uri)[1]);
                if (!pl.segments.some((s) => s.msn === msn))
                    continue; // its whole segment left the window
                const got = await get(key, `${r}/${uri}`);
                assert.equal(got.status, 200, `${r}/${uri} after it left the playlist`);
                assert.ok(got.body.length > 0);
                unlistedFetched++;
            }
            listed.set(r, now);
        }
        await sleep(700);
    }
    // the same segments at the same times in every rendition
    let compared = 0;
    for (const [msn, d] of durations.get('video')) {
        if (msn === 0)
            continue; // the audio starts where the source's does
        for (const r of renditions.slice(1)) {
            const o = durations.get(r).get(msn);
            if (o === undefined)
                continue;
            assert.ok(Math.abs(o - d) < 1024 / 48000 + 0.002,
                `${r} segment ${msn}: ${o} s, video ${d} s`);
            compared++;
        }
    }
    assert.ok(compared >= 4, `compared ${compared} segments`);
    // the media decodes: init + the newest complete segment, every rendition
    for (const r of renditions) {
        const msn = Math.max(...durations.get(r).keys());
        const init = await get(key, `${r}/init-1.mp4`);
        const seg = await get(key, `${r}/seg-${msn}.m4s`);
        assert.equal(seg.status, 200);
        const file = path.join(liveRoot, `..`, `${path.basename(liveRoot)}-${key}-${r}.mp4`);
        fs.writeFileSync(file, Buffer.concat([init.body, seg.body]));
        const dec = await C.run('ffmpeg', ['-nostdin', '-v', 'error', '-i', file,
            '-f', 'null', '-']);
        assert.equal(dec.code, 0, dec.stderr);
        assert.equal(dec.stderr.trim(), '', `${r}/seg-${msn}.m4s decodes cleanly`);
    }
    assert.ok(unlistedFetched > 0, 'parts were fetched after leaving the playlist');
    console.log(`# ${key}: TD ${wantTd}, ${header.get('stream')}, ` +
        `${compared} segment pairs aligned, ${unlistedFetched} unlisted parts served`);
}

async function startIngest(name, extra) {
    const rtmpPort = await freePort();
    const ing = spawn(INGEST_BIN, ['--set', `port=${rtmpPort}`,
        '--set', `status_port=${await freePort()}`,
        '--set', `live_root=${liveRoot}`, '--set', 'grace_seconds=1', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    ing.log = '';
    ing.stderr.on('data', (d) => {
        ing.log += d;
        log += d;
    });
    ingests[name] = { proc: ing, rtmpPort };
    await waitFor(`cirrus-ingest (${name}) to listen`,
        () => /listening rtmp=/.test(ing.log), 5000);
}

before(async () => {
    if (missing)
        return;
    liveRoot = C.tmpDir('live-parts-');
    await startIngest('abr', ['--set', 'preset=live',
        '--set', `presets_dir=${C.PRESETS_DIR}`]);
    await startIngest('loop', []);
    nginx = await startShippedNginx('sample', { liveRoot });
});

after(async () => {
    for (const { proc } of Object.values(ingests))
        proc.kill('SIGTERM');
    await nginx?.stop();
});

describe('live parts and segments from the media over RTMP',
    { skip: missing || false }, () => {
        for (const { key, gop, td, ingest, renditions } of [
            // 0.767 s: 2.3 s segments
            { key: 'gop077', gop: 23, td: 3, ingest: 'abr',
                renditions: ['video', '234p', 'audio'] },
            { key: 'gop2', gop: 60, td: 2, ingest: 'abr',
                renditions: ['video', '234p', 'audio'] },
            { key: 'loop077', gop: 23, td: 3, ingest: 'loop',
                renditions: ['video', 'audio'] },
        ]) {
            test(`${ingest}: keyframes every ${(gop / 30).toFixed(2)} s: TD ${td}`,
                async () => {
                    const pub = publish(ingests[ingest].rtmpPort, key, gop, 30);
                    try {
                        await waitFor(`${key}: every rendition listing segments`,
                            async () => {
                                for (const r of renditions) {
                                    const res = await get(key, `${r}/index.m3u8`);
                                    if (res.status !== 200 || (res.body.toString()
                                        .match(/^seg-\d+\.m4s$/gm) || []).length < 4)
                                        return false;
                                }
                                return true;
                            }, 40000);
                        await watch(key, 14, td, renditions);
                    } finally {
                        pub.kill('SIGINT');
                        await pub.exited;
                    }
                });
        }
    });
