/**
 * mirrors.bundle in the plan, so every delivery path gets it: the bundle repository is the nodes'
 * only enabled one (lb nodes too: nginx comes from the bundle, not EPEL), and Kubernetes nodes carry
 * import-images.sh and the values first boot passes it; the kickstart and cloud-init renderings
 * carry the same. Without the field nothing of it appears.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCluster } from '../../src/config/index.js';
import { PATHS, clusterPackages, planNode } from '../../src/plan/index.js';
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
