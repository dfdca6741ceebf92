/**
 * Real firmware PXE-boots the tree (QEMU, TCG; OVMF's own UEFI PXE chains to the tree's ipxe.efi, which
 *  fetches the kernel over HTTP (only the loader over TFTP); in a network namespace made here, on a tap device
 * that dnsmasq serves as the unprivileged user Debian's package runs it as, `-u dnsmasq`):
 *  - SeaBIOS with the iPXE ROM as a plain PXE client, through pxelinux;
 *  - OVMF (Secure Boot off) with its own UEFI PXE: DHCP names shimx64.efi, shim loads grubx64.efi
 *    beside it, GRUB finds grub.cfg-01-<mac> and boots the kernel with linuxefi;
 *  - OVMF with Secure Boot enforced (Microsoft keys): the same through Microsoft-signed shim,
 *    Debian-signed GRUB and a Debian-signed kernel (lockdown on);
 *  - iPXE over HTTP from `k8s-image serve`; after the node's signed "installed" report the next
 *    boot of that MAC goes to the local disk: SeaBIOS boots the disk; under OVMF, GRUB's local
 *    entry chainloads the disk's \EFI\centos\shimx64.efi (a stand-in that prints a marker), and
 *    iPXE's UEFI ROM hands back to the firmware with an error, so BDS tries the next boot option.
 * Each time the serial console shows the per-MAC entry was chosen: the kernel's command line
 * carries the node's inst.ks= URL (a small Debian kernel stands in for CentOS's; its initrd is a
 * dummy, so it stops there). Every GRUB entry booted here first passes the CentOS 7.9 command-set
 * check (test/reference/grub2-rhel7.9.json), since Debian's GRUB is not a faithful stand-in: it
 * still has `linux`, its linuxefi needs the linux module, it lacks RHEL's fw_path lookup (the
 * grub-mkimage image here, prefix `/`, finds grub.cfg-01-<mac> in $prefix instead; Debian's signed
 * netboot image reads only $prefix/grub.cfg, so the Secure Boot test gives it a one-line
 * tftp/grub/grub.cfg naming the MAC's file), and its `exit` returns EFI_SUCCESS.
 * Needs root, qemu-system-x86, ipxe-qemu, ovmf, pxelinux, syslinux-common, grub-efi-amd64-bin,
 * grub-efi-amd64-signed, shim-signed, debian-installer-12-netboot-amd64, dnsmasq, mtools,
 * dosfstools, gdisk.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/assets.js';
import { signedReportBody } from '../../src/status/protocol.js';
import { unknownGrubCommands } from '../reference/grub2-rhel7.9.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';

const base = tempDir('k8s-image-fw-');
const tree = join(base, 'out', 'q-pxe');
const NS = `k8sifw${process.pid % 100000}`;
const TAP = `${NS}t`;
const MAC = '52:54:00:00:00:11';
const MACFILE = '01-52-54-00-00-00-11';
const KERNEL = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
const SHIM_SIGNED = '/usr/lib/shim/shimx64.efi.signed';
const GRUB_SIGNED = '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed';
const GRUB_MKIMAGE = join(base, 'grubx64-mkimage.efi');
const DISK = join(base, 'disk.img');
const DISK_NO_CENTOS = join(base, 'disk-removable-path-only.img');
const ip = (...args: string[]) => execFileSync(requireTool('ip'), args, { stdio: 'pipe' });
const running: ChildProcess[] = [];

function need(path: string, pkg: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg}`);
  return path;
}

/** dnsmasq drops to the dnsmasq user: every directory down to the tree must be traversable and its files readable. */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) openUp(p);
    else if (e.name !== 'report-keys.json') chmodSync(p, 0o644);
  }
}

