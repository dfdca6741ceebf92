import { UserError } from '../errors.js';
import { createHash, type Hash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { chmodSync, linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Artifact } from '../artifact.js';
import { makeDirSync } from './safe-write.js';

/** A fixed build epoch when SOURCE_DATE_EPOCH is unset: 2020-11-12, the CentOS 7.9.2009 release. */
export const DEFAULT_EPOCH = 1605139200;

export function buildEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return DEFAULT_EPOCH;
  if (!/^[0-9]{1,12}$/.test(raw)) throw new UserError(`SOURCE_DATE_EPOCH: "${raw}" is not valid: expected whole seconds since 1970 (e.g. $(git log -1 --format=%ct)), or unset for the fixed default`);
  return Number(raw);
}

/**
 * mkdir -p that refuses kernel pseudo file systems (Node's recursive mkdir spins forever under
 * /proc) and a path that is a file, and reports the real cause of a failure: each missing directory
 * is made on its own, so a read-only parent says EROFS, not ENOENT. `flag` names the option in
 * refusals ('--out').
 */
export async function makeDir(path: string, flag?: string): Promise<void> {
  makeDirSync(path, flag);
}

/** Errors of write(2) carry no path: name the file, so the user learns where the disk filled up. */
export async function atPath<T>(path: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err === 'object' && err.code && !err.path) err.path = path;
    throw e;
  }
}

// The process umask, read once (on first write: worker threads may not set it): a mode it does not
// touch needs no chmod after the write.
let umask: number | undefined;
function processUmask(): number {
  // process.umask() with no argument reads it (allowed in worker threads too).
  umask ??= process.umask();
  return umask;
}
const currentUmask = processUmask;

/**
 * At most this many files open at once in writeArtifacts: far below any open-file limit a system
 * ships with (1024 on Debian and CentOS), and enough to keep libuv's four threads busy.
 */
export const WRITE_CONCURRENCY = 16;

/**
 * Run `work` over items with at most `limit` in flight, results in the items' order: whatever the
 * number of items, the number of files open at once stays bounded.
 */
export async function boundedMap<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Write artifacts under dir with their exact modes, whatever the umask, and return their manifest
 * entries (hashed from the bytes in hand, so nothing is read back). Directories are 0755 (daemons
 * running as other users, dnsmasq and nginx, traverse them); at most WRITE_CONCURRENCY files are
 * open at once, so a farm of any size writes under the default `ulimit -n`.
 */
