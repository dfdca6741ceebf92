/**
 * Certificate renewal in the plan: every master (init and joining) gets the script, its units and
 * settings, and install.sh enables the timer; workers and lb nodes get none of it; the renewal
 * subcommand per version is the one test/reference/kubeadm-certs-renew.json records; the kickstart
 * and cloud-init renderings carry the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { loadCluster } from '../../src/config/index.js';
import { generateSecrets } from '../../src/secrets/index.js';
import { clusterPackages, planGolden, planNode } from '../../src/plan/index.js';
import { certsRenewCommand, renewSlot, CERT_RENEW_ENV, CERT_RENEW_SCRIPT, CERT_RENEW_TIMER } from '../../src/plan/certs.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { renderKickstart } from '../../src/kickstart/index.js';
import { packageRoot } from '../../src/assets.js';
import { MIN_MINOR, MAX_KNOWN_MINOR } from '../../src/versions/index.js';

const REF = JSON.parse(readFileSync(join(packageRoot, 'test/reference/kubeadm-certs-renew.json'), 'utf8')) as {
  versions: { minors: [number, number]; argv: string[]; flags: string[] }[];
};

function haCluster(version = '1.17.4') {
  const doc = yaml.load(readFileSync(join(packageRoot, 'examples/ha.yaml'), 'utf8')) as any;
  doc.cluster = { ...doc.cluster, kubernetesVersion: version };
  if (doc.cluster.runtime) delete doc.cluster.runtime.version;
  return loadCluster(yaml.dump(doc)).cluster;
}

test('the renewal subcommand of every minor is the reference\'s (alpha up to 1.19, certs from 1.20), and --cert-dir exists there', () => {
  for (let minor = MIN_MINOR; minor <= MAX_KNOWN_MINOR; minor++) {
    const row = REF.versions.find((v) => minor >= v.minors[0] && minor <= v.minors[1]);
    assert.ok(row, `1.${minor}: no row in kubeadm-certs-renew.json`);
    assert.deepEqual(certsRenewCommand(`1.${minor}.0`), row.argv, `1.${minor}`);
    // cert-renew.sh passes --cert-dir: it must be one of that version's flags.
    assert.ok(row.flags.includes('--cert-dir'), `1.${minor}`);
  }
});

test('every master gets the renewal (script, units, settings; the timer enabled at install); workers and lb nodes do not', async () => {
  const cluster = haCluster('1.22.3');
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  for (const node of cluster.nodes) {
    const plan = planNode(cluster, secrets, node.name);
    const paths = plan.files.map((f) => f.path);
    const has = [CERT_RENEW_SCRIPT, CERT_RENEW_ENV, '/etc/systemd/system/k8s-image-cert-renew.service', `/etc/systemd/system/${CERT_RENEW_TIMER}`].map((p) => paths.includes(p));
    const installEnv = plan.files.find((f) => f.path === '/etc/k8s-image/install.env')!.content;
    if (node.role === 'master') {
      assert.deepEqual(has, [true, true, true, true], node.name);
      assert.equal(plan.files.find((f) => f.path === CERT_RENEW_SCRIPT)!.mode, 0o755);
      assert.equal(plan.files.find((f) => f.path === CERT_RENEW_SCRIPT)!.content, readFileSync(join(packageRoot, 'node-files/cert-renew.sh'), 'utf8'));
      assert.match(installEnv, new RegExp(`^ENABLE_SERVICES=".*\\b${CERT_RENEW_TIMER.replace('.', '\\.')}"$`, 'm'));
      // Started too on a running system (cloud-init's install.sh --live; no reboot follows).
      assert.match(installEnv, new RegExp(`^START_SERVICES=".*\\b${CERT_RENEW_TIMER.replace('.', '\\.')}\\b`, 'm'));
      const env = plan.files.find((f) => f.path === CERT_RENEW_ENV)!;
      assert.equal(env.secret, false, 'nothing secret in the renewal settings');
      assert.match(env.content, /^RENEW_COMMAND="certs renew all"$/m);
      assert.match(env.content, new RegExp(`^NODE_NAME=${node.name}$`, 'm'));
      assert.match(env.content, /^RENEW_WITHIN=5184000$/m);
      assert.match(env.content, new RegExp(`^RUNTIME=${cluster.runtime.kind}$`, 'm'));
      // Its own time of night, from its index among the masters; the timer and the script agree.
      const index = cluster.nodes.filter((n) => n.role === 'master').indexOf(node);
      assert.match(env.content, new RegExp(`^MASTER_INDEX=${index}$`, 'm'));
      assert.match(env.content, new RegExp(`^RENEW_SLOT=${renewSlot(index)}$`, 'm'));
      assert.match(env.content, /^CATCH_UP_STAGGER=600$/m);
      const timer = plan.files.find((f) => f.path === `/etc/systemd/system/${CERT_RENEW_TIMER}`)!.content;
      assert.match(timer, new RegExp(`^OnCalendar=\\*-\\*-\\* ${renewSlot(index)}:00$`, 'm'));
      assert.equal(timer.split('\n').filter((l) => l.startsWith('OnCalendar=')).length, 1);
      // cert-renew.sh and report.py read the certificates with the openssl CLI: installed with the rest.
      assert.match(installEnv, /^PACKAGES=".*\bopenssl\b.*"$/m, node.name);
    } else {
      assert.deepEqual(has, [false, false, false, false], node.name);
      assert.doesNotMatch(installEnv, /^PACKAGES=".*\bopenssl\b/m, node.name);
      assert.doesNotMatch(installEnv, /cert-renew/);
    }
  }
});

test('openssl is in the cluster\'s package set (the offline bundle resolves it) and in the golden image (a clone may be a master)', async () => {
  const cluster = haCluster('1.22.3');
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  assert.ok(clusterPackages(cluster).includes('openssl'));
  const golden = planGolden(cluster, secrets).files.find((f) => f.path === '/etc/k8s-image/install.env')!.content;
  assert.match(golden, /^PACKAGES=".*\bopenssl\b.*"$/m);
});

test('the kickstart and the cloud-init seed of a master carry the same renewal files', async () => {
  const cluster = haCluster('1.17.4');
  const secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
  const plan = planNode(cluster, secrets, 'master2');
  const env = plan.files.find((f) => f.path === CERT_RENEW_ENV)!.content;
  assert.match(env, /^RENEW_COMMAND="alpha certs renew all"$/m);
  const text = (arts: { bytes: Uint8Array }[]) => arts.map((a) => Buffer.from(a.bytes).toString('utf8')).join('\n');
  const ks = text(renderKickstart(plan));
  const ci = text(renderCloudInit(plan));
  for (const out of [ks, ci]) {
    assert.ok(out.includes(CERT_RENEW_SCRIPT), 'script path');
    assert.ok(out.includes('alpha certs renew all') || out.includes(Buffer.from(env).toString('base64')), 'settings');
  }
});
