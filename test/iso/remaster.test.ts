// k8s-image remaster against a small bootable "CentOS 7 DVD" built here the way the real one is laid
// out (isolinux with Debian's isolinux.bin and menu.c32, a GRUB EFI image from Debian's
// grub-efi-amd64-bin in images/efiboot.img, the isohybrid MBR and GPT), with Debian's netboot kernel
// standing in for CentOS's. xorriso reports the boot records of the result; QEMU boots it with
// SeaBIOS and with OVMF, and the serial console shows the menus' default entry booted the kernel with
// the embedded kickstart.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/assets.js';
import { openIso } from '../../src/iso/reader.js';
import { editGrub, editIsolinux, xorrisoProgress } from '../../src/iso/remaster.js';
import { checkKickstart, shellcheck } from '../helpers/readers.js';
import { tempDir } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';
import { postSections } from '../render/fixtures.js';

const exec = promisify(execFile);
const cli = join(packageRoot, 'dist/src/cli.js');
const KERNEL = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/linux';
const LABEL = 'CentOS 7 x86_64';
const base = tempDir('k8s-image-remaster-');
const dvd = join(base, 'CentOS-7-x86_64-DVD-test.iso');
const out = join(base, 'node01-install.iso');
const KS = /Command line: .*inst\.stage2=hd:LABEL=CentOS\\x207\\x20x86_64 console=ttyS0 inst\.ks=hd:LABEL=CentOS\\x207\\x20x86_64:\/ks\.cfg/;

function need(path: string, pkg: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg}`);
  return path;
}

const ISOLINUX_CFG = `serial 0 115200
default vesamenu.c32
ui menu.c32
timeout 600
menu title CentOS 7

label linux
  menu label ^Install CentOS 7
  kernel vmlinuz
  append initrd=initrd.img inst.stage2=hd:LABEL=CentOS\\x207\\x20x86_64 console=ttyS0

label check
  menu label Test this ^media & install CentOS 7
  menu default
  kernel vmlinuz
  append initrd=initrd.img inst.stage2=hd:LABEL=CentOS\\x207\\x20x86_64 rd.live.check console=ttyS0

label rescue
  menu label ^Rescue a CentOS system
  kernel vmlinuz
  append initrd=initrd.img inst.stage2=hd:LABEL=CentOS\\x207\\x20x86_64 rescue console=ttyS0
`;

// CentOS's GRUB has linuxefi/initrdefi; Debian's has linux/initrd, which remaster edits alike.
const GRUB_CFG = `set default="1"

serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=60

search --no-floppy --set=root -l 'CentOS 7 x86_64'

