import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir` (relative path) with its sha256, and its mode when `withModes`. */
export function treeHashes(dir: string, withModes = false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const hash = createHash('sha256').update(readFileSync(p)).digest('hex');
        out[p.slice(dir.length + 1)] = withModes ? `${hash} ${(statSync(p).mode & 0o777).toString(8)}` : hash;
      }
    }
  };
  walk(dir);
  return out;
}
