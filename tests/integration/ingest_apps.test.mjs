// RTMP applications: one cirrus-ingest, configured by a shared JSON file
// (samples/cirrus.json's shape) with three applications: "live" (the
// global settings: 1 s segments, a key file), "events" (its own key file,
// 3 s segments, 0.5 s parts, a key whose key-file line carries its own
// push destination) and "cb" (no key file, its own on_publish_url and
// push list).  The
// ffmpeg CLI publishes over RTMP and SRT; each stream lands in its own
// application's store (events beside live, as the ingest derives it) and
// is read through nginx with samples/nginx.conf as shipped (ports and
// paths substituted: /events/ is its second location).  A key of one
// application is refused in another, an unknown application is refused at
// the RTMP connect and in the SRT handshake, counted in /metrics; the
// application is in /streams, the metrics' labels, the webhooks, the
// callback's body and the log lines.  Bad applications in the config stop
// cirrus-ingest before it starts, naming the option.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import { freePort, nginxAvailable, rawGet as rawGetUnchecked,
    startShippedNginx } from './lib/nginx.mjs';
import { checkExposition, sampleValue } from './lib/prometheus.mjs';
import { validator } from './lib/validate.mjs';

const INGEST_BIN = process.env.CIRRUS_INGEST ||
    path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest');
const missing = !fs.existsSync(INGEST_BIN) ? `${INGEST_BIN} not built`
    : !C.hasTool('ffmpeg') ? 'ffmpeg missing' : null;
const V = validator('ingest_apps');
const rawGet = V.wrapRawGet(rawGetUnchecked);
afterEach(() => V.assertClean());
let ingest, nginx, hooks, dir, rtmpPort, srtPort, statusPort, log = '';
const callbacks = []; // on_publish bodies (URLSearchParams)
const webhooks = []; // webhook bodies (JSON)

const waitFor = (what, fn, timeoutMs = 20000) => C.waitFor(what, fn,
    { timeoutMs, every: 100, detail: () => log.slice(-3000) });
const root = (app) => path.join(dir, app); // live_root: dir/live, the others beside it

// ffmpeg publishing 1 s GOPs to url (rtmp:// as FLV, srt:// as MPEG-TS)
function publish(url, { seconds = 6 } = {}) {
    const args = ['-hide_banner', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine',
        '-t', String(seconds), '-c:v', 'libx264', '-tune', 'zerolatency', '-g', '30',
        '-c:a', 'aac', '-f', url.startsWith('srt:') ? 'mpegts' : 'flv', url];
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderrText = '';
    child.stderr.on('data', (d) => (child.stderrText += d));
    child.exited = new Promise((ok) => child.on('exit', (code, sig) => ok({ code, sig })));
    return child;
}
const rtmp = (app, key) => `rtmp://127.0.0.1:${rtmpPort}/${app}/${key}`;
const srt = (sid) => `srt://127.0.0.1:${srtPort}?streamid=${sid}`;

function segments(app, key) {
    const d = path.join(root(app), key, 'video');
    return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => /^seg-\d+\.m4s$/.test(f)) : [];
}

async function streams() {
    const r = await rawGetUnchecked(statusPort, '/streams');
    assert.equal(r.status, 200);
    return JSON.parse(r.body.toString());
}

async function metrics() {
    const r = await rawGetUnchecked(statusPort, '/metrics');
    return checkExposition(r.body.toString(), 'cirrus_ingest_');
}

const unknownAppRefusals = async () => Number(sampleValue(await metrics(),
    'cirrus_ingest_publish_refused_total', { reason: 'unknown_app' }));

// A media playlist's TARGETDURATION and PART-TARGET, through nginx.
async function targets(app, key) {
    const r = await rawGet(nginx.port, `/${app}/${key}/video/index.m3u8`);
    assert.equal(r.status, 200, `/${app}/${key}/video/index.m3u8`);
    const text = r.body.toString();
    return { target: Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1]),
        part: Number(/PART-TARGET=([\d.]+)/.exec(text)?.[1]), text };
}

