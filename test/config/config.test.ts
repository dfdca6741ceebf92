import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { UserError } from '../../src/errors.js';
import yaml from 'js-yaml';
import { loadCluster, defaultClusterYaml, haClusterYaml } from '../../src/config/index.js';
import { clusterJsonSchema } from '../../src/commands/schema.js';
import { packageRoot } from '../../src/assets.js';
import { configProblems } from '../helpers/config.js';

/** The lab with a patch applied: `mutate` edits the parsed YAML object. */
function lab(mutate: (doc: any) => void): string {
  const doc = yaml.load(defaultClusterYaml()) as any;
  mutate(doc);
  return yaml.dump(doc);
}

const problems = configProblems;

function assertProblem(text: string, path: string, ...fragments: string[]): void {
  const list = problems(text);
  const hit = list.find((p) => p.startsWith(`${path}:`));
  assert.ok(hit, `no problem reported at ${path}; got:\n${list.join('\n')}`);
  for (const f of fragments) assert.ok(hit.includes(f), `"${hit}" should mention ${f}`);
}

test('the embedded default is the seed-000 lab', () => {
  const { cluster, warnings } = loadCluster(undefined);
  assert.deepEqual(warnings, []);
  assert.equal(cluster.name, 'k8s-lab');
  assert.equal(cluster.kubernetesVersion, '1.17.4');
  assert.deepEqual(cluster.runtime, { kind: 'docker', version: '18.06.3.ce-3.el7' });
  assert.deepEqual(cluster.controlPlaneEndpoint, { host: '192.168.108.100', port: 6443 });
  assert.equal(cluster.podSubnet, '10.244.0.0/16');
  assert.equal(cluster.serviceSubnet, '10.96.0.0/12');
  assert.equal(cluster.imageRepository, 'registry.aliyuncs.com/google_containers');
  assert.equal(cluster.cni, 'flannel');
  assert.equal(cluster.kubeProxyMode, 'ipvs');
  assert.equal(cluster.mirrors.preset, 'aliyun');
  assert.match(cluster.mirrors.centos, /vault/);
  assert.deepEqual(cluster.bootstrap, { tokenTTLSeconds: 86400, joinDeadlineSeconds: 7 * 86400 });
  assert.deepEqual(
    cluster.nodes.map((n) => [n.name, n.role, n.ip, n.prefix, n.gateway]),
    [
      ['master', 'master', '192.168.108.100', 24, '192.168.108.2'],
      ['node01', 'node', '192.168.108.101', 24, '192.168.108.2'],
      ['node02', 'node', '192.168.108.102', 24, '192.168.108.2'],
    ],
  );
});

test('a minimal file gets every default', () => {
  const { cluster } = loadCluster('network: {gateway: 10.1.0.1}\nnodes: [{name: m, role: master, ip: 10.1.0.10}]\n');
  assert.equal(cluster.nodes[0]!.disk, 'sda');
  assert.deepEqual(cluster.nodes[0]!.dns, ['10.1.0.1']);
  assert.equal(cluster.os.selinux, 'disabled');
  assert.equal(cluster.controlPlaneEndpoint.host, '10.1.0.10');
});

test('the HA example validates, and its endpoint is the load balancer', () => {
  const { cluster } = loadCluster(haClusterYaml(), 'ha.yaml');
  assert.equal(cluster.nodes.filter((n) => n.role === 'master').length, 3);
  assert.deepEqual(cluster.controlPlaneEndpoint, { host: '10.0.1.157', port: 6443 });
  assert.equal(cluster.os.selinux, 'permissive');
});

test('upstream preset fills every mirror and the image repository', () => {
  const { cluster } = loadCluster(lab((d) => { d.mirrors = { preset: 'upstream', kubernetesEl7: 'https://mirror.example.com/kubernetes/yum' }; delete d.cluster.imageRepository; }));
  assert.equal(cluster.mirrors.centos, 'https://vault.centos.org/7.9.2009');
  assert.equal(cluster.mirrors.dockerCe, 'https://download.docker.com/linux/centos');
  assert.equal(cluster.imageRepository, 'registry.k8s.io');
});

test('upstream preset with a legacy-repo release says where to find the packages', () => {
  assertProblem(lab((d) => { d.mirrors = { preset: 'upstream' }; }), 'mirrors.kubernetesEl7', 'shut down', 'aliyun');
});

