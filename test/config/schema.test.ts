/**
 * The JSON Schema editors read (schema/cluster.schema.json), checked with a real validator (ajv):
 * every field has a description (and a default where there is one), both examples validate, and
 * configs of the wrong shape are refused by the schema as they are by k8s-image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import Ajv from 'ajv';
import { clusterJsonSchemaObject } from '../../src/commands/schema.js';
import { FIELD_DOCS } from '../../src/config/field-docs.js';
import { defaultClusterYaml, haClusterYaml } from '../../src/config/index.js';
import { packageRoot } from '../../src/assets.js';

const { schema, fields } = clusterJsonSchemaObject();
const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

test('every field of the schema has a description, and every documented field exists', () => {
  assert.deepEqual(fields.filter((f) => !FIELD_DOCS[f]), [], 'fields without a description in src/config/field-docs.ts');
  assert.deepEqual(Object.keys(FIELD_DOCS).filter((f) => !fields.includes(f)), [], 'documented fields the schema does not have');
  const text = readFileSync(`${packageRoot}/schema/cluster.schema.json`, 'utf8');
  assert.equal(JSON.parse(text).definitions.Cluster.properties.cluster.properties.kubernetesVersion.default, '1.17.4');
  assert.equal(JSON.parse(text).definitions.Cluster.properties.nodes.items.properties.disk.default, 'sda');
});

test('ajv accepts every example', () => {
  const bareMetal = readFileSync(`${packageRoot}/examples/bare-metal.yaml`, 'utf8');
  for (const [name, text] of [['lab', defaultClusterYaml()], ['ha', haClusterYaml()], ['bare-metal', bareMetal]] as const) {
    assert.ok(validate(yaml.load(text)), `${name}: ${ajv.errorsText(validate.errors)}`);
  }
});

test('ajv refuses the wrong shapes k8s-image refuses', () => {
  const lab = () => yaml.load(defaultClusterYaml()) as any;
  const cases: [string, (d: any) => void][] = [
    ['an unknown key', (d) => { d.cluster.kubernetesVersoin = '1.17.4'; }],
    ['a number as a name', (d) => { d.nodes[0].name = 5; }],
    ['shell in a name', (d) => { d.nodes[0].name = 'm$(reboot)'; }],
    ['a bad role', (d) => { d.nodes[0].role = 'boss'; }],
    ['a bad address', (d) => { d.nodes[0].ip = '10.0.0.1;id'; }],
    ['a URL with a space', (d) => { d.mirrors.centos = 'https://x y'; }],
    ['a newline in an ssh key', (d) => { d.os.sshAuthorizedKeys = ['ssh-ed25519 AAAA\n%post']; }],
    ['a bad duration', (d) => { d.bootstrap.tokenTTL = '1 day'; }],
    ['no nodes', (d) => { d.nodes = []; }],
    ['a string port', (d) => { d.loadBalancer = { port: '6443' }; }],
  ];
  for (const [what, mutate] of cases) {
    const d = lab();
    mutate(d);
    assert.equal(validate(d), false, `${what} passed the schema`);
  }
  const zero = lab();
  zero.bootstrap.tokenTTL = 0;
  assert.ok(validate(zero), 'tokenTTL: 0 is valid');
});
