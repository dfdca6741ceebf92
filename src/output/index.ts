import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { Artifact } from '../artifact.js';

/** A fixed build epoch when SOURCE_DATE_EPOCH is unset: 2020-11-12, the CentOS 7.9.2009 release. */
export const DEFAULT_EPOCH = 1605139200;

export function buildEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return DEFAULT_EPOCH;
  if (!/^[0-9]{1,12}$/.test(raw)) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${raw}"`);
  return Number(raw);
}

/** Write artifacts under dir with their exact modes, whatever the umask. */
export async function writeArtifacts(dir: string, artifacts: Artifact[]): Promise<void> {
  for (const a of artifacts) {
    const path = join(dir, a.path);
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await writeFile(path, a.bytes, { mode: a.mode });
    await chmod(path, a.mode);
  }
}

/**
 * Move freshly staged directories into place: each target is swapped in with renames so a reader
 * sees the old tree or the new one, never half of each; old trees are removed only afterwards.
 */
export async function swapIntoPlace(pairs: { staged: string; target: string }[]): Promise<void> {
  const retired: string[] = [];
  for (const { staged, target } of pairs) {
    await mkdir(dirname(target), { recursive: true });
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
  artifacts: ManifestEntry[];
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
        const mode = (await stat(p)).mode & 0o777;
        out.push({
          path: rel,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          size: bytes.length,
          mode: `0${mode.toString(8)}`,
          // Artifacts holding keys or the token are written 0600 and nothing else is.
          secret: mode === 0o600,
        });
      }
    }
  }
  await walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function manifestText(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}