test('duplicate names, IPs and MACs name both nodes', () => {
  assertProblem(lab((d) => { d.nodes[2].name = 'node01'; }), 'nodes[2].name', 'nodes[1]');
  assertProblem(lab((d) => { d.nodes[2].ip = '192.168.108.101'; }), 'nodes[2].ip', 'nodes[1]', 'node01');
  assertProblem(lab((d) => { d.nodes[0].mac = '00:50:56:AA:BB:01'; d.nodes[1].mac = '00:50:56:aa:bb:01'; }), 'nodes[1].mac', 'nodes[0]');
});

test('addresses outside the node subnet are refused', () => {
  assertProblem(lab((d) => { d.nodes[1].gateway = '10.0.0.1'; }), 'nodes[1].gateway', 'outside', '192.168.108.0/24');
  assertProblem(lab((d) => { d.network.gateway = '192.168.109.2'; }), 'network.gateway', 'subnet of none of the nodes');
  // One node off the shared gateway's subnet: its address is blamed, not the gateway.
  assertProblem(lab((d) => { d.nodes[2].ip = '192.168.109.102'; }), 'nodes[2].ip', 'not on the subnet of network.gateway 192.168.108.2');
  assertProblem(lab((d) => { d.nodes[1].ip = '192.168.108.255'; }), 'nodes[1].ip', 'broadcast');
  assertProblem(lab((d) => { d.nodes[1].ip = '192.168.108.0'; }), 'nodes[1].ip', 'network address');
});

test('pod, service and node networks must be disjoint', () => {
  assertProblem(lab((d) => { d.cluster.podSubnet = '10.96.0.0/16'; }), 'cluster.podSubnet', 'overlaps cluster.serviceSubnet');
  assertProblem(lab((d) => { d.cluster.podSubnet = '192.168.0.0/16'; }), 'cluster.podSubnet', 'overlaps nodes[0].ip');
  assertProblem(lab((d) => { d.cluster.serviceSubnet = '10.96.0.1/12'; }), 'cluster.serviceSubnet', 'host bits', '10.96.0.0/12');
});

test('role counts and the control-plane endpoint', () => {
  assertProblem(lab((d) => { d.nodes[0].role = 'node'; }), 'nodes', 'no node has role master');
  assertProblem(lab((d) => { d.nodes[1].role = 'master'; }), 'cluster.controlPlaneEndpoint', 'missing', 'load balancer');
  assertProblem(lab((d) => { d.nodes[1].role = 'master'; d.cluster.controlPlaneEndpoint = '192.168.108.101:6443'; }), 'cluster.controlPlaneEndpoint', "master's own address");
  const { cluster } = loadCluster(lab((d) => { d.nodes[1].role = 'master'; d.cluster.controlPlaneEndpoint = 'api.lab.example.com:8443'; }));
  assert.deepEqual(cluster.controlPlaneEndpoint, { host: 'api.lab.example.com', port: 8443 });
  const { warnings } = loadCluster(lab((d) => { d.nodes.push({ name: 'lb', role: 'lb', ip: '192.168.108.110' }); }));
  assert.ok(warnings.some((w) => w.includes('single master')), warnings.join('\n'));
});

test('versions: docker with 1.24+ and unknown releases are refused with a fix', () => {
  assertProblem(lab((d) => { d.cluster.kubernetesVersion = '1.28.2'; d.cluster.runtime = { kind: 'docker' }; }), 'cluster.runtime.kind', 'dockershim', 'containerd');
  assertProblem(lab((d) => { d.cluster.kubernetesVersion = '1.14.0'; }), 'cluster.kubernetesVersion', 'not supported', 'k8s-image versions');
  const { cluster } = loadCluster(lab((d) => { d.cluster.kubernetesVersion = '1.28.2'; d.cluster.runtime = { kind: 'containerd' }; }));
  assert.equal(cluster.runtime.version, '1.6.33-3.1.el7');
});

test('plain-text root passwords are refused with how to hash one', () => {
  assertProblem(lab((d) => { d.os.rootPasswordHash = 'hunter2'; }), 'os.rootPasswordHash', 'openssl passwd -6');
  const hash = '$6$saltsalt$' + 'a'.repeat(86);
  assert.equal(loadCluster(lab((d) => { d.os.rootPasswordHash = hash; })).cluster.os.rootPasswordHash, hash);
});

test('small machines warn and say why', () => {
  const { warnings } = loadCluster(lab((d) => { d.nodes[0].cpus = 1; d.nodes[0].memory = '1Gi'; }));
  assert.ok(warnings.some((w) => w.startsWith('nodes[0].cpus') && w.includes('2')));
  assert.ok(warnings.some((w) => w.startsWith('nodes[0].memory') && w.includes('TLS handshake')));
});

