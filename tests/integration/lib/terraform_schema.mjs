// Terraform checked offline against the AWS provider's schema (tested by
// tests/integration/terraform_schema.test.mjs).
//
// The `terraform` binary and its provider downloads are not available here,
// so the schema comes from @cdktf/provider-aws: its .jsii metadata describes
// every resource and data source of one hashicorp/aws release (the package's
// package.json "cdktf.provider.version") — each argument's Terraform name
// (the registry link in its docs), type and required flag, each nested
// block's own schema, and each computed attribute (the class's getters).
// The .tf files are parsed with @cdktf/hcl2json.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';

const require = createRequire(import.meta.url);
const PKG_DIR = path.dirname(require.resolve('@cdktf/provider-aws/package.json'));

// Terraform's meta-arguments, valid in every resource / data block.
const META_ARGS = new Set(['count', 'for_each', 'depends_on', 'provider']);
const META_BLOCKS = new Set(['lifecycle', 'provisioner', 'connection']);
// Attributes every resource and data source has whatever its getters say.
const COMMON_ATTRS = new Set(['id']);

const snake = (camel) => camel.replace(/([A-Z])/g, '_$1').toLowerCase();

// The Terraform name of a property: the anchor of its registry link
// ("…/docs/resources/s3_bucket#force_destroy S3Bucket#force_destroy").
function tfName(prop) {
    const m = /#([A-Za-z0-9_]+) /.exec(prop.docs?.summary || '');
    return m ? m[1] : snake(prop.name);
}

// A jsii type reference reduced to what a literal can be checked against:
// { kind: 'string'|'number'|'bool'|'list'|'map'|'any'|'block', elem?, fqn? }.
function shapeOf(ref) {
    if (ref.union) {
        const real = ref.union.types.filter((t) => t.fqn !== 'cdktf.IResolvable');
        return real.length === 1 ? shapeOf(real[0]) : { kind: 'any' };
    }
    if (ref.primitive) {
        return { kind: { string: 'string', number: 'number', boolean: 'bool' }
            [ref.primitive] || 'any' };
    }
    if (ref.collection) {
        const elem = shapeOf(ref.collection.elementtype);
        if (elem.kind === 'block') return { kind: 'block', fqn: elem.fqn, many: true };
        return { kind: ref.collection.kind === 'map' ? 'map' : 'list', elem };
    }
    if (ref.fqn && ref.fqn.startsWith('@cdktf/provider-aws.'))
        return { kind: 'block', fqn: ref.fqn, many: false };
    return { kind: 'any' };
}

// { args: {name: {shape, required}}, blocks: {name: {schema, required}} }
function blockSchema(types, fqn, memo) {
    if (memo.has(fqn)) return memo.get(fqn);
    const schema = { args: {}, blocks: {} };
    memo.set(fqn, schema);
    for (const prop of types[fqn]?.properties || []) {
        const name = tfName(prop);
        const shape = shapeOf(prop.type);
        const required = !prop.optional;
        if (shape.kind === 'block') {
            schema.blocks[name] = { required, many: shape.many,
                schema: blockSchema(types, shape.fqn, memo) };
        } else {
            schema.args[name] = { required, shape };
        }
    }
    return schema;
}

// The computed and configured attributes a reference may read.
function attributesOf(cls) {
    const names = new Set(COMMON_ATTRS);
    for (const p of cls.properties || []) {
        if (p.static || p.name.endsWith('Input')) continue;
        names.add(snake(p.name));
    }
    return names;
}

let cached = null;

