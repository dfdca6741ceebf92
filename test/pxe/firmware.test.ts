/**
 * Real firmware PXE-boots the tree (QEMU, TCG; in a network namespace made here, on a tap device
 * that dnsmasq serves): SeaBIOS with the iPXE ROM through pxelinux, OVMF through GRUB, and iPXE over
 * HTTP from `k8s-image serve`. Each time the serial console shows the per-MAC entry was chosen: the
 * kernel's command line carries the node's inst.ks= URL (a small Debian kernel stands in for
 * CentOS's; its initrd is a dummy, so it stops there). After the node's signed "installed" report
 * the next boot of that MAC goes to the local disk. Needs root, qemu-system-x86, ipxe-qemu, ovmf,
 * pxelinux, syslinux-common, grub-efi-amd64-bin, debian-installer-12-netboot-amd64, dnsmasq.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { signedReportBody } from '../../src/status/protocol.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

const base = tempDir('k8s-image-fw-');
const tree = join(base, 'out', 'q-pxe');
const NS = `k8sifw${process.pid % 100000}`;
const TAP = `${NS}t`;
const MAC = '52:54:00:00:00:11';
const KERNEL = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
const ip = (...args: string[]) => execFileSync(requireTool('ip'), args, { stdio: 'pipe' });
const running: ChildProcess[] = [];

function need(path: string, pkg: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg}`);
  return path;
}

before(() => {
  writeFileSync(join(base, 'q.yaml'), `cluster: { name: q }\nnetwork: { prefix: 24, gateway: 10.78.0.1, dns: [10.78.0.1], interface: eth0 }\nnodes:\n  - { name: master, role: master, ip: 10.78.0.10, mac: "52:54:00:00:00:10" }\n  - { name: node01, role: node, ip: 10.78.0.11, mac: "${MAC}" }\n`);
  execFileSync(process.execPath, [join(packageRoot, 'dist/src/cli.js'), 'pxe', '-c', 'q.yaml', '-o', 'out', '--server', '10.78.0.1:8080', '--kernel-arg', 'console=ttyS0'], { cwd: base, stdio: 'pipe' });
  // What the README tells users to put in the tree: the loaders, and the installer kernel (a stand-in).
  copyFileSync(need('/usr/lib/PXELINUX/pxelinux.0', 'pxelinux'), join(tree, 'tftp/pxelinux.0'));
  copyFileSync(need('/usr/lib/syslinux/modules/bios/ldlinux.c32', 'syslinux-common'), join(tree, 'tftp/ldlinux.c32'));
  need('/usr/lib/grub/x86_64-efi/efinet.mod', 'grub-efi-amd64-bin');
  execFileSync(requireTool('grub-mkimage'), ['-O', 'x86_64-efi', '-o', join(tree, 'tftp/grubx64.efi'), '-p', '/', 'efinet', 'tftp', 'net', 'normal', 'linux', 'configfile', 'echo', 'test', 'boot']);
  for (const d of ['tftp/centos7', 'http/centos7/images/pxeboot']) {
    mkdirSync(join(tree, d), { recursive: true });
    copyFileSync(need(KERNEL, 'debian-installer-12-netboot-amd64'), join(tree, d, 'vmlinuz'));
    writeFileSync(join(tree, d, 'initrd.img'), 'not an initrd\n');
  }
  // A plain PXE ROM (not iPXE) asks for pxelinux/GRUB: the same config without the iPXE branch.
  writeFileSync(join(tree, 'dnsmasq-plain.conf'), readFileSync(join(tree, 'dnsmasq.conf'), 'utf8').replace(/^dhcp-userclass=.*\n/m, ''));
  ip('netns', 'add', NS);
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  ip('-n', NS, 'tuntap', 'add', 'dev', TAP, 'mode', 'tap');
  ip('-n', NS, 'addr', 'add', '10.78.0.1/24', 'dev', TAP);
  ip('-n', NS, 'link', 'set', TAP, 'up');
});

after(() => {
  for (const p of running) p.kill('SIGKILL');
  spawnSync(requireTool('ip'), ['netns', 'del', NS]);
});

function daemon(args: string[]): ChildProcess {
  const p = spawn(requireTool('ip'), ['netns', 'exec', NS, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.push(p);
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise((r) => (p.on('exit', r), p.kill('SIGKILL')));
}

/** Boot once; resolve when `until` matches the serial console (or the SeaBIOS debug log), or after `ms`. */
async function boot(firmware: 'bios' | 'uefi', conf: string, until: RegExp, ms = 150000): Promise<{ serial: string; bios: string; dnsmasq: string }> {
  const tag = `${firmware}-${conf}-${Date.now()}`;
  const serial = join(base, `${tag}.serial`);
  const bios = join(base, `${tag}.bios`);
  const log = join(base, `${tag}.dnsmasq`);
  writeFileSync(serial, '');
  const dns = daemon([requireTool('dnsmasq'), '-k', '-C', join(tree, conf), `--interface=${TAP}`, '--user=root', `--log-facility=${log}`]);
  await new Promise((r) => setTimeout(r, 500));
  const fw =
    firmware === 'bios'
      ? ['-chardev', `file,id=sb,path=${bios}`, '-device', 'isa-debugcon,iobase=0x402,chardev=sb']
      : (() => {
          const vars = join(base, `${tag}.vars`);
          copyFileSync(need('/usr/share/OVMF/OVMF_VARS_4M.fd', 'ovmf'), vars);
          return ['-machine', 'q35', '-drive', `if=pflash,format=raw,readonly=on,file=${need('/usr/share/OVMF/OVMF_CODE_4M.fd', 'ovmf')}`, '-drive', `if=pflash,format=raw,file=${vars}`];
        })();
  need('/usr/lib/ipxe/qemu/efi-virtio.rom', 'ipxe-qemu');
  const q = daemon([requireTool('qemu-system-x86_64'), '-accel', 'tcg', '-m', '512', '-display', 'none', '-no-reboot', '-serial', `file:${serial}`, ...fw, '-netdev', `tap,id=n0,ifname=${TAP},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n0,mac=${MAC},bootindex=1`]);
  const t0 = Date.now();
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'latin1') : '');
  while (Date.now() - t0 < ms && !until.test(read(serial)) && !until.test(read(bios))) await new Promise((r) => setTimeout(r, 500));
  await stop(q);
  await stop(dns);
  return { serial: read(serial), bios: read(bios), dnsmasq: read(log) };
}

