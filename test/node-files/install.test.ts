// install.sh run for real against fake yum/rpm/systemctl, with fstab and SELinux config in a temp root.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { calls, callsOf, makeSandbox, run, setCounter, type Sandbox } from './sandbox.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * PATH as `path` has it, minus the commands `hidden`: the host's directories are replaced by one of
 * links to everything else in them (first one wins, as in a PATH search). This host may have Debian's
 * rpm (the bundle tests build RPMs), which a node without yum must not find.
 */
function pathWithout(path: string, keepFirst: string, hidden: string[]): string {
  const dir = tempDir('k8s-image-path-');
  for (const d of path.split(':').filter((x) => x && x !== keepFirst)) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) if (!hidden.includes(n) && !existsSync(join(dir, n))) symlinkSync(join(d, n), join(dir, n));
  }
  return `${keepFirst}:${dir}`;
}

const PACKAGES = ['chrony', 'curl', 'docker-ce-18.06.3.ce-3.el7', 'kubeadm-1.17.4-0', 'kubelet-1.17.4-0', 'kubectl-1.17.4-0', 'kubernetes-cni-0.7.5-0'];
const FSTAB = `#
# /etc/fstab
/dev/mapper/centos-root /                       xfs     defaults        0 0
UUID=0a1b2c3d /boot                   xfs     defaults        0 0
/dev/mapper/centos-swap swap                    swap    defaults        0 0
# /dev/sdb1 swap swap defaults 0 0
`;
const SELINUX_CONFIG = `# This file controls the state of SELinux on the system.
SELINUX=enforcing
SELINUXTYPE=targeted
`;

interface Install {
  sb: Sandbox;
  env: Record<string, string>;
  fstab: string;
  selinux: string;
  log: string;
}

function install(vars: Record<string, string> = {}): Install {
  const sb = makeSandbox('init');
  rmSync(sb.p.installMarker);
  const fstab = join(sb.root, 'etc/fstab');
  const selinux = join(sb.root, 'etc/selinux-config');
  const log = join(sb.root, 'var/log/k8s-image/install.log');
  writeFileSync(fstab, FSTAB);
  writeFileSync(selinux, SELINUX_CONFIG);
  const settings: Record<string, string> = {
    PACKAGES: PACKAGES.join(' '),
    DISABLE_EXCLUDES: 'kubernetes,docker-ce-stable',
    ENABLE_SERVICES: 'chronyd docker kubelet',
    DISABLE_SERVICES: 'firewalld iptables ip6tables',
    START_SERVICES: 'chronyd',
    RELOAD_SERVICES: '',
    FIRSTBOOT_UNIT: 'k8s-image-firstboot.service',
    INSTALL_MARKER: sb.p.installMarker,
    SELINUX: 'permissive',
    FSTAB: fstab,
    SELINUX_CONFIG: selinux,
    INSTALL_LOG: log,
    YUM_BACKOFF: '0',
    YUM_RETRIES: '3',
    ...vars,
  };
  const envFile = join(sb.p.etc, 'install.env');
  writeFileSync(envFile, `# test\n${Object.entries(settings).map(([k, v]) => `${k}="${v}"`).join('\n')}\n`);
  return { sb, env: { K8S_IMAGE_INSTALL_ENV: envFile, FAKE_MISSING_UNITS: 'iptables ip6tables' }, fstab, selinux, log };
}