// { version, provider: schema, resource: {aws_x: {...schema, attrs}},
//   data: {aws_x: {...}} }.  Reading the 120 MB .jsii takes a few seconds:
// done once per process.
export function loadAwsSchema() {
    if (cached) return cached;
    const jsii = JSON.parse(fs.readFileSync(path.join(PKG_DIR, '.jsii'), 'utf8'));
    const pkg = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));
    const memo = new Map();
    const out = { version: pkg.cdktf?.provider?.version, resource: {}, data: {} };
    const link = /docs\/(resources|data-sources)\/\S+ (aws_[a-z0-9_]+)\}/;
    for (const t of Object.values(jsii.types)) {
        if (t.kind !== 'class') continue;
        const config = t.initializer?.parameters?.[2]?.type?.fqn;
        if (t.fqn === '@cdktf/provider-aws.provider.AwsProvider') {
            out.provider = blockSchema(jsii.types, t.initializer.parameters[2].type.fqn,
                memo);
            continue;
        }
        const m = link.exec(t.docs?.summary || '');
        if (!m || !config) continue;
        const kind = m[1] === 'resources' ? 'resource' : 'data';
        out[kind][m[2]] = { ...blockSchema(jsii.types, config, memo),
            attrs: attributesOf(t) };
    }
    // The provider's `alias` is a meta-argument of every provider block.
    if (out.provider) out.provider.args.alias = { required: false, shape: { kind: 'string' } };
    cached = out;
    return out;
}

const isExpr = (v) => typeof v === 'string' && v.includes('${');
const describe = (v) => (Array.isArray(v) ? 'a list'
    : v === null ? 'null' : typeof v === 'object' ? 'an object'
        : typeof v === 'boolean' ? 'a bool' : typeof v);

// A literal against an argument's type, with Terraform's own conversions
// (a number or bool is a valid string; "12" a valid number; "true" a bool).
// Expressions (anything with ${…}) are not evaluated: their type is unknown.
function literalError(value, shape) {
    if (value === null || isExpr(value) || shape.kind === 'any') return null;
    switch (shape.kind) {
    case 'string':
        return typeof value === 'object' ? `expects a string, got ${describe(value)}` : null;
    case 'number':
        if (typeof value === 'number') return null;
        if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)))
            return null;
        return `expects a number, got ${describe(value)}${typeof value === 'string'
            ? ` "${value}"` : ''}`;
    case 'bool':
        if (typeof value === 'boolean' || value === 'true' || value === 'false') return null;
        return `expects a bool, got ${describe(value)}${typeof value === 'string'
            ? ` "${value}"` : ''}`;
    case 'list':
        if (!Array.isArray(value)) return `expects a list, got ${describe(value)}`;
        for (const [i, v] of value.entries()) {
            const e = literalError(v, shape.elem);
            if (e) return `[${i}] ${e}`;
        }
        return null;
    case 'map':
        if (typeof value !== 'object' || Array.isArray(value))
            return `expects a map, got ${describe(value)}`;
        for (const [k, v] of Object.entries(value)) {
            const e = literalError(v, shape.elem);
            if (e) return `["${k}"] ${e}`;
        }
        return null;
    default:
        return null;
    }
}

// The bodies of a nested block as written: `x { … }` (a list of bodies),
// `x = { … }` (an attribute-style object) or an expression.
const bodies = (v) => (Array.isArray(v) ? v : [v]).filter((b) =>
    b && typeof b === 'object' && !Array.isArray(b));

// Every schema error of one block body, as "where: what" strings.
export function checkBody(body, schema, where, { meta = false } = {}) {
    const errors = [];
    const set = new Set(Object.keys(body));
    for (const [name, dyn] of Object.entries(body.dynamic || {})) {
        set.add(name);
        if (!schema.blocks[name]) {
            errors.push(`${where}: dynamic "${name}": no such block`);
            continue;
        }
        for (const d of bodies(dyn)) {
            for (const content of bodies(d.content))
                errors.push(...checkBody(content, schema.blocks[name].schema,
                    `${where}.${name}`));
        }
    }
    for (const [name, value] of Object.entries(body)) {
        if (name === 'dynamic') continue;
        if (meta && (META_ARGS.has(name) || META_BLOCKS.has(name))) continue;
        const arg = schema.args[name];
        const block = schema.blocks[name];
        if (arg) {
            const e = literalError(value, arg.shape);
            if (e) errors.push(`${where}.${name}: ${e}`);
        } else if (block) {
            const list = bodies(value);
            if (!block.many && Array.isArray(value) && value.length > 1)
                errors.push(`${where}.${name}: at most one block`);
            for (const b of list)
                errors.push(...checkBody(b, block.schema, `${where}.${name}`));
        } else {
            errors.push(`${where}: unsupported argument or block "${name}"`);
        }
    }
    for (const [name, arg] of Object.entries(schema.args))
        if (arg.required && !set.has(name))
            errors.push(`${where}: required argument "${name}" is missing`);
    for (const [name, block] of Object.entries(schema.blocks))
        if (block.required && !set.has(name))
            errors.push(`${where}: required block "${name}" is missing`);
    return errors;
}

