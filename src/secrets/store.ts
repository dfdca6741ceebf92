import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
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

export interface Secrets {
  version: 1;
  /** Name of the cluster these secrets belong to. */
  cluster: string;
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

/** Write `text` to a fresh 0600 temp file next to `path`, fsync it, and return its name. */
async function writeTemp(path: string, text: string): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomString('abcdefghijklmnopqrstuvwxyz0123456789', 8)}.tmp`);
  const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    // write(2) errors carry no path: name the secrets file (ENOSPC, EDQUOT).
    if (typeof e === 'object' && e !== null && !(e as NodeJS.ErrnoException).path) (e as NodeJS.ErrnoException).path = path;
    throw e;
  }
  return tmp;
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not every platform/filesystem lets a directory be fsynced; the rename is still atomic.
  }
}

/** Atomically replace `path` with `text` (mode 0600). */
async function replaceFile(path: string, text: string): Promise<void> {
  const tmp = await writeTemp(path, text);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dirname(path));
}

/**
 * Atomically create `path` with `text` (mode 0600) unless it already exists.
 * Returns false if another process created it first (its content is then left alone).
 */
async function createFileExclusive(path: string, text: string): Promise<boolean> {
  const tmp = await writeTemp(path, text);
  try {
    await link(tmp, path);
  } catch (e) {
    const code = errCode(e);
    if (code === 'EEXIST') {
      await unlink(tmp).catch(() => undefined);
      return false;
    }
    // Filesystems without hard links: fall back to a plain (clobbering) rename.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      await rename(tmp, path);
      await syncDir(dirname(path));
      return true;
    }
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await unlink(tmp).catch(() => undefined);
  await syncDir(dirname(path));
  return true;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return undefined;
    throw new UserError(`cannot read secrets file ${path}: ${e instanceof Error ? e.message : String(e)}`);
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

/**
 * Load the cluster's secrets from `path`, or mint and write them if the file is missing.
 *
 * The same file always yields the same secrets, so rebuilds are identical. A file for another
 * cluster is refused. A missing file is refused when `artifactsDir` already holds outputs (they
 * were built with a CA that would be lost) unless `allowNewCa`. When a root password is asked for
 * and the file has none, one is added and the file rewritten with everything else kept.
 */
export async function loadOrCreateSecrets(opts: {
  path: string;
  cluster: string;
  generateRootPassword: boolean;
  artifactsDir?: string;
  allowNewCa?: boolean;
}): Promise<{ secrets: Secrets; created: boolean }> {
  const { path } = opts;
  const existing = await readIfExists(path);
  if (existing !== undefined) {
    const secrets = parseSecrets(existing, path);
    if (secrets.cluster !== opts.cluster) {
      throw new UserError(
        `${path} holds secrets for cluster "${secrets.cluster}", not "${opts.cluster}"; use that cluster's secrets file, or move this one aside to mint new secrets.`,
      );
    }
    if (opts.generateRootPassword && secrets.rootPassword === undefined) {
      const { password, hash } = generateRootPassword();
      const updated: Secrets = { ...secrets, rootPassword: password, rootPasswordHash: hash };
      await replaceFile(path, serializeSecrets(updated));
      return { secrets: updated, created: false };
    }
    return { secrets, created: false };
  }

  if (opts.artifactsDir !== undefined && !opts.allowNewCa && (await hasEntries(opts.artifactsDir))) {
    throw new UserError(
      `${opts.artifactsDir} holds artifacts built with a CA whose secrets file ${path} is missing; minting a new CA would break every node already seeded. Restore the file, or pass --new-ca to start over.`,
    );
  }

  const secrets = await generateSecrets({ cluster: opts.cluster, generateRootPassword: opts.generateRootPassword });
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  if (await createFileExclusive(path, serializeSecrets(secrets))) return { secrets, created: true };
  // Lost a race with another build minting the same file: use theirs so both agree.
  return loadOrCreateSecrets({ ...opts, allowNewCa: true });
}
