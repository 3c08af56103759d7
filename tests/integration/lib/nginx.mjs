// Starts Debian's /usr/sbin/nginx with ngx_http_cirrus_module on a free
// loopback port, everything (pid, logs, *_temp_path) under a temp prefix,
// and stops it with SIGQUIT (graceful) at the end.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BUILD_DIR, SOURCE_DIR, tmpDir } from './cirrus.mjs';

export const NGINX_BIN = process.env.CIRRUS_NGINX || '/usr/sbin/nginx';
export const MODULE_SO = process.env.CIRRUS_NGINX_MODULE ||
    path.join(BUILD_DIR, 'nginx-module', 'ngx_http_cirrus_module.so');
export const LIVE_FEED_BIN = process.env.CIRRUS_LIVE_FEED || path.join(BUILD_DIR, 'nginx-module',
    'cirrus-live-feed');

export function nginxAvailable() {
    return fs.existsSync(NGINX_BIN) && fs.existsSync(MODULE_SO);
}

function pickPort() {
    return new Promise((ok, fail) => {
        const s = net.createServer();
        s.on('error', fail);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => ok(port));
        });
    });
}

// A port nobody listens on, never one this process was given before: the
// kernel may hand out the port it just freed again, and two of a test's
// servers on one port (nginx's public server on *:P and its admin server on
// 127.0.0.1:P) answer each other's requests (seen: the console test's
// public "/" answered by the admin server's 302)
const given = new Set();
export async function freePort() {
    for (let i = 0; i < 100; i++) {
        const port = await pickPort();
        if (!given.has(port)) {
            given.add(port);
            return port;
        }
    }
    throw new Error('freePort: no port not given before');
}

function waitForPort(port, timeoutMs, child) {
    const deadline = Date.now() + timeoutMs;
    return new Promise((ok, fail) => {
        const attempt = () => {
            if (child.exitCode !== null)
                return fail(new Error(`nginx exited with ${child.exitCode}`));
            const sock = net.connect(port, '127.0.0.1');
            sock.once('connect', () => {
                sock.destroy();
                ok();
            });
            sock.once('error', () => {
                sock.destroy();
                if (Date.now() > deadline)
                    fail(new Error(`nginx did not listen on ${port}`));
                else
                    setTimeout(attempt, 25);
            });
        };
        attempt();
    });
}

