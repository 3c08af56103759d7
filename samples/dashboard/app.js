// The dashboard: polls the three APIs the origin proxies, renders the
// lists, and drives the player.  State for tests and debugging is kept in
// window.cirrusDashboard.
import { keyIdsOf, parseClearKey } from './clearkey.js';
import { Health, renditions, sparkline } from './health.js';
import { JobsPanel } from './jobs.js';
import { enginesFor, Player } from './player.js';
import { cueAt, loadThumbs } from './thumbs.js';
import { renderTrackMenus } from './tracks.js';

const API = { streams: '/api/ingest/streams', jobs: '/api/worker/jobs',
    vod: '/api/vod/', origin: '/metrics' };
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
const video = $('video');
const state = window.cirrusDashboard = {
    streams: [], assets: [], jobs: [], finished: [], errors: [],
    src: null, engine: null, live: false, thumbs: [], thumb: null,
    maxTime: 0, polls: 0, history: [], degraded: [], rps: null,
};

function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (k === 'class')
            e.className = v;
        else if (k.startsWith('on'))
            e.addEventListener(k.slice(2), v);
        else
            e.setAttribute(k, v);
    }
    for (const c of children)
        if (c != null)
            e.append(c);
    return e;
}

function fmtTime(s) {
    if (!Number.isFinite(s))
        return '–';
    s = Math.max(0, s);
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    const sec = Math.floor(s % 60).toString().padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

const kbps = (bps) => `${Math.round(bps / 1000)} kb/s`;

function showError(msg) {
    state.errors.push(msg);
    $('errors').textContent = state.errors.slice(-5).join('\n');
}

async function getJson(url) {
    const r = await fetch(url, { cache: 'no-store' });
    if (!r.ok)
        throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
}

/* ---- player ---------------------------------------------------------- */

const player = new Player(video, {
    onChange: () => renderPlayerControls(),
    onError: (e) => {
        showError(`${e.where}: ${e.message}`);
        if (e.fatal)
            state.fatal = e.message;
    },
});
state.player = player;

// src: a manifest URL on this origin; thumbsVtt: the asset's sprite track.
async function play(src, { live = false, title = src, thumbsVtt = null } = {}) {
    state.src = src;
    state.live = live;
    state.fatal = null;
    state.maxTime = 0;
    state.thumbs = [];
    state.thumbsVtt = thumbsVtt;
    $('now-playing').textContent = title;
    offerEngines(src);
    const clearKey = await keyFor(src, live);
    if (state.src !== src)
        return; // another source picked meanwhile
    if (clearKey === false)
        player.destroy(); // encrypted, no key yet: the field asks for it
    else
        player.load(src, { engine: $('engine').value, live, clearKey,
            keyIds: state.keyIds });
    state.engine = player.engine;
    const q = new URLSearchParams({ play: src });
    if (live)
        q.set('live', '1');
    if ($('engine').value !== 'auto')
        q.set('engine', $('engine').value);
    history.replaceState(null, '', `?${q}`);
    document.querySelectorAll('.items li[data-src]').forEach((li) =>
        li.classList.toggle('current', li.dataset.src === src));
    if (thumbsVtt) {
        try {
            state.thumbs = await loadThumbs(thumbsVtt);
        } catch (e) {
            showError(`thumbnails: ${e.message}`);
        }
    }
}

// The ClearKey for src: null for a clear asset, the field's key (or
// licence server) for an encrypted one, false while the field has none
// that fits (it is then pre-filled with the manifest's key ID).  The key
// stays in the field: never in the URL or storage.
async function keyFor(src, live) {
    let kids = [];
    if (!live) {
        try {
            const r = await fetch(src, { cache: 'no-store' });
            kids = r.ok ? keyIdsOf(await r.text()) : [];
        } catch {
            /* the engine reports it */
        }
    }
    state.keyIds = kids;
    const field = $('clearkey'), status = $('key-status');
    let ck = null;
    try {
        ck = parseClearKey(field.value);
    } catch {
        /* not a key yet */
    }
    const fits = !!ck && (!!ck.server || ck.keys.some((x) => kids.includes(x.kidHex)));
    $('key-form').classList.toggle('needed', kids.length > 0 && !fits);
    if (!kids.length) {
        status.textContent = '';
        return null;
    }
    if (fits) {
        status.textContent = `encrypted, key ID ${kids.join(', ')}`;
        return ck;
    }
    if (!field.value.toLowerCase().startsWith(`${kids[0]}:`))
        field.value = `${kids[0]}:`;
    status.textContent = 'encrypted: type the key after the key ID (or a licence-server URL)';
    return false;
}

function replay() {
    if (state.src)
        play(state.src, { live: state.live, title: $('now-playing').textContent,
            thumbsVtt: state.thumbsVtt });
}

$('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    try {
        parseClearKey($('clearkey').value);
    } catch (err) {
        $('key-status').textContent = err.message;
        return;
    }
    replay();
});

