import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { packageRoot } from '../../src/assets.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli.js');

async function k8sImage(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, [cli, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env } });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p.slice(dir.length + 1), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

test('build --role master with no config: master files, both ISOs, manifest, 0600 secrets', async () => {
  const cwd = tempDir('k8s-image-build-');
  const r = await k8sImage(['build', '--role', 'master'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const dir = join(cwd, 'outputs', 'k8s-lab', 'master');
  for (const f of ['ks.cfg', 'oemdrv/ks.cfg', 'cloud-init/user-data', 'cloud-init/meta-data', 'cloud-init/network-config', 'master-cidata.iso', 'master-oemdrv.iso']) {
    assert.ok(existsSync(join(dir, f)), f);
  }
  assert.equal(statSync(join(dir, 'master-oemdrv.iso')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'master-cidata.iso')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'ks.cfg')).mode & 0o777, 0o644);
  assert.equal(statSync(join(cwd, 'outputs', 'k8s-lab.secrets.yaml')).mode & 0o777, 0o600);
  const manifest = JSON.parse(readFileSync(join(cwd, 'outputs', 'k8s-lab', 'manifest.json'), 'utf8'));
  assert.equal(manifest.cluster, 'k8s-lab');
  const iso = manifest.artifacts.find((a: { path: string }) => a.path === 'master/master-cidata.iso');
  assert.equal(iso.sha256, createHash('sha256').update(readFileSync(join(dir, 'master-cidata.iso'))).digest('hex'));
  assert.equal(iso.secret, true);
  assert.match(r.stdout, /master\s+master\s+192\.168\.108\.100/);
  // The seed is its content plus the ISO structure (the 32 KiB system area, descriptors, directories)
  // and the zero padding to a multiple of 64 KiB, not genisoimage's ~370 KB of padding.
  const content = ['user-data', 'meta-data', 'network-config'].reduce((s, f) => s + statSync(join(dir, 'cloud-init', f)).size, 0);
  const isoSize = statSync(join(dir, 'master-cidata.iso')).size;
  assert.equal(isoSize % 65536, 0);
  assert.ok(isoSize < content + 64 * 1024 + 64 * 1024, `ISO overhead stays small (${isoSize} bytes for ${content} of content)`);
  // The seeds read back with real readers: label and names through Rock Ridge.
  const blkid = await run('blkid', ['-p', '-o', 'export', join(dir, 'master-cidata.iso')]);
  assert.match(blkid.stdout, /^LABEL=cidata$/m);
  assert.match(blkid.stdout, /^TYPE=iso9660$/m);
  const ls = await run('xorriso', ['-indev', join(dir, 'master-oemdrv.iso'), '-find', '/', '-type', 'f'], {});
  assert.match(ls.stdout, /'\/ks\.cfg'/);
  assert.match(ls.stdout, /'\/k8s-image\/etc\/k8s-image\/pki\/ca\.key'/);
  const out = tempDir('k8s-image-x-');
  await run('xorriso', ['-osirrox', 'on', '-indev', join(dir, 'master-cidata.iso'), '-extract', '/', out]);
  for (const f of ['user-data', 'meta-data', 'network-config']) {
    assert.deepEqual(readFileSync(join(out, f)), readFileSync(join(dir, 'cloud-init', f)), f);
  }
  const pvd = readFileSync(join(dir, 'master-oemdrv.iso')).subarray(16 * 2048 + 40, 16 * 2048 + 72).toString('latin1');
  assert.equal(pvd, 'OEMDRV'.padEnd(32, ' '));
});

test('two builds (other TZ, umask, working directory) are byte-identical; a node-local change touches one node', async () => {
  const base = tempDir('k8s-image-det-');
  const config = join(base, 'cluster.yaml');
  const init = await k8sImage(['init', '-o', config], { cwd: base });
  assert.equal(init.code, 0, init.stderr);
  const a = await k8sImage(['build', '-c', config, '-o', join(base, 'a')], { cwd: base, env: { TZ: 'UTC' } });
  assert.equal(a.code, 0, a.stderr);
  const other = tempDir('k8s-image-det2-');
  const b = await run('bash', ['-c', `umask 077; TZ=Asia/Shanghai ${process.execPath} ${cli} build -c ${config} -o ${join(base, 'b')}`], { cwd: other });
  assert.ok(b.stdout.includes('built 3 node(s)'));
  assert.deepEqual(tree(join(base, 'b', 'k8s-lab')), tree(join(base, 'a', 'k8s-lab')));
  // Same secrets file: the second build reused it.
  writeFileSync(config, readFileSync(config, 'utf8').replace('ip: 192.168.108.102, cpus: 2, memory: 2Gi, disk: sda', 'ip: 192.168.108.102, cpus: 2, memory: 2Gi, disk: vdb'));
  const c = await k8sImage(['build', '-c', config, '-o', join(base, 'c')], { cwd: base });
  assert.equal(c.code, 0, c.stderr);
  const ta = tree(join(base, 'a', 'k8s-lab'));
  const tc = tree(join(base, 'c', 'k8s-lab'));
  const changed = [...ta.keys()].filter((k) => ta.get(k) !== tc.get(k));
  assert.ok(changed.length > 0);
  assert.ok(changed.every((k) => k.startsWith('node02/') || k === 'manifest.json'), changed.join(', '));
});

