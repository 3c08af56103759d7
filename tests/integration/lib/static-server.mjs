// A small static HTTP server for tests and the demo: GET/HEAD/OPTIONS, byte
// ranges (one range per request, as players send), CORS, the MIME types that
// HLS/DASH players check, no directory escapes, and /time (an xs:dateTime for
// dash.js's UTCTiming so it never reaches for a public time server).
//
// Library:  const srv = await startStaticServer({ mounts: { '/': dir,
//               '/out/': dir2 }, port: 0 });  srv.url, srv.requests,
//               await srv.close()
// Command:  node static-server.mjs [--host 127.0.0.1] [--port 8080]
//               --mount /=DIR --mount /out/=DIR ...
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIME = {
    '.m3u8': 'application/vnd.apple.mpegurl',
    '.mpd': 'application/dash+xml',
    '.m4s': 'video/iso.segment',
    '.mp4': 'video/mp4',
    '.m4a': 'audio/mp4',
    '.ts': 'video/mp2t',
    '.vtt': 'text/vtt; charset=utf-8',
    '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
    '.png': 'image/png',
    '.webp': 'image/webp',
    '.json': 'application/json',
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8',
    '.map': 'application/json',
    '.css': 'text/css; charset=utf-8',
    '.txt': 'text/plain; charset=utf-8',
};

function mimeOf(file) {
    return MIME[path.extname(file).toLowerCase()] || 'application/octet-stream';
}

// Longest mount prefix wins; returns an absolute path inside the mount or null.
function resolve(mounts, urlPath) {
    let best = null;
    for (const prefix of Object.keys(mounts)) {
        if (urlPath.startsWith(prefix) && (!best || prefix.length > best.length))
            best = prefix;
    }
    if (best === null)
        return null;
    const root = path.resolve(mounts[best]);
    const rel = urlPath.slice(best.length);
    const file = path.resolve(root, '.' + path.posix.normalize('/' + rel));
    if (file !== root && !file.startsWith(root + path.sep))
        return null;
    return file;
}

