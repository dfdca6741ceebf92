/**
 * The PXE tree's files beyond what the renderer makes: the installer's kernel, initrd and stage2
 * copied (or linked) from the DVD, the boot loaders found on this host or given, what a previous
 * tree holds that must carry over, the modes that keep secrets 0600, and the checks on the server
 * address and output folder. `k8s-image pxe` calls these; it only parses, calls and summarises.
 */
import { chmod, copyFile, link, lstat, mkdir, readdir, readlink, symlink, stat } from 'node:fs/promises';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { dirname, join, resolve } from 'node:path';
import { openIso } from '../iso/reader.js';
import { UserError } from '../errors.js';
import { patterns } from '../config/index.js';
import { makeDir } from '../output/index.js';
import type { Artifact } from '../artifact.js';
import type { Node } from '../config/index.js';

export const KERNEL_ARG = /^[A-Za-z0-9_.,:=\/+-]{1,200}$/;

export async function installedNodes(stateDir: string): Promise<Set<string>> {
  try {
    return new Set((await readdir(join(stateDir, 'installed'))).filter((n) => patterns.LABEL.test(n)));
  } catch {
    return new Set();
  }
}

/** The installer's boot files in a CentOS 7 DVD (its ISO image, read in place, or its extracted tree) and where they go. */
const INSTALLER_FILES = [
  { from: 'images/pxeboot/vmlinuz', to: ['tftp/centos7/vmlinuz', 'http/centos7/images/pxeboot/vmlinuz'], required: true },
  { from: 'images/pxeboot/initrd.img', to: ['tftp/centos7/initrd.img', 'http/centos7/images/pxeboot/initrd.img'], required: true },
  { from: 'EFI/BOOT/grubx64.efi', to: ['tftp/grubx64.efi'], required: false },
  { from: 'EFI/BOOT/BOOTX64.EFI', to: ['tftp/shimx64.efi'], required: false },
];

export async function copyInstaller(installer: string, stage: string, provided: Map<string, string>): Promise<void> {
  const isDir = (await stat(installer)).isDirectory();
  const iso = isDir ? undefined : openIso(installer);
  try {
    for (const f of INSTALLER_FILES) {
      const entry = iso?.lookup(f.from);
      const present = iso ? entry !== undefined && !entry.isDir : existsSync(join(installer, f.from));
      if (!present) {
        if (f.required) throw new UserError(`--installer ${installer}: no ${f.from}; pass a CentOS 7 DVD image (CentOS-7-x86_64-DVD-2009.iso) or its extracted tree`);
        continue;
      }
      for (const to of f.to) {
        await mkdirs(stage, to);
        if (iso) await pipeline(createReadStream('', { fd: iso.fd, start: entry!.start, end: entry!.start + entry!.size - 1, autoClose: false }), createWriteStream(join(stage, to), { mode: 0o644 }));
        else await copyFile(join(installer, f.from), join(stage, to));
        // A DVD's files are often 0444 or 0600 (a copy keeps the source's mode): the daemons' users read 0644.
        await chmod(join(stage, to), 0o644);
        provided.set(to, '--installer');
      }
    }
  } finally {
    iso?.close();
  }
}

/**
 * mkdir -p of the out dir; what pxe creates is 0755 whatever the umask (dnsmasq's and nginx's users
 * traverse it). A directory that exists keeps its mode: unsearchable() says when it stops them.
 */
export async function makeOutDir(outDir: string): Promise<void> {
  const created: string[] = [];
  for (let d = resolve(outDir); !existsSync(d); d = dirname(d)) created.unshift(d);
  await makeDir(outDir, '--out');
  for (const d of created) await chmod(d, 0o755);
}

/**
 * The out dir and each ancestor up to / that other users (dnsmasq, nginx's www-data) cannot search
 * (no o+x), each with what to do: such a tree is served by nobody.
 */
