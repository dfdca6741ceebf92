import { dirname, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readBoundedSync } from '../output/index.js';
import { MAX_CONFIG_BYTES } from './load.js';
import { loadCluster, type LoadedCluster } from './index.js';

/** A vendor CNI manifest is a few hundred KB (Calico's operator bundle about 2 MB). */
const MAX_CNI_MANIFEST_BYTES = 16 * 1024 * 1024;

/** The cluster description at `path` (bounded read, CNI manifests beside it), or the embedded lab. */
export function readConfig(path: string | undefined): LoadedCluster {
  if (path === undefined) return loadCluster(undefined);
  let text: string;
  try {
    // Bounded by a read loop, not by the size the file claims: /dev/zero, a FIFO or a growing file never hangs.
    text = readBoundedSync({ path, flag: '--config', limit: MAX_CONFIG_BYTES, what: 'a cluster description' }).toString('utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`--config ${path}: cannot read it (${code ?? String(e)}); run \`k8s-image init --out ${path}\` for a starting file`);
  }
  return loadCluster(text, path, {
    readFile: (rel) => {
      try {
        return readBoundedSync({ path: resolve(dirname(path), rel), limit: MAX_CNI_MANIFEST_BYTES, what: 'a CNI manifest' }).toString('utf8');
      } catch (e) {
        // load.ts reports the code: give it the refusal's words in its place.
        if (e instanceof UserError) throw Object.assign(new Error(e.message), { code: e.message.replace(/^[^:]*: /, '') });
        throw e;
      }
    },
  });
}

