import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { UserError, fileSystemProblem } from '../errors.js';
import { needsGeneratedRootPassword, patterns, type LoadedCluster } from '../config/index.js';
import { readManifest } from '../output/index.js';
import { gitWarning, modeWarning, renamedFrom } from '../secrets/checks.js';
import { discoveryHash, planSecrets, type Secrets } from '../secrets/index.js';
import { secretsLocation } from '../secrets/location.js';
import { readConfig } from '../config/read.js';

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

// Reading the config file and locating the secrets file are stages' work (serve's key child needs them
// too, and no stage imports a command); the commands keep using them from here.
export { readConfig } from '../config/read.js';
export { SECRETS_ENV, secretsLocation, secretsPathFor } from '../secrets/location.js';

/**
 * Per-node warnings of one kind, for a farm: the first few in full, then one line naming how many more
 * and which (a 1000-node farm gets four lines, not a thousand).
 */
export function warnNodes(out: Output, lines: string[], names: string[], rest: (count: number, names: string) => string, shown = 3): void {
  for (const l of lines.slice(0, shown)) out.warn(l);
  if (lines.length <= shown) return;
  const more = names.slice(shown);
  out.warn(rest(more.length, more.length > 5 ? `${more.slice(0, 5).join(', ')} and ${more.length - 5} more` : more.join(', ')));
}

/** The config with `--status URL` in place of its status.url (the manifest's digest says so too). */
export function withStatusUrl(loaded: LoadedCluster, url: string | undefined): LoadedCluster {
  if (url === undefined) return loaded;
  if (!patterns.STATUS_URL.test(url)) throw new UserError(`--status ${url}: expected the http URL of k8s-image serve as the nodes reach it, like http://192.168.108.1:8080 (no credentials: reports are signed)`);
  const clean = url.replace(/\/+$/, '');
  const digest = createHash('sha256').update(`${loaded.digest}\nstatus ${clean}`).digest('hex');
  return { ...loaded, digest, cluster: { ...loaded.cluster, status: { url: clean } } };
}

/** What a command tells loadSecretsFor: where outputs go, --secrets, --new-ca, and which nodes it builds. */
export interface SecretsFor {
  out?: string;
  newCa?: boolean;
  secrets?: string;
  node?: string[] | string;
  role?: string;
}

export interface LoadedSecrets {
  loaded: LoadedCluster;
  secrets: Secrets;
  secretsPath: string;
  outDir: string;
  /** Why the file is where it is (--secrets, K8S_IMAGE_SECRETS, beside the config, the lab's default). */
  secretsWhy: string;
  /** True when the secrets were minted by this run (not yet on disk until persist()). */
  minted: boolean;
  /**
   * Writes new (or updated) secrets; a no-op when there is nothing to write. Call it right before
   * the command's outputs land. A command that never calls it has them written when the process
   * exits with status 0, and never otherwise.
   */
  persist(): void;
}

/** Config + secrets, shared by every command that needs both. */
export async function loadClusterAndSecrets(opts: { config?: string } & SecretsFor, out: Output): Promise<LoadedSecrets> {
  const loaded = readConfig(opts.config);
  for (const w of loaded.warnings) out.warn(w);
  return loadSecretsFor(loaded, opts, out);
}

/**
 * The secrets of an already loaded config. Every check comes first; secrets the file lacks are
 * minted in memory only, and written by persist() (or at a successful exit): a refused or failed
 * command leaves no secrets file and no directory behind.
 *
 * --new-ca: refused with --node/--role (the other nodes would keep the old CA). With no secrets file
 * it lets a new CA be minted although <out>/<cluster> holds artifacts of another; with a secrets
 * file it is accepted only when <out>/<cluster> was built with a different CA (the build then moves
 * every node to the file's CA), and otherwise refused: k8s-image never replaces a CA in a file.
 */