before(async () => {
    if (missing)
        return;
    dir = C.tmpDir('ingest-apps-');
    fs.mkdirSync(root('live'));
    rtmpPort = await freePort();
    srtPort = await freePort();
    statusPort = await freePort();
    hooks = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
            if (req.url === '/hooks') {
                webhooks.push(JSON.parse(body));
                res.writeHead(204).end();
                return;
            }
            const q = new URLSearchParams(body);
            callbacks.push(q);
            res.writeHead(q.get('name') === 'good' ? 200 : 403).end();
        });
    });
    await new Promise((ok) => hooks.listen(0, '127.0.0.1', ok));
    const hooksUrl = `http://127.0.0.1:${hooks.address().port}`;
    fs.writeFileSync(path.join(dir, 'live.keys'), 'cam1\nev2\ngood\n');
    // ev2's line: its own push destination (its key appended), into live
    fs.writeFileSync(path.join(dir, 'events.keys'),
        `ev1\nev2 rtmp://127.0.0.1:${rtmpPort}/live/ # restreamed\nev3\n`);
    // events' own live preset: one small rung below the 180p source
    const presets = path.join(dir, 'presets');
    fs.mkdirSync(presets);
    const small = JSON.parse(fs.readFileSync(path.join(C.PRESETS_DIR, 'live.json'), 'utf8'));
    small.name = 'tiny';
    small.video.rungs = [{ name: '90p', height: 90, bitrate_kbps: 100, profile: 'main' }];
    fs.writeFileSync(path.join(presets, 'tiny.json'), JSON.stringify(small));
    const config = path.join(dir, 'cirrus.json');
    fs.writeFileSync(config, JSON.stringify({
        ingest: {
            port: rtmpPort, srt_port: srtPort, status_port: statusPort,
            live_root: root('live'), key_file: path.join(dir, 'live.keys'),
            segment_seconds: 1, window: 6, grace_seconds: 0,
            webhook_url: `${hooksUrl}/hooks`, presets_dir: presets,
            public_base_url: 'https://cdn.example/live',
            applications: {
                live: {},
                events: { key_file: path.join(dir, 'events.keys'), segment_seconds: 3,
                    part_seconds: 0.5, window: 4, preset: 'tiny' },
                // every cb stream restreamed into live, its key appended
                cb: { key_file: '', on_publish_url: `${hooksUrl}/auth`,
                    push: `rtmp://127.0.0.1:${rtmpPort}/live/` },
            },
        },
        worker: { workers: 1 }, // another daemon's section, left alone
    }, null, 2));
    ingest = spawn(INGEST_BIN, ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    ingest.stderr.on('data', (d) => (log += d));
    await waitFor('cirrus-ingest to listen', () => /listening rtmp=/.test(log), 5000);
    if (nginxAvailable())
        nginx = await startShippedNginx('sample', { liveRoot: root('live') });
});

after(async () => {
    if (dir)
        fs.writeFileSync(path.join(dir, 'ingest.log'), log); // for a failure's post-mortem
    ingest?.kill('SIGTERM');
    hooks?.close();
    await nginx?.stop();
});

