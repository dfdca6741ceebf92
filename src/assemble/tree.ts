import { chmod, copyFile, link, lstat, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toolVersion } from '../assets.js';
import type { Cluster, Node } from '../config/index.js';
import { UserError } from '../errors.js';
import type { IsoTool } from '../iso/index.js';
import { acquireLock, atPath, kindOf, makeDir, cleanStale, manifestText, readManifest, removeNow, scanTree, sortEntries, stagingPrefix, swapIntoPlace, withSignalCleanup, type Manifest, type ManifestEntry } from '../output/index.js';
import { discoveryHash, type Secrets } from '../secrets/index.js';
import { buildAll, renderThreads } from './render-pool.js';

/**
 * A cluster's output tree, <out>/<cluster>/, written whole or not at all: every selected node rendered
 * into a staging folder beside it (threads), then swapped into place with its manifest, under the
 * tree's lock; the secrets file is written just before the swap (persist), never for a refused build.
 */
export interface TreeRequest {
  cluster: Cluster;
  /** The config's digest, recorded in the manifest. */
  inputDigest: string;
  secrets: Secrets;
  secretsPath: string;
  /** Writes minted or updated secrets; called right before the tree lands. */
  persistSecrets: () => void;
  nodes: Node[];
  outDir: string;
  /** false: `render` (files only; the previous build's seed ISOs are kept where still right). */
  isos: boolean;
  seed: 'cidata' | 'oemdrv' | 'both';
  isoTool: IsoTool;
  epoch: number;
  newCa?: boolean;
}

/** What the tree's writer tells its caller while it works. */
export interface TreeProgress {
  info(text: string): void;
  warn(text: string): void;
  /** After each node is written (in order of completion). */
  node?(node: Node, index: number): void;
}

export interface TreeResult {
  clusterDir: string;
  manifestPath: string;
  /** Per node, what was written (paths relative to its folder). */
  summary: { node: Node; artifacts: { path: string; secret: boolean }[] }[];
  /** `render` only: whose seed ISOs were kept or removed. */
  carried?: { kept: string[]; removed: string[] };
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

/**
 * The tree's folder must be a folder (it is replaced by renames: a file there would be deleted, a
 * symlink replaced). Called before anything is made, so a refused build leaves nothing behind.
 */
export async function checkTreeTarget(outDir: string, clusterDir: string): Promise<void> {
  const there = await lstat(clusterDir).catch(() => undefined);
  if (there && !there.isDirectory()) {
    const why = there.isSymbolicLink()
      ? `is a symbolic link; builds replace ${clusterDir} by renames, which would replace the link, not the folder it points at: pass -o with the directory that folder is in`
      : `is ${kindOf(there)}, not the folder of a previous build; move it away or choose another --out`;
    throw new UserError(`--out ${outDir}: ${clusterDir} ${why}`);
  }
}

/** Render and write the selected nodes of a cluster into <out>/<cluster>/ (see TreeRequest). */
export async function writeClusterTree(req: TreeRequest, progress: TreeProgress): Promise<TreeResult> {
  const { cluster, nodes, outDir, secrets, secretsPath, epoch } = req;
  const clusterDir = join(outDir, cluster.name);
  const whole = nodes.length === cluster.nodes.length;
  await checkTreeTarget(outDir, clusterDir);
  // Refuses /proc, /sys and a path that is a file before anything is made.
  await makeDir(outDir, '--out');
  // One build at a time per output tree; a second one waits (or takes over the lock of a dead one).
  const lock = await acquireLock(outDir, cluster.name, {
    onWait: (holder) => progress.info(`waiting for another build of ${clusterDir} to finish (${holder})`),
    onStale: (holder) => progress.warn(`took over the lock of a build that is gone (${holder})`),
  });
  let stage: string | undefined;
  const summary: TreeResult['summary'] = [];
  let manifestPath = '';
  let carried: Awaited<ReturnType<typeof carrySeedIsos>> | undefined;
  try {
    for (const what of await cleanStale(outDir, cluster.name)) progress.warn(what);
    const caFingerprint = discoveryHash(secrets.ca.cert);
    await refuseMixedCa(clusterDir, caFingerprint, secretsPath, { newCa: req.newCa, whole });

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
        const renderOpts = { isos: req.isos, seed: req.seed, isoTool: req.isoTool, epoch } as const;
        await buildAll(
          { cluster, secrets, staged, opts: renderOpts },
          nodes,
          renderThreads(nodes.length, renderOpts.isoTool),
          (node, i, built) => {
            progress.node?.(node, i);
            entries.push(...built.entries);
            // Only what the summary prints: the bytes stay on disk.
            summary.push({ node, artifacts: built.files });
          },
          checkpoint,
        );
        if (!req.isos) {
          carried = await carrySeedIsos(clusterDir, staged, nodes, entries, epoch);
          for (const s of summary) s.artifacts.push(...(carried.files.get(s.node.name) ?? []));
        }
        // The last point to stop: the swap and the manifest are quick and leave a whole tree.
        checkpoint();
        // The secrets file first (exclusive create: never over one a concurrent run made), then the tree.
        req.persistSecrets();
        if (whole) await swapIntoPlace([{ staged, target: clusterDir }]);
        else await swapIntoPlace(nodes.map((n) => ({ staged: join(staged, n.name), target: join(clusterDir, n.name) })));

        // A partial build keeps the other nodes' folders; say so when one belongs to no node any more.
        if (!whole) {
          const known = new Set(cluster.nodes.map((n) => n.name));
          for (const e of await readdir(clusterDir, { withFileTypes: true })) {
            if (e.isDirectory() && !known.has(e.name)) progress.warn(`${join(clusterDir, e.name)}: no node ${e.name} in the config any more; delete the folder, or run a full build (no --node/--role) to replace the whole tree`);
          }
        }

        const manifest: Manifest = {
          tool: 'k8s-image',
          version: toolVersion(),
          cluster: cluster.name,
          buildEpoch: epoch,
          inputDigest: req.inputDigest,
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
  return { clusterDir, manifestPath, summary, ...(carried ? { carried: { kept: carried.kept, removed: carried.removed } } : {}) };
}
