// Starts Debian's /usr/sbin/nginx with ngx_http_cirrus_module on a free
// loopback port, everything (pid, logs, *_temp_path) under a temp prefix,
// and stops it with SIGQUIT (graceful) at the end.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BUILD_DIR, tmpDir } from './cirrus.mjs';

export const NGINX_BIN = process.env.CIRRUS_NGINX || '/usr/sbin/nginx';
export const MODULE_SO = process.env.CIRRUS_NGINX_MODULE ||
    path.join(BUILD_DIR, 'nginx-module', 'ngx_http_cirrus_module.so');
export const LIVE_FEED_BIN = process.env.CIRRUS_LIVE_FEED || path.join(BUILD_DIR, 'nginx-module',
    'cirrus-live-feed');

export function nginxAvailable() {
    return fs.existsSync(NGINX_BIN) && fs.existsSync(MODULE_SO);
}

export function freePort() {
    return new Promise((ok, fail) => {
        const s = net.createServer();
        s.on('error', fail);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => ok(port));
        });
    });
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
