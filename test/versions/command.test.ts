import { test } from 'node:test';
import assert from 'node:assert/strict';
import { versions } from '../../src/commands/versions.js';
import type { Output } from '../../src/commands/common.js';

function capture(): Output & { out: string[] } {
  const out: string[] = [];
  return { out, result: (t) => out.push(t), info: () => {}, warn: () => {}, progress: () => {}, isTTY: false };
}

test('k8s-image versions prints the supported matrix, 1.15 to 1.31', async () => {
  const o = capture();
  await versions({}, o);
  const text = o.out.join('\n');
  const rows = text.split('\n').filter((l) => /^1\.[0-9]+/.test(l));
  assert.deepEqual(rows.map((l) => l.split(/\s+/)[0]), Array.from({ length: 17 }, (_, i) => `1.${15 + i}`));
  assert.match(text, /^1\.17\s+v1beta2\s+el7 \(-0\)\s+docker 18\.06\.3\.ce-3\.el7\s+docker,containerd\s+3\.1\s/m);
  assert.match(text, /^1\.31\s+v1beta4\s+pkgs \(-150500\.1\.1\)\s+containerd 1\.6\.33-3\.1\.el7\s+containerd\s+3\.10\s/m);
  assert.match(text, /^1\.18 .*ipvs needs 1\.18\.3\+/m);
});

test('k8s-image versions --all marks 1.32+ as opt-in only; --json carries every fact', async () => {
  const all = capture();
  await versions({ all: true }, all);
  assert.match(all.out.join('\n'), /^1\.35\*\s+v1beta4\s.*failCgroupV1: false/m);

  const j = capture();
  await versions({ json: true }, j);
  const doc = JSON.parse(j.out.join('\n'));
  assert.equal(doc.supported, '1.15-1.31');
  assert.equal(doc.minors.length, 23);
  const m24 = doc.minors.find((m: { minor: string }) => m.minor === '1.24');
  assert.deepEqual(
    { api: m24.kubeadmApi, repo: m24.repo, runtimes: m24.runtimes, socket: m24.criSocket, pause: m24.pause, docker: m24.docker },
    { api: 'kubeadm.k8s.io/v1beta3', repo: 'pkgs', runtimes: ['containerd'], socket: { containerd: 'unix:///run/containerd/containerd.sock' }, pause: '3.7', docker: [] },
  );
  assert.equal(doc.minors.find((m: { minor: string }) => m.minor === '1.32').supported, false);
});

test('tables fit the terminal: at 80 columns the least needed columns give way, and say so', async () => {
  const { execFileSync } = await import('node:child_process');
  const { join } = await import('node:path');
  const { packageRoot } = await import('../../src/assets.js');
  for (const cols of [80, 100]) {
    const text = execFileSync(process.execPath, [join(packageRoot, 'dist', 'src', 'cli.js'), 'versions', '--all'], { env: { ...process.env, COLUMNS: String(cols) }, encoding: 'utf8' });
    const widest = Math.max(...text.split('\n').map((l) => l.length));
    assert.ok(widest <= cols, `versions at ${cols} columns: a ${widest}-column line`);
    assert.match(text, /left out to fit/);
    assert.match(text, /^1\.17\s+v1beta2\s/m);
  }
  // Piped with no COLUMNS: every column, for scripts.
  const env = { ...process.env };
  delete env.COLUMNS;
  const full = execFileSync(process.execPath, [join(packageRoot, 'dist', 'src', 'cli.js'), 'versions'], { env, encoding: 'utf8' });
  assert.match(full, /KUBERNETES-CNI/);
});