export async function loadSecretsFor(loaded: LoadedCluster, opts: SecretsFor, out: Output): Promise<LoadedSecrets> {
  const outDir = opts.out ?? 'outputs';
  const { name } = loaded.cluster;
  const where = secretsLocation(loaded, outDir, opts.secrets);
  const secretsPath = where.path;
  const artifactsDir = join(outDir, name);
  const partial = (Array.isArray(opts.node) ? opts.node.length > 0 : opts.node !== undefined) || (opts.role !== undefined && opts.role !== 'all');
  if (opts.newCa && partial) {
    throw new UserError(`--new-ca with --node/--role: the other nodes of cluster ${name} would keep the old CA, and could not join nodes built with the new one; run a full build (no --node/--role) with --new-ca`);
  }
  if (where.source === 'option' || where.source === 'env') {
    const dir = dirname(resolve(secretsPath));
    if (!existsSync(dir)) throw new UserError(`${where.why} ${secretsPath}: its directory ${dirname(secretsPath)} does not exist; create it (mkdir -m 700 ${dirname(secretsPath)}) or name a file in an existing directory`);
  }
  const builtCa = (await readManifest(join(artifactsDir, 'manifest.json')))?.caFingerprint;
  const planned = await planSecrets({
    path: secretsPath,
    cluster: name,
    generateRootPassword: needsGeneratedRootPassword(loaded.cluster),
    artifactsDir,
    allowNewCa: opts.newCa,
    config: loaded.source ? relative(dirname(resolve(secretsPath)), resolve(loaded.source)) : undefined,
  });
  const fileCa = discoveryHash(planned.secrets.ca.cert);
  if (opts.newCa && planned.state !== 'minted') {
    if (!builtCa || builtCa === fileCa) {
      throw new UserError(
        `--new-ca: ${secretsPath} exists and holds the cluster CA (${fileCa})${builtCa ? ` that ${artifactsDir} was built with` : ''}; k8s-image never replaces the CA in a secrets file. To rotate the CA: move the file aside (mv ${secretsPath} ${secretsPath}.old), run a full build with --new-ca, and reinstall every node (README: "The secrets file and the CA")`,
      );
    }
    out.warn(`--new-ca: ${artifactsDir} was built with the CA ${builtCa}; this full build moves every node to the CA of ${secretsPath} (${fileCa}): nodes installed from the old artifacts must be reinstalled`);
  }
  if (planned.state === 'minted') {
    if (builtCa && builtCa !== fileCa) {
      out.warn(`--new-ca: a NEW cluster CA (${fileCa}) replaces the one ${artifactsDir} was built with (${builtCa}), whose secrets file is gone: every node installed from the old artifacts must be reinstalled`);
    }
    for (const r of renamedFrom(secretsPath, loaded.source, name)) {
      out.warn(`cluster.name is "${name}", but ${r.file} beside it was made for this config as cluster "${r.cluster}": this run mints a second CA for cluster "${name}", which nodes installed as "${r.cluster}" do not trust. If you renamed the cluster, set cluster.name back to "${r.cluster}" (a kubeadm cluster keeps its name); if this is a new cluster, ignore this`);
    }
  }
  const modeW = modeWarning(secretsPath, planned.mode);
  if (modeW) out.warn(modeW);
  const gitW = gitWarning(secretsPath);
  if (gitW) out.warn(gitW);
  if (planned.state !== 'minted') out.info(`secrets file: ${secretsPath} (${where.why})`);
  if (needsGeneratedRootPassword(loaded.cluster)) {
    out.info(`root login: os.rootPasswordHash and os.sshAuthorizedKeys are both empty, so the nodes get a generated root password (see it with \`k8s-image secrets --show${loaded.source ? ` -c ${loaded.source}` : ''}\`)`);
  }

  const persist = () => {
    if (!planned.pending()) return;
    planned.persist();
    if (planned.state === 'minted') out.info(`created ${secretsPath} (mode 0600; ${where.why}): the cluster CA, join token and keys; back it up and keep it out of git: every rebuild reuses it`);
  };
  if (planned.pending()) {
    // For commands that do not call persist() themselves: written only if the command succeeded.
    process.once('exit', (code) => {
      if (code !== 0 || !planned.pending()) return;
      try {
        persist();
      } catch (e) {
        const msg = e instanceof UserError ? e.message : (fileSystemProblem(e)?.message ?? String(e));
        process.stderr.write(`error: ${msg}\nerror: the outputs of this run were built with secrets that could not be saved; fix the cause and run a full build again with --new-ca\n`);
        process.exitCode = 2;
      }
    });
  }
  return { loaded, secrets: planned.secrets, secretsPath, outDir, secretsWhy: where.why, minted: planned.state === 'minted', persist };
}
