import { X509Certificate } from 'node:crypto';
import type { ClusterFile } from './schema.js';
import type { Custom, HookPoint } from './types.js';

type CustomIn = NonNullable<ClusterFile['custom']>;

/** Bounds on one's own files: they travel in every seed (ks.cfg, user-data), which stay small. */
export const MAX_CUSTOM_FILE_BYTES = 1024 * 1024;
export const MAX_HOOK_BYTES = 256 * 1024;

/** A PEM private key (PKCS#1/#8, EC, OpenSSH, encrypted): never in a file every seed carries. */
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** Where k8s-image keeps its own files: one's own may not land there. */
const RESERVED_DIRS = ['/etc/k8s-image/', '/usr/local/lib/k8s-image/', '/var/lib/k8s-image/', '/etc/kubernetes/', '/etc/pki/ca-trust/source/anchors/k8s-image-'];

const HOOK_POINTS: [keyof NonNullable<CustomIn['hooks']>, HookPoint][] = [
  ['afterInstall', 'after-install'],
  ['beforeKubeadm', 'before-kubeadm'],
  ['afterReady', 'after-ready'],
];

/** A text that can land on a node as a file: bounded, no NUL, valid UTF-8 (read as text, binary shows as U+FFFD). */
function textProblem(text: string, max: number): string | undefined {
  const bytes = Buffer.byteLength(text);
  if (bytes > max) return `${bytes} bytes is more than the ${max} a seed carries for one file`;
  if (text.includes('\0')) return 'holds a NUL byte: only text files are carried';
  if (text.includes('\uFFFD')) return 'is not UTF-8 text: only text files are carried (base64 it and decode it in a hook)';
  return undefined;
}

/**
 * The cluster's additions, then the node's own (appended), with every file read (relative to the
 * config, through readFile) and checked: size, text, a path of its own, a certificate that parses.
 */
export function resolveCustom(
  parts: { c: CustomIn | undefined; field: string }[],
  readFile: ((p: string) => string) | undefined,
  errors: string[],
): Custom {
  const out: Custom = { packages: [], files: [], caCertificates: [], hooks: [] };
  const read = (source: string, field: string): string | undefined => {
    if (!readFile) {
      errors.push(`${field}: "${source}" cannot be read: the embedded default has no directory to read it from; use --config`);
      return undefined;
    }
    try {
      return readFile(source);
    } catch (e) {
      errors.push(`${field}: "${source}" cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}); the path is relative to the config file`);
      return undefined;
    }
  };
  const paths = new Map<string, string>();
  for (const { c, field } of parts) {
    if (!c) continue;
    (c.packages ?? []).forEach((p) => out.packages.push(`${p.name}-${p.version}`));
    (c.files ?? []).forEach((f, i) => {
      const at = `${field}.files[${i}]`;
      if ((f.content === undefined) === (f.source === undefined)) {
        errors.push(`${at}: give either content (the text itself) or source (a file next to cluster.yaml), not ${f.content === undefined ? 'neither' : 'both'}`);
        return;
      }
      if (RESERVED_DIRS.some((d) => f.path.startsWith(d) || `${f.path}/` === d)) {
        errors.push(`${at}.path: "${f.path}" is where k8s-image keeps its own files (${RESERVED_DIRS.join(', ')}); pick another path`);
        return;
      }
      if (paths.has(f.path)) errors.push(`${at}.path: "${f.path}" is already ${paths.get(f.path)}; each file once`);
      paths.set(f.path, at);
      const content = f.content ?? read(f.source!, `${at}.source`);
      if (content === undefined) return;
      const problem = textProblem(content, MAX_CUSTOM_FILE_BYTES);
      if (problem) errors.push(`${at}: ${f.source ? `"${f.source}" ` : 'content '}${problem}`);
      else if (PRIVATE_KEY.test(content) && f.secret !== true) {
        errors.push(
          `${at}.secret: ${f.source ? `"${f.source}"` : 'content'} holds a PRIVATE KEY block; set secret: true for it: a file that is not secret is written into ks.cfg (served to anyone on the PXE network, and kept as /root/anaconda-ks.cfg) and user-data, and gets mode 0644; a secret one goes to its node only, 0600`,
        );
      } else if (f.secret === true && f.mode !== undefined && (parseInt(f.mode, 8) & 0o007) !== 0) {
        errors.push(`${at}.mode: '${f.mode}' lets every user of the node read a secret file; secret files are 0600 (leave mode out) or at most group-readable like '0640'`);
      } else {
        const secret = f.secret ?? false;
        out.files.push({ path: f.path, mode: f.mode !== undefined ? parseInt(f.mode, 8) : secret ? 0o600 : 0o644, content, secret, field: at });
      }
    });
    (c.caCertificates ?? []).forEach((ca, i) => {
      const at = `${field}.caCertificates[${i}]`;
      if ((ca.content === undefined) === (ca.source === undefined)) {
        errors.push(`${at}: give either content (the PEM text) or source (a .crt/.pem file next to cluster.yaml)`);
        return;
      }
      const text = ca.content ?? read(ca.source!, `${at}.source`);
      if (text === undefined) return;
      const pems = text.match(/-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g) ?? [];
      const rest = text.replace(/-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g, '').trim();
      if (pems.length === 0 || rest !== '') {
        errors.push(`${at}: expected PEM certificates only (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)${rest.includes('PRIVATE KEY') ? '; this holds a PRIVATE KEY, which must never be copied to every node' : ''}`);
        return;
      }
      for (const pem of pems) {
        try {
          const cert = new X509Certificate(pem);
          if (!cert.ca) errors.push(`${at}: "${cert.subject.replaceAll('\n', ', ')}" is not a CA certificate (basicConstraints CA:FALSE or missing); trust the CA that issued it`);
        } catch (e) {
          errors.push(`${at}: a certificate does not parse (${(e as Error).message})`);
        }
      }
      out.caCertificates.push(`${pems.map((p) => p.replaceAll('\r', '')).join('\n')}\n`);
    });
    for (const [key, point] of HOOK_POINTS) {
      (c.hooks?.[key] ?? []).forEach((source, i) => {
        const at = `${field}.hooks.${key}[${i}]`;
        const text = read(source, at);
        if (text === undefined) return;
        const problem = textProblem(text, MAX_HOOK_BYTES);
        if (problem) errors.push(`${at}: "${source}" ${problem}`);
        else if (PRIVATE_KEY.test(text)) errors.push(`${at}: "${source}" holds a PRIVATE KEY block; hooks go into every seed and are 0755: put the key in custom.files with secret: true and read it from the hook`);
        else out.hooks.push({ point, name: source.slice(source.lastIndexOf('/') + 1), content: text });
      });
    }
  }
  return out;
}
