// Audio and subtitle tracks of the dashboard's player, one interface over
// hls.js, dash.js and Shaka Player (the engines in player.js), and the two
// menus that show them.  Tested by tests/integration/player_menus.test.mjs.
//
// A track: { id, label, lang, active } plus, for audio, channels and, for
// text, kind ('subtitles' | 'captions'), forced and cc (the CEA-608
// channel, 'CC1', of captions carried in the video).  Ids are strings,
// unique within one list; 'off' is no text track.

const CHANNELS = { 1: 'mono', 2: 'stereo', 6: '5.1', 8: '7.1' };

let names = null;
function languageName(lang) {
    if (!lang || lang === 'und')
        return '';
    try {
        names = names || new Intl.DisplayNames(['en'], { type: 'language' });
        return names.of(lang);
    } catch {
        return lang;
    }
}

// "English (5.1)": the rendition's NAME, else its language, and the
// channel layout when the manifest gives one.
export function audioLabel({ name, lang, channels }) {
    const base = name || languageName(lang) || 'Audio';
    const n = parseInt(channels, 10);
    const layout = CHANNELS[n] || (n > 0 ? `${n} ch` : '');
    return layout ? `${base} (${layout})` : base;
}

// "Français", "English CC [forced]"; CEA-608 in the video: "Captions (CC1)".
export function textLabel({ name, lang, forced, cc }) {
    if (cc)
        return `Captions (${cc})`;
    const base = name || languageName(lang) || 'Subtitles';
    return forced ? `${base} [forced]` : base;
}

const hasRole = (roles, v) => (roles || []).some((r) =>
    (typeof r === 'string' ? r : r && r.value) === v);

/* ---- hls.js ------------------------------------------------------------- */

// hls.js shows CEA-608 captions in a native text track of its own (kind
// captions, labelled with the CLOSED-CAPTIONS rendition's NAME), made when
// the first caption arrives; its subtitle renditions have tracks of their
// own (trackNode), which are not it.
function hlsCaptionTrack(p) {
    const cc = (p.hlsCaptions || []).find((c) => c.instreamId === 'CC1');
    if (!cc)
        return null;
    const subs = new Set((p.hls.subtitleTracks || []).map((t) =>
        t.trackNode && t.trackNode.track).filter(Boolean));
    return [...p.video.textTracks].find((t) => t.kind === 'captions' &&
        t.label === (cc.name || '') && !subs.has(t)) || null;
}

const hlsAdapter = {
    audio(p) {
        const h = p.hls;
        return (h.audioTracks || []).map((t, i) => ({ id: String(i),
            label: audioLabel({ name: t.name, lang: t.lang, channels: t.channels }),
            lang: t.lang || '', channels: t.channels || null,
            active: i === h.audioTrack }));
    },
    selectAudio(p, id) {
        p.hls.audioTrack = Number(id);
    },
    text(p) {
        const h = p.hls;
        const list = (h.subtitleTracks || []).map((t, i) => ({ id: `s${i}`,
            label: textLabel({ name: t.name, lang: t.lang, forced: t.forced }),
            lang: t.lang || '', forced: !!t.forced,
            kind: /describes-music-and-sound/.test(t.characteristics ||
                (t.attrs && t.attrs.CHARACTERISTICS) || '') ? 'captions' : 'subtitles',
            active: i === h.subtitleTrack && h.subtitleDisplay !== false }));
        for (const c of p.hlsCaptions || [])
            list.push({ id: `cc:${c.instreamId}`, cc: c.instreamId,
                label: textLabel({ cc: c.instreamId }), lang: c.lang || '',
                kind: 'captions', forced: false,
                active: p.textChoice === `cc:${c.instreamId}` });
        return list;
    },
    selectText(p, id) {
        p.textChoice = id;
        p.hls.subtitleTrack = /^s\d+$/.test(id) ? Number(id.slice(1)) : -1;
        p.hls.subtitleDisplay = id !== 'off';
        hlsShowCaptions(p);
    },
};

// CC1 shown or not as chosen: again whenever hls.js adds its track.
// Hidden rather than disabled when off: the track keeps its cues.
export function hlsShowCaptions(p) {
    const t = p.hls && hlsCaptionTrack(p);
    if (t)
        t.mode = p.textChoice === 'cc:CC1' ? 'showing' : 'hidden';
}

/* ---- dash.js ------------------------------------------------------------ */

function dashSame(a, b) {
    return !!a && !!b && a.id === b.id && a.index === b.index && a.lang === b.lang;
}