/** A GPT disk with a FAT ESP holding \EFI\centos\shimx64.efi (unless !centos) and \EFI\BOOT\BOOTX64.EFI: GRUB images that print a marker and power off. */
function makeDisk(disk: string, centos: boolean): void {
  const mk = (who: string) => {
    const cfg = join(base, `disk-${who}.cfg`);
    writeFileSync(cfg, `echo K8SI-DISK-LOADER-${who}\nhalt\n`);
    const out = join(base, `disk-${who}.efi`);
    execFileSync(requireTool('grub-mkimage'), ['-O', 'x86_64-efi', '-o', out, '-p', '/', '-c', cfg, 'echo', 'halt']);
    return out;
  };
  writeFileSync(disk, '');
  truncateSync(disk, 34 << 20);
  execFileSync(need('/usr/sbin/sgdisk', 'gdisk'), ['-n', '1:2048:69598', '-t', '1:ef00', disk], { stdio: 'pipe' });
  execFileSync(need('/usr/sbin/mkfs.vfat', 'dosfstools'), ['-F', '16', '--offset', '2048', disk, String((69598 - 2048 + 1) >> 1)], { stdio: 'pipe' });
  const img = `${disk}@@1M`;
  execFileSync(requireTool('mmd'), ['-i', img, '::/EFI', '::/EFI/BOOT', ...(centos ? ['::/EFI/centos'] : [])]);
  if (centos) execFileSync(requireTool('mcopy'), ['-i', img, mk('centos'), '::/EFI/centos/shimx64.efi']);
  execFileSync(requireTool('mcopy'), ['-i', img, mk('BOOT'), '::/EFI/BOOT/BOOTX64.EFI']);
}