menuentry 'Install CentOS 7' --class fedora --class gnu-linux --class gnu --class os {
\tlinux /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=CentOS\\x207\\x20x86_64 console=ttyS0
\tinitrd /images/pxeboot/initrd.img
}
menuentry 'Test this media & install CentOS 7' --class fedora --class gnu-linux --class gnu --class os {
\tlinux /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=CentOS\\x207\\x20x86_64 rd.live.check console=ttyS0
\tinitrd /images/pxeboot/initrd.img
}
`;

before(() => {
  const tree = join(base, 'dvd');
  const put = (p: string, content: string | Buffer) => {
    mkdirSync(join(tree, p, '..'), { recursive: true });
    writeFileSync(join(tree, p), content);
  };
  const kernel = readFileSync(need(KERNEL, 'debian-installer-12-netboot-amd64'));
  const bios = '/usr/lib/syslinux/modules/bios';
  put('isolinux/isolinux.bin', readFileSync(need('/usr/lib/ISOLINUX/isolinux.bin', 'isolinux')));
  for (const m of ['ldlinux.c32', 'menu.c32', 'libutil.c32', 'libcom32.c32']) put(`isolinux/${m}`, readFileSync(need(join(bios, m), 'syslinux-common')));
  put('isolinux/isolinux.cfg', ISOLINUX_CFG);
  put('isolinux/vmlinuz', kernel);
  put('isolinux/initrd.img', 'not an initrd\n');
  put('images/pxeboot/vmlinuz', kernel);
  put('images/pxeboot/initrd.img', 'not an initrd\n');
  put('EFI/BOOT/grub.cfg', GRUB_CFG);
  put('Packages/placeholder.rpm', Buffer.alloc(3 * 1024 * 1024, 7));
  // The EFI loader: finds the DVD by its label and reads its /EFI/BOOT/grub.cfg, as CentOS's does.
  const early = join(base, 'early.cfg');
  writeFileSync(early, `search --no-floppy --label --set=root '${LABEL}'\nset prefix=($root)/EFI/BOOT\nconfigfile $prefix/grub.cfg\n`);
  need('/usr/lib/grub/x86_64-efi/iso9660.mod', 'grub-efi-amd64-bin');
  const efi = join(base, 'BOOTX64.EFI');
  execFileSync(requireTool('grub-mkimage'), ['-O', 'x86_64-efi', '-o', efi, '-c', early, '-p', '/EFI/BOOT', 'iso9660', 'fat', 'part_gpt', 'part_msdos', 'normal', 'linux', 'configfile', 'search', 'search_label', 'echo', 'test', 'serial', 'terminal', 'boot']);
  put('EFI/BOOT/BOOTX64.EFI', readFileSync(efi));
  // images/efiboot.img: the FAT image the El Torito EFI record (and a USB stick's EFI partition) points at.
  const img = join(tree, 'images/efiboot.img');
  execFileSync(need('/usr/sbin/mkfs.vfat', 'dosfstools'), ['-C', '-n', 'ANACONDA', img, '4096'], { stdio: 'pipe' });
  execFileSync(requireTool('mmd'), ['-i', img, '::/EFI', '::/EFI/BOOT']);
  execFileSync(requireTool('mcopy'), ['-i', img, efi, '::/EFI/BOOT/BOOTX64.EFI']);
  writeFileSync(join(base, 'grub.cfg'), GRUB_CFG);
  execFileSync(requireTool('mcopy'), ['-i', img, join(base, 'grub.cfg'), '::/EFI/BOOT/grub.cfg']);
  execFileSync(requireTool('xorriso'), [
    '-as', 'mkisofs', '-quiet', '-o', dvd, '-V', LABEL, '-R', '-J',
    '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
    '-eltorito-alt-boot', '-e', 'images/efiboot.img', '-no-emul-boot',
    '-isohybrid-mbr', need('/usr/lib/ISOLINUX/isohdpfx.bin', 'isolinux'), '-isohybrid-gpt-basdat', tree,
  ], { stdio: 'pipe' });
  writeFileSync(join(base, 'lab.yaml'), 'not an ISO\n');
});

function report(iso: string, what: 'el_torito' | 'system_area'): string {
  return execFileSync(requireTool('xorriso'), ['-indev', iso, `-report_${what}`, 'plain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('the menus: a first entry, the default, that adds inst.ks= to the install entry; a short timeout; nothing else changed', () => {
  const ks = 'inst.ks=hd:LABEL=CentOS\\x207\\x20x86_64:/ks.cfg';
  const iso = editIsolinux(ISOLINUX_CFG, 'node01', ks);
  assert.match(iso, /\ntimeout 50\n/);
  assert.equal(iso.match(/menu default/g)!.length, 1);
  assert.match(iso, /label k8s-image\n  menu label \^Install CentOS 7 as node01 \(k8s-image kickstart\)\n  menu default\n  kernel vmlinuz\n  append initrd=initrd\.img inst\.stage2=hd:LABEL=CentOS\\x207\\x20x86_64 console=ttyS0 inst\.ks=hd:LABEL=CentOS\\x207\\x20x86_64:\/ks\.cfg\n\nlabel linux\n/);
  assert.ok(iso.includes('rd.live.check console=ttyS0\n'), 'the media check entry is still there, unchanged');
  const grub = editGrub(GRUB_CFG, 'node01', ks);
  assert.match(grub, /^set default="0"$/m);
  assert.match(grub, /^set timeout=5$/m);
  assert.ok(grub.indexOf("menuentry 'Install CentOS 7 as node01 (k8s-image kickstart)'") < grub.indexOf("menuentry 'Install CentOS 7' "));
  assert.match(grub, /\tlinux \/images\/pxeboot\/vmlinuz inst\.stage2=hd:LABEL=CentOS\\x207\\x20x86_64 console=ttyS0 inst\.ks=hd:LABEL=CentOS\\x207\\x20x86_64:\/ks\.cfg\n/);
  // A second remaster of a remastered menu does not stack entries' inst.ks=.
  assert.equal(editGrub(grub, 'node01', ks).match(/inst\.ks=/g)!.length, 2);
  // The real GRUB parses what we wrote.
  const f = join(base, 'check.cfg');
  writeFileSync(f, grub);
  const r = spawnSync(requireTool('grub-script-check'), [f], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('remaster keeps the BIOS and UEFI boot records and the hybrid MBR/GPT, and carries the kickstart and secret files (0600)', { timeout: 120000 }, async () => {
  const r = await exec(process.execPath, [cli, 'remaster', '--iso', dvd, '--node', 'node01', '-o', out, '--json'], { cwd: base });
  const res = JSON.parse(r.stdout);
  assert.deepEqual([res.volumeId, res.bios, res.uefi, res.efiboot], [LABEL, true, true, true]);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const before = report(dvd, 'el_torito');
  const after = report(out, 'el_torito');
  assert.match(after, /El Torito boot img :\s+1\s+BIOS\s+y/);
  assert.match(after, /El Torito boot img :\s+2\s+UEFI\s+y/);
  assert.match(after, /El Torito img path :\s+1\s+\/isolinux\/isolinux\.bin/);
  assert.match(after, /El Torito img path :\s+2\s+\/images\/efiboot\.img/);
  assert.equal(before.match(/boot img :/g)!.length, after.match(/boot img :/g)!.length);
  const summary = (iso: string) => /System area summary: (.*)/.exec(report(iso, 'system_area'))![1];
  assert.match(summary(out), /MBR isohybrid .*GPT/, 'the isohybrid MBR and GPT are kept: it boots from a USB stick');
  assert.equal(summary(out), summary(dvd));
  assert.match(report(out, 'system_area'), /MBR partition path :\s+2\s+\/images\/efiboot\.img/);
  // What is inside, read with our own reader and with Rock Ridge modes from isoinfo.
  const iso = openIso(out);
  try {
    assert.equal(iso.volumeId, LABEL, 'the label hd:LABEL= relies on is kept');
    const text = (p: string) => iso.read(iso.lookup(p)!).toString('utf8');
    const ks = text('ks.cfg');
    assert.deepEqual(checkKickstart(ks), []);
    for (const s of postSections(ks)) assert.deepEqual(await shellcheck(`#!/bin/bash\n${s.body}`, `remaster ${s.header}`), [], s.header);
    assert.match(ks, /^seed=\/run\/install\/repo$/m, 'the secret files come from the DVD itself, no OEMDRV');
    assert.doesNotMatch(ks, /by-label\/OEMDRV/);
    assert.match(text('k8s-image/etc/k8s-image/kubeadm.yaml'), /kind: JoinConfiguration/);
    assert.match(text('isolinux/isolinux.cfg'), /label k8s-image\n  menu label .*\n  menu default\n/);
    assert.match(text('EFI/BOOT/grub.cfg'), /^set default="0"$/m);
    assert.equal(iso.read(iso.lookup('Packages/placeholder.rpm')!).length, 3 * 1024 * 1024, 'the rest of the DVD is there');
  } finally {
    iso.close();
  }
  const modes = execFileSync(requireTool('isoinfo'), ['-R', '-l', '-i', out], { encoding: 'utf8' });
  assert.match(modes, /-rw------- .* kubeadm\.yaml/);
  // The UEFI menu inside efiboot.img (a USB stick's) is edited too.
  const img = join(base, 'efiboot-out.img');
  execFileSync(requireTool('xorriso'), ['-osirrox', 'on', '-indev', out, '-extract', '/images/efiboot.img', img], { stdio: 'pipe' });
  assert.match(execFileSync(requireTool('mtype'), ['-i', img, '::/EFI/BOOT/grub.cfg'], { encoding: 'utf8' }), /inst\.ks=hd:LABEL=CentOS\\x207\\x20x86_64:\/ks\.cfg/);
  // The DVD itself is untouched.
  assert.doesNotMatch(report(dvd, 'el_torito'), /k8s-image/);
  assert.ok(!openIso(dvd).lookup('ks.cfg'));
});

