/**
 * The bare-metal fields (interfaces, bonds, vlans, routes, mtu, kubernetesInterface, labels, taints,
 * kubelet settings): what config refuses before anything is rendered, each with the field, what is
 * wrong and what would be right, and the line it is on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadCluster } from '../../src/config/index.js';
import { UserError } from '../../src/errors.js';
import { packageRoot } from '../../src/assets.js';
import { configProblems } from '../helpers/config.js';

const head = `network: { gateway: 10.0.0.1 }\nnodes:\n`;
const node = (extra: string) => `${head}  - name: m\n    role: master\n    ip: 10.0.0.10\n${extra}`;
const nics = '    interfaces:\n      - { name: eno1, mac: 52:54:00:00:00:01 }\n      - { name: eno2, mac: 52:54:00:00:00:02 }\n';

test('examples/bare-metal.yaml is accepted, with the Kubernetes device and PXE NIC computed', () => {
  const { cluster, warnings } = loadCluster(readFileSync(`${packageRoot}/examples/bare-metal.yaml`, 'utf8'), 'bare-metal.yaml');
  // master1's mirrored OS: with UEFI the EFI system partition is on its first disk only.
  assert.deepEqual(warnings, ['nodes[0].storage.raid1: a machine that boots with UEFI gets /boot/efi on sda only (the EFI system partition is not mirrored; with BIOS each disk gets its biosboot and grub2): if sda fails, it boots again only once an EFI partition is made on sdb']);
  const w2 = cluster.nodes.find((n) => n.name === 'worker2')!;
  assert.equal(w2.interface, 'bond0.100');
  assert.equal(w2.mac, '0c:c4:7a:00:03:01');
  assert.deepEqual(w2.links!.bonds[0]!.options, [['mode', 'active-backup'], ['miimon', '100'], ['primary', 'eno1']]);
  assert.deepEqual(cluster.nodes[0]!.links!.routes, [{ to: '10.31.0.0/16', via: '10.30.0.1', metric: undefined, device: 'ens1f0' }]);
  assert.deepEqual(cluster.nodes[1]!.kubernetes.labels, [['example.com/rack', 'r1'], ['example.com/gpu', 'false']]);
});

test('a single NIC with interfaces: it carries the address; one NIC keeps mac and interface as before', () => {
  const c = loadCluster(node('    interfaces: [{ name: eno1, mac: 52:54:00:00:00:01, mtu: 9000 }]\n'), 't.yaml').cluster;
  assert.equal(c.nodes[0]!.interface, 'eno1');
  assert.equal(c.nodes[0]!.mac, '52:54:00:00:00:01');
  const plain = loadCluster(node('    mac: 52:54:00:00:00:09\n    mtu: 1450\n'), 't.yaml').cluster;
  assert.equal(plain.nodes[0]!.links, undefined);
  assert.equal(plain.nodes[0]!.mtu, 1450);
});

test('network graphs the installer or the network scripts would reject are refused with the field and the fix', () => {
  const cases: [string, string, RegExp][] = [
    ['bonds without interfaces', node('    bonds: [{ name: bond0, interfaces: [eno1], mode: active-backup }]\n'), /^nodes\[0\]\.interfaces: missing: bonds, vlans, routes and kubernetesInterface need the node's NICs/],
    ['a bond of an unknown NIC', node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1, eno9], mode: active-backup }]\n`), /^nodes\[0\]\.bonds\[0\]\.interfaces\[1\]: "eno9" is not one of nodes\[0\]\.interfaces/],
    ['a NIC in two bonds', node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: active-backup }, { name: bond1, interfaces: [eno2], mode: active-backup }]\n`), /"eno2" is already a member of bond0/],
    ['a bad bond mode', node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: lacp }]\n`), /^nodes\[0\]\.bonds\[0\]\.mode: "lacp" is not allowed: expected one of active-backup, 802\.3ad/],
    ['lacpRate on active-backup', node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: active-backup, lacpRate: fast }]\n`), /lacpRate: only 802\.3ad \(LACP\) bonds have a LACP rate/],
    ['a primary outside the bond', node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1], mode: active-backup, primary: eno2 }]\n`), /primary: "eno2" is not one of this bond's interfaces/],
    ['a member with its own mtu', node('    interfaces: [{ name: eno1, mac: 52:54:00:00:00:01, mtu: 9000 }, { name: eno2 }]\n    bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: active-backup }]\n'), /"eno1" sets its own mtu; the bond's members take bond0's/],
    ['a VLAN id out of range', node(`${nics}    vlans: [{ link: eno1, id: 4095 }]\n`), /vlans\[0\]\.id: 4095 is not valid: expected a VLAN id 1-4094/],
    ['a VLAN name without its id', node(`${nics}    vlans: [{ link: eno1, id: 100, name: trunk }]\n`), /name: "trunk" must be eno1\.100 \(or leave name out\): dracut and CentOS 7's network scripts read the VLAN id from the name/],
    // cloud-init 19.4's sysconfig renderer: PHYSDEV = name[:name.rfind('.')], so vlan100 would sit on "vlan10".
    ['a vlan<id> name', node(`${nics}    vlans: [{ link: eno1, id: 100, name: vlan100 }]\n`), /vlans\[0\]\.name: "vlan100" must be eno1\.100 .*cloud-init 19\.4 its parent device \(the part before the last "\."\), so vlan100 and other names are refused/],
    ['a VLAN on a bond member', node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: active-backup }]\n    vlans: [{ link: eno1, id: 5 }]\n`), /vlans\[0\]\.link: "eno1" is a member of bond0; put the VLAN on bond0/],
    ['two VLANs on one bond', node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: active-backup }]\n    vlans: [{ link: bond0, id: 5 }, { link: bond0, id: 6, ip: 10.9.0.2/24 }]\n`), /vlans\[1\]\.link: bond0 already carries VLAN 5; CentOS 7's kickstart describes a VLAN on its parent's one network line/],
    ['a VLAN bigger than its link', node(`${nics}    vlans: [{ link: eno1, id: 5, mtu: 9000 }]\n    kubernetesInterface: eno1.5\n`), /vlans\[0\]\.mtu: 9000 is more than its link eno1's \(1500 unless set\)/],
    ['two candidates for the address', node(nics), /^nodes\[0\]\.kubernetesInterface: missing: eno1, eno2 could each carry the node's address 10\.0\.0\.10; name the NIC, bond or VLAN that does/],
    ['a bond member as the Kubernetes device', node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: active-backup }]\n    kubernetesInterface: eno1\n`), /kubernetesInterface: "eno1" is a member of bond0; name bond0/],
    ['a NIC that carries nothing', node(`${nics}    kubernetesInterface: eno1\n`), /interfaces\[1\]\.name: "eno2" carries nothing/],
    ['a NIC outside a bond without a MAC', node('    interfaces: [{ name: eno1 }]\n'), /interfaces\[0\]\.mac: missing: a NIC outside a bond is matched by its MAC/],
    ['interface beside interfaces', node(`    interface: eth0\n${nics}    kubernetesInterface: eno1\n    routes: []\n`), /^nodes\[0\]\.interface: with nodes\[0\]\.interfaces, name the device that carries the node's address in nodes\[0\]\.kubernetesInterface instead/],
    ['two devices on one subnet', node('    interfaces: [{ name: eno1, mac: 52:54:00:00:00:01 }, { name: eno2, mac: 52:54:00:00:00:02, ip: 10.0.0.11/24 }]\n'), /interfaces\[1\]\.ip: 10\.0\.0\.11\/24 is on the subnet of eno1 \(10\.0\.0\.0\/24\); each device of a node needs its own subnet/],
    ['a route through no subnet', node('    interfaces: [{ name: eno1, mac: 52:54:00:00:00:01 }]\n    routes: [{ to: 10.8.0.0/16, via: 10.7.0.1 }]\n'), /routes\[0\]\.via: 10\.7\.0\.1 is on none of this node's subnets \(eno1 10\.0\.0\.0\/24\)/],
    ['a default route in routes', node('    interfaces: [{ name: eno1, mac: 52:54:00:00:00:01 }]\n    routes: [{ to: 0.0.0.0/0, via: 10.0.0.1 }]\n'), /the default route goes through the node's gateway/],
    ['a mac that is not the Kubernetes stack\'s', node('    mac: 52:54:00:00:00:02\n    interfaces: [{ name: eno1, mac: 52:54:00:00:00:01 }, { name: eno2, mac: 52:54:00:00:00:02, ip: 10.5.0.2/24 }]\n'), /mac: "52:54:00:00:00:02" is eno2's, which does not carry the Kubernetes device eno1/],
    ['an mtu out of range', node('    mtu: 12000\n'), /^nodes\[0\]\.mtu: 12000 is not valid: expected an MTU of at most 9216/],
    ['the same NIC MAC on two nodes', `${head}  - { name: m, role: master, ip: 10.0.0.10, interfaces: [{ name: eno1, mac: 52:54:00:00:00:01 }] }\n  - { name: w, role: node, ip: 10.0.0.11, interfaces: [{ name: eno1, mac: 52:54:00:00:00:01 }] }\n`, /^nodes\[1\]\.interfaces\[0\]\.mac: "52:54:00:00:00:01" is already a NIC of nodes\[0\] \(m\)/],
  ];
  for (const [what, yamlText, want] of cases) {
    const problems = configProblems(yamlText);
    assert.ok(problems.some((p) => want.test(p)), `${what}: expected ${want}, got:\n${problems.join('\n')}`);
  }
});

test('labels, taints and kubelet settings the kubelet or kubeadm would refuse are refused', () => {
  const cases: [string, string, RegExp][] = [
    ['a node-role label', node('    kubernetes: { labels: { node-role.kubernetes.io/worker: "" } }\n'), /^nodes\[0\]\.kubernetes\.labels: "node-role\.kubernetes\.io\/worker": the kubelet \(1\.16\+\) refuses to set node-role\.kubernetes\.io\/\* labels on its own node/],
    ['a kubernetes.io label', `kubernetes: { roles: { node: { labels: { kubernetes.io/role: x } } } }\n${head}  - { name: m, role: master, ip: 10.0.0.10 }\n  - { name: w, role: node, ip: 10.0.0.11 }\n`, /^kubernetes\.roles\.node\.labels: "kubernetes\.io\/role": the kubelet \(1\.16\+\) refuses --node-labels in the kubernetes\.io namespace/],
    ['a bad label value', node('    kubernetes: { labels: { rack: "r 1" } }\n'), /labels\.rack: "r 1" is not valid/],
    ['a bad taint effect', node('    kubernetes: { taints: [{ key: a, effect: NoRun }] }\n'), /taints\[0\]\.effect: "NoRun" is not allowed: expected one of NoSchedule, PreferNoSchedule, NoExecute/],
    ['a managed kubelet flag', node('    kubernetes: { kubeletExtraArgs: { node-ip: 1.2.3.4 } }\n'), /kubeletExtraArgs: "node-ip" is set by k8s-image \(the node ip comes from nodes\[\]\.ip\)/],
    ['shell in a kubelet flag', node('    kubernetes: { kubeletExtraArgs: { max-pods: "$(reboot)" } }\n'), /kubeletExtraArgs\.max-pods: "\$\(reboot\)" is not valid: expected a flag value without spaces/],
    ['kubernetes on an lb node', `${head}  - { name: m, role: master, ip: 10.0.0.10 }\n  - { name: l, role: lb, ip: 10.0.0.12, kubernetes: { labels: { a: b } } }\n`, /^nodes\[1\]\.kubernetes: an lb node runs no kubelet/],
    ['GC thresholds upside down', `kubernetes: { kubelet: { imageGCHighThresholdPercent: 70, imageGCLowThresholdPercent: 80 } }\n${node('')}`, /^kubernetes\.kubelet\.imageGCLowThresholdPercent: 80 must be below imageGCHighThresholdPercent \(70\)/],
    ['an unknown kubelet field', `kubernetes: { kubelet: { maxPod: 10 } }\n${node('')}`, /^kubernetes\.kubelet: unknown field "maxPod"; did you mean "maxPods"\?/],
    ['a bad quantity', `kubernetes: { kubelet: { systemReserved: { memory: lots } } }\n${node('')}`, /systemReserved\.memory: "lots" is not valid: expected a resource quantity/],
  ];
  for (const [what, yamlText, want] of cases) {
    const problems = configProblems(yamlText);
    assert.ok(problems.some((p) => want.test(p)), `${what}: expected ${want}, got:\n${problems.join('\n')}`);
  }
});

test('a refused bare-metal field names its line', () => {
  const text = node(`${nics}    bonds: [{ name: bond0, interfaces: [eno1, eno9], mode: active-backup }]\n`);
  try {
    loadCluster(text, 't.yaml');
    assert.fail('expected a refusal');
  } catch (e) {
    assert.ok(e instanceof UserError);
    assert.ok(e.problems.some((p) => /eno9.* \(line 9\)$/.test(p)), e.problems.join('\n'));
  }
});

test('disk layouts the installer would reject are refused; an OS-disk volume warns that clones keep their layout', () => {
  const st = (y: string, disk = '') => `${head}  - name: m\n    role: master\n    ip: 10.0.0.10\n${disk}    storage: ${y}\n`;
  const cases: [string, string, RegExp][] = [
    ['a root below 8 GiB', st('{ rootSize: 4Gi }'), /^nodes\[0\]\.storage\.rootSize: 4096 MiB is too small for CentOS 7 with Kubernetes; give \/ at least 8192 MiB/],
    ['one RAID disk', st('{ raid1: [sda] }'), /^nodes\[0\]\.storage\.raid1: \["sda"\] is not valid: list exactly two disks/],
    ['the same disk twice in the RAID', st('{ raid1: [sda, sda] }'), /raid1: "sda" twice; a mirror needs two different disks/],
    ['disk beside raid1', st('{ raid1: [sda, sdb] }', '    disk: sdc\n'), /raid1: with the OS mirrored on sda and sdb, leave out the node's disk/],
    ['a volume on the OS disk by name', st('{ containerData: { disk: sda } }'), /containerData\.disk: "sda" holds the OS; for a volume on the OS disk give only nodes\[0\]\.storage\.containerData\.size/],
    ['two volumes on one disk', st('{ containerData: { disk: sdb }, log: { disk: sdb } }'), /log\.disk: "sdb" already holds nodes\[0\]\.storage\.containerData/],
    ['a size for a whole disk', st('{ containerData: { disk: sdb, size: 10Gi } }'), /containerData\.size: a volume on a disk of its own takes all of sdb; leave out size/],
    ['neither disk nor size', st('{ log: {} }'), /^nodes\[0\]\.storage\.log: give nodes\[0\]\.storage\.log\.disk \(a disk of its own\) or nodes\[0\]\.storage\.log\.size/],
    ['a tiny volume', st('{ log: { size: 100Mi } }'), /log\.size: 100 MiB is too small for \/var\/log/],
    ['swap', st('{ swap: 4Gi }'), /unknown field "swap"/],
  ];
  for (const [what, yamlText, want] of cases) {
    const problems = configProblems(yamlText);
    assert.ok(problems.some((p) => want.test(p)), `${what}: expected ${want}, got:\n${problems.join('\n')}`);
  }
  const { cluster, warnings } = loadCluster(`storage: { lvm: true, log: { size: 20Gi } }\n${node('')}`, 't.yaml');
  assert.deepEqual(cluster.nodes[0]!.storage, { osDisks: ['sda'], raid1: false, lvm: true, volumes: [{ use: 'log', mount: '/var/log', sizeMiB: 20480 }] });
  assert.deepEqual(warnings, ['storage.log: /var/log as a logical volume of the OS disk is laid out by the installer (kickstart) only; a node seeded by cidata (an installed clone) keeps its image\'s disk layout: give it a disk of its own to have it on both paths']);
  const containerd = loadCluster(`cluster: { kubernetesVersion: 1.24.17 }\nstorage: { containerData: { disk: vdb } }\n${node('')}`, 't.yaml').cluster;
  assert.equal(containerd.nodes[0]!.storage!.volumes[0]!.mount, '/var/lib/containerd');
});

test('image GC thresholds are checked as the kubelet ends up with them: file, then flags, then its defaults (low 80, high 85)', () => {
  const cases: [string, string, RegExp][] = [
    // The kubelet's default low threshold is 80: a high of 80 by flag leaves low >= high.
    ['a flag high at the default low', node('    kubernetes: { kubeletExtraArgs: { image-gc-high-threshold: 80 } }\n'), /^nodes\[0\]\.kubernetes\.kubeletExtraArgs: the image GC thresholds end up low 80 >= high 80 \(low: the kubelet's default low threshold 80; high: image-gc-high-threshold 80 \(nodes\[0\]\.kubernetes\.kubeletExtraArgs\)\)/],
    ['a role flag low above the file high', `kubernetes: { kubelet: { imageGCHighThresholdPercent: 90 }, roles: { master: { kubeletExtraArgs: { image-gc-low-threshold: 95 } } } }\n${node('')}`, /^kubernetes\.roles\.master\.kubeletExtraArgs: the image GC thresholds end up low 95 >= high 90 \(low: image-gc-low-threshold 95 .*; high: imageGCHighThresholdPercent 90 \(kubernetes\.kubelet\)\)/],
    ['a file high below the default low', `kubernetes: { kubelet: { imageGCHighThresholdPercent: 75 } }\n${node('')}`, /^kubernetes\.kubelet\.imageGCHighThresholdPercent: 80 must be below imageGCHighThresholdPercent \(75\) \(imageGCLowThresholdPercent is the kubelet's default 80\)/],
    ['a flag that is not a percentage', node('    kubernetes: { kubeletExtraArgs: { image-gc-low-threshold: 200 } }\n'), /"image-gc-low-threshold" is "200"; the kubelet takes a whole percentage 0-100/],
  ];
  for (const [what, yamlText, want] of cases) {
    const problems = configProblems(yamlText);
    assert.ok(problems.some((p) => want.test(p)), `${what}: expected ${want}, got:\n${problems.join('\n')}`);
  }
  // A flag may fix what the file would break, and the other way round.
  loadCluster(`kubernetes: { kubelet: { imageGCLowThresholdPercent: 70 } }\n${node('    kubernetes: { kubeletExtraArgs: { image-gc-high-threshold: 75 } }\n')}`, 't.yaml');
  loadCluster(node('    kubernetes: { kubeletExtraArgs: { image-gc-high-threshold: 90 } }\n'), 't.yaml');
});

test('the refused GC flag names its line', () => {
  try {
    loadCluster(node('    kubernetes: { kubeletExtraArgs: { image-gc-high-threshold: 80 } }\n'), 't.yaml');
    assert.fail('expected a refusal');
  } catch (e) {
    assert.ok(e instanceof UserError);
    assert.ok(e.problems.some((p) => /^nodes\[0\]\.kubernetes\.kubeletExtraArgs: the image GC.* \(line 6\)$/.test(p)), e.problems.join('\n'));
  }
});

test('kubelet flags removed in the cluster\'s minor, or set by kubeadm, are refused', () => {
  const v = (version: string, args: string) => `cluster: { kubernetesVersion: ${version} }\n${node(`    kubernetes: { kubeletExtraArgs: { ${args} } }\n`)}`;
  const cases: [string, string, RegExp][] = [
    ['cni-bin-dir on 1.24', v('1.24.17', 'cni-bin-dir: /opt/cni/bin'), /kubeletExtraArgs: "cni-bin-dir" is not a flag of the 1\.24 kubelet \(removed with dockershim in 1\.24 \(kubernetes PR 106907\)\); the kubelet exits on an unknown flag/],
    ['network-plugin on 1.17 (kubeadm sets it)', v('1.17.4', 'network-plugin: kubenet'), /kubeletExtraArgs: "network-plugin" is set by k8s-image \(kubeadm sets it \(cni\) on 1\.15-1\.23/],
    ['pod-infra-container-image', v('1.17.4', 'pod-infra-container-image: x'), /"pod-infra-container-image" is set by k8s-image/],
    ['config', v('1.17.4', 'config: /tmp/x'), /"config" is set by k8s-image \(kubeadm writes \/var\/lib\/kubelet\/config\.yaml; use kubernetes\.kubelet\)/],
  ];
  for (const [what, yamlText, want] of cases) {
    const problems = configProblems(yamlText);
    assert.ok(problems.some((p) => want.test(p)), `${what}: expected ${want}, got:\n${problems.join('\n')}`);
  }
  loadCluster(v('1.17.4', 'image-pull-progress-deadline: 10m'), 't.yaml');
});
