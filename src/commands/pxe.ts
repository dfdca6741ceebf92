import { chmod, copyFile, link, lstat, mkdir, mkdtemp, readdir, readlink, rename, rm, symlink, writeFile, stat } from 'node:fs/promises';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { openIso } from '../iso/reader.js';
import { installerProblem } from '../iso/installer.js';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { patterns } from '../config/index.js';
import { acquireLock, atPath, cleanStale, makeDir, stagingPrefix, swapIntoPlace, writeArtifacts } from '../output/index.js';
import { entryPaths, installEntries, PROXY_UEFI_LIMIT, renderPxe, serveBehindNginx, type PxeOptions } from '../pxe/index.js';
import type { Artifact } from '../artifact.js';
import type { Node } from '../config/index.js';
import { loadSecretsFor, readConfig, warnNodes, type Output } from './common.js';
import { table } from './validate.js';

export interface PxeCommandOptions {
  config?: string;
  out?: string;
  server?: string;
  repo?: string;
  kernelArg?: string[];
  installer?: string;
  loaders?: string;
  reinstall?: string[];
  /** Where serve keeps the reported installs (serve --state); default <tree>.state. */
  state?: string;
  json?: boolean;
  /** dnsmasq's log-dhcp (off by default). */
  logDhcp?: boolean;
  /** UEFI nodes that keep shim + GRUB (Secure Boot on): true for all, or names. */
  secureBoot?: boolean | string[];
  newCa?: boolean;
  secrets?: string;
}

/** Where a cluster's PXE tree lives, and beside it the state `serve` keeps (reported installs). */
export const pxeDirs = (outDir: string, cluster: string) => ({ tree: join(outDir, `${cluster}-pxe`), state: join(outDir, `${cluster}-pxe.state`) });

const KERNEL_ARG = /^[A-Za-z0-9_.,:=\/+-]{1,200}$/;

