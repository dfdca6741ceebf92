/** cloudInitSchema, renderNetworkConfigToIfcfg, parseIfcfg and shellcheck run the real tools and catch errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloudInitSchema, parseIfcfg, renderNetworkConfigToIfcfg, renderNetworkConfigWithWarnings, shellcheck } from '../helpers/readers.js';

const USER_DATA = `#cloud-config
hostname: node1
fqdn: node1.lab.test
preserve_hostname: false
manage_etc_hosts: false
timezone: UTC
users:
  - default
  - name: kube
    groups: [wheel]
    lock_passwd: true
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlah admin@example]
write_files:
  - path: /etc/chrony.conf
    owner: root:root
    permissions: '0644'
    content: |
      server 192.168.108.2 iburst
yum_repos:
  kubernetes:
    name: Kubernetes
    baseurl: https://packages.example.test/el7/
    enabled: true
    gpgcheck: false
packages: [chrony]
runcmd:
  - [systemctl, restart, chronyd]
  - bash /root/install.sh
`;

function assertProblem(problems: string[], pattern: RegExp): void {
  assert.ok(problems.some((p) => pattern.test(p)), `no problem matches ${pattern}:\n${problems.join('\n') || '(none)'}`);
}

test('cloudInitSchema: valid user-data passes; defer, ntp and a broken type are caught', async () => {
  const broken = USER_DATA.replace("    permissions: '0644'\n", "    permissions: '0644'\n    defer: true\n")
    .replace('timezone: UTC\n', 'timezone: UTC\nntp:\n  enabled: true\n  servers: [192.168.108.2]\n')
    .replace(/runcmd:\n(  - .*\n)+/, 'runcmd: 5\n');
  const [ok, bad] = await Promise.all([cloudInitSchema(USER_DATA), cloudInitSchema(broken)]);
  assert.deepEqual(ok, []);
  assertProblem(bad, /write_files\[0\]\.defer: not a write_files key in cloud-init 19\.4/);
  assertProblem(bad, /^ntp: ignored on CentOS 7/);
  // cloud-init's own schema (Debian's cloud-init) catches the type error ...
  assertProblem(bad, /^cloud-init schema: .*runcmd: 5 is not of type 'array'/);
  // ... and the 19.4 shape check does too.
  assertProblem(bad, /^runcmd: expected a list, got number 5/);
});

test('cloudInitSchema: the 19.4 rules (first line, unquoted permissions, unknown keys, users, yum_repos) are enforced', async () => {
  const broken = USER_DATA.replace('#cloud-config\n', '#cloud-config \n')
    .replace("permissions: '0644'", 'permissions: 0644')
    .replace('packages: [chrony]\n', 'packages: [chrony]\nca_certs:\n  trusted: [x]\napt:\n  preserve_sources_list: true\n')
    .replace('    lock_passwd: true', '    lock-passwd: true')
    .replace('    baseurl: https://packages.example.test/el7/', '    mirrorlist: https://packages.example.test/mirrors');
  const problems = await cloudInitSchema(broken);
  assertProblem(problems, /^first line must be exactly "#cloud-config"/);
  assertProblem(problems, /write_files\[0\]\.permissions: expected a quoted octal string like '0644', got number/);
  assertProblem(problems, /^ca_certs: ignored on CentOS 7/);
  assertProblem(problems, /^apt: not read by any module CentOS 7's cloud-init 19\.4 runs/);
  assertProblem(problems, /users\[1\]\.lock-passwd: not a users key in cloud-init 19\.4 \(use lock_passwd\)/);
  assertProblem(problems, /yum_repos\.kubernetes: baseurl is required/);
});

const NETWORK_CONFIG = `network:
  version: 1
  config:
    - type: physical
      name: eth0
      mac_address: "52:54:00:12:34:56"
      subnets:
        - type: static
          address: 192.168.108.100/24
          gateway: 192.168.108.2
          dns_nameservers: [192.168.108.2, 1.1.1.1]
          dns_search: [lab.test]
    - type: nameserver
      address: [192.168.108.2]
      search: [lab.test]
`;

test('renderNetworkConfigToIfcfg renders a v1 static config with cloud-init\'s sysconfig renderer', async () => {
  const files = await renderNetworkConfigToIfcfg(NETWORK_CONFIG);
  const ifcfgText = files['etc/sysconfig/network-scripts/ifcfg-eth0'];
  assert.ok(ifcfgText !== undefined, `no ifcfg-eth0 among ${Object.keys(files).join(', ')}`);
  const ifcfg = parseIfcfg(ifcfgText);
  assert.equal(ifcfg['DEVICE'], 'eth0');
  assert.equal(ifcfg['IPADDR'], '192.168.108.100');
  assert.ok(ifcfg['PREFIX'] === '24' || ifcfg['NETMASK'] === '255.255.255.0', `PREFIX/NETMASK: ${ifcfgText}`);
  assert.equal(ifcfg['GATEWAY'], '192.168.108.2');
  assert.equal(ifcfg['HWADDR'], '52:54:00:12:34:56');
  assert.ok(['none', 'static'].includes(ifcfg['BOOTPROTO'] ?? ''), `BOOTPROTO=${ifcfg['BOOTPROTO']}`);
  assert.equal(ifcfg['ONBOOT'], 'yes');
  assert.equal(ifcfg['DNS1'], '192.168.108.2');
  assert.match(files['etc/resolv.conf'] ?? '', /^nameserver 192\.168\.108\.2$/m);
  // the unwrapped form (no top-level network:) renders the same
  const unwrapped = NETWORK_CONFIG.replace(/^network:\n/, '').replace(/^ {2}/gm, '');
  assert.deepEqual(await renderNetworkConfigToIfcfg(unwrapped), files);
});

test('renderNetworkConfigToIfcfg rejects what cloud-init rejects; warnings are reported', async () => {
  const badType = NETWORK_CONFIG.replace('- type: static', '- type: staticc');
  await assert.rejects(renderNetworkConfigToIfcfg(badType), /sysconfig renderer failed/);
  // v2 with four DNS servers (sysconfig keeps three) and a wifi (unsupported: a warning)
  const v2 = `version: 2
ethernets:
  eth0:
    addresses: [10.0.0.5/24]
    nameservers:
      addresses: [10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4]
wifis:
  wlan0:
    dhcp4: true
`;
  const r = await renderNetworkConfigWithWarnings(v2);
  const ifcfg = parseIfcfg(r.files['etc/sysconfig/network-scripts/ifcfg-eth0']!);
  assert.equal(ifcfg['IPADDR'], '10.0.0.5');
  assert.equal(ifcfg['DNS3'], '10.0.0.3');
  assert.equal(ifcfg['DNS4'], undefined);
  assert.ok(r.warnings.some((w) => /wifi/i.test(w)), `warnings: ${r.warnings.join(' | ')}`);
});

test('parseIfcfg strips quotes and skips comments', () => {
  assert.deepEqual(parseIfcfg('# Created by cloud-init\nDEVICE=eth0\nNAME="System eth0"\nOPTS=\'a b\'\n\nEMPTY=\n'), {
    DEVICE: 'eth0',
    NAME: 'System eth0',
    OPTS: 'a b',
    EMPTY: '',
  });
});

test('shellcheck flags an unquoted $1 and bash -n flags a syntax error; a clean script passes', async () => {
  const [unquoted, syntax, clean] = await Promise.all([
    shellcheck('#!/bin/bash\nrm $1\n', 'rm.sh'),
    shellcheck('#!/bin/bash\nif true; then\n  echo x\n', 'broken.sh'),
    shellcheck('#!/bin/bash\nset -euo pipefail\nrm -- "$1"\n', 'clean.sh'),
  ]);
  assertProblem(unquoted, /^rm\.sh:2:4: .*\[SC2086\]/);
  assertProblem(syntax, /^broken\.sh: bash -n: .*syntax error/);
  assert.deepEqual(clean, []);
  assertProblem(await shellcheck('#!/bin/bash\nx=1\ncd /tmp\n', 'w.sh'), /\[SC2034\]/);
});
