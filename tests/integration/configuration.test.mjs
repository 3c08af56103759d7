// docs/configuration.md cannot drift from the code: its option tables must
// be exactly what `cirrus-ingest --print-options-md`, `cirrus-worker
// --print-options-md` and `cirrus-transcode --print-options-md` print (the
// tables that parse the configuration), and
// every nginx directive the module declares must be documented.  With
// CIRRUS_UPDATE_DOCS=1 the tables are rewritten instead.  Also: the shared
// samples/cirrus.json is accepted by every program, each taking its section.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';

const DOC = path.join(C.SOURCE_DIR, 'docs', 'configuration.md');
const BINS = {
    'cirrus-ingest': process.env.CIRRUS_INGEST ||
        path.join(C.BUILD_DIR, 'ingest', 'cirrus-ingest'),
    'cirrus-worker': process.env.CIRRUS_WORKER ||
        path.join(C.BUILD_DIR, 'ingest', 'cirrus-worker'),
    'cirrus-transcode': C.TRANSCODE_BIN,
};
const missing = Object.values(BINS).find((b) => !fs.existsSync(b));

function printed(name) {
    const r = spawnSync(BINS[name], ['--print-options-md'], { encoding: 'utf8',
        env: { PATH: process.env.PATH } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
}

function block(name) {
    const begin = `<!-- BEGIN ${name} --print-options-md -->\n`;
    const end = `<!-- END ${name} --print-options-md -->`;
    return { begin, end };
}

describe('docs/configuration.md', { skip: missing ? `${missing} not built` : false }, () => {
    test('the option tables are what the daemons print', () => {
        let doc = fs.readFileSync(DOC, 'utf8');
        const stale = [];
        for (const name of Object.keys(BINS)) {
            const { begin, end } = block(name);
            const i = doc.indexOf(begin), j = doc.indexOf(end);
            assert.ok(i >= 0 && j > i, `${DOC} has the ${name} markers`);
            const want = printed(name);
            assert.match(want, /^\| option \| environment \| default \| limits \| description \|\n/);
            const have = doc.slice(i + begin.length, j);
            if (have !== want) {
                stale.push(name);
                doc = doc.slice(0, i + begin.length) + want + doc.slice(j);
            }
        }
        if (stale.length && process.env.CIRRUS_UPDATE_DOCS === '1') {
            fs.writeFileSync(DOC, doc);
            console.log(`# rewrote the ${stale.join(', ')} tables in ${DOC}`);
            return;
        }
        assert.deepEqual(stale, [], `${DOC} is stale for ${stale.join(', ')}: ` +
            'regenerate with CIRRUS_UPDATE_DOCS=1 ctest -R integration.configuration');
    });

    test('every option has its environment variable, documented', () => {
        const doc = fs.readFileSync(DOC, 'utf8');
        for (const [name, prefix] of [['cirrus-ingest', 'CIRRUS_INGEST_'],
            ['cirrus-worker', 'CIRRUS_WORKER_'],
            ['cirrus-transcode', 'CIRRUS_TRANSCODE_']]) {
            const rows = printed(name).split('\n').slice(2).filter(Boolean);
            assert.ok(rows.length > 10, `${name}: ${rows.length} options`);
            for (const row of rows) {
                const [, opt, env] = /^\| `([a-z0-9_]+)` \| `([A-Z0-9_]+)` \|/.exec(row) || [];
                assert.equal(env, prefix + opt.toUpperCase(), row);
                assert.ok(doc.includes(`\`${env}\``), `${env} in the doc`);
            }
        }
    });

    test('every nginx directive of the module is documented', () => {
        const doc = fs.readFileSync(DOC, 'utf8');
        const src = fs.readFileSync(path.join(C.SOURCE_DIR, 'nginx-module',
            'ngx_http_cirrus_module.c'), 'utf8');
        const names = [...src.matchAll(/\{\s*ngx_string\("(cirrus_[a-z_]+)"\)/g)]
            .map((m) => m[1]);
        assert.ok(names.length >= 10, names.join(' '));
        for (const n of names)
            assert.match(doc, new RegExp(`\\| \`${n}[ ;]`), `${n} in the directive table`);
    });

    test('one file for both daemons: each takes its own section', () => {
        const sample = path.join(C.SOURCE_DIR, 'samples', 'cirrus.json');
        const conf = JSON.parse(fs.readFileSync(sample, 'utf8'));
        assert.deepEqual(Object.keys(conf).sort(), ['ingest', 'worker']);
        // a bad value in a section names the section and the option
        const dir = C.tmpDir('config-');
        try {
            const bad = path.join(dir, 'bad.json');
            fs.writeFileSync(bad, JSON.stringify({ ingest: { port: 70000 },
                worker: { workers: 1 } }));
            let r = spawnSync(BINS['cirrus-ingest'], ['--config', bad],
                { encoding: 'utf8', timeout: 10000 });
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, /ingest: port: 70000 is outside \[0, 65535\]/);
            fs.writeFileSync(bad, JSON.stringify({ ingest: { port: 1935 },
                worker: { workerz: 1 } }));
            r = spawnSync(BINS['cirrus-worker'], ['--config', bad],
                { encoding: 'utf8', timeout: 10000 });
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, /worker: unknown option "workerz"/);
            // the sample's sections parse in each daemon: the worker is
            // pointed at a spool here, an unknown --set fails after the file
            for (const name of Object.keys(BINS)) {
                r = spawnSync(BINS[name], ['--config', sample, '--set', 'nope=1'],
                    { encoding: 'utf8', timeout: 10000 });
                assert.notEqual(r.status, 0);
                assert.match(r.stderr, /unknown option "nope"/, `${name}: ${r.stderr}`);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
