// The clients tests drive the rig with: our own cirrus-aws-tool, the AWS
// CLI (a client we did not write) and the worker, with the check that they
// are there.  Each takes the rig from start() (index.mjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as C from '../integration/lib/cirrus.mjs';

export const TOOL = path.join(C.BUILD_DIR, 'common', 'aws', 'cirrus-aws-tool');
export const WORKER = path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker');
export const AWS_CLI = '/usr/bin/aws';

// Why a test cannot run here, or false.
export function missing() {
    return !fs.existsSync(WORKER) ? `${WORKER} is not built`
        : !fs.existsSync(TOOL) ? `${TOOL} is not built`
            : !fs.existsSync(AWS_CLI) ? 'awscli is not installed' : false;
}

// cirrus-aws-tool with the rig's credentials; its exit status must be one
// of `allow`.
export function tool(rig, args, { allow = [0] } = {}) {
    const r = spawnSync(TOOL, args, { env: rig.env(), encoding: 'utf8',
        timeout: 60000 });
    assert.ok(allow.includes(r.status), `${args.join(' ')}: ${r.status} ${r.stderr}`);
    return r;
}

// A file into the notifying bucket with the AWS CLI, as a user uploads.
export function upload(rig, file, key) {
    const r = spawnSync(AWS_CLI, ['--endpoint-url', rig.s3, 's3', 'cp', file,
        `s3://cirrus-in/${key}`], { env: rig.env(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
}
