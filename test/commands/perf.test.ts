/**
 * Farm-scale builds (issue 14), checked for what must not change, never timed (bench/ measures):
 * the parallel build gives byte-identical output to a one-thread build, and a worker's files do not
 * grow with the farm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { farmYaml } from '../helpers/farm.js';
import { tempDir } from '../helpers/tmp.js';
import { treeHashes } from '../helpers/tree.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli.js');

test('a build on four threads is byte-identical to a one-thread build (files, modes, manifest)', async () => {
  const base = tempDir('k8s-image-par-');
  writeFileSync(join(base, 'farm.yaml'), farmYaml(60));
  await run(process.execPath, [cli, 'secrets', '-c', 'farm.yaml'], { cwd: base });
  await run(process.execPath, [cli, 'build', '-c', 'farm.yaml', '-o', 'seq'], { cwd: base, env: { ...process.env, K8S_IMAGE_THREADS: '0' } });
  await run(process.execPath, [cli, 'build', '-c', 'farm.yaml', '-o', 'par'], { cwd: base, env: { ...process.env, K8S_IMAGE_THREADS: '4' } });
  const seq = treeHashes(join(base, 'seq'), true);
  const par = treeHashes(join(base, 'par'), true);
  assert.ok(Object.keys(seq).length > 60 * 8);
  assert.deepEqual(par, seq);
  // The kickstart next to the seed tree's copy is one file (a hard link), in either build.
  for (const out of ['seq', 'par']) {
    const a = statSync(join(base, out, 'farm', 'node0001', 'ks.cfg'));
    const b = statSync(join(base, out, 'farm', 'node0001', 'oemdrv', 'ks.cfg'));
    assert.equal(a.ino, b.ino, `${out}: ks.cfg and oemdrv/ks.cfg are one inode`);
  }
});

test("a worker's files do not grow with the farm: /etc/hosts and the first-boot env hold no node list", async () => {
  const base = tempDir('k8s-image-grow-');
  const sizes: Record<number, number> = {};
  for (const n of [10, 300]) {
    writeFileSync(join(base, `farm${n}.yaml`), farmYaml(n));
    await run(process.execPath, [cli, 'render', '-c', `farm${n}.yaml`, '-o', `out${n}`], { cwd: base });
    const dir = join(base, `out${n}`, 'farm', 'node0001');
    sizes[n] = ['ks.cfg', 'cloud-init/user-data'].reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    const hosts = readFileSync(join(dir, 'ks.cfg'), 'utf8');
    if (n === 300) {
      assert.doesNotMatch(hosts, /node0002/, 'another worker in a big farm worker\'s files');
      assert.match(hosts, /10\.20\.0\.10 master/, 'the masters are there');
    }
  }
  assert.ok(sizes[300]! <= sizes[10]! * 1.1, `${sizes[300]} bytes vs ${sizes[10]}`);
});
