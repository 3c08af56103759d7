// ngx_http_cirrus_module end to end: Debian's nginx with our module on
// loopback, started from the shipped samples/nginx.conf (only ports and
// paths substituted; open_file_cache, sendfile, gzip as shipped), VOD from
// a real transcode, live from the real live writer
// (tests/tools/live_feed.c).  The auth tests add the directives the sample
// leaves commented out, as a user enables them.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { tmpDir, transcodeCached, versionDir } from './lib/cirrus.mjs';
import { LIVE_FEED_BIN, dechunk, nginxAvailable, openToWorkers,
    rawGet as rawGetUnchecked, startShippedNginx } from './lib/nginx.mjs';
import { checkExposition } from './lib/prometheus.mjs';
import { validator } from './lib/validate.mjs';

// every playlist and MPD fetched is validated strictly, per test
const V = validator('origin');
const rawGet = V.wrapRawGet(rawGetUnchecked);
afterEach(() => V.assertClean());

const SECRET = 'cf-s3cr3t';
const TOKEN_KEY = 'token-key-1';
const skip = nginxAvailable() ? false : 'nginx or the module is not built';

// A live feed process: resolves its JSON lines as they come.
function startFeed(dir, args) {
    const child = spawn(LIVE_FEED_BIN, [dir, ...args],
        { stdio: ['pipe', 'pipe', 'pipe'] });
    const feed = { child, events: [], waiters: [], stderr: '' };
    let buf = '';
    child.stdout.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            const ev = JSON.parse(line);
            feed.events.push(ev);
            for (const w of feed.waiters.splice(0))
                w(ev);
        }
    });
    child.stderr.on('data', (d) => (feed.stderr += d));
    feed.next = () => new Promise((ok) => feed.waiters.push(ok));
    feed.last = () => feed.events[feed.events.length - 1];
    feed.stop = () => new Promise((ok) => {
        if (child.exitCode !== null)
            return ok();
        child.on('exit', ok);
        child.kill('SIGTERM');
    });
    return feed;
}

