// deploy/terraform against the AWS provider's own schema, offline
// (tests/integration/lib/terraform_schema.mjs): every resource and data
// source type exists in hashicorp/aws (the release @cdktf/provider-aws was
// generated from, within versions.tf's constraint), every argument and
// nested block exists, every required one is set, literals have the right
// type; every var.X is declared and every declared variable used; every
// local, resource, data source, module output and attribute referred to
// exists.  Broken snippets prove that each check fails when it should.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SOURCE_DIR } from './lib/cirrus.mjs';
import { checkReferences, checkSchema, loadAwsSchema, parseModule,
    readModuleSources } from './lib/terraform_schema.mjs';

const TF_ROOT = path.join(SOURCE_DIR, 'deploy', 'terraform');

// Every module directory of a tree, parsed, with the outputs of the modules
// it calls by local path.
async function loadTree(sources) {
    const mods = {};
    for (const [dir, files] of Object.entries(sources)) mods[dir] = await parseModule(files);
    for (const [dir, mod] of Object.entries(mods)) {
        mod.childOutputs = {};
        for (const [name, call] of Object.entries(mod.modules)) {
            const child = mods[path.normalize(path.join(dir, String(call.body.source)))];
            if (child) mod.childOutputs[name] = new Set(Object.keys(child.outputs));
        }
    }
    return mods;
}

async function errorsOf(files, schema) {
    const mod = (await loadTree({ '.': files }))['.'];
    return [...checkSchema(mod, schema), ...checkReferences(mod, schema, mod.childOutputs)];
}

