// cirrus-worker's leases (SQS visibility) when SQS calls hang or fail, on
// fauxqs (AWS-like: a ChangeMessageVisibility heartbeat is not a receive,
// and a stale receipt gets MessageNotInflight; local-aws-sqs 2.0.2 counts
// every heartbeat as a receive, see aws-rig/server.mjs) behind the rig's
// fault proxy and SigV4 verifiers, with s3rver for media in and out.
//  - heartbeats come a third of the visibility window apart;
//  - the first ChangeMessageVisibility hangs, two workers: the heartbeat
//    attempt is bounded, the next one extends the lease, and no second
//    worker ever runs the job at the same time;
//  - every heartbeat hangs: the lease is truly lost; the worker cancels the
//    job when it learns it, before the lease's end, and sends no write after;
//  - MessageNotInflight / ReceiptHandleIsInvalid on a heartbeat: the job is
//    cancelled within a second, sends no write after, and its message is
//    not deleted (it comes back to the queue);
//  - the same while the job is blocked reading its input, in a ranged GET
//    that hangs or in the backoff waits between GETs answered 503: the
//    cancel aborts the GET (not its 20 s request timeout) and the wait, so
//    the job still stops within a second and reads or writes nothing after.
// Every S3 PUT of the output is delayed by the fault proxy, so a job takes
// tens of seconds whatever the machine's speed and writes all along (one
// second segments): a job that went on after losing its lease would show in
// the proxy's request log.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import * as R from '../aws-rig/clients.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const { TOOL, WORKER, AWS_CLI } = R;
const missing = R.missing();

const VISIBILITY = 12;              // seconds: heartbeats every 4 s
const PUT_DELAY = { service: 's3', method: 'PUT', match: 'cirrus-out/',
    action: 'delay', delayMs: 700 };
// a PUT whose body the proxy had before the worker logged the loss may be
// stamped a little later by the proxy's own (busy) event loop
const CLOCK_SLACK_MS = 200;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
let rig, tmp, presets, clip;

const tool = (args, opts) => R.tool(rig, args, opts);

const upload = (file, key) => R.upload(rig, file, key);

function startWorker(name, statusDir, sets = {}, env = {}) {
    const opts = { intake: 'sqs', sqs_queue_url: rig.queueUrl,
        out_root: 's3://cirrus-out/vod', default_preset: 'lease',
        presets_dir: presets, workers: 1, status_dir: statusDir,
        visibility_seconds: VISIBILITY, aws_request_timeout_seconds: 4,
        max_attempts: 5, drain_seconds: 2, metrics_port: -1, ...sets };
    const args = Object.entries(opts).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const w = spawn(WORKER, args, { env: rig.env(env), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(w);
    w.name = name;
    w.log = '';
    w.stdout.on('data', (d) => { w.log += d; });
    w.stderr.on('data', (d) => { w.log += d; });
    w.exited = new Promise((ok) => w.on('exit', (code, signal) => {
        children.delete(w);
        ok({ code, signal });
    }));
    return w;
}

async function stopWorker(w) {
    w.kill('SIGTERM');
    const r = await w.exited;
    assert.equal(r.code, 0, `${w.name} exits cleanly:\n${w.log.slice(-2000)}`);
}

async function waitFor(what, fn, workers = [], ms = 120000, every = 200) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        const v = await fn();
        if (v)
            return v;
        await sleep(every);
    }
    throw new Error(`timed out waiting for ${what}\n` +
        workers.map((w) => `--- ${w.name}:\n${w.log.slice(-4000)}`).join('\n'));
}

// The time (ms since the epoch) of each log line of w matching re.
function logTimes(w, re) {
    return w.log.split('\n').filter((l) => re.test(l))
        .map((l) => Date.parse(l.split(' ')[0]));
}

function statuses(dir) {
    return fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
        .map((f) => C.readJson(path.join(dir, f))).filter(Boolean);
}

function requests(log, svc, subject) {
    return log[svc].requests.filter((r) => r.subject.includes(subject));
}

// After its lease was lost at `lost`, a job sends nothing to its outputs
// but the removal of its own unpublished version (a failed job removes
// what it wrote: cir_job_discard_unpublished), which may come any time
// after the job stopped; a write, or a removal elsewhere, fails.  prefix:
// the job's output folder in cirrus-out.
function checkNothingAfterLoss(log, w, prefix, lost) {
    const ours = requests(log, 's3', `cirrus-out/${prefix}/`);
    const version = /\/v\/([^/]+)\//.exec(ours[0]?.subject || '')?.[1];
    const late = ours.filter((r) => r.t > lost + CLOCK_SLACK_MS);
    assert.deepEqual(late.filter((r) => r.method !== 'DELETE'), [], 'no write after the loss');
    assert.deepEqual(late.filter((r) => !r.subject.includes(`/v/${version}/`)), [],
        `only its own version (${version}) removed after the loss`);
    if (late.length)
        assert.match(w.log, new RegExp(`removed the unfinished version ${version}`));
}

