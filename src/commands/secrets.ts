import { discoveryHash, joinCommand } from '../secrets/index.js';
import { endpointText } from '../plan/index.js';
import { loadClusterAndSecrets, type Output } from './common.js';

export interface SecretsOptions { config?: string; out?: string; show?: boolean; json?: boolean; newCa?: boolean; secrets?: string }

/** Create the secrets file if missing; with --show print the join command (and a generated root password). */
export async function secrets(opts: SecretsOptions, out: Output): Promise<void> {
  const { loaded, secrets: s, secretsPath, secretsWhy, minted, persist } = await loadClusterAndSecrets(opts, out);
  // Making the file is this command's whole output.
  persist();
  const endpoint = endpointText(loaded.cluster);
  const hash = discoveryHash(s.ca.cert);
  if (opts.json) {
    out.result(JSON.stringify({ file: secretsPath, created: minted, discoveryHash: hash, ...(opts.show ? { joinCommand: joinCommand(s, endpoint), token: s.bootstrapToken, rootPassword: s.rootPassword } : {}) }, null, 2));
    return;
  }
  out.result(`secrets file: ${secretsPath} (${secretsWhy})`);
  out.result(`CA discovery hash: ${hash}`);
  if (!opts.show) {
    out.result('(token, keys and passwords are not printed; pass --show to see the join command)');
    return;
  }
  out.result(`join a node by hand:\n  ${joinCommand(s, endpoint)}`);
  if (s.rootPassword) out.result(`generated root password (the seeds carry only its hash): ${s.rootPassword}`);
}
