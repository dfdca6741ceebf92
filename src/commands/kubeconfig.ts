import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { refusePseudoFs, checkOutputFile, writeFileSafely, type OutputFile } from '../output/index.js';
import { adminKubeconfig } from '../secrets/index.js';
import { endpointText } from '../plan/index.js';
import { loadSecretsFor, readConfig, secretsPathFor, type Output } from './common.js';

export interface KubeconfigOptions { config?: string; out?: string; file?: string; force?: boolean }

/** An admin kubeconfig signed offline by the cluster CA, so nobody copies admin.conf off a master. */
export async function kubeconfig(opts: KubeconfigOptions, out: Output): Promise<void> {
  const loaded = readConfig(opts.config);
  for (const w of loaded.warnings) out.warn(w);
  // Every refusal before the secrets file is read or made: a refused command changes nothing.
  refusePseudoFs(opts.out ?? 'outputs', '--out');
  const toFile = opts.file !== undefined && opts.file !== '-';
  const target: OutputFile | undefined = toFile
    ? {
        path: opts.file!,
        flag: '--file',
        force: opts.force,
        inputs: [
          { flag: '--config', path: opts.config },
          { flag: 'the secrets file', path: secretsPathFor(loaded, opts.out ?? 'outputs') },
        ],
      }
    : undefined;
  if (target) checkOutputFile(target);
  const loadedSecrets = await loadSecretsFor(loaded, opts, out);
  const s = loadedSecrets.secrets;
  const { cluster } = loaded;
  const text = await adminKubeconfig({ secrets: s, clusterName: cluster.name, server: `https://${endpointText(cluster)}` });
  // A new secrets file lands first (a kubeconfig signed by a CA no file keeps would be worthless),
  // so what the write needs is checked before it: a folder to write in.
  if (target) {
    const parent = dirname(resolve(target.path));
    if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new UserError(`--file ${target.path}: ${parent}: no such file or directory (or not a directory); make it first (mkdir -p ${parent}) or choose another path`);
  }
  loadedSecrets.persist();
  if (!target) {
    out.result(text);
    return;
  }
  // Through a temporary file: a full disk never leaves half a kubeconfig (with its key) behind.
  await writeFileSafely(target, text, 0o600);
  out.info(`wrote ${opts.file} (mode 0600): kubectl --kubeconfig ${opts.file} get nodes`);
}
