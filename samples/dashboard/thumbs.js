// Thumbnail track: the WebVTT that cirrus-transcode writes into an asset's
// thumbs/ folder.  Each cue names a sprite sheet and the tile inside it as
// a media fragment, relative to the VTT:
//
//   00:00:05.000 --> 00:00:10.005
//   sprite-1.jpg#xywh=160,0,160,90
//
// parseVtt() turns the text into cues with absolute image URLs; cueAt()
// finds the tile for a time.

function seconds(stamp) {
    // hh:mm:ss.mmm or mm:ss.mmm
    const parts = stamp.trim().split(':').map(Number);
    if (parts.some((p) => !Number.isFinite(p)))
        return NaN;
    return parts.reduce((acc, p) => acc * 60 + p, 0);
}

export function parseVtt(text, baseUrl) {
    const cues = [];
    const lines = text.replace(/\r\n?/g, '\n').split('\n');
    if (!/^WEBVTT/.test(lines[0] || ''))
        throw new Error('not a WebVTT file');
    for (let i = 1; i < lines.length; i++) {
        const m = /^\s*([\d:.]+)\s+-->\s+([\d:.]+)/.exec(lines[i]);
        if (!m)
            continue;
        const payload = (lines[i + 1] || '').trim();
        const start = seconds(m[1]), end = seconds(m[2]);
        const frag = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(payload);
        if (!Number.isFinite(start) || !Number.isFinite(end) || !payload)
            continue;
        const cue = { start, end,
            url: new URL(frag ? frag[1] : payload, baseUrl).href };
        if (frag) {
            cue.x = Number(frag[2]);
            cue.y = Number(frag[3]);
            cue.w = Number(frag[4]);
            cue.h = Number(frag[5]);
        }
        cues.push(cue);
        i++;
    }
    return cues;
}

// The cue covering t, or the last one before it (the final cue may end a
// little before the media's duration).
export function cueAt(cues, t) {
    let best = null;
    for (const c of cues) {
        if (c.start <= t)
            best = c;
        if (t < c.end && c.start <= t)
            return c;
    }
    return best;
}

export async function loadThumbs(vttUrl) {
    const r = await fetch(vttUrl);
    if (!r.ok)
        throw new Error(`${vttUrl}: HTTP ${r.status}`);
    return parseVtt(await r.text(), r.url || vttUrl);
}