describe('ngx_http_cirrus_module', { skip }, () => {
    let ng, secure, vodDir, vodRoot, liveRoot, feeds = [];

    before(async () => {
        vodDir = (await transcodeCached('h264_720p2997.mp4', 'mobile')).dir;
        openToWorkers(vodDir);
        // the sample serves assets as /vod/<asset>/: this one is "a"
        vodRoot = tmpDir('vod-');
        fs.symlinkSync(vodDir, path.join(vodRoot, 'a'));
        liveRoot = tmpDir('live-');
        ng = await startShippedNginx('sample', { vodRoot, liveRoot });
        // the auth directives the sample leaves commented out, enabled
        secure = await startShippedNginx('sample', { vodRoot, liveRoot,
            http: `cirrus_origin_secret X-Origin-Secret ${SECRET};\n` +
                `cirrus_token_key ${TOKEN_KEY};` });
    });

    after(async () => {
        for (const f of feeds)
            await f.stop();
        await ng?.stop();
        await secure?.stop();
    });

    const get = (p, h, o) => rawGet(ng.port, p, h, o);

    // --- VOD ----------------------------------------------------------

    test('VOD master, media playlist, init and segment: types and cache',
        async () => {
            const m = await get('/vod/a/master.m3u8');
            assert.equal(m.status, 200);
            assert.equal(m.headers['content-type'],
                'application/vnd.apple.mpegurl');
            assert.match(m.headers['cache-control'], /max-age=\d+/);
            assert.ok(m.headers.etag, 'ETag');
            assert.ok(m.headers['last-modified'], 'Last-Modified');
            assert.equal(m.headers['access-control-allow-origin'], '*');
            assert.deepEqual(m.body, fs.readFileSync(path.join(vodDir,
                'master.m3u8')));
            const rend = m.body.toString().split('\n')
                .find((l) => l && !l.startsWith('#'));
            const dir = path.dirname(rend);
            const pl = await get(`/vod/a/${rend}`);
            assert.equal(pl.status, 200);
            // only the top-level manifests move (to a re-upload's version);
            // a published version's are immutable like its media
            assert.match(rend, /^v\/[A-Za-z0-9_-]+\//);
            assert.equal(m.headers['cache-control'], 'public, max-age=60');
            assert.equal(pl.headers['cache-control'],
                'public, max-age=1209600, immutable');
            assert.equal(pl.headers.vary, 'Accept-Encoding');
            const seg = pl.body.toString().split('\n')
                .find((l) => l.endsWith('.m4s'));
            const s = await get(`/vod/a/${dir}/${seg}`);
            assert.equal(s.status, 200);
            assert.equal(s.headers['content-type'], 'video/iso.segment');
            assert.match(s.headers['cache-control'], /max-age=1209600/);
            assert.equal(s.headers['accept-ranges'], 'bytes');
            assert.deepEqual(s.body,
                fs.readFileSync(path.join(vodDir, dir, seg)));
            const i = await get(`/vod/a/${dir}/init.mp4`);
            assert.equal(i.status, 200);
            assert.equal(i.headers['content-type'], 'video/mp4');
            const mpd = await get('/vod/a/manifest.mpd', { 'Accept-Encoding': 'gzip' });
            assert.equal(mpd.status, 200);
            assert.equal(mpd.headers['content-type'], 'application/dash+xml');
            assert.equal(mpd.headers['content-encoding'], 'gzip');
        });

    test('VOD byte ranges: 206 and 416; HEAD; 304', async () => {
        const file = fs.readFileSync(path.join(vodDir, 'master.m3u8'));
        const r = await get('/vod/a/master.m3u8', { Range: 'bytes=0-99' });
        assert.equal(r.status, 206);
        assert.equal(r.headers['content-range'], `bytes 0-99/${file.length}`);
        assert.deepEqual(r.body, file.subarray(0, 100));
        const bad = await get('/vod/a/master.m3u8',
            { Range: `bytes=${file.length + 10}-` });
        assert.equal(bad.status, 416);
        // an error, cached as one: never like the object (immutable media)
        assert.equal(bad.headers['cache-control'], 'public, max-age=1');
        const vdir = versionDir(vodDir);
        const seg = fs.readdirSync(vdir, { withFileTypes: true })
            .filter((d) => d.isDirectory() && fs.existsSync(
                path.join(vdir, d.name, 'seg-1.m4s')))[0].name;
        const segSize = fs.statSync(path.join(vdir, seg, 'seg-1.m4s')).size;
        const rel = path.relative(vodDir, vdir);
        const bad2 = await get(`/vod/a/${rel}/${seg}/seg-1.m4s`,
            { Range: `bytes=${segSize}-` });
        assert.equal(bad2.status, 416);
        assert.equal(bad2.headers['cache-control'], 'public, max-age=1');
        assert.doesNotMatch(bad2.headers['cache-control'], /immutable/);
        const h = await get('/vod/a/master.m3u8', {}, { method: 'HEAD' });
        assert.equal(h.status, 200);
        assert.equal(Number(h.headers['content-length']), file.length);
        assert.equal(h.body.length, 0);
        const full = await get('/vod/a/master.m3u8');
        const nm = await get('/vod/a/master.m3u8',
            { 'If-None-Match': full.headers.etag });
        assert.equal(nm.status, 304);
    });

    test('VOD gzip of playlists when asked, with Vary', async () => {
        const file = fs.readFileSync(path.join(vodDir, 'master.m3u8'));
        const r = await get('/vod/a/master.m3u8', { 'Accept-Encoding': 'gzip' });
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-encoding'], 'gzip');
        // a shared cache must not hand the gzipped body to anyone else
        assert.equal(r.headers.vary, 'Accept-Encoding');
        assert.equal((await get('/vod/a/master.m3u8')).headers.vary,
            'Accept-Encoding');
        // Connection: close, so the chunked body ends the stream
        const body = r.headers['transfer-encoding'] === 'chunked'
            ? dechunk(r.body) : r.body;
        assert.deepEqual(zlib.gunzipSync(body), file);
    });

    test('CORS preflight and method checks', async () => {
        const o = await get('/vod/a/master.m3u8', {
            Origin: 'http://player.example',
            'Access-Control-Request-Method': 'GET',
            'Access-Control-Request-Headers': 'range',
        }, { method: 'OPTIONS' });
        assert.equal(o.status, 204);
        assert.equal(o.headers['access-control-allow-origin'], '*');
        assert.match(o.headers['access-control-allow-methods'], /GET/);
        assert.match(o.headers['access-control-allow-headers'], /Range/);
        const g = await get('/vod/a/master.m3u8');
        assert.match(g.headers['access-control-expose-headers'],
            /Content-Range/);
        assert.match(g.headers['access-control-expose-headers'],
            /Content-Length/);
        const p = await get('/vod/a/master.m3u8', {}, { method: 'DELETE' });
        assert.equal(p.status, 405);
    });

    test('path traversal never leaves the root', async () => {
        const attempts = [
            '/vod/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
            '/vod/x/..%2f..%2f..%2f..%2fetc/passwd',
            '/vod/..%5c..%5cetc%5cpasswd',
            '/vod/%2E%2E%2F%2E%2E%2Fetc/passwd',
            '/vod/master.m3u8%00.jpg',
            '/vod//etc/passwd',
            '/vod/./master.m3u8',
            '/vod/%252e%252e/etc/passwd',
            '/live/%2e%2e/%2e%2e/etc/passwd',
            '/live/s/..%2f..%2f..%2fetc/index.m3u8',
            // one object, one name: no escaped separators
            '/vod/a%2fmaster.m3u8',
            '/vod/a%2Fmaster.m3u8',
        ];
        for (const a of attempts) {
            const r = await get(a);
            assert.ok([400, 404].includes(r.status), `${a}: ${r.status}`);
            assert.ok(!r.body.toString().includes('root:'), a);
        }
    });

    const sign = (p, e) => crypto.createHmac('sha256', TOKEN_KEY)
        .update(`${e}:${p}`).digest('hex');
    const sget = (p, h, o) => rawGet(secure.port, p, h, o);
    // a URI as a player resolves it against the manifest's URL
    const resolve = (base, ref) => {
        const u = new URL(ref, `http://origin${base}`);
        return u.pathname + u.search;
    };

    test('origin secret header or signed URL, else 403', async () => {
        const M = '/vod/a/master.m3u8';
        assert.equal((await sget(M)).status, 403);
        const bad = await sget(M, { 'X-Origin-Secret': 'wrong' });
        assert.equal(bad.status, 403);
        assert.match(bad.headers['cache-control'], /max-age/);
        const ok = await sget(M, { 'x-origin-secret': SECRET });
        assert.equal(ok.status, 200);
        const expires = Math.floor(Date.now() / 1000) + 60;
        const signed = `${M}?token=${sign(M, expires)}&expires=${expires}`;
        assert.equal((await sget(signed)).status, 200);
        const other = `/vod/a/manifest.mpd?token=${sign(M, expires)}` +
            `&expires=${expires}`;
        assert.equal((await sget(other)).status, 403);
        const old = expires - 3600;
        const expired = `${M}?token=${sign(M, old)}&expires=${old}`;
        assert.equal((await sget(expired)).status, 403);
        // the time is public: a signed MPD's player reads it unsigned
        assert.equal((await sget('/time')).status, 200);
    });

    test('a signed VOD manifest carries its token onto every URI', async () => {
        const expires = Math.floor(Date.now() / 1000) + 60;
        const q = `token=${sign('/vod/a/', expires)}&expires=${expires}` +
            '&scope=/vod/a/';
        const m = await sget(`/vod/a/master.m3u8?${q}`);
        assert.equal(m.status, 200);
        const uris = m.body.toString().split('\n')
            .filter((l) => l && !l.startsWith('#'));
        assert.ok(uris.length > 0);
        for (const u of uris) {
            assert.ok(u.endsWith(`?${q}`), u);
            const plUrl = resolve('/vod/a/master.m3u8', u);
            const pl = await sget(plUrl);
            assert.equal(pl.status, 200, u);
            for (const l of pl.body.toString().split('\n')) {
                const ref = l.startsWith('#')
                    ? (/URI="([^"]+)"/.exec(l) || [])[1] : l;
                if (!ref)
                    continue;
                assert.ok(ref.endsWith(`?${q}`), ref);
                const o = await sget(resolve(plUrl, ref), {},
                    { method: 'HEAD' });
                assert.equal(o.status, 200, ref);
            }
        }
        const mpd = await sget(`/vod/a/manifest.mpd?${q}`);
        assert.equal(mpd.status, 200);
        assert.match(mpd.body.toString(),
            new RegExp(`media="[^"]+\\?${q.replace(/&/g, '&amp;')}"`));
        // the listed objects without the token: 403
        assert.equal((await sget(`/vod/a/${uris[0].split('?')[0]}`)).status,
            403);
        // a token without a scope covers its own path only: nothing added
        const one = await sget(`/vod/a/master.m3u8?token=${sign(
            '/vod/a/master.m3u8', expires)}&expires=${expires}`);
        assert.equal(one.status, 200);
        assert.doesNotMatch(one.body.toString(), /token=/);
    });

    test('/time serves the ISO UTC time', async () => {
        const r = await get('/time');
        assert.equal(r.status, 200);
        const t = Date.parse(r.body.toString().trim());
        assert.match(r.body.toString(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
        assert.ok(Math.abs(t - Date.now()) < 2000);
    });

    // --- live ---------------------------------------------------------

    describe('live', () => {
        let runFeed, stillFeed;

        before(async () => {
            // a running stream with two renditions, ten segments written
            // at once so delta updates have something to skip
            const args = ['--part-ms', '200', '--parts', '5', '--window', '20',
                '--prefill', '10'];
            runFeed = startFeed(path.join(liveRoot, 'run', '720p'), args);
            feeds.push(runFeed);
            feeds.push(startFeed(path.join(liveRoot, 'run', '360p'), args));
            // a stream that moves only when told (stdin)
            stillFeed = startFeed(path.join(liveRoot, 'still', '720p'),
                ['--part-ms', '200', '--parts', '5', '--step',
                    '--prefill', '3']);
            feeds.push(stillFeed);
            await runFeed.next();
            stillFeed.child.stdin.write('go\n');
            await stillFeed.next();
        });

        test('media playlist, master and MPD render from the index',
            async () => {
                const r = await get('/live/run/720p/index.m3u8');
                assert.equal(r.status, 200);
                assert.equal(r.headers['content-type'],
                    'application/vnd.apple.mpegurl');
                assert.match(r.headers['cache-control'], /max-age=/);
                const text = r.body.toString();
                assert.match(text, /#EXT-X-PART:/);
                assert.match(text, /#EXT-X-PRELOAD-HINT:TYPE=PART/);
                assert.match(text,
                    /#EXT-X-RENDITION-REPORT:URI="..\/360p\/index.m3u8"/);
                const m = await get('/live/run/master.m3u8');
                assert.equal(m.status, 200);
                assert.match(m.body.toString(), /720p\/index.m3u8/);
                assert.match(m.body.toString(), /360p\/index.m3u8/);
                const d = await get('/live/run/manifest.mpd');
                assert.equal(d.status, 200);
                assert.equal(d.headers['content-type'],
                    'application/dash+xml');
                assert.match(d.body.toString(), /UTCTiming/);
                assert.equal((await get('/live/nope/720p/index.m3u8')).status,
                    404);
                assert.equal((await get('/live/run/720p/part-999999.0.m4s'))
                    .status, 404);
            });

        test('a blocked _HLS_msn/_HLS_part request wakes within ms of the ' +
            'part', async () => {
            const lat = [];
            for (let i = 0; i < 5; i++) {
                const last = await runFeed.next();
                // the part after the next one: it certainly blocks
                const want = last.part + 2 < 5
                    ? { msn: last.msn, part: last.part + 2 }
                    : { msn: last.msn + 1, part: last.part + 2 - 5 };
                const arrived = new Promise((ok) => {
                    const h = (ev) => (ev.msn === want.msn &&
                        ev.part === want.part ? ok(ev)
                        : runFeed.waiters.push(h));
                    runFeed.waiters.push(h);
                });
                const r = await get('/live/run/720p/index.m3u8?_HLS_msn=' +
                    `${want.msn}&_HLS_part=${want.part}`);
                const doneUs = (performance.timeOrigin + performance.now()) *
                    1000;
                const ev = await arrived;
                assert.equal(r.status, 200);
                assert.ok(r.body.toString().includes(
                    `part-${want.msn}.${want.part}.m4s`));
                assert.match(r.headers['cache-control'], /max-age=/);
                lat.push((doneUs - ev.t0_us) / 1000);
            }
            lat.sort((a, b) => a - b);
            console.log(`# wake latency (before the part's write -> response read), ms: ` +
                lat.map((x) => x.toFixed(2)).join(' '));
            assert.ok(lat[2] < 50, `median wake latency ${lat[2]} ms`);
        });

        test('a preload-hinted part request waits and gets the part',
            async () => {
                await runFeed.next();
                const pl = (await get('/live/run/720p/index.m3u8')).body
                    .toString();
                const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/
                    .exec(pl)[1];
                const [, msn, part] = /part-(\d+)\.(\d+)\.m4s/.exec(hint);
                const r = await get(`/live/run/720p/${hint}`);
                assert.equal(r.status, 200);
                assert.equal(r.headers['content-type'], 'video/iso.segment');
                assert.ok(r.body.toString('latin1')
                    .startsWith(`part ${msn}.${part} `));
            });

        test('delivery directive errors: 400 at once', async () => {
            const last = stillFeed.last();
            const a = await get('/live/still/720p/index.m3u8?_HLS_part=1');
            assert.equal(a.status, 400);
            const b = await get('/live/still/720p/index.m3u8?_HLS_msn=' +
                `${last.msn + 10}`);
            assert.equal(b.status, 400);
            assert.ok(b.ms < 200, `${b.ms} ms`);
            const c = await get('/live/still/720p/index.m3u8?_HLS_msn=abc');
            assert.equal(c.status, 400);
        });

        test('a request blocked past the limit gets 503', async () => {
            const last = stillFeed.last();
            const r = await get('/live/still/720p/index.m3u8?_HLS_msn=' +
                `${last.msn + 1}&_HLS_part=0`);
            assert.equal(r.status, 503);
            // 3 target durations (1 s here), under the shipped 10 s cap
            assert.ok(r.ms > 2900 && r.ms < 5000, `${r.ms} ms`);
            assert.match(r.headers['cache-control'], /max-age=/);
        });

        test('the stalled stream resumes a blocked request; a client that ' +
            'leaves is dropped', async () => {
            const last = stillFeed.last();
            // one client leaves while blocked
            const sock = net.connect(ng.port, '127.0.0.1');
            sock.write(`GET /live/still/720p/index.m3u8?_HLS_msn=${
                last.msn + 1}&_HLS_part=0 HTTP/1.1\r\nHost: x\r\n\r\n`);
            const pending = get('/live/still/720p/index.m3u8?_HLS_msn=' +
                `${last.msn + 1}&_HLS_part=0`);
            await new Promise((ok) => setTimeout(ok, 100));
            let m = (await get('/metrics')).body.toString();
            assert.match(m, /cirrus_origin_blocked_requests 2/);
            sock.destroy();
            await new Promise((ok) => setTimeout(ok, 100));
            m = (await get('/metrics')).body.toString();
            assert.match(m, /cirrus_origin_blocked_requests 1/);
            // advance until part 0 of the next segment exists
            for (let p = last.part + 1; p <= 5; p++)
                stillFeed.child.stdin.write('go\n');
            const r = await pending;
            assert.equal(r.status, 200);
            assert.ok(r.body.toString().includes(`part-${last.msn + 1}.0.m4s`));
        });

        test('LL-DASH: the open segment streams chunked as parts land',
            async () => {
                // move the still stream to a segment open with some parts
                while (stillFeed.last().part >= 3) {
                    const next = stillFeed.next();
                    stillFeed.child.stdin.write('go\n');
                    await next;
                }
                const { msn, part } = stillFeed.last();
                const sock = net.connect(ng.port, '127.0.0.1');
                const got = [];
                const t0 = performance.now();
                sock.on('data', (d) => got.push({ d, t: performance.now() - t0 }));
                const closed = new Promise((ok) => sock.on('close', ok));
                sock.write(`GET /live/still/720p/seg-${msn}.m4s HTTP/1.1\r\n` +
                    'Host: x\r\nConnection: close\r\n\r\n');
                await new Promise((ok) => setTimeout(ok, 150));
                // headers and the parts so far arrive before the segment ends
                const early = Buffer.concat(got.map((g) => g.d)).toString('latin1');
                assert.match(early, /^HTTP\/1\.1 200/);
                assert.match(early, /transfer-encoding: chunked/i);
                assert.match(early, /content-type: video\/iso\.segment/i);
                assert.ok(got.length > 0, 'the first parts came at once');
                // the rest of the segment (parts up to 4), then part 0 of the
                // next one, which closes this segment
                for (let p = part + 1; p <= 5; p++)
                    stillFeed.child.stdin.write('go\n');
                await closed;
                const all = Buffer.concat(got.map((g) => g.d));
                const body = dechunk(all.subarray(all.indexOf('\r\n\r\n') + 4));
                assert.ok(body, 'the chunked answer ends with its last chunk');
                const file = fs.readFileSync(path.join(liveRoot, 'still', '720p',
                    `seg-${msn}.m4s`));
                assert.equal(body.length, file.length);
                assert.ok(body.equals(file), 'the streamed bytes are the segment');
            });

        // Blocks 4 requests per variant (full, delta, gzip or not; two
        // parts: half of them stay held across the first) on a stepped
        // stream of `port`, wakes them and compares each answer with a
        // fresh GET of the same URL: status, headers but Date, body bytes.
        async function wokenEqualsFresh(port, stream, { moduleGzip }) {
            const at = (u, h) => rawGet(port, u, h);
            // long enough for delta updates; the sibling rendition stands
            // still (its report is the same for woken and fresh answers)
            const args = ['--part-ms', '200', '--parts', '5', '--window', '20',
                '--step', '--prefill', '10'];
            const main = startFeed(path.join(liveRoot, stream, '720p'), args);
            const side = startFeed(path.join(liveRoot, stream, '360p'), args);
            feeds.push(main, side);
            const step = async () => {
                const ev = main.next();
                main.child.stdin.write('go\n');
                return ev;
            };
            const { msn, part } = await step();
            const after = (m, p) => (p + 1 < 5 ? [m, p + 1] : [m + 1, 0]);
            const [m1, p1] = after(msn, part);
            const [m2, p2] = after(m1, p1);
            const variants = [];
            for (const [m, p] of [[m1, p1], [m2, p2]])
                for (const skipQ of ['', '&_HLS_skip=YES'])
                    for (const h of [{}, { 'Accept-Encoding': 'gzip' }])
                        variants.push({ url: `/live/${stream}/720p/index.m3u8?` +
                            `_HLS_msn=${m}&_HLS_part=${p}${skipQ}`, h, m, p });
            const woken = variants.map((v) => Array.from({ length: 4 },
                () => at(v.url, v.h)));
            const blockedNow = async () => Number(
                /cirrus_origin_blocked_requests (\d+)/
                    .exec((await at('/metrics')).body.toString())[1]);
            for (let i = 0; i < 50 && await blockedNow() < woken.length * 4; i++)
                await new Promise((ok) => setTimeout(ok, 20));
            assert.equal(await blockedNow(), variants.length * 4);
            const same = async (v, answers) => {
                const fresh = await at(v.url, v.h);
                assert.equal(fresh.status, 200, v.url);
                assert.equal(fresh.headers.vary, 'Accept-Encoding', v.url);
                const { date: _d, ...freshHeaders } = fresh.headers;
                for (const w of answers) {
                    assert.equal(w.status, 200, v.url);
                    const { date: _w, ...wokenHeaders } = w.headers;
                    assert.deepEqual(wokenHeaders, freshHeaders, v.url);
                    assert.ok(w.body.equals(fresh.body),
                        `${v.url} ${JSON.stringify(v.h)}: the woken body differs`);
                }
                let text = fresh.headers['transfer-encoding'] === 'chunked'
                    ? dechunk(fresh.body) : fresh.body;
                if (v.h['Accept-Encoding']) {
                    assert.equal(fresh.headers['content-encoding'], 'gzip');
                    // cirrus_gzip: compressed once, sent with its length;
                    // nginx's gzip compresses each answer as it streams
                    assert.equal(fresh.headers['content-length'] !== undefined,
                        moduleGzip, JSON.stringify(fresh.headers));
                    text = zlib.gunzipSync(text);
                }
                text = text.toString();
                assert.ok(text.includes(`part-${v.m}.${v.p}.m4s`), text);
                assert.equal(/#EXT-X-SKIP:/.test(text), v.url.includes('skip'),
                    text);
            };
            // the first part: half the waiters answered, the rest hold on
            await step();
            const first = variants.filter((v) => v.m === m1 && v.p === p1);
            for (const v of first)
                await same(v, await Promise.all(woken[variants.indexOf(v)]));
            assert.equal(await blockedNow(),
                (variants.length - first.length) * 4);
            await step();
            for (const v of variants.filter((x) => !first.includes(x)))
                await same(v, await Promise.all(woken[variants.indexOf(v)]));
        }

        test('woken answers are byte for byte what a fresh request gets ' +
            '(full, delta, gzip by the module: cirrus_gzip as shipped)', async () => {
            await wokenEqualsFresh(ng.port, 'twin', { moduleGzip: true });
        });

        test('cirrus_gzip off: nginx gzips each answer, woken answers and ' +
            'fresh ones byte for byte the same', async () => {
            const gz = await startShippedNginx('sample', { vodRoot, liveRoot,
                live: 'cirrus_gzip off;' });
            try {
                await wokenEqualsFresh(gz.port, 'twingz', { moduleGzip: false });
                assert.doesNotMatch(gz.errorLog(), /\[(alert|crit|emerg)\]/);
            } finally {
                await gz.stop();
            }
        });

        test('LL-DASH: several clients streaming the open segment, woken ' +
            'part by part, get what a fresh GET gets once it is whole',
        async () => {
            const feed = startFeed(path.join(liveRoot, 'dashwake', '720p'),
                ['--part-ms', '200', '--parts', '5', '--window', '20',
                    '--step', '--prefill', '3']);
            feeds.push(feed);
            const step = () => {
                const ev = feed.next();
                feed.child.stdin.write('go\n');
                return ev;
            };
            const { msn, part } = await step(); // the open segment, 1 part
            const url = `/live/dashwake/720p/seg-${msn}.m4s`;
            const streams = Array.from({ length: 4 }, () => {
                const sock = net.connect(ng.port, '127.0.0.1');
                const got = [];
                sock.on('data', (d) => got.push(d));
                sock.write(`GET ${url} HTTP/1.1\r\nHost: x\r\n` +
                    'Connection: close\r\n\r\n');
                return new Promise((ok) => sock.on('close',
                    () => ok(Buffer.concat(got))));
            });
            await new Promise((ok) => setTimeout(ok, 150));
            // the rest of the segment, a part at a time, then part 0 of
            // the next one, which closes it
            for (let p = part + 1; p <= 5; p++) {
                await step();
                await new Promise((ok) => setTimeout(ok, 20));
            }
            const fresh = await get(url);
            assert.equal(fresh.status, 200);
            assert.equal(fresh.body.length, fs.statSync(path.join(liveRoot,
                'dashwake', '720p', `seg-${msn}.m4s`)).size);
            for (const all of await Promise.all(streams)) {
                const head = all.subarray(0, all.indexOf('\r\n\r\n'))
                    .toString('latin1');
                assert.match(head, /^HTTP\/1\.1 200/);
                assert.match(head, /transfer-encoding: chunked/i);
                const body = dechunk(all.subarray(all.indexOf('\r\n\r\n') + 4));
                assert.ok(body, 'the chunked answer ends with its last chunk');
                assert.ok(body.equals(fresh.body),
                    'the streamed bytes are what a fresh GET gets');
            }
        });

        test('delta update with _HLS_skip=YES holds EXT-X-SKIP', async () => {
            const full = (await get('/live/run/720p/index.m3u8')).body
                .toString();
            const r = await get('/live/run/720p/index.m3u8?_HLS_skip=YES');
            assert.equal(r.status, 200);
            const text = r.body.toString();
            assert.match(text, /#EXT-X-SKIP:SKIPPED-SEGMENTS=\d+/);
            assert.ok(text.length < full.length);
        });

        test('live playlists say Vary; an escaped separator is no second name',
            async () => {
                const r = await get('/live/run/720p/index.m3u8',
                    { 'Accept-Encoding': 'gzip' });
                assert.equal(r.status, 200);
                assert.equal(r.headers['content-encoding'], 'gzip');
                assert.equal(r.headers.vary, 'Accept-Encoding');
                const mpd = await get('/live/run/manifest.mpd');
                assert.equal(mpd.headers.vary, 'Accept-Encoding');
                const part = await get('/live/run/720p/init-1.mp4');
                assert.equal(part.status, 200);
                assert.equal(part.headers.vary, undefined, 'media: no Vary');
                for (const u of ['/live/run%2f720p%2findex.m3u8',
                    '/live/run/720p%2Findex.m3u8', '/live/run%2Fmaster.m3u8']) {
                    const e = await get(u);
                    assert.ok([400, 404].includes(e.status), `${u}: ${e.status}`);
                    assert.equal(e.headers['cache-control'], 'public, max-age=1');
                }
            });

        test('a range past a live part: 416, cached as an error', async () => {
            const pl = (await get('/live/run/720p/index.m3u8')).body.toString();
            const u = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(pl)[1];
            const whole = await get(`/live/run/720p/${u}`);
            assert.equal(whole.status, 200);
            assert.match(whole.headers['cache-control'], /immutable/);
            const r = await get(`/live/run/720p/${u}`,
                { Range: `bytes=${whole.body.length}-` });
            assert.equal(r.status, 416);
            assert.equal(r.headers['cache-control'], 'public, max-age=1');
        });

        test('an ended playlist is cached half a target duration, not an hour',
            async () => {
                // TD 4 s: 4 parts of 1 s, two whole segments, then the end
                const f = startFeed(path.join(liveRoot, 'ended', 'video'),
                    ['--part-ms', '1000', '--parts', '4', '--step',
                        '--prefill', '2']);
                feeds.push(f);
                f.child.stdin.write('end\n');
                assert.deepEqual(await f.next(), { ended: true });
                const r = await get('/live/ended/video/index.m3u8');
                assert.equal(r.status, 200);
                assert.match(r.body.toString(), /#EXT-X-ENDLIST/);
                assert.match(r.body.toString(), /#EXT-X-TARGETDURATION:4\n/);
                assert.equal(r.headers['cache-control'], 'public, max-age=2');
                const m = await get('/live/ended/master.m3u8');
                assert.equal(m.headers['cache-control'], 'public, max-age=2');
            });

        test('a signed stream: the token reaches every URI the manifests list',
            async () => {
                const expires = Math.floor(Date.now() / 1000) + 60;
                const q = `token=${sign('/live/run/', expires)}` +
                    `&expires=${expires}&scope=/live/run/`;
                assert.equal((await sget('/live/run/master.m3u8')).status, 403);
                const m = await sget(`/live/run/master.m3u8?${q}`);
                assert.equal(m.status, 200);
                const variants = m.body.toString().split('\n')
                    .filter((l) => l && !l.startsWith('#'));
                assert.deepEqual(variants.sort(), [`360p/index.m3u8?${q}`,
                    `720p/index.m3u8?${q}`]);
                // a blocking request: the token stays, the directives do not
                const last = runFeed.last();
                const pl = await sget(`/live/run/720p/index.m3u8?_HLS_msn=${
                    last.msn}&${q}`);
                assert.equal(pl.status, 200);
                const text = pl.body.toString();
                assert.doesNotMatch(text, /_HLS_msn/);
                const refs = [];
                for (const l of text.split('\n')) {
                    if (l && !l.startsWith('#'))
                        refs.push(l);
                    for (const a of l.matchAll(/URI="([^"]+)"/g))
                        refs.push(a[1]);
                }
                for (const kind of [/^init-/, /^part-/, /^seg-/,
                    /^\.\.\/360p\//])
                    assert.ok(refs.some((x) => kind.test(x)), `${kind} listed`);
                const hint = /#EXT-X-PRELOAD-HINT:[^\n]*URI="([^"]+)"/
                    .exec(text)[1];
                for (const ref of refs) {
                    assert.ok(ref.endsWith(`?${q}`), ref);
                    if (ref === hint)
                        continue; // not written yet: blocks
                    const o = await sget(resolve('/live/run/720p/index.m3u8',
                        ref), {}, { method: 'HEAD' });
                    assert.equal(o.status, 200, ref);
                }
                // the hinted part, signed, waits and arrives
                const h = await sget(resolve('/live/run/720p/index.m3u8',
                    hint));
                assert.equal(h.status, 200, hint);
                const mpd = await sget(`/live/run/manifest.mpd?${q}`);
                assert.equal(mpd.status, 200);
                const amp = q.replace(/&/g, '&amp;');
                const body = mpd.body.toString();
                assert.ok(body.includes(`media="$RepresentationID$/seg-$Number$.m4s?${
                    amp}"`), body);
                assert.ok(/initialization="\$RepresentationID\$\/init-1\.mp4\?/
                    .test(body), body);
                // a listed segment, as a DASH player builds its URL
                const m2 = /startNumber="(\d+)"/.exec(body);
                const media = `720p/seg-${m2[1]}.m4s?${q}`;
                assert.equal((await sget(resolve('/live/run/manifest.mpd',
                    media), {}, { method: 'HEAD' })).status, 200);
            });

        test('metrics count requests by kind and status', async () => {
            const m = (await get('/metrics')).body.toString();
            // HELP/TYPE, the cirrus_origin_ prefix, integer counters
            const fam = checkExposition(m, 'cirrus_origin_');
            assert.deepEqual([...fam.keys()].sort(), [
                'cirrus_origin_block_timeouts_total',
                'cirrus_origin_blocked_requests',
                'cirrus_origin_requests_total',
                'cirrus_origin_wake_latency_seconds']);
            assert.match(m, /cirrus_origin_requests_total\{kind="playlist",status="200"\} \d+/);
            assert.match(m, /cirrus_origin_requests_total\{kind="playlist",status="400"\} \d+/);
            assert.match(m, /cirrus_origin_requests_total\{kind="playlist",status="503"\} \d+/);
            assert.match(m, /cirrus_origin_requests_total\{kind="vod",status="206"\} \d+/);
            const count = Number(/cirrus_origin_wake_latency_seconds_count (\d+)/
                .exec(m)[1]);
            assert.ok(count >= 5);
            assert.doesNotMatch(ng.errorLog(), /\[(alert|crit|emerg)\]/);
        });

        test('a reload leaves no socket behind (the inotify connection)',
            async () => {
                // a blocked request in every worker makes it watch
                const last = runFeed.last();
                await Promise.all([1, 2, 3, 4].map(() => get(
                    `/live/run/720p/index.m3u8?_HLS_msn=${last.msn + 1}`)));
                const old = ng.workerPids();
                assert.ok(old.length >= 1);
                ng.reload();
                const deadline = Date.now() + 15000;
                while (old.some((p) => fs.existsSync(`/proc/${p}`)) &&
                    Date.now() < deadline)
                    await new Promise((ok) => setTimeout(ok, 100));
                assert.ok(!old.some((p) => fs.existsSync(`/proc/${p}`)),
                    'the old workers left');
                const log = ng.errorLog();
                assert.match(log, /reconfiguring/);
                assert.doesNotMatch(log, /open socket #\d+ left/);
                assert.doesNotMatch(log, /aborting/);
                // the new workers serve and wait as before
                const r = await get('/live/run/720p/index.m3u8?_HLS_msn=' +
                    `${runFeed.last().msn + 1}`);
                assert.equal(r.status, 200);
            });
    });
});

