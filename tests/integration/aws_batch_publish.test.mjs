// An AWS Batch job run twice for the same upload publishes one version.
// The dispatcher (cirrus-worker dispatch=batch) submits the upload to the
// rig's Batch endpoint; the job is then run as Batch runs it: the job
// definition's command from deploy/terraform/modules/batch/main.tf, its
// Ref:: placeholders filled from the SubmitJob parameters (the job
// definition's defaults otherwise), against the S3 rig.
//  - the first attempt publishes a version and writes the upload's marker
//    <output>/.published/<tag>.json after the top-level manifests;
//  - a second attempt (Batch retrying a job whose first attempt published,
//    e.g. its exit status lost with its host) finds the marker, writes
//    nothing, exits 0 and reports the version already published;
//  - without a tag (a job submitted by hand: the default "none") every run
//    publishes, as before.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import * as R from '../aws-rig/clients.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const missing = R.missing() ||
    (!fs.existsSync(C.TRANSCODE_BIN) ? `${C.TRANSCODE_BIN} is not built` : false);
const QUEUE = 'cirrus-transcode-queue';
const DEFINITION = 'cirrus-transcode:7';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let rig, tmp, presets, dispatcher;

const tool = (args, opts) => R.tool(rig, args, opts);

function s3Keys(prefix) {
    const out = tool(['s3-list', `s3://cirrus-out/${prefix}`]).stdout.trim();
    return out ? out.split('\n').map((l) => l.split('\t')[0]) : [];
}

const s3Text = (key) => tool(['s3-get', `s3://cirrus-out/${key}`, '-']).stdout;

// The job definition's command and default parameters, from Terraform.
function jobDefinition() {
    const tf = fs.readFileSync(path.join(C.SOURCE_DIR, 'deploy', 'terraform',
        'modules', 'batch', 'main.tf'), 'utf8');
    const cmd = /command = \[([^\]]*)\]/.exec(tf);
    assert.ok(cmd, 'the job definition has a command');
    const command = [...cmd[1].matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    const params = /\n  parameters = \{([^}]*)\}/.exec(tf);
    assert.ok(params, 'the job definition has default parameters');
    const defaults = Object.fromEntries([...params[1].matchAll(/(\w+)\s*=\s*"([^"]*)"/g)]
        .map((m) => [m[1], m[2]]));
    return { command, defaults };
}

