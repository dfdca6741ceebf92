/**
 * One row per node of the farm, as the status page, /status.json and `k8s-image status` show it.
 */
import { STAGE_TEXT, type CertKind, type Stage } from './protocol.js';
import type { NodeStatus } from './store.js';

export interface FarmNode {
  name: string;
  role: string;
  ip: string;
  mac?: string;
}

export interface StatusRow {
  name: string;
  role: string;
  ip: string;
  mac: string;
  /** null: never reported. */
  stage: Stage | null;
  stageText: string;
  since: number | null;
  lastReport: number | null;
  lastIp: string | null;
  failedAt: number | null;
  hasFailureLog: boolean;
  /** The node's clock minus the server's at its last report (seconds); null: unknown. */
  clockOffset: number | null;
  /** A master's certificates (null: none reported: a worker, an lb, or a master before Ready). */
  certs: CertsView | null;
}

/** Days before a certificate's end when the page, /status.json and `k8s-image status` warn. */
export const CERT_WARN_DAYS = 30;

export interface CertsView {
  /** Earliest leaf certificate's notAfter (Unix ms) and its file (apiserver.crt, admin.conf, ...). */
  notAfter: number;
  cert: string;
  /** The cluster CA's notAfter (Unix ms): leaf renewal never extends it (README: CA rotation). */
  caNotAfter: number;
  /** Whole days left at the document's `now` (negative: expired). */
  daysLeft: number;
  caDaysLeft: number;
  /** A leaf or the CA ends within CERT_WARN_DAYS (or already did). */
  warn: boolean;
  /** The last renewal run failed (its log: /status/log/<node>). */
  failed: boolean;
  last: CertKind | null;
  lastAt: number | null;
}

export interface StatusDocument {
  cluster: string;
  now: number;
  counts: Record<string, number>;
  nodes: StatusRow[];
  /** serve --max-installing: how many nodes install now, at most, and wait (absent: no limit). */
  admission?: { max: number; installing: number; waiting: number; retrySeconds: number; admitted: number; waited: number; longestWaitSeconds: number };
}

const DAY_MS = 86400 * 1000;

/** A node's certificates as the views show them, at `now` (ms). */
export function certsOf(s: NodeStatus | undefined, now: number): CertsView | null {
  const c = s?.certs;
  if (!c?.expiry && !c?.failedAt) return null;
  const notAfter = (c.expiry?.notAfter ?? 0) * 1000;
  const caNotAfter = (c.expiry?.caNotAfter ?? 0) * 1000;
  const daysLeft = Math.floor((notAfter - now) / DAY_MS);
  const caDaysLeft = Math.floor((caNotAfter - now) / DAY_MS);
  const failed = c.failedAt !== undefined;
  return {
    notAfter,
    cert: c.expiry?.cert ?? '',
    caNotAfter,
    daysLeft,
    caDaysLeft,
    warn: failed || (c.expiry !== undefined && (daysLeft < CERT_WARN_DAYS || caDaysLeft < CERT_WARN_DAYS)),
    failed,
    last: c.last ?? null,
    lastAt: c.lastAt ?? null,
  };
}

/**
 * One line for a node's certificates: "2027-12-06 (364d, apiserver.crt) · CA 2036-12-04 (3650d)", led
 * by what needs a person: "RENEWAL FAILED", "expires in 12d". Self-contained (the page's script
 * carries it as text).
 */
export function certsText(c: CertsView | null, warnDays = 30): string {
  if (!c) return '';
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const known = c.notAfter > 0;
  const leaf = !known ? '' : c.daysLeft < 0 ? `EXPIRED ${day(c.notAfter)} (${c.cert})` : c.daysLeft < warnDays ? `expires in ${c.daysLeft}d: ${day(c.notAfter)} (${c.cert})` : `${day(c.notAfter)} (${c.daysLeft}d, ${c.cert})`;
  const ca = !known ? '' : c.caDaysLeft < warnDays ? `CA EXPIRES ${day(c.caNotAfter)} (${c.caDaysLeft}d): rotate it (README)` : `CA ${day(c.caNotAfter)} (${c.caDaysLeft}d)`;
  return [c.failed ? 'RENEWAL FAILED' : '', leaf, ca].filter((p) => p !== '').join(' · ');
}

export function rowOf(n: FarmNode, s: NodeStatus | undefined, now = Date.now()): StatusRow {
  return {
    name: n.name,
    role: n.role,
    ip: n.ip,
    mac: n.mac ?? '',
    stage: s?.stage ?? null,
    stageText: s?.stage ? STAGE_TEXT[s.stage] : s ? 'no bootstrap report yet (certificates only)' : 'no report yet',
    since: s?.since ?? null,
    lastReport: s?.lastReport ?? null,
    lastIp: s?.lastIp ?? null,
    failedAt: s?.failedAt ?? null,
    hasFailureLog: s?.failureLog !== undefined,
    clockOffset: s?.clockOffset ?? null,
    certs: certsOf(s, now),
  };
}

export function statusDocument(cluster: string, nodes: FarmNode[], get: (name: string) => NodeStatus | undefined, now: number): StatusDocument {
  const rows = nodes.map((n) => rowOf(n, get(n.name), now));
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.stage ?? 'none'] = (counts[r.stage ?? 'none'] ?? 0) + 1;
  return { cluster, now, counts, nodes: rows };
}

/** 75s, 12m, 3h04m, 2d05h: short enough for a table column. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** A node's clock against the server's, for people: "in step", "3h04m behind", "2d05h ahead". */
export function clockOffsetText(seconds: number): string {
  const a = Math.abs(seconds);
  if (a < 120) return 'in step';
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  const t = h >= 48 ? `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h` : h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m`;
  return `${t} ${seconds < 0 ? 'behind' : 'ahead'}`;
}