// `server` is the text inside server { } after the listen line; `http` is
// extra text inside http { }.  Resolves { port, prefix, base, stop(),
// errorLog(), workerPids() }.
export async function startNginx({ server, http = '', workers = 1,
    loadModule = true, prefix } = {}) {
    prefix = prefix || tmpDir('nginx-');
    for (const d of ['conf', 'logs', 'tmp'])
        fs.mkdirSync(path.join(prefix, d), { recursive: true });
    const port = await freePort();
    const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((t) => `    ${t}_temp_path ${path.join(prefix, 'tmp', t)};`)
        .join('\n');
    // Started as root, workers would run as nobody and could not read the
    // test folders (mkdtemp makes them 0700).
    const user = process.getuid && process.getuid() === 0 ? 'user root root;' : '';
    const conf = `${loadModule ? `load_module ${MODULE_SO};` : ''}
${user}
worker_processes ${workers};
worker_rlimit_nofile 16384;
daemon off;
master_process on;
pid ${path.join(prefix, 'logs', 'nginx.pid')};
error_log ${path.join(prefix, 'logs', 'error.log')} info;
events { worker_connections 8192; }
http {
${temps}
    access_log ${path.join(prefix, 'logs', 'access.log')};
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    keepalive_requests 100000;
${http}
    server {
        listen 127.0.0.1:${port};
${server}
    }
}
`;
    const confFile = path.join(prefix, 'conf', 'nginx.conf');
    fs.writeFileSync(confFile, conf);
    const errLog = path.join(prefix, 'logs', 'error.log');
    const test = spawnSync(NGINX_BIN, ['-t', '-p', prefix, '-c', confFile,
        '-e', errLog], { encoding: 'utf8' });
    if (test.status !== 0)
        throw new Error(`nginx -t failed:\n${test.stderr}\n${conf}`);
    const child = spawn(NGINX_BIN, ['-p', prefix, '-c', confFile, '-e', errLog],
        { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
        await waitForPort(port, 10000, child);
    } catch (e) {
        child.kill('SIGKILL');
        throw new Error(`${e.message}\n${stderr}\n${readLog(errLog)}`);
    }
    const exited = new Promise((ok) =>
        child.on('exit', (code, signal) => ok({ code, signal })));
    return {
        port,
        prefix,
        conf,
        pid: child.pid,
        base: `http://127.0.0.1:${port}`,
        errorLog: () => readLog(errLog),
        workerPids: () => workerPids(child.pid),
        // A graceful stop must end in exit 0: a master that crashes while
        // reaping its workers (e.g. a module scribbling over a shared zone)
        // fails the test that started it.
        async stop() {
            if (child.exitCode !== null || child.signalCode !== null)
                return;
            child.kill('SIGQUIT');
            const t = setTimeout(() => child.kill('SIGKILL'), 15000);
            const { code, signal } = await exited;
            clearTimeout(t);
            if (code !== 0)
                throw new Error(`nginx stopped with ${signal ?? `exit ${code}`}` +
                    `\n${stderr}\n${readLog(errLog).slice(-2000)}`);
        },
    };
}

function readLog(file) {
    try {
        return fs.readFileSync(file, 'utf8');
    } catch {
        return '';
    }
}

export function workerPids(master) {
    const out = [];
    for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d))
            continue;
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            if (ppid === master)
                out.push(Number(d));
        } catch {
            /* gone */
        }
    }
    return out;
}

export function rssKb(pid) {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)/.exec(s);
    return m ? Number(m[1]) : NaN;
}

// A raw HTTP/1.1 GET over its own socket, so tests control headers exactly
// (fetch adds and normalises some).  Resolves { status, headers, body
// (Buffer), ms }.
// The body of a chunked answer, or null when it was cut short (no last
// chunk: the origin ended the answer before the whole object).
export function dechunk(buf) {
    const out = [];
    let i = 0;
    for (;;) {
        const e = buf.indexOf('\r\n', i);
        if (e < 0)
            return null;
        const n = parseInt(buf.subarray(i, e).toString(), 16);
        if (!n)
            return buf.subarray(e, e + 4).toString() === '\r\n\r\n'
                ? Buffer.concat(out) : null;
        out.push(buf.subarray(e + 2, e + 2 + n));
        i = e + 2 + n + 2;
    }
}

export function rawGet(port, target, headers = {}, { method = 'GET' } = {}) {
    return new Promise((ok, fail) => {
        const t0 = performance.now();
        const sock = net.connect(port, '127.0.0.1');
        const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1',
            'Connection: close'];
        for (const [k, v] of Object.entries(headers))
            lines.push(`${k}: ${v}`);
        sock.write(lines.join('\r\n') + '\r\n\r\n');
        const chunks = [];
        sock.on('data', (d) => chunks.push(d));
        sock.on('error', fail);
        sock.on('close', () => {
            const buf = Buffer.concat(chunks);
            const sep = buf.indexOf('\r\n\r\n');
            if (sep < 0)
                return fail(new Error(`no response to ${target}`));
            const head = buf.subarray(0, sep).toString('latin1').split('\r\n');
            const status = Number(head[0].split(' ')[1]);
            const hdrs = {};
            for (const l of head.slice(1)) {
                const i = l.indexOf(':');
                hdrs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
            }
            ok({ status, headers: hdrs, body: buf.subarray(sep + 4),
                ms: performance.now() - t0 });
        });
    });
}

// --- the configurations the project ships ----------------------------------