describe('cirrus-ingest applications', { skip: missing || false }, () => {
    test('two applications, each stream in its own store with its own settings', async () => {
        assert.match(log, /application live: live_root=\S+\/live preset=none/);
        assert.match(log, /application events: live_root=\S+\/events preset=tiny/);
        const a = publish(rtmp('live', 'cam1'), { seconds: 9 });
        const b = publish(rtmp('events', 'ev1'), { seconds: 9 });
        await waitFor('segments in both stores', () =>
            segments('live', 'cam1').length >= 3 && segments('events', 'ev1').length >= 2, 25000);
        assert.equal(fs.existsSync(path.join(root('events'), 'cam1')), false);
        assert.equal(fs.existsSync(path.join(root('live'), 'ev1')), false);

        const st = await streams();
        const ev = st.find((s) => s.app === 'events' && s.key === 'ev1');
        const cam = st.find((s) => s.app === 'live' && s.key === 'cam1');
        assert.ok(ev && cam, JSON.stringify(st));
        assert.equal(ev.publishing, true);
        // viewer URLs: events' base URL is live's with its own name
        assert.equal(ev.urls?.hls, 'https://cdn.example/events/ev1/master.m3u8');
        assert.equal(cam.urls?.hls, 'https://cdn.example/live/cam1/master.m3u8');
        assert.equal(ev.push, undefined, 'events has no push list, ev1 none of its own');
        const m = await metrics();
        assert.ok(Number(sampleValue(m, 'cirrus_ingest_stream_frames_total',
            { app: 'events', key: 'ev1' })) > 0);
        assert.ok(Number(sampleValue(m, 'cirrus_ingest_stream_frames_total',
            { app: 'live', key: 'cam1' })) > 0);
        assert.match(log, /\[ingest app=events stream=ev1\] live: video h264 320x180/);

        if (nginx) {
            // segment_seconds 1 and default parts in live, 3 s and 0.5 s in events
            const live = await targets('live', 'cam1');
            const events = await targets('events', 'ev1');
            // events' preset adds its 90p rung; live passes the source only
            const master = async (app, key) => (await rawGet(nginx.port,
                `/${app}/${key}/master.m3u8`)).body.toString();
            await waitFor('the 90p rung', async () =>
                /^90p\/index\.m3u8$/m.test(await master('events', 'ev1')), 15000);
            assert.doesNotMatch(await master('live', 'cam1'), /90p/);
            assert.equal(live.target, 1, live.text);
            assert.equal(events.target, 3, events.text);
            assert.ok(live.part < 0.45 && events.part > 0.45, `${live.part} ${events.part}`);
            // one store is not served under the other's location
            assert.equal((await rawGetUnchecked(nginx.port, '/live/ev1/video/index.m3u8')).status, 404);
        }
        assert.equal((await a.exited).code, 0, a.stderrText);
        assert.equal((await b.exited).code, 0, b.stderrText);
        // the webhooks name the application
        await waitFor('publish_done of both', () =>
            webhooks.filter((w) => w.event === 'publish_done').length >= 2, 10000);
        for (const [app, key] of [['live', 'cam1'], ['events', 'ev1']]) {
            for (const event of ['publish', 'publish_done'])
                assert.ok(webhooks.some((w) => w.event === event && w.app === app && w.key === key),
                    `${event} ${app}/${key}: ${JSON.stringify(webhooks)}`);
        }
        if (nginx)
            assert.match((await targets('events', 'ev1')).text, /#EXT-X-ENDLIST/);
    });

    test('a key of one application is refused in another', async () => {
        for (const [app, key] of [['events', 'cam1'], ['live', 'ev1']]) {
            const from = log.length;
            const pub = publish(rtmp(app, key), { seconds: 3 });
            assert.notEqual((await pub.exited).code, 0, `${app}/${key} refused`);
            assert.match(log.slice(from),
                new RegExp(`\\[rtmp app=${app} stream=${key}\\] 127\\.0\\.0\\.1:\\d+: stream key refused`));
        }
        assert.equal(fs.existsSync(path.join(root('events'), 'cam1')), false);
        assert.equal(fs.existsSync(path.join(root('live'), 'ev1')), false);
    });

    test('an unknown application is refused at the RTMP connect, counted', async () => {
        const before = await unknownAppRefusals();
        const from = log.length;
        const pub = publish(rtmp('nope', 'cam1'), { seconds: 3 });
        const r = await pub.exited;
        assert.notEqual(r.code, 0);
        assert.match(log.slice(from),
            /127\.0\.0\.1:\d+: RTMP connect: unknown application "nope": refused/);
        assert.equal(await unknownAppRefusals(), before + 1);
        assert.equal(fs.existsSync(path.join(dir, 'nope')), false);
    });

    test('SRT into the second application; an unknown one is rejected in the handshake', async () => {
        const pub = publish(srt('#!::r=events/ev3,m=publish'), { seconds: 8 });
        await waitFor('SRT segments in the events store', () =>
            segments('events', 'ev3').length >= 2, 25000);
        const st = (await streams()).find((s) => s.key === 'ev3');
        assert.equal(st?.app, 'events');
        assert.equal(st?.protocol, 'srt');
        assert.match(log, /\[srt app=events stream=ev3\] 127\.0\.0\.1:\d+: publishing over SRT/);
        assert.equal(fs.existsSync(path.join(root('live'), 'ev3')), false);
        if (nginx)
            assert.equal((await targets('events', 'ev3')).target, 3);
        assert.equal((await pub.exited).code, 0, pub.stderrText);

        const before = await unknownAppRefusals();
        const from = log.length;
        const bad = publish(srt('nope/ev3'), { seconds: 3 });
        assert.notEqual((await bad.exited).code, 0);
        assert.match(log.slice(from), /SRT streamid "nope\/ev3" refused: unknown application/);
        assert.equal(await unknownAppRefusals(), before + 1);
    });

    test('a key\'s own push list from its key-file line', async () => {
        const pub = publish(rtmp('events', 'ev2'), { seconds: 8 });
        // pushed into live with its own key: live's store gets it
        await waitFor('the pushed copy in live', () =>
            segments('live', 'ev2').length >= 2 && segments('events', 'ev2').length >= 1, 25000);
        const st = await streams();
        const src = st.find((s) => s.app === 'events' && s.key === 'ev2');
        assert.equal(src?.push?.length, 1, JSON.stringify(src));
        assert.equal(src.push[0].url, `rtmp://127.0.0.1:${rtmpPort}/live/***`);
        assert.ok(st.find((s) => s.app === 'live' && s.key === 'ev2'), JSON.stringify(st));
        // ev1 has no push list of its own, and events none: nothing pushed
        assert.equal((await pub.exited).code, 0, pub.stderrText);
    });

    test('an application\'s own on_publish_url and push list', async () => {
        const good = publish(rtmp('cb', 'good'), { seconds: 6 });
        await waitFor('segments in the cb store and the pushed copy in live', () =>
            segments('cb', 'good').length >= 1 && segments('live', 'good').length >= 1, 20000);
        const src = (await streams()).find((s) => s.app === 'cb' && s.key === 'good');
        assert.equal(src?.push?.[0]?.url, `rtmp://127.0.0.1:${rtmpPort}/live/***`);
        assert.equal((await good.exited).code, 0, good.stderrText);
        const bad = publish(rtmp('cb', 'bad'), { seconds: 3 });
        assert.notEqual((await bad.exited).code, 0);
        assert.deepEqual(callbacks.map((q) => [q.get('call'), q.get('app'), q.get('name')]),
            [['publish', 'cb', 'good'], ['publish', 'cb', 'bad']],
            'only cb asks its callback');
        const m = await metrics();
        assert.ok(Number(sampleValue(m, 'cirrus_ingest_publish_refused_total',
            { reason: 'key' })) >= 3);
    });

    test('bad applications stop cirrus-ingest before it starts, naming the option', () => {
        const cases = [
            [{ applications: { events: { window: 2 } } },
                /applications\.events\.window: 2 is outside \[3, 100000\]/],
            [{ applications: { events: { port: 1 } } },
                /applications\.events\.port: not an option of an application/],
            [{ applications: { 'a b': {} } }, /"a b": an application name is 1 to 63/],
            [{ live_root: '/srv/store', applications: { live: {}, store: {} } },
                /applications\.live\.live_root "\/srv\/store" and applications\.store\.live_root "\/srv\/store" overlap/],
        ];
        for (const [ingestSection, why] of cases) {
            const file = path.join(dir, 'bad.json');
            fs.writeFileSync(file, JSON.stringify({ ingest: { port: 0, ...ingestSection } }));
            const r = spawnSync(INGEST_BIN, ['--config', file], { encoding: 'utf8', timeout: 10000 });
            assert.equal(r.status, 2, r.stderr);
            assert.match(r.stderr, why);
            assert.doesNotMatch(r.stderr, /listening/);
        }
    });
});