async function boot(firmware: 'bios' | 'uefi', until: RegExp, ms = Number(process.env.BOOT_MS ?? 180000)): Promise<string> {
  const serial = join(base, `${firmware}.serial`);
  writeFileSync(serial, '');
  const fw =
    firmware === 'bios'
      ? []
      : (() => {
          const vars = join(base, 'OVMF_VARS.fd');
          copyFileSync(need('/usr/share/OVMF/OVMF_VARS_4M.fd', 'ovmf'), vars);
          return ['-machine', 'q35', '-drive', `if=pflash,format=raw,readonly=on,file=${need('/usr/share/OVMF/OVMF_CODE_4M.fd', 'ovmf')}`, '-drive', `if=pflash,format=raw,file=${vars}`];
        })();
  const q = spawn(requireTool('qemu-system-x86_64'), ['-accel', 'tcg', '-m', '512', '-display', 'none', '-no-reboot', '-net', 'none', '-serial', `file:${serial}`, ...fw, '-cdrom', out, '-boot', 'd'], { stdio: 'ignore' });
  const t0 = Date.now();
  const read = () => readFileSync(serial, 'latin1');
  while (Date.now() - t0 < ms && !until.test(read()) && q.exitCode === null) await new Promise((r) => setTimeout(r, 500));
  q.kill('SIGKILL');
  return read();
}

