/**
 * A 1000-node cluster.yaml, read the way a user does (`k8s-image validate -c farm.yaml`): every
 * error names the line it is on, a misspelt field gets a "did you mean", and a warning that holds
 * for many nodes is one line saying how many, not one line per node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { packageRoot } from '../../src/assets.js';
import { farmYaml } from '../helpers/farm.js';
import { tempDir } from '../helpers/tmp.js';

const cli = join(packageRoot, 'dist', 'src', 'cli.js');

function validate(text: string): { code: number | null; stderr: string; lines: string[] } {
  const dir = tempDir('k8s-image-where-');
  writeFileSync(join(dir, 'farm.yaml'), text);
  const r = spawnSync(process.execPath, [cli, 'validate', '-c', 'farm.yaml'], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr, lines: text.split('\n') };
}

/** The farm, dumped in block style (one field per line), with `edit` applied to its parsed form. */
function farm(edit: (doc: any) => void, flow = false): string {
  const doc = yaml.load(farmYaml(1000)) as any;
  edit(doc);
  return yaml.dump(doc, { lineWidth: -1, flowLevel: flow ? 2 : -1 });
}

test('errors in a 1000-node file name the line of the field, in block and in flow style', () => {
  // One refused by the schema (a bad ip), one by the cross-field checks after it (a multicast MAC).
  const cases: [(d: any) => void, RegExp, RegExp][] = [
    [(d) => { d.nodes[500].ip = '10.20.300.1'; }, /^error: nodes\[500\]\.ip: "10\.20\.300\.1" is not valid.* \(line (\d+)\)$/m, /10\.20\.300\.1/],
    [(d) => { d.nodes[700].mac = '01:00:5e:00:00:01'; }, /^error: nodes\[700\]\.mac: "01:00:5e:00:00:01" is a multicast address.* \(line (\d+)\)$/m, /01:00:5e:00:00:01/],
  ];
  for (const flow of [false, true]) {
    for (const [edit, error, onLine] of cases) {
      const r = validate(farm(edit, flow));
      assert.equal(r.code, 2, r.stderr);
      const m = error.exec(r.stderr);
      assert.ok(m, r.stderr);
      assert.match(r.lines[Number(m[1]) - 1]!, onLine, `line ${m[1]} holds the bad value (flow: ${flow})`);
    }
  }
});

test('a misspelt field: its own line and the field it was probably meant to be', () => {
  const text = farm((d) => {
    d.nodes[321].adress = d.nodes[321].ip;
    d.cluster.podsubnet = '10.244.0.0/16';
    d.nodes[5].zzz = 1;
  });
  const r = validate(text);
  assert.equal(r.code, 2, r.stderr);
  const node = /^error: nodes\[321\]: unknown field "adress"; allowed here: .*\bip\b.* \(line (\d+)\)$/m.exec(r.stderr);
  assert.ok(node, r.stderr);
  assert.match(r.lines[Number(node[1]) - 1]!, /^\s*adress: /);
  const cluster = /^error: cluster: unknown field "podsubnet"; did you mean "podSubnet"\? \(line (\d+)\)$/m.exec(r.stderr);
  assert.ok(cluster, r.stderr);
  assert.match(r.lines[Number(cluster[1]) - 1]!, /^\s*podsubnet: /);
  // Nothing close: the fields that are allowed there instead of a guess.
  assert.match(r.stderr, /^error: nodes\[5\]: unknown field "zzz"; allowed here: name, role, ip, mac, .* \(line \d+\)$/m);
});

test('a warning that holds for 1000 nodes is one line with the count, not 1000 lines', () => {
  const text = farm((d) => {
    for (const n of d.nodes) {
      n.cpus = 1;
      n.memory = '1Gi';
    }
  });
  const r = validate(text);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
  assert.equal(warnings.length, 2, warnings.slice(0, 5).join('\n'));
  assert.match(warnings[0]!, /^warning: nodes\[\*\]\.cpus: 1 is below kubeadm's minimum of 2; .* \(1001 nodes: nodes\[0\], nodes\[1\], nodes\[2\] and 998 more\)$/);
  assert.match(warnings[1]!, /^warning: nodes\[\*\]\.memory: 1024 MiB is below kubeadm's 2 GiB; .* \(1001 nodes: nodes\[0\], nodes\[1\], nodes\[2\] and 998 more\)$/);
});