test('token TTL 0 warns; too short is refused', () => {
  assert.ok(loadCluster(lab((d) => { d.bootstrap.tokenTTL = '0'; })).warnings.some((w) => w.includes('never expires')));
  assertProblem(lab((d) => { d.bootstrap.tokenTTL = '5m'; }), 'bootstrap.tokenTTL', '10m');
});

test('a misspelt key is an error, not a silently ignored setting', () => {
  assertProblem(lab((d) => { d.cluster.podSubnett = '10.244.0.0/16'; }), 'cluster', 'unknown field', 'podSubnett');
  assertProblem(lab((d) => { d.nodes[1].ipaddr = '1.2.3.4'; }), 'nodes[1]', 'ipaddr');
});

test('every problem is reported at once', () => {
  const list = problems(lab((d) => { d.nodes[0].ip = '300.1.1.1'; d.nodes[1].name = 'Node_01'; d.cluster.cni = 'weave'; }));
  assert.ok(list.length >= 3, list.join('\n'));
  assert.ok(list.some((p) => p.startsWith('nodes[0].ip:') && p.includes('"300.1.1.1"')));
  assert.ok(list.some((p) => p.startsWith('nodes[1].name:') && p.includes('RFC 1123')));
  assert.ok(list.some((p) => p.startsWith('cluster.cni:') && p.includes('flannel, calico')));
});

test('broken YAML says where', () => {
  const [p] = problems('nodes:\n  - name: a\n   role: master\n');
  assert.match(p!, /line \d+/);
});

