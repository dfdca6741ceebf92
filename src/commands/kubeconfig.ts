import { lstatSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { atPath } from '../output/index.js';
import { adminKubeconfig } from '../secrets/index.js';
import { endpointText } from '../plan/index.js';
import { loadClusterAndSecrets, type Output } from './common.js';

export interface KubeconfigOptions { config?: string; out?: string; file?: string; force?: boolean }

/** An admin kubeconfig signed offline by the cluster CA, so nobody copies admin.conf off a master. */
export async function kubeconfig(opts: KubeconfigOptions, out: Output): Promise<void> {
  const { loaded, secrets: s } = await loadClusterAndSecrets(opts, out);
  const { cluster } = loaded;
  const text = await adminKubeconfig({ secrets: s, clusterName: cluster.name, server: `https://${endpointText(cluster)}` });
  if (!opts.file || opts.file === '-') {
    out.result(text);
    return;
  }
  const existing = (() => {
    try {
      return lstatSync(opts.file);
    } catch {
      return undefined;
    }
  })();
  if (existing && !existing.isFile()) throw new UserError(`--file ${opts.file}: exists and is not a regular file; name a file (or - for stdout)`);
  if (existing && !opts.force) throw new UserError(`--file ${opts.file}: the file exists; pass --force to overwrite it`);
  // Through a temporary file: a full disk never leaves half a kubeconfig (with its key) behind.
  const tmp = `${opts.file}.k8s-image-${process.pid}.tmp`;
  try {
    await atPath(opts.file, writeFile(tmp, text, { mode: 0o600, flag: 'wx' }));
    await rename(tmp, opts.file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  out.info(`wrote ${opts.file} (mode 0600): kubectl --kubeconfig ${opts.file} get nodes`);
}