export const SHIPPED_CONFIGS = {
    sample: path.join(SOURCE_DIR, 'samples', 'nginx.conf'),
    deploy: path.join(SOURCE_DIR, 'deploy', 'nginx', 'cirrus-origin.conf.in'),
};

// The console's player files as deploy/Dockerfile installs them: [the file
// under an npm package's folder, its path under the console's lib/], read
// from the Dockerfile's `install -D ... node_modules/X /out/console/lib/Y`.
export function consoleLibs() {
    const df = fs.readFileSync(path.join(SOURCE_DIR, 'deploy', 'Dockerfile'), 'utf8');
    return [...df.matchAll(/install -D -m 0644 node_modules\/(\S+)\s*\\?\s*\/out\/console\/lib\/(\S+)/g)]
        .map((m) => [m[1], m[2]]);
}

// The console as the image installs it under /usr/share/cirrus/console
// (deploy/Dockerfile): samples/dashboard/ as dashboard/, and lib/ with the
// player files from tests/node_modules (the versions the image's npm ci
// installs from the same lock file).
export function consoleTree() {
    const root = tmpDir('console-');
    fs.cpSync(path.join(SOURCE_DIR, 'samples', 'dashboard'),
        path.join(root, 'dashboard'), { recursive: true });
    for (const [from, to] of consoleLibs()) {
        const dst = path.join(root, 'lib', to);
        fs.mkdirSync(path.dirname(dst), { recursive: true });
        fs.copyFileSync(path.join(SOURCE_DIR, 'tests', 'node_modules', from), dst);
    }
    for (const d of fs.readdirSync(root, { recursive: true }))
        fs.chmodSync(path.join(root, d), fs.statSync(path.join(root, d)).isDirectory()
            ? 0o755 : 0o644);
    return root;
}

// Started as root, nginx's workers run as nobody (as they do in production):
// a folder they serve must be readable by others, and its parents
// searchable.  Adds those bits only.
export function openToWorkers(dir) {
    if (!(process.getuid && process.getuid() === 0))
        return;
    let d = path.resolve(dir);
    fs.chmodSync(d, fs.statSync(d).mode | 0o055);
    while (d !== path.dirname(d)) {
        d = path.dirname(d);
        fs.chmodSync(d, fs.statSync(d).mode | 0o011);
    }
}

function replaceAll(text, from, to, what) {
    if (!text.includes(from))
        throw new Error(`the shipped config no longer holds "${from}" (${what})`);
    return text.split(from).join(to);
}