test('a failed build leaves the previous outputs intact, and a missing secrets file is not replaced silently', async () => {
  const base = tempDir('k8s-image-atomic-');
  const config = join(base, 'cluster.yaml');
  await k8sImage(['init', '-o', config], { cwd: base });
  const ok = await k8sImage(['render', '-c', config, '-o', join(base, 'out')], { cwd: base });
  assert.equal(ok.code, 0, ok.stderr);
  const before = tree(join(base, 'out', 'k8s-lab'));
  // An unavailable ISO tool fails the build after rendering started.
  const bad = await k8sImage(['build', '-c', config, '-o', join(base, 'out'), '--iso-tool', 'xorriso'], { cwd: base, env: { PATH: '/nonexistent' } });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /xorriso/);
  assert.deepEqual(tree(join(base, 'out', 'k8s-lab')), before);
  assert.deepEqual(readdirSync(join(base, 'out')).filter((n) => n.includes('staging')), []);
  rmSync(join(base, 'k8s-lab.secrets.yaml'));
  const refused = await k8sImage(['render', '-c', config, '-o', join(base, 'out')], { cwd: base });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--new-ca/);
  assert.deepEqual(tree(join(base, 'out', 'k8s-lab')), before);
});

test('user errors exit 2 with the field; --help teaches', async () => {
  const base = tempDir('k8s-image-err-');
  writeFileSync(join(base, 'bad.yaml'), 'nodes:\n  - {name: m, role: master, ip: 10.0.0.300}\n');
  const r = await k8sImage(['validate', '-c', join(base, 'bad.yaml')], { cwd: base });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /nodes\[0\]\.ip: "10\.0\.0\.300"/);
  assert.doesNotMatch(r.stderr, /    at /, 'no stack trace for user errors');
  const asJson = await k8sImage(['validate', '-c', join(base, 'bad.yaml'), '--json'], { cwd: base });
  assert.equal(asJson.code, 2);
  assert.equal(JSON.parse(asJson.stdout).ok, false);
  // Errors as data: the field, the value it names and the message.
  const err = JSON.parse(asJson.stdout).errors[0];
  assert.equal(err.path, 'nodes[0].ip');
  assert.equal(err.value, '10.0.0.300');
  assert.match(err.message, /^nodes\[0\]\.ip: "10\.0\.0\.300" is not valid/);
  const unknown = await k8sImage(['build', '-n', 'node99'], { cwd: base });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /node99.*master, node01, node02/);
  const help = await k8sImage(['build', '--help'], { cwd: base });
  assert.match(help.stdout, /--role/);
  assert.match(help.stdout, /Examples:/);
});

test('secrets --show prints the join command; kubeconfig writes a 0600 file', async () => {
  const cwd = tempDir('k8s-image-sec-');
  const s = await k8sImage(['secrets'], { cwd });
  assert.equal(s.code, 0, s.stderr);
  assert.doesNotMatch(s.stdout, /--token/);
  const show = await k8sImage(['secrets', '--show'], { cwd });
  assert.match(show.stdout, /kubeadm join 192\.168\.108\.100:6443 --token [a-z0-9]{6}\.[a-z0-9]{16} --discovery-token-ca-cert-hash sha256:[0-9a-f]{64}/);
  assert.match(show.stdout, /generated root password/);
  const k = await k8sImage(['kubeconfig', '-f', join(cwd, 'admin.conf')], { cwd });
  assert.equal(k.code, 0, k.stderr);
  assert.equal(statSync(join(cwd, 'admin.conf')).mode & 0o777, 0o600);
  assert.match(readFileSync(join(cwd, 'admin.conf'), 'utf8'), /server: https:\/\/192\.168\.108\.100:6443/);
});

