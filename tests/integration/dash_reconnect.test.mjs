// LL-DASH across a publisher's outage and a republish: cirrus-ingest takes
// the ffmpeg CLI over RTMP, nginx with the module serves the live MPD, and
// dash.js and Shaka Player (one at a time: the machine is small) play it in
// headless Chromium.
//
// - Reconnect: the publisher is killed, stays away ~6 s (within the grace
//   period) and publishes the same key again: the stream goes on with a
//   discontinuity, the MPD with a new Period that begins where the last
//   ended, the outage a gap at its start, its segments at their wall clock.
// - Republish: the publisher stops cleanly (ENDLIST, static MPD) and
//   publishes the same key again 5 s later: the MPD keeps its
//   availabilityStartTime and starts a Period at the republish's wall clock.
//
// After each, the player keeps playing (frames, time), within 2.5 s of
// live (wall clock - (availabilityStartTime + currentTime)).  Every MPD fetched keeps
// availabilityStartTime and each Period's start (checklist D1), and while a
// publisher is on, availabilityStartTime + Period@start + (S@t -
// presentationTimeOffset) of the newest segment is within a segment of the
// time the MPD was fetched, less how far the publisher (ffmpeg -re, its
// -progress) had fallen behind the wall clock by then; a player's window
// in which the publisher fell behind is measured again (a loaded machine
// starves the publisher; both are logged).  CIRRUS_DASH_DEBUG=<file>
// writes dash.js's debug log there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet, startShippedNginx } from './lib/nginx.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const missing = B.browserAvailable() ||
    (nginxAvailable() ? null : 'nginx module not built') ||
    (fs.existsSync(INGEST_BIN) ? null : `${INGEST_BIN} not built`) ||
    (C.hasTool('ffmpeg') ? null : 'ffmpeg missing');
const SEGMENT_S = 2;
const OUTAGE_MS = 6000;
const MAX_LATENCY_S = 2.5;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// an independent reading of the MPD's timing (video.js's parser)
const mpdParser = createRequire(path.join(B.NODE_MODULES, '..', 'package.json'))('mpd-parser');
let ingest, nginx, browser, liveRoot, rtmpPort, log = '';

// (the ingest's log tail when it times out)
const waitFor = (what, fn, timeoutMs = 20000) => C.waitFor(what, fn,
    { timeoutMs, every: 200, detail: () => log.slice(-3000) });

// Each publisher's progress (ffmpeg's -progress): how far behind the
// wall clock its output fell since it began.  A loaded machine can starve
// the publisher; the stream is then late by that much through no fault of
// the ingest or the origin, so the checks below judge the stream against
// what the publisher had sent (the lag is logged, never hidden).
const publishers = [];

