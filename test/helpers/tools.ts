import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Debian package of every external reader the tests run (CI installs them in .ci/run). */
export const DEBIAN_PACKAGE: Record<string, string> = {
  'cloud-init': 'cloud-init',
  shellcheck: 'shellcheck',
  bash: 'bash',
  isoinfo: 'genisoimage',
  isovfy: 'genisoimage',
  genisoimage: 'genisoimage',
  xorriso: 'xorriso',
  '7z': 'p7zip-full',
  blkid: 'util-linux (libblkid)',
  kubectl: 'kubernetes-client',
  'systemd-analyze': 'systemd',
  '/usr/bin/python3': 'python3 (with python3-pycdlib, python3-yaml, cloud-init)',
  'firewall-offline-cmd': 'firewalld',
  dnsmasq: 'dnsmasq',
  'grub-script-check': 'grub-common',
  nginx: 'nginx',
  ip: 'iproute2',
  busybox: 'busybox',
  tftp: 'tftp-hpa',
  curl: 'curl',
  'qemu-system-x86_64': 'qemu-system-x86',
  'grub-mkimage': 'grub-common (with grub-efi-amd64-bin)',
  chromium: 'chromium',
  packer: 'packer',
  mmd: 'mtools',
  mcopy: 'mtools',
  mtype: 'mtools',
  rpmbuild: 'rpm',
  rpm2cpio: 'rpm',
  cpio: 'cpio',
  createrepo_c: 'createrepo-c',
  dnf: 'dnf',
  'docker-registry': 'docker-registry',
  containerd: 'containerd',
  ctr: 'containerd',
  skopeo: 'skopeo',
  gpg: 'gpg',
};

function findOnPath(cmd: string): string | null {
  const dirs = cmd.includes('/') ? [''] : [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    const p = d === '' ? cmd : join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** The absolute path of a reader; a missing one fails the test with the Debian package to install (never a skip). */
export function requireTool(cmd: string): string {
  const found = findOnPath(cmd);
  if (found === null) {
    const pkg = DEBIAN_PACKAGE[cmd] ?? cmd;
    throw new Error(`${cmd} is not installed: install the Debian package ${pkg} (apt-get install ${pkg.split(' ')[0]})`);
  }
  return found;
}
