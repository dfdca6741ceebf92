/** Validation gaps a new user hit (issue 10): each case fails on the code before the fix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { loadCluster, defaultClusterYaml } from '../../src/config/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { planNode } from '../../src/plan/index.js';
import { renderKickstart } from '../../src/kickstart/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { configProblems } from '../helpers/config.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

function lab(mutate: (doc: any) => void): string {
  const doc = yaml.load(defaultClusterYaml()) as any;
  mutate(doc);
  return yaml.dump(doc);
}

/** [] when the config is accepted. */
function problemsOf(text: string): string[] {
  try {
    loadCluster(text, 'test.yaml');
    return [];
  } catch {
    return configProblems(text);
  }
}

function problem(text: string, path: string): string {
  const hit = configProblems(text).find((p) => p.startsWith(`${path}:`));
  assert.ok(hit, `no problem at ${path}: ${configProblems(text).join('\n')}`);
  return hit;
}

test('an unknown patch release is refused (yum would find no package), or rendered with an explicit opt-in that warns', () => {
  const p = problem(lab((d) => { d.cluster.kubernetesVersion = '1.28.99'; d.cluster.runtime = { kind: 'containerd' }; }), 'cluster.kubernetesVersion');
  assert.match(p, /"1\.28\.99" is not a Kubernetes release: the last 1\.28 release is 1\.28\.15, so yum would find no kubeadm-1\.28\.99 .*allowUnknownPatchRelease/);
  assert.deepEqual(problemsOf(lab((d) => { d.cluster.kubernetesVersion = '1.17.17'; })), [], 'the last patch passes');
  const { warnings } = loadCluster(lab((d) => { d.cluster.kubernetesVersion = '1.17.18'; d.cluster.allowUnknownPatchRelease = true; }));
  assert.ok(warnings.some((w) => /the install fails if the mirror has no kubeadm-1\.17\.18/.test(w)), warnings.join('\n'));
});

test('authenticated proxies and mirrors are accepted; the password stays out of ks.cfg and world-readable files', async () => {
  const text = lab((d) => {
    d.proxy = { http: 'http://ops:s3cr%40t@proxy.example.com:3128', https: 'http://ops:s3cr%40t@proxy.example.com:3128' };
    d.mirrors.centos = 'https://build:p4ss@mirror.example.com/centos-vault/7.9.2009';
  });
  const { cluster } = loadCluster(text);
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  for (const name of ['master', 'node01']) {
    const plan = planNode({ ...cluster, nodes: cluster.nodes.map((n) => ({ ...n, mac: '00:50:56:3f:00:01' })) }, secrets, name);
    const ks = Buffer.from(renderKickstart(plan).find((a) => a.path === 'ks.cfg')!.bytes).toString();
    assert.ok(!ks.includes('s3cr%40t') && !ks.includes('p4ss'), `${name}: a password in ks.cfg`);
    for (const f of plan.files) {
      if (f.content.includes('s3cr%40t') || f.content.includes('p4ss')) {
        assert.equal(f.mode, 0o600, `${f.path} holds a password and is 0${f.mode.toString(8)}`);
        assert.ok(f.secret, `${f.path} travels as a secret file`);
      }
    }
    assert.ok(plan.files.some((f) => f.path === '/etc/yum.repos.d/CentOS-Base.repo' && f.secret));
    const ud = renderCloudInit(plan).find((a) => a.path === 'cloud-init/user-data')!;
    assert.ok(ud.secret, 'user-data holding a password is a 0600 artifact');
  }
});

test('a refused URL is echoed without its password', () => {
  const p = problem(lab((d) => { d.proxy = { http: 'http://ops:hunter2@proxy example.com:3128' }; }), 'proxy.http');
  assert.ok(!p.includes('hunter2'), p);
  assert.match(p, /ops:\*\*\*@/);
});

test('a % in a proxy URL reaches systemd as a literal % (systemd-analyze verify reads the drop-in)', async () => {
  const { cluster } = loadCluster(lab((d) => { d.proxy = { http: 'http://proxy.example.com:3128/%7Eops' }; }));
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  const plan = planNode(cluster, secrets, 'node01');
  const verify = (files: typeof plan.files) => {
    const root = tempDir('k8s-image-pct-');
    try {
      cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
      for (const f of files) {
        mkdirSync(join(root, f.path, '..'), { recursive: true });
        writeFileSync(join(root, f.path), f.content, { mode: f.mode });
      }
      const r = spawnSync(requireTool('systemd-analyze'), ['verify', `--root=${root}`, '--man=no', join(root, 'etc/systemd/system/k8s-image-firstboot.service')], { encoding: 'utf8' });
      return `${r.stdout}${r.stderr}`;
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
  const dropIn = plan.files.find((f) => f.path.endsWith('k8s-image-firstboot.service.d/http-proxy.conf'))!;
  assert.match(dropIn.content, /^Environment=HTTP_PROXY=http:\/\/proxy\.example\.com:3128\/%%7Eops$/m);
  assert.doesNotMatch(verify(plan.files), /specifier/i);
  // Control: the raw % is what systemd complains about.
  const raw = plan.files.map((f) => (f === dropIn ? { ...f, content: f.content.replaceAll('%%', '%') } : f));
  assert.match(verify(raw), /specifier/i);
});

test('tokenTTL: 0 as a YAML number means never, as the example offers', () => {
  const { cluster, warnings } = loadCluster(lab((d) => { d.bootstrap.tokenTTL = 0; }));
  assert.equal(cluster.bootstrap.tokenTTLSeconds, 0);
  assert.ok(warnings.some((w) => w.startsWith('bootstrap.tokenTTL: 0 means')));
  assert.match(problem(lab((d) => { d.bootstrap.tokenTTL = 86400; }), 'bootstrap.tokenTTL'), /expected a duration like 24h/);
});

test('timezones are checked against the tz database', () => {
  assert.match(problem(lab((d) => { d.os.timezone = 'Europe/Berln'; }), 'os.timezone'), /not in the tz database/);
  for (const tz of ['CET', 'UTC', 'Asia/Shanghai', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) {
    assert.deepEqual(problemsOf(lab((d) => { d.os.timezone = tz; })), [], tz);
  }
});

test('ntpServers: the message names both shapes that are accepted', () => {
  assert.match(problem(lab((d) => { d.os.ntpServers = ['ntp server'] ; }), 'os.ntpServers[0]'), /expected a host name \(ntp\.example\.com\) or an IPv4 address/);
  assert.deepEqual(problemsOf(lab((d) => { d.os.ntpServers = ['ntp.example.com', '10.0.0.1']; })), []);
});

test('a YAML alias bomb is refused at once', () => {
  const levels = 'abcdefghi'.split('');
  const lines = [`a: &a [${Array(9).fill('"x"').join(',')}]`];
  for (let i = 1; i < levels.length; i++) lines.push(`${levels[i]}: &${levels[i]} [${Array(9).fill(`*${levels[i - 1]}`).join(',')}]`);
  lines.push('nodes: *i');
  const t0 = Date.now();
  assert.match(configProblems(lines.join('\n'))[0]!, /expands to more than 1000000 values through YAML aliases/);
  assert.ok(Date.now() - t0 < 5000);
  // Ordinary anchors still work.
  assert.deepEqual(configProblems(`${lab(() => undefined)}\nx-defaults: &d { cpus: 2 }\n`).length, 1, 'an unknown top-level key is still an error, not a crash');
});