// Values that would reach a shell, a kickstart line or YAML: each must be refused at its field.
const hostile: [string, (d: any) => void][] = [
  ['nodes[0].name', (d) => { d.nodes[0].name = 'master;reboot'; }],
  ['nodes[0].name', (d) => { d.nodes[0].name = '$(reboot)'; }],
  ['nodes[0].name', (d) => { d.nodes[0].name = 'a'.repeat(64); }],
  ['nodes[0].name', (d) => { d.nodes[0].name = 'master\nreboot'; }],
  ['nodes[0].name', (d) => { d.nodes[0].name = '-master'; }],
  ['nodes[0].name', (d) => { d.nodes[0].name = 'master.lab'; }],
  ['nodes[0].ip', (d) => { d.nodes[0].ip = '192.168.108.100 '; }],
  ['nodes[0].ip', (d) => { d.nodes[0].ip = '192.168.108.0100'; }],
  ['nodes[0].ip', (d) => { d.nodes[0].ip = '192.168.108.256'; }],
  ['nodes[0].ip', (d) => { d.nodes[0].ip = '192.168.108'; }],
  ['nodes[0].ip', (d) => { d.nodes[0].ip = '192.168.108.100/33'; }],
  ['nodes[0].ip', (d) => { d.nodes[0].ip = '192.168.108.100`id`'; }],
  ['nodes[0].mac', (d) => { d.nodes[0].mac = '00:50:56:aa:bb'; }],
  ['nodes[0].disk', (d) => { d.nodes[0].disk = 'sda --all'; }],
  ['nodes[0].disk', (d) => { d.nodes[0].disk = '/dev/disk/by-id/../../sdb'; }],
  ['nodes[0].interface', (d) => { d.nodes[0].interface = 'eth0;rm'; }],
  ['cluster.name', (d) => { d.cluster.name = 'lab"; rm -rf /'; }],
  ['cluster.kubernetesVersion', (d) => { d.cluster.kubernetesVersion = '1.17.4; echo'; }],
  ['cluster.runtime.version', (d) => { d.cluster.runtime.version = "18.06 'x'"; }],
  ['cluster.imageRepository', (d) => { d.cluster.imageRepository = 'registry.example.com/$(id)'; }],
  ['cluster.controlPlaneEndpoint', (d) => { d.cluster.controlPlaneEndpoint = 'api:6443\n- evil'; }],
  ['mirrors.centos', (d) => { d.mirrors.centos = 'https://mirror.example.com/centos?x=$(id)'; }],
  ['mirrors.centos', (d) => { d.mirrors.centos = 'ftp://mirror.example.com/centos'; }],
  ['mirrors.registryMirrors[0]', (d) => { d.mirrors.registryMirrors = ['https://m.example.com/"]}']; }],
  ['os.timezone', (d) => { d.os.timezone = 'UTC; reboot'; }],
  ['os.sshAuthorizedKeys[0]', (d) => { d.os.sshAuthorizedKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a"b'] }],
  ['os.sshAuthorizedKeys[0]', (d) => { d.os.sshAuthorizedKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\nssh-rsa AAAA'] }],
  ['os.ntpServers[0]', (d) => { d.os.ntpServers = ['pool.ntp.org\niburst'] }],
  ['network.searchDomain', (d) => { d.network.searchDomain = 'lab.example.com $(id)'; }],
  ['cluster.dnsDomain', (d) => { d.cluster.dnsDomain = "cluster.local'"; }],
];

hostile.forEach(([path, mutate], i) => {
  test(`hostile value #${i + 1} refused at ${path}`, () => {
    assertProblem(lab(mutate), path);
  });
});

test('the committed JSON Schema is the one the code exports', () => {
  const committed = readFileSync(`${packageRoot}/schema/cluster.schema.json`, 'utf8');
  assert.equal(committed, clusterJsonSchema(), 'run `npx k8s-image schema > schema/cluster.schema.json`');
  const parsed = JSON.parse(committed);
  assert.ok(parsed.definitions.Cluster.properties.nodes);
});

test('calico needs its manifest named in the config, and says which release fits', () => {
  assertProblem(lab((d) => { d.cluster.cni = 'calico'; }), 'cluster.cni', 'cluster.cniManifest', 'v3.13', 'calico.yaml');
});

test('cluster.cniManifest is read through the command layer and checked by validate', () => {
  const calico = readFileSync(`${packageRoot}/test/fixtures/calico-min.yaml`, 'utf8');
  const text = lab((d) => { d.cluster.cni = 'calico'; d.cluster.cniManifest = 'calico.yaml'; });
  const files: Record<string, string> = { 'calico.yaml': calico, 'broken.yaml': 'a: [', 'operator.yaml': 'kind: Deployment\nmetadata: {name: tigera-operator}\n' };
  const readFile = (rel: string) => {
    if (!(rel in files)) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    return files[rel]!;
  };
  const loaded = loadCluster(text, 'lab.yaml', { readFile });
  assert.equal(loaded.cluster.cniManifest?.text, calico);
  const other = loadCluster(text, 'lab.yaml', { readFile: () => calico.replace('v3.13.5', 'v3.13.6') });
  assert.notEqual(other.digest, loaded.digest, 'the manifest is part of the input digest');
  const refused = (mutate: (d: any) => void, opts: Parameters<typeof loadCluster>[2], ...fragments: string[]) => {
    try {
      loadCluster(lab(mutate), 'lab.yaml', opts);
    } catch (e) {
      const hit = (e as UserError).problems.find((p) => p.startsWith('cluster.cniManifest:'));
      assert.ok(hit, (e as UserError).problems.join('\n'));
      for (const f of fragments) assert.ok(hit.includes(f), `${hit} should mention ${f}`);
      return;
    }
    assert.fail('expected a refusal');
  };
  refused((d) => { d.cluster.cni = 'calico'; d.cluster.cniManifest = 'missing.yaml'; }, { readFile }, 'cannot be read', 'ENOENT');
  refused((d) => { d.cluster.cni = 'calico'; d.cluster.cniManifest = 'broken.yaml'; }, { readFile }, 'not valid YAML');
  refused((d) => { d.cluster.cni = 'calico'; d.cluster.cniManifest = 'operator.yaml'; }, { readFile }, 'calico-node', 'not the operator');
  refused((d) => { d.cluster.cniManifest = 'calico.yaml'; }, { readFile }, 'only used with cluster.cni: calico');
  refused((d) => { d.cluster.cni = 'calico'; d.cluster.cniManifest = 'calico.yaml'; }, {}, 'embedded default');
  assertProblem(lab((d) => { d.cluster.cniManifest = '../$(id).yaml'; }), 'cluster.cniManifest', 'path');
});

test('a virtual IP must be free and on the lb nodes\' subnet', () => {
  const ha = (mutate: (d: any) => void) => {
    const doc = yaml.load(haClusterYaml()) as any;
    delete doc.cluster.controlPlaneEndpoint;
    mutate(doc);
    return yaml.dump(doc);
  };
  assertProblem(ha((d) => { d.loadBalancer.virtualIP = '10.0.11.18'; }), 'loadBalancer.virtualIP', 'master1', 'own address');
  assertProblem(ha((d) => { d.loadBalancer.virtualIP = '10.1.0.150'; }), 'loadBalancer.virtualIP', 'outside the subnet', 'lb');
  const { cluster } = loadCluster(ha((d) => { d.loadBalancer.virtualIP = '10.0.1.150'; }));
  assert.deepEqual(cluster.controlPlaneEndpoint, { host: '10.0.1.150', port: 6443 });
});
