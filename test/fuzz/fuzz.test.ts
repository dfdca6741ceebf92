/**
 * Bounded fuzzing (issue 10): a few thousand mutated configs through config, plan and renderers
 * in-process, a sample of the accepted ones through the real readers, and a few dozen through the
 * CLI as a whole process (exit 0 with a whole tree, or exit 2 naming a field with nothing written;
 * never a stack trace). `npm run fuzz` runs the same for longer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { problemObject } from '../../src/errors.js';
import { cloudInitSchema } from '../helpers/readers.js';
import { judge, mutate, rng } from './fuzzer.js';
import { tempDir } from '../helpers/tmp.js';

const ITERATIONS = Number(process.env.K8S_IMAGE_FUZZ_ITERATIONS ?? 2000);
const SEED = Number(process.env.K8S_IMAGE_FUZZ_SEED ?? 20201112);

test(`${ITERATIONS} mutated configs: refused naming a field, or accepted with well-formed artifacts`, { timeout: 240000 }, async () => {
  const r = rng(SEED);
  const failures: string[] = [];
  let accepted = 0;
  const acceptedTexts: string[] = [];
  for (let i = 0; i < ITERATIONS && failures.length < 5; i++) {
    const { text, what } = mutate(r);
    const v = await judge(text);
    if (v.outcome === 'accepted') {
      accepted++;
      if (acceptedTexts.length < 6 && what.includes('=')) acceptedTexts.push(text);
    }
    for (const x of v.violations) failures.push(`#${i} (${what}): ${x}`);
  }
  assert.deepEqual(failures, [], `seed ${SEED}`);
  // The fuzzer must reach both outcomes, or it tests nothing.
  assert.ok(accepted > ITERATIONS / 50, `only ${accepted} accepted`);
  assert.ok(accepted < ITERATIONS * 0.9, `${accepted} accepted: the mutations are too weak`);
  // A sample of accepted mutants through cloud-init's own schema check.
  const { loadCluster } = await import('../../src/config/index.js');
  const { planNode } = await import('../../src/plan/index.js');
  const { renderCloudInit } = await import('../../src/cloudinit/index.js');
  const { generateSecrets } = await import('../../src/secrets/index.js');
  for (const text of acceptedTexts.slice(0, 3)) {
    const { cluster } = loadCluster(text);
    const node = cluster.nodes.find((n) => n.mac || n.interface);
    if (!node) continue;
    const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: true });
    const ud = Buffer.from(renderCloudInit(planNode(cluster, secrets, node.name)).find((a) => a.path === 'cloud-init/user-data')!.bytes).toString();
    assert.deepEqual(await cloudInitSchema(ud), []);
  }
});

test('mutated configs through the CLI: exit 0 with a whole tree, or exit 2 with every line naming a field and nothing written', { timeout: 240000 }, async () => {
  const run = promisify(execFile);
  const cli = join(packageRoot, 'dist', 'src', 'cli.js');
  const r = rng(SEED + 1);
  const base = tempDir('k8s-image-fuzz-');
  try {
    let ok = 0;
    for (let i = 0; i < 20; i++) {
      const { text, what } = mutate(r);
      const dir = join(base, String(i));
      const config = join(base, `${i}.yaml`);
      writeFileSync(config, text);
      let code = 0;
      let stderr = '';
      try {
        ({ stderr } = await run(process.execPath, [cli, 'build', '-c', config, '-o', dir, '--seed', 'oemdrv'], { cwd: base, maxBuffer: 64 << 20 }));
      } catch (e) {
        code = (e as { code: number }).code;
        stderr = (e as { stderr: string }).stderr;
      }
      assert.doesNotMatch(stderr, /internal error|    at /, `#${i} (${what}): a stack trace`);
      if (code === 0) {
        ok++;
        const name = (readFileSync(config, 'utf8').match(/^  name: (\S+)/m)?.[1] ?? 'k8s-lab').replace(/^['"]|['"]$/g, '');
        assert.ok(existsSync(join(dir, name, 'manifest.json')) || existsSync(dir), `#${i}: exit 0 without a tree`);
      } else {
        assert.equal(code, 2, `#${i} (${what}): exit ${code}: ${stderr}`);
        const errors = stderr.split('\n').filter((l) => l.startsWith('error: '));
        assert.ok(errors.length > 0, `#${i}: exit 2 without an error line: ${stderr}`);
        for (const l of errors) assert.ok(problemObject(l.slice('error: '.length)).path, `#${i} (${what}): names no field: ${l}`);
        assert.ok(!existsSync(dir), `#${i} (${what}): a refused build wrote ${dir}`);
      }
    }
    assert.ok(ok > 0, 'no mutant was accepted');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