// One Terraform module (a directory's .tf files) from { file: source }:
// { files: {file: hcl2json}, blocks: [{file, kind, type, name, body}],
//   variables, outputs, locals, modules }.
export async function parseModule(sources) {
    const mod = { files: {}, blocks: [], variables: {}, outputs: {}, locals: {},
        modules: {}, providers: [] };
    for (const [file, text] of Object.entries(sources)) {
        const j = await parse(file, text);
        mod.files[file] = j;
        for (const kind of ['resource', 'data']) {
            for (const [type, named] of Object.entries(j[kind] || {}))
                for (const [name, list] of Object.entries(named))
                    for (const body of list) mod.blocks.push({ file, kind, type, name, body });
        }
        for (const [name, list] of Object.entries(j.variable || {}))
            mod.variables[name] = { file, body: list[0] };
        for (const [name, list] of Object.entries(j.output || {}))
            mod.outputs[name] = { file, body: list[0] };
        for (const l of j.locals || [])
            for (const [name, v] of Object.entries(l)) mod.locals[name] = { file, value: v };
        for (const [name, list] of Object.entries(j.module || {}))
            mod.modules[name] = { file, body: list[0] };
        for (const [name, list] of Object.entries(j.provider || {}))
            for (const body of list) mod.providers.push({ file, name, body });
    }
    return mod;
}