const dashAdapter = {
    audio(p) {
        const d = p.dash;
        const cur = d.getCurrentTrackFor('audio');
        return d.getTracksFor('audio').map((t, i) => {
            const acc = (t.audioChannelConfiguration || [])[0];
            const channels = acc && typeof acc === 'object' ? acc.value : acc;
            const label = (t.labels || [])[0];
            return { id: String(i), lang: t.lang || '', channels: channels || null,
                label: audioLabel({ name: label && label.text, lang: t.lang, channels }),
                active: dashSame(t, cur) };
        });
    },
    selectAudio(p, id) {
        const t = p.dash.getTracksFor('audio')[Number(id)];
        if (t)
            p.dash.setCurrentTrack(t);
    },
    // dash.js numbers text tracks in the order it added them, which its
    // TEXT_TRACKS_ADDED event lists (player.js keeps them: dashText)
    text(p) {
        const d = p.dash;
        const on = d.isTextEnabled();
        const cur = d.getCurrentTextTrackIndex();
        return (p.dashText || []).map((t, i) => {
            const label = (t.labels || [])[0];
            const cc = t.isEmbedded ? String(t.id || 'CC1') : null;
            const forced = hasRole(t.roles, 'forced-subtitle');
            return { id: String(i), lang: t.lang || '', forced, cc,
                kind: cc || hasRole(t.roles, 'caption') ? 'captions' : 'subtitles',
                label: textLabel({ name: label && label.text, lang: t.lang, forced, cc }),
                active: on && i === cur };
        });
    },
    selectText(p, id) {
        p.textChoice = id;
        if (id === 'off') {
            p.dash.enableText(false);
            return;
        }
        p.dash.enableText(true);
        p.dash.setTextTrack(Number(id));
    },
};

/* ---- Shaka Player ------------------------------------------------------- */

const shakaAdapter = {
    audio(p) {
        return p.shaka.getAudioTracks().map((t, i) => ({ id: String(i),
            lang: t.language || '', channels: t.channelsCount || null,
            label: audioLabel({ name: t.label, lang: t.language, channels: t.channelsCount }),
            active: t.active }));
    },
    selectAudio(p, id) {
        const t = p.shaka.getAudioTracks()[Number(id)];
        if (t)
            p.shaka.selectAudioTrack(t);
    },
    text(p) {
        return p.shaka.getTextTracks().map((t) => {
            const cc = /cea-608/.test(t.mimeType || '') ? t.originalTextId || 'CC1' : null;
            const forced = !!t.forced || hasRole(t.roles, 'forced-subtitle');
            return { id: String(t.id), lang: t.language || '', forced, cc,
                kind: cc || t.kind === 'caption' || hasRole(t.roles, 'caption') ?
                    'captions' : 'subtitles',
                label: textLabel({ name: t.label, lang: t.language, forced, cc }),
                active: t.active && p.textChoice !== 'off' };
        });
    },
    selectText(p, id) {
        p.textChoice = id;
        const t = id === 'off' ? null :
            p.shaka.getTextTracks().find((x) => String(x.id) === id);
        p.shaka.selectTextTrack(t || null);
    },
};

function adapter(p) {
    if (p.hls)
        return hlsAdapter;
    if (p.dash && p.dashReady)
        return dashAdapter;
    if (p.shaka && p.shakaLoaded)
        return shakaAdapter;
    return null;
}

// The lists as the engine reports them now; empty before it has loaded the
// manifest, and for the native engine (Safari's own menus).
export function audioTracks(p) {
    const a = adapter(p);
    try {
        return a ? a.audio(p) : [];
    } catch {
        return []; // an engine between two streams
    }
}

export function textTracks(p) {
    const a = adapter(p);
    try {
        return a ? a.text(p) : [];
    } catch {
        return [];
    }
}

export function selectAudio(p, id) {
    const a = adapter(p);
    if (a)
        a.selectAudio(p, id);
}

export function selectText(p, id) {
    const a = adapter(p);
    if (a)
        a.selectText(p, id);
}

/* ---- the menus ---------------------------------------------------------- */

function fill(sel, items) {
    const want = JSON.stringify(items.map((i) => [i.value, i.text]));
    if (sel.dataset.items === want)
        return;
    sel.replaceChildren(...items.map((i) => {
        const o = document.createElement('option');
        o.value = i.value;
        o.textContent = i.text;
        return o;
    }));
    sel.dataset.items = want;
}

// Renders the audio and subtitle <select>s from the engine's lists, the
// current track selected; a menu with nothing to choose is disabled.
export function renderTrackMenus(p, audioSel, textSel) {
    const audio = audioTracks(p);
    fill(audioSel, audio.length ? audio.map((t) => ({ value: t.id, text: t.label })) :
        [{ value: '', text: '–' }]);
    const cur = audio.find((t) => t.active);
    audioSel.value = cur ? cur.id : (audio.length ? audio[0].id : '');
    audioSel.disabled = audio.length < 2;

    const text = textTracks(p);
    fill(textSel, [{ value: 'off', text: 'Off' },
        ...text.map((t) => ({ value: t.id, text: t.label }))]);
    const on = text.find((t) => t.active);
    textSel.value = on ? on.id : 'off';
    textSel.disabled = text.length === 0;
    return { audio, text };
}
