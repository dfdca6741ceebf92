import { dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import type { LoadedCluster } from '../config/index.js';

/** The environment variable that names the secrets file, like --secrets (which sets it for the run, so children see it too). */
export const SECRETS_ENV = 'K8S_IMAGE_SECRETS';

/** Where the secrets file is, and why there: --secrets, then K8S_IMAGE_SECRETS, then beside the config (or in <out>/ for the embedded lab). */
export function secretsLocation(loaded: LoadedCluster, outDir: string, explicit?: string): { path: string; source: 'option' | 'env' | 'config' | 'out'; why: string } {
  if (explicit !== undefined) {
    if (explicit === '') throw new UserError('--secrets: empty; name the secrets file, like --secrets ~/.k8s-image/prod.secrets.yaml');
    return { path: explicit, source: 'option', why: '--secrets' };
  }
  // An empty variable counts as unset, as shells make it easy to set one to nothing.
  const env = process.env[SECRETS_ENV];
  if (env) return { path: env, source: 'env', why: SECRETS_ENV };
  const name = `${loaded.cluster.name}.secrets.yaml`;
  if (loaded.source) return { path: join(dirname(loaded.source), name), source: 'config', why: 'beside the config; --secrets or K8S_IMAGE_SECRETS keeps it elsewhere' };
  return {
    path: join(outDir, name),
    source: 'out',
    why: `the embedded lab's, inside ${outDir}/: rm -rf ${outDir} deletes the CA; --secrets or K8S_IMAGE_SECRETS keeps it elsewhere`,
  };
}

export function secretsPathFor(loaded: LoadedCluster, outDir: string, explicit?: string): string {
  return secretsLocation(loaded, outDir, explicit).path;
}

