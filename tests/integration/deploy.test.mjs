// deploy/: the AWS side checked offline.  Terraform cannot download its
// providers here: `terraform validate` runs when a local copy of the AWS
// provider is at hand (CIRRUS_TF_PLUGIN_DIR, default /opt/tf-plugins), and
// every .tf file is parsed with @cdktf/hcl2json and checked for what would
// break an apply or the product: variables, module wiring, the CloudFront
// cache key and bucket grants, the Batch retry strategy against the
// transcoder's documented exit codes, the DLQ, the policies' conditions.
// Then the Grafana dashboard against the metrics the C sources export, the
// Dockerfile against the CMake targets, the systemd units with
// systemd-analyze, and the production nginx config (the live hosts' peer
// fallback) with the real module on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { BUILD_DIR, SOURCE_DIR, tmpDir } from './lib/cirrus.mjs';
import { LIVE_FEED_BIN, MODULE_SO, NGINX_BIN, consoleLibs, freePort } from
    './lib/nginx.mjs';

const DEPLOY = path.join(SOURCE_DIR, 'deploy');
const TF_ROOT = path.join(DEPLOY, 'terraform');
const read = (...p) => fs.readFileSync(path.join(...p), 'utf8');

function which(cmd) {
    for (const dir of (process.env.PATH || '').split(':')) {
        const f = path.join(dir, cmd);
        try {
            fs.accessSync(f, fs.constants.X_OK);
            return f;
        } catch {
            /* next */
        }
    }
    return null;
}

// Every Terraform module directory: { dir: { files: {name: json}, merged } }
// where merged concatenates the blocks of all its files.
async function loadModules() {
    const mods = {};
    const walk = async (dir) => {
        const tf = fs.readdirSync(dir).filter((f) => f.endsWith('.tf'));
        if (tf.length) {
            const m = { files: {}, merged: {} };
            for (const f of tf) {
                const j = await parse(f, read(dir, f));
                m.files[f] = j;
                for (const [kind, blocks] of Object.entries(j)) {
                    if (Array.isArray(blocks)) { // terraform {}, locals {}
                        m.merged[kind] = [...(m.merged[kind] || []), ...blocks];
                        continue;
                    }
                    m.merged[kind] = m.merged[kind] || {};
                    for (const [k, v] of Object.entries(blocks)) {
                        if (kind === 'resource' || kind === 'data') {
                            m.merged[kind][k] = { ...m.merged[kind][k], ...v };
                        } else if (Array.isArray(v)) {
                            m.merged[kind][k] = [...(m.merged[kind][k] || []),
                                ...v];
                        } else {
                            m.merged[kind][k] = v;
                        }
                    }
                }
            }
            mods[dir] = m;
        }
        for (const e of fs.readdirSync(dir, { withFileTypes: true }))
            if (e.isDirectory() && !e.name.startsWith('.'))
                await walk(path.join(dir, e.name));
    };
    await walk(TF_ROOT);
    return mods;
}

const first = (v) => (Array.isArray(v) ? v[0] : v);
// `locals` parses as a list of blocks (one per `locals {}`): merge them.
const localsOf = (m) => Object.assign({}, ...(m.merged.locals || []));
const refs = (obj, re) => new Set([...JSON.stringify(obj).matchAll(re)]
    .map((x) => x[1]));

// The transcoder's exit codes as docs/transcode.md documents them:
// | code | meaning | retry? |  ->  [{ code, retry }]
function documentedExitCodes() {
    const doc = read(SOURCE_DIR, 'docs', 'transcode.md');
    const lines = doc.split('\n');
    const start = lines.findIndex((l) => /^\|\s*exit code\s*\|/i.test(l));
    assert.ok(start >= 0, 'docs/transcode.md has an "exit code" table');
    const rows = [];
    for (const l of lines.slice(start + 2)) {
        if (!l.startsWith('|'))
            break;
        const cells = l.split('|').slice(1, -1).map((c) => c.trim());
        rows.push({ code: Number(cells[0]), meaning: cells[1],
            retry: /^yes\b/i.test(cells[2]) });
    }
    return rows;
}

// The enum in the header (CIR_EXIT_<NAME> = <n>).
function headerExitCodes() {
    const h = read(SOURCE_DIR, 'transcoder', 'include', 'cir_transcode.h');
    return new Map([...h.matchAll(/CIR_EXIT_([A-Z_]+)\s*=\s*(\d+)/g)]
        .map((m) => [m[1], Number(m[2])]));
}

// AWS Batch's matching: a glob where only a trailing * is special.
function batchGlob(pattern, value) {
    if (pattern === undefined || pattern === null)
        return true;
    if (value === undefined || value === null)
        return false;
    return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1))
        : value === pattern;
}

// First matching evaluateOnExit entry decides; none matching retries.
function batchDecision(entries, { exitCode, reason, statusReason }) {
    for (const e of entries) {
        const conds = [
            [e.on_exit_code, exitCode === undefined ? null : String(exitCode)],
            [e.on_reason, reason],
            [e.on_status_reason, statusReason],
        ].filter(([p]) => p !== undefined && p !== null);
        assert.ok(conds.length, 'an evaluate_on_exit entry has a condition');
        if (conds.every(([p, v]) => batchGlob(p, v)))
            return e.action.toUpperCase();
    }
    return 'RETRY';
}

// Metric names the C sources export: literal names, plus names composed
// from a "cirrus_..._%s" format and the string literals of the same file.
function exportedMetrics() {
    const files = [];
    for (const dir of ['nginx-module', 'ingest/src', 'ingest/tools',
        'transcoder/src', 'common/src']) {
        const d = path.join(SOURCE_DIR, dir);
        if (!fs.existsSync(d))
            continue;
        for (const f of fs.readdirSync(d))
            if (f.endsWith('.c'))
                files.push(path.join(d, f));
    }
    const names = new Set();
    for (const f of files) {
        const src = fs.readFileSync(f, 'utf8');
        const literals = [...src.matchAll(/"((?:[^"\\\n]|\\.)*)"/g)]
            .map((m) => m[1]);
        const words = new Set(literals.filter((s) => /^[a-z0-9_]+$/.test(s)));
        for (const s of literals) {
            for (const m of s.matchAll(/\bcirrus_[a-z0-9_]*[a-z0-9]/g))
                names.add(m[0]);
            for (const m of s.matchAll(/\b(cirrus_[a-z0-9_]*_)%s/g))
                for (const w of words)
                    names.add(m[1] + w);
        }
    }
    return names;
}