// One attempt of a Batch job: the command with its Ref:: placeholders
// filled in (a placeholder with no value stays as it is, as in Batch).
async function runAttempt(parameters) {
    const { command, defaults } = jobDefinition();
    const values = { ...defaults, ...parameters };
    const args = command.slice(1).map((a) => (a.startsWith('Ref::') && a.slice(5) in values
        ? values[a.slice(5)] : a));
    assert.equal(command[0], 'cirrus-transcode');
    const child = spawn(C.TRANSCODE_BIN, args, { env: rig.env({ CIRRUS_PRESETS_DIR: presets }),
        stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise((ok) => child.on('exit', ok));
    const lines = out.trim().split('\n');
    return { code, err, result: JSON.parse(lines[lines.length - 1]) };
}

function startDispatcher() {
    const sets = { intake: 'sqs', dispatch: 'batch', sqs_queue_url: rig.queueUrl,
        batch_job_queue: QUEUE, batch_job_definition: DEFINITION,
        out_root: 's3://cirrus-out/vod', default_preset: 'small',
        presets_dir: presets, visibility_seconds: 5 };
    const args = Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const w = spawn(R.WORKER, args, { env: rig.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    w.log = '';
    w.stdout.on('data', (d) => { w.log += d; });
    w.stderr.on('data', (d) => { w.log += d; });
    w.exited = new Promise((ok) => w.on('exit', (code) => ok(code)));
    return w;
}

async function waitFor(what, fn, ms = 30000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        const v = await fn();
        if (v)
            return v;
        await sleep(150);
    }
    throw new Error(`timed out waiting for ${what}\n${dispatcher.log.slice(-3000)}`);
}

const versions = (asset) => new Set(s3Keys(`${asset}/v/`)
    .map((k) => k.slice(asset.length + 3).split('/')[0]));

describe('AWS Batch attempts of one upload publish one version', { skip: missing }, () => {
    before(async () => {
        rig = await start({ visibility: 3, maxReceiveCount: 5 });
        tmp = C.tmpDir('cirrus-batch-publish-');
        presets = path.join(tmp, 'presets');
        fs.mkdirSync(presets);
        // one small rung, no thumbnails: a quick job
        const small = C.readJson(path.join(C.PRESETS_DIR, 'mobile.json'));
        small.name = 'small';
        small.video.encoder_preset = 'ultrafast';
        small.video.rungs = small.video.rungs.filter((r) => r.height <= 240).slice(0, 1);
        small.thumbnails = { enabled: false };
        fs.writeFileSync(path.join(presets, 'small.json'), JSON.stringify(small));
        dispatcher = startDispatcher();
    });
    after(async () => {
        if (dispatcher && dispatcher.exitCode === null)
            dispatcher.kill('SIGKILL');
        await stop(rig);
    });

    test('the second attempt finds the marker: no second version, exit 0 with the first', async (t) => {
        R.upload(rig, C.sample('h264_720p2997.mp4'), 'batch/clip.mp4');
        const [job] = await waitFor('the SubmitJob', async () => {
            const s = await rig.submitted();
            return s.length >= 1 && s;
        });
        const p = job.parameters;
        assert.match(p.publish_tag, /^[0-9a-f]{64}$/);
        const asset = 'vod/batch/clip';
        assert.equal(p.output, `s3://cirrus-out/${asset}`);

        const first = await runAttempt(p);
        assert.equal(first.code, 0, first.err);
        const v1 = first.result.version;
        assert.match(v1, /^\d{8}T\d{9}Z-[0-9a-f]{16}$/);
        assert.equal(first.result.already_published, false);
        const marker = `${asset}/.published/${p.publish_tag}.json`;
        assert.deepEqual(JSON.parse(s3Text(marker)), { input: p.input,
            source_version: '', version: v1, preset: 'small' });
        assert.match(s3Text(`${asset}/master.m3u8`), new RegExp(`v/${v1}/`));

        // Batch retries the job: the same parameters, a new attempt
        await rig.faults([]); // a fresh request log
        const second = await runAttempt(p);
        assert.equal(second.code, 0, second.err);
        assert.equal(second.result.already_published, true);
        assert.equal(second.result.version, v1, 'reports the version published');
        assert.equal(second.result.state, 'done');
        const log = await rig.faultLog();
        const writes = log.s3.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
        assert.deepEqual(writes, [], 'the second attempt writes nothing');
        assert.deepEqual([...versions(asset)], [v1], 'one version');
        assert.match(s3Text(`${asset}/master.m3u8`), new RegExp(`v/${v1}/`));
        t.diagnostic(`version ${v1}; marker ${marker}; second attempt: `
            + `${log.s3.requests.length} S3 reads, no write`);
    });

    test('a job submitted by hand without a tag publishes on every run', async () => {
        const p = { input: 's3://cirrus-in/batch/clip.mp4',
            output: 's3://cirrus-out/vod/batch/by-hand', preset: 'small' };
        const a = await runAttempt(p); // publish_tag: the default, "none"
        assert.equal(a.code, 0, a.err);
        assert.equal(a.result.already_published, undefined);
        const b = await runAttempt(p);
        assert.equal(b.code, 0, b.err);
        assert.notEqual(a.result.version, b.result.version);
        assert.equal(versions('vod/batch/by-hand').size, 2);
        assert.deepEqual(s3Keys('vod/batch/by-hand/.published/'), []);
    });
});
