// One <video>, four engines behind one interface: hls.js (HLS over MSE),
// dash.js (DASH), Shaka Player (HLS and DASH, chosen by hand) and the
// browser's own HLS where it has one (Safari, iOS).  The libraries are the
// builds loaded by index.html (window.Hls, window.dashjs, window.shaka).
// Audio and subtitle tracks: tracks.js; ClearKey: clearkey.js.  Tested by
// tests/integration/dashboard.test.mjs and player_menus.test.mjs.
import { dashProtectionData, hlsClearKeyConfig, shakaClearKeyConfig } from './clearkey.js';
import { audioTracks, hlsShowCaptions, selectAudio, selectText, textTracks } from './tracks.js';

export const HLS_MIME = 'application/vnd.apple.mpegurl';

// Which engine plays url: DASH for .mpd; for HLS, Safari's native player
// where the browser plays HLS itself and either has no MSE for hls.js or is
// Apple's (AVFoundation does LL-HLS, AirPlay, and battery better); hls.js
// everywhere else.
export function chooseEngine(url, video, requested = 'auto') {
    if (requested && requested !== 'auto' && enginesFor(url).includes(requested))
        return requested;
    if (/\.mpd(\?|$)/.test(url))
        return 'dash';
    const native = video.canPlayType(HLS_MIME) !== '';
    const hlsjs = !!(window.Hls && window.Hls.isSupported());
    const apple = /Apple/.test(navigator.vendor || '');
    return native && (!hlsjs || apple) ? 'native' : 'hls';
}

// The engines that can play url's manifest: hls.js and the browser's own
// player for HLS (.m3u8), dash.js for DASH (.mpd), Shaka for both.  An
// engine that does not fit (dash.js for a playlist) is never offered; asked
// for anyway (a ?engine= link), the choice falls back to auto.
export function enginesFor(url) {
    if (/\.mpd(\?|$)/.test(url))
        return ['dash', 'shaka'];
    if (/\.m3u8(\?|$)/.test(url))
        return ['hls', 'native', 'shaka'];
    return ['hls', 'dash', 'shaka', 'native'];
}

export class Player {
    constructor(video, { onChange = () => {}, onError = () => {} } = {}) {
        this.video = video;
        this.onChange = onChange;
        this.onError = onError;
        this.engine = null;
        this.src = null;
        this.live = false;
        this.hls = null;
        this.dash = null;
        this.shaka = null;
        this.levelList = [];
        // a text track added or switched (hls.js's captions, the engines'
        // subtitle tracks): the menus follow
        const tracksChanged = () => {
            if (this.hls)
                hlsShowCaptions(this);
            this.onChange();
        };
        video.textTracks.addEventListener('addtrack', tracksChanged);
        video.textTracks.addEventListener('change', () => this.onChange());
    }

    // clearKey: parseClearKey()'s answer (clearkey.js) for an encrypted
    // asset, or null; keyIds: the key IDs its manifest names (hex).
    load(url, { engine = 'auto', live = false, clearKey = null, keyIds = [] } = {}) {
        this.destroy();
        this.retries = 0;
        this.src = url;
        this.live = live;
        this.clearKey = clearKey;
        this.keyIds = keyIds;
        this.textChoice = null; // the engine's default until one is picked
        this.engine = chooseEngine(url, this.video, engine);
        if (this.engine === 'dash')
            this.startDash(url);
        else if (this.engine === 'shaka')
            this.startShaka(url);
        else if (this.engine === 'native')
            this.startNative(url);
        else
            this.startHls(url);
        this.onChange();
    }

    destroy() {
        clearTimeout(this.retryTimer);
        if (this.hls) {
            this.hls.destroy();
            this.hls = null;
        }
        if (this.dash) {
            const p = this.dash;
            this.dash = null;
            this.dashReady = false;
            p.destroy();
        }
        if (this.shaka) {
            // Shaka lets go of the <video> asynchronously: the next Shaka
            // player attaches after that
            this.shakaGone = this.shaka.destroy().catch(() => {});
            this.shaka = null;
        }
        this.levelList = [];
        this.hlsCaptions = [];
        this.dashText = [];
        this.shakaLoaded = false;
        this.video.removeAttribute('src');
        this.video.load();
    }

    fail(where, detail, fatal) {
        this.onError({ where, fatal: !!fatal,
            message: typeof detail === 'string' ? detail : JSON.stringify(detail) });
    }

    play() {
        this.video.play().catch((e) => {
            // autoplay refused (no user gesture): the play button still works
            if (e.name !== 'AbortError')
                this.fail('play', String(e), false);
        });
    }

