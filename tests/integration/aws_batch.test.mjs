// cirrus-worker with dispatch=batch: the S3 upload events on the SQS queue
// (local-aws-sqs behind the SigV4-verifying proxy) go to the rig's Batch
// endpoint, which checks every signature with @smithy/signature-v4 and every
// SubmitJob/ListJobs body against the documented shapes, records the jobs
// and answers ListJobs from them.  /usr/bin/aws uploads, as a user would.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';
import * as O from './lib/options_job.mjs';
import { start, stop } from '../aws-rig/index.mjs';

const TOOL = path.join(C.BUILD_DIR, 'common', 'aws', 'cirrus-aws-tool');
const WORKER = path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
const AWS_CLI = '/usr/bin/aws';
const missing = !fs.existsSync(WORKER) ? `${WORKER} is not built`
    : !fs.existsSync(TOOL) ? `${TOOL} is not built`
        : !fs.existsSync(AWS_CLI) ? 'awscli is not installed' : false;

const QUEUE = 'cirrus-transcode-queue';
const DEFINITION = 'cirrus-transcode:7';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let rig, tmp;

function tool(args) {
    const r = spawnSync(TOOL, args, { env: rig.env(), encoding: 'utf8',
        timeout: 60000 });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
}

function upload(key) {
    const f = path.join(tmp, 'upload.bin');
    fs.writeFileSync(f, `media for ${key}`);
    const r = spawnSync(AWS_CLI, ['--endpoint-url', rig.s3, 's3', 'cp', f,
        `s3://cirrus-in/${key}`], { env: rig.env(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
}

// The dispatcher; the Batch endpoint given by option, not by environment.
function startDispatcher() {
    const env = rig.env();
    delete env.AWS_ENDPOINT_URL_BATCH;
    const sets = { intake: 'sqs', dispatch: 'batch', sqs_queue_url: rig.queueUrl,
        batch_job_queue: QUEUE, batch_job_definition: DEFINITION,
        batch_endpoint: rig.batch, batch_region: rig.region,
        out_root: 's3://cirrus-out/vod', default_preset: 'web',
        presets_dir: C.PRESETS_DIR, visibility_seconds: 5 };
    const args = Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const w = spawn(WORKER, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    w.log = '';
    w.stdout.on('data', (d) => { w.log += d; });
    w.stderr.on('data', (d) => { w.log += d; });
    w.exited = new Promise((ok) => w.on('exit', (code) => ok(code)));
    return w;
}

async function waitFor(what, fn, w, ms = 30000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        const v = await fn();
        if (v)
            return v;
        await sleep(150);
    }
    throw new Error(`timed out waiting for ${what}\n${w ? w.log.slice(-3000) : ''}`);
}

async function stopWorker(w) {
    w.kill('SIGTERM');
    const code = await w.exited;
    assert.equal(code, 0, w.log.slice(-2000));
}

function queueDepth() {
    // what is visible now (the dispatcher is stopped when this is called)
    return JSON.parse(tool(['sqs-recv', rig.queueUrl, '1'])).length;
}

describe('intake dispatch to AWS Batch', { skip: missing }, () => {
    let w;
    before(async () => {
        rig = await start({ visibility: 3, maxReceiveCount: 5 });
        tmp = C.tmpDir('cirrus-batch-');
        w = startDispatcher();
    });
    after(async () => {
        if (w && w.exitCode === null)
            w.kill('SIGKILL');
        await stop(rig);
    });

    test('an upload: exactly one signed SubmitJob with the right parameters', async () => {
        upload('web/clip-one.mp4');
        const jobs = await waitFor('a submitted job', async () => {
            const s = await rig.submitted();
            return s.length >= 1 && s;
        }, w);
        await sleep(1500);
        assert.equal((await rig.submitted()).length, 1, 'exactly one');
        const j = jobs[0];
        assert.equal(j.jobQueue, QUEUE);
        assert.equal(j.jobDefinition, DEFINITION);
        const { publish_tag: tag, ...rest } = j.parameters;
        assert.deepEqual(rest, { input: 's3://cirrus-in/web/clip-one.mp4',
            output: 's3://cirrus-out/vod/web/clip-one', preset: 'web' });
        // the upload's identity: cirrus-transcode --publish-tag Ref::publish_tag
        assert.match(tag, /^[0-9a-f]{64}$/);
        assert.match(j.jobName, /^cirrus-[0-9a-f]{64}$/);
        const calls = await rig.batchCalls();
        assert.equal(calls.submitjob, 1);
        assert.equal(calls.listjobs, 1, 'asked Batch first');
        const st = await rig.stats();
        assert.equal(st.rejected, 0, 'every signature verified');
        assert.match(w.log, new RegExp(`submitted s3://cirrus-in/web/clip-one.mp4 .* as Batch job ${j.jobId}`));
    });

    test('the same event redelivered: no second SubmitJob', async () => {
        const events = await rig.events();
        assert.equal(events.length, 1);
        const before = await rig.batchCalls();
        // S3 delivers at least once: the same notification twice more
        tool(['sqs-send', rig.queueUrl, events[0]]);
        tool(['sqs-send', rig.queueUrl, events[0]]);
        await waitFor('two lookups', async () =>
            (await rig.batchCalls()).listjobs >= before.listjobs + 2, w);
        await sleep(500);
        const after = await rig.batchCalls();
        assert.equal(after.submitjob, before.submitjob, 'not submitted again');
        assert.equal((await rig.submitted()).length, 1);
        assert.equal(w.log.match(/Batch has this job already/g)?.length, 2);
    });

    test('a key with spaces, plus signs and unicode', async () => {
        const key = 'mobile/My Clip +1 ünïcødé ファイル.mov';
        upload(key);
        const job = await waitFor('the job', async () =>
            (await rig.submitted()).find((j) => j.parameters.input.includes('ünïcødé')), w);
        const { publish_tag: tag, ...rest } = job.parameters;
        assert.deepEqual(rest, { input: `s3://cirrus-in/${key}`,
            output: 's3://cirrus-out/vod/mobile/My Clip +1 ünïcødé ファイル',
            preset: 'mobile' });
        assert.match(tag, /^[0-9a-f]{64}$/);
        assert.match(job.jobName, /^cirrus-[0-9a-f]{64}$/);
        // a new upload of the same key is a new version: a new job, with
        // another publication tag (it publishes a new version)
        upload(key);
        await waitFor('the second version', async () =>
            (await rig.submitted()).filter((j) => j.parameters.input.includes('ünïcødé')).length === 2, w);
        const both = (await rig.submitted()).filter((j) => j.parameters.input.includes('ünïcødé'));
        assert.notEqual(both[0].jobName, both[1].jobName);
        assert.notEqual(both[0].parameters.publish_tag, both[1].parameters.publish_tag);
    });

    test('Batch answering 500 and throttling: retried, submitted once', async () => {
        const before = await rig.batchCalls();
        await rig.batchFaults([
            { op: 'submitjob', status: 500, code: 'ServerException' },
            { op: 'submitjob', status: 429, code: 'TooManyRequestsException' },
            { op: 'listjobs', status: 503, code: 'ServerException' }]);
        upload('web/retried.mp4');
        const job = await waitFor('the job', async () =>
            (await rig.submitted()).find((j) => j.parameters.input.endsWith('retried.mp4')), w);
        const after = await rig.batchCalls();
        assert.equal(after.failed, before.failed + 3, 'all three faults met');
        assert.equal(after.submitjob, before.submitjob + 3);
        assert.equal((await rig.submitted()).filter((j) => j.jobName === job.jobName).length, 1);
        assert.match(w.log, /retrying \(\d+\/\d+\) in [\d.]+ s after: HTTP 500 ServerException.*\(POST \/v1\/submitjob on batch\)/);
        assert.match(w.log, /retrying \(\d+\/\d+\) in [\d.]+ s after: HTTP 429 TooManyRequestsException.*\(POST \/v1\/submitjob on batch\)/);
    });

    test('Batch refusing a job (4xx): message kept, error logged', async () => {
        await rig.batchFaults([{ op: 'submitjob', status: 400, code: 'ClientException' }]);
        const before = (await rig.batchCalls()).submitjob;
        upload('web/refused.mp4');
        await waitFor('the refusal', async () =>
            /Batch refused the job, message kept: SubmitJob: .*HTTP 400 ClientException/.test(w.log), w);
        assert.equal((await rig.batchCalls()).submitjob, before + 1, 'a 4xx is not retried');
        await stopWorker(w);
        assert.equal((await rig.submitted()).filter((j) =>
            j.parameters.input.endsWith('refused.mp4')).length, 0);
        // the message comes back after its visibility timeout
        await sleep(5500);
        const back = JSON.parse(tool(['sqs-recv', rig.queueUrl, '2']));
        assert.equal(back.length, 1);
        assert.match(back[0].body, /refused\.mp4/);
        assert.ok(back[0].receive_count >= 2, 'delivered before');
        // a dispatcher started later submits it
        await sleep(5500);
        w = startDispatcher();
        await waitFor('submitted at last', async () =>
            (await rig.submitted()).some((j) => j.parameters.input.endsWith('refused.mp4')), w);
        await stopWorker(w);
        await sleep(5500);
        assert.equal(queueDepth(), 0, 'nothing left in the queue');
        assert.equal((await rig.stats()).rejected, 0);
    });

    // A job document with an inline preset, rungs, a clip and an overlay:
    // submitted (not refused), its options in containerOverrides'
    // environment; cirrus-transcode run with the job definition's command
    // (deploy/terraform) and what the rig recorded makes the job's asset.
    test('a job\'s own options: passed to the container, the same job there', async () => {
        w = startDispatcher();
        const out = path.join(tmp, 'batch-opts');
        const doc = { input: `file://${C.sample(O.INPUT)}`, output: `file://${out}`,
            id: 'opts-1', only: 'hls', preset: O.PRESET, rungs: O.RUNGS, clip: O.CLIP,
            overlay: O.overlay(tmp) };
        tool(['sqs-send', rig.queueUrl, JSON.stringify(doc)]);
        const job = await waitFor('the job', async () =>
            (await rig.submitted()).find((j) => j.parameters.output === doc.output), w);
        await stopWorker(w);
        assert.equal(job.parameters.preset, 'two');
        const env = Object.fromEntries(job.containerOverrides.environment
            .map((e) => [e.name, e.value]));
        assert.deepEqual(Object.keys(env).sort(), ['CIRRUS_TRANSCODE_CLIP',
            'CIRRUS_TRANSCODE_ONLY', 'CIRRUS_TRANSCODE_OVERLAY',
            'CIRRUS_TRANSCODE_PRESET_JSON', 'CIRRUS_TRANSCODE_RUNGS']);
        assert.deepEqual(JSON.parse(env.CIRRUS_TRANSCODE_CLIP), { start: 1, end: 4 });
        assert.deepEqual(JSON.parse(env.CIRRUS_TRANSCODE_RUNGS), O.RUNGS);
        assert.deepEqual(JSON.parse(env.CIRRUS_TRANSCODE_PRESET_JSON), O.PRESET);
        // the job definition's command, its Ref:: parameters from the job
        // (else the definition's defaults), as Batch substitutes them
        const tf = fs.readFileSync(path.join(C.SOURCE_DIR, 'deploy', 'terraform', 'modules',
            'batch', 'main.tf'), 'utf8');
        const command = JSON.parse(`[${/command = \[([^\]]*)\]/.exec(tf)[1]
            .replace(/,\s*$/, '')}]`);
        const defaults = { publish_tag: 'none', subtitles: '[]' };
        const argv = command.map((a) => a.replace(/^Ref::(\w+)$/, (_, k) =>
            job.parameters[k] ?? defaults[k]));
        assert.equal(argv[0], 'cirrus-transcode');
        const r = spawnSync(C.TRANSCODE_BIN, argv.slice(1), { encoding: 'utf8',
            timeout: 300000, env: { PATH: process.env.PATH,
                CIRRUS_PRESETS_DIR: C.PRESETS_DIR, ...env } });
        assert.equal(r.status, 0, r.stderr + r.stdout);
        O.checkOutput(out, tmp);
    });
});