export async function writeArtifacts(dir: string, artifacts: Artifact[], manifestPrefix = ''): Promise<ManifestEntry[]> {
  const dirs = new Set<string>();
  for (const a of artifacts) {
    const parts = a.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(join(dir, ...parts.slice(0, i)));
  }
  for (const d of [...dirs].sort((a, b) => a.length - b.length || (a < b ? -1 : 1))) {
    try {
      await mkdir(d, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if ((0o755 & processUmask()) !== 0) await chmod(d, 0o755);
  }
  return boundedMap(artifacts, WRITE_CONCURRENCY, async (a) => {
    const path = join(dir, a.path);
    await atPath(path, writeFile(path, a.bytes, { mode: a.mode }));
    if ((a.mode & processUmask()) !== 0) await chmod(path, a.mode);
    return entryOf(`${manifestPrefix}${a.path}`, a.bytes, a.mode);
  });
}

/**
 * writeArtifacts for a build thread: synchronous, since a write thread has nothing else to do
 * meanwhile (fewer round trips through libuv's pool than async writes).
 */
export function writeArtifactsSync(dir: string, artifacts: Artifact[], manifestPrefix = ''): ManifestEntry[] {
  // Every directory once, parents first, without recursive mkdir's failed attempts on the way down.
  const dirs = new Set<string>([dir]);
  for (const a of artifacts) {
    const parts = a.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(join(dir, ...parts.slice(0, i)));
  }
  for (const d of [...dirs].sort((a, b) => a.length - b.length)) {
    try {
      mkdirSync(d, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  // A node's two copies of one file (ks.cfg and oemdrv/ks.cfg are one array) are one inode: a link
  // costs no data to write, and on a busy file system an inode is the dear part of a small file.
  const firstPath = new Map<Uint8Array, { path: string; mode: number }>();
  return artifacts.map((a) => {
    const path = join(dir, a.path);
    try {
      const twin = firstPath.get(a.bytes);
      if (twin === undefined || twin.mode !== a.mode || !linked(twin.path, path)) writeFileSync(path, a.bytes, { mode: a.mode });
      if (twin === undefined) firstPath.set(a.bytes, { path, mode: a.mode });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err && typeof err === 'object' && err.code && !err.path) err.path = path;
      throw e;
    }
    if ((a.mode & currentUmask()) !== 0) chmodSync(path, a.mode);
    return entryOf(`${manifestPrefix}${a.path}`, a.bytes, a.mode);
  });
}

/** Hard-link `to` to `from`; false where the file system has no hard links (the caller writes a copy). */
function linked(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EXDEV' || code === 'EMLINK' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return false;
    throw e;
  }
}

/** Digests of the byte arrays in hand: a node's two copies of its kickstart are one array. */
const digests = new WeakMap<Uint8Array, string>();
const sha256Of = (bytes: Uint8Array): string => {
  let d = digests.get(bytes);
  if (d === undefined) digests.set(bytes, (d = hashOf(bytes)));
  return d;
};

// Every ISO 9660 image starts with a 32 KiB system area of zeros (a quarter of a seed ISO): the
// hash state after it is computed once and copied.
const ZERO_AREA = 32768;
let zeroAreaHash: Hash | undefined;
function hashOf(bytes: Uint8Array): string {
  if (bytes.length > ZERO_AREA && isZero(bytes.subarray(0, ZERO_AREA))) {
    zeroAreaHash ??= createHash('sha256').update(new Uint8Array(ZERO_AREA));
    return zeroAreaHash.copy().update(bytes.subarray(ZERO_AREA)).digest('hex');
  }
  return createHash('sha256').update(bytes).digest('hex');
}
const zeros = new Uint8Array(ZERO_AREA);
const isZero = (b: Uint8Array) => Buffer.compare(b, zeros) === 0;

function entryOf(path: string, bytes: Uint8Array, mode: number): ManifestEntry {
  return {
    path,
    sha256: sha256Of(bytes),
    size: bytes.length,
    mode: `0${mode.toString(8)}`,
    // Artifacts holding keys or the token are written 0600 and nothing else is.
    secret: mode === 0o600,
  };
}

/** Manifest entries sorted by path, the order scanTree gives. */
export function sortEntries(entries: ManifestEntry[]): ManifestEntry[] {
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Move freshly staged directories into place: each target is swapped in with renames so a reader
 * sees the old tree or the new one, never half of each; old trees are removed only afterwards.
 */
export async function swapIntoPlace(pairs: { staged: string; target: string }[]): Promise<void> {
  const retired: string[] = [];
  for (const { staged, target } of pairs) {
    makeDirSync(dirname(target));
    const old = `${target}.old-${process.pid}`;
    let hadOld = false;
    try {
      await rename(target, old);
      hadOld = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try {
      await rename(staged, target);
    } catch (e) {
      if (hadOld) await rename(old, target);
      throw e;
    }
    if (hadOld) retired.push(old);
  }
  for (const old of retired) await rm(old, { recursive: true, force: true });
}

export interface ManifestEntry { path: string; sha256: string; size: number; mode: string; secret: boolean }
export interface Manifest {
  tool: string;
  version: string;
  cluster: string;
  buildEpoch: number;
  inputDigest: string;
  /** The cluster CA every artifact was built with (the kubeadm discovery hash) and its secrets file. */
  caFingerprint: string;
  secretsFile: string;
  artifacts: ManifestEntry[];
}

/** A previous build's manifest, or undefined when there is none (or it cannot be read as one). */
export async function readManifest(path: string): Promise<Partial<Manifest> | undefined> {
  try {
    const m = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return m !== null && typeof m === 'object' ? (m as Partial<Manifest>) : undefined;
  } catch {
    return undefined;
  }
}

/** Every file under the cluster directory (but the manifest), sorted, hashed. */
export async function scanTree(root: string): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const rel = relative(root, p);
        if (rel === 'manifest.json') continue;
        const bytes = await readFile(p);
        out.push(entryOf(rel, bytes, (await stat(p)).mode & 0o777));
      }
    }
  }
  await walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function manifestText(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

export { checkOutputFile, commitFile, kindOf, makeDirSync, pseudoFsOf, readBoundedSync, refusePseudoFs, tempPathBeside, writeFileSafely, type InputFile, type OutputFile } from './safe-write.js';
export { acquireLock, cleanStale, stagingPrefix, withSignalCleanup, removeNow, Interrupted, type Lock } from './guard.js';