test('SeaBIOS boots the remastered ISO: isolinux\'s default entry starts the installer kernel with the embedded kickstart', { timeout: 240000 }, async () => {
  const serial = await boot('bios', KS);
  assert.match(serial, KS, serial.split('\n').filter((l) => /Command line/.test(l)).join('\n') || serial.slice(-3000));
  assert.doesNotMatch(serial, /Command line: .*rd\.live\.check/);
});

test('OVMF (UEFI) boots it from its El Torito EFI image: GRUB\'s default entry does the same', { timeout: 240000 }, async () => {
  // GRUB's script reads \x20 as x20 in the DVD's own stage2 argument too: the kickstart's label is spelled as the DVD's.
  const KS_EFI = /Command line: .*inst\.stage2=hd:LABEL=(\S+) console=ttyS0 inst\.ks=hd:LABEL=\1:\/ks\.cfg/;
  const serial = await boot('uefi', KS_EFI);
  assert.match(serial, KS_EFI, serial.split('\n').filter((l) => /Command line/.test(l)).join('\n') || serial.slice(-3000));
  assert.match(serial, /\*Install CentOS 7 as node01 \(k8s-image kickstart\)/, 'the menu showed our entry as the default');
});

test("progress comes from xorriso's own pacifier lines", () => {
  // As xorriso 1.5 prints them while it writes a 300 MB image.
  const lines = 'xorriso : UPDATE :       1 nodes read in 1 seconds\nxorriso : UPDATE : Writing:      13072s    8.9%   fifo  99%  buf  50%\nxorriso : UPDATE : Writing:      74192s   50.6%   fifo  99%  buf  50%  180.5xD \n';
  assert.deepEqual(xorrisoProgress(lines), [8.9, 50.6]);
});

