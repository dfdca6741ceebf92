/**
 * os.firewall: open, read by firewalld itself (Debian's firewall-offline-cmd on a root holding the
 * zone files the plan writes): the pod and service networks trusted (kube-proxy IPVS traffic passes
 * INPUT, kubernetes/kubeadm#1461), NodePorts on every Kubernetes node, firewalld installed where it
 * is enabled.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { loadCluster, defaultClusterYaml, type Cluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planNode, PATHS, type NodePlan } from '../../src/plan/index.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

let secrets: Secrets;
let open: Cluster;
before(async () => {
  const doc = yaml.load(defaultClusterYaml()) as any;
  doc.os.firewall = 'open';
  open = loadCluster(yaml.dump(doc)).cluster;
  secrets = await generateSecrets({ cluster: open.name, generateRootPassword: false });
});

/** firewalld's view of a zone, from a system config holding exactly the plan's zone files. */
function firewalld(plan: NodePlan, args: string[]): { status: number | null; out: string } {
  const root = tempDir('k8s-image-firewalld-');
  try {
    mkdirSync(join(root, 'zones'));
    // The daemon's own settings file, as the package installs it; the zones are ours.
    copyFileSync('/etc/firewalld/firewalld.conf', join(root, 'firewalld.conf'));
    for (const f of plan.files.filter((x) => x.path.startsWith('/etc/firewalld/zones/'))) writeFileSync(join(root, 'zones', f.path.split('/').pop()!), f.content);
    const r = spawnSync(requireTool('firewall-offline-cmd'), ['--system-config', root, ...args], { encoding: 'utf8', cwd: tmpdir() });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const listAll = (plan: NodePlan, zone: string) => firewalld(plan, [`--zone=${zone}`, '--list-all']).out;

test('firewalld accepts the zones of every role (its offline config check)', () => {
  for (const name of ['master', 'node01']) {
    const r = firewalld(planNode(open, secrets, name), ['--check-config']);
    assert.equal(r.status, 0, `${name}: ${r.out}`);
  }
});

test('the pod and service networks are trusted (pod to 10.96.0.1:443 and to DNS through IPVS)', () => {
  for (const name of ['master', 'node01']) {
    const trusted = listAll(planNode(open, secrets, name), 'trusted');
    assert.match(trusted, /target: ACCEPT/);
    assert.match(trusted, /sources: 10\.244\.0\.0\/16 10\.96\.0\.0\/12/);
  }
});

test('NodePorts are open on masters too (kube-proxy serves them on every node)', () => {
  for (const name of ['master', 'node01']) {
    const ports = /^\s*ports: (.*)$/m.exec(listAll(planNode(open, secrets, name), 'public'))![1]!.split(' ');
    assert.ok(ports.includes('30000-32767/tcp'), `${name}: ${ports.join(' ')}`);
    assert.ok(ports.includes('10250/tcp') && ports.includes('8472/udp'), `${name}: ${ports.join(' ')}`);
    if (name === 'master') assert.ok(ports.includes('6443/tcp'));
  }
});

test('control: a source bound to two zones is refused by the same check (so it can fail)', () => {
  const plan = planNode(open, secrets, 'master');
  const broken = {
    ...plan,
    files: plan.files.map((f) => (f.path.endsWith('/public.xml') ? { ...f, content: f.content.replace('<masquerade/>', '<source address="10.244.0.0/16"/>\n  <masquerade/>') } : f)),
  };
  const r = firewalld(broken, ['--check-config']);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /already bound to zone/);
});

test('firewalld is installed where it is enabled; stopped as well as disabled when the firewall is off', () => {
  const env = (c: Cluster, n: string) => planNode(c, secrets, n).files.find((f) => f.path === PATHS.installEnv)!.content;
  assert.match(env(open, 'node01'), /^PACKAGES="[^"]*\bfirewalld\b/m);
  assert.match(env(open, 'node01'), /^ENABLE_SERVICES="[^"]*\bfirewalld\b/m);
  assert.match(env(open, 'node01'), /^START_SERVICES="chronyd firewalld"$/m);
  assert.ok(planNode(open, secrets, 'node01').basePackages.includes('firewalld'), 'also from the install medium (kickstart %packages)');
  const off = loadCluster(undefined).cluster;
  assert.doesNotMatch(env(off, 'node01'), /^PACKAGES="[^"]*\bfirewalld\b/m);
  assert.match(env(off, 'node01'), /^DISABLE_SERVICES="firewalld iptables ip6tables"$/m);
});