before(() => {
  writeFileSync(join(base, 'q.yaml'), `cluster: { name: q }\nnetwork: { prefix: 24, gateway: 10.78.0.1, dns: [10.78.0.1], interface: eth0 }\nnodes:\n  - { name: master, role: master, ip: 10.78.0.10, mac: "52:54:00:00:00:10" }\n  - { name: node01, role: node, ip: 10.78.0.11, mac: "${MAC}" }\n`);
  execFileSync(process.execPath, [join(packageRoot, 'dist/src/cli.js'), 'pxe', '-c', 'q.yaml', '-o', 'out', '--server', '10.78.0.1:8080', '--kernel-arg', 'console=ttyS0'], { cwd: base, stdio: 'pipe' });
  // What the README tells users to put in the tree: the loaders, and the installer kernel (a stand-in).
  copyFileSync(need('/usr/lib/PXELINUX/pxelinux.0', 'pxelinux'), join(tree, 'tftp/pxelinux.0'));
  copyFileSync(need('/usr/lib/syslinux/modules/bios/ldlinux.c32', 'syslinux-common'), join(tree, 'tftp/ldlinux.c32'));
  // The DVD's EFI/BOOT/BOOTX64.EFI (shim) as tftp/shimx64.efi, its grubx64.efi beside it.
  copyFileSync(need(SHIM_SIGNED, 'shim-signed'), join(tree, 'tftp/shimx64.efi'));
  need('/usr/lib/grub/x86_64-efi/linuxefi.mod', 'grub-efi-amd64-bin');
  // Without Secure Boot: a GRUB with the modules the entries use (CentOS's has them built in; the check below holds the entries to CentOS's set).
  execFileSync(requireTool('grub-mkimage'), ['-O', 'x86_64-efi', '-o', GRUB_MKIMAGE, '-p', '/', 'efinet', 'tftp', 'net', 'normal', 'linuxefi', 'linux', 'boot', 'configfile', 'echo', 'test', 'search', 'search_fs_file', 'part_gpt', 'fat', 'chain', 'minicmd']);
  copyFileSync(GRUB_MKIMAGE, join(tree, 'tftp/grubx64.efi'));
  // Debian's signed netboot GRUB reads only $prefix/grub.cfg ((tftp,<server>)/grub/grub.cfg): name the MAC's file there.
  mkdirSync(join(tree, 'tftp/grub'));
  writeFileSync(join(tree, 'tftp/grub/grub.cfg'), `configfile /grub.cfg-${MACFILE}\n`);
  for (const d of ['tftp/centos7', 'http/centos7/images/pxeboot']) {
    mkdirSync(join(tree, d), { recursive: true });
    copyFileSync(need(KERNEL, 'debian-installer-12-netboot-amd64'), join(tree, d, 'vmlinuz'));
    writeFileSync(join(tree, d, 'initrd.img'), 'not an initrd\n');
  }
  // The TFTP chain without iPXE: pxelinux for BIOS, shim + GRUB for UEFI (what Secure Boot nodes keep,
  // pxe --secure-boot); QEMU's NIC ROM is iPXE, so this config does not tell iPXE apart (no user class, no option 175).
  writeFileSync(
    join(tree, 'dnsmasq-plain.conf'),
    readFileSync(join(tree, 'dnsmasq.conf'), 'utf8')
      .replace(/^dhcp-userclass=.*\n/m, '')
      .replace(/^dhcp-match=set:ipxe,175\n/m, '')
      .replace(/^dhcp-boot=tag:!efi64,tag:!ipxe,undionly\.kpxe$/m, 'dhcp-boot=tag:!efi64,tag:!ipxe,pxelinux.0')
      .replace(/^dhcp-boot=tag:efi64,tag:!sb,tag:!ipxe,ipxe\.efi$/m, 'dhcp-boot=tag:efi64,tag:!sb,tag:!ipxe,shimx64.efi')
      // What pxe --log-dhcp writes: the boot file named in each answer, in the log.
      .replace(/^# log-dhcp is off.*$/m, 'log-dhcp'),
  );
  // What `pxe --secure-boot node01` writes (test/pxe/relay.test.ts): node01's UEFI firmware gets shim, iPXE still boot.ipxe.
  writeFileSync(join(tree, 'dnsmasq-sb.conf'), readFileSync(join(tree, 'dnsmasq.conf'), 'utf8').replace(/^(dhcp-host=52:54:00:00:00:11,set:net1),/m, '$1,set:sb,'));
  assert.match(readFileSync(join(tree, 'dnsmasq-sb.conf'), 'utf8'), /^dhcp-host=52:54:00:00:00:11,set:net1,set:sb,10\.78\.0\.11,node01$/m);
  for (let d = base; d !== '/' && d !== '/tmp'; d = join(d, '..')) chmodSync(d, statSync(d).mode | 0o755);
  openUp(tree);
  makeDisk(DISK, true);
  makeDisk(DISK_NO_CENTOS, false);
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

/** Before booting a GRUB entry: CentOS 7.9's signed grubx64.efi could run it (Debian's GRUB would run more). */
function assertCentosGrub(path: string): void {
  const text = readFileSync(path, 'utf8');
  const r = spawnSync(requireTool('grub-script-check'), [path], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${path}: ${r.stderr}`);
  assert.deepEqual(unknownGrubCommands(text), [], `${path} uses commands CentOS 7.9's GRUB does not have`);
}

type Firmware = 'bios' | 'uefi' | 'uefi-secureboot';
interface BootOpts {
  /** The NIC's option ROM: iPXE (QEMU's default, a PXE ROM for SeaBIOS and an EFI driver for OVMF) or none (OVMF's own UEFI PXE). */
  ipxeRom?: boolean;
  /** A disk image, after the NIC in the boot order. */
  disk?: string;
  /** A second NIC (no cable) ahead of the booting one on the PCI bus: iPXE's net0, while the boot NIC is net1. */
  otherNicFirst?: boolean;
  ms?: number;
}

/** Boot once; resolve when `until` matches the serial console (or the SeaBIOS debug log), or after `ms`. */
async function boot(firmware: Firmware, conf: string, until: RegExp, o: BootOpts = {}): Promise<{ serial: string; bios: string; dnsmasq: string; seconds: number }> {
  const tag = `${firmware}-${conf}-${Date.now()}`;
  const serial = join(base, `${tag}.serial`);
  const bios = join(base, `${tag}.bios`);
  const log = join(base, `${tag}.dnsmasq`);
  writeFileSync(serial, '');
  writeFileSync(log, '');
  const uid = Number(execFileSync('id', ['-u', 'dnsmasq'], { encoding: 'utf8' }).trim());
  chownSync(log, uid, -1);
  // As Debian's init runs it: -u dnsmasq (it binds as root, then drops to that user before serving).
  const dns = daemon([requireTool('dnsmasq'), '-k', '-C', join(tree, conf), `--interface=${TAP}`, '-u', 'dnsmasq', '--pid-file=', `--dhcp-leasefile=${join(base, `${tag}.leases`)}`, `--log-facility=${log}`]);
  await new Promise((r) => setTimeout(r, 700));
  const child = readFileSync(`/proc/${dns.pid}/status`, 'utf8');
  assert.match(child, new RegExp(`^Uid:\\s+${uid}\\s`, 'm'), 'dnsmasq runs as the dnsmasq user');
  const vars = join(base, `${tag}.vars`);
  const fw =
    firmware === 'bios'
      ? ['-chardev', `file,id=sb,path=${bios}`, '-device', 'isa-debugcon,iobase=0x402,chardev=sb']
      : firmware === 'uefi'
        ? (copyFileSync(need('/usr/share/OVMF/OVMF_VARS_4M.fd', 'ovmf'), vars),
          ['-machine', 'q35', '-drive', `if=pflash,format=raw,readonly=on,file=${need('/usr/share/OVMF/OVMF_CODE_4M.fd', 'ovmf')}`, '-drive', `if=pflash,format=raw,file=${vars}`])
        : // Secure Boot enforced: the secboot build (SMM-protected variables) and the variable store with Microsoft's keys enrolled.
          (copyFileSync(need('/usr/share/OVMF/OVMF_VARS_4M.ms.fd', 'ovmf'), vars),
          ['-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on', '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${need('/usr/share/OVMF/OVMF_CODE_4M.secboot.fd', 'ovmf')}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`]);
  const ipxeRom = o.ipxeRom ?? firmware === 'bios';
  if (ipxeRom) need('/usr/lib/ipxe/qemu/efi-virtio.rom', 'ipxe-qemu');
  const rom = ipxeRom ? '' : ',romfile=';
  const other = o.otherNicFirst ? ['-device', 'virtio-net-pci,mac=52:54:00:00:00:99,addr=0x4,romfile='] : [];
  const disk = o.disk ? ['-drive', `if=none,id=d0,format=raw,readonly=on,file=${o.disk}`, '-device', 'virtio-blk-pci,drive=d0,bootindex=2'] : [];
  const t0 = Date.now();
  const q = daemon([requireTool('qemu-system-x86_64'), '-accel', 'tcg', '-m', '512', '-display', 'none', '-no-reboot', '-serial', `file:${serial}`, ...fw, '-netdev', `tap,id=n0,ifname=${TAP},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n0,mac=${MAC},bootindex=1${o.otherNicFirst ? ',addr=0x5' : ''}${rom}`, ...other, ...disk]);
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'latin1') : '');
  const ms = o.ms ?? 120000;
  while (Date.now() - t0 < ms && !until.test(read(serial)) && !until.test(read(bios)) && q.exitCode === null) await new Promise((r) => setTimeout(r, 500));
  const seconds = Math.round((Date.now() - t0) / 1000);
  await stop(q);
  await stop(dns);
  return { serial: read(serial), bios: read(bios), dnsmasq: read(log), seconds };
}

// The node's command line: ip= names no device (dracut 033 applies it to the NIC BOOTIF names).
const CMDLINE = /Command line: .*inst\.ks=http:\/\/10\.78\.0\.1:8080\/ks\/node01\.cfg .*ip=10\.78\.0\.11::10\.78\.0\.1:255\.255\.255\.0:node01::none .*BOOTIF=01-52-54-00-00-00-11/;
const sent = (file: string) => new RegExp(`sent .*tftp/${file.replaceAll('.', '\\.')} to 10\\.78\\.0\\.11`);

test('SeaBIOS + iPXE ROM, as a plain PXE client: pxelinux picks the MAC\'s entry and boots the installer kernel with its kickstart', { timeout: 200000 }, async () => {
  const r = await boot('bios', 'dnsmasq-plain.conf', CMDLINE);
  assert.match(r.serial, CMDLINE, r.dnsmasq);
  assert.match(r.dnsmasq, sent(`pxelinux.cfg/${MACFILE}`));
});

test('OVMF (UEFI PXE, Secure Boot off): DHCP names shim, shim loads grubx64.efi, GRUB finds grub.cfg-01-<mac> and linuxefi boots the node\'s command line', { timeout: 200000 }, async () => {
  assertCentosGrub(join(tree, `tftp/grub.cfg-${MACFILE}`));
  assert.match(readFileSync(join(tree, `tftp/grub.cfg-${MACFILE}`), 'utf8'), /^ {2}linuxefi \/centos7\/vmlinuz /m);
  copyFileSync(GRUB_MKIMAGE, join(tree, 'tftp/grubx64.efi'));
  const r = await boot('uefi', 'dnsmasq-plain.conf', CMDLINE);
  assert.match(r.serial, CMDLINE, r.dnsmasq);
  assert.match(r.dnsmasq, /bootfile-name +shimx64\.efi/);
  for (const f of ['shimx64.efi', 'grubx64.efi', `grub.cfg-${MACFILE}`]) assert.match(r.dnsmasq, sent(f), f);
});

test('OVMF with Secure Boot enforced: Microsoft-signed shim -> Debian-signed GRUB -> the MAC\'s entry -> Debian-signed kernel', { timeout: 200000 }, async () => {
  assertCentosGrub(join(tree, `tftp/grub.cfg-${MACFILE}`));
  copyFileSync(need(GRUB_SIGNED, 'grub-efi-amd64-signed'), join(tree, 'tftp/grubx64.efi'));
  chmodSync(join(tree, 'tftp/grubx64.efi'), 0o644);
  try {
    // Wait for all three lines: the kernel prints the Secure Boot ones after its command line, and
    // stopping at the first one raced them (seen when the machine was busy).
    const all = new RegExp(`^(?=[\\s\\S]*${CMDLINE.source})(?=[\\s\\S]*secureboot: Secure boot enabled)(?=[\\s\\S]*Kernel is locked down from EFI Secure Boot)`);
    const r = await boot('uefi-secureboot', 'dnsmasq-plain.conf', all);
    assert.match(r.serial, CMDLINE, r.dnsmasq);
    assert.match(r.serial, /secureboot: Secure boot enabled/);
    assert.match(r.serial, /Kernel is locked down from EFI Secure Boot/);
    for (const f of ['shimx64.efi', 'grubx64.efi', 'grub/grub.cfg', `grub.cfg-${MACFILE}`, 'centos7/vmlinuz']) assert.match(r.dnsmasq, sent(f), f);
  } finally {
    copyFileSync(GRUB_MKIMAGE, join(tree, 'tftp/grubx64.efi'));
  }
});

test('OVMF\'s own UEFI PXE (Secure Boot off), as generated: only ipxe.efi over TFTP; iPXE asks again, gets boot.ipxe and fetches the kernel over HTTP from serve', { timeout: 200000 }, async () => {
  const serve = daemon([process.execPath, join(packageRoot, 'dist/src/cli.js'), 'serve', '--dir', tree, '--listen', '10.78.0.1:8080']);
  let log = '';
  serve.stderr!.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !log.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
  try {
    const r = await boot('uefi', 'dnsmasq.conf', CMDLINE);
    assert.match(r.serial, CMDLINE, `${r.dnsmasq}\n${log}`);
    assert.match(r.dnsmasq, sent('ipxe.efi'), 'the firmware fetched iPXE over TFTP');
    assert.doesNotMatch(r.dnsmasq, /sent .*(vmlinuz|initrd|grub|shim)/, 'and nothing else over TFTP');
    assert.match(log, /10\.78\.0\.11 GET \/boot\.ipxe 200[\s\S]*GET \/ipxe\/01-52-54-00-00-00-11\.ipxe 200[\s\S]*GET \/centos7\/images\/pxeboot\/vmlinuz 200/, log);
  } finally {
    await stop(serve);
  }
});

test('iPXE over HTTP from k8s-image serve; then the signed install report sends the next boot to the local disk: SeaBIOS, OVMF through GRUB, OVMF through iPXE', { timeout: 600000 }, async () => {
  const serve = daemon([process.execPath, join(packageRoot, 'dist/src/cli.js'), 'serve', '--dir', tree, '--listen', '10.78.0.1:8080']);
  let log = '';
  serve.stderr!.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !log.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
  // Two NICs, the booting one second on the bus: iPXE's net0 is the other one (with `${net0/mac}`
  // this machine asked for 01-52-54-00-00-00-99.ipxe, got 404 and never installed); boot.ipxe asks
  // for the entry of the NIC that booted (netX).
  const r = await boot('bios', 'dnsmasq.conf', CMDLINE, { otherNicFirst: true });
  assert.match(r.serial, CMDLINE, log);
  assert.match(log, /10\.78\.0\.11 GET \/ipxe\/01-52-54-00-00-00-11\.ipxe 200/);
  assert.doesNotMatch(log, /01-52-54-00-00-00-99/);
  assert.match(log, /10\.78\.0\.11 GET \/centos7\/images\/pxeboot\/vmlinuz 200/);

  // The kickstart's last step, as the node sends it.
  const key = (JSON.parse(readFileSync(join(tree, 'report-keys.json'), 'utf8')) as Record<string, string>).node01!;
  const time = String(Math.floor(Date.now() / 1000));
  const body = signedReportBody(key, { node: 'node01', stage: 'installed', time: Number(time), nonce: '0123456789abcdef0123456789abcdef' });
  const post = spawnSync(requireTool('ip'), ['netns', 'exec', NS, requireTool('curl'), '-fsS', '-d', body, 'http://10.78.0.1:8080/report'], { encoding: 'utf8' });
  assert.equal(post.status, 0, post.stderr);
  const local = await boot('bios', 'dnsmasq-plain.conf', /Booting from Hard Disk|No bootable device/, { ms: 120000 });
  assert.match(local.dnsmasq, sent(`pxelinux.cfg/${MACFILE}`), 'pxelinux still asks for its entry');
  assert.doesNotMatch(local.dnsmasq, /vmlinuz/, 'but no installer kernel is fetched');
  assert.doesNotMatch(local.serial, /Command line/);
  assert.match(local.bios, /Booting from Hard Disk|No bootable device/, 'the firmware goes on to the local disk');

  // UEFI: what serve wrote is an entry CentOS 7's GRUB runs; it chainloads the disk's own loader.
  assertCentosGrub(join(tree, `tftp/grub.cfg-${MACFILE}`));
  const MARK = /K8SI-DISK-LOADER-\w+/;
  const grub = await boot('uefi', 'dnsmasq-plain.conf', MARK, { disk: DISK });
  assert.match(grub.serial, /k8s-image: booting the local disk: \(hd0,gpt1\)\/EFI\/centos\/shimx64\.efi/, grub.serial.slice(-3000));
  assert.match(grub.serial, /K8SI-DISK-LOADER-centos/, 'GRUB started the installed system\'s \\EFI\\centos\\shimx64.efi');
  assert.doesNotMatch(grub.serial, /Command line|UiApp/);
  assert.doesNotMatch(grub.dnsmasq, /vmlinuz/);
  // A disk with only the removable-media path: the entry's second choice.
  const removable = await boot('uefi', 'dnsmasq-plain.conf', MARK, { disk: DISK_NO_CENTOS });
  assert.match(removable.serial, /k8s-image: booting the local disk: \(hd0,gpt1\)\/EFI\/BOOT\/BOOTX64\.EFI[\s\S]*K8SI-DISK-LOADER-BOOT/, removable.serial.slice(-3000));

  // iPXE's UEFI ROM: its local entry exits with an error, so BDS goes on to the next boot option
  // (here OVMF's own UEFI PXE; node01 is a Secure Boot node in dnsmasq-sb.conf, so it gets shim and
  // GRUB's entry chainloads the disk; a bare `exit`, status 0, would make iPXE's LoadFile return
  // EFI_SUCCESS and BDS open its boot manager menu).
  const ipxe = await boot('uefi', 'dnsmasq-sb.conf', MARK, { disk: DISK, ipxeRom: true, ms: 180000 });
  assert.match(log, /10\.78\.0\.11 GET \/boot\.ipxe 200[\s\S]*10\.78\.0\.11 GET \/ipxe\/01-52-54-00-00-00-11\.ipxe 200[\s\S]*10\.78\.0\.11 GET \/boot\.ipxe 200[\s\S]*10\.78\.0\.11 GET \/ipxe\/01-52-54-00-00-00-11\.ipxe 200/, log);
  assert.match(ipxe.serial, /Could not boot: Error 0x00000001/, 'iPXE ran the local entry: exit 1');
  // The NIC's iPXE boot option failed (an EFI_SUCCESS would have opened the firmware's menu); BDS went on.
  assert.match(ipxe.serial, /BdsDxe: failed to load Boot\d+ "UEFI PXEv4 \(MAC:525400000011\)" from PciRoot\(0x0\)\/Pci\(0x2,0x0\)\/MAC\(525400000011,0x1\):/);
  assert.match(ipxe.serial, /K8SI-DISK-LOADER-centos/, ipxe.serial.slice(-3000));
  assert.doesNotMatch(ipxe.serial, /Command line|UiApp/);
  await stop(serve);
});
