/**
 * examples/bare-metal.yaml (bonds, a tagged VLAN, a storage NIC with a route, labels, taints, kubelet
 * settings) through every delivery path, each checked by its reader: the kickstart by the RHEL7
 * grammar and pykickstart's network rules, the network-config by cloud-init's own parser and
 * sysconfig renderer field by field, the PXE entry by dracut 033's argument rules, the kubeadm
 * config by the kubeadm reference data of each API version.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import yaml from 'js-yaml';
import { loadCluster, type Cluster } from '../../src/config/index.js';
import { generateSecrets, type Secrets } from '../../src/secrets/index.js';
import { planNode } from '../../src/plan/index.js';
import { networkLines, renderKickstart, storageLines } from '../../src/kickstart/index.js';
import { renderCloudInit } from '../../src/cloudinit/index.js';
import { kernelCommandLine } from '../../src/pxe/index.js';
import { packageRoot } from '../../src/assets.js';
import type { Artifact } from '../../src/artifact.js';
import { checkKickstart, cloudInitSchema, dracutNetworkProblems, kickstartNetworkProblems, kubeadmConfigProblems, parseIfcfg, renderNetworkConfigToIfcfg, cloudInit194VlanProblems } from '../helpers/readers.js';

const exampleText = readFileSync(`${packageRoot}/examples/bare-metal.yaml`, 'utf8');
let cluster: Cluster;
let secrets: Secrets;
before(async () => {
  cluster = loadCluster(exampleText, 'bare-metal.yaml').cluster;
  secrets = await generateSecrets({ cluster: cluster.name, generateRootPassword: false });
});

const text = (a: Artifact[], path: string) => Buffer.from(a.find((x) => x.path === path)!.bytes).toString('utf8');
const pxe = { server: '10.20.100.5:8080', kernelArgs: [] };

test('kickstart: one network line per device, by the CentOS 7.9 grammar and pykickstart RHEL7 network rules', () => {
  for (const n of cluster.nodes) {
    const ks = text(renderKickstart(planNode(cluster, secrets, n.name)), 'ks.cfg');
    assert.deepEqual(checkKickstart(ks), [], `${n.name} ks.cfg`);
    assert.deepEqual(kickstartNetworkProblems(ks), [], `${n.name} ks.cfg network lines`);
  }
  const lines = networkLines(planNode(cluster, secrets, 'master1'));
  assert.deepEqual(lines, [
    // The Kubernetes VLAN first, on its bond's line (anaconda builds the bond and the VLAN from one line).
    'network --bootproto=static --device=bond0 --bondslaves=eno1,eno2 --bondopts=mode=802.3ad,miimon=100,lacp_rate=fast,xmit_hash_policy=layer3+4 --vlanid=100 --interfacename=bond0.100 --ip=10.20.100.11 --netmask=255.255.255.0 --gateway=10.20.100.1 --nameserver=10.20.100.2 --hostname=master1 --onboot=yes --activate --noipv6',
    // The storage NIC by MAC, jumbo frames, never the default route.
    'network --bootproto=static --device=0c:c4:7a:00:01:03 --mtu=9000 --ip=10.30.0.11 --netmask=255.255.255.0 --nodefroute --onboot=yes --activate --noipv6',
  ]);
  const ks = text(renderKickstart(planNode(cluster, secrets, 'master1')), 'ks.cfg');
  // The route the kickstart cannot express lands as a file, the same one on the cloud-init path.
  assert.match(ks, /^cat > \/etc\/sysconfig\/network-scripts\/route-ens1f0 <<'K8S_IMAGE_EOF'\n# Written by k8s-image[^\n]*\nADDRESS0=10\.31\.0\.0\nNETMASK0=255\.255\.0\.0\nGATEWAY0=10\.30\.0\.1\nK8S_IMAGE_EOF$/m);
});

test('the kickstart network checker catches what pykickstart and anaconda refuse', () => {
  const bad = [
    'network --bootproto=static --device=bond0 --bondslaves=eno1 --bondopts=mode=802.3ad --ip=10.0.0.2 --netmask=255.255.255.0',
    'network --bootproto=static --device=bond0 --vlanid=7 --interfacename=bond0.8 --ip=10.0.1.2 --netmask=255.255.255.0',
    'network --bootproto=static --device=eno3 --interfacename=vlan.5 --bondopts=mode',
    'network --device=eno4 --mtu=jumbo --hostname=a',
    'network --device=eno5 --hostname=b',
  ].join('\n');
  const problems = kickstartNetworkProblems(bad);
  for (const want of [/line 2: --device=bond0 was already defined on line 1/, /--interfacename bond0\.8 names VLAN 8 but --vlanid is 7/, /prefix vlan is refused/, /--bondopts without --bondslaves/, /"mode" is not key=value/, /--mtu must be an integer/, /2 network lines set --hostname/]) {
    assert.ok(problems.some((p) => want.test(p)), `${want}: ${problems.join('\n')}`);
  }
});

test('network-config: cloud-init parses it and its sysconfig renderer writes the bond, the VLAN, MTU and routes', async () => {
  const plan = planNode(cluster, secrets, 'master1');
  const nc = text(renderCloudInit(plan), 'cloud-init/network-config');
  const files = await renderNetworkConfigToIfcfg(nc);
  const at = (name: string) => {
    const f = files[`etc/sysconfig/network-scripts/${name}`];
    assert.ok(f, `cloud-init wrote no ${name} (wrote ${Object.keys(files).join(', ')})`);
    return parseIfcfg(f);
  };
  const bond = at('ifcfg-bond0');
  assert.equal(bond.TYPE, 'Bond');
  assert.equal(bond.BONDING_MASTER, 'yes');
  assert.deepEqual(bond.BONDING_OPTS!.split(' ').sort(), ['lacp_rate=fast', 'miimon=100', 'mode=802.3ad', 'xmit_hash_policy=layer3+4']);
  assert.equal(bond.ONBOOT, 'yes');
  assert.equal(bond.IPADDR, undefined, 'the bond itself carries no address: its VLAN does');
  for (const [nic, mac] of [['eno1', '0c:c4:7a:00:01:01'], ['eno2', '0c:c4:7a:00:01:02']]) {
    const f = at(`ifcfg-${nic}`);
    assert.equal(f.MASTER, 'bond0');
    assert.equal(f.SLAVE, 'yes');
    assert.equal(f.HWADDR, mac);
  }
  const vlan = at('ifcfg-bond0.100');
  assert.equal(vlan.VLAN, 'yes');
  assert.equal(vlan.PHYSDEV, 'bond0');
  assert.equal(vlan.IPADDR, '10.20.100.11');
  assert.equal(vlan.NETMASK, '255.255.255.0');
  assert.equal(vlan.GATEWAY, '10.20.100.1');
  assert.equal(vlan.DNS1, '10.20.100.2');
  assert.equal(vlan.ONBOOT, 'yes');
  const storage = at('ifcfg-ens1f0');
  assert.equal(storage.MTU, '9000');
  assert.equal(storage.IPADDR, '10.30.0.11');
  assert.equal(storage.HWADDR, '0c:c4:7a:00:01:03');
  assert.equal(storage.GATEWAY, undefined, 'one default route: the Kubernetes VLAN\'s');
  assert.equal(storage.DEFROUTE, undefined);
  // The route cloud-init writes is the plan's route file, field by field (the kickstart path writes that file).
  const ours = parseIfcfg(plan.files.find((f) => f.path === '/etc/sysconfig/network-scripts/route-ens1f0')!.content);
  assert.deepEqual(at('route-ens1f0'), ours);
  assert.deepEqual(ours, { ADDRESS0: '10.31.0.0', NETMASK0: '255.255.0.0', GATEWAY0: '10.30.0.1' });
  // active-backup with a primary member.
  const abFiles = await renderNetworkConfigToIfcfg(text(renderCloudInit(planNode(cluster, secrets, 'worker2')), 'cloud-init/network-config'));
  const ab = parseIfcfg(abFiles['etc/sysconfig/network-scripts/ifcfg-bond0']!);
  assert.deepEqual(ab.BONDING_OPTS!.split(' ').sort(), ['miimon=100', 'mode=active-backup', 'primary=eno1']);
});

test('PXE: the installer brings up the bond and the VLAN by dracut 033 arguments', () => {
  for (const n of cluster.nodes) {
    const line = kernelCommandLine(cluster, n, pxe);
    assert.deepEqual(dracutNetworkProblems(line, n.links!.interfaces.map((x) => x.name)), [], `${n.name}: ${line}`);
  }
  const line = kernelCommandLine(cluster, cluster.nodes.find((n) => n.name === 'master1')!, pxe);
  assert.match(line, / bond=bond0:eno1,eno2:mode=802\.3ad,miimon=100,lacp_rate=fast,xmit_hash_policy=layer3\+4 vlan=bond0\.100:bond0 ip=10\.20\.100\.11::10\.20\.100\.1:255\.255\.255\.0:master1:bond0\.100:none nameserver=10\.20\.100\.2 /);
  assert.doesNotMatch(line, /BOOTIF=/, 'dracut brings up the bond\'s first member itself');
  // A node with one NIC keeps the device-less ip= and BOOTIF, and its MTU in field 8.
  const one = loadCluster(exampleText.replace(/^nodes:[\s\S]*$/m, 'nodes:\n  - { name: m, role: master, ip: 10.20.100.30, mac: 52:54:00:00:00:30, mtu: 9000 }\n'), 'one.yaml').cluster;
  const oneLine = kernelCommandLine(one, one.nodes[0]!, pxe);
  assert.match(oneLine, / ip=10\.20\.100\.30::10\.20\.100\.1:255\.255\.255\.0:m::none:9000 nameserver=10\.20\.100\.2 BOOTIF=01-52-54-00-00-00-30 /);
  assert.deepEqual(dracutNetworkProblems(oneLine), []);
});

test('the dracut checker catches what dracut 033 dies on or ignores', () => {
  const cases: [string, RegExp][] = [
    ['bond=bond0:eno1,eno2:mode=802.3ad:9000 ip=10.0.0.2::10.0.0.1:255.255.255.0:h:bond0:none', /requires zero to four parameters/],
    ['bond=bond0:eno1 bond=bond1:eno2 ip=10.0.0.2::10.0.0.1:255.255.255.0:h:bond0:none', /2 given; dracut 033 reads one/],
    ['vlan=bond0.100 ip=10.0.0.2::10.0.0.1:255.255.255.0:h:bond0.100:none', /vlan= requires two parameters/],
    ['vlan=trunk:eno1 ip=10.0.0.2::10.0.0.1:255.255.255.0:h:trunk:none', /get_vid finds no VLAN id/],
    ['ip=10.0.0.2::10.0.0.1::h:eno1:none', /netmask is not supported/],
    ['bond=bond0:eno1,eno2:mode=active-backup ip=10.0.0.2::10.0.0.1:255.255.255.0:h:eno1:none', /eno1 is a slave of bond0/],
    ['bond=bond0:eno1,eno2 ip=10.0.0.2::10.0.0.1:255.255.255.0:h::none', /names no device/],
  ];
  for (const [line, want] of cases) {
    const problems = dracutNetworkProblems(line, ['eno1', 'eno2']);
    assert.ok(problems.some((p) => want.test(p)), `${line}: ${want}: ${problems.join('; ')}`);
  }
});

test('kubeadm: labels, taints, kubelet flags and KubeletConfiguration fields are keys kubeadm and the kubelet know, per API version', () => {
  for (const version of ['1.17.4', '1.22.17', '1.26.15', '1.31.4']) {
    const c = loadCluster(exampleText.replace('kubernetesVersion: 1.17.4', `kubernetesVersion: ${version}`).replace('runtime: { kind: docker }', 'runtime: { kind: containerd }'), 'bm.yaml').cluster;
    for (const n of c.nodes) {
      const plan = planNode(c, secrets.cluster === c.name ? secrets : secrets, n.name);
      const cfg = plan.files.find((f) => f.path === '/etc/k8s-image/kubeadm.yaml')!.content;
      assert.deepEqual(kubeadmConfigProblems(cfg, version), [], `${version} ${n.name}`);
      const docs = yaml.loadAll(cfg) as Record<string, any>[];
      const reg = docs.find((d) => d.nodeRegistration)!.nodeRegistration;
      const args = version === '1.31.4' ? Object.fromEntries((reg.kubeletExtraArgs ?? []).map((a: { name: string; value: string }) => [a.name, a.value])) : reg.kubeletExtraArgs ?? {};
      if (version === '1.31.4') assert.ok(reg.kubeletExtraArgs === undefined || Array.isArray(reg.kubeletExtraArgs), 'v1beta4: a [{name, value}] list');
      if (n.name === 'master1') {
        assert.equal(reg.taints, undefined, 'masters keep kubeadm\'s NoSchedule');
        assert.equal(args['node-labels'], undefined);
        const kubelet = docs.find((d) => d.kind === 'KubeletConfiguration')!;
        assert.equal(kubelet.maxPods, 150);
        assert.deepEqual(kubelet.systemReserved, { cpu: '500m', memory: '1Gi' });
        // The kubelet drops all its defaults once evictionHard is set: those not given are written too.
        assert.deepEqual(kubelet.evictionHard, { 'memory.available': '500Mi', 'nodefs.available': '10%', 'nodefs.inodesFree': '5%', 'imagefs.available': '15%' });
      }
      if (n.name === 'worker1') {
        assert.deepEqual(reg.taints, [{ key: 'example.com/dedicated', value: 'storage', effect: 'NoSchedule' }]);
        assert.equal(args['node-labels'], 'example.com/rack=r1,example.com/gpu=false', 'the role\'s labels, then the node\'s');
      }
      if (n.name === 'worker2') {
        assert.deepEqual(reg.taints, [], 'a worker without taints gets none');
        assert.deepEqual(args, { 'image-gc-high-threshold': '90', 'node-labels': 'example.com/rack=r1' });
      }
    }
  }
});

test('the Kubernetes device drives kubelet --node-ip and keepalived', () => {
  const plan = planNode(cluster, secrets, 'worker2');
  assert.equal(plan.files.find((f) => f.path === '/etc/sysconfig/kubelet')!.content.split('\n')[1], 'KUBELET_EXTRA_ARGS=--node-ip=10.20.100.22');
  assert.equal(plan.network.device, 'bond0.100', 'worker2 names no kubernetesInterface: the one device left is the VLAN');
  const ha = loadCluster(
    exampleText
      .replace('cluster:\n', 'cluster:\n  controlPlaneEndpoint: 10.20.100.9:6443\n')
      .replace(/^kubernetes:/m, 'loadBalancer: { kind: haproxy, virtualIP: 10.20.100.9 }\nkubernetes:')
      .replace(/^nodes:\n/m, 'nodes:\n  - { name: lb1, role: lb, ip: 10.20.100.7, interfaces: [{ name: eno1, mac: 0c:c4:7a:00:09:01 }, { name: eno2, mac: 0c:c4:7a:00:09:02 }], bonds: [{ name: bond0, interfaces: [eno1, eno2], mode: active-backup }], vlans: [{ link: bond0, id: 100 }] }\n  - { name: lb2, role: lb, ip: 10.20.100.8, interfaces: [{ name: eno1, mac: 0c:c4:7a:00:08:01 }] }\n'),
    'ha.yaml',
  ).cluster;
  const haSecrets = { ...secrets, cluster: ha.name };
  const keepalived = planNode(ha, haSecrets, 'lb1').files.find((f) => f.path === '/etc/keepalived/keepalived.conf')!.content;
  assert.match(keepalived, /^ {4}interface bond0\.100$/m);
  assert.match(keepalived, /10\.20\.100\.9\/24 dev bond0\.100$/m);
  assert.match(planNode(ha, haSecrets, 'lb2').files.find((f) => f.path === '/etc/keepalived/keepalived.conf')!.content, /^ {4}interface eno1$/m);
});

test('`validate` and `build` accept examples/bare-metal.yaml', async () => {
  const dir = tempDir('k8s-image-bm-');
  copyFileSync(`${packageRoot}/examples/bare-metal.yaml`, join(dir, 'cluster.yaml'));
  const cli = join(packageRoot, 'dist', 'src', 'cli.js');
  const run = promisify(execFile);
  const v = await run(process.execPath, [cli, 'validate', '--config', 'cluster.yaml'], { cwd: dir });
  assert.match(v.stdout, /worker2 +node +10\.20\.100\.22\/24 +0c:c4:7a:00:03:01/);
  await run(process.execPath, [cli, 'build', '--config', 'cluster.yaml', '--out', 'out', '--seed', 'cidata'], { cwd: dir });
  assert.deepEqual(readdirSync(join(dir, 'out', 'rack1')).sort(), ['manifest.json', 'master1', 'worker1', 'worker2']);
  assert.match(readFileSync(join(dir, 'out', 'rack1', 'worker1', 'cloud-init', 'network-config'), 'utf8'), /type: bond/);
});

test('disks: the declared layout in the kickstart (RHEL7 grammar), volumes on their own disks in cloud-init (fs_setup, mounts)', async () => {
  const master = text(renderKickstart(planNode(cluster, secrets, 'master1')), 'ks.cfg');
  const layout = master.slice(master.indexOf('ignoredisk'), master.indexOf('reboot --eject'));
  assert.equal(layout, [
    'ignoredisk --only-use=sda,sdb,sdc,sdd',
    'zerombr',
    'clearpart --all --initlabel --disklabel=gpt --drives=sda,sdb,sdc,sdd',
    'bootloader --location=mbr --boot-drive=sda',
    "# The firmware's boot partitions, by the %pre below: biosboot on each mirror disk with BIOS (grub2 goes on every RAID member),",
    '# /boot/efi on the first disk only with UEFI (not mirrored). /boot and / are mirrored; no swap.',
    '%pre --log=/tmp/k8s-image-bootparts.log',
    'if [ -d /sys/firmware/efi ]; then',
    "  echo 'part /boot/efi --fstype=efi --size=200 --ondisk=sda' >/tmp/k8s-image-bootparts.ks",
    'else',
    "  printf 'part biosboot --fstype=biosboot --size=1 --ondisk=%s\\n' 'sda' 'sdb' >/tmp/k8s-image-bootparts.ks",
    'fi',
    '%end',
    '%include /tmp/k8s-image-bootparts.ks',
    'part raid.01 --size=1024 --ondisk=sda',
    'part raid.02 --size=1024 --ondisk=sdb',
    'raid /boot --level=1 --device=boot --fstype=xfs raid.01 raid.02',
    'part raid.03 --size=8192 --grow --ondisk=sda',
    'part raid.04 --size=8192 --grow --ondisk=sdb',
    'raid / --level=1 --device=root --fstype=xfs raid.03 raid.04',
    'part /var/lib/docker --fstype=xfs --size=1024 --grow --label=k8s-data --ondisk=sdc',
    'part /var/log --fstype=xfs --size=1024 --grow --label=k8s-log --ondisk=sdd',
    '',
  ].join('\n'));
  assert.doesNotMatch(layout, /^(part|logvol) swap/m);
  // Every layout shape passes the grammar: LVM, LVM on RAID1, partitions of the OS disk, containerd's data dir.
  const shapes = [
    '{ lvm: true, rootSize: 50Gi, log: { size: 20Gi }, containerData: { size: 200Gi } }',
    '{ lvm: true, raid1: [sda, sdb], containerData: { disk: /dev/disk/by-id/nvme-data1 } }',
    '{ rootSize: 40960, log: { size: 10Gi } }',
  ];
  for (const shape of shapes) {
    const c = loadCluster(exampleText.replace('storage:\n  containerData: { disk: sdb }', `storage: ${shape}`).replace(/ {4}storage:[^\n]*\n( {6}[^\n]*\n)+/, '').replace('runtime: { kind: docker }', 'runtime: { kind: containerd }'), 's.yaml').cluster;
    const ks = text(renderKickstart(planNode(c, secrets, 'worker1')), 'ks.cfg');
    assert.deepEqual(checkKickstart(ks), [], `${shape}:\n${storageLines(planNode(c, secrets, 'worker1')).join('\n')}`);
  }
  const lvm = loadCluster(exampleText.replace('storage:\n  containerData: { disk: sdb }', `storage: ${shapes[1]}`).replace(/ {4}storage:[^\n]*\n( {6}[^\n]*\n)+/, ''), 's.yaml').cluster;
  assert.deepEqual(storageLines(planNode(lvm, secrets, 'worker1')).filter((l) => !l.startsWith('#')).slice(12), [
    'part raid.01 --size=1024 --ondisk=sda',
    'part raid.02 --size=1024 --ondisk=sdb',
    'raid /boot --level=1 --device=boot --fstype=xfs raid.01 raid.02',
    'part raid.03 --size=1 --grow --ondisk=sda',
    'part raid.04 --size=1 --grow --ondisk=sdb',
    'raid pv.01 --level=1 --device=pv00 raid.03 raid.04',
    'volgroup vg_os pv.01',
    'logvol / --vgname=vg_os --name=root --fstype=xfs --size=8192 --grow',
    'part /var/lib/docker --fstype=xfs --size=1024 --grow --label=k8s-data --ondisk=/dev/disk/by-id/nvme-data1',
  ]);
  // cloud-init: the same labelled XFS on the whole disk, mounted where the runtime keeps its data.
  const userData = text(renderCloudInit(planNode(cluster, secrets, 'worker1')), 'cloud-init/user-data');
  assert.deepEqual(await cloudInitSchema(userData), []);
  const doc = yaml.load(userData) as Record<string, unknown>;
  assert.deepEqual(doc.fs_setup, [{ label: 'k8s-data', filesystem: 'xfs', device: '/dev/sdb', partition: 'none', overwrite: false }]);
  assert.deepEqual(doc.mounts, [['LABEL=k8s-data', '/var/lib/docker', 'xfs', 'defaults,nofail', '0', '2']]);
  const byId = text(renderCloudInit(planNode(lvm, secrets, 'worker1')), 'cloud-init/user-data');
  assert.match(byId, /device: \/dev\/disk\/by-id\/nvme-data1\n/);
});

test('a VLAN parent\'s MTU reaches install.env (LINK_MTUS) on both paths: the kickstart\'s VLAN line cannot set it on the parent', () => {
  const jumbo = loadCluster(
    exampleText
      .replace('{ name: bond0, interfaces: [eno1, eno2], mode: 802.3ad, miimon: 100, lacpRate: fast, xmitHashPolicy: layer3+4 }', '{ name: bond0, interfaces: [eno1, eno2], mode: 802.3ad, miimon: 100, lacpRate: fast, xmitHashPolicy: layer3+4, mtu: 9000 }')
      .replace('      - { link: bond0, id: 100 }    # bond0.100\n', '      - { link: bond0, id: 100 }\n      - { link: ens1f1, id: 7, ip: 10.40.0.11/24 }\n')
      .replace('ip: 10.30.0.11/24 }   # storage network\n', 'ip: 10.30.0.11/24 }\n      - { name: ens1f1, mac: 0c:c4:7a:00:01:04, mtu: 9000 }\n'),
    'jumbo.yaml',
  ).cluster;
  const plan = planNode(jumbo, secrets, 'master1');
  const env = plan.files.find((f) => f.path === '/etc/k8s-image/install.env')!.content;
  assert.match(env, /^LINK_MTUS="bond0=9000 ens1f1=9000=0c:c4:7a:00:01:04"$/m);
  // worker2's bond has no MTU: nothing to set.
  assert.doesNotMatch(planNode(cluster, secrets, 'worker2').files.find((f) => f.path === '/etc/k8s-image/install.env')!.content, /LINK_MTUS/);
});

test('cloud-init 19.4 (CentOS 7) takes each VLAN\'s PHYSDEV from its name: every rendered VLAN\'s name-derived parent is its link', () => {
  for (const n of cluster.nodes) {
    const nc = text(renderCloudInit(planNode(cluster, secrets, n.name)), 'cloud-init/network-config');
    assert.ok(nc.includes('type: vlan'), n.name);
    assert.deepEqual(cloudInit194VlanProblems(nc), [], n.name);
  }
  // The rule itself (sysconfig.py at 19.4: iface_name[:iface_name.rfind('.')]): vlan100 would be put on "vlan10".
  assert.deepEqual(cloudInit194VlanProblems('version: 1\nconfig:\n  - { type: vlan, name: vlan100, vlan_link: bond0, vlan_id: 100 }\n'), ['VLAN vlan100: cloud-init 19.4 writes PHYSDEV=vlan10, not its vlan_link bond0']);
});

test('RAID1: the %pre gives each mirror disk a biosboot with BIOS (grub2 goes on every member) and one /boot/efi with UEFI; the result passes the RHEL7 grammar', () => {
  const ks = text(renderKickstart(planNode(cluster, secrets, 'master1')), 'ks.cfg');
  assert.deepEqual(checkKickstart(ks), []);
  const lines = ks.split('\n');
  const start = lines.indexOf('%pre --log=/tmp/k8s-image-bootparts.log');
  const body = lines.slice(start + 1, lines.indexOf('%end', start)).join('\n');
  for (const [firmware, want] of [
    ['bios', 'part biosboot --fstype=biosboot --size=1 --ondisk=sda\npart biosboot --fstype=biosboot --size=1 --ondisk=sdb\n'],
    ['uefi', 'part /boot/efi --fstype=efi --size=200 --ondisk=sda\n'],
  ] as const) {
    const root = tempDir('k8s-image-bootparts-');
    if (firmware === 'uefi') mkdirSync(join(root, 'efi'));
    // The %pre run by bash, with the firmware directory and the output in a temp root.
    execFileSync('bash', ['-euc', body.replaceAll('/sys/firmware/efi', join(root, 'efi')).replaceAll('/tmp/k8s-image-bootparts.ks', join(root, 'parts.ks'))]);
    const parts = readFileSync(join(root, 'parts.ks'), 'utf8');
    assert.equal(parts, want, firmware);
    // What anaconda parses after %pre: the include replaced by its lines.
    assert.deepEqual(checkKickstart(ks.replace('%include /tmp/k8s-image-bootparts.ks\n', parts)), [], firmware);
  }
});

test('the runtime waits for its data disk: a RequiresMountsFor drop-in (systemd 219 knows it) in the plan, so on every path', async () => {
  const { systemd219Keys } = await import('../node-files/systemd219.js');
  const plan = planNode(cluster, secrets, 'worker1');
  const dropIn = plan.files.find((f) => f.path === '/etc/systemd/system/docker.service.d/k8s-image-data.conf')!;
  assert.ok(dropIn, 'worker1 has its docker data on sdb');
  assert.match(dropIn.content, /^\[Unit\]\nRequiresMountsFor=\/var\/lib\/docker\n$/m);
  const keys = systemd219Keys();
  for (const line of dropIn.content.split('\n').filter((l) => /^[A-Za-z]+=/.test(l))) assert.ok(keys.Unit!.includes(line.split('=')[0]!), line);
  // Both delivery paths carry it: the kickstart writes it, cloud-init's write_files holds it.
  assert.ok(text(renderKickstart(plan), 'ks.cfg').includes('/etc/systemd/system/docker.service.d/k8s-image-data.conf'));
  const wf = (yaml.load(text(renderCloudInit(plan), 'cloud-init/user-data')) as { write_files: { path: string; content: string }[] }).write_files;
  assert.equal(wf.find((f) => f.path === dropIn.path)!.content, dropIn.content);
  // No data disk of its own: no drop-in.
  const plain = loadCluster(exampleText.replace('storage:\n  containerData: { disk: sdb }', 'storage: { containerData: { size: 50Gi } }'), 'p.yaml').cluster;
  assert.ok(!planNode(plain, secrets, 'worker1').files.some((f) => f.path.endsWith('k8s-image-data.conf')));
});