// The engine menu offers only the engines that play src's manifest; a
// choice that does not fit goes back to auto.
function offerEngines(src) {
    const fit = enginesFor(src);
    const sel = $('engine');
    for (const o of sel.options) {
        const ok = o.value === 'auto' || fit.includes(o.value);
        o.disabled = !ok;
        o.hidden = !ok;
    }
    if (sel.selectedOptions[0]?.disabled)
        sel.value = 'auto';
    state.engines = ['auto', ...fit];
}

function renderPlayerControls() {
    const sel = $('rendition');
    const levels = player.levels();
    const { auto, index } = player.level();
    const want = ['-1', ...levels.map((l) => String(l.index))].join(',');
    if (sel.dataset.levels !== want) {
        sel.replaceChildren(el('option', { value: '-1' },
            player.engine === 'native' ? 'auto (browser)' : 'auto'));
        for (const l of levels)
            sel.append(el('option', { value: String(l.index) },
                `${l.height}p · ${kbps(l.bitrate)}`));
        sel.dataset.levels = want;
    }
    sel.value = auto ? '-1' : String(index);
    sel.disabled = levels.length === 0;
    state.engine = player.engine;
    state.tracks = renderTrackMenus(player, $('audio-track'), $('text-track'));
}

$('rendition').addEventListener('change', (e) =>
    player.setLevel(Number(e.target.value)));
$('audio-track').addEventListener('change', (e) =>
    player.setAudioTrack(e.target.value));
$('text-track').addEventListener('change', (e) =>
    player.setTextTrack(e.target.value));
$('engine').addEventListener('change', replay);
$('playpause').addEventListener('click', () =>
    (video.paused ? video.play() : video.pause()));
$('mute').addEventListener('click', () => {
    video.muted = !video.muted;
});

function tick() {
    const { start, end } = player.range();
    const span = end - start;
    const t = video.currentTime;
    state.maxTime = Math.max(state.maxTime, t);
    $('seek-played').style.width = span > 0 ?
        `${Math.min(100, ((t - start) / span) * 100)}%` : '0';
    const b = video.buffered;
    $('seek-buffer').style.width = span > 0 && b.length ?
        `${Math.min(100, ((b.end(b.length - 1) - start) / span) * 100)}%` : '0';
    $('clock').textContent = state.live ? `live ${fmtTime(t)}` :
        `${fmtTime(t)} / ${fmtTime(end)}`;
    $('playpause').textContent = video.paused ? 'Play' : 'Pause';
    $('mute').textContent = video.muted ? 'Unmute' : 'Mute';
    const latency = player.latency();
    state.latency = latency;
    // engines switch tracks without an event for each (Shaka's active flags)
    state.tracks = renderTrackMenus(player, $('audio-track'), $('text-track'));
    const { index } = player.level();
    const lvl = player.levels()[index];
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : {};
    const lines = [];
    if (state.src) {
        lines.push(`${player.engine}  ${video.videoWidth}x${video.videoHeight}` +
            (lvl ? `  ${kbps(lvl.bitrate)}` : '') +
            `  frames ${q.totalVideoFrames || 0}, dropped ${q.droppedVideoFrames || 0}`);
        if (state.live)
            lines.push(`latency ${latency != null ? `${latency.toFixed(2)} s behind live` : '–'}`);
    }
    $('stats').textContent = lines.join('\n');
}
setInterval(tick, 250);

/* seek bar: click to seek, hover for the sprite tile of that time */
function seekTime(ev) {
    const r = $('seek').getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
    const { start, end } = player.range();
    return { t: start + f * (end - start), x: f * r.width };
}

