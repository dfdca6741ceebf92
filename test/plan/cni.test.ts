import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { loadCluster, defaultClusterYaml, haClusterYaml, type Cluster } from '../../src/config/index.js';
import { fromRegistry } from '../../src/plan/cni.js';
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

test('flannel: the pod network, and the NIC found at run time by the route to the cluster (not a node list fixed at build time)', () => {
  const docs = manifestOf(flannel);
  const cm = docs.find((d) => d.kind === 'ConfigMap');
  assert.equal(JSON.parse(cm.data['net-conf.json']).Network, '10.244.0.0/16');
  const ds = docs.find((d) => d.kind === 'DaemonSet');
  const args: string[] = ds.spec.template.spec.containers[0].args;
  assert.deepEqual(args.filter((a) => a.startsWith('--iface')), ['--iface-can-reach=192.168.108.2'], "the master's gateway: on the master its own address routes via lo");
  // A node added later (a new address) needs no new manifest.
  const grown = { ...flannel, nodes: [...flannel.nodes, { ...flannel.nodes[2]!, name: 'node03', ip: '192.168.108.103' }] };
  assert.equal(manifestOf(grown).find((d) => d.kind === 'DaemonSet').spec.template.spec.containers[0].args.join(' '), args.join(' '));
  // Behind a load balancer: its address (never a Kubernetes node's) is the target.
  const ha = loadCluster(haClusterYaml(), 'ha.yaml').cluster;
  const haDs = (yaml.loadAll(planNode(ha, { ...secrets, cluster: ha.name }, 'master1').files.find((f) => f.path === PATHS.cniManifest)!.content) as any[]).find((d) => d.kind === 'DaemonSet');
  assert.ok(haDs.spec.template.spec.containers[0].args.includes('--iface-can-reach=10.0.1.157'));
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

test('CNI images come from mirrors.cniImageRegistry: a China mirror under preset aliyun, Docker Hub upstream, or the user\'s own', () => {
  const image = (c: Cluster) => manifestOf(c).find((d) => d.kind === 'DaemonSet').spec.template.spec.containers[0].image as string;
  assert.equal(image(flannel), 'docker.m.daocloud.io/flannel/flannel:v0.22.3');
  const doc = yaml.load(defaultClusterYaml()) as any;
  doc.mirrors = { preset: 'upstream', kubernetesEl7: 'https://mirrors.example.com/kubernetes/yum' };
  assert.equal(image(loadCluster(yaml.dump(doc)).cluster), 'docker.io/flannel/flannel:v0.22.3');
  doc.mirrors.cniImageRegistry = 'harbor.example.com/dockerhub';
  assert.equal(image(loadCluster(yaml.dump(doc)).cluster), 'harbor.example.com/dockerhub/flannel/flannel:v0.22.3');
  // Calico's own images (init containers included) too.
  const calicoImages = manifestOf(withCalico).flatMap((d) => [...(d?.spec?.template?.spec?.containers ?? []), ...(d?.spec?.template?.spec?.initContainers ?? [])]).map((c: any) => c.image);
  assert.ok(calicoImages.length > 0 && calicoImages.every((i: string) => i.startsWith('docker.m.daocloud.io/calico/')), calicoImages.join(' '));
});

test('fromRegistry: only Docker Hub references move; official images get library/', () => {
  assert.equal(fromRegistry('calico/node:v3.8.9', 'm.local'), 'm.local/calico/node:v3.8.9');
  assert.equal(fromRegistry('docker.io/flannel/flannel:v0.22.3', 'm.local'), 'm.local/flannel/flannel:v0.22.3');
  assert.equal(fromRegistry('busybox:1.36', 'm.local'), 'm.local/library/busybox:1.36');
  assert.equal(fromRegistry('quay.io/calico/node:v3.8.9', 'm.local'), 'quay.io/calico/node:v3.8.9');
  assert.equal(fromRegistry('localhost:5000/x:1', 'm.local'), 'localhost:5000/x:1');
});

test('calico: NetworkManager leaves its interfaces alone (and is reloaded on a running system)', () => {
  const plan = planNode(withCalico, secrets, 'node01');
  const conf = plan.files.find((f) => f.path === '/etc/NetworkManager/conf.d/calico.conf')!.content;
  // Read as NetworkManager's keyfile INI: one [keyfile] section with unmanaged-devices.
  const line = conf.split('\n').find((l) => l.startsWith('unmanaged-devices='))!;
  assert.ok(conf.includes('[keyfile]'));
  const specs = line.slice('unmanaged-devices='.length).split(';');
  for (const dev of ['cali1234abcd', 'tunl0', 'vxlan.calico']) {
    assert.ok(specs.some((s) => s.startsWith('interface-name:') && new RegExp(`^${s.slice('interface-name:'.length).replaceAll('.', '\\.').replaceAll('*', '.*')}$`).test(dev)), dev);
  }
  assert.match(plan.files.find((f) => f.path === PATHS.installEnv)!.content, /^RELOAD_SERVICES="NetworkManager"$/m);
  assert.equal(planNode(flannel, secrets, 'node01').files.find((f) => f.path.startsWith('/etc/NetworkManager/')), undefined, 'flannel needs none');
});
