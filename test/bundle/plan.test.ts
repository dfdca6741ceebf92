/**
 * mirrors.bundle in the plan, so every delivery path gets it: the bundle repository is the nodes'
 * only enabled one (lb nodes too: nginx comes from the bundle, not EPEL), and Kubernetes nodes carry
 * import-images.sh and the values first boot passes it; the kickstart and cloud-init renderings
 * carry the same. Without the field nothing of it appears.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCluster } from '../../src/config/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { PATHS, bundleKeyFiles, bundleSourceRepos, clusterPackages, planGolden, planNode } from '../../src/plan/index.js';
import { packageRoot } from '../../src/assets.js';
import { renderKickstart } from '../../src/kickstart/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { configProblems } from '../helpers/config.js';

const yamlWith = (mirrors: string) => `${mirrors}loadBalancer: { kind: nginx }
nodes:
  - { name: m1, role: master, ip: 10.0.0.10/24, gateway: 10.0.0.1, dns: [10.0.0.1], mac: "00:50:56:aa:bb:01" }
  - { name: w1, role: node, ip: 10.0.0.11/24, gateway: 10.0.0.1, dns: [10.0.0.1], mac: "00:50:56:aa:bb:02" }
  - { name: lb1, role: lb, ip: 10.0.0.5/24, gateway: 10.0.0.1, dns: [10.0.0.1], mac: "00:50:56:aa:bb:03" }
`;
const URL_ = 'http://10.0.0.1:8080/bundle';

test('mirrors.bundle: the bundle is the one enabled repository on every role, first boot imports its images', async () => {
  const { cluster } = loadCluster(yamlWith(`mirrors:\n  bundle: ${URL_}/\n`), 'c.yaml');
  assert.equal(cluster.mirrors.bundle, URL_, 'trailing slash dropped');
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  for (const node of ['m1', 'w1', 'lb1']) {
    const plan = planNode(cluster, secrets, node);
    const repos = plan.files.filter((f) => f.path.startsWith('/etc/yum.repos.d/'));
    const enabled = repos.flatMap((f) => [...f.content.matchAll(/^\[(.+)\]\n(?:.*\n)*?enabled=(\d)/gm)].filter((m) => m[2] === '1').map((m) => m[1]));
    assert.deepEqual(enabled, ['k8s-image-bundle'], node);
    const base = repos.find((f) => f.path === '/etc/yum.repos.d/CentOS-Base.repo')!.content;
    assert.match(base, new RegExp(`^baseurl=${URL_}/repo/$`, 'm'));
    assert.match(base, /^repo_gpgcheck=0$/m);
    assert.match(base, /^proxy=_none_$/m);
    const env = plan.files.find((f) => f.path === PATHS.firstbootEnv)!.content;
    const script = plan.files.find((f) => f.path === PATHS.importImagesScript);
    if (node === 'lb1') {
      assert.doesNotMatch(env, /IMPORT_IMAGES|BUNDLE_URL/);
      assert.equal(script, undefined);
      assert.match(base, /keys\/epel-1\.gpg/, 'nginx comes from EPEL, so its key travels');
    } else {
      assert.match(env, new RegExp(`^IMPORT_IMAGES=${PATHS.importImagesScript}$`, 'm'));
      assert.match(env, new RegExp(`^BUNDLE_URL=${URL_}$`, 'm'));
      assert.match(env, /^KUBERNETES_VERSION=1\.17\.4$/m);
      assert.equal(script?.mode, 0o755);
      // Every delivery path renders the plan: the script is in the kickstart and in cloud-init's user-data.
      const text = (as: { bytes: Uint8Array }[]) => as.map((a) => Buffer.from(a.bytes).toString('utf8')).join('\n');
      const ks = text(renderKickstart(plan));
      const ci = text(renderCloudInit(plan));
      for (const text of [ks, ci]) assert.ok(text.includes(PATHS.importImagesScript), `${node}: ${PATHS.importImagesScript} rendered`);
    }
  }
  assert.ok(clusterPackages(cluster).includes('nginx') && clusterPackages(cluster).includes('kubeadm-1.17.4-0'));
});

test('without mirrors.bundle nothing of the bundle appears', async () => {
  const { cluster } = loadCluster(yamlWith(''), 'c.yaml');
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  for (const node of ['m1', 'lb1']) {
    const plan = planNode(cluster, secrets, node);
    assert.ok(!plan.files.some((f) => f.content.includes('k8s-image-bundle') || f.content.includes('BUNDLE_URL') || f.path === PATHS.importImagesScript), node);
  }
});

test('mirrors.bundle must be an http(s) URL (or iso)', () => {
  const p = configProblems(yamlWith('mirrors:\n  bundle: "ftp://x/bundle"\n'));
  assert.ok(p.some((x) => x.startsWith('mirrors.bundle: "ftp://x/bundle" is not valid: expected the http(s) URL the bundle is served at')), p.join('\n'));
});

/** examples/ha-local.yaml with os.kernel lt, custom packages (cluster-wide and one node's) and a bundle, proxy haproxy or nginx. */
function haLocal(proxy: 'haproxy' | 'nginx', bundle = true) {
  const doc = yaml.load(readFileSync(join(packageRoot, 'examples/ha-local.yaml'), 'utf8')) as any;
  doc.loadBalancer.proxy = proxy;
  doc.mirrors.elrepo = 'https://mirror.example.com/elrepo/kernel/el7/x86_64';
  if (bundle) doc.mirrors.bundle = URL_;
  doc.os.kernel = 'lt';
  doc.os.kernelVersion = '5.4.278-1.el7.elrepo';
  doc.custom = { packages: [{ name: 'nfs-utils', version: '1.3.0-0.68.el7.2' }] };
  doc.nodes[4].custom = { packages: [{ name: 'lvm2', version: '2.02.187-6.el7_9.5' }] };
  return loadCluster(yaml.dump(doc), 'ha-local.yaml').cluster;
}
const envOf = (text: string) => Object.fromEntries(text.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const envList = (content: string, key: string) => new RegExp(`^${key}="([^"]*)"$`, 'm').exec(content)?.[1]?.split(' ') ?? [];

test('the bundle resolves every package every node and the golden image install; the kernel repo (and EPEL for nginx) are its sources, off on the nodes', async () => {
  for (const proxy of ['haproxy', 'nginx'] as const) {
    const cluster = haLocal(proxy);
    const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
    const wanted = new Set(clusterPackages(cluster));
    const plans = [...cluster.nodes.map((n) => planNode(cluster, secrets, n.name)), planGolden(cluster, secrets)];
    const installed = new Set<string>();
    for (const plan of plans) {
      const env = plan.files.find((f) => f.path === PATHS.installEnv)!.content;
      for (const p of envList(env, 'PACKAGES')) installed.add(p);
      // No repository but the bundle's is on (elrepo-kernel included).
      const repos = plan.files.filter((f) => f.path.startsWith('/etc/yum.repos.d/'));
      assert.ok(repos.some((f) => f.path === '/etc/yum.repos.d/elrepo-kernel.repo'), plan.hostname);
      const enabled = repos.flatMap((f) => [...f.content.matchAll(/^\[(.+)\]\n(?:.*\n)*?enabled=(\d)/gm)].filter((m) => m[2] === '1').map((m) => m[1]));
      assert.deepEqual(enabled, ['k8s-image-bundle'], `${proxy} ${plan.hostname}`);
    }
    for (const p of ['kernel-lt-5.4.278-1.el7.elrepo', 'nfs-utils-1.3.0-0.68.el7.2', 'lvm2-2.02.187-6.el7_9.5', 'cloud-init', 'cloud-utils-growpart', proxy]) assert.ok(installed.has(p), `${proxy}: ${p} is installed somewhere`);
    const missing = [...installed].filter((p) => !wanted.has(p));
    assert.deepEqual(missing, [], `${proxy}: installed by a node but not in the bundle`);
    const sources = bundleSourceRepos(cluster).map((r) => r.id);
    assert.ok(sources.includes('elrepo-kernel'), sources.join());
    assert.equal(sources.includes('epel'), proxy === 'nginx', `${proxy}: EPEL only for nginx (${sources.join()})`);
    assert.ok(bundleKeyFiles(cluster).some((k) => k.url === `${cluster.mirrors.elrepo}/RPM-GPG-KEY-elrepo.org` && k.file === 'keys/elrepo-kernel-1.gpg'));
    const base = plans[0]!.files.find((f) => f.path === '/etc/yum.repos.d/CentOS-Base.repo')!.content;
    assert.match(base, /keys\/elrepo-kernel-1\.gpg/, 'the bundle repo trusts the ELRepo key');
    // The holds travel with the bundle repo (kernel-lt's too), lifted only by install.sh's own install.
    assert.match(base, /^\[k8s-image-bundle\]\n(?:.*\n)*?exclude=docker-ce docker-ce-cli containerd\.io kubelet kubeadm kubectl kubernetes-cni cri-tools kernel-lt\*\n/m);
    for (const plan of plans.filter((p) => p.role !== 'lb')) assert.equal(envOf(plan.files.find((f) => f.path === PATHS.installEnv)!.content).DISABLE_EXCLUDES, 'kubernetes,docker-ce-stable,elrepo-kernel,k8s-image-bundle', plan.hostname);
  }
  // Without the bundle the kernel repo stays on (the nodes take kernel-lt from it).
  const cluster = haLocal('haproxy', false);
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  assert.match(planNode(cluster, secrets, 'worker1').files.find((f) => f.path === '/etc/yum.repos.d/elrepo-kernel.repo')!.content, /^enabled=1$/m);
});

test('mirrors.installer (with mirrors.bundle): the DVD tree is the nodes\' second repository; without a bundle it is ignored with a warning', async () => {
  const { cluster } = loadCluster(yamlWith(`mirrors:\n  bundle: ${URL_}\n  installer: http://10.0.0.1:8080/centos7/\n`), 'c.yaml');
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  for (const node of ['m1', 'lb1']) {
    const base = planNode(cluster, secrets, node).files.find((f) => f.path === '/etc/yum.repos.d/CentOS-Base.repo')!.content;
    assert.match(base, /^\[k8s-image-installer\]\nname=.*\nbaseurl=http:\/\/10\.0\.0\.1:8080\/centos7\/\nenabled=1\ngpgcheck=1\ngpgkey=file:\/\/\/etc\/pki\/rpm-gpg\/RPM-GPG-KEY-CentOS-7\nrepo_gpgcheck=0\nproxy=_none_\n/m, node);
  }
  const alone = loadCluster(yamlWith('mirrors:\n  installer: http://10.0.0.1:8080/centos7\n'), 'c.yaml');
  assert.equal(alone.cluster.mirrors.installer, undefined);
  assert.ok(alone.warnings.some((w) => w.startsWith('mirrors.installer: set without mirrors.bundle; it has no effect')), alone.warnings.join('\n'));
});
