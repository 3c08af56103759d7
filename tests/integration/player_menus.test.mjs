// The dashboard player's audio and subtitle menus and its ClearKey field
// (issue 14; samples/dashboard/tracks.js, clearkey.js, player.js), in
// headless Chromium through the shipped nginx.  The asset: a 20 s clip
// with CEA-608 captions in its video (cirrus-cc-sample), two audio tracks
// (English 440 Hz, French 880 Hz) and two sidecar subtitles (English; French,
// forced), each with one cue over the whole clip; a second asset is the same
// clip encrypted (cenc, ClearKey).  For hls.js, dash.js and Shaka Player:
// the audio menu lists "English (stereo)" and "French (stereo)" with English
// current; the subtitle menu lists Off, "English", "Français [forced]" and
// "Captions (CC1)" (the video's CEA-608, which all three expose); choosing
// English puts its cue in an active cue of a showing text track of the
// video, Off takes it away; choosing French audio, the engine reports
// French, fetches the French rendition's segments and playback goes on
// (with it, dash.js shows the forced French track when subtitles are off,
// as forced subtitles are meant to: hence Off is checked first); the
// forced track and CC1 show their text when chosen.  The encrypted asset
// waits with the field pre-filled with its key ID and plays once the key
// is typed in, or the URL of a ClearKey licence server (one on loopback
// here).  Every playlist and MPD the page fetches validates strictly.
// Screenshots go to <build>/test-out/player_menus/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as B from './lib/browser.mjs';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, startShippedNginx } from './lib/nginx.mjs';
import { validator } from './lib/validate.mjs';

const CC_SAMPLE = path.join(C.BUILD_DIR, 'tests', 'cirrus-cc-sample');
const CC_TEXT = 'HELLO CIRRUS';
const EN_TEXT = 'Hello from the English subtitles';
const FR_TEXT = 'Sous-titres forcés en français';
const KID = '00112233445566778899aabbccddeeff';
const KEY = 'a0b1c2d3e4f5061728394a5b6c7d8e9f';
const V = validator('player_menus');

const missing = B.browserAvailable() ||
    (nginxAvailable() ? null : 'nginx or the module is missing') ||
    (fs.existsSync(CC_SAMPLE) ? null : `${CC_SAMPLE} is not built`);

// The source: the captioned video and two tone tracks, tagged eng and fra.
function makeSource(work) {
    const cc = path.join(work, 'cc.mp4');
    let r = spawnSync(CC_SAMPLE, [cc, '--seconds', '20', '--size', '640x360',
        '--language', 'eng', '--text', CC_TEXT], { encoding: 'utf8' });
    assert.equal(r.status, 0, `cirrus-cc-sample: ${r.stderr}`);
    const src = path.join(work, 'source.mp4');
    r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', cc,
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=20',
        '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000:duration=20',
        '-map', '0:v', '-map', '1:a', '-map', '2:a', '-c:v', 'copy', '-c:a', 'aac',
        '-ac', '2', '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra',
        '-shortest', src], { encoding: 'utf8' });
    assert.equal(r.status, 0, `ffmpeg: ${r.stderr}`);
    return src;
}

// mobile's two smallest rungs, 2 s segments, no thumbnails: quick to make
function writePreset(work) {
    const dir = path.join(work, 'presets');
    fs.mkdirSync(dir);
    const p = C.loadPreset('mobile');
    p.name = 'menus';
    p.segment_seconds = 2;
    p.video.rungs = p.video.rungs.slice(-2);
    p.thumbnails.enabled = false;
    fs.writeFileSync(path.join(dir, 'menus.json'), JSON.stringify(p));
    return dir;
}

function writeSubtitles(work) {
    const en = path.join(work, 'en.srt');
    fs.writeFileSync(en, `1\n00:00:00,000 --> 00:00:30,000\n${EN_TEXT}\n`);
    const fr = path.join(work, 'fr.vtt');
    fs.writeFileSync(fr, `WEBVTT\n\n00:00:00.000 --> 00:00:30.000\n${FR_TEXT}\n`);
    return [{ uri: en, language: 'en', name: 'English' },
        { uri: fr, language: 'fr', name: 'Français', kind: 'forced' }];
}

const b64url = (hex) => Buffer.from(hex, 'hex').toString('base64url');

// A ClearKey licence server on loopback: the CDM POSTs {"kids": [...]},
// the answer is the JSON Web Key set of the kids it knows (CORS: the page
// is on nginx's port).  Records each request's kids.
async function startLicenseServer() {
    const port = await freePort();
    const asked = [];
    const server = http.createServer((req, res) => {
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.setHeader('Access-Control-Allow-Headers', '*');
        res.setHeader('Access-Control-Allow-Methods', 'POST');
        if (req.method !== 'POST')
            return res.end();
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
            let kids = [];
            try {
                kids = JSON.parse(body).kids || [];
            } catch { /* answered with no key */ }
            asked.push(kids);
            res.setHeader('Content-Type', 'application/json');
            res.end(JSON.stringify({ type: 'temporary', keys: kids
                .filter((k) => k === b64url(KID)).map((kid) => ({ kty: 'oct', kid, k: b64url(KEY) })) }));
        });
    });
    await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
    return { url: `http://127.0.0.1:${port}/licence`, asked,
        close: () => new Promise((ok) => server.close(ok)) };
}