async function installedNodes(stateDir: string): Promise<Set<string>> {
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

async function copyInstaller(installer: string, stage: string, provided: Map<string, string>): Promise<void> {
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
async function makeOutDir(outDir: string): Promise<void> {
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
const LOADERS: { name: string; aliases: string[]; host: string[]; get: string }[] = [
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
const IPXE_LOADERS: { name: string; host: string[]; get: string }[] = ['undionly.kpxe', 'ipxe.efi'].map((name) => ({
  name,
  host: IPXE_DIRS,
  get: `iPXE's ${name} (BIOS and UEFI clients chain to iPXE, which fetches the kernel and initrd over HTTP): apt-get install ipxe (Debian, ${IPXE_DIRS[0]}) or yum install ipxe-bootimgs (CentOS, ${IPXE_DIRS[1]}), or --loaders DIR holding it`,
}));
/** Other loaders --loaders DIR copies when it has them (lpxelinux, iPXE's snponly). */
const OPTIONAL_LOADERS = ['lpxelinux.0', 'snponly.efi'];

/** Copy the loaders DIR has into the stage's tftp/; returns how many. */
async function copyLoaders(dir: string, stage: string, provided: Map<string, string>): Promise<number> {
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
async function carryOver(oldTree: string, stage: string): Promise<string[]> {
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
async function hostLoaders(stage: string, provided: Map<string, string>): Promise<void> {
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
const withTreeModes = (artifacts: Artifact[]): Artifact[] => artifacts.map((a) => (SECRET_IN_TREE.test(a.path) && a.mode !== 0o600 ? { ...a, mode: 0o600, secret: true } : a));

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

/** `k8s-image pxe`: the PXE tree of every node with a MAC; `--reinstall NODE` puts a node's install entries back. */
export async function pxe(opts: PxeCommandOptions, out: Output): Promise<void> {
  const loaded = readConfig(opts.config);
  for (const w of loaded.warnings) out.warn(w);
  const { cluster } = loaded;
  const outDir = opts.out ?? 'outputs';
  const dirs = pxeDirs(outDir, cluster.name);
  const tree = dirs.tree;
  // serve --state DIR: the same directory, so --reinstall clears the marker serve reads.
  const state = opts.state ?? dirs.state;
  const problems: string[] = [];
  if (!opts.server) problems.push('--server: missing: give the farm server as the nodes reach it, host[:port] (e.g. --server 192.168.108.1:8080)');
  else if (!patterns.HOST_PORT.test(opts.server)) problems.push(`--server ${opts.server}: expected host[:port], like 192.168.108.1:8080`);
  else {
    const p = serverProblem(opts.server, cluster.nodes);
    if (p) problems.push(p);
  }
  if (opts.repo && !patterns.HTTP_URL.test(opts.repo)) problems.push(`--repo ${opts.repo}: expected an http(s) URL of a CentOS 7 tree`);
  for (const a of opts.kernelArg ?? []) if (!KERNEL_ARG.test(a)) problems.push(`--kernel-arg ${JSON.stringify(a)}: one word of letters, digits and _.,:=/+- (like console=ttyS0,115200)`);
  const secureBoot = Array.isArray(opts.secureBoot) && opts.secureBoot.length ? opts.secureBoot : opts.secureBoot ? 'all' : undefined;
  for (const n of Array.isArray(secureBoot) ? secureBoot : []) if (!cluster.nodes.some((x) => x.name === n && x.mac)) problems.push(`--secure-boot ${n}: no node ${n} with a mac in cluster ${cluster.name}; name nodes of the config, or give --secure-boot alone for every UEFI node`);
  for (const n of opts.reinstall ?? []) if (!cluster.nodes.some((x) => x.name === n && x.mac)) problems.push(`--reinstall ${n}: no node ${n} with a mac in cluster ${cluster.name}`);
  // Checked before anything is made: a directory or image without the installer kernel leaves nothing behind.
  const installerWrong = opts.installer === undefined ? undefined : installerProblem(opts.installer);
  if (installerWrong) problems.push(installerWrong);
  if (opts.loaders !== undefined && !(existsSync(opts.loaders) && statSync(opts.loaders).isDirectory())) problems.push(`--loaders ${opts.loaders}: not a directory; give the directory holding pxelinux.0, ldlinux.c32, shimx64.efi, grubx64.efi (any of them)`);
  if (opts.state !== undefined && existsSync(opts.state) && !statSync(opts.state).isDirectory()) problems.push(`--state ${opts.state}: not a directory; give the directory serve --state uses`);
  if (problems.length) throw new UserError(problems);
  const pxeOpts: PxeOptions = { server: opts.server!, repo: opts.repo, kernelArgs: opts.kernelArg ?? [], logDhcp: !!opts.logDhcp, secureBoot };
  // Before anything is created; new secrets reach the disk only with the tree (persist below).
  // --reinstall changes entries only: it needs no secrets, and must never mint any.
  const sec = opts.reinstall?.length ? undefined : await loadSecretsFor(loaded, { out: opts.out, newCa: opts.newCa, secrets: opts.secrets }, out);

  await makeOutDir(outDir);
  for (const w of await unsearchable(outDir)) out.warn(w);
  const lock = await acquireLock(outDir, `${cluster.name}-pxe`, { onWait: (h) => out.info(`waiting for another pxe run (${h})`) });
  try {
    // An interrupted earlier run's staging folder holds secrets: remove it (the lock says it is not in use).
    for (const what of await cleanStale(outDir, `${cluster.name}-pxe`)) out.warn(what);
    if (!sec) {
      // Only the entries change: the rest of the tree (and the farm's other nodes) stay as they are.
      if (!existsSync(join(tree, 'pxe.json'))) throw new UserError(`${tree}: no PXE tree; run k8s-image pxe --server ... first`);
      for (const name of opts.reinstall ?? []) {
        const node = cluster.nodes.find((n) => n.name === name)!;
        await rm(join(state, 'installed', name), { force: true });
        const e = installEntries(cluster, node, pxeOpts);
        const p = entryPaths(node);
        for (const [path, text] of [[p.pxelinux, e.pxelinux], [p.grub, e.grub], [p.ipxe, e.ipxe]] as const) {
          const target = join(tree, path);
          await atPath(target, writeFile(`${target}.tmp`, text, { mode: 0o644 }));
          // The umask masks writeFile's mode (077 would leave it 0600, which dnsmasq cannot serve).
          await chmod(`${target}.tmp`, 0o644);
          await rename(`${target}.tmp`, target);
        }
        out.info(`${name} (${node.mac}) installs again at its next PXE boot (its install marker in ${join(state, 'installed')}/ cleared)`);
      }
      return;
    }
    const installed = await installedNodes(state);
    const rendered = renderPxe(cluster, sec.secrets, pxeOpts, resolve(tree), installed);
    warnNodes(
      out,
      rendered.skipped.map((s) => `${s.node.name}: not in the PXE tree: ${s.reason}`),
      rendered.skipped.map((s) => s.node.name),
      (count, names) => `${count} more nodes are not in the PXE tree for the same reason (${names}): give each its mac`,
    );
    if (rendered.skipped.length === cluster.nodes.length) throw new UserError(rendered.skipped.map((s) => s.reason));
    if (rendered.tooLong.length) throw new UserError(rendered.tooLong.map((s) => `${s.node.name}: ${s.reason}`));
    const stage = await mkdtemp(join(outDir, `${stagingPrefix(`${cluster.name}-pxe`)}${process.pid}-`));
    const provided = new Map<string, string>();
    let kept: string[];
    try {
      // mkdtemp makes it 0700: the tree's root must let dnsmasq and nginx (other users) in.
      await chmod(stage, 0o755);
      await writeArtifacts(stage, withTreeModes(rendered.artifacts));
      if (opts.installer) await copyInstaller(opts.installer, stage, provided);
      if (opts.loaders !== undefined && (await copyLoaders(opts.loaders, stage, provided)) === 0) {
        throw new UserError(`--loaders ${opts.loaders}: none of ${[...LOADERS.map((l) => l.name), 'BOOTX64.EFI', ...IPXE_LOADERS.map((l) => l.name), ...OPTIONAL_LOADERS].join(', ')} in it; give the directory that holds them`);
      }
      kept = await carryOver(tree, stage);
      await hostLoaders(stage, provided);
      // iPXE is the loader of every BIOS client and every UEFI one without Secure Boot: a tree without it boots nobody.
      const noIpxe = IPXE_LOADERS.filter((l) => !(l.name === 'ipxe.efi' && opts.secureBoot === true) && !existsSync(join(stage, 'tftp', l.name)));
      if (noIpxe.length) throw new UserError(noIpxe.map((l) => `missing tftp/${l.name}: ${l.get}`));
      sec.persist();
      await swapIntoPlace([{ staged: stage, target: tree }]);
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
    const nodes = cluster.nodes.filter((n) => n.mac);
    const has = (rel: string) => existsSync(join(tree, rel));
    const loaders = [...LOADERS, ...IPXE_LOADERS].map((l) => ({ file: `tftp/${l.name}`, present: has(`tftp/${l.name}`), from: provided.get(`tftp/${l.name}`) ?? (kept.includes(`tftp/${l.name}`) ? 'kept' : undefined), get: l.get }));
    const kernel = ['tftp/centos7/vmlinuz', 'tftp/centos7/initrd.img'].map((file) => ({ file, present: has(file) }));
    const back = serveBehindNginx(opts.server!).listen;
    if (opts.json) {
      out.result(
        JSON.stringify(
          {
            tree,
            state,
            server: opts.server,
            nodes: nodes.map((n) => ({ name: n.name, mac: n.mac, ip: n.ip, installed: installed.has(n.name), cloudImageCmdline: `cloud-image/${n.name}.cmdline` })),
            skipped: rendered.skipped.map((s) => ({ name: s.node.name, reason: s.reason })),
            loaders: loaders.map((l) => ({ file: l.file, present: l.present, ...(l.from ? { from: l.from } : {}), ...(l.present ? {} : { get: l.get }) })),
            kernel: kernel.map((k) => ({ file: k.file, present: k.present })),
            kept,
            secretsFile: sec.secretsPath,
            proxyDhcp: PROXY_UEFI_LIMIT,
            nginxSite: { file: 'nginx-k8s-image.conf', mode: '0600', why: 'it holds the proxy token (proxy-token) serve --trust-proxy checks; nginx reads it as root' },
          },
          null,
          2,
        ),
      );
      return;
    }
    out.result(`PXE tree of cluster ${cluster.name} in ${tree}/`);
    out.result(table(['NODE', 'MAC', 'IP', 'NEXT PXE BOOT'], nodes.map((n) => [n.name, n.mac!, n.ip, installed.has(n.name) ? 'local disk (installed)' : 'install'])));
    const present = loaders.filter((l) => l.present).map((l) => `${l.file.slice('tftp/'.length)} (${l.from === 'kept' ? 'kept from the previous tree' : l.from ? `from ${l.from}` : 'placed by you'})`);
    if (present.length) out.result(`boot loaders: ${present.join(', ')}`);
    for (const l of loaders.filter((x) => !x.present)) out.result(`missing ${l.file}: ${l.get}`);
    if (kernel.some((k) => !k.present)) out.result(`missing the installer kernel: pass --installer <CentOS 7 DVD> (the ISO image or its extracted tree), or copy its images/pxeboot/vmlinuz and initrd.img to ${tree}/tftp/centos7/ (and serve the DVD with serve --installer for iPXE)`);
    if (kept.length) out.result(`kept from the previous tree (not rendered by k8s-image): ${kept.length > 12 ? `${kept.slice(0, 12).join(', ')} and ${kept.length - 12} more` : kept.join(', ')}`);
    out.result(`secrets: ${sec.secretsPath} (the tree's seed/ and nocloud/ hold copies: serve hands them only to their node)`);
    out.result(`note: ${PROXY_UEFI_LIMIT}.`);
    const stateArg = opts.state !== undefined ? ` --state ${opts.state}` : '';
    out.result(`next: dnsmasq -k -C ${join(tree, 'dnsmasq.conf')}   and   k8s-image serve --dir ${tree}${stateArg} --listen 0.0.0.0:${opts.server!.split(':')[1] ?? '80'}`);
    out.result(`  or, with nginx serving the bulk (${join(tree, 'nginx-k8s-image.conf')}): k8s-image serve --dir ${tree}${stateArg} --listen ${back} --trust-proxy`);
    out.result(`  nginx-k8s-image.conf is 0600: it holds the proxy token (${join(tree, 'proxy-token')}) that serve --trust-proxy checks; nginx's master reads it as root`);
    out.result(`  cloud images that netboot: append ${join(tree, 'cloud-image')}/<node>.cmdline to the image's kernel command line (its static network and NoCloud seed; quote the ds= word in GRUB: ';' separates commands)`);
    out.result(`  the daemons read the tree as their own users (dnsmasq, www-data): keep it where they can traverse (not under /root)`);
  } finally {
    lock.release();
  }
}