const escapeHtml = (t) => t.replace(/[&<>"]/g, (c) =>
    ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

// A plain HTML index of a folder (the demo's output browser).
function listing(urlPath, dir) {
    const base = urlPath.endsWith('/') ? urlPath : urlPath + '/';
    const rows = fs.readdirSync(dir, { withFileTypes: true })
        .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
        .map((e) => {
            const name = e.name + (e.isDirectory() ? '/' : '');
            return `<li><a href="${escapeHtml(base + encodeURIComponent(e.name) +
                (e.isDirectory() ? '/' : ''))}">${escapeHtml(name)}</a></li>`;
        });
    return `<!DOCTYPE html><meta charset="utf-8"><title>${escapeHtml(base)}` +
        `</title><h1>${escapeHtml(base)}</h1><ul><li><a href="../">../</a></li>` +
        `${rows.join('')}</ul>\n`;
}

// Parses "bytes=a-b", "bytes=a-", "bytes=-n" against size; null when the
// header is absent, 'invalid' when unsatisfiable.
export function parseRange(header, size) {
    if (!header)
        return null;
    const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
    if (!m || (m[1] === '' && m[2] === ''))
        return 'invalid';
    let start, end;
    if (m[1] === '') {
        const n = Number(m[2]);
        if (n === 0)
            return 'invalid';
        start = Math.max(0, size - n);
        end = size - 1;
    } else {
        start = Number(m[1]);
        end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
    if (start >= size || start > end)
        return 'invalid';
    return { start, end };
}

export function startStaticServer({ mounts, host = '127.0.0.1', port = 0,
    log = false } = {}) {
    const requests = [];
    const server = http.createServer((req, res) => {
        const url = new URL(req.url, 'http://localhost');
        const entry = { method: req.method, path: url.pathname,
            range: req.headers.range || null, status: 0 };
        requests.push(entry);
        const done = (status) => {
            entry.status = status;
            if (log)
                console.log(`${status} ${req.method} ${req.url}`);
        };
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.setHeader('Access-Control-Allow-Headers', 'Range');
        res.setHeader('Access-Control-Expose-Headers',
            'Content-Length, Content-Range');
        if (req.method === 'OPTIONS') {
            res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
            res.writeHead(204).end();
            return done(204);
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') {
            res.writeHead(405, { Allow: 'GET, HEAD, OPTIONS' }).end();
            return done(405);
        }
        if (url.pathname === '/time') {
            res.writeHead(200, { 'Content-Type': 'text/plain',
                'Cache-Control': 'no-store' });
            res.end(req.method === 'HEAD' ? undefined : new Date().toISOString());
            return done(200);
        }
        let pathname;
        try {
            pathname = decodeURIComponent(url.pathname);
        } catch {
            res.writeHead(400).end();
            return done(400);
        }
        let file = resolve(mounts, pathname);
        let st = null;
        try {
            if (file) {
                st = fs.statSync(file);
                if (st.isDirectory()) {
                    if (!fs.existsSync(path.join(file, 'index.html'))) {
                        res.writeHead(200, { 'Content-Type': MIME['.html'] });
                        res.end(req.method === 'HEAD' ? undefined
                            : listing(pathname, file));
                        return done(200);
                    }
                    file = path.join(file, 'index.html');
                    st = fs.statSync(file);
                }
            }
        } catch {
            st = null;
        }
        if (!file || !st || !st.isFile()) {
            res.writeHead(404, { 'Content-Type': 'text/plain' });
            res.end('not found\n');
            return done(404);
        }
        const size = st.size;
        const range = parseRange(req.headers.range, size);
        const headers = { 'Content-Type': mimeOf(file), 'Accept-Ranges': 'bytes',
            'Cache-Control': 'no-cache',
            'Last-Modified': st.mtime.toUTCString() };
        if (range === 'invalid') {
            res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` });
            res.end();
            return done(416);
        }
        let status = 200, start = 0, end = size - 1;
        if (range) {
            status = 206;
            ({ start, end } = range);
            headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
        }
        headers['Content-Length'] = size === 0 ? 0 : end - start + 1;
        res.writeHead(status, headers);
        done(status);
        if (req.method === 'HEAD' || size === 0)
            return res.end();
        fs.createReadStream(file, { start, end }).on('error', () =>
            res.destroy()).pipe(res);
    });
    return new Promise((ok, fail) => {
        server.once('error', fail);
        server.listen(port, host, () => {
            const addr = server.address();
            ok({
                server, requests, port: addr.port,
                url: `http://${host}:${addr.port}`,
                close: () => new Promise((c) => {
                    server.closeAllConnections?.();
                    server.close(() => c());
                }),
            });
        });
    });
}

// Command-line use (scripts/demo).
if (process.argv[1] && path.resolve(process.argv[1]) ===
    fileURLToPath(import.meta.url)) {
    const args = process.argv.slice(2);
    const mounts = {};
    let host = '127.0.0.1', port = 8080;
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        if (a === '--host')
            host = args[++i];
        else if (a === '--port')
            port = Number(args[++i]);
        else if (a === '--mount') {
            const [prefix, dir] = args[++i].split(/=(.*)/s);
            mounts[prefix] = dir;
        } else {
            console.error(`usage: static-server.mjs [--host H] [--port P] ` +
                `--mount /prefix/=DIR ...`);
            process.exit(1);
        }
    }
    if (!Object.keys(mounts).length)
        mounts['/'] = process.cwd();
    const srv = await startStaticServer({ mounts, host, port, log: true });
    console.log(`serving on ${srv.url}`);
    for (const sig of ['SIGINT', 'SIGTERM'])
        process.on(sig, () => srv.close().then(() => process.exit(0)));
}
