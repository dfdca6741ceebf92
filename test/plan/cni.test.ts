import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { loadCluster, defaultClusterYaml, type Cluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planNode, PATHS } from '../../src/plan/index.js';
import { packageRoot } from '../../src/assets.js';

const calico = readFileSync(`${packageRoot}/test/fixtures/calico-min.yaml`, 'utf8');
let secrets: Secrets;
let flannel: Cluster;
let withCalico: Cluster;
before(async () => {
  flannel = loadCluster(undefined).cluster;
  const doc = yaml.load(defaultClusterYaml()) as any;
  doc.cluster.cni = 'calico';
  doc.cluster.cniManifest = 'calico.yaml';
  doc.cluster.podSubnet = '172.20.0.0/16';
  doc.os.firewall = 'open';
  withCalico = loadCluster(yaml.dump(doc), 'lab.yaml', { readFile: () => calico }).cluster;
  secrets = await generateSecrets({ cluster: flannel.name, generateRootPassword: false });
});

const manifestOf = (cluster: Cluster) => yaml.loadAll(planNode(cluster, secrets, 'master').files.find((f) => f.path === PATHS.cniManifest)!.content) as any[];

test('flannel: the built-in manifest carries the pod network and every node address as --iface', () => {
  const docs = manifestOf(flannel);
  const cm = docs.find((d) => d.kind === 'ConfigMap');
  assert.equal(JSON.parse(cm.data['net-conf.json']).Network, '10.244.0.0/16');
  const ds = docs.find((d) => d.kind === 'DaemonSet');
  const args: string[] = ds.spec.template.spec.containers[0].args;
  assert.deepEqual(args.filter((a) => a.startsWith('--iface=')), ['--iface=192.168.108.100', '--iface=192.168.108.101', '--iface=192.168.108.102']);
  // 1.17: system-node-critical outside kube-system is admitted.
  assert.equal(ds.spec.template.spec.priorityClassName, 'system-node-critical');
});

test("calico: the user's manifest, with the cluster's pool CIDR and reachability autodetection, everything else kept", () => {
  const docs = manifestOf(withCalico);
  const original = yaml.loadAll(calico).filter(Boolean) as any[];
  assert.equal(docs.length, original.length);
  assert.deepEqual(docs[0], original[0], 'other objects untouched');
  const env: { name: string; value: string }[] = docs[1].spec.template.spec.containers[0].env;
  assert.deepEqual(env.find((e) => e.name === 'CALICO_IPV4POOL_CIDR'), { name: 'CALICO_IPV4POOL_CIDR', value: '172.20.0.0/16' });
  assert.deepEqual(env.find((e) => e.name === 'IP_AUTODETECTION_METHOD'), { name: 'IP_AUTODETECTION_METHOD', value: 'can-reach=192.168.108.100' });
  assert.deepEqual(env.find((e) => e.name === 'CALICO_IPV4POOL_IPIP'), { name: 'CALICO_IPV4POOL_IPIP', value: 'Always' });
  assert.equal(planNode(withCalico, secrets, 'node01').files.find((f) => f.path === PATHS.cniManifest), undefined, 'only the init master applies it');
});

test('calico with the firewall open: BGP and IP-in-IP are let through', () => {
  const zone = planNode(withCalico, secrets, 'node01').files.find((f) => f.path === '/etc/firewalld/zones/public.xml')!.content;
  assert.match(zone, /<port protocol="tcp" port="179"\/>/);
  assert.match(zone, /<protocol value="ipencap"\/>/);
  assert.doesNotMatch(zone, /8472/);
});