describe('install.sh', () => {
  it('installs the exact packages, comments swap out, sets SELinux, enables/disables units, never starts one; idempotent', async (t) => {
    const i = install();
    t.after(() => i.sb.cleanup());
    setCounter(i.sb, 'yum-fails', 1);
    const r = await run(i.sb, 'install.sh', i.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);

    const yum = callsOf(i.sb, 'yum', 'install');
    assert.equal(yum.length, 2, 'a failed yum is retried');
    for (const c of yum) assert.deepEqual(c, ['yum', 'install', '-y', '--setopt=obsoletes=0', '--disableexcludes=kubernetes,docker-ce-stable', ...PACKAGES]);
    assert.deepEqual(callsOf(i.sb, 'rpm', '-q').at(-1), ['rpm', '-q', ...PACKAGES], 'checked with rpm -q');

    const fstab = readFileSync(i.fstab, 'utf8');
    assert.match(fstab, /^#\/dev\/mapper\/centos-swap swap +swap +defaults +0 0$/m);
    assert.equal(fstab.replace('#/dev/mapper/centos-swap', '/dev/mapper/centos-swap'), FSTAB, 'only the active swap line changed');
    assert.equal(readFileSync(i.selinux, 'utf8'), SELINUX_CONFIG.replace('SELINUX=enforcing', 'SELINUX=permissive'));

    const systemctl = callsOf(i.sb, 'systemctl').map((c) => c.slice(1).join(' '));
    for (const u of ['chronyd', 'docker', 'kubelet', 'k8s-image-firstboot.service']) assert.ok(systemctl.includes(`enable ${u}`), `enable ${u}`);
    for (const u of ['firewalld', 'iptables', 'ip6tables']) assert.ok(systemctl.includes(`disable ${u}`), `disable ${u}`);
    assert.ok(systemctl.every((c) => /^(enable|disable) \S+$/.test(c)), `only enable/disable, no start/--now: ${systemctl.join(', ')}`);
    assert.equal(systemctl[0], 'enable k8s-image-firstboot.service', 'the first-boot unit is enabled before anything can fail');
    assert.ok(existsSync(i.sb.p.installMarker), 'the install marker is written at the end');
    assert.match(r.stdout, /iptables not disabled \(not installed\?\); fine/);
    assert.match(readFileSync(i.log, 'utf8'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d k8s-image install: done$/m);

    // Again: same result, swap line not commented twice.
    const r2 = await run(i.sb, 'install.sh', i.env);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.equal(readFileSync(i.fstab, 'utf8'), fstab);
    assert.match(readFileSync(i.selinux, 'utf8'), /^SELINUX=permissive$/m);
    assert.ok(!calls(i.sb).some((c) => c[0] === 'systemctl' && (c.includes('start') || c.includes('--now'))));
  });

  it('fails when yum leaves a pinned package out (CentOS 7 yum skips missing names)', async (t) => {
    const i = install({ YUM_RETRIES: '2' });
    t.after(() => i.sb.cleanup());
    const r = await run(i.sb, 'install.sh', { ...i.env, FAKE_YUM_SKIP: 'kubeadm-1.17.4-0' });
    assert.equal(r.code, 1);
    assert.equal(callsOf(i.sb, 'yum', 'install').length, 2, 'YUM_RETRIES bounds the attempts');
    assert.match(r.stdout, /package kubeadm-1\.17\.4-0 is not installed/);
    assert.match(r.stdout, /packages not installed after 2 attempts/);
    assert.deepEqual(callsOf(i.sb, 'systemctl').map((c) => c.slice(1).join(' ')), ['enable k8s-image-firstboot.service'], 'only the first-boot unit (which reruns the install) is enabled when packages are missing');
    assert.ok(!existsSync(i.sb.p.installMarker), 'no install marker after a failure');
  });

  it('--live (cloud-init, a running system): stops disabled units, restarts START_SERVICES, SELinux permissive now, reloads active RELOAD_SERVICES, starts first boot last', async (t) => {
    const i = install({ START_SERVICES: 'chronyd nginx', RELOAD_SERVICES: 'NetworkManager' });
    t.after(() => i.sb.cleanup());
    const l = await run(i.sb, 'install.sh', i.env, 15000, ['--live']);
    assert.equal(l.code, 0, l.stdout + l.stderr);
    const systemctl = callsOf(i.sb, 'systemctl').map((c) => c.slice(1).join(' '));
    const after = systemctl.slice(systemctl.indexOf('daemon-reload'));
    assert.deepEqual(after, [
      'daemon-reload',
      'stop firewalld',
      'stop iptables',
      'stop ip6tables',
      'restart chronyd',
      'restart nginx',
      'is-active --quiet NetworkManager',
      'reload NetworkManager',
      'start --no-block k8s-image-firstboot.service',
    ]);
    assert.deepEqual(callsOf(i.sb, 'setenforce'), [['setenforce', '0']], 'SELinux permissive for this boot (GenericCloud boots enforcing)');
    assert.ok(existsSync(i.sb.p.installMarker));
  });

  it('--live: a unit that cannot start fails the install (exit 1, no marker, first boot not started)', async (t) => {
    const i = install({ START_SERVICES: 'chronyd nginx' });
    t.after(() => i.sb.cleanup());
    const r = await run(i.sb, 'install.sh', { ...i.env, FAKE_MISSING_UNITS: 'nginx' });
    assert.equal(r.code, 0, 'chroot mode never starts units');
    rmSync(i.sb.p.installMarker);
    writeFileSync(i.sb.callsLog, '');
    const l = await run(i.sb, 'install.sh', { ...i.env, FAKE_MISSING_UNITS: 'nginx' }, 15000, ['--live']);
    assert.equal(l.code, 1, l.stdout);
    assert.match(l.stdout, /systemctl restart nginx failed: see 'journalctl -u nginx'/);
    assert.ok(!existsSync(i.sb.p.installMarker));
    assert.ok(!callsOf(i.sb, 'systemctl', 'start').length, 'first boot is not started on a failed install');
    assert.ok(callsOf(i.sb, 'systemctl', 'enable', 'k8s-image-firstboot.service').length, 'but it is enabled, so a reboot reruns the install');
  });

  it('SELINUX=disabled, no --disableexcludes when empty, and a config without SELINUX= gets one', async (t) => {
    const i = install({ SELINUX: 'disabled', DISABLE_EXCLUDES: '' });
    t.after(() => i.sb.cleanup());
    writeFileSync(i.selinux, 'SELINUXTYPE=targeted\n');
    const r = await run(i.sb, 'install.sh', i.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(callsOf(i.sb, 'yum', 'install')[0], ['yum', 'install', '-y', '--setopt=obsoletes=0', ...PACKAGES]);
    assert.equal(readFileSync(i.selinux, 'utf8'), 'SELINUXTYPE=targeted\nSELINUX=disabled\n');
  });

  it('on a machine without yum and rpm: fails naming them and never logs "packages installed" (the line the status page shows)', async (t) => {
    const i = install();
    t.after(() => i.sb.cleanup());
    // The sandbox's PATH puts the fakes first; with them gone, no yum or rpm is found (as on Debian).
    for (const c of ['yum', 'rpm']) rmSync(join(i.sb.root, 'bin', c));
    const PATH = pathWithout(i.sb.env.PATH!, join(i.sb.root, 'bin'), ['yum', 'rpm']);
    const found = spawnSync('/bin/sh', ['-c', 'command -v yum; command -v rpm'], { env: { PATH }, encoding: 'utf8' });
    assert.equal(found.stdout, '', `yum or rpm is still on PATH: ${found.stdout}`);
    const r = await run(i.sb, 'install.sh', { ...i.env, PATH });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const log = readFileSync(i.log, 'utf8');
    assert.doesNotMatch(log, /packages installed|packages already installed/);
    assert.match(log, /yum: not found on this machine: .*runs only on CentOS 7/);
    assert.ok(!existsSync(i.sb.p.installMarker), 'no install marker');
  });

  it('rejects SELINUX=enforcing before touching anything', async (t) => {
    const i = install({ SELINUX: 'enforcing' });
    t.after(() => i.sb.cleanup());
    const r = await run(i.sb, 'install.sh', i.env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /SELINUX=enforcing; expected disabled or permissive/);
    assert.equal(calls(i.sb).length, 0);
    assert.equal(readFileSync(i.fstab, 'utf8'), FSTAB);
  });

  it('LINK_MTUS: a VLAN parent gets its MTU in its ifcfg (anaconda 21.48 writes it on the VLAN only); a NIC without one gets one; a missing bond fails; idempotent', async (t) => {
    const scripts = tempDir('k8s-image-ifcfg-');
    // As anaconda leaves them: the bond's ifcfg without MTU, the VLAN's with it, no ifcfg for eno3.
    const bond = 'DEVICE=bond0\nTYPE=Bond\nBONDING_MASTER=yes\nBONDING_OPTS="mode=active-backup miimon=100"\nONBOOT=yes\n';
    writeFileSync(join(scripts, 'ifcfg-bond0'), bond);
    writeFileSync(join(scripts, 'ifcfg-bond0.100'), 'DEVICE=bond0.100\nVLAN=yes\nMTU=9000\nONBOOT=yes\n');
    writeFileSync(join(scripts, 'ifcfg-Wired_connection_1'), 'DEVICE="eno4"\nMTU=1500\n');
    const i = install({ LINK_MTUS: 'bond0=9000 eno3=9000=52:54:00:00:00:03 eno4=9000=52:54:00:00:00:04', NETWORK_SCRIPTS: scripts });
    t.after(() => i.sb.cleanup());
    const r = await run(i.sb, 'install.sh', i.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(readFileSync(join(scripts, 'ifcfg-bond0'), 'utf8'), `${bond}MTU=9000\n`);
    assert.equal(readFileSync(join(scripts, 'ifcfg-eno3'), 'utf8'), '# Written by k8s-image: eno3 carries a VLAN and needs MTU 9000 (nodes[].interfaces[].mtu)\nDEVICE=eno3\nHWADDR=52:54:00:00:00:03\nTYPE=Ethernet\nBOOTPROTO=none\nONBOOT=yes\nMTU=9000\n');
    assert.equal(readFileSync(join(scripts, 'ifcfg-Wired_connection_1'), 'utf8'), 'DEVICE="eno4"\nMTU=9000\n', 'found by DEVICE=, not by file name');
    const before = readdirSync(scripts).map((f) => readFileSync(join(scripts, f), 'utf8'));
    const again = await run(i.sb, 'install.sh', i.env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual(readdirSync(scripts).map((f) => readFileSync(join(scripts, f), 'utf8')), before, 'a rerun changes nothing');
    assert.match(again.stdout, /ifcfg-bond0 has MTU 9000/);

    const j = install({ LINK_MTUS: 'bond1=9000', NETWORK_SCRIPTS: scripts });
    t.after(() => j.sb.cleanup());
    const missing = await run(j.sb, 'install.sh', j.env);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /no ifcfg file in .* has DEVICE=bond1/);
  });
});