$('seek').addEventListener('click', (ev) => {
    const { t } = seekTime(ev);
    if (Number.isFinite(t))
        video.currentTime = t;
});
$('seek').addEventListener('mousemove', (ev) => {
    const { t, x } = seekTime(ev);
    const cue = state.thumbs.length ? cueAt(state.thumbs, t) : null;
    const box = $('thumb'), img = $('thumb-img');
    if (!cue) {
        box.hidden = true;
        state.thumb = null;
        return;
    }
    // the tile is a window onto the sprite sheet
    img.style.width = `${cue.w || 160}px`;
    img.style.height = `${cue.h || 90}px`;
    img.style.backgroundImage = `url("${cue.url}")`;
    img.style.backgroundPosition = `${-(cue.x || 0)}px ${-(cue.y || 0)}px`;
    $('thumb-time').textContent = fmtTime(t);
    box.style.left = `${x}px`;
    box.hidden = false;
    state.thumb = { t, url: cue.url, x: cue.x, y: cue.y, w: cue.w, h: cue.h };
});
$('seek').addEventListener('mouseleave', () => {
    $('thumb').hidden = true;
});

/* ---- lists --------------------------------------------------------- */

function setList(id, items, emptyText) {
    const ul = $(id);
    ul.replaceChildren(...(items.length ? items :
        [el('li', { class: 'empty' }, emptyText)]));
    ul.querySelectorAll('li[data-src]').forEach((li) =>
        li.classList.toggle('current', li.dataset.src === state.src));
}

async function pollStreams() {
    let streams;
    try {
        streams = await getJson(API.streams);
    } catch (e) {
        setList('live', [], `ingest status unavailable (${e.message})`);
        return;
    }
    state.streams = streams;
    const now = Date.now();
    showDegraded(health.record(streams, now));
    $('live-count').textContent = streams.length ? `(${streams.length})` : '';
    setList('live', streams.map((s) => {
        const base = `/live/${encodeURIComponent(s.key)}/`;
        const hls = `${base}master.m3u8`, dash = `${base}manifest.mpd`;
        const names = Array.isArray(s.renditions) ? s.renditions : [];
        return el('li', { 'data-src': hls, 'data-key': s.key },
            el('div', { class: 'name' }, s.key, ' ',
                el('span', { class: 'badge live' }, s.publishing ? 'LIVE' : 'reconnecting')),
            el('div', { class: 'meta' },
                `${s.width}x${s.height} ${Math.round(s.fps || 0)} fps · ` +
                `${kbps(s.bitrate || 0)} · ${s.codecs?.video || '?'}` +
                `${s.codecs?.audio ? `+${s.codecs.audio}` : ''} · up ${fmtTime(s.uptime)}` +
                (names.length ? ` · ${names.join(', ')}` : '')),
            healthTable(s),
            el('button', { type: 'button', class: 'play-hls',
                onclick: () => play(hls, { live: true, title: `live: ${s.key} (LL-HLS)` }) },
            'LL-HLS'),
            el('button', { type: 'button', class: 'play-dash',
                onclick: () => play(dash, { live: true, title: `live: ${s.key} (LL-DASH)` }) },
            'LL-DASH'));
    }), 'no live streams — publish to rtmp://…/live/<key>');
}

const health = new Health();
state.health = health;

// One row per rendition: its figures now and its bitrate, fps and encoder
// lag over the kept window.
function healthTable(s) {
    const rows = renditions(s).map((r) => {
        const points = health.series.get(`${s.key}/${r.name}`) || [];
        return [el('tr', { class: r.degraded ? 'rendition degraded' : 'rendition',
            'data-rendition': r.name },
        el('td', {}, r.name),
        el('td', {}, r.type === 'audio' ? kbps(r.bitrate || 0) :
            `${kbps(r.bitrate || 0)} · ${Number(r.fps || 0).toFixed(1)} fps`),
        el('td', {}, `dropped ${r.dropped_frames ?? 0}` +
            (r.encoder_lag != null ? ` · lag ${Number(r.encoder_lag).toFixed(2)} s` : ''))),
        el('tr', { class: 'graphs' }, el('td', { colspan: '3' },
            sparkline(points, 'bitrate', { title: `${r.name} bitrate` }),
            r.type === 'audio' ? null : sparkline(points, 'fps', { title: `${r.name} fps` }),
            r.encoder_lag != null ?
                sparkline(points, 'lag', { title: `${r.name} encoder lag` }) : null))];
    }).flat();
    return rows.length ? el('table', { class: 'health' }, ...rows) : null;
}

// A banner while any rendition is in a degraded episode (the ingest marks
// them: an encoder that falls behind drops frames).
function showDegraded(list) {
    state.degraded = list;
    const b = $('banner');
    b.hidden = list.length === 0;
    b.textContent = list.length ? `degraded: ${list.map((d) =>
        `${d.key}/${d.name}`).join(', ')} (dropping frames)` : '';
}