export async function unsearchable(outDir: string): Promise<string[]> {
  const found: string[] = [];
  let d = resolve(outDir);
  for (;;) {
    const st = await stat(d).catch(() => undefined);
    if (st && (st.mode & 0o001) === 0) {
      found.push(`${d} is 0${(st.mode & 0o777).toString(8)}: dnsmasq and nginx (other users) cannot reach the PXE tree below it; chmod o+x ${d}, or write the tree elsewhere (-o DIR outside /root and other private homes)`);
    }
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return found.reverse();
}

/** mkdir -p of a file's parents under root, each 0755 whatever the umask (the daemons' users traverse them). */
async function mkdirs(root: string, rel: string): Promise<void> {
  const parts = rel.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const d = join(root, ...parts.slice(0, i));
    try {
      await mkdir(d);
      await chmod(d, 0o755);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * The boot loaders the tree needs in tftp/ and where they come from when the user gives none:
 * pxelinux from the build host's syslinux (Debian: pxelinux + syslinux-common; CentOS: syslinux),
 * the UEFI ones only from the CentOS DVD (shim and GRUB signed for CentOS's Secure Boot chain).
 */
export const LOADERS: { name: string; aliases: string[]; host: string[]; get: string }[] = [
  { name: 'pxelinux.0', aliases: [], host: ['/usr/lib/PXELINUX', '/usr/share/syslinux', '/usr/lib/syslinux'], get: 'apt-get install pxelinux (Debian) or yum install syslinux (CentOS), or --loaders DIR' },
  { name: 'ldlinux.c32', aliases: [], host: ['/usr/lib/syslinux/modules/bios', '/usr/share/syslinux'], get: 'pxelinux.0 6.x needs it (CentOS 7\'s syslinux 4 pxelinux.0 does not): apt-get install syslinux-common (Debian), or --loaders DIR' },
  { name: 'shimx64.efi', aliases: ['BOOTX64.EFI'], host: [], get: '--installer <CentOS 7 DVD> (its EFI/BOOT/BOOTX64.EFI) or --loaders DIR' },
  { name: 'grubx64.efi', aliases: [], host: [], get: '--installer <CentOS 7 DVD> (its EFI/BOOT/grubx64.efi) or --loaders DIR' },
];
/**
 * iPXE, the loader BIOS and UEFI (Secure Boot off) clients get over TFTP: it fetches the rest over
 * HTTP. Required: from --loaders DIR, the previous tree, or the build host's iPXE (Debian: ipxe,
 * /usr/lib/ipxe; CentOS 7: ipxe-bootimgs, /usr/share/ipxe).
 */
export const IPXE_DIRS = ['/usr/lib/ipxe', '/usr/share/ipxe'];
export const IPXE_LOADERS: { name: string; host: string[]; get: string }[] = ['undionly.kpxe', 'ipxe.efi'].map((name) => ({
  name,
  host: IPXE_DIRS,
  get: `iPXE's ${name} (BIOS and UEFI clients chain to iPXE, which fetches the kernel and initrd over HTTP): apt-get install ipxe (Debian, ${IPXE_DIRS[0]}) or yum install ipxe-bootimgs (CentOS, ${IPXE_DIRS[1]}), or --loaders DIR holding it`,
}));
/** Other loaders --loaders DIR copies when it has them (lpxelinux, iPXE's snponly). */
export const OPTIONAL_LOADERS = ['lpxelinux.0', 'snponly.efi'];

/** Copy the loaders DIR has into the stage's tftp/; returns how many. */
export async function copyLoaders(dir: string, stage: string, provided: Map<string, string>): Promise<number> {
  let n = 0;
  for (const { name, aliases } of [...LOADERS, ...[...IPXE_LOADERS.map((l) => l.name), ...OPTIONAL_LOADERS].map((name) => ({ name, aliases: [] as string[] }))]) {
    const to = `tftp/${name}`;
    if (provided.has(to)) continue; // --installer's own (the DVD's) win over a directory's
    const from = [name, ...aliases].map((f) => join(dir, f)).find((f) => existsSync(f));
    if (!from) continue;
    await mkdirs(stage, to);
    await copyFile(from, join(stage, to));
    await chmod(join(stage, to), 0o644);
    provided.set(to, `--loaders ${dir}`);
    n++;
  }
  return n;
}

/**
 * Paths the tool renders (fixed names and per-node names): they are never carried from an old tree,
 * so a node taken out of the farm leaves no entries or secrets behind. Everything else is the user's.
 */
const RENDERED = [
  /^(dnsmasq\.conf|dnsmasq-proxy\.conf|nginx-k8s-image\.conf|pxe\.json|report-keys\.json|proxy-token)$/,
  /^cloud-image\/[a-z0-9-]+\.cmdline$/,
  /^tftp\/pxelinux\.cfg\/(default|01(-[0-9a-f]{2}){6})$/,
  /^tftp\/grub\.cfg(-01(-[0-9a-f]{2}){6})?$/,
  /^http\/boot\.ipxe$/,
  /^http\/ipxe\/01(-[0-9a-f]{2}){6}\.ipxe$/,
  /^http\/ks\/[a-z0-9-]+\.cfg$/,
  /^http\/(seed|nocloud)\//,
];
const isRendered = (rel: string) => RENDERED.some((r) => r.test(rel));

/**
 * Carry the old tree's files the tool does not render (loaders, the installer's kernel and initrd,
 * anything the user placed) into the stage: hard links (no bytes copied; the old tree's removal
 * leaves them), a copy across file systems, symlinks as symlinks. One file at a time: two open files
 * at most. Files the stage already has (this run's --installer or --loaders) win.
 */
export async function carryOver(oldTree: string, stage: string): Promise<string[]> {
  const kept: string[] = [];
  async function walk(rel: string): Promise<void> {
    let entries;
    try {
      entries = (await readdir(join(oldTree, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return;
      throw e;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const from = join(oldTree, r);
      const to = join(stage, r);
      if (e.isDirectory()) {
        if (!isRendered(`${r}/`)) await walk(r);
        continue;
      }
      if (isRendered(r) || existsSync(to) || (await lstat(to).catch(() => undefined))) continue;
      await mkdirs(stage, r);
      if (e.isSymbolicLink()) await symlink(await readlink(from), to);
      else if (e.isFile()) {
        try {
          await link(from, to);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
          await copyFile(from, to);
          await chmod(to, (await stat(from)).mode & 0o7777);
        }
      } else continue; // sockets, fifos: nothing a daemon serves
      kept.push(r);
    }
  }
  await walk('');
  return kept;
}

/** Look for the loaders the stage still lacks on the build host (pxelinux only: see LOADERS). */
export async function hostLoaders(stage: string, provided: Map<string, string>): Promise<void> {
  for (const l of [...LOADERS, ...IPXE_LOADERS]) {
    const to = `tftp/${l.name}`;
    if (existsSync(join(stage, to))) continue;
    const from = l.host.map((d) => join(d, l.name)).find((f) => existsSync(f));
    if (!from) continue;
    await mkdirs(stage, to);
    await copyFile(from, join(stage, to));
    await chmod(join(stage, to), 0o644);
    provided.set(to, from);
  }
}

/** A node's secrets in the tree: only the user running serve reads them (nginx proxies them to serve). */
const SECRET_IN_TREE = /^http\/(seed\/|nocloud\/[^/]+\/user-data$)/;
export const withTreeModes = (artifacts: Artifact[]): Artifact[] => artifacts.map((a) => (SECRET_IN_TREE.test(a.path) && a.mode !== 0o600 ? { ...a, mode: 0o600, secret: true } : a));

const ipv4ToInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/** Why nodes cannot reach --server, or undefined: loopback, unspecified, multicast, broadcast, a bad port. */
export function serverProblem(server: string, nodes: Node[]): string | undefined {
  const [host, portText] = server.split(':') as [string, string | undefined];
  const like = 'give the farm server\'s address on the nodes\' network, like 10.20.0.1:8080';
  if (portText !== undefined) {
    const port = Number(portText);
    if (!(port >= 1 && port <= 65535)) return `--server ${server}: port ${portText} is out of range; a TCP port is 1-65535 (${like})`;
  }
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return `--server ${server}: ${host} is this machine's loopback name, which the nodes cannot reach; ${like}`;
  if (/^[0-9.]+$/.test(host)) {
    if (!isIPv4(host)) return `--server ${server}: ${host} is not an IPv4 address; ${like}`;
    const n = ipv4ToInt(host);
    const first = n >>> 24;
    const why =
      first === 127 ? 'a loopback address (127.0.0.0/8): each node would talk to itself'
      : first === 0 ? 'the unspecified address (0.0.0.0/8), a listening address, not one to connect to'
      : first >= 224 && first <= 239 ? 'a multicast address (224.0.0.0/4)'
      : n === 0xffffffff ? 'the broadcast address'
      : undefined;
    if (why) return `--server ${server}: ${host} is ${why}; ${like}`;
    for (const node of nodes) {
      const size = 2 ** (32 - node.prefix);
      const net = Math.floor(ipv4ToInt(node.ip) / size) * size;
      if (node.prefix < 31 && (n === net || n === net + size - 1)) return `--server ${server}: ${host} is the ${n === net ? 'network' : 'broadcast'} address of ${node.name}'s subnet ${node.ip}/${node.prefix}; ${like}`;
    }
  }
  return undefined;
}
