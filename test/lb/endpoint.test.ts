// `k8s-image validate` describes and checks the control-plane endpoint: how nodes reach it, that the API server
// certificate asked for covers the endpoint, the virtual IP and every master (kubeadm's own SAN rule), that VRRP
// peers share a subnet and the virtual IP is free, and it warns where one master's address stands in
// for the endpoint. Run through the real CLI, so exit status, stderr and line numbers are the user's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { tempDir } from './_lb.js';
import { loadCluster } from '../../src/config/index.js';
import { planNode } from '../../src/plan/index.js';
import { kubeadmConfigEndpointProblems, renderedEndpointProblems } from '../../src/plan/endpoint.js';
import { generateSecrets } from '../../src/secrets/index.js';

const { dir, cleanup } = tempDir('lb-endpoint');
after(cleanup);
const CLI = new URL('../../src/cli.js', import.meta.url).pathname;

function validate(yamlText: string, json = false): { status: number | null; stdout: string; stderr: string } {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, yamlText);
  const r = spawnSync(process.execPath, [CLI, 'validate', '--config', path, ...(json ? ['--json'] : [])], { encoding: 'utf8', env: { ...process.env, COLUMNS: '400' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HA = (lb: string, extraNodes = '', endpoint = '10.0.1.150:6443') => `cluster: { name: ep, controlPlaneEndpoint: ${endpoint} }
loadBalancer: ${lb}
network: { prefix: 24, gateway: 10.0.1.1, dns: [10.0.1.2], interface: eth0 }
os: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH2xGFQXhnRnmRVUCN9fWe1j8rX2a8T7fHSyLpnCCjSM t@lab"] }
nodes:
  - { name: m1, role: master, ip: 10.0.1.11 }
  - { name: m2, role: master, ip: 10.0.1.12 }
  - { name: m3, role: master, ip: 10.0.1.13 }
  - { name: w1, role: node, ip: 10.0.1.21 }
  - { name: lb1, role: lb, ip: 10.0.1.31 }
${extraNodes}`;

describe('validate proves the endpoint', () => {
  test('a virtual IP: keepalived route, the certificate covers the VIP and every master', () => {
    const r = validate(HA('{ kind: haproxy, virtualIP: 10.0.1.150 }', '  - { name: lb2, role: lb, ip: 10.0.1.32 }\n'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^endpoint 10\.0\.1\.150:6443 \(virtual IP\): keepalived holds 10\.0\.1\.150 on one of lb1, lb2; haproxy there forwards to 3 master\(s\)$/m);
    assert.match(r.stdout, /^certificate SANs cover 10\.0\.1\.150 \(the endpoint, loadBalancer\.virtualIP\), 10\.0\.1\.11 \(m1\), 10\.0\.1\.12 \(m2\), 10\.0\.1\.13 \(m3\)$/m);
    const j = JSON.parse(validate(HA('{ kind: haproxy, virtualIP: 10.0.1.150 }', '  - { name: lb2, role: lb, ip: 10.0.1.32 }\n'), true).stdout);
    assert.equal(j.endpoint.mode, 'virtual IP');
    for (const v of ['10.0.1.150', '10.0.1.11', '10.0.1.12', '10.0.1.13', 'm1', 'lb1']) assert.ok(j.endpoint.certSANs.includes(v), v);
  });

  test('a DNS name in front of the cluster: it is a SAN, and what it must resolve to is said', () => {
    const r = validate(HA('{ kind: nginx }', '', 'k8s-api.example.com:6443'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^endpoint k8s-api\.example\.com:6443 \(external\): k8s-api\.example\.com is outside the cluster description: it must resolve to a load balancer or virtual IP that forwards port 6443 to every master's 6443$/m);
    assert.match(r.stdout, /^certificate SANs cover k8s-api\.example\.com \(the endpoint\), 10\.0\.1\.11 \(m1\)/m);
  });

  test('a host kubeadm would refuse as a certificate SAN is refused, with its line', () => {
    const r = validate(HA('{ kind: nginx }', '', '-k8s.example.com:6443'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cluster\.controlPlaneEndpoint: "-k8s\.example\.com:6443": kubeadm puts the host into the API server certificate, and "-k8s\.example\.com" is neither an IPv4 address nor a DNS name kubeadm accepts there .* \(line 1\)/);
  });

  test('VRRP peers on two subnets are refused', () => {
    const r = validate(HA('{ kind: haproxy, virtualIP: 10.0.1.150 }', '  - { name: lb2, role: lb, ip: 10.0.2.32/24, gateway: 10.0.2.1 }\n'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /nodes\[5\]\.ip: "10\.0\.2\.32\/24" puts lb node lb2 on 10\.0\.2\.0\/24, but lb1 \(nodes\[4\]\) is on 10\.0\.1\.0\/24; keepalived's VRRP peers must share one subnet to move loadBalancer\.virtualIP 10\.0\.1\.150 between them \(line 11\)/);
  });

  test('a virtual IP some machine holds (a node, the gateway, a DNS server) or the subnet\'s own address is refused', () => {
    const two = '  - { name: lb2, role: lb, ip: 10.0.1.32 }\n';
    const cases: [string, RegExp][] = [
      ['10.0.1.12', /loadBalancer\.virtualIP: "10\.0\.1\.12" is nodes\[1\] \(m2\)'s own address; a virtual IP must be free for keepalived to move between lb nodes \(line 2\)/],
      ['10.0.1.1', /loadBalancer\.virtualIP: "10\.0\.1\.1" is the gateway of nodes\[0\] \(m1\); a virtual IP must be an address no machine holds \(line 2\)/],
      ['10.0.1.2', /loadBalancer\.virtualIP: "10\.0\.1\.2" is a DNS server of nodes\[0\] \(m1\); a virtual IP must be an address no machine holds \(line 2\)/],
      ['10.0.1.255', /loadBalancer\.virtualIP: "10\.0\.1\.255" is the broadcast address of 10\.0\.1\.0\/24, the subnet of nodes\[4\] \(lb1\); pick a free host address in it \(line 2\)/],
    ];
    for (const [vip, re] of cases) {
      const r = validate(HA(`{ kind: haproxy, virtualIP: ${vip} }`, two, `${vip}:6443`));
      assert.equal(r.status, 2, vip);
      assert.match(r.stderr, re, vip);
    }
  });

  test("warnings: the endpoint is the only master's address, or an lb node's beside a virtual IP", () => {
    const single = validate(`cluster: { name: one, controlPlaneEndpoint: 10.0.1.11:6443 }
network: { prefix: 24, gateway: 10.0.1.1, interface: eth0 }
os: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH2xGFQXhnRnmRVUCN9fWe1j8rX2a8T7fHSyLpnCCjSM t@lab"] }
nodes:
  - { name: m1, role: master, ip: 10.0.1.11 }
  - { name: w1, role: node, ip: 10.0.1.21 }
`);
    assert.equal(single.status, 0, single.stderr);
    assert.match(single.stderr, /cluster\.controlPlaneEndpoint: "10\.0\.1\.11:6443" is the address of the only master \(nodes\[0\], m1\); every kubeconfig and the API server certificate are tied to it, so a second master later means new certificates and kubeconfigs on every node; a DNS name \(or loadBalancer\.kind: local\) avoids that \(line 1\)/);
    assert.match(single.stdout, /^endpoint 10\.0\.1\.11:6443 \(single master\): every node reaches m1 directly$/m);

    const viaLb = validate(HA('{ kind: haproxy, virtualIP: 10.0.1.150 }', '  - { name: lb2, role: lb, ip: 10.0.1.32 }\n', '10.0.1.31:6443'));
    assert.equal(viaLb.status, 0, viaLb.stderr);
    assert.match(viaLb.stderr, /cluster\.controlPlaneEndpoint: "10\.0\.1\.31:6443" is lb node lb1's own address, not loadBalancer\.virtualIP 10\.0\.1\.150: when lb1 is down the cluster loses its endpoint although keepalived moved the virtual IP; use 10\.0\.1\.150:6443 \(line 1\)/);
    // Several masters behind a master's own address stay refused (not merely warned).
    const r = validate(HA('{ kind: nginx }', '', '10.0.1.12:6443'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cluster\.controlPlaneEndpoint: "10\.0\.1\.12:6443" is a master's own address; with 3 masters it must be a load balancer, virtual IP or DNS name in front of all of them \(line 1\)/);
  });

  test('loadBalancer.kind local: the route per role, and 127.0.0.1 and every master in the certificate', () => {
    const r = validate(`cluster: { name: edge }
loadBalancer: { kind: local }
network: { prefix: 24, gateway: 10.0.1.1, interface: eth0 }
os: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH2xGFQXhnRnmRVUCN9fWe1j8rX2a8T7fHSyLpnCCjSM t@lab"] }
nodes:
  - { name: m1, role: master, ip: 10.0.1.11 }
  - { name: m2, role: master, ip: 10.0.1.12 }
  - { name: w1, role: node, ip: 10.0.1.21 }
`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^endpoint api\.edge\.internal:6443 \(local proxies\): masters: api\.edge\.internal is the master itself in \/etc\/hosts \(then the other masters\); workers: api\.edge\.internal is 127\.0\.0\.1 in \/etc\/hosts, where haproxy listens and forwards to 2 master\(s\); outside the cluster \(the kubeconfig `k8s-image kubeconfig` writes\): api\.edge\.internal must resolve to a master, through your DNS or \/etc\/hosts$/m);
    assert.match(r.stdout, /^certificate SANs cover api\.edge\.internal \(the endpoint\), 127\.0\.0\.1 \(the workers' own proxy\), 10\.0\.1\.11 \(m1\), 10\.0\.1\.12 \(m2\)$/m);
  });
});

describe('the rendered kubeadm configs, read back (what build checks before it writes a tree)', () => {
  const LOCAL = `cluster: { name: edge, kubernetesVersion: 1.33.2, kubeProxyMode: iptables }
loadBalancer: { kind: local }
network: { prefix: 24, gateway: 10.0.1.1, interface: eth0 }
os: { kernel: lt, sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH2xGFQXhnRnmRVUCN9fWe1j8rX2a8T7fHSyLpnCCjSM t@lab"] }
mirrors: { elrepo: https://mirror.example.com/elrepo/kernel/el7/x86_64 }
nodes:
  - { name: m1, role: master, ip: 10.0.1.11 }
  - { name: m2, role: master, ip: 10.0.1.12 }
  - { name: w1, role: node, ip: 10.0.1.21 }
`;
  test('as rendered they pass; a SAN taken out, a wrong join endpoint or a second init are caught', async () => {
    const s = await generateSecrets({ cluster: 'edge', generateRootPassword: false });
    for (const text of [LOCAL, HA('{ kind: haproxy, virtualIP: 10.0.1.150 }')]) {
      assert.deepEqual(renderedEndpointProblems(loadCluster(text, 'c.yaml').cluster, s), []);
    }
    const cluster = loadCluster(LOCAL, 'edge.yaml').cluster;
    const configs = cluster.nodes.map((node) => ({ node, text: planNode(cluster, s, node.name).files.find((f) => f.path === '/etc/k8s-image/kubeadm.yaml')!.content }));
    assert.deepEqual(kubeadmConfigEndpointProblems(cluster, configs), []);
    // A broken SAN list in the config m1 runs: m2's address and 127.0.0.1 missing.
    const broken = configs.map((c) => (c.node.name === 'm1' ? { ...c, text: c.text.replace(/^ *- 10\.0\.1\.12\n/m, '').replace(/^ *- 127\.0\.0\.1\n/m, '') } : c));
    assert.notEqual(broken[0]!.text, configs[0]!.text);
    assert.deepEqual(kubeadmConfigEndpointProblems(cluster, broken), [
      "m1: 127.0.0.1 (the workers' own proxy) is not in the certSANs of the kubeadm config it runs (apiServer.certSANs: [\"api.edge.internal\",\"10.0.1.11\",\"m1\",\"m2\"])",
      'm1: 10.0.1.12 (m2) is not in the certSANs of the kubeadm config it runs (apiServer.certSANs: ["api.edge.internal","10.0.1.11","m1","m2"])',
    ]);
    // A worker that joins through another name; a second master that runs init; a node with no config.
    const wrongJoin = configs.map((c) => (c.node.name === 'w1' ? { ...c, text: c.text.replace('apiServerEndpoint: api.edge.internal:6443', 'apiServerEndpoint: 10.0.1.11:6443') } : c));
    assert.deepEqual(kubeadmConfigEndpointProblems(cluster, wrongJoin), ['w1: JoinConfiguration.discovery.bootstrapToken.apiServerEndpoint is "10.0.1.11:6443", not api.edge.internal:6443']);
    const twoInits = [...configs.slice(0, 1), { node: cluster.nodes[1]!, text: configs[0]!.text }, configs[2]!];
    assert.deepEqual(kubeadmConfigEndpointProblems(cluster, twoInits), ['2 nodes run kubeadm init with a ClusterConfiguration; exactly one master must']);
    assert.deepEqual(kubeadmConfigEndpointProblems(cluster, configs.slice(0, 2)), ['w1: no kubeadm config rendered']);
  });
});