const CMDLINE = /Command line: .*inst\.ks=http:\/\/10\.78\.0\.1:8080\/ks\/node01\.cfg .*ip=10\.78\.0\.11::10\.78\.0\.1:255\.255\.255\.0:node01:eth0:none .*BOOTIF=01-52-54-00-00-00-11/;

test('SeaBIOS + iPXE ROM, as a plain PXE client: pxelinux picks the MAC\'s entry and boots the installer kernel with its kickstart', { timeout: 200000 }, async () => {
  const r = await boot('bios', 'dnsmasq-plain.conf', CMDLINE);
  assert.match(r.serial, CMDLINE, r.dnsmasq);
  assert.match(r.dnsmasq, /sent .*tftp\/pxelinux\.cfg\/01-52-54-00-00-00-11 to 10\.78\.0\.11/);
});

test('OVMF (UEFI): GRUB finds grub.cfg-01-<mac> by itself and boots the same command line', { timeout: 200000 }, async () => {
  const r = await boot('uefi', 'dnsmasq-plain.conf', CMDLINE);
  assert.match(r.serial, CMDLINE, r.dnsmasq);
  assert.match(r.dnsmasq, /sent .*tftp\/grub\.cfg-01-52-54-00-00-00-11 to 10\.78\.0\.11/);
});

test('iPXE over HTTP from k8s-image serve; then the signed install report sends the next boot to the local disk', { timeout: 400000 }, async () => {
  const serve = daemon([process.execPath, join(packageRoot, 'dist/src/cli.js'), 'serve', '--dir', tree, '--listen', '10.78.0.1:8080']);
  let log = '';
  serve.stderr!.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !log.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
  const r = await boot('bios', 'dnsmasq.conf', CMDLINE);
  assert.match(r.serial, CMDLINE, log);
  assert.match(log, /10\.78\.0\.11 GET \/ipxe\/01-52-54-00-00-00-11\.ipxe 200/);
  assert.match(log, /10\.78\.0\.11 GET \/centos7\/images\/pxeboot\/vmlinuz 200/);

  // The kickstart's last step, as the node sends it.
  const key = (JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>).node01!;
  const time = String(Math.floor(Date.now() / 1000));
  const body = signedReportBody(key, { node: 'node01', stage: 'installed', time: Number(time), nonce: '0123456789abcdef0123456789abcdef' });
  const post = spawnSync(requireTool('ip'), ['netns', 'exec', NS, requireTool('curl'), '-fsS', '-d', body, 'http://10.78.0.1:8080/report'], { encoding: 'utf8' });
  assert.equal(post.status, 0, post.stderr);
  const local = await boot('bios', 'dnsmasq-plain.conf', /Booting from Hard Disk|No bootable device/, 120000);
  assert.match(local.dnsmasq, /sent .*pxelinux\.cfg\/01-52-54-00-00-00-11 to 10\.78\.0\.11/, 'pxelinux still asks for its entry');
  assert.doesNotMatch(local.dnsmasq, /vmlinuz/, 'but no installer kernel is fetched');
  assert.doesNotMatch(local.serial, /Command line/);
  assert.match(local.bios, /Booting from Hard Disk|No bootable device/, 'the firmware goes on to the local disk');
  await stop(serve);
});