// The origin's requests per second, when its metrics are served here.
async function pollOrigin() {
    try {
        const r = await fetch(API.origin, { cache: 'no-store' });
        if (!r.ok)
            return;
        state.rps = health.recordRequests(await r.text(), Date.now());
        $('rps').textContent = state.rps == null ? '' :
            `origin ${state.rps.toFixed(1)} req/s`;
    } catch {
        /* not served on this host */
    }
}

// Asset folders under the VOD root: a folder is listed once it holds
// master.m3u8 or manifest.mpd (written last: the asset is complete).
const folderCache = new Map(); // name -> { mtime, entries }

async function folder(name, mtime) {
    const c = folderCache.get(name);
    if (c && c.mtime === mtime)
        return c.entries;
    const entries = await getJson(`${API.vod}${encodeURIComponent(name)}/`);
    folderCache.set(name, { mtime, entries });
    return entries;
}

// The version an asset's top-level manifest points at ("v/<id>/...", see
// the README's "Published outputs never change") and that folder's listing.
const versionCache = new Map(); // name -> { mtime, id, entries }

async function published(name, mtime, names) {
    const c = versionCache.get(name);
    if (c && c.mtime === mtime)
        return c;
    if (!names.has('v'))
        return null;
    const top = names.has('master.m3u8') ? 'master.m3u8' : 'manifest.mpd';
    const r = await fetch(`/vod/${encodeURIComponent(name)}/${top}`);
    if (!r.ok)
        throw new Error(`${top}: HTTP ${r.status}`);
    const m = /(?:^|["\n>])v\/([A-Za-z0-9_-]+)\//.exec(await r.text());
    if (!m)
        return null;
    const entries = await getJson(`${API.vod}${encodeURIComponent(name)}/v/` +
        `${encodeURIComponent(m[1])}/`);
    const v = { mtime, id: m[1], entries };
    versionCache.set(name, v);
    return v;
}

const resultCache = new Map(); // job.json name -> { mtime, result }

async function jobResult(name, mtime) {
    const c = resultCache.get(name);
    if (c && c.mtime === mtime)
        return c.result;
    const result = await getJson(`${API.vod}${encodeURIComponent(name)}`);
    resultCache.set(name, { mtime, result });
    return result;
}

async function pollVod() {
    let root;
    try {
        root = await getJson(API.vod);
    } catch (e) {
        setList('vod', [], `VOD listing unavailable (${e.message})`);
        return;
    }
    const assets = [];
    for (const d of root.filter((e) => e.type === 'directory')) {
        let entries;
        try {
            entries = await folder(d.name, d.mtime);
        } catch {
            continue; /* removed meanwhile */
        }
        const names = new Set(entries.map((e) => e.name));
        if (!names.has('master.m3u8') && !names.has('manifest.mpd'))
            continue;
        // the files live in the published version the manifests point at
        let files = entries, version = '';
        try {
            const v = await published(d.name, d.mtime, names);
            if (v) {
                version = `v/${v.id}/`;
                files = v.entries;
            }
        } catch {
            /* an older asset without versions, or replaced meanwhile */
        }
        const inside = new Set(files.map((e) => e.name));
        assets.push({ name: d.name, mtime: d.mtime, version,
            hls: names.has('master.m3u8'), dash: names.has('manifest.mpd'),
            thumbs: inside.has('thumbs'),
            audio: inside.has('audio'),
            // audio-2, subs-fr: the other audio and the subtitle renditions
            renditions: files.filter((e) => e.type === 'directory' &&
                !['thumbs', 'images', 'v'].includes(e.name) &&
                !/^(audio|subs)(-|$)/.test(e.name)).length });
    }
    assets.sort((a, b) => Date.parse(b.mtime) - Date.parse(a.mtime));
    state.assets = assets;
    $('vod-count').textContent = assets.length ? `(${assets.length})` : '';
    setList('vod', assets.map((a) => {
        const base = `/vod/${encodeURIComponent(a.name)}/`;
        const thumbsVtt = a.thumbs ? `${base}${a.version}thumbs/thumbs.vtt` : null;
        const opts = (fmt) => ({ title: `VOD: ${a.name} (${fmt})`, thumbsVtt });
        return el('li', { 'data-src': `${base}master.m3u8`, 'data-name': a.name },
            el('div', { class: 'name' }, a.name),
            el('div', { class: 'meta' }, `${a.renditions} video renditions` +
                `${a.audio ? ' + audio' : ''} · ` +
                new Date(a.mtime).toLocaleString()),
            a.hls ? el('button', { type: 'button', class: 'play-hls',
                onclick: () => play(`${base}master.m3u8`, opts('HLS')) }, 'HLS') : null,
            a.dash ? el('button', { type: 'button', class: 'play-dash',
                onclick: () => play(`${base}manifest.mpd`, opts('DASH')) }, 'DASH') : null,
            el('button', { type: 'button', class: 'delete',
                onclick: () => deleteAsset(a.name) }, 'Delete'));
    }), 'no assets yet — drop a job into the worker\'s spool');

    // finished (and running) jobs: the <output>.job.json beside each asset
    const finished = [];
    for (const f of root.filter((e) => e.type === 'file' && e.name.endsWith('.job.json'))) {
        try {
            finished.push({ file: f.name, ...(await jobResult(f.name, f.mtime)) });
        } catch {
            /* being replaced */
        }
    }
    finished.sort((a, b) => String(b.finished_at || b.claimed_at || '')
        .localeCompare(String(a.finished_at || a.claimed_at || '')));
    state.finished = finished;
}

// The Delete button: through the job API (jobs.js), then the list again.
async function deleteAsset(name) {
    if (await jobsPanel.deleteAsset(name)) {
        folderCache.delete(name);
        versionCache.delete(name);
        await pollVod();
    }
}

async function pollJobs() {
    let running = null;
    try {
        running = await getJson(API.jobs);
    } catch (e) {
        state.jobsError = e.message;
    }
    state.jobs = running || [];
    const items = [];
    for (const j of state.jobs) {
        const pct = Math.max(0, Math.min(100, j.percent || 0));
        items.push(el('li', { class: 'job running', 'data-id': j.id },
            el('div', { class: 'name' }, j.id, ' ',
                el('span', { class: 'badge' }, `${pct.toFixed(0)}%`)),
            el('div', { class: 'meta' }, `speed ${(j.speed || 0).toFixed(2)}× · ` +
                `elapsed ${fmtTime(j.elapsed)} · ETA ${fmtTime(j.eta)}`),
            el('div', { class: 'progress' }, el('div', { style: `width:${pct}%` }))));
    }
    for (const j of state.finished.slice(0, 10)) {
        if (j.state === 'running' && state.jobs.some((r) => r.id === j.id))
            continue;
        const cls = j.state === 'done' ? 'done' : j.state === 'failed' ? 'failed' : '';
        items.push(el('li', { class: `job ${j.state}`, 'data-id': j.id || j.file },
            el('div', { class: 'name' }, j.id || j.file, ' ',
                el('span', { class: `badge ${cls}` }, j.state || '?')),
            el('div', { class: 'meta' }, `${j.preset || ''} · ` +
                (j.elapsed != null ? `${Number(j.elapsed).toFixed(1)} s` : '') +
                (j.speed ? ` · ${Number(j.speed).toFixed(2)}×` : '') +
                (j.error ? ` · ${typeof j.error === 'string' ? j.error : JSON.stringify(j.error)}` : ''))));
    }
    setList('jobs', items, running === null ?
        `worker unavailable (${state.jobsError})` : 'no transcodes running');
}

const jobsPanel = new JobsPanel({ el, fmtTime, onError: showError, state });

async function poll() {
    await Promise.all([pollStreams(), pollVod(), pollOrigin()]);
    await pollJobs();
    await jobsPanel.refresh();
    state.polls++;
    setTimeout(poll, POLL_MS);
}

/* ---- start --------------------------------------------------------- */

const params = new URLSearchParams(location.search);
if (params.get('engine'))
    $('engine').value = params.get('engine');
const first = params.get('play');
// a VOD deep link's thumbnails are in its published version
// (v/<version>/thumbs/): known once the asset list is read
poll();
if (first) {
    const m = /^\/vod\/([^/]+)\//.exec(first);
    pollVod().catch(() => {}).finally(() => {
        const a = m && state.assets?.find((x) => x.name === decodeURIComponent(m[1]));
        play(first, { live: params.get('live') === '1', title: first,
            thumbsVtt: a?.thumbs ? `/vod/${m[1]}/${a.version}thumbs/thumbs.vtt` : null });
    });
}
