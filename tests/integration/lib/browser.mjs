// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core,
// with the flags from environment-notes.md and a fresh profile per launch.
// Requests that leave 127.0.0.1 are aborted and recorded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOURCE_DIR } from './cirrus.mjs';

export const CHROMIUM = process.env.CIRRUS_CHROMIUM || '/usr/bin/chromium';
export const NODE_MODULES = path.join(SOURCE_DIR, 'tests', 'node_modules');
// Shaka Player's compiled build (samples/player.html loads
// /lib/shaka/shaka-player.compiled.js)
export const SHAKA_DIST = path.join(NODE_MODULES, 'shaka-player', 'dist');

export const CHROMIUM_FLAGS = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--autoplay-policy=no-user-gesture-required',
    '--disable-dev-shm-usage', '--mute-audio',
];

// The mounts a static server needs to serve samples/player.html and the
// player libraries next to an output folder mounted at /out/.
export function playerMounts(outDir) {
    return {
        '/': path.join(SOURCE_DIR, 'samples'),
        '/out/': outDir,
        '/lib/hls.js/': path.join(NODE_MODULES, 'hls.js', 'dist'),
        '/lib/dashjs/': path.join(NODE_MODULES, 'dashjs', 'dist', 'modern', 'umd'),
        '/lib/shaka/': SHAKA_DIST,
    };
}

export function browserAvailable() {
    if (!fs.existsSync(CHROMIUM))
        return `no ${CHROMIUM}`;
    if (!fs.existsSync(path.join(NODE_MODULES, 'playwright-core')))
        return 'tests/node_modules/playwright-core missing (run scripts/setup)';
    return null;
}

export async function launch() {
    const { chromium } = await import(path.join(NODE_MODULES, 'playwright-core',
        'index.mjs'));
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cirrus-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS,
        viewport: { width: 1280, height: 800 },
    });
    const offLoopback = [];
    await context.route('**/*', (route) => {
        const u = new URL(route.request().url());
        if (u.protocol === 'data:' || u.protocol === 'blob:' ||
            u.hostname === '127.0.0.1' || u.hostname === 'localhost')
            return route.continue();
        offLoopback.push(u.href);
        return route.abort();
    });
    return {
        context, offLoopback,
        close: async () => {
            await context.close().catch(() => {});
            fs.rmSync(profile, { recursive: true, force: true });
        },
    };
}

// Opens the player page on `pageUrl` and waits until the video has played
// past `minTime` seconds (with `minPlayed`: until the playhead has moved
// that many seconds on from where it first played, what a live stream
// joined at its edge needs), a fatal error is reported, or `timeoutMs`
// passes.  Resolves the page's window.cirrusPlayer state plus console
// messages, and `firstTime` (the playhead when it first played, or null)
// and `played` (seconds since).  `onPage(page)` runs before the page loads
// (e.g. a validator's watchPage).
export async function play(browser, pageUrl, { minTime = 3, minPlayed = null,
    timeoutMs = 60000, screenshot, onPage } = {}) {
    const page = await browser.context.newPage();
    if (onPage)
        onPage(page);
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    await page.goto(pageUrl, { waitUntil: 'load' });
    const deadline = Date.now() + timeoutMs;
    let state = null, firstTime = null, played = 0;
    while (Date.now() < deadline) {
        state = await page.evaluate(() => {
            const v = document.querySelector('video');
            return { ...window.cirrusPlayer, currentTime: v.currentTime,
                videoWidth: v.videoWidth, videoHeight: v.videoHeight,
                paused: v.paused, readyState: v.readyState };
        });
        if (firstTime === null && state.playing && state.currentTime > 0)
            firstTime = state.currentTime;
        played = firstTime === null ? 0 : state.currentTime - firstTime;
        if (state.fatal || (minPlayed === null ? state.currentTime > minTime
            : played > minPlayed))
            break;
        await new Promise((r) => setTimeout(r, 250));
    }
    if (screenshot) {
        fs.mkdirSync(path.dirname(screenshot), { recursive: true });
        await page.screenshot({ path: screenshot }).catch(() => {});
    }
    await page.close();
    return { ...state, firstTime, played, console: consoleLines };
}