// The shipped file with only its ports and paths replaced.
function shippedText(which, { prefix, port, peerPort, vodRoot, liveRoot,
    secretHeader, secret, upstreamPorts, uploadRoot, adminPort, consoleRoot }) {
    let t = fs.readFileSync(SHIPPED_CONFIGS[which], 'utf8');
    if (which === 'sample') {
        const nm = path.join(SOURCE_DIR, 'tests', 'node_modules');
        t = replaceAll(t, 'build/nginx-module/ngx_http_cirrus_module.so',
            MODULE_SO, 'module');
        t = replaceAll(t, 'build/nginx-run/', `${prefix}/`, 'run folder');
        t = replaceAll(t, 'listen 127.0.0.1:8080;',
            `listen 127.0.0.1:${port};`, 'port');
        t = replaceAll(t, 'http://127.0.0.1:8081/',
            `http://127.0.0.1:${upstreamPorts[0]}/`, 'ingest port');
        t = replaceAll(t, 'http://127.0.0.1:8082/',
            `http://127.0.0.1:${upstreamPorts[1]}/`, 'worker port');
        t = replaceAll(t, 'http://127.0.0.1:8083/',
            `http://127.0.0.1:${upstreamPorts[2]}/`, 'worker job API port');
        t = replaceAll(t, 'alias uploads/;', `alias ${uploadRoot}/;`, 'uploads');
        t = replaceAll(t, 'root uploads;', `root ${uploadRoot};`, 'uploads');
        t = replaceAll(t, 'cirrus_vod out;', `cirrus_vod ${vodRoot};`, 'VOD root');
        t = replaceAll(t, 'alias out/;', `alias ${vodRoot}/;`, 'VOD listing');
        t = replaceAll(t, 'cirrus_live live;', `cirrus_live ${liveRoot};`,
            'live root');
        // the second application's store: beside live's, as cirrus-ingest
        // puts it by default
        t = replaceAll(t, 'cirrus_live events;',
            `cirrus_live ${path.join(path.dirname(path.resolve(liveRoot)), 'events')};`,
            'second application root');
        t = replaceAll(t, ' samples/', ` ${path.join(SOURCE_DIR, 'samples')}/`,
            'samples');
        t = replaceAll(t, 'root samples;',
            `root ${path.join(SOURCE_DIR, 'samples')};`, 'player page');
        t = replaceAll(t, ' tests/node_modules/', ` ${nm}/`, 'players');
        return t;
    }
    const subst = { MODULE: MODULE_SO, PREFIX: prefix, LIVE_ROOT: liveRoot,
        HTTP_PORT: String(port), PEER_PORT: String(peerPort),
        PEERS_CONF: path.join(prefix, 'peers.conf'),
        SECRET_HEADER: secretHeader, SECRET: secret,
        ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
        ADMIN_ALLOW_CONF: path.join(prefix, 'admin-allow.conf'),
        CONSOLE_ROOT: consoleRoot, VOD_ROOT: vodRoot, UPLOAD_DIR: uploadRoot,
        INGEST_STATUS: `127.0.0.1:${upstreamPorts[0]}`,
        WORKER_STATUS: `127.0.0.1:${upstreamPorts[1]}`,
        WORKER_API: `127.0.0.1:${upstreamPorts[2]}`,
        // as cirrus-origin renders it by default (CIRRUS_CONSOLE_UPLOAD=folder)
        CONSOLE_JSON: `{"upload_dir": "${uploadRoot}/"}` };
    for (const [k, v] of Object.entries(subst))
        t = replaceAll(t, `@${k}@`, v, k);
    return t;
}