// [claimed, ended] of each run of the job on key by worker w, from its log.
function runs(w, key) {
    const lines = w.log.split('\n');
    const id = lines.map((l) => new RegExp(`\\[worker job=(\\S+)\\] claimed s3://cirrus-in/${key} `).exec(l))
        .find(Boolean)?.[1];
    if (!id)
        return [];
    const out = [];
    let open = null;
    for (const l of lines) {
        if (!l.includes(`job=${id}]`))
            continue;
        const t = Date.parse(l.split(' ')[0]);
        if (/ claimed /.test(l))
            open = t;
        else if (open !== null && / (done in|lease lost: the job stopped|failed \(|cancelled by shutdown)/.test(l)) {
            out.push([open, t]);
            open = null;
        }
    }
    if (open !== null)
        out.push([open, Infinity]);
    return out;
}

async function metric(w, name) {
    const port = /metrics on http:\/\/127\.0\.0\.1:(\d+)\//.exec(w.log)?.[1];
    assert.ok(port, 'the worker serves metrics');
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : null;
}

// Waits for the message of key to be visible again, and deletes it: proof
// that the worker did not delete it.
async function messageComesBack(key) {
    return waitFor(`the message of ${key} back in the queue`, () => {
        const m = JSON.parse(tool(['sqs-recv', rig.queueUrl, '5', '--delete']).stdout);
        return m.find((x) => JSON.parse(x.body).Records?.[0]?.s3?.object?.key === key);
    }, [], 3 * VISIBILITY * 1000, 0);
}

describe('cirrus-worker leases on SQS under faults', { skip: missing }, () => {
    before(async () => {
        rig = await start({ visibility: VISIBILITY, maxReceiveCount: 5, sqs: 'fauxqs' });
        tmp = C.tmpDir('cirrus-aws-leases-');
        presets = path.join(tmp, 'presets');
        fs.mkdirSync(presets);
        // small rungs, one second segments: a job that writes all the time
        const lease = C.readJson(path.join(C.PRESETS_DIR, 'mobile.json'));
        lease.name = 'lease';
        lease.video.encoder_preset = 'ultrafast';
        lease.video.gop_seconds = 1;
        lease.video.rungs = lease.video.rungs.filter((r) => r.height <= 360);
        lease.segment_seconds = 1;
        lease.thumbnails = { enabled: false };
        fs.writeFileSync(path.join(presets, 'lease.json'), JSON.stringify(lease));
        // 36 s of 720p video, copied six times over (no re-encoding)
        const list = path.join(tmp, 'list.txt');
        fs.writeFileSync(list, Array(6).fill(`file '${C.sample('h264_720p2997.mp4')}'\n`).join(''));
        clip = path.join(tmp, 'long.mp4');
        const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'concat', '-safe', '0',
            '-i', list, '-c', 'copy', '-an', clip]);
        assert.equal(r.status, 0, String(r.stderr));
    });
    after(async () => {
        for (const c of children)
            c.kill('SIGKILL');
        await stop(rig);
    });

    test("the worker's default visibility is Terraform's", () => {
        const tf = fs.readFileSync(path.join(C.SOURCE_DIR, 'deploy', 'terraform', 'variables.tf'), 'utf8');
        const block = /variable "queue_visibility_seconds" \{[^]*?default\s*=\s*(\d+)/.exec(tf);
        assert.ok(block, 'queue_visibility_seconds has a default');
        const md = spawnSync(WORKER, ['--print-options-md'], { encoding: 'utf8' }).stdout;
        const row = md.split('\n').find((l) => l.includes('`visibility_seconds`'));
        assert.ok(row, md);
        assert.equal(row.split('|')[3].trim(), `\`${block[1]}\``);
    });

    test('heartbeats come a third of the visibility window apart', async (t) => {
        const status = C.tmpDir('cirrus-aws-hb-');
        await rig.faults([PUT_DELAY]);
        const w = startWorker('hb', status);
        upload(clip, 'lease/beat.mp4');
        await waitFor('done', () => statuses(status)
            .some((s) => s.input.endsWith('beat.mp4') && s.state === 'done'), [w], 240000);
        const log = await rig.faultLog();
        await stopWorker(w);
        const [claimed] = logTimes(w, /claimed s3:\/\/cirrus-in\/lease\/beat\.mp4/);
        const [done] = logTimes(w, /done in/);
        const beats = requests(log, 'sqs', 'ChangeMessageVisibility').map((r) => r.t);
        assert.ok(done - claimed > 4 * VISIBILITY / 3 * 1000,
            `the job outlasts four heartbeats (${done - claimed} ms)`);
        assert.ok(beats.length >= 4, `heartbeats: ${beats.length}`);
        // the lease is counted from before the ReceiveMessage call
        const first = beats[0] - claimed;
        assert.ok(first > 2500 && first <= 4300, `first heartbeat ${first} ms after the claim`);
        const gaps = beats.slice(1).map((b, i) => b - beats[i]);
        t.diagnostic(`job ${done - claimed} ms; first heartbeat ${first} ms after the claim, `
            + `then ${gaps.join(', ')} ms apart`);
        for (const g of gaps)
            assert.ok(g > 3500 && g < 5000, `heartbeats ${gaps.join(', ')} ms apart`);
        assert.equal(requests(log, 'sqs', 'DeleteMessage').length, 1, 'acknowledged once');
        assert.doesNotMatch(w.log, /lease lost/);
    });

    test('a hung ChangeMessageVisibility, two workers: never run twice at once',
        async (t) => {
            const status = C.tmpDir('cirrus-aws-hang-');
            await rig.faults([PUT_DELAY, { service: 'sqs', match: 'ChangeMessageVisibility',
                action: 'hang', count: 1 }]);
            const ws = [startWorker('a', status), startWorker('b', status)];
            upload(clip, 'lease/hang.mp4');
            await waitFor('done', () => statuses(status)
                .some((s) => s.input.endsWith('hang.mp4') && s.state === 'done'), ws, 240000);
            const log = await rig.faultLog();
            for (const w of ws)
                await stopWorker(w);
            const all = ws.flatMap((w) => runs(w, 'lease/hang.mp4').map((r) => [...r, w.name]));
            all.sort((x, y) => x[0] - y[0]);
            for (let i = 1; i < all.length; i++)
                assert.ok(all[i][0] >= all[i - 1][1],
                    `runs overlap: ${JSON.stringify(all)}`);
            assert.equal(all.length, 1, `one run: ${JSON.stringify(all)}`);
            // the hung attempt was given up and the next one extended the lease
            const hung = log.sqs.log.filter((e) => e.fault === 'hang');
            assert.equal(hung.length, 1);
            const beats = requests(log, 'sqs', 'ChangeMessageVisibility').map((r) => r.t);
            const next = beats.find((t) => t > hung[0].t);
            assert.ok(next !== undefined && next - hung[0].t <= VISIBILITY / 6 * 1000 + 1500,
                `the next heartbeat ${next - hung[0].t} ms after the hung one`);
            t.diagnostic(`runs ${JSON.stringify(all.map(([a, b, n]) => [n, b - a]))}; `
                + `the next heartbeat ${next - hung[0].t} ms after the hung one`);
            for (const w of ws)
                assert.doesNotMatch(w.log, /lease lost/);
        });

    test('every heartbeat hangs: the lease is lost, the job stops before its end and writes nothing after',
        async (t) => {
            const status = C.tmpDir('cirrus-aws-lost-');
            await rig.faults([PUT_DELAY]);
            const w = startWorker('lost', status);
            upload(clip, 'lease/lost.mp4');
            await waitFor('the claim', () => /claimed s3:\/\/cirrus-in\/lease\/lost\.mp4/.test(w.log),
                [w], 60000, 50);
            // from now on no heartbeat answers, and nobody can receive the
            // message again for a while: a write now can only be this job's
            await rig.faults([PUT_DELAY,
                { service: 'sqs', match: 'ChangeMessageVisibility', action: 'hang' },
                { service: 'sqs', match: 'ReceiveMessage', action: 'status', status: 503,
                    code: 'ServiceUnavailable', forMs: 30000 }]);
            await waitFor('the job stopped', () => /lease lost: the job stopped/.test(w.log), [w], 60000);
            const [claimed] = logTimes(w, /claimed s3:\/\/cirrus-in\/lease\/lost\.mp4/);
            const [lost] = logTimes(w, /lease lost \(expired/);
            const [stopped] = logTimes(w, /lease lost: the job stopped/);
            const stopMs = Number(/the job stopped (\d+) ms after/.exec(w.log)[1]);
            // lost at the fence, before the lease's end (claim + visibility)
            assert.ok(lost - claimed < (VISIBILITY - 1) * 1000,
                `lost ${lost - claimed} ms after the claim`);
            assert.ok(stopMs < 1000 && stopped - lost < 1000,
                `stopped ${stopMs} ms (${stopped - lost} ms by the log) after learning it`);
            await sleep(5000); // a job still running would write by now
            const log = await rig.faultLog();
            const puts = requests(log, 's3', 'cirrus-out/');
            assert.ok(puts.some((r) => r.t < lost), 'the job was writing before');
            t.diagnostic(`lost ${lost - claimed} ms after the claim, stopped ${stopMs} ms later; `
                + `${puts.filter((r) => r.t < lost).length} PUTs before, last ${lost - Math.max(...puts.filter((r) => r.t <= lost).map((r) => r.t))} ms before; `
                + `${puts.filter((r) => r.t > lost && r.method !== 'DELETE').length} after, then `
                + `${puts.filter((r) => r.method === 'DELETE').length} removals of its version`);
            checkNothingAfterLoss(log, w, 'vod/lease/lost', lost);
            assert.equal(requests(log, 'sqs', 'DeleteMessage').length, 0, 'not acknowledged');
            assert.equal(await metric(w, 'cirrus_worker_jobs_total{state="lost"}'), 1);
            const s = statuses(status).find((j) => j.input.endsWith('lost.mp4'));
            assert.equal(s.state, 'lost');
            await stopWorker(w);
            await rig.faults([]);
            assert.ok(await messageComesBack('lease/lost.mp4'), 'the message was not deleted');
        });

    for (const code of ['MessageNotInflight', 'ReceiptHandleIsInvalid']) {
        test(`${code} on a heartbeat: cancelled within a second, nothing written after, not deleted`,
            async (t) => {
                const status = C.tmpDir('cirrus-aws-revoked-');
                const key = `lease/revoked-${code}.mp4`;
                await rig.faults([PUT_DELAY]);
                const w = startWorker(code, status);
                upload(clip, key);
                await waitFor('the claim', () => w.log.includes(`claimed s3://cirrus-in/${key}`),
                    [w], 60000, 50);
                await rig.faults([PUT_DELAY,
                    { service: 'sqs', match: 'ChangeMessageVisibility', action: 'status',
                        status: 400, code, count: 1 },
                    { service: 'sqs', match: 'ReceiveMessage', action: 'status', status: 503,
                        code: 'ServiceUnavailable', forMs: 20000 }]);
                await waitFor('the job stopped', () => /lease lost: the job stopped/.test(w.log),
                    [w], 60000);
                const [lost] = logTimes(w, /lease lost \(revoked/);
                const [stopped] = logTimes(w, /lease lost: the job stopped/);
                const stopMs = Number(/the job stopped (\d+) ms after/.exec(w.log)[1]);
                assert.ok(stopMs < 1000 && stopped - lost < 1000,
                    `stopped ${stopMs} ms (${stopped - lost} ms by the log) after learning it`);
                const faulted = (await rig.faultLog()).sqs.log.filter((e) => e.fault === 'status'
                    && e.subject === 'ChangeMessageVisibility');
                assert.equal(faulted.length, 1);
                assert.ok(lost - faulted[0].t < 1000, 'learnt from the answer');
                await sleep(4000);
                const log = await rig.faultLog();
                const puts = requests(log, 's3', 'cirrus-out/');
                t.diagnostic(`lost ${lost - faulted[0].t} ms after the answer, stopped ${stopMs} ms later; `
                    + `${puts.filter((r) => r.t < lost).length} PUTs before, `
                    + `${puts.filter((r) => r.t > lost && r.method !== 'DELETE').length} after, then `
                    + `${puts.filter((r) => r.method === 'DELETE').length} removals of its version`);
                assert.ok(puts.some((r) => r.t < lost), 'the job was writing before');
                checkNothingAfterLoss(log, w, `vod/lease/revoked-${code}`, lost);
                assert.equal(requests(log, 'sqs', 'DeleteMessage').length, 0, 'not acknowledged');
                assert.equal(requests(log, 'sqs', 'ChangeMessageVisibility').length, 1,
                    'not released or failed either');
                assert.equal(await metric(w, 'cirrus_worker_jobs_total{state="lost"}'), 1);
                assert.equal(statuses(status).find((j) => j.input.endsWith(key)).state, 'lost');
                await stopWorker(w);
                await rig.faults([]);
                assert.ok(await messageComesBack(key), 'the message was not deleted');
            });
    }

    // The job is blocked reading its input when the lease is revoked:
    //  - hang: a ranged GET the proxy never answers (the request's own
    //    timeout is 20 s);
    //  - retry: every GET answers 503 SlowDown and the client sits in its
    //    backoff waits (up to 20 s each; the budget made long enough that
    //    the read does not give up first).
    const STUCK = [
        { name: 'hangs in a ranged GET of its input', fault: { action: 'hang' },
            faulted: 1, env: {} },
        { name: 'waits to retry a failing ranged GET of its input',
            fault: { action: 'status', status: 503, code: 'SlowDown' },
            // the seventh attempt on waits up to 16-20 s
            faulted: 7, env: { CIRRUS_AWS_RETRY_BUDGET_S: '300' } },
    ];
    for (const v of STUCK) {
        test(`revoked while the job ${v.name}: cancelled within a second, nothing written after`,
            async (t) => {
                const status = C.tmpDir('cirrus-aws-stuck-');
                const key = `lease/stuck-${v.fault.action}.mp4`;
                const inputGet = { service: 's3', method: 'GET', match: `cirrus-in/${key}`,
                    ...v.fault };
                await rig.faults([PUT_DELAY]);
                // the default request timeout: a GET that hangs ends after 20 s
                const w = startWorker(`stuck-${v.fault.action}`, status,
                    { aws_request_timeout_seconds: 20 }, v.env);
                upload(clip, key);
                await waitFor('the claim', () => w.log.includes(`claimed s3://cirrus-in/${key}`),
                    [w], 60000, 50);
                // once the job writes its outputs (the input's header is
                // read), its next ranged GETs fail
                await waitFor('the first output', async () =>
                    requests(await rig.faultLog(), 's3', 'cirrus-out/').length > 0, [w], 60000, 100);
                await rig.faults([PUT_DELAY, inputGet]);
                const faulted = await waitFor(`${v.faulted} faulted input GET(s)`, async () => {
                    const f = (await rig.faultLog()).s3.log.filter((e) => e.fault === v.fault.action);
                    return f.length >= v.faulted && f;
                }, [w], 90000, 100);
                assert.doesNotMatch(w.log, /done in|lease lost|failed \(/, 'the job is still running');
                // the next heartbeat learns the claim is gone (a hung GET
                // stays hung: new rules do not answer it)
                await rig.faults([PUT_DELAY, inputGet,
                    { service: 'sqs', match: 'ChangeMessageVisibility', action: 'status',
                        status: 400, code: 'MessageNotInflight', count: 1 },
                    { service: 'sqs', match: 'ReceiveMessage', action: 'status', status: 503,
                        code: 'ServiceUnavailable', forMs: 20000 }]);
                await waitFor('the job stopped', () => /lease lost: the job stopped/.test(w.log),
                    [w], 60000);
                const [lost] = logTimes(w, /lease lost \(revoked/);
                const [stopped] = logTimes(w, /lease lost: the job stopped/);
                const stop = /the job stopped (\d+) ms after \(([^)]*)\)/.exec(w.log);
                const stopMs = Number(stop[1]);
                const last = faulted[faulted.length - 1].t;
                t.diagnostic(`${faulted.length} faulted GET(s), the last ${lost - last} ms before `
                    + `the loss; stopped ${stopMs} ms (${stopped - lost} ms by the log) after it, `
                    + `as ${stop[2]}`);
                assert.ok(lost > last, 'the read was stuck when the lease was lost');
                assert.doesNotMatch(w.log, /reading s3:\/\/\S+ at byte \d+ failed/,
                    'the read had not given up');
                assert.ok(stopMs < 1000 && stopped - lost < 1000,
                    `stopped ${stopMs} ms (${stopped - lost} ms by the log) after learning it`);
                assert.equal(stop[2], 'CIR_ECANCELED', 'the job ended as cancelled');
                assert.match(w.log, new RegExp(`reading s3://cirrus-in/lease/stuck-${v.fault.action}\\.mp4 at byte \\d+: cancelled`));
                await sleep(3000);
                const log = await rig.faultLog();
                checkNothingAfterLoss(log, w, `vod/lease/stuck-${v.fault.action}`, lost);
                assert.deepEqual(requests(log, 's3', `cirrus-in/${key}`)
                    .filter((r) => r.t > lost + CLOCK_SLACK_MS), [], 'no read after the loss');
                assert.equal(requests(log, 'sqs', 'DeleteMessage').length, 0, 'not acknowledged');
                assert.equal(statuses(status).find((j) => j.input.endsWith(key)).state, 'lost');
                await stopWorker(w);
                await rig.faults([]);
                // taken off the queue, so that no later worker runs it
                assert.ok(await messageComesBack(key), 'the message was not deleted');
            });
    }
});