test('init --ha, validate and build: all six nodes of the seed-004 layout', async () => {
  const base = tempDir('k8s-image-ha-cli-');
  const config = join(base, 'ha.yaml');
  assert.equal((await k8sImage(['init', '--ha', '-o', config], { cwd: base })).code, 0);
  const v = await k8sImage(['validate', '-c', config], { cwd: base });
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /endpoint 10\.0\.1\.157:6443/);
  const b = await k8sImage(['build', '-c', config, '-o', join(base, 'out'), '--json'], { cwd: base });
  assert.equal(b.code, 0, b.stderr);
  const summary = JSON.parse(b.stdout);
  assert.deepEqual(summary.nodes.map((n: { name: string }) => n.name), ['master1', 'master2', 'master3', 'worker1', 'worker2', 'lb']);
  assert.equal(statSync(join(base, 'out', 'k8s-ha', 'lb', 'lb-cidata.iso')).mode & 0o777, 0o644, 'the lb seed holds no secret');
  assert.ok(existsSync(join(base, 'k8s-ha.secrets.yaml')), 'secrets beside the config');
});

test('a partial build warns about output folders of nodes no longer in the config', async () => {
  const base = tempDir('k8s-image-stale-');
  const config = join(base, 'cluster.yaml');
  await k8sImage(['init', '-o', config], { cwd: base });
  assert.equal((await k8sImage(['render', '-c', config, '-o', join(base, 'out')], { cwd: base })).code, 0);
  writeFileSync(config, readFileSync(config, 'utf8').replace(/^  - \{ name: node02.*\n/m, ''));
  const r = await k8sImage(['render', '-c', config, '-o', join(base, 'out'), '-n', 'node01'], { cwd: base });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /node02: no node node02 in the config any more/);
  const full = await k8sImage(['render', '-c', config, '-o', join(base, 'out')], { cwd: base });
  assert.doesNotMatch(full.stderr, /any more/);
  assert.ok(!existsSync(join(base, 'out', 'k8s-lab', 'node02')), 'a full build replaces the whole tree');
});

test('a node whose NIC cannot be identified: --seed cidata refuses (exit 2, no side effects); a full build makes its OEMDRV seed only and says why', async () => {
  const base = tempDir('k8s-image-nic-');
  const config = join(base, 'cluster.yaml');
  await k8sImage(['init', '-o', config], { cwd: base });
  // Neither network.interface nor a MAC for node02; node01 gets a MAC.
  writeFileSync(
    config,
    readFileSync(config, 'utf8')
      .replace(/^  interface: ens33.*\n/m, '')
      .replace('{ name: master, role: master,', '{ name: master, role: master, interface: ens192,')
      .replace('{ name: node01, role: node,', '{ name: node01, role: node, mac: "00:50:56:3f:00:65",'),
  );
  const refused = await k8sImage(['build', '-c', config, '-o', join(base, 'out'), '--seed', 'cidata'], { cwd: base });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /^error: nodes\[2\]\.mac: node node02 has neither a MAC address nor an interface name, so a cidata seed cannot tell cloud-init which NIC gets 192\.168\.108\.102\/24 .*set nodes\[2\]\.mac .*eth0 on CentOS 7 GenericCloud/m);
  assert.ok(!existsSync(join(base, 'out')), 'nothing written');
  assert.ok(!existsSync(join(base, 'k8s-lab.secrets.yaml')), 'no secrets file minted by a refused build');

  const built = await k8sImage(['build', '-c', config, '-o', join(base, 'out')], { cwd: base });
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stderr, /warning: nodes\[2\]\.mac: .*Built for node02: the kickstart and OEMDRV seed only/);
  const dir = join(base, 'out', 'k8s-lab');
  assert.ok(existsSync(join(dir, 'node02', 'node02-oemdrv.iso')));
  assert.ok(!existsSync(join(dir, 'node02', 'node02-cidata.iso')) && !existsSync(join(dir, 'node02', 'cloud-init')));
  assert.match(readFileSync(join(dir, 'node02', 'ks.cfg'), 'utf8'), /^network .*--device=link /m);
  assert.match(readFileSync(join(dir, 'node01', 'cloud-init', 'network-config'), 'utf8'), /mac_address: 00:50:56:3f:00:65/);
  assert.match(readFileSync(join(dir, 'master', 'cloud-init', 'network-config'), 'utf8'), /name: ens192/);
  rmSync(base, { recursive: true, force: true });
});
