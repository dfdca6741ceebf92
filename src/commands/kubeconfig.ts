import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
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
  if (existsSync(opts.file) && !opts.force) throw new UserError(`--file ${opts.file}: the file exists; pass --force to overwrite it`);
  await writeFile(`${opts.file}.tmp`, text, { mode: 0o600 });
  await rename(`${opts.file}.tmp`, opts.file);
  out.info(`wrote ${opts.file} (mode 0600): kubectl --kubeconfig ${opts.file} get nodes`);
}