test('remaster without xorriso says which package to install', async () => {
  const r = await exec(process.execPath, [cli, 'remaster', '--iso', dvd, '--node', 'node01', '-o', join(base, 'x.iso')], { cwd: base, env: { PATH: '/nonexistent' } }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((r as { code: number }).code, 2);
  assert.match((r as { stderr: string }).stderr, /xorriso is not installed: .*apt-get install xorriso/);
  assert.ok(!existsSync(join(base, 'x.iso')));
  const bad = await exec(process.execPath, [cli, 'remaster', '--iso', join(base, 'lab.yaml'), '--node', 'nodeX'], { cwd: base }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((bad as { code: number }).code, 2);
  assert.match((bad as { stderr: string }).stderr, /--iso .*lab\.yaml: .*not an ISO 9660 image/);
  assert.match((bad as { stderr: string }).stderr, /--node nodeX: no such node/);
});

// remaster --bundle (mirrors.bundle: iso): the offline bundle on the DVD as /k8s-image-bundle/; the
// install finds the DVD by its own label, copies the bundle to the disk and installs from it; first
// boot, with no DVD any more, imports the images from that copy. The node side runs in the
// node-files sandbox (blkid/mount stand-ins modelled on util-linux 2.23), the DVD's files as 7z
// extracts them from the remastered image.
test('remaster --bundle: the bundle on the DVD, copied to the disk by the install, used again at first boot without the DVD', { timeout: 120000 }, async () => {
  const { makeSandbox, run, callsOf, calls } = await import('../node-files/sandbox.js');
  const bundle = join(base, 'bundle');
  mkdirSync(join(bundle, 'repo/repodata'), { recursive: true });
  mkdirSync(join(bundle, 'keys'));
  mkdirSync(join(bundle, 'images'));
  writeFileSync(join(bundle, 'repo/kubeadm-1.17.4-0.x86_64.rpm'), 'rpm');
  writeFileSync(join(bundle, 'repo/repodata/repomd.xml'), '<repomd/>\n');
  writeFileSync(join(bundle, 'keys/kubernetes-1.gpg'), 'key\n');
  const archive = Buffer.from('pause archive\n'.repeat(100));
  writeFileSync(join(bundle, 'images/pause_3.1.tar'), archive);
  const sha = (await import('node:crypto')).createHash('sha256').update(archive).digest('hex');
  const cfg = join(base, 'bundle-lab.yaml');
  writeFileSync(cfg, readFileSync(join(packageRoot, 'examples/lab.yaml'), 'utf8').replace(/^(  preset: aliyun.*)$/m, '$1\n  bundle: iso'));
  // What the cluster asks of a bundle (version, runtime, image repository, CNI images), as bundle would record it.
  const { readConfig } = await import('../../src/config/read.js');
  const { bundleWant } = await import('../../src/bundle/index.js');
  const want = bundleWant(readConfig(cfg).cluster);
  writeFileSync(join(bundle, 'images/index.txt'), `kubernetesVersion 1.17.4\nimageRepository ${want.imageRepository}\n${sha} pause_3.1.tar ${want.imageRepository}/pause:3.1\n`);
  writeFileSync(join(bundle, 'bundle.json'), JSON.stringify({ format: 'k8s-image-bundle/1', kubernetesVersion: want.kubernetesVersion, runtime: want.runtime, imageRepository: want.imageRepository, files: [], images: want.cniImages.map((name) => ({ name })), packages: [], keys: [] }));
  const bout = join(base, 'node01-bundle.iso');

  // Without mirrors.bundle: iso the nodes would not look for it: refused in one line, nothing written.
  const refused = await exec(process.execPath, [cli, 'remaster', '--iso', dvd, '--node', 'node01', '-o', bout, '--bundle', bundle], { cwd: base }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((refused as { code: number }).code, 2);
  assert.match((refused as { stderr: string }).stderr, /--bundle: the nodes read the bundle from a disc only with mirrors\.bundle: iso/);
  assert.ok(!existsSync(bout));

  const r = await exec(process.execPath, [cli, 'remaster', '-c', cfg, '--iso', dvd, '--node', 'node01', '-o', bout, '--bundle', bundle, '--json'], { cwd: base });
  assert.equal(JSON.parse(r.stdout).bundle, '/k8s-image-bundle/');
  const listing = execFileSync(requireTool('isoinfo'), ['-R', '-f', '-i', bout], { encoding: 'utf8' }).split('\n');
  for (const f of ['/k8s-image-bundle/bundle.json', '/k8s-image-bundle/images/index.txt', '/k8s-image-bundle/images/pause_3.1.tar', '/k8s-image-bundle/repo/repodata/repomd.xml', '/k8s-image-bundle/keys/kubernetes-1.gpg']) assert.ok(listing.includes(f), f);
  assert.match(report(bout, 'el_torito'), /El Torito boot img :\s+1\s+BIOS\s+y/, 'still boots');
  const iso = openIso(bout);
  let ks: string;
  try {
    ks = iso.read(iso.lookup('ks.cfg')!).toString('utf8');
  } finally {
    iso.close();
  }
  assert.deepEqual(checkKickstart(ks), []);
  assert.match(ks, /^BUNDLE_LABEL="CentOS 7 x86_64"\nBUNDLE_DIR=\/run\/k8s-image\/bundle\nBUNDLE_SUBDIR=k8s-image-bundle\nBUNDLE_COPY=\/var\/lib\/k8s-image\/bundle$/m);
  assert.match(ks, /^baseurl=file:\/\/\/run\/k8s-image\/bundle\/repo\/$/m);

  // The node: the installer's chroot, the DVD found by its own label.
  const dvdFiles = join(base, 'dvd-files');
  const x = spawnSync(requireTool('7z'), ['x', '-y', `-o${dvdFiles}`, bout], { encoding: 'utf8' });
  assert.equal(x.status, 0, x.stdout + x.stderr);
  const sb = makeSandbox('join');
  try {
    const mnt = join(sb.root, 'run/k8s-image/bundle');
    const copy = join(sb.root, 'var/lib/k8s-image/bundle');
    mkdirSync(join(sb.fake, 'labels'));
    writeFileSync(join(sb.fake, 'labels', LABEL), `${dvdFiles}\n`);
    const bundleEnv = [`BUNDLE_MOUNT=${join(packageRoot, 'node-files/bundle-mount.sh')}`, `BUNDLE_LABEL="${LABEL}"`, `BUNDLE_DIR=${mnt}`, 'BUNDLE_SUBDIR=k8s-image-bundle', `BUNDLE_COPY=${copy}`];
    writeFileSync(sb.p.installEnv, [
      'PACKAGES="kubeadm-1.17.4-0"', 'FIRSTBOOT_UNIT=k8s-image-firstboot.service', `INSTALL_MARKER=${sb.p.installMarker}`, `FSTAB=${join(sb.root, 'fstab')}`,
      `SELINUX_CONFIG=${join(sb.root, 'selinux')}`, `INSTALL_LOG=${join(sb.root, 'install.log')}`, ...bundleEnv, '',
    ].join('\n'));
    const inst = await run(sb, 'install.sh', {}, 20000);
    assert.equal(inst.code, 0, inst.stdout + inst.stderr);
    assert.ok(readFileSync(join(copy, 'images/pause_3.1.tar')).equals(archive), 'the bundle is on the disk');
    const order = calls(sb).map((c) => c.join(' ')).filter((c) => /^(mount|umount|yum) /.test(c));
    assert.deepEqual(order.map((c) => c.split(' ').slice(0, 2).join(' ')), ['mount -r', 'umount ' + mnt + '.disc', `mount --bind`, 'yum install', `umount ${mnt}`]);
    // The reboot: the DVD is gone, nothing is mounted; first boot's import binds the copy again.
    rmSync(join(sb.fake, 'labels', LABEL));
    writeFileSync(join(sb.fake, 'mounts'), '');
    const env = join(sb.p.etc, 'images.env');
    writeFileSync(env, [`BUNDLE_URL=file://${mnt}`, 'KUBERNETES_VERSION=1.17.4', 'RUNTIME_SERVICE=docker', `STATE_DIR=${sb.p.state}`, ...bundleEnv, ''].join('\n'));
    const imp = await run(sb, 'import-images.sh', { K8S_IMAGE_ENV: env });
    assert.equal(imp.code, 0, imp.stdout + imp.stderr);
    assert.deepEqual(callsOf(sb, 'docker', 'load').map((c) => c[3]!.split('/').at(-1)), ['pause_3.1.tar']);
    assert.match(imp.stderr, /bound the bundle's copy .* at /);
  } finally {
    sb.cleanup();
  }
});
