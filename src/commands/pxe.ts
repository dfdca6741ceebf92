import { copyFile, mkdir, mkdtemp, readdir, rename, rm, writeFile, stat } from 'node:fs/promises';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { openIso } from '../iso/reader.js';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { patterns } from '../config/index.js';
import { acquireLock, atPath, cleanStale, makeDir, stagingPrefix, swapIntoPlace, writeArtifacts } from '../output/index.js';
import { entryPaths, installEntries, renderPxe, type PxeOptions } from '../pxe/index.js';
import { loadSecretsFor, readConfig, type Output } from './common.js';
import { table } from './validate.js';

export interface PxeCommandOptions {
  config?: string;
  out?: string;
  server?: string;
  repo?: string;
  kernelArg?: string[];
  installer?: string;
  reinstall?: string[];
  json?: boolean;
  newCa?: boolean;
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

async function copyInstaller(installer: string, stage: string): Promise<void> {
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
        await mkdir(join(stage, to, '..'), { recursive: true });
        if (iso) await pipeline(createReadStream('', { fd: iso.fd, start: entry!.start, end: entry!.start + entry!.size - 1, autoClose: false }), createWriteStream(join(stage, to)));
        else await copyFile(join(installer, f.from), join(stage, to));
      }
    }
  } finally {
    iso?.close();
  }
}

/** `k8s-image pxe`: the PXE tree of every node with a MAC; `--reinstall NODE` puts a node's install entries back. */
export async function pxe(opts: PxeCommandOptions, out: Output): Promise<void> {
  const loaded = readConfig(opts.config);
  for (const w of loaded.warnings) out.warn(w);
  const { cluster } = loaded;
  const outDir = opts.out ?? 'outputs';
  const { tree, state } = pxeDirs(outDir, cluster.name);
  const problems: string[] = [];
  if (!opts.server) problems.push('--server: missing: give the farm server as the nodes reach it, host[:port] (e.g. --server 192.168.108.1:8080)');
  else if (!patterns.HOST_PORT.test(opts.server)) problems.push(`--server ${opts.server}: expected host[:port], like 192.168.108.1:8080`);
  if (opts.repo && !patterns.HTTP_URL.test(opts.repo)) problems.push(`--repo ${opts.repo}: expected an http(s) URL of a CentOS 7 tree`);
  for (const a of opts.kernelArg ?? []) if (!KERNEL_ARG.test(a)) problems.push(`--kernel-arg ${JSON.stringify(a)}: one word of letters, digits and _.,:=/+- (like console=ttyS0,115200)`);
  for (const n of opts.reinstall ?? []) if (!cluster.nodes.some((x) => x.name === n && x.mac)) problems.push(`--reinstall ${n}: no node ${n} with a mac in cluster ${cluster.name}`);
  if (opts.installer && !existsSync(opts.installer)) problems.push(`--installer ${opts.installer}: no such file or directory`);
  if (problems.length) throw new UserError(problems);
  const pxeOpts: PxeOptions = { server: opts.server!, repo: opts.repo, kernelArgs: opts.kernelArg ?? [] };

  await makeDir(outDir);
  const lock = await acquireLock(outDir, `${cluster.name}-pxe`, { onWait: (h) => out.info(`waiting for another pxe run (${h})`) });
  try {
    // An interrupted earlier run's staging folder holds secrets: remove it (the lock says it is not in use).
    for (const what of await cleanStale(outDir, `${cluster.name}-pxe`)) out.warn(what);
    const { secrets } = await loadSecretsFor(loaded, opts, out);
    if (opts.reinstall?.length) {
      // Only the entries change: the rest of the tree (and the farm's other nodes) stay as they are.
      if (!existsSync(join(tree, 'pxe.json'))) throw new UserError(`${tree}: no PXE tree; run k8s-image pxe --server ... first`);
      for (const name of opts.reinstall) {
        const node = cluster.nodes.find((n) => n.name === name)!;
        await rm(join(state, 'installed', name), { force: true });
        const e = installEntries(cluster, node, pxeOpts);
        const p = entryPaths(node);
        for (const [path, text] of [[p.pxelinux, e.pxelinux], [p.grub, e.grub], [p.ipxe, e.ipxe]] as const) {
          const target = join(tree, path);
          await atPath(target, writeFile(`${target}.tmp`, text, { mode: 0o644 }));
          await rename(`${target}.tmp`, target);
        }
        out.info(`${name} (${node.mac}) installs again at its next PXE boot`);
      }
      return;
    }
    const installed = await installedNodes(state);
    const rendered = renderPxe(cluster, secrets, pxeOpts, resolve(tree), installed);
    for (const s of rendered.skipped) out.warn(`${s.node.name}: not in the PXE tree: ${s.reason}`);
    if (rendered.skipped.length === cluster.nodes.length) throw new UserError(rendered.skipped.map((s) => s.reason));
    const stage = await mkdtemp(join(outDir, `${stagingPrefix(`${cluster.name}-pxe`)}${process.pid}-`));
    try {
      await writeArtifacts(stage, rendered.artifacts);
      if (opts.installer) await copyInstaller(opts.installer, stage);
      await swapIntoPlace([{ staged: stage, target: tree }]);
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
    const nodes = cluster.nodes.filter((n) => n.mac);
    if (opts.json) {
      out.result(JSON.stringify({ tree, state, server: opts.server, nodes: nodes.map((n) => ({ name: n.name, mac: n.mac, ip: n.ip, installed: installed.has(n.name) })), skipped: rendered.skipped.map((s) => ({ name: s.node.name, reason: s.reason })) }, null, 2));
      return;
    }
    out.result(`PXE tree of cluster ${cluster.name} in ${tree}/`);
    out.result(table(['NODE', 'MAC', 'IP', 'NEXT PXE BOOT'], nodes.map((n) => [n.name, n.mac!, n.ip, installed.has(n.name) ? 'local disk (installed)' : 'install'])));
    out.result(`next: dnsmasq -d -C ${join(tree, 'dnsmasq.conf')}   and   k8s-image serve --dir ${tree} --listen 0.0.0.0:${opts.server!.split(':')[1] ?? '80'}`);
    if (!opts.installer) out.result(`the installer kernel: pass --installer DIR (an extracted CentOS 7 DVD), or copy its images/pxeboot/vmlinuz and initrd.img to ${tree}/tftp/centos7/ (and serve the DVD with serve --installer for iPXE)`);
  } finally {
    lock.release();
  }
}
