// Live health for the console: per stream and per rendition (the "abr"
// array of cirrus-ingest's /streams: bitrate, fps, dropped_frames,
// encoder_lag, degraded), kept in the page over the last minutes and drawn
// as small inline SVG graphs; the origin's requests per second from its
// Prometheus text (cirrus_origin_requests_total at /metrics).
// Tested by tests/integration/dashboard.test.mjs.

export const HISTORY_SECONDS = 300;

const SVG = 'http://www.w3.org/2000/svg';

// series: Map "<stream>/<rendition>" -> [{t, bitrate, fps, dropped, lag}]
export class Health {
    constructor() {
        this.series = new Map();
        this.requests = []; // [{t, total}]
    }

    // One /streams answer at time t (ms); returns the degraded renditions
    // as [{key, name}].
    record(streams, t) {
        const degraded = [];
        const seen = new Set();
        for (const s of streams) {
            for (const r of renditions(s)) {
                const id = `${s.key}/${r.name}`;
                seen.add(id);
                const list = this.series.get(id) || [];
                list.push({ t, bitrate: Number(r.bitrate) || 0, fps: Number(r.fps) || 0,
                    dropped: Number(r.dropped_frames) || 0,
                    lag: Number(r.encoder_lag) || 0 });
                while (list.length && list[0].t < t - HISTORY_SECONDS * 1000)
                    list.shift();
                this.series.set(id, list);
                if (r.degraded)
                    degraded.push({ key: s.key, name: r.name });
            }
        }
        for (const id of [...this.series.keys()])
            if (!seen.has(id))
                this.series.delete(id);
        return degraded;
    }

    // The origin's request counter summed over kinds and statuses; null
    // when the metrics do not have it.  Returns requests per second over
    // the last two samples.
    recordRequests(text, t) {
        let total = null;
        for (const line of text.split('\n')) {
            const m = /^cirrus_origin_requests_total(?:\{[^}]*\})? ([0-9.e+]+)$/.exec(line);
            if (m)
                total = (total || 0) + Number(m[1]);
        }
        if (total === null)
            return null;
        this.requests.push({ t, total });
        while (this.requests.length > 2 &&
               this.requests[0].t < t - HISTORY_SECONDS * 1000)
            this.requests.shift();
        const n = this.requests.length;
        if (n < 2)
            return null;
        const a = this.requests[n - 2], b = this.requests[n - 1];
        return b.t > a.t ? Math.max(0, (b.total - a.total) / ((b.t - a.t) / 1000)) : null;
    }
}

// A stream's renditions: the ABR ladder when the pipeline reports one.
export function renditions(s) {
    return Array.isArray(s.abr) ? s.abr.filter((r) => r && typeof r.name === 'string') : [];
}

// A small polyline of one field over the kept window.
export function sparkline(points, field, { width = 90, height = 24, title = field } = {}) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', `spark spark-${field}`);
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const t = document.createElementNS(SVG, 'title');
    t.textContent = title;
    svg.append(t);
    if (points.length) {
        // the kept span, up to the window: a new stream's graph fills it too
        const t1 = points[points.length - 1].t;
        const t0 = Math.min(t1 - 1000, Math.max(points[0].t, t1 - HISTORY_SECONDS * 1000));
        const max = Math.max(...points.map((p) => p[field]), 1e-9);
        const xy = points.map((p) => `${(((p.t - t0) / (t1 - t0)) * width).toFixed(1)},` +
            `${(height - 1 - (p[field] / max) * (height - 2)).toFixed(1)}`);
        const line = document.createElementNS(SVG, 'polyline');
        line.setAttribute('points', xy.join(' '));
        svg.append(line);
    }
    return svg;
}