// Every module directory under root: { relDir: { file: source } }.
export function readModuleSources(root) {
    const out = {};
    const walk = (dir) => {
        const tf = fs.readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
        if (tf.length) {
            out[path.relative(root, dir) || '.'] = Object.fromEntries(
                tf.map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
        }
        for (const e of fs.readdirSync(dir, { withFileTypes: true }))
            if (e.isDirectory() && !e.name.startsWith('.')) walk(path.join(dir, e.name));
    };
    walk(root);
    return out;
}

// The insides of a string's ${…} interpolations (the text around them is
// literal).  Braces are counted so that `${ {a = 1} }` stays whole.
function interpolations(text) {
    const out = [];
    for (let i = text.indexOf('${'); i !== -1; i = text.indexOf('${', i)) {
        let depth = 0;
        let j = i + 1;
        for (; j < text.length; j++) {
            if (text[j] === '{') depth++;
            else if (text[j] === '}' && --depth === 0) break;
        }
        out.push(text.slice(i + 2, j));
        i = j;
    }
    return out;
}

// Every ${…} expression of a parsed value, as one string each.
function expressions(value, out = []) {
    if (typeof value === 'string') {
        out.push(...interpolations(value));
    } else if (Array.isArray(value)) {
        for (const v of value) expressions(v, out);
    } else if (value && typeof value === 'object') {
        for (const v of Object.values(value)) expressions(v, out);
    }
    return out;
}

// [data.]aws_TYPE.NAME[index].attr in an expression (not part of a longer
// name, as in each.value.aws_x): 1 "data." or not, 2 type, 3 name, 4 attr.
const RESOURCE_REF =
    /(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?(?:\.([a-z0-9_]+))?/g;
const blockLabel = (b) => `${b.file}: ${b.kind === 'data' ? 'data.' : ''}${b.type}.${b.name}`;

// Schema errors of every resource, data and provider block of a module.
export function checkSchema(mod, schema) {
    const errors = [];
    for (const b of mod.blocks) {
        const where = blockLabel(b);
        const s = schema[b.kind][b.type];
        if (!b.type.startsWith('aws_')) continue; // other providers: not ours to check
        if (!s) {
            errors.push(`${where}: the AWS provider ${schema.version} has no ${
                b.kind === 'data' ? 'data source' : 'resource type'} "${b.type}"`);
            continue;
        }
        errors.push(...checkBody(b.body, s, where, { meta: true }));
    }
    for (const p of mod.providers) {
        if (p.name !== 'aws' || !schema.provider) continue;
        errors.push(...checkBody(p.body, schema.provider, `${p.file}: provider "aws"`));
    }
    return errors;
}

// Reference errors of a module: var.X declared (and every declared variable
// used), local.X defined, aws_T.N / data.aws_T.N declared in the module and
// their .attr known to the provider, module.M called and .O one of M's
// outputs (childOutputs: { M: Set of output names }).
export function checkReferences(mod, schema, childOutputs = {}) {
    const errors = [];
    const declared = new Set(mod.blocks.map((b) => `${b.kind}.${b.type}.${b.name}`));
    const used = new Set();
    const scan = (value, where, countsAsUse = true) => {
        for (const e of expressions(value)) {
            // Drop quoted strings inside the expression ("aws_x" in a policy).
            const code = e.replace(/"(?:[^"\\$]|\\.|\$(?!\{))*"/g, '""');
            for (const m of code.matchAll(/(?<![\w.])var\.([A-Za-z0-9_-]+)/g)) {
                if (countsAsUse) used.add(m[1]);
                if (!mod.variables[m[1]]) errors.push(`${where}: var.${m[1]} is not declared`);
            }
            for (const m of code.matchAll(/(?<![\w.])local\.([A-Za-z0-9_-]+)/g))
                if (!mod.locals[m[1]]) errors.push(`${where}: local.${m[1]} is not defined`);
            for (const m of code.matchAll(RESOURCE_REF)) {
                const kind = m[1] ? 'data' : 'resource';
                const label = `${m[1] || ''}${m[2]}.${m[3]}`;
                if (!declared.has(`${kind}.${m[2]}.${m[3]}`)) {
                    errors.push(`${where}: ${label} is not declared in this module`);
                    continue;
                }
                const s = schema[kind][m[2]];
                if (m[4] && s && !s.attrs.has(m[4]) && !s.args[m[4]] && !s.blocks[m[4]])
                    errors.push(`${where}: ${label} has no attribute "${m[4]}"`);
            }
            for (const m of code.matchAll(
                /(?<![\w.])module\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?(?:\.([A-Za-z0-9_]+))?/g)) {
                if (!mod.modules[m[1]]) {
                    errors.push(`${where}: module.${m[1]} is not called here`);
                } else if (m[2] && childOutputs[m[1]] && !childOutputs[m[1]].has(m[2])) {
                    errors.push(`${where}: module.${m[1]} has no output "${m[2]}"`);
                }
            }
        }
    };
    for (const b of mod.blocks) scan(b.body, blockLabel(b));
    for (const [n, o] of Object.entries(mod.outputs)) scan(o.body, `${o.file}: output.${n}`);
    for (const [n, l] of Object.entries(mod.locals)) scan(l.value, `${l.file}: local.${n}`);
    for (const [n, m] of Object.entries(mod.modules)) scan(m.body, `${m.file}: module.${n}`);
    for (const p of mod.providers) scan(p.body, `${p.file}: provider.${p.name}`);
    // A variable that only its own validation reads is still unused.
    for (const [n, v] of Object.entries(mod.variables))
        scan(v.body.validation || [], `${v.file}: variable.${n}`, false);
    for (const [n, v] of Object.entries(mod.variables)) {
        if (!used.has(n))
            errors.push(`${v.file}: variable "${n}" is declared but never used`);
    }
    return errors;
}
