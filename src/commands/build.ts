import { chmod, copyFile, link, lstat, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toolVersion } from '../assets.js';
import type { Cluster, Node } from '../config/index.js';
import { formatPath } from '../config/index.js';
import { UserError } from '../errors.js';
import { type IsoTool, ISO_TOOLS } from '../iso/index.js';
import { acquireLock, atPath, kindOf, makeDir, buildEpoch, cleanStale, manifestText, readManifest, removeNow, scanTree, sortEntries, stagingPrefix, swapIntoPlace, withSignalCleanup, type Manifest, type ManifestEntry } from '../output/index.js';
import { discoveryHash } from '../secrets/index.js';
import { loadSecretsFor, readConfig, warnNodes, withStatusUrl, type Output } from './common.js';
import { nicKnown } from '../assemble/index.js';
import { buildAll, renderThreads } from '../assemble/index.js';
import { table } from './validate.js';


export interface BuildOptions {
  config?: string;
  role?: 'master' | 'node' | 'lb' | 'all';
  node?: string[];
  seed?: 'cidata' | 'oemdrv' | 'both';
  out?: string;
  isoTool?: IsoTool;
  json?: boolean;
  newCa?: boolean;
  /** Nodes report their progress here (overrides status.url). */
  status?: string;
}

function selectNodes(cluster: Cluster, opts: BuildOptions): Node[] {
  const role = opts.role ?? 'all';
  const names = opts.node ?? [];
  const unknown = names.filter((n) => !cluster.nodes.some((x) => x.name === n));
  if (unknown.length) {
    throw new UserError(`--node ${unknown.join(', ')}: no such node in cluster ${cluster.name}; nodes are ${cluster.nodes.map((n) => n.name).join(', ')}`);
  }
  const chosen = cluster.nodes.filter((n) => (role === 'all' || n.role === role) && (names.length === 0 || names.includes(n.name)));
  if (chosen.length === 0) throw new UserError(`--role ${role}${names.length ? ` --node ${names.join(',')}` : ''}: selects no node of cluster ${cluster.name}`);
  return chosen;
}

/** Why a node cannot have a cidata seed (neither MAC nor interface name), naming the field. */
export function nicProblem(cluster: Cluster, node: Node): string {
  const i = cluster.nodes.indexOf(node);
  return `${formatPath(['nodes', i, 'mac'])}: node ${node.name} has neither a MAC address nor an interface name, so a cidata seed cannot tell cloud-init which NIC gets ${node.ip}/${node.prefix} (cloud-init matches NICs only by MAC); set nodes[${i}].mac to the VM's MAC address, or nodes[${i}].interface (or network.interface) to the NIC's name (eth0 on CentOS 7 GenericCloud)`;
}

/**
 * A tree holds artifacts of one CA only: nodes seeded from it must be able to join the cluster the
 * others run. The manifest records the CA; a build with another one is refused unless --new-ca,
 * and even then only as a full build, so no node keeps the old CA.
 */
async function refuseMixedCa(clusterDir: string, caFingerprint: string, secretsPath: string, opts: { newCa?: boolean; whole: boolean }): Promise<void> {
  const prev = await readManifest(join(clusterDir, 'manifest.json'));
  if (!prev?.caFingerprint || prev.caFingerprint === caFingerprint) return;
  const before = prev.secretsFile ? `the secrets file ${prev.secretsFile}` : 'another secrets file';
  if (!opts.newCa) {
    throw new UserError(
      `${clusterDir} was built with a different CA (${prev.caFingerprint}, from ${before}) than ${secretsPath} holds (${caFingerprint}): nodes seeded from that tree could not join a cluster built now. Build with the secrets file that made the tree (restore ${prev.secretsFile ?? 'it'} or pass the -c/-o that used it), or pass --new-ca to rebuild every node with the new CA (nodes already installed must then be re-seeded)`,
    );
  }
  if (!opts.whole) {
    throw new UserError(`--new-ca with --node/--role: the other nodes of ${clusterDir} would keep the old CA (${prev.caFingerprint}); run a full build (no --node/--role) with --new-ca`);
  }
}

