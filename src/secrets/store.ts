import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { accessSync, closeSync, constants as fsc, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import yaml from 'js-yaml';
import { z } from 'zod';
import { UserError } from '../errors.js';
import type { KeyPairPem } from './pki.js';
import {
  BOOTSTRAP_TOKEN_RE,
  CERTIFICATE_KEY_RE,
  generateBootstrapToken,
  generateCertificateKey,
  generateRootPassword,
  randomString,
} from './random.js';
import { sha512Crypt } from './sha512crypt.js';
import { makeDirSync } from '../output/safe-write.js';

export interface Secrets {
  version: 1;
  /** Name of the cluster these secrets belong to. */
  cluster: string;
  /**
   * The cluster description this file was minted for, relative to the file's directory: a later
   * run from the same config under another cluster.name can then say the name changed.
   */
  config?: string;
  /** kubeadm bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}. */
  bootstrapToken: string;
  /** kubeadm --certificate-key: 32 random bytes, 64 hex characters. */
  certificateKey: string;
  /** Cluster CA (CN kubernetes). */
  ca: KeyPairPem;
  /** Front proxy CA (CN front-proxy-ca). */
  frontProxyCa: KeyPairPem;
  /** etcd CA (CN etcd-ca). */
  etcdCa: KeyPairPem;
  /** Service-account signing key: sa.key (PKCS#1 PEM) and sa.pub ("PUBLIC KEY" PEM). */
  serviceAccount: { key: string; pub: string };
  /** Generated root password, present only when one was asked for. */
  rootPassword?: string;
  /** SHA-512 crypt ($6$salt$...) of rootPassword. */
  rootPasswordHash?: string;
}

const b64Body = '(?:[A-Za-z0-9+/=]+\\n)+';
const pem = (label: string) => new RegExp(`^-----BEGIN ${label}-----\\n${b64Body}-----END ${label}-----\\n?$`);
const CERT_RE = pem('CERTIFICATE');
const KEY_RE = new RegExp(`^-----BEGIN (RSA )?PRIVATE KEY-----\\n${b64Body}-----END \\1PRIVATE KEY-----\\n?$`);
const PUB_RE = pem('PUBLIC KEY');

const certPem = z.string().regex(CERT_RE, 'must be a PEM certificate (-----BEGIN CERTIFICATE-----)');
const keyPem = z
  .string()
  .regex(KEY_RE, 'must be a PEM private key (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)');
const keyPair = z.object({ cert: certPem, key: keyPem }).strict();

const schema = z
  .object({
    version: z.literal(1),
    cluster: z.string().min(1),
    config: z.string().min(1).regex(/^[^\n]*$/, 'must be one line').optional(),
    bootstrapToken: z.string().regex(BOOTSTRAP_TOKEN_RE, 'must look like abcdef.0123456789abcdef ([a-z0-9]{6}.[a-z0-9]{16})'),
    certificateKey: z.string().regex(CERTIFICATE_KEY_RE, 'must be 64 lowercase hex characters (32 bytes)'),
    ca: keyPair,
    frontProxyCa: keyPair,
    etcdCa: keyPair,
    serviceAccount: z
      .object({ key: keyPem, pub: z.string().regex(PUB_RE, 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)') })
      .strict(),
    rootPassword: z.string().min(1).regex(/^[^\n]*$/, 'must be one line').optional(),
    rootPasswordHash: z
      .string()
      .regex(/^\$6\$(rounds=\d+\$)?[^$:\n]{1,16}\$[./0-9A-Za-z]{86}$/, 'must be a SHA-512 crypt hash ($6$salt$...)')
      .optional(),
  })
  .strict();

/** Cryptographic consistency checks the schema cannot express; each problem is [field, message]. */
function checkConsistency(s: Secrets): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const rsaKey = (field: string, text: string): KeyObject | undefined => {
    try {
      const k = createPrivateKey(text);
      if (k.asymmetricKeyType !== 'rsa') {
        problems.push([field, `must be an RSA key, not ${k.asymmetricKeyType}`]);
        return undefined;
      }
      return k;
    } catch {
      problems.push([field, 'is not a readable private key']);
      return undefined;
    }
  };
  for (const name of ['ca', 'frontProxyCa', 'etcdCa'] as const) {
    const pair = s[name];
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pair.cert);
    } catch {
      problems.push([`${name}.cert`, 'is not a readable X.509 certificate']);
      continue;
    }
    if (!cert.ca) problems.push([`${name}.cert`, 'is not a CA certificate (needs basicConstraints CA:TRUE)']);
    const key = rsaKey(`${name}.key`, pair.key);
    if (key && !cert.checkPrivateKey(key)) problems.push([`${name}.key`, `does not match ${name}.cert`]);
  }
  const saKey = rsaKey('serviceAccount.key', s.serviceAccount.key);
  let saPub: KeyObject | undefined;
  try {
    saPub = createPublicKey(s.serviceAccount.pub);
  } catch {
    problems.push(['serviceAccount.pub', 'is not a readable public key']);
  }
  if (saKey && saPub) {
    const der = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    if (!der(createPublicKey(saKey)).equals(der(saPub))) {
      problems.push(['serviceAccount.pub', 'is not the public half of serviceAccount.key']);
    }
  }
  if ((s.rootPassword === undefined) !== (s.rootPasswordHash === undefined)) {
    const missing = s.rootPassword === undefined ? 'rootPassword' : 'rootPasswordHash';
    problems.push([missing, 'missing: rootPassword and rootPasswordHash go together']);
  } else if (s.rootPassword !== undefined && s.rootPasswordHash !== undefined) {
    if (sha512Crypt(s.rootPassword, s.rootPasswordHash) !== s.rootPasswordHash) {
      problems.push(['rootPasswordHash', 'is not the hash of rootPassword']);
    }
  }
  return problems;
}

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') return 'missing';
  if (issue.code === z.ZodIssueCode.unrecognized_keys) return `unknown field(s): ${issue.keys.join(', ')}`;
  return issue.message;
}