// Starts nginx from a configuration the project ships: 'sample'
// (samples/nginx.conf) or 'deploy' (deploy/nginx/cirrus-origin.conf.in, as
// deploy/scripts/cirrus-origin renders it), with only ports and paths
// substituted: vodRoot (sample) and liveRoot, the listen port(s), the
// module, the run folder; the deploy template's peers are this host's own
// peer port, and its secret is { secretHeader, secret }.  What a user adds
// of their own: `http`, text at the top of http { } (a directive the file
// does not set there), `live`, text in the live location(s) (where a
// directive the file sets in http { } can be overridden).  The sample's
// /api/ proxies reach { ingestPort, workerPort, apiPort } (the daemons'
// status and metrics ports, the worker's job API; unused free ports by
// default); its console uploads land in uploadRoot (a new folder by
// default).  The deploy template's console server listens on adminPort
// (a free port by default), open to adminAllow (what deploy/scripts/
// cirrus-origin writes by default: loopback), serving a console tree laid
// out as the image's (consoleTree()) and the same /api/ upstreams and
// folders.  Resolves what startNginx does, plus peerPort and adminPort
// (deploy).
export async function startShippedNginx(which, { vodRoot, liveRoot,
    http = '', live = '', secretHeader = 'X-Cirrus-Origin-Secret',
    secret = 'shipped-config-test-secret-0123456789', ingestPort,
    workerPort, apiPort, uploadRoot, adminAllow = ['127.0.0.1', '::1'] } = {}) {
    if (!SHIPPED_CONFIGS[which])
        throw new Error(`no shipped config "${which}"`);
    const prefix = tmpDir('nginx-');
    for (const d of ['logs', 'tmp'])
        fs.mkdirSync(path.join(prefix, d), { recursive: true });
    vodRoot = vodRoot || tmpDir('vod-');
    liveRoot = liveRoot || tmpDir('live-');
    uploadRoot = uploadRoot || tmpDir('uploads-');
    for (const d of [prefix, vodRoot, liveRoot, uploadRoot])
        openToWorkers(d);
    const port = await freePort();
    const peerPort = await freePort();
    const adminPort = await freePort();
    const consoleRoot = which === 'deploy' ? consoleTree() : null;
    if (consoleRoot)
        openToWorkers(consoleRoot);
    const upstreamPorts = [ingestPort || await freePort(),
        workerPort || await freePort(), apiPort || await freePort()];
    let conf = shippedText(which, { prefix, port, peerPort, vodRoot, liveRoot,
        secretHeader, secret, upstreamPorts, uploadRoot, adminPort, consoleRoot });
    if (which === 'deploy') {
        fs.writeFileSync(path.join(prefix, 'peers.conf'),
            `upstream cirrus_live_peers {\n    server 127.0.0.1:${peerPort};\n}\n`);
        fs.writeFileSync(path.join(prefix, 'admin-allow.conf'),
            adminAllow.map((n) => `${n} 1;\n`).join(''));
    }
    if (http)
        conf = conf.replace(/^http \{\n/m, (m) => `${m}${http}\n`);
    if (live)
        conf = conf.replace(/^(\s*)cirrus_live (.*)$/mg,
            (m, sp) => `${m}\n${sp}${live}`);
    const confFile = path.join(prefix, 'nginx.conf');
    fs.writeFileSync(confFile, conf);
    // the sample daemonizes by default: the test holds the master instead
    const args = ['-p', prefix, '-c', confFile,
        ...(which === 'sample' ? ['-g', 'daemon off;'] : []),
        '-e', which === 'sample' ? path.join(prefix, 'logs', 'error.log') : 'stderr'];
    const errLog = which === 'sample' ? path.join(prefix, 'logs', 'error.log') : null;
    const ng = await runNginx({ conf, args, port, errLog });
    return { ...ng, peerPort, vodRoot, liveRoot, uploadRoot, secretHeader, secret,
        which, ...(which === 'deploy' ? { adminPort, consoleRoot,
            adminBase: `http://127.0.0.1:${adminPort}` } : {}) };
}

async function runNginx({ conf, args, port, errLog }) {
    // stdout is no socket: the deploy template logs to /dev/stdout
    const test = spawnSync(NGINX_BIN, ['-t', ...args],
        { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (test.status !== 0)
        throw new Error(`nginx -t failed:\n${test.stderr}\n${conf}`);
    const child = spawn(NGINX_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const log = () => (errLog ? readLog(errLog) : stderr);
    try {
        await waitForPort(port, 10000, child);
    } catch (e) {
        child.kill('SIGKILL');
        throw new Error(`${e.message}\n${stderr}\n${log()}`);
    }
    const exited = new Promise((ok) =>
        child.on('exit', (code, signal) => ok({ code, signal })));
    const prefix = args[args.indexOf('-p') + 1];
    return {
        port,
        prefix,
        conf,
        pid: child.pid,
        base: `http://127.0.0.1:${port}`,
        errorLog: log,
        accessLog: () => readLog(path.join(prefix, 'logs', 'access.log')),
        workerPids: () => workerPids(child.pid),
        // SIGHUP: a reload (new workers, the old ones leave gracefully)
        reload: () => child.kill('SIGHUP'),
        async stop() {
            if (child.exitCode !== null || child.signalCode !== null)
                return;
            child.kill('SIGQUIT');
            const t = setTimeout(() => child.kill('SIGKILL'), 15000);
            const { code, signal } = await exited;
            clearTimeout(t);
            if (code !== 0)
                throw new Error(`nginx stopped with ${signal ?? `exit ${code}`}` +
                    `\n${stderr}\n${log().slice(-2000)}`);
        },
    };
}