describe('Terraform against the AWS provider schema', () => {
    let schema;
    let tree;
    before(async () => {
        schema = loadAwsSchema();
        tree = await loadTree(readModuleSources(TF_ROOT));
    });

    test('the schema is the AWS provider within versions.tf\'s constraint', () => {
        const versions = fs.readFileSync(path.join(TF_ROOT, 'versions.tf'), 'utf8');
        const m = /version\s*=\s*"~>\s*(\d+)\.(\d+)"/.exec(versions);
        assert.ok(m, 'versions.tf pins hashicorp/aws with ~> MAJOR.MINOR');
        const [major, minor] = schema.version.split('.').map(Number);
        assert.equal(major, Number(m[1]), `schema ${schema.version} vs ~> ${m[1]}.${m[2]}`);
        assert.ok(minor >= Number(m[2]), `schema ${schema.version} vs ~> ${m[1]}.${m[2]}`);
        assert.ok(Object.keys(schema.resource).length > 1000, 'resource types loaded');
        assert.ok(schema.resource.aws_s3_bucket.args.bucket, 'aws_s3_bucket.bucket');
        assert.ok(schema.data.aws_caller_identity, 'data.aws_caller_identity');
    });

    test('every module of deploy/terraform: blocks match the schema', () => {
        let blocks = 0;
        const errors = [];
        for (const [dir, mod] of Object.entries(tree)) {
            blocks += mod.blocks.length;
            errors.push(...checkSchema(mod, schema).map((e) => `${dir}/${e}`));
        }
        assert.ok(Object.keys(tree).length >= 9, 'root and its modules parsed');
        assert.ok(blocks > 100, `resource/data blocks checked: ${blocks}`);
        assert.deepEqual(errors, []);
    });

    test('every module of deploy/terraform: references resolve, no unused variable', () => {
        const errors = [];
        for (const [dir, mod] of Object.entries(tree))
            errors.push(...checkReferences(mod, schema, mod.childOutputs)
                .map((e) => `${dir}/${e}`));
        assert.deepEqual(errors, []);
    });

    describe('a broken snippet fails', () => {
        const expectError = async (files, re) => {
            const errors = await errorsOf(files, schema);
            assert.ok(errors.some((e) => re.test(e)),
                `expected ${re} among:\n${errors.join('\n') || '(no errors)'}`);
        };

        test('unknown resource type and data source', async () => {
            await expectError({ 'a.tf': 'resource "aws_s3_bukket" "b" {}\n' },
                /has no resource type "aws_s3_bukket"/);
            await expectError({ 'a.tf': 'data "aws_caller_identityy" "c" {}\n' },
                /has no data source "aws_caller_identityy"/);
        });

        test('misspelt argument, misspelt nested block, argument in the wrong block', async () => {
            await expectError({ 'a.tf': 'resource "aws_s3_bucket" "b" {\n  buckett = "x"\n}\n' },
                /aws_s3_bucket\.b: unsupported argument or block "buckett"/);
            await expectError({ 'a.tf': 'resource "aws_sqs_queue" "q" {\n  redrive_polcy {}\n}\n' },
                /unsupported argument or block "redrive_polcy"/);
            await expectError({ 'a.tf': [
                'resource "aws_s3_bucket_lifecycle_configuration" "l" {',
                '  bucket = "b"',
                '  rule {',
                '    id     = "r"',
                '    status = "Enabled"',
                '    expiration { dayz = 3 }',
                '  }',
                '}', ''].join('\n') },
            /rule\.expiration: unsupported argument or block "dayz"/);
        });

        test('dynamic block of an unknown name, and its content checked', async () => {
            const body = (name, arg, extra = '') => [
                'variable "rules" { type = list(string) }',
                'resource "aws_s3_bucket_cors_configuration" "c" {',
                '  bucket = "b"',
                `  dynamic "${name}" {`,
                '    for_each = var.rules',
                '    content {',
                `      ${arg} = ["GET"]`,
                `      ${extra}`,
                '    }',
                '  }',
                '}', ''].join('\n');
            await expectError({ 'a.tf': body('cors_rulez', 'allowed_methods') },
                /dynamic "cors_rulez": no such block/);
            await expectError({ 'a.tf': body('cors_rule', 'allowed_methodz') },
                /cors_rule: unsupported argument or block "allowed_methodz"/);
            await expectError({ 'a.tf': body('cors_rule', 'allowed_methods') },
                /cors_rule: required argument "allowed_origins" is missing/);
            const ok = body('cors_rule', 'allowed_methods', 'allowed_origins = ["*"]');
            assert.deepEqual(await errorsOf({ 'a.tf': ok }, schema), []);
        });

        test('a required argument or block left out', async () => {
            await expectError(
                { 'a.tf': 'resource "aws_sqs_queue_policy" "p" {\n  policy = "{}"\n}\n' },
                /required argument "queue_url" is missing/);
            await expectError({ 'a.tf': [
                'resource "aws_lb_listener" "l" {',
                '  load_balancer_arn = "arn"',
                '}', ''].join('\n') },
            /required block "default_action" is missing/);
        });

        test('literals of the wrong type', async () => {
            const q = (arg) => `resource "aws_sqs_queue" "q" {\n  ${arg}\n}\n`;
            await expectError({ 'a.tf': q('delay_seconds = "ten"') },
                /delay_seconds: expects a number, got string "ten"/);
            await expectError({ 'a.tf': q('fifo_queue = "yes"') },
                /fifo_queue: expects a bool/);
            await expectError({ 'a.tf': q('tags = ["a"]') }, /tags: expects a map, got a list/);
            await expectError({ 'a.tf': q('name = ["a"]') }, /name: expects a string, got a list/);
            await expectError({ 'a.tf': 'resource "aws_security_group" "s" {\n  ingress {\n'
                + '    from_port = 1\n    to_port = 2\n    protocol = "tcp"\n'
                + '    cidr_blocks = "0.0.0.0/0"\n  }\n}\n' },
            /cidr_blocks: expects a list, got string/);
            // Terraform's own conversions are not errors.
            assert.deepEqual(await errorsOf({ 'a.tf': q('delay_seconds = "10"\n  name = 5\n'
                + '  fifo_queue = "false"') }, schema), []);
        });

        test('provider block arguments', async () => {
            await expectError({ 'a.tf': 'provider "aws" {\n  regoin = "eu-west-1"\n}\n' },
                /provider "aws": unsupported argument or block "regoin"/);
        });

        test('variables: undeclared, unused, used only by its own validation', async () => {
            await expectError({ 'a.tf': 'output "o" { value = var.nope }\n' },
                /output\.o: var\.nope is not declared/);
            await expectError({ 'a.tf': 'variable "spare" { type = string }\n' },
                /variable "spare" is declared but never used/);
            await expectError({ 'a.tf': [
                'variable "n" {',
                '  type = number',
                '  validation {',
                '    condition     = var.n > 0',
                '    error_message = "n > 0"',
                '  }',
                '}', ''].join('\n') },
            /variable "n" is declared but never used/);
        });

        test('references: resource, data source, attribute, local, module output', async () => {
            const q = 'resource "aws_sqs_queue" "q" {}\n';
            await expectError({ 'a.tf': `${q}output "o" { value = aws_sqs_queue.missing.arn }\n` },
                /aws_sqs_queue\.missing is not declared in this module/);
            await expectError({ 'a.tf': `${q}output "o" { value = aws_sqs_queue.q.arnn }\n` },
                /aws_sqs_queue\.q has no attribute "arnn"/);
            await expectError({ 'a.tf': 'output "o" { value = data.aws_region.here.name }\n' },
                /data\.aws_region\.here is not declared/);
            await expectError({ 'a.tf': 'output "o" { value = local.nothing }\n' },
                /local\.nothing is not defined/);
            await expectError({ 'a.tf': 'output "o" { value = module.absent.x }\n' },
                /module\.absent is not called here/);
            const files = {
                'a.tf': 'module "child" {\n  source = "./child"\n}\n'
                    + 'output "o" { value = module.child.urll }\n',
            };
            const mods = await loadTree({ '.': files,
                child: { 'o.tf': 'output "url" { value = "x" }\n' } });
            const errors = checkReferences(mods['.'], schema, mods['.'].childOutputs);
            assert.deepEqual(errors, ['a.tf: output.o: module.child has no output "urll"']);
            // A quoted "aws_x.y" inside an expression is a string, not a reference.
            assert.deepEqual(await errorsOf({ 'a.tf': `${q}output "o" {\n`
                + '  value = "${aws_sqs_queue.q.arn} aws_none.x"\n}\n' }, schema), []);
        });
    });
});