// Label names of the samples the metrics renderers print (`name=\"` in a
// C string of a file that prints `# TYPE`).
function exportedLabels() {
    const labels = new Set();
    for (const f of ['nginx-module/ngx_http_cirrus_metrics.c',
        'ingest/src/status.c', 'ingest/src/dispatch_report.c',
        'ingest/src/notify.c']) {
        const src = read(SOURCE_DIR, f);
        assert.match(src, /# TYPE /, `${f} renders metrics`);
        for (const m of src.matchAll(/\b([a-z_]+)=\\"/g))
            labels.add(m[1]);
    }
    return labels;
}

function get(port, urlPath, headers = {}) {
    return new Promise((ok, fail) => {
        const req = http.get({ host: '127.0.0.1', port, path: urlPath,
            headers, agent: false }, (res) => {
            let body = '';
            res.setEncoding('latin1');
            res.on('data', (d) => (body += d));
            res.on('end', () => ok({ status: res.statusCode, body }));
        });
        req.on('error', fail);
        req.setTimeout(20000, () => req.destroy(new Error('timeout')));
    });
}

describe('deploy: Terraform', () => {
    let mods;
    let root;
    before(async () => {
        mods = await loadModules();
        root = mods[TF_ROOT];
        assert.ok(root, 'deploy/terraform has .tf files');
    });

    test('terraform fmt -check -recursive', (t) => {
        const tf = which('terraform');
        if (!tf) {
            t.diagnostic('terraform is not on PATH (Debian has no package): '
                + 'fmt not checked');
            t.skip('no terraform');
            return;
        }
        const r = spawnSync(tf, ['fmt', '-check', '-recursive', TF_ROOT],
            { encoding: 'utf8' });
        assert.equal(r.status, 0, `unformatted:\n${r.stdout}${r.stderr}`);
    });

    test('live hosts\' user data renders (terraform console) and parses '
        + '(bash -n)', (t) => {
        const tf = which('terraform');
        if (!tf) {
            t.skip('no terraform');
            return;
        }
        const tpl = path.join(TF_ROOT, 'modules', 'live_hosts',
            'user_data.sh.tftpl');
        // the template's variables are the ones main.tf passes
        const lt = read(TF_ROOT, 'modules', 'live_hosts', 'main.tf');
        const passed = lt.match(/templatefile\([^{]*\{([\s\S]*?)\}\)\)/)[1];
        const names = [...passed.matchAll(/^\s*(\w+)\s*=/gm)].map((m) => m[1]);
        for (const keys of ['', '/cirrus/stream-keys']) {
            const vars = names.map((n) => `${n} = ${/port$/.test(n) ? 8080
                : JSON.stringify(n === 'stream_keys_parameter' ? keys
                    : `x-${n}`)}`).join(', ');
            const cwd = tmpDir('deploy-console-');
            const r = spawnSync(tf, ['console'], { cwd, encoding: 'utf8',
                input: `templatefile(${JSON.stringify(tpl)}, { ${vars} })\n` });
            assert.equal(r.status, 0, r.stderr);
            const lines = r.stdout.trim().split('\n');
            assert.match(lines[0], /^<<EOT/);
            const script = path.join(cwd, 'user_data.sh');
            fs.writeFileSync(script, `${lines.slice(1, -1).join('\n')}\n`);
            const b = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
            assert.equal(b.status, 0, b.stderr);
            const text = read(script);
            assert.equal(text.includes('CIRRUS_INGEST_KEY_FILE'), keys !== '');
            assert.match(text, /systemctl enable --now cirrus-ingest\.service cirrus-origin\.service/);
        }
    });

    test('terraform validate, and terraform test (mocked plans), with a local AWS provider', (t) => {
        const tf = which('terraform');
        const plugins = process.env.CIRRUS_TF_PLUGIN_DIR || '/opt/tf-plugins';
        if (!tf || !fs.existsSync(path.join(plugins, 'registry.terraform.io',
            'hashicorp', 'aws'))) {
            t.diagnostic(`no terraform or no AWS provider under ${plugins}: `
                + 'validate not run');
            t.skip('no provider');
            return;
        }
        const dir = path.join(tmpDir('deploy-validate-'), 'terraform');
        fs.cpSync(TF_ROOT, dir, { recursive: true, filter: (src) =>
            !/(^|\/)\.terraform(\.lock\.hcl)?$/.test(src) });
        const run = (...args) => spawnSync(tf, args, { cwd: dir,
            encoding: 'utf8', timeout: 300000,
            env: { ...process.env, TF_IN_AUTOMATION: '1' } });
        const init = run('init', '-backend=false', '-input=false',
            `-plugin-dir=${plugins}`);
        assert.equal(init.status, 0, init.stdout + init.stderr);
        const v = run('validate', '-no-color');
        assert.equal(v.status, 0, v.stdout + v.stderr);
        assert.match(v.stdout, /configuration is valid/);
        // plans against a mocked provider (tests/*.tftest.hcl): the worker
        // service with and without the job API
        const tt = run('test', '-no-color');
        assert.equal(tt.status, 0, tt.stdout + tt.stderr);
        const passed = /Success! (\d+) passed, 0 failed/.exec(tt.stdout);
        assert.ok(passed && Number(passed[1]) >= 4, tt.stdout);
    });

    test('versions: terraform >= 1.5, hashicorp/aws ~> 5', () => {
        const tfb = first(root.merged.terraform);
        assert.match(tfb.required_version, />=\s*1\.5/);
        const aws = first(tfb.required_providers).aws;
        assert.equal(aws.source, 'hashicorp/aws');
        assert.match(aws.version, /~>\s*5\./);
    });

    test('every var.X used in a module is declared there', () => {
        for (const [dir, m] of Object.entries(mods)) {
            const declared = new Set(Object.keys(m.merged.variable || {}));
            for (const v of refs(m.files, /\bvar\.([A-Za-z_][\w-]*)/g))
                assert.ok(declared.has(v),
                    `${path.relative(TF_ROOT, dir) || '.'}: var.${v} `
                    + 'is not declared');
            // and every declared variable has a description and a type
            for (const [name, b] of Object.entries(m.merged.variable || {})) {
                assert.ok(first(b).description, `${dir}: ${name} description`);
                assert.ok(first(b).type, `${dir}: ${name} type`);
            }
        }
    });

    test('every local.X used is defined in its module', () => {
        for (const [dir, m] of Object.entries(mods)) {
            const defined = new Set(Object.keys(localsOf(m)));
            for (const v of refs(m.files, /\blocal\.([A-Za-z_][\w]*)/g))
                assert.ok(defined.has(v), `${dir}: local.${v} undefined`);
        }
    });

    test('module calls: sources exist, required variables passed, no '
        + 'unknown arguments, module outputs exist', () => {
        const meta = new Set(['source', 'providers', 'count', 'for_each',
            'depends_on', 'version']);
        let calls = 0;
        for (const [dir, m] of Object.entries(mods)) {
            for (const [name, blocks] of Object.entries(m.merged.module || {})) {
                const call = first(blocks);
                const target = path.resolve(dir, call.source);
                const callee = mods[target];
                assert.ok(callee, `module ${name}: no .tf in ${call.source}`);
                const vars = callee.merged.variable || {};
                for (const [v, b] of Object.entries(vars))
                    if (!('default' in first(b)))
                        assert.ok(v in call,
                            `module ${name}: required ${v} not passed`);
                for (const arg of Object.keys(call))
                    if (!meta.has(arg))
                        assert.ok(arg in vars,
                            `module ${name}: ${arg} is not a variable of `
                            + call.source);
                calls++;
            }
            // module.<name>.<output> references resolve
            for (const r of JSON.stringify(m.files)
                .matchAll(/\bmodule\.(\w+)(?:\[\d+\])?\.(\w+)/g)) {
                const call = first((m.merged.module || {})[r[1]]);
                assert.ok(call, `${dir}: module.${r[1]} is not declared`);
                const callee = mods[path.resolve(dir, call.source)];
                assert.ok((callee.merged.output || {})[r[2]],
                    `module.${r[1]}.${r[2]}: no such output`);
            }
        }
        assert.ok(calls >= 8, `the root calls the modules (${calls})`);
    });

    test('CloudFront: live cache key is exactly _HLS_msn, _HLS_part, '
        + '_HLS_skip; OAC, Origin Shield, secret header, 1 s error TTL', () => {
        const cdn = mods[path.join(TF_ROOT, 'modules', 'cdn')];
        const res = cdn.merged.resource;
        const live = first(res.aws_cloudfront_cache_policy.live_playlist);
        const p = first(live.parameters_in_cache_key_and_forwarded_to_origin);
        const qs = first(p.query_strings_config);
        assert.equal(qs.query_string_behavior, 'whitelist');
        assert.deepEqual([...first(qs.query_strings).items].sort(),
            ['_HLS_msn', '_HLS_part', '_HLS_skip']);
        assert.equal(first(p.headers_config).header_behavior, 'none');
        assert.equal(first(p.cookies_config).cookie_behavior, 'none');

        const dist = first(res.aws_cloudfront_distribution.this);
        const behaviors = dist.ordered_cache_behavior;
        const byPath = Object.fromEntries(behaviors.map((b) =>
            [b.path_pattern, b]));
        for (const pat of ['/live/*.m3u8', '/live/*.mpd'])
            assert.match(byPath[pat].cache_policy_id,
                /aws_cloudfront_cache_policy\.live_playlist\.id/, pat);
        assert.match(byPath['/live/*'].cache_policy_id, /segments/);
        assert.ok(byPath['/vod/*'], '/vod/* behavior');

        // Origins: S3 through OAC, the ALB with the secret header; Shield on.
        const origins = dist.origin;
        const s3 = origins.find((o) => o.origin_access_control_id);
        assert.ok(s3, 'an S3 origin with OAC');
        const alb = origins.find((o) => o.custom_origin_config);
        const hdr = first(alb.custom_header);
        assert.equal(hdr.name, '${var.origin_secret_header}');
        assert.equal(hdr.value, '${var.origin_secret}');
        for (const o of [s3, alb])
            assert.equal(first(o.origin_shield).enabled, true);
        const secretVar = first(cdn.merged.variable.origin_secret);
        assert.equal(secretVar.sensitive, true);
        assert.equal(first(root.merged.variable.origin_secret).sensitive, true);

        // Origin group (failover) is declared for /vod/*.
        assert.ok(dist.dynamic.origin_group, 'origin group for VOD');
        // Both /vod/* buckets let this distribution read through OAC: the
        // replica's policy too (without it the failover answers 403).
        const failover = first(dist.dynamic.origin).content[0];
        assert.ok(failover.origin_access_control_id, 'the replica via OAC');
        assert.match(failover.domain_name,
            /data\.aws_s3_bucket\.replica\[0\]\.bucket_regional_domain_name/);
        const vb = localsOf(cdn).vod_buckets;
        assert.match(vb, /outputs\s*=\s*var\.outputs_bucket_arn/);
        assert.match(vb, /replica\s*=\s*data\.aws_s3_bucket\.replica\[0\]\.arn/);
        const doc = first(cdn.merged.data.aws_iam_policy_document.vod_bucket);
        assert.equal(doc.for_each, '${local.vod_buckets}');
        const reads = doc.statement.find((x) => x.sid === 'CloudFrontReads');
        assert.deepEqual(reads.resources, ['${each.value}/*']);
        assert.deepEqual(first(reads.principals).identifiers,
            ['cloudfront.amazonaws.com']);
        const cond = first(reads.condition);
        assert.equal(cond.variable, 'AWS:SourceArn');
        assert.deepEqual(cond.values,
            ['${aws_cloudfront_distribution.this.arn}']);
        const bp = cdn.merged.resource.aws_s3_bucket_policy;
        assert.match(first(bp.outputs).policy, /vod_bucket\["outputs"\]\.json/);
        const rp = first(bp.replica);
        assert.match(rp.policy, /vod_bucket\["replica"\]\.json/);
        assert.equal(rp.provider, '${aws.replica}');
        assert.match(rp.count, /local\.failover \? 1 : 0/);
        assert.equal(first(cdn.merged.data.aws_s3_bucket.replica).provider,
            '${aws.replica}');
        const call = first(root.merged.module.cdn);
        assert.equal(first(call.providers)['aws.replica'], '${aws.replica}');
        assert.ok(root.merged.provider.aws.some((pr) => pr.alias === 'replica'),
            'the root configures the replica\'s provider');

        // Custom error responses cache about a second.
        const errs = first(dist.dynamic.custom_error_response);
        const ttl = first(errs.content).error_caching_min_ttl;
        assert.equal(ttl, '${var.error_caching_min_ttl}');
        const def = first(cdn.merged.variable.error_caching_min_ttl).default;
        assert.ok(def >= 1 && def <= 2, `error TTL ${def}`);
        for (const code of [404, 500, 503])
            assert.ok(errs.for_each.includes(code), `error ${code}`);
    });

    test('the origin secret header is the module\'s cirrus_origin_secret '
        + 'directive in the production nginx config', () => {
        const src = read(SOURCE_DIR, 'nginx-module', 'ngx_http_cirrus_module.c');
        assert.match(src, /ngx_string\("cirrus_origin_secret"\)/);
        const conf = read(DEPLOY, 'nginx', 'cirrus-origin.conf.in');
        assert.match(conf, /cirrus_origin_secret @SECRET_HEADER@ @SECRET@;/);
        const origin = read(DEPLOY, 'scripts', 'cirrus-origin');
        assert.match(origin, /CIRRUS_ORIGIN_SECRET_HEADER/);
        const ud = read(TF_ROOT, 'modules', 'live_hosts', 'user_data.sh.tftpl');
        assert.match(ud, /CIRRUS_ORIGIN_SECRET_HEADER=\$\{secret_header\}/);
    });

    test('Batch retry strategy follows the documented exit codes', () => {
        const doc = documentedExitCodes();
        const header = headerExitCodes();
        // the documented table and the header's enum name the same codes
        assert.deepEqual(doc.map((r) => r.code).sort((a, b) => a - b),
            [...header.values()].sort((a, b) => a - b));
        assert.ok(doc.some((r) => r.retry) && doc.some((r) => !r.retry));
        assert.ok(doc.find((r) => r.code === header.get('TRANSIENT')).retry);

        const batch = mods[path.join(TF_ROOT, 'modules', 'batch')];
        const jd = first(batch.merged.resource.aws_batch_job_definition
            .transcode);
        const rs = first(jd.retry_strategy);
        const entries = rs.evaluate_on_exit;
        assert.ok(entries.length >= 1 && entries.length <= 5,
            'Batch allows 1..5 evaluate_on_exit entries');
        assert.equal(rs.attempts, '${var.retry_attempts}');
        const attempts = first(mods[TF_ROOT].merged.variable
            .batch_retry_attempts).default;
        assert.ok(attempts >= 2, 'retries are possible by default');

        for (const r of doc) {
            if (r.code === 0)
                continue; // success: Batch evaluates nothing
            const got = batchDecision(entries, { exitCode: r.code, reason: '',
                statusReason: 'Essential container in task exited' });
            assert.equal(got, r.retry ? 'RETRY' : 'EXIT',
                `exit ${r.code} (${r.meaning})`);
        }
        // A reclaimed Spot host has no exit code: retried.
        assert.equal(batchDecision(entries, { statusReason:
            'Host EC2 (instance i-0123) terminated.' }), 'RETRY');

        // The command is the documented one, with the Ref:: parameters.
        const cp = jd.container_properties;
        assert.match(cp, /"cirrus-transcode",\s*"--input", "Ref::input",\s*"--output", "Ref::output",\s*"--preset", "Ref::preset",\s*"--publish-tag", "Ref::publish_tag"/);
        // a job submitted without the tag gets the default: no marker
        assert.equal(jd.parameters.publish_tag, 'none');
        const ce = first(batch.merged.resource.aws_batch_compute_environment
            .this);
        assert.match(first(ce.compute_resources).min_vcpus, /\b0\b/,
            'scales to zero');
    });

    // AWS Batch does not consult the retry strategy for an attempt it
    // ended at its timeout: no doc or comment may say otherwise, and the
    // worker's page (docs/vod-at-scale.md) and deploy/README say so.
    test('docs: a timed-out Batch attempt is not retried', () => {
        const files = ['README.md', 'docs/vod-at-scale.md',
            'deploy/README.md'];
        const walk = (d) => {
            for (const e of fs.readdirSync(path.join(SOURCE_DIR, d),
                { withFileTypes: true }))
                if (e.isDirectory() && !e.name.startsWith('.'))
                    walk(path.join(d, e.name));
                else if (e.name.endsWith('.tf'))
                    files.push(path.join(d, e.name));
        };
        walk('deploy/terraform');
        for (const f of files) {
            // sentences (comments joined: `#` and `//` dropped)
            const text = read(SOURCE_DIR, f).replace(/^\s*(#|\/\/)\s?/gm, '')
                .replace(/\s+/g, ' ');
            for (const sentence of text.split(/(?<=[.;!?])\s+|\s\|\s/)) {
                if (!/\bbatch\b|attempt|130/i.test(sentence)
                    || !/time[ds]?[- ]?out/i.test(sentence)
                    || !/\bretr(y|ied|ies|ying)\b/i.test(sentence))
                    continue;
                assert.match(sentence, /\b(not|never|no)\b|n't/,
                    `${f}: "${sentence}" says a timed-out attempt is retried`);
            }
        }
        for (const f of ['docs/vod-at-scale.md', 'deploy/README.md'])
            assert.match(read(SOURCE_DIR, f).replace(/\s+/g, ' '),
                /(timed-out attempt is not retried|at its timeout[^.]*never retried|does not retry an attempt it terminated for its timeout)/i, f);
        const batch = read(TF_ROOT, 'modules', 'batch', 'main.tf');
        assert.match(batch, /never retries a timed-out attempt/);
    });

    // docs/vod-at-scale.md says what the SQS intake does with a permanent
    // failure: parked in the DLQ by the redrive policy; deleted only
    // without one.  No other page may say otherwise.
    test('docs: a permanent failure on SQS is parked, not deleted', () => {
        const text = (f) => read(SOURCE_DIR, f).replace(/\s+/g, ' ');
        for (const f of ['README.md', 'docs/vod-at-scale.md'])
            for (const sentence of text(f).split(/(?<=[.;])\s+/))
                if (/permanent/i.test(sentence) && /\bdeleted\b/.test(sentence))
                    assert.match(sentence, /without a `?RedrivePolicy|never deleted while the queue has a dead-letter/,
                        `${f}: "${sentence}"`);
        assert.match(text('docs/vod-at-scale.md'),
            /a failed job is never deleted while the queue has a dead-letter queue/);
        const sqs = read(SOURCE_DIR, 'ingest', 'src', 'intake_sqs.c');
        assert.match(sqs, /permanent failure, message deleted \(the queue has no/);
    });

    test('SQS: DLQ redrive, queue policy for the bucket, ObjectCreated '
        + 'notification', () => {
        const q = mods[path.join(TF_ROOT, 'modules', 'queue')];
        const res = q.merged.resource;
        const jobs = first(res.aws_sqs_queue.jobs);
        assert.ok(res.aws_sqs_queue.dlq, 'a dead-letter queue');
        assert.match(jobs.redrive_policy,
            /deadLetterTargetArn\s*=\s*aws_sqs_queue\.dlq\.arn/);
        assert.match(jobs.redrive_policy,
            /maxReceiveCount\s*=\s*var\.max_receive_count/);
        const note = first(res.aws_s3_bucket_notification.uploads);
        const qn = first(note.dynamic.queue).content[0];
        assert.deepEqual(qn.events, ['s3:ObjectCreated:*']);
        assert.match(qn.queue_arn, /aws_sqs_queue\.jobs\.arn/);
        const pol = first(q.merged.data.aws_iam_policy_document.jobs);
        const st = first(pol.statement);
        assert.deepEqual(st.actions, ['sqs:SendMessage']);
        assert.deepEqual(first(st.principals).identifiers,
            ['s3.amazonaws.com']);
        // bound to our bucket and to our account (bucket names are global)
        const conds = Object.fromEntries(st.condition.map((c) =>
            [c.variable, c]));
        assert.deepEqual(conds['aws:SourceArn'].values,
            ['${var.uploads_bucket_arn}']);
        assert.equal(conds['aws:SourceAccount'].test, 'StringEquals');
        assert.deepEqual(conds['aws:SourceAccount'].values,
            ['${var.account_id}']);
        assert.equal(first(root.merged.module.queue).account_id,
            '${local.account_id}');
    });

    // S3's filter_suffix is case-sensitive: ".mp4" alone makes no job for
    // CLIP.MP4.  The notification registers every suffix as given, lower
    // and upper case; the expression is evaluated by terraform itself.
    test('S3 notification: suffixes in lower and upper case', (t) => {
        const q = mods[path.join(TF_ROOT, 'modules', 'queue')];
        const note = first(q.merged.resource.aws_s3_bucket_notification
            .uploads);
        const dyn = first(note.dynamic.queue);
        assert.match(dyn.for_each, /local\.upload_suffixes/);
        assert.doesNotMatch(dyn.for_each, /var\.upload_suffixes/);
        const expr = localsOf(q).upload_suffixes;
        assert.match(expr, /var\.upload_suffixes/);
        const tf = which('terraform');
        if (!tf) {
            t.skip('no terraform to evaluate the expression');
            return;
        }
        const evaluate = (suffixes) => {
            const e = expr.replace(/^\$\{([\s\S]*)\}$/, '$1')
                .replace(/\s+/g, ' ') // console reads one line
                .replaceAll('var.upload_suffixes', JSON.stringify(suffixes));
            const r = spawnSync(tf, ['console'], { cwd: tmpDir('deploy-sfx-'),
                encoding: 'utf8', input: `jsonencode(${e})\n` });
            assert.equal(r.status, 0, r.stderr);
            return JSON.parse(JSON.parse(r.stdout.trim()));
        };
        assert.deepEqual(evaluate(['.mp4', '.mov']).sort(),
            ['.MOV', '.MP4', '.mov', '.mp4']);
        assert.deepEqual(evaluate(['.Mp4']).sort(), ['.MP4', '.Mp4', '.mp4']);
        assert.deepEqual(evaluate([]), []);
    });

    // A policy that lets an AWS service act (S3 sends to SQS, CloudWatch
    // and EventBridge publish to SNS, CloudFront reads S3) names our
    // account or our resource, or another account's resource could use it.
    test('every service-principal grant is bound by aws:SourceAccount or '
        + 'aws:SourceArn', () => {
        let grants = 0;
        for (const [dir, m] of Object.entries(mods)) {
            const docs = m.merged.data?.aws_iam_policy_document || {};
            for (const [name, blocks] of Object.entries(docs)) {
                for (const st of first(blocks).statement || []) {
                    const service = (st.principals || []).some((p) =>
                        p.type === 'Service');
                    if (!service || (st.actions || []).includes('sts:AssumeRole'))
                        continue;
                    grants++;
                    const vars = (st.condition || []).map((c) =>
                        c.variable.toLowerCase());
                    assert.ok(vars.includes('aws:sourceaccount')
                        || vars.includes('aws:sourcearn'),
                    `${path.relative(TF_ROOT, dir)}: ${name}`
                        + ` ${st.sid || ''}: no aws:SourceAccount/SourceArn`);
                }
            }
        }
        assert.ok(grants >= 3, `service grants checked: ${grants}`);
        // the alarm topics: account-bound, both of them
        const mon = mods[path.join(TF_ROOT, 'modules', 'monitoring')];
        const topicDoc = first(mon.merged.data.aws_iam_policy_document
            .alarms_topic);
        const c = first(first(topicDoc.statement).condition);
        assert.equal(c.variable, 'aws:SourceAccount');
        assert.deepEqual(c.values, ['${var.account_id}']);
        const tp = mon.merged.resource.aws_sns_topic_policy;
        assert.match(first(tp.alarms).arn, /aws_sns_topic\.alarms\.arn/);
        assert.match(first(tp.alarms_us_east_1).arn,
            /aws_sns_topic\.alarms_us_east_1\.arn/);
        assert.equal(first(tp.alarms_us_east_1).provider, '${aws.us_east_1}');
    });

    // A HEAD of a missing key answers 403 without s3:ListBucket, which
    // reads as an auth failure (retried) instead of a missing input.
    test('the roles that read uploads may list the uploads bucket', () => {
        const w = mods[path.join(TF_ROOT, 'modules', 'worker_service')];
        const wdoc = first(w.merged.data.aws_iam_policy_document.task);
        const wst = first(wdoc.dynamic.statement.filter((d) =>
            first(d.content).sid === 'ListSources')).content[0];
        assert.deepEqual(wst.actions, ['s3:ListBucket']);
        assert.deepEqual(wst.resources, ['${var.uploads_bucket_arn}']);
        const b = mods[path.join(TF_ROOT, 'modules', 'batch')];
        const bdoc = first(b.merged.data.aws_iam_policy_document.job);
        const bst = bdoc.statement.find((x) => x.sid === 'ListSources');
        assert.ok(bst, 'the Batch job role lists the uploads bucket');
        assert.deepEqual(bst.actions, ['s3:ListBucket']);
        assert.deepEqual(bst.resources, ['${var.uploads_bucket_arn}']);
        // the same roles read the objects
        assert.ok(bdoc.statement.some((x) => x.sid === 'ReadSources'));
    });

    // README "Superseded versions expire": a publish tags the objects of
    // the version it replaced; the outputs bucket expires exactly those,
    // after the grace variable, and the roles that publish may tag.
    test('outputs: superseded versions expire by their tag after the grace '
        + 'variable; the publishing roles may tag them', () => {
        const h = read(SOURCE_DIR, 'transcoder', 'src', 'supersede.h');
        const tagKey = /#define CIR_SUPERSEDED_TAG\s+"([^"]+)"/.exec(h)[1];
        const tagValue = /#define CIR_SUPERSEDED_TAG_VALUE\s+"([^"]+)"/.exec(h)[1];
        const st = mods[path.join(TF_ROOT, 'modules', 'storage')];
        const lc = first(st.merged.resource.aws_s3_bucket_lifecycle_configuration.outputs);
        const rule = lc.rule.find((r) => r.id === 'expire-superseded-versions');
        assert.ok(rule, 'a lifecycle rule for superseded versions');
        assert.equal(rule.status, 'Enabled');
        assert.deepEqual(first(first(rule.filter).tag), { key: tagKey, value: tagValue });
        assert.equal(first(rule.expiration).days, '${var.superseded_expiration_days}');
        // no rule of the outputs bucket expires objects without the tag,
        // but those of the console's uploads and of the job store's
        // idempotency keys, under their prefixes only (tests below)
        const byPrefix = ['expire-console-uploads', 'expire-idempotency-keys'];
        for (const r of lc.rule.filter((x) => x !== rule && !byPrefix.includes(x.id)))
            assert.ok(!r.expiration, `rule ${r.id} expires untagged objects`);
        const grace = first(st.merged.variable.superseded_expiration_days);
        assert.equal(grace.default, 7);
        const top = first(root.merged.variable.superseded_expiration_days);
        assert.equal(top.default, 7);
        assert.ok(top.validation, 'the grace is validated');
        const call = first(root.merged.module.storage);
        assert.equal(call.superseded_expiration_days, '${var.superseded_expiration_days}');
        // the roles that publish: tag anything in outputs, delete records only
        const w = mods[path.join(TF_ROOT, 'modules', 'worker_service')];
        const wdoc = first(w.merged.data.aws_iam_policy_document.task);
        const wsid = (sid) => first(wdoc.dynamic.statement.filter((d) =>
            first(d.content).sid === sid)).content[0];
        const b = mods[path.join(TF_ROOT, 'modules', 'batch')];
        const bdoc = first(b.merged.data.aws_iam_policy_document.job);
        const bsid = (sid) => bdoc.statement.find((x) => x.sid === sid);
        for (const get of [wsid, bsid]) {
            assert.deepEqual(get('MarkSuperseded').actions, ['s3:PutObjectTagging']);
            assert.deepEqual(get('MarkSuperseded').resources, ['${var.outputs_bucket_arn}/*']);
            assert.deepEqual(get('ClearSupersededRecords').actions, ['s3:DeleteObject']);
            for (const r of get('ClearSupersededRecords').resources)
                assert.match(r, /\/\.superseded\/\*$/);
        }
    });

    // docs/api.md POST /uploads: the console's uploads land under the
    // worker's upload prefix in the outputs bucket and expire there after
    // a variable, and nothing else does by that rule.
    test('outputs: the console\'s uploads expire under the prefix the workers presign', () => {
        const st = mods[path.join(TF_ROOT, 'modules', 'storage')];
        const lc = first(st.merged.resource.aws_s3_bucket_lifecycle_configuration.outputs);
        const rule = lc.rule.find((r) => r.id === 'expire-console-uploads');
        assert.ok(rule, 'a lifecycle rule for the console\'s uploads');
        assert.equal(rule.status, 'Enabled');
        assert.equal(first(rule.filter).prefix, '${var.console_upload_prefix}/');
        assert.ok(!first(rule.filter).tag, 'by prefix, not by tag');
        assert.equal(first(rule.expiration).days, '${var.console_upload_expiration_days}');
        assert.equal(first(st.merged.variable.console_upload_expiration_days).default, 7);
        const top = first(root.merged.variable.console_upload_expiration_days);
        assert.equal(top.default, 7);
        assert.ok(top.validation, 'the days are validated');
        // one prefix: the storage module expires what the tasks presign
        const locals = localsOf(root);
        assert.equal(locals.console_upload_prefix, 'console-uploads');
        const sc = first(root.merged.module.storage);
        assert.equal(sc.console_upload_prefix, '${local.console_upload_prefix}');
        assert.equal(sc.console_upload_expiration_days, '${var.console_upload_expiration_days}');
        const wc = first(root.merged.module.worker_service);
        assert.equal(wc.upload_prefix, '${local.console_upload_prefix}');
        const ws = read(TF_ROOT, 'modules', 'worker_service', 'main.tf');
        assert.match(ws, /name = "CIRRUS_WORKER_UPLOAD_S3_URI", value = "s3:\/\/\$\{var\.outputs_bucket_id\}\/\$\{var\.upload_prefix\}\/"/);
    });

    // docs/api.md: a worker forgets an idempotency key after
    // api_idempotency_hours; the outputs bucket then deletes it, under the
    // job store's keys/ only, a day after that.
    test('outputs: the job store\'s idempotency keys expire a day after the workers forget them', () => {
        const st = mods[path.join(TF_ROOT, 'modules', 'storage')];
        const lc = first(st.merged.resource.aws_s3_bucket_lifecycle_configuration.outputs);
        const rule = lc.rule.find((r) => r.id === 'expire-idempotency-keys');
        assert.ok(rule, 'a lifecycle rule for the idempotency keys');
        assert.equal(rule.status, 'Enabled');
        assert.equal(first(rule.filter).prefix, '${var.idempotency_keys_prefix}');
        assert.equal(first(rule.expiration).days, '${var.idempotency_keys_expiration_days}');
        const top = first(root.merged.variable.job_api_idempotency_hours);
        assert.equal(top.default, 24);
        assert.ok(top.validation, 'the hours are validated');
        // one prefix: the store the tasks write (jobs_s3_uri) and its keys/
        const locals = localsOf(root);
        assert.equal(locals.jobs_prefix, 'cirrus-jobs');
        const sc = first(root.merged.module.storage);
        assert.equal(sc.idempotency_keys_prefix, '${local.jobs_prefix}/keys/');
        assert.equal(sc.idempotency_keys_expiration_days, '${ceil(var.job_api_idempotency_hours / 24) + 1}');
        const wc = first(root.merged.module.worker_service);
        assert.equal(wc.jobs_prefix, '${local.jobs_prefix}');
        assert.equal(wc.api_idempotency_hours, '${var.job_api_idempotency_hours}');
        const ws = read(TF_ROOT, 'modules', 'worker_service', 'main.tf');
        assert.match(ws, /name = "CIRRUS_WORKER_JOBS_S3_URI", value = "s3:\/\/\$\{var\.outputs_bucket_id\}\/\$\{var\.jobs_prefix\}"/);
        assert.match(ws, /name = "CIRRUS_WORKER_API_IDEMPOTENCY_HOURS", value = tostring\(var\.api_idempotency_hours\)/);
        // the worker's option it sets exists, with the same default
        const doc = read(SOURCE_DIR, 'docs', 'configuration.md');
        assert.match(doc, /\| `api_idempotency_hours` \| `CIRRUS_WORKER_API_IDEMPOTENCY_HOURS` \| `24` \|/);
    });

    // deploy/README.md "The job API and the console on AWS": optional
    // (job_api), the tasks open api_port behind an internal ALB, the token
    // comes from Secrets Manager through ECS secrets (never a plain
    // environment value), at least one task runs, the console proxies to it.
    test('worker service: the job API behind an internal ALB, its token a secret, never fewer than one task', () => {
        const w = mods[path.join(TF_ROOT, 'modules', 'worker_service')];
        const res = w.merged.resource;
        const ws = read(TF_ROOT, 'modules', 'worker_service', 'main.tf');
        assert.equal(first(w.merged.variable.job_api).default, false, 'off unless asked for');
        const locals = localsOf(w);
        assert.equal(locals.api, '${var.job_api && !local.batch}');
        assert.equal(locals.min_tasks, '${local.api ? max(var.min_tasks, 1) : var.min_tasks}');
        // the token: ECS secrets, from Secrets Manager; no env value holds it
        assert.match(ws, /name = "CIRRUS_WORKER_API_TOKEN", valueFrom = local\.api_token_secret_arn/);
        assert.doesNotMatch(ws, /name = "CIRRUS_WORKER_API_TOKEN", value =/);
        assert.match(ws, /secrets\s+= local\.secrets/);
        assert.match(ws, /name = "CIRRUS_WORKER_API_PORT", value = tostring\(local\.api_port\)/);
        assert.match(ws, /name = "CIRRUS_WORKER_API_LISTEN", value = "0\.0\.0\.0"/);
        assert.ok(res.aws_secretsmanager_secret.api_token);
        const exec = first(w.merged.data.aws_iam_policy_document.execution_secrets);
        assert.deepEqual(first(exec.statement).actions, ['secretsmanager:GetSecretValue']);
        assert.deepEqual(first(exec.statement).resources, ['${local.api_token_secret_arn}']);
        assert.equal(first(res.aws_iam_role_policy.execution_secrets).role, '${aws_iam_role.execution.id}',
            'the execution role reads it, not the task role');
        // an internal ALB, forwarding to the tasks' api_port, health on /healthz
        const alb = first(res.aws_lb.api);
        assert.equal(alb.internal, true);
        assert.equal(alb.load_balancer_type, 'application');
        assert.equal(alb.subnets, '${var.subnet_ids}');
        const tg = first(res.aws_lb_target_group.api);
        assert.equal(tg.target_type, 'ip');
        assert.equal(tg.port, '${local.api_port}');
        assert.equal(first(tg.health_check).path, '/healthz');
        assert.equal(first(tg.health_check).port, '${tostring(local.metrics_port)}');
        const svc = first(res.aws_ecs_service.worker);
        const lb = first(first(svc.dynamic.load_balancer).content);
        assert.equal(lb.target_group_arn, '${aws_lb_target_group.api[0].arn}');
        assert.equal(lb.container_port, '${local.api_port}');
        assert.equal(svc.desired_count, '${local.min_tasks}');
        // at least one task: the service, the scaling target and scale-in
        assert.equal(first(res.aws_appautoscaling_target.worker).min_capacity, '${local.min_tasks}');
        const inStep = first(first(first(res.aws_appautoscaling_policy.in)
            .step_scaling_policy_configuration).step_adjustment);
        assert.equal(inStep.scaling_adjustment, '${local.min_tasks}');
        // reached from the VPC (and the listed networks) only
        const ingress = first(res.aws_vpc_security_group_ingress_rule.api_clients);
        assert.match(ingress.for_each, /data\.aws_vpc\.this\.cidr_block\], var\.api_allowed_cidrs/);
        const tasks = first(res.aws_vpc_security_group_ingress_rule.tasks_api);
        assert.equal(tasks.referenced_security_group_id, '${aws_security_group.api[0].id}');
        // wired: root variables, outputs, and the live hosts' console
        const call = first(root.merged.module.worker_service);
        assert.equal(call.job_api, '${var.job_api}');
        assert.equal(call.api_token_secret_arn, '${var.job_api_token_secret_arn}');
        const pre = first(first(svc.lifecycle).precondition);
        assert.equal(pre.condition, '${!(var.job_api && local.batch)}', 'refused with dispatch = batch');
        assert.equal(first(root.merged.output.job_api_url).value, '${module.worker_service.job_api_url}');
        assert.equal(first(root.merged.output.job_api_token_secret_arn).value,
            '${module.worker_service.job_api_token_secret_arn}');
        assert.equal(first(root.merged.module.live_hosts).worker_api,
            '${module.worker_service.job_api_address}');
        const ud = read(TF_ROOT, 'modules', 'live_hosts', 'user_data.sh.tftpl');
        assert.match(ud, /echo CIRRUS_WORKER_API=\$\{worker_api\} >> \/etc\/cirrus\/origin\.env/);
        // the console's template proxies /api/jobs/ to CIRRUS_WORKER_API
        const tpl = read(DEPLOY, 'nginx', 'cirrus-origin.conf.in');
        assert.match(tpl, /location \/api\/jobs\/ \{\s*proxy_pass http:\/\/@WORKER_API@\/;/);
        assert.match(read(DEPLOY, 'scripts', 'cirrus-origin'), /worker_api=\$\{CIRRUS_WORKER_API:-/);
    });

    // docs/console.md: the console uploads into the host's upload folder,
    // or (CIRRUS_CONSOLE_UPLOAD=presigned, the live hosts with job_api)
    // straight to S3 through the job API; anything else is refused.
    test('cirrus-origin renders the console\'s upload mode', () => {
        const dir = tmpDir('deploy-render-');
        const render = (mode) => {
            const env = { ...process.env, CIRRUS_ORIGIN_SECRET_HEADER: 'X-Secret',
                CIRRUS_ORIGIN_SECRET: 's'.repeat(40),
                CIRRUS_NGINX_PREFIX: path.join(dir, 'run'),
                CIRRUS_PEERS_CONF: path.join(dir, 'peers.conf'),
                CIRRUS_LIVE_ROOT: path.join(dir, 'live'),
                CIRRUS_VOD_ROOT: path.join(dir, 'vod'),
                CIRRUS_UPLOAD_DIR: path.join(dir, 'uploads'),
                CIRRUS_NGINX_TEMPLATE: path.join(DEPLOY, 'nginx', 'cirrus-origin.conf.in'),
                CIRRUS_WORKER_API: 'internal-t-job-api-1234.eu-west-1.elb.amazonaws.com:80' };
            if (mode !== undefined)
                env.CIRRUS_CONSOLE_UPLOAD = mode;
            return spawnSync(path.join(DEPLOY, 'scripts', 'cirrus-origin'), ['--render-only'],
                { env, encoding: 'utf8' });
        };
        const consoleJson = (r) => {
            assert.equal(r.status, 0, r.stderr);
            const conf = fs.readFileSync(r.stdout.trim(), 'utf8');
            assert.doesNotMatch(conf, /@[A-Z_]+@/, 'every placeholder substituted');
            assert.match(conf, /proxy_pass http:\/\/internal-t-job-api-1234\.eu-west-1\.elb\.amazonaws\.com:80\/;/);
            const m = /location = \/api\/console\.json \{[^}]*return 200 '([^']*)';/.exec(conf);
            assert.ok(m, 'console.json is answered');
            return JSON.parse(m[1]);
        };
        assert.deepEqual(consoleJson(render()), { upload_dir: `${path.join(dir, 'uploads')}/` });
        assert.deepEqual(consoleJson(render('folder')), { upload_dir: `${path.join(dir, 'uploads')}/` });
        assert.deepEqual(consoleJson(render('presigned')), { upload: 'presigned' });
        const bad = render('s3');
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /CIRRUS_CONSOLE_UPLOAD: folder or presigned, not s3/);
        // the live hosts pointed at the job API's ALB upload that way
        const ud = read(TF_ROOT, 'modules', 'live_hosts', 'user_data.sh.tftpl');
        assert.match(ud, /%\{ if worker_api != "" ~\}\n[^%]*echo CIRRUS_CONSOLE_UPLOAD=presigned >> \/etc\/cirrus\/origin\.env/);
    });

    // docs/api.md: with intake=sqs the job API answers from the job store
    // (jobs_s3_uri), which every task writes; POST /uploads presigns PUTs
    // with the task's credentials; cancel and DELETE /assets remove objects.
    test('worker role: the job store, presigned uploads, asset removal', () => {
        const w = mods[path.join(TF_ROOT, 'modules', 'worker_service')];
        const wdoc = first(w.merged.data.aws_iam_policy_document.task);
        const wsid = (sid) => first(first(wdoc.dynamic.statement.filter((d) =>
            first(d.content).sid === sid))?.content);
        const store = wsid('JobStore');
        assert.ok(store, 'a JobStore statement');
        assert.deepEqual([...store.actions].sort(),
            ['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
        assert.deepEqual(store.resources, ['${var.outputs_bucket_arn}/${var.jobs_prefix}/*']);
        const list = wsid('ListJobStore');
        assert.deepEqual(list.actions, ['s3:ListBucket']);
        assert.deepEqual(list.resources, ['${var.outputs_bucket_arn}']);
        const cond = first(list.condition);
        assert.equal(cond.variable, 's3:prefix');
        assert.deepEqual(cond.values, ['${var.jobs_prefix}/*']);
        const up = wsid('PresignUploads');
        assert.deepEqual(up.actions, ['s3:PutObject']);
        assert.deepEqual(up.resources, ['${var.outputs_bucket_arn}/${var.upload_prefix}/*']);
        const rm = wsid('RemoveAssets');
        assert.deepEqual(rm.actions, ['s3:DeleteObject']);
        assert.deepEqual(rm.resources, ['${var.outputs_bucket_arn}/${var.outputs_prefix}/*']);
        // the tasks are told the same prefixes
        const ws = read(TF_ROOT, 'modules', 'worker_service', 'main.tf');
        assert.match(ws, /name = "CIRRUS_WORKER_JOBS_S3_URI", value = "s3:\/\/\$\{var\.outputs_bucket_id\}\/\$\{var\.jobs_prefix\}"/);
        assert.match(ws, /name = "CIRRUS_WORKER_UPLOAD_S3_URI", value = "s3:\/\/\$\{var\.outputs_bucket_id\}\/\$\{var\.upload_prefix\}\/"/);
        const call = first(root.merged.module.worker_service);
        assert.equal(call.outputs_prefix, '${local.vod_prefix}');
        assert.equal(call.outputs_bucket_id, '${module.storage.outputs_bucket_id}');
        // the browser's PUT to the outputs bucket passes CORS
        const st = mods[path.join(TF_ROOT, 'modules', 'storage')];
        const cors = first(st.merged.resource.aws_s3_bucket_cors_configuration.outputs);
        assert.ok(cors.cors_rule.some((r) => r.allowed_methods.includes('PUT')));
    });

    test('worker service scales on ApproximateNumberOfMessagesVisible; '
        + 'its role may only consume the queue', () => {
        const w = mods[path.join(TF_ROOT, 'modules', 'worker_service')];
        const res = w.merged.resource;
        assert.ok(res.aws_appautoscaling_target.worker);
        const alarm = first(res.aws_cloudwatch_metric_alarm.backlog);
        assert.equal(alarm.metric_name, 'ApproximateNumberOfMessagesVisible');
        assert.match(alarm.alarm_actions[0] || JSON.stringify(alarm.alarm_actions),
            /aws_appautoscaling_policy\.out\.arn/);
        const doc = first(w.merged.data.aws_iam_policy_document.task);
        const consume = first(doc.statement);
        assert.deepEqual([...consume.actions].sort(), ['sqs:ChangeMessageVisibility',
            'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage']);
        assert.doesNotMatch(JSON.stringify(doc), /"s3:\*"|"sqs:\*"|"\*:\*"/);
    });

    test('alarms: queue age, dead letters, 5xx, ingest health', () => {
        const mon = mods[path.join(TF_ROOT, 'modules', 'monitoring')];
        const metrics = Object.values(mon.merged.resource
            .aws_cloudwatch_metric_alarm).map((a) => first(a).metric_name
            || JSON.stringify(first(a).metric_query));
        for (const m of ['ApproximateAgeOfOldestMessage',
            'ApproximateNumberOfMessagesVisible', '5xxErrorRate',
            'HTTPCode_Target_5XX_Count', 'UnHealthyHostCount'])
            assert.ok(metrics.some((x) => x.includes(m)), m);
        assert.ok(mon.merged.resource.aws_sns_topic.alarms);
    });
});

describe('deploy: image, units, dashboard, CI', () => {
    test('Grafana: every metric queried is exported by the C sources', () => {
        const dash = JSON.parse(read(DEPLOY, 'grafana', 'cirrus.json'));
        const exported = exportedMetrics();
        const used = new Set();
        const walk = (panels) => {
            for (const p of panels || []) {
                for (const t of p.targets || [])
                    for (const m of (t.expr || '').matchAll(
                        /\b(cirrus_[a-z0-9_]+)\b/g))
                        used.add(m[1]);
                walk(p.panels);
            }
        };
        walk(dash.panels);
        assert.ok(used.size >= 15, `the dashboard queries ${used.size} metrics`);
        // legends name labels the series carry: Prometheus's target label
        // `instance`, `le`, or a label the sources print; never one that
        // Prometheus owns (a scraped `job` label becomes `exported_job`)
        const labels = exportedLabels();
        for (const reserved of ['job', 'instance'])
            assert.ok(!labels.has(reserved), `no metric label ${reserved}`);
        assert.ok(labels.has('job_id'), 'the worker labels progress job_id');
        const legends = [];
        const walkLegends = (panels) => {
            for (const p of panels || []) {
                for (const t of p.targets || [])
                    for (const m of (t.legendFormat || '').matchAll(
                        /\{\{\s*(\w+)\s*\}\}/g))
                        legends.push(m[1]);
                walkLegends(p.panels);
            }
        };
        walkLegends(dash.panels);
        assert.ok(legends.includes('job_id'), 'per-job progress legend');
        for (const l of legends)
            assert.ok(l === 'instance' || l === 'le' || labels.has(l),
                `legend {{${l}}}: not a label of any exported series`);
        // one prefix scheme
        for (const m of used)
            assert.match(m, /^cirrus_(origin|ingest|worker)_/, m);
        for (const m of used)
            assert.ok(exported.has(m), `${m} is not exported by any source`);
        // each part of the system has panels
        for (const prefix of ['cirrus_ingest_', 'cirrus_worker_',
            'cirrus_origin_requests_total', 'cirrus_origin_wake_latency_seconds_bucket'])
            assert.ok([...used].some((m) => m.startsWith(prefix)), prefix);
    });

    test('Dockerfile: the binaries it copies are CMake targets, the '
        + 'entrypoint selects them', () => {
        const df = read(DEPLOY, 'Dockerfile');
        assert.match(df, /^FROM \$\{BASE\} AS builder/m);
        assert.match(df, /^ARG BASE=debian:bookworm/m);
        assert.match(df, /scripts\/build/);
        const copied = [...df.matchAll(/\bbuild\/([\w-]+)\/([\w.-]+)/g)]
            .map((m) => ({ dir: m[1], name: m[2] }));
        assert.ok(copied.length >= 4, 'copies the binaries and the module');
        const names = new Set();
        for (const { dir, name } of copied) {
            const cm = read(SOURCE_DIR, dir, 'CMakeLists.txt');
            if (name.endsWith('.so'))
                assert.match(cm, new RegExp(`\\$\\{CMAKE_CURRENT_BINARY_DIR\\}/${name.replace('.', '\\.')}`));
            else
                assert.match(cm, new RegExp(`add_executable\\(${name}\\s`),
                    `${dir}/CMakeLists.txt builds ${name}`);
            names.add(name);
        }
        for (const b of ['cirrus-transcode', 'cirrus-worker', 'cirrus-ingest',
            'ngx_http_cirrus_module.so'])
            assert.ok(names.has(b), `the image has ${b}`);

        const ep = df.match(/^ENTRYPOINT (\[.*\])$/m);
        assert.ok(ep, 'ENTRYPOINT in exec form');
        const argv = JSON.parse(ep[1]);
        const script = argv.find((a) => a.includes('cirrus-entrypoint'));
        assert.ok(script, 'runs cirrus-entrypoint');
        assert.match(df, /COPY deploy\/scripts\/cirrus-origin deploy\/scripts\/cirrus-entrypoint \/usr\/local\/bin\//);
        const entry = read(DEPLOY, 'scripts', 'cirrus-entrypoint');
        for (const [word, bin] of [['worker', 'cirrus-worker'],
            ['ingest', 'cirrus-ingest'], ['origin', 'cirrus-origin'],
            ['transcode', 'cirrus-transcode']])
            assert.match(entry, new RegExp(`^${word}\\).*exec ${bin} "\\$@"`,
                'm'));
        // Batch's command and ECS's command go through that entrypoint.
        const bj = read(TF_ROOT, 'modules', 'batch', 'main.tf');
        assert.match(bj, /"cirrus-transcode",/);
        const ws = read(TF_ROOT, 'modules', 'worker_service', 'main.tf');
        assert.match(ws, /command\s*=\s*\["worker"\]/);
        // the runtime is Debian 12, non-root
        assert.match(df, /^USER cirrus$/m);
    });

    // The console ships in the image (docs/console.md): the dashboard's
    // files and the player libraries its page loads, installed at build time
    // from the npm versions tests/ pins (no CDN at run time), where
    // cirrus-origin's admin server looks for them.
    test('Dockerfile: the console and every player library its page loads', () => {
        const df = read(DEPLOY, 'Dockerfile');
        const root = '/usr/share/cirrus/console';
        assert.match(df, new RegExp(`^COPY samples/dashboard/ ${root}/dashboard/$`, 'm'));
        assert.match(df, new RegExp(`^COPY --from=builder /out/console/lib/ ${root}/lib/$`, 'm'));
        assert.match(df, /^COPY tests\/package\.json tests\/package-lock\.json \/players\/$/m);
        assert.match(df, /npm ci --omit=dev --ignore-scripts/);
        const origin = read(DEPLOY, 'scripts', 'cirrus-origin');
        assert.match(origin, new RegExp(`CIRRUS_CONSOLE_ROOT:-${root}\\}`));
        const page = read(SOURCE_DIR, 'samples', 'dashboard', 'index.html');
        const loaded = [...page.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
        assert.ok(loaded.length >= 3, loaded.join(' '));
        for (const src of loaded)
            assert.match(src, /^\/lib\//, `${src}: served by the origin, not a CDN`);
        const libs = consoleLibs();
        assert.deepEqual(libs.map(([, to]) => `/lib/${to}`).sort(), loaded.sort(),
            'the image installs what the page loads');
        const pkg = JSON.parse(read(SOURCE_DIR, 'tests', 'package.json'));
        for (const [from] of libs) {
            const name = from.split('/')[0];
            assert.ok(pkg.dependencies[name], `${name}: a dependency (npm ci --omit=dev)`);
            // the file is where the pinned version puts it
            assert.ok(fs.existsSync(path.join(SOURCE_DIR, 'tests', 'node_modules', from)),
                `tests/node_modules/${from}`);
        }
        for (const f of fs.readdirSync(path.join(SOURCE_DIR, 'samples', 'dashboard')))
            assert.doesNotMatch(read(SOURCE_DIR, 'samples', 'dashboard', f),
                /\b(src|href)="https?:|import[^;]*from\s*['"]https?:/, `${f}: nothing remote`);
    });

    // The module must run in the nginx it was built against: one pinned
    // version (ARG NGINX_VERSION), checked in both stages, and the runtime
    // installs the builder's own nginx packages, so a cached builder layer
    // and a newer Debian nginx cannot pair the module with another nginx.
    test('Dockerfile: nginx pinned in one place and checked in both '
        + 'stages', (t) => {
        const df = read(DEPLOY, 'Dockerfile');
        const lines = df.split('\n');
        const firstFrom = lines.findIndex((l) => /^FROM /.test(l));
        const pins = lines.map((l, i) => [l, i]).filter(([l]) =>
            /^ARG NGINX_VERSION=/.test(l));
        assert.equal(pins.length, 1, 'one ARG NGINX_VERSION with a value');
        assert.ok(pins[0][1] < firstFrom, 'declared before the first FROM');
        const version = pins[0][0].split('=')[1];
        assert.match(version, /^\d[\w.+~:-]*-[\w.+~]+$/, 'a Debian version');
        // every stage takes it, and every nginx package named is pinned
        const stages = df.split(/^FROM /m).slice(1);
        assert.deepEqual(stages.map((st) => st.split(/\s/)[2]),
            ['builder', 'runtime']);
        for (const st of stages)
            assert.match(st, /^ARG NGINX_VERSION$/m, 'each stage redeclares it');
        const named = [...df.matchAll(/["\s](nginx(?:-dev|-common)?)(=\S*)?["\s\\]/g)]
            .filter((m) => !/^\s*#/.test(df.slice(df.lastIndexOf('\n',
                m.index) + 1, m.index + 1)));
        const installed = named.filter((m) => m[2] !== undefined);
        assert.ok(installed.length >= 5, 'nginx packages requested by version');
        for (const m of installed)
            assert.equal(m[2], '=${NGINX_VERSION}"', `${m[0].trim()} pinned`);
        assert.doesNotMatch(df, /nginx=\$\(|apt-get install[^&]*\snginx\s/,
            'no version read at build time, no bare nginx');
        const [builder, runtime] = stages;
        assert.match(builder, /nginx-pin available "\$\{NGINX_VERSION\}"/);
        assert.match(builder, /nginx-pin installed "\$\{NGINX_VERSION\}" nginx nginx-common nginx-dev/);
        assert.match(builder, /apt-get download[\s\S]*"nginx=\$\{NGINX_VERSION\}"/);
        assert.match(runtime, /COPY --from=builder \/out\/debs\/ \/tmp\/nginx-debs\//);
        assert.match(runtime, /\/tmp\/nginx-debs\/\*\.deb/);
        assert.match(runtime, /nginx-pin installed "\$\{NGINX_VERSION\}" nginx nginx-common/);
        assert.match(runtime, /nginx-pin installed "\$\(cat \/tmp\/nginx-version\)" nginx/);
        assert.match(runtime, /load_module \/usr\/lib\/nginx\/modules\/ngx_http_cirrus_module\.so;[\s\S]*nginx -t/);

        // nginx-pin itself, against this machine's dpkg and apt
        const pin = path.join(DEPLOY, 'scripts', 'nginx-pin');
        const run = (...a) => spawnSync(pin, a, { encoding: 'utf8' });
        assert.equal(run().status, 2, 'usage');
        const here = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'nginx'],
            { encoding: 'utf8' });
        if (here.status !== 0 || !here.stdout) {
            t.diagnostic('no Debian nginx here: nginx-pin not run');
            return;
        }
        const v = here.stdout.trim();
        t.diagnostic(`this machine's nginx ${v}, the Dockerfile pins ${version}`);
        assert.equal(run('installed', v, 'nginx').status, 0);
        const off = run('installed', `${v}.0~other`, 'nginx');
        assert.equal(off.status, 1);
        assert.match(off.stderr, new RegExp(`nginx is ${v.replace(/[.+]/g,
            '\\$&')}, the image pins .*ARG NGINX_VERSION in deploy/Dockerfile`));
        assert.equal(run('installed', v, 'no-such-package').status, 1);
        const gone = run('available', '0.0.0-0~gone');
        assert.equal(gone.status, 1);
        assert.match(gone.stderr, /not in the archive.*ARG NGINX_VERSION/);
        const madison = spawnSync('apt-cache', ['madison', 'nginx'],
            { encoding: 'utf8' });
        if (madison.stdout.includes(` ${v} `))
            assert.equal(run('available', v).status, 0);
    });

    test('entrypoint dispatches to the real binaries', (t) => {
        const bin = tmpDir('deploy-bin-');
        for (const [name, dir] of [['cirrus-transcode', 'transcoder'],
            ['cirrus-worker', 'ingest'], ['cirrus-ingest', 'ingest']]) {
            const f = path.join(BUILD_DIR, dir, name);
            if (!fs.existsSync(f)) {
                t.skip(`${f} is not built`);
                return;
            }
            fs.symlinkSync(f, path.join(bin, name));
        }
        const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
        const entry = path.join(DEPLOY, 'scripts', 'cirrus-entrypoint');
        for (const [args, want] of [[['worker', '--help'], /cirrus-worker/],
            [['ingest', '--help'], /cirrus-ingest/],
            [['cirrus-transcode', '--help'], /cirrus-transcode --input URI/]]) {
            const r = spawnSync(entry, args, { env, encoding: 'utf8' });
            assert.match(r.stdout + r.stderr, want, args.join(' '));
        }
    });

    test('buildspec.yml runs scripts/test, pushes to ECR, rolls out', () => {
        const bs = read(DEPLOY, 'buildspec.yml');
        const lines = bs.split('\n').filter((l) => !/^\s*#/.test(l));
        assert.match(lines.join('\n'), /^version: 0\.2$/m);
        const text = lines.join('\n');
        assert.match(text, /scripts\/test\b/);
        assert.match(text, /docker build -f deploy\/Dockerfile/);
        assert.match(text, /docker push "\$ECR_REPOSITORY_URL/);
        assert.match(text, /aws batch register-job-definition/);
        assert.match(text, /aws ecs update-service/);
        const pl = read(TF_ROOT, 'modules', 'pipeline', 'main.tf');
        assert.match(pl, /buildspec\s*=\s*"deploy\/buildspec.yml"/);
    });

    test('systemd units verify', (t) => {
        const sa = which('systemd-analyze');
        if (!sa) {
            t.skip('no systemd-analyze');
            return;
        }
        // systemd-analyze checks that ExecStart exists: point the units at
        // the built binaries instead of /usr/local/bin.
        const dir = tmpDir('deploy-units-');
        const bin = path.join(dir, 'bin');
        fs.mkdirSync(bin);
        const targets = {
            'cirrus-ingest': path.join(BUILD_DIR, 'ingest', 'cirrus-ingest'),
            'cirrus-worker': path.join(BUILD_DIR, 'ingest', 'cirrus-worker'),
            'cirrus-origin': path.join(DEPLOY, 'scripts', 'cirrus-origin'),
        };
        for (const [name, f] of Object.entries(targets)) {
            if (!fs.existsSync(f)) {
                t.skip(`${f} is not built`);
                return;
            }
            fs.symlinkSync(f, path.join(bin, name));
        }
        const units = [];
        for (const u of ['cirrus-ingest.service', 'cirrus-worker.service',
            'cirrus-origin.service']) {
            const text = read(DEPLOY, 'systemd', u);
            for (const k of ['EnvironmentFile=/etc/cirrus/cirrus.env',
                'ProtectSystem=strict', 'NoNewPrivileges=yes',
                'LimitNOFILE=', 'Restart=on-failure', 'ReadWritePaths=',
                'User=cirrus'])
                assert.ok(text.includes(k), `${u}: ${k}`);
            fs.writeFileSync(path.join(dir, u),
                text.replaceAll('/usr/local/bin/', `${bin}/`));
            units.push(path.join(dir, u));
        }
        const r = spawnSync(sa, ['verify', ...units], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.equal(r.stderr.trim(), '', r.stderr);
    });
});

// The live hosts' nginx config: two "hosts" on loopback, a stream only in
// host A's live store; host B serves it through the peer port, blocking
// LL-HLS reloads included, and the secret is required on both paths.
describe('deploy: production nginx config, peer fallback', () => {
    const SECRET = 'a'.repeat(16) + '0123456789abcdef_-';
    const HEADER = 'X-Cirrus-Origin-Secret';
    const ok = fs.existsSync(NGINX_BIN) && fs.existsSync(MODULE_SO)
        && fs.existsSync(LIVE_FEED_BIN);
    const hosts = {};
    let feed;

    before(async () => {
        if (!ok)
            return;
        const base = tmpDir('deploy-origin-');
        // started as root, nginx's workers run as nobody: they must read it
        fs.chmodSync(base, 0o755);
        const ports = { a: [await freePort(), await freePort()],
            b: [await freePort(), await freePort()] };
        for (const h of ['a', 'b']) {
            const dir = path.join(base, h);
            fs.mkdirSync(path.join(dir, 'live'), { recursive: true });
            const other = ports[h === 'a' ? 'b' : 'a'][1];
            fs.writeFileSync(path.join(dir, 'peers.conf'),
                `upstream cirrus_live_peers {\n    server 127.0.0.1:${other};\n}\n`);
            const env = { ...process.env,
                CIRRUS_ORIGIN_SECRET_HEADER: HEADER,
                CIRRUS_ORIGIN_SECRET: SECRET,
                CIRRUS_HTTP_PORT: String(ports[h][0]),
                CIRRUS_PEER_PORT: String(ports[h][1]),
                CIRRUS_LIVE_ROOT: path.join(dir, 'live'),
                CIRRUS_NGINX_PREFIX: path.join(dir, 'run'),
                CIRRUS_PEERS_CONF: path.join(dir, 'peers.conf'),
                CIRRUS_NGINX_MODULE: MODULE_SO,
                CIRRUS_NGINX: NGINX_BIN,
                CIRRUS_NGINX_TEMPLATE: path.join(DEPLOY, 'nginx',
                    'cirrus-origin.conf.in'),
                // the console's server: a port and folders of this host's
                CIRRUS_ADMIN_LISTEN: `127.0.0.1:${await freePort()}`,
                CIRRUS_VOD_ROOT: path.join(dir, 'vod'),
                CIRRUS_UPLOAD_DIR: path.join(dir, 'uploads') };
            const child = spawn(path.join(DEPLOY, 'scripts', 'cirrus-origin'),
                [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
            let stderr = '';
            child.stderr.on('data', (d) => (stderr += d));
            hosts[h] = { child, dir, http: ports[h][0], peer: ports[h][1],
                stderr: () => stderr };
        }
        feed = spawn(LIVE_FEED_BIN, [path.join(hosts.a.dir, 'live', 'cam1',
            'video'), '--prefill', '4', '--part-ms', '200'],
        { stdio: ['pipe', 'ignore', 'ignore'] });
        // both nginx up (healthz) and the stream's playlist on A
        const deadline = Date.now() + 15000;
        for (;;) {
            try {
                const [a, b, pl] = await Promise.all([
                    get(hosts.a.http, '/healthz'), get(hosts.b.http, '/healthz'),
                    get(hosts.a.http, '/live/cam1/video/index.m3u8',
                        { [HEADER]: SECRET })]);
                if (a.status === 200 && b.status === 200 && pl.status === 200)
                    break;
            } catch {
                /* not yet */
            }
            if (Date.now() > deadline)
                throw new Error(`origins did not start: ${hosts.a.stderr()}`
                    + hosts.b.stderr());
            await new Promise((r) => setTimeout(r, 100));
        }
    });

    after(() => {
        feed?.kill('SIGTERM');
        for (const h of Object.values(hosts)) {
            const pid = path.join(h.dir, 'run', 'nginx.pid');
            h.child.kill('SIGQUIT');
            if (fs.existsSync(pid)) {
                try {
                    process.kill(Number(read(pid).trim()), 'SIGQUIT');
                } catch {
                    /* already gone */
                }
            }
        }
    });

    test('a stream on host A is served by host B through the peers',
        { skip: ok ? false : 'nginx, the module or cirrus-live-feed is not built' },
        async () => {
            const url = '/live/cam1/video/index.m3u8';
            const a = await get(hosts.a.http, url, { [HEADER]: SECRET });
            const b = await get(hosts.b.http, url, { [HEADER]: SECRET });
            assert.equal(a.status, 200);
            assert.equal(b.status, 200, b.body);
            assert.match(b.body, /#EXT-X-PART:/);
            assert.ok(!fs.existsSync(path.join(hosts.b.dir, 'live', 'cam1')),
                'host B has no local copy');

            // without the secret: 403 locally and through the peer
            assert.equal((await get(hosts.a.http, url)).status, 403);
            assert.equal((await get(hosts.b.http, url)).status, 403);
            // a stream no host has: 404 (no loop between the peers)
            assert.equal((await get(hosts.b.http, '/live/nope/video/index.m3u8',
                { [HEADER]: SECRET })).status, 404);

            // a blocking reload for the part the preload hint announces
            // (not written yet), through the peer
            const hint = b.body.match(
                /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/);
            assert.ok(hint, b.body);
            const msn = Number(hint[1]);
            const part = Number(hint[2]);
            const t0 = Date.now();
            const blocked = await get(hosts.b.http,
                `${url}?_HLS_msn=${msn}&_HLS_part=${part}`,
                { [HEADER]: SECRET });
            const ms = Date.now() - t0;
            assert.equal(blocked.status, 200);
            assert.match(blocked.body, new RegExp(
                `#EXT-X-PART:[^\\n]*URI="part-${msn}\\.${part}\\.m4s"`));
            assert.ok(ms < 3000, `answered in ${ms} ms`);

            // Prometheus metrics on the peer port
            const m = await get(hosts.a.peer, '/metrics');
            assert.match(m.body, /cirrus_origin_requests_total\{kind="playlist",status="200"\}/);
        });
});