/** Parse and strictly validate a secrets file's text; every problem becomes one line "<where>: <field>: <problem>". */
export function parseSecrets(text: string, where: string): Secrets {
  let doc: unknown;
  try {
    doc = yaml.load(text.replace(/\r\n/g, '\n'));
  } catch (e) {
    const reason = e instanceof yaml.YAMLException ? `${e.reason} (line ${e.mark.line + 1})` : String(e);
    throw new UserError(`${where}: not valid YAML: ${reason}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UserError(`${where}: expected a YAML mapping of secrets (version, cluster, bootstrapToken, ...)`);
  }
  const r = schema.safeParse(doc);
  if (!r.success) {
    throw new UserError(
      r.error.issues.map((i) => `${where}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${describeIssue(i)}`),
    );
  }
  const s = r.data as Secrets;
  const problems = checkConsistency(s);
  if (problems.length) throw new UserError(problems.map(([f, m]) => `${where}: ${f}: ${m}`));
  return s;
}

/** YAML text of the secrets, keys in a fixed order, headed by a warning that it holds private keys. */
export function serializeSecrets(s: Secrets): string {
  const ordered: Record<string, unknown> = {
    version: s.version,
    cluster: s.cluster,
    ...(s.config !== undefined ? { config: s.config } : {}),
    bootstrapToken: s.bootstrapToken,
    certificateKey: s.certificateKey,
    ca: { cert: s.ca.cert, key: s.ca.key },
    frontProxyCa: { cert: s.frontProxyCa.cert, key: s.frontProxyCa.key },
    etcdCa: { cert: s.etcdCa.cert, key: s.etcdCa.key },
    serviceAccount: { key: s.serviceAccount.key, pub: s.serviceAccount.pub },
  };
  if (s.rootPassword !== undefined) ordered.rootPassword = s.rootPassword;
  if (s.rootPasswordHash !== undefined) ordered.rootPasswordHash = s.rootPasswordHash;
  const header = [
    `# k8s-image secrets for cluster ${JSON.stringify(s.cluster)}.`,
    '# PRIVATE: holds the cluster CA private keys, the service-account key, the bootstrap token',
    '# and the certificate key; anyone with this file can join nodes to or take over the cluster.',
    '# Keep it mode 0600, back it up, never commit it. Lose it and every seeded node must be redone.',
    '',
  ].join('\n');
  return header + yaml.dump(ordered, { lineWidth: -1, noRefs: true, sortKeys: false });
}

/** Mint a full set of secrets for `cluster`: three CAs, the service-account key, token and certificate key. */
export async function generateSecrets(opts: {
  cluster: string;
  generateRootPassword: boolean;
  now?: Date;
}): Promise<Secrets> {
  const now = opts.now ?? new Date();
  // The X.509 library loads only when something is minted: a build that reads the secrets file
  // would spend a tenth of a second on it before any node is rendered.
  const { generateCa, generateServiceAccountKey } = await import('./pki.js');
  const [ca, frontProxyCa, etcdCa, serviceAccount] = await Promise.all([
    generateCa('kubernetes', now),
    generateCa('front-proxy-ca', now),
    generateCa('etcd-ca', now),
    generateServiceAccountKey(),
  ]);
  const s: Secrets = {
    version: 1,
    cluster: opts.cluster,
    bootstrapToken: generateBootstrapToken(),
    certificateKey: generateCertificateKey(),
    ca,
    frontProxyCa,
    etcdCa,
    serviceAccount,
  };
  if (opts.generateRootPassword) {
    const { password, hash } = generateRootPassword();
    s.rootPassword = password;
    s.rootPasswordHash = hash;
  }
  return s;
}

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

// Synchronous on purpose: a secrets file is a few KiB, and persist() must also work from a
// process 'exit' listener (see commands/common.ts), where nothing asynchronous runs.

/** Write `text` to a fresh 0600 temp file next to `path`, fsync it, and return its name. */
function writeTemp(path: string, text: string): string {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomString('abcdefghijklmnopqrstuvwxyz0123456789', 8)}.tmp`);
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    try {
      writeFileSync(fd, text, 'utf8');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    // write(2) errors carry no path: name the secrets file (ENOSPC, EDQUOT).
    if (typeof e === 'object' && e !== null && !(e as NodeJS.ErrnoException).path) (e as NodeJS.ErrnoException).path = path;
    throw e;
  }
  return tmp;
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every platform/filesystem lets a directory be fsynced; the rename is still atomic.
  }
}

/** Atomically replace `path` with `text` (mode 0600). */
function replaceFileSync(path: string, text: string): void {
  const tmp = writeTemp(path, text);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dirname(path));
}

/**
 * Atomically create `path` with `text` (mode 0600) unless it already exists.
 * Returns false if another process created it first (its content is then left alone).
 */
function createFileExclusiveSync(path: string, text: string): boolean {
  const tmp = writeTemp(path, text);
  try {
    linkSync(tmp, path);
  } catch (e) {
    const code = errCode(e);
    rmSync(tmp, { force: true });
    if (code === 'EEXIST') return false;
    // Filesystems without hard links: an exclusive create of the file itself (not atomic, but never clobbering).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      let fd: number;
      try {
        fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      } catch (e2) {
        if (errCode(e2) === 'EEXIST') return false;
        throw e2;
      }
      try {
        writeFileSync(fd, text, 'utf8');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      syncDir(dirname(path));
      return true;
    }
    throw e;
  }
  rmSync(tmp, { force: true });
  syncDir(dirname(path));
  return true;
}

/** Secrets files are small (a few KiB): anything far larger is not one, and is not read into memory. */
const MAX_SECRETS_BYTES = 1 << 20;

/**
 * What is at `path`: undefined when nothing, its mode when a usable secrets file, and a UserError
 * for anything that is not a non-empty regular file, which k8s-image never replaces with new secrets.
 * Reads no byte of it (serve checks the file without holding the CA key).
 */
export function checkSecretsFile(path: string): { mode: number } | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new UserError(`secrets file ${path}: a part of its path is a file, not a directory; name a file in an existing directory (--secrets or K8S_IMAGE_SECRETS)`);
    throw new UserError(`secrets file ${path}: cannot read it (${code ?? String(e)}); check its permissions, or name another file (--secrets or K8S_IMAGE_SECRETS)`);
  }
  if (st.isDirectory()) throw new UserError(`secrets file ${path}: is a directory, not a secrets file; move the directory away, or name the secrets file itself (--secrets or K8S_IMAGE_SECRETS)`);
  if (!st.isFile()) throw new UserError(`secrets file ${path}: is not a regular file (a device, FIFO or socket); name a regular file (--secrets or K8S_IMAGE_SECRETS)`);
  // An empty file is a lost CA (a failed copy, a truncation), not a request for a new one.
  if (st.size === 0) throw new UserError(`secrets file ${path}: is empty; restore it from your backup (every node was built with the CA it held), or delete it to start over with a new CA (a full build with --new-ca; every node must then be reinstalled)`);
  if (st.size > MAX_SECRETS_BYTES) throw new UserError(`secrets file ${path}: ${st.size} bytes, far larger than a secrets file (a few KiB); name the right file (--secrets or K8S_IMAGE_SECRETS)`);
  return { mode: st.mode & 0o777 };
}

/** The text of the secrets file at `path`, or undefined when there is none (see checkSecretsFile). */
export function readSecretsFile(path: string): { text: string; mode: number } | undefined {
  const found = checkSecretsFile(path);
  if (!found) return undefined;
  try {
    return { text: readFileSync(path, 'utf8'), mode: found.mode };
  } catch (e) {
    throw new UserError(`secrets file ${path}: cannot read it (${errCode(e) ?? String(e)}); check its permissions, or name another file (--secrets or K8S_IMAGE_SECRETS)`);
  }
}

async function hasEntries(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') return false;
    if (code === 'ENOTDIR') return true;
    throw e;
  }
}

/** What planSecrets decided: the secrets to use now, and what (if anything) is still to be written. */
export interface PlannedSecrets {
  secrets: Secrets;
  /** existing: the file as it is; minted: a new set, not on disk yet; updated: the file plus a new root password. */
  state: 'existing' | 'minted' | 'updated';
  /** Permission bits of the existing file (undefined when there is none). */
  mode?: number;
  /** Writes the file when state is minted or updated; once. Throws a UserError if another run wrote it meanwhile. */
  persist(): void;
  /** True while persist() still has something to write. */
  pending(): boolean;
}

/**
 * Load the cluster's secrets from `path`, or mint them in memory if the file is missing, and write
 * nothing: the caller persists them when (and only if) its outputs are about to land, so a refused
 * or failed command never leaves a CA behind.
 *
 * A file for another cluster is refused. A missing file is refused when `artifactsDir` already
 * holds outputs (they were built with a CA that would be lost) unless `allowNewCa`. When a root
 * password is asked for and the file has none, one is added (state "updated").
 */
export async function planSecrets(opts: {
  path: string;
  cluster: string;
  generateRootPassword: boolean;
  artifactsDir?: string;
  allowNewCa?: boolean;
  /** Recorded in a new file: the config it belongs to (relative to the file), to notice a renamed cluster later. */
  config?: string;
}): Promise<PlannedSecrets> {
  const { path } = opts;
  const existing = readSecretsFile(path);
  if (existing !== undefined) {
    const secrets = parseSecrets(existing.text, path);
    if (secrets.cluster !== opts.cluster) {
      throw new UserError(
        `${path} holds secrets for cluster "${secrets.cluster}", not "${opts.cluster}"; use that cluster's secrets file (--secrets or K8S_IMAGE_SECRETS), or set cluster.name back to "${secrets.cluster}" if you renamed it (its nodes trust this file's CA)`,
      );
    }
    if (opts.generateRootPassword && secrets.rootPassword === undefined) {
      const { password, hash } = generateRootPassword();
      const updated: Secrets = { ...secrets, rootPassword: password, rootPasswordHash: hash };
      return pending(path, updated, 'updated', existing.text, existing.mode);
    }
    return { secrets, state: 'existing', mode: existing.mode, persist: () => undefined, pending: () => false };
  }

  if (opts.artifactsDir !== undefined && !opts.allowNewCa && (await hasEntries(opts.artifactsDir))) {
    throw new UserError(
      `${opts.artifactsDir} holds artifacts built with a CA whose secrets file ${path} is missing; minting a new CA would break every node already seeded. Restore the file (or point --secrets or K8S_IMAGE_SECRETS at it), or pass --new-ca to a full build to start over.`,
    );
  }
  const secrets = await generateSecrets({ cluster: opts.cluster, generateRootPassword: opts.generateRootPassword });
  if (opts.config !== undefined) secrets.config = opts.config;
  return pending(path, secrets, 'minted', undefined, undefined);
}

function pending(path: string, secrets: Secrets, state: 'minted' | 'updated', before: string | undefined, mode: number | undefined): PlannedSecrets {
  let done = false;
  return {
    secrets,
    state,
    mode,
    pending: () => !done,
    persist: () => {
      if (done) return;
      const text = serializeSecrets(secrets);
      if (state === 'minted') {
        // Not Node's recursive mkdir: it loops forever under /proc (a --secrets or --out path there).
        makeDirSync(dirname(path), undefined, 0o700);
        if (!createFileExclusiveSync(path, text)) {
          throw new UserError(`${path}: another k8s-image run created this secrets file while this one was minting its own; nothing was written: run the command again to use that file`);
        }
      } else {
        // Only over the very text this run read: never over a file someone changed meanwhile.
        if (readSecretsFile(path)?.text !== before) throw new UserError(`${path}: changed while this run was adding a root password to it; nothing was written: run the command again`);
        replaceFileSync(path, text);
      }
      done = true;
    },
  };
}

/** planSecrets, then persist at once: for callers whose whole job is the secrets file. */
export async function loadOrCreateSecrets(opts: Parameters<typeof planSecrets>[0]): Promise<{ secrets: Secrets; created: boolean }> {
  const planned = await planSecrets(opts);
  planned.persist();
  return { secrets: planned.secrets, created: planned.state === 'minted' };
}

/**
 * Put a new bootstrap token into the secrets file at `path` (`k8s-image token create --write`):
 * atomically (temp file, fsync, rename; mode 0600), and only over the text read here, so a file
 * another run changed meanwhile is never overwritten. Returns the updated secrets.
 */
/**
 * Throws a UserError unless writeBootstrapToken could replace `path` now: a temporary file can be
 * made (and is removed) beside it, as the replacement is, and the file itself is writable. Checked
 * before anything irreversible (token create POSTs a live token only after this passed).
 */
export function checkSecretsWritable(path: string): void {
  try {
    accessSync(path, fsc.W_OK);
    rmSync(writeTemp(path, ''), { force: true });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new UserError(`${path}: cannot be rewritten by this user (${why}); --write needs to replace it (a temporary file beside it, then a rename): fix the file's or its directory's owner or mode, or run without --write; nothing was created`);
  }
}

export function writeBootstrapToken(path: string, cluster: string, token: string): Secrets {
  if (!BOOTSTRAP_TOKEN_RE.test(token)) throw new Error('not a bootstrap token');
  const before = readSecretsFile(path);
  if (before === undefined) throw new UserError(`${path}: no secrets file to write the token into`);
  const secrets = parseSecrets(before.text, path);
  if (secrets.cluster !== cluster) throw new UserError(`${path} holds secrets for cluster "${secrets.cluster}", not "${cluster}"; nothing was written`);
  const updated: Secrets = { ...secrets, bootstrapToken: token };
  const text = serializeSecrets(updated);
  if (readSecretsFile(path)?.text !== before.text) throw new UserError(`${path}: changed while this run was writing the token into it; nothing was written: run the command again`);
  replaceFileSync(path, text);
  return updated;
}