function publish(key) {
    const args = ['-hide_banner', '-loglevel', 'error', '-nostats',
        '-progress', 'pipe:1', '-stats_period', '0.25', '-re',
        '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30',
        '-f', 'lavfi', '-i', 'sine',
        '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
        '-b:v', '300k', '-g', '60', '-c:a', 'aac',
        '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${key}`];
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderrText = '';
    child.stderr.on('data', (d) => (child.stderrText += d));
    child.progress = []; // [{at (ms), out (s of media written)}]
    let outS = 0, rest = '';
    child.stdout.on('data', (d) => {
        const lines = (rest + d).split('\n');
        rest = lines.pop();
        for (const line of lines) {
            const m = /^out_time_us=(\d+)/.exec(line);
            if (m)
                outS = Number(m[1]) / 1e6;
            else if (/^progress=/.test(line) && outS > 0)
                child.progress.push({ at: Date.now(), out: outS });
        }
    });
    child.exited = new Promise((ok) => child.on('exit', (code, sig) => {
        child.endedAt = Date.now();
        ok({ code, sig });
    }));
    publishers.push(child);
    return child;
}

// How far (s) the publisher on at wall time `at` was behind the wall clock
// then: the time since its first output minus the media written by `at`
// (an over-estimate by at most one progress period, 0.25 s).
function publisherLag(at) {
    const pub = publishers.findLast((p) => p.progress.length && p.progress[0].at <= at);
    if (!pub || (pub.endedAt && at > pub.endedAt))
        return 0;
    const first = pub.progress[0];
    const sent = pub.progress.findLast((s) => s.at <= at);
    return Math.max(0, (at - first.at) / 1000 - (sent.out - first.out));
}

// The worst publisher lag over [from, to], sampled every 100 ms.
function worstPublisherLag(from, to) {
    let worst = 0;
    for (let t = from; t <= to; t += 100)
        worst = Math.max(worst, publisherLag(t));
    return worst;
}

// Shaka Player on the same kind of page as samples/player.html: state in
// window.cirrusPlayer, latency = wall clock - (availabilityStartTime +
// currentTime), as dash.js's getCurrentLiveLatency counts it.  (Shaka's own
// getLiveLatency() takes the first ProducerReferenceTime it parses as the
// wall clock of currentTime 0, ignoring its Period's start and
// presentationTimeOffset, which TS 103 285 10.20.4 and dash.js apply: it
// reads a republished stream's Period@start as negative latency.)
const SHAKA_PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<script src="/lib/shaka/shaka-player.compiled.js"></script></head>
<body><video id="video" muted autoplay playsinline></video>
<script>
'use strict';
const state = window.cirrusPlayer = { errors: [], fatal: null, playing: false,
  latency: null };
const video = document.getElementById('video');
video.addEventListener('playing', () => { state.playing = true; });
async function start() {
  shaka.polyfill.installAll();
  const player = new shaka.Player();
  window.shakaPlayer = player;
  await player.attach(video);
  player.addEventListener('error', (e) => {
    const d = e.detail || {};
    state.errors.push(\`code \${d.code} \${JSON.stringify(d.data || [])}\`);
    if (d.severity === 2 && !state.fatal) state.fatal = \`shaka \${d.code}\`;
  });
  // autoCorrectDrift off (as samples/player.html): the timeline from
  // availabilityStartTime, so getPresentationStartTime() below is it,
  // not a start re-derived from the first MPD's newest segment
  player.configure({
    streaming: { lowLatencyMode: true,
      liveSync: { enabled: true, targetLatency: 1.5 } },
    manifest: { dash: { autoCorrectDrift: false } },
  });
  await player.load(new URLSearchParams(location.search).get('src'));
  video.play().catch(() => {});
}
setInterval(() => {
  const p = window.shakaPlayer;
  const m = p && p.getManifest();
  if (!m || !p.isLive() || !video.currentTime) return;
  state.latency = Date.now() / 1000 -
    (m.presentationTimeline.getPresentationStartTime() + video.currentTime);
}, 500);
start().catch((e) => { state.fatal = 'shaka load: ' + (e.code || e); });
</script></body></html>
`;

before(async () => {
    if (missing)
        return;
    liveRoot = C.tmpDir('dash-reconnect-');
    rtmpPort = await freePort();
    ingest = spawn(INGEST_BIN, ['--set', `port=${rtmpPort}`,
        '--set', `status_port=${await freePort()}`,
        '--set', `live_root=${liveRoot}`, '--set', 'grace_seconds=15',
        '--set', `segment_seconds=${SEGMENT_S}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    ingest.stderr.on('data', (d) => (log += d));
    await waitFor('cirrus-ingest to listen', () => /listening rtmp=/.test(log), 5000);
    // the shipped config (its /player.html, /lib/, /time); Shaka's page
    // below is given by the browser for /shaka.html (openPlayer)
    nginx = await startShippedNginx('sample', { liveRoot });
    browser = await B.launch();
});

after(async () => {
    await browser?.close();
    ingest?.kill('SIGTERM');
    await nginx?.stop();
});

// ---- the MPD: its timing, read with the regular expressions the
// renderer's fixed layout allows ----

const attr = (s, name) => {
    const m = new RegExp(`\\s${name}="([^"]*)"`).exec(s);
    return m ? m[1] : null;
};

function seconds(duration) {
    const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(duration);
    assert.ok(m, `an xs:duration: ${duration}`);
    return (Number(m[1] || 0) * 3600) + (Number(m[2] || 0) * 60) + Number(m[3] || 0);
}

// {type, ast (ms), periods: [{id, start (s), video: {pto, ts, segs: [[t, d]]}}]}
function parseMpd(xml) {
    const mpd = /<MPD[^>]*>/.exec(xml)[0];
    const out = { type: attr(mpd, 'type'), periods: [] };
    const ast = attr(mpd, 'availabilityStartTime');
    out.ast = ast ? Date.parse(ast) : null;
    for (const chunk of xml.split('<Period ').slice(1)) {
        const head = '<Period ' + chunk.slice(0, chunk.indexOf('>') + 1);
        const p = { id: attr(head, 'id'), start: seconds(attr(head, 'start')) };
        const set = chunk.split('<AdaptationSet ').find((s) => /contentType="video"/.test(s));
        const tpl = /<SegmentTemplate timescale[^>]*>/.exec(set)[0];
        const v = { ts: Number(attr(tpl, 'timescale')),
            pto: Number(attr(tpl, 'presentationTimeOffset') || 0), segs: [] };
        let t = 0;
        for (const s of set.matchAll(/<S ([^>]*)\/>/g)) {
            const a = ' ' + s[1];
            t = attr(a, 't') !== null ? Number(attr(a, 't')) : t;
            const d = Number(attr(a, 'd'));
            // r="-1": the segments after the open one, promised, not listed
            if (Number(attr(a, 'r') || 0) < 0)
                v.promised = d;
            for (let r = 0; r <= Number(attr(a, 'r') || 0); r++) {
                v.segs.push([t, d]);
                t += d;
            }
        }
        p.video = v;
        out.periods.push(p);
    }
    return out;
}

// Every MPD of a stream fetched during a test, with the time it came.
function mpdWatch(key) {
    const seen = [];
    let stop = false;
    const loop = (async () => {
        while (!stop) {
            const r = await rawGet(nginx.port, `/live/${key}/manifest.mpd`);
            if (r.status === 200)
                seen.push({ at: Date.now(), xml: r.body.toString() });
            await sleep(1000);
        }
    })();
    return { seen, stop: async () => { stop = true; await loop; } };
}

// The newest listed segment starts within a segment of the fetch time
// (the open one is listed at its nominal duration); mpd-parser places it
// at the same presentation time, or, where the timeline ends in a promise
// (S@r="-1"), on one of the promised segments begun by the next update.
function wallClockError(doc, at, xml) {
    const p = doc.periods[doc.periods.length - 1];
    const [t, d] = p.video.segs[p.video.segs.length - 1];
    const start = p.start + (t - p.video.pto) / p.video.ts;
    const parsed = mpdParser.parse(xml, { manifestUri: `${nginx.base}/live/x/manifest.mpd`,
        NOW: at, clientOffset: 0 });
    const video = parsed.playlists.find((v) => v.attributes.RESOLUTION);
    const last = video.segments.at(-1);
    const step = p.video.promised ? p.video.promised / p.video.ts : 0;
    const k = step ? Math.round((last.presentationTime - start - d / p.video.ts) / step) + 1 : 0;
    const expected = k > 0 ? start + d / p.video.ts + (k - 1) * step : start;
    // mpd-parser counts a promised segment that begins before the next
    // MPD update is due
    const mup = seconds(attr(/<MPD[^>]*>/.exec(xml)[0], 'minimumUpdatePeriod')) || 0;
    const begun = expected < (at - doc.ast) / 1000 + mup + 0.002;
    assert.ok(Math.abs(last.presentationTime - expected) < 0.002 && (k === 0 || begun),
        `mpd-parser puts the newest segment at ${last.presentationTime}, not ${start}` +
        (step ? ' or a promised one begun by the next update' : ''));
    return (at - (doc.ast + start * 1000)) / 1000; /* how long ago it began, s */
}

// away: [from, to] while the publisher was gone (no new segment then).
function checkMpds(seen, what, away = [0, 0]) {
    const dynamic = seen.filter((s) => /type="dynamic"/.test(s.xml))
        .map((s) => ({ at: s.at, xml: s.xml, doc: parseMpd(s.xml) }));
    assert.ok(dynamic.length >= 5, `${what}: dynamic MPDs fetched: ${dynamic.length}`);
    const starts = new Map();
    let worst = 0, worstLag = 0;
    for (const { at, xml, doc } of dynamic) {
        assert.equal(doc.ast, dynamic[0].doc.ast, `${what}: availabilityStartTime changed`);
        const ids = doc.periods.map((p) => p.id);
        assert.equal(new Set(ids).size, ids.length, `${what}: Period ids unique`);
        for (let i = 0; i < doc.periods.length; i++) {
            const p = doc.periods[i];
            if (starts.has(p.id))
                assert.equal(p.start, starts.get(p.id), `${what}: Period ${p.id} moved`);
            starts.set(p.id, p.start);
            if (i > 0)
                assert.ok(p.start > doc.periods[i - 1].start, `${what}: Periods in order`);
            // the segments begin at or after their Period's start
            if (p.video.segs.length)
                assert.ok(p.video.segs[0][0] >= p.video.pto, `${what}: S@t >= PTO`);
        }
        if (!doc.periods.at(-1).video.segs.length || (at >= away[0] && at <= away[1]))
            continue;
        const ago = wallClockError(doc, at, xml);
        // what the publisher had sent by then: its lag behind the wall clock
        const lag = publisherLag(at);
        assert.ok(ago > -0.5 && ago - lag < SEGMENT_S + 1,
            `${what}: the newest segment began ${ago.toFixed(2)} s before the MPD ` +
            `was fetched (the wall clock; the publisher ${lag.toFixed(2)} s behind it), ` +
            `not within a segment:\n${JSON.stringify(doc)}`);
        worst = Math.max(worst, Math.abs(ago - lag));
        worstLag = Math.max(worstLag, lag);
    }
    return { count: dynamic.length, periods: starts.size, worst, worstLag };
}

// ---- players ----

async function openPlayer(engine, key) {
    const url = engine === 'shaka'
        ? `${nginx.base}/shaka.html?src=/live/${key}/manifest.mpd`
        : `${nginx.base}/player.html?engine=dash&lowLatency=1&src=/live/${key}/manifest.mpd`;
    const page = await browser.context.newPage();
    await page.route((u) => u.pathname === '/shaka.html', (route) => route.fulfill({
        body: SHAKA_PAGE, contentType: 'text/html; charset=utf-8' }));
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    await page.goto(url, { waitUntil: 'load' });
    if (process.env.CIRRUS_DASH_DEBUG && engine === 'dash') {
        await page.evaluate(() => window.dashPlayer.updateSettings(
            { debug: { logLevel: 5 } }));
        process.on('exit', () => fs.writeFileSync(process.env.CIRRUS_DASH_DEBUG,
            consoleLines.join('\n')));
    }
    const read = () => page.evaluate(() => {
        const v = document.querySelector('video');
        const q = v.getVideoPlaybackQuality();
        return { fatal: window.cirrusPlayer.fatal, errors: window.cirrusPlayer.errors,
            playing: window.cirrusPlayer.playing, latency: window.cirrusPlayer.latency,
            currentTime: v.currentTime, frames: q.totalVideoFrames, paused: v.paused };
    });
    return { engine, page, consoleLines, read };
}

// Samples a player for ms; the settled latency is the mean of the last
// four samples, as the live tests count it.
async function measure(player, ms) {
    const samples = [];
    const first = await player.read();
    let state = first;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        await sleep(500);
        state = await player.read();
        if (state.fatal)
            break;
        if (state.latency != null && Number.isFinite(state.latency))
            samples.push(state.latency);
    }
    const why = JSON.stringify({ state, console: player.consoleLines.slice(-15) }, null, 1);
    assert.equal(state.fatal, null, `${player.engine}: no fatal error: ${why}`);
    assert.ok(samples.length >= 4, `${player.engine}: latency samples: ${why}`);
    const settled = samples.slice(-4).reduce((a, b) => a + b, 0) / 4;
    return { settled, samples, frames: state.frames - first.frames,
        played: state.currentTime - first.currentTime, why };
}

// measure() in a window the publisher kept up with: where the publisher
// fell behind the wall clock in the window or the 8 s before it (the
// player then waits for media that is late, and catches up after), the
// window says nothing of the stream; it is logged and measured again, at
// most twice.
async function measureSteady(player, ms) {
    for (let attempt = 1; ; attempt++) {
        const from = Date.now() - 8000;
        const m = await measure(player, ms);
        m.publisherLag = worstPublisherLag(from, Date.now());
        if (m.publisherLag < 0.75 || attempt === 3)
            return m;
        const settle = Math.min(30000, 4000 + m.publisherLag * 4000);
        console.log(`# the publisher fell ${m.publisherLag.toFixed(2)} s behind the ` +
            `wall clock in or before the window (a loaded machine; ${player.engine} ` +
            `played ${m.played.toFixed(1)} s, latency ${m.settled.toFixed(2)} s): ` +
            `measured again after ${(settle / 1000).toFixed(0)} s`);
        await sleep(settle);
    }
}

function report(what, player, m) {
    console.log(`# ${what}: ${player.engine} latency ${m.settled.toFixed(2)} s, ` +
        `${m.frames} frames and ${m.played.toFixed(1)} s played in the window ` +
        `(samples ${m.samples.map((s) => s.toFixed(2)).join(' ')})` +
        (m.publisherLag ? `; the publisher at most ${m.publisherLag.toFixed(2)} s behind` : ''));
}

// Kept playing, frames shown; latency within 2.5 s for both players (the
// faults this guards against put them 6 s (the outage) to minutes (the
// first publish's start) further back; Shaka settled 4-5 s back while it
// re-derived its timeline from the first MPD and the MPD had a
// suggestedPresentationDelay, PT3S maxSegmentDuration and a one-segment
// minimumUpdatePeriod).
function checkPlayer(what, player, m, windowS, before) {
    report(what, player, m);
    const why = `${m.why}\nthe ingest's log:\n${log.slice(-2000)}`;
    assert.ok(m.played > windowS * 0.7,
        `${what}: ${player.engine} kept playing (${m.played.toFixed(1)} s of ${windowS}): ${why}`);
    assert.ok(m.frames > windowS * 30 * 0.5,
        `${what}: ${player.engine} showed frames (${m.frames}): ${why}`);
    assert.ok(m.settled < MAX_LATENCY_S,
        `${what}: ${player.engine} latency ${m.settled.toFixed(2)} s` +
        (before != null ? `, ${before.toFixed(2)} s before` : '') + `: ${why}`);
}

async function segmentsListed(key, n) {
    const r = await rawGet(nginx.port, `/live/${key}/manifest.mpd`);
    if (r.status !== 200 || !/type="dynamic"/.test(r.body.toString()))
        return false;
    const doc = parseMpd(r.body.toString());
    return doc.periods.length && doc.periods.at(-1).video.segs.length >= n
        ? doc : false;
}

// While the publisher is away the open segment has ended with what it
// held: every listed segment is complete, no part is hinted (the next
// number may go to a GAP segment for the outage, and a hinted part must
// be the one added later), and the newest segment answers whole at once
// (not chunked until the publisher returns or the request times out).
async function checkOpenSegmentEnded(key) {
    const last = await waitFor('the open segment ended', async () => {
        const r = await rawGet(nginx.port, `/live/${key}/video/index.m3u8`);
        const text = r.body.toString();
        const segs = [...text.matchAll(/^seg-(\d+)\.m4s$/gm)];
        if (/#EXT-X-PRELOAD-HINT/.test(text) || !segs.length)
            return false;
        // nothing listed after the newest whole segment but reports
        const tail = text.slice(text.lastIndexOf(segs.at(-1)[0]));
        return /#EXT-X-PART:/.test(tail) ? false : Number(segs.at(-1)[1]);
    }, 3000);
    const t0 = Date.now();
    const seg = await rawGet(nginx.port, `/live/${key}/video/seg-${last}.m4s`);
    assert.equal(seg.status, 200);
    assert.ok(!/chunked/.test(seg.headers['transfer-encoding'] || ''),
        `seg-${last}.m4s is whole, not streamed`);
    assert.ok(Date.now() - t0 < 1500, `seg-${last}.m4s in ${Date.now() - t0} ms`);
}

// Publish, play, kill the publisher, publish again ~6 s later.
async function reconnect(engine, key) {
    const watch = mpdWatch(key);
    let pub = publish(key), player = null, away;
    try {
        await waitFor('segments', () => segmentsListed(key, 3), 60000);
        player = await openPlayer(engine, key);
        const before = await measure(player, 10000);
        report('before the outage', player, before);

        pub.kill('SIGKILL');
        await pub.exited;
        const gone = Date.now();
        await waitFor('the loss noticed', () =>
            new RegExp(`stream=${key}\\] publisher gone`).test(log), 5000);
        await checkOpenSegmentEnded(key);
        await sleep(OUTAGE_MS - (Date.now() - gone));
        pub = publish(key);
        await waitFor('the publisher back', () =>
            new RegExp(`stream=${key}\\] publisher is back`).test(log), 10000);
        const doc = await waitFor('a second Period with segments', async () => {
            const d = await segmentsListed(key, 1);
            return d && d.periods.length >= 2 ? d : false;
        }, 20000);
        // the outage is a gap at the start of the new Period (its media,
        // the last picture and silence, is for HLS: the MPD leaves it out)
        const [p0, p1] = doc.periods.slice(-2);
        const [t0, d0] = p0.video.segs.at(-1);
        const end0 = p0.start + (t0 + d0 - p0.video.pto) / p0.video.ts;
        const first1 = p1.start + (p1.video.segs[0][0] - p1.video.pto) / p1.video.ts;
        assert.ok(Math.abs(p1.start - end0) < 0.01, `Period ${p1.id} starts where ` +
            `${p0.id} ends: ${p1.start} vs ${end0}`);
        console.log(`# ${engine}: outage of ${((Date.now() - gone) / 1000).toFixed(1)} s ` +
            `so far; a gap of ${(first1 - end0).toFixed(2)} s at the start of Period ${p1.id}`);
        assert.ok(first1 - end0 > OUTAGE_MS / 1000 - 1, 'the gap is the outage');
        away = [gone, Date.now()];
        // time to settle after the jump, then the window judged
        await sleep(6000);
        const windowS = 15;
        const m = await measureSteady(player, windowS * 1000);
        checkPlayer('after the outage', player, m, windowS, before.settled);
    } finally {
        await watch.stop();
        await player?.page.close().catch(() => {});
        pub.kill('SIGINT');
        await pub.exited;
    }
    const r = checkMpds(watch.seen, `${engine} reconnect`, away);
    console.log(`# ${engine} reconnect: ${r.count} MPDs, ${r.periods} Periods, the newest ` +
        `segment at most ${r.worst.toFixed(2)} s from the wall clock (less the ` +
        `publisher's lag, at most ${r.worstLag.toFixed(2)} s)`);
    assert.ok(r.periods >= 2, 'the outage started a Period');
    await waitFor(`stream ${key} to end`, () =>
        new RegExp(`stream=${key}\\] stream ended`).test(log), 10000);
}

// Publish, stop cleanly (ENDLIST), publish the key again 5 s later; a new
// viewer plays it.
async function republish(engine, key) {
    let pub = publish(key), player = null, before = null;
    await waitFor('segments', () => segmentsListed(key, 3), 60000);
    const first = await segmentsListed(key, 1);
    if (engine !== 'dash') {
        // Shaka's own figure on this machine, for comparison
        player = await openPlayer(engine, key);
        before = (await measure(player, 10000)).settled;
        await player.page.close();
    }
    pub.kill('SIGINT'); // FCUnpublish: ENDLIST at once
    await pub.exited;
    await waitFor(`stream ${key} to end`, () =>
        new RegExp(`stream=${key}\\] stream ended`).test(log), 10000);
    const ended = (await rawGet(nginx.port, `/live/${key}/manifest.mpd`)).body.toString();
    assert.match(ended, /type="static"/);
    assert.doesNotMatch(ended, /availabilityStartTime/);
    await sleep(5000);

    const watch = mpdWatch(key);
    const republished = Date.now();
    pub = publish(key);
    try {
        const doc = await waitFor('the republished stream', () =>
            segmentsListed(key, 3), 60000);
        // the first publish's availabilityStartTime, a Period at the
        // republish's wall clock, new ids
        assert.equal(doc.ast, first.ast);
        const p = doc.periods[0];
        const startMs = doc.ast + p.start * 1000;
        assert.ok(Math.abs(startMs - republished) < 5000,
            `Period ${p.id} starts ${((startMs - republished) / 1000).toFixed(2)} s ` +
            'from the republish');
        assert.ok(!doc.periods.some((q) => first.periods.some((o) => o.id === q.id)),
            'new Period ids');
        player = await openPlayer(engine, key);
        await sleep(8000);
        const windowS = 15;
        const m = await measureSteady(player, windowS * 1000);
        checkPlayer('after the republish', player, m, windowS, before);
    } finally {
        await watch.stop();
        await player?.page.close().catch(() => {});
        pub.kill('SIGINT');
        await pub.exited;
    }
    const r = checkMpds(watch.seen, `${engine} republish`);
    console.log(`# ${engine} republish: ${r.count} MPDs, the newest segment at most ` +
        `${r.worst.toFixed(2)} s from the wall clock (less the publisher's lag, at ` +
        `most ${r.worstLag.toFixed(2)} s)`);
    // ended again: static, its Periods from 0
    await waitFor(`stream ${key} to end again`, () =>
        (log.match(new RegExp(`stream=${key}\\] stream ended`, 'g')) || []).length >= 2,
    10000);
    const last = (await rawGet(nginx.port, `/live/${key}/manifest.mpd`)).body.toString();
    assert.match(last, /type="static" mediaPresentationDuration="PT[\d.]+S"/);
    assert.match(last, /<Period id="\d+" start="PT0S">/);
}

describe('LL-DASH across a reconnect and a republish', { skip: missing || false }, () => {
    test('dash.js: a 6 s outage, a new Period at the wall clock, still live',
        () => reconnect('dash', 'rc'));
    test('Shaka Player: a 6 s outage', () => reconnect('shaka', 'rcs'));
    test('dash.js: end, then republish the key', () => republish('dash', 'rp'));
    test('Shaka Player: end, then republish the key', () => republish('shaka', 'rps'));
});
