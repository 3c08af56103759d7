// Prometheus text exposition (format 0.0.4), parsed by a real parser
// (npm parse-prometheus-text-format) and held to the rules every Cirrus
// component follows:
// - every family has `# HELP` and `# TYPE`;
// - one prefix per component: cirrus_origin_ (the nginx module),
//   cirrus_ingest_, cirrus_worker_;
// - no label Prometheus sets on the target (`job`, `instance`) or reserves
//   (`__*`): a scraped `job` label is renamed `exported_job` and legends
//   using it break;
// - no value printed with an exponent (`4.26842e+07` loses digits), and
//   counters, histogram buckets and counts are whole numbers, except the
//   counters of seconds (`*_seconds_total`), which are decimals.
import assert from 'node:assert/strict';
import parsePrometheus from 'parse-prometheus-text-format';

export const PREFIXES = ['cirrus_origin_', 'cirrus_ingest_', 'cirrus_worker_'];
const RESERVED_LABELS = new Set(['job', 'instance']);
const INTEGER = /^\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/; // no exponent, no NaN

function checkValue(family, what, v, integer) {
    assert.equal(typeof v, 'string', `${family} ${what}: a value`);
    assert.match(v, integer ? INTEGER : DECIMAL,
        `${family} ${what} = ${v}: ${integer ? 'an integer' : 'a decimal'}`
        + ' without exponent');
}

function checkLabels(family, labels = {}) {
    for (const l of Object.keys(labels)) {
        assert.ok(!RESERVED_LABELS.has(l) && !l.startsWith('__'),
            `${family}: label "${l}" is reserved by Prometheus`);
        assert.match(l, /^[a-z_][a-z0-9_]*$/, `${family}: label ${l}`);
    }
}

// Parses `text` and checks it; `prefix` is the component's.  Returns the
// families (name -> {type, help, metrics}).
export function checkExposition(text, prefix) {
    assert.ok(PREFIXES.includes(prefix), `${prefix} is one of ${PREFIXES}`);
    let families;
    try {
        families = parsePrometheus(text);
    } catch (e) {
        assert.fail(`not Prometheus text (${e.message}):\n${text}`);
    }
    assert.ok(families.length > 0, 'at least one family');
    const byName = new Map();
    for (const f of families) {
        assert.ok(!byName.has(f.name), `${f.name}: one family, declared once`);
        byName.set(f.name, f);
        assert.ok(f.name.startsWith(prefix),
            `${f.name} has the component's prefix ${prefix}`);
        assert.ok(f.help && f.help.trim().length > 0, `${f.name}: # HELP`);
        assert.match(text, new RegExp(`^# HELP ${f.name} \\S`, 'm'),
            `${f.name}: # HELP line`);
        assert.match(text, new RegExp(
            `^# TYPE ${f.name} (counter|gauge|histogram|summary|untyped)$`,
            'm'), `${f.name}: # TYPE line`);
        assert.notEqual(f.type, 'UNTYPED', `${f.name}: typed`);
        if (f.type === 'COUNTER')
            assert.match(f.name, /_total$/, `counter ${f.name} ends in _total`);
        const wholeCounter = f.type === 'COUNTER'
            && !/_seconds_total$/.test(f.name);
        for (const m of f.metrics) {
            checkLabels(f.name, m.labels);
            if (f.type === 'HISTOGRAM') {
                for (const [le, v] of Object.entries(m.buckets))
                    checkValue(f.name, `bucket le=${le}`, v, true);
                checkValue(f.name, 'count', m.count, true);
                checkValue(f.name, 'sum', m.sum, false);
            } else {
                checkValue(f.name, JSON.stringify(m.labels ?? {}), m.value,
                    wholeCounter);
            }
        }
    }
    // every sample line belongs to a declared family (a sample without
    // HELP/TYPE would be parsed as its own untyped family above)
    for (const line of text.split('\n')) {
        if (!line || line.startsWith('#'))
            continue;
        const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
        const base = name?.replace(/_(bucket|sum|count)$/, '');
        assert.ok(byName.has(name) || byName.get(base)?.type === 'HISTOGRAM'
            || byName.get(base)?.type === 'SUMMARY', `${line}: in a family`);
    }
    return byName;
}

// The value of one sample: family name and labels (all of them).
export function sampleValue(families, name, labels = {}) {
    const f = families.get(name);
    if (!f)
        return undefined;
    const m = f.metrics.find((x) => {
        const l = x.labels ?? {};
        return Object.keys(l).length === Object.keys(labels).length
            && Object.entries(labels).every(([k, v]) => l[k] === v);
    });
    return m?.value;
}
