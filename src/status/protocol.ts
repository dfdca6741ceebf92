/**
 * The node-to-server status protocol (node-files/report.py is the sender): which stages exist, the
 * per-node key, the signature, and parsing a report. A leaf module: the plan, the PXE tree and the
 * server all use it.
 */
import { createHmac } from 'node:crypto';

/** Every stage a node reports, in the order a bootstrap goes through them (failed can come anywhere). */
export const STAGES = ['installing', 'installed', 'firstboot', 'runtime', 'init', 'join', 'ready', 'done', 'failed'] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_TEXT: Record<Stage, string> = {
  installing: 'installing the OS and packages',
  installed: 'installed',
  firstboot: 'first boot started',
  runtime: 'container runtime ready',
  init: 'kubeadm init started',
  join: 'kubeadm join started',
  ready: 'node Ready',
  done: 'bootstrap done',
  failed: 'failed',
};

/**
 * Day-2 reports of a master's certificates (node-files/cert-renew.sh, daily): they do not move the
 * node's bootstrap stage; they carry the certificates' expiry (and a failure's log).
 */
export const CERT_KINDS = ['certs-checked', 'certs-renewed', 'certs-failed'] as const;
export type CertKind = (typeof CERT_KINDS)[number];
export const CERT_KIND_TEXT: Record<CertKind, string> = {
  'certs-checked': 'certificates checked',
  'certs-renewed': 'certificates renewed',
  'certs-failed': 'certificate renewal failed',
};
export const isCertKind = (k: string): k is CertKind => (CERT_KINDS as readonly string[]).includes(k);

/** A master's certificates as reported: the earliest leaf notAfter (Unix seconds), which file, the earliest notAfter of its three CAs (cluster, front-proxy, etcd). */
export interface CertExpiry {
  notAfter: number;
  cert: string;
  caNotAfter: number;
}

/** What the `certs` field carries: `<leaf notAfter> <file> <CA notAfter>` (report.py's cert_expiry). */
const CERTS_FIELD = /^([0-9]{1,12}) ([a-z0-9][a-z0-9./-]{0,63}) ([0-9]{1,12})$/;

export function parseCerts(text: string): CertExpiry | undefined {
  const m = CERTS_FIELD.exec(text);
  if (!m || m[2]!.includes('..')) return undefined;
  return { notAfter: Number(m[1]), cert: m[2]!, caNotAfter: Number(m[3]) };
}

export const certsField = (c: CertExpiry): string => `${c.notAfter} ${c.cert} ${c.caNotAfter}`;

/** Where the key and the sender land on a node (report.py queues in /var/lib/k8s-image/reports). */
export const REPORT_KEY_PATH = '/etc/k8s-image/report.key';
export const REPORTER_PATH = '/usr/local/lib/k8s-image/report.py';

/** Largest report body taken: a failure's log (at most 48 KiB, report.py cuts it) URL-encoded, up to 3 bytes a character. */
export const MAX_REPORT_BYTES = 256 * 1024;

/** The key a node signs its reports with: derived from the cluster CA key, so only the secrets holder knows it. */
export function reportKey(caKey: string, node: string): string {
  return createHmac('sha256', caKey).update(`k8s-image status report ${node}`).digest('hex');
}

/**
 * HMAC over `node|stage|time|nonce|log`; a report with certificate expiry signs
 * `node|stage|time|nonce certs|log` instead. Unambiguous: node, stage, time and nonce never hold `|`
 * or a space (parseReport), so the fourth field is the bare nonce exactly when there are no certs,
 * and certs (parseCerts) never hold `|`. (Appending `|certs` after the free-text log, as before, let
 * log `tail|X` sign the same as log `tail` with certs `X`.) Reports without certs are unchanged.
 */
export function reportSignature(key: string, r: { node: string; stage: string; time: string; nonce: string; log: string; certs?: string }): string {
  const nonce = r.certs ? `${r.nonce} ${r.certs}` : r.nonce;
  return createHmac('sha256', key).update(`${r.node}|${r.stage}|${r.time}|${nonce}|${r.log}`, 'utf8').digest('hex');
}

export interface Report {
  node: string;
  /** A bootstrap stage, or a day-2 certificate report. */
  stage: Stage | CertKind;
  /** The node's clock, Unix seconds. */
  time: number;
  nonce: string;
  log: string;
  /** The `certs` field as sent (signed); absent when the report carries none. */
  certsText?: string;
  certs?: CertExpiry;
}

/** A form body as the sender makes it (tests and tools that post reports use this). */
export function signedReportBody(key: string, r: { node: string; stage: string; time: number; nonce: string; log?: string; certs?: string }): string {
  const fields = { node: r.node, stage: r.stage, time: String(r.time), nonce: r.nonce, log: r.log ?? '', certs: r.certs ?? '' };
  const form = new URLSearchParams({ node: fields.node, stage: fields.stage, time: fields.time, nonce: fields.nonce, sig: reportSignature(key, fields) });
  if (fields.log) form.set('log', fields.log);
  if (fields.certs) form.set('certs', fields.certs);
  return form.toString();
}

/** The report in a body, or why it is malformed (signature not checked here). */
export function parseReport(body: string): { report: Report; sig: string } | { problem: string } {
  const f = new URLSearchParams(body);
  const node = f.get('node') ?? '';
  const stage = f.get('stage') ?? '';
  const time = f.get('time') ?? '';
  const nonce = f.get('nonce') ?? '';
  const sig = f.get('sig') ?? '';
  const log = f.get('log') ?? '';
  const certsText = f.get('certs');
  if (!/^[a-z0-9-]{1,63}$/.test(node)) return { problem: 'node: expected a node name' };
  if (!(STAGES as readonly string[]).includes(stage) && !isCertKind(stage)) return { problem: `stage: expected one of ${[...STAGES, ...CERT_KINDS].join(', ')}` };
  if (!/^[0-9]{1,12}$/.test(time)) return { problem: 'time: expected Unix seconds' };
  if (!/^[0-9a-f]{32}$/.test(nonce)) return { problem: 'nonce: expected 32 hex digits' };
  if (!/^[0-9a-f]{64}$/.test(sig)) return { problem: 'sig: expected 64 hex digits' };
  let certs: CertExpiry | undefined;
  if (certsText !== null) {
    certs = parseCerts(certsText);
    if (!certs) return { problem: 'certs: expected "<notAfter seconds> <certificate file> <CA notAfter seconds>"' };
  } else if (stage === 'certs-checked' || stage === 'certs-renewed') {
    return { problem: `certs: a ${stage} report carries the certificates' expiry` };
  }
  const report: Report = { node, stage: stage as Stage | CertKind, time: Number(time), nonce, log };
  if (certs) Object.assign(report, { certsText: certsText!, certs });
  return { report, sig };
}
