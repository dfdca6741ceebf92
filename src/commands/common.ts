import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { MAX_CONFIG_BYTES } from '../config/load.js';
import { readBoundedSync } from '../output/index.js';
import { loadCluster, needsGeneratedRootPassword, patterns, type LoadedCluster } from '../config/index.js';
import { loadOrCreateSecrets, type Secrets } from '../secrets/index.js';

/** Where commands write: results to stdout, logs and warnings to stderr. Tests pass their own. */
export interface Output {
  result(text: string): void;
  info(text: string): void;
  warn(text: string): void;
  /** One status line rewritten in place on a terminal ('' clears it); nothing elsewhere. */
  progress(text: string): void;
  isTTY: boolean;
}

export const stdio: Output = {
  result: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  info: (t) => process.stderr.write(`${t}\n`),
  warn: (t) => process.stderr.write(`warning: ${t}\n`),
  progress: (t) => {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${t.slice(0, Math.max(10, (process.stderr.columns ?? 80) - 1))}`);
  },
  isTTY: Boolean(process.stderr.isTTY),
};

/** A vendor CNI manifest is a few hundred KB (Calico's operator bundle about 2 MB). */
const MAX_CNI_MANIFEST_BYTES = 16 * 1024 * 1024;

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

export function secretsPathFor(loaded: LoadedCluster, outDir: string): string {
  const name = `${loaded.cluster.name}.secrets.yaml`;
  return loaded.source ? join(dirname(loaded.source), name) : join(outDir, name);
}

/** The config with `--status URL` in place of its status.url (the manifest's digest says so too). */
export function withStatusUrl(loaded: LoadedCluster, url: string | undefined): LoadedCluster {
  if (url === undefined) return loaded;
  if (!patterns.STATUS_URL.test(url)) throw new UserError(`--status ${url}: expected the http URL of k8s-image serve as the nodes reach it, like http://192.168.108.1:8080 (no credentials: reports are signed)`);
  const clean = url.replace(/\/+$/, '');
  const digest = createHash('sha256').update(`${loaded.digest}\nstatus ${clean}`).digest('hex');
  return { ...loaded, digest, cluster: { ...loaded.cluster, status: { url: clean } } };
}

/** Config + secrets, shared by every command that needs both. */
export async function loadClusterAndSecrets(opts: { config?: string; out?: string; newCa?: boolean }, out: Output): Promise<{ loaded: LoadedCluster; secrets: Secrets; secretsPath: string; outDir: string }> {
  const loaded = readConfig(opts.config);
  for (const w of loaded.warnings) out.warn(w);
  return loadSecretsFor(loaded, opts, out);
}

/** The secrets of an already loaded config (created if missing): the first step of a command with side effects. */
export async function loadSecretsFor(loaded: LoadedCluster, opts: { out?: string; newCa?: boolean }, out: Output): Promise<{ loaded: LoadedCluster; secrets: Secrets; secretsPath: string; outDir: string }> {
  const outDir = opts.out ?? 'outputs';
  const secretsPath = secretsPathFor(loaded, outDir);
  const { secrets, created } = await loadOrCreateSecrets({
    path: secretsPath,
    cluster: loaded.cluster.name,
    generateRootPassword: needsGeneratedRootPassword(loaded.cluster),
    artifactsDir: join(outDir, loaded.cluster.name),
    allowNewCa: opts.newCa,
  });
  if (created) out.info(`created ${secretsPath} (mode 0600): the cluster CA, join token and keys; keep it, every rebuild reuses it`);
  if (needsGeneratedRootPassword(loaded.cluster)) {
    out.info(`root login: os.rootPasswordHash and os.sshAuthorizedKeys are both empty, so the nodes get a generated root password (see it with \`k8s-image secrets --show${loaded.source ? ` -c ${loaded.source}` : ''}\`)`);
  }
  return { loaded, secrets, secretsPath, outDir };
}