// What the page shows and what the engine itself reports.
function probe() {
    const d = window.cirrusDashboard;
    const p = d.player;
    const v = document.querySelector('video');
    const opts = (id) => [...document.getElementById(id).options].map((o) => o.textContent);
    const sel = (id) => {
        const s = document.getElementById(id);
        return s.selectedOptions[0] ? s.selectedOptions[0].textContent : null;
    };
    let engineAudio = null;
    try {
        if (p.hls)
            engineAudio = p.hls.audioTracks[p.hls.audioTrack]?.lang ?? null;
        else if (p.dash && p.dashReady)
            engineAudio = p.dash.getCurrentTrackFor('audio')?.lang ?? null;
        else if (p.shaka)
            engineAudio = p.shaka.getAudioTracks().find((t) => t.active)?.language ?? null;
    } catch { /* not loaded yet */ }
    const shown = [];
    for (const t of v.textTracks) {
        if (t.mode !== 'showing')
            continue;
        for (const c of t.activeCues || [])
            shown.push(c.text);
    }
    return { engine: p.engine, fatal: d.fatal, errors: d.errors, time: v.currentTime,
        paused: v.paused, width: v.videoWidth,
        audioOptions: opts('audio-track'), audioSelected: sel('audio-track'),
        textOptions: opts('text-track'), textSelected: sel('text-track'),
        engineAudio, shown, key: document.getElementById('clearkey').value,
        keyStatus: document.getElementById('key-status').textContent,
        keyIds: d.keyIds || [] };
}