/**
 * The manifest of a partial build: the rebuilt nodes' entries, and for the other nodes those of the
 * previous manifest (their files were not touched), so rebuilding one node of a farm reads nothing
 * back. Without a usable previous manifest, the tree is scanned.
 */
async function partialManifest(clusterDir: string, rebuilt: Node[], entries: ManifestEntry[]): Promise<ManifestEntry[]> {
  const prev = await readManifest(join(clusterDir, 'manifest.json'));
  if (!Array.isArray(prev?.artifacts)) return scanTree(clusterDir);
  const names = new Set(rebuilt.map((n) => n.name));
  const present = new Set((await readdir(clusterDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name));
  const kept = prev.artifacts.filter((e) => {
    const top = e.path.split('/')[0]!;
    return !names.has(top) && present.has(top);
  });
  return sortEntries([...kept, ...entries]);
}

/** A list of names for one line: the first few and how many more. */
const someOf = (names: string[]) => (names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`);

/**
 * `render` after `build`: render rewrites only what it renders. A node's seed ISOs from the previous
 * build still hold exactly the files render just wrote (same hashes, same build epoch) are kept: linked
 * into the staging tree and carried in the manifest. ISOs of a node whose files changed would install
 * the old ones, so they go, and the caller says so. Returns the nodes of each kind.
 */
async function carrySeedIsos(clusterDir: string, staged: string, nodes: Node[], entries: ManifestEntry[], epoch: number): Promise<{ kept: string[]; removed: string[]; files: Map<string, { path: string; secret: boolean }[]> }> {
  const kept: string[] = [];
  const removed: string[] = [];
  const files = new Map<string, { path: string; secret: boolean }[]>();
  const prev = await readManifest(join(clusterDir, 'manifest.json'));
  if (!Array.isArray(prev?.artifacts)) return { kept, removed, files };
  const key = (e: ManifestEntry) => `${e.path} ${e.sha256} ${e.mode}`;
  for (const node of nodes) {
    const mine = (list: ManifestEntry[]) => list.filter((e) => e.path.startsWith(`${node.name}/`));
    const isIso = (e: ManifestEntry) => e.path.endsWith('.iso') && e.path.split('/').length === 2;
    const before = mine(prev.artifacts);
    const isos = before.filter(isIso);
    // Only ISOs still on disk as the manifest says (a regular file of that size) count.
    const present: ManifestEntry[] = [];
    for (const iso of isos) {
      const st = await lstat(join(clusterDir, iso.path)).catch(() => undefined);
      if (st?.isFile() && st.size === iso.size) present.push(iso);
    }
    if (present.length === 0) continue;
    const was = before.filter((e) => !isIso(e)).map(key).sort();
    const now = mine(entries).map(key).sort();
    if (prev.buildEpoch !== epoch || was.length !== now.length || was.some((k, i) => k !== now[i])) {
      removed.push(node.name);
      continue;
    }
    for (const iso of present) {
      const from = join(clusterDir, iso.path);
      const to = join(staged, iso.path);
      // A link costs nothing; another file system (a symlinked tree) gets a copy.
      await link(from, to).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EXDEV' && e.code !== 'EPERM' && e.code !== 'EMLINK' && e.code !== 'ENOTSUP') throw e;
        await copyFile(from, to);
        await chmod(to, parseInt(iso.mode, 8));
      });
      entries.push(iso);
    }
    kept.push(node.name);
    files.set(node.name, present.map((e) => ({ path: e.path.slice(node.name.length + 1), secret: e.secret })));
  }
  return { kept, removed, files };
}

/** `k8s-image render` (files only) and `k8s-image build` (files and seed ISOs). */
export async function build(opts: BuildOptions, out: Output, withIsos = true): Promise<void> {
  if (opts.isoTool && !ISO_TOOLS.includes(opts.isoTool)) throw new UserError(`--iso-tool ${opts.isoTool}: use one of ${ISO_TOOLS.join(', ')}`);
  // Every check before the first side effect (the secrets file): a refused build changes nothing.
  const loaded = withStatusUrl(readConfig(opts.config), opts.status);
  for (const w of loaded.warnings) out.warn(w);
  const { cluster } = loaded;
  const nodes = selectNodes(cluster, opts);
  const unknownNic = nodes.filter((n) => !nicKnown(n));
  if (withIsos && opts.seed === 'cidata' && unknownNic.length) throw new UserError(unknownNic.map((n) => nicProblem(cluster, n)));
  if (opts.seed !== 'oemdrv') {
    warnNodes(
      out,
      unknownNic.map((n) => `${nicProblem(cluster, n)}. Built for ${n.name}: the kickstart and OEMDRV seed only (the installer takes the NIC with a link)`),
      unknownNic.map((n) => n.name),
      (count, names) => `${count} more nodes have the same problem (${names}): built with the kickstart and OEMDRV seed only`,
    );
  }
  const outDir = opts.out ?? 'outputs';
  const clusterDir = join(outDir, cluster.name);
  const whole = nodes.length === cluster.nodes.length;
  const epoch = buildEpoch();

  // The tree is replaced by renames: what stands at its name must be the tree itself, a directory.
  // A file there would be deleted, a symlink replaced by a folder (the build landing beside its target).
  const there = await lstat(clusterDir).catch(() => undefined);
  if (there && !there.isDirectory()) {
    const why = there.isSymbolicLink()
      ? `is a symbolic link; builds replace ${clusterDir} by renames, which would replace the link, not the folder it points at: pass -o with the directory that folder is in`
      : `is ${kindOf(there)}, not the folder of a previous build; move it away or choose another --out`;
    throw new UserError(`--out ${outDir}: ${clusterDir} ${why}`);
  }
  // The secrets are checked (or minted, in memory only) before anything is made: a refusal leaves
  // no output folder behind, and the file is written only just before the tree lands (persist).
  const loadedSecrets = await loadSecretsFor(loaded, opts, out);
  // Refuses /proc, /sys and a path that is a file before anything is made.
  await makeDir(outDir, '--out');
  // One build at a time per output tree; a second one waits (or takes over the lock of a dead one).
  const lock = await acquireLock(outDir, cluster.name, {
    onWait: (holder) => out.info(`waiting for another build of ${clusterDir} to finish (${holder})`),
    onStale: (holder) => out.warn(`took over the lock of a build that is gone (${holder})`),
  });
  let stage: string | undefined;
  const summary: { node: Node; artifacts: { path: string; secret: boolean }[] }[] = [];
  let secretsPath = '';
  let manifestPath = '';
  let carried: Awaited<ReturnType<typeof carrySeedIsos>> | undefined;
  try {
    for (const what of await cleanStale(outDir, cluster.name)) out.warn(what);
    const secrets = loadedSecrets.secrets;
    secretsPath = loadedSecrets.secretsPath;
    const caFingerprint = discoveryHash(secrets.ca.cert);
    await refuseMixedCa(clusterDir, caFingerprint, secretsPath, { newCa: opts.newCa, whole });

    stage = await mkdtemp(join(outDir, `${stagingPrefix(cluster.name)}${process.pid}-`));
    const staged = stage;
    await withSignalCleanup(
      () => {
        removeNow(staged);
        lock.release();
      },
      async (checkpoint) => {
        // mkdtemp makes 0700; the cluster tree is 0755 like a partial build's (secret files are 0600 themselves).
        await chmod(staged, 0o755);
        const entries: ManifestEntry[] = [];
        const renderOpts = { isos: withIsos, seed: opts.seed ?? 'both', isoTool: opts.isoTool ?? 'builtin', epoch } as const;
        await buildAll(
          { cluster, secrets, staged, opts: renderOpts },
          nodes,
          renderThreads(nodes.length, renderOpts.isoTool),
          (node, i, built) => {
            if (out.isTTY && !opts.json && nodes.length > 1 && (i % 10 === 9 || i === nodes.length - 1)) out.progress(`[${i + 1}/${nodes.length}] ${node.name}`);
            entries.push(...built.entries);
            // Only what the summary prints: the bytes stay on disk.
            summary.push({ node, artifacts: built.files });
          },
          checkpoint,
        );
        if (out.isTTY && !opts.json && nodes.length > 1) out.progress('');
        if (!withIsos) {
          carried = await carrySeedIsos(clusterDir, staged, nodes, entries, epoch);
          for (const s of summary) s.artifacts.push(...(carried.files.get(s.node.name) ?? []));
        }
        // The last point to stop: the swap and the manifest are quick and leave a whole tree.
        checkpoint();
        // The secrets file first (exclusive create: never over one a concurrent run made), then the tree.
        loadedSecrets.persist();
        if (whole) await swapIntoPlace([{ staged, target: clusterDir }]);
        else await swapIntoPlace(nodes.map((n) => ({ staged: join(staged, n.name), target: join(clusterDir, n.name) })));

        // A partial build keeps the other nodes' folders; say so when one belongs to no node any more.
        if (!whole) {
          const known = new Set(cluster.nodes.map((n) => n.name));
          for (const e of await readdir(clusterDir, { withFileTypes: true })) {
            if (e.isDirectory() && !known.has(e.name)) out.warn(`${join(clusterDir, e.name)}: no node ${e.name} in the config any more; delete the folder, or run a full build (no --node/--role) to replace the whole tree`);
          }
        }

        const manifest: Manifest = {
          tool: 'k8s-image',
          version: toolVersion(),
          cluster: cluster.name,
          buildEpoch: epoch,
          inputDigest: loaded.digest,
          caFingerprint,
          secretsFile: secretsPath,
          artifacts: whole ? sortEntries(entries) : await partialManifest(clusterDir, nodes, entries),
        };
        manifestPath = join(clusterDir, 'manifest.json');
        await atPath(manifestPath, writeFile(`${manifestPath}.tmp`, manifestText(manifest), { mode: 0o644 }));
        await rename(`${manifestPath}.tmp`, manifestPath);
      },
    );
  } finally {
    if (stage) await rm(stage, { recursive: true, force: true });
    lock.release();
  }

  if (carried?.kept.length) out.info(`kept the seed ISOs that build made for ${someOf(carried.kept)}: their files are unchanged`);
  if (carried?.removed.length) {
    // The same selection render had: build makes every ISO of it again.
    const again = `k8s-image build${opts.config ? ` -c ${opts.config}` : ''}${opts.out ? ` -o ${opts.out}` : ''}${opts.role && opts.role !== 'all' ? ` -r ${opts.role}` : ''}${(opts.node ?? []).map((n) => ` -n ${n}`).join('')}`;
    out.warn(`removed the seed ISOs of ${someOf(carried.removed)}: build made them from files this render changed, so they would install the old ones; make them again with: ${again}`);
  }
  if (opts.json) {
    out.result(
      JSON.stringify(
        {
          cluster: cluster.name,
          ...(carried ? { keptIsos: carried.kept, removedIsos: carried.removed } : {}),
          outputDir: clusterDir,
          secretsFile: secretsPath,
          manifest: manifestPath,
          nodes: summary.map(({ node, artifacts }) => ({
            name: node.name,
            role: node.role,
            ip: node.ip,
            artifacts: artifacts.map((a) => ({ path: join(clusterDir, node.name, a.path), secret: a.secret })),
          })),
        },
        null,
        2,
      ),
    );
    return;
  }
  const rows = summary.map(({ node, artifacts }) => {
    const top = artifacts.filter((a) => !a.path.includes('/') || a.path.startsWith('cloud-init/'));
    return [node.name, node.role, node.ip, top.map((a) => a.path.replace('cloud-init/', '')).join(' '), artifacts.some((a) => a.secret) ? 'yes (0600)' : 'no'];
  });
  out.result(`${withIsos ? 'built' : 'rendered'} ${summary.length} node(s) of cluster ${cluster.name} into ${clusterDir}/`);
  out.result(table(['NODE', 'ROLE', 'IP', 'ARTIFACTS', 'SECRETS'], rows));
  out.result(`manifest: ${manifestPath}`);
  out.result(`secrets:  ${secretsPath}`);
}
