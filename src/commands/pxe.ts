import { chmod, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { installerProblem } from '../iso/installer.js';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { patterns } from '../config/index.js';
import { acquireLock, atPath, cleanStale, stagingPrefix, swapIntoPlace, writeArtifacts } from '../output/index.js';
import { entryPaths, installEntries, PROXY_UEFI_LIMIT, renderPxe, serveBehindNginx, type PxeOptions } from '../pxe/index.js';
import { loadSecretsFor, readConfig, warnNodes, type Output } from './common.js';
import { table } from './validate.js';
import { KERNEL_ARG, installedNodes, copyInstaller, makeOutDir, unsearchable, copyLoaders, carryOver, hostLoaders, withTreeModes, serverProblem, LOADERS, IPXE_LOADERS, OPTIONAL_LOADERS } from '../pxe/tree.js';

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