describe('the dashboard player: audio, subtitle menus and ClearKey', { skip: missing || false }, () => {
    const shots = path.join(C.TEST_OUT, 'player_menus');
    let ngx, browser, work, licences;

    before(async () => {
        work = C.tmpDir('player-menus-');
        const vod = path.join(work, 'vod');
        const src = makeSource(work);
        const env = { CIRRUS_PRESETS_DIR: writePreset(work) };
        const subtitles = writeSubtitles(work);
        for (const [name, args] of [
            ['menus', ['--subtitles', JSON.stringify(subtitles)]],
            ['locked', ['--encryption', JSON.stringify({ scheme: 'cenc', key_id: KID, key: KEY })]]]) {
            const r = await C.transcode({ input: src, output: path.join(vod, name),
                preset: 'menus', args, env });
            assert.equal(r.code, 0, C.describe(r));
        }
        ngx = await startShippedNginx('sample', { vodRoot: vod });
        browser = await B.launch();
        licences = await startLicenseServer();
    });

    after(async () => {
        await browser?.close();
        await ngx?.stop();
        await licences?.close();
        if (work)
            fs.rmSync(work, { recursive: true, force: true });
    });

    // The dashboard with engine picked, the asset played from its list.
    async function open(engine, asset, format) {
        const page = await browser.context.newPage();
        V.watchPage(page);
        page.fetched = [];
        page.consoleLines = [];
        page.on('request', (r) => page.fetched.push(r.url()));
        page.on('console', (m) => page.consoleLines.push(`${m.type()}: ${m.text()}`));
        page.on('pageerror', (e) => page.consoleLines.push(`pageerror: ${e.message}`));
        await page.goto(`${ngx.base}/dashboard/?engine=${engine}`, { waitUntil: 'load' });
        const button = page.locator(`#vod li[data-name="${asset}"] .play-${format}`);
        await button.waitFor({ timeout: 15000 });
        await button.click();
        return page;
    }

    const state = (page) => page.evaluate(probe);
    async function until(page, what, fn, timeoutMs = 30000) {
        let last = null;
        return C.waitFor(what, async () => {
            last = await state(page);
            assert.equal(last.fatal ?? null, null, JSON.stringify(last));
            return fn(last) && last;
        }, { timeoutMs, every: 200,
            detail: () => JSON.stringify({ last, console: page.consoleLines.slice(-10) }) });
    }

    // currentTime goes on by `seconds` from now
    async function advances(page, seconds) {
        const from = (await state(page)).time;
        return until(page, `playback past ${(from + seconds).toFixed(1)} s`,
            (s) => s.time > from + seconds && !s.paused, 20000);
    }

    async function pick(page, id, label) {
        await page.selectOption(`#${id}`, { label });
    }

    // the dashboard's engine menu value, and the asset's button
    for (const [engine, format] of [['hls', 'hls'], ['dash', 'dash'], ['shaka', 'dash'],
        ['shaka', 'hls']]) {
        test(`${engine} (${format.toUpperCase()}): audio and subtitle menus`, async () => {
            const page = await open(engine, 'menus', format);
            try {
                let s = await until(page, 'both menus filled and playback', (x) =>
                    x.audioOptions.length === 2 && x.textOptions.length >= 3 && x.time > 1);
                assert.equal(s.engine, engine);
                // the asset's line counts its video renditions only
                assert.match(await page.locator('#vod li[data-name="menus"] .meta').innerText(),
                    /^2 video renditions \+ audio/);
                assert.deepEqual(s.audioOptions, ['English (stereo)', 'French (stereo)']);
                assert.equal(s.audioSelected, 'English (stereo)');
                assert.equal(s.engineAudio, 'en');
                // CC1: hls.js lists it from the master's CLOSED-CAPTIONS
                // rendition; dash.js and Shaka once they have seen one
                if (!s.textOptions.includes('Captions (CC1)'))
                    s = await until(page, 'the CC1 entry', (x) =>
                        x.textOptions.includes('Captions (CC1)'), 15000);
                assert.deepEqual(s.textOptions, ['Off', 'English', 'Français [forced]',
                    'Captions (CC1)']);

                // English subtitles on: its cue on the video; off: gone
                await pick(page, 'text-track', 'English');
                s = await until(page, 'the English cue shown', (x) =>
                    x.shown.includes(EN_TEXT) && x.textSelected === 'English');
                fs.mkdirSync(shots, { recursive: true });
                await page.screenshot({ path: path.join(shots, `${engine}-${format}-subs.png`) });
                await pick(page, 'text-track', 'Off');
                s = await until(page, 'no cue shown', (x) =>
                    x.shown.length === 0 && x.textSelected === 'Off');
                // French audio: the engine switches, fetches its rendition
                await pick(page, 'audio-track', 'French (stereo)');
                s = await until(page, 'French audio', (x) =>
                    x.engineAudio === 'fr' && x.audioSelected === 'French (stereo)');
                await C.waitFor('French segments', () =>
                    page.fetched.some((u) => /\/audio-2\/seg-\d+\.m4s$/.test(u)),
                { timeoutMs: 20000 });
                await advances(page, 1.5);

                // the forced French track is a choice like any other
                await pick(page, 'text-track', 'Français [forced]');
                s = await until(page, 'the French cue shown', (x) =>
                    x.shown.includes(FR_TEXT) && !x.shown.includes(EN_TEXT));
                // CC1: the caption from the video, from its start
                await pick(page, 'text-track', 'Captions (CC1)');
                await page.evaluate(() => { document.querySelector('video').currentTime = 0; });
                s = await until(page, 'the CC1 caption shown', (x) =>
                    x.shown.some((t) => t.includes(CC_TEXT)) && !x.shown.includes(FR_TEXT));
                await advances(page, 1);
                assert.deepEqual(browser.offLoopback, []);
            } finally {
                await page.close();
            }
            await V.assertClean();
        });
    }

    for (const [engine, format] of [['hls', 'hls'], ['dash', 'dash'], ['shaka', 'dash']]) {
        test(`${engine} (${format.toUpperCase()}): the encrypted asset plays with the key typed in`, async () => {
            const page = await open(engine, 'locked', format);
            try {
                // the page waits for the key, the field holding the key ID
                let s = await until(page, 'the key asked for', (x) =>
                    x.key === `${KID}:` && /encrypted/.test(x.keyStatus));
                assert.deepEqual(s.keyIds, [KID]);
                assert.equal(s.time, 0);
                await page.fill('#clearkey', `${KID}:${KEY}`);
                await page.click('#key-form button[type=submit]');
                s = await until(page, 'decrypted playback', (x) => x.time > 2 && x.width > 0);
                assert.match(s.keyStatus, new RegExp(`key ID ${KID}`));
                // the key stays in the field: not in the address
                assert.ok(!page.url().includes(KEY), page.url());
            } finally {
                await page.close();
            }
            await V.assertClean();
        });

        test(`${engine} (${format.toUpperCase()}): the encrypted asset plays with a licence server`, async () => {
            const page = await open(engine, 'locked', format);
            const before = licences.asked.length;
            try {
                await until(page, 'the key asked for', (x) => x.key === `${KID}:`);
                await page.fill('#clearkey', licences.url);
                await page.click('#key-form button[type=submit]');
                await until(page, 'decrypted playback', (x) => x.time > 2 && x.width > 0);
                const asked = licences.asked.slice(before);
                assert.ok(asked.some((kids) => kids.includes(b64url(KID))),
                    `the licence server asked for the key ID: ${JSON.stringify(asked)}`);
            } finally {
                await page.close();
            }
            await V.assertClean();
        });
    }
});