    startHls(url) {
        const Hls = window.Hls;
        if (!Hls || !Hls.isSupported())
            return this.fail('hls.js', 'MSE or hls.js not available', true);
        // lowLatencyMode: LL-HLS parts, blocking reload and preload hints
        const hls = new Hls({ enableWorker: true, lowLatencyMode: true,
            ...hlsClearKeyConfig(this.clearKey, this.keyIds) });
        this.hls = hls;
        // CEA-608 in the video: the CLOSED-CAPTIONS renditions
        hls.on(Hls.Events.MANIFEST_LOADED, (_e, d) => {
            this.hlsCaptions = (d.captions || []).filter((c) => c.instreamId);
        });
        for (const ev of [Hls.Events.AUDIO_TRACKS_UPDATED, Hls.Events.AUDIO_TRACK_SWITCHED,
            Hls.Events.SUBTITLE_TRACKS_UPDATED, Hls.Events.SUBTITLE_TRACK_SWITCH])
            hls.on(ev, () => this.onChange());
        hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => {
            this.levelList = d.levels.map((l, index) => ({ index,
                width: l.width, height: l.height, bitrate: l.bitrate }));
            this.onChange();
            this.play();
        });
        hls.on(Hls.Events.LEVEL_SWITCHED, () => this.onChange());
        hls.on(Hls.Events.ERROR, (_e, d) => {
            if (!d.fatal)
                return;
            // a stream just published has no playlist for a segment or two
            if (this.live && d.details === 'manifestLoadError' &&
                this.retries < 10) {
                this.retries++;
                this.retryTimer = setTimeout(() => {
                    if (this.hls === hls)
                        hls.loadSource(url);
                }, 1000);
                return;
            }
            this.fail('hls.js', { type: d.type, details: d.details,
                url: d.url || (d.frag && d.frag.url) || undefined }, true);
        });
        hls.loadSource(url);
        hls.attachMedia(this.video);
    }

    startDash(url) {
        const dashjs = window.dashjs;
        if (!dashjs)
            return this.fail('dash.js', 'library not loaded', true);
        const p = dashjs.MediaPlayer().create();
        this.dash = p;
        p.updateSettings({
            debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING },
            streaming: {
                // LL-DASH: chunked open segments, catch up to the target
                ...(this.live ? { delay: { liveDelay: 1.5 },
                    liveCatchup: { enabled: true } } : {}),
                // the origin's clock, so nothing leaves the site
                utcSynchronization: { defaultTimingSource: {
                    scheme: 'urn:mpeg:dash:utc:http-iso:2014',
                    value: new URL('/time', location.href).href } },
            },
        });
        const ev = dashjs.MediaPlayer.events;
        this.dashReady = false;
        p.on(ev.STREAM_INITIALIZED, () => {
            if (this.dash !== p)
                return; // a player already replaced
            this.dashReady = true;
            this.levelList = p.getRepresentationsByType('video').map((r, index) => ({
                index, id: r.id, width: r.width, height: r.height,
                bitrate: r.bandwidth }));
            this.onChange();
        });
        p.on(ev.QUALITY_CHANGE_RENDERED, () => {
            if (this.dash === p)
                this.onChange();
        });
        p.on(ev.TRACK_CHANGE_RENDERED, () => {
            if (this.dash === p)
                this.onChange();
        });
        // the text tracks in the order setTextTrack() numbers them
        p.on(ev.TEXT_TRACKS_ADDED, (e) => {
            if (this.dash !== p)
                return;
            this.dashText = e.tracks || [];
            this.onChange();
        });
        p.on(ev.ERROR, (e) => {
            if (this.dash !== p)
                return;
            const err = e.error || e;
            this.fail('dash.js', { code: err.code, message: err.message }, true);
        });
        if (this.clearKey)
            p.setProtectionData(dashProtectionData(this.clearKey));
        p.initialize(this.video, url, true);
    }

    startShaka(url) {
        const shaka = window.shaka;
        if (!shaka || !shaka.Player.isBrowserSupported())
            return this.fail('shaka', 'Shaka Player or MSE not available', true);
        const p = new shaka.Player();
        this.shaka = p;
        p.configure({
            // LL-HLS parts and blocking reload, LL-DASH chunked segments
            streaming: { lowLatencyMode: this.live },
            // the origin's clock, so nothing leaves the site; live: the
            // timeline from availabilityStartTime, not from the first MPD's
            // newest segment (see samples/player.html)
            manifest: { dash: { clockSyncUri: new URL('/time', location.href).href,
                ...(this.live ? { autoCorrectDrift: false } : {}) } },
            ...shakaClearKeyConfig(this.clearKey),
        });
        p.addEventListener('error', (e) => {
            const d = e.detail || {};
            // severity 2: CRITICAL, the player stopped
            this.fail('shaka', { code: d.code, category: d.category }, d.severity === 2);
        });
        p.addEventListener('adaptation', () => this.onChange());
        for (const ev of ['variantchanged', 'trackschanged', 'textchanged',
            'audiotrackschanged'])
            p.addEventListener(ev, () => this.onChange());
        Promise.resolve(this.shakaGone).then(() => p.attach(this.video))
            .then(() => p.load(url)).then(() => {
            if (this.shaka !== p)
                return;
            this.shakaLoaded = true;
            this.levelList = this.shakaVideoTracks().map((t, index) => ({ index,
                id: t.id, width: t.width, height: t.height, bitrate: t.bandwidth }));
            this.onChange();
            this.play();
        }).catch((e) => {
            if (this.shaka === p)
                this.fail('shaka', { code: e.code, category: e.category }, true);
        });
    }

    // One Shaka variant per video height (audio is chosen by Shaka), best first.
    shakaVideoTracks() {
        const byHeight = new Map();
        for (const t of this.shaka.getVariantTracks())
            if (t.height && (!byHeight.has(t.height) ||
                byHeight.get(t.height).bandwidth < t.bandwidth))
                byHeight.set(t.height, t);
        return [...byHeight.values()].sort((a, b) => b.height - a.height);
    }

    startNative(url) {
        this.video.src = url;
        this.play();
    }

    // [{index, width, height, bitrate}]; empty for the native engine (the
    // browser picks the rendition itself).
    levels() {
        return this.levelList;
    }

    // {auto, index}: whether the engine adapts, and the rendition playing.
    level() {
        if (this.hls)
            return { auto: this.hls.autoLevelEnabled,
                index: this.hls.currentLevel };
        if (this.dash) {
            const s = this.dash.getSettings().streaming.abr;
            // dash.js throws ("You must first call initialize() and set a
            // source") until its stream is initialized
            const cur = this.dashReady ?
                this.dash.getCurrentRepresentationForType('video') : null;
            const index = cur ? this.levelList.findIndex((l) => l.id === cur.id) : -1;
            return { auto: s.autoSwitchBitrate.video !== false, index };
        }
        if (this.shaka) {
            const active = this.shaka.getVariantTracks().find((t) => t.active);
            const index = active ? this.levelList.findIndex((l) =>
                l.height === active.height) : -1;
            return { auto: this.shaka.getConfiguration().abr.enabled, index };
        }
        return { auto: true, index: -1 };
    }

    // index -1: automatic (ABR); otherwise pin that rendition.
    setLevel(index) {
        if (this.hls) {
            this.hls.currentLevel = index;
        } else if (this.dash) {
            const auto = index < 0;
            this.dash.updateSettings({ streaming: { abr: {
                autoSwitchBitrate: { video: auto } } } });
            if (!auto && this.levelList[index])
                this.dash.setRepresentationForTypeById('video',
                    this.levelList[index].id, true);
        } else if (this.shaka) {
            const auto = index < 0;
            this.shaka.configure({ abr: { enabled: auto } });
            const want = this.levelList[index];
            const track = want && this.shaka.getVariantTracks().find((t) => t.id === want.id);
            if (!auto && track)
                this.shaka.selectVariantTrack(track, true);
        }
        this.onChange();
    }

    // The asset's audio renditions and text tracks (tracks.js): [{ id,
    // label, lang, active, ... }]; empty for the native engine, whose
    // tracks the browser's own controls offer.
    audioTracks() {
        return audioTracks(this);
    }

    textTracks() {
        return textTracks(this);
    }

    setAudioTrack(id) {
        selectAudio(this, id);
        this.onChange();
    }

    // id: one of textTracks()'s, or 'off'.
    setTextTrack(id) {
        selectText(this, id);
        this.onChange();
    }

    // Seconds behind the live edge as the engine measures it; null for VOD.
    latency() {
        try {
            if (this.hls && this.hls.latency != null &&
                Number.isFinite(this.hls.latency) && this.hls.latency > 0)
                return this.hls.latency;
            if (this.dash && this.dashReady && this.dash.isDynamic())
                return this.dash.getCurrentLiveLatency();
            if (this.shaka && this.shaka.isLive()) {
                // the wall clock minus the playhead's wall-clock time
                const ms = this.shaka.getLiveLatency();
                return ms == null ? null : ms / 1000;
            }
            if (this.engine === 'native' && this.live) {
                // Safari maps EXT-X-PROGRAM-DATE-TIME to getStartDate()
                const start = this.video.getStartDate && this.video.getStartDate();
                if (start && Number.isFinite(start.getTime()))
                    return (Date.now() - start.getTime()) / 1000 -
                        this.video.currentTime;
                const s = this.video.seekable;
                if (s.length)
                    return s.end(s.length - 1) - this.video.currentTime;
            }
        } catch {
            /* not live yet */
        }
        return null;
    }

    // The range the seek bar covers: [0, duration] for VOD, the seekable
    // window for live.
    range() {
        const v = this.video;
        if (Number.isFinite(v.duration) && v.duration > 0)
            return { start: 0, end: v.duration };
        const s = v.seekable;
        if (s.length)
            return { start: s.start(0), end: s.end(s.length - 1) };
        return { start: 0, end: 0 };
    }
}
