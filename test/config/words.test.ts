/**
 * The words a user reads need nothing outside the package: help, warnings, the files `init` writes
 * and the schema editors show never name the hand-built tutorial this tool was modelled on
 * ("seed 000/002/004", "the seeds"), design notes the user does not have, or a bare `npx k8s-image`
 * (outside the clone that asks the public registry for a package nobody here publishes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { packageRoot } from '../../src/assets.js';
import { defaultClusterYaml } from '../../src/config/index.js';
import { tempDir } from '../helpers/tmp.js';

const cli = join(packageRoot, 'dist', 'src', 'cli.js');
const FOREIGN = /seed[ -]?0\d\d|seed tutorial|the seeds\b|DESIGN(\.md)?\b|\bnpx\b/i;

const k8sImage = (args: string[], cwd = tempDir('k8s-image-words-')) => spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });

function assertOwnWords(what: string, text: string): void {
  const hit = text.split('\n').find((l) => FOREIGN.test(l));
  assert.equal(hit, undefined, `${what} speaks of something the user does not have: ${hit}`);
}

test('help of every command, init\'s files and the JSON schema use only words the user has', () => {
  const top = k8sImage(['--help']).stdout;
  assertOwnWords('k8s-image --help', top);
  const commands = [...top.matchAll(/^  ([a-z]+)(?: \[options\]| <\w+>)*\s/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  assert.ok(commands.length >= 10, `commands found in --help: ${commands.join(' ')}`);
  for (const c of commands) assertOwnWords(`k8s-image ${c} --help`, k8sImage([c, '--help']).stdout);
  assertOwnWords('init', k8sImage(['init']).stdout);
  assertOwnWords('init --ha', k8sImage(['init', '--ha']).stdout);
  assertOwnWords('schema', k8sImage(['schema']).stdout);
  assertOwnWords('schema/cluster.schema.json', readFileSync(join(packageRoot, 'schema', 'cluster.schema.json'), 'utf8'));
  // The defaults the help names are what the lab is, in the help's own words.
  assert.match(k8sImage(['build', '--help']).stdout.replace(/\s+/g, ' '), /one master and two workers on 192\.168\.108\.0\/24/);
});

test('warnings use only words the user has: the small-master warning says what happens, not where it was seen', () => {
  const dir = tempDir('k8s-image-words-');
  const doc = yaml.load(defaultClusterYaml()) as { nodes: { memory?: string; cpus?: number }[] };
  doc.nodes[0]!.memory = '1Gi';
  doc.nodes[0]!.cpus = 1;
  writeFileSync(join(dir, 'small.yaml'), yaml.dump(doc));
  const r = k8sImage(['validate', '-c', 'small.yaml'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /memory: 1024 MiB is below kubeadm's 2 GiB; a 1 GiB master runs into TLS handshake timeouts/);
  assertOwnWords('validate warnings', r.stderr);
  assertOwnWords('validate output', execFileSync(process.execPath, [cli, 'validate', '-c', 'small.yaml'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
});
